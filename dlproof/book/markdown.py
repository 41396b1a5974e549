"""The Markdown books: reports/derivations.md (every derivation) and reports/claims.md (the ledger).

Math is written as ``$$ ... $$`` display blocks on their own lines and ``$...$`` inline, which GitHub,
GitLab, VS Code and Jupyter render. Every derivation id is an HTML anchor (``<a id="ID"></a>``) in both
books, so ``derivations.md#lstm.cell.dc_dc_prev`` and ``claims.md#lstm.cell.dc_dc_prev`` resolve; every
claim id is an anchor in claims.md. Output is deterministic (no dates, sorted maps).
"""
from __future__ import annotations

import json

CONVENTIONS = ("Conventions: column vectors; numerator-layout Jacobians $(\\partial y/\\partial x)_{ij} = "
               "\\partial y_i/\\partial x_j$; products across time latest-left, "
               "$\\partial h_t/\\partial h_k = J_t J_{t-1} \\cdots J_{k+1}$; "
               "gate order i, f, g, o (LSTM); GRU z multiplies the previous state.")

#: book order of the id prefixes
GROUPS = (("act", "Activations"), ("rnn", "Vanilla RNN and BPTT"), ("clip", "Gradient clipping"),
          ("lstm", "LSTM"), ("gru", "GRU"), ("bi", "Bidirectional RNNs"), ("mlp", "Backpropagation (MLP)"),
          ("resnet", "Residual networks"), ("bn", "Batch normalization"), ("dropout", "Dropout"),
          ("attn", "Attention"), ("conv", "Convolution"), ("uat", "Universal approximation"),
          ("ntk", "Neural tangent kernel"))

BADGE = {"proved-under-conditions": "proved under conditions", "not-a-mathematical-claim": "not a mathematical claim",
         "evidence-missing": "EVIDENCE MISSING"}


def ordered_ids(records: dict) -> list[str]:
    """Ids in book order: by group (GROUPS, then the rest), sorted within a group."""
    rank = {p: i for i, (p, _) in enumerate(GROUPS)}
    return sorted(records, key=lambda r: (rank.get(r.split(".")[0], len(GROUPS)), r))


def group_title(prefix: str) -> str:
    return dict(GROUPS).get(prefix, prefix)


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
    return ["$$", latex.strip(), "$$", ""]


def derivation_section(rec: dict, conformance: dict | None = None, claims_citing: list | None = None,
                       heading: str = "###") -> str:
    """One derivation: anchor, statement, steps, conventions, proof status, citation, implementations."""
    rid = rec["id"]
    lines = [f'<a id="{rid}"></a>', "", f"{heading} {rec['title']}", "",
             f"`{rid}` · {rec['kind']} · **{BADGE.get(rec['status'], rec['status'])}**", "", "Statement:", ""]
    lines += _display(rec["latex"])
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
        lines.append(f"- {o['statement']}: **{o['status']}** ({o['method']})")
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


def claims_citing(ledger: list[dict]) -> dict:
    out: dict = {}
    for e in ledger:
        for d in e["derivations"]:
            out.setdefault(d, []).append(e["id"])
    return out


def derivations_book(records: dict, ledger: list[dict], conformance: dict) -> str:
    """reports/derivations.md."""
    ids = ordered_ids(records)
    counts = {}
    for r in records.values():
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    cite = claims_citing(ledger)
    lines = ["# dlproof: the derivations book", "",
             "Every formula of the RNN/LSTM chapter and of the module's other documents (backpropagation, residual "
             "networks, batch normalization, dropout, attention, convolution, universal approximation, the neural "
             "tangent kernel), derived with SymPy and proved by an exact symbolic check. "
             "Generated by `dlproof report` (a test keeps it fresh); `dlproof derive ID` prints one. "
             "Cite a derivation by its id, e.g. `derivations.md#lstm.cell.dc_dc_prev`.", "",
             CONVENTIONS, "",
             f"{len(records)} records: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + ".", "",
             "## Contents", ""]
    prev = None
    for rid in ids:
        g = rid.split(".")[0]
        if g != prev:
            lines.append(f"- **{group_title(g)}**")
            prev = g
        lines.append(f"  - [`{rid}`](#{rid}): {records[rid]['title']} ({records[rid]['status']})")
    lines.append("")
    prev = None
    for rid in ids:
        g = rid.split(".")[0]
        if g != prev:
            lines += [f"## {group_title(g)}", ""]
            prev = g
        lines.append(derivation_section(records[rid], conformance, cite.get(rid)))
    return "\n".join(lines).rstrip() + "\n"


def claim_section(e: dict) -> str:
    lines = [f'<a id="{e["id"]}"></a>', "", f"### {e['english']}", "",
             f"`{e['id']}` · **{BADGE.get(e['verdict'], e['verdict'])}**", "",
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
        lines.append(f"| [`{e['id']}`](#{e['id']}) | {BADGE.get(e['verdict'], e['verdict'])} | {e['section']} |")
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
        lines.append(f'- <a id="{rid}"></a>[`{rid}`](derivations.md#{rid}) ({records[rid]["status"]}): {where}')
    return "\n".join(lines).rstrip() + "\n"
