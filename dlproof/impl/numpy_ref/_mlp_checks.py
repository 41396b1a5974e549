"""Argument validation for the MLP and residual capabilities (NumPy and torch references, torch.nn adapter).

Every failure is a ValueError (TypeError for a wrong container or dtype kind) naming the function, the
argument (e.g. ``layers[1][0]``), what it should be and what it is. Unlike the recurrent references, NaN
and inf inputs are refused here (ValueError "should be finite").
"""
from __future__ import annotations

import numpy as np

ACTIVATIONS = ("tanh", "sigmoid", "relu")


def fail(fn: str, msg: str, exc=ValueError):
    raise exc(f"{fn}: {msg}")


def activation(fn: str, act) -> str:
    if not isinstance(act, str) or act not in ACTIVATIONS:
        fail(fn, f"argument 'activation' should be one of {ACTIVATIONS}, got {act!r}")
    return act


def array(fn: str, name: str, a, ndim: int, what: str) -> np.ndarray:
    """A finite floating ndarray with ``ndim`` dimensions (``what`` names the axes)."""
    if a is None:
        fail(fn, f"argument {name!r} should be a float array of shape {what}, got None", TypeError)
    arr = a if isinstance(a, np.ndarray) else np.asarray(a)
    if not np.issubdtype(arr.dtype, np.floating):
        fail(fn, f"argument {name!r} should have a floating dtype (float32/float64), got dtype {arr.dtype}", TypeError)
    if arr.ndim != ndim:
        fail(fn, f"argument {name!r} should have {ndim} dimension(s) {what}, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        fail(fn, f"argument {name!r} should be finite, got {arr[bad]} at index {bad}")
    return arr


def _sequence(fn: str, name: str, seq, item: str):
    if not isinstance(seq, (list, tuple)):
        fail(fn, f"argument {name!r} should be a list of {item} tuples, got {type(seq).__name__}", TypeError)
    if len(seq) == 0:
        fail(fn, f"argument {name!r} should hold at least one {item} tuple, got an empty {type(seq).__name__}")


def _entry(fn: str, name: str, i: int, entry, size: int, item: str):
    if not isinstance(entry, (list, tuple)) or len(entry) != size:
        got = type(entry).__name__ + (f" of length {len(entry)}" if isinstance(entry, (list, tuple)) else "")
        fail(fn, f"argument '{name}[{i}]' should be a tuple {item}, got {got}", TypeError)


def mlp_args(fn: str, x, layers, act):
    """Validated (x (B, n_0), [(W_l (n_l, n_{l-1}), b_l (n_l,))], activation, dtype)."""
    act = activation(fn, act)
    x = array(fn, "x", x, 2, "(B, n_0)")
    _sequence(fn, "layers", layers, "(W, b)")
    width, out = x.shape[1], []
    for i, entry in enumerate(layers):
        _entry(fn, "layers", i, entry, 2, "(W, b)")
        W = array(fn, f"layers[{i}][0]", entry[0], 2, "(n_l, n_{l-1})")
        if W.shape[1] != width:
            src = "x.shape[1]" if i == 0 else f"layers[{i - 1}][0].shape[0]"
            fail(fn, f"argument 'layers[{i}][0]' should have shape (n_l, {width}) with {width} = {src} (the previous "
                     f"width), got {W.shape}")
        b = array(fn, f"layers[{i}][1]", entry[1], 1, "(n_l,)")
        if b.shape != (W.shape[0],):
            fail(fn, f"argument 'layers[{i}][1]' should have shape ({W.shape[0]},) = (layers[{i}][0].shape[0],), "
                     f"got {b.shape}")
        out.append((W, b))
        width = W.shape[0]
    dtype = np.result_type(x, *[a for p in out for a in p])
    return x, out, act, dtype


def residual_args(fn: str, x, blocks, act):
    """Validated (x (B, n), [(W1 (k, n), b1 (k,), W2 (n, k), b2 (n,))], activation, dtype)."""
    act = activation(fn, act)
    x = array(fn, "x", x, 2, "(B, n)")
    _sequence(fn, "blocks", blocks, "(W1, b1, W2, b2)")
    n, out = x.shape[1], []
    for i, entry in enumerate(blocks):
        _entry(fn, "blocks", i, entry, 4, "(W1, b1, W2, b2)")
        W1 = array(fn, f"blocks[{i}][0]", entry[0], 2, "(k, n)")
        if W1.shape[1] != n:
            fail(fn, f"argument 'blocks[{i}][0]' (W1) should have shape (k, {n}) with {n} = x.shape[1], got {W1.shape}")
        k = W1.shape[0]
        b1 = array(fn, f"blocks[{i}][1]", entry[1], 1, "(k,)")
        if b1.shape != (k,):
            fail(fn, f"argument 'blocks[{i}][1]' (b1) should have shape ({k},) = (W1.shape[0],), got {b1.shape}")
        W2 = array(fn, f"blocks[{i}][2]", entry[2], 2, "(n, k)")
        if W2.shape != (n, k):
            fail(fn, f"argument 'blocks[{i}][2]' (W2) should have shape ({n}, {k}) = (x.shape[1], W1.shape[0]) (the "
                     f"skip connection needs the block to keep the width), got {W2.shape}")
        b2 = array(fn, f"blocks[{i}][3]", entry[3], 1, "(n,)")
        if b2.shape != (n,):
            fail(fn, f"argument 'blocks[{i}][3]' (b2) should have shape ({n},) = (x.shape[1],), got {b2.shape}")
        out.append((W1, b1, W2, b2))
    dtype = np.result_type(x, *[a for p in out for a in p])
    return x, out, act, dtype


def cotangent(fn: str, dy, shape: tuple) -> np.ndarray:
    dy = array(fn, "dy", dy, 2, "(B, n_out)")
    if dy.shape != tuple(shape):
        fail(fn, f"argument 'dy' should have the output's shape {tuple(shape)}, got {dy.shape}")
    return dy
