"""The mutation meta-suite's catalog: broken implementations, each a Target built through the public protocol.

Every mutant is the NumPy reference with the capabilities of one family replaced by a broken version
(`Mutant.mutated` names them; the other capabilities stay correct, so only the properties that call a
mutated capability can kill it). tests/test_mutation_suite.py runs, for every mutant, every property of
the suite (ci profile) that calls one of its mutated capabilities and asserts that at least one fails;
`EQUIVALENT` holds rewrites that are mathematically the same model, argued in writing, which must survive.

Parameter mutants (`param_mutant`) compute the whole family (cell, sequence, VJP, bidirectional) with
transformed parameters q = f(p) and pull the gradients back through f: a consistent model that is the
wrong one, as a storage-layout bug gives. The others change the code of one capability.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from dlproof.impl.numpy_ref import clipping as C
from dlproof.impl.numpy_ref import gru as G
from dlproof.impl.numpy_ref import lstm as L
from dlproof.impl.numpy_ref import rnn as R
from dlproof.impl.numpy_ref.rnn import param_count
from dlproof.impl.targets import numpy_gru_reset_before_target, numpy_target

import mutants_attention as MA
import mutants_conv as MC
import mutants_ff as FF
import mutants_ntk as MN
from mutants import MUTANTS as PINNED
from mutants import lstm_bptt

BASE = numpy_target("float64")
BASE32 = numpy_target("float32")


@dataclass(frozen=True)
class Mutant:
    target: object
    mutated: tuple  # the capabilities that differ from the reference
    bug: str  # what is wrong, in words


@dataclass(frozen=True)
class Transform:
    """q = forward(p) on a parameter dict; pull(g_q) = the gradient w.r.t. p (the chain rule through forward)."""
    forward: Callable
    pull: Callable


def swap(*pairs) -> Transform:
    """Exchange parameter names pairwise (a permutation: its own inverse, for values and gradients)."""
    def f(p):
        q = dict(p)
        for a, b in pairs:
            if a in p and b in p:
                q[a], q[b] = p[b], p[a]
        return q
    return Transform(f, f)


def gate_swap(kind: str, a: str, b: str) -> Transform:
    if kind == "lstm":
        return swap((f"W_x{a}", f"W_x{b}"), (f"W_h{a}", f"W_h{b}"), (f"b_{a}", f"b_{b}"))
    bias = {"r": "b_r", "z": "b_z", "n": "b_xn"}
    return swap((f"W_x{a}", f"W_x{b}"), (f"W_h{a}", f"W_h{b}"), (bias[a], bias[b]))


def each(keys, fwd, pull) -> Transform:
    """Apply fwd to the values of ``keys`` and pull to their gradients (an elementwise-linear map)."""
    def f(p):
        return {k: (fwd(v) if k in keys else v) for k, v in p.items()}

    def g(gq):
        return {k: (pull(v) if k in keys else v) for k, v in gq.items()}
    return Transform(f, g)


def transposed(*keys) -> Transform:
    return each(keys, lambda v: np.ascontiguousarray(v.T), lambda g: np.ascontiguousarray(g.T))


def scaled(c: float, *keys) -> Transform:
    return each(keys, lambda v: c * v, lambda g: c * g)


def shifted(d: float, *keys) -> Transform:
    return each(keys, lambda v: v + d, lambda g: g)


FAMILY = {
    "rnn": ("rnn_cell", "rnn", "rnn_vjp", "rnn_bi"),
    "lstm": ("lstm_cell", "lstm", "lstm_vjp", "lstm_bi"),
    "gru": ("gru_cell", "gru", "gru_vjp", "gru_bi"),
}


def param_mutant(kind: str, tr: Transform, bug: str, base=BASE) -> Mutant:
    """Every capability of ``kind`` computed with q = tr.forward(p); VJP parameter gradients pulled back."""
    b = base
    cell, seq, vjp, bi = (getattr(b, c) for c in FAMILY[kind])
    F = tr.forward

    def vjp_m(*args):
        *head, p = args[:-(3 if kind == "lstm" else 2)]
        cots = args[len(head) + 1:]
        out = vjp(*head, F(p), *cots)
        return {**out, "params": tr.pull(out["params"])}

    if kind == "lstm":
        caps = {"lstm_cell": lambda x, h, c, p: cell(x, h, c, F(p)), "lstm": lambda xs, h0, c0, p: seq(xs, h0, c0, F(p)),
                "lstm_vjp": vjp_m, "lstm_bi": lambda xs, sf, sb, pf, pb: bi(xs, sf, sb, F(pf), F(pb))}
    else:
        caps = {f"{kind}_cell": lambda x, h, p: cell(x, h, F(p)), kind: lambda xs, h0, p: seq(xs, h0, F(p)),
                f"{kind}_vjp": vjp_m, f"{kind}_bi": lambda xs, hf, hb, pf, pb: bi(xs, hf, hb, F(pf), F(pb))}
    return Mutant(replace(b, name=f"mutant: {bug}", **caps), FAMILY[kind], bug)


def _changed(caps: dict, correct: dict) -> dict:
    """The capabilities of ``caps`` that differ from ``correct`` (a builder returning a whole family)."""
    return {k: v for k, v in caps.items() if v is not correct.get(k)}


def code_mutant(bug: str, base=BASE, **caps) -> Mutant:
    return Mutant(replace(base, name=f"mutant: {bug}", **caps), tuple(caps), bug)


# ---- hand-written broken code ---------------------------------------------------------------------------

def _sig(a):
    return 0.5 * (1 + np.tanh(0.5 * a))


def _lstm_forward(act_i=_sig, act_g=np.tanh, twice_f_at_zero_h=False):
    """The LSTM forward written out, with a chosen activation for gates i and g and an optional bug that adds
    the forget bias twice on a step whose h is all zeros."""
    def fwd(xs, h0, c0, p):
        h, c, hs = h0, c0, []
        for x in xs:
            a = {q: x @ p[f"W_x{q}"].T + h @ p[f"W_h{q}"].T + p[f"b_{q}"] for q in "ifgo"}
            if twice_f_at_zero_h and not np.any(h):
                a["f"] = a["f"] + p["b_f"]
            c = _sig(a["f"]) * c + act_i(a["i"]) * act_g(a["g"])
            h = _sig(a["o"]) * np.tanh(c)
            hs.append(h)
        return np.stack(hs), (h, c)
    return fwd


def _lstm_cell_from(fwd):
    def cell(x, h, c, p):
        _, (h1, c1) = fwd(x[None], h, c, p)
        return h1, c1
    return cell


def _states(kind, xs, h0, c0, p):
    """The state after every step: [(h_t, c_t)] for t = 0..T (index 0 = the initial state)."""
    out = [(h0, c0)]
    for t in range(len(xs)):
        if kind == "rnn":
            out.append((R.rnn_cell(xs[t], out[-1][0], p), None))
        elif kind == "lstm":
            out.append(L.lstm_cell(xs[t], out[-1][0], out[-1][1], p))
        else:
            out.append((G.gru_cell(xs[t], out[-1][0], p), None))
    return out


def _step_vjp(kind, x, h, c, p, d_h, d_c):
    if kind == "rnn":
        return R.rnn_vjp(x[None], h, p, np.zeros_like(d_h)[None], d_h)
    if kind == "lstm":
        return L.lstm_vjp(x[None], h, c, p, np.zeros_like(d_h)[None], d_h, d_c)
    return G.gru_vjp(x[None], h, p, np.zeros_like(d_h)[None], d_h)


def truncated_vjp(kind: str):
    """BPTT truncated to one step: each step's cotangent stops at its own inputs (no carry into h_{t-1}, c_{t-1}).
    The parameter gradients sum the one-step ones; d_h0 comes from step 0 alone."""
    def vjp(xs, h0, *rest):
        if kind == "lstm":
            c0, p, d_hs, d_hT, d_cT = rest
        else:
            (p, d_hs, d_hT), c0, d_cT = rest, None, None
        st = _states(kind, xs, h0, c0, p)
        T = len(xs)
        out = {"xs": np.zeros_like(xs), "params": {k: np.zeros_like(v) for k, v in p.items()}}
        for t in range(T):
            d_h = d_hs[t] + (d_hT if t == T - 1 else 0)
            d_c = (d_cT if t == T - 1 else np.zeros_like(h0)) if kind == "lstm" else None
            g = _step_vjp(kind, xs[t], st[t][0], st[t][1], p, d_h, d_c)
            out["xs"][t] = g["xs"][0]
            for k in p:
                out["params"][k] += g["params"][k]
            if t == 0:
                out["h0"] = g["h0"]
                if kind == "lstm":
                    out["c0"] = g["c0"]
        return out
    return vjp


def last_step_weights(kind: str):
    """The correct VJP, except that the weight gradients are those of the last step alone."""
    full_vjp = getattr(BASE, f"{kind}_vjp")

    def vjp(xs, h0, *rest):
        if kind == "lstm":
            c0, p, d_hs, d_hT, d_cT = rest
            full = full_vjp(xs, h0, c0, p, d_hs, d_hT, d_cT)
        else:
            (p, d_hs, d_hT), c0, d_cT = rest, None, None
            full = full_vjp(xs, h0, p, d_hs, d_hT)
        st = _states(kind, xs, h0, c0, p)
        g = _step_vjp(kind, xs[-1], st[-2][0], st[-2][1], p, d_hs[-1] + d_hT, d_cT)
        return {**full, "params": g["params"]}
    return vjp


def _shift_time(fwd, n_state):
    """hs shifted by one step: hs[t] = h_{t-1} (h_0 first), the final state(s) unchanged."""
    def seq(xs, h0, *rest):
        hs, fin = fwd(xs, h0, *rest)
        return np.concatenate([h0[None], hs[:-1]]), fin
    return seq


def _fp16(a):
    return np.asarray(a, np.float16).astype(np.float32)


def _lstm_fp16_products(xs, h0, c0, p):
    """A float32 LSTM whose products round their inputs to float16 (u = 2^-11): far above float32's model."""
    return BASE32.lstm(_fp16(xs), _fp16(h0), c0, {k: _fp16(v) for k, v in p.items()})


