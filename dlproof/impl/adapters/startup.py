"""The start-up every framework adapter shares: import the framework lazily (an ImportError with the install
hint without it, so that importing dlproof never needs it) and map the protocol's dtype names onto it.

``dtype(fn, name)`` -> (torch, torch dtype, NumPy dtype) for "float32" / "float64" (`dtype_name` checks the
name for any framework); any other name is a ValueError
``"{fn}: argument 'dtype' should be one of ('float32', 'float64'), got ..."``. Arrays cross the boundary as
copies: `tensor` never shares memory with the caller's array, `to_numpy` returns a new array. The jax adapters
(flax_linen, optax_clip) import jax and their companion package through `jax_modules` and scope float64 with
`jax_x64`; `chapter_capabilities` binds a torch.nn chapter module's capability functions to a dtype.
"""
from __future__ import annotations

import numpy as np

DTYPES = ("float32", "float64")
TORCH_HINT = "dlproof's torch adapters need torch: pip install 'dlproof[torch]'"


def torch():
    """The torch module, with torch.nn and torch.nn.functional imported."""
    try:
        import torch
        import torch.nn  # noqa: F401
        import torch.nn.functional  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(TORCH_HINT) from exc
    return torch


def torch_version() -> str:
    """torch's version without the local tag ("2.13.0+cpu" -> "2.13.0")."""
    return torch().__version__.split("+")[0]


def dtype_name(fn: str, name) -> str:
    """``name`` if it is one of DTYPES (any framework); else the ValueError naming ``fn``."""
    if name not in DTYPES:
        raise ValueError(f"{fn}: argument 'dtype' should be one of {DTYPES}, got {name!r}")
    return name


def dtype(fn: str, name):
    """(torch, the torch dtype, the NumPy dtype) of the dtype ``name``."""
    dtype_name(fn, name)
    t = torch()
    return t, {"float32": t.float32, "float64": t.float64}[name], np.dtype(name)


def tensor(torch, a, td, requires_grad: bool = False):
    """A fresh tensor of dtype ``td`` holding a copy of the array ``a``."""
    return torch.tensor(np.asarray(a), dtype=td).requires_grad_(requires_grad)


def to_numpy(t, dt) -> np.ndarray:
    """A new NumPy array of dtype ``dt`` with the values of the tensor ``t``."""
    return t.detach().cpu().numpy().astype(dt, copy=True)


def jax_modules(hint: str):
    """(jax, jax.numpy); ImportError(``hint``) without jax."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(hint) from exc
    return jax, jnp


def jax_x64(hint: str):
    """A scoped float64 context: ``jax.enable_x64(True)`` (newer jax), else ``jax.experimental.enable_x64()``;
    ImportError(``hint``) without jax."""
    jax, _ = jax_modules(hint)
    if callable(getattr(jax, "enable_x64", None)):
        return jax.enable_x64(True)
    from jax.experimental import enable_x64  # pragma: no cover - older jax

    return enable_x64()  # pragma: no cover


def chapter_capabilities(namespace: dict, chapter: str, dtype: str) -> dict:
    """{capability: function of ``namespace`` with ``dtype=dtype`` bound} for each capability of ``chapter``
    (`dlproof.capabilities`) that the namespace (an adapter module's ``globals()``) defines."""
    from functools import partial

    from dlproof.capabilities import capabilities_of

    return {c.name: partial(namespace[c.name], dtype=dtype) for c in capabilities_of(chapter) if c.name in namespace}
