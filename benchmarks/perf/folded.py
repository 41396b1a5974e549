"""Sections run by the other benchmark scripts, folded in: "suite" (benchmarks/suite_speed.py), "first_verdict"
(benchmarks/first_verdict.py), "conformance_times" (benchmarks/conform_times.py), "symbolic"
(benchmarks/symbolic_scaling.py) and "sweep_scaling" (benchmarks/sweep_scaling.py).
"""
from __future__ import annotations

import importlib

from .sections import section
from .timing import Settings


def sibling(name: str):
    """Import benchmarks/NAME.py (the scripts are not a package; benchmarks/ is on sys.path, as perf is)."""
    return importlib.import_module(name)


def _suite_repeats(s: Settings) -> int:
    return 1 if s.quick else 3


@section("suite", "Test suite speed (the default pytest, serial and -n 2; derivation cache; one Hypothesis example)",
         lambda res: sibling("suite_speed").render(res),
         lambda res: {"suite": {k: v for k, v in res["summary"].items() if not k.endswith("run_over_examples_ms")}})
def measure_suite(s: Settings) -> dict:
    """benchmarks/suite_speed.py: each figure the median of 3 runs (1 with --quick) in fresh processes, no coverage."""
    return sibling("suite_speed").measure(_suite_repeats(s), pytest_runs=not s.quick)


def _summarize_conform(res: dict) -> dict:
    t = res["targets"]
    return {"third_party_conform_s": {k: v["seconds"] for k, v in t.items()},
            "third_party_conform_max_s": max((v["seconds"] for v in t.values()), default=None)}


@section("conformance_times", "Conformance run time of each third-party target",
         lambda res: sibling("conform_times").render(res), _summarize_conform)
def measure_conformance_times(s: Settings) -> dict:
    """benchmarks/conform_times.py over the third-party built-ins (one run each; --quick: torch.nn only)."""
    ct = sibling("conform_times")
    return ct.measure(["torch.nn"] if s.quick else None, repeats=1)


def _render_symbolic(res: dict) -> list:
    return res["summary_lines"] + ["", "The full tables: [symbolic-scaling.md](symbolic-scaling.md) "
                                       "(machine-readable: symbolic-scaling.json)."]


@section("symbolic", "Symbolic cost: BPTT proofs against T, cell derivations against n", _render_symbolic,
         lambda res: {"symbolic_fit_exponents": res["fit_exponents"]})
def measure_symbolic(s: Settings) -> dict:
    """benchmarks/symbolic_scaling.py (20 s per series; --quick: two sizes of one cell, no BPTT part). Its full
    result is written to OUT/symbolic-scaling.{json,md} by `main`; performance.json keeps the summary."""
    ss = sibling("symbolic_scaling")
    if s.quick:
        full = ss.measure(5.0, cells=("rnn.cell.jacobian_h",), ns=(1, 2), bptt_part=False)
    else:
        full = ss.measure(20.0)
    return {"full": full, "summary_lines": ss._render_summary(full)[2:],  # without its "## Summary" heading
            "fit_exponents": {cid: c["fit"]["total"] for cid, c in full["cells"].items()}}


@section("first_verdict", "Time to first verdict (derivation cache cold with the shipped proofs, warm, cold without)",
         lambda res: sibling("first_verdict").render(res),
         lambda res: {"first_conform_over_warm": res["first_over_warm"]["conform"]})
def measure_first_verdict(s: Settings) -> dict:
    """benchmarks/first_verdict.py: medians of 3 (1 with --quick); the cold state without shipped proofs once."""
    return sibling("first_verdict").measure(1 if s.quick else 3, 1)


def _summarize_sweep(res: dict) -> dict:
    return {"sweep_hours_by_workers": {w: r["hours"] for w, r in res["model"]["workers"].items()},
            "sweep_speedup_2_over_1_workers": res["throughput"]["runs"].get(2, res["throughput"]["runs"].get("2", {}))
            .get("speedup")}


@section("sweep_scaling", "Sweep scaling: throughput with 1 and 2 local Dask workers, the full 20-seed sweep by workers",
         lambda res: sibling("sweep_scaling").render(res), _summarize_sweep)
def measure_sweep_scaling(s: Settings) -> dict:
    """benchmarks/sweep_scaling.py: the batch (numpy.clip_eps x 4 seeds; --quick: 1 seed) on 1 and 2 workers, the
    model from the committed full sweep (reports/sweep/sweep.json) when it exists."""
    ss = sibling("sweep_scaling")
    sources = [ss.FULL_SWEEP] if ss.FULL_SWEEP.is_file() else []
    return ss.measure(seeds=1 if s.quick else 4, sources=sources)
