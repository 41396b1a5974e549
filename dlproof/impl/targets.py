"""The reference implementations as conformance-protocol targets (`dlproof.target.Target`, version 1).

Capabilities (NumPy in and out; time-major sequences; a cell computes ``x @ W_x.T + h @ W_h.T + b``):
rnn_cell(x, h, p) -> h', rnn(xs, h0, p) -> (hs, h_T), rnn_vjp(xs, h0, p, d_hs, d_hT) -> {"xs", "h0",
"params"}; lstm_cell(x, h, c, p) -> (h', c'), lstm(xs, h0, c0, p) -> (hs, (h_T, c_T)),
lstm_vjp(xs, h0, c0, p, d_hs, d_hT, d_cT) -> {"xs", "h0", "c0", "params"}; gru_cell(x, h, p) -> h',
gru(xs, h0, p) -> (hs, h_T), gru_vjp(xs, h0, p, d_hs, d_hT) -> {"xs", "h0", "params"};
rnn_bi / gru_bi(xs, h0_f, h0_b, p_f, p_b) -> (ys, h_f, h_b), lstm_bi(xs, (h0_f, c0_f), (h0_b, c0_b),
p_f, p_b) -> (ys, (h_f, c_f), (h_b, c_b)); clip_grad_norm(grads, max_norm) -> (clipped, pre-clip global
norm), clip_grad_value(grads, v) -> clipped, param_count(kind, n, m) -> int (see `param_count`).
Declared conventions: exact math (clip_eps 0, global scope), one bias per gate (bias "one"; the GRU
reset_after candidate's b_hn is the one extra vector), tanh activation except `numpy_relu_target`, GRU
reset_after except `numpy_gru_reset_before_target`.
"""
from __future__ import annotations

from functools import partial

from dlproof.target import Target

EXACT_CONVENTIONS = {"rnn_activation": "tanh", "clip_eps": 0.0, "clip_scope": "global"}
GRU_VARIANTS = ("reset_after", "reset_before")


def param_count(kind: str, n: int, m: int, gru: str = "reset_after") -> int:
    """Parameters of one layer with one bias per gate.

    "rnn": n*m + n*n + n;  "lstm": 4 (n*m + n*n + n);  "gru": 3 (n*m + n*n + n) for reset_before, and
    3 (n*m + n*n + n) + n for reset_after (its candidate keeps b_xn and b_hn apart: b_hn sits inside r * (.)).
    """
    if gru not in GRU_VARIANTS:
        raise ValueError(f"param_count: argument 'gru' should be one of {GRU_VARIANTS}, got {gru!r}")
    block = n * m + n * n + n
    if kind == "rnn":
        return block
    if kind == "lstm":
        return 4 * block
    if kind == "gru":
        return 3 * block + (n if gru == "reset_after" else 0)
    raise ValueError(f"param_count: kind should be 'rnn', 'lstm' or 'gru', got {kind!r}")


def _capabilities(mods, clip, activation: str, gru: str) -> dict:
    rnn, lstm, gru_mod, bi = mods
    return {
        "rnn_cell": partial(rnn.rnn_cell, activation=activation),
        "rnn": partial(rnn.rnn_forward, activation=activation),
        "rnn_vjp": partial(rnn.rnn_vjp, activation=activation),
        "lstm_cell": lstm.lstm_cell,
        "lstm": lstm.lstm_forward,
        "lstm_vjp": lstm.lstm_vjp,
        "gru_cell": partial(gru_mod.gru_cell, variant=gru),
        "gru": partial(gru_mod.gru_forward, variant=gru),
        "gru_vjp": partial(gru_mod.gru_vjp, variant=gru),
        "rnn_bi": partial(bi.rnn_bi, activation=activation),
        "lstm_bi": bi.lstm_bi,
        "gru_bi": partial(bi.gru_bi, variant=gru),
        "clip_grad_norm": partial(clip.clip_grad_norm, eps=0.0, scope="global"),
        "clip_grad_value": clip.clip_grad_value,
        "param_count": partial(param_count, gru=gru),
    }


