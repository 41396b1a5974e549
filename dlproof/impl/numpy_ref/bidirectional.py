"""Bidirectional RNN, LSTM and GRU in NumPy: a forward run and a time-reversed run, concatenated.

With F the forward-direction sequence function of the cell (parameters p_f) and R the same function with
parameters p_b, xs (T, B, m):
    hs_f, h_f = F(xs, h0_f),   hs_r, h_b = R(xs[::-1], h0_b),   hs_b = hs_r[::-1],
    ys[t] = [hs_f[t] ; hs_b[t]]  (T, B, n_f + n_b): forward half first, both halves aligned with time t.
hs_b[t] is the backward direction's state after reading x_{T-1}, ..., x_t, so the backward final state
h_b is its state after reading x_0 and equals ys[0, :, n_f:] (not ys[-1]); h_f equals ys[-1, :, :n_f].
(As torch.nn with bidirectional=True, Keras Bidirectional(merge_mode="concat"), flax Bidirectional.)

The VJPs (`rnn_bi_vjp`, `lstm_bi_vjp`, `gru_bi_vjp`: gradients of L = <d_ys, ys> + <d_hf, h_f> (+ <d_cf, c_f>)
+ <d_hb, h_b> (+ <d_cb, c_b>)) compose the hand-written one-direction VJPs by bi.vjp_reversal:
    g_f = F-VJP(xs, h0_f; d_ys[..., :n], d_hf),   g_r = R-VJP(xs[::-1], h0_b; d_ys[::-1, :, n:], d_hb),
    d_xs = g_f.xs + g_r.xs[::-1],   params_f = g_f.params,   params_b = g_r.params (never reversed).
Shapes and conventions of the cells are those of `rnn`, `lstm` and `gru`; computation runs in the
inputs' (common) floating dtype.
"""
from __future__ import annotations

import numpy as np

from dlproof.parameters import GRU_PARAMS, LSTM_PARAMS

from .checks import recurrent as checks
from .checks.common import expect_shape, float_array
from .gru import gru, gru_vjp
from .lstm import lstm, lstm_vjp
from .rnn import rnn, rnn_vjp


def _concat(hs_f, hs_r, dt):
    """ys (T, B, n_f + n_b) = [hs_f[t] ; hs_r[T-1-t]]."""
    T, B, n_f = hs_f.shape
    ys = np.empty((T, B, n_f + hs_r.shape[2]), dt)
    ys[:, :, :n_f] = hs_f
    ys[:, :, n_f:] = hs_r[::-1]
    return ys


def rnn_bi(xs, h0_f, h0_b, p_f, p_b, activation: str = "tanh"):
    """xs (T, B, m), h0_f (B, n), h0_b (B, n) -> (ys (T, B, 2n), h_f (B, n), h_b (B, n)); see the module."""
    fn = "rnn_bi"
    checks.activation(fn, activation)
    *_, dt_f = checks.rnn_sequence(fn, xs, h0_f, p_f, h0_name="h0_f", p_name="p_f")
    *_, dt_b = checks.rnn_sequence(fn, xs, h0_b, p_b, h0_name="h0_b", p_name="p_b")
    xs = np.asarray(xs)
    hs_f, h_f = rnn(xs, h0_f, p_f, activation=activation)
    hs_r, h_b = rnn(xs[::-1], h0_b, p_b, activation=activation)
    dt = np.result_type(dt_f, dt_b)
    return _concat(hs_f, hs_r, dt), h_f.astype(dt, copy=False), h_b.astype(dt, copy=False)


