"""Benchmark: derivation cache (cold / warm) and the default pytest wall time.

    python benchmarks/suite_speed.py [--repeat 3] [--skip-pytest]

Each figure is the median of --repeat runs in fresh processes; results go to stdout and to
reports/latest/bench/suite_speed.json (an ignored run folder).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOAD = "import dlproof.derivations as d; d.records(); d.kernels()"


def _timed(cmd, env):
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-pytest", action="store_true")
    args = ap.parse_args()
    out = {}
    cold, warm, baseline = [], [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as d:
            env = dict(os.environ, DLPROOF_CACHE_DIR=d)
            cold.append(_timed([sys.executable, "-c", LOAD], env))
            warm.append(_timed([sys.executable, "-c", LOAD], env))
            baseline.append(_timed([sys.executable, "-c", "import numpy"], env))
    out["derivations_cold_s"] = statistics.median(cold)
    out["derivations_warm_s"] = statistics.median(warm)
    out["python_plus_numpy_startup_s"] = statistics.median(baseline)
    if not args.skip_pytest:
        env = dict(os.environ)
        with tempfile.TemporaryDirectory() as rep:
            for label, extra in (("pytest_serial_s", []), ("pytest_n2_s", ["-n", "2"])):
                runs = [_timed([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--report={rep}"] + extra, env)
                        for _ in range(args.repeat)]
                out[label] = statistics.median(runs)
            rows = json.loads((Path(rep) / "correctness.json").read_text())["results"]
            ran = [r["examples"] for r in rows if r["verdict"] == "pass"]
            out["min_examples_per_passing_property"] = min(ran) if ran else None
    dest = ROOT / "reports" / "latest" / "bench"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "suite_speed.json").write_text(json.dumps(out, indent=1) + "\n")
    for k, v in out.items():
        print(f"{k:40s} {v:.3f}" if isinstance(v, float) else f"{k:40s} {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
