"""The book's figures: computed from the NumPy reference implementations, checked against the derivations.

Conventions (as in the derivations): column vectors, numerator layout ``(dy/dx)[i, j] = dy_i/dx_j``,
Jacobian products latest-left (``dh_t/dh_k = J_t ... J_{k+1}``), ``||.||_2`` the spectral norm, states
1-based with ``h_0 = h0``. Every Jacobian plotted comes from the implementation's hand-written backward
(``rnn_vjp`` / ``lstm_vjp``): a VJP with the cotangent ``e_i`` on the final state returns row ``i`` of
``dh_T/dh_0``; the ``n`` (or ``2n``) unit cotangents run at once as identical batch rows of one B = 1
sequence.

`figure_data` is pure NumPy/mpmath: for each name in `FIGURES` a JSON-ready dict with the plotted series
rounded to 6 significant digits, a ``caption``, the ``derivations`` it illustrates and ``checks``
(``{"statement", "ok", "detail"}``) computed against those derivations. `render` draws the PNGs with
matplotlib (Agg) and writes ``figures.json``; it refuses (RuntimeError) if any check fails.
Deterministic: fixed seeds, no timestamps, PNG metadata without the software version.

Regenerate the committed outputs with
``python -c "from dlproof.book.figures import render; render('reports/figures')"``.
"""
from __future__ import annotations

import io
import json
import math
from pathlib import Path

import mpmath
import numpy as np

from dlproof.impl.numpy_ref import activations, clipping, lstm, rnn

from dlproof.atomic import ensure_dir, write_atomic
from dlproof.parameters import LSTM_GATES

FIGURES = ("rnn_jacobian_decay", "lstm_jacobian_decay", "sigmoid_saturation", "clipping_2d")

LAGS = 40           # lags t - k = 1 .. LAGS (k = 0)
N_STATE, M_IN = 16, 4
RNN_SCALES = (0.5, 1.0, 1.5)
FORGET_BIASES = (-2.0, 0.0, 1.0, 3.0)
DPI = 110


# --- helpers ------------------------------------------------------------------------------------------

def _r(v) -> float:
    """``v`` rounded to 6 significant digits, as a Python float (JSON-stable across BLAS builds)."""
    return float(f"{float(v):.6g}")


def _rl(values) -> list:
    return [_r(v) for v in np.ravel(np.asarray(values, dtype=np.float64))]


def _fmt(v) -> str:
    return f"{float(v):.6g}"


def _f32(v) -> str:
    """A float32 value with enough digits to identify it (9 significant)."""
    return f"{float(v):.9g}"


def _check(statement: str, ok, detail: str) -> dict:
    return {"statement": statement, "ok": bool(ok), "detail": detail}


def _rel(a, b) -> float:
    """Relative Frobenius difference ||a - b|| / max(||b||, tiny)."""
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def _f32_range(lo: float, hi: float) -> np.ndarray:
    """Every float32 in [lo, hi) (0 < lo < hi), in increasing order."""
    a, b = np.float32(lo).view(np.int32), np.float32(hi).view(np.int32)
    return np.arange(a, b, dtype=np.int32).view(np.float32)


# --- 1. RNN: ||dh_t/dh_0||_2 against the proved bound --------------------------------------------------

def _rnn_setup():
    """n = 16, m = 4, B = 1, tanh; W_h = s * (orthogonal + small noise) / its spectral norm."""
    rng = np.random.default_rng(0)
    n, m = N_STATE, M_IN
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    base = q * np.sign(np.diag(r)) + (0.2 / math.sqrt(n)) * rng.standard_normal((n, n))
    base /= np.linalg.norm(base, 2)
    W_x = (0.5 / math.sqrt(m)) * rng.standard_normal((n, m))
    b = 0.1 * rng.standard_normal(n)
    xs = 0.1 * rng.standard_normal((LAGS, 1, m))
    h0 = 0.1 * rng.standard_normal((1, n))
    return base, W_x, b, xs, h0


def rnn_vjp_jacobian(xs, h0, p) -> np.ndarray:
    """dh_T/dh_0 (n, n), T = len(xs), B = 1, from the implementation's backward: row i is the
    h0-cotangent of ``rnn_vjp`` with d_hT = e_i, d_hs = 0 (all n rows as identical batch rows)."""
    T, _, m = xs.shape
    n = h0.shape[1]
    out = rnn.rnn_vjp(np.broadcast_to(xs, (T, n, m)).copy(), np.repeat(h0, n, axis=0), p,
                      np.zeros((T, n, n)), np.eye(n))
    return out["h0"]


def rnn_chain_closed_form(xs, h0, p) -> np.ndarray:
    """J_T ... J_1 with J_i = diag(1 - h_i^2) W_h (rnn.cell.jacobian_h), h_i from ``rnn.rnn``."""
    hs, _ = rnn.rnn(xs, h0, p)
    n = h0.shape[1]
    P = np.eye(n)
    for t in range(xs.shape[0]):
        P = ((1.0 - hs[t, 0] ** 2)[:, None] * p["W_h"]) @ P
    return P


