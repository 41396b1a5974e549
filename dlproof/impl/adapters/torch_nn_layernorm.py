"""torch.nn.LayerNorm behind the protocol's layernorm / layernorm_vjp (version 1).

`capabilities(dtype)`: each call builds a fresh ``torch.nn.LayerNorm(F, eps=eps, elementwise_affine=affine,
dtype=...)`` (affine = gamma given), loads ``weight <- gamma``, ``bias <- beta`` and runs x (..., F) through it
(torch normalizes over the last F entries with the biased variance, eps inside the square root). Gradients:
torch.autograd through the module w.r.t. x, weight (-> "gamma") and bias (-> "beta"); None without the affine
part.

`from_module(module, dtype)`: a Target over the user's own nn.LayerNorm. A live module has a fixed
normalized_shape (F,) and a fixed affine choice; each call deep-copies it (the original is never touched),
sets the copy's ``eps`` to the call's eps and loads gamma, beta into the copy. Calls with another F, or with
gamma/beta present when the module has no affine part (or absent when it has one), are refused with a
ValueError naming the module. The target declares the restrictions ``layernorm_features = F`` and ``layernorm_affine``,
which the layernorm properties honor (they draw only that F and that affine choice). Refused at once: not an
nn.LayerNorm, a normalized_shape of more than one axis, bias=False (beta would be pinned to 0).

Inputs are validated as the NumPy reference does, computed in ``dtype`` and returned as new NumPy arrays of it;
they are never mutated. torch is imported lazily (ImportError with the install hint without it).
"""
from __future__ import annotations

import copy
from functools import partial


from dlproof.target import Target

from ..numpy_ref.layernorm import check_forward, check_vjp
from .startup import chapter_capabilities, tensor
from .startup import dtype as _dtype
from .startup import to_numpy as _np
from .startup import torch_version


def _fresh(torch, td, F, eps, affine):
    return torch.nn.LayerNorm(F, eps=eps, elementwise_affine=affine, dtype=td)


def _load(torch, mod, g, b, td):
    if g is not None:
        with torch.no_grad():
            mod.weight.copy_(tensor(torch, g, td))
            mod.bias.copy_(tensor(torch, b, td))
    return mod


def _run_forward(fn, dtype, make, x, gamma, beta, eps):
    torch, td, dt = _dtype(fn, dtype)
    x, g, b, eps, _ = check_forward(fn, x, gamma, beta, eps)
    mod = _load(torch, make(torch, td, x.shape[-1], eps, g is not None), g, b, td)
    with torch.no_grad():
        y = mod(tensor(torch, x, td))
    return _np(y, dt)


def _run_vjp(fn, dtype, make, x, gamma, beta, eps, dy):
    torch, td, dt = _dtype(fn, dtype)
    x, g, b, eps, dy, _ = check_vjp(fn, x, gamma, beta, eps, dy)
    mod = _load(torch, make(torch, td, x.shape[-1], eps, g is not None), g, b, td)
    xt = tensor(torch, x, td, requires_grad=True)
    leaves = [xt] + ([mod.weight, mod.bias] if g is not None else [])
    with torch.enable_grad():
        L = (tensor(torch, dy, td) * mod(xt)).sum()
        grads = torch.autograd.grad(L, leaves)
    out = {"x": _np(grads[0], dt), "gamma": None, "beta": None}
    if g is not None:
        out["gamma"], out["beta"] = _np(grads[1], dt), _np(grads[2], dt)
    return out


def layernorm(x, gamma, beta, eps, *, dtype="float32"):
    """-> y (..., F) from a fresh torch.nn.LayerNorm(F, eps, elementwise_affine = gamma given)."""
    return _run_forward("layernorm", dtype, _fresh, x, gamma, beta, eps)


def layernorm_vjp(x, gamma, beta, eps, dy, *, dtype="float32"):
    """Gradients of L = <dy, y> by autograd through a fresh torch.nn.LayerNorm -> {"x", "gamma", "beta"}."""
    return _run_vjp("layernorm_vjp", dtype, _fresh, x, gamma, beta, eps, dy)


def capabilities(dtype: str = "float32") -> dict:
    """{"layernorm", "layernorm_vjp"} bound to ``dtype``, for a Target."""
    _dtype("capabilities", dtype)
    return chapter_capabilities(globals(), "layernorm", dtype)


def target(dtype: str = "float32") -> Target:
    """The layer-norm capabilities of torch.nn.LayerNorm (fresh module per call) as a Target."""
    _dtype("target", dtype)
    return Target(name=f"torch.nn.LayerNorm (torch {torch_version()}, {dtype})", dtype=dtype, **capabilities(dtype))


# ---------------------------------------------------------------- a user's module

def _describe(mod) -> str:
    return (f"torch.nn.LayerNorm(normalized_shape={tuple(mod.normalized_shape)}, eps={mod.eps}, "
            f"elementwise_affine={mod.elementwise_affine})")


def _validate_module(torch, mod) -> tuple:
    """(F, affine) of a user's nn.LayerNorm; configurations outside the protocol are refused."""
    if not isinstance(mod, torch.nn.LayerNorm):
        raise ValueError(f"from_module: argument 'module' should be a torch.nn.LayerNorm instance (subclasses "
                         f"included), got {type(mod).__qualname__}")
    who = _describe(mod)
    if len(tuple(mod.normalized_shape)) != 1:
        raise ValueError(f"from_module: {who} normalizes over {len(tuple(mod.normalized_shape))} axes, but the "
                         "protocol's layernorm normalizes over the last axis only: refused")
    affine = bool(mod.elementwise_affine)
    if affine and getattr(mod, "bias", None) is None:
        raise ValueError(f"from_module: {who} has bias=False (beta pinned to 0), but the protocol's affine part "
                         "has a free beta: refused")
    return int(mod.normalized_shape[0]), affine


def _user(module, F, affine):
    who = _describe(module)

    def make(torch, td, F_call, eps, affine_call):
        if F_call != F:
            raise ValueError(f"layernorm: the user's {who} normalizes F = {F} features, but x has "
                             f"F = {F_call} on its last axis: refused")
        if affine_call != affine:
            raise ValueError(f"layernorm: the user's {who} has elementwise_affine={affine}, but the call gives "
                             f"gamma and beta {'None' if not affine_call else 'arrays'}: refused")
        mod = copy.deepcopy(module).to(device="cpu", dtype=td)
        mod.eps = eps
        return mod
    return make


def from_module(module, dtype: str = "float32") -> Target:
    """A target over the user's own torch.nn.LayerNorm: layernorm and layernorm_vjp on a deep copy per call
    (eps set to the call's, gamma/beta loaded); see the module docstring for what is refused. The target declares
    the restrictions ``layernorm_features = F`` and ``layernorm_affine`` (the module's own), so the properties draw
    only those."""
    torch, _, _ = _dtype("from_module", dtype)
    F, affine = _validate_module(torch, module)
    make = _user(module, F, affine)
    caps = {"layernorm": partial(_run_forward, "layernorm", dtype, make),
            "layernorm_vjp": partial(_run_vjp, "layernorm_vjp", dtype, make)}
    return Target(name=f"torch.nn module [{_describe(module)}] (torch {torch_version()}, {dtype})", dtype=dtype,
                  conventions={"restrictions": {"layernorm_features": F, "layernorm_affine": affine}}, **caps)
