# SPDX-License-Identifier: MIT
"""The Debian packages: `dpkg-buildpackage -us -uc -b` builds libsockit0,
libsockit-dev and sockit from a copy of the source tree in a temporary
directory (dpkg-buildpackage writes the .deb files into the parent of the
tree it builds, so nothing may land next to the real checkout); `dpkg -c`
lists the files each should hold; `dpkg-deb -x` extracts them into a
temporary root, where the extracted `sockit` serves (over a pipe, and as a
daemon on loopback) and an outside C program, built against the extracted
header and library only, runs with LD_LIBRARY_PATH; lintian reports no
errors; the checkout is left as `git status` found it.

Slow (a full package build): ctest gives it its own, longer timeout.
Skipped, with the reason, where dpkg-buildpackage or the build
dependencies are missing.
"""

import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sktest  # noqa: E402
import svccheck  # noqa: E402

VERSION = re.search(r'SK_VERSION_STRING "([^"]+)"',
                    open(os.path.join(sktest.SOURCE, "include", "sockit.h")).read()).group(1)

EXPECTED = {
    "libsockit0": [r"usr/lib/[^/]+/libsockit\.so\.0$", r"usr/lib/[^/]+/libsockit\.so\.%s$"
                   % re.escape(VERSION), r"usr/share/doc/libsockit0/copyright$"],
    "libsockit-dev": [r"usr/include/sockit\.h$", r"usr/lib/[^/]+/libsockit\.so$",
                      r"usr/lib/[^/]+/libsockit\.a$", r"usr/lib/[^/]+/pkgconfig/sockit\.pc$",
                      r"usr/lib/[^/]+/cmake/sockit/sockitConfig\.cmake$",
                      r"usr/share/man/man3/libsockit\.3\.gz$"],
    "sockit": [r"usr/bin/sockit$", r"usr/share/man/man1/sockit\.1\.gz$",
               r"lib/systemd/system/sockit\.service$", r"lib/systemd/system/sockit\.socket$",
               r"lib/systemd/system/sockit-inetd\.socket$",
               r"lib/systemd/system/sockit-inetd@\.service$",
               r"usr/share/doc/sockit/examples/inetd\.conf\.example$",
               r"usr/share/doc/sockit/copyright$"],
}

OUTSIDE_PROGRAM = r"""
#include <sockit.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static sk_server *srv;

static size_t echo(sk_conn *c, const void *data, size_t len)
{
    ssize_t n = sk_conn_write(c, data, len);
    return n > 0 ? (size_t)n : 0;
}

static void done(sk_conn *c)
{
    (void)c;
    sk_server_shutdown(srv);
}

int main(void)
{
    static const sk_tcp_handler h = {.on_data = echo, .on_close = done};
    char buf[64] = "";
    int sp[2], rc;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) != 0 || sk_server_new(&srv, NULL) < 0)
        return 1;
    rc = sk_server_adopt_conn(srv, sp[0], &h, NULL);
    if (rc < 0) {
        fprintf(stderr, "adopt: %s\n", sk_strerror(rc));
        return 1;
    }
    if (write(sp[1], "packaged", 8) != 8 || shutdown(sp[1], SHUT_WR) != 0)
        return 1;
    if (sk_server_run(srv) < 0 || read(sp[1], buf, sizeof(buf) - 1) != 8)
        return 1;
    sk_server_free(srv);
    printf("%s %s\n", SK_VERSION_STRING, buf);
    return 0;
}
"""


def source_files():
    """The checkout's files (tracked and untracked, not ignored), or None
    when this is not a git checkout."""
    if shutil.which("git") is None or not os.path.exists(os.path.join(sktest.SOURCE, ".git")):
        return None
    r = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"],
                       cwd=sktest.SOURCE, capture_output=True, check=True)
    return [f for f in r.stdout.decode().split("\0") if f]


def git_status():
    if source_files() is None:
        return None
    return subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=sktest.SOURCE,
                          capture_output=True, text=True, check=True).stdout


def copy_tree(dest):
    files = source_files()
    if files is None:
        shutil.copytree(sktest.SOURCE, dest, symlinks=True,
                        ignore=shutil.ignore_patterns("build", "build-*", "obj-*", ".git"))
        return
    for rel in files:
        src = os.path.join(sktest.SOURCE, rel)
        if not os.path.lexists(src):
            continue  # deleted in the work tree
        os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
        shutil.copy2(src, os.path.join(dest, rel), follow_symlinks=False)


