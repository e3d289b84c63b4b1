# SPDX-License-Identifier: MIT
"""Shared helpers for sockit's python3 test programs (integration/, interop/).

The python3 standard library is the independent peer: tests drive sockit's
binaries and talk to them with plain `socket`, or run a stdlib server for a
sockit client.  Everything stays on loopback.

    import sktest
    ...
    if __name__ == "__main__":
        sktest.main()

sktest.main() runs unittest and exits 77 (ctest: skipped) when every test
in the file was skipped, printing the reasons.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("SOCKIT_SOURCE", os.path.dirname(HERE))
BUILD = os.environ.get("SOCKIT_BUILD", os.path.join(SOURCE, "build"))
SOCKIT = os.path.join(BUILD, "sockit")

# The sanitizers the build under test uses ("" for a plain build).  Under
# ASan, freed memory sits in a quarantine and shadow memory grows with use,
# so a process's resident size says nothing about the program's own memory.
SANITIZE = os.environ.get("SOCKIT_SANITIZE", "")


def memory_is_measurable():
    """True when resident-memory bounds mean something for this build."""
    return SANITIZE == ""


def example(name):
    """Path of a built example program."""
    return os.path.join(BUILD, "examples", name)


def have_ipv6():
    """True when ::1 can be bound on this machine."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _ephemeral_low():
    """Lowest port the kernel hands out to unbound sockets (32768 usually)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port, family=socket.AF_INET):
    """True when `port` is free for TCP and UDP on loopback right now."""
    host = "127.0.0.1" if family == socket.AF_INET else "::1"
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        try:
            with socket.socket(family, kind) as s:
                s.bind((host, port))
        except OSError:
            return False
    return True


# Ports for servers under test come from below the kernel's ephemeral range,
# so a client connection made by a test running in parallel can never be
# holding the port between our check and the server's bind.
_PORT_LOW = 10000


def free_port(kind=socket.SOCK_STREAM, family=socket.AF_INET):
    """A port that is free for both TCP and UDP on loopback right now."""
    import random
    high = _ephemeral_low() - 1
    for _ in range(200):
        port = random.randrange(_PORT_LOW, high)
        if _bindable(port, family):
            return port
    raise RuntimeError("no free port")


_SERVICES = None


def services():
    """{name: (protocols, standard port)} in the daemon's order, from
    `sockit serve --list-services` (svc_table, the one list), e.g.
    {"echo": (("tcp", "udp"), 7), ..., "ntp": (("udp",), 123)}; the TLS
    twins it also prints are tls_services()."""
    global _SERVICES
    if _SERVICES is None:
        r = subprocess.run([SOCKIT, "serve", "--list-services"], capture_output=True,
                           text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("sockit serve --list-services: %r" % r.stderr)
        found = {}
        for line in r.stdout.splitlines():
            name, protos, port = line.split(" ")
            found[name] = (tuple(protos.split(",")), int(port))
        _SERVICES = found
    return {n: v for n, v in _SERVICES.items() if not n.endswith("-tls")}


def tls_services():
    """{name: standard port} of the TLS twins ("echo-tls": 7, ...) that
    `sockit serve --list-services` prints after the services (served with
    --tls-cert at --tls-port-base + the port)."""
    services()
    return {n: port for n, (_, port) in _SERVICES.items() if n.endswith("-tls")}


def service_ports(proto=None):
    """{name: standard port} of the services (those over `proto` only, when
    given: "tcp" or "udp")."""
    return {n: port for n, (protos, port) in services().items()
            if proto is None or proto in protos}


def free_port_base(offsets=None):
    """A port base B such that B+offset is free (TCP and UDP) for each offset
    (default: every service's standard port)."""
    import random
    if offsets is None:
        offsets = tuple(service_ports().values())
    high = _ephemeral_low() - 1 - max(offsets)
    for _ in range(200):
        base = random.randrange(_PORT_LOW, high)
        if all(_bindable(base + off) for off in offsets):
            return base
    raise RuntimeError("no free port base")


def require_program(name):
    """Path of `name`, or skip the test saying which package is missing."""
    path = shutil.which(name)
    if path is None:
        raise unittest.SkipTest(
            "%s not installed (scripts/install-deps.sh test installs it as root)" % name)
    return path


def isolated(argv):
    """argv prefixed to run in a new, empty network namespace (`unshare -n`).

    Used for unknown-host cases: the resolver's DNS query then fails locally
    instead of leaving the machine.  Skips the test where that is impossible.
    """
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0 or \
            subprocess.run([unshare, "-n", "true"], capture_output=True).returncode != 0:
        raise unittest.SkipTest("cannot create a network namespace (needs root and "
                                "unshare): an unknown-host check would query real DNS")
    return [unshare, "-n"] + [str(a) for a in argv]


def wait_port(port, host="127.0.0.1", timeout=10.0, kind=socket.SOCK_STREAM):
    """Waits until a TCP server accepts on host:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("nothing listening on %s:%d" % (host, port))


class Proc:
    """A child process whose stdout/stderr are collected by threads.

    lines(): stdout lines so far; wait_line(pred): waits for a matching line.
    Stopped (SIGTERM, then SIGKILL) by stop() or when used as a context.
    """

    def __init__(self, argv, stdin=subprocess.DEVNULL, env=None, pass_fds=()):
        self.argv = [str(a) for a in argv]
        self.p = subprocess.Popen(self.argv, stdin=stdin, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env, pass_fds=pass_fds)
        self._out, self._err = [], []
        self._cv = threading.Condition()
        self._threads = [threading.Thread(target=self._pump, args=(self.p.stdout, self._out), daemon=True),
                         threading.Thread(target=self._pump, args=(self.p.stderr, self._err), daemon=True)]
        for t in self._threads:
            t.start()

    def _pump(self, stream, sink):
        for raw in iter(stream.readline, b""):
            with self._cv:
                sink.append(raw.decode("utf-8", "replace").rstrip("\r\n"))
                self._cv.notify_all()
        with self._cv:
            self._cv.notify_all()

    def lines(self):
        with self._cv:
            return list(self._out)

    def errlines(self):
        with self._cv:
            return list(self._err)

    def wait_line(self, pred, timeout=10.0, stream="out"):
        """Returns the first line satisfying pred (a substring or callable)."""
        test = pred if callable(pred) else (lambda l: pred in l)
        sink = self._out if stream == "out" else self._err
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for line in sink:
                    if test(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or (self.p.poll() is not None and all(not t.is_alive() for t in self._threads)):
                    raise AssertionError("no line matching %r from %s within %.1fs; stdout=%r stderr=%r"
                                         % (pred, self.argv, timeout, self._out, self._err))
                self._cv.wait(min(left, 0.1))

    def wait(self, timeout=10.0):
        rc = self.p.wait(timeout)
        self._finish()
        return rc

    def _finish(self):
        """Collects the output threads and closes our ends of the pipes."""
        for t in self._threads:
            t.join(2)
        for stream in (self.p.stdout, self.p.stderr):
            if stream is not None and not stream.closed:
                stream.close()

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self._finish()
        return self.p.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def run(argv, input=None, timeout=30.0):
    """Runs a command to completion; returns CompletedProcess with text output."""
    return subprocess.run([str(a) for a in argv], input=input, capture_output=True,
                          timeout=timeout, text=isinstance(input, str) or input is None)


def recv_all(sock, timeout=5.0):
    """Reads from a TCP socket until the peer closes; returns the bytes."""
    sock.settimeout(timeout)
    chunks = []
    while True:
        b = sock.recv(65536)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def chargen_ref(start, n):
    """Bytes start .. start+n of the RFC 864 stream: lines of 72 printable
    characters and CR LF (74 bytes), line N starting at ring position
    N mod 95."""
    out = bytearray()
    for i in range(start, start + n):
        line, col = divmod(i, 74)
        if col == 72:
            out += b"\r"
        elif col == 73:
            out += b"\n"
        else:
            out.append(32 + (line + col) % 95)
    return bytes(out)


def main():
    """Runs the file's unittest cases; exit 77 when all were skipped."""
    prog = unittest.main(exit=False, verbosity=2)
    result = prog.result
    if not result.wasSuccessful():
        sys.exit(1)
    # A class skipped in setUpClass counts as a skip but not as a test run.
    if result.skipped and len(result.skipped) >= result.testsRun:
        for _, reason in result.skipped:
            print("skipped: %s" % reason)
        sys.exit(77)
    if result.testsRun == 0:
        print("no tests ran")
        sys.exit(1)
    sys.exit(0)
