"""Recurrent cells whose dot products accumulate in float16, one rounding after every addition, for the
mixed-precision error model (dlproof/properties/tolerances.py, errmodel.py: accumulate convention).

`seq_affine(x, W_x, h, W_h, b, acc)` forms a = x W_x^T + h W_h^T + b as ONE dot product of the m + n + 1 terms
[x, h, 1] . [W_x, W_h, b], in that order: each product is formed in the storage format (x's dtype), then the
terms are added left to right by ``np.add.accumulate`` in the format ``acc``, so every partial sum is rounded to
``acc`` (NumPy's accumulate runs sequentially, no pairwise summation, no wider accumulator), and the result is
rounded to storage. Activations are float32's tanh rounded to storage (sigma(a) = (1 + tanh(a / 2)) / 2);
elementwise work runs in storage. The cells (RNN h' = tanh(a); LSTM in gate order i, f, g, o; GRU reset_after)
and their sequences (time-major, xs (T, B, m)) are the NumPy reference's formulas.

- ``MUTANTS["fp16_accumulation_f32"]``: a float32 target whose rnn/lstm/gru forwards accumulate in float16
  while declaring the default accumulate = "storage" (float32): a bug (its dot products err by float16's
  u = 2^-11 per addition where float32's 2^-24 is declared).
- ``EQUIVALENT["fp16_sequential_fp32_accumulation"]``: float16 forwards whose affines are one dot product summed
  in float32 and rounded once, declaring accumulate = "float32" (numpy.float16's conventions): correct, never
  accused.
- `fp16_lstm_target(accumulate)`: a float16 LSTM (lstm_cell and lstm) that accumulates in float16; declaring
  the default "storage" it is correct (tests/arithmetic/ checks that the lstm properties pass it); declaring
  "float32" it claims a tighter arithmetic than it has, and `same_sign_problem` makes the claim fail.
"""
from __future__ import annotations

import numpy as np

from dlproof.impl.targets import numpy_target
from dlproof.parameters import LSTM_PARAMS
from dlproof.properties.strategies import Problem
from dlproof.target import Target

from mutants.base import BASE32, code_mutant

F16, F32 = np.dtype(np.float16), np.dtype(np.float32)


def seq_dot(a, W, acc):
    """(B, k) . (n, k) -> (B, n): products in a's dtype, summed left to right in ``acc`` (one rounding per
    addition), the result rounded to a's dtype."""
    terms = (a[:, None, :] * W[None, :, :]).astype(acc)
    return np.add.accumulate(terms, axis=-1)[..., -1].astype(a.dtype)


def seq_affine(x, W_x, h, W_h, b, acc):
    """x W_x^T + h W_h^T + b as one sequentially accumulated dot product (module doc)."""
    ones = np.ones((x.shape[0], 1), x.dtype)
    return seq_dot(np.concatenate([x, h, ones], axis=1), np.concatenate([W_x, W_h, b[:, None]], axis=1), acc)


def _tanh(a):
    return np.tanh(a.astype(F32)).astype(a.dtype)


def _sig(a):
    return (0.5 * (1.0 + np.tanh(0.5 * a.astype(F32)))).astype(a.dtype)


def _cast(dt, *arrays):
    return tuple(np.asarray(v).astype(dt) for v in arrays)


def _params(dt, p):
    return {k: np.asarray(v).astype(dt) for k, v in p.items()}


def rnn_cell(acc):
    def cell(x, h, p):
        x, h = _cast(x.dtype, x, h)
        q = _params(x.dtype, p)
        return _tanh(seq_affine(x, q["W_x"], h, q["W_h"], q["b"], acc))
    return cell


def lstm_cell(acc):
    def cell(x, h, c, p):
        x, h, c = _cast(x.dtype, x, h, c)
        q = _params(x.dtype, p)
        a = {g: seq_affine(x, q[f"W_x{g}"], h, q[f"W_h{g}"], q[f"b_{g}"], acc) for g in "ifgo"}
        i, f, g, o = _sig(a["i"]), _sig(a["f"]), _tanh(a["g"]), _sig(a["o"])
        c_new = f * c + i * g
        return o * _tanh(c_new), c_new
    return cell


