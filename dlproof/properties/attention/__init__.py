"""Properties of softmax, scaled dot-product attention and multi-head attention, each from attn.* derivations.

Expected values come from the float64 oracle (derivations/oracle_attention.py: the softmax as 1/sum exp(x_j - x_i),
the VJP through the explicit Jacobian, the causal mask as a softmax over the allowed prefix, MHA as a sum over
heads), tolerances from the error model of properties/attention/tolerances.py. On a mismatch the failure message
names the known bug it matches where one does (a scale of 1/d or 1, a causal mask off by one or aligned
bottom-right (flash-attn >= 2.1) when Tk > Tq, a mask applied after the softmax, the W_q / W_k blocks of in_proj swapped, a dq without 1/sqrt(d), a softmax VJP with diag(s)
only, exp without the max shift).

attn.scale.variance is statistical, with a false-alarm probability ALPHA = 1e-10 per check (the union bound of
properties/concentration.py's union bound applies: one check per example, 10 examples per run, 1000 in the
"thorough" profile, so at most 1e-7 per target and run):
q has Rademacher entries (|q|^2 = d exactly) and k_1, k_2 are standard normal, so Z = q.(k_1 - k_2)/sqrt(d) is
exactly N(0, 2) given q, and X = sum_n Z_n^2 / 2 ~ chi-square(N). Laurent & Massart (2000, Lemma 1):
P(X - N >= 2 sqrt(N x) + 2 x) <= e^-x and P(N - X >= 2 sqrt(N x)) <= e^-x; x = ln(2/ALPHA) gives ALPHA in all.
The target's scaled logit difference is read off its output: with Tk = 2 and v = I_2, y = (P_1, P_2), and
Z = log P_1 - log P_2 (relative errors of P only, no saturation until P underflows). A target scaled by c reads
X ~ c^2 d chi-square(N): 1/d at d >= 2 or no scaling leaves the interval with overwhelming probability.

Precisions: every property runs at float16, bfloat16, float32 and float64 (the model at the declared arithmetic,
attention/tolerances.py; the 16-bit shifts exact by construction, attention/strategies.py) except
attn.scale.variance (float32/float64: k rounded to 16 bits is no longer exactly normal).

Declared restrictions (properties/restrictions.py) narrow the draws: attention_causal=False draws no causal
mask (attn.causal is then "not provided"), attention_value_dim draws dv = d (v = [I_2 | 0] above).
"""
from __future__ import annotations

import math

import numpy as np

from dlproof.derivations import oracle_attention as oracle
from dlproof.dtypes import DTYPES

from .. import diagnose, restrictions
from .. import tolerances as tol
from ..assertions import PropertyFailure, call
from ..tolerances import mixed_gamma
from ..registry import prop
from ..strategies import Problem
from . import tolerances as ta
from .strategies import (attention_problems, mha_params, mha_problems, softmax_problems,
                                   variance_problems)

ALPHA = 1e-10
#: examples of attn.scale.variance per run (one example decides; each is one statistical check)
VARIANCE_EXAMPLES = 10
LOG_TERM = math.log(2.0 / ALPHA)


def _prec(target) -> tol.Arithmetic:
    return tol.precision(target)


def _sub(target) -> str:
    return tol.underflow(target, softmax=True)


def _within(a, e, t) -> bool:
    """|a - e| <= t entry-wise, as the checks compare (diagnose.within)."""
    return diagnose.within(a, e, t)


# ---------------------------------------------------------------- softmax

def _sm_strategy(target):
    return softmax_problems(dtype=target.dtype)


def _softmax(target, chk, x, what="softmax(x)"):
    s = call(target, "softmax", x)
    if isinstance(s, np.ndarray) and s.shape == x.shape and not np.all(np.isfinite(s)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(s))[0])
        big = float(np.max(np.abs(x)))
        chk.fail(what, f"non-finite value {s[bad]} at index {bad} (max |x| = {big:g}), but should be finite: "
                       "exp(x) without the max shift overflows beyond ~88.7 (float32) / ~709 (float64); compute "
                       "exp(x - max x) (attn.softmax.stable)")
    return chk.array(what, s, x.shape)


LSE_BUG = ("softmax formed as exp(x - logsumexp(x)) with logsumexp = max + log sum exp(x - max) rounded: form "
           "(x - max) - log sum exp(x - max) instead")


