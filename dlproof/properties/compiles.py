"""Compiles of compiled frameworks during a run: how many, and how long they took, per property and per run.

Counted only for a framework that is already imported (this module never imports one):

- JAX (``"jax"``): the backend-compile duration event of ``jax.monitoring`` (`JAX_EVENT`, recorded once per
  XLA compilation: a ``jax.jit`` call on a new shape, dtype or static argument; hits of JAX's caches record
  none); a listener is registered the first time a snapshot finds jax imported, so compiles of a jax imported
  in the middle of a property are counted from the next property on.
- torch.compile (``"torch"``): torch._dynamo's ``counters["stats"]["unique_graphs"]`` (a graph dynamo captured
  and handed to its backend) and the seconds of its ``_compile.compile_inner`` timings (the whole frame
  compile, backend included), read while ``torch._dynamo`` is imported.

`snapshot` before a property and `since` after it give the property's ``{"jax": {"compiles": n, "seconds":
s}, ...}`` (results.py puts it in the row as ``compiles``); `total` sums rows into the run's figure and `line`
writes it for correctness.md. Counts are exact; seconds are wall-clock (they include the machine's load).
"""
from __future__ import annotations

import sys
import threading

#: jax.monitoring's event for one XLA backend compilation (jax._src.dispatch.BACKEND_COMPILE_EVENT)
JAX_EVENT = "/jax/core/compile/backend_compile_duration"
#: torch._dynamo's timing key of one frame compile (its ``compilation_time_metrics``)
TORCH_TIMING = "_compile.compile_inner"
#: framework key -> the name the report shows
NAMES = {"jax": "jax.jit (XLA)", "torch": "torch.compile"}

_LOCK = threading.Lock()
_JAX = {"compiles": 0, "seconds": 0.0, "listening": False}


def _on_jax_event(event: str, duration_secs: float, **_kw) -> None:
    if event == JAX_EVENT:
        with _LOCK:
            _JAX["compiles"] += 1
            _JAX["seconds"] += float(duration_secs)


def _jax_counts():
    jax = sys.modules.get("jax")
    if jax is None:
        return None
    with _LOCK:
        if not _JAX["listening"]:
            import jax.monitoring  # a submodule of the jax already imported

            jax.monitoring.register_event_duration_secs_listener(_on_jax_event)
            _JAX["listening"] = True
        return _JAX["compiles"], _JAX["seconds"]


def _torch_counts():
    if "torch._dynamo" not in sys.modules:
        return None
    from torch._dynamo.utils import compilation_time_metrics, counters

    stats = counters.get("stats", {})
    return int(stats.get("unique_graphs", 0)), float(sum(compilation_time_metrics.get(TORCH_TIMING, ())))


def snapshot() -> dict:
    """{framework: (compiles, seconds) so far} for each framework imported now."""
    out = {}
    for key, counts in (("jax", _jax_counts()), ("torch", _torch_counts())):
        if counts is not None:
            out[key] = counts
    return out


def since(before: dict) -> dict:
    """{framework: {"compiles": n, "seconds": s}} since the snapshot ``before`` (frameworks imported now; a
    framework whose counters were reset in between counts from 0)."""
    if not isinstance(before, dict):
        raise ValueError(f"compiles.since: argument 'before' should be a snapshot dict, got {type(before).__name__}")
    out = {}
    for key, (n, s) in snapshot().items():
        n0, s0 = before.get(key, (0, 0.0))
        if n < n0:  # reset (torch._dynamo.reset()): what is there now was counted since
            n0, s0 = 0, 0.0
        out[key] = {"compiles": n - n0, "seconds": round(max(0.0, s - s0), 3)}
    return out


def total(rows) -> dict:
    """The run's compiles: the rows' ``compiles`` summed per framework ({} when no row has any)."""
    out: dict = {}
    for r in rows:
        for key, c in (r.get("compiles") or {}).items():
            t = out.setdefault(key, {"compiles": 0, "seconds": 0.0})
            t["compiles"] += int(c["compiles"])
            t["seconds"] = round(t["seconds"] + float(c["seconds"]), 3)
    return out


def line(totals: dict) -> str:
    """The report's line, e.g. "Compiles: jax.jit (XLA) 37 in 12.3 s (wall clock, load included)."."""
    if not totals:
        return "Compiles: no compiled framework was loaded."
    parts = [f"{NAMES.get(k, k)} {c['compiles']} in {c['seconds']:.1f} s" for k, c in sorted(totals.items())]
    return "Compiles: " + ", ".join(parts) + " (wall clock, under the machine's load)."
