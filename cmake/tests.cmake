# SPDX-License-Identifier: MIT
# The test suite, run by ctest (`make test`).
#
# tests/unit/test_*.c    one executable per file; every `SK_TEST(name)` in it
#                        becomes its own ctest scenario, run in its own process.
#                        Each links libsockit (static, so the sk__ internals
#                        and lib/'s private headers are reachable) and the
#                        internal libraries proto, services and cli: no test
#                        includes a .c file.
# tests/integration/test_*.py and tests/interop/test_*.py
#                        python3 programs (the stdlib as the independent
#                        peer); one ctest test per file.
# Exit status 77 means "skipped" (the test prints why).

set(SK_TEST_TIMEOUT 120)

file(GLOB SK_UNIT_TESTS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/unit/test_*.c)
add_library(sk_test_harness STATIC ${PROJECT_SOURCE_DIR}/tests/unit/harness.c)
target_include_directories(sk_test_harness PUBLIC ${PROJECT_SOURCE_DIR}/tests/unit
                           ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(sk_test_harness PUBLIC sockit_static)
target_compile_definitions(sk_test_harness PRIVATE SK_TEST_SOURCE="${PROJECT_SOURCE_DIR}")

foreach(src ${SK_UNIT_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/lib)
  target_link_libraries(${name} PRIVATE sk_test_harness sockit_cli)
  target_compile_definitions(${name} PRIVATE SK_TEST_CMAKE_VERSION="${PROJECT_VERSION}"
                             SK_TEST_SOURCE="${PROJECT_SOURCE_DIR}")
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  file(STRINGS ${src} decls REGEX "^SK_TEST\\([A-Za-z0-9_]+\\)")
  string(REGEX REPLACE "^test_" "" group ${name})
  foreach(decl ${decls})
    string(REGEX REPLACE "^SK_TEST\\(([A-Za-z0-9_]+)\\).*" "\\1" scenario "${decl}")
    add_test(NAME unit.${group}.${scenario} COMMAND ${name} ${scenario})
    set_tests_properties(unit.${group}.${scenario} PROPERTIES
                         TIMEOUT ${SK_TEST_TIMEOUT} SKIP_RETURN_CODE 77)
  endforeach()
endforeach()

find_program(SK_PYTHON3 python3 REQUIRED)
foreach(kind integration interop)
  file(GLOB scripts CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/${kind}/test_*.py)
  foreach(script ${scripts})
    get_filename_component(name ${script} NAME_WE)
    string(REGEX REPLACE "^test_" "" name ${name})
    add_test(NAME ${kind}.${name} COMMAND ${SK_PYTHON3} ${script})
    set_tests_properties(${kind}.${name} PROPERTIES
                         TIMEOUT 300 SKIP_RETURN_CODE 77
                         ENVIRONMENT "SOCKIT_BUILD=${CMAKE_BINARY_DIR};SOCKIT_SOURCE=${PROJECT_SOURCE_DIR};SOCKIT_SANITIZE=${SK_SANITIZE};SOCKIT_VERSION=${PROJECT_VERSION};PYTHONDONTWRITEBYTECODE=1")
  endforeach()
endforeach()

# The shared library works on its own: an example linked against
# libsockit.so (only the exported sk_ symbols) runs.
add_executable(addrinfo_shared ${PROJECT_SOURCE_DIR}/examples/addrinfo.c)
target_link_libraries(addrinfo_shared PRIVATE sockit_shared)
set_target_properties(addrinfo_shared PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME shared.addrinfo COMMAND addrinfo_shared localhost 80)
set_tests_properties(shared.addrinfo PROPERTIES TIMEOUT 30
                     PASS_REGULAR_EXPRESSION "127\\.0\\.0\\.1")

# The Debian package build (tests/interop/test_package.py) is a full build
# of its own in a temporary copy: give it more time than the others.
if(TEST interop.package)
  set_tests_properties(interop.package PROPERTIES TIMEOUT 900)
endif()

# test_siv checks proto/siv.c against nettle's SIV-CMAC, an independent
# implementation, when nettle-dev is installed.
pkg_check_modules(SK_NETTLE IMPORTED_TARGET nettle)
if(SK_NETTLE_FOUND AND TARGET test_siv)
  target_link_libraries(test_siv PRIVATE PkgConfig::SK_NETTLE)
  target_compile_definitions(test_siv PRIVATE SK_HAVE_NETTLE)
endif()
