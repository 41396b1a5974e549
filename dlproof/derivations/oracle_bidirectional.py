"""The bidirectional NumPy oracle: one generic wrapper built on the proved reversal identity.

bi.backward_is_reversed_forward: the backward half is a forward-direction run of the same cell on the
time-reversed input, re-reversed; bi.output_layout: ys (T, B, 2n) = [forward ; backward] on the last
axis, time-aligned; bi.final_states: h_f = ys[-1, :, :n] (forward state after x_{T-1}), h_b =
ys[0, :, n:] (backward state after reading x_0). Each direction has its own parameters and initial
state. Sequences are time-major (T, B, m); computed in float64.
"""
from __future__ import annotations

import numpy as np

from .oracle_rnn import rnn_forward
from .oracle_gru import gru_forward


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


__all__ = ["bidirectional", "rnn_bi", "gru_bi", "lstm_bi"]
