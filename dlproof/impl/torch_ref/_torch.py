"""Import torch or fail with an actionable message; NumPy <-> torch conversion at the boundary.

The torch reference computes in its inputs' dtype: float16, bfloat16 (ml_dtypes' NumPy dtype), float32 or
float64 NumPy arrays become torch tensors of the same format and come back as such (exactly: a bfloat16 array
crosses as float32, see `dlproof.impl.adapters.startup`); any other NumPy dtype computes in float64.
"""
from __future__ import annotations

import numpy as np

try:
    import torch
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("dlproof.impl.torch_ref needs torch: pip install 'dlproof[torch]'") from exc

from dlproof.dtypes import FORMATS

from ..adapters import startup

_DTYPES = {f.dtype: getattr(torch, name) for name, f in FORMATS.items()}


def torch_dtype(np_dtype) -> "torch.dtype":
    """The torch dtype for a NumPy float16 / bfloat16 / float32 / float64 dtype (any other computes in float64)."""
    return _DTYPES.get(np.dtype(np_dtype), torch.float64)


def to_torch(a: np.ndarray, dtype: "torch.dtype", requires_grad: bool = False) -> "torch.Tensor":
    """A fresh tensor copy (never shares memory with the caller's array); exact for an array of ``dtype``."""
    return startup.tensor(torch, a, dtype, requires_grad)


def to_numpy(t: "torch.Tensor", np_dtype) -> np.ndarray:
    """A new NumPy array of ``np_dtype`` with the tensor's values (exact for a tensor of that format)."""
    return startup.to_numpy(t, np_dtype)
