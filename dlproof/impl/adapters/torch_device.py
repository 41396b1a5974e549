"""Torch-based targets on another device: the same capabilities, with every tensor made on ``device``.

`on_device(target, device, tf32)` wraps each capability of a torch-based target (dlproof.impl.torch_ref or
the torch.nn adapter) in ``with torch.device(device):``, so that the tensors it builds from the NumPy inputs
and the modules it constructs live on that device (CUDA: cuBLAS GEMMs, cuDNN's fused LSTM / GRU / RNN
kernels); results come back as NumPy arrays through ``.cpu()`` as before. Around each call it sets torch's
TF32 switches to ``tf32`` and restores them afterwards: ``fp32_precision`` of ``torch.backends.cuda.matmul``,
``cudnn.rnn`` and ``cudnn.conv`` ("tf32" or "ieee") where torch has them, else the legacy ``allow_tf32``
flags of ``torch.backends.cuda.matmul`` and ``torch.backends.cudnn``. A TF32 target declares ``matmul_precision = "tf32"``: its products
round their inputs to 11 significant bits, and the error model is evaluated at u = 2^-11
(`properties.tolerances.precision`).

cuDNN's float32 activations. cuDNN's fused LSTM / GRU / RNN kernels evaluate tanh and sigmoid less accurately
than an IEEE-faithful libm, so ``torch.nn.cuda`` (float32, TF32 off) declares ``activation_ulps`` =
`CUDNN_ACTIVATION_ULPS` (dlproof.target: |computed - exact| <= activation_ulps u per activation, absolute, u =
2^-24) and is checked at float32 power everywhere else. The value comes from the GPU check's zero-weight
measurement (reports/gpu/gpu.md, NVIDIA H200, cuDNN 91900, 2026-11-26): with every weight and state 0 each output
is a product of activations of the biases, and the largest errors were 7.03 (TF32 off) and 8.005 (TF32 on; with
zero weights TF32 has no product to act on, so both runs sample the same elementwise code) float32 ulps of the
exact value (cuDNN LSTM c' and h'). Conversion to the convention's unit: an ulp of y with |y| in [2^e, 2^(e+1))
is 2^(e+1) u, at most u for |y| < 1 (every output here), so N ulps <= N u absolute; attributing the whole error
to the activations, 8.005 u, rounded up: 9. (GRU h' measured 1.68 ulps.) The next GPU run re-measures it in the
convention's unit (benchmarks/gpu.py runs ``act.*_cell.accuracy``'s measurement on the CUDA targets); if the
measured value exceeds this one, ``act.*_cell.accuracy`` fails on torch.nn.cuda and names the value to declare.
``torch.nn.cuda.tf32`` keeps the default: its matmuls really run in TF32, and its model charges every operation,
activations included, at u = 2^-11.

The CUDA factories raise ImportError (so the loader reports the built-in as unavailable) when torch has no
CUDA device: the conformance suite never depends on a GPU.
"""
from __future__ import annotations

import functools
from dataclasses import replace

from dlproof.target import Target

from .startup import torch as _torch

_NEW_API = ("cuda.matmul", "cudnn.rnn", "cudnn.conv")  # torch >= 2.9: fp32_precision = "ieee" | "tf32"
_LEGACY = ("cuda.matmul", "cudnn")  # older torch: allow_tf32 = True | False


def _switches() -> list:
    """[(owner, attribute, value for TF32 on, value for TF32 off)]: torch's fp32_precision switches where this
    torch has them (then only those: mixing them with the legacy allow_tf32 flags is an error in torch),
    else the legacy allow_tf32 flags."""
    b = _torch().backends

    def get(path):
        obj = b
        for part in path.split("."):
            obj = getattr(obj, part, None)
        return obj

    if all(hasattr(get(p), "fp32_precision") for p in _NEW_API):
        return [(get(p), "fp32_precision", "tf32", "ieee") for p in _NEW_API]
    return [(get(p), "allow_tf32", True, False) for p in _LEGACY]


def tf32_state() -> dict:
    """The TF32 switches as torch reports them now, e.g. {"cudnn.rnn.fp32_precision": "ieee", ...}."""
    names = _NEW_API if _switches()[0][1] == "fp32_precision" else _LEGACY
    return {f"{n}.{attr}": getattr(obj, attr) for n, (obj, attr, _, _) in zip(names, _switches())}


class _Precision:
    """Set torch's TF32 switches (cuBLAS matmuls, cuDNN RNNs and convolutions) for the duration of a call,
    then restore them."""

    def __init__(self, tf32: bool):
        self.tf32 = bool(tf32)

    def __enter__(self):
        self.saved = [(obj, attr, getattr(obj, attr)) for obj, attr, _, _ in _switches()]
        for obj, attr, on, off in _switches():
            setattr(obj, attr, on if self.tf32 else off)
        return self

    def __exit__(self, *exc):
        for obj, attr, value in self.saved:
            setattr(obj, attr, value)
        return False


def _wrap(fn, device: str, tf32: bool):
    torch = _torch()

    @functools.wraps(fn)
    def call(*args, **kw):
        with torch.device(device), _Precision(tf32):
            return fn(*args, **kw)

    return call


#: activation_ulps declared by torch.nn.cuda (float32 cuDNN, TF32 off): gpu.md's 8.005 ulps, rounded up (module doc)
CUDNN_ACTIVATION_ULPS = 9.0


def on_device(target: Target, device: str, tf32: bool = False, activation_ulps: float | None = None) -> Target:
    """``target`` with every capability run under ``torch.device(device)`` and the TF32 switches set to
    ``tf32`` (declared as matmul_precision "tf32" on float32 targets; float64 never uses TF32); with
    ``activation_ulps`` the target declares that accuracy of its tanh / sigmoid (the convention, dlproof.target)."""
    torch = _torch()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"on_device: device={device!r} is not a torch device: {exc}") from None
    if tf32 and target.dtype != "float32":
        raise ValueError(f"on_device: tf32=True needs a float32 target, got {target.name!r} ({target.dtype})")
    caps = {c: _wrap(getattr(target, c), str(dev), tf32) for c in target.capabilities if c != "param_count"}
    conventions = {**target.conventions, "matmul_precision": "tf32" if tf32 else "ieee"}
    if activation_ulps is not None:
        conventions["activation_ulps"] = activation_ulps  # Target validates it (a finite float >= 0.5)
    tag = f"on {dev}" + (", TF32" if tf32 else "")
    return replace(target, name=f"{target.name} [{tag}]", conventions=conventions, **caps)


def _cuda() -> str:
    torch = _torch()
    if not torch.cuda.is_available():
        raise ImportError("it needs a CUDA device, and torch.cuda.is_available() is False here")
    return "cuda"


def torch_ref_cuda_target(dtype: str = "float32", tf32: bool = False) -> Target:
    """dlproof.impl.torch_ref on CUDA (cuBLAS GEMMs, torch autograd)."""
    from ..targets import torch_target

    return on_device(torch_target(dtype), _cuda(), tf32)


def torch_nn_cuda_target(dtype: str = "float32", tf32: bool = False) -> Target:
    """The torch.nn adapter on CUDA: nn.LSTM / GRU / RNN run cuDNN's kernels, forward and backward. In float32 with
    TF32 off it declares activation_ulps = `CUDNN_ACTIVATION_ULPS` (module doc)."""
    from .torch_nn import target

    ulps = CUDNN_ACTIVATION_ULPS if dtype == "float32" and not tf32 else None
    return on_device(target(dtype), _cuda(), tf32, activation_ulps=ulps)
