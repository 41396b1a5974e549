"""The registry of derivations: stable ids, LaTeX, citations, assumptions and proof status.

A derivation is a function decorated with `derivation`; it returns its proof obligations as
``[(description, ProofResult, Scope), ...]`` (`scope.py`: for every size, at one size, a base case or an
induction step, an instance of a cited lemma). Its status is computed from them, never typed in:

- kind ``theorem``: "proved" iff every obligation is proved and together they hold for every size;
  "proved-from-lemmas" when the proof also rests on cited `Lemma`s (``lemmas=``); "checked-at-sizes" when
  some obligation holds only at a stated size (the record lists the sizes); else "refuted"/"undecided";
- kind ``refutation``: a claim (usually of the source) shown false; "refuted" iff every obligation
  establishing the counterexample is proved (one counterexample at one size suffices), else "undecided";
- kind ``definition``: "definition" iff its consistency obligations are proved.

``sizes=`` names the dimensions the statement ranges over (``("n", "m")``), or ``()`` for a statement
without one (a scalar identity), whose two-element obligations ``(description, result)`` hold for every
size. A record with sizes must give every obligation its scope. A record that has not declared
``sizes`` (None) is never more than "checked-at-sizes": unaudited means unproved.

Ids are a public API: a published id never disappears.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from . import scope as sc
from .prove import PROVED, REFUTED, UNDECIDED, ProofResult

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
    sizes: Optional[tuple] = None
    lemmas: tuple = ()


_SPECS: dict[str, Spec] = {}
_KERNELS: dict[str, Callable] = {}


def derivation(id: str, *, title: str, latex: str, seed: str, primary: str, kind: str = "theorem",
               assumptions: tuple = (), layout: Optional[str] = None, notes: str = "", steps: tuple = (),
               sizes: Optional[tuple] = None, lemmas: tuple = ()):
    """Register a derivation function under a stable id.

    ``steps``: the chain-rule steps of the derivation, one LaTeX display line each (for the book). They
    explain; the obligations prove (the exact checks of the final result, never of the prose).
    ``sizes``: the dimension names the statement ranges over, ``()`` for none (see the module docstring).
    ``lemmas``: the cited `scope.Lemma`s the proof rests on.
    """
    if kind not in KINDS:
        raise ValueError(f"derivation {id!r}: kind={kind!r}, but should be one of {KINDS}")

    def deco(fn):
        if id in _SPECS and _SPECS[id].fn.__qualname__ != fn.__qualname__:
            raise ValueError(f"duplicate derivation id {id!r}")
        if not all(isinstance(lm, sc.Lemma) for lm in lemmas):
            raise ValueError(f"derivation {id!r}: lemmas must be scope.Lemma objects")
        _SPECS[id] = Spec(id, title, latex, seed, primary, kind, tuple(assumptions), layout, notes, fn, tuple(steps),
                          None if sizes is None else tuple(sizes), tuple(lemmas))
        return fn

    return deco


def kernel(name: str):
    """Register a kernel: a function returning ``(args, expr, doc)`` to be printed as NumPy code."""

    def deco(fn):
        _KERNELS[name] = fn
        return fn

    return deco


def status_of(kind: str, results: list[ProofResult], scopes: list | None = None, lemmas: tuple = ()) -> str:
    """A record's status from its obligations' results and scopes (no obligations: never proved)."""
    statuses = {r.status for r in results}
    if not results:
        return UNDECIDED
    if kind == "theorem":
        if statuses <= {PROVED}:
            return sc.proof_strength(scopes if scopes is not None else [sc.at(unknown=0)], lemmas)
        return REFUTED if REFUTED in statuses else UNDECIDED
    if kind == "refutation":
        return REFUTED if statuses == {PROVED} else UNDECIDED
    return "definition" if statuses <= {PROVED} else UNDECIDED


def _scoped(spec: Spec, obligation: tuple) -> tuple:
    """(description, result, Scope): two-element obligations are general only in a dimension-free record."""
    if len(obligation) == 3:
        if not isinstance(obligation[2], sc.Scope):
            raise TypeError(f"derivation {spec.id!r}: the third element of an obligation must be a scope.Scope")
        return obligation
    description, result = obligation
    if spec.sizes is None:
        return description, result, sc.Scope(sc.SIZE_KIND)  # not audited: unknown sizes
    if spec.sizes:
        raise ValueError(f"derivation {spec.id!r} ranges over sizes {spec.sizes}, so its obligation "
                         f"{description!r} must state its scope (scope.GENERAL, scope.at(...), ...)")
    return description, result, sc.GENERAL


def run_spec(spec: Spec) -> dict:
    """Run one derivation's obligations; return its JSON record."""
    obligations = [_scoped(spec, o) for o in spec.fn()]
    results = [r for _, r, _ in obligations]
    scopes = [s for _, _, s in obligations]
    status = status_of(spec.kind, results, scopes, spec.lemmas)
    sizes = sc.checked_sizes(scopes)
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
        "status": status,
        "scope": {"parameters": None if spec.sizes is None else list(spec.sizes),
                  "sizes": sizes, "lemmas": [lm.to_json() for lm in spec.lemmas],
                  "summary": sc.summary(status, sizes, spec.lemmas)},
        "obligations": [{"statement": d, **r.to_json(), "scope": s.to_json()} for d, r, s in obligations],
        "counterexample": counterexamples[0] if counterexamples else None,
    }


def load_modules() -> None:
    """Import the derivation module of every chapter (`dlproof.capabilities.CHAPTERS`, book order): importing
    one registers its derivations and kernels."""
    import importlib

    from dlproof.capabilities import chapter_modules

    for module in chapter_modules("derivations"):
        importlib.import_module(module)


def specs() -> dict[str, Spec]:
    load_modules()
    return dict(_SPECS)


def kernel_builders() -> dict[str, Callable]:
    load_modules()
    return dict(_KERNELS)


__all__ = ["derivation", "kernel", "specs", "kernel_builders", "run_spec", "status_of",
           "PROVED", "REFUTED", "UNDECIDED"]
