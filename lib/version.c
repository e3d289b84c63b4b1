/* SPDX-License-Identifier: MIT */
/*
 * lib/version.c - the version of the library actually linked, which may
 * differ from the SK_VERSION_* a program was compiled with.  The header's
 * macros are checked against CMake's project() version when the build is
 * configured, and the unit test err.version_is_the_build_version checks
 * these against it again.
 */
#include "internal.h"

unsigned sk_version(void)
{
    return SK_VERSION_HEX;
}

const char *sk_version_string(void)
{
    return SK_VERSION_STRING;
}
