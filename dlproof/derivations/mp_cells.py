"""The LSTM cell evaluated in mpmath at the caller's working precision (the 50-digit references use it).

One batch row at a time, on lists of ``mpf`` (a weight is a list of rows, a vector a list), so a caller
may feed exact conversions of float inputs or inputs perturbed at high precision:

  affine   a_i = sum_j W_x[i, j] x_j + sum_j W_h[i, j] h_j + b_i   (one ``mpmath.fdot`` per entry: exact
           products, one rounding of the sum at the working precision)
  sigma    sigma(a) = 1 / (1 + e^-a)
  LSTM     i, f, o = sigma(a_i, a_f, a_o), g = tanh(a_g), a_q = W_xq x + W_hq h + b_q (gate order i, f, g, o;
           parameters ``W_x{q}``, ``W_h{q}``, ``b_{q}``); c' = f c + i g, h' = o tanh(c')   [lstm.cell.forward]
"""
from __future__ import annotations

import mpmath

from dlproof.parameters import LSTM_GATES

_ONE = mpmath.mpf(1)


def affine(x: list, Wx: list, h: list, Wh: list, b: list) -> list:
    """a_i = sum_j W_x[i, j] x_j + sum_j W_h[i, j] h_j + b_i, one exact-product sum per entry."""
    xh = list(x) + list(h) + [_ONE]
    return [mpmath.fdot(zip(list(Wx[i]) + list(Wh[i]) + [b[i]], xh)) for i in range(len(b))]


def sigmoid(a):
    """1 / (1 + e^-a), at the working precision (exact limits are never reached: e^-1e4 is an mpf)."""
    return _ONE / (_ONE + mpmath.exp(-a))


def lstm_cell(x: list, h: list, c: list, p: dict) -> tuple[list, list]:
    """(h', c') of one row: c' = f c + i g, h' = o tanh(c'), i, f, o = sigma(.), g = tanh(.). [lstm.cell.forward]"""
    a = {q: affine(x, p[f"W_x{q}"], h, p[f"W_h{q}"], p[f"b_{q}"]) for q in LSTM_GATES}
    i, f, o = ([sigmoid(v) for v in a[q]] for q in "ifo")
    g = [mpmath.tanh(v) for v in a["g"]]
    c2 = [f[k] * c[k] + i[k] * g[k] for k in range(len(c))]
    return [o[k] * mpmath.tanh(c2[k]) for k in range(len(c))], c2
