"""The extremes: the 50-digit mpmath reference, the clip_norm_scaling convention, and the power of each
extremes.* property (each catches a deliberately broken target and passes on the references)."""
from dataclasses import replace

import numpy as np
import pytest

from dlproof.derivations import oracle_clipping, oracle_gru, oracle_lstm, oracle_rnn
from dlproof.impl.numpy_ref import gru as G
from dlproof.impl.numpy_ref import lstm as L
from dlproof.impl.numpy_ref import rnn as R
from dlproof.impl.targets import numpy_clip_target, numpy_target
from dlproof.loader import DEFAULT_TARGETS, load_target, specs_from
from dlproof.parameters import GRU_PARAMS, LSTM_PARAMS
from dlproof.properties import extreme_oracle as xo
from dlproof.properties import harness, results
from dlproof.properties import tolerances as tol
from dlproof.properties.assertions import PropertyFailure, TargetRaised
from dlproof.properties.extremes import naive_norm
from dlproof.properties.registry import all_properties
from dlproof.target import Target, TargetError

EXTREMES = ("extremes.rnn_cell.saturated", "extremes.lstm_cell.saturated", "extremes.gru_cell.saturated",
            "extremes.clip.norm.huge", "extremes.clip.norm.tiny")


def _run(target, prop_id, tmp_path=None):
    return harness.run(all_properties()[prop_id], target, f"tests.test_extremes:{target.name}", profile="ci",
                       report_dir=tmp_path)


# ---- the mpmath reference against the float64 SymPy oracle (ordinary inputs) -------------------------------

def _ordinary(rng, names, n=3, m=2, B=2):
    p = {k: rng.standard_normal((n, m) if k.startswith("W_x") else (n, n) if k.startswith("W_h") else (n,))
         for k in names}
    return rng.standard_normal((B, m)), np.tanh(rng.standard_normal((B, n))), rng.standard_normal((B, n)), p


@pytest.mark.parametrize("seed", range(5))
def test_reference_equals_the_oracle_on_ordinary_inputs(seed):
    rng = np.random.default_rng(seed)
    x, h, c, p = _ordinary(rng, ("W_x", "W_h", "b"))
    for act in ("tanh", "relu"):
        _, t = tol.rnn_forward_tol(x[None], h, p, act, "float64")
        np.testing.assert_array_less(np.abs(xo.rnn_cell(x, h, p, act) - oracle_rnn.rnn_cell(x, h, p, act)), t + 1e-300)
    x, h, c, p = _ordinary(rng, LSTM_PARAMS)
    (eh, ec), (th, tc) = xo.lstm_cell(x, h, c, p), tol.lstm_forward_tol(x[None], h, c, p, "float64")[1]
    oh, oc = oracle_lstm.lstm_cell(x, h, c, p)
    assert np.all(np.abs(eh - oh) <= th) and np.all(np.abs(ec - oc) <= tc)
    x, h, c, p = _ordinary(rng, GRU_PARAMS)
    for variant in ("reset_after", "reset_before"):
        _, t = tol.gru_forward_tol(x[None], h, p, variant, "float64")
        assert np.all(np.abs(xo.gru_cell(x, h, p, variant) - oracle_gru.gru_cell(x, h, p, variant)) <= t)
    grads = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    assert xo.norm(grads) == pytest.approx(oracle_clipping.global_norm(grads), rel=4 * 2.0 ** -53 * 8)
    for c_ in (0.1, 1.0, 100.0):
        for eps in (0.0, 1e-6):
            want, N = oracle_clipping.clip_by_norm(grads, c_, eps)
            got = xo.clipped(grads, [xo.scale(xo.norm(grads), c_, eps)] * 2)
            for a, b in zip(got, want):
                np.testing.assert_allclose(a, b, rtol=16 * 2.0 ** -53, atol=0)


# ---- the mpmath reference at the extremes: known closed forms -----------------------------------------------

