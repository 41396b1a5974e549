"""The float64 attention oracle, written from the derivations (attn.*), by routes the references do not take.

- softmax (attn.softmax.definition, attn.softmax.shift_invariance): s_i = 1 / sum_j exp(x_j - x_i), one
  reciprocal per entry, no max shift: the term j = i is 1, so the sum is >= 1, and a term that overflows to inf
  gives s_i = 0, the correctly rounded limit (the true value is below exp(-709)).
- softmax VJP (attn.softmax.jacobian, .symmetric): the explicit n x n Jacobian diag(s) - s s^T per row,
  applied to the cotangent.
- attention (attn.sdpa.forward, attn.causal.mask): logits by explicit correctly rounded sums (math.fsum of the
  products q_ia k_ja, then / sqrt(d)); with the causal mask each row i is the softmax over the allowed prefix
  j <= i only (no -inf anywhere); y = P V by fsum.
- attention VJP (attn.sdpa.grad_*): dV = P^T dY, dP = dY V^T, dS row i = J(P_i) dP_i with the explicit
  Jacobian (of the prefix under the mask), dQ = dS K / sqrt(d), dK = dS^T Q / sqrt(d).
- MHA (attn.mha.concat): y = sum_h head_h W_o[:, B_h]^T + b_o (the block sum, not the concatenation), each
  head by the attention oracle; the VJP chains the attention oracle's VJP per head.

Arrays: softmax x (..., n); attention q (B, Tq, d), k (B, Tk, d), v (B, Tk, dv); MHA (B, T, E) and params
W_q, W_k, W_v, W_o (E, E), b_q, b_k, b_v, b_o (E,). Everything in float64; inputs are never mutated.
"""
from __future__ import annotations

import math

import numpy as np

PARAMS = ("W_q", "W_k", "W_v", "W_o", "b_q", "b_k", "b_v", "b_o")


def _f64(*arrays):
    return [np.asarray(a, np.float64) for a in arrays]


def softmax_row(x) -> np.ndarray:
    """s_i = 1 / sum_j exp(x_j - x_i) of one row (n,); where that sum overflows (s_i below ~5.6e-309, in or
    under the subnormal range) s_i = exp(x_i - max x) / sum_j exp(x_j - max x) instead, which keeps a subnormal
    s_i (the 1/sum form returned 0 there: a false alarm against a target that got the subnormal right)."""
    (x,) = _f64(x)
    with np.errstate(over="ignore", under="ignore"):
        E = np.exp(x[None, :] - x[:, None])  # E[i, j] = exp(x_j - x_i); E[i, i] = 1
        total = E.sum(axis=1)
        shifted = np.exp(x - x.max())
        return np.where(np.isinf(total), shifted / shifted.sum(), 1.0 / total)


def softmax(x) -> np.ndarray:
    """Row-wise over the last axis, any leading shape. [attn.softmax.definition]"""
    (x,) = _f64(x)
    flat = x.reshape(-1, x.shape[-1])
    return np.stack([softmax_row(r) for r in flat]).reshape(x.shape) if flat.size else x.copy()


def jacobian(s) -> np.ndarray:
    """J = diag(s) - s s^T of one row s (n,). [attn.softmax.jacobian]"""
    (s,) = _f64(s)
    return np.diag(s) - np.outer(s, s)


def softmax_vjp(x, ds) -> np.ndarray:
    """dx = J ds per row (J symmetric: attn.softmax.jacobian.symmetric)."""
    x, ds = _f64(x, ds)
    s = softmax(x).reshape(-1, x.shape[-1])
    g = ds.reshape(-1, x.shape[-1])
    return np.stack([jacobian(si) @ gi for si, gi in zip(s, g)]).reshape(x.shape)


def logits(q, k) -> np.ndarray:
    """S[b, i, j] = fsum_a(q[b, i, a] k[b, j, a]) / sqrt(d), explicit correctly rounded sums."""
    q, k = _f64(q, k)
    B, Tq, d = q.shape
    Tk = k.shape[1]
    S = np.empty((B, Tq, Tk))
    for b in range(B):
        for i in range(Tq):
            for j in range(Tk):
                S[b, i, j] = math.fsum(q[b, i] * k[b, j]) / math.sqrt(d)
    return S


def allowed(Tq: int, Tk: int, causal: bool) -> np.ndarray:
    """(Tq, Tk) bool: True where row i may attend to j (j <= i under the top-left causal mask)."""
    i, j = np.arange(Tq)[:, None], np.arange(Tk)[None, :]
    return (j <= i) if causal else np.ones((Tq, Tk), bool)


def weights(q, k, causal: bool) -> np.ndarray:
    """P (B, Tq, Tk): the softmax of each row of the logits over its allowed prefix, 0 elsewhere. [attn.causal.mask]"""
    S = logits(q, k)
    B, Tq, Tk = S.shape
    A = allowed(Tq, Tk, causal)
    P = np.zeros_like(S)
    for i in range(Tq):
        n = int(A[i].sum())
        P[:, i, :n] = softmax(S[:, i, :n])  # the allowed set is the prefix j < n
    return P