def _rnn_figure() -> dict:
    from dlproof.derivations import oracle_rnn

    base, W_x, b, xs, h0 = _rnn_setup()
    lags = list(range(1, LAGS + 1))
    series, checks_bound, checks_diag = [], [], []
    worst_closed = worst_oracle = 0.0
    for s in RNN_SCALES:
        p = {"W_x": W_x, "W_h": s * base, "b": b}
        w = float(np.linalg.norm(p["W_h"], 2))
        hs, _ = rnn.rnn(xs, h0, p)
        dmax = np.max(1.0 - hs[:, 0, :] ** 2, axis=1)   # ||diag(tanh'(a_i))||_2, i = 1..T
        norms, bound, dbound = [], [], []
        for L in lags:
            J = rnn_vjp_jacobian(xs[:L], h0, p)
            worst_closed = max(worst_closed, _rel(J, rnn_chain_closed_form(xs[:L], h0, p)))
            if L in (1, 2, 10, LAGS):
                worst_oracle = max(worst_oracle, _rel(J, oracle_rnn.rnn_jacobian_chain(xs[:L], h0, p, 0, L)[0]))
            norms.append(float(np.linalg.norm(J, 2)))
            bound.append(w ** L)                            # (gamma ||W_h||_2)^(t-k), gamma = 1
            dbound.append(float(np.prod(dmax[:L])) * w ** L)
        norms, bound, dbound = map(np.asarray, (norms, bound, dbound))
        series.append({"W_h_norm": s, "jacobian_norm": _rl(norms), "bound": _rl(bound), "diag_bound": _rl(dbound)})
        checks_bound.append((s, float(np.max(norms / bound)), bool(np.all(norms <= bound * (1 + 1e-9)))))
        checks_diag.append(bool(np.all(norms <= dbound * (1 + 1e-9))))
    checks = [
        _check("||W_h||_2 equals the target scale s in {0.5, 1, 1.5} (to 1e-12)",
               all(abs(np.linalg.norm(s * base, 2) - s) <= 1e-12 for s in RNN_SCALES),
               "W_h = s * B / ||B||_2, B = QR-orthogonal + 0.2/sqrt(n) Gaussian noise"),
        _check("the VJP Jacobian (rnn_vjp rows with d_hT = e_i) equals the latest-left product J_t ... J_1, "
               "J_i = diag(1 - h_i^2) W_h (rnn.cell.jacobian_h, rnn.bptt.jacobian_product)",
               worst_closed <= 1e-12, f"max relative Frobenius difference <= 1e-12 over {3 * LAGS} Jacobians"),
        _check("the VJP Jacobian equals the proved oracle kernels' chain (derivations.oracle_rnn.rnn_jacobian_chain)",
               worst_oracle <= 1e-12, "max relative Frobenius difference <= 1e-12 at lags 1, 2, 10, 40, all scales"),
    ]
    for (s, ratio, ok) in checks_bound:
        checks.append(_check(f"||W_h||_2 = {s:g}: every ||dh_t/dh_0||_2 <= (gamma ||W_h||_2)^(t-k), gamma = sup|tanh'| = 1 "
                             "(rnn.bptt.norm_bound, act.tanh.gamma)", ok,
                             f"max over lags of norm / bound = {_fmt(ratio)} (tolerance factor 1 + 1e-9)"))
    checks.append(_check("every point also obeys the sharper first inequality prod_i ||diag(tanh'(a_i))||_2 ||W_h||_2 "
                         "(rnn.bptt.norm_bound)", all(checks_diag), "all 3 x 40 points, tolerance factor 1 + 1e-9"))
    big = series[-1]
    return {
        "caption": ("Spectral norm of the tanh RNN Jacobian $\\partial h_t/\\partial h_0$ (n = 16, from the hand-written "
                    "BPTT backward) against the lag for $\\|W_h\\|_2 \\in \\{0.5, 1, 1.5\\}$, with the proved bound "
                    "$(\\gamma\\|W_h\\|_2)^{t-k}$, $\\gamma = 1$, dashed. The bound is nearly tight while tanh stays "
                    f"linear and loose once it saturates: at $\\|W_h\\|_2 = 1.5$ and lag {LAGS} the norm is "
                    f"{_fmt(big['jacobian_norm'][-1])} against a bound of {_fmt(big['bound'][-1])}."),
        "derivations": ["rnn.bptt.norm_bound", "act.tanh.gamma", "rnn.cell.jacobian_h", "rnn.bptt.jacobian_product"],
        "checks": checks,
        "lag": lags,
        "series": series,
        "setup": {"n": N_STATE, "m": M_IN, "B": 1, "k": 0, "activation": "tanh", "seed": 0,
                  "inputs": "x_t ~ 0.1 N(0, 1), h_0 ~ 0.1 N(0, 1), W_x ~ 0.5/sqrt(m) N(0, 1), b ~ 0.1 N(0, 1)"},
    }


# --- 2. LSTM: ||dc_t/dc_0||_2 and the constant error carousel -----------------------------------------

def _lstm_setup():
    """n = 16, m = 4, B = 1; every weight ~ 0.3/sqrt(n) N(0, 1), b_i, b_g, b_o ~ 0.1 N(0, 1); b_f set later."""
    rng = np.random.default_rng(1)
    n, m = N_STATE, M_IN
    scale = 0.3 / math.sqrt(n)
    p = {}
    for g in LSTM_GATES:
        p[f"W_x{g}"] = scale * rng.standard_normal((n, m))
        p[f"W_h{g}"] = scale * rng.standard_normal((n, n))
        p[f"b_{g}"] = 0.1 * rng.standard_normal(n)
    xs = rng.standard_normal((LAGS, 1, m))
    h0 = 0.1 * rng.standard_normal((1, n))
    c0 = 0.1 * rng.standard_normal((1, n))
    return p, xs, h0, c0


