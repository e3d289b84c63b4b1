#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`sockit serve`'s TLS twins against TLS software from outside the project
(Debian's openssl, gnutls-bin, haproxy and stunnel4), certificates from
tests/tlscerts.py:

  - `openssl s_client` and `gnutls-cli`, each verifying the certificate and
    the name, get their line back from echo-tls;
  - HAProxy, both ways: as a TLS client of echo-tls with `send-proxy-v2`
    (`server ... ssl verify required ca-file ... send-proxy-v2`, the header
    first, then TLS: the -v line names the client and the balancer), and
    terminating TLS itself in front of the plain echo;
  - stunnel4, both ways: terminating TLS in front of the plain echo, and as
    a TLS client (verifying the chain and the name) of echo-tls.
Every path carries 1 MiB of echo byte for byte.  Loopback only.
"""

import os
import re
import select
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import proxyproto as pp  # noqa: E402
import sktest  # noqa: E402
import tlscerts  # noqa: E402

TCP = sktest.service_ports("tcp")
TWINS = sktest.tls_services()
PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


def echo_through(sock, payload=PAYLOAD):
    """Sends payload (never more than 256 KiB ahead) and returns what came
    back, as many bytes as were sent."""
    sock.settimeout(60)
    got, sent = bytearray(), 0
    view = memoryview(payload)
    while len(got) < len(payload):
        if sent < len(payload) and sent - len(got) < 256 * 1024:
            sent += sock.send(view[sent:sent + 16384])
            continue
        b = sock.recv(65536)
        if not b:
            break
        got += b
    return bytes(got)


def line_back(argv, line, timeout=20):
    """Runs an interactive TLS client, writes `line`, and returns True once
    the same line comes back on its standard output."""
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        p.stdin.write(line + b"\n")
        p.stdin.flush()
        buf = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([p.stdout], [], [], 0.2)
            if not r:
                continue
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            if (b"\n" + line + b"\n") in (b"\n" + buf):
                return True, buf
        return False, buf
    finally:
        p.kill()
        p.wait()
        p.stdin.close()
        p.stdout.close()


def wait_listening(port, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if proc.p.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("nothing listening on %d; %r" % (port, proc.errlines()))
            time.sleep(0.1)


class Peers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        sktest.require_program("openssl")
        cls.tmp = tempfile.TemporaryDirectory()
        cls.procs = []
        try:
            cls.certs = tlscerts.make(os.path.join(cls.tmp.name, "certs"))
            cls.base = sktest.free_port_base(tuple(TCP.values()))
            cls.tls_base = sktest.free_port_base(tuple(TWINS.values()))
            cert, key = cls.certs.path("server")
            # Plain and TLS twins, no PROXY header.
            cls.srv = cls.start([sktest.SOCKIT, "serve", "--port-base", cls.base,
                                 "--tls-port-base", cls.tls_base, "--bind", "127.0.0.1",
                                 "--no-udp", "--threads", "2", "--tls-cert", cert,
                                 "--tls-key", key, "--services", "echo,echo-tls", "-v"])
            cls.srv.wait_line("event=start ", stream="err", timeout=20)
        except BaseException:
            cls.stop_all()
            raise

    @classmethod
    def start(cls, argv):
        p = sktest.Proc(argv)
        cls.procs.append(p)
        return p

    @classmethod
    def stop_all(cls):
        for p in reversed(cls.procs):
            p.stop()
        cls.tmp.cleanup()

    @classmethod
    def tearDownClass(cls):
        cls.stop_all()

    def client_ctx(self):
        return ssl.create_default_context(cafile=self.certs.ca)

    def write(self, name, text):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def combined_pem(self):
        cert, key = self.certs.path("server")
        with open(cert) as c, open(key) as k:
            return self.write("server-combined.pem", c.read() + k.read())

    # ---- command-line clients ------------------------------------------------------

    def test_openssl_s_client(self):
        ok, out = line_back(["openssl", "s_client", "-connect",
                             "127.0.0.1:%d" % (self.tls_base + 7), "-CAfile", self.certs.ca,
                             "-verify_return_error", "-verify_hostname", "localhost",
                             "-quiet"], b"hello from s_client")
        self.assertTrue(ok, out)

    def test_gnutls_cli(self):
        gnutls = sktest.require_program("gnutls-cli")
        ok, out = line_back([gnutls, "--x509cafile", self.certs.ca, "--port",
                             str(self.tls_base + 7), "--verify-hostname", "localhost",
                             "127.0.0.1"], b"hello from gnutls")
        self.assertTrue(ok, out)
        self.assertNotIn(b"*** Verifying server certificate failed", out)

    # ---- HAProxy ------------------------------------------------------------------------

    def haproxy(self, conf_text):
        haproxy = sktest.require_program("haproxy")
        conf = self.write("haproxy-%d.cfg" % len(self.procs), conf_text)
        return self.start([haproxy, "-db", "-f", conf])

    def test_haproxy_send_proxy_v2_to_the_tls_port(self):
        base = sktest.free_port_base((7,))
        tls_base = sktest.free_port_base((7,))
        cert, key = self.certs.path("server")
        srv = self.start([sktest.SOCKIT, "serve", "--port-base", base, "--tls-port-base",
                          tls_base, "--bind", "127.0.0.1", "--no-udp", "--threads", "1",
                          "--services", "echo-tls", "--proxy-protocol", "--tls-cert", cert,
                          "--tls-key", key, "-v"])
        srv.wait_line("event=start ", stream="err", timeout=20)
        front = sktest.free_port()
        hap = self.haproxy("\n".join([
            "global", "    maxconn 100",
            "defaults", "    mode tcp", "    timeout connect 5s", "    timeout client 60s",
            "    timeout server 60s",
            "frontend fe", "    bind 127.0.0.1:%d" % front, "    default_backend be",
            "backend be",
            "    server s 127.0.0.1:%d ssl verify required ca-file %s verifyhost localhost "
            "sni str(localhost) send-proxy-v2" % (tls_base + 7, self.certs.ca), ""]))
        wait_listening(front, hap)
        with socket.create_connection(("127.0.0.1", front), timeout=30,
                                      source_address=("127.0.0.2", 0)) as s:
            port = s.getsockname()[1]
            self.assertEqual(echo_through(s), PAYLOAD)
        srv.wait_line(re.compile(r"^event=open peer=127\.0\.0\.2:%d local=127\.0\.0\.1:%d "
                                 r"via=127\.0\.0\.1:\d+$" % (port, front)).match,
                      stream="err", timeout=20)

    def test_haproxy_terminating_tls_before_the_plain_port(self):
        front = sktest.free_port()
        hap = self.haproxy("\n".join([
            "global", "    maxconn 100",
            "defaults", "    mode tcp", "    timeout connect 5s", "    timeout client 60s",
            "    timeout server 60s",
            "frontend fe", "    bind 127.0.0.1:%d ssl crt %s" % (front, self.combined_pem()),
            "    default_backend be",
            "backend be", "    server s 127.0.0.1:%d" % (self.base + 7), ""]))
        wait_listening(front, hap)
        with self.client_ctx().wrap_socket(socket.create_connection(("127.0.0.1", front), 30),
                                           server_hostname="localhost") as s:
            self.assertEqual(echo_through(s), PAYLOAD)

    # ---- stunnel4 ------------------------------------------------------------------------

    def stunnel(self, section):
        stunnel = sktest.require_program("stunnel4")
        conf = self.write("stunnel-%d.conf" % len(self.procs), "\n".join(
            ["foreground = yes", "pid =", "debug = 4", "[svc]"] + section + [""]))
        return self.start([stunnel, conf])

    def test_stunnel_terminating_tls_before_the_plain_port(self):
        front = sktest.free_port()
        cert, key = self.certs.path("server")
        st = self.stunnel(["accept = 127.0.0.1:%d" % front,
                           "connect = 127.0.0.1:%d" % (self.base + 7),
                           "cert = %s" % cert, "key = %s" % key])
        wait_listening(front, st)
        with self.client_ctx().wrap_socket(socket.create_connection(("127.0.0.1", front), 30),
                                           server_hostname="localhost") as s:
            self.assertEqual(echo_through(s), PAYLOAD)

    def test_stunnel_as_a_client_of_the_tls_port(self):
        front = sktest.free_port()
        st = self.stunnel(["client = yes", "accept = 127.0.0.1:%d" % front,
                           "connect = 127.0.0.1:%d" % (self.tls_base + 7),
                           "CAfile = %s" % self.certs.ca, "verifyChain = yes",
                           "checkHost = localhost", "sni = localhost"])
        wait_listening(front, st)
        with socket.create_connection(("127.0.0.1", front), 30) as s:
            self.assertEqual(echo_through(s), PAYLOAD)
        # stunnel made a full TLS handshake with the twin.
        self.srv.wait_line(lambda l: l.startswith("event=close ") and
                           "local=127.0.0.1:%d " % (self.tls_base + 7) in l and
                           "bytes_in=%d " % len(PAYLOAD) in l, stream="err", timeout=20)


if __name__ == "__main__":
    sktest.main()
