"""The real torch.nn recurrent modules and clipping utilities as conformance-protocol targets (version 1).

Canonical params (column vectors, numerator layout; a cell computes ``x @ W_x.T + h @ W_h.T + b`` on batch
rows, sequences time-major ``(T, B, features)``) map into torch's storage and back
(framework-conventions.md §1), with G = 1 (RNN), 4 (LSTM, gate order i, f, g, o) or 3 (GRU, order r, z, n)
stacked row blocks ``[j n:(j+1) n]``:

    weight_ih (G n, m) = [W_x* ...]      weight_hh (G n, n) = [W_h* ...]
    bias_ih   (G n,)   = [b_* ...]       bias_hh   (G n,)   = 0, except GRU's bias_hh[2n:] = b_hn

so torch's two bias vectors hold the canonical bias as bias_ih with bias_hh = 0 (b_xn = bias_ih[2n:],
b_hn = bias_hh[2n:] for GRU, which is reset-after: n = tanh(W_xn x + b_xn + r * (W_hn h + b_hn))). Read
back, b_* = bias_ih + bias_hh per block (GRU's b_xn / b_hn stay apart). Gradients come from
torch.autograd through the module; dL/db_* is the gradient of bias_ih's block (equal to bias_hh's, the two
only act as a sum), and dL/db_hn that of bias_hh[2n:]. Sequence modules are one-layer,
``batch_first=False`` (time-major, as the protocol): h0 (B, n) goes in as h0[None] (1, B, n).
Bidirectional modules give ``ys = output (T, B, 2n) = [forward ; backward]`` (time-aligned), h_f = h_n[0],
h_b = h_n[1] (the backward state after reading x_0; h_n is stacked ``[l0_fwd, l0_bwd]``).

`target(dtype, nonlinearity)` builds a fresh torch.nn module per call (nn.RNNCell / LSTMCell / GRUCell for
the cells, nn.RNN / LSTM / GRU for sequences and gradients, ``bidirectional=True`` for the bi capabilities),
loads the params and runs it (forward-only capabilities under torch.no_grad). `from_modules` wraps a user's
own module instances (subclasses included): each call deep-copies the module, loads the params into the
copy and runs the copy in eval mode, so the user's module is never touched. Configurations outside the
protocol (proj_size > 0, num_layers > 1, bias=False) are refused with a ValueError naming the module;
parameters whose shapes do not fit the module's input_size / hidden_size are refused, never mis-mapped.
An empty sequence (T = 0) is passed to torch, which refuses it (RuntimeError "Expected sequence length to
be larger than 0").

Clipping: torch.nn.utils.clip_grad_norm_ (its convention: scale min(1, c / (||g|| + 1e-6)), applied always,
global norm) and clip_grad_value_ on parameters whose .grad holds copies of the given arrays; the pre-clip
norm is clip_grad_norm_'s return value (the same as torch.nn.utils.get_total_norm, see `total_norm`).
``param_count(kind, n, m)`` is ``sum(p.numel())`` of a real one-layer nn.RNN / LSTM / GRU (two bias vectors).

Inputs are NumPy arrays; they are computed in the target's dtype (float16 / bfloat16 / float32 / float64,
torch tensors of that dtype) and returned as new NumPy arrays of that dtype (bfloat16: ml_dtypes' arrays,
crossing exactly through float32, `startup.tensor`); the inputs are never mutated.

16 bits (``target("float16")``, ``target("bfloat16")``): every module of every chapter runs at that dtype on the
CPU with torch 2.13.0 (nn.RNN/LSTM/GRU and cells, nn.Linear, nn.Conv1d/2d, nn.BatchNorm1d, nn.LayerNorm,
nn.MultiheadAttention, F.scaled_dot_product_attention, nn.Dropout, clip_grad_norm_, backward included); what
`BROKEN_AT` lists is left out, each with its finding. Declared accumulate="float32", as measured (`startup.TORCH_CPU_ACCUMULATE`): a long
dot product ``[1, e x N, -1] . [1 ... 1]`` (float16: e = 2^-12, N = 1024; bfloat16: e = 2^-9, N = 128) gives
N e = 0.25 through nn.Linear and every recurrent module's input weights, where an accumulator of the 16-bit
format, adding in order, loses every e (1 + e rounds to 1) and gives 0 (tests/adapters/test_torch16.py
measures it through the target's own capabilities). Each elementwise op is rounded to the 16-bit dtype.
Found at bfloat16 (reports/findings/torch-bfloat16-conv-weight-grad-padding): the CPU conv backward leaves the
weight gradient of a kernel tap that only reads padding uninitialised (conv1d.vjp / conv2d.vjp, from run to run).
Found at float16 and bfloat16 (reports/findings/torch-16-bit-conv-input-grad-sums-taps-in-16-bits): the conv
input gradient sums over channels in float32 but over the kernel taps in the 16-bit format (each addition
rounded), beyond the declared accumulation: conv2d_vjp is left out at float16 (conv1d_vjp already is, and both
are at bfloat16). torch is imported lazily: without it the factories raise ImportError with the install hint.
"""
from __future__ import annotations

import copy
import importlib
import importlib.util
import inspect
from collections.abc import Mapping
from functools import lru_cache

import numpy as np

from dlproof.capabilities import CHAPTERS, capabilities_of
from dlproof.parameters import BLOCKS, KINDS, PARAMS
from dlproof.target import Target

