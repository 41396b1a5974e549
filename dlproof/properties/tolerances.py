"""The forward-error model: every tolerance of the suite is computed here, per dtype, per entry.

Model (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., §3.1 and §3.5):
u = 2^-24 (float32) or 2^-53 (float64) (2^-11 float16, 2^-8 bfloat16; mixed precision: "Precisions" below),
gamma_k = k u / (1 - k u). Any summation order of k terms, FMA or not, gives |fl(sum) - sum| <= gamma_k sum|terms|.
Activations are within act = activation_ulps ulps (declared; ACT_ULPS = 4 by default; relu is exact). Errors
are propagated to first order through the recursion, with the local Lipschitz constant of phi on [a - e, a + e] (|tanh''| <= 0.77 < 1):

  forward  e_a,t = gamma_{m+n+1} (|W_x||x_t| + |W_h||h_{t-1}| + |b|) + |W_h| e_{t-1}
           e_t   = L_t e_a,t + act u,   L_t = min(1, |phi'(a_t)| + e_a,t)   (relu: 1 near the kink)
  backward e_g,t = |phi'(a_t)| e_d,t + e_phi',t |delta_t| + u |g_t|,   g_t = phi'(a_t) ∘ delta_t
           e_d,t-1 = gamma_{n+1} (|d_{t-1}| + |W_h|^T |g_t|) + |W_h|^T e_g,t
           e(dW_h) = gamma_{TB} sum |g_t||h_{t-1}|^T + sum (e_g,t |h_{t-1}|^T + |g_t| e_{t-1}^T), likewise W_x, b, x_t, h_0

The bound is evaluated in float64 beside the oracle at u = u_target + u_float64, which covers the
target's error and the float64 oracle's together (`u_total`); the tolerance is SAFETY times it
(SAFETY covers the first-order truncation). LSTM and GRU use the same model written with the
running-error arithmetic of properties.errmodel.
Clipping: the norm of K entries has relative error <= gamma_{K+2}; each clipped entry is then within
(K + 6) u |g| of the exact rule (scale factor: a division, a min and a product).

Underflow (the extremes properties, `underflow_terms`): with gradual underflow a product is x y (1 + d) + h,
|h| <= eta/2, eta the dtype's smallest positive subnormal (Higham §2.1, (2.8)); sums that underflow are
exact. With ``underflow="gradual"`` the forward bounds add eta per product (k eta per dot product of length
k), at eta = eta_target + eta_float64. Under the declared convention subnormals = "flush_to_zero" (DAZ + FTZ)
any result below the smallest normal number tiny may become 0, sums included: ``underflow="flush_to_zero"``
adds tiny per product and per addition (the inputs' subnormals are read as 0: the reference is evaluated on
the flushed inputs). The other strategies draw nothing within 10^20 of the underflow threshold, so there the
terms are below the last bit of every bound and are left out (``underflow=None``, bit-identical).
Precisions (the declared arithmetic, `precision` -> `Arithmetic` -> `model_units` -> `Units`): storage u_s (every
stored value and elementwise result; the target's dtype), accumulation u_a (the ``accumulate`` convention: the format
the products of a dot product are summed in), activation_ulps act. Per operation:

  dot product of length k, u_a = u_s: gamma_k(u_s) sum|terms|            (the float32 model above, unchanged)
  dot product of length k, u_a < u_s: gamma_k(u_a) sum|terms| + u_s |result|
  the same formed as j pieces, each rounded to storage, added in storage: + (j - 1) u_s sum|terms|
  elementwise +, -, *:                u_s |result|;   tanh, sigmoid: act u_s (absolute)

Why the wider case holds: the accumulator holds s~ = sum_i t_i (1 + th_i), |th_i| <= gamma_k(u_a) in ANY order
(Higham Lemma 3.1 in the accumulation format; products of two storage numbers are exact in float32 when storage is
16-bit, and otherwise are one of the k roundings), then fl_s(s~) = s~ (1 + d), |d| <= u_s: |fl_s(s~) - s| <=
gamma_k(u_a) sum|t| + u_s |s| + u_s gamma_k(u_a) sum|t|, the last term second order (inside SAFETY). A formula the
model writes as one dot product may reach storage in pieces (the RNN/LSTM/GRU affine x W_x^T + h W_h^T + b as
two matmuls and a bias add: j = 3; a gate-stacked VJP product as j gate blocks; a weight gradient sum_t da_t^T in_t
as T per-step products summed in storage: j = T); each piece's rounding is at most u_s times its sum|terms| and
each of the j - 1 storage additions at most u_s sum|terms| (errmodel.pieces_to_storage). Elementwise work and the
activations are charged at u_s: a target that runs them wider (float32 under autocast) errs less, so the same
bound covers it. At u_a = u_s no term is added (gamma_k(u_s) already covers any split: each addition is one of
its k roundings), so every float32 and float64 bound is bit for bit the one above (tests/arithmetic/).
float16's smallest normal number (6.1e-5) is within reach of the ordinary strategies (a product of two entries of
1e-3 is subnormal there, and a product of T Jacobians of 0.01 is): for float16 storage (`NEAR_UNDERFLOW`) the
forward and VJP models always add gradual underflow's eta terms (k eta per dot product of length k); bfloat16 has
float32's exponent range and needs none.

Saturation needs no change: the bounds are entry-wise and first order in the rounding, with the activation's
Lipschitz constant on [a - e, a + e], valid for any |a| (1e4 included; the float64 model values are never
evaluated where they overflow).
"""
from __future__ import annotations

