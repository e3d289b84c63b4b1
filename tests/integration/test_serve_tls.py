#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`sockit serve --tls-cert --tls-key`: the NAME-tls twin of every TCP
service, against Python's ssl module as an independent client, with
certificates from tests/tlscerts.py:

  - every twin is byte-exact against its plain twin (echo, chargen and
    discard with 10 MiB; daytime, qotd and time as their clients read
    them), over TLS 1.3 and 1.2;
  - plaintext (and garbage) to a TLS port is closed without a byte of the
    service, with one rate-limited log line;
  - a silent client is closed after --tls-handshake-timeout;
  - mutual TLS (--tls-client-ca): no certificate or one from another CA
    refused, the right one accepted;
  - SIGHUP: a new connection sees the new certificate's serial while an old
    connection keeps working; a file that fails to load keeps the
    certificate and logs one error line;
  - resumption with tickets, and a ticket refused once its key has rotated
    out (--tls-ticket-rotate);
  - 2,000 stalled handshakes from 127.0.0.2 do not delay handshakes from
    127.0.0.3 (p95 under 50 ms, or, on a loaded machine, near the same
    handshakes measured without the stall);
  - a client that never reads keeps the server's memory bounded;
  - the metrics: handshakes by result and reason, connections by version,
    the certificate's not-after time.
Loopback only.
"""

import os
import re
import resource
import shutil
import signal
import socket
import ssl
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import proxyproto as pp  # noqa: E402
import sktest  # noqa: E402
import tlscerts  # noqa: E402

TCP = sktest.service_ports("tcp")       # {"echo": 7, ...}
TWINS = sktest.tls_services()           # {"echo-tls": 7, ...}
DAYTIME = re.compile(rb"^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \d{4}\r\n$")
MIB = 1 << 20


def client_ctx(certs, cert=None, version=None):
    ctx = ssl.create_default_context(cafile=certs.ca)
    if cert is not None:
        ctx.load_cert_chain(*certs.path(cert))
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    return ctx


def read_until_close(s, timeout=60):
    s.settimeout(timeout)
    out = bytearray()
    while True:
        try:
            b = s.recv(1 << 16)
        except (ssl.SSLEOFError, ConnectionResetError):
            break
        if not b:
            break
        out += b
    return bytes(out)


class Server:
    """A sockit serve with the TLS twins on loopback."""

    def __init__(self, certs, *extra, cert="server"):
        self.base = sktest.free_port_base(tuple(TCP.values()))
        self.tls_base = sktest.free_port_base(tuple(TWINS.values()))
        self.mport = sktest.free_port()
        cert_path, key_path = certs.path(cert) if isinstance(cert, str) else cert
        self.proc = sktest.Proc([
            sktest.SOCKIT, "serve", "--port-base", self.base, "--tls-port-base", self.tls_base,
            "--bind", "127.0.0.1", "--no-udp", "--threads", "2", "--tls-cert", cert_path,
            "--tls-key", key_path, "--metrics", "127.0.0.1:%d" % self.mport] + list(extra))
        start = self.proc.wait_line("event=start ", stream="err", timeout=20)
        # Every ready line (stdout is read by its own thread).
        n = int(re.search(r"listeners=(\d+)", start).group(1))
        deadline = time.monotonic() + 20
        while len([l for l in self.proc.lines() if l.startswith("listening ")]) < n:
            assert time.monotonic() < deadline, self.proc.lines()
            time.sleep(0.02)

    def port(self, name):
        if name.endswith("-tls"):
            return self.tls_base + TWINS[name]
        return self.base + TCP[name]

    def connect(self, name, source="127.0.0.1", timeout=30):
        return socket.create_connection(("127.0.0.1", self.port(name)), timeout=timeout,
                                        source_address=(source, 0))

    def tls(self, name, ctx, **kw):
        return ctx.wrap_socket(self.connect(name), server_hostname="localhost", **kw)

    def metrics(self):
        status, _, text = pp.scrape(("127.0.0.1", self.mport))
        assert status == 200, status
        return pp.parse_metrics(text)

    def metric(self, name, **labels):
        return pp.metric_sum(self.metrics(), name, **labels)

    def wait_metric(self, name, want, timeout=30, **labels):
        deadline = time.monotonic() + timeout
        while True:
            got = self.metric(name, **labels)
            if (want(got) if callable(want) else got == want):
                return got
            if time.monotonic() > deadline:
                raise AssertionError("%s%r is %r" % (name, labels, got))
            time.sleep(0.05)

    def fds(self):
        """The server's open descriptors."""
        return len(os.listdir("/proc/%d/fd" % self.proc.p.pid))

    def stop(self):
        return self.proc.stop()


class TlsBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        sktest.require_program("openssl")
        cls.tmp = tempfile.TemporaryDirectory()
        try:
            cls.certs = tlscerts.make(os.path.join(cls.tmp.name, "certs"))
        except (OSError, RuntimeError) as e:
            cls.tmp.cleanup()
            raise unittest.SkipTest("cannot make test certificates: %s" % e)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def server(self, *extra, **kw):
        srv = Server(self.certs, *extra, **kw)
        self.addCleanup(srv.stop)
        return srv


class Twins(TlsBase):
    """One server for the byte-exact checks."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv = Server(cls.certs)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        super().tearDownClass()

    def fetch(self, name, ctx=None):
        if name.endswith("-tls"):
            with self.srv.tls(name, ctx or client_ctx(self.certs)) as s:
                return read_until_close(s)
        with self.srv.connect(name) as s:
            return read_until_close(s)

    def test_ready_lines_name_the_twins(self):
        lines = self.srv.proc.lines()
        for name, std in TWINS.items():
            want = "listening service=%s proto=tcp addr=127.0.0.1:%d" % (name,
                                                                           self.srv.tls_base + std)
            self.assertIn(want, lines)

    def test_one_shot_services(self):
        for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
            ctx = client_ctx(self.certs, version=version)
            self.assertRegex(self.fetch("daytime-tls", ctx), DAYTIME)
            self.assertRegex(self.fetch("daytime"), DAYTIME)
            t = self.fetch("time-tls", ctx)
            self.assertEqual(len(t), 4)
            now = time.time() + 2208988800
            self.assertLess(abs(int.from_bytes(t, "big") - now % 2**32), 60)
            q = self.fetch("qotd-tls", ctx)
            self.assertTrue(q.endswith(b"\r\n") and 2 < len(q) < 512, q)
            self.assertTrue(self.fetch("qotd").endswith(b"\r\n"))

    def test_echo_10mib_byte_exact(self):
        payload = os.urandom(MIB) * 10
        for name in ("echo", "echo-tls"):
            s = self.srv.connect(name)
            if name.endswith("-tls"):
                s = client_ctx(self.certs).wrap_socket(s, server_hostname="localhost")
            with s:
                s.settimeout(60)
                got = bytearray()
                view = memoryview(payload)
                sent = 0
                # Interleaved: never more than 1 MiB ahead of what came back.
                while len(got) < len(payload):
                    if sent < len(payload) and sent - len(got) < MIB:
                        n = s.send(view[sent:sent + 65536])
                        sent += n
                        continue
                    b = s.recv(1 << 16)
                    self.assertTrue(b, "%s closed after %d bytes" % (name, len(got)))
                    got += b
                self.assertEqual(bytes(got), payload, name)

    def test_chargen_10mib_byte_exact(self):
        ref = sktest.chargen_ref(0, 10 * MIB)
        for name in ("chargen", "chargen-tls"):
            s = self.srv.connect(name)
            if name.endswith("-tls"):
                s = client_ctx(self.certs).wrap_socket(s, server_hostname="localhost")
            with s:
                s.settimeout(60)
                got = bytearray()
                while len(got) < len(ref):
                    b = s.recv(1 << 16)
                    self.assertTrue(b, "%s closed early" % name)
                    got += b
                self.assertEqual(bytes(got[:len(ref)]), ref, name)

    def test_discard_10mib(self):
        before = self.srv.metric("sockit_bytes_received_total", service="discard-tls")
        with self.srv.tls("discard-tls", client_ctx(self.certs)) as s:
            data = b"d" * MIB
            for _ in range(10):
                s.sendall(data)
            s.settimeout(30)
            # Our close_notify ends the stream; the server's answers it.
            s.unwrap()
        self.srv.wait_metric("sockit_bytes_received_total", before + 10 * MIB,
                             service="discard-tls")
        self.assertEqual(self.srv.metric("sockit_bytes_received_total", service="discard"), 0)

    def test_handshakes_counted_by_result_and_version(self):
        ctx = client_ctx(self.certs)
        with self.srv.tls("echo-tls", ctx) as s:
            s.sendall(b"x")
            self.assertEqual(s.recv(1), b"x")
            cert = s.getpeercert()
            sess = s.session
        with self.srv.tls("echo-tls", ctx, session=sess) as s:
            s.sendall(b"y")
            self.assertEqual(s.recv(1), b"y")
            self.assertTrue(s.session_reused)
        m = self.srv.metrics()
        self.assertGreaterEqual(pp.metric_sum(m, "sockit_tls_handshakes_total",
                                              service="echo-tls", result="resumed"), 1)
        self.assertGreaterEqual(pp.metric_sum(m, "sockit_tls_handshakes_total",
                                              service="echo-tls", result="full"), 1)
        self.assertGreaterEqual(pp.metric_sum(m, "sockit_tls_connections_total",
                                              service="echo-tls", version="TLSv1.3"), 2)
        self.assertEqual(pp.metric_sum(m, "sockit_tls_handshakes_total", service="echo"), 0)
        not_after = ssl.cert_time_to_seconds(cert["notAfter"])
        self.assertEqual(pp.metric_sum(m, "sockit_tls_certificate_not_after_seconds",
                                       service="echo-tls"), not_after)
        self.assertEqual(pp.metric_sum(m, "sockit_tls_certificate_not_after_seconds",
                                       service="echo"), 0)


class Refusals(TlsBase):
    def test_plaintext_and_garbage_closed_with_one_log_line(self):
        srv = self.server("--tls-handshake-timeout", "30")
        for payload in (b"hello\r\n", b"GET / HTTP/1.0\r\n\r\n", bytes(range(256)) * 4):
            with srv.connect("echo-tls") as s:
                s.sendall(payload)
                got = read_until_close(s, 30)
                # At most a TLS alert record (content type 21), never an echo.
                self.assertNotIn(payload[:5], got)
                self.assertTrue(got == b"" or got[0] == 21, got)
        srv.wait_metric("sockit_tls_handshakes_failed_total", 3, service="echo-tls")
        srv.proc.wait_line("event=tls ", stream="err")  # counted just before it is logged
        lines = [l for l in srv.proc.errlines() if l.startswith("event=tls ")]
        # Three in a row: one line, the others suppressed (one a second).
        self.assertGreaterEqual(len(lines), 1)
        self.assertLessEqual(len(lines), 2, lines)
        self.assertRegex(lines[0], r"^event=tls result=(not_tls|handshake) "
                         r"peer=127\.0\.0\.1:\d+ suppressed=\d+$")
        self.assertEqual(srv.metric("sockit_connections_total", service="echo-tls"), 0)

    def test_silent_client_times_out(self):
        srv = self.server("--tls-handshake-timeout", "1")
        with srv.connect("echo-tls") as s:
            start = time.monotonic()
            self.assertEqual(read_until_close(s, 30), b"")
            self.assertGreater(time.monotonic() - start, 0.5)
        srv.wait_metric("sockit_tls_handshakes_total", 1, service="echo-tls", result="timeout")

    def test_mutual_tls(self):
        srv = self.server("--tls-client-ca", self.certs.ca)
        # No certificate: TLS 1.3 refuses after the client's Finished, so
        # the refusal shows on the first read.
        for cert in (None, "selfsigned"):
            with self.assertRaises((ssl.SSLError, ConnectionResetError, BrokenPipeError),
                                   msg=cert):
                with srv.tls("echo-tls", client_ctx(self.certs, cert=cert)) as s:
                    s.sendall(b"hi")
                    if s.recv(2) == b"":
                        raise ssl.SSLEOFError("closed")
        mine = client_ctx(self.certs, cert="client")
        with srv.tls("echo-tls", mine) as s:
            s.sendall(b"hi")
            self.assertEqual(s.recv(2), b"hi")
            sess = s.session
        # The session resumes (its client certificate was verified once).
        with srv.tls("echo-tls", mine, session=sess) as s:
            s.sendall(b"again")
            self.assertEqual(s.recv(5), b"again")
            self.assertTrue(s.session_reused)
        self.assertGreaterEqual(srv.metric("sockit_tls_handshakes_failed_total",
                                           service="echo-tls"), 2)

    def test_tls_options_need_a_certificate(self):
        for argv, msg in (
                (["--tls-cert", self.certs.cert("server")], "--tls-cert and --tls-key go together"),
                (["--tls-key", self.certs.key("server")], "--tls-cert and --tls-key go together"),
                (["--tls-port-base", "9000"], "need --tls-cert and --tls-key"),
                (["--services", "echo-tls"], "need --tls-cert and --tls-key")):
            r = sktest.run([sktest.SOCKIT, "serve"] + argv, timeout=10)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
            self.assertIn(msg, r.stderr)
        r = sktest.run([sktest.SOCKIT, "serve", "--tls-cert", "/nonexistent.pem", "--tls-key",
                        "/nonexistent.key", "--port-base", sktest.free_port_base()], timeout=10)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("/nonexistent.pem", r.stderr)

    def test_services_selects_twins(self):
        srv = self.server("--services", "echo,time-tls")
        names = {re.search(r"service=(\S+)", l).group(1) for l in srv.proc.lines()
                 if l.startswith("listening ")}
        self.assertEqual(names, {"echo", "time-tls"})
        port = sktest.free_port()
        srv3 = self.server("--services", "echo-tls", "--port", "echo-tls=%d" % port)
        self.assertIn("listening service=echo-tls proto=tcp addr=127.0.0.1:%d" % port,
                      srv3.proc.lines())
        srv2 = self.server("--services", "echo")
        names = {re.search(r"service=(\S+)", l).group(1) for l in srv2.proc.lines()
                 if l.startswith("listening ")}
        self.assertEqual(names, {"echo", "echo-tls"})


class Activation(TlsBase):
    def activate(self, listens, names, args):
        sa = sktest.require_program("systemd-socket-activate")
        argv = [sa]
        for port in listens:
            argv += ["-l", "127.0.0.1:%d" % port]
        argv += ["--fdname=" + ":".join(names), sktest.SOCKIT, "serve"] + args
        p = sktest.Proc(argv)
        self.addCleanup(p.stop)
        for i in range(len(listens)):
            p.wait_line("as %d." % (3 + i), stream="err")
        return p

    def test_twins_by_name_and_by_port(self):
        by_name, by_port = sktest.free_port(), sktest.free_port()
        cert, key = self.certs.path("server")
        # The second descriptor has no name of a service: its port, the
        # --port given to echo-tls, places it.
        p = self.activate([by_name, by_port], ["echo-tls-v4", "x"],
                          ["--tls-cert", cert, "--tls-key", key,
                           "--port", "echo-tls=%d" % by_port])
        for port in (by_name, by_port):
            # The first connection starts the daemon (systemd-socket-activate
            # execs it on the first one).
            with client_ctx(self.certs).wrap_socket(
                    socket.create_connection(("127.0.0.1", port), timeout=30),
                    server_hostname="localhost") as s:
                s.sendall(b"act")
                self.assertEqual(s.recv(3), b"act")
        for port in (by_name, by_port):
            p.wait_line("listening service=echo-tls proto=tcp addr=127.0.0.1:%d" % port)
        self.assertTrue(any("by=name" in l for l in p.errlines()), p.errlines())
        self.assertTrue(any("by=port" in l for l in p.errlines()), p.errlines())

    def test_twin_without_a_certificate_is_refused(self):
        port = sktest.free_port()
        p = self.activate([port], ["echo-tls"], [])
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        except OSError:
            pass
        self.assertEqual(p.wait(10), 1)
        self.assertIn("sockit: LISTEN_FDS: descriptor 3: echo-tls needs --tls-cert and "
                      "--tls-key", p.errlines())


class Reload(TlsBase):
    def test_sighup_rotates_the_certificate(self):
        d = os.path.join(self.tmp.name, "live")
        os.makedirs(d, exist_ok=True)
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        shutil.copy(self.certs.cert("server"), cert)
        shutil.copy(self.certs.key("server"), key)
        srv = self.server(cert=(cert, key))
        ctx = client_ctx(self.certs)
        old = srv.tls("echo-tls", ctx)
        self.addCleanup(old.close)
        old.sendall(b"1")
        self.assertEqual(old.recv(1), b"1")
        self.assertEqual(old.getpeercert()["serialNumber"], "5001")
        # The new certificate and key, then SIGHUP.
        shutil.copy(self.certs.cert("server2"), cert)
        shutil.copy(self.certs.key("server2"), key)
        srv.proc.p.send_signal(signal.SIGHUP)
        srv.proc.wait_line("event=reload tls=ok", stream="err", timeout=20)
        with srv.tls("echo-tls", ctx) as s:
            self.assertEqual(s.getpeercert()["serialNumber"], "5002")
            s.sendall(b"new")
            self.assertEqual(s.recv(3), b"new")
        old.sendall(b"still")
        self.assertEqual(old.recv(5), b"still")
        # A key that does not match: the certificate in use is kept.
        shutil.copy(self.certs.key("server"), key)
        srv.proc.p.send_signal(signal.SIGHUP)
        line = srv.proc.wait_line("event=reload tls=kept", stream="err", timeout=20)
        self.assertIn(cert, line)
        self.assertEqual(len([l for l in srv.proc.errlines() if "tls=kept" in l]), 1)
        with srv.tls("echo-tls", ctx) as s:
            self.assertEqual(s.getpeercert()["serialNumber"], "5002")
        old.sendall(b"x")
        self.assertEqual(old.recv(1), b"x")

    def test_ticket_key_rotation(self):
        srv = self.server("--tls-ticket-rotate", "2")
        ctx = client_ctx(self.certs)
        with srv.tls("echo-tls", ctx) as s:
            s.sendall(b"a")
            self.assertEqual(s.recv(1), b"a")
            sess = s.session
        with srv.tls("echo-tls", ctx, session=sess) as s:
            s.sendall(b"b")
            self.assertEqual(s.recv(1), b"b")
            self.assertTrue(s.session_reused)
        # Two rotations later the ticket's key is gone: a full handshake.
        time.sleep(4.5)
        with srv.tls("echo-tls", ctx, session=sess) as s:
            s.sendall(b"c")
            self.assertEqual(s.recv(1), b"c")
            self.assertFalse(s.session_reused)


def p95(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(0.95 * len(xs)))]


class Load(TlsBase):
    def handshake_times(self, srv, ctx, n=40):
        out = []
        for _ in range(n):
            raw = srv.connect("echo-tls", source="127.0.0.3")
            start = time.monotonic()
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                out.append(time.monotonic() - start)
                s.sendall(b"p")
                self.assertEqual(s.recv(1), b"p")
        return out

    def test_stalled_handshakes_do_not_delay_another_source(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < 2300:
            self.skipTest("descriptor limit %d is below 2300" % hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
        self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        srv = self.server("--max-per-source", "0", "--max-conns", "0",
                          "--tls-handshake-timeout", "120")
        ctx = client_ctx(self.certs)
        ctx.options |= ssl.OP_NO_TICKET  # every handshake a full one
        self.handshake_times(srv, ctx, 5)  # warm up
        verdicts = []
        for attempt in range(3):
            base = p95(self.handshake_times(srv, ctx))
            stalled = []
            try:
                for i in range(2000):
                    s = srv.connect("echo-tls", source="127.0.0.2", timeout=60)
                    if i % 2:
                        s.sendall(b"\x16\x03\x01\x02\x00\x01")  # a ClientHello's first bytes
                    stalled.append(s)
                # Accepted, each in its handshake (a descriptor each).
                deadline = time.monotonic() + 60
                while srv.fds() < 2000:
                    self.assertLess(time.monotonic(), deadline, "the stalled clients were "
                                    "not accepted: %d descriptors" % srv.fds())
                    time.sleep(0.05)
                loaded = p95(self.handshake_times(srv, ctx))
            finally:
                for s in stalled:
                    s.close()
            verdicts.append((loaded, base))
            # p95 under 50 ms, or, on a machine too loaded for that, within
            # twice the same handshakes' p95 without the stall.
            if loaded < 0.050 or loaded < 2 * base + 0.005:
                break
            deadline = time.monotonic() + 60
            while srv.fds() >= 2000 and time.monotonic() < deadline:
                time.sleep(0.05)
        loaded, base = verdicts[-1]
        sys.stderr.write("handshake p95 from 127.0.0.3: %.1f ms with 2000 stalled, %.1f ms "
                         "without\n" % (loaded * 1e3, base * 1e3))
        self.assertTrue(loaded < 0.050 or loaded < 2 * base + 0.005,
                        "p95 with 2000 stalled handshakes vs without: %r" % verdicts)

    def test_client_that_never_reads_keeps_memory_bounded(self):
        srv = self.server("--threads", "1")

        def rss():
            with open("/proc/%d/status" % srv.proc.p.pid) as f:
                return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) * 1024

        before = rss()
        with srv.tls("echo-tls", client_ctx(self.certs)) as s:
            s.setblocking(False)
            sent, chunk, idle_since = 0, b"m" * 65536, None
            while idle_since is None or time.monotonic() - idle_since < 1.0:
                try:
                    sent += s.send(chunk)
                    idle_since = None
                except (ssl.SSLWantWriteError, BlockingIOError):
                    idle_since = idle_since or time.monotonic()
                    time.sleep(0.05)
                self.assertLess(sent, 512 * MIB, "the server never stopped reading")
            grown = rss() - before
            # (Under a sanitizer the resident size says nothing: the read
            # pause and the bytes coming back are still checked.)
            if sktest.memory_is_measurable():
                self.assertLess(grown, 8 * MIB, "grew %d bytes while %d were sent"
                                % (grown, sent))
            srv.wait_metric("sockit_read_pauses_total", lambda v: v >= 1, service="echo-tls")
            # Everything sent comes back once the client reads.
            s.setblocking(True)
            s.settimeout(60)
            got = 0
            while got < sent:
                got += len(s.recv(1 << 16))
            self.assertEqual(got, sent)


if __name__ == "__main__":
    sktest.main()
