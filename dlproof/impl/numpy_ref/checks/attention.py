"""Validation of the attention calls (NumPy reference, torch reference, torch.nn adapter).

Every failure names the function and the argument: ValueError for a bad shape or value (NaN/inf included),
TypeError for a wrong type. Shapes: softmax x (..., n) with n >= 1; attention q (B, Tq, d), k (B, Tk, d),
v (B, Tk, dv), all sizes >= 1; MHA query (B, Tq, E), key and value (B, Tk, E), params W_q, W_k, W_v, W_o
(E, E) and b_q, b_k, b_v, b_o (E,), num_heads an int >= 1 dividing E; causal a bool.
"""
from __future__ import annotations

import numbers
from collections.abc import Mapping

import numpy as np

from .common import fail, finite, flag, float_array

MHA_PARAMS = ("W_q", "W_k", "W_v", "W_o", "b_q", "b_k", "b_v", "b_o")


def array(fn: str, name: str, a, ndim, what: str) -> np.ndarray:
    """``a`` as a finite floating ndarray with ``ndim`` dimensions (None: at least 1), every axis of length >= 1;
    ``what`` names the axes."""
    arr = float_array(fn, name, a, ndim, what, exc=TypeError)
    if ndim is None and arr.ndim < 1:
        fail(fn, f"argument {name!r} should have >= 1 dimensions {what}, got shape {arr.shape}")
    if 0 in arr.shape:
        fail(fn, f"argument {name!r} should have every axis of length >= 1 {what}, got shape {arr.shape}")
    return finite(fn, name, arr)


def same_shape(fn: str, name: str, a, shape: tuple, what: str) -> np.ndarray:
    arr = array(fn, name, a, len(shape), what)
    if arr.shape != tuple(shape):
        fail(fn, f"argument {name!r} should have shape {what} = {tuple(shape)}, got {arr.shape}")
    return arr


def softmax_args(fn: str, x, ds=None, with_ds: bool = False):
    """(x, ds or None, dtype)."""
    x = array(fn, "x", x, None, "(..., n)")
    if not with_ds:
        return x, None, x.dtype
    ds = same_shape(fn, "ds", ds, x.shape, "x.shape")
    return x, ds, np.result_type(x, ds)


def attention_args(fn: str, q, k, v, causal, dy=None, with_dy: bool = False):
    """(q, k, v, causal, dy or None, dtype)."""
    causal = flag(fn, "causal", causal)
    q = array(fn, "q", q, 3, "(B, Tq, d)")
    B, Tq, d = q.shape
    k = array(fn, "k", k, 3, "(B, Tk, d)")
    if k.shape[0] != B or k.shape[2] != d:
        fail(fn, f"argument 'k' should have shape (B, Tk, d) with B = {B}, d = {d} (from q {q.shape}), got {k.shape}")
    Tk = k.shape[1]
    v = array(fn, "v", v, 3, "(B, Tk, dv)")
    if v.shape[:2] != (B, Tk):
        fail(fn, f"argument 'v' should have shape (B, Tk, dv) with B = {B}, Tk = {Tk} (from k {k.shape}), "
                 f"got {v.shape}")
    arrays = [q, k, v]
    if with_dy:
        dy = same_shape(fn, "dy", dy, (B, Tq, v.shape[2]), "(B, Tq, dv) = y.shape")
        arrays.append(dy)
    return q, k, v, causal, dy, np.result_type(*arrays)


def num_heads_value(fn: str, num_heads, E: int) -> int:
    if isinstance(num_heads, (bool, np.bool_)) or not isinstance(num_heads, numbers.Integral):
        fail(fn, f"argument 'num_heads' should be an int >= 1 dividing E = {E}, got {num_heads!r} "
                 f"({type(num_heads).__name__})", TypeError)
    H = int(num_heads)
    if H < 1 or E % H:
        fail(fn, f"argument 'num_heads' should be an int >= 1 dividing E = {E} (the head dim is E/H), got {H}")
    return H


def mha_args(fn: str, query, key, value, params, num_heads, causal, dy=None, with_dy: bool = False):
    """(query, key, value, {name: array}, H, causal, dy or None, dtype)."""
    causal = flag(fn, "causal", causal)
    query = array(fn, "query", query, 3, "(B, Tq, E)")
    B, Tq, E = query.shape
    key = array(fn, "key", key, 3, "(B, Tk, E)")
    if key.shape[0] != B or key.shape[2] != E:
        fail(fn, f"argument 'key' should have shape (B, Tk, E) with B = {B}, E = {E} (from query {query.shape}), "
                 f"got {key.shape} (kdim != E is not part of the protocol)")
    value = same_shape(fn, "value", value, key.shape, "(B, Tk, E) = key.shape")
    H = num_heads_value(fn, num_heads, E)
    if not isinstance(params, Mapping):
        fail(fn, f"argument 'params' should be a mapping with keys {MHA_PARAMS}, got {type(params).__name__}",
             TypeError)
    missing = [n for n in MHA_PARAMS if n not in params]
    if missing:
        fail(fn, f"argument 'params' is missing {missing}; expected keys {MHA_PARAMS}, got {sorted(params)}")
    p = {}
    for n in MHA_PARAMS:
        shape = (E, E) if n.startswith("W") else (E,)
        p[n] = same_shape(fn, f"params[{n!r}]", params[n], shape, "(E, E)" if n.startswith("W") else "(E,)")
    arrays = [query, key, value, *p.values()]
    if with_dy:
        dy = same_shape(fn, "dy", dy, (B, Tq, E), "(B, Tq, E) = y.shape")
        arrays.append(dy)
    return query, key, value, p, H, causal, dy, np.result_type(*arrays)
