"""The flax.linen and optax adapters: the weight map (against flax's own cell.init and cell.apply), every
capability against the project's oracles, the (c, h) carry order, the exact shape padding, the refusals,
param_count, optax's clipping rule, and the conformance suite.

Expected values come from dlproof.derivations (oracle_lstm, oracle_gru, oracle_bidirectional, oracle) and closed
forms, never from the adapters. The whole module skips when the optional extra is absent.
"""
from __future__ import annotations

import contextlib
import os
import re

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # before jax is imported: the adapters are meant for CPU

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REASON = "the optional extra dlproof[jax] is not installed"
jax = pytest.importorskip("jax", reason=REASON)
pytest.importorskip("flax", reason=REASON)
optax = pytest.importorskip("optax", reason=REASON)

# JAX compiles per shape bucket (~20 s here): the whole module runs in the slow step (`pytest -m slow`)
pytestmark = pytest.mark.slow

import flax.linen as nn  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from dlproof.derivations import oracle_bidirectional, oracle_clipping, oracle_gru, oracle_lstm  # noqa: E402
from dlproof.impl.adapters import flax_linen as fl  # noqa: E402
from dlproof.impl.adapters import optax_clip as oc  # noqa: E402

T, B, N, M = 3, 2, 5, 3
TIGHT = dict(rtol=1e-10, atol=1e-12)   # float64
LOOSE = dict(rtol=1e-5, atol=2e-6)     # float32 (inputs of size ~1, a few steps)


def _params(kind, rng, n=N, m=M, scale=0.8):
    return {k: rng.normal(0, scale, (n, m) if k.startswith("W_x") else (n, n) if k.startswith("W_h") else (n,))
            for k in fl.PARAMS[kind]}


def _problem(kind, seed=0, n=N, m=M, t=T):
    rng = np.random.default_rng(seed)
    return {"p": _params(kind, rng, n, m), "p_b": _params(kind, rng, n, m), "xs": rng.normal(size=(t, B, m)),
            "h0": rng.normal(0, 0.5, (B, n)), "c0": rng.normal(0, 0.5, (B, n)), "h0_b": rng.normal(0, 0.5, (B, n)),
            "c0_b": rng.normal(0, 0.5, (B, n)), "d_hs": rng.normal(size=(t, B, n)), "d_hT": rng.normal(size=(B, n)),
            "d_cT": rng.normal(size=(B, n))}


@pytest.fixture(scope="module")
def t64():
    return fl.target(dtype="float64")


@pytest.fixture(scope="module")
def t32():
    return fl.target()


def _direct(cell_name, p, xs, states, x64=True):
    """Run flax's cell by hand (a Python loop over cell.apply, no adapter code but the weight map)."""
    kind = fl.CELLS[cell_name]
    with (fl.x64() if x64 else contextlib.nullcontext()):
        dt = jnp.float64 if x64 else jnp.float32
        cell = getattr(nn, cell_name)(features=states[0].shape[1])
        params = jax.tree.map(lambda a: jnp.asarray(a, dt), fl.to_flax(kind, p))
        carry = (jnp.asarray(states[1], dt), jnp.asarray(states[0], dt)) if kind == "lstm" else jnp.asarray(states[0], dt)
        ys = []
        for x in xs:
            carry, y = cell.apply({"params": params}, carry, jnp.asarray(x, dt))
            ys.append(np.asarray(y))
        finals = (np.asarray(carry[1]), np.asarray(carry[0])) if kind == "lstm" else (np.asarray(carry),)
        return np.stack(ys), finals


# ---- the weight map ----------------------------------------------------------------------------------

