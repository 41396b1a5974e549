"""Broken layer norms (y = gamma (x - mean)/sqrt(var + eps) + beta over the LAST axis, biased variance; the
backward dx = (1/sigma)(g - mean g - xhat mean(g xhat)), g = gamma dy), each the NumPy reference with one bug.
Each is killed by the property named beside it in tests/layernorm/test_layernorm.py (`MUTANT_KILLERS` there),
and by the mutation meta-suite.
"""
from __future__ import annotations

import numpy as np

from dlproof.impl.numpy_ref import layernorm as NL

from mutants.base import Mutant, code_mutant

BUGS = {
    "unbiased_variance": "layer norm normalizes with the unbiased variance var F/(F-1)",
    "eps_outside_sqrt": "layer norm divides by sqrt(var) + eps",
    "wrong_axis": "layer norm takes the statistics over the first axis (when it has two or more entries)",
    "affine_ignored": "layer norm ignores gamma and beta",
    "backward_missing_term": "layer norm backward without the -xhat mean(g xhat) term",
}


def ln_forward_bug(bug: str):
    """The NumPy layernorm with one forward bug of `BUGS`."""
    def fwd(x, gamma, beta, eps):
        y = NL.layernorm(x, gamma, beta, eps)  # validation and dtype as the reference
        xx = x.astype(y.dtype)
        axis = 0 if bug == "wrong_axis" and x.ndim >= 2 and x.shape[0] >= 2 else -1
        F = xx.shape[axis]
        mu = xx.mean(axis=axis, keepdims=True)
        var = ((xx - mu) ** 2).mean(axis=axis, keepdims=True)
        if bug == "unbiased_variance" and F > 1:
            var = var * F / (F - 1)
        if bug == "eps_outside_sqrt":
            xh = (xx - mu) / (np.sqrt(var) + eps)
        else:
            xh = (xx - mu) / np.sqrt(var + eps)
        if gamma is not None and bug != "affine_ignored":
            xh = gamma * xh + beta
        return xh.astype(y.dtype)
    return fwd


def ln_vjp_missing_term(x, gamma, beta, eps, dy):
    out = NL.layernorm_vjp(x, gamma, beta, eps, dy)
    g = dy if gamma is None else gamma * dy
    mu = x.mean(axis=-1, keepdims=True)
    s = np.sqrt(((x - mu) ** 2).mean(axis=-1, keepdims=True) + eps)
    out["x"] = ((g - g.mean(axis=-1, keepdims=True)) / s).astype(out["x"].dtype)
    return out


MUTANTS: dict[str, Mutant] = {
    **{f"ln_{bug}": code_mutant(BUGS[bug], layernorm=ln_forward_bug(bug))
       for bug in ("unbiased_variance", "eps_outside_sqrt", "wrong_axis", "affine_ignored")},
    "ln_backward_missing_term": code_mutant(BUGS["backward_missing_term"], layernorm_vjp=ln_vjp_missing_term),
}