def lstm_vjp_state_jacobian(xs, h0, c0, p) -> np.ndarray:
    """d(h_T, c_T)/d(h_0, c_0) (2n, 2n), state order (h, c), from ``lstm_vjp``: row r is the (h0, c0)
    cotangent for the unit cotangent e_r on (h_T, c_T) (all 2n rows as identical batch rows)."""
    T, _, m = xs.shape
    n = h0.shape[1]
    E = np.eye(2 * n)
    out = lstm.lstm_vjp(np.broadcast_to(xs, (T, 2 * n, m)).copy(), np.repeat(h0, 2 * n, axis=0),
                        np.repeat(c0, 2 * n, axis=0), p, np.zeros((T, 2 * n, n)), E[:, :n].copy(), E[:, n:].copy())
    return np.hstack([out["h0"], out["c0"]])


def _forget_gates(xs, h0, c0, p) -> np.ndarray:
    """f_t = sigma(W_xf x_t + W_hf h_{t-1} + b_f), t = 1..T, (T, n), with h_t from ``lstm.lstm``."""
    hs, _ = lstm.lstm(xs, h0, c0, p)
    h_prev = np.concatenate([h0[None], hs[:-1]])[:, 0, :]
    return activations.sigmoid(xs[:, 0, :] @ p["W_xf"].T + h_prev @ p["W_hf"].T + p["b_f"])


def _lstm_figure() -> dict:
    from dlproof.derivations import oracle_lstm

    base, xs, h0, c0 = _lstm_setup()
    n = N_STATE
    lags = list(range(1, LAGS + 1))
    series = []
    worst_oracle = worst_cec = 0.0
    gates_in_range = True
    for bf in FORGET_BIASES:
        p = dict(base, b_f=np.full(n, bf))
        f = _forget_gates(xs, h0, c0, p)
        gates_in_range &= bool(np.all((f > 0) & (f < 1)))
        cc, full, cec = [], [], []
        for L in lags:
            S = lstm_vjp_state_jacobian(xs[:L], h0, c0, p)
            if L in (1, 2, 10, LAGS):
                worst_oracle = max(worst_oracle, _rel(S, oracle_lstm.lstm_chain(xs[:L], h0, c0, p, 0, L)[0]))
            cc.append(np.linalg.norm(S[n:, n:], 2))
            full.append(np.linalg.norm(S, 2))
            cec.append(np.max(np.prod(f[:L], axis=0)))   # ||diag(prod_i f_i)||_2, the path along c alone
        # lstm.cec.product in the implementation: with every W_h* = 0 the gates do not depend on h, so the
        # total dc_T/dc_0 is the carousel diag(prod f) and dh_T/dh_0 = 0
        p0 = dict(p, **{f"W_h{g}": np.zeros((n, n)) for g in LSTM_GATES})
        S0 = lstm_vjp_state_jacobian(xs, h0, c0, p0)
        f0 = _forget_gates(xs, h0, c0, p0)
        worst_cec = max(worst_cec, _rel(S0[n:, n:], np.diag(np.prod(f0, axis=0))), float(np.max(np.abs(S0[:n, :n]))))
        ref = activations.sigmoid(np.float64(bf)) ** np.asarray(lags, dtype=np.float64)
        series.append({"b_f": bf, "sigma_b_f": _r(activations.sigmoid(np.float64(bf))),
                       "dc_dc_norm": _rl(cc), "state_norm": _rl(full), "cec_path_norm": _rl(cec),
                       "cec_reference": _rl(ref)})
    by_bf = {s["b_f"]: s for s in series}
    low, high = by_bf[-2.0]["dc_dc_norm"][-1], by_bf[3.0]["dc_dc_norm"][-1]
    checks = [
        _check("the VJP state Jacobian d(h_t, c_t)/d(h_0, c_0) (lstm_vjp rows with unit cotangents) equals the "
               "latest-left product S_t ... S_1 of the proved oracle kernels (lstm.state.chain, oracle_lstm.lstm_chain)",
               worst_oracle <= 1e-10, "max relative Frobenius difference <= 1e-10 at lags 1, 2, 10, 40, every b_f"),
        _check("with every W_h* = 0 the implementation's dc_40/dc_0 is the carousel diag(prod_i f_i) and dh_40/dh_0 = 0 "
               "(lstm.cec.product)", worst_cec <= 1e-12, "max relative difference <= 1e-12, every b_f"),
        _check("every forget gate of the four runs lies in (0, 1) (lstm.gates.range)", gates_in_range,
               f"{len(FORGET_BIASES)} runs x {LAGS} steps x {n} units"),
        _check("gates in (0, 1) do not stop vanishing: b_f = -2 gives ||dc_40/dc_0||_2 < 1e-12 "
               "(lstm.claim.gates_no_vanishing refuted)", low < 1e-12,
               f"||dc_40/dc_0||_2 = {_fmt(low)}; sigma(-2)^40 = {_fmt(activations.sigmoid(-2.0) ** LAGS)}"),
        _check("an open forget gate carries the gradient: b_f = 3 gives ||dc_40/dc_0||_2 > 1e-3", high > 1e-3,
               f"||dc_40/dc_0||_2 = {_fmt(high)}; sigma(3)^40 = {_fmt(activations.sigmoid(3.0) ** LAGS)}"),
    ]
    return {
        "caption": ("Spectral norm of the total LSTM Jacobian $\\partial c_t/\\partial c_0$ (n = 16, the c-block of the "
                    "state chain, from the hand-written backward) against the lag for forget-gate biases "
                    "$b_f \\in \\{-2, 0, 1, 3\\}$; dashed: the carousel reference $\\sigma(b_f)^{t-k}$, dotted: the path along c "
                    "alone. Gates in (0, 1) do not prevent vanishing (b_f = -2); with f near 1 the gradient survives, and "
                    f"the paths through h even lift it above the carousel (b_f = 3: {_fmt(high)} at lag {LAGS})."),
        "derivations": ["lstm.cec.product", "lstm.state.chain", "lstm.claim.gates_no_vanishing", "lstm.gates.range"],
        "checks": checks,
        "lag": lags,
        "series": series,
        "setup": {"n": N_STATE, "m": M_IN, "B": 1, "k": 0, "seed": 1,
                  "inputs": "x_t ~ N(0, 1), h_0, c_0 ~ 0.1 N(0, 1), W_x*, W_h* ~ 0.3/sqrt(n) N(0, 1), "
                            "b_i, b_g, b_o ~ 0.1 N(0, 1), b_f constant"},
    }