def test_lstm_map_is_flax_layout():
    p = _problem("lstm")["p"]
    s = fl.to_flax("lstm", p)
    assert sorted(s) == sorted([f"i{g}" for g in "ifgo"] + [f"h{g}" for g in "ifgo"])
    for g in "ifgo":
        assert set(s[f"i{g}"]) == {"kernel"}  # flax's LSTM has no input-side bias (google/flax#3746)
        np.testing.assert_array_equal(s[f"i{g}"]["kernel"], p[f"W_x{g}"].T)
        np.testing.assert_array_equal(s[f"h{g}"]["kernel"], p[f"W_h{g}"].T)
        np.testing.assert_array_equal(s[f"h{g}"]["bias"], p[f"b_{g}"])


def test_gru_map_is_flax_layout():
    p = _problem("gru")["p"]
    s = fl.to_flax("gru", p)
    for g, b in (("r", "b_r"), ("z", "b_z"), ("n", "b_xn")):
        np.testing.assert_array_equal(s[f"i{g}"]["kernel"], p[f"W_x{g}"].T)
        np.testing.assert_array_equal(s[f"i{g}"]["bias"], p[b])
        np.testing.assert_array_equal(s[f"h{g}"]["kernel"], p[f"W_h{g}"].T)
    assert set(s["hr"]) == set(s["hz"]) == {"kernel"}
    np.testing.assert_array_equal(s["hn"]["bias"], p["b_hn"])


@pytest.mark.parametrize("cell_name", sorted(fl.CELLS))
def test_map_matches_flax_init_and_round_trips(cell_name):
    kind = fl.CELLS[cell_name]
    p = _problem(kind)["p"]
    s = fl.to_flax(kind, p)
    fl.check_layout(cell_name, s, N, M)  # the names and shapes cell.init creates
    back = fl.from_flax(kind, s)
    assert list(back) == list(fl.PARAMS[kind])
    for k, v in p.items():
        np.testing.assert_array_equal(back[k], v, err_msg=k)


@pytest.mark.parametrize("cell_name", sorted(fl.CELLS))
def test_flax_initialised_params_read_back_compute_what_flax_computes(cell_name):
    """From flax's own init: from_flax gives params on which the oracle equals cell.apply (the map is the math)."""
    kind = fl.CELLS[cell_name]
    q = _problem(kind, 4)
    with fl.x64():
        cell = getattr(nn, cell_name)(features=N, param_dtype=jnp.float64)
        h0, c0 = jnp.asarray(q["h0"]), jnp.asarray(q["c0"])
        carry = (c0, h0) if kind == "lstm" else h0
        variables = cell.init(jax.random.key(1), carry, jnp.asarray(q["xs"][0]))
        variables = jax.tree.map(lambda a: a + 0.3 * jnp.sign(a + 0.1), variables)  # non-zero biases too
        p = fl.from_flax(kind, jax.tree.map(np.asarray, variables["params"]))
        new, y = cell.apply(variables, carry, jnp.asarray(q["xs"][0]))
    if kind == "lstm":
        hs, (hT, cT) = oracle_lstm.lstm_forward(q["xs"][:1], q["h0"], q["c0"], p)
        np.testing.assert_allclose(np.asarray(new[0]), cT, **TIGHT)  # carry (c, h): c first
        np.testing.assert_allclose(np.asarray(new[1]), hT, **TIGHT)
    else:
        hs, hT = oracle_gru.gru_forward(q["xs"][:1], q["h0"], p)
        np.testing.assert_allclose(np.asarray(new), hT, **TIGHT)
    np.testing.assert_allclose(np.asarray(y), hs[0], **TIGHT)


def test_from_flax_refuses_a_tree_outside_the_map():
    s = fl.to_flax("gru", _problem("gru")["p"])
    s["hr"]["bias"] = np.zeros(N)
    with pytest.raises(ValueError, match=r"unexpected \[\('hr', 'bias'\)\]"):
        fl.from_flax("gru", s)
    s = fl.to_flax("lstm", _problem("lstm")["p"])
    del s["ho"]
    with pytest.raises(ValueError, match="missing"):
        fl.from_flax("lstm", s)
    with pytest.raises(ValueError, match="kind"):
        fl.to_flax("rnn", {})