from ..numpy_ref.checks import clipping as clip_checks
from ..numpy_ref.checks import recurrent as checks
from . import startup
from .startup import torch as _torch
from .startup import torch_version

#: BLOCKS[kind][j], the (W_x*, W_h*, b*) of gate j, is row block j n:(j+1) n of weight_ih / weight_hh / bias_ih:
#: torch's gate order is the protocol's; GRU's b_hn, outside the blocks, goes to bias_hh
STORAGE = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
SEQUENCE_CLASS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
CELL_CLASS = {"rnn": "RNNCell", "lstm": "LSTMCell", "gru": "GRUCell"}
NONLINEARITIES = ("tanh", "relu")
CLIP_EPS = 1e-6  # torch/nn/utils/clip_grad.py: coef = max_norm / (total_norm + 1e-6), clamped to <= 1


def conventions(nonlinearity: str = "tanh") -> dict:
    """What torch.nn declares: two bias vectors, reset-after GRU, clip eps 1e-6 on the global norm, and an
    unscaled norm: clip_grad_norm_ forms sum g^2 in the dtype (float32 overflows once ||g|| > ~1.8e19, float64
    once ||g|| > ~1.3e154: the norm is inf and every gradient becomes 0; entries below ~2.6e-23 / 1.6e-162
    square to 0; a one-entry vector's norm is |g|, measured with torch 2.13). Stacks: packed sequences give 0 at
    padded steps (padded_output "zero"), and nn.LSTM refuses proj_size >= hidden_size (restriction
    projection_size; torch_nn_stacked, torch_nn_projection)."""
    return {"rnn_activation": nonlinearity, "gru": "reset_after", "bias": "two", "clip_eps": CLIP_EPS,
            "clip_scope": "global", "clip_norm_scaling": "unscaled", "bn_running_var": "unbiased",
            "padded_output": "zero", "restrictions": {"projection_size": "smaller_than_hidden"}}


# ---- the weight map (NumPy only) ----------------------------------------------------------------------

def _kind(fn: str, kind) -> str:
    if kind not in KINDS:
        raise ValueError(f"{fn}: kind should be one of {KINDS}, got {kind!r}")
    return kind


def to_storage(kind: str, p: Mapping) -> dict:
    """Canonical params -> {"weight_ih" (G n, m), "weight_hh" (G n, n), "bias_ih" (G n,), "bias_hh" (G n,)}.

    bias_ih holds the canonical biases, bias_hh is zero except GRU's b_hn (rows 2n:3n)."""
    gates = BLOCKS[_kind("to_storage", kind)]
    s = {
        "weight_ih": np.concatenate([np.asarray(p[wx]) for wx, _, _ in gates]),
        "weight_hh": np.concatenate([np.asarray(p[wh]) for _, wh, _ in gates]),
        "bias_ih": np.concatenate([np.asarray(p[b]) for _, _, b in gates]),
    }
    s["bias_hh"] = np.zeros_like(s["bias_ih"])
    if kind == "gru":
        n = np.asarray(p["b_hn"]).shape[0]
        s["bias_hh"][2 * n:] = p["b_hn"]
    return s


def from_storage(kind: str, s: Mapping, gradients: bool = False) -> dict:
    """torch's storage -> canonical params: b_* = bias_ih + bias_hh per block (GRU: b_xn = bias_ih[2n:],
    b_hn = bias_hh[2n:]). With ``gradients=True`` ``s`` holds dL/d(storage) and b_* = dL/dbias_ih (the
    canonical bias sits in bias_ih; dL/dbias_hh is the same number, both act only as a sum)."""
    gates = BLOCKS[_kind("from_storage", kind)]
    s = {k: np.asarray(v) for k, v in s.items()}
    n = s["weight_hh"].shape[1]
    out = {}
    for j, (wx, wh, b) in enumerate(gates):
        rows = slice(j * n, (j + 1) * n)
        out[wx], out[wh] = s["weight_ih"][rows].copy(), s["weight_hh"][rows].copy()
        if gradients or (kind == "gru" and b == "b_xn"):
            out[b] = s["bias_ih"][rows].copy()
        else:
            out[b] = s["bias_ih"][rows] + s["bias_hh"][rows]
    if kind == "gru":
        out["b_hn"] = s["bias_hh"][2 * n:].copy()
    return {k: out[k] for k in PARAMS[kind]}


def _attrs(module, suffix: str = "") -> list:
    torch = _torch()
    if isinstance(module, torch.nn.RNNCellBase):
        return list(STORAGE)
    return [f"{a}_l0{suffix}" for a in STORAGE]


def load(module, kind: str, p: Mapping, suffix: str = "") -> None:
    """Write canonical params into ``module``'s parameters (in place; ``suffix`` "_reverse" for the backward
    direction). A shape that does not fit raises ValueError (never a silent mis-map)."""
    torch = _torch()
    storage = to_storage(kind, p)
    with torch.no_grad():
        for key, attr in zip(STORAGE, _attrs(module, suffix)):
            param = getattr(module, attr)
            value = startup.tensor(torch, storage[key], param.dtype)
            if tuple(param.shape) != tuple(value.shape):
                raise ValueError(f"{_describe(module)}: {attr} has shape {tuple(param.shape)}, but the {kind} params "
                                 f"give {tuple(value.shape)}")
            param.copy_(value)


