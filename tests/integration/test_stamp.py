#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tests/integration/test_stamp.py - STAMP (RFC 8762/8972) with Debian's
python3-scapy (scapy.contrib.stamp) as the independent codec, loopback only.

  ScapyFields      `sockit serve`'s stamp service (stateful) asked with
                   requests scapy builds, over a plain UDP socket; replies
                   parsed by scapy and checked field by field: sequence
                   numbers, T1 echoed bit for bit, T2 <= T3 near the real
                   time, TTL 64 on IPv4 loopback and the hop limit set on
                   IPv6, both error estimates (ours against adjtimex), SSID,
                   reply length = request length at several sizes, the
                   reflector's sequence per session, each TLV's answer
                   (padding, timestamp information, class of service with
                   the DSCP sent, direct measurement, unknown -> U,
                   malformed and overrunning -> M)
  Stateless        the reflector's sequence is the sender's
  Authenticated    --stamp-key: 112-byte base packets signed here with
                   Python's hmac, the reply's HMAC verified here; a bad HMAC
                   gets nothing and is counted; a bad key file is refused
  Hostile          short packets, a flood from one source (limited, while
                   another source is still answered), sources on a service
                   port (the loop guard)
  Metrics          the sockit_stamp_* families at GET /metrics (promtool
                   checks the text when installed)
  ClientSplit      `sockit stamp` against a reflector written with scapy
                   that drops chosen packets on the way there or back: the
                   loss split is exact; duplicated and held-back replies are
                   counted; against a stateless one, round trip only;
                   against `sockit serve` in both modes

scapy is Debian's: this file runs under /usr/bin/python3 when the python3
on PATH cannot import it, and skips (77) when neither can.  Debian's scapy
reads the TLV list's length from the packet's `parent` UDP header, so
replies are dissected with one handed in (_parent).  Its FlagsField names
the TLV flag bits from the low end ("UMIRRRRR" puts U at 0x01), while RFC
8972 figure 2 puts U in the most significant bit: the flag bytes are
checked as numbers.

No timing assertion is tighter than seconds: the box may be loaded.
"""

import ctypes
import hashlib
import hmac
import json
import os
import socket
import struct
import sys
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

DIST = "/usr/lib/python3/dist-packages"
try:
    sys.path.insert(0, DIST)
    from scapy.contrib.stamp import (ErrorEstimate, STAMPSessionReflectorTestUnauthenticated,
                                     STAMPSessionSenderTestUnauthenticated, STAMPTestTLV)
    from scapy.layers.inet import UDP
except Exception as exc:  # pragma: no cover - depends on the machine
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3") \
            and not os.environ.get("SK_STAMP_REEXEC"):
        os.environ["SK_STAMP_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print("skipped: scapy.contrib.stamp not importable (%s); "
          "install python3-scapy (scripts/install-deps.sh test)" % exc)
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sktest  # noqa: E402

NTP_DELTA = 2208988800
HAVE_V6 = sktest.have_ipv6()
U, M, I = 0x80, 0x40, 0x20
KEY = bytes(range(32))


def ntp_now():
    return time.time() + NTP_DELTA


def ntp_of(raw8):
    sec, frac = struct.unpack("!II", raw8)
    return sec + frac / 2**32


def ee_seconds(scale, mult):
    return mult * 2.0 ** (scale - 32)


def kernel_clock():
    """(synchronised, estimated error s, maximum error s) from adjtimex(2),
    read only (modes 0)."""
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(512)
    state = libc.adjtimex(buf)
    raw = buf.raw
    maxerror, esterror = struct.unpack_from("=qq", raw, 24)
    status = struct.unpack_from("=i", raw, 40)[0]
    synced = state >= 0 and state != 5 and not (status & 0x40)
    return synced, esterror / 1e6, maxerror / 1e6


def tlv(t, value, flags=0):
    return bytes([flags, t]) + struct.pack("!H", len(value)) + value


def tlvs_of(raw, base):
    """[(flags, type, value)] of a packet's TLVs, read here by hand."""
    out, off = [], base
    while off + 4 <= len(raw):
        flags, t, n = raw[off], raw[off + 1], struct.unpack("!H", raw[off + 2:off + 4])[0]
        out.append((flags, t, raw[off + 4:off + 4 + n]))
        off += 4 + n
    return out


