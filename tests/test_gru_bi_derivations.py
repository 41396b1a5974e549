"""GRU (both reset variants) and bidirectional derivations: record statuses, and the oracles against
independent explicit loops and central finite differences."""
import functools

import numpy as np
import pytest

from dlproof.properties import finite_difference as FD

VARIANTS = ("reset_after", "reset_before")
PARAMS = ("W_xr", "W_hr", "b_r", "W_xz", "W_hz", "b_z", "W_xn", "W_hn", "b_xn", "b_hn")


@functools.lru_cache(maxsize=None)
def _record(rid):
    """One record, from the derivation cache (tests/test_derivations.py checks the cache against a fresh proof)."""
    from dlproof import derivations

    return derivations.records()[rid]


EXPECTED = {
    "definition": ["gru.cell.forward.reset_after", "gru.cell.forward.reset_before", "bi.output_layout"],
    # proved for every size: per-unit scalar identities, polynomials in symbolic n, m, and the cell
    # Jacobians and gradients entry-wise at symbolic n, m (both variants)
    # and the bidirectional reversal and final states by induction over T
    "proved": ["gru.convexity", "gru.bounded_state", "gru.param_count", "gru.lstm_param_ratio",
               "bi.backward_is_reversed_forward", "bi.final_states"]
    + [f"gru.cell.jacobian_{w}.{v}" for w in ("h", "x", "weights") for v in VARIANTS],
    # "generically non-zero" rests on the cited zero-set lemma of real-analytic functions
    "proved-from-lemmas": ["bi.full_dependence"],
    "refuted": ["gru.variants_differ"],
}


@pytest.mark.parametrize("status,rid", [(s, r) for s, ids in EXPECTED.items() for r in ids])
def test_record_status(status, rid):
    rec = _record(rid)
    assert rec["status"] == status, rec["obligations"]
    assert {o["status"] for o in rec["obligations"]} == {"proved"}
    assert rec["citation"]["seed"].startswith("seed §") and rec["citation"]["primary"]
    assert rec["scope"]["parameters"] is not None
    if status == "checked-at-sizes":
        assert rec["scope"]["sizes"] and "checked" in (rec["title"] + rec["notes"] + " ".join(rec["assumptions"])).lower()


def test_refutation_title_states_the_claim():
    assert _record("gru.variants_differ")["title"] == "Reset-after and reset-before GRUs compute the same function"


def test_wrong_param_count_is_not_proved():
    """The general (symbolic n, m) count machinery rejects a wrong closed form (3n(n+m) + 2n with one bias)."""
    from dlproof.derivations import gru
    from dlproof.derivations.prove import prove_equal

    cell = gru.GRUCell(gru._n, gru._m, "reset_before")
    n_w = sum(getattr(cell, p).shape[0] * getattr(cell, p).shape[1] for p in PARAMS if p.startswith("W"))
    assert prove_equal(n_w + 3 * gru._n, 3 * gru._n * (gru._n + gru._m) + 2 * gru._n).status != "proved"


def test_gru_jacobians_obligations_are_general():
    """Every obligation of the six Jacobian/gradient records is a symbolic-size check (no sized scope)."""
    for w in ("h", "x", "weights"):
        for v in VARIANTS:
            rec = _record(f"gru.cell.jacobian_{w}.{v}")
            assert {o["scope"]["kind"] for o in rec["obligations"]} == {"general"}, rec["id"]
            assert len(rec["obligations"]) == (10 if w == "weights" else 2)


def _wrong_jacobians():
    """Deliberately wrong compact formulas for the reset-after cell, at symbolic n, m."""
    import sympy as sp

    from dlproof.derivations import gru
    from dlproof.derivations.lstm import SM, SN

    c = gru.symbolic_gru("reset_after")[0]
    before = gru.GRUCell(SN, SM, "reset_before")
    dan_dh = sp.DiagMatrix(sp.HadamardProduct(c.u, c.dr)) * c.W_hr + sp.DiagMatrix(c.r) * c.W_hn
    no_one_minus_z = sp.DiagMatrix(c.z) + c._D_z() * c.W_hz + sp.DiagMatrix(c.dn) * dan_dh  # (1 - z) dropped
    ungated = sp.HadamardProduct(c.z, c.delta) + c.W_hz.T * c.g_z() + c.W_hr.T * c.g_r() + c.W_hn.T * c.g_n()
    return [("jacobian", "h", no_one_minus_z, "dh'/dh without the (1 - z) factor on the candidate path"),
            ("jacobian", "h", before.jac_h(), "the reset-before Jacobian used for the reset-after cell"),
            ("vjp", "h", ungated, "J_h^T delta with W_hn^T g_n instead of W_hn^T (r * g_n)"),
            ("vjp", "b_hn", c.g_n(), "the b_hn gradient without its reset gate r (the reset-before form)")]


