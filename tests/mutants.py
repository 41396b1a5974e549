"""Deliberately broken targets, built through the public protocol from the NumPy reference.

Each must be caught by the suite (tests/test_power.py). Kinds: a transposed W_h, a dropped bias,
a wrong activation, an off-by-one in time, wrong BPTT terms, per-tensor instead of global
clipping, clipping that scales small gradients up, and a 1e-3 bias offset.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from dlproof.impl.numpy_ref import clipping as C
from dlproof.impl.numpy_ref import rnn as R
from dlproof.impl.targets import numpy_target

BASE = numpy_target("float64")


def _with(p, **kw):
    return {**p, **kw}


def _transposed(p):
    return _with(p, W_h=np.ascontiguousarray(p["W_h"].T))


def _nobias(p):
    return _with(p, b=np.zeros_like(p["b"]))


def _shifted(p):
    return _with(p, b=p["b"] + 1e-3)


def _param_mutant(name, f):
    """Forward and backward both computed with mutated parameters (a consistent but wrong model)."""
    def vjp(xs, h0, p, d_hs, d_hT):
        out = R.rnn_vjp(xs, h0, f(p), d_hs, d_hT)
        if f is _transposed:
            out["params"]["W_h"] = out["params"]["W_h"].T.copy()
        return out

    return replace(BASE, name=name, rnn_cell=lambda x, h, p: R.rnn_cell(x, h, f(p)),
                   rnn=lambda xs, h0, p: R.rnn_forward(xs, h0, f(p)), rnn_vjp=vjp)


def _sigmoid_forward(xs, h0, p):
    h, hs = h0, []
    for x in xs:
        h = 1 / (1 + np.exp(-(x @ p["W_x"].T + h @ p["W_h"].T + p["b"])))
        hs.append(h)
    hs = np.stack(hs)
    return hs, hs[-1].copy()


def _off_by_one(xs, h0, p):
    hs, hT = R.rnn_forward(xs, h0, p)
    return np.concatenate([h0[None], hs[:-1]]), hT


def _no_recurrent_grad(xs, h0, p, d_hs, d_hT):
    """BPTT that drops the path through W_h^T: every step sees only its own cotangent."""
    T = xs.shape[0]
    hs, _ = R.rnn_forward(xs, h0, p)
    prev = np.concatenate([h0[None], hs[:-1]])
    out = {"xs": np.zeros_like(xs), "h0": None, "params": {k: np.zeros_like(v) for k, v in p.items()}}
    for t in range(T):
        d = d_hs[t] + (d_hT if t == T - 1 else 0)
        g = d * (1 - hs[t] ** 2)
        out["params"]["W_h"] += g.T @ prev[t]
        out["params"]["W_x"] += g.T @ xs[t]
        out["params"]["b"] += g.sum(0)
        out["xs"][t] = g @ p["W_x"]
        if t == 0:
            out["h0"] = g @ p["W_h"]
    return out


def _last_step_only(xs, h0, p, d_hs, d_hT):
    """Gradients of the shared weights accumulated over the last step only."""
    full = R.rnn_vjp(xs, h0, p, d_hs, d_hT)
    last = R.rnn_vjp(xs[-1:], R.rnn_forward(xs[:-1], h0, p)[1] if len(xs) > 1 else h0, p,
                     d_hs[-1:], d_hT)
    full["params"] = last["params"]
    return full


def _scale_up(grads, c):
    N = C.global_norm(grads)
    return [g * (c / N) for g in grads], N


MUTANTS = {
    "transposed_W_h": (_param_mutant("mutant: transposed W_h", _transposed), "rnn.forward"),
    "dropped_bias": (_param_mutant("mutant: dropped bias", _nobias), "rnn.forward"),
    "bias_off_1e-3": (_param_mutant("mutant: bias + 1e-3", _shifted), "rnn.forward"),
    "sigmoid_for_tanh": (replace(BASE, name="mutant: sigmoid instead of tanh", rnn=_sigmoid_forward), "rnn.forward"),
    "relu_declared_tanh": (replace(numpy_target("float64", activation="relu"), name="mutant: relu declared tanh",
                                   conventions={**BASE.conventions, "rnn_activation": "tanh"}), "rnn.forward"),
    "off_by_one_time": (replace(BASE, name="mutant: hs shifted by one step", rnn=_off_by_one), "rnn.forward"),
    "bptt_no_recurrence": (replace(BASE, name="mutant: BPTT drops W_h^T path", rnn_vjp=_no_recurrent_grad), "rnn.vjp"),
    "bptt_last_step_weights": (replace(BASE, name="mutant: weight grads of last step only", rnn_vjp=_last_step_only), "rnn.vjp"),
    "clip_per_tensor": (replace(BASE, name="mutant: per-tensor clipping declared global",
                                clip_grad_norm=lambda g, c: C.clip_grad_norm(g, c, scope="per_tensor")), "clip.norm.rule"),
    "clip_scales_up": (replace(BASE, name="mutant: clipping scales small gradients up", clip_grad_norm=_scale_up),
                       "clip.norm.identity_below"),
    "clip_eps_undeclared": (replace(BASE, name="mutant: torch eps, not declared",
                                    clip_grad_norm=lambda g, c: C.clip_grad_norm(g, c, eps=1e-6)), "clip.norm.rule"),
    "clip_by_value_for_norm": (replace(BASE, name="mutant: clip by value used for clip by norm",
                                       clip_grad_norm=lambda g, c: (C.clip_grad_value(g, c), C.global_norm(g))),
                               "clip.norm.rule"),
}

per_tensor_target = MUTANTS["clip_per_tensor"][0]  # importable as mutants:per_tensor_target
