"""Zero false alarms, measured: the whole suite on correct targets under many Hypothesis seeds.

`dlproof sweep [TARGET ...] --seeds 20` runs, for every target (default: every available built-in except the
CUDA ones) and every seed, every property the target provides (`task.run_one`: cell properties in the
``thorough`` profile, the others in ``seeded``). A correct target must pass everything under every seed; any
failure is reported with its message and a repro file (``dlproof repro FILE`` replays it).

The (target, seed) tasks run on Dask distributed (`engine.py`): a local cluster of ``--jobs`` single-threaded
worker processes, or the cluster at ``--scheduler ADDRESS``; ``inline=True`` runs them in this process, one
after the other (no Dask needed; a crashing target ends the sweep). Each finished task is written at once
into OUT/sweep.json and OUT/sweep.md (`report.py`, atomic writes), with the fingerprint of the code, profiles
and libraries (`fingerprint.py`); ``resume=True`` keeps the rows of an earlier, interrupted report with the
same fingerprint and runs only the missing pairs (`resume.py`). `compare.compare` checks two reports'
verdicts exactly.

Package layout: task.py (one task), engine.py (Dask), report.py (JSON + Markdown), fingerprint.py,
resume.py, compare.py; this file ties them together (`sweep`).
"""
from __future__ import annotations

import time
from pathlib import Path

from .compare import compare
from .fingerprint import fingerprint as _fingerprint
from .report import ReportError, assemble, line, load, markdown, write
from .resume import SweepMismatch, plan
from .task import CELL_PROFILE, OTHER_PROFILE, default_specs, is_cell_property, needs_gpu, run_one, single_thread

__all__ = ["CELL_PROFILE", "OTHER_PROFILE", "ReportError", "assemble", "SweepMismatch", "compare", "default_specs",
           "is_cell_property", "load", "markdown", "needs_gpu", "run_one", "sweep", "write"]


def sweep(specs, seeds, jobs: int = 1, out: Path | None = None, progress=print, *, scheduler: str | None = None,
          resume: bool = False, inline: bool = False, known: dict | None = None) -> dict:
    """Every (target, seed) pair of ``specs`` x ``seeds`` -> the report {"runs": [...], "failures": n, "complete",
    "fingerprint", ...}. With ``out``, the report so far is rewritten after every finished pair (an interrupted
    sweep leaves what it measured, marked incomplete); ``known`` = ``{spec: {property ids}}`` the failures a
    published finding explains (`report.assemble`: they are not false alarms); with ``resume`` (needs ``out``), the finished pairs of
    OUT/sweep.json are kept when its fingerprint matches (else `SweepMismatch`) and only the others run."""
    specs, seeds = list(specs), list(seeds)
    if not specs or not seeds:
        raise ValueError(f"sweep needs at least one target and one seed, got {len(specs)} target(s), {len(seeds)} seed(s)")
    if len(set(specs)) != len(specs):
        raise ValueError(f"sweep: a target is listed twice in {specs}")
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"sweep: jobs must be an integer >= 1, got {jobs!r}")
    if inline and scheduler is not None:
        raise ValueError("sweep: inline (in this process) and a scheduler address exclude each other")
    if resume and out is None:
        raise ValueError("sweep: resume=True needs the report folder out")
    fp = _fingerprint(specs)
    tasks = [(s, k) for k in seeds for s in specs]
    previous = None
    if resume and (Path(out) / "sweep.json").exists():
        previous = load(Path(out) / "sweep.json")
    elif out is not None and (Path(out) / "sweep.json").exists():
        try:
            old = load(Path(out) / "sweep.json")
        except ReportError:
            old = None
        if old is not None and not old.get("complete", True):
            progress(f"replacing the incomplete report in {out} ({len(old['runs'])} runs; --resume would keep them)")
    runs, pending = plan(previous, fp, tasks)
    prior_wall = float(previous.get("wall_s", 0.0)) if previous and runs else 0.0
    engine = "in-process" if inline else (f"Dask at {scheduler}" if scheduler else f"Dask local cluster, {jobs} worker(s)")
    repro = str(out) if out is not None else None  # failures are saved under OUT/seed-<seed>/repro/ (task.py)
    t0 = time.perf_counter()

    def report() -> dict:
        return assemble(specs, seeds, jobs, runs, prior_wall + time.perf_counter() - t0, fp, engine, known)

    def on_row(row: dict) -> None:
        runs.append(row)
        progress(line(row))
        if out is not None:
            write(report(), out)

    if runs:
        progress(f"resuming: {len(runs)} of {len(tasks)} (target, seed) runs kept, {len(pending)} to run")
    if out is not None:
        write(report(), out)  # marked incomplete until every task has a row
    if pending and inline:
        single_thread()
        for s, k in pending:
            on_row(run_one(s, k, repro))
    elif pending:
        from . import engine as dask_engine

        with dask_engine.cluster(jobs, scheduler, gpu=any(needs_gpu(s) for s, _ in pending)) as client:
            dask_engine.run(client, pending, repro, on_row, fp,
                            tries=None if scheduler else dask_engine.ALLOWED_FAILURES + 1)
    return report()
