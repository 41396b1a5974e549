"""High-precision references for the extremes properties: mpmath at DPS = 50 digits, on the exact float inputs.

Every input is a binary float and is converted exactly (``mpf(float(v))``); each affine map is one
``mp.fdot`` of the exact inputs (exact products; the sum's error is below 2^-160 of the largest product,
inside the float64 part of the model's gamma_k sum|terms|), so the only roundings are the 50-digit ones and
the final one to float64 (|error| <= u_64 |r| + eta_64, inside the error model's u_total and eta_total). No
float64 kernel is involved, so saturated pre-activations (|a| up to 1e4), exact zeros and subnormals are
evaluated as written:

  sigma(a) = 1 / (1 + e^-a)  (1 - sigma(a) = sigma(-a)),  tanh(a),  relu(a) = max(a, 0)
  affine   a = W_x x + W_h h + b   (one mp.fdot per entry; affine, sigmoid and the LSTM cell: derivations/mp_cells.py)
  RNN      h' = phi(a)                                                         [rnn.cell.forward]
  LSTM     i, f, o = sigma(a_i, a_f, a_o), g = tanh(a_g); c' = f c + i g; h' = o tanh(c')   [lstm.cell.forward]
  GRU      r = sigma(a_r), z = sigma(a_z); h' = z h + (1 - z) n with
           reset_after:  n = tanh(W_xn x + b_xn + r (W_hn h + b_hn))         [gru.cell.forward.reset_after]
           reset_before: n = tanh(W_xn x + b_xn + b_hn + W_hn (r h))         [gru.cell.forward.reset_before]
  norm     N = sqrt(sum of g_k^2 over every entry of every tensor)            [clip.global_norm.concatenation]
  clip     s = min(1, c / (N + eps)) (eps > 0) [clip.norm.eps.rule]; s = 1 if N <= c else c / N (eps = 0)
           [clip.norm.rule]; g' = s g, one N for all tensors (global) or one per tensor [clip.per_tensor.norm]

Arrays follow the protocol (batch rows (B, k), W (n, k), b (n,)); results are float64 NumPy arrays.
"""
from __future__ import annotations

import mpmath
import numpy as np

from dlproof.derivations import mp_cells
from dlproof.derivations.mp_cells import affine, sigmoid
from dlproof.parameters import GRU_PARAMS, LSTM_PARAMS

DPS = 50
mp = mpmath.mp
_ONE = mpmath.mpf(1)


def _vec(a) -> list:
    return [mpmath.mpf(float(v)) for v in np.ravel(np.asarray(a))]


def _rows(a) -> list:
    a = np.asarray(a)
    return [_vec(r) for r in a.reshape(a.shape[0], -1)]


def _to_f64(rows: list) -> np.ndarray:
    return np.array([[float(v) for v in r] for r in rows], np.float64)


def rnn_cell(x, h, p, activation: str = "tanh") -> np.ndarray:
    """h' = phi(W_x x + W_h h + b), phi = tanh or relu. [rnn.cell.forward]"""
    if activation not in ("tanh", "relu"):
        raise ValueError(f"extreme_oracle.rnn_cell: activation={activation!r}, but should be 'tanh' or 'relu'")
    with mp.workdps(DPS):
        Wx, Wh, b = _rows(p["W_x"]), _rows(p["W_h"]), _vec(p["b"])
        out = []
        for xr, hr in zip(_rows(x), _rows(h)):
            a = affine(xr, Wx, hr, Wh, b)
            out.append([mpmath.tanh(v) if activation == "tanh" else max(v, mpmath.mpf(0)) for v in a])
        return _to_f64(out)


def lstm_cell(x, h, c, p) -> tuple:
    """(h', c'): c' = f c + i g, h' = o tanh(c'), gates i, f, o = sigma(.), g = tanh(.). [lstm.cell.forward]"""
    with mp.workdps(DPS):
        P = {k: (_rows(p[k]) if k.startswith("W") else _vec(p[k])) for k in LSTM_PARAMS}
        rows = [mp_cells.lstm_cell(xr, hr, cr, P) for xr, hr, cr in zip(_rows(x), _rows(h), _rows(c))]
        return _to_f64([r[0] for r in rows]), _to_f64([r[1] for r in rows])


def gru_cell(x, h, p, variant: str = "reset_after") -> np.ndarray:
    """h' = z h + (1 - z) n of the declared variant (see the module doc). [gru.cell.forward.<variant>]"""
    if variant not in ("reset_after", "reset_before"):
        raise ValueError(f"extreme_oracle.gru_cell: variant={variant!r}, but should be 'reset_after' or 'reset_before'")
    with mp.workdps(DPS):
        W = {k: _rows(p[k]) for k in GRU_PARAMS if k.startswith("W")}
        b = {k: _vec(p[k]) for k in GRU_PARAMS if k.startswith("b")}
        out = []
        for xr, hr in zip(_rows(x), _rows(h)):
            ar = affine(xr, W["W_xr"], hr, W["W_hr"], b["b_r"])
            az = affine(xr, W["W_xz"], hr, W["W_hz"], b["b_z"])
            r = [sigmoid(v) for v in ar]
            if variant == "reset_after":
                hn = affine([], [[]] * len(hr), hr, W["W_hn"], b["b_hn"])
                xn = affine(xr, W["W_xn"], [], [[]] * len(hr), b["b_xn"])
                n = [mpmath.tanh(xn[k] + r[k] * hn[k]) for k in range(len(hr))]
            else:
                rh = [r[k] * hr[k] for k in range(len(hr))]
                bias = [b["b_xn"][k] + b["b_hn"][k] for k in range(len(hr))]
                n = [mpmath.tanh(v) for v in affine(xr, W["W_xn"], rh, W["W_hn"], bias)]
            # 1 - z = sigma(-a_z): exact even where z rounds to 1 at the working precision
            out.append([sigmoid(az[k]) * hr[k] + sigmoid(-az[k]) * n[k] for k in range(len(hr))])
        return _to_f64(out)


def norm(grads) -> float:
    """N = sqrt(sum of squares of every entry), exact squares and sum, rounded once to float64.
    [clip.global_norm.concatenation]"""
    with mp.workdps(DPS):
        return float(mpmath.sqrt(mpmath.fsum([v * v for g in grads for v in _vec(g)])))


def sum_of_squares(grads):
    """sum of g_k^2 over every entry, as an mpf at DPS digits (it may exceed every float's range)."""
    with mp.workdps(DPS):
        return mpmath.fsum([v * v for g in grads for v in _vec(g)])


def scale(N: float, c: float, eps: float = 0.0):
    """The clip factor s of the rule: min(1, c/(N + eps)) for eps > 0 [clip.norm.eps.rule]; 1 if N <= c
    else c/N for eps = 0 [clip.norm.rule]. N may be inf (s = 0) or 0 (s = 1, or c/eps)."""
    with mp.workdps(DPS):
        N, c, eps = mpmath.mpf(N), mpmath.mpf(c), mpmath.mpf(eps)
        if eps > 0:
            return min(_ONE, c / (N + eps))
        return _ONE if N <= c else c / N


def clipped(grads, s_per_tensor: list) -> list:
    """g' = s g per tensor, exact product rounded once to float64."""
    with mp.workdps(DPS):
        return [np.array([float(s * v) for v in _vec(g)], np.float64).reshape(np.shape(g))
                for g, s in zip(grads, s_per_tensor)]
