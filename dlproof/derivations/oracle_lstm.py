"""The size-generic NumPy LSTM oracle, assembled only from proved, generated kernels.

Every formula here is a kernel printed from a compact formula of derivations/lstm.py that the
lstm.* records prove equal to the element-wise derivation: lstm.cell.forward (the cell),
lstm.cell.jacobian_{h,x,c} and lstm.cell.jacobian_weights (the VJPs), lstm.state.jacobian (the
2n x 2n state Jacobian) and lstm.state.chain (the latest-left product). The backward pass is the
proved per-step VJP chained through both h and c: the cotangent on (h_{t-1}, c_{t-1}) is
S_t^T (delta_h, delta_c) plus the direct terms d_hs[t-1].

Arrays follow the protocol: cells take batch rows (B, k), sequences are time-major (T, B, k),
weights are W_x* (n, m), W_h* (n, n), b_* (n,), gate order i, f, g, o. Internally column vectors are
(B, k, 1). Computed in float64. NumPy only (no SymPy).
"""
from __future__ import annotations

import numpy as np

from dlproof.parameters import LSTM_PARAMS

from .oracle_args import chapter_kernel, col, params_tuple


def _k(name: str):
    return chapter_kernel("lstm", "lstm", name)


def _params(p):
    return params_tuple(p, LSTM_PARAMS, "oracle_lstm")


def _args(P, x, h, c):
    return P + (col(x), col(h), col(c))


def lstm_cell(x, h, c, p):
    """(h', c') for batch rows: (B, m), (B, n), (B, n) -> ((B, n), (B, n)). [lstm.cell.forward]"""
    a = _args(_params(p), x, h, c)
    return _k("forward_h")(*a)[..., 0], _k("forward_c")(*a)[..., 0]


def lstm_cell_jacobians(x, h, c, p):
    """Numerator-layout blocks of one cell: {"hh","hc","ch","cc": (B,n,n), "hx","cx": (B,n,m)};
    "hc" is dh'/dc etc. [lstm.cell.jacobian_h, lstm.cell.jacobian_x, lstm.cell.jacobian_c]"""
    a = _args(_params(p), x, h, c)
    return {blk: _k(f"jac_{blk}")(*a) for blk in ("hh", "hc", "ch", "cc", "hx", "cx")}


def _state_jacobian(P, x, h, c):
    a = _args(P, x, h, c)
    top = np.concatenate([_k("jac_hh")(*a), _k("jac_hc")(*a)], axis=-1)
    bottom = np.concatenate([_k("jac_ch")(*a), _k("jac_cc")(*a)], axis=-1)
    return np.concatenate([top, bottom], axis=-2)


def lstm_state_jacobian(x, h, c, p):
    """S = d(h', c')/d(h, c) = [[dh'/dh, dh'/dc], [dc'/dh, dc'/dc]], (B, 2n, 2n). [lstm.state.jacobian]"""
    return _state_jacobian(_params(p), x, h, c)


def unroll(kernel, xs, h0, c0, P):
    """States (h_t, c_t), t = 0..T, as lists of (B, .) arrays, by the cell kernels ``kernel("forward_h")``,
    ``kernel("forward_c")`` (this chapter's, or a cell of the LSTM's argument layout: the projected one)."""
    hs, cs = [np.asarray(h0, np.float64)], [np.asarray(c0, np.float64)]
    for t in range(xs.shape[0]):
        a = _args(P, xs[t], hs[-1], cs[-1])
        hs.append(kernel("forward_h")(*a)[..., 0])
        cs.append(kernel("forward_c")(*a)[..., 0])
    return hs, cs


def sequence_forward(kernel, xs, h0, c0, P):
    """The cell of ``kernel`` over xs (T, B, m) -> (hs (T, B, .), (h_T, c_T))."""
    hs, cs = unroll(kernel, np.asarray(xs, np.float64), h0, c0, P)
    out = np.stack(hs[1:]) if len(hs) > 1 else np.zeros((0,) + hs[0].shape)
    return out, (hs[-1].copy(), cs[-1].copy())


def sequence_vjp(kernel, names, xs, h0, c0, P, d_hs, d_hT, d_cT):
    """Gradients of L = <d_hs, hs> + <d_hT, h_T> + <d_cT, c_T>: the cell's per-step VJP kernels
    (``kernel("vjp_<name>")`` for each parameter of ``names``, ``vjp_x``, ``vjp_h``, ``vjp_c``) chained back
    through h and c -> {"xs", "h0", "c0", "params": {name: grad}}."""
    xs = np.asarray(xs, np.float64)
    hs, cs = unroll(kernel, xs, h0, c0, P)
    T = xs.shape[0]
    grads = {k: np.zeros_like(v) for k, v in zip(names, P)}
    d_xs = np.zeros_like(xs)
    d_hs = np.asarray(d_hs, np.float64)
    delta_h = col(np.asarray(d_hT, np.float64) + (d_hs[T - 1] if T else 0.0))
    delta_c = col(d_cT)
    for t in range(T - 1, -1, -1):
        a = _args(P, xs[t], hs[t], cs[t]) + (delta_h, delta_c)
        for name in names:
            grads[name] += kernel(f"vjp_{name}")(*a).sum(axis=0)
        d_xs[t] = kernel("vjp_x")(*a)[..., 0]
        back_h, back_c = kernel("vjp_h")(*a), kernel("vjp_c")(*a)
        delta_h = back_h + (col(d_hs[t - 1]) if t > 0 else 0.0)
        delta_c = back_c
    for name in names:
        if name.startswith("b_"):
            grads[name] = grads[name][:, 0]
    return {"xs": d_xs, "h0": delta_h[..., 0], "c0": delta_c[..., 0], "params": grads}


def lstm_forward(xs, h0, c0, p):
    """Unrolled forward: (T, B, m), (B, n), (B, n) -> (hs (T, B, n), (h_T, c_T)). [lstm.cell.forward]"""
    return sequence_forward(_k, xs, h0, c0, _params(p))


def lstm_vjp(xs, h0, c0, p, d_hs, d_hT, d_cT):
    """Gradients of L = <d_hs, hs> + <d_hT, h_T> + <d_cT, c_T>, by the proved per-step VJPs chained
    through h and c -> {"xs", "h0", "c0", "params": {12 names}}. [lstm.cell.jacobian_*, lstm.state.chain]"""
    return sequence_vjp(_k, LSTM_PARAMS, xs, h0, c0, _params(p), d_hs, d_hT, d_cT)


def lstm_chain(xs, h0, c0, p, k, t):
    """d(h_t, c_t)/d(h_k, c_k) = S_t ... S_{k+1} (numerator layout, latest-left), (B, 2n, 2n);
    states 1-based, (h_0, c_0) = (h0, c0); S_i is evaluated at (x_i, h_{i-1}, c_{i-1}). [lstm.state.chain]"""
    xs = np.asarray(xs, np.float64)
    P = _params(p)
    hs, cs = unroll(_k, xs[:t], h0, c0, P)
    two_n = 2 * hs[0].shape[-1]
    M = np.broadcast_to(np.eye(two_n), hs[0].shape[:-1] + (two_n, two_n)).copy()
    for i in range(k + 1, t + 1):
        M = _state_jacobian(P, xs[i - 1], hs[i - 1], cs[i - 1]) @ M
    return M


__all__ = ["lstm_cell", "lstm_cell_jacobians", "lstm_state_jacobian", "unroll", "sequence_forward", "sequence_vjp",
           "lstm_forward", "lstm_vjp", "lstm_chain"]
