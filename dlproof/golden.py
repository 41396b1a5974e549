"""Language-neutral golden vectors: `export_golden(out_dir, seed=0)` -> manifest.

Every expected value is computed by the derivation oracles (`dlproof.derivations.oracle*`, assembled
only from proved, generated kernels) in float64, never by an implementation under test. The forward
cases are cross-checked against the cell formulas evaluated directly with mpmath at 50 digits, and
the VJP cases against a 50-digit central difference of L along a random direction; the worst
deviations go into the manifest.

Weights are random and asymmetric (mixed signs, all entries distinct, n != m, every gate block its own
draw), so a gate-order, transpose or direction bug changes the outputs; the constant weights of the
ONNX backend LSTM tests cannot see a swapped gate order. Edge cases: T=1, zero initial state,
saturated gates (biases of about +-30, mixed signs) and a T=20 sequence.

Layout on disk (see `README_TEXT`): ``README.md``, ``manifest.json`` and, per case, ``cases/<id>.npz``
(every array, float64) and ``cases/<id>.json`` (the same arrays as nested lists, floats written with
``repr``, plus metadata). Writing is deterministic: the same seed gives byte-identical files.

For consumers in Python: `load_cases(dir)`, `call_case(case, fn, dtype)`, `compare(case, got, dtype)`,
`check_target(case, target)`.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
import zlib
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .target import CAPABILITIES, PROTOCOL_VERSION

FORMAT_VERSION = 1
MP_DIGITS = 50
#: Unit roundoff of each consumer dtype (float32 also pays for rounding the inputs).
UNIT_ROUNDOFF = {"float64": 2.0 ** -52, "float32": 2.0 ** -23}
#: Safety factor of the suggested tolerance over the first-order rounding estimate.
MARGIN = 4
ACTIVATIONS = ("tanh", "relu")
GRU_VARIANTS = ("reset_after", "reset_before")
LSTM_GATES = "ifgo"
RNN_PARAMS = ("W_x", "W_h", "b")
LSTM_PARAMS = tuple(name for g in LSTM_GATES for name in (f"W_x{g}", f"W_h{g}", f"b_{g}"))
GRU_PARAMS = ("W_xr", "W_hr", "b_r", "W_xz", "W_hz", "b_z", "W_xn", "W_hn", "b_xn", "b_hn")
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


# --------------------------------------------------------------------------------------------------
# The argument/result tree: how a case's flat named arrays map to a capability's call and return.
#   "name"                     -> the array stored under that name
#   {"float": "name"}          -> a plain float (a 0-d array on disk)
#   {"tuple": [node, ...]}     -> a tuple;  {"list": [node, ...]} -> a list
#   {"dict": {key: node}}      -> a mapping (parameters: {"W_x": "p.W_x", ...})
# --------------------------------------------------------------------------------------------------

def build(node, arrays: dict, dtype: str = "float64"):
    """The Python value a tree node denotes, arrays cast to ``dtype``."""
    if isinstance(node, str):
        return np.array(arrays[node], dtype=dtype)
    if "float" in node:
        return float(np.asarray(arrays[node["float"]]))
    if "tuple" in node:
        return tuple(build(c, arrays, dtype) for c in node["tuple"])
    if "list" in node:
        return [build(c, arrays, dtype) for c in node["list"]]
    if "dict" in node:
        return {k: build(c, arrays, dtype) for k, c in node["dict"].items()}
    raise ValueError(f"golden: unknown tree node {node!r}")


def flatten(node, value, out: dict | None = None) -> dict:
    """Name the pieces of ``value`` (a capability's result) by the tree ``node``; None is left out."""
    out = {} if out is None else out
    if value is None:
        return out
    if isinstance(node, str):
        out[node] = np.asarray(value, dtype=np.float64)
    elif "float" in node:
        out[node["float"]] = np.asarray(float(value), dtype=np.float64)
    elif "tuple" in node or "list" in node:
        kids = node.get("tuple", node.get("list"))
        if not isinstance(value, (tuple, list)) or len(value) != len(kids):
            raise ValueError(f"golden: expected a sequence of {len(kids)}, got {type(value).__name__}")
        for c, v in zip(kids, value):
            flatten(c, v, out)
    elif "dict" in node:
        for k, c in node["dict"].items():
            if k not in value:
                raise ValueError(f"golden: result lacks key {k!r}")
            flatten(c, value[k], out)
    else:
        raise ValueError(f"golden: unknown tree node {node!r}")
    return out


def _pdict(prefix: str, names) -> dict:
    return {"dict": {k: f"{prefix}.{k}" for k in names}}


# --------------------------------------------------------------------------------------------------
# Random, asymmetric inputs
# --------------------------------------------------------------------------------------------------

def _rng(seed: int, cid: str, salt: str = "") -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32((cid + salt).encode())])


def _mixed(rng, shape, lo: float, hi: float) -> np.ndarray:
    """Uniform magnitudes in [lo, hi) with random signs, both signs present, no two entries equal."""
    size = int(np.prod(shape))
    mags = rng.uniform(lo, hi, size)
    signs = np.where(np.arange(size) % 2 == 0, 1.0, -1.0)
    rng.shuffle(signs)
    a = (mags * signs).reshape(shape)
    assert size < 2 or (np.unique(a).size == size and (a > 0).any() and (a < 0).any())
    return a


def _weights(rng, names, n: int, m: int, scale: float, saturated: bool = False) -> dict:
    p = {}
    for k in names:
        if k.startswith("W_x"):
            p[k] = _mixed(rng, (n, m), 0.05 * scale, scale)
        elif k.startswith("W_h"):
            p[k] = _mixed(rng, (n, n), 0.05 * scale, scale)
        else:
            p[k] = _mixed(rng, (n,), 29.0, 31.0) if saturated else _mixed(rng, (n,), 0.02, 0.5)
    return p


