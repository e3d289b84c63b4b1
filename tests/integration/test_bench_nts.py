#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tests/integration/test_bench_nts.py - `sockit bench ntp --nts` against
`sockit serve --nts` (certificates from tests/tlscerts.py):

  - a clean run: operations counted, no errors, every reply longer than a
    plain NTP header (it carries the authenticator and a fresh cookie), and
    the server's stop line counts at least as many authenticated requests
    as the run counted operations, and none refused (no cookie sent twice,
    none forged); with more requests in flight than one key exchange gives
    cookies as well (20 on 2 threads: groups of 8 and 2 on each, one key
    exchange per group);
  - against a plain `sockit serve` (no --nts) on the NTP port and a real
    key-exchange server: every reply fails authentication, an error (exit 1);
  - a --cafile that is no certificate, and a CA that did not sign the
    server's certificate: exit 1 and one line naming the TLS step;
  - usage: --nts outside the ntp mode, --nts-port without --nts, --rate
    with --nts: exit 2.
"""

import json
import os
import socket
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sktest  # noqa: E402
import tlscerts  # noqa: E402

LIGHT = ["--duration", "1", "--threads", "2"]


def bench(*args):
    return sktest.run([sktest.SOCKIT, "bench"] + [str(a) for a in args], timeout=60)


def stats_of(proc):
    line = [l for l in proc.errlines() if "event=nts_stats" in l][0]
    return {k: int(v) for k, v in (f.split("=", 1) for f in line.split()[1:])
            if v.isdigit()}


class BenchNts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.certs = tlscerts.make(os.path.join(cls.tmp.name, "certs"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def serve(self, *extra, nts=True):
        base = sktest.free_port_base((123, 4460))
        cert, key = self.certs.path("server")
        args = [sktest.SOCKIT, "serve", "--services", "ntp", "--bind", "127.0.0.1",
                "--port-base", base, "--threads", "1", "--udp-limit", "0"]
        if nts:
            args += ["--nts", "--nts-key-file", os.path.join(self.tmp.name, "k%d" % base),
                     "--tls-cert", cert, "--tls-key", key]
        p = sktest.Proc(args + list(extra))
        p.wait_line("service=nts-ke" if nts else "service=ntp", timeout=15)
        return p, base + 123, base + 4460

    def run_clean(self, *args):
        proc, port, ke = self.serve()
        try:
            r = bench("ntp", "127.0.0.1", port, "--nts", "--nts-port", ke, "--cafile",
                      self.certs.ca, "--servername", "localhost", "--json", *args)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            rep = json.loads(r.stdout)
        finally:
            self.assertEqual(proc.stop(), 0, proc.errlines())
        self.assertGreater(rep["ops"], 0, rep)
        self.assertEqual(rep["errors"], 0, rep)
        self.assertIsNone(rep["first_error"], rep)
        self.assertGreater(rep["bytes"], rep["ops"] * 48, rep)
        st = stats_of(proc)
        print("bench ntp --nts %s: %d ops, server %s" % (" ".join(map(str, args)), rep["ops"], st))
        self.assertGreaterEqual(st["authenticated"], rep["ops"], st)
        self.assertEqual(st["nak_cookie"], 0, st)
        self.assertEqual(st["nak_auth"], 0, st)
        self.assertEqual(st["malformed"], 0, st)
        self.assertGreaterEqual(st["ke_ok"], 1, st)
        return rep, st

    def test_clean_run(self):
        rep, st = self.run_clean("--conns", 4, *LIGHT)
        self.assertEqual(st["ke_ok"], 2, st)  # one per thread: 2 in flight each

    def test_more_in_flight_than_one_exchange_gives(self):
        rep, st = self.run_clean("--conns", 20, *LIGHT)
        self.assertEqual(st["ke_ok"], 4, st)  # 10 per thread: groups of 8 and 2

    def test_plain_ntp_server_fails_authentication(self):
        nts, _, ke = self.serve()
        plain, port, _ = self.serve(nts=False)
        try:
            r = bench("ntp", "127.0.0.1", port, "--nts", "--nts-port", ke, "--cafile",
                      self.certs.ca, "--json", "--conns", 2, *LIGHT)
        finally:
            nts.stop()
            plain.stop()
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        rep = json.loads(r.stdout)
        self.assertGreater(rep["data_errors"], 0, rep)
        self.assertEqual(rep["ops"], 0, rep)
        self.assertIn("reply authentication failed", rep["first_error"])

    def check_tls_failure(self, cafile, words):
        proc, port, ke = self.serve()
        try:
            r = bench("ntp", "127.0.0.1", port, "--nts", "--nts-port", ke, "--cafile",
                      cafile, *LIGHT)
        finally:
            proc.stop()
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(r.stdout, "")
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn("sockit: bench ntp --nts 127.0.0.1 port %d: TLS: " % ke, lines[0])
        self.assertIn(words, lines[0])

    def test_bad_cafile(self):
        bad = os.path.join(self.tmp.name, "not-a-ca.pem")
        with open(bad, "w") as f:
            f.write("not a certificate\n")
        self.check_tls_failure(bad, "--cafile " + bad)

    def test_unknown_issuer(self):
        other = tlscerts.make(os.path.join(self.tmp.name, "other"))
        self.check_tls_failure(other.ca, "verify")

    def test_usage(self):
        for args, words in ((("udp", "127.0.0.1", 9, "--nts"), "--nts applies to the ntp mode"),
                            (("ntp", "127.0.0.1", 9, "--nts-port", 4460), "--nts-port needs --nts"),
                            (("ntp", "127.0.0.1", 9, "--nts", "--rate", 10), "--rate"),
                            (("ntp", "127.0.0.1", 9, "--nts", "--nts-port", "x"), "bad")):
            r = bench(*args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
            self.assertIn(words, r.stderr)


if __name__ == "__main__":
    unittest.main()
