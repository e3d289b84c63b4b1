# SPDX-License-Identifier: MIT
"""The client subcommands (time, daytime, qotd, echo, chargen, discard,
resolve) against independent python3 stdlib servers written here, including
misbehaving ones (short replies, lost datagrams, corrupted bytes), their
usage errors, and against our own `sockit serve` when it is built.
"""

import calendar
import json
import os
import random
import re
import socket
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import sktest  # noqa: E402

RFC868_OFFSET = 2208988800
CLIENTS = ("time", "daytime", "qotd", "echo", "chargen", "discard", "resolve")


def sockit(*args, input=None, timeout=30.0):
    return sktest.run([sktest.SOCKIT] + [str(a) for a in args], input=input, timeout=timeout)


def rfc868_now(offset=0):
    return (int(time.time()) + RFC868_OFFSET + offset) % 2**32


def chargen_pattern(length, phase):
    """`length` bytes of the RFC 864 pattern, first line at ring position `phase`."""
    out = bytearray()
    line = 0
    while len(out) < length:
        out += bytes(32 + (phase + line + col) % 95 for col in range(72)) + b"\r\n"
        line += 1
    return bytes(out[:length])


class TcpServer:
    """Runs handler(conn) in a thread for each connection to 127.0.0.1 (or ::1)."""

    def __init__(self, handler, family=socket.AF_INET):
        self.handler = handler
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1" if family == socket.AF_INET else "::1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.errors = []
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            conn.settimeout(10)
            self.handler(conn)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client closed first, as chargen's and others' do
        except OSError as e:
            self.errors.append(e)
        finally:
            conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stopping = True
        self.thread.join(2)
        self.sock.close()


class UdpServer:
    """Calls handler(data, n) for the n-th datagram (from 0); a bytes result is
    sent back to the sender (twice with duplicate=True), None means no reply."""

    def __init__(self, handler, family=socket.AF_INET, duplicate=False):
        self.handler = handler
        self.duplicate = duplicate  # send every reply twice
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1" if family == socket.AF_INET else "::1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.received = []
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stopping:
            try:
                data, addr = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            self.received.append(data)
            reply = self.handler(data, len(self.received) - 1)
            if reply is not None:
                self.sock.sendto(reply, addr)
                if self.duplicate:
                    self.sock.sendto(reply, addr)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stopping = True
        self.thread.join(2)
        self.sock.close()


def send_and_close(payload):
    def handler(conn):
        conn.sendall(payload)
    return handler


def echo_handler(conn):
    while True:
        data = conn.recv(65536)
        if not data:
            return
        conn.sendall(data)


def parse_time_output(test, out):
    """Returns (server unix time, offset) from `sockit time`'s two lines."""
    lines = out.splitlines()
    test.assertEqual(len(lines), 2, out)
    m = re.fullmatch(r"server time is (.+)", lines[0])
    test.assertIsNotNone(m, out)
    server = calendar.timegm(time.strptime(m.group(1), "%a %b %d %H:%M:%S %Y"))
    m2 = re.fullmatch(r"local clock is (-?\d+) seconds off", lines[1])
    test.assertIsNotNone(m2, out)
    return server, int(m2.group(1))


def ctime_utc(t):
    """Python's own rendering of ctime layout in UTC, for comparison."""
    return time.asctime(time.gmtime(t))


