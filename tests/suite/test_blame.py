"""Blame: a failing row names the part that is wrong (forward, backward, both) and, where the catalogue of
known bug patterns (properties/diagnose.py) knows it, the likely bug; ``*.vjp.fd_own_dtype`` judges the
backward against the target's OWN forward, so a wrong forward with its matching backward passes it.

The buggy targets are the NumPy reference with one known change (as the meta-suite's mutants are); the
expected parts follow from how each was built, not from the code under test.
"""
from dataclasses import replace

import numpy as np
import pytest

from dlproof.impl.numpy_ref import gru as G
from dlproof.impl.numpy_ref import lstm as L
from dlproof.impl.targets import numpy_target
from dlproof.properties import diagnose, harness
from dlproof.properties.assertions import PropertyFailure
from dlproof.properties.registry import all_properties
from dlproof.target import Target

BASE = numpy_target("float32")


def _run(prop_id, target, tmp_path, profile="dev"):
    """The raised PropertyFailure, or None when the property passes."""
    try:
        harness.run(all_properties()[prop_id], target, "blame", profile=profile, report_dir=tmp_path)
    except PropertyFailure as exc:
        return exc
    return None


def _two_bf(p):
    return {**p, "b_f": 2 * p["b_f"]}


def _lstm_double_forget_bias():
    """Forward with b_f counted twice and its exact gradient (d b_f pulled back through b_f -> 2 b_f)."""
    def vjp(xs, h0, c0, p, d_hs, d_hT, d_cT):
        out = L.lstm_vjp(xs, h0, c0, _two_bf(p), d_hs, d_hT, d_cT)
        out["params"]["b_f"] = 2 * out["params"]["b_f"]
        return out
    return replace(BASE, name="lstm: b_f twice", lstm=lambda xs, h0, c0, p: L.lstm(xs, h0, c0, _two_bf(p)),
                   lstm_cell=lambda x, h, c, p: L.lstm_cell(x, h, c, _two_bf(p)), lstm_vjp=vjp)


def _lstm_c_h():
    """Returns (c_T, h_T); its backward reads the cotangents in that same order (self-consistent)."""
    def fwd(xs, h0, c0, p):
        hs, (h, c) = L.lstm(xs, h0, c0, p)
        return hs, (c, h)
    return replace(BASE, name="lstm: (c, h)", lstm=fwd,
                   lstm_vjp=lambda xs, h0, c0, p, d_hs, d_hT, d_cT: L.lstm_vjp(xs, h0, c0, p, d_hs, d_cT, d_hT))


def _lstm_dW_transposed():
    def vjp(*args):
        out = L.lstm_vjp(*args)
        out["params"]["W_hf"] = np.ascontiguousarray(out["params"]["W_hf"].T)
        return out
    return replace(BASE, name="lstm: dW_hf^T", lstm_vjp=vjp)


def _neg_z(p):
    return {**p, **{k: -p[k] for k in ("W_xz", "W_hz", "b_z")}}  # sigma(-a) = 1 - sigma(a)


def _gru_z_swapped():
    return replace(BASE, name="gru: z and 1-z swapped", gru=lambda xs, h0, p: G.gru(xs, h0, _neg_z(p)),
                   gru_cell=lambda x, h, p: G.gru_cell(x, h, _neg_z(p)))


@pytest.mark.parametrize("make,bug", [(_lstm_double_forget_bias, "forget-gate bias added twice"),
                                      (_lstm_c_h, "final states returned as (c_T, h_T)")])
def test_a_wrong_forward_with_its_own_backward(make, bug, tmp_path):
    target = make()
    exc = _run("lstm.forward", target, tmp_path)
    assert exc is not None and exc.part == "forward" and exc.likely_bug.startswith(bug)
    exc = _run("lstm.vjp", target, tmp_path)
    assert exc is not None and exc.part == "both" and "the forward is wrong too" in str(exc)
    assert _run("lstm.vjp.fd_own_dtype", target, tmp_path, profile="ci") is None  # the backward is right for it


def test_a_backward_only_bug(tmp_path):
    target = _lstm_dW_transposed()
    assert _run("lstm.forward", target, tmp_path) is None
    exc = _run("lstm.vjp", target, tmp_path)
    assert exc.part == "backward" and "dW_hf is the transpose" in exc.likely_bug
    exc = _run("lstm.vjp.fd_own_dtype", target, tmp_path)
    assert exc.part == "backward" and "OWN forward" in str(exc)


