"""LSTM in NumPy: cell, time-major forward, and a hand-written BPTT backward through c and h (no autodiff).

Column-vector math, gate order i, f, g, o (as in torch.nn.LSTM):
    i = sigmoid(W_xi x + W_hi h + b_i),  f = sigmoid(W_xf x + W_hf h + b_f),
    g = tanh(W_xg x + W_hg h + b_g),     o = sigmoid(W_xo x + W_ho h + b_o),
    c' = f * c + i * g,                  h' = o * tanh(c'),
with sigmoid(a) = 1 / (1 + e^{-a}) = 0.5 + 0.5 tanh(a / 2) (the overflow-free form of
`activations.sigmoid`). Shapes at the interface: W_x* (n, m), W_h* (n, n), b_* (n,); x (B, m), h and c
(B, n); xs (T, B, m), hs (T, B, n): a batch is B rows. Computation runs in the inputs' (common) floating
dtype.

Backward of L = <d_hs, hs> + <d_hT, h_T> + <d_cT, c_T>, latest step first. With dh = dL/dh_t (from
d_hs[t] and step t + 1) and dc = dL/dc_t (from step t + 1, through c alone), at step t:
    dc += dh * o * (1 - tanh(c_t)^2)              (the path h_t = o tanh(c_t))
    da_i = dc * g * i (1 - i),  da_f = dc * c_{t-1} * f (1 - f),
    da_g = dc * i * (1 - g^2),  da_o = dh * tanh(c_t) * o (1 - o),
    dL/dc_{t-1} = dc * f        (the constant-error carousel),
    dL/dh_{t-1} = d_hs[t-1] + W_h^T da,  dL/dx_t = W_x^T da,
    dL/dW_x = sum_t da_t x_t^T,  dL/dW_h = sum_t da_t h_{t-1}^T,  dL/db = sum_t da_t  (and over the batch),
with da = [da_i; da_f; da_g; da_o] (4n) and W_x (4n, m), W_h (4n, n), b (4n) the gate blocks stacked in
order i, f, g, o. In numerator layout this is the transpose of the product of the 2n x 2n state
Jacobians d(h_t, c_t)/d(h_{t-1}, c_{t-1}).

How it is computed (the arithmetic is the formulas above, operation for operation):
- Inside, vectors are columns as in the formulas: a batch is B columns, h_t and c_t are (n, B) and the
  gates of a step one (4n, B) block whose gate blocks i, f, g, o are contiguous rows.
- Steps are numbered t = 1 .. T as in the formulas: x_t = xs[t - 1], and inside H[:, t] = h_t,
  C[t] = c_t with h_0 = h0, c_0 = c0; the arrays with one entry per step (gates, tanh(c_t), da_t) are
  indexed t - 1.
- The input parts W_x x_t + b of the pre-activations of all T steps are one (4n, m) @ (m, T*B) matmul;
  each step adds one (4n, n) @ (n, B) matmul W_h h_{t-1}.
- One np.tanh over the whole (4n, B) block serves all four gates: the i, f and o rows of the stacked
  weights and bias are multiplied by 1/2 beforehand (exact in binary floating point, barring underflow),
  so the block holds [a_i/2; a_f/2; a_g; a_o/2]; tanh of it, then 0.5 * t + 0.5 on the i, f, o rows,
  gives [i; f; g; o].
- Element-wise work is done in place into preallocated arrays (``out=``), without temporaries.
- One (4n, T, B) array Z serves three purposes in turn: Z[:, t - 1] holds W_x x_t + b, then the gates of
  step t (kept for the backward), then da_t = dL/d[a_i; a_f; a_g; a_o] of step t. All steps of it
  together are one (4n, T*B) matrix DA = [da_1 ... da_T], so dL/dW_x = DA X, dL/dW_h = DA H_prev^T and
  dL/dxs = DA^T W_x are one matmul each, with X = [x_1 ... x_T]^T and H_prev = [h_0 ... h_{T-1}].
"""
from __future__ import annotations

import numpy as np

from dlproof.parameters import BLOCKS, LSTM_PARAMS

from .checks import recurrent as checks
from .arith import matmul, total


def stack(params: dict, dt):
    """(W_x (4n, m), W_h (4n, n), b (4n,)) with the gate blocks in order i, f, g, o, in dtype ``dt``."""
    W_x = np.concatenate([params[wx] for wx, _, _ in BLOCKS["lstm"]], axis=0).astype(dt, copy=False)
    W_h = np.concatenate([params[wh] for _, wh, _ in BLOCKS["lstm"]], axis=0).astype(dt, copy=False)
    b = np.concatenate([params[b] for _, _, b in BLOCKS["lstm"]]).astype(dt, copy=False)
    return W_x, W_h, b


