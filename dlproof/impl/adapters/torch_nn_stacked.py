"""Real multi-layer torch.nn.RNN / LSTM / GRU modules behind the stacked chapter's capabilities (`rnn_stack`,
`lstm_stack`, `gru_stack` and their VJPs).

One module per call: ``torch.nn.{RNN,LSTM,GRU}(m, n, num_layers=L, bidirectional=(D == 2), dropout=p,
proj_size=P or 0)`` (RNN: ``nonlinearity`` "tanh"), whose parameters ``weight_ih_l{l}{_reverse}``,
``weight_hh_l{l}...``, ``bias_ih_l{l}...``, ``bias_hh_l{l}...`` are the canonical params of ``layers[l][d]`` through
torch_nn's weight map (`torch_nn.to_storage`: bias_ih holds the biases, bias_hh zero except GRU's b_hn) and
``weight_hr_l{l}...`` (P, n) is W_proj. h0 / c0 (L, D, B, .) go in as torch's (L*D, B, .) by reshape (torch
stacks h_n layer-major, then direction: index l * D + d) and h_n / c_n come back the same way. With ``lengths``
the input goes through ``torch.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)`` and the
output through ``pad_packed_sequence(padding_value=0, total_length=T)``; lengths=None runs the padded tensor as
is. Training: ``module.train()`` with dropout p, the masks from torch's CPU generator seeded with ``seed``
inside fork_rng (torch_nn_dropout's `_seeded`: the caller's RNG state comes back unchanged); torch's masks
are not the NumPy reference's (the properties check the dropout rule statistically). Gradients by
torch.autograd through the module in eval mode; dL/db_* is dL/dbias_ih (torch_nn.from_storage), dL/dW_proj
is dL/dweight_hr.

Measured with torch 2.13.0 (CPU, tests/stacked/test_torch.py checks each):
- output at padded steps: exactly 0 (pad_packed_sequence's padding_value): convention padded_output 'zero';
- the reversed half of a short sequence starts at its own last real step and its final state h_n[l*D + 1] is
  its state after reading x_0 (packed sequences reverse each sequence within its length); the forward half's
  h_n is its state after x_{len-1} (not after T steps);
- dropout touches only the inputs of layers 2..L, never the last layer's output (a one-layer module with
  dropout > 0 only warns; its training output equals its eval output);
- proj_size = P gives h_n (L*D, B, P) and output (T, B, D*P), c_n stays (L*D, B, n); torch refuses
  proj_size >= hidden_size (ValueError "proj_size has to be smaller than hidden_size"): restriction
  projection_size 'smaller_than_hidden' (P = n is refused here with a ValueError, never run);
- float32 and float64 run the same code; the float32 results match the float64 NumPy reference to the float32
  error model (tests/stacked/test_torch.py), float64 to ~1e-15.

`capabilities(dtype, nonlinearity)` gives the six capabilities over fresh modules; `from_module(module, dtype,
resize)` a Target over a deep copy of the user's own multi-layer module (or, with ``resize``, fresh modules of its
class at each call's sizes). Inputs are NumPy arrays, computed in ``dtype`` and returned as
new NumPy arrays of that dtype; never mutated. torch is imported lazily.
"""
from __future__ import annotations

import copy
import warnings

import numpy as np

from dlproof.parameters import BLOCKS, PARAMS
from dlproof.target import Target

from ..numpy_ref.checks import stacked as checks
from . import startup
from .startup import torch as _torch
from .startup import torch_version
from .torch_nn import SEQUENCE_CLASS, STORAGE, _describe, from_storage, to_storage
from .torch_nn_dropout import _seeded

PROJ = checks.PROJ


def _suffix(l: int, d: int) -> str:
    return f"_l{l}" + ("_reverse" if d == 1 else "")


