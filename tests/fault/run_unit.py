#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs unit test scenarios under the fault-injection shim.

    run_unit.py --shim PATH --seed N [--rate PCT] [--kinds LIST]
                [--only OBJECT] [--short-min BYTES] [--timeout SEC]
                BINARY SCENARIO...

Each scenario runs in its own process (`BINARY SCENARIO`, as ctest runs
it) with LD_PRELOAD=PATH and SK_FAULT_SEED=N (and SK_FAULT_ONLY=OBJECT, to
fault only the calls the library makes).  A scenario passes with exit
0 or 77 (skipped).  A failure prints the scenario's output and the command
that reproduces it.  The shim's shared counters (SK_FAULT_STATS) are
printed at the end, and a run in which nothing was injected fails: it
would have proved nothing.
"""

import argparse
import os
import shlex
import struct
import subprocess
import sys
import tempfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shim", required=True)
    ap.add_argument("--seed", required=True)
    ap.add_argument("--rate", default="10")
    ap.add_argument("--kinds", default="short,eintr,eagain")
    ap.add_argument("--only", default="")
    ap.add_argument("--short-min", default="")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("binary")
    ap.add_argument("scenarios", nargs="+")
    args = ap.parse_args()

    fd, stats_path = tempfile.mkstemp(prefix="faultshim-stats-")
    os.close(fd)
    env = dict(os.environ)
    fault_env = {"LD_PRELOAD": args.shim, "SK_FAULT_SEED": str(args.seed),
                 "SK_FAULT_RATE": str(args.rate), "SK_FAULT_KINDS": args.kinds}
    if args.only:
        fault_env["SK_FAULT_ONLY"] = args.only
    if args.short_min:
        fault_env["SK_FAULT_SHORT_MIN"] = args.short_min
    env.update(fault_env)
    env["SK_FAULT_STATS"] = stats_path
    failed = []
    start = time.monotonic()
    try:
        for name in args.scenarios:
            t0 = time.monotonic()
            try:
                p = subprocess.run([args.binary, name], env=env, capture_output=True,
                                   timeout=args.timeout)
                rc, out = p.returncode, p.stdout + p.stderr
            except subprocess.TimeoutExpired as e:
                rc, out = "timeout", (e.stdout or b"") + (e.stderr or b"")
            took = time.monotonic() - t0
            status = {0: "ok", 77: "skip"}.get(rc, "FAILED")
            print("%-7s %-40s %6.2fs" % (status, name, took), flush=True)
            if status == "FAILED":
                failed.append(name)
                print("  exit: %s" % rc)
                for line in out.decode("utf-8", "replace").splitlines()[-20:]:
                    print("  | " + line)
                print("  reproduce: " + " ".join(
                    "%s=%s" % (k, shlex.quote(v)) for k, v in fault_env.items())
                    + " " + shlex.quote(args.binary) + " " + name)
        with open(stats_path, "rb") as f:
            raw = f.read(64)
    finally:
        os.unlink(stats_path)
    counts = struct.unpack("=8Q", raw) if len(raw) == 64 else (0,) * 8
    print("seed %s rate %s%% kinds %s: %d scenarios in %.1fs; shim saw %d calls, "
          "injected short %d, EINTR %d, EAGAIN %d, EMFILE %d"
          % (args.seed, args.rate, args.kinds, len(args.scenarios),
             time.monotonic() - start, counts[0], counts[1], counts[2], counts[3], counts[4]))
    if failed:
        print("%d failed: %s" % (len(failed), " ".join(failed)))
        return 1
    if sum(counts[1:5]) == 0:
        print("no fault was injected: this run proves nothing")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
