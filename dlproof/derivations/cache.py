"""Content-addressed on-disk cache of derivation records (JSON) and generated kernels (.py).

Key: the cache `FORMAT`, SymPy's and Python's versions, and the bytes of every file that carries a proof:
every ``*.py`` under ``dlproof/derivations/`` (subpackages included: the derivation modules, the registry,
``prove``/``certify``/``codegen`` and the rest of the proof machinery) except `NOT_PROOF`, the files no record
or kernel is built from:

- ``claims.py``: the claims ledger's wording (read by `dlproof.ledger`, never by a derivation);
- ``oracle*.py``: the float64 oracles, which consume the kernels and produce neither records nor kernels;
- ``cache.py``: this module (a change of the cache's layout bumps `FORMAT`).

So editing a claim's wording or an oracle keeps the key (no cold re-proof), while an edit of any file a record
is built from, its text (title, LaTeX, notes: written in the derivation modules) included, changes it and can
never leave a stale "proved". No keyed file imports an excluded one (a test checks it), so the records'
text always comes from keyed files. Writes go through `dlproof.atomic` (temp file and ``os.replace``);
concurrent pytest-xdist workers write identical bytes, so no lock is needed. The warm path reads JSON and
imports the kernel module without importing SymPy.

Location: ``$DLPROOF_CACHE_DIR``, else ``$XDG_CACHE_HOME/dlproof``, else ``~/.cache/dlproof``.
"""
from __future__ import annotations

import fnmatch
import hashlib
import importlib.util
import json
import os
import sys
from importlib.metadata import version
from pathlib import Path

FORMAT = 1

#: file name patterns under derivations/ that carry no proof (see the module docstring)
NOT_PROOF = ("claims.py", "oracle*.py", "cache.py")

HERE = Path(__file__).parent


def cache_dir() -> Path:
    env = os.environ.get("DLPROOF_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dlproof"


def proof_files(root: Path = HERE) -> list[Path]:
    """The files the key hashes: every ``*.py`` under ``root`` whose name matches no `NOT_PROOF` pattern, sorted."""
    return sorted(p for p in root.rglob("*.py")
                  if not any(fnmatch.fnmatch(p.name, pat) for pat in NOT_PROOF))


def cache_key(root: Path = HERE) -> str:
    h = hashlib.sha256(f"format={FORMAT};sympy={version('sympy')};py={sys.version_info[:2]}".encode())
    for p in proof_files(root):
        h.update(p.relative_to(root).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:20]


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