def canonical_params(module, kind: str, suffix: str = "") -> dict:
    """The canonical params (NumPy, the module's dtype) that ``module`` computes with (the inverse of `load`)."""
    params = [getattr(module, attr) for attr in _attrs(module, suffix)]
    storage = {key: startup.to_numpy(t, startup.numpy_dtype(t.dtype)) for key, t in zip(STORAGE, params)}
    return from_storage(kind, storage)


# ---- where modules come from --------------------------------------------------------------------------

def _class_name(module) -> str:
    torch = _torch()
    for name in (*SEQUENCE_CLASS.values(), *CELL_CLASS.values()):
        base = getattr(torch.nn, name)
        if type(module) is base:
            return f"torch.nn.{name}"
        if isinstance(module, base):
            return f"{type(module).__qualname__} [a torch.nn.{name} subclass]"
    return type(module).__qualname__


def _describe(module) -> str:
    """e.g. "torch.nn.LSTM(input_size=3, hidden_size=4)"; non-default layout flags are named."""
    name = _class_name(module)
    args = [f"input_size={getattr(module, 'input_size', '?')}", f"hidden_size={getattr(module, 'hidden_size', '?')}"]
    for flag, default in (("num_layers", 1), ("bidirectional", False), ("batch_first", False), ("proj_size", 0),
                          ("bias", True)):
        if hasattr(module, flag) and getattr(module, flag) != default:
            args.append(f"{flag}={getattr(module, flag)!r}")
    if "[" in name:
        base, _, tag = name.partition(" ")
        return f"{base}({', '.join(args)}) {tag}"
    return f"{name}({', '.join(args)})"


class _Fresh:
    """A new torch.nn module per call, of the params' sizes (their initial values are overwritten)."""

    def __init__(self, td, nonlinearity: str):
        self.td, self.nonlinearity = td, nonlinearity

    def has(self, kind: str, what: str) -> bool:
        return True

    def check(self, fn, kind, p, p_name="p") -> None:
        pass  # the sizes come from the params themselves

    def _kw(self, kind):
        return {"nonlinearity": self.nonlinearity} if kind == "rnn" else {}

    def sequence(self, kind: str, ps: list, bidirectional: bool):
        nn = _torch().nn
        n, m = np.shape(ps[0][BLOCKS[kind][0][0]])
        mod = getattr(nn, SEQUENCE_CLASS[kind])(m, n, bidirectional=bidirectional, dtype=self.td, **self._kw(kind))
        for p, suffix in zip(ps, ("", "_reverse")):
            load(mod, kind, p, suffix)
        return mod, False

    def cell(self, kind: str, p):
        nn = _torch().nn
        n, m = np.shape(p[BLOCKS[kind][0][0]])
        mod = getattr(nn, CELL_CLASS[kind])(m, n, dtype=self.td, **self._kw(kind))
        load(mod, kind, p)
        return mod


class _User:
    """Copies of the user's own modules (one per kind), validated once, copied per call."""

    def __init__(self, modules: dict, td):
        self.modules, self.td = modules, td

    def has(self, kind: str, what: str) -> bool:
        """what: "cell" (a cell module), "sequence" (one-direction) or "bi" (bidirectional)."""
        torch = _torch()
        mod = self.modules.get(kind)
        if mod is None:
            return False
        if isinstance(mod, torch.nn.RNNCellBase):
            return what == "cell"
        return what == ("bi" if mod.bidirectional else "sequence")

    def check(self, fn, kind, p, p_name="p") -> None:
        """Each param's shape against the module's hidden_size / input_size (before any generic check)."""
        mod = self.modules[kind]
        if not isinstance(p, Mapping):
            return  # the generic check names it
        n, m = mod.hidden_size, mod.input_size
        for k in PARAMS[kind]:
            if k not in p:
                continue
            want = (n, m) if k.startswith("W_x") else (n, n) if k.startswith("W_h") else (n,)
            got = np.shape(p[k])
            if tuple(got) != want:
                label = k if p_name == "p" else f"{p_name}[{k!r}]"
                raise ValueError(f"{fn}: {_describe(mod)} cannot take {label} of shape {tuple(got)}: expected {want}")

    def _copy(self, kind):
        mod = copy.deepcopy(self.modules[kind]).to(device="cpu", dtype=self.td)
        mod.eval()  # torch applies dropout only between layers and only in training mode: off
        for attr in _attrs(mod) + (_attrs(mod, "_reverse") if getattr(mod, "bidirectional", False) else []):
            getattr(mod, attr).requires_grad_(True)  # a frozen user parameter still gets its gradient
        return mod

    def sequence(self, kind: str, ps: list, bidirectional: bool):
        mod = self._copy(kind)
        for p, suffix in zip(ps, ("", "_reverse")):
            load(mod, kind, p, suffix)
        return mod, bool(mod.batch_first)

    def cell(self, kind: str, p):
        mod = self._copy(kind)
        load(mod, kind, p)
        return mod


def _refuse(arg: str, mod, problem: str):
    raise ValueError(f"from_modules: {arg}={_describe(mod)} {problem}")


