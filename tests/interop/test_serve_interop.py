# SPDX-License-Identifier: MIT
"""`sockit serve` against real third-party clients: rdate (RFC 868 over TCP
and UDP), socat and OpenBSD netcat (echo, daytime, chargen).
"""

import calendar
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
import sktest  # noqa: E402
from test_serve import CHARGEN_CYCLE, start_serve  # noqa: E402


class ServeInterop(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.base = sktest.free_port_base()
        cls.proc = start_serve(["--port-base", cls.base, "--bind", "127.0.0.1",
                                "--udp-limit", "0", "--threads", "2"], 12)

    @classmethod
    def tearDownClass(cls):
        assert cls.proc.stop() == 0, cls.proc.errlines()

    def rdate(self, udp):
        rdate = sktest.require_program("rdate")
        argv = [rdate, "-p"] + (["-u"] if udp else []) + ["-o", self.base + 37, "127.0.0.1"]
        env = dict(os.environ, TZ="UTC")
        r = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                           timeout=20, env=env)
        self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
        # "rdate: [127.0.0.1]\tSat Nov 21 17:31:49 UTC 2026"
        line = r.stdout.strip().splitlines()[-1]
        words = line.split("\t")[-1].split()
        self.assertEqual(words[4], "UTC", line)
        date = " ".join(words[:4] + words[5:])
        t = calendar.timegm(time.strptime(date, "%a %b %d %H:%M:%S %Y"))
        self.assertLessEqual(abs(t - time.time()), 2, line)

    def test_rdate_tcp(self):
        self.rdate(udp=False)

    def test_rdate_udp(self):
        self.rdate(udp=True)

    def test_socat_echo_tcp(self):
        socat = sktest.require_program("socat")
        data = "".join("line %d of the echo test\n" % i for i in range(2000))
        r = sktest.run([socat, "-t", "5", "-", "TCP:127.0.0.1:%d" % (self.base + 7)],
                       input=data, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, data)

    def test_socat_echo_udp(self):
        socat = sktest.require_program("socat")
        r = sktest.run([socat, "-t", "2", "-", "UDP:127.0.0.1:%d" % (self.base + 7)],
                       input="one datagram\n", timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "one datagram\n")

    def test_netcat_echo_tcp(self):
        nc = sktest.require_program("nc")
        data = "".join("netcat %d\n" % i for i in range(5000))
        r = sktest.run([nc, "-N", "127.0.0.1", self.base + 7], input=data, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, data)

    def test_netcat_echo_udp(self):
        nc = sktest.require_program("nc")
        r = sktest.run([nc, "-u", "-w", "1", "127.0.0.1", self.base + 7],
                       input="udp through netcat\n", timeout=20)
        self.assertEqual(r.stdout, "udp through netcat\n", r.stderr)

    def test_netcat_daytime_and_chargen(self):
        nc = sktest.require_program("nc")
        r = sktest.run([nc, "-d", "127.0.0.1", self.base + 13], timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        t = calendar.timegm(time.strptime(r.stdout, "%a %b %d %H:%M:%S %Y\r\n"))
        self.assertLessEqual(abs(t - time.time()), 2)
        # netcat copies chargen until we stop it: read 200 kB of its output.
        p = subprocess.Popen([nc, "-d", "127.0.0.1", str(self.base + 19)],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            out = b""
            while len(out) < 200000:
                b = p.stdout.read1(65536)
                if not b:
                    break
                out += b
        finally:
            p.kill()
            p.wait(10)
            p.stdout.close()
        self.assertGreaterEqual(len(out), 200000)
        self.assertEqual(out, (CHARGEN_CYCLE * (len(out) // 7030 + 1))[:len(out)])


if __name__ == "__main__":
    sktest.main()
