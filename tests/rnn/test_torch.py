"""Tests of the torch RNN reference's own behaviour: autograd gradients vs finite differences, errors, purity,
dtypes, and the install hint when torch is missing (its clipping: tests/clipping/test_torch.py).

Expected values come from independent math or central finite differences, never from the code under test.
"""
from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dlproof.impl.targets import torch_target  # noqa: E402
from dlproof.impl.torch_ref import clipping, rnn  # noqa: E402

from loops import B, M, N, PHI, T  # noqa: E402,F401
from loops import problem as _loops_problem  # noqa: E402
from loops import ref_forward as _ref_forward  # noqa: E402


def _problem(seed=0, dtype=np.float64, scale=0.9):
    return _loops_problem(seed, dtype, scale)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_forward_matches_column_vector_math(activation):
    xs, h0, p, _, _ = _problem(1)
    expected = _ref_forward(xs, h0, p, PHI[activation])
    np.testing.assert_allclose(rnn.rnn_cell(xs[0], h0, p, activation), expected[0], rtol=1e-13, atol=1e-15)
    hs, h_T = rnn.rnn(xs, h0, p, activation)
    assert isinstance(hs, np.ndarray) and isinstance(h_T, np.ndarray)
    np.testing.assert_allclose(hs, expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(h_T, hs[-1])


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_autograd_vjp_matches_central_finite_differences(activation):
    xs, h0, p, d_hs, d_hT = _problem(2)
    g = rnn.rnn_vjp(xs, h0, p, d_hs, d_hT, activation)
    analytic = {"xs": g["xs"], "h0": g["h0"], **g["params"]}
    args = {"xs": xs, "h0": h0, **p}
    rng, eps = np.random.default_rng(7), 1e-6

    def loss(a):
        hs = _ref_forward(a["xs"], a["h0"], {k: a[k] for k in p}, PHI[activation])
        return float(np.sum(d_hs * hs) + np.sum(d_hT * hs[-1]))

    for name, value in args.items():
        v = rng.normal(size=value.shape)
        fd = (loss({**args, name: value + eps * v}) - loss({**args, name: value - eps * v})) / (2 * eps)
        an = float(np.sum(analytic[name] * v))
        assert analytic[name].shape == value.shape and analytic[name].dtype == np.float64
        assert abs(fd - an) <= 1e-7 * max(abs(an), 1.0), (name, fd, an)


def test_vjp_with_no_cotangent_is_zero():
    xs, h0, p, _, _ = _problem(3)
    g = rnn.rnn_vjp(xs, h0, p, None, None)
    assert all(not np.any(a) for a in (g["xs"], g["h0"], *g["params"].values()))


def test_float32_stays_float32_and_inputs_untouched():
    xs, h0, p, d_hs, d_hT = _problem(4, dtype=np.float32)
    frozen = [xs, h0, d_hs, d_hT, *p.values()]
    before = [a.copy() for a in frozen]
    for a in frozen:
        a.flags.writeable = False
    assert rnn.rnn_cell(xs[0], h0, p).dtype == np.float32
    hs, h_T = rnn.rnn(xs, h0, p)
    assert hs.dtype == h_T.dtype == np.float32
    g = rnn.rnn_vjp(xs, h0, p, d_hs, d_hT)
    assert {a.dtype for a in (g["xs"], g["h0"], *g["params"].values())} == {np.dtype(np.float32)}
    grads = [xs, h0]
    out, norm = clipping.clip_grad_norm(grads, 0.1)
    out += clipping.clip_grad_value(grads, 0.1)
    assert isinstance(norm, float)
    for o in out:
        assert o.dtype == np.float32 and o.flags.writeable and not any(np.shares_memory(o, a) for a in grads)
    for b4, a in zip(before, frozen):
        np.testing.assert_array_equal(b4, a)


@pytest.mark.parametrize(
    "fn, args, needles",
    [
        (
            rnn.rnn,
            lambda xs, h0, p: (xs, h0, {**p, "W_h": np.zeros((N, 2))}),
            ["p['W_h']", f"({N}, {N})", f"({N}, 2)"],
        ),
        (rnn.rnn_vjp, lambda xs, h0, p: (xs, h0[:1], p, None, None), ["'h0'", f"({B}, {N})", f"(1, {N})"]),
        (rnn.rnn_cell, lambda xs, h0, p: (xs[0], h0, {"W_x": p["W_x"], "b": p["b"]}), ["missing", "'W_h'"]),
        (rnn.rnn, lambda xs, h0, p: (xs[..., :1], h0, p), ["'xs'", f"m = W_x.shape[1] = {M}"]),
    ],
)
def test_bad_arguments_raise_informative_value_error(fn, args, needles):
    xs, h0, p, _, _ = _problem()
    with pytest.raises(ValueError) as info:
        fn(*args(xs, h0, p))
    msg = str(info.value)
    assert msg.startswith(fn.__name__ + ":") and all(n in msg for n in needles), msg


def test_torch_target_names_version_and_conventions():
    t = torch_target("float32")
    assert t.name == f"dlproof.impl.torch_ref (torch {torch.__version__.split('+')[0]})"
    assert t.dtype == "float32" and t.convention("clip_eps") == 0.0 and t.convention("clip_scope") == "global"
    assert t.param_count("rnn", 4, 5) == 4 * 5 + 16 + 4


def test_missing_torch_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    for mod in [m for m in sys.modules if m.startswith("dlproof.impl.torch_ref.")]:
        monkeypatch.delitem(sys.modules, mod)
    with pytest.raises(ImportError, match=r"pip install 'dlproof\[torch\]'"):
        importlib.import_module("dlproof.impl.torch_ref.rnn")
