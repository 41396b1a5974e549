"""What a sweep's verdicts depend on, hashed: results of two runs are mixed only when their fingerprints agree.

`fingerprint(specs)` -> {
  "dlproof": SHA-256 of every Python source file of the installed dlproof package (relative path + bytes; data
             files are left out: the derivation cache may be written into the package, and it follows the sources;
             pytest modules, test_*.py, are left out: pytest runs them, a sweep never imports them),
  "profiles": the Hypothesis settings of the two sweep profiles (`task.CELL_PROFILE`, `task.OTHER_PROFILE`),
  "python": major.minor.micro, "libraries": {distribution: version or None} for those that change results,
  "targets": {spec: SHA-256 of the module file of a ``module:attr`` spec} (built-ins are dlproof's source),
  "digest": SHA-256 of all of it but "targets"}.
Library versions come from the installed distributions' metadata (nothing is imported to read them). The
dask/distributed versions are left out: the engine schedules tasks and changes no verdict.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import platform
from importlib import metadata
from pathlib import Path

LIBRARIES = ("hypothesis", "numpy", "sympy", "mpmath", "python-flint", "ml-dtypes", "torch", "jax", "jaxlib", "flax",
             "optax", "keras", "onnx", "onnxruntime")
_PACKAGE = Path(__file__).resolve().parents[1]  # dlproof/


def source_hash(root: Path = _PACKAGE) -> str:
    """SHA-256 over the package's .py files but its pytest modules (test_*.py), in sorted relative-path order
    (__pycache__ excluded)."""
    h = hashlib.sha256()
    sources = (q for q in Path(root).rglob("*.py") if "__pycache__" not in q.parts and not q.name.startswith("test_"))
    for p in sorted(sources):
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _version(dist: str):
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _module_hash(spec: str):
    from dlproof.loader import BUILTINS

    if spec in BUILTINS or ":" not in spec:
        return None
    module = spec.split(":", 1)[0]
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if found is None or not found.origin or not Path(found.origin).is_file():
        return None
    return hashlib.sha256(Path(found.origin).read_bytes()).hexdigest()


@functools.lru_cache(maxsize=1)
def _core() -> tuple:
    from dlproof.properties.harness import PROFILES

    from .task import CELL_PROFILE, OTHER_PROFILE

    core = {"dlproof": source_hash(), "python": platform.python_version(),
            "profiles": {p: PROFILES[p] for p in (CELL_PROFILE, OTHER_PROFILE)},
            "libraries": {d: _version(d) for d in LIBRARIES}}
    return json.dumps(core, sort_keys=True), hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()


def digest() -> str:
    """The digest of this process's code, profiles and libraries (computed once per process)."""
    return _core()[1]


def fingerprint(specs=()) -> dict:
    core, dig = _core()
    return {**json.loads(core), "targets": {s: _module_hash(s) for s in specs}, "digest": dig}


def differences(old: dict, new: dict) -> list:
    """What differs between two fingerprints, as readable strings; targets are compared where both list them."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        raise ValueError("a fingerprint must be a dict (from fingerprint.fingerprint)")
    out = []
    for key in ("dlproof", "python"):
        if old.get(key) != new.get(key):
            out.append(f"{key} {str(old.get(key))[:12]} -> {str(new.get(key))[:12]}")
    if old.get("profiles") != new.get("profiles"):
        out.append(f"profiles {old.get('profiles')} -> {new.get('profiles')}")
    lo, ln = old.get("libraries") or {}, new.get("libraries") or {}
    out += [f"{d} {lo.get(d)} -> {ln.get(d)}" for d in sorted(set(lo) | set(ln)) if lo.get(d) != ln.get(d)]
    to, tn = old.get("targets") or {}, new.get("targets") or {}
    out += [f"target module of {s!r} changed" for s in sorted(set(to) & set(tn)) if to[s] != tn[s]]
    return out
