"""Error model of a stack (first order; SAFETY = 2 and u = u_target + u_float64 as in properties/tolerances.py).
Per sequence b (run alone on its real prefix, as the oracle), per layer l, per direction d, the bound on the error
of the layer's outputs and final states is

    e_layer = SAFETY * onelayer(x_l; u) + SAFETY * E,    E_t = |J_s,t| E_{t-1} + |J_x,t| e_in,t,   E_{-1} = 0

onelayer: the layer's own rounding on its exact (oracle) input, the one-layer model of its kind
(tolerances._rnn_forward_bound / _lstm_model / _gru_model); E: the input error e_in (layer l-1's output bound,
times m/(1-p) plus one rounding under dropout; 0 for layer 0, whose input xs is exact) propagated through the exact
one-step Jacobians J_s = d state'/d state, J_x = d state'/d x of the cell (oracle_*.*_jacobian*, state = h or (h, c)).
A projected LSTM layer (W_proj) is modelled step by step: local_t = SAFETY * (the LSTM cell's one-step model at the
exact inputs, then h' = u W_proj^T: gamma_n(u) |u| |W_proj|^T + e_u |W_proj|^T), E_t = local_t + |J_s| E_{t-1} +
|J_x| e_in,t with the projected cell's Jacobians. Outputs at padded steps are exact ('zero': 0; 'carry': a copy of
the last real forward output, its tolerance copied).

VJP (inference), per unprojected layer: the one-layer VJP model (tolerances._rnn_vjp_bound / _lstm_model /
_gru_model with cotangents) at the exact input and exact cotangent, its unit roundoff raised to u + rho, rho = max
e_in / |x| over the layer's input (an input known to within relative rho is an exact input read with one more
rounding of unit rho, which the model's first operation on it covers: gamma_k(u + rho) >= gamma_k(u) + rho); above
RHO_MAX the layer is left unchecked in that example (a vacuous bound, never a false alarm). Plus the cotangent's own
error from the layers above (the xs-gradient bound of layer l+1), propagated through the exact one-step Jacobians:
at step t, with E_t the bound on the state cotangent's error, each row k of the one-step Jacobian (the oracle's
one-step VJP of the unit cotangent e_k) adds SAFETY * E_t[k] |row_k| to the bounds of x_t, the previous state and
the parameters. A projected layer, step by step: the LSTM cell's one-step VJP model at the cotangent
d_u = d_h W_proj (at u + rho_t, rho_t over x_t and the states' forward bounds), plus the rounding of d_u
(gamma_P(u) |d_h| |W_proj|) and the state cotangent's error E_t through the one-step rows as above; dW_proj =
sum_t d_h,t^T u_t with gamma_{T+1}(u) |d_h|^T |u| + |d_h|^T e_u.
"""
from __future__ import annotations

import numpy as np

from dlproof.derivations import oracle_stacked as O

from .. import errmodel as em
from .. import tolerances as tol

#: the largest relative input error the VJP model absorbs into its unit roundoff (above it, the layer is unchecked)
RHO_MAX = 1e-3


def _rho(x, e) -> float:
    """max e / |x| over the entries with e > 0 (inf where such an x is 0); 0 for an exact input."""
    x, e = np.abs(np.asarray(x, np.float64)), np.asarray(e, np.float64)
    if e.size == 0 or not np.any(e > 0):
        return 0.0
    pos = e > 0
    with np.errstate(divide="ignore"):
        return float(np.max(np.where(x[pos] > 0, e[pos] / np.where(x[pos] > 0, x[pos], 1.0), np.inf)))


def _cell_jacobians(kind, x, state, p, conv):
    """(|J_s| (B, S, S), |J_x| (B, S, m)) of one cell step over the concatenated state (h[, c]), from the oracles."""
    if kind == "rnn":
        from dlproof.derivations.oracle_rnn import rnn_cell_jacobians

        j = rnn_cell_jacobians(x, state[0], p, conv)
        return np.abs(j["h"]), np.abs(j["x"])
    if kind == "gru":
        from dlproof.derivations.oracle_gru import gru_cell_jacobian_h, gru_cell_jacobian_x

        return np.abs(gru_cell_jacobian_h(x, state[0], p, conv)), np.abs(gru_cell_jacobian_x(x, state[0], p, conv))
    if "W_proj" in p:
        from dlproof.derivations.oracle_projection import lstm_proj_cell_jacobians as jac
    else:
        from dlproof.derivations.oracle_lstm import lstm_cell_jacobians as jac
    j = jac(x, state[0], state[1], p)
    J_s = np.concatenate([np.concatenate([j["hh"], j["hc"]], axis=2), np.concatenate([j["ch"], j["cc"]], axis=2)], axis=1)
    return np.abs(J_s), np.abs(np.concatenate([j["hx"], j["cx"]], axis=1))


