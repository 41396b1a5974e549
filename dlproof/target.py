"""The conformance protocol, version 1: one `Target` bundles what an implementation offers.

This module is a leaf: it imports nothing else of dlproof, so adapters (`dlproof.impl`) and the
suite (`dlproof.properties`) can both depend on it.

Conventions (column vectors, numerator layout) are those of the derivations: a cell computes
``x @ W_x.T + h @ W_h.T + b`` on batch rows, sequences are time-major ``(T, B, features)``.
Every array in and out is NumPy. A capability left as ``None`` is reported "not provided".

Feed-forward capabilities (protocol version 1, added compatibly), all on batch rows x (B, n):
- ``mlp(x, layers, activation)``: layers = [(W_1, b_1), ..., (W_L, b_L)], W_l (n_l, n_{l-1}), b_l (n_l,);
  a_0 = x, a_l = phi(a_{l-1} @ W_l.T + b_l) for l < L, y = a_{L-1} @ W_L.T + b_L (the last layer linear);
  activation is "tanh" | "sigmoid" | "relu" (relu'(0) = 0). ``mlp_vjp`` returns the gradients of
  L = <dy, y>.
- ``residual(x, blocks, activation)``: blocks = [(W1, b1, W2, b2), ...], W1 (k, n), W2 (n, k); each block
  maps x to x + phi(x @ W1.T + b1) @ W2.T + b2. ``residual_vjp`` as for mlp.
- ``batchnorm(x, gamma, beta, running_mean, running_var, training, momentum, eps)``: per feature over the
  batch axis. Training: y = gamma (x - mean) / sqrt(var + eps) + beta with the biased batch variance, and
  running' = (1 - momentum) running + momentum stat (torch's momentum; the variance folded in is declared by
  ``bn_running_var``). Inference: the running statistics normalize, and come back unchanged.
  ``batchnorm_vjp`` is the training-mode gradient of L = <dy, y>.
- ``dropout(x, p, training, seed)``: p is the drop probability (torch's p, Keras' rate; keep q = 1 - p);
  training: y = m * x / q with m_i ~ Bernoulli(q) i.i.d., drawn from ``seed`` (same seed, same mask);
  inference: y = x. ``dropout_vjp(x, p, seed, dy)`` = m * dy / q with the mask of that seed.

Attention, convolution and kernel capabilities (batch first here, as torch's functional API):
- ``softmax(x)``: s = exp(x - max) / sum exp(x - max) over the last axis; ``softmax_vjp(x, ds)`` = the VJP
  (diag(s) - s s^T) ds per row.
- ``attention(q, k, v, causal)``: q (B, Tq, d), k (B, Tk, d), v (B, Tk, dv);
  y = softmax(q k^T / sqrt(d) + M) v with M[i, j] = -inf where j > i when ``causal`` (top-left aligned, as
  torch's is_causal), else 0. ``attention_vjp`` returns the gradients of L = <dy, y>.
- ``mha(query, key, value, params, num_heads, causal)``: inputs (B, T, E); params W_q, W_k, W_v, W_o (E, E),
  b_q, b_k, b_v, b_o (E,); head h takes rows [h E/H, (h+1) E/H) of W_q, W_k, W_v; y = concat_h(attention(
  query W_q^T + b_q, ...)_h) W_o^T + b_o. ``mha_vjp`` returns the gradients of <dy, y>.
- ``conv1d(x, w, b, stride, padding, dilation, groups)``: x (B, C_in, L), w (C_out, C_in/groups, K), b (C_out,)
  or None; cross-correlation y[n, o, i] = b[o] + sum_{c, k} w[o, c, k] x_pad[n, g(o) C_in/groups + c,
  i s + k d] with zero padding p on both sides; ``conv2d`` the same over (H, W) with int pairs for stride,
  padding and dilation. ``conv*_vjp`` return the gradients of <dy, y> (b: None when b is None).
- ``empirical_ntk(X1, X2, W, a)``: f(x) = a^T relu(W x) / sqrt(m), W (m, d), a (m,), X (n, d);
  K[i, j] = <grad_theta f(X1[i]), grad_theta f(X2[j])> over theta = (W, a), relu'(0) = 0.

Conventions (`CONVENTION_VALUES`, a closed vocabulary; an unknown key or value is an error) include:
- ``bn_variance``: the algorithm of batch norm's batch variance, which decides its error model
  (properties/tolerances_bn.py): "stable" (default) = any standard stable algorithm: two-pass, Welford's
  updating, pairwise/blocked merging (np.var, torch.var, torch's batch_norm); "moments" = the one-pass
  mean(x^2) - mean(x)^2 (Keras 3's ops.moments), unclamped: it may go negative (NaN output), which the suite
  reports as a finding; "moments_clamped" = the same, clamped at 0 (Flax's BatchNorm).
- ``restrictions``: what the target does NOT support inside a capability it provides, a mapping
  name -> value over the closed vocabulary `RESTRICTIONS` (e.g. ``{"conv_groups": 1, "attention_causal":
  False, "param_count_kinds": ["rnn", "lstm"]}``). The strategies then draw only inside the declared domain
  and the report shows the restriction beside the verdict; a property whose whole domain is excluded (e.g.
  ``gru.param_count`` without "gru") is "not provided". A restriction never widens a tolerance: inside its
  domain the target is checked exactly as any other.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Mapping, NamedTuple, Optional

PROTOCOL_VERSION = 1

DTYPES = ("float32", "float64")


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
    # how clip_grad_norm forms the norm N and applies the scale at the ends of the dtype's range
    # (properties/extremes.py): "scaled" = exact math while N is representable (no overflow of the sum of
    # squares, no underflow of tiny squares); "unscaled" = N = sqrt(sum g^2) formed directly in the dtype (inf
    # once the sum of squares overflows, 0 once every square underflows), the rule then applied with that N
    # (N = inf scales by 0); "unscaled_nan" = as unscaled, but a non-finite N turns every clipped entry into NaN;
    # "unscaled_product_first" = as unscaled, the scale applied as fl(g c) / max(N, c) (g c may overflow/underflow)
    "clip_norm_scaling": ("'scaled' | 'unscaled' | 'unscaled_nan' | 'unscaled_product_first'",
                          lambda v: v in ("scaled", "unscaled", "unscaled_nan", "unscaled_product_first")),
    # subnormal numbers: "gradual" = IEEE gradual underflow; "flush_to_zero" = subnormal operands are read as 0
    # and results below the smallest normal number are flushed to 0 (DAZ + FTZ, e.g. XLA on CPU)
    "subnormals": ("'gradual' | 'flush_to_zero'", lambda v: v in ("gradual", "flush_to_zero")),
    # the variance batch norm folds into running_var in training mode: "unbiased" = N/(N-1) times the batch's
    # biased variance (torch.nn.BatchNorm1d); "biased" = the biased variance itself (Keras BatchNormalization)
    "bn_running_var": ("'unbiased' | 'biased'", lambda v: v in ("unbiased", "biased")),
    # the algorithm of batch norm's batch variance (its error model, properties/tolerances_bn.py): "stable" =
    # two-pass, Welford or pairwise; "moments" = mean(x^2) - mean^2 unclamped (Keras 3); "moments_clamped" =
    # the same clamped at 0 (Flax)
    "bn_variance": ("'stable' | 'moments' | 'moments_clamped'", lambda v: v in ("stable", "moments", "moments_clamped")),
    # what the target does not support inside a capability: name -> value over RESTRICTIONS
    "restrictions": ("a mapping restriction name -> value over RESTRICTIONS", lambda v: restriction_problem(v) is None),
}

#: Defaults of the exact math, used for any convention a target does not declare.
CONVENTION_DEFAULTS: dict[str, Any] = {
    "gru": "reset_after",
    "rnn_activation": "tanh",
    "bias": "one",
    "clip_eps": 0.0,
    "clip_scope": "global",
    "matmul_precision": "ieee",
    "clip_norm_scaling": "scaled",
    "subnormals": "gradual",
    "bn_running_var": "unbiased",
    "bn_variance": "stable",
    "restrictions": {},
}

#: Capability name -> call signature, as documented in the README.
CAPABILITIES: dict[str, str] = {
    "rnn_cell": "(x, h, p) -> h'",
    "lstm_cell": "(x, h, c, p) -> (h', c')",
    "gru_cell": "(x, h, p) -> h'",
    "rnn": "(xs, h0, p) -> (hs, h_T)",
    "lstm": "(xs, h0, c0, p) -> (hs, (h_T, c_T))",
    "gru": "(xs, h0, p) -> (hs, h_T)",
    "rnn_vjp": "(xs, h0, p, d_hs, d_hT) -> {'xs', 'h0', 'params': {name: grad}}",
    "lstm_vjp": "(xs, h0, c0, p, d_hs, d_hT, d_cT) -> {'xs', 'h0', 'c0', 'params'}",
    "gru_vjp": "(xs, h0, p, d_hs, d_hT) -> {'xs', 'h0', 'params'}",
    "rnn_bi": "(xs, h0_f, h0_b, p_f, p_b) -> (ys, h_f, h_b)",
    "lstm_bi": "(xs, (h0_f, c0_f), (h0_b, c0_b), p_f, p_b) -> (ys, (h_f, c_f), (h_b, c_b))",
    "gru_bi": "(xs, h0_f, h0_b, p_f, p_b) -> (ys, h_f, h_b)",
    "clip_grad_norm": "(grads: list, max_norm) -> (clipped list, pre-clip global norm or None)",
    "clip_grad_value": "(grads: list, clip_value) -> clipped list",
    "param_count": "(kind, n, m) -> int",
    "mlp": "(x, layers, activation) -> y",
    "mlp_vjp": "(x, layers, activation, dy) -> {'x', 'layers': [(dW, db), ...]}",
    "residual": "(x, blocks, activation) -> y",
    "residual_vjp": "(x, blocks, activation, dy) -> {'x', 'blocks': [(dW1, db1, dW2, db2), ...]}",
    "batchnorm": "(x, gamma, beta, running_mean, running_var, training, momentum, eps) -> (y, running_mean', running_var')",
    "batchnorm_vjp": "(x, gamma, beta, eps, dy) -> {'x', 'gamma', 'beta'}",
    "dropout": "(x, p, training, seed) -> y",
    "dropout_vjp": "(x, p, seed, dy) -> dx",
    "softmax": "(x) -> s",
    "softmax_vjp": "(x, ds) -> dx",
    "attention": "(q, k, v, causal) -> y",
    "attention_vjp": "(q, k, v, causal, dy) -> {'q', 'k', 'v'}",
    "mha": "(query, key, value, params, num_heads, causal) -> y",
    "mha_vjp": "(query, key, value, params, num_heads, causal, dy) -> {'query', 'key', 'value', 'params'}",
    "conv1d": "(x, w, b, stride, padding, dilation, groups) -> y",
    "conv1d_vjp": "(x, w, b, stride, padding, dilation, groups, dy) -> {'x', 'w', 'b'}",
    "conv2d": "(x, w, b, stride, padding, dilation, groups) -> y",
    "conv2d_vjp": "(x, w, b, stride, padding, dilation, groups, dy) -> {'x', 'w', 'b'}",
    "empirical_ntk": "(X1, X2, W, a) -> K",
}


class TargetError(ValueError):
    """A target is malformed (unknown convention, bad dtype, non-callable capability)."""


@dataclass(frozen=True)
class Target:
    """An implementation under test (protocol version 1).

    ``name`` is free text shown in reports; ``dtype`` is the precision the harness casts inputs to;
    ``conventions`` declares deviations from the exact math (closed vocabulary, see
    `CONVENTION_VALUES`). Each capability is a callable with the signature in `CAPABILITIES`.
    """

    name: str
    dtype: str = "float64"
    conventions: Mapping[str, Any] = field(default_factory=dict)
    rnn_cell: Optional[Callable] = None
    lstm_cell: Optional[Callable] = None
    gru_cell: Optional[Callable] = None
    rnn: Optional[Callable] = None
    lstm: Optional[Callable] = None
    gru: Optional[Callable] = None
    rnn_vjp: Optional[Callable] = None
    lstm_vjp: Optional[Callable] = None
    gru_vjp: Optional[Callable] = None
    rnn_bi: Optional[Callable] = None
    lstm_bi: Optional[Callable] = None
    gru_bi: Optional[Callable] = None
    clip_grad_norm: Optional[Callable] = None
    clip_grad_value: Optional[Callable] = None
    param_count: Optional[Callable] = None
    mlp: Optional[Callable] = None
    mlp_vjp: Optional[Callable] = None
    residual: Optional[Callable] = None
    residual_vjp: Optional[Callable] = None
    batchnorm: Optional[Callable] = None
    batchnorm_vjp: Optional[Callable] = None
    dropout: Optional[Callable] = None
    dropout_vjp: Optional[Callable] = None
    softmax: Optional[Callable] = None
    softmax_vjp: Optional[Callable] = None
    attention: Optional[Callable] = None
    attention_vjp: Optional[Callable] = None
    mha: Optional[Callable] = None
    mha_vjp: Optional[Callable] = None
    conv1d: Optional[Callable] = None
    conv1d_vjp: Optional[Callable] = None
    conv2d: Optional[Callable] = None
    conv2d_vjp: Optional[Callable] = None
    empirical_ntk: Optional[Callable] = None
    protocol_version: int = PROTOCOL_VERSION

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
                raise TargetError(f"Target {self.name!r}: convention {key}={value!r}, but should be {allowed}")
        for cap in CAPABILITIES:
            fn = getattr(self, cap)
            if fn is not None and not callable(fn):
                raise TargetError(
                    f"Target {self.name!r}: capability {cap!r} must be callable {CAPABILITIES[cap]}, "
                    f"got {type(fn).__name__}"
                )

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


assert {f.name for f in fields(Target)} >= set(CAPABILITIES)
