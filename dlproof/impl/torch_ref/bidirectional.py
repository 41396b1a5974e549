"""Bidirectional RNN, LSTM and GRU with torch ops: a forward run and a run on torch.flip(xs), re-flipped.

Same layout as `dlproof.impl.numpy_ref.bidirectional`: ys[t] = [hs_f[t] ; hs_b[t]] (T, B, 2n), both halves
aligned with time t, where the backward half is the forward-direction function (parameters p_b) on the
time-reversed input, re-reversed; h_b is the backward state after reading x_0 (= ys[0, :, n:]).
NumPy arrays in and out; computation in torch.float16 / bfloat16 / float32 / float64 matching the inputs' NumPy dtype.

The VJPs (`rnn_bi_vjp`, `lstm_bi_vjp`, `gru_bi_vjp`) are torch.autograd through that whole graph (both runs,
the flips and the concatenation) of L = <d_ys, ys> + <d_hf, h_f> (+ <d_cf, c_f>) + <d_hb, h_b> (+ <d_cb, c_b>):
an independent computation of what the NumPy reference composes by hand (bi.vjp_reversal).
"""
from __future__ import annotations

import numpy as np

from dlproof.parameters import GRU_PARAMS, LSTM_PARAMS

from ..numpy_ref.bidirectional import _bi_cotangents
from ..numpy_ref.checks import recurrent as checks
from . import gru as _gru
from . import lstm as _lstm
from . import rnn as _rnn
from ._torch import to_numpy, to_torch, torch, torch_dtype


def _both(xs, run_f, run_b, dt):
    """Run run_f on xs and run_b on flip(xs); ys = cat([hs_f, flip(hs_r)], -1) as NumPy, plus the states."""
    x = to_torch(xs, torch_dtype(dt))
    with torch.no_grad():
        hs_f, *state_f = run_f(x)
        hs_r, *state_b = run_b(torch.flip(x, [0]))
        ys = torch.cat([hs_f, torch.flip(hs_r, [0])], dim=-1)
    return to_numpy(ys, dt), [to_numpy(s, dt).copy() for s in state_f], [to_numpy(s, dt).copy() for s in state_b]


def _params(arrays: dict, dt) -> dict:
    td = torch_dtype(dt)
    return {k: to_torch(v, td) for k, v in arrays.items()}


def rnn_bi(xs, h0_f, h0_b, p_f, p_b, activation: str = "tanh"):
    """xs (T, B, m), h0_f (B, n), h0_b (B, n) -> (ys (T, B, 2n), h_f (B, n), h_b (B, n))."""
    fn = "rnn_bi"
    phi = _rnn._PHI[checks.activation(fn, activation)]
    xs, h0_f, *wf, dt_f = checks.rnn_sequence(fn, xs, h0_f, p_f, h0_name="h0_f", p_name="p_f")
    _, h0_b, *wb, dt_b = checks.rnn_sequence(fn, xs, h0_b, p_b, h0_name="h0_b", p_name="p_b")
    dt = np.result_type(dt_f, dt_b)
    td = torch_dtype(dt)
    hf, hb, *ws = (to_torch(a, td) for a in (h0_f, h0_b, *wf, *wb))
    ys, (h_f,), (h_b,) = _both(xs, lambda x: _rnn._run(x, hf, *ws[:3], phi),
                               lambda x: _rnn._run(x, hb, *ws[3:], phi), dt)
    return ys, h_f, h_b


