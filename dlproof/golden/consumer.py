"""Reading and comparing golden vectors (for Python consumers and dlproof's own tests): `load_cases(dir)`,
`call_case(case, fn, dtype)`, `compare(case, got, dtype)`, `worst_ratio`, `check_target(case, target)`.

A case passes when every output satisfies ``|got - want| <= atol + rtol * |want|`` element-wise, with the
case's suggested tolerance for the consumer's dtype.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable

import numpy as np

from .tree import build, flatten


def load_cases(out_dir) -> list[dict]:
    """Every case of an export: its JSON metadata plus ``"arrays"`` loaded from the .npz."""
    out = Path(out_dir)
    manifest = json.loads((out / "manifest.json").read_text())
    result = []
    for e in manifest["cases"]:
        meta = json.loads((out / e["files"]["json"]["path"]).read_text())
        with np.load(out / e["files"]["npz"]["path"], allow_pickle=False) as z:
            meta["arrays"] = {k: z[k] for k in z.files}
        result.append(meta)
    return result


def call_case(case: dict, fn: Callable, dtype: str = "float64") -> dict:
    """Call ``fn`` (a capability) on the case's inputs cast to ``dtype``; its result as {output name: array}."""
    args = [build(node, case["arrays"], dtype) for node in case["call"]]
    return flatten(case["returns"], fn(*args))


def compare(case: dict, got: dict, dtype: str = "float64") -> list[str]:
    """Mismatches of ``got`` (from `call_case`) against the case under its suggested tolerance; [] = pass."""
    tol = case["tolerance"][dtype]
    problems = []
    for name, shape in case["outputs"].items():
        if name not in got:
            if name not in case.get("optional_outputs", []):
                problems.append(f"{case['id']}: {name} missing")
            continue
        want = np.asarray(case["arrays"][name], np.float64)
        g = np.asarray(got[name], np.float64)
        if g.shape != tuple(shape):
            problems.append(f"{case['id']}: {name} has shape {g.shape}, expected {tuple(shape)}")
            continue
        err = np.abs(g - want)
        allowed = tol["atol"] + tol["rtol"] * np.abs(want)
        bad = ~(err <= allowed)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            problems.append(f"{case['id']}: {name}{list(idx)} = {float(g[idx])!r}, expected {float(want[idx])!r} "
                            f"(|diff| {err[idx]:.3g} > {allowed[idx]:.3g}; {int(bad.sum())} of {bad.size} entries off)")
    return problems


def worst_ratio(case: dict, got: dict, dtype: str = "float64") -> float:
    """max over outputs of |got - want| / (atol + rtol |want|): < 1 passes."""
    tol = case["tolerance"][dtype]
    worst = 0.0
    for name in case["outputs"]:
        if name in got:
            want = np.asarray(case["arrays"][name], np.float64)
            err = np.abs(np.asarray(got[name], np.float64) - want)
            allowed = tol["atol"] + tol["rtol"] * np.abs(want)
            with np.errstate(divide="ignore", invalid="ignore"):
                r = np.where(allowed > 0, err / np.where(allowed > 0, allowed, 1), np.where(err > 0, math.inf, 0))
            worst = max(worst, float(np.max(r)) if r.size else 0.0)
    return worst


def check_target(case: dict, target) -> list[str]:
    """`compare` for a `dlproof.target.Target`: calls its capability in the target's dtype."""
    fn = getattr(target, case["capability"])
    if fn is None:
        return [f"{case['id']}: target {target.name!r} does not provide {case['capability']}"]
    return compare(case, call_case(case, fn, target.dtype), target.dtype)