_PARAM_NAMES = {"rnn": RNN_PARAMS, "lstm": LSTM_PARAMS, "gru": GRU_PARAMS}


# --------------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------------

@dataclass
class _Case:
    id: str
    capability: str
    call: list
    returns: Any
    inputs: dict
    oracle: Callable
    conventions: dict
    derivations: list
    dims: dict
    description: str
    steps: int                      # sequential steps the error accumulates over (2T for a VJP)
    width: int                      # inner-product length per step (plus activations)
    exact: bool = False             # clip by value: no arithmetic beyond the input cast
    width_note: str = "inner-product length m + n, + 8 for the activations and gate products"
    optional_outputs: list = field(default_factory=list)
    outputs: dict = field(default_factory=dict)


def _recurrent_cases(seed: int) -> list[_Case]:
    from .derivations import oracle, oracle_bi, oracle_gru, oracle_lstm

    cases: list[_Case] = []
    # (kind, convention key, convention values, oracle bindings)
    fams = [("rnn", act) for act in ACTIVATIONS] + [("lstm", None)] + [("gru", v) for v in GRU_VARIANTS]

    def conv_of(kind, var):
        if kind == "rnn":
            return {"rnn_activation": var, "bias": "one"}
        if kind == "gru":
            return {"gru": var, "bias": "one"}
        return {"bias": "one"}

    def fwd_ids(kind, var):
        return {"rnn": ["rnn.cell.forward"], "lstm": ["lstm.cell.forward"],
                "gru": [f"gru.cell.forward.{var}"]}[kind]

    def vjp_ids(kind, var):
        if kind == "rnn":
            return ["rnn.cell.jacobian_h", "rnn.cell.jacobian_x", "rnn.cell.jacobian_W_x", "rnn.cell.jacobian_W_h",
                    "rnn.cell.jacobian_b", "rnn.bptt.gradient", "rnn.bptt.shared_weight_gradient"]
        if kind == "lstm":
            return ["lstm.cell.jacobian_h", "lstm.cell.jacobian_x", "lstm.cell.jacobian_c",
                    "lstm.cell.jacobian_weights", "lstm.state.jacobian", "lstm.state.chain"]
        return [f"gru.cell.jacobian_h.{var}", f"gru.cell.jacobian_x.{var}", f"gru.cell.jacobian_weights.{var}",
                "rnn.bptt.gradient", "rnn.bptt.shared_weight_gradient"]

    def oracles(kind, var):
        if kind == "rnn":
            kw = {"activation": var}
            return (partial(oracle.rnn_cell, **kw), partial(oracle.rnn_forward, **kw),
                    partial(oracle.rnn_vjp, **kw), partial(oracle_bi.rnn_bi, **kw))
        if kind == "gru":
            kw = {"variant": var}
            return (partial(oracle_gru.gru_cell, **kw), partial(oracle_gru.gru_forward, **kw),
                    partial(oracle_gru.gru_vjp, **kw), partial(oracle_bi.gru_bi, **kw))
        return oracle_lstm.lstm_cell, oracle_lstm.lstm_forward, oracle_lstm.lstm_vjp, oracle_bi.lstm_bi

    for kind, var in fams:
        names = _PARAM_NAMES[kind]
        lstm = kind == "lstm"
        tag = f"{kind}" if var is None else f"{kind}.{var}"
        conv = conv_of(kind, var)
        cell_o, seq_o, vjp_o, bi_o = oracles(kind, var)
        P = _pdict("p", names)
        saturable = not (kind == "rnn" and var == "relu")

        def cell(suffix, zero_state=False, saturated=False, B=3, m=3, n=4):
            cid = f"{kind}_cell" + ("" if var is None else f".{var}") + suffix
            rng = _rng(seed, cid)
            p = _weights(rng, names, n, m, 0.3 if saturated else 0.8, saturated)
            x = _mixed(rng, (B, m), 0.1, 1.5)
            st = {"h": np.zeros((B, n)) if zero_state else _mixed(rng, (B, n), 0.05, 0.95)}
            if lstm:
                st["c"] = np.zeros((B, n)) if zero_state else _mixed(rng, (B, n), 0.1, 2.0)
            call = ["x", "h"] + (["c"] if lstm else []) + [P]
            returns = {"tuple": ["out.h", "out.c"]} if lstm else "out.h"
            edge = ("zero initial state" if zero_state else "") + ("saturated gates (biases ~ +-30)" if saturated else "")
            cases.append(_Case(
                cid, f"{kind}_cell", call, returns, {"x": x, **st, **{f"p.{k}": v for k, v in p.items()}},
                cell_o, conv, fwd_ids(kind, var), {"B": B, "m": m, "n": n},
                f"one {tag} cell step" + (f"; {edge}" if edge else ""), 1, m + n + 8))

        def seq(suffix, T, zero_state=False, saturated=False, vjp=False, B=2, m=3, n=4):
            cap = f"{kind}_vjp" if vjp else kind
            cid = cap + ("" if var is None else f".{var}") + suffix
            rng = _rng(seed, cid)
            p = _weights(rng, names, n, m, 0.3 if saturated else 0.8, saturated)
            ins = {"xs": _mixed(rng, (T, B, m), 0.1, 1.5),
                   "h0": np.zeros((B, n)) if zero_state else _mixed(rng, (B, n), 0.05, 0.95)}
            if lstm:
                ins["c0"] = np.zeros((B, n)) if zero_state else _mixed(rng, (B, n), 0.1, 2.0)
            ins.update({f"p.{k}": v for k, v in p.items()})
            call = ["xs", "h0"] + (["c0"] if lstm else []) + [P]
            if vjp:
                ins["d_hs"] = _mixed(rng, (T, B, n), 0.1, 1.0)
                ins["d_hT"] = _mixed(rng, (B, n), 0.1, 1.0)
                call += ["d_hs", "d_hT"]
                ret = {"xs": "out.d_xs", "h0": "out.d_h0", "params": _pdict("out.d_p", names)}
                if lstm:
                    ins["d_cT"] = _mixed(rng, (B, n), 0.1, 1.0)
                    call.append("d_cT")
                    ret["c0"] = "out.d_c0"
                returns = {"dict": ret}
                ids = fwd_ids(kind, var) + ["rnn.bptt.unroll"] + vjp_ids(kind, var)
                what = f"gradients (VJP) of L = <d_hs, hs> + <d_hT, h_T>{' + <d_cT, c_T>' if lstm else ''} through a {tag} sequence"
            else:
                returns = ({"tuple": ["out.hs", {"tuple": ["out.h_T", "out.c_T"]}]} if lstm
                           else {"tuple": ["out.hs", "out.h_T"]})
                ids = fwd_ids(kind, var) + ["rnn.bptt.unroll"]
                what = f"{tag} sequence forward"
            edge = [f"T={T}"] + (["zero initial state"] if zero_state else []) + (
                ["saturated gates (biases ~ +-30)"] if saturated else [])
            cases.append(_Case(
                cid, cap, call, returns, ins, vjp_o if vjp else seq_o, conv, ids,
                {"T": T, "B": B, "m": m, "n": n}, f"{what}; {', '.join(edge)}",
                (2 * T if vjp else T), m + n + 8))

        def bi(suffix, T, B=2, m=3, n=4):
            cid = f"{kind}_bi" + ("" if var is None else f".{var}") + suffix
            rng = _rng(seed, cid)
            ins = {"xs": _mixed(rng, (T, B, m), 0.1, 1.5)}
            for d in ("f", "b"):
                ins[f"h0_{d}"] = _mixed(rng, (B, n), 0.05, 0.95)
                if lstm:
                    ins[f"c0_{d}"] = _mixed(rng, (B, n), 0.1, 2.0)
            for d in ("f", "b"):
                ins.update({f"p_{d}.{k}": v for k, v in _weights(rng, names, n, m, 0.8).items()})
            if lstm:
                call = ["xs", {"tuple": ["h0_f", "c0_f"]}, {"tuple": ["h0_b", "c0_b"]},
                        _pdict("p_f", names), _pdict("p_b", names)]
                returns = {"tuple": ["out.ys", {"tuple": ["out.h_f", "out.c_f"]}, {"tuple": ["out.h_b", "out.c_b"]}]}
            else:
                call = ["xs", "h0_f", "h0_b", _pdict("p_f", names), _pdict("p_b", names)]
                returns = {"tuple": ["out.ys", "out.h_f", "out.h_b"]}
            cases.append(_Case(
                cid, f"{kind}_bi", call, returns, ins, bi_o, conv,
                fwd_ids(kind, var) + ["rnn.bptt.unroll", "bi.output_layout", "bi.backward_is_reversed_forward",
                                      "bi.final_states"],
                {"T": T, "B": B, "m": m, "n": n},
                f"bidirectional {tag} forward, separate parameters and initial state per direction; T={T}",
                T, m + n + 8))

        cell("")
        cell(".zero_state", zero_state=True)
        if saturable:
            cell(".saturated", saturated=True)
        seq("", 5)
        seq(".T1", 1)
        seq(".T1.zero_state", 1, zero_state=True)
        seq(".T20", 20)
        if saturable:
            seq(".saturated", 5, saturated=True)
        seq("", 5, vjp=True)
        seq(".T1", 1, vjp=True)
        seq(".T20", 20, vjp=True)
        if saturable:
            seq(".saturated", 5, vjp=True, saturated=True)
        bi("", 4)
        if kind != "gru":
            bi(".T1", 1)
    return cases


