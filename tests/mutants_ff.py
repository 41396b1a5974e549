"""Broken feed-forward implementations (MLP, residual, dropout, batch norm), shared by the topic tests and
the mutation meta-suite (tests/mutation_catalog.py). Each is the NumPy reference with one bug."""
from __future__ import annotations

import numpy as np

from dlproof.impl.numpy_ref import batchnorm as NB
from dlproof.impl.numpy_ref import dropout as ND
from dlproof.impl.numpy_ref import backprop as NM
from dlproof.impl.numpy_ref import residual as NR

# ---- MLP ----------------------------------------------------------------------------------------------


def mlp_vjp_bug(kind: str):
    """mlp_vjp with one backprop bug, over the NumPy forward states: "no_dphi" (diag(phi') dropped),
    "phi_not_dphi" (phi where phi' belongs), "transposed" (dW^T), "a_l" (dW from a^l instead of a^{l-1})."""
    def vjp(x, layers, activation, dy):
        zs, acts = NM._forward(x, layers, activation, x.dtype)
        f = NM._PHI[activation]
        delta, grads = dy.copy(), [None] * len(layers)
        for l in range(len(layers), 0, -1):
            W = layers[l - 1][0]
            a_in = acts[l] if kind == "a_l" else acts[l - 1]
            dW = delta.T @ a_in
            grads[l - 1] = (dW.T.copy() if kind == "transposed" else dW, delta.sum(0))
            back = delta @ W
            if l > 1:
                if kind == "no_dphi":
                    delta = back
                elif kind == "phi_not_dphi":
                    delta = f(zs[l - 2]) * back
                else:
                    delta = NM.dphi(activation, zs[l - 2], acts[l - 1]) * back
        return {"x": back, "layers": grads}
    return vjp


def mlp_last_activated(x, layers, activation):
    """The activation applied to the last (linear) layer too."""
    return NM._PHI[activation](NM.mlp(x, layers, activation))


# ---- residual -----------------------------------------------------------------------------------------

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


# ---- dropout ------------------------------------------------------------------------------------------

def dropout_scaled(factor):
    """y = m x * factor(q, p) instead of m x / q (from the correct y = m x / q)."""
    def fwd(x, p, training, seed):
        y = ND.dropout(x, p, training, seed)
        return np.asarray(y * (1 - p) * factor(1 - p, p), dtype=x.dtype) if training else y
    return fwd


def dropout_keep_with_p(x, p, training, seed):
    """Keeps with probability p (drops with probability q): the two probabilities swapped."""
    if not training:
        return x.copy()
    m = np.random.default_rng(seed).random(x.shape) < p
    return np.asarray(m * x / (1 - p), dtype=x.dtype)


def dropout_global_rng(x, p, training, seed):
    np.random.seed(seed)  # the bug: reseeds the caller's global NumPy RNG
    return ND.dropout(x, p, training, seed)


def dropout_at_inference(x, p, training, seed):
    return ND.dropout(x, p, True, seed)


def dropout_vjp_other_seed(x, p, seed, dy):
    return ND.dropout_vjp(x, p, seed + 1, dy)


def dropout_vjp_without_1_over_q(x, p, seed, dy):
    return ND.dropout_vjp(x, p, seed, dy) * (1 - p)


def dropout_seed_ignored(x, p, training, seed):
    return ND.dropout(x, p, training, 0)


def _other_stream(seed: int) -> int:
    return (seed * 2654435761 + 7919) % 2 ** 63


def dropout_other_stream(x, p, training, seed):
    """A correct dropout whose masks come from another RNG stream (seed -> a * seed + c): an equivalent rewrite."""
    return ND.dropout(x, p, training, _other_stream(seed))


def dropout_vjp_other_stream(x, p, seed, dy):
    return ND.dropout_vjp(x, p, _other_stream(seed), dy)


# ---- batch normalization --------------------------------------------------------------------------------

def bn_forward_bug(kind: str):
    """The training forward with one bug: "unbiased_forward" (normalizes with N/(N-1) var), "eps_outside_sqrt"
    (sqrt(var) + eps), "biased_running_var" (the biased variance folded into running_var)."""
    def fwd(x, gamma, beta, running_mean, running_var, training, momentum, eps):
        y, rm, rv = NB.batchnorm(x, gamma, beta, running_mean, running_var, training, momentum, eps)
        if training:
            N = x.shape[0]
            mu = x.mean(axis=0)
            var = ((x - mu) ** 2).mean(axis=0)
            if kind == "unbiased_forward":
                y = gamma * (x - mu) / np.sqrt(var * N / (N - 1) + eps) + beta
            elif kind == "eps_outside_sqrt":
                y = gamma * (x - mu) / (np.sqrt(var) + eps) + beta
            elif kind == "biased_running_var":
                rv = (1 - momentum) * running_var + momentum * var
        return y.astype(x.dtype), rm, rv.astype(x.dtype)
    return fwd


def bn_keras_momentum(x, gamma, beta, running_mean, running_var, training, momentum, eps):
    return NB.batchnorm(x, gamma, beta, running_mean, running_var, training, 1 - momentum, eps)


def bn_vjp_missing_term(x, gamma, beta, eps, dy):
    out = NB.batchnorm_vjp(x, gamma, beta, eps, dy)
    N = x.shape[0]
    mu = x.mean(axis=0)
    s = np.sqrt(((x - mu) ** 2).mean(axis=0) + eps)
    out["x"] = gamma / (N * s) * (N * dy - dy.sum(axis=0))
    return out
