"""dlproof.derivations: every formula derived with SymPy, every identity proved, each with a stable id.

Public API (cheap on the warm path: no SymPy import):

- `records()` -> ``{id: record}`` (JSON-ready dicts: title, LaTeX, citation, assumptions, layout,
  status, obligations, counterexample);
- `record(id)` -> one record (`KeyError` names close ids);
- `kernels()` -> the generated NumPy module of compact formulas (the size-generic oracle kernels).

Conventions: column vectors, numerator-layout Jacobians ``(dy/dx)[i, j] = dy_i/dx_j``; products
latest-left ``dh_t/dh_k = J_t ... J_{k+1}``.
"""
from __future__ import annotations

import difflib
import json
from functools import lru_cache

from dlproof.atomic import write_atomic

from . import cache


def _build_records() -> dict:
    from . import registry

    return {sid: registry.run_spec(spec) for sid, spec in registry.specs().items()}


def _build_kernels_source() -> str:
    from . import codegen, registry

    return codegen.module_source({name: b() for name, b in registry.kernel_builders().items()})


@lru_cache(maxsize=None)
def records() -> dict:
    """All derivation records, from the cache when it is warm."""
    path = cache.cache_dir() / f"records-{cache.cache_key()}.json"
    data = cache.load_json(path)
    if data is None:
        data = _build_records()
        write_atomic(path, json.dumps(data, indent=1, sort_keys=True))
    return data


def record(id: str) -> dict:
    recs = records()
    if id not in recs:
        close = difflib.get_close_matches(id, list(recs), n=3)
        raise KeyError(f"no derivation with id {id!r}" + (f"; did you mean {close}?" if close else ""))
    return recs[id]


@lru_cache(maxsize=None)
def kernels():
    """The generated kernel module (imports only NumPy)."""
    key = cache.cache_key()
    path = cache.cache_dir() / f"kernels-{key}.py"
    if not path.exists():
        write_atomic(path, _build_kernels_source())
    return cache.import_file(f"dlproof_kernels_{key}", path)


__all__ = ["records", "record", "kernels"]
