# SPDX-License-Identifier: MIT
"""sockit's TLS clients against TLS peers that are not sockit.

The peers: `openssl s_server`, GnuTLS's `gnutls-serv` (so sockit is not
only ever talking to OpenSSL) and Python's ssl module, all on loopback,
with certificates made at test time by tests/tlscerts.py (a test CA;
server certificates with SAN IP:127.0.0.1 and DNS:localhost; expired,
not-yet-valid, self-signed and wrong-name variants).

Checked: `sockit tls` reports version, cipher, ALPN, the certificate and
its verification; every refusal carries its reason (unknown CA, wrong
name, expired, not yet valid, self-signed) in the one-line error and exit
1; a peer limited to TLS 1.1 is refused; --insecure connects with a
warning; echo, discard, daytime, qotd, time and chargen work over TLS;
a server that ends the stream without close_notify is reported.
The library against openssl s_client, gnutls-cli and Python's ssl client
is in tests/unit/test_tls.c.
"""

import json
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import sktest  # noqa: E402
import tlscerts  # noqa: E402

SOCKIT = sktest.SOCKIT


def sockit(*args, input=None, timeout=30):
    return sktest.run([SOCKIT] + list(args), input=input, timeout=timeout)


def require_tls():
    """Skips when sockit was built with -DSK_TLS=OFF."""
    p = sockit("tls", "--timeout", "1", "127.0.0.1", "9")
    if "built without TLS" in p.stderr:
        raise unittest.SkipTest("sockit was built without TLS (-DSK_TLS=OFF)")


class Peer:
    """A TLS server program on a free loopback port, stopped on exit."""

    def __init__(self, argv_for_port, ready_host="127.0.0.1"):
        self.port = sktest.free_port()
        self.proc = sktest.Proc(argv_for_port(self.port), stdin=subprocess.PIPE)
        sktest.wait_port(self.port, ready_host)

    def stop(self):
        if self.proc.p.stdin:
            try:
                self.proc.p.stdin.close()
            except OSError:
                pass
        self.proc.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def s_server(certs, name, *extra):
    cert, key = certs.path(name)
    return Peer(lambda port: ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port,
                              "-cert", cert, "-key", key, "-quiet"] + list(extra))


def gnutls_serv(certs, name, *extra):
    cert, key = certs.path(name)
    return Peer(lambda port: ["gnutls-serv", "-p", str(port), "--x509certfile", cert,
                              "--x509keyfile", key, "-q"] + list(extra))


class PyServer:
    """Python's ssl as the server, a thread per connection: sends `payload`
    to each client (None: echoes what it gets until the client's
    close_notify), then closes with close_notify (or, `ragged`, without)."""

    def __init__(self, certs, payload, ragged=False, record=None, stall=False):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(*certs.path("server"))
        self.payload, self.ragged = payload, ragged
        self.record = record    # send the payload in records of this many bytes
        self.stall = stall      # after the handshake, never read (until closed)
        self.stop = threading.Event()
        self.lsock = socket.create_server(("127.0.0.1", 0))
        self.port = self.lsock.getsockname()[1]
        self.errors = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while True:
            try:
                raw, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(raw,), daemon=True).start()

    def serve(self, raw):
        try:
            raw.settimeout(10)
            s = self.ctx.wrap_socket(raw, server_side=True)
            if self.stall:
                self.stop.wait(30)
                s.close()
                return
            if self.record:
                for i in range(0, len(self.payload), self.record):
                    s.sendall(self.payload[i:i + self.record])
            elif self.payload is None:
                while True:
                    b = s.recv(65536)
                    if not b:
                        break
                    s.sendall(b)
            else:
                s.sendall(self.payload)
            if self.ragged:
                raw.close()
                s.close()
            else:
                s.unwrap().close()
        except (OSError, ssl.SSLError) as e:
            self.errors.append(e)
            raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.lsock.close()


