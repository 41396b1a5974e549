"""Validation of the stacked-network calls (`rnn_stack`, `lstm_stack`, `gru_stack` and their VJPs), shared by
the NumPy reference, the torch reference and the torch.nn adapter, so that all of them refuse the same input
with the same message.

The contract (docs: the capabilities of the chapter "stacked"): xs (T, B, m) with T >= 1; ``layers`` a list of
L >= 1 layers, each a list of D in {1, 2} parameter dicts (the same D in every layer) of the kind's canonical
names (`dlproof.parameters.PARAMS`), layer 0 reading m features and layer l >= 1 reading D * n_out; one hidden
size n for every layer; LSTM layers may hold ``W_proj`` (P, n), 1 <= P <= n, all layers or none, one P (then
n_out = P and W_h* is (n, P)); h0 (L, D, B, n_out), c0 (L, D, B, n); lengths None or an int array (B,) with
1 <= lengths[b] <= T; dropout a real in [0, 1), training a bool, seed an int >= 0. Non-finite values are
not checked (they propagate, as in the single-layer references).
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from dlproof.parameters import PARAMS

from .common import expect_shape, fail, flag, float_array
from .dropout import seed_value

PROJ = "W_proj"


class Stack(NamedTuple):
    """The validated sizes of a stacked call (and the arrays as ndarrays)."""

    xs: np.ndarray
    layers: list  # [[{name: ndarray}]]
    lengths: np.ndarray  # (B,) int64; all T when None was given
    L: int
    D: int
    T: int
    B: int
    n: int
    n_out: int  # P with a projection, else n
    projected: bool
    dtype: np.dtype


def _layer_params(fn: str, kind: str, p, label: str, n, in_size: int) -> tuple[dict, int, int | None]:
    """{name: ndarray} of one layer-direction dict; returns (params, n, P or None)."""
    keys = PARAMS[kind]
    if not isinstance(p, Mapping):
        fail(fn, f"argument {label} should be a mapping with keys {keys}, got {type(p).__name__}")
    missing = [k for k in keys if k not in p]
    if missing:
        fail(fn, f"argument {label} is missing parameter(s) {missing}; expected keys {keys}, got {sorted(p)}")
    if PROJ in p and kind != "lstm":
        fail(fn, f"argument {label} holds {PROJ!r}, but only LSTM layers have a projection ({kind} layers do not)")
    first = keys[0]
    W = float_array(fn, f"{label}[{first!r}]", p[first], 2, "(n, in)")
    if n is None:
        n = W.shape[0]
    P = None
    out = {}
    if PROJ in p:
        Wp = float_array(fn, f"{label}[{PROJ!r}]", p[PROJ], 2, "(P, n)")
        P = Wp.shape[0]
        expect_shape(fn, f"{label}[{PROJ!r}]", Wp, (P, n), "(P, n) with n the hidden size")
        if not 1 <= P <= n:
            fail(fn, f"argument {label}[{PROJ!r}] should have 1 <= P <= n = {n} rows, got shape {Wp.shape}")
        out[PROJ] = Wp
    n_out = n if P is None else P
    for k in keys:
        lab = f"{label}[{k!r}]"
        if k.startswith("W_x"):
            a = float_array(fn, lab, p[k], 2, "(n, in)")
            expect_shape(fn, lab, a, (n, in_size), "(n, in) with n the hidden size and in the layer's input size")
        elif k.startswith("W_h"):
            a = float_array(fn, lab, p[k], 2, "(n, n_out)")
            expect_shape(fn, lab, a, (n, n_out), "(n, n_out) with n_out = P (projection) or n")
        else:
            a = float_array(fn, lab, p[k], 1, "(n,)")
            expect_shape(fn, lab, a, (n,), "(n,) with n the hidden size")
        out[k] = a
    return out, n, P


def layers_arg(fn: str, kind: str, layers, m: int):
    """The validated ``layers``: -> ([[{name: ndarray}]], L, D, n, n_out, projected)."""
    if not isinstance(layers, (list, tuple)) or len(layers) == 0:
        what = type(layers).__name__ + (" of length 0" if isinstance(layers, (list, tuple)) else "")
        fail(fn, f"argument 'layers' should be a non-empty list of layers (each a list of 1 or 2 param dicts), "
                 f"got {what}")
    D = None
    n = None
    Ps = set()
    out = []
    in_size = m
    for l, layer in enumerate(layers):
        if not isinstance(layer, (list, tuple)) or len(layer) not in (1, 2):
            what = type(layer).__name__ + (f" of length {len(layer)}" if isinstance(layer, (list, tuple)) else "")
            fail(fn, f"argument 'layers[{l}]' should be a list of D = 1 (forward) or 2 ([forward, backward]) "
                     f"param dicts, got {what}")
        if D is None:
            D = len(layer)
        elif len(layer) != D:
            fail(fn, f"argument 'layers[{l}]' has {len(layer)} direction(s), but layers[0] has {D}: every layer "
                     "should have the same number of directions D")
        row = []
        for d, p in enumerate(layer):
            params, n, P = _layer_params(fn, kind, p, f"'layers[{l}][{d}]'", n, in_size)
            Ps.add(P)
            row.append(params)
        out.append(row)
        n_out = n if P is None else P
        in_size = D * n_out
    if len(Ps) > 1:
        shown = sorted(("none" if P is None else str(P)) for P in Ps)
        fail(fn, f"argument 'layers' mixes projection sizes {shown}: either every layer has {PROJ!r} with one "
                 "P or none has")
    (P,) = Ps
    return out, len(out), D, n, (n if P is None else P), P is not None


def lengths_arg(fn: str, lengths, T: int, B: int) -> np.ndarray:
    """``lengths`` as an int64 array (B,) with 1 <= lengths[b] <= T; None means T for every sequence."""
    if lengths is None:
        return np.full(B, T, np.int64)
    a = np.asarray(lengths)
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.integer):
        fail(fn, f"argument 'lengths' should be None or an integer array (B,), got dtype {a.dtype}")
    expect_shape(fn, "lengths", a, (B,), "(B,) with B = xs.shape[1]")
    if B and (a.min() < 1 or a.max() > T):
        bad = int(np.flatnonzero((a < 1) | (a > T))[0])
        fail(fn, f"argument 'lengths' should satisfy 1 <= lengths[b] <= T = {T}, got lengths[{bad}] = {int(a[bad])}")
    return a.astype(np.int64)


def state_arg(fn: str, name: str, a, shape: tuple, what: str) -> np.ndarray:
    """A state or cotangent of ``shape`` (e.g. h0 (L, D, B, n_out))."""
    a = float_array(fn, name, a, len(shape), what)
    expect_shape(fn, name, a, shape, what)
    return a


def stack_args(fn: str, kind: str, xs, states: list, layers, lengths) -> Stack:
    """Validate xs, layers, lengths and the initial states [(name, value)] (h0 first, c0 for LSTM)."""
    xs = float_array(fn, "xs", xs, 3, "(T, B, m)")
    T, B, m = xs.shape
    if T < 1 or B < 1:
        fail(fn, f"argument 'xs' should have T >= 1 steps and B >= 1 sequences, got shape {xs.shape}")
    params, L, D, n, n_out, projected = layers_arg(fn, kind, layers, m)
    lens = lengths_arg(fn, lengths, T, B)
    arrays = []
    for name, value in states:
        size = n_out if name.startswith("h") else n
        axis = "n_out" if name.startswith("h") else "n"
        arrays.append(state_arg(fn, name, value, (L, D, B, size), f"(L, D, B, {axis}) = {(L, D, B, size)}"))
    dt = np.result_type(xs, *arrays, *(a for row in params for p in row for a in p.values()))
    return Stack(xs, params, lens, L, D, T, B, n, n_out, projected, dt), arrays


def dropout_args(fn: str, dropout, training, seed) -> tuple[float, bool, int]:
    """(p, training, seed): p a real in [0, 1), training a bool, seed an int >= 0."""
    if isinstance(dropout, (bool, np.bool_)) or not isinstance(dropout, numbers.Real):
        fail(fn, f"argument 'dropout' (the inter-layer drop probability) should be a real number in [0, 1), got "
                 f"{dropout!r} ({type(dropout).__name__})")
    p = float(dropout)
    if not (math.isfinite(p) and 0.0 <= p < 1.0):
        fail(fn, f"argument 'dropout' (the inter-layer drop probability) should be a real number in [0, 1), got "
                 f"{dropout!r}")
    return p, flag(fn, "training", training), seed_value(fn, seed)


def cotangents(fn: str, s: Stack, d_ys, finals: list) -> tuple:
    """d_ys (T, B, D n_out) and the final-state cotangents [(name, value)] (None: zeros)."""
    if d_ys is None:
        d_ys = np.zeros((s.T, s.B, s.D * s.n_out), s.dtype)
    d_ys = state_arg(fn, "d_ys", d_ys, (s.T, s.B, s.D * s.n_out), "(T, B, D n_out) = ys.shape")
    out = []
    for name, value in finals:
        size = s.n_out if name.startswith("d_h") else s.n
        shape = (s.L, s.D, s.B, size)
        out.append(np.zeros(shape, s.dtype) if value is None else
                   state_arg(fn, name, value, shape, f"(L, D, B, {'n_out' if size == s.n_out else 'n'})"))
    return d_ys, out
