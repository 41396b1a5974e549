"""Properties of stacked (multi-layer), variable-length, bidirectional RNN/LSTM/GRU networks (chapter stacked).

Oracle: dlproof.derivations.oracle_stacked (each sequence run alone on its real prefix, built from the proved
one-layer oracles). Ids ``stack.<kind>.<what>``; capabilities ``<kind>_stack`` / ``<kind>_stack_vjp``.

A failure names the likely bug when its pattern is recognisable (`variant_forward`): padded steps leaking into the
final state, the backward half reversed over the padded length T, layer 2 reading layer 1's pre-activation (rnn),
the projection applied only to the outputs (recurrence fed o * tanh(c)), dropout after the last layer or at
inference, final states in (direction, layer) order, padded outputs following the other padded_output convention.

Modules: strategies.py (the drawn problems, honoring the declared restrictions), tolerances.py (the error model of a
stack, written down there), variants.py (the likely bugs as semantics, to name a failure).

stack.<kind>.dropout.between_layers is statistical: one binomial check of the kept count per example with
false-alarm probability <= concentration.ALPHA (concentration.binomial_interval); every other check is exact
within the error model.
"""
from __future__ import annotations

import numpy as np

from dlproof.derivations import oracle_stacked as O
from dlproof.dtypes import DTYPES

from .. import concentration
from .. import diagnose
from .. import restrictions
from .. import tolerances as tol
from ..assertions import call
from ..registry import prop
from .strategies import (DROPOUT_P, FINAL_NAMES, KINDS, STATE_NAMES, dropout_problems, layers_of,
                         lengths_of, stack_problems, states_of, with_garbage)
from .tolerances import RHO_MAX, stack_forward_tol, stack_vjp_tol
from .variants import BUG_TEXT, likely_bug, near, variant_forward

#: examples per property (a cap below the profile's count): each example runs the oracle and the model per sequence
EXAMPLES = 8


def _conv(kind, target):
    return {"rnn": target.convention("rnn_activation"), "gru": target.convention("gru"), "lstm": None}[kind]


def run_forward(kind, target, chk, xs, states, layers, lengths, dropout=0.0, training=False, seed=0, what="ys"):
    """Call ``<kind>_stack`` and check the result's structure -> (ys, finals tuple)."""
    out = call(target, f"{kind}_stack", xs, *states, layers, lengths, dropout, training, seed)
    T, B = xs.shape[:2]
    D = len(layers[0])
    n_out = O.out_size(layers[0][0])
    chk.holds(f"{kind}_stack(...)", isinstance(out, tuple) and len(out) == 2,
              f"returned {type(out).__name__}, but should be a tuple (ys, final states)")
    ys = chk.array(what, out[0], (T, B, D * n_out))
    fin = out[1] if kind == "lstm" else (out[1],)
    chk.holds("final states", isinstance(fin, tuple) and len(fin) == len(states),
              f"should be {'(h_T, c_T)' if kind == 'lstm' else 'h_T'}")
    finals = tuple(chk.array(name, f, s.shape) for name, f, s in zip(("h_T", "c_T"), fin, states))
    return ys, finals


def _expected(kind, target, problem, xs=None):
    conv = _conv(kind, target)
    states, layers, lengths = states_of(kind, problem), layers_of(problem), lengths_of(problem)
    xs = problem["xs"] if xs is None else xs
    pad = target.convention("padded_output")
    ys, fin = O.stack_forward(kind, xs, states, layers, lengths, padded_output=pad, conv=conv)
    t_ys, t_fin = stack_forward_tol(kind, xs, states, layers, lengths, conv, tol.precision(target), padded_output=pad)
    return (ys, fin), (t_ys, t_fin)


