# SPDX-License-Identifier: MIT
"""`sockit serve`: every service over TCP and UDP, IPv4 and IPv6, checked
byte for byte by python stdlib clients; the listening lines; quote file
reloads on SIGHUP; usage and bind errors.
"""

import calendar
import os
import signal
import socket
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import sktest  # noqa: E402

SERVICES = sktest.service_ports()  # {name: standard port}, from svc_table
HAVE_V6 = sktest.have_ipv6()
HOSTS = ["127.0.0.1"] + (["::1"] if HAVE_V6 else [])


CHARGEN_CYCLE = sktest.chargen_ref(0, 7030)


def rfc868_to_unix(value, now):
    """Unix time of a 32-bit RFC 868 value, in the era nearest `now`."""
    base = value - 2208988800
    era = round((now - base) / 2**32)
    return base + era * 2**32


def udp_ask(host, port, payload, timeout=2.0, family=None):
    """Sends one datagram, returns the reply (or None when nothing came)."""
    fam = family or (socket.AF_INET6 if ":" in host else socket.AF_INET)
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(payload, (host, port))
        try:
            data, _ = s.recvfrom(70000)
            return data
        except socket.timeout:
            return None


def tcp_fetch(host, port, timeout=5.0):
    with socket.create_connection((host, port), timeout=timeout) as s:
        return sktest.recv_all(s, timeout)


def check_quote(tc, q):
    tc.assertGreater(len(q), 2)
    tc.assertLess(len(q), 512)
    tc.assertTrue(q.endswith(b"\r\n"), q)
    for b in q:
        tc.assertTrue(32 <= b <= 126 or b in (10, 13), "byte %d in %r" % (b, q))


def start_serve(args, nlines):
    """Starts sockit serve and waits for its `nlines` listening lines."""
    p = sktest.Proc([sktest.SOCKIT, "serve"] + [str(a) for a in args])
    deadline = time.monotonic() + 15
    while len([l for l in p.lines() if l.startswith("listening ")]) < nlines:
        if time.monotonic() > deadline or p.p.poll() is not None:
            p.stop()
            raise AssertionError("serve did not start: out=%r err=%r" % (p.lines(), p.errlines()))
        time.sleep(0.02)
    return p


