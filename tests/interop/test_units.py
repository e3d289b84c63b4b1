# SPDX-License-Identifier: MIT
"""The systemd units in dist/systemd/: `systemd-analyze verify` accepts
them (with ExecStart= pointing at the built sockit, since /usr/bin/sockit
is only there once installed, and --man=no, since the man page is only
installed with the package), and `systemd-analyze security` rates both
services "OK" or better.  Every unit and config file in dist/ starts with
its SPDX line.
"""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sktest  # noqa: E402

DIST = os.path.join(sktest.SOURCE, "dist")
UNITS = ["sockit.service", "sockit.socket", "sockit-inetd.socket", "sockit-inetd@.service"]


class Units(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.analyze = sktest.require_program("systemd-analyze")
        cls.tmp = tempfile.TemporaryDirectory()
        for name in UNITS:
            with open(os.path.join(DIST, "systemd", name)) as f:
                text = f.read().replace("/usr/bin/sockit", sktest.SOCKIT)
            with open(os.path.join(cls.tmp.name, name), "w") as f:
                f.write(text)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def analyze_run(self, *args):
        return subprocess.run([self.analyze] + list(args), cwd=self.tmp.name,
                              capture_output=True, text=True, timeout=60)

    def test_verify(self):
        r = self.analyze_run("verify", "--man=no", *["./" + u for u in UNITS])
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))

    def test_security_ok_or_better(self):
        for unit in ("sockit.service", "sockit-inetd@.service"):
            r = self.analyze_run("security", "--offline=true", "./" + unit)
            m = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", r.stdout)
            self.assertIsNotNone(m, r.stdout + r.stderr)
            print("%s: %s %s" % (unit, m.group(1), m.group(2)))
            self.assertIn(m.group(2), ("SAFE", "OK"), r.stdout)

    def test_spdx_lines(self):
        files = [p for p in glob.glob(os.path.join(DIST, "**"), recursive=True)
                 if os.path.isfile(p)]
        self.assertGreaterEqual(len(files), 6, files)
        for path in files:
            with open(path) as f:
                self.assertEqual(f.readline().rstrip("\n"), "# SPDX-License-Identifier: MIT",
                                 path)


if __name__ == "__main__":
    if shutil.which("systemd-analyze") is None:
        print("skipped: systemd-analyze not installed (package systemd)")
        sys.exit(77)
    sktest.main()
