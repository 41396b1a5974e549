"""The float64 oracle of the dropout properties: the derived two-point terms and their moments, entry-wise.

Each function evaluates an expression of derivations/dropout.py (tests/dropout/test_dropout.py compares them with the
SymPy expressions at exact points). q = 1 - p is the keep probability, x the input (any shape, float64).
"""
from __future__ import annotations

import numpy as np


def _f64(x):
    return np.asarray(x, np.float64)


def kept_value(x, q: float):
    """y of a kept entry, x/q. [dropout.inverted.rule]"""
    return _f64(x) / q


def deviation_terms(x, q: float):
    """(kept, dropped) values of y - x: (x (1 - q)/q, -x). E = 0, Var = x^2 (1 - q)/q. [dropout.deviation.moments]"""
    x = _f64(x)
    return x * (1.0 - q) / q, -x


def squared_deviation_terms(x, q: float):
    """(kept, dropped) values of (y - x)^2: (x^2 (1 - q)^2/q^2, x^2). [dropout.deviation.moments]"""
    kept, dropped = deviation_terms(x, q)
    return kept * kept, dropped * dropped


def squared_deviation_mean(x, q: float):
    """E[(y - x)^2] = Var[y] = x^2 (1 - q)/q. [dropout.inverted.variance]"""
    x = _f64(x)
    return x * x * (1.0 - q) / q


def two_point_mean(a, c, q: float):
    """E Z = q a + (1 - q) c for Z = a with probability q, else c. [dropout.two_point.moments]"""
    return q * _f64(a) + (1.0 - q) * _f64(c)


def two_point_variance(a, c, q: float):
    """Var Z = q (1 - q)(a - c)^2. [dropout.two_point.moments]"""
    r = _f64(a) - _f64(c)
    return q * (1.0 - q) * r * r


def mask_agreement(n: int, q: float) -> float:
    """P(two independent masks of n entries agree) = (q^2 + (1 - q)^2)^n. [dropout.seed.agreement]"""
    return float((q * q + (1.0 - q) ** 2) ** n)
