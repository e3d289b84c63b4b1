#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A real HAProxy (Debian's haproxy, `haproxy -db -f <config>`) in front of
two `sockit serve --proxy-protocol` instances, once with `send-proxy` (v1)
and once with `send-proxy-v2` + `proxy-v2-options crc32c`, with `check`
health checks on every server:

  - every TCP service through the balancer, byte for byte, on both
    instances (each service is asked twice: round robin);
  - the -v lines name the client (connections from 127.0.0.2 and 127.0.0.3)
    as peer= and the balancer as via=;
  - --max-per-source counts the clients apart: a third instance with
    --max-per-source 1 behind its own frontend serves one connection from
    127.0.0.2 and one from 127.0.0.3 at the same time, and refuses a
    second one from 127.0.0.2;
  - the health checks reach the services (as LOCAL or UNKNOWN headers) and
    never show up as refused or as bad headers.

Loopback only; HAProxy, the instances and the clients all use 127.0.0.x.
"""

import os
import re
import socket
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import proxyproto as pp  # noqa: E402
import sktest  # noqa: E402

SERVICES = sktest.service_ports("tcp")  # {name: standard port}, from svc_table
DAYTIME = re.compile(rb"^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \d{4}\r\n$")


def haproxy_config(front, a, b, c, send_proxy, stats_sock):
    """Frontends at front+offset balancing a and b; frontend "limit" at
    front+1 with the single server c (echo), no checks."""
    lines = [
        "global",
        "    maxconn 500",
        "    stats socket %s mode 600" % stats_sock,
        "defaults",
        "    mode tcp",
        "    timeout connect 5s",
        "    timeout client 60s",
        "    timeout server 60s",
    ]
    for name, off in SERVICES.items():
        lines += [
            "frontend fe_%s" % name,
            "    bind 127.0.0.1:%d" % (front + off),
            "    default_backend be_%s" % name,
            "backend be_%s" % name,
            "    balance roundrobin",
            "    server a 127.0.0.1:%d %s check inter 300ms rise 1 fall 3" % (a + off, send_proxy),
            "    server b 127.0.0.1:%d %s check inter 300ms rise 1 fall 3" % (b + off, send_proxy),
        ]
    lines += [
        "frontend fe_limit",
        "    bind 127.0.0.1:%d" % (front + 1),
        "    default_backend be_limit",
        "backend be_limit",
        "    server c 127.0.0.1:%d %s" % (c + 7, send_proxy),
    ]
    return "\n".join(lines) + "\n"


def servers_up(stats_sock):
    """{(backend, server): status} from HAProxy's stats socket."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(stats_sock)
        s.sendall(b"show stat\n")
        data = pp.read_until_close(s, 5).decode()
    except OSError:
        return {}
    finally:
        s.close()
    out = {}
    for line in data.splitlines():
        f = line.split(",")
        if len(f) > 17 and f[0].startswith("be_") and f[1] not in ("BACKEND", "FRONTEND"):
            out[(f[0], f[1])] = f[17]
    return out


