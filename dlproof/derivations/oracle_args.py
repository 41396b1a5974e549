"""Argument plumbing shared by the oracles: batch rows -> column vectors, params -> kernel order."""
from __future__ import annotations

import numpy as np


def col(v) -> np.ndarray:
    """Batch rows (B, k) as column vectors (B, k, 1), float64."""
    return np.asarray(v, dtype=np.float64)[..., None]


def params_tuple(p, names: tuple, who: str) -> tuple:
    """``p``'s blocks in kernel order, float64; biases (names starting with "b") as (n, 1) columns."""
    missing = [k for k in names if k not in p]
    if missing:
        raise KeyError(f"{who}: params lack {missing}; expected {list(names)}")
    return tuple(np.asarray(p[k], np.float64)[:, None] if k.startswith("b") else np.asarray(p[k], np.float64)
                 for k in names)
