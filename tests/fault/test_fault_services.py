# SPDX-License-Identifier: MIT
"""`sockit serve` under injected faults: it keeps serving and loses no byte.

The server runs with tests/fault/faultshim.so preloaded (short counts, EINTR,
EAGAIN on its non-blocking sockets, EMFILE from accept, EINTR from its
waits), seeded from SK_FAULT_TEST_SEED; the python clients are not faulted.
Checked:
  echo/tcp   many connections at once, sizes from 0 bytes to 1 MB, random
             chunking: every byte comes back once and in order (compared by
             content, so loss, duplication and reordering all show).
  echo/udp   each reply equals its request, or is absent (UDP may drop).
  chargen    over a megabyte read in many pieces matches the RFC 864 pattern
             from its first byte.
  daytime, time, qotd   complete replies over TCP (many sequential
             connections: accept's EMFILE must not stop service) and UDP.
  discard    takes a megabyte and the server still answers afterwards.
  backpressure  an echo client that does not read does not grow the
             server's memory, and then gets every byte back.
  TLS        the NAME-tls twins (--tls-cert, certificates from
             tests/tlscerts.py): handshakes under faults, echo-tls of up
             to 1 MB per connection and chargen-tls byte for byte.
  clients    the client subcommands, faulted as well, against that server.
  exhaustion  a second server whose accept fails with EMFILE ten times in a
             row: it must pause between tries (not spin), then serve.
  the end    the shim's counters show every kind of fault was injected into
             the server, and SIGTERM still stops it cleanly (exit 0).

Usage: test_fault_services.py [unittest options]; the environment gives
SK_FAULT_TEST_SEED (default 1), SK_FAULT_TEST_RATE (percent, default 20)
and SOCKIT_FAULT_SHIM (default <build>/tests/faultshim.so).
"""

import os
import random
import re
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sktest  # noqa: E402
import ssl  # noqa: E402
import tlscerts  # noqa: E402

SEED = int(os.environ.get("SK_FAULT_TEST_SEED", "1"))
RATE = os.environ.get("SK_FAULT_TEST_RATE", "20")
SHIM = os.environ.get("SOCKIT_FAULT_SHIM", os.path.join(sktest.BUILD, "tests", "faultshim.so"))
OFFSETS = {"echo": 7, "discard": 9, "daytime": 13, "qotd": 17, "chargen": 19, "time": 37}
HOST = "127.0.0.1"
# Replies a UDP check requires: any reply may be lost when the server's
# send is told EAGAIN, which a high rate makes common.
UDP_QUORUM = 0.5 if float(RATE) <= 50 else 0.2
DAYTIME = re.compile(rb"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ 0-9]\d "
                     rb"\d\d:\d\d:\d\d \d{4}\r\n$")


# The pattern repeats every 95 lines of 74 bytes.
CHARGEN_CYCLE = sktest.chargen_ref(0, 95 * 74)


def read_stats(path):
    with open(path, "rb") as f:
        raw = f.read(64)
    names = ("calls", "short", "eintr", "eagain", "emfile")
    if len(raw) < 64:
        return dict.fromkeys(names, 0)
    return dict(zip(names, struct.unpack("=8Q", raw)))


