"""Content-addressed on-disk cache of derivation records (JSON) and generated kernels (.py).

Key: SymPy's version and a hash of every source file of ``dlproof.derivations`` (prover included),
so an edit can never leave a stale "proved". Writers go through a temp file and ``os.replace``
(atomic on POSIX); concurrent pytest-xdist workers write identical bytes, so no lock is needed.
The warm path reads JSON and imports the kernel module without importing SymPy.

Location: ``$DLPROOF_CACHE_DIR``, else ``$XDG_CACHE_HOME/dlproof``, else ``~/.cache/dlproof``.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

FORMAT = 1


def cache_dir() -> Path:
    env = os.environ.get("DLPROOF_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dlproof"


def cache_key() -> str:
    h = hashlib.sha256(f"format={FORMAT};sympy={version('sympy')};py={sys.version_info[:2]}".encode())
    here = Path(__file__).parent
    for p in sorted(here.glob("*.py")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:20]


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def import_file(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
