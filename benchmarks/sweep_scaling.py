"""Benchmark: `dlproof sweep` throughput on Dask with 1 and 2 local workers, and a model of the full sweep.

    python benchmarks/sweep_scaling.py [--targets SPEC ...] [--seeds 4] [--workers 1 2]
                                       [--from SWEEP.json ...] [--model-seeds 20] [--model-workers 1 2 4 ...]

1. Throughput: the same small batch (targets x seeds) is swept once per worker count, in this one process, on
   a fresh local cluster each time; wall time includes the cluster's start and the workers' imports (what a
   user waits for). Reported: tasks/hour, examples/s, speed-up over 1 worker, and whether the verdicts and
   example counts of every run equal those of the 1-worker run (`dlproof.sweep.compare`).
2. Model: the full sweep (every CPU built-in x ``--model-seeds`` seeds) as independent tasks whose seconds
   are each target's mean task seconds, taken from sweep reports (``--from``: e.g. a one-seed sweep of every
   built-in, ``dlproof sweep --seeds 1``) and from the batch of part 1. Wall time with W workers is the
   makespan of list scheduling, longest task first onto the least-loaded worker (Graham's LPT: within 4/3 of
   the optimum), plus the measured start-up of the 1-worker run; beside it the lower bound
   max(total / W, longest task). Built-ins with no measured task are listed, not guessed.

Results go to stdout and reports/latest/bench/sweep_scaling.json (an ignored run folder). Timings depend on
the machine's other load: compare numbers of one run only.
"""
from __future__ import annotations

import argparse
import heapq
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BATCH = ("numpy.clip_eps",)  # a built-in whose task takes seconds: the batch measures the engine, not a target


def throughput(specs, seeds, workers) -> dict:
    """Sweep ``specs`` x ``seeds`` once per worker count -> {"runs": {W: {...}}, "same_verdicts": bool}."""
    from dlproof import sweep

    if not workers or any(w < 1 for w in workers):
        raise ValueError(f"worker counts must be >= 1, got {workers}")
    runs, reports = {}, {}
    for w in workers:
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            res = sweep.sweep(list(specs), list(seeds), jobs=w, out=Path(out), progress=lambda line: None)
            wall = time.perf_counter() - t0
        n, busy = len(res["runs"]), sum(r["seconds"] for r in res["runs"])
        runs[w] = {"wall_s": round(wall, 1), "tasks": n, "examples": res["examples"], "task_s_sum": round(busy, 1),
                   "tasks_per_hour": round(3600 * n / wall, 1), "examples_per_s": round(res["examples"] / wall, 1),
                   "failures": res["failures"]}
        reports[w] = res
        print(f"{w} worker(s): {n} tasks in {wall:.1f} s ({runs[w]['tasks_per_hour']} tasks/h, "
              f"{runs[w]['examples_per_s']} examples/s)", file=sys.stderr, flush=True)
    base = workers[0]
    for w in workers:
        runs[w]["speedup"] = round(runs[base]["wall_s"] / runs[w]["wall_s"], 2)
    same = all(sweep.compare(reports[base], reports[w]) == [] for w in workers)
    startup = runs[base]["wall_s"] - runs[base]["task_s_sum"] if base == 1 else None
    return {"targets": list(specs), "seeds": list(seeds), "runs": runs, "same_verdicts": same,
            "startup_s": None if startup is None else round(max(startup, 0.0), 1), "reports": reports}


def task_seconds(reports) -> dict:
    """spec -> [seconds of each of its finished tasks] over sweep reports (error rows, which ran nothing, left out)."""
    out: dict = {}
    for res in reports:
        for r in res["runs"]:
            if r["examples"] > 0:
                out.setdefault(r["target"], []).append(float(r["seconds"]))
    return out


def lpt_makespan(durations, workers: int) -> float:
    """Wall time of ``durations`` (independent tasks) on ``workers`` identical workers under list scheduling,
    longest first onto the least-loaded worker."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if any(d < 0 for d in durations):
        raise ValueError("task durations must be >= 0")
    loads = [0.0] * workers
    for d in sorted(durations, reverse=True):
        heapq.heapreplace(loads, loads[0] + d)
    return max(loads)


def model(seconds: dict, specs, seeds: int, workers, startup_s: float) -> dict:
    """The full sweep of ``specs`` x ``seeds`` seeds, each task the target's mean measured seconds."""
    measured = [s for s in specs if seconds.get(s)]
    per = {s: statistics.mean(seconds[s]) for s in measured}
    tasks = [per[s] for s in measured for _ in range(seeds)]
    total = sum(tasks)
    rows = {}
    for w in workers if tasks else ():
        span = lpt_makespan(tasks, w) + startup_s
        rows[w] = {"hours": round(span / 3600, 2), "lower_bound_hours": round((max(total / w, max(tasks)) + startup_s)
                                                                             / 3600, 2),
                   "efficiency": round((total + startup_s) / (w * span), 2)}
    return {"seeds": seeds, "targets": measured, "unmeasured": [s for s in specs if s not in per],
            "task_s": {s: round(v, 1) for s, v in per.items()}, "tasks": len(tasks), "total_task_hours":
            round(total / 3600, 2), "longest_task_s": round(max(tasks), 1) if tasks else None,
            "startup_s": startup_s, "workers": rows}


