#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tests/integration/test_nts_ke.py - the nts-ke service of `sockit serve
--nts` against hostile and odd clients written with Python's ssl module:

  - a good request gets Next Protocol, AEAD 15, 8 cookies of 104 bytes and
    a Port record naming our ntp port, then close_notify;
  - an unknown critical record gets Error 0, a request without the AEAD
    record or with only an AEAD we lack gets Error 1, and a request that
    never ends within 16 KiB gets Error 1;
  - TLS 1.2 is refused in the handshake; a client without ALPN ntske/1 is
    closed without a byte;
  - a client that connects and sends nothing does not delay another one;
  - the stop line counts each result.
"""

import os
import socket
import ssl
import struct
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sktest  # noqa: E402
import tlscerts  # noqa: E402


def rec(kind, body=b"", critical=False):
    return struct.pack(">HH", (0x8000 if critical else 0) | kind, len(body)) + body


END = rec(0, critical=True)
GOOD = rec(1, b"\0\0", True) + rec(4, b"\0\x0f", True) + END


def parse(data):
    out, off = [], 0
    while off + 4 <= len(data):
        kind, n = struct.unpack_from(">HH", data, off)
        out.append((kind & 0x7fff, data[off + 4:off + 4 + n]))
        off += 4 + n
        if kind & 0x7fff == 0:
            break
    return out


class NtsKe(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.certs = tlscerts.make(os.path.join(cls.tmp.name, "certs"))
        cls.base = sktest.free_port_base((123, 4460))
        cert, key = cls.certs.path("server")
        cls.proc = sktest.Proc([sktest.SOCKIT, "serve", "--services", "ntp", "--bind",
                                "127.0.0.1", "--port-base", cls.base, "--threads", "1",
                                "--nts", "--nts-key-file", os.path.join(cls.tmp.name, "k"),
                                "--tls-cert", cert, "--tls-key", key,
                                "--tls-handshake-timeout", "2"])
        cls.proc.wait_line("service=nts-ke", timeout=15)
        cls.port = cls.base + 4460

    @classmethod
    def tearDownClass(cls):
        assert cls.proc.stop() == 0, cls.proc.errlines()
        cls.tmp.cleanup()

    def test_zz_counted(self):
        # Runs last (names sort): each case above left its count.
        r = sktest.run([sktest.SOCKIT, "ntp", "--nts", "--nts-port", self.port, "--cafile",
                        self.certs.ca, "--nts-ke-only", "127.0.0.1"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.proc.stop()
        stats = [l for l in self.proc.errlines() if "event=nts_stats" in l][0]
        for key in ("ke_ok", "ke_bad_request", "ke_unrecognized_critical", "ke_no_alpn"):
            self.assertNotIn(" %s=0" % key, stats)
        self.assertIn(" ke_internal=0", stats)

    def ctx(self, alpn=("ntske/1",), maximum=None):
        c = ssl.create_default_context(cafile=self.certs.ca)
        if alpn:
            c.set_alpn_protocols(list(alpn))
        if maximum:
            c.maximum_version = maximum
        return c

    def exchange(self, request, ctx=None):
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as raw:
            with (ctx or self.ctx()).wrap_socket(raw, server_hostname="localhost") as t:
                t.sendall(request)
                data = b""
                while True:
                    try:
                        chunk = t.recv(4096)
                    except (ssl.SSLError, ConnectionError):
                        break
                    if not chunk:
                        break
                    data += chunk
                return data

    def test_good_request(self):
        records = parse(self.exchange(GOOD))
        kinds = [k for k, _ in records]
        self.assertEqual(kinds[:2], [1, 4])
        self.assertEqual(records[1][1], b"\0\x0f")
        cookies = [b for k, b in records if k == 5]
        self.assertEqual(len(cookies), 8)
        self.assertTrue(all(len(c) == 104 for c in cookies))
        self.assertIn((7, struct.pack(">H", self.base + 123)), records)
        self.assertEqual(kinds[-1], 0)

    def check_error(self, request, code):
        records = parse(self.exchange(request))
        self.assertEqual(records, [(2, struct.pack(">H", code)), (0, b"")], records)

    def test_error_records(self):
        self.check_error(rec(0x4321, b"?", True) + GOOD, 0)
        self.check_error(rec(1, b"\0\0", True) + END, 1)
        self.check_error(rec(1, b"\0\0", True) + rec(4, b"\0\x1e", True) + END, 1)
        self.check_error(rec(4, b"\0\x0f", True) + END, 1)
        self.check_error(rec(0x55, bytes(4000)) * 5, 1)  # no End within 16 KiB

    def test_tls12_refused(self):
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            self.exchange(GOOD, self.ctx(maximum=ssl.TLSVersion.TLSv1_2))

    def test_no_alpn_closed(self):
        self.assertEqual(self.exchange(GOOD, self.ctx(alpn=None)), b"")
        self.assertEqual(self.exchange(GOOD, self.ctx(alpn=("http/1.1",))), b"")

    def test_silent_client_does_not_delay_another(self):
        quiet = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        try:
            t0 = time.monotonic()
            self.assertEqual(parse(self.exchange(GOOD))[0][0], 1)
            self.assertLess(time.monotonic() - t0, 1.5)
        finally:
            quiet.close()


if __name__ == "__main__":
    sktest.main()
