"""What every renderer (Markdown, HTML, LaTeX, the CLI) shows the same way: reading order, titles,
statuses with their scope, ledger badges.

- Reading order: chapters (id prefixes) in `GROUPS` order, and within a chapter the order in which the
  derivation modules declare their records (chapter order of `dlproof.capabilities.CHAPTERS`, then declaration
  order; ``registry.specs()`` is insertion-ordered). Record JSON is written with sorted keys, so the
  order is recomputed from the registry here (cheap: no proof is run). Ids the registry does not know
  (hand-made records in tests) come last in their chapter, sorted.
- Titles: a refutation (kind ``refutation``) states the false claim as its title; it is shown as
  ``Claim: <title> — refuted`` (``— not refuted`` while its status is not "refuted").
- Statuses: `dlproof.derivations.scope.STATUSES` and ``STATUS_MEANING``; the scope sentence is
  ``rec["scope"]["summary"]``; records from an old cache without a scope are shown without one.
- Ledger verdicts: a badge text is the verdict with '-' replaced by ' ' (unknown verdicts too).
"""
from __future__ import annotations

from functools import lru_cache

from dlproof.capabilities import CHAPTERS
from dlproof.derivations.scope import STATUS_MEANING, STATUSES

#: chapters (id prefixes) in book order, with their titles: from the one declaration, `dlproof.capabilities.CHAPTERS`
GROUPS = tuple((c.prefix, c.title) for c in CHAPTERS)

#: ledger verdicts whose badge text is not the plain verdict with spaces
_VERDICT_BADGE = {"evidence-missing": "EVIDENCE MISSING"}


def group_of(rid: str) -> str:
    return rid.split(".", 1)[0]


def group_title(prefix: str) -> str:
    return dict(GROUPS).get(prefix, prefix)


@lru_cache(maxsize=1)
def registration_order() -> dict:
    """{id: position} in declaration order (chapter order, then each module's declarations)."""
    from dlproof.derivations import registry

    return {rid: k for k, rid in enumerate(registry.specs())}


def reading_order(records) -> list[str]:
    """Ids in reading order: chapter (GROUPS, then unknown prefixes by name), then registration order."""
    rank = {p: i for i, (p, _) in enumerate(GROUPS)}
    pos = registration_order()

    def key(rid: str):
        g = group_of(rid)
        return (rank.get(g, len(GROUPS)), g, pos.get(rid, len(pos)), rid)

    return sorted(records, key=key)


def chapters(records) -> list[tuple[str, list[str]]]:
    """[(prefix, ids in reading order)] in book order."""
    out: list[tuple[str, list[str]]] = []
    for rid in reading_order(records):
        g = group_of(rid)
        if not out or out[-1][0] != g:
            out.append((g, []))
        out[-1][1].append(rid)
    return out


def display_title(rec: dict) -> str:
    """The title as a reader should read it: a refutation's title is the false claim."""
    title = str(rec.get("title") or rec.get("id", ""))
    if rec.get("kind") == "refutation":
        return f"Claim: {title} — " + ("refuted" if rec.get("status") == "refuted" else "not refuted")
    return title


def status_label(status: str) -> str:
    """Badge text of a record status ("checked-at-sizes" -> "checked at sizes")."""
    return str(status).replace("-", " ")


def status_meaning(status: str) -> str:
    return STATUS_MEANING.get(status, "")


def verdict_label(verdict: str) -> str:
    """Badge text of a ledger verdict: the verdict with '-' -> ' ' (unknown verdicts included)."""
    return _VERDICT_BADGE.get(verdict, str(verdict).replace("-", " "))


def scope_of(rec: dict) -> dict:
    """rec["scope"] with every key present (old cached records have none)."""
    s = rec.get("scope") or {}
    return {"parameters": s.get("parameters"), "sizes": list(s.get("sizes") or []),
            "lemmas": list(s.get("lemmas") or []), "summary": s.get("summary") or ""}


def sizes_text(sizes: list) -> str:
    """[{"n": 2}, {"n": 3, "m": 1}] -> "n=2; m=1, n=3"."""
    return "; ".join(", ".join(f"{k}={v}" for k, v in p.items()) for p in sizes)


def compact_scope(rec: dict) -> str:
    """One short phrase for listings: the sizes of a checked-at-sizes record, the lemmas of a
    proved-from-lemmas one, "every size" for proved, else ""."""
    s = scope_of(rec)
    st = rec.get("status")
    if st == "checked-at-sizes":
        return f"at {sizes_text(s['sizes'])} only" if s["sizes"] else "sizes not stated"
    if st == "proved-from-lemmas":
        return "from " + ", ".join(lm["id"] for lm in s["lemmas"])
    if st == "proved":
        return "every size"
    return ""


def obligation_scope(ob: dict) -> str:
    """The scope text of one obligation ("for every size", "at n=2", ...), or ""."""
    return str((ob.get("scope") or {}).get("text") or "")


def obligation_method(ob: dict) -> str:
    """"method" or "method; engine" (the engine key may be absent in an old cache)."""
    m = str(ob.get("method") or "")
    e = ob.get("engine")
    return f"{m}; engine {e}" if e and e != m else m


def status_counts(records: dict) -> list[tuple[str, int]]:
    """[(status, count)] in STATUSES order, then any unknown status, zero counts left out."""
    counts: dict = {}
    for r in records.values():
        counts[r.get("status")] = counts.get(r.get("status"), 0) + 1
    known = [(s, counts.pop(s)) for s in STATUSES if s in counts]
    return known + sorted((str(k), v) for k, v in counts.items())


__all__ = ["GROUPS", "STATUSES", "STATUS_MEANING", "group_of", "group_title", "reading_order", "chapters",
           "display_title", "status_label", "status_meaning", "verdict_label", "scope_of", "sizes_text",
           "compact_scope", "obligation_scope", "obligation_method", "status_counts", "registration_order"]
