# SPDX-License-Identifier: MIT
"""Byte-exact checks of one simple service's answer, over TCP or UDP, for
the tests that start `sockit serve` some other way than by itself (socket
activation, inetd, the Debian package):

    svccheck.tcp(tc, "chargen", "127.0.0.1", port)
    svccheck.udp(tc, "time", "::1", port)

Each opens its own connection or sends its own datagram, checks the reply
against the RFC (echo: the same bytes; chargen: the RFC 864 stream from
its start over TCP, from the start of some line over UDP; daytime: the ctime line; time: RFC 868 within two seconds of
the local clock; qotd: one printable quote under 512 bytes; discard:
nothing back) and fails `tc` with both values otherwise.
"""

import re
import socket
import time

import sktest

DAYTIME = re.compile(rb"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|"
                     rb"Oct|Nov|Dec) [ 0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9] [0-9]{4}\r\n$")
RFC868_OFFSET = 2208988800


def _family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def check_time(tc, data):
    tc.assertEqual(len(data), 4, data)
    value = int.from_bytes(data, "big")
    now = time.time()
    base = value - RFC868_OFFSET
    unix = base + round((now - base) / 2**32) * 2**32
    tc.assertLess(abs(unix - now), 2.5, (value, now))


def check_quote(tc, q):
    tc.assertGreater(len(q), 2, q)
    tc.assertLess(len(q), 512, q)
    tc.assertTrue(q.endswith(b"\r\n"), q)
    for b in q:
        tc.assertTrue(32 <= b <= 126 or b in (10, 13), "byte %d in %r" % (b, q))


def check_reply(tc, service, sent, data):
    """Checks a whole reply (TCP stream up to its end, or one datagram)."""
    if service == "echo":
        tc.assertEqual(data, sent)
    elif service == "discard":
        tc.assertEqual(data, b"")
    elif service == "daytime":
        tc.assertRegex(data, DAYTIME)
    elif service == "time":
        check_time(tc, data)
    elif service == "qotd":
        check_quote(tc, data)
    elif service == "chargen":
        tc.assertEqual(data, sktest.chargen_ref(0, len(data)))
    else:
        tc.fail("unknown service %r" % service)


def tcp(tc, service, host, port, timeout=5.0):
    """One TCP exchange with `service` at host:port, checked."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        if service == "chargen":
            # An endless stream: read a few lines, check them byte for byte.
            want, got = 74 * 40 + 17, b""
            while len(got) < want:
                chunk = s.recv(want - len(got))
                tc.assertTrue(chunk, "chargen stream ended after %d bytes" % len(got))
                got += chunk
            check_reply(tc, service, b"", got)
            return
        sent = b""
        if service in ("echo", "discard"):
            sent = ("%s over tcp to %s:%d\r\n" % (service, host, port)).encode() * 50
            s.sendall(sent)
            s.shutdown(socket.SHUT_WR)
        check_reply(tc, service, sent, sktest.recv_all(s, timeout))


def udp(tc, service, host, port, timeout=2.0, tries=3):
    """One UDP exchange with `service` at host:port, checked (discard: no
    reply within the timeout).  Retries a lost request `tries` times."""
    sent = ("%s over udp to %s:%d" % (service, host, port)).encode()
    with socket.socket(_family(host), socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        for _ in range(tries):
            s.sendto(sent, (host, port))
            try:
                data, _ = s.recvfrom(70000)
            except socket.timeout:
                if service == "discard":
                    return
                continue
            if service == "chargen":
                # 0 to 512 bytes of the pattern from the start of a random line.
                tc.assertLessEqual(len(data), 512)
                line = data[0] - 32 if data else 0
                tc.assertEqual(data, sktest.chargen_ref(line * 74, len(data)))
            else:
                check_reply(tc, service, sent, data)
            return
        tc.fail("no UDP reply from %s at %s:%d" % (service, host, port))
