"""The projected LSTM cell (LSTMP, torch.nn.LSTM's proj_size) with torch ops.

Same math and conventions as `dlproof.impl.numpy_ref.projection`: on batch rows x (B, m), h (B, P), c (B, n),
gate order i, f, g, o,
    [a_i, a_f, a_g, a_o] = x W_x*^T + h W_h*^T + b_*,   c' = sigmoid(a_f) * c + sigmoid(a_i) * tanh(a_g),
    h' = (sigmoid(a_o) * tanh(c')) W_proj^T,
W_x* (n, m), W_h* (n, P), b_* (n,), W_proj (P, n). The four gate blocks are stacked into one (4n, m) / (4n, P)
matmul (`torch_ref.lstm.stack`). NumPy arrays in and out; computation in torch.float16 / bfloat16 / float32 /
float64 matching the inputs' NumPy dtype.
"""
from __future__ import annotations

from ..numpy_ref.projection import PROJ, proj_step
from ._torch import to_numpy, to_torch, torch, torch_dtype
from .lstm import stack


def lstm_proj_cell(x, h, c, p):
    """One step: x (B, m), h (B, P), c (B, n) -> (h' (B, P), c' (B, n))."""
    x, h, c, params, dt = proj_step("lstm_proj_cell", x, h, c, p)
    td = torch_dtype(dt)
    x, h, c = (to_torch(a, td) for a in (x, h, c))
    P = {k: to_torch(v, td) for k, v in params.items()}
    W_x, W_h, b = stack(P)
    with torch.no_grad():
        a_i, a_f, a_g, a_o = (torch.addmm(b, x, W_x.T) + h @ W_h.T).chunk(4, dim=-1)
        c_new = torch.sigmoid(a_f) * c + torch.sigmoid(a_i) * torch.tanh(a_g)
        h_new = (torch.sigmoid(a_o) * torch.tanh(c_new)) @ P[PROJ].T
    return to_numpy(h_new, dt), to_numpy(c_new, dt)
