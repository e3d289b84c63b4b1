# SPDX-License-Identifier: MIT
"""bench/compare, the performance harness, works end to end: it builds the
reference peers, starts every server pinned to its core, drives each with
`sockit bench`, and reports a measurement for every peer of every scenario,
with the ratios and the verdicts computed from them.

Only the harness is checked here.  Whether sockit meets its targets is a
matter of a full run on an otherwise idle machine (bench/README.md): with
half-second measurements on a loaded test box the ratios mean nothing, so
no ratio is asserted, only that each one was computed and judged, and
that the server's CPU per operation is reported both ways (its process, its
core) with the load generator core's busy share, and every verdict names
the basis it was judged on (the stream row against iperf3 on the server
core's cost per MB moved; an open-loop p99 fails when the judged runs had
late sends, and the rates tried are reported).  `--plot DIR` writes an SVG
per latency scenario with one line per peer, from the peers' merged runs.
Skipped
on sanitizer builds and when a peer's package is missing.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import sktest  # noqa: E402

SCRIPT = os.path.join(sktest.SOURCE, "bench", "compare")
SCENARIOS = ["echo50", "openloop", "latency", "stream", "churn", "udp", "ntp", "ntp-nts",
             "stamp", "idle"]
BASES = ("server core cost", "server core cost per MB", "rate", "p99")
IDLE_COUNT = 300


def missing_peers():
    why = []
    for program in ("taskset", "iperf3"):
        if shutil.which(program) is None:
            why.append(program)
    if shutil.which("xinetd") is None and not os.path.exists("/usr/sbin/xinetd"):
        why.append("xinetd")
    chronyd = shutil.which("chronyd") or "/usr/sbin/chronyd"
    if not os.path.exists(chronyd):
        why.append("chrony")
    elif "+NTS" not in subprocess.run([chronyd, "-v"], capture_output=True, text=True).stdout:
        why.append("chrony with NTS")
    if not os.path.exists("/usr/include/uv.h"):
        why.append("libuv1-dev")
    return why


class CompareHelp(unittest.TestCase):
    """--help says what each verdict is judged on (cheap: runs nothing)."""

    def test_help_names_the_bases_and_every_target(self):
        r = subprocess.run([sys.executable, SCRIPT, "--help"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        text = " ".join(r.stdout.split())
        self.assertIn("the server core's cost per operation", text)
        self.assertIn("load generator's core 1 was above 90% busy", text)
        self.assertIn("rate the scenario's rate, sockit's over the peer's", text)
        self.assertIn("p99 p99 latency, sockit's over the peer's", text)
        for line in ("echo50 cost vs raw >= 1.00x; cost vs libuv >= 1.50x; "
                     "cost vs xinetd >= 1.80x (rate: ops/s)",
                     "latency p99 vs raw <= 1.10x",
                     "stream rate vs raw >= 0.90x; mbcost vs iperf3 >= 0.80x (rate: MB/s)",
                     "core/MB the server core's busy time per MB the server moved",
                     "in runs without late sends",
                     "udp cost vs plain >= 1.30x; rate vs plain >= 1.00x; "
                     "rate vs xinetd >= 20.00x (rate: ops/s)",
                     "ntp-nts cost vs chronyd_nts >= 1.50x (rate: ops/s)"):
            self.assertIn(line, text)
        for name in SCENARIOS + ["syscalls"]:
            self.assertRegex(r.stdout, r"(?m)^  %s +\S" % name)


class CompareHarness(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if sktest.SANITIZE:
            raise unittest.SkipTest("a sanitizer build: its timings mean nothing")
        if len(os.sched_getaffinity(0)) < 2:
            raise unittest.SkipTest("compare pins the server to core 0 and the client "
                                    "to core 1; this process may run on fewer cores")
        missing = missing_peers()
        if missing:
            raise unittest.SkipTest("%s not installed (scripts/install-deps.sh test "
                                    "installs them as root)" % ", ".join(missing))
        cls.plots = tempfile.mkdtemp(prefix="sockit-compare-plots-")
        r = subprocess.run([sys.executable, SCRIPT, "--build", sktest.BUILD, "--json",
                            "--only", ",".join(SCENARIOS), "--duration", "0.5",
                            "--repeat", "1", "--idle-count", str(IDLE_COUNT),
                            "--plot", cls.plots],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=250)
        cls.returncode = r.returncode
        cls.output = r.stdout[-3000:] + r.stderr[-3000:]
        try:
            cls.report = json.loads(r.stdout)
        except ValueError:
            cls.report = None

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(getattr(cls, "plots", ""), ignore_errors=True)

    def setUp(self):
        self.assertIsNotNone(self.report, "no JSON report:\n" + self.output)

    def scenario(self, name):
        for sc in self.report["scenarios"]:
            if sc["name"] == name:
                return sc
        self.fail("scenario %s missing from the report" % name)

    def test_every_scenario_reported_in_order(self):
        self.assertEqual([sc["name"] for sc in self.report["scenarios"]], SCENARIOS)

    def test_every_peer_measured(self):
        for name in ("echo50", "openloop", "latency", "stream", "churn", "udp", "ntp",
                     "ntp-nts", "stamp"):
            sc = self.scenario(name)
            for peer, samples in sc["samples"].items():
                self.assertEqual(len(samples), 1, (name, peer))
                s = samples[0]
                self.assertIsNone(s.get("error"), (name, peer, s))
                metric = "mb" if name == "stream" else "ops"
                self.assertGreater(s[metric] or 0, 0, (name, peer, s))
                self.assertGreater(s["cli_cpu"], 0, (name, peer, s))
                self.assertGreater(s["srv_cpu"] or 0, 0, (name, peer, s))
                self.assertIsNotNone(s.get("steal"), (name, peer, s))
                # Both costs per operation and both cores' busy shares.
                for key in ("srv_core", "cli_core"):
                    self.assertIsNotNone(s.get(key), (name, peer, key, s))
                    self.assertGreaterEqual(s[key], 0, (name, peer, key, s))
                    self.assertLessEqual(s[key], 100.5, (name, peer, key, s))
                if name != "stream":
                    for key in ("srv_us_op", "core_us_op"):
                        self.assertGreater(s.get(key) or 0, 0, (name, peer, key, s))
                # sockit bench checks every byte: a peer that answered
                # wrongly would be an error, not a rate.
                self.assertEqual(s["errors"], 0, (name, peer, s))
            self.assertIn("sockit", sc["samples"], name)

    def test_every_target_judged_on_a_ratio(self):
        for sc in self.report["scenarios"]:
            for check in sc["checks"]:
                if sc["name"] == "idle":
                    continue
                self.assertIsNotNone(check["ratio"], (sc["name"], check))
                self.assertGreater(check["ratio"], 0, (sc["name"], check))
                self.assertIn(check["basis"], BASES, (sc["name"], check))
                if check["kind"] == "cost":
                    busy = check["client_core_busy"] > 90
                    self.assertEqual(check["basis"], "server core cost" if busy else "rate",
                                     (sc["name"], check))
                if check["kind"] == "mbcost":
                    self.assertEqual(check["basis"], "server core cost per MB", check)
                if check["basis"] == "p99":
                    want = check["ratio"] <= check["bound"] and not check["late_sends"]
                else:
                    want = check["ratio"] >= check["bound"]
                self.assertEqual(check["ok"], want, (sc["name"], check))

    def test_new_targets_present(self):
        kinds = {(sc["name"], c["peer"], c.get("kind")) for sc in self.report["scenarios"]
                 for c in sc["checks"]}
        for want in (("echo50", "raw", "cost"), ("echo50", "libuv", "cost"),
                     ("echo50", "xinetd", "cost"), ("udp", "plain", "cost"),
                     ("udp", "plain", "rate"), ("churn", "xinetd", "cost"),
                     ("openloop", "raw", "p99"), ("stream", "iperf3", "mbcost"),
                     ("ntp-nts", "chronyd_nts", "cost")):
            self.assertIn(want, kinds)
        self.assertIn("plain", self.scenario("udp")["samples"])
        ol = self.scenario("openloop")
        self.assertGreater(ol["rate_per_s"], 0)
        # Lower rates are tried while the generator falls behind; the rate
        # judged is the last one tried.
        rates = [t["rate"] for t in ol["rate_tries"]]
        self.assertGreaterEqual(len(rates), 1)
        self.assertEqual(rates, sorted(rates, reverse=True))
        self.assertAlmostEqual(rates[-1], ol["rate_per_s"])
        for t in ol["rate_tries"][:-1]:
            self.assertTrue(t["late"], ol["rate_tries"])
        for peer in ("sockit", "iperf3"):
            self.assertGreater(self.scenario("stream")["samples"][peer][0]["core_us_mb"], 0)

    def test_plots_one_line_per_peer(self):
        for name in ("echo50", "openloop", "latency", "churn", "udp", "ntp"):
            svg = os.path.join(self.plots, name + ".svg")
            self.assertTrue(os.path.exists(svg), (name, os.listdir(self.plots)))
            root = ET.parse(svg).getroot()
            labels = [e.get("data-label") for e in root.iter("{http://www.w3.org/2000/svg}polyline")
                      if e.get("class") == "run"]
            self.assertEqual(labels, list(self.scenario(name)["samples"]), name)
        self.assertFalse(os.path.exists(os.path.join(self.plots, "stream.svg")))

    def test_idle_connections_held_and_echoed(self):
        res = self.scenario("idle")["result"]
        self.assertIsNone(res.get("error"), res)
        self.assertEqual(res["held"], IDLE_COUNT, res)
        self.assertEqual(res["accepted"], IDLE_COUNT, res)
        self.assertEqual(res["echoed_ok"], IDLE_COUNT, res)
        self.assertEqual(res["echoed_bad"], 0, res)
        self.assertTrue(res["server_alive"], res)
        self.assertGreater(res["private_dirty_per_conn"], 0, res)

    def test_exit_status_and_missed_agree(self):
        missed = ["%s: %s" % (sc["name"], c["why"]) for sc in self.report["scenarios"]
                  for c in sc["checks"] if not c["ok"]]
        self.assertEqual(self.report["missed"], missed)
        self.assertEqual(self.report["ok"], not missed)
        self.assertEqual(self.returncode, 0 if not missed else 1, self.output)

    def test_steal_reported_for_both_cores(self):
        steal = self.report["steal_percent"]
        self.assertEqual(sorted(steal), ["0", "1"], steal)
        for v in steal.values():
            self.assertGreaterEqual(v, 0)
            self.assertLessEqual(v, 100)


if __name__ == "__main__":
    sktest.main()
