"""Broken GRUs (r, z sigmoids, n = tanh(W_xn x + b_xn + r (W_hn h + b_hn)) for reset_after, h' = (1 - z) n + z h;
params {"W_x<q>": (n, m), "W_h<q>": (n, n), "b_r", "b_z", "b_xn", "b_hn": (n,)}), each the NumPy reference with
one bug."""
from __future__ import annotations

from dataclasses import replace

from dlproof.impl.numpy_ref import gru as G
from dlproof.impl.targets import numpy_gru_reset_before_target

from mutants.base import (BASE, BASE32, Mutant, Transform, code_mutant, fp16, gate_swap, last_step_weights,
                          param_mutant, pinned, scaled, shift_time, transposed, truncated_vjp)


def _negate_z(p):
    return {**p, **{k: -p[k] for k in ("W_xz", "W_hz", "b_z")}}  # sigma(-a) = 1 - sigma(a): z and 1 - z exchanged


def _gru_vjp_fp16_accumulate(xs, h0, p, d_hs, d_hT):
    """A float32 GRU VJP whose weight gradients are accumulated in float16."""
    out = BASE32.gru_vjp(xs, h0, p, d_hs, d_hT)
    return {**out, "params": {k: fp16(v) for k, v in out["params"].items()}}


_gru_rb = numpy_gru_reset_before_target()

MUTANTS: dict[str, Mutant] = {
    "gru_z_exchanged": pinned(replace(BASE, name="mutant: GRU z and 1 - z exchanged",
                                      gru=lambda xs, h0, p: G.gru(xs, h0, _negate_z(p))), "gru.forward"),
    "gru_reset_wrong_place": pinned(replace(BASE, name="mutant: GRU reset before the matmul, declared reset_after",
                                            gru=lambda xs, h0, p: G.gru(xs, h0, p, "reset_before")), "gru.forward"),
    **{f"gru_swap_{a}_{b}": param_mutant("gru", gate_swap("gru", a, b), f"GRU gate blocks {a} and {b} swapped")
       for a, b in (("r", "z"), ("r", "n"), ("z", "n"))},
    "gru_W_hr_transposed": param_mutant("gru", transposed("W_hr"), "GRU W_hr transposed"),
    "gru_b_hn_doubled": param_mutant("gru", scaled(2.0, "b_hn"), "GRU b_hn doubled"),
    "gru_z_exchanged_everywhere": param_mutant("gru", scaled(-1.0, "W_xz", "W_hz", "b_z"),
                                               "GRU z and 1 - z exchanged (cell, sequence, VJP, bi)"),
    "gru_reset_after_declared_before": Mutant(
        replace(_gru_rb, name="mutant: GRU computes reset_after, declared reset_before",
                gru=lambda xs, h0, p: G.gru(xs, h0, p, "reset_after"),
                gru_cell=lambda x, h, p: G.gru_cell(x, h, p, "reset_after")), ("gru", "gru_cell"),
        "GRU computes reset_after, declared reset_before"),
    "gru_off_by_one_time": code_mutant("GRU hs shifted by one step", gru=shift_time(BASE.gru)),
    "gru_bptt_truncated": code_mutant("GRU BPTT truncated to one step", gru_vjp=truncated_vjp("gru")),
    "gru_last_step_weights": code_mutant("GRU weight gradients of the last step only", gru_vjp=last_step_weights("gru")),
    "gru_vjp_fp16_accumulation": code_mutant("float32 GRU VJP accumulating weight gradients in float16", base=BASE32,
                                             gru_vjp=_gru_vjp_fp16_accumulate),
}

EQUIVALENT = {
    "gru_identity_param_map": (param_mutant("gru", Transform(lambda p: p, lambda g: g), "GRU with an identity parameter map"),
                               "The identity map: the model and its gradients are the reference's; a control that the "
                               "meta-suite's machinery itself accuses no correct target."),
}
