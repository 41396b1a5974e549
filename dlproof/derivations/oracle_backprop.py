"""The float64 oracle of the MLP (chapter backprop), by explicit Jacobian products (not by the delta recursion
the implementations use).

Per batch row, column vectors, numerator layout: J_l = diag(phi'(z^l)) W^l (l < L), J_L = W^L;
dy/dx = J_L ... J_1 [mlp.backprop.input_grad]; dx = (dy/dx)^T dy. For the weights, dy/dz^l = J_L ... J_{l+1}
diag(phi'(z^l)) (the proved chain, the Jacobian product of mlp.backprop.delta), delta^l = (dy/dz^l)^T dy and
dW^l = sum_b delta^l a^{l-1}^T, db^l = sum_b delta^l [mlp.backprop.weight_grad]. The residual oracle
(oracle_residual.py) shares the activation pairs `_act`.
Everything is float64; inputs are converted, never mutated.
"""
from __future__ import annotations

import numpy as np

ACTIVATIONS = ("tanh", "sigmoid", "relu")


def _act(activation: str):
    if activation == "tanh":
        return np.tanh, lambda z: 1.0 - np.tanh(z) ** 2
    if activation == "sigmoid":
        s = lambda z: 0.5 * (1.0 + np.tanh(0.5 * z))  # noqa: E731 - overflow-free logistic
        return s, lambda z: s(z) * (1.0 - s(z))
    if activation == "relu":
        return (lambda z: np.maximum(z, 0.0)), (lambda z: (z > 0).astype(np.float64))
    raise ValueError(f"oracle_backprop: activation={activation!r}, but should be one of {ACTIVATIONS}")


def _f64(a):
    return np.asarray(a, np.float64)


def _diag(d):
    """(B, n) -> (B, n, n) diagonal matrices."""
    return d[:, :, None] * np.eye(d.shape[1])[None]


def mlp_forward_states(x, layers, activation: str):
    """(zs [z^1..z^L] (B, n_l), acts [a^0..a^L]) with a^L = z^L = y. [mlp.forward]"""
    f, _ = _act(activation)
    a = _f64(x)
    zs, acts = [], [a]
    L = len(layers)
    for l, (W, b) in enumerate(layers, start=1):
        z = np.einsum("ij,bj->bi", _f64(W), a) + _f64(b)
        zs.append(z)
        a = f(z) if l < L else z
        acts.append(a)
    return zs, acts


def mlp_forward(x, layers, activation: str):
    """y (B, n_L) in float64. [mlp.forward]"""
    return mlp_forward_states(x, layers, activation)[1][-1]


def mlp_layer_jacobians(x, layers, activation: str):
    """[J_1..J_L], J_l (B, n_l, n_{l-1}) = diag(phi'(z^l)) W^l (l < L), J_L = W^L broadcast."""
    _, df = _act(activation)
    zs, _ = mlp_forward_states(x, layers, activation)
    B, L = _f64(x).shape[0], len(layers)
    out = []
    for l, (W, _b) in enumerate(layers, start=1):
        W = np.broadcast_to(_f64(W), (B,) + np.shape(W))
        out.append(_diag(df(zs[l - 1])) @ W if l < L else W.copy())
    return out


def mlp_jacobian(x, layers, activation: str):
    """dy/dx = J_L ... J_1, (B, n_L, n_0). [mlp.backprop.input_grad]"""
    Js = mlp_layer_jacobians(x, layers, activation)
    P = Js[0]
    for J in Js[1:]:
        P = J @ P
    return P


def mlp_vjp(x, layers, activation: str, dy):
    """Gradients of L = <dy, y>: {"x": (B, n_0), "layers": [(dW_l, db_l), ...]} in float64."""
    _, df = _act(activation)
    zs, acts = mlp_forward_states(x, layers, activation)
    dy = _f64(dy)
    B, L = dy.shape[0], len(layers)
    eye = np.broadcast_to(np.eye(dy.shape[1]), (B, dy.shape[1], dy.shape[1]))
    grads = [None] * L
    P = eye.copy()  # dy/dz^{l} built right-to-left: P_l = J_L ... J_{l+1} diag(phi'(z^l))
    for l in range(L, 0, -1):
        dydz = P if l == L else P @ _diag(df(zs[l - 1]))
        delta = np.einsum("bij,bi->bj", dydz, dy)  # (dy/dz^l)^T dy
        grads[l - 1] = (np.einsum("bi,bj->ij", delta, acts[l - 1]), delta.sum(axis=0))
        P = dydz @ np.broadcast_to(_f64(layers[l - 1][0]), (B,) + np.shape(layers[l - 1][0]))
    dx = np.einsum("bij,bi->bj", mlp_jacobian(x, layers, activation), dy)
    return {"x": dx, "layers": grads}
