"""Run one property on one target with Hypothesis and record its verdict.

Verdicts: pass | fail (PropertyFailure) | error (the target raised; or a failure Hypothesis could not
reproduce) | internal-error (dlproof's own bug) | not provided (the target lacks a capability). A failure keeps
Hypothesis' shrunk example as an ``.npz`` in the report's (run folder's) ``repro/`` and a one-line repro command.
"""
from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis.errors import Flaky

from . import assertions, restrictions, results, shapes
from .assertions import Checker, PropertyFailure, TargetRaised
from .registry import Property
from .where import dlproof_frame

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
#: rest of a failing run (tests/suite/test_power.py: 8 s of 9 s)
PHASES = tuple(p for p in Phase if p is not Phase.explain)
_SHARED: dict = {}  # (property id, shared key, profile, seed) -> result row of a target-independent property


def profile_settings(profile: str) -> dict:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known: {sorted(PROFILES)}")
    # report_multiple_bugs=False: when a target fails in two distinct ways (e.g. it raises on one example and
    # returns a wrong value on another), Hypothesis reports the one it shrank last instead of an ExceptionGroup,
    # so the verdict is always one fail or error with one message and one repro
    # verbosity quiet: Hypothesis prints nothing (no "Falsifying example" blocks on the terminal); the row's
    # message carries the shrunk example and its repro file replays it
    return dict(PROFILES[profile], deadline=None, database=None, print_blob=False, phases=PHASES,
                report_multiple_bugs=False, verbosity=Verbosity.quiet,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s)


def save_repro(report_dir: Path, spec: str, prop: Property, problem) -> Path:
    d = Path(report_dir) / "repro"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{_slug(spec)}__{_slug(prop.id)}.npz"
    meta = json.dumps({"target": spec, "property": prop.id, "scalars": problem.scalars})
    # .npy has no bfloat16: such arrays are stored as float32 (exact), and the replay casts them back exactly
    arrays = {k: a.astype(np.float32) if getattr(a, "dtype", None) == np.dtype("bfloat16") else a
              for k, a in problem.arrays.items()}
    np.savez(path, __meta__=np.array(meta), **arrays)
    return path


class InternalError(Exception):
    """Raised by `run` (with ``raises=True``) for an ``internal-error`` row: dlproof's own bug, not the target's."""


_FLAKY_HINT = ("Hypothesis could not reproduce this failure on replay (not reproducible: the target's result "
               "depends on state outside its arguments, on timing, or on memory)")


def repro_command(path, spec: str) -> str:
    """The shell command that replays a saved example: a target that is not a built-in is named with
    ``--target`` (``dlproof repro`` never imports a target named inside a file unless told to)."""
    import shlex

    from dlproof.loader import BUILTINS

    cmd = f"python -m dlproof repro {shlex.quote(str(path))}"
    return cmd if spec in BUILTINS else f"{cmd} --target {shlex.quote(spec)}"


def internal_message(prop_id: str, exc: BaseException) -> str:
    """The message of an ``internal-error`` row: names dlproof as the culprit, never the target."""
    where = dlproof_frame(exc)
    text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    return (f"dlproof bug in property {prop_id}: {type(exc).__name__}" + (f": {text}" if text else "")
            + (f" at {where}" if where else "") + "; this is not the target's fault, please report it")


def _flaky_message(exc: BaseException) -> str:
    inner = [e for e in getattr(exc, "exceptions", ()) if isinstance(e, BaseException)]
    first = next((str(e).splitlines()[0] for e in inner if str(e).strip()), "")
    return _FLAKY_HINT + (f"; it first failed with: {first}" if first else "")


def run(prop: Property, target, spec: str, *, profile: str = DEFAULT_PROFILE, report_dir=None,
        seed_value=None, raises: bool = True) -> dict:
    """Run ``prop`` on ``target``, record its result row (`results.add`) and return it.

    Exactly one row, whatever happens: PropertyFailure -> fail; TargetRaised -> error; Hypothesis' Flaky ->
    error ("not reproducible"); any other exception (dlproof's own bug) -> internal-error; KeyboardInterrupt
    propagates (the runner marks the run interrupted). With ``raises`` (the default, for pytest) a fail or
    error re-raises its exception after recording the row, an internal-error raises `InternalError`.

    Warnings policy (the same from every folder): inside the run every warning filter is "ignore", so a
    project's ``filterwarnings = error`` never changes a verdict; `assertions.call` records the target's own
    warnings, which go into ``row["warnings"]`` (``assertions.WARNINGS_AS_ERRORS`` makes them errors).
    ``seed_value`` fixes Hypothesis' seed for the randomized profiles (dev, thorough); ci is derandomized.
    """
    row = results.new_row(prop, spec, target.name)
    exc_out = None
    assertions.drain_warnings()  # what an earlier run left is not this row's
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                row["restrictions"] = list(restrictions.relevant(target, prop.capabilities))
                exc_out = _run(row, prop, target, spec, profile, report_dir, seed_value)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: BLE001 - dlproof's own bug: a row that says so
                row.update(verdict="internal-error", message=internal_message(prop.id, exc))
                exc_out = InternalError(row["message"])
                exc_out.__cause__ = exc
    finally:
        row["warnings"] = list(assertions.drain_warnings())
    results.add(row)
    if raises and exc_out is not None:
        raise exc_out
    return row


