"""The claims ledger, evaluated: each claim of the source gets a verdict computed from its evidence.

Evidence is run, never typed in:

- derivations: their proof status (`dlproof.derivations.records()`, cached proofs keyed by the source);
- properties: their verdicts in the committed conformance summaries (reports/conformance/*.json, kept in
  step with the code by a test): a property counts when it passes on some built-in and fails on none;
- measurements: the committed benchmark results (reports/performance.json); nothing is timed here.

The evidence is project data, not package data (an installed wheel has no reports/), so it is found where
the command runs: the folder given (``dlproof claims --reports DIR``, `dlproof.book.build` passes its output
folder), else ./reports, else a `ReportsNotFound` error that says so.

Verdicts: ``refuted`` (every ``refuted_by`` record is refuted), ``measured`` (the benchmark result is
present), ``definition`` (the claim is a definition and its records are consistent definitions),
``not-a-mathematical-claim`` (with the reason and literature), or ``evidence-missing`` when any piece of
evidence is absent or failing (a test fails on it). A claim that rests on ``proves`` records gets the
*weakest* status among them, so a claim is never stronger than its evidence:

- ``proved`` / ``proved-under-conditions``: every record is proved for every size (or a definition);
  "under conditions" when the claim states hypotheses the source leaves out;
- ``proved-from-lemmas``: some record rests on cited lemmas (none is weaker);
- ``checked-at-sizes``: some record is checked at stated sizes only.
"""
from __future__ import annotations

import json
from pathlib import Path

VERDICTS = ("proved", "proved-under-conditions", "proved-from-lemmas", "checked-at-sizes", "refuted", "measured",
            "definition", "not-a-mathematical-claim", "evidence-missing")

#: derivation statuses a ``proves`` record may have, strongest first (the claim takes the weakest)
SUPPORTING = ("definition", "proved", "proved-from-lemmas", "checked-at-sizes")


class ReportsNotFound(FileNotFoundError):
    """The folder of committed evidence (conformance/, performance.json) does not exist."""


def reports_folder(reports_dir=None) -> Path:
    """The folder of committed evidence: ``reports_dir``, else ``reports/`` of the current directory (like every
    other default of the command line: ``dlproof report --out reports``); `ReportsNotFound` when it is absent."""
    rdir = Path("reports" if reports_dir is None else reports_dir)
    if not rdir.is_dir():
        raise ReportsNotFound(f"no reports folder at {str(rdir.resolve())!r}: run from the project's root (the folder "
                              f"with reports/) or name the folder (dlproof claims --reports DIR)")
    return rdir


def property_verdicts(reports_dir) -> dict:
    """{property id: [verdict on each committed built-in summary]} from reports/conformance/*.json."""
    out: dict = {}
    for path in sorted(Path(reports_dir, "conformance").glob("*.json")):
        summary = json.loads(path.read_text(encoding="utf-8"))
        for pid, v in summary.get("properties", {}).items():
            out.setdefault(pid, []).append(v["verdict"])
    return out


def _measurement(perf: dict | None, key: str) -> tuple[dict | None, list]:
    if perf is None:
        return None, ["reports/performance.json is missing (run: python benchmarks/performance.py)"]
    results = perf.get("results", {})
    if key not in results:
        return None, [f"reports/performance.json has no results[{key!r}]"]
    summary = perf.get("summary", {})
    ratios = summary.get("gru_over_lstm_step_time", {}) if key == "gru_vs_lstm" else {}
    text = ""
    if ratios:
        lo, hi = min(ratios.values()), max(ratios.values())
        faster = sum(1 for r in ratios.values() if r < 1)
        text = (f"GRU / LSTM time per training step (forward + full backward, equal sizes): "
                f"{lo:.2f} to {hi:.2f} over {len(ratios)} configurations; the GRU step is faster in "
                f"{faster} of {len(ratios)}")
    return {"key": key, "ratios": ratios, "summary": text,
            "machine": perf.get("machine"), "versions": perf.get("versions")}, []


