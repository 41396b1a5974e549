"""The reference implementations as conformance-protocol targets (`dlproof.target.Target`, version 1).

A target's capabilities are found by lookup (`dlproof.capabilities.reference_functions`): capability ``c`` of
chapter ``k`` is the function ``c`` of ``dlproof.impl.numpy_ref.<k>`` (``torch_ref.<k>``), with the signatures
and docs of `dlproof.capabilities`. A reference function's parameters beyond its capability's declared
arguments are its conventions, bound here from the target's conventions (`VARIANT_KEYWORDS`): ``activation``
(the vanilla RNN's phi; the MLP's ``activation`` is a declared argument), ``variant`` (the GRU candidate),
``eps`` and ``scope`` (clipping).

Declared conventions: exact math (clip_eps 0, global scope), one bias per gate (bias "one"; the GRU
reset_after candidate's b_hn is the one extra vector), tanh activation except `numpy_relu_target`, GRU
reset_after except `numpy_gru_reset_before_target`.

16-bit storage (dtype "float16" or "bfloat16"): accumulate = "float32" (`SIXTEEN_BIT`), measured with
numpy 2.4.6, ml_dtypes 0.7.0 and torch 2.13.0 on CPU by summing x = [big, 1, 1, ..., 1] against ones: a
16-bit accumulator gives back ``big`` (big + 1 rounds to big), a float32 one the float32 sum rounded once.
- NumPy float16, ``x @ ones`` with big = 2048 and 4095 ones: 6144 (float32 accumulation; a float16 one gives
  2048); but ``sum(axis=0)`` over rows adds in float16 (2048). ml_dtypes bfloat16, big = 256 and 255 ones:
  ``@`` returns the float32 511.0 (not even a bfloat16), ``sum`` gives 256 (bfloat16 accumulation). The NumPy
  reference therefore forms every dot product and sum through `numpy_ref.arith` (float32 accumulation, one
  rounding to storage), which makes the declaration true for all of it; elementwise ufuncs round each result
  to the 16-bit format (NumPy computes a float16 tanh in float32 and rounds once: within the default
  activation_ulps).
- torch CPU, float16 (big = 2048, 4095 ones) and bfloat16 (big = 256, 255 ones): ``@``, ``mm``, ``addmm``,
  ``bmm``, ``F.linear`` and ``sum`` all give the float32 sum rounded once (6144; 512).
"""
from __future__ import annotations

import inspect
import re
from dataclasses import replace
from functools import partial

from dlproof.capabilities import CAPABILITY_BY_NAME, reference_functions
from dlproof.target import Target

from .numpy_ref.checks.recurrent import GRU_VARIANTS

EXACT_CONVENTIONS = {"rnn_activation": "tanh", "clip_eps": 0.0, "clip_scope": "global"}
#: the measured arithmetic of the references at 16-bit storage (module doc): products accumulated in float32
SIXTEEN_BIT = {"float16": {"accumulate": "float32"}, "bfloat16": {"accumulate": "float32"}}
#: a reference function's convention parameter -> the convention that gives its value
VARIANT_KEYWORDS = {"activation": "rnn_activation", "variant": "gru", "eps": "clip_eps", "scope": "clip_scope"}


def _conventions(activation: str, gru: str) -> dict:
    if gru not in GRU_VARIANTS:
        raise ValueError(f"argument 'gru' should be one of {GRU_VARIANTS}, got {gru!r}")
    return {**EXACT_CONVENTIONS, "rnn_activation": activation, "gru": gru, "bias": "one"}


def _bound(capability: str, fn, conventions: dict):
    """``fn`` with each convention parameter that ``capability`` does not declare bound to its convention's
    value (``fn`` itself without any)."""
    declared = set(re.findall(r"\w+", CAPABILITY_BY_NAME[capability].signature.split("->")[0]))
    kw = {name: conventions[VARIANT_KEYWORDS[name]] for name in inspect.signature(fn).parameters
          if name in VARIANT_KEYWORDS and name not in declared}
    return partial(fn, **kw) if kw else fn


def _capabilities(layer: str, conventions: dict) -> dict:
    """{capability: function} of the reference ``layer`` ("impl.numpy_ref" / "impl.torch_ref"), bound to
    ``conventions``."""
    return {c: _bound(c, fn, conventions) for c, fn in reference_functions(layer).items()}


def _suffix(activation: str, gru: str) -> str:
    tags = ([] if activation == "tanh" else [activation]) + ([] if gru == "reset_after" else [f"gru {gru}"])
    return f" ({', '.join(tags)})" if tags else ""


def _arithmetic(dtype: str) -> dict:
    """The arithmetic conventions of a reference in ``dtype``: `SIXTEEN_BIT`'s for a 16-bit format, none else."""
    return dict(SIXTEEN_BIT.get(dtype, {}))


def numpy_target(dtype: str = "float64", activation: str = "tanh", gru: str = "reset_after") -> Target:
    """The hand-written NumPy reference (BPTT by hand); ``gru`` picks the GRU variant of the gru capabilities; a
    16-bit ``dtype`` declares accumulate = "float32" (module doc: measured)."""
    conventions = {**_conventions(activation, gru), **_arithmetic(dtype)}
    return Target(name="dlproof.impl.numpy_ref" + _suffix(activation, gru), dtype=dtype, conventions=conventions,
                  **_capabilities("impl.numpy_ref", conventions))


def _only(target: Target, prefix: str) -> Target:
    """``target`` restricted to the capabilities of one cell kind (its other cells are checked elsewhere)."""
    keep = {c for c in target.capabilities if c.split("_")[0] == prefix} | {"param_count"}
    return replace(target, **{c: None for c in target.capabilities if c not in keep})


def numpy_relu_target(dtype: str = "float64") -> Target:
    """The NumPy reference's vanilla RNN with phi = relu (relu'(0) = 0); RNN capabilities only."""
    return _only(numpy_target(dtype, activation="relu"), "rnn")


def numpy_gru_reset_before_target(dtype: str = "float64") -> Target:
    """The NumPy reference's reset-before GRU (Keras reset_after=False, d2l); GRU capabilities only."""
    return _only(numpy_target(dtype, gru="reset_before"), "gru")


def torch_target(dtype: str = "float64", activation: str = "tanh", gru: str = "reset_after") -> Target:
    """Torch ops forward, torch.autograd gradients; needs torch (ImportError with install hint otherwise); a 16-bit
    ``dtype`` declares accumulate = "float32" (module doc: torch's CPU matmuls and sums, measured)."""
    from .torch_ref._torch import torch

    conventions = {**_conventions(activation, gru), **_arithmetic(dtype)}
    version = torch.__version__.split("+")[0]
    return Target(name=f"dlproof.impl.torch_ref (torch {version})" + _suffix(activation, gru), dtype=dtype,
                  conventions=conventions, **_capabilities("impl.torch_ref", conventions))


def numpy_clip_target(eps: float = 1e-6, scope: str = "global", dtype: str = "float64") -> Target:
    """Only the NumPy clipping, under a declared non-default convention (torch's eps, or Keras' per-tensor scope)."""
    from .numpy_ref import clipping

    return Target(
        name=f"dlproof.impl.numpy_ref clipping (clip_eps={eps}, clip_scope={scope})",
        dtype=dtype,
        conventions={"clip_eps": eps, "clip_scope": scope},
        clip_grad_norm=partial(clipping.clip_grad_norm, eps=eps, scope=scope),
        clip_grad_value=clipping.clip_grad_value,
    )
