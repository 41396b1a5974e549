"""Running error bounds by operator overloading: an `E` carries a float64 value and a bound on the
error a dtype-``u`` implementation can have made computing it (first order, plus the second-order
product term; Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., §3.1).

A model is the cell's formula written once with these operations, so the bound follows the math
line by line:

- ``affine(x, W_x, h, W_h, b)``: one dot product of length m + n + 1 per entry, any order or FMA:
  e = gamma_{m+n+1} (|W_x||x| + |W_h||h| + |b|) + |W_x| e_x + |W_h| e_h + e_b;
- ``a @ b``: gamma_k |a||b| + |a| e_b + e_a |b| + e_a e_b, k the inner dimension;
- mixed precision (``u_acc`` < ``u``: products accumulated in a more precise format, the result rounded once to
  the storage format): a dot product of length k (``@``, ``total``) takes gamma_k(u_acc) for its k roundings in
  the accumulator plus u |result| for the rounding to storage. Why this bounds it: the accumulator's value is
  s~ = sum_i t_i (1 + th_i), |th_i| <= gamma_k(u_acc) (Higham Lemma 3.1, in the accumulation format, any order,
  FMA or not), so |s~ - s| <= gamma_k(u_acc) sum |t_i|; rounding s~ to storage adds |fl(s~) - s~| <= u |s~|
  <= u |s| + u gamma_k(u_acc) sum |t_i| (second order, inside SAFETY). A formula that is a sum of j dot products
  (``affine``: x W_x^T, h W_h^T and b, j = 3; `tolerances._fused`: j gate blocks), each rounded to storage and
  then added in storage, takes (j - 1) u sum |terms| + u |result| on top: the j roundings of the pieces total
  at most u sum |terms|, each of the j - 1 additions at most u |partial sum| <= u sum |terms|, the last one
  u |result| (a fused single GEMM makes less). Elementwise operations and the activations stay at the storage
  u: a target that runs them wider (under autocast, float32) errs less, so u of storage covers it too. When
  ``u_acc`` = ``u`` none of these terms is added: gamma_k(u) already covers any split into pieces (each
  addition is one of the k roundings), and the bound is bit for bit the single-precision one;
- ``a ± b``: e_a + e_b + u|a ± b|;  ``a * b``: |a| e_b + e_a |b| + e_a e_b + u|ab|;
- ``sigmoid``/``tanh``: L e + act u, L = sup |phi'| on [a - e, a + e], act the declared activation_ulps
  (ACT_ULPS = 4 unless a target declares otherwise)
  (|sigmoid''| <= 0.0963, |tanh''| <= 0.7699, so L <= |phi'(a)| + c e, capped at 1/4 and 1);
- ``relu``: 1-Lipschitz and exact; ``heaviside`` (relu'): exact unless |a| <= e (then 1);
- ``total(axis)``: sums of k terms, gamma_k sum |terms| + sum e;
- underflow (``eta`` > 0, the extremes properties): with gradual underflow a product or quotient is
  fl(x y) = x y (1 + d) + h with |h| <= eta/2 (eta the smallest positive subnormal; Higham §2.1, (2.8)),
  while a sum that underflows is exact. So ``a * b`` adds eta and a dot product of length k adds k eta
  (target and float64 oracle together: eta = eta_target + eta_float64). Under flush-to-zero a result below
  the smallest normal number (tiny) becomes 0, sums included: ``eta`` = tiny and ``eta_add`` = tiny (per
  addition; 0 under gradual underflow). ``eta`` = ``eta_add`` = 0 (the default) leaves every bound bit for
  bit as before: the other strategies draw nothing within 10^20 of the underflow threshold, where these
  terms are below the last bit of every bound.

An ``E`` made without an error (``exact``) knows its ``e`` is exactly zero: the terms that ``e`` multiplies
are left out of the sums. Adding an exact 0 changes no bit of a (non-negative, finite) bound, so the
bounds are the same, only cheaper to compute.
"""
from __future__ import annotations

import numpy as np

#: ulps of error allowed per tanh/sigmoid/exp evaluation (the IEEE-faithful libm value; relu is exact)
ACT_ULPS = 4.0