class Package(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for prog in ("dpkg-buildpackage", "dpkg-deb", "dh"):
            sktest.require_program(prog)
        deps = subprocess.run(["dpkg-checkbuilddeps", os.path.join(sktest.SOURCE, "debian",
                                                                   "control")],
                              capture_output=True, text=True)
        if deps.returncode != 0:
            raise unittest.SkipTest("build dependencies missing: " + deps.stderr.strip())
        cls.status_before = git_status()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.src = os.path.join(cls.tmp.name, "src", "sockit-" + VERSION)
        copy_tree(cls.src)
        env = dict(os.environ, DEB_BUILD_OPTIONS="parallel=2")
        r = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=cls.src, env=env,
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            cls.tmp.cleanup()
            raise AssertionError("dpkg-buildpackage failed:\n" + r.stdout[-3000:] +
                                 r.stderr[-3000:])
        cls.debs = {}
        for path in glob.glob(os.path.join(cls.tmp.name, "src", "*.deb")):
            cls.debs[os.path.basename(path).split("_")[0]] = path
        cls.root = os.path.join(cls.tmp.name, "root")
        for name in ("libsockit0", "libsockit-dev", "sockit"):
            if name in cls.debs:
                subprocess.run(["dpkg-deb", "-x", cls.debs[name], cls.root], check=True)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_packages_hold_the_expected_files(self):
        for name, patterns in EXPECTED.items():
            self.assertIn(name, self.debs, sorted(self.debs))
            listing = subprocess.run(["dpkg", "-c", self.debs[name]], capture_output=True,
                                     text=True, check=True).stdout
            entries = [(line[0], line.split()[5][2:]) for line in listing.splitlines()]
            paths = [p for _, p in entries]
            for pattern in patterns:
                self.assertTrue(any(re.match(pattern, p) for p in paths),
                                "%s: nothing matches %s in %r" % (name, pattern, paths))
            # Debian policy: files only under /usr/{bin,include,lib,share} and
            # the systemd unit directory; nothing in /usr/local, /etc, /home.
            for kind, p in entries:
                if kind != "d":
                    self.assertRegex(p, r"^(usr/(bin|include|lib|share)/|lib/systemd/system/)",
                                     "%s ships %s" % (name, p))

    def test_units_installed_not_enabled(self):
        postinst = subprocess.run(["dpkg-deb", "-I", self.debs["sockit"], "postinst"],
                                  capture_output=True, text=True).stdout
        # Installed but not enabled: a unit is enabled again only on an
        # upgrade where the administrator had enabled it (the
        # "debian-installed" guard), never on a fresh install, and nothing
        # is started.
        for unit in ("sockit.service", "sockit.socket", "sockit-inetd.socket"):
            self.assertIn("if deb-systemd-helper debian-installed '%s'" % unit, postinst)
        self.assertEqual(postinst.count("deb-systemd-helper enable"),
                         postinst.count("if deb-systemd-helper debian-installed"), postinst)
        self.assertNotIn("deb-systemd-invoke", postinst)

    def test_extracted_sockit_serves(self):
        sockit = os.path.join(self.root, "usr", "bin", "sockit")
        r = subprocess.run([sockit, "--version"], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.stdout.strip(), "sockit " + VERSION)
        data = b"through the packaged sockit\n" * 100
        r = subprocess.run([sockit, "serve", "--inetd", "echo"], input=data,
                           capture_output=True, timeout=10)
        self.assertEqual((r.returncode, r.stdout), (0, data))
        base = sktest.free_port_base()
        with sktest.Proc([sockit, "serve", "--bind", "127.0.0.1", "--port-base", base]) as p:
            p.wait_line("listening service=time proto=udp")
            svccheck.tcp(self, "daytime", "127.0.0.1", base + 13)
            svccheck.udp(self, "time", "127.0.0.1", base + 37)
            self.assertEqual(p.stop(), 0)

    def test_outside_program_against_extracted_library(self):
        cc = shutil.which("cc") or shutil.which("gcc")
        if cc is None:
            self.skipTest("no C compiler")
        libdir = os.path.dirname(glob.glob(os.path.join(self.root, "usr", "lib", "*",
                                                        "libsockit.so"))[0])
        prog = os.path.join(self.tmp.name, "outside")
        with open(prog + ".c", "w") as f:
            f.write(OUTSIDE_PROGRAM)
        subprocess.run([cc, "-o", prog, prog + ".c", "-I",
                        os.path.join(self.root, "usr", "include"), "-L", libdir, "-lsockit"],
                       check=True, timeout=60)
        env = dict(os.environ, LD_LIBRARY_PATH=libdir)
        ldd = subprocess.run(["ldd", prog], env=env, capture_output=True, text=True).stdout
        self.assertIn(os.path.join(libdir, "libsockit.so.0"), ldd)
        r = subprocess.run([prog], env=env, capture_output=True, text=True, timeout=10)
        self.assertEqual((r.returncode, r.stdout), (0, "%s packaged\n" % VERSION), r.stderr)

    def test_lintian_reports_no_errors(self):
        lintian = shutil.which("lintian")
        if lintian is None:
            self.skipTest("lintian not installed")
        changes = glob.glob(os.path.join(self.tmp.name, "src", "*.changes"))[0]
        r = subprocess.run([lintian, "--no-cfg", "-I", "--pedantic", changes],
                           capture_output=True, text=True, timeout=300)
        print(r.stdout)
        self.assertFalse([l for l in r.stdout.splitlines() if l.startswith("E:")], r.stdout)

    def test_checkout_left_clean(self):
        self.assertEqual(git_status(), self.status_before)
        self.assertEqual([p for p in os.listdir(os.path.dirname(sktest.SOURCE))
                          if p.endswith((".deb", ".changes", ".buildinfo"))
                          and p.startswith(("sockit", "libsockit"))], [])


if __name__ == "__main__":
    sktest.main()