def _propagated(kind, xs, e_in, state0, p, conv, local=None):
    """E_t = local_t + |J_s,t| E_{t-1} + |J_x,t| e_in,t over the concatenated state, E_{-1} = 0 (first order)
    -> list over t of (B, S) bounds. ``local``: (T, B, S) one-step rounding bounds, or None (0)."""
    states = _step_states(kind, xs, state0, p, conv)
    E = np.zeros(np.concatenate(states[0], axis=-1).shape)
    out = []
    for t in range(xs.shape[0]):
        J_s, J_x = _cell_jacobians(kind, xs[t], states[t], p, conv)
        E = (J_s @ E[..., None])[..., 0] + (J_x @ e_in[t][..., None])[..., 0] + (0.0 if local is None else local[t])
        out.append(E)
    return out


def _direction_model(kind, xs, e_in, state0, p, conv, u):
    """Forward error bounds (e_hs (T, B, n_out), e_final tuple) of one direction (forward in time) at unit u: the
    one-layer model on the exact input plus SAFETY times the input error propagated through the exact Jacobians."""
    n_out = state0[0].shape[-1]
    if "W_proj" in p:
        E = _propagated(kind, xs, e_in, state0, p, conv, _proj_local(xs, state0, p, u))
        return np.stack([e[..., :n_out] for e in E]), (E[-1][..., :n_out], E[-1][..., n_out:])
    if kind == "rnn":
        e = tol.SAFETY * tol._rnn_forward_bound(xs, state0[0], p, conv, u)[2]
        fin = (e[-1],)
    elif kind == "gru":
        steps, h = tol._gru_model(xs, state0[0], p, conv, u)
        e, fin = tol.SAFETY * np.stack([s[-1].e for s in steps]), (tol.SAFETY * h.e,)
    else:
        steps, h, c = tol._lstm_model(xs, state0[0], state0[1], p, u)
        e, fin = tol.SAFETY * np.stack([s[-1].e for s in steps]), (tol.SAFETY * h.e, tol.SAFETY * c.e)
    if not np.any(e_in > 0):
        return e, fin
    E = [tol.SAFETY * v for v in _propagated(kind, xs, e_in, state0, p, conv)]
    e = e + np.stack([v[..., :n_out] for v in E])
    return e, (fin[0] + E[-1][..., :n_out],) + ((fin[1] + E[-1][..., n_out:],) if kind == "lstm" else ())


def _proj_local(xs, state0, p, u):
    """(T, B, P + n): SAFETY times the rounding of each projected step at its exact inputs (module doc)."""
    from dlproof.derivations.oracle_projection import lstm_proj_cell

    cell = {k: v for k, v in p.items() if k != "W_proj"}
    un = tol.model_units(u)
    W_p = np.abs(np.asarray(p["W_proj"], np.float64))
    h, c = np.asarray(state0[0], np.float64), np.asarray(state0[1], np.float64)
    out = []
    for t in range(xs.shape[0]):
        _, hu, cn = tol._lstm_model(xs[t:t + 1], h, c, cell, u)
        mag = np.abs(hu.v) @ W_p.T
        eh = em.gamma(W_p.shape[1], un.u_acc) * mag + hu.e @ W_p.T
        if un.wider:  # the product's rounding to storage (errmodel doc), u sum |terms| >= u |h'|
            eh = eh + un.u * mag
        out.append(tol.SAFETY * np.concatenate([eh, cn.e], axis=-1))
        h, c = lstm_proj_cell(xs[t], h, c, p)
    return np.stack(out)


def dir_input(x, d):
    return x if d == 0 else x[::-1]


