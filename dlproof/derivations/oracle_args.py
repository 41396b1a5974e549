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


def chapter_kernel(chapter: str, prefix: str, name: str):
    """The generated kernel ``<prefix>_<name>`` (``dlproof.derivations.kernels()``) of chapter ``chapter``'s oracle;
    RuntimeError when the kernel module lacks it (the chapter is not declared, so its records were not built)."""
    from . import kernels

    try:
        return getattr(kernels(), f"{prefix}_{name}")
    except AttributeError:
        raise RuntimeError(f"oracle_{chapter}: the generated kernel module has no {prefix}_{name}; "
                           f"the chapter '{chapter}' must be in dlproof.capabilities.CHAPTERS") from None
