"""Benchmark, one command for everything: GEMM rates, the training-step time of GRU vs LSTM vs vanilla RNN
(torch.nn and NumPy refs), the NumPy references against torch.nn and against their own GEMM floor (section
"reference"), the test suite's speed (section "suite", benchmarks/suite_speed.py), the conformance run time of
each third-party target ("conformance_times", benchmarks/conform_times.py) and the symbolic cost against n and
T ("symbolic", benchmarks/symbolic_scaling.py).

    python benchmarks/performance.py [--quick] [--out reports] [--threads 1] [--only SECTION ...]

Writes OUT/performance.json and OUT/performance.md (OUT defaults to the repository's reports/), and with the
symbolic section OUT/symbolic-scaling.{json,md}. ``--only`` runs some sections and merges them into the
existing performance.json (the others keep their figures and dates). The GPU check is separate
(benchmarks/gpu.py, on a CUDA machine). Every
figure is the median of --repeats (default 7) timed runs (time.perf_counter) after 2 untimed warm-ups,
with the minimum and the interquartile range beside it; a sample of a short call averages several
back-to-back calls (>= 50 ms for a GEMM, >= 100 ms for a training step). Callables that are compared are
timed in the same run,
interleaved (one run of each per round, in a rotating order), so slow drift of the machine affects them
alike; a ratio is the ratio of their medians. Torch and NumPy's BLAS are pinned to --threads threads
(default 1, so runs on small machines are comparable); NumPy's BLAS is pinned with threadpoolctl. Section
"reference" is the exception: it runs twice in one invocation, at 1 thread and at every core the process
may use (its affinity), and reports both side by side; its NumPy / floor goals are held at 1 thread, its
NumPy / torch goals at all cores (benchmarks/perf/reference.py, ``GOALS``).

``--quick`` is a smoke test: 3 repeats, 1 warm-up, the small size only.

This script is the command; the measuring lives in the package benchmarks/perf/: `perf.timing` (`Settings`,
`bench`), `perf.threads` (pinning, `all_cores`), `perf.sections` (the registry), one module per section
(`perf.gemm`, `perf.recurrent` for "gru_vs_lstm", `perf.reference`, `perf.folded` for "suite",
"conformance_times", "symbolic", "first_verdict" and "sweep_scaling") and
`perf.report` (machine, versions, the Markdown, merging ``--only`` runs). Sections are registered with
`perf.sections.section`; each returns a JSON-able dict and renders itself to Markdown lines. Add a section
by writing a measure function and a render function in a module of perf/, decorating the first, and
importing the module below.
"""
from __future__ import annotations

import argparse
import datetime
import json
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/: the perf package and the sibling scripts

# the section modules register their sections on import, in the order of the report
import perf.gemm  # noqa: E402,F401
import perf.recurrent  # noqa: E402,F401
import perf.reference  # noqa: E402,F401
import perf.folded  # noqa: E402
from perf.report import SCHEMA, machine, merged, render_markdown, versions  # noqa: E402
from perf.sections import SECTIONS  # noqa: E402
from perf.threads import pin_threads  # noqa: E402
from perf.timing import SMALL, Settings, loadavg  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def command_line(args) -> str:
    """The command as a user would type it, with no machine paths."""
    parts = ["python", "benchmarks/performance.py"]
    if args.quick:
        parts.append("--quick")
    if args.out is not None:
        out = Path(args.out)
        if out.is_absolute():
            try:
                out = out.resolve().relative_to(Path.cwd().resolve())
            except ValueError:
                out = Path("OUT")
        parts += ["--out", str(out)]
    if args.threads != 1:
        parts += ["--threads", str(args.threads)]
    if args.repeats is not None:
        parts += ["--repeats", str(args.repeats)]
    if args.only:
        parts += ["--only", *args.only]
    return shlex.join(parts)




def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: 3 repeats, 1 warm-up, small size only")
    ap.add_argument("--out", default=None, help="output folder (default: the repository's reports/)")
    ap.add_argument("--threads", type=int, default=1, help="threads for torch and NumPy's BLAS (default 1); section "
                    "reference runs at 1 and at all usable cores whatever this is")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per figure (default 7, --quick 3)")
    ap.add_argument("--only", nargs="+", choices=list(SECTIONS), help="run only these sections")
    args = ap.parse_args(argv)

    s = Settings(threads=args.threads, quick=args.quick)
    if args.quick:
        s.repeats, s.warmup, s.sizes = 3, 1, [SMALL]
    if args.repeats is not None:
        s.repeats = args.repeats
    threads = pin_threads(s.threads)
    load_start = loadavg()
    t_start = time.perf_counter()
    results, summary, timings = {}, {}, {}
    for name, sec in SECTIONS.items():
        if args.only and name not in args.only:
            continue
        t0 = time.perf_counter()
        print(f"[performance] {name} ...", file=sys.stderr, flush=True)
        results[name] = sec.measure(s)
        timings[name] = round(time.perf_counter() - t0, 1)
        print(f"[performance] {name} done in {timings[name]} s", file=sys.stderr, flush=True)
        if sec.summarize:
            summary.update(sec.summarize(results[name]))
    doc = {
        "schema": SCHEMA,
        "command": command_line(args),
        "quick": s.quick,
        "measured_on": datetime.date.today().isoformat(),
        "settings": {"repeats": s.repeats, "warmup": s.warmup, "threads": s.threads,
                     "sizes_BTnm": [list(c) for c in s.sizes], "statistic": "median",
                     "reference_threads": list(s.reference_threads),
                     "timer": "time.perf_counter", "interleaved": True},
        "machine": machine(threads),
        "versions": versions(),
        "runtime_s": {"total": round(time.perf_counter() - t_start, 1), "sections": timings},
        "load_average_1min": {"start": load_start, "end": loadavg(),
                              "note": "other processes' load on the machine; high values mean noisier figures"},
        "summary": summary,
        "results": results,
    }
    from dlproof.atomic import write_atomic, write_json

    out = Path(args.out) if args.out is not None else ROOT / "reports"
    if "symbolic" in results:
        full = results["symbolic"].pop("full")
        ss = perf.folded.sibling("symbolic_scaling")
        write_json(out / "symbolic-scaling.json", full, indent=1, ensure_ascii=False)
        write_atomic(out / "symbolic-scaling.md", "\n".join(ss.render(full)).rstrip("\n") + "\n")
    if args.only:
        doc = merged(out / "performance.json", doc)
    write_json(out / "performance.json", doc, indent=1)
    write_atomic(out / "performance.md", render_markdown(doc))
    print(json.dumps(summary, indent=1))
    print(f"[performance] wrote performance.json and performance.md in {out} "
          f"({doc['runtime_s']['total']} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
