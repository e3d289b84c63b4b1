#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tests/interop/test_ntp_chrony.py - sockit's NTP server and client against
real third-party peers from Debian, on loopback only, never touching the
system clock:

  - chronyd -Q (print the offset, set nothing) against `sockit serve
    --ntp-stratum 8`, over IPv4 and IPv6: accepted, offset under 10 ms;
  - chronyd -Q against a server that says leap 3 / stratum 16
    (--ntp-unsynced): refused ("No suitable source");
  - rdate -n (SNTP) against sockit serve: prints today's date and time;
  - `sockit ntp` against `chronyd -x -d` serving its local clock at
    stratum 8 on a loopback port: offset under 10 ms, stratum 8.

chronyd always runs with -Q or -x, a test configuration (no servers but
loopback ones, loopback bind addresses, no command sockets) and a timeout.
"""

import calendar
import os
import json
import re
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sktest  # noqa: E402

HAVE_V6 = sktest.have_ipv6()
OFFSET_LIMIT = 0.010  # seconds: both ends read the same clock


def start_ntp_serve(*args):
    """`sockit serve --services ntp` on a free port, loopback only; returns
    (proc, port) once its listening lines are out."""
    port = sktest.free_port(socket.SOCK_DGRAM)
    argv = [sktest.SOCKIT, "serve", "--services", "ntp", "--port", "ntp=%d" % port,
            "--bind", "127.0.0.1", "--threads", "1"]
    if HAVE_V6:
        argv += ["--bind", "::1"]
    proc = sktest.Proc(argv + list(args))
    deadline = time.monotonic() + 15
    while len([l for l in proc.lines() if l.startswith("listening ")]) < (2 if HAVE_V6 else 1):
        if time.monotonic() > deadline or proc.p.poll() is not None:
            proc.stop()
            raise AssertionError("serve did not start: %r" % proc.errlines())
        time.sleep(0.02)
    return proc, port


def chronyd_query(host, port):
    """Runs `chronyd -Q` against host:port; returns its combined output."""
    chronyd = sktest.require_program("chronyd")
    # -Q: query only, print the offset, never set the clock; -t: give up.
    argv = [chronyd, "-Q", "-t", "30", "-f", "/dev/null",
            "server %s port %d iburst maxsamples 1" % (host, port)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


class ChronyAgainstSockitServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proc, cls.port = start_ntp_serve("--ntp-stratum", "8")

    @classmethod
    def tearDownClass(cls):
        assert cls.proc.stop() == 0, cls.proc.errlines()

    def check_accepted(self, host):
        rc, out = chronyd_query(host, self.port)
        m = re.search(r"System clock wrong by (-?[0-9.]+) seconds", out)
        self.assertIsNotNone(m, "chronyd did not accept sockit's server:\n" + out)
        print("chronyd -Q against sockit serve [%s]: %s" % (host, m.group(0)))
        self.assertLess(abs(float(m.group(1))), OFFSET_LIMIT, out)

    def test_chronyd_accepts_ipv4(self):
        self.check_accepted("127.0.0.1")

    def test_chronyd_accepts_ipv6(self):
        if not HAVE_V6:
            self.skipTest("no IPv6 loopback")
        self.check_accepted("::1")

    def test_rdate_sntp(self):
        rdate = sktest.require_program("rdate")
        r = subprocess.run([rdate, "-n", "-p", "-o", str(self.port), "127.0.0.1"],
                           capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, TZ="UTC"))
        self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
        # "rdate: [127.0.0.1]\tWed Dec  2 09:49:27 UTC 2026" or without the zone.
        line = r.stdout.strip().splitlines()[-1]
        words = [w for w in line.split("\t")[-1].split() if w != "UTC"]
        t = calendar.timegm(time.strptime(" ".join(words), "%a %b %d %H:%M:%S %Y"))
        self.assertLessEqual(abs(t - time.time()), 2, line)


class ChronyRefusesUnsynced(unittest.TestCase):
    def test_leap3_server_is_refused(self):
        proc, port = start_ntp_serve("--ntp-unsynced")
        try:
            rc, out = chronyd_query("127.0.0.1", port)
        finally:
            proc.stop()
        self.assertNotIn("System clock wrong by", out)
        self.assertIn("No suitable source", out)


class SockitAgainstChronyd(unittest.TestCase):
    def test_sockit_ntp_agrees_with_chronyd(self):
        chronyd = sktest.require_program("chronyd")
        port = sktest.free_port(socket.SOCK_DGRAM)
        with tempfile.TemporaryDirectory() as tmp:
            os.chmod(tmp, 0o755)
            conf = os.path.join(tmp, "chrony.conf")
            with open(conf, "w") as f:
                f.write("port %d\n" % port)
                f.write("bindaddress 127.0.0.1\n")
                if HAVE_V6:
                    f.write("bindaddress ::1\n")
                # No command sockets (UDP or Unix), no drift file, no servers.
                f.write("cmdport 0\nbindcmdaddress /\n")
                f.write("local stratum 8\nallow 127.0.0.1\nallow ::1\n")
                f.write("pidfile %s\n" % os.path.join(tmp, "chronyd.pid"))
            # -x: never touch the clock; -d: stay in the foreground.
            srv = sktest.Proc([chronyd, "-x", "-d", "-f", conf])
            try:
                srv.wait_line("Disabled control of system clock", timeout=15, stream="err")
                r = self.ask(port, "127.0.0.1")
                if HAVE_V6:
                    self.ask(port, "::1")
            finally:
                srv.stop()
        print("sockit ntp against chronyd -x -d:\n" + r.stdout)

    def ask(self, port, host):
        # chronyd may still be settling its local reference: a few tries.
        for _ in range(10):
            r = sktest.run([sktest.SOCKIT, "ntp", "--count", "3", "--interval", "0.2",
                            "--timeout", "2", "--json", host, port], timeout=60)
            if r.returncode == 0:
                break
            time.sleep(0.5)
        self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
        obj = json.loads(r.stdout)
        self.assertEqual(obj["stratum"], 8, obj)
        self.assertEqual(len(obj["samples"]), 3, obj)
        self.assertLess(abs(obj["offset_ms"]), OFFSET_LIMIT * 1e3, obj)
        self.assertTrue(obj["synchronised"], obj)
        return sktest.run([sktest.SOCKIT, "ntp", "--count", "2", "--interval", "0.2",
                           host, port], timeout=60)


if __name__ == "__main__":
    sktest.main()
