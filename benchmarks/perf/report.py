"""The performance report around the sections: the machine and versions, the Markdown rendering, and
merging a ``--only`` run into the earlier report (thread pinning is `perf.threads`).
"""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import numpy as np

from .reference import GOAL_METRICS, render_goals, runs, summary_rows, threads_text
from .sections import SECTIONS, fmt, size_text, table
from .threads import all_cores
from .timing import LARGE

#: the version of performance.json's layout
SCHEMA = 1


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine(threads: dict) -> dict:
    import torch

    return {"cpu": cpu_model(), "arch": platform.machine(), "logical_cpus": os.cpu_count(), "usable_cpus": all_cores(),
            "threads_used": threads["requested"], "threads": threads,
            "torch_blas": "MKL" if torch.backends.mkl.is_available() else "unknown",
            "torch_mkldnn": bool(torch.backends.mkldnn.is_available())}


def versions() -> dict:
    import torch

    import dlproof

    out = {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
           "dlproof": dlproof.__version__}
    try:
        import threadpoolctl
        out["threadpoolctl"] = threadpoolctl.__version__
    except ImportError:
        pass
    return out




def render_markdown(doc: dict) -> str:
    """The report as Markdown (no timestamps: the JSON holds the date)."""
    m, v, s = doc["machine"], doc["versions"], doc["settings"]
    pools = [p for p in m["threads"].get("pools", []) if p["api"] != "openmp"]
    blas = ", ".join(" ".join(str(x) for x in (p["api"], p["version"], p.get("architecture")) if x) for p in pools) or "unknown"
    lines = ["# Performance: GEMM rates, training-step times, NumPy references at BLAS speed, suite speed, "
             "conformance run times, symbolic cost", "",
             f"Regenerate with `{doc['command']}` (run from the repository root); machine-readable results are "
             "in `performance.json` beside this file.", "",
             f"How it was measured: each figure is the **median of {s['repeats']} timed runs** after "
             f"{s['warmup']} warm-up run{'s' if s['warmup'] != 1 else ''} (`time.perf_counter`), with the minimum and the interquartile range; "
             f"callables that are compared ran interleaved in the same process, and a ratio is the ratio of "
             f"medians. Threads pinned to **{m['threads_used']}** (torch.set_num_threads and threadpoolctl for "
             f"NumPy's BLAS){_reference_threads(doc)}.{' Quick smoke run: small size only.' if doc['quick'] else ''}", "",
             "| machine | |", "|---|---|",
             f"| CPU | {_cpu_text(doc)} ({m['arch']}) |", f"| logical CPUs | {m['logical_cpus']} (usable {m['usable_cpus']}) |",
             f"| threads used | {m['threads_used']} |",
             f"| NumPy BLAS | {blas} |",
             f"| torch BLAS | {m['torch_blas']} |",
             f"| versions | Python {v['python']}, NumPy {v['numpy']}, torch {v['torch']}, dlproof {v['dlproof']} |", ""]
    if doc.get("section_dates"):
        where = doc.get("section_machines", {})
        lines += ["Sections merged from runs of `--only`; measured on: " +
                  ", ".join(f"{k} {v}" + (f" ({where[k]})" if k in where else "")
                            for k, v in doc["section_dates"].items()) + ".", ""]
    lines += ["## Summary", ""] + render_summary(doc["summary"]) + [""]
    for name, res in doc["results"].items():
        lines += [f"## {SECTIONS[name].title}", ""] + SECTIONS[name].render(res) + [""]
    return "\n".join(lines).rstrip() + "\n"


def _cpu_text(doc: dict) -> str:
    """The CPU of the report, or of its latest run and a pointer to the per-section list when sections merged
    from several runs were measured on different CPUs."""
    cpu = doc["machine"]["cpu"]
    others = set(doc.get("section_machines", {}).values()) - {cpu}
    return cpu if not others else f"{cpu} (the latest run; the sections' CPUs differ: listed below the table)"


def _reference_threads(doc: dict) -> str:
    """The exception to the pinned thread count: section "reference" runs at each of its thread counts."""
    if "reference" not in doc["results"]:
        return ""
    counts = [threads_text(r["threads"]) for r in runs(doc["results"]["reference"])]
    return f", except in section \"reference\", which runs at {' and at '.join(counts)}"


def render_summary(sm: dict) -> list:
    """The summary as Markdown: step-time ratios per implementation / dtype / size, then scalars."""
    lines = []
    gl = sm.get("gru_over_lstm_step_time")
    if gl:
        rows = [[k, fmt(v, 3), fmt(sm["gru_over_lstm_step_time_of_min"].get(k), 3),
                 fmt(sm["rnn_over_lstm_step_time"].get(k), 3)] for k, v in gl.items()]
        lines += table(["implementation, dtype, (B, T, n, m)", "GRU/LSTM step time", "(of min)", "RNN/LSTM step time"], rows) + [""]
    for k, v in sm.items():
        if k in ("gru_over_lstm_step_time", "gru_over_lstm_step_time_of_min", "rnn_over_lstm_step_time"):
            continue
        if k == "numpy_ref_over_torch_step_time":
            lines.append(f"- `{k}`: see the table \"NumPy reference / torch.nn step time\" below")
            continue
        if k == "reference_goals":
            if "not_measured" in v:
                lines.append(f"- `{k}`: not measured ({v['not_measured']})")
                continue
            lines += ["", f"`{k}` (NumPy references at (B, T, n, m) = {size_text(LARGE)}, forward + backward, at "
                          "each thread count measured; goals, not assertions):", ""]
            lines += render_goals(summary_rows(v), GOAL_METRICS) + [""]
            continue
        if isinstance(v, dict):
            v = ", ".join(f"{a}: {fmt(b, 2)}" for a, b in v.items())
        lines.append(f"- `{k}`: {v}")
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return lines




def merged(path: Path, doc: dict) -> dict:
    """``doc`` (a --only run) merged into the earlier report at ``path``: the sections run now replace theirs,
    the others are kept with the date and the CPU they were measured on (``section_dates``,
    ``section_machines``; a section of a report without machines gets that report's CPU if it was measured on
    that report's date, else "not recorded")."""
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return doc
    if old.get("schema") != SCHEMA or old.get("quick") != doc["quick"]:
        return doc
    dates = {k: old.get("section_dates", {}).get(k, old.get("measured_on")) for k in old.get("results", {})}
    dates.update({k: doc["measured_on"] for k in doc["results"]})
    cpus = {k: old.get("section_machines", {}).get(k) or (old.get("machine", {}).get("cpu", "not recorded")
                                                          if dates[k] == old.get("measured_on") else "not recorded")
            for k in dates}
    cpus.update({k: doc["machine"]["cpu"] for k in doc["results"]})
    results = {k: doc["results"].get(k, old["results"].get(k)) for k in SECTIONS if k in dates}
    summary = {}
    for k in results:
        if SECTIONS[k].summarize:
            summary.update(SECTIONS[k].summarize(results[k]))
    runtime = {**old.get("runtime_s", {}).get("sections", {}), **doc["runtime_s"]["sections"]}
    return {**doc, "command": "python benchmarks/performance.py",
            "section_dates": dates, "section_machines": {k: cpus[k] for k in results}, "results": results, "summary": summary,
            "runtime_s": {"total": round(sum(runtime.values()), 1), "sections": runtime}}
