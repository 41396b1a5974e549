"""torch's attention pieces behind the protocol's softmax, attention and mha capabilities (version 1).

- ``softmax`` / ``softmax_vjp``: torch.nn.functional.softmax(x, dim=-1), gradients by torch.autograd.
- ``attention`` / ``attention_vjp``: torch.nn.functional.scaled_dot_product_attention(q, k, v,
  is_causal=causal) (scale 1/sqrt(d); is_causal masks with tril(ones(Tq, Tk)), top-left aligned, the protocol's
  mask), gradients by autograd.
- ``mha`` / ``mha_vjp``: a fresh torch.nn.MultiheadAttention(E, num_heads, batch_first=True, bias=True) per call,
  loaded with the protocol's parameters in torch's packed layout:

      in_proj_weight = cat([W_q, W_k, W_v]) (3E, E)   rows 0..E-1: W_q, E..2E-1: W_k, 2E..3E-1: W_v
      in_proj_bias   = cat([b_q, b_k, b_v]) (3E,)
      out_proj.weight = W_o (E, E),  out_proj.bias = b_o (E,)

  Head h of torch's module uses rows [h E/H, (h+1) E/H) of each block (its reshape of the projection to
  (B, T, H, E/H)), as the protocol says. Called with need_weights=False; causal via a boolean attn_mask
  triu(ones(Tq, Tk), 1) (True = may not attend: j > i, top-left). The module's dropout is 0. Gradients:
  autograd w.r.t. query, key, value and the module's parameters (in_proj_* split back into the q, k, v blocks).
  `module_params` reads a user's module back into the protocol's dict and refuses the layouts the protocol
  does not cover (kdim/vdim != E, add_bias_kv, add_zero_attn, bias=False, batch_first=False, dropout > 0).

Inputs are validated as the NumPy reference does (numpy_ref.checks.attention), computed in ``dtype`` and returned
as new NumPy arrays of it; they are never mutated. torch is imported lazily (ImportError with the install hint).
"""
from __future__ import annotations

import numpy as np

from dlproof.target import Target

from ..numpy_ref.checks.attention import MHA_PARAMS, attention_args, mha_args, softmax_args
from .startup import chapter_capabilities
from .startup import dtype as _dtype
from .startup import tensor as _t
from .startup import to_numpy as _np
from .startup import torch as _torch

def softmax(x, *, dtype="float32"):
    """torch.nn.functional.softmax(x, dim=-1)."""
    torch, td, dt = _dtype("softmax", dtype)
    x, _, _ = softmax_args("softmax", x)
    with torch.no_grad():
        return _np(torch.nn.functional.softmax(_t(torch, x, td), dim=-1), dt)


def softmax_vjp(x, ds, *, dtype="float32"):
    """Autograd through torch.nn.functional.softmax(dim=-1)."""
    torch, td, dt = _dtype("softmax_vjp", dtype)
    x, ds, _ = softmax_args("softmax_vjp", x, ds, with_ds=True)
    xt = _t(torch, x, td, True)
    with torch.enable_grad():
        L = (_t(torch, ds, td) * torch.nn.functional.softmax(xt, dim=-1)).sum()
        (dx,) = torch.autograd.grad(L, (xt,))
    return _np(dx, dt)


def _sdpa(torch, q, k, v, causal):
    return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)


def attention(q, k, v, causal, *, dtype="float32"):
    """torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)."""
    torch, td, dt = _dtype("attention", dtype)
    q, k, v, causal, _, _ = attention_args("attention", q, k, v, causal)
    with torch.no_grad():
        return _np(_sdpa(torch, *(_t(torch, a, td) for a in (q, k, v)), causal), dt)


def attention_vjp(q, k, v, causal, dy, *, dtype="float32"):
    """Autograd through scaled_dot_product_attention -> {"q", "k", "v"}."""
    torch, td, dt = _dtype("attention_vjp", dtype)
    q, k, v, causal, dy, _ = attention_args("attention_vjp", q, k, v, causal, dy, with_dy=True)
    ts = [_t(torch, a, td, True) for a in (q, k, v)]
    with torch.enable_grad():
        L = (_t(torch, dy, td) * _sdpa(torch, *ts, causal)).sum()
        grads = torch.autograd.grad(L, ts)
    return {n: _np(g, dt) for n, g in zip(("q", "k", "v"), grads)}


def _module(torch, td, p, H):
    E = p["W_q"].shape[0]
    mod = torch.nn.MultiheadAttention(E, H, dropout=0.0, bias=True, batch_first=True, dtype=td)
    with torch.no_grad():
        mod.in_proj_weight.copy_(_t(torch, np.concatenate([p["W_q"], p["W_k"], p["W_v"]], axis=0), td))
        mod.in_proj_bias.copy_(_t(torch, np.concatenate([p["b_q"], p["b_k"], p["b_v"]]), td))
        mod.out_proj.weight.copy_(_t(torch, p["W_o"], td))
        mod.out_proj.bias.copy_(_t(torch, p["b_o"], td))
    return mod


