"""GRU (both reset variants) derivations: record statuses, and the oracles against independent explicit loops
and central finite differences (the bidirectional ones: tests/bidirectional/test_derivations.py)."""
import functools

import numpy as np
import pytest

from dlproof.parameters import GRU_PARAMS as PARAMS
from dlproof.properties import finite_difference as FD

VARIANTS = ("reset_after", "reset_before")


@functools.lru_cache(maxsize=None)
def _record(rid):
    """One record, from the derivation cache (tests/derivations/test_records.py checks the cache against a fresh proof)."""
    from dlproof import derivations

    return derivations.records()[rid]


EXPECTED = {
    "definition": ["gru.cell.forward.reset_after", "gru.cell.forward.reset_before"],
    # proved for every size: per-unit scalar identities, polynomials in symbolic n, m, and the cell
    # Jacobians and gradients entry-wise at symbolic n, m (both variants)
    "proved": ["gru.convexity", "gru.bounded_state", "gru.param_count", "gru.lstm_param_ratio"]
    + [f"gru.cell.jacobian_{w}.{v}" for w in ("h", "x", "weights") for v in VARIANTS],
    "refuted": ["gru.variants_differ"],
}


@pytest.mark.parametrize("status,rid", [(s, r) for s, ids in EXPECTED.items() for r in ids])
def test_record_status(status, rid):
    check_record_status(status, rid)


def check_record_status(status, rid):
    """The record has ``status``, all obligations proved, a seed and primary citation, and a declared scope."""
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
