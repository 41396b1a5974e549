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


def _param_mapping(fn: str, p, keys: tuple, p_name: str = "p") -> None:
    if not isinstance(p, Mapping):
        fail(fn, f"argument {p_name!r} should be a mapping with keys {keys}, got {type(p).__name__}")
    missing = [k for k in keys if k not in p]
    if missing:
        fail(fn, f"argument {p_name!r} is missing parameter(s) {missing}; expected keys {keys}, got {sorted(p)}")


def rnn_params(fn: str, p, p_name: str = "p") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(W_x (n, m), W_h (n, n), b (n,)) from the mapping ``p``; extra keys are ignored."""
    _param_mapping(fn, p, RNN_PARAMS, p_name)
    W_x = float_array(fn, f"{p_name}['W_x']", p["W_x"], 2, "(n, m)")
    W_h = float_array(fn, f"{p_name}['W_h']", p["W_h"], 2, "(n, n)")
    b = float_array(fn, f"{p_name}['b']", p["b"], 1, "(n,)")
    n = W_x.shape[0]
    expect_shape(fn, f"{p_name}['W_h']", W_h, (n, n), "(n, n) with n = W_x.shape[0]")
    expect_shape(fn, f"{p_name}['b']", b, (n,), "(n,) with n = W_x.shape[0]")
    return W_x, W_h, b


def _xs_and_states(fn: str, xs, states, n: int, m: int, first: str):
    """xs (T, B, m) and each (name, value) of ``states`` (B, n); ``first`` names the input weight."""
    xs = float_array(fn, "xs", xs, 3, "(T, B, m)")
    B = xs.shape[1]
    if xs.shape[2] != m:
        fail(fn, f"argument 'xs' should have shape (T, B, m) with m = {first}.shape[1] = {m}, got {xs.shape}")
    out = []
    for name, value in states:
        a = float_array(fn, name, value, 2, "(B, n)")
        expect_shape(fn, name, a, (B, n), f"(B, n) with B = xs.shape[1], n = {first}.shape[0]")
        out.append(a)
    return xs, out


def _x_and_states(fn: str, x, states, n: int, m: int, first: str):
    """x (B, m) and each (name, value) of ``states`` (B, n)."""
    x = float_array(fn, "x", x, 2, "(B, m)")
    B = x.shape[0]
    if x.shape[1] != m:
        fail(fn, f"argument 'x' should have shape (B, m) with m = {first}.shape[1] = {m}, got {x.shape}")
    out = []
    for name, value in states:
        a = float_array(fn, name, value, 2, "(B, n)")
        expect_shape(fn, name, a, (B, n), f"(B, n) with B = x.shape[0], n = {first}.shape[0]")
        out.append(a)
    return x, out


def rnn_sequence(fn: str, xs, h0, p, h0_name: str = "h0", p_name: str = "p"):
    """Validate a time-major RNN call; returns (xs, h0, W_x, W_h, b, dtype)."""
    W_x, W_h, b = rnn_params(fn, p, p_name)
    n, m = W_x.shape
    xs, (h0,) = _xs_and_states(fn, xs, [(h0_name, h0)], n, m, "W_x")
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


# --- LSTM and GRU -------------------------------------------------------------------------------------

LSTM_GATES = ("i", "f", "g", "o")
LSTM_PARAMS = tuple(f"{k}_{g}" if k == "b" else f"{k}{g}" for g in LSTM_GATES for k in ("W_x", "W_h", "b"))
GRU_PARAMS = ("W_xr", "W_hr", "b_r", "W_xz", "W_hz", "b_z", "W_xn", "W_hn", "b_xn", "b_hn")
GRU_VARIANTS = ("reset_after", "reset_before")


def gated_params(fn: str, p, keys: tuple, p_name: str = "p") -> dict:
    """{name: array} for ``keys`` (W_x* (n, m), W_h* (n, n), b* (n,)); n, m come from ``keys[0]``.

    Extra keys of ``p`` are ignored."""
    _param_mapping(fn, p, keys, p_name)
    first = keys[0]
    W = float_array(fn, f"{p_name}[{first!r}]", p[first], 2, "(n, m)")
    n, m = W.shape
    out = {first: W}
    for k in keys[1:]:
        label = f"{p_name}[{k!r}]"
        if k.startswith("W_x"):
            a = float_array(fn, label, p[k], 2, "(n, m)")
            expect_shape(fn, label, a, (n, m), f"(n, m) = {first}.shape")
        elif k.startswith("W_h"):
            a = float_array(fn, label, p[k], 2, "(n, n)")
            expect_shape(fn, label, a, (n, n), f"(n, n) with n = {first}.shape[0]")
        else:
            a = float_array(fn, label, p[k], 1, "(n,)")
            expect_shape(fn, label, a, (n,), f"(n,) with n = {first}.shape[0]")
        out[k] = a
    return out


def gru_variant(fn: str, variant) -> str:
    if variant not in GRU_VARIANTS:
        fail(fn, f"argument 'variant' should be one of {GRU_VARIANTS}, got {variant!r}")
    return variant


def gated_step(fn: str, x, states, p, keys: tuple):
    """Validate a gated cell call: x (B, m), states [(name, (B, n))], p with ``keys``.

    Returns (x, [states], {name: param}, dtype)."""
    params = gated_params(fn, p, keys)
    n, m = params[keys[0]].shape
    x, states = _x_and_states(fn, x, states, n, m, keys[0])
    return x, states, params, np.result_type(x, *states, *params.values())


def gated_sequence(fn: str, xs, states, p, keys: tuple, p_name: str = "p"):
    """Validate a time-major gated call: xs (T, B, m), states [(name, (B, n))], p with ``keys``.

    Returns (xs, [states], {name: param}, dtype)."""
    params = gated_params(fn, p, keys, p_name)
    n, m = params[keys[0]].shape
    xs, states = _xs_and_states(fn, xs, states, n, m, keys[0])
    return xs, states, params, np.result_type(xs, *states, *params.values())


def state_pair(fn: str, name: str, pair, h_name: str, c_name: str):
    """An LSTM state given as the pair (h, c)."""
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        what = type(pair).__name__
        if isinstance(pair, (tuple, list)):
            what += f" of length {len(pair)}"
        fail(fn, f"argument {name!r} should be a pair ({h_name}, {c_name}) of (B, n) arrays, got {what}")
    return pair[0], pair[1]


def state_cotangent(fn: str, name: str, d, B: int, n: int, dtype) -> np.ndarray:
    """A (B, n) cotangent of a final state; None means zeros."""
    if d is None:
        return np.zeros((B, n), dtype)
    d = float_array(fn, name, d, 2, "(B, n)")
    expect_shape(fn, name, d, (B, n), "(B, n) = final state shape")
    return d


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