def _check_forward(kind, target, problem, chk, xs, what):
    """The target's forward at xs against the oracle; a failure names the likely bug."""
    conv, pad = _conv(kind, target), target.convention("padded_output")
    ys, finals = run_forward(kind, target, chk, xs, states_of(kind, problem), layers_of(problem),
                             lengths_of(problem), what=what)
    (e_ys, e_fin), (t_ys, t_fin) = _expected(kind, target, problem, xs)
    ok = near(ys, e_ys, t_ys / 4) and all(near(f, e, t / 4) for f, e, t in zip(finals, e_fin, t_fin))
    bug = None if ok else likely_bug(kind, problem, conv, ys, finals, t_ys, t_fin, pad, xs)
    text = BUG_TEXT.get(bug)
    if not ok and bug is None and lengths_of(problem) is not None:  # the other padded-output convention?
        other = "carry" if pad == "zero" else "zero"
        o_ys, _ = O.stack_forward(kind, xs, states_of(kind, problem), layers_of(problem), lengths_of(problem),
                                  padded_output=other, conv=conv)
        o_t, _ = stack_forward_tol(kind, xs, states_of(kind, problem), layers_of(problem), lengths_of(problem), conv,
                                   tol.precision(target), padded_output=other)
        if near(ys, o_ys, o_t):
            text = (f"the outputs at padded steps follow padded_output={other!r}, but the target declares "
                    f"padded_output={pad!r}")
    with diagnose.blame("forward", text):
        chk.close(what, ys, e_ys, t_ys)
        for name, f, e, t in zip(("h_T", "c_T"), finals, e_fin, t_fin):
            chk.close(name, f, e, t)


