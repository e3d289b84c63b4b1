# SPDX-License-Identifier: MIT
"""Every row of the counter table (SK_SERVER_STATS_MAP in include/sockit.h)
is in `sockit serve`'s Prometheus text and in its stop line, with the value
the test's traffic implies.

The rows are read from the header itself, so a row added there is checked
here without a change: the test fails until it knows what its traffic
implies for the new row (EXPECT below) - a row nobody checks cannot slip
in.  Two servers of their own:

- "proxy": --proxy-protocol from 127.0.0.2 only, max 2 connections per
  client, echo over TCP and UDP (1 reply per second per source, bursts of
  2).  Proxied and LOCAL connections echo known bytes, one client floods
  without reading (reading pauses), one header is invalid, one cut short,
  one never comes, one connection comes from outside --proxy-from, a third
  connection of one client is refused while two are held open (the open
  gauge is 2 then), and five datagrams from one source get the replies the
  guard allows;
- "idle": a descriptor limit of 64 and --idle-timeout 1: 80 clients make
  accept fail for want of descriptors until the idle timeout closes the
  first ones, and then every one of the 80 is served and closed idle.

promtool (Debian's prometheus package) checks each scrape's format.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import proxyproto as pp  # noqa: E402
import sktest  # noqa: E402

HEADER = os.path.join(sktest.SOURCE, "include", "sockit.h")
ROW = re.compile(r'X\((\w+),\s*(SK_STAT_\w+),\s*(SK_STAT_\w+),\s*"(\w+)",\s*(?:\\\s*)?'
                 r'"((?:[^"\\]|\\.)*)"')


def table_rows():
    """[(field, kind, proto, family, labels)] of SK_SERVER_STATS_MAP."""
    with open(HEADER, encoding="utf-8") as f:
        text = f.read()
    start = text.index("#define SK_SERVER_STATS_MAP(X)")
    end = text.index("\n\n", start)
    rows = []
    for field, kind, proto, metric, label in ROW.findall(text[start:end]):
        label = label.replace('\\"', '"')
        counter = kind == "SK_STAT_COUNTER"
        family = "sockit_%s%s" % (metric, "_total" if counter else "")
        labels = dict(pp.LABEL.findall(label))
        rows.append((field, kind, proto, family, labels))
    return rows


def promtool_check(text):
    """promtool check metrics on a scrape: (ok, its output)."""
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    return r.returncode == 0, r.stdout + r.stderr


def stop_fields(srv):
    line = srv.wait_line("event=stop ", stream="err")
    return dict(f.split("=", 1) for f in line.split()[1:]), line


def connect_from(src, addr, timeout=20):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(addr)
    return s


class Counters(unittest.TestCase):
    def setUp(self):
        sktest.require_program("promtool")
        self.rows = table_rows()
        self.assertGreaterEqual(len(self.rows), 19, "the table was not read")

    def scrape(self, maddr):
        status, _, text = pp.scrape(maddr)
        self.assertEqual(status, 200)
        ok, out = promtool_check(text)
        self.assertTrue(ok, "promtool check metrics: %s\n%s" % (out, text))
        return text, pp.parse_metrics(text)

    def settle(self, maddr, done, what):
        """Scrapes until done(samples) holds: a worker counts a close just
        after the client may have seen it."""
        deadline = time.monotonic() + 30
        while True:
            text, m = self.scrape(maddr)
            if done(m):
                return text, m
            self.assertLess(time.monotonic(), deadline, "%s never settled:\n%s" % (what, text))
            time.sleep(0.05)

    def check_rows(self, m, stop, line, expect, run):
        """Every row: one sample per service of its protocol in the scrape,
        a field in the stop line, and both equal to what the traffic
        implies (an int, or a predicate for counts the test cannot fix)."""
        missing = [r[0] for r in self.rows if r[0] not in expect]
        self.assertEqual(missing, [], "%s: the test does not know what its traffic implies "
                         "for these rows" % run)
        for field, kind, proto, family, labels in self.rows:
            want = expect[field]
            got = pp.metric_sum(m, family, **labels)
            present = [k for k in m if k[0] == family and
                       all(dict(k[1]).get(a) == b for a, b in labels.items())]
            self.assertTrue(present, "%s: no sample %s%s" % (run, family, labels))
            self.assertIn(field, stop, "%s: %s not in the stop line: %s" % (run, field, line))
            stopped = int(stop[field])
            if callable(want):
                self.assertTrue(want(got), "%s: %s is %d in the metrics" % (run, field, got))
                self.assertEqual(stopped, got, "%s: %s: stop line %d, metrics %d"
                                 % (run, field, stopped, got))
            else:
                self.assertEqual(got, want, "%s: %s in the metrics" % (run, field))
                self.assertEqual(stopped, want, "%s: %s in the stop line: %s"
                                 % (run, field, line))

    def test_proxy_run(self):
        base = sktest.free_port_base()
        maddr = ("127.0.0.1", sktest.free_port())
        argv = [sktest.SOCKIT, "serve", "--port-base", base, "--bind", "127.0.0.1",
                "--services", "echo", "--threads", "2", "--proxy-protocol",
                "--proxy-from", "127.0.0.2/32", "--proxy-timeout", "1",
                "--max-per-source", "2", "--udp-limit", "1", "--metrics", "%s:%d" % maddr]
        echo = ("127.0.0.1", base + 7)
        with sktest.Proc(argv) as srv:
            srv.wait_line("service=echo proto=udp")
            bytes_in = 0
            # Three proxied clients and one LOCAL header echo known bytes.
            for i in range(3):
                with connect_from("127.0.0.2", echo) as s:
                    s.sendall(pp.v1("192.0.2.%d" % (i + 1), "127.0.0.1", 4000 + i, base + 7)
                              + b"p" * 100)
                    s.shutdown(socket.SHUT_WR)
                    self.assertEqual(pp.read_until_close(s), b"p" * 100)
                    bytes_in += 100
            with connect_from("127.0.0.2", echo) as s:
                s.sendall(pp.v2(command=0) + b"local-data")
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(pp.read_until_close(s), b"local-data")
                bytes_in += 10
            # A client that sends without reading: the server stops reading
            # it once its output backs up; then everything comes back.
            with connect_from("127.0.0.2", echo) as s:
                s.sendall(pp.v1("192.0.2.50", "127.0.0.1", 4050, base + 7))
                s.setblocking(False)
                sent, chunk, idle_since = 0, b"f" * 65536, None
                while idle_since is None or time.monotonic() - idle_since < 1.0:
                    try:
                        sent += s.send(chunk)
                        idle_since = None
                    except BlockingIOError:
                        idle_since = idle_since or time.monotonic()
                        time.sleep(0.05)
                s.setblocking(True)
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(len(pp.read_until_close(s, timeout=60)), sent)
                bytes_in += sent
            # Refused for the header: invalid, cut short, never sent.
            with connect_from("127.0.0.2", echo) as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                self.assertEqual(pp.read_until_close(s), b"")
            with connect_from("127.0.0.2", echo) as s:
                s.sendall(b"PROXY TCP4 1.2")
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(pp.read_until_close(s), b"")
            with connect_from("127.0.0.2", echo) as s:
                self.assertEqual(pp.read_until_close(s), b"")
            # From outside --proxy-from.
            with connect_from("127.0.0.1", echo) as s:
                self.assertEqual(pp.read_until_close(s), b"")
            # Two connections of one client held open, a third refused.
            held = []
            for i in range(2):
                s = connect_from("127.0.0.2", echo)
                self.addCleanup(s.close)
                s.sendall(pp.v1("198.51.100.9", "127.0.0.1", 5000 + i, base + 7) + b"h\n")
                self.assertEqual(s.recv(10), b"h\n")
                held.append(s)
            with connect_from("127.0.0.2", echo) as s:
                s.sendall(pp.v1("198.51.100.9", "127.0.0.1", 5002, base + 7))
                self.assertEqual(pp.read_until_close(s), b"")
            bytes_in += 4
            _, m = self.settle(maddr, lambda m: pp.metric_sum(m, "sockit_connections_open") == 2
                               and pp.metric_sum(m, "sockit_connections_total") == 7 and
                               pp.metric_sum(m, "sockit_connections_refused_total") == 5,
                               "two held connections")
            self.assertEqual(pp.metric_sum(m, "sockit_connections_open", service="echo",
                                           proto="tcp"), 2)
            for s in held:
                s.close()
            # Five datagrams from one source: the guard passes what its
            # bucket (1 per second, bursts of 2) allows, the rest get nothing.
            replies = 0
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.settimeout(2)
                for i in range(5):
                    u.sendto(b"d%d" % i, ("127.0.0.1", base + 7))
                try:
                    while True:
                        u.recvfrom(100)
                        replies += 1
                except socket.timeout:
                    pass
            self.assertGreaterEqual(replies, 1)
            self.assertLess(replies, 5, "the guard let every datagram through")
            _, m = self.settle(maddr, lambda m: pp.metric_sum(m, "sockit_connections_open") == 0
                               and pp.metric_sum(m, "sockit_datagrams_received_total") == 5 and
                               pp.metric_sum(m, "sockit_datagrams_sent_total") == replies,
                               "the closes and the datagrams")
            self.assertEqual(srv.stop(), 0, srv.errlines())
            stop, line = stop_fields(srv)
        expect = {
            "accepted": 3 + 1 + 1 + 2, "refused_limit": 1, "accept_errors": 0,
            "idle_closed": 0, "active": 0, "datagrams_in": 5, "datagrams_out": replies,
            "datagrams_dropped": 0, "bytes_in": bytes_in, "bytes_out": bytes_in,
            "read_pauses": lambda v: v >= 1, "refused_proxy_source": 1,
            "proxy_proxied": 3 + 1 + 3, "proxy_local": 1, "proxy_invalid": 1,
            "proxy_timeout": 1, "proxy_truncated": 1, "datagrams_refused": 5 - replies,
            "refused_proxy_header": 3,
        }
        # No TLS service in this run (tests/integration/test_serve_tls.py
        # counts handshakes).
        expect.update({field: 0 for field, *_ in self.rows if field.startswith("tls_")})
        self.check_rows(m, stop, line, expect, "proxy run")
        self.assertEqual(int(stop["udp_dropped_rate"]), 5 - replies, line)

    def test_idle_run(self):
        limit, clients = 64, 80
        base = sktest.free_port_base()
        maddr = ("127.0.0.1", sktest.free_port())
        code = ("import os, resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, "
                "(%d, %d)); os.execv(sys.argv[1], sys.argv[1:])" % (limit, limit))
        argv = [sys.executable, "-c", code, sktest.SOCKIT, "serve", "--port-base", base,
                "--bind", "127.0.0.1", "--services", "echo", "--threads", "1",
                "--max-conns", "0", "--max-per-source", "0", "--idle-timeout", "1",
                "--metrics", "%s:%d" % maddr]
        with sktest.Proc(argv) as srv:
            srv.wait_line("service=echo proto=udp")
            conns = []
            for i in range(clients):
                s = socket.create_connection(("127.0.0.1", base + 7), timeout=60)
                self.addCleanup(s.close)
                conns.append(s)
            # Each is accepted once descriptors are free, then closed idle.
            for s in conns:
                self.assertEqual(pp.read_until_close(s, timeout=60), b"")
                s.close()
            _, m = self.settle(maddr, lambda m: pp.metric_sum(m, "sockit_connections_open") == 0
                               and pp.metric_sum(m, "sockit_connections_idle_closed_total")
                               == clients, "the idle closes")
            self.assertEqual(srv.stop(), 0, srv.errlines())
            stop, line = stop_fields(srv)
        expect = {field: 0 for field, *_ in self.rows}
        expect.update({"accepted": clients, "idle_closed": clients,
                       "accept_errors": lambda v: v >= 1})
        self.check_rows(m, stop, line, expect, "idle run")


if __name__ == "__main__":
    if shutil.which("promtool") is None:
        print("skipped: promtool not installed (Debian package prometheus)")
        sys.exit(77)
    unittest.main()
