"""The forward-error model: every tolerance of the suite is computed here, per dtype, per entry.

Model (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., §3.1 and §3.5):
u = 2^-24 (float32) or 2^-53 (float64), gamma_k = k u / (1 - k u). Any summation order of k terms,
FMA or not, gives |fl(sum) - sum| <= gamma_k sum|terms|. Activations are correctly rounded to within
ACT_ULPS ulps (tanh; relu is exact). Errors are propagated to first order through the recursion,
with the local Lipschitz constant of phi on [a - e, a + e] (|tanh''| <= 0.77 < 1):

  forward  e_a,t = gamma_{m+n+1} (|W_x||x_t| + |W_h||h_{t-1}| + |b|) + |W_h| e_{t-1}
           e_t   = L_t e_a,t + ACT_ULPS u,   L_t = min(1, |phi'(a_t)| + e_a,t)   (relu: 1 near the kink)
  backward e_g,t = |phi'(a_t)| e_d,t + e_phi',t |delta_t| + u |g_t|,   g_t = phi'(a_t) ∘ delta_t
           e_d,t-1 = gamma_{n+1} (|d_{t-1}| + |W_h|^T |g_t|) + |W_h|^T e_g,t
           e(dW_h) = gamma_{TB} sum |g_t||h_{t-1}|^T + sum (e_g,t |h_{t-1}|^T + |g_t| e_{t-1}^T), likewise W_x, b, x_t, h_0

The bound is evaluated in float64 beside the oracle, for the target's dtype and for the float64
oracle itself; the tolerance is SAFETY times their sum (SAFETY covers the first-order truncation).
Clipping: the norm of K entries has relative error <= gamma_{K+2}; each clipped entry is then within
(K + 6) u |g| of the exact rule (scale factor: a division, a min and a product).
"""
from __future__ import annotations

import numpy as np

UNIT_ROUNDOFF = {"float32": 2.0 ** -24, "float64": 2.0 ** -53}
ACT_ULPS = 4.0
SAFETY = 2.0

TOLERANCE_FORMULA = (
    "tol = SAFETY * (bound(u_target) + bound(u_float64)), SAFETY = 2, entry-wise first-order running error "
    "bound: gamma_k = k u/(1-k u) per dot product of length k, Lipschitz propagation through phi, "
    "activation error 4 ulp; clipping: (K + 6) u |g| per entry"
)


def unit_roundoff(dtype: str) -> float:
    try:
        return UNIT_ROUNDOFF[str(np.dtype(dtype))]
    except KeyError:
        raise ValueError(f"tolerances: dtype={dtype!r}, but should be one of {sorted(UNIT_ROUNDOFF)}") from None


def gamma(k: int, u: float) -> float:
    if k * u >= 1:
        raise ValueError(f"gamma_k undefined: k={k}, u={u} gives k u >= 1")
    return k * u / (1 - k * u)


def _dphi(a, activation):
    if activation == "tanh":
        return 1 - np.tanh(a) ** 2
    if activation == "relu":
        return (a > 0).astype(np.float64)
    raise ValueError(f"tolerances: activation={activation!r}, but should be 'tanh' or 'relu'")


def _rnn_forward_bound(xs, h0, p, activation, u):
    """(hs, pres, e_h (T,B,n), e_a (T,B,n)) for inputs exactly representable in the target dtype."""
    W_x, W_h, b = (np.asarray(p[k], np.float64) for k in ("W_x", "W_h", "b"))
    n, m = W_x.shape
    g = gamma(m + n + 1, u)
    aWx, aWh, ab = np.abs(W_x), np.abs(W_h), np.abs(b)
    h, e = np.asarray(h0, np.float64), np.zeros_like(h0, dtype=np.float64)
    T = xs.shape[0]
    hs, pres, eh, ea = (np.empty((T,) + h.shape) for _ in range(4))
    act_err = ACT_ULPS * u if activation == "tanh" else 0.0
    for t in range(T):
        a = xs[t] @ W_x.T + h @ W_h.T + b
        e_a = g * (np.abs(xs[t]) @ aWx.T + np.abs(h) @ aWh.T + ab) + e @ aWh.T
        if activation == "tanh":
            L = np.minimum(1.0, _dphi(a, "tanh") + e_a)
            h = np.tanh(a)
        else:
            L = np.where(np.abs(a) <= e_a, 1.0, _dphi(a, "relu"))
            h = np.maximum(a, 0.0)
        e = L * e_a + act_err
        hs[t], pres[t], eh[t], ea[t] = h, a, e, e_a
    return hs, pres, eh, ea


