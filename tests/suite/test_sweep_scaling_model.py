"""benchmarks/sweep_scaling.py's model of the full sweep: list scheduling (longest task first) checked against
schedules worked out by hand, and per-task seconds read from sweep reports (no cluster, no timing)."""
from pathlib import Path

import pytest

from dlproof.derivations.cache import import_file

ROOT = Path(__file__).resolve().parents[2]
ss = import_file("sweep_scaling", ROOT / "benchmarks" / "sweep_scaling.py")


@pytest.mark.parametrize("tasks, workers, span", [
    ([3, 3, 2, 2, 2], 2, 7),  # Graham's example: LPT puts 3+2+2 on one worker, the optimum is 6 (3+3 | 2+2+2)
    ([5, 1, 1, 1], 2, 5),  # the longest task bounds the sweep
    ([1] * 8, 3, 3),  # ceil(8 / 3)
    ([4, 2], 1, 6),  # one worker: the sum
    ([], 4, 0),
])
def test_lpt_makespan_matches_the_schedule_worked_out_by_hand(tasks, workers, span):
    assert ss.lpt_makespan(tasks, workers) == span


def test_the_model_uses_mean_task_seconds_and_lists_unmeasured_targets():
    seconds = ss.task_seconds([{"runs": [
        {"target": "a", "seed": 1, "examples": 10, "seconds": 10.0},
        {"target": "a", "seed": 2, "examples": 10, "seconds": 30.0},
        {"target": "b", "seed": 1, "examples": 0, "seconds": 0.0},  # an error row: nothing ran
        {"target": "c", "seed": 1, "examples": 5, "seconds": 4.0}]}])
    m = ss.model(seconds, ["a", "b", "c"], seeds=2, workers=[1, 2], startup_s=0.0)
    assert m["task_s"] == {"a": 20.0, "c": 4.0} and m["unmeasured"] == ["b"] and m["tasks"] == 4
    assert m["workers"][1]["hours"] == round(48 / 3600, 2)
    assert ss.lpt_makespan([20, 20, 4, 4], 2) == 24  # the 2-worker wall the model reports


def test_bad_worker_counts_are_refused():
    with pytest.raises(ValueError, match="workers must be >= 1"):
        ss.lpt_makespan([1], 0)


def test_a_finished_sweep_checks_the_model_against_its_own_wall_time(monkeypatch):
    """measure() with a complete sweep report as source: the model at that report's worker count is set beside
    the report's wall time (the throughput batch is stubbed: no cluster)."""
    runs = [{"target": "a", "seed": s, "examples": 10, "seconds": 100.0} for s in (1, 2)]
    full = {"runs": runs, "complete": True, "jobs": 2, "tasks": 2, "wall_s": 7200.0}
    monkeypatch.setattr(ss, "throughput", lambda specs, seeds, workers: {
        "targets": list(specs), "seeds": list(seeds), "same_verdicts": True, "startup_s": 0.0,
        "runs": {w: {"wall_s": 1.0, "tasks_per_hour": 1.0, "examples_per_s": 1.0, "speedup": 1.0} for w in workers},
        "reports": {w: {"runs": []} for w in workers}})
    import dlproof.sweep as sweep

    monkeypatch.setattr(sweep, "load", lambda p: full)
    monkeypatch.setattr(sweep, "default_specs", lambda: ["a"])
    res = ss.measure(("a",), 1, (1, 2), sources=["sweep.json"], model_seeds=2, model_workers=(1, 2))
    assert res["check"] == {"jobs": 2, "tasks": 2, "wall_hours": 2.0, "model_hours": round(100 / 3600, 2)}
    assert any(line.startswith("Check: the finished sweep of sweep.json (2 tasks on 2 worker(s)) took 2.0 h")
               for line in ss.render(res))
