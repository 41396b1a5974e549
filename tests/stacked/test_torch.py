"""The torch reference (torch_ref/stacked.py) and the real torch.nn.RNN / LSTM / GRU (adapters/torch_nn_stacked.py)
against the NumPy reference of stacked networks, and the torch.nn behaviour the adapter's docstring states
(measured here: padded outputs, the reversed half of a short sequence, where dropout acts, proj_size's shapes,
float32)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dlproof.impl.adapters import torch_nn_stacked as A  # noqa: E402
from dlproof.impl.numpy_ref import stacked as S  # noqa: E402
from dlproof.impl.torch_ref import stacked as TS  # noqa: E402
from dlproof.properties import tolerances as tol  # noqa: E402

from chapter_checks import check_refused  # noqa: E402
from stacked.test_numpy import _flat, problem, run, vjp  # noqa: E402

NN64 = A.capabilities("float64")
NN32 = A.capabilities("float32")


class _NN:
    """The torch.nn capabilities with the reference modules' calling convention (getattr by name)."""

    def __init__(self, caps):
        self.__dict__.update(caps)


def _close(got, want, rtol=1e-12, atol=1e-13):
    for a, b in zip(_flat(got), _flat(want), strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


CASES = [("rnn", None), ("gru", None), ("lstm", None), ("lstm", 2)]


@pytest.mark.parametrize("kind,P", CASES)
def test_torch_reference_matches_numpy(kind, P):
    xs, states, layers, lens, cots = problem(kind, L=2, D=2, T=4, n=3, P=P, seed=31)
    for args in ((0.0, False, 0), (0.4, True, 5)):  # the torch reference uses the NumPy reference's masks
        _close(run(TS, kind, xs, states, layers, lens, *args), run(S, kind, xs, states, layers, lens, *args))
    _close(vjp(TS, kind, xs, states, layers, lens, cots), vjp(S, kind, xs, states, layers, lens, cots))


@pytest.mark.parametrize("kind,P", CASES)
@pytest.mark.parametrize("D", [1, 2])
def test_torch_nn_matches_numpy(kind, P, D):
    """torch.nn with packed sequences (enforce_sorted=False) and proj_size = P < n, float64: the forward and
    every gradient (W_proj <-> weight_hr_l{l}) equal the NumPy reference to rounding."""
    xs, states, layers, lens, cots = problem(kind, L=2, D=D, T=5, n=3, P=P, seed=37 + D)
    nn = _NN(NN64)
    for lengths in (None, lens):
        _close(run(nn, kind, xs, states, layers, lengths), run(S, kind, xs, states, layers, lengths))
        _close(vjp(nn, kind, xs, states, layers, lengths, cots), vjp(S, kind, xs, states, layers, lengths, cots))
    g = vjp(nn, kind, xs, states, layers, lens, cots)
    assert np.all(g["xs"][np.arange(5)[:, None] >= lens[None, :]] == 0)


def test_measured_padding_and_reversal():
    """torch.nn's output at padded steps is exactly 0; the reversed half of a sequence of length 1 is one step
    from h0 on x_0 (h_n[l*D + 1] is its state after reading x_0); the forward half's h_n is its state after
    x_{len-1}, not after T steps (padded xs do not reach it)."""
    xs, (h0,), layers, lens, _ = problem("gru", L=1, D=2, T=5, n=3, seed=41)
    nn = _NN(NN64)
    ys, (h,) = run(nn, "gru", xs, [h0], layers, lens)
    padded = np.arange(5)[:, None] >= lens[None, :]
    assert np.all(ys[padded] == 0) and np.all(ys[~padded] != 0)
    b = int(np.flatnonzero(lens == 1)[0])
    from dlproof.impl.numpy_ref import gru as G

    np.testing.assert_allclose(h[0, 1, b], G.gru_cell(xs[0, b : b + 1], h0[0, 1, b : b + 1], layers[0][1])[0],
                               rtol=1e-13)
    np.testing.assert_allclose(h[0, 1, b], ys[0, b, 3:], rtol=0, atol=0)
    junk = xs.copy()
    junk[padded] = 1e3
    ys2, (h2,) = run(nn, "gru", junk, [h0], layers, lens)
    np.testing.assert_array_equal(ys, ys2)
    np.testing.assert_array_equal(h, h2)


def test_measured_dropout_only_between_layers():
    """Training with p = 0.9: a one-layer module's output equals inference (nothing after the last layer); a
    two-layer module's output changes (layer 2's input dropped) yet has no exact 0 at a real step (no mask on the
    last layer's output); the same seed gives the same output, and the caller's RNG state is left alone."""
    xs, (h0,), layers, lens, _ = problem("rnn", L=2, D=1, T=4, n=3, seed=43)
    nn = _NN(NN64)
    one = run(nn, "rnn", xs, [h0[:1]], layers[:1], lens, 0.9, True, 1)[0]
    np.testing.assert_array_equal(one, run(nn, "rnn", xs, [h0[:1]], layers[:1], lens)[0])
    state = torch.get_rng_state()
    a = run(nn, "rnn", xs, [h0], layers, lens, 0.9, True, 1)[0]
    assert torch.equal(state, torch.get_rng_state())
    np.testing.assert_array_equal(a, run(nn, "rnn", xs, [h0], layers, lens, 0.9, True, 1)[0])
    real = np.arange(4)[:, None] < lens[None, :]
    assert not np.array_equal(a, run(nn, "rnn", xs, [h0], layers, lens)[0]) and np.all(a[real] != 0)


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
def test_measured_proj_size_shapes():
    """proj_size = P: h_n (L*D, B, P), c_n (L*D, B, n), output (T, B, D*P); torch refuses P >= n."""
    mod = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    y, (h, c) = mod(torch.zeros(5, 2, 3))
    assert tuple(y.shape) == (5, 2, 4) and tuple(h.shape) == (4, 2, 2) and tuple(c.shape) == (4, 2, 4)
    assert tuple(mod.weight_hh_l1_reverse.shape) == (16, 2) and tuple(mod.weight_hr_l0.shape) == (2, 4)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        torch.nn.LSTM(3, 4, proj_size=4)
    xs, states, layers, lens, _ = problem("lstm", L=1, D=1, n=3, P=3, seed=47)
    check_refused(NN64["lstm_stack"], (xs, *states, layers, lens), ValueError, "proj_size < hidden_size",
                  "projection_size")


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_float32_within_the_error_model(kind):
    """float32 torch.nn (one forward layer, full length) against the float64 NumPy reference on the same
    float32 inputs, within the single-layer forward error model of properties/tolerances.py."""
    xs, states, layers, _, _ = problem(kind, L=1, D=1, T=4, n=3, dtype=np.float32, seed=53)
    ys, fin = run(_NN(NN32), kind, xs, states, layers, None)
    assert ys.dtype == np.float32 and all(f.dtype == np.float32 for f in fin)
    up = lambda a: np.asarray(a, np.float64)  # noqa: E731
    ys64, fin64 = run(S, kind, up(xs), [up(s) for s in states], [[{k: up(v) for k, v in p.items()}
                                                                   for p in r] for r in layers], None)
    p = layers[0][0]
    s0 = [s[0, 0] for s in states]
    if kind == "rnn":
        t_hs, t_h = tol.rnn_forward_tol(xs, s0[0], p, "tanh", "float32")
        t_fin = [t_h]
    elif kind == "gru":
        t_hs, t_h = tol.gru_forward_tol(xs, s0[0], p, "reset_after", "float32")
        t_fin = [t_h]
    else:
        t_hs, t_fin = tol.lstm_forward_tol(xs, *s0, p, "float32")
    assert np.all(np.abs(ys - ys64) <= t_hs)
    for f, f64, t in zip(fin, fin64, t_fin):
        assert np.all(np.abs(f[0, 0] - f64[0, 0]) <= t)


def test_from_module_user_module():
    """A user's 2-layer bidirectional batch_first GRU: the target runs a copy with the given params (equal to
    the reference), never touches the original, and refuses layers of other sizes and bias=False modules."""
    mod = torch.nn.GRU(2, 3, num_layers=2, bidirectional=True, batch_first=True, dtype=torch.float64)
    before = {k: v.clone() for k, v in mod.state_dict().items()}
    t = A.from_module(mod, dtype="float64")
    assert t.gru_stack is not None and t.rnn_stack is None and t.conventions["padded_output"] == "zero"
    xs, states, layers, lens, cots = problem("gru", L=2, D=2, T=4, n=3, seed=59)
    _close(t.gru_stack(xs, *states, layers, lens, 0.0, False, 0), run(S, "gru", xs, states, layers, lens))
    _close(t.gru_stack_vjp(xs, *states, layers, lens, *cots), vjp(S, "gru", xs, states, layers, lens, cots))
    assert all(torch.equal(v, mod.state_dict()[k]) for k, v in before.items())
    xs1, st1, lay1, _, _ = problem("gru", L=1, D=2, T=4, n=3, seed=61)
    check_refused(t.gru_stack, (xs1, *st1, lay1, None, 0.0, False, 0), ValueError, "torch.nn.GRU", "num_layers")
    check_refused(A.from_module, (torch.nn.LSTM(2, 3, bias=False),), ValueError, "bias=False")
    check_refused(A.from_module, (torch.nn.Linear(2, 3),), ValueError, "'module'", "Linear")
    lstm = A.from_module(torch.nn.LSTM(2, 3, num_layers=2, proj_size=2))
    assert lstm.conventions["restrictions"] == {"projection_size": "smaller_than_hidden"}


def test_from_module_resized_subclass():
    """resize=True: every call builds a fresh module of the user's class (its forward runs) at the call's sizes."""
    calls = []

    class Logged(torch.nn.LSTM):
        def forward(self, *a, **k):
            calls.append(self.hidden_size)
            return super().forward(*a, **k)

    t = A.from_module(Logged(2, 5, batch_first=True), dtype="float64", resize=True)
    assert t.conventions["restrictions"] == {"stack_projection": False}
    xs, states, layers, lens, cots = problem("lstm", L=2, D=2, T=4, n=3, P=2, seed=73)
    _close(t.lstm_stack(xs, *states, layers, lens, 0.0, False, 0), run(S, "lstm", xs, states, layers, lens))
    _close(t.lstm_stack_vjp(xs, *states, layers, lens, *cots), vjp(S, "lstm", xs, states, layers, lens, cots))
    assert calls == [3, 3]


def test_adapter_refuses_like_the_reference():
    xs, (h0,), layers, lens, _ = problem("rnn", L=2, D=2, seed=67)
    for f in (NN64["rnn_stack"], TS.rnn_stack):
        check_refused(f, (xs, h0, layers, lens + 10), ValueError, "'lengths'", "<= T")
        check_refused(f, (xs, h0, layers, lens, 1.5, True, 0), ValueError, "'dropout'")
        check_refused(f, (xs, h0[:, :1], layers, lens), ValueError, "'h0'")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the adapter silences torch's one-layer dropout warning itself
        NN64["rnn_stack"](xs, h0[:1], layers[:1], lens, 0.5, True, 0)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(12))
