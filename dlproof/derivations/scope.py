"""What an obligation establishes: for every size, at stated sizes, or from a cited lemma.

A derivation's status must never claim more than its obligations establish. Each obligation
therefore carries a *scope*, and the record's status is computed from the scopes (registry.status_of):

- ``GENERAL``: the check holds for every size the statement ranges over: it is done with symbolic
  dimensions (``n``, ``T``, ``L`` as SymPy symbols), or the statement has no dimension at all (a
  scalar identity);
- ``at(n=2, m=3)``: the check was done at one concrete size only. A theorem with such an obligation is
  ``checked-at-sizes`` (the record lists every size), never ``proved``;
- ``base_case(L=1)`` and ``INDUCTION_STEP``: a proof by induction. The base case counts for every size
  only together with an induction step proved in general (symbolic ``L``) in the same record;
- ``lemma_check(LEMMA, n=2)``: an instance check of a cited lemma (it illustrates the lemma, it does not
  prove it). A record that declares ``lemmas=`` is at best ``proved-from-lemmas``.

A `Lemma` is a cited fact the proof rests on, declared once, named by id, with its reference.
"""
from __future__ import annotations

from dataclasses import dataclass, field

#: scope kinds, in the JSON of an obligation
GENERAL_KIND, SIZE_KIND, BASE_KIND, STEP_KIND, LEMMA_KIND = "general", "size", "base-case", "induction-step", "lemma-check"

#: record statuses, strongest first (``refuted``, ``definition`` and ``undecided`` are not strengths of a proof)
PROVED, FROM_LEMMAS, CHECKED = "proved", "proved-from-lemmas", "checked-at-sizes"
REFUTED, DEFINITION, UNDECIDED = "refuted", "definition", "undecided"
STATUSES = (PROVED, FROM_LEMMAS, CHECKED, REFUTED, DEFINITION, UNDECIDED)

#: what each status means, in one sentence (books, CLI, README)
STATUS_MEANING = {
    PROVED: "proved for every size (symbolic dimensions, or an induction step proved in general with its base case)",
    FROM_LEMMAS: "proved in general from cited lemmas, each named with its reference (the lemmas are cited, not proved here)",
    CHECKED: "checked exactly at the stated sizes only; not proved for every size",
    REFUTED: "shown false by an exact counterexample",
    DEFINITION: "a definition (its consistency checks hold)",
    UNDECIDED: "neither proved nor refuted by the exact tiers (numeric agreement is never proof)",
}


@dataclass(frozen=True)
class Lemma:
    """A cited fact a derivation rests on: id, statement (LaTeX), reference."""

    id: str
    statement: str
    reference: str

    def to_json(self) -> dict:
        return {"id": self.id, "statement": self.statement, "reference": self.reference}


@dataclass(frozen=True)
class Scope:
    """The scope of one obligation (see the module docstring)."""

    kind: str
    at: tuple = ()  # ((name, value), ...) for size, base-case and lemma-check scopes
    lemma: Lemma | None = field(default=None)

    def point(self) -> dict:
        return {k: v for k, v in self.at}

    def describe(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in self.at)
        return {GENERAL_KIND: "for every size", SIZE_KIND: f"at {where}" if where else "at unstated sizes (scope not audited)", BASE_KIND: f"base case {where}",
                STEP_KIND: "induction step (general)",
                LEMMA_KIND: f"instance of lemma {self.lemma.id if self.lemma else '?'}" + (f" at {where}" if where else "")}[self.kind]

    def to_json(self) -> dict:
        return {"kind": self.kind, "at": self.point() or None, "lemma": self.lemma.id if self.lemma else None,
                "text": self.describe()}


def _point(sizes: dict) -> tuple:
    if not sizes:
        raise ValueError("a sized scope needs at least one size, e.g. at(n=2)")
    return tuple(sorted((str(k), int(v)) for k, v in sizes.items()))


GENERAL = Scope(GENERAL_KIND)
INDUCTION_STEP = Scope(STEP_KIND)


def at(**sizes) -> Scope:
    """The obligation was checked at this one size (e.g. ``at(n=2, m=3)``)."""
    return Scope(SIZE_KIND, _point(sizes))


def base_case(**sizes) -> Scope:
    """The base case of an induction (general only together with an `INDUCTION_STEP` obligation)."""
    return Scope(BASE_KIND, _point(sizes))


def lemma_check(lemma: Lemma, **sizes) -> Scope:
    """An instance check of a cited lemma (illustrates it; the record stays proved-from-lemmas at best)."""
    return Scope(LEMMA_KIND, tuple(sorted((str(k), int(v)) for k, v in sizes.items())), lemma)


def proof_strength(scopes: list[Scope], lemmas: tuple) -> str:
    """The strongest status that proved obligations with these scopes establish for a theorem."""
    kinds = {s.kind for s in scopes}
    if not kinds - {LEMMA_KIND}:
        return CHECKED if not lemmas else FROM_LEMMAS
    if SIZE_KIND in kinds or (BASE_KIND in kinds and STEP_KIND not in kinds) or (STEP_KIND in kinds and BASE_KIND not in kinds):
        return CHECKED
    return FROM_LEMMAS if lemmas or LEMMA_KIND in kinds else PROVED


def checked_sizes(scopes: list[Scope]) -> list[dict]:
    """Every concrete size a sized obligation was checked at, in first-seen order, without repeats."""
    out: list[dict] = []
    for s in scopes:
        if s.kind in (SIZE_KIND, BASE_KIND) and s.at and s.point() not in out:
            out.append(s.point())
    return out


def summary(status: str, sizes: list[dict], lemmas: tuple) -> str:
    """The scope sentence appended to the statement wherever a record is shown."""
    if status == CHECKED:
        if not sizes:
            return "Scope not stated: treated as checked at some sizes only; not proved for every size."
        pts = "; ".join(", ".join(f"{k}={v}" for k, v in p.items()) for p in sizes)
        return f"Checked at {pts} only; not proved for every size."
    if status == FROM_LEMMAS:
        return "Proved for every size from the cited lemmas " + ", ".join(l.id for l in lemmas) + " (cited, not proved here)."
    if status == PROVED:
        return "Proved for every size."
    if status == REFUTED and lemmas:
        return ("Refuted; the counterexample rests on the cited lemmas " + ", ".join(l.id for l in lemmas)
                + " (cited, not proved here).")
    return ""


__all__ = ["Lemma", "Scope", "GENERAL", "INDUCTION_STEP", "at", "base_case", "lemma_check", "proof_strength",
           "checked_sizes", "summary", "STATUSES", "STATUS_MEANING", "PROVED", "FROM_LEMMAS", "CHECKED",
           "REFUTED", "DEFINITION", "UNDECIDED"]