def gamma(k: int, u: float) -> float:
    """gamma_k = k u / (1 - k u): the bound on |prod (1 + d_i)^(+-1) - 1| over k roundings |d_i| <= u (Higham,
    Accuracy and Stability, Lemma 3.1); undefined for k u >= 1."""
    if k * u >= 1:
        raise ValueError(f"gamma_k undefined: k={k}, u={u} gives k u >= 1")
    return k * u / (1 - k * u)


class E:
    """A float64 value ``v`` with an entry-wise error bound ``e`` for unit roundoff ``u``."""

    __slots__ = ("v", "e", "u", "errfree", "eta", "eta_add", "u_acc", "act")

    def __init__(self, v, e=None, u: float = 2.0 ** -53, eta: float = 0.0, eta_add: float = 0.0,
                 u_acc: float | None = None, act: float = ACT_ULPS):
        self.v = v = np.asarray(v, np.float64)
        self.errfree = e is None  # e is exactly zero: the terms it multiplies are skipped (see the module doc)
        if e is None:
            self.e = np.zeros(v.shape)
        else:  # broadcast only when needed: np.broadcast_to costs more than the arithmetic on these small arrays
            e = np.asarray(e, np.float64)
            self.e = e if e.shape == v.shape else np.broadcast_to(e, v.shape)
        self.u = u
        self.eta, self.eta_add = eta, eta_add
        self.u_acc = u if u_acc is None else u_acc  # the accumulation format's u (the module doc: mixed precision)
        self.act = act  # activation_ulps: tanh/sigmoid err by at most act * u

    def _wrap(self, other):
        return other if isinstance(other, E) else E(other, None, self.u, self.eta, self.eta_add, self.u_acc, self.act)

    def _E(self, v, e):
        """A result of this E's arithmetic (same u, eta, eta_add, u_acc and act)."""
        return E(v, e, self.u, self.eta, self.eta_add, self.u_acc, self.act)

    def _to_storage(self, v):
        """The rounding of a wider accumulator's result to storage, u |v| (None when accumulation is storage)."""
        return self.u * np.abs(v) if self.u_acc < self.u else None

    # arithmetic --------------------------------------------------------------------------------
    def __add__(self, other):
        o = self._wrap(other)
        v = self.v + o.v
        rounding = self.u * np.abs(v) + self.eta_add if self.eta_add else self.u * np.abs(v)
        return self._E(v, sum_terms(None if self.errfree else self.e, None if o.errfree else o.e, rounding))

    __radd__ = __add__

    def __sub__(self, other):
        o = self._wrap(other)
        v = self.v - o.v
        rounding = self.u * np.abs(v) + self.eta_add if self.eta_add else self.u * np.abs(v)
        return self._E(v, sum_terms(None if self.errfree else self.e, None if o.errfree else o.e, rounding))

    def __rsub__(self, other):
        return self._wrap(other) - self

    def __neg__(self):
        return self._E(-self.v, None if self.errfree else self.e)

    def __mul__(self, other):
        o = self._wrap(other)
        v = self.v * o.v
        a0, b0 = self.errfree, o.errfree
        rounding = self.u * np.abs(v)
        if self.eta:
            rounding = rounding + self.eta
        e = sum_terms(None if b0 else np.abs(self.v) * o.e, None if a0 else self.e * np.abs(o.v),
                      None if a0 or b0 else self.e * o.e, rounding)
        return self._E(v, e)

    __rmul__ = __mul__

    def __matmul__(self, other):
        o = self._wrap(other)
        k = self.v.shape[-1]
        av, bv = np.abs(self.v), np.abs(o.v)
        a0, b0 = self.errfree, o.errfree
        eta = self.eta + self.eta_add  # per term of the dot product: its product and its addition
        v = self.v @ o.v
        e = sum_terms(gamma(k, self.u_acc) * (av @ bv), k * eta if eta else None, None if b0 else av @ o.e,
                      None if a0 else self.e @ bv, None if a0 or b0 else self.e @ o.e, self._to_storage(v))
        return self._E(v, e)

    @property
    def T(self):
        return self._E(np.swapaxes(self.v, -1, -2), None if self.errfree else np.swapaxes(self.e, -1, -2))

    def __getitem__(self, idx):
        return self._E(self.v[idx], None if self.errfree else self.e[idx])

    def total(self, axis):
        """Sum over ``axis`` (an int or tuple)."""
        k = int(np.prod([self.v.shape[a] for a in np.atleast_1d(axis)]))
        v = self.v.sum(axis)
        return self._E(v, sum_terms(gamma(max(k, 1), self.u_acc) * np.abs(self.v).sum(axis),
                                    k * self.eta_add if self.eta_add else None,
                                    None if self.errfree else self.e.sum(axis), self._to_storage(v)))


