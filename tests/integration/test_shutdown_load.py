# SPDX-License-Identifier: MIT
"""`sockit serve` stopped by SIGTERM while 200 transfers are in flight:
echo transfers, chargen readers, and time, daytime and qotd requests opened
just before the signal.  The server exits 0 within its grace period; no
client sees a truncated reply or a wrong byte; every byte the server says
it sent (its -v close lines and its stop line) reached its client.
"""

import os
import random
import re
import selectors
import signal
import socket
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "soak"))
import sktest  # noqa: E402
from loadlib import ChargenCheck, EchoStream, ServeProc, read_to_end, stalled_echo  # noqa: E402

QUOTES = [
    "Short and sweet.",
    "A quote of two lines,\nthe second one ends it.",
    "Three lines here:\n  an indented middle line\nand an end.",
    "The longest of them says a little more than the others, so that the "
    "reply needs more than one small write: " + "more words " * 20 + "end.",
]
# On the wire each line ends with CR LF.
WIRE_QUOTES = {("\r\n".join(q.split("\n")) + "\r\n").encode() for q in QUOTES}
DAYTIME = re.compile(rb"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|"
                     rb"Oct|Nov|Dec) [ 123]\d \d\d:\d\d:\d\d \d{4}\r\n$")

ECHO_CLIENTS = 50
STALLED_CLIENTS = 10
CHARGEN_CLIENTS = 40
ONESHOT_CLIENTS = 100
GRACE = 5.0


class Client:
    """One connection of the load; `kind` is echo, chargen, time, daytime
    or qotd."""

    def __init__(self, kind, sock, rng):
        self.kind = kind
        self.sock = sock
        self.port = sock.getsockname()[1]
        self.data = bytearray()   # one-shot replies
        self.received = 0
        self.eof = False
        self.reset = None         # the error that ended the connection
        self.echo = EchoStream(rng) if kind == "echo" else None
        self.total = rng.randrange(64 << 10, 4 << 20) if kind == "echo" else 0
        self.shut = False
        self.check = ChargenCheck() if kind == "chargen" else None

    def wrong(self):
        """Why what this client got is wrong, or None."""
        if self.kind == "echo":
            return "wrong echoed bytes" if self.echo.bad else None
        if self.kind == "chargen":
            return "wrong chargen bytes" if self.check.bad else None
        d = bytes(self.data)
        if not d:
            return None  # never served: the server stopped before accepting
        if self.kind == "time":
            ok = len(d) == 4 and self.eof
        elif self.kind == "daytime":
            ok = DAYTIME.match(d) is not None and self.eof
        else:
            ok = d in WIRE_QUOTES and self.eof
        return None if ok else "truncated or wrong %s reply %r (eof=%s, error=%s)" \
            % (self.kind, d, self.eof, self.reset)


class Load:
    """The client side, driven by one selector loop in its own thread."""

    def __init__(self, srv):
        self.srv = srv
        self.rng = random.Random(42)
        self.sel = selectors.DefaultSelector()
        self.clients = []
        self.open = 0
        self.want_oneshots = threading.Event()
        self.oneshots_open = threading.Event()
        self.stop = threading.Event()
        self.error = None

    def connect(self, kind, events):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(self.srv.addr(kind))
        c = Client(kind, s, self.rng)
        self.clients.append(c)
        self.sel.register(s, events, c)
        self.open += 1
        return c

    def finish(self, c, err=None):
        c.eof = err is None
        c.reset = err
        self.sel.unregister(c.sock)
        c.sock.close()
        self.open -= 1

    def on_write(self, c):
        st = c.echo
        if c.shut:
            return
        if st.sent < c.total:
            try:
                st.sent_n(c.sock.send(st.chunk(min(65536, c.total - st.sent))))
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                # The server has closed: the reading side tells the story.
                c.shut = True
                self.sel.modify(c.sock, selectors.EVENT_READ, c)
                c.send_error = e
                return
        if st.sent >= c.total:
            c.sock.shutdown(socket.SHUT_WR)
            c.shut = True
            self.sel.modify(c.sock, selectors.EVENT_READ, c)

    def on_read(self, c):
        try:
            b = c.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self.finish(c, e)
            return
        if not b:
            if c.kind == "echo" and not c.shut:
                # The server ended the echo: end ours so it can close.
                try:
                    c.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
            self.finish(c)
            return
        c.received += len(b)
        if c.kind == "echo":
            c.echo.feed(b)
        elif c.kind == "chargen":
            c.check.feed(b)
        else:
            c.data += b

    def started(self):
        """True once every echo and chargen client has received bytes."""
        clients = [c for c in self.clients if c.kind in ("echo", "chargen")]
        return len(clients) == ECHO_CLIENTS + CHARGEN_CLIENTS and \
            all(c.received > 0 for c in clients)

    def run(self):
        try:
            self._run()
        except BaseException as e:  # reported by the test
            self.error = e

    def _run(self):
        for _ in range(ECHO_CLIENTS):
            self.connect("echo", selectors.EVENT_READ | selectors.EVENT_WRITE)
        for _ in range(CHARGEN_CLIENTS):
            self.connect("chargen", selectors.EVENT_READ)
        deadline = time.monotonic() + 60
        while self.open and time.monotonic() < deadline and not self.stop.is_set():
            if self.want_oneshots.is_set() and not self.oneshots_open.is_set():
                for i in range(ONESHOT_CLIENTS):
                    self.connect(("time", "daytime", "qotd")[i % 3], selectors.EVENT_READ)
                self.oneshots_open.set()
            for key, ev in self.sel.select(0.2):
                c = key.data
                if c.sock.fileno() < 0:
                    continue
                if ev & selectors.EVENT_WRITE:
                    self.on_write(c)
                if ev & selectors.EVENT_READ and c.sock.fileno() >= 0:
                    self.on_read(c)


