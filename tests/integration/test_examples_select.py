# SPDX-License-Identifier: MIT
"""examples/select_server against python3 stdlib clients.

Several clients at once, their messages interleaved, each getting exactly
its own bytes back; a client that sends without reading does not hold up
the others; a client that half-closes gets everything echoed before the
server closes it.
"""

import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import sktest  # noqa: E402

CLIENTS = 6
ROUNDS = 8


def start_server(port):
    proc = sktest.Proc([sktest.example("select_server"), port])
    proc.wait_line("Listening on")
    return proc


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise AssertionError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return bytes(buf)


class SelectServer(unittest.TestCase):
    def test_interleaved_clients(self):
        port = sktest.free_port()
        hosts = ["127.0.0.1", "::1"] if sktest.have_ipv6() else ["127.0.0.1"]
        # Every client sends its round-N message before any reads its echo,
        # so the server has all of them in flight at once.
        barrier = threading.Barrier(CLIENTS, timeout=30)
        errors = []

        def client(i):
            try:
                with socket.create_connection((hosts[i % len(hosts)], port), timeout=30) as s:
                    for rnd in range(ROUNDS):
                        data = bytes([i]) * (1 + (i * 997 + rnd * 331) % 3000) + os.urandom(64)
                        barrier.wait()
                        s.sendall(data)
                        got = recv_exact(s, len(data))
                        if got != data:
                            errors.append("client %d round %d got other bytes" % (i, rnd))
            except Exception as e:  # reported by the main thread
                errors.append("client %d: %r" % (i, e))
                barrier.abort()

        with start_server(port) as srv:
            self.assertRegex(srv.lines()[0], r"^Listening on (\[::\]|0\.0\.0\.0):%d$" % port)
            threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            self.assertEqual(errors, [])
            deadline = time.monotonic() + 10
            while sum(l.startswith("closing ") for l in srv.lines()) < CLIENTS:
                self.assertLess(time.monotonic(), deadline, "not every client closed: %r" % srv.lines())
                time.sleep(0.05)
            lines = srv.lines()
            self.assertEqual(sum(l.startswith("new connection from ") for l in lines), CLIENTS, lines)
            self.assertTrue(any(l.startswith("received ") for l in lines), lines)
            self.assertTrue(any(l.startswith("sent ") for l in lines), lines)

    def test_sender_that_does_not_read_does_not_block_others(self):
        port = sktest.free_port()
        big = os.urandom(8 * 1024 * 1024)
        with start_server(port):
            hog = socket.create_connection(("127.0.0.1", port), timeout=30)
            # More than the socket buffers usually hold: sendall blocks until
            # we read, and the server must stop reading from this client
            # without stopping serving the others.
            sender = threading.Thread(target=lambda: hog.sendall(big), daemon=True)
            sender.start()
            with socket.create_connection(("127.0.0.1", port), timeout=10) as other:
                for _ in range(5):
                    other.sendall(b"still served?")
                    self.assertEqual(recv_exact(other, 13), b"still served?")
            self.assertEqual(recv_exact(hog, len(big)), big)
            sender.join(30)
            hog.close()

    def test_half_close_gets_everything_back(self):
        port = sktest.free_port()
        data = os.urandom(200 * 1024)
        with start_server(port) as srv:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                def send():
                    s.sendall(data)
                    s.shutdown(socket.SHUT_WR)
                sender = threading.Thread(target=send, daemon=True)
                sender.start()
                self.assertEqual(sktest.recv_all(s, timeout=30), data)
                sender.join(30)
            srv.wait_line("after reading no data")

    def test_usage_errors(self):
        for argv in (["x"], ["1", "2"], ["-1"]):
            r = sktest.run([sktest.example("select_server")] + argv, timeout=10)
            self.assertEqual(r.returncode, 2, (argv, r.stderr))
            self.assertEqual(r.stderr.splitlines(), ["usage: select_server [PORT]"])

    def test_out_of_descriptors_pauses_accepting(self):
        """With room for only two clients, a third waits in the backlog
        (accept fails with EMFILE and is reported) instead of ending the
        server, and is served once a client leaves."""
        prlimit = sktest.require_program("prlimit")
        port = sktest.free_port()
        # stdin, stdout, stderr, the listener and two clients.
        proc = sktest.Proc([prlimit, "--nofile=6", "--", sktest.example("select_server"), port])
        with proc:
            proc.wait_line("Listening on")
            first = socket.create_connection(("127.0.0.1", port), timeout=10)
            second = socket.create_connection(("127.0.0.1", port), timeout=10)
            for s in (first, second):
                s.sendall(b"ping")
                self.assertEqual(recv_exact(s, 4), b"ping")
            third = socket.create_connection(("127.0.0.1", port), timeout=10)
            third.sendall(b"waiting")
            proc.wait_line("accept: Too many open files", stream="err")
            first.close()
            self.assertEqual(recv_exact(third, 7), b"waiting")
            second.sendall(b"still here")
            self.assertEqual(recv_exact(second, 10), b"still here")
            second.close()
            third.close()
            self.assertIsNone(proc.p.poll(), "the server ended: %r" % proc.errlines())


if __name__ == "__main__":
    sktest.main()