def test_check_layout_refuses_a_mis_shaped_tree():
    s = fl.to_flax("lstm", _problem("lstm")["p"])
    s["ii"]["kernel"] = s["ii"]["kernel"].T
    with pytest.raises(ValueError, match="refused"):
        fl.check_layout("LSTMCell", s, N, M)


# ---- capabilities vs the oracles ----------------------------------------------------------------------

def _check_lstm(t, q, tol):
    xs, h0, c0, p = q["xs"], q["h0"], q["c0"], q["p"]
    h1, c1 = t.lstm_cell(xs[0], h0, c0, p)
    e_hs, (e_h, e_c) = oracle_lstm.lstm_forward(xs[:1], h0, c0, p)
    np.testing.assert_allclose(h1, e_h, **tol)
    np.testing.assert_allclose(c1, e_c, **tol)
    hs, (hT, cT) = t.lstm(xs, h0, c0, p)
    e_hs, (e_h, e_c) = oracle_lstm.lstm_forward(xs, h0, c0, p)
    assert hs.shape == (len(xs), B, N) and hs.dtype == np.dtype(t.dtype)
    np.testing.assert_allclose(hs, e_hs, **tol)
    np.testing.assert_allclose(hT, e_h, **tol)
    np.testing.assert_allclose(cT, e_c, **tol)
    g = t.lstm_vjp(xs, h0, c0, p, q["d_hs"], q["d_hT"], q["d_cT"])
    e = oracle_lstm.lstm_vjp(xs, h0, c0, p, q["d_hs"], q["d_hT"], q["d_cT"])
    for k in ("xs", "h0", "c0"):
        np.testing.assert_allclose(g[k], e[k], **tol, err_msg=k)
    assert list(g["params"]) == list(fl.PARAMS["lstm"])
    for k in fl.PARAMS["lstm"]:
        np.testing.assert_allclose(g["params"][k], e["params"][k], **tol, err_msg=k)
    ys, (hf, cf), (hb, cb) = t.lstm_bi(xs, (h0, c0), (q["h0_b"], q["c0_b"]), p, q["p_b"])
    e_ys, (e_hf, e_cf), (e_hb, e_cb) = oracle_bidirectional.lstm_bi(xs, (h0, c0), (q["h0_b"], q["c0_b"]), p, q["p_b"])
    for a, b in ((ys, e_ys), (hf, e_hf), (cf, e_cf), (hb, e_hb), (cb, e_cb)):
        np.testing.assert_allclose(a, b, **tol)


def _check_gru(t, q, tol):
    xs, h0, p = q["xs"], q["h0"], q["p"]
    np.testing.assert_allclose(t.gru_cell(xs[0], h0, p), oracle_gru.gru_forward(xs[:1], h0, p)[1], **tol)
    hs, hT = t.gru(xs, h0, p)
    e_hs, e_h = oracle_gru.gru_forward(xs, h0, p)
    np.testing.assert_allclose(hs, e_hs, **tol)
    np.testing.assert_allclose(hT, e_h, **tol)
    g = t.gru_vjp(xs, h0, p, q["d_hs"], q["d_hT"])
    e = oracle_gru.gru_vjp(xs, h0, p, q["d_hs"], q["d_hT"])
    for k in ("xs", "h0"):
        np.testing.assert_allclose(g[k], e[k], **tol, err_msg=k)
    for k in fl.PARAMS["gru"]:
        np.testing.assert_allclose(g["params"][k], e["params"][k], **tol, err_msg=k)
    ys, hf, hb = t.gru_bi(xs, h0, q["h0_b"], p, q["p_b"])
    e_ys, e_f, e_b = oracle_bidirectional.gru_bi(xs, h0, q["h0_b"], p, q["p_b"])
    np.testing.assert_allclose(ys, e_ys, **tol)
    np.testing.assert_allclose(hf, e_f, **tol)
    np.testing.assert_allclose(hb, e_b, **tol)
    np.testing.assert_allclose(hb, ys[0, :, N:], **tol)  # the backward state after reading x_0


