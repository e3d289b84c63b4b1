#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tests/integration/test_nts_ntp.py - the ntp service's NTS side (RFC 8915
section 5) against an independent client written here: cookies made from
the key file with Python's `cryptography` (Debian's python3-cryptography,
on OpenSSL's AES-SIV), and the client's authenticator over an empty
plaintext computed with S2V from `cryptography`'s CMAC (OpenSSL's AES-SIV
refuses empty plaintexts), so nothing of sockit's own SIV is trusted.

  - an authenticated request gets an authenticated reply: the unique
    identifier echoed, one fresh cookie per cookie and placeholder, the
    reply no longer than the request, the fresh cookie usable in turn;
  - bit-flipped or forged cookies and a tampered authenticator get the
    NTSN kiss-o'-death (header and unique identifier only);
  - a missing or short unique identifier, truncated or oversize fields,
    no authenticator: no reply; plain NTP keeps working;
  - the key file is created 0600; cookies survive a restart; two
    instances sharing the key file accept each other's cookies;
  - without --nts, an NTS request gets a plain 48-byte reply (which a
    real NTS client refuses);
  - the stop line and --metrics count what happened.
"""

import os
import socket
import stat
import struct
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sktest  # noqa: E402

sys.path.append("/usr/lib/python3/dist-packages")
try:
    from cryptography.hazmat.primitives import cmac as _cmac
    from cryptography.hazmat.primitives.ciphers import algorithms
    from cryptography.hazmat.primitives.ciphers.aead import AESSIV
    HAVE_CRYPTO = True
except ImportError:
    HAVE_CRYPTO = False

UID, COOKIE, PLACEHOLDER, AUTH = 0x0104, 0x0204, 0x0304, 0x0404
COOKIE_LEN = 104


def cmac(key, data):
    c = _cmac.CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


def dbl(b):
    n = int.from_bytes(b, "big") << 1
    if n >> 128:
        n ^= (1 << 128) | 0x87
    return n.to_bytes(16, "big")


def xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


def s2v(k1, parts, last):
    """RFC 5297 S2V, for the empty-plaintext authenticator."""
    d = cmac(k1, bytes(16))
    for p in parts:
        d = xor(dbl(d), cmac(k1, p))
    if len(last) >= 16:
        return cmac(k1, last[:-16] + xor(last[-16:], d))
    return cmac(k1, xor(dbl(d), last + b"\x80" + bytes(15 - len(last))))


def ef(kind, body):
    size = max(16, (4 + len(body) + 3) // 4 * 4)
    return struct.pack(">HH", kind, size) + body + bytes(size - 4 - len(body))


def parse_efs(data):
    out, off = [], 0
    while off < len(data):
        kind, size = struct.unpack_from(">HH", data, off)
        assert size >= 16 and size % 4 == 0 and off + size <= len(data), (off, size)
        out.append((kind, data[off + 4:off + size]))
        off += size
    return out


def read_keys(path):
    keys = []
    for line in open(path):
        if line.strip() and not line.startswith("#"):
            kid, _, hexkey = line.split()
            keys.append((bytes.fromhex(kid), bytes.fromhex(hexkey)))
    return keys


def make_cookie(master_id, master, c2s, s2c):
    nonce = os.urandom(16)
    sealed = AESSIV(master).encrypt(struct.pack(">HH", 15, 0) + c2s + s2c, [master_id, nonce])
    return master_id + nonce + sealed


def open_cookie(master_id, master, cookie):
    assert cookie[:4] == master_id
    plain = AESSIV(master).decrypt(cookie[20:], [cookie[:4], cookie[4:20]])
    return plain[4:36], plain[36:68]


def header(xmt):
    return bytes([0x23]) + bytes(39) + xmt


def request(c2s, cookie, uid=None, placeholders=0, extra=b"", tamper=None):
    """An NTS request; returns (packet, uid, transmit timestamp)."""
    xmt = os.urandom(8)
    uid = os.urandom(32) if uid is None else uid
    pkt = header(xmt) + (ef(UID, uid) if uid else b"") + ef(COOKIE, cookie)
    pkt += b"".join(ef(PLACEHOLDER, bytes(len(cookie))) for _ in range(placeholders)) + extra
    nonce = os.urandom(16)
    tag = s2v(c2s[:16], [pkt, nonce], b"")  # K1: the first half
    if tamper == "tag":
        tag = xor(tag, b"\x01" + bytes(15))
    pkt += ef(AUTH, struct.pack(">HH", 16, 16) + nonce + tag)
    return pkt, uid, xmt


class Server:
    def __init__(self, keyfile, *extra):
        self.port = sktest.free_port(socket.SOCK_DGRAM)
        argv = [sktest.SOCKIT, "serve", "--services", "ntp", "--port", "ntp=%d" % self.port,
                "--bind", "127.0.0.1", "--threads", "1", "--ntp-stratum", "8",
                "--udp-limit", "0"]
        if keyfile is not None:
            argv += ["--nts", "--nts-key-file", keyfile]
        self.proc = sktest.Proc(argv + list(extra))
        self.proc.wait_line("listening ", timeout=15)

    def ask(self, pkt, timeout=2.0):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.sendto(pkt, ("127.0.0.1", self.port))
            try:
                return s.recv(4096)
            except socket.timeout:
                return None

    def stop(self):
        rc = self.proc.stop()
        assert rc == 0, self.proc.errlines()
        return self.proc.errlines()


@unittest.skipUnless(HAVE_CRYPTO, "python3-cryptography is not installed")
class NtsNtp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.keyfile = os.path.join(cls.dir.name, "nts.keys")
        cls.metrics_port = sktest.free_port()
        cls.srv = Server(cls.keyfile, "--metrics", "127.0.0.1:%d" % cls.metrics_port)
        cls.keys = read_keys(cls.keyfile)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.dir.cleanup()

    def fresh(self):
        c2s, s2c = os.urandom(32), os.urandom(32)
        kid, master = self.keys[0]
        return c2s, s2c, make_cookie(kid, master, c2s, s2c)

    def check_authenticated(self, reply, pkt, uid, xmt, s2c, cookies):
        self.assertIsNotNone(reply, "no reply")
        self.assertLessEqual(len(reply), len(pkt), "reply longer than the request")
        self.assertEqual(reply[0] & 7, 4)
        self.assertEqual(reply[1], 8, "stratum")
        self.assertEqual(reply[24:32], xmt, "origin is not our transmit")
        fields = parse_efs(reply[48:])
        self.assertEqual([k for k, _ in fields], [UID, AUTH])
        self.assertEqual(fields[0][1], uid)
        auth = fields[1][1]
        nl, cl = struct.unpack_from(">HH", auth)
        nonce = auth[4:4 + nl]
        ct = auth[4 + (nl + 3) // 4 * 4:][:cl]
        ad = reply[:48 + 4 + len(fields[0][1])]
        plain = AESSIV(s2c).decrypt(ct, [ad, nonce])
        inner = parse_efs(plain)
        self.assertEqual(len(inner), cookies)
        for kind, body in inner:
            self.assertEqual(kind, COOKIE)
            self.assertEqual(len(body), COOKIE_LEN)
        return [body for _, body in inner]

    def test_s2v_helper_matches_openssl(self):
        k, ad, nonce, p = os.urandom(32), os.urandom(40), os.urandom(16), os.urandom(20)
        self.assertEqual(s2v(k[:16], [ad, nonce], p), AESSIV(k).encrypt(p, [ad, nonce])[:16])

    def test_key_file_created_0600(self):
        self.assertEqual(stat.S_IMODE(os.stat(self.keyfile).st_mode), 0o600)
        self.assertEqual(len(self.keys), 1)

    def test_authenticated_reply_with_fresh_cookies(self):
        c2s, s2c, cookie = self.fresh()
        for placeholders in (0, 3, 7, 9):
            pkt, uid, xmt = request(c2s, cookie, placeholders=placeholders)
            got = self.check_authenticated(self.srv.ask(pkt), pkt, uid, xmt, s2c,
                                           min(1 + placeholders, 8))
            kid, master = self.keys[0]
            self.assertEqual(open_cookie(kid, master, got[0]), (c2s, s2c))
        # a fresh cookie authenticates the next request
        pkt, uid, xmt = request(c2s, got[-1])
        self.check_authenticated(self.srv.ask(pkt), pkt, uid, xmt, s2c, 1)

    def test_reply_never_longer_than_request(self):
        # Placeholders shorter than a cookie cannot buy a longer reply: a
        # 48-byte placeholder is refused (lengths must match the cookie) and
        # a client nonce of 16 gives a reply exactly as long as the request.
        c2s, s2c, cookie = self.fresh()
        pkt, uid, xmt = request(c2s, cookie, placeholders=2)
        reply = self.srv.ask(pkt)
        self.assertEqual(len(reply), len(pkt))
        bad = header(os.urandom(8)) + ef(UID, os.urandom(32)) + ef(COOKIE, cookie) + \
            ef(PLACEHOLDER, bytes(48))
        nonce = os.urandom(16)
        bad += ef(AUTH, struct.pack(">HH", 16, 16) + nonce + s2v(c2s[:16], [bad, nonce], b""))
        self.assertIsNone(self.srv.ask(bad, timeout=1.0))

    def check_ntsn(self, pkt, uid, xmt):
        reply = self.srv.ask(pkt)
        self.assertIsNotNone(reply, "no NTSN")
        self.assertLessEqual(len(reply), len(pkt))
        self.assertEqual(reply[1], 0, "not a kiss-o'-death")
        self.assertEqual(reply[12:16], b"NTSN")
        self.assertEqual(reply[24:32], xmt)
        self.assertEqual(parse_efs(reply[48:]), [(UID, uid)], "NTSN carries more than the UID")

    def test_bad_cookies_and_authenticators_get_ntsn(self):
        c2s, s2c, cookie = self.fresh()
        flipped = bytearray(cookie)
        flipped[60] ^= 0x10
        self.check_ntsn(*request(c2s, bytes(flipped)))
        self.check_ntsn(*request(c2s, self.keys[0][0] + os.urandom(100)))  # forged
        self.check_ntsn(*request(c2s, os.urandom(4) + cookie[4:]))        # unknown key
        self.check_ntsn(*request(c2s, cookie, tamper="tag"))
        self.check_ntsn(*request(os.urandom(32), cookie))                  # wrong C2S key

    def test_malformed_requests_get_nothing(self):
        c2s, s2c, cookie = self.fresh()
        cases = {
            "no unique identifier": request(c2s, cookie, uid=b"")[0],
            "short unique identifier": request(c2s, cookie, uid=os.urandom(16))[0],
            "truncated": request(c2s, cookie)[0][:-6],
            "oversize field": request(c2s, cookie)[0][:52] + b"\x00\x24\xff\xfc" + bytes(40),
            "no authenticator": header(os.urandom(8)) + ef(UID, os.urandom(32)) + ef(COOKIE, cookie),
            "authenticator not last": request(c2s, cookie)[0] + ef(0x2005, b"x"),
        }
        for what, pkt in cases.items():
            self.assertIsNone(self.srv.ask(pkt, timeout=1.0), what)

    def test_zz_metrics(self):
        # Runs last (names sort): the cases above each left their mark.
        with socket.create_connection(("127.0.0.1", self.metrics_port), timeout=5) as c:
            c.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
            text = sktest.recv_all(c).decode()
        got = {}
        for line in text.splitlines():
            if line.startswith("sockit_nts_"):
                name, value = line.rsplit(" ", 1)
                got[name] = int(value)
        for result in ("authenticated", "ntsn_cookie", "ntsn_authenticator", "malformed"):
            self.assertGreaterEqual(got.get('sockit_nts_requests_total{result="%s"}' % result, 0),
                                    1, (result, got))
        self.assertGreaterEqual(got["sockit_nts_cookies_issued_total"],
                                got['sockit_nts_requests_total{result="authenticated"}'], got)

    def test_plain_ntp_still_works(self):
        reply = self.srv.ask(header(b"\x12" * 8))
        self.assertEqual(len(reply), 48)
        self.assertEqual(reply[24:32], b"\x12" * 8)


@unittest.skipUnless(HAVE_CRYPTO, "python3-cryptography is not installed")
class NtsKeysShared(unittest.TestCase):
    def test_restart_pool_and_off(self):
        with tempfile.TemporaryDirectory() as d:
            keyfile = os.path.join(d, "nts.keys")
            a = Server(keyfile)
            kid, master = read_keys(keyfile)[0]
            c2s, s2c = os.urandom(32), os.urandom(32)
            pkt, uid, xmt = request(c2s, make_cookie(kid, master, c2s, s2c), placeholders=1)
            reply = a.ask(pkt)
            self.assertIsNotNone(reply)
            fields = parse_efs(reply[48:])
            auth = fields[1][1]
            ad = reply[:48 + 4 + len(fields[0][1])]
            cookies = [b for _, b in parse_efs(AESSIV(s2c).decrypt(auth[20:20 + 16 + 216],
                                                                   [ad, auth[4:20]]))]
            self.assertEqual(len(cookies), 2)
            # Pool: b shares the file and takes a's cookie.
            b = Server(keyfile)
            pkt, uid, xmt = request(c2s, cookies[0])
            r = b.ask(pkt)
            self.assertTrue(r is not None and r[1] == 8, "b refused a's cookie: %r" % r)
            b_log = b.stop()
            # Restart: a again, same file, the other cookie from before.
            a_log = a.stop()
            stats = [l for l in a_log if "event=nts_stats" in l]
            self.assertTrue(stats and "authenticated=1 " in stats[0] and
                            "cookies_issued=2" in stats[0], a_log)
            self.assertTrue(any("authenticated=1 " in l for l in b_log), b_log)
            a = Server(keyfile)
            pkt, uid, xmt = request(c2s, cookies[1])
            r = a.ask(pkt)
            self.assertTrue(r is not None and r[1] == 8, "cookie lost across restart: %r" % r)
            a.stop()
            # Without --nts the same request is answered as plain NTP.
            off = Server(None)
            r = off.ask(pkt)
            self.assertEqual(len(r), 48)
            off.stop()


if __name__ == "__main__":
    sktest.main()
