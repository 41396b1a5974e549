"""Stacked, variable-length, optionally bidirectional and projected recurrent networks in NumPy, with a
hand-written backward (no autodiff).

Layout (the contract of the chapter "stacked"): xs (T, B, m) time-major; ``layers[l][d]`` the canonical params of
layer l, direction d (D = 1: forward; D = 2: [forward, backward]); layer 0 reads xs, layer l >= 1 reads layer
l - 1's output (T, B, D n_out); h0, h_T (L, D, B, n_out) layer-major then direction; LSTM c0, c_T (L, D, B, n).

Per layer l and direction d, with len_b = lengths[b] (T when lengths is None) and S the single-layer sequence
function of the kind (`rnn.rnn`, `lstm.lstm`, `gru.gru`, or the projected LSTM below):
    forward  (d = 0): hs, s_T = S(x_0 .. x_{len-1}, s0)             out[t] = hs[t]             (t < len)
    backward (d = 1): hr, s_T = S(x_{len-1}, ..., x_0, s0)          out[t] = hr[len - 1 - t]   (t < len)
    out[t] = 0 for t >= len (padded_output 'zero', as torch's pad_packed_sequence),
    layer output y_l[t] = [out_fwd[t] ; out_bwd[t]] (T, B, D n_out); final states s_T per (l, d).
Each sequence runs only over its own real steps (sequences of one length run together as one batch), so a real
step never depends on a padded one. Projected LSTM layer (``W_proj`` (P, n) in the dict; W_h* (n, P)):
    a = x W_x^T + h W_h^T + b,  c' = f c + i g,  u = o tanh(c'),  h' = u W_proj^T   (B, P rows),
h' feeds the recurrence and is the layer's output (n_out = P).

Inter-layer dropout (training and dropout p > 0): the input of layer l >= 1 is m_l * y_{l-1} / (1 - p) with
m_l[t, b, k] = [u < 1 - p], u drawn from ONE generator np.random.default_rng(seed), one (T, B, D n_out) block
``rng.random`` per layer in the order l = 1, ..., L - 1 (the same seed gives the same masks). Never on xs, never
after the last layer; training False is no dropout at all.

Backward of L = <d_ys, ys> + <d_hT, h_T> (+ <d_cT, c_T>) (inference): the last layer first; per direction the
cotangent of its outputs (zero at padded steps, where the output is the constant 0) and of its final state go
through the single-layer hand-written VJP (`rnn.rnn_vjp`, `lstm.lstm_vjp`, `gru.gru_vjp`, or `_proj_vjp` here) of
each group of equal lengths, on the time-reversed real steps for d = 1 (its input gradient re-reversed); the
input gradients of both directions add up into the cotangent of the layer below's output. Parameter gradients
sum over the groups. The gradient at padded inputs is exactly 0 (never written).

Computation runs in the inputs' common floating dtype; inputs are never mutated.
"""
from __future__ import annotations

import numpy as np

from dlproof.parameters import BLOCKS

from . import gru as G
from . import lstm as LS
from . import rnn as R
from .activations import sigmoid
from .checks import recurrent as rchecks
from .checks import stacked as checks
from .arith import matmul, total

PROJ = checks.PROJ
#: the bugs the mutation suite plants through ``bug=`` of `_forward` / `_vjp` (tests/mutants/stacked.py)
BUGS = ("final_after_T", "reverse_over_T", "dropout_after_last", "reads_preactivation", "project_late",
        "vjp_backward_not_rereversed")


# ---- the projected LSTM layer (one direction, full length) ---------------------------------------------

def _proj_weights(p, dt):
    W_x, W_h, b = LS.stack(p, dt)  # (4n, m), (4n, P), (4n,) in gate order i, f, g, o
    return W_x, W_h, b, np.asarray(p[PROJ]).astype(dt, copy=False)


