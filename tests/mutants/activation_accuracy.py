"""A float32 cell whose tanh errs by 23 to 24 u (u = 2^-24), for the activation-accuracy properties
(dlproof/properties/activation_accuracy.py).

``tanh24(a)`` = fl32(tanh(a) + 23 u s(a)), s(a) = +-1 a sign pattern of a (the parity of floor(2^10 a)), kept
in [-1, 1]: within [22.5, 23.5] u of tanh(a) (the float64 tanh is within 2^-52 of tanh, the rounding to float32
at most u / 2 for |v| <= 1), except where clipping at +-1 makes the error smaller. Sigmoids are the accurate
float64 (1 + tanh(a / 2)) / 2 rounded once to float32 (within u / 2 + 2^-52). The cells are the float32 NumPy
reference's formulas, written out with that tanh:

  RNN   h' = tanh24(W_x x + W_h h + b)
  LSTM  c' = sigma(a_f) c + sigma(a_i) tanh24(a_g),  h' = sigma(a_o) tanh24(c')
  GRU   (reset_after) n = tanh24(W_xn x + b_xn + r (W_hn h + b_hn)),  h' = z h + (1 - z) n

- ``MUTANTS["act_tanh_24u"]``: that target declaring the default activation_ulps = 4: a bug (its tanh is six
  times less accurate than declared), caught by ``act.lstm_cell.accuracy``.
- `declared_target(ulps)`: the same cells declaring activation_ulps = ``ulps``; with 24 it is a correct target
  under its declared arithmetic (tests/activation_accuracy/ checks that the properties pass it).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from mutants.base import BASE32, code_mutant

U32 = 2.0 ** -24
OFFSET_ULPS = 23.0
F32 = np.float32


def tanh24(a):
    """fl32(tanh(a) + 23 u s(a)) clipped to [-1, 1] (module doc): 22.5 to 23.5 u from tanh(a)."""
    a64 = np.asarray(a, np.float64)
    s = np.where(np.floor(a64 * 1024.0) % 2 == 0, 1.0, -1.0)
    return np.clip(np.tanh(a64) + OFFSET_ULPS * U32 * s, -1.0, 1.0).astype(F32)


def _sig(a):
    return (0.5 * (1.0 + np.tanh(0.5 * np.asarray(a, np.float64)))).astype(F32)


def _affine(x, h, p, wx, wh, b):
    return (x @ p[wx].T + h @ p[wh].T + p[b]).astype(F32)


def rnn_cell(x, h, p):
    return tanh24(_affine(x, h, p, "W_x", "W_h", "b"))


def lstm_cell(x, h, c, p):
    i, f, o = (_sig(_affine(x, h, p, f"W_x{q}", f"W_h{q}", f"b_{q}")) for q in "ifo")
    g = tanh24(_affine(x, h, p, "W_xg", "W_hg", "b_g"))
    c_new = f * c + i * g
    return o * tanh24(c_new), c_new


def gru_cell(x, h, p):
    r, z = (_sig(_affine(x, h, p, f"W_x{q}", f"W_h{q}", f"b_{q}")) for q in "rz")
    hn = (h @ p["W_hn"].T + p["b_hn"]).astype(F32)
    n = tanh24((x @ p["W_xn"].T + p["b_xn"]).astype(F32) + r * hn)
    return z * h + (F32(1) - z) * n


CELLS = {"rnn_cell": rnn_cell, "lstm_cell": lstm_cell, "gru_cell": gru_cell}


def declared_target(ulps: float):
    """The float32 reference with the tanh24 cells, declaring activation_ulps = ``ulps``."""
    return replace(BASE32, name=f"float32 cells with a 23-24 u tanh (activation_ulps={ulps:g})",
                   conventions={**BASE32.conventions, "activation_ulps": float(ulps)}, **CELLS)


MUTANTS = {
    "act_tanh_24u": replace(code_mutant("float32 cells whose tanh errs by 23-24 u while declaring activation_ulps = 4",
                                        base=BASE32, **CELLS), caught_by="act.lstm_cell.accuracy"),
}