def _softmax_via_lse(x) -> np.ndarray:
    """exp(x - lse) with lse = max + log sum exp(x - max) rounded in x's dtype: the log-sum-exp idiom whose
    rounding of max + log(...) costs a relative error of about u |max| in every entry (a known bug pattern)."""
    with np.errstate(all="ignore"):
        m = np.max(x, axis=-1, keepdims=True)
        lse = m + np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))
        return np.exp(x - lse).astype(np.float64)


def _vjp_through_lse_fits(dx, x, ds, t) -> bool:
    """Whether dx is s (ds - (s . ds)) with s formed by the log-sum-exp idiom (`_softmax_via_lse`), within t."""
    s, g = _softmax_via_lse(x), np.asarray(ds, np.float64)
    return diagnose.within(dx, s * (g - np.sum(g * s, axis=-1, keepdims=True)), t)


@prop("attn.softmax.forward", title="softmax over the last axis, also at |x| ~ 1e3 (max-shifted), rows sum to 1",
      capabilities=("softmax",), derivations=("attn.softmax.definition", "attn.softmax.stable"), strategy=_sm_strategy, precisions=DTYPES)
def softmax_forward(target, problem, chk):
    x = problem["x"]
    s = _softmax(target, chk, x)
    t = ta.softmax_tol(x, _prec(target), subnormals=_sub(target))
    expected = oracle.softmax(x)
    if not diagnose.within(np.asarray(s, np.float64), expected, t) and \
            diagnose.within(np.asarray(s, np.float64), _softmax_via_lse(x), t):
        chk.fail("softmax(x)", f"matches exp(x - (max + log sum exp(x - max))) (max |x| = {float(np.max(np.abs(x))):g}), "
                               "but should be exp(x - max) / sum exp(x - max) within the error model: adding max to "
                               "the log-sum-exp rounds by about u |max|, so every entry is off by that relative amount "
                               "and the rows no longer sum to 1",
                 part="forward", likely_bug=LSE_BUG)
    chk.close(f"softmax(x) (max |x| = {float(np.max(np.abs(x))):g})", s, expected, t)
    rows = np.asarray(s, np.float64).sum(axis=-1, keepdims=True)
    chk.close("sum over the last axis of softmax(x)", rows.astype(target.dtype), np.ones_like(rows),
              t.sum(axis=-1, keepdims=True) + tol.gamma(x.shape[-1] + 1, tol.UNIT_ROUNDOFF["float64"]))


@prop("attn.softmax.shift_invariance", title="softmax(x + c) = softmax(x) for exact per-row shifts c up to 3e4",
      capabilities=("softmax",), derivations=("attn.softmax.shift_invariance", "attn.softmax.stable"),
      strategy=_sm_strategy, precisions=DTYPES)
def softmax_shift(target, problem, chk):
    x, c = problem["x"], problem["c"]
    xc = (np.asarray(x, np.float64) + c).astype(x.dtype)  # exact: both on a grid g, |x + c| <= 2^p g (strategies.py)
    if not np.array_equal(np.asarray(xc, np.float64), np.asarray(x, np.float64) + np.asarray(c, np.float64)):
        raise ValueError(f"attn.softmax.shift_invariance: x + c is not exact in {x.dtype} (a strategy bug)")
    s = _softmax(target, chk, x)
    sc = _softmax(target, chk, xc, "softmax(x + c)")
    prec = _prec(target)
    sub = _sub(target)
    t, tc = ta.softmax_tol(x, prec, subnormals=sub), ta.softmax_tol(xc, prec, subnormals=sub)
    try:
        chk.close(f"softmax(x + c) vs softmax(x) (|c| up to {float(np.max(np.abs(c))):g})", sc,
                  np.asarray(s, np.float64), t + tc)
    except PropertyFailure as exc:
        via_lse = diagnose.guess(lambda: diagnose.within(np.asarray(s, np.float64), _softmax_via_lse(x), t)
                                 and diagnose.within(np.asarray(sc, np.float64), _softmax_via_lse(xc), tc))
        diagnose.annotate(exc, part="forward", likely_bug=LSE_BUG if via_lse else None)
        raise


