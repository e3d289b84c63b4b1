# SPDX-License-Identifier: MIT
"""libsockit installed like any Debian library, used from outside the tree.

A fresh build of the source with -DBUILD_TESTING=OFF (the configuration a
packager or a user building from source takes: no test targets, no python3
looked for) is installed into a temporary DESTDIR.  Then a small program
that lives outside the tree is built against the installed copy four ways:
pkg-config (shared), pkg-config --static (a fully static executable), and a
tiny CMake project using find_package(sockit 0.2) with sockit::sockit and
sockit::sockit_static.  Each build connects to the installed `sockit serve`
(the daytime service on loopback) and must print the line it got.

Also checked: the installed tree (soname link, headers, man pages in their
sections, pkg-config file, CMake package files), `pkg-config --validate`,
and that the package's version file refuses another major version.
"""

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import sktest  # noqa: E402

VERSION = os.environ.get("SOCKIT_VERSION", "")
PREFIX = "/usr/local"

APP = textwrap.dedent("""\
    /* Outside the tree: asks a daytime server for its line, prints it. */
    #include <sockit.h>
    #include <stdio.h>
    #include <stdlib.h>

    int main(int argc, char **argv)
    {
        char buf[128];
        sk_sock *s;
        ssize_t n;
        int rc;

        if (argc != 2)
            return 2;
        rc = sk_create_connection(&s, "127.0.0.1", argv[1], AF_UNSPEC, 10.0, NULL);
        if (rc < 0) {
            fprintf(stderr, "connect: %s (%s)\\n", sk_strerror(rc), sk_errname(rc));
            return 1;
        }
        n = sk_sock_recv(s, buf, sizeof(buf) - 1, 0);
        sk_sock_free(s);
        if (n <= 0)
            return 1;
        buf[n] = '\\0';
        printf("libsockit %s got: %s", sk_version_string(), buf);
        return 0;
    }
    """)

CMAKE_PROJECT = textwrap.dedent("""\
    cmake_minimum_required(VERSION 3.16)
    project(outside C)
    find_package(sockit 0.2 REQUIRED)
    add_executable(app_shared app.c)
    target_link_libraries(app_shared PRIVATE sockit::sockit)
    add_executable(app_static app.c)
    target_link_libraries(app_static PRIVATE sockit::sockit_static)
    """)


def run(argv, env=None, cwd=None, timeout=300):
    p = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                       env=env, cwd=cwd, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s\n%s" % (
            " ".join(map(str, argv)), p.returncode, p.stdout[-3000:], p.stderr[-3000:]))
    return p.stdout