import numpy as np

from dlproof.parameters import GRU_GATES, LSTM_GATES, RNN_PARAMS

from . import errmodel as em
from .errmodel import ACT_ULPS, gamma  # noqa: F401 - one declaration each; re-exported for the topic modules

from dataclasses import dataclass
from typing import NamedTuple

from dlproof.dtypes import FORMATS, fmt

#: unit roundoff per precision: every format of dlproof.dtypes, and "tf32" (products' inputs rounded to 11 bits)
UNIT_ROUNDOFF = {**{name: f.u for name, f in FORMATS.items()}, "tf32": 2.0 ** -11}
#: smallest positive subnormal (TF32 keeps float32's exponent range)
SMALLEST_SUBNORMAL = {**{name: f.smallest_subnormal for name, f in FORMATS.items()}, "tf32": 2.0 ** -149}
SAFETY = 2.0

TOLERANCE_FORMULA = (
    "tol = SAFETY * bound(u_target + u_float64), SAFETY = 2, entry-wise first-order running error "
    "bound: gamma_k = k u/(1-k u) per dot product of length k (u of the accumulation format, plus one rounding "
    "to the target's dtype when it accumulates wider), Lipschitz propagation through phi, activation error "
    "activation_ulps u (4 unless declared); clipping: (K + 6) u |g| per entry"
)


@dataclass(frozen=True)
class Arithmetic:
    """The arithmetic a target declares, as the error model reads it.

    ``storage``: the format every stored value and every elementwise result is rounded to (the target's dtype,
    or "tf32" for a float32 target declaring matmul_precision = "tf32"); ``accumulate``: the format the
    products of a dot product are summed in (the ``accumulate`` convention; the storage format by default);
    ``activation_ulps``: |computed - exact| <= activation_ulps * u for tanh, sigmoid and exp (u of storage).

    A dot product of length k accumulated in format a and rounded to storage s errs by at most
    gamma_k(u_a) sum |terms| + u_s |result| (the accumulation's k roundings, then one rounding to storage;
    when a = s the last rounding is one of the k). ``u`` is u_s and ``u_acc`` is u_a (the float64 oracle's u
    is added by `u_total` / `u_acc_total`).
    """

    storage: str
    accumulate: str
    activation_ulps: float = ACT_ULPS

    @property
    def u(self) -> float:
        return UNIT_ROUNDOFF[self.storage]

    @property
    def u_acc(self) -> float:
        return UNIT_ROUNDOFF[self.accumulate] if self.storage != "tf32" else UNIT_ROUNDOFF["tf32"]

    @property
    def wider_accumulation(self) -> bool:
        """Whether dot products are accumulated in a more precise format than storage (one more rounding)."""
        return self.u_acc < self.u

    @property
    def range_format(self) -> str:
        """The format whose exponent range applies (tf32 keeps float32's)."""
        return "float32" if self.storage == "tf32" else self.storage

    def __str__(self) -> str:
        extra = [f"accumulate {self.accumulate}"] if self.accumulate != self.range_format else []
        if self.activation_ulps != ACT_ULPS:
            extra.append(f"activations within {self.activation_ulps:g} u")
        return self.storage + (f" ({', '.join(extra)})" if extra else "")


