"""The golden cases: random, asymmetric inputs per capability, their float64 oracle outputs and tolerances.

Every expected value is computed by the derivation oracles (`dlproof.derivations.oracle*`, assembled only
from proved, generated kernels) in float64, never by an implementation under test. Weights are random and
asymmetric (mixed signs, all entries distinct, n != m, every gate block its own draw), so a gate-order,
transpose or direction bug changes the outputs. Edge cases: T=1, zero initial state, saturated gates
(biases of about +-30, mixed signs) and a T=20 sequence. The tolerance of a case is a first-order rounding
bound: `MARGIN` x u x (inner-product width) x (sequential steps).
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

import numpy as np

from dlproof.parameters import PARAMS
from dlproof.target import CAPABILITIES

from .tree import build, flatten, pdict

#: Unit roundoff of each consumer dtype (float32 also pays for rounding the inputs).
UNIT_ROUNDOFF = {"float64": 2.0 ** -52, "float32": 2.0 ** -23}
#: Safety factor of the suggested tolerance over the first-order rounding estimate.
MARGIN = 4
ACTIVATIONS = ("tanh", "relu")
GRU_VARIANTS = ("reset_after", "reset_before")


def rng_for(seed: int, cid: str, salt: str = "") -> np.random.Generator:
    """The generator of case ``cid`` (and ``salt``) under ``seed``: independent of every other case."""
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


@dataclass
class Case:
    """A golden case: the call (a `tree`), its inputs, the oracle that computes its outputs, its metadata."""

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


@dataclass(frozen=True)
class _Family:
    """A recurrent family: ``kind`` (rnn, lstm, gru) and its variant (the RNN activation, the GRU variant;
    None for the LSTM): its parameter names, conventions, derivation ids and oracles."""

    kind: str
    var: str | None

    @property
    def names(self) -> tuple:
        return PARAMS[self.kind]

    @property
    def lstm(self) -> bool:
        return self.kind == "lstm"

    @property
    def tag(self) -> str:
        return self.kind if self.var is None else f"{self.kind}.{self.var}"

    @property
    def saturable(self) -> bool:
        """Whether saturated-gate cases exist (a ReLU RNN has no gate to saturate)."""
        return not (self.kind == "rnn" and self.var == "relu")

    def cid(self, capability: str, suffix: str) -> str:
        return capability + ("" if self.var is None else f".{self.var}") + suffix

    def conventions(self) -> dict:
        if self.kind == "rnn":
            return {"rnn_activation": self.var, "bias": "one"}
        if self.kind == "gru":
            return {"gru": self.var, "bias": "one"}
        return {"bias": "one"}

    def forward_ids(self) -> list:
        return {"rnn": ["rnn.cell.forward"], "lstm": ["lstm.cell.forward"],
                "gru": [f"gru.cell.forward.{self.var}"]}[self.kind]

    def vjp_ids(self) -> list:
        if self.kind == "rnn":
            return ["rnn.cell.jacobian_h", "rnn.cell.jacobian_x", "rnn.cell.jacobian_W_x", "rnn.cell.jacobian_W_h",
                    "rnn.cell.jacobian_b", "rnn.bptt.gradient", "rnn.bptt.shared_weight_gradient"]
        if self.kind == "lstm":
            return ["lstm.cell.jacobian_h", "lstm.cell.jacobian_x", "lstm.cell.jacobian_c",
                    "lstm.cell.jacobian_weights", "lstm.state.jacobian", "lstm.state.chain"]
        return [f"gru.cell.jacobian_h.{self.var}", f"gru.cell.jacobian_x.{self.var}",
                f"gru.cell.jacobian_weights.{self.var}", "rnn.bptt.gradient", "rnn.bptt.shared_weight_gradient"]

    def oracles(self) -> tuple:
        """(cell, sequence, sequence VJP, bidirectional) float64 oracles."""
        from dlproof.derivations import oracle_bidirectional, oracle_gru, oracle_lstm, oracle_rnn

        if self.kind == "rnn":
            kw = {"activation": self.var}
            return (partial(oracle_rnn.rnn_cell, **kw), partial(oracle_rnn.rnn_forward, **kw),
                    partial(oracle_rnn.rnn_vjp, **kw), partial(oracle_bidirectional.rnn_bi, **kw))
        if self.kind == "gru":
            kw = {"variant": self.var}
            return (partial(oracle_gru.gru_cell, **kw), partial(oracle_gru.gru_forward, **kw),
                    partial(oracle_gru.gru_vjp, **kw), partial(oracle_bidirectional.gru_bi, **kw))
        return oracle_lstm.lstm_cell, oracle_lstm.lstm_forward, oracle_lstm.lstm_vjp, oracle_bidirectional.lstm_bi


FAMILIES = ([_Family("rnn", act) for act in ACTIVATIONS] + [_Family("lstm", None)]
            + [_Family("gru", v) for v in GRU_VARIANTS])


def _cell_case(fam: _Family, seed: int, suffix: str, zero_state=False, saturated=False, B=3, m=3, n=4) -> Case:
    """One cell step on a batch."""
    cid = fam.cid(f"{fam.kind}_cell", suffix)
    rng = rng_for(seed, cid)
    p = _weights(rng, fam.names, n, m, 0.3 if saturated else 0.8, saturated)
    x = _mixed(rng, (B, m), 0.1, 1.5)
    st = {"h": np.zeros((B, n)) if zero_state else _mixed(rng, (B, n), 0.05, 0.95)}
    if fam.lstm:
        st["c"] = np.zeros((B, n)) if zero_state else _mixed(rng, (B, n), 0.1, 2.0)
    call = ["x", "h"] + (["c"] if fam.lstm else []) + [pdict("p", fam.names)]
    returns = {"tuple": ["out.h", "out.c"]} if fam.lstm else "out.h"
    edge = ("zero initial state" if zero_state else "") + ("saturated gates (biases ~ +-30)" if saturated else "")
    return Case(cid, f"{fam.kind}_cell", call, returns, {"x": x, **st, **{f"p.{k}": v for k, v in p.items()}},
                fam.oracles()[0], fam.conventions(), fam.forward_ids(), {"B": B, "m": m, "n": n},
                f"one {fam.tag} cell step" + (f"; {edge}" if edge else ""), 1, m + n + 8)


def _seq_case(fam: _Family, seed: int, suffix: str, T: int, zero_state=False, saturated=False, vjp=False,
              B=2, m=3, n=4) -> Case:
    """A sequence forward, or with ``vjp`` its gradients of L = <d_hs, hs> + <d_hT, h_T> (+ <d_cT, c_T>)."""
    lstm = fam.lstm
    cap = f"{fam.kind}_vjp" if vjp else fam.kind
    cid = fam.cid(cap, suffix)
    rng = rng_for(seed, cid)
    p = _weights(rng, fam.names, n, m, 0.3 if saturated else 0.8, saturated)
    ins = {"xs": _mixed(rng, (T, B, m), 0.1, 1.5),
           "h0": np.zeros((B, n)) if zero_state else _mixed(rng, (B, n), 0.05, 0.95)}
    if lstm:
        ins["c0"] = np.zeros((B, n)) if zero_state else _mixed(rng, (B, n), 0.1, 2.0)
    ins.update({f"p.{k}": v for k, v in p.items()})
    call = ["xs", "h0"] + (["c0"] if lstm else []) + [pdict("p", fam.names)]
    if vjp:
        ins["d_hs"] = _mixed(rng, (T, B, n), 0.1, 1.0)
        ins["d_hT"] = _mixed(rng, (B, n), 0.1, 1.0)
        call += ["d_hs", "d_hT"]
        ret = {"xs": "out.d_xs", "h0": "out.d_h0", "params": pdict("out.d_p", fam.names)}
        if lstm:
            ins["d_cT"] = _mixed(rng, (B, n), 0.1, 1.0)
            call.append("d_cT")
            ret["c0"] = "out.d_c0"
        returns = {"dict": ret}
        ids = fam.forward_ids() + ["rnn.bptt.unroll"] + fam.vjp_ids()
        what = (f"gradients (VJP) of L = <d_hs, hs> + <d_hT, h_T>{' + <d_cT, c_T>' if lstm else ''} "
                f"through a {fam.tag} sequence")
    else:
        returns = ({"tuple": ["out.hs", {"tuple": ["out.h_T", "out.c_T"]}]} if lstm
                   else {"tuple": ["out.hs", "out.h_T"]})
        ids = fam.forward_ids() + ["rnn.bptt.unroll"]
        what = f"{fam.tag} sequence forward"
    edge = [f"T={T}"] + (["zero initial state"] if zero_state else []) + (
        ["saturated gates (biases ~ +-30)"] if saturated else [])
    _, seq_o, vjp_o, _ = fam.oracles()
    return Case(cid, cap, call, returns, ins, vjp_o if vjp else seq_o, fam.conventions(), ids,
                {"T": T, "B": B, "m": m, "n": n}, f"{what}; {', '.join(edge)}", (2 * T if vjp else T), m + n + 8)


def _bi_case(fam: _Family, seed: int, suffix: str, T: int, B=2, m=3, n=4) -> Case:
    """A bidirectional forward with separate parameters and initial state per direction."""
    lstm, names = fam.lstm, fam.names
    cid = fam.cid(f"{fam.kind}_bi", suffix)
    rng = rng_for(seed, cid)
    ins = {"xs": _mixed(rng, (T, B, m), 0.1, 1.5)}
    for d in ("f", "b"):
        ins[f"h0_{d}"] = _mixed(rng, (B, n), 0.05, 0.95)
        if lstm:
            ins[f"c0_{d}"] = _mixed(rng, (B, n), 0.1, 2.0)
    for d in ("f", "b"):
        ins.update({f"p_{d}.{k}": v for k, v in _weights(rng, names, n, m, 0.8).items()})
    if lstm:
        call = ["xs", {"tuple": ["h0_f", "c0_f"]}, {"tuple": ["h0_b", "c0_b"]},
                pdict("p_f", names), pdict("p_b", names)]
        returns = {"tuple": ["out.ys", {"tuple": ["out.h_f", "out.c_f"]}, {"tuple": ["out.h_b", "out.c_b"]}]}
    else:
        call = ["xs", "h0_f", "h0_b", pdict("p_f", names), pdict("p_b", names)]
        returns = {"tuple": ["out.ys", "out.h_f", "out.h_b"]}
    return Case(cid, f"{fam.kind}_bi", call, returns, ins, fam.oracles()[3], fam.conventions(),
                fam.forward_ids() + ["rnn.bptt.unroll", "bi.output_layout", "bi.backward_is_reversed_forward",
                                     "bi.final_states"],
                {"T": T, "B": B, "m": m, "n": n},
                f"bidirectional {fam.tag} forward, separate parameters and initial state per direction; T={T}",
                T, m + n + 8)


def _recurrent_cases(seed: int) -> list[Case]:
    """Per family: cells (plain, zero state, saturated), sequences and their VJPs (T = 5, 1, 20; zero state;
    saturated), bidirectional runs (T = 4, and T = 1 except for the GRU)."""
    cases: list[Case] = []
    for fam in FAMILIES:
        sat = fam.saturable
        cases += [_cell_case(fam, seed, ""), _cell_case(fam, seed, ".zero_state", zero_state=True)]
        cases += [_cell_case(fam, seed, ".saturated", saturated=True)] if sat else []
        cases += [_seq_case(fam, seed, "", 5), _seq_case(fam, seed, ".T1", 1),
                  _seq_case(fam, seed, ".T1.zero_state", 1, zero_state=True), _seq_case(fam, seed, ".T20", 20)]
        cases += [_seq_case(fam, seed, ".saturated", 5, saturated=True)] if sat else []
        cases += [_seq_case(fam, seed, "", 5, vjp=True), _seq_case(fam, seed, ".T1", 1, vjp=True),
                  _seq_case(fam, seed, ".T20", 20, vjp=True)]
        cases += [_seq_case(fam, seed, ".saturated", 5, vjp=True, saturated=True)] if sat else []
        cases += [_bi_case(fam, seed, "", 4)]
        cases += [_bi_case(fam, seed, ".T1", 1)] if fam.kind != "gru" else []
    return cases


def _clip_cases(seed: int) -> list[Case]:
    from dlproof.derivations import oracle_clipping

    cases: list[Case] = []
    shapes = [(3, 4), (4,), (2, 3)]
    n_el = sum(int(np.prod(s)) for s in shapes)

    def grads(rng, scale=1.0):
        return [_mixed(rng, s, 0.05, 1.0) * scale for s in shapes]

    for scope in ("global", "per_tensor"):
        for eps in (0.0, 1e-6):
            etag = "eps0" if eps == 0 else "eps1e-6"
            for side in ("below", "above"):
                cid = f"clip_grad_norm.{scope}.{etag}.{side}"
                rng = rng_for(seed, cid)
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
                cases.append(_clip_norm_case(cid, gs, c, eps, scope, oracle_clipping, how, n_el))
    cid = "clip_grad_norm.global.eps1e-6.above.small"
    gs = grads(rng_for(seed, cid), 1e-3)
    N = float(np.sqrt(sum(float(np.sum(g * g)) for g in gs)))
    cases.append(_clip_norm_case(cid, gs, 0.5 * N, 1e-6, "global", oracle_clipping,
                                 "small gradients (global norm ~ 1e-3, twice max_norm): the eps term changes the "
                                 "scale by ~ eps/N ~ 1e-3 relative, visible even at float32 tolerance", n_el))
    cid = "clip_grad_norm.global.eps0.zero"
    gs = [np.zeros(s) for s in shapes]
    cases.append(_clip_norm_case(cid, gs, 1.0, 0.0, "global", oracle_clipping,
                                 "all-zero gradients: norm 0, left unchanged (no 0/0)", n_el))
    for side, factor in (("above", 0.5), ("below", 2.0)):
        cid = "clip_grad_value" + ("" if side == "above" else ".below")
        gs = grads(rng_for(seed, cid))
        v = factor * float(max(np.max(np.abs(g)) for g in gs))
        if side == "above":
            v = 0.5  # some entries inside, some beyond on either sign
        names = [f"grads.{i}" for i in range(len(gs))]
        ins = {**dict(zip(names, gs)), "clip_value": np.asarray(v)}
        cases.append(Case(
            cid, "clip_grad_value", [{"list": names}, {"float": "clip_value"}],
            {"list": [f"out.clipped.{i}" for i in range(len(gs))]}, ins, oracle_clipping.clip_by_value, {},
            ["clip.value.rule"], {"tensors": [list(s) for s in shapes]},
            ("entries beyond +-clip_value on both signs are clipped, the rest kept" if side == "above"
             else "every entry inside +-clip_value: unchanged"), 1, 1, exact=True))
    return cases


def _clip_norm_case(cid, gs, c, eps, scope, oracle_clipping, how, n_el) -> Case:
    names = [f"grads.{i}" for i in range(len(gs))]
    ins = {**dict(zip(names, gs)), "max_norm": np.asarray(c)}
    ids = ["clip.global_norm.concatenation", "clip.norm.eps.rule" if eps > 0 else "clip.norm.rule"]
    if scope == "per_tensor":
        ids.append("clip.per_tensor.norm")
    rule = "g * min(1, c / (N + eps)), always applied" if eps > 0 else "g if N <= c else g * c / N"
    return Case(
        cid, "clip_grad_norm", [{"list": names}, {"float": "max_norm"}],
        {"tuple": [{"list": [f"out.clipped.{i}" for i in range(len(gs))]}, {"float": "out.norm"}]},
        ins, partial(oracle_clipping.clip_by_norm, eps=eps, scope=scope),
        {"clip_eps": eps, "clip_scope": scope}, ids,
        {"tensors": [list(np.shape(g)) for g in gs]},
        f"clip by L2 norm ({scope} scope, eps={eps!r}: {rule}); {how}; out.norm is the pre-clip global norm",
        1, n_el + 8, optional_outputs=["out.norm"],
        width_note=f"sum of squares over {n_el} entries, + 8 for the sqrt, division and scaling")


def cases(seed: int = 0) -> list[Case]:
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


def tolerance(case: Case) -> dict:
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