def render(res: dict) -> list:
    t = res["throughput"]
    lines = [f"Batch {', '.join(f'`{s}`' for s in t['targets'])} x seeds {t['seeds'][0]}..{t['seeds'][-1]} "
             f"({len(t['targets']) * len(t['seeds'])} tasks) on a fresh local Dask cluster per row; verdicts and "
             f"example counts identical across rows: {'yes' if t['same_verdicts'] else 'NO'}.", "",
             "| workers | wall s | tasks/hour | examples/s | speed-up |", "|---|---|---|---|---|"]
    for w, r in t["runs"].items():
        lines.append(f"| {w} | {r['wall_s']} | {r['tasks_per_hour']} | {r['examples_per_s']} | {r['speedup']} |")
    m = res["model"]
    lines += ["", f"Model: every measured CPU built-in ({len(m['targets'])}) x {m['seeds']} seeds = {m['tasks']} tasks, "
                  f"{m['total_task_hours']} task-hours, longest task {m['longest_task_s']} s, start-up "
                  f"{m['startup_s']} s" + (f"; unmeasured: {', '.join(m['unmeasured'])}" if m["unmeasured"] else "")
              + ".", "", "| workers | hours (LPT) | lower bound | efficiency |", "|---|---|---|---|"]
    for w, r in m["workers"].items():
        lines.append(f"| {w} | {r['hours']} | {r['lower_bound_hours']} | {r['efficiency']} |")
    if res.get("check"):
        c = res["check"]
        lines += ["", f"Check: the finished sweep of {', '.join(res['sources'])} ({c['tasks']} tasks on {c['jobs']} "
                      f"worker(s)) took {c['wall_hours']} h of wall time (its runs added up, when it resumed); the "
                      f"model gives {c['model_hours']} h."]
    return lines


#: the committed full sweep (every CPU built-in x 20 seeds): the model's default source of per-task seconds
FULL_SWEEP = ROOT / "reports" / "sweep" / "sweep.json"


def measure(specs=BATCH, seeds: int = 4, workers=(1, 2), sources=(), model_seeds: int = 20,
            model_workers=(1, 2, 4, 8, 16, 32, 64)) -> dict:
    """Part 1 on ``specs`` x seeds 1..``seeds``, then part 2 from ``sources`` (sweep.json paths) and the batch."""
    from dlproof import sweep

    t = throughput(specs, range(1, seeds + 1), list(workers))
    loaded = [sweep.load(p) for p in sources]
    seconds = task_seconds(loaded + [t["reports"][list(workers)[0]]])
    m = model(seconds, sweep.default_specs(), model_seeds, list(model_workers), t["startup_s"] or 0.0)
    t.pop("reports")
    res = {"throughput": t, "model": m, "sources": [Path(p).name for p in sources],
           "note": "measured on a shared machine: compare rows of one run only"}
    full = [r for r in loaded if r.get("complete") and r.get("jobs") in m["workers"]]
    if full:  # the model checked against a finished sweep's own wall time at its worker count
        r = full[0]
        res["check"] = {"jobs": r["jobs"], "tasks": r["tasks"], "wall_hours": round(r["wall_s"] / 3600, 2),
                        "model_hours": m["workers"][r["jobs"]]["hours"]}
    return res


def main(argv=None) -> int:
    from dlproof.atomic import write_json

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--targets", nargs="+", default=list(BATCH))
    ap.add_argument("--seeds", type=int, default=4, help="seeds of the batch (default 4)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--from", dest="sources", nargs="*", default=[], help="sweep.json files with per-task seconds "
                    "(e.g. reports/sweep/sweep.json, the committed full sweep)")
    ap.add_argument("--model-seeds", type=int, default=20)
    ap.add_argument("--model-workers", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64])
    args = ap.parse_args(argv)
    if args.seeds < 1 or args.model_seeds < 1:
        ap.error("--seeds and --model-seeds must be >= 1")
    res = measure(args.targets, args.seeds, args.workers, args.sources, args.model_seeds, args.model_workers)
    write_json(ROOT / "reports" / "latest" / "bench" / "sweep_scaling.json", res, indent=1)
    print("\n".join(render(res)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