def _gru_vjp_fp16_accumulate(xs, h0, p, d_hs, d_hT):
    """A float32 GRU VJP whose weight gradients are accumulated in float16."""
    out = BASE32.gru_vjp(xs, h0, p, d_hs, d_hT)
    return {**out, "params": {k: _fp16(v) for k, v in out["params"].items()}}


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


def _clip_l1(grads, c):
    N1 = float(sum(np.abs(g).sum() for g in grads))
    N2 = C.global_norm(grads)
    s = min(1.0, c / N1) if N1 > 0 else 1.0
    return [g * s for g in grads], N2


def _clip_returns_post_norm(grads, c):
    out, _ = C.clip_grad_norm(grads, c)
    return out, C.global_norm(out)


def _clip_value_by_scaling(grads, v):
    """clip_grad_value written as a rescale: g * min(1, v / max|g|) (keeps the direction, not the rule)."""
    m = max((float(np.max(np.abs(g))) if g.size else 0.0) for g in grads)
    s = min(1.0, v / m) if m > 0 else 1.0
    return [g * s for g in grads]


def _clip_value_lower_zero(grads, v):
    """Clamps to [0, v] instead of [-v, v]."""
    return [np.clip(g, 0, v) for g in grads]


def _param_count_lstm_one_bias_shared(kind, n, m):
    return 4 * (n * m + n * n) + n if kind == "lstm" else param_count(kind, n, m)