def mixed_gamma(k: int, j: int, u: float, u_acc: float, pieces: int = 1) -> float:
    """The relative error (of the sum of the terms' magnitudes) of a sum or dot product of k terms followed by j more
    roundings in storage: gamma_{k+j}(u) when the sum is accumulated in storage (u_acc >= u: any split into pieces
    is among the k roundings); accumulated in a wider format, gamma_k(u_acc) for its k roundings there plus
    gamma_{j+pieces}(u): each of the ``pieces`` separately accumulated parts (a bias added after the products
    counts as one) rounds to storage and the pieces are added in storage, (pieces - 1) u + u in all
    (errmodel.pieces_to_storage), and the j other roundings (first order, as every bound of the suite: SAFETY
    covers the products of the terms)."""
    if k < 0 or j < 0 or pieces < 1:
        raise ValueError(f"mixed_gamma: k={k}, j={j}, pieces={pieces}, but should be k, j >= 0 and pieces >= 1")
    return gamma(k + j, u) if u_acc >= u else gamma(k, u_acc) + gamma(j + pieces, u)


def precision(target) -> Arithmetic:
    """The arithmetic the error model is evaluated at (`Arithmetic`): the target's dtype, or "tf32" storage for a
    float32 target that declares matmul_precision = "tf32" (TF32 rounds the products' inputs to 11 significant
    bits, u = 2^-11, and accumulates in float32; the model then uses u = 2^-11 for every operation, which
    over-covers: a valid, looser bound, since the elementwise work is float32); the declared accumulation
    format and activation accuracy."""
    storage = "tf32" if target.convention("matmul_precision") == "tf32" and target.dtype == "float32" else target.dtype
    return Arithmetic(storage, target.accumulation(), float(target.convention("activation_ulps")))


def _key(dtype) -> str:
    """The storage precision named by ``dtype``: an Arithmetic's storage, "tf32", or a dtype's name."""
    if isinstance(dtype, Arithmetic):
        return dtype.storage
    if dtype == "tf32":
        return "tf32"
    try:
        return fmt(dtype).name
    except (TypeError, ValueError):
        raise ValueError(f"tolerances: dtype={dtype!r}, but should be one of {sorted(UNIT_ROUNDOFF)}") from None


def unit_roundoff(dtype) -> float:
    """u of the storage precision ``dtype`` (a dtype name, "tf32" or an `Arithmetic`)."""
    return UNIT_ROUNDOFF[_key(dtype)]


def u_total(dtype) -> float:
    """u of the target plus u of the float64 oracle. Every bound here is a sum of terms that are zero at
    u = 0 and convex in u (gamma_k, products of bounds), so bound(u1 + u2) >= bound(u1) + bound(u2):
    one evaluation at u_total covers the target's error and the oracle's together."""
    return unit_roundoff(dtype) + UNIT_ROUNDOFF["float64"]


def u_acc_total(dtype) -> float:
    """u of the accumulation format plus float64's (the `u_total` argument, for the gamma_k of dot products);
    for a plain dtype name the accumulation is the dtype itself."""
    acc = dtype.u_acc if isinstance(dtype, Arithmetic) else unit_roundoff(dtype)
    return acc + UNIT_ROUNDOFF["float64"]


def activation_ulps(dtype) -> float:
    """The declared accuracy of tanh/sigmoid/exp in units of u (`ACT_ULPS` for a plain dtype name)."""
    return dtype.activation_ulps if isinstance(dtype, Arithmetic) else ACT_ULPS


class Units(NamedTuple):
    """The units the running-error model is evaluated at: ``u`` the storage format's plus float64's (every
    elementwise rounding), ``u_acc`` the accumulation format's plus float64's (the gamma_k of dot products and
    sums), ``act`` the declared activation_ulps (tanh/sigmoid err by act * u). ``u_acc`` < ``u`` means a wider
    accumulation (each dot product also rounds once to storage, module doc)."""

    u: float
    u_acc: float
    act: float = ACT_ULPS

    @property
    def wider(self) -> bool:
        return self.u_acc < self.u

    def raised(self, rho: float) -> "Units":
        """Both unit roundoffs raised by ``rho`` (an input known to within relative rho read as one more rounding;
        gamma_k(u_acc + rho) >= gamma_k(u_acc) + rho covers it in the first dot product, u + rho elsewhere)."""
        return Units(self.u + rho, self.u_acc + rho, self.act)


def model_units(dtype) -> Units:
    """`Units` of ``dtype`` (an `Arithmetic`, a dtype name or "tf32"; a `Units` or a bare u passes through, a
    bare u meaning accumulation in storage and the default activation_ulps): the one place the running-error
    model's inputs are built from a declared arithmetic."""
    if isinstance(dtype, Units):
        return dtype
    if isinstance(dtype, float):
        if not 0.0 < dtype < 1.0:
            raise ValueError(f"tolerances.model_units: a bare unit roundoff should be in (0, 1), got {dtype!r}")
        return Units(dtype, dtype, ACT_ULPS)
    return Units(u_total(dtype), u_acc_total(dtype), activation_ulps(dtype))


