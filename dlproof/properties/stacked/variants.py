"""The likely bugs of a stacked network, as semantics built from the oracle's one-layer runs: a failing forward is
compared with each (`likely_bug`) to name it."""
from __future__ import annotations

import numpy as np

from dlproof.derivations import oracle_stacked as O

from .strategies import layers_of, lengths_of, states_of
from .tolerances import dir_input


BUG_TEXT = {
    "leak_final": "padded steps leak into the final state (h_T is the state after all T steps, not after the "
                  "sequence's last real step)",
    "reverse_padded": "the backward half is reversed over the padded length T instead of each sequence's own length",
    "preactivation": "layer 2 reads layer 1's pre-activation instead of its output",
    "project_late": "the projection is applied only to the outputs: the recurrence is fed o * tanh(c) unprojected",
    "finals_order": "final states in (direction, layer) order instead of (layer, direction)",
    "dropout_after_last": "dropout applied after the last layer",
    "dropout_inference": "dropout applied at inference (training=False)",
}


def variant_forward(kind, xs, states0, layers, lengths, conv, bug, padded_output="zero"):
    """(ys, finals) of the stack with one likely bug of `BUG_TEXT` (the dropout ones excepted): the semantics a
    failure is compared with to name it. Built from the oracle's one-layer runs."""
    T, B, L, D, lens = O.check_stack(kind, xs, states0, layers, lengths, "variant_forward")
    xs = np.asarray(xs, np.float64)
    s0 = tuple(np.asarray(s, np.float64) for s in states0)
    if bug == "finals_order":
        ys, fin = O.stack_forward(kind, xs, s0, layers, lengths, padded_output=padded_output, conv=conv)
        return ys, tuple(np.ascontiguousarray(f.swapaxes(0, 1)).reshape(f.shape) for f in fin)
    n_out = O.out_size(layers[0][0])
    ys = np.zeros((T, B, D * n_out))
    fin = tuple(np.zeros(s.shape) for s in s0)
    for b in range(B):
        ln = int(lens[b])
        full = xs[:, b:b + 1]  # the whole padded sequence (what a buggy target reads)
        inp = full
        for l, layer in enumerate(layers):
            halves = []
            for d, p in enumerate(layer):
                st0 = tuple(s[l, d, b:b + 1] for s in s0)
                if bug == "reverse_padded" and d == 1:
                    hs, f = O.run_direction(kind, inp, st0, p, 1, conv)
                elif bug == "leak_final" and d == 0:
                    hs, f = O.run_direction(kind, inp, st0, p, 0, conv)
                elif bug == "project_late" and "W_proj" in p:
                    hs, f = _project_late(dir_input(inp[:ln], d), st0, p)
                    hs = dir_input(hs, d)
                else:
                    hs, f = O.run_direction(kind, inp[:ln], st0, p, d, conv)
                h = np.zeros((T,) + hs.shape[1:])
                h[:ln] = hs[:ln]
                halves.append(h)
                for j, v in enumerate(f):
                    fin[j][l, d, b] = v[0]
            out = np.concatenate(halves, axis=-1)
            if bug == "preactivation" and kind == "rnn" and l + 1 < L:
                out = _rnn_preactivations(inp, out, layer, s0, l, b, ln)
            inp = out
        ys[:, b] = inp[:, 0]
        if O.carries(padded_output, layers):
            ys[ln:, b, :n_out] = inp[ln - 1, 0, :n_out]
    return ys, fin


def _rnn_preactivations(inp, out, layer, s0, l, b, ln):
    """a_t = x_t W_x^T + h_{t-1} W_h^T + b of each direction of an rnn layer (the pre-activations of ``out``)."""
    n = out.shape[-1] // len(layer)
    pre = np.zeros_like(out)
    for d, p in enumerate(layer):
        h = dir_input(out[:ln, :, d * n:(d + 1) * n], d)
        prev = np.concatenate([s0[0][l, d, b:b + 1][None], h[:-1]])
        a = dir_input(inp[:ln], d) @ np.asarray(p["W_x"], np.float64).T + prev @ np.asarray(p["W_h"], np.float64).T + p["b"]
        pre[:ln, :, d * n:(d + 1) * n] = dir_input(a, d)
    return pre


def _project_late(xs, state0, p):
    """The recurrence of the plain LSTM cell fed u = o tanh(c) (needs P = n), outputs u W_proj^T."""
    from dlproof.derivations.oracle_lstm import lstm_forward

    cell = {k: v for k, v in p.items() if k != "W_proj"}
    W_p = np.asarray(p["W_proj"], np.float64)
    hs, (h, c) = lstm_forward(xs, state0[0], state0[1], cell)
    return hs @ W_p.T, (h @ W_p.T, c)


def near(a, b, t) -> bool:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= 4 * t + 1e-9 * (1 + np.abs(b))))


def likely_bug(kind, problem, conv, ys, finals, t_ys, t_fin, padded_output, xs=None):
    """The BUG_TEXT key whose semantics the target's (ys, finals) at ``xs`` (default: the problem's) match, or None."""
    args = (kind, problem["xs"] if xs is None else xs, states_of(kind, problem), layers_of(problem), lengths_of(problem), conv)
    L, D, P, n = problem["L"], problem["D"], problem["P"], problem["n"]
    bugs = []
    if lengths_of(problem) is not None:
        bugs += ["leak_final"] + (["reverse_padded"] if D == 2 else [])
    if kind == "rnn" and L == 2:
        bugs.append("preactivation")
    if kind == "lstm" and P and P == n:
        bugs.append("project_late")
    if L * D > 2 and L > 1 and D > 1:
        bugs.append("finals_order")
    for bug in bugs:
        try:
            v_ys, v_fin = variant_forward(*args, bug, padded_output)
        except (ValueError, np.linalg.LinAlgError):
            continue
        if near(ys, v_ys, t_ys) and all(near(f, v, t) for f, v, t in zip(finals, v_fin, t_fin)):
            return bug
    return None

