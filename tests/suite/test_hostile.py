"""Targets that hang, mutate their inputs, keep state between calls or print a lot are failures with a clear
message (the target, the property, what is wrong, "but should ..."); the suite keeps going and writes its report."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dlproof.properties import assertions, harness, results
from dlproof.properties.assertions import PropertyFailure, TargetTimeout
from dlproof.properties.protocol import STATELESS_EXAMPLES
from dlproof.properties.registry import all_properties

import hostile_targets as H

TARGETS = str(Path(__file__).resolve().parents[1] / "targets")  # hostile_targets.py, for subprocesses

pytest_plugins = ["pytester"]


def _run(prop_id, target, tmp_path):
    with pytest.raises(PropertyFailure) as info:
        harness.run(all_properties()[prop_id], target, "hostile", profile="dev", report_dir=tmp_path)
    return info.value, results.ROWS[-1]


def test_a_hanging_call_is_a_failure(tmp_path, monkeypatch):
    monkeypatch.setattr(assertions, "CALL_TIMEOUT", 0.5)
    streams = sys.stdout, sys.stderr
    exc, row = _run("rnn.forward", H.hangs, tmp_path)
    assert isinstance(exc, TargetTimeout) and row["verdict"] == "fail"
    assert "did not return within 0.5 s" in str(exc) and f"[{H.hangs.name} :: rnn.forward]" in str(exc)
    assert (sys.stdout, sys.stderr) == streams  # the output capture is undone when the timer interrupts a call


@pytest.mark.parametrize("prop_id,target,where", [
    ("rnn.forward", H.mutates, "xs"),  # named by the capability's signature (dlproof.target.CAPABILITIES)
    ("clip.norm.rule", H.clips_in_place, "grads[0]"),
])
def test_in_place_mutation_is_a_failure(prop_id, target, where, tmp_path):
    exc, row = _run(prop_id, target, tmp_path)
    assert row["verdict"] == "fail"
    assert f"mutated its input {where} in place, but should leave its inputs unchanged" in str(exc)
    assert f"[{target.name} :: {prop_id}]" in str(exc)


# ---- state kept between calls -------------------------------------------------------------------

@pytest.mark.parametrize("prop_id,target,what", [
    ("protocol.rnn_cell.stateless", H.caches_h, ["rnn_cell(a) called twice in a row: the second result differs "
                                                 "bitwise from the first (h'["]),
    # one call late: depending on what the previous example left, twice-in-a-row or the new-objects check sees it
    ("protocol.lstm_cell.stateless", H.one_call_late, ["lstm_cell(a) called twice in a row: the second result "
                                                       "differs bitwise from the first (",
                                                       "lstm_cell(b) through new array objects: differs bitwise"]),
    ("protocol.gru_cell.stateless", H.caches_on_identity, ["gru_cell(b) through new array objects: differs bitwise "
                                                           "from gru_cell(b) on the arrays of the earlier calls, "
                                                           "refilled in place (h'["]),
    ("protocol.gru_cell.stateless", H.reuses_buffer, ["the result of the first gru_cell(a): changed during later "
                                                      "calls (h'["]),
], ids=["caches_h", "one_call_late", "caches_on_identity", "reuses_buffer"])
def test_state_kept_between_calls_is_a_failure(prop_id, target, what, tmp_path):
    exc, row = _run(prop_id, target, tmp_path)
    msg = str(exc)
    assert row["verdict"] == "fail" and any(msg.startswith(w) for w in what), msg
    assert "but should" in msg and msg.endswith(f"[{target.name} :: {prop_id}]")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_a_pure_cell_is_stateless(kind, dtype, tmp_path):
    """The reference passes (ci: 100 examples), and so does every hostile target's untouched cell."""
    from dlproof.impl.targets import numpy_target

    prop = all_properties()[f"protocol.{kind}_cell.stateless"]
    row = harness.run(prop, numpy_target(dtype), "numpy", profile="ci", report_dir=tmp_path)
    assert row["verdict"] == "pass" and row["examples"] == STATELESS_EXAMPLES
    other = {"rnn": H.one_call_late, "lstm": H.caches_h, "gru": H.caches_h}[kind]
    assert harness.run(prop, other, "hostile", profile="dev", report_dir=tmp_path)["verdict"] == "pass"


# ---- printing -----------------------------------------------------------------------------------

@pytest.mark.parametrize("target,stream,size", [
    (H.chatty, "stdout", "3.5 MiB"),                 # stdout is named first; it also wrote 2 MiB to stderr
    (H.chatty_stderr_bytes, "stderr", "1.5 MiB"),    # bytes through sys.stderr.buffer count too
], ids=["print", "stderr_buffer"])
def test_printing_a_lot_is_a_failure(target, stream, size, tmp_path, capsys):
    exc, row = _run("rnn.forward", target, tmp_path)
    msg = str(exc)
    assert row["verdict"] == "fail"
    assert msg.startswith(f"rnn: wrote {size} to {stream} during one call (limit 1 MiB; it begins "), msg
    assert "but should write at most 1 MiB per call" in msg and msg.endswith(f"[{target.name} :: rnn.forward]")
    assert len(row["message"]) < 1000
    out, err = capsys.readouterr()
    assert len(out) + len(err) < 10_000  # none of the megabytes reached the real streams


