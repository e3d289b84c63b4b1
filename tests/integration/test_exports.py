# SPDX-License-Identifier: MIT
"""What the shared library shows the world, and the version everywhere.

- libsockit.so exports only sk_ symbols (hidden visibility and SK_API),
  and every function sockit.h declares with SK_API is among them;
- its soname is libsockit.so.<major>;
- the version CMake's project() sets (SOCKIT_VERSION, from the build) is
  what `sockit --version` prints (sk_version_string() of the linked
  library), what both man pages' .TH lines name, and what sockit.pc says.
"""

import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import sktest  # noqa: E402

VERSION = os.environ.get("SOCKIT_VERSION", "")
SHARED = os.path.join(sktest.BUILD, "libsockit.so")
HEADER = os.path.join(sktest.SOURCE, "include", "sockit.h")


def dynamic_symbols(path):
    out = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True,
                         text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def declared_functions():
    text = open(HEADER, encoding="utf-8").read()
    return set(re.findall(r"SK_API [^;(]*?\b(sk_\w+)\s*\(", text))


class Exports(unittest.TestCase):
    def setUp(self):
        sktest.require_program("nm")
        if not os.path.exists(SHARED):
            self.skipTest("no shared library in %s" % sktest.BUILD)

    def test_only_sk_symbols(self):
        syms = dynamic_symbols(SHARED)
        stray = sorted(s for s in syms if not s.startswith("sk_") or s.startswith("sk__"))
        self.assertEqual(stray, [], "exported without the sk_ prefix")

    def test_every_declared_function_exported(self):
        declared = declared_functions()
        self.assertGreater(len(declared), 100)
        self.assertEqual(sorted(declared - dynamic_symbols(SHARED)), [])

    def test_soname(self):
        out = subprocess.run(["readelf", "-d", SHARED], capture_output=True, text=True,
                             check=True).stdout
        self.assertIn("Library soname: [libsockit.so.%s]" % VERSION.split(".")[0], out)


class Version(unittest.TestCase):
    def setUp(self):
        if not VERSION:
            self.skipTest("SOCKIT_VERSION not set (run through ctest)")

    def test_command(self):
        out = subprocess.run([sktest.SOCKIT, "--version"], capture_output=True, text=True,
                             check=True).stdout
        self.assertEqual(out, "sockit %s\n" % VERSION)

    def test_man_pages(self):
        for page in ("sockit.1", "libsockit.3"):
            with open(os.path.join(sktest.SOURCE, "docs", page), encoding="utf-8") as f:
                th = next(l for l in f if l.startswith(".TH "))
            self.assertIn('"sockit %s"' % VERSION, th, page)

    def test_pkg_config_file(self):
        with open(os.path.join(sktest.BUILD, "sockit.pc")) as f:
            self.assertIn("Version: %s\n" % VERSION, f.read())


if __name__ == "__main__":
    sktest.main()
