"""Broken dropouts (training: y = m x / q with m ~ Bernoulli(q) i.i.d., q = 1 - p, the mask a function of the seed
alone; inference: y = x), each the NumPy reference with one bug."""
from __future__ import annotations

import numpy as np

from dlproof.impl.numpy_ref import dropout as ND

from mutants.base import Mutant, code_mutant


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


MUTANTS: dict[str, Mutant] = {
    "dropout_scale_by_p": code_mutant("dropout scales by p instead of 1/q", dropout=dropout_scaled(lambda q, p: p)),
    "dropout_scale_by_q": code_mutant("dropout scales by q instead of 1/q", dropout=dropout_scaled(lambda q, p: q)),
    "dropout_unscaled": code_mutant("dropout without the 1/q scaling", dropout=dropout_scaled(lambda q, p: 1.0)),
    "dropout_keeps_with_p": code_mutant("dropout keeps with probability p", dropout=dropout_keep_with_p),
    "dropout_at_inference": code_mutant("dropout applied at inference", dropout=dropout_at_inference),
    "dropout_vjp_other_mask": code_mutant("dropout backward with another seed's mask", dropout_vjp=dropout_vjp_other_seed),
    "dropout_vjp_without_1_over_q": code_mutant("dropout backward without the 1/q", dropout_vjp=dropout_vjp_without_1_over_q),
}

EQUIVALENT = {
    "dropout_other_rng_stream": (code_mutant("dropout masks from another RNG stream", dropout=dropout_other_stream,
                                             dropout_vjp=dropout_vjp_other_stream),
                                 "Another seed-to-mask map is still i.i.d. Bernoulli(q) masks with the same seed giving "
                                 "the same mask in forward and backward: a correct dropout. The statistical properties "
                                 "must not accuse it (their false-alarm probability is at most 1e-10 per check)."),
}