def stack_forward_tol(kind, xs, states0, layers, lengths, conv, prec, masks=None, p_drop=0.0, padded_output="zero"):
    """Entry-wise tolerances (tol_ys (T, B, D n_out), tol_finals tuple of (L, D, B, .)) of a stack (module doc).
    Padded outputs: 0 ('zero', exact) or the last real forward output's tolerance ('carry')."""
    u = tol.model_units(prec)
    T, B, L, D, lens = O.check_stack(kind, xs, states0, layers, lengths, "stack_forward_tol")
    xs = np.asarray(xs, np.float64)
    s0 = tuple(np.asarray(s, np.float64) for s in states0)
    n_out = O.out_size(layers[0][0])
    t_ys = np.zeros((T, B, D * n_out))
    t_fin = tuple(np.zeros(s.shape) for s in s0)
    for b in range(B):
        ln = int(lens[b])
        mb = None if masks is None else [np.asarray(mk, np.float64)[:ln, b:b + 1] for mk in masks]
        inputs, _, _ = O._sequence(kind, xs[:ln, b:b + 1], tuple(s[:, :, b:b + 1] for s in s0), layers, mb, p_drop, conv)
        e_in = np.zeros_like(inputs[0])
        for l in range(L):
            if l > 0 and mb is not None:  # the scaling m x / (1 - p): one rounding
                e_in = mb[l - 1] * e_in / (1 - p_drop) + u.u * np.abs(inputs[l])
            halves = []
            for d, p in enumerate(layers[l]):
                e_hs, e_fin = _direction_model(kind, dir_input(inputs[l], d), dir_input(e_in, d),
                                               tuple(s[l, d, b:b + 1] for s in s0), p, conv, u)
                halves.append(dir_input(e_hs, d))
                for j, e in enumerate(e_fin):
                    t_fin[j][l, d, b] = e[0]
            e_in = np.concatenate(halves, axis=-1)
        t_ys[:ln, b] = e_in[:, 0]
        if O.carries(padded_output, layers):
            t_ys[ln:, b, :n_out] = e_in[-1, 0, :n_out]
    return t_ys, t_fin


def _step_states(kind, xs, state0, p, conv):
    """The exact states before each step: list of tuples, index t = the state before x_t."""
    states = [tuple(np.asarray(s, np.float64) for s in state0)]
    for t in range(xs.shape[0]):
        states.append(O.run_layer(kind, xs[t:t + 1], states[-1], p, conv)[1])
    return states


def _rows_error(kind, x, state, p, conv, E):
    """sum_k E[k] |row_k| of one step's Jacobian (the oracle's one-step VJP of each unit cotangent e_k on the state
    after the step; E a tuple of bounds per state part) -> (e_x (m,), e_state tuple, e_params)."""
    sizes = [s.shape[-1] for s in state]
    e_x = np.zeros(x.shape[-1])
    e_s = [np.zeros(k) for k in sizes]
    e_p = {k: np.zeros(np.shape(v)) for k, v in p.items()}
    zero = np.zeros((1, 1, sizes[0]))
    for j, k in ((j, k) for j in range(len(sizes)) for k in range(sizes[j])):
        if E[j][k] == 0:
            continue
        unit = [np.zeros((1, s)) for s in sizes]
        unit[j][0, k] = 1.0
        g_x, g_s, g_p = O.layer_vjp(kind, x[None], state, p, zero, tuple(unit), conv)
        e_x += E[j][k] * np.abs(g_x[0, 0])
        for i, g in enumerate(g_s):
            e_s[i] += E[j][k] * np.abs(g[0])
        for name, g in g_p.items():
            e_p[name] += E[j][k] * np.abs(g)
    return e_x, tuple(e_s), e_p


def _cotangent_error(kind, xs, state0, p, conv, e_dhs):
    """First-order propagation of an error bound e_dhs (T, 1, n_out) on the output cotangent through the exact
    one-step Jacobians -> (e_xs, e_state0 tuple, e_params)."""
    states = _step_states(kind, xs, state0, p, conv)
    E = tuple(np.zeros(s.shape[-1]) for s in states[0])
    e_xs = np.zeros_like(xs)
    e_p = {k: np.zeros(np.shape(v)) for k, v in p.items()}
    for t in range(xs.shape[0] - 1, -1, -1):
        E = (E[0] + e_dhs[t, 0],) + E[1:]
        e_xs[t, 0], E, g_p = _rows_error(kind, xs[t], states[t], p, conv, E)
        for k in e_p:
            e_p[k] += g_p[k]
    return e_xs, E, e_p


