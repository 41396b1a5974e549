"""The validation of the rnn, lstm, gru and bidirectional calls. NaN and Inf values are not checked: they
propagate like in any framework.

The parameter names (RNN ``W_x (n, m), W_h (n, n), b (n,)``; LSTM ``W_x* (n, m), W_h* (n, n), b_* (n,)``
gate by gate in the order i, f, g, o; GRU, gates r, z, n, with the candidate's two biases ``b_xn`` and
``b_hn``) are declared in `dlproof.parameters`.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from dlproof.parameters import RNN_PARAMS

from .common import expect_shape, fail, float_array, one_of

ACTIVATIONS = ("tanh", "relu")
GRU_VARIANTS = ("reset_after", "reset_before")


def activation(fn: str, act) -> str:
    """The vanilla RNN's phi, one of ACTIVATIONS."""
    return one_of(fn, "activation", act, ACTIVATIONS)


def gru_variant(fn: str, variant) -> str:
    """The GRU candidate's variant, one of GRU_VARIANTS."""
    return one_of(fn, "variant", variant, GRU_VARIANTS)


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


def inputs_and_states(fn: str, x, states, n: int, m: int, first: str, sequence: bool):
    """The input x (B, m), or with ``sequence`` xs (T, B, m), and each (name, value) of ``states`` (B, n);
    ``first`` names the input weight that n and m come from."""
    name, ndim, axes = ("xs", 3, "(T, B, m)") if sequence else ("x", 2, "(B, m)")
    x = float_array(fn, name, x, ndim, axes)
    B = x.shape[-2]
    if x.shape[-1] != m:
        fail(fn, f"argument {name!r} should have shape {axes} with m = {first}.shape[1] = {m}, got {x.shape}")
    out = []
    for state, value in states:
        a = float_array(fn, state, value, 2, "(B, n)")
        expect_shape(fn, state, a, (B, n), f"(B, n) with B = {name}.shape[{ndim - 2}], n = {first}.shape[0]")
        out.append(a)
    return x, out


def rnn_sequence(fn: str, xs, h0, p, h0_name: str = "h0", p_name: str = "p"):
    """Validate a time-major RNN call; returns (xs, h0, W_x, W_h, b, dtype)."""
    W_x, W_h, b = rnn_params(fn, p, p_name)
    n, m = W_x.shape
    xs, (h0,) = inputs_and_states(fn, xs, [(h0_name, h0)], n, m, "W_x", sequence=True)
    return xs, h0, W_x, W_h, b, np.result_type(xs, h0, W_x, W_h, b)


def rnn_step(fn: str, x, h, p):
    """Validate a single-cell call; returns (x, h, W_x, W_h, b, dtype)."""
    W_x, W_h, b = rnn_params(fn, p)
    n, m = W_x.shape
    x, (h,) = inputs_and_states(fn, x, [("h", h)], n, m, "W_x", sequence=False)
    return x, h, W_x, W_h, b, np.result_type(x, h, W_x, W_h, b)


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


def gated_step(fn: str, x, states, p, keys: tuple):
    """Validate a gated cell call: x (B, m), states [(name, (B, n))], p with ``keys``.

    Returns (x, [states], {name: param}, dtype)."""
    params = gated_params(fn, p, keys)
    n, m = params[keys[0]].shape
    x, states = inputs_and_states(fn, x, states, n, m, keys[0], sequence=False)
    return x, states, params, np.result_type(x, *states, *params.values())


def gated_sequence(fn: str, xs, states, p, keys: tuple, p_name: str = "p"):
    """Validate a time-major gated call: xs (T, B, m), states [(name, (B, n))], p with ``keys``.

    Returns (xs, [states], {name: param}, dtype)."""
    params = gated_params(fn, p, keys, p_name)
    n, m = params[keys[0]].shape
    xs, states = inputs_and_states(fn, xs, states, n, m, keys[0], sequence=True)
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
