"""The section registry of the performance benchmark and the Markdown helpers sections render with.

A section is a ``measure(settings) -> dict`` registered with `section` (name, title, render, summarize);
`SECTIONS` keeps them in registration order, the order of the report (benchmarks/performance.py imports the
section modules in that order).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .timing import Settings


@dataclass
class Section:
    name: str
    title: str
    measure: Callable[[Settings], dict]
    render: Callable[[dict], list]
    summarize: Callable[[dict], dict] | None = None


SECTIONS: dict[str, Section] = {}


def section(name: str, title: str, render: Callable, summarize: Callable | None = None):
    """Register the decorated ``measure(settings) -> dict`` as section ``name`` of results."""
    def deco(measure):
        SECTIONS[name] = Section(name, title, measure, render, summarize)
        return measure
    return deco


def fmt(x, nd=2) -> str:
    """``x`` with ``nd`` decimals, "n/a" for None."""
    return "n/a" if x is None else f"{x:.{nd}f}"


def table(header: list, rows: list) -> list:
    """A Markdown table (first column left-aligned, the others right-aligned) as lines."""
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def size_text(c) -> str:
    """A size (B, T, n, m) as text."""
    return "({}, {}, {}, {})".format(*c)
