"""The start-up every framework adapter shares: import the framework lazily (an ImportError with the install
hint without it, so that importing dlproof never needs it) and map the protocol's dtype names onto it.

``dtype(fn, name)`` -> (torch, torch dtype, NumPy dtype) for "float16" / "bfloat16" / "float32" / "float64"
(`TORCH_DTYPES`; the NumPy dtype of bfloat16 is ml_dtypes', `dlproof.dtypes`); any other name is a ValueError
``"{fn}: argument 'dtype' should be one of ('float16', 'bfloat16', 'float32', 'float64'), got ..."``.
`dtype_name` checks a name against `DTYPES` ("float32" / "float64"), the dtypes of the other frameworks'
adapters. Arrays cross the boundary as copies, exactly: `tensor` never shares memory with the caller's array,
`to_numpy` returns a new array. torch takes no ml_dtypes bfloat16 array (``torch.tensor`` raises TypeError) and
gives none (``Tensor.numpy()`` raises on torch.bfloat16), so a bfloat16 array goes in as float32 (every bfloat16
number is a float32 one: exact) and a torch.bfloat16 tensor comes out through float32 (exact); a value of
another dtype is first rounded ONCE, correctly, to the target dtype by NumPy / ml_dtypes (never twice, as
float64 -> float32 -> bfloat16 would). The jax adapters
(flax_linen, optax_clip) import jax and their companion package through `jax_modules` and scope float64 with
`jax_x64`; `chapter_capabilities` binds a torch.nn chapter module's capability functions to a dtype.
"""
from __future__ import annotations

import numpy as np

from dlproof.dtypes import FORMATS, fmt

DTYPES = ("float32", "float64")
#: the dtypes the torch adapters run in (torch CPU has float16 and bfloat16 kernels for the modules they use)
TORCH_DTYPES = ("float16", "bfloat16", "float32", "float64")
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
    """(torch, the torch dtype, the NumPy dtype) of the dtype ``name``, one of `TORCH_DTYPES`."""
    if name not in TORCH_DTYPES:
        raise ValueError(f"{fn}: argument 'dtype' should be one of {TORCH_DTYPES}, got {name!r}")
    t = torch()
    return t, getattr(t, name), fmt(name).dtype


#: What torch's CPU kernels accumulate a 16-bit dot product in (measured with torch 2.13.0: matmul, linear,
#: addmm, bmm, mv, dot and sum of float16 ``[2048, 1 x 4095]`` give 6144 = fl16(6143), where a float16
#: accumulator stays at 2048; bfloat16 ``[256, 1 x 511]`` gives 768 = fl_bf16(767), not 256; the modules
#: nn.Linear, nn.RNN/LSTM/GRU and their cells likewise, tests/adapters/test_torch16.py): float32.
TORCH_CPU_ACCUMULATE = {"float16": "float32", "bfloat16": "float32"}


def accumulation(name: str) -> dict:
    """{"accumulate": ...} for a torch CPU target of dtype ``name`` (`TORCH_CPU_ACCUMULATE`); {} for float32 /
    float64, which accumulate in their own dtype (the default)."""
    dtype("accumulation", name)
    return {"accumulate": TORCH_CPU_ACCUMULATE[name]} if name in TORCH_CPU_ACCUMULATE else {}


def numpy_dtype(td) -> np.dtype:
    """The NumPy dtype of the torch floating dtype ``td`` (ValueError for one dlproof has no format for)."""
    name = str(td).removeprefix("torch.")
    if name not in TORCH_DTYPES:
        raise ValueError(f"startup.numpy_dtype: torch dtype {td} is not one of {TORCH_DTYPES}")
    return fmt(name).dtype


def tensor(torch, a, td, requires_grad: bool = False):
    """A fresh tensor of dtype ``td`` holding a copy of the array ``a``: ``a`` is rounded once (correctly, by
    NumPy / ml_dtypes) to ``td``'s format, then handed to torch exactly (a bfloat16 array as float32)."""
    with np.errstate(over="ignore"):  # beyond the format's range -> inf, as torch's own conversion gives
        arr = np.asarray(a).astype(numpy_dtype(td))
    if td == torch.bfloat16:
        arr = arr.astype(np.float32)  # exact: torch takes no ml_dtypes array
    return torch.tensor(arr, dtype=td).requires_grad_(requires_grad)


def to_numpy(t, dt) -> np.ndarray:
    """A new NumPy array of dtype ``dt`` with the values of the tensor ``t`` (a torch.bfloat16 tensor passes
    through float32, exactly; the cast to ``dt``, if any, rounds once, correctly)."""
    t = t.detach().cpu()
    if str(t.dtype) == "torch.bfloat16":
        t = t.float()
    return t.numpy().astype(dt, copy=True)


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


def cast_tree(value, dt: np.dtype, via: np.dtype | None = None):
    """``value`` with every floating NumPy array (of a `dlproof.dtypes` format) cast to ``dt`` (through ``via``
    first when given), inside tuples, lists and dicts; anything else as it is."""
    if isinstance(value, np.ndarray) and any(value.dtype == f.dtype for f in FORMATS.values()):
        return (value.astype(via) if via is not None else value).astype(dt)
    if isinstance(value, (tuple, list)):
        return type(value)(cast_tree(v, dt, via) for v in value)
    if isinstance(value, dict):
        return {k: cast_tree(v, dt, via) for k, v in value.items()}
    return value


def cast_capabilities(caps: dict, outer: str, inner: str, context=None) -> dict:
    """{capability: function} running the functions of ``caps`` (written for dtype ``inner``) on arrays of dtype
    ``outer``: each floating array argument is rounded once to ``outer`` and converted to ``inner`` (exactly:
    ``inner`` must hold every ``outer`` number, e.g. bfloat16 -> float32), and each floating array of the result
    is rounded once (correctly) to ``outer``; the call runs inside ``context()`` when given (e.g. a
    torch.autocast region). Non-array arguments and results (ints, floats, strings) pass unchanged."""
    from functools import wraps

    from dlproof.dtypes import at_least

    if not at_least(inner, outer):
        raise ValueError(f"cast_capabilities: inner dtype {inner!r} cannot hold every {outer!r} number")
    o, i = fmt(outer).dtype, fmt(inner).dtype

    def wrap(f):
        @wraps(f)
        def g(*args, **kwargs):
            args, kwargs = cast_tree(args, i, o), cast_tree(kwargs, i, o)
            if context is None:
                return cast_tree(f(*args, **kwargs), o)
            with context():
                return cast_tree(f(*args, **kwargs), o)
        return g

    return {name: wrap(f) for name, f in caps.items()}