@pytest.mark.parametrize("case", range(4))
def test_wrong_compact_gru_formula_is_not_proved(case):
    """The symbolic-size machinery never proves a wrong compact formula (it must come back undecided)."""
    from dlproof.derivations import gru

    kind, wrt, compact, why = _wrong_jacobians()[case]
    fn = gru.general_jacobian if kind == "jacobian" else gru.general_vjp
    assert fn("reset_after", wrt, compact=compact).status != "proved", why
    # and the right formula, through the same call, is proved
    assert fn("reset_after", wrt).status == "proved"


def test_records_name_layout_and_float_bound():
    assert "numerator" in _record("gru.cell.jacobian_h.reset_after")["layout"]
    rec = _record("gru.bounded_state")
    assert "1 + 2u" in rec["latex"] and "1 + 2u" in rec["notes"] and "ulp" in rec["notes"]


# ---- independent references: explicit per-sample, per-step loops ----

def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def ref_gru_step(x, h, p, variant):
    r = _sig(p["W_xr"] @ x + p["W_hr"] @ h + p["b_r"])
    z = _sig(p["W_xz"] @ x + p["W_hz"] @ h + p["b_z"])
    if variant == "reset_after":
        n = np.tanh(p["W_xn"] @ x + p["b_xn"] + r * (p["W_hn"] @ h + p["b_hn"]))
    else:
        n = np.tanh(p["W_xn"] @ x + p["b_xn"] + p["b_hn"] + p["W_hn"] @ (r * h))
    return z * h + (1 - z) * n


def ref_gru(xs, h0, p, variant):
    T, B = xs.shape[:2]
    hs = np.empty((T, B, h0.shape[1]))
    for b in range(B):
        h = h0[b]
        for t in range(T):
            h = hs[t, b] = ref_gru_step(xs[t, b], h, p, variant)
    return hs


def ref_rnn(xs, h0, p):
    T, B = xs.shape[:2]
    hs = np.empty((T, B, h0.shape[1]))
    for b in range(B):
        h = h0[b]
        for t in range(T):
            h = hs[t, b] = np.tanh(p["W_x"] @ xs[t, b] + p["W_h"] @ h + p["b"])
    return hs


def gru_problem(seed=0, T=4, B=3, n=3, m=2, scale=0.8):
    rng = np.random.default_rng(seed)
    p = {}
    for k in PARAMS:
        shape = (n, m) if k.startswith("W_x") else (n, n) if k.startswith("W_h") else (n,)
        p[k] = rng.normal(0, scale, shape)
    xs, h0 = rng.normal(size=(T, B, m)), rng.uniform(-1, 1, (B, n))
    return xs, h0, p, rng.normal(size=(T, B, n)), rng.normal(size=(B, n))


@pytest.mark.parametrize("variant", VARIANTS)
def test_gru_forward_matches_explicit_loop(variant):
    from dlproof.derivations import oracle_gru

    xs, h0, p, _, _ = gru_problem(1)
    hs, hT = oracle_gru.gru_forward(xs, h0, p, variant)
    want = ref_gru(xs, h0, p, variant)
    assert np.allclose(hs, want, rtol=1e-13, atol=1e-14) and np.array_equal(hT, hs[-1])
    assert np.allclose(oracle_gru.gru_cell(xs[0], h0, p, variant), want[0], rtol=1e-13, atol=1e-14)


def test_gru_variants_differ_and_wrong_variant_is_an_error():
    from dlproof.derivations import oracle_gru

    n, m = 1, 1
    p = {k: np.zeros((n, m) if k.startswith("W_x") else (n, n) if k.startswith("W_h") else (n,)) for k in PARAMS}
    p["b_hn"] = np.ones(1)
    x, h = np.zeros((1, m)), np.zeros((1, n))
    assert np.isclose(oracle_gru.gru_cell(x, h, p, "reset_after")[0, 0], np.tanh(0.5) / 2, rtol=1e-15)
    assert np.isclose(oracle_gru.gru_cell(x, h, p, "reset_before")[0, 0], np.tanh(1.0) / 2, rtol=1e-15)
    with pytest.raises(ValueError, match="reset_after"):
        oracle_gru.gru_cell(x, h, p, "reset_middle")