def _cs231n_lstm_vjp(with_tanh_path: bool):
    """An LSTM backward written as cs231n's assignment writes it (packed (m, 4n) weights, gate order i, f, o, g;
    column blocks per gate), with or without the h -> c path dh o (1 - tanh^2 c) in the cell-state gradient."""
    order = "ifog"

    def vjp(xs, h0, c0, p, d_hs, d_hT, d_cT):
        n = h0.shape[1]
        Wx = np.concatenate([p[f"W_x{k}"] for k in order]).T
        Wh = np.concatenate([p[f"W_h{k}"] for k in order]).T
        b = np.concatenate([p[f"b_{k}"] for k in order])
        h, c, cache = h0, c0, []
        for x in xs:
            a = x @ Wx + h @ Wh + b
            i, f, o = (1 / (1 + np.exp(-a[:, j * n:(j + 1) * n])) for j in range(3))
            g = np.tanh(a[:, 3 * n:])
            c_new = f * c + i * g
            cache.append((x, h, c, i, f, o, g, np.tanh(c_new)))
            h, c = o * np.tanh(c_new), c_new
        dWx, dWh, db, dxs = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b), np.zeros_like(xs)
        dh, dc = d_hT.copy(), d_cT.copy()
        for t in reversed(range(len(xs))):
            x, hp, cp, i, f, o, g, tc = cache[t]
            dh = dh + d_hs[t]
            dct = dc + dh * o * (1 - tc ** 2) if with_tanh_path else dc
            da = np.hstack([dct * g * i * (1 - i), dct * cp * f * (1 - f), dh * tc * o * (1 - o), dct * i * (1 - g ** 2)])
            dxs[t], dWx, dWh, db = da @ Wx.T, dWx + x.T @ da, dWh + hp.T @ da, db + da.sum(0)
            dh, dc = da @ Wh.T, dct * f
        grads = {}
        for j, k in enumerate(order):
            cols = slice(j * n, (j + 1) * n)
            grads[f"W_x{k}"], grads[f"W_h{k}"], grads[f"b_{k}"] = dWx[:, cols].T, dWh[:, cols].T, db[cols]
        return {"xs": dxs, "h0": dh, "c0": dc, "params": grads}
    return vjp


def test_the_lstm_backward_without_the_tanh_path_is_named(tmp_path):
    right = replace(BASE, name="cs231n lstm", lstm_vjp=_cs231n_lstm_vjp(True))
    assert _run("lstm.vjp", right, tmp_path) is None  # the hand-written backward itself is right
    exc = _run("lstm.vjp", replace(BASE, name="cs231n lstm without dh o (1 - tanh^2 c)",
                                   lstm_vjp=_cs231n_lstm_vjp(False)), tmp_path)
    assert exc is not None and exc.part == "backward"
    assert exc.likely_bug.startswith("the cell-state gradient misses the path through h = o tanh(c)"), str(exc)


def test_gru_z_swapped_is_named(tmp_path):
    exc = _run("gru.forward", _gru_z_swapped(), tmp_path)
    assert exc.part == "forward" and exc.likely_bug == "GRU update uses z and 1-z swapped (h' = z n + (1-z) h)"
    exc = _run("gru.cell.forward", _gru_z_swapped(), tmp_path)
    assert exc.part == "forward" and "z and 1-z swapped" in exc.likely_bug


@pytest.mark.parametrize("prop_id", ["lstm.forward", "lstm.vjp", "gru.forward", "gru.vjp", "rnn.forward", "rnn.vjp"])
def test_the_correct_target_gets_no_blame(prop_id, tmp_path):
    assert _run(prop_id, BASE, tmp_path) is None


def test_every_pattern_names_its_own_mutant_and_not_the_reference():
    """Each forward pattern's output, fed back as a target's output, is recognised as that pattern (or one with
    the same output); the reference output matches none."""
    rng = np.random.default_rng(0)
    T, B, m, n = 3, 2, 3, 3
    for kind in ("lstm", "gru", "rnn"):
        model = {"lstm": __import__("dlproof.properties.lstm", fromlist=["LSTM"]).LSTM,
                 "gru": __import__("dlproof.properties.gru", fromlist=["GRU"]).GRU,
                 "rnn": __import__("dlproof.properties.rnn", fromlist=["RNN"]).RNN}[kind]
        p = {k: rng.normal(size=(n, m) if k.startswith("W_x") else (n, n) if k.startswith("W_h") else (n,))
             for k in model.params}
        args = (rng.normal(size=(T, B, m)), *[rng.normal(size=(B, n)) * 0.5 for _ in model.states], p)
        conv = {"lstm": None, "gru": "reset_after", "rnn": "tanh"}[kind]
        correct = model.oracle_forward(*args, conv)
        tols = model.forward_tol(*args, conv, "float64")
        assert diagnose.forward_match(kind, correct, args, conv, correct, tols) is None
        for pat in (q for q in diagnose.FORWARD if q.capability == kind):
            out = pat.compute(*args, conv)
            if out is None:
                continue
            found = diagnose.forward_match(kind, out, args, conv, correct, tols)
            assert found is not None, pat.name
            again = found.compute(*args, conv)
            assert all(np.allclose(a, b) for a, b in zip((out[0], *out[1]), (again[0], *again[1]))), (pat.name, found.name)