def test_lstm_capabilities_match_the_oracle_float64(t64):
    _check_lstm(t64, _problem("lstm", 2), TIGHT)


def test_gru_capabilities_match_the_oracle_float64(t64):
    _check_gru(t64, _problem("gru", 3), TIGHT)


def test_capabilities_match_the_oracle_float32(t32):
    _check_lstm(t32, _problem("lstm", 5), LOOSE)
    _check_gru(t32, _problem("gru", 6), LOOSE)


def test_optimized_lstm_cell_matches_the_oracle():
    t = fl.optimized_lstm_target(dtype="float64")
    assert "OptimizedLSTMCell" in t.name and t.capabilities == ["lstm_cell", "lstm", "lstm_vjp", "lstm_bi",
                                                                  "param_count"]
    _check_lstm(t, _problem("lstm", 7), TIGHT)


def test_the_lstm_carry_is_c_first_in_flax_and_h_first_in_the_protocol(t64):
    q = _problem("lstm", 8)
    h, c = q["h0"], 3.0 * q["c0"] + 1.0  # clearly different states
    h1, c1 = t64.lstm_cell(q["xs"][0], h, c, q["p"])
    _, (dh, dc) = _direct("LSTMCell", q["p"], q["xs"][:1], (h, c))
    np.testing.assert_allclose(h1, dh, **TIGHT)
    np.testing.assert_allclose(c1, dc, **TIGHT)
    swapped, _ = t64.lstm_cell(q["xs"][0], c, h, q["p"])
    assert not np.allclose(swapped, h1)  # the order matters on this problem


def test_padding_is_exact_and_a_non_finite_input_runs_at_exact_shapes(t64, monkeypatch):
    q = _problem("gru", 9)  # T = 3 is padded to 4, n = 5 and m = 3 to 8, B = 2 to 8
    padded = t64.gru(q["xs"], q["h0"], q["p"])
    g_padded = t64.gru_vjp(q["xs"], q["h0"], q["p"], q["d_hs"], q["d_hT"])
    monkeypatch.setattr(fl, "SIZE_BUCKET", 1)
    monkeypatch.setattr(fl, "MIN_T", 1)
    exact = t64.gru(q["xs"], q["h0"], q["p"])
    g_exact = t64.gru_vjp(q["xs"], q["h0"], q["p"], q["d_hs"], q["d_hT"])
    for a, b in zip(padded, exact):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)
    for k in ("xs", "h0"):
        np.testing.assert_allclose(g_padded[k], g_exact[k], rtol=1e-13, atol=1e-14)
    monkeypatch.undo()
    xs = q["xs"].copy()
    xs[1, 0, 0] = np.inf  # 0 * inf in padded units would leak NaN into every unit
    hs, _ = t64.gru(xs, q["h0"], q["p"])
    ref, _ = _direct("GRUCell", q["p"], xs, (q["h0"],))
    np.testing.assert_array_equal(np.isnan(hs), np.isnan(ref))
    np.testing.assert_allclose(hs, ref, **TIGHT)
    assert np.isfinite(hs[:, 1]).all()  # batch row 1 never saw the inf


def test_float64_is_scoped_and_inputs_are_not_mutated(t64, t32):
    q = _problem("lstm", 10)
    before = {k: (v.copy() if isinstance(v, np.ndarray) else {kk: vv.copy() for kk, vv in v.items()})
              for k, v in q.items()}
    t64.lstm_vjp(q["xs"], q["h0"], q["c0"], q["p"], q["d_hs"], q["d_hT"], q["d_cT"])
    assert not jax.config.jax_enable_x64
    assert jnp.asarray(1.0).dtype == jnp.float32
    out = t32.lstm(q["xs"], q["h0"], q["c0"], q["p"])  # float64 inputs are computed in float32
    assert out[0].dtype == np.float32 and out[1][1].dtype == np.float32
    for k, v in before.items():
        if isinstance(v, dict):
            for kk in v:
                np.testing.assert_array_equal(q[k][kk], v[kk])
        else:
            np.testing.assert_array_equal(q[k], v)


