"""torch.nn.Conv1d / torch.nn.Conv2d behind the protocol's conv1d, conv1d_vjp, conv2d, conv2d_vjp (version 1).

Each call builds a fresh ``nn.Conv{1,2}d(in_channels=C_in, out_channels=C_out, kernel_size=K, stride, padding,
dilation, groups, bias=b is not None, padding_mode='zeros')`` of the requested dtype and loads ``weight <- w``
(C_out, C_in/groups, *K: the protocol's layout, no transpose) and ``bias <- b``. Gradients: torch.autograd
through the module, w.r.t. the input, ``.weight`` (-> "w") and ``.bias`` (-> "b"; None without a bias).
Inputs are validated as the NumPy reference does (numpy_ref/checks/convolution.py: shapes, groups dividing the
channels, a non-empty output, finite values), computed in ``dtype`` and returned as new NumPy arrays of it;
they are never mutated. torch is imported lazily (ImportError with the install hint without it).
"""
from __future__ import annotations


from ..numpy_ref.checks.convolution import ConvArgs, conv_args
from .startup import chapter_capabilities
from .startup import dtype as _dtype
from .startup import tensor as _tensor
from .startup import to_numpy as _np
from .startup import torch as _torch


def module(torch, a: ConvArgs, td):
    """The nn.Conv1d / nn.Conv2d holding w and b."""
    nd = len(a.s)
    cls = torch.nn.Conv1d if nd == 1 else torch.nn.Conv2d
    one = (lambda t: t[0]) if nd == 1 else tuple
    mod = cls(in_channels=a.x.shape[1], out_channels=a.w.shape[0], kernel_size=one(a.K), stride=one(a.s),
              padding=one(a.p), dilation=one(a.d), groups=a.G, bias=a.b is not None, padding_mode="zeros", dtype=td)
    with torch.no_grad():
        mod.weight.copy_(_tensor(torch, a.w, td))
        if a.b is not None:
            mod.bias.copy_(_tensor(torch, a.b, td))
    return mod


def _forward(fn, nd, dtype, *args):
    torch, td, dt = _dtype(fn, dtype)
    a = conv_args(fn, nd, *args)
    mod = module(torch, a, td)
    with torch.no_grad():
        return _np(mod(_tensor(torch, a.x, td)), dt)


def _vjp(fn, nd, dtype, *args):
    torch, td, dt = _dtype(fn, dtype)
    a = conv_args(fn, nd, *args, with_dy=True)
    mod = module(torch, a, td)
    x = _tensor(torch, a.x, td, True)
    leaves = (x, mod.weight) if a.b is None else (x, mod.weight, mod.bias)
    with torch.enable_grad():
        L = (_tensor(torch, a.dy, td) * mod(x)).sum()
        g = torch.autograd.grad(L, leaves)
    return {"x": _np(g[0], dt), "w": _np(g[1], dt), "b": None if a.b is None else _np(g[2], dt)}


def conv1d(x, w, b, stride, padding, dilation, groups, *, dtype="float32"):
    """y = nn.Conv1d(...)(x) (module doc)."""
    return _forward("conv1d", 1, dtype, x, w, b, stride, padding, dilation, groups)


def conv1d_vjp(x, w, b, stride, padding, dilation, groups, dy, *, dtype="float32"):
    """Gradients of L = <dy, y> by autograd through nn.Conv1d -> {"x", "w", "b"}."""
    return _vjp("conv1d_vjp", 1, dtype, x, w, b, stride, padding, dilation, groups, dy)


def conv2d(x, w, b, stride, padding, dilation, groups, *, dtype="float32"):
    """y = nn.Conv2d(...)(x) (module doc); stride, padding, dilation: an int or a pair."""
    return _forward("conv2d", 2, dtype, x, w, b, stride, padding, dilation, groups)


def conv2d_vjp(x, w, b, stride, padding, dilation, groups, dy, *, dtype="float32"):
    """Gradients of L = <dy, y> by autograd through nn.Conv2d -> {"x", "w", "b"}."""
    return _vjp("conv2d_vjp", 2, dtype, x, w, b, stride, padding, dilation, groups, dy)


def capabilities(dtype: str = "float32") -> dict:
    """{"conv1d", "conv1d_vjp", "conv2d", "conv2d_vjp"} bound to ``dtype``, for a Target."""
    _dtype("capabilities", dtype)
    return chapter_capabilities(globals(), "convolution", dtype)


def param_count(module_kwargs: dict, dims: int | None = None) -> int:
    """sum(p.numel()) of ``nn.Conv{dims}d(**module_kwargs)`` (dims: 1 or 2; by default 2 when kernel_size is a
    pair, else 1). Compare with the derived C_out (C_in/groups) prod(K) + C_out (conv.param_count)."""
    torch = _torch()
    if dims is None:
        dims = 2 if isinstance(module_kwargs.get("kernel_size"), (tuple, list)) else 1
    if dims not in (1, 2):
        raise ValueError(f"param_count: argument 'dims' should be 1 or 2, got {dims!r}")
    mod = (torch.nn.Conv1d if dims == 1 else torch.nn.Conv2d)(**module_kwargs)
    return int(sum(p.numel() for p in mod.parameters()))
