"""LSTM derivations: record statuses, and the oracle against an independent NumPy loop and finite differences.

The reference below is written out per sample and per unit from the gate equations (gate order i, f, g, o),
sharing nothing with the generated kernels; gradients and Jacobians are checked against central finite
differences of it in float64.
"""
import numpy as np
import pytest

from dlproof.derivations import oracle_lstm, registry
from dlproof.parameters import LSTM_GATES as GATES
from dlproof.parameters import LSTM_PARAMS as PARAMS
from dlproof.properties import finite_difference as FD

EXPECTED = {
    "definition": ["lstm.cell.forward"],
    # proved for every size: symbolic n, m (entry-wise), an induction over T, or a dimension-free statement
    "proved": ["lstm.gate.partials", "lstm.cell.jacobian_h", "lstm.cell.jacobian_x", "lstm.cell.jacobian_c",
               "lstm.cell.jacobian_weights", "lstm.state.jacobian", "lstm.cec.product", "lstm.state.c_to_c_full",
               "lstm.gates.range", "lstm.param_count", "lstm.cell.dc_dc_prev",
               # base T = 1 (the state Jacobian) and the step with an undefined previous state, symbolic n, m
               "lstm.state.chain"],
    "refuted": ["lstm.state.chain_not_blockwise", "lstm.claim.gates_no_vanishing",
                "lstm.claim.forget_near_one_preserves_gradient"],
}
KERNELS = (["lstm_forward_h", "lstm_forward_c", "lstm_jac_hh", "lstm_jac_hc", "lstm_jac_ch", "lstm_jac_cc",
            "lstm_jac_hx", "lstm_jac_cx", "lstm_vjp_h", "lstm_vjp_c", "lstm_vjp_x"]
           + [f"lstm_vjp_{p}" for p in PARAMS])


# ---------------------------------------------------------------- independent reference
def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def ref_cell(x, h, c, p):
    """One step, sample by sample and unit by unit."""
    B, n = h.shape
    h_new, c_new = np.empty((B, n)), np.empty((B, n))
    for b in range(B):
        for k in range(n):
            pre = {g: float(np.dot(p[f"W_x{g}"][k], x[b]) + np.dot(p[f"W_h{g}"][k], h[b]) + p[f"b_{g}"][k]) for g in GATES}
            i, f, o = _sig(pre["i"]), _sig(pre["f"]), _sig(pre["o"])
            g = np.tanh(pre["g"])
            c_new[b, k] = f * c[b, k] + i * g
            h_new[b, k] = o * np.tanh(c_new[b, k])
    return h_new, c_new


def ref_forward(xs, h0, c0, p):
    h, c, hs = h0, c0, []
    for t in range(xs.shape[0]):
        h, c = ref_cell(xs[t], h, c, p)
        hs.append(h)
    return np.array(hs), (h, c)


def _problem(n=3, m=2, B=2, T=3, seed=0):
    rng = np.random.default_rng(seed)
    p = {}
    for name in PARAMS:
        shape = (n, m) if name.startswith("W_x") else (n, n) if name.startswith("W_h") else (n,)
        p[name] = rng.normal(scale=rng.uniform(0.5, 1.5), size=shape)  # mixed signs and scales per block
    xs = rng.normal(size=(T, B, m))
    h0, c0 = rng.normal(scale=0.5, size=(B, n)), rng.normal(size=(B, n))
    return p, xs, h0, c0




# ---------------------------------------------------------------- records
@pytest.fixture(scope="module")
def lstm_records():
    from dlproof.derivations import records

    return records()


@pytest.mark.parametrize("status,rid", [(s, r) for s, ids in EXPECTED.items() for r in ids])
def test_lstm_record_status(lstm_records, status, rid):
    rec = lstm_records[rid]
    assert rec["status"] == status, rec["obligations"]
    assert rec["citation"]["seed"].startswith("seed §3") and rec["citation"]["primary"]
    assert {o["status"] for o in rec["obligations"]} == {"proved"}
    if status == "checked-at-sizes":
        assert "checked at" in (rec["title"] + " ".join(rec["assumptions"]) + rec["notes"]).lower()


def test_every_lstm_record_declares_its_sizes(lstm_records):
    for rid, rec in lstm_records.items():
        if rid.startswith("lstm."):
            assert rec["scope"]["parameters"] is not None, rid


