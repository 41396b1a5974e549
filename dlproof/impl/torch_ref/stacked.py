"""Stacked, variable-length, optionally bidirectional and projected recurrent networks with torch ops; the VJPs by
torch.autograd. Same contract and layout as `dlproof.impl.numpy_ref.stacked` (read its docstring), computed
differently: instead of running each group of equal lengths on its own, every direction runs over all T steps
with a per-step mask,
    forward  (d = 0):  t = 0, 1, ..., T - 1:   s <- where(t < len_b, cell(x_t, s), s)
    backward (d = 1):  t = T - 1, ..., 1, 0:   s <- where(t < len_b, cell(x_t, s), s)
(the backward direction keeps its h0 until t = len_b - 1, so it reads x_{len-1}, ..., x_0: reversed within its own
length), out[t] = s after step t at real steps and 0 at padded ones, the final state s at the end. torch.where's
backward routes no gradient to the unused branch, so the gradient at padded inputs is exactly 0.
Cells: rnn phi(x W_x^T + h W_h^T + b); LSTM gates i, f, g, o, c' = f c + i g, h' = o tanh(c') (times W_proj^T
when the layer holds W_proj (P, n)); GRU reset_after / reset_before as `torch_ref.gru`.
Inter-layer dropout uses the NumPy reference's masks (`numpy_ref.stacked.dropout_masks`: one
np.random.default_rng(seed), one block per layer 1 .. L - 1), so both references agree for a seed.
NumPy arrays in and out; computed in torch.float16 / bfloat16 / float32 / float64 matching the inputs' common
NumPy dtype.
"""
from __future__ import annotations


from ..numpy_ref import stacked as _ref
from ..numpy_ref.checks import stacked as checks
from . import gru as _gru
from . import lstm as _lstm
from . import rnn as _rnn
from ._torch import to_numpy, to_torch, torch, torch_dtype

PROJ = checks.PROJ
_opts = _ref._opts  # the convention keywords, validated as the NumPy reference does


def _cell(kind, opts, P):
    """step(x (B, in), state tuple) -> new state tuple, for the torch params P of one layer-direction."""
    if kind == "rnn":
        phi = _rnn._PHI[opts["activation"]]
        return lambda x, s: (_rnn._cell(x, s[0], P["W_x"], P["W_h"], P["b"], phi),)
    if kind == "gru":
        W_x, W_h, b_x = _gru.stack(P, opts["variant"])
        return lambda x, s: (_gru._step(torch.addmm(b_x, x, W_x.T), s[0], W_h, P["b_hn"], opts["variant"]),)
    W_x, W_h, b = _lstm.stack(P)
    W_p = P.get(PROJ)

    def step(x, s):
        h, c = _lstm._cell(x, s[0], s[1], W_x, W_h, b)
        return (h if W_p is None else h @ W_p.T), c
    return step


