"""Residual network in NumPy with a hand-written backward.

Batch rows: each block maps x to x + phi(x @ W1.T + b1) @ W2.T + b2 [resnet.forward]. Backward for
L = <dy, y> (g = dL/dx_l, starting at g = dy) [resnet.block.jacobian, resnet.chain.product]:
db2 = g.sum(0), dW2 = g.T @ h (h = phi(z)), dz = phi'(z) * (g @ W2), dW1 = dz.T @ x_{l-1},
db1 = dz.sum(0), and g <- g + dz @ W1 (the identity path plus the branch). Computed in the inputs'
dtype; inputs are never mutated.
"""
from __future__ import annotations

import numpy as np

from .checks.backprop import cotangent
from .checks.residual import residual_args
from .backprop import _PHI, dphi
from .arith import total


def _forward(x, blocks, activation, dtype):
    phi = _PHI[activation]
    xs, zs, hs = [x.astype(dtype, copy=False)], [], []
    for W1, b1, W2, b2 in blocks:
        z = xs[-1] @ W1.T.astype(dtype, copy=False) + b1.astype(dtype, copy=False)
        h = phi(z)
        zs.append(z)
        hs.append(h)
        xs.append(xs[-1] + (h @ W2.T.astype(dtype, copy=False) + b2.astype(dtype, copy=False)))
    return xs, zs, hs


def residual(x, blocks, activation="tanh"):
    """y (B, n) of the residual network (module doc). [resnet.forward]"""
    x, blocks, activation, dtype = residual_args("residual", x, blocks, activation)
    return np.array(_forward(x, blocks, activation, dtype)[0][-1], dtype=dtype)


def residual_vjp(x, blocks, activation, dy):
    """{"x": dx (B, n), "blocks": [(dW1, db1, dW2, db2), ...]} for L = <dy, y>."""
    fn = "residual_vjp"
    x, blocks, activation, dtype = residual_args(fn, x, blocks, activation)
    dy = cotangent(fn, dy, x.shape)
    xs, zs, hs = _forward(x, blocks, activation, dtype)
    g = dy.astype(dtype, copy=True)
    grads = [None] * len(blocks)
    for l in range(len(blocks), 0, -1):
        W1, _b1, W2, _b2 = (a.astype(dtype, copy=False) for a in blocks[l - 1])
        dz = dphi(activation, zs[l - 1], hs[l - 1]) * (g @ W2)
        grads[l - 1] = tuple(np.asarray(a, dtype) for a in (dz.T @ xs[l - 1], total(dz, 0), g.T @ hs[l - 1],
                                                             total(g, 0)))
        g = g + dz @ W1
    return {"x": np.asarray(g, dtype), "blocks": grads}
