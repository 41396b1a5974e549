"""One sweep task: every property on one target under one Hypothesis seed (`run_one`), and what a task needs.

The cell properties (those that call only ``*_cell`` capabilities) run in the ``thorough`` profile (1000
examples), the others in ``seeded`` (100 examples, as ci, drawn from the seed instead of derandomized). A task
runs with one BLAS/OpenMP/torch thread (`single_thread`), so W tasks use W cores. A target whose spec names
``cuda`` needs a GPU (`needs_gpu`): on Dask it runs only on a worker that declares the resource ``GPU``.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

CELL_PROFILE, OTHER_PROFILE = "thorough", "seeded"
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def default_specs() -> list:
    """Every built-in that loads here, except the CUDA ones."""
    from dlproof.loader import BUILTINS, TargetLoadError, load_target

    out = []
    for spec in BUILTINS:
        if needs_gpu(spec):
            continue
        try:
            load_target(spec)
        except TargetLoadError:
            continue
        out.append(spec)
    return out


def needs_gpu(spec: str) -> bool:
    """A target runs on a CUDA device when its spec names ``cuda`` (the built-ins ``torch.cuda``, ``torch.nn.cuda``...)."""
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"a target spec must be a non-empty string, got {spec!r}")
    return "cuda" in spec


def is_cell_property(prop) -> bool:
    return all(c.endswith("_cell") for c in prop.capabilities)


def single_thread() -> None:
    """One BLAS/OpenMP thread and one torch thread in this process (set before a task runs)."""
    for k in THREAD_VARS:
        os.environ[k] = "1"
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


def run_one(spec: str, seed: int, repro_dir: str | None = None) -> dict:
    """Every property on ``spec`` under Hypothesis seed ``seed`` -> {"target", "seed", "counts" (verdict -> number
    of properties), "examples", "failures" (property, profile, verdict, first line of the message, repro command),
    "seconds"}. Failures save a repro file under ``repro_dir``/seed-<seed>/repro/: one folder per seed, so two seeds
    of a target that fail the same property keep their own examples (and each row's repro command its own file)."""
    from dlproof.loader import load_target
    from dlproof.properties import harness, results
    from dlproof.properties.registry import all_properties

    t0 = time.perf_counter()
    target = load_target(spec)
    counts = {v: 0 for v in results.VERDICTS}
    failures, examples = [], 0
    for prop in all_properties().values():
        profile = CELL_PROFILE if is_cell_property(prop) else OTHER_PROFILE
        row = harness.run(prop, target, spec, profile=profile, seed_value=seed, raises=False,
                          report_dir=None if repro_dir is None else str(Path(repro_dir) / f"seed-{seed}"))
        if row["verdict"] in results.FAILING:
            failures.append({"property": prop.id, "profile": profile, "verdict": row["verdict"],
                             "message": (row["message"] or "").splitlines()[0][:500],
                             "repro": (row.get("repro") or {}).get("command")})
        counts[row["verdict"]] += 1
        examples += row["examples"] or 0
    results.ROWS.clear()
    return {"target": spec, "seed": seed, "counts": counts, "examples": examples, "failures": failures,
            "seconds": round(time.perf_counter() - t0, 1)}


def error_row(spec: str, seed: int, message: str) -> dict:
    """The row of a task that gave no result (it raised, or killed its worker): one ``error`` failure, property
    ``(the run)``."""
    return {"target": spec, "seed": seed, "counts": {}, "examples": 0, "seconds": 0.0,
            "failures": [{"property": "(the run)", "profile": "-", "verdict": "error", "message": message,
                          "repro": None}]}