# --- 3. sigmoid saturation in float32 / float64 -------------------------------------------------------

def _exact_sigmoid(xs, upper: bool) -> list:
    """1 - sigma(x) (``upper``) or sigma(x), with mpmath at 50 digits, as mpf values."""
    with mpmath.workdps(50):
        if upper:
            return [1 / (1 + mpmath.exp(mpmath.mpf(float(x)))) for x in xs]
        return [1 / (1 + mpmath.exp(-mpmath.mpf(float(x)))) for x in xs]


def _first(mask: np.ndarray, what: str) -> int:
    """Index of the first True after which every entry is True; it must lie strictly inside the scan."""
    bad = np.flatnonzero(~mask)
    if not mask.size or not mask[-1] or not bad.size:
        raise RuntimeError(f"figure 'sigmoid_saturation': {what} is not inside the scanned range")
    return int(bad[-1] + 1)


def _sigmoid_figure() -> dict:
    sig = activations.sigmoid
    ln = math.log
    # the plotted grids (float64 x; the float32 series evaluate at float32(x))
    xu = np.linspace(0.0, 40.0, 801)
    xl = np.linspace(-120.0, 0.0, 601)
    xu32, xl32 = xu.astype(np.float32), xl.astype(np.float32)
    ex_u, ex_l = _exact_sigmoid(xu, True), _exact_sigmoid(xl, False)
    up64, up32 = 1.0 - sig(xu), np.float32(1.0) - sig(xu32)   # exact subtractions (Sterbenz: sigma >= 1/2)
    lo64, lo32 = sig(xl), sig(xl32)
    with np.errstate(under="ignore"):
        e = np.exp(xl32)
        text32 = e / (np.float32(1.0) + e)                       # the textbook e^x / (1 + e^x), for contrast
    inside = all(0 < v < 1 for v in ex_u) and all(0 < v < 1 for v in ex_l)

    # measured float32 threshold over every float32 in [16, 20), then constant 1 on the grid up to 40
    x32 = _f32_range(16.0, 20.0)
    s32 = sig(x32)
    i = _first(s32 == np.float32(1.0), "the float32 saturation at 1")
    thr32, pred32 = float(x32[i]), float(x32[i - 1])
    ones_beyond = bool(np.all(sig(xu32[xu32 >= 20]) == 1.0))
    # error model, u = 2^-24: sigma = 0.5 (1 + t), t = fl(tanh(x/2)) (0.5 x and 0.5 * exact). 1 + t rounds to 2
    # iff t >= 1 - 2^-24 (2 - 2^-24 ties to even, i.e. to 2). tanh(x/2) = 1 - 2/(e^x + 1), so:
    #   correctly rounded t: t >= 1 - 2^-24  iff  tanh > 1 - 3 * 2^-25  iff  x > ln(2^26/3 - 1)
    #   faithful t (|error| < 1 ulp = 2^-24): certain once tanh >= 1 - 2^-24 (x >= ln(2^25 - 1)),
    #   impossible while tanh < 1 - 2^-23 (x < ln(2^24 - 1)).
    lo_b, hi_b, cr_tanh = ln(2 ** 24 - 1), ln(2 ** 25 - 1), ln(2 ** 26 / 3 - 1)
    t_at, t_before = np.tanh(np.float32(0.5) * x32[i]), np.tanh(np.float32(0.5) * x32[i - 1])
    chain_ok = bool(t_at >= np.float32(1 - 2.0 ** -24) and t_before <= np.float32(1 - 2.0 ** -23)
                    and np.float32(1.0) + np.float32(1 - 2.0 ** -24) == np.float32(2.0))
    y32 = _f32_range(7.5, 10.0)
    tanh_err = float(np.max(np.abs(np.tanh(y32).astype(np.float64) - np.tanh(y32.astype(np.float64)))) / 2.0 ** -24)
    # lower tail: 1 + t is exact (Sterbenz) and a multiple of 2^-24 for t in [-1, -1/2], so the float32 output
    # is 0 or >= 2^-25: never subnormal. Faithful t = -1 needs 1 + tanh(x/2) < 2^-24, i.e. x < -ln(2^25 - 1).
    xn = -_f32_range(16.0, 24.0)
    sn = sig(xn)
    j = _first(sn == 0, "the float32 zero of the lower tail")
    zero32 = float(xn[j])
    min_pos32 = float(np.min(sn[sn > 0]))
    # float64 (u = 2^-53): the same model gives the bracket [ln(2^53 - 1), ln(2^54 - 1)]; measured on a 2^-16 grid
    x64 = 36.0 + np.arange(4 * 2 ** 16 + 1) * 2.0 ** -16   # [36, 40]
    k = _first(sig(x64) == 1.0, "the float64 saturation at 1")
    thr64 = float(x64[k])
    zero64 = float(-x64[_first(sig(-x64) == 0.0, "the float64 zero of the lower tail")])
    # the correctly rounded sigma of lstm.gates.range: smallest float32 with fl32(sigma) = 1 is 9085219/2^19
    with mpmath.workdps(50):
        half = mpmath.mpf(2) ** -25
        a, bprev = mpmath.mpf(9085219) / 2 ** 19, mpmath.mpf(4542609) / 2 ** 18
        cr_ok = (1 / (1 + mpmath.exp(a)) <= half) and (1 / (1 + mpmath.exp(bprev)) > half) \
            and float(np.nextafter(np.float32(float(a)), np.float32(0))) == float(bprev)
    # the textbook form: subnormal (0 < v < 2^-126) somewhere, zero only below ln 2^-149
    sub = (text32 > 0) & (text32 < np.float32(2.0 ** -126))
    text_zero_ok = bool(np.all(xl32[text32 == 0] < ln(2.0 ** -149)))
    # a correctly rounded tanh (error <= 1/2 ulp) pins the threshold to the first float32 above ln(2^26/3 - 1)
    cr32 = np.float32(cr_tanh)
    cr32 = float(cr32 if float(cr32) > cr_tanh else np.nextafter(cr32, np.float32(np.inf)))
    sharp_ok = thr32 == cr32 if tanh_err <= 0.5 + 1e-6 else True
    checks = [
        _check("the exact sigma (mpmath, 50 digits) lies strictly inside (0, 1) at every plotted x (act.sigmoid.range)",
               inside, f"{len(xu) + len(xl)} points, x in [-120, 40]; smallest 1 - sigma = {_fmt(min(ex_u))}, "
                       f"smallest sigma = {_fmt(min(ex_l))}"),
        _check("float32: the implementation 0.5 (1 + tanh(x/2)) rounds to exactly 1.0 from the measured threshold on, "
               "inside the error-model bracket [ln(2^24 - 1), ln(2^25 - 1)] for a faithful float32 tanh (u = 2^-24) "
               "(lstm.gates.range)",
               lo_b <= thr32 <= hi_b and ones_beyond and sharp_ok,
               f"measured first float32 x with sigma == 1.0: {_f32(thr32)} (its predecessor {_f32(pred32)} gives "
               f"1 - {_fmt((1 - float(sig(np.float32(pred32)))) * 2 ** 24)} * 2^-24); "
               f"bracket [{_fmt(lo_b)}, {_fmt(hi_b)}]; a correctly rounded tanh would "
               f"give the first float32 above ln(2^26/3 - 1) = {_fmt(cr_tanh)}, i.e. {_f32(cr32)} (required when the "
               f"measured tanh error is <= 1/2 ulp), a correctly rounded sigma ln(2^25 - 1) = {_fmt(hi_b)}, "
               f"the naive 1/(1 + exp(-x)) 24 ln 2 = {_fmt(24 * ln(2))}"),
        _check("the rounding chain at the threshold: fl(tanh(x/2)) >= 1 - 2^-24 there and <= 1 - 2^-23 just before, "
               "and 1 + (1 - 2^-24) rounds to 2.0 in float32 (tie to even)", chain_ok,
               f"fl(tanh(x/2)) = 1 - {_fmt((1 - float(t_at)) * 2 ** 24)} * 2^-24 at x = {_f32(thr32)}, "
               f"1 - {_fmt((1 - float(t_before)) * 2 ** 24)} * 2^-24 at its predecessor"),
        _check("numpy's float32 tanh is faithful (error < 1 ulp) on [7.5, 10], as the bracket assumes (the sharp "
               "prediction needs <= 1/2 ulp)", tanh_err < 1.0,
               f"max |fl32 tanh - tanh| = {tanh_err:.3f} ulp (2^-24) against float64 tanh"),
        _check("float32 lower tail: the output is 0 or >= 2^-25 (1 + fl(tanh) is exact, a multiple of 2^-24: no "
               "subnormals), and 0 only below -ln(2^25 - 1)",
               min_pos32 == 2.0 ** -25 and zero32 < -hi_b,
               f"smallest positive float32 output {_fmt(min_pos32)} = 2^-25; first zero at x = {_f32(zero32)} "
               f"(model: not above {_fmt(-hi_b)}); the exact sigma there is {_fmt(_exact_sigmoid([zero32], False)[0])}"),
        _check("float64 (u = 2^-53): sigma == 1.0 from inside [ln(2^53 - 1), ln(2^54 - 1)], 0 only below -ln(2^54 - 1)",
               ln(2 ** 53 - 1) <= thr64 <= ln(2 ** 54 - 1) and zero64 < -ln(2 ** 54 - 1),
               f"measured (2^-16 grid): 1.0 from x = {_fmt(thr64)}, 0 from x = {_fmt(zero64)}; bracket "
               f"[{_fmt(ln(2 ** 53 - 1))}, {_fmt(ln(2 ** 54 - 1))}]"),
        _check("lstm.gates.range's constant: 9085219/2^19 is the smallest float32 whose exact sigma rounds to 1.0",
               cr_ok, "sigma(9085219/2^19) >= 1 - 2^-25 > sigma(4542609/2^18), its float32 predecessor (mpmath)"),
        _check("contrast: the textbook float32 e^x/(1 + e^x) does reach subnormals and is 0 only below ln 2^-149",
               bool(np.any(sub)) and text_zero_ok,
               f"subnormal on the grid for x in [{_fmt(xl[sub].min())}, {_fmt(xl[sub].max())}]; "
               f"ln 2^-126 = {_fmt(-126 * ln(2))}, ln 2^-149 = {_fmt(-149 * ln(2))}"),
    ]
    return {
        "caption": ("Left: $1 - \\sigma(x)$ from the implementation $\\sigma(x) = (1 + \\tanh(x/2))/2$ in float32 and "
                    "float64 and exactly (mpmath, 50 digits); float32 returns exactly 1.0 from x = "
                    f"{_f32(thr32)} (error-model bracket [{lo_b:.4f}, {hi_b:.4f}]) and float64 from x ~ {_fmt(thr64)}, "
                    "while the exact value stays in (0, 1). Right: the "
                    "lower tail $\\sigma(x)$; the tanh form cancels to exactly 0 (float32 from x = "
                    f"{_f32(zero32)} down) without passing through subnormals, unlike the textbook $e^x/(1+e^x)$."),
        "derivations": ["act.sigmoid.range", "lstm.gates.range"],
        "checks": checks,
        "upper": {"x": _rl(xu), "exact": _rl([float(v) for v in ex_u]), "float64": _rl(up64), "float32": _rl(up32)},
        "lower": {"x": _rl(xl), "exact": _rl([float(v) for v in ex_l]), "float64": _rl(lo64), "float32": _rl(lo32),
                  "textbook_float32": _rl(text32)},
        "thresholds": {"float32_one": thr32, "float32_one_bracket": [_r(lo_b), _r(hi_b)],
                       "float32_one_correct_tanh": _r(cr_tanh), "float32_one_correct_sigma": _r(hi_b),
                       "float32_zero": zero32, "float32_min_positive": _r(min_pos32),
                       "float64_one": _r(thr64), "float64_one_bracket": [_r(ln(2 ** 53 - 1)), _r(ln(2 ** 54 - 1))],
                       "float64_zero": _r(zero64)},
    }