@prop("attn.softmax.vjp", title="softmax VJP: (diag(s) - s s^T) ds per row", capabilities=("softmax_vjp",),
      derivations=("attn.softmax.jacobian", "attn.softmax.jacobian.symmetric", "attn.softmax.jacobian.rows_sum_zero"),
      strategy=_sm_strategy, precisions=DTYPES)
def softmax_vjp(target, problem, chk):
    x, ds = problem["x"], problem["ds"]
    dx = call(target, "softmax_vjp", x, ds)
    dx = chk.array("softmax_vjp(x, ds)", dx, x.shape)
    expected = oracle.softmax_vjp(x, ds)
    t = ta.softmax_vjp_tol(x, ds, _prec(target), subnormals=_sub(target))
    if not _within(dx, expected, t):
        s = oracle.softmax(x)
        t_diag = t + ta.softmax_tol(x, _prec(target), subnormals=_sub(target)) * np.abs(ds)
        if _within(dx, s * np.asarray(ds, np.float64), t_diag):
            chk.fail("softmax_vjp(x, ds)", "equals diag(s) ds, but should be (diag(s) - s s^T) ds = s (ds - (s . ds)): "
                                           "the - s s^T term of the Jacobian is missing (attn.softmax.jacobian)")
    try:
        chk.close("softmax_vjp(x, ds)", dx, expected, t)
    except PropertyFailure as exc:
        via_lse = diagnose.guess(_vjp_through_lse_fits, dx, x, ds, t)
        diagnose.annotate(exc, part="backward", likely_bug=f"the s inside the VJP: {LSE_BUG}" if via_lse else None)
        raise


# ---------------------------------------------------------------- attention

def _restrict(target):
    return target.convention("restrictions")


def _attn_strategy(target):
    return attention_problems(dtype=target.dtype, restrict=_restrict(target))


