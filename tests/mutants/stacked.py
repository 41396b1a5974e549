"""Broken stacked networks (chapter stacked): the NumPy reference (dlproof/impl/numpy_ref/stacked.py) with one bug
each, planted through the ``bug=`` hook of its internal `_forward` / `_vjp` (names in `stacked.BUGS`):

- final_after_T: the forward direction's final state taken after all T steps (padded steps leak into h_T);
- reverse_over_T: the backward direction reversed over the padded length T (it starts in the padding);
- dropout_after_last: inter-layer dropout also applied to the last layer's output;
- reads_preactivation: layer l + 1 reads layer l's pre-activation a_t = artanh(h_t) (tanh RNN) instead of h_t;
- project_late: the LSTM recurrence fed the unprojected o tanh(c) and only the returned outputs / states
  projected (a bug only with P = n, where W_h* (n, P) fits the unprojected state; P < n runs correctly);
- vjp_backward_not_rereversed: the stack VJP forgets to re-reverse the backward half's input gradient.
"""
from __future__ import annotations

from dlproof.impl.numpy_ref import stacked as S

from mutants.base import code_mutant


def _forward(kind: str, bug: str):
    """{kind}_stack with ``bug`` (the reference's signature and defaults)."""
    opts = S._opts(f"{kind}_stack")
    if kind == "lstm":
        def lstm_stack(xs, h0, c0, layers, lengths=None, dropout=0.0, training=False, seed=0):
            ys, (h, c), *_ = S._forward("lstm_stack", "lstm", xs, (h0, c0), layers, lengths, dropout, training,
                                        seed, opts, bug=bug)
            return ys, (h, c)
        return lstm_stack

    def stack(xs, h0, layers, lengths=None, dropout=0.0, training=False, seed=0):
        ys, (h,), *_ = S._forward(f"{kind}_stack", kind, xs, (h0,), layers, lengths, dropout, training, seed, opts,
                                  bug=bug)
        return ys, h
    return stack


def _vjp(kind: str, bug: str):
    """{kind}_stack_vjp with ``bug``."""
    opts = S._opts(f"{kind}_stack_vjp")
    fn = f"{kind}_stack_vjp"
    if kind == "lstm":
        def lstm_stack_vjp(xs, h0, c0, layers, lengths, d_ys, d_hT, d_cT):
            return S._vjp(fn, "lstm", xs, (h0, c0), layers, lengths, d_ys, (d_hT, d_cT), opts, bug=bug)
        return lstm_stack_vjp

    def stack_vjp(xs, h0, layers, lengths, d_ys, d_hT):
        return S._vjp(fn, kind, xs, (h0,), layers, lengths, d_ys, (d_hT,), opts, bug=bug)
    return stack_vjp


_FORWARD = [
    ("rnn", "final_after_T", "stacked RNN: the final state taken after T steps (padded steps leak into h_T)"),
    ("gru", "final_after_T", "stacked GRU: the final state taken after T steps (padded steps leak into h_T)"),
    ("gru", "reverse_over_T", "stacked GRU: the backward half reversed over the padded length T, not its own"),
    ("lstm", "reverse_over_T", "stacked LSTM: the backward half reversed over the padded length T, not its own"),
    ("lstm", "dropout_after_last", "stacked LSTM: inter-layer dropout also applied after the last layer"),
    ("rnn", "dropout_after_last", "stacked RNN: inter-layer dropout also applied after the last layer"),
    ("rnn", "reads_preactivation", "stacked RNN: layer 2 reads layer 1's pre-activation instead of its output"),
    ("lstm", "project_late", "projected LSTM stack: the recurrence fed the unprojected o*tanh(c), the projection "
                             "applied only to the returned outputs and states (P = n)"),
]
_VJP = [(kind, "vjp_backward_not_rereversed", f"stacked {kind.upper()} VJP: the backward half's input gradient "
         "not re-reversed in time") for kind in ("rnn", "lstm", "gru")]

MUTANTS = {f"stack_{kind}_{bug}": code_mutant(words, **{f"{kind}_stack": _forward(kind, bug)})
           for kind, bug, words in _FORWARD}
MUTANTS.update({f"stack_{kind}_{bug}": code_mutant(words, **{f"{kind}_stack_vjp": _vjp(kind, bug)})
                for kind, bug, words in _VJP})
