"""The mutation catalog's building blocks: what a mutant is, the two ways to build one, and the bugs the
recurrent chapters (rnn, lstm, gru) share.

A mutant is the NumPy reference (`BASE`, float64; `BASE32`, float32) with the capabilities of one family
replaced by a broken version (`Mutant.mutated` names them; the other capabilities stay correct, so only the
properties that call a mutated capability can kill it).

- `code_mutant(bug, **caps)` changes the code of the named capabilities.
- `param_mutant(kind, transform, bug)` computes the whole family of ``kind`` (cell, sequence, VJP,
  bidirectional) with transformed parameters q = f(p) and pulls the gradients back through f: a consistent model
  that is the wrong one, as a storage-layout bug gives.
- `pinned(target, caught_by)` wraps a broken target whose failure message tests/suite/test_power.py checks
  against the one property ``caught_by`` that must catch it; its mutated capabilities are those that differ
  from the reference.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from dlproof.impl.numpy_ref import gru as G
from dlproof.impl.numpy_ref import lstm as L
from dlproof.impl.numpy_ref import rnn as R
from dlproof.impl.targets import numpy_target

BASE = numpy_target("float64")
BASE32 = numpy_target("float32")


@dataclass(frozen=True)
class Mutant:
    target: object
    mutated: tuple  # the capabilities that differ from the reference
    bug: str  # what is wrong, in words
    caught_by: str = ""  # a property pinned to catch it with a message that names the bug (tests/suite/test_power.py)


def code_mutant(bug: str, base=BASE, **caps) -> Mutant:
    return Mutant(replace(base, name=f"mutant: {bug}", **caps), tuple(caps), bug)


def _same(a, b) -> bool:
    """The same callable: identical, or partials of one function with the same arguments."""
    if a is b:
        return True
    fa, fb = getattr(a, "func", None), getattr(b, "func", None)
    return fa is not None and fa is fb and a.args == b.args and a.keywords == b.keywords


def pinned(target, caught_by: str) -> Mutant:
    """A named broken target (its name "mutant: <bug>") that the property ``caught_by`` must catch."""
    mutated = tuple(c for c in target.capabilities if not _same(getattr(target, c), getattr(BASE, c)))
    return Mutant(target, mutated, target.name.removeprefix("mutant: "), caught_by)


def changed(caps: dict, correct: dict) -> dict:
    """The capabilities of ``caps`` that differ from ``correct`` (a builder returning a whole family)."""
    return {k: v for k, v in caps.items() if v is not correct.get(k)}


# ---- parameter transforms -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Transform:
    """q = forward(p) on a parameter dict; pull(g_q) = the gradient w.r.t. p (the chain rule through forward)."""
    forward: Callable
    pull: Callable


def swap(*pairs) -> Transform:
    """Exchange parameter names pairwise (a permutation: its own inverse, for values and gradients)."""
    def f(p):
        q = dict(p)
        for a, b in pairs:
            if a in p and b in p:
                q[a], q[b] = p[b], p[a]
        return q
    return Transform(f, f)


def gate_swap(kind: str, a: str, b: str) -> Transform:
    if kind == "lstm":
        return swap((f"W_x{a}", f"W_x{b}"), (f"W_h{a}", f"W_h{b}"), (f"b_{a}", f"b_{b}"))
    bias = {"r": "b_r", "z": "b_z", "n": "b_xn"}
    return swap((f"W_x{a}", f"W_x{b}"), (f"W_h{a}", f"W_h{b}"), (bias[a], bias[b]))


def each(keys, fwd, pull) -> Transform:
    """Apply fwd to the values of ``keys`` and pull to their gradients (an elementwise-linear map)."""
    def f(p):
        return {k: (fwd(v) if k in keys else v) for k, v in p.items()}

    def g(gq):
        return {k: (pull(v) if k in keys else v) for k, v in gq.items()}
    return Transform(f, g)


def transposed(*keys) -> Transform:
    return each(keys, lambda v: np.ascontiguousarray(v.T), lambda g: np.ascontiguousarray(g.T))


def scaled(c: float, *keys) -> Transform:
    return each(keys, lambda v: c * v, lambda g: c * g)


def shifted(d: float, *keys) -> Transform:
    return each(keys, lambda v: v + d, lambda g: g)


FAMILY = {kind: (f"{kind}_cell", kind, f"{kind}_vjp", f"{kind}_bi", f"{kind}_bi_vjp", f"{kind}_stack", f"{kind}_stack_vjp")
          for kind in ("rnn", "lstm", "gru")}


def param_mutant(kind: str, tr: Transform, bug: str, base=BASE) -> Mutant:
    """Every capability of ``kind`` computed with q = tr.forward(p) (each layer and direction of a stack too);
    VJP parameter gradients pulled back."""
    b = base
    cell, seq, vjp, bi, bi_vjp, stack, stack_vjp = (getattr(b, c) for c in FAMILY[kind])
    F = tr.forward
    n_states = 2 if kind == "lstm" else 1  # (h0, c0) or h0 before the parameters of a sequence / stack

    def vjp_m(*args):
        *head, p = args[:-(3 if kind == "lstm" else 2)]
        cots = args[len(head) + 1:]
        out = vjp(*head, F(p), *cots)
        return {**out, "params": tr.pull(out["params"])}

    def bi_vjp_m(xs, sf, sb, pf, pb, *cots):
        out = bi_vjp(xs, sf, sb, F(pf), F(pb), *cots)
        return {**out, "params_f": tr.pull(out["params_f"]), "params_b": tr.pull(out["params_b"])}

    def layers_of(layers, fn):
        return [[fn(p) for p in layer] for layer in layers]

    def stack_m(xs, *rest):
        states, (layers, *tail) = rest[:n_states], rest[n_states:]
        return stack(xs, *states, layers_of(layers, F), *tail)

    def stack_vjp_m(xs, *rest):
        states, (layers, *tail) = rest[:n_states], rest[n_states:]
        out = stack_vjp(xs, *states, layers_of(layers, F), *tail)
        return {**out, "layers": layers_of(out["layers"], tr.pull)}

    if kind == "lstm":
        caps = {"lstm_cell": lambda x, h, c, p: cell(x, h, c, F(p)), "lstm": lambda xs, h0, c0, p: seq(xs, h0, c0, F(p)),
                "lstm_vjp": vjp_m, "lstm_bi": lambda xs, sf, sb, pf, pb: bi(xs, sf, sb, F(pf), F(pb))}
    else:
        caps = {f"{kind}_cell": lambda x, h, p: cell(x, h, F(p)), kind: lambda xs, h0, p: seq(xs, h0, F(p)),
                f"{kind}_vjp": vjp_m, f"{kind}_bi": lambda xs, hf, hb, pf, pb: bi(xs, hf, hb, F(pf), F(pb))}
    caps.update({f"{kind}_bi_vjp": bi_vjp_m, f"{kind}_stack": stack_m, f"{kind}_stack_vjp": stack_vjp_m})
    return Mutant(replace(b, name=f"mutant: {bug}", **caps), FAMILY[kind], bug)


# ---- bugs the recurrent chapters share ----------------------------------------------------------------

def sig(a):
    """The logistic sigmoid through tanh: (1 + tanh(a / 2)) / 2."""
    return 0.5 * (1 + np.tanh(0.5 * a))


def _states(kind, xs, h0, c0, p):
    """The state after every step: [(h_t, c_t)] for t = 0..T (index 0 = the initial state)."""
    out = [(h0, c0)]
    for t in range(len(xs)):
        if kind == "rnn":
            out.append((R.rnn_cell(xs[t], out[-1][0], p), None))
        elif kind == "lstm":
            out.append(L.lstm_cell(xs[t], out[-1][0], out[-1][1], p))
        else:
            out.append((G.gru_cell(xs[t], out[-1][0], p), None))
    return out


def _step_vjp(kind, x, h, c, p, d_h, d_c):
    if kind == "rnn":
        return R.rnn_vjp(x[None], h, p, np.zeros_like(d_h)[None], d_h)
    if kind == "lstm":
        return L.lstm_vjp(x[None], h, c, p, np.zeros_like(d_h)[None], d_h, d_c)
    return G.gru_vjp(x[None], h, p, np.zeros_like(d_h)[None], d_h)


def truncated_vjp(kind: str):
    """BPTT truncated to one step: each step's cotangent stops at its own inputs (no carry into h_{t-1}, c_{t-1}).
    The parameter gradients sum the one-step ones; d_h0 comes from step 0 alone."""
    def vjp(xs, h0, *rest):
        if kind == "lstm":
            c0, p, d_hs, d_hT, d_cT = rest
        else:
            (p, d_hs, d_hT), c0, d_cT = rest, None, None
        st = _states(kind, xs, h0, c0, p)
        T = len(xs)
        out = {"xs": np.zeros_like(xs), "params": {k: np.zeros_like(v) for k, v in p.items()}}
        for t in range(T):
            d_h = d_hs[t] + (d_hT if t == T - 1 else 0)
            d_c = (d_cT if t == T - 1 else np.zeros_like(h0)) if kind == "lstm" else None
            g = _step_vjp(kind, xs[t], st[t][0], st[t][1], p, d_h, d_c)
            out["xs"][t] = g["xs"][0]
            for k in p:
                out["params"][k] += g["params"][k]
            if t == 0:
                out["h0"] = g["h0"]
                if kind == "lstm":
                    out["c0"] = g["c0"]
        return out
    return vjp


def last_step_weights(kind: str):
    """The correct VJP, except that the weight gradients are those of the last step alone."""
    full_vjp = getattr(BASE, f"{kind}_vjp")

    def vjp(xs, h0, *rest):
        if kind == "lstm":
            c0, p, d_hs, d_hT, d_cT = rest
            full = full_vjp(xs, h0, c0, p, d_hs, d_hT, d_cT)
        else:
            (p, d_hs, d_hT), c0, d_cT = rest, None, None
            full = full_vjp(xs, h0, p, d_hs, d_hT)
        st = _states(kind, xs, h0, c0, p)
        g = _step_vjp(kind, xs[-1], st[-2][0], st[-2][1], p, d_hs[-1] + d_hT, d_cT)
        return {**full, "params": g["params"]}
    return vjp


def shift_time(fwd):
    """hs shifted by one step: hs[t] = h_{t-1} (h_0 first), the final state(s) unchanged."""
    def seq(xs, h0, *rest):
        hs, fin = fwd(xs, h0, *rest)
        return np.concatenate([h0[None], hs[:-1]]), fin
    return seq


def fp16(a):
    """Round to float16 and back to float32 (u = 2^-11)."""
    return np.asarray(a, np.float16).astype(np.float32)
