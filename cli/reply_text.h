/* SPDX-License-Identifier: MIT */
/*
 * cli/reply_text.h - validation of the text replies of daytime (RFC 867) and
 * qotd (RFC 865) before they reach the terminal.
 */
#ifndef SOCKIT_CLI_REPLY_TEXT_H
#define SOCKIT_CLI_REPLY_TEXT_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Checks that buf[0..len) is text a terminal may show safely: printable
 * ASCII, space, tab, CR and LF only.  Returns -1 when it is, else the
 * offset of the first other byte (a control character, DEL, or a byte
 * above 0x7f, any of which could drive the terminal).
 */
ssize_t reply_text_check(const void *buf, size_t len);

/*
 * The length of buf[0..len) once trailing CR and LF bytes are removed (the
 * line ending the protocols put after the text).
 */
size_t reply_text_trim(const void *buf, size_t len);

#endif /* SOCKIT_CLI_REPLY_TEXT_H */