def _feedforward(mlp, residual, bn, do, att, conv, ntk) -> dict:
    """The feed-forward, attention, convolution and NTK capabilities of one reference (numpy_ref or torch_ref),
    given its modules mlp, residual, batchnorm, dropout, attention, conv and ntk."""
    return {"mlp": mlp.mlp_forward, "mlp_vjp": mlp.mlp_vjp,
            "residual": residual.residual_forward, "residual_vjp": residual.residual_vjp,
            "batchnorm": bn.batchnorm, "batchnorm_vjp": bn.batchnorm_vjp,
            "dropout": do.dropout, "dropout_vjp": do.dropout_vjp,
            "softmax": att.softmax, "softmax_vjp": att.softmax_vjp,
            "attention": att.attention, "attention_vjp": att.attention_vjp, "mha": att.mha, "mha_vjp": att.mha_vjp,
            "conv1d": conv.conv1d, "conv1d_vjp": conv.conv1d_vjp, "conv2d": conv.conv2d, "conv2d_vjp": conv.conv2d_vjp,
            "empirical_ntk": ntk.empirical_ntk}


def _suffix(activation: str, gru: str) -> str:
    tags = ([] if activation == "tanh" else [activation]) + ([] if gru == "reset_after" else [f"gru {gru}"])
    return f" ({', '.join(tags)})" if tags else ""


def _conventions(activation: str, gru: str) -> dict:
    if gru not in GRU_VARIANTS:
        raise ValueError(f"argument 'gru' should be one of {GRU_VARIANTS}, got {gru!r}")
    return {**EXACT_CONVENTIONS, "rnn_activation": activation, "gru": gru, "bias": "one"}


def numpy_target(dtype: str = "float64", activation: str = "tanh", gru: str = "reset_after") -> Target:
    """The hand-written NumPy reference (BPTT by hand); ``gru`` picks the GRU variant of the gru capabilities."""
    from .numpy_ref import (attention, batchnorm, bidirectional, clipping, conv, dropout, gru as gru_mod, lstm, mlp, ntk,
                            residual, rnn)

    conventions = _conventions(activation, gru)
    return Target(
        name="dlproof.impl.numpy_ref" + _suffix(activation, gru),
        dtype=dtype,
        conventions=conventions,
        **_capabilities((rnn, lstm, gru_mod, bidirectional), clipping, activation, gru),
        **_feedforward(mlp, residual, batchnorm, dropout, attention, conv, ntk),
    )


def _only(target: Target, prefix: str) -> Target:
    """``target`` restricted to the capabilities of one cell kind (its other cells are checked elsewhere)."""
    from dataclasses import replace

    keep = {c for c in target.capabilities if c.split("_")[0] == prefix} | {"param_count"}
    return replace(target, **{c: None for c in target.capabilities if c not in keep})


def numpy_relu_target(dtype: str = "float64") -> Target:
    """The NumPy reference's vanilla RNN with phi = relu (relu'(0) = 0); RNN capabilities only."""
    return _only(numpy_target(dtype, activation="relu"), "rnn")


def numpy_gru_reset_before_target(dtype: str = "float64") -> Target:
    """The NumPy reference's reset-before GRU (Keras reset_after=False, d2l); GRU capabilities only."""
    return _only(numpy_target(dtype, gru="reset_before"), "gru")


def torch_target(dtype: str = "float64", activation: str = "tanh", gru: str = "reset_after") -> Target:
    """Torch ops forward, torch.autograd gradients; needs torch (ImportError with install hint otherwise)."""
    from .torch_ref import (attention, batchnorm, bidirectional, clipping, conv, dropout, gru as gru_mod, lstm, mlp, ntk,
                            residual, rnn)
    from .torch_ref._torch import torch

    conventions = _conventions(activation, gru)
    version = torch.__version__.split("+")[0]
    return Target(
        name=f"dlproof.impl.torch_ref (torch {version})" + _suffix(activation, gru),
        dtype=dtype,
        conventions=conventions,
        **_capabilities((rnn, lstm, gru_mod, bidirectional), clipping, activation, gru),
        **_feedforward(mlp, residual, batchnorm, dropout, attention, conv, ntk),
    )


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