def dissect_reply(data):
    return STAMPSessionReflectorTestUnauthenticated(data, _parent=UDP(len=8 + len(data)))


def dissect_request(data):
    return STAMPSessionSenderTestUnauthenticated(data, _parent=UDP(len=8 + len(data)))


def request(seq=1, ssid=4242, tlvs=(), s=1, scale=20, mult=3):
    return bytes(STAMPSessionSenderTestUnauthenticated(
        seq=seq, ts=ntp_now(), err_estimate=ErrorEstimate(S=s, scale=scale, multiplier=mult),
        ssid=ssid, tlv_objects=list(tlvs)))


def padded(seq, size, ssid=4242):
    """A request of exactly `size` bytes (an Extra Padding TLV when there
    is room for one, else zero bytes, as RFC 8762 senders pad)."""
    base = request(seq=seq, ssid=ssid)
    if size - 44 >= 4:
        return base + tlv(1, b"p" * (size - 48))
    return base + bytes(size - 44)


def serve(*extra, v6=HAVE_V6):
    port = sktest.free_port(socket.SOCK_DGRAM)
    argv = [sktest.SOCKIT, "serve", "--services", "stamp", "--port", "stamp=%d" % port,
            "--bind", "127.0.0.1", "--threads", "1"] + list(extra)
    if v6:
        argv += ["--bind", "::1"]
    proc = sktest.Proc(argv)
    want = 2 if v6 else 1
    deadline = time.monotonic() + 15
    while len([l for l in proc.lines() if l.startswith("listening ")]) < want:
        if time.monotonic() > deadline or proc.p.poll() is not None:
            proc.stop()
            raise AssertionError("serve did not start: %r" % proc.errlines())
        time.sleep(0.02)
    return proc, port


class Sources:
    """Each test asks from its own 127.0.0.x, so one test's per-source
    limit does not spill into another's."""
    n = 10

    @classmethod
    def socket(cls, family=socket.AF_INET, port=0):
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.settimeout(3)
        if family == socket.AF_INET:
            cls.n += 1
            s.bind(("127.0.0.%d" % cls.n, port))
        else:
            s.bind(("::1", port))
        return s


def ask(sock, data, port, host="127.0.0.1", tries=3):
    """Sends data and returns the reply (None when none comes)."""
    for _ in range(tries):
        sock.sendto(data, (host, port))
        try:
            return sock.recv(70000)
        except socket.timeout:
            continue
    return None


def stop_stats(proc):
    """The counters of serve's event=stamp_stats line at stop."""
    assert proc.stop() == 0, proc.errlines()
    for line in proc.errlines():
        if line.startswith("event=stamp_stats"):
            return dict(kv.split("=") for kv in line.split()[1:])
    raise AssertionError("no stamp_stats line: %r" % proc.errlines())