class TimeTests(unittest.TestCase):
    def check_offset(self, offset, extra_args=()):
        with TcpServer(send_and_close(struct.pack(">I", rfc868_now(offset)))) as srv:
            r = sockit("time", *extra_args, "127.0.0.1", srv.port)
        self.assertEqual(r.returncode, 0, r.stderr)
        server, off = parse_time_output(self, r.stdout)
        self.assertAlmostEqual(server, time.time() + offset, delta=3)
        self.assertAlmostEqual(off, -offset, delta=2)
        self.assertEqual(r.stdout.splitlines()[0], "server time is " + ctime_utc(server))

    def test_tcp_in_step(self):
        self.check_offset(0)

    def test_tcp_server_ahead_and_behind(self):
        self.check_offset(3600)
        self.check_offset(-1000)

    def test_udp_sends_empty_datagram(self):
        with UdpServer(lambda data, n: struct.pack(">I", rfc868_now(-42))) as srv:
            r = sockit("time", "--udp", "127.0.0.1", srv.port)
            received = list(srv.received)
        self.assertEqual(r.returncode, 0, r.stderr)
        # One empty datagram (a second only if the machine was too slow to
        # answer within the first resend interval).
        self.assertIn(received, ([b""], [b"", b""]))
        _, off = parse_time_output(self, r.stdout)
        self.assertAlmostEqual(off, 42, delta=2)

    def test_value_after_2036_wrap(self):
        # The local clock is in 2026, nearer to 2036 than to 1900: a small
        # value is read in the second era, 100 s after the wrap.
        with TcpServer(send_and_close(struct.pack(">I", 100))) as srv:
            r = sockit("time", "127.0.0.1", srv.port)
        self.assertEqual(r.returncode, 0, r.stderr)
        wrap = 2**32 - RFC868_OFFSET
        self.assertEqual(r.stdout.splitlines()[0],
                         "server time is " + ctime_utc(wrap + 100))
        self.assertEqual(r.stdout.splitlines()[0], "server time is Thu Feb  7 06:29:56 2036")
        _, off = parse_time_output(self, r.stdout)
        self.assertAlmostEqual(off, int(time.time()) - (wrap + 100), delta=2)

    def test_value_just_before_2036_wrap(self):
        with UdpServer(lambda data, n: struct.pack(">I", 2**32 - 256)) as srv:
            r = sockit("time", "--udp", "127.0.0.1", srv.port)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines()[0], "server time is Thu Feb  7 06:24:00 2036")

    def test_json(self):
        value = rfc868_now(7)
        with TcpServer(send_and_close(struct.pack(">I", value))) as srv:
            r = sockit("time", "--json", "127.0.0.1", srv.port)
            where = "127.0.0.1:%d" % srv.port
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["server"], where)
        self.assertEqual(doc["protocol"], "tcp")
        self.assertEqual(doc["value"], value)
        self.assertEqual(doc["server_unix"], value - RFC868_OFFSET)
        self.assertEqual(doc["server_time"],
                         time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(doc["server_unix"])))
        self.assertEqual(doc["offset_seconds"], doc["local_unix"] - doc["server_unix"])
        self.assertAlmostEqual(doc["offset_seconds"], -7, delta=2)
        self.assertGreaterEqual(doc["rtt_ms"], 0)
        self.assertLess(doc["rtt_ms"], 10000)

    def test_short_reply_is_an_error(self):
        with TcpServer(send_and_close(b"\x01\x02\x03")) as srv:
            r = sockit("time", "127.0.0.1", srv.port)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(r.stdout, "")
        self.assertIn("sockit: time 127.0.0.1:%d: reply is 3 bytes, expected exactly 4" % srv.port,
                      r.stderr)

    def test_long_reply_is_an_error(self):
        with TcpServer(send_and_close(b"\x01\x02\x03\x04\x05")) as srv:
            r = sockit("time", "127.0.0.1", srv.port)
        self.assertEqual(r.returncode, 1)
        self.assertIn("reply is longer than 4 bytes", r.stderr)

    def test_udp_wrong_size_is_an_error(self):
        with UdpServer(lambda data, n: b"\x00\x01") as srv:
            r = sockit("time", "--udp", "127.0.0.1", srv.port)
        self.assertEqual(r.returncode, 1)
        self.assertIn("reply is 2 bytes, expected exactly 4", r.stderr)

    def test_tcp_silent_server_times_out(self):
        gate = threading.Event()
        with TcpServer(lambda conn: gate.wait(10)) as srv:
            t0 = time.monotonic()
            r = sockit("time", "--timeout", "0.5", "127.0.0.1", srv.port)
            elapsed = time.monotonic() - t0
            gate.set()
        self.assertEqual(r.returncode, 1)
        self.assertIn("no reply within 0.5 s", r.stderr)
        self.assertGreaterEqual(elapsed, 0.45)
        self.assertLess(elapsed, 5)

    def test_udp_lost_datagram_is_resent(self):
        # Drop the first datagram; answer the second.
        reply = lambda data, n: None if n == 0 else struct.pack(">I", rfc868_now())
        with UdpServer(reply) as srv:
            t0 = time.monotonic()
            r = sockit("time", "--udp", "127.0.0.1", srv.port)
            elapsed = time.monotonic() - t0
            count = len(srv.received)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(count, (2, 3))  # 3 only on a machine too slow to answer in 1 s
        self.assertGreaterEqual(elapsed, 0.4)  # the first resend comes after 0.5 s
        _, off = parse_time_output(self, r.stdout)
        self.assertAlmostEqual(off, 0, delta=2)

    def test_udp_no_reply_gives_up_after_timeout(self):
        with UdpServer(lambda data, n: None) as srv:
            t0 = time.monotonic()
            r = sockit("time", "--udp", "--timeout", "1.2", "127.0.0.1", srv.port)
            elapsed = time.monotonic() - t0
            count = len(srv.received)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"sockit: time 127\.0\.0\.1:\d+: no reply within 1\.2 s "
                                   r"\(\d+ datagrams sent\)")
        self.assertGreaterEqual(count, 2)
        self.assertLessEqual(count, 6)
        self.assertGreaterEqual(elapsed, 1.15)
        self.assertLess(elapsed, 6)

    def test_tcp_connection_refused(self):
        port = sktest.free_port()
        r = sockit("time", "127.0.0.1", port)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.strip(),
                         "sockit: connect 127.0.0.1:%d: Connection refused" % port)

    def test_udp_port_unreachable(self):
        port = sktest.free_port(socket.SOCK_DGRAM)
        r = sockit("time", "--udp", "127.0.0.1", port)
        self.assertEqual(r.returncode, 1)
        self.assertIn("sockit: time 127.0.0.1:%d: Connection refused" % port, r.stderr)

    def test_ipv6(self):
        if not sktest.have_ipv6():
            self.skipTest("no IPv6 loopback")
        with TcpServer(send_and_close(struct.pack(">I", rfc868_now())), socket.AF_INET6) as srv:
            r = sockit("time", "-6", "::1", srv.port)
        self.assertEqual(r.returncode, 0, r.stderr)
        with UdpServer(lambda d, n: struct.pack(">I", rfc868_now()), socket.AF_INET6) as srv:
            r = sockit("time", "-6", "--udp", "::1", srv.port)
        self.assertEqual(r.returncode, 0, r.stderr)
        parse_time_output(self, r.stdout)


