"""LSTM in NumPy: cell, time-major forward, and a hand-written BPTT backward through c and h (no autodiff).

Column-vector math, gate order i, f, g, o (as in torch.nn.LSTM):
    i = sigmoid(W_xi x + W_hi h + b_i),  f = sigmoid(W_xf x + W_hf h + b_f),
    g = tanh(W_xg x + W_hg h + b_g),     o = sigmoid(W_xo x + W_ho h + b_o),
    c' = f * c + i * g,                  h' = o * tanh(c'),
computed on batch rows (``x @ W_x*.T + h @ W_h*.T + b_*``). Shapes: W_x* (n, m), W_h* (n, n), b_* (n,);
x (B, m), h and c (B, n); xs (T, B, m), hs (T, B, n). Internally the four gate blocks are stacked into
one (4n, m) input and one (4n, n) recurrent matrix, so each step is one matmul. Computation runs in the
inputs' (common) floating dtype; sigmoid is the overflow-free tanh form of `activations.sigmoid`.

Backward of L = <d_hs, hs> + <d_hT, h_T> + <d_cT, c_T>, latest step first. With dh = dL/dh_t (from
d_hs[t] and step t + 1) and dc = dL/dc_t (from step t + 1, through c alone), at step t:
    dc += dh * o * (1 - tanh(c_t)^2)              (the path h_t = o tanh(c_t))
    da_i = dc * g * i (1 - i),  da_f = dc * c_{t-1} * f (1 - f),
    da_g = dc * i * (1 - g^2),  da_o = dh * tanh(c_t) * o (1 - o),
    dL/dc_{t-1} = dc * f        (the constant-error carousel),
    dL/dh_{t-1} = d_hs[t-1] + da @ W_h,  dL/dx_t = da @ W_x,
    dL/dW_x* = sum_t da_*^T x_t,  dL/dW_h* = sum_t da_*^T h_{t-1},  dL/db_* = sum over t and batch of da_*,
with da = [da_i, da_f, da_g, da_o] (B, 4n) and W_x, W_h the stacked matrices. In numerator layout this
is the transpose of the product of the 2n x 2n state Jacobians d(h_t, c_t)/d(h_{t-1}, c_{t-1}).
"""
from __future__ import annotations

import numpy as np

from . import _checks
from .activations import dsigmoid_from_output, dtanh_from_output, sigmoid, tanh

PARAMS = _checks.LSTM_PARAMS
GATES = _checks.LSTM_GATES


def stack(params: dict, dt):
    """(W_x (4n, m), W_h (4n, n), b (4n,)) with the gate blocks in order i, f, g, o, in dtype ``dt``."""
    W_x = np.concatenate([params[f"W_x{g}"] for g in GATES], axis=0).astype(dt, copy=False)
    W_h = np.concatenate([params[f"W_h{g}"] for g in GATES], axis=0).astype(dt, copy=False)
    b = np.concatenate([params[f"b_{g}"] for g in GATES]).astype(dt, copy=False)
    return W_x, W_h, b


def _activate(a, out, n):
    """Gate activations of the pre-activations a (B, 4n) into out (B, 4n): sigmoid, sigmoid, tanh, sigmoid."""
    out[:, : 2 * n] = sigmoid(a[:, : 2 * n])
    out[:, 2 * n : 3 * n] = tanh(a[:, 2 * n : 3 * n])
    out[:, 3 * n :] = sigmoid(a[:, 3 * n :])


def lstm_cell(x, h, c, p):
    """One step: x (B, m), h (B, n), c (B, n) -> (h' (B, n), c' (B, n)); see the module formula."""
    fn = "lstm_cell"
    x, (h, c), params, dt = _checks.gated_step(fn, x, [("h", h), ("c", c)], p, PARAMS)
    W_x, W_h, b = stack(params, dt)
    n = W_h.shape[1]
    a = x.astype(dt, copy=False) @ W_x.T
    a += h.astype(dt, copy=False) @ W_h.T
    a += b
    gates = np.empty_like(a)
    _activate(a, gates, n)
    i, f, g, o = (gates[:, k * n : (k + 1) * n] for k in range(4))
    c_new = f * c.astype(dt, copy=False) + i * g
    return o * tanh(c_new), c_new


