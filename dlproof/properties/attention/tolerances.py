"""The forward-error model of softmax, attention and multi-head attention: entry-wise tolerances per dtype.

Conventions of properties/tolerances.py: u = u_target + u_float64 (`u_total`, covering the target and the float64
oracle together), gamma_k = k u / (1 - k u), tolerance = SAFETY (2) times the bound; products, sums and matrix
products follow properties/errmodel.py (E: a value and its running error bound; Higham §3.1, §3.5).

Softmax of a row l with errors e_l (exact inputs: e_l = 0). With m = max l and t_i = m - l_i >= 0:
  - the exponent: fl(l_i - m) has error <= u t_i; an exp evaluated as exp2(t log2 e) (torch's vectorized exp) adds
    another u t_i; exp itself is within ACT_ULPS (4) ulps: each computed e_i = exp(-t_i)(1 + eta_i) with
    |eta_i| <= expm1((2 t_i + ACT_ULPS) u + e_l,i + e_l,max) (an input error e moves exp by e^{e}; the row max
    by at most max e_l). An online (flash-style) rescaling exp(m_old - m_new) exp(l_i - m_old) has the same
    total exponent t_i, so it is covered.
  - the sum of n terms: gamma_n; the division (or a reciprocal and a product): 2u.
  - hence |s^_i - s_i| <= s_i (eta_i + sum_j s_j eta_j + gamma_{n+2}) (first order; SAFETY covers the rest):
    the relative errors of the numerator and of the denominator (whose relative error is the s-weighted mean of
    the eta_j). This also bounds the oracle's route s_i = 1/sum_j exp(l_j - l_i) (its terms have exponents
    |l_j - l_i| <= t_i + t_j). The softmax is Lipschitz in the max-norm: |J delta|_i <= s_i (|delta_i| +
    sum_j s_j |delta_j|) (attn.softmax.jacobian), which is the same shape: the logit errors enter eta.
  - masked entries (j > i under the causal mask) are exactly 0 in every route: error 0.
  - underflow (properties.tolerances.underflow_terms, at the target's declared ``subnormals``): an exp or a
    quotient below the normal range is off by at most eta absolutely, so (2 + n s_i) eta is added; the E
    arithmetic adds eta per product (k eta per dot product of length k) after the softmax.
Logits S = Q K^T c, c = 1/sqrt(d): e_S = c (gamma_{d+6} |Q||K|^T + |Q| e_K^T + e_Q |K|^T + e_Q e_K^T): the dot
  product, the rounded c and the product, or torch's sqrt(c) applied to q and to k (two more roundings each).
Attention: y = P V, dV = P^T dY, dP = dY V^T, r = rowsum(P dP), dS = P dP - P r, dQ = dS K c, dK = dS^T Q c,
  all in E arithmetic from E(P, e_P) (the form P dP - P r bounds P (dP - r) too: |dP| + |r| >= |dP - r|), plus
  gamma_6 of the magnitudes of dQ, dK for the scaling roundings.
Declared arithmetic (tolerances.precision: a `tolerances.Arithmetic`): the dot products (the logits' length d, P V,
  dY V^T, the gradients' sums) and the softmax's sum take gamma_k at the accumulation format's u; when it is wider
  than storage the result's rounding to storage is added (u |result|, so the logits take gamma_d(u_acc) + gamma_7(u)
  and the softmax's denominator gamma_n(u_acc) + gamma_3(u): one rounding to storage and the division). exp is
  within the declared activation_ulps (ACT_ULPS = 4 unless declared) instead of ACT_ULPS. At accumulate = storage
  and the default activation_ulps every bound is bit for bit the single-u bound above.
MHA: the projections X W^T + b as E matrix products, split into heads (the errors follow the values), the
  attention model per head with those input errors, the concatenation times W_o^T plus b_o; the VJP chains the
  same way (dW = dN^T X, db = sum dN, dX = dN W).
"""
from __future__ import annotations

import math

import numpy as np

from .. import errmodel as em
from ..tolerances import mixed_gamma
from ..tolerances import ACT_ULPS, SAFETY, activation_ulps, exact_in, gamma, u_acc_total, u_total, underflow_terms