def gru_cell(acc):
    """reset_after: n = tanh(W_xn x + b_xn + r (W_hn h + b_hn)), h' = z h + (1 - z) n."""
    def cell(x, h, p):
        x, h = _cast(x.dtype, x, h)
        q = _params(x.dtype, p)
        r = _sig(seq_affine(x, q["W_xr"], h, q["W_hr"], q["b_r"], acc))
        z = _sig(seq_affine(x, q["W_xz"], h, q["W_hz"], q["b_z"], acc))
        none = np.zeros((x.shape[0], 0), x.dtype)
        hn = seq_affine(none, np.zeros((h.shape[1], 0), x.dtype), h, q["W_hn"], q["b_hn"], acc)
        xn = seq_affine(x, q["W_xn"], none, np.zeros((h.shape[1], 0), x.dtype), q["b_xn"], acc)
        n = _tanh(xn + r * hn)
        return z * h + (1 - z) * n
    return cell


def sequence(cell, states: int):
    """The time-major sequence capability of a one-step ``cell``: (hs, h_T) or (hs, (h_T, c_T))."""
    def run(xs, *args):
        st, p = list(args[:states]), args[states]
        hs = []
        for x in xs:
            out = cell(x, *st, p)
            st = list(out) if states == 2 else [out]
            hs.append(st[0])
        hs = np.stack(hs) if hs else np.zeros((0,) + np.shape(st[0]), np.asarray(xs).dtype)
        return hs, (tuple(st) if states == 2 else st[0])
    return run


def _caps(acc) -> dict:
    r, l_, g = rnn_cell(acc), lstm_cell(acc), gru_cell(acc)
    return {"rnn_cell": r, "rnn": sequence(r, 1), "lstm_cell": l_, "lstm": sequence(l_, 2), "gru_cell": g,
            "gru": sequence(g, 1)}


def fp16_lstm_target(accumulate: str = "storage") -> Target:
    """A float16 LSTM (lstm_cell, lstm) accumulating in float16 (module doc), declaring ``accumulate``."""
    caps = _caps(F16)
    return Target(name=f"float16 LSTM, float16 accumulation (declares accumulate={accumulate})", dtype="float16",
                  conventions={"accumulate": accumulate}, lstm_cell=caps["lstm_cell"], lstm=caps["lstm"])


def same_sign_problem(k: int = 512) -> Problem:
    """One LSTM step, B = n = 1, m = k - 1, h = 0: gate g's pre-activation is 0.5 + (k - 1) w with w = 3e-4
    (float16's nearest), the large term first. In [0.5, 1) float16's spacing is 2^-11 = 4.9e-4 > 2 w, so each
    float16 addition of w rounds up to a whole spacing: the float16 sum gains ~1.9e-4 per term (k = 512: ~0.097
    in all), while a float32 accumulation errs by < 1e-5 and float16's own model (gamma_k at u = 2^-11) allows
    ~0.43. The other gates read x through zero weights (exact)."""
    m, rng = k - 1, np.random.default_rng(k)
    arrays = {name: np.zeros((1, m) if name.startswith("W_x") else (1, 1) if name.startswith("W_h") else (1,))
              for name in LSTM_PARAMS}
    arrays["W_xg"] = np.full((1, m), 3e-4)
    arrays["W_xg"][0, 0] = 0.5
    arrays["b_i"], arrays["b_o"] = np.array([3.0]), np.array([3.0])  # i, o near 1: h' follows g
    arrays.update({"xs": np.ones((1, 1, m)), "h0": np.zeros((1, 1)), "c0": np.zeros((1, 1)),
                   "d_hs": rng.standard_normal((1, 1, 1)), "d_hT": rng.standard_normal((1, 1)),
                   "d_cT": rng.standard_normal((1, 1))})
    arrays["direction"] = rng.standard_normal(4 * (m + 2) + m + 2)
    arrays = {name: v.astype(F16) for name, v in arrays.items()}
    return Problem(arrays, {"n": 1, "m": m, "B": 1, "T": 1, "seed": k})


MUTANTS = {
    # float32 storage (the inputs' dtype), a float16 accumulator
    "fp16_accumulation_f32": code_mutant("float32 RNN/LSTM/GRU forwards accumulating their dot products in float16 "
                                         "(declaring the default accumulate)", base=BASE32, **_caps(F16)),
}

# ---- equivalent rewrites: the same model, written differently; they must survive --------------------------

EQUIVALENT = {
    "fp16_sequential_fp32_accumulation": (
        code_mutant("float16 RNN/LSTM/GRU forwards, each affine one dot product summed left to right in float32 and "
                    "rounded once to float16", base=numpy_target("float16"), **_caps(F32)),
        "numpy.float16 declares accumulate = float32: a dot product accumulated in float32 in any order and rounded "
        "once to float16 is within gamma_k(2^-24) sum|terms| + 2^-11 |result| (tolerances' Precisions), whatever "
        "the order; the reference forms the same affine as three pieces, which the model also covers."),
}
