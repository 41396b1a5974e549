"""Result rows collected during a run (one per target x property) and the report writer.

A row: target, target_name, property, title, derivations, verdict, examples, worst_error_ratio (of the failing
check for a failure), message, repro, part ("forward" | "backward" | "both" | None: which part of the target is
wrong), likely_bug (a known bug pattern, or None), warnings (the target's warnings, recorded, never errors),
restrictions (the target's declared restrictions relevant to the property), and, when a compiled framework (jax,
torch._dynamo) is loaded, compiles ({framework: {"compiles", "seconds"}} during the property, properties/compiles.py).

Verdicts: pass | fail (the output contradicts a derivation) | error (the target raised or crashed) |
internal-error (dlproof's own bug; the message names dlproof, never the target) | not provided (the target lacks
a capability) | not run (only in a run that was interrupted or aborted).

A report has a top-level ``run``: {id, targets, started, ended, status (complete | interrupted | aborted),
planned_rows}, and ``compiles`` (the rows' compiles summed) when any row has them; ``len(results) ==
run.planned_rows`` always (planned rows that produced nothing are ``not run``).
Under pytest-xdist each worker writes its rows to a shard file in the run folder; the controller merges them.
"""
from __future__ import annotations

import json
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from . import compiles

SCHEMA_VERSION = 1
VERDICTS = ("pass", "fail", "error", "internal-error", "not provided", "not run")
#: verdicts that make `dlproof conform` exit 1
FAILING = ("fail", "error", "internal-error")
STATUSES = ("complete", "interrupted", "aborted")
ROWS: list[dict] = []
_STARTED: dict = {}  # id(row) -> the compile counters when `new_row` made it (until `add`)


def add(row: dict) -> None:
    assert row["verdict"] in VERDICTS, row
    before = _STARTED.pop(id(row), None)
    if before is not None:
        c = compiles.since(before)
        if c:
            row["compiles"] = c
    ROWS.append(row)


def new_row(prop, spec: str, target_name: str, **kw) -> dict:
    """A row for ``prop`` on the target ``spec`` with every key present (verdict still to be set)."""
    row = {"target": spec, "target_name": target_name, "property": prop.id, "title": prop.title,
           "derivations": list(prop.derivations), "verdict": None, "examples": 0, "worst_error_ratio": None,
           "message": None, "repro": None, "part": None, "likely_bug": None, "warnings": [], "restrictions": []}
    row.update(kw)
    if row["verdict"] is None:  # a row about to be run: its compiles are counted until `add`
        _STARTED[id(row)] = compiles.snapshot()
    return row


def not_run_row(prop, spec: str, target_name: str, reason: str) -> dict:
    return new_row(prop, spec, target_name, verdict="not run", message=reason)


def fill_missing(rows: list, planned: list, reason: str) -> list:
    """``rows`` plus a ``not run`` row for every planned (spec, property, target_name) that has none; a planned pair
    with several rows keeps its first. The result has exactly one row per planned pair, in plan order."""
    from .registry import all_properties

    by_key = {}
    for r in rows:
        by_key.setdefault((r["target"], r["property"]), r)
    props = all_properties()
    return [by_key.get((spec, pid)) or not_run_row(props[pid], spec, name, reason) for spec, pid, name in planned]


def _v(pkg: str):
    try:
        return version(pkg)
    except PackageNotFoundError:
        return None


def provenance(seed, profile: str, targets: dict, command: list | None = None) -> dict:
    from .tolerances import TOLERANCE_FORMULA

    return {
        "versions": {"python": platform.python_version(), **{p: _v(p) for p in
                     ("dlproof", "numpy", "ml_dtypes", "sympy", "hypothesis", "pytest", "torch", "keras", "jax", "flax",
                      "optax", "onnx", "onnxruntime")}},
        "platform": platform.platform(),
        "seed": seed,
        "profile": profile,
        "tolerance_model": TOLERANCE_FORMULA,
        "targets": targets,
        "command": " ".join(command if command is not None else ["pytest"] + sys.argv[1:]),
    }


def summarize(rows: list) -> dict:
    return {v: sum(1 for r in rows if r["verdict"] == v) for v in VERDICTS}


def build_report(rows: list, prov: dict, run: dict | None = None) -> dict:
    from dlproof.derivations import records

    rows = sorted(rows, key=lambda r: (r["target"], r["property"]))
    for r in rows:  # rows from older code paths: every key present
        for k, v in (("part", None), ("likely_bug", None), ("warnings", []), ("restrictions", [])):
            r.setdefault(k, v)
    recs = records()
    used = sorted({d for r in rows for d in r["derivations"]})
    report = {
        "schema_version": SCHEMA_VERSION,
        "provenance": prov,
        "summary": summarize(rows),
        "results": rows,
        "derivations": {d: {"status": recs[d]["status"], "title": recs[d]["title"],
                            "scope": recs[d].get("scope", {}).get("summary", "")} if d in recs else
                        {"status": "missing", "title": None} for d in used},
    }
    total = compiles.total(rows)
    if total:
        report["compiles"] = total
    if run is not None:
        report["run"] = dict(run)
    return report


def ratio_text(r: dict) -> str:
    return "" if r.get("worst_error_ratio") is None else f"{r['worst_error_ratio']:.3g}"


