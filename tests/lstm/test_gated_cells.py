"""Tests of the LSTM, GRU (both reset variants) and bidirectional references (NumPy; torch: test_gated_cells_torch.py).

Expected values come from independent math only: an explicit per-sample column-vector loop written here
(textbook sigmoid 1 / (1 + e^-a)), or central finite differences of that loop in float64 (step 1e-6),
never from the code under test.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from dlproof.impl.numpy_ref import bidirectional as np_bi
from dlproof.impl.numpy_ref import gru as np_gru
from dlproof.impl.numpy_ref import lstm as np_lstm
from dlproof.impl.numpy_ref.rnn import param_count
from dlproof.impl.targets import numpy_gru_reset_before_target, numpy_target
from dlproof.parameters import GRU_PARAMS as GRU_NAMES
from dlproof.parameters import LSTM_PARAMS as LSTM_NAMES
from dlproof.properties import finite_difference as FD

from loops import ref_forward as rnn_loop  # noqa: E402

T, B, N, M = 3, 2, 3, 2
VARIANTS = ("reset_after", "reset_before")


def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


# --- independent references: one sample, one step at a time, column vectors ------------------------


def lstm_loop(xs, h0, c0, p):
    """-> (hs (T, B, n), c_T (B, n)) by i, f, g, o = gates; c' = f c + i g; h' = o tanh(c')."""
    Tn, Bn = xs.shape[:2]
    n = p["W_hi"].shape[0]
    hs, cT = np.empty((Tn, Bn, n)), np.array(c0, dtype=np.float64)
    for b in range(Bn):
        h, c = h0[b], c0[b]
        for t in range(Tn):
            x = xs[t, b]
            i = _sig(p["W_xi"] @ x + p["W_hi"] @ h + p["b_i"])
            f = _sig(p["W_xf"] @ x + p["W_hf"] @ h + p["b_f"])
            g = np.tanh(p["W_xg"] @ x + p["W_hg"] @ h + p["b_g"])
            o = _sig(p["W_xo"] @ x + p["W_ho"] @ h + p["b_o"])
            c = f * c + i * g
            h = o * np.tanh(c)
            hs[t, b] = h
        cT[b] = c
    return hs, cT


def gru_loop(xs, h0, p, variant):
    """-> hs (T, B, n) by h' = z h + (1 - z) n, n in the reset_after or reset_before form."""
    Tn, Bn = xs.shape[:2]
    hs = np.empty((Tn, Bn, p["W_hr"].shape[0]))
    for b in range(Bn):
        h = h0[b]
        for t in range(Tn):
            x = xs[t, b]
            r = _sig(p["W_xr"] @ x + p["W_hr"] @ h + p["b_r"])
            z = _sig(p["W_xz"] @ x + p["W_hz"] @ h + p["b_z"])
            if variant == "reset_after":
                cand = np.tanh(p["W_xn"] @ x + p["b_xn"] + r * (p["W_hn"] @ h + p["b_hn"]))
            else:
                cand = np.tanh(p["W_xn"] @ x + p["b_xn"] + p["b_hn"] + p["W_hn"] @ (r * h))
            h = z * h + (1 - z) * cand
            hs[t, b] = h
    return hs


def _params(rng, names, n=N, m=M, scale=0.8):
    out = {}
    for k in names:
        shape = (n, m) if k.startswith("W_x") else (n, n) if k.startswith("W_h") else (n,)
        out[k] = rng.normal(0, scale if k.startswith("W") else 0.4, shape)
    return out


def lstm_problem(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    p = _params(rng, LSTM_NAMES)
    arrs = dict(xs=rng.normal(size=(T, B, M)), h0=rng.normal(0, 0.5, (B, N)), c0=rng.normal(0, 0.8, (B, N)),
                d_hs=rng.normal(size=(T, B, N)), d_hT=rng.normal(size=(B, N)), d_cT=rng.normal(size=(B, N)))
    cast = lambda a: a.astype(dtype)  # noqa: E731
    return {k: cast(v) for k, v in arrs.items()}, {k: cast(v) for k, v in p.items()}


def gru_problem(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    p = _params(rng, GRU_NAMES)
    arrs = dict(xs=rng.normal(size=(T, B, M)), h0=rng.normal(0, 0.5, (B, N)),
                d_hs=rng.normal(size=(T, B, N)), d_hT=rng.normal(size=(B, N)))
    cast = lambda a: a.astype(dtype)  # noqa: E731
    return {k: cast(v) for k, v in arrs.items()}, {k: cast(v) for k, v in p.items()}


def _mixed_signs(p):
    for k, v in p.items():
        if k.startswith("W"):
            assert v.min() < 0 < v.max(), k


# --- gradient oracle: central differences of the loop ------------------------------------------------


def _check_fd(analytic: dict, args: dict, loss, seed=7, eps=1e-6):
    rng = np.random.default_rng(seed)
    for name, value in args.items():
        assert analytic[name].shape == value.shape, name
        v = rng.normal(size=value.shape)
        fd = FD.directional(lambda a, name=name: loss({**args, name: a}), value, v, eps)
        an = float(np.sum(analytic[name] * v))
        assert abs(fd - an) <= 1e-7 * max(abs(an), 1.0), (name, fd, an)


def _lstm_loss(a, names, d):
    hs, cT = lstm_loop(a["xs"], a["h0"], a["c0"], {k: a[k] for k in names})
    return float(np.sum(d["d_hs"] * hs) + np.sum(d["d_hT"] * hs[-1]) + np.sum(d["d_cT"] * cT))


def _gru_loss(a, names, d, variant):
    hs = gru_loop(a["xs"], a["h0"], {k: a[k] for k in names}, variant)
    return float(np.sum(d["d_hs"] * hs) + np.sum(d["d_hT"] * hs[-1]))


def check_lstm_vjp(vjp):
    d, p = lstm_problem(2)
    _mixed_signs(p)
    g = vjp(d["xs"], d["h0"], d["c0"], p, d["d_hs"], d["d_hT"], d["d_cT"])
    assert set(g) == {"xs", "h0", "c0", "params"} and set(g["params"]) == set(LSTM_NAMES)
    analytic = {"xs": g["xs"], "h0": g["h0"], "c0": g["c0"], **g["params"]}
    args = {"xs": d["xs"], "h0": d["h0"], "c0": d["c0"], **p}
    _check_fd(analytic, args, lambda a: _lstm_loss(a, LSTM_NAMES, d))


def check_gru_vjp(vjp, variant):
    d, p = gru_problem(3)
    _mixed_signs(p)
    g = vjp(d["xs"], d["h0"], p, d["d_hs"], d["d_hT"], variant)
    assert set(g) == {"xs", "h0", "params"} and set(g["params"]) == set(GRU_NAMES)
    analytic = {"xs": g["xs"], "h0": g["h0"], **g["params"]}
    args = {"xs": d["xs"], "h0": d["h0"], **p}
    _check_fd(analytic, args, lambda a: _gru_loss(a, GRU_NAMES, d, variant))
    if variant == "reset_before":  # b_xn and b_hn only act as their sum
        np.testing.assert_array_equal(g["params"]["b_xn"], g["params"]["b_hn"])


# --- shared checks, run for the NumPy and the torch modules -----------------------------------------


def check_forward(lstm_mod, gru_mod):
    d, p = lstm_problem(1)
    hs_ref, cT_ref = lstm_loop(d["xs"], d["h0"], d["c0"], p)
    h1, c1 = lstm_mod.lstm_cell(d["xs"][0], d["h0"], d["c0"], p)
    np.testing.assert_allclose(h1, hs_ref[0], rtol=1e-13, atol=1e-15)
    hs, (h_T, c_T) = lstm_mod.lstm(d["xs"], d["h0"], d["c0"], p)
    np.testing.assert_allclose(hs, hs_ref, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(c_T, cT_ref, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(h_T, hs[-1])
    # the cell's c' is the c of a one-step run
    _, c1_ref = lstm_loop(d["xs"][:1], d["h0"], d["c0"], p)
    np.testing.assert_allclose(c1, c1_ref, rtol=1e-13, atol=1e-15)
    g, pg = gru_problem(1)
    for variant in VARIANTS:
        ref = gru_loop(g["xs"], g["h0"], pg, variant)
        np.testing.assert_allclose(gru_mod.gru_cell(g["xs"][0], g["h0"], pg, variant), ref[0], rtol=1e-13, atol=1e-15)
        hs, h_T = gru_mod.gru(g["xs"], g["h0"], pg, variant)
        np.testing.assert_allclose(hs, ref, rtol=1e-13, atol=1e-15)
        np.testing.assert_array_equal(h_T, hs[-1])
    # the two variants differ on generic weights (the variant is a convention, not a tolerance)
    a = gru_mod.gru(g["xs"], g["h0"], pg, "reset_after")[0]
    b = gru_mod.gru(g["xs"], g["h0"], pg, "reset_before")[0]
    assert np.abs(a - b).max() > 1e-3


def check_bidirectional(bi):
    rng = np.random.default_rng(11)
    xs = rng.normal(size=(T, B, M))
    # RNN
    pf = {"W_x": rng.normal(0, 0.8, (N, M)), "W_h": rng.normal(0, 0.8, (N, N)), "b": rng.normal(0, 0.3, N)}
    pb = {k: rng.normal(0, 0.8, v.shape) for k, v in pf.items()}
    h0f, h0b = rng.normal(0, 0.5, (B, N)), rng.normal(0, 0.5, (B, N))
    ys, h_f, h_b = bi.rnn_bi(xs, h0f, h0b, pf, pb)
    fwd, rev = rnn_loop(xs, h0f, pf, np.tanh), rnn_loop(xs[::-1], h0b, pb, np.tanh)
    _check_layout(ys, h_f, h_b, fwd, rev)
    ys_relu = bi.rnn_bi(xs, h0f, h0b, pf, pb, "relu")[0]
    relu = lambda a: np.maximum(a, 0)  # noqa: E731
    _check_layout(ys_relu, ys_relu[-1, :, :N], ys_relu[0, :, N:], rnn_loop(xs, h0f, pf, relu),
                  rnn_loop(xs[::-1], h0b, pb, relu))
    # LSTM
    pf, pb = _params(rng, LSTM_NAMES), _params(rng, LSTM_NAMES)
    c0f, c0b = rng.normal(size=(B, N)), rng.normal(size=(B, N))
    ys, (h_f, c_f), (h_b, c_b) = bi.lstm_bi(xs, (h0f, c0f), (h0b, c0b), pf, pb)
    (fwd, cf_ref), (rev, cb_ref) = lstm_loop(xs, h0f, c0f, pf), lstm_loop(xs[::-1], h0b, c0b, pb)
    _check_layout(ys, h_f, h_b, fwd, rev)
    np.testing.assert_allclose(c_f, cf_ref, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(c_b, cb_ref, rtol=1e-13, atol=1e-15)
    # GRU
    pf, pb = _params(rng, GRU_NAMES), _params(rng, GRU_NAMES)
    for variant in VARIANTS:
        ys, h_f, h_b = bi.gru_bi(xs, h0f, h0b, pf, pb, variant)
        _check_layout(ys, h_f, h_b, gru_loop(xs, h0f, pf, variant), gru_loop(xs[::-1], h0b, pb, variant))


def _check_layout(ys, h_f, h_b, fwd, rev):
    assert ys.shape == (T, B, 2 * N)
    np.testing.assert_allclose(ys[:, :, :N], fwd, rtol=1e-13, atol=1e-15)  # forward half: a forward run
    np.testing.assert_allclose(ys[:, :, N:], rev[::-1], rtol=1e-13, atol=1e-15)  # reversed run, re-reversed
    np.testing.assert_array_equal(h_f, ys[-1, :, :N])
    np.testing.assert_array_equal(h_b, ys[0, :, N:])  # backward state after reading x_0


def check_float32(lstm_mod, gru_mod, bi):
    f32 = np.dtype(np.float32)
    d, p = lstm_problem(4, np.float32)
    outs = [*lstm_mod.lstm_cell(d["xs"][0], d["h0"], d["c0"], p)]
    hs, (h_T, c_T) = lstm_mod.lstm(d["xs"], d["h0"], d["c0"], p)
    g = lstm_mod.lstm_vjp(d["xs"], d["h0"], d["c0"], p, d["d_hs"], d["d_hT"], d["d_cT"])
    outs += [hs, h_T, c_T, g["xs"], g["h0"], g["c0"], *g["params"].values()]
    ys, (a, b), (c, e) = bi.lstm_bi(d["xs"], (d["h0"], d["c0"]), (d["h0"], d["c0"]), p, p)
    outs += [ys, a, b, c, e]
    gd, gp = gru_problem(4, np.float32)
    for variant in VARIANTS:
        outs.append(gru_mod.gru_cell(gd["xs"][0], gd["h0"], gp, variant))
        outs += [*gru_mod.gru(gd["xs"], gd["h0"], gp, variant)]
        g = gru_mod.gru_vjp(gd["xs"], gd["h0"], gp, gd["d_hs"], gd["d_hT"], variant)
        outs += [g["xs"], g["h0"], *g["params"].values()]
        outs += [*bi.gru_bi(gd["xs"], gd["h0"], gd["h0"], gp, gp, variant)]
    rp = {"W_x": gp["W_xr"], "W_h": gp["W_hr"], "b": gp["b_r"]}
    outs += [*bi.rnn_bi(gd["xs"], gd["h0"], gd["h0"], rp, rp)]
    assert all(isinstance(o, np.ndarray) and o.dtype == f32 for o in outs), [getattr(o, "dtype", o) for o in outs]


def _frozen(a):
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


def check_no_mutation(lstm_mod, gru_mod, bi):
    d, p = lstm_problem(5)
    gd, gp = gru_problem(5)
    everything = [*d.values(), *p.values(), *gd.values(), *gp.values()]
    before = [a.copy() for a in everything]
    d, p = {k: _frozen(v) for k, v in d.items()}, {k: _frozen(v) for k, v in p.items()}
    gd, gp = {k: _frozen(v) for k, v in gd.items()}, {k: _frozen(v) for k, v in gp.items()}
    outs = [*lstm_mod.lstm_cell(d["xs"][0], d["h0"], d["c0"], p)]
    hs, (h_T, c_T) = lstm_mod.lstm(d["xs"], d["h0"], d["c0"], p)
    g = lstm_mod.lstm_vjp(d["xs"], d["h0"], d["c0"], p, d["d_hs"], d["d_hT"], d["d_cT"])
    outs += [hs, h_T, c_T, g["h0"], g["c0"]]
    g0 = lstm_mod.lstm_vjp(d["xs"][:0], d["h0"], d["c0"], p, d["d_hs"][:0], d["d_hT"], d["d_cT"])  # T = 0
    outs += [g0["h0"], g0["c0"]]
    outs += [bi.lstm_bi(d["xs"], (d["h0"], d["c0"]), (d["h0"], d["c0"]), p, p)[0]]
    for variant in VARIANTS:
        outs.append(gru_mod.gru_cell(gd["xs"][0], gd["h0"], gp, variant))
        outs += [*gru_mod.gru(gd["xs"], gd["h0"], gp, variant)]
        g = gru_mod.gru_vjp(gd["xs"], gd["h0"], gp, gd["d_hs"], gd["d_hT"], variant)
        outs += [g["h0"], gru_mod.gru_vjp(gd["xs"][:0], gd["h0"], gp, None, gd["d_hT"], variant)["h0"]]
        outs += [*bi.gru_bi(gd["xs"], gd["h0"], gd["h0"], gp, gp, variant)]
    frozen = [*d.values(), *p.values(), *gd.values(), *gp.values()]
    for o in outs:
        assert o.flags.writeable and not any(np.shares_memory(o, a) for a in frozen)
    for b4, a in zip(before, frozen):
        np.testing.assert_array_equal(b4, a)


def _bad_calls(lstm_mod, gru_mod, bi):
    d, p = lstm_problem()
    gd, gp = gru_problem()
    xs, h0, c0 = d["xs"], d["h0"], d["c0"]
    yield "lstm W_hf", lstm_mod.lstm, (xs, h0, c0, {**p, "W_hf": np.zeros((N, N + 1))}), \
        ["p['W_hf']", f"({N}, {N})", f"({N}, {N + 1})"]
    yield "lstm missing", lstm_mod.lstm_cell, (xs[0], h0, c0, {k: v for k, v in p.items() if k != "b_o"}), \
        ["'p'", "missing", "'b_o'"]
    yield "lstm c", lstm_mod.lstm_cell, (xs[0], h0, np.zeros((B, N + 1)), p), ["'c'", f"({B}, {N})", f"({B}, {N + 1})"]
    yield "lstm c0", lstm_mod.lstm, (xs, h0, c0[:1], p), ["'c0'", f"({B}, {N})", f"(1, {N})"]
    yield "lstm xs", lstm_mod.lstm, (xs[..., :1], h0, c0, p), ["'xs'", f"m = W_xi.shape[1] = {M}"]
    yield "lstm d_cT", lstm_mod.lstm_vjp, (xs, h0, c0, p, None, None, np.zeros((B, N + 1))), \
        ["'d_cT'", f"({B}, {N})", f"({B}, {N + 1})"]
    yield "lstm b_g", lstm_mod.lstm_vjp, (xs, h0, c0, {**p, "b_g": np.zeros(N + 1)}, None, None, None), \
        ["p['b_g']", f"({N},)", f"({N + 1},)"]
    yield "lstm W_xo", lstm_mod.lstm, (xs, h0, c0, {**p, "W_xo": np.zeros((N, M + 1))}), \
        ["p['W_xo']", f"({N}, {M})", f"({N}, {M + 1})"]
    gxs, gh0 = gd["xs"], gd["h0"]
    yield "gru b_hn", gru_mod.gru, (gxs, gh0, {**gp, "b_hn": np.zeros((N, 1))}), ["p['b_hn']", "(n,)"]
    yield "gru h", gru_mod.gru_cell, (gxs[0], np.zeros((B + 1, N)), gp), ["'h'", f"({B}, {N})", f"({B + 1}, {N})"]
    yield "gru variant", gru_mod.gru, (gxs, gh0, gp, "reset_middle"), ["'variant'", "'reset_middle'"]
    yield "gru d_hs", gru_mod.gru_vjp, (gxs, gh0, gp, gd["d_hs"][1:], None), \
        ["'d_hs'", f"({T}, {B}, {N})", f"({T - 1}, {B}, {N})"]
    yield "gru int", gru_mod.gru, (gxs.astype(int), gh0, gp), ["'xs'", "floating", "int"]
    yield "gru p", gru_mod.gru, (gxs, gh0, [1, 2]), ["'p'", "mapping"]
    yield "bi h0_b", bi.gru_bi, (gxs, gh0, gh0[:1], gp, gp), ["'h0_b'", f"({B}, {N})", f"(1, {N})"]
    yield "bi p_b", bi.rnn_bi, (gxs, gh0, gh0, {"W_x": gp["W_xr"], "W_h": gp["W_hr"], "b": gp["b_r"]},
                                {"W_x": gp["W_xr"], "W_h": gp["W_hr"]}), ["'p_b'", "missing", "'b'"]
    yield "bi state", bi.lstm_bi, (xs, (h0, c0), h0, p, p), ["'state_b'", "pair"]
    yield "bi c0_f", bi.lstm_bi, (xs, (h0, c0[:, :1]), (h0, c0), p, p), ["'c0_f'", f"({B}, {N})", f"({B}, 1)"]
    yield "bi W_hg of p_f", bi.lstm_bi, (xs, (h0, c0), (h0, c0), {**p, "W_hg": np.zeros((N, 1))}, p), \
        ["p_f['W_hg']", f"({N}, {N})"]


def check_bad_calls(lstm_mod, gru_mod, bi):
    for label, fn, args, needles in _bad_calls(lstm_mod, gru_mod, bi):
        with pytest.raises(ValueError) as info:
            fn(*args)
        msg = str(info.value)
        assert msg.startswith(fn.__name__ + ":"), (label, msg)
        for needle in needles:
            assert needle in msg, (label, needle, msg)


def check_empty_sequence(lstm_mod, gru_mod):
    d, p = lstm_problem()
    hs, (h_T, c_T) = lstm_mod.lstm(d["xs"][:0], d["h0"], d["c0"], p)
    assert hs.shape == (0, B, N)
    np.testing.assert_array_equal(h_T, d["h0"])
    np.testing.assert_array_equal(c_T, d["c0"])
    g = lstm_mod.lstm_vjp(d["xs"][:0], d["h0"], d["c0"], p, None, d["d_hT"], d["d_cT"])
    np.testing.assert_array_equal(g["h0"], d["d_hT"])
    np.testing.assert_array_equal(g["c0"], d["d_cT"])
    assert g["xs"].shape == (0, B, M) and not any(np.any(v) for v in g["params"].values())
    gd, gp = gru_problem()
    hs, h_T = gru_mod.gru(gd["xs"][:0], gd["h0"], gp)
    assert hs.shape == (0, B, N)
    np.testing.assert_array_equal(h_T, gd["h0"])


# --- NumPy ------------------------------------------------------------------------------------------


def test_numpy_forward_matches_column_vector_loop():
    check_forward(np_lstm, np_gru)


def test_numpy_lstm_vjp_matches_central_differences():
    check_lstm_vjp(np_lstm.lstm_vjp)


@pytest.mark.parametrize("variant", VARIANTS)
def test_numpy_gru_vjp_matches_central_differences(variant):
    check_gru_vjp(np_gru.gru_vjp, variant)


def test_numpy_lstm_vjp_keeps_the_path_through_c():
    # only d_cT is non-zero: the gradient reaches c0 through f (dL/dc0 = d_cT * prod f at T = 1) and h0
    d, p = lstm_problem(6)
    x, h0, c0 = d["xs"][:1], d["h0"], d["c0"]
    f = _sig(x[0] @ p["W_xf"].T + h0 @ p["W_hf"].T + p["b_f"])
    g = np_lstm.lstm_vjp(x, h0, c0, p, None, None, d["d_cT"])
    np.testing.assert_allclose(g["c0"], d["d_cT"] * f, rtol=1e-13)
    assert np.abs(g["h0"]).max() > 0


def test_numpy_bidirectional_layout():
    check_bidirectional(np_bi)


def test_numpy_float32_stays_float32():
    check_float32(np_lstm, np_gru, np_bi)


def test_numpy_inputs_are_never_mutated():
    check_no_mutation(np_lstm, np_gru, np_bi)


def test_numpy_bad_arguments_raise_informative_value_error():
    check_bad_calls(np_lstm, np_gru, np_bi)


def test_numpy_empty_sequence():
    check_empty_sequence(np_lstm, np_gru)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_saturated_gates_without_warnings(dtype):
    d, p = lstm_problem(8, dtype)
    p = {k: v * dtype(1e4) for k, v in p.items()}  # |pre-activation| ~ 1e4: gates exactly 0 / 1
    gd, gp = gru_problem(8, dtype)
    gp = {k: v * dtype(1e4) for k, v in gp.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hs, (_, c_T) = np_lstm.lstm(d["xs"], d["h0"], d["c0"], p)
        g = np_lstm.lstm_vjp(d["xs"], d["h0"], d["c0"], p, d["d_hs"], d["d_hT"], d["d_cT"])
        outs = [hs, c_T, g["xs"], g["h0"], g["c0"], *g["params"].values()]
        for variant in VARIANTS:
            outs += [*np_gru.gru(gd["xs"], gd["h0"], gp, variant)]
            g = np_gru.gru_vjp(gd["xs"], gd["h0"], gp, gd["d_hs"], gd["d_hT"], variant)
            outs += [g["xs"], g["h0"], *g["params"].values()]
    assert all(np.isfinite(o).all() for o in outs)
    assert np.abs(hs).max() <= 1.0


# --- targets and parameter counts -------------------------------------------------------------------


def test_param_count_values():
    n, m = 3, 2
    assert param_count("rnn", n, m) == 6 + 9 + 3 == 18
    assert param_count("lstm", n, m) == 4 * 18 == 72
    assert param_count("gru", n, m, variant="reset_before") == 3 * 18 == 54
    assert param_count("gru", n, m) == param_count("gru", n, m, variant="reset_after") == 3 * 18 + 3 == 57
    # agrees with the parameter dicts the functions consume
    assert sum(v.size for v in _params(np.random.default_rng(0), LSTM_NAMES).values()) == 72
    assert sum(v.size for v in _params(np.random.default_rng(0), GRU_NAMES).values()) == 57
    with pytest.raises(ValueError, match="kind"):
        param_count("transformer", n, m)
    with pytest.raises(ValueError, match="'variant'"):
        param_count("gru", n, m, variant="reset_sideways")


def test_targets_provide_lstm_gru_bi_with_declared_variant():
    t = numpy_target()
    assert {"lstm_cell", "lstm", "lstm_vjp", "gru_cell", "gru", "gru_vjp", "rnn_bi", "lstm_bi", "gru_bi"} <= set(
        t.capabilities)
    assert t.convention("gru") == "reset_after" and t.convention("bias") == "one"
    assert t.param_count("gru", 3, 2) == 57 and t.param_count("lstm", 3, 2) == 72
    rb = numpy_gru_reset_before_target("float32")
    assert rb.dtype == "float32" and rb.convention("gru") == "reset_before" and "reset_before" in rb.name
    assert rb.name != t.name and rb.param_count("gru", 3, 2) == 54
    assert rb.provides("gru") and not rb.provides("lstm") and not rb.provides("rnn")  # its other cells are checked on t
    gd, gp = gru_problem(9)
    for target, variant in ((t, "reset_after"), (rb, "reset_before")):
        ref = gru_loop(gd["xs"], gd["h0"], gp, variant)
        hs, _ = target.gru(gd["xs"], gd["h0"], gp)
        np.testing.assert_allclose(hs, ref, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(target.gru_cell(gd["xs"][0], gd["h0"], gp), ref[0], rtol=1e-13, atol=1e-15)
        ys, _, h_b = target.gru_bi(gd["xs"], gd["h0"], gd["h0"], gp, gp)
        np.testing.assert_allclose(ys[:, :, :N], ref, rtol=1e-13, atol=1e-15)
        g = target.gru_vjp(gd["xs"], gd["h0"], gp, gd["d_hs"], gd["d_hT"])
        assert (variant == "reset_before") == np.array_equal(g["params"]["b_xn"], g["params"]["b_hn"])
    with pytest.raises(ValueError, match="'gru'"):
        numpy_target(gru="reset_sideways")
