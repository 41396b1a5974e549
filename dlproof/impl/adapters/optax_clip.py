"""optax's gradient clipping transforms as a conformance-protocol target (version 1).

``clip_grad_norm(grads, max_norm)`` runs ``optax.clip_by_global_norm(max_norm)``: ``tx.init`` and
``tx.update(grads, state)`` on the list of arrays as one pytree (a list is a pytree, so the norm is global:
clip_scope="global"), and returns (the clipped list as NumPy, the pre-clip global norm
``optax.tree.norm(grads)`` as a float; ``optax.global_norm`` on optax versions without ``optax.tree``).
``clip_grad_value(grads, v)`` runs ``optax.clip(v)`` (``jnp.clip(u, -v, v)`` per leaf) the same way.

optax's rule (optax/transforms/_clipping.py, framework-conventions.md §3 and §6): with N = sqrt(sum |g|^2),
``trigger = N < max_norm`` and each leaf becomes ``jax.lax.select(trigger, g, (g / N) * max_norm)``: no
epsilon (clip_eps=0), a select, and a STRICT ``<``. The strict ``<`` gives the same values as the exact rule
g' = g min(1, c/N): at N = c the clip branch computes (g / N) * c = g up to rounding, and below / above the
two rules agree by definition; so optax conforms to the exact math and declares only clip_eps=0 and
clip_scope="global". Documented edge cases that the suite does not draw (max_norm must be > 0 there):
max_norm = 0 with N = 0 gives 0/0 = NaN (google-deepmind/optax#1752); N = inf turns finite entries into 0
and infinite ones into NaN.

dtype: float32 by default (JAX's default); ``target(dtype="float64")`` runs each call inside
``jax.enable_x64(True)`` (or jax.experimental.enable_x64 on older jax; scoped and thread-local: importing this module never changes JAX's config).
Calls run eagerly (no jit of the whole transform; each small jax op is compiled once per leaf shape and
cached by JAX). The inputs are never mutated (JAX copies them); outputs are new NumPy arrays of the
target's dtype. jax and optax are imported lazily: without them the factory raises ImportError with the
install hint.
"""
from __future__ import annotations

import numpy as np

from dlproof.target import Target

from ..numpy_ref.checks import clipping as checks
from . import startup
from .startup import dtype_name as _dtype

INSTALL_HINT = "dlproof.impl.adapters.optax_clip needs jax and optax: pip install 'dlproof[jax]'"


def _optax():
    """(jax, jax.numpy, optax)."""
    jax, jnp = startup.jax_modules(INSTALL_HINT)
    try:
        import optax
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(INSTALL_HINT) from exc
    return jax, jnp, optax


def versions() -> dict:
    """{"jax": ..., "optax": ...} of the installed packages."""
    jax, _, optax = _optax()
    return {"jax": jax.__version__, "optax": optax.__version__}


def conventions() -> dict:
    """What optax declares: no epsilon, one global norm (its strict `<` gives the exact rule's values), an
    unscaled norm (optax.tree.norm forms sum g^2 in the dtype: inf once it overflows, and (g / inf) c = 0), and
    XLA's flush-to-zero on CPU (a subnormal operand is read as 0, a subnormal result is flushed to 0)."""
    return {"clip_eps": 0.0, "clip_scope": "global", "clip_norm_scaling": "unscaled", "subnormals": "flush_to_zero"}


def _global_norm(optax, tree):
    tree_ns = getattr(optax, "tree", None)
    if tree_ns is not None and hasattr(tree_ns, "norm"):
        return tree_ns.norm(tree)
    return optax.global_norm(tree)  # pragma: no cover - optax < 0.2.4


class _Adapter:
    def __init__(self, dtype: str):
        self.np_dt, self.x64 = np.dtype(dtype), dtype == "float64"

    def _scoped(self, fn):
        if self.x64:
            with startup.jax_x64(INSTALL_HINT):
                return fn()
        return fn()

    def _tree(self, grads):
        _, jnp, _ = _optax()
        return [jnp.asarray(np.asarray(g, self.np_dt)) for g in grads]

    def _np(self, tree) -> list:
        return [np.array(a, dtype=self.np_dt) for a in tree]

    def _apply(self, tx, grads):
        tree = self._tree(grads)
        state = tx.init(tree)
        updates, _ = tx.update(tree, state)
        return tree, updates

    def clip_grad_norm(self, grads, max_norm):
        """optax.clip_by_global_norm(max_norm).update(grads, state) -> (clipped list, pre-clip global norm)."""
        fn = "clip_grad_norm"
        grads, max_norm, _ = checks.clip_args(fn, grads, max_norm, 0.0, "global")

        def go():
            _, _, optax = _optax()
            tree, clipped = self._apply(optax.clip_by_global_norm(max_norm), grads)
            return self._np(clipped), float(_global_norm(optax, tree))

        return self._scoped(go)

    def clip_grad_value(self, grads, clip_value):
        """optax.clip(clip_value).update(grads, state) -> clipped list (jnp.clip(g, -v, v) per leaf)."""
        fn = "clip_grad_value"
        grads = checks.grad_list(fn, grads)
        v = checks.positive_number(fn, "clip_value", clip_value)

        def go():
            _, _, optax = _optax()
            return self._np(self._apply(optax.clip(v), grads)[1])

        return self._scoped(go)


def target(dtype: str = "float32") -> Target:
    """optax.clip_by_global_norm and optax.clip: clip_grad_norm and clip_grad_value."""
    dtype = _dtype("target", dtype)
    v = versions()
    a = _Adapter(dtype)
    return Target(name=f"optax clip_by_global_norm / clip (optax {v['optax']}, jax {v['jax']}, {dtype})",
                  dtype=dtype, conventions=conventions(), clip_grad_norm=a.clip_grad_norm,
                  clip_grad_value=a.clip_grad_value)
