"""Validation of the empirical_ntk call: X1 (n1, d), X2 (n2, d), W (m, d), a (m,), floating and finite, with
n1, n2 >= 0, d >= 1, m >= 1."""
from __future__ import annotations

import numpy as np

from .common import expect_shape, fail, finite, float_array


def check_args(fn: str, X1, X2, W, a):
    """Validated (X1, X2, W, a, dtype) of an empirical_ntk call."""
    W = float_array(fn, "W", W, 2, "(m, d)")
    m, d = W.shape
    if m < 1 or d < 1:
        fail(fn, f"argument 'W' should have shape (m, d) with m >= 1 hidden units and d >= 1 inputs, got {W.shape}")
    a = float_array(fn, "a", a, 1, "(m,)")
    expect_shape(fn, "a", a, (m,), "(m,) with m = W.shape[0]")
    out = []
    for name, X in (("X1", X1), ("X2", X2)):
        X = float_array(fn, name, X, 2, "(n, d)")
        if X.shape[1] != d:
            fail(fn, f"argument {name!r} should have shape (n, d) with d = W.shape[1] = {d}, got {X.shape}")
        out.append(X)
    for name, v in (("X1", out[0]), ("X2", out[1]), ("W", W), ("a", a)):
        finite(fn, name, v)
    return out[0], out[1], W, a, np.result_type(out[0], out[1], W, a)