def _clip_cases(seed: int) -> list[_Case]:
    from .derivations import oracle

    cases: list[_Case] = []
    shapes = [(3, 4), (4,), (2, 3)]
    n_el = sum(int(np.prod(s)) for s in shapes)

    def grads(rng, scale=1.0):
        return [_mixed(rng, s, 0.05, 1.0) * scale for s in shapes]

    for scope in ("global", "per_tensor"):
        for eps in (0.0, 1e-6):
            etag = "eps0" if eps == 0 else "eps1e-6"
            for side in ("below", "above"):
                cid = f"clip_grad_norm.{scope}.{etag}.{side}"
                rng = _rng(seed, cid)
                gs = grads(rng)
                norms = [float(np.linalg.norm(g)) for g in gs]
                N = float(np.sqrt(sum(v * v for v in norms)))
                if scope == "global":
                    c = 1.5 * N if side == "below" else 0.5 * N
                    how = f"global norm {'below' if side == 'below' else 'above'} max_norm"
                else:
                    srt = sorted(norms)
                    # below: every tensor's own norm is under max_norm; above: the middle norm sits
                    # between the smallest and the largest, so one tensor is left alone and one is clipped
                    c = 1.5 * srt[-1] if side == "below" else 0.5 * (srt[0] + srt[1])
                    how = ("every tensor's own norm below max_norm" if side == "below"
                           else "some tensors above max_norm by their own norm, one below")
                cases.append(_clip_norm_case(cid, gs, c, eps, scope, oracle, how, n_el))
    cid = "clip_grad_norm.global.eps1e-6.above.small"
    gs = grads(_rng(seed, cid), 1e-3)
    N = float(np.sqrt(sum(float(np.sum(g * g)) for g in gs)))
    cases.append(_clip_norm_case(cid, gs, 0.5 * N, 1e-6, "global", oracle,
                                 "small gradients (global norm ~ 1e-3, twice max_norm): the eps term changes the "
                                 "scale by ~ eps/N ~ 1e-3 relative, visible even at float32 tolerance", n_el))
    cid = "clip_grad_norm.global.eps0.zero"
    gs = [np.zeros(s) for s in shapes]
    cases.append(_clip_norm_case(cid, gs, 1.0, 0.0, "global", oracle,
                                 "all-zero gradients: norm 0, left unchanged (no 0/0)", n_el))
    for side, factor in (("above", 0.5), ("below", 2.0)):
        cid = "clip_grad_value" + ("" if side == "above" else ".below")
        gs = grads(_rng(seed, cid))
        v = factor * float(max(np.max(np.abs(g)) for g in gs))
        if side == "above":
            v = 0.5  # some entries inside, some beyond on either sign
        names = [f"grads.{i}" for i in range(len(gs))]
        ins = {**dict(zip(names, gs)), "clip_value": np.asarray(v)}
        cases.append(_Case(
            cid, "clip_grad_value", [{"list": names}, {"float": "clip_value"}],
            {"list": [f"out.clipped.{i}" for i in range(len(gs))]}, ins, oracle.clip_by_value, {},
            ["clip.value.rule"], {"tensors": [list(s) for s in shapes]},
            ("entries beyond +-clip_value on both signs are clipped, the rest kept" if side == "above"
             else "every entry inside +-clip_value: unchanged"), 1, 1, exact=True))
    return cases


