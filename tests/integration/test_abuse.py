# SPDX-License-Identifier: MIT
"""`sockit serve` against abusive peers: thousands of idle connections, too
many connections per source and in total, clients that never read, a UDP
flood, peers that reset, half-close or vanish mid-transfer, and garbage to
every service.  The server must keep serving, lose no byte, and leave no
descriptor or memory behind.
"""

import os
import random
import selectors
import socket
import struct
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "soak"))
import sktest  # noqa: E402
from loadlib import (ChargenCheck, EchoStream, ServeProc, chargen_ok, fd_count,  # noqa: E402
                     raise_nofile, read_to_end, settle_fds, stable_fd_count, stalled_echo,
                     vm_rss_kib)

LINGER_RESET = struct.pack("ii", 1, 0)


def echo_round_trip(addr, source=None, payload=b"ping\r\n", timeout=5.0):
    """Connects (from `source` when given), echoes `payload`; returns the
    seconds the whole exchange took."""
    t0 = time.monotonic()
    s = socket.create_connection(addr, timeout=timeout,
                                 source_address=(source, 0) if source else None)
    try:
        s.sendall(payload)
        got = b""
        while len(got) < len(payload):
            b = s.recv(len(payload) - len(got))
            if not b:
                break
            got += b
    finally:
        s.close()
    took = time.monotonic() - t0
    if got != payload:
        raise AssertionError("echo returned %r for %r" % (got, payload))
    return took


def closed_by_peer(s, timeout):
    """Waits for the peer to end the connection; True on EOF or reset,
    False when it stays open for `timeout` seconds."""
    s.settimeout(timeout)
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return True
    except (ConnectionResetError, ConnectionAbortedError):
        return True
    except socket.timeout:
        return False


def tcp_buffer_max(name):
    """The kernel's largest automatic TCP buffer size (tcp_rmem or tcp_wmem)."""
    with open("/proc/sys/net/ipv4/" + name) as f:
        return int(f.read().split()[2])


