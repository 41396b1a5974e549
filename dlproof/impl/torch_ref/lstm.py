"""LSTM with torch ops; gradients by torch.autograd (not the hand-written NumPy BPTT).

Same math and conventions as `dlproof.impl.numpy_ref.lstm`: gate order i, f, g, o,
i, f, o = sigmoid(W_x* x + W_h* h + b_*), g = tanh(...), c' = f * c + i * g, h' = o * tanh(c'), on batch
rows; W_x* (n, m), W_h* (n, n), b_* (n,); xs (T, B, m), h0 and c0 (B, n), hs (T, B, n). The four gate
blocks are stacked into one (4n, m) / (4n, n) matmul. NumPy arrays in and out; computation in
torch.float16 / bfloat16 / float32 / float64 matching the inputs' NumPy dtype. `lstm_vjp` returns torch.autograd.grad of
L = sum(d_hs * hs) + sum(d_hT * h_T) + sum(d_cT * c_T).
"""
from __future__ import annotations

import numpy as np

from dlproof.parameters import BLOCKS, LSTM_PARAMS

from ..numpy_ref.checks import recurrent as checks
from ._torch import to_numpy, to_torch, torch, torch_dtype


def stack(P: dict):
    """(W_x (4n, m), W_h (4n, n), b (4n,)) from torch tensors keyed by the 12 names, gate order i, f, g, o."""
    W_x = torch.cat([P[wx] for wx, _, _ in BLOCKS["lstm"]])
    W_h = torch.cat([P[wh] for _, wh, _ in BLOCKS["lstm"]])
    b = torch.cat([P[b] for _, _, b in BLOCKS["lstm"]])
    return W_x, W_h, b


def _gates(a):
    i, f, g, o = a.chunk(4, dim=-1)
    return torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)


def _cell(x, h, c, W_x, W_h, b):
    i, f, g, o = _gates(torch.addmm(b, x, W_x.T) + h @ W_h.T)
    c = f * c + i * g
    return o * torch.tanh(c), c


def _run(xs, h0, c0, P):
    W_x, W_h, b = stack(P)
    T, B, m = xs.shape
    n = W_h.shape[1]
    pre = torch.addmm(b, xs.reshape(T * B, m), W_x.T).reshape(T, B, 4 * n)  # all input projections at once
    h, c, hs = h0, c0, []
    for t in range(T):
        i, f, g, o = _gates(pre[t] + h @ W_h.T)
        c = f * c + i * g
        h = o * torch.tanh(c)
        hs.append(h)
    hs = torch.stack(hs) if hs else xs.new_zeros((0, B, n))
    return hs, h, c


def _tensors(arrays, dt, requires_grad=False):
    td = torch_dtype(dt)
    return [to_torch(a, td, requires_grad=requires_grad) for a in arrays]


def lstm_cell(x, h, c, p):
    """One step: x (B, m), h (B, n), c (B, n) -> (h' (B, n), c' (B, n))."""
    fn = "lstm_cell"
    x, (h, c), params, dt = checks.gated_step(fn, x, [("h", h), ("c", c)], p, LSTM_PARAMS)
    x, h, c, *ps = _tensors([x, h, c, *params.values()], dt)
    with torch.no_grad():
        h_new, c_new = _cell(x, h, c, *stack(dict(zip(LSTM_PARAMS, ps))))
    return to_numpy(h_new, dt), to_numpy(c_new, dt)


def lstm(xs, h0, c0, p):
    """xs (T, B, m), h0 (B, n), c0 (B, n) -> (hs (T, B, n), (h_T, c_T))."""
    fn = "lstm"
    xs, (h0, c0), params, dt = checks.gated_sequence(fn, xs, [("h0", h0), ("c0", c0)], p, LSTM_PARAMS)
    xs, h0, c0, *ps = _tensors([xs, h0, c0, *params.values()], dt)
    with torch.no_grad():
        hs, h_T, c_T = _run(xs, h0, c0, dict(zip(LSTM_PARAMS, ps)))
    return to_numpy(hs, dt), (to_numpy(h_T, dt).copy(), to_numpy(c_T, dt).copy())


def lstm_vjp(xs, h0, c0, p, d_hs, d_hT, d_cT) -> dict:
    """torch.autograd gradients of L = sum(d_hs * hs) + sum(d_hT * h_T) + sum(d_cT * c_T).

    Returns {"xs", "h0", "c0", "params": {the 12 names}} as NumPy arrays; None cotangents mean zeros.
    """
    fn = "lstm_vjp"
    xs, (h0, c0), params, dt = checks.gated_sequence(fn, xs, [("h0", h0), ("c0", c0)], p, LSTM_PARAMS)
    T, B, _ = xs.shape
    n = h0.shape[1]
    d_hs, d_hT = checks.cotangents(fn, d_hs, d_hT, T, B, n, dt)
    d_cT = checks.state_cotangent(fn, "d_cT", d_cT, B, n, dt)
    leaves = _tensors([xs, h0, c0, *params.values()], dt, requires_grad=True)
    d_hs, d_hT, d_cT = _tensors([d_hs, d_hT, d_cT], dt)
    with torch.enable_grad():
        hs, h_T, c_T = _run(leaves[0], leaves[1], leaves[2], dict(zip(LSTM_PARAMS, leaves[3:])))
        L = (d_hs * hs).sum() + (d_hT * h_T).sum() + (d_cT * c_T).sum()
        g = torch.autograd.grad(L, leaves, allow_unused=True)
    g = [to_numpy(gi, dt) if gi is not None else np.zeros(leaf.shape, dt) for gi, leaf in zip(g, leaves)]
    return {"xs": g[0], "h0": g[1], "c0": g[2], "params": dict(zip(LSTM_PARAMS, g[3:]))}
