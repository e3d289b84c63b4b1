# Fuzz targets: tests/fuzz/fuzz_<name>.c, each defining LLVMFuzzerTestOneInput.
#
# Always (any compiler): fuzz_<name>_replay, the target linked with
# tests/fuzz/replay_main.c, and the ctest test fuzz.<name>.replay, which
# runs it over tests/fuzz/corpus/<name>/ and tests/fuzz/regress/<name>/.
# So the normal build replays every seed and every past crash.
#
# With -DSK_FUZZ=ON and clang whose -fsanitize=fuzzer links: fuzz_<name>,
# a libFuzzer program built with ASan and UBSan, and the ctest test
# fuzz.<name>.libfuzzer, which fuzzes for SK_FUZZ_SECONDS from a scratch
# copy of the corpus in the build tree (so the source tree is never
# written).  Crash inputs land in <build>/fuzz-artifacts/<name>/.
#   CC=clang cmake -S . -B build-fuzz -DSK_FUZZ=ON
#   cmake --build build-fuzz && (cd build-fuzz && ctest -R '^fuzz\.')
#
# A target that needs cli/ code includes the pure .c files it tests (as the
# unit tests do), so they are compiled with the target's own flags.  A
# target that includes "services.h" is linked with all of services/ (its
# files reach each other through the service table).  lib/ (and services/)
# come from ordinary builds of them in the replay build and from copies
# compiled with coverage instrumentation and the sanitizers in the
# libFuzzer build.

option(SK_FUZZ "Build the libFuzzer targets (clang) and fuzz in ctest" OFF)
set(SK_FUZZ_SECONDS 20 CACHE STRING "Seconds each libFuzzer ctest test fuzzes for")