def test_reference_closed_forms_rnn():
    one = {"W_x": np.array([[1e4]]), "W_h": np.zeros((1, 1)), "b": np.zeros(1)}
    x = np.array([[1.0], [-1.0], [0.0]])
    h = np.zeros((3, 1))
    np.testing.assert_array_equal(xo.rnn_cell(x, h, one, "tanh"), [[1.0], [-1.0], [0.0]])  # tanh(+-1e4) rounds to +-1
    np.testing.assert_array_equal(xo.rnn_cell(x, h, one, "relu"), [[1e4], [0.0], [0.0]])
    # a subnormal input times a huge weight: 2^-1074 * 2^1000 = 2^-74 exactly, tanh(2^-74) rounds to 2^-74
    sub = {"W_x": np.array([[2.0 ** 1000]]), "W_h": np.zeros((1, 1)), "b": np.zeros(1)}
    got = xo.rnn_cell(np.array([[2.0 ** -1074]]), np.zeros((1, 1)), sub, "tanh")
    assert got[0, 0] == 2.0 ** -74


def _lstm_params(pre: dict, n=1, m=1):
    """Gates with constant pre-activations: a_q = b_q (weights zero)."""
    p = {}
    for q in "ifgo":
        p[f"W_x{q}"], p[f"W_h{q}"], p[f"b_{q}"] = np.zeros((n, m)), np.zeros((n, n)), np.full(n, pre[q])
    return p


def test_reference_closed_forms_lstm():
    tiny = 2.0 ** -1074  # the smallest float64 subnormal
    p = _lstm_params({"i": -1e4, "f": 1e4, "g": 0.7, "o": 0.0})
    h_, c_ = xo.lstm_cell(np.zeros((1, 1)), np.zeros((1, 1)), np.array([[tiny]]), p)
    # c' = sigma(1e4) c + sigma(-1e4) tanh(0.7) = c (1 - e^-1e4) + e^-1e4 tanh(0.7): rounds to c = 2^-1074
    assert c_[0, 0] == tiny
    # h' = sigma(0) tanh(c') = tanh(c')/2 < 2^-1075 = eta/2: 0 is the correctly rounded value (correct underflow)
    assert h_[0, 0] == 0.0
    # saturated gates: c' = c + tanh(3) exactly as 1 * c + 1 * g
    p = _lstm_params({"i": 1e4, "f": 1e4, "g": 3.0, "o": 1e4})
    h_, c_ = xo.lstm_cell(np.zeros((1, 1)), np.zeros((1, 1)), np.array([[0.5]]), p)
    assert c_[0, 0] == pytest.approx(0.5 + np.tanh(3.0), rel=2.0 ** -52)
    assert h_[0, 0] == pytest.approx(np.tanh(0.5 + np.tanh(3.0)), rel=2.0 ** -52)


@pytest.mark.parametrize("variant", ["reset_after", "reset_before"])
def test_reference_closed_forms_gru(variant):
    p = {k: np.zeros((1, 1)) if k.startswith("W") else np.zeros(1) for k in GRU_PARAMS}
    h = np.array([[0.3]])
    p["b_z"] = np.array([1e4])  # z = 1 - e^-1e4: h' = h
    assert xo.gru_cell(np.zeros((1, 1)), h, p, variant)[0, 0] == 0.3
    p["b_z"] = np.array([-1e4])  # z = e^-1e4: h' = n = tanh(0) = 0 (z h = 0.3 e^-1e4 is below eta/2)
    assert xo.gru_cell(np.zeros((1, 1)), h, p, variant)[0, 0] == 0.0


def test_reference_norm_and_rule_closed_forms():
    assert xo.norm([np.array([3 * 2.0 ** 900, 4 * 2.0 ** 900])]) == 5 * 2.0 ** 900  # squares overflow float64
    assert xo.norm([np.array([3 * 2.0 ** -1000]), np.array([4 * 2.0 ** -1000])]) == 5 * 2.0 ** -1000  # squares underflow
    assert xo.norm([np.array([3e19, 4e19], np.float32)]) == pytest.approx(5e19, rel=2.0 ** -23)
    assert xo.scale(float("inf"), 1.0) == 0 and xo.scale(float("inf"), 1.0, 1e-6) == 0
    assert xo.scale(0.0, 1.0) == 1 and xo.scale(0.0, 1e-9, 1e-6) == pytest.approx(1e-3, rel=1e-15)
    assert xo.scale(2.0, 1.0) == 0.5 and xo.scale(0.5, 1.0) == 1