def _fsum_matmul(a, b) -> np.ndarray:
    """(B, m, k) @ (B, k, n) with every entry a correctly rounded fsum."""
    B, m, _ = a.shape
    n = b.shape[2]
    out = np.empty((B, m, n))
    for bb in range(B):
        for i in range(m):
            for c in range(n):
                out[bb, i, c] = math.fsum(a[bb, i, :] * b[bb, :, c])
    return out


def attention(q, k, v, causal: bool) -> np.ndarray:
    """y = P V (B, Tq, dv). [attn.sdpa.forward]"""
    (v,) = _f64(v)
    return _fsum_matmul(weights(q, k, causal), v)


def attention_vjp(q, k, v, causal: bool, dy) -> dict:
    """{"q", "k", "v"}: gradients of <dy, y> through the explicit per-row Jacobian. [attn.sdpa.grad_*]"""
    q, k, v, dy = _f64(q, k, v, dy)
    d = q.shape[2]
    P = weights(q, k, causal)
    dV = _fsum_matmul(np.swapaxes(P, 1, 2), dy)
    dP = _fsum_matmul(dy, np.swapaxes(v, 1, 2))
    B, Tq, Tk = P.shape
    A = allowed(Tq, Tk, causal)
    dS = np.zeros_like(P)
    for b in range(B):
        for i in range(Tq):
            n = int(A[i].sum())
            dS[b, i, :n] = jacobian(P[b, i, :n]) @ dP[b, i, :n]
    return {"q": _fsum_matmul(dS, k) / math.sqrt(d), "k": _fsum_matmul(np.swapaxes(dS, 1, 2), q) / math.sqrt(d),
            "v": dV}


def _blocks(E: int, H: int):
    dh = E // H
    return [slice(h * dh, (h + 1) * dh) for h in range(H)]


def projections(query, key, value, params, num_heads: int):
    """[(Q_h, K_h, V_h)] per head: X W[B_h]^T + b[B_h], rows B_h = [h E/H, (h+1) E/H) of W_q, W_k, W_v."""
    query, key, value = _f64(query, key, value)
    p = {n: np.asarray(params[n], np.float64) for n in PARAMS}
    out = []
    for blk in _blocks(query.shape[2], num_heads):
        out.append(tuple(X @ p[f"W_{n}"][blk].T + p[f"b_{n}"][blk]
                         for X, n in ((query, "q"), (key, "k"), (value, "v"))))
    return out


def heads(query, key, value, params, num_heads: int, causal: bool) -> list:
    """[head_h (B, Tq, E/H)]: the attention oracle of each head's projections."""
    return [attention(Q, K, V, causal) for Q, K, V in projections(query, key, value, params, num_heads)]


def mha(query, key, value, params, num_heads: int, causal: bool) -> np.ndarray:
    """y = sum_h head_h W_o[:, B_h]^T + b_o. [attn.mha.concat]"""
    W_o, b_o = _f64(params["W_o"], params["b_o"])
    hs = heads(query, key, value, params, num_heads, causal)
    y = sum(h @ W_o[:, blk].T for h, blk in zip(hs, _blocks(W_o.shape[0], num_heads)))
    return y + b_o


def mha_vjp(query, key, value, params, num_heads: int, causal: bool, dy) -> dict:
    """{"query", "key", "value", "params": {name: grad}} of <dy, y>, head by head."""
    query, key, value, dy = _f64(query, key, value, dy)
    p = {n: np.asarray(params[n], np.float64) for n in PARAMS}
    E = query.shape[2]
    g = {n: np.zeros_like(p[n]) for n in PARAMS}
    dX = {"q": np.zeros_like(query), "k": np.zeros_like(key), "v": np.zeros_like(value)}
    X = {"q": query, "k": key, "v": value}
    g["b_o"] = dy.sum(axis=(0, 1))
    for blk, (Q, K, V) in zip(_blocks(E, num_heads), projections(query, key, value, params, num_heads)):
        head = attention(Q, K, V, causal)
        g["W_o"][:, blk] = np.einsum("bti,btj->ij", dy, head)
        dhead = dy @ p["W_o"][:, blk]
        dqkv = attention_vjp(Q, K, V, causal, dhead)
        for n in ("q", "k", "v"):
            dP = dqkv[n]  # (B, T, E/H): the gradient of the projection X W[B_h]^T + b[B_h]
            g[f"W_{n}"][blk] = np.einsum("bti,btj->ij", dP, X[n])
            g[f"b_{n}"][blk] = dP.sum(axis=(0, 1))
            dX[n] += dP @ p[f"W_{n}"][blk]
    return {"query": dX["q"], "key": dX["k"], "value": dX["v"], "params": g}
