"""The projected LSTM cell (LSTMP, torch.nn.LSTM's proj_size) in NumPy, on batch rows.

Row-vector math on a batch (x (B, m), h (B, P), c (B, n)), gate order i, f, g, o:
    [a_i, a_f, a_g, a_o] = x W_x*^T + h W_h*^T + b_*,
    i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o),   g = tanh(a_g),
    c' = f * c + i * g,   h' = (o * tanh(c')) W_proj^T,
with W_x* (n, m), W_h* (n, P), b_* (n,) (the LSTM cell's parameters, `dlproof.parameters.LSTM_PARAMS`, with the
recurrent weights reading the P-dimensional projected state) and W_proj (P, n), 1 <= P <= n. The cell state c'
is not projected. sigmoid is the overflow-free `activations.sigmoid`. Computation runs in the inputs' (common)
floating dtype (float32 or float64); the four affine parts are one (B, m) @ (m, 4n) and one (B, P) @ (P, 4n)
matmul over the stacked gate blocks.
"""
from __future__ import annotations

import numpy as np

from dlproof.parameters import LSTM_PARAMS

from .activations import sigmoid
from .checks.common import expect_shape, fail, float_array
from .checks.recurrent import inputs_and_states
from .lstm import stack
from .arith import matmul

PROJ = "W_proj"
#: the 13 parameter names of one projected cell: the LSTM cell's 12 (W_h* (n, P)), then W_proj (P, n)
PROJ_PARAMS = LSTM_PARAMS + (PROJ,)


def proj_params(fn: str, p, p_name: str = "p") -> tuple[dict, int, int, int]:
    """Validate the 13 blocks of ``p`` -> ({name: array}, n, m, P): W_x* (n, m), W_h* (n, P), b_* (n,),
    W_proj (P, n) with 1 <= P <= n. Extra keys are ignored."""
    if not hasattr(p, "keys") or not hasattr(p, "__getitem__"):
        fail(fn, f"argument {p_name!r} should be a mapping with keys {PROJ_PARAMS}, got {type(p).__name__}")
    missing = [k for k in PROJ_PARAMS if k not in p]
    if missing:
        fail(fn, f"argument {p_name!r} is missing parameter(s) {missing}; expected keys {PROJ_PARAMS}, got {sorted(p)}")
    W = float_array(fn, f"{p_name}['W_xi']", p["W_xi"], 2, "(n, m)")
    n, m = W.shape
    Wp = float_array(fn, f"{p_name}[{PROJ!r}]", p[PROJ], 2, "(P, n)")
    P = Wp.shape[0]
    if Wp.shape[1] != n or not 1 <= P <= n:
        fail(fn, f"argument {p_name}[{PROJ!r}] should have shape (P, n) with 1 <= P <= n = W_xi.shape[0] = {n}, "
                 f"got {Wp.shape}")
    out = {"W_xi": W, PROJ: Wp}
    for k in LSTM_PARAMS[1:]:
        label = f"{p_name}[{k!r}]"
        want, axes = {"W_x": ((n, m), "(n, m) = W_xi.shape"), "W_h": ((n, P), "(n, P) with P = W_proj.shape[0]"),
                      "b_": ((n,), "(n,) with n = W_xi.shape[0]")}[k[:3] if k.startswith("W_") else "b_"]
        a = float_array(fn, label, p[k], len(want), axes.split(" ")[0])
        expect_shape(fn, label, a, want, axes)
        out[k] = a
    return out, n, m, P


def proj_step(fn: str, x, h, c, p):
    """Validate one projected cell call -> (x (B, m), h (B, P), c (B, n), params, dtype)."""
    params, n, m, P = proj_params(fn, p)
    x, _ = inputs_and_states(fn, x, [], n, m, "W_xi", sequence=False)
    B = x.shape[0]
    h = float_array(fn, "h", h, 2, "(B, P)")
    expect_shape(fn, "h", h, (B, P), "(B, P) with B = x.shape[0], P = W_proj.shape[0]")
    c = float_array(fn, "c", c, 2, "(B, n)")
    expect_shape(fn, "c", c, (B, n), "(B, n) with B = x.shape[0], n = W_xi.shape[0]")
    return x, h, c, params, np.result_type(x, h, c, *params.values())


def lstm_proj_cell(x, h, c, p):
    """One step: x (B, m), h (B, P), c (B, n) -> (h' (B, P), c' (B, n)); see the module formula."""
    x, h, c, params, dt = proj_step("lstm_proj_cell", x, h, c, p)
    x, h, c = (a.astype(dt, copy=False) for a in (x, h, c))
    W_x, W_h, b = stack(params, dt)
    a_i, a_f, a_g, a_o = np.split(matmul(x, W_x.T) + matmul(h, W_h.T) + b, 4, axis=1)
    c_new = sigmoid(a_f) * c + sigmoid(a_i) * np.tanh(a_g)
    u = sigmoid(a_o) * np.tanh(c_new)
    return matmul(u, params[PROJ].astype(dt, copy=False).T), c_new


__all__ = ["lstm_proj_cell", "proj_params", "proj_step", "PROJ_PARAMS"]