class TlsClients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        sktest.require_program("openssl")
        require_tls()
        cls.tmp = tempfile.mkdtemp(prefix="sockit-tls-")
        cls.certs = tlscerts.make(cls.tmp)
        cls.ca = cls.certs.ca

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def probe_ok(self, port, *extra):
        p = sockit("tls", "--cafile", self.ca, *extra, "127.0.0.1", str(port))
        self.assertEqual(p.returncode, 0, p.stderr)
        fields = dict(re.findall(r"^([a-z-]+):\s+(.*)$", p.stdout, re.M))
        self.assertEqual(fields["version"], "TLSv1.3")
        self.assertTrue(fields["cipher"].startswith("TLS_"), fields)
        self.assertEqual(fields["subject"], "O=sockit test,CN=localhost")
        self.assertEqual(fields["sans"], "IP:127.0.0.1, IP:::1, DNS:localhost")
        self.assertEqual(fields["issuer"], "CN=sockit test CA")
        self.assertEqual(fields["serial"], "5001")
        self.assertRegex(fields["not-after"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(29 days left\)$")
        self.assertEqual(fields["verify"], "ok")
        self.assertRegex(fields["handshake"], r"^\d+\.\d{3} ms$")
        return fields

    # ---- sockit tls -----------------------------------------------------------

    def test_probe_openssl_with_alpn(self):
        with s_server(self.certs, "server", "-alpn", "h2,http/1.1") as srv:
            fields = self.probe_ok(srv.port, "--alpn", "h2")
            self.assertEqual(fields["alpn"], "h2")

    def test_probe_gnutls(self):
        sktest.require_program("gnutls-serv")
        with gnutls_serv(self.certs, "server") as srv:
            fields = self.probe_ok(srv.port)
            self.assertEqual(fields["alpn"], "(none)")

    def test_probe_json_and_min_days(self):
        with s_server(self.certs, "server") as srv:
            p = sockit("tls", "--json", "--cafile", self.ca, "--min-days", "20",
                       "--servername", "localhost", "127.0.0.1", str(srv.port))
            self.assertEqual(p.returncode, 0, p.stderr)
            doc = json.loads(p.stdout)
            self.assertEqual(doc["version"], "TLSv1.3")
            self.assertTrue(doc["verified"])
            self.assertEqual(doc["days_left"], 29)
            self.assertEqual(doc["sans"], ["IP:127.0.0.1", "IP:::1", "DNS:localhost"])
            self.assertIsNone(doc["verify_error"])
            p = sockit("tls", "--cafile", self.ca, "--min-days", "45", "127.0.0.1",
                       str(srv.port))
            self.assertEqual(p.returncode, 1)
            self.assertIn("29 days left, less than --min-days 45", p.stderr)

    def test_probe_shows_a_failing_certificate(self):
        with s_server(self.certs, "expired") as srv:
            p = sockit("tls", "--cafile", self.ca, "127.0.0.1", str(srv.port))
            self.assertEqual(p.returncode, 1)
            self.assertIn("subject:    CN=localhost", p.stdout)
            self.assertIn("verify:     certificate verify failed: certificate has expired",
                          p.stdout)
            self.assertEqual(p.stderr, "sockit: tls: 127.0.0.1:%d: certificate verify "
                             "failed: certificate has expired\n" % srv.port)

    def test_probe_usage_errors(self):
        for args in (["--min-days", "x", "h", "1"], ["h", "0"], ["h"], ["--bogus", "h", "1"]):
            p = sockit("tls", *args)
            self.assertEqual(p.returncode, 2, args)
            self.assertRegex(p.stderr, r"^sockit: tls: .*\(try 'sockit tls --help'\)\n$")

    # ---- refusals, each with its reason ---------------------------------------

    def refused(self, name, reason, cafile=True, servername=None, peer=s_server):
        with peer(self.certs, name) as srv:
            args = ["echo", "--tls"]
            if cafile:
                args += ["--cafile", self.ca]
            if servername:
                args += ["--servername", servername]
            p = sockit(*args, "127.0.0.1", str(srv.port), "hello")
            self.assertEqual(p.returncode, 1, p.stdout)
            self.assertEqual(p.stderr, "sockit: echo: 127.0.0.1:%d: certificate verify "
                             "failed: %s\n" % (srv.port, reason))
            self.assertEqual(p.stdout, "")

    def test_refuses_unknown_ca(self):
        self.refused("server", "unknown issuer", cafile=False)

    def test_refuses_wrong_name(self):
        self.refused("wrongname", "hostname mismatch")

    def test_refuses_servername_not_in_certificate(self):
        self.refused("server", "hostname mismatch", servername="example.org")

    def test_refuses_expired(self):
        self.refused("expired", "certificate has expired")

    def test_refuses_not_yet_valid(self):
        self.refused("notyet", "certificate is not yet valid")

    def test_refuses_self_signed(self):
        self.refused("selfsigned", "self-signed certificate")

    def test_refuses_wrong_name_from_gnutls(self):
        sktest.require_program("gnutls-serv")
        self.refused("wrongname", "hostname mismatch", peer=gnutls_serv)

    def test_refuses_tls_1_1_peer(self):
        with s_server(self.certs, "server", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0") as srv:
            p = sockit("echo", "--tls", "--cafile", self.ca, "127.0.0.1", str(srv.port), "x")
            self.assertEqual(p.returncode, 1)
            self.assertEqual(p.stderr, "sockit: echo: 127.0.0.1:%d: TLS handshake failed: "
                             "no protocol version in common\n" % srv.port)

    def test_insecure_connects_with_warning(self):
        sktest.require_program("gnutls-serv")
        with gnutls_serv(self.certs, "selfsigned", "--echo") as srv:
            p = sockit("echo", "--tls", "--insecure", "127.0.0.1", str(srv.port), "hello")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, "Sent: hello\nReceived: hello\n")
            self.assertIn("warning: --insecure", p.stderr)

    def test_tls_options_need_tls(self):
        for args in (["--cafile", "x"], ["--insecure"], ["--servername", "n"],
                     ["--tls", "--udp"]):
            p = sockit("echo", *args, "127.0.0.1", "7", "m")
            self.assertEqual(p.returncode, 2, args)
            self.assertIn("(try 'sockit echo --help')", p.stderr)

    # ---- the clients over TLS ---------------------------------------------------

    def test_echo_gnutls(self):
        sktest.require_program("gnutls-serv")
        with gnutls_serv(self.certs, "server", "--echo") as srv:
            p = sockit("echo", "--tls", "--cafile", self.ca, "localhost", str(srv.port),
                       "hello", "world")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, "Sent: hello\nReceived: hello\nSent: world\n"
                             "Received: world\n")

    def test_echo_ipv6_literal_gnutls(self):
        # The name checked is the IP address ::1, against the IP SANs.
        sktest.require_program("gnutls-serv")
        if not sktest.have_ipv6():
            self.skipTest("no IPv6 loopback")
        with gnutls_serv(self.certs, "server", "--echo") as srv:
            p = sockit("echo", "-6", "--tls", "--cafile", self.ca, "::1", str(srv.port),
                       "six")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, "Sent: six\nReceived: six\n")

    def test_echo_long_line_python(self):
        line = "x" * 100000 + "\n"
        with PyServer(self.certs, None) as srv:
            p = sockit("echo", "--tls", "--cafile", self.ca, "-4", "localhost",
                       str(srv.port), input=line)
            self.assertEqual(p.returncode, 0, p.stderr)

    def test_discard_openssl(self):
        with s_server(self.certs, "server") as srv:
            p = sockit("discard", "--tls", "--cafile", self.ca, "127.0.0.1", str(srv.port),
                       input="discarded over tls\n")
            self.assertEqual(p.returncode, 0, p.stderr)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and \
                    "discarded over tls" not in "\n".join(srv.proc.lines()):
                time.sleep(0.05)
            self.assertIn("discarded over tls", "\n".join(srv.proc.lines()))

    def test_daytime_and_qotd_python(self):
        with PyServer(self.certs, b"Mon Dec  7 03:10:00 2026\r\n") as srv:
            p = sockit("daytime", "--tls", "--cafile", self.ca, "127.0.0.1", str(srv.port))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, "Mon Dec  7 03:10:00 2026\n")
            p = sockit("qotd", "--tls", "--cafile", self.ca, "127.0.0.1", str(srv.port))
            self.assertEqual(p.returncode, 0, p.stderr)

    def test_time_python(self):
        now = int(time.time()) + 2208988800
        with PyServer(self.certs, struct.pack("!I", now % (1 << 32))) as srv:
            p = sockit("time", "--tls", "--cafile", self.ca, "127.0.0.1", str(srv.port))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertRegex(p.stdout, r"local clock is -?\d+ seconds off")

    def test_chargen_python(self):
        with PyServer(self.certs, sktest.chargen_ref(0, 200000)) as srv:
            p = sockit("chargen", "--tls", "--cafile", self.ca, "--bytes", "150000",
                       "127.0.0.1", str(srv.port))
            self.assertEqual(p.returncode, 0, p.stderr)

    def test_chargen_across_one_byte_records(self):
        # Python's ssl sends each sendall as its own record: 3000 records of
        # one byte, read back byte for byte against the pattern.
        with PyServer(self.certs, sktest.chargen_ref(0, 3000), record=1) as srv:
            p = sockit("chargen", "--tls", "--cafile", self.ca, "--bytes", "3000",
                       "127.0.0.1", str(srv.port))
            self.assertEqual(p.returncode, 0, p.stderr)

    def test_send_to_a_reader_that_stops_reports_bytes_sent(self):
        # 64 MiB to a TLS peer that never reads: the send that cannot finish
        # times out, and the error says how many bytes went out before it.
        with PyServer(self.certs, None, stall=True) as srv:
            p = sockit("discard", "--tls", "--cafile", self.ca, "--timeout", "1",
                       "127.0.0.1", str(srv.port), input=b"x" * (64 << 20), timeout=60)
            self.assertEqual(p.returncode, 1)
            m = re.search(r"send after (\d+) bytes: timed out", p.stderr.decode())
            self.assertIsNotNone(m, p.stderr)
            self.assertGreater(int(m.group(1)), 0)
            self.assertLess(int(m.group(1)), 64 << 20)

    def test_ragged_eof_is_reported(self):
        with PyServer(self.certs, b"Mon Dec  7 03:10:00 2026\r\n", ragged=True) as srv:
            p = sockit("daytime", "--tls", "--cafile", self.ca, "127.0.0.1", str(srv.port))
            self.assertEqual(p.returncode, 1)
            self.assertIn("EOF occurred in violation of protocol", p.stderr)


