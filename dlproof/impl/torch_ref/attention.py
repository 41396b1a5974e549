"""Softmax, scaled dot-product attention and multi-head attention with torch ops; the backward is
torch.autograd's (NumPy arrays in and out).

Same math, shapes and validation as `dlproof.impl.numpy_ref.attention`:
  softmax: torch.softmax(x, dim=-1);  attention: S = q k^T / sqrt(d), masked_fill(j > i, -inf) when causal
  (top-left), P = torch.softmax(S, -1), y = P v (written out, not F.scaled_dot_product_attention);
  mha: per-head rows [h E/H, (h+1) E/H) of W_q, W_k, W_v, y = concat_h(head_h) W_o^T + b_o.
*_vjp: torch.autograd.grad of L = <dy, y>. Computed in the inputs' common dtype; inputs are never mutated.
"""
from __future__ import annotations

import math

from ..numpy_ref.checks.attention import MHA_PARAMS, attention_args, mha_args, softmax_args
from ._torch import to_numpy, to_torch, torch, torch_dtype


def softmax(x):
    x, _, dt = softmax_args("softmax", x)
    with torch.no_grad():
        return to_numpy(torch.softmax(to_torch(x, torch_dtype(dt)), dim=-1), dt)


def softmax_vjp(x, ds):
    x, ds, dt = softmax_args("softmax_vjp", x, ds, with_ds=True)
    td = torch_dtype(dt)
    xt = to_torch(x, td, requires_grad=True)
    with torch.enable_grad():
        L = (to_torch(ds, td) * torch.softmax(xt, dim=-1)).sum()
        (dx,) = torch.autograd.grad(L, (xt,))
    return to_numpy(dx, dt)


def _attend(q, k, v, causal):
    S = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if causal:
        Tq, Tk = q.shape[-2], k.shape[-2]
        S = S.masked_fill(torch.ones(Tq, Tk, dtype=torch.bool).triu(1), float("-inf"))
    return torch.softmax(S, dim=-1) @ v


def attention(q, k, v, causal):
    q, k, v, causal, _, dt = attention_args("attention", q, k, v, causal)
    td = torch_dtype(dt)
    with torch.no_grad():
        return to_numpy(_attend(*(to_torch(a, td) for a in (q, k, v)), causal), dt)


def attention_vjp(q, k, v, causal, dy):
    q, k, v, causal, dy, dt = attention_args("attention_vjp", q, k, v, causal, dy, with_dy=True)
    td = torch_dtype(dt)
    ts = [to_torch(a, td, requires_grad=True) for a in (q, k, v)]
    with torch.enable_grad():
        L = (to_torch(dy, td) * _attend(*ts, causal)).sum()
        grads = torch.autograd.grad(L, ts)
    return {n: to_numpy(g, dt) for n, g in zip(("q", "k", "v"), grads)}


def _mha(query, key, value, p, H, causal):
    def split(X):
        B, T, E = X.shape
        return X.reshape(B, T, H, E // H).transpose(1, 2)

    Q = split(query @ p["W_q"].T + p["b_q"])
    K = split(key @ p["W_k"].T + p["b_k"])
    V = split(value @ p["W_v"].T + p["b_v"])
    heads = _attend(Q, K, V, causal)  # (B, H, Tq, E/H)
    B, _, Tq, _ = heads.shape
    concat = heads.transpose(1, 2).reshape(B, Tq, -1)
    return concat @ p["W_o"].T + p["b_o"]


def mha(query, key, value, params, num_heads, causal):
    query, key, value, p, H, causal, _, dt = mha_args("mha", query, key, value, params, num_heads, causal)
    td = torch_dtype(dt)
    with torch.no_grad():
        y = _mha(*(to_torch(a, td) for a in (query, key, value)), {n: to_torch(a, td) for n, a in p.items()}, H, causal)
    return to_numpy(y, dt)


def mha_vjp(query, key, value, params, num_heads, causal, dy):
    query, key, value, p, H, causal, dy, dt = mha_args("mha_vjp", query, key, value, params, num_heads, causal,
                                                       dy, with_dy=True)
    td = torch_dtype(dt)
    xs = [to_torch(a, td, requires_grad=True) for a in (query, key, value)]
    pt = {n: to_torch(p[n], td, requires_grad=True) for n in MHA_PARAMS}
    with torch.enable_grad():
        L = (to_torch(dy, td) * _mha(*xs, pt, H, causal)).sum()
        grads = torch.autograd.grad(L, xs + [pt[n] for n in MHA_PARAMS])
    return {"query": to_numpy(grads[0], dt), "key": to_numpy(grads[1], dt), "value": to_numpy(grads[2], dt),
            "params": {n: to_numpy(g, dt) for n, g in zip(MHA_PARAMS, grads[3:])}}