def _variant(q, k, v, scale=None, allowed=None, post=False):
    """A known-wrong attention in float64 (for the failure hints): another scale, another mask, or the mask
    applied after the softmax (masked weights zeroed, the rest not renormalized)."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    d = q.shape[-1]
    S = q @ np.swapaxes(k, -1, -2) * (1 / math.sqrt(d) if scale is None else scale)
    if allowed is not None and not post:
        S = np.where(allowed, S, -np.inf)
    with np.errstate(invalid="ignore"):
        m = S.max(axis=-1, keepdims=True)
        e = np.exp(S - m)
        Pm = e / e.sum(axis=-1, keepdims=True)
    if allowed is not None and post:
        Pm = Pm * allowed
    return Pm @ v


def _attention_hint(y, problem, causal, t) -> str:
    q, k, v = problem["q"], problem["k"], problem["v"]
    d, Tq, Tk = q.shape[-1], q.shape[-2], k.shape[-2]
    i, j = np.arange(Tq)[:, None], np.arange(Tk)[None, :]
    allowed = (j <= i) if causal else None
    cands = []
    if d > 1:
        cands += [("scales the logits by 1/d, but should scale by 1/sqrt(d)", dict(scale=1.0 / d)),
                  ("does not scale the logits, but should scale them by 1/sqrt(d)", dict(scale=1.0))]
    if causal and Tk > Tq:
        off = Tk - Tq
        cands += [(f"masks j > i + {off} = i + (Tk - Tq): the causal mask is aligned bottom-right (flash-attn >= 2.1, "
                   "torch's causal_lower_right)" + (", or off by one" if off == 1 else "") + ", but should mask exactly "
                   "j > i (top-left, torch's is_causal)", dict(allowed=j <= i + off))]
    if causal:
        cands += [("masks j > i + 1 (the causal mask is off by one), but should mask exactly j > i (top-left, "
                   "torch's is_causal)", dict(allowed=j <= i + 1)),
                  ("masks j >= i (the diagonal too), but should mask exactly j > i", dict(allowed=j < i)),
                  ("applies the mask after the softmax (zeroes the weights j > i without renormalizing), but should "
                   "add -inf to the logits before it", dict(allowed=allowed, post=True))]
    for what, kw in cands:
        alt = _variant(q, k, v, **kw)
        if np.all(np.isfinite(alt)) and _within(y, alt, t):
            return what
    return ""


FLOAT32_INSIDE = ("computes in float32 inside (the result is within the float32 error model, not the float64 one), "
                  "but should compute in float64; jax.nn.dot_product_attention does this: its softmax always runs "
                  "in float32")


def _float32_inside(target, got: dict, problem, causal, dy=None) -> bool:
    """Whether a float64 target's outputs ``got`` ({"y"} or {"q", "k", "v"}) are all within the float32 error model
    of the same attention: the computation ran in float32 somewhere inside."""
    if target.dtype != "float64":
        return False
    q, k, v = problem["q"], problem["k"], problem["v"]
    t32 = ta.attention_tol(q, k, v, causal, "float32", subnormals=_sub(target), dy=dy)
    want = ({"y": oracle.attention(q, k, v, causal)} if dy is None else oracle.attention_vjp(q, k, v, causal, dy))
    return all(_within(np.asarray(g, np.float64), want[n], t32[n]) for n, g in got.items())


def _attention(target, chk, problem, causal, q=None, k=None, v=None, what="attention(q, k, v, causal)"):
    q = problem["q"] if q is None else q
    k = problem["k"] if k is None else k
    v = problem["v"] if v is None else v
    y = call(target, "attention", q, k, v, causal)
    shape = q.shape[:2] + v.shape[2:]
    if isinstance(y, np.ndarray) and y.shape == shape and not np.all(np.isfinite(y)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(y))[0])
        hint = (": a row with every logit masked gives 0/0; the causal mask should keep j <= i, so row 0 always keeps "
                "j = 0 (masking j >= i masks row 0 entirely)" if causal else "")
        chk.fail(f"{what} (causal={causal})", f"non-finite value {y[bad]} at index {bad}, but should be finite{hint}")
    return chk.array(f"{what} (causal={causal})", y, shape)


@prop("attn.forward", title="y = softmax(q k^T / sqrt(d) + M) v, with and without the causal mask",
      capabilities=("attention",), derivations=("attn.sdpa.forward", "attn.causal.mask", "attn.softmax.stable"),
      strategy=_attn_strategy, precisions=DTYPES)
def attention_forward(target, problem, chk):
    causal = problem["causal"]
    y = _attention(target, chk, problem, causal)
    expected = oracle.attention(problem["q"], problem["k"], problem["v"], causal)
    t = ta.attention_tol(problem["q"], problem["k"], problem["v"], causal, _prec(target), subnormals=_sub(target))["y"]
    quantity = f"y (causal={causal}, d={problem['q'].shape[-1]})"
    try:
        chk.close(quantity, y, expected, t)
    except PropertyFailure as exc:
        wide = diagnose.guess(_float32_inside, target, {"y": y}, problem, causal)
        diagnose.annotate(exc, part="forward", likely_bug=FLOAT32_INSIDE if wide else
                          (diagnose.guess(_attention_hint, y, problem, causal, t) or None))
        raise


@prop("attn.vjp", title="attention gradients: dV = P^T dY, dQ = dS K / sqrt(d), dK = dS^T Q / sqrt(d)",
      capabilities=("attention_vjp",), derivations=("attn.sdpa.grad_q", "attn.sdpa.grad_k", "attn.sdpa.grad_v",
                                                    "attn.softmax.jacobian", "attn.causal.mask"),
      strategy=_attn_strategy, precisions=DTYPES)
def attention_vjp(target, problem, chk):
    q, k, v, dy, causal = problem["q"], problem["k"], problem["v"], problem["dy"], problem["causal"]
    out = call(target, "attention_vjp", q, k, v, causal, dy)
    chk.holds("attention_vjp(q, k, v, causal, dy)", isinstance(out, dict) and {"q", "k", "v"} <= set(out),
              f"returned {type(out).__name__}{sorted(out) if isinstance(out, dict) else ''}, but should be a dict "
              "with keys 'q', 'k', 'v'")
    exp = oracle.attention_vjp(q, k, v, causal, dy)
    t = ta.attention_tol(q, k, v, causal, _prec(target), subnormals=_sub(target), dy=dy)
    d = q.shape[-1]
    grads = {n: chk.array(f"d{n}", out[n], ref.shape) for n, ref in (("v", v), ("k", k), ("q", q))}
    for n, g in grads.items():
        r = math.sqrt(d)
        if n == "q" and d > 1 and not _within(g, exp["q"], t["q"]) and _within(g, exp["q"] * r, t["q"] * r):
            chk.fail(f"dq (d={d})", "equals sqrt(d) times the derived dq, but should be dS K / sqrt(d): the 1/sqrt(d) "
                                    "of the logits is missing from dq (attn.sdpa.grad_q)")
        try:
            chk.close(f"d{n} (causal={causal})", g, exp[n], t[n])
        except PropertyFailure as exc:
            diagnose.annotate(exc, part="backward", likely_bug=FLOAT32_INSIDE
                              if diagnose.guess(_float32_inside, target, grads, problem, causal, dy=dy) else None)
            raise


def _shown_causal(problem):
    """The drawn problem with causal=True in its scalars: attn.causal always masks, so its examples say so (the
    draws are those of attn.forward; only what the example shows changes)."""
    return Problem(problem.arrays, {**problem.scalars, "causal": True})


@prop("attn.causal", title="causal: y_i does not change with keys/values j > i, and equals attention over the prefix",
      capabilities=("attention",), derivations=("attn.causal.mask",),
      strategy=lambda target: _attn_strategy(target).map(_shown_causal),
      applies=restrictions.causal_supported, precisions=DTYPES)
def attention_causal(target, problem, chk):
    q, k, v = problem["q"], problem["k"], problem["v"]
    Tq, Tk = q.shape[1], k.shape[1]
    prec = _prec(target)
    sub = _sub(target)
    y = np.asarray(_attention(target, chk, problem, True), np.float64)
    t = ta.attention_tol(q, k, v, True, prec, subnormals=sub)["y"]
    for i0 in range(min(Tq, Tk - 1)):
        k2, v2 = k.copy(), v.copy()
        k2[:, i0 + 1:], v2[:, i0 + 1:] = problem["k2"][:, i0 + 1:], problem["v2"][:, i0 + 1:]
        y2 = np.asarray(_attention(target, chk, problem, True, k=k2, v=v2, what="attention(q, k', v', causal)"), np.float64)
        t2 = ta.attention_tol(q, k2, v2, True, prec, subnormals=sub)["y"]
        gap = np.abs(y2[:, :i0 + 1] - y[:, :i0 + 1])
        ok = gap <= t[:, :i0 + 1] + t2[:, :i0 + 1]
        if not np.all(ok):
            b, i, c = (int(z) for z in np.argwhere(~ok)[0])
            try:
                chk.fail(f"y[{b}, {i}, {c}] (causal=True)",
                         f"changed by {gap[b, i, c]:.3g} when only the keys/values j > {i0} changed, but should not "
                         f"change (within {t[b, i, c] + t2[b, i, c]:.3g}): y_i may depend only on k_j, v_j with j <= i")
            except PropertyFailure as exc:
                diagnose.annotate(exc, part="forward",
                                  likely_bug=diagnose.guess(_attention_hint, y, problem, True, t) or None)
                raise
        chk.worst = max(chk.worst, float(np.max(gap / np.maximum(t[:, :i0 + 1] + t2[:, :i0 + 1], 1e-300), initial=0.0)))
    for i in range(Tq):
        n = min(i + 1, Tk)
        yi = _attention(target, chk, problem, False, q=q[:, i:i + 1], k=k[:, :n], v=v[:, :n],
                        what=f"attention(q[:, {i}:{i + 1}], k[:, :{n}], v[:, :{n}], causal=False)")
        ti = ta.attention_tol(q[:, i:i + 1], k[:, :n], v[:, :n], False, prec, subnormals=sub)["y"]
        chk.close(f"causal y[:, {i}] vs non-causal attention over the prefix j < {n}",
                  y[:, i:i + 1].astype(target.dtype), np.asarray(yi, np.float64), t[:, i:i + 1] + ti)


# float32/float64 only: the statistics need k exactly standard normal, and k rounded to a 16-bit format is not: its
# variance may move by up to 2u relative, X by 2 u N (16 at bfloat16, N = 2000), which the slack does not cover.
@prop("attn.scale.variance",
      title="the scaled logit difference q.(k_1 - k_2)/sqrt(d) has variance 2 (chi-square bound, false alarm 1e-10)",
      capabilities=("attention",), derivations=("attn.scale.variance", "attn.sdpa.forward"),
      strategy=lambda target: variance_problems(dtype=target.dtype, restrict=_restrict(target)),
      max_examples=VARIANCE_EXAMPLES)
def scale_variance(target, problem, chk):
    q, k, v, d = problem["q"], problem["k"], problem["v"], problem["d"]
    N = q.shape[0]
    dv = v.shape[-1]  # 2, or d under attention_value_dim: v = [I_2 | 0], the first two columns are the weights
    y = chk.array("attention(q, k, v = I_2, causal=False)", call(target, "attention", q, k, v, False), (N, 1, dv))
    y = np.asarray(y, np.float64)[:, 0, :2]
    if np.any(y <= 0):
        n = int(np.argmax(np.any(y <= 0, axis=1)))
        chk.fail(f"attention weights y[{n}]", f"= {y[n]}, but should be > 0 (a softmax; the logits here are O(1))")
    Z = np.log(y[:, 0]) - np.log(y[:, 1])
    # rounding: y_j = P_j exactly times (1 + rho_j) (v = I: the product P v is exact); |log(1 + rho)| <= |rho|/(1-|rho|)
    qf, kf = np.asarray(q, np.float64), np.asarray(k, np.float64)
    prec = _prec(target)
    u, u_acc = tol.u_total(prec), tol.u_acc_total(prec)
    S = (qf @ np.swapaxes(kf, 1, 2))[:, 0, :] / math.sqrt(d)
    e_S = (mixed_gamma(d, 6, u, u_acc) * (np.abs(qf) @ np.swapaxes(np.abs(kf), 1, 2))[:, 0, :]) / math.sqrt(d)
    s, e_s = ta.softmax_model(S, e_S, u, eta=sum(tol.underflow_terms(prec, _sub(target))), u_acc=u_acc,
                              act=tol.activation_ulps(prec))
    rho = np.minimum(tol.SAFETY * e_s / s, 0.5)
    e_Z = (rho / (1 - rho)).sum(axis=1) + 8 * tol.UNIT_ROUNDOFF["float64"] * (np.abs(np.log(y)).sum(axis=1))
    X = float(np.sum(Z * Z)) / 2
    slack = float(np.sum(e_Z * (2 * np.abs(Z) + e_Z))) / 2 + tol.gamma(N + 2, tol.UNIT_ROUNDOFF["float64"]) * X
    lo = N - 2 * math.sqrt(N * LOG_TERM) - slack
    hi = N + 2 * math.sqrt(N * LOG_TERM) + 2 * LOG_TERM + slack
    mid = (hi - lo) / 2
    chk.worst = max(chk.worst, abs(X - N) / mid)
    if not lo <= X <= hi:
        c_hat = math.sqrt(2 * X / N / (2 * d))
        names = [name for name, c in (("1/d", 1 / d), ("1 (no scaling)", 1.0)) if abs(c_hat - c) <= 0.15 * c]
        chk.fail(f"sum_n Z_n^2 / 2, Z = log y_1 - log y_2 (d = {d}, N = {N})",
                 f"= {X:.6g}, but should be chi-square({N}): in [{lo:.6g}, {hi:.6g}] (Laurent-Massart, false alarm <= "
                 f"{ALPHA:g}); the logits look scaled by c = {c_hat:.4g}" + (f" = {names[0]}" if names else "")
                 + f", but should be 1/sqrt(d) = {1 / math.sqrt(d):.4g} (Var(q.k/sqrt(d)) = 1, attn.scale.variance)")


# ---------------------------------------------------------------- multi-head attention

def _mha_strategy(target):
    return mha_problems(dtype=target.dtype, restrict=_restrict(target))


def _mha_args(problem):
    return (problem["query"], problem["key"], problem["value"], mha_params(problem), problem["num_heads"], problem["causal"])


def _mha_variants(problem):
    """(what, y) of known layout bugs, in float64 through the oracle."""
    query, key, value, p, H, causal = _mha_args(problem)
    E = query.shape[-1]
    out = []
    sw = dict(p, W_q=p["W_k"], W_k=p["W_q"], b_q=p["b_k"], b_k=p["b_q"])
    out.append(("matches the W_q and W_k blocks of in_proj swapped (in_proj = [W_k; W_q; W_v]), but should use "
                "in_proj_weight = [W_q; W_k; W_v] (torch.nn.MultiheadAttention's layout): an in_proj layout bug",
                oracle.mha(query, key, value, sw, H, causal)))
    sv = dict(p, W_q=p["W_v"], W_v=p["W_q"], b_q=p["b_v"], b_v=p["b_q"])
    out.append(("matches the W_q and W_v blocks of in_proj swapped, but should use in_proj_weight = [W_q; W_k; W_v]: "
                "an in_proj layout bug", oracle.mha(query, key, value, sv, H, causal)))
    if H > 1:
        perm = np.arange(E).reshape(E // H, H).T.ravel()  # head h takes rows h, h + H, ... (interleaved)
        inter = {n: (a[perm] if n in ("W_q", "W_k", "W_v", "b_q", "b_k", "b_v") else a) for n, a in p.items()}
        inter["W_o"] = p["W_o"][:, perm]
        out.append(("matches heads taking interleaved rows h, h + H, ... of W_q, W_k, W_v, but should take the "
                    "contiguous block [h E/H, (h+1) E/H)", oracle.mha(query, key, value, inter, H, causal)))
    return out


def _mha(target, chk, problem):
    y = call(target, "mha", *_mha_args(problem))
    return chk.array("mha(query, key, value, params, num_heads, causal)", y, problem["query"].shape)


def _mha_check(target, chk, problem, y, expected, label):
    t = ta.mha_tol(*_mha_args(problem), _prec(target), subnormals=_sub(target))["y"]
    if not _within(y, expected, t):
        for what, alt in _mha_variants(problem):
            if _within(y, alt, t):
                chk.fail(label, what)
    chk.close(label, y, expected, t)


@prop("attn.mha.forward", title="multi-head attention: concat_h(head_h) W_o^T + b_o, head h on rows [h E/H, (h+1) E/H)",
      capabilities=("mha",), derivations=("attn.mha.concat", "attn.sdpa.forward", "attn.causal.mask"),
      strategy=_mha_strategy, precisions=DTYPES)
def mha_forward(target, problem, chk):
    y = _mha(target, chk, problem)
    _mha_check(target, chk, problem, y, oracle.mha(*_mha_args(problem)),
               f"y (E={problem['query'].shape[-1]}, H={problem['num_heads']}, causal={problem['causal']})")


@prop("attn.mha.heads", title="MHA equals the concatenation of single-head attention of the projections, times W_o",
      capabilities=("mha",), derivations=("attn.mha.concat",), strategy=_mha_strategy, precisions=DTYPES)
def mha_heads(target, problem, chk):
    query, key, value, p, H, causal = _mha_args(problem)
    y = _mha(target, chk, problem)
    concat = np.concatenate(oracle.heads(query, key, value, p, H, causal), axis=-1)
    expected = concat @ np.asarray(p["W_o"], np.float64).T + np.asarray(p["b_o"], np.float64)
    _mha_check(target, chk, problem, y, expected, f"y vs concat_h(attention(Q_h, K_h, V_h)) W_o^T + b_o (H={H})")


@prop("attn.mha.vjp", title="MHA gradients w.r.t. query, key, value and W_q, W_k, W_v, W_o, b_q, b_k, b_v, b_o",
      capabilities=("mha_vjp",), derivations=("attn.mha.concat", "attn.sdpa.grad_q", "attn.sdpa.grad_k",
                                              "attn.sdpa.grad_v"), strategy=_mha_strategy, precisions=DTYPES)
def mha_vjp(target, problem, chk):
    args = _mha_args(problem)
    out = call(target, "mha_vjp", *args, problem["dy"])
    chk.holds("mha_vjp(...)", isinstance(out, dict) and {"query", "key", "value", "params"} <= set(out)
              and isinstance(out.get("params"), dict) and set(mha_params(problem)) <= set(out["params"]),
              f"returned {type(out).__name__}{sorted(out) if isinstance(out, dict) else ''}, but should be a dict with "
              "keys 'query', 'key', 'value', 'params' (a dict W_q, W_k, W_v, W_o, b_q, b_k, b_v, b_o)")
    exp = oracle.mha_vjp(*args, problem["dy"])
    t = ta.mha_tol(*args, _prec(target), subnormals=_sub(target), dy=problem["dy"])
    for n in ("query", "key", "value"):
        chk.close(f"d{n} (H={problem['num_heads']}, causal={problem['causal']})", chk.array(f"d{n}", out[n], problem[n].shape),
                  exp[n], t[n])
    for n, ref in mha_params(problem).items():
        chk.close(f"d{n}", chk.array(f"d{n}", out["params"][n], ref.shape), exp["params"][n], t["params"][n])