def test_conventions_and_names(t32):
    assert t32.conventions == {"gru": "reset_after", "bias": "one", "subnormals": "flush_to_zero"}
    assert "flax" in t32.name and "float32" in t32.name and t32.dtype == "float32"
    assert set(t32.capabilities) == {"lstm_cell", "lstm", "lstm_vjp", "lstm_bi", "gru_cell", "gru", "gru_vjp",
                                     "gru_bi", "param_count"}


def test_bad_arguments_are_refused_by_name(t32):
    q = _problem("lstm")
    with pytest.raises(ValueError, match="T = 0"):
        t32.lstm(q["xs"][:0], q["h0"], q["c0"], q["p"])
    with pytest.raises(ValueError, match="'h0'"):
        t32.lstm(q["xs"], q["h0"][:, :2], q["c0"], q["p"])
    bad = dict(q["p"], W_hf=np.zeros((N, N + 1)))
    with pytest.raises(ValueError, match="W_hf"):
        t32.lstm_cell(q["xs"][0], q["h0"], q["c0"], bad)
    with pytest.raises(ValueError, match="d_cT"):
        t32.lstm_vjp(q["xs"], q["h0"], q["c0"], q["p"], q["d_hs"], q["d_hT"], np.zeros((B, N + 1)))
    with pytest.raises(ValueError, match="state_f"):
        t32.lstm_bi(q["xs"], q["h0"], (q["h0"], q["c0"]), q["p"], q["p_b"])
    with pytest.raises(ValueError, match="dtype"):
        fl.target(dtype="float16")


@pytest.mark.parametrize("n, m", [(1, 1), (3, 2), (5, 7)])
def test_param_count_is_flaxs_count(n, m):
    assert fl.param_count("lstm", n, m) == 4 * (n * m + n * n + n)  # hidden-side biases only: bias = "one"
    assert fl.param_count("lstm", n, m, lstm_cell="OptimizedLSTMCell") == 4 * (n * m + n * n + n)
    assert fl.param_count("gru", n, m) == 3 * (n * m + n * n + n) + n  # + b_hn: reset_after with bias = "one"
    assert fl.param_count("rnn", n, m) == n * m + n * n + n  # SimpleCell
    with pytest.raises(ValueError, match="'n'"):
        fl.param_count("gru", 0, m)


def test_missing_flax_gives_the_install_hint(monkeypatch):
    import builtins

    real = builtins.__import__

    def fake(name, *a, **kw):
        if name.split(".")[0] in ("jax", "flax", "optax"):
            raise ImportError(f"No module named {name!r}")
        return real(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ImportError, match=re.escape("pip install 'dlproof[jax]'")):
        fl.target()
    with pytest.raises(ImportError, match=re.escape("dlproof.impl.adapters.optax_clip needs jax and optax")):
        oc.target()


# ---- optax -------------------------------------------------------------------------------------------

def _grads(rng, scale):
    return [rng.normal(0, scale, s) for s in ((3, 2), (4,), (1, 5))]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("factor", [0.05, 0.8, 1.25, 10.0])
def test_clip_by_global_norm_is_the_exact_rule_and_returns_the_norm(dtype, factor):
    t = oc.target(dtype=dtype)
    assert t.conventions == {"clip_eps": 0.0, "clip_scope": "global", "clip_norm_scaling": "unscaled",
                             "subnormals": "flush_to_zero"}
    grads = [g.astype(dtype) for g in _grads(np.random.default_rng(1), 1.0)]
    N_ = float(np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads)))
    c = factor * N_
    copies = [g.copy() for g in grads]
    clipped, norm = t.clip_grad_norm(grads, c)
    expected, e_norm = oracle_clipping.clip_by_norm([g.astype(np.float64) for g in grads], c, 0.0, "global")
    rtol = 1e-6 if dtype == "float32" else 1e-14
    for a, e, g, g0 in zip(clipped, expected, grads, copies):
        assert a.dtype == np.dtype(dtype)
        np.testing.assert_allclose(a, e, rtol=rtol, atol=0)
        np.testing.assert_array_equal(g, g0)  # not mutated
        if factor > 1:
            np.testing.assert_array_equal(a, g)  # below the limit: optax's select returns g itself
    assert norm == pytest.approx(e_norm, rel=rtol)


