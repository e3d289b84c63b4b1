# SPDX-License-Identifier: MIT
"""`sockit serve` under hostile or heavy peers: UDP datagrams from service
and privileged ports, UDP floods, an echo client that never reads, a
thousand concurrent clients, SIGTERM in the middle of transfers.
"""

import os
import resource
import selectors
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "soak"))
import sktest  # noqa: E402
from loadlib import stalled_echo  # noqa: E402
from test_serve import start_serve, udp_ask  # noqa: E402


def udp_from(src, dst, payload, timeout=1.0):
    """Sends from a socket bound to `src`; returns the reply or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(src)
        s.settimeout(timeout)
        s.sendto(payload, dst)
        try:
            return s.recvfrom(70000)[0]
        except socket.timeout:
            return None


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


class UdpRules(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.base = sktest.free_port_base()
        # The default per-source limit (20/s, bursts of 40) is in force here.
        cls.proc = start_serve(["--port-base", cls.base, "--bind", "127.0.0.1",
                                "--threads", "1"], 12)

    @classmethod
    def tearDownClass(cls):
        assert cls.proc.stop() == 0, cls.proc.errlines()

    def test_privileged_and_service_source_ports_get_no_reply(self):
        if os.geteuid() != 0:
            self.skipTest("binding source ports below 1024 needs root")
        echo = ("127.0.0.1", self.base + 7)
        # The loop partners of old: echo <-> chargen, and anything below 1024.
        for src in [("127.0.0.4", 7), ("127.0.0.4", 19), ("127.0.0.4", 1000),
                    ("127.0.0.4", 53), ("127.0.0.4", self.base + 19),
                    ("127.0.0.4", self.base + 7)]:
            with self.subTest(src=src):
                self.assertIsNone(udp_from(src, echo, b"ping", timeout=0.5))
                self.assertIsNone(udp_from(src, ("127.0.0.1", self.base + 37), b"", timeout=0.3))
        # The same address from an ordinary port is answered.
        self.assertEqual(udp_from(("127.0.0.4", 0), echo, b"ping"), b"ping")
        self.proc.wait_line("event=udp_drop reason=private_port from=127.0.0.4:", stream="err")
        self.proc.wait_line("event=udp_drop reason=service_port from=127.0.0.4:", stream="err")

    def test_ports_chosen_by_the_system_are_refused_as_sources(self):
        with start_serve(["--bind", "127.0.0.1", "--services", "echo,chargen", "--no-tcp",
                          "--port", "echo=0", "--port", "chargen=0"], 2) as p:
            ports = {}
            for l in p.lines():
                if l.startswith("listening"):
                    f = dict(w.split("=", 1) for w in l.split()[1:])
                    ports[f["service"]] = int(f["addr"].rsplit(":", 1)[1])
            echo = ("127.0.0.1", ports["echo"])
            # chargen's port talking to echo is the classic loop: refused.
            self.assertIsNone(udp_from(("127.0.0.7", ports["chargen"]), echo, b"x", timeout=0.5))
            self.assertEqual(udp_from(("127.0.0.7", 0), echo, b"x"), b"x")
            p.wait_line("event=udp_drop reason=service_port from=127.0.0.7:%d" % ports["chargen"],
                        stream="err")
            self.assertEqual(p.stop(), 0)

    def test_flood_is_limited_per_source(self):
        dst = ("127.0.0.1", self.base + 37)
        flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        flood.bind(("127.0.0.5", 0))
        flood.setblocking(False)
        replies = 0
        t0 = time.monotonic()
        for i in range(2000):
            try:
                flood.sendto(b"", dst)
            except BlockingIOError:
                time.sleep(0.001)
            if i % 100 == 99:
                # Meanwhile another sender is still served.
                self.assertIsNotNone(udp_from(("127.0.0.6", 0), dst, b"", timeout=2))
        time.sleep(0.5)
        while True:
            try:
                flood.recv(100)
                replies += 1
            except BlockingIOError:
                break
        elapsed = time.monotonic() - t0
        flood.close()
        # A bucket of 40 plus 20 per second, and some slack.
        self.assertGreater(replies, 0)
        self.assertLessEqual(replies, 40 + 20 * elapsed + 5, "elapsed %.2fs" % elapsed)
        self.proc.wait_line("event=udp_drop reason=rate_source from=127.0.0.5:", stream="err")
        # Drop lines are rate-limited: far fewer lines than drops.
        lines = [l for l in self.proc.errlines() if "reason=rate_source" in l]
        self.assertLessEqual(len(lines), elapsed + 3)


class EchoBackpressure(unittest.TestCase):

    def test_client_that_never_reads_does_not_grow_memory(self):
        base = sktest.free_port_base()
        with start_serve(["--port-base", base, "--bind", "127.0.0.1", "--services", "echo",
                          "--no-udp", "--threads", "1"], 1) as p:
            pid = p.p.pid
            with socket.create_connection(("127.0.0.1", base + 7), timeout=5) as warm:
                warm.sendall(b"warm up")
                self.assertEqual(warm.recv(100), b"warm up")
            before = vm_rss_kib(pid)
            chunk = bytes(range(256)) * 256  # 64 KiB
            s = socket.create_connection(("127.0.0.1", base + 7), timeout=5)
            s.setblocking(False)
            sent = 0
            stalled_since = None
            deadline = time.monotonic() + 60
            while sent < 50 << 20 and time.monotonic() < deadline:
                try:
                    sent += s.send(chunk[sent % len(chunk):] + chunk[:sent % len(chunk)])
                    stalled_since = None
                except BlockingIOError:
                    stalled_since = stalled_since or time.monotonic()
                    if time.monotonic() - stalled_since > 2.0:
                        break
                    time.sleep(0.01)
            after = vm_rss_kib(pid)
            # Flow control stopped the sender long before 50 MB...
            self.assertLess(sent, 50 << 20, "the server kept reading")
            # ...and the server's memory did not grow with it.
            if sktest.memory_is_measurable():
                self.assertLess(after - before, 16 * 1024,
                                "VmRSS %d -> %d KiB" % (before, after))
            # Everything sent comes back intact once the client reads.
            s.setblocking(True)
            s.settimeout(10)
            s.shutdown(socket.SHUT_WR)
            got = sktest.recv_all(s, 10)
            s.close()
            self.assertEqual(len(got), sent)
            self.assertEqual(got, (chunk * (sent // len(chunk) + 1))[:sent])
            self.assertEqual(p.stop(), 0)


class ManyClients(unittest.TestCase):

    def test_thousand_concurrent_clients(self):
        n = 1000
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < n + 100:
            self.skipTest("descriptor limit %d too low for %d clients" % (hard, n))
        if soft < n + 100:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        base = sktest.free_port_base()
        with start_serve(["--port-base", base, "--bind", "127.0.0.1", "--services",
                          "echo,time", "--no-udp"], 2) as p:
            sel = selectors.DefaultSelector()
            socks = []
            for i in range(n):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", base + (7 if i % 2 == 0 else 37)))
                msg = (b"client %04d " % i) * 10 if i % 2 == 0 else b""
                state = {"i": i, "out": msg, "want": msg, "got": b"", "done": False}
                socks.append((s, state))
                sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, state)
            # All connections are open at once before any finishes its exchange.
            pending = n
            deadline = time.monotonic() + 60
            while pending and time.monotonic() < deadline:
                for key, ev in sel.select(timeout=1):
                    s, st = key.fileobj, key.data
                    if ev & selectors.EVENT_WRITE:
                        if st["out"]:
                            try:
                                st["out"] = st["out"][s.send(st["out"]):]
                            except BlockingIOError:
                                pass
                        if not st["out"]:
                            sel.modify(s, selectors.EVENT_READ, st)
                    if ev & selectors.EVENT_READ:
                        try:
                            b = s.recv(4096)
                        except BlockingIOError:
                            continue
                        st["got"] += b
                        even = st["i"] % 2 == 0
                        if (even and len(st["got"]) >= len(st["want"])) or (not even and not b):
                            st["done"] = True
                            sel.unregister(s)
                            pending -= 1
                        elif not b:
                            st["done"] = True
                            sel.unregister(s)
                            pending -= 1
            sel.close()
            bad = []
            for s, st in socks:
                s.close()
                if st["i"] % 2 == 0:
                    ok = st["got"] == st["want"]
                else:
                    ok = len(st["got"]) == 4
                if not ok:
                    bad.append((st["i"], st["got"][:40]))
            self.assertEqual(pending, 0, "clients still waiting")
            self.assertEqual(bad, [])
            self.assertEqual(p.stop(), 0)


def cpu_ticks(pid):
    """User + system CPU time of a process, in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


