"""The float64 oracle for the MLP and residual networks, by explicit Jacobian products (not by the
delta recursion the implementations use).

Per batch row, column vectors, numerator layout:
- MLP: J_l = diag(phi'(z^l)) W^l (l < L), J_L = W^L; dy/dx = J_L ... J_1 [mlp.backprop.input_grad];
  dx = (dy/dx)^T dy. For the weights, dy/dz^l = J_L ... J_{l+1} diag(phi'(z^l)) (the proved chain, the
  Jacobian product of mlp.backprop.delta), delta^l = (dy/dz^l)^T dy and dW^l = sum_b delta^l a^{l-1}^T,
  db^l = sum_b delta^l [mlp.backprop.weight_grad].
- Residual: dx_L/dx_{l} = (I + J_L) ... (I + J_{l+1}) with J = W2 diag(phi'(z)) W1 [resnet.chain.product,
  resnet.block.jacobian]; g_l = (dx_L/dx_l)^T dy; inside block l the branch W2 phi(W1 x + b1) + b2 is a
  two-layer MLP with cotangent g_l [mlp.backprop.*].
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
    raise ValueError(f"oracle_mlp: activation={activation!r}, but should be one of {ACTIVATIONS}")


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


# ---------------------------------------------------------------- residual networks

def residual_forward_states(x, blocks, activation: str):
    """(xs [x_0..x_L], zs [z_1..z_L]) in float64. [resnet.forward]"""
    f, _ = _act(activation)
    xs, zs = [_f64(x)], []
    for W1, b1, W2, b2 in blocks:
        z = np.einsum("ij,bj->bi", _f64(W1), xs[-1]) + _f64(b1)
        zs.append(z)
        xs.append(xs[-1] + np.einsum("ij,bj->bi", _f64(W2), f(z)) + _f64(b2))
    return xs, zs


def residual_forward(x, blocks, activation: str):
    """y = x_L (B, n) in float64. [resnet.forward]"""
    return residual_forward_states(x, blocks, activation)[0][-1]


def residual_block_jacobians(x, blocks, activation: str):
    """[I + J_l], each (B, n, n), J_l = W2 diag(phi'(z_l)) W1 at x_{l-1}. [resnet.block.jacobian]"""
    _, df = _act(activation)
    xs, zs = residual_forward_states(x, blocks, activation)
    B, n = xs[0].shape
    return [np.eye(n)[None] + _f64(W2)[None] @ _diag(df(z)) @ _f64(W1)[None]
            for (W1, _b1, W2, _b2), z in zip(blocks, zs)]


def residual_jacobian(x, blocks, activation: str):
    """dx_L/dx_0 = (I + J_L) ... (I + J_1), (B, n, n). [resnet.chain.product]"""
    B, n = np.shape(x)
    P = np.broadcast_to(np.eye(n), (B, n, n)).copy()
    for M in residual_block_jacobians(x, blocks, activation):
        P = M @ P
    return P


def residual_vjp(x, blocks, activation: str, dy):
    """Gradients of L = <dy, y>: {"x": (B, n), "blocks": [(dW1, db1, dW2, db2), ...]} in float64."""
    f, df = _act(activation)
    xs, zs = residual_forward_states(x, blocks, activation)
    Ms = residual_block_jacobians(x, blocks, activation)
    dy = _f64(dy)
    B, n = dy.shape
    P = np.broadcast_to(np.eye(n), (B, n, n)).copy()  # dx_L/dx_l
    grads = [None] * len(blocks)
    for l in range(len(blocks), 0, -1):
        g = np.einsum("bij,bi->bj", P, dy)  # (dx_L/dx_l)^T dy
        W1, _b1, W2, _b2 = (_f64(a) for a in blocks[l - 1])
        z = zs[l - 1]
        dz = df(z) * np.einsum("ij,bi->bj", W2, g)  # diag(phi'(z)) W2^T g
        grads[l - 1] = (np.einsum("bi,bj->ij", dz, xs[l - 1]), dz.sum(axis=0),
                        np.einsum("bi,bj->ij", g, f(z)), g.sum(axis=0))
        P = P @ Ms[l - 1]
    dx = np.einsum("bij,bi->bj", P, dy)
    return {"x": dx, "blocks": grads}
