# Fault injection: tests/fault/faultshim.c is an LD_PRELOAD library that
# makes socket calls return short counts, EINTR, EAGAIN (non-blocking
# sockets only) and EMFILE from accept, from a seed (see the file's header).
#
#   fault.shim.selftest     proves the shim injects each fault, and only
#                           where it is legal.
#   fault.<group>.seed<N>   a unit test group's scenarios, each in its own
#                           process, under the shim with seed N.
#   fault.services.seed<N>  sockit serve under the shim, checked byte by byte.
#
# Not built with sanitizers: ASan interposes the same functions and refuses
# to run with a library preloaded ahead of it.  Linux (glibc) only: the shim
# relies on dlsym(RTLD_NEXT) and on the Linux fault model.
if(SK_SANITIZE OR NOT CMAKE_SYSTEM_NAME STREQUAL "Linux")
  return()
endif()

set(SK_FAULT_DIR ${PROJECT_SOURCE_DIR}/tests/fault)

add_library(sk_faultshim MODULE ${SK_FAULT_DIR}/faultshim.c)
target_link_libraries(sk_faultshim PRIVATE ${CMAKE_DL_LIBS})
set_target_properties(sk_faultshim PROPERTIES PREFIX "" OUTPUT_NAME faultshim
                      LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

add_executable(shim_selftest ${SK_FAULT_DIR}/shim_selftest.c)
set_target_properties(shim_selftest PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME fault.shim.selftest COMMAND shim_selftest $<TARGET_FILE:sk_faultshim>)
set_tests_properties(fault.shim.selftest PROPERTIES TIMEOUT 120)
