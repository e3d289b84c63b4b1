# SPDX-License-Identifier: MIT
"""`sockit serve` under socket activation, with systemd's own
systemd-socket-activate as the supervisor: TCP and UDP, IPv4 and IPv6,
several services at once, each descriptor placed by its --fdname name or by
its port, every service checked byte for byte (tests/svccheck.py); the
inherited listener shared by three workers; close-on-exec on the inherited
descriptors; a descriptor that names no service refused with an error that
names it; a descriptor that is no socket refused; LISTEN_PID of another
process ignored (the daemon binds as usual).  Loopback only.
"""

import os
import re
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sktest  # noqa: E402
import svccheck  # noqa: E402

HAVE_V6 = sktest.have_ipv6()
O_CLOEXEC = 0o2000000


def activate(tc, listens, names, args, datagram=False):
    """Starts systemd-socket-activate listening at `listens` (host, port)
    pairs, passing `names`, to run `sockit serve args`; waits until it
    listens.  Returns the Proc."""
    sa = sktest.require_program("systemd-socket-activate")
    argv = [sa] + (["--datagram"] if datagram else [])
    for host, port in listens:
        argv += ["-l", "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)]
    argv += ["--fdname=" + ":".join(names), sktest.SOCKIT, "serve"] + args
    p = sktest.Proc(argv)
    for i in range(len(listens)):
        p.wait_line("as %d." % (3 + i), stream="err")
    return p


def wait_listening(p, n):
    """Waits for n 'listening' lines (the exec happened, the daemon is up)."""
    deadline = time.monotonic() + 10
    while len([l for l in p.lines() if l.startswith("listening ")]) < n:
        if time.monotonic() > deadline or p.p.poll() is not None:
            raise AssertionError("daemon not up: %r %r" % (p.lines(), p.errlines()))
        time.sleep(0.05)


class SocketActivation(unittest.TestCase):
    def test_tcp_several_services_v4_v6_shared_by_workers(self):
        base = sktest.free_port_base()
        v6 = "::1" if HAVE_V6 else "127.0.0.1"
        # (service, host, port, name): two placed by port, the rest by name.
        plan = [("echo", "127.0.0.1", sktest.free_port(), "echo"),
                ("echo", v6, sktest.free_port(), "echo-v6"),
                ("chargen", "127.0.0.1", sktest.free_port(), "chargen.tcp"),
                ("qotd", v6, sktest.free_port(), "qotd"),
                ("discard", "127.0.0.1", sktest.free_port(), "discard-v4"),
                ("daytime", "127.0.0.1", base + 13, "unknown"),
                ("time", v6, base + 37, "")]
        p = activate(self, [(h, port) for _, h, port, _ in plan], [n for *_, n in plan],
                     ["--threads", "3", "--port-base", base])
        with p:
            # The first connection makes systemd-socket-activate exec sockit.
            svccheck.tcp(self, "echo", "127.0.0.1", plan[0][2])
            wait_listening(p, len(plan))
            for service, host, port, _ in plan:
                svccheck.tcp(self, service, host, port)
            # Three workers share each inherited listener: many connections
            # in a row are all served, whichever worker takes them.
            for _ in range(12):
                svccheck.tcp(self, "echo", plan[1][1], plan[1][2])
            for i, (service, host, port, name) in enumerate(plan):
                by = "name" if name.split("-")[0].split(".")[0] == service else "port"
                p.wait_line("event=activation fd=%d service=%s proto=tcp by=%s"
                            % (3 + i, service, by), stream="err")
            lines = [l for l in p.lines() if l.startswith("listening ")]
            self.assertEqual(len(lines), len(plan), lines)
            self.assertIn("listening service=daytime proto=tcp addr=127.0.0.1:%d" % (base + 13),
                          lines)
            # Close-on-exec on every inherited descriptor.
            for i in range(len(plan)):
                with open("/proc/%d/fdinfo/%d" % (p.p.pid, 3 + i)) as f:
                    flags = int(re.search(r"flags:\s*([0-7]+)", f.read()).group(1), 8)
                self.assertTrue(flags & O_CLOEXEC, "fd %d flags %o" % (3 + i, flags))
            self.assertEqual(p.stop(), 0, p.errlines())

    def test_udp_several_services_v4_v6(self):
        base = sktest.free_port_base()
        v6 = "::1" if HAVE_V6 else "127.0.0.1"
        plan = [("echo", "127.0.0.1", sktest.free_port(), "echo.udp"),
                ("time", v6, sktest.free_port(), "time-v6"),
                ("chargen", v6, sktest.free_port(), "chargen"),
                ("qotd", "127.0.0.1", sktest.free_port(), "qotd-udp"),
                ("daytime", "127.0.0.1", base + 13, "unknown")]
        p = activate(self, [(h, port) for _, h, port, _ in plan], [n for *_, n in plan],
                     ["--threads", "2", "--port-base", base], datagram=True)
        with p:
            # The first datagram starts sockit and is answered by it.
            svccheck.udp(self, "echo", "127.0.0.1", plan[0][2], timeout=5.0)
            wait_listening(p, len(plan))
            for service, host, port, _ in plan:
                svccheck.udp(self, service, host, port)
            lines = [l for l in p.lines() if l.startswith("listening ")]
            self.assertEqual(sorted(l.split()[1] for l in lines),
                             sorted("service=" + s for s, *_ in plan))
            self.assertTrue(all("proto=udp" in l for l in lines), lines)
            self.assertEqual(p.stop(), 0, p.errlines())

    def test_descriptor_naming_no_service_is_refused(self):
        port = sktest.free_port()
        p = activate(self, [("127.0.0.1", port)], ["bogus"], [])
        with p:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=5).close()
            except OSError:
                pass
            self.assertEqual(p.wait(10), 1)
            err = "\n".join(p.errlines())
            self.assertIn("sockit: LISTEN_FDS: descriptor 3 (tcp 127.0.0.1:%d, name 'bogus') "
                          "names no service" % port, err)

    def test_descriptor_that_is_no_socket_is_refused(self):
        # A pipe where a socket should be, passed by hand as descriptor 3.
        r, w = os.pipe()
        os.dup2(r, 40)
        try:
            p = sktest.Proc(["bash", "-c", 'export LISTEN_PID=$$ LISTEN_FDS=1 '
                             'LISTEN_FDNAMES=echo; exec "$@" 3<&40 40<&-', "bash",
                             sktest.SOCKIT, "serve"], pass_fds=(40,))
            with p:
                self.assertEqual(p.wait(10), 1)
                self.assertIn("sockit: LISTEN_FDS: descriptor 3: Socket operation on "
                              "non-socket", p.errlines())
        finally:
            for fd in (r, w, 40):
                os.close(fd)

    def test_listen_pid_of_another_process_is_ignored(self):
        base = sktest.free_port_base()
        env = dict(os.environ, LISTEN_PID="1", LISTEN_FDS="1", LISTEN_FDNAMES="echo")
        with sktest.Proc([sktest.SOCKIT, "serve", "--port-base", base, "--bind", "127.0.0.1",
                          "--services", "echo", "--no-udp"], env=env) as p:
            p.wait_line("listening service=echo proto=tcp addr=127.0.0.1:%d" % (base + 7))
            svccheck.tcp(self, "echo", "127.0.0.1", base + 7)
            self.assertFalse([l for l in p.errlines() if "activation" in l], p.errlines())
            self.assertEqual(p.stop(), 0)


if __name__ == "__main__":
    sktest.main()
