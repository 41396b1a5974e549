"""The pieces every validation is made of: the failure message, floating arrays, shapes, finiteness,
numbers, flags and choices. A failure is ``{fn}: {message}`` in a ValueError (or the exception given)."""
from __future__ import annotations

import numpy as np

from dlproof.dtypes import fmt

#: ml_dtypes' bfloat16, a floating format NumPy's type hierarchy does not know (np.issubdtype(., np.floating) is False)
BFLOAT16 = fmt("bfloat16").dtype


def fail(fn: str, msg: str, exc=ValueError):
    """Raise ``exc(f"{fn}: {msg}")``."""
    raise exc(f"{fn}: {msg}")


def float_array(fn: str, name: str, a, ndim, what, exc=ValueError) -> np.ndarray:
    """``a`` as a floating ndarray of ``ndim`` dimensions (None: any); ``what`` names the axes, e.g. "(B, m)"
    (None: no shape named). None or a non-floating dtype raises ``exc``, a wrong ndim a ValueError."""
    if a is None:
        shape = "" if what is None else f" of shape {what}"
        fail(fn, f"argument {name!r} should be a float array{shape}, got None", exc)
    arr = a if isinstance(a, np.ndarray) else np.asarray(a)
    if not (np.issubdtype(arr.dtype, np.floating) or arr.dtype == BFLOAT16):
        fail(fn, f"argument {name!r} should have a floating dtype (float16/bfloat16/float32/float64), got dtype "
                 f"{arr.dtype}", exc)
    if ndim is not None and arr.ndim != ndim:
        fail(fn, f"argument {name!r} should have {ndim} dimensions {what}, got shape {arr.shape}")
    return arr


def finite(fn: str, name: str, a: np.ndarray) -> np.ndarray:
    """``a`` itself if every entry is finite; else a ValueError naming the first non-finite entry."""
    if not np.all(np.isfinite(a)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        fail(fn, f"argument {name!r} should be finite, got {a[bad]} at index {bad}")
    return a


def expect_shape(fn: str, name: str, arr: np.ndarray, expected: tuple, what: str) -> None:
    """A ValueError unless ``arr.shape == expected`` (``what`` says where the expected shape comes from)."""
    if arr.shape != tuple(expected):
        fail(fn, f"argument {name!r} should have shape {what} = {tuple(expected)}, got {arr.shape}")


def one_of(fn: str, name: str, value, choices: tuple):
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        fail(fn, f"argument {name!r} should be one of {choices}, got {value!r}")
    return value


def flag(fn: str, name: str, value, what: str = "a bool") -> bool:
    """A bool (Python or NumPy) as a Python bool; anything else is a TypeError."""
    if not isinstance(value, (bool, np.bool_)):
        fail(fn, f"argument {name!r} should be {what}, got {value!r} ({type(value).__name__})", TypeError)
    return bool(value)


def _number(fn: str, name: str, v, strict: bool) -> float:
    want = "> 0" if strict else ">= 0"
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        fail(fn, f"argument {name!r} should be a finite number {want}, got {v!r} ({type(v).__name__})")
    f = float(v)
    if not np.isfinite(f) or f < 0 or (strict and f == 0):
        fail(fn, f"argument {name!r} should be a finite number {want}, got {v!r}")
    return f


def positive_number(fn: str, name: str, v) -> float:
    """A finite real number > 0 as a Python float."""
    return _number(fn, name, v, strict=True)


def nonnegative_number(fn: str, name: str, v) -> float:
    """A finite real number >= 0 as a Python float."""
    return _number(fn, name, v, strict=False)
