#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`sockit serve --proxy-protocol` against hand-built headers (python3 as the
balancer): valid v1 and v2 headers give every TCP service with the client's
address in the -v lines; every malformed header, one that never completes,
one cut short, and one from a source outside --proxy-from close the
connection without a single service byte, and each is counted (checked on
the --metrics endpoint, and in the exit line).  The headers are sent to
daytime, which would answer at once if it were opened too early.
"""

import os
import re
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import proxyproto as pp  # noqa: E402
import sktest  # noqa: E402

SERVICES = sktest.service_ports("tcp")  # {name: standard port}, from svc_table
DAYTIME = re.compile(rb"^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \d{4}\r\n$")

V1_BAD = [
    b"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",          # leading zero, address
    b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",          # leading zero, port
    b"PROXY TCP4 999.1.1.1 5.6.7.8 1 2\r\n",         # address out of range
    b"PROXY TCP4 1.2.3.4 5.6.7.256 1 2\r\n",
    b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",       # port out of range
    b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",             # bare LF
    b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX",            # CR without LF
    b"PROXY UNKNOWN " + b"a" * 100 + b"\r\n",        # 116 bytes: too long
    b"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",          # double space
    b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",          # trailing space
    b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",             # missing field
    b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",           # unknown protocol
    b"PROXY TCP4 ::1 ::1 1 2\r\n",                   # family mismatch
    b"PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
    b"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",           # wrong case
    b"PROXY TCP4 1.2.3.4\x00 5.6.7.8 1 2\r\n",       # NUL
    b"GET / HTTP/1.0\r\n\r\n",                       # not a header at all
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",  # a TLS ClientHello
]


def v2_bad():
    good = pp.v2("192.0.2.1", "198.51.100.7", 5000, 13)
    bad_sig = bytearray(good)
    bad_sig[7] ^= 0x40
    crc = bytearray(pp.v2("192.0.2.1", "198.51.100.7", 5000, 13, crc=True))
    crc[-1] ^= 1
    inet = good[16:28]
    return [
        bytes(bad_sig),                                           # bad signature
        pp.v2("192.0.2.1", "198.51.100.7", 5000, 13, ver_cmd=0x11),  # version 1 in v2
        pp.v2("192.0.2.1", "198.51.100.7", 5000, 13, ver_cmd=0x31),  # version 3
        pp.v2("192.0.2.1", "198.51.100.7", 5000, 13, ver_cmd=0x22),  # bad command
        pp.v2("192.0.2.1", "198.51.100.7", 5000, 13, ver_cmd=0x2F),
        pp.v2("192.0.2.1", "198.51.100.7", 5000, 13, fam=0x12),  # INET over DGRAM
        pp.v2("192.0.2.1", "198.51.100.7", 5000, 13, fam=0x41),  # unknown family
        pp.v2("192.0.2.1", "198.51.100.7", 5000, 13, fam=0x21),  # block too short for INET6
        pp.v2("192.0.2.1", "198.51.100.7", 5000, 13, tlvs=b"\x02\x00\x09abc"),  # TLV past end
        pp.v2("192.0.2.1", "198.51.100.7", 5000, 13, tlvs=b"\x04\x00"),  # TLV header cut
        bytes(crc),                                               # bad CRC32C
        pp.v2(tlvs=b"\x03\x00\x03abc", command=1),               # CRC TLV of 3 bytes
        pp.V2_SIG + b"\x21\x11\x00\x08" + inet[:8],              # length short of INET
    ]


class ProxyProtocol(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.base = sktest.free_port_base()
        cls.mport = sktest.free_port()
        cls.srv = sktest.Proc([sktest.SOCKIT, "serve", "--port-base", cls.base,
                               "--bind", "127.0.0.1", "--no-udp", "--threads", "2",
                               "--proxy-protocol", "--proxy-timeout", "1", "-v",
                               "--metrics", "127.0.0.1:%d" % cls.mport])
        cls.srv.wait_line("service=time proto=tcp")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def port(self, name):
        return self.base + SERVICES[name]

    def counters(self):
        status, _, body = pp.scrape(("127.0.0.1", self.mport))
        self.assertEqual(status, 200)
        return pp.parse_metrics(body)

    def header_count(self, result):
        return pp.metric_sum(self.counters(), "sockit_proxy_headers_total", result=result)

    def exchange(self, service, data, timeout=20.0, shut=False):
        with socket.create_connection(("127.0.0.1", self.port(service)), timeout=timeout) as s:
            s.sendall(data)
            if shut:
                s.shutdown(socket.SHUT_WR)
            return pp.read_until_close(s, timeout), s.getsockname()

    def test_every_service_with_v1_and_v2(self):
        for hdr in (pp.v1("192.0.2.10", "198.51.100.7", 40001, 13),
                    pp.v2("192.0.2.10", "198.51.100.7", 40001, 13, crc=True),
                    pp.v2("2001:db8::10", "2001:db8::7", 40001, 13)):
            out, _ = self.exchange("daytime", hdr)
            self.assertRegex(out, DAYTIME)
            out, _ = self.exchange("time", hdr)
            self.assertEqual(len(out), 4)
            now = time.time() + 2208988800
            self.assertLess(abs(int.from_bytes(out, "big") - now % 2**32), 60)
            out, _ = self.exchange("qotd", hdr)
            self.assertTrue(out.endswith(b"\r\n") and 2 < len(out) < 512, out)
            out, _ = self.exchange("echo", hdr + b"hello, world\r\n", shut=True)
            self.assertEqual(out, b"hello, world\r\n")
            out, _ = self.exchange("discard", hdr + b"x" * 1000, shut=True)
            self.assertEqual(out, b"")
            with socket.create_connection(("127.0.0.1", self.port("chargen")), timeout=20) as s:
                s.sendall(hdr)
                got = b""
                while len(got) < 10000:
                    b = s.recv(65536)
                    self.assertTrue(b, "chargen closed early")
                    got += b
                self.assertEqual(got[:10000], sktest.chargen_ref(0, 10000))

    def test_log_names_client_and_balancer(self):
        out, me = self.exchange("echo", pp.v1("192.0.2.77", "198.51.100.7", 41234, 7) + b"x",
                                shut=True)
        self.assertEqual(out, b"x")
        want = "event=open peer=192.0.2.77:41234 local=198.51.100.7:7 via=127.0.0.1:%d" % me[1]
        self.srv.wait_line(want, stream="err", timeout=20)
        self.srv.wait_line(lambda l: l.startswith("event=close peer=192.0.2.77:41234 ") and
                           "via=127.0.0.1:%d" % me[1] in l and "bytes_in=1 " in l,
                           stream="err", timeout=20)

    def test_local_and_unknown_keep_own_address(self):
        for hdr in (pp.v2(command=0), b"PROXY UNKNOWN\r\n",
                    b"PROXY UNKNOWN ignored 1.2.3 stuff\r\n"):
            out, me = self.exchange("echo", hdr + b"ping", shut=True)
            self.assertEqual(out, b"ping")
            self.srv.wait_line("event=open peer=127.0.0.1:%d local=127.0.0.1:%d"
                               % (me[1], self.port("echo")), stream="err", timeout=20)

    def test_malformed_headers_get_no_byte(self):
        before = self.header_count("invalid")
        cases = V1_BAD + v2_bad()
        for hdr in cases:
            out, _ = self.exchange("daytime", hdr)
            self.assertEqual(out, b"", "service bytes after %r" % hdr)
        self.assertEqual(self.header_count("invalid") - before, len(cases))
        self.srv.wait_line("event=proxy result=invalid", stream="err", timeout=20)

    def test_tiny_writes(self):
        for hdr in (pp.v1("192.0.2.5", "198.51.100.7", 40005, 7),
                    pp.v2("192.0.2.5", "198.51.100.7", 40005, 7, crc=True,
                          tlvs=b"\x02\x00\x0bexample.net")):
            with socket.create_connection(("127.0.0.1", self.port("echo")), timeout=20) as s:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for i in range(len(hdr)):
                    s.sendall(hdr[i:i + 1])
                    time.sleep(0.002)
                for b in b"abc":
                    s.sendall(bytes([b]))
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(pp.read_until_close(s), b"abc")

    def test_header_never_completes(self):
        before = self.header_count("timeout")
        t0 = time.monotonic()
        out, _ = self.exchange("daytime", b"PROXY TCP4 192.0.2.1 ")
        took = time.monotonic() - t0
        self.assertEqual(out, b"")
        self.assertGreaterEqual(took, 0.8)   # --proxy-timeout 1
        self.assertLess(took, 20)
        self.assertEqual(self.header_count("timeout") - before, 1)

    def test_header_cut_short(self):
        before = self.header_count("truncated")
        out, _ = self.exchange("daytime", pp.v2("192.0.2.1", "198.51.100.7", 1, 2)[:20],
                               shut=True)
        self.assertEqual(out, b"")
        self.assertEqual(self.header_count("truncated") - before, 1)


class ProxyFrom(unittest.TestCase):
    def test_source_outside_proxy_from(self):
        base = sktest.free_port_base()
        with sktest.Proc([sktest.SOCKIT, "serve", "--port-base", base, "--bind", "127.0.0.1",
                          "--no-udp", "--threads", "1", "--proxy-protocol",
                          "--proxy-from", "127.0.0.2/32", "--proxy-from", "10.0.0.0/8"]) as srv:
            srv.wait_line("service=time proto=tcp")
            hdr = pp.v1("192.0.2.1", "198.51.100.7", 1, 13)
            for source, served in (("127.0.0.3", False), ("127.0.0.1", False),
                                   ("127.0.0.2", True)):
                with socket.create_connection(("127.0.0.1", base + 13), timeout=20,
                                              source_address=(source, 0)) as s:
                    s.sendall(hdr)
                    out = pp.read_until_close(s)
                if served:
                    self.assertRegex(out, DAYTIME)
                else:
                    self.assertEqual(out, b"", source)
            srv.wait_line("event=proxy result=forbidden peer=127.0.0.3:", stream="err")
            self.assertEqual(srv.stop(), 0)
            stop = [l for l in srv.errlines() if l.startswith("event=stop")][0]
            self.assertIn(" refused_proxy_source=2 ", stop)
            self.assertIn(" proxy_proxied=1 ", stop)
            self.assertIn(" accepted=1 ", stop)

    def test_usage_errors(self):
        for argv in (["--proxy-from", "127.0.0.1"], ["--proxy-timeout", "2"],
                     ["--proxy-protocol", "--proxy-from", "127.0.0.1/33"],
                     ["--proxy-protocol", "--proxy-from", "localhost"],
                     ["--proxy-protocol", "--proxy-timeout", "0"],
                     ["--metrics", "nowhere"]):
            r = sktest.run([sktest.SOCKIT, "serve"] + argv)
            self.assertEqual(r.returncode, 2, (argv, r.stderr))
            self.assertTrue(r.stderr.startswith("sockit: "), r.stderr)


if __name__ == "__main__":
    sktest.main()