def lstm_bi(xs, state_f, state_b, p_f, p_b):
    """xs (T, B, m), (h0_f, c0_f), (h0_b, c0_b) -> (ys (T, B, 2n), (h_f, c_f), (h_b, c_b)); see the module."""
    fn = "lstm_bi"
    h0_f, c0_f = checks.state_pair(fn, "state_f", state_f, "h0_f", "c0_f")
    h0_b, c0_b = checks.state_pair(fn, "state_b", state_b, "h0_b", "c0_b")
    keys = LSTM_PARAMS
    *_, dt_f = checks.gated_sequence(fn, xs, [("h0_f", h0_f), ("c0_f", c0_f)], p_f, keys, p_name="p_f")
    *_, dt_b = checks.gated_sequence(fn, xs, [("h0_b", h0_b), ("c0_b", c0_b)], p_b, keys, p_name="p_b")
    xs = np.asarray(xs)
    hs_f, (h_f, c_f) = lstm(xs, h0_f, c0_f, p_f)
    hs_r, (h_b, c_b) = lstm(xs[::-1], h0_b, c0_b, p_b)
    dt = np.result_type(dt_f, dt_b)
    h_f, c_f, h_b, c_b = (a.astype(dt, copy=False) for a in (h_f, c_f, h_b, c_b))
    return _concat(hs_f, hs_r, dt), (h_f, c_f), (h_b, c_b)


def gru_bi(xs, h0_f, h0_b, p_f, p_b, variant: str = "reset_after"):
    """xs (T, B, m), h0_f (B, n), h0_b (B, n) -> (ys (T, B, 2n), h_f (B, n), h_b (B, n)); see the module."""
    fn = "gru_bi"
    checks.gru_variant(fn, variant)
    keys = GRU_PARAMS
    *_, dt_f = checks.gated_sequence(fn, xs, [("h0_f", h0_f)], p_f, keys, p_name="p_f")
    *_, dt_b = checks.gated_sequence(fn, xs, [("h0_b", h0_b)], p_b, keys, p_name="p_b")
    xs = np.asarray(xs)
    hs_f, h_f = gru(xs, h0_f, p_f, variant=variant)
    hs_r, h_b = gru(xs[::-1], h0_b, p_b, variant=variant)
    dt = np.result_type(dt_f, dt_b)
    return _concat(hs_f, hs_r, dt), h_f.astype(dt, copy=False), h_b.astype(dt, copy=False)


def _bi_cotangents(fn, d_ys, d_finals, T, B, n, dt):
    """d_ys (T, B, 2n) (None: zeros) split into its halves; each (name, d) of d_finals a (B, n) cotangent."""
    if d_ys is None:
        d_ys = np.zeros((T, B, 2 * n), dt)
    d_ys = float_array(fn, "d_ys", d_ys, 3, "(T, B, 2n)")
    expect_shape(fn, "d_ys", d_ys, (T, B, 2 * n), "(T, B, 2n) = ys.shape")
    d_ys = d_ys.astype(dt, copy=False)
    finals = [checks.state_cotangent(fn, name, d, B, n, dt).astype(dt, copy=False) for name, d in d_finals]
    return d_ys[..., :n], d_ys[::-1, :, n:], finals


def _merge(g_f, g_r, names, dt):
    """{"xs": g_f.xs + reverse(g_r.xs), "<s>_f", "<s>_b", "params_f", "params_b"} in dtype dt."""
    cast = lambda a: np.asarray(a).astype(dt, copy=False)  # noqa: E731
    out = {"xs": cast(g_f["xs"]) + cast(g_r["xs"])[::-1]}
    out.update({f"{s}_f": cast(g_f[s]) for s in names})
    out.update({f"{s}_b": cast(g_r[s]) for s in names})
    out["params_f"] = {k: cast(v) for k, v in g_f["params"].items()}
    out["params_b"] = {k: cast(v) for k, v in g_r["params"].items()}
    return out


def rnn_bi_vjp(xs, h0_f, h0_b, p_f, p_b, d_ys, d_hf, d_hb, activation: str = "tanh") -> dict:
    """Gradients of L = <d_ys, ys> + <d_hf, h_f> + <d_hb, h_b> of `rnn_bi` (see the module; None cotangents
    mean zeros) -> {"xs" (T, B, m), "h0_f", "h0_b" (B, n), "params_f", "params_b"}."""
    fn = "rnn_bi_vjp"
    checks.activation(fn, activation)
    xs, h0_f, W_x, *_, dt_f = checks.rnn_sequence(fn, xs, h0_f, p_f, h0_name="h0_f", p_name="p_f")
    *_, dt_b = checks.rnn_sequence(fn, xs, h0_b, p_b, h0_name="h0_b", p_name="p_b")
    dt = np.result_type(dt_f, dt_b)
    (T, B, _), n = xs.shape, W_x.shape[0]
    d_f, d_r, (d_hf, d_hb) = _bi_cotangents(fn, d_ys, (("d_hf", d_hf), ("d_hb", d_hb)), T, B, n, dt)
    g_f = rnn_vjp(xs, h0_f, p_f, d_f, d_hf, activation=activation)
    g_r = rnn_vjp(xs[::-1], h0_b, p_b, d_r, d_hb, activation=activation)
    return _merge(g_f, g_r, ("h0",), dt)