def sum_terms(*terms):
    """The terms added left to right, skipping None (an exactly zero term: leaving it out changes no bit)."""
    out = None
    for t in terms:
        if t is not None:
            out = t if out is None else out + t
    return out


def exact(v, u: float, eta: float = 0.0, eta_add: float = 0.0, u_acc: float | None = None, act: float = ACT_ULPS) -> E:
    """An input the target receives exactly (already in its dtype); ``eta``, ``eta_add``: the module doc (underflow);
    ``u_acc``: the accumulation format's u (None: the storage u); ``act``: the declared activation_ulps."""
    return E(v, None, u, eta, eta_add, u_acc, act)


def pieces_to_storage(x: E, mag, v, pieces: int):
    """The roundings to storage of a dot product formed as ``pieces`` separately rounded dot products added in
    storage (module doc, mixed precision): (pieces - 1) u mag + u |v|; None when accumulation is storage."""
    last = x._to_storage(v)
    if last is None or pieces <= 1:
        return last
    return (pieces - 1) * x.u * mag + last


def affine(x: E, W_x: E, h: E, W_h: E, b: E, b2: E = None) -> E:
    """x @ W_x.T + h @ W_h.T + b (+ b2) as one dot product of length m + n + 1 (+ 1) per entry (order-free bound);
    with a wider accumulation the three pieces (an empty x or h counts none) may each be rounded to storage.
    ``b2``: a second bias added in any order (the GRU's b_xn and b_hn under reset_before): its magnitude is
    charged as its own term, never through the rounded sum b + b2, which may cancel (|b + b2| << |b| + |b2|)."""
    k = W_x.v.shape[-1] + W_h.v.shape[-1] + 1 + (b2 is not None)
    v = x.v @ W_x.v.T + h.v @ W_h.v.T + b.v + (0 if b2 is None else b2.v)
    ax, aWx, ah, aWh = np.abs(x.v), np.abs(W_x.v).T, np.abs(h.v), np.abs(W_h.v).T
    mag = ax @ aWx + ah @ aWh + np.abs(b.v) + (0 if b2 is None else np.abs(b2.v))
    eta = x.eta + x.eta_add  # per term of the dot product: its product and its addition
    e = sum_terms(gamma(k, x.u_acc) * mag, k * eta if eta else None, None if W_x.errfree else ax @ W_x.e.T,
                  None if x.errfree else x.e @ aWx, None if W_h.errfree else ah @ W_h.e.T,
                  None if h.errfree else h.e @ aWh, None if b.errfree else b.e,
                  None if b2 is None or b2.errfree else b2.e,
                  pieces_to_storage(x, mag, v, 1 + (W_x.v.shape[-1] > 0) + (W_h.v.shape[-1] > 0)))
    return x._E(v, e)


def sigmoid(a: E) -> E:
    s = 0.5 * (1 + np.tanh(0.5 * a.v))
    L = np.minimum(0.25, s * (1 - s) + 0.0963 * a.e)
    return a._E(s, L * a.e + a.act * a.u)


def tanh(a: E) -> E:
    t = np.tanh(a.v)
    L = np.minimum(1.0, 1 - t * t + 0.7699 * a.e)
    return a._E(t, L * a.e + a.act * a.u)


def relu(a: E) -> E:
    return a._E(np.maximum(a.v, 0.0), None if a.errfree else a.e)


def heaviside(a: E) -> E:
    return a._E((a.v > 0).astype(np.float64), (np.abs(a.v) <= a.e).astype(np.float64))


def stack(items) -> E:
    items = list(items)
    e = None if all(i.errfree for i in items) else np.stack([i.e for i in items])
    return items[0]._E(np.stack([i.v for i in items]), e)
