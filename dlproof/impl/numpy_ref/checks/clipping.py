"""Validation of the clipping calls: a list of floating gradient arrays, a positive bound, eps and scope."""
from __future__ import annotations

import numpy as np

from .common import BFLOAT16, fail, nonnegative_number, one_of, positive_number

CLIP_SCOPES = ("global", "per_tensor")


def grad_list(fn: str, grads) -> list[np.ndarray]:
    """``grads`` must be a list/tuple of floating ndarrays (any shapes)."""
    if not isinstance(grads, (list, tuple)):
        fail(fn, f"argument 'grads' should be a list or tuple of float arrays, got {type(grads).__name__}")
    for i, g in enumerate(grads):
        if not isinstance(g, (np.ndarray, np.generic)):
            fail(fn, f"argument 'grads[{i}]' should be a NumPy float array, got {type(g).__name__}")
        if not (np.issubdtype(g.dtype, np.floating) or g.dtype == BFLOAT16):
            fail(fn, f"argument 'grads[{i}]' should have a floating dtype, got dtype {g.dtype}")
    return [np.asarray(g) for g in grads]


def clip_args(fn: str, grads, max_norm, eps, scope):
    """Validated (grads, max_norm, eps) of a clip-by-norm call; ``scope`` must be one of CLIP_SCOPES."""
    grads = grad_list(fn, grads)
    max_norm = positive_number(fn, "max_norm", max_norm)
    eps = nonnegative_number(fn, "eps", eps)
    one_of(fn, "scope", scope, CLIP_SCOPES)
    return grads, max_norm, eps
