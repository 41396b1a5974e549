"""Broken softmax and attention (softmax(q k^T / sqrt(d) + causal mask) v, the mask hiding j > i; multi-head with
in_proj blocks in the order q, k, v), each the NumPy reference (dlproof.impl.numpy_ref.attention) with one bug;
the bug functions are shared with tests/attention/."""
from __future__ import annotations

import numpy as np

from dlproof.impl.numpy_ref import attention as NA

from mutants.base import Mutant, code_mutant

# ---- softmax ------------------------------------------------------------------------------------------


def softmax_no_shift(x):
    """exp(x) / sum exp(x) without the max shift: overflows to inf/NaN for x beyond ~88.7 (float32) / ~709."""
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(x)
        return (e / e.sum(axis=-1, keepdims=True)).astype(x.dtype)


def softmax_vjp_diag_only(x, ds):
    """diag(s) ds: the - s s^T ds term of the Jacobian dropped."""
    return (NA.softmax(x) * ds).astype(x.dtype)


# ---- attention ----------------------------------------------------------------------------------------

def _attend(q, k, v, causal, scale=None, mask="top_left", post=False):
    dt = np.result_type(q, k, v)
    d, Tq, Tk = q.shape[-1], q.shape[-2], k.shape[-2]
    c = dt.type(1 / np.sqrt(d) if scale is None else scale(d))
    S = (q @ np.swapaxes(k, -1, -2)) * c
    i, j = np.arange(Tq)[:, None], np.arange(Tk)[None, :]
    masked = {"top_left": j > i, "diag": j >= i, "plus_one": j > i + 1, "bottom_right": j > i + Tk - Tq}[mask]
    with np.errstate(invalid="ignore"):
        if causal and not post:
            S = np.where(masked, dt.type(-np.inf), S)
        m = S.max(axis=-1, keepdims=True)
        e = np.exp(S - m)
        P = e / e.sum(axis=-1, keepdims=True)
    if causal and post:
        P = np.where(masked, dt.type(0), P)  # zeroed after the softmax, not renormalized
    return (P @ v).astype(dt)


def attention_bug(kind: str):
    """attention with one bug: "scale_1_over_d", "no_scale", "mask_diag" (j >= i masked), "mask_plus_one"
    (only j > i + 1 masked), "mask_bottom_right" (j > i + Tk - Tq masked: flash-attn >= 2.1), "mask_after_softmax"."""
    kw = {"scale_1_over_d": dict(scale=lambda d: 1.0 / d), "no_scale": dict(scale=lambda d: 1.0),
          "mask_diag": dict(mask="diag"), "mask_plus_one": dict(mask="plus_one"),
          "mask_bottom_right": dict(mask="bottom_right"),
          "mask_after_softmax": dict(post=True)}[kind]

    def attention(q, k, v, causal):
        return _attend(q, k, v, causal, **kw)
    return attention


def attention_vjp_dq_unscaled(q, k, v, causal, dy):
    """dq = dS K without the 1/sqrt(d) (dk and dv correct)."""
    out = NA.attention_vjp(q, k, v, causal, dy)
    return dict(out, q=(out["q"] * np.sqrt(q.shape[-1])).astype(out["q"].dtype))


# ---- multi-head attention -----------------------------------------------------------------------------

def _kqv(params):
    """in_proj = [W_k; W_q; W_v]: the module's query rows hold W_k and its key rows W_q (biases likewise)."""
    return dict(params, W_q=params["W_k"], W_k=params["W_q"], b_q=params["b_k"], b_k=params["b_q"])


def mha_in_proj_kqv(query, key, value, params, num_heads, causal):
    return NA.mha(query, key, value, _kqv(params), num_heads, causal)


def mha_vjp_in_proj_kqv(query, key, value, params, num_heads, causal, dy):
    out = NA.mha_vjp(query, key, value, _kqv(params), num_heads, causal, dy)
    g = out["params"]
    return dict(out, params=dict(g, W_q=g["W_k"], W_k=g["W_q"], b_q=g["b_k"], b_k=g["b_q"]))


MUTANTS: dict[str, Mutant] = {
    "softmax_without_max_shift": code_mutant("softmax without the max shift", softmax=softmax_no_shift),
    "softmax_vjp_diag_only": code_mutant("softmax backward with diag(s) only", softmax_vjp=softmax_vjp_diag_only),
    "attention_scaled_by_1_over_d": code_mutant("attention scaled by 1/d", attention=attention_bug("scale_1_over_d")),
    "attention_unscaled": code_mutant("attention without the 1/sqrt(d)", attention=attention_bug("no_scale")),
    "attention_mask_covers_diagonal": code_mutant("causal mask also hides j = i", attention=attention_bug("mask_diag")),
    "attention_mask_one_late": code_mutant("causal mask lets j = i + 1 through", attention=attention_bug("mask_plus_one")),
    "attention_mask_after_softmax": code_mutant("causal mask applied after the softmax (no renormalization)",
                                                attention=attention_bug("mask_after_softmax")),
    "attention_dq_unscaled": code_mutant("attention dq without the 1/sqrt(d)", attention_vjp=attention_vjp_dq_unscaled),
    "mha_in_proj_kqv": code_mutant("multi-head attention with in_proj blocks in the order k, q, v",
                                   mha=mha_in_proj_kqv, mha_vjp=mha_vjp_in_proj_kqv),
}