def _direction(step, xs, state, lens, reverse):
    """-> (out (T, B, n_out) zero at padded steps, final state tuple); see the module."""
    T = xs.shape[0]
    outs = [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        real = (lens > t)[:, None]  # (B, 1)
        new = step(xs[t], state)
        state = tuple(torch.where(real, a, b) for a, b in zip(new, state))
        outs[t] = torch.where(real, state[0], torch.zeros_like(state[0]))
    return torch.stack(outs), state


def _run(kind, xs, states, layers, lens, masks, opts):
    """The stack on tensors: -> (ys, [final (L, D, B, .) per state])."""
    L, D = len(layers), len(layers[0])
    finals = [[[None] * D for _ in range(L)] for _ in states]
    inp = xs
    for l in range(L):
        if l > 0 and masks is not None:
            inp = inp * masks[l - 1]
        outs = []
        for d in range(D):
            out, fin = _direction(_cell(kind, opts, layers[l][d]), inp, tuple(s[l, d] for s in states), lens, d == 1)
            outs.append(out)
            for f, v in zip(finals, fin):
                f[l][d] = v
        inp = torch.cat(outs, dim=2)
    return inp, [torch.stack([torch.stack(row) for row in f]) for f in finals]


def _prepare(fn, kind, xs, states, layers, lengths, requires_grad=False):
    names = ("h0", "c0") if kind == "lstm" else ("h0",)
    s, arrays = checks.stack_args(fn, kind, xs, list(zip(names, states)), layers, lengths)
    td = torch_dtype(s.dtype)
    x = to_torch(s.xs, td, requires_grad)
    st = [to_torch(a, td, requires_grad) for a in arrays]
    P = [[{k: to_torch(v, td, requires_grad) for k, v in p.items()} for p in row] for row in s.layers]
    return s, x, st, P, torch.as_tensor(s.lengths)


def _forward(fn, kind, xs, states, layers, lengths, dropout, training, seed, opts):
    s, x, st, P, lens = _prepare(fn, kind, xs, states, layers, lengths)
    p, training, seed = checks.dropout_args(fn, dropout, training, seed)
    masks = _ref.dropout_masks((s.T, s.B, s.D * s.n_out), s.L, p, training, seed, s.dtype)
    td = torch_dtype(s.dtype)
    with torch.no_grad():
        tm = None if masks is None else [to_torch(m, td) for m in masks]
        ys, finals = _run(kind, x, st, P, lens, tm, opts)
    return to_numpy(ys, s.dtype), [to_numpy(f, s.dtype).copy() for f in finals]


def _vjp(fn, kind, xs, states, layers, lengths, d_ys, d_finals, opts) -> dict:
    s, x, st, P, lens = _prepare(fn, kind, xs, states, layers, lengths, requires_grad=True)
    fin_names = ("d_hT", "d_cT") if kind == "lstm" else ("d_hT",)
    d_ys, d_fin = checks.cotangents(fn, s, d_ys, list(zip(fin_names, d_finals)))
    td = torch_dtype(s.dtype)
    with torch.enable_grad():
        ys, finals = _run(kind, x, st, P, lens, None, opts)
        loss = (ys * to_torch(d_ys, td)).sum()
        for f, d in zip(finals, d_fin):
            loss = loss + (f * to_torch(d, td)).sum()
        leaves = [x, *st] + [v for row in P for p in row for v in p.values()]
        grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    grads = [torch.zeros_like(a) if g is None else g for a, g in zip(leaves, grads)]
    out = {"xs": to_numpy(grads[0], s.dtype)}
    names = ("h0", "c0") if kind == "lstm" else ("h0",)
    out.update({k: to_numpy(g, s.dtype) for k, g in zip(names, grads[1 : 1 + len(st)])})
    it = iter(grads[1 + len(st) :])
    out["layers"] = [[{k: to_numpy(next(it), s.dtype) for k in p} for p in row] for row in P]
    return out


def rnn_stack(xs, h0, layers, lengths=None, dropout=0.0, training=False, seed=0, activation: str = "tanh"):
    """xs (T, B, m), h0 (L, D, B, n) -> (ys (T, B, D n), h_T (L, D, B, n))."""
    ys, (h,) = _forward("rnn_stack", "rnn", xs, (h0,), layers, lengths, dropout, training, seed,
                        _opts("rnn_stack", activation=activation))
    return ys, h


def lstm_stack(xs, h0, c0, layers, lengths=None, dropout=0.0, training=False, seed=0):
    """xs (T, B, m), h0 (L, D, B, n_out), c0 (L, D, B, n) -> (ys (T, B, D n_out), (h_T, c_T))."""
    ys, (h, c) = _forward("lstm_stack", "lstm", xs, (h0, c0), layers, lengths, dropout, training, seed,
                          _opts("lstm_stack"))
    return ys, (h, c)


def gru_stack(xs, h0, layers, lengths=None, dropout=0.0, training=False, seed=0, variant: str = "reset_after"):
    """xs (T, B, m), h0 (L, D, B, n) -> (ys (T, B, D n), h_T (L, D, B, n))."""
    ys, (h,) = _forward("gru_stack", "gru", xs, (h0,), layers, lengths, dropout, training, seed,
                        _opts("gru_stack", variant=variant))
    return ys, h


def rnn_stack_vjp(xs, h0, layers, lengths, d_ys, d_hT, activation: str = "tanh") -> dict:
    """autograd gradients of <d_ys, ys> + <d_hT, h_T> of `rnn_stack`: {"xs", "h0", "layers"}."""
    return _vjp("rnn_stack_vjp", "rnn", xs, (h0,), layers, lengths, d_ys, (d_hT,),
                _opts("rnn_stack_vjp", activation=activation))


def lstm_stack_vjp(xs, h0, c0, layers, lengths, d_ys, d_hT, d_cT) -> dict:
    """autograd gradients of <d_ys, ys> + <d_hT, h_T> + <d_cT, c_T> of `lstm_stack`: {"xs", "h0", "c0", "layers"}."""
    return _vjp("lstm_stack_vjp", "lstm", xs, (h0, c0), layers, lengths, d_ys, (d_hT, d_cT), _opts("lstm_stack_vjp"))


def gru_stack_vjp(xs, h0, layers, lengths, d_ys, d_hT, variant: str = "reset_after") -> dict:
    """autograd gradients of <d_ys, ys> + <d_hT, h_T> of `gru_stack`: {"xs", "h0", "layers"}."""
    return _vjp("gru_stack_vjp", "gru", xs, (h0,), layers, lengths, d_ys, (d_hT,),
                _opts("gru_stack_vjp", variant=variant))
