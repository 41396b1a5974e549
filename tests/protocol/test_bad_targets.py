"""Targets that break the protocol get a verdict and a message that says what is wrong, and where."""
import re

import pytest

from dlproof.properties import harness, results
from dlproof.properties.assertions import PropertyFailure, TargetRaised
from dlproof.properties.registry import all_properties

import bad_targets as B


def _run(target, prop_id, spec, tmp_path, expected_exc=(PropertyFailure, TargetRaised)):
    prop = all_properties()[prop_id]
    n_rows = len(results.ROWS)
    with pytest.raises(expected_exc) as info:
        harness.run(prop, target, spec, profile="dev", report_dir=tmp_path)
    assert len(results.ROWS) == n_rows + 1  # the verdict is recorded even though run() raised
    row = results.ROWS[-1]
    assert row["target"] == spec and row["target_name"] == target.name and row["property"] == prop_id
    return info.value, row


def _example_dims(message: str) -> dict:
    """T, B, n of the shrunk example, from the ``| example: ...; {scalars}`` suffix of the row message."""
    return {k: int(re.search(rf"'{k}': (\d+)", message).group(1)) for k in ("T", "B", "n")}


def test_raising_target_is_an_error(tmp_path):
    exc, row = _run(B.RAISES, "rnn.forward", "bad_targets:RAISES", tmp_path, TargetRaised)
    assert exc.capability == "rnn" and isinstance(exc.exc, RuntimeError)
    assert row["verdict"] == "error"
    assert "rnn raised RuntimeError: cuDNN exploded" in row["message"]
    assert f"but should return its result [{B.RAISES.name} :: rnn.forward]" in row["message"]
    assert row["repro"] is not None and (tmp_path / "repro").is_dir()


def test_wrong_shape_fails_naming_both_shapes(tmp_path):
    exc, row = _run(B.WRONG_SHAPE, "rnn.forward", "bad_targets:WRONG_SHAPE", tmp_path, PropertyFailure)
    assert row["verdict"] == "fail"
    msg = row["message"]
    assert str(exc) in msg
    assert B.WRONG_SHAPE.name in msg and "rnn.forward" in msg
    assert f"[{B.WRONG_SHAPE.name} :: rnn.forward]" in str(exc)  # the Checker's message shape
    d = _example_dims(msg)
    assert d["T"] != d["B"]  # the shrunk example is one where the layouts differ in shape
    assert f"hs: shape={(d['B'], d['T'], d['n'])}, but should be {(d['T'], d['B'], d['n'])}" in msg


def test_wrong_dtype_fails_naming_dtypes(tmp_path):
    exc, row = _run(B.WRONG_DTYPE, "rnn.forward", "bad_targets:WRONG_DTYPE", tmp_path, PropertyFailure)
    assert row["verdict"] == "fail"
    assert "hs: dtype=float32, but should be float64" in str(exc)
    assert f"[{B.WRONG_DTYPE.name} :: rnn.forward]" in str(exc)


def test_lists_fail_naming_ndarray(tmp_path):
    exc, row = _run(B.LISTS, "rnn.forward", "bad_targets:LISTS", tmp_path, PropertyFailure)
    assert row["verdict"] == "fail"
    assert "hs: returned list, but should be numpy.ndarray" in str(exc)
    assert f"[{B.LISTS.name} :: rnn.forward]" in str(exc)


def test_nan_fails_as_non_finite(tmp_path):
    exc, row = _run(B.NAN, "rnn.forward", "bad_targets:NAN", tmp_path, PropertyFailure)
    assert row["verdict"] == "fail"
    msg = str(exc)
    assert msg.startswith("hs: non-finite value nan at index (") and "but should be finite" in msg
    assert f"[{B.NAN.name} :: rnn.forward]" in str(exc)


def test_inf_fails_as_non_finite(tmp_path):
    """-inf in the last entry of h_T (hs finite): named with its output, value and index."""
    exc, row = _run(B.INF, "rnn.forward", "bad_targets:INF", tmp_path, PropertyFailure)
    assert row["verdict"] == "fail"
    d = _example_dims(row["message"])
    assert str(exc).startswith(f"h_T: non-finite value -inf at index ({d['B'] - 1}, {d['n'] - 1}), but should be finite")
    assert f"[{B.INF.name} :: rnn.forward]" in str(exc)


def test_clip_returning_non_tuple_fails(tmp_path):
    exc, row = _run(B.CLIP_NOT_TUPLE, "clip.norm.rule", "bad_targets:CLIP_NOT_TUPLE", tmp_path, PropertyFailure)
    assert row["verdict"] == "fail"
    assert "clip_grad_norm(grads, max_norm): returned list, but should be a tuple" in str(exc)
    assert f"[{B.CLIP_NOT_TUPLE.name} :: clip.norm.rule]" in str(exc)


@pytest.mark.parametrize("name", ["raises", "wrong_shape", "nan", "inf"])
def test_other_capabilities_still_pass(name, tmp_path):
    """Only the broken capability is blamed: the clipping rule still passes on an rnn-broken target."""
    row = harness.run(all_properties()["clip.norm.rule"], B.BAD_TARGETS[name], f"bad_targets:{name}",
                      profile="dev", report_dir=tmp_path)
    assert row["verdict"] == "pass" and row["examples"] > 0


def test_missing_capability_is_not_provided(tmp_path):
    from dataclasses import replace

    target = replace(B.BASE, name="no rnn", rnn=None)
    row = harness.run(all_properties()["rnn.forward"], target, "no-rnn", profile="dev", report_dir=tmp_path)
    assert row["verdict"] == "not provided" and "rnn" in row["message"]
    assert results.ROWS[-1] is row
