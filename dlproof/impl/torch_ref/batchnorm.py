"""Batch normalization with torch ops; the backward is torch.autograd's (NumPy arrays in and out).

Same math and validation as `dlproof.impl.numpy_ref.batchnorm` (x (N, C), per feature over the batch axis,
eps > 0, 0 <= momentum <= 1, N >= 2 in training):
  training:  y = gamma (x - mu) / sqrt(var + eps) + beta, var biased (two-pass);
             running' = (1 - m) running + m stat, the variance stat unbiased N/(N-1) var (bn_running_var default);
  inference: y = gamma (x - running_mean) / sqrt(running_var + eps) + beta, running statistics unchanged.
batchnorm_vjp: torch.autograd.grad of L = <dy, y> (training mode) w.r.t. x, gamma, beta.
Computed in the inputs' common dtype (float16 / bfloat16 / float32 / float64 tensors); inputs are never mutated.
"""
from __future__ import annotations

from ..numpy_ref.checks.batchnorm import check_forward, check_vjp
from ._torch import to_numpy, to_torch, torch, torch_dtype


def _train_forward(x, g, b, eps):
    mu = x.mean(dim=0)
    d = x - mu
    var = (d * d).mean(dim=0)
    return g * d / torch.sqrt(var + eps) + b, mu, var


def batchnorm(x, gamma, beta, running_mean, running_var, training, momentum, eps):
    """-> (y (N, C), running_mean' (C,), running_var' (C,)) as NumPy arrays of the inputs' dtype."""
    x, g, b, rm, rv, training, momentum, eps, dt = check_forward(
        "batchnorm", x, gamma, beta, running_mean, running_var, training, momentum, eps)
    td = torch_dtype(dt)
    xt, gt, bt, rmt, rvt = (to_torch(a, td) for a in (x, g, b, rm, rv))
    with torch.no_grad():
        if not training:
            y = gt * (xt - rmt) / torch.sqrt(rvt + eps) + bt
            return to_numpy(y, dt), rm.astype(dt, copy=True), rv.astype(dt, copy=True)
        N = xt.shape[0]
        y, mu, var = _train_forward(xt, gt, bt, eps)
        rm_new = (1 - momentum) * rmt + momentum * mu
        rv_new = (1 - momentum) * rvt + momentum * (var * (N / (N - 1)))
    return to_numpy(y, dt), to_numpy(rm_new, dt), to_numpy(rv_new, dt)


def batchnorm_vjp(x, gamma, beta, eps, dy):
    """Training-mode gradients of L = <dy, y> by torch.autograd -> {"x", "gamma", "beta"}."""
    x, g, b, eps, dy, dt = check_vjp("batchnorm_vjp", x, gamma, beta, eps, dy)
    td = torch_dtype(dt)
    xt, gt, bt = (to_torch(a, td, requires_grad=True) for a in (x, g, b))
    with torch.enable_grad():
        y, _, _ = _train_forward(xt, gt, bt, eps)
        L = (to_torch(dy, td) * y).sum()
        dx, dg, db = torch.autograd.grad(L, (xt, gt, bt))
    return {"x": to_numpy(dx, dt), "gamma": to_numpy(dg, dt), "beta": to_numpy(db, dt)}