def _load(mod, kind: str, layers) -> None:
    """Write the canonical params of every layer-direction into ``mod`` (shapes verified, never mis-mapped)."""
    torch = _torch()
    with torch.no_grad():
        for l, row in enumerate(layers):
            for d, p in enumerate(row):
                storage = to_storage(kind, p)
                if PROJ in p:
                    storage["weight_hr"] = np.asarray(p[PROJ])
                for key, value in storage.items():
                    attr = key + _suffix(l, d)
                    param = getattr(mod, attr, None)
                    if param is None:
                        raise ValueError(f"{_describe(mod)} has no parameter {attr} for layers[{l}][{d}]")
                    t = startup.tensor(torch, value, param.dtype)
                    if tuple(param.shape) != tuple(t.shape):
                        raise ValueError(f"{_describe(mod)}: {attr} has shape {tuple(param.shape)}, but layers[{l}]"
                                         f"[{d}] gives {tuple(t.shape)}")
                    param.copy_(t)


def _weights(mod, s) -> list:
    """[(l, d, {storage key: parameter})] of every layer-direction."""
    keys = STORAGE + (("weight_hr",) if s.projected else ())
    return [(l, d, {k: getattr(mod, k + _suffix(l, d)) for k in keys}) for l in range(s.L) for d in range(s.D)]


def _build(cls, kind, m, n, L, D, P, p, td, batch_first=False, nonlinearity="tanh"):
    """cls(m, n, num_layers=L, bidirectional=D == 2, dropout=p, batch_first, proj_size=P (if > 0), nonlinearity
    (RNN), dtype=td). torch warns that dropout > 0 with num_layers = 1 has no effect (silenced); the random initial
    values (overwritten) are drawn in a fork of the CPU generator, so the caller's RNG state is left alone."""
    torch = _torch()
    kw = {"num_layers": L, "bidirectional": D == 2, "dropout": p, "batch_first": batch_first, "dtype": td}
    if kind == "rnn":
        kw["nonlinearity"] = nonlinearity
    if P:
        kw["proj_size"] = P
    with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
        warnings.simplefilter("ignore", UserWarning)
        return cls(m, n, **kw)


def _refuse_full_projection(fn, s, who="torch.nn.LSTM"):
    if s.projected and s.n_out >= s.n:
        raise ValueError(f"{fn}: {who} needs proj_size < hidden_size, got W_proj with P = {s.n_out} rows and "
                         f"n = {s.n} (restriction projection_size: 'smaller_than_hidden')")


class _Fresh:
    """A new torch.nn module per call, of the sizes the layers give."""

    def __init__(self, td, nonlinearity: str = "tanh"):
        self.td, self.nonlinearity = td, nonlinearity

    def module(self, fn, kind, s, p):
        _refuse_full_projection(fn, s)
        cls = getattr(_torch().nn, SEQUENCE_CLASS[kind])
        return _build(cls, kind, s.xs.shape[2], s.n, s.L, s.D, s.n_out if s.projected else 0, p, self.td,
                      nonlinearity=self.nonlinearity), False


class _User:
    """A deep copy of the user's module per call, its dropout set to the call's p; with ``resize``, a fresh module
    of the user's class and configuration (batch_first, nonlinearity) built for the call's sizes instead."""

    def __init__(self, mod, td, resize: bool = False):
        self.mod, self.td, self.resize = mod, td, resize

    def build(self, kind, m, n, L, D, P, p):
        """A fresh module of the user's class and configuration with these sizes (`_build`)."""
        return _build(type(self.mod), kind, m, n, L, D, P, p, self.td, self.mod.batch_first,
                      getattr(self.mod, "nonlinearity", "tanh"))

    def module(self, fn, kind, s, p):
        m = self.mod
        if self.resize:
            _refuse_full_projection(fn, s, _describe(m))
            mod = self.build(kind, s.xs.shape[2], s.n, s.L, s.D, s.n_out if s.projected else 0, float(p))
            return mod, bool(mod.batch_first)
        got = {"input_size": s.xs.shape[2], "hidden_size": s.n, "num_layers": s.L, "bidirectional": s.D == 2,
               "proj_size": s.n_out if s.projected else 0}
        for attr, value in got.items():
            if getattr(m, attr, 0 if attr == "proj_size" else None) != value:
                raise ValueError(f"{fn}: {_describe(m)} cannot take these layers: they give {attr}={value!r}, the "
                                 f"module has {attr}={getattr(m, attr, None)!r}")
        mod = copy.deepcopy(m).to(device="cpu", dtype=self.td)
        mod.dropout = float(p)
        for param in mod.parameters():
            param.requires_grad_(True)  # a frozen user parameter still gets its gradient
        return mod, bool(mod.batch_first)


