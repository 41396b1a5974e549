"""Tests of the NumPy RNN reference's own behaviour: errors, purity, stability, dtypes, BPTT vs finite differences
(the activations: tests/activations/; clipping: tests/clipping/).

Expected values come from independent math (an explicit per-sample column-vector loop, closed forms) or
from central finite differences, never from the code under test.
"""
from __future__ import annotations

import numpy as np
import pytest

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