def _validate_module(arg: str, mod) -> None:
    """Refuse configurations the protocol cannot express (never run them with a silent mis-map)."""
    torch = _torch()
    nn = torch.nn
    seq_cls, cell_cls = getattr(nn, SEQUENCE_CLASS[arg]), getattr(nn, CELL_CLASS[arg])
    if not isinstance(mod, (seq_cls, cell_cls)):
        raise ValueError(f"from_modules: argument {arg!r} should be a torch.nn.{SEQUENCE_CLASS[arg]} or "
                         f"torch.nn.{CELL_CLASS[arg]} instance (subclasses included), got {type(mod).__qualname__}")
    if not getattr(mod, "bias", True):
        _refuse(arg, mod, "has bias=False, but the protocol's cells have biases (b_*), which it cannot hold: "
                          "refused (use bias=True; zero biases are then just params)")
    if isinstance(mod, seq_cls):
        if getattr(mod, "proj_size", 0) > 0:
            _refuse(arg, mod, f"has proj_size={mod.proj_size} (h_t = W_hr (o * tanh c)), which the protocol's "
                              "LSTM does not have: refused")
        if mod.num_layers != 1:
            _refuse(arg, mod, f"has num_layers={mod.num_layers}: multi-layer modules are refused (the protocol "
                              "checks one layer; check each layer as its own one-layer module)")
    suffixes = [""] + (["_reverse"] if getattr(mod, "bidirectional", False) else [])
    G = len(BLOCKS[arg])
    n, m = mod.hidden_size, mod.input_size
    want = {"weight_ih": (G * n, m), "weight_hh": (G * n, n), "bias_ih": (G * n,), "bias_hh": (G * n,)}
    for suffix in suffixes:
        for key, attr in zip(STORAGE, _attrs(mod, suffix)):
            param = getattr(mod, attr, None)
            if not isinstance(param, torch.Tensor):
                _refuse(arg, mod, f"has no parameter {attr}: refused")
            if tuple(param.shape) != want[key]:
                _refuse(arg, mod, f"has {attr} of shape {tuple(param.shape)}, but should be {want[key]}: refused")
            if not param.is_floating_point():
                _refuse(arg, mod, f"has {attr} of dtype {param.dtype}, but should be floating: refused")


# ---- the capabilities ----------------------------------------------------------------------------------

