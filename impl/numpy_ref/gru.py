"""GRU in NumPy, both reset variants: cell, time-major forward, hand-written BPTT backward (no autodiff).

Column-vector math, gate order r, z, n (as in torch.nn.GRU); z multiplies the previous state:
    r = sigmoid(W_xr x + W_hr h + b_r),  z = sigmoid(W_xz x + W_hz h + b_z),  h' = z * h + (1 - z) * n,
    "reset_after"  (PyTorch, cuDNN, Keras default): n = tanh(W_xn x + b_xn + r * (W_hn h + b_hn)),
    "reset_before" (Keras reset_after=False, d2l):  n = tanh(W_xn x + b_xn + b_hn + W_hn (r * h)),
computed on batch rows (``x @ W_x*.T + h @ W_h*.T + b``). Shapes: W_x* (n, m), W_h* (n, n), b* (n,);
x (B, m), h (B, n); xs (T, B, m), hs (T, B, n). Under reset_before b_xn and b_hn only act as their sum, so
dL/db_xn = dL/db_hn (both are the gradient of that sum). The input projections of the three gates (and of
all time steps) are one (T*B, m) @ (m, 3n) matmul. Computation runs in the inputs' (common) floating dtype.

Backward of L = <d_hs, hs> + <d_hT, h_T>, latest step first, with dh = dL/dh_t (from d_hs[t] and from
step t + 1) and h = h_{t-1}:
    da_z = dh * (h - n) * z (1 - z),  da_n = dh * (1 - z) * (1 - n^2)   (da_*: dL/d pre-activation)
    reset_after:  with u = W_hn h + b_hn:  da_r = da_n * u * r (1 - r),
                  dL/dh = dh * z + [da_r, da_z, da_n * r] @ W_h,  dL/dW_hn = sum (da_n * r)^T h,
                  dL/db_hn = sum da_n * r,  dL/db_xn = sum da_n
    reset_before: with e = da_n @ W_hn (the gradient of r * h):  da_r = e * h * r (1 - r),
                  dL/dh = dh * z + e * r + [da_r, da_z] @ W_h[r, z],  dL/dW_hn = sum da_n^T (r * h),
                  dL/db_xn = dL/db_hn = sum da_n
    dL/dx_t = [da_r, da_z, da_n] @ W_x,  dL/dW_x* = sum da_*^T x_t,  dL/dW_hr,z = sum da_r,z^T h,
    dL/db_r,z = sum da_r,z   (sums over time and batch).
"""
from __future__ import annotations

import numpy as np

from . import _checks
from .activations import dsigmoid_from_output, dtanh_from_output, sigmoid, tanh

PARAMS = _checks.GRU_PARAMS
VARIANTS = _checks.GRU_VARIANTS


def stack(params: dict, dt, variant: str):
    """(W_x (3n, m), W_h (3n, n), b_x (3n,), b_hn (n,)) in gate order r, z, n and dtype ``dt``.

    b_x = [b_r, b_z, b_xn] for reset_after and [b_r, b_z, b_xn + b_hn] for reset_before."""
    W_x = np.concatenate([params["W_xr"], params["W_xz"], params["W_xn"]], axis=0).astype(dt, copy=False)
    W_h = np.concatenate([params["W_hr"], params["W_hz"], params["W_hn"]], axis=0).astype(dt, copy=False)
    b_hn = params["b_hn"].astype(dt, copy=False)
    b_n = params["b_xn"].astype(dt, copy=False)
    if variant == "reset_before":
        b_n = b_n + b_hn
    b_x = np.concatenate([params["b_r"].astype(dt, copy=False), params["b_z"].astype(dt, copy=False), b_n])
    return W_x, W_h, b_x, b_hn


def _step(px, h, W_h, b_hn, variant, gates, aux, out):
    """One recurrence step from the input projection px (B, 3n) and h (B, n).

    Writes [r, z, n] into gates (B, 3n), u = W_hn h + b_hn (reset_after) or r * h (reset_before) into
    aux (B, n), and h' into out (B, n)."""
    n = h.shape[1]
    if variant == "reset_after":
        hh = h @ W_h.T  # (B, 3n)
        gates[:, : 2 * n] = sigmoid(px[:, : 2 * n] + hh[:, : 2 * n])
        np.add(hh[:, 2 * n :], b_hn, out=aux)
        r = gates[:, :n]
        gates[:, 2 * n :] = tanh(px[:, 2 * n :] + r * aux)
    else:
        hh = h @ W_h[: 2 * n].T  # (B, 2n)
        gates[:, : 2 * n] = sigmoid(px[:, : 2 * n] + hh)
        np.multiply(gates[:, :n], h, out=aux)
        gates[:, 2 * n :] = tanh(px[:, 2 * n :] + aux @ W_h[2 * n :].T)
    z, cand = gates[:, n : 2 * n], gates[:, 2 * n :]
    np.subtract(h, cand, out=out)  # h' = n + z (h - n) = z h + (1 - z) n
    out *= z
    out += cand


def gru_cell(x, h, p, variant: str = "reset_after"):
    """One step: x (B, m), h (B, n) -> h' (B, n); ``variant`` is "reset_after" or "reset_before"."""
    fn = "gru_cell"
    variant = _checks.gru_variant(fn, variant)
    x, (h,), params, dt = _checks.gated_step(fn, x, [("h", h)], p, PARAMS)
    W_x, W_h, b_x, b_hn = stack(params, dt, variant)
    h = h.astype(dt, copy=False)
    B, n = h.shape
    px = x.astype(dt, copy=False) @ W_x.T
    px += b_x
    out = np.empty((B, n), dt)
    _step(px, h, W_h, b_hn, variant, np.empty((B, 3 * n), dt), np.empty((B, n), dt), out)
    return out


