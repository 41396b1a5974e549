"""The conformance protocol, version 1: one `Target` bundles what an implementation offers.

This module is the bottom layer with `dlproof.capabilities` (the only module of dlproof it imports), so
adapters (`dlproof.impl`) and the suite (`dlproof.properties`) can both depend on it.

Conventions (column vectors, numerator layout) are those of the derivations: a cell computes
``x @ W_x.T + h @ W_h.T + b`` on batch rows, sequences are time-major ``(T, B, features)``.
Every array in and out is NumPy. A capability left as ``None`` is reported "not provided".

The capabilities (their names, chapters, signatures and formulas) are declared once, in
`dlproof.capabilities`; `CAPABILITIES`, the `Target` fields and its docstring are derived from there.

Conventions (`CONVENTION_VALUES`, a closed vocabulary; an unknown key or value is an error) include:
- ``bn_variance``: the algorithm of batch norm's batch variance, which decides its error model
  (properties/batchnorm/tolerances.py): "stable" (default) = any standard stable algorithm: two-pass, Welford's
  updating, pairwise/blocked merging (np.var, torch.var, torch's batch_norm); "moments" = the one-pass
  mean(x^2) - mean(x)^2 (Keras 3's ops.moments), unclamped: it may go negative (NaN output), which the suite
  reports as a finding; "moments_clamped" = the same, clamped at 0 (Flax's BatchNorm).
- ``restrictions``: what the target does NOT support inside a capability it provides, a mapping
  name -> value over the closed vocabulary `RESTRICTIONS` (e.g. ``{"conv_groups": 1, "attention_causal":
  False, "param_count_kinds": ["rnn", "lstm"]}``). The strategies then draw only inside the declared domain
  and the report shows the restriction beside the verdict; a property whose whole domain is excluded (e.g.
  ``gru.param_count`` without "gru") is "not provided". A restriction never widens a tolerance: inside its
  domain the target is checked exactly as any other.
- ``left_out``: capabilities the library has but the target deliberately does not offer, a mapping capability ->
  why (a sentence, or the finding that breaks it), e.g. ``{"conv1d": "finding torch-float16-conv1d-crash"}``.
  Each such capability must be None; its properties are "not provided" with the reason in the row, so a report
  never reads as if the library lacked it.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import field, make_dataclass
from typing import Any, Callable, Mapping, NamedTuple, Optional

from .capabilities import CAPABILITY_LIST
from .dtypes import DTYPES, at_least

PROTOCOL_VERSION = 1


def _is_int(v, value: int) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and int(v) == value


class Restriction(NamedTuple):
    """One entry of the restrictions vocabulary: the capabilities it narrows, the values it accepts (in words
    and as a check), and the text the report shows for a declared value."""

    capabilities: tuple
    allowed: str
    check: Callable[[Any], bool]
    text: Callable[[Any], str]


_CONV = ("conv1d", "conv1d_vjp", "conv2d", "conv2d_vjp")
_KINDS = ("rnn", "lstm", "gru")
_STACK = ("rnn_stack", "lstm_stack", "gru_stack", "rnn_stack_vjp", "lstm_stack_vjp", "gru_stack_vjp")

#: The closed vocabulary of restrictions (the ``restrictions`` convention): name -> Restriction.
RESTRICTIONS: dict[str, Restriction] = {
    "conv_groups": Restriction(_CONV, "1", lambda v: _is_int(v, 1),
                               lambda v: "groups = 1 only (no grouped or depthwise convolution)"),
    "conv_dilation": Restriction(_CONV, "1", lambda v: _is_int(v, 1), lambda v: "dilation = 1 only"),
    "conv_padding": Restriction(_CONV, "0", lambda v: _is_int(v, 0), lambda v: "padding = 0 only (no zero padding)"),
    "conv_stride": Restriction(
        _CONV, "1 | 'exact_tiling'", lambda v: _is_int(v, 1) or v == "exact_tiling",
        lambda v: "stride = 1 only" if v != "exact_tiling" else
        "strides that tile the input exactly only: (n + 2p - d(k-1) - 1) divisible by s on every axis"),
    "attention_causal": Restriction(("attention", "attention_vjp", "mha", "mha_vjp"), "False", lambda v: v is False,
                                    lambda v: "no causal mask (causal=False only)"),
    "attention_value_dim": Restriction(("attention", "attention_vjp"), "'equal_to_query'",
                                       lambda v: v == "equal_to_query",
                                       lambda v: "value head size equal to the query's only (dv = d)"),
    "bn_momentum": Restriction(("batchnorm",), "'open_interval'", lambda v: v == "open_interval",
                               lambda v: "momentum in the open interval (0, 1) only (not 0 or 1)"),
    "stack_dropout": Restriction(_STACK[:3], "0", lambda v: _is_int(v, 0),
                                 lambda v: "no inter-layer dropout in training (dropout = 0 only)"),
    "stack_projection": Restriction(("lstm_stack", "lstm_stack_vjp"), "False", lambda v: v is False,
                                    lambda v: "no projection (no W_proj in LSTM layers)"),
    "projection_size": Restriction(("lstm_proj_cell", "lstm_stack", "lstm_stack_vjp"), "'smaller_than_hidden'",
                                   lambda v: v == "smaller_than_hidden",
                                   lambda v: "projection size P < hidden size n only (torch's proj_size < hidden_size)"),
    "stack_directions": Restriction(_STACK, "1", lambda v: _is_int(v, 1),
                                    lambda v: "unidirectional stacks only (D = 1, no bidirectional layers)"),
    "stack_lengths": Restriction(_STACK, "False", lambda v: v is False,
                                 lambda v: "full-length sequences only (lengths=None)"),
    "layernorm_features": Restriction(("layernorm", "layernorm_vjp"), "an int F >= 1",
                                      lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1,
                                      lambda v: f"F = {v} features only (a module built for one size)"),
    "layernorm_affine": Restriction(("layernorm", "layernorm_vjp"), "True | False", lambda v: isinstance(v, bool),
                                    lambda v: "with the affine part (gamma, beta) only" if v else
                                    "without the affine part (gamma = beta = None) only"),
    "param_count_kinds": Restriction(
        ("param_count",), "a non-empty list of distinct kinds from 'rnn', 'lstm', 'gru'",
        lambda v: isinstance(v, (list, tuple)) and 0 < len(v) == len(set(v)) and all(k in _KINDS for k in v),
        lambda v: f"param_count for kinds {', '.join(k for k in _KINDS if k in v)} only"),
}


def restriction_problem(value) -> Optional[str]:
    """None if ``value`` is a valid ``restrictions`` declaration, else what is wrong with it."""
    if not isinstance(value, Mapping):
        return f"a mapping restriction name -> value, got {type(value).__name__}"
    for name, v in value.items():
        if name not in RESTRICTIONS:
            return f"a mapping over the known restrictions {sorted(RESTRICTIONS)}, but it names {name!r}"
        r = RESTRICTIONS[name]
        try:
            ok = bool(r.check(v))
        except Exception:  # noqa: BLE001 - e.g. an array whose truth value is ambiguous
            ok = False
        if not ok:
            return f"a valid value of restriction {name!r} ({r.allowed}), got {v!r}"
    return None

def left_out_problem(value) -> Optional[str]:
    """None if ``value`` is a valid ``left_out`` declaration (capability -> a non-empty one-line reason), else what
    is wrong with it."""
    if not isinstance(value, Mapping):
        return f"a mapping capability -> reason, got {type(value).__name__}"
    for cap, why in value.items():
        if cap not in CAPABILITIES:
            return f"a mapping over the known capabilities, but it names {cap!r}"
        if not isinstance(why, str) or not why.strip() or "\n" in why:
            return f"a one-line reason for {cap!r} (a sentence or a finding's slug), got {why!r}"
    return None


#: The closed vocabulary of conventions: key -> validator description and check.
CONVENTION_VALUES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "gru": ("'reset_after' | 'reset_before'", lambda v: v in ("reset_after", "reset_before")),
    "rnn_activation": ("'tanh' | 'relu'", lambda v: v in ("tanh", "relu")),
    "bias": ("'one' | 'two', or a mapping per kind such as {'rnn': 'one', 'lstm': 'one', 'gru': 'two'}",
             lambda v: v in ("one", "two") if isinstance(v, str) else
             isinstance(v, Mapping) and bool(v) and set(v) <= {"rnn", "lstm", "gru"} and all(x in ("one", "two") for x in v.values())),
    "clip_eps": (
        "a finite float >= 0",
        lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) and v >= 0,
    ),
    "clip_scope": ("'global' | 'per_tensor'", lambda v: v in ("global", "per_tensor")),
    # the arithmetic of the target's matrix products: IEEE in its dtype, or TF32 (10-bit mantissa inputs,
    # u = 2^-11; CUDA tensor cores with torch.backends.cuda.matmul / cudnn allow_tf32): loosens the tolerances
    "matmul_precision": ("'ieee' | 'tf32'", lambda v: v in ("ieee", "tf32")),
    # the format the products of a dot product (matmul, convolution, a reduction) are accumulated in, before the
    # result is rounded to the target's dtype: "storage" = the target's dtype itself; or a format at least as
    # precise and as wide as it (dlproof.dtypes), e.g. "float32" for float16/bfloat16 storage (torch and NumPy on
    # CPU, cuBLAS' default). The error model charges gamma_k of the accumulation format plus one rounding to storage
    "accumulate": ("'storage' | 'float16' | 'bfloat16' | 'float32' | 'float64' (at least the target's dtype)",
                   lambda v: v == "storage" or v in DTYPES),
    # the accuracy of the target's tanh, sigmoid and exp: |computed - exact| <= activation_ulps * u (absolute,
    # u the unit roundoff of the target's dtype; the functions are bounded by 1, so this is in ulps of 1);
    # 4 = what an IEEE-faithful libm meets. A fast-math or hardware approximation declares its measured value
    # (properties/activation_accuracy.py measures it directly)
    "activation_ulps": ("a finite float >= 0.5",
                        lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) and v >= 0.5),
    # how many input shapes a run draws per property (properties/shapes.py), for a target compiled once per
    # shape (jax.jit, torch.compile): "free" = the strategies' sizes as drawn (default); "bounded" = K = 4; an
    # int K >= 2 = every example's sizes come from at most K size tuples per property (slot 0 all sizes at their
    # minimum, slot 1 at their maximum, the others seeded by the run's seed), so a jitted target compiles at
    # most K shapes per property. The checks are the same exact checks, at fewer sizes
    "shapes": ("'free' | 'bounded' | an int K >= 2 (at most K shape tuples per property)",
               lambda v: v in ("free", "bounded") if isinstance(v, str) else
               isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 2),
    # how clip_grad_norm forms the norm N and applies the scale at the ends of the dtype's range
    # (properties/extremes.py): "scaled" = exact math while N is representable (no overflow of the sum of
    # squares, no underflow of tiny squares); "unscaled" = N = sqrt(sum g^2) formed directly in the dtype (inf
    # once the sum of squares overflows, 0 once every square underflows), the rule then applied with that N
    # (N = inf scales by 0); "unscaled_nan" = as unscaled, but a non-finite N turns every clipped entry into NaN;
    # "unscaled_product_first" = as unscaled, the scale applied as fl(g c) / max(N, c) (g c may overflow/underflow)
    "clip_norm_scaling": ("'scaled' | 'unscaled' | 'unscaled_nan' | 'unscaled_product_first'",
                          lambda v: v in ("scaled", "unscaled", "unscaled_nan", "unscaled_product_first")),
    # subnormal numbers: "gradual" = IEEE gradual underflow; "flush_to_zero" = subnormal operands are read as 0
    # and results below the smallest normal number are flushed to 0 (DAZ + FTZ, e.g. XLA on CPU);
    # "softmax_flush_to_zero" = gradual everywhere except that softmax (alone or inside attention) returns 0 for
    # an output below the smallest normal number (ONNX Runtime's CPU Softmax)
    "subnormals": ("'gradual' | 'flush_to_zero' | 'softmax_flush_to_zero'",
                   lambda v: v in ("gradual", "flush_to_zero", "softmax_flush_to_zero")),
    # the variance batch norm folds into running_var in training mode: "unbiased" = N/(N-1) times the batch's
    # biased variance (torch.nn.BatchNorm1d); "biased" = the biased variance itself (Keras BatchNormalization)
    "bn_running_var": ("'unbiased' | 'biased'", lambda v: v in ("unbiased", "biased")),
    # the algorithm of batch norm's batch variance (its error model, properties/batchnorm/tolerances.py): "stable" =
    # two-pass, Welford or pairwise; "moments" = mean(x^2) - mean^2 unclamped (Keras 3); "moments_clamped" =
    # the same clamped at 0 (Flax)
    "bn_variance": ("'stable' | 'moments' | 'moments_clamped'", lambda v: v in ("stable", "moments", "moments_clamped")),
    # the outputs ys of a stacked network at padded steps t >= lengths[b] (the real steps never depend on it):
    # "zero" = 0 (torch's pad_packed_sequence; Keras with zero_output_for_mask=True); "carry" = a unidirectional
    # stack (D = 1) repeats its last real output, a bidirectional one (D = 2) gives 0 in both halves (Keras'
    # default masking: a plain layer carries, Bidirectional forces zero_output_for_mask=True on both halves)
    "padded_output": ("'zero' | 'carry'", lambda v: v in ("zero", "carry")),
    # what the target does not support inside a capability: name -> value over RESTRICTIONS
    "restrictions": ("a mapping restriction name -> value over RESTRICTIONS", lambda v: restriction_problem(v) is None),
    # capabilities the target deliberately does not offer, with why (module doc): capability -> reason
    "left_out": ("a mapping capability -> a one-line reason (each capability left None)",
                 lambda v: left_out_problem(v) is None),
}

#: Defaults of the exact math, used for any convention a target does not declare.
CONVENTION_DEFAULTS: dict[str, Any] = {
    "gru": "reset_after",
    "rnn_activation": "tanh",
    "bias": "one",
    "clip_eps": 0.0,
    "clip_scope": "global",
    "matmul_precision": "ieee",
    "accumulate": "storage",
    "activation_ulps": 4.0,
    "shapes": "free",
    "clip_norm_scaling": "scaled",
    "subnormals": "gradual",
    "bn_running_var": "unbiased",
    "bn_variance": "stable",
    "padded_output": "zero",
    "restrictions": {},
    "left_out": {},
}

#: Capability name -> call signature (derived from `dlproof.capabilities.CAPABILITY_LIST`).
CAPABILITIES: dict[str, str] = {c.name: c.signature for c in CAPABILITY_LIST}


class TargetError(ValueError):
    """A target is malformed (unknown convention, bad dtype, non-callable capability)."""


class _TargetMethods:
    """The behaviour of `Target`; its fields are generated from the capability declarations below."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TargetError(f"Target.name must be a non-empty string, got {self.name!r}")
        if self.dtype not in DTYPES:
            raise TargetError(f"Target {self.name!r}: dtype={self.dtype!r}, but should be one of {DTYPES}")
        if self.protocol_version != PROTOCOL_VERSION:
            raise TargetError(
                f"Target {self.name!r}: protocol_version={self.protocol_version}, "
                f"but this dlproof speaks version {PROTOCOL_VERSION}"
            )
        if not isinstance(self.conventions, Mapping):
            raise TargetError(f"Target {self.name!r}: conventions must be a mapping, got {type(self.conventions).__name__}")
        for key, value in self.conventions.items():
            if key not in CONVENTION_VALUES:
                raise TargetError(
                    f"Target {self.name!r}: unknown convention {key!r}; known: {sorted(CONVENTION_VALUES)}"
                )
            allowed, ok = CONVENTION_VALUES[key]
            try:
                valid = bool(ok(value))
            except Exception:  # noqa: BLE001 - e.g. an array whose truth value is ambiguous
                valid = False
            if not valid:
                if key == "restrictions":
                    allowed = restriction_problem(value) or allowed
                if key == "left_out":
                    allowed = left_out_problem(value) or allowed
                raise TargetError(f"Target {self.name!r}: convention {key}={value!r}, but should be {allowed}")
        acc = self.conventions.get("accumulate", "storage")
        if acc != "storage" and not at_least(acc, self.dtype):
            raise TargetError(f"Target {self.name!r}: convention accumulate={acc!r}, but a {self.dtype} target "
                              f"accumulates in its own dtype or a wider one (e.g. 'float32' for float16 storage)")
        for cap in CAPABILITIES:
            fn = getattr(self, cap)
            if fn is not None and not callable(fn):
                raise TargetError(
                    f"Target {self.name!r}: capability {cap!r} must be callable {CAPABILITIES[cap]}, "
                    f"got {type(fn).__name__}"
                )
        offered = [cap for cap in self.conventions.get("left_out", {}) if getattr(self, cap) is not None]
        if offered:
            raise TargetError(f"Target {self.name!r}: convention left_out names {offered}, but the target offers "
                              f"{'it' if len(offered) == 1 else 'them'}: a left-out capability must be None")

    def left_out(self, capability: str) -> Optional[str]:
        """Why ``capability`` is deliberately not offered (the ``left_out`` convention), or None."""
        return self.convention("left_out").get(capability)

    def convention(self, key: str) -> Any:
        """The declared value of convention ``key``, or the exact-math default."""
        if key not in CONVENTION_VALUES:
            raise TargetError(f"unknown convention {key!r}; known: {sorted(CONVENTION_VALUES)}")
        return self.conventions.get(key, CONVENTION_DEFAULTS[key])

    def restriction(self, name: str) -> Any:
        """The declared value of restriction ``name`` (see `RESTRICTIONS`), or None when not declared."""
        if name not in RESTRICTIONS:
            raise TargetError(f"unknown restriction {name!r}; known: {sorted(RESTRICTIONS)}")
        return self.convention("restrictions").get(name)

    def accumulation(self) -> str:
        """The dtype this target accumulates dot products in: the declared ``accumulate``, "storage" meaning its dtype."""
        acc = self.convention("accumulate")
        return self.dtype if acc == "storage" else acc

    def bias_layout(self, kind: str) -> str:
        """'one' or 'two' bias vectors for cell ``kind`` (the ``bias`` convention may differ per kind)."""
        b = self.convention("bias")
        return b if isinstance(b, str) else b.get(kind, CONVENTION_DEFAULTS["bias"])

    def provides(self, capability: str) -> bool:
        if capability not in CAPABILITIES:
            raise TargetError(f"unknown capability {capability!r}; known: {sorted(CAPABILITIES)}")
        return getattr(self, capability) is not None

    @property
    def capabilities(self) -> list[str]:
        return [c for c in CAPABILITIES if getattr(self, c) is not None]

    def describe(self) -> dict:
        """JSON-ready summary for reports."""
        return {
            "name": self.name,
            "dtype": self.dtype,
            "protocol_version": self.protocol_version,
            "conventions": {k: (dict(v) if isinstance(v, Mapping) else v)
                            for k, v in ((k, self.convention(k)) for k in CONVENTION_VALUES)},
            "declared_conventions": dict(self.conventions),
            "capabilities": self.capabilities,
        }


def _docstring() -> str:
    lines = ["An implementation under test (protocol version 1).", "",
             "``name`` is free text shown in reports; ``dtype`` is the precision the harness casts inputs to;",
             "``conventions`` declares deviations from the exact math (closed vocabulary, see `CONVENTION_VALUES`).",
             "Each capability is None (reported \"not provided\") or a callable:", ""]
    lines += [f"- ``{c.name}{c.signature}`` ({c.chapter}): {c.doc}" for c in CAPABILITY_LIST]
    return "\n".join(lines)


#: The protocol's target: ``Target(name, dtype="float64", conventions={}, <capability>=None, ...,
#: protocol_version=1)``, one optional field per declared capability, in `CAPABILITY_LIST` order.
Target = make_dataclass(
    "Target",
    [("name", str), ("dtype", str, field(default="float64")),
     ("conventions", Mapping[str, Any], field(default_factory=dict)),
     *[(c.name, Optional[Callable], field(default=None)) for c in CAPABILITY_LIST],
     ("protocol_version", int, field(default=PROTOCOL_VERSION))],
    bases=(_TargetMethods,), frozen=True, namespace={"__doc__": _docstring(), "__module__": __name__},
)
