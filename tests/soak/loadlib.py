# SPDX-License-Identifier: MIT
"""Shared pieces of the load tests of `sockit serve` (tests/soak/soak.py and
the abuse, shutdown-under-load and soak tests in tests/integration/).

    ServeProc        sockit serve as a child, with its pid for /proc readings
    fd_count, vm_rss_kib
                     what the server holds: descriptors and resident memory
    settle_fds       waits until the descriptor count is back to a baseline
    EchoStream       the bytes an echo client sends, and their verification
    ChargenCheck     incremental verification of the RFC 864 stream
    raise_nofile     lifts this process's descriptor limit for many clients
    error_lines      the server's log lines that report an error

Everything stays on loopback; python3 standard library only.
"""

import os
import random
import re
import resource
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import sktest  # noqa: E402

SERVICES = {"echo": 7, "discard": 9, "daytime": 13, "qotd": 17, "chargen": 19, "time": 37}


# ---- the server process ------------------------------------------------------

class ServeProc(sktest.Proc):
    """`sockit serve --port-base B --bind 127.0.0.1 ARGS` on a free port base.

    port(service) gives a service's port; pid is the server's process id.
    The constructor returns once every listening line has been printed.
    """

    def __init__(self, args=(), services=None, tcp=True, udp=True, timeout=15.0):
        self.base = sktest.free_port_base()
        argv = [sktest.SOCKIT, "serve", "--port-base", self.base, "--bind", "127.0.0.1"]
        if services is not None:
            argv += ["--services", ",".join(services)]
        if not tcp:
            argv.append("--no-tcp")
        if not udp:
            argv.append("--no-udp")
        argv += list(args)
        super().__init__(argv)
        self.pid = self.p.pid
        want = len(services if services is not None else SERVICES) * (int(tcp) + int(udp))
        deadline = time.monotonic() + timeout
        while len([l for l in self.lines() if l.startswith("listening ")]) < want:
            if time.monotonic() > deadline or self.p.poll() is not None:
                self.stop()
                raise AssertionError("serve did not start: argv=%r out=%r err=%r"
                                     % (self.argv, self.lines(), self.errlines()))
            time.sleep(0.02)

    def port(self, service):
        return self.base + SERVICES[service]

    def addr(self, service):
        return ("127.0.0.1", self.port(service))

    def alive(self):
        return self.p.poll() is None


def fd_count(pid):
    """Open descriptors of process `pid`."""
    return len(os.listdir("/proc/%d/fd" % pid))


def vm_rss_kib(pid):
    """Resident memory of process `pid` in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def settle_fds(pid, baseline, timeout=10.0):
    """Waits until `pid` holds `baseline` descriptors; returns the last count."""
    deadline = time.monotonic() + timeout
    n = fd_count(pid)
    while n != baseline and time.monotonic() < deadline:
        time.sleep(0.05)
        n = fd_count(pid)
    return n


def stable_fd_count(pid, quiet=0.3, timeout=5.0):
    """The descriptor count of `pid` once it has not changed for `quiet`
    seconds (closes the server has yet to notice settle first)."""
    deadline = time.monotonic() + timeout
    n = fd_count(pid)
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        m = fd_count(pid)
        if m != n:
            n, since = m, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return n


def raise_nofile(need):
    """Raises the soft descriptor limit to the hard one; False when even the
    hard limit is below `need`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft == resource.RLIM_INFINITY or soft >= need


# An `error="..."` field; not a counter whose key ends in "error"
# (the stop line's tls_failed_error=0).
ERROR_KEY = re.compile(r"(^|\s)error=")


def error_lines(lines):
    """The log lines that report a failure of the server itself.  sockit
    serve logs key=value lines; its errors are `event=error ...` (accept or
    loop failures) and `event=... error="..."` (e.g. a failed reload).  A
    connection closed because its peer reset it is logged with -v only, as
    `event=close ... reason=error`: that is the peer's doing, not a server
    failure, so it is not counted here."""
    bad = []
    for l in lines:
        low = l.lower()
        if low.startswith("event=close "):
            continue
        if "event=error" in low or "level=error" in low or ERROR_KEY.search(low) \
                or "fatal" in low or "panic" in low or low.startswith("sockit:"):
            bad.append(l)
    return bad


# ---- clients ----------------------------------------------------------------

def stalled_echo(addr):
    """An echo client that sent until flow control stopped it, without
    reading: the server holds output it cannot send and input it has read
    but not yet echoed.  Returns (socket, the bytes it sent).  Each
    connection sends its own bytes (seeded by both ports), so an echo that
    went to the wrong client would not match."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.settimeout(5)
    s.connect(addr)
    s.setblocking(False)
    payload = random.Random("%d/%d" % (addr[1], s.getsockname()[1])).randbytes(1 << 20)
    sent, stalled_since = 0, None
    while True:
        try:
            sent += s.send(payload[sent % len(payload):])
            stalled_since = None
        except BlockingIOError:
            stalled_since = stalled_since or time.monotonic()
            if time.monotonic() - stalled_since > 0.5:
                break
            time.sleep(0.01)
    whole = payload * (sent // len(payload) + 1)
    return s, whole[:sent]


def read_to_end(s, timeout=20.0):
    """Everything until end of stream; (bytes, the error that ended it or
    None for a clean end)."""
    s.setblocking(True)
    s.settimeout(timeout)
    got = bytearray()
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return bytes(got), None
            got += b
    except OSError as e:
        return bytes(got), e



# ---- content verification ----------------------------------------------------

CHARGEN_PERIOD = 74 * 95
_CHARGEN_TWICE = sktest.chargen_ref(0, 2 * CHARGEN_PERIOD)


def chargen_ok(offset, data):
    """True when `data` is the chargen stream from byte `offset` on."""
    pos = 0
    while pos < len(data):
        start = (offset + pos) % CHARGEN_PERIOD
        n = min(len(data) - pos, CHARGEN_PERIOD)
        if data[pos:pos + n] != _CHARGEN_TWICE[start:start + n]:
            return False
        pos += n
    return True


class ChargenCheck:
    """Verifies a chargen stream chunk by chunk; `bad` is set at the first
    wrong byte."""

    def __init__(self):
        self.offset = 0
        self.bad = False

    def feed(self, data):
        if not self.bad and not chargen_ok(self.offset, data):
            self.bad = True
        self.offset += len(data)


_BLOCK = random.Random(0x5eed).randbytes(1 << 16)
_BLOCK_TWICE = _BLOCK + _BLOCK


class EchoStream:
    """The byte stream one echo client sends (a random block read from a
    per-client starting point), and the check of what comes back."""

    def __init__(self, rng):
        self.start = rng.randrange(len(_BLOCK))
        self.sent = 0      # bytes handed to the socket
        self.received = 0  # bytes verified
        self.bad = False

    def chunk(self, n):
        """The next at most `n` bytes to send (the caller reports what went
        out with sent_n)."""
        off = (self.start + self.sent) % len(_BLOCK)
        return _BLOCK_TWICE[off:off + min(n, len(_BLOCK))]

    def sent_n(self, n):
        self.sent += n

    def feed(self, data):
        """Checks received bytes; more than was sent is wrong too."""
        pos = 0
        while pos < len(data) and not self.bad:
            off = (self.start + self.received + pos) % len(_BLOCK)
            n = min(len(data) - pos, len(_BLOCK))
            if data[pos:pos + n] != _BLOCK_TWICE[off:off + n]:
                self.bad = True
            pos += n
        self.received += len(data)
        if self.received > self.sent:
            self.bad = True
