# SPDX-License-Identifier: MIT
"""examples/echo_server and examples/echo_client against python3 stdlib peers.

Our server <-> python clients (TCP and UDP): every byte comes back, and the
server reports each client as it connects and disconnects.  A python server
<-> our client (TCP and UDP): the client prints `Sent:` / `Received:` for
each of its three lines, those lines are what the server really got and
sent, and a server that answers with other bytes makes it fail.
"""

import os
import re
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import sktest  # noqa: E402


def start_server(*args):
    """Starts examples/echo_server ARGS and waits for its ready line."""
    proc = sktest.Proc([sktest.example("echo_server")] + [str(a) for a in args])
    proc.wait_line("Listening on")
    return proc


def hosts():
    return ["127.0.0.1", "::1"] if sktest.have_ipv6() else ["127.0.0.1"]


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise AssertionError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def ends_with_port(prefix, port):
    return lambda l: l.startswith(prefix) and l.endswith(":%d" % port)


class EchoServer(unittest.TestCase):
    def test_tcp_clients_one_after_another(self):
        port = sktest.free_port()
        with start_server(port) as srv:
            self.assertRegex(srv.lines()[0], r"^Listening on (\[::\]|0\.0\.0\.0):%d$" % port)
            for host in hosts():
                with socket.create_connection((host, port), timeout=10) as s:
                    mine = s.getsockname()[1]
                    srv.wait_line(ends_with_port("Connected from ", mine))
                    for size in (1, 100, 5000):
                        data = os.urandom(size)
                        s.sendall(data)
                        self.assertEqual(recv_exact(s, size), data)
                srv.wait_line(ends_with_port("Disconnected from ", mine))
            lines = srv.lines()
            self.assertEqual(len([l for l in lines if l.startswith("Connected from")]), len(hosts()), lines)

    def test_tcp_large_transfer(self):
        port = sktest.free_port()
        data = os.urandom(300 * 1024)
        with start_server(port):
            with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
                # Send from a thread while this one reads, so neither side's
                # buffers can fill up and stall the other.
                sender = threading.Thread(target=s.sendall, args=(data,), daemon=True)
                sender.start()
                self.assertEqual(recv_exact(s, len(data)), data)
                sender.join(20)

    def test_tcp_serves_one_client_at_a_time(self):
        port = sktest.free_port()
        with start_server(port) as srv:
            first = socket.create_connection(("127.0.0.1", port), timeout=10)
            srv.wait_line(ends_with_port("Connected from ", first.getsockname()[1]))
            with socket.create_connection(("127.0.0.1", port), timeout=10) as second:
                second.sendall(b"waiting")
                # The tutorial server is busy with the first client.
                second.settimeout(0.3)
                self.assertRaises(socket.timeout, second.recv, 100)
                first.close()
                second.settimeout(10)
                self.assertEqual(recv_exact(second, 7), b"waiting")
                srv.wait_line(ends_with_port("Connected from ", second.getsockname()[1]))

    def test_udp(self):
        port = sktest.free_port(socket.SOCK_DGRAM)
        with start_server("--udp", port) as srv:
            self.assertRegex(srv.lines()[0], r"^Listening on .*:%d \(UDP\)$" % port)
            for host in hosts():
                fam = socket.AF_INET6 if ":" in host else socket.AF_INET
                with socket.socket(fam, socket.SOCK_DGRAM) as s:
                    s.settimeout(10)
                    for size in (0, 1, 1400, 60000):
                        data = os.urandom(size)
                        s.sendto(data, (host, port))
                        reply, peer = s.recvfrom(65536)
                        self.assertEqual(peer[1], port)
                        self.assertEqual(reply, data, "datagram of %d bytes" % size)
                        srv.wait_line(ends_with_port("Echoing %d bytes to " % size, s.getsockname()[1]))

    def test_usage_and_runtime_errors(self):
        for argv in (["--tcp"], ["1", "2"], ["notaport"], ["65536"]):
            r = sktest.run([sktest.example("echo_server")] + argv, timeout=10)
            self.assertEqual(r.returncode, 2, (argv, r.stderr))
            self.assertEqual(r.stderr.splitlines(), ["usage: echo_server [--udp] [PORT]"])
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            r = sktest.run([sktest.example("echo_server"), busy.getsockname()[1]], timeout=10)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stderr, r"^echo_server: .+\n$")


