#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tests/interop/test_nts_chrony_client.py - chrony as the NTS client of
`sockit serve --nts` on loopback; chronyd -Q prints the offset and never
touches the clock:

  - chronyd -Q with `server 127.0.0.1 port P nts ntsport K` and
    `ntstrustedcerts` against `sockit serve --nts --tls-cert/--tls-key`
    reports an offset under 10 ms, and the server's stop line counts the
    authenticated NTS requests: chrony really used NTS;
  - the same run against a sockit serve without --nts gets no offset;
  - a pool: instance A serves the key exchange with --nts-ntp-server naming
    instance B (ntp only), both sharing one key file; chronyd, knowing only
    A's key-exchange port, gets its time from B with A's cookies, and so
    does `sockit ntp --nts`.
"""

import os
import re
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sktest  # noqa: E402
import tlscerts  # noqa: E402

OFFSET_LIMIT = 0.010


def chronyd():
    path = sktest.require_program("chronyd")
    if "+NTS" not in subprocess.run([path, "-v"], capture_output=True, text=True).stdout:
        raise unittest.SkipTest("chronyd built without NTS")
    return path


class ChronyAgainstSockitNts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.chronyd = chronyd()
        cls.tmp = tempfile.TemporaryDirectory()
        os.chmod(cls.tmp.name, 0o755)
        cls.certs = tlscerts.make(os.path.join(cls.tmp.name, "certs"))
        cls.keyfile = os.path.join(cls.tmp.name, "nts.keys")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def serve(self, base, *args, services="ntp"):
        proc = sktest.Proc([sktest.SOCKIT, "serve", "--services", services, "--bind",
                            "127.0.0.1", "--port-base", base, "--threads", "1",
                            "--ntp-stratum", "8", "--udp-limit", "0"] + list(args))
        proc.wait_line("listening ", timeout=15)
        return proc

    def nts_serve(self, base, *args):
        cert, key = self.certs.path("server")
        return self.serve(base, "--nts", "--nts-key-file", self.keyfile, "--tls-cert", cert,
                          "--tls-key", key, *args)

    def stop(self, proc):
        self.assertEqual(proc.stop(), 0, proc.errlines())
        stats = [l for l in proc.errlines() if l.startswith("event=nts_stats")]
        m = re.search(r"authenticated=(\d+)", stats[0]) if stats else None
        return int(m.group(1)) if m else 0

    def query(self, server_line, timeout=30):
        conf = os.path.join(self.tmp.name, "client.conf")
        with open(conf, "w") as f:
            f.write(server_line + " iburst maxsamples 1\n")
            f.write("ntstrustedcerts %s\n" % self.certs.ca)
        # -Q: print the offset, set nothing; -u root: read the test CA.
        r = subprocess.run([self.chronyd, "-Q", "-t", str(timeout), "-u", "root", "-f", conf],
                           capture_output=True, text=True, timeout=timeout + 30)
        return r.stdout + r.stderr

    def check_offset(self, out):
        m = re.search(r"System clock wrong by (-?[0-9.]+) seconds", out)
        self.assertIsNotNone(m, "chronyd got no time:\n" + out)
        self.assertLess(abs(float(m.group(1))), OFFSET_LIMIT, out)
        return m.group(0)

    def test_chronyd_uses_nts(self):
        base = sktest.free_port_base((123, 4460))
        proc = self.nts_serve(base)
        try:
            out = self.query("server 127.0.0.1 port %d nts ntsport %d" % (base + 123, base + 4460))
        finally:
            authenticated = self.stop(proc)
        print("chronyd -Q (NTS) against sockit serve --nts: " + self.check_offset(out))
        print(out)
        self.assertGreaterEqual(authenticated, 1, "the server authenticated no NTS request")

    def test_chronyd_fails_without_nts(self):
        base = sktest.free_port_base((123, 4460))
        proc = self.serve(base)
        try:
            out = self.query("server 127.0.0.1 port %d nts ntsport %d" % (base + 123, base + 4460),
                             timeout=8)
        finally:
            proc.stop()
        self.assertNotIn("System clock wrong by", out)

    def test_pool_behind_one_key_exchange(self):
        base_a = sktest.free_port_base((123, 4460))
        base_b = sktest.free_port_base((123,))
        b = self.serve(base_b, "--nts", "--nts-key-file", self.keyfile)
        a = self.nts_serve(base_a, "--nts-ntp-server", "127.0.0.1:%d" % (base_b + 123))
        try:
            out = self.query("server 127.0.0.1 nts ntsport %d" % (base_a + 4460))
            r = sktest.run([sktest.SOCKIT, "ntp", "--nts", "--nts-port", base_a + 4460,
                            "--cafile", self.certs.ca, "--count", "2", "--interval", "0.2",
                            "127.0.0.1"], timeout=60)
        finally:
            auth_a = self.stop(a)
            auth_b = self.stop(b)
        self.check_offset(out)
        self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
        self.assertIn("server 127.0.0.1:%d" % (base_b + 123), r.stdout)
        self.assertEqual(auth_a, 0)
        self.assertGreaterEqual(auth_b, 3)  # chronyd's one and sockit's two


if __name__ == "__main__":
    sktest.main()
