"""Zero false alarms, measured: the whole suite on correct targets under many Hypothesis seeds.

`dlproof sweep [TARGET ...] --seeds 20` runs, for every target (default: every available built-in except the
CUDA ones) and every seed, every property the target provides: the cell properties (those that call only
``*_cell`` capabilities) in the ``thorough`` profile (1000 examples), the others in ``seeded`` (100 examples,
as ci, but drawn from the seed instead of derandomized). A correct target must pass everything under every
seed; any failure is reported with its message and a repro file (``dlproof repro FILE`` replays it).
Tasks (target, seed) run in ``--jobs`` worker processes with one BLAS thread each.

Writes OUT/sweep.json and OUT/sweep.md (OUT defaults to reports/latest/sweep).
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

CELL_PROFILE, OTHER_PROFILE = "thorough", "seeded"


def default_specs() -> list:
    from dlproof.loader import BUILTINS, TargetLoadError, load_target

    out = []
    for spec in BUILTINS:
        if "cuda" in spec:
            continue
        try:
            load_target(spec)
        except TargetLoadError:
            continue
        out.append(spec)
    return out


def is_cell_property(prop) -> bool:
    return all(c.endswith("_cell") for c in prop.capabilities)


def run_one(spec: str, seed: int, repro_dir: str | None = None) -> dict:
    """Every property on ``spec`` under Hypothesis seed ``seed``: counts and failures."""
    from dlproof.loader import load_target
    from dlproof.properties import harness, results
    from dlproof.properties.registry import all_properties

    t0 = time.perf_counter()
    target = load_target(spec)
    counts = {v: 0 for v in results.VERDICTS}
    failures, examples = [], 0
    for prop in all_properties().values():
        profile = CELL_PROFILE if is_cell_property(prop) else OTHER_PROFILE
        row = harness.run(prop, target, spec, profile=profile, seed_value=seed, report_dir=repro_dir, raises=False)
        if row["verdict"] in results.FAILING:
            failures.append({"property": prop.id, "profile": profile, "verdict": row["verdict"],
                             "message": (row["message"] or "").splitlines()[0][:500],
                             "repro": (row.get("repro") or {}).get("command")})
        counts[row["verdict"]] += 1
        examples += row["examples"] or 0
    results.ROWS.clear()
    return {"target": spec, "seed": seed, "counts": counts, "examples": examples, "failures": failures,
            "seconds": round(time.perf_counter() - t0, 1)}


def _init_worker():
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[k] = "1"
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


def sweep(specs, seeds, jobs: int = 1, out: Path | None = None, progress=print) -> dict:
    """Every (target, seed) pair; -> {"runs": [...], "failures": n, ...}. With ``out``, the report so far is
    rewritten after every finished pair (an interrupted sweep leaves what it measured)."""
    repro = str(out) if out is not None else None  # the harness saves failures under OUT/repro/
    tasks = [(s, k) for k in seeds for s in specs]
    runs = []
    t0 = time.perf_counter()
    if jobs <= 1:
        _init_worker()
        for s, k in tasks:
            runs.append(run_one(s, k, repro))
            progress(_line(runs[-1]))
            if out is not None:
                write(_result(specs, seeds, jobs, runs, t0, len(tasks)), out)
    else:
        import multiprocessing as mp

        with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"), initializer=_init_worker) as ex:
            futs = {ex.submit(run_one, s, k, repro): (s, k) for s, k in tasks}
            for f in as_completed(futs):
                s, k = futs[f]
                try:
                    runs.append(f.result())
                except Exception as exc:  # noqa: BLE001 - a crashed task is a finding, the rest go on
                    runs.append({"target": s, "seed": k, "counts": {}, "examples": 0, "seconds": 0.0,
                                 "failures": [{"property": "(the run)", "profile": "-", "verdict": "error",
                                               "message": f"{type(exc).__name__}: {exc}", "repro": None}]})
                progress(_line(runs[-1]))
                if out is not None:
                    write(_result(specs, seeds, jobs, runs, t0, len(tasks)), out)
    return _result(specs, seeds, jobs, runs, t0, len(tasks))


def _result(specs, seeds, jobs, runs, t0, n_tasks) -> dict:
    runs = sorted(runs, key=lambda r: (specs.index(r["target"]), r["seed"]))
    return {"seeds": list(seeds), "targets": list(specs), "jobs": jobs, "cell_profile": CELL_PROFILE,
            "other_profile": OTHER_PROFILE, "runs": runs, "failures": sum(len(r["failures"]) for r in runs),
            "examples": sum(r["examples"] for r in runs), "wall_s": round(time.perf_counter() - t0, 1),
            "complete": len(runs) == n_tasks, "tasks": n_tasks}


def _line(r: dict) -> str:
    c = r["counts"]
    return (f"{r['target']:24s} seed {r['seed']:>3}: {c.get('pass', 0)} pass, {len(r['failures'])} fail, "
            f"{r['examples']} examples, {r['seconds']} s")


def markdown(res: dict) -> str:
    lines = ["# False-alarm sweep: correct targets under many seeds", "",
             f"{len(res['targets'])} targets x {len(res['seeds'])} seeds ({res['seeds'][0]}..{res['seeds'][-1]}); cell "
             f"properties in the `{res['cell_profile']}` profile, the others in `{res['other_profile']}`; "
             f"{res['examples']} examples in all, {res['wall_s']} s wall with {res['jobs']} job(s). "
             f"**{res['failures']} failure(s).**"
             + ("" if res.get("complete", True) else f" Incomplete: {len(res['runs'])} of {res['tasks']} (target, seed) "
                                                     "runs finished."), "",
             "| target | seeds | properties passed per seed | examples | failures | seconds |", "|---|---|---|---|---|---|"]
    for spec in res["targets"]:
        rs = [r for r in res["runs"] if r["target"] == spec]
        passed = sorted({r["counts"].get("pass", 0) for r in rs})
        lines.append(f"| `{spec}` | {len(rs)} | {', '.join(map(str, passed))} | {sum(r['examples'] for r in rs)} | "
                     f"{sum(len(r['failures']) for r in rs)} | {sum(r['seconds'] for r in rs):.0f} |")
    fails = [(r, f) for r in res["runs"] for f in r["failures"]]
    if fails:
        lines += ["", "## Failures", ""]
        lines += [f"- `{r['target']}` seed {r['seed']} `{f['property']}` ({f['profile']}): {f['message']}"
                  + (f" — `{f['repro']}`" if f["repro"] else "") for r, f in fails]
    return "\n".join(lines) + "\n"


def write(res: dict, out: Path) -> None:
    from dlproof.atomic import write_atomic, write_json

    write_json(Path(out) / "sweep.json", res, indent=1)
    write_atomic(Path(out) / "sweep.md", markdown(res))
