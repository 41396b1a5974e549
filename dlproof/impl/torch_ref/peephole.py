"""The peephole LSTM cell of ONNX's LSTM operator (its input P) with torch ops.

Same math and conventions as `dlproof.impl.numpy_ref.peephole`: on batch rows x (B, m), h and c (B, n),
gate order i, f, g, o,
    i = sigmoid(x W_xi^T + h W_hi^T + b_i + p_i * c),   f = sigmoid(... + b_f + p_f * c),   g = tanh(... + b_g),
    c' = f * c + i * g,   o = sigmoid(... + b_o + p_o * c'),   h' = o * tanh(c'),
W_x* (n, m), W_h* (n, n), b_* (n,), peepholes p_i, p_f, p_o (n,). The four gate blocks are stacked into one
(4n, m) / (4n, n) matmul (`torch_ref.lstm.stack`). NumPy arrays in and out; computation in torch.float32 /
float64 matching the inputs' NumPy dtype.
"""
from __future__ import annotations

from dlproof.parameters import PEEPHOLE_PARAMS, PEEPHOLES

from ..numpy_ref.checks import recurrent as checks
from ._torch import to_numpy, to_torch, torch, torch_dtype
from .lstm import stack


def lstm_peephole_cell(x, h, c, p):
    """One step: x (B, m), h (B, n), c (B, n) -> (h' (B, n), c' (B, n))."""
    x, (h, c), params, dt = checks.gated_step("lstm_peephole_cell", x, [("h", h), ("c", c)], p, PEEPHOLE_PARAMS)
    td = torch_dtype(dt)
    x, h, c = (to_torch(a, td) for a in (x, h, c))
    P = {k: to_torch(v, td) for k, v in params.items()}
    p_i, p_f, p_o = (P[k] for k in PEEPHOLES)
    W_x, W_h, b = stack(P)
    with torch.no_grad():
        a_i, a_f, a_g, a_o = (torch.addmm(b, x, W_x.T) + h @ W_h.T).chunk(4, dim=-1)
        i, f = torch.sigmoid(a_i + p_i * c), torch.sigmoid(a_f + p_f * c)
        c_new = f * c + i * torch.tanh(a_g)
        h_new = torch.sigmoid(a_o + p_o * c_new) * torch.tanh(c_new)
    return to_numpy(h_new, dt), to_numpy(c_new, dt)