class _Adapter:
    """The protocol's capabilities over a module source (fresh torch.nn modules or copies of user modules)."""

    def __init__(self, source, dtype: str):
        _, self.td, self.np_dt = startup.dtype("target", dtype)
        self.source = source

    # NumPy <-> torch: fresh copies both ways
    def _t(self, a, requires_grad=False):
        return startup.tensor(_torch(), a, self.td, requires_grad)

    def _np(self, t) -> np.ndarray:
        return startup.to_numpy(t, self.np_dt)

    @staticmethod
    def _names(kind):
        return ("h0", "c0") if kind == "lstm" else ("h0",)

    def _validate(self, fn, kind, xs, states, p, names, p_name="p", step=False):
        """Module-size check (user modules), then the generic shape checks; -> (xs, [states], params)."""
        self.source.check(fn, kind, p, p_name)
        if kind == "rnn":
            if step:
                x, h, W_x, W_h, b, _ = checks.rnn_step(fn, xs, states[0], p)
            else:
                x, h, W_x, W_h, b, _ = checks.rnn_sequence(fn, xs, states[0], p, h0_name=names[0], p_name=p_name)
            return x, [h], {"W_x": W_x, "W_h": W_h, "b": b}
        pairs = list(zip(names, states))
        if step:
            x, sts, params, _ = checks.gated_step(fn, xs, pairs, p, PARAMS[kind])
        else:
            x, sts, params, _ = checks.gated_sequence(fn, xs, pairs, p, PARAMS[kind], p_name=p_name)
        return x, sts, params

    def _run(self, mod, batch_first, kind, x, h0, c0, D):
        """output (T, B, D n), h_n (D, B, n), c_n (D, B, n) | None from the module, shapes verified."""
        torch = _torch()
        who = _describe(mod)
        out = mod(x.transpose(0, 1) if batch_first else x, (h0, c0) if kind == "lstm" else h0)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise ValueError(f"{who} returned {type(out).__name__}, but should return (output, h_n"
                             f"{', c_n' if kind == 'lstm' else ''}) as torch.nn.{SEQUENCE_CLASS[kind]} does")
        y, hn = out
        cn = None
        if kind == "lstm":
            if not (isinstance(hn, tuple) and len(hn) == 2):
                raise ValueError(f"{who} returned a state {type(hn).__name__}, but should return (h_n, c_n)")
            hn, cn = hn
        if batch_first and isinstance(y, torch.Tensor):
            y = y.transpose(0, 1)
        T, B = x.shape[:2]
        n = h0.shape[-1]
        for name, t, shape in (("output", y, (T, B, D * n)), ("h_n", hn, (D, B, n)), ("c_n", cn, (D, B, n))):
            if name == "c_n" and kind != "lstm":
                continue
            if not isinstance(t, torch.Tensor) or tuple(t.shape) != shape:
                got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
                raise ValueError(f"{who} returned {name} of shape {got}, but should be {shape} (time-major)")
        return y, hn, cn

    # -- cells
    def _cell(self, kind, x, states, p):
        fn = f"{kind}_cell"
        torch = _torch()
        x, sts, params = self._validate(fn, kind, x, states, p, ("h", "c")[:len(states)], step=True)
        with torch.no_grad():
            if self.source.has(kind, "cell"):
                mod = self.source.cell(kind, params)
                xt, hs = self._t(x), [self._t(s) for s in sts]
                out = mod(xt, tuple(hs) if kind == "lstm" else hs[0])
                out = tuple(out) if kind == "lstm" else (out,)
                expect = tuple(hs[0].shape)
                for o in out:
                    if not isinstance(o, torch.Tensor) or tuple(o.shape) != expect:
                        raise ValueError(f"{_describe(mod)} returned {type(o).__name__}"
                                         f"{tuple(o.shape) if isinstance(o, torch.Tensor) else ''}, "
                                         f"but should return (B, n) = {expect} states")
            else:  # a one-direction sequence module, run for one step
                mod, bf = self.source.sequence(kind, [params], False)
                h0 = self._t(sts[0])[None]
                c0 = self._t(sts[1])[None] if kind == "lstm" else None
                _, hn, cn = self._run(mod, bf, kind, self._t(x)[None], h0, c0, 1)
                out = (hn[0], cn[0]) if kind == "lstm" else (hn[0],)
        return tuple(self._np(o) for o in out)

    def rnn_cell(self, x, h, p):
        """(x (B, m), h (B, n), p) -> h' (B, n)."""
        return self._cell("rnn", x, (h,), p)[0]

    def lstm_cell(self, x, h, c, p):
        """(x (B, m), h (B, n), c (B, n), p) -> (h', c')."""
        return self._cell("lstm", x, (h, c), p)

    def gru_cell(self, x, h, p):
        """(x (B, m), h (B, n), p) -> h' (B, n)."""
        return self._cell("gru", x, (h,), p)[0]

    # -- sequences
    def _forward(self, kind, xs, states, p):
        torch = _torch()
        xs, sts, params = self._validate(kind, kind, xs, states, p, self._names(kind))
        mod, bf = self.source.sequence(kind, [params], False)
        with torch.no_grad():
            y, hn, cn = self._run(mod, bf, kind, self._t(xs), self._t(sts[0])[None],
                                  self._t(sts[1])[None] if kind == "lstm" else None, 1)
        hs = self._np(y)
        return (hs, (self._np(hn[0]), self._np(cn[0]))) if kind == "lstm" else (hs, self._np(hn[0]))

    def rnn(self, xs, h0, p):
        """xs (T, B, m), h0 (B, n) -> (hs (T, B, n), h_T)."""
        return self._forward("rnn", xs, (h0,), p)

    def lstm(self, xs, h0, c0, p):
        """xs (T, B, m), h0, c0 (B, n) -> (hs (T, B, n), (h_T, c_T))."""
        return self._forward("lstm", xs, (h0, c0), p)

    def gru(self, xs, h0, p):
        """xs (T, B, m), h0 (B, n) -> (hs (T, B, n), h_T)."""
        return self._forward("gru", xs, (h0,), p)

    # -- gradients
    def _vjp(self, kind, xs, states, p, d_hs, d_hT, d_cT=None):
        fn = f"{kind}_vjp"
        torch = _torch()
        names = self._names(kind)
        xs, sts, params = self._validate(fn, kind, xs, states, p, names)
        T, B, _ = xs.shape
        n = sts[0].shape[1]
        d_hs, d_hT = checks.cotangents(fn, d_hs, d_hT, T, B, n, self.np_dt)
        if kind == "lstm":
            d_cT = checks.state_cotangent(fn, "d_cT", d_cT, B, n, self.np_dt)
        mod, bf = self.source.sequence(kind, [params], False)
        leaves = [self._t(xs, True)] + [self._t(s, True) for s in sts]
        weights = [getattr(mod, a) for a in _attrs(mod)]
        with torch.enable_grad():
            y, hn, cn = self._run(mod, bf, kind, leaves[0], leaves[1][None],
                                  leaves[2][None] if kind == "lstm" else None, 1)
            L = (self._t(d_hs) * y).sum() + (self._t(d_hT) * hn[0]).sum()
            if kind == "lstm":
                L = L + (self._t(d_cT) * cn[0]).sum()
            g = torch.autograd.grad(L, leaves + weights, allow_unused=True)
        g = [self._np(gi) if gi is not None else np.zeros(tuple(t.shape), self.np_dt)
             for gi, t in zip(g, leaves + weights)]
        out = {"xs": g[0], **dict(zip(names, g[1:len(leaves)]))}
        out["params"] = from_storage(kind, dict(zip(STORAGE, g[len(leaves):])), gradients=True)
        return out

    def rnn_vjp(self, xs, h0, p, d_hs, d_hT):
        """Gradients of L = <d_hs, hs> + <d_hT, h_T> -> {"xs", "h0", "params"}."""
        return self._vjp("rnn", xs, (h0,), p, d_hs, d_hT)

    def lstm_vjp(self, xs, h0, c0, p, d_hs, d_hT, d_cT):
        """Gradients of L = <d_hs, hs> + <d_hT, h_T> + <d_cT, c_T> -> {"xs", "h0", "c0", "params"}."""
        return self._vjp("lstm", xs, (h0, c0), p, d_hs, d_hT, d_cT)

    def gru_vjp(self, xs, h0, p, d_hs, d_hT):
        """Gradients of L = <d_hs, hs> + <d_hT, h_T> -> {"xs", "h0", "params"}."""
        return self._vjp("gru", xs, (h0,), p, d_hs, d_hT)

    # -- bidirectional
    def _bi(self, kind, xs, states_f, states_b, p_f, p_b):
        fn = f"{kind}_bi"
        torch = _torch()
        base = self._names(kind)
        xs, sf, pf = self._validate(fn, kind, xs, states_f, p_f, tuple(f"{s}_f" for s in base), "p_f")
        _, sb, pb = self._validate(fn, kind, xs, states_b, p_b, tuple(f"{s}_b" for s in base), "p_b")
        mod, bf = self.source.sequence(kind, [pf, pb], True)
        h0 = torch.stack([self._t(sf[0]), self._t(sb[0])])
        c0 = torch.stack([self._t(sf[1]), self._t(sb[1])]) if kind == "lstm" else None
        with torch.no_grad():
            y, hn, cn = self._run(mod, bf, kind, self._t(xs), h0, c0, 2)
        ys = self._np(y)
        if kind == "lstm":
            return ys, (self._np(hn[0]), self._np(cn[0])), (self._np(hn[1]), self._np(cn[1]))
        return ys, self._np(hn[0]), self._np(hn[1])

    def rnn_bi(self, xs, h0_f, h0_b, p_f, p_b):
        """xs (T, B, m) -> (ys (T, B, 2n) = [fwd ; bwd], h_f = h_n[0], h_b = h_n[1])."""
        return self._bi("rnn", xs, (h0_f,), (h0_b,), p_f, p_b)

    def lstm_bi(self, xs, state_f, state_b, p_f, p_b):
        """xs, (h0_f, c0_f), (h0_b, c0_b) -> (ys (T, B, 2n), (h_f, c_f), (h_b, c_b))."""
        fn = "lstm_bi"
        sf = checks.state_pair(fn, "state_f", state_f, "h0_f", "c0_f")
        sb = checks.state_pair(fn, "state_b", state_b, "h0_b", "c0_b")
        return self._bi("lstm", xs, sf, sb, p_f, p_b)

    def gru_bi(self, xs, h0_f, h0_b, p_f, p_b):
        """xs (T, B, m) -> (ys (T, B, 2n) = [fwd ; bwd], h_f, h_b)."""
        return self._bi("gru", xs, (h0_f,), (h0_b,), p_f, p_b)

    def _bi_vjp(self, kind, xs, states_f, states_b, p_f, p_b, d_ys, d_finals):
        """autograd through the real bidirectional module of <d_ys, output> + <d_finals, (h_n[0], h_n[1]
        [, c_n[0], c_n[1]])> -> {"xs", "<s>_f", "<s>_b", "params_f", "params_b"} (bi.vjp_reversal's layout)."""
        from ..numpy_ref.bidirectional import _bi_cotangents

        fn = f"{kind}_bi_vjp"
        torch = _torch()
        base = self._names(kind)
        xs, sf, pf = self._validate(fn, kind, xs, states_f, p_f, tuple(f"{s}_f" for s in base), "p_f")
        _, sb, pb = self._validate(fn, kind, xs, states_b, p_b, tuple(f"{s}_b" for s in base), "p_b")
        T, B, _ = xs.shape
        n = sf[0].shape[1]
        d_f, d_r, fin = _bi_cotangents(fn, d_ys, d_finals, T, B, n, self.np_dt)
        d_y = np.concatenate([d_f, d_r[::-1]], axis=-1)
        mod, bf = self.source.sequence(kind, [pf, pb], True)
        leaves = [self._t(xs, True)] + [self._t(s, True) for s in (*sf, *sb)]
        w_f, w_b = [getattr(mod, a) for a in _attrs(mod)], [getattr(mod, a) for a in _attrs(mod, "_reverse")]
        k = len(base)
        with torch.enable_grad():
            h0 = torch.stack([leaves[1], leaves[1 + k]])
            c0 = torch.stack([leaves[2], leaves[2 + k]]) if kind == "lstm" else None
            y, hn, cn = self._run(mod, bf, kind, leaves[0], h0, c0, 2)
            outs = [hn[0], cn[0], hn[1], cn[1]] if kind == "lstm" else [hn[0], hn[1]]
            L = (self._t(d_y) * y).sum() + sum((self._t(d) * o).sum() for d, o in zip(fin, outs))
            g = torch.autograd.grad(L, leaves + w_f + w_b, allow_unused=True)
        g = [self._np(gi) if gi is not None else np.zeros(tuple(t.shape), self.np_dt)
             for gi, t in zip(g, leaves + w_f + w_b)]
        out = {"xs": g[0], **{f"{s}_f": a for s, a in zip(base, g[1:1 + k])},
               **{f"{s}_b": a for s, a in zip(base, g[1 + k:1 + 2 * k])}}
        at = len(leaves)
        out["params_f"] = from_storage(kind, dict(zip(STORAGE, g[at:at + len(w_f)])), gradients=True)
        out["params_b"] = from_storage(kind, dict(zip(STORAGE, g[at + len(w_f):])), gradients=True)
        return out

    def rnn_bi_vjp(self, xs, h0_f, h0_b, p_f, p_b, d_ys, d_hf, d_hb):
        """Gradients of <d_ys, ys> + <d_hf, h_f> + <d_hb, h_b> -> {"xs", "h0_f", "h0_b", "params_f", "params_b"}."""
        return self._bi_vjp("rnn", xs, (h0_f,), (h0_b,), p_f, p_b, d_ys, (("d_hf", d_hf), ("d_hb", d_hb)))

    def lstm_bi_vjp(self, xs, state_f, state_b, p_f, p_b, d_ys, d_final_f, d_final_b):
        """Gradients of <d_ys, ys> + <d_hf, h_f> + <d_cf, c_f> + <d_hb, h_b> + <d_cb, c_b>
        -> {"xs", "h0_f", "c0_f", "h0_b", "c0_b", "params_f", "params_b"}."""
        fn = "lstm_bi_vjp"
        sf = checks.state_pair(fn, "state_f", state_f, "h0_f", "c0_f")
        sb = checks.state_pair(fn, "state_b", state_b, "h0_b", "c0_b")
        d_hf, d_cf = checks.state_pair(fn, "d_final_f", d_final_f, "d_hf", "d_cf")
        d_hb, d_cb = checks.state_pair(fn, "d_final_b", d_final_b, "d_hb", "d_cb")
        return self._bi_vjp("lstm", xs, sf, sb, p_f, p_b, d_ys,
                            (("d_hf", d_hf), ("d_cf", d_cf), ("d_hb", d_hb), ("d_cb", d_cb)))

    def gru_bi_vjp(self, xs, h0_f, h0_b, p_f, p_b, d_ys, d_hf, d_hb):
        """Gradients of <d_ys, ys> + <d_hf, h_f> + <d_hb, h_b> -> {"xs", "h0_f", "h0_b", "params_f", "params_b"}."""
        return self._bi_vjp("gru", xs, (h0_f,), (h0_b,), p_f, p_b, d_ys, (("d_hf", d_hf), ("d_hb", d_hb)))

    # -- clipping
    def _params(self, grads):
        torch = _torch()
        ps = []
        for g in grads:
            p = torch.nn.Parameter(torch.zeros(np.shape(g), dtype=self.td))
            p.grad = self._t(g)
            ps.append(p)
        return ps

    def clip_grad_norm(self, grads, max_norm):
        """torch.nn.utils.clip_grad_norm_(params, max_norm) on copies -> (clipped list, pre-clip norm as float)."""
        fn = "clip_grad_norm"
        grads, max_norm, _ = clip_checks.clip_args(fn, grads, max_norm, CLIP_EPS, "global")
        params = self._params(grads)
        total = _torch().nn.utils.clip_grad_norm_(params, max_norm, norm_type=2.0, error_if_nonfinite=False)
        return [self._np(p.grad) for p in params], float(total)

    def clip_grad_value(self, grads, clip_value):
        """torch.nn.utils.clip_grad_value_(params, clip_value) on copies -> clipped list."""
        fn = "clip_grad_value"
        grads = clip_checks.grad_list(fn, grads)
        v = clip_checks.positive_number(fn, "clip_value", clip_value)
        params = self._params(grads)
        _torch().nn.utils.clip_grad_value_(params, v)
        return [self._np(p.grad) for p in params]