def _param_count_gru_no_b_hn(kind, n, m):
    return param_count(kind, n, m, variant="reset_before") if kind == "gru" else param_count(kind, n, m)


_gru_rb = numpy_gru_reset_before_target()
_lstm_sig_tanh = _lstm_forward(act_i=np.tanh, act_g=_sig)
_lstm_f_twice = _lstm_forward(twice_f_at_zero_h=True)

NEW = {
    # LSTM: every gate-pair swap (i-f is in the pinned set), W_h transposed, biases, activations, time
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
    "lstm_off_by_one_time": code_mutant("LSTM hs shifted by one step", lstm=_shift_time(BASE.lstm, 2)),
    "lstm_bptt_drops_h": code_mutant("LSTM BPTT drops the path through h (keeps c's)", lstm_vjp=lstm_bptt(drop_h=True)),
    "lstm_bptt_truncated": code_mutant("LSTM BPTT truncated to one step", lstm_vjp=truncated_vjp("lstm")),
    "lstm_last_step_weights": code_mutant("LSTM weight gradients of the last step only",
                                          lstm_vjp=last_step_weights("lstm")),
    "lstm_fp16_products": code_mutant("float32 LSTM with float16 products", base=BASE32, lstm=_lstm_fp16_products),
    # GRU
    **{f"gru_swap_{a}_{b}": param_mutant("gru", gate_swap("gru", a, b), f"GRU gate blocks {a} and {b} swapped")
       for a, b in (("r", "z"), ("r", "n"), ("z", "n"))},
    "gru_W_hr_transposed": param_mutant("gru", transposed("W_hr"), "GRU W_hr transposed"),
    "gru_b_hn_doubled": param_mutant("gru", scaled(2.0, "b_hn"), "GRU b_hn doubled"),
    "gru_z_exchanged_everywhere": param_mutant("gru", scaled(-1.0, "W_xz", "W_hz", "b_z"),
                                               "GRU z and 1 - z exchanged (cell, sequence, VJP, bi)"),
    "gru_reset_after_declared_before": Mutant(
        replace(_gru_rb, name="mutant: GRU computes reset_after, declared reset_before",
                gru=lambda xs, h0, p: G.gru(xs, h0, p, "reset_after"),
                gru_cell=lambda x, h, p: G.gru_cell(x, h, p, "reset_after")), ("gru", "gru_cell"),
        "GRU computes reset_after, declared reset_before"),
    "gru_off_by_one_time": code_mutant("GRU hs shifted by one step", gru=_shift_time(BASE.gru, 1)),
    "gru_bptt_truncated": code_mutant("GRU BPTT truncated to one step", gru_vjp=truncated_vjp("gru")),
    "gru_last_step_weights": code_mutant("GRU weight gradients of the last step only", gru_vjp=last_step_weights("gru")),
    "gru_vjp_fp16_accumulation": code_mutant("float32 GRU VJP accumulating weight gradients in float16", base=BASE32,
                                             gru_vjp=_gru_vjp_fp16_accumulate),
    # vanilla RNN
    "rnn_bias_doubled": param_mutant("rnn", scaled(2.0, "b"), "RNN bias doubled"),
    "rnn_W_x_scaled_by_1.001": param_mutant("rnn", scaled(1.001, "W_x"), "RNN W_x scaled by 1.001"),
    "rnn_bptt_truncated": code_mutant("RNN BPTT truncated to one step", rnn_vjp=truncated_vjp("rnn")),
    # bidirectional
    "lstm_bi_not_reversed": code_mutant("LSTM backward direction never reversed", lstm_bi=_bi_not_reversed("lstm")),
    "gru_bi_not_reversed": code_mutant("GRU backward direction never reversed", gru_bi=_bi_not_reversed("gru")),
    "gru_bi_halves_swapped": code_mutant("GRU halves concatenated [bwd ; fwd]", gru_bi=_bi_swapped_halves("gru")),
    "rnn_bi_h_b_wrong_end": code_mutant("RNN h_b from the wrong end", rnn_bi=_bi_h_b_wrong_end("rnn")),
    "lstm_bi_h_b_wrong_end": code_mutant("LSTM h_b from the wrong end", lstm_bi=_bi_h_b_wrong_end("lstm")),
    # clipping
    "clip_l1_norm": code_mutant("clip by the L1 norm", clip_grad_norm=_clip_l1),
    "clip_returns_post_clip_norm": code_mutant("clip_grad_norm returns the post-clip norm",
                                               clip_grad_norm=_clip_returns_post_norm),
    "clip_value_by_scaling": code_mutant("clip_grad_value as a rescale", clip_grad_value=_clip_value_by_scaling),
    "clip_value_lower_bound_zero": code_mutant("clip_grad_value clamps to [0, v]", clip_grad_value=_clip_value_lower_zero),
    # parameter counts
    "param_count_lstm_one_shared_bias": code_mutant("LSTM parameter count with one shared bias vector",
                                                   param_count=_param_count_lstm_one_bias_shared),
    "param_count_gru_without_b_hn": code_mutant("GRU reset_after parameter count without b_hn",
                                               param_count=_param_count_gru_no_b_hn),
    # backpropagation (MLP) and residual networks
    "mlp_backward_without_dphi": code_mutant("MLP backward without diag(phi')", mlp_vjp=FF.mlp_vjp_bug("no_dphi")),
    "mlp_backward_phi_for_dphi": code_mutant("MLP backward with phi where phi' belongs",
                                             mlp_vjp=FF.mlp_vjp_bug("phi_not_dphi")),
    "mlp_dW_transposed": code_mutant("MLP weight gradient transposed", mlp_vjp=FF.mlp_vjp_bug("transposed")),
    "mlp_dW_from_own_output": code_mutant("MLP dW^l from a^l instead of a^(l-1)", mlp_vjp=FF.mlp_vjp_bug("a_l")),
    "mlp_last_layer_activated": code_mutant("MLP applies the activation to the last layer", mlp=FF.mlp_last_activated),
    "residual_without_identity": code_mutant("residual block without its identity term", residual=FF.residual_no_skip,
                                             residual_vjp=FF.residual_no_skip_vjp),
    # dropout
    "dropout_scale_by_p": code_mutant("dropout scales by p instead of 1/q",
                                      dropout=FF.dropout_scaled(lambda q, p: p)),
    "dropout_scale_by_q": code_mutant("dropout scales by q instead of 1/q",
                                      dropout=FF.dropout_scaled(lambda q, p: q)),
    "dropout_unscaled": code_mutant("dropout without the 1/q scaling", dropout=FF.dropout_scaled(lambda q, p: 1.0)),
    "dropout_keeps_with_p": code_mutant("dropout keeps with probability p", dropout=FF.dropout_keep_with_p),
    "dropout_at_inference": code_mutant("dropout applied at inference", dropout=FF.dropout_at_inference),
    "dropout_vjp_other_mask": code_mutant("dropout backward with another seed's mask",
                                          dropout_vjp=FF.dropout_vjp_other_seed),
    "dropout_vjp_without_1_over_q": code_mutant("dropout backward without the 1/q",
                                                dropout_vjp=FF.dropout_vjp_without_1_over_q),
    # batch normalization
    "bn_unbiased_variance_forward": code_mutant("batch norm normalizes with the unbiased variance",
                                                batchnorm=FF.bn_forward_bug("unbiased_forward")),
    "bn_eps_outside_sqrt": code_mutant("batch norm divides by sqrt(var) + eps", batchnorm=FF.bn_forward_bug("eps_outside_sqrt")),
    "bn_biased_running_var": code_mutant("batch norm folds the biased variance into running_var (declared unbiased)",
                                         batchnorm=FF.bn_forward_bug("biased_running_var")),
    "bn_keras_momentum": code_mutant("batch norm momentum weights the old value", batchnorm=FF.bn_keras_momentum),
    "bn_backward_two_terms": code_mutant("batch norm backward without xhat sum(dy xhat)",
                                         batchnorm_vjp=FF.bn_vjp_missing_term),
    # attention
    "softmax_without_max_shift": code_mutant("softmax without the max shift", softmax=MA.softmax_no_shift),
    "softmax_vjp_diag_only": code_mutant("softmax backward with diag(s) only", softmax_vjp=MA.softmax_vjp_diag_only),
    "attention_scaled_by_1_over_d": code_mutant("attention scaled by 1/d", attention=MA.attention_bug("scale_1_over_d")),
    "attention_unscaled": code_mutant("attention without the 1/sqrt(d)", attention=MA.attention_bug("no_scale")),
    "attention_mask_covers_diagonal": code_mutant("causal mask also hides j = i", attention=MA.attention_bug("mask_diag")),
    "attention_mask_one_late": code_mutant("causal mask lets j = i + 1 through", attention=MA.attention_bug("mask_plus_one")),
    "attention_mask_after_softmax": code_mutant("causal mask applied after the softmax (no renormalization)",
                                                attention=MA.attention_bug("mask_after_softmax")),
    "attention_dq_unscaled": code_mutant("attention dq without the 1/sqrt(d)", attention_vjp=MA.attention_vjp_dq_unscaled),
    "mha_in_proj_kqv": code_mutant("multi-head attention with in_proj blocks in the order k, q, v",
                                   mha=MA.mha_in_proj_kqv, mha_vjp=MA.mha_vjp_in_proj_kqv),
    # convolution
    **{f"conv_{name}": code_mutant(f"convolution: {bug}", **_changed(MC.MUTANTS[name](), MC.CORRECT))
       for name, bug in (("no_flip_grad", "input gradient without the kernel flip"),
                         ("true_convolution", "a true convolution (kernel flipped) in the forward"),
                         ("one_sided_padding", "zero padding on the left only"),
                         ("stride_ignored_in_dx", "input gradient with dy not dilated by the stride"),
                         ("groups_ignored", "groups ignored (every output channel reads every input)"),
                         ("dilation_ignored", "kernel dilation ignored"),
                         ("dilation_on_input", "the input dilated instead of the kernel"),
                         ("dw_unpadded", "kernel gradient from the unpadded input"),
                         ("dw_transposed", "kernel gradient with its channel axes swapped"))},
    # neural tangent kernel
    "ntk_without_1_over_sqrt_width": code_mutant("NTK without the 1/sqrt(width)", empirical_ntk=MN.ntk_unscaled),
    "ntk_without_a_gradient": code_mutant("NTK without the a-gradient term", empirical_ntk=MN.ntk_bug("no_a_grad")),
    "ntk_without_W_gradient": code_mutant("NTK without the W-gradient term", empirical_ntk=MN.ntk_bug("no_w_grad")),
    "ntk_relu_for_drelu": code_mutant("NTK with relu where relu' belongs", empirical_ntk=MN.ntk_bug("relu_for_drelu")),
    "ntk_asymmetric": code_mutant("NTK kernel not symmetric", empirical_ntk=MN.ntk_asymmetric),
}


