"""Broken LSTMs (a_q = W_xq x + W_hq h + b_q for the gates q in "ifgo"; c' = f c + i g, h' = o tanh(c') with
i, f, o sigmoids and g a tanh; params {"W_x<q>": (n, m), "W_h<q>": (n, n), "b_<q>": (n,)}), each the NumPy
reference with one bug."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from dlproof.impl.numpy_ref import lstm as L

from mutants.base import (BASE, BASE32, Mutant, code_mutant, fp16, gate_swap, last_step_weights, param_mutant, pinned,
                          scaled, shift_time, shifted, sig, transposed, truncated_vjp)


def _lstm_steps(xs, h0, c0, p, act_i=sig, act_g=np.tanh, no_tanh=False, no_forget=False, twice_f_at_zero_h=False):
    """The LSTM forward written out, with a chosen activation for gates i and g and optional bugs: no_tanh
    (h' = o c'), no_forget (c' = c + i g), twice_f_at_zero_h (the forget bias added twice on a step whose h is
    all zeros). Returns hs (T, B, n), the final h and c, and per step (x, h, c, i, f, g, o, c')."""
    h, c, hs, cache = h0, c0, [], []
    for x in xs:
        a = {q: x @ p[f"W_x{q}"].T + h @ p[f"W_h{q}"].T + p[f"b_{q}"] for q in "ifgo"}
        if twice_f_at_zero_h and not np.any(h):
            a["f"] = a["f"] + p["b_f"]
        i, f, g, o = act_i(a["i"]), sig(a["f"]), act_g(a["g"]), sig(a["o"])
        c_new = (c if no_forget else f * c) + i * g
        cache.append((x, h, c, i, f, g, o, c_new))
        h, c = o * (c_new if no_tanh else np.tanh(c_new)), c_new
        hs.append(h)
    return np.stack(hs), h, c, cache


def _lstm_forward(**flags):
    """The `lstm` capability (xs, h0, c0, p) -> (hs, (h_T, c_T)) of `_lstm_steps` with ``flags``."""
    def fwd(xs, h0, c0, p):
        hs, h, c, _ = _lstm_steps(xs, h0, c0, p, **flags)
        return hs, (h, c)
    return fwd


def _lstm_cell_from(fwd):
    def cell(x, h, c, p):
        _, (h1, c1) = fwd(x[None], h, c, p)
        return h1, c1
    return cell


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


def _lstm_fp16_products(xs, h0, c0, p):
    """A float32 LSTM whose products round their inputs to float16 (u = 2^-11): far above float32's model."""
    return BASE32.lstm(fp16(xs), fp16(h0), c0, {k: fp16(v) for k, v in p.items()})


_lstm_sig_tanh = _lstm_forward(act_i=np.tanh, act_g=sig)
_lstm_f_twice = _lstm_forward(twice_f_at_zero_h=True)

MUTANTS: dict[str, Mutant] = {
    "lstm_swapped_i_f": pinned(replace(BASE, name="mutant: LSTM gate blocks i and f swapped",
                                       lstm=lambda xs, h0, c0, p: L.lstm(xs, h0, c0, _swap_if(p))), "lstm.forward"),
    "lstm_no_tanh": pinned(replace(BASE, name="mutant: LSTM h' = o * c' (no tanh)", lstm=_lstm_forward(no_tanh=True)),
                           "lstm.forward"),
    "lstm_no_forget": pinned(replace(BASE, name="mutant: LSTM without the forget-gate path (c' = c + i g)",
                                     lstm=_lstm_forward(no_forget=True)), "lstm.forward"),
    "lstm_returns_c_h": pinned(replace(BASE, name="mutant: LSTM returns (c, h)",
                                       lstm=lambda xs, h0, c0, p: (lambda hs, hc: (hs, hc[::-1]))(*L.lstm(xs, h0, c0, p))),
                               "lstm.forward"),
    "lstm_bptt_drops_c": pinned(replace(BASE, name="mutant: LSTM BPTT drops the path through c",
                                        lstm_vjp=lstm_bptt(drop_c=True)), "lstm.vjp"),
    # every gate-pair swap (i-f is pinned above), W_h transposed, biases, activations, time
    **{f"lstm_swap_{a}_{b}": param_mutant("lstm", gate_swap("lstm", a, b), f"LSTM gate blocks {a} and {b} swapped")
       for a, b in (("i", "g"), ("i", "o"), ("f", "g"), ("f", "o"), ("g", "o"))},
    "lstm_W_hf_transposed": param_mutant("lstm", transposed("W_hf"), "LSTM W_hf transposed"),
    "lstm_b_f_dropped": param_mutant("lstm", scaled(0.0, "b_f"), "LSTM forget bias dropped"),
    "lstm_b_o_doubled": param_mutant("lstm", scaled(2.0, "b_o"), "LSTM output bias doubled"),
    "lstm_b_f_off_1e-3": param_mutant("lstm", shifted(1e-3, "b_f"), "LSTM forget bias + 1e-3"),
    "lstm_sigmoid_tanh_swapped": code_mutant("LSTM: tanh on gate i, sigmoid on g", lstm=_lstm_sig_tanh,
                                             lstm_cell=_lstm_cell_from(_lstm_sig_tanh)),
    "lstm_forget_bias_twice_at_h0": code_mutant("LSTM adds b_f twice on a step whose h is all zeros",
                                                lstm=_lstm_f_twice, lstm_cell=_lstm_cell_from(_lstm_f_twice)),
    "lstm_off_by_one_time": code_mutant("LSTM hs shifted by one step", lstm=shift_time(BASE.lstm)),
    "lstm_bptt_drops_h": code_mutant("LSTM BPTT drops the path through h (keeps c's)", lstm_vjp=lstm_bptt(drop_h=True)),
    "lstm_bptt_truncated": code_mutant("LSTM BPTT truncated to one step", lstm_vjp=truncated_vjp("lstm")),
    "lstm_last_step_weights": code_mutant("LSTM weight gradients of the last step only",
                                          lstm_vjp=last_step_weights("lstm")),
    "lstm_fp16_products": code_mutant("float32 LSTM with float16 products", base=BASE32, lstm=_lstm_fp16_products),
}


# ---- equivalent rewrites: the same model, written differently; they must survive --------------------------

def _sigmoid_classic(a):
    return 1.0 / (1.0 + np.exp(-a))


EQUIVALENT = {
    "lstm_sigmoid_as_exp": (code_mutant("LSTM gate i through 1 / (1 + exp(-a)) instead of tanh",
                                        lstm=_lstm_forward(act_i=_sigmoid_classic)),
                            "sigmoid(a) = 1 / (1 + exp(-a)) = (1 + tanh(a / 2)) / 2 exactly (derivation "
                            "act.tanh_via_sigmoid, tanh(a) = 2 sigmoid(2a) - 1); both evaluations are accurate to a "
                            "few ulps, inside the model's 4 ulps per activation."),
}
