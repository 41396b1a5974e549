"""Broken residual networks (each block x <- x + phi(x W1^T + b1) W2^T + b2; blocks [(W1, b1, W2, b2)]), each the
NumPy reference with one bug."""
from __future__ import annotations

import numpy as np

from dlproof.impl.numpy_ref import residual as NR

from mutants.base import Mutant, code_mutant


def residual_no_skip(x, blocks, activation):
    """Each block without its identity term: x <- phi(x W1^T + b1) W2^T + b2."""
    phi = {"tanh": np.tanh, "sigmoid": lambda z: 0.5 * (1 + np.tanh(0.5 * z)), "relu": lambda z: np.maximum(z, 0)}
    for W1, b1, W2, b2 in blocks:
        x = phi[activation](x @ W1.T + b1) @ W2.T + b2
    return x


def residual_no_skip_vjp(x, blocks, activation, dy):
    """The backward of the block without its identity term: g <- dz @ W1 (the '+ g' dropped)."""
    xs, zs, hs = NR._forward(x, blocks, activation, x.dtype)
    out = NR.residual_vjp(x, blocks, activation, dy)
    g = dy.copy()
    for l in range(len(blocks), 0, -1):
        W1, _, W2, _ = blocks[l - 1]
        g = (NR.dphi(activation, zs[l - 1], hs[l - 1]) * (g @ W2)) @ W1
    return {"x": g, "blocks": out["blocks"]}


MUTANTS: dict[str, Mutant] = {
    "residual_without_identity": code_mutant("residual block without its identity term", residual=residual_no_skip,
                                             residual_vjp=residual_no_skip_vjp),
}
