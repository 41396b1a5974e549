"""Hostile targets: they break the protocol's contract (raise, wrong shape/dtype/type, NaN, inf), not the math.

Each is the NumPy reference with one capability replaced (``dataclasses.replace``), so every other
capability stays correct. `BAD_TARGETS` maps a name to (target, property id, what the message must say).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from dlproof.impl.numpy_ref import clipping as C
from dlproof.impl.numpy_ref import rnn as R
from dlproof.impl.targets import numpy_target

BASE = numpy_target("float64")


def _rnn_raises(xs, h0, p):
    raise RuntimeError("cuDNN exploded")


def _rnn_batch_major(xs, h0, p):
    hs, hT = R.rnn(xs, h0, p)
    return np.ascontiguousarray(hs.transpose(1, 0, 2)), hT  # (B, T, n) instead of (T, B, n)


def _rnn_float32(xs, h0, p):
    hs, hT = R.rnn(xs, h0, p)
    return hs.astype(np.float32), hT.astype(np.float32)


def _rnn_lists(xs, h0, p):
    hs, hT = R.rnn(xs, h0, p)
    return hs.tolist(), hT.tolist()


def _rnn_nan(xs, h0, p):
    hs, hT = R.rnn(xs, h0, p)
    hs = hs.copy()
    hs[0, 0, 0] = np.nan
    return hs, hT


def _rnn_inf_final(xs, h0, p):
    hs, hT = R.rnn(xs, h0, p)
    hT = hT.copy()
    hT[-1, -1] = -np.inf  # the last entry of the final state only; hs is finite
    return hs, hT


def _clip_no_norm(grads, max_norm):
    clipped, _ = C.clip_grad_norm(grads, max_norm)
    return clipped  # a bare list instead of (clipped, norm)


RAISES = replace(BASE, name="bad: rnn raises", rnn=_rnn_raises)
WRONG_SHAPE = replace(BASE, name="bad: batch-major hs", rnn=_rnn_batch_major)
WRONG_DTYPE = replace(BASE, name="bad: float32 out of a float64 target", rnn=_rnn_float32)
LISTS = replace(BASE, name="bad: python lists", rnn=_rnn_lists)
NAN = replace(BASE, name="bad: NaN in hs", rnn=_rnn_nan)
INF = replace(BASE, name="bad: -inf in h_T", rnn=_rnn_inf_final)
CLIP_NOT_TUPLE = replace(BASE, name="bad: clip returns a bare list", clip_grad_norm=_clip_no_norm)

BAD_TARGETS = {
    "raises": RAISES,
    "wrong_shape": WRONG_SHAPE,
    "wrong_dtype": WRONG_DTYPE,
    "lists": LISTS,
    "nan": NAN,
    "inf": INF,
    "clip_not_tuple": CLIP_NOT_TUPLE,
}
