"""Command line: ``dlproof report``, ``conform TARGET``, ``targets``, ``derive [ID]``, ``claims``,
``derivations``, ``summaries``, ``export-golden DIR``, ``repro FILE``.

``report`` is the main job: it runs the conformance suite (``pytest --pyargs dlproof.properties``) on
the selected targets and writes correctness.md/.json (default reports/latest/), then regenerates the
committed artifacts of reports/ (derivations book, claims ledger, figures, HTML book).
"""
from __future__ import annotations

import argparse
import json
import os
import sys


def _writable(folder: str, what: str) -> bool:
    from dlproof.book.files import ReportDirError, ensure_dir

    try:
        ensure_dir(folder)
    except ReportDirError as exc:
        print(f"dlproof {what}: {exc}", file=sys.stderr)
        return False
    return True


def _report(args) -> int:
    import pytest

    if not (_writable(args.report, "report") and _writable(args.out, "report")):
        return 2
    code = 0
    if not args.skip_suite:
        code = _run_suite(args)
    from dlproof.book.build import build_all

    written = build_all(args.out, figures=not args.no_figures)
    print(f"dlproof: regenerated in {args.out}/: " + ", ".join(p.name for p in written))
    return code


def _run_suite(args) -> int:
    import pytest

    argv = ["--pyargs", "dlproof.properties", "-q", "-p", "no:cacheprovider", "--import-mode=importlib",
            "-W", "ignore::pytest.PytestAssertRewriteWarning",
            "--dlproof-profile", args.profile,
            f"--report={args.report}", "-o", "addopts="]
    for t in args.target or []:
        argv += ["--target", t]
    code = pytest.main(argv)
    print(f"dlproof: report written to {args.report}/correctness.md and correctness.json")
    return int(code)


def _conform(args) -> int:
    """The whole suite on one target: progress, a summary table, the report; non-zero on any failure."""
    import pytest

    argv = ["--pyargs", "dlproof.properties", "-p", "no:cacheprovider", "--import-mode=importlib", "-o", "addopts=",
            "-W", "ignore::pytest.PytestAssertRewriteWarning",
            "--target", args.target, "--dlproof-profile", args.profile, f"--report={args.report}",
            "--dlproof-call-timeout", str(args.call_timeout), "-q"]
    if args.isolate:
        argv.append("--dlproof-isolate")
    code = int(pytest.main(argv))
    path = os.path.join(args.report, "correctness.json")
    if not os.path.exists(path):
        print(f"dlproof conform: no report was written ({path}); pytest exited with {code}", file=sys.stderr)
        return code or 2
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    print(summary_table(report))
    bad = report["summary"]["fail"] + report["summary"]["error"]
    return 1 if bad or code not in (0, 5) else 0


def summary_table(report: dict) -> str:
    """property | verdict | examples | worst error / tolerance, then repro commands of the failures."""
    rows = [("property", "verdict", "examples", "worst err/tol")]
    for r in report["results"]:
        w = "" if r["worst_error_ratio"] is None else f"{r['worst_error_ratio']:.3g}"
        rows.append((r["property"], r["verdict"], str(r["examples"]), w))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    s = report["summary"]
    lines.append(f"\n{s['pass']} pass, {s['fail']} fail, {s['error']} error, {s['not provided']} not provided")
    for r in report["results"]:
        if r.get("repro"):
            lines.append(f"repro {r['property']}: {r['repro']['command']}")
    return "\n".join(lines)


def _targets(args) -> int:
    from dlproof.loader import BUILTINS, TargetLoadError, load_target

    for name in BUILTINS:
        try:
            t = load_target(name)
        except TargetLoadError as exc:
            print(f"{name:28s} unavailable: {exc}")
            continue
        declared = ", ".join(f"{k}={v}" for k, v in t.conventions.items())
        print(f"{name:28s} {t.name} [{t.dtype}]\n{'':28s} provides: {', '.join(t.capabilities)}\n"
              f"{'':28s} conventions: {declared or 'exact math'}")
    return 0


def _summaries(args) -> int:
    from dlproof import conformance
    from dlproof.loader import BUILTINS, TargetLoadError, load_target

    specs = args.targets or list(BUILTINS)
    for spec in specs:
        try:
            load_target(spec)
        except TargetLoadError as exc:
            print(f"{spec}: skipped ({exc})")
            continue
        s = conformance.run(spec, args.dir)
        verdicts = [v["verdict"] for v in s["properties"].values()]
        print(f"{spec}: {verdicts.count('pass')} pass, {verdicts.count('fail')} fail, {verdicts.count('error')} error")
    return 0