class ScapyFields(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proc, cls.port = serve("--udp-limit", "50")

    @classmethod
    def tearDownClass(cls):
        cls.stats = stop_stats(cls.proc)

    def test_base_fields_ipv4(self):
        s = Sources.socket()
        req = request(seq=7, ssid=4242, s=1, scale=20, mult=3)
        before = ntp_now()
        rep = ask(s, req, self.port)
        after = ntp_now()
        self.assertIsNotNone(rep)
        self.assertEqual(len(rep), len(req))
        r = dissect_reply(rep)
        print("scapy: seq=%d seq_sender=%d ssid=%d ttl_sender=%d ts_rx=%s ts=%s "
              "err=(S=%d scale=%d mult=%d) err_sender=(S=%d scale=%d mult=%d)"
              % (r.seq, r.seq_sender, r.ssid, r.ttl_sender, r.ts_rx, r.ts,
                 r.err_estimate.S, r.err_estimate.scale, r.err_estimate.multiplier,
                 r.err_estimate_sender.S, r.err_estimate_sender.scale,
                 r.err_estimate_sender.multiplier))
        self.assertEqual(r.seq_sender, 7)
        self.assertEqual(r.seq, 0)  # a new session's first packet
        self.assertEqual(r.ssid, 4242)
        self.assertEqual(r.ttl_sender, 64)
        self.assertEqual(rep[28:36], req[4:12], "T1 not echoed bit for bit")
        self.assertEqual((r.err_estimate_sender.S, r.err_estimate_sender.scale,
                          r.err_estimate_sender.multiplier), (1, 20, 3))
        t2, t3 = float(r.ts_rx), float(r.ts)
        self.assertEqual(t2, ntp_of(rep[16:24]))
        self.assertLessEqual(t2, t3)
        self.assertGreater(t2, before - 1)
        self.assertLess(t3, after + 1)
        self.assertEqual(rep[38:40] + rep[41:44], bytes(5), "MBZ not zero")

    def test_error_estimate_follows_the_kernel(self):
        s = Sources.socket()
        r = dissect_reply(ask(s, request(), self.port))
        synced, est, maxerr = kernel_clock()
        e = r.err_estimate
        self.assertEqual(e.S, 1 if synced else 0)
        self.assertEqual(e.Z, 0)
        self.assertGreater(e.multiplier, 0)
        want = est if synced else maxerr
        got = ee_seconds(e.scale, e.multiplier)
        # The kernel's figure moves between its read and ours.
        self.assertLessEqual(abs(got - want), max(0.5 * want, 0.01),
                             "error estimate %g s, kernel says %g s" % (got, want))

    @unittest.skipUnless(HAVE_V6, "no IPv6 loopback")
    def test_hop_limit_ipv6(self):
        s = Sources.socket(socket.AF_INET6)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 33)
        rep = ask(s, request(seq=3), self.port, host="::1")
        r = dissect_reply(rep)
        self.assertEqual(r.ttl_sender, 33)
        self.assertEqual(r.seq_sender, 3)

    def test_ttl_set_ipv4(self):
        s = Sources.socket()
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 17)
        self.assertEqual(dissect_reply(ask(s, request(), self.port)).ttl_sender, 17)

    def test_reply_length_is_request_length(self):
        s = Sources.socket()
        for size in (44, 45, 47, 48, 60, 100, 1000, 1472, 4000):
            rep = ask(s, padded(size, size), self.port)
            self.assertIsNotNone(rep, "no reply at %d bytes" % size)
            self.assertEqual(len(rep), size)
            r = dissect_reply(rep)
            self.assertEqual(r.seq_sender, size)
            if size >= 48:
                (flags, t, value), = tlvs_of(rep, 44)
                self.assertEqual((flags, t, value), (0, 1, b"p" * (size - 48)))
            else:
                self.assertEqual(rep[44:], bytes(size - 44))

    def test_reflector_sequence_per_session(self):
        s = Sources.socket()
        got = [dissect_reply(ask(s, request(seq=seq, ssid=ssid), self.port))
               for seq, ssid in ((100, 1), (200, 1), (300, 2), (400, 1), (500, 2))]
        self.assertEqual([(r.seq_sender, r.ssid, r.seq) for r in got],
                         [(100, 1, 0), (200, 1, 1), (300, 2, 0), (400, 1, 2), (500, 2, 1)])
        other = Sources.socket()  # another source address: another session
        self.assertEqual(dissect_reply(ask(other, request(seq=9, ssid=1), self.port)).seq, 0)

    def test_tlvs_answered(self):
        s = Sources.socket()
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 0xb9)  # DSCP 46 (EF), ECN 1
        req = request(tlvs=[
            STAMPTestTLV(type=1, len=3, value=b"abc"),
            STAMPTestTLV(type=3, len=4, value=bytes(4)),
            STAMPTestTLV(type=4, len=4, value=bytes([0x28 << 2, 0, 0, 0])),  # DSCP1 40
            STAMPTestTLV(type=5, len=12, value=struct.pack("!III", 1, 0, 0)),
            STAMPTestTLV(type=77, len=2, value=b"zz"),
            STAMPTestTLV(type=4, len=3, value=b"xyz"),
        ])
        rep = ask(s, req, self.port)
        self.assertEqual(len(rep), len(req))
        r = dissect_reply(rep)
        self.assertEqual([(int(t.flags), t.type, t.len) for t in r.tlv_objects],
                         [(0, 1, 3), (0, 3, 4), (0, 4, 4), (0, 5, 12), (U, 77, 2), (M, 4, 3)])
        pad, tsinfo, cos, dm, unknown, bad = [bytes(t.value) for t in r.tlv_objects]
        self.assertEqual(pad, b"abc")
        synced = kernel_clock()[0]
        # sync source NTP (1) or free-running (5); T2 software (2), T3 control plane (3)
        self.assertEqual(tsinfo, bytes([1 if synced else 5, 2, 1 if synced else 5, 3]))
        word = struct.unpack("!H", cos[:2])[0]
        self.assertEqual((word >> 10, (word >> 4) & 63, (word >> 2) & 3, word & 3),
                         (40, 46, 1, 1), "DSCP1, DSCP2 (received), ECN, RP")
        self.assertEqual(struct.unpack("!III", dm), (1, 1, 1))
        self.assertEqual(unknown, b"zz")
        self.assertEqual(bad, b"xyz")

    def test_tlv_overrun_flagged(self):
        s = Sources.socket()
        req = request() + tlv(1, b"ok") + bytes([0, 1, 0, 50]) + b"short"
        rep = ask(s, req, self.port)
        self.assertEqual(len(rep), len(req))
        self.assertEqual(rep[44:50], req[44:50])
        self.assertEqual(rep[50], M)
        self.assertEqual(rep[51:], req[51:])