def tcp_queues():
    """(local port, remote port) -> (tx_queue, rx_queue) of every IPv4 TCP
    socket on 127.0.0.1, from /proc/net/tcp.  tx_queue: bytes written but
    not yet acknowledged by the peer's kernel; rx_queue: bytes received by
    the kernel but not yet read by the process."""
    out = {}
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, remote, queues = fields[1], fields[2], fields[4]
            if not local.startswith("0100007F:") or not remote.startswith("0100007F:"):
                continue
            tx, rx = (int(q, 16) for q in queues.split(":"))
            out[(int(local.split(":")[1], 16), int(remote.split(":")[1], 16))] = (tx, rx)
    return out


def listening_ports():
    """Ports of the IPv4 TCP sockets listening on 127.0.0.1."""
    out = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[3] == "0A" and fields[1].startswith("0100007F:"):
                out.add(int(fields[1].split(":")[1], 16))
    return out


def close_lines(lines):
    """(server port, client port) -> (bytes_in, bytes_out, reason) from the
    server's -v close lines.  The client port alone is not a key: the kernel
    may give an echo client and a chargen client the same one at once."""
    out = {}
    for l in lines:
        if not l.startswith("event=close "):
            continue
        f = dict(kv.split("=", 1) for kv in l.split() if "=" in kv)
        key = (int(f["local"].rsplit(":", 1)[1]), int(f["peer"].rsplit(":", 1)[1]))
        out[key] = (int(f["bytes_in"]), int(f["bytes_out"]), f["reason"])
    return out


