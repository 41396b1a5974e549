"""Universal approximation, constructively: one-hidden-layer networks that interpolate or approximate.

``relu_interpolant(f_values, a, b)``: the values f(x_k) on the uniform grid x_k = a + k h, h = (b - a)/N,
k = 0..N (N + 1 values, N >= 1) -> params (w1, b1, w2, b2) of g(x) = w2 . relu(w1 x + b1) + b2 with N hidden units:
    g(x) = f(x_0) + sum_{k=0}^{N-1} c_k relu(x - x_k),   s_k = (f(x_{k+1}) - f(x_k))/h,  c_0 = s_0,
    c_k = s_k - s_{k-1} (k >= 1);   i.e. w1 = 1, b1 = -x_k, w2 = c, b2 = f(x_0).
On [a, b] g is the piecewise-linear interpolant (uat.relu.interpolant): on [x_k, x_{k+1}] the units j <= k are
active (relu(x - x_j) = x - x_j) and the others 0, so the slope there is c_0 + ... + c_k = s_k. N units: one per
cell, the unit at x_k switching the slope from s_{k-1} to s_k (x_0's sets the first slope); a unit at x_N would be
0 on [a, b], and N - 1 units do not suffice for generic data (uat.relu.units). Outside [a, b]: g = f(x_0) left of a,
the last linear piece continued right of b. For f in C^2[a, b], sup |f - g| <= h^2 max|f''|/8 (uat.relu.error_bound).

``sigmoid_step_network(breaks, values, k)``: the piecewise-constant s(x) = values[j] on (t_j, t_{j+1}) (t_0 = -inf,
t_{J+1} = +inf, J = len(breaks) increasing break points, J + 1 values) -> params of
    g(x) = values[0] + sum_j (values[j] - values[j-1]) sigmoid(k (x - t_j)),  J hidden units;
|g - s| <= sum_j |values[j] - values[j-1]| e^{-k delta} where every |x - t_j| >= delta (uat.sigmoid.step_network).

``evaluate(params, x, activation="relu")``: g(x) = w2 . phi(w1 x + b1) + b2 for x of any shape (float64 out).
Everything is float64; bad input raises ValueError/TypeError naming the function and the argument.
"""
from __future__ import annotations

import numbers

import numpy as np

ACTIVATIONS = ("relu", "sigmoid")


def _fail(fn: str, msg: str):
    raise ValueError(f"{fn}: {msg}")


def _real(fn: str, name: str, v) -> float:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{fn}: argument {name!r} should be a finite real number, got {v!r} ({type(v).__name__})")
    f = float(v)
    if not np.isfinite(f):
        _fail(fn, f"argument {name!r} should be a finite real number, got {v!r}")
    return f


def _vector(fn: str, name: str, v, min_len: int) -> np.ndarray:
    arr = np.asarray(v)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)) \
            or np.issubdtype(arr.dtype, np.bool_):
        _fail(fn, f"argument {name!r} should be a 1-d array of real numbers, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.shape[0] < min_len:
        _fail(fn, f"argument {name!r} should be a 1-d array of length >= {min_len}, got shape {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        i = int(np.argmax(~np.isfinite(arr)))
        _fail(fn, f"argument {name!r} should be finite, got {arr[i]} at index {i}")
    return arr


def grid(a: float, b: float, N: int) -> np.ndarray:
    """x_k = a + k (b - a)/N, k = 0..N."""
    return a + np.arange(N + 1) * ((b - a) / N)


def relu_interpolant(f_values, a, b):
    """(w1 (N,), b1 (N,), w2 (N,), b2 float): the ReLU network equal to the piecewise-linear interpolant of
    f_values on the uniform grid of [a, b] (module doc)."""
    fn = "relu_interpolant"
    f = _vector(fn, "f_values", f_values, 2)
    a, b = _real(fn, "a", a), _real(fn, "b", b)
    if not a < b:
        _fail(fn, f"arguments 'a' and 'b' should satisfy a < b (the interval [a, b]), got a = {a!r}, b = {b!r}")
    N = f.shape[0] - 1
    h = (b - a) / N
    x = grid(a, b, N)
    slopes = np.diff(f) / h                      # s_k, k = 0..N-1
    c = np.concatenate([slopes[:1], np.diff(slopes)])  # c_0 = s_0, c_k = s_k - s_{k-1}
    return np.ones(N), -x[:N], c, float(f[0])


def sigmoid_step_network(breaks, values, k):
    """(w1 (J,), b1 (J,), w2 (J,), b2 float): g(x) = values[0] + sum_j dv_j sigmoid(k (x - t_j)) (module doc)."""
    fn = "sigmoid_step_network"
    t = _vector(fn, "breaks", breaks, 1)
    if np.any(np.diff(t) <= 0):
        _fail(fn, f"argument 'breaks' should be strictly increasing, got {t.tolist()}")
    v = _vector(fn, "values", values, 2)
    if v.shape[0] != t.shape[0] + 1:
        _fail(fn, f"argument 'values' should have length len(breaks) + 1 = {t.shape[0] + 1}, got {v.shape[0]}")
    k = _real(fn, "k", k)
    if k <= 0:
        _fail(fn, f"argument 'k' should be a finite number > 0 (the steepness), got {k!r}")
    J = t.shape[0]
    return np.full(J, k), -k * t, np.diff(v), float(v[0])


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # never overflows


def evaluate(params, x, activation: str = "relu"):
    """g(x) = w2 . phi(w1 x + b1) + b2 entry-wise over x (any shape), float64."""
    fn = "evaluate"
    if activation not in ACTIVATIONS:
        _fail(fn, f"argument 'activation' should be one of {ACTIVATIONS}, got {activation!r}")
    if not isinstance(params, (tuple, list)) or len(params) != 4:
        _fail(fn, "argument 'params' should be a tuple (w1, b1, w2, b2), got "
                  f"{type(params).__name__}" + (f" of length {len(params)}" if isinstance(params, (tuple, list)) else ""))
    w1 = _vector(fn, "params[0] (w1)", params[0], 1)
    H = w1.shape[0]
    b1, w2 = (_vector(fn, f"params[{i}] ({n})", params[i], 1) for i, n in ((1, "b1"), (2, "w2")))
    for name, arr in (("params[1] (b1)", b1), ("params[2] (w2)", w2)):
        if arr.shape != (H,):
            _fail(fn, f"argument {name!r} should have shape (H,) = ({H},) with H = len(w1), got {arr.shape}")
    b2 = _real(fn, "params[3] (b2)", params[3])
    xa = np.asarray(x, dtype=np.float64) if not isinstance(x, np.ndarray) or x.dtype != object else None
    if xa is None or not np.all(np.isfinite(xa)):
        _fail(fn, "argument 'x' should be finite real numbers")
    z = xa[..., None] * w1 + b1
    act = np.maximum(z, 0.0) if activation == "relu" else _sigmoid(z)
    return act @ w2 + b2
