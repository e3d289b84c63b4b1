# SPDX-License-Identifier: MIT
"""Every number the command line takes is checked at once: each subcommand's
port, count, size, duration and rate options and its positional PORT, given
a value out of range or not a number at all, exits 2 within a second with one
line on standard error,

    sockit: CMD: bad KIND 'VALUE' (try 'sockit CMD --help')

and leaves no process behind.  The table below says, per option, what it
accepts; each of VALUES the option does not accept is tried (the ones it
accepts are not: they would run the command).  A value given as a
positional argument that starts with '-' is an option to getopt, so it is
refused as an unknown option, in the same one line naming it.
"""

import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import sktest  # noqa: E402

VALUES = ("0", "65536", "99999", "-1", "abc", "12x", "1e3", "",
          "99999999999999999999999")

INT_KINDS = ("port", "count", "size")
INT_MAX = 2**31 - 1
HOST = "127.0.0.1"
PORT = "PORT"      # replaced by a port nothing listens on
BASE = "BASE"      # replaced by a free port base

# (subcommand, argv before, option or None for the positional, argv after,
#  kind, lowest nonzero value, highest value, zero allowed)
# The argv around the value is a complete command that would run if the
# value were accepted: a client asks a closed port on loopback, serve binds
# loopback at a free port base, bench targets a closed port.
CLIENTS = ("time", "daytime", "qotd", "echo", "chargen", "discard")
TABLE = []
for c in CLIENTS:
    TABLE.append((c, [HOST], None, [], "port", 1, 65535, False))
    TABLE.append((c, ["--timeout"], "--timeout", [HOST, PORT], "duration", 0, 86400, False))
TABLE += [
    ("chargen", ["--bytes"], "--bytes", [HOST, PORT], "size", 1, 2**40, False),
    ("resolve", ["--timeout"], "--timeout", [HOST], "duration", 0, 86400, False),
    ("resolve", [HOST], None, [], "service", 0, 65535, True),
    ("tls", [HOST], None, [], "port", 1, 65535, False),
    ("tls", ["--timeout"], "--timeout", [HOST, PORT], "duration", 0, 86400, False),
    ("tls", ["--min-days"], "--min-days", [HOST, PORT], "count", 1, 100000, True),
    ("ntp", [HOST], None, [], "port", 1, 65535, False),
    ("ntp", ["--count"], "--count", [HOST, PORT], "count", 1, 10000, False),
    ("ntp", ["--interval"], "--interval", [HOST, PORT], "duration", 0.1, 3600, False),
    ("ntp", ["--timeout"], "--timeout", [HOST, PORT], "duration", 0, 86400, False),
    ("stamp", [HOST], None, [], "port", 1, 65535, False),
    ("stamp", ["--count"], "--count", [HOST, PORT], "count", 1, 1000000, False),
    ("stamp", ["--interval"], "--interval", [HOST, PORT], "duration", 0.001, 3600, False),
    ("stamp", ["--timeout"], "--timeout", [HOST, PORT], "duration", 0, 86400, False),
    ("stamp", ["--size"], "--size", [HOST, PORT], "size", 44, 65507, False),
    ("stamp", ["--ssid"], "--ssid", [HOST, PORT], "count", 1, 65535, False),
    ("bench", ["stamp", HOST, PORT, "--size"], "--size", [], "size", 44, 65507, False),
    ("bench", ["echo", HOST], None, [], "port", 1, 65535, False),
    ("bench", ["udp", HOST], None, [], "port", 1, 65535, False),
    ("bench", ["echo", HOST, PORT, "--conns"], "--conns", [], "count", 1, 100000, False),
    ("bench", ["echo", HOST, PORT, "--threads"], "--threads", [], "count", 1, 1024, False),
    ("bench", ["echo", HOST, PORT, "--size"], "--size", [], "size", 1, 16 << 20, False),
    ("bench", ["udp", HOST, PORT, "--size"], "--size", [], "size", 8, 65507, False),
    ("bench", ["connect", HOST, PORT, "--expect"], "--expect", [], "size", 1, 1 << 30,
     True),
    ("bench", ["echo", HOST, PORT, "--duration"], "--duration", [], "duration", 0, 86400,
     False),
    ("bench", ["echo", HOST, PORT, "--warmup"], "--warmup", [], "duration", 0, 3600, True),
    ("bench", ["echo", HOST, PORT, "--timeout"], "--timeout", [], "duration", 0, 3600,
     False),
    ("bench", ["echo", HOST, PORT, "--interval"], "--interval", [], "duration", 0, 86400,
     False),
    ("bench", ["echo", HOST, PORT, "--rate"], "--rate", [], "rate", 0, 1e8, False),
]
SERVE = ["--bind", HOST, "--port-base", BASE]
TABLE += [
    ("serve", ["--bind", HOST, "--port-base"], "--port-base", [], "port", 1, 65535 - 123,
     True),
    ("serve", SERVE + ["--port"], "--port", [], "port", 1, 65535, True),
    ("serve", SERVE + ["--threads"], "--threads", [], "count", 1, 1024, True),
    ("serve", SERVE + ["--max-conns"], "--max-conns", [], "count", 1, INT_MAX, True),
    ("serve", SERVE + ["--max-per-source"], "--max-per-source", [], "count", 1, INT_MAX,
     True),
    ("serve", SERVE + ["--ntp-stratum"], "--ntp-stratum", [], "count", 1, 15, False),
    ("serve", SERVE + ["--idle-timeout"], "--idle-timeout", [], "duration", 0, 1e7, True),
    ("serve", SERVE + ["--grace"], "--grace", [], "duration", 0, 3600, True),
    ("serve", SERVE + ["--proxy-protocol", "--proxy-timeout"], "--proxy-timeout", [],
     "duration", 0, 3600, False),
    ("serve", SERVE + ["--udp-limit"], "--udp-limit", [], "rate", 0, 1e8, True),
    ("serve", SERVE + ["--udp-global-limit"], "--udp-global-limit", [], "rate", 0, 1e9,
     True),
    ("serve", SERVE + ["--tls-port-base"], "--tls-port-base", [], "port", 1, 65535 - 37,
     True),
    ("serve", SERVE + ["--tls-handshake-timeout"], "--tls-handshake-timeout", [], "duration",
     0, 3600, False),
    ("serve", SERVE + ["--tls-ticket-rotate"], "--tls-ticket-rotate", [], "duration", 0, 1e7,
     False),
]


