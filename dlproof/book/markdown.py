"""The Markdown books: reports/derivations.md (every derivation), reports/claims.md (the ledger) and
reports/derivations-index.md (one line per derivation, ``dlproof derivations --markdown``).

Display math is written as fenced ```` ```math ```` blocks (GitHub and GitLab render them as math) and
inline math as ``$...$``. Derivations come in reading order (`present.reading_order`: chapters, then the
order the derivation modules declare them); each shows its status with its scope (`present`). Every derivation id is an HTML anchor (``<a id="ID"></a>``) in both
books, so ``derivations.md#lstm.cell.dc_dc_prev`` and ``claims.md#lstm.cell.dc_dc_prev`` resolve; every
claim id is an anchor in claims.md. Output is deterministic (no dates, sorted maps).
"""
from __future__ import annotations

import json
import re

from . import present
from .present import group_title

CONVENTIONS = ("Conventions: column vectors; numerator-layout Jacobians $(\\partial y/\\partial x)_{ij} = "
               "\\partial y_i/\\partial x_j$; products across time latest-left, "
               "$\\partial h_t/\\partial h_k = J_t J_{t-1} \\cdots J_{k+1}$; "
               "gate order i, f, g, o (LSTM); GRU z multiplies the previous state.")

#: kept for callers: the badge text of a few ledger verdicts (every verdict: `present.verdict_label`)
BADGE = {"proved-under-conditions": "proved under conditions", "not-a-mathematical-claim": "not a mathematical claim",
         "evidence-missing": "EVIDENCE MISSING"}


def ordered_ids(records: dict) -> list[str]:
    """Ids in reading order (`present.reading_order`)."""
    return present.reading_order(records)


def conformance_by_derivation(properties: dict, summaries: dict) -> dict:
    """{derivation id: {"properties": [...], "conform": [targets], "deviate": [targets]}}.

    ``properties``: {property id: derivation ids}; ``summaries``: {target: committed summary}. A target
    conforms when every property citing the derivation that it provides passes.
    """
    out: dict = {}
    cited: dict = {}
    for pid, dids in properties.items():
        for d in dids:
            cited.setdefault(d, []).append(pid)
    for d, pids in cited.items():
        conform, deviate = [], []
        for target, s in sorted(summaries.items()):
            vs = [s["properties"].get(p, {}).get("verdict", "not provided") for p in pids]
            provided = [v for v in vs if v != "not provided"]
            if provided and all(v == "pass" for v in provided):
                conform.append(target)
            elif provided:
                deviate.append(target)
        out[d] = {"properties": sorted(pids), "conform": conform, "deviate": deviate}
    return out


def _display(latex: str) -> list[str]:
    """A display formula as a fenced math block (GitHub renders it; no `$$` ambiguity with the text)."""
    return ["```math", latex.strip(), "```", ""]


def scope_lines(rec: dict) -> list[str]:
    """The scope sentence, then the cited lemmas (id, statement, reference), as Markdown lines."""
    sc = present.scope_of(rec)
    lines = []
    if sc["summary"]:
        lines += [f"*Scope:* {sc['summary']}", ""]
    if sc["lemmas"]:
        lines += ["Cited lemmas (the proof rests on them; they are cited, not proved here):", ""]
        lines += [f"- `{lm['id']}`: ${lm['statement']}$ ({lm.get('reference', '')})" for lm in sc["lemmas"]] + [""]
    return lines