def _proj_forward(xs, h0, c0, p):
    """-> (H (T + 1, B, P) = h0, h'_1 ..; C (T + 1, B, n); gates (T, B, 4n) [i, f, g, o]; tanh(c) (T, B, n))."""
    dt = np.result_type(xs, h0, c0, *(np.asarray(v) for v in p.values()))
    W_x, W_h, b, W_p = _proj_weights(p, dt)
    T, B, _ = xs.shape
    n = W_x.shape[0] // 4
    gates = matmul(xs.astype(dt, copy=False), W_x.T) + b  # the input parts of all steps at once
    H = np.empty((T + 1, B, W_p.shape[0]), dt)
    C = np.empty((T + 1, B, n), dt)
    TC = np.empty((T, B, n), dt)
    H[0], C[0] = h0, c0
    for t in range(T):
        a = gates[t]
        a += matmul(H[t], W_h.T)
        a[:, : 2 * n] = sigmoid(a[:, : 2 * n])  # i, f
        a[:, 2 * n : 3 * n] = np.tanh(a[:, 2 * n : 3 * n])  # g
        a[:, 3 * n :] = sigmoid(a[:, 3 * n :])  # o
        i, f, g, o = np.split(a, 4, axis=1)
        C[t + 1] = f * C[t] + i * g
        TC[t] = np.tanh(C[t + 1])
        H[t + 1] = matmul(o * TC[t], W_p.T)
    return H, C, gates, TC


def proj_lstm(xs, h0, c0, p):
    """A projected LSTM layer: xs (T, B, m), h0 (B, P), c0 (B, n) -> (hs (T, B, P), (h_T, c_T))."""
    H, C, _, _ = _proj_forward(xs, h0, c0, p)
    return H[1:], (H[-1].copy(), C[-1].copy())


def _proj_vjp(xs, h0, c0, p, d_hs, d_hT, d_cT) -> dict:
    """Hand-written BPTT of `proj_lstm`: gradients of <d_hs, hs> + <d_hT, h_T> + <d_cT, c_T>. At step t
    (u = o tanh(c_t), h_t = u W_proj^T):
        dh = d_hs[t] + (from step t + 1),  dW_proj += dh^T u,  du = dh W_proj,
        dc += du o (1 - tanh(c_t)^2),  da_o = du tanh(c_t) o (1 - o),  da_i = dc g i (1 - i),
        da_f = dc c_{t-1} f (1 - f),  da_g = dc i (1 - g^2),  dc <- dc f,  dh <- da W_h,
        dx_t = da W_x,  dW_x = sum da^T x,  dW_h = sum da^T h_{t-1},  db = sum da.
    Returns {"xs", "h0", "c0", "params"} (the 12 names and W_proj)."""
    H, C, gates, TC = _proj_forward(xs, h0, c0, p)
    dt = H.dtype
    W_x, W_h, _, W_p = _proj_weights(p, dt)
    T, B, m = xs.shape
    n = W_x.shape[0] // 4
    dh = np.array(d_hT, dt)
    dc = np.array(d_cT, dt)
    dW_p = np.zeros_like(W_p)
    dA = gates  # (T, B, 4n): the gates of step t, then its da
    for t in range(T - 1, -1, -1):
        dh += d_hs[t]
        i, f, g, o = np.split(gates[t].copy(), 4, axis=1)
        tc = TC[t]
        u = o * tc
        dW_p += matmul(dh.T, u)
        du = matmul(dh, W_p)
        dc += du * o * (1.0 - tc * tc)
        da = dA[t]
        da[:, :n] = dc * g * i * (1.0 - i)
        da[:, n : 2 * n] = dc * C[t] * f * (1.0 - f)
        da[:, 2 * n : 3 * n] = dc * i * (1.0 - g * g)
        da[:, 3 * n :] = du * tc * o * (1.0 - o)
        dc *= f
        dh = matmul(da, W_h)
    D = dA.reshape(T * B, 4 * n)
    dW_x = matmul(D.T, xs.astype(dt, copy=False).reshape(T * B, m))
    dW_h = matmul(D.T, H[:-1].reshape(T * B, -1))
    db = total(D, 0)
    params = {}
    for k, (wx, wh, b) in enumerate(BLOCKS["lstm"]):
        s = slice(k * n, (k + 1) * n)
        params[wx], params[wh], params[b] = dW_x[s], dW_h[s], db[s]
    params[PROJ] = dW_p
    return {"xs": matmul(D, W_x).reshape(T, B, m), "h0": dh, "c0": dc, "params": params}


