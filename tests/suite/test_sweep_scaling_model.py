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