def test_naive_norm_is_decided_by_the_dtype():
    assert naive_norm([np.array([3e19, 4e19], np.float32)], "float32") == float("inf")
    assert naive_norm([np.array([1e-25, -3e-24, 0.0], np.float32)], "float32") == 0.0
    assert naive_norm([np.array([3.0, 4.0], np.float32)], "float32") == 5.0
    # 2^64: sum g^2 = 2^128, within rounding of max = 2^128 (1 - 2^-24): inf or finite depends on the rounding
    assert naive_norm([np.array([2.0 ** 64, 0.0], np.float32)], "float32") is None
    assert naive_norm([np.array([2.0 ** 64], np.float32)], "float32", single="abs") == 2.0 ** 64  # torch: |g|
    assert naive_norm([np.array([3e160, 4e160])], "float64") == float("inf")
    assert naive_norm([np.array([3e19, 4e19])], "float64") == pytest.approx(5e19, rel=1e-15)


# ---- the convention ---------------------------------------------------------------------------------------

def test_convention_vocabulary():
    for v in ("scaled", "unscaled", "unscaled_nan", "unscaled_product_first"):
        assert Target("t", conventions={"clip_norm_scaling": v}).convention("clip_norm_scaling") == v
    assert Target("t").convention("clip_norm_scaling") == "scaled"
    with pytest.raises(TargetError, match="clip_norm_scaling"):
        Target("t", conventions={"clip_norm_scaling": "naive"})


# ---- naive clipping implementations (NumPy, in the target's dtype) ------------------------------------------

def _naive_norm(gs, dt):
    with np.errstate(over="ignore", under="ignore"):
        return np.sqrt(np.sum([np.sum(np.square(g)) for g in gs], dtype=dt), dtype=dt)


def _clip_unscaled(eps=0.0):
    def unscaled(grads, max_norm):
        dt = grads[0].dtype.type
        N = _naive_norm(grads, dt)
        with np.errstate(over="ignore", divide="ignore"):
            s = min(dt(1), dt(max_norm) / (N + dt(eps))) if eps > 0 else (dt(1) if N <= max_norm else dt(max_norm) / N)
        with np.errstate(under="ignore"):
            return [g * s for g in grads], float(N)
    return unscaled


def _clip_keras_global(grads, max_norm):
    """Keras' clip_by_global_norm: scale = c min(1/N, 1/c) + (N - N)."""
    dt = grads[0].dtype.type
    N, c = _naive_norm(grads, dt), dt(max_norm)
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        s = c * np.minimum(dt(1) / N, dt(1) / c) + (N - N)
        return [g * s for g in grads], float(N)


def _clip_keras_per_tensor(grads, max_norm):
    """Keras' clipnorm: (g c) / max(N_g, c) per tensor; no pre-clip norm."""
    dt = grads[0].dtype.type
    c = dt(max_norm)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        return [(g * c) / np.maximum(_naive_norm([g], dt), c) for g in grads], None


def _clip_target(fn, dtype="float32", **conv):
    return Target(f"naive clip {getattr(fn, '__name__', fn)} ({dtype}, {conv})", dtype=dtype, conventions=conv,
                  clip_grad_norm=fn)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("prop_id", ["extremes.clip.norm.huge", "extremes.clip.norm.tiny"])
def test_naive_norm_declared_scaled_is_caught(prop_id, dtype, tmp_path):
    t = _clip_target(_clip_unscaled(), dtype)
    with pytest.raises(PropertyFailure) as info:
        _run(t, prop_id, tmp_path)
    msg = str(info.value)
    assert "clip_norm_scaling='unscaled'" in msg and prop_id in msg and "but should" in msg and t.name in msg
    assert results.ROWS[-1]["verdict"] == "fail" and results.ROWS[-1]["repro"] is not None