def _proj_vjp_model(xs, e_in, state0, p, u, d_hs, d_final, e_dhs):
    """Bounds {"xs", "states", "params"} of a projected LSTM direction's VJP, step by step (module doc)."""
    from dlproof.derivations.oracle_projection import lstm_proj_cell_vjp

    cell = {k: v for k, v in p.items() if k != "W_proj"}
    W = np.asarray(p["W_proj"], np.float64)
    T, P, n = xs.shape[0], W.shape[0], W.shape[1]
    states = _step_states("lstm", xs, state0, p, None)
    E_fwd = _propagated("lstm", xs, e_in, state0, p, None, _proj_local(xs, state0, p, u))
    out = {"xs": np.zeros_like(xs), "params": {k: np.zeros(np.shape(v)) for k, v in p.items()}}
    dh, dc = d_hs[T - 1] + d_final[0], np.asarray(d_final[1], np.float64)
    E = (np.asarray(e_dhs[T - 1, 0], np.float64), np.zeros(n))
    for t in range(T - 1, -1, -1):
        h, c = states[t]
        e_prev = E_fwd[t - 1][0] if t > 0 else np.zeros(P + n)
        rho = max(_rho(xs[t], e_in[t]), _rho(h[0], e_prev[:P]), _rho(c[0], e_prev[P:]))
        if not rho <= RHO_MAX:
            vac = lambda a: np.full(np.shape(a), np.inf)  # noqa: E731
            return {"xs": vac(xs), "states": tuple(vac(s) for s in state0), "params": {k: vac(v) for k, v in p.items()}}
        uu = tol.model_units(u).raised(rho)
        w = uu.u if uu.wider else 0.0  # a product's rounding to storage per unit of its sum |terms| (errmodel doc)
        _, hu, _ = tol._lstm_model(xs[t:t + 1], h, c, cell, uu)
        du = dh @ W
        e_du = (em.gamma(P, uu.u_acc) + w) * np.abs(dh) @ np.abs(W)
        bd = tol._scaled(tol._lstm_model(xs[t:t + 1], h, c, cell, uu, np.zeros((1, 1, n)), du, dc))
        ex_u, es_u, ep_u = _rows_error("lstm", xs[t], (h, c), cell, None, (e_du[0], np.zeros(n)))
        ex_E, es_E, ep_E = _rows_error("lstm", xs[t], (h, c), p, None, E)
        out["xs"][t, 0] = bd["xs"][0, 0] + tol.SAFETY * (ex_u + ex_E)
        for k in cell:
            out["params"][k] += bd["params"][k] + tol.SAFETY * (ep_u[k] + ep_E[k])
        out["params"]["W_proj"] += tol.SAFETY * ((em.gamma(T + 1, uu.u_acc) + w) * np.abs(dh).T @ np.abs(hu.v) + np.abs(dh).T @ hu.e
                                                 + ep_E["W_proj"])
        E = tuple(b[0] + tol.SAFETY * (x + y) for b, x, y in zip((bd["h0"], bd["c0"]), es_u, es_E))
        g = lstm_proj_cell_vjp(xs[t], h, c, p, dh, dc)
        dh, dc = g["h"] + (d_hs[t - 1] if t > 0 else 0.0), g["c"]
        if t > 0:
            E = (E[0] + e_dhs[t - 1, 0], E[1])
    out["states"] = (E[0][None], E[1][None])
    return out


