#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`sockit serve --metrics`: the Prometheus endpoint.

  - `promtool check metrics` (Debian's prometheus package) accepts the
    output (skipped, saying why, when promtool is missing);
  - the counters match the traffic the test sent, per service and protocol,
    and agree with the exit line; they never go backwards;
  - GET /metrics only: other paths and methods get 404, garbage 400, an
    endless head 400, and the endpoint keeps serving;
  - a slowloris (more connections than the endpoint keeps, each sending a
    few bytes and stalling) does not lock a scraper out;
  - a Unix socket path works, and the socket file is removed at exit.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import proxyproto as pp  # noqa: E402
import sktest  # noqa: E402


def raw_request(addr, data, timeout=20.0):
    """Sends raw bytes to the endpoint and returns its whole answer."""
    with socket.create_connection(addr, timeout=timeout) as s:
        s.sendall(data)
        return pp.read_until_close(s, timeout)


class Metrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.base = sktest.free_port_base()
        cls.maddr = ("127.0.0.1", sktest.free_port())
        cls.srv = sktest.Proc([sktest.SOCKIT, "serve", "--port-base", cls.base,
                               "--bind", "127.0.0.1", "--threads", "2",
                               "--metrics", "%s:%d" % cls.maddr])
        cls.srv.wait_line("service=time proto=udp")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def scrape(self):
        status, headers, body = pp.scrape(self.maddr)
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/plain; version=0.0.4"),
                        headers)
        return body

    def test_a_counters_match_traffic_and_exit_line(self):
        # A server of its own, so that no other test's traffic is counted.
        base = sktest.free_port_base()
        maddr = ("127.0.0.1", sktest.free_port())
        with sktest.Proc([sktest.SOCKIT, "serve", "--port-base", base, "--bind", "127.0.0.1",
                          "--threads", "2", "--metrics", "%s:%d" % maddr]) as srv:
            srv.wait_line("service=time proto=udp")
            for i in range(3):
                with socket.create_connection(("127.0.0.1", base + 7), timeout=20) as s:
                    s.sendall(b"e" * 100)
                    s.shutdown(socket.SHUT_WR)
                    self.assertEqual(pp.read_until_close(s), b"e" * 100)
            for i in range(2):
                with socket.create_connection(("127.0.0.1", base + 9), timeout=20) as s:
                    s.sendall(b"d" * 1000)
                    s.shutdown(socket.SHUT_WR)
                    self.assertEqual(pp.read_until_close(s), b"")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.settimeout(10)
                for i in range(5):
                    u.sendto(b"", ("127.0.0.1", base + 37))
                    self.assertEqual(len(u.recvfrom(100)[0]), 4)
            # A worker counts a close, or a reply sent, just after the
            # client may have seen it: poll until the figures settle.
            deadline = time.monotonic() + 20
            while True:
                m = pp.parse_metrics(pp.scrape(maddr)[2])
                if (pp.metric_sum(m, "sockit_connections_open") == 0 and
                        pp.metric_sum(m, "sockit_datagrams_sent_total") == 5) or \
                        time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            get = lambda name, svc, proto: pp.metric_sum(m, name, service=svc, proto=proto)
            self.assertEqual(get("sockit_connections_total", "echo", "tcp"), 3)
            self.assertEqual(get("sockit_bytes_received_total", "echo", "tcp"), 300)
            self.assertEqual(get("sockit_bytes_sent_total", "echo", "tcp"), 300)
            self.assertEqual(get("sockit_connections_total", "discard", "tcp"), 2)
            self.assertEqual(get("sockit_bytes_received_total", "discard", "tcp"), 2000)
            self.assertEqual(get("sockit_connections_open", "echo", "tcp"), 0)
            self.assertEqual(get("sockit_datagrams_received_total", "time", "udp"), 5)
            self.assertEqual(get("sockit_datagrams_sent_total", "time", "udp"), 5)
            self.assertEqual(get("sockit_datagrams_received_total", "echo", "udp"), 0)
            self.assertEqual(pp.metric_sum(m, "sockit_connections_total"), 5)
            self.assertEqual(srv.stop(), 0)
            stop = [l for l in srv.errlines() if l.startswith("event=stop")][0]
            self.assertIn("accepted=5 ", stop)
            self.assertIn(" bytes_in=2300 ", stop)
            self.assertIn(" datagrams_in=5 ", stop)

    def test_guard_drops_per_service(self):
        # --udp-limit 1: a burst of 2, then one a second; of 20 quick
        # datagrams most are refused by the guard, each counted once.
        base = sktest.free_port_base()
        maddr = ("127.0.0.1", sktest.free_port())
        with sktest.Proc([sktest.SOCKIT, "serve", "--port-base", base, "--bind", "127.0.0.1",
                          "--no-tcp", "--threads", "1", "--udp-limit", "1",
                          "--metrics", "%s:%d" % maddr]) as srv:
            srv.wait_line("service=time proto=udp")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                for i in range(20):
                    u.sendto(b"x%d" % i, ("127.0.0.1", base + 7))
            deadline = time.monotonic() + 20
            while True:
                m = pp.parse_metrics(pp.scrape(maddr)[2])
                got = lambda name, **kw: pp.metric_sum(m, name, service="echo", proto="udp", **kw)
                received = got("sockit_datagrams_received_total")
                answered = got("sockit_datagrams_sent_total")
                guard = got("sockit_datagrams_dropped_total", reason="guard")
                send = got("sockit_datagrams_dropped_total", reason="send")
                if (received == 20 and answered + guard + send == 20) or \
                        time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            self.assertEqual(received, 20)
            self.assertEqual(answered + guard + send, 20)
            self.assertGreaterEqual(guard, 10)
            self.assertEqual(pp.metric_sum(m, "sockit_udp_guard_dropped_total",
                                           reason="rate_source"), guard)
            self.assertEqual(pp.metric_sum(m, "sockit_datagrams_dropped_total",
                                           service="time", reason="guard"), 0)

    def test_build_info_and_start_time(self):
        m = pp.parse_metrics(self.scrape())
        info = [k for k in m if k[0] == "sockit_build_info"]
        self.assertEqual(len(info), 1)
        self.assertRegex(dict(info[0][1])["version"], r"^\d+\.\d+\.\d+")
        start = m[("process_start_time_seconds", ())]
        self.assertLess(abs(start - time.time()), 3600)

    def test_promtool_accepts(self):
        promtool = shutil.which("promtool")
        if promtool is None:
            self.skipTest("promtool not installed (Debian package prometheus; "
                          "scripts/install-deps.sh test installs it as root)")
        # Some traffic first, so that the counters are not all zero.
        with socket.create_connection(("127.0.0.1", self.base + 13), timeout=20) as s:
            pp.read_until_close(s)
        r = subprocess.run([promtool, "check", "metrics"], input=self.scrape().encode(),
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_counters_never_go_backwards(self):
        first = pp.parse_metrics(self.scrape())
        with socket.create_connection(("127.0.0.1", self.base + 17), timeout=20) as s:
            pp.read_until_close(s)
        second = pp.parse_metrics(self.scrape())
        for key, v in first.items():
            if key[0].endswith("_total"):
                self.assertGreaterEqual(second[key], v, key)

    def test_other_requests(self):
        for req, status in ((b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 404),
                            (b"GET /metricsx HTTP/1.1\r\n\r\n", 404),
                            (b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 404),
                            (b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200),
                            (b"GET /metrics?x=1 HTTP/1.0\r\n\r\n", 200),
                            (b"\x00\x01\x02garbage\r\n\r\n", 400),
                            (b"GET /metrics HTTP/2.0\r\n\r\n", 400),
                            (b"GET  /metrics HTTP/1.1\r\n\r\n", 400),
                            (b"G" * 10000, 400)):
            out = raw_request(self.maddr, req)
            self.assertTrue(out.startswith(b"HTTP/1.1 %d " % status), (req[:40], out[:80]))
        self.scrape()

    def test_slowloris(self):
        stalled = []
        try:
            for _ in range(40):
                s = socket.create_connection(self.maddr, timeout=20)
                s.sendall(b"GET /metr")
                stalled.append(s)
            t0 = time.monotonic()
            self.scrape()
            self.assertLess(time.monotonic() - t0, 15)
            # A stalled connection is closed within the deadline (5 s).
            s = stalled[-1]
            s.settimeout(30)
            t0 = time.monotonic()
            self.assertEqual(pp.read_until_close(s, 30), b"")
            self.assertLess(time.monotonic() - t0, 25)
        finally:
            for s in stalled:
                s.close()
        self.scrape()


class MetricsUnixSocket(unittest.TestCase):
    def test_unix_socket(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "metrics.sock")
            base = sktest.free_port_base()
            with sktest.Proc([sktest.SOCKIT, "serve", "--port-base", base, "--bind",
                              "127.0.0.1", "--no-udp", "--threads", "1",
                              "--metrics", path]) as srv:
                srv.wait_line("service=time proto=tcp")
                status, _, body = pp.scrape(path)
                self.assertEqual(status, 200)
                self.assertIn('sockit_connections_total{service="echo",proto="tcp"} 0', body)
                self.assertEqual(srv.stop(), 0)
            self.assertFalse(os.path.exists(path))


if __name__ == "__main__":
    sktest.main()