def accepted(value, kind, low, high, zero_ok):
    """True when an option of this kind and range takes `value`."""
    if kind == "service" and re.fullmatch(r"[A-Za-z][\w-]*", value):
        return True  # a service name, for the resolver to judge
    if kind in INT_KINDS or kind == "service":
        if not re.fullmatch(r"[0-9]+", value):
            return False
    elif not re.fullmatch(r"[0-9]+\.?[0-9]*|\.[0-9]+", value):
        return False
    v = float(value) if kind in ("duration", "rate") else int(value)
    if v == 0:
        return zero_ok
    return low <= v <= high


class BadValueTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = str(sktest.free_port())
        cls.base = str(sktest.free_port_base())

    def fill(self, words):
        return [self.port if w == PORT else self.base if w == BASE else w for w in words]

    def check(self, cmd, argv, value, kind, positional=False):
        """Runs sockit CMD argv; it must refuse `value` as a bad KIND."""
        full = [sktest.SOCKIT, cmd] + argv
        start = time.monotonic()
        p = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            out, err = p.communicate(timeout=1.0 + (2.0 if sktest.SANITIZE else 0.0))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            self.fail("%r still running after 1 s" % full)
        elapsed = time.monotonic() - start
        # No process of the group outlives the command.
        with self.assertRaises(ProcessLookupError, msg="%r left a process" % full):
            os.killpg(p.pid, 0)
        self.assertEqual(p.returncode, 2, "%r: exit %d, stderr %r" % (full, p.returncode, err))
        lines = err.splitlines()
        self.assertEqual(len(lines), 1, "%r: stderr %r" % (full, err))
        shown = "port" if kind == "service" else kind
        want = "sockit: %s: bad %s '%s' (try 'sockit %s --help')" % (cmd, shown, value, cmd)
        if value.startswith("-") and positional:
            # A positional "-1" is an option to getopt.
            want = "sockit: %s: unknown option '%s' (try 'sockit %s --help')" % (
                cmd, value, cmd)
        self.assertEqual(lines[0], want, "%r" % full)
        self.assertEqual(out, "", "%r printed to stdout" % full)
        return elapsed

    def test_table(self):
        tried = 0
        for cmd, before, opt, after, kind, low, high, zero_ok in TABLE:
            for value in VALUES:
                if accepted(value, kind, low, high, zero_ok):
                    continue
                given = "echo=" + value if opt == "--port" else value
                argv = self.fill(before) + [given] + self.fill(after)
                with self.subTest(cmd=cmd, option=opt or "PORT", value=value):
                    self.check(cmd, argv, value, kind, positional=opt is None)
                    tried += 1
        # Every row refuses several of the values (a wrong table would
        # quietly skip them all).
        self.assertGreater(tried, 7 * len(TABLE))

    def test_every_row_refuses_the_junk(self):
        for cmd, before, opt, after, kind, low, high, zero_ok in TABLE:
            for value in ("abc", "12x", "1e3", "", "-1"):
                if kind == "service" and value == "abc":
                    continue
                self.assertFalse(accepted(value, kind, low, high, zero_ok),
                                 (cmd, opt, value))

    def test_every_subcommand_is_in_the_table(self):
        r = sktest.run([sktest.SOCKIT, "--help"], timeout=10)
        listed = set(re.findall(r"(?m)^  (\w+)\s", r.stdout))
        self.assertEqual(listed, {row[0] for row in TABLE})

    def test_bad_addresses(self):
        for cmd, argv, value in (
                ("serve", ["--bind", ""], ""),
                ("serve", ["--metrics", "nohost"], "nohost"),
                ("serve", ["--metrics", "127.0.0.1:99999"], "127.0.0.1:99999"),
                ("serve", ["--proxy-protocol", "--proxy-from", "10.0.0.0/40"], "10.0.0.0/40"),
                ("serve", ["--proxy-protocol", "--proxy-from", "abc"], "abc"),
                ("time", [""], ""),
                ("ntp", ["", "123"], ""),
                ("bench", ["echo", "", "7"], "")):
            with self.subTest(cmd=cmd, argv=argv):
                self.check(cmd, argv, value, "address")

    def test_ntp_port_out_of_range_is_refused_at_once(self):
        # The cases the issue was filed for: a port 0 or above 65535 used to
        # wait for the timeout or fail at run time.
        for value in ("99999", "0"):
            elapsed = self.check("ntp", [HOST, value], value, "port", positional=True)
            self.assertLess(elapsed, 1.0 + (2.0 if sktest.SANITIZE else 0.0))


if __name__ == "__main__":
    sktest.main()
