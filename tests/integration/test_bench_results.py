# SPDX-License-Identifier: MIT
"""What `sockit bench` results are for: merged, plotted, read by HdrHistogram.

Runs are short echo and udp runs against python3 stdlib echo servers.

- --json (schema sockit-bench/3) carries every histogram bucket: the
  reported percentiles are recomputed here from the buckets with the rule
  bench states, and must match to the printed digit.
- merge: two runs at the same time and a run after them merge into the sums
  of their counts and buckets, percentiles from the summed buckets, rates
  over the union of their windows; incompatible inputs exit 2 with one
  line naming the file and the reason.
- plot: an SVG of 1 run and of 3 runs renders with rsvg-convert (librsvg2-bin)
  to a PNG that is not blank, has one line per run with its label, and its
  markers, read back through the axis ticks, sit at the runs' percentiles.
- --hdr-log: HdrHistogram's own HistogramLogProcessor (libhdrhistogram-java)
  reads a 3-interval log; its total count is bench's and its p50, p99 and
  max agree with bench's within the histogram's stated relative error.
"""

import json
import math
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import unittest
import xml.etree.ElementTree as ET
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import sktest  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from test_bench import TCPServer, EchoHandler, UDPEcho, serve_tcp, stop_tcp  # noqa: E402

REL_ERROR = 1.0 / 1024  # BENCH_HIST_REL_ERROR
HDR_JAR = "/usr/share/java/hdrhistogram.jar"
SVG = "{http://www.w3.org/2000/svg}"


def bench_argv(*args):
    return [sktest.SOCKIT, "bench"] + [str(a) for a in args]


def percentile_ns(hist, p):
    """bench_hist_percentile, from the JSON buckets."""
    count = hist["count"]
    if count == 0:
        return 0
    if p <= 0:
        return hist["min"]
    if p >= 100:
        return hist["max"]
    want = p / 100.0 * count
    rank = int(want)
    if rank < want:
        rank += 1
    rank = max(rank, 1)
    seen = 0
    for lo, hi, n in hist["buckets"]:
        seen += n
        if seen >= rank:
            return min(max(hi, hist["min"]), hist["max"])
    return hist["max"]


def us1(ns):
    """A latency as the JSON prints it: microseconds, one decimal."""
    return float("%.1f" % (ns / 1e3))


REPORTED = [(50, "p50"), (90, "p90"), (99, "p99"), (99.9, "p99_9"), (99.99, "p99_99")]


def sum_buckets(hists):
    total = {}
    for h in hists:
        for lo, hi, n in h["buckets"]:
            total[(lo, hi)] = total.get((lo, hi), 0) + n
    return total


def union_ns(reports):
    w = sorted((r["start_unix_ns"], r["start_unix_ns"] + r["elapsed_ns"]) for r in reports)
    total, lo, hi = 0, None, None
    for s, e in w:
        if hi is None or s > hi:
            if hi is not None:
                total += hi - lo
            lo, hi = s, e
        else:
            hi = max(hi, e)
    return total + (hi - lo)


