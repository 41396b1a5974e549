"""The bidirectional NumPy oracle: one generic wrapper built on the proved reversal identity.

bi.backward_is_reversed_forward: the backward half is a forward-direction run of the same cell on the
time-reversed input, re-reversed; bi.output_layout: ys (T, B, 2n) = [forward ; backward] on the last
axis, time-aligned; bi.final_states: h_f = ys[-1, :, :n] (forward state after x_{T-1}), h_b =
ys[0, :, n:] (backward state after reading x_0). Each direction has its own parameters and initial
state. Sequences are time-major (T, B, m); computed in float64.
"""
from __future__ import annotations

import numpy as np

from .oracle_rnn import rnn_forward, rnn_vjp as _rnn_vjp
from .oracle_gru import gru_forward, gru_vjp as _gru_vjp


def bidirectional(cell_forward, xs, state0_f, state0_b, p_f, p_b):
    """Run ``cell_forward(xs, state0, p) -> (hs (T, B, n), final_state)`` both ways.

    Returns ``(ys (T, B, 2n), final_f, final_b)`` with ys[t] = [h_t^fwd ; h_t^bwd]; final_b is the
    backward direction's state after reading x_0. [bi.output_layout, bi.backward_is_reversed_forward,
    bi.final_states]
    """
    xs = np.asarray(xs, np.float64)
    hs_f, final_f = cell_forward(xs, state0_f, p_f)
    hs_r, final_b = cell_forward(xs[::-1], state0_b, p_b)
    ys = np.concatenate([np.asarray(hs_f), np.asarray(hs_r)[::-1]], axis=-1)
    return ys, final_f, final_b


def rnn_bi(xs, h0_f, h0_b, p_f, p_b, activation="tanh"):
    """Bidirectional vanilla RNN: (T, B, m) -> (ys (T, B, 2n), h_f, h_b). [bi.*, rnn.cell.forward]"""
    return bidirectional(lambda x, h, p: rnn_forward(x, h, p, activation), xs, h0_f, h0_b, p_f, p_b)


def gru_bi(xs, h0_f, h0_b, p_f, p_b, variant="reset_after"):
    """Bidirectional GRU: (T, B, m) -> (ys (T, B, 2n), h_f, h_b). [bi.*, gru.cell.forward.<variant>]"""
    return bidirectional(lambda x, h, p: gru_forward(x, h, p, variant), xs, h0_f, h0_b, p_f, p_b)


def lstm_bi(xs, state0_f, state0_b, p_f, p_b):
    """Bidirectional LSTM: xs, (h0_f, c0_f), (h0_b, c0_b) -> (ys (T, B, 2n), (h_f, c_f), (h_b, c_b)).

    Uses oracle_lstm.lstm_forward(xs, h0, c0, p) -> (hs, (h_T, c_T)). [bi.*, lstm.cell.*]
    """
    from .oracle_lstm import lstm_forward

    def run(x, state, p):
        h0, c0 = state
        return lstm_forward(x, h0, c0, p)

    return bidirectional(run, xs, tuple(state0_f), tuple(state0_b), p_f, p_b)


def bidirectional_vjp(cell_vjp, xs, state0_f, state0_b, p_f, p_b, d_ys, d_final_f, d_final_b, names):
    """The VJP of `bidirectional` from a forward-direction VJP, by the proved bi.vjp_reversal.

    ``cell_vjp(xs, state0, p, d_hs, d_final) -> {"xs", <state names>, "params"}`` is the one-direction VJP;
    d_ys (T, B, 2n) is split [forward ; backward]; the backward half's VJP runs on the reversed input with the
    reversed per-step cotangent and its unreversed final-state cotangent; only its input gradient is
    re-reversed. Returns {"xs", "<name>_f", "<name>_b" for each state name, "params_f", "params_b"}.
    """
    xs = np.asarray(xs, np.float64)
    d_ys = np.asarray(d_ys, np.float64)
    n = d_ys.shape[-1] // 2
    g_f = cell_vjp(xs, state0_f, p_f, d_ys[..., :n], d_final_f)
    g_r = cell_vjp(xs[::-1], state0_b, p_b, d_ys[::-1, :, n:], d_final_b)
    out = {"xs": np.asarray(g_f["xs"]) + np.asarray(g_r["xs"])[::-1]}
    out.update({f"{s}_f": g_f[s] for s in names})
    out.update({f"{s}_b": g_r[s] for s in names})
    out["params_f"], out["params_b"] = g_f["params"], g_r["params"]
    return out


def rnn_bi_vjp(xs, h0_f, h0_b, p_f, p_b, d_ys, d_hf, d_hb, activation="tanh"):
    """Gradients of <d_ys, ys> + <d_hf, h_f> + <d_hb, h_b> of `rnn_bi`. [bi.vjp_reversal, rnn BPTT]"""
    vjp = lambda x, h, p, d_hs, d_h: _rnn_vjp(x, h, p, d_hs, d_h, activation)  # noqa: E731
    return bidirectional_vjp(vjp, xs, h0_f, h0_b, p_f, p_b, d_ys, d_hf, d_hb, ("h0",))


def gru_bi_vjp(xs, h0_f, h0_b, p_f, p_b, d_ys, d_hf, d_hb, variant="reset_after"):
    """Gradients of <d_ys, ys> + <d_hf, h_f> + <d_hb, h_b> of `gru_bi`. [bi.vjp_reversal, gru BPTT]"""
    vjp = lambda x, h, p, d_hs, d_h: _gru_vjp(x, h, p, d_hs, d_h, variant)  # noqa: E731
    return bidirectional_vjp(vjp, xs, h0_f, h0_b, p_f, p_b, d_ys, d_hf, d_hb, ("h0",))


def lstm_bi_vjp(xs, state0_f, state0_b, p_f, p_b, d_ys, d_final_f, d_final_b):
    """Gradients of <d_ys, ys> + <d_hf, h_f> + <d_cf, c_f> + <d_hb, h_b> + <d_cb, c_b> of `lstm_bi`;
    d_final_* = (d_h, d_c). Returns {"xs", "h0_f", "c0_f", "h0_b", "c0_b", "params_f", "params_b"}.
    [bi.vjp_reversal, lstm BPTT]"""
    from .oracle_lstm import lstm_vjp

    def vjp(x, state, p, d_hs, d_fin):
        return lstm_vjp(x, state[0], state[1], p, d_hs, d_fin[0], d_fin[1])

    return bidirectional_vjp(vjp, xs, tuple(state0_f), tuple(state0_b), p_f, p_b, d_ys, tuple(d_final_f),
                             tuple(d_final_b), ("h0", "c0"))


__all__ = ["bidirectional", "rnn_bi", "gru_bi", "lstm_bi", "bidirectional_vjp", "rnn_bi_vjp", "gru_bi_vjp", "lstm_bi_vjp"]