def _same(a, b) -> bool:
    """The same callable: identical, or partials of one function with the same arguments."""
    if a is b:
        return True
    fa, fb = getattr(a, "func", None), getattr(b, "func", None)
    return fa is not None and fa is fb and a.args == b.args and a.keywords == b.keywords


def _pinned_mutated(target) -> tuple:
    """The capabilities of a pinned mutant (tests/mutants.py) that differ from the reference's."""
    return tuple(c for c in target.capabilities if not _same(getattr(target, c), getattr(BASE, c)))


MUTANTS: dict[str, Mutant] = {
    **{name: Mutant(t, _pinned_mutated(t), t.name.removeprefix("mutant: ")) for name, (t, _) in PINNED.items()},
    **NEW,
}


# ---- equivalent rewrites: the same model, written differently; they must survive --------------------------

def _sigmoid_classic(a):
    return 1.0 / (1.0 + np.exp(-a))


def _rnn_sum_order(xs, h0, p):
    """h_t = tanh((b + W_h h) + W_x x): the same sum in another order (rounding differs, math does not)."""
    h, hs = h0, []
    for x in xs:
        h = np.tanh((p["b"] + h @ p["W_h"].T) + x @ p["W_x"].T)
        hs.append(h)
    return np.stack(hs), h.copy()


