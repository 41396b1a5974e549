"""Strategies of the stacked chapter: L in {1, 2}, D in {1, 2}, lengths, LSTM projection, inter-layer dropout,
inside the domain the target's declared restrictions leave (stack_projection, projection_size, stack_lengths,
stack_directions).
Problems hold the layers as "L{l}.{d}.{name}" arrays, xs (T, B, m) with garbage for the padded steps, states
(L, D, B, n_out) and cotangents; float arrays in the target's dtype."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from dlproof.derivations import oracle_stacked as O
from dlproof.parameters import PARAMS

from .. import restrictions
from ..strategies import SEED, Problem, signed

KINDS = O.KINDS
STATE_NAMES = {"rnn": ("h0",), "gru": ("h0",), "lstm": ("h0", "c0")}
FINAL_NAMES = {"rnn": ("d_hT",), "gru": ("d_hT",), "lstm": ("d_hT", "d_cT")}
DROPOUT_P = (0.25, 0.5)


def _layer_params(rng, kind, n, m, P, w_scale, b_scale):
    out = {}
    n_rec = P if P else n
    for k in PARAMS[kind]:
        if k.startswith("W_x"):
            out[k] = signed(rng, (n, m), w_scale / np.sqrt(m))
        elif k.startswith("W_h"):
            out[k] = signed(rng, (n, n_rec), w_scale / np.sqrt(n_rec))
        else:
            out[k] = signed(rng, (n,), b_scale)
    if P:
        out["W_proj"] = signed(rng, (P, n), w_scale / np.sqrt(n))
    return out


def layers_of(problem) -> list:
    """layers[l][d] = {name: array} from a problem's "L{l}.{d}.{name}" arrays."""
    L, D = problem["L"], problem["D"]
    out = [[{} for _ in range(D)] for _ in range(L)]
    for key, v in problem.arrays.items():
        if key.startswith("L") and "." in key:
            l, d, name = key.split(".", 2)
            out[int(l[1:])][int(d)][name] = v
    return out


def lengths_of(problem):
    return problem.arrays.get("lengths")


@st.composite
def stack_problems(draw, kind: str, target=None, max_T: int = 4, max_n: int = 3, max_B: int = 3, L=None, D=None,
                   projection: bool = True, lengths=True):
    """A stacked problem: L in {1, 2}, D in {1, 2}, lengths (None, or >= 1 full and >= 1 short sequence; ``lengths``
    False: None; "always": drawn whenever the target accepts lengths), LSTM
    projection (P <= n; P < n under `projection_size`), honoring the target's restrictions."""
    restricted = (lambda name: target is not None and restrictions.value(target, name) is not None)
    L = draw(st.sampled_from((1, 2)), label="L") if L is None else L
    if D is None:
        D = 1 if restricted("stack_directions") else draw(st.sampled_from((1, 2)), label="D")
    n = draw(st.integers(1, max_n), label="n")
    m = draw(st.integers(1, 3), label="m")
    B = draw(st.integers(2 if lengths == "always" else 1, max_B), label="B")
    T = draw(st.integers(2 if lengths == "always" else 1, max_T), label="T")
    P = 0
    if kind == "lstm" and projection and not restricted("stack_projection"):
        hi = n - 1 if restricted("projection_size") else n
        if hi >= 1 and draw(st.booleans(), label="projected"):
            P = draw(st.integers(1, hi), label="P")
    use_lengths = bool(lengths) and not restricted("stack_lengths") and B >= 2 and T >= 2 and (
        lengths == "always" or draw(st.booleans(), label="masked"))
    w_scale = draw(st.sampled_from((0.5, 1.0, 2.0)), label="W scale")
    b_scale = draw(st.sampled_from((0.1, 1.0, 5.0)), label="b scale")
    seed = draw(SEED, label="seed")
    rng = np.random.default_rng(seed)
    dt = np.dtype(target.dtype if target is not None else "float64")
    n_out = P or n
    arrays = {}
    for l in range(L):
        for d in range(D):
            for k, v in _layer_params(rng, kind, n, m if l == 0 else D * n_out, P, w_scale, b_scale).items():
                arrays[f"L{l}.{d}.{k}"] = v
    arrays["xs"] = signed(rng, (T, B, m), 1.0)
    arrays["h0"] = np.tanh(signed(rng, (L, D, B, n_out), 1.0))
    arrays["d_ys"] = signed(rng, (T, B, D * n_out), 1.0)
    arrays["d_hT"] = signed(rng, (L, D, B, n_out), 1.0)
    arrays["garbage"] = signed(rng, (T, B, m), 1e3)
    if kind == "lstm":
        arrays["c0"] = signed(rng, (L, D, B, n), 1.0)
        arrays["d_cT"] = signed(rng, (L, D, B, n), 1.0)
    arrays = {k: v.astype(dt) for k, v in arrays.items()}
    if use_lengths:
        lens = rng.integers(1, T + 1, size=B)
        full, short = rng.choice(B, size=2, replace=False)
        lens[full], lens[short] = T, rng.integers(1, T)
        arrays["lengths"] = lens.astype(np.int64)
    return Problem(arrays, {"L": L, "D": D, "n": n, "m": m, "B": B, "T": T, "P": P, "seed": seed,
                            "p": draw(st.sampled_from(DROPOUT_P), label="dropout p")})


def states_of(kind, problem) -> tuple:
    return tuple(problem[s] for s in STATE_NAMES[kind])


def with_garbage(problem, xs=None):
    """xs with large finite garbage at the padded steps t >= lengths[b] (real steps unchanged)."""
    xs = np.array(problem["xs"] if xs is None else xs)
    lens = lengths_of(problem)
    if lens is not None:
        for b, ln in enumerate(lens):
            xs[ln:, b] = problem["garbage"][ln:, b]
    return xs


@st.composite
def dropout_problems(draw, kind, target):
    """L = 2, D = 1, no projection, full length; layer 2 has diagonal W_x*, zero W_h*, zero biases (every entry
    of its output reads one entry of its input, and the cell is entry-wise)."""
    problem = draw(stack_problems(kind, target, L=2, D=1, projection=False, lengths=False, max_n=3))
    rng = np.random.default_rng(problem["seed"] ^ 0x2545F491)
    n, dt = problem["n"], problem["xs"].dtype
    arrays = dict(problem.arrays)
    for k in PARAMS[kind]:
        v = np.zeros(np.shape(arrays[f"L1.0.{k}"]))
        if k.startswith("W_x"):
            v = np.diag(rng.choice((-1.0, 1.0), n) * rng.uniform(0.5, 2.0, n))
        arrays[f"L1.0.{k}"] = v.astype(dt)
    return Problem(arrays, dict(problem.scalars))
