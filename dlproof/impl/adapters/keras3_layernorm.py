"""Keras 3 (torch backend) keras.layers.LayerNormalization behind the protocol's layernorm / layernorm_vjp.

Each call builds ``keras.layers.LayerNormalization(axis=-1, epsilon=eps, center=affine, scale=affine,
dtype=dtype)`` (affine = gamma given), builds it for x's shape, assigns ``gamma <- gamma``, ``beta <- beta``
and calls it on a torch tensor (training=False; the layer has no training-mode difference). Gradients:
torch.autograd.grad of L = <dy, y> through the layer w.r.t. x and the torch tensors behind the ``gamma`` and
``beta`` variables (on the torch backend a Keras variable's ``.value`` is a ``torch.nn.Parameter``), as
dlproof/impl/adapters/keras3.py does for the recurrent layers.

Measured (keras 3.15.1, torch 2.13.0, CPU): on the torch backend ``keras.ops.layer_normalization`` calls
``torch.nn.functional.layer_norm`` (biased variance, eps inside the square root: the protocol's math), but in
``backend.result_type(x.dtype, "float32")``, which is float32 for float64 input on the torch backend: a float64
layer returns float64 arrays whose values are float32 layer norms (bit-identical to F.layer_norm in float32,
8e-8 from the exact value on a standard normal row). So the float64 Keras target is only float32-accurate and
fails ln.forward by design (a finding, not absorbed); the Keras target should be float32.

Inputs are validated as the NumPy reference does; arrays in and out are NumPy of the target's dtype; inputs
are never mutated. Keras is imported through `keras3_layers` (the torch backend, or ImportError).
"""
from __future__ import annotations

import threading

import numpy as np

from dlproof.target import Target

from ..numpy_ref.layernorm import check_forward, check_vjp
from .keras3_layers import keras, torch
from .startup import chapter_capabilities, dtype_name, tensor, to_numpy

_LOCK = threading.RLock()  # Keras' global state (layer names) while a layer is built and called


def _t(a, dt, requires_grad=False):
    return tensor(torch, a, getattr(torch, dt.name), requires_grad)


def _np(t, dt):
    return to_numpy(t, dt)


def _layer(F, ndim, eps, affine, dt):
    lay = keras.layers.LayerNormalization(axis=-1, epsilon=eps, center=affine, scale=affine, dtype=dt.name)
    lay.build((1,) * (ndim - 1) + (F,))
    return lay


def _assign(lay, g, b, dt):
    if g is not None:
        lay.gamma.assign(np.asarray(g, dt))
        lay.beta.assign(np.asarray(b, dt))


def layernorm(x, gamma, beta, eps, *, dtype="float32"):
    """-> y (..., F) from keras.layers.LayerNormalization(axis=-1, epsilon=eps, center=scale=affine)."""
    fn = "layernorm"
    dt = np.dtype(dtype_name(fn, dtype))
    x, g, b, eps, _ = check_forward(fn, x, gamma, beta, eps)
    with _LOCK, torch.no_grad():
        lay = _layer(x.shape[-1], x.ndim, eps, g is not None, dt)
        _assign(lay, g, b, dt)
        y = lay(_t(x, dt), training=False)
    return _np(y, dt)


def layernorm_vjp(x, gamma, beta, eps, dy, *, dtype="float32"):
    """Gradients of L = <dy, y> by torch.autograd through the Keras layer -> {"x", "gamma", "beta"}."""
    fn = "layernorm_vjp"
    dt = np.dtype(dtype_name(fn, dtype))
    x, g, b, eps, dy, _ = check_vjp(fn, x, gamma, beta, eps, dy)
    with _LOCK, torch.enable_grad():
        lay = _layer(x.shape[-1], x.ndim, eps, g is not None, dt)
        _assign(lay, g, b, dt)
        xt = _t(x, dt, True)
        leaves = [xt] + ([lay.gamma.value, lay.beta.value] if g is not None else [])
        L = (_t(dy, dt) * lay(xt, training=False)).sum()
        grads = torch.autograd.grad(L, leaves)
    out = {"x": _np(grads[0], dt), "gamma": None, "beta": None}
    if g is not None:
        out["gamma"], out["beta"] = _np(grads[1], dt), _np(grads[2], dt)
    return out


def capabilities(dtype: str = "float32") -> dict:
    """{"layernorm", "layernorm_vjp"} bound to ``dtype``, for the Keras target."""
    dtype_name("capabilities", dtype)
    return chapter_capabilities(globals(), "layernorm", dtype)


def target(dtype: str = "float32") -> Target:
    """The layer-norm capabilities of keras.layers.LayerNormalization (fresh layer per call) as a Target."""
    dtype_name("target", dtype)
    return Target(name=f"keras.layers.LayerNormalization (keras {keras.__version__}, torch backend, {dtype})",
                  dtype=dtype, **capabilities(dtype))
