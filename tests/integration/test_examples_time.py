# SPDX-License-Identifier: MIT
"""examples/time_server and examples/time_client against python3 stdlib peers.

Our server <-> a python client (TCP and UDP): the 4 bytes are seconds since
1900 modulo 2^32, within 2 s of the local clock.  A python server <-> our
client (TCP and UDP): the server sends a known offset from the local clock
and the client must print that time and the matching offset.
"""

import os
import re
import socket
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import sktest  # noqa: E402

TIME1970 = 2208988800
CTIME_RE = r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d \d{4}"


def rfc868_now(offset=0):
    return (int(time.time()) + TIME1970 + offset) % 2**32


def start_server(*args):
    """Starts examples/time_server ARGS and waits for its ready line."""
    proc = sktest.Proc([sktest.example("time_server")] + [str(a) for a in args])
    proc.wait_line("Listening on")
    return proc


def hosts():
    """Loopback addresses to test on: 127.0.0.1, and ::1 where it exists."""
    return ["127.0.0.1", "::1"] if sktest.have_ipv6() else ["127.0.0.1"]


class TimeServer(unittest.TestCase):
    def check_value(self, data):
        self.assertEqual(len(data), 4, "reply %r is not 4 bytes" % data)
        got = struct.unpack("!I", data)[0]
        want = rfc868_now()
        diff = (got - want + 2**31) % 2**32 - 2**31
        self.assertLessEqual(abs(diff), 2, "server says %d, local clock %d" % (got, want))

    def test_tcp(self):
        port = sktest.free_port()
        with start_server(port) as srv:
            for host in hosts():
                with socket.create_connection((host, port), timeout=10) as s:
                    self.check_value(sktest.recv_all(s))
                    mine = s.getsockname()[1]
                srv.wait_line(lambda l: l.startswith("Connection from") and l.endswith(":%d" % mine))
            self.assertRegex(srv.lines()[0], r"^Listening on (\[::\]|0\.0\.0\.0):%d$" % port)

    def test_udp(self):
        port = sktest.free_port(socket.SOCK_DGRAM)
        with start_server("--udp", port):
            for host in hosts():
                fam = socket.AF_INET6 if ":" in host else socket.AF_INET
                with socket.socket(fam, socket.SOCK_DGRAM) as s:
                    s.settimeout(10)
                    for request in (b"", b"what time is it?", b"x" * 600):
                        s.sendto(request, (host, port))
                        data, peer = s.recvfrom(100)
                        self.assertEqual(peer[1], port)
                        self.check_value(data)

    def test_busy_port_is_runtime_error(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            port = busy.getsockname()[1]
            r = sktest.run([sktest.example("time_server"), port], timeout=10)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertTrue(r.stderr.startswith("time_server: "), r.stderr)


class PyTimeServer:
    """A python RFC 868 server (TCP or UDP) whose clock runs `offset` seconds
    ahead of ours; it serves one request in a thread."""

    def __init__(self, offset, udp=False, family=socket.AF_INET):
        self.offset = offset
        self.sock = socket.socket(family, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
        self.sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        self.sock.settimeout(20)
        if not udp:
            self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.request = None
        self.thread = threading.Thread(target=self.serve_udp if udp else self.serve_tcp, daemon=True)
        self.thread.start()

    def reply(self):
        return struct.pack("!I", rfc868_now(self.offset))

    def serve_tcp(self):
        conn, _ = self.sock.accept()
        with conn:
            conn.sendall(self.reply())

    def serve_udp(self):
        self.request, peer = self.sock.recvfrom(1024)
        self.sock.sendto(self.reply(), peer)

    def close(self):
        self.thread.join(20)
        self.sock.close()


class TimeClient(unittest.TestCase):
    def run_client(self, offset, udp=False, host="127.0.0.1", family=socket.AF_INET):
        server = PyTimeServer(offset, udp, family)
        argv = [sktest.example("time_client")] + (["--udp"] if udp else []) + [host, server.port]
        try:
            r = sktest.run(argv, timeout=30)
        finally:
            server.close()
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 2, r.stdout)
        m = re.fullmatch(r"server time is (%s)" % CTIME_RE, lines[0])
        self.assertIsNotNone(m, lines[0])
        shown = time.mktime(time.strptime(m.group(1), "%a %b %d %H:%M:%S %Y"))
        self.assertLessEqual(abs(shown - (time.time() + offset)), 3, lines[0])
        m = re.fullmatch(r"local clock is (-?\d+) seconds off", lines[1])
        self.assertIsNotNone(m, lines[1])
        self.assertLessEqual(abs(int(m.group(1)) - (-offset)), 1, lines[1])
        return server

    def test_tcp_server_ahead(self):
        self.run_client(100)

    def test_tcp_server_behind(self):
        self.run_client(-1000000)

    def test_tcp_ipv6(self):
        if not sktest.have_ipv6():
            self.skipTest("no IPv6 loopback")
        self.run_client(42, host="::1", family=socket.AF_INET6)

    def test_udp_server_ahead(self):
        server = self.run_client(100, udp=True)
        self.assertEqual(server.request, b"", "the client's request datagram")

    def test_udp_server_behind_via_localhost(self):
        # "localhost" may resolve to ::1 first; the client must move on to
        # 127.0.0.1 when ::1 refuses.
        self.run_client(-250, udp=True, host="localhost")

    def test_refused_is_runtime_error(self):
        port = sktest.free_port()
        for extra in ([], ["--udp"]):
            r = sktest.run([sktest.example("time_client")] + extra + ["127.0.0.1", port], timeout=30)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("time_client: ", r.stderr)
            self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)

    def test_usage_errors(self):
        for prog, argv in (("time_client", ["--tcp"]), ("time_client", ["a", "1", "2"]),
                           ("time_client", ["localhost", "notaport"]),
                           ("time_server", ["70000"]), ("time_server", ["1", "2"]),
                           ("time_server", ["-v"])):
            r = sktest.run([sktest.example(prog)] + argv, timeout=10)
            self.assertEqual(r.returncode, 2, (prog, argv, r.stderr))
            self.assertEqual(r.stderr.splitlines(), ["usage: %s [--udp] %s" % (
                prog, "[HOST] [PORT]" if prog == "time_client" else "[PORT]")])


if __name__ == "__main__":
    sktest.main()
