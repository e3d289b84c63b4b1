#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tests/integration/test_bench_nts.py - `sockit bench ntp --nts` against
`sockit serve --nts` (certificates from tests/tlscerts.py):

  - a clean run: operations counted, no errors, every reply longer than a
    plain NTP header (it carries the authenticator and a fresh cookie), and
    the server's stop line counts at least as many authenticated requests
    as the run counted operations, and none refused (no cookie sent twice,
    none forged); with more requests in flight than one key exchange gives
    cookies as well (20 on 2 threads: groups of 4, 4 and 2 on each, one key
    exchange per group, so each keeps spare cookies);
  - through a UDP relay that drops every 10th reply, 8 in flight: the lost
    replies took their cookies, later requests ask for them back
    (placeholders: the server issues more cookies than it authenticates
    requests beyond the key exchanges'), and the run still has no error (a
    cookie is never sent twice: no NTSN); when replies are dropped until
    a group has neither a cookie nor a request out, it makes a new key
    exchange and goes on;
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
import threading
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
        self.assertEqual(st["ke_ok"], 6, st)  # 10 per thread: groups of 4, 4 and 2

    def through_relay(self, drop):
        """bench ntp --nts, 8 in flight on one thread, through a UDP relay
        to `sockit serve --nts` that drops reply n (from 1) when drop(n);
        returns (report, replies dropped, the server's stop-line counts)."""
        import select
        proc, port, ke = self.serve()
        relay = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        relay.bind(("127.0.0.1", 0))
        up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        up.connect(("127.0.0.1", port))
        stop = threading.Event()
        dropped = [0]

        def run():
            n, peer = 0, {}
            while not stop.is_set():
                ready, _, _ = select.select([relay, up], [], [], 0.1)
                for s in ready:
                    if s is relay:
                        data, addr = relay.recvfrom(65536)
                        peer[data[40:48]] = addr  # the transmit timestamp names it
                        up.send(data)
                        continue
                    data = up.recv(65536)
                    addr = peer.pop(data[24:32], None)  # the origin
                    n += 1
                    if addr is None or drop(n):
                        dropped[0] += 1
                    else:
                        relay.sendto(data, addr)

        t = threading.Thread(target=run, daemon=True)
        t.start()
        try:
            r = bench("ntp", "127.0.0.1", relay.getsockname()[1], "--nts", "--nts-port", ke,
                      "--cafile", self.certs.ca, "--json", "--conns", 8, "--threads", 1,
                      "--duration", 2, "--timeout", "0.2")
        finally:
            stop.set()
            t.join()
            relay.close()
            up.close()
            self.assertEqual(proc.stop(), 0, proc.errlines())
        rep = json.loads(r.stdout)
        st = stats_of(proc)
        self.assertEqual(r.returncode, 0, (rep["first_error"], rep["udp"], st))
        self.assertGreater(rep["ops"], 0, rep)
        self.assertEqual(rep["errors"], 0, rep)
        self.assertGreater(dropped[0], 0)
        self.assertGreater(rep["udp"]["lost"], 0, rep)
        self.assertEqual(st["nak_cookie"] + st["nak_auth"] + st["malformed"], 0, st)
        return rep, dropped[0], st

    def test_lost_replies_get_their_cookies_back(self):
        rep, dropped, st = self.through_relay(lambda n: n % 10 == 0)
        print("bench ntp --nts, every 10th reply dropped: %d ops, %d dropped, server %s"
              % (rep["ops"], dropped, st))
        self.assertEqual(st["ke_ok"], 2, st)  # 2 groups of 4, their spares enough
        # Placeholders: more cookies issued than the exchanges' and one per
        # authenticated request.
        self.assertGreater(st["cookies_issued"], st["authenticated"] + 8 * st["ke_ok"], st)

    def test_all_cookies_lost_then_a_new_key_exchange(self):
        # Replies 50 to 89 dropped: every request and spare cookie of both
        # groups goes; with none left and none due, each group makes a new
        # key exchange and the run goes on.
        rep, dropped, st = self.through_relay(lambda n: 50 <= n < 90)
        print("bench ntp --nts, replies 50..89 dropped: %d ops, %d dropped, server %s"
              % (rep["ops"], dropped, st))
        self.assertGreater(st["ke_ok"], 2, st)
        self.assertGreater(rep["ops"], 100, rep)

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