def rnn_forward_tol(xs, h0, p, activation: str, dtype: str):
    """Entry-wise tolerances (tol_hs (T,B,n), tol_hT (B,n)) for a target's rnn forward in ``dtype``."""
    xs = np.asarray(xs, np.float64)
    total = 0.0
    for u in {unit_roundoff(dtype), UNIT_ROUNDOFF["float64"]}:
        total = total + _rnn_forward_bound(xs, np.asarray(h0, np.float64), p, activation, u)[2]
    tol = SAFETY * total
    return tol, (tol[-1] if len(tol) else np.zeros_like(np.asarray(h0, np.float64)))


def _rnn_vjp_bound(xs, h0, p, d_hs, d_hT, activation, u):
    W_x, W_h = np.asarray(p["W_x"], np.float64), np.asarray(p["W_h"], np.float64)
    aWx, aWh = np.abs(W_x), np.abs(W_h)
    n, m = W_x.shape
    hs, pres, eh, ea = _rnn_forward_bound(xs, h0, p, activation, u)
    T, B = xs.shape[0], xs.shape[1]
    prev = np.concatenate([np.asarray(h0, np.float64)[None], hs[:-1]])
    e_prev = np.concatenate([np.zeros_like(eh[:1]), eh[:-1]])
    gT = gamma(max(T * B, 1) + 1, u)
    out = {"W_x": np.zeros_like(W_x), "W_h": np.zeros_like(W_h), "b": np.zeros(n)}
    e_xs = np.zeros_like(xs)
    e_h0 = np.zeros_like(prev[0])
    delta = d_hs[T - 1] + d_hT
    e_d = u * np.abs(delta)
    gn = gamma(n + 1, u)
    gm = gamma(n, u)
    for t in range(T - 1, -1, -1):
        dphi = _dphi(pres[t], activation)
        if activation == "tanh":
            e_dphi = ea[t] + 3 * u
        else:
            e_dphi = (np.abs(pres[t]) <= ea[t]).astype(np.float64)
        g = dphi * delta
        e_g = np.abs(dphi) * e_d + e_dphi * np.abs(delta) + u * np.abs(g)
        ag = np.abs(g)
        out["W_h"] += gT * ag.T @ np.abs(prev[t]) + e_g.T @ np.abs(prev[t]) + ag.T @ e_prev[t]
        out["W_x"] += gT * ag.T @ np.abs(xs[t]) + e_g.T @ np.abs(xs[t])
        out["b"] += (gT * ag + e_g).sum(axis=0)
        e_xs[t] = gm * ag @ aWx + e_g @ aWx
        back_err = gm * ag @ aWh + e_g @ aWh
        if t > 0:
            e_d = gn * (np.abs(d_hs[t - 1]) + ag @ aWh) + e_g @ aWh
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
                "params": {k: np.zeros_like(np.asarray(p[k], np.float64)) for k in ("W_x", "W_h", "b")}}
    bounds = [_rnn_vjp_bound(xs, h0, p, d_hs, d_hT, activation, u)
              for u in {unit_roundoff(dtype), UNIT_ROUNDOFF["float64"]}]
    tol = {"xs": sum(b["xs"] for b in bounds) * SAFETY, "h0": sum(b["h0"] for b in bounds) * SAFETY,
           "params": {k: sum(b["params"][k] for b in bounds) * SAFETY for k in bounds[0]["params"]}}
    return tol


def clip_tol(grads, dtype: str) -> list:
    """Entry-wise tolerance of a clipped list against the exact rule: (K + 6) u |g| (plus float64's)."""
    K = sum(int(np.size(g)) for g in grads)
    u = unit_roundoff(dtype) + UNIT_ROUNDOFF["float64"]
    return [SAFETY * (K + 6) * u * np.abs(np.asarray(g, np.float64)) for g in grads]


def norm_tol(norm: float, K: int, dtype: str) -> float:
    """Tolerance of a returned global norm of K entries: gamma_{K+2} relative (target and float64)."""
    u = unit_roundoff(dtype) + UNIT_ROUNDOFF["float64"]
    return SAFETY * gamma(K + 2, u) * abs(norm)