def derivation_section(rec: dict, conformance: dict | None = None, claims_citing: list | None = None,
                       heading: str = "###") -> str:
    """One derivation: anchor, title, status, statement with its scope, steps, conventions, obligations
    (each with its scope), citation, implementations."""
    rid = rec["id"]
    st = rec["status"]
    meaning = present.status_meaning(st)
    lines = [f'<a id="{rid}"></a>', "", f"{heading} {present.display_title(rec)}", "",
             f"`{rid}` · {rec['kind']} · **{present.status_label(st)}**" + (f": {meaning}" if meaning else ""), "",
             "Statement:", ""]
    lines += _display(rec["latex"])
    lines += scope_lines(rec)
    if rec.get("steps"):
        lines += ["Derivation (chain-rule steps; the obligations below are the proof):", ""]
        for s in rec["steps"]:
            lines += _display(s)
    if rec.get("layout"):
        lines += [f"Layout: {rec['layout']}.", ""]
    if rec["assumptions"]:
        lines += ["Assumptions:", ""] + [f"- {a}" for a in rec["assumptions"]] + [""]
    lines += ["Proof obligations (exact symbolic checks; numeric agreement is never counted as proof):", ""]
    for o in rec["obligations"]:
        where = present.obligation_scope(o)
        lines.append(f"- {o['statement']}" + (f" [{where}]" if where else "")
                     + f": **{o['status']}** ({present.obligation_method(o)})")
    lines.append("")
    if rec.get("counterexample"):
        lines += [f"Counterexample: `{json.dumps(rec['counterexample'], sort_keys=True)}`", ""]
    if rec.get("notes"):
        lines += [rec["notes"], ""]
    lines += [f"Source: {rec['citation']['seed']}.  ", f"Primary: {rec['citation']['primary']}.", ""]
    if conformance is not None:
        c = conformance.get(rid)
        if c:
            props = ", ".join(f"`{p}`" for p in c["properties"])
            lines.append(f"Implementations checked against it (properties {props}): "
                         f"conform: {', '.join(c['conform']) or 'none'}"
                         + (f"; deviate: {', '.join(c['deviate'])}" if c["deviate"] else "") + ".")
        else:
            lines.append("Implementations: no property cites this record directly; it is checked symbolically "
                         "and through the records that use it.")
        lines.append("")
    if claims_citing:
        lines += ["Claims of the source that cite it: "
                  + ", ".join(f"[`{c}`](claims.md#{c})" for c in claims_citing) + ".", ""]
    return "\n".join(lines)


def link_text(s: str) -> str:
    """Text for a Markdown link: brackets outside ``$...$`` math escaped, so ``[0, inf)`` cannot end it."""
    parts = re.split(r"(\$[^$]+\$)", s)
    return "".join(p if p.startswith("$") and p.endswith("$") and len(p) > 1 else
                   p.replace("[", "\\[").replace("]", "\\]") for p in parts)


def status_legend() -> list[str]:
    """What each status means (Markdown list)."""
    return [f"- **{s}**: {present.STATUS_MEANING[s]}." for s in present.STATUSES]


def claims_citing(ledger: list[dict]) -> dict:
    out: dict = {}
    for e in ledger:
        for d in e["derivations"]:
            out.setdefault(d, []).append(e["id"])
    return out


def derivations_book(records: dict, ledger: list[dict], conformance: dict) -> str:
    """reports/derivations.md."""
    cite = claims_citing(ledger)
    lines = ["# dlproof: the derivations book", "",
             "Every formula of the RNN/LSTM chapter and of the module's other documents (backpropagation, residual "
             "networks, batch normalization, dropout, attention, convolution, universal approximation, the neural "
             "tangent kernel), derived with SymPy and checked by exact symbolic obligations; each record's status "
             "says exactly what they establish. "
             "Generated by `dlproof report` (a test keeps it fresh); `dlproof derive ID` prints one. "
             "Cite a derivation by its id, e.g. `derivations.md#lstm.cell.dc_dc_prev`.", "",
             CONVENTIONS, "",
             f"{len(records)} records: "
             + ", ".join(f"{n} {s}" for s, n in present.status_counts(records)) + ". What each status means:", ""]
    lines += status_legend() + ["", "## Contents", ""]
    for g, ids in present.chapters(records):
        lines.append(f"- **{group_title(g)}**")
        for rid in ids:
            rec = records[rid]
            lines.append(f"  - [{link_text(present.display_title(rec))}](#{rid}) <sub>`{rid}` · "
                         f"{present.status_label(rec['status'])}</sub>")
    lines.append("")
    for g, ids in present.chapters(records):
        lines += [f"## {group_title(g)}", ""]
        for rid in ids:
            lines.append(derivation_section(records[rid], conformance, cite.get(rid)))
    return "\n".join(lines).rstrip() + "\n"