def test_forget_near_one_counterexample_is_exact(lstm_records):
    rec = lstm_records["lstm.claim.forget_near_one_preserves_gradient"]
    assert rec["title"].startswith("Forget gates near 1 keep")
    assert rec["counterexample"] and "W_hg" in rec["counterexample"]["point"]
    # the decisive facts: S^2 = 0 exactly, dc_2/dc_0 = 0 exactly, f = sigma(10) > 1 - 1/20000, all proved
    stmts = {o["statement"]: o["status"] for o in rec["obligations"]}
    assert any("S^2 = 0" in k for k in stmts) and any("dc_2/dc_0 = 0" in k for k in stmts)
    assert set(stmts.values()) == {"proved"}


def test_wrong_compact_formula_is_not_proved_at_symbolic_size():
    """A deliberately wrong dc'/dc (diag(1 - f) instead of diag(f)) and a wrong dh'/dh (the o-path dropped)."""
    import sympy as sp
    from dlproof.derivations import lstm
    from dlproof.derivations import indexed
    from dlproof.derivations.indexed import index

    cell, T = lstm.symbolic_cell()
    i, l = index("i"), index("l")
    wrong_cc = sp.DiagMatrix(lstm.elementwise(lambda d: 1 - lstm.sigmoid(d), cell.a["f"]))[i, l]
    lhs = sp.diff(cell.forward_c()[i, 0], cell.c[l, 0])
    assert indexed.prove_entries([(lhs, wrong_cc)], {i: lstm.SN, l: lstm.SN}, T, use_simplify=False).status != "proved"
    wrong_hh = (sp.DiagMatrix(sp.HadamardProduct(cell.gate["o"], cell.dtc)) * cell.jac_ch())[i, l]
    lhs = sp.diff(cell.forward_h()[i, 0], cell.h[l, 0])
    assert indexed.prove_entries([(lhs, wrong_hh)], {i: lstm.SN, l: lstm.SN}, T, use_simplify=False).status != "proved"
    # and the right ones are
    assert lstm.general_block("c", "c").status == "proved" and lstm.general_block("h", "h").status == "proved"


def test_lstm_records_name_layout_and_what_is_held_fixed(lstm_records):
    for rid in ("lstm.cell.jacobian_h", "lstm.cell.jacobian_x", "lstm.cell.jacobian_c", "lstm.state.jacobian",
                "lstm.cec.product", "lstm.state.chain", "lstm.state.c_to_c_full"):
        assert "numerator" in lstm_records[rid]["layout"]
        assert any("held fixed" in a for a in lstm_records[rid]["assumptions"]), rid
    claim = lstm_records["lstm.claim.gates_no_vanishing"]
    assert claim["counterexample"] and "Gers" in claim["notes"] and "Jozefowicz" in claim["notes"]
    assert "float32" in lstm_records["lstm.gates.range"]["notes"]


# ---------------------------------------------------------------- oracle
def test_lstm_is_registered_and_kernels_exist():
    assert any(sid.startswith("lstm.") for sid in registry.specs())
    from dlproof.derivations import kernels

    missing = [k for k in KERNELS if not hasattr(kernels(), k)]
    assert not missing


