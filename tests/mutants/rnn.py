"""Broken vanilla RNNs (h_t = tanh(W_x x_t + W_h h_{t-1} + b); params {"W_x": (n, m), "W_h": (n, n), "b": (n,)})
and parameter counts, each the NumPy reference with one bug."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from dlproof.impl.numpy_ref import rnn as R
from dlproof.impl.numpy_ref.rnn import param_count
from dlproof.impl.targets import numpy_target

from mutants.base import (BASE, Mutant, code_mutant, param_mutant, pinned, scaled, shift_time, truncated_vjp)


def _with(p, **kw):
    return {**p, **kw}


def _transposed(p):
    return _with(p, W_h=np.ascontiguousarray(p["W_h"].T))


def _nobias(p):
    return _with(p, b=np.zeros_like(p["b"]))


def _shifted(p):
    return _with(p, b=p["b"] + 1e-3)


def _param_target(name, f):
    """Forward and backward both computed with mutated parameters (a consistent but wrong model)."""
    def vjp(xs, h0, p, d_hs, d_hT):
        out = R.rnn_vjp(xs, h0, f(p), d_hs, d_hT)
        if f is _transposed:
            out["params"]["W_h"] = out["params"]["W_h"].T.copy()
        return out

    return replace(BASE, name=name, rnn_cell=lambda x, h, p: R.rnn_cell(x, h, f(p)),
                   rnn=lambda xs, h0, p: R.rnn(xs, h0, f(p)), rnn_vjp=vjp)


def _sigmoid_forward(xs, h0, p):
    h, hs = h0, []
    for x in xs:
        h = 1 / (1 + np.exp(-(x @ p["W_x"].T + h @ p["W_h"].T + p["b"])))
        hs.append(h)
    hs = np.stack(hs)
    return hs, hs[-1].copy()


def _no_recurrent_grad(xs, h0, p, d_hs, d_hT):
    """BPTT that drops the path through W_h^T: every step sees only its own cotangent."""
    T = xs.shape[0]
    hs, _ = R.rnn(xs, h0, p)
    prev = np.concatenate([h0[None], hs[:-1]])
    out = {"xs": np.zeros_like(xs), "h0": None, "params": {k: np.zeros_like(v) for k, v in p.items()}}
    for t in range(T):
        d = d_hs[t] + (d_hT if t == T - 1 else 0)
        g = d * (1 - hs[t] ** 2)
        out["params"]["W_h"] += g.T @ prev[t]
        out["params"]["W_x"] += g.T @ xs[t]
        out["params"]["b"] += g.sum(0)
        out["xs"][t] = g @ p["W_x"]
        if t == 0:
            out["h0"] = g @ p["W_h"]
    return out


def _last_step_only(xs, h0, p, d_hs, d_hT):
    """Gradients of the shared weights accumulated over the last step only."""
    full = R.rnn_vjp(xs, h0, p, d_hs, d_hT)
    last = R.rnn_vjp(xs[-1:], R.rnn(xs[:-1], h0, p)[1] if len(xs) > 1 else h0, p,
                     d_hs[-1:], d_hT)
    full["params"] = last["params"]
    return full


def _param_count_lstm_one_bias_shared(kind, n, m):
    return 4 * (n * m + n * n) + n if kind == "lstm" else param_count(kind, n, m)


def _param_count_gru_no_b_hn(kind, n, m):
    return param_count(kind, n, m, variant="reset_before") if kind == "gru" else param_count(kind, n, m)


MUTANTS: dict[str, Mutant] = {
    "transposed_W_h": pinned(_param_target("mutant: transposed W_h", _transposed), "rnn.forward"),
    "dropped_bias": pinned(_param_target("mutant: dropped bias", _nobias), "rnn.forward"),
    "bias_off_1e-3": pinned(_param_target("mutant: bias + 1e-3", _shifted), "rnn.forward"),
    "sigmoid_for_tanh": pinned(replace(BASE, name="mutant: sigmoid instead of tanh", rnn=_sigmoid_forward),
                               "rnn.forward"),
    "relu_declared_tanh": pinned(replace(numpy_target("float64", activation="relu"), name="mutant: relu declared tanh",
                                         conventions={**BASE.conventions, "rnn_activation": "tanh"}), "rnn.forward"),
    "off_by_one_time": pinned(replace(BASE, name="mutant: hs shifted by one step", rnn=shift_time(R.rnn)),
                              "rnn.forward"),
    "bptt_no_recurrence": pinned(replace(BASE, name="mutant: BPTT drops W_h^T path", rnn_vjp=_no_recurrent_grad),
                                 "rnn.vjp"),
    "bptt_last_step_weights": pinned(replace(BASE, name="mutant: weight grads of last step only",
                                             rnn_vjp=_last_step_only), "rnn.vjp"),
    "rnn_bias_doubled": param_mutant("rnn", scaled(2.0, "b"), "RNN bias doubled"),
    "rnn_W_x_scaled_by_1.001": param_mutant("rnn", scaled(1.001, "W_x"), "RNN W_x scaled by 1.001"),
    "rnn_bptt_truncated": code_mutant("RNN BPTT truncated to one step", rnn_vjp=truncated_vjp("rnn")),
    "param_count_lstm_one_shared_bias": code_mutant("LSTM parameter count with one shared bias vector",
                                                   param_count=_param_count_lstm_one_bias_shared),
    "param_count_gru_without_b_hn": code_mutant("GRU reset_after parameter count without b_hn",
                                               param_count=_param_count_gru_no_b_hn),
}


# ---- equivalent rewrites: the same model, written differently; they must survive --------------------------

def _rnn_sum_order(xs, h0, p):
    """h_t = tanh((b + W_h h) + W_x x): the same sum in another order (rounding differs, math does not)."""
    h, hs = h0, []
    for x in xs:
        h = np.tanh((p["b"] + h @ p["W_h"].T) + x @ p["W_x"].T)
        hs.append(h)
    return np.stack(hs), h.copy()


EQUIVALENT = {
    "rnn_sum_reordered": (code_mutant("RNN pre-activation summed in another order", rnn=_rnn_sum_order),
                          "Addition is commutative and associative in exact arithmetic; in floating point the "
                          "reordering changes the rounding only, within gamma_{m+n+1} of the error model, which "
                          "holds for any summation order."),
}