def _clip_norm_case(cid, gs, c, eps, scope, oracle, how, n_el) -> _Case:
    names = [f"grads.{i}" for i in range(len(gs))]
    ins = {**dict(zip(names, gs)), "max_norm": np.asarray(c)}
    ids = ["clip.global_norm.concatenation", "clip.norm.eps.rule" if eps > 0 else "clip.norm.rule"]
    if scope == "per_tensor":
        ids.append("clip.per_tensor.norm")
    rule = "g * min(1, c / (N + eps)), always applied" if eps > 0 else "g if N <= c else g * c / N"
    return _Case(
        cid, "clip_grad_norm", [{"list": names}, {"float": "max_norm"}],
        {"tuple": [{"list": [f"out.clipped.{i}" for i in range(len(gs))]}, {"float": "out.norm"}]},
        ins, partial(oracle.clip_by_norm, eps=eps, scope=scope),
        {"clip_eps": eps, "clip_scope": scope}, ids,
        {"tensors": [list(np.shape(g)) for g in gs]},
        f"clip by L2 norm ({scope} scope, eps={eps!r}: {rule}); {how}; out.norm is the pre-clip global norm",
        1, n_el + 8, optional_outputs=["out.norm"],
        width_note=f"sum of squares over {n_el} entries, + 8 for the sqrt, division and scaling")


def cases(seed: int = 0) -> list[_Case]:
    """All cases with their float64 oracle outputs filled in, in a fixed order."""
    out = _recurrent_cases(seed) + _clip_cases(seed)
    seen = set()
    for c in out:
        assert c.id not in seen, c.id
        seen.add(c.id)
        assert c.capability in CAPABILITIES, c.capability
        value = c.oracle(*[build(node, c.inputs) for node in c.call])
        c.outputs = flatten(c.returns, value)
        assert all(np.all(np.isfinite(v)) for v in c.outputs.values()), c.id
    return out


# --------------------------------------------------------------------------------------------------
# Tolerance
# --------------------------------------------------------------------------------------------------

def tolerance(case: _Case) -> dict:
    """Suggested rtol/atol per consumer dtype; the rule is |got - want| <= atol + rtol * |want| element-wise."""
    scale = max((float(np.max(np.abs(v))) for v in case.outputs.values() if v.size), default=0.0)
    tol = {}
    for dt, u in UNIT_ROUNDOFF.items():
        if case.exact:
            rtol = 2 * u
            atol = 0.0
        else:
            rtol = MARGIN * u * case.width * case.steps
            atol = rtol * scale
        tol[dt] = {"rtol": float(f"{rtol:.3e}"), "atol": float(f"{atol:.3e}")}
    if case.exact:
        why = ("clip by value does no arithmetic: the only error is the consumer's cast of the inputs "
               "(<= u/2 relative), so rtol = 2u (u = 2^-52 or 2^-23), atol = 0.")
    else:
        why = (f"first-order rounding bound: {MARGIN} x u x ({case.width_note} = {case.width}) x sequential "
               f"steps ({case.steps}{', forward and backward' if case.capability.endswith('_vjp') else ''}); "
               "u = 2^-52 (float64) or 2^-23 (float32, which "
               "also rounds the inputs); atol = rtol x the largest output magnitude, so near-zero entries are "
               "judged against the scale of the case.")
    return {**tol, "justification": why, "rule": "|got - want| <= atol + rtol * |want|, element-wise, every output"}


# --------------------------------------------------------------------------------------------------
# mpmath cross-check (50 digits): the cell formulas written out directly, not via the oracles
# --------------------------------------------------------------------------------------------------

def _mp():
    import mpmath

    return mpmath


def _mpv(a) -> Any:
    """float64 array -> nested lists of mpf (exact conversion)."""
    mp = _mp()
    a = np.asarray(a, np.float64)
    if a.ndim == 0:
        return mp.mpf(float(a))
    return [_mpv(r) for r in a]


def _mp_affine(Wx, Wh, b, x, h):
    mp = _mp()
    return [mp.fsum([Wx[i][j] * x[j] for j in range(len(x))] + [Wh[i][j] * h[j] for j in range(len(h))]) + b[i]
            for i in range(len(b))]


def _mp_sig(a):
    mp = _mp()
    return 1 / (1 + mp.exp(-a))


def _mp_rnn_cell(x, h, p, act):
    mp = _mp()
    a = _mp_affine(p["W_x"], p["W_h"], p["b"], x, h)
    return [mp.tanh(v) if act == "tanh" else (v if v > 0 else mp.mpf(0)) for v in a]


