"""GRU in NumPy, both reset variants: cell, time-major forward, hand-written BPTT backward (no autodiff).

Column-vector math, gate order r, z, n (as in torch.nn.GRU); z multiplies the previous state:
    r = sigmoid(W_xr x + W_hr h + b_r),  z = sigmoid(W_xz x + W_hz h + b_z),  h' = z * h + (1 - z) * n,
    "reset_after"  (PyTorch, cuDNN, Keras default): n = tanh(W_xn x + b_xn + r * (W_hn h + b_hn)),
    "reset_before" (Keras reset_after=False, d2l):  n = tanh(W_xn x + b_xn + b_hn + W_hn (r * h)),
computed on batch rows (``x @ W_x*.T + h @ W_h*.T + b``). Shapes: W_x* (n, m), W_h* (n, n), b* (n,);
x (B, m), h (B, n); xs (T, B, m), hs (T, B, n). Under reset_before b_xn and b_hn only act as their sum, so
dL/db_xn = dL/db_hn (both are the gradient of that sum). Computation runs in the inputs' (common)
floating dtype.

Backward of L = <d_hs, hs> + <d_hT, h_T> (numerator layout: every dL/d(.) has the shape of its
argument), latest step first, with dh = dL/dh_t (from d_hs[t] and from step t + 1) and h = h_{t-1}:
    da_z = dh * (h - n) * z (1 - z),  da_n = dh * (1 - z) * (1 - n^2)   (da_*: dL/d pre-activation)
    reset_after:  with u = W_hn h + b_hn:  da_r = da_n * u * r (1 - r),
                  dL/dh = dh * z + [da_r, da_z] @ W_h[r, z] + (da_n * r) @ W_hn,
                  dL/dW_hn = sum (da_n * r)^T h,  dL/db_hn = sum da_n * r,  dL/db_xn = sum da_n
    reset_before: with e = da_n @ W_hn (the gradient of r * h):  da_r = e * h * r (1 - r),
                  dL/dh = dh * z + e * r + [da_r, da_z] @ W_h[r, z],  dL/dW_hn = sum da_n^T (r * h),
                  dL/db_xn = dL/db_hn = sum da_n
    dL/dx_t = [da_r, da_z, da_n] @ W_x,  dL/dW_x* = sum da_*^T x_t,  dL/dW_hr,z = sum da_r,z^T h,
    dL/db_r,z = sum da_r,z   (sums over time and batch).

How it is computed (the floating-point operations of a plain per-step loop, in the same order, arranged
for BLAS):
  * the gates are stacked, W_x = [W_xr; W_xz; W_xn] (3n, m) and W_h = [W_hr; W_hz; W_hn] (3n, n); the
    input projection of all steps is one (T*B, m) @ (m, 3n) matmul before the time loop;
  * a step's recurrent product is one (B, n) @ (n, 3n) matmul (reset_after), or (B, n) @ (n, 2n) for
    r, z plus (B, n) @ (n, n) for W_hn (r * h) once r is known (reset_before); the forward copies of
    the weights are stored transposed and contiguous (BLAS's fast layout);
  * sigmoid(a) = 0.5 + 0.5 tanh(a / 2). The forward weights and biases of r and z are multiplied by
    0.5 in advance (exact in binary floating point, barring underflow), so the matmuls deliver a / 2
    and one np.tanh call serves the r and z blocks together;
  * element-wise work writes into preallocated buffers (``out=``) and runs on contiguous (B, n) gate
    blocks: a step copies its (B, 3n) matmul rows once into gate-major (3, B, n) form, since NumPy's
    element-wise loops are several times slower on the (B, n) column slices of a (B, 3n) array;
  * one (T, B, 3n) buffer serves three roles in turn, step by step: the input projection px[t], the
    gates [r, z, n] of step t (gate-major), and in the backward pass da[t] = [da_r, da_z, da_n];
  * the backward loop only does the recurrent products with W_h; dL/dxs and the weight gradients are
    single matmuls over all T * B rows after it (the states live in one (T + 1, B, n) array
    [h0, h_1, ..., h_T], so the previous states of all steps are the view states[:-1]).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dlproof.parameters import BLOCKS, GRU_PARAMS

from .checks import recurrent as checks
from .arith import matmul, total
VARIANTS = checks.GRU_VARIANTS


def stack(params: dict, dt, variant: str):
    """(W_x (3n, m), W_h (3n, n), b_x (3n,), b_hn (n,)) in gate order r, z, n and dtype ``dt``.

    b_x = [b_r, b_z, b_xn] for reset_after and [b_r, b_z, b_xn + b_hn] for reset_before."""
    W_x = np.concatenate([params[wx] for wx, _, _ in BLOCKS["gru"]], axis=0).astype(dt, copy=False)
    W_h = np.concatenate([params[wh] for _, wh, _ in BLOCKS["gru"]], axis=0).astype(dt, copy=False)
    b_hn = params["b_hn"].astype(dt, copy=False)
    b_n = params["b_xn"].astype(dt, copy=False)
    if variant == "reset_before":
        b_n = b_n + b_hn
    b_x = np.concatenate([params["b_r"].astype(dt, copy=False), params["b_z"].astype(dt, copy=False), b_n])
    return W_x, W_h, b_x, b_hn


class Weights(NamedTuple):
    """The stacked weights (see `stack`) and the forward copies the time loop multiplies with.

    The forward copies have the r and z blocks halved, so that the matmuls give a_r / 2 and a_z / 2 for
    the tanh form of sigmoid, and are stored transposed and contiguous (rows @ Wx_f, rows @ Wh_f)."""

    W_x: np.ndarray  # (3n, m)
    W_h: np.ndarray  # (3n, n)
    b_hn: np.ndarray  # (n,)
    Wx_f: np.ndarray  # (m, 3n) = [W_xr / 2; W_xz / 2; W_xn].T
    bx_f: np.ndarray  # (3, 1, n) = [b_r / 2, b_z / 2, b_xn] gate-major; b_xn + b_hn under reset_before
    Wh_f: np.ndarray  # (n, 3n) = [W_hr / 2; W_hz / 2; W_hn].T


def prepare(params: dict, dt, variant: str) -> Weights:
    """`Weights` in dtype ``dt`` from the canonical parameter dict."""
    W_x, W_h, b_x, b_hn = stack(params, dt, variant)
    n = W_h.shape[1]
    half = np.ones(3 * n, dt)
    half[: 2 * n] = 0.5  # gate scale: r, z halved, n kept
    Wx_f, Wh_f = W_x.T.copy(), W_h.T.copy()  # C-contiguous transposes
    Wx_f *= half
    Wh_f *= half
    return Weights(W_x=W_x, W_h=W_h, b_hn=b_hn, Wx_f=Wx_f, bx_f=(b_x * half).reshape(3, 1, n), Wh_f=Wh_f)


def gate_major(a):
    """The (3, B, n) view [a_r, a_z, a_n] of a (B, 3n) array of rows [r block | z block | n block]."""
    B, n3 = a.shape
    return a.reshape(B, 3, n3 // 3).transpose(1, 0, 2)


def _sigmoid_from_half(s):
    """In place: s = a / 2 becomes sigmoid(a) = 0.5 + 0.5 tanh(a / 2)."""
    np.tanh(s, out=s)
    s *= 0.5
    s += 0.5


def _scratch(B, n, dt):
    """Work buffers of `_step`: px_g (3, B, n), hh (B, 3n), hh_g (3, B, n)."""
    return np.empty((3, B, n), dt), np.empty((B, 3 * n), dt), np.empty((3, B, n), dt)


def _step(px, h, w: Weights, variant, g, aux, out, scratch):
    """One recurrence step.

    px (B, 3n): the step's input projection x @ Wx_f (bias not added yet); h (B, n). Writes the gates
    [r, z, n] into g (3, B, n), u = W_hn h + b_hn (reset_after) or r * h (reset_before) into aux (B, n),
    and h' into out (B, n); g may be the memory of px, which is read first. The (B, 3n) matmul rows
    are copied to gate-major blocks once, so that every element-wise operation runs on contiguous
    (B, n) blocks."""
    n = h.shape[1]
    px_g, hh, hh_g = scratch
    np.add(gate_major(px), w.bx_f, out=px_g)  # x side: [a_r / 2, a_z / 2, W_xn x + b_xn (+ b_hn)]
    rz, r, z, cand = g[:2], g[0], g[1], g[2]
    if variant == "reset_after":
        np.matmul(h, w.Wh_f, out=hh)  # [(W_hr h) / 2, (W_hz h) / 2, W_hn h]: one (B, n) @ (n, 3n)
        np.copyto(hh_g, gate_major(hh))
        np.add(px_g[:2], hh_g[:2], out=rz)  # [a_r / 2, a_z / 2]
        _sigmoid_from_half(rz)  # r, z
        np.add(hh_g[2], w.b_hn, out=aux)  # u = W_hn h + b_hn
        np.multiply(r, aux, out=cand)  # r * u
    else:
        np.matmul(h, w.Wh_f[:, : 2 * n], out=hh[:, : 2 * n])  # [(W_hr h) / 2, (W_hz h) / 2]
        np.copyto(hh_g[:2], gate_major(hh)[:2])
        np.add(px_g[:2], hh_g[:2], out=rz)
        _sigmoid_from_half(rz)
        np.multiply(r, h, out=aux)  # r * h
        np.matmul(aux, w.W_h[2 * n :].T, out=cand)  # W_hn (r * h): needs r, so a second matmul
    cand += px_g[2]  # W_xn x + b_xn + r * u  (reset_after),  W_xn x + b_xn + b_hn + W_hn (r * h)  (before)
    np.tanh(cand, out=cand)  # n
    np.subtract(h, cand, out=out)  # h' = n + z (h - n) = z h + (1 - z) n
    out *= z
    out += cand


def gru_cell(x, h, p, variant: str = "reset_after"):
    """One step: x (B, m), h (B, n) -> h' (B, n); ``variant`` is "reset_after" or "reset_before"."""
    fn = "gru_cell"
    variant = checks.gru_variant(fn, variant)
    x, (h,), params, dt = checks.gated_step(fn, x, [("h", h)], p, GRU_PARAMS)
    w = prepare(params, dt, variant)
    h = h.astype(dt, copy=False)
    B, n = h.shape
    px = matmul(x.astype(dt, copy=False), w.Wx_f)
    out = np.empty((B, n), dt)
    _step(px, h, w, variant, np.empty((3, B, n), dt), np.empty((B, n), dt), out, _scratch(B, n, dt))
    return out