class ServeAll(unittest.TestCase):
    """One daemon with all seven services on 127.0.0.1 and ::1."""

    @classmethod
    def setUpClass(cls):
        cls.base = sktest.free_port_base()
        args = ["--port-base", cls.base, "--threads", "2", "--udp-limit", "0"]
        for h in HOSTS:
            args += ["--bind", h]
        cls.proc = start_serve(args, 13 * len(HOSTS))

    @classmethod
    def tearDownClass(cls):
        rc = cls.proc.stop(signal.SIGTERM)
        assert rc == 0, "serve exited %r; stderr=%r" % (rc, cls.proc.errlines())

    def port(self, name):
        return self.base + SERVICES[name]

    def test_listening_lines(self):
        lines = [l for l in self.proc.lines() if l.startswith("listening ")]
        want = set()
        for h in HOSTS:
            shown = "[%s]" % h if ":" in h else h
            for name, std in SERVICES.items():
                for proto in sktest.services()[name][0]:
                    want.add("listening service=%s proto=%s addr=%s:%d"
                             % (name, proto, shown, self.base + std))
        self.assertEqual(set(lines), want)
        self.assertEqual(len(lines), len(want))

    def test_echo_tcp_all_byte_values(self):
        payload = bytes(range(256)) * 64 + os.urandom(300000) + bytes(range(255, -1, -1))
        for host in HOSTS:
            with self.subTest(host=host):
                with socket.create_connection((host, self.port("echo")), timeout=10) as s:
                    sender = threading.Thread(target=lambda: (s.sendall(payload),
                                                              s.shutdown(socket.SHUT_WR)))
                    sender.start()
                    got = sktest.recv_all(s, 10)
                    sender.join(10)
                self.assertEqual(len(got), len(payload))
                self.assertEqual(got, payload)

    def test_echo_udp(self):
        for host in HOSTS:
            with self.subTest(host=host):
                for payload in (bytes(range(256)), b"hello\r\n", b"", os.urandom(1400)):
                    self.assertEqual(udp_ask(host, self.port("echo"), payload), payload)

    def test_discard(self):
        for host in HOSTS:
            with self.subTest(host=host):
                with socket.create_connection((host, self.port("discard")), timeout=10) as s:
                    s.sendall(os.urandom(1 << 20))
                    s.shutdown(socket.SHUT_WR)
                    self.assertEqual(sktest.recv_all(s, 10), b"")
                self.assertIsNone(udp_ask(host, self.port("discard"), b"drop me", timeout=0.5))

    def test_chargen_tcp_many_reads(self):
        for host in HOSTS:
            with self.subTest(host=host):
                with socket.create_connection((host, self.port("chargen")), timeout=10) as s:
                    got = bytearray()
                    sizes = [1, 73, 74, 75, 4096, 7030, 65536, 100]
                    i = 0
                    while len(got) < 3 << 20:
                        b = s.recv(sizes[i % len(sizes)])
                        self.assertTrue(b, "chargen closed early")
                        got += b
                        i += 1
                # The stream is the 7030-byte cycle over and over.
                reps = len(got) // 7030 + 1
                self.assertEqual(bytes(got), (CHARGEN_CYCLE * reps)[:len(got)])

    def test_chargen_ignores_input(self):
        with socket.create_connection(("127.0.0.1", self.port("chargen")), timeout=10) as s:
            s.sendall(b"x" * 100000)
            got = bytearray()
            while len(got) < 200000:
                got += s.recv(65536)
            self.assertEqual(bytes(got), (CHARGEN_CYCLE * (len(got) // 7030 + 1))[:len(got)])

    def test_chargen_udp(self):
        lines = [sktest.chargen_ref(k * 74, 512) for k in range(95)]
        sizes = set()
        for host in HOSTS:
            with self.subTest(host=host):
                for _ in range(40):
                    d = udp_ask(host, self.port("chargen"), b"")
                    self.assertIsNotNone(d)
                    self.assertLessEqual(len(d), 512)
                    # It starts at the beginning of some line of the pattern.
                    self.assertTrue(any(l[:len(d)] == d for l in lines), d[:80])
                    sizes.add(len(d))
        self.assertGreater(len(sizes), 5, "reply sizes should vary: %r" % sizes)

    def test_qotd(self):
        for host in HOSTS:
            with self.subTest(host=host):
                check_quote(self, tcp_fetch(host, self.port("qotd")))
                check_quote(self, udp_ask(host, self.port("qotd"), b"?"))

    def check_daytime(self, line):
        self.assertTrue(line.endswith(b"\r\n"), line)
        t = calendar.timegm(time.strptime(line.decode("ascii"), "%a %b %d %H:%M:%S %Y\r\n"))
        self.assertLessEqual(abs(t - time.time()), 2, line)
        # ctime layout: a one-digit day is padded with a space.
        self.assertEqual(len(line), 26, line)

    def test_daytime(self):
        for host in HOSTS:
            with self.subTest(host=host):
                self.check_daytime(tcp_fetch(host, self.port("daytime")))
                self.check_daytime(udp_ask(host, self.port("daytime"), b""))

    def check_time(self, data):
        self.assertEqual(len(data), 4, data)
        value = int.from_bytes(data, "big")
        self.assertLessEqual(abs(rfc868_to_unix(value, time.time()) - time.time()), 2)

    def test_time(self):
        for host in HOSTS:
            with self.subTest(host=host):
                self.check_time(tcp_fetch(host, self.port("time")))
                # Any datagram gets the time, an empty one too.
                self.check_time(udp_ask(host, self.port("time"), b""))
                self.check_time(udp_ask(host, self.port("time"), b"what time is it?"))

    def test_oneshot_services_ignore_input(self):
        for name in ("time", "daytime", "qotd"):
            with socket.create_connection(("127.0.0.1", self.port(name)), timeout=5) as s:
                s.sendall(b"some request\r\n")
                data = sktest.recv_all(s, 5)
            self.assertGreater(len(data), 3, name)


class ServeOptions(unittest.TestCase):

    def test_help(self):
        r = sktest.run([sktest.SOCKIT, "serve", "--help"])
        self.assertEqual(r.returncode, 0)
        self.assertTrue(r.stdout.startswith("usage: sockit serve [--port-base N]"), r.stdout)
        for opt in ("--port SERVICE=PORT", "--bind ADDR", "--services LIST", "--no-tcp",
                    "--threads N", "--max-conns N", "--max-per-source N",
                    "--idle-timeout SECONDS", "--udp-limit", "--qotd-file FILE",
                    "--user NAME", "-v"):
            self.assertIn(opt, r.stdout)

    def test_usage_errors(self):
        cases = [
            ["--port-base", "x"], ["--port-base", "70000"], ["--port-base", "-1"],
            ["--services", "echo,bogus"], ["--services", ""], ["--services", ","],
            ["--port", "echo"], ["--port", "=5"], ["--port", "nope=5000"],
            ["--port", "echo=99999"], ["--port", "echo=12x"],
            ["--port", "echo=9000", "--port", "time=9000"],
            ["--no-tcp", "--no-udp"], ["--threads", "-1"], ["--threads", "many"],
            ["--max-conns", "1e3"], ["--max-per-source", ""], ["--idle-timeout", "abc"],
            ["--idle-timeout", "-5"], ["--udp-limit", "-5"], ["--udp-limit", "fast"],
            ["--daytime-format", "iso"], ["--frobnicate"], ["--port-base"],
            ["stray-argument"], ["--user", "no_such_user_sockit"],
        ]
        for argv in cases:
            with self.subTest(argv=argv):
                r = sktest.run([sktest.SOCKIT, "serve"] + argv, timeout=10)
                self.assertEqual(r.returncode, 2, (r.stdout, r.stderr))
                err = r.stderr.splitlines()
                self.assertEqual(len(err), 1, r.stderr)
                self.assertTrue(err[0].startswith("sockit: "), err[0])
                self.assertEqual(r.stdout, "")

    def test_bad_quote_files(self):
        with tempfile.TemporaryDirectory() as d:
            bad = os.path.join(d, "bad")
            with open(bad, "w") as f:
                f.write("fine\n%\n" + "x" * 600 + "\n")
            r = sktest.run([sktest.SOCKIT, "serve", "--qotd-file", bad], timeout=10)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertEqual(r.stderr.strip(), "sockit: --qotd-file %s: line 3: the quote "
                             "starting at line 3 is longer than 511 bytes" % bad)
            with open(bad, "wb") as f:
                f.write(b"caf\xc3\xa9\n")
            r = sktest.run([sktest.SOCKIT, "serve", "--qotd-file", bad], timeout=10)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("line 1: byte 0xc3 is not printable ASCII", r.stderr)
            missing = os.path.join(d, "missing")
            r = sktest.run([sktest.SOCKIT, "serve", "--qotd-file", missing], timeout=10)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(r.stderr.strip(),
                             "sockit: --qotd-file %s: No such file or directory" % missing)

    def test_bind_failure_exits_1(self):
        base = sktest.free_port_base()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as hog:
            hog.bind(("127.0.0.1", base + 13))
            hog.listen()
            r = sktest.run([sktest.SOCKIT, "serve", "--port-base", base, "--bind", "127.0.0.1"],
                           timeout=10)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("sockit: bind 127.0.0.1:%d (daytime/tcp): " % (base + 13), r.stderr)
        self.assertNotIn("listening", r.stdout)

    def test_selected_services_and_ports(self):
        base = sktest.free_port_base()
        port = sktest.free_port()
        p = start_serve(["--port-base", base, "--bind", "127.0.0.1", "--services", "time,daytime",
                         "--no-udp", "--port", "time=%d" % port,
                         "--daytime-format", "rfc3339"], 2)
        with p:
            lines = sorted(l for l in p.lines() if l.startswith("listening"))
            self.assertEqual(lines, sorted([
                "listening service=time proto=tcp addr=127.0.0.1:%d" % port,
                "listening service=daytime proto=tcp addr=127.0.0.1:%d" % (base + 13)]))
            data = tcp_fetch("127.0.0.1", port)
            self.assertEqual(len(data), 4)
            line = tcp_fetch("127.0.0.1", base + 13).decode()
            t = calendar.timegm(time.strptime(line, "%Y-%m-%dT%H:%M:%SZ\r\n"))
            self.assertLessEqual(abs(t - time.time()), 2)
            # The unselected services and UDP are not there.
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", base + 7), timeout=2).close()
            self.assertIsNone(udp_ask("127.0.0.1", port, b"", timeout=0.5))
            self.assertEqual(p.stop(), 0)

    def test_connection_limits_and_idle_timeout(self):
        base = sktest.free_port_base()
        p = start_serve(["--port-base", base, "--bind", "127.0.0.1", "--services", "echo",
                         "--no-udp", "--max-per-source", "2", "--idle-timeout", "0.5"], 1)
        with p:
            a = socket.create_connection(("127.0.0.1", base + 7), timeout=5)
            b = socket.create_connection(("127.0.0.1", base + 7), timeout=5)
            for s in (a, b):
                s.sendall(b"admitted")
                self.assertEqual(s.recv(100), b"admitted")
            # A third from the same address is closed without service.
            with socket.create_connection(("127.0.0.1", base + 7), timeout=5) as c:
                try:
                    c.sendall(b"refused?")
                    self.assertEqual(c.recv(100), b"")
                except ConnectionResetError:
                    pass
            # The two admitted ones go quiet and are closed after ~0.5 s.
            t0 = time.monotonic()
            self.assertEqual(a.recv(100), b"")
            self.assertEqual(b.recv(100), b"")
            took = time.monotonic() - t0
            self.assertGreater(took, 0.3)
            self.assertLess(took, 3.0)
            a.close()
            b.close()
            self.assertEqual(p.stop(), 0)
            stop = p.wait_line("event=stop", stream="err")
            self.assertIn(" refused_limit=1 ", stop)
            self.assertIn(" idle_closed=2 ", stop)

    def test_ipv4_and_ipv6_wildcards_together(self):
        if not HAVE_V6:
            self.skipTest("no IPv6 on this machine")
        base = sktest.free_port_base()
        p = start_serve(["--port-base", base, "--bind", "0.0.0.0", "--bind", "::",
                         "--services", "time", "--no-udp"], 2)
        with p:
            lines = sorted(l for l in p.lines() if l.startswith("listening"))
            self.assertEqual(lines, [
                "listening service=time proto=tcp addr=0.0.0.0:%d" % (base + 37),
                "listening service=time proto=tcp addr=[::]:%d" % (base + 37)])
            for host in HOSTS:
                self.assertEqual(len(tcp_fetch(host, base + 37)), 4)
            self.assertEqual(p.stop(), 0)

    def test_default_bind_is_dual_stack(self):
        base = sktest.free_port_base()
        p = start_serve(["--port-base", base, "--services", "time", "--no-udp"], 1)
        with p:
            line = [l for l in p.lines() if l.startswith("listening")][0]
            if HAVE_V6:
                self.assertEqual(line, "listening service=time proto=tcp addr=[::]:%d" % (base + 37))
            else:
                self.assertEqual(line, "listening service=time proto=tcp addr=0.0.0.0:%d" % (base + 37))
            for host in HOSTS:
                self.assertEqual(len(tcp_fetch(host, base + 37)), 4)
            self.assertEqual(p.stop(), 0)


class ServeLogs(unittest.TestCase):

    def test_verbose_logs_each_connection(self):
        base = sktest.free_port_base()
        p = start_serve(["--port-base", base, "--bind", "127.0.0.1", "--services", "time",
                         "--no-udp", "--threads", "1", "-v"], 1)
        with p:
            p.wait_line("event=start listeners=1 threads=1", stream="err")
            with socket.create_connection(("127.0.0.1", base + 37), timeout=5) as s:
                port = s.getsockname()[1]
                self.assertEqual(len(sktest.recv_all(s)), 4)
            p.wait_line("event=open peer=127.0.0.1:%d " % port, stream="err")
            p.wait_line(lambda l: l.startswith("event=close peer=127.0.0.1:%d " % port)
                        and "bytes_out=4" in l, stream="err")
            self.assertEqual(p.stop(), 0)
            stop = p.wait_line("event=stop ", stream="err")
            self.assertIn(" accepted=1 ", stop)
            self.assertIn(" bytes_out=4 ", stop)

    def test_quiet_without_v(self):
        base = sktest.free_port_base()
        p = start_serve(["--port-base", base, "--bind", "127.0.0.1", "--services", "time",
                         "--no-udp"], 1)
        with p:
            for _ in range(5):
                self.assertEqual(len(tcp_fetch("127.0.0.1", base + 37)), 4)
            self.assertEqual(p.stop(), 0)
            self.assertEqual([l for l in p.errlines() if "peer=" in l], [])


class ServeUser(unittest.TestCase):

    def test_user_drops_root_after_binding(self):
        if os.geteuid() != 0:
            self.skipTest("--user needs root")
        try:
            import pwd
            nobody = pwd.getpwnam("nobody")
        except KeyError:
            self.skipTest("no user 'nobody'")
        base = sktest.free_port_base()
        p = start_serve(["--port-base", base, "--bind", "127.0.0.1", "--services", "time",
                         "--user", "nobody"], 2)
        with p:
            with open("/proc/%d/status" % p.p.pid) as f:
                status = dict(l.split(":", 1) for l in f if ":" in l)
            self.assertEqual(status["Uid"].split(), [str(nobody.pw_uid)] * 4)
            self.assertEqual(status["Gid"].split(), [str(nobody.pw_gid)] * 4)
            p.wait_line("event=user user=nobody", stream="err")
            self.assertEqual(len(tcp_fetch("127.0.0.1", base + 37)), 4)
            self.assertEqual(p.stop(), 0)


class ServeReload(unittest.TestCase):

    def test_sighup_rereads_quote_file(self):
        base = sktest.free_port_base()
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "quotes")
            with open(path, "w") as f:
                f.write("Alpha one\n%\nAlpha two\nsecond line\n%\n")
            p = start_serve(["--port-base", base, "--bind", "127.0.0.1", "--services", "qotd",
                             "--udp-limit", "0", "--qotd-file", path], 2)
            with p:
                port = base + 17
                seen = {tcp_fetch("127.0.0.1", port) for _ in range(30)}
                self.assertEqual(seen, {b"Alpha one\r\n", b"Alpha two\r\nsecond line\r\n"})
                with open(path + ".new", "w") as f:
                    f.write("Beta\n")
                os.rename(path + ".new", path)
                p.p.send_signal(signal.SIGHUP)
                p.wait_line("event=reload file=%s quotes=1" % path, stream="err")
                self.assertEqual(tcp_fetch("127.0.0.1", port), b"Beta\r\n")
                self.assertEqual(udp_ask("127.0.0.1", port, b""), b"Beta\r\n")
                # A bad file is refused and the old quotes stay.
                with open(path, "w") as f:
                    f.write("tab\there\n")
                p.p.send_signal(signal.SIGHUP)
                p.wait_line("event=reload error=", stream="err")
                err = [l for l in p.errlines() if "event=reload error=" in l][0]
                self.assertIn("line 1: byte 0x09 is not printable ASCII", err)
                self.assertEqual(tcp_fetch("127.0.0.1", port), b"Beta\r\n")
                self.assertEqual(p.stop(), 0)


if __name__ == "__main__":
    sktest.main()
