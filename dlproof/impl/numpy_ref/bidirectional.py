"""Bidirectional RNN, LSTM and GRU in NumPy: a forward run and a time-reversed run, concatenated.

With F the forward-direction sequence function of the cell (parameters p_f) and R the same function with
parameters p_b, xs (T, B, m):
    hs_f, h_f = F(xs, h0_f),   hs_r, h_b = R(xs[::-1], h0_b),   hs_b = hs_r[::-1],
    ys[t] = [hs_f[t] ; hs_b[t]]  (T, B, n_f + n_b): forward half first, both halves aligned with time t.
hs_b[t] is the backward direction's state after reading x_{T-1}, ..., x_t, so the backward final state
h_b is its state after reading x_0 and equals ys[0, :, n_f:] (not ys[-1]); h_f equals ys[-1, :, :n_f].
(As torch.nn with bidirectional=True, Keras Bidirectional(merge_mode="concat"), flax Bidirectional.)
Shapes and conventions of the cells are those of `rnn`, `lstm` and `gru`; computation runs in the
inputs' (common) floating dtype.
"""
from __future__ import annotations

import numpy as np

from dlproof.parameters import GRU_PARAMS, LSTM_PARAMS

from .checks import recurrent as checks
from .gru import gru
from .lstm import lstm
from .rnn import rnn


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
