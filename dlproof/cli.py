"""Command line: ``dlproof report``, ``dlproof derive ID``, ``dlproof derivations``, ``dlproof repro FILE``.

``report`` is the main job: it runs the conformance suite (``pytest --pyargs dlproof.properties``) on
the selected targets and writes correctness.md/.json (default reports/latest/).
"""
from __future__ import annotations

import argparse
import json
import sys


def _report(args) -> int:
    import pytest

    argv = ["--pyargs", "dlproof.properties", "-q", "-p", "no:cacheprovider", "--import-mode=importlib",
            "--dlproof-profile", args.profile,
            "--report", args.report, "-o", "addopts="]
    for t in args.target or []:
        argv += ["--target", t]
    code = pytest.main(argv)
    print(f"dlproof: report written to {args.report}/correctness.md and correctness.json")
    return int(code)


def derivation_markdown(rec: dict) -> str:
    """A derivation as Markdown with display LaTeX, for teaching and citation."""
    lines = [f"### {rec['title']}", "", f"`{rec['id']}` · {rec['kind']} · **{rec['status']}**", "",
             f"$$ {rec['latex']} $$", ""]
    if rec.get("layout"):
        lines += [f"Layout: {rec['layout']}.", ""]
    if rec["assumptions"]:
        lines += ["Assumptions:"] + [f"- {a}" for a in rec["assumptions"]] + [""]
    lines += ["Proof obligations (exact checks):"]
    for o in rec["obligations"]:
        lines.append(f"- {o['statement']}: {o['status']} ({o['method']})")
    if rec.get("counterexample"):
        lines += ["", f"Counterexample: `{json.dumps(rec['counterexample'])}`"]
    if rec.get("notes"):
        lines += ["", rec["notes"]]
    lines += ["", f"Source: {rec['citation']['seed']}. Primary: {rec['citation']['primary']}.", ""]
    return "\n".join(lines)


def _derive(args) -> int:
    from dlproof.derivations import record

    try:
        rec = record(args.id)
    except KeyError as exc:
        print(f"dlproof derive: {exc.args[0]}", file=sys.stderr)
        return 2
    print(json.dumps(rec, indent=1, ensure_ascii=False) if args.json else derivation_markdown(rec))
    return 0


def _list(args) -> int:
    from dlproof.derivations import records

    for rid, rec in sorted(records().items()):
        print(f"{rec['status']:<10} {rid:<45} {rec['title']}")
    return 0


def _repro(args) -> int:
    from dlproof.properties.harness import replay

    try:
        out = replay(args.file)
    except (OSError, KeyError, ValueError) as exc:
        print(f"dlproof repro: cannot replay {args.file}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(out, indent=1, default=str))
    return 0 if out["verdict"] == "pass" else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="dlproof", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("report", help="run the conformance suite and write the correctness report")
    r.add_argument("--target", action="append", help="built-in name or module:attr (repeatable; default: all built-ins)")
    r.add_argument("--profile", default="ci", choices=("dev", "ci", "thorough"))
    r.add_argument("--report", default="reports/latest", help="output folder (default: reports/latest)")
    r.set_defaults(fn=_report)
    d = sub.add_parser("derive", help="print one derivation (Markdown + LaTeX) by id")
    d.add_argument("id")
    d.add_argument("--json", action="store_true")
    d.set_defaults(fn=_derive)
    sub.add_parser("derivations", help="list every derivation id with its status").set_defaults(fn=_list)
    rp = sub.add_parser("repro", help="replay a saved failing example (.npz from a report)")
    rp.add_argument("file")
    rp.set_defaults(fn=_repro)
    args = ap.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    raise SystemExit(main())