def total_norm(grads, dtype: str = "float32") -> float:
    """torch.nn.utils.get_total_norm of the arrays (as tensors of ``dtype``), as a float."""
    torch = _torch()
    grads = clip_checks.grad_list("total_norm", grads)
    _, td, _ = startup.dtype("total_norm", dtype)
    return float(torch.nn.utils.get_total_norm([startup.tensor(torch, g, td) for g in grads], norm_type=2.0))


@lru_cache(maxsize=256)
def _count(kind: str, n: int, m: int) -> int:
    mod = getattr(_torch().nn, SEQUENCE_CLASS[kind])(m, n)
    return int(sum(p.numel() for p in mod.parameters()))


def param_count(kind: str, n: int, m: int) -> int:
    """sum(p.numel()) of a real one-layer torch.nn.RNN / LSTM / GRU(input_size=m, hidden_size=n): two biases."""
    fn = "param_count"
    _kind(fn, kind)
    for name, v in (("n", n), ("m", m)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{fn}: argument {name!r} should be an integer >= 1, got {v!r}")
    return _count(kind, int(n), int(m))


# ---- factories -----------------------------------------------------------------------------------------

def _chapter_module(chapter: str):
    """The name of the adapter module of ``chapter`` (``torch_nn_<chapter>``), or None: this module covers it."""
    name = f"{__package__}.torch_nn_{chapter}"
    return name if importlib.util.find_spec(name) is not None else None


def chapter_capabilities(dtype: str, nonlinearity: str = "tanh") -> dict:
    """{capability: callable} bound to ``dtype`` of every chapter with an adapter module of its own
    (``torch_nn_<chapter>``: nn.Linear stacks, nn.BatchNorm1d, nn.Dropout, F.softmax,
    F.scaled_dot_product_attention, nn.MultiheadAttention, nn.Conv1d / nn.Conv2d, the NTK network, the stacks,
    ...): each module's ``capabilities(dtype)``, in book order; a module whose ``capabilities`` takes a
    ``nonlinearity`` (the RNN stacks) gets the target's."""
    modules = [importlib.import_module(m) for m in map(_chapter_module, (c.name for c in CHAPTERS)) if m is not None]
    out = {}
    for m in modules:
        takes = "nonlinearity" in inspect.signature(m.capabilities).parameters
        out.update(m.capabilities(dtype, nonlinearity=nonlinearity) if takes else m.capabilities(dtype))
    return out


def _own_capabilities(a: _Adapter) -> dict:
    """{capability: callable} of the chapters this module covers (the recurrent ones and clipping): the
    adapter's method of that name, else this module's function (param_count); a capability it lacks is left out."""
    names = [c.name for ch in CHAPTERS if _chapter_module(ch.name) is None for c in capabilities_of(ch.name)]
    return {c: getattr(a, c, None) or globals()[c] for c in names if hasattr(a, c) or c in globals()}


#: dtype -> {capability: the finding (reports/findings/<slug>) why the torch.nn target leaves it out at that
#: dtype}: what no convention of the protocol can declare: a crash, uninitialised memory (nondeterministic
#: verdicts), and an input gradient that sums the kernel taps in 16 bits where every other sum of the target is
#: accumulated in float32 (accumulate is one declaration per target); each finding's standalone repro shows it,
#: the target checks the rest
BROKEN_AT = {
    "float16": {**dict.fromkeys(("conv1d", "conv1d_vjp"), "torch-float16-conv1d-crash"),
                "conv2d_vjp": "torch-16-bit-conv-input-grad-sums-taps-in-16-bits"},
    "bfloat16": dict.fromkeys(("conv1d_vjp", "conv2d_vjp"), "torch-bfloat16-conv-weight-grad-padding"),
}


def without(caps: dict, left_out) -> tuple[dict, dict]:
    """(``caps`` with every capability of ``left_out`` (a {capability: finding slug} table such as
    ``BROKEN_AT[dtype]``) set to None, the ``left_out`` convention that says why: {capability: "finding SLUG"}),
    so the report names the finding on each property it leaves "not provided"."""
    reasons = {c: f"finding {slug}" for c, slug in sorted(left_out.items())}
    return {c: (None if c in left_out else fn) for c, fn in caps.items()}, ({"left_out": reasons} if reasons else {})


def target(dtype: str = "float32", nonlinearity: str = "tanh") -> Target:
    """Every capability, each running the real torch.nn module (fresh per call) or torch.nn.utils function; at
    float16/bfloat16 the capabilities of `BROKEN_AT` are left out (each has its finding)."""
    _, td, _ = startup.dtype("target", dtype)
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"target: nonlinearity should be one of {NONLINEARITIES}, got {nonlinearity!r}")
    a = _Adapter(_Fresh(td, nonlinearity), dtype)
    tags = [dtype] + ([nonlinearity] if nonlinearity != "tanh" else [])
    caps, left_out = without({**_own_capabilities(a), **chapter_capabilities(dtype, nonlinearity)},
                             BROKEN_AT.get(dtype, {}))
    return Target(name=f"torch.nn (torch {torch_version()}, {', '.join(tags)})", dtype=dtype,
                  conventions={**conventions(nonlinearity), **startup.accumulation(dtype), **left_out}, **caps)


