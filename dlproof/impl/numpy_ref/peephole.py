"""The peephole LSTM cell of ONNX's LSTM operator (its input P) in NumPy, on batch rows.

Row-vector math on a batch (x (B, m), h and c (B, n)), gate order i, f, g, o:
    i = sigmoid(x W_xi^T + h W_hi^T + b_i + p_i * c),   f = sigmoid(x W_xf^T + h W_hf^T + b_f + p_f * c),
    g = tanh(x W_xg^T + h W_hg^T + b_g),               c' = f * c + i * g,
    o = sigmoid(x W_xo^T + h W_ho^T + b_o + p_o * c'),  h' = o * tanh(c'),
with the products by p_* entry-wise (broadcast over the batch) and sigmoid the overflow-free
`activations.sigmoid`. The parameters are lstm_cell's W_x* (n, m), W_h* (n, n), b_* (n,) plus the peepholes
p_i, p_f, p_o (n,) (`dlproof.parameters.PEEPHOLE_PARAMS`). ONNX stores the peepholes as P = [P_i, P_o, P_f];
here they go by name. The output gate reads the new cell state c'. Computation runs in the inputs' (common)
floating dtype; the four affine parts are one (B, m) @ (m, 4n) and one (B, n) @ (n, 4n) matmul over the
stacked gate blocks.
"""
from __future__ import annotations

import numpy as np

from dlproof.parameters import PEEPHOLE_PARAMS, PEEPHOLES

from .activations import sigmoid
from .checks import recurrent as checks
from .lstm import stack
from .arith import matmul


def lstm_peephole_cell(x, h, c, p):
    """One step: x (B, m), h (B, n), c (B, n) -> (h' (B, n), c' (B, n)); see the module formula."""
    x, (h, c), params, dt = checks.gated_step("lstm_peephole_cell", x, [("h", h), ("c", c)], p, PEEPHOLE_PARAMS)
    x, h, c = (a.astype(dt, copy=False) for a in (x, h, c))
    p_i, p_f, p_o = (params[k].astype(dt, copy=False) for k in PEEPHOLES)
    W_x, W_h, b = stack(params, dt)
    a_i, a_f, a_g, a_o = np.split(matmul(x, W_x.T) + matmul(h, W_h.T) + b, 4, axis=1)
    i = sigmoid(a_i + p_i * c)
    f = sigmoid(a_f + p_f * c)
    c_new = f * c + i * np.tanh(a_g)
    o = sigmoid(a_o + p_o * c_new)
    return o * np.tanh(c_new), c_new
