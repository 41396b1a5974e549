"""Validation of the MLP calls (mlp, mlp_vjp) and the layer-list pieces the residual calls share.

Unlike the recurrent calls, NaN and inf inputs are refused (ValueError "should be finite"); a wrong container
or dtype kind is a TypeError.
"""
from __future__ import annotations

import numpy as np

from .common import fail, finite, float_array, one_of

ACTIVATIONS = ("tanh", "sigmoid", "relu")


def activation(fn: str, act) -> str:
    """The hidden layers' phi, one of ACTIVATIONS."""
    return one_of(fn, "activation", act, ACTIVATIONS)


def array(fn: str, name: str, a, ndim: int, what: str) -> np.ndarray:
    """A finite floating ndarray with ``ndim`` dimensions (``what`` names the axes)."""
    return finite(fn, name, float_array(fn, name, a, ndim, what, exc=TypeError))


def layer_list(fn: str, name: str, seq, item: str) -> None:
    """``seq`` is a non-empty list or tuple (of ``item`` tuples)."""
    if not isinstance(seq, (list, tuple)):
        fail(fn, f"argument {name!r} should be a list of {item} tuples, got {type(seq).__name__}", TypeError)
    if len(seq) == 0:
        fail(fn, f"argument {name!r} should hold at least one {item} tuple, got an empty {type(seq).__name__}")


def layer_entry(fn: str, name: str, i: int, entry, size: int, item: str) -> None:
    """``entry`` (``name[i]``) is a list or tuple of ``size`` elements."""
    if not isinstance(entry, (list, tuple)) or len(entry) != size:
        got = type(entry).__name__ + (f" of length {len(entry)}" if isinstance(entry, (list, tuple)) else "")
        fail(fn, f"argument '{name}[{i}]' should be a tuple {item}, got {got}", TypeError)


def mlp_args(fn: str, x, layers, act):
    """Validated (x (B, n_0), [(W_l (n_l, n_{l-1}), b_l (n_l,))], activation, dtype)."""
    act = activation(fn, act)
    x = array(fn, "x", x, 2, "(B, n_0)")
    layer_list(fn, "layers", layers, "(W, b)")
    width, out = x.shape[1], []
    for i, entry in enumerate(layers):
        layer_entry(fn, "layers", i, entry, 2, "(W, b)")
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


def cotangent(fn: str, dy, shape: tuple) -> np.ndarray:
    """dy (B, n_out) of the output's ``shape``."""
    dy = array(fn, "dy", dy, 2, "(B, n_out)")
    if dy.shape != tuple(shape):
        fail(fn, f"argument 'dy' should have the output's shape {tuple(shape)}, got {dy.shape}")
    return dy