def test_forward_matches_independent_loop():
    p, xs, h0, c0 = _problem()
    hs, (hT, cT) = oracle_lstm.lstm_forward(xs, h0, c0, p)
    want_hs, (want_h, want_c) = ref_forward(xs, h0, c0, p)
    assert hs.shape == want_hs.shape
    np.testing.assert_allclose(hs, want_hs, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(hT, want_h, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(cT, want_c, rtol=1e-13, atol=1e-14)
    h1, c1 = oracle_lstm.lstm_cell(xs[0], h0, c0, p)
    np.testing.assert_allclose(h1, want_hs[0], rtol=1e-13, atol=1e-14)


def test_vjp_matches_central_differences():
    p, xs, h0, c0 = _problem(seed=1)
    rng = np.random.default_rng(11)
    d_hs, d_hT, d_cT = rng.normal(size=(xs.shape[0],) + h0.shape), rng.normal(size=h0.shape), rng.normal(size=c0.shape)

    def fd(name, value):
        """Central differences of L = <d_hs, hs> + <d_hT, h_T> + <d_cT, c_T> in the argument ``name``."""
        def loss(v):
            a = {"xs": xs, "h0": h0, "c0": c0, **p, name: v}
            hs, (hT, cT) = ref_forward(a["xs"], a["h0"], a["c0"], {k: a[k] for k in p})
            return float(np.sum(d_hs * hs) + np.sum(d_hT * hT) + np.sum(d_cT * cT))

        return FD.gradient(loss, value)

    got = oracle_lstm.lstm_vjp(xs, h0, c0, p, d_hs, d_hT, d_cT)
    assert set(got["params"]) == set(PARAMS)
    for name, arr in [("xs", xs), ("h0", h0), ("c0", c0)]:
        np.testing.assert_allclose(got[name], fd(name, arr), rtol=1e-6, atol=1e-8, err_msg=name)
    for name in PARAMS:
        assert got["params"][name].shape == p[name].shape
        np.testing.assert_allclose(got["params"][name], fd(name, p[name]), rtol=1e-6, atol=1e-8, err_msg=name)


def test_vjp_without_steps_passes_cotangents_through():
    p, xs, h0, c0 = _problem()
    d_hT, d_cT = np.ones_like(h0), 2 * np.ones_like(c0)
    got = oracle_lstm.lstm_vjp(xs[:0], h0, c0, p, np.zeros((0,) + h0.shape), d_hT, d_cT)
    np.testing.assert_array_equal(got["h0"], d_hT)
    np.testing.assert_array_equal(got["c0"], d_cT)


def test_state_and_input_jacobians_match_central_differences():
    p, xs, h0, c0 = _problem(seed=2)
    n = h0.shape[1]
    S = oracle_lstm.lstm_state_jacobian(xs[0], h0, c0, p)
    J = oracle_lstm.lstm_cell_jacobians(xs[0], h0, c0, p)
    assert S.shape == (h0.shape[0], 2 * n, 2 * n)
    for b in range(h0.shape[0]):
        def state_map(v, b=b):
            h, c = ref_cell(xs[0][b:b + 1], v[None, :n], v[None, n:], p)
            return np.concatenate([h[0], c[0]])

        def input_map(u, b=b):
            h, c = ref_cell(u[None], h0[b:b + 1], c0[b:b + 1], p)
            return np.concatenate([h[0], c[0]])

        np.testing.assert_allclose(S[b], FD.jacobian(state_map, np.concatenate([h0[b], c0[b]])), rtol=1e-6, atol=1e-9)
        Jx = FD.jacobian(input_map, xs[0][b].copy())
        np.testing.assert_allclose(J["hx"][b], Jx[:n], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(J["cx"][b], Jx[n:], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(J["cc"][b], np.diag(np.diag(J["cc"][b])))  # dc'/dc = diag(f)


def test_chain_is_latest_left_product_and_not_blockwise():
    p, xs, h0, c0 = _problem(seed=3, B=1, T=4)
    n = h0.shape[1]
    M = oracle_lstm.lstm_chain(xs, h0, c0, p, 1, 4)[0]
    _, (h1, c1) = ref_forward(xs[:1], h0, c0, p)

    def from_state1(v):
        _, (h, c) = ref_forward(xs[1:], v[None, :n], v[None, n:], p)
        return np.concatenate([h[0], c[0]])

    np.testing.assert_allclose(M, FD.jacobian(from_state1, np.concatenate([h1[0], c1[0]])), rtol=1e-6, atol=1e-9)
    # the c-to-c block of the chain is not the product of the one-step c-to-c blocks (diag(f_i))
    states = oracle_lstm.lstm_forward(xs, h0, c0, p)
    assert states[0].shape == (4, 1, n)
    P = np.eye(n)
    h, c = h1, c1
    for t in range(1, 4):
        P = oracle_lstm.lstm_cell_jacobians(xs[t], h, c, p)["cc"][0] @ P
        h, c = oracle_lstm.lstm_cell(xs[t], h, c, p)
    assert not np.allclose(M[n:, n:], P, rtol=1e-3, atol=1e-6)
    assert np.allclose(oracle_lstm.lstm_chain(xs, h0, c0, p, 2, 2)[0], np.eye(2 * n))