class DescriptorExhaustion(unittest.TestCase):

    def test_accept_does_not_spin_and_service_resumes(self):
        base = sktest.free_port_base()
        argv = [sktest.SOCKIT, "serve", "--port-base", base, "--bind", "127.0.0.1",
                "--services", "echo,time", "--no-udp", "--threads", "1", "--max-conns", "0"]
        # A descriptor limit of 64 (soft and hard) runs out after ~50 clients.
        p = sktest.Proc(["sh", "-c", 'ulimit -n 64 && exec "$@"', "sh"] + argv)
        with p:
            p.wait_line("listening service=time proto=tcp")
            clients = []
            for _ in range(100):
                clients.append(socket.create_connection(("127.0.0.1", base + 7), timeout=5))
            time.sleep(0.5)
            t0 = cpu_ticks(p.p.pid)
            time.sleep(1.5)
            used = cpu_ticks(p.p.pid) - t0
            ticks = os.sysconf("SC_CLK_TCK")
            self.assertLess(used, 0.2 * 1.5 * ticks, "the server spun: %d ticks in 1.5 s" % used)
            p.wait_line("op=accept", stream="err")
            # Every client is served once descriptors free up, the ones that
            # waited in the listen queue too.
            for i, c in enumerate(clients):
                c.sendall(b"client %d" % i)
            for i, c in enumerate(clients[:40]):
                self.assertEqual(c.recv(100), b"client %d" % i)
                c.close()
            for i, c in enumerate(clients[40:], 40):
                self.assertEqual(c.recv(100), b"client %d" % i)
                c.close()
            with socket.create_connection(("127.0.0.1", base + 37), timeout=5) as s:
                self.assertEqual(len(sktest.recv_all(s, 5)), 4)
            self.assertEqual(p.stop(), 0)


