"""The floating-point formats a target may declare as its ``dtype``, and the precisions it may accumulate in.

One declaration per format (`FORMATS`): its NumPy dtype and the constants the error model needs. Every
format is IEEE 754 style binary with round-to-nearest-even: p significand bits (the implicit one included),
unit roundoff u = 2^-p, smallest normal ``tiny``, smallest positive subnormal, largest finite ``max``.

| format   | p  | u       | tiny    | smallest subnormal | max          | NumPy dtype                |
|----------|----|---------|---------|--------------------|--------------|----------------------------|
| float16  | 11 | 2^-11   | 2^-14   | 2^-24              | 65504        | numpy.float16              |
| bfloat16 | 8  | 2^-8    | 2^-126  | 2^-133             | ~3.39e38     | ml_dtypes.bfloat16         |
| float32  | 24 | 2^-24   | 2^-126  | 2^-149             | ~3.40e38     | numpy.float32              |
| float64  | 53 | 2^-53   | 2^-1022 | 2^-1074            | ~1.80e308    | numpy.float64              |

NumPy has no bfloat16; the well-kept ``ml_dtypes`` package (the one JAX and TensorFlow use) adds it as a
real NumPy dtype: importing this module registers it, so ``np.dtype("bfloat16")``, ``astype`` (correctly
rounded) and the arithmetic ufuncs (each result rounded to bfloat16) work like any other dtype. Arrays of a
bfloat16 target cross the protocol as such arrays.
"""
from __future__ import annotations

from typing import NamedTuple

import ml_dtypes  # noqa: F401 - registers the bfloat16 dtype with NumPy
import numpy as np


class Format(NamedTuple):
    """A binary floating-point format: ``p`` significand bits, its NumPy dtype and its finfo constants."""

    name: str
    p: int
    dtype: np.dtype

    @property
    def u(self) -> float:
        """Unit roundoff 2^-p: |fl(x) - x| <= u |x| for x in the normal range (round to nearest)."""
        return 2.0 ** -self.p

    @property
    def finfo(self):
        """The format's finfo (tiny, smallest_subnormal, max, eps): NumPy's, or ml_dtypes' for bfloat16."""
        return ml_dtypes.finfo(self.dtype) if self.name == "bfloat16" else np.finfo(self.dtype)

    @property
    def tiny(self) -> float:
        return float(self.finfo.tiny)

    @property
    def smallest_subnormal(self) -> float:
        return float(self.finfo.smallest_subnormal)

    @property
    def max(self) -> float:
        return float(self.finfo.max)


#: name -> Format, narrowest first
FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("float16", 11, np.dtype(np.float16)),
    Format("bfloat16", 8, np.dtype(ml_dtypes.bfloat16)),
    Format("float32", 24, np.dtype(np.float32)),
    Format("float64", 53, np.dtype(np.float64)),
)}

#: the dtypes a target may declare (protocol version 1: float32 and float64; float16 and bfloat16 added compatibly)
DTYPES = tuple(FORMATS)


def fmt(name) -> Format:
    """The Format called ``name`` (a dtype name, or a NumPy dtype of one of `FORMATS`); ValueError otherwise."""
    key = str(np.dtype(name)) if isinstance(name, (np.dtype, type)) else str(name)
    if key not in FORMATS:
        raise ValueError(f"dtype={name!r}, but should be one of {DTYPES}")
    return FORMATS[key]


def at_least(accumulate: str, storage: str) -> bool:
    """Whether format ``accumulate`` is at least as precise and as wide as ``storage`` (so a product of two
    ``storage`` numbers can be accumulated in it without losing range)."""
    a, s = fmt(accumulate), fmt(storage)
    return a.p >= s.p and a.max >= s.max