DATE_LINE = b"Sat Nov 21 17:31:49 2026\r\n"
QUOTE = b"The only way to learn a new programming language\r\nis by writing programs in it.\r\n"


class DaytimeQotdTests(unittest.TestCase):
    def test_daytime_tcp_and_udp(self):
        with TcpServer(send_and_close(DATE_LINE)) as srv:
            r = sockit("daytime", "127.0.0.1", srv.port)
        self.assertEqual((r.returncode, r.stdout), (0, "Sat Nov 21 17:31:49 2026\n"), r.stderr)
        with UdpServer(lambda data, n: DATE_LINE) as srv:
            r = sockit("daytime", "--udp", "127.0.0.1", srv.port)
            received = list(srv.received)
        self.assertEqual((r.returncode, r.stdout), (0, "Sat Nov 21 17:31:49 2026\n"), r.stderr)
        self.assertIn(received, ([b""], [b"", b""]))

    def test_daytime_udp_retry(self):
        with UdpServer(lambda data, n: None if n == 0 else DATE_LINE) as srv:
            r = sockit("daytime", "--udp", "127.0.0.1", srv.port)
            count = len(srv.received)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(count, (2, 3))

    def test_daytime_control_bytes_refused(self):
        with TcpServer(send_and_close(b"\x1b[2Jgotcha\r\n")) as srv:
            r = sockit("daytime", "127.0.0.1", srv.port)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertIn("byte 0x1b at offset 0", r.stderr)

    def test_daytime_empty_reply(self):
        with TcpServer(send_and_close(b"")) as srv:
            r = sockit("daytime", "127.0.0.1", srv.port)
        self.assertEqual(r.returncode, 1)
        self.assertIn("empty reply", r.stderr)

    def test_qotd_tcp_and_udp(self):
        want = "The only way to learn a new programming language\nis by writing programs in it.\n"
        with TcpServer(send_and_close(QUOTE)) as srv:
            r = sockit("qotd", "127.0.0.1", srv.port)
        self.assertEqual((r.returncode, r.stdout), (0, want), r.stderr)
        with UdpServer(lambda data, n: QUOTE) as srv:
            r = sockit("qotd", "-u", "127.0.0.1", srv.port)
        self.assertEqual((r.returncode, r.stdout), (0, want), r.stderr)

    def test_qotd_too_long(self):
        with TcpServer(send_and_close(b"x" * 5000)) as srv:
            r = sockit("qotd", "127.0.0.1", srv.port)
        self.assertEqual(r.returncode, 1)
        self.assertIn("reply is longer than 4096 bytes", r.stderr)


