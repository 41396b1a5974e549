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

How it is computed (the floating-point operations of a plain per-step loop, in the same order, arranged
for BLAS): the input projection of all steps is one (T*B, m) @ (m, n) matmul before the time
loop; a step does one (B, n) @ (n, n) matmul (forward: with a contiguous copy of W_h.T, BLAS's fast
layout; backward: delta_t @ W_h) and element-wise work into preallocated buffers (``out=``); the states
live in one (T + 1, B, n) array [h0, h_1, ..., h_T], so the previous states of all steps are the view
states[:-1]; dL/dxs, dL/dW_x, dL/dW_h and dL/db are single matmuls / sums over all T * B rows after the
backward loop, which writes delta_t over the no longer needed pre-activations.
"""
from __future__ import annotations

import numpy as np

from .checks import recurrent as checks
from .activations import relu, tanh
from .arith import matmul, total

_PHI = {"tanh": tanh, "relu": relu}


def _phi_into(activation: str, a, out):
    """out = phi(a) without a temporary: tanh(a) or max(a, 0) (NaN propagates, as `activations.relu`)."""
    if activation == "tanh":
        np.tanh(a, out=out)
    else:
        np.maximum(a, 0, out=out)


def param_count(kind: str, n: int, m: int, variant: str = "reset_after") -> int:
    """The parameters of one layer with one bias per gate (hidden size n, input size m):

    "rnn": n*m + n*n + n;  "lstm": 4 (n*m + n*n + n);  "gru": 3 (n*m + n*n + n) for ``variant``
    "reset_before", and 3 (n*m + n*n + n) + n for "reset_after" (its candidate keeps b_xn and b_hn apart:
    b_hn sits inside r * (.)).
    """
    fn = "param_count"
    checks.gru_variant(fn, variant)
    block = n * m + n * n + n
    if kind == "rnn":
        return block
    if kind == "lstm":
        return 4 * block
    if kind == "gru":
        return 3 * block + (n if variant == "reset_after" else 0)
    raise ValueError(f"{fn}: kind should be 'rnn', 'lstm' or 'gru', got {kind!r}")


def rnn_cell(x, h, p, activation: str = "tanh") -> np.ndarray:
    """h' = phi(x @ W_x.T + h @ W_h.T + b); x (B, m), h (B, n) -> (B, n)."""
    fn = "rnn_cell"
    phi = _PHI[checks.activation(fn, activation)]
    x, h, W_x, W_h, b, dt = checks.rnn_step(fn, x, h, p)
    a = matmul(x.astype(dt, copy=False), W_x.T.astype(dt, copy=False))
    a += matmul(h.astype(dt, copy=False), W_h.T.astype(dt, copy=False))
    a += b.astype(dt, copy=False)
    return phi(a)


def _forward(fn, xs, h0, p, activation):
    """Shared forward: returns (states (T + 1, B, n) = h0, h_1, ..., h_T; pre-activations (T, B, n);
    cast inputs). hs = states[1:] and the previous states of all steps are states[:-1]."""
    activation = checks.activation(fn, activation)
    xs, h0, W_x, W_h, b, dt = checks.rnn_sequence(fn, xs, h0, p)
    xs = xs.astype(dt, copy=False)
    W_x, W_h, b = (w.astype(dt, copy=False) for w in (W_x, W_h, b))
    T, B, m = xs.shape
    n = W_x.shape[0]
    # input projection of all steps at once: (T*B, m) @ (m, n) + b
    pre = matmul(xs.reshape(T * B, m), W_x.T).reshape(T, B, n)
    pre += b
    states = np.empty((T + 1, B, n), dt)
    states[0] = h0
    W_hT = np.ascontiguousarray(W_h.T)  # h @ W_h.T with a contiguous right operand (BLAS's fast path)
    hh = np.empty((B, n), dt)
    for t in range(T):
        np.matmul(states[t], W_hT, out=hh)
        pre[t] += hh  # a_t = x_t @ W_x.T + b + h_{t-1} @ W_h.T
        _phi_into(activation, pre[t], states[t + 1])  # h_t = phi(a_t)
    return states, pre, (xs, W_x, W_h, dt)


def rnn(xs, h0, p, activation: str = "tanh"):
    """Run the cell over time: xs (T, B, m), h0 (B, n) -> (hs (T, B, n), h_T (B, n)); T = 0 gives h_T = h0."""
    states, _, _ = _forward("rnn", xs, h0, p, activation)
    return states[1:], states[-1].copy()


def rnn_vjp(xs, h0, p, d_hs, d_hT, activation: str = "tanh") -> dict:
    """Hand-written BPTT: gradients of L = sum(d_hs * hs) + sum(d_hT * h_T).

    Returns {"xs": (T, B, m), "h0": (B, n), "params": {"W_x": (n, m), "W_h": (n, n), "b": (n,)}}.
    ``d_hs`` / ``d_hT`` may be None (zeros).
    """
    fn = "rnn_vjp"
    states, pre, (xs, W_x, W_h, dt) = _forward(fn, xs, h0, p, activation)
    T, B, m = xs.shape
    n = W_x.shape[0]
    d_hs, d_hT = checks.cotangents(fn, d_hs, d_hT, T, B, n, dt)
    d_hs = d_hs.astype(dt, copy=False)

    delta = pre  # dL/da_t, written over the pre-activations once they are no longer needed
    g = d_hT.astype(dt, copy=True)  # dL/dh_t flowing from later steps (and from h_T)
    dphi = np.empty((B, n), dt)
    for t in range(T - 1, -1, -1):
        g += d_hs[t]
        if activation == "tanh":  # phi'(a_t) = 1 - h_t^2
            np.multiply(states[t + 1], states[t + 1], out=dphi)
            np.subtract(1.0, dphi, out=dphi)
        else:  # phi'(a_t) = [a_t > 0]
            np.greater(pre[t], 0, out=dphi)
        np.multiply(g, dphi, out=delta[t])  # delta_t = g_t * phi'(a_t)
        np.matmul(delta[t], W_h, out=g)  # g_{t-1} (before adding d_hs[t-1]) = delta_t @ W_h
    # g is now dL/dh0 (or d_hT when T = 0)
    D = delta.reshape(T * B, n)
    return {
        "xs": matmul(D, W_x).reshape(T, B, m),
        "h0": g,
        "params": {
            "W_x": matmul(D.T, xs.reshape(T * B, m)),
            "W_h": matmul(D.T, states[:-1].reshape(T * B, n)),
            "b": total(D, 0),
        },
    }