# --- 4. clipping in 2-D --------------------------------------------------------------------------------

def _clip_vectors() -> np.ndarray:
    """11 vectors with norms 0.5 .. 4 at angles 10 + 33 k degrees, plus the refutation point (2, 1/2)."""
    norms = np.linspace(0.5, 4.0, 11)
    ang = np.deg2rad(10.0 + 33.0 * np.arange(11))
    return np.vstack([np.column_stack([norms * np.cos(ang), norms * np.sin(ang)]), [[2.0, 0.5]]])


def _clipping_figure() -> dict:
    G = _clip_vectors()
    c = v = 1.0
    by_norm, by_value, pre = [], [], []
    for g in G:
        (gn,), N = clipping.clip_grad_norm([g], c)
        (gv,) = clipping.clip_grad_value([g], v)
        by_norm.append(gn)
        by_value.append(gv)
        pre.append(N)
    by_norm, by_value = np.array(by_norm), np.array(by_value)
    norms = np.linalg.norm(G, axis=1)
    cos_n = np.sum(by_norm * G, axis=1) / (np.linalg.norm(by_norm, axis=1) * norms)
    cos_v = np.sum(by_value * G, axis=1) / (np.linalg.norm(by_value, axis=1) * norms)
    checks = [
        _check("norm clipping keeps the direction: cosine(g', g) = 1 within 1e-12 (clip.norm.direction)",
               bool(np.all(np.abs(cos_n - 1) <= 1e-12)), f"{len(G)} vectors, c = {c:g}"),
        _check("the norm-clipped norm is min(||g||, c) within 1e-12 (clip.norm.norm); the returned pre-clip norm is ||g||",
               bool(np.all(np.abs(np.linalg.norm(by_norm, axis=1) - np.minimum(norms, c)) <= 1e-12)
                    and np.allclose(pre, norms, rtol=1e-15, atol=0)), f"norms {_fmt(norms.min())} .. {_fmt(norms.max())}"),
        _check("value clipping bends the direction: some cosine(g', g) < 0.99 (clip.value.not_direction)",
               bool(np.min(cos_v) < 0.99), f"smallest cosine {_fmt(np.min(cos_v))}; every |g'_i| <= v: "
                                           f"{bool(np.all(np.abs(by_value) <= v))}"),
        _check("the refutation point: clip_grad_value((2, 1/2), 1) = (1, 1/2) exactly, not parallel to (2, 1/2)",
               bool(np.array_equal(by_value[-1], [1.0, 0.5])), f"cosine {_fmt(cos_v[-1])}"),
        _check("every value-clipped entry lies in [-v, v] and vectors inside both regions are unchanged by both rules",
               bool(np.all(np.abs(by_value) <= v) and np.array_equal(by_norm[norms <= c], G[norms <= c])
                    and np.array_equal(by_value[np.all(np.abs(G) <= v, axis=1)], G[np.all(np.abs(G) <= v, axis=1)])),
               f"{int(np.sum(norms <= c))} vector(s) with ||g|| <= c"),
    ]
    return {
        "caption": ("Twelve 2-D gradients (grey) and their clipped versions: by norm with c = 1 (left; "
                    "$g' = g\\,\\min(1, c/\\|g\\|)$, the direction is kept) and by value with v = 1 (right; "
                    "$g'_i = \\mathrm{clip}(g_i, -v, v)$, the direction bends toward a corner of the square)."),
        "derivations": ["clip.norm.direction", "clip.norm.norm", "clip.value.not_direction"],
        "checks": checks,
        "g": [_rl(g) for g in G], "by_norm": [_rl(g) for g in by_norm], "by_value": [_rl(g) for g in by_value],
        "cos_norm": _rl(cos_n), "cos_value": _rl(cos_v), "c": c, "v": v,
    }