def _d2l_clip(grads, c):
    """The published NumPy rule (d2l's Trainer.clip_gradients): N = sqrt(sum g^2) formed directly; if N > c:
    g * c / N (strict >, no eps, g times c first)."""
    N = np.sqrt(sum(np.sum(g * g) for g in grads))
    if N > c:
        return [g * c / N for g in grads], N
    return [g.copy() for g in grads], N


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_d2l_clip_passes_the_exact_rule(dtype, tmp_path):
    """Away from the ends of the range it IS the exact rule (eps = 0) up to rounding: never accused."""
    t = Target(name="d2l clip", dtype=dtype, conventions={"clip_eps": 0.0}, clip_grad_norm=_d2l_clip)
    for prop_id in ("clip.norm.rule", "clip.norm.direction", "clip.norm.norm", "clip.norm.identity_below",
                    "clip.norm.idempotent"):
        assert _run(prop_id, t, tmp_path) is None, prop_id


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_clip_hint_never_sends_the_user_in_a_circle(dtype, tmp_path):
    """Under every declared clip_norm_scaling, either the declaration passes, or its failure names a value
    that then passes, or it says that none fits (and shows the observed scale)."""
    modes = ("scaled", "unscaled", "unscaled_nan", "unscaled_product_first")

    def target(mode):
        return Target(name=f"d2l clip ({mode})", dtype=dtype, conventions={"clip_eps": 0.0, "clip_norm_scaling": mode},
                      clip_grad_norm=_d2l_clip)

    for prop_id in ("extremes.clip.norm.huge", "extremes.clip.norm.tiny"):
        for mode in modes:
            exc = _run(prop_id, target(mode), tmp_path, profile="ci")
            if exc is None:
                continue
            named = [m for m in modes if f"matches clip_norm_scaling={m!r}" in str(exc)]
            if named:
                assert _run(prop_id, target(named[0]), tmp_path, profile="ci") is None, (prop_id, mode, named)
            elif "clipped" in str(exc).split(":")[0]:
                assert "matches no value of clip_norm_scaling" in str(exc) and "s = " in str(exc)


def test_a_softmax_through_logsumexp_is_named_and_the_stable_one_is_not(tmp_path):
    """exp(x - (max + log sum exp(x - max))) in float32 is off by about u |max| at |x| ~ 1e3 (50-digit mpmath
    agrees with the suite's oracle there, not with it): the failure names the pattern; the max-shifted
    exp(x - max) / sum is never accused."""
    from dataclasses import replace

    import numpy as np

    from dlproof.impl.targets import numpy_target
    from dlproof.properties import harness
    from dlproof.properties.registry import all_properties

    def lse_softmax(x):
        m = np.max(x, axis=-1, keepdims=True)
        return np.exp(x - (m + np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))))

    def shifted_softmax(x):
        e = np.exp(x - np.max(x, axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    base = numpy_target(dtype="float32")
    prop = all_properties()["attn.softmax.forward"]
    bad = harness.run(prop, replace(base, name="lse softmax", softmax=lse_softmax), "lse", profile="ci",
                      report_dir=tmp_path, raises=False)
    assert bad["verdict"] == "fail" and "logsumexp" in (bad["likely_bug"] or ""), bad
    good = harness.run(prop, replace(base, name="shifted softmax", softmax=shifted_softmax), "shifted", profile="ci",
                       report_dir=tmp_path, raises=False)
    assert good["verdict"] == "pass" and good["likely_bug"] is None, good
    # float64: the ci profile draws x = (628.25, -99.04), where the right softmax has a subnormal entry that
    # differs from the oracle below the tolerance floor: no diagnosis may be stricter than the check itself
    ref = harness.run(prop, numpy_target(), "numpy", profile="ci", report_dir=tmp_path, raises=False)
    assert ref["verdict"] == "pass" and ref["likely_bug"] is None, ref
