# SPDX-License-Identifier: MIT
"""PROXY protocol headers built by hand (HAProxy's doc/proxy-protocol.txt),
and a Prometheus text scraper, for the tests of `sockit serve
--proxy-protocol` and `--metrics`.  Independent of the C code: the CRC32C
here is computed bit by bit.
"""

import http.client
import ipaddress
import re
import socket
import struct

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def v1(src, dst, sport, dport):
    fam = "TCP6" if ":" in src else "TCP4"
    return ("PROXY %s %s %s %d %d\r\n" % (fam, src, dst, sport, dport)).encode()


def v2(src=None, dst=None, sport=0, dport=0, command=1, tlvs=b"", crc=False,
       ver_cmd=None, fam=None, length=None):
    """A v2 header.  src/dst None: no addresses (UNSPEC).  crc appends a
    correct CRC32C TLV.  ver_cmd, fam and length override the computed
    fields (for malformed headers)."""
    if src is None:
        block, f = b"", 0x00
    elif ":" in src:
        block = (ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(dst).packed +
                 struct.pack(">HH", sport, dport))
        f = 0x21
    else:
        block = (ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed +
                 struct.pack(">HH", sport, dport))
        f = 0x11
    body = block + tlvs
    if crc:
        body += b"\x03\x00\x04" + b"\0\0\0\0"
    vc = 0x20 | command if ver_cmd is None else ver_cmd
    hdr = bytearray(V2_SIG + bytes([vc, f if fam is None else fam]) +
                    struct.pack(">H", len(body) if length is None else length) + body)
    if crc:
        hdr[-4:] = struct.pack(">I", crc32c(bytes(hdr)))
    return bytes(hdr)


def read_until_close(sock, timeout=20.0):
    """Everything the server sends until it closes; a reset counts as the
    close (the bytes read before it are returned)."""
    sock.settimeout(timeout)
    out = b""
    while True:
        try:
            b = sock.recv(65536)
        except ConnectionResetError:
            return out
        if not b:
            return out
        out += b


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(addr, path="/metrics", timeout=10.0):
    """GET path from (host, port) or a Unix socket path; returns (status,
    headers dict, body text)."""
    if isinstance(addr, str):
        conn = http.client.HTTPConnection("localhost", timeout=timeout)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(addr)
        conn.sock = s
    else:
        conn = http.client.HTTPConnection(addr[0], addr[1], timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        conn.close()


def parse_metrics(text):
    """{(name, ((label, value), ...)): float} for every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if m is None:
            raise ValueError("not a sample line: %r" % line)
        labels = tuple(sorted(LABEL.findall(m.group(3) or "")))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def metric_sum(samples, name, **labels):
    """Sum of `name` over the samples whose labels include `labels`."""
    total = 0.0
    for (n, ls), v in samples.items():
        d = dict(ls)
        if n == name and all(d.get(k) == val for k, val in labels.items()):
            total += v
    return total
