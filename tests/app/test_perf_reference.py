"""benchmarks/perf (section "reference" of benchmarks/performance.py): the goals are judged at the thread
scope each declares (NumPy / floor at one thread, NumPy / torch on all cores), both thread counts are
reported side by side, the generated text quotes the measured one-thread floor / torch, older one-run
results still render, and bad input is a clear error.

No timing: the results are synthetic, with medians chosen so that every ratio is known in advance.
"""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
try:
    from perf import reference as ref
    from perf import threads as thr
    from perf import timing
finally:
    sys.path.remove(str(ROOT / "benchmarks"))

B, T, N, M = timing.LARGE
SMALL = timing.SMALL


def _stats(median):
    return {"median": median, "min": median, "max": median, "q1": median, "q3": median, "iqr": 0.0, "n": 1,
            "samples": [median]}


def _entry(size, dtype, med):
    """A config entry as `_measure_reference_config` writes it, every kind timed with the medians ``med``."""
    kind = {"seconds": {k: _stats(v) for k, v in med.items()},
            "gemms": {"forward": ["f"], "backward": ["b"]},
            "numpy_vs_torch_max_rel_diff": {"hs": 0.0, "gradients": 0.0},
            "gflops": {k: 1.0 for k in ("numpy_forward_backward", "floor_forward_backward", "torch_forward_backward")}}
    b, t, n, m = size
    return {"config": {"B": b, "T": t, "n": n, "m": m}, "dtype": dtype, "load_average_1min": 0.0,
            "gemm512_gflops": 1.0, "kinds": {k: kind for k in ref.KINDS}}


def _med(numpy_vjp, floor_vjp, torch_step):
    return {"numpy_vjp": numpy_vjp, "floor_vjp": floor_vjp, "torch_step": torch_step,
            "numpy_forward": 1.0, "floor_forward": 1.0, "torch_forward": 1.0}


# one thread: NumPy / floor 1.2 (within 1.25 and 1.4), NumPy / torch 1.2 / 0.87 = 1.379 (no goal held there),
# floor / torch 1 / 1.15 = 0.87; two threads: NumPy / torch 0.5 / 0.6 = 0.833 (within 0.9, not within 0.8)
ONE_T = _med(1.2, 1.0, 1.0 / 0.87)
TWO_T = _med(0.5, 0.45, 0.6)


def _result(cores=2):
    runs = [{"threads": 1, "configs": [_entry(SMALL, "float32", ONE_T)] + [_entry(timing.LARGE, dt, ONE_T)
                                                                          for dt in ("float32", "float64")]}]
    if cores > 1:
        runs.append({"threads": cores, "configs": [_entry(SMALL, "float32", TWO_T)]
                     + [_entry(timing.LARGE, dt, TWO_T) for dt in ("float32", "float64")]})
    return {"method": "m", "all_cores": cores, "runs": runs}


def _row(rows, dtype, metric, threads, kind="lstm"):
    (r,) = [r for r in rows if (r["kind"], r["dtype"], r["metric"], r["threads"]) == (kind, dtype, metric, threads)]
    return r


def test_each_goal_is_judged_at_its_own_thread_scope_only():
    rows = ref.reference_goals(_result())
    assert {r["threads"] for r in rows} == {1, 2}
    assert len(rows) == 2 * len(ref.KINDS) * 2 * len(ref.METRICS)  # only the large size, both thread counts
    one = _row(rows, "float32", "numpy_over_floor", 1)
    assert one["value"] == pytest.approx(1.2) and (one["goal"], one["pass"]) == (1.25, True)
    assert _row(rows, "float64", "numpy_over_floor", 1)["goal"] == 1.4
    assert _row(rows, "float32", "numpy_over_floor", 2)["goal"] is None  # reported, not held, on all cores
    single = _row(rows, "float32", "numpy_over_torch", 1)
    assert single["value"] == pytest.approx(1.2 * 0.87) and single["goal"] is None and single["pass"] is None
    f32, f64 = _row(rows, "float32", "numpy_over_torch", 2), _row(rows, "float64", "numpy_over_torch", 2)
    assert f32["value"] == pytest.approx(0.5 / 0.6)
    assert (f32["goal"], f32["pass"]) == (0.9, True) and (f64["goal"], f64["pass"]) == (0.8, False)
    assert all(r["goal"] is None for r in rows if r["metric"] == "floor_over_torch")


def test_on_one_core_the_single_run_stands_for_both_scopes():
    rows = ref.reference_goals(_result(cores=1))
    assert {r["threads"] for r in rows} == {1}
    assert _row(rows, "float32", "numpy_over_torch", 1)["goal"] == 0.9
    assert _row(rows, "float32", "numpy_over_floor", 1)["goal"] == 1.25
    assert "one usable core" in ref.scope_text(rows, 1)


def test_the_report_puts_both_thread_counts_side_by_side_and_quotes_the_floor():
    lines = ref._render_reference(_result())
    text = "\n".join(lines)
    goals_table = [ln for ln in lines if ln.startswith("| kind | dtype | forward + backward")]
    assert goals_table == ["| kind | dtype | forward + backward | 1 thread | 2 threads |"]
    assert "| LSTM | float32 | NumPy / torch | 1.044 | 0.833 (goal <= 0.9: pass) |" in lines
    assert "| LSTM | float64 | NumPy / torch | 1.044 | 0.833 (goal <= 0.8: **fail**) |" in lines
    # the reason NumPy / torch is not held on one thread, from the measured floor / torch (1 / 1.15)
    assert "takes **0.87** of torch.nn's" in text and f"NumPy / floor <= {0.9 / 0.87:.2f}" in text
    assert "### Timings at 1 thread" in text and "### Timings at 2 threads" in text
    assert "NumPy / torch, 1 thread | NumPy / torch, 2 threads" in text


