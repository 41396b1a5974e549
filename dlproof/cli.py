"""Command line: ``dlproof report``, ``conform TARGET``, ``targets``, ``derive [ID]``, ``claims``,
``derivations``, ``summaries``, ``export-golden DIR``, ``repro FILE``.

``report`` is the main job: it runs the conformance suite on the selected targets (the supervised runner,
`dlproof.runner`; no pytest) into a fresh run folder of reports/latest/ (`dlproof.runfolder`), then
regenerates the committed artifacts of reports/ (derivations book, claims ledger, figures, HTML book).
``conform`` runs it on one target. Exit codes: 0 all pass, 1 failures (fail, error, internal-error), 2 usage
error or nothing written (or an aborted run), 130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import os
import sys


def _writable(folder: str, what: str) -> bool:
    from dlproof.atomic import ReportDirError, ensure_dir

    try:
        ensure_dir(folder)
    except ReportDirError as exc:
        print(f"dlproof {what}: {exc}", file=sys.stderr)
        return False
    return True


def _report(args) -> int:
    if not _writable(args.out, "report"):
        return 2
    code = 0
    if not args.skip_suite:
        code = _run_suite(args)
        if code in (2, 130):  # nothing (or only an interrupted run) to build the books from
            return code
    from dlproof.book.build import build_all

    written = build_all(args.out, figures=not args.no_figures)
    print(f"dlproof: regenerated in {args.out}/: " + ", ".join(p.name for p in written))
    return code


def _run_suite(args) -> int:
    from dlproof.loader import TargetLoadError, specs_from

    try:
        specs = specs_from(args.target)
    except TargetLoadError as exc:
        print(f"dlproof report: {exc}", file=sys.stderr)
        return 2
    return run_targets(args, specs, "report", skip_missing_torch=not args.target)


def _conform(args) -> int:
    """The whole suite on one target: progress, a summary table, the report; non-zero on any failure."""
    return run_targets(args, [args.target], "conform")


def _warm_cache() -> None:
    """Load the derivation records and kernels before the run: from the user cache, else the proofs shipped
    with the package, else built once (dlproof.derivations prints its own progress line then)."""
    from dlproof.derivations import kernels, records

    records(), kernels()


def _load_quietly(spec: str):
    """load_target(spec) with what the module prints at import kept off the terminal (fds 1 and 2 go to a
    temporary file); -> (target, None) or (None, error text)."""
    import tempfile

    from dlproof.loader import TargetLoadError, load_target

    sys.stdout.flush(), sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1), os.dup2(sink.fileno(), 2)
        try:
            return load_target(spec), None
        except TargetLoadError as exc:
            return None, str(exc)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - e.g. sys.exit at import time
            return None, f"target {spec!r}: loading it raised {type(exc).__name__}: {exc}"
        finally:
            sys.stdout.flush(), sys.stderr.flush()
            os.dup2(saved[0], 1), os.dup2(saved[1], 2)
            os.close(saved[0]), os.close(saved[1])


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt


def run_targets(args, specs: list, what: str, skip_missing_torch: bool = False) -> int:
    """Load ``specs`` here (a spec that does not load: nothing is written, exit 2), run the plan in a supervised
    child process into a fresh run folder, publish the report and print its table. Exit codes: 0 all pass,
    1 failures, 2 usage error or nothing written (or an aborted run), 130 interrupted."""
    import signal

    from dlproof import runner
    from dlproof.atomic import ReportDirError
    from dlproof.runfolder import RunFolder

    targets = {}
    for spec in specs:
        target, err = _load_quietly(spec)
        if err is not None:
            if skip_missing_torch and spec in ("torch", "torch.float32") and "torch" in err:
                continue  # default run without torch installed: skip the torch built-ins
            print(f"dlproof {what}: {err}; nothing was run or written", file=sys.stderr)
            return 2
        targets[spec] = target
    specs = list(targets)
    if args.memory_limit is not None and args.memory_limit <= 0:
        print(f"dlproof {what}: --memory-limit must be a positive number of MB", file=sys.stderr)
        return 2
    from dlproof.properties.registry import all_properties

    if not runner.select(all_properties(), args.k):
        print(f"dlproof {what}: -k {args.k!r} selects no property; nothing was run or written", file=sys.stderr)
        return 2
    try:
        run_folder = RunFolder.create(args.report)
    except ReportDirError as exc:
        print(f"dlproof: cannot write the report to {args.report}: {exc}", file=sys.stderr)
        return 2
    old = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        try:
            _warm_cache()
        except KeyboardInterrupt:
            run_folder.finish()
            print(f"dlproof {what}: interrupted before the run started; nothing was written", file=sys.stderr)
            return 130
        opts = runner.Options(specs=specs, profile=args.profile, report_dir=args.report, expr=args.k,
                              call_timeout=args.call_timeout, isolate=args.isolate, memory_limit_mb=args.memory_limit,
                              warnings_as_errors=args.warnings_as_errors, show_all=args.all,
                              command=["dlproof"] + sys.argv[1:],
                              progress=lambda line: print(line, file=sys.stderr, flush=True))
        try:
            outcome = runner.run(opts, targets, run_folder)
        except ReportDirError as exc:
            run_folder.finish()
            print(f"dlproof: cannot write the report to {args.report}: {exc}", file=sys.stderr)
            return 2
    finally:
        signal.signal(signal.SIGTERM, old)
    report = outcome.report
    _print(summary_table(report, show_all=args.all))
    run = report["run"]
    rel = os.path.join(args.report, "runs", run["id"])
    out = run.get("target_output") or {}
    total = sum((out.get("bytes") or {}).values())
    if total:
        print(f"dlproof: the target wrote {total} bytes to stdout/stderr (not shown); the first {out['kept']} are "
              f"in {out['log']}", file=sys.stderr)
    if outcome.status == "aborted":
        print(f"dlproof {what}: the run was aborted: {outcome.message}; report (status aborted, every row not run) "
              f"in {rel}", file=sys.stderr)
        return 2
    if outcome.status == "interrupted":
        print(f"dlproof {what}: interrupted ({outcome.message}); this run's report (status interrupted) is in "
              f"{args.report}/correctness.md and {rel}/; earlier runs are kept under {args.report}/runs/",
              file=sys.stderr)
        return 130
    print(f"dlproof: report written to {args.report}/correctness.md and correctness.json (run {run['id']})",
          file=sys.stderr)
    from dlproof.properties.results import FAILING

    return 1 if any(r["verdict"] in FAILING for r in report["results"]) else 0


def _print(text: str) -> None:
    """Print to stdout; a closed pipe (``| head``) ends the output quietly."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second BrokenPipeError when Python flushes at exit
        os.close(devnull)


