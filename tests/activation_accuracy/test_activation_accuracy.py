"""act.{rnn,lstm,gru}_cell.accuracy (dlproof/properties/activation_accuracy.py): the measured activation error in
the convention's unit, the kill of a 23-24 u tanh that declares the default, and the pass of the same cells once
they declare activation_ulps = 24."""
from __future__ import annotations

from dataclasses import replace

import mpmath
import numpy as np
import pytest

from dlproof.impl.targets import numpy_target
from dlproof.properties import activation_accuracy as aa
from dlproof.properties import harness
from dlproof.properties.assertions import Checker, PropertyFailure
from dlproof.properties.registry import PROPERTIES, all_properties  # `aa` registers its properties on import

from mutants.activation_accuracy import CELLS, MUTANTS, declared_target, tanh24

U32 = 2.0 ** -24
F32 = numpy_target("float32")


def _problem(kind, seed=1, n=6, B=3, dtype="float32"):
    return aa.zero_weight_problem(kind, dtype, np.random.default_rng(seed), n, B)


def test_zero_weights_and_biases_over_the_whole_range():
    p = _problem("gru", n=16, B=4)
    assert all(not p[k].any() for k in p.arrays if k.startswith("W_"))
    b = np.concatenate([p[k] for k in ("b_r", "b_z", "b_xn", "b_hn")]).astype(np.float64)
    a = np.abs(b)
    assert (a >= 10).any() and (a <= 3).any() and (b == 0).any() and ((0 < a) & (a < 0.2)).any()
    assert all(p[k].dtype == np.float32 for k in p.arrays)


def test_measured_value_is_the_absolute_error_of_tanh_in_u():
    """RNN h' = tanh(b): with exact pre-activations the measured X is max |h' - tanh(b)| / u (independent mpmath)."""
    p = _problem("rnn", seed=3, n=16, B=4)
    out = tanh24(p["b"]).astype(np.float64)  # the mutant's cell at zero weights is tanh24 of the bias
    with mpmath.workdps(40):
        err = max(abs(mpmath.mpf(float(o)) - mpmath.tanh(mpmath.mpf(float(b)))) for o, b in zip(out, p["b"]))
    want = float(err) / U32
    r = aa.measure("rnn", MUTANTS["act_tanh_24u"].target, p)
    assert 22.4 <= want <= 23.6  # the mutant's construction: 23 u +- half an ulp
    assert abs(r["ulps"] - want) <= 1e-5 * want


@pytest.mark.parametrize("kind", aa.KINDS)
def test_a_correct_float32_target_measures_about_half_an_ulp(kind):
    """NumPy's float32 tanh / sigmoid are within a few tenths of u of exact: far from the default 4."""
    x = aa.measure(kind, F32, _problem(kind, seed=2, n=16, B=4))["ulps"]
    assert x < 1.5


def test_a_24u_tanh_declaring_the_default_fails_with_the_value_to_declare():
    m = MUTANTS["act_tanh_24u"]
    assert m.target.convention("activation_ulps") == 4.0 and set(m.mutated) == {"rnn_cell", "lstm_cell", "gru_cell"}
    with pytest.raises(PropertyFailure) as info:
        aa._check("rnn", m.target, _problem("rnn", seed=5, n=16, B=4), Checker(m.target, "act.rnn_cell.accuracy"))
    msg = str(info.value)
    assert "declares activation_ulps = 4" in msg and "declare activation_ulps >= 24" in msg and "u = 2^-24" in msg
    assert info.value.part == "forward" and "fast-math or hardware approximation" in info.value.likely_bug


@pytest.mark.parametrize("kind", aa.KINDS)
def test_the_same_cells_declaring_24_pass(kind):
    t = declared_target(24)
    chk = Checker(t, f"act.{kind}_cell.accuracy")
    for seed in range(3):
        aa._check(kind, t, _problem(kind, seed=seed, n=16, B=4), chk)
    assert 0.5 < chk.worst <= 1.0  # measured at 12 to 24 u (the error reaches the output through sigma <= 1)


