"""The MLP capabilities (mlp, mlp_vjp) built from real torch.nn modules (protocol version 1).

mlp: ``nn.Sequential(nn.Linear(n_0, n_1), Act(), ..., nn.Linear(n_{L-1}, n_L))`` with Act = nn.Tanh /
nn.Sigmoid / nn.ReLU between the layers and none after the last (the protocol's last layer is linear).
Protocol W_l (n_l, n_{l-1}) and b_l (n_l,) are exactly nn.Linear's ``.weight`` (out_features,
in_features) and ``.bias``: loaded by copy, no transpose. Gradients are torch.autograd's through the
module (``.weight.grad``, ``.bias.grad`` and the input's ``.grad`` after ``y.backward(dy)``).

A fresh module is built per call in the requested ``dtype`` (float16 / bfloat16 / float32 / float64); inputs are
validated (shapes between layers, floating dtype, finite) and never mutated; outputs are new NumPy arrays of that
dtype. torch is imported lazily: without it the functions raise ImportError with the install hint.
"""
from __future__ import annotations

import numpy as np

from ..numpy_ref.checks import backprop as checks
from .startup import chapter_capabilities
from .startup import dtype as _dtype
from .startup import tensor as _tensor
from .startup import to_numpy as _out
from .startup import torch as _torch


def activation_module(torch, activation: str):
    """nn.Tanh(), nn.Sigmoid() or nn.ReLU()."""
    return {"tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU}[activation]()


def linear(torch, W: np.ndarray, b: np.ndarray, td):
    """nn.Linear(n_in, n_out) of dtype ``td`` holding W (n_out, n_in) and b (n_out,) (copies, no transpose)."""
    lin = torch.nn.Linear(W.shape[1], W.shape[0], bias=True, dtype=td)
    with torch.no_grad():
        lin.weight.copy_(_tensor(torch, W, td))
        lin.bias.copy_(_tensor(torch, b, td))
    return lin


def mlp_module(layers, activation: str, td):
    """The nn.Sequential of nn.Linear and activation modules holding ``layers`` (no activation at the end)."""
    torch = _torch()
    mods = []
    for l, (W, b) in enumerate(layers, start=1):
        mods.append(linear(torch, W, b, td))
        if l < len(layers):
            mods.append(activation_module(torch, activation))
    return torch.nn.Sequential(*mods)


def mlp(x, layers, activation, *, dtype="float64"):
    """y = nn.Sequential(...)(x) (module doc)."""
    fn = "torch_nn_backprop.mlp"
    torch, td, _ = _dtype(fn, dtype)
    x, layers, activation, _ = checks.mlp_args(fn, x, layers, activation)
    net = mlp_module(layers, activation, td)
    with torch.no_grad():
        return _out(net(_tensor(torch, x, td)), dtype)


def mlp_vjp(x, layers, activation, dy, *, dtype="float64"):
    """{"x": x.grad, "layers": [(linear.weight.grad, linear.bias.grad), ...]} after y.backward(dy)."""
    fn = "torch_nn_backprop.mlp_vjp"
    torch, td, _ = _dtype(fn, dtype)
    x, layers, activation, _ = checks.mlp_args(fn, x, layers, activation)
    dy = checks.cotangent(fn, dy, (x.shape[0], layers[-1][0].shape[0]))
    net = mlp_module(layers, activation, td)
    xt = _tensor(torch, x, td, True)
    net(xt).backward(_tensor(torch, dy, td))
    lins = [m for m in net if isinstance(m, torch.nn.Linear)]
    return {"x": _out(xt.grad, dtype), "layers": [(_out(m.weight.grad, dtype), _out(m.bias.grad, dtype)) for m in lins]}


def capabilities(dtype: str = "float64") -> dict:
    """{"mlp", "mlp_vjp"} bound to ``dtype``, for a Target."""
    _dtype("torch_nn_backprop.capabilities", dtype)
    return chapter_capabilities(globals(), "backprop", dtype)