def _f64(*arrays):
    return [np.asarray(a, np.float64) for a in arrays]


def softmax_model(l, e_l, u, allowed=None, eta=0.0, u_acc=None, act=ACT_ULPS):
    """(s, e_s) of the row-wise softmax of l (..., n) with input errors e_l; ``allowed`` (bool, broadcast) masks;
    ``eta``: the absolute error of a result that underflows (exp, the division): (2 + n s_i) eta is added;
    ``u_acc``: the accumulation format's u for the denominator's sum (None: ``u``); ``act``: exp's declared
    activation_ulps."""
    l, e_l = _f64(l, e_l)
    if allowed is None:
        allowed = np.ones(l.shape, bool)
    allowed = np.broadcast_to(allowed, l.shape)
    lm = np.where(allowed, l, -np.inf)
    m = lm.max(axis=-1, keepdims=True)
    t = np.where(allowed, m - lm, 0.0)
    with np.errstate(under="ignore"):
        ex = np.where(allowed, np.exp(-t), 0.0)
    s = ex / ex.sum(axis=-1, keepdims=True)
    e_in = np.where(allowed, e_l, 0.0)
    eta_r = np.expm1((2 * t + act) * u + e_in + e_in.max(axis=-1, keepdims=True))
    n = l.shape[-1]
    g = mixed_gamma(n, 2, u, u if u_acc is None else u_acc)  # the sum of n terms, then the division
    e_s = s * (eta_r + (s * eta_r).sum(axis=-1, keepdims=True) + g) + (2 + n * s) * eta
    return s, np.where(allowed, e_s, 0.0)


def _under(dtype, subnormals):
    """(eta, eta_add) of properties.tolerances.underflow_terms: the absolute error of a product (and, flushing to
    zero, of a sum) whose result underflows."""
    return underflow_terms(dtype, subnormals)


def softmax_tol(x, dtype, subnormals="gradual") -> np.ndarray:
    """Entry-wise tolerance of softmax(x) in ``dtype`` (exact inputs)."""
    (x,) = _f64(x)
    eta, eta_add = _under(dtype, subnormals)
    return SAFETY * softmax_model(x, np.zeros_like(x), u_total(dtype), eta=eta + eta_add, u_acc=u_acc_total(dtype),
                                  act=activation_ulps(dtype))[1]


def softmax_vjp_tol(x, ds, dtype, subnormals="gradual") -> np.ndarray:
    """dx = s ds - s (s . ds), in E arithmetic from the softmax model."""
    u = u_total(dtype)
    x, ds = _f64(x, ds)
    eta, eta_add = _under(dtype, subnormals)
    G = exact_in(dtype, (eta, eta_add))(ds)
    s, e_s = softmax_model(x, np.zeros_like(x), u, eta=eta + eta_add, u_acc=G.u_acc, act=G.act)
    S = G._E(s, e_s)
    r = (S * G).total(-1)
    dx = S * G - S * r[..., None]
    return SAFETY * dx.e


def _allowed(Tq, Tk, causal):
    return (np.arange(Tk)[None, :] <= np.arange(Tq)[:, None]) if causal else np.ones((Tq, Tk), bool)


def attention_model(Q: em.E, K: em.E, V: em.E, causal: bool, dY: em.E | None = None) -> dict:
    """{"y"} (and {"q", "k", "v"} with dY) as E values for batched Q (..., Tq, d), K (..., Tk, d), V (..., Tk, dv)."""
    u = Q.u
    d, Tq, Tk = Q.v.shape[-1], Q.v.shape[-2], K.v.shape[-2]
    c = 1.0 / math.sqrt(d)
    aQ, aK = np.abs(Q.v), np.abs(K.v)
    Sv = (Q.v @ np.swapaxes(K.v, -1, -2)) * c
    e_S = c * (mixed_gamma(d, 6, u, Q.u_acc) * (aQ @ np.swapaxes(aK, -1, -2)) + aQ @ np.swapaxes(K.e, -1, -2)
               + Q.e @ np.swapaxes(aK, -1, -2) + Q.e @ np.swapaxes(K.e, -1, -2))
    A = _allowed(Tq, Tk, causal)
    s, e_s = softmax_model(Sv, e_S, u, A, eta=Q.eta + Q.eta_add, u_acc=Q.u_acc, act=Q.act)
    P = Q._E(s, e_s)
    out = {"y": P @ V}
    if dY is None:
        return out
    out["v"] = P.T @ dY
    dP = dY @ V.T
    r = (P * dP).total(-1)
    dS = P * dP - P * r[..., None]
    for n, G in (("q", dS @ K), ("k", dS.T @ Q)):
        out[n] = Q._E(G.v * c, G.e * c + gamma(6, u) * np.abs(G.v) * c + 3 * (Q.eta + Q.eta_add))
    return out


