"""GRU with torch ops, both reset variants; gradients by torch.autograd (not the hand-written NumPy BPTT).

Same math and conventions as `dlproof.impl.numpy_ref.gru`: gate order r, z, n, h' = z * h + (1 - z) * n,
    "reset_after":  n = tanh(W_xn x + b_xn + r * (W_hn h + b_hn))   (torch.nn.GRU),
    "reset_before": n = tanh(W_xn x + b_xn + b_hn + W_hn (r * h))   (Keras reset_after=False, d2l),
on batch rows; W_x* (n, m), W_h* (n, n), b* (n,); xs (T, B, m), h0 (B, n), hs (T, B, n). Under
reset_before autograd gives dL/db_xn = dL/db_hn (they only act as a sum). NumPy arrays in and out;
computation in torch.float16 / bfloat16 / float32 / float64 matching the inputs' NumPy dtype. `gru_vjp` returns
torch.autograd.grad of L = sum(d_hs * hs) + sum(d_hT * h_T).
"""
from __future__ import annotations

import numpy as np

from dlproof.parameters import BLOCKS, GRU_PARAMS

from ..numpy_ref.checks import recurrent as checks
from ._torch import to_numpy, to_torch, torch, torch_dtype


def stack(P: dict, variant: str):
    """(W_x (3n, m), W_h (3n, n), b_x (3n,)) from torch tensors keyed by the 10 names, gate order r, z, n.

    b_x = [b_r, b_z, b_xn] for reset_after and [b_r, b_z, b_xn + b_hn] for reset_before (so autograd gives
    b_xn and b_hn the very same gradient, that of their sum)."""
    W_x = torch.cat([P[wx] for wx, _, _ in BLOCKS["gru"]])
    W_h = torch.cat([P[wh] for _, wh, _ in BLOCKS["gru"]])
    b_n = P["b_xn"] if variant == "reset_after" else P["b_xn"] + P["b_hn"]
    b_x = torch.cat([P["b_r"], P["b_z"], b_n])
    return W_x, W_h, b_x


def _step(px, h, W_h, b_hn, variant):
    """h' from the input projection px = x W_x^T + b_x (B, 3n) and h (B, n) (b_hn used by reset_after only)."""
    n = h.shape[1]
    px_r, px_z, px_n = px.split(n, dim=-1)
    if variant == "reset_after":
        hh_r, hh_z, hh_n = (h @ W_h.T).split(n, dim=-1)
        r, z = torch.sigmoid(px_r + hh_r), torch.sigmoid(px_z + hh_z)
        cand = torch.tanh(px_n + r * (hh_n + b_hn))
    else:
        hh_r, hh_z = (h @ W_h[: 2 * n].T).split(n, dim=-1)
        r, z = torch.sigmoid(px_r + hh_r), torch.sigmoid(px_z + hh_z)
        cand = torch.tanh(px_n + (r * h) @ W_h[2 * n :].T)  # b_hn is already in px_n
    return z * h + (1 - z) * cand


def _run(xs, h0, P, variant):
    W_x, W_h, b_x = stack(P, variant)
    T, B, m = xs.shape
    n = W_h.shape[1]
    px = torch.addmm(b_x, xs.reshape(T * B, m), W_x.T).reshape(T, B, 3 * n)  # all input projections at once
    h, hs = h0, []
    for t in range(T):
        h = _step(px[t], h, W_h, P["b_hn"], variant)
        hs.append(h)
    hs = torch.stack(hs) if hs else xs.new_zeros((0, B, n))
    return hs, h


def _tensors(arrays, dt, requires_grad=False):
    td = torch_dtype(dt)
    return [to_torch(a, td, requires_grad=requires_grad) for a in arrays]


def gru_cell(x, h, p, variant: str = "reset_after"):
    """One step: x (B, m), h (B, n) -> h' (B, n)."""
    fn = "gru_cell"
    variant = checks.gru_variant(fn, variant)
    x, (h,), params, dt = checks.gated_step(fn, x, [("h", h)], p, GRU_PARAMS)
    x, h, *ps = _tensors([x, h, *params.values()], dt)
    with torch.no_grad():
        P = dict(zip(GRU_PARAMS, ps))
        W_x, W_h, b_x = stack(P, variant)
        out = _step(torch.addmm(b_x, x, W_x.T), h, W_h, P["b_hn"], variant)
    return to_numpy(out, dt)


def gru(xs, h0, p, variant: str = "reset_after"):
    """xs (T, B, m), h0 (B, n) -> (hs (T, B, n), h_T (B, n))."""
    fn = "gru"
    variant = checks.gru_variant(fn, variant)
    xs, (h0,), params, dt = checks.gated_sequence(fn, xs, [("h0", h0)], p, GRU_PARAMS)
    xs, h0, *ps = _tensors([xs, h0, *params.values()], dt)
    with torch.no_grad():
        hs, h_T = _run(xs, h0, dict(zip(GRU_PARAMS, ps)), variant)
    return to_numpy(hs, dt), to_numpy(h_T, dt).copy()


def gru_vjp(xs, h0, p, d_hs, d_hT, variant: str = "reset_after") -> dict:
    """torch.autograd gradients of L = sum(d_hs * hs) + sum(d_hT * h_T) (None cotangents mean zeros).

    Returns {"xs", "h0", "params": {the 10 names}} as NumPy arrays.
    """
    fn = "gru_vjp"
    variant = checks.gru_variant(fn, variant)
    xs, (h0,), params, dt = checks.gated_sequence(fn, xs, [("h0", h0)], p, GRU_PARAMS)
    T, B, _ = xs.shape
    d_hs, d_hT = checks.cotangents(fn, d_hs, d_hT, T, B, h0.shape[1], dt)
    leaves = _tensors([xs, h0, *params.values()], dt, requires_grad=True)
    d_hs, d_hT = _tensors([d_hs, d_hT], dt)
    with torch.enable_grad():
        hs, h_T = _run(leaves[0], leaves[1], dict(zip(GRU_PARAMS, leaves[2:])), variant)
        L = (d_hs * hs).sum() + (d_hT * h_T).sum()
        g = torch.autograd.grad(L, leaves, allow_unused=True)
    g = [to_numpy(gi, dt) if gi is not None else np.zeros(leaf.shape, dt) for gi, leaf in zip(g, leaves)]
    return {"xs": g[0], "h0": g[1], "params": dict(zip(GRU_PARAMS, g[2:]))}