class FaultedServe(unittest.TestCase):
    """One faulted server for the whole file; tests run in name order."""

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(SHIM):
            raise unittest.SkipTest("no fault shim at %s (a sanitizer build has none)" % SHIM)
        if not os.path.exists(sktest.SOCKIT):
            raise unittest.SkipTest("no sockit at %s" % sktest.SOCKIT)
        fd, cls.stats_path = tempfile.mkstemp(prefix="faultshim-serve-")
        os.close(fd)
        cls.base = sktest.free_port_base()
        cls.port = {name: cls.base + off for name, off in OFFSETS.items()}
        cls.tls_base = sktest.free_port_base(tuple(OFFSETS.values()))
        cls.certdir = tempfile.TemporaryDirectory()
        cls.certs = tlscerts.make(cls.certdir.name)
        tls = ["--tls-port-base", str(cls.tls_base), "--tls-cert", cls.certs.cert("server"),
               "--tls-key", cls.certs.key("server")]
        env = dict(os.environ, LD_PRELOAD=SHIM, SK_FAULT_SEED=str(SEED),
                   SK_FAULT_RATE=RATE, SK_FAULT_STATS=cls.stats_path)
        cls.repro = ("LD_PRELOAD=%s SK_FAULT_SEED=%d SK_FAULT_RATE=%s %s serve --port-base %d "
                     "--bind %s --threads 2 --udp-limit 0 --max-per-source 0 %s"
                     % (SHIM, SEED, RATE, sktest.SOCKIT, cls.base, HOST, " ".join(tls)))
        cls.proc = sktest.Proc([sktest.SOCKIT, "serve", "--port-base", cls.base, "--bind", HOST,
                                "--threads", 2, "--udp-limit", 0, "--max-per-source", 0] + tls,
                               env=env)
        deadline = time.monotonic() + 15
        while len([l for l in cls.proc.lines() if l.startswith("listening ")]) < 18:
            if time.monotonic() > deadline or cls.proc.p.poll() is not None:
                out, err = cls.proc.lines(), cls.proc.errlines()
                cls.proc.stop(signal.SIGKILL)
                raise AssertionError("sockit serve did not start under faults: stdout=%r "
                                     "stderr=%r\nreproduce: %s" % (out, err, cls.repro))
            time.sleep(0.05)
        cls.rng = random.Random(SEED)

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "proc", None) is not None and cls.proc.p.poll() is None:
            cls.proc.stop(signal.SIGKILL)
        if getattr(cls, "stats_path", None):
            os.unlink(cls.stats_path)
        if getattr(cls, "certdir", None) is not None:
            cls.certdir.cleanup()

    def setUp(self):
        self.assertIsNone(self.proc.p.poll(), "sockit serve died: stderr=%r\nreproduce: %s"
                          % (self.proc.errlines()[-20:], self.repro))

    def fail_repro(self, what):
        self.fail("%s\nreproduce: %s" % (what, self.repro))

    # ---- echo over TCP ------------------------------------------------------------

    def echo_many(self, sizes, parallel, deadline_s=90.0):
        """Echoes one payload per size through its own connection, at most
        `parallel` at once, with random chunking; checks every byte."""
        rng = self.rng
        todo = list(enumerate(sizes))
        sel = selectors.DefaultSelector()
        live = {}
        deadline = time.monotonic() + deadline_s
        done = 0

        def start(idx, size):
            s = socket.create_connection((HOST, self.port["echo"]), timeout=10)
            s.setblocking(False)
            st = {"idx": idx, "data": rng.randbytes(size), "sent": 0, "got": 0,
                  "shut": False, "sock": s}
            if size == 0:
                s.shutdown(socket.SHUT_WR)
                st["shut"] = True
            live[s] = st
            sel.register(s, selectors.EVENT_READ | (0 if st["shut"] else selectors.EVENT_WRITE), st)

        while todo or live:
            while todo and len(live) < parallel:
                start(*todo.pop(0))
            if time.monotonic() > deadline:
                self.fail_repro("echo stalled: %d connections still open, e.g. %r" % (
                    len(live), [(v["idx"], len(v["data"]), v["sent"], v["got"])
                                for v in list(live.values())[:5]]))
            for key, ev in sel.select(timeout=1.0):
                st, s = key.data, key.fileobj
                data = st["data"]
                if ev & selectors.EVENT_WRITE and not st["shut"]:
                    chunk = rng.choice((1, 7, 512, 4096, 65536, 300000))
                    try:
                        n = s.send(data[st["sent"]:st["sent"] + chunk])
                    except BlockingIOError:
                        n = 0
                    st["sent"] += n
                    if st["sent"] == len(data):
                        s.shutdown(socket.SHUT_WR)
                        st["shut"] = True
                        sel.modify(s, selectors.EVENT_READ, st)
                if ev & selectors.EVENT_READ:
                    try:
                        b = s.recv(rng.choice((1, 100, 4096, 65536)))
                    except BlockingIOError:
                        continue
                    except ConnectionError as e:
                        self.fail_repro("echo connection %d (%d bytes): %s after %d bytes back"
                                        % (st["idx"], len(data), e, st["got"]))
                    if not b:
                        if st["got"] != len(data):
                            self.fail_repro("echo connection %d: %d bytes sent, %d came back "
                                            "before end of stream" % (st["idx"], len(data),
                                                                      st["got"]))
                        sel.unregister(s)
                        s.close()
                        del live[s]
                        done += 1
                        continue
                    off = st["got"]
                    expect = data[off:off + len(b)]
                    if b != expect:
                        bad = next((i for i in range(min(len(b), len(expect)))
                                    if b[i] != expect[i]), min(len(b), len(expect)))
                        self.fail_repro("echo connection %d (%d bytes): byte %d differs "
                                        "(%d more than sent?)" % (st["idx"], len(data), off + bad,
                                                                  max(0, off + len(b) - len(data))))
                    st["got"] += len(b)
        sel.close()
        return done

    def test_1_echo_tcp(self):
        rng = self.rng
        sizes = [0, 1, 2, 3, 100, 1000, 1 << 20, 1 << 20]
        sizes += [rng.choice((rng.randrange(1, 200), rng.randrange(200, 20000),
                              rng.randrange(20000, 300000))) for _ in range(52)]
        rng.shuffle(sizes)
        self.assertEqual(self.echo_many(sizes, parallel=8), len(sizes))

    # ---- the TLS twins ----------------------------------------------------------------

    def tls_connect(self, name):
        ctx = ssl.create_default_context(cafile=self.certs.ca)
        raw = socket.create_connection((HOST, self.tls_base + OFFSETS[name]), timeout=30)
        try:
            return ctx.wrap_socket(raw, server_hostname="localhost")
        except (ssl.SSLError, OSError) as e:
            raw.close()
            self.fail_repro("TLS handshake with %s-tls: %s" % (name, e))

    def test_1b_echo_tls(self):
        rng = self.rng
        for size in [0, 1, 5000, 1 << 20] + [rng.randrange(1, 300000) for _ in range(8)]:
            data = rng.randbytes(size)
            with self.tls_connect("echo") as s:
                got, sent = bytearray(), 0
                while len(got) < size:
                    if sent < size and sent - len(got) < 262144:
                        sent += s.send(data[sent:sent + rng.choice((1, 700, 16384, 65536))])
                        continue
                    b = s.recv(rng.choice((1, 100, 65536)))
                    if not b:
                        self.fail_repro("echo-tls closed after %d of %d bytes" % (len(got), size))
                    got += b
                if bytes(got) != data:
                    self.fail_repro("echo-tls: %d bytes differ from what was sent" % size)

    def test_1c_chargen_tls(self):
        with self.tls_connect("chargen") as s:
            got = bytearray()
            while len(got) < 1 << 20:
                b = s.recv(65536)
                if not b:
                    self.fail_repro("chargen-tls closed after %d bytes" % len(got))
                got += b
        ref = sktest.chargen_ref(0, 1 << 20)
        if bytes(got[:1 << 20]) != ref:
            self.fail_repro("chargen-tls differs from the RFC 864 pattern")

    # ---- echo over UDP --------------------------------------------------------------

    def test_2_echo_udp(self):
        rng = self.rng
        sent, back, foreign = 0, 0, 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((HOST, 0))
            s.settimeout(0.5)
            for i in range(300):
                size = rng.choice((0, 1, rng.randrange(2, 600), rng.randrange(600, 1400),
                                   rng.randrange(1400, 9000)))
                body = b"%06d:" % i + rng.randbytes(size)
                s.sendto(body, (HOST, self.port["echo"]))
                sent += 1
                # Waits for this reply; a stray late reply to an earlier one
                # must still be an exact copy of that request.
                while True:
                    try:
                        data = s.recv(70000)
                    except socket.timeout:
                        break
                    if data == body:
                        back += 1
                        break
                    if not re.match(rb"^\d{6}:", data) or int(data[:6]) >= i:
                        foreign += 1
                        self.fail_repro("UDP echo reply %r... matches no earlier request"
                                        % data[:40])
        self.assertEqual(foreign, 0)
        # A reply may be dropped (a send that would block), but the service
        # must go on answering.
        self.assertGreater(back, sent * UDP_QUORUM, "only %d of %d datagrams echoed"
                           % (back, sent))

    # ---- chargen ---------------------------------------------------------------------

    def test_3_chargen(self):
        rng = self.rng
        for _ in range(3):
            with socket.create_connection((HOST, self.port["chargen"]), timeout=10) as s:
                got = bytearray()
                want = (1 << 20) + rng.randrange(0, 70000)
                while len(got) < want:
                    b = s.recv(rng.choice((1, 73, 1000, 65536)))
                    if not b:
                        self.fail_repro("chargen closed after %d bytes" % len(got))
                    got += b
            n = len(CHARGEN_CYCLE)
            for off in range(0, len(got), n):
                piece = bytes(got[off:off + n])
                if piece != CHARGEN_CYCLE[:len(piece)]:
                    bad = next(i for i in range(len(piece)) if piece[i] != CHARGEN_CYCLE[i])
                    self.fail_repro("chargen byte %d is %r, expected %r" % (
                        off + bad, piece[bad:bad + 10], CHARGEN_CYCLE[bad:bad + 10]))

    # ---- the short services: many sequential connections ----------------------------

    def check_reply(self, name, data):
        if name == "daytime":
            self.assertRegex(data, DAYTIME)
        elif name == "time":
            self.assertEqual(len(data), 4, data)
            value = struct.unpack("!I", data)[0]
            unix = value - 2208988800
            unix += round((time.time() - unix) / 2**32) * 2**32
            self.assertLess(abs(unix - time.time()), 5)
        else:
            self.assertTrue(2 < len(data) < 512 and data.endswith(b"\r\n"), data)
            self.assertTrue(all(32 <= c <= 126 or c in (10, 13) for c in data), data)

    def test_4_short_services_tcp(self):
        # Enough connections that accept meets several injected EMFILEs.
        for i in range(120):
            name = ("daytime", "time", "qotd")[i % 3]
            try:
                with socket.create_connection((HOST, self.port[name]), timeout=10) as s:
                    data = sktest.recv_all(s, 10)
            except OSError as e:
                self.fail_repro("%s connection %d: %s" % (name, i, e))
            self.check_reply(name, data)

    def test_5_short_services_udp(self):
        answered = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((HOST, 0))
            s.settimeout(0.5)
            for i in range(90):
                name = ("daytime", "time", "qotd")[i % 3]
                s.sendto(b"", (HOST, self.port[name]))
                try:
                    data, src = s.recvfrom(70000)
                except socket.timeout:
                    continue
                # A late reply from another service is checked as that one's.
                who = {v: k for k, v in self.port.items()}[src[1]]
                self.check_reply(who, data)
                answered += 1
        self.assertGreater(answered, 90 * UDP_QUORUM, "only %d of 90 UDP requests answered"
                           % answered)

    def test_6_discard(self):
        payload = self.rng.randbytes(1 << 20)
        with socket.create_connection((HOST, self.port["discard"]), timeout=10) as s:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(sktest.recv_all(s, 10), b"")
        self.assertEqual(self.echo_many([5000], parallel=1), 1)

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.p.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def test_7_echo_backpressure(self):
        """A client that sends without reading is throttled, not buffered
        in the server's memory, and once it reads, every byte comes back in
        order.  (Kernel socket buffers on loopback can hold tens of MB, so
        the check is the server's resident memory, not a stall.)"""
        payload = self.rng.randbytes(32 << 20)
        rss_before = self.rss_kib()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
            s.settimeout(10)
            s.connect((HOST, self.port["echo"]))
            s.setblocking(False)
            sent, stalled_since = 0, None
            deadline = time.monotonic() + 60
            # Send until everything is in or the server has stopped taking
            # bytes for a second.
            while sent < len(payload) and time.monotonic() < deadline:
                try:
                    sent += s.send(payload[sent:sent + 65536])
                    stalled_since = None
                except BlockingIOError:
                    stalled_since = stalled_since or time.monotonic()
                    if time.monotonic() - stalled_since > 1.0:
                        break
                    time.sleep(0.01)
            grown = self.rss_kib() - rss_before
            print("%d bytes went in unread; server memory +%d KiB" % (sent, grown))
            self.assertLess(grown, 16 << 10, "the server's memory grew by %d KiB while %d bytes "
                            "went unread: no backpressure\nreproduce: %s" % (grown, sent,
                                                                          self.repro))
            s.setblocking(True)
            s.settimeout(10)
            s.shutdown(socket.SHUT_WR)
            got = bytearray()
            while True:
                b = s.recv(65536)
                if not b:
                    break
                got += b
            if bytes(got) != payload[:sent]:
                bad = next((i for i in range(min(len(got), sent)) if got[i] != payload[i]),
                           min(len(got), sent))
                self.fail_repro("echo after backpressure: %d bytes sent, %d back, first "
                                "difference at %d" % (sent, len(got), bad))

    def test_8_clients_under_faults(self):
        """The client subcommands, faulted too (another seed), against the
        faulted server: they verify what they receive themselves."""
        env = dict(os.environ, LD_PRELOAD=SHIM, SK_FAULT_SEED=str(SEED + 1000),
                   SK_FAULT_RATE=RATE)
        env.pop("SK_FAULT_STATS", None)
        lines = "".join("line %d %s\n" % (i, "x" * (i * 37 % 3000)) for i in range(40))
        runs = [
            (["chargen", "--bytes", "2000000", HOST, self.port["chargen"]], None),
            (["echo", HOST, self.port["echo"]], lines),
            (["echo", "--udp", HOST, self.port["echo"], "one", "two"], None),
            (["time", HOST, self.port["time"]], None),
            (["daytime", HOST, self.port["daytime"]], None),
            (["qotd", HOST, self.port["qotd"]], None),
            (["discard", HOST, self.port["discard"]], lines * 20),
        ]
        for args, stdin in runs:
            argv = [sktest.SOCKIT] + [str(a) for a in args]
            p = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60,
                               env=env)
            self.assertEqual(p.returncode, 0, "LD_PRELOAD=%s SK_FAULT_SEED=%d SK_FAULT_RATE=%s "
                             "%s: exit %d, stderr %r" % (SHIM, SEED + 1000, RATE,
                                                         " ".join(argv), p.returncode,
                                                         p.stderr[-500:]))
            if args[0] == "echo" and stdin:
                self.assertEqual(p.stdout.count("Received: "), 40, p.stdout[-300:])

    # ---- the end ---------------------------------------------------------------------------

    def test_9_faults_were_injected_and_stop_is_clean(self):
        stats = read_stats(self.stats_path)
        print("seed %d rate %s%%: server calls %d, injected short %d, EINTR %d, EAGAIN %d, "
              "EMFILE %d" % (SEED, RATE, stats["calls"], stats["short"], stats["eintr"],
                             stats["eagain"], stats["emfile"]))
        for kind in ("short", "eintr", "eagain", "emfile"):
            self.assertGreater(stats[kind], 0, "no %s fault reached the server: the test "
                               "proved nothing" % kind)
        rc = self.proc.stop(signal.SIGTERM, timeout=15)
        self.assertEqual(rc, 0, "sockit serve exited %s on SIGTERM under faults; stderr=%r\n"
                         "reproduce: %s" % (rc, self.proc.errlines()[-20:], self.repro))


