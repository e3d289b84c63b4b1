# SPDX-License-Identifier: MIT
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
# Every target links what it tests, never includes a .c file: in the replay
# build the ordinary libraries (sockit_cli brings services, proto and
# libsockit); in the libFuzzer build copies of lib/, proto/, services/ and
# cli/ compiled with coverage instrumentation and the sanitizers, so the
# fuzzer sees (and checks) that code, not just the target.

option(SK_FUZZ "Build the libFuzzer targets (clang) and fuzz in ctest" OFF)
set(SK_FUZZ_SECONDS 20 CACHE STRING "Seconds each libFuzzer ctest test fuzzes for")

set(SK_FUZZ_DIR ${PROJECT_SOURCE_DIR}/tests/fuzz)
file(GLOB SK_FUZZ_SOURCES CONFIGURE_DEPENDS ${SK_FUZZ_DIR}/fuzz_*.c)
# ---- replay: every compiler, always ------------------------------------------
foreach(src ${SK_FUZZ_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" short ${name})
  add_executable(${name}_replay ${src} ${SK_FUZZ_DIR}/replay_main.c)
  target_include_directories(${name}_replay PRIVATE ${SK_FUZZ_DIR})
  target_link_libraries(${name}_replay PRIVATE sockit_cli)
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

# lib/, proto/, services/ and cli/ (but main.c) compiled again with coverage
# instrumentation and the sanitizers.
add_library(sk_fuzz_code OBJECT ${SK_LIB_SOURCES} ${SK_PROTO_SOURCES}
            ${SK_SERVICE_SOURCES} ${SK_CLI_SOURCES})
target_include_directories(sk_fuzz_code PUBLIC ${PROJECT_SOURCE_DIR}/include
                           ${PROJECT_SOURCE_DIR}/proto ${PROJECT_SOURCE_DIR}/services
                           ${PROJECT_SOURCE_DIR}/cli ${PROJECT_SOURCE_DIR}/cli/bench
                           PRIVATE ${PROJECT_SOURCE_DIR}/lib)
target_compile_definitions(sk_fuzz_code PRIVATE SK_BUILDING)
target_compile_options(sk_fuzz_code PRIVATE -fsanitize=fuzzer-no-link ${SK_FUZZ_SANITIZE})
target_link_libraries(sk_fuzz_code PRIVATE ${SK_TLS_LIBS})

foreach(src ${SK_FUZZ_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" short ${name})
  add_executable(${name} ${src} $<TARGET_OBJECTS:sk_fuzz_code>)
  target_include_directories(${name} PRIVATE ${SK_FUZZ_DIR} ${PROJECT_SOURCE_DIR}/include
                             ${PROJECT_SOURCE_DIR}/proto ${PROJECT_SOURCE_DIR}/services
                             ${PROJECT_SOURCE_DIR}/cli ${PROJECT_SOURCE_DIR}/cli/bench)
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer ${SK_FUZZ_SANITIZE})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer ${SK_FUZZ_SANITIZE})
  target_link_libraries(${name} PRIVATE Threads::Threads ZLIB::ZLIB m ${SK_TLS_LIBS} PkgConfig::SK_LIBCRYPTO)
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
