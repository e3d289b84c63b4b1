# SPDX-License-Identifier: MIT
"""Every public function in include/sockit.h is documented and exercised.

Parses the header for SK_API declarations and checks, for each function:
  - a contract comment sits directly above its declaration (or above the
    group of declarations it belongs to), and
  - some C unit test calls it (tests/unit/*.c), and
  - the library's man page (docs/libsockit.3) names it.
This keeps the promise that each item of the programming model maps to a
public function with a contract and a test, as the API grows.
"""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sktest  # noqa: E402

HEADER = os.path.join(sktest.SOURCE, "include", "sockit.h")
UNIT = os.path.join(sktest.SOURCE, "tests", "unit")
MANPAGE = os.path.join(sktest.SOURCE, "docs", "libsockit.3")

DECL = re.compile(r"^SK_API\b[^(]*?\b(sk_[a-z0-9_]+)\s*\(", re.M)


def public_functions():
    with open(HEADER) as f:
        text = f.read()
    return text, DECL.findall(text)


def unit_sources():
    out = []
    for name in sorted(os.listdir(UNIT)):
        if name.endswith(".c"):
            with open(os.path.join(UNIT, name)) as f:
                out.append(f.read())
    return "\n".join(out)


class ApiCoverage(unittest.TestCase):
    def test_header_declares_functions(self):
        _, names = public_functions()
        # The model is large; a parse that finds only a handful is broken.
        self.assertGreater(len(names), 100, names)

    def test_every_function_has_a_contract_comment(self):
        text, names = public_functions()
        lines = text.splitlines()
        missing = []
        for name in names:
            idx = next(i for i, l in enumerate(lines)
                       if l.startswith("SK_API") and re.search(r"\b%s\s*\(" % name, l))
            # Walk up over the declarations of the same group to the comment.
            j = idx - 1
            while j >= 0 and (lines[j].startswith("SK_API") or lines[j].startswith(" ")
                              and not lines[j].lstrip().startswith("*")):
                j -= 1
            if j < 0 or not lines[j].rstrip().endswith("*/"):
                missing.append(name)
        self.assertEqual(missing, [], "public functions without a contract comment")

    def test_every_function_is_called_by_a_unit_test(self):
        _, names = public_functions()
        tests = unit_sources()
        missing = [n for n in names if not re.search(r"\b%s\s*\(" % n, tests)]
        self.assertEqual(missing, [], "public functions no unit test calls")

    def test_every_function_is_in_the_man_page(self):
        _, names = public_functions()
        with open(MANPAGE) as f:
            page = f.read()
        missing = [n for n in names if not re.search(r"\b%s\b" % n, page)]
        self.assertEqual(missing, [], "public functions docs/libsockit.3 does not name")


if __name__ == "__main__":
    sktest.main()