def figure_data() -> dict:
    """{name: {series..., "caption", "derivations", "checks"}} for every name in FIGURES (pure NumPy/mpmath)."""
    build = {"rnn_jacobian_decay": _rnn_figure, "lstm_jacobian_decay": _lstm_figure,
             "sigmoid_saturation": _sigmoid_figure, "clipping_2d": _clipping_figure}
    return {name: build[name]() for name in FIGURES}


# --- drawing -------------------------------------------------------------------------------------------

def _nan0(values):
    """Zeros to NaN, so a log axis leaves a gap where a float result is exactly 0."""
    a = np.asarray(values, dtype=np.float64)
    return np.where(a > 0, a, np.nan)


def _draw_rnn(fig, d):
    ax = fig.add_subplot(1, 1, 1)
    lag = d["lag"]
    for k, s in enumerate(d["series"]):
        col = f"C{k}"
        ax.semilogy(lag, s["jacobian_norm"], "-o", color=col, ms=3, lw=1.6,
                    label=f"$\\|\\partial h_t/\\partial h_0\\|_2$, $\\|W_h\\|_2 = {s['W_h_norm']:g}$")
        ax.semilogy(lag, s["bound"], "--", color=col, lw=1.2, label=f"bound ${s['W_h_norm']:g}^{{t-k}}$")
        ax.semilogy(lag, s["diag_bound"], ":", color=col, lw=1.0)
    ax.plot([], [], ":", color="0.3", label="$\\prod_i \\|\\mathrm{diag}(\\tanh'(a_i))\\|_2\\,\\|W_h\\|_2$")
    ax.set_xlabel("lag $t-k$ (k = 0)")
    ax.set_ylabel("spectral norm (log scale)")
    ax.set_title("tanh RNN (n = 16): Jacobian norm from the BPTT backward vs the proved bound $(\\gamma\\|W_h\\|_2)^{t-k}$, $\\gamma=1$",
                 fontsize=9.5)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7.5, ncol=2, loc="lower left")


