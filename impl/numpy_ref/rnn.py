"""Elman RNN in NumPy: cell, time-major forward, and a hand-written BPTT backward (no autodiff).

Column-vector math h_t = phi(W_x x_t + W_h h_{t-1} + b), phi in {tanh, relu}, computed on batch rows as
``a_t = x_t @ W_x.T + h_{t-1} @ W_h.T + b``, ``h_t = phi(a_t)``. Shapes: W_x (n, m), W_h (n, n), b (n,);
xs (T, B, m), h0 (B, n), hs (T, B, n). Computation runs in the inputs' (common) floating dtype.

Backward of L = <d_hs, hs> + <d_hT, h_T>, latest step first. With g_t = dL/dh_t (total, from d_hs[t] and
from step t + 1) and delta_t = g_t * phi'(a_t) (phi' = 1 - h_t^2 for tanh, [a_t > 0] for relu):
    g_{t-1} = d_hs[t-1] + delta_t @ W_h,  dL/dx_t = delta_t @ W_x,
    dL/dW_x = sum_t delta_t^T x_t,  dL/dW_h = sum_t delta_t^T h_{t-1},  dL/db = sum_t sum_batch delta_t,
i.e. in numerator layout the transpose of the Jacobian product dh_t/dh_k = J_t ... J_{k+1},
J_i = diag(phi'(a_i)) W_h.
"""
from __future__ import annotations

import numpy as np

from . import _checks
from .activations import drelu, dtanh_from_output, relu, tanh

_PHI = {"tanh": tanh, "relu": relu}


def rnn_cell(x, h, p, activation: str = "tanh") -> np.ndarray:
    """h' = phi(x @ W_x.T + h @ W_h.T + b); x (B, m), h (B, n) -> (B, n)."""
    fn = "rnn_cell"
    phi = _PHI[_checks.activation(fn, activation)]
    x, h, W_x, W_h, b, dt = _checks.rnn_step(fn, x, h, p)
    a = x.astype(dt, copy=False) @ W_x.T.astype(dt, copy=False)
    a += h.astype(dt, copy=False) @ W_h.T.astype(dt, copy=False)
    a += b.astype(dt, copy=False)
    return phi(a)


def _forward(fn, xs, h0, p, activation):
    """Shared forward: returns (hs, pre-activations, cast inputs)."""
    phi = _PHI[_checks.activation(fn, activation)]
    xs, h0, W_x, W_h, b, dt = _checks.rnn_sequence(fn, xs, h0, p)
    xs, h0 = xs.astype(dt, copy=False), h0.astype(dt, copy=False)
    W_x, W_h, b = (w.astype(dt, copy=False) for w in (W_x, W_h, b))
    T, B, m = xs.shape
    n = W_x.shape[0]
    # input projection of all steps at once: (T*B, m) @ (m, n) + b
    pre = (xs.reshape(T * B, m) @ W_x.T).reshape(T, B, n)
    pre += b
    hs = np.empty((T, B, n), dt)
    W_hT = W_h.T
    h = h0
    for t in range(T):
        pre[t] += h @ W_hT
        hs[t] = phi(pre[t])
        h = hs[t]
    return hs, pre, (xs, h0, W_x, W_h, b, dt)


def rnn_forward(xs, h0, p, activation: str = "tanh"):
    """Run the cell over time: xs (T, B, m), h0 (B, n) -> (hs (T, B, n), h_T (B, n)); T = 0 gives h_T = h0."""
    hs, _, (_, h0c, *_rest) = _forward("rnn_forward", xs, h0, p, activation)
    h_T = hs[-1].copy() if hs.shape[0] else h0c.copy()
    return hs, h_T


def rnn_vjp(xs, h0, p, d_hs, d_hT, activation: str = "tanh") -> dict:
    """Hand-written BPTT: gradients of L = sum(d_hs * hs) + sum(d_hT * h_T).

    Returns {"xs": (T, B, m), "h0": (B, n), "params": {"W_x": (n, m), "W_h": (n, n), "b": (n,)}}.
    ``d_hs`` / ``d_hT`` may be None (zeros).
    """
    fn = "rnn_vjp"
    hs, pre, (xs, h0, W_x, W_h, b, dt) = _forward(fn, xs, h0, p, activation)
    T, B, m = xs.shape
    n = W_x.shape[0]
    d_hs, d_hT = _checks.cotangents(fn, d_hs, d_hT, T, B, n, dt)
    d_hs, d_hT = d_hs.astype(dt, copy=False), d_hT.astype(dt, copy=False)

    delta = np.empty((T, B, n), dt)  # dL/da_t
    g = d_hT.copy()  # dL/dh_t flowing from later steps (and from h_T)
    for t in range(T - 1, -1, -1):
        g += d_hs[t]
        dphi = dtanh_from_output(hs[t]) if activation == "tanh" else drelu(pre[t])
        np.multiply(g, dphi, out=delta[t])
        g = delta[t] @ W_h
    # g is now dL/dh0 (or d_hT when T = 0)
    h_prev = np.empty((T, B, n), dt)
    if T:
        h_prev[0] = h0
        h_prev[1:] = hs[:-1]
    D = delta.reshape(T * B, n)
    return {
        "xs": (D @ W_x).reshape(T, B, m),
        "h0": g,
        "params": {
            "W_x": D.T @ xs.reshape(T * B, m),
            "W_h": D.T @ h_prev.reshape(T * B, n),
            "b": D.sum(axis=0),
        },
    }
