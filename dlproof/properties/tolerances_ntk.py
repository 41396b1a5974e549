"""Tolerances of the NTK properties, from the forward-error model (Higham, Accuracy and Stability of Numerical
Algorithms, 2nd ed., §3.1): u = u_target + u_float64 (`tolerances.u_total`), gamma_k = k u / (1 - k u),
tol = SAFETY (= 2) times the bound, entry by entry, evaluated in float64 on the exact inputs.

K[i, j] = (1/m) sum_r [relu(u_ir) relu(u'_jr) + a_r^2 H(u_ir) H(u'_jr) x_i.x'_j], u_ir = w_r.x_i, whatever the
route (Jacobian Gram product or the explicit per-unit sum):
  pre-activation  |fl(u) - u| <= e = gamma_d |w_r|.|x_i| (a dot product of length d; relu is 1-Lipschitz, exact);
  relu products   E_a = (1/m) sum_r (e_ir R'_jr + R_ir e'_jr + e_ir e'_jr), R = relu(u);
  kinks           where |u_ir| <= e_ir the computed H may be either value: the unit's W-term may be dropped or
                  added in full, E_H = (1/m) sum_r a_r^2 (k_ir h'_jr + h_ir k'_jr) |x_i|.|x'_j|, k = [|u| <= e],
                  h = [u > -e] (H possibly 1);
  accumulation    one sum of m (d + 1) products of <= 4 rounded factors each (the 1/sqrt(m) or 1/m scaling: a sqrt
                  and a division per factor, a_r^2, the x.x' dot product of length d): E_acc = gamma_{m(d+1)+d+8}
                  (1/m) sum_r [(R + e)_ir (R' + e')_jr + a_r^2 h_ir h'_jr |x_i|.|x'_j|], any order, FMA or not.
tol = SAFETY (E_a + E_H + E_acc).
"""
from __future__ import annotations

import numpy as np

from .tolerances import SAFETY, gamma, u_total


def empirical_tol(X1, X2, W, a, precision: str) -> np.ndarray:
    """Entry-wise tolerance (n1, n2) of a target's empirical_ntk against the exact kernel (module doc)."""
    X1, X2, W, a = (np.asarray(v, np.float64) for v in (X1, X2, W, a))
    m, d = W.shape
    u = u_total(precision)
    g = gamma(d, u)
    aW = np.abs(W)
    U1, U2 = X1 @ W.T, X2 @ W.T
    e1, e2 = g * (np.abs(X1) @ aW.T), g * (np.abs(X2) @ aW.T)
    R1, R2 = np.maximum(U1, 0.0), np.maximum(U2, 0.0)
    k1, k2 = (np.abs(U1) <= e1).astype(np.float64), (np.abs(U2) <= e2).astype(np.float64)
    h1, h2 = (U1 > -e1).astype(np.float64), (U2 > -e2).astype(np.float64)
    a2 = a * a
    xx = np.abs(X1) @ np.abs(X2).T
    E_a = (e1 @ R2.T + R1 @ e2.T + e1 @ e2.T) / m
    E_H = ((a2 * k1) @ h2.T + (a2 * h1) @ k2.T) * xx / m
    E_acc = gamma(m * (d + 1) + d + 8, u) * ((R1 + e1) @ (R2 + e2).T + (a2 * h1) @ h2.T * xx) / m
    return SAFETY * (E_a + E_H + E_acc)