# ---- one layer, one direction, one group of sequences of a common length -------------------------------

def _seq(kind, xs, state, p, opts, bug):
    """(hs, final state tuple) of the single-layer sequence function of ``kind`` (state: (h,) or (h, c))."""
    if kind == "rnn":
        hs, h = R.rnn(xs, state[0], p, activation=opts["activation"])
        return hs, (h,)
    if kind == "gru":
        hs, h = G.gru(xs, state[0], p, variant=opts["variant"])
        return hs, (h,)
    if PROJ not in p:
        return LS.lstm(xs, *state, p)
    if bug == "project_late":  # the recurrence fed the unprojected o * tanh(c) (needs P = n); outputs projected
        hs, (h, c) = LS.lstm(xs, *state, p)
        W_p = np.asarray(p[PROJ])
        return matmul(hs, W_p.T), (matmul(h, W_p.T), c)
    return proj_lstm(xs, *state, p)


def _seq_vjp(kind, xs, state, p, d_hs, d_final, opts):
    """(dxs, d_state tuple, d_params) of the single-layer hand-written VJP of ``kind``."""
    if kind == "rnn":
        r = R.rnn_vjp(xs, state[0], p, d_hs, d_final[0], activation=opts["activation"])
    elif kind == "gru":
        r = G.gru_vjp(xs, state[0], p, d_hs, d_final[0], variant=opts["variant"])
    elif PROJ in p:
        r = _proj_vjp(xs, *state, p, d_hs, *d_final)
    else:
        r = LS.lstm_vjp(xs, *state, p, d_hs, *d_final)
    return r["xs"], ((r["h0"],) if kind != "lstm" else (r["h0"], r["c0"])), r["params"]


def _groups(run):
    """[(length, indices)] of the sequences with each run length."""
    return [(int(k), np.flatnonzero(run == k)) for k in np.unique(run)]


def _direction(kind, xs, state, p, lens, reverse, opts, bug=None):
    """One direction of one layer: -> (out (T, B, n_out), zero at padded steps; final state tuple)."""
    T, B, _ = xs.shape
    run = lens
    if (bug == "final_after_T" and not reverse) or (bug == "reverse_over_T" and reverse):
        run = np.full(B, T, np.int64)  # the bug: padded steps read too
    out = None
    final = tuple(np.empty_like(s) for s in state)
    for k, idx in _groups(run):
        x = xs[:k, idx]
        hs, fin = _seq(kind, x[::-1] if reverse else x, tuple(s[idx] for s in state), p, opts, bug)
        if out is None:
            out = np.zeros((T, B, hs.shape[2]), hs.dtype)
            final = tuple(f.astype(hs.dtype, copy=False) for f in final)
        out[:k, idx] = hs[::-1] if reverse else hs
        for f, v in zip(final, fin):
            f[idx] = v
    out[np.arange(T)[:, None] >= lens[None, :]] = 0  # padded steps (only the bugs wrote there)
    return out, final