def _direction_vjp_model(kind, xs, e_in, state0, p, conv, u, d_hs, d_final, e_dhs):
    """Bounds {"xs", "states": tuple, "params"} of one direction's VJP (module doc)."""
    if "W_proj" in p:
        return _proj_vjp_model(xs, e_in, state0, p, u, d_hs, d_final, e_dhs)
    rho = _rho(xs, e_in)
    if not rho <= RHO_MAX:  # the layer's input is known too coarsely for the model: this example checks nothing there
        vac = lambda a: np.full(np.shape(a), np.inf)  # noqa: E731
        return {"xs": vac(xs), "states": tuple(vac(s) for s in state0), "params": {k: vac(v) for k, v in p.items()}}
    uu = tol.model_units(u).raised(rho)
    if kind == "rnn":
        bd = tol._rnn_vjp_bound(xs, state0[0], p, d_hs[:, :, :], d_final[0], conv, uu)
        out = {"xs": tol.SAFETY * bd["xs"], "states": (tol.SAFETY * bd["h0"],),
               "params": {k: tol.SAFETY * v for k, v in bd["params"].items()}}
    else:
        if kind == "gru":
            bd = tol._scaled(tol._gru_model(xs, state0[0], p, conv, uu, d_hs, d_final[0]))
            states = (bd["h0"],)
        else:
            bd = tol._scaled(tol._lstm_model(xs, state0[0], state0[1], p, uu, d_hs, d_final[0], d_final[1]))
            states = (bd["h0"], bd["c0"])
        out = {"xs": bd["xs"], "states": states, "params": bd["params"]}
    if np.any(e_dhs > 0):
        e_x, e_s, e_p = _cotangent_error(kind, xs, state0, p, conv, e_dhs)
        out["xs"] = out["xs"] + tol.SAFETY * e_x
        out["states"] = tuple(a + tol.SAFETY * b for a, b in zip(out["states"], e_s))
        out["params"] = {k: out["params"][k] + tol.SAFETY * e_p[k] for k in out["params"]}
    return out


def stack_vjp_tol(kind, xs, states0, layers, lengths, d_ys, d_finals, conv, prec, padded_output="zero") -> dict:
    """Entry-wise tolerances {"xs", "h0"(, "c0"), "layers"} of ``<kind>_stack_vjp`` (unprojected layers; module doc)."""
    u = tol.model_units(prec)
    T, B, L, D, lens = O.check_stack(kind, xs, states0, layers, lengths, "stack_vjp_tol")
    xs = np.asarray(xs, np.float64)
    s0 = tuple(np.asarray(s, np.float64) for s in states0)
    d_ys = np.asarray(d_ys, np.float64)
    d_finals = tuple(np.asarray(g, np.float64) for g in d_finals)
    n_out = O.out_size(layers[0][0])
    out = {"xs": np.zeros_like(xs), "layers": [[{k: np.zeros(np.shape(v)) for k, v in p.items()} for p in lay]
                                              for lay in layers]}
    t_s = [np.zeros_like(s) for s in s0]
    for b in range(B):
        ln = int(lens[b])
        sb = tuple(s[:, :, b:b + 1] for s in s0)
        inputs, _, _ = O._sequence(kind, xs[:ln, b:b + 1], sb, layers, None, 0.0, conv)
        e_ins = [np.zeros_like(inputs[0])]
        for l in range(L - 1):  # the forward error bound of every layer's input
            halves = [dir_input(_direction_model(kind, dir_input(inputs[l], d), dir_input(e_ins[l], d),
                                                  tuple(s[l, d] for s in sb), p, conv, u)[0], d)
                      for d, p in enumerate(layers[l])]
            e_ins.append(np.concatenate(halves, axis=-1))
        d_out = d_ys[:ln, b:b + 1].copy()
        if O.carries(padded_output, layers):
            d_out[-1, 0, :n_out] += d_ys[ln:, b, :n_out].sum(axis=0)
        e_out = np.zeros_like(d_out)
        for l in range(L - 1, -1, -1):
            d_in, e_next = np.zeros_like(inputs[l]), np.zeros_like(inputs[l])
            for d, p in enumerate(layers[l]):
                sl = slice(d * n_out, (d + 1) * n_out)
                s_ld = tuple(s[l, d] for s in sb)
                dfin = tuple(g[l, d, b:b + 1] for g in d_finals)
                inp, dh, eh = (dir_input(a, d) for a in (inputs[l], d_out[..., sl], e_out[..., sl]))
                bd = _direction_vjp_model(kind, inp, dir_input(e_ins[l], d), s_ld, p, conv, u, dh, dfin, eh)
                g_x, _, _ = O.layer_vjp(kind, inp, s_ld, p, dh, dfin, conv)
                d_in += dir_input(g_x, d)
                e_next += dir_input(bd["xs"], d)
                for j, e in enumerate(bd["states"]):
                    t_s[j][l, d, b] = e[0]
                for k, v in bd["params"].items():
                    out["layers"][l][d][k] += v
            d_out, e_out = d_in, e_next
        out["xs"][:ln, b] = e_out[:, 0]
    out["h0"] = t_s[0]
    if kind == "lstm":
        out["c0"] = t_s[1]
    return out