class PyEchoServer:
    """A python echo server for one conversation, in a thread.  `mangle`
    changes what it sends back; `trickle` sends replies a byte at a time.
    got / sent record the bytes (TCP) or datagrams (UDP) it saw."""

    def __init__(self, udp=False, family=socket.AF_INET, mangle=None, trickle=False):
        self.udp, self.mangle, self.trickle = udp, mangle or (lambda b: b), trickle
        self.sock = socket.socket(family, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
        self.sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        self.sock.settimeout(20)
        if not udp:
            self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.got, self.sent = [], []
        self.thread = threading.Thread(target=self.serve_udp if udp else self.serve_tcp, daemon=True)
        self.thread.start()

    def serve_tcp(self):
        conn, _ = self.sock.accept()
        with conn:
            while data := conn.recv(1024):
                self.got.append(data)
                reply = self.mangle(data)
                self.sent.append(reply)
                if self.trickle:
                    for i in range(len(reply)):
                        conn.sendall(reply[i:i + 1])
                        time.sleep(0.002)
                else:
                    conn.sendall(reply)

    def serve_udp(self):
        try:
            while len(self.got) < 3:
                data, peer = self.sock.recvfrom(65536)
                self.got.append(data)
                self.sent.append(self.mangle(data))
                self.sock.sendto(self.sent[-1], peer)
        except OSError:
            pass  # the test is over: timed out, or the socket was closed

    def close(self):
        # When the client has exited, a TCP server thread ends at the
        # client's close; a UDP one may still wait for datagrams that will
        # never come (after a mismatch), but it has recorded all it saw.
        self.thread.join(1 if self.udp else 20)
        self.sock.close()


class EchoClient(unittest.TestCase):
    def run_client(self, server, host="127.0.0.1"):
        argv = [sktest.example("echo_client")] + (["--udp"] if server.udp else []) + [host, server.port]
        try:
            return sktest.run(argv, timeout=30)
        finally:
            server.close()

    def check_conversation(self, server, r):
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 6, r.stdout)
        sent = [re.fullmatch(r"Sent: (.*)", l).group(1) for l in lines[0::2]]
        received = [re.fullmatch(r"Received: (.*)", l).group(1) for l in lines[1::2]]
        self.assertEqual(sent, received)
        self.assertTrue(all(sent), "three non-empty lines: %r" % sent)
        if server.udp:
            self.assertEqual([d.decode() for d in server.got], sent)
        else:
            self.assertEqual(b"".join(server.got).decode(), "".join(sent))

    def test_tcp(self):
        server = PyEchoServer()
        self.check_conversation(server, self.run_client(server))

    def test_tcp_reply_in_pieces(self):
        # TCP keeps no message boundaries: a reply trickling in a byte at a
        # time must still be printed whole.
        server = PyEchoServer(trickle=True)
        self.check_conversation(server, self.run_client(server))

    def test_tcp_ipv6(self):
        if not sktest.have_ipv6():
            self.skipTest("no IPv6 loopback")
        server = PyEchoServer(family=socket.AF_INET6)
        self.check_conversation(server, self.run_client(server, host="::1"))

    def test_tcp_wrong_reply_fails(self):
        server = PyEchoServer(mangle=bytes.upper)
        r = self.run_client(server)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("differs", r.stderr)
        self.assertEqual(r.stdout.splitlines()[1], "Received: " + server.sent[0].decode())

    def test_udp(self):
        server = PyEchoServer(udp=True)
        self.check_conversation(server, self.run_client(server))

    def test_udp_via_localhost(self):
        server = PyEchoServer(udp=True)
        self.check_conversation(server, self.run_client(server, host="localhost"))

    def test_udp_wrong_reply_fails(self):
        server = PyEchoServer(udp=True, mangle=lambda b: b[::-1])
        r = self.run_client(server)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("differs", r.stderr)

    def test_usage_and_runtime_errors(self):
        for argv in (["-x"], ["a", "1", "2"], ["localhost", "99999"]):
            r = sktest.run([sktest.example("echo_client")] + argv, timeout=10)
            self.assertEqual(r.returncode, 2, (argv, r.stderr))
            self.assertEqual(r.stderr.splitlines(), ["usage: echo_client [--udp] [HOST] [PORT]"])
        r = sktest.run([sktest.example("echo_client"), "127.0.0.1", sktest.free_port()], timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"^echo_client: 127\.0\.0\.1 port \d+: .+\n$")


if __name__ == "__main__":
    sktest.main()
