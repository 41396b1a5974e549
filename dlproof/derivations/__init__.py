"""dlproof.derivations: every formula derived with SymPy, every identity proved, each with a stable id.

Public API (cheap on the warm path: no SymPy import):

- `records()` -> ``{id: record}`` (JSON-ready dicts: title, LaTeX, citation, assumptions, layout,
  status, obligations, counterexample);
- `record(id)` -> one record (`KeyError` names close ids);
- `kernels()` -> the generated NumPy module of compact formulas (the size-generic oracle kernels).

Both come from the user cache, else from the cache shipped with the package (verified against its manifest:
same key, same SHA-256 per file), else are built once with SymPy (a progress line on stderr); see
`dlproof.derivations.cache`. `rebuild()` re-derives everything without reading any cache.

Conventions: column vectors, numerator-layout Jacobians ``(dy/dx)[i, j] = dy_i/dx_j``; products
latest-left ``dh_t/dh_k = J_t ... J_{k+1}``.
"""
from __future__ import annotations

import difflib
import json
import sys
from functools import lru_cache

from dlproof.atomic import write_atomic

from . import cache


def _build_records() -> dict:
    from . import registry

    return {sid: registry.run_spec(spec) for sid, spec in registry.specs().items()}


def _build_kernels_source() -> str:
    from . import codegen, registry

    return codegen.module_source({name: b() for name, b in registry.kernel_builders().items()})


def _announce_build(what: str) -> None:
    """The progress line of a cold build (stderr): what happens, about how long, where it is cached."""
    print(f"dlproof: deriving and proving the {what} with SymPy, once for this key (about a minute; "
          f"cached in {cache.cache_dir()})...", file=sys.stderr, flush=True)


@lru_cache(maxsize=None)
def records() -> dict:
    """All derivation records: the user cache, else the verified shipped cache, else built (and cached)."""
    key = cache.cache_key()
    path = cache.cache_dir() / f"records-{key}.json"
    data = cache.load_json(path)
    if data is None:
        verified = cache.shipped(key)
        if verified is not None:
            return json.loads(verified["records"])
        _announce_build("derivation records")
        data = _build_records()
        write_atomic(path, cache.records_bytes(data))
    return data


def rebuild() -> dict[str, bytes]:
    """Re-derive every record and kernel with SymPy, reading no cache; write them to the user cache and return
    ``{shipped file name: bytes}`` (`cache.SHIPPED_FILES`), ready for `cache.differences` / `cache.write_shipped`."""
    key = cache.cache_key()
    built = {cache.SHIPPED_FILES["records"]: cache.records_bytes(_build_records()),
             cache.SHIPPED_FILES["kernels"]: _build_kernels_source().encode("utf-8")}
    write_atomic(cache.cache_dir() / f"records-{key}.json", built[cache.SHIPPED_FILES["records"]])
    write_atomic(cache.cache_dir() / f"kernels-{key}.py", built[cache.SHIPPED_FILES["kernels"]])
    records.cache_clear()
    kernels.cache_clear()
    return built


def record(id: str) -> dict:
    recs = records()
    if id not in recs:
        close = difflib.get_close_matches(id, list(recs), n=3)
        raise KeyError(f"no derivation with id {id!r}" + (f"; did you mean {close}?" if close else ""))
    return recs[id]


@lru_cache(maxsize=None)
def kernels():
    """The generated kernel module (imports only NumPy): the user cache, else the verified shipped cache, else
    generated (and cached)."""
    key = cache.cache_key()
    path = cache.cache_dir() / f"kernels-{key}.py"
    name = f"dlproof_kernels_{key}"
    if not path.exists():
        verified = cache.shipped(key)
        if verified is not None:
            return cache.import_file(name, cache.SHIPPED / cache.SHIPPED_FILES["kernels"], verified["kernels"])
        _announce_build("kernels")
        write_atomic(path, _build_kernels_source())
    return cache.import_file(name, path)


__all__ = ["records", "record", "kernels", "rebuild"]