set(SK_FUZZ_DIR ${PROJECT_SOURCE_DIR}/tests/fuzz)
file(GLOB SK_FUZZ_SOURCES CONFIGURE_DEPENDS ${SK_FUZZ_DIR}/fuzz_*.c)
file(GLOB SK_FUZZ_SERVICE_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/services/*.c)

# True in ${out} when the target source includes services.h.
function(sk_fuzz_uses_services src out)
  file(STRINGS ${src} hits REGEX "^#include \"services\.h\"")
  if(hits)
    set(${out} TRUE PARENT_SCOPE)
  else()
    set(${out} FALSE PARENT_SCOPE)
  endif()
endfunction()

add_library(sk_fuzz_services_plain OBJECT EXCLUDE_FROM_ALL ${SK_FUZZ_SERVICE_SOURCES})
target_include_directories(sk_fuzz_services_plain PRIVATE ${PROJECT_SOURCE_DIR}/include
                           ${PROJECT_SOURCE_DIR}/services)

# ---- replay: every compiler, always ------------------------------------------
foreach(src ${SK_FUZZ_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" short ${name})
  add_executable(${name}_replay ${src} ${SK_FUZZ_DIR}/replay_main.c)
  sk_fuzz_uses_services(${src} uses_services)
  if(uses_services)
    target_sources(${name}_replay PRIVATE $<TARGET_OBJECTS:sk_fuzz_services_plain>)
  endif()
  target_include_directories(${name}_replay PRIVATE ${SK_FUZZ_DIR}
                             ${PROJECT_SOURCE_DIR}/cli ${PROJECT_SOURCE_DIR}/services)
  target_link_libraries(${name}_replay PRIVATE sockit_static Threads::Threads m)
  set_target_properties(${name}_replay PROPERTIES
                        RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/fuzz)
  add_test(NAME fuzz.${short}.replay
           COMMAND ${name}_replay ${SK_FUZZ_DIR}/corpus/${short}
                   ${SK_FUZZ_DIR}/regress/${short})
  set_tests_properties(fuzz.${short}.replay PROPERTIES TIMEOUT ${SK_TEST_TIMEOUT})
endforeach()

# ---- libFuzzer: clang and -DSK_FUZZ=ON ---------------------------------------
if(NOT SK_FUZZ)
  return()
endif()
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(WARNING "SK_FUZZ needs clang (CC=clang); the libFuzzer targets are not built")
  return()
endif()

include(CheckCSourceCompiles)
set(CMAKE_REQUIRED_FLAGS -fsanitize=fuzzer)
set(CMAKE_REQUIRED_LINK_OPTIONS -fsanitize=fuzzer)
check_c_source_compiles([[
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return data != NULL && size > 0 ? 0 : 0;
}
]] SK_HAVE_LIBFUZZER)
unset(CMAKE_REQUIRED_FLAGS)
unset(CMAKE_REQUIRED_LINK_OPTIONS)
if(NOT SK_HAVE_LIBFUZZER)
  message(WARNING "-fsanitize=fuzzer does not link (install libclang-rt-14-dev: "
                  "scripts/install-deps.sh test); the libFuzzer targets are not built")
  return()
endif()

set(SK_FUZZ_SANITIZE -fsanitize=address,undefined -fno-sanitize-recover=all
    -fno-omit-frame-pointer)

# lib/ compiled again with coverage instrumentation and the sanitizers, so
# the fuzzer sees (and checks) the library code, not just the target.
file(GLOB SK_FUZZ_LIB_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/lib/*.c)
add_library(sk_fuzz_lib OBJECT ${SK_FUZZ_LIB_SOURCES})
target_include_directories(sk_fuzz_lib PUBLIC ${PROJECT_SOURCE_DIR}/include
                           PRIVATE ${PROJECT_SOURCE_DIR}/lib)
target_compile_definitions(sk_fuzz_lib PRIVATE SK_BUILDING)
target_compile_options(sk_fuzz_lib PRIVATE -fsanitize=fuzzer-no-link ${SK_FUZZ_SANITIZE})

add_library(sk_fuzz_services OBJECT EXCLUDE_FROM_ALL ${SK_FUZZ_SERVICE_SOURCES})
target_include_directories(sk_fuzz_services PRIVATE ${PROJECT_SOURCE_DIR}/include
                           ${PROJECT_SOURCE_DIR}/services)
target_compile_options(sk_fuzz_services PRIVATE -fsanitize=fuzzer-no-link ${SK_FUZZ_SANITIZE})

foreach(src ${SK_FUZZ_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" short ${name})
  add_executable(${name} ${src} $<TARGET_OBJECTS:sk_fuzz_lib>)
  sk_fuzz_uses_services(${src} uses_services)
  if(uses_services)
    target_sources(${name} PRIVATE $<TARGET_OBJECTS:sk_fuzz_services>)
  endif()
  target_include_directories(${name} PRIVATE ${SK_FUZZ_DIR} ${PROJECT_SOURCE_DIR}/include
                             ${PROJECT_SOURCE_DIR}/cli ${PROJECT_SOURCE_DIR}/services)
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer ${SK_FUZZ_SANITIZE})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer ${SK_FUZZ_SANITIZE})
  target_link_libraries(${name} PRIVATE Threads::Threads m)
  set_target_properties(${name} PROPERTIES
                        RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/fuzz)
  add_test(NAME fuzz.${short}.libfuzzer
           COMMAND ${CMAKE_COMMAND}
                   -DFUZZER=$<TARGET_FILE:${name}>
                   -DSECONDS=${SK_FUZZ_SECONDS}
                   -DCORPUS=${SK_FUZZ_DIR}/corpus/${short}
                   -DREGRESS=${SK_FUZZ_DIR}/regress/${short}
                   -DSCRATCH=${CMAKE_BINARY_DIR}/fuzz-corpus/${short}
                   -DARTIFACTS=${CMAKE_BINARY_DIR}/fuzz-artifacts/${short}
                   -P ${SK_FUZZ_DIR}/run_fuzz.cmake)
  math(EXPR timeout "${SK_FUZZ_SECONDS} + 120")
  set_tests_properties(fuzz.${short}.libfuzzer PROPERTIES TIMEOUT ${timeout})
endforeach()
