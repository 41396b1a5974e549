"""Keras 3 on the torch backend, the layer runtime shared by the Keras adapters (`keras3`, `keras3_stacked`):
importing Keras on the torch backend, the weight map between canonical parameters and Keras' storage, building
and filling layers, the tensor conversions, the autograd pull-back, and recognising a user's layer.

The weight map (`canonical_to_keras`, `keras_to_canonical`; column vectors, a cell computes
``x @ W_x.T + h @ W_h.T + b``, W_x* (n, m), W_h* (n, n), b* (n,)):

- SimpleRNN: ``kernel`` (m, n) = W_x^T, ``recurrent_kernel`` (n, n) = W_h^T, ``bias`` (n,) = b.
- LSTM, Keras gate order i, f, c, o (= canonical i, f, g, o): ``kernel`` (m, 4n) = [W_xi^T | ... | W_xo^T],
  ``recurrent_kernel`` likewise, ONE ``bias`` (4n,) = [b_i, b_f, b_g, b_o].
- GRU, Keras gate order **z, r, h**: kernel (m, 3n) = [W_xz^T | W_xr^T | W_xn^T], likewise recurrent_kernel;
  reset_after=True: ``bias`` (2, 3n), row 0 = [b_z, b_r, b_xn], row 1 = [0, 0, b_hn]; reset_after=False:
  ``bias`` (3n,) = [b_z, b_r, b_xn + b_hn].

Sequences are time-major (T, B, m) in the protocol and batch-major (B, T, m) in Keras (`_bt`, `_tb`).

Import note: this module sets ``KERAS_BACKEND=torch`` if it is unset, before importing keras; it raises
ImportError if keras is missing or was already imported with another backend.
"""
from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass

import numpy as np

from dlproof.parameters import GATES, GRU_GATES, KINDS, PARAMS, block

from ..numpy_ref.checks import recurrent as checks
from .startup import tensor, to_numpy

os.environ.setdefault("KERAS_BACKEND", "torch")
try:
    import keras
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("dlproof.impl.adapters.keras3 needs Keras 3 on the torch backend: "
                      "pip install 'dlproof[keras]' (keras>=3 and torch)") from exc
if not str(getattr(keras, "__version__", "0")).startswith("3."):  # pragma: no cover
    raise ImportError(f"dlproof.impl.adapters.keras3 needs Keras 3, found keras {getattr(keras, '__version__', '?')}")
if keras.backend.backend() != "torch":
    raise ImportError(
        f"dlproof.impl.adapters.keras3 runs Keras on the torch backend, but keras was imported with backend "
        f"{keras.backend.backend()!r}: set KERAS_BACKEND=torch before the first import of keras")
import torch  # noqa: E402  (keras' torch backend has imported it already)

