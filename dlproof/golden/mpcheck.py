"""The golden vectors' 50-digit cross-check: the cell formulas written out directly with mpmath, not via the
oracles. Forward and clipping cases are compared entry by entry; a VJP case by a directional derivative
(``<oracle gradients, v>`` against a 50-digit central difference of L along a random direction v).
`mpmath_check` refuses (RuntimeError) when the float64 oracle is off by more than 1e-13 (forward) or 1e-12
(VJP), and returns the worst deviations for the manifest.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .cases import Case, rng_for

MP_DIGITS = 50


def _mp():
    import mpmath

    return mpmath


def _mpv(a) -> Any:
    """float64 array -> nested lists of mpf (exact conversion)."""
    mp = _mp()
    a = np.asarray(a, np.float64)
    if a.ndim == 0:
        return mp.mpf(float(a))
    return [_mpv(r) for r in a]


def _mp_affine(Wx, Wh, b, x, h):
    mp = _mp()
    return [mp.fsum([Wx[i][j] * x[j] for j in range(len(x))] + [Wh[i][j] * h[j] for j in range(len(h))]) + b[i]
            for i in range(len(b))]


def _mp_sig(a):
    mp = _mp()
    return 1 / (1 + mp.exp(-a))


def _mp_rnn_cell(x, h, p, act):
    mp = _mp()
    a = _mp_affine(p["W_x"], p["W_h"], p["b"], x, h)
    return [mp.tanh(v) if act == "tanh" else (v if v > 0 else mp.mpf(0)) for v in a]


def _mp_gru_cell(x, h, p, variant):
    mp = _mp()
    n = len(h)
    zero = [mp.mpf(0)] * n
    r = [_mp_sig(v) for v in _mp_affine(p["W_xr"], p["W_hr"], p["b_r"], x, h)]
    z = [_mp_sig(v) for v in _mp_affine(p["W_xz"], p["W_hz"], p["b_z"], x, h)]
    ax = _mp_affine(p["W_xn"], [[0] * n] * n, p["b_xn"], x, zero)
    if variant == "reset_after":
        u = _mp_affine([[0] * len(x)] * n, p["W_hn"], p["b_hn"], x, h)
        a = [ax[k] + r[k] * u[k] for k in range(n)]
    else:
        rh = [r[k] * h[k] for k in range(n)]
        u = _mp_affine([[0] * len(x)] * n, p["W_hn"], p["b_hn"], x, rh)
        a = [ax[k] + u[k] for k in range(n)]
    cand = [mp.tanh(v) for v in a]
    return [z[k] * h[k] + (1 - z[k]) * cand[k] for k in range(n)]


def _mp_step(kind, var):
    if kind == "rnn":
        return lambda x, s, p: [_mp_rnn_cell(x, s[0], p, var)]
    if kind == "gru":
        return lambda x, s, p: [_mp_gru_cell(x, s[0], p, var)]
    from dlproof.derivations import mp_cells

    return lambda x, s, p: list(mp_cells.lstm_cell(x, s[0], s[1], p))


def _mp_run(kind, var, xs, states, p):
    """Per batch row: xs (T, m), states [h] or [h, c] -> (hs (T, n), final states)."""
    step = _mp_step(kind, var)
    hs = []
    for x in xs:
        states = step(x, states, p)
        hs.append(states[0])
    return hs, states


def _kind_var(case: Case):
    kind = case.capability.split("_")[0]
    var = case.conventions.get("rnn_activation") or case.conventions.get("gru")
    return kind, var


def _mp_params(inputs, prefix):
    return {k[len(prefix) + 1:]: (v if isinstance(v, list) else _mpv(v))
            for k, v in inputs.items() if k.startswith(prefix + ".")}


def _mp_forward_outputs(case: Case, inputs: dict) -> dict:
    """The forward case's outputs at 50 digits, as {name: nested mpf lists}; inputs may hold mpf lists."""
    kind, var = _kind_var(case)
    cap = case.capability
    lstm = kind == "lstm"
    get = (lambda k: inputs[k] if isinstance(inputs[k], list) else _mpv(inputs[k]))
    if cap.endswith("_cell"):
        p = _mp_params(inputs, "p")
        x, h = get("x"), get("h")
        c = get("c") if lstm else None
        outs = [_mp_step(kind, var)(x[b], [h[b]] + ([c[b]] if lstm else []), p) for b in range(len(x))]
        res = {"out.h": [o[0] for o in outs]}
        if lstm:
            res["out.c"] = [o[1] for o in outs]
        return res
    if cap.endswith("_bi"):
        xs = get("xs")
        B = len(xs[0])
        res = {"out.ys": [[None] * B for _ in xs]}
        for d in ("f", "b"):
            p = _mp_params(inputs, f"p_{d}")
            h0 = get(f"h0_{d}")
            c0 = get(f"c0_{d}") if lstm else None
            finals = []
            for b in range(B):
                seq = [xs[t][b] for t in range(len(xs))]
                if d == "b":
                    seq = seq[::-1]
                hs, st = _mp_run(kind, var, seq, [h0[b]] + ([c0[b]] if lstm else []), p)
                if d == "b":
                    hs = hs[::-1]
                for t in range(len(xs)):
                    prev = res["out.ys"][t][b] or []
                    res["out.ys"][t][b] = prev + hs[t]
                finals.append(st)
            res[f"out.h_{d}"] = [s[0] for s in finals]
            if lstm:
                res[f"out.c_{d}"] = [s[1] for s in finals]
        return res
    # a sequence
    p = _mp_params(inputs, "p")
    xs, h0 = get("xs"), get("h0")
    c0 = get("c0") if lstm else None
    T, B = len(xs), len(xs[0])
    res = {"out.hs": [[None] * B for _ in range(T)], "out.h_T": [None] * B}
    if lstm:
        res["out.c_T"] = [None] * B
    for b in range(B):
        hs, st = _mp_run(kind, var, [xs[t][b] for t in range(T)], [h0[b]] + ([c0[b]] if lstm else []), p)
        for t in range(T):
            res["out.hs"][t][b] = hs[t]
        res["out.h_T"][b] = st[0]
        if lstm:
            res["out.c_T"][b] = st[1]
    return res


