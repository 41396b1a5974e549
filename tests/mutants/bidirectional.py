"""Broken bidirectional RNNs (ys = [forward half ; backward half re-reversed in time], h_f the forward direction's
final state, h_b the backward direction's, at t = 0), each the NumPy reference with one bug."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from dlproof.impl.numpy_ref import bidirectional as BI

from mutants.base import BASE, Mutant, code_mutant, pinned


def _bi_unreversed(xs, h0_f, h0_b, p_f, p_b):
    ys, h_f, h_b = BI.rnn_bi(xs, h0_f, h0_b, p_f, p_b)
    n = h0_f.shape[1]
    ys = ys.copy()
    ys[..., n:] = ys[::-1, :, n:]
    return ys, h_f, ys[0, :, n:].copy()


def _bi_not_reversed(kind):
    """The backward direction reads xs in forward order (never reversed)."""
    def bi(xs, sf, sb, pf, pb):
        fwd = getattr(BASE, kind)
        if kind == "lstm":
            ys_f, fin_f = fwd(xs, *sf, pf)
            ys_b, fin_b = fwd(xs, *sb, pb)
        else:
            ys_f, fin_f = fwd(xs, sf, pf)
            ys_b, fin_b = fwd(xs, sb, pb)
        return np.concatenate([ys_f, ys_b], -1), fin_f, fin_b
    return bi


def _bi_swapped_halves(kind):
    def bi(xs, sf, sb, pf, pb):
        ys, fin_f, fin_b = getattr(BASE, f"{kind}_bi")(xs, sf, sb, pf, pb)
        n = ys.shape[-1] // 2
        return np.concatenate([ys[..., n:], ys[..., :n]], -1), fin_f, fin_b
    return bi


def _bi_h_b_wrong_end(kind):
    """h_b taken from the backward direction's first step (at t = T-1) instead of its last (at t = 0)."""
    def bi(xs, sf, sb, pf, pb):
        ys, fin_f, fin_b = getattr(BASE, f"{kind}_bi")(xs, sf, sb, pf, pb)
        n = ys.shape[-1] // 2
        h_b = ys[-1, :, n:].copy()
        if kind == "lstm":
            return ys, fin_f, (h_b, fin_b[1])
        return ys, fin_f, h_b
    return bi


def _bi_vjp_parts(kind, xs, sf, sb, pf, pb, d_ys, d_fin_f, d_fin_b):
    """The two one-direction VJPs of the reference (g_f on xs, g_r on reversed xs with the reversed cotangent)."""
    n = d_ys.shape[-1] // 2
    vjp = getattr(BASE, f"{kind}_vjp")
    if kind == "lstm":
        return (vjp(xs, *sf, pf, d_ys[..., :n], *d_fin_f), vjp(xs[::-1], *sb, pb, d_ys[::-1, :, n:], *d_fin_b))
    return vjp(xs, sf, pf, d_ys[..., :n], d_fin_f), vjp(xs[::-1], sb, pb, d_ys[::-1, :, n:], d_fin_b)


def _bi_vjp_from_parts(kind, g_f, g_r, xs_grad):
    states = ("h0", "c0") if kind == "lstm" else ("h0",)
    out = {"xs": xs_grad, **{f"{s}_f": g_f[s] for s in states}, **{f"{s}_b": g_r[s] for s in states}}
    out["params_f"], out["params_b"] = g_f["params"], g_r["params"]
    return out


def _bi_vjp_not_rereversed(kind):
    """d xs = g_f.xs + g_r.xs: the backward half's input gradient left in reversed time."""
    def vjp(xs, sf, sb, pf, pb, d_ys, d_fin_f, d_fin_b):
        g_f, g_r = _bi_vjp_parts(kind, xs, sf, sb, pf, pb, d_ys, d_fin_f, d_fin_b)
        return _bi_vjp_from_parts(kind, g_f, g_r, g_f["xs"] + g_r["xs"])
    return vjp


def _bi_vjp_params_swapped(kind):
    """params_f and params_b exchanged in the returned dict."""
    def vjp(*args):
        g = dict(getattr(BASE, f"{kind}_bi_vjp")(*args))
        g["params_f"], g["params_b"] = g["params_b"], g["params_f"]
        return g
    return vjp


def _bi_vjp_final_cots_swapped(kind):
    """d_hf goes to the backward run's final state and d_hb to the forward run's."""
    def vjp(xs, sf, sb, pf, pb, d_ys, d_fin_f, d_fin_b):
        return getattr(BASE, f"{kind}_bi_vjp")(xs, sf, sb, pf, pb, d_ys, d_fin_b, d_fin_f)
    return vjp


MUTANTS: dict[str, Mutant] = {
    "bi_backward_not_reversed": pinned(replace(BASE, name="mutant: backward half not re-reversed", rnn_bi=_bi_unreversed),
                                       "bi.rnn.forward"),
    "bi_halves_swapped": pinned(replace(BASE, name="mutant: halves concatenated [bwd ; fwd]",
                                        rnn_bi=_bi_swapped_halves("rnn")), "bi.rnn.forward"),
    "lstm_bi_not_reversed": code_mutant("LSTM backward direction never reversed", lstm_bi=_bi_not_reversed("lstm")),
    "gru_bi_not_reversed": code_mutant("GRU backward direction never reversed", gru_bi=_bi_not_reversed("gru")),
    "gru_bi_halves_swapped": code_mutant("GRU halves concatenated [bwd ; fwd]", gru_bi=_bi_swapped_halves("gru")),
    "rnn_bi_h_b_wrong_end": code_mutant("RNN h_b from the wrong end", rnn_bi=_bi_h_b_wrong_end("rnn")),
    "lstm_bi_h_b_wrong_end": code_mutant("LSTM h_b from the wrong end", lstm_bi=_bi_h_b_wrong_end("lstm")),
    "rnn_bi_vjp_not_rereversed": pinned(replace(
        BASE, name="mutant: bi VJP forgets to re-reverse the backward half's input gradient",
        rnn_bi_vjp=_bi_vjp_not_rereversed("rnn")), "bi.rnn.vjp"),
    "lstm_bi_vjp_params_swapped": pinned(replace(
        BASE, name="mutant: LSTM bi VJP returns params_f and params_b swapped",
        lstm_bi_vjp=_bi_vjp_params_swapped("lstm")), "bi.lstm.vjp"),
    "gru_bi_vjp_final_cots_swapped": pinned(replace(
        BASE, name="mutant: GRU bi VJP applies d_hf to the backward direction and d_hb to the forward",
        gru_bi_vjp=_bi_vjp_final_cots_swapped("gru")), "bi.gru.vjp"),
    "lstm_bi_vjp_not_rereversed": code_mutant("LSTM bi VJP: backward input gradient not re-reversed",
                                              lstm_bi_vjp=_bi_vjp_not_rereversed("lstm")),
    "gru_bi_vjp_not_rereversed": code_mutant("GRU bi VJP: backward input gradient not re-reversed",
                                             gru_bi_vjp=_bi_vjp_not_rereversed("gru")),
}
