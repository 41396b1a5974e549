"""Tolerances of the MLP and residual properties, from the forward-error model (Higham, Accuracy and
Stability of Numerical Algorithms, 2nd ed., §3.1, §3.5), written with the running-error arithmetic of
properties.errmodel (an ``E`` carries a float64 value and an entry-wise error bound for unit roundoff u).

u = u_target + u_float64 (`tolerances.u_total`: the target's rounding and the float64 oracle's together);
gamma_k = k u / (1 - k u); tol = SAFETY (= 2) times the bound, entry by entry.

MLP forward, a_0 = x exact:
  z_l = a_{l-1} W_l^T + b_l : e_z = gamma_{n_{l-1}+1} (|a_{l-1}||W_l|^T + |b_l|) + e_{a_{l-1}} |W_l|^T
        (one dot product of length n_{l-1} + 1 per entry, any order, FMA or not)
  a_l = phi(z_l)            : e_a = Lip e_z + 4 u (tanh: Lip <= min(1, phi'(z) + 0.77 e_z); sigmoid:
                              min(1/4, phi'(z) + 0.0963 e_z); relu: exact and 1-Lipschitz)
MLP backward (L = <dy, y>, delta_L = dy exact):
  dW_l = delta_l^T a_{l-1}  : gamma_B |delta_l|^T |a_{l-1}| + e_delta^T |a_{l-1}| + |delta_l|^T e_a (+ e e)
  db_l = sum_b delta_l      : gamma_B sum |delta_l| + sum e_delta
  s    = delta_l W_l        : gamma_{n_l} |delta_l||W_l| + e_delta |W_l|
  delta_{l-1} = phi'(z_{l-1}) * s, phi' written from the output (1 - a^2, s (1 - s)) with its own error,
        relu' = [z > 0] with error 1 where |z| <= e_z (a kink within the forward error: the full jump);
  dx = s at l = 1.
Residual block (x exact at the input): z = x W1^T + b1 as above, h = phi(z), and
  x' = x + h W2^T + b2 bounded as ONE dot product of length k + n + 1 (x enters as x I^T), so any order of
  the three additions is covered: e = gamma_{k+n+1} (|h||W2|^T + |x| + |b2|) + e_h |W2|^T + e_x.
Residual backward (g = dL/dx_l, g_L = dy exact): dW2 = g^T h, db2 = sum g, dz = phi'(z) * (g W2),
  dW1 = dz^T x, db1 = sum dz, g <- g + dz W1, the last bounded as one dot product of length k + n + 1
  (gamma_{k+n+1} (|dz||W1| + |g|) + propagated), so fused or separate accumulation is covered.

The bound is first order plus the product terms; SAFETY covers the rest. relu'(0) = 0 is the convention;
a pre-activation within its own error of 0 gets tolerance 1 on phi' (covers either side of the kink).
"""
from __future__ import annotations

import numpy as np

from . import errmodel as em
from .tolerances import SAFETY, u_total


def _dphi(activation: str, z: em.E, a: em.E) -> em.E:
    if activation == "tanh":
        return 1 - a * a
    if activation == "sigmoid":
        return a * (1 - a)
    return em.heaviside(z)


def _phi(activation: str, z: em.E) -> em.E:
    return {"tanh": em.tanh, "sigmoid": em.sigmoid, "relu": em.relu}[activation](z)


def _affine(a: em.E, W: em.E, b: em.E, extra: em.E | None = None) -> em.E:
    """a @ W.T + b (+ extra, entering as extra @ I^T): one dot product per entry, order-free bound."""
    B = a.v.shape[0]
    if extra is None:
        extra = em.exact(np.zeros((B, 0)), a.u)
        I = em.exact(np.zeros((W.v.shape[0], 0)), a.u)
    else:
        I = em.exact(np.eye(extra.v.shape[1]), a.u)
    return em.affine(a, W, extra, I, b)


def _mlp_model(x, layers, activation, u, dy=None):
    x = em.exact(np.asarray(x, np.float64), u)
    P = [(em.exact(np.asarray(W, np.float64), u), em.exact(np.asarray(b, np.float64), u)) for W, b in layers]
    a, zs, acts = x, [], [x]
    L = len(P)
    for l, (W, b) in enumerate(P, start=1):
        z = _affine(a, W, b)
        zs.append(z)
        a = _phi(activation, z) if l < L else z
        acts.append(a)
    if dy is None:
        return a
    delta = em.exact(np.asarray(dy, np.float64), u)
    grads = [None] * L
    for l in range(L, 0, -1):
        W = P[l - 1][0]
        grads[l - 1] = (delta.T @ acts[l - 1], delta.total(0))
        s = delta @ W
        if l > 1:
            delta = _dphi(activation, zs[l - 2], acts[l - 1]) * s
    return {"x": s, "layers": grads}


def mlp_forward_tol(x, layers, activation: str, dtype: str) -> np.ndarray:
    """Entry-wise tolerance of y (B, n_L) for a target in ``dtype``."""
    return SAFETY * _mlp_model(x, layers, activation, u_total(dtype)).e


def mlp_vjp_tol(x, layers, activation: str, dy, dtype: str) -> dict:
    """Entry-wise tolerances {"x", "layers": [(tol_dW, tol_db), ...]} of mlp_vjp's outputs."""
    m = _mlp_model(x, layers, activation, u_total(dtype), dy)
    return {"x": SAFETY * m["x"].e, "layers": [(SAFETY * dW.e, SAFETY * db.e) for dW, db in m["layers"]]}


def _residual_model(x, blocks, activation, u, dy=None):
    X = em.exact(np.asarray(x, np.float64), u)
    P = [tuple(em.exact(np.asarray(a, np.float64), u) for a in blk) for blk in blocks]
    xs, zs, hs = [X], [], []
    for W1, b1, W2, b2 in P:
        z = _affine(xs[-1], W1, b1)
        h = _phi(activation, z)
        zs.append(z)
        hs.append(h)
        xs.append(_affine(h, W2, b2, extra=xs[-1]))
    if dy is None:
        return xs[-1]
    g = em.exact(np.asarray(dy, np.float64), u)
    grads = [None] * len(P)
    for l in range(len(P), 0, -1):
        W1, _b1, W2, _b2 = P[l - 1]
        dz = _dphi(activation, zs[l - 1], hs[l - 1]) * (g @ W2)
        grads[l - 1] = (dz.T @ xs[l - 1], dz.total(0), g.T @ hs[l - 1], g.total(0))
        zero_b = em.exact(np.zeros(g.v.shape[1]), u)
        g = _affine(dz, W1.T, zero_b, extra=g)
    return {"x": g, "blocks": grads}


def residual_forward_tol(x, blocks, activation: str, dtype: str) -> np.ndarray:
    """Entry-wise tolerance of y (B, n) for a target in ``dtype``."""
    return SAFETY * _residual_model(x, blocks, activation, u_total(dtype)).e


def residual_vjp_tol(x, blocks, activation: str, dy, dtype: str) -> dict:
    """Entry-wise tolerances {"x", "blocks": [(tol_dW1, tol_db1, tol_dW2, tol_db2), ...]}."""
    m = _residual_model(x, blocks, activation, u_total(dtype), dy)
    return {"x": SAFETY * m["x"].e, "blocks": [tuple(SAFETY * t.e for t in blk) for blk in m["blocks"]]}