def lstm_bi(xs, state_f, state_b, p_f, p_b):
    """xs (T, B, m), (h0_f, c0_f), (h0_b, c0_b) -> (ys (T, B, 2n), (h_f, c_f), (h_b, c_b))."""
    fn = "lstm_bi"
    h0_f, c0_f = checks.state_pair(fn, "state_f", state_f, "h0_f", "c0_f")
    h0_b, c0_b = checks.state_pair(fn, "state_b", state_b, "h0_b", "c0_b")
    keys = LSTM_PARAMS
    xs, sf, pf, dt_f = checks.gated_sequence(fn, xs, [("h0_f", h0_f), ("c0_f", c0_f)], p_f, keys, p_name="p_f")
    _, sb, pb, dt_b = checks.gated_sequence(fn, xs, [("h0_b", h0_b), ("c0_b", c0_b)], p_b, keys, p_name="p_b")
    dt = np.result_type(dt_f, dt_b)
    td = torch_dtype(dt)
    sf, sb = [to_torch(a, td) for a in sf], [to_torch(a, td) for a in sb]
    Pf, Pb = _params(pf, dt), _params(pb, dt)
    ys, f, b = _both(xs, lambda x: _lstm._run(x, *sf, Pf), lambda x: _lstm._run(x, *sb, Pb), dt)
    return ys, tuple(f), tuple(b)


def gru_bi(xs, h0_f, h0_b, p_f, p_b, variant: str = "reset_after"):
    """xs (T, B, m), h0_f (B, n), h0_b (B, n) -> (ys (T, B, 2n), h_f (B, n), h_b (B, n))."""
    fn = "gru_bi"
    variant = checks.gru_variant(fn, variant)
    keys = GRU_PARAMS
    xs, (hf,), pf, dt_f = checks.gated_sequence(fn, xs, [("h0_f", h0_f)], p_f, keys, p_name="p_f")
    _, (hb,), pb, dt_b = checks.gated_sequence(fn, xs, [("h0_b", h0_b)], p_b, keys, p_name="p_b")
    dt = np.result_type(dt_f, dt_b)
    td = torch_dtype(dt)
    hf, hb = to_torch(hf, td), to_torch(hb, td)
    Pf, Pb = _params(pf, dt), _params(pb, dt)
    ys, (h_f,), (h_b,) = _both(xs, lambda x: _gru._run(x, hf, Pf, variant), lambda x: _gru._run(x, hb, Pb, variant), dt)
    return ys, h_f, h_b


def _bi_vjp(fn, xs, states_f, states_b, pf: dict, pb: dict, run, d_ys, d_finals, dt, names) -> dict:
    """autograd of <d_ys, cat(hs_f, flip(hs_r))> + <d_finals, finals_f + finals_b>; ``run(x, states, P) -> (hs, *finals)``."""
    T, B, _ = xs.shape
    n = states_f[0].shape[1]
    k = len(states_f)
    d_f, d_r, finals = _bi_cotangents(fn, d_ys, d_finals, T, B, n, dt)
    d_ys = np.concatenate([d_f, d_r[::-1]], axis=-1)
    td = torch_dtype(dt)
    leaves = [to_torch(a, td, requires_grad=True) for a in (xs, *states_f, *states_b, *pf.values(), *pb.values())]
    x, sf, sb = leaves[0], leaves[1:1 + k], leaves[1 + k:1 + 2 * k]
    Pf = dict(zip(pf, leaves[1 + 2 * k:1 + 2 * k + len(pf)]))
    Pb = dict(zip(pb, leaves[1 + 2 * k + len(pf):]))
    with torch.enable_grad():
        hs_f, *fin_f = run(x, sf, Pf)
        hs_r, *fin_b = run(torch.flip(x, [0]), sb, Pb)
        ys = torch.cat([hs_f, torch.flip(hs_r, [0])], dim=-1)
        L = (to_torch(d_ys, td) * ys).sum() + sum((to_torch(d, td) * f).sum() for d, f in zip(finals, fin_f + fin_b))
        g = torch.autograd.grad(L, leaves, allow_unused=True)
    g = [to_numpy(gi, dt) if gi is not None else np.zeros(tuple(leaf.shape), dt) for gi, leaf in zip(g, leaves)]
    out = {"xs": g[0]}
    out.update({f"{s}_f": a for s, a in zip(names, g[1:1 + k])})
    out.update({f"{s}_b": a for s, a in zip(names, g[1 + k:1 + 2 * k])})
    out["params_f"] = dict(zip(pf, g[1 + 2 * k:1 + 2 * k + len(pf)]))
    out["params_b"] = dict(zip(pb, g[1 + 2 * k + len(pf):]))
    return out


