"""Targets that hang or mutate their inputs are failures with a clear message; the suite keeps going."""
import pytest

from dlproof.properties import assertions, harness, results
from dlproof.properties.assertions import PropertyFailure, TargetTimeout
from dlproof.properties.registry import all_properties

import hostile_targets as H

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _isolated_rows(monkeypatch):
    saved = list(results.ROWS)
    yield
    results.ROWS[:] = saved


def _run(prop_id, target, tmp_path):
    with pytest.raises(PropertyFailure) as info:
        harness.run(all_properties()[prop_id], target, "hostile", profile="dev", report_dir=tmp_path)
    return info.value, results.ROWS[-1]


def test_a_hanging_call_is_a_failure(tmp_path, monkeypatch):
    monkeypatch.setattr(assertions, "CALL_TIMEOUT", 0.5)
    exc, row = _run("rnn.forward", H.hangs, tmp_path)
    assert isinstance(exc, TargetTimeout) and row["verdict"] == "fail"
    assert "did not return within 0.5 s" in str(exc) and H.hangs.name in str(exc)


@pytest.mark.parametrize("prop_id,target,where", [
    ("rnn.forward", H.mutates, "args[0]"),
    ("clip.norm.rule", H.clips_in_place, "args[0][0]"),
])
def test_in_place_mutation_is_a_failure(prop_id, target, where, tmp_path):
    exc, row = _run(prop_id, target, tmp_path)
    assert row["verdict"] == "fail"
    assert f"mutated its input {where} in place" in str(exc)


@pytest.mark.slow
def test_isolate_catches_a_hang(pytester, monkeypatch, tmp_path):
    """--dlproof-isolate runs the target in a worker process: the hang is killed and reported; the rest runs."""
    from dlproof.derivations import cache, kernels, records
    import os

    records(), kernels()
    monkeypatch.setenv("DLPROOF_CACHE_DIR", str(cache.cache_dir()))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [os.path.dirname(__file__), os.environ.get("PYTHONPATH")])))
    report = tmp_path / "report"
    result = pytester.runpytest_subprocess(
        "--pyargs", "dlproof.properties", "--target", "hostile_targets:hangs", "--dlproof-isolate",
        "--dlproof-call-timeout", "2", "--dlproof-profile", "dev", f"--report={report}", "-p", "no:cacheprovider",
        "--import-mode=importlib", "-k", "(rnn.forward and not bi.) or rnn.cell.forward")
    result.assert_outcomes(passed=1, failed=1)
    import json

    rows = {r["property"]: r for r in json.loads((report / "correctness.json").read_text())["results"]}
    assert rows["rnn.forward"]["verdict"] == "fail" and "did not return within 2 s" in rows["rnn.forward"]["message"]
    assert rows["rnn.cell.forward"]["verdict"] == "pass"