def _mp_lstm_cell(x, h, c, p):
    mp = _mp()
    g = {k: _mp_affine(p[f"W_x{k}"], p[f"W_h{k}"], p[f"b_{k}"], x, h) for k in LSTM_GATES}
    i = [_mp_sig(v) for v in g["i"]]
    f = [_mp_sig(v) for v in g["f"]]
    gg = [mp.tanh(v) for v in g["g"]]
    o = [_mp_sig(v) for v in g["o"]]
    c2 = [f[k] * c[k] + i[k] * gg[k] for k in range(len(c))]
    return [o[k] * mp.tanh(c2[k]) for k in range(len(c))], c2


def _mp_gru_cell(x, h, p, variant):
    mp = _mp()
    n = len(h)
    zero = [mp.mpf(0)] * n
    r = [_mp_sig(v) for v in _mp_affine(p["W_xr"], p["W_hr"], p["b_r"], x, h)]
    z = [_mp_sig(v) for v in _mp_affine(p["W_xz"], p["W_hz"], p["b_z"], x, h)]
    ax = _mp_affine(p["W_xn"], [[0] * n] * n, p["b_xn"], x, zero)
    if variant == "reset_after":
        u = _mp_affine([[0] * len(x)] * n, p["W_hn"], p["b_hn"], x, h)
        a = [ax[k] + r[k] * u[k] for k in range(n)]
    else:
        rh = [r[k] * h[k] for k in range(n)]
        u = _mp_affine([[0] * len(x)] * n, p["W_hn"], p["b_hn"], x, rh)
        a = [ax[k] + u[k] for k in range(n)]
    cand = [mp.tanh(v) for v in a]
    return [z[k] * h[k] + (1 - z[k]) * cand[k] for k in range(n)]


def _mp_step(kind, var):
    if kind == "rnn":
        return lambda x, s, p: [_mp_rnn_cell(x, s[0], p, var)]
    if kind == "gru":
        return lambda x, s, p: [_mp_gru_cell(x, s[0], p, var)]
    return lambda x, s, p: list(_mp_lstm_cell(x, s[0], s[1], p))


def _mp_run(kind, var, xs, states, p):
    """Per batch row: xs (T, m), states [h] or [h, c] -> (hs (T, n), final states)."""
    step = _mp_step(kind, var)
    hs = []
    for x in xs:
        states = step(x, states, p)
        hs.append(states[0])
    return hs, states


def _kind_var(case: _Case):
    kind = case.capability.split("_")[0]
    var = case.conventions.get("rnn_activation") or case.conventions.get("gru")
    return kind, var


def _mp_params(inputs, prefix):
    return {k[len(prefix) + 1:]: (v if isinstance(v, list) else _mpv(v))
            for k, v in inputs.items() if k.startswith(prefix + ".")}


def _mp_forward_outputs(case: _Case, inputs: dict) -> dict:
    """The forward case's outputs at 50 digits, as {name: nested mpf lists}; inputs may hold mpf lists."""
    kind, var = _kind_var(case)
    cap = case.capability
    lstm = kind == "lstm"
    get = (lambda k: inputs[k] if isinstance(inputs[k], list) else _mpv(inputs[k]))
    if cap.endswith("_cell"):
        p = _mp_params(inputs, "p")
        x, h = get("x"), get("h")
        c = get("c") if lstm else None
        outs = [_mp_step(kind, var)(x[b], [h[b]] + ([c[b]] if lstm else []), p) for b in range(len(x))]
        res = {"out.h": [o[0] for o in outs]}
        if lstm:
            res["out.c"] = [o[1] for o in outs]
        return res
    if cap.endswith("_bi"):
        xs = get("xs")
        B = len(xs[0])
        res = {"out.ys": [[None] * B for _ in xs]}
        for d in ("f", "b"):
            p = _mp_params(inputs, f"p_{d}")
            h0 = get(f"h0_{d}")
            c0 = get(f"c0_{d}") if lstm else None
            finals = []
            for b in range(B):
                seq = [xs[t][b] for t in range(len(xs))]
                if d == "b":
                    seq = seq[::-1]
                hs, st = _mp_run(kind, var, seq, [h0[b]] + ([c0[b]] if lstm else []), p)
                if d == "b":
                    hs = hs[::-1]
                for t in range(len(xs)):
                    prev = res["out.ys"][t][b] or []
                    res["out.ys"][t][b] = prev + hs[t]
                finals.append(st)
            res[f"out.h_{d}"] = [s[0] for s in finals]
            if lstm:
                res[f"out.c_{d}"] = [s[1] for s in finals]
        return res
    # a sequence
    p = _mp_params(inputs, "p")
    xs, h0 = get("xs"), get("h0")
    c0 = get("c0") if lstm else None
    T, B = len(xs), len(xs[0])
    res = {"out.hs": [[None] * B for _ in range(T)], "out.h_T": [None] * B}
    if lstm:
        res["out.c_T"] = [None] * B
    for b in range(B):
        hs, st = _mp_run(kind, var, [xs[t][b] for t in range(T)], [h0[b]] + ([c0[b]] if lstm else []), p)
        for t in range(T):
            res["out.hs"][t][b] = hs[t]
        res["out.h_T"][b] = st[0]
        if lstm:
            res["out.c_T"][b] = st[1]
    return res


def _mp_clip_outputs(case: _Case) -> dict:
    mp = _mp()
    names = sorted((k for k in case.inputs if k.startswith("grads.")), key=lambda k: int(k.split(".")[1]))
    gs = [np.ravel(case.inputs[k]) for k in names]
    if case.capability == "clip_grad_value":
        v = mp.mpf(float(case.inputs["clip_value"]))
        return {f"out.clipped.{i}": [min(max(mp.mpf(float(e)), -v), v) for e in g] for i, g in enumerate(gs)}
    c = mp.mpf(float(case.inputs["max_norm"]))
    eps = mp.mpf(case.conventions["clip_eps"])
    norm = lambda arrs: mp.sqrt(mp.fsum(mp.mpf(float(e)) ** 2 for a in arrs for e in a))  # noqa: E731

    def scale(N):
        if eps > 0:
            return min(mp.mpf(1), c / (N + eps))
        return mp.mpf(1) if N <= c else c / N

    N = norm(gs)
    res = {"out.norm": N}
    for i, g in enumerate(gs):
        s = scale(N) if case.conventions["clip_scope"] == "global" else scale(norm([g]))
        res[f"out.clipped.{i}"] = [s * mp.mpf(float(e)) for e in g]
    return res