def _halve_sigmoid_rows(W_x, W_h, b):
    """Copies of (W_x, W_h, b) with the i, f, o rows times 1/2 (exact in binary floating point, barring
    underflow): the pre-activations they give are [a_i/2; a_f/2; a_g; a_o/2], ready for `_activate`."""
    n = W_h.shape[1]
    half = np.full(4 * n, 0.5, W_h.dtype)
    half[2 * n : 3 * n] = 1.0  # g = tanh(a_g) takes a_g itself
    return W_x * half[:, None], W_h * half[:, None], b * half


def _activate(A, n):
    """In place: A (4n, B) = [a_i/2; a_f/2; a_g; a_o/2] becomes the gates [i; f; g; o].

    sigmoid(a) = 0.5 + 0.5 tanh(a / 2), so one tanh serves all four gate blocks."""
    np.tanh(A, out=A)
    for s in (A[: 2 * n], A[3 * n :]):  # i, f and o
        s *= 0.5
        s += 0.5


def _gate_blocks(A, n):
    """The four (n, B) row blocks i, f, g, o of a (4n, B) array."""
    return A[:n], A[n : 2 * n], A[2 * n : 3 * n], A[3 * n :]


def lstm_cell(x, h, c, p):
    """One step: x (B, m), h (B, n), c (B, n) -> (h' (B, n), c' (B, n)); see the module formula."""
    fn = "lstm_cell"
    x, (h, c), params, dt = checks.gated_step(fn, x, [("h", h), ("c", c)], p, LSTM_PARAMS)
    W_x, W_h, b = _halve_sigmoid_rows(*stack(params, dt))
    n = W_h.shape[1]
    A = matmul(W_x, x.astype(dt, copy=False).T)  # columns, (4n, B)
    A += b[:, None]
    A += matmul(W_h, h.astype(dt, copy=False).T)
    _activate(A, n)
    i, f, g, o = _gate_blocks(A, n)
    c_new = f * c.astype(dt, copy=False).T + i * g
    h_new = o * np.tanh(c_new)
    return np.ascontiguousarray(h_new.T), np.ascontiguousarray(c_new.T)


def _forward(fn, xs, h0, c0, p, keep: bool):
    """Shared forward over validated inputs, in the column layout of the module notes.

    Returns (H, C, tC, Z, (xs, X, W_x, W_h, dt)): H (n, T + 1, B) with H[:, t] = h_t; C with C[t] = c_t;
    tC with tC[t - 1] = tanh(c_t); Z (4n, T, B) with Z[:, t - 1] = the gates [i; f; g; o] of step t
    (it first holds W_x x_t + b, halved as in `_halve_sigmoid_rows`); X = xs as a (T*B, m) matrix; W_x,
    W_h stacked, not halved.
    With ``keep`` (the backward needs them) C and tC hold every step, C (T + 1, n, B) and tC (T, n, B),
    and Z the gates. Without, C (2, n, B) and tC (1, n, B) hold the latest step only (an index is taken
    modulo the length) and Z keeps the input parts."""
    xs, (h0, c0), params, dt = checks.gated_sequence(fn, xs, [("h0", h0), ("c0", c0)], p, LSTM_PARAMS)
    xs, h0, c0 = (a.astype(dt, copy=False) for a in (xs, h0, c0))
    W_x, W_h, b = stack(params, dt)
    W_xs, W_hs, bs = _halve_sigmoid_rows(W_x, W_h, b)
    T, B, m = xs.shape
    n = W_h.shape[1]
    X = xs.reshape(T * B, m)  # row (t - 1) * B + k is x_t of example k
    Z = matmul(W_xs, X.T)  # the input parts of all steps at once: (4n, m) @ (m, T*B)
    Z += bs[:, None]
    Z = Z.reshape(4 * n, T, B)  # Z[:, t - 1] = W_x x_t + b, later the gates of step t (with keep)
    H = np.empty((n, T + 1, B), dt)
    C = np.empty((T + 1 if keep else 2, n, B), dt)
    tC = np.empty((T if keep else 1, n, B), dt)
    A = np.empty((4 * n, B), dt)  # the step's pre-activations, then its gates
    ig = np.empty((n, B), dt)  # i * g
    H[:, 0], C[0] = h0.T, c0.T
    for t in range(1, T + 1):
        c_prev, c, tc = C[(t - 1) % len(C)], C[t % len(C)], tC[(t - 1) % len(tC)]
        np.matmul(W_hs, H[:, t - 1], out=A)  # W_h h_{t-1}
        A += Z[:, t - 1]  # + W_x x_t + b: A = [a_i/2; a_f/2; a_g; a_o/2]
        _activate(A, n)
        i, f, g, o = _gate_blocks(A, n)
        np.multiply(i, g, out=ig)
        np.multiply(f, c_prev, out=c)
        c += ig  # c_t = f * c_{t-1} + i * g
        np.tanh(c, out=tc)
        np.multiply(o, tc, out=H[:, t])  # h_t = o * tanh(c_t)
        if keep:
            Z[:, t - 1] = A  # the input part of step t is spent: keep its gates there
    return H, C, tC, Z, (xs, X, W_x, W_h, dt)


