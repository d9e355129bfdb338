# cmake -DJOBSCTL=path/to/jobsctl -DOUT=folder -P completions.cmake
# Writes OUT/bash/jobsctl, OUT/zsh/_jobsctl and OUT/fish/jobsctl.fish from
# `jobsctl completion bash|zsh|fish`. A jobsctl without that verb gets none (and old ones are
# removed), so that the install rules, which install them OPTIONAL, install none.
set(files bash/jobsctl zsh/_jobsctl fish/jobsctl.fish)
foreach(file IN LISTS files)
  string(REGEX MATCH "^[a-z]+" shell ${file})
  execute_process(COMMAND ${JOBSCTL} completion ${shell}
    OUTPUT_VARIABLE script RESULT_VARIABLE status ERROR_QUIET)
  if(status EQUAL 0 AND NOT script STREQUAL "")
    file(WRITE ${OUT}/${file} "${script}")
  else()
    file(REMOVE ${OUT}/${file})
    message(STATUS "jobsctl completion ${shell}: not supported by this jobsctl, none installed")
  endif()
endforeach()
file(TOUCH ${OUT}/stamp)