def _lstm_classic_sigmoid(xs, h0, c0, p):
    return _lstm_forward(act_i=_sigmoid_classic)(xs, h0, c0, p)


EQUIVALENT = {
    "rnn_sum_reordered": (code_mutant("RNN pre-activation summed in another order", rnn=_rnn_sum_order),
                          "Addition is commutative and associative in exact arithmetic; in floating point the "
                          "reordering changes the rounding only, within gamma_{m+n+1} of the error model, which "
                          "holds for any summation order."),
    "lstm_sigmoid_as_exp": (code_mutant("LSTM gate i through 1 / (1 + exp(-a)) instead of tanh", lstm=_lstm_classic_sigmoid),
                            "sigmoid(a) = 1 / (1 + exp(-a)) = (1 + tanh(a / 2)) / 2 exactly (derivation "
                            "act.tanh_via_sigmoid, tanh(a) = 2 sigmoid(2a) - 1); both evaluations are accurate to a "
                            "few ulps, inside the model's 4 ulps per activation."),
    "gru_identity_param_map": (param_mutant("gru", Transform(lambda p: p, lambda g: g), "GRU with an identity parameter map"),
                                 "The identity map: the model and its gradients are the reference's; a control that the "
                                 "meta-suite's machinery itself accuses no correct target."),
    "dropout_other_rng_stream": (code_mutant("dropout masks from another RNG stream", dropout=FF.dropout_other_stream,
                                             dropout_vjp=FF.dropout_vjp_other_stream),
                                 "Another seed-to-mask map is still i.i.d. Bernoulli(q) masks with the same seed giving "
                                 "the same mask in forward and backward: a correct dropout. The statistical properties "
                                 "must not accuse it (their false-alarm probability is at most 1e-10 per check)."),
}