def exact_in(dtype, eta=(0.0, 0.0)):
    """v -> errmodel.exact(v, ...) at the `model_units` of ``dtype`` and the underflow terms ``eta`` = (eta,
    eta_add): an input the target receives exactly, carrying the declared storage u, accumulation u and
    activation_ulps into every operation built on it."""
    un = model_units(dtype)
    return lambda v: em.exact(np.asarray(v, np.float64), un.u, eta[0], eta[1], un.u_acc, un.act)


def eta_total(dtype) -> float:
    """The smallest positive subnormal of the target's precision plus float64's (the oracle's rounding): the
    absolute error bound of one product that underflows, for the target and the reference together."""
    return SMALLEST_SUBNORMAL[_key(dtype)] + SMALLEST_SUBNORMAL["float64"]


UNDERFLOW = (None, "gradual", "flush_to_zero")


def underflow(target, softmax: bool = False) -> str:
    """The model's underflow mode for ``target``'s declared ``subnormals``: "flush_to_zero" under flush_to_zero,
    and under softmax_flush_to_zero for a softmax or attention model (``softmax=True``); else "gradual"."""
    declared = target.convention("subnormals")
    return "flush_to_zero" if declared == "flush_to_zero" or (softmax and declared == "softmax_flush_to_zero") \
        else "gradual"


#: storage formats whose smallest normal number the ordinary strategies reach (float16's is 6.1e-5: a product of
#: two drawn entries of 1e-3 is subnormal there): for them ``underflow=None`` charges gradual underflow's terms
NEAR_UNDERFLOW = ("float16",)


def underflow_terms(dtype: str, underflow) -> tuple:
    """(eta per product, eta_add per addition) of the model (module doc): (0, 0) for None (the gradual terms for a
    `NEAR_UNDERFLOW` storage format), (eta_total, 0) for "gradual", (tiny + eta_64, tiny + eta_64) for
    "flush_to_zero" (tiny: the dtype's smallest normal)."""
    if underflow not in UNDERFLOW:
        raise ValueError(f"tolerances: underflow={underflow!r}, but should be one of {UNDERFLOW}")
    if underflow is None:
        return (eta_total(dtype), 0.0) if _key(dtype) in NEAR_UNDERFLOW else (0.0, 0.0)
    if underflow == "gradual":
        return eta_total(dtype), 0.0
    key = _key(dtype)
    t = fmt("float32" if key == "tf32" else key).tiny + SMALLEST_SUBNORMAL["float64"]
    return t, t


def _dphi(a, activation):
    if activation == "tanh":
        return 1 - np.tanh(a) ** 2
    if activation == "relu":
        return (a > 0).astype(np.float64)
    raise ValueError(f"tolerances: activation={activation!r}, but should be 'tanh' or 'relu'")


def _rnn_forward_bound(xs, h0, p, activation, u, eta=0.0):
    """(hs, pres, e_h (T,B,n), e_a (T,B,n)) for inputs exactly representable in the target dtype; ``u``: the
    `Units` (or a bare u: accumulation in storage); ``eta``: the underflow term per term of the dot product
    (module doc), 0 unless asked for."""
    un = model_units(u)
    u = un.u
    W_x, W_h, b = (np.asarray(p[k], np.float64) for k in RNN_PARAMS)
    n, m = W_x.shape
    g = gamma(m + n + 1, un.u_acc)
    aWx, aWh, ab = np.abs(W_x), np.abs(W_h), np.abs(b)
    h, e = np.asarray(h0, np.float64), np.zeros_like(h0, dtype=np.float64)
    T = xs.shape[0]
    hs, pres, eh, ea = (np.empty((T,) + h.shape) for _ in range(4))
    act_err = un.act * u if activation == "tanh" else 0.0
    for t in range(T):
        a = xs[t] @ W_x.T + h @ W_h.T + b
        mag = np.abs(xs[t]) @ aWx.T + np.abs(h) @ aWh.T + ab
        e_a = g * mag + e @ aWh.T
        if eta:
            e_a = e_a + (m + n + 1) * eta
        if un.wider:  # three pieces rounded to storage (errmodel doc): 2 u mag + u |a|
            e_a = e_a + (2 * u * mag + u * np.abs(a))
        if activation == "tanh":
            L = np.minimum(1.0, _dphi(a, "tanh") + e_a)
            h = np.tanh(a)
        else:
            L = np.where(np.abs(a) <= e_a, 1.0, _dphi(a, "relu"))
            h = np.maximum(a, 0.0)
        e = L * e_a + act_err
        hs[t], pres[t], eh[t], ea[t] = h, a, e, e_a
    return hs, pres, eh, ea


