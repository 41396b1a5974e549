"""Result rows collected during a run (one per target x property) and the report writer.

Under pytest-xdist each worker writes its rows to a shard file; the controller merges them.
"""
from __future__ import annotations

import json
import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

SCHEMA_VERSION = 1
VERDICTS = ("pass", "fail", "error", "not provided")
ROWS: list[dict] = []


def add(row: dict) -> None:
    assert row["verdict"] in VERDICTS, row
    ROWS.append(row)


def _v(pkg: str):
    try:
        return version(pkg)
    except PackageNotFoundError:
        return None


def provenance(seed, profile: str, targets: dict) -> dict:
    from .tolerances import TOLERANCE_FORMULA

    return {
        "versions": {"python": platform.python_version(), **{p: _v(p) for p in
                     ("dlproof", "numpy", "sympy", "hypothesis", "pytest", "torch", "keras", "jax", "flax", "optax")}},
        "platform": platform.platform(),
        "seed": seed,
        "profile": profile,
        "tolerance_model": TOLERANCE_FORMULA,
        "targets": targets,
        "command": " ".join(["pytest"] + sys.argv[1:]),
    }


def build_report(rows: list, prov: dict) -> dict:
    from dlproof.derivations import records

    rows = sorted(rows, key=lambda r: (r["target"], r["property"]))
    summary = {v: sum(1 for r in rows if r["verdict"] == v) for v in VERDICTS}
    recs = records()
    used = sorted({d for r in rows for d in r["derivations"]})
    return {
        "schema_version": SCHEMA_VERSION,
        "provenance": prov,
        "summary": summary,
        "results": rows,
        "derivations": {d: {"status": recs[d]["status"], "title": recs[d]["title"],
                            "scope": recs[d].get("scope", {}).get("summary", "")} if d in recs else
                        {"status": "missing", "title": None} for d in used},
    }


def markdown(report: dict) -> str:
    p = report["provenance"]
    lines = ["# dlproof correctness report", "",
             f"Profile `{p['profile']}`, seed `{p['seed']}`; " +
             ", ".join(f"{k} {v}" for k, v in p["versions"].items() if v) + ".", "",
             "Summary: " + ", ".join(f"{v} {k}" for k, v in report["summary"].items()) + ".", "",
             f"Tolerance model: {p['tolerance_model']}.", "", "## Targets", ""]
    for spec, t in p["targets"].items():
        lines.append(f"- `{spec}`: {t['name']}, {t['dtype']}, conventions {t['conventions']}")
    lines += ["", "## Results", "", "| target | property | verdict | examples | worst error / tol | derivations |",
              "|---|---|---|---|---|---|"]
    for r in report["results"]:
        w = "" if r["worst_error_ratio"] is None else f"{r['worst_error_ratio']:.3g}"
        lines.append(f"| `{r['target']}` | `{r['property']}` | **{r['verdict']}** | {r['examples']} | {w} | "
                     + ", ".join(f"`{d}`" for d in r["derivations"]) + " |")
    bad = [r for r in report["results"] if r["verdict"] in ("fail", "error")]
    if bad:
        lines += ["", "## Failures", ""]
        for r in bad:
            lines.append(f"- `{r['target']}` :: `{r['property']}` ({r['verdict']}): {r['message']}")
            if r.get("repro"):
                lines.append(f"  - repro: `{r['repro']['command']}`")
    lines += ["", "## Derivations behind these properties", ""]
    for d, info in report["derivations"].items():
        scope = f" {info['scope']}" if info.get("scope") else ""
        lines.append(f"- `{d}`: {info['status']} ({info['title']}).{scope}")
    return "\n".join(lines) + "\n"


def write(report_dir: Path, rows: list, prov: dict) -> dict:
    """Write correctness.json and .md atomically (an interrupted run never leaves half a file)."""
    from dlproof.book.files import write_atomic

    report = build_report(rows, prov)
    write_atomic(report_dir / "correctness.json", json.dumps(report, indent=1, default=str) + "\n")
    write_atomic(report_dir / "correctness.md", markdown(report))
    return report


def write_shard(report_dir: Path, worker: str) -> None:
    d = report_dir / ".shards"
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / f"{worker}.json.tmp"
    tmp.write_text(json.dumps(ROWS, default=str), encoding="utf-8")
    os.replace(tmp, d / f"{worker}.json")


def read_shards(report_dir: Path) -> list:
    d = report_dir / ".shards"
    rows = []
    if d.is_dir():
        for f in sorted(d.glob("*.json")):
            rows += json.loads(f.read_text(encoding="utf-8"))
            f.unlink()
    return rows
