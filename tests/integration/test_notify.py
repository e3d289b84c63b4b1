# SPDX-License-Identifier: MIT
"""Readiness notification (the sd_notify protocol) from `sockit serve`, to a
NOTIFY_SOCKET this test creates: READY=1 arrives only once every listener
is ready (each TCP and UDP service is asked at once after it, and answers);
SIGHUP brings RELOADING=1 (with MONOTONIC_USEC) then READY=1; SIGTERM
brings STOPPING=1 and exit 0.  Both address forms: a path, and '@' for the
abstract namespace; with sockets it binds itself and with inherited ones
(socket activation).  A NOTIFY_SOCKET that is no Unix address is an error.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sktest  # noqa: E402
import svccheck  # noqa: E402

SERVICES = sktest.service_ports("tcp")  # {name: standard port}, from svc_table


class Notify(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    def tearDown(self):
        self.sock.close()
        self.tmp.cleanup()

    def bind(self, abstract):
        if abstract:
            name = "sockit-test-notify-%d-%d" % (os.getpid(), id(self))
            self.sock.bind("\0" + name)
            return "@" + name
        path = os.path.join(self.tmp.name, "notify")
        self.sock.bind(path)
        return path

    def expect(self, prefix, timeout=10.0):
        self.sock.settimeout(timeout)
        msg = self.sock.recv(4096).decode()
        self.assertTrue(msg.startswith(prefix), msg)
        return msg

    def every_service_answers(self, base, tcp=True, udp=True):
        for name, port in SERVICES.items():
            if tcp:
                svccheck.tcp(self, name, "127.0.0.1", base + port)
            if udp:
                svccheck.udp(self, name, "127.0.0.1", base + port, tries=1)

    def lifecycle(self, p, base, tcp=True, udp=True):
        self.expect("READY=1")
        # Nothing may be refused or lost right after READY=1 (one try each).
        self.every_service_answers(base, tcp, udp)
        p.p.send_signal(signal.SIGHUP)
        self.assertIn("\nMONOTONIC_USEC=", self.expect("RELOADING=1"))
        self.expect("READY=1")
        p.p.send_signal(signal.SIGTERM)
        self.expect("STOPPING=1")
        self.assertEqual(p.wait(15), 0, p.errlines())

    def test_ready_after_binding_abstract_address(self):
        base = sktest.free_port_base()
        env = dict(os.environ, NOTIFY_SOCKET=self.bind(abstract=True))
        with sktest.Proc([sktest.SOCKIT, "serve", "--port-base", base, "--bind", "127.0.0.1",
                          "--threads", "2"], env=env) as p:
            self.lifecycle(p, base)

    def test_ready_after_activation_path_address(self):
        base = sktest.free_port_base()
        socks, redirect, keep = [], "", []
        for i, (name, port) in enumerate(SERVICES.items()):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", base + port))
            s.listen(16)
            socks.append(s)
            high = 60 + i
            os.dup2(s.fileno(), high)
            keep.append(high)
            redirect += " %d<&%d %d<&-" % (3 + i, high, high)
        env = dict(os.environ, NOTIFY_SOCKET=self.bind(abstract=False))
        script = ('export LISTEN_PID=$$ LISTEN_FDS=%d LISTEN_FDNAMES=%s; exec "$@"%s'
                  % (len(socks), ":".join(SERVICES), redirect))
        try:
            with sktest.Proc(["bash", "-c", script, "bash", sktest.SOCKIT, "serve",
                              "--threads", "2"], env=env, pass_fds=tuple(keep)) as p:
                for s in socks:
                    s.close()
                self.lifecycle(p, base, udp=False)
        finally:
            for fd in keep:
                os.close(fd)

    def test_bad_notify_socket_is_an_error(self):
        env = dict(os.environ, NOTIFY_SOCKET="relative/path")
        r = subprocess.run([sktest.SOCKIT, "serve"], env=env, capture_output=True, text=True,
                           timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("sockit: NOTIFY_SOCKET: 'relative/path' is not a Unix socket path",
                      r.stderr)


if __name__ == "__main__":
    sktest.main()