class HAProxyBase:
    send_proxy = None  # set by the subclasses

    @classmethod
    def setUpClass(cls):
        cls.haproxy = sktest.require_program("haproxy")
        cls.procs = []
        cls.tmp = tempfile.TemporaryDirectory()
        cls.bases, cls.metrics = [], []
        try:
            cls.start_all()
        except BaseException:
            cls.stop_all()
            raise

    @classmethod
    def start_all(cls):
        for i in range(3):
            base = sktest.free_port_base()
            mport = sktest.free_port()
            argv = [sktest.SOCKIT, "serve", "--port-base", base, "--bind", "127.0.0.1",
                    "--no-udp", "--threads", "2", "--proxy-protocol", "-v",
                    "--metrics", "127.0.0.1:%d" % mport]
            if i == 2:
                argv += ["--services", "echo", "--max-per-source", "1"]
            p = sktest.Proc(argv)
            cls.procs.append(p)
            p.wait_line("service=echo proto=tcp")
            cls.bases.append(base)
            cls.metrics.append(mport)
        cls.front = sktest.free_port_base((1,) + tuple(SERVICES.values()))
        stats_sock = os.path.join(cls.tmp.name, "stats.sock")
        conf = os.path.join(cls.tmp.name, "haproxy.cfg")
        with open(conf, "w") as f:
            f.write(haproxy_config(cls.front, cls.bases[0], cls.bases[1], cls.bases[2],
                                   cls.send_proxy, stats_sock))
        cls.hap = sktest.Proc([cls.haproxy, "-db", "-f", conf])
        cls.procs.append(cls.hap)
        deadline = time.monotonic() + 30
        while True:
            st = servers_up(stats_sock)
            if len(st) == 13 and all(v.startswith("UP") or v == "no check"
                                     for v in st.values()):
                break
            if time.monotonic() > deadline or cls.hap.p.poll() is not None:
                raise AssertionError("HAProxy servers not up: %r; haproxy stderr=%r"
                                     % (st, cls.hap.errlines()))
            time.sleep(0.2)

    @classmethod
    def stop_all(cls):
        for p in reversed(cls.procs):
            p.stop()
        cls.tmp.cleanup()

    @classmethod
    def tearDownClass(cls):
        cls.stop_all()

    def connect(self, service, source="127.0.0.1", port=None):
        port = port if port is not None else self.front + SERVICES[service]
        return socket.create_connection(("127.0.0.1", port), timeout=30,
                                        source_address=(source, 0))

    def fetch(self, service, send=b"", shut=False):
        """What the service sends until it closes.  The one-shot services
        are asked as their clients do, without ending our side first:
        HAProxy (2.6) resets the server side of a connection whose client
        half-closed before the server answered, which would cut the reply
        off on the way back (the instance logs the reset)."""
        with self.connect(service) as s:
            if send:
                s.sendall(send)
            if shut:
                s.shutdown(socket.SHUT_WR)
            return pp.read_until_close(s, 30)

    def echo(self, payload):
        """Sends payload and reads exactly its length back."""
        with self.connect("echo") as s:
            s.sendall(payload)
            got = b""
            while len(got) < len(payload):
                b = s.recv(65536)
                self.assertTrue(b, "echo closed after %d of %d bytes" % (len(got), len(payload)))
                got += b
            return got

    def logs(self):
        return self.procs[0].errlines() + self.procs[1].errlines()

    def test_every_service_byte_exact(self):
        for _ in range(2):
            self.assertRegex(self.fetch("daytime"), DAYTIME)
            out = self.fetch("time")
            self.assertEqual(len(out), 4)
            now = time.time() + 2208988800
            self.assertLess(abs(int.from_bytes(out, "big") - now % 2**32), 60)
            q = self.fetch("qotd")
            self.assertTrue(q.endswith(b"\r\n") and 2 < len(q) < 512, q)
            payload = bytes(range(256)) * 40
            self.assertEqual(self.echo(payload), payload)
            self.assertEqual(self.fetch("discard", b"d" * 5000, shut=True), b"")
            with self.connect("chargen") as s:
                got = b""
                while len(got) < 20000:
                    b = s.recv(65536)
                    self.assertTrue(b, "chargen closed early")
                    got += b
            self.assertEqual(got[:20000], sktest.chargen_ref(0, 20000))
        # Both instances served; discard saw the 5000 bytes each time.
        for p in self.procs[:2]:
            p.wait_line(lambda l: l.startswith("event=close ") and "bytes_in=5000 " in l,
                        stream="err", timeout=20)

    def test_log_has_client_and_balancer(self):
        for source in ("127.0.0.2", "127.0.0.3"):
            with self.connect("echo", source) as s:
                port = s.getsockname()[1]
                s.sendall(b"hi\n")
                self.assertEqual(s.recv(10), b"hi\n")
            pat = re.compile(r"^event=open peer=%s:%d local=127\.0\.0\.1:%d via=127\.0\.0\.1:\d+$"
                             % (re.escape(source), port, self.front + 7))
            deadline = time.monotonic() + 20
            while not any(pat.match(l) for l in self.logs()):
                self.assertLess(time.monotonic(), deadline, "no open line for %s:%d in %r"
                                % (source, port, self.logs()[-20:]))
                time.sleep(0.05)

    def test_per_source_limit_counts_clients_apart(self):
        port = self.front + 1
        c = self.procs[2]
        with self.connect("echo", "127.0.0.2", port) as a, \
                self.connect("echo", "127.0.0.3", port) as b:
            for s in (a, b):
                s.sendall(b"ping\n")
                self.assertEqual(s.recv(10), b"ping\n")
            with self.connect("echo", "127.0.0.2", port) as extra:
                extra.sendall(b"ping\n")
                self.assertEqual(pp.read_until_close(extra, 30), b"")
            c.wait_line(lambda l: l.startswith("event=refuse peer=127.0.0.2:") and
                        "reason=limit" in l and " via=127.0.0.1:" in l,
                        stream="err", timeout=20)
            # The held connections still work.
            for s in (a, b):
                s.sendall(b"again\n")
                self.assertEqual(s.recv(10), b"again\n")
        samples = pp.parse_metrics(pp.scrape(("127.0.0.1", self.metrics[2]))[2])
        self.assertEqual(pp.metric_sum(samples, "sockit_connections_refused_total",
                                       reason="limit"), 1)

    def test_health_checks_not_refused(self):
        time.sleep(1.0)  # a few more rounds of checks (inter 300ms)
        for mport in self.metrics[:2]:
            status, _, body = pp.scrape(("127.0.0.1", mport))
            self.assertEqual(status, 200)
            m = pp.parse_metrics(body)
            self.assertEqual(pp.metric_sum(m, "sockit_connections_refused_total"), 0, body)
            checks = (pp.metric_sum(m, "sockit_proxy_headers_total", result="local") +
                      pp.metric_sum(m, "sockit_proxy_headers_total", result="proxy"))
            # Six services checked every 300 ms for well over a second.
            self.assertGreaterEqual(checks, 12, body)
            for bad in ("invalid", "timeout", "truncated"):
                self.assertEqual(pp.metric_sum(m, "sockit_proxy_headers_total", result=bad),
                                 0, body)


class HAProxyV1(HAProxyBase, unittest.TestCase):
    send_proxy = "send-proxy"


class HAProxyV2(HAProxyBase, unittest.TestCase):
    send_proxy = "send-proxy-v2 proxy-v2-options crc32c"


if __name__ == "__main__":
    sktest.main()