KERAS_VERSION = keras.__version__
GRU_VARIANTS = checks.GRU_VARIANTS
#: canonical gate letters in Keras' storage order: the protocol's, except that Keras' GRU stores z before r
KERAS_GATES = dict(GATES, gru=tuple(GRU_GATES[j] for j in (1, 0, 2)))
STATES = {"rnn": ("h0",), "lstm": ("h0", "c0"), "gru": ("h0",)}
_LAYERS = {"rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
_CELLS = {"rnn": "SimpleRNNCell", "lstm": "LSTMCell", "gru": "GRUCell"}
_LOCK = threading.RLock()  # layers are cached and their weights overwritten per call
#: Keras' mixed dtype policies -> the compute dtype (variables are float32): the layer is a target of that dtype
MIXED_POLICIES = {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}


# ---- the weight map ---------------------------------------------------------------------------------

def _check_kind(kind, gru):
    if kind not in KINDS:
        raise ValueError(f"kind should be one of {KINDS}, got {kind!r}")
    if gru not in GRU_VARIANTS:
        raise ValueError(f"gru should be one of {GRU_VARIANTS}, got {gru!r}")


def canonical_to_keras(kind: str, p, gru: str = "reset_after") -> dict:
    """Keras storage {"kernel", "recurrent_kernel", "bias"} (NumPy) from canonical params ``p``.

    ``gru`` is the GRU variant (Keras reset_after=True / False); it shapes the GRU bias only."""
    _check_kind(kind, gru)
    gates = KERAS_GATES[kind]
    kernel = np.concatenate([np.asarray(p[block(kind, g)[0]]).T for g in gates], axis=1)
    recurrent = np.concatenate([np.asarray(p[block(kind, g)[1]]).T for g in gates], axis=1)
    if kind != "gru":
        bias = np.concatenate([np.asarray(p[block(kind, g)[2]]) for g in gates])
    elif gru == "reset_after":
        row0 = np.concatenate([p["b_z"], p["b_r"], p["b_xn"]])
        row1 = np.concatenate([np.zeros_like(p["b_z"]), np.zeros_like(p["b_r"]), p["b_hn"]])
        bias = np.stack([row0, row1])
    else:
        bias = np.concatenate([p["b_z"], p["b_r"], np.asarray(p["b_xn"]) + np.asarray(p["b_hn"])])
    return {"kernel": kernel, "recurrent_kernel": recurrent, "bias": bias}


def _split_cols(a, k):
    n = a.shape[-1] // k
    return [a[..., j * n:(j + 1) * n] for j in range(k)]


def _unmap(kind, w, gru, *, grads: bool) -> dict:
    gates = KERAS_GATES[kind]
    K = _split_cols(np.asarray(w["kernel"]), len(gates))
    U = _split_cols(np.asarray(w["recurrent_kernel"]), len(gates))
    bias = np.asarray(w["bias"])
    out = {}
    for j, g in enumerate(gates):
        wx, wh, _ = block(kind, g)
        out[wx], out[wh] = K[j].T.copy(), U[j].T.copy()
    if kind != "gru":
        for j, b in enumerate(_split_cols(bias, len(gates))):
            out[block(kind, gates[j])[2]] = b.copy()
    elif gru == "reset_after":
        (z0, r0, n0), (z1, r1, n1) = _split_cols(bias[0], 3), _split_cols(bias[1], 3)
        # values: Keras adds the two rows for z and r; gradients: dL/db_z = dL/dbias[0, z] (= dL/dbias[1, z])
        out["b_z"], out["b_r"] = (z0.copy(), r0.copy()) if grads else (z0 + z1, r0 + r1)
        out["b_xn"], out["b_hn"] = n0.copy(), n1.copy()
    else:
        z, r, nb = _split_cols(bias, 3)
        out["b_z"], out["b_r"], out["b_xn"] = z.copy(), r.copy(), nb.copy()
        out["b_hn"] = nb.copy() if grads else np.zeros_like(nb)
    return {k: out[k] for k in PARAMS[kind]}


def keras_to_canonical(kind: str, weights, gru: str = "reset_after") -> dict:
    """Canonical params from Keras storage {"kernel", "recurrent_kernel", "bias"} (inverse of
    `canonical_to_keras` up to the bias sums Keras cannot tell apart: reset_after's recurrent z/r bias row is
    folded into b_z / b_r, reset_before's n bias is returned as b_xn with b_hn = 0)."""
    _check_kind(kind, gru)
    return _unmap(kind, weights, gru, grads=False)


def keras_grads_to_canonical(kind: str, grads, gru: str = "reset_after") -> dict:
    """dL/d(canonical params) from dL/d(kernel, recurrent_kernel, bias), for weights set by
    `canonical_to_keras` (reset_before: b_xn and b_hn both get the gradient of their sum)."""
    _check_kind(kind, gru)
    return _unmap(kind, grads, gru, grads=True)


def layer_weights(cell) -> dict:
    """{"kernel", "recurrent_kernel", "bias"} of a built Keras cell as NumPy arrays."""
    return {k: getattr(cell, k).value.detach().cpu().numpy().copy() for k in ("kernel", "recurrent_kernel", "bias")}


# ---- layers -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Config:
    kind: str
    gru: str = "reset_after"
    activation: str = "tanh"
    zero_output_for_mask: bool = False  # Keras' default: the last real output is carried at masked steps


def _seq_kwargs(cfg: _Config, dtype: str) -> dict:
    kw = dict(return_sequences=True, return_state=True, dtype=dtype)
    if cfg.kind == "rnn":
        kw["activation"] = cfg.activation
    if cfg.kind == "gru":
        kw["reset_after"] = cfg.gru == "reset_after"
    if cfg.zero_output_for_mask:
        kw["zero_output_for_mask"] = True
    return kw


@functools.lru_cache(maxsize=512)
def _builtin_layer(what: str, cfg: _Config, n: int, m: int, dtype: str):
    """A built Keras cell / sequence layer / Bidirectional layer, cached per (config, n, m, dtype)."""
    L = keras.layers
    if what == "cell":
        kw = {"dtype": dtype}
        if cfg.kind == "rnn":
            kw["activation"] = cfg.activation
        if cfg.kind == "gru":
            kw["reset_after"] = cfg.gru == "reset_after"
        layer = getattr(L, _CELLS[cfg.kind])(n, **kw)
        layer.build((None, m))
        return layer
    seq = getattr(L, _LAYERS[cfg.kind])(n, **_seq_kwargs(cfg, dtype))
    layer = seq if what == "seq" else L.Bidirectional(seq, merge_mode="concat", dtype=dtype)
    layer.build((None, None, m))
    return layer


def _cells(layer, what):
    if what == "cell":
        return [layer]
    if what == "seq":
        return [layer.cell]
    return [layer.forward_layer.cell, layer.backward_layer.cell]


def _assign(fn: str, cell, cfg: _Config, p, np_dtype) -> list:
    """Write canonical ``p`` into ``cell``; returns its [kernel, recurrent_kernel, bias] variables."""
    w = canonical_to_keras(cfg.kind, p, cfg.gru)
    out = []
    for k in ("kernel", "recurrent_kernel", "bias"):
        var = getattr(cell, k, None)
        if var is None:
            raise ValueError(f"{fn}: keras cell {cell.name!r} has no {k!r} variable (use_bias=False is not supported)")
        if tuple(var.shape) != w[k].shape:
            raise ValueError(f"{fn}: keras cell {cell.name!r} has {k} of shape {tuple(var.shape)}, but the "
                             f"canonical parameters map to {w[k].shape}: the layer's sizes do not match the parameters")
        var.assign(w[k].astype(np_dtype))
        out.append(var)
    return out


def _np_dtype(dt) -> np.dtype:
    return np.dtype(np.float32) if np.dtype(dt) == np.float32 else np.dtype(np.float64)


def _t(a, np_dtype, requires_grad=False):
    return tensor(torch, a, getattr(torch, np_dtype.name), requires_grad)


def _np(t, np_dtype) -> np.ndarray:
    """A new NumPy array of ``np_dtype`` (a bfloat16 tensor of a mixed policy crosses through float32, exactly)."""
    return to_numpy(t, np_dtype)


def _bt(xs):  # time-major (T, B, m) -> batch-major (B, T, m)
    return np.ascontiguousarray(np.swapaxes(xs, 0, 1))


def _tb(t):  # batch-major torch (B, T, n) -> time-major (T, B, n)
    return t.transpose(0, 1)


def _pullback(pairs, leaves: list, variables: list, dt) -> list:
    """NumPy gradients of L = sum of <cotangent, output> over ``pairs`` [(NumPy cotangent, torch output)] with
    respect to the torch ``leaves`` and the torch tensors behind the Keras ``variables``, in that order (zeros
    where L does not depend on one). Call it under torch.enable_grad()."""
    loss = sum((_t(c, dt) * o).sum() for c, o in pairs)
    wrt = list(leaves) + [v.value for v in variables]
    g = torch.autograd.grad(loss, wrt, allow_unused=True)
    return [_np(gi, dt) if gi is not None else np.zeros(tuple(x.shape), dt) for gi, x in zip(g, wrt)]


# ---- a user's own layer -----------------------------------------------------------------------------

def _refuse(layer, problem: str, who: str = "keras3.from_layer"):
    raise ValueError(f"{who}: {type(layer).__name__} {getattr(layer, 'name', '?')!r}: {problem}")


def _kind_of(layer, who: str = "keras3.from_layer") -> tuple:
    """(kind, _Config) of a supported Keras recurrent layer or cell, else ValueError (from ``who``)."""
    L = keras.layers

    def refuse(problem):
        _refuse(layer, problem, who)

    cell = layer.cell if isinstance(layer, L.RNN) else layer
    if isinstance(cell, (L.StackedRNNCells, list, tuple)):
        refuse("stacked cells (StackedRNNCells) are not supported: wrap each cell in its own layer")
    if isinstance(cell, L.SimpleRNNCell):
        kind = "rnn"
    elif isinstance(cell, L.LSTMCell):
        kind = "lstm"
    elif isinstance(cell, L.GRUCell):
        kind = "gru"
    else:
        refuse("is not a SimpleRNN/LSTM/GRU layer or cell (or keras.layers.RNN over one of those cells)")
    act = keras.activations.serialize(cell.activation)
    act = act if isinstance(act, str) else getattr(cell.activation, "__name__", str(act))
    if not cell.use_bias:
        refuse("use_bias=False is not supported (the protocol has biases)")
    if kind == "rnn":
        if act not in ("tanh", "relu"):
            refuse(f"activation={act!r}, but only 'tanh' and 'relu' are supported")
        return kind, _Config("rnn", activation=act)
    rec = keras.activations.serialize(cell.recurrent_activation)
    rec = rec if isinstance(rec, str) else getattr(cell.recurrent_activation, "__name__", str(rec))
    if act != "tanh" or rec != "sigmoid":
        refuse(f"activation={act!r}, recurrent_activation={rec!r}, but only 'tanh' / 'sigmoid' are supported")
    if kind == "gru":
        return kind, _Config("gru", "reset_after" if cell.reset_after else "reset_before")
    return kind, _Config("lstm")


def _check_seq_layer(layer, what="layer"):
    L = keras.layers
    if not isinstance(layer, L.RNN):
        _refuse(layer, f"{what} should be a keras.layers.RNN subclass")
    if getattr(layer, "stateful", False):
        _refuse(layer, "stateful=True is not supported (states carry over between calls)")
    if not layer.return_sequences:
        _refuse(layer, "return_sequences=False, but the protocol needs the whole sequence: set return_sequences=True")
    if not layer.return_state:
        _refuse(layer, "return_state=False, but the protocol needs the final states: set return_state=True")


def _resized(layer, units: int):
    """A fresh layer of ``layer``'s own class and configuration with ``units`` units (unbuilt)."""
    config = {**layer.get_config(), "name": None}
    if "units" in config:
        config["units"] = int(units)
    elif isinstance(config.get("cell"), dict) and isinstance(config["cell"].get("config"), dict):  # RNN(cell)
        config["cell"] = {**config["cell"], "config": {**config["cell"]["config"], "units": int(units), "name": None}}
    else:
        _refuse(layer, "cannot be resized (its config has no 'units'): pass resize=False and matching sizes")
    return type(layer).from_config(config)


