"""Dot products and sums of the references in the 16-bit formats: accumulated in float32, rounded once to storage.

NumPy's own arithmetic is uneven here (measured with numpy 2.4 and ml_dtypes 0.7):
- float16 ``a @ b`` accumulates in float32: 2048 + 4095 ones gives 6144 (the float32 sum 6143 rounded to
  float16), not the 2048 of a float16 accumulator (2048 + 1 rounds back to 2048); a contiguous 1-D ``sum`` too;
- but a float16 ``sum(axis=0)`` of a (rows, k) array adds row by row in float16: 2048 then 4095 ones gives 2048;
- bfloat16 (ml_dtypes) ``a @ b`` returns a float32 array (256 + 255 ones gives 511.0, not a bfloat16), and
  ``sum`` accumulates in bfloat16 (256 + 255 ones gives 256); ``np.einsum`` rejects bfloat16 ("invalid data
  type for einsum").
`matmul`, `einsum` and `total` make every dot product and sum of a 16-bit reference one float32 accumulation rounded once
to the storage format (the declared convention accumulate = "float32" of `dlproof.impl.targets.numpy_target`);
for float32 and float64 they are ``a @ b`` and ``a.sum(axis)`` themselves, bit for bit.
"""
from __future__ import annotations

import numpy as np

#: the accumulation format of the 16-bit storage formats (keys: dtype names)
ACCUMULATE = {"float16": np.dtype(np.float32), "bfloat16": np.dtype(np.float32)}


def _acc(dt: np.dtype):
    return ACCUMULATE.get(np.dtype(dt).name)


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b in a's dtype; a 16-bit storage format accumulates in float32 and rounds the result once."""
    acc = _acc(a.dtype)
    if acc is None:
        return a @ b
    return (a.astype(acc) @ b.astype(acc)).astype(a.dtype)


def total(a: np.ndarray, axis) -> np.ndarray:
    """a.sum(axis) in a's dtype; a 16-bit storage format accumulates in float32 and rounds the result once."""
    acc = _acc(a.dtype)
    if acc is None:
        return a.sum(axis=axis)
    return a.sum(axis=axis, dtype=acc).astype(a.dtype)


def einsum(spec: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """np.einsum(spec, a, b, optimize=True) in a's dtype; a 16-bit storage format accumulates in float32 and rounds
    the result once."""
    acc = _acc(a.dtype)
    if acc is None:
        return np.einsum(spec, a, b, optimize=True)
    return np.einsum(spec, a.astype(acc), b.astype(acc), optimize=True).astype(a.dtype)
