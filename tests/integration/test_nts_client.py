#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tests/integration/test_nts_client.py - the steps `sockit ntp --nts`
names when NTS fails, against a key-exchange server written here with
Python's ssl module (TLS 1.3, ALPN ntske/1) whose response is scripted:

  - an Error record: "key exchange error record", with its code;
  - no cookies: "no cookies";
  - an unknown critical record, a second AEAD: "key exchange";
  - the response cut before End of Message: "key exchange";
  - cookies that `sockit serve --nts` cannot open, its Port record pointing
    there: the NTSN kiss-o'-death, "NTSN";
  - a Port record pointing at a plain `sockit serve` (no --nts): every
    reply ignored as "reply authentication failed", exit 1;
  - a UDP server here that echoes a wrong unique identifier: "unique
    identifier mismatch";
  - no ALPN agreed: "TLS".

Python's ssl has no TLS exporter, so this server cannot derive the keys a
real association needs; the successful paths are tested against chronyd
(tests/interop/test_nts_chrony.py).  Every case exits 1.
"""

import os
import socket
import ssl
import struct
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sktest  # noqa: E402
import tlscerts  # noqa: E402


def rec(kind, body=b"", critical=False):
    return struct.pack(">HH", (0x8000 if critical else 0) | kind, len(body)) + body


END = rec(0, critical=True)
PROTO = rec(1, b"\0\0", True)
AEAD = rec(4, b"\0\x0f")


def cookies(n, size=104):
    return b"".join(rec(5, os.urandom(size)) for _ in range(n))


class KeServer:
    """Accepts TLS connections and answers each with `response`."""

    def __init__(self, certs, response, alpn=("ntske/1",)):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        self.ctx.load_cert_chain(*certs.path("server"))
        if alpn:
            self.ctx.set_alpn_protocols(list(alpn))
        self.response = response
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                with self.ctx.wrap_socket(conn, server_side=True) as t:
                    t.settimeout(5)
                    t.recv(1024)  # the request; its content is not judged here
                    t.sendall(self.response)
            except (OSError, ssl.SSLError):
                pass

    def close(self):
        self.sock.close()


def serve(*args):
    port = sktest.free_port(socket.SOCK_DGRAM)
    proc = sktest.Proc([sktest.SOCKIT, "serve", "--services", "ntp", "--port", "ntp=%d" % port,
                        "--bind", "127.0.0.1", "--threads", "1", "--ntp-stratum", "8",
                        "--udp-limit", "0"] + list(args))
    proc.wait_line("listening ", timeout=15)
    return proc, port


class NtsClientSteps(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.certs = tlscerts.make(os.path.join(cls.tmp.name, "certs"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_client(self, response, step, alpn=("ntske/1",), extra=()):
        ke = KeServer(self.certs, response, alpn)
        try:
            r = sktest.run([sktest.SOCKIT, "ntp", "--nts", "--nts-port", ke.port, "--cafile",
                            self.certs.ca, "--count", "2", "--interval", "0.1", "--timeout",
                            "1"] + list(extra) + ["127.0.0.1"], timeout=60)
        finally:
            ke.close()
        self.assertEqual(r.returncode, 1, (r.stdout, r.stderr))
        self.assertIn(step, r.stderr)
        return r.stderr

    def test_error_record(self):
        err = self.run_client(rec(2, b"\0\1", True) + END, ": key exchange error record: ")
        self.assertIn("error 1 (bad request)", err)

    def test_no_cookies(self):
        self.run_client(PROTO + AEAD + END, ": no cookies: ")

    def test_bad_responses(self):
        self.run_client(PROTO + AEAD + rec(0x1234, b"x", True) + cookies(1) + END,
                        ": key exchange: unknown critical record")
        self.run_client(PROTO + AEAD + AEAD + cookies(1) + END, ": key exchange: AEAD")
        self.run_client(PROTO + AEAD + cookies(2), ": key exchange: connection closed")

    def test_no_alpn(self):
        self.run_client(PROTO + AEAD + cookies(1) + END, ": TLS: the server did not agree",
                        alpn=())

    def test_ntsn(self):
        with tempfile.TemporaryDirectory() as d:
            proc, port = serve("--nts", "--nts-key-file", os.path.join(d, "k"))
            try:
                err = self.run_client(PROTO + AEAD + cookies(8) + rec(7, struct.pack(">H", port))
                                      + END, "NTSN: the server refused our cookie")
            finally:
                proc.stop()
        print("sockit ntp --nts, cookies the server cannot open:\n" + err)

    def test_plain_server_fails_authentication(self):
        proc, port = serve()
        try:
            err = self.run_client(PROTO + AEAD + cookies(8) + rec(6, b"127.0.0.1") +
                                  rec(7, struct.pack(">H", port)) + END,
                                  "ignoring a reply: reply authentication failed")
        finally:
            proc.stop()
        self.assertIn("no usable reply", err)

    def test_unique_identifier_mismatch(self):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        udp.settimeout(10)

        def answer():
            for _ in range(2):
                try:
                    data, peer = udp.recvfrom(2048)
                except OSError:
                    return
                # Mode 4, our transmit as origin, another unique identifier.
                hdr = bytes([0x24, 8, 0, 0]) + bytes(20) + data[40:48] + bytes(8) + data[40:48]
                uid = struct.pack(">HH", 0x0104, 36) + os.urandom(32)
                udp.sendto(hdr + uid + data[48 + 36:], peer)

        t = threading.Thread(target=answer, daemon=True)
        t.start()
        try:
            self.run_client(PROTO + AEAD + cookies(8) + rec(7, struct.pack(
                ">H", udp.getsockname()[1])) + END, "ignoring a reply: unique identifier mismatch")
        finally:
            udp.close()


if __name__ == "__main__":
    sktest.main()
