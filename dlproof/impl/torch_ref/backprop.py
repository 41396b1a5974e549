"""Dense feed-forward network (MLP) with torch ops; gradients by torch.autograd (NumPy in and out).

Batch rows: a_l = phi(a_{l-1} @ W_l.T + b_l) for l < L, y = a_{L-1} @ W_L.T + b_L (the last layer
linear) [mlp.forward]; mlp_vjp is autograd's gradient of L = <dy, y>. Computed in the inputs' dtype
(float16 / bfloat16 / float32 / float64 tensors); inputs are never mutated.
"""
from __future__ import annotations

from ..numpy_ref.checks import backprop as checks
from ._torch import to_numpy, to_torch, torch, torch_dtype

PHI = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}


def _run(x, layers, activation):
    phi = PHI[activation]
    a = x
    for l, (W, b) in enumerate(layers, start=1):
        a = a @ W.T + b
        if l < len(layers):
            a = phi(a)
    return a


def mlp(x, layers, activation="tanh"):
    """y (B, n_L). [mlp.forward]"""
    x, layers, activation, dtype = checks.mlp_args("mlp", x, layers, activation)
    td = torch_dtype(dtype)
    with torch.no_grad():
        y = _run(to_torch(x, td), [(to_torch(W, td), to_torch(b, td)) for W, b in layers], activation)
    return to_numpy(y, dtype)


def mlp_vjp(x, layers, activation, dy):
    """{"x": dx, "layers": [(dW_l, db_l), ...]} of L = <dy, y> by torch.autograd."""
    fn = "mlp_vjp"
    x, layers, activation, dtype = checks.mlp_args(fn, x, layers, activation)
    dy = checks.cotangent(fn, dy, (x.shape[0], layers[-1][0].shape[0]))
    td = torch_dtype(dtype)
    xt = to_torch(x, td, requires_grad=True)
    params = [(to_torch(W, td, True), to_torch(b, td, True)) for W, b in layers]
    y = _run(xt, params, activation)
    flat = [xt] + [t for p in params for t in p]
    grads = torch.autograd.grad(y, flat, grad_outputs=to_torch(dy, td))
    gs = [to_numpy(g, dtype) for g in grads]
    return {"x": gs[0], "layers": [(gs[1 + 2 * i], gs[2 + 2 * i]) for i in range(len(layers))]}