class Forward(NamedTuple):
    """What the forward pass keeps for the backward pass."""

    states: np.ndarray  # (T + 1, B, n): h0, h_1, ..., h_T; hs = states[1:], previous states = states[:-1]
    buf: np.ndarray  # (T, B, 3n): px[t], overwritten by step t with its gates (T, 3, B, n) [r, z, n]
    aux: np.ndarray  # (T, B, n): u = W_hn h + b_hn (reset_after) or r * h (reset_before)
    xs: np.ndarray  # (T, B, m) in the compute dtype
    w: Weights
    dt: np.dtype
    variant: str


def _forward(fn, xs, h0, p, variant) -> Forward:
    """Shared forward of `gru` and `gru_vjp` (validates the arguments)."""
    variant = checks.gru_variant(fn, variant)
    xs, (h0,), params, dt = checks.gated_sequence(fn, xs, [("h0", h0)], p, GRU_PARAMS)
    xs = xs.astype(dt, copy=False)
    w = prepare(params, dt, variant)
    T, B, m = xs.shape
    n = w.W_h.shape[1]
    # input projection of all steps and all three gates at once: (T*B, m) @ (m, 3n) (r, z halved); each
    # step adds the bias when it copies its rows to gate-major form
    px = matmul(xs.reshape(T * B, m), w.Wx_f).reshape(T, B, 3 * n)
    states = np.empty((T + 1, B, n), dt)
    states[0] = h0
    aux = np.empty((T, B, n), dt)
    # once step t has read px[t], the same memory holds its gates [r, z, n] (gate-major (3, B, n))
    gates = px.reshape(T, 3, B, n)
    scratch = _scratch(B, n, dt)
    for t in range(T):
        _step(px[t], states[t], w, variant, gates[t], aux[t], states[t + 1], scratch)
    return Forward(states, px, aux, xs, w, dt, variant)