@pytest.mark.parametrize("prop_id", ["extremes.clip.norm.huge", "extremes.clip.norm.tiny"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", ["unscaled", "unscaled_eps", "unscaled_nan", "unscaled_product_first"])
def test_declared_naive_behaviour_is_checked_exactly(case, dtype, prop_id):
    fn, conv = {
        "unscaled": (_clip_unscaled(), {"clip_norm_scaling": "unscaled"}),
        "unscaled_eps": (_clip_unscaled(1e-6), {"clip_norm_scaling": "unscaled", "clip_eps": 1e-6}),
        "unscaled_nan": (_clip_keras_global, {"clip_norm_scaling": "unscaled_nan"}),
        "unscaled_product_first": (_clip_keras_per_tensor, {"clip_norm_scaling": "unscaled_product_first",
                                                            "clip_scope": "per_tensor"}),
    }[case]
    assert _run(_clip_target(fn, dtype, **conv), prop_id)["verdict"] == "pass"


@pytest.mark.parametrize("mode", ["unscaled", "unscaled_nan"])
def test_scaled_reference_declared_naive_is_caught(mode):
    t = replace(numpy_clip_target(eps=0.0, scope="global", dtype="float32"), name=f"numpy clip declared {mode}",
                conventions={"clip_eps": 0.0, "clip_scope": "global", "clip_norm_scaling": mode})
    with pytest.raises(PropertyFailure, match="matches clip_norm_scaling='scaled'"):
        _run(t, "extremes.clip.norm.huge")


def test_nan_instead_of_zeros_is_caught():
    """Keras' NaN consequence declared as plain "unscaled" (zeros): caught, and the right value is named."""
    t = _clip_target(_clip_keras_global, "float32", clip_norm_scaling="unscaled")
    with pytest.raises(PropertyFailure, match="matches clip_norm_scaling='unscaled_nan'"):
        _run(t, "extremes.clip.norm.huge")


# ---- broken cells ----------------------------------------------------------------------------------------

def _flush(a):
    """Subnormal entries read as zero (denormals-are-zero)."""
    a = np.asarray(a)
    return np.where(np.abs(a) < np.finfo(a.dtype).tiny, np.zeros_like(a), a)


def _flush_p(p):
    return {k: _flush(v) for k, v in p.items()}


def _naive_sigmoid(a):
    return 1 / (1 + np.exp(-a))  # e^{1e4} overflows to inf with a RuntimeWarning; 1/(1 + inf) = 0 is right


def _nan_sigmoid(a):
    with np.errstate(over="ignore", invalid="ignore"):
        return np.exp(a) / (1 + np.exp(a))  # inf / inf = NaN at a = 1e4


def _nan_tanh(a):
    with np.errstate(over="ignore", invalid="ignore"):
        return (np.exp(2 * a) - 1) / (np.exp(2 * a) + 1)


def _lstm_with(sig):
    def cell(x, h, c, p):
        a = {q: x @ p[f"W_x{q}"].T + h @ p[f"W_h{q}"].T + p[f"b_{q}"] for q in "ifgo"}
        c2 = sig(a["f"]) * c + sig(a["i"]) * np.tanh(a["g"])
        return (sig(a["o"]) * np.tanh(c2)).astype(x.dtype), c2.astype(x.dtype)
    return cell


def _gru_with(sig):
    def cell(x, h, p):
        r = sig(x @ p["W_xr"].T + h @ p["W_hr"].T + p["b_r"])
        z = sig(x @ p["W_xz"].T + h @ p["W_hz"].T + p["b_z"])
        n = np.tanh(x @ p["W_xn"].T + p["b_xn"] + r * (h @ p["W_hn"].T + p["b_hn"]))
        return (z * h + (1 - z) * n).astype(x.dtype)
    return cell


F32 = numpy_target("float32")
BROKEN_CELLS = {
    "rnn_flushes_subnormals": (replace(F32, name="rnn cell, subnormal inputs flushed",
                                       rnn_cell=lambda x, h, p: R.rnn_cell(_flush(x), _flush(h), _flush_p(p))),
                               "extremes.rnn_cell.saturated", PropertyFailure),
    "rnn_tanh_nan": (replace(F32, name="rnn cell, tanh as (e^2a - 1)/(e^2a + 1)",
                             rnn_cell=lambda x, h, p: _nan_tanh(x @ p["W_x"].T + h @ p["W_h"].T + p["b"]).astype(x.dtype)),
                     "extremes.rnn_cell.saturated", PropertyFailure),
    "lstm_flushes_subnormals": (replace(F32, name="lstm cell, subnormal inputs flushed",
                                        lstm_cell=lambda x, h, c, p: L.lstm_cell(_flush(x), _flush(h), _flush(c), _flush_p(p))),
                                "extremes.lstm_cell.saturated", PropertyFailure),
    "lstm_sigmoid_nan": (replace(F32, name="lstm cell, sigmoid e^a/(1 + e^a)", lstm_cell=_lstm_with(_nan_sigmoid)),
                         "extremes.lstm_cell.saturated", PropertyFailure),
    "gru_flushes_subnormals": (replace(F32, name="gru cell, subnormal inputs flushed",
                                       gru_cell=lambda x, h, p: G.gru_cell(_flush(x), _flush(h), _flush_p(p))),
                               "extremes.gru_cell.saturated", PropertyFailure),
    "gru_sigmoid_nan": (replace(F32, name="gru cell, sigmoid e^a/(1 + e^a)", gru_cell=_gru_with(_nan_sigmoid)),
                        "extremes.gru_cell.saturated", PropertyFailure),
}


@pytest.mark.parametrize("name", sorted(BROKEN_CELLS))
def test_broken_cell_is_caught(name, tmp_path):
    target, prop_id, exc = BROKEN_CELLS[name]
    with pytest.raises(exc) as info:
        _run(target, prop_id, tmp_path)
    msg = str(info.value)
    assert results.ROWS[-1]["verdict"] == ("error" if exc is TargetRaised else "fail")
    if exc is PropertyFailure:
        assert target.name in msg and prop_id in msg and "but should" in msg


def test_a_warning_with_the_right_value_passes_and_is_recorded(tmp_path):
    """The textbook sigmoid 1/(1 + e^-a) overflows e^-a at a = -1e4 (a RuntimeWarning) and returns the right 0:
    a pass, whatever the warning filters of the project the run stands in (this one turns RuntimeWarning into
    an error); the warning is recorded in the row, not turned into an error."""
    target = replace(F32, name="lstm cell, sigmoid 1/(1 + e^-a)", lstm_cell=_lstm_with(_naive_sigmoid))
    row = _run(target, "extremes.lstm_cell.saturated", tmp_path)
    assert row["verdict"] == "pass", row["message"]
    assert any("RuntimeWarning" in w and "overflow" in w for w in row["warnings"]), row["warnings"]


@pytest.mark.parametrize("name", ["rnn_flushes_subnormals", "lstm_flushes_subnormals", "gru_flushes_subnormals"])
def test_flush_to_zero_declared_is_checked_exactly(name):
    """The same flushing cells declared subnormals = "flush_to_zero" (what XLA on CPU does: flax, optax) pass:
    the reference then reads the subnormal inputs as 0, and a result below the smallest normal may be 0."""
    target, prop_id, _ = BROKEN_CELLS[name]
    declared = replace(target, name=f"{target.name}, declared", conventions={**target.conventions,
                                                                             "subnormals": "flush_to_zero"})
    assert _run(declared, prop_id)["verdict"] == "pass"


def test_the_reference_cells_do_not_overflow_at_1e4():
    """The NumPy reference's sigmoid is 0.5 (1 + tanh(a/2)): no RuntimeWarning at |a| = 1e4 in float32."""
    a = np.array([-1e4, 1e4], np.float32)
    from dlproof.impl.numpy_ref.activations import sigmoid
    np.testing.assert_array_equal(sigmoid(a), [0.0, 1.0])


# ---- the references pass ----------------------------------------------------------------------------------

# The default targets (dlproof.loader.DEFAULT_TARGETS: numpy, numpy.relu, numpy.gru_reset_before, numpy.clip_eps,
# numpy.clip_per_tensor, torch, torch.float32) run every extremes.* property at the ci profile in the default
# pytest already: dlproof/properties/test_conformance.py::test_property[<spec>::<property>] asserts the same
# verdict (pass; not provided skips). Only the built-in references outside that default list are run here.
REFERENCES = tuple(s for s in ("numpy", "numpy.float32", "numpy.relu", "numpy.gru_reset_before", "numpy.clip_eps",
                               "numpy.clip_per_tensor", "torch", "torch.float32") if s not in DEFAULT_TARGETS)


def test_the_default_targets_are_checked_by_the_conformance_suite():
    """The cases left out of `test_references_pass` are the ones the conformance suite runs by default: every
    registered extremes.* property on every target of a run without --target or $DLPROOF_TARGET."""
    assert specs_from([], env="") == list(DEFAULT_TARGETS)
    assert set(EXTREMES) <= set(all_properties())
    assert REFERENCES == ("numpy.float32",)


@pytest.mark.parametrize("spec", REFERENCES)
@pytest.mark.parametrize("prop_id", EXTREMES)
def test_references_pass(spec, prop_id):
    if spec.startswith("torch"):
        pytest.importorskip("torch")  # optional (extra `torch`)
    target = load_target(spec)
    row = _run(target, prop_id)
    assert row["verdict"] in ("pass", "not provided"), row["message"]