def _not_provided_message(prop: Property, target) -> str:
    """Why a property is "not provided": the capabilities the target left out, with its reasons (the ``left_out``
    convention), and those it lacks; or that the declared conventions exclude the property's whole domain."""
    missing = [c for c in prop.capabilities if not target.provides(c)]
    if not missing:
        return "not applicable under the declared conventions"
    left = {c: target.left_out(c) for c in missing if target.left_out(c)}
    lacks = [c for c in missing if c not in left]
    parts = ([f"left out by the target: {'; '.join(f'{c} ({why})' for c, why in left.items())}"] if left else [])
    return "; ".join(parts + ([f"target lacks {lacks}"] if lacks else []))


def _run(row: dict, prop: Property, target, spec: str, profile, report_dir, seed_value):
    """Fill ``row``; return the exception to re-raise for a fail/error (None for pass / not provided)."""
    if not prop.provided_by(target) or not prop.applies(target):
        row.update(verdict="not provided", message=_not_provided_message(prop, target))
        return None
    if not prop.checks(target):  # only the dtype is left: the property's error model does not cover it
        row.update(verdict="not provided",
                   message=f"not checked at {target.dtype}: this property's error model is written for "
                           f"{', '.join(prop.precisions)} only")
        return None
    shared_key = (prop.id, prop.shared(target), profile, seed_value) if prop.shared is not None else None
    if shared_key in _SHARED:  # target-independent and already decided in this session
        cached = _SHARED[shared_key]
        row.update({k: cached[k] for k in _KEPT})
        if row["verdict"] in ("fail", "error"):
            return PropertyFailure(row["message"], part=row["part"], likely_bug=row["likely_bug"])
        if row["verdict"] == "internal-error":
            return InternalError(row["message"])
        return None
    stats = {"n": 0, "worst": 0.0, "last_failing": None, "failing_worst": None}

    conf = profile_settings(profile)
    if prop.max_examples is not None and profile != "thorough":
        conf["max_examples"] = min(conf["max_examples"], prop.max_examples)

    # the examples are drawn under the target's `shapes` convention (prop itself when it draws freely). The text
    # of `inner` below, decorators included, is what Hypothesis hashes into the derandomized (ci) profile's seed:
    # editing it changes every ci draw, so the bounding happens here, outside it
    prop = shapes.drawing(prop, target, seed_value)

    @settings(**conf)
    @given(problem=prop.strategy(target))
    def inner(problem):
        chk = Checker(target, prop.id)
        try:
            prop.check(target, problem, chk)
        except (PropertyFailure, TargetRaised):
            # the last failing example is the shrunk one Hypothesis replays last: its check's ratio is the row's
            stats["last_failing"], stats["failing_worst"] = problem, chk.worst
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
        note = ""
        if report_dir is not None and problem is not None:
            try:
                path = save_repro(Path(report_dir), spec, prop, problem)
                repro = {"npz": str(path), "command": repro_command(path, spec)}
            except OSError as err:  # the verdict stands without its repro file
                note = f" (the repro file could not be written: {err.strerror or err})"
        hint = restrictions.suggestion(target, exc.capability) if isinstance(exc, TargetRaised) else ""
        row.update(verdict=verdict, examples=stats["n"] + 1, worst_error_ratio=stats["failing_worst"] or None,
                   message=f"{exc}{hint}" + (f" | example: {problem.describe()}" if problem is not None else "") + note,
                   repro=repro, part=getattr(exc, "part", None), likely_bug=getattr(exc, "likely_bug", None))
        if shared_key is not None:
            _SHARED[shared_key] = dict(row)
        return exc
    except Flaky as exc:
        row.update(verdict="error", examples=stats["n"] + 1, message=_flaky_message(exc))
        return PropertyFailure(row["message"])
    row.update(verdict="pass", examples=stats["n"], worst_error_ratio=stats["worst"])
    if shared_key is not None:
        _SHARED[shared_key] = dict(row)
    return None


_KEPT = ("verdict", "examples", "worst_error_ratio", "message", "repro", "part", "likely_bug")

