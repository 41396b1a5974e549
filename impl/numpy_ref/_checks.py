"""Argument validation shared by the reference implementations.

Every failure is a ValueError naming the function, the argument, the expected and the actual shape or
type. NaN/Inf values are not checked: they propagate like in any framework.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

RNN_PARAMS = ("W_x", "W_h", "b")
ACTIVATIONS = ("tanh", "relu")


def fail(fn: str, msg: str):
    raise ValueError(f"{fn}: {msg}")


def float_array(fn: str, name: str, a, ndim: int, what: str) -> np.ndarray:
    """``a`` as a floating ndarray of ``ndim`` dimensions (``what`` names the axes, e.g. "(B, m)")."""
    if a is None:
        fail(fn, f"argument {name!r} should be a float array of shape {what}, got None")
    arr = a if isinstance(a, np.ndarray) else np.asarray(a)
    if not np.issubdtype(arr.dtype, np.floating):
        fail(fn, f"argument {name!r} should have a floating dtype (float32/float64), got dtype {arr.dtype}")
    if arr.ndim != ndim:
        fail(fn, f"argument {name!r} should have {ndim} dimensions {what}, got shape {arr.shape}")
    return arr


def expect_shape(fn: str, name: str, arr: np.ndarray, expected: tuple, what: str) -> None:
    if arr.shape != tuple(expected):
        fail(fn, f"argument {name!r} should have shape {what} = {tuple(expected)}, got {arr.shape}")


def activation(fn: str, act) -> str:
    if act not in ACTIVATIONS:
        fail(fn, f"argument 'activation' should be one of {ACTIVATIONS}, got {act!r}")
    return act


def rnn_params(fn: str, p) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(W_x (n, m), W_h (n, n), b (n,)) from the mapping ``p``; extra keys are ignored."""
    if not isinstance(p, Mapping):
        fail(fn, f"argument 'p' should be a mapping with keys {RNN_PARAMS}, got {type(p).__name__}")
    missing = [k for k in RNN_PARAMS if k not in p]
    if missing:
        fail(fn, f"argument 'p' is missing parameter(s) {missing}; expected keys {RNN_PARAMS}, got {sorted(p)}")
    W_x = float_array(fn, "p['W_x']", p["W_x"], 2, "(n, m)")
    W_h = float_array(fn, "p['W_h']", p["W_h"], 2, "(n, n)")
    b = float_array(fn, "p['b']", p["b"], 1, "(n,)")
    n = W_x.shape[0]
    expect_shape(fn, "p['W_h']", W_h, (n, n), "(n, n) with n = W_x.shape[0]")
    expect_shape(fn, "p['b']", b, (n,), "(n,) with n = W_x.shape[0]")
    return W_x, W_h, b


def rnn_sequence(fn: str, xs, h0, p):
    """Validate a time-major RNN call; returns (xs, h0, W_x, W_h, b, dtype)."""
    W_x, W_h, b = rnn_params(fn, p)
    n, m = W_x.shape
    xs = float_array(fn, "xs", xs, 3, "(T, B, m)")
    T, B, mx = xs.shape
    if mx != m:
        fail(fn, f"argument 'xs' should have shape (T, B, m) with m = W_x.shape[1] = {m}, got {xs.shape}")
    h0 = float_array(fn, "h0", h0, 2, "(B, n)")
    expect_shape(fn, "h0", h0, (B, n), "(B, n) with B = xs.shape[1], n = W_x.shape[0]")
    dtype = np.result_type(xs, h0, W_x, W_h, b)
    return xs, h0, W_x, W_h, b, dtype


def rnn_step(fn: str, x, h, p):
    """Validate a single-cell call; returns (x, h, W_x, W_h, b, dtype)."""
    W_x, W_h, b = rnn_params(fn, p)
    n, m = W_x.shape
    x = float_array(fn, "x", x, 2, "(B, m)")
    B, mx = x.shape
    if mx != m:
        fail(fn, f"argument 'x' should have shape (B, m) with m = W_x.shape[1] = {m}, got {x.shape}")
    h = float_array(fn, "h", h, 2, "(B, n)")
    expect_shape(fn, "h", h, (B, n), "(B, n) with B = x.shape[0], n = W_x.shape[0]")
    dtype = np.result_type(x, h, W_x, W_h, b)
    return x, h, W_x, W_h, b, dtype


def cotangents(fn: str, d_hs, d_hT, T: int, B: int, n: int, dtype):
    """d_hs (T, B, n) and d_hT (B, n); None means zeros."""
    if d_hs is None:
        d_hs = np.zeros((T, B, n), dtype)
    d_hs = float_array(fn, "d_hs", d_hs, 3, "(T, B, n)")
    expect_shape(fn, "d_hs", d_hs, (T, B, n), "(T, B, n) = hs.shape")
    if d_hT is None:
        d_hT = np.zeros((B, n), dtype)
    d_hT = float_array(fn, "d_hT", d_hT, 2, "(B, n)")
    expect_shape(fn, "d_hT", d_hT, (B, n), "(B, n) = h_T.shape")
    return d_hs, d_hT


def _number(fn: str, name: str, v, strict: bool) -> float:
    want = "> 0" if strict else ">= 0"
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        fail(fn, f"argument {name!r} should be a finite number {want}, got {v!r} ({type(v).__name__})")
    f = float(v)
    if not np.isfinite(f) or f < 0 or (strict and f == 0):
        fail(fn, f"argument {name!r} should be a finite number {want}, got {v!r}")
    return f


def positive_number(fn: str, name: str, v) -> float:
    """A finite real number > 0 as a Python float."""
    return _number(fn, name, v, strict=True)


def nonnegative_number(fn: str, name: str, v) -> float:
    """A finite real number >= 0 as a Python float."""
    return _number(fn, name, v, strict=False)


CLIP_SCOPES = ("global", "per_tensor")


def clip_args(fn: str, grads, max_norm, eps, scope):
    """Validated (grads, max_norm, eps) of a clip-by-norm call; ``scope`` must be one of CLIP_SCOPES."""
    grads = grad_list(fn, grads)
    max_norm = positive_number(fn, "max_norm", max_norm)
    eps = nonnegative_number(fn, "eps", eps)
    if scope not in CLIP_SCOPES:
        fail(fn, f"argument 'scope' should be one of {CLIP_SCOPES}, got {scope!r}")
    return grads, max_norm, eps


def grad_list(fn: str, grads) -> list[np.ndarray]:
    """``grads`` must be a list/tuple of floating ndarrays (any shapes)."""
    if not isinstance(grads, (list, tuple)):
        fail(fn, f"argument 'grads' should be a list or tuple of float arrays, got {type(grads).__name__}")
    for i, g in enumerate(grads):
        if not isinstance(g, (np.ndarray, np.generic)):
            fail(fn, f"argument 'grads[{i}]' should be a NumPy float array, got {type(g).__name__}")
        if not np.issubdtype(g.dtype, np.floating):
            fail(fn, f"argument 'grads[{i}]' should have a floating dtype, got dtype {g.dtype}")
    return [np.asarray(g) for g in grads]
