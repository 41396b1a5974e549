"""The forward-error model of batch normalization: entry-wise tolerances per dtype (float32, float64).

Conventions of properties/tolerances.py: u = u_target + u_float64 (`u_total`, which covers the target and the
float64 oracle together), gamma_k = k u / (1 - k u), tolerance = SAFETY (2) times the bound. Per feature,
inputs exact in the target's dtype, column of N entries (Higham, Accuracy and Stability, §3.1, §3.5):

  mean:      mu^ = mu + delta,   |delta| <= e_mu = gamma_{N+1} sum|x| / N       (sum, then / N or * (1/N))
  variance:  two-pass, d^_i = (x_i - mu^)(1 + th_i); sum (d_i - delta)^2 = N var + N delta^2 exactly (sum d_i = 0),
             so |var^ - var| <= e_var = delta^2 + gamma_{N+4} (var + delta^2)      (squares, sum, / N)
  w = var + eps:  e_w = e_var + u eps + u (var + eps + e_var)                   (eps rounded to the dtype, one add)
  s = sqrt(w):    e_s = e_w / (s + sqrt(max(w - e_w, 0))) + u sqrt(w + e_w);  s_lo = max(s - e_s, s / 2)
  xhat:      e_d = e_mu + u (|d| + e_mu);  e_xhat = (e_d + |d| e_s / s) / s_lo + 2 u (|d| + e_d) / s_lo
  y:         e_y = |gamma| e_xhat + gamma_3 (|gamma| (|xhat| + e_xhat) + |beta|) + gamma_3 |gamma| (|x| + |mu|) / s_lo
             (the last term covers the folded form y = x alpha + (beta - mu alpha), alpha = gamma / s, that
             torch's kernel uses: its products round at the size of |x alpha| and |mu alpha|)
  inference: the same with mu = running_mean, var = running_var exact inputs (e_mu = e_var = 0).
  running:   e_rm = m e_mu + gamma_4 (|rm| + m (|rm| + |mu|));
             e_rv = m c e_var + gamma_5 (|rv| + m (|rv| + c var)),  c = N/(N-1) (unbiased) or 1 (biased).
  VJP:       with M_i = |gamma|/s (|dy_i| + mean|dy| + |xhat_i| mean|dy xhat|) (the magnitude of every route's
             terms: the three-term formula, the explicit Jacobian, autograd through mean/var/sqrt),
             e_dx = gamma_{2N+8} M + |gamma|/s_lo (e_xhat |S|/N + |xhat| sum(|dy| e_xhat)/N) + M e_s / s_lo,
             S = sum dy xhat;  e_dgamma = gamma_{N+2} sum|dy xhat| + sum |dy| e_xhat + sum|dy xhat| e_s / s_lo;
             e_dbeta = gamma_N sum|dy|.

Not covered: a one-pass variance mean(x^2) - mu^2 (its error is u mean(x^2), which for a column with a large
offset and a small spread is far above the two-pass bound): such a target fails bn.forward.train on the
offset columns the strategy draws, by design.
"""
from __future__ import annotations

import numpy as np

from .tolerances import SAFETY, UNIT_ROUNDOFF, gamma, u_total


def _f64(*arrays):
    return [np.asarray(a, np.float64) for a in arrays]


def _normalized(x, mu, var, e_mu, e_var, eps, u):
    """(xhat, d, s, s_lo, e_s, e_d, e_xhat) for exact x, centre mu (error e_mu), variance var (error e_var)."""
    d = x - mu
    w = var + eps
    e_w = e_var + u * eps + u * (w + e_var)
    s = np.sqrt(w)
    e_s = e_w / (s + np.sqrt(np.maximum(w - e_w, 0.0))) + u * np.sqrt(w + e_w)
    s_lo = np.maximum(s - e_s, s / 2)
    e_d = e_mu + u * (np.abs(d) + e_mu)
    e_xhat = (e_d + np.abs(d) * e_s / s) / s_lo + 2 * u * (np.abs(d) + e_d) / s_lo
    return d / s, d, s, s_lo, e_s, e_d, e_xhat


def train_stats_bound(x, u):
    """(mu, var, e_mu, e_var) per feature of the two-pass statistics (module doc)."""
    (x,) = _f64(x)
    N = x.shape[0]
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).mean(axis=0)
    e_mu = gamma(N + 1, u) * np.abs(x).sum(axis=0) / N
    e_var = e_mu ** 2 + gamma(N + 4, u) * (var + e_mu ** 2)
    return mu, var, e_mu, e_var


def _y_bound(x, g, b, mu, xh, s_lo, e_xhat, u):
    ag = np.abs(g)
    return ag * e_xhat + gamma(3, u) * (ag * (np.abs(xh) + e_xhat) + np.abs(b)) + gamma(3, u) * ag * (np.abs(x) + np.abs(mu)) / s_lo