def rnn_bi_vjp(xs, h0_f, h0_b, p_f, p_b, d_ys, d_hf, d_hb, activation: str = "tanh") -> dict:
    """autograd gradients of <d_ys, ys> + <d_hf, h_f> + <d_hb, h_b> -> {"xs", "h0_f", "h0_b", "params_f", "params_b"}."""
    fn = "rnn_bi_vjp"
    phi = _rnn._PHI[checks.activation(fn, activation)]
    xs, h0_f, *wf, dt_f = checks.rnn_sequence(fn, xs, h0_f, p_f, h0_name="h0_f", p_name="p_f")
    _, h0_b, *wb, dt_b = checks.rnn_sequence(fn, xs, h0_b, p_b, h0_name="h0_b", p_name="p_b")
    names = ("W_x", "W_h", "b")

    def run(x, states, P):
        return _rnn._run(x, states[0], *P.values(), phi)

    return _bi_vjp(fn, xs, [h0_f], [h0_b], dict(zip(names, wf)), dict(zip(names, wb)), run, d_ys,
                   (("d_hf", d_hf), ("d_hb", d_hb)), np.result_type(dt_f, dt_b), ("h0",))


def lstm_bi_vjp(xs, state_f, state_b, p_f, p_b, d_ys, d_final_f, d_final_b) -> dict:
    """autograd gradients of <d_ys, ys> + <d_hf, h_f> + <d_cf, c_f> + <d_hb, h_b> + <d_cb, c_b>
    -> {"xs", "h0_f", "c0_f", "h0_b", "c0_b", "params_f", "params_b"}."""
    fn = "lstm_bi_vjp"
    h0_f, c0_f = checks.state_pair(fn, "state_f", state_f, "h0_f", "c0_f")
    h0_b, c0_b = checks.state_pair(fn, "state_b", state_b, "h0_b", "c0_b")
    d_hf, d_cf = checks.state_pair(fn, "d_final_f", d_final_f, "d_hf", "d_cf")
    d_hb, d_cb = checks.state_pair(fn, "d_final_b", d_final_b, "d_hb", "d_cb")
    keys = LSTM_PARAMS
    xs, sf, pf, dt_f = checks.gated_sequence(fn, xs, [("h0_f", h0_f), ("c0_f", c0_f)], p_f, keys, p_name="p_f")
    _, sb, pb, dt_b = checks.gated_sequence(fn, xs, [("h0_b", h0_b), ("c0_b", c0_b)], p_b, keys, p_name="p_b")

    def run(x, states, P):
        return _lstm._run(x, states[0], states[1], P)

    finals = (("d_hf", d_hf), ("d_cf", d_cf), ("d_hb", d_hb), ("d_cb", d_cb))
    return _bi_vjp(fn, xs, sf, sb, pf, pb, run, d_ys, finals, np.result_type(dt_f, dt_b), ("h0", "c0"))


def gru_bi_vjp(xs, h0_f, h0_b, p_f, p_b, d_ys, d_hf, d_hb, variant: str = "reset_after") -> dict:
    """autograd gradients of <d_ys, ys> + <d_hf, h_f> + <d_hb, h_b> -> {"xs", "h0_f", "h0_b", "params_f", "params_b"}."""
    fn = "gru_bi_vjp"
    variant = checks.gru_variant(fn, variant)
    keys = GRU_PARAMS
    xs, sf, pf, dt_f = checks.gated_sequence(fn, xs, [("h0_f", h0_f)], p_f, keys, p_name="p_f")
    _, sb, pb, dt_b = checks.gated_sequence(fn, xs, [("h0_b", h0_b)], p_b, keys, p_name="p_b")

    def run(x, states, P):
        return _gru._run(x, states[0], P, variant)

    return _bi_vjp(fn, xs, sf, sb, pf, pb, run, d_ys, (("d_hf", d_hf), ("d_hb", d_hb)),
                   np.result_type(dt_f, dt_b), ("h0",))
