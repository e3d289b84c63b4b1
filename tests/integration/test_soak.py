# SPDX-License-Identifier: MIT
"""The soak of `sockit serve` (tests/soak/soak.py), bounded for ctest: 15 s
of warm-up and 60 s of mixed load over every service, TCP and UDP, with
random resets and half-closes.  Every echoed and chargen byte verified;
descriptors back to the idle count; memory growth after the warm-up under
5%; no error line in the server's log.
"""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "soak"))
import sktest  # noqa: E402
import soak  # noqa: E402


class Soak(unittest.TestCase):

    def test_soak(self):
        r = soak.run(seconds=60, warmup=15, conns=16)
        print("\n" + soak.summary(r))
        self.assertEqual(r["exit_status"], 0)
        self.assertEqual(r["fd_after"], r["fd_idle"], "descriptors leaked")
        self.assertEqual(r["fd_before"], r["fd_idle"])
        if sktest.memory_is_measurable():
            self.assertLess(r["rss_growth_pct"], 5.0, "memory grew after the warm-up")
        self.assertEqual(r["server_error_lines"], [])
        self.assertGreater(r["operations"], 1000, "too little load to mean anything")
        self.assertGreater(r["echo_bytes_verified"], 0)
        self.assertGreater(r["chargen_bytes_verified"], 0)
        self.assertGreater(r["resets"], 0)
        self.assertGreater(r["half_closes"], 0)
        self.assertEqual(r["failures"], [])
        self.assertTrue(r["passed"])


if __name__ == "__main__":
    sktest.main()
