"""Broken batch norms (training: y = gamma (x - mu) / sqrt(var + eps) + beta over the batch axis 0 with the biased
var; running stats r <- (1 - momentum) r + momentum stat, running_var from the unbiased var), each the NumPy
reference with one bug."""
from __future__ import annotations

import numpy as np

from dlproof.impl.numpy_ref import batchnorm as NB

from mutants.base import Mutant, code_mutant


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


MUTANTS: dict[str, Mutant] = {
    "bn_unbiased_variance_forward": code_mutant("batch norm normalizes with the unbiased variance",
                                                batchnorm=bn_forward_bug("unbiased_forward")),
    "bn_eps_outside_sqrt": code_mutant("batch norm divides by sqrt(var) + eps", batchnorm=bn_forward_bug("eps_outside_sqrt")),
    "bn_biased_running_var": code_mutant("batch norm folds the biased variance into running_var (declared unbiased)",
                                         batchnorm=bn_forward_bug("biased_running_var")),
    "bn_keras_momentum": code_mutant("batch norm momentum weights the old value", batchnorm=bn_keras_momentum),
    "bn_backward_two_terms": code_mutant("batch norm backward without xhat sum(dy xhat)", batchnorm_vjp=bn_vjp_missing_term),
}
