"""Benchmark: wall time of `dlproof conform TARGET --profile ci` for every available built-in target.

    python benchmarks/conform_times.py [--targets NAME ...]

Each target runs in a fresh process (imports and JAX compilation included); results go to stdout and
reports/latest/bench/conform_times.json (an ignored run folder).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    from dlproof.loader import BUILTINS, TargetLoadError, load_target

    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", nargs="*")
    args = ap.parse_args()
    out = {}
    for spec in args.targets or list(BUILTINS):
        try:
            load_target(spec)
        except TargetLoadError as exc:
            print(f"{spec:24s} unavailable ({exc})")
            continue
        with tempfile.TemporaryDirectory() as rep:
            t = time.perf_counter()
            code = subprocess.run([sys.executable, "-m", "dlproof", "conform", spec, "--report", rep],
                                  cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
            out[spec] = {"seconds": round(time.perf_counter() - t, 1), "exit": code}
        print(f"{spec:24s} {out[spec]['seconds']:6.1f} s  exit {code}")
    dest = ROOT / "reports" / "latest" / "bench"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "conform_times.json").write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
