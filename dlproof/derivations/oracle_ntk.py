"""The float64 NTK oracle, written from the derivations (ntk.*), by routes of its own.

- `empirical`: the explicit per-unit sum of ntk.empirical.definition,
      K[i, j] = (1/m) sum_r [relu(w_r.x_i) relu(w_r.x'_j) + a_r^2 H(w_r.x_i) H(w_r.x'_j) (x_i.x'_j)],  H(0) = 0,
  accumulated unit by unit over r (no Jacobian is formed; the references build per-example gradients and a Gram
  product instead).
- `theta`: the arc-cosine closed form of ntk.analytic, Theta = kappa1 + (x.x') kappa0, with the angle from Kahan's
  stable formula theta = 2 atan2(|u - u'|, |u + u'|), u = x/|x| (arccos of the cosine loses half the digits near 0).
- `unit_variance`: v = M22 + 2 (x.x') kappa1 + 3 (x.x')^2 kappa0 - Theta^2 of ntk.empirical.variance (the
  variance of one unit's term; Var K_m = v/m).
A zero point gives Theta = v = 0 (every term carries |x| or x.x'). Inputs X1 (n1, d), X2 (n2, d), W (m, d), a (m,);
everything in float64; inputs are never mutated.
"""
from __future__ import annotations

import numpy as np


def _f64(*arrays):
    return [np.asarray(a, np.float64) for a in arrays]


def empirical(X1, X2, W, a):
    """K (n1, n2): the explicit per-unit sum (module doc). [ntk.empirical.definition]"""
    X1, X2, W, a = _f64(X1, X2, W, a)
    m = W.shape[0]
    dots = X1 @ X2.T
    K = np.zeros((X1.shape[0], X2.shape[0]))
    for r in range(m):
        u1, u2 = X1 @ W[r], X2 @ W[r]
        K += np.outer(np.maximum(u1, 0.0), np.maximum(u2, 0.0))
        K += a[r] ** 2 * np.outer((u1 > 0).astype(np.float64), (u2 > 0).astype(np.float64)) * dots
    return K / m


def angle(X1, X2):
    """(theta (n1, n2), |x| (n1, 1), |x'| (1, n2)); theta = pi/2 where a point is 0 (every term then vanishes)."""
    X1, X2 = _f64(X1, X2)
    n1, n2 = np.linalg.norm(X1, axis=1), np.linalg.norm(X2, axis=1)
    U1 = np.divide(X1, n1[:, None], out=np.zeros_like(X1), where=n1[:, None] > 0)
    U2 = np.divide(X2, n2[:, None], out=np.zeros_like(X2), where=n2[:, None] > 0)
    diff = np.linalg.norm(U1[:, None, :] - U2[None, :, :], axis=2)
    summ = np.linalg.norm(U1[:, None, :] + U2[None, :, :], axis=2)
    t = 2.0 * np.arctan2(diff, summ)
    t = np.where((n1[:, None] > 0) & (n2[None, :] > 0), t, np.pi / 2)
    return t, n1[:, None], n2[None, :]


def kappa0(X1, X2):
    """E[H(w.x) H(w.x')] = (pi - theta)/(2 pi). [ntk.arccos.kappa0]"""
    t, _, _ = angle(X1, X2)
    return (np.pi - t) / (2 * np.pi)


def kappa1(X1, X2):
    """E[relu(w.x) relu(w.x')] = |x||x'| (sin theta + (pi - theta) cos theta)/(2 pi). [ntk.arccos.kappa1]"""
    t, a, b = angle(X1, X2)
    return a * b * (np.sin(t) + (np.pi - t) * np.cos(t)) / (2 * np.pi)


def theta(X1, X2):
    """Theta (n1, n2) = kappa1 + (x.x') kappa0. [ntk.analytic]"""
    X1, X2 = _f64(X1, X2)
    return kappa1(X1, X2) + (X1 @ X2.T) * kappa0(X1, X2)


def m22(X1, X2):
    """E[relu(w.x)^2 relu(w.x')^2] = |x|^2|x'|^2 ((pi - t)(2 + cos 2t) + 1.5 sin 2t)/(2 pi). [ntk.empirical.variance]"""
    t, a, b = angle(X1, X2)
    return (a * b) ** 2 * ((np.pi - t) * (2 + np.cos(2 * t)) + 1.5 * np.sin(2 * t)) / (2 * np.pi)


def unit_variance(X1, X2):
    """v (n1, n2): the variance of one unit's term; Var K_m = v / m. [ntk.empirical.variance]"""
    X1, X2 = _f64(X1, X2)
    dots = X1 @ X2.T
    second = m22(X1, X2) + 2 * dots * kappa1(X1, X2) + 3 * dots ** 2 * kappa0(X1, X2)
    return np.maximum(second - theta(X1, X2) ** 2, 0.0)
