"""Import torch or fail with an actionable message; NumPy <-> torch conversion at the boundary."""
from __future__ import annotations

import numpy as np

try:
    import torch
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("dlproof.impl.torch_ref needs torch: pip install 'dlproof[torch]'") from exc

_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def torch_dtype(np_dtype) -> "torch.dtype":
    """The torch dtype for a NumPy float32/float64 dtype (float16 and others compute in float64)."""
    return _DTYPES.get(np.dtype(np_dtype), torch.float64)


def to_torch(a: np.ndarray, dtype: "torch.dtype", requires_grad: bool = False) -> "torch.Tensor":
    """A fresh tensor copy (never shares memory with the caller's array)."""
    t = torch.tensor(np.asarray(a), dtype=dtype)
    return t.requires_grad_(requires_grad)


def to_numpy(t: "torch.Tensor", np_dtype) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np_dtype, copy=False)
