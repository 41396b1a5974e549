"""Residual network with torch ops; gradients by torch.autograd (NumPy in and out).

Each block maps x to x + phi(x @ W1.T + b1) @ W2.T + b2 [resnet.forward]; residual_vjp is autograd's
gradient of L = <dy, y>. Computed in the inputs' dtype; inputs are never mutated.
"""
from __future__ import annotations

from ..numpy_ref.checks.backprop import cotangent
from ..numpy_ref.checks.residual import residual_args
from ._torch import to_numpy, to_torch, torch, torch_dtype
from .backprop import PHI


def _run(x, blocks, activation):
    phi = PHI[activation]
    for W1, b1, W2, b2 in blocks:
        x = x + (phi(x @ W1.T + b1) @ W2.T + b2)
    return x


def residual(x, blocks, activation="tanh"):
    """y (B, n). [resnet.forward]"""
    x, blocks, activation, dtype = residual_args("residual", x, blocks, activation)
    td = torch_dtype(dtype)
    with torch.no_grad():
        y = _run(to_torch(x, td), [tuple(to_torch(a, td) for a in blk) for blk in blocks], activation)
    return to_numpy(y, dtype)


def residual_vjp(x, blocks, activation, dy):
    """{"x": dx, "blocks": [(dW1, db1, dW2, db2), ...]} of L = <dy, y> by torch.autograd."""
    fn = "residual_vjp"
    x, blocks, activation, dtype = residual_args(fn, x, blocks, activation)
    dy = cotangent(fn, dy, x.shape)
    td = torch_dtype(dtype)
    xt = to_torch(x, td, requires_grad=True)
    params = [tuple(to_torch(a, td, True) for a in blk) for blk in blocks]
    y = _run(xt, params, activation)
    grads = torch.autograd.grad(y, [xt] + [t for p in params for t in p], grad_outputs=to_torch(dy, td))
    gs = [to_numpy(g, dtype) for g in grads]
    return {"x": gs[0], "blocks": [tuple(gs[1 + 4 * i: 5 + 4 * i]) for i in range(len(blocks))]}