@pytest.mark.parametrize("variant", VARIANTS)
def test_gru_vjp_matches_central_differences(variant):
    from dlproof.derivations import oracle_gru

    xs, h0, p, d_hs, d_hT = gru_problem(2, T=3, B=2, n=3, m=2)

    def loss(name, value):
        a = {"xs": xs, "h0": h0, **p, name: value}
        hs = ref_gru(a["xs"], a["h0"], {k: a[k] for k in p}, variant)
        return float(np.sum(d_hs * hs) + np.sum(d_hT * hs[-1]))

    def fd(name, value):
        return FD.gradient(functools.partial(loss, name), value)

    got = oracle_gru.gru_vjp(xs, h0, p, d_hs, d_hT, variant)
    assert set(got["params"]) == set(PARAMS)
    for k in PARAMS:
        assert got["params"][k].shape == p[k].shape
        assert np.allclose(got["params"][k], fd(k, p[k]), rtol=1e-6, atol=1e-8), k
    assert np.allclose(got["xs"], fd("xs", xs), rtol=1e-6, atol=1e-8)
    assert np.allclose(got["h0"], fd("h0", h0), rtol=1e-6, atol=1e-8)
    if variant == "reset_before":  # b_xn and b_hn only act as a sum
        assert np.array_equal(got["params"]["b_xn"], got["params"]["b_hn"])
    else:
        assert not np.allclose(got["params"]["b_xn"], got["params"]["b_hn"])


