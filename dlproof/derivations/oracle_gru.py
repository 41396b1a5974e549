"""The size-generic NumPy GRU oracle, assembled only from proved, generated kernels.

Every formula here is a kernel printed from a compact formula that gru.cell.* proves equal to the
element-wise derivation (both variants); the time loops are the unrolled forward (rnn.bptt.unroll)
and the BPTT recursion delta_{t-1} = d_{t-1} + J_h^T delta_t with per-step parameter VJPs summed
over time (rnn.bptt.gradient, rnn.bptt.shared_weight_gradient), the GRU's one-step VJPs being
gru.cell.jacobian_h/x/weights.<variant>. The chain is rnn.bptt.jacobian_product's latest-left
product of gru.cell.jacobian_h.

Arrays follow the protocol: cells take batch rows (B, k), sequences are time-major (T, B, k),
weights W_x* (n, m), W_h* (n, n), biases (n,), names W_xr, W_hr, b_r, W_xz, W_hz, b_z, W_xn, W_hn,
b_xn, b_hn. ``variant`` is "reset_after" (torch, cuDNN, Keras default) or "reset_before" (Keras
reset_after=False, d2l): a declared convention. Internally column vectors are (B, k, 1). Float64.
"""
from __future__ import annotations

import numpy as np

from dlproof.parameters import GRU_PARAMS

from . import kernels
from .oracle_rnn import unroll
from .oracle_args import col, params_tuple

VARIANTS = ("reset_after", "reset_before")


def _k(name: str, variant: str):
    if variant not in VARIANTS:
        raise ValueError(f"oracle_gru: variant={variant!r}, but should be one of {VARIANTS}")
    return getattr(kernels(), f"gru_{name}_{variant}")


def _params(p):
    return params_tuple(p, GRU_PARAMS, "oracle_gru")


def gru_cell(x, h, p, variant="reset_after"):
    """h' = z*h + (1-z)*n for batch rows: (B, m), (B, n) -> (B, n). [gru.cell.forward.<variant>]"""
    return _k("forward", variant)(*_params(p), col(x), col(h))[..., 0]


def gru_candidate(x, h, p, variant="reset_after"):
    """The candidate n of one step, (B, n). [gru.cell.forward.<variant>]"""
    return _k("candidate", variant)(*_params(p), col(x), col(h))[..., 0]


def gru_cell_jacobian_h(x, h, p, variant="reset_after"):
    """dh'/dh, numerator layout, (B, n, n). [gru.cell.jacobian_h.<variant>]"""
    return _k("jac_h", variant)(*_params(p), col(x), col(h))


def gru_cell_jacobian_x(x, h, p, variant="reset_after"):
    """dh'/dx, numerator layout, (B, n, m). [gru.cell.jacobian_x.<variant>]"""
    return _k("jac_x", variant)(*_params(p), col(x), col(h))


def gru_forward(xs, h0, p, variant="reset_after"):
    """Unrolled forward: (T, B, m), (B, n) -> (hs (T, B, n), h_T). [rnn.bptt.unroll with gru.cell.forward]"""
    return unroll(lambda x, h: gru_cell(x, h, p, variant), xs, h0)


def gru_vjp(xs, h0, p, d_hs, d_hT, variant="reset_after"):
    """Gradients of L = <d_hs, hs> + <d_hT, h_T>: {"xs", "h0", "params": {10 names}}.

    BPTT: delta_T = d_hs[T-1] + d_hT, delta_{t-1} = d_hs[t-1] + J_h(t)^T delta_t, each parameter's
    gradient the sum over t of its one-step VJP at (x_t, h_{t-1}, delta_t). Under reset_before the
    gradients of b_xn and b_hn are equal (they only act as a sum). [gru.cell.jacobian_*.<variant>,
    rnn.bptt.gradient]
    """
    xs = np.asarray(xs, np.float64)
    h0 = np.asarray(h0, np.float64)
    P = _params(p)
    T = xs.shape[0]
    hs, _ = gru_forward(xs, h0, p, variant)
    prev = np.concatenate([h0[None], hs[:-1]]) if T else hs
    grads = {k: np.zeros_like(v) for k, v in zip(GRU_PARAMS, P)}
    d_xs = np.zeros_like(xs)
    d_hs = np.asarray(d_hs, np.float64)
    d_hT = np.asarray(d_hT, np.float64)
    if T == 0:
        return {"xs": d_xs, "h0": d_hT.copy(), "params": {k: (v[:, 0] if k.startswith("b") else v) for k, v in grads.items()}}
    delta = col(d_hs[T - 1] + d_hT)
    d_h0 = None
    for t in range(T - 1, -1, -1):
        args = P + (col(xs[t]), col(prev[t]), delta)
        for k in GRU_PARAMS:
            grads[k] += _k(f"vjp_{k}", variant)(*args).sum(axis=0)
        d_xs[t] = _k("vjp_x", variant)(*args)[..., 0]
        back = _k("vjp_h", variant)(*args)
        if t > 0:
            delta = col(d_hs[t - 1]) + back
        else:
            d_h0 = back[..., 0]
    return {"xs": d_xs, "h0": d_h0,
            "params": {k: (v[:, 0] if k.startswith("b") else v) for k, v in grads.items()}}


def gru_chain(xs, h0, p, k, t, variant="reset_after"):
    """dh_t/dh_k = J_t ... J_{k+1} (numerator layout, latest-left), (B, n, n); states 1-based, h_0 = h0.
    [rnn.bptt.jacobian_product with gru.cell.jacobian_h.<variant>]"""
    xs = np.asarray(xs, np.float64)
    hs, _ = gru_forward(xs, h0, p, variant)
    states = np.concatenate([np.asarray(h0, np.float64)[None], hs])
    n = states.shape[-1]
    P = np.broadcast_to(np.eye(n), states.shape[1:] + (n,)).copy()
    for i in range(k + 1, t + 1):
        P = gru_cell_jacobian_h(xs[i - 1], states[i - 1], p, variant) @ P
    return P


__all__ = ["gru_cell", "gru_candidate", "gru_cell_jacobian_h", "gru_cell_jacobian_x", "gru_forward",
           "gru_vjp", "gru_chain", "VARIANTS"]