def forward_tol(x, gamma_, beta, running_mean, running_var, training, momentum, eps, dtype, convention="unbiased"):
    """Entry-wise tolerances (tol_y (N, C), tol_rm (C,), tol_rv (C,)) of batchnorm in ``dtype`` ("float32",
    "float64" or "tf32"; see tolerances.precision). In inference the running statistics must come back exactly."""
    u = u_total(dtype)
    x, g, b, rm, rv = _f64(x, gamma_, beta, running_mean, running_var)
    eps, m = float(eps), float(momentum)
    if not training:
        xh, d, s, s_lo, e_s, e_d, e_x = _normalized(x, rm, rv, 0.0, 0.0, eps, u)
        return SAFETY * _y_bound(x, g, b, rm, xh, s_lo, e_x, u), np.zeros_like(rm), np.zeros_like(rv)
    mu, var, e_mu, e_var = train_stats_bound(x, u)
    xh, d, s, s_lo, e_s, e_d, e_x = _normalized(x, mu, var, e_mu, e_var, eps, u)
    N = x.shape[0]
    c = N / (N - 1) if convention == "unbiased" else 1.0
    e_rm = m * e_mu + gamma(4, u) * (np.abs(rm) + m * (np.abs(rm) + np.abs(mu)))
    e_rv = m * c * e_var + gamma(5, u) * (np.abs(rv) + m * (np.abs(rv) + c * var))
    return SAFETY * _y_bound(x, g, b, mu, xh, s_lo, e_x, u), SAFETY * e_rm, SAFETY * e_rv


def vjp_tol(x, gamma_, eps, dy, dtype) -> dict:
    """Entry-wise tolerances {"x" (N, C), "gamma" (C,), "beta" (C,)} of batchnorm_vjp in ``dtype``."""
    u = u_total(dtype)
    x, g, dy = _f64(x, gamma_, dy)
    N = x.shape[0]
    mu, var, e_mu, e_var = train_stats_bound(x, u)
    xh, d, s, s_lo, e_s, e_d, e_x = _normalized(x, mu, var, e_mu, e_var, float(eps), u)
    ag, ady = np.abs(g), np.abs(dy)
    S = (dy * xh).sum(axis=0)
    M = ag / s * (ady + ady.mean(axis=0) + np.abs(xh) * np.abs(dy * xh).mean(axis=0))
    e_dx = (gamma(2 * N + 8, u) * M + ag / s_lo * (e_x * np.abs(S) / N + np.abs(xh) * (ady * e_x).sum(axis=0) / N)
            + M * e_s / s_lo)
    adyx = np.abs(dy * xh).sum(axis=0)
    e_dg = gamma(N + 2, u) * adyx + (ady * e_x).sum(axis=0) + adyx * e_s / s_lo
    e_db = gamma(N, u) * ady.sum(axis=0)
    return {"x": SAFETY * e_dx, "gamma": SAFETY * e_dg, "beta": SAFETY * e_db}


def column_sum_tol(values, tol_values) -> np.ndarray:
    """(C,): tolerance of sum_i v_i (in float64) given entry-wise tolerances of v (N, C): their sum, plus the
    float64 summation's gamma_N sum|v|."""
    v, t = _f64(values, tol_values)
    return t.sum(axis=0) + SAFETY * gamma(v.shape[0], UNIT_ROUNDOFF["float64"]) * np.abs(v).sum(axis=0)


def xhat_float64_err(x, eps) -> np.ndarray:
    """(N, C): the error bound of xhat computed in float64 (the oracle's), e_xhat of the module doc at u = u_64."""
    (x,) = _f64(x)
    u = UNIT_ROUNDOFF["float64"]
    mu, var, e_mu, e_var = train_stats_bound(x, u)
    return _normalized(x, mu, var, e_mu, e_var, float(eps), u)[-1]


def residual_float64_err(x, gamma_, eps, dy, expected) -> np.ndarray:
    """(C,): error bound of the float64 residual gamma/s (sum dy xhat) eps/(var + eps) (bn.grad.xhat_residual):
    the float64 xhat's error through sum dy xhat, plus 16 u_64 of the value (a few roundings)."""
    x, g, dy, e = _f64(x, gamma_, dy, expected)
    eps = float(eps)
    _, var = x.mean(axis=0), x.var(axis=0)
    s = np.sqrt(var + eps)
    ex = xhat_float64_err(x, eps)
    return np.abs(g) / s * (np.abs(dy) * ex).sum(axis=0) * eps / (var + eps) + 16 * UNIT_ROUNDOFF["float64"] * np.abs(e)


def dot_tol(values, tol_values, weights, weights_err, expected_err) -> np.ndarray:
    """(C,): tolerance of sum_i v_i w_i, formed in float64 from the target's v (entry-wise tolerance tol_v) and
    float64 weights w (error weights_err), against an expected value with error bound ``expected_err``:
    sum |w| tol_v + SAFETY (sum |v| e_w + gamma_{N+2} sum |v w| + expected_err)."""
    v, t, w, ew, ee = _f64(values, tol_values, weights, weights_err, expected_err)
    u64 = UNIT_ROUNDOFF["float64"]
    return ((np.abs(w) * t).sum(axis=0)
            + SAFETY * ((np.abs(v) * ew).sum(axis=0) + gamma(v.shape[0] + 2, u64) * np.abs(v * w).sum(axis=0) + ee))
