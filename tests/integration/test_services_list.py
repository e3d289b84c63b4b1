# SPDX-License-Identifier: MIT
"""`sockit serve --list-services` prints svc_table, the one service list, as
`NAME PROTOCOLS STANDARD_PORT` lines, and everything outside the code that
names the services agrees with it: the man page's list, the README's, the
systemd socket units, the inetd and xinetd examples, serve's --help and the
--port-base cap.
"""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import sktest  # noqa: E402

LINE = re.compile(r"^([a-z][a-z0-9-]*) (tcp,udp|tcp|udp) ([1-9][0-9]*)$")


def source(*path):
    with open(os.path.join(sktest.SOURCE, *path), encoding="utf-8") as f:
        return f.read()


def between_markers(text, what):
    """The lines between the 'services: begin' and 'services: end' marks."""
    m = re.search(r"services: begin[^\n]*\n(.*?)\n[^\n]*services: end", text, re.S)
    if m is None:
        raise AssertionError("%s has no 'services: begin/end' block" % what)
    return m.group(1).splitlines()


class ListServicesTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        r = sktest.run([sktest.SOCKIT, "serve", "--list-services"], timeout=10)
        cls.rc, cls.out, cls.err = r.returncode, r.stdout, r.stderr
        cls.lines = cls.out.splitlines()
        cls.pairs = {(n, p) for n, (protos, _) in sktest.services().items() for p in protos}

    def test_format(self):
        self.assertEqual(self.rc, 0, self.err)
        self.assertEqual(self.err, "")
        self.assertGreater(len(self.lines), 0)
        for line in self.lines:
            self.assertRegex(line, LINE)
        names = [l.split()[0] for l in self.lines]
        self.assertEqual(len(names), len(set(names)), "a service listed twice")

    def test_known_services(self):
        # The RFC services and ntp of the contract, as SPEC.md gives them.
        for line in ("echo tcp,udp 7", "discard tcp,udp 9", "daytime tcp,udp 13",
                     "qotd tcp,udp 17", "chargen tcp,udp 19", "time tcp,udp 37",
                     "ntp udp 123"):
            self.assertIn(line, self.lines)

    def test_man_page(self):
        man = source("docs", "sockit.1")
        block = [l for l in between_markers(man, "docs/sockit.1") if not l.startswith(".")]
        self.assertEqual(block, self.lines)
        self.assertIn(r"\-\-list\-services", man)

    def test_readme(self):
        block = between_markers(source("README.md"), "README.md")
        self.assertEqual(block[1], "$ build/sockit serve --list-services")
        self.assertEqual([l for l in block[2:] if not l.startswith("```")], self.lines)

    def test_help_lists_the_services(self):
        r = sktest.run([sktest.SOCKIT, "serve", "--help"], timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("\n" + "\n".join("  " + l for l in self.lines) + "\n", r.stdout)

    def test_systemd_socket_unit(self):
        unit = source("dist", "systemd", "sockit.socket")
        got = {("tcp" if kind == "Stream" else "udp", int(port))
               for kind, port in re.findall(r"(?m)^Listen(Stream|Datagram)=(\d+)$", unit)}
        want = {(p, port) for _, (protos, port) in sktest.services().items() for p in protos}
        self.assertEqual(got, want)

    def test_systemd_inetd_socket_unit(self):
        unit = source("dist", "systemd", "sockit-inetd.socket")
        got = {int(p) for p in re.findall(r"(?m)^ListenStream=(\d+)$", unit)}
        self.assertEqual(got, set(sktest.service_ports("tcp").values()))
        self.assertNotIn("ListenDatagram", unit)

    def test_inetd_example(self):
        got = set()
        for line in source("dist", "inetd.conf.example").splitlines():
            f = line.split()
            if f and not f[0].startswith("#"):
                self.assertEqual(f[-1], f[0], line)  # --inetd NAME for service NAME
                self.assertEqual((f[1], f[2]), ("stream", "tcp") if f[2] == "tcp"
                                 else ("dgram", "udp"), line)
                got.add((f[0], f[2]))
        self.assertEqual(got, self.pairs)

    def test_xinetd_example(self):
        text = source("dist", "xinetd.d", "sockit")
        entries = re.findall(r"(?ms)^service (\S+)\n\{(.*?)^\}", text)
        self.assertGreater(len(entries), 0)
        ports = sktest.service_ports()
        for name, body in entries:
            fields = dict(re.findall(r"(?m)^\s*(\w+)\s*=\s*(.*?)\s*$", body))
            self.assertIn((name, fields["protocol"]), self.pairs)
            self.assertEqual(int(fields["port"]), ports[name], name)
            self.assertIn("--inetd %s" % name, fields["server_args"])

    def test_port_base_cap_comes_from_the_table(self):
        top = max(sktest.service_ports().values())
        cap = 65535 - top
        r = sktest.run([sktest.SOCKIT, "serve", "--port-base", str(cap + 1)], timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, "sockit: serve: bad port '%d' (try 'sockit serve --help')\n"
                         % (cap + 1))
        # The cap itself is accepted: options are taken in order, so the
        # error is about the bad value after it, and nothing is bound.
        r = sktest.run([sktest.SOCKIT, "serve", "--port-base", str(cap), "--port-base", "x"],
                       timeout=10)
        self.assertEqual(r.stderr, "sockit: serve: bad port 'x' (try 'sockit serve --help')\n")

    def test_unknown_service_names_the_list(self):
        r = sktest.run([sktest.SOCKIT, "serve", "--services", "nosuch"], timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("(known: %s)" % ", ".join(sktest.services()), r.stderr)


if __name__ == "__main__":
    sktest.main()