def _draw_lstm(fig, d):
    ax = fig.add_subplot(1, 1, 1)
    lag = d["lag"]
    for k, s in enumerate(d["series"]):
        col = f"C{k}"
        ax.semilogy(lag, s["dc_dc_norm"], "-o", color=col, ms=3, lw=1.6,
                    label=f"$b_f = {s['b_f']:g}$: $\\|\\partial c_t/\\partial c_0\\|_2$ (total)")
        ax.semilogy(lag, s["cec_reference"], "--", color=col, lw=1.2,
                    label=f"$\\sigma({s['b_f']:g})^{{t-k}} = {s['sigma_b_f']:.4g}^{{t-k}}$")
        ax.semilogy(lag, s["cec_path_norm"], ":", color=col, lw=1.0)
    ax.plot([], [], ":", color="0.3", label="carousel path only: $\\max_j \\prod_i f_{i,j}$")
    ax.set_xlabel("lag $t-k$ (k = 0)")
    ax.set_ylabel("spectral norm (log scale)")
    ax.set_title("LSTM (n = 16): cell-state Jacobian from the BPTT backward vs the carousel $\\sigma(b_f)^{t-k}$",
                 fontsize=9.5)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="lower left")


def _draw_sigmoid(fig, d):
    up, lo, th = d["upper"], d["lower"], d["thresholds"]
    ax = fig.add_subplot(1, 2, 1)
    ax.semilogy(up["x"], _nan0(up["exact"]), "-", color="k", lw=2.2, alpha=0.35, label="exact (mpmath, 50 digits)")
    ax.semilogy(up["x"], _nan0(up["float64"]), "-", color="C0", lw=1.2, label="float64 implementation")
    ax.semilogy(up["x"], _nan0(up["float32"]), "-", color="C3", lw=1.2, label="float32 implementation")
    ax.axvline(th["float32_one"], color="C3", ls="--", lw=1)
    ax.axvline(th["float64_one"], color="C0", ls="--", lw=1)
    ax.axhline(2.0 ** -25, color="C3", ls=":", lw=1)
    ax.text(th["float32_one"] + 0.4, 1e-3, f"float32: $\\sigma$ == 1.0\nfor x $\\geq$ {th['float32_one']:.6g}", color="C3",
            fontsize=8)
    ax.text(th["float64_one"] - 0.4, 1e-10, f"float64: $\\sigma$ == 1.0\nfor x $\\geq$ {th['float64_one']:.6g}",
            color="C0", fontsize=8, ha="right")
    ax.text(0.5, 2.0 ** -25 * 0.25, "$2^{-25}$ (half an ulp below 1)", color="C3", fontsize=7.5, va="top")
    ax.set_xlabel("x")
    ax.set_ylabel("$1 - \\sigma(x)$ (log scale; gaps = exactly 0)")
    ax.set_title("upper tail: $\\sigma(x)$ rounds to exactly 1", fontsize=10)
    ax.set_ylim(1e-19, 2)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7.5, loc="lower left")

    ax = fig.add_subplot(1, 2, 2)
    ax.axhspan(2.0 ** -149, 2.0 ** -126, color="0.85", label="float32 subnormals")
    ax.semilogy(lo["x"], _nan0(lo["exact"]), "-", color="k", lw=2.2, alpha=0.35, label="exact (mpmath)")
    ax.semilogy(lo["x"], _nan0(lo["textbook_float32"]), ":", color="C2", lw=2.0,
                label="textbook $e^x/(1+e^x)$, float32")
    ax.semilogy(lo["x"], _nan0(lo["float64"]), "-", color="C0", lw=1.4, label="float64 implementation")
    ax.semilogy(lo["x"], _nan0(lo["float32"]), "-", color="C3", lw=1.4, label="float32 implementation")
    ax.axhline(th["float32_min_positive"], color="C3", ls=":", lw=1)
    ax.text(-119, th["float32_min_positive"] * 30, "$2^{-25}$: smallest positive float32 output", color="C3", fontsize=7.5)
    ax.axvline(th["float32_zero"], color="C3", ls="--", lw=1)
    ax.axvline(th["float64_zero"], color="C0", ls="--", lw=1)
    ax.text(th["float32_zero"] + 1, 1e-50, f"float32: 0 for\nx $\\leq$ {th['float32_zero']:.6g}", color="C3", fontsize=8)
    ax.text(th["float64_zero"] - 1, 1e-50, f"float64: 0 for\nx $\\leq$ {th['float64_zero']:.6g}", color="C0", fontsize=8,
            ha="right")
    ax.set_xlabel("x")
    ax.set_ylabel("$\\sigma(x)$ (log scale; gaps = exactly 0)")
    ax.set_title("lower tail: $(1 + \\tanh(x/2))/2$ cancels to 0", fontsize=10)
    ax.set_ylim(1e-55, 2)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7.5, loc="center right")