def lstm_bi_vjp(xs, state_f, state_b, p_f, p_b, d_ys, d_final_f, d_final_b) -> dict:
    """Gradients of L = <d_ys, ys> + <d_hf, h_f> + <d_cf, c_f> + <d_hb, h_b> + <d_cb, c_b> of `lstm_bi`, with
    d_final_f = (d_hf, d_cf), d_final_b = (d_hb, d_cb) -> {"xs", "h0_f", "c0_f", "h0_b", "c0_b", "params_f",
    "params_b"} (see the module; None cotangents mean zeros)."""
    fn = "lstm_bi_vjp"
    h0_f, c0_f = checks.state_pair(fn, "state_f", state_f, "h0_f", "c0_f")
    h0_b, c0_b = checks.state_pair(fn, "state_b", state_b, "h0_b", "c0_b")
    d_hf, d_cf = checks.state_pair(fn, "d_final_f", d_final_f, "d_hf", "d_cf")
    d_hb, d_cb = checks.state_pair(fn, "d_final_b", d_final_b, "d_hb", "d_cb")
    keys = LSTM_PARAMS
    xs, (h0_f, c0_f), _, dt_f = checks.gated_sequence(fn, xs, [("h0_f", h0_f), ("c0_f", c0_f)], p_f, keys, p_name="p_f")
    _, (h0_b, c0_b), _, dt_b = checks.gated_sequence(fn, xs, [("h0_b", h0_b), ("c0_b", c0_b)], p_b, keys, p_name="p_b")
    dt = np.result_type(dt_f, dt_b)
    (T, B, _), n = xs.shape, h0_f.shape[1]
    d_f, d_r, (d_hf, d_cf, d_hb, d_cb) = _bi_cotangents(
        fn, d_ys, (("d_hf", d_hf), ("d_cf", d_cf), ("d_hb", d_hb), ("d_cb", d_cb)), T, B, n, dt)
    g_f = lstm_vjp(xs, h0_f, c0_f, p_f, d_f, d_hf, d_cf)
    g_r = lstm_vjp(xs[::-1], h0_b, c0_b, p_b, d_r, d_hb, d_cb)
    return _merge(g_f, g_r, ("h0", "c0"), dt)


def gru_bi_vjp(xs, h0_f, h0_b, p_f, p_b, d_ys, d_hf, d_hb, variant: str = "reset_after") -> dict:
    """Gradients of L = <d_ys, ys> + <d_hf, h_f> + <d_hb, h_b> of `gru_bi` (see the module; None cotangents
    mean zeros) -> {"xs" (T, B, m), "h0_f", "h0_b" (B, n), "params_f", "params_b"}."""
    fn = "gru_bi_vjp"
    checks.gru_variant(fn, variant)
    keys = GRU_PARAMS
    xs, (h0_f,), _, dt_f = checks.gated_sequence(fn, xs, [("h0_f", h0_f)], p_f, keys, p_name="p_f")
    _, (h0_b,), _, dt_b = checks.gated_sequence(fn, xs, [("h0_b", h0_b)], p_b, keys, p_name="p_b")
    dt = np.result_type(dt_f, dt_b)
    (T, B, _), n = xs.shape, h0_f.shape[1]
    d_f, d_r, (d_hf, d_hb) = _bi_cotangents(fn, d_ys, (("d_hf", d_hf), ("d_hb", d_hb)), T, B, n, dt)
    g_f = gru_vjp(xs, h0_f, p_f, d_f, d_hf, variant=variant)
    g_r = gru_vjp(xs[::-1], h0_b, p_b, d_r, d_hb, variant=variant)
    return _merge(g_f, g_r, ("h0",), dt)