class EchoTests(unittest.TestCase):
    def test_tcp_messages(self):
        with TcpServer(echo_handler) as srv:
            r = sockit("echo", "127.0.0.1", srv.port, "hello", "two words")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "Sent: hello\nReceived: hello\n"
                                   "Sent: two words\nReceived: two words\n")

    def test_message_starting_with_dash(self):
        with TcpServer(echo_handler) as srv:
            r = sockit("echo", "-t", "3", "127.0.0.1", srv.port, "--", "-n", "--udp")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "Sent: -n\nReceived: -n\nSent: --udp\nReceived: --udp\n")

    def test_tcp_stdin_lines(self):
        with TcpServer(echo_handler) as srv:
            r = sockit("echo", "127.0.0.1", srv.port, input="one\n\nthree")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "Sent: one\nReceived: one\nSent: \nReceived: \n"
                                   "Sent: three\nReceived: three\n")

    def test_tcp_framing_with_dribbling_server(self):
        # The server returns the bytes one at a time: the client must
        # gather exactly as many as it sent.
        def dribble(conn):
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                for i in range(len(data)):
                    conn.sendall(data[i:i + 1])
                    time.sleep(0.001)
        with TcpServer(dribble) as srv:
            r = sockit("echo", "127.0.0.1", srv.port, "framing matters", "again")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Received: framing matters\n", r.stdout)

    def test_tcp_long_line(self):
        line = "".join(random.choice("abcdefgh") for _ in range(300000))
        with TcpServer(echo_handler) as srv:
            r = sockit("echo", "127.0.0.1", srv.port, input=line + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "Sent: %s\nReceived: %s\n" % (line, line))

    def test_tcp_corrupted_reply(self):
        def corrupt(conn):
            data = conn.recv(65536)
            conn.sendall(data[:2] + data[2:3].upper() + data[3:])
        with TcpServer(corrupt) as srv:
            r = sockit("echo", "127.0.0.1", srv.port, "hello")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "Sent: hello\nReceived: heLlo\n")
        self.assertIn("sockit: echo 127.0.0.1:%d: reply differs from what was sent at byte 2"
                      % srv.port, r.stderr)

    def test_tcp_server_closes_early(self):
        def half(conn):
            data = conn.recv(65536)
            conn.sendall(data[:3])
        with TcpServer(half) as srv:
            r = sockit("echo", "127.0.0.1", srv.port, "hello")
        self.assertEqual(r.returncode, 1)
        self.assertIn("server closed the connection", r.stderr)

    def test_udp_messages(self):
        with UdpServer(lambda data, n: data) as srv:
            r = sockit("echo", "--udp", "127.0.0.1", srv.port, "hello", "world")
            received = list(srv.received)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "Sent: hello\nReceived: hello\nSent: world\nReceived: world\n")
        self.assertEqual(received[0], b"hello")
        self.assertEqual(received[-1], b"world")

    def test_udp_lost_datagram_is_resent(self):
        with UdpServer(lambda data, n: None if n == 0 else data) as srv:
            r = sockit("echo", "--udp", "127.0.0.1", srv.port, input="a line\nanother\n")
            received = list(srv.received)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(received[:2], [b"a line", b"a line"])
        self.assertEqual(received[-1], b"another")
        self.assertLessEqual(len(received), 4)
        self.assertEqual(r.stdout, "Sent: a line\nReceived: a line\nSent: another\nReceived: another\n")

    def test_udp_late_duplicate_is_skipped(self):
        # A server that answers every datagram twice: the second copy of
        # the first reply arrives while the client waits for the second.
        with UdpServer(lambda data, n: data, duplicate=True) as srv:
            r = sockit("echo", "--udp", "127.0.0.1", srv.port, "first", "second", "third")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "Sent: first\nReceived: first\nSent: second\n"
                                   "Received: second\nSent: third\nReceived: third\n")

    def test_udp_corrupted_reply(self):
        with UdpServer(lambda data, n: data[:-1] + b"!") as srv:
            r = sockit("echo", "-u", "127.0.0.1", srv.port, "hello")
        self.assertEqual(r.returncode, 1)
        self.assertIn("Received: hell!", r.stdout)
        self.assertIn("differs from what was sent at byte 4", r.stderr)

    def test_udp_no_reply(self):
        with UdpServer(lambda data, n: None) as srv:
            r = sockit("echo", "-u", "--timeout", "0.6", "127.0.0.1", srv.port, "x")
            count = len(srv.received)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no reply within 0.6 s", r.stderr)
        self.assertGreaterEqual(count, 2)

    def test_control_characters_escaped(self):
        with TcpServer(echo_handler) as srv:
            r = sockit("echo", "127.0.0.1", srv.port, input="bell\x07here\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Received: bell\\x07here\n", r.stdout)