def test_small_prints_are_dropped_silently(tmp_path, capsys, monkeypatch):
    row = harness.run(all_properties()["rnn.forward"], H.quiet, "hostile", profile="dev", report_dir=tmp_path)
    assert row["verdict"] == "pass"
    out, err = capsys.readouterr()
    assert "rnn called with" not in out and "a warning line" not in err
    monkeypatch.setattr(assertions, "OUTPUT_LIMIT", 20)  # the same prints, over a smaller limit
    exc, _ = _run("rnn.forward", H.quiet, tmp_path)
    msg = str(exc)
    assert msg.startswith("rnn: wrote ") and msg.endswith(f"[{H.quiet.name} :: rnn.forward]")
    assert " bytes to stdout during one call (limit 20 bytes; it begins 'rnn called with xs of shape" in msg


def test_printing_in_an_isolated_worker_is_a_failure(tmp_path):
    """--dlproof-isolate: the worker captures what the call prints and reports the size, as in-process."""
    from dlproof.isolate import isolated, stop

    target = isolated("hostile_targets:chatty", timeout=30)
    try:
        exc, row = _run("rnn.forward", target, tmp_path)
    finally:
        stop(target)  # the worker process
    assert str(exc).startswith("rnn: wrote 3.5 MiB to stdout during one call (limit 1 MiB")
    assert str(exc).endswith(f"[{H.chatty.name} [isolated] :: rnn.forward]")


# ---- end to end: `dlproof conform` on a target with several hostile capabilities ------------------

@pytest.mark.slow
def test_conform_reports_every_hostile_capability(tmp_path):
    """``dlproof conform`` in a subprocess: exit 1, both reports written, each hostile capability failed with
    its own message, the correct capabilities pass, and the 3.5 MiB a call of rnn never reaches the output."""
    from dlproof.derivations import cache, kernels, records

    records(), kernels()  # a warm cache for the subprocess
    env = dict(os.environ, DLPROOF_CACHE_DIR=str(cache.cache_dir()),
               PYTHONPATH=os.pathsep.join(filter(None, [TARGETS, os.environ.get("PYTHONPATH")])))
    env.pop("DLPROOF_TARGET", None)
    report = tmp_path / "report"
    proc = subprocess.run([sys.executable, "-m", "dlproof", "conform", "hostile_targets:many_at_once",
                           "--profile", "dev", "--call-timeout", "1", "--report", str(report)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert len(proc.stdout) + len(proc.stderr) < 512 * 1024 and "x" * 200 not in proc.stdout + proc.stderr
    md = (report / "correctness.md").read_text(encoding="utf-8")
    rows = {r["property"]: r for r in json.loads((report / "correctness.json").read_text(encoding="utf-8"))["results"]}
    name = "hostile: many at once"
    expected = {
        "protocol.rnn_cell.stateless": ("fail", "rnn_cell(a) called twice in a row: the second result differs",
                                        "be identical: a target must be a pure function of its arguments"),
        "rnn.forward": ("fail", "rnn: wrote 3.5 MiB to stdout during one call (limit 1 MiB", "write at most 1 MiB"),
        "gru.cell.forward": ("fail", "gru_cell(...) h': non-finite value inf at index (", "be finite"),
        "lstm.cell.forward": ("error", "lstm_cell raised RuntimeError: lstm_cell is not implemented", "return its result"),
        "gru.forward": ("fail", "gru: did not return within 1 s", "return"),
        "clip.value.rule": ("fail", "clip_grad_value: mutated its input grads[", "leave its inputs unchanged"),
    }
    for pid, (verdict, what, should) in expected.items():
        r = rows[pid]
        assert r["verdict"] == verdict and r["message"].startswith(what), (pid, r["message"])
        assert f"but should {should}" in r["message"] and f"[{name} :: {pid}]" in r["message"], (pid, r["message"])
        assert r["repro"] is not None and os.path.isfile(r["repro"]["npz"])
        assert f"`hostile_targets:many_at_once` :: `{pid}` ({verdict})" in md
    for pid in ("clip.norm.rule", "clip.norm.norm", "rnn.param_count", "lstm.param_count", "gru.param_count",
                "protocol.gru_cell.stateless"):  # an inf that is the same every call is stateless
        assert rows[pid]["verdict"] == "pass" and rows[pid]["examples"] > 0, (pid, rows[pid]["message"])
    assert rows["rnn.vjp"]["verdict"] == "not provided"


@pytest.mark.slow
def test_isolate_catches_a_hang(pytester, monkeypatch, tmp_path):
    """--dlproof-isolate runs the target in a worker process: the hang is killed and reported; the rest runs."""
    from dlproof.derivations import cache, kernels, records
    import os

    records(), kernels()
    monkeypatch.setenv("DLPROOF_CACHE_DIR", str(cache.cache_dir()))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [TARGETS, os.environ.get("PYTHONPATH")])))
    report = tmp_path / "report"
    result = pytester.runpytest_subprocess(
        "--pyargs", "dlproof.properties", "--target", "hostile_targets:hangs", "--dlproof-isolate",
        "--dlproof-call-timeout", "2", "--dlproof-profile", "dev", f"--report={report}", "-p", "no:cacheprovider",
        "--import-mode=importlib", "-k", "(rnn.forward and not bi. and not stack.) or rnn.cell.forward")
    result.assert_outcomes(passed=1, failed=1)
    import json

    rows = {r["property"]: r for r in json.loads((report / "correctness.json").read_text())["results"]}
    assert rows["rnn.forward"]["verdict"] == "fail" and "did not return within 2 s" in rows["rnn.forward"]["message"]
    assert rows["rnn.cell.forward"]["verdict"] == "pass"