def _direction_vjp(kind, xs, state, p, lens, reverse, d_out, d_final, opts, bug=None):
    """The VJP of `_direction`: -> (d_xs (T, B, in), zero at padded steps; d_state tuple; d_params)."""
    d_xs = np.zeros(xs.shape, d_out.dtype)
    d_state = [np.empty(s.shape, d_out.dtype) for s in state]
    d_params = None
    for k, idx in _groups(lens):
        x, d = xs[:k, idx], d_out[:k, idx]
        if reverse:
            x, d = x[::-1], d[::-1]
        dx, ds, dp = _seq_vjp(kind, x, tuple(s[idx] for s in state), p, d, tuple(f[idx] for f in d_final), opts)
        d_xs[:k, idx] = dx[::-1] if reverse and bug != "vjp_backward_not_rereversed" else dx
        for a, v in zip(d_state, ds):
            a[idx] = v
        d_params = dp if d_params is None else {name: d_params[name] + v for name, v in dp.items()}
    return d_xs, tuple(d_state), d_params


# ---- the stack ------------------------------------------------------------------------------------------

def _names(kind):
    return ("h0", "c0") if kind == "lstm" else ("h0",)


def dropout_masks(shape, L, p, training, seed, dt, extra=False):
    """The scaled keep masks m_l / (1 - p) of the inputs of layers 1 .. L - 1 (None: no dropout); with
    ``extra`` one more (the bug "dropout after the last layer")."""
    if not training or p == 0.0:
        return None
    rng = np.random.default_rng(seed)
    q = dt.type(1.0 - p)
    return [(rng.random(shape) < 1.0 - p).astype(dt) / q for _ in range(L - 1 + extra)]


def _forward(fn, kind, xs, states, layers, lengths, dropout, training, seed, opts, bug=None, keep=False):
    """The stack's forward: -> (ys, finals [(L, D, B, .)], inputs of each layer (with ``keep``), Stack)."""
    s, arrays = checks.stack_args(fn, kind, xs, list(zip(_names(kind), states)), layers, lengths)
    p, training, seed = checks.dropout_args(fn, dropout, training, seed)
    dt = s.dtype
    finals = [np.empty(a.shape, dt) for a in arrays]
    masks = dropout_masks((s.T, s.B, s.D * s.n_out), s.L, p, training, seed, dt, extra=bug == "dropout_after_last")
    inp = s.xs.astype(dt, copy=False)
    inputs = []
    for l in range(s.L):
        if l > 0 and masks is not None:
            inp = inp * masks[l - 1]
        inputs.append(inp)
        outs = []
        for d in range(s.D):
            out, fin = _direction(kind, inp, tuple(a[l, d] for a in arrays), s.layers[l][d], s.lengths, d == 1,
                                  opts, bug)
            outs.append(out)
            for f, v in zip(finals, fin):
                f[l, d] = v
        inp = np.concatenate(outs, axis=2) if s.D == 2 else outs[0]
        if bug == "reads_preactivation" and l < s.L - 1:
            inp = np.arctanh(inp)  # tanh RNN: a_t = artanh(h_t), the pre-activation (0 at padded steps)
    if bug == "dropout_after_last" and masks is not None:
        inp = inp * masks[-1]
    return inp.astype(dt, copy=False), finals, (inputs if keep else None), s, arrays


def _vjp(fn, kind, xs, states, layers, lengths, d_ys, d_finals, opts, bug=None) -> dict:
    """The stack's hand-written backward (inference): {"xs", "h0"(, "c0"), "layers"}."""
    _, _, inputs, s, arrays = _forward(fn, kind, xs, states, layers, lengths, 0.0, False, 0, opts, keep=True)
    fin_names = ("d_hT", "d_cT") if kind == "lstm" else ("d_hT",)
    g, d_fin = checks.cotangents(fn, s, d_ys, list(zip(fin_names, d_finals)))
    dt = s.dtype
    g = g.astype(dt, copy=True)
    g[np.arange(s.T)[:, None] >= s.lengths[None, :]] = 0  # the outputs at padded steps are the constant 0
    d_states = [np.empty(a.shape, dt) for a in arrays]
    grads = [[None] * s.D for _ in range(s.L)]
    no = s.n_out
    for l in range(s.L - 1, -1, -1):
        d_in = np.zeros(inputs[l].shape, dt)
        for d in range(s.D):
            dx, ds, dp = _direction_vjp(kind, inputs[l], tuple(a[l, d] for a in arrays), s.layers[l][d],
                                        s.lengths, d == 1, g[:, :, d * no : (d + 1) * no],
                                        tuple(f[l, d].astype(dt, copy=False) for f in d_fin), opts, bug)
            d_in += dx
            for a, v in zip(d_states, ds):
                a[l, d] = v
            grads[l][d] = {k: np.asarray(v, dt) for k, v in dp.items()}
        g = d_in
    out = {"xs": g}
    out.update(zip(_names(kind), d_states))
    out["layers"] = grads
    return out


