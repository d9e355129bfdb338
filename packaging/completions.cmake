# cmake -DJOBSCTL=path/to/jobsctl -DOUT=folder -DSTAMP=file -P completions.cmake
# Writes `jobsctl completion bash|zsh|fish` where each shell looks for it, below OUT as below
# share/: bash-completion/completions/jobsctl, zsh/vendor-completions/_jobsctl and
# fish/vendor_completions.d/jobsctl.fish. A script jobsctl cannot print stops the build.
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
  if(NOT status EQUAL 0 OR script STREQUAL "")
    message(FATAL_ERROR "jobsctl completion ${shell} failed (${status})")
  endif()
  file(WRITE ${OUT}/${file} "${script}")
endforeach()
file(TOUCH ${STAMP})
