#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tests/integration/test_ntp.py - NTP with the python3 stdlib as the
independent peer, loopback only.

  HostileServers   `sockit ntp` against python3 servers that get one thing
                   wrong each (origin, zero transmit, mode 3, 47 bytes,
                   KoD RATE / DENY, 2036 wrap, another port or address):
                   each refused or handled, with a clear message
  ServeNtp         `sockit serve`'s ntp service answered byte by byte: the
                   reply's fields, the drops (modes 0-2 and 4-7, versions 0
                   and 5-7, short datagrams), replies never longer than
                   requests, a flood from one source (RATE kiss-o'-death,
                   then nothing) while another source is still answered,
                   source port 123; `sockit ntp` against it (LI=3 too)
  ServeOptions     the command line: --ntp-stratum range, --no-udp with
                   only ntp, the listening lines

No timing assertion is tighter than whole seconds: the box may be loaded.
"""

import json
import os
import socket
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sktest  # noqa: E402

NTP_DELTA = 2208988800  # 1900-01-01 to 1970-01-01
WRAP_2036 = 2**32 - NTP_DELTA  # Unix time of the 2036-02-07 wrap
HAVE_V6 = sktest.have_ipv6()


def ntp_ts(t):
    """64-bit NTP timestamp of Unix time t (seconds modulo 2^32)."""
    sec = int(t // 1)
    frac = int((t - sec) * 2**32) & 0xffffffff
    return ((sec + NTP_DELTA) % 2**32) << 32 | frac


def header(li=0, vn=4, mode=3, stratum=0, poll=6, precision=-20, refid=b"\0\0\0\0",
           ref=0, org=0, rec=0, xmt=0):
    return struct.pack(">BBbbII4sQQQQ", li << 6 | vn << 3 | mode, stratum, poll, precision,
                       0, 0, refid, ref, org, rec, xmt)


def parse(b):
    f = struct.unpack(">BBbbII4sQQQQ", b[:48])
    return {"li": f[0] >> 6, "vn": (f[0] >> 3) & 7, "mode": f[0] & 7, "stratum": f[1],
            "poll": f[2], "precision": f[3], "refid": f[6], "ref": f[7], "org": f[8],
            "rec": f[9], "xmt": f[10]}


def good_reply(req, now=None, stratum=2, refid=bytes([192, 0, 2, 1]), li=0):
    q = parse(req)
    t = ntp_ts(time.time() if now is None else now)
    return header(li=li, vn=q["vn"], mode=4, stratum=stratum, poll=q["poll"], refid=refid,
                  ref=t, org=q["xmt"], rec=t, xmt=t)


def kod(req, code):
    q = parse(req)
    return header(li=3, vn=q["vn"], mode=4, stratum=0, refid=code, org=q["xmt"])


class FakeServer:
    """A python3 NTP server on 127.0.0.1 that answers each request with
    answer(req, n) (n counts requests from 0): bytes to send back, a list of
    (bytes, sending socket) pairs, or None for no reply.  Records the
    arrival time of every request."""

    def __init__(self, answer):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.other.bind(("127.0.0.1", 0))
        self.answer = answer
        self.arrivals = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        n = 0
        while True:
            try:
                req, peer = self.sock.recvfrom(2048)
            except OSError:
                return
            self.arrivals.append(time.monotonic())
            out = self.answer(req, n)
            n += 1
            if out is None:
                continue
            if isinstance(out, bytes):
                out = [(out, self.sock)]
            for data, via in out:
                via.sendto(data, peer)

    def close(self):
        self.sock.close()
        self.other.close()
        self.thread.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def sockit_ntp(port, *args, host="127.0.0.1"):
    return sktest.run([sktest.SOCKIT, "ntp"] + [str(a) for a in args] + [host, port],
                      timeout=60)


class HostileServers(unittest.TestCase):
    def refused(self, answer, message, count=1):
        with FakeServer(answer) as srv:
            r = sockit_ntp(srv.port, "--count", count, "--timeout", "1", "--interval", "0.1")
        self.assertEqual(r.returncode, 1, (r.stdout, r.stderr))
        self.assertIn(message, r.stderr)
        self.assertIn("sockit: ntp 127.0.0.1:%d: " % srv.port, r.stderr)
        self.assertNotIn("offset", r.stdout)
        return r

    def test_good_server_is_accepted(self):
        with FakeServer(lambda req, n: good_reply(req)) as srv:
            r = sockit_ntp(srv.port, "--count", 2, "--interval", "0.1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        self.assertIn("stratum 2, refid 192.0.2.1, leap 0", r.stdout)
        self.assertIn("lowest-delay sample", r.stdout)

    def test_request_is_a_v4_client_packet_with_a_random_nonce(self):
        seen = []

        def answer(req, n):
            seen.append(req)
            return good_reply(req)
        with FakeServer(answer) as srv:
            r = sockit_ntp(srv.port, "--count", 3, "--interval", "0.1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(seen), 3)
        for req in seen:
            q = parse(req)
            self.assertEqual((len(req), q["vn"], q["mode"]), (48, 4, 3))
        # The transmit timestamps are nonces, not the time: all different,
        # and not near the clock's current NTP seconds.
        nonces = [parse(req)["xmt"] for req in seen]
        self.assertEqual(len(set(nonces)), 3)

    def test_wrong_origin(self):
        def answer(req, n):
            b = bytearray(good_reply(req))
            b[31] ^= 1
            return bytes(b)
        self.refused(answer, "origin timestamp is not our transmit timestamp")

    def test_zero_transmit(self):
        def answer(req, n):
            return good_reply(req)[:40] + bytes(8)
        self.refused(answer, "transmit timestamp is zero")

    def test_mode_3_reply(self):
        self.refused(lambda req, n: req, "mode 3, not 4")

    def test_47_byte_reply(self):
        self.refused(lambda req, n: good_reply(req)[:47], "47 bytes, shorter than an NTP header")

    def test_stratum_16_without_leap_3(self):
        self.refused(lambda req, n: good_reply(req, stratum=16), "stratum 16 is not 1..15")

    def test_reply_from_another_port(self):
        def answer(req, n):
            return [(good_reply(req), srv_box[0].other)]
        srv_box = []
        with FakeServer(answer) as srv:
            srv_box.append(srv)
            other_port = srv.other.getsockname()[1]
            r = sockit_ntp(srv.port, "--count", 1, "--timeout", "1")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("ignoring a reply from 127.0.0.1:%d: not the address asked"
                      % other_port, r.stderr)

    def test_reply_from_another_address(self):
        other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            other.bind(("127.0.0.2", 0))
        except OSError as e:
            other.close()
            self.skipTest("cannot bind 127.0.0.2: %s" % e)
        with other:
            r = self.refused(lambda req, n: [(good_reply(req), other)], "not the address asked")
        self.assertIn("127.0.0.2", r.stderr)

    def test_forged_reply_then_the_real_one(self):
        def answer(req, n):
            b = bytearray(good_reply(req))
            b[24] ^= 0x80
            return [(bytes(b), srv_box[0].sock), (good_reply(req), srv_box[0].sock)]
        srv_box = []
        with FakeServer(answer) as srv:
            srv_box.append(srv)
            r = sockit_ntp(srv.port, "--count", 1)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("ignoring a reply: origin timestamp", r.stderr)
        self.assertIn("sample 1:", r.stdout)

    def test_kod_deny_stops(self):
        with FakeServer(lambda req, n: kod(req, b"DENY")) as srv:
            r = sockit_ntp(srv.port, "--count", 3, "--interval", "0.1", "--timeout", "2")
            n = len(srv.arrivals)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("server refuses us (kiss-o'-death DENY)", r.stderr)
        self.assertEqual(n, 1, "kept asking after DENY")

    def test_kod_rstr_stops(self):
        self.refused(lambda req, n: kod(req, b"RSTR"), "kiss-o'-death RSTR", count=2)

    def test_kod_rate_backs_off(self):
        def answer(req, n):
            return kod(req, b"RATE") if n == 0 else good_reply(req)
        with FakeServer(answer) as srv:
            r = sockit_ntp(srv.port, "--count", 3, "--interval", "0.1")
            arrivals = list(srv.arrivals)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("slow down (kiss-o'-death RATE): interval now 0.2 s", r.stderr)
        self.assertIn("sample 2:", r.stdout)
        self.assertNotIn("sample 3:", r.stdout)
        self.assertEqual(len(arrivals), 3)
        # Waits only ever get longer on a loaded box, never shorter.
        self.assertGreaterEqual(arrivals[1] - arrivals[0], 0.19)
        self.assertGreaterEqual(arrivals[2] - arrivals[1], 0.19)

    def test_kod_rate_only(self):
        self.refused(lambda req, n: kod(req, b"RATE"), "no usable reply to 2 requests", count=2)

    def test_forged_kod_is_ignored(self):
        def answer(req, n):
            b = bytearray(kod(req, b"DENY"))
            b[30] ^= 1  # not our nonce: anyone could have sent it
            return [(bytes(b), srv_box[0].sock), (good_reply(req), srv_box[0].sock)]
        srv_box = []
        with FakeServer(answer) as srv:
            srv_box.append(srv)
            r = sockit_ntp(srv.port, "--count", 1)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("origin timestamp", r.stderr)

    def test_time_past_the_2036_wrap(self):
        t = WRAP_2036 + 100
        with FakeServer(lambda req, n: good_reply(req, now=t)) as srv:
            r = sockit_ntp(srv.port, "--count", 1)
            rj = sockit_ntp(srv.port, "--count", 1, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("server time is Thu Feb  7 06:29:56.000 2036 UTC", r.stdout)
        obj = json.loads(rj.stdout)
        self.assertEqual(obj["server_unix"], t)
        self.assertEqual(obj["server_time"], "2036-02-07T06:29:56.000Z")
        # Ten years ahead, not 126 years behind.
        self.assertAlmostEqual(obj["offset_ms"] / 1e3, t - time.time(), delta=30)

    def test_unsynchronised_server(self):
        def answer(req, n):
            return good_reply(req, li=3, stratum=16, refid=b"\0\0\0\0")
        with FakeServer(answer) as srv:
            r = sockit_ntp(srv.port, "--count", 1)
            ok = sockit_ntp(srv.port, "--count", 1, "--allow-unsynced")
        self.assertEqual(r.returncode, 1)
        self.assertIn("leap 3", r.stdout)
        self.assertIn("unsynchronised (leap indicator 3)", r.stderr)
        self.assertEqual(ok.returncode, 0, ok.stderr)

    def test_no_server(self):
        port = sktest.free_port(socket.SOCK_DGRAM)
        r = sockit_ntp(port, "--count", 1, "--timeout", "0.5")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no usable reply within 0.5 s", r.stderr)

    def test_usage_errors(self):
        for args in (["--interval", "0.05", "127.0.0.1"], ["--count", "0", "127.0.0.1"],
                     ["--bogus", "127.0.0.1"], [], ["127.0.0.1", "123", "extra"],
                     ["--timeout", "0", "127.0.0.1"]):
            r = sktest.run([sktest.SOCKIT, "ntp"] + args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertTrue(r.stderr.startswith("sockit: "), r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)


class ServeNtp(unittest.TestCase):
    """One `sockit serve --services ntp --ntp-stratum 8` with a low rate
    limit (1 per second, bursts of 2) on 127.0.0.1 (and ::1)."""

    @classmethod
    def setUpClass(cls):
        cls.port = sktest.free_port(socket.SOCK_DGRAM)
        argv = [sktest.SOCKIT, "serve", "--services", "ntp", "--port", "ntp=%d" % cls.port,
                "--bind", "127.0.0.1", "--ntp-stratum", "8", "--udp-limit", "1",
                "--threads", "1"]
        if HAVE_V6:
            argv += ["--bind", "::1"]
        cls.proc = sktest.Proc(argv)
        want = 2 if HAVE_V6 else 1
        deadline = time.monotonic() + 15
        while len([l for l in cls.proc.lines() if l.startswith("listening ")]) < want:
            if time.monotonic() > deadline or cls.proc.p.poll() is not None:
                cls.proc.stop()
                raise AssertionError("serve did not start: %r" % cls.proc.errlines())
            time.sleep(0.02)
        cls.source = 10  # each test asks from its own 127.0.0.x

    @classmethod
    def tearDownClass(cls):
        assert cls.proc.stop() == 0, cls.proc.errlines()

    def client(self, family=socket.AF_INET):
        """A socket on a loopback address no other test uses, so the
        per-source limit of one test does not spill into another."""
        s = socket.socket(family, socket.SOCK_DGRAM)
        if family == socket.AF_INET:
            ServeNtp.source += 1
            try:
                s.bind(("127.0.0.%d" % ServeNtp.source, 0))
            except OSError:
                s.bind(("127.0.0.1", 0))
        self.addCleanup(s.close)
        return s

    def ask(self, s, payload, timeout=1.0, host="127.0.0.1"):
        s.settimeout(timeout)
        s.sendto(payload, (host, self.port))
        try:
            return s.recvfrom(2048)[0]
        except socket.timeout:
            return None

    def test_reply_fields(self):
        s = self.client()
        for vn in (1, 2, 3, 4):
            req = header(vn=vn, mode=3, poll=-3, xmt=0x0123456789abcdef)
            before = time.time()
            rep = self.ask(s, req)
            after = time.time()
            self.assertIsNotNone(rep, "no reply to version %d" % vn)
            self.assertEqual(len(rep), 48)
            p = parse(rep)
            self.assertEqual((p["li"], p["vn"], p["mode"], p["stratum"], p["poll"]),
                             (0, vn, 4, 8, -3))
            self.assertEqual(p["refid"], b"LOCL")
            self.assertEqual(rep[24:32], req[40:48])  # origin = our transmit, verbatim
            for key in ("rec", "xmt"):
                t = (p[key] >> 32) - NTP_DELTA + (p[key] & 0xffffffff) / 2**32
                self.assertGreaterEqual(t, before - 1)
                self.assertLessEqual(t, after + 1)
            self.assertLessEqual(p["rec"], p["xmt"])
            time.sleep(1.05)  # stay within the rate limit

    def test_drops_get_no_reply(self):
        s = self.client()
        bad = [b"", b"\x1b", header()[:47],
               bytes([0x16, 0x02, 0x00, 0x01]) + bytes(8),            # mode 6 READSTAT
               bytes([0x17, 0x00, 0x03, 0x2a]) + bytes(188),          # mode 7 MON_GETLIST_1
               header(mode=6), header(mode=7), header(mode=0), header(mode=1),
               header(mode=2), header(mode=4), header(mode=5),
               header(vn=0), header(vn=5), header(vn=6), header(vn=7)]
        s.settimeout(0.05)
        for b in bad:
            s.sendto(b, ("127.0.0.1", self.port))
        time.sleep(1.0)
        with self.assertRaises(socket.timeout):
            print("unexpected reply:", s.recvfrom(2048))
        # The server is alive and this source is not rate-limited by those.
        self.assertIsNotNone(self.ask(s, header(xmt=1)))

    def test_reply_never_longer_than_request(self):
        s = self.client()
        ext = struct.pack(">HH", 0x0104, 16) + b"\x11" * 12        # an extension field
        mac = struct.pack(">I", 7) + b"\x22" * 16                  # key id + MD5
        for tail in (ext, mac):
            rep = self.ask(s, header(xmt=42) + tail)
            self.assertIsNotNone(rep)
            self.assertEqual(len(rep), 48)
            self.assertNotIn(b"\x11\x11\x11", rep)
            self.assertNotIn(b"\x22\x22\x22", rep)
            time.sleep(1.05)

    def test_flood_gets_rate_kod_then_nothing(self):
        a, b = self.client(), self.client()
        if a.getsockname()[0] == b.getsockname()[0]:
            self.skipTest("cannot bind two loopback addresses")
        a.settimeout(0.05)
        started = time.monotonic()
        for i in range(100):
            a.sendto(header(xmt=1000 + i), ("127.0.0.1", self.port))
        replies, kods = self.drain(a)
        # Bursts of 2 plus about one a second: a few times, on a slow box.
        self.assertGreaterEqual(len(replies), 1)
        self.assertLessEqual(len(replies), 10)
        # One RATE kiss-o'-death per 4 s (two if this box stalled that long).
        self.assertGreaterEqual(len(kods), 1)
        self.assertLessEqual(len(kods), 1 if time.monotonic() - started < 3.5 else 2)
        k = parse(kods[0])
        self.assertEqual((k["stratum"], k["refid"], k["mode"], k["li"]), (0, b"RATE", 4, 3))
        self.assertGreaterEqual(k["org"], 1000)  # echoes one of our nonces
        # Another source is still answered during the flood.
        self.assertIsNotNone(self.ask(b, header(xmt=5)))
        # More of the flood within the kiss interval: no second kiss.
        for i in range(30):
            a.sendto(header(xmt=2000 + i), ("127.0.0.1", self.port))
        replies2, kods2 = self.drain(a)
        if time.monotonic() - started < 3.5:
            self.assertEqual(kods2, [])
        self.assertLessEqual(len(replies2), 5)

    def drain(self, s, quiet=0.5):
        """Every datagram until none comes for `quiet` seconds: (replies, kods)."""
        replies, kods = [], []
        s.settimeout(quiet)
        while True:
            try:
                rep = s.recvfrom(2048)[0]
            except socket.timeout:
                return replies, kods
            self.assertEqual(len(rep), 48)
            (kods if rep[1] == 0 else replies).append(rep)

    def test_source_port_123_is_answered(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(s.close)
        try:
            s.bind(("127.0.0.3", 123))
        except OSError as e:
            self.skipTest("cannot bind port 123 (needs root and a free port): %s" % e)
        self.assertIsNotNone(self.ask(s, header(xmt=9)), "no reply to port 123")
        low = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(low.close)
        try:
            low.bind(("127.0.0.3", 122))
        except OSError:
            return
        self.assertIsNone(self.ask(low, header(xmt=9), timeout=0.5), "port 122 answered")

    def test_ipv6(self):
        if not HAVE_V6:
            self.skipTest("no IPv6 loopback")
        s = self.client(socket.AF_INET6)
        rep = self.ask(s, header(xmt=77), host="::1")
        self.assertIsNotNone(rep)
        self.assertEqual(parse(rep)["org"], 77)

    def test_sockit_ntp_against_it(self):
        r = sktest.run([sktest.SOCKIT, "ntp", "--count", "2", "--interval", "1.1", "--json",
                        "127.0.0.1", self.port], timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        obj = json.loads(r.stdout)
        self.assertEqual(len(obj["samples"]), 2)
        self.assertEqual(obj["stratum"], 8)
        self.assertEqual(obj["refid"], "76.79.67.76 (LOCL)")
        self.assertLess(abs(obj["offset_ms"]), 100)  # the same clock on both ends
        self.assertGreaterEqual(obj["delay_ms"], -1)


class ServeOptions(unittest.TestCase):
    def test_unsynced_server(self):
        port = sktest.free_port(socket.SOCK_DGRAM)
        with sktest.Proc([sktest.SOCKIT, "serve", "--services", "ntp", "--port",
                          "ntp=%d" % port, "--bind", "127.0.0.1", "--ntp-unsynced"]) as p:
            p.wait_line("listening service=ntp proto=udp addr=127.0.0.1:%d" % port)
            r = sockit_ntp(port, "--count", 1)
            rj = sockit_ntp(port, "--count", 1, "--json", "--allow-unsynced")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("stratum 16", r.stdout)
        self.assertIn("unsynchronised (leap indicator 3)", r.stderr)
        self.assertEqual(rj.returncode, 0, rj.stderr)
        obj = json.loads(rj.stdout)
        self.assertEqual((obj["leap"], obj["stratum"], obj["synchronised"]), (3, 16, False))

    def test_counts_logged_at_exit(self):
        port = sktest.free_port(socket.SOCK_DGRAM)
        with sktest.Proc([sktest.SOCKIT, "serve", "--services", "ntp", "--port",
                          "ntp=%d" % port, "--bind", "127.0.0.1"]) as p:
            p.wait_line("listening service=ntp")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                for b in (b"x", header(mode=7), header(vn=6)):
                    s.sendto(b, ("127.0.0.1", port))
                s.settimeout(2)
                s.sendto(header(xmt=3), ("127.0.0.1", port))
                s.recvfrom(100)
            p.stop()
            line = p.wait_line("event=ntp_stats", stream="err")
        self.assertIn("replied=1 kod_rate=0 dropped_short=1 dropped_version=1 dropped_mode=1",
                      line)

    def test_bad_options(self):
        for args in (["--ntp-stratum", "0"], ["--ntp-stratum", "16"], ["--ntp-stratum", "x"],
                     ["--services", "ntp", "--no-udp"]):
            r = sktest.run([sktest.SOCKIT, "serve"] + args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertTrue(r.stderr.startswith("sockit: "), r.stderr)

    def test_listening_lines_udp_only(self):
        port = sktest.free_port(socket.SOCK_DGRAM)
        with sktest.Proc([sktest.SOCKIT, "serve", "--services", "ntp,time", "--port",
                          "ntp=%d" % port, "--port", "time=0", "--bind", "127.0.0.1"]) as p:
            p.wait_line("service=time proto=udp")
            p.wait_line("service=ntp")
            time.sleep(0.2)
            lines = [l for l in p.lines() if "service=ntp" in l]
        self.assertEqual(lines, ["listening service=ntp proto=udp addr=127.0.0.1:%d" % port])


if __name__ == "__main__":
    sktest.main()
