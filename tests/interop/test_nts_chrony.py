#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tests/interop/test_nts_chrony.py - `sockit ntp --nts` against chronyd
serving NTS (RFC 8915) on loopback, never touching the clock (-x):

  - --nts-ke-only prints what chronyd's key exchange offered: TLSv1.3,
    ALPN ntske/1, AEAD_AES_SIV_CMAC_256, 8 cookies, the NTP port it names;
  - a full run reports authenticated samples (`nts: yes`, `"nts": true`),
    offset under 10 ms, stratum 8, and keeps its 8 cookies by asking for
    one fresh cookie per cookie used;
  - failures name their step and exit 1: a certificate from an unknown CA
    or for another name, no key-exchange server (all TLS).  The NTP-side
    steps (NTSN, reply authentication failed) need a server that hands
    out cookies and then refuses them, which chronyd cannot be made to do
    here: tests/integration/test_nts_client.py covers them against sockit
    serve --nts and a key exchange written in Python.

chronyd runs with -x -d -u root (it must read the test key it is given),
a configuration with loopback addresses only, no command sockets, and a
timeout.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sktest  # noqa: E402
import tlscerts  # noqa: E402

OFFSET_LIMIT_MS = 10.0


class SockitAgainstChronydNts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        chronyd = sktest.require_program("chronyd")
        if "+NTS" not in subprocess.run([chronyd, "-v"], capture_output=True, text=True).stdout:
            raise unittest.SkipTest("chronyd built without NTS")
        cls.tmp = tempfile.TemporaryDirectory()
        os.chmod(cls.tmp.name, 0o755)
        cls.certs = tlscerts.make(os.path.join(cls.tmp.name, "certs"))
        cls.port = sktest.free_port(socket.SOCK_DGRAM)
        cls.ke_port = sktest.free_port()
        conf = os.path.join(cls.tmp.name, "chrony.conf")
        with open(conf, "w") as f:
            f.write("port %d\nntsport %d\n" % (cls.port, cls.ke_port))
            f.write("bindaddress 127.0.0.1\n")
            f.write("cmdport 0\nbindcmdaddress /\n")
            f.write("local stratum 8\nallow 127.0.0.1\n")
            f.write("ntsserverkey %s\nntsservercert %s\n" % (cls.certs.path("server")[1],
                                                           cls.certs.path("server")[0]))
            f.write("ntsdumpdir %s\n" % cls.tmp.name)
            f.write("pidfile %s\n" % os.path.join(cls.tmp.name, "chronyd.pid"))
        # -x: never touch the clock; -d: foreground; -u root: read the key.
        cls.srv = sktest.Proc([chronyd, "-x", "-d", "-u", "root", "-f", conf])
        cls.srv.wait_line("Disabled control of system clock", timeout=15, stream="err")
        # The key-exchange port opens right after; wait for it.
        sktest.wait_port(cls.ke_port, timeout=15)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        print("chronyd -x -d (NTS) said:\n  " + "\n  ".join(cls.srv.errlines()))
        cls.tmp.cleanup()

    def sockit(self, *args):
        return sktest.run([sktest.SOCKIT, "ntp", "--nts", "--nts-port", self.ke_port,
                           "--cafile", self.certs.ca] + list(args), timeout=60)

    def test_ke_only(self):
        r = self.sockit("--nts-ke-only", "127.0.0.1")
        self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
        print("sockit ntp --nts --nts-ke-only against chronyd:\n" + r.stdout)
        self.assertIn("TLSv1.3, ALPN ntske/1", r.stdout)
        self.assertIn("aead AEAD_AES_SIV_CMAC_256 (15)", r.stdout)
        self.assertIn("cookies 8,", r.stdout)
        self.assertIn("port %d" % self.port, r.stdout)
        r = self.sockit("--nts-ke-only", "--json", "127.0.0.1")
        obj = json.loads(r.stdout)
        self.assertEqual((obj["tls"], obj["alpn"], obj["aead_id"], obj["cookies"], obj["ntp_port"]),
                         ("TLSv1.3", "ntske/1", 15, 8, self.port), obj)

    def test_authenticated_time(self):
        # chronyd may still be settling its local reference: a few tries.
        for _ in range(10):
            r = self.sockit("--count", "3", "--interval", "0.2", "--timeout", "2", "--json",
                            "127.0.0.1")
            if r.returncode == 0:
                break
            time.sleep(0.5)
        self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
        obj = json.loads(r.stdout)
        self.assertTrue(obj["nts"], obj)
        self.assertEqual(obj["aead"], "AEAD_AES_SIV_CMAC_256")
        self.assertEqual(obj["cookies_left"], 8, obj)
        self.assertEqual(len(obj["samples"]), 3, obj)
        self.assertEqual(obj["stratum"], 8, obj)
        self.assertLess(abs(obj["offset_ms"]), OFFSET_LIMIT_MS, obj)
        r = self.sockit("--count", "2", "--interval", "0.2", "127.0.0.1")
        self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
        self.assertIn("nts: yes, AEAD_AES_SIV_CMAC_256, 8 cookies left", r.stdout)
        print("sockit ntp --nts against chronyd:\n" + r.stdout)

    def check_step(self, args, step):
        r = sktest.run([sktest.SOCKIT, "ntp", "--nts", "--timeout", "3"] + args, timeout=60)
        self.assertEqual(r.returncode, 1, (r.stdout, r.stderr))
        self.assertIn(step, r.stderr)
        return r.stderr

    def test_failures_name_their_step(self):
        ke = ["--nts-port", str(self.ke_port)]
        self.check_step(ke + ["--cafile", self.certs.otherca, "127.0.0.1"],
                        ": TLS: certificate verify failed")
        self.check_step(ke + ["--cafile", self.certs.ca, "--servername", "wrong.example",
                              "127.0.0.1"], "TLS: certificate verify failed: hostname mismatch")
        self.check_step(["--nts-port", str(sktest.free_port()), "--cafile", self.certs.ca,
                         "127.0.0.1"], ": TLS: ")

    def test_usage(self):
        r = sktest.run([sktest.SOCKIT, "ntp", "--cafile", "x", "127.0.0.1"])
        self.assertEqual(r.returncode, 2, r.stderr)
        r = sktest.run([sktest.SOCKIT, "ntp", "--nts", "--nts-port", "70000", "127.0.0.1"])
        self.assertEqual(r.returncode, 2, r.stderr)


if __name__ == "__main__":
    sktest.main()