def attention_tol(q, k, v, causal, dtype, dy=None, subnormals="gradual") -> dict:
    """Entry-wise tolerances {"y"} (and {"q", "k", "v"} given dy) of attention in ``dtype`` (exact inputs)."""
    un = _under(dtype, subnormals)
    ex = exact_in(dtype, un)
    m = attention_model(ex(q), ex(k), ex(v), causal, None if dy is None else ex(dy))
    return {n: SAFETY * val.e for n, val in m.items()}


def _heads(X: em.E, H: int) -> em.E:
    B, T, E = X.v.shape

    def split(a):
        return a.reshape(B, T, H, E // H).transpose(0, 2, 1, 3)

    return X._E(split(X.v), split(X.e))


def _merge(X: em.E) -> em.E:
    B, H, T, dh = X.v.shape

    def merge(a):
        return a.transpose(0, 2, 1, 3).reshape(B, T, H * dh)

    return X._E(merge(X.v), merge(X.e))


def _sum_bt(X: em.E) -> em.E:
    """Sum over the batch and time axes (0, 1)."""
    B, T = X.v.shape[:2]
    k = B * T
    v = X.v.sum(axis=(0, 1))
    e = gamma(k, X.u_acc) * np.abs(X.v).sum(axis=(0, 1)) + X.e.sum(axis=(0, 1)) + k * X.eta_add
    return X._E(v, e if X._to_storage(v) is None else e + X._to_storage(v))


def _gram(G: em.E, X: em.E) -> em.E:
    """sum_{b, t} G[b, t, :]^T X[b, t, :] (E x E) with inputs' errors."""
    B, T = G.v.shape[:2]
    g2 = G._E(G.v.reshape(B * T, -1), G.e.reshape(B * T, -1))
    x2 = X._E(X.v.reshape(B * T, -1), X.e.reshape(B * T, -1))
    return g2.T @ x2


def mha_tol(query, key, value, params, num_heads, causal, dtype, dy=None, subnormals="gradual") -> dict:
    """Entry-wise tolerances {"y"} (and {"query", "key", "value", "params": {...}} given dy) of mha."""
    un = _under(dtype, subnormals)
    H = int(num_heads)
    ex = exact_in(dtype, un)
    X = {n: ex(a) for n, a in (("q", query), ("k", key), ("v", value))}
    p = {n: ex(a) for n, a in params.items()}
    proj = {n: X[n] @ p[f"W_{n}"].T + p[f"b_{n}"] for n in ("q", "k", "v")}
    dYh = None
    if dy is not None:
        dY = ex(dy)
        dYh = _heads(dY @ p["W_o"], H)
    m = attention_model(_heads(proj["q"], H), _heads(proj["k"], H), _heads(proj["v"], H), causal, dYh)
    concat = _merge(m["y"])
    y = concat @ p["W_o"].T + p["b_o"]
    if dy is None:
        return {"y": SAFETY * y.e}
    grads = {"W_o": _gram(dY, concat), "b_o": _sum_bt(dY)}
    out = {}
    for n, key_ in (("q", "query"), ("k", "key"), ("v", "value")):
        dN = _merge(m[n])
        grads[f"W_{n}"] = _gram(dN, X[n])
        grads[f"b_{n}"] = _sum_bt(dN)
        out[key_] = SAFETY * (dN @ p[f"W_{n}"]).e
    out["params"] = {n: SAFETY * g.e for n, g in grads.items()}
    out["y"] = SAFETY * y.e
    return out