def chargen_stream_handler(phase, corrupt_at=None, limit=None):
    """A chargen server: the pattern from `phase` until the client closes (or
    `limit` bytes), optionally with one wrong byte at offset `corrupt_at`."""
    cycle = chargen_pattern(95 * 74, phase)  # 95 lines: the next cycle is the same

    def handler(conn):
        first = bytearray(cycle * 4)
        if corrupt_at is not None:
            first[corrupt_at] = ord("#") if first[corrupt_at] != ord("#") else ord("$")
        if limit is not None:
            conn.sendall(bytes(first[:limit]))
            return
        conn.sendall(bytes(first))
        while True:
            conn.sendall(cycle)
    return handler


class ChargenTests(unittest.TestCase):
    def test_tcp_any_phase(self):
        for phase in (0, 33, 94):
            with TcpServer(chargen_stream_handler(phase)) as srv:
                r = sockit("chargen", "--bytes", "30000", "127.0.0.1", srv.port)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, "received 30000 bytes, all matching the RFC 864 pattern "
                                       "(first line starts with '%c')\n" % (32 + phase))

    def test_tcp_default_is_a_full_cycle(self):
        with TcpServer(chargen_stream_handler(5)) as srv:
            r = sockit("chargen", "127.0.0.1", srv.port)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("received 7400 bytes", r.stdout)

    def test_tcp_one_wrong_byte(self):
        pattern = chargen_pattern(6000, 12)
        with TcpServer(chargen_stream_handler(12, corrupt_at=5000)) as srv:
            r = sockit("chargen", "127.0.0.1", srv.port)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        want = pattern[5000]
        self.assertIn("sockit: chargen 127.0.0.1:%d: byte 5000 breaks the RFC 864 pattern: "
                      "expected '%c' (0x%02x), got '#' (0x23)" % (srv.port, want, want), r.stderr)

    def test_tcp_stream_ends_early(self):
        with TcpServer(chargen_stream_handler(0, limit=1000)) as srv:
            r = sockit("chargen", "127.0.0.1", srv.port)
        self.assertEqual(r.returncode, 1)
        self.assertIn("stream ended after 1000 of 7400 bytes", r.stderr)

    def test_udp_one_and_many_datagrams(self):
        reply = lambda data, n: chargen_pattern(512, (n * 7) % 95)
        with UdpServer(reply) as srv:
            r = sockit("chargen", "--udp", "127.0.0.1", srv.port)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "received 512 bytes in 1 datagram, all matching the "
                                   "RFC 864 pattern (first line starts with ' ')\n")
        with UdpServer(reply) as srv:
            r = sockit("chargen", "--udp", "--bytes", "2000", "127.0.0.1", srv.port)
            count = len(srv.received)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("received 2048 bytes in 4 datagrams", r.stdout)
        self.assertGreaterEqual(count, 4)

    def test_udp_corrupted_datagram(self):
        def reply(data, n):
            d = bytearray(chargen_pattern(512, 50))
            if n == 1:
                d[100] = ord("\n")
            return bytes(d)
        with UdpServer(reply) as srv:
            r = sockit("chargen", "-u", "-n", "1024", "127.0.0.1", srv.port)
        self.assertEqual(r.returncode, 1)
        self.assertIn("datagram 2, byte 100 breaks the RFC 864 pattern", r.stderr)
        self.assertIn("got LF (0x0a)", r.stderr)


