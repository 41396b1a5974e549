"""The reference implementations as conformance-protocol targets (`dlproof.target.Target`, version 1).

Capabilities (NumPy in and out; time-major sequences; a cell computes ``x @ W_x.T + h @ W_h.T + b``):
rnn_cell(x, h, p) -> h', rnn(xs, h0, p) -> (hs, h_T), rnn_vjp(xs, h0, p, d_hs, d_hT) -> {"xs", "h0",
"params"}, clip_grad_norm(grads, max_norm) -> (clipped, pre-clip global norm), clip_grad_value(grads, v)
-> clipped, param_count(kind, n, m) -> int (kind "rnn": n*m + n*n + n).
Declared conventions: exact math (clip_eps 0, global scope); tanh activation except `numpy_relu_target`.
"""
from __future__ import annotations

from functools import partial

from dlproof.target import Target

EXACT_CONVENTIONS = {"rnn_activation": "tanh", "clip_eps": 0.0, "clip_scope": "global"}


def param_count(kind: str, n: int, m: int) -> int:
    """Parameters of one single-bias layer: "rnn" -> n*m + n*n + n; LSTM/GRU are not implemented here."""
    if kind == "rnn":
        return n * m + n * n + n
    if kind in ("lstm", "gru"):
        raise NotImplementedError(f"param_count: dlproof.impl reference implements no {kind!r} yet")
    raise ValueError(f"param_count: kind should be 'rnn', 'lstm' or 'gru', got {kind!r}")


def _rnn_capabilities(mod, clip, activation: str) -> dict:
    return {
        "rnn_cell": partial(mod.rnn_cell, activation=activation),
        "rnn": partial(mod.rnn_forward, activation=activation),
        "rnn_vjp": partial(mod.rnn_vjp, activation=activation),
        "clip_grad_norm": partial(clip.clip_grad_norm, eps=0.0, scope="global"),
        "clip_grad_value": clip.clip_grad_value,
        "param_count": param_count,
    }


def numpy_target(dtype: str = "float64", activation: str = "tanh") -> Target:
    """The hand-written NumPy reference (BPTT by hand)."""
    from .numpy_ref import clipping, rnn

    name = "dlproof.impl.numpy_ref" + ("" if activation == "tanh" else f" ({activation})")
    return Target(
        name=name,
        dtype=dtype,
        conventions={**EXACT_CONVENTIONS, "rnn_activation": activation},
        **_rnn_capabilities(rnn, clipping, activation),
    )


def numpy_relu_target(dtype: str = "float64") -> Target:
    """The NumPy reference with phi = relu (relu'(0) = 0)."""
    return numpy_target(dtype, activation="relu")


def torch_target(dtype: str = "float64", activation: str = "tanh") -> Target:
    """Torch ops forward, torch.autograd gradients; needs torch (ImportError with install hint otherwise)."""
    from .torch_ref import clipping, rnn
    from .torch_ref._torch import torch

    version = torch.__version__.split("+")[0]
    name = f"dlproof.impl.torch_ref (torch {version})" + ("" if activation == "tanh" else f" ({activation})")
    return Target(
        name=name,
        dtype=dtype,
        conventions={**EXACT_CONVENTIONS, "rnn_activation": activation},
        **_rnn_capabilities(rnn, clipping, activation),
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