def _run(torch, mod, batch_first, kind, s, x, h0, c0, lengths):
    """output (T, B, D n_out) time-major, h_n and c_n as (L, D, B, .)."""
    nn_rnn = torch.nn.utils.rnn
    T, B = s.T, s.B
    if batch_first:
        x = x.transpose(0, 1)
    state = (h0.reshape(s.L * s.D, B, -1), c0.reshape(s.L * s.D, B, -1)) if kind == "lstm" else \
        h0.reshape(s.L * s.D, B, -1)
    if lengths is not None:
        x = nn_rnn.pack_padded_sequence(x, s.lengths.tolist(), batch_first=batch_first, enforce_sorted=False)
    with warnings.catch_warnings():  # torch's notice that oneDNN has no projected LSTM (it uses its own kernel)
        warnings.filterwarnings("ignore", "LSTM with projections is not supported with oneDNN", UserWarning)
        y, hn = mod(x, state)
    if lengths is not None:
        y, _ = nn_rnn.pad_packed_sequence(y, batch_first=batch_first, padding_value=0.0, total_length=T)
    if batch_first:
        y = y.transpose(0, 1)
    cn = None
    if kind == "lstm":
        hn, cn = hn
        cn = cn.reshape(s.L, s.D, B, s.n)
    hn = hn.reshape(s.L, s.D, B, s.n_out)
    if tuple(y.shape) != (T, B, s.D * s.n_out):
        raise ValueError(f"{_describe(mod)} returned output of shape {tuple(y.shape)}, expected "
                         f"{(T, B, s.D * s.n_out)}")
    return y, hn, cn


def _names(kind):
    return ("h0", "c0") if kind == "lstm" else ("h0",)


def _forward(source, np_dt, kind, xs, states, layers, lengths, dropout, training, seed):
    fn = f"torch.nn {kind}_stack"
    torch = _torch()
    s, arrays = checks.stack_args(fn, kind, xs, list(zip(_names(kind), states)), layers, lengths)
    p, training, seed = checks.dropout_args(fn, dropout, training, seed)
    mod, bf = source.module(fn, kind, s, p)
    _load(mod, kind, s.layers)
    mod.train(training)
    t = [startup.tensor(torch, a, source.td) for a in (s.xs, *arrays)]
    with torch.no_grad(), _seeded(torch, seed):
        y, hn, cn = _run(torch, mod, bf, kind, s, t[0], t[1], t[2] if kind == "lstm" else None, lengths)
    out = startup.to_numpy(y, np_dt)
    if kind == "lstm":
        return out, (startup.to_numpy(hn, np_dt), startup.to_numpy(cn, np_dt))
    return out, startup.to_numpy(hn, np_dt)


def _vjp(source, np_dt, kind, xs, states, layers, lengths, d_ys, d_finals) -> dict:
    fn = f"torch.nn {kind}_stack_vjp"
    torch = _torch()
    s, arrays = checks.stack_args(fn, kind, xs, list(zip(_names(kind), states)), layers, lengths)
    fin_names = ("d_hT", "d_cT") if kind == "lstm" else ("d_hT",)
    d_ys, d_fin = checks.cotangents(fn, s, d_ys, list(zip(fin_names, d_finals)))
    mod, bf = source.module(fn, kind, s, 0.0)
    _load(mod, kind, s.layers)
    mod.eval()
    leaves = [startup.tensor(torch, a, source.td, True) for a in (s.xs, *arrays)]
    ws = _weights(mod, s)
    wlist = [w for _, _, ps in ws for w in ps.values()]
    with torch.enable_grad():
        y, hn, cn = _run(torch, mod, bf, kind, s, leaves[0], leaves[1], leaves[2] if kind == "lstm" else None,
                         lengths)
        loss = (y * startup.tensor(torch, d_ys, source.td)).sum()
        for f, d in zip((hn, cn), d_fin):
            loss = loss + (f * startup.tensor(torch, d, source.td)).sum()
        g = torch.autograd.grad(loss, leaves + wlist, allow_unused=True)
    g = [startup.to_numpy(gi, np_dt) if gi is not None else np.zeros(tuple(t.shape), np_dt)
         for gi, t in zip(g, leaves + wlist)]
    out = {"xs": g[0], **dict(zip(_names(kind), g[1 : len(leaves)]))}
    it = iter(g[len(leaves):])
    grads = [[None] * s.D for _ in range(s.L)]
    for l, d, ps in ws:
        storage = {k: next(it) for k in ps}
        grads[l][d] = _projected_grads(storage, s.n) if s.projected else \
            from_storage(kind, {k: storage[k] for k in STORAGE}, gradients=True)
    out["layers"] = grads
    return out


