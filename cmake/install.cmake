# SPDX-License-Identifier: MIT
# Install rules, following GNUInstallDirs and libuv's layout:
#
#   lib/<multiarch>/libsockit.so.0.2.0, .so.0 (soname), .so, libsockit.a
#   include/sockit.h
#   lib/<multiarch>/pkgconfig/sockit.pc
#   lib/<multiarch>/cmake/sockit/  sockitConfig.cmake, sockitConfigVersion.cmake,
#                                  sockitTargets*.cmake (sockit::sockit and
#                                  sockit::sockit_static)
#   bin/sockit
#   share/man/man1/sockit.1, share/man/man3/libsockit.3
#
# `cmake --install build --prefix P` or, through the Makefile,
# `make install PREFIX=P DESTDIR=D`.
include(CMakePackageConfigHelpers)

set(SK_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/sockit)

install(TARGETS sockit_shared sockit_static EXPORT sockitTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime
                NAMELINK_COMPONENT dev
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_SOURCE_DIR}/include/sockit.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
install(TARGETS sockit RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT bin)
install(FILES ${PROJECT_SOURCE_DIR}/docs/sockit.1
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT bin)
install(FILES ${PROJECT_SOURCE_DIR}/docs/libsockit.3
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man3 COMPONENT dev)

# pkg-config: paths relative to ${prefix}, so the file stays right when the
# tree is installed under a DESTDIR and moved.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(SK_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  set(SK_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(SK_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(SK_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
# With TLS, a static link needs OpenSSL: pkg-config --static follows this.
if(SK_TLS)
  set(SK_PC_REQUIRES_PRIVATE "Requires.private: libssl libcrypto\n")
else()
  set(SK_PC_REQUIRES_PRIVATE "")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/sockit.pc.in ${CMAKE_BINARY_DIR}/sockit.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/sockit.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

# The CMake package.
install(EXPORT sockitTargets NAMESPACE sockit:: DESTINATION ${SK_CMAKE_DIR}
        COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/sockitConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/sockitConfig.cmake
                              INSTALL_DESTINATION ${SK_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/sockitConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION}
                                 COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/sockitConfig.cmake
              ${CMAKE_BINARY_DIR}/sockitConfigVersion.cmake
        DESTINATION ${SK_CMAKE_DIR} COMPONENT dev)
