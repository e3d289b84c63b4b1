# SPDX-License-Identifier: MIT
"""The client subcommands against xinetd's built-in services (a real,
independent implementation), TCP and UDP, on free loopback ports.

xinetd runs as a child with a configuration written to a temporary
directory: echo, discard, daytime, chargen and time, `type = INTERNAL`,
stream and dgram, bound to 127.0.0.1.  (xinetd has no built-in qotd.)

Of note: xinetd's chargen ring is the 93 characters '!'..'}' rather than
RFC 864's 95 (' '..'~'), so `sockit chargen` must report the first byte
where the stream leaves the RFC pattern.
"""

import getpass
import os
import re
import socket
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import sktest  # noqa: E402

SERVICES = {"echo": 7, "discard": 9, "daytime": 13, "chargen": 19, "time": 37}


def sockit(*args, input=None):
    return sktest.run([sktest.SOCKIT] + [str(a) for a in args], input=input, timeout=30)


def xinetd_config(base):
    entries = []
    user = "    user = %s\n" % getpass.getuser() if os.geteuid() == 0 else ""
    for name, std in SERVICES.items():
        for socket_type, proto, wait in (("stream", "tcp", "no"), ("dgram", "udp", "yes")):
            entries.append(
                "service %s\n{\n    id = %s-%s\n    type = INTERNAL UNLISTED\n"
                "    socket_type = %s\n    protocol = %s\n    wait = %s\n%s"
                "    bind = 127.0.0.1\n    port = %d\n    disable = no\n}\n"
                % (name, name, socket_type, socket_type, proto, wait, user, base + std))
    return "\n".join(entries)


class XinetdTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        xinetd = sktest.require_program("xinetd")
        cls.tmp = tempfile.TemporaryDirectory()
        cls.base = sktest.free_port_base(tuple(SERVICES.values()))
        conf = os.path.join(cls.tmp.name, "xinetd.conf")
        log = os.path.join(cls.tmp.name, "xinetd.log")
        with open(conf, "w") as f:
            f.write(xinetd_config(cls.base))
        cls.proc = sktest.Proc([xinetd, "-dontfork", "-f", conf, "-filelog", log,
                                "-pidfile", os.path.join(cls.tmp.name, "pid")])
        try:
            cls.wait_started(log)
            for std in SERVICES.values():
                sktest.wait_port(cls.base + std)
        except Exception:
            cls.proc.stop()
            cls.tmp.cleanup()
            raise

    @classmethod
    def wait_started(cls, log):
        """xinetd logs 'Started working' once every socket is bound."""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if os.path.exists(log):
                with open(log, errors="replace") as f:
                    if "Started working" in f.read():
                        return
            if cls.proc.p.poll() is not None:
                raise RuntimeError("xinetd exited: %r" % cls.proc.errlines())
            time.sleep(0.05)
        raise TimeoutError("xinetd did not start: %r" % cls.proc.errlines())

    @classmethod
    def tearDownClass(cls):
        cls.proc.stop()
        cls.tmp.cleanup()

    def port(self, name):
        return self.base + SERVICES[name]

    def test_time_tcp_and_udp(self):
        for extra in ((), ("--udp",)):
            r = sockit("time", *extra, "127.0.0.1", self.port("time"))
            self.assertEqual(r.returncode, 0, r.stderr)
            lines = r.stdout.splitlines()
            self.assertEqual(len(lines), 2, r.stdout)
            want = time.asctime(time.gmtime())[:-8]  # same day and hour:minute, roughly
            self.assertTrue(lines[0].startswith("server time is "), lines[0])
            self.assertEqual(lines[0][15:15 + 10], want[:10], (lines[0], want))
            m = re.fullmatch(r"local clock is (-?\d+) seconds off", lines[1])
            self.assertIsNotNone(m, lines[1])
            self.assertLessEqual(abs(int(m.group(1))), 2)

    def test_time_json(self):
        r = sockit("time", "--json", "--udp", "127.0.0.1", self.port("time"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('"protocol": "udp"', r.stdout)

    def test_daytime_tcp_and_udp(self):
        for extra in ((), ("--udp",)):
            r = sockit("daytime", *extra, "127.0.0.1", self.port("daytime"))
            self.assertEqual(r.returncode, 0, r.stderr)
            # xinetd's own layout: "21 NOV 2026 17:47:44 UTC".
            self.assertRegex(r.stdout, r"^\d{1,2} [A-Z]{3} \d{4} \d\d:\d\d:\d\d \S+\n$")

    def test_echo_tcp_and_udp(self):
        for extra in ((), ("--udp",)):
            r = sockit("echo", *extra, "127.0.0.1", self.port("echo"), "hello xinetd", "2nd")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, "Sent: hello xinetd\nReceived: hello xinetd\n"
                                       "Sent: 2nd\nReceived: 2nd\n")

    def test_echo_long_tcp_line(self):
        line = "0123456789abcdef" * 8192  # 128 KiB: several 16 KiB pieces
        r = sockit("echo", "127.0.0.1", self.port("echo"), input=line + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "Sent: %s\nReceived: %s\n" % (line, line))

    def test_discard(self):
        r = sockit("discard", "127.0.0.1", self.port("discard"), input="z" * 200000)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "sent 200000 bytes to 127.0.0.1:%d\n" % self.port("discard"))

    def xinetd_ring(self):
        """The set of characters in 8000 bytes of xinetd's chargen stream."""
        with socket.create_connection(("127.0.0.1", self.port("chargen")), timeout=5) as s:
            data = b""
            while len(data) < 8000:
                chunk = s.recv(8192)
                if not chunk:
                    break
                data += chunk
        return set(data) - {13, 10}

    def check_ring_break(self, stderr, prefix):
        """The report of the first byte where a '!'..'}' ring leaves the
        RFC 864 ring: the RFC ring goes on to '~' where xinetd's returns to
        '!', inside a line (column < 72)."""
        m = re.search(prefix + r"byte (\d+) breaks the RFC 864 pattern: "
                      r"expected '~' \(0x7e\), got '!' \(0x21\)", stderr)
        self.assertIsNotNone(m, stderr)
        self.assertLess(int(m.group(1)) % 74, 72, stderr)

    def test_chargen_tcp_reports_xinetd_ring(self):
        ring = self.xinetd_ring()
        self.assertEqual(ring, set(range(ord("!"), ord("}") + 1)),
                         "xinetd's chargen ring changed; revisit this test")
        r = sockit("chargen", "127.0.0.1", self.port("chargen"))
        self.assertEqual(r.returncode, 1, r.stdout)
        self.check_ring_break(r.stderr, r"sockit: chargen 127\.0\.0\.1:%d: "
                              % self.port("chargen"))

    def test_chargen_udp(self):
        # xinetd answers with 1024 bytes: 13 full lines, then a line cut to
        # 60 characters and ended with CR LF anyway.  Depending on where
        # xinetd starts the datagram, the first byte off the RFC pattern is
        # where the rings part, or that early CR at offset 13 * 74 + 60.
        r = sockit("chargen", "--udp", "127.0.0.1", self.port("chargen"))
        self.assertEqual(r.returncode, 1, r.stdout)
        if "got CR" in r.stderr:
            self.assertRegex(r.stderr, r"datagram 1, byte 1022 breaks the RFC 864 pattern: "
                                       r"expected '.' \(0x[0-9a-f]{2}\), got CR \(0x0d\)")
        else:
            self.check_ring_break(r.stderr, r"datagram 1, ")


if __name__ == "__main__":
    sktest.main()
