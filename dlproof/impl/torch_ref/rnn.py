"""Elman RNN with torch ops; gradients by torch.autograd (not the hand-written NumPy BPTT).

Same math and conventions as `dlproof.impl.numpy_ref.rnn`: a_t = x_t @ W_x.T + h_{t-1} @ W_h.T + b,
h_t = phi(a_t), phi in {tanh, relu} (torch's relu'(0) = 0); xs (T, B, m), h0 (B, n), hs (T, B, n).
NumPy arrays in and out; computation in torch.float16 / bfloat16 / float32 / float64 matching the inputs' NumPy dtype.
`rnn_vjp` returns torch.autograd.grad of L = sum(d_hs * hs) + sum(d_hT * h_T). ``param_count`` is the NumPy
reference's (a count, the same with torch).
"""
from __future__ import annotations

import numpy as np

from ..numpy_ref.checks import recurrent as checks
from ..numpy_ref.rnn import param_count  # noqa: F401 - the chapter's capability: counting needs no torch
from ._torch import to_numpy, to_torch, torch, torch_dtype

_PHI = {"tanh": torch.tanh, "relu": torch.relu}


def _cell(x, h, W_x, W_h, b, phi):
    return phi(torch.addmm(b, x, W_x.T) + h @ W_h.T)


def rnn_cell(x, h, p, activation: str = "tanh") -> np.ndarray:
    """h' = phi(x @ W_x.T + h @ W_h.T + b); x (B, m), h (B, n) -> (B, n)."""
    fn = "rnn_cell"
    phi = _PHI[checks.activation(fn, activation)]
    x, h, W_x, W_h, b, dt = checks.rnn_step(fn, x, h, p)
    td = torch_dtype(dt)
    with torch.no_grad():
        out = _cell(*(to_torch(a, td) for a in (x, h, W_x, W_h, b)), phi)
    return to_numpy(out, dt)


def _run(xs, h0, W_x, W_h, b, phi):
    T, B, m = xs.shape
    n = W_x.shape[0]
    pre = torch.addmm(b, xs.reshape(T * B, m), W_x.T).reshape(T, B, n)  # all input projections at once
    h, hs = h0, []
    for t in range(T):
        h = phi(pre[t] + h @ W_h.T)
        hs.append(h)
    hs = torch.stack(hs) if hs else xs.new_zeros((0, B, n))
    return hs, h


def rnn(xs, h0, p, activation: str = "tanh"):
    """xs (T, B, m), h0 (B, n) -> (hs (T, B, n), h_T (B, n))."""
    fn = "rnn"
    phi = _PHI[checks.activation(fn, activation)]
    xs, h0, W_x, W_h, b, dt = checks.rnn_sequence(fn, xs, h0, p)
    td = torch_dtype(dt)
    with torch.no_grad():
        hs, h_T = _run(*(to_torch(a, td) for a in (xs, h0, W_x, W_h, b)), phi)
    return to_numpy(hs, dt), to_numpy(h_T, dt).copy()


def rnn_vjp(xs, h0, p, d_hs, d_hT, activation: str = "tanh") -> dict:
    """torch.autograd gradients of L = sum(d_hs * hs) + sum(d_hT * h_T) (None cotangents mean zeros).

    Returns {"xs", "h0", "params": {"W_x", "W_h", "b"}} as NumPy arrays.
    """
    fn = "rnn_vjp"
    phi = _PHI[checks.activation(fn, activation)]
    xs, h0, W_x, W_h, b, dt = checks.rnn_sequence(fn, xs, h0, p)
    T, B, _ = xs.shape
    d_hs, d_hT = checks.cotangents(fn, d_hs, d_hT, T, B, W_x.shape[0], dt)
    td = torch_dtype(dt)
    leaves = [to_torch(a, td, requires_grad=True) for a in (xs, h0, W_x, W_h, b)]
    with torch.enable_grad():
        hs, h_T = _run(*leaves, phi)
        L = (to_torch(d_hs, td) * hs).sum() + (to_torch(d_hT, td) * h_T).sum()
        g = torch.autograd.grad(L, leaves, allow_unused=True)
    g = [to_numpy(gi, dt) if gi is not None else np.zeros(leaf.shape, dt) for gi, leaf in zip(g, leaves)]
    return {"xs": g[0], "h0": g[1], "params": {"W_x": g[2], "W_h": g[3], "b": g[4]}}