class AcceptExhaustion(unittest.TestCase):
    """accept(2) out of descriptors: no spinning, and service resumes."""

    RUN = 10

    def test_accept_pauses_then_serves(self):
        if not os.path.exists(SHIM):
            raise unittest.SkipTest("no fault shim at %s" % SHIM)
        fd, stats_path = tempfile.mkstemp(prefix="faultshim-emfile-")
        os.close(fd)
        base = sktest.free_port_base()
        # Every accept fails with EMFILE, RUN times in a row on a listener,
        # then one goes through.
        env = dict(os.environ, LD_PRELOAD=SHIM, SK_FAULT_SEED=str(SEED), SK_FAULT_RATE="100",
                   SK_FAULT_KINDS="emfile", SK_FAULT_MAX_RUN=str(self.RUN),
                   SK_FAULT_STATS=stats_path)
        repro = ("LD_PRELOAD=%s SK_FAULT_SEED=%d SK_FAULT_RATE=100 SK_FAULT_KINDS=emfile "
                 "SK_FAULT_MAX_RUN=%d %s serve --port-base %d --bind %s --threads 1 "
                 "--services daytime --no-udp" % (SHIM, SEED, self.RUN, sktest.SOCKIT, base, HOST))
        try:
            with sktest.Proc([sktest.SOCKIT, "serve", "--port-base", base, "--bind", HOST,
                              "--threads", 1, "--services", "daytime", "--no-udp"],
                             env=env) as p:
                p.wait_line("listening ", timeout=15)
                t0 = time.monotonic()
                with socket.create_connection((HOST, base + 13), timeout=30) as s:
                    data = sktest.recv_all(s, 30)
                took = time.monotonic() - t0
                self.assertRegex(data, DAYTIME)
                emfile = read_stats(stats_path)["emfile"]
                print("%d EMFILEs in a row, reply after %.2fs" % (emfile, took))
                self.assertGreaterEqual(emfile, self.RUN, repro)
                # Ten retries at once would take microseconds: the server must
                # pause (it waits 0.1 s) between tries on exhaustion.
                self.assertGreater(took, 0.05 * self.RUN,
                                   "accept retried EMFILE without pausing\nreproduce: " + repro)
                self.assertIsNone(p.p.poll(), "sockit serve died\nreproduce: " + repro)
                self.assertEqual(p.stop(), 0)
        finally:
            os.unlink(stats_path)


if __name__ == "__main__":
    sktest.main()
