"""Softmax, scaled dot-product attention and multi-head attention in NumPy, with a hand-written backward.

softmax(x): over the last axis, any leading shape, max-shifted (attn.softmax.stable):
    m = max_j x_j, e = exp(x - m) (every exponent <= 0: no overflow), s = e / sum e (sum in [1, n]).
softmax_vjp(x, ds) = s * (ds - sum(ds * s)) per row (attn.softmax.jacobian: (diag(s) - s s^T) ds).
attention(q, k, v, causal): q (B, Tq, d), k (B, Tk, d), v (B, Tk, dv);
    S = q k^T / sqrt(d), S[i, j] = -inf for j > i when causal (top-left, torch's is_causal), P = softmax(S), y = P v.
attention_vjp (L = <dy, y>; attn.sdpa.grad_*): dV = P^T dY, dP = dY V^T, dS = P (dP - rowsum(dP P)),
    dQ = dS K / sqrt(d), dK = dS^T Q / sqrt(d) (masked P_ij = 0, so their dS_ij = 0).
mha(query, key, value, params, num_heads, causal): (B, T, E) batch first; head h uses rows [h E/H, (h+1) E/H)
    of W_q, W_k, W_v (head dim E/H, scale 1/sqrt(E/H)); y = concat_h(head_h) W_o^T + b_o.
mha_vjp: the chain by hand: dW_o = sum dy^T concat, db_o = sum dy, dconcat = dy W_o, the attention backward
    per head, dW_n = sum dN^T X_n, db_n = sum dN, dX_n = dN W_n (n = q, k, v).

Computed in the inputs' common dtype (float32 or float64), returned as new arrays of it; inputs are never
mutated. Bad input raises ValueError / TypeError naming the function and the argument (`checks.attention`).
"""
from __future__ import annotations

import numpy as np

from .checks.attention import attention_args, mha_args, softmax_args
from .arith import total


def _softmax(x):
    m = x.max(axis=-1, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_bwd(s, ds):
    return s * (ds - (ds * s).sum(axis=-1, keepdims=True))


def softmax(x):
    """s = exp(x - max) / sum exp(x - max) over the last axis."""
    x, _, dt = softmax_args("softmax", x)
    return _softmax(x.astype(dt, copy=False)).astype(dt, copy=False)


def softmax_vjp(x, ds):
    """dx = s * (ds - sum(ds * s)) per row (the VJP of softmax, by hand)."""
    x, ds, dt = softmax_args("softmax_vjp", x, ds, with_ds=True)
    s = _softmax(x.astype(dt, copy=False))
    return _softmax_bwd(s, ds.astype(dt, copy=False)).astype(dt, copy=False)


def _mask(Tq, Tk):
    """(Tq, Tk) bool, True where masked (j > i)."""
    return np.arange(Tk)[None, :] > np.arange(Tq)[:, None]


def _weights(q, k, causal):
    dt = q.dtype
    S = (q @ np.swapaxes(k, -1, -2)) * dt.type(1.0 / np.sqrt(q.shape[-1]))
    if causal:
        S = np.where(_mask(q.shape[-2], k.shape[-2]), dt.type(-np.inf), S)
    return _softmax(S)


def _attention_bwd(q, k, v, P, dy):
    scale = q.dtype.type(1.0 / np.sqrt(q.shape[-1]))
    dV = np.swapaxes(P, -1, -2) @ dy
    dP = dy @ np.swapaxes(v, -1, -2)
    dS = _softmax_bwd(P, dP)
    return dS @ k * scale, np.swapaxes(dS, -1, -2) @ q * scale, dV


def attention(q, k, v, causal):
    """y = softmax(q k^T / sqrt(d) + M) v, (B, Tq, dv)."""
    q, k, v, causal, _, dt = attention_args("attention", q, k, v, causal)
    q, k, v = (a.astype(dt, copy=False) for a in (q, k, v))
    return (_weights(q, k, causal) @ v).astype(dt, copy=False)


def attention_vjp(q, k, v, causal, dy):
    """Gradients of <dy, y> -> {"q", "k", "v"}, by hand."""
    q, k, v, causal, dy, dt = attention_args("attention_vjp", q, k, v, causal, dy, with_dy=True)
    q, k, v, dy = (a.astype(dt, copy=False) for a in (q, k, v, dy))
    dq, dk, dv = _attention_bwd(q, k, v, _weights(q, k, causal), dy)
    return {"q": dq.astype(dt, copy=False), "k": dk.astype(dt, copy=False), "v": dv.astype(dt, copy=False)}


def _split(X, H):
    """(B, T, E) -> (B, H, T, E/H)."""
    B, T, E = X.shape
    return X.reshape(B, T, H, E // H).transpose(0, 2, 1, 3)


def _merge(X):
    """(B, H, T, dh) -> (B, T, H dh)."""
    B, H, T, dh = X.shape
    return X.transpose(0, 2, 1, 3).reshape(B, T, H * dh)


def _mha_forward(query, key, value, p, H, causal):
    Q = _split(query @ p["W_q"].T + p["b_q"], H)
    K = _split(key @ p["W_k"].T + p["b_k"], H)
    V = _split(value @ p["W_v"].T + p["b_v"], H)
    P = _weights(Q, K, causal)
    concat = _merge(P @ V)
    return concat @ p["W_o"].T + p["b_o"], (Q, K, V, P, concat)


def mha(query, key, value, params, num_heads, causal):
    """Multi-head attention (B, Tq, E); see the module docstring."""
    query, key, value, p, H, causal, _, dt = mha_args("mha", query, key, value, params, num_heads, causal)
    query, key, value = (a.astype(dt, copy=False) for a in (query, key, value))
    p = {n: a.astype(dt, copy=False) for n, a in p.items()}
    return _mha_forward(query, key, value, p, H, causal)[0].astype(dt, copy=False)


def mha_vjp(query, key, value, params, num_heads, causal, dy):
    """Gradients of <dy, y> -> {"query", "key", "value", "params": {name: grad}}, by hand."""
    query, key, value, p, H, causal, dy, dt = mha_args("mha_vjp", query, key, value, params, num_heads, causal,
                                                       dy, with_dy=True)
    query, key, value, dy = (a.astype(dt, copy=False) for a in (query, key, value, dy))
    p = {n: a.astype(dt, copy=False) for n, a in p.items()}
    _, (Q, K, V, P, concat) = _mha_forward(query, key, value, p, H, causal)
    g = {"W_o": np.einsum("btj,bti->ji", dy, concat), "b_o": total(dy, (0, 1))}
    dconcat = _split(dy @ p["W_o"], H)
    dQ, dK, dV = (_merge(a) for a in _attention_bwd(Q, K, V, P, dconcat))
    out = {}
    for n, X, dN in (("q", query, dQ), ("k", key, dK), ("v", value, dV)):
        g[f"W_{n}"] = np.einsum("bti,btj->ij", dN, X)
        g[f"b_{n}"] = total(dN, (0, 1))
        out[n] = dN @ p[f"W_{n}"]
    grads = {n: g[n].astype(dt, copy=False) for n in ("W_q", "W_k", "W_v", "W_o", "b_q", "b_k", "b_v", "b_o")}
    return {"query": out["q"].astype(dt, copy=False), "key": out["k"].astype(dt, copy=False),
            "value": out["v"].astype(dt, copy=False), "params": grads}