def functional_target(dtype: str = "float32") -> Target:
    """torch.nn.functional.dropout (dropout, dropout_vjp) on its own: the function rather than the nn.Dropout module."""
    from .torch_nn_dropout import capabilities as dropout_capabilities

    startup.dtype("functional_target", dtype)
    return Target(name=f"torch.nn.functional.dropout (torch {torch_version()}, {dtype})", dtype=dtype,
                  conventions=startup.accumulation(dtype), **dropout_capabilities(dtype, functional=True))


def relu_target(dtype: str = "float32") -> Target:
    """torch.nn.RNNCell / RNN / bidirectional RNN / stacked RNN with nonlinearity='relu' (relu'(0) = 0): the RNN
    capabilities and param_count only (the LSTM, GRU and clipping ones do not depend on it)."""
    from dataclasses import replace

    t = target(dtype, "relu")
    return replace(t, **{c: None for c in t.capabilities if not c.startswith("rnn") and c != "param_count"})


def from_modules(rnn=None, lstm=None, gru=None, dtype: str = "float32") -> Target:
    """A target over the user's own module instances (subclasses included), one per kind.

    Each argument is a one-layer torch.nn.RNN / LSTM / GRU (gives {kind}, {kind}_vjp and {kind}_cell, the
    latter as a one-step run of the module; with bidirectional=True it gives {kind}_bi and {kind}_bi_vjp) or a
    torch.nn.RNNCell / LSTMCell / GRUCell (gives {kind}_cell). Each call deep-copies the module, converts the
    copy to ``dtype`` on the CPU, loads the canonical params into it and runs it in eval mode; the original
    is never touched. batch_first=True modules get their input transposed to (B, T, m) and output back.
    Refused with ValueError naming the module: another class, proj_size > 0, num_layers > 1, bias=False,
    missing or mis-shaped parameters; at call time, params that do not fit input_size / hidden_size.
    """
    _, td, _ = startup.dtype("from_modules", dtype)
    given = {k: v for k, v in (("rnn", rnn), ("lstm", lstm), ("gru", gru)) if v is not None}
    if not given:
        raise ValueError("from_modules: give at least one module (rnn=, lstm= or gru=)")
    for kind, mod in given.items():
        _validate_module(kind, mod)
    source = _User(given, td)
    a = _Adapter(source, dtype)
    caps = {}
    for kind in given:
        if source.has(kind, "cell"):
            caps[f"{kind}_cell"] = getattr(a, f"{kind}_cell")
        elif source.has(kind, "bi"):
            caps.update({c: getattr(a, c) for c in (f"{kind}_bi", f"{kind}_bi_vjp")})
        else:
            caps.update({c: getattr(a, c) for c in (f"{kind}_cell", kind, f"{kind}_vjp")})
    nonlinearity = getattr(rnn, "nonlinearity", "tanh") if rnn is not None else "tanh"
    described = ", ".join(f"{k}={_describe(m)}" for k, m in given.items())
    conv = {"rnn_activation": nonlinearity, "gru": "reset_after", "bias": "two", **startup.accumulation(dtype)}
    return Target(name=f"torch.nn modules [{described}] (torch {torch_version()}, {dtype})", dtype=dtype,
                  conventions=conv, **caps)