class Install(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for prog in ("cmake", "cc", "pkg-config"):
            sktest.require_program(prog)
        cls.tmp = tempfile.mkdtemp(prefix="sockit-install-")
        build = os.path.join(cls.tmp, "build")
        cls.dest = os.path.join(cls.tmp, "dest")
        run(["cmake", "-S", sktest.SOURCE, "-B", build, "-DBUILD_TESTING=OFF",
             "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_INSTALL_PREFIX=" + PREFIX])
        cls.cache = open(os.path.join(build, "CMakeCache.txt")).read()
        cls.ctest_list = run(["ctest", "-N"], cwd=build)
        run(["cmake", "--build", build, "-j", "2"], timeout=600)
        env = dict(os.environ, DESTDIR=cls.dest)
        run(["cmake", "--install", build], env=env)
        cls.root = cls.dest + PREFIX
        libs = glob.glob(os.path.join(cls.root, "lib*", "**", "libsockit.so.0"),
                         recursive=True)
        if len(libs) != 1:
            raise AssertionError("expected one libsockit.so.0, found %r" % libs)
        cls.libdir = os.path.dirname(libs[0])
        port = sktest.free_port_base()
        cls.daytime_port = port + 13
        cls.server = sktest.Proc([os.path.join(cls.root, "bin", "sockit"), "serve",
                                  "--port-base", port, "--services", "daytime",
                                  "--bind", "127.0.0.1", "--no-udp"])
        cls.server.wait_line(lambda l: l.startswith("listening"))

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def check_app(self, exe, env=None):
        out = run([exe, self.daytime_port], env=env)
        self.assertRegex(out, r"^libsockit %s got: \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n$"
                         % VERSION.replace(".", r"\."))

    def pkg_env(self):
        return dict(os.environ,
                    PKG_CONFIG_PATH=os.path.join(self.libdir, "pkgconfig"),
                    PKG_CONFIG_SYSROOT_DIR=self.dest)

    def write_app(self, where):
        os.makedirs(where, exist_ok=True)
        with open(os.path.join(where, "app.c"), "w") as f:
            f.write(APP)
        return os.path.join(where, "app.c")

    def test_no_test_targets_without_testing(self):
        self.assertIn("Total Tests: 0", self.ctest_list)
        self.assertNotIn("SK_PYTHON3", self.cache)

    def test_installed_tree(self):
        lib = self.libdir
        real = os.path.realpath(os.path.join(lib, "libsockit.so"))
        self.assertEqual(os.path.basename(real), "libsockit.so.%s" % VERSION)
        self.assertEqual(os.readlink(os.path.join(lib, "libsockit.so")), "libsockit.so.0")
        self.assertTrue(os.path.isfile(os.path.join(lib, "libsockit.a")))
        soname = run(["readelf", "-d", real])
        self.assertIn("Library soname: [libsockit.so.0]", soname)
        for rel in ("include/sockit.h", "bin/sockit", "share/man/man1/sockit.1",
                    "share/man/man3/libsockit.3"):
            self.assertTrue(os.path.isfile(os.path.join(self.root, rel)), rel)
        for rel in ("pkgconfig/sockit.pc", "cmake/sockit/sockitConfig.cmake",
                    "cmake/sockit/sockitConfigVersion.cmake",
                    "cmake/sockit/sockitTargets.cmake"):
            self.assertTrue(os.path.isfile(os.path.join(lib, rel)), rel)
        # Nothing but the library's own files: no internal libraries, no tests.
        names = {os.path.basename(p) for p in glob.glob(os.path.join(lib, "*"))}
        self.assertEqual(names - {"pkgconfig", "cmake"},
                         {"libsockit.so", "libsockit.so.0", "libsockit.so." + VERSION,
                          "libsockit.a"})

    def test_pkg_config(self):
        env = self.pkg_env()
        pc = os.path.join(self.libdir, "pkgconfig", "sockit.pc")
        run(["pkg-config", "--validate", pc], env=env)
        self.assertEqual(run(["pkg-config", "--modversion", "sockit"], env=env).strip(),
                         VERSION)
        self.assertIn("-pthread", run(["pkg-config", "--libs", "--static", "sockit"], env=env))
        where = os.path.join(self.tmp, "pc")
        src = self.write_app(where)
        cflags = run(["pkg-config", "--cflags", "sockit"], env=env).split()
        libs = run(["pkg-config", "--libs", "sockit"], env=env).split()
        shared = os.path.join(where, "app_shared")
        run(["cc", "-o", shared, src] + cflags + libs)
        self.assertIn("libsockit.so.0", run(["readelf", "-d", shared]))
        self.check_app(shared, env=dict(os.environ, LD_LIBRARY_PATH=self.libdir))
        # --static: the whole program static, libsockit.a and its
        # dependencies (glibc warns that name lookups still load NSS
        # modules at run time; loopback addresses need none).
        static_libs = run(["pkg-config", "--libs", "--static", "sockit"], env=env).split()
        static = os.path.join(where, "app_static")
        run(["cc", "-static", "-o", static, src] + cflags + static_libs)
        self.assertNotIn("NEEDED", run(["readelf", "-d", static]))
        self.check_app(static)

    def test_cmake_package(self):
        where = os.path.join(self.tmp, "cm")
        self.write_app(where)
        with open(os.path.join(where, "CMakeLists.txt"), "w") as f:
            f.write(CMAKE_PROJECT)
        build = os.path.join(where, "build")
        run(["cmake", "-S", where, "-B", build, "-DCMAKE_PREFIX_PATH=" + self.root])
        run(["cmake", "--build", build])
        shared = os.path.join(build, "app_shared")
        self.assertIn("libsockit.so.0", run(["readelf", "-d", shared]))
        self.check_app(shared, env=dict(os.environ, LD_LIBRARY_PATH=self.libdir))
        static = os.path.join(build, "app_static")
        self.assertNotIn("libsockit", run(["readelf", "-d", static]))
        self.check_app(static)

    def test_cmake_version_file_refuses_other_major(self):
        where = os.path.join(self.tmp, "cm1")
        os.makedirs(where)
        with open(os.path.join(where, "CMakeLists.txt"), "w") as f:
            f.write("cmake_minimum_required(VERSION 3.16)\nproject(x C)\n"
                    "find_package(sockit 1.0 REQUIRED)\n")
        p = subprocess.run(["cmake", "-S", where, "-B", os.path.join(where, "b"),
                            "-DCMAKE_PREFIX_PATH=" + self.root],
                           capture_output=True, text=True, timeout=120)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("compatible\n  with requested version \"1.0\"", p.stderr)


if __name__ == "__main__":
    sktest.main()