class DiscardTests(unittest.TestCase):
    def test_sends_stdin(self):
        counted = []

        def discard(conn):
            n = 0
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                n += len(data)
            counted.append(n)
        payload = "".join(random.choice("xyz\n") for _ in range(300000))
        with TcpServer(discard) as srv:
            r = sockit("discard", "127.0.0.1", srv.port, input=payload)
            port = srv.port
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "sent 300000 bytes to 127.0.0.1:%d\n" % port)
        self.assertEqual(counted, [300000])

    def test_empty_input(self):
        with TcpServer(lambda conn: conn.recv(10)) as srv:
            r = sockit("discard", "127.0.0.1", srv.port, input="")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("sent 0 bytes", r.stdout)

    def test_server_that_never_closes(self):
        gate = threading.Event()
        with TcpServer(lambda conn: gate.wait(10)) as srv:
            r = sockit("discard", "--timeout", "0.5", "127.0.0.1", srv.port, input="abc")
            gate.set()
        self.assertEqual(r.returncode, 1)
        self.assertIn("did not close", r.stderr)


class ResolveTests(unittest.TestCase):
    def test_numeric_host_and_port(self):
        r = sockit("resolve", "127.0.0.1", "7")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        results = [l for l in lines if l.startswith("family=")]
        want = socket.getaddrinfo("127.0.0.1", 7)
        self.assertEqual(len(results), len(want), r.stdout)
        self.assertIn("family=AF_INET type=SOCK_STREAM protocol=6(tcp)", r.stdout)
        self.assertIn("family=AF_INET type=SOCK_DGRAM protocol=17(udp)", r.stdout)
        for l in results:
            self.assertTrue(l.endswith(" address=127.0.0.1:7"), l)
        self.assertEqual(lines[-2], "hostname=" + socket.gethostname())
        self.assertTrue(lines[-1].startswith("fqdn="), lines[-1])

    def test_service_name(self):
        r = sockit("resolve", "-4", "127.0.0.1", "daytime")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("address=127.0.0.1:13", r.stdout)

    def test_ipv6_literal(self):
        r = sockit("resolve", "::1", "echo")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("family=AF_INET6", r.stdout)
        self.assertIn("address=[::1]:7", r.stdout)

    def test_unknown_service(self):
        r = sockit("resolve", "127.0.0.1", "no-such-service-here")
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("sockit: resolve 127.0.0.1:no-such-service-here: "),
                        r.stderr)