def test_the_summary_keeps_the_goal_metrics_per_thread_count():
    res = _result()
    summary = ref._summarize_reference(res)["reference_goals"]
    assert set(summary["lstm"]["float32"]) == set(ref.GOAL_METRICS) == {"numpy_over_floor", "numpy_over_torch"}
    assert summary["gru"]["float64"]["numpy_over_torch"]["2"] == {"value": 0.833, "goal": 0.8, "pass": False}
    back = {(r["kind"], r["dtype"], r["metric"], r["threads"]): (r["goal"], r["pass"]) for r in ref.summary_rows(summary)}
    full = {(r["kind"], r["dtype"], r["metric"], r["threads"]): (r["goal"], r["pass"])
            for r in ref.reference_goals(res) if r["metric"] in ref.GOAL_METRICS}
    assert back == full


def test_a_result_from_before_the_two_thread_runs_still_renders():
    legacy = {"method": "m", "configs": _result()["runs"][0]["configs"], "goals": []}
    rows = ref.reference_goals(legacy)
    assert {r["threads"] for r in rows} == {1}
    assert all(r["goal"] is None for r in rows if r["metric"] == "numpy_over_torch")
    assert "### Timings at 1 thread" in "\n".join(ref._render_reference(legacy))
    small_only = {"method": "m", "runs": [{"threads": 1, "configs": legacy["configs"][:1]}]}
    assert "not_measured" in ref._summarize_reference(small_only)["reference_goals"]


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="Goal.metric"):
        ref.Goal("speed", "float32", 1.0, ref.ONE)
    with pytest.raises(ValueError, match="Goal.scope"):
        ref.Goal("numpy_over_torch", "float32", 1.0, "two threads")
    with pytest.raises(ValueError, match="Goal.bound"):
        ref.Goal("numpy_over_torch", "float32", float("nan"), ref.ALL)
    with pytest.raises(ValueError, match="'runs'"):
        ref.runs({"method": "m"})
    with pytest.raises(ValueError, match="cores"):
        thr.thread_counts(0)
    with pytest.raises(ValueError, match="settle_s"):
        timing.bench({}, timing.Settings(), settle_s=-1)
    assert thr.thread_counts(1) == (1,) and thr.thread_counts(4) == (1, 4)
    assert timing.Settings().reference_threads == thr.thread_counts()


@pytest.mark.slow  # imports torch (about 2 s on its own)
def test_pinned_holds_the_count_inside_and_restores_it():
    torch = pytest.importorskip("torch")
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = torch.get_num_threads()
    blas_before = [p["num_threads"] for p in threadpoolctl.threadpool_info()]
    k = 2 if before == 1 else 1
    with thr.pinned(k) as info:
        assert torch.get_num_threads() == k == info["torch_intra_op"] == info["requested"]
        assert all(p["num_threads"] == k for p in threadpoolctl.threadpool_info())
    assert torch.get_num_threads() == before
    assert [p["num_threads"] for p in threadpoolctl.threadpool_info()] == blas_before
    with pytest.raises(ValueError, match="pinned"):
        with thr.pinned(0):
            pass


# ---- merging a --only run: each section keeps the date and the CPU it was measured on ------------------------

def test_a_merged_report_keeps_each_sections_cpu_and_says_when_they_differ(tmp_path, monkeypatch):
    import dataclasses
    import json

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from perf import report, sections
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    names = list(sections.SECTIONS)[:2]
    if len(names) < 2:
        pytest.skip("fewer than two sections registered")
    for n in names:  # synthetic results: nothing to summarize
        monkeypatch.setitem(sections.SECTIONS, n, dataclasses.replace(sections.SECTIONS[n], summarize=None))
    old = {"schema": report.SCHEMA, "quick": False, "measured_on": "2026-01-01", "machine": {"cpu": "CPU A"},
           "results": {names[0]: {}, names[1]: {}}}
    (tmp_path / "performance.json").write_text(json.dumps(old))
    new = {"schema": report.SCHEMA, "quick": False, "measured_on": "2026-02-02", "machine": {"cpu": "CPU B"},
           "results": {names[1]: {}}, "runtime_s": {"sections": {}}}
    got = report.merged(tmp_path / "performance.json", new)
    assert got["section_dates"] == {names[0]: "2026-01-01", names[1]: "2026-02-02"}
    assert got["section_machines"] == {names[0]: "CPU A", names[1]: "CPU B"}
    assert "sections' CPUs differ" in report._cpu_text(got)
    old["measured_on"] = "2025-12-31"  # the old section's date is not its report's: its CPU is unknown
    (tmp_path / "performance.json").write_text(json.dumps({**old, "section_dates": {names[0]: "2026-01-01"}}))
    got = report.merged(tmp_path / "performance.json", new)
    assert got["section_machines"][names[0]] == "not recorded"