def _run(torch, mod, query, key, value, causal):
    Tq, Tk = query.shape[1], key.shape[1]
    mask = torch.ones(Tq, Tk, dtype=torch.bool).triu(1) if causal else None
    y, w = mod(query, key, value, attn_mask=mask, need_weights=False)
    return y


def mha(query, key, value, params, num_heads, causal, *, dtype="float32"):
    """y from a real torch.nn.MultiheadAttention (see the module docstring for the in_proj layout)."""
    torch, td, dt = _dtype("mha", dtype)
    query, key, value, p, H, causal, _, _ = mha_args("mha", query, key, value, params, num_heads, causal)
    mod = _module(torch, td, p, H)
    mod.eval()
    with torch.no_grad():
        return _np(_run(torch, mod, *(_t(torch, a, td) for a in (query, key, value)), causal), dt)


def mha_vjp(query, key, value, params, num_heads, causal, dy, *, dtype="float32"):
    """Autograd through torch.nn.MultiheadAttention -> {"query", "key", "value", "params": {name: grad}}."""
    torch, td, dt = _dtype("mha_vjp", dtype)
    query, key, value, p, H, causal, dy, _ = mha_args("mha_vjp", query, key, value, params, num_heads, causal,
                                                      dy, with_dy=True)
    E = p["W_q"].shape[0]
    mod = _module(torch, td, p, H)
    mod.train()  # dropout is 0: the same function; autograd on
    xs = [_t(torch, a, td, True) for a in (query, key, value)]
    with torch.enable_grad():
        L = (_t(torch, dy, td) * _run(torch, mod, *xs, causal)).sum()
        gx = torch.autograd.grad(L, xs + [mod.in_proj_weight, mod.in_proj_bias, mod.out_proj.weight, mod.out_proj.bias])
    gW, gb = _np(gx[3], dt), _np(gx[4], dt)
    grads = {"W_q": gW[:E], "W_k": gW[E:2 * E], "W_v": gW[2 * E:], "W_o": _np(gx[5], dt),
             "b_q": gb[:E], "b_k": gb[E:2 * E], "b_v": gb[2 * E:], "b_o": _np(gx[6], dt)}
    return {"query": _np(gx[0], dt), "key": _np(gx[1], dt), "value": _np(gx[2], dt),
            "params": {n: grads[n].copy() for n in MHA_PARAMS}}


def module_params(module) -> dict:
    """The protocol's params {W_q, ..., b_o} (NumPy float64) of a user's torch.nn.MultiheadAttention.

    Refuses (ValueError) what the protocol does not cover: kdim/vdim != embed_dim (separate q/k/v weights),
    add_bias_kv, add_zero_attn, no bias, batch_first=False, dropout > 0."""
    torch = _torch()
    fn = "module_params"
    if not isinstance(module, torch.nn.MultiheadAttention):
        raise TypeError(f"{fn}: argument 'module' should be a torch.nn.MultiheadAttention, got {type(module).__name__}")
    problems = []
    if not module._qkv_same_embed_dim:
        problems.append(f"kdim/vdim ({module.kdim}, {module.vdim}) != embed_dim {module.embed_dim} "
                        "(separate q_proj_weight/k_proj_weight/v_proj_weight)")
    if module.bias_k is not None:
        problems.append("add_bias_kv=True (extra key/value rows)")
    if module.add_zero_attn:
        problems.append("add_zero_attn=True (an extra zero key/value)")
    if module.in_proj_bias is None:
        problems.append("bias=False (the protocol has b_q, b_k, b_v, b_o)")
    if not module.batch_first:
        problems.append("batch_first=False (the protocol is batch first)")
    if module.dropout:
        problems.append(f"dropout={module.dropout} (attention dropout makes it random)")
    if problems:
        raise ValueError(f"{fn}: this torch.nn.MultiheadAttention is outside the protocol: " + "; ".join(problems))
    E = module.embed_dim
    W = module.in_proj_weight.detach().cpu().double().numpy()
    b = module.in_proj_bias.detach().cpu().double().numpy()
    return {"W_q": W[:E].copy(), "W_k": W[E:2 * E].copy(), "W_v": W[2 * E:].copy(),
            "W_o": module.out_proj.weight.detach().cpu().double().numpy().copy(),
            "b_q": b[:E].copy(), "b_k": b[E:2 * E].copy(), "b_v": b[2 * E:].copy(),
            "b_o": module.out_proj.bias.detach().cpu().double().numpy().copy()}


def capabilities(dtype: str = "float32") -> dict:
    """{capability: callable} of the attention chapter's capabilities in ``dtype``."""
    _dtype("capabilities", dtype)
    return chapter_capabilities(globals(), "attention", dtype)


def target(dtype: str = "float32") -> Target:
    """The attention capabilities of torch (F.softmax, F.scaled_dot_product_attention, nn.MultiheadAttention)."""
    torch, _, _ = _dtype("target", dtype)
    version = torch.__version__.split("+")[0]
    return Target(name=f"torch.nn attention (torch {version}, {dtype})", dtype=dtype, **capabilities(dtype))