def rnn_forward_tol(xs, h0, p, activation: str, dtype: str, underflow=None):
    """Entry-wise tolerances (tol_hs (T,B,n), tol_hT (B,n)) for a target's rnn forward in ``dtype``
    (``underflow``: None, "gradual" or "flush_to_zero", module doc)."""
    xs = np.asarray(xs, np.float64)
    eta = sum(underflow_terms(dtype, underflow))
    tol = SAFETY * _rnn_forward_bound(xs, np.asarray(h0, np.float64), p, activation, model_units(dtype), eta)[2]
    return tol, (tol[-1] if len(tol) else np.zeros_like(np.asarray(h0, np.float64)))


def _rnn_vjp_bound(xs, h0, p, d_hs, d_hT, activation, u, eta=0.0):
    """The backward bound of the module doc; ``u``: the `Units` (or a bare u). With a wider accumulation each
    dot product adds its rounding to storage, charged at u times its sum of |terms| (>= u |result|): per step
    for the weight gradients (a target may sum the T per-step products in storage), once for x_t's and h_0's,
    twice for the state cotangent (the product, then the addition of d_hs[t-1]). ``eta``: the underflow term
    per product (module doc; 0 unless asked for): phi'(a_t) (h_t h_t), g_t = phi' delta_t, and k eta per dot
    product of length k."""
    un = model_units(u)
    u, ua = un.u, un.u_acc
    w = u if un.wider else 0.0  # the rounding to storage of a wider accumulation, per unit of sum |terms|
    W_x, W_h = np.asarray(p["W_x"], np.float64), np.asarray(p["W_h"], np.float64)
    aWx, aWh = np.abs(W_x), np.abs(W_h)
    n, m = W_x.shape
    hs, pres, eh, ea = _rnn_forward_bound(xs, h0, p, activation, un, eta)
    T, B = xs.shape[0], xs.shape[1]
    prev = np.concatenate([np.asarray(h0, np.float64)[None], hs[:-1]])
    e_prev = np.concatenate([np.zeros_like(eh[:1]), eh[:-1]])
    gT = gamma(max(T * B, 1) + 1, ua)
    out = {"W_x": np.zeros_like(W_x), "W_h": np.zeros_like(W_h), "b": np.zeros(n)}
    e_xs = np.zeros_like(xs)
    e_h0 = np.zeros_like(prev[0])
    delta = d_hs[T - 1] + d_hT
    e_d = u * np.abs(delta)
    gn = gamma(n + 1, ua)
    gm = gamma(n, ua)
    for t in range(T - 1, -1, -1):
        dphi = _dphi(pres[t], activation)
        if activation == "tanh":
            # phi' = 1 - tanh(a)^2, from a (|d sech^2/da| <= 0.77: within e_a) or from the computed h_t (error
            # e_h, which includes the declared activation error: 2|h| e_h + e_h^2); either way, 3 roundings more
            e_dphi = np.maximum(ea[t], 2 * np.abs(hs[t]) * eh[t] + eh[t] ** 2) + 3 * u
        else:
            e_dphi = (np.abs(pres[t]) <= ea[t]).astype(np.float64)
        g = dphi * delta
        e_g = np.abs(dphi) * e_d + e_dphi * np.abs(delta) + u * np.abs(g)
        if eta:  # the products h_t h_t (tanh) and phi' delta_t
            e_g = e_g + (3 if activation == "tanh" else 1) * eta
        ag = np.abs(g)
        out["W_h"] += gT * ag.T @ np.abs(prev[t]) + e_g.T @ np.abs(prev[t]) + ag.T @ e_prev[t]
        out["W_x"] += gT * ag.T @ np.abs(xs[t]) + e_g.T @ np.abs(xs[t])
        out["b"] += (gT * ag + e_g).sum(axis=0)
        e_xs[t] = gm * ag @ aWx + e_g @ aWx
        back_err = gm * ag @ aWh + e_g @ aWh
        if eta:
            out["W_h"] += B * eta
            out["W_x"] += B * eta
            e_xs[t] += n * eta
            back_err = back_err + n * eta
        if w:
            out["W_h"] += w * ag.T @ np.abs(prev[t])
            out["W_x"] += w * ag.T @ np.abs(xs[t])
            out["b"] += w * ag.sum(axis=0)
            e_xs[t] += w * ag @ aWx
            back_err = back_err + w * ag @ aWh
        if t > 0:
            e_d = gn * (np.abs(d_hs[t - 1]) + ag @ aWh) + e_g @ aWh
            if w:
                e_d = e_d + 2 * w * (np.abs(d_hs[t - 1]) + ag @ aWh)
            if eta:
                e_d = e_d + n * eta
            delta = d_hs[t - 1] + g @ W_h
        else:
            e_h0 = back_err
    return {"xs": e_xs, "h0": e_h0, "params": out}