def _mp_clip_outputs(case: Case) -> dict:
    mp = _mp()
    names = sorted((k for k in case.inputs if k.startswith("grads.")), key=lambda k: int(k.split(".")[1]))
    gs = [np.ravel(case.inputs[k]) for k in names]
    if case.capability == "clip_grad_value":
        v = mp.mpf(float(case.inputs["clip_value"]))
        return {f"out.clipped.{i}": [min(max(mp.mpf(float(e)), -v), v) for e in g] for i, g in enumerate(gs)}
    c = mp.mpf(float(case.inputs["max_norm"]))
    eps = mp.mpf(case.conventions["clip_eps"])
    norm = lambda arrs: mp.sqrt(mp.fsum(mp.mpf(float(e)) ** 2 for a in arrs for e in a))  # noqa: E731

    def scale(N):
        if eps > 0:
            return min(mp.mpf(1), c / (N + eps))
        return mp.mpf(1) if N <= c else c / N

    N = norm(gs)
    res = {"out.norm": N}
    for i, g in enumerate(gs):
        s = scale(N) if case.conventions["clip_scope"] == "global" else scale(norm([g]))
        res[f"out.clipped.{i}"] = [s * mp.mpf(float(e)) for e in g]
    return res


def _flat_mp(v) -> list:
    if isinstance(v, list):
        return [e for w in v for e in _flat_mp(w)]
    return [v]


def _deviation(want_mp: dict, got: dict) -> tuple[float, float]:
    """(max absolute deviation, max over arrays of max|dev| / max|exact|) between oracle and mpmath."""
    mp = _mp()
    worst_abs = worst_rel = 0.0
    for name, exact in want_mp.items():
        ex = _flat_mp(exact)
        g = np.ravel(got[name])
        assert len(ex) == g.size, name
        dev = max((abs(mp.mpf(float(a)) - e) for a, e in zip(g, ex)), default=mp.mpf(0))
        big = max((abs(e) for e in ex), default=mp.mpf(0))
        worst_abs = max(worst_abs, float(dev))
        worst_rel = max(worst_rel, float(dev / big) if big else float(dev))
    return worst_abs, worst_rel