def gru(xs, h0, p, variant: str = "reset_after"):
    """xs (T, B, m), h0 (B, n) -> (hs (T, B, n), h_T (B, n)); T = 0 gives a copy of h0."""
    f = _forward("gru", xs, h0, p, variant)
    return f.states[1:], f.states[-1].copy()


def gru_vjp(xs, h0, p, d_hs, d_hT, variant: str = "reset_after") -> dict:
    """Hand-written BPTT: gradients of L = sum(d_hs * hs) + sum(d_hT * h_T) (None cotangents mean zeros).

    Returns {"xs": (T, B, m), "h0": (B, n), "params": {the 10 names}}; under reset_before the entries
    "b_xn" and "b_hn" are equal.
    """
    fn = "gru_vjp"
    f = _forward(fn, xs, h0, p, variant)
    w, dt, after = f.w, f.dt, f.variant == "reset_after"
    T, B, m = f.xs.shape
    n = w.W_h.shape[1]
    d_hs, d_hT = checks.cotangents(fn, d_hs, d_hT, T, B, n, dt)
    d_hs = d_hs.astype(dt, copy=False)
    W_hrz, W_hn = w.W_h[: 2 * n], w.W_h[2 * n :]

    # The buffer that held px[t] and then the gates of step t receives da[t] = [da_r, da_z, da_n] (B, 3n
    # rows) = dL/d(pre-activations) once the gates are used up, for the matmuls after the loop; the
    # step computes them gate-major in dA (contiguous blocks). reset_after: once da_r is known, u is
    # not needed any more and aux[t] is overwritten by dL/du = da_n * r, the factor of W_hn h in the
    # gradients. reset_before: aux[t] keeps r * h.
    states, aux, da = f.states, f.aux, f.buf
    gates = da.reshape(T, 3, B, n)
    dh = d_hT.astype(dt, copy=True)  # dL/dh_t, accumulated from later steps
    dA = np.empty((3, B, n), dt)  # the step's [da_r, da_z, da_n], gate-major
    da_r, da_z, da_n = dA
    S = np.empty((2, B, n), dt)  # [1 - r, 1 - z], then [r (1 - r), z (1 - z)]
    q, e = np.empty((B, n), dt), np.empty((B, n), dt)  # scratch
    for t in range(T - 1, -1, -1):
        dh += d_hs[t]
        h, g = states[t], gates[t]
        r, z, cand = g
        np.subtract(1.0, g[:2], out=S)
        np.multiply(dh, S[1], out=da_n)  # da_n = dh (1 - z) (1 - n^2)
        np.multiply(cand, cand, out=q)
        np.subtract(1.0, q, out=q)
        da_n *= q
        np.subtract(h, cand, out=e)  # da_z = dh (h - n) z (1 - z)
        e *= dh
        S *= g[:2]
        np.multiply(e, S[1], out=da_z)
        dh *= z  # dL/dh_{t-1} = dh z + ... (completed below)
        if after:
            np.multiply(da_n, aux[t], out=e)  # da_r = da_n u r (1 - r)
            np.multiply(e, S[0], out=da_r)
            du = np.multiply(da_n, r, out=aux[t])  # dL/du = da_n r (replaces u)
            np.copyto(gate_major(da[t]), dA)  # over the gates of step t, which are used up
            # dL/dh_{t-1} = dh z + [da_r, da_z] @ W_h[r, z] + (da_n r) @ W_hn
            dh += np.matmul(da[t, :, : 2 * n], W_hrz, out=q)
            dh += np.matmul(du, W_hn, out=q)
        else:
            d_rh = np.matmul(da_n, W_hn, out=q)  # dL/d(r * h) = da_n @ W_hn
            np.multiply(d_rh, h, out=e)  # da_r = (da_n @ W_hn) h r (1 - r)
            np.multiply(e, S[0], out=da_r)
            # dL/dh_{t-1} = dh z + (da_n @ W_hn) r + [da_r, da_z] @ W_h[r, z]
            dh += np.multiply(d_rh, r, out=d_rh)
            np.copyto(gate_major(da[t]), dA)
            dh += np.matmul(da[t, :, : 2 * n], W_hrz, out=q)
    # dh is now dL/dh0 (d_hT when T = 0); the rest are matmuls over all T * B rows at once
    D = da.reshape(T * B, 3 * n)
    H = states[:-1].reshape(T * B, n)  # h_{t-1} of every step
    A = aux.reshape(T * B, n)  # dL/du (reset_after) or r * h (reset_before) of every step
    dW_x = matmul(D.T, f.xs.reshape(T * B, m))
    db = total(D, 0)
    dW_hrz = matmul(D[:, : 2 * n].T, H)
    if after:
        dW_hn = matmul(A.T, H)  # sum (da_n r)^T h
        db_hn = total(A, 0)
    else:
        dW_hn = matmul(D[:, 2 * n :].T, A)  # sum da_n^T (r * h)
        db_hn = db[2 * n :].copy()
    params = {
        "W_xr": dW_x[:n], "W_hr": dW_hrz[:n], "b_r": db[:n],
        "W_xz": dW_x[n : 2 * n], "W_hz": dW_hrz[n:], "b_z": db[n : 2 * n],
        "W_xn": dW_x[2 * n :], "W_hn": dW_hn, "b_xn": db[2 * n :], "b_hn": db_hn,
    }
    return {"xs": matmul(D, w.W_x).reshape(T, B, m), "h0": dh, "params": params}
