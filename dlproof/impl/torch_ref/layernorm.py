"""Layer normalization over the last axis with torch ops; the backward is torch.autograd's (NumPy in and out).

Same math and validation as `dlproof.impl.numpy_ref.layernorm` (x (..., F); gamma, beta (F,) or both None;
eps >= 0): y = gamma (x - mean) / sqrt(var + eps) + beta with the biased variance (two-pass, written out with
torch ops, not torch.nn.functional.layer_norm: that is the adapter's job). layernorm_vjp: torch.autograd.grad
of L = <dy, y> w.r.t. x (and gamma, beta with the affine part; None without). Computed in the inputs' common
dtype; inputs are never mutated.
"""
from __future__ import annotations

from ..numpy_ref.layernorm import check_forward, check_vjp
from ._torch import to_numpy, to_torch, torch, torch_dtype


def _forward(x, g, b, eps):
    mu = x.mean(dim=-1, keepdim=True)
    d = x - mu
    var = (d * d).mean(dim=-1, keepdim=True)
    xh = d / torch.sqrt(var + eps)
    return xh if g is None else g * xh + b


def layernorm(x, gamma, beta, eps):
    """-> y (..., F) as a NumPy array of the inputs' dtype."""
    x, g, b, eps, dt = check_forward("layernorm", x, gamma, beta, eps)
    td = torch_dtype(dt)
    with torch.no_grad():
        y = _forward(to_torch(x, td), None if g is None else to_torch(g, td), None if b is None else to_torch(b, td), eps)
    return to_numpy(y, dt)


def layernorm_vjp(x, gamma, beta, eps, dy):
    """Gradients of L = <dy, y> by torch.autograd -> {"x", "gamma", "beta"} (None without the affine part)."""
    x, g, b, eps, dy, dt = check_vjp("layernorm_vjp", x, gamma, beta, eps, dy)
    td = torch_dtype(dt)
    leaves = [to_torch(x, td, requires_grad=True)]
    if g is not None:
        leaves += [to_torch(g, td, requires_grad=True), to_torch(b, td, requires_grad=True)]
    with torch.enable_grad():
        y = _forward(leaves[0], *(leaves[1:] or (None, None)), eps)
        L = (to_torch(dy, td) * y).sum()
        grads = torch.autograd.grad(L, leaves)
    out = {"x": to_numpy(grads[0], dt), "gamma": None, "beta": None}
    if g is not None:
        out["gamma"], out["beta"] = to_numpy(grads[1], dt), to_numpy(grads[2], dt)
    return out
