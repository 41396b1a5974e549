"""Properties of gradient clipping, each derived for the convention the target declares.

Conventions: clip_eps (scale min(1, c/(||g|| + eps)); 0 = exact math) and clip_scope (global |
per_tensor). A deviation is declared and checked exactly, never absorbed into a tolerance.
Precisions: bfloat16, float32, float64 (`PRECISIONS`; the model of tolerances.py is relative, in the storage u).
"""
from __future__ import annotations

import numpy as np

from dlproof.derivations import oracle_clipping

from . import tolerances as tol
from .assertions import call
from .registry import prop

#: bfloat16 keeps float32's exponent range, so the squares of the drawn gradients (down to ~1e-5) stay normal and
#: the model of tolerances.py (clip_tol, norm_tol: relative, in the storage u, which also covers a wider
#: accumulation) holds; float16 is left out: those squares are subnormal there (smallest normal 6.1e-5) and the
#: norm's model has no underflow terms
PRECISIONS = ("bfloat16", "float32", "float64")
from .strategies import gradient_lists, grads_of


def _conv(target):
    return target.convention("clip_eps"), target.convention("clip_scope")


def _strategy(target):
    return gradient_lists(dtype=target.dtype)


def _clip(target, chk, grads, c):
    out = call(target, "clip_grad_norm", [g.copy() for g in grads], c)
    chk.holds("clip_grad_norm(grads, max_norm)", isinstance(out, tuple) and len(out) == 2,
              f"returned {type(out).__name__}, but should be a tuple (clipped list, pre-clip norm or None)")
    clipped, norm = out
    chk.holds("clipped", isinstance(clipped, (list, tuple)) and len(clipped) == len(grads),
              f"returned {type(clipped).__name__} of length {len(clipped) if hasattr(clipped, '__len__') else '?'}, "
              f"but should be a list of {len(grads)} arrays")
    return [chk.array(f"clipped[{i}]", c_, g.shape) for i, (c_, g) in enumerate(zip(clipped, grads))], norm


@prop("clip.norm.rule", title="clip_grad_norm equals the exact rule of the declared convention, and returns the pre-clip norm",
      capabilities=("clip_grad_norm",), derivations=("clip.norm.rule", "clip.norm.eps.rule", "clip.per_tensor.norm",
                                                      "clip.global_norm.concatenation"), strategy=_strategy, precisions=PRECISIONS)
def rule(target, problem, chk):
    eps, scope = _conv(target)
    grads, c = grads_of(problem), problem["max_norm"]
    clipped, norm = _clip(target, chk, grads, c)
    expected, N = oracle_clipping.clip_by_norm(grads, c, eps, scope)
    tols = tol.clip_tol(grads, tol.precision(target))
    if not all(np.all(np.abs(a.astype(np.float64) - e) <= t) for a, e, t in zip(clipped, expected, tols)):
        for other_eps, other_scope in ((0.0, "global"), (1e-6, "global"), (0.0, "per_tensor"), (1e-6, "per_tensor")):
            if (other_eps, other_scope) == (eps, scope):
                continue
            alt, _ = oracle_clipping.clip_by_norm(grads, c, other_eps, other_scope)
            if all(np.all(np.abs(a.astype(np.float64) - e) <= t) for a, e, t in zip(clipped, alt, tols)):
                chk.fail("clipped", f"matches clip_eps={other_eps}, clip_scope={other_scope!r}, but should match the "
                                    f"declared clip_eps={eps}, clip_scope={scope!r}: a convention mismatch "
                                    "(declare the one it implements)")
    for i, (a, e, t) in enumerate(zip(clipped, expected, tols)):
        chk.close(f"clipped[{i}] (eps={eps}, scope={scope})", a, e, t)
    if norm is not None:
        K = sum(g.size for g in grads)
        chk.scalar_close("returned pre-clip global norm", norm, N, tol.norm_tol(N, K, tol.precision(target)))


@prop("clip.norm.direction", title="clipping by global norm keeps the direction: g' = s g with one s > 0",
      capabilities=("clip_grad_norm",), derivations=("clip.norm.direction", "clip.norm.eps.direction"),
      strategy=_strategy, applies=lambda t: t.convention("clip_scope") == "global", precisions=PRECISIONS)
def direction(target, problem, chk):
    grads, c = grads_of(problem), problem["max_norm"]
    clipped, _ = _clip(target, chk, grads, c)
    g = np.concatenate([np.ravel(x).astype(np.float64) for x in grads])
    gp = np.concatenate([np.ravel(x).astype(np.float64) for x in clipped])
    s = float(gp @ g / (g @ g)) if g @ g > 0 else 1.0
    chk.holds("common scale s", s > 0, f"s = {s}, but should be > 0")
    t = np.concatenate([np.ravel(x) for x in tol.clip_tol(grads, tol.precision(target))])
    chk.close("g' - s g (all tensors, one s)", (gp - s * g).astype(target.dtype), np.zeros_like(g), 2 * t)


