# SPDX-License-Identifier: MIT
# Runs one libFuzzer target for a bounded time, as a ctest test.
#   cmake -DFUZZER=<program> -DSECONDS=<n> -DCORPUS=<seed dir>
#         -DREGRESS=<crash reproducer dir> -DSCRATCH=<build dir>
#         -DARTIFACTS=<build dir> -P run_fuzz.cmake
# libFuzzer writes the inputs it finds into its first corpus directory, so
# that one is a fresh copy of the seeds in the build tree; the committed
# seeds and the regression inputs follow read-only.  Every one of them is
# run first, so a regression input that still crashes fails the test.
foreach(var FUZZER SECONDS CORPUS REGRESS SCRATCH ARTIFACTS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_fuzz.cmake: -D${var}=... is required")
  endif()
endforeach()

file(REMOVE_RECURSE ${SCRATCH})
file(MAKE_DIRECTORY ${SCRATCH} ${ARTIFACTS})
file(COPY ${CORPUS}/ DESTINATION ${SCRATCH})
set(dirs ${SCRATCH} ${CORPUS})
if(IS_DIRECTORY ${REGRESS})
  list(APPEND dirs ${REGRESS})
endif()

execute_process(COMMAND ${FUZZER} -max_total_time=${SECONDS} -timeout=10
                        -rss_limit_mb=2048 -print_final_stats=1
                        -artifact_prefix=${ARTIFACTS}/ ${dirs}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (${rc}); the input that broke it is in ${ARTIFACTS}")
endif()