def _mp_directional(case: Case) -> float:
    """|<oracle grads, v> - dL/ds| / sum |grad| |v| for a random direction v, dL/ds by a 50-digit central
    difference of L(inputs + s v) evaluated with the mpmath cells."""
    mp = _mp()
    kind, var = _kind_var(case)
    lstm = kind == "lstm"
    fwd_case = Case(case.id, kind, [], None, {}, None, case.conventions, [], {}, "", 1, 1)
    primal = [k for k in case.inputs if not k.startswith("d_")]
    rng = rng_for(0, case.id, "/direction")
    v = {k: rng.standard_normal(np.shape(case.inputs[k])) for k in primal}
    grad_name = {"xs": "out.d_xs", "h0": "out.d_h0", "c0": "out.d_c0"}
    gdot = mp.fsum(mp.mpf(float(a)) * mp.mpf(float(b))
                   for k in primal
                   for a, b in zip(np.ravel(case.outputs[grad_name.get(k, "out.d_p." + k[2:])]), np.ravel(v[k])))
    gabs = mp.fsum(abs(mp.mpf(float(a)) * mp.mpf(float(b)))
                   for k in primal
                   for a, b in zip(np.ravel(case.outputs[grad_name.get(k, "out.d_p." + k[2:])]), np.ravel(v[k])))

    def shifted(arr, dv, s):
        if np.ndim(arr) == 0:
            return mp.mpf(float(arr)) + s * mp.mpf(float(dv))
        return [shifted(a, d, s) for a, d in zip(arr, dv)]

    def L(s):
        ins = {k: shifted(case.inputs[k], v[k], s) for k in primal}
        out = _mp_forward_outputs(fwd_case, ins)
        terms = [("d_hs", "out.hs"), ("d_hT", "out.h_T")] + ([("d_cT", "out.c_T")] if lstm else [])
        return mp.fsum(mp.mpf(float(a)) * b for dn, on in terms
                       for a, b in zip(np.ravel(case.inputs[dn]), _flat_mp(out[on])))

    eps = mp.mpf(10) ** -15
    deriv = (L(eps) - L(-eps)) / (2 * eps)
    return float(abs(gdot - deriv) / gabs) if gabs else float(abs(gdot - deriv))


def mpmath_check(all_cases: list[Case]) -> dict:
    """Cross-check every forward and clipping case, and every VJP case by a directional derivative."""
    mp = _mp()
    checked, vjp_checked = [], []
    worst_abs = worst_rel = worst_dir = 0.0
    with mp.workdps(MP_DIGITS):
        for c in all_cases:
            if c.capability.endswith("_vjp"):
                worst_dir = max(worst_dir, _mp_directional(c))
                vjp_checked.append(c.id)
                continue
            exact = _mp_clip_outputs(c) if c.capability.startswith("clip") else _mp_forward_outputs(c, c.inputs)
            a, r = _deviation(exact, c.outputs)
            worst_abs, worst_rel = max(worst_abs, a), max(worst_rel, r)
            checked.append(c.id)
    if worst_rel > 1e-13 or worst_dir > 1e-12:
        raise RuntimeError(f"golden: the float64 oracle disagrees with mpmath (forward {worst_rel:.3g}, "
                           f"VJP directional {worst_dir:.3g}); refusing to write vectors")
    return {
        "digits": MP_DIGITS,
        "forward_cases": checked,
        "forward_max_abs_deviation": worst_abs,
        "forward_max_rel_deviation": worst_rel,
        "forward_method": "cell formulas evaluated directly with mpmath (not via the oracles); rel = max|dev| / "
                          "max|exact| per output array",
        "vjp_cases": vjp_checked,
        "vjp_max_rel_deviation": worst_dir,
        "vjp_method": "<oracle gradients, v> vs a central difference (step 1e-15) of L(inputs + s v) at 50 digits, "
                      "v a random direction over every primal input and parameter; rel = |dev| / sum |grad * v|",
    }