class TlsBench(unittest.TestCase):
    """sockit bench --tls against Python's ssl (an echo server that also
    serves connect-only cycles: a client that closes after the handshake)."""

    @classmethod
    def setUpClass(cls):
        sktest.require_program("openssl")
        require_tls()
        cls.tmp = tempfile.mkdtemp(prefix="sockit-tls-bench-")
        cls.certs = tlscerts.make(cls.tmp)
        cls.srv = PyServer(cls.certs, None)

    @classmethod
    def tearDownClass(cls):
        cls.srv.lsock.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def bench(self, *args):
        p = sockit("bench", *args, "--tls", "--cafile", self.certs.ca, "--conns", "2",
                   "--threads", "1", "--duration", "0.5", "--json", timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        doc = json.loads(p.stdout)
        self.assertEqual(doc["errors"], 0, doc)
        return doc

    def test_echo_and_stream(self):
        for mode in ("echo", "stream"):
            doc = self.bench(mode, "127.0.0.1", str(self.srv.port))
            self.assertEqual(doc["tls"], {"full_handshakes": 2, "resumed_handshakes": 0})

    def test_connect_full_handshakes(self):
        doc = self.bench("connect", "127.0.0.1", str(self.srv.port), "--expect", "0")
        self.assertGreater(doc["tls"]["full_handshakes"], 2)
        self.assertEqual(doc["tls"]["resumed_handshakes"], 0)

    def test_connect_resumed(self):
        doc = self.bench("connect", "127.0.0.1", str(self.srv.port), "--expect", "0",
                         "--tls-resume")
        # Each slot's first handshake is full; the cycles after it resume.
        self.assertGreater(doc["tls"]["resumed_handshakes"], doc["tls"]["full_handshakes"])

    def test_refused_certificate_is_an_error(self):
        p = sockit("bench", "echo", "127.0.0.1", str(self.srv.port), "--tls", "--conns", "1",
                   "--threads", "1", "--duration", "0.3")
        self.assertEqual(p.returncode, 1)
        self.assertIn("certificate verify failed: unknown issuer", p.stdout + p.stderr)

    def test_usage(self):
        for args in (["udp", "h", "7", "--tls"], ["echo", "h", "7", "--cafile", "f"],
                     ["echo", "h", "7", "--tls-resume"]):
            p = sockit("bench", *args)
            self.assertEqual(p.returncode, 2, args)


if __name__ == "__main__":
    sktest.main()
