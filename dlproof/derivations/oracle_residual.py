"""The float64 oracle of residual networks (chapter residual), by explicit Jacobian products (not by the delta
recursion the implementations use).

Per batch row, column vectors, numerator layout: dx_L/dx_{l} = (I + J_L) ... (I + J_{l+1}) with
J = W2 diag(phi'(z)) W1 [resnet.chain.product, resnet.block.jacobian]; g_l = (dx_L/dx_l)^T dy; inside block l the
branch W2 phi(W1 x + b1) + b2 is a two-layer MLP with cotangent g_l [mlp.backprop.*].
Everything is float64; inputs are converted, never mutated.
"""
from __future__ import annotations

import numpy as np

from .oracle_backprop import _act, _diag, _f64


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
