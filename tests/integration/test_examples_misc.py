# SPDX-License-Identifier: MIT
"""examples/hello_*, daytime_*, addrinfo and fixed_length against python3
stdlib peers: our servers with python clients, python servers with our
clients, addrinfo's results against socket.getaddrinfo's, and fixed_length's
conversation with itself.
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

CTIME_RE = r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d \d{4}"


def start_server(name, port):
    proc = sktest.Proc([sktest.example(name), port])
    proc.wait_line("Listening on")
    return proc


def hosts():
    return ["127.0.0.1", "::1"] if sktest.have_ipv6() else ["127.0.0.1"]


class OneShotServer:
    """A python TCP server that sends `payload` to one client and closes."""

    def __init__(self, payload, family=socket.AF_INET):
        self.payload = payload
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(20)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        conn, _ = self.sock.accept()
        with conn:
            conn.sendall(self.payload)

    def close(self):
        self.thread.join(20)
        self.sock.close()


def run_client(name, payload, host="127.0.0.1", family=socket.AF_INET):
    server = OneShotServer(payload, family)
    try:
        return sktest.run([sktest.example(name), host, server.port], timeout=30)
    finally:
        server.close()


class Hello(unittest.TestCase):
    def test_server(self):
        port = sktest.free_port()
        with start_server("hello_server", port) as srv:
            for host in hosts():
                with socket.create_connection((host, port), timeout=10) as s:
                    self.assertEqual(sktest.recv_all(s), b"Thank you for connecting")
                    mine = s.getsockname()[1]
                srv.wait_line(lambda l: l.startswith("Got connection from ") and l.endswith(":%d" % mine))

    def test_client_prints_what_it_received(self):
        for payload in (b"Thank you for connecting", b"Greetings from python"):
            r = run_client("hello_client", payload)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, payload.decode() + "\n")

    def test_client_ipv6(self):
        if not sktest.have_ipv6():
            self.skipTest("no IPv6 loopback")
        r = run_client("hello_client", b"hi over IPv6", host="::1", family=socket.AF_INET6)
        self.assertEqual((r.returncode, r.stdout), (0, "hi over IPv6\n"), r.stderr)

    def test_errors(self):
        for name, argv in (("hello_server", ["x"]), ("hello_server", ["1", "2"]),
                           ("hello_client", ["-h"]), ("hello_client", ["a", "b", "c"])):
            r = sktest.run([sktest.example(name)] + argv, timeout=10)
            self.assertEqual(r.returncode, 2, (name, argv, r.stderr))
            self.assertRegex(r.stderr, r"^usage: %s .*\n$" % name)
        r = sktest.run([sktest.example("hello_client"), "127.0.0.1", sktest.free_port()], timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"^hello_client: 127\.0\.0\.1 port \d+: .+\n$")


class Daytime(unittest.TestCase):
    def test_server(self):
        port = sktest.free_port()
        with start_server("daytime_server", port) as srv:
            for host in hosts():
                with socket.create_connection((host, port), timeout=10) as s:
                    line = sktest.recv_all(s).decode("ascii")
                    mine = s.getsockname()[1]
                m = re.fullmatch("(%s)\r\n" % CTIME_RE, line)
                self.assertIsNotNone(m, repr(line))
                shown = time.mktime(time.strptime(m.group(1), "%a %b %d %H:%M:%S %Y"))
                self.assertLessEqual(abs(shown - time.time()), 2, line)
                srv.wait_line(lambda l: l.startswith("Got a connection from ") and l.endswith(":%d" % mine))

    def test_client(self):
        line = time.ctime(time.time() - 3600)
        r = run_client("daytime_client", (line + "\r\n").encode("ascii"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "The time got from the server is %s\n" % line)

    def test_errors(self):
        for name, argv in (("daytime_server", ["-p"]), ("daytime_client", ["h", "p", "x"]),
                           ("daytime_client", ["localhost", "nosuchservice"])):
            r = sktest.run([sktest.example(name)] + argv, timeout=10)
            self.assertEqual(r.returncode, 2, (name, argv, r.stderr))
            self.assertRegex(r.stderr, r"^usage: %s .*\n$" % name)


class AddrInfo(unittest.TestCase):
    PROTOS = {socket.IPPROTO_TCP: "IPPROTO_TCP", socket.IPPROTO_UDP: "IPPROTO_UDP"}

    def expected(self, host, service):
        want = set()
        for family, kind, proto, _, sockaddr in socket.getaddrinfo(host, service):
            ip = sockaddr[0]
            text = "[%s]:%d" % (ip, sockaddr[1]) if family == socket.AF_INET6 else "%s:%d" % (ip, sockaddr[1])
            want.add((family.name, kind.name, self.PROTOS.get(proto, str(proto)), text))
        return want

    def check(self, host, service=None):
        argv = [sktest.example("addrinfo"), host] + ([service] if service is not None else [])
        r = sktest.run(argv, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[-1], "local host name is %s" % socket.gethostname())
        got = [tuple(l.split()) for l in lines[:-1]]
        self.assertEqual(len(got), len(set(got)), "duplicate lines: %r" % lines)
        self.assertEqual(set(got), self.expected(host, service))

    def test_localhost_with_service_name(self):
        self.check("localhost", "http")

    def test_localhost_with_port_number(self):
        self.check("localhost", "5000")

    def test_localhost_without_service(self):
        self.check("localhost")

    def test_numeric_hosts(self):
        for host in hosts():
            self.check(host, "7")

    def test_errors(self):
        r = sktest.run([sktest.example("addrinfo"), "localhost", "no-such-service-here"], timeout=30)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertRegex(r.stderr, r"^addrinfo: .+\n$")
        for argv in ([], ["a", "b", "c"], ["--help"]):
            r = sktest.run([sktest.example("addrinfo")] + argv, timeout=10)
            self.assertEqual(r.returncode, 2, (argv, r.stderr))
            self.assertEqual(r.stderr, "usage: addrinfo HOST [SERVICE]\n")


class FixedLength(unittest.TestCase):
    def test_runs(self):
        r = sktest.run([sktest.example("fixed_length")], timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        fixed_sent = [m.group(1) for m in map(re.compile(r"client sends fixed-length message '(.*)'").fullmatch, lines) if m]
        fixed_got = [m.group(1) for m in map(re.compile(r"server received fixed-length message '(.*)'").fullmatch, lines) if m]
        self.assertEqual(len(fixed_sent), 3, r.stdout)
        self.assertEqual(fixed_got, fixed_sent)
        self.assertEqual({len(m) for m in fixed_got}, {16}, "every message is 16 bytes")
        pieces = [int(x) for x in re.search(r"client sent them as pieces of (\d+), (\d+) and (\d+) bytes", r.stdout).groups()]
        self.assertEqual(sum(pieces), 3 * 16)
        self.assertNotIn(16, pieces, "the pieces should not match message boundaries")

        var_sent = [m.groups() for m in map(re.compile(r"client sent (\d+)-byte message '(.*)'").fullmatch, lines) if m]
        var_got = [m.groups() for m in map(re.compile(r"server received (\d+)-byte message '(.*)'").fullmatch, lines) if m]
        self.assertGreaterEqual(len(var_sent), 2, r.stdout)
        self.assertEqual(var_got, var_sent)
        self.assertTrue(all(int(n) == len(text) for n, text in var_got), var_got)
        self.assertEqual(lines[-1], "server saw the clean end of the stream")

    def test_usage(self):
        r = sktest.run([sktest.example("fixed_length"), "extra"], timeout=10)
        self.assertEqual((r.returncode, r.stderr), (2, "usage: fixed_length\n"))


if __name__ == "__main__":
    sktest.main()
