"""The residual capabilities (residual, residual_vjp) built from real torch.nn modules (protocol version 1).

torch has no residual-block module (torchvision's BasicBlock is convolutional with batch norm), so each block
(W1, b1, W2, b2) is ``nn.Sequential(nn.Linear(n, k), Act(), nn.Linear(k, n))`` (Act = nn.Tanh / nn.Sigmoid /
nn.ReLU; the weights loaded by copy as in `torch_nn_backprop`) and the skip connection is the addition
``x + block(x)`` written here. Gradients are torch.autograd's through the modules (``.weight.grad``,
``.bias.grad`` and the input's ``.grad`` after ``y.backward(dy)``).

A fresh module is built per call in the requested ``dtype`` (float16 / bfloat16 / float32 / float64); inputs are
validated (blocks that keep the width, floating dtype, finite) and never mutated; outputs are new NumPy arrays of that
dtype. torch is imported lazily: without it the functions raise ImportError with the install hint.
"""
from __future__ import annotations

from ..numpy_ref.checks.backprop import cotangent
from ..numpy_ref.checks.residual import residual_args
from .startup import chapter_capabilities
from .startup import dtype as _dtype
from .startup import tensor as _tensor
from .startup import to_numpy as _out
from .startup import torch as _torch
from .torch_nn_backprop import activation_module, linear


def _block_modules(blocks, activation, td):
    torch = _torch()
    return [torch.nn.Sequential(linear(torch, W1, b1, td), activation_module(torch, activation),
                                linear(torch, W2, b2, td))
            for W1, b1, W2, b2 in blocks]


def _run(xt, mods):
    for m in mods:
        xt = xt + m(xt)  # the skip connection: torch.nn has no residual-block module
    return xt


def residual(x, blocks, activation, *, dtype="float64"):
    """y: x <- x + Sequential(Linear, Act, Linear)(x) per block (module doc)."""
    fn = "torch_nn_residual.residual"
    torch, td, _ = _dtype(fn, dtype)
    x, blocks, activation, _ = residual_args(fn, x, blocks, activation)
    mods = _block_modules(blocks, activation, td)
    with torch.no_grad():
        return _out(_run(_tensor(torch, x, td), mods), dtype)


def residual_vjp(x, blocks, activation, dy, *, dtype="float64"):
    """{"x": x.grad, "blocks": [(W1.grad, b1.grad, W2.grad, b2.grad), ...]} after y.backward(dy)."""
    fn = "torch_nn_residual.residual_vjp"
    torch, td, _ = _dtype(fn, dtype)
    x, blocks, activation, _ = residual_args(fn, x, blocks, activation)
    dy = cotangent(fn, dy, x.shape)
    mods = _block_modules(blocks, activation, td)
    xt = _tensor(torch, x, td, True)
    _run(xt, mods).backward(_tensor(torch, dy, td))
    out = []
    for m in mods:
        first, last = m[0], m[2]
        out.append(tuple(_out(p.grad, dtype) for p in (first.weight, first.bias, last.weight, last.bias)))
    return {"x": _out(xt.grad, dtype), "blocks": out}


def capabilities(dtype: str = "float64") -> dict:
    """{"residual", "residual_vjp"} bound to ``dtype``, for a Target."""
    _dtype("torch_nn_residual.capabilities", dtype)
    return chapter_capabilities(globals(), "residual", dtype)