class ShutdownUnderLoad(unittest.TestCase):

    maxDiff = 1000

    def test_sigterm_with_200_transfers_in_flight(self):
        with tempfile.NamedTemporaryFile("w", suffix=".quotes", delete=False) as f:
            f.write("\n%\n".join(QUOTES) + "\n")
            quotes = f.name
        self.addCleanup(os.unlink, quotes)
        srv = ServeProc(["--threads", "2", "--grace", GRACE, "-v", "--qotd-file", quotes],
                        udp=False)
        self.addCleanup(srv.stop)
        stalled = [stalled_echo(srv.addr("echo")) for _ in range(STALLED_CLIENTS)]
        load = Load(srv)
        t = threading.Thread(target=load.run)
        t.start()
        deadline = time.monotonic() + 20
        while not load.started() and time.monotonic() < deadline and t.is_alive():
            time.sleep(0.05)
        self.assertTrue(load.started(), "the transfers did not start")
        load.want_oneshots.set()
        self.assertTrue(load.oneshots_open.wait(20))
        # What each stalled client's server side has read: what the
        # client sent, less what its kernel still holds (tx) and what the
        # server's kernel has not handed to the server yet (rx).  Nothing
        # moves on these connections until they read again.
        queues = tcp_queues()
        port = srv.port("echo")
        read_by_server = []
        for s, data in stalled:
            me = s.getsockname()[1]
            tx, _ = queues[(me, port)]
            _, rx = queues[(port, me)]
            read_by_server.append(len(data) - tx - rx)
        t_sig = time.monotonic()
        srv.p.send_signal(signal.SIGTERM)
        # Reading before the server has taken the signal in would let it
        # echo on as usual: wait until it has closed its listening sockets.
        deadline = time.monotonic() + 5
        while port in listening_ports() and time.monotonic() < deadline:
            time.sleep(0.005)
        stalled_got = []
        for s, data in stalled:
            stalled_got.append(read_to_end(s))
            s.close()
        rc = srv.wait(timeout=GRACE + 15)
        took = time.monotonic() - t_sig
        t.join(GRACE + 30)
        load.stop.set()
        t.join(5)
        self.assertIsNone(load.error)
        self.assertEqual(rc, 0, srv.errlines()[-20:])
        self.assertLess(took, GRACE + 2, "exit %.1fs after SIGTERM with a %.0fs grace"
                        % (took, GRACE))
        self.assertEqual(load.open, 0, "connections still open after the server exited")

        logged = close_lines(srv.errlines())
        problems = []
        served = {"time": 0, "daytime": 0, "qotd": 0}
        echoed = 0
        for c in load.clients:
            why = c.wrong()
            if why:
                problems.append("%s client :%d: %s" % (c.kind, c.port, why))
                continue
            if c.kind in served:
                served[c.kind] += bool(c.data)
            if c.kind not in ("echo", "chargen"):
                continue
            key = (srv.port(c.kind), c.port)
            if key not in logged:
                problems.append("%s client :%d has no close line" % (c.kind, c.port))
                continue
            b_in, b_out, reason = logged[key]
            if c.reset is not None:
                problems.append("%s client :%d: %s after %d bytes (server: in=%d out=%d "
                                "reason=%s)" % (c.kind, c.port, c.reset, c.received,
                                                b_in, b_out, reason))
            elif c.received != b_out:
                problems.append("%s client :%d received %d bytes, the server sent %d"
                                % (c.kind, c.port, c.received, b_out))
                continue
            if c.kind == "echo":
                echoed += c.received
        lost = []
        for (s, data), n_read, (got, err) in zip(stalled, read_by_server, stalled_got):
            if got != data[:len(got)]:
                problems.append("stalled echo client: wrong bytes")
            elif err is not None:
                problems.append("stalled echo client: %s after %d bytes" % (err, len(got)))
            elif len(got) != n_read:
                lost.append("stalled echo client: the server had read %d of its %d bytes "
                            "and echoed %d" % (n_read, len(data), len(got)))
            echoed += len(got)
        self.assertEqual(problems, [], "%d problems:\n%s" % (len(problems), "\n".join(problems)))
        # The server's total matches what all clients received.
        stop = srv.wait_line("event=stop", stream="err")
        fields = dict(f.split("=", 1) for f in stop.split() if "=" in f)
        got = sum(c.received for c in load.clients) + sum(len(g) for g, _ in stalled_got)
        self.assertEqual(int(fields["bytes_out"]), got, stop)
        print("\nexit %.2fs after SIGTERM; echoed %d bytes; one-shot replies served %r of %d"
              % (took, echoed, served, ONESHOT_CLIENTS))
        # Input the server had read but not yet echoed (kept while its
        # output was backed up) is part of the response in flight.
        self.assertEqual(lost, [], "\n".join(lost))


    def test_sigint_with_peers_that_never_read(self):
        """Peers that never read hold output the server cannot deliver:
        the grace period bounds the wait, then the server exits 0."""
        grace = 2.0
        srv = ServeProc(["--threads", "2", "--grace", grace], services=["echo", "chargen"],
                        udp=False)
        self.addCleanup(srv.stop)
        held = []
        for _ in range(10):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
            s.connect(srv.addr("chargen"))
            held.append(s)
        held += [stalled_echo(srv.addr("echo"))[0] for _ in range(5)]
        held += [socket.create_connection(srv.addr("echo"), timeout=5) for _ in range(5)]
        for s in held:
            self.addCleanup(s.close)
        time.sleep(0.5)
        t0 = time.monotonic()
        srv.p.send_signal(signal.SIGINT)
        rc = srv.wait(timeout=grace + 15)
        took = time.monotonic() - t0
        self.assertEqual(rc, 0, srv.errlines()[-10:])
        self.assertLess(took, grace + 2, "exit %.1fs after SIGINT with a %.0fs grace"
                        % (took, grace))
        # The idle ones got a clean end of stream, not a reset.
        for s in held[15:]:
            s.settimeout(2)
            self.assertEqual(s.recv(100), b"")
        srv.wait_line("event=stop", stream="err")
        print("\nexit %.2fs after SIGINT with 15 peers that never read (grace %.0fs)"
              % (took, grace))


if __name__ == "__main__":
    sktest.main()
