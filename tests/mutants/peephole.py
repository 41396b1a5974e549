"""Mutants of the peephole LSTM cell (chapter peephole): the NumPy reference with one bug each.

Intended as tests/mutants/peephole.py (collected automatically: `MUTANTS`). Each bug is killed by the property
named beside it in tests/test_peephole.py (`MUTANT_KILLERS` there), and by the mutation meta-suite.
"""
from __future__ import annotations

import numpy as np

from dlproof.impl.numpy_ref import activations as NA
from dlproof.impl.numpy_ref import lstm as NL
from dlproof.impl.numpy_ref import peephole as NP

from mutants.base import Mutant, code_mutant

#: bug -> what is wrong, in words
BUGS = {
    "output_gate_reads_c": "peephole LSTM: the output gate reads the old cell c instead of c' (o = sigma(. + p_o c))",
    "onnx_order_misread": "peephole LSTM: ONNX's P = [P_i, P_o, P_f] read in gate order i, f, o (p_f and p_o swapped)",
    "peepholes_ignored": "peephole LSTM: the peepholes are ignored (the plain LSTM cell)",
    "forget_bias_one": "peephole LSTM: TF's forget_bias = 1 added to the forget gate's pre-activation",
}


def peephole_cell_bug(bug: str):
    """The NumPy peephole cell (impl/numpy_ref/peephole.py) with one bug of `BUGS`."""
    def cell(x, h, c, p):
        p_i, p_f, p_o = (p[k] for k in NP.PEEPHOLES)
        if bug == "onnx_order_misread":
            p_f, p_o = p_o, p_f
        if bug == "peepholes_ignored":
            p_i, p_f, p_o = (np.zeros_like(v) for v in (p_i, p_f, p_o))
        W_x, W_h, b = NL.stack(p, x.dtype)
        a_i, a_f, a_g, a_o = np.split(x @ W_x.T + h @ W_h.T + b, 4, axis=1)
        i = NA.sigmoid(a_i + p_i * c)
        f = NA.sigmoid(a_f + p_f * c + (1.0 if bug == "forget_bias_one" else 0.0))
        c_new = f * c + i * np.tanh(a_g)
        o = NA.sigmoid(a_o + p_o * (c if bug == "output_gate_reads_c" else c_new))
        return o * np.tanh(c_new), c_new
    return cell


MUTANTS: dict[str, Mutant] = {f"peephole_{bug}": code_mutant(words, lstm_peephole_cell=peephole_cell_bug(bug))
                              for bug, words in BUGS.items()}
