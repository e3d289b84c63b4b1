# SPDX-License-Identifier: MIT
"""`sockit serve --inetd SERVICE` under real supervisors: openbsd-inetd or
xinetd (whichever is installed: Debian lets only one inet-superserver in),
each run in the foreground with dist/'s example entries moved to loopback
ports, for echo, discard, chargen, daytime, time and qotd over TCP
("nowait": one process per connection) and echo, time and daytime over UDP
("wait": one process serves datagrams until idle, then exits 0 and inetd
listens again), with the UDP safety rules in force (no reply to a
privileged source port);
systemd-socket-activate --inetd --accept on IPv6; and by hand, with a pipe
as standard input.  Every answer is checked byte for byte
(tests/svccheck.py).
"""

import getpass
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sktest  # noqa: E402
import svccheck  # noqa: E402

TCP_SERVICES = ["echo", "discard", "chargen", "daytime", "time", "qotd"]
UDP_SERVICES = ["echo", "time", "daytime"]
IDLE = 1.0


def find_inetd():
    path = shutil.which("inetd") or ("/usr/sbin/inetd" if os.path.exists("/usr/sbin/inetd")
                                     else None)
    if path is None:
        raise unittest.SkipTest("openbsd-inetd not installed (it conflicts with xinetd in "
                                "Debian: the xinetd tests run instead)")
    if os.geteuid() != 0:
        raise unittest.SkipTest("openbsd-inetd runs its services as a named user: needs root")
    return path


def inetd_conf_from_example(ports):
    """dist/inetd.conf.example, its lines for the services in `ports`
    ((proto, name) -> port) moved to 127.0.0.1:port, running the built
    sockit as the current user, UDP with a short idle timeout."""
    out = []
    with open(os.path.join(sktest.SOURCE, "dist", "inetd.conf.example")) as f:
        for line in f:
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            key = (fields[2], fields[0])
            if key not in ports:
                continue
            fields[0] = "127.0.0.1:%d" % ports[key]
            fields[4] = getpass.getuser()
            fields[5] = sktest.SOCKIT
            fields.append("-v")
            if fields[2] == "udp":
                fields += ["--idle-timeout", "%g" % IDLE]
            out.append(" ".join(fields))
    return "\n".join(out) + "\n"


class UnderInetd(unittest.TestCase):
    """openbsd-inetd running dist/inetd.conf.example's entries."""

    @classmethod
    def setUpClass(cls):
        inetd = find_inetd()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.ports = {}
        for proto, services in (("tcp", TCP_SERVICES), ("udp", UDP_SERVICES)):
            for name in services:
                cls.ports[(proto, name)] = sktest.free_port()
        conf = os.path.join(cls.tmp.name, "inetd.conf")
        with open(conf, "w") as f:
            f.write(inetd_conf_from_example(cls.ports))
        cls.inetd = sktest.Proc([inetd, "-d", conf])
        for (proto, name), port in cls.ports.items():
            cls.inetd.wait_line("ADD: 127.0.0.1:%d proto=%s" % (port, proto), stream="err")

    @classmethod
    def tearDownClass(cls):
        cls.inetd.stop()
        cls.tmp.cleanup()

    def test_tcp_services_byte_exact(self):
        for name in TCP_SERVICES:
            with self.subTest(service=name):
                svccheck.tcp(self, name, "127.0.0.1", self.ports[("tcp", name)])

    def test_tcp_connections_each_get_their_own_process(self):
        port = self.ports[("tcp", "echo")]
        for _ in range(5):
            svccheck.tcp(self, "echo", "127.0.0.1", port)

    def test_udp_wait_mode_answers_then_exits_when_idle(self):
        for name in UDP_SERVICES:
            port = self.ports[("udp", name)]
            with self.subTest(service=name):
                # Several datagrams, served by one process.
                for _ in range(3):
                    svccheck.udp(self, name, "127.0.0.1", port)
        # Each of those processes exits 0 once idle; inetd reaps them and
        # takes the socket back ("restored"), then a new datagram is served.
        port = self.ports[("udp", "time")]
        self.inetd.wait_line("restored %d" % port, timeout=IDLE + 5, stream="err")
        svccheck.udp(self, "time", "127.0.0.1", port)

    def test_udp_safety_rules_apply(self):
        port = self.ports[("udp", "echo")]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for src in range(700, 1000):
                try:
                    s.bind(("127.0.0.1", src))
                    break
                except OSError:
                    continue
            s.settimeout(1.0)
            s.sendto(b"from a privileged port", ("127.0.0.1", port))
            with self.assertRaises(socket.timeout):
                s.recvfrom(100)


