"""The float64 NumPy oracle of the peephole LSTM cell (chapter peephole), assembled only from proved, generated kernels.

Every formula here is a kernel printed from a compact formula of derivations/peephole.py: the cell
(peephole.cell.forward, a definition checked against the element-wise sums) and its Jacobians in c
(peephole.cell.jacobian_c, proved entry-wise for every n, m). Arrays follow the protocol: batch rows x (B, m),
h and c (B, n); the parameters are the LSTM cell's W_x* (n, m), W_h* (n, n), b_* (n,) (gate order i, f, g, o)
and the peepholes p_i, p_f, p_o (n,). Internally column vectors are (B, k, 1). NumPy only (no SymPy).
"""
from __future__ import annotations

from dlproof.parameters import LSTM_PARAMS, PEEPHOLE_PARAMS

from .oracle_args import chapter_kernel, col, params_tuple


def _k(name: str):
    return chapter_kernel("peephole", "peephole", name)


def _args(p, x, h, c):
    """The kernel arguments: the 15 parameters in `PEEPHOLE_PARAMS` order (biases and peepholes as (n, 1) columns), then
    x, h, c as (B, k, 1) columns."""
    params = params_tuple(p, PEEPHOLE_PARAMS, "oracle_peephole")
    lstm, peepholes = params[:len(LSTM_PARAMS)], params[len(LSTM_PARAMS):]
    return lstm + tuple(v[:, None] for v in peepholes) + (col(x), col(h), col(c))


def lstm_peephole_cell(x, h, c, p):
    """(h', c') for batch rows: (B, m), (B, n), (B, n) -> ((B, n), (B, n)), float64. [peephole.cell.forward]"""
    a = _args(p, x, h, c)
    return _k("forward_h")(*a)[..., 0], _k("forward_c")(*a)[..., 0]


def lstm_peephole_cell_jacobians_c(x, h, c, p):
    """{"hc": dh'/dc, "cc": dc'/dc}, each (B, n, n), numerator layout (diagonal). [peephole.cell.jacobian_c]"""
    a = _args(p, x, h, c)
    return {blk: _k(f"jac_{blk}")(*a) for blk in ("hc", "cc")}


__all__ = ["lstm_peephole_cell", "lstm_peephole_cell_jacobians_c"]
