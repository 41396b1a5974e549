"""Validation of the dropout calls (NumPy reference, torch reference, torch.nn adapters).

Every failure names the function and the argument: a ValueError for a bad value or shape, a TypeError for a
wrong type. p must be a real in [0, 1) (p = 1 drops everything: torch returns zeros, the protocol's 1/q is
undefined), seed an int >= 0, training a bool, x and dy finite floating arrays of the same shape.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .common import fail, finite, flag, float_array


def probability(fn: str, p) -> float:
    """The drop probability as a Python float in [0, 1)."""
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real):
        fail(fn, f"argument 'p' (the drop probability) should be a real number in [0, 1), got {p!r} "
             f"({type(p).__name__})", TypeError)
    f = float(p)
    if not math.isfinite(f) or f < 0.0:
        fail(fn, f"argument 'p' (the drop probability) should be a real number in [0, 1), got {p!r}")
    if f >= 1.0:
        fail(fn, f"argument 'p' (the drop probability) should be < 1, got {p!r}: p = 1 drops every entry and "
             "the scale 1/(1 - p) is undefined (torch returns zeros; outside the protocol)")
    return f


def seed_value(fn: str, seed, limit=None) -> int:
    """The seed as a Python int >= 0 (below ``limit`` when the generator has one)."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        fail(fn, f"argument 'seed' should be an int >= 0, got {seed!r} ({type(seed).__name__})", TypeError)
    s = int(seed)
    if s < 0:
        fail(fn, f"argument 'seed' should be an int >= 0, got {seed!r}")
    if limit is not None and s >= limit:
        fail(fn, f"argument 'seed' should be < {limit} (the generator's seed range), got {seed!r}")
    return s


def finite_array(fn: str, name: str, a) -> np.ndarray:
    """``a`` as a floating ndarray of any shape, every entry finite."""
    return finite(fn, name, float_array(fn, name, a, None, None, exc=TypeError))


def forward_args(fn: str, x, p, training, seed, seed_limit=None):
    """Validated (x, p, training, seed) of a ``dropout(x, p, training, seed)`` call."""
    x, p = finite_array(fn, "x", x), probability(fn, p)
    return x, p, flag(fn, "training", training), seed_value(fn, seed, seed_limit)


def vjp_args(fn: str, x, p, seed, dy, seed_limit=None):
    """Validated (x, p, seed, dy) of a ``dropout_vjp(x, p, seed, dy)`` call; dy must have x's shape."""
    x = finite_array(fn, "x", x)
    dy = finite_array(fn, "dy", dy)
    if dy.shape != x.shape:
        fail(fn, f"argument 'dy' should have x's shape {x.shape}, got {dy.shape}")
    return x, probability(fn, p), seed_value(fn, seed, seed_limit), dy
