"""Deliberately broken targets, built through the public protocol from the NumPy reference.

Each must be caught by the suite (tests/test_power.py). Kinds: a transposed W_h, a dropped bias,
a wrong activation, an off-by-one in time, wrong BPTT terms, per-tensor instead of global
clipping, clipping that scales small gradients up, and a 1e-3 bias offset.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from dlproof.impl.numpy_ref import clipping as C
from dlproof.impl.numpy_ref import rnn as R
from dlproof.impl.targets import numpy_target

BASE = numpy_target("float64")


def _with(p, **kw):
    return {**p, **kw}


def _transposed(p):
    return _with(p, W_h=np.ascontiguousarray(p["W_h"].T))


def _nobias(p):
    return _with(p, b=np.zeros_like(p["b"]))


def _shifted(p):
    return _with(p, b=p["b"] + 1e-3)


def _param_mutant(name, f):
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


def _off_by_one(xs, h0, p):
    hs, hT = R.rnn(xs, h0, p)
    return np.concatenate([h0[None], hs[:-1]]), hT


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


def _scale_up(grads, c):
    N = C.global_norm(grads)
    return [g * (c / N) for g in grads], N


MUTANTS = {
    "transposed_W_h": (_param_mutant("mutant: transposed W_h", _transposed), "rnn.forward"),
    "dropped_bias": (_param_mutant("mutant: dropped bias", _nobias), "rnn.forward"),
    "bias_off_1e-3": (_param_mutant("mutant: bias + 1e-3", _shifted), "rnn.forward"),
    "sigmoid_for_tanh": (replace(BASE, name="mutant: sigmoid instead of tanh", rnn=_sigmoid_forward), "rnn.forward"),
    "relu_declared_tanh": (replace(numpy_target("float64", activation="relu"), name="mutant: relu declared tanh",
                                   conventions={**BASE.conventions, "rnn_activation": "tanh"}), "rnn.forward"),
    "off_by_one_time": (replace(BASE, name="mutant: hs shifted by one step", rnn=_off_by_one), "rnn.forward"),
    "bptt_no_recurrence": (replace(BASE, name="mutant: BPTT drops W_h^T path", rnn_vjp=_no_recurrent_grad), "rnn.vjp"),
    "bptt_last_step_weights": (replace(BASE, name="mutant: weight grads of last step only", rnn_vjp=_last_step_only), "rnn.vjp"),
    "clip_per_tensor": (replace(BASE, name="mutant: per-tensor clipping declared global",
                                clip_grad_norm=lambda g, c: C.clip_grad_norm(g, c, scope="per_tensor")), "clip.norm.rule"),
    "clip_scales_up": (replace(BASE, name="mutant: clipping scales small gradients up", clip_grad_norm=_scale_up),
                       "clip.norm.identity_below"),
    "clip_eps_undeclared": (replace(BASE, name="mutant: torch eps, not declared",
                                    clip_grad_norm=lambda g, c: C.clip_grad_norm(g, c, eps=1e-6)), "clip.norm.rule"),
    "clip_by_value_for_norm": (replace(BASE, name="mutant: clip by value used for clip by norm",
                                       clip_grad_norm=lambda g, c: (C.clip_grad_value(g, c), C.global_norm(g))),
                               "clip.norm.rule"),
}

per_tensor_target = MUTANTS["clip_per_tensor"][0]  # importable as mutants:per_tensor_target


# ---- LSTM, GRU, bidirectional ---------------------------------------------------------------------------
from dlproof.impl.numpy_ref import bidirectional as BI  # noqa: E402
from dlproof.impl.numpy_ref import gru as G  # noqa: E402
from dlproof.impl.numpy_ref import lstm as L  # noqa: E402


def _sig(a):
    return 0.5 * (1 + np.tanh(0.5 * a))


def _lstm_steps(xs, h0, c0, p, no_tanh=False, no_forget=False):
    h, c, hs, cache = h0, c0, [], []
    for x in xs:
        a = {q: x @ p[f"W_x{q}"].T + h @ p[f"W_h{q}"].T + p[f"b_{q}"] for q in "ifgo"}
        i, f, g, o = _sig(a["i"]), _sig(a["f"]), np.tanh(a["g"]), _sig(a["o"])
        c_new = (c if no_forget else f * c) + i * g
        cache.append((x, h, c, i, f, g, o, c_new))
        h, c = o * (c_new if no_tanh else np.tanh(c_new)), c_new
        hs.append(h)
    return np.stack(hs), h, c, cache


def _lstm_forward(**flags):
    def fwd(xs, h0, c0, p):
        hs, h, c, _ = _lstm_steps(xs, h0, c0, p, **flags)
        return hs, (h, c)

    return fwd


def lstm_bptt(drop_c=False, drop_h=False):
    """Hand-written LSTM BPTT with a carry dropped: drop_c sets dc_{t-1} = 0 instead of dc_t * f_t, drop_h sets
    the recurrent part of dh_{t-1} (sum_q W_hq^T da_q) to 0."""
    def vjp(xs, h0, c0, p, d_hs, d_hT, d_cT):
        hs, h, c, cache = _lstm_steps(xs, h0, c0, p)
        grads = {k: np.zeros_like(v) for k, v in p.items()}
        d_xs = np.zeros_like(xs)
        dh, dc = d_hs[-1] + d_hT, d_cT
        for t in range(len(cache) - 1, -1, -1):
            x, h_prev, c_prev, i, f, g, o, c_new = cache[t]
            tc = np.tanh(c_new)
            dc = dc + dh * o * (1 - tc ** 2)
            da = {"o": dh * tc * o * (1 - o), "i": dc * g * i * (1 - i), "f": dc * c_prev * f * (1 - f),
                  "g": dc * i * (1 - g ** 2)}
            for q, d in da.items():
                grads[f"W_x{q}"] += d.T @ x
                grads[f"W_h{q}"] += d.T @ h_prev
                grads[f"b_{q}"] += d.sum(0)
            d_xs[t] = sum(d @ p[f"W_x{q}"] for q, d in da.items())
            carry = sum(d @ p[f"W_h{q}"] for q, d in da.items())
            dh = (0 * carry if drop_h else carry) + (d_hs[t - 1] if t else 0)
            dc = 0 * dc if drop_c else dc * f
        return {"xs": d_xs, "h0": dh, "c0": dc, "params": grads}
    return vjp


def _swap_if(p):
    q = dict(p)
    for w in ("W_x", "W_h", "b_"):
        q[f"{w}i"], q[f"{w}f"] = p[f"{w}f"], p[f"{w}i"]
    return q


def _negate_z(p):
    return {**p, **{k: -p[k] for k in ("W_xz", "W_hz", "b_z")}}  # sigma(-a) = 1 - sigma(a): z and 1 - z exchanged


def _bi_unreversed(xs, h0_f, h0_b, p_f, p_b):
    ys, h_f, h_b = BI.rnn_bi(xs, h0_f, h0_b, p_f, p_b)
    n = h0_f.shape[1]
    ys = ys.copy()
    ys[..., n:] = ys[::-1, :, n:]
    return ys, h_f, ys[0, :, n:].copy()


def _bi_swapped(xs, h0_f, h0_b, p_f, p_b):
    ys, h_f, h_b = BI.rnn_bi(xs, h0_f, h0_b, p_f, p_b)
    n = h0_f.shape[1]
    return np.concatenate([ys[..., n:], ys[..., :n]], -1), h_f, h_b


MUTANTS.update({
    "lstm_swapped_i_f": (replace(BASE, name="mutant: LSTM gate blocks i and f swapped",
                                 lstm=lambda xs, h0, c0, p: L.lstm(xs, h0, c0, _swap_if(p))), "lstm.forward"),
    "lstm_no_tanh": (replace(BASE, name="mutant: LSTM h' = o * c' (no tanh)", lstm=_lstm_forward(no_tanh=True)),
                     "lstm.forward"),
    "lstm_no_forget": (replace(BASE, name="mutant: LSTM without the forget-gate path (c' = c + i g)",
                               lstm=_lstm_forward(no_forget=True)), "lstm.forward"),
    "lstm_returns_c_h": (replace(BASE, name="mutant: LSTM returns (c, h)",
                                 lstm=lambda xs, h0, c0, p: (lambda hs, hc: (hs, hc[::-1]))(*L.lstm(xs, h0, c0, p))),
                         "lstm.forward"),
    "lstm_bptt_drops_c": (replace(BASE, name="mutant: LSTM BPTT drops the path through c",
                                  lstm_vjp=lstm_bptt(drop_c=True)), "lstm.vjp"),
    "gru_z_exchanged": (replace(BASE, name="mutant: GRU z and 1 - z exchanged",
                                gru=lambda xs, h0, p: G.gru(xs, h0, _negate_z(p))), "gru.forward"),
    "gru_reset_wrong_place": (replace(BASE, name="mutant: GRU reset before the matmul, declared reset_after",
                                      gru=lambda xs, h0, p: G.gru(xs, h0, p, "reset_before")), "gru.forward"),
    "bi_backward_not_reversed": (replace(BASE, name="mutant: backward half not re-reversed", rnn_bi=_bi_unreversed),
                                 "bi.rnn.forward"),
    "bi_halves_swapped": (replace(BASE, name="mutant: halves concatenated [bwd ; fwd]", rnn_bi=_bi_swapped),
                          "bi.rnn.forward"),
})