ENTRY = re.compile(r"service (\w+)\n\{\n(.*?)\n\}", re.S)


def xinetd_entries():
    """(name, body) of every entry in dist/xinetd.d/sockit."""
    with open(os.path.join(sktest.SOURCE, "dist", "xinetd.d", "sockit")) as f:
        return ENTRY.findall(f.read())


def entry_proto(body):
    return re.search(r"protocol\s*=\s*(\w+)", body).group(1)


def xinetd_conf_from_example(ports):
    """dist/xinetd.d/sockit with its entries moved to 127.0.0.1 on `ports`
    ((proto, name) -> port), enabled, running the built sockit as the
    current user, UDP with a short idle timeout.  A service the file has
    no entry for is written after the file's echo entry for its protocol
    (the pattern the file's comment tells to follow)."""
    entries = {(entry_proto(body), name): body for name, body in xinetd_entries()}
    out = []
    for (proto, name), port in sorted(ports.items()):
        body = entries.get((proto, name))
        if body is None:
            body = entries[(proto, "echo")].replace("echo", name)
        body = re.sub(r"port\s*=\s*\d+", "port = %d\n\tbind = 127.0.0.1" % port, body)
        body = re.sub(r"user\s*=\s*\w+", "user = " + getpass.getuser(), body)
        body = re.sub(r"disable\s*=\s*yes", "disable = no", body)
        body = re.sub(r"flags\s*=\s*IPv6", "", body)
        body = body.replace("/usr/bin/sockit", sktest.SOCKIT)
        body = body.replace("--idle-timeout 10", "--idle-timeout %g" % IDLE)
        out.append("service %s\n{\n%s\n}\n" % (name, body))
    return "\n".join(out)


class UnderXinetd(unittest.TestCase):
    """xinetd running dist/xinetd.d/sockit's entries, and the same pattern
    for every other service.  (xinetd and openbsd-inetd conflict in Debian,
    both being an inet-superserver: where one is installed, the other's
    tests skip.)"""

    @classmethod
    def setUpClass(cls):
        xinetd = sktest.require_program("xinetd")
        if os.geteuid() != 0:
            raise unittest.SkipTest("xinetd runs its services as a named user: needs root")
        cls.ports = {}
        for proto, services in (("tcp", TCP_SERVICES), ("udp", UDP_SERVICES)):
            for name in services:
                cls.ports[(proto, name)] = sktest.free_port()
        for proto, name in [(entry_proto(b), n) for n, b in xinetd_entries()]:
            cls.ports.setdefault((proto, name), sktest.free_port())
        cls.tmp = tempfile.TemporaryDirectory()
        conf = os.path.join(cls.tmp.name, "xinetd.conf")
        with open(conf, "w") as f:
            f.write(xinetd_conf_from_example(cls.ports))
        cls.xinetd = sktest.Proc([xinetd, "-dontfork", "-f", conf, "-filelog",
                                  os.path.join(cls.tmp.name, "log"), "-pidfile",
                                  os.path.join(cls.tmp.name, "pid")])
        for (proto, name), port in cls.ports.items():
            if proto == "tcp":
                sktest.wait_port(port)

    @classmethod
    def tearDownClass(cls):
        cls.xinetd.stop()
        cls.tmp.cleanup()

    def test_tcp_services_byte_exact(self):
        for (proto, name), port in self.ports.items():
            if proto == "tcp":
                with self.subTest(service=name):
                    svccheck.tcp(self, name, "127.0.0.1", port)

    def test_udp_wait_mode(self):
        for (proto, name), port in self.ports.items():
            if proto == "udp":
                with self.subTest(service=name):
                    for _ in range(2):
                        svccheck.udp(self, name, "127.0.0.1", port)


