"""Element-wise activations and their derivatives, overflow-free (no RuntimeWarning for any finite input).

sigmoid(x) = 1 / (1 + e^{-x}) is evaluated as 0.5 * (1 + tanh(x / 2)), which never overflows and gives
the exact limits 0 and 1 for large |x| (absolute error about one ulp of 1; for x << 0 the relative error
grows, since 1 + tanh(x/2) cancels). Derivatives are written from what the backward pass keeps:
tanh'(a) = 1 - y^2 with y = tanh(a); relu'(a) = 1 if a > 0 else 0 (relu'(0) is declared 0, as in torch).
All functions keep the input's floating dtype.
"""
from __future__ import annotations

import numpy as np


def sigmoid(x):
    """sigma(x) = 0.5 * (1 + tanh(x / 2)); exact 0 / 1 at x = -/+ 1e4."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def tanh(x):
    """tanh(x)."""
    return np.tanh(x)


def relu(x):
    """max(x, 0) (NaN propagates)."""
    return np.maximum(x, 0)


def dtanh_from_output(y):
    """tanh'(a) written from y = tanh(a): 1 - y * y."""
    return 1.0 - y * y


def dsigmoid_from_output(s):
    """sigma'(a) written from s = sigma(a): s * (1 - s)."""
    return s * (1.0 - s)


def drelu(a):
    """relu'(a) = 1 where a > 0, else 0 (relu'(0) = 0 by declaration), in a's dtype."""
    a = np.asarray(a)
    dt = a.dtype if np.issubdtype(a.dtype, np.floating) else np.float64
    return (a > 0).astype(dt)
