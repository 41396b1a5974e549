"""Run one property on one target with Hypothesis and record its verdict.

Verdicts: pass | fail (PropertyFailure) | error (the target raised) | not provided (the target lacks
a capability). A failure keeps Hypothesis' shrunk example as an ``.npz`` beside the report and
prints a one-line repro.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, Phase, given, seed, settings

from . import results
from .assertions import Checker, PropertyFailure, TargetRaised
from .registry import Property

PROFILES = {
    "dev": dict(max_examples=20, derandomize=False),
    "ci": dict(max_examples=100, derandomize=True),
    "thorough": dict(max_examples=1000, derandomize=False),
    "seeded": dict(max_examples=100, derandomize=False),  # ci's count, drawn from a seed (dlproof sweep)
}
DEFAULT_PROFILE = "ci"
#: every phase but ``explain``: after a failure is found and shrunk, Hypothesis' explain phase re-runs the
#: property many more times only to annotate the printed example ("# or any other generated value"); it
#: changes neither the verdict nor the shrunk example (the repro .npz and the message), and cost ~10x the
#: rest of a failing run (tests/test_power.py: 8 s of 9 s)
PHASES = tuple(p for p in Phase if p is not Phase.explain)
_SHARED: dict = {}  # (property id, shared key, profile, seed) -> result row of a target-independent property


def profile_settings(profile: str) -> dict:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known: {sorted(PROFILES)}")
    # report_multiple_bugs=False: when a target fails in two distinct ways (e.g. it raises on one example and
    # returns a wrong value on another), Hypothesis reports the one it shrank last instead of an ExceptionGroup,
    # so the verdict is always one fail or error with one message and one repro
    return dict(PROFILES[profile], deadline=None, database=None, print_blob=True, phases=PHASES,
                report_multiple_bugs=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s)


def save_repro(report_dir: Path, spec: str, prop: Property, problem) -> Path:
    d = Path(report_dir) / "repro"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{_slug(spec)}__{_slug(prop.id)}.npz"
    meta = json.dumps({"target": spec, "property": prop.id, "scalars": problem.scalars})
    np.savez(path, __meta__=np.array(meta), **problem.arrays)
    return path


def run(prop: Property, target, spec: str, *, profile: str = DEFAULT_PROFILE, report_dir=None,
        seed_value=None) -> dict:
    """Run ``prop`` on ``target`` and return (and record) its result row; raise on fail/error.

    ``seed_value`` fixes Hypothesis' seed for the randomized profiles (dev, thorough); ci is derandomized.
    """
    row = {"target": spec, "target_name": target.name, "property": prop.id, "title": prop.title,
           "derivations": list(prop.derivations), "examples": 0, "worst_error_ratio": None,
           "message": None, "repro": None}
    if not prop.provided_by(target) or not prop.applies(target):
        missing = [c for c in prop.capabilities if not target.provides(c)]
        row.update(verdict="not provided",
                   message=f"target lacks {missing}" if missing else "not applicable under the declared conventions")
        results.add(row)
        return row
    shared_key = (prop.id, prop.shared(target), profile, seed_value) if prop.shared is not None else None
    if shared_key in _SHARED:  # target-independent and already decided in this session
        cached = _SHARED[shared_key]
        row.update({k: cached[k] for k in ("verdict", "examples", "worst_error_ratio", "message", "repro")})
        results.add(row)
        if row["verdict"] != "pass":
            raise PropertyFailure(row["message"])
        return row
    stats = {"n": 0, "worst": 0.0, "last_failing": None}

    conf = profile_settings(profile)
    if prop.max_examples is not None and profile != "thorough":
        conf["max_examples"] = min(conf["max_examples"], prop.max_examples)

    @settings(**conf)
    @given(problem=prop.strategy(target))
    def inner(problem):
        chk = Checker(target, prop.id)
        try:
            prop.check(target, problem, chk)
        except (PropertyFailure, TargetRaised):
            stats["last_failing"] = problem
            raise
        stats["n"] += 1
        stats["worst"] = max(stats["worst"], chk.worst)

    if seed_value is not None and not PROFILES[profile]["derandomize"]:
        inner = seed(seed_value)(inner)
    try:
        inner()
    except (PropertyFailure, TargetRaised) as exc:
        verdict = "error" if isinstance(exc, TargetRaised) else "fail"
        problem = stats["last_failing"]
        repro = None
        if report_dir is not None and problem is not None:
            path = save_repro(Path(report_dir), spec, prop, problem)
            repro = {"npz": str(path), "command": f"python -m dlproof repro {path}"}
        row.update(verdict=verdict, examples=stats["n"] + 1, worst_error_ratio=stats["worst"] or None,
                   message=f"{exc}" + (f" | example: {problem.describe()}" if problem is not None else ""),
                   repro=repro)
        results.add(row)
        if shared_key is not None:
            _SHARED[shared_key] = dict(row)
        raise
    row.update(verdict="pass", examples=stats["n"], worst_error_ratio=stats["worst"])
    results.add(row)
    if shared_key is not None:
        _SHARED[shared_key] = dict(row)
    return row


def replay(npz_path) -> dict:
    """Re-run the saved example of a failure once: ``python -m dlproof repro FILE``."""
    from dlproof.loader import load_target

    from .registry import all_properties
    from .strategies import Problem

    data = np.load(npz_path, allow_pickle=False)
    meta = json.loads(str(data["__meta__"]))
    problem = Problem({k: data[k] for k in data.files if k != "__meta__"}, meta["scalars"])
    target = load_target(meta["target"])
    prop = all_properties()[meta["property"]]
    chk = Checker(target, prop.id)
    try:
        prop.check(target, problem, chk)
    except (PropertyFailure, TargetRaised) as exc:
        return {"verdict": "error" if isinstance(exc, TargetRaised) else "fail", "message": str(exc),
                "target": meta["target"], "property": prop.id}
    return {"verdict": "pass", "message": None, "target": meta["target"], "property": prop.id,
            "worst_error_ratio": chk.worst}

