"""Benchmark: wall time of `dlproof conform TARGET --profile ci` for the third-party built-in targets.

    python benchmarks/conform_times.py [--targets NAME ...]

Each target runs in a fresh process, as a user runs it (imports, JAX compilation and the derivation cache's
warm load included), one after the other; results go to stdout and reports/latest/bench/conform_times.json
(an ignored run folder). benchmarks/performance.py includes it as its section "conformance_times"
(``measure(specs, repeats) -> dict``, ``render(result) -> list`` of Markdown lines).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_S = 60.0  # issue: each third-party target's conformance run takes at most 60 s
THIRD_PARTY = ("torch.nn", "torch.compile", "keras", "flax", "optax", "onnxruntime")


def third_party_specs() -> list:
    """The built-in adapters of other libraries and compilers (CUDA ones left out: they need a GPU): the built-ins
    named by or under a `THIRD_PARTY` name (the torch references "torch", "torch.float32" are dlproof's own)."""
    from dlproof.loader import BUILTINS

    return [s for s in BUILTINS if any(s == p or s.startswith(p + ".") for p in THIRD_PARTY) and "cuda" not in s]


def _once(spec: str) -> dict:
    with tempfile.TemporaryDirectory() as rep:
        t = time.perf_counter()
        code = subprocess.run([sys.executable, "-m", "dlproof", "conform", spec, "--report", rep],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        return {"seconds": time.perf_counter() - t, "exit": code}


def measure(specs=None, repeats: int = 1) -> dict:
    """spec -> {"seconds": median wall of ``repeats`` runs, "runs": [...], "exit", "ok"}; unavailable targets
    are listed with the reason."""
    from dlproof.loader import TargetLoadError, load_target

    out = {"goal_s": GOAL_S, "repeats": repeats, "targets": {}, "unavailable": {}}
    for spec in specs or third_party_specs():
        try:
            load_target(spec)
        except TargetLoadError as exc:
            out["unavailable"][spec] = str(exc)
            continue
        runs = [_once(spec) for _ in range(repeats)]
        sec = statistics.median(r["seconds"] for r in runs)
        out["targets"][spec] = {"seconds": round(sec, 1), "runs_s": [round(r["seconds"], 1) for r in runs],
                                "exit": max(r["exit"] for r in runs), "ok": sec <= GOAL_S}
        print(f"{spec:24s} {sec:6.1f} s  exit {out['targets'][spec]['exit']}", file=sys.stderr, flush=True)
    return out


def render(res: dict) -> list:
    lines = [f"`dlproof conform TARGET` (ci profile), wall seconds of a fresh process, median of {res['repeats']} "
             f"run(s); goal: at most {res['goal_s']:.0f} s per target. Exit 0 means every property it provides passed.",
             "", "| target | seconds | exit | within goal |", "|---|---|---|---|"]
    for spec, r in res["targets"].items():
        lines.append(f"| `{spec}` | {r['seconds']:.1f} | {r['exit']} | {'yes' if r['ok'] else 'NO'} |")
    for spec, why in res["unavailable"].items():
        lines.append(f"| `{spec}` | unavailable: {why} | | |")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", nargs="*")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    res = measure(args.targets, args.repeats)
    dest = ROOT / "reports" / "latest" / "bench"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "conform_times.json").write_text(json.dumps(res, indent=1) + "\n")
    print("\n".join(render(res)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