def _short(msg, limit: int = 600) -> str:
    msg = " ".join((msg or "").split())
    return msg if len(msg) <= limit else msg[:limit] + " ..."


def summary_table(report: dict, show_all: bool = False) -> str:
    """[target |] property | verdict | examples | err/tol (of the failing check for a failure), the provided rows
    (every row with ``show_all``); then each failure with its message, part, likely bug and repro command."""
    from dlproof.properties import results
    from dlproof.properties.results import FAILING, ratio_text, shown

    rows_in = shown(report["results"], show_all)
    multi = len({r["target"] for r in report["results"]}) > 1
    head = (("target",) if multi else ()) + ("property", "verdict", "examples", "err/tol")
    rows = [head]
    for r in rows_in:
        rows.append(((r["target"],) if multi else ()) + (r["property"], r["verdict"], str(r["examples"]), ratio_text(r)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    hidden = len(report["results"]) - len(rows_in)
    if hidden:
        lines.append(f"({hidden} not provided rows hidden; --all shows them)")
    lines += [f"({line})" for line in results.left_out_lines(report, code=str)]
    lines.append("err/tol: the largest error / tolerance over the examples (for a bound property: value / bound); "
                 "above 1 fails")
    s = report["summary"]
    lines.append("\n" + ", ".join(f"{n} {v}" for v, n in s.items() if n or v in ("pass", "fail", "error")))
    run = report.get("run")
    if run and run["status"] != "complete":
        lines.append(f"run status: {run['status']}" + (f" ({run['message']})" if run.get("message") else ""))
    bad = [r for r in report["results"] if r["verdict"] in FAILING]
    if bad:
        lines.append("\nfailures:")
        for r in bad:
            lines += results.failure_lines(r, code=str, shorten=_short)
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
    from dlproof.findings import known_failures
    from dlproof.loader import TargetLoadError, load_target

    if args.compare:
        try:
            a, b = (sweep.load(p) for p in args.compare)
        except sweep.ReportError as exc:
            print(f"dlproof sweep --compare: {exc}", file=sys.stderr)
            return 2
        diff = sweep.compare(a, b, common_only=args.common)
        for d in diff:
            print(d)
        n = len({(r["target"], r["seed"]) for r in a["runs"]} & {(r["target"], r["seed"]) for r in b["runs"]})
        print(f"dlproof sweep --compare: {len(diff)} difference(s); {n} (target, seed) pair(s) in common")
        return 1 if diff else 0
    if args.seeds < 1 or args.jobs < 1:
        print("dlproof sweep: --seeds and --jobs must be >= 1", file=sys.stderr)
        return 2
    specs = args.targets or sweep.default_specs()
    for spec in specs:  # a misspelt target is named first, whatever is installed
        try:
            load_target(spec)
        except TargetLoadError as exc:
            print(f"dlproof sweep: {exc}", file=sys.stderr)
            return 2
    if not args.in_process:
        from dlproof.sweep.engine import INSTALL, engine_available

        if not engine_available():
            print(f"dlproof sweep: {INSTALL}; --in-process runs without it, one task after the other", file=sys.stderr)
            return 2
    out = Path(args.out)
    try:
        res = sweep.sweep(specs, range(args.first_seed, args.first_seed + args.seeds), args.jobs, out,
                          progress=lambda line: print(line, flush=True), scheduler=args.scheduler,
                          resume=args.resume, inline=args.in_process, known=known_failures())
    except KeyboardInterrupt:
        print(f"dlproof sweep: interrupted; the finished runs are in {out / 'sweep.json'} (marked incomplete): "
              "the same command with --resume runs the rest", file=sys.stderr)
        return 130
    except (sweep.SweepMismatch, sweep.ReportError, ValueError, RuntimeError, OSError) as exc:
        print(f"dlproof sweep: {exc}", file=sys.stderr)
        return 2
    print(f"dlproof sweep: {res['false_alarms']} false alarm(s) over {len(specs)} target(s) x {args.seeds} seed(s)"
          + (f" ({res['known_failures']} failure(s) explained by a published finding)" if res["known_failures"] else "")
          + f"; report in {out / 'sweep.md'}")
    return 1 if res["false_alarms"] else 0


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


def _reprove(args) -> int:
    """``derive --reprove``: re-derive everything (no cache read) into the user cache, then compare with the
    shipped cache byte for byte (exit 1 naming what differs, 0 if identical); with ``--write-shipped``, write
    the shipped cache instead (a maintainer's step before a release)."""
    from dlproof.atomic import ReportDirError
    from dlproof.derivations import cache, rebuild

    key = cache.cache_key()
    print(f"dlproof derive --reprove: re-deriving every record and kernel with SymPy, no cache read (about a "
          f"minute); writing them to {cache.cache_dir()}", file=sys.stderr, flush=True)
    built = rebuild()
    if args.write_shipped:
        try:
            folder = cache.write_shipped(built, key)
        except ReportDirError as exc:
            print(f"dlproof derive --write-shipped: {exc}", file=sys.stderr)
            return 2
        print(f"dlproof derive: shipped cache for key {key} written to {folder}")
        return 0
    diffs = cache.differences(built, key)
    if diffs:
        print(f"dlproof derive --reprove: the shipped cache ({cache.SHIPPED}) differs from the re-proof "
              f"({len(diffs)} difference(s)); regenerate it with `{cache.REGENERATE}`:", file=sys.stderr)
        for line in diffs:
            print(f"  {line}", file=sys.stderr)
        return 1
    print(f"dlproof derive: the re-proof matches the shipped cache byte for byte (key {key}, "
          f"{len(json.loads(built[cache.SHIPPED_FILES['records']]))} records)")
    return 0


def _derive(args) -> int:
    from dlproof.derivations import record, records

    if args.write_shipped and not args.reprove:
        print("dlproof derive: --write-shipped needs --reprove", file=sys.stderr)
        return 2
    if args.reprove:
        if args.id is not None or args.latex_preamble:
            print("dlproof derive: --reprove takes no id and no --latex-preamble", file=sys.stderr)
            return 2
        return _reprove(args)
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

    try:
        entries = ledger.evaluate(args.reports)
    except ledger.ReportsNotFound as exc:
        print(f"dlproof claims: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(entries, indent=1, ensure_ascii=False) if args.json else ledger.text_table(entries))
    return 1 if any(e["verdict"] == "evidence-missing" for e in entries) else 0


def _list(args) -> int:
    from dlproof.book.present import reading_order
    from dlproof.derivations import records

    if args.markdown:
        from dlproof.book.markdown import derivations_index

        print(derivations_index(records()), end="")
        return 0
    recs = records()
    for rid in reading_order(recs):
        print(derivation_line(recs[rid]))
    return 0


def _run_options(p) -> None:
    """Options shared by `conform` and `report` (the supervised runner)."""
    p.add_argument("--isolate", action="store_true",
                   help="also run each capability call in a worker subprocess (per-call deadline, restart after a crash)")
    p.add_argument("--call-timeout", type=float, default=30.0, help="seconds per capability call (default 30)")
    p.add_argument("-k", metavar="EXPR", default=None,
                   help="select properties: comma-separated terms, each a substring of the property id or an fnmatch "
                        "pattern (with * ? [); a term starting with - excludes (e.g. -k 'lstm,-bi.', -k -dropout)")
    p.add_argument("--all", action="store_true", help="show every row, 'not provided' included (the JSON has all rows)")
    p.add_argument("--memory-limit", type=int, default=None, metavar="MB",
                   help="address-space limit of the process that runs the target (and of the --isolate worker)")
    p.add_argument("--warnings-as-errors", action="store_true",
                   help="a warning raised by the target is an error (default: recorded in its row, never an error)")


def _attach_k_values(argv: list) -> list:
    """``-k -dropout`` -> ``-k=-dropout``: a -k expression may start with "-" (an exclusion), which argparse
    would otherwise read as an option."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] == "-k" and i + 1 < len(argv) and argv[i + 1].startswith("-"):
            out.append(f"-k={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def _findings(args) -> int:
    from dlproof import findings

    return findings.main(["--root", args.root, "--out", args.out] + ["--check"] * args.check + ["--run"] * args.run)


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
    _run_options(r)
    r.set_defaults(fn=_report)
    d = sub.add_parser("derive", help="print one derivation by id (Markdown, LaTeX or text); no id: list them")
    d.add_argument("id", nargs="?")
    d.add_argument("--format", default="md", choices=("md", "latex", "text"))
    d.add_argument("--json", action="store_true", help="the whole record as JSON (plus display_title, status_meaning)")
    d.add_argument("--standalone", action="store_true", help="with --format latex: a complete pdflatex document")
    d.add_argument("--latex-preamble", action="store_true",
                   help="print the LaTeX preamble the --format latex fragments compile with, and exit")
    d.add_argument("--reprove", action="store_true",
                   help="re-derive every record and kernel from scratch (no cache read) into the user cache and "
                        "compare with the proofs shipped in the package: exit 1 naming what differs, 0 if identical")
    d.add_argument("--write-shipped", action="store_true",
                   help="with --reprove: write the shipped proofs (dlproof/proofs/) instead of comparing (maintainers)")
    d.set_defaults(fn=_derive)
    cl = sub.add_parser("claims", help="print the claims ledger with verdicts computed from the evidence")
    cl.add_argument("--json", action="store_true")
    cl.add_argument("--reports", default=None, help="folder with conformance/ and performance.json "
                                                   "(default: reports/ of the current folder)")
    cl.set_defaults(fn=_claims)
    ls = sub.add_parser("derivations", help="list every derivation id with its status")
    ls.add_argument("--markdown", action="store_true", help="the Markdown index committed as reports/derivations-index.md")
    ls.set_defaults(fn=_list)
    c = sub.add_parser("conform", help="run the whole property suite against one target")
    c.add_argument("target", help="built-in name (see `dlproof targets`) or module:attr")
    c.add_argument("--profile", default="ci", choices=("dev", "ci", "thorough"))
    c.add_argument("--report", default="reports/latest", help="output folder (default: reports/latest)")
    _run_options(c)
    c.set_defaults(fn=_conform)
    sub.add_parser("targets", help="list the built-in targets and what each provides").set_defaults(fn=_targets)
    sm = sub.add_parser("summaries", help="regenerate the committed conformance summaries (reports/conformance)")
    sm.add_argument("dir", nargs="?", default="reports/conformance")
    sm.add_argument("--targets", nargs="*", help="built-in names (default: all available)")
    sm.set_defaults(fn=_summaries)
    fd = sub.add_parser("findings", help="regenerate reports/findings.md from reports/findings/<slug>/ (the "
                                         "discrepancies of published libraries, each with a standalone repro)")
    fd.add_argument("--root", default="reports/findings")
    fd.add_argument("--out", default="reports/findings.md")
    fd.add_argument("--check", action="store_true", help="exit 1 if reports/findings.md is stale")
    fd.add_argument("--run", action="store_true", help="run every repro that can run here; exit 1 if one changed")
    fd.set_defaults(fn=_findings)
    g = sub.add_parser("export-golden", help="write language-neutral golden vectors (npz + JSON) to DIR")
    g.add_argument("dir")
    g.add_argument("--seed", type=int, default=0)
    g.set_defaults(fn=_golden)
    sw = sub.add_parser("sweep", help="the suite on targets under many Hypothesis seeds: any failure is a false alarm "
                                      "on a correct target")
    sw.add_argument("targets", nargs="*", help="specs (default: every available built-in except CUDA ones)")
    sw.add_argument("--seeds", type=int, default=20, help="number of seeds (default 20)")
    sw.add_argument("--first-seed", type=int, default=1, help="the first seed (default 1)")
    sw.add_argument("--jobs", type=int, default=1, help="worker processes of the local Dask cluster (default 1)")
    sw.add_argument("--scheduler", metavar="ADDRESS", help="run on the Dask cluster at ADDRESS (tcp://host:8786) "
                                                           "instead of a local one; GPU workers: --resources GPU=1")
    sw.add_argument("--resume", action="store_true", help="keep the finished runs of OUT/sweep.json (same code, "
                                                          "profiles and libraries) and run only the missing ones")
    sw.add_argument("--in-process", action="store_true", help="run the tasks in this process, without Dask")
    sw.add_argument("--compare", nargs=2, metavar=("A", "B"), help="compare two sweep.json reports' verdicts "
                                                                   "exactly; exit 1 if they differ")
    sw.add_argument("--common", action="store_true", help="with --compare: only the (target, seed) pairs of both")
    sw.add_argument("--out", default="reports/latest/sweep", help="output folder (default: reports/latest/sweep)")
    sw.set_defaults(fn=_sweep)
    from dlproof import repro

    repro.register(sub)  # dlproof/repro.py: FILE [--target SPEC] [--trust] [--repeat K] [--json]
    args = ap.parse_args(_attach_k_values(sys.argv[1:] if argv is None else list(argv)))
    return args.fn(args)


if __name__ == "__main__":
    raise SystemExit(main())
