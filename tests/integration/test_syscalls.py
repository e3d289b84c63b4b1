# SPDX-License-Identifier: MIT
"""The blocking path costs one system call per steady-state send or receive
when the socket has a timeout: bench/syscall_count runs bench/syscalls.c
(N rounds of send / recv / sendall / recv_exact over a socketpair and over a
loopback TCP pair, settimeout(5.0), data always ready) under `strace -c -f`
and this test checks its counts: ~2N send-type calls, ~2N receive-type calls
and no poll-type call.  Skipped when strace is missing or cannot trace, or
when the build is a sanitizer build.
"""

import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import sktest  # noqa: E402

SCRIPT = os.path.join(sktest.SOURCE, "bench", "syscall_count")
ROUNDS = 3000


class SyscallCountTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        sktest.require_program("strace")
        r = subprocess.run([sys.executable, SCRIPT, "--build", sktest.BUILD, "--json",
                            "--count", str(ROUNDS)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=240)
        if r.returncode == 77:
            raise unittest.SkipTest(r.stdout.strip())
        cls.returncode = r.returncode
        cls.output = r.stdout + r.stderr
        cls.report = json.loads(r.stdout) if r.stdout.startswith("{") else None

    def mode(self, name):
        self.assertIsNotNone(self.report, self.output)
        for m in self.report["modes"]:
            if m["mode"] == name:
                return m
        self.fail("no %s mode in %s" % (name, self.output))

    def check(self, name):
        m = self.mode(name)
        self.assertIn("send_calls", m, m.get("error"))
        want = 2 * ROUNDS
        # The loop itself is exactly `want` of each; the slack is process
        # setup (the loader's read, the final write of the result line).
        self.assertGreaterEqual(m["send_calls"], want, m)
        self.assertLessEqual(m["send_calls"], want + 16, m)
        self.assertGreaterEqual(m["recv_calls"], want, m)
        self.assertLessEqual(m["recv_calls"], want + 16, m)
        self.assertLessEqual(m["wait_calls"], 4, m)
        self.assertTrue(m["ok"], m)

    def test_socketpair_one_call_per_operation(self):
        self.check("unix")

    def test_loopback_tcp_one_call_per_operation(self):
        self.check("tcp")

    def test_script_exit_status_agrees(self):
        self.assertEqual(self.returncode, 0 if self.report and self.report["ok"] else 1,
                         self.output)


if __name__ == "__main__":
    sktest.main()
