"""Every mutant and equivalent rewrite of tests/mutants/, collected from its chapter modules.

The modules are found with pkgutil (base, catalog and test_* excepted) and taken in the book's chapter order
(dlproof.capabilities.CHAPTERS), then the suite-wide property modules and `_ACROSS_CHAPTERS`, so
reports/mutation.md lists them chapter by chapter; a module named after none of them, or a name defined by two
modules, is an error.
"""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from dlproof.capabilities import CHAPTERS
from dlproof.properties.registry import SUITE_WIDE

from mutants.base import Mutant

_NOT_CHAPTERS = {"base", "catalog"}
#: mutant modules that span chapters without a property module of their own (after the suite-wide ones)
_ACROSS_CHAPTERS = ("arithmetic",)


def _chapter_modules() -> list:
    names = [m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])
             if m.name not in _NOT_CHAPTERS and not m.name.startswith("test_")]
    order = [c.name for c in CHAPTERS] + list(SUITE_WIDE) + list(_ACROSS_CHAPTERS)
    stray = sorted(set(names) - set(order))
    if stray:
        raise ImportError(f"tests/mutants/: {stray} name no chapter of dlproof.capabilities.CHAPTERS, no suite-wide "
                          f"property module (dlproof.properties.registry.SUITE_WIDE) and none of {_ACROSS_CHAPTERS}")
    return [importlib.import_module(f"mutants.{n}") for n in sorted(names, key=order.index)]


def _collect(attr: str) -> dict:
    out: dict = {}
    for module in _chapter_modules():
        for name, value in getattr(module, attr, {}).items():
            if name in out:
                raise ValueError(f"mutant {name!r} is defined twice ({module.__name__} and an earlier module)")
            out[name] = value
    return out


MUTANTS: dict[str, Mutant] = _collect("MUTANTS")
EQUIVALENT: dict[str, tuple] = _collect("EQUIVALENT")