def test_clip_by_global_norm_at_the_threshold_takes_the_clip_branch_with_the_same_values():
    """optax's strict `<`: at N = c the clip branch (g / N) * c runs, which is g up to rounding."""
    grads = [np.array([3.0, 4.0])]  # N = 5 exactly
    clipped, norm = oc.target(dtype="float64").clip_grad_norm(grads, 5.0)
    assert norm == 5.0
    np.testing.assert_allclose(clipped[0], grads[0], rtol=1e-15)


def test_clip_value_clamps():
    g = [np.array([-3.0, 0.5, 2.0], np.float32), np.array([[10.0]], np.float32)]
    out = oc.target().clip_grad_value(g, 1.0)
    np.testing.assert_array_equal(out[0], np.array([-1.0, 0.5, 1.0], np.float32))
    assert out[1][0, 0] == 1.0 and g[1][0, 0] == 10.0
    with pytest.raises(ValueError, match="clip_value"):
        oc.target().clip_grad_value(g, -1.0)
    with pytest.raises(ValueError, match="max_norm"):
        oc.target().clip_grad_norm(g, 0.0)


# ---- the conformance suite -----------------------------------------------------------------------------

def _run_suite(target, spec, only=None):
    from dlproof.properties import harness, results
    from dlproof.properties.registry import all_properties

    saved = list(results.ROWS)
    failures, verdicts = [], {}
    try:
        for pid, prop in all_properties().items():
            if only is not None and pid not in only:
                continue
            try:
                verdicts[pid] = harness.run(prop, target, spec, profile="dev", seed_value=0)["verdict"]
            except Exception as exc:  # noqa: BLE001 - report which property failed and why
                failures.append(f"{pid}: {type(exc).__name__}: {exc}")
    finally:
        results.ROWS[:] = saved
    return verdicts, failures


SMOKE = ("lstm.cell.forward", "lstm.forward", "gru.vjp", "gru.param_count", "lstm.param_count")


def test_conformance_smoke_subset_passes(t32):
    v, failures = _run_suite(t32, "flax", only=SMOKE)
    assert not failures, "\n".join(failures)
    assert set(v) == set(SMOKE) and all(x == "pass" for x in v.values()), v
    v, failures = _run_suite(oc.target(), "optax", only=("clip.norm.rule",))
    assert not failures and set(v.values()) == {"pass"}, (v, failures)


def test_misdeclared_gru_variant_fails_the_gru_properties():
    from dataclasses import replace

    t = replace(fl.target(dtype="float64"), conventions={"gru": "reset_before", "bias": "one"})
    v, failures = _run_suite(t, "flax.misdeclared", only=("gru.cell.forward",))
    assert failures and "gru.cell.forward" in failures[0]


@pytest.mark.slow
@pytest.mark.parametrize("spec, make", [
    ("flax", lambda: fl.target()), ("flax.float64", lambda: fl.target(dtype="float64")),
    ("flax.optimized_lstm", lambda: fl.optimized_lstm_target()), ("optax", lambda: oc.target()),
    ("optax.float64", lambda: oc.target(dtype="float64"))])
def test_conformance_whole_suite_passes(spec, make):
    v, failures = _run_suite(make(), spec)
    assert not failures, "\n".join(failures)
    assert "pass" in v.values()
    assert set(v.values()) <= {"pass", "not provided"}, v
