# SPDX-License-Identifier: MIT
"""The files of cli/ and cli/bench/ depend on each other one way only: no
file calls into another that, directly or through others, calls back into
it (helpers sit below the files that use them; cli/clock.c below the bench
files, so pace.c and thread.c no longer need each other).  Read from the
built objects' symbols with nm: what one object leaves undefined and another
defines is an edge.
"""

import glob
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import sktest  # noqa: E402

OBJDIR = os.path.join(sktest.BUILD, "CMakeFiles", "sockit_cli.dir")


def symbols(obj):
    """(defined, undefined) global symbol names of one object."""
    out = subprocess.run(["nm", "-g", obj], capture_output=True, text=True,
                         check=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        f = line.split()
        if len(f) == 2 and f[0] == "U":
            undefined.add(f[1])
        elif len(f) == 3 and f[1] in "TDBRCVW":
            defined.add(f[2])
    return defined, undefined


def graph():
    """{file: set of files it calls} over cli/*.c and cli/bench/*.c."""
    objs = glob.glob(os.path.join(OBJDIR, "cli", "*.c.o")) + \
        glob.glob(os.path.join(OBJDIR, "cli", "bench", "*.c.o"))
    names = {o: os.path.relpath(o, OBJDIR)[:-2] for o in objs}
    syms = {names[o]: symbols(o) for o in objs}
    return {a: {b for b in syms if b != a and syms[a][1] & syms[b][0]} for a in syms}


def find_cycle(g):
    """One cycle as a list of files, or None (depth-first search)."""
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(g[n]):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(g):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


class OneWayTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("nm") is None:
            raise unittest.SkipTest("nm not installed (binutils)")
        if not os.path.isdir(os.path.join(OBJDIR, "cli", "bench")):
            raise unittest.SkipTest("no cli objects under %s" % OBJDIR)
        cls.g = graph()

    def test_the_graph_is_read(self):
        # The test must see real edges, or an empty graph would pass.
        self.assertIn("cli/opt.c", self.g["cli/client.c"])
        self.assertIn("cli/clock.c", self.g["cli/bench/pace.c"])
        self.assertIn("cli/bench/pace.c", self.g["cli/bench/thread.c"])

    def test_no_cycle(self):
        self.assertIsNone(find_cycle(self.g))

    def test_pace_does_not_call_thread(self):
        self.assertNotIn("cli/bench/thread.c", self.g["cli/bench/pace.c"])

    def test_cycle_finder_finds_one(self):
        self.assertEqual(find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}),
                         ["a", "b", "c", "a"])
        self.assertIsNone(find_cycle({"a": {"b"}, "b": set()}))


if __name__ == "__main__":
    sktest.main()
