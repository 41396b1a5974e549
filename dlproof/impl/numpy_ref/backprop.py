"""Dense feed-forward network (MLP) in NumPy with a hand-written backward (the delta recursion).

Batch rows: a_0 = x (B, n_0), z_l = a_{l-1} @ W_l.T + b_l, a_l = phi(z_l) for l < L, y = z_L (the last
layer linear). Backward for L = <dy, y> [mlp.backprop.*]: delta_L = dy,
delta_l = phi'(z_l) * (delta_{l+1} @ W_{l+1}), dW_l = delta_l.T @ a_{l-1}, db_l = delta_l.sum(0),
dx = delta_1 @ W_1. phi' is written from the output: tanh' = 1 - a^2, sigmoid' = s (1 - s),
relu' = [z > 0] (relu'(0) = 0). Computed in the inputs' dtype; inputs are never mutated.
"""
from __future__ import annotations

import numpy as np

from .checks import backprop as checks
from . import activations as A
from .arith import total

_PHI = {"tanh": A.tanh, "sigmoid": A.sigmoid, "relu": A.relu}


def dphi(activation: str, z, a):
    """phi'(z) given z and a = phi(z)."""
    if activation == "tanh":
        return A.dtanh_from_output(a)
    if activation == "sigmoid":
        return A.dsigmoid_from_output(a)
    return A.drelu(z)


def _forward(x, layers, activation, dtype):
    phi = _PHI[activation]
    a = x.astype(dtype, copy=False)
    zs, acts = [], [a]
    for l, (W, b) in enumerate(layers, start=1):
        z = a @ W.T.astype(dtype, copy=False) + b.astype(dtype, copy=False)
        zs.append(z)
        a = phi(z) if l < len(layers) else z
        acts.append(a)
    return zs, acts


def mlp(x, layers, activation="tanh"):
    """y (B, n_L) of the MLP (module doc). [mlp.forward]"""
    x, layers, activation, dtype = checks.mlp_args("mlp", x, layers, activation)
    return np.array(_forward(x, layers, activation, dtype)[1][-1], dtype=dtype)


def mlp_vjp(x, layers, activation, dy):
    """{"x": dx (B, n_0), "layers": [(dW_l, db_l), ...]} for L = <dy, y>, by the delta recursion."""
    fn = "mlp_vjp"
    x, layers, activation, dtype = checks.mlp_args(fn, x, layers, activation)
    dy = checks.cotangent(fn, dy, (x.shape[0], layers[-1][0].shape[0]))
    zs, acts = _forward(x, layers, activation, dtype)
    delta = dy.astype(dtype, copy=True)
    grads = [None] * len(layers)
    for l in range(len(layers), 0, -1):
        W = layers[l - 1][0].astype(dtype, copy=False)
        grads[l - 1] = (delta.T @ acts[l - 1], total(delta, 0))
        back = delta @ W
        if l > 1:
            delta = dphi(activation, zs[l - 2], acts[l - 1]) * back
    dx = back
    return {"x": np.asarray(dx, dtype), "layers": [(np.asarray(dW, dtype), np.asarray(db, dtype)) for dW, db in grads]}