def shown(rows: list, show_all: bool = False) -> list:
    """The rows a person reads: every row with ``show_all``, else all but ``not provided``."""
    return list(rows) if show_all else [r for r in rows if r["verdict"] != "not provided"]


def left_out_lines(report: dict, code=lambda s: f"`{s}`") -> list:
    """One line per target that leaves capabilities out on purpose (its ``left_out`` convention): "left out by
    SPEC: cap (why); ..." (its rows are "not provided" and hidden by default, so the reason is said once here)."""
    out = []
    for spec, t in report["provenance"]["targets"].items():
        left = (t.get("conventions") or {}).get("left_out") or {}
        if left:
            out.append(f"left out by {code(spec)}: " + "; ".join(f"{c} ({why})" for c, why in sorted(left.items())))
    return out


def failure_lines(r: dict, bullet: str = "- ", code=lambda s: f"`{s}`", shorten=lambda m: m) -> list:
    """A failing row as lines: what failed and why (``shorten`` applied to the message), the part and likely
    bug when known (the likely bug only if the message does not already say it), the repro command."""
    out = [f"{bullet}{code(r['target'])} :: {code(r['property'])} ({r['verdict']}): {shorten(r['message'] or '')}"]
    pad = " " * len(bullet)
    if r.get("part"):
        out.append(f"{pad}part: {r['part']}")
    if r.get("likely_bug") and r["likely_bug"] not in shorten(r["message"] or ""):
        out.append(f"{pad}likely bug: {r['likely_bug']}")
    if r.get("restrictions"):
        out.append(f"{pad}declared restrictions: {'; '.join(r['restrictions'])}")
    if r.get("repro"):
        out.append(f"{pad}repro: {code(r['repro']['command'])}")
    return out


def markdown(report: dict, show_all: bool = False) -> str:
    p = report["provenance"]
    run = report.get("run")
    lines = ["# dlproof correctness report", ""]
    if run:
        lines += [f"Run `{run['id']}` ({run['status']}), {run['started']} to {run['ended']}; "
                  f"{len(report['results'])} of {run['planned_rows']} planned rows.", ""]
        if run["status"] != "complete":
            lines += [f"**This run is {run['status']}: rows marked `not run` were not checked.**", ""]
    lines += [f"Profile `{p['profile']}`, seed `{p['seed']}`; " +
              ", ".join(f"{k} {v}" for k, v in p["versions"].items() if v) + ".", "",
              "Summary: " + ", ".join(f"{v} {k}" for k, v in report["summary"].items()) + ".", "",
              *([compiles.line(report["compiles"]), ""] if report.get("compiles") else []),
              f"Tolerance model: {p['tolerance_model']}.", "", "## Targets", ""]
    for spec, t in p["targets"].items():
        lines.append(f"- `{spec}`: {t['name']}, {t['dtype']}, conventions {t['conventions']}")
    rows = shown(report["results"], show_all)
    hidden = len(report["results"]) - len(rows)
    lines += ["", "## Results", ""]
    if hidden:
        lines += [f"{hidden} `not provided` rows are not shown (the target lacks a capability; "
                  "`--all` shows them, the JSON has every row).", ""]
    left_out = left_out_lines(report)
    lines += [f"- {line}" for line in left_out] + ([""] if left_out else [])
    lines += ["| target | property | verdict | examples | worst error / tol | derivations |", "|---|---|---|---|---|---|"]
    for r in rows:
        extra = f" ({'; '.join(r['restrictions'])})" if r.get("restrictions") else ""
        lines.append(f"| `{r['target']}` | `{r['property']}` | **{r['verdict']}**{extra} | {r['examples']} | "
                     f"{ratio_text(r)} | " + ", ".join(f"`{d}`" for d in r["derivations"]) + " |")
    bad = [r for r in report["results"] if r["verdict"] in FAILING]
    if bad:
        lines += ["", "## Failures", ""]
        for r in bad:
            lines += failure_lines(r, "- ", lambda s: f"`{s}`")
    warned = [r for r in report["results"] if r.get("warnings")]
    if warned:
        lines += ["", "## Warnings raised by the target (recorded, not errors)", ""]
        for r in warned:
            lines.append(f"- `{r['target']}` :: `{r['property']}`: " + "; ".join(r["warnings"]))
    lines += ["", "## Derivations behind these properties", ""]
    for d, info in report["derivations"].items():
        scope = f" {info['scope']}" if info.get("scope") else ""
        lines.append(f"- `{d}`: {info['status']} ({info['title']}).{scope}")
    return "\n".join(lines) + "\n"


def dumps(report: dict) -> str:
    return json.dumps(report, indent=1, default=str) + "\n"


def write(report_dir: Path, rows: list, prov: dict, run: dict | None = None) -> dict:
    """Write correctness.json and .md into ``report_dir`` atomically (no run folder: see `publish`)."""
    from dlproof.atomic import write_atomic

    report = build_report(rows, prov, run)
    write_atomic(Path(report_dir) / "correctness.json", dumps(report))
    write_atomic(Path(report_dir) / "correctness.md", markdown(report))
    return report


def publish(run_folder, rows: list, prov: dict, run: dict, show_all: bool = False) -> dict:
    """The run's report into its run folder, then swapped in at the top of the report folder (dlproof.runfolder)."""
    report = build_report(rows, prov, run)
    run_folder.publish({"correctness.json": dumps(report), "correctness.md": markdown(report, show_all)})
    return report