def rnn_vjp_tol(xs, h0, p, d_hs, d_hT, activation: str, dtype: str) -> dict:
    """Entry-wise tolerances for rnn_vjp's outputs {"xs", "h0", "params": {...}} in ``dtype``."""
    args = [np.asarray(a, np.float64) for a in (xs, h0, d_hs, d_hT)]
    xs, h0, d_hs, d_hT = args
    if xs.shape[0] == 0:
        z = np.zeros_like(h0)
        return {"xs": np.zeros_like(xs), "h0": SAFETY * unit_roundoff(dtype) * np.abs(d_hT) + z,
                "params": {k: np.zeros_like(np.asarray(p[k], np.float64)) for k in RNN_PARAMS}}
    b = _rnn_vjp_bound(xs, h0, p, d_hs, d_hT, activation, model_units(dtype), sum(underflow_terms(dtype, None)))
    return {"xs": SAFETY * b["xs"], "h0": SAFETY * b["h0"], "params": {k: SAFETY * v for k, v in b["params"].items()}}


def clip_tol(grads, dtype: str) -> list:
    """Entry-wise tolerance of a clipped list against the exact rule: (K + 6) u |g| (plus float64's)."""
    K = sum(int(np.size(g)) for g in grads)
    u = u_total(dtype)
    return [SAFETY * (K + 6) * u * np.abs(np.asarray(g, np.float64)) for g in grads]


def norm_tol(norm: float, K: int, dtype: str) -> float:
    """Tolerance of a returned global norm of K entries: gamma_{K+2} relative (target and float64)."""
    u = u_total(dtype)
    return SAFETY * gamma(K + 2, u) * abs(norm)


def clip_result_tol(expected, K: int, dtype: str, underflow: str = "gradual"):
    """Entry-wise tolerance of a clipped entry g' = s g against the exact value, at the ends of the range:
    SAFETY ((K + 6) u |g'| + eta). The scale s (a norm of K entries, a division, a min) has relative error
    <= gamma_{K+3}, the product one more u, so the error is relative to |s g| (<= |g|, tighter than
    `clip_tol`); eta covers the product's underflow (module doc: the smallest subnormal, or the smallest
    normal under "flush_to_zero", where a subnormal g may also be read as 0)."""
    u = u_total(dtype)
    return SAFETY * ((K + 6) * u * np.abs(np.asarray(expected, np.float64)) + underflow_terms(dtype, underflow)[0])


# ---- gated cells: the same model written with running-error arithmetic (properties.errmodel) ----------


def _fused(pairs):
    """sum_j a_j @ B_j as one dot product of length sum k_j, order-free bound; with a wider accumulation the j
    products may each be rounded to storage and added in storage (errmodel.pieces_to_storage)."""
    a0 = pairs[0][0]
    K = sum(a.v.shape[-1] for a, _ in pairs)
    v = sum(a.v @ B.v for a, B in pairs)
    mag = sum(np.abs(a.v) @ np.abs(B.v) for a, B in pairs)
    e = em.gamma(K, a0.u_acc) * mag + sum(_propagated(a, B) for a, B in pairs)
    eta, eta_add = a0.eta, a0.eta_add
    if eta or eta_add:
        e = e + K * (eta + eta_add)
    last = em.pieces_to_storage(a0, mag, v, len(pairs))
    return a0._E(v, e if last is None else e + last)


def _propagated(a, B):
    """|a| e_B + e_a |B| + e_a e_B, leaving out the terms of an exact operand (they are exactly 0)."""
    if a.errfree and B.errfree:
        return 0.0
    return em.sum_terms(None if B.errfree else np.abs(a.v) @ B.e, None if a.errfree else a.e @ np.abs(B.v),
                        None if a.errfree or B.errfree else a.e @ B.e)


def _weight_grad(das, ins):
    """sum_t da_t^T @ in_t as one dot product over T*B rows; with a wider accumulation the T per-step products
    may each be rounded to storage and summed in storage (errmodel.pieces_to_storage, j = T)."""
    da, x = em.stack(das), em.stack(ins)

    def flat(z):
        return z._E(z.v.reshape(-1, z.v.shape[-1]), None if z.errfree else z.e.reshape(-1, z.e.shape[-1]))

    g = flat(da).T @ flat(x)
    return _per_step(g, np.abs(flat(da).v).T @ np.abs(flat(x).v), len(das))