def _projected_grads(storage: dict, n: int) -> dict:
    """dL/d(canonical params) of a projected LSTM layer from dL/d(storage): row block j n:(j+1) n of
    weight_ih / weight_hh (4n, P) / bias_ih is gate j (torch_nn.from_storage reads n off weight_hh's columns,
    which are P here), W_proj from weight_hr."""
    out = {}
    for j, (wx, wh, b) in enumerate(BLOCKS["lstm"]):
        rows = slice(j * n, (j + 1) * n)
        out[wx], out[wh], out[b] = (storage[k][rows].copy() for k in ("weight_ih", "weight_hh", "bias_ih"))
    out = {k: out[k] for k in PARAMS["lstm"]}
    out[PROJ] = storage["weight_hr"]
    return out


class _Stacked:
    """The six capabilities over a module source."""

    def __init__(self, source, dtype: str):
        _, td, self.np_dt = startup.dtype("torch_nn_stacked", dtype)
        self.source = source

    def rnn_stack(self, xs, h0, layers, lengths=None, dropout=0.0, training=False, seed=0):
        """output, h_n of torch.nn.RNN(num_layers=L, bidirectional=D == 2, dropout=p)."""
        return _forward(self.source, self.np_dt, "rnn", xs, (h0,), layers, lengths, dropout, training, seed)

    def lstm_stack(self, xs, h0, c0, layers, lengths=None, dropout=0.0, training=False, seed=0):
        """output, (h_n, c_n) of torch.nn.LSTM(num_layers=L, bidirectional=D == 2, dropout=p, proj_size=P)."""
        return _forward(self.source, self.np_dt, "lstm", xs, (h0, c0), layers, lengths, dropout, training, seed)

    def gru_stack(self, xs, h0, layers, lengths=None, dropout=0.0, training=False, seed=0):
        """output, h_n of torch.nn.GRU(num_layers=L, bidirectional=D == 2, dropout=p)."""
        return _forward(self.source, self.np_dt, "gru", xs, (h0,), layers, lengths, dropout, training, seed)

    def rnn_stack_vjp(self, xs, h0, layers, lengths, d_ys, d_hT):
        """autograd through torch.nn.RNN in eval mode: {"xs", "h0", "layers"}."""
        return _vjp(self.source, self.np_dt, "rnn", xs, (h0,), layers, lengths, d_ys, (d_hT,))

    def lstm_stack_vjp(self, xs, h0, c0, layers, lengths, d_ys, d_hT, d_cT):
        """autograd through torch.nn.LSTM in eval mode: {"xs", "h0", "c0", "layers"}."""
        return _vjp(self.source, self.np_dt, "lstm", xs, (h0, c0), layers, lengths, d_ys, (d_hT, d_cT))

    def gru_stack_vjp(self, xs, h0, layers, lengths, d_ys, d_hT):
        """autograd through torch.nn.GRU in eval mode: {"xs", "h0", "layers"}."""
        return _vjp(self.source, self.np_dt, "gru", xs, (h0,), layers, lengths, d_ys, (d_hT,))


CAPS = ("rnn_stack", "lstm_stack", "gru_stack", "rnn_stack_vjp", "lstm_stack_vjp", "gru_stack_vjp")


