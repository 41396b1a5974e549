"""Tests of the NumPy reference's own behaviour: errors, purity, stability, dtypes, BPTT vs finite differences.

Expected values come from independent math (an explicit per-sample column-vector loop, closed forms) or
from central finite differences, never from the code under test.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from dlproof.impl.numpy_ref import activations as act
from dlproof.impl.numpy_ref import clipping, rnn
from dlproof.impl.numpy_ref.rnn import param_count
from dlproof.impl.targets import numpy_relu_target, numpy_target

from loops import B, M, N, PHI, T  # noqa: E402,F401
from loops import problem as _loops_problem  # noqa: E402
from loops import ref_forward as _ref_forward  # noqa: E402


def _problem(seed=0, dtype=np.float64, scale=0.7):
    return _loops_problem(seed, dtype, scale)


def _loss(xs, h0, p, d_hs, d_hT, phi):
    hs = _ref_forward(xs, h0, p, phi)
    return float(np.sum(d_hs * hs) + np.sum(d_hT * hs[-1]))


# --- activations -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_tanh_saturate_exactly_without_warnings(dtype):
    x = np.array([-1e4, -1e3, 0.0, 1e3, 1e4], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s, t = act.sigmoid(x), act.tanh(x)
    assert s.dtype == dtype and t.dtype == dtype
    assert s[0] == 0.0 and s[-1] == 1.0 and s[2] == 0.5
    assert t[0] == -1.0 and t[-1] == 1.0
    assert act.dtanh_from_output(t)[[0, -1]].tolist() == [0.0, 0.0]


def test_sigmoid_matches_textbook_formula_on_moderate_inputs():
    # the tanh form is accurate to ~1 ulp of 1 in absolute terms (relative accuracy fades for x << 0)
    x = np.linspace(-30, 30, 121)
    np.testing.assert_allclose(act.sigmoid(x), 1.0 / (1.0 + np.exp(-x)), rtol=1e-14, atol=2.3e-16)


def test_relu_and_its_declared_derivative():
    a = np.array([-2.0, -0.0, 0.0, 1e-300, 3.0])
    assert act.relu(a).tolist() == [0.0, 0.0, 0.0, 1e-300, 3.0]
    assert act.drelu(a).tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]  # relu'(0) = 0 by declaration
    assert act.drelu(a.astype(np.float32)).dtype == np.float32
    y = np.tanh(0.3)
    assert act.dtanh_from_output(y) == pytest.approx(1 / np.cosh(0.3) ** 2, rel=1e-14)


# --- RNN forward -----------------------------------------------------------------------------------


@pytest.mark.parametrize("activation, phi", [("tanh", np.tanh), ("relu", lambda a: np.maximum(a, 0))])
def test_cell_and_forward_match_column_vector_math(activation, phi):
    xs, h0, p, _, _ = _problem(1)
    expected = _ref_forward(xs, h0, p, phi)
    np.testing.assert_allclose(rnn.rnn_cell(xs[0], h0, p, activation), expected[0], rtol=1e-13, atol=1e-15)
    hs, h_T = rnn.rnn(xs, h0, p, activation)
    np.testing.assert_allclose(hs, expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(h_T, hs[-1])


def test_empty_sequence_returns_h0():
    _, h0, p, _, _ = _problem()
    hs, h_T = rnn.rnn(np.zeros((0, B, M)), h0, p)
    assert hs.shape == (0, B, N)
    np.testing.assert_array_equal(h_T, h0)


# --- hand-written BPTT vs central finite differences ----------------------------------------------


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_bptt_matches_central_finite_differences(activation):
    phi = np.tanh if activation == "tanh" else (lambda a: np.maximum(a, 0))
    xs, h0, p, d_hs, d_hT = _problem(2, scale=0.9)
    assert np.sign(p["W_h"]).min() < 0 < np.sign(p["W_h"]).max()
    grads = rnn.rnn_vjp(xs, h0, p, d_hs, d_hT, activation)
    rng = np.random.default_rng(7)
    eps = 1e-6
    args = {"xs": xs, "h0": h0, **p}
    analytic = {"xs": grads["xs"], "h0": grads["h0"], **grads["params"]}
    for name, value in args.items():
        v = rng.normal(size=value.shape)

        def loss_at(step, name=name, value=value, v=v):
            moved = {**args, name: value + step * v}
            return _loss(moved["xs"], moved["h0"], {k: moved[k] for k in p}, d_hs, d_hT, phi)

        fd = (loss_at(eps) - loss_at(-eps)) / (2 * eps)
        an = float(np.sum(analytic[name] * v))
        assert analytic[name].shape == value.shape, name
        assert abs(fd - an) <= 1e-7 * max(abs(an), 1.0), (name, fd, an)


def test_relu_problem_stays_away_from_kinks():
    # the FD test above is only meaningful if no pre-activation sits within FD reach of 0
    xs, h0, p, _, _ = _problem(2, scale=0.9)
    h = h0
    for t in range(T):
        a = xs[t] @ p["W_x"].T + h @ p["W_h"].T + p["b"]
        assert np.abs(a).min() > 1e-4
        h = np.maximum(a, 0)


def test_vjp_single_step_closed_form():
    # T = 1, L = <d, tanh(a)>: dL/db = sum_batch d * (1 - h^2), dL/dh0 = (d * (1 - h^2)) @ W_h
    xs, h0, p, _, d_hT = _problem(3)
    xs = xs[:1]
    h = np.tanh(xs[0] @ p["W_x"].T + h0 @ p["W_h"].T + p["b"])
    delta = d_hT * (1 - h**2)
    g = rnn.rnn_vjp(xs, h0, p, None, d_hT)
    np.testing.assert_allclose(g["params"]["b"], delta.sum(0), rtol=1e-13)
    np.testing.assert_allclose(g["h0"], delta @ p["W_h"], rtol=1e-13)
    np.testing.assert_allclose(g["params"]["W_x"], delta.T @ xs[0], rtol=1e-13)


# --- dtypes and purity -----------------------------------------------------------------------------


def test_float32_stays_float32():
    xs, h0, p, d_hs, d_hT = _problem(4, dtype=np.float32)
    assert rnn.rnn_cell(xs[0], h0, p).dtype == np.float32
    hs, h_T = rnn.rnn(xs, h0, p)
    assert hs.dtype == h_T.dtype == np.float32
    g = rnn.rnn_vjp(xs, h0, p, d_hs, d_hT)
    assert {a.dtype for a in (g["xs"], g["h0"], *g["params"].values())} == {np.dtype(np.float32)}
    clipped, norm = clipping.clip_grad_norm([xs, h0], 0.1)
    assert isinstance(norm, float) and all(c.dtype == np.float32 for c in clipped)
    assert all(c.dtype == np.float32 for c in clipping.clip_grad_value([xs], 0.1))


def _frozen(a):
    a = a.copy()
    a.flags.writeable = False
    return a


def test_inputs_are_never_mutated():
    xs, h0, p, d_hs, d_hT = _problem(5)
    originals = [a.copy() for a in (xs, h0, d_hs, d_hT, *p.values())]
    xs, h0, d_hs, d_hT = map(_frozen, (xs, h0, d_hs, d_hT))
    p = {k: _frozen(v) for k, v in p.items()}
    rnn.rnn_cell(xs[0], h0, p)
    rnn.rnn(xs, h0, p)
    rnn.rnn_vjp(xs, h0, p, d_hs, d_hT, "relu")
    grads = [_frozen(np.full(3, 10.0)), _frozen(np.full((2, 2), -7.0))]
    out, _ = clipping.clip_grad_norm(grads, 1.0)
    out += clipping.clip_grad_norm(grads, 1e9)[0] + clipping.clip_grad_value(grads, 1.0)
    out += clipping.clip_grad_norm(grads, 1.0, eps=1e-6, scope="per_tensor")[0]
    for o in out:
        assert o.flags.writeable and not any(np.shares_memory(o, g) for g in grads)
    for before, after in zip(originals, (xs, h0, d_hs, d_hT, *p.values())):
        np.testing.assert_array_equal(before, after)


def test_nan_propagates_without_error():
    xs, h0, p, _, _ = _problem()
    xs = xs.copy()
    xs[1, 0, 0] = np.nan
    hs, _ = rnn.rnn(xs, h0, p)
    assert np.isnan(hs[1:, 0]).all() and np.isfinite(hs[:, 1]).all()


# --- validation ------------------------------------------------------------------------------------


def _bad_calls():
    xs, h0, p, d_hs, d_hT = _problem()
    bad_W_h = {**p, "W_h": np.zeros((N, N + 1))}
    yield "W_h", rnn.rnn, (xs, h0, bad_W_h), ["p['W_h']", f"({N}, {N})", f"({N}, {N + 1})"]
    bad_xs = np.zeros((T, B, M + 1))
    yield "xs features", rnn.rnn, (bad_xs, h0, p), ["'xs'", f"m = W_x.shape[1] = {M}", f"({T}, {B}, {M + 1})"]
    yield "h0 batch", rnn.rnn_vjp, (xs, np.zeros((B + 1, N)), p, d_hs, d_hT), ["'h0'", f"({B}, {N})", f"({B + 1}, {N})"]
    yield "xs ndim", rnn.rnn, (xs[0], h0, p), ["'xs'", "(T, B, m)", f"({B}, {M})"]
    yield "b shape", rnn.rnn_cell, (xs[0], h0, {**p, "b": np.zeros(N + 1)}), ["p['b']", f"({N},)", f"({N + 1},)"]
    yield "h cell", rnn.rnn_cell, (xs[0], np.zeros((B, N + 1)), p), ["'h'", f"({B}, {N})", f"({B}, {N + 1})"]
    yield "missing b", rnn.rnn, (xs, h0, {"W_x": p["W_x"], "W_h": p["W_h"]}), ["'p'", "missing", "'b'"]
    yield "p not mapping", rnn.rnn, (xs, h0, [1, 2, 3]), ["'p'", "mapping"]
    yield "int dtype", rnn.rnn, (xs.astype(int), h0, p), ["'xs'", "floating", "int"]
    yield "d_hs shape", rnn.rnn_vjp, (xs, h0, p, d_hs[:-1], d_hT), ["'d_hs'", f"({T}, {B}, {N})", f"({T - 1}, {B}, {N})"]
    yield "activation", rnn.rnn, (xs, h0, p, "sigmoid"), ["'activation'", "'sigmoid'"]


_BAD = list(_bad_calls())


@pytest.mark.parametrize("label, fn, args, needles", _BAD, ids=[c[0] for c in _BAD])
def test_bad_rnn_arguments_raise_informative_value_error(label, fn, args, needles):
    with pytest.raises(ValueError) as info:
        fn(*args)
    msg = str(info.value)
    assert msg.startswith(fn.__name__ + ":"), msg
    for needle in needles:
        assert needle in msg, (needle, msg)


@pytest.mark.parametrize("bad", [0, -1.0, math.nan, math.inf, "1", True, None])
def test_bad_max_norm_and_clip_value(bad):
    g = [np.ones(3)]
    with pytest.raises(ValueError, match="clip_grad_norm: argument 'max_norm'"):
        clipping.clip_grad_norm(g, bad)
    with pytest.raises(ValueError, match="clip_grad_value: argument 'clip_value'"):
        clipping.clip_grad_value(g, bad)


@pytest.mark.parametrize("bad", [np.ones(3), [[1.0, 2.0]], [np.arange(3)], "grads"])
def test_bad_grads(bad):
    with pytest.raises(ValueError, match="clip_grad_norm: argument 'grads"):
        clipping.clip_grad_norm(bad, 1.0)


def test_bad_eps_and_scope():
    with pytest.raises(ValueError, match="'eps'"):
        clipping.clip_grad_norm([np.ones(2)], 1.0, eps=-1e-6)
    with pytest.raises(ValueError, match="'scope'"):
        clipping.clip_grad_norm([np.ones(2)], 1.0, scope="layer")


# --- clipping math ---------------------------------------------------------------------------------


def test_global_norm_no_overflow_or_underflow():
    assert clipping.global_norm([]) == 0.0
    assert clipping.global_norm([np.zeros(0), np.zeros(4)]) == 0.0
    assert clipping.global_norm([np.array([3.0]), np.array([[4.0]])]) == 5.0
    for s in (1e200, 1e-200, 1e300):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = clipping.global_norm([np.array([3 * s]), np.array([4 * s])])
        assert got == pytest.approx(5 * s, rel=1e-15)
    assert clipping.global_norm([np.full(4, 3e38, np.float32)]) == pytest.approx(6e38, rel=1e-7)
    assert math.isinf(clipping.global_norm([np.array([1.0, np.inf])]))
    assert math.isnan(clipping.global_norm([np.array([1.0]), np.array([np.nan, np.inf])]))


def test_clip_grad_norm_exact_rule():
    g = [np.array([3.0, 0.0]), np.array([[4.0]])]  # global norm 5
    out, norm = clipping.clip_grad_norm(g, 1.0)
    assert norm == 5.0
    np.testing.assert_allclose(out[0], [0.6, 0.0], rtol=1e-15)
    np.testing.assert_allclose(out[1], [[0.8]], rtol=1e-15)
    for c in (5.0, 7.0):  # N <= c: returned unchanged (equal values, new arrays)
        out, _ = clipping.clip_grad_norm(g, c)
        assert all(np.array_equal(a, b) and a is not b for a, b in zip(out, g))
    out, norm = clipping.clip_grad_norm([np.zeros(3)], 1.0)  # N = 0: no 0/0
    assert norm == 0.0 and np.array_equal(out[0], np.zeros(3))


def test_clip_grad_norm_with_eps_is_applied_always():
    g = [np.array([3.0, 4.0])]
    out, _ = clipping.clip_grad_norm(g, 5.0, eps=1e-6)  # N == c still shrinks: c / (c + eps)
    np.testing.assert_allclose(out[0], [3 * 5 / (5 + 1e-6), 4 * 5 / (5 + 1e-6)], rtol=1e-15)
    out, _ = clipping.clip_grad_norm(g, 10.0, eps=1e-6)  # min(1, .) caps the scale
    np.testing.assert_array_equal(out[0], g[0])
    out, _ = clipping.clip_grad_norm(g, 1.0, eps=1.0)
    np.testing.assert_allclose(out[0], [0.5, 2 / 3], rtol=1e-15)


def test_clip_grad_norm_per_tensor_scope():
    g = [np.array([3.0, 4.0]), np.array([0.3, 0.4])]
    out, norm = clipping.clip_grad_norm(g, 1.0, scope="per_tensor")
    assert norm == pytest.approx(math.sqrt(25.25), rel=1e-15)
    np.testing.assert_allclose(out[0], [0.6, 0.8], rtol=1e-15)
    np.testing.assert_array_equal(out[1], g[1])


def test_clip_grad_value():
    g = [np.array([-3.0, -0.5, 0.0, 0.5, 3.0, np.nan]), np.array([[1e300]])]
    out = clipping.clip_grad_value(g, 1.0)
    np.testing.assert_array_equal(out[0], [-1.0, -0.5, 0.0, 0.5, 1.0, np.nan])
    np.testing.assert_array_equal(out[1], [[1.0]])
    big = clipping.clip_grad_value([np.array([np.inf, 2.0], np.float32)], 1e300)[0]  # beyond float32: no clip
    assert big.dtype == np.float32 and big.tolist() == [np.inf, 2.0]


# --- targets ---------------------------------------------------------------------------------------


def test_numpy_targets_wire_capabilities():
    t = numpy_target()
    assert t.name == "dlproof.impl.numpy_ref" and t.dtype == "float64"
    assert t.convention("rnn_activation") == "tanh" and t.convention("clip_eps") == 0.0
    assert {"rnn_cell", "rnn", "rnn_vjp", "clip_grad_norm", "clip_grad_value", "param_count"} <= set(t.capabilities)
    r = numpy_relu_target("float32")
    assert r.convention("rnn_activation") == "relu" and r.dtype == "float32"
    xs, h0, p, _, _ = _problem()
    xs = -np.abs(xs) * 10
    p = {**p, "b": -np.ones(N) * 100}
    hs, _ = r.rnn(xs, h0, p)  # relu forward: all-negative pre-activations give exact zeros
    assert np.array_equal(hs[1:], np.zeros_like(hs[1:]))
    assert t.param_count("rnn", 3, 2) == 3 * 2 + 9 + 3 == param_count("rnn", 3, 2)
    assert t.param_count("lstm", 3, 2) == 4 * (3 * 2 + 9 + 3)
    with pytest.raises(ValueError):
        t.param_count("transformer", 3, 2)