def small_buffers(s, size=16384):
    """Small kernel buffers on a client socket, so a client that stops
    reading stalls its connection quickly (and cheaply for the machine)."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


class Slowloris(unittest.TestCase):
    """2,000 idle connections: a fresh client is still served at once, and
    the idle timeout reclaims every one of them."""

    HELD = 2000
    IDLE = 3.0
    SLACK = 2.0

    def test_idle_connections_are_harmless_and_reclaimed(self):
        if not raise_nofile(self.HELD + 200):
            self.skipTest("descriptor limit below %d" % (self.HELD + 200))
        with ServeProc(["--idle-timeout", self.IDLE, "--threads", "2"],
                       services=["echo", "discard"], udp=False) as srv:
            echo_round_trip(srv.addr("echo"))
            baseline = stable_fd_count(srv.pid)
            # Four source addresses, 500 each: below the default per-source
            # cap (1024), so every connection is admitted and held.
            sel = selectors.DefaultSelector()
            held = []
            # last_activity: when each connection last did something the
            # server could see (its connect, later a byte sent): the idle
            # clock cannot have started before it.
            last_activity = [0.0] * self.HELD
            for i in range(self.HELD):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                s.bind(("127.0.0.%d" % (10 + i % 4), 0))
                last_activity[i] = time.monotonic()
                s.connect_ex(srv.addr("echo" if i % 2 else "discard"))
                held.append(s)
                self.addCleanup(s.close)
                sel.register(s, selectors.EVENT_WRITE, i)
            pending = self.HELD
            deadline = time.monotonic() + 30
            while pending and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=0.5):
                    i = key.data
                    err = key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    self.assertEqual(err, 0, "connection %d failed: %s" % (i, os.strerror(err)))
                    sel.unregister(key.fileobj)
                    pending -= 1
            self.assertEqual(pending, 0, "connections still not established")
            established = time.monotonic()
            # The server has accepted them all (not just the kernel).
            deadline = time.monotonic() + 10
            while fd_count(srv.pid) < baseline + self.HELD and time.monotonic() < deadline:
                time.sleep(0.02)
            accepted = time.monotonic()
            self.assertGreaterEqual(fd_count(srv.pid), baseline + self.HELD,
                                    "the server did not accept every connection: %d "
                                    "descriptors, %d at the start; connecting took %.2fs, "
                                    "waited %.2fs more" % (fd_count(srv.pid), baseline,
                                                           established - last_activity[0],
                                                           accepted - established))
            # A slowloris sends half a request and stops: one byte on half
            # of them (discard reads it and waits for more).
            for i in range(0, self.HELD, 2):
                last_activity[i] = time.monotonic()
                held[i].send(b"G")

            times = []
            for _ in range(3):
                times.append(echo_round_trip(srv.addr("echo"), source="127.0.0.1"))
                if times[-1] < 0.1:
                    break
                time.sleep(0.05)
            # The measurement ran while all 2,000 were still open.
            for s in held:
                sel.register(s, selectors.EVENT_READ)
            early = sel.select(timeout=0)
            self.assertEqual(len(early), 0, "%d idle connections closed before the fresh "
                             "client was measured (idle timeout %.1fs)" % (len(early), self.IDLE))
            self.assertLess(min(times), 0.1, "fresh client's connect+echo took %s s with %d "
                            "idle connections" % (["%.3f" % t for t in times], self.HELD))

            # The idle timeout reclaims every connection.
            closed_after = {}
            index = {s: i for i, s in enumerate(held)}
            deadline = time.monotonic() + self.IDLE + self.SLACK + 5
            while len(closed_after) < self.HELD and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=0.5):
                    s = key.fileobj
                    i = index[s]
                    try:
                        b = s.recv(4096)
                    except (ConnectionResetError, ConnectionAbortedError):
                        b = b""
                    if b:
                        continue
                    closed_after[i] = time.monotonic() - last_activity[i]
                    sel.unregister(s)
            sel.close()
            for s in held:
                s.close()
            self.assertEqual(len(closed_after), self.HELD,
                             "%d idle connections never closed" % (self.HELD - len(closed_after)))
            late = max(closed_after.values())
            early = min(closed_after.values())
            print("\nslowloris: fresh client %s s; idle closes after %.2f .. %.2f s"
                  % (["%.4f" % t for t in times], early, late))
            self.assertLessEqual(late, self.IDLE + self.SLACK,
                                 "an idle connection lasted %.2fs (timeout %.1fs)" % (late, self.IDLE))
            # "Idle this long": none may go before the timeout (50 ms of
            # clock granularity aside), counted from the client's last act.
            self.assertGreaterEqual(early, self.IDLE - 0.05,
                                    "an idle connection was closed after %.2fs" % early)
            n = settle_fds(srv.pid, baseline, 10)
            self.assertEqual(n, baseline, "server descriptors %d, baseline %d" % (n, baseline))
            echo_round_trip(srv.addr("echo"))
            self.assertEqual(srv.stop(), 0, srv.errlines())


class ConnectionLimits(unittest.TestCase):

    def assert_refused(self, s, what):
        """The server closes a refused connection promptly (EOF or reset)."""
        t0 = time.monotonic()
        self.assertTrue(closed_by_peer(s, 2.0), "%s was not closed by the server" % what)
        took = time.monotonic() - t0
        self.assertLess(took, 1.0, "%s closed only after %.2fs" % (what, took))

    def open_echo(self, srv, source):
        s = socket.create_connection(srv.addr("echo"), timeout=5, source_address=(source, 0))
        return s

    def assert_echoes(self, s, msg):
        s.settimeout(5)
        s.sendall(msg)
        got = b""
        while len(got) < len(msg):
            b = s.recv(4096)
            self.assertTrue(b, "connection closed while echoing %r" % msg)
            got += b
        self.assertEqual(got, msg)

    def wait_admitted(self, srv, source, deadline=5.0):
        """A new connection from `source`, retried until the server admits
        it (a close is released by the server shortly after the client's)."""
        end = time.monotonic() + deadline
        while True:
            s = self.open_echo(srv, source)
            try:
                self.assert_echoes(s, b"again\n")
                return s
            except (AssertionError, OSError):
                s.close()
                if time.monotonic() > end:
                    raise
                time.sleep(0.05)

    def test_max_per_source(self):
        cap = 5
        with ServeProc(["--max-per-source", cap, "--threads", "2", "-v"],
                       services=["echo"], udp=False) as srv:
            baseline = fd_count(srv.pid)
            first = [self.open_echo(srv, "127.0.0.1") for _ in range(cap)]
            for i, s in enumerate(first):
                self.assert_echoes(s, b"first %d\n" % i)
            for i in range(3):
                extra = self.open_echo(srv, "127.0.0.1")
                self.assert_refused(extra, "connection %d beyond the per-source cap" % (cap + i + 1))
                extra.close()
            # The first ones are untouched.
            for i, s in enumerate(first):
                self.assert_echoes(s, b"still %d\n" % i)
            # Another source address is served, up to its own cap.
            other = [self.open_echo(srv, "127.0.0.2") for _ in range(cap)]
            for i, s in enumerate(other):
                self.assert_echoes(s, b"other %d\n" % i)
            # A freed slot is usable again.
            first.pop().close()
            first.append(self.wait_admitted(srv, "127.0.0.1"))
            extra = self.open_echo(srv, "127.0.0.1")
            self.assert_refused(extra, "connection beyond the cap after a reuse")
            extra.close()
            srv.wait_line("event=refuse peer=127.0.0.1:", stream="err")
            for s in first + other:
                s.close()
            n = settle_fds(srv.pid, baseline)
            self.assertEqual(n, baseline)
            self.assertEqual(srv.stop(), 0, srv.errlines())

    def test_max_conns(self):
        cap = 8
        with ServeProc(["--max-conns", cap, "--max-per-source", 0, "--threads", "2", "-v"],
                       services=["echo"], udp=False) as srv:
            baseline = fd_count(srv.pid)
            held = [self.open_echo(srv, "127.0.0.%d" % (1 + i % 3)) for i in range(cap)]
            for i, s in enumerate(held):
                self.assert_echoes(s, b"held %d\n" % i)
            for i in range(4):
                extra = self.open_echo(srv, "127.0.0.%d" % (4 + i))
                self.assert_refused(extra, "connection %d beyond --max-conns" % (cap + i + 1))
                extra.close()
            for i, s in enumerate(held):
                self.assert_echoes(s, b"still %d\n" % i)
            # Service resumes as connections close: three freed, three admitted...
            for _ in range(3):
                held.pop(0).close()
            for i in range(3):
                held.append(self.wait_admitted(srv, "127.0.0.%d" % (7 + i)))
            # ...and the cap holds again after that.
            extra = self.open_echo(srv, "127.0.0.10")
            self.assert_refused(extra, "connection beyond --max-conns after resuming")
            extra.close()
            for s in held:
                s.close()
            self.assertEqual(settle_fds(srv.pid, baseline), baseline)
            echo_round_trip(srv.addr("echo"))
            self.assertEqual(srv.stop(), 0, srv.errlines())


class NonReaders(unittest.TestCase):
    """Clients that never read what the server sends them cost the server
    at most its per-connection buffers.

    The bound asserted: the framework's per-connection buffer (conn_buffer,
    64 KiB by default; sockit serve keeps the default) holds at most 64 KiB
    of queued output and 64 KiB of unconsumed input, so one connection may
    pin 128 KiB of heap plus its small bookkeeping.  100 clients may thus
    grow the server by 100 x 128 KiB = 12.5 MiB, plus 8 MiB of slack for the
    allocator's arenas and page granularity.  Without flow control (reading
    on while the output backs up) an echo pusher alone would add megabytes
    per second.
    """

    CLIENTS = 50
    PER_CONN_KIB = 128
    SLACK_KIB = 8 * 1024

    def warm_up(self, srv):
        rng = random.Random(1)
        for _ in range(5):
            s = socket.create_connection(srv.addr("echo"), timeout=5)
            st = EchoStream(rng)
            total = 256 * 1024
            s.setblocking(False)
            sel = selectors.DefaultSelector()
            sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
            deadline = time.monotonic() + 20
            while st.received < total and time.monotonic() < deadline:
                for _, ev in sel.select(0.5):
                    if ev & selectors.EVENT_WRITE and st.sent < total:
                        try:
                            st.sent_n(s.send(st.chunk(min(65536, total - st.sent))))
                        except BlockingIOError:
                            pass
                    if ev & selectors.EVENT_READ:
                        try:
                            st.feed(s.recv(65536))
                        except BlockingIOError:
                            pass
            sel.close()
            s.close()
            self.assertFalse(st.bad)
            self.assertEqual(st.received, total)
            with socket.create_connection(srv.addr("chargen"), timeout=5) as c:
                chk = ChargenCheck()
                while chk.offset < 256 * 1024:
                    chk.feed(c.recv(65536))
                self.assertFalse(chk.bad)

    def test_never_reading_clients_stay_within_the_buffer_bound(self):
        with ServeProc(["--threads", "2"], services=["echo", "chargen"], udp=False) as srv:
            self.warm_up(srv)
            baseline_fds = stable_fd_count(srv.pid)
            before = vm_rss_kib(srv.pid)
            chargen = []
            for _ in range(self.CLIENTS):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                small_buffers(s)
                s.settimeout(5)
                s.connect(srv.addr("chargen"))
                chargen.append(s)
            pushers = []
            for _ in range(self.CLIENTS):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                small_buffers(s)
                s.settimeout(5)
                s.connect(srv.addr("echo"))
                s.setblocking(False)
                pushers.append(s)
            payload = os.urandom(65536)
            sent = [0] * len(pushers)
            last_progress = time.monotonic()
            deadline = time.monotonic() + 40
            # Push until no pusher has made progress for a second.
            while time.monotonic() - last_progress < 1.0 and time.monotonic() < deadline:
                moved = False
                for i, s in enumerate(pushers):
                    try:
                        n = s.send(payload)
                        sent[i] += n
                        moved = moved or n > 0
                    except BlockingIOError:
                        pass
                if moved:
                    last_progress = time.monotonic()
                else:
                    time.sleep(0.02)
            self.assertLess(time.monotonic(), deadline, "the echo pushers were never stopped")
            time.sleep(1.0)
            peak = before
            for _ in range(5):
                peak = max(peak, vm_rss_kib(srv.pid))
                time.sleep(0.2)
            growth = peak - before
            print("\nnon-readers: VmRSS %d -> %d KiB, echo pushers sent at most %d bytes"
                  % (before, peak, max(sent)))
            bound = 2 * self.CLIENTS * self.PER_CONN_KIB + self.SLACK_KIB
            # Flow control stopped each pusher once the kernel's buffers
            # (the server socket's receive and send buffers, which the
            # kernel sizes up to tcp_rmem/tcp_wmem's maximum, and ours)
            # and the server's own two 64 KiB were full.
            kernel = tcp_buffer_max("tcp_rmem") + tcp_buffer_max("tcp_wmem") + 4 * 16384 * 2
            self.assertLess(max(sent), kernel + 2 * 65536 + 65536,
                            "an echo pusher sent %d bytes unread" % max(sent))
            if sktest.memory_is_measurable():
                self.assertLess(growth, bound, "VmRSS %d -> %d KiB (+%d KiB, bound %d KiB) with %d "
                                "non-reading chargen and %d non-reading echo clients"
                                % (before, peak, growth, bound, self.CLIENTS, self.CLIENTS))
            # The server still serves others meanwhile.
            echo_round_trip(srv.addr("echo"))
            for s in chargen + pushers:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
                s.close()
            self.assertEqual(settle_fds(srv.pid, baseline_fds), baseline_fds)
            self.assertEqual(srv.stop(), 0, srv.errlines())


class StalledPeersAndDescriptors(unittest.TestCase):

    def test_idle_timeout_reclaims_stalled_non_readers(self):
        """A peer that stops reading stalls its connection: no byte moves
        either way, which is idleness too, so the idle timeout frees the
        buffers it pins."""
        idle = 2.0
        with ServeProc(["--idle-timeout", idle, "--threads", "2"],
                       services=["echo", "chargen"], udp=False) as srv:
            echo_round_trip(srv.addr("echo"))
            baseline = stable_fd_count(srv.pid)
            chargen = []
            for _ in range(5):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                small_buffers(s)
                s.connect(srv.addr("chargen"))
                chargen.append(s)
            pushers = [stalled_echo(srv.addr("echo"))[0] for _ in range(5)]
            stalled_at = time.monotonic()
            for s in chargen + pushers:
                self.addCleanup(s.close)
            # Reading now would be progress: wait until the server must
            # have given up, then look for the end of stream.
            deadline = stalled_at + idle + 3.0
            while fd_count(srv.pid) > baseline and time.monotonic() < deadline:
                time.sleep(0.05)
            took = time.monotonic() - stalled_at
            self.assertEqual(fd_count(srv.pid), baseline,
                             "stalled connections still open %.1fs after they stalled "
                             "(idle timeout %.1fs)" % (took, idle))
            for s in chargen + pushers:
                self.assertTrue(closed_by_peer(s, 5.0))
            echo_round_trip(srv.addr("echo"))
            self.assertEqual(srv.stop(), 0, srv.errlines())

    def test_out_of_descriptors_does_not_spin_and_recovers(self):
        """With --max-conns 0 and a descriptor limit of 64, clients use up
        the server's descriptors: accept fails with EMFILE.  The server
        must not spin on the pending connections, and must serve them once
        descriptors are free again."""
        limit = 64
        base = sktest.free_port_base()
        code = ("import os, resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, "
                "(%d, %d)); os.execv(sys.argv[1], sys.argv[1:])" % (limit, limit))
        argv = [sys.executable, "-c", code, sktest.SOCKIT, "serve", "--port-base", base,
                "--bind", "127.0.0.1", "--services", "echo", "--no-udp", "--threads", "1",
                "--max-conns", "0", "--max-per-source", "0"]
        srv = sktest.Proc(argv)
        self.addCleanup(srv.stop)
        srv.wait_line("listening service=echo")
        pid = srv.p.pid
        addr = ("127.0.0.1", base + 7)
        held = []
        for i in range(limit + 20):
            s = socket.create_connection(addr, timeout=5)
            self.addCleanup(s.close)
            held.append(s)
        time.sleep(0.5)
        self.assertGreaterEqual(fd_count(pid), limit - 1, "the descriptors did not run out")

        def cpu_seconds():
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        c0, t0 = cpu_seconds(), time.monotonic()
        time.sleep(2.0)
        used = (cpu_seconds() - c0) / (time.monotonic() - t0)
        self.assertLess(used, 0.2, "the server used %.0f%% of a CPU while out of "
                        "descriptors" % (used * 100))
        self.assertTrue(srv.p.poll() is None, "the server died out of descriptors")
        # Free most descriptors: every connection still open is served,
        # the ones that waited in the backlog included, and a new one too.
        for s in held[:40]:
            s.close()
        for i, s in enumerate(held[40:]):
            s.settimeout(10)
            msg = b"waited %d\n" % i
            try:
                s.sendall(msg)
                got = s.recv(100)
            except OSError as e:
                got = repr(e).encode()
            if got != msg:
                # Not served: acceptable only as a clean refusal (closed).
                self.assertEqual(got, b"", "connection %d got %r" % (40 + i, got))
        echo_round_trip(addr, timeout=10)
        self.assertEqual(srv.stop(), 0, srv.errlines())
        # The path under test was taken: accept did fail for want of
        # descriptors.
        stop = srv.wait_line("event=stop", stream="err")
        fields = dict(f.split("=", 1) for f in stop.split() if "=" in f)
        self.assertGreater(int(fields["accept_errors"]), 0, stop)


class UdpFlood(unittest.TestCase):

    RATE = 50  # --udp-limit: replies per second per source, bursts of 2x

    def test_flood_from_one_source_is_limited_while_another_is_served(self):
        with ServeProc(["--udp-limit", self.RATE, "--threads", "2"],
                       services=["echo", "time"], tcp=False) as srv:
            flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            flood.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            flood.bind(("127.0.0.20", 0))
            flood.setblocking(False)
            served = {"asked": 0, "answered": 0, "first_try": 0}
            stop = threading.Event()

            def other_source():
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.bind(("127.0.0.21", 0))
                    s.settimeout(0.5)
                    n = 0
                    while not stop.is_set() and n < 20:
                        msg = b"request %d" % n
                        served["asked"] += 1
                        for attempt in range(3):
                            s.sendto(msg, srv.addr("echo"))
                            try:
                                while True:
                                    got = s.recv(2048)
                                    if got == msg:
                                        break
                            except socket.timeout:
                                continue
                            served["answered"] += 1
                            served["first_try"] += attempt == 0
                            break
                        n += 1
                        time.sleep(0.1)

            t = threading.Thread(target=other_source)
            t0 = time.monotonic()
            t.start()
            sent = replies = 0
            msg = b"flood" * 6
            while time.monotonic() - t0 < 2.5 and sent < 20000:
                try:
                    flood.sendto(msg, srv.addr("echo"))
                    sent += 1
                except BlockingIOError:
                    time.sleep(0.001)
                if sent % 64 == 0:
                    try:
                        while True:
                            if flood.recv(2048) == msg:
                                replies += 1
                    except BlockingIOError:
                        pass
            t.join(30)
            stop.set()
            time.sleep(0.5)
            try:
                while True:
                    if flood.recv(2048) == msg:
                        replies += 1
            except BlockingIOError:
                pass
            elapsed = time.monotonic() - t0
            flood.close()
            print("\nflood: %d datagrams, %d replies in %.1fs; other source %r"
                  % (sent, replies, elapsed, served))
            self.assertGreater(sent, 1000, "the flood was too slow to mean anything")
            self.assertGreater(replies, 0, "the flooder got no reply at all")
            limit = 2 * self.RATE + self.RATE * elapsed + 10
            self.assertLessEqual(replies, limit, "flooder: %d replies to %d datagrams in %.1fs"
                                 % (replies, sent, elapsed))
            self.assertEqual(served["answered"], served["asked"],
                             "the other source was not served: %r" % served)
            self.assertGreater(served["asked"], 10)
            self.assertTrue(srv.alive())
            self.assertEqual(srv.stop(), 0, srv.errlines())


class UdpManySources(unittest.TestCase):

    def test_many_source_addresses_keep_memory_bounded(self):
        """20,000 different source addresses (127.1.0.0/16) each send a few
        datagrams: the per-source rate-limit state is bounded, so the
        server's memory hardly moves, and a known client is still served."""
        with ServeProc(["--threads", "2"], services=["time"], tcp=False) as srv:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.settimeout(2)
                u.sendto(b"", srv.addr("time"))
                self.assertEqual(len(u.recv(100)), 4)
            time.sleep(0.2)
            before = vm_rss_kib(srv.pid)
            t0 = time.monotonic()
            n = 0
            for i in range(20000):
                if time.monotonic() - t0 > 60:
                    break
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.bind(("127.1.%d.%d" % (i // 250, 1 + i % 250), 0))
                    for _ in range(3):
                        s.sendto(b"", srv.addr("time"))
                n += 1
                if i % 500 == 0:
                    time.sleep(0.01)
            time.sleep(0.5)
            after = vm_rss_kib(srv.pid)
            print("\nmany sources: %d addresses, VmRSS %d -> %d KiB" % (n, before, after))
            self.assertGreater(n, 5000)
            if sktest.memory_is_measurable():
                self.assertLess(after - before, 4096, "VmRSS %d -> %d KiB after %d sources"
                                % (before, after, n))
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind(("127.0.0.30", 0))
                u.settimeout(2)
                u.sendto(b"", srv.addr("time"))
                self.assertEqual(len(u.recv(100)), 4)
            self.assertEqual(srv.stop(), 0, srv.errlines())


class MisbehavingPeers(unittest.TestCase):
    """Peers that reset mid-transfer, half-close mid-echo or vanish leave no
    descriptor or memory behind, and half-closing peers get every byte."""

    def reset_and_vanish_round(self, srv, rng):
        victims = []
        for i in range(10):
            # Echo: push data (some echoed back, unread), then go away.
            s = socket.create_connection(srv.addr("echo"), timeout=5)
            small_buffers(s)
            s.setblocking(False)
            try:
                for _ in range(8):
                    s.send(os.urandom(rng.randrange(1, 32768)))
            except BlockingIOError:
                pass
            victims.append(s)
            # Chargen: read a little, then go away while it is writing.
            c = socket.create_connection(srv.addr("chargen"), timeout=5)
            c.recv(rng.randrange(1, 8192))
            victims.append(c)
            # Discard: a partial upload.
            d = socket.create_connection(srv.addr("discard"), timeout=5)
            d.sendall(os.urandom(rng.randrange(1, 65536)))
            victims.append(d)
        time.sleep(0.05)
        for i, s in enumerate(victims):
            if i % 2 == 0:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
            s.close()  # odd ones vanish: a plain close without reading

    def half_close_round(self, srv, rng, count=20):
        """Echo clients send a random amount, shut down their sending side
        part-way through the echo, and must then receive every byte."""
        sel = selectors.DefaultSelector()
        clients = []
        for _ in range(count):
            s = socket.create_connection(srv.addr("echo"), timeout=5)
            s.setblocking(False)
            st = EchoStream(rng)
            st.total = rng.randrange(1, 768 * 1024)
            st.eof = False
            st.shut = False
            clients.append((s, st))
            sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, st)
        open_ = count
        deadline = time.monotonic() + 30
        while open_ and time.monotonic() < deadline:
            for key, ev in sel.select(0.5):
                s, st = key.fileobj, key.data
                if ev & selectors.EVENT_WRITE and not st.shut:
                    try:
                        st.sent_n(s.send(st.chunk(min(65536, st.total - st.sent))))
                    except BlockingIOError:
                        pass
                    if st.sent >= st.total:
                        s.shutdown(socket.SHUT_WR)
                        st.shut = True
                        sel.modify(s, selectors.EVENT_READ, st)
                if ev & selectors.EVENT_READ:
                    try:
                        b = s.recv(65536)
                    except BlockingIOError:
                        continue
                    if b:
                        st.feed(b)
                    else:
                        st.eof = True
                        sel.unregister(s)
                        open_ -= 1
        sel.close()
        for s, st in clients:
            s.close()
        self.assertEqual(open_, 0, "half-closed echo clients still waiting for EOF")
        for s, st in clients:
            self.assertFalse(st.bad, "wrong bytes echoed")
            self.assertTrue(st.shut)
            self.assertEqual(st.received, st.total, "half-closed client got %d of %d bytes"
                             % (st.received, st.total))

    def stalled_half_close_round(self, srv, count=4):
        """Echo clients that send until flow control stops them without
        reading (the server then holds queued output and input it has read
        but not yet echoed), then shut down their sending side and read:
        every byte comes back."""
        for _ in range(count):
            s, data = stalled_echo(srv.addr("echo"))
            s.shutdown(socket.SHUT_WR)
            got, err = read_to_end(s)
            s.close()
            self.assertIsNone(err, "after %d of %d bytes" % (len(got), len(data)))
            self.assertEqual(len(got), len(data))
            self.assertEqual(got, data)

    def test_resets_half_closes_and_vanishing_peers_leak_nothing(self):
        with ServeProc(["--threads", "2"], services=["echo", "chargen", "discard"],
                       udp=False) as srv:
            rng = random.Random(7)
            # Warm-up: the allocator's caches grow to their working size.
            self.reset_and_vanish_round(srv, rng)
            self.half_close_round(srv, rng)
            self.stalled_half_close_round(srv)
            echo_round_trip(srv.addr("echo"))
            base_fds = stable_fd_count(srv.pid)
            base_rss = vm_rss_kib(srv.pid)
            for _ in range(3):
                self.reset_and_vanish_round(srv, rng)
                self.half_close_round(srv, rng)
                self.stalled_half_close_round(srv)
            echo_round_trip(srv.addr("echo"))
            n = settle_fds(srv.pid, base_fds, 10)
            time.sleep(0.5)
            rss = vm_rss_kib(srv.pid)
            print("\nmisbehaving peers: fds %d -> %d, VmRSS %d -> %d KiB"
                  % (base_fds, n, base_rss, rss))
            self.assertEqual(n, base_fds, "descriptors %d after, %d before" % (n, base_fds))
            # Every connection's buffers are freed: what remains is the
            # allocator's caching, well under one MiB after the warm-up.
            if sktest.memory_is_measurable():
                self.assertLess(rss - base_rss, 1024, "VmRSS %d -> %d KiB" % (base_rss, rss))
            self.assertEqual(srv.stop(), 0, srv.errlines())


def chargen_line_ok(data):
    """True when `data` is a piece of the chargen pattern starting at the
    beginning of one of its lines (what a UDP chargen reply holds)."""
    return any(chargen_ok(line * 74, data) for line in range(95))


class Garbage(unittest.TestCase):
    """Random bytes to every TCP and UDP service, empty and maximum-size
    datagrams: the replies stay within their bounds and the server keeps
    serving."""

    @classmethod
    def setUpClass(cls):
        cls.srv = ServeProc(["--udp-limit", "0", "--threads", "2"])

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        assert rc == 0, (rc, cls.srv.errlines())

    def check_still_serving(self):
        srv = self.srv
        self.assertTrue(srv.alive())
        echo_round_trip(srv.addr("echo"))
        with socket.create_connection(srv.addr("time"), timeout=5) as s:
            self.assertEqual(len(sktest.recv_all(s)), 4)
        with socket.create_connection(srv.addr("daytime"), timeout=5) as s:
            self.assertTrue(sktest.recv_all(s).endswith(b"\r\n"))
        with socket.create_connection(srv.addr("qotd"), timeout=5) as s:
            self.assertTrue(sktest.recv_all(s).endswith(b"\r\n"))
        with socket.create_connection(srv.addr("chargen"), timeout=5) as s:
            data = s.recv(1000)
            self.assertTrue(data and chargen_ok(0, data))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(2)
            for svc in ("echo", "time", "daytime", "qotd", "chargen"):
                u.sendto(b"x", srv.addr(svc))
                self.assertTrue(len(u.recv(70000)) > 0 or svc == "chargen", svc)

    def test_tcp_garbage(self):
        rng = random.Random(11)
        for svc in ("echo", "discard", "chargen", "daytime", "qotd", "time"):
            for _ in range(5):
                junk = rng.randbytes(rng.randrange(1, 65536))
                s = socket.create_connection(self.srv.addr(svc), timeout=5)
                try:
                    if svc == "echo":
                        s.settimeout(10)
                        got = bytearray()
                        out = 0
                        s.setblocking(False)
                        deadline = time.monotonic() + 10
                        while len(got) < len(junk) and time.monotonic() < deadline:
                            if out < len(junk):
                                try:
                                    out += s.send(junk[out:out + 16384])
                                except BlockingIOError:
                                    pass
                            try:
                                got += s.recv(65536)
                            except BlockingIOError:
                                time.sleep(0.001)
                        self.assertEqual(bytes(got), junk)
                    else:
                        try:
                            s.sendall(junk)
                            if svc == "chargen":
                                s.settimeout(5)
                                data = s.recv(4096)
                                self.assertTrue(chargen_ok(0, data))
                            elif svc in ("time", "daytime", "qotd"):
                                data = sktest.recv_all(s)
                                self.assertLessEqual(len(data), 512)
                        except (ConnectionResetError, BrokenPipeError):
                            # A one-shot service closes after its reply; the
                            # unread garbage makes our kernel see a reset.
                            pass
                finally:
                    s.close()
        self.check_still_serving()

    def test_udp_garbage(self):
        rng = random.Random(13)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            u.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
            u.settimeout(1.0)
            for svc in ("echo", "discard", "chargen", "daytime", "qotd", "time"):
                payloads = [b"", rng.randbytes(65507)] + \
                    [rng.randbytes(rng.randrange(1, 2048)) for _ in range(20)]
                replies = 0
                for p in payloads:
                    u.sendto(p, self.srv.addr(svc))
                    try:
                        r, src = u.recvfrom(70000)
                    except socket.timeout:
                        if svc in ("echo", "time", "daytime", "qotd") and p:
                            self.fail("%s gave no reply to a %d-byte datagram" % (svc, len(p)))
                        continue
                    replies += 1
                    self.assertEqual(src, self.srv.addr(svc))
                    if svc == "discard":
                        self.fail("discard replied %r" % r[:40])
                    elif svc == "echo":
                        self.assertLessEqual(len(r), len(p))
                        self.assertEqual(r, p[:len(r)], "echo reply is not the request")
                    elif svc == "time":
                        self.assertEqual(len(r), 4)
                    else:
                        self.assertLessEqual(len(r), 512, svc)
                        if svc == "chargen":
                            self.assertTrue(chargen_line_ok(r), r[:80])
                        else:
                            self.assertTrue(r.endswith(b"\r\n"), r)
                if svc != "discard":
                    self.assertGreater(replies, len(payloads) // 2, svc)
        self.check_still_serving()


if __name__ == "__main__":
    sktest.main()
