"""torch.nn.BatchNorm1d behind the protocol's batchnorm / batchnorm_vjp (version 1).

Each call builds a fresh ``torch.nn.BatchNorm1d(C, eps=eps, momentum=momentum)`` of the target's dtype, loads
``weight <- gamma``, ``bias <- beta`` and the buffers ``running_mean``, ``running_var``, sets ``.train()`` or
``.eval()`` per ``training``, runs x (N, C) through it and reads the running statistics back from its buffers
(training updates them: running' = (1 - momentum) running + momentum stat, the variance stat unbiased:
convention bn_running_var = "unbiased"). Gradients: torch.autograd through the module in train mode, w.r.t.
x, weight (-> "gamma") and bias (-> "beta"). Inputs are validated as the NumPy reference does (so torch never
sees N = 1 in training, eps <= 0, momentum outside [0, 1] or non-finite values), computed in ``dtype`` and
returned as new NumPy arrays of it; they are never mutated. torch is imported lazily (ImportError with the
install hint without it).
"""
from __future__ import annotations


from dlproof.target import Target

from ..numpy_ref.checks.batchnorm import check_forward, check_vjp
from .startup import chapter_capabilities
from .startup import dtype as _dtype
from .startup import tensor as _tensor
from .startup import to_numpy as _np


def conventions() -> dict:
    """torch.nn.BatchNorm1d folds the unbiased N/(N-1) batch variance into running_var."""
    return {"bn_running_var": "unbiased"}


def _module(torch, td, C, eps, momentum, gamma, beta, rm=None, rv=None):
    mod = torch.nn.BatchNorm1d(C, eps=eps, momentum=momentum, dtype=td)
    with torch.no_grad():
        mod.weight.copy_(_tensor(torch, gamma, td))
        mod.bias.copy_(_tensor(torch, beta, td))
        if rm is not None:
            mod.running_mean.copy_(_tensor(torch, rm, td))
            mod.running_var.copy_(_tensor(torch, rv, td))
    return mod


def batchnorm(x, gamma, beta, running_mean, running_var, training, momentum, eps, *, dtype="float32"):
    """-> (y (N, C), running_mean' (C,), running_var' (C,)) from a real torch.nn.BatchNorm1d."""
    fn = "batchnorm"
    torch, td, dt = _dtype(fn, dtype)
    x, g, b, rm, rv, training, momentum, eps, _ = check_forward(
        fn, x, gamma, beta, running_mean, running_var, training, momentum, eps)
    mod = _module(torch, td, x.shape[1], eps, momentum, g, b, rm, rv)
    mod.train(training)
    with torch.no_grad():
        y = mod(_tensor(torch, x, td))
    return _np(y, dt), _np(mod.running_mean, dt), _np(mod.running_var, dt)


def batchnorm_vjp(x, gamma, beta, eps, dy, *, dtype="float32"):
    """Training-mode gradients of L = <dy, y> by autograd through torch.nn.BatchNorm1d -> {"x", "gamma", "beta"}."""
    fn = "batchnorm_vjp"
    torch, td, dt = _dtype(fn, dtype)
    x, g, b, eps, dy, _ = check_vjp(fn, x, gamma, beta, eps, dy)
    mod = _module(torch, td, x.shape[1], eps, 0.1, g, b)
    mod.train()
    xt = _tensor(torch, x, td, True)
    with torch.enable_grad():
        y = mod(xt)
        L = (_tensor(torch, dy, td) * y).sum()
        dx, dg, db = torch.autograd.grad(L, (xt, mod.weight, mod.bias))
    return {"x": _np(dx, dt), "gamma": _np(dg, dt), "beta": _np(db, dt)}


def capabilities(dtype: str = "float32") -> dict:
    """{"batchnorm", "batchnorm_vjp"} bound to ``dtype``, for a Target."""
    _dtype("capabilities", dtype)
    return chapter_capabilities(globals(), "batchnorm", dtype)


def target(dtype: str = "float32") -> Target:
    """The batch-norm capabilities of torch.nn.BatchNorm1d (fresh module per call) as a Target."""
    torch, _, _ = _dtype("target", dtype)
    version = torch.__version__.split("+")[0]
    return Target(name=f"torch.nn.BatchNorm1d (torch {version}, {dtype})", dtype=dtype, conventions=conventions(),
                  **capabilities(dtype))