def _flat_mp(v) -> list:
    if isinstance(v, list):
        return [e for w in v for e in _flat_mp(w)]
    return [v]


def _deviation(want_mp: dict, got: dict) -> tuple[float, float]:
    """(max absolute deviation, max over arrays of max|dev| / max|exact|) between oracle and mpmath."""
    mp = _mp()
    worst_abs = worst_rel = 0.0
    for name, exact in want_mp.items():
        ex = _flat_mp(exact)
        g = np.ravel(got[name])
        assert len(ex) == g.size, name
        dev = max((abs(mp.mpf(float(a)) - e) for a, e in zip(g, ex)), default=mp.mpf(0))
        big = max((abs(e) for e in ex), default=mp.mpf(0))
        worst_abs = max(worst_abs, float(dev))
        worst_rel = max(worst_rel, float(dev / big) if big else float(dev))
    return worst_abs, worst_rel


def _mp_directional(case: _Case) -> float:
    """|<oracle grads, v> - dL/ds| / sum |grad| |v| for a random direction v, dL/ds by a 50-digit central
    difference of L(inputs + s v) evaluated with the mpmath cells."""
    mp = _mp()
    kind, var = _kind_var(case)
    lstm = kind == "lstm"
    fwd_case = _Case(case.id, kind, [], None, {}, None, case.conventions, [], {}, "", 1, 1)
    primal = [k for k in case.inputs if not k.startswith("d_")]
    rng = _rng(0, case.id, "/direction")
    v = {k: rng.standard_normal(np.shape(case.inputs[k])) for k in primal}
    grad_name = {"xs": "out.d_xs", "h0": "out.d_h0", "c0": "out.d_c0"}
    gdot = mp.fsum(mp.mpf(float(a)) * mp.mpf(float(b))
                   for k in primal
                   for a, b in zip(np.ravel(case.outputs[grad_name.get(k, "out.d_p." + k[2:])]), np.ravel(v[k])))
    gabs = mp.fsum(abs(mp.mpf(float(a)) * mp.mpf(float(b)))
                   for k in primal
                   for a, b in zip(np.ravel(case.outputs[grad_name.get(k, "out.d_p." + k[2:])]), np.ravel(v[k])))

    def shifted(arr, dv, s):
        if np.ndim(arr) == 0:
            return mp.mpf(float(arr)) + s * mp.mpf(float(dv))
        return [shifted(a, d, s) for a, d in zip(arr, dv)]

    def L(s):
        ins = {k: shifted(case.inputs[k], v[k], s) for k in primal}
        out = _mp_forward_outputs(fwd_case, ins)
        terms = [("d_hs", "out.hs"), ("d_hT", "out.h_T")] + ([("d_cT", "out.c_T")] if lstm else [])
        return mp.fsum(mp.mpf(float(a)) * b for dn, on in terms
                       for a, b in zip(np.ravel(case.inputs[dn]), _flat_mp(out[on])))

    eps = mp.mpf(10) ** -15
    deriv = (L(eps) - L(-eps)) / (2 * eps)
    return float(abs(gdot - deriv) / gabs) if gabs else float(abs(gdot - deriv))


def mpmath_check(all_cases: list[_Case]) -> dict:
    """Cross-check every forward and clipping case, and every VJP case by a directional derivative."""
    mp = _mp()
    checked, vjp_checked = [], []
    worst_abs = worst_rel = worst_dir = 0.0
    with mp.workdps(MP_DIGITS):
        for c in all_cases:
            if c.capability.endswith("_vjp"):
                worst_dir = max(worst_dir, _mp_directional(c))
                vjp_checked.append(c.id)
                continue
            exact = _mp_clip_outputs(c) if c.capability.startswith("clip") else _mp_forward_outputs(c, c.inputs)
            a, r = _deviation(exact, c.outputs)
            worst_abs, worst_rel = max(worst_abs, a), max(worst_rel, r)
            checked.append(c.id)
    if worst_rel > 1e-13 or worst_dir > 1e-12:
        raise RuntimeError(f"golden: the float64 oracle disagrees with mpmath (forward {worst_rel:.3g}, "
                           f"VJP directional {worst_dir:.3g}); refusing to write vectors")
    return {
        "digits": MP_DIGITS,
        "forward_cases": checked,
        "forward_max_abs_deviation": worst_abs,
        "forward_max_rel_deviation": worst_rel,
        "forward_method": "cell formulas evaluated directly with mpmath (not via the oracles); rel = max|dev| / "
                          "max|exact| per output array",
        "vjp_cases": vjp_checked,
        "vjp_max_rel_deviation": worst_dir,
        "vjp_method": "<oracle gradients, v> vs a central difference (step 1e-15) of L(inputs + s v) at 50 digits, "
                      "v a random direction over every primal input and parameter; rel = |dev| / sum |grad * v|",
    }


# --------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------

def _json_value(a: np.ndarray):
    a = np.asarray(a, np.float64)
    return float(a) if a.ndim == 0 else a.tolist()


def _dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=True, allow_nan=False)


