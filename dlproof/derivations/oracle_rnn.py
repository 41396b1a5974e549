"""The size-generic NumPy oracle of the vanilla RNN (chapter rnn), assembled only from proved, generated kernels.

Every formula here is a kernel printed from a compact formula that rnn.cell.* proves equal to the
element-wise derivation; the time loops are rnn.bptt.unroll (forward), rnn.bptt.gradient
(backward) and rnn.bptt.jacobian_product (the chain). Arrays follow the protocol: cells take batch
rows (B, k), sequences are time-major (T, B, k), weights are W_x (n, m), W_h (n, n), b (n,).
Internally column vectors are (B, k, 1). Computed in float64.
"""
from __future__ import annotations

import numpy as np

from dlproof.parameters import RNN_PARAMS

from . import kernels
from .oracle_args import col, params_tuple

ACTIVATIONS = ("tanh", "relu", "sigmoid")


def _k(name: str, activation: str):
    if activation not in ACTIVATIONS:
        raise ValueError(f"oracle: activation={activation!r}, but should be one of {ACTIVATIONS}")
    return getattr(kernels(), f"rnn_{name}_{activation}")


def _params(p):
    return params_tuple(p, RNN_PARAMS, "oracle")


def rnn_cell(x, h, p, activation="tanh"):
    """h' = phi(W_x x + W_h h + b) for batch rows: (B, m), (B, n) -> (B, n). [rnn.cell.forward]"""
    W_x, W_h, b = _params(p)
    return _k("forward", activation)(W_x, W_h, b, col(x), col(h))[..., 0]


def rnn_cell_jacobians(x, h, p, activation="tanh"):
    """Numerator-layout Jacobians of one cell: {"h": (B,n,n), "x": (B,n,m), "b": (B,n,n)}. [rnn.cell.jacobian_*]"""
    W_x, W_h, b = _params(p)
    args = (W_x, W_h, b, col(x), col(h))
    return {w: _k(f"jac_{w}", activation)(*args) for w in ("h", "x", "b")}


def unroll(step, xs, h0):
    """h_t = step(x_t, h_{t-1}) over time: (T, B, m), (B, n) -> (hs (T, B, n), h_T). [rnn.bptt.unroll]"""
    xs = np.asarray(xs, np.float64)
    h = np.asarray(h0, np.float64)
    hs = np.empty((xs.shape[0],) + h.shape)
    for t in range(xs.shape[0]):
        h = hs[t] = step(xs[t], h)
    return hs, h.copy()


def rnn_forward(xs, h0, p, activation="tanh"):
    """Unrolled forward: (T, B, m), (B, n) -> (hs (T, B, n), h_T). [rnn.bptt.unroll]"""
    return unroll(lambda x, h: rnn_cell(x, h, p, activation), xs, h0)


def rnn_vjp(xs, h0, p, d_hs, d_hT, activation="tanh"):
    """Gradients of L = <d_hs, hs> + <d_hT, h_T>, by the proved BPTT recursion. [rnn.bptt.gradient]"""
    xs = np.asarray(xs, np.float64)
    h0 = np.asarray(h0, np.float64)
    W_x, W_h, b = _params(p)
    hs, _ = rnn_forward(xs, h0, p, activation)
    prev = np.concatenate([h0[None], hs[:-1]]) if len(xs) else hs
    T = xs.shape[0]
    grads = {"W_x": np.zeros_like(W_x), "W_h": np.zeros_like(W_h), "b": np.zeros_like(b)}
    d_xs = np.zeros_like(xs)
    delta = col(np.asarray(d_hs, np.float64)[T - 1] + np.asarray(d_hT, np.float64)) if T else col(d_hT)
    d_h0 = np.asarray(d_hT, np.float64).copy() if T == 0 else None
    for t in range(T - 1, -1, -1):
        args = (W_x, W_h, b, col(xs[t]), col(prev[t]), delta)
        for name in grads:
            grads[name] += _k(f"vjp_{name}", activation)(*args).sum(axis=0)
        d_xs[t] = _k("vjp_x", activation)(*args)[..., 0]
        back = _k("vjp_h", activation)(*args)
        if t > 0:
            delta = col(np.asarray(d_hs, np.float64)[t - 1]) + back
        else:
            d_h0 = back[..., 0]
    grads["b"] = grads["b"][:, 0]
    return {"xs": d_xs, "h0": d_h0, "params": grads}


def rnn_jacobian_chain(xs, h0, p, k, t, activation="tanh"):
    """dh_t/dh_k = J_t ... J_{k+1} (numerator layout, latest-left), (B, n, n); states 1-based, h_0 = h0. [rnn.bptt.jacobian_product]"""
    hs, _ = rnn_forward(xs, h0, p, activation)
    states = np.concatenate([np.asarray(h0, np.float64)[None], hs])
    P = np.broadcast_to(np.eye(states.shape[-1]), states.shape[1:] + (states.shape[-1],)).copy()
    for i in range(k + 1, t + 1):
        P = rnn_cell_jacobians(xs[i - 1], states[i - 1], p, activation)["h"] @ P
    return P