def _forward(fn, xs, h0, p, variant):
    """Shared forward: (hs, gates (T, B, 3n), aux (T, B, n), cast inputs)."""
    variant = _checks.gru_variant(fn, variant)
    xs, (h0,), params, dt = _checks.gated_sequence(fn, xs, [("h0", h0)], p, PARAMS)
    xs, h0 = xs.astype(dt, copy=False), h0.astype(dt, copy=False)
    W_x, W_h, b_x, b_hn = stack(params, dt, variant)
    T, B, m = xs.shape
    n = W_h.shape[1]
    # input projection of all steps and all three gates at once: (T*B, m) @ (m, 3n) + b_x
    px = (xs.reshape(T * B, m) @ W_x.T).reshape(T, B, 3 * n)
    px += b_x
    gates = np.empty((T, B, 3 * n), dt)
    aux = np.empty((T, B, n), dt)
    hs = np.empty((T, B, n), dt)
    h = h0
    for t in range(T):
        _step(px[t], h, W_h, b_hn, variant, gates[t], aux[t], hs[t])
        h = hs[t]
    return hs, gates, aux, (xs, h0, W_x, W_h, dt, variant)


def gru_forward(xs, h0, p, variant: str = "reset_after"):
    """xs (T, B, m), h0 (B, n) -> (hs (T, B, n), h_T (B, n)); T = 0 gives a copy of h0."""
    hs, _, _, (_, h0c, *_rest) = _forward("gru_forward", xs, h0, p, variant)
    return hs, (hs[-1].copy() if hs.shape[0] else h0c.copy())


def gru_vjp(xs, h0, p, d_hs, d_hT, variant: str = "reset_after") -> dict:
    """Hand-written BPTT: gradients of L = sum(d_hs * hs) + sum(d_hT * h_T) (None cotangents mean zeros).

    Returns {"xs": (T, B, m), "h0": (B, n), "params": {the 10 names}}; under reset_before the entries
    "b_xn" and "b_hn" are equal.
    """
    fn = "gru_vjp"
    hs, gates, aux, (xs, h0, W_x, W_h, dt, variant) = _forward(fn, xs, h0, p, variant)
    T, B, m = xs.shape
    n = W_h.shape[1]
    d_hs, d_hT = _checks.cotangents(fn, d_hs, d_hT, T, B, n, dt)
    d_hs = d_hs.astype(dt, copy=False)
    after = variant == "reset_after"

    da = np.empty((T, B, 3 * n), dt)  # dL/d(x-side pre-activations) r, z, n
    dn_h = np.empty((T, B, n), dt)  # reset_after: da_n * r = dL/du;  reset_before: da_n
    dh = d_hT.astype(dt, copy=True)
    for t in range(T - 1, -1, -1):
        dh += d_hs[t]
        h = hs[t - 1] if t else h0
        r, z, cand = gates[t, :, :n], gates[t, :, n : 2 * n], gates[t, :, 2 * n :]
        da_n = da[t, :, 2 * n :]
        np.multiply(dh * (1.0 - z), dtanh_from_output(cand), out=da_n)
        da[t, :, n : 2 * n] = dh * (h - cand) * dsigmoid_from_output(z)
        if after:
            da[t, :, :n] = da_n * aux[t] * dsigmoid_from_output(r)
            np.multiply(da_n, r, out=dn_h[t])
            dh_prev = dh * z
            dh_prev += da[t, :, : 2 * n] @ W_h[: 2 * n]
            dh_prev += dn_h[t] @ W_h[2 * n :]
        else:
            e = da_n @ W_h[2 * n :]  # dL/d(r * h)
            da[t, :, :n] = e * h * dsigmoid_from_output(r)
            dn_h[t] = da_n
            dh_prev = dh * z
            dh_prev += e * r
            dh_prev += da[t, :, : 2 * n] @ W_h[: 2 * n]
        dh = dh_prev
    # dh is now dL/dh0 (d_hT when T = 0)
    h_prev = np.empty((T, B, n), dt)
    if T:
        h_prev[0] = h0
        h_prev[1:] = hs[:-1]
    D = da.reshape(T * B, 3 * n)
    Hp = h_prev.reshape(T * B, n)
    dW_x = D.T @ xs.reshape(T * B, m)
    dW_hrz = D[:, : 2 * n].T @ Hp
    Dn = dn_h.reshape(T * B, n)
    dW_hn = Dn.T @ (Hp if after else aux.reshape(T * B, n))
    db = D.sum(axis=0)
    db_hn = Dn.sum(axis=0) if after else db[2 * n :].copy()
    params = {
        "W_xr": dW_x[:n], "W_hr": dW_hrz[:n], "b_r": db[:n],
        "W_xz": dW_x[n : 2 * n], "W_hz": dW_hrz[n:], "b_z": db[n : 2 * n],
        "W_xn": dW_x[2 * n :], "W_hn": dW_hn, "b_xn": db[2 * n :], "b_hn": db_hn,
    }
    return {"xs": (D @ W_x).reshape(T, B, m), "h0": dh, "params": params}