@prop("clip.norm.norm", title="||g'|| = min(||g||, c) (eps = 0) or ||g|| min(1, c/(||g||+eps)); per tensor under per_tensor",
      capabilities=("clip_grad_norm",), derivations=("clip.norm.norm", "clip.norm.eps.norm", "clip.per_tensor.norm"),
      strategy=_strategy, precisions=PRECISIONS)
def norm(target, problem, chk):
    eps, scope = _conv(target)
    grads, c = grads_of(problem), problem["max_norm"]
    clipped, _ = _clip(target, chk, grads, c)
    groups = [[i] for i in range(len(grads))] if scope == "per_tensor" else [list(range(len(grads)))]
    for grp in groups:
        N = oracle_clipping.global_norm([grads[i] for i in grp])
        got = oracle_clipping.global_norm([clipped[i] for i in grp])
        want = N * oracle_clipping.clip_scale(N, c, eps)
        K = sum(grads[i].size for i in grp)
        chk.scalar_close(f"||clipped{grp}||", got, want, tol.norm_tol(want, K + 6, tol.precision(target)))
        chk.holds(f"||clipped{grp}||", got <= c * (1 + tol.gamma(K + 6, tol.unit_roundoff(tol.precision(target))) * tol.SAFETY),
                  f"= {got!r}, but should be <= max_norm = {c!r}")


@prop("clip.norm.identity_below", title="below the threshold clipping is the identity (no scaling up)",
      capabilities=("clip_grad_norm",), derivations=("clip.norm.identity_below", "clip.norm.eps.identity_below"),
      strategy=lambda t: gradient_lists(dtype=t.dtype).filter(lambda p: p["regime"] in ("below", "far_below")), precisions=PRECISIONS)
def identity_below(target, problem, chk):
    grads, c = grads_of(problem), problem["max_norm"]
    clipped, _ = _clip(target, chk, grads, c)
    for i, (a, g, t) in enumerate(zip(clipped, grads, tol.clip_tol(grads, tol.precision(target)))):
        chk.close(f"clipped[{i}] with ||g|| < max_norm", a, g, t)


@prop("clip.norm.idempotent", title="clip(clip(g)) = clip(g) (exact rule, eps = 0)",
      capabilities=("clip_grad_norm",), derivations=("clip.norm.idempotent",), strategy=_strategy,
      applies=lambda t: t.convention("clip_eps") == 0, precisions=PRECISIONS)
def idempotent(target, problem, chk):
    grads, c = grads_of(problem), problem["max_norm"]
    once, _ = _clip(target, chk, grads, c)
    twice, _ = _clip(target, chk, once, c)
    for i, (a, b, t) in enumerate(zip(twice, once, tol.clip_tol(once, tol.precision(target)))):
        chk.close(f"clip(clip(g))[{i}]", a, b.astype(np.float64), t)


@prop("clip.norm.eps.second_application", title="with eps > 0 a second clip shrinks again, by the derived factor",
      capabilities=("clip_grad_norm",), derivations=("clip.norm.eps.not_idempotent", "clip.norm.eps.norm"),
      strategy=_strategy, applies=lambda t: t.convention("clip_eps") > 0, precisions=PRECISIONS)
def eps_second(target, problem, chk):
    eps, scope = _conv(target)
    grads, c = grads_of(problem), problem["max_norm"]
    once, _ = _clip(target, chk, grads, c)
    twice, _ = _clip(target, chk, once, c)
    expected, _ = oracle_clipping.clip_by_norm(once, c, eps, scope)
    for i, (a, e, t) in enumerate(zip(twice, expected, tol.clip_tol(once, tol.precision(target)))):
        chk.close(f"clip(clip(g))[{i}]", a, e, t)


@prop("clip.value.rule", title="clip_grad_value clamps every entry to [-v, v]", capabilities=("clip_grad_value",),
      derivations=("clip.value.rule", "clip.value.not_direction"), strategy=_strategy, precisions=PRECISIONS)
def value(target, problem, chk):
    grads, v = grads_of(problem), problem["clip_value"]
    out = call(target, "clip_grad_value", [g.copy() for g in grads], v)
    chk.holds("clip_grad_value(grads, v)", isinstance(out, (list, tuple)) and len(out) == len(grads),
              f"returned {type(out).__name__}, but should be a list of {len(grads)} arrays")
    for i, (a, e) in enumerate(zip(out, oracle_clipping.clip_by_value(grads, v))):
        chk.close(f"clip_grad_value[{i}]", a, e, np.abs(e) * tol.unit_roundoff(tol.precision(target)), shape=grads[i].shape)