class UsageTests(unittest.TestCase):
    def expect_usage(self, *args):
        r = sockit(*args)
        self.assertEqual(r.returncode, 2, (args, r.stdout, r.stderr))
        self.assertEqual(r.stdout, "")
        self.assertTrue(r.stderr.startswith("sockit: "), (args, r.stderr))
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    def test_missing_host(self):
        for cmd in CLIENTS:
            self.expect_usage(cmd)

    def test_unknown_option(self):
        for cmd in CLIENTS:
            self.expect_usage(cmd, "--bogus", "127.0.0.1")
        self.expect_usage("discard", "--udp", "127.0.0.1")
        self.expect_usage("daytime", "--json", "127.0.0.1")

    def test_bad_port(self):
        for cmd in ("time", "daytime", "qotd", "echo", "chargen", "discard"):
            for port in ("0", "65536", "99999", "-1", "12ab", "not-a-service-name"):
                self.expect_usage(cmd, "127.0.0.1", port)

    def test_bad_timeout(self):
        for value in ("abc", "-1", "0", "inf", "nan", "1e3", ""):
            self.expect_usage("time", "--timeout", value, "127.0.0.1")
        self.expect_usage("echo", "127.0.0.1", "7", "--timeout")

    def test_bad_bytes(self):
        for value in ("x", "-5", "0", "1.5", "99999999999999999999999"):
            self.expect_usage("chargen", "--bytes", value, "127.0.0.1")

    def test_extra_arguments_and_conflicts(self):
        self.expect_usage("time", "127.0.0.1", "37", "extra")
        self.expect_usage("time", "-4", "-6", "127.0.0.1")
        self.expect_usage("resolve", "localhost", "http", "extra")
        self.expect_usage("time", "")

    def test_help(self):
        for cmd in CLIENTS:
            r = sockit(cmd, "--help")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(r.stdout.startswith("usage: sockit %s " % cmd), r.stdout)
            self.assertEqual(r.stderr, "")


def serve_is_built():
    r = sockit("serve", "--help", timeout=10)
    return r.returncode == 0 and "--port-base" in r.stdout


class OwnServeTests(unittest.TestCase):
    """The clients against our own daemon."""

    @classmethod
    def setUpClass(cls):
        if not serve_is_built():
            raise unittest.SkipTest("build/sockit serve is not built yet (placeholder)")
        cls.base = sktest.free_port_base()
        cls.v6 = sktest.have_ipv6()
        binds = ["--bind", "127.0.0.1"] + (["--bind", "::1"] if cls.v6 else [])
        cls.proc = sktest.Proc([sktest.SOCKIT, "serve", "--port-base", cls.base] + binds)
        try:
            for svc in ("echo", "discard", "daytime", "qotd", "chargen", "time"):
                for proto in ("tcp", "udp"):
                    cls.proc.wait_line("service=%s proto=%s" % (svc, proto), timeout=15)
        except Exception:
            cls.proc.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.proc.stop()

    def port(self, std):
        return self.base + std

    def test_time(self):
        for extra in ((), ("--udp",)):
            r = sockit("time", *extra, "127.0.0.1", self.port(37))
            self.assertEqual(r.returncode, 0, r.stderr)
            _, off = parse_time_output(self, r.stdout)
            self.assertLessEqual(abs(off), 2)

    def test_daytime(self):
        for extra in ((), ("--udp",)):
            r = sockit("daytime", *extra, "127.0.0.1", self.port(13))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout, r"^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d "
                                       r"\d\d:\d\d:\d\d \d{4}\n$")

    def test_ipv6(self):
        if not self.v6:
            self.skipTest("no IPv6 loopback")
        r = sockit("time", "-6", "--udp", "::1", self.port(37))
        self.assertEqual(r.returncode, 0, r.stderr)
        r = sockit("echo", "-6", "::1", self.port(7), "over IPv6")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "Sent: over IPv6\nReceived: over IPv6\n")

    def test_qotd(self):
        for extra in ((), ("--udp",)):
            r = sockit("qotd", *extra, "127.0.0.1", self.port(17))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(r.stdout.strip(), r.stdout)

    def test_echo(self):
        for extra in ((), ("--udp",)):
            r = sockit("echo", *extra, "127.0.0.1", self.port(7), "hello", "sockit")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, "Sent: hello\nReceived: hello\nSent: sockit\nReceived: sockit\n")

    def test_chargen(self):
        r = sockit("chargen", "--bytes", "200000", "127.0.0.1", self.port(19))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("received 200000 bytes", r.stdout)
        r = sockit("chargen", "--udp", "127.0.0.1", self.port(19))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("in 1 datagram", r.stdout)

    def test_discard(self):
        r = sockit("discard", "127.0.0.1", self.port(9), input="x" * 100000)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "sent 100000 bytes to 127.0.0.1:%d\n" % self.port(9))


if __name__ == "__main__":
    sktest.main()