def _case_json(case: _Case, seed: int) -> str:
    arrays = {**case.inputs, **case.outputs}
    meta = {
        "format_version": FORMAT_VERSION,
        "protocol_version": PROTOCOL_VERSION,
        "id": case.id,
        "seed": seed,
        "capability": case.capability,
        "signature": f"{case.capability}{CAPABILITIES[case.capability]}",
        "description": case.description,
        "call": case.call,
        "returns": case.returns,
        "inputs": {k: list(np.shape(v)) for k, v in case.inputs.items()},
        "outputs": {k: list(np.shape(v)) for k, v in case.outputs.items()},
        "optional_outputs": case.optional_outputs,
        "conventions": case.conventions,
        "derivations": case.derivations,
        "dims": case.dims,
        "dtype": "float64",
        "tolerance": tolerance(case),
        "values_from": "dlproof.derivations oracles in float64 (proved, generated kernels)",
    }
    lines = ["{"]
    keys = sorted(list(meta) + ["arrays"])
    for i, k in enumerate(keys):
        end = "," if i < len(keys) - 1 else ""
        if k == "arrays":
            lines.append(' "arrays": {')
            names = sorted(arrays)
            for j, name in enumerate(names):
                sep = "," if j < len(names) - 1 else ""
                lines.append(f"  {_dumps(name)}: {_dumps(_json_value(arrays[name]))}{sep}")
            lines.append(" }" + end)
        else:
            lines.append(f" {_dumps(k)}: {_dumps(meta[k])}{end}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _npz_bytes(arrays: dict) -> bytes:
    """A .npz (uncompressed zip of .npy, as np.savez) with fixed timestamps and sorted members."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arrays[name], dtype=np.float64, order="C"),
                                      version=(1, 0), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=_FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, buf.getvalue())
    return out.getvalue()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


README_TEXT = """\
# dlproof golden vectors (format version {version})

Language-neutral reference values for RNN, LSTM and GRU cells, sequences, gradients (VJPs),
bidirectional forwards and gradient clipping. Written by `dlproof export-golden DIR`
(`dlproof.golden.export_golden(DIR, seed={seed})`); the same seed gives byte-identical files.

## Where the numbers come from

Every expected value is computed in float64 by the dlproof derivation oracles, which are assembled
only from SymPy-proved, generated kernels; never by an implementation under test. Each case lists the
derivation ids behind it (`dlproof derive ID` prints one). `manifest.json` records an independent
cross-check at {digits} digits with mpmath: the forward and clipping cases against the cell formulas
written out directly, the VJP cases against a central difference of the loss along a random direction.

Weights are random and asymmetric: mixed signs, no two entries equal, n != m, every gate block its
own draw. Constant weights (as in the ONNX backend LSTM tests) give the same outputs under all 24 LSTM
gate orders; these vectors do not. Edge cases: T=1, zero initial state, saturated gates (biases of
about +-30 with mixed signs), T=20.

## Files

- `manifest.json`: the case list (id, capability, file names, sha256 and size of each file), the
  sha256 of this README, and the mpmath cross-check (`mpmath_check`).
- `cases/<id>.npz`: every array of the case, float64, one member per name (NumPy `np.load`; any zip
  reader plus an .npy header parser elsewhere).
- `cases/<id>.json`: the same arrays under `"arrays"` as nested lists (row-major; floats written with
  Python `repr`, i.e. shortest round-trip, so parsing them gives the float64 values back exactly;
  0-d values are plain numbers), plus metadata:
  - `id`, `capability` (a name of the dlproof Target protocol, version {protocol}), `signature`,
    `description`, `dims`;
  - `inputs` / `outputs`: name -> shape; output names start with `out.`;
  - `call`: the positional arguments of the capability, and `returns`: the structure of its result,
    as trees whose leaves are array names: `"name"` an array, `{{"float": "name"}}` a plain number,
    `{{"tuple": [...]}}`, `{{"list": [...]}}`, `{{"dict": {{key: node}}}}` (parameters are dicts such
    as `{{"W_x": "p.W_x", ...}}`);
  - `optional_outputs`: outputs an implementation may omit (the protocol allows `None` there);
  - `conventions`: the declared conventions the values assume (`rnn_activation`, `gru`, `bias`,
    `clip_eps`, `clip_scope`);
  - `derivations`: the derivation ids;
  - `tolerance`: suggested `rtol`/`atol` for float64 and float32 consumers with a justification.

## Layout and conventions

- Sequences are time-major: `xs` is (T, B, m), `hs` is (T, B, n); cells take batch rows (B, m), (B, n).
- Parameters are column-vector math: W_x* is (n, m), W_h* is (n, n), b_* is (n,), and a cell computes
  `x @ W_x.T + h @ W_h.T + b` on batch rows. One bias per gate.
- RNN: `h' = phi(W_x x + W_h h + b)`, phi = tanh or relu (`rnn_activation`).
- LSTM, gate order i, f, g, o (params `W_xi, W_hi, b_i, W_xf, ...`): i, f, o = sigmoid(.),
  g = tanh(.), `c' = f*c + i*g`, `h' = o*tanh(c')`. A framework that stores the four blocks stacked
  (torch: i, f, g, o; ONNX: i, o, f, c; Keras: i, f, c, o) must map its blocks by name.
- GRU, gate order r, z, n (params `W_xr, W_hr, b_r, W_xz, W_hz, b_z, W_xn, W_hn, b_xn, b_hn`):
  `h' = z*h + (1-z)*n`; `reset_after` (torch, cuDNN, Keras default): `n = tanh(W_xn x + b_xn +
  r*(W_hn h + b_hn))`; `reset_before` (Keras reset_after=False, d2l): `n = tanh(W_xn x + b_xn + b_hn +
  W_hn (r*h))`.
- VJP cases: the loss is `L = <d_hs, hs> + <d_hT, h_T>` (+ `<d_cT, c_T>` for the LSTM); outputs are
  `out.d_xs`, `out.d_h0` (`out.d_c0`) and `out.d_p.<param>`, summed over time and batch.
- Bidirectional: `ys` is (T, B, 2n) = [forward ; backward] on the last axis, time-aligned; `h_f` is the
  forward state after x_(T-1), `h_b` the backward state after reading x_0; each direction has its own
  parameters `p_f.*`, `p_b.*` and initial state.
- Clipping by norm returns (clipped list, pre-clip global norm). `clip_eps` = 0: `g` if N <= c else
  `g*c/N`; `clip_eps` > 0: `g*min(1, c/(N+eps))`, always applied (torch). `clip_scope` = `per_tensor`
  clips each tensor by its own norm (Keras `clipnorm`); the returned norm stays the global one.
  Clipping by value: `min(max(g, -v), v)`.

## How to compare

Cast the inputs to your dtype, call your implementation (mapped to these names and layouts), and
require for every output array, element-wise,

    |got - want| <= atol + rtol * |want|

with `rtol`, `atol` from `tolerance[dtype]`. The float32 bound also covers rounding the inputs.
`atol` is rtol times the largest output magnitude of the case, so near-zero entries are judged on
the case's scale. In Python: `dlproof.golden.load_cases(DIR)` and `dlproof.golden.compare(...)`.
"""


def export_golden(out_dir, *, seed: int = 0) -> dict:
    """Write the golden vectors into ``out_dir`` (created if needed) and return the manifest."""
    out = Path(out_dir)
    (out / "cases").mkdir(parents=True, exist_ok=True)
    all_cases = cases(seed)
    check = mpmath_check(all_cases)
    entries = []
    for c in all_cases:
        files = {}
        for ext, data in (("npz", _npz_bytes({**c.inputs, **c.outputs})),
                          ("json", _case_json(c, seed).encode("ascii"))):
            rel = f"cases/{c.id}.{ext}"
            (out / rel).write_bytes(data)
            files[ext] = {"path": rel, "sha256": _sha256(data), "bytes": len(data)}
        entries.append({"id": c.id, "capability": c.capability, "conventions": c.conventions, "files": files})
    readme = README_TEXT.format(version=FORMAT_VERSION, seed=seed, digits=MP_DIGITS,
                                protocol=PROTOCOL_VERSION).encode("ascii")
    (out / "README.md").write_bytes(readme)
    manifest = {
        "format_version": FORMAT_VERSION,
        "protocol_version": PROTOCOL_VERSION,
        "generator": "dlproof.golden.export_golden",
        "seed": seed,
        "dtype": "float64",
        "cases": entries,
        "files": {"README.md": {"sha256": _sha256(readme), "bytes": len(readme)}},
        "mpmath_check": check,
        "total_bytes": sum(f["bytes"] for e in entries for f in e["files"].values()) + len(readme),
    }
    (out / "manifest.json").write_bytes((json.dumps(manifest, sort_keys=True, indent=1) + "\n").encode("ascii"))
    return manifest


# --------------------------------------------------------------------------------------------------
# Reading and comparing (for Python consumers and dlproof's own tests)
# --------------------------------------------------------------------------------------------------

def load_cases(out_dir) -> list[dict]:
    """Every case of an export: its JSON metadata plus ``"arrays"`` loaded from the .npz."""
    out = Path(out_dir)
    manifest = json.loads((out / "manifest.json").read_text())
    result = []
    for e in manifest["cases"]:
        meta = json.loads((out / e["files"]["json"]["path"]).read_text())
        with np.load(out / e["files"]["npz"]["path"], allow_pickle=False) as z:
            meta["arrays"] = {k: z[k] for k in z.files}
        result.append(meta)
    return result


def call_case(case: dict, fn: Callable, dtype: str = "float64") -> dict:
    """Call ``fn`` (a capability) on the case's inputs cast to ``dtype``; its result as {output name: array}."""
    args = [build(node, case["arrays"], dtype) for node in case["call"]]
    return flatten(case["returns"], fn(*args))


def compare(case: dict, got: dict, dtype: str = "float64") -> list[str]:
    """Mismatches of ``got`` (from `call_case`) against the case under its suggested tolerance; [] = pass."""
    tol = case["tolerance"][dtype]
    problems = []
    for name, shape in case["outputs"].items():
        if name not in got:
            if name not in case.get("optional_outputs", []):
                problems.append(f"{case['id']}: {name} missing")
            continue
        want = np.asarray(case["arrays"][name], np.float64)
        g = np.asarray(got[name], np.float64)
        if g.shape != tuple(shape):
            problems.append(f"{case['id']}: {name} has shape {g.shape}, expected {tuple(shape)}")
            continue
        err = np.abs(g - want)
        allowed = tol["atol"] + tol["rtol"] * np.abs(want)
        bad = ~(err <= allowed)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            problems.append(f"{case['id']}: {name}{list(idx)} = {g[idx]!r}, expected {want[idx]!r} "
                            f"(|diff| {err[idx]:.3g} > {allowed[idx]:.3g}; {int(bad.sum())} of {bad.size} entries off)")
    return problems


def worst_ratio(case: dict, got: dict, dtype: str = "float64") -> float:
    """max over outputs of |got - want| / (atol + rtol |want|): < 1 passes."""
    tol = case["tolerance"][dtype]
    worst = 0.0
    for name in case["outputs"]:
        if name in got:
            want = np.asarray(case["arrays"][name], np.float64)
            err = np.abs(np.asarray(got[name], np.float64) - want)
            allowed = tol["atol"] + tol["rtol"] * np.abs(want)
            with np.errstate(divide="ignore", invalid="ignore"):
                r = np.where(allowed > 0, err / np.where(allowed > 0, allowed, 1), np.where(err > 0, math.inf, 0))
            worst = max(worst, float(np.max(r)) if r.size else 0.0)
    return worst


def check_target(case: dict, target) -> list[str]:
    """`compare` for a `dlproof.target.Target`: calls its capability in the target's dtype."""
    fn = getattr(target, case["capability"])
    if fn is None:
        return [f"{case['id']}: target {target.name!r} does not provide {case['capability']}"]
    return compare(case, call_case(case, fn, target.dtype), target.dtype)


__all__ = ["FORMAT_VERSION", "export_golden", "load_cases", "call_case", "compare", "check_target",
           "worst_ratio", "cases", "tolerance", "mpmath_check"]