def png_pixels(path):
    """(width, height, rows of RGBA bytes) of an 8-bit RGB or RGBA PNG."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w, h, bpp = 8, b"", 0, 0, 4
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), (depth, ctype)
            bpp = 4 if ctype == 6 else 3
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pr) & 255
        rows.append(line if bpp == 4 else
                    bytearray(b for i in range(w) for b in line[3 * i:3 * i + 3] + b"\xff"))
        prev = line
    return w, h, rows


def decade_ns(label):
    """'100 µs' -> 1e5 (nanoseconds)."""
    value, unit = label.split()
    return float(value) * {"ns": 1, "µs": 1e3, "ms": 1e6, "s": 1e9}[unit]


class Results(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sockit-bench-results-")
        cls.srv = serve_tcp(EchoHandler)
        cls.port = cls.srv.server_address[1]

    @classmethod
    def tearDownClass(cls):
        stop_tcp(cls.srv)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def run_to(self, name, *args):
        """Runs bench --json into tmp/name; returns the parsed report."""
        r = sktest.run(bench_argv(*args, "--json"), timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.path(name), "w") as f:
            f.write(r.stdout)
        return json.loads(r.stdout)

    def echo_args(self, duration="1"):
        return ["echo", "127.0.0.1", self.port, "--conns", 2, "--threads", 1,
                "--duration", duration]

    def check_percentiles(self, rep):
        hist = rep["latency_histogram"]
        lat = rep["latency_us"]
        self.assertEqual(hist["count"], lat["samples"])
        self.assertEqual(sum(n for _, _, n in hist["buckets"]), hist["count"])
        for p, key in REPORTED:
            self.assertEqual(us1(percentile_ns(hist, p)), lat[key], (key, rep))
        self.assertEqual(us1(hist["min"]), lat["min"])
        self.assertEqual(us1(hist["max"]), lat["max"])
        self.assertEqual(float("%.1f" % (hist["sum"] / hist["count"] / 1e3)), lat["mean"])

    # ---- JSON and merge --------------------------------------------------

    def test_json_buckets_give_the_percentiles(self):
        rep = self.run_to("one.json", *self.echo_args())
        self.assertEqual(rep["schema"], "sockit-bench/3")
        hist = rep["latency_histogram"]
        self.assertEqual((hist["unit"], hist["sub_bucket_bits"], hist["max_bits"]),
                         ("ns", 11, 42))
        self.check_percentiles(rep)
        los = [b[0] for b in hist["buckets"]]
        self.assertEqual(los, sorted(set(los)))

    def test_merge_concurrent_and_sequential_runs(self):
        procs = [subprocess.Popen(bench_argv(*self.echo_args(), "--json"),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        reps = []
        for i, p in enumerate(procs):
            out, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, err)
            with open(self.path("gen%d.json" % i), "w") as f:
                f.write(out)
            reps.append(json.loads(out))
        later = self.run_to("later.json", *self.echo_args("0.5"))

        r = sktest.run(bench_argv("merge", self.path("gen0.json"), self.path("gen1.json"),
                                  "--json"))
        self.assertEqual(r.returncode, 0, r.stderr)
        both = json.loads(r.stdout)
        self.check_merged(both, reps)
        # The two ran at the same time: their common time counts once.
        self.assertLess(both["elapsed_ns"], reps[0]["elapsed_ns"] + reps[1]["elapsed_ns"])

        with open(self.path("both.json"), "w") as f:
            f.write(r.stdout)
        r = sktest.run(bench_argv("merge", self.path("both.json"), self.path("later.json"),
                                  "--json"))
        self.assertEqual(r.returncode, 0, r.stderr)
        three = json.loads(r.stdout)
        self.check_merged(three, reps + [later])
        # One after another: the later run's window adds on.
        self.assertEqual(three["elapsed_ns"], both["elapsed_ns"] + later["elapsed_ns"])

        table = sktest.run(bench_argv("merge", self.path("gen0.json"), self.path("gen1.json")))
        self.assertEqual(table.returncode, 0, table.stderr)
        self.assertIn("merged 2 runs", table.stdout)
        self.assertIn("p99 %.1f" % both["latency_us"]["p99"], table.stdout)

    def check_merged(self, merged, reps):
        self.assertEqual(merged["ops"], sum(r["ops"] for r in reps))
        self.assertEqual(merged["bytes"], sum(r["bytes"] for r in reps))
        self.assertEqual(merged["conns"], sum(r["conns"] for r in reps))
        summed = sum_buckets(r["latency_histogram"] for r in reps)
        got = {(lo, hi): n for lo, hi, n in merged["latency_histogram"]["buckets"]}
        self.assertEqual(got, summed)
        self.assertEqual(merged["latency_histogram"]["min"],
                         min(r["latency_histogram"]["min"] for r in reps))
        self.assertEqual(merged["latency_histogram"]["max"],
                         max(r["latency_histogram"]["max"] for r in reps))
        self.check_percentiles(merged)
        self.assertEqual(merged["elapsed_ns"], union_ns(reps))
        self.assertEqual(merged["start_unix_ns"], min(r["start_unix_ns"] for r in reps))
        self.assertEqual(merged["ops_per_s"],
                         float("%.1f" % (merged["ops"] / (merged["elapsed_ns"] / 1e9))))

    def refused(self, *files):
        r = sktest.run(bench_argv("merge", *files))
        self.assertEqual(r.returncode, 2, (r.stdout, r.stderr))
        self.assertEqual(r.stdout, "")
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        return lines[0]

    def test_merge_refuses_incompatible_inputs(self):
        base = self.run_to("base.json", *self.echo_args("0.5"))
        udp_srv = UDPEcho()
        try:
            self.run_to("udp.json", "udp", "127.0.0.1", udp_srv.port, "--conns", 1,
                        "--threads", 1, "--duration", "0.5")
        finally:
            udp_srv.close()
        line = self.refused(self.path("base.json"), self.path("udp.json"))
        self.assertIn(self.path("udp.json"), line)
        self.assertIn("mode udp", line)

        old = dict(base, schema="sockit-bench/2")
        bits = json.loads(json.dumps(base))
        bits["latency_histogram"]["sub_bucket_bits"] = 10
        shifted = json.loads(json.dumps(base))
        lo, hi, n = shifted["latency_histogram"]["buckets"][0]
        shifted["latency_histogram"]["buckets"][0] = [lo, hi + 1, n]
        for name, doc, why in [("old.json", old, "schema"), ("bits.json", bits, "histogram"),
                               ("shifted.json", shifted, "histogram settings")]:
            with open(self.path(name), "w") as f:
                json.dump(doc, f)
            line = self.refused(self.path("base.json"), self.path(name))
            self.assertIn(self.path(name), line)
            self.assertIn(why, line)
        with open(self.path("cut.json"), "w") as f:
            f.write(json.dumps(base)[:-40])
        self.assertIn(self.path("cut.json"), self.refused(self.path("cut.json")))
        self.assertIn("missing.json", self.refused(self.path("missing.json")))
        r = sktest.run(bench_argv("merge"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("sockit bench merge --help", r.stderr)

    # ---- plots -------------------------------------------------------------

    def render(self, svg):
        rsvg = sktest.require_program("rsvg-convert")
        png = svg + ".png"
        r = subprocess.run([rsvg, svg, "-o", png], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        w, h, rows = png_pixels(png)
        inked = sum(1 for row in rows for x in range(w)
                    if row[4 * x + 3] > 0 and min(row[4 * x:4 * x + 3]) < 200)
        self.assertGreater(inked, 2000, "the PNG is blank")
        coloured = sum(1 for row in rows for x in range(w)
                       if row[4 * x + 3] > 0 and max(row[4 * x:4 * x + 3]) -
                       min(row[4 * x:4 * x + 3]) > 80)
        self.assertGreater(coloured, 300, "no coloured line drawn")
        return w, h

    def check_plot(self, svg, reps, labels):
        root = ET.parse(svg).getroot()
        lines = [e for e in root.iter(SVG + "polyline") if e.get("class") == "run"]
        self.assertEqual([e.get("data-label") for e in lines], labels)
        legend = [e.text for e in root.iter(SVG + "text") if e.get("class") == "label"]
        self.assertEqual(legend, labels)
        # The axes, read back from the tick labels.
        xt = {e.text: float(e.get("x")) for e in root.iter(SVG + "text")
              if e.get("class") == "xtick"}
        self.assertEqual(sorted(xt, key=float), ["0", "90", "99", "99.9", "99.99", "99.999"])
        yt = [(decade_ns(e.text), float(e.get("y"))) for e in root.iter(SVG + "text")
              if e.get("class") == "ytick"][:2]
        (v0, y0), (v1, y1) = yt
        per_decade = (y1 - y0) / (math.log10(v1) - math.log10(v0))

        def value_at(y):
            return 10 ** (math.log10(v0) + (y - y0) / per_decade)

        points = [e for e in root.iter(SVG + "circle") if e.get("class") == "point"]
        self.assertEqual(len(points), 6 * len(reps))
        for e in points:
            rep = reps[int(e.get("data-run"))]
            p = float(e.get("data-p"))
            want = percentile_ns(rep["latency_histogram"], p)
            self.assertAlmostEqual(float(e.get("cx")), xt[e.get("data-p")], delta=0.01)
            got = value_at(float(e.get("cy")))
            self.assertLess(abs(got - want) / want, 0.005, (e.attrib, got, want))
        for line, rep in zip(lines, reps):
            pts = [tuple(map(float, p.split(","))) for p in line.get("points").split()]
            for nine in ["0", "90", "99", "99.9", "99.99", "99.999"]:
                x, y = min(pts, key=lambda q: abs(q[0] - xt[nine]))
                self.assertAlmostEqual(x, xt[nine], delta=0.01)
                want = percentile_ns(rep["latency_histogram"], float(nine))
                self.assertLess(abs(value_at(y) - want) / want, 0.005, (nine, want))

    def test_plot_one_and_three_runs(self):
        reps = [self.run_to("run%d.json" % i, *self.echo_args("0.5")) for i in range(3)]
        one = self.path("one.svg")
        r = sktest.run(bench_argv("plot", self.path("run0.json"), "-o", one))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.render(one)
        self.check_plot(one, reps[:1], ["run0"])

        three = self.path("three.svg")
        r = sktest.run(bench_argv("plot", *[self.path("run%d.json" % i) for i in range(3)],
                                  "-o", three, "--title", "three <runs> & more"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.render(three)
        self.check_plot(three, reps, ["run0", "run1", "run2"])
        title = [e.text for e in ET.parse(three).getroot().iter(SVG + "text")
                 if e.get("class") == "title"]
        self.assertEqual(title, ["three <runs> & more"])

        r = sktest.run(bench_argv("plot", self.path("run0.json")))
        self.assertEqual(r.returncode, 2)
        self.assertIn("sockit bench plot --help", r.stderr)

    def test_plot_of_a_run_with_intervals(self):
        svg = self.path("run.svg")
        rep = self.run_to("ival.json", *self.echo_args("1.2"), "--interval", "0.4",
                          "--plot", svg)
        w, h = self.render(svg)
        self.assertGreater(h, 700)  # two panels
        root = ET.parse(svg).getroot()
        label = "echo 127.0.0.1:%d" % self.port
        self.check_plot(svg, [rep], [label])
        p99 = [e for e in root.iter(SVG + "polyline") if e.get("class") == "ival-p99"]
        p50 = [e for e in root.iter(SVG + "polyline") if e.get("class") == "ival-p50"]
        self.assertEqual(len(p99), 1)
        self.assertEqual(len(p50), 1)
        rows = [row for row in rep["intervals"] if row["ops"] > 0]
        self.assertEqual(len(p99[0].get("points").split()), len(rows))
        for row in rows:
            self.assertLessEqual(row["p50_us"], row["p99_us"])

    # ---- HdrHistogram -------------------------------------------------------

    def test_hdr_log_read_by_histogram_log_processor(self):
        java = sktest.require_program("java")
        if not os.path.exists(HDR_JAR):
            raise unittest.SkipTest("libhdrhistogram-java not installed "
                                    "(scripts/install-deps.sh test installs it as root)")
        log = self.path("run.hlog")
        rep = self.run_to("hdr.json", *self.echo_args("1.2"), "--interval", "0.4",
                          "--hdr-log", log)
        with open(log) as f:
            text = f.read()
        self.assertRegex(text, r"(?m)^#\[StartTime: \d+\.\d{3} \(seconds since epoch\)")
        self.assertRegex(text, r"(?m)^#\[BaseTime: \d+\.\d{3} \(seconds since epoch\)\]$")
        self.assertIn('"StartTimestamp","Interval_Length","Interval_Max",'
                      '"Interval_Compressed_Histogram"', text)
        data = [l for l in text.splitlines() if l and not l.startswith(("#", '"'))]
        self.assertEqual(len(data), 3, text)
        self.assertTrue(all(l.split(",")[3].startswith("HISTFAA") for l in data))
        out = self.path("hdr-out")
        r = subprocess.run([java, "-cp", HDR_JAR, "org.HdrHistogram.HistogramLogProcessor",
                            "-i", log, "-o", out, "-outputValueUnitRatio", "1000"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            rows = [l for l in f if re.match(r"^\d", l)]
        self.assertEqual(len(rows), 3, rows)
        # "1.200: I:n ( 50% 90% Max ) T:n ( 50% 90% 99% 99.9% 99.99% Max )"
        m = re.search(r"T:(\d+) \(\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+[\d.]+\s+[\d.]+\s+([\d.]+)",
                      rows[-1])
        self.assertIsNotNone(m, rows[-1])
        total, p50, _, p99, top = int(m.group(1)), *map(float, m.group(2, 3, 4, 5))
        self.assertEqual(total, rep["ops"])
        self.assertEqual(total, rep["latency_us"]["samples"])
        lat = rep["latency_us"]
        for theirs, ours in [(p50, lat["p50"]), (p99, lat["p99"]), (top, lat["max"])]:
            # Both are the top of the same bucket (bench caps at the true
            # maximum), printed to 0.001 and 0.1 us.
            self.assertLessEqual(abs(theirs - ours), ours * REL_ERROR + 0.051,
                                 (theirs, ours, rows[-1]))
        with open(out + ".hgrm") as f:
            hgrm = f.read()
        self.assertRegex(hgrm, r"Total count\s+=\s+%d\b" % rep["ops"])

    def test_hdr_log_without_intervals_and_stream_refused(self):
        log = self.path("whole.hlog")
        rep = self.run_to("whole.json", *self.echo_args("0.5"), "--hdr-log", log)
        with open(log) as f:
            data = [l for l in f if l[0].isdigit()]
        self.assertEqual(len(data), 1)
        start, length = map(float, data[0].split(",")[:2])
        self.assertEqual(start, 0.0)
        self.assertAlmostEqual(length, rep["elapsed_s"], delta=0.002)
        for opt in ["--hdr-log", "--plot"]:
            r = sktest.run(bench_argv("stream", "127.0.0.1", self.port, opt,
                                      self.path("x")))
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(opt, r.stderr)


if __name__ == "__main__":
    sktest.main()
