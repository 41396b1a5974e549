"""Mutants of the projected LSTM cell (chapter projection): the NumPy reference with one bug each.

Collected automatically (`MUTANTS`). Each bug is killed by the property named beside it in
tests/projection/test_projection.py (`MUTANT_KILLERS` there), and by the mutation meta-suite. The bugs never raise:
a bug whose shapes only fit at P = n ("before_output_gate") is the code path an implementation would take there and
is correct otherwise; the strategy of an unrestricted target draws P = n often.
"""
from __future__ import annotations

import numpy as np

from dlproof.impl.numpy_ref import activations as NA
from dlproof.impl.numpy_ref import lstm as NL

from mutants.base import code_mutant

#: bug -> what is wrong, in words
BUGS = {
    "proj_transposed": "projected LSTM: W_proj transposed (h' = u W_proj at P = n; the (P, n) storage read as (n, P) "
                       "otherwise)",
    "proj_ignored": "projected LSTM: the projection ignored (h' = o tanh(c'), n columns)",
    "proj_before_output_gate": "projected LSTM: the projection applied before the output gate (h' = o * (tanh(c') "
                               "W_proj^T), at P = n)",
    "cell_projected": "projected LSTM: c' returned projected (c' W_proj^T)",
}


def proj_cell_bug(bug: str):
    """The NumPy projected cell (impl/numpy_ref/projection.py) with one bug of `BUGS`."""
    def cell(x, h, c, p):
        Wp = p["W_proj"]
        P, n = Wp.shape
        W_x, W_h, b = NL.stack(p, x.dtype)
        a_i, a_f, a_g, a_o = np.split(x @ W_x.T + h @ W_h.T + b, 4, axis=1)
        c_new = NA.sigmoid(a_f) * c + NA.sigmoid(a_i) * np.tanh(a_g)
        o, tc = NA.sigmoid(a_o), np.tanh(c_new)
        h_new = (o * tc) @ Wp.T
        if bug == "proj_transposed":
            h_new = (o * tc) @ (Wp if P == n else Wp.reshape(n, P))
        elif bug == "proj_ignored":
            h_new = o * tc
        elif bug == "proj_before_output_gate" and P == n:
            h_new = o * (tc @ Wp.T)
        elif bug == "cell_projected":
            return h_new, c_new @ Wp.T
        return h_new, c_new
    return cell


MUTANTS = {f"projection_{bug}": code_mutant(words, lstm_proj_cell=proj_cell_bug(bug)) for bug, words in BUGS.items()}
