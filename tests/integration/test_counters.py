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

The services' own counters (the UDP guard's, ntp's, stamp's: the tables
SVC_*_STATS(X) in services/services.h, each exported by a SVC_STATS_DEFINE in
services/) are checked the same way by ServiceCounters: every row is read
from the header, must be in the Prometheus text and under its key in its
stop line (event=stop for the guard, event=ntp_stats, event=stamp_stats;
rows sharing a key summed), and must have a value in SERVICE_EXPECT's run.
One server: echo, ntp and stamp, 1 UDP reply per second per source (bursts
of 2), ntp with --nts; ntp gets one good request, one short, one of
version 0, one of mode 4, one NTS request without an authenticator (the
NTS table's; authenticated requests and key exchanges are counted in
test_nts_ntp.py and test_nts_ke.py), and four quick ones from one source (two answered, one RATE kiss, one
dropped); stamp reflects three requests from three sources (one with an
unknown TLV, one with a TLV that runs past the packet), drops a short one
and, from a service port, one the guard refuses; echo gets one datagram
from a port below 1024 (when the test may bind one).

promtool (Debian's prometheus package) checks each scrape's format.
"""

import os
import errno
import glob
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
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


SERVICES_HEADER = os.path.join(sktest.SOURCE, "services", "services.h")
SVC_ROW = re.compile(r'X\((\w+),\s*(SK_STAT_\w+),\s*"(\w+)",\s*"(\w*)",\s*"([^"]*)",\s*'
                     r'"(\w+)"')
SVC_DEFINE = re.compile(r'SVC_STATS_DEFINE\(\s*(\w+),\s*(\w+),\s*(NULL|"\w+")')


def service_tables():
    """{table macro: (stop event, [(id, family, labels, key)])} of every
    SVC_*_STATS(X) in services.h that a SVC_STATS_DEFINE in services/
    exports; the event is "stop" for a table appended to event=stop."""
    with open(SERVICES_HEADER, encoding="utf-8") as f:
        text = f.read()
    events = {}
    for path in glob.glob(os.path.join(sktest.SOURCE, "services", "*.c")):
        with open(path, encoding="utf-8") as f:
            for _, table, event in SVC_DEFINE.findall(f.read()):
                events[table] = "stop" if event == "NULL" else event.strip('"')
    tables = {}
    for m in re.finditer(r"#define (SVC_\w+_STATS)\(X\)", text):
        end = text.index("\n\n", m.start())
        block = text[m.end():end].replace("\\\n", " ")
        rows = []
        for rid, kind, metric, lname, lvalue, key in SVC_ROW.findall(block):
            family = "sockit_%s%s" % (metric, "_total" if kind == "SK_STAT_COUNTER" else "")
            rows.append((rid, family, {lname: lvalue} if lname else {}, key))
        tables[m.group(1)] = (events.get(m.group(1)), rows)
    return tables


def ntp_request(first=0x23, length=48):
    """An NTP packet: LI 0, version 4, mode 3 by default."""
    return bytes([first]) + bytes(length - 1)


def nts_field(kind, body):
    """An NTP extension field (RFC 7822), padded to 4 bytes, 16 at least."""
    size = max(16, (4 + len(body) + 3) // 4 * 4)
    return struct.pack("!HH", kind, size) + body + bytes(size - 4 - len(body))


def stamp_request(seq=0, tail=b""):
    """An unauthenticated STAMP Session-Sender packet (RFC 8762 4.2.1), with
    `tail` (TLVs) after its 44 bytes."""
    estimate = (1 << 15) | (20 << 8) | 3
    return struct.pack("!IQHH", seq, 0, estimate, 7) + bytes(28) + tail


def udp_from(src, port=0, timeout=2.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.bind((src, port))
    return s


def replies(sock, quiet=1.0):
    """The datagrams that arrive until none has for `quiet` seconds."""
    got = []
    sock.settimeout(quiet)
    while True:
        try:
            got.append(sock.recv(70000))
        except socket.timeout:
            return got


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


class ServiceCounters(unittest.TestCase):
    def setUp(self):
        sktest.require_program("promtool")
        self.tables = service_tables()
        self.assertGreaterEqual(len(self.tables), 3, "the tables were not read")
        for table, (event, rows) in self.tables.items():
            self.assertIsNotNone(event, "%s: no SVC_STATS_DEFINE in services/" % table)
            self.assertTrue(rows, "%s: no rows read" % table)

    def scrape(self, maddr):
        status, _, text = pp.scrape(maddr)
        self.assertEqual(status, 200)
        ok, out = promtool_check(text)
        self.assertTrue(ok, "promtool check metrics: %s\n%s" % (out, text))
        return text, pp.parse_metrics(text)

    @staticmethod
    def sample(m, family, labels):
        """The row's one sample, or None."""
        return m.get((family, tuple(sorted(labels.items()))))

    def test_service_rows(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        base = sktest.free_port_base()
        maddr = ("127.0.0.1", sktest.free_port())
        argv = [sktest.SOCKIT, "serve", "--port-base", base, "--bind", "127.0.0.1",
                "--services", "echo,ntp,stamp", "--threads", "1", "--udp-limit", "1",
                "--nts", "--nts-key-file", os.path.join(self.tmp.name, "nts.keys"),
                "--metrics", "%s:%d" % maddr]
        echo, ntp, stamp = (("127.0.0.1", base + p) for p in (7, 123, 862))
        with sktest.Proc(argv) as srv:
            srv.wait_line("service=stamp proto=udp")
            # ntp: one good request, then three malformed ones (counted
            # before the guard: they take no token).
            with udp_from("127.0.0.11") as u:
                u.sendto(ntp_request(), ntp)
                self.assertEqual(len(replies(u)), 1)
                for bad in (ntp_request(length=47), ntp_request(first=0x03),
                            ntp_request(first=0x24)):
                    u.sendto(bad, ntp)
                self.assertEqual(replies(u, 0.5), [])
            # NTS (RFC 8915): a request with a Unique Identifier and a
            # cookie but no authenticator is malformed, dropped (no token).
            with udp_from("127.0.0.11") as u:
                u.sendto(ntp_request() + nts_field(0x0104, bytes(range(32))) +
                         nts_field(0x0204, bytes(104)), ntp)
                self.assertEqual(replies(u, 0.5), [])
            # Four at once from one source: the burst of 2 answered, then a
            # RATE kiss (once per 4 s), then nothing.
            with udp_from("127.0.0.12") as u:
                for _ in range(4):
                    u.sendto(ntp_request(), ntp)
                got = replies(u)
            kods = sum(1 for r in got if r[1] == 0 and r[12:16] == b"RATE")
            answered = len(got) - kods
            self.assertGreaterEqual(answered, 2, got)
            self.assertEqual(kods, 1, got)
            # stamp: three sessions reflected, one TLV unknown, one running
            # past the packet; a short packet (not a request, not judged).
            tails = [b"", bytes([0, 99, 0, 1]) + b"?", bytes([0, 1, 0, 50]) + b"short"]
            for i, tail in enumerate(tails):
                with udp_from("127.0.0.%d" % (21 + i)) as u:
                    req = stamp_request(i, tail)
                    u.sendto(req, stamp)
                    self.assertEqual([len(r) for r in replies(u)], [len(req)])
            with udp_from("127.0.0.24") as u:
                u.sendto(stamp_request()[:20], stamp)
                self.assertEqual(replies(u, 0.5), [])
            # From a service port (echo's, on another address): the guard
            # refuses it for stamp.
            with udp_from("127.0.0.2", base + 7) as u:
                u.sendto(stamp_request(), stamp)
                self.assertEqual(replies(u, 0.5), [])
            # From a port below 1024, when this test may bind one.
            private = 0
            try:
                u = udp_from("127.0.0.3", 1000)
            except OSError as exc:
                if exc.errno not in (errno.EACCES, errno.EPERM, errno.EADDRINUSE):
                    raise
            else:
                with u:
                    u.sendto(b"x", echo)
                    self.assertEqual(replies(u, 0.5), [])
                private = 1
            expect = {
                "SVC_UDPGUARD_STATS": {
                    "SVC_UDP_DROP_PRIVPORT": private, "SVC_UDP_DROP_SVCPORT": 1,
                    "SVC_UDP_DROP_BADADDR": 0, "SVC_UDP_DROP_SOURCE": 4 - answered,
                    "SVC_UDP_DROP_GLOBAL": 0, "SVC_UDP_DROP_SIZE": 0,
                },
                "SVC_NTP_STATS": {
                    "SVC_NTP_REPLIED": 1 + answered, "SVC_NTP_KOD_RATE": kods,
                    "SVC_NTP_DROP_SHORT": 1, "SVC_NTP_DROP_VERSION": 1,
                    "SVC_NTP_DROP_MODE": 1,
                },
                "SVC_NTS_STATS": {
                    "SVC_NTP_NTS_OK": 0, "SVC_NTP_NTS_NAK_COOKIE": 0,
                    "SVC_NTP_NTS_NAK_AUTH": 0, "SVC_NTP_NTS_MALFORMED": 1,
                    "SVC_NTP_NTS_COOKIES": 0, "SVC_NTP_KE_OK": 0, "SVC_NTP_KE_BAD": 0,
                    "SVC_NTP_KE_CRITICAL": 0, "SVC_NTP_KE_INTERNAL": 0,
                    "SVC_NTP_KE_NO_ALPN": 0,
                },
                "SVC_STAMP_STATS": {
                    "SVC_STAMP_REFLECTED": 3, "SVC_STAMP_DROP_SHORT": 1,
                    "SVC_STAMP_DROP_LONG": 0, "SVC_STAMP_DROP_HMAC": 0,
                    "SVC_STAMP_DROP_GUARD": 1, "SVC_STAMP_TLV_UNKNOWN": 1,
                    "SVC_STAMP_TLV_MALFORMED": 1, "SVC_STAMP_TLV_INTEGRITY": 0,
                    "SVC_STAMP_SESSIONS_EVICTED": 0, "SVC_STAMP_SESSIONS_OPEN": 3,
                },
            }
            # A table whose service does not run in this test is None: no
            # sample of it, no stop line (say so here: nothing is assumed).
            missing = [rid for table, (_, rows) in self.tables.items()
                       if table not in expect or expect[table] is not None
                       for rid, *_ in rows if rid not in (expect.get(table) or {})]
            self.assertEqual(missing, [], "the test does not know what its traffic implies "
                             "for these rows")
            # A worker counts a reply just after the client may have seen it.
            deadline = time.monotonic() + 30
            while True:
                text, m = self.scrape(maddr)
                if all(self.sample(m, family, labels) == expect[table][rid]
                       for table, (_, rows) in self.tables.items()
                       if expect[table] is not None
                       for rid, family, labels, _ in rows):
                    break
                if time.monotonic() > deadline:
                    break  # the checks below say which
                time.sleep(0.05)
            for table, (_, rows) in self.tables.items():
                for rid, family, labels, _ in rows:
                    got = self.sample(m, family, labels)
                    if expect[table] is None:
                        self.assertIsNone(got, "%s: %s%s of a service not running"
                                          % (rid, family, labels))
                        continue
                    self.assertIsNotNone(got, "%s: no sample %s%s\n%s"
                                         % (rid, family, labels, text))
                    self.assertEqual(got, expect[table][rid], "%s: %s%s in the metrics"
                                     % (rid, family, labels))
            self.assertEqual(srv.stop(), 0, srv.errlines())
            lines = {}
            for line in srv.errlines():
                if line.startswith("event="):
                    fields = line.split()
                    lines[fields[0][len("event="):]] = dict(f.split("=", 1)
                                                            for f in fields[1:])
        for table, (event, rows) in self.tables.items():
            if expect[table] is None:
                self.assertNotIn(event, lines, "%s: event=%s of a service not running"
                                 % (table, event))
                continue
            self.assertIn(event, lines, "%s: no event=%s line: %r"
                          % (table, event, srv.errlines()))
            want = {}
            for rid, _, _, key in rows:
                want[key] = want.get(key, 0) + expect[table][rid]
            for key, value in want.items():
                self.assertIn(key, lines[event], "%s: %s not in event=%s" % (table, key, event))
                self.assertEqual(int(lines[event][key]), value, "%s: %s in event=%s: %r"
                                 % (table, key, event, lines[event]))


if __name__ == "__main__":
    if shutil.which("promtool") is None:
        print("skipped: promtool not installed (Debian package prometheus)")
        sys.exit(77)
    unittest.main()