def _forward(fn, xs, h0, c0, p):
    """Shared forward: (hs, cs, gates (T, B, 4n), tanh(cs), cast inputs)."""
    xs, (h0, c0), params, dt = _checks.gated_sequence(fn, xs, [("h0", h0), ("c0", c0)], p, PARAMS)
    xs, h0, c0 = (a.astype(dt, copy=False) for a in (xs, h0, c0))
    W_x, W_h, b = stack(params, dt)
    T, B, m = xs.shape
    n = W_h.shape[1]
    # input projection of all steps at once: (T*B, m) @ (m, 4n) + b
    pre = (xs.reshape(T * B, m) @ W_x.T).reshape(T, B, 4 * n)
    pre += b
    gates = np.empty((T, B, 4 * n), dt)
    hs = np.empty((T, B, n), dt)
    cs = np.empty((T, B, n), dt)
    tcs = np.empty((T, B, n), dt)
    W_hT = W_h.T
    h, c = h0, c0
    for t in range(T):
        pre[t] += h @ W_hT
        _activate(pre[t], gates[t], n)
        i, f, g, o = (gates[t, :, k * n : (k + 1) * n] for k in range(4))
        np.multiply(f, c, out=cs[t])
        cs[t] += i * g
        tcs[t] = tanh(cs[t])
        np.multiply(o, tcs[t], out=hs[t])
        h, c = hs[t], cs[t]
    return hs, cs, gates, tcs, (xs, h0, c0, W_x, W_h, dt)


def lstm_forward(xs, h0, c0, p):
    """xs (T, B, m), h0 (B, n), c0 (B, n) -> (hs (T, B, n), (h_T, c_T)); T = 0 gives (h0, c0) copies."""
    hs, cs, _, _, (_, h0c, c0c, *_rest) = _forward("lstm_forward", xs, h0, c0, p)
    if hs.shape[0]:
        return hs, (hs[-1].copy(), cs[-1].copy())
    return hs, (h0c.copy(), c0c.copy())


def lstm_vjp(xs, h0, c0, p, d_hs, d_hT, d_cT) -> dict:
    """Hand-written BPTT: gradients of L = sum(d_hs * hs) + sum(d_hT * h_T) + sum(d_cT * c_T).

    Returns {"xs": (T, B, m), "h0": (B, n), "c0": (B, n), "params": {the 12 names}}; a None cotangent
    means zeros.
    """
    fn = "lstm_vjp"
    hs, cs, gates, tcs, (xs, h0, c0, W_x, W_h, dt) = _forward(fn, xs, h0, c0, p)
    T, B, m = xs.shape
    n = W_h.shape[1]
    d_hs, d_hT = _checks.cotangents(fn, d_hs, d_hT, T, B, n, dt)
    d_cT = _checks.state_cotangent(fn, "d_cT", d_cT, B, n, dt)
    d_hs = d_hs.astype(dt, copy=False)

    da = np.empty((T, B, 4 * n), dt)  # dL/d(pre-activations), gate blocks i, f, g, o
    dh = d_hT.astype(dt, copy=True)
    dc = d_cT.astype(dt, copy=True)
    for t in range(T - 1, -1, -1):
        dh += d_hs[t]
        i, f, g, o = (gates[t, :, k * n : (k + 1) * n] for k in range(4))
        c_prev = cs[t - 1] if t else c0
        dc += dh * o * dtanh_from_output(tcs[t])
        da[t, :, :n] = dc * g * dsigmoid_from_output(i)
        da[t, :, n : 2 * n] = dc * c_prev * dsigmoid_from_output(f)
        da[t, :, 2 * n : 3 * n] = dc * i * dtanh_from_output(g)
        da[t, :, 3 * n :] = dh * tcs[t] * dsigmoid_from_output(o)
        dc *= f
        dh = da[t] @ W_h
    # dh, dc are now dL/dh0, dL/dc0 (d_hT, d_cT when T = 0)
    h_prev = np.empty((T, B, n), dt)
    if T:
        h_prev[0] = h0
        h_prev[1:] = hs[:-1]
    D = da.reshape(T * B, 4 * n)
    dW_x = D.T @ xs.reshape(T * B, m)
    dW_h = D.T @ h_prev.reshape(T * B, n)
    db = D.sum(axis=0)
    params = {}
    for k, g in enumerate(GATES):
        s = slice(k * n, (k + 1) * n)
        params[f"W_x{g}"], params[f"W_h{g}"], params[f"b_{g}"] = dW_x[s], dW_h[s], db[s]
    return {"xs": (D @ W_x).reshape(T, B, m), "h0": dh, "c0": dc, "params": params}