def _bias_grad(das):
    """sum_t sum_b da_t over the T*B rows; with a wider accumulation, per step as `_weight_grad`."""
    s = em.stack(das)
    return _per_step(s.total((0, 1)), np.abs(s.v).sum((0, 1)), len(das))


def _per_step(g, mag, T):
    """``g`` (a sum over T steps, its rounding to storage already charged once) plus the (T - 1) u mag of the
    other per-step roundings to storage, when the accumulation is wider (errmodel.pieces_to_storage)."""
    if not g.u_acc < g.u or T <= 1:
        return g
    return g._E(g.v, g.e + (T - 1) * g.u * mag)


def _lstm_model(xs, h0, c0, p, u, d_hs=None, d_hT=None, d_cT=None, eta=(0.0, 0.0)):
    """The LSTM forward (and, given cotangents, VJP) running-error model; ``u``: `Units`, a dtype or a bare u."""
    ex = exact_in(u, eta)
    P = {k: ex(v) for k, v in p.items()}
    h, c = ex(h0), ex(c0)
    steps = []
    for t in range(xs.shape[0]):
        x = ex(xs[t])
        i, f, o = (em.sigmoid(em.affine(x, P[f"W_x{q}"], h, P[f"W_h{q}"], P[f"b_{q}"])) for q in "ifo")
        g = em.tanh(em.affine(x, P["W_xg"], h, P["W_hg"], P["b_g"]))
        c_new = f * c + i * g
        tc = em.tanh(c_new)
        steps.append((x, h, c, i, f, g, o, tc))
        h, c = o * tc, c_new
        steps[-1] += (h,)
    if d_hs is None:
        return steps, h, c
    grads = {q: {"x": [], "h": []} for q in LSTM_GATES}
    das = {q: [] for q in LSTM_GATES}
    d_xs = [None] * len(steps)
    dh = ex(d_hs[-1]) + ex(d_hT)
    dc = ex(d_cT)
    for t in range(len(steps) - 1, -1, -1):
        x, h_prev, c_prev, i, f, g, o, tc, _ = steps[t]
        dc = dc + dh * o * (1 - tc * tc)
        da = {"o": dh * tc * o * (1 - o), "i": dc * g * i * (1 - i), "f": dc * c_prev * f * (1 - f),
              "g": dc * i * (1 - g * g)}
        for q in LSTM_GATES:
            das[q].append(da[q])
            grads[q]["x"].append(x)
            grads[q]["h"].append(h_prev)
        d_xs[t] = _fused([(da[q], P[f"W_x{q}"]) for q in LSTM_GATES])
        dh = _fused([(da[q], P[f"W_h{q}"]) for q in LSTM_GATES])
        if t > 0:
            dh = dh + ex(d_hs[t - 1])
        dc = dc * f
    params = {}
    for q in LSTM_GATES:
        params[f"W_x{q}"] = _weight_grad(das[q], grads[q]["x"])
        params[f"W_h{q}"] = _weight_grad(das[q], grads[q]["h"])
        params[f"b_{q}"] = _bias_grad(das[q])
    return {"xs": em.stack(d_xs), "h0": dh, "c0": dc, "params": params}


def _scaled(bounds: dict) -> dict:
    """SAFETY times the error bounds of a VJP model's outputs {"xs", states..., "params"}."""
    return {k: ({kk: SAFETY * vv.e for kk, vv in v.items()} if k == "params" else SAFETY * v.e) for k, v in bounds.items()}


def lstm_forward_tol(xs, h0, c0, p, dtype: str, underflow=None):
    """Entry-wise tolerances (tol_hs (T,B,n), (tol_hT, tol_cT)) of an LSTM forward in ``dtype``
    (``underflow``: None, "gradual" or "flush_to_zero", module doc)."""
    xs, h0, c0 = (np.asarray(a, np.float64) for a in (xs, h0, c0))
    steps, h, c = _lstm_model(xs, h0, c0, p, model_units(dtype), eta=underflow_terms(dtype, underflow))
    return SAFETY * np.stack([s[-1].e for s in steps]), (SAFETY * h.e, SAFETY * c.e)


def lstm_vjp_tol(xs, h0, c0, p, d_hs, d_hT, d_cT, dtype: str) -> dict:
    """Entry-wise tolerances of lstm_vjp's outputs {"xs", "h0", "c0", "params"} in ``dtype``."""
    args = [np.asarray(a, np.float64) for a in (xs, h0, c0)]
    cots = [np.asarray(a, np.float64) for a in (d_hs, d_hT, d_cT)]
    return _scaled(_lstm_model(*args, p, model_units(dtype), *cots, eta=underflow_terms(dtype, None)))


