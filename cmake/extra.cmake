# SPDX-License-Identifier: MIT
# Optional additions to the build, included by CMakeLists.txt when present.
include(${CMAKE_CURRENT_LIST_DIR}/fuzz.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/fault.cmake)