def _sweep(args) -> int:
    from pathlib import Path

    from dlproof import sweep
    from dlproof.loader import TargetLoadError, load_target

    if args.seeds < 1 or args.jobs < 1:
        print("dlproof sweep: --seeds and --jobs must be >= 1", file=sys.stderr)
        return 2
    specs = args.targets or sweep.default_specs()
    for spec in specs:
        try:
            load_target(spec)
        except TargetLoadError as exc:
            print(f"dlproof sweep: {exc}", file=sys.stderr)
            return 2
    out = Path(args.out)
    res = sweep.sweep(specs, range(args.first_seed, args.first_seed + args.seeds), args.jobs, out,
                      progress=lambda line: print(line, flush=True))
    sweep.write(res, out)
    print(f"dlproof sweep: {res['failures']} failure(s) over {len(specs)} target(s) x {args.seeds} seed(s); "
          f"report in {out / 'sweep.md'}")
    return 1 if res["failures"] else 0


def _golden(args) -> int:
    from dlproof.golden import export_golden

    manifest = export_golden(args.dir, seed=args.seed)
    print(f"dlproof: {len(manifest['cases'])} golden cases written to {args.dir} (format: {args.dir}/README.md)")
    return 0


def derivation_latex(rec: dict) -> str:
    """A derivation as a LaTeX fragment for lecture notes; wrap it in `dlproof.book.latex.PREAMBLE`
    (``dlproof derive --latex-preamble``) and it compiles with pdflatex."""
    from dlproof.book.latex import derivation_fragment

    return derivation_fragment(rec)


def derivation_text(rec: dict) -> str:
    """A derivation as plain text: title, status with its meaning and scope, formula, obligations, source."""
    from dlproof.book import present

    st = rec["status"]
    sc = present.scope_of(rec)
    meaning = present.status_meaning(st)
    lines = [f"{rec['id']}  [{rec['kind']}, {st}]", present.display_title(rec)]
    if meaning:
        lines.append(f"status: {present.status_label(st)}: {meaning}")
    lines += ["", "  " + rec["latex"]]
    if sc["summary"]:
        lines.append("scope: " + sc["summary"])
    if sc["parameters"]:
        lines.append("ranges over: " + ", ".join(sc["parameters"]))
    for lm in sc["lemmas"]:
        lines.append(f"lemma {lm['id']} (cited, not proved here): {lm['statement']} [{lm.get('reference', '')}]")
    for step in rec.get("steps", []):
        lines.append("  = " + step if not step.lstrip().startswith("=") else "  " + step)
    for a in rec["assumptions"]:
        lines.append(f"assumes: {a}")
    for o in rec["obligations"]:
        where = present.obligation_scope(o)
        lines.append(f"  [{o['status']}] {o['statement']}" + (f" [{where}]" if where else "")
                     + f" ({present.obligation_method(o)})")
    lines.append(f"source: {rec['citation']['seed']}; primary: {rec['citation']['primary']}")
    return "\n".join(lines) + "\n"


def derivation_json(rec: dict) -> str:
    """The record as JSON, plus two derived keys: display_title and status_meaning."""
    from dlproof.book import present

    out = dict(rec, display_title=present.display_title(rec), status_meaning=present.status_meaning(rec["status"]))
    return json.dumps(out, indent=1, ensure_ascii=False)


def derivation_line(rec: dict) -> str:
    """One listing line: status, id, title as read, and the scope in short (sizes, lemmas)."""
    from dlproof.book import present

    scope = present.compact_scope(rec)
    return (f"{rec['status']:<18} {rec['id']:<45} {present.display_title(rec)}"
            + (f"  [{scope}]" if scope and rec["status"] != "proved" else ""))


def _derive(args) -> int:
    from dlproof.derivations import record, records

    if args.latex_preamble:
        from dlproof.book.latex import PREAMBLE

        print(PREAMBLE, end="")
        return 0
    if args.id is None:
        from dlproof.book.present import reading_order

        recs = records()
        for rid in reading_order(recs):
            print(derivation_line(recs[rid]))
        return 0
    try:
        rec = record(args.id)
    except KeyError as exc:
        print(f"dlproof derive: {exc.args[0]}", file=sys.stderr)
        return 2
    if args.json:
        print(derivation_json(rec))
    elif args.format == "latex":
        from dlproof.book.latex import document

        print(document([derivation_latex(rec)]) if args.standalone else derivation_latex(rec), end="")
    elif args.format == "text":
        print(derivation_text(rec), end="")
    else:
        from dlproof.book.markdown import derivation_section

        print(derivation_section(rec))
    return 0