def evaluate_claim(claim, records: dict, pverdicts: dict, perf: dict | None) -> dict:
    """One claim -> its ledger entry (JSON-ready), verdict computed from the evidence."""
    problems: list[str] = []

    def status(rid):
        if rid not in records:
            problems.append(f"derivation {rid!r} does not exist")
            return None
        return records[rid]["status"]

    proves = {rid: status(rid) for rid in claim.proves}
    refuted = {rid: status(rid) for rid in claim.refuted_by}
    for rid in claim.context:
        if status(rid) == "undecided":
            problems.append(f"context derivation {rid!r} is undecided")
    for rid, s in proves.items():
        if s is not None and s not in SUPPORTING:
            problems.append(f"derivation {rid!r} is {s}, neither proved, checked nor a definition")
    for rid, s in refuted.items():
        if s is not None and s != "refuted":
            problems.append(f"refutation {rid!r} is {s}, not refuted")
    for pid in claim.properties:
        vs = pverdicts.get(pid)
        if not vs:
            problems.append(f"property {pid!r} has no committed conformance verdict")
        elif "pass" not in vs or "fail" in vs or "error" in vs:
            problems.append(f"property {pid!r} does not pass on the built-ins ({sorted(set(vs))})")
    measurement = None
    if claim.measure:
        measurement, more = _measurement(perf, claim.measure)
        problems += more
    roles = [bool(claim.refuted_by), bool(claim.measure), bool(claim.proves), bool(claim.not_math)]
    if sum(roles) == 0:
        problems.append("no evidence: give proves, refuted_by, measure or not_math")
    if claim.not_math and (claim.proves or claim.refuted_by or claim.measure):
        problems.append("a claim that is not mathematical cannot also be proved, refuted or measured: cite its "
                        "records as context")
    if claim.not_math and not claim.literature and "self-assessment" not in claim.not_math:
        problems.append("a not-a-mathematical-claim verdict needs literature")

    if problems:
        verdict = "evidence-missing"
    elif claim.refuted_by:
        verdict = "refuted"
    elif claim.measure:
        verdict = "measured"
    elif claim.proves:
        weakest = max(proves.values(), key=SUPPORTING.index)
        if weakest == "definition":
            verdict = "definition"
        elif weakest == "proved":
            verdict = "proved-under-conditions" if claim.conditions else "proved"
        else:
            verdict = weakest
    else:
        verdict = "not-a-mathematical-claim"
    counterexample = next(({"derivation": r, "latex": records[r].get("latex", ""),
                            "explanation": records[r].get("notes", ""), "point": records[r].get("counterexample")}
                           for r in claim.refuted_by if r in records), None)
    return {
        "id": claim.id, "section": claim.section, "quote": claim.quote, "english": claim.english,
        "verdict": verdict, "conditions": list(claim.conditions), "explanation": claim.explanation,
        "derivations": list(dict.fromkeys(claim.refuted_by + claim.proves + claim.context)),
        "properties": list(claim.properties), "measurement": measurement,
        "not_math": claim.not_math or None, "counterexample": counterexample,
        "literature": list(claim.literature), "problems": problems,
    }


def evaluate(reports_dir=None, records: dict | None = None) -> list[dict]:
    """The whole ledger, in the source's order, from the evidence in ``reports_dir`` (`reports_folder`)."""
    from dlproof.derivations import records as all_records
    from dlproof.derivations.claims import claims

    rdir = reports_folder(reports_dir)
    recs = records if records is not None else all_records()
    perf_path = rdir / "performance.json"
    perf = json.loads(perf_path.read_text(encoding="utf-8")) if perf_path.exists() else None
    pverdicts = property_verdicts(rdir)
    return [evaluate_claim(c, recs, pverdicts, perf) for c in claims()]


def text_table(ledger: list[dict]) -> str:
    """``dlproof claims``: one line per claim, then the counts."""
    w = max(len(e["id"]) for e in ledger)
    lines = [f"{e['verdict']:<26} {e['id']:<{w}}  {e['english']}" for e in ledger]
    for e in ledger:
        for p in e["problems"]:
            lines.append(f"  ! {e['id']}: {p}")
    counts = {v: sum(e["verdict"] == v for e in ledger) for v in VERDICTS}
    lines.append("\n" + ", ".join(f"{n} {v}" for v, n in counts.items() if n))
    return "\n".join(lines)
