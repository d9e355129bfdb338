# cmake -DJOBSCTL=path/to/jobsctl -DOUT=folder -DSTAMP=file -P completions.cmake
# Writes `jobsctl completion bash|zsh|fish` where each shell looks for it, below OUT as below
# share/: bash-completion/completions/jobsctl, zsh/vendor-completions/_jobsctl and
# fish/vendor_completions.d/jobsctl.fish. A jobsctl without that verb gets an empty OUT, so that
# the install rule (all of OUT into share/) installs nothing.
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})
foreach(shell IN ITEMS bash zsh fish)
  set(file "${shell}/vendor-completions/_jobsctl")
  if(shell STREQUAL "bash")
    set(file "bash-completion/completions/jobsctl")
  elseif(shell STREQUAL "fish")
    set(file "fish/vendor_completions.d/jobsctl.fish")
  endif()
  execute_process(COMMAND ${JOBSCTL} completion ${shell}
    OUTPUT_VARIABLE script RESULT_VARIABLE status ERROR_QUIET)
  if(status EQUAL 0 AND NOT script STREQUAL "")
    file(WRITE ${OUT}/${file} "${script}")
  else()
    message(STATUS "jobsctl completion ${shell}: not supported by this jobsctl, none installed")
  endif()
endforeach()
file(TOUCH ${STAMP})