def claim_section(e: dict) -> str:
    lines = [f'<a id="{e["id"]}"></a>', "", f"### {e['english']}", "",
             f"`{e['id']}` · **{present.verdict_label(e['verdict'])}**", "",
             f"> {e['quote']}", ">", f"> {e['english']}", "", e["explanation"], ""]
    if e["conditions"]:
        lines += ["Conditions:", ""] + [f"- {c}" for c in e["conditions"]] + [""]
    cx = e.get("counterexample")
    if cx:
        lines += [f"Counterexample ([`{cx['derivation']}`](derivations.md#{cx['derivation']})):", ""]
        lines += _display(cx["latex"])
        if cx.get("explanation"):
            lines += [cx["explanation"], ""]
        if cx.get("point"):
            lines += [f"Refuting point: `{json.dumps(cx['point'], sort_keys=True)}`", ""]
    if e.get("measurement"):
        m = e["measurement"]
        lines += [f"Measured (reports/performance.json, `results.{m['key']}`): {m['summary'] or 'see the file'}.", ""]
        if m.get("ratios"):
            lines += ["| configuration | GRU / LSTM step time |", "|---|---|"]
            lines += [f"| {k} | {v:.3f} |" for k, v in sorted(m["ratios"].items())] + [""]
    if e.get("not_math"):
        lines += [f"Why not a mathematical claim: {e['not_math']}.", ""]
    if e["derivations"]:
        lines += ["Evidence: " + ", ".join(f"[`{d}`](derivations.md#{d})" for d in e["derivations"]) + ".", ""]
    if e["properties"]:
        lines += ["Checked on implementations by: " + ", ".join(f"`{p}`" for p in e["properties"]) + ".", ""]
    if e["literature"]:
        lines += ["Literature:", ""] + [f"- {x}" for x in e["literature"]] + [""]
    if e["problems"]:
        lines += ["Evidence problems:", ""] + [f"- {p}" for p in e["problems"]] + [""]
    return "\n".join(lines)


def claims_book(ledger: list[dict], records: dict) -> str:
    """reports/claims.md: the ledger, then an evidence index with an anchor for every derivation id."""
    counts: dict = {}
    for e in ledger:
        counts[e["verdict"]] = counts.get(e["verdict"], 0) + 1
    lines = ["# dlproof: the claims ledger", "",
             "Every mathematical or empirical claim of the source's RNN/LSTM chapter, and of the module documents it "
             "names (backpropagation to the neural tangent kernel), quoted in the original "
             "and in English, with a verdict computed from its evidence: derivations (proof status), "
             "properties (committed conformance verdicts) and benchmarks (reports/performance.json). "
             "Generated by `dlproof report`; `dlproof claims` prints it.", "",
             CONVENTIONS, "",
             f"{len(ledger)} claims: " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items())) + ".", "",
             "| claim | verdict | section |", "|---|---|---|"]
    for e in ledger:
        lines.append(f"| [`{e['id']}`](#{e['id']}) | {present.verdict_label(e['verdict'])} | {e['section']} |")
    lines.append("")
    prev = None
    for e in ledger:
        if e["section"] != prev:
            lines += [f"## {e['section']}", ""]
            prev = e["section"]
        lines.append(claim_section(e))
    lines += ["## Evidence index", "",
              "Every derivation id, with the claims it bears on (links go to the derivations book).", ""]
    cite = claims_citing(ledger)
    for rid in ordered_ids(records):
        used = cite.get(rid)
        where = ", ".join(f"[`{c}`](#{c})" for c in used) if used else "no claim of the source cites it directly"
        lines.append(f'- <a id="{rid}"></a>[`{rid}`](derivations.md#{rid}) ({present.status_label(records[rid]["status"])}): {where}')
    return "\n".join(lines).rstrip() + "\n"


def derivations_index(recs: dict) -> str:
    """The committed, deterministic index of derivations (reports/derivations-index.md), in reading order."""
    lines = ["# dlproof derivations: index", "",
             "Generated by `dlproof derivations --markdown`; a test keeps it fresh. "
             "`dlproof derive ID` prints one derivation with its LaTeX, obligations and citation. "
             "Statuses: " + "; ".join(f"**{s}**: {present.STATUS_MEANING[s]}" for s in present.STATUSES) + ".", "",
             "| id | kind | status | scope | title | primary source |", "|---|---|---|---|---|---|"]
    for rid in present.reading_order(recs):
        rec = recs[rid]
        cells = [f"`{rid}`", rec["kind"], rec["status"], present.compact_scope(rec), present.display_title(rec),
                 rec["citation"]["primary"]]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