def test_random_stacks_agree_slow(seed):
    """Random sizes (L 1..3, D 1..2, T 1..6, B 1..4, P < n or none), relu RNN and reset_before GRU too: the NumPy
    reference, the torch reference and (tanh / reset_after only, as torch.nn has) torch.nn agree in float64."""
    rng = np.random.default_rng(1000 + seed)
    kind = ("rnn", "lstm", "gru")[seed % 3]
    L, D, T, B = (int(rng.integers(1, k)) for k in (4, 3, 7, 5))
    n = 4
    P = int(rng.integers(1, n)) if kind == "lstm" and seed % 2 else None
    xs, states, layers, lens, cots = problem(kind, L=L, D=D, T=T, B=B, n=n, P=P, lengths=T > 1, seed=seed)
    lens = None if lens is None else np.minimum(np.maximum(lens, 1), T)
    opt = {"rnn": {"activation": "relu"}, "gru": {"variant": "reset_before"}}.get(kind, {})
    for o in ({}, opt):
        for args in ((0.0, False, 0), (0.3, True, seed)):
            ref = getattr(S, f"{kind}_stack")(xs, *states, layers, lens, *args, **o)
            _close(getattr(TS, f"{kind}_stack")(xs, *states, layers, lens, *args, **o), ref)
        ref = getattr(S, f"{kind}_stack_vjp")(xs, *states, layers, lens, *cots, **o)
        _close(getattr(TS, f"{kind}_stack_vjp")(xs, *states, layers, lens, *cots, **o), ref)
    nn = _NN(NN64)
    _close(run(nn, kind, xs, states, layers, lens), run(S, kind, xs, states, layers, lens))
    _close(vjp(nn, kind, xs, states, layers, lens, cots), vjp(S, kind, xs, states, layers, lens, cots))