def _claims(args) -> int:
    from dlproof import ledger

    entries = ledger.evaluate(args.reports)
    print(json.dumps(entries, indent=1, ensure_ascii=False) if args.json else ledger.text_table(entries))
    return 1 if any(e["verdict"] == "evidence-missing" for e in entries) else 0


def derivations_index(recs: dict) -> str:
    """The committed, deterministic index of derivations (reports/derivations-index.md), in reading order."""
    from dlproof.book import present

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


def _list(args) -> int:
    from dlproof.book.present import reading_order
    from dlproof.derivations import records

    if args.markdown:
        print(derivations_index(records()), end="")
        return 0
    recs = records()
    for rid in reading_order(recs):
        print(derivation_line(recs[rid]))
    return 0


def _repro(args) -> int:
    from dlproof.loader import TargetLoadError
    from dlproof.properties.harness import replay

    try:
        out = replay(args.file)
    except (OSError, KeyError, ValueError, TargetLoadError) as exc:  # a refused target spec too: exit 2, not 1 ("fail")
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
    r.add_argument("--report", default="reports/latest", help="run report folder (default: reports/latest)")
    r.add_argument("--out", default="reports", help="folder of the committed artifacts (default: reports)")
    r.add_argument("--skip-suite", action="store_true", help="only regenerate the books and figures")
    r.add_argument("--no-figures", action="store_true", help="keep the committed figures (no matplotlib run)")
    r.set_defaults(fn=_report)
    d = sub.add_parser("derive", help="print one derivation by id (Markdown, LaTeX or text); no id: list them")
    d.add_argument("id", nargs="?")
    d.add_argument("--format", default="md", choices=("md", "latex", "text"))
    d.add_argument("--json", action="store_true", help="the whole record as JSON (plus display_title, status_meaning)")
    d.add_argument("--standalone", action="store_true", help="with --format latex: a complete pdflatex document")
    d.add_argument("--latex-preamble", action="store_true",
                   help="print the LaTeX preamble the --format latex fragments compile with, and exit")
    d.set_defaults(fn=_derive)
    cl = sub.add_parser("claims", help="print the claims ledger with verdicts computed from the evidence")
    cl.add_argument("--json", action="store_true")
    cl.add_argument("--reports", default=None, help="folder with conformance/ and performance.json "
                                                   "(default: the project's reports/)")
    cl.set_defaults(fn=_claims)
    ls = sub.add_parser("derivations", help="list every derivation id with its status")
    ls.add_argument("--markdown", action="store_true", help="the Markdown index committed as reports/derivations-index.md")
    ls.set_defaults(fn=_list)
    c = sub.add_parser("conform", help="run the whole property suite against one target")
    c.add_argument("target", help="built-in name (see `dlproof targets`) or module:attr")
    c.add_argument("--profile", default="ci", choices=("dev", "ci", "thorough"))
    c.add_argument("--report", default="reports/latest", help="output folder (default: reports/latest)")
    c.add_argument("--isolate", action="store_true", help="run the target in a worker subprocess (catches hangs in C code)")
    c.add_argument("--call-timeout", type=float, default=30.0, help="seconds per capability call (default 30)")
    c.set_defaults(fn=_conform)
    sub.add_parser("targets", help="list the built-in targets and what each provides").set_defaults(fn=_targets)
    sm = sub.add_parser("summaries", help="regenerate the committed conformance summaries (reports/conformance)")
    sm.add_argument("dir", nargs="?", default="reports/conformance")
    sm.add_argument("--targets", nargs="*", help="built-in names (default: all available)")
    sm.set_defaults(fn=_summaries)
    g = sub.add_parser("export-golden", help="write language-neutral golden vectors (npz + JSON) to DIR")
    g.add_argument("dir")
    g.add_argument("--seed", type=int, default=0)
    g.set_defaults(fn=_golden)
    sw = sub.add_parser("sweep", help="the suite on targets under many Hypothesis seeds: any failure is a false alarm "
                                      "on a correct target")
    sw.add_argument("targets", nargs="*", help="specs (default: every available built-in except CUDA ones)")
    sw.add_argument("--seeds", type=int, default=20, help="number of seeds (default 20)")
    sw.add_argument("--first-seed", type=int, default=1, help="the first seed (default 1)")
    sw.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    sw.add_argument("--out", default="reports/latest/sweep", help="output folder (default: reports/latest/sweep)")
    sw.set_defaults(fn=_sweep)
    rp = sub.add_parser("repro", help="replay a saved failing example (.npz from a report)")
    rp.add_argument("file")
    rp.set_defaults(fn=_repro)
    args = ap.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    raise SystemExit(main())
