"""Properties of bidirectional RNN/LSTM/GRU: ys = [forward h_t ; backward h_t], time-aligned; h_b is the
backward state after reading x_0. Oracle: dlproof.derivations.oracle_bidirectional (the proved reversal identity).

A failure names the layout bug it looks like: halves in the wrong order, or a backward half left in
reversed time.
"""
from __future__ import annotations

import numpy as np

from dlproof.derivations import oracle_bidirectional
from dlproof.parameters import PARAMS

from . import diagnose
from . import tolerances as tol
from .assertions import call
from .registry import prop
from .strategies import bi_problems

STATES = {"rnn": ("h0",), "lstm": ("h0", "c0"), "gru": ("h0",)}


def _conv(kind, target):
    return {"rnn": target.convention("rnn_activation"), "gru": target.convention("gru"), "lstm": None}[kind]


def _split(kind, problem):
    p_f = {k: problem[k] for k in PARAMS[kind]}
    p_b = {k: problem[f"bwd:{k}"] for k in PARAMS[kind]}
    s_f = tuple(problem[s] for s in STATES[kind])
    s_b = tuple(problem[f"bwd:{s}"] for s in STATES[kind])
    return p_f, p_b, s_f, s_b


def _forward_tol(kind, xs, states, p, conv, dtype):
    """(tol_hs, finals tuple) of one direction."""
    if kind == "rnn":
        t_hs, t_h = tol.rnn_forward_tol(xs, states[0], p, conv, dtype)
        return t_hs, (t_h,)
    if kind == "gru":
        t_hs, t_h = tol.gru_forward_tol(xs, states[0], p, conv, dtype)
        return t_hs, (t_h,)
    return tol.lstm_forward_tol(xs, states[0], states[1], p, dtype)


def _call(kind, target, xs, s_f, s_b, p_f, p_b):
    if kind == "lstm":
        return call(target, "lstm_bi", xs, s_f, s_b, p_f, p_b)
    return call(target, f"{kind}_bi", xs, s_f[0], s_b[0], p_f, p_b)


def _oracle(kind, xs, s_f, s_b, p_f, p_b, conv):
    if kind == "lstm":
        return oracle_bidirectional.lstm_bi(xs, s_f, s_b, p_f, p_b)
    fn = oracle_bidirectional.rnn_bi if kind == "rnn" else oracle_bidirectional.gru_bi
    return fn(xs, s_f[0], s_b[0], p_f, p_b, conv)


def _finals(kind, out):
    """(h_f[, c_f]), (h_b[, c_b]) from a bi capability's return value."""
    if kind == "lstm":
        return tuple(out[1]), tuple(out[2])
    return (out[1],), (out[2],)


def _register(kind):
    @prop(f"bi.{kind}.forward", title=f"bidirectional {kind}: ys = [forward ; backward re-reversed], final states",
          capabilities=(f"{kind}_bi",), derivations=("bi.output_layout", "bi.backward_is_reversed_forward", "bi.final_states"),
          strategy=lambda t: bi_problems(kind, dtype=t.dtype))
    def check(target, problem, chk):
        with diagnose.blame("forward"):
            conv = _conv(kind, target)
            xs = problem["xs"]
            T, B = xs.shape[:2]
            p_f, p_b, s_f, s_b = _split(kind, problem)
            n = s_f[0].shape[1]
            out = _call(kind, target, xs, s_f, s_b, p_f, p_b)
            chk.holds(f"{kind}_bi(...)", isinstance(out, tuple) and len(out) == 3,
                      f"returned {type(out).__name__}, but should be a tuple (ys, final_f, final_b)")
            ys = chk.array("ys", out[0], (T, B, 2 * n)).astype(np.float64)
            e_out = _oracle(kind, xs, s_f, s_b, p_f, p_b, conv)
            e_ys = e_out[0]
            t_f, tf_fin = _forward_tol(kind, xs, s_f, p_f, conv, tol.precision(target))
            t_b, tb_fin = _forward_tol(kind, xs[::-1], s_b, p_b, conv, tol.precision(target))
            t_ys = np.concatenate([t_f, t_b[::-1]], axis=-1)
            ok = lambda a, e, t: bool(np.all(np.abs(a - e) <= t))  # noqa: E731
            if not ok(ys, e_ys, t_ys):
                fwd, bwd = e_ys[..., :n], e_ys[..., n:]
                if ok(ys[..., :n], bwd, t_b[::-1]) and ok(ys[..., n:], fwd, t_f):
                    chk.fail("ys", "holds [backward ; forward], but should be [forward ; backward]: the halves are "
                                   "concatenated in the wrong order", part="forward",
                             likely_bug="halves concatenated as [backward ; forward]")
                if ok(ys[..., :n], fwd, t_f) and ok(ys[..., n:], bwd[::-1], t_b):
                    chk.fail("ys[..., n:]", "is the backward run in reversed time, but should be re-reversed so that "
                                            "ys[t] pairs both directions at time t", part="forward",
                             likely_bug="backward half left in reversed time (not re-reversed)")
            chk.close("ys", ys.astype(target.dtype), e_ys, t_ys)
            (f_got, b_got), (f_exp, b_exp) = _finals(kind, out), _finals(kind, e_out)
            for name, got, exp, t in (("final_f", f_got, f_exp, tf_fin), ("final_b", b_got, b_exp, tb_fin)):
                for j, (g, e, tt) in enumerate(zip(got, exp, t)):
                    chk.close(f"{name}[{j}]", g, e, tt)
            chk.holds("final_b[0]", np.array_equal(b_got[0], out[0][0, :, n:]),
                      "differs from ys[0, :, n:], but should be the backward state after reading x_0")


for _kind in ("rnn", "lstm", "gru"):
    _register(_kind)
