"""Broken gradient clipping (clip_grad_norm: g * min(1, c / ||g||_2) over all tensors at once, returning the
pre-clip global norm; clip_grad_value: clamp to [-v, v]), each the NumPy reference with one bug."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from dlproof.impl.numpy_ref import clipping as C

from mutants.base import BASE, Mutant, code_mutant, pinned


def _scale_up(grads, c):
    N = C.global_norm(grads)
    return [g * (c / N) for g in grads], N


def _clip_l1(grads, c):
    N1 = float(sum(np.abs(g).sum() for g in grads))
    N2 = C.global_norm(grads)
    s = min(1.0, c / N1) if N1 > 0 else 1.0
    return [g * s for g in grads], N2


def _clip_returns_post_norm(grads, c):
    out, _ = C.clip_grad_norm(grads, c)
    return out, C.global_norm(out)


def _clip_value_by_scaling(grads, v):
    """clip_grad_value written as a rescale: g * min(1, v / max|g|) (keeps the direction, not the rule)."""
    m = max((float(np.max(np.abs(g))) if g.size else 0.0) for g in grads)
    s = min(1.0, v / m) if m > 0 else 1.0
    return [g * s for g in grads]


def _clip_value_lower_zero(grads, v):
    """Clamps to [0, v] instead of [-v, v]."""
    return [np.clip(g, 0, v) for g in grads]


#: clips per tensor but declares global: the target tests/suite/test_repro.py saves and replays a failure of
per_tensor_target = replace(BASE, name="mutant: per-tensor clipping declared global",
                            clip_grad_norm=lambda g, c: C.clip_grad_norm(g, c, scope="per_tensor"))

MUTANTS: dict[str, Mutant] = {
    "clip_per_tensor": pinned(per_tensor_target, "clip.norm.rule"),
    "clip_scales_up": pinned(replace(BASE, name="mutant: clipping scales small gradients up", clip_grad_norm=_scale_up),
                             "clip.norm.identity_below"),
    "clip_eps_undeclared": pinned(replace(BASE, name="mutant: torch eps, not declared",
                                          clip_grad_norm=lambda g, c: C.clip_grad_norm(g, c, eps=1e-6)),
                                  "clip.norm.rule"),
    "clip_by_value_for_norm": pinned(replace(BASE, name="mutant: clip by value used for clip by norm",
                                             clip_grad_norm=lambda g, c: (C.clip_grad_value(g, c), C.global_norm(g))),
                                     "clip.norm.rule"),
    "clip_l1_norm": code_mutant("clip by the L1 norm", clip_grad_norm=_clip_l1),
    "clip_returns_post_clip_norm": code_mutant("clip_grad_norm returns the post-clip norm",
                                               clip_grad_norm=_clip_returns_post_norm),
    "clip_value_by_scaling": code_mutant("clip_grad_value as a rescale", clip_grad_value=_clip_value_by_scaling),
    "clip_value_lower_bound_zero": code_mutant("clip_grad_value clamps to [0, v]", clip_grad_value=_clip_value_lower_zero),
}
