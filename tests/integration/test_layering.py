# SPDX-License-Identifier: MIT
"""Files inside a folder depend on each other one way only.

For lib/server/, cli/bench/, and cli/ together with cli/bench/ (which adds
the calls between the two folders), the object files the build made are read
with nm: file A depends on file B when A uses (nm: undefined) a symbol that
B defines.  Those dependencies must form no cycle, of two files calling
each other or of more, so every file of the folder sits above the ones it
calls (docs: lib/server/server.h lists the order).  A lower file reaches an
upper one only through a function pointer it is given, which nm cannot see
and which is the point.

The check reads every object of the folder: a folder whose .c files did not
all compile to an object in one target is a failure, not a pass.
"""

import glob
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import sktest  # noqa: E402

def sources(folders):
    """The .c files of `folders`, named relative to the first one."""
    top = os.path.join(sktest.SOURCE, folders[0])
    return {os.path.relpath(p, top) for f in folders
            for p in glob.glob(os.path.join(sktest.SOURCE, f, "*.c"))}


def object_sets(folders):
    """{target directory: {source file name: object path}} for `folders`
    (names relative to the first folder, as sources() gives them)."""
    sets = {}
    for folder in folders:
        pattern = os.path.join(sktest.BUILD, "CMakeFiles", "*.dir", folder, "*.c.o")
        for path in glob.glob(pattern):
            target, rest = path.split(os.sep + "CMakeFiles" + os.sep, 1)[1].split(os.sep, 1)
            name = os.path.relpath(rest[:-2], folders[0])
            sets.setdefault(target, {})[name] = path
    return sets


def symbols(path):
    """(defined, undefined) global symbols of one object file."""
    out = subprocess.run(["nm", "-g", path], capture_output=True, text=True,
                         check=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            undefined.add(parts[1])
        elif len(parts) == 3:
            defined.add(parts[2])
    return defined, undefined


def dependencies(objects):
    """{file: {file it calls: [symbols]}} over `objects` ({name: path})."""
    syms = {name: symbols(path) for name, path in objects.items()}
    owner = {}
    for name, (defined, _) in syms.items():
        for s in defined:
            owner[s] = name
    deps = {name: {} for name in objects}
    for name, (_, undefined) in syms.items():
        for s in sorted(undefined):
            other = owner.get(s)
            if other is not None and other != name:
                deps[name].setdefault(other, []).append(s)
    return deps


def cycles(deps):
    """The strongly connected components of more than one file (Tarjan),
    each sorted: every one of them is a set of files that call each other,
    directly or around a circle."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(deps.get(v, {})):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(deps):
        if v not in index:
            visit(v)
    return sorted(found)


def describe(deps, comp):
    """One line per dependency inside the cycle: "a.c -> b.c: sym, ..."."""
    lines = []
    for a in comp:
        for b in comp:
            if b in deps[a]:
                lines.append("  %s -> %s: %s" % (a, b, ", ".join(deps[a][b][:4])))
    return "\n".join(lines)


def layer_order(deps):
    """The files bottom first (each after every file it calls)."""
    order, done = [], set()

    def place(v):
        if v in done:
            return
        done.add(v)
        for w in sorted(deps[v]):
            place(w)
        order.append(v)

    for v in sorted(deps):
        place(v)
    return order


class CycleFinder(unittest.TestCase):
    """The finder itself: it must see a circle of two and of three."""

    def test_finds_circles(self):
        deps = {"a.c": {"b.c": ["f"]}, "b.c": {"a.c": ["g"]}, "c.c": {"a.c": ["h"]},
                "d.c": {"e.c": ["i"]}, "e.c": {"f.c": ["j"]}, "f.c": {"d.c": ["k"]}}
        self.assertEqual(cycles(deps), [["a.c", "b.c"], ["d.c", "e.c", "f.c"]])

    def test_accepts_a_layering(self):
        deps = {"top.c": {"mid.c": ["f"], "low.c": ["g"]}, "mid.c": {"low.c": ["h"]},
                "low.c": {}}
        self.assertEqual(cycles(deps), [])
        self.assertEqual(layer_order(deps), ["low.c", "mid.c", "top.c"])


class Layering(unittest.TestCase):
    def setUp(self):
        sktest.require_program("nm")

    def check_folders(self, *folders, apart=()):
        """Checks `folders` as one set of files, but for the files `apart`
        (built into another target); returns the dependencies of the first
        target that compiled them all."""
        want = sources(folders) - set(apart)
        sets = object_sets(folders)
        complete = {t: objs for t, objs in sets.items() if set(objs) == want}
        self.assertTrue(complete, "no target in %s compiled every file of %s (%s)"
                        % (sktest.BUILD, folders, sorted(want)))
        for target, objects in sorted(complete.items()):
            deps = dependencies(objects)
            found = cycles(deps)
            self.assertEqual(found, [], "%s (%s): files that call each other:\n%s"
                             % (folders, target,
                                "\n".join(describe(deps, c) for c in found)))
            if os.environ.get("SOCKIT_LAYERING_VERBOSE"):
                print("%s: %s" % (folders, " < ".join(layer_order(deps))))
        return dependencies(complete[sorted(complete)[0]])

    def test_lib_server(self):
        self.check_folders("lib/server")

    def test_cli_bench(self):
        deps = self.check_folders("cli/bench")
        # The bench clock is cli/clock.c's; pace.c no longer calls thread.c.
        self.assertNotIn("thread.c", deps["pace.c"])

    def test_cli_with_bench(self):
        # main.c is the executable's own (it only dispatches; the rest is
        # the internal library sockit_cli).
        deps = self.check_folders("cli", "cli/bench", apart=("main.c",))
        # Real edges are seen, or an empty graph would pass.
        self.assertIn("opt.c", deps["client.c"])
        self.assertIn("clock.c", deps["bench/pace.c"])
        self.assertIn("bench/pace.c", deps["bench/thread.c"])


if __name__ == "__main__":
    unittest.main()
