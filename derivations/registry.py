"""The registry of derivations: stable ids, LaTeX, citations, assumptions and proof status.

A derivation is a function decorated with `derivation`; it returns its proof obligations as
``[(description, ProofResult), ...]``. Its status is computed from them, never typed in:

- kind ``theorem``:    "proved" iff every obligation is proved, else "refuted"/"undecided";
- kind ``refutation``: a claim (usually of the source) shown false; "refuted" iff every obligation
  establishing the counterexample is proved, else "undecided";
- kind ``definition``: "definition" iff its consistency obligations (if any) are proved.

Ids are a public API: a published id never disappears.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from .prove import PROVED, REFUTED, UNDECIDED, ProofResult

#: the modules that register derivations and kernels, in book order
MODULES = ("activations", "rnn_cell", "bptt", "clipping", "lstm", "gru", "bidirectional", "backprop", "residual",
           "batchnorm", "dropout", "attention", "convolution", "uat", "ntk")

KINDS = ("theorem", "refutation", "definition")


@dataclass(frozen=True)
class Spec:
    id: str
    title: str
    latex: str
    seed: str
    primary: str
    kind: str
    assumptions: tuple
    layout: Optional[str]
    notes: str
    fn: Callable
    steps: tuple = ()


_SPECS: dict[str, Spec] = {}
_KERNELS: dict[str, Callable] = {}


def derivation(id: str, *, title: str, latex: str, seed: str, primary: str, kind: str = "theorem",
               assumptions: tuple = (), layout: Optional[str] = None, notes: str = "", steps: tuple = ()):
    """Register a derivation function under a stable id.

    ``steps``: the chain-rule steps of the derivation, one LaTeX display line each (for the book). They
    explain; the obligations prove (the exact checks of the final result, never of the prose).
    """
    if kind not in KINDS:
        raise ValueError(f"derivation {id!r}: kind={kind!r}, but should be one of {KINDS}")

    def deco(fn):
        if id in _SPECS and _SPECS[id].fn.__qualname__ != fn.__qualname__:
            raise ValueError(f"duplicate derivation id {id!r}")
        _SPECS[id] = Spec(id, title, latex, seed, primary, kind, tuple(assumptions), layout, notes, fn, tuple(steps))
        return fn

    return deco


def kernel(name: str):
    """Register a kernel: a function returning ``(args, expr, doc)`` to be printed as NumPy code."""

    def deco(fn):
        _KERNELS[name] = fn
        return fn

    return deco


def status_of(kind: str, results: list[ProofResult]) -> str:
    statuses = {r.status for r in results}
    if kind == "theorem":
        if statuses <= {PROVED}:
            return PROVED
        return REFUTED if REFUTED in statuses else UNDECIDED
    if kind == "refutation":
        return REFUTED if results and statuses == {PROVED} else UNDECIDED
    return "definition" if statuses <= {PROVED} else UNDECIDED


def run_spec(spec: Spec) -> dict:
    """Run one derivation's obligations; return its JSON record."""
    obligations = spec.fn()
    results = [r for _, r in obligations]
    counterexamples = [r.counterexample for r in results if r.counterexample]
    return {
        "id": spec.id,
        "title": spec.title,
        "kind": spec.kind,
        "latex": spec.latex,
        "citation": {"seed": spec.seed, "primary": spec.primary},
        "assumptions": list(spec.assumptions),
        "layout": spec.layout,
        "notes": spec.notes,
        "steps": list(spec.steps),
        "status": status_of(spec.kind, results),
        "obligations": [{"statement": d, **r.to_json()} for d, r in obligations],
        "counterexample": counterexamples[0] if counterexamples else None,
    }


def load_modules() -> None:
    import importlib

    for m in MODULES:
        importlib.import_module(f"{__package__}.{m}")


def specs() -> dict[str, Spec]:
    load_modules()
    return dict(_SPECS)


def kernel_builders() -> dict[str, Callable]:
    load_modules()
    return dict(_KERNELS)


__all__ = ["derivation", "kernel", "specs", "kernel_builders", "run_spec", "status_of",
           "PROVED", "REFUTED", "UNDECIDED"]
