"""The property registry: id -> what it needs from a target, the derivations behind it, its check.

A property is ``check(target, problem, checker)``; it raises PropertyFailure (verdict "fail") or
lets TargetRaised through (verdict "error"). ``strategy(target)`` draws its examples.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Property:
    id: str
    title: str
    capabilities: tuple
    derivations: tuple
    strategy: Callable
    check: Callable
    applies: Callable = lambda target: True  # e.g. only under a declared convention
    shared: Callable = None  # target -> key: a target-independent property runs once per key (e.g. the oracle's own checks)
    max_examples: int | None = None  # a cap below the profile's count (not in "thorough"): for checks that one example decides
    #: the dtypes (dlproof.dtypes) its error model is written for: a target of another dtype gets "not provided",
    #: saying so, never a check at a tolerance nobody derived (16-bit formats are added where a model covers them)
    precisions: tuple = ("float32", "float64")

    def provided_by(self, target) -> bool:
        return all(target.provides(c) for c in self.capabilities)

    def checks(self, target) -> bool:
        """Whether this property runs on ``target``: it provides the capabilities, the property applies under
        its conventions, and its dtype is one the property's error model covers."""
        return self.provided_by(target) and self.applies(target) and target.dtype in self.precisions


PROPERTIES: dict[str, Property] = {}


def prop(id: str, *, title: str, capabilities, derivations, strategy, applies=None, shared=None, max_examples=None,
         precisions=("float32", "float64")):
    def deco(check):
        if id in PROPERTIES:
            raise ValueError(f"duplicate property id {id!r}")
        PROPERTIES[id] = Property(id, title, tuple(capabilities), tuple(derivations), strategy, check,
                                  applies or (lambda target: True), shared, max_examples, tuple(precisions))
        return check

    return deco


#: property modules that span chapters (loaded after the chapters' own `properties.<chapter>` modules)
SUITE_WIDE = ("extremes", "protocol", "activation_accuracy")


def all_properties() -> dict:
    """Every registered property, id -> Property: the property module of every chapter of
    `dlproof.capabilities.CHAPTERS` that has one, then the `SUITE_WIDE` ones, registered on import."""
    import importlib

    from dlproof.capabilities import chapter_modules

    for module in (*chapter_modules("properties"), *(f"{__package__}.{m}" for m in SUITE_WIDE)):
        importlib.import_module(module)
    return dict(PROPERTIES)
