"""Running error bounds by operator overloading: an `E` carries a float64 value and a bound on the
error a dtype-``u`` implementation can have made computing it (first order, plus the second-order
product term; Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., §3.1).

A model is the cell's formula written once with these operations, so the bound follows the math
line by line:

- ``affine(x, W_x, h, W_h, b)``: one dot product of length m + n + 1 per entry, any order or FMA:
  e = gamma_{m+n+1} (|W_x||x| + |W_h||h| + |b|) + |W_x| e_x + |W_h| e_h + e_b;
- ``a @ b``: gamma_k |a||b| + |a| e_b + e_a |b| + e_a e_b, k the inner dimension;
- ``a ± b``: e_a + e_b + u|a ± b|;  ``a * b``: |a| e_b + e_a |b| + e_a e_b + u|ab|;
- ``sigmoid``/``tanh``: L e + ACT_ULPS u, L = sup |phi'| on [a - e, a + e]
  (|sigmoid''| <= 0.0963, |tanh''| <= 0.7699, so L <= |phi'(a)| + c e, capped at 1/4 and 1);
- ``relu``: 1-Lipschitz and exact; ``heaviside`` (relu'): exact unless |a| <= e (then 1);
- ``total(axis)``: sums of k terms, gamma_k sum |terms| + sum e.

An ``E`` made without an error (``exact``) knows its ``e`` is exactly zero: the terms that ``e`` multiplies
are left out of the sums. Adding an exact 0 changes no bit of a (non-negative, finite) bound, so the
bounds are the same, only cheaper to compute.
"""
from __future__ import annotations

import numpy as np

ACT_ULPS = 4.0


def gamma(k: int, u: float) -> float:
    if k * u >= 1:
        raise ValueError(f"gamma_k undefined: k={k}, u={u} gives k u >= 1")
    return k * u / (1 - k * u)


class E:
    """A float64 value ``v`` with an entry-wise error bound ``e`` for unit roundoff ``u``."""

    __slots__ = ("v", "e", "u", "errfree")

    def __init__(self, v, e=None, u: float = 2.0 ** -53):
        self.v = v = np.asarray(v, np.float64)
        self.errfree = e is None  # e is exactly zero: the terms it multiplies are skipped (see the module doc)
        if e is None:
            self.e = np.zeros(v.shape)
        else:  # broadcast only when needed: np.broadcast_to costs more than the arithmetic on these small arrays
            e = np.asarray(e, np.float64)
            self.e = e if e.shape == v.shape else np.broadcast_to(e, v.shape)
        self.u = u

    def _wrap(self, other):
        return other if isinstance(other, E) else E(other, u=self.u)

    # arithmetic --------------------------------------------------------------------------------
    def __add__(self, other):
        o = self._wrap(other)
        v = self.v + o.v
        return E(v, sum_terms(None if self.errfree else self.e, None if o.errfree else o.e, self.u * np.abs(v)), self.u)

    __radd__ = __add__

    def __sub__(self, other):
        o = self._wrap(other)
        v = self.v - o.v
        return E(v, sum_terms(None if self.errfree else self.e, None if o.errfree else o.e, self.u * np.abs(v)), self.u)

    def __rsub__(self, other):
        return self._wrap(other) - self

    def __neg__(self):
        return E(-self.v, None if self.errfree else self.e, self.u)

    def __mul__(self, other):
        o = self._wrap(other)
        v = self.v * o.v
        a0, b0 = self.errfree, o.errfree
        e = sum_terms(None if b0 else np.abs(self.v) * o.e, None if a0 else self.e * np.abs(o.v),
                      None if a0 or b0 else self.e * o.e, self.u * np.abs(v))
        return E(v, e, self.u)

    __rmul__ = __mul__

    def __matmul__(self, other):
        o = self._wrap(other)
        k = self.v.shape[-1]
        av, bv = np.abs(self.v), np.abs(o.v)
        a0, b0 = self.errfree, o.errfree
        e = sum_terms(gamma(k, self.u) * (av @ bv), None if b0 else av @ o.e, None if a0 else self.e @ bv,
                      None if a0 or b0 else self.e @ o.e)
        return E(self.v @ o.v, e, self.u)

    @property
    def T(self):
        return E(np.swapaxes(self.v, -1, -2), None if self.errfree else np.swapaxes(self.e, -1, -2), self.u)

    def __getitem__(self, idx):
        return E(self.v[idx], None if self.errfree else self.e[idx], self.u)

    def total(self, axis):
        """Sum over ``axis`` (an int or tuple)."""
        k = int(np.prod([self.v.shape[a] for a in np.atleast_1d(axis)]))
        return E(self.v.sum(axis), sum_terms(gamma(max(k, 1), self.u) * np.abs(self.v).sum(axis),
                                             None if self.errfree else self.e.sum(axis)), self.u)


def sum_terms(*terms):
    """The terms added left to right, skipping None (an exactly zero term: leaving it out changes no bit)."""
    out = None
    for t in terms:
        if t is not None:
            out = t if out is None else out + t
    return out


def exact(v, u: float) -> E:
    """An input the target receives exactly (already in its dtype)."""
    return E(v, None, u)


def affine(x: E, W_x: E, h: E, W_h: E, b: E) -> E:
    """x @ W_x.T + h @ W_h.T + b as one dot product of length m + n + 1 per entry (order-free bound)."""
    u = x.u
    k = W_x.v.shape[-1] + W_h.v.shape[-1] + 1
    v = x.v @ W_x.v.T + h.v @ W_h.v.T + b.v
    ax, aWx, ah, aWh = np.abs(x.v), np.abs(W_x.v).T, np.abs(h.v), np.abs(W_h.v).T
    mag = ax @ aWx + ah @ aWh + np.abs(b.v)
    e = sum_terms(gamma(k, u) * mag, None if W_x.errfree else ax @ W_x.e.T, None if x.errfree else x.e @ aWx,
                  None if W_h.errfree else ah @ W_h.e.T, None if h.errfree else h.e @ aWh, None if b.errfree else b.e)
    return E(v, e, u)


def sigmoid(a: E) -> E:
    s = 0.5 * (1 + np.tanh(0.5 * a.v))
    L = np.minimum(0.25, s * (1 - s) + 0.0963 * a.e)
    return E(s, L * a.e + ACT_ULPS * a.u, a.u)


def tanh(a: E) -> E:
    t = np.tanh(a.v)
    L = np.minimum(1.0, 1 - t * t + 0.7699 * a.e)
    return E(t, L * a.e + ACT_ULPS * a.u, a.u)


def relu(a: E) -> E:
    return E(np.maximum(a.v, 0.0), None if a.errfree else a.e, a.u)


def heaviside(a: E) -> E:
    return E((a.v > 0).astype(np.float64), (np.abs(a.v) <= a.e).astype(np.float64), a.u)


def stack(items) -> E:
    items = list(items)
    e = None if all(i.errfree for i in items) else np.stack([i.e for i in items])
    return E(np.stack([i.v for i in items]), e, items[0].u)