def capabilities(dtype: str = "float32", nonlinearity: str = "tanh") -> dict:
    """{capability: callable} of the six stacked capabilities over fresh torch.nn modules in ``dtype``."""
    _, td, _ = startup.dtype("torch_nn_stacked.capabilities", dtype)
    a = _Stacked(_Fresh(td, nonlinearity), dtype)
    return {c: getattr(a, c) for c in CAPS}


def _validate_module(mod) -> str:
    """The kind of a user's nn.RNN / LSTM / GRU; configurations outside the protocol are refused."""
    torch = _torch()
    kind = next((k for k, c in SEQUENCE_CLASS.items() if isinstance(mod, getattr(torch.nn, c))), None)
    if kind is None:
        raise ValueError(f"from_module: argument 'module' should be a torch.nn.RNN, LSTM or GRU instance "
                         f"(subclasses included), got {type(mod).__qualname__}")
    who = _describe(mod)
    if not mod.bias:
        raise ValueError(f"from_module: {who} has bias=False, but the protocol's cells have biases: refused")
    for l in range(mod.num_layers):
        for d in range(2 if mod.bidirectional else 1):
            for key in STORAGE + (("weight_hr",) if getattr(mod, "proj_size", 0) else ()):
                attr = key + _suffix(l, d)
                if not isinstance(getattr(mod, attr, None), torch.Tensor):
                    raise ValueError(f"from_module: {who} has no parameter {attr}: refused")
                if not getattr(mod, attr).is_floating_point():
                    raise ValueError(f"from_module: {who} has {attr} of a non-floating dtype: refused")
    return kind


def from_module(module, dtype: str = "float32", resize: bool = False) -> Target:
    """A target over the user's own (multi-layer) torch.nn.RNN / LSTM / GRU: ``{kind}_stack`` and
    ``{kind}_stack_vjp``. Each call deep-copies the module to the CPU in ``dtype``, sets the copy's dropout to
    the call's p, loads the layers' params and runs it (train() for training calls, eval() otherwise and for
    gradients); the original is never touched. batch_first=True is mapped (input transposed in, output back).
    With ``resize`` (the property suite draws its own sizes) each call instead builds a fresh module of the
    user's class (subclasses included: their forward runs) and configuration (batch_first, nonlinearity) with
    the call's input_size, hidden_size, num_layers, bidirectional and proj_size.
    Refused with a ValueError naming the module: another class, bias=False, missing or non-floating
    parameters, a class that cannot be built at other sizes (with ``resize``); at call time (without
    ``resize``), layers whose sizes (input_size, hidden_size, num_layers, bidirectional, proj_size) differ from
    the module's. Conventions: padded_output 'zero'; restrictions projection_size 'smaller_than_hidden' for a
    projected LSTM, stack_projection False for an LSTM without proj_size."""
    _, td, _ = startup.dtype("from_module", dtype)
    kind = _validate_module(module)
    source = _User(module, td, resize)
    if resize:
        try:
            source.build(kind, module.input_size, module.hidden_size, module.num_layers, 2 if module.bidirectional
                         else 1, getattr(module, "proj_size", 0), 0.0)
        except Exception as exc:  # noqa: BLE001 - a subclass whose constructor takes other arguments
            raise ValueError(f"from_module: cannot build a {_describe(module)} of other sizes with resize=True: "
                             f"{type(exc).__name__}: {exc}") from exc
    a = _Stacked(source, dtype)
    restrictions = {}
    if kind == "lstm":
        restrictions = {"projection_size": "smaller_than_hidden"} if module.proj_size else {"stack_projection": False}
    conv = {"rnn_activation": getattr(module, "nonlinearity", "tanh"), "gru": "reset_after", "bias": "two",
            "padded_output": "zero", "restrictions": restrictions, **startup.accumulation(dtype)}
    tag = "; resized to each example's sizes" if resize else ""
    return Target(name=f"torch.nn module [{_describe(module)}{tag}] (torch {torch_version()}, {dtype})", dtype=dtype,
                  conventions=conv, **{c: getattr(a, c) for c in (f"{kind}_stack", f"{kind}_stack_vjp")})