def _register(kind):
    fwd, vjp = f"{kind}_stack", f"{kind}_stack_vjp"
    strat = (lambda t: stack_problems(kind, t))

    @prop(f"stack.{kind}.forward", title=f"stacked {kind}: ys and final states equal the oracle's (layers, directions, lengths)",
          capabilities=(fwd,), derivations=("stack.composition", "stack.padding.final_state",
                                            "stack.padding.reversed_within_length", "bi.output_layout"),
          strategy=strat, max_examples=EXAMPLES, precisions=DTYPES)
    def forward(target, problem, chk):
        _check_forward(kind, target, problem, chk, problem["xs"], "ys")

    @prop(f"stack.{kind}.padding", title=f"stacked {kind}: garbage at padded steps changes no real output and no final state",
          capabilities=(fwd,), derivations=("stack.padding.real_steps_independent", "stack.padding.final_state",
                                            "stack.padding.reversed_within_length"),
          strategy=lambda t: stack_problems(kind, t, lengths="always"),
          applies=lambda t: restrictions.value(t, "stack_lengths") is None, max_examples=EXAMPLES, precisions=DTYPES)
    def padding(target, problem, chk):
        _check_forward(kind, target, problem, chk, with_garbage(problem).astype(problem["xs"].dtype), "ys (garbage at padded steps)")

    @prop(f"stack.{kind}.batch_split", title=f"stacked {kind}: the batch equals its sequences run one at a time",
          capabilities=(fwd,), derivations=("stack.padding.batch_rows_independent", "stack.padding.final_state"),
          strategy=strat, max_examples=EXAMPLES // 2, precisions=DTYPES)
    def batch_split(target, problem, chk):
        with diagnose.blame("forward"):
            states, layers, lens = states_of(kind, problem), layers_of(problem), lengths_of(problem)
            xs = problem["xs"]
            ys, finals = run_forward(kind, target, chk, xs, states, layers, lens)
            _, (t_ys, t_fin) = _expected(kind, target, problem)
            T = xs.shape[0]
            for b in range(xs.shape[1]):
                ln = T if lens is None else int(lens[b])
                one = None if lens is None else np.array([ln], dtype=lens.dtype)
                ys_b, fin_b = run_forward(kind, target, chk, np.ascontiguousarray(xs[:ln, b:b + 1]),
                                          tuple(np.ascontiguousarray(s[:, :, b:b + 1]) for s in states), layers, one,
                                          what=f"ys of sequence {b} alone")
                chk.close(f"ys[:{ln}, {b}] (batched) vs sequence {b} alone", ys[:ln, b:b + 1], ys_b.astype(np.float64),
                          2 * t_ys[:ln, b:b + 1])
                for name, f, g, t in zip(("h_T", "c_T"), finals, fin_b, t_fin):
                    chk.close(f"{name}[..., {b}, :] (batched) vs sequence {b} alone", f[:, :, b:b + 1],
                              g.astype(np.float64), 2 * t[:, :, b:b + 1])

    @prop(f"stack.{kind}.vjp", title=f"stacked {kind}: the VJP equals the oracle's; exactly 0 at padded inputs",
          capabilities=(vjp,), derivations=("stack.lower_layer_gradient", "stack.jacobian_product",
                                            "stack.padding.real_steps_independent"),
          strategy=lambda t: stack_problems(kind, t, max_T=3, max_n=2, max_B=2),
          max_examples=EXAMPLES // 2, precisions=DTYPES)
    def vjp_check(target, problem, chk):
        conv, pad = _conv(kind, target), target.convention("padded_output")
        states, layers, lens = states_of(kind, problem), layers_of(problem), lengths_of(problem)
        xs = with_garbage(problem).astype(problem["xs"].dtype)
        cots = tuple(problem[k] for k in FINAL_NAMES[kind])
        out = call(target, vjp, xs, *states, layers, lens, problem["d_ys"], *cots)
        exp = O.stack_vjp(kind, xs, states, layers, lens, problem["d_ys"], cots, pad, conv)
        t = stack_vjp_tol(kind, xs, states, layers, lens, problem["d_ys"], cots, conv, tol.precision(target), pad)
        with diagnose.blame("backward"):
            chk.holds(f"{vjp}(...)", isinstance(out, dict) and {"xs", "layers", *STATE_NAMES[kind]} <= set(out),
                      f"should return a dict with keys xs, {', '.join(STATE_NAMES[kind])}, layers")
            g_xs = chk.array("d_xs", out["xs"], xs.shape)
            if lens is not None:
                pad_mask = np.arange(xs.shape[0])[:, None] >= lens[None, :]
                chk.holds("d_xs at padded steps", bool(np.all(g_xs[pad_mask] == 0)),
                          "is not exactly 0, but padded inputs are never read (the gradient there is exactly 0)")
            chk.close("d_xs", g_xs, exp["xs"], t["xs"])
            for s in STATE_NAMES[kind]:
                chk.close(f"d_{s}", out[s], exp[s], t[s])
            chk.holds("layers", isinstance(out["layers"], list) and len(out["layers"]) == len(layers)
                      and all(len(a) == len(b) for a, b in zip(out["layers"], layers)),
                      "should be a list shaped as layers ([[{name: grad}]])")
            for l, lay in enumerate(layers):
                for d, p in enumerate(lay):
                    for name in p:
                        chk.close(f"d_layers[{l}][{d}][{name!r}]", out["layers"][l][d].get(name),
                                  exp["layers"][l][d][name], t["layers"][l][d][name])

    # ---- inter-layer dropout
    no_drop = (lambda t: restrictions.value(t, "stack_dropout") is None)

    @prop(f"stack.{kind}.dropout.inference", title=f"stacked {kind}: dropout p > 0 at inference is the identity",
          capabilities=(fwd,), derivations=("stack.dropout.between_layers",),
          strategy=lambda t: stack_problems(kind, t, L=2, lengths=False), max_examples=EXAMPLES // 2, precisions=DTYPES)
    def dropout_inference(target, problem, chk):
        _dropout_equals_plain(kind, target, problem, chk, training=False, bug="dropout_inference")

    @prop(f"stack.{kind}.dropout.last_layer", title=f"stacked {kind}: no dropout after the last layer (L = 1, training)",
          capabilities=(fwd,), derivations=("stack.dropout.between_layers",),
          strategy=lambda t: stack_problems(kind, t, L=1, lengths=False), applies=no_drop, max_examples=EXAMPLES // 2,
          precisions=DTYPES)
    def dropout_last_layer(target, problem, chk):
        _dropout_equals_plain(kind, target, problem, chk, training=True, bug="dropout_after_last")

    @prop(f"stack.{kind}.dropout.between_layers",
          title=f"stacked {kind}: layer 2 reads m * y1 / (1 - p), m ~ Bernoulli(1 - p); same seed, same output",
          capabilities=(fwd,), derivations=("stack.dropout.between_layers",),
          strategy=lambda t: dropout_problems(kind, t), applies=no_drop, max_examples=EXAMPLES // 2, precisions=DTYPES)
    def dropout_between(target, problem, chk):
        _dropout_statistics(kind, target, problem, chk)


def _dropout_equals_plain(kind, target, problem, chk, training, bug):
    """The output with dropout p (at inference, or after a single layer) equals the plain forward."""
    states, layers = states_of(kind, problem), layers_of(problem)
    xs, p = problem["xs"], problem["p"]
    ys, finals = run_forward(kind, target, chk, xs, states, layers, None, p, training, problem["seed"])
    (e_ys, e_fin), (t_ys, t_fin) = _expected(kind, target, problem)
    scaled = e_ys / (1 - p)
    dropped_like = (not near(ys, e_ys, t_ys / 4)) and bool(np.all(
        (np.abs(ys) <= t_ys) | (np.abs(ys - scaled) <= 2 * t_ys / (1 - p) + 4 * tol.u_total(tol.precision(target)) * np.abs(scaled))))
    if not dropped_like and bug == "dropout_inference" and not near(ys, e_ys, t_ys / 4):
        dropped_like = True  # any change at inference is dropout at inference
    with diagnose.blame("forward", BUG_TEXT[bug] if dropped_like else None):
        chk.close(f"ys (dropout={p}, training={training})", ys, e_ys, t_ys)
        for name, f, e, t in zip(("h_T", "c_T"), finals, e_fin, t_fin):
            chk.close(name, f, e, t)


def _dropout_statistics(kind, target, problem, chk):
    """Decode kept/dropped per entry of layer 2's input step by step (both candidates from the oracle cell), check
    that every output entry is one of the two, the kept count (binomial, concentration.binomial_interval) and that
    the same seed gives the same output. The cell of layer 2 is entry-wise, so each lane (b, i) is decoded on its
    own; a lane whose entry matches both candidates is left undecided from then on (its state is unknown).
    Decoding tolerance: the stack model's bound with every entry kept plus the one with every entry dropped."""
    conv = _conv(kind, target)
    states, layers = states_of(kind, problem), layers_of(problem)
    xs, p, seed = problem["xs"], problem["p"], problem["seed"]
    with diagnose.blame("forward"):
        ys, _ = run_forward(kind, target, chk, xs, states, layers, None, p, True, seed)
        again, _ = run_forward(kind, target, chk, xs, states, layers, None, p, True, seed, what="ys (same seed again)")
        chk.holds("ys (same seed again)", np.array_equal(ys, again), "differs from the first call with the same seed, "
                  "but the masks should be drawn from the seed only")
        T, B, n = ys.shape
        y1, _ = O.run_layer(kind, np.asarray(xs, np.float64), tuple(np.asarray(s[0, 0], np.float64) for s in states),
                            layers[0][0], conv)
        ones = [np.ones((T, B, n))]
        t_keep = stack_forward_tol(kind, xs, states, layers, None, conv, tol.precision(target), ones, p)[0]
        t_drop = stack_forward_tol(kind, xs, states, layers, None, conv, tol.precision(target), [0 * ones[0]], p)[0]
        t_any = t_keep + t_drop
        state = tuple(np.asarray(s[1, 0], np.float64) for s in states)
        kept = determined = 0
        lost = np.zeros((B, n), dtype=bool)  # lanes (b, i) whose mask was ambiguous once: their state is unknown
        for t in range(T):
            a_out, a_st = O.run_layer(kind, y1[t:t + 1] / (1 - p), state, layers[1][0], conv)
            b_out, b_st = O.run_layer(kind, np.zeros_like(y1[t:t + 1]), state, layers[1][0], conv)
            got = ys[t].astype(np.float64)
            is_a = np.abs(got - a_out[0]) <= t_any[t]
            is_b = np.abs(got - b_out[0]) <= t_any[t]
            bad = ~(is_a | is_b) & ~lost
            if np.any(bad):
                i = tuple(int(v) for v in np.argwhere(bad)[0])
                chk.fail(f"ys[{t}]", f"entry {i} = {float(got[i])!r} is neither the kept value {float(a_out[0][i])!r} nor the "
                                     f"dropped value {float(b_out[0][i])!r}, but should be one of them (layer 2's input is "
                                     f"m * y1 / (1 - p) with m in {{0, 1}})", likely_bug="inter-layer dropout is not m * y1 / (1 - p)")
            sure = (is_a ^ is_b) & ~lost
            kept += int(np.sum(is_a & sure))
            determined += int(np.sum(sure))
            lost |= ~(is_a ^ is_b)
            choose = np.where(is_a & sure, 1.0, 0.0)  # the cell is entry-wise: each lane's next state is its candidate's
            state = tuple(choose * sa + (1 - choose) * sb for sa, sb in zip(a_st, b_st))
        lo, hi = concentration.binomial_interval(determined, 1 - p)
        chk.holds("kept count", lo <= kept <= hi,
                  f"{kept} of {determined} decoded entries of layer 2's input kept, but should be in [{lo}, {hi}] "
                  f"(Binomial({determined}, {1 - p}), false-alarm probability <= {concentration.ALPHA})")


for _kind in KINDS:
    _register(_kind)

__all__ = ["KINDS", "STATE_NAMES", "FINAL_NAMES", "DROPOUT_P", "EXAMPLES", "RHO_MAX", "BUG_TEXT", "stack_problems",
           "dropout_problems", "layers_of", "lengths_of", "states_of", "with_garbage", "stack_forward_tol",
           "stack_vjp_tol", "variant_forward", "likely_bug", "run_forward"]
