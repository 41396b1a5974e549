"""The MLP and residual capabilities built from real torch.nn modules (protocol version 1).

mlp: ``nn.Sequential(nn.Linear(n_0, n_1), Act(), ..., nn.Linear(n_{L-1}, n_L))`` with Act = nn.Tanh /
nn.Sigmoid / nn.ReLU between the layers and none after the last (the protocol's last layer is linear).
Protocol W_l (n_l, n_{l-1}) and b_l (n_l,) are exactly nn.Linear's ``.weight`` (out_features,
in_features) and ``.bias``: loaded by copy, no transpose. Gradients are torch.autograd's through the
module (``.weight.grad``, ``.bias.grad`` and the input's ``.grad`` after ``y.backward(dy)``).

residual: torch has no residual-block module (torchvision's BasicBlock is convolutional with batch
norm), so each block is ``nn.Sequential(nn.Linear(n, k), Act(), nn.Linear(k, n))`` and the skip
connection is the addition ``x + block(x)`` written here.

A fresh module is built per call in the requested ``dtype`` (float32 / float64); inputs are validated
(shapes between layers, floating dtype, finite) and never mutated; outputs are new NumPy arrays of that
dtype. torch is imported lazily: without it the functions raise ImportError with the install hint.
"""
from __future__ import annotations

import numpy as np

from ..numpy_ref import _mlp_checks as checks

INSTALL_HINT = "dlproof.impl.adapters.torch_nn_mlp needs torch: pip install 'dlproof[torch]'"
DTYPES = ("float32", "float64")


def _torch():
    try:
        import torch
        import torch.nn  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(INSTALL_HINT) from exc
    return torch


def _dtype(fn: str, dtype):
    if dtype not in DTYPES:
        checks.fail(fn, f"argument 'dtype' should be one of {DTYPES}, got {dtype!r}")
    torch = _torch()
    return torch, {"float32": torch.float32, "float64": torch.float64}[dtype]


def _act_module(torch, activation: str):
    return {"tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU}[activation]()


def _linear(torch, W: np.ndarray, b: np.ndarray, td):
    lin = torch.nn.Linear(W.shape[1], W.shape[0], bias=True, dtype=td)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(np.asarray(W), dtype=td))
        lin.bias.copy_(torch.tensor(np.asarray(b), dtype=td))
    return lin


def mlp_module(layers, activation: str, td):
    """The nn.Sequential of nn.Linear and activation modules holding ``layers`` (no activation at the end)."""
    torch = _torch()
    mods = []
    for l, (W, b) in enumerate(layers, start=1):
        mods.append(_linear(torch, W, b, td))
        if l < len(layers):
            mods.append(_act_module(torch, activation))
    return torch.nn.Sequential(*mods)


def _block_modules(blocks, activation, td):
    torch = _torch()
    return [torch.nn.Sequential(_linear(torch, W1, b1, td), _act_module(torch, activation), _linear(torch, W2, b2, td))
            for W1, b1, W2, b2 in blocks]


def _out(t, dtype):
    return t.detach().cpu().numpy().astype(dtype, copy=True)


def mlp(x, layers, activation, *, dtype="float64"):
    """y = nn.Sequential(...)(x) (module doc)."""
    fn = "torch_nn_mlp.mlp"
    torch, td = _dtype(fn, dtype)
    x, layers, activation, _ = checks.mlp_args(fn, x, layers, activation)
    net = mlp_module(layers, activation, td)
    with torch.no_grad():
        return _out(net(torch.tensor(x, dtype=td)), dtype)


def mlp_vjp(x, layers, activation, dy, *, dtype="float64"):
    """{"x": x.grad, "layers": [(linear.weight.grad, linear.bias.grad), ...]} after y.backward(dy)."""
    fn = "torch_nn_mlp.mlp_vjp"
    torch, td = _dtype(fn, dtype)
    x, layers, activation, _ = checks.mlp_args(fn, x, layers, activation)
    dy = checks.cotangent(fn, dy, (x.shape[0], layers[-1][0].shape[0]))
    net = mlp_module(layers, activation, td)
    xt = torch.tensor(x, dtype=td, requires_grad=True)
    net(xt).backward(torch.tensor(dy, dtype=td))
    lins = [m for m in net if isinstance(m, torch.nn.Linear)]
    return {"x": _out(xt.grad, dtype), "layers": [(_out(m.weight.grad, dtype), _out(m.bias.grad, dtype)) for m in lins]}


def _residual_run(xt, mods):
    for m in mods:
        xt = xt + m(xt)  # the skip connection: torch.nn has no residual-block module
    return xt


def residual(x, blocks, activation, *, dtype="float64"):
    """y: x <- x + Sequential(Linear, Act, Linear)(x) per block (module doc)."""
    fn = "torch_nn_mlp.residual"
    torch, td = _dtype(fn, dtype)
    x, blocks, activation, _ = checks.residual_args(fn, x, blocks, activation)
    mods = _block_modules(blocks, activation, td)
    with torch.no_grad():
        return _out(_residual_run(torch.tensor(x, dtype=td), mods), dtype)


def residual_vjp(x, blocks, activation, dy, *, dtype="float64"):
    """{"x": x.grad, "blocks": [(W1.grad, b1.grad, W2.grad, b2.grad), ...]} after y.backward(dy)."""
    fn = "torch_nn_mlp.residual_vjp"
    torch, td = _dtype(fn, dtype)
    x, blocks, activation, _ = checks.residual_args(fn, x, blocks, activation)
    dy = checks.cotangent(fn, dy, x.shape)
    mods = _block_modules(blocks, activation, td)
    xt = torch.tensor(x, dtype=td, requires_grad=True)
    _residual_run(xt, mods).backward(torch.tensor(dy, dtype=td))
    out = []
    for m in mods:
        first, last = m[0], m[2]
        out.append(tuple(_out(p.grad, dtype) for p in (first.weight, first.bias, last.weight, last.bias)))
    return {"x": _out(xt.grad, dtype), "blocks": out}


def capabilities(dtype: str = "float64") -> dict:
    """{capability: callable} for a Target of ``dtype`` (mlp, mlp_vjp, residual, residual_vjp)."""
    from functools import partial

    _dtype("torch_nn_mlp.capabilities", dtype)
    return {"mlp": partial(mlp, dtype=dtype), "mlp_vjp": partial(mlp_vjp, dtype=dtype),
            "residual": partial(residual, dtype=dtype), "residual_vjp": partial(residual_vjp, dtype=dtype)}