@pytest.mark.parametrize("variant", VARIANTS)
def test_gru_jacobians_and_chain(variant):
    from dlproof.derivations import oracle_gru

    xs, h0, p, _, _ = gru_problem(3, T=4, B=2, n=3, m=2)
    b = 1
    J = oracle_gru.gru_cell_jacobian_h(xs[0], h0, p, variant)[b]
    h = h0[b].copy()
    fd = np.stack([(ref_gru_step(xs[0, b], h + e, p, variant) - ref_gru_step(xs[0, b], h - e, p, variant)) / 2e-6
                   for e in np.eye(3) * 1e-6], axis=1)
    assert np.allclose(J, fd, rtol=1e-6, atol=1e-9)
    Jx = oracle_gru.gru_cell_jacobian_x(xs[0], h0, p, variant)[b]
    fdx = np.stack([(ref_gru_step(xs[0, b] + e, h, p, variant) - ref_gru_step(xs[0, b] - e, h, p, variant)) / 2e-6
                    for e in np.eye(2) * 1e-6], axis=1)
    assert np.allclose(Jx, fdx, rtol=1e-6, atol=1e-9)
    # the chain dh_4/dh_1 against finite differences of the loop from h_1
    hs, _ = oracle_gru.gru_forward(xs, h0, p, variant)
    P = oracle_gru.gru_chain(xs, h0, p, 1, 4, variant)[b]

    def run_from(h1):
        h = h1
        for t in range(1, 4):
            h = ref_gru_step(xs[t, b], h, p, variant)
        return h

    fdc = np.stack([(run_from(hs[0, b] + e) - run_from(hs[0, b] - e)) / 2e-6 for e in np.eye(3) * 1e-6], axis=1)
    assert np.allclose(P, fdc, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("variant", VARIANTS)
def test_gru_state_stays_in_unit_ball_and_float32_within_one_ulp(variant):
    """gru.bounded_state: exact over the reals; float32 within 1 + 2u for the order z*h + (1-z)*n."""
    from dlproof.derivations import oracle_gru

    xs, h0, p, _, _ = gru_problem(4, T=30, B=64, n=4, m=3, scale=6.0)  # saturated gates too
    hs, _ = oracle_gru.gru_forward(xs, h0, p, variant)
    assert np.abs(hs).max() <= 1.0
    rng = np.random.default_rng(5)
    N = 200_000
    one = np.float32(1)
    z = rng.random(N).astype(np.float32)
    h = np.where(rng.random(N) < 0.3, one, rng.uniform(-1, 1, N)).astype(np.float32) * np.sign(rng.normal(size=N)).astype(np.float32)
    nn = np.tanh(rng.normal(0, 10, N)).astype(np.float32)
    out = z * h + (one - z) * nn
    assert out.dtype == np.float32
    assert np.abs(out).max() <= np.float32(1 + 2.0 ** -23)


# ---- bidirectional ----

def _rnn_params(rng, n, m):
    return {"W_x": rng.normal(0, 0.8, (n, m)), "W_h": rng.normal(0, 0.8, (n, n)), "b": rng.normal(0, 0.3, n)}


def test_rnn_bi_matches_explicit_loop_and_final_states():
    from dlproof.derivations import oracle_bidirectional

    rng = np.random.default_rng(6)
    T, B, n, m = 5, 2, 3, 2
    xs = rng.normal(size=(T, B, m))
    p_f, p_b = _rnn_params(rng, n, m), _rnn_params(rng, n, m)
    h0_f, h0_b = rng.normal(0, 0.5, (B, n)), rng.normal(0, 0.5, (B, n))
    ys, h_f, h_b = oracle_bidirectional.rnn_bi(xs, h0_f, h0_b, p_f, p_b)
    want = np.zeros((T, B, 2 * n))
    for b in range(B):
        h = h0_f[b]
        for t in range(T):
            h = want[t, b, :n] = np.tanh(p_f["W_x"] @ xs[t, b] + p_f["W_h"] @ h + p_f["b"])
        h = h0_b[b]
        for t in range(T - 1, -1, -1):  # the backward recursion, directly
            h = want[t, b, n:] = np.tanh(p_b["W_x"] @ xs[t, b] + p_b["W_h"] @ h + p_b["b"])
    assert ys.shape == (T, B, 2 * n)
    assert np.allclose(ys, want, rtol=1e-13, atol=1e-14)
    assert np.array_equal(h_f, ys[-1, :, :n]) and np.array_equal(h_b, ys[0, :, n:])
    assert not np.allclose(h_b, ys[-1, :, n:])


@pytest.mark.parametrize("variant", VARIANTS)
def test_gru_bi_matches_explicit_loop(variant):
    from dlproof.derivations import oracle_bidirectional

    xs, h0_f, p_f, _, _ = gru_problem(7, T=4, B=2, n=3, m=2)
    _, h0_b, p_b, _, _ = gru_problem(8, T=4, B=2, n=3, m=2)
    ys, h_f, h_b = oracle_bidirectional.gru_bi(xs, h0_f, h0_b, p_f, p_b, variant)
    fwd = ref_gru(xs, h0_f, p_f, variant)
    bwd = ref_gru(xs[::-1], h0_b, p_b, variant)[::-1]
    assert np.allclose(ys, np.concatenate([fwd, bwd], axis=-1), rtol=1e-13, atol=1e-14)
    assert np.array_equal(h_f, ys[-1, :, :3]) and np.array_equal(h_b, ys[0, :, 3:])


def test_lstm_bi():
    from dlproof.derivations import oracle_bidirectional

    rng = np.random.default_rng(9)
    T, B, n, m = 4, 2, 3, 2

    def params():
        p = {}
        for g in "ifgo":
            p[f"W_x{g}"], p[f"W_h{g}"], p[f"b_{g}"] = rng.normal(0, 0.8, (n, m)), rng.normal(0, 0.8, (n, n)), rng.normal(0, 0.3, n)
        return p

    def ref(xs, h0, c0, p):
        hs, cT = np.empty((xs.shape[0], B, n)), np.empty((B, n))
        for b in range(B):
            h, c = h0[b], c0[b]
            for t in range(xs.shape[0]):
                a = {g: p[f"W_x{g}"] @ xs[t, b] + p[f"W_h{g}"] @ h + p[f"b_{g}"] for g in "ifgo"}
                c = _sig(a["f"]) * c + _sig(a["i"]) * np.tanh(a["g"])
                h = hs[t, b] = _sig(a["o"]) * np.tanh(c)
            cT[b] = c
        return hs, cT

    xs = rng.normal(size=(T, B, m))
    p_f, p_b = params(), params()
    s_f = (rng.normal(0, 0.5, (B, n)), rng.normal(0, 0.5, (B, n)))
    s_b = (rng.normal(0, 0.5, (B, n)), rng.normal(0, 0.5, (B, n)))
    ys, (h_f, c_f), (h_b, c_b) = oracle_bidirectional.lstm_bi(xs, s_f, s_b, p_f, p_b)
    fwd, cf = ref(xs, *s_f, p_f)
    bwd, cb = ref(xs[::-1], *s_b, p_b)
    assert np.allclose(ys, np.concatenate([fwd, bwd[::-1]], axis=-1), rtol=1e-12, atol=1e-13)
    assert np.allclose(h_f, fwd[-1]) and np.allclose(c_f, cf) and np.allclose(h_b, bwd[-1]) and np.allclose(c_b, cb)