def _draw_clipping(fig, d):
    G = np.asarray(d["g"])
    for k, (key, title) in enumerate((("by_norm", f"clip by norm, c = {d['c']:g}: direction kept"),
                                      ("by_value", f"clip by value, v = {d['v']:g}: direction bends"))):
        ax = fig.add_subplot(1, 2, k + 1)
        C = np.asarray(d[key])
        if key == "by_norm":
            t = np.linspace(0, 2 * np.pi, 361)
            ax.plot(d["c"] * np.cos(t), d["c"] * np.sin(t), "-", color="C1", lw=1, label="$\\|g\\| = c$")
        else:
            v = d["v"]
            ax.plot([-v, v, v, -v, -v], [-v, -v, v, v, -v], "-", color="C1", lw=1, label="$|g_i| = v$")
        for g, c in zip(G, C):
            ax.annotate("", xy=g, xytext=(0, 0), arrowprops=dict(arrowstyle="->", color="0.6", lw=1.1))
            ax.annotate("", xy=c, xytext=(0, 0), arrowprops=dict(arrowstyle="->", color="C0", lw=1.6))
        ax.plot([], [], "-", color="0.6", label="original $g$")
        ax.plot([], [], "-", color="C0", label="clipped $g'$")
        g, c = G[-1], C[-1]
        ax.annotate("(2, 1/2)", xy=g, xytext=(g[0] + 0.15, g[1] - 0.45), fontsize=8, color="0.35")
        ax.set_aspect("equal")
        ax.set_xlim(-4.3, 4.3)
        ax.set_ylim(-4.3, 4.3)
        ax.grid(True, alpha=0.3)
        ax.set_xlabel("$g_1$")
        ax.set_ylabel("$g_2$")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7.5, loc="lower left")


_DRAW = {"rnn_jacobian_decay": (_draw_rnn, (8.0, 5.0)), "lstm_jacobian_decay": (_draw_lstm, (8.0, 5.0)),
         "sigmoid_saturation": (_draw_sigmoid, (11.0, 4.6)), "clipping_2d": (_draw_clipping, (10.0, 5.0))}


def render(outdir) -> dict:
    """Draw every figure to ``outdir/<name>.png`` and write ``outdir/figures.json``; return the manifest
    {name: {"png", "caption", "derivations", "checks"}}. Raises RuntimeError (naming the figure and the
    failed statements) before writing anything if a check is not ok."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    data = figure_data()
    for name in FIGURES:
        bad = [c["statement"] for c in data[name]["checks"] if not c["ok"]]
        if bad:
            raise RuntimeError(f"figure {name!r}: check(s) failed: " + "; ".join(bad))
    out = ensure_dir(outdir)
    manifest = {}
    for name in FIGURES:
        draw, size = _DRAW[name]
        fig = Figure(figsize=size, dpi=DPI)
        FigureCanvasAgg(fig)
        draw(fig, data[name])
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
        write_atomic(Path(out) / f"{name}.png", buf.getvalue())
        d = data[name]
        manifest[name] = {"png": f"{name}.png", "caption": d["caption"], "derivations": list(d["derivations"]),
                          "checks": d["checks"]}
    write_atomic(Path(out) / "figures.json", figures_json(data))
    return manifest


def figures_json(data=None) -> str:
    """The text of figures.json: ``json.dumps(figure_data(), indent=1, sort_keys=True) + "\\n"``."""
    return json.dumps(figure_data() if data is None else data, indent=1, sort_keys=True) + "\n"


__all__ = ["FIGURES", "figure_data", "render", "figures_json", "rnn_vjp_jacobian", "rnn_chain_closed_form",
           "lstm_vjp_state_jacobian"]
