"""Benchmark: time to first verdict. `dlproof derive` and `dlproof conform numpy` in three derivation-cache
states, each figure the median of ``runs`` runs (wall, and CPU time of the process tree).

    python benchmarks/first_verdict.py [--runs 3] [--cold-conform-runs 1]

States, each run with a private empty ``DLPROOF_CACHE_DIR``:

- ``cold_ship``: a fresh install: no user cache, the proofs shipped in the package (dlproof/proofs/) are used
  after their key and SHA-256 check;
- ``warm``: the user cache holds this key's records and kernels;
- ``cold_noship``: no user cache and ``DLPROOF_SHIPPED_PROOFS=off``: SymPy derives and proves everything first.

The goal (issue 20): the first ``dlproof conform`` after a fresh install takes at most 1.5x a warm one
(`GOAL_FIRST_OVER_WARM`). Another script includes it as a section with ``measure(runs) -> dict`` and
``render(result) -> list`` (Markdown lines, no heading).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dlproof.derivations import cache

#: the cache states, in the order of the report's columns
STATES = {"cold_ship": "cold, shipped proofs", "warm": "warm user cache", "cold_noship": "cold, no shipped proofs"}
#: what is timed: name -> the dlproof arguments (conform's --report folder is added per run)
COMMANDS = {"derive": ["derive"], "conform": ["conform", "numpy", "--report"]}
GOAL_FIRST_OVER_WARM = 1.5


def _env(state: str, folder: Path) -> dict:
    env = dict(os.environ, DLPROOF_CACHE_DIR=str(folder))
    env.pop(cache.SHIPPED_ENV, None)
    if state == "warm":
        key = cache.cache_key()
        shutil.copy(cache.SHIPPED / cache.SHIPPED_FILES["records"], folder / f"records-{key}.json")
        shutil.copy(cache.SHIPPED / cache.SHIPPED_FILES["kernels"], folder / f"kernels-{key}.py")
    elif state == "cold_noship":
        env[cache.SHIPPED_ENV] = "off"
    return env


def _timed(cmd: list, env: dict, cwd: Path) -> tuple:
    """(wall s, CPU s of the finished children) of one run; SystemExit naming the command if it fails."""
    r0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def measure(runs: int = 3, cold_conform_runs: int = 1) -> dict:
    """{"rows": {"what/state": {runs, wall_median_s, cpu_median_s}}, "first_over_warm": {what: {wall, cpu}}}.
    The runs alternate over states, so a drift of the machine's load affects every state alike."""
    if not isinstance(runs, int) or runs < 1 or not isinstance(cold_conform_runs, int) or cold_conform_runs < 0:
        raise ValueError(f"first_verdict.measure: runs must be an int >= 1 and cold_conform_runs >= 0, got "
                         f"{runs!r}, {cold_conform_runs!r}")
    dlproof = [sys.executable, "-m", "dlproof"]
    samples: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for i in range(runs):
            for what, args in COMMANDS.items():
                for state in STATES:
                    if what == "conform" and state == "cold_noship" and i >= cold_conform_runs:
                        continue
                    folder = tmp / f"{what}-{state}-{i}"
                    folder.mkdir()
                    extra = [str(folder / "report")] if what == "conform" else []
                    samples.setdefault(f"{what}/{state}", []).append(_timed(dlproof + args + extra, _env(state, folder), tmp))
    rows = {k: {"runs": len(v), "wall_median_s": round(statistics.median(x[0] for x in v), 2),
                "cpu_median_s": round(statistics.median(x[1] for x in v), 2)} for k, v in samples.items()}
    ratio = {what: {m: round(rows[f"{what}/cold_ship"][f"{m}_median_s"] / rows[f"{what}/warm"][f"{m}_median_s"], 2)
                    for m in ("wall", "cpu")} for what in COMMANDS}
    return {"rows": rows, "first_over_warm": ratio, "goal_first_over_warm": GOAL_FIRST_OVER_WARM}


def render(res: dict) -> list:
    """Markdown lines: one row per command, one column per cache state, then the goal."""
    head = ["command"] + list(STATES.values())
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for what, args in COMMANDS.items():
        cells = []
        for state in STATES:
            r = res["rows"].get(f"{what}/{state}")
            cells.append("-" if r is None else f"{r['wall_median_s']:.2f} s ({r['cpu_median_s']:.2f} s CPU; {r['runs']} run(s))")
        lines.append(f"| `dlproof {' '.join(a for a in args if a != '--report')}` | " + " | ".join(cells) + " |")
    c = res["first_over_warm"]["conform"]
    ok = max(c.values()) <= res["goal_first_over_warm"]
    lines += ["", f"First `dlproof conform numpy` after a fresh install / warm: **{c['wall']:.2f}** by wall time, "
                  f"{c['cpu']:.2f} by CPU time (goal <= {res['goal_first_over_warm']}: {'met' if ok else '**not met**'}). "
                  "The shipped proofs are checked (key and SHA-256 of each file) before use; the cold state without "
                  "them is what a fresh install cost before they shipped."]
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cold-conform-runs", type=int, default=1, help="runs of conform cold without shipped proofs")
    args = ap.parse_args(argv)
    res = measure(args.runs, args.cold_conform_runs)
    print(json.dumps(res, indent=1))
    print("\n".join(render(res)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