def _opts(fn, activation="tanh", variant="reset_after"):
    return {"activation": rchecks.activation(fn, activation), "variant": rchecks.gru_variant(fn, variant)}


def rnn_stack(xs, h0, layers, lengths=None, dropout=0.0, training=False, seed=0, activation: str = "tanh"):
    """Stacked Elman RNN: xs (T, B, m), h0 (L, D, B, n) -> (ys (T, B, D n), h_T (L, D, B, n)); see the module."""
    ys, (h,), *_ = _forward("rnn_stack", "rnn", xs, (h0,), layers, lengths, dropout, training, seed,
                            _opts("rnn_stack", activation=activation))
    return ys, h


def lstm_stack(xs, h0, c0, layers, lengths=None, dropout=0.0, training=False, seed=0):
    """Stacked LSTM (optionally projected): xs (T, B, m), h0 (L, D, B, n_out), c0 (L, D, B, n) ->
    (ys (T, B, D n_out), (h_T, c_T)); see the module."""
    ys, (h, c), *_ = _forward("lstm_stack", "lstm", xs, (h0, c0), layers, lengths, dropout, training, seed,
                              _opts("lstm_stack"))
    return ys, (h, c)


def gru_stack(xs, h0, layers, lengths=None, dropout=0.0, training=False, seed=0, variant: str = "reset_after"):
    """Stacked GRU: xs (T, B, m), h0 (L, D, B, n) -> (ys (T, B, D n), h_T (L, D, B, n)); see the module."""
    ys, (h,), *_ = _forward("gru_stack", "gru", xs, (h0,), layers, lengths, dropout, training, seed,
                            _opts("gru_stack", variant=variant))
    return ys, h


def rnn_stack_vjp(xs, h0, layers, lengths, d_ys, d_hT, activation: str = "tanh") -> dict:
    """Gradients of <d_ys, ys> + <d_hT, h_T> of `rnn_stack` (inference): {"xs", "h0", "layers"}; None
    cotangents mean zeros."""
    return _vjp("rnn_stack_vjp", "rnn", xs, (h0,), layers, lengths, d_ys, (d_hT,),
                _opts("rnn_stack_vjp", activation=activation))


def lstm_stack_vjp(xs, h0, c0, layers, lengths, d_ys, d_hT, d_cT) -> dict:
    """Gradients of <d_ys, ys> + <d_hT, h_T> + <d_cT, c_T> of `lstm_stack` (inference): {"xs", "h0", "c0",
    "layers"} ("layers" holds W_proj's gradient when the layers are projected)."""
    return _vjp("lstm_stack_vjp", "lstm", xs, (h0, c0), layers, lengths, d_ys, (d_hT, d_cT), _opts("lstm_stack_vjp"))


def gru_stack_vjp(xs, h0, layers, lengths, d_ys, d_hT, variant: str = "reset_after") -> dict:
    """Gradients of <d_ys, ys> + <d_hT, h_T> of `gru_stack` (inference): {"xs", "h0", "layers"}."""
    return _vjp("gru_stack_vjp", "gru", xs, (h0,), layers, lengths, d_ys, (d_hT,),
                _opts("gru_stack_vjp", variant=variant))