class GracefulStop(unittest.TestCase):
    """SIGTERM while responses are in flight: every response the server
    started arrives whole, ended by a clean close, and the server exits 0."""

    def slow_read(self, s, sent):
        """Reads 64 KiB every 10 ms until a clean end of stream; what came
        back must be the start of what was sent."""
        s.setblocking(True)
        s.settimeout(10)
        got = bytearray()
        while True:
            b = s.recv(65536)  # a reset raises ConnectionResetError
            if not b:
                break
            got += b
            time.sleep(0.01)
        s.close()
        self.assertEqual(bytes(got), sent[:len(got)])
        return len(got)

    def test_sigterm_during_transfers(self):
        base = sktest.free_port_base()
        p = start_serve(["--port-base", base, "--bind", "127.0.0.1", "--no-udp",
                         "--threads", "2", "--grace", "5"], 6)
        stop = threading.Event()
        results = {"complete": 0, "bytes": 0, "unserved": 0, "partial": []}
        lock = threading.Lock()

        def oneshot_client(service, check):
            while not stop.is_set():
                try:
                    s = socket.create_connection(("127.0.0.1", base + service), timeout=5)
                except OSError:
                    with lock:
                        results["unserved"] += 1
                    continue
                try:
                    data = sktest.recv_all(s, 5)
                except OSError:
                    data = b""  # reset before a byte was sent: never served
                finally:
                    s.close()
                with lock:
                    if data == b"":
                        results["unserved"] += 1
                    elif check(data):
                        results["complete"] += 1
                        results["bytes"] += len(data)
                    else:
                        results["partial"].append(data)

        threads = [threading.Thread(target=oneshot_client, args=(37, lambda d: len(d) == 4)),
                   threading.Thread(target=oneshot_client,
                                    args=(13, lambda d: len(d) == 26 and d.endswith(b"\r\n"))),
                   threading.Thread(target=oneshot_client,
                                    args=(17, lambda d: d.endswith(b"\r\n") and len(d) < 512))]
        for t in threads:
            t.start()
        echoes = [stalled_echo(("127.0.0.1", base + 7)) for _ in range(3)]
        t0 = time.monotonic()
        p.p.send_signal(signal.SIGTERM)
        # The clients end their requests and read what the server still
        # has for them, slowly.
        for s, _ in echoes:
            s.shutdown(socket.SHUT_WR)
        counts = []
        readers = [threading.Thread(target=lambda e=e: counts.append(self.slow_read(e[0], e[1])))
                   for e in echoes]
        for t in readers:
            t.start()
        for t in readers:
            t.join(30)
        self.assertEqual(len(counts), len(echoes), "a reader failed")
        echoed = sum(counts)
        rc = p.wait(timeout=20)
        took = time.monotonic() - t0
        stop.set()
        for t in threads:
            t.join(20)
        self.assertEqual(rc, 0, p.errlines())
        self.assertLess(took, 5 + 3, "exit took %.1fs with a 5 s grace" % took)
        self.assertGreater(results["complete"], 10)
        self.assertEqual(results["partial"], [])
        self.assertGreater(echoed, 3 * 65536)
        # Every byte the server sent reached a client: nothing was cut short.
        stop_line = p.wait_line("event=stop", stream="err")
        fields = dict(f.split("=", 1) for f in stop_line.split() if "=" in f)
        self.assertEqual(int(fields["bytes_out"]), echoed + results["bytes"], stop_line)


if __name__ == "__main__":
    sktest.main()
