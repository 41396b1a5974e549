"""The float64 NumPy oracle of the projected LSTM cell (chapter projection), assembled only from generated kernels.

Every formula here is a kernel printed from a compact formula of derivations/projection.py: the cell
(proj.cell.forward, a definition checked against the written-out sums), its Jacobian blocks (proj.cell.jacobian_h,
_x, _c, _proj: proved entry-wise for every n, m, P) and its per-step VJP (proj.cell.vjp: the transposed blocks,
checked element-wise at explicit sizes only; tests/projection also compare the sequence VJP with central
differences). The sequence VJP chains the per-step VJP through h and c exactly as oracle_lstm.lstm_vjp does: the
cotangent on (h_{t-1}, c_{t-1}) is the step's VJP plus the direct term d_hs[t-1].

Arrays follow the protocol: batch rows x (B, m), h (B, P), c (B, n); sequences time-major (T, B, k); parameters
W_x* (n, m), W_h* (n, P), b_* (n,) (gate order i, f, g, o) and W_proj (P, n); h' = (o tanh(c')) W_proj^T on rows.
Internally column vectors are (B, k, 1). NumPy only (no SymPy).
"""
from __future__ import annotations

from dlproof.parameters import LSTM_PARAMS

from . import oracle_lstm
from .oracle_args import chapter_kernel, col, params_tuple

#: the 13 parameter names, kernel order: the LSTM cell's 12 (W_h* (n, P)), then W_proj (P, n); the same tuple as
#: derivations/projection.PROJ_PARAMS (this module imports no SymPy; tests compare the two)
PROJ_PARAMS = LSTM_PARAMS + ("W_proj",)


def _k(name: str):
    return chapter_kernel("projection", "proj", name)


def _params(p):
    return params_tuple(p, PROJ_PARAMS, "oracle_projection")


def _args(P, x, h, c):
    return P + (col(x), col(h), col(c))


def lstm_proj_cell(x, h, c, p):
    """(h', c') for batch rows: (B, m), (B, P), (B, n) -> ((B, P), (B, n)), float64. [proj.cell.forward]"""
    a = _args(_params(p), x, h, c)
    return _k("forward_h")(*a)[..., 0], _k("forward_c")(*a)[..., 0]


def lstm_proj_cell_jacobians(x, h, c, p):
    """Numerator-layout blocks of one cell: "hh" (B, P, P), "hc" (B, P, n), "ch" (B, n, P), "cc" (B, n, n),
    "hx" (B, P, m), "cx" (B, n, m); "hc" is dh'/dc etc. [proj.cell.jacobian_h, _x, _c]"""
    a = _args(_params(p), x, h, c)
    return {blk: _k(f"jac_{blk}")(*a) for blk in ("hh", "hc", "ch", "cc", "hx", "cx")}


def lstm_proj_cell_vjp(x, h, c, p, d_h, d_c):
    """Gradients of <d_h, h'> + <d_c, c'> of one cell -> {"x", "h", "c", "params": {13 names, summed over the
    batch}}. [proj.cell.vjp, proj.cell.jacobian_proj]"""
    P = _params(p)
    a = _args(P, x, h, c) + (col(d_h), col(d_c))
    grads = {}
    for name in PROJ_PARAMS:
        g = _k(f"vjp_{name}")(*a).sum(axis=0)
        grads[name] = g[:, 0] if name.startswith("b_") else g
    return {"x": _k("vjp_x")(*a)[..., 0], "h": _k("vjp_h")(*a)[..., 0], "c": _k("vjp_c")(*a)[..., 0],
            "params": grads}


def lstm_proj_forward(xs, h0, c0, p):
    """Unrolled forward: (T, B, m), (B, P), (B, n) -> (hs (T, B, P), (h_T (B, P), c_T (B, n))). [proj.cell.forward]"""
    return oracle_lstm.sequence_forward(_k, xs, h0, c0, _params(p))


def lstm_proj_vjp(xs, h0, c0, p, d_hs, d_hT, d_cT):
    """Gradients of L = <d_hs, hs> + <d_hT, h_T> + <d_cT, c_T>, by the per-step VJPs chained through h and c
    -> {"xs", "h0", "c0", "params": {13 names, W_proj included}}. [proj.cell.vjp, proj.cell.jacobian_*]"""
    return oracle_lstm.sequence_vjp(_k, PROJ_PARAMS, xs, h0, c0, _params(p), d_hs, d_hT, d_cT)


__all__ = ["PROJ_PARAMS", "lstm_proj_cell", "lstm_proj_cell_jacobians", "lstm_proj_cell_vjp", "lstm_proj_forward",
           "lstm_proj_vjp"]