class ByHand(unittest.TestCase):
    def run_inetd(self, service, data=b"", extra=()):
        return subprocess.run([sktest.SOCKIT, "serve", "--inetd", service] + list(extra),
                              input=data, capture_output=True, timeout=20)

    def test_pipe_echo(self):
        data = b"".join(b"line %d of a pipe\n" % i for i in range(2000))
        r = self.run_inetd("echo", data)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, data, b""))

    def test_pipe_daytime_time_qotd_discard(self):
        r = self.run_inetd("daytime")
        self.assertEqual(r.returncode, 0)
        svccheck.check_reply(self, "daytime", b"", r.stdout)
        r = self.run_inetd("time")
        svccheck.check_reply(self, "time", b"", r.stdout)
        r = self.run_inetd("qotd")
        svccheck.check_reply(self, "qotd", b"", r.stdout)
        r = self.run_inetd("discard", b"dropped\n" * 100)
        self.assertEqual((r.returncode, r.stdout), (0, b""))

    def test_pipe_chargen_until_reader_goes(self):
        r = subprocess.run("%s serve --inetd chargen | head -c 100000" % sktest.SOCKIT,
                           shell=True, capture_output=True, timeout=20)
        self.assertEqual(r.stdout, sktest.chargen_ref(0, 100000))

    def test_listening_socket_on_stdin_is_refused(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            r = subprocess.run([sktest.SOCKIT, "serve", "--inetd", "echo"], stdin=s.fileno(),
                               capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("sockit: --inetd: standard input is a listening socket", r.stderr)

    def test_unknown_service_is_a_usage_error(self):
        r = self.run_inetd("ntpx")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"sockit: serve: --inetd: unknown service 'ntpx'", r.stderr)


class UnderSystemdAccept(unittest.TestCase):
    def test_accept_inetd_ipv6(self):
        sa = sktest.require_program("systemd-socket-activate")
        host = "::1" if sktest.have_ipv6() else "127.0.0.1"
        port = sktest.free_port()
        listen = "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)
        with sktest.Proc([sa, "--accept", "--inetd", "-l", listen, sktest.SOCKIT, "serve",
                          "--inetd", "echo"]) as p:
            p.wait_line("as 3.", stream="err")
            for _ in range(3):
                svccheck.tcp(self, "echo", host, port)
        with sktest.Proc([sa, "--accept", "--inetd", "-l", listen, sktest.SOCKIT, "serve",
                          "--inetd", "chargen"]) as p:
            p.wait_line("as 3.", stream="err")
            svccheck.tcp(self, "chargen", host, port)

    def test_accept_auto_picks_the_service_by_port(self):
        # One socket for several services, as dist/systemd/sockit-inetd.socket.
        sa = sktest.require_program("systemd-socket-activate")
        base = sktest.free_port_base()
        argv = [sa, "--accept", "--inetd"]
        for off in (13, 37, 7):
            argv += ["-l", "127.0.0.1:%d" % (base + off)]
        with sktest.Proc(argv + [sktest.SOCKIT, "serve", "--inetd", "auto", "--port-base",
                                 base]) as p:
            p.wait_line("as 5.", stream="err")
            svccheck.tcp(self, "daytime", "127.0.0.1", base + 13)
            svccheck.tcp(self, "time", "127.0.0.1", base + 37)
            svccheck.tcp(self, "echo", "127.0.0.1", base + 7)

    def test_auto_without_a_socket_is_refused(self):
        r = subprocess.run([sktest.SOCKIT, "serve", "--inetd", "auto"], input=b"x",
                           capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"sockit: --inetd auto: standard input (not a socket) is on no "
                      b"service's port", r.stderr)


if __name__ == "__main__":
    sktest.main()