def test_a_wrong_formula_is_not_called_an_activation_error():
    """LSTM gates i and f swapped: at zero weights c' = sigma(b_i) c + sigma(b_f) g, far beyond any tanh/sigmoid."""
    def swapped(x, h, c, p):
        q = dict(p, b_i=p["b_f"], b_f=p["b_i"], W_xi=p["W_xf"], W_xf=p["W_xi"], W_hi=p["W_hf"], W_hf=p["W_hi"])
        return F32.lstm_cell(x, h, c, q)

    t = replace(F32, name="i and f swapped", lstm_cell=swapped)
    with pytest.raises(PropertyFailure) as info:
        aa._check("lstm", t, _problem("lstm", seed=0, n=8, B=2), Checker(t, "act.lstm_cell.accuracy"))
    assert "wrong cell formula" in info.value.likely_bug and info.value.part == "forward"


def test_tf32_declaration_is_read_in_its_own_unit():
    """matmul_precision = "tf32": the model charges activations at u = 2^-11, so 24 u of float32 is well within 4."""
    t = replace(MUTANTS["act_tanh_24u"].target, conventions={**F32.conventions, "matmul_precision": "tf32"})
    chk = Checker(t, "act.rnn_cell.accuracy")
    aa._check("rnn", t, _problem("rnn", n=16, B=4), chk)
    assert chk.worst < 24 / (4 * 2 ** 13)


def test_registered_for_every_dtype_and_only_for_tanh_rnns():
    props = PROPERTIES
    for kind in aa.KINDS:
        p = props[f"act.{kind}_cell.accuracy"]
        assert set(p.precisions) == {"float16", "bfloat16", "float32", "float64"}
        assert p.capabilities == (f"{kind}_cell",)
    relu = replace(F32, conventions={**F32.conventions, "rnn_activation": "relu"})
    assert not props["act.rnn_cell.accuracy"].checks(relu) and props["act.rnn_cell.accuracy"].checks(F32)


def test_bad_arguments_are_refused_clearly():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="kind='conv'"):
        aa.zero_weight_problem("conv", "float32", rng)
    with pytest.raises(ValueError, match="n=0"):
        aa.zero_weight_problem("rnn", "float32", rng, n=0)
    with pytest.raises(ValueError, match="dtype='int8'"):
        aa.zero_weight_problem("rnn", "int8", rng)
    with pytest.raises(ValueError, match="examples=0"):
        aa.measure_target(F32, examples=0)
    with pytest.raises(ValueError, match="kind='conv'"):
        aa.measure_target(F32, kinds=("conv",), examples=1)


@pytest.mark.slow
@pytest.mark.parametrize("kind", aa.KINDS)
def test_ci_profile_kills_the_mutant_and_passes_the_declared_target(kind, tmp_path):
    prop = PROPERTIES[f"act.{kind}_cell.accuracy"]
    with pytest.raises(PropertyFailure, match="declare activation_ulps >= "):
        harness.run(prop, MUTANTS["act_tanh_24u"].target, "tests.mutants:act_tanh_24u", profile="ci",
                    report_dir=tmp_path)
    harness.run(prop, declared_target(24), "tests.activation_accuracy:declared24", profile="ci", report_dir=tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_ci_profile_passes_the_numpy_references(dtype, tmp_path):
    t = numpy_target(dtype)
    for kind in aa.KINDS:
        harness.run(PROPERTIES[f"act.{kind}_cell.accuracy"], t, f"numpy.{dtype}", profile="ci", report_dir=tmp_path)


@pytest.mark.slow
def test_the_declared_target_passes_every_property_of_its_cells(tmp_path):
    """The convention is honoured by the whole suite's models: the 23-24 u tanh cells declaring activation_ulps = 24
    pass every property that calls rnn_cell, lstm_cell or gru_cell (the extremes, peephole and projection checks
    included), not only the act.* ones."""
    t = declared_target(24)
    props = [p for p in all_properties().values() if p.checks(t) and set(p.capabilities) & set(CELLS)]
    assert len(props) >= 10
    for p in props:
        harness.run(p, t, "tests.activation_accuracy:declared24", profile="ci", report_dir=tmp_path)