def lstm(xs, h0, c0, p):
    """xs (T, B, m), h0 (B, n), c0 (B, n) -> (hs (T, B, n), (h_T, c_T)); T = 0 gives (h0, c0) copies."""
    H, C, *_ = _forward("lstm", xs, h0, c0, p, keep=False)
    T = H.shape[1] - 1
    hs = H[:, 1:].transpose(1, 2, 0).copy()  # [h_1 ... h_T] as (T, B, n) rows
    return hs, (np.ascontiguousarray(H[:, T].T), np.ascontiguousarray(C[T % len(C)].T))


def lstm_vjp(xs, h0, c0, p, d_hs, d_hT, d_cT) -> dict:
    """Hand-written BPTT: gradients of L = sum(d_hs * hs) + sum(d_hT * h_T) + sum(d_cT * c_T).

    Returns {"xs": (T, B, m), "h0": (B, n), "c0": (B, n), "params": {the 12 names}}; a None cotangent
    means zeros.
    """
    fn = "lstm_vjp"
    H, C, tC, Z, (xs, X, W_x, W_h, dt) = _forward(fn, xs, h0, c0, p, keep=True)
    T, B, m = xs.shape
    n = W_h.shape[1]
    d_hs, d_hT = checks.cotangents(fn, d_hs, d_hT, T, B, n, dt)
    d_cT = checks.state_cotangent(fn, "d_cT", d_cT, B, n, dt)
    d_hs = d_hs.astype(dt, copy=False)

    W_hT = np.ascontiguousarray(W_h.T)
    dh = np.empty((n, B), dt)  # dL/dh_t
    dc = np.empty((n, B), dt)  # dL/dc_t
    dh[...], dc[...] = d_hT.T, d_cT.T
    gates = np.empty((4 * n, B), dt)  # [i; f; g; o] of step t
    da = np.empty((4 * n, B), dt)  # da_t = dL/d[a_i; a_f; a_g; a_o] of step t
    da_i, da_f, da_g, da_o = _gate_blocks(da, n)
    u = np.empty((n, B), dt)  # scratch: products
    v = np.empty((n, B), dt)  # scratch: activation derivatives
    for t in range(T, 0, -1):
        np.copyto(gates, Z[:, t - 1])  # a contiguous copy: element-wise work is faster on it
        i, f, g, o = _gate_blocks(gates, n)
        tc, c_prev = tC[t - 1], C[t - 1]  # tanh(c_t), c_{t-1}
        dh += d_hs[t - 1].T  # dL/dh_t: the step's own cotangent and the path through step t + 1
        np.multiply(dh, o, out=u)
        np.multiply(tc, tc, out=v)
        np.subtract(1.0, v, out=v)  # tanh'(c_t) = 1 - tanh(c_t)^2
        u *= v
        dc += u  # dc += dh * o * (1 - tanh(c_t)^2)
        np.subtract(1.0, i, out=v)
        v *= i  # sigmoid' = i (1 - i)
        np.multiply(dc, g, out=da_i)
        da_i *= v  # da_i = dc * g * i (1 - i)
        np.subtract(1.0, f, out=v)
        v *= f
        np.multiply(dc, c_prev, out=da_f)
        da_f *= v  # da_f = dc * c_{t-1} * f (1 - f)
        np.multiply(g, g, out=v)
        np.subtract(1.0, v, out=v)  # tanh' = 1 - g^2
        np.multiply(dc, i, out=da_g)
        da_g *= v  # da_g = dc * i * (1 - g^2)
        np.subtract(1.0, o, out=v)
        v *= o
        np.multiply(dh, tc, out=da_o)
        da_o *= v  # da_o = dh * tanh(c_t) * o (1 - o)
        dc *= f  # dL/dc_{t-1}
        Z[:, t - 1] = da  # the gates of step t are spent: da_t takes their place
        np.matmul(W_hT, da, out=dh)  # dL/dh_{t-1} from step t (d_hs of step t - 1 is added next)
    # dh, dc are now dL/dh_0, dL/dc_0 (d_hT, d_cT when T = 0)
    D = Z.reshape(4 * n, T * B)  # [da_1 ... da_T]
    dW_x = matmul(D, X)
    dW_h = matmul(D, H[:, :T].reshape(n, T * B).T)  # H_prev = [h_0 ... h_{T-1}]: the h_{t-1} of every step
    db = total(D, 1)
    params = {}
    for k, (wx, wh, b) in enumerate(BLOCKS["lstm"]):
        s = slice(k * n, (k + 1) * n)
        params[wx], params[wh], params[b] = dW_x[s], dW_h[s], db[s]
    d_xs = matmul(D.T, W_x).reshape(T, B, m)  # row (t - 1) * B + k is W_x^T da_t of example k
    return {"xs": d_xs, "h0": np.ascontiguousarray(dh.T), "c0": np.ascontiguousarray(dc.T), "params": params}
