"""Inverted dropout in NumPy, with a hand-written backward.

p is the drop probability (torch's p, Keras' rate), q = 1 - p the keep probability, 0 <= p < 1.
  training:  y = m * x / q,  m_i = [u_i < q],  u = np.random.default_rng(seed).random(x.shape)  (m_i ~ Bernoulli(q))
  inference: y = x (a copy)
  backward:  dx = m * dy / q with the same mask (dy/dx = diag(m/q), derivation dropout.vjp).
The mask comes from a generator of its own, seeded by ``seed``: the same seed gives the same mask, and the
global RNG state (random, numpy.random) is never touched. Computed in x's dtype; inputs are never mutated.
"""
from __future__ import annotations

import numpy as np

from .checks import dropout as _dc


def mask(shape, p: float, seed: int) -> np.ndarray:
    """The boolean keep mask m (True = kept) of ``dropout(x, p, True, seed)`` for x of ``shape``."""
    q = 1.0 - p
    return np.random.default_rng(seed).random(shape) < q


def dropout(x, p, training, seed):
    """y = m * x / q in training mode (m ~ Bernoulli(1 - p) from ``seed``), a copy of x in inference."""
    x, p, training, seed = _dc.forward_args("dropout", x, p, training, seed)
    if not training:
        return x.copy()
    m = mask(x.shape, p, seed)
    return np.asarray((m.astype(x.dtype) * x) / x.dtype.type(1.0 - p))  # asarray: a 0-d x gives an array too


def dropout_vjp(x, p, seed, dy):
    """dx = m * dy / q with the mask of ``dropout(x, p, True, seed)`` (hand-written: dy/dx = diag(m/q))."""
    x, p, seed, dy = _dc.vjp_args("dropout_vjp", x, p, seed, dy)
    dtype = np.result_type(x, dy)
    m = mask(x.shape, p, seed)
    return np.asarray((m.astype(dtype) * dy) / dtype.type(1.0 - p), dtype=dtype)
