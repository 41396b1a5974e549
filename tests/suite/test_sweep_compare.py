"""Comparing two sweep reports exactly (per (target, seed): verdict counts, examples, failures), as the lead
compares the Dask sweep with the process pool's; and `dlproof sweep --compare A B` (exit 0 same, 1 differ)."""
import copy
import json

import pytest

from dlproof import cli, sweep


def _report():
    ok = {"pass": 3, "fail": 0, "error": 0}
    fail = {"property": "lstm.param_count", "profile": "seeded", "verdict": "fail", "message": "off by 4",
            "repro": "dlproof repro A/repro/x.npz"}
    return {"targets": ["t"], "seeds": [1, 2], "runs": [
        {"target": "t", "seed": 1, "counts": ok, "examples": 300, "failures": [], "seconds": 1.0},
        {"target": "t", "seed": 2, "counts": {"pass": 2, "fail": 1, "error": 0}, "examples": 250, "failures": [fail],
         "seconds": 2.0}]}


def test_identical_verdicts_agree_whatever_the_times_and_repro_paths():
    a, b = _report(), _report()
    for r in b["runs"]:
        r["seconds"] *= 3
    b["runs"][1]["failures"][0]["repro"] = "dlproof repro B/repro/x.npz"
    b["runs"].reverse()
    b["runs"][0]["counts"]["not run"] = 0  # an absent and a zero count are the same
    assert sweep.compare(a, b) == []


@pytest.mark.parametrize("edit, named", [
    (lambda b: b["runs"][0].update(examples=301), "t seed 1: examples 300 != 301"),
    (lambda b: b["runs"][0]["counts"].update({"pass": 2, "fail": 1}), "t seed 1: verdict counts"),
    (lambda b: b["runs"][1]["failures"][0].update(message="off by 5"), "t seed 2: failures"),
    (lambda b: b["runs"].pop(), "t seed 2: only in the first report"),
])
def test_any_difference_is_named_with_its_target_and_seed(edit, named):
    a, b = _report(), _report()
    edit(b)
    diff = sweep.compare(a, b)
    assert len(diff) == 1 and diff[0].startswith(named)


def test_common_only_compares_a_subset():
    a, b = _report(), copy.deepcopy(_report())
    b["runs"].pop()
    assert sweep.compare(a, b, common_only=True) == []
    b["runs"][0]["target"] = "u"
    assert sweep.compare(a, b, common_only=True) == ["the reports have no (target, seed) pair in common"]


def test_a_non_report_is_refused():
    with pytest.raises(ValueError, match="report b is not a sweep report"):
        sweep.compare(_report(), {"runs": None})


def test_cli_compare_exits_0_when_equal_1_when_not_2_on_a_bad_file(tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_report()))
    b.write_text(json.dumps(_report()))
    assert cli.main(["sweep", "--compare", str(a), str(b)]) == 0
    changed = _report()
    changed["runs"][0]["examples"] = 1
    b.write_text(json.dumps(changed))
    assert cli.main(["sweep", "--compare", str(a), str(b)]) == 1
    assert "t seed 1: examples 300 != 1" in capsys.readouterr().out
    assert cli.main(["sweep", "--compare", str(a), str(tmp_path / "none.json")]) == 2
    assert "no sweep report at" in capsys.readouterr().err