class Stateless(unittest.TestCase):
    def test_sequence_copied(self):
        proc, port = serve("--stamp-mode", "stateless", v6=False)
        try:
            s = Sources.socket()
            for seq in (5, 9, 1000000):
                r = dissect_reply(ask(s, request(seq=seq), port))
                self.assertEqual((r.seq, r.seq_sender), (seq, seq))
        finally:
            self.assertEqual(stop_stats(proc)["reflected"], "3")


def auth_request(seq, ssid=5, key=KEY, tlvs=b""):
    body = (struct.pack("!I", seq) + bytes(12) + struct.pack("!QHH", int(ntp_now() * 2**32),
                                                             0x0001, ssid) + bytes(68))
    return body + hmac.new(key, body, hashlib.sha256).digest()[:16] + tlvs


class Authenticated(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.keyfile = tempfile.NamedTemporaryFile("w", suffix=".key", delete=False)
        cls.keyfile.write(KEY.hex() + "\n")
        cls.keyfile.close()
        cls.proc, cls.port = serve("--stamp-key", cls.keyfile.name, v6=False)

    @classmethod
    def tearDownClass(cls):
        stats = stop_stats(cls.proc)
        os.unlink(cls.keyfile.name)
        assert int(stats["hmac"]) >= 2, stats
        assert int(stats["short"]) >= 1, stats

    def test_signed_reply(self):
        s = Sources.socket()
        req = auth_request(11)
        rep = ask(s, req, self.port)
        self.assertEqual(len(rep), 112)
        self.assertEqual(hmac.new(KEY, rep[:96], hashlib.sha256).digest()[:16], rep[96:])
        seq, = struct.unpack("!I", rep[:4])
        ssid, = struct.unpack("!H", rep[26:28])
        sseq, = struct.unpack("!I", rep[48:52])
        self.assertEqual((seq, ssid, sseq), (0, 5, 11))
        self.assertEqual(rep[64:72], req[16:24], "T1 not echoed")
        self.assertEqual(rep[72:74], b"\x00\x01")
        self.assertEqual(rep[80], 64)
        self.assertLessEqual(ntp_of(rep[32:40]), ntp_of(rep[16:24]))

    def test_hmac_tlv(self):
        s = Sources.socket()
        pad = tlv(1, b"pp")
        base = auth_request(12)
        good = base + pad + tlv(8, hmac.new(KEY, base[:4] + pad, hashlib.sha256).digest()[:16])
        rep = ask(s, good, self.port)
        self.assertEqual(len(rep), len(good))
        self.assertEqual([f for f, _, _ in tlvs_of(rep, 112)], [0, 0])
        self.assertEqual(rep[-16:], hmac.new(KEY, rep[:4] + rep[112:118],
                                             hashlib.sha256).digest()[:16])
        forged = base + tlv(1, b"pq") + good[118:]
        rep = ask(s, forged, self.port)
        self.assertEqual([f for f, _, _ in tlvs_of(rep, 112)], [I, I])

    def test_bad_hmac_dropped(self):
        s = Sources.socket()
        s.settimeout(1)
        req = bytearray(auth_request(13))
        req[100] ^= 1
        self.assertIsNone(ask(s, bytes(req), self.port, tries=1))
        self.assertIsNone(ask(s, auth_request(14, key=bytes(32)), self.port, tries=1))
        self.assertIsNone(ask(s, request(), self.port, tries=1))  # 44 bytes: short

    @staticmethod
    def keyfile_path():
        """A valid key file (for usage tests of other options)."""
        path = os.path.join(tempfile.gettempdir(), "sockit-test-stamp-%d.key" % os.getpid())
        with open(path, "w") as f:
            f.write(KEY.hex() + "\n")
        return path

    def test_bad_key_files(self):
        for text in ("", "abc\n", "00" * 15 + "\n", "00" * 65 + "\n", "zz" * 16 + "\n"):
            with tempfile.NamedTemporaryFile("w", suffix=".key") as f:
                f.write(text)
                f.flush()
                for argv in (["serve", "--stamp-key", f.name],
                             ["stamp", "--key", f.name, "127.0.0.1"]):
                    r = sktest.run([sktest.SOCKIT] + argv)
                    self.assertEqual(r.returncode, 2, (text, argv))
                    cmd = argv[0]
                    self.assertEqual(r.stderr.strip(),
                                     "sockit: %s: bad key file '%s' (try 'sockit %s --help')"
                                     % (cmd, f.name, cmd))


class Hostile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proc, cls.port = serve("--udp-limit", "5", v6=False)

    @classmethod
    def tearDownClass(cls):
        cls.stats = stop_stats(cls.proc)
        assert int(cls.stats["short"]) >= 3, cls.stats
        assert int(cls.stats["guard"]) >= 1, cls.stats

    def test_short_packets_dropped(self):
        s = Sources.socket()
        s.settimeout(0.5)
        for n in (0, 1, 43):
            self.assertIsNone(ask(s, request()[:n], self.port, tries=1), n)
        self.assertEqual(len(ask(s, request(), self.port)), 44)  # still answered

    def test_flood_from_one_source_is_limited(self):
        s = Sources.socket()
        s.settimeout(0.3)
        for i in range(100):
            s.sendto(request(seq=i), ("127.0.0.1", self.port))
        got = 0
        while True:
            try:
                s.recv(2000)
                got += 1
            except socket.timeout:
                break
        self.assertGreater(got, 0)
        self.assertLess(got, 40, "a burst of 2 x 5 and 5 per second, not %d" % got)
        other = Sources.socket()
        self.assertIsNotNone(ask(other, request(), self.port), "another source refused")

    def test_service_port_sources_refused(self):
        # Its own port (on another address) and echo's (8007 at the default
        # base): a reflector answering a reflector would loop.
        tried = 0
        for port in (self.port, 8007):
            try:
                s = Sources.socket(port=port)
            except OSError:
                continue
            s.settimeout(0.5)
            self.assertIsNone(ask(s, request(), self.port, tries=2), port)
            tried += 1
        self.assertGreater(tried, 0, "no service port could be bound as a source")


class Metrics(unittest.TestCase):
    def test_stamp_families(self):
        mport = sktest.free_port()
        proc, port = serve("--metrics", "127.0.0.1:%d" % mport, v6=False)
        try:
            s = Sources.socket()
            for seq in range(3):
                self.assertIsNotNone(ask(s, request(seq=seq, tlvs=[
                    STAMPTestTLV(type=99, len=1, value=b"?")]), port))
            s.settimeout(0.3)
            self.assertIsNone(ask(s, b"short", port, tries=1))
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport,
                                        timeout=10) as r:
                text = r.read().decode()
        finally:
            stop_stats(proc)
        got = {}
        for line in text.splitlines():
            if line.startswith("sockit_stamp_"):
                name, value = line.rsplit(" ", 1)
                got[name] = float(value)
        self.assertEqual(got["sockit_stamp_reflected_total"], 3)
        self.assertEqual(got['sockit_stamp_dropped_total{reason="short"}'], 1)
        self.assertEqual(got['sockit_stamp_dropped_total{reason="hmac"}'], 0)
        self.assertEqual(got['sockit_stamp_tlvs_flagged_total{flag="unknown"}'], 3)
        self.assertEqual(got["sockit_stamp_sessions_open"], 1)
        promtool = shutil.which("promtool")
        if promtool:
            r = subprocess.run([promtool, "check", "metrics"], input=text, text=True,
                               capture_output=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


class ScapyReflector:
    """A STAMP reflector written with scapy on 127.0.0.1: it parses each
    request with scapy, keeps a session sequence number (stateful) or
    copies the sender's, fills the Direct Measurement TLV's counts when
    stateful, and builds the reply with scapy.  Requests whose sender
    sequence is in drop_there are ignored (lost on the way there); replies
    to those in drop_back are built, counted and not sent (lost on the way
    back)."""

    def __init__(self, stateful=True, drop_there=(), drop_back=(), dup=(), hold=()):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stateful, self.drop_there, self.drop_back = stateful, drop_there, drop_back
        # Replies to packets in `dup` are sent twice; those in `hold` are
        # sent after the next reply (reordered).
        self.dup, self.hold, self.held = dup, hold, None
        self.rx = self.tx = 0
        self.log = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def reply(self, data):
        q = dissect_request(data)
        t2 = ntp_now()
        seq = self.rx if self.stateful else q.seq
        self.rx += 1
        tlvs = []
        for t in q.tlv_objects:
            if t.type == 5 and self.stateful:
                s_txc = struct.unpack("!I", bytes(t.value)[:4])[0]
                t = STAMPTestTLV(type=5, len=12,
                                 value=struct.pack("!III", s_txc, self.rx, self.tx + 1))
            tlvs.append(t)
        out = bytes(STAMPSessionReflectorTestUnauthenticated(
            seq=seq, ts=ntp_now(), err_estimate=ErrorEstimate(S=0, scale=29, multiplier=128),
            ssid=q.ssid, ts_rx=t2, seq_sender=q.seq, ts_sender=q.ts,
            err_estimate_sender=q.err_estimate, ttl_sender=64, tlv_objects=tlvs))
        # scapy's timestamp field goes through a Decimal of seconds and can
        # round the fraction by a unit; a reflector returns T1 bit for bit.
        return out[:28] + data[4:12] + out[36:], q.seq

    def run(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(70000)
            except OSError:
                return
            if struct.unpack("!I", data[:4])[0] in self.drop_there:
                continue
            out, seq = self.reply(data)
            self.log.append(seq)
            self.tx += 1
            if seq in self.drop_back:
                continue
            if seq in self.hold:
                self.held = out
                continue
            for _ in range(2 if seq in self.dup else 1):
                self.sock.sendto(out, peer)
            if self.held is not None:
                self.sock.sendto(self.held, peer)
                self.held = None

    def close(self):
        self.sock.close()
        self.thread.join(5)


def sockit_stamp(port, *args, host="127.0.0.1"):
    # A generous --timeout: a reflector in python on a loaded box may be
    # late, and late is not lost.
    r = sktest.run([sktest.SOCKIT, "stamp", "--json", "--interval", "0.05", "--timeout", "5"]
                   + [str(a) for a in args] + [host, str(port)], timeout=60)
    return r, (json.loads(r.stdout) if r.returncode == 0 else None)


class ClientSplit(unittest.TestCase):
    def check_split(self, there, back, want_fwd, want_bwd):
        ref = ScapyReflector(drop_there=there, drop_back=back)
        try:
            r, rep = sockit_stamp(ref.port, "--count", 12)
        finally:
            ref.close()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(rep["stateful"])
        self.assertEqual((rep["sent"], rep["received"]), (12, 12 - want_fwd - want_bwd),
                         (r.stderr, rep, ref.log))
        self.assertEqual((rep["lost"], rep["lost_forward"], rep["lost_backward"],
                          rep["lost_unknown"]),
                         (want_fwd + want_bwd, want_fwd, want_bwd, 0))
        self.assertEqual((rep["duplicates"], rep["reordered"]), (0, 0))
        self.assertEqual(rep["ttl_at_reflector"], {"min": 64, "max": 64})
        self.assertEqual(rep["ttl_here"], {"min": 64, "max": 64})

    def test_both_directions(self):
        self.check_split(there={2, 5}, back={7}, want_fwd=2, want_bwd=1)

    def test_backward_only(self):
        # Every reply carries the sender's number; the Direct Measurement
        # TLV's count tells a stateful reflector anyway.
        self.check_split(there=set(), back={3, 4, 9}, want_fwd=0, want_bwd=3)

    def test_forward_only(self):
        self.check_split(there={0, 10}, back=set(), want_fwd=2, want_bwd=0)

    def test_duplicates_and_reordering(self):
        ref = ScapyReflector(dup={2, 8}, hold={5})
        try:
            r, rep = sockit_stamp(ref.port, "--count", 10)
        finally:
            ref.close()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual((rep["sent"], rep["received"], rep["lost"]), (10, 10, 0), rep)
        self.assertEqual((rep["duplicates"], rep["reordered"]), (2, 1), rep)
        self.assertEqual((rep["lost_forward"], rep["lost_backward"]), (0, 0), rep)

    def test_stateless_round_trip_only(self):
        ref = ScapyReflector(stateful=False, drop_there={1}, drop_back={4})
        try:
            r, rep = sockit_stamp(ref.port, "--count", 8)
        finally:
            ref.close()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(rep["stateful"])
        self.assertEqual((rep["lost"], rep["lost_forward"], rep["lost_backward"]),
                         (2, None, None))

    def test_nothing_back_exits_1(self):
        ref = ScapyReflector(drop_there=set(range(3)))
        try:
            r, _ = sockit_stamp(ref.port, "--count", 3, "--timeout", "0.3")
        finally:
            ref.close()
        self.assertEqual(r.returncode, 1)
        self.assertIn("no reply to 3 test packets", r.stderr)

    def test_against_serve_both_modes(self):
        for mode in ("stateful", "stateless"):
            proc, port = serve("--stamp-mode", mode)
            try:
                hosts = ["127.0.0.1"] + (["::1"] if HAVE_V6 else [])
                for host in hosts:
                    r, rep = sockit_stamp(port, "--count", 5, "--size", 300, host=host)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    self.assertEqual((rep["sent"], rep["received"], rep["lost"]), (5, 5, 0))
                    self.assertEqual(rep["stateful"], mode == "stateful")
                    self.assertEqual(rep["ttl_at_reflector"], {"min": 64, "max": 64})
                    self.assertLessEqual(rep["rtt_ms"]["min"], rep["rtt_ms"]["max"])
                r = sktest.run([sktest.SOCKIT, "stamp", "--count", "3", "--interval", "0.05",
                                "--timeout", "1", "127.0.0.1", str(port)])
                self.assertEqual(r.returncode, 0, r.stderr)
                print("sockit stamp against serve --stamp-mode %s:\n%s" % (mode, r.stdout))
                self.assertIn("reflector: %s" % ("stateful" if mode == "stateful" else
                                                 "stateless (or no forward loss)"), r.stdout)
                self.assertIn("one-way delays mean something only when both clocks are "
                              "synchronised", r.stdout)
            finally:
                self.assertEqual(stop_stats(proc)["reflected"], str(5 * len(hosts) + 3))

    def test_usage_errors(self):
        for args, kind, value in ((["--count", "0"], "count", "0"),
                                  (["--size", "43"], "size", "43"),
                                  (["--size", "100", "--key", os.devnull], "key file",
                                   os.devnull),
                                  (["--key", Authenticated.keyfile_path(), "--size", "60"],
                                   "size", "60"),
                                  (["--ssid", "0"], "count", "0"),
                                  (["--ssid", "65536"], "count", "65536"),
                                  (["--interval", "x"], "duration", "x"),
                                  (["--interval", "0.0001"], "duration", "0.0001"),
                                  (["--timeout", "-1"], "duration", "-1")):
            r = sktest.run([sktest.SOCKIT, "stamp"] + args + ["127.0.0.1"])
            self.assertEqual(r.returncode, 2, args)
            self.assertEqual(r.stderr.strip(), "sockit: stamp: bad %s '%s' (try 'sockit "
                             "stamp --help')" % (kind, value))


if __name__ == "__main__":
    sktest.main()