def _gru_model(xs, h0, p, variant, u, d_hs=None, d_hT=None, eta=(0.0, 0.0)):
    """The GRU forward (and, given cotangents, VJP) running-error model; ``u``: `Units`, a dtype or a bare u."""
    ex = exact_in(u, eta)
    P = {k: ex(v) for k, v in p.items()}
    h = ex(h0)
    zero_x = ex(np.zeros((h0.shape[0], 0)))
    empty_W = ex(np.zeros((p["W_hn"].shape[0], 0)))
    steps = []
    for t in range(xs.shape[0]):
        x = ex(xs[t])
        r = em.sigmoid(em.affine(x, P["W_xr"], h, P["W_hr"], P["b_r"]))
        z = em.sigmoid(em.affine(x, P["W_xz"], h, P["W_hz"], P["b_z"]))
        if variant == "reset_after":
            hn = em.affine(zero_x, empty_W, h, P["W_hn"], P["b_hn"])
            n = em.tanh(em.affine(x, P["W_xn"], zero_x, empty_W, P["b_xn"]) + r * hn)
        else:
            hn = None
            n = em.tanh(em.affine(x, P["W_xn"], r * h, P["W_hn"], P["b_xn"], P["b_hn"]))  # two terms: b_xn, b_hn
        h_new = z * h + (1 - z) * n
        steps.append((x, h, r, z, n, hn, h_new))
        h = h_new
    if d_hs is None:
        return steps, h
    das = {q: [] for q in GRU_GATES}
    ins = {"x": [], "h": [], "hn_in": []}
    d_xs = [None] * len(steps)
    dh = ex(d_hs[-1]) + ex(d_hT)
    dhn_list = []
    for t in range(len(steps) - 1, -1, -1):
        x, h_prev, r, z, n, hn, _ = steps[t]
        dz = dh * (h_prev - n)
        dan = dh * (1 - z) * (1 - n * n)
        dh_direct = dh * z
        if variant == "reset_after":
            dhn = dan * r
            dr = dan * hn
            back = _fused([(dhn, P["W_hn"])])
            hn_in = h_prev
        else:
            drh = _fused([(dan, P["W_hn"])])
            dr = drh * h_prev
            back = drh * r
            dhn = dan
            hn_in = r * h_prev
        dar, daz = dr * r * (1 - r), dz * z * (1 - z)
        for q, d in (("r", dar), ("z", daz), ("n", dan)):
            das[q].append(d)
        dhn_list.append(dhn)
        ins["x"].append(x)
        ins["h"].append(h_prev)
        ins["hn_in"].append(hn_in)
        d_xs[t] = _fused([(dar, P["W_xr"]), (daz, P["W_xz"]), (dan, P["W_xn"])])
        dh = _fused([(dar, P["W_hr"]), (daz, P["W_hz"])]) + back + dh_direct
        if t > 0:
            dh = dh + ex(d_hs[t - 1])
    params = {"W_xr": _weight_grad(das["r"], ins["x"]), "W_hr": _weight_grad(das["r"], ins["h"]),
              "b_r": _bias_grad(das["r"]), "W_xz": _weight_grad(das["z"], ins["x"]),
              "W_hz": _weight_grad(das["z"], ins["h"]), "b_z": _bias_grad(das["z"]),
              "W_xn": _weight_grad(das["n"], ins["x"]), "W_hn": _weight_grad(dhn_list, ins["hn_in"]),
              "b_xn": _bias_grad(das["n"]), "b_hn": _bias_grad(dhn_list)}
    return {"xs": em.stack(d_xs), "h0": dh, "params": params}


def gru_forward_tol(xs, h0, p, variant: str, dtype: str, underflow=None):
    """Entry-wise tolerances (tol_hs (T,B,n), tol_hT) of a GRU forward in ``dtype``
    (``underflow``: None, "gradual" or "flush_to_zero", module doc)."""
    xs, h0 = np.asarray(xs, np.float64), np.asarray(h0, np.float64)
    steps, h = _gru_model(xs, h0, p, variant, model_units(dtype), eta=underflow_terms(dtype, underflow))
    return SAFETY * np.stack([s[-1].e for s in steps]), SAFETY * h.e


def gru_vjp_tol(xs, h0, p, d_hs, d_hT, variant: str, dtype: str) -> dict:
    """Entry-wise tolerances of gru_vjp's outputs {"xs", "h0", "params"} in ``dtype``."""
    xs, h0, d_hs, d_hT = (np.asarray(a, np.float64) for a in (xs, h0, d_hs, d_hT))
    return _scaled(_gru_model(xs, h0, p, variant, model_units(dtype), d_hs, d_hT, eta=underflow_terms(dtype, None)))
