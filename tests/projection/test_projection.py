"""The projected LSTM cell (LSTMP, torch's proj_size): derivation statuses, the oracle (cell, Jacobians, sequence
forward and VJP) and the NumPy reference against 50-digit mpmath and central differences, input validation, the
strategy's restriction, and the properties on good and broken targets (torch: tests/projection/test_projection_torch.py)."""
from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings

from chapter_checks import chapter_records, check_chapter_records
from dlproof.derivations import mp_cells
from dlproof.derivations import oracle_lstm as OL
from dlproof.derivations import oracle_projection as O
from dlproof.impl.numpy_ref import lstm as NL
from dlproof.impl.numpy_ref import projection as NP
from dlproof.parameters import LSTM_PARAMS
from dlproof.properties import finite_difference as fd
from dlproof.properties import harness
from dlproof.properties import projection as PP
from dlproof.properties.assertions import PropertyFailure
from dlproof.properties.registry import all_properties
from dlproof.target import Target
from mutants.projection import proj_cell_bug

PROPS = ("proj.cell.forward", "proj.cell.identity_projection", "proj.cell.jacobian")
EXPECTED = {"proj.cell.forward": "definition", "proj.cell.jacobian_h": "proved", "proj.cell.jacobian_x": "proved",
            "proj.cell.jacobian_c": "proved", "proj.cell.jacobian_proj": "proved",
            "proj.cell.jacobians_at_sizes": "checked-at-sizes", "proj.cell.vjp": "checked-at-sizes",
            "proj.cell.identity_projection": "proved", "proj.param_count": "proved",
            "proj.recurrent_rank": "proved-from-lemmas"}
RESTRICTED = {"restrictions": {"projection_size": "smaller_than_hidden"}}


def params(n, m, P, rng, dtype=np.float64):
    p = {}
    for g in "ifgo":
        p[f"W_x{g}"], p[f"W_h{g}"], p[f"b_{g}"] = rng.normal(size=(n, m)), rng.normal(size=(n, P)), rng.normal(size=n)
    p["W_proj"] = rng.normal(size=(P, n))
    return {k: v.astype(dtype) for k, v in p.items()}


def cell_problem(n=3, m=2, P=2, B=4, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    p = params(n, m, P, rng)
    x, h, c = rng.normal(size=(B, m)), np.tanh(rng.normal(size=(B, P))), 2 * rng.normal(size=(B, n))
    return x.astype(dtype), h.astype(dtype), c.astype(dtype), {k: v.astype(dtype) for k, v in p.items()}


# ---- derivations ----------------------------------------------------------------------------------------

def test_derivation_statuses():
    check_chapter_records(chapter_records(EXPECTED), "proj", EXPECTED, "seed §3 LSTM")
    rec = chapter_records(EXPECTED)
    assert "Sak, Senior & Beaufays (2014)" in rec["proj.cell.forward"]["citation"]["primary"]
    assert "torch.nn.LSTM" in rec["proj.cell.forward"]["citation"]["primary"]


@pytest.mark.slow  # 7 s: a failing entry-wise proof tries every rewrite before it gives up
def test_a_wrong_jacobian_is_not_proved():
    """dh'/dc without the factor f (a plausible slip) is not proved."""
    from dlproof.derivations import projection as D
    from dlproof.derivations.indexed import index, prove_entries, sum_body

    cell, T = D.symbolic_cell()
    i, l, k = index("i"), index("l"), index("k")
    wrong = cell.P["W_proj"] * sp.DiagMatrix(sp.HadamardProduct(cell.gate["o"], cell.dtc))
    lhs = sum_body(sp.diff(cell.forward_h()[i, 0], cell.c[l, 0]), k, D.SN - 1)
    rhs = sum_body(wrong[i, l], k, D.SN - 1)
    assert prove_entries([(lhs, rhs)], {i: D.SP, l: D.SN, k: D.SN}, T).status != "proved"


def test_param_names_agree():
    from dlproof.derivations.projection import PROJ_PARAMS

    assert PROJ_PARAMS == O.PROJ_PARAMS == NP.PROJ_PARAMS == LSTM_PARAMS + ("W_proj",)


# ---- the oracle and the references against 50 digits ------------------------------------------------------

def _mp(a):
    return [_mp(r) for r in a] if np.ndim(a) else mpmath.mpf(float(a))


def _mp_cell(x, h, c, P):
    """One row in mpmath: the LSTM cell with W_h* (n, P) (mp_cells), then h' = W_proj u."""
    u, c2 = mp_cells.lstm_cell(x, h, c, P)
    return [mpmath.fdot(zip(row, u)) for row in P["W_proj"]], c2


@pytest.mark.parametrize("n, m, P", [(1, 1, 1), (3, 2, 2), (4, 3, 4)])
def test_oracle_and_numpy_match_mpmath(n, m, P):
    x, h, c, p = cell_problem(n, m, P)
    Pm = {k: _mp(v) for k, v in p.items()}
    got = (O.lstm_proj_cell(x, h, c, p), NP.lstm_proj_cell(x, h, c, p))
    with mpmath.workdps(50):
        for b in range(x.shape[0]):
            exact = _mp_cell(_mp(x[b]), _mp(h[b]), _mp(c[b]), Pm)
            for out in got:
                for o, e in zip(out, exact):
                    np.testing.assert_allclose(o[b], [float(v) for v in e], rtol=1e-13, atol=1e-14)


def test_oracle_jacobians_match_mpmath_derivatives():
    n, m, P = 3, 2, 2
    x, h, c, p = cell_problem(n, m, P, B=2, seed=3)
    Pm = {k: _mp(v) for k, v in p.items()}
    jac = O.lstm_proj_cell_jacobians(x, h, c, p)
    assert {k: v.shape for k, v in jac.items()} == {"hh": (2, P, P), "hc": (2, P, n), "ch": (2, n, P),
                                                    "cc": (2, n, n), "hx": (2, P, m), "cx": (2, n, m)}
    with mpmath.workdps(50):
        for b in range(2):
            args = {"x": _mp(x[b]), "h": _mp(h[b]), "c": _mp(c[b])}
            for wrt in ("x", "h", "c"):
                for j in range(len(args[wrt])):
                    def out(t, which, r, j=j, wrt=wrt):
                        a = dict(args)
                        a[wrt] = a[wrt][:j] + [t] + a[wrt][j + 1:]
                        return _mp_cell(a["x"], a["h"], a["c"], Pm)[which][r]
                    for which, row in ((0, "h"), (1, "c")):
                        for r in range(P if row == "h" else n):
                            d = mpmath.diff(lambda t: out(t, which, r), args[wrt][j])
                            np.testing.assert_allclose(jac[row + wrt][b, r, j], float(d), rtol=1e-12, atol=1e-14)


def test_cell_vjp_is_the_transposed_jacobian():
    x, h, c, p = cell_problem(3, 2, 2, B=2, seed=4)
    rng = np.random.default_rng(5)
    dh, dc = rng.normal(size=h.shape), rng.normal(size=c.shape)
    v = O.lstm_proj_cell_vjp(x, h, c, p, dh, dc)
    J = O.lstm_proj_cell_jacobians(x, h, c, p)
    for wrt in ("x", "h", "c"):
        want = np.einsum("bp,bpj->bj", dh, J["h" + wrt]) + np.einsum("bn,bnj->bj", dc, J["c" + wrt])
        np.testing.assert_allclose(v[wrt], want, rtol=1e-13, atol=1e-14)
    # W_proj: the gradient of <dh, u W_proj^T> is dh^T u, with u from an independent NumPy evaluation
    a = {g: x @ p[f"W_x{g}"].T + h @ p[f"W_h{g}"].T + p[f"b_{g}"] for g in "ifgo"}
    s = {g: 1 / (1 + np.exp(-a[g])) for g in "ifo"}
    u = s["o"] * np.tanh(s["f"] * c + s["i"] * np.tanh(a["g"]))
    np.testing.assert_allclose(v["params"]["W_proj"], dh.T @ u, rtol=1e-13, atol=1e-14)


def test_sequence_oracle_with_identity_projection_is_the_lstm():
    rng = np.random.default_rng(6)
    n, m, T, B = 3, 2, 4, 2
    p = params(n, m, n, rng)
    p["W_proj"] = np.eye(n)
    xs, h0, c0 = rng.normal(size=(T, B, m)), rng.normal(size=(B, n)), rng.normal(size=(B, n))
    lstm_p = {k: p[k] for k in LSTM_PARAMS}
    (hs, (hT, cT)), (hs2, (hT2, cT2)) = O.lstm_proj_forward(xs, h0, c0, p), OL.lstm_forward(xs, h0, c0, lstm_p)
    for a, b in ((hs, hs2), (hT, hT2), (cT, cT2)):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)


def test_sequence_forward_and_vjp_against_the_cell_and_central_differences():
    rng = np.random.default_rng(7)
    n, m, P, T, B = 3, 2, 2, 3, 2
    p = params(n, m, P, rng)
    xs, h0, c0 = rng.normal(size=(T, B, m)), np.tanh(rng.normal(size=(B, P))), rng.normal(size=(B, n))
    d_hs, d_hT, d_cT = rng.normal(size=(T, B, P)), rng.normal(size=(B, P)), rng.normal(size=(B, n))
    hs, (hT, cT) = O.lstm_proj_forward(xs, h0, c0, p)
    h, c = h0, c0
    for t in range(T):  # the unrolled forward is the cell, step by step (the NumPy reference's cell)
        h, c = NP.lstm_proj_cell(xs[t], h, c, p)
        np.testing.assert_allclose(hs[t], h, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(cT, c, rtol=1e-14, atol=1e-15)

    def loss(xs=xs, h0=h0, c0=c0, q=p):
        hs, (hT, cT) = O.lstm_proj_forward(xs, h0, c0, q)
        return float(np.sum(d_hs * hs) + np.sum(d_hT * hT) + np.sum(d_cT * cT))

    g = O.lstm_proj_vjp(xs, h0, c0, p, d_hs, d_hT, d_cT)
    assert set(g["params"]) == set(O.PROJ_PARAMS)
    for name, arr in (("xs", xs), ("h0", h0), ("c0", c0)):
        np.testing.assert_allclose(g[name], fd.gradient(lambda a, name=name: loss(**{name: a}), arr), atol=1e-7)
    for k in O.PROJ_PARAMS:
        num = fd.gradient(lambda a, k=k: loss(q={**p, k: a}), p[k])
        np.testing.assert_allclose(g["params"][k], num, atol=1e-7, err_msg=k)


# ---- the NumPy reference: dtype, inputs, validation ---------------------------------------------------------

def test_float32_in_float32_out_and_inputs_unchanged():
    x, h, c, p = cell_problem(dtype=np.float32)
    before = {k: v.copy() for k, v in p.items()}
    hn, cn = NP.lstm_proj_cell(x, h, c, p)
    assert hn.dtype == cn.dtype == np.float32 and hn.shape == h.shape and cn.shape == c.shape
    assert all(np.array_equal(before[k], p[k]) for k in p)


@pytest.mark.parametrize("change, match", [
    (lambda a: {**a, "p": {k: v for k, v in a["p"].items() if k != "W_proj"}}, r"missing parameter\(s\) \['W_proj'\]"),
    (lambda a: {**a, "p": {**a["p"], "W_proj": np.zeros((4, 3))}}, r"1 <= P <= n"),
    (lambda a: {**a, "p": {**a["p"], "W_proj": np.zeros((2, 4))}}, r"shape \(P, n\)"),
    (lambda a: {**a, "p": {**a["p"], "W_hf": np.zeros((3, 3))}}, r"'W_hf'.*\(n, P\)"),
    (lambda a: {**a, "p": {**a["p"], "b_o": np.zeros((3, 1))}}, r"'b_o'.*should have 1 dimensions"),
    (lambda a: {**a, "h": np.zeros((4, 3))}, r"argument 'h' should have shape \(B, P\)"),
    (lambda a: {**a, "c": np.zeros((4, 2))}, r"argument 'c' should have shape \(B, n\)"),
    (lambda a: {**a, "x": np.zeros((4, 5))}, r"argument 'x' should have shape"),
    (lambda a: {**a, "x": np.zeros((4, 2), int)}, r"floating dtype"),
    (lambda a: {**a, "p": [1, 2]}, r"should be a mapping"),
])
def test_bad_inputs_are_refused(change, match):
    x, h, c, p = cell_problem()
    a = change({"x": x, "h": h, "c": c, "p": p})
    with pytest.raises(ValueError, match=match) as info:
        NP.lstm_proj_cell(a["x"], a["h"], a["c"], a["p"])
    assert str(info.value).startswith("lstm_proj_cell: ")


# ---- strategy, restriction -------------------------------------------------------------------------------------

@settings(max_examples=25, deadline=None, database=None)
@given(PP.proj_problems(smaller=True))
def test_restricted_strategy_draws_p_below_n(problem):
    n, P = problem["n"], problem["P"]
    assert 1 <= P < n and problem["W_proj"].shape == (P, n) and problem["h0"].shape[1] == P
    assert all(problem[f"W_h{g}"].shape == (n, P) for g in "ifgo")


def test_unrestricted_strategy_reaches_p_equal_n():
    from hypothesis import find

    problem = find(PP.proj_problems(), lambda q: q["P"] == q["n"] >= 2, settings=settings(database=None))
    assert problem["W_proj"].shape == (problem["n"],) * 2


@pytest.mark.parametrize("pid, dtype, conventions", [("proj.cell.identity_projection", "float64", RESTRICTED),
                                                     ("proj.cell.jacobian", "float32", {})])
def test_not_provided_outside_its_domain(pid, dtype, conventions, tmp_path):
    """identity_projection needs P = n (excluded by the restriction); jacobian needs a float64 target."""
    target = cell_target(f"numpy-proj.{dtype}", dtype, NP.lstm_proj_cell, conventions=conventions)
    row = harness.run(all_properties()[pid], target, target.name, profile="ci", report_dir=tmp_path)
    assert row["verdict"] == "not provided", row


# ---- the properties: pass on the references, fail on the mutants ------------------------------------------

#: bug -> the property that must catch it
MUTANT_KILLERS = {"proj_transposed": "proj.cell.forward", "proj_ignored": "proj.cell.forward",
                  "proj_before_output_gate": "proj.cell.jacobian", "cell_projected": "proj.cell.jacobian"}
LIKELY = {"proj_transposed": "W_proj transposed", "proj_ignored": "projection ignored",
          "proj_before_output_gate": "before the output gate", "cell_projected": "c' returned projected"}


def cell_target(name, dtype, cell, lstm_cell=NL.lstm_cell, conventions=None):
    return Target(name=name, dtype=dtype, lstm_proj_cell=cell, lstm_cell=lstm_cell, conventions=conventions or {})


def properties_pass(target, tmp_path, props=PROPS):
    """Every property of ``props`` passes on ``target``."""
    for pid in props:
        row = harness.run(all_properties()[pid], target, target.name, profile="ci", report_dir=tmp_path)
        assert row["verdict"] == "pass", row


@pytest.mark.parametrize("dtype", [pytest.param("float64", marks=pytest.mark.slow), "float32"])  # float64: conformance
def test_properties_pass(dtype, tmp_path):
    properties_pass(cell_target(f"numpy-proj.{dtype}", dtype, NP.lstm_proj_cell), tmp_path,
                    PROPS if dtype == "float64" else PROPS[:2])  # proj.cell.jacobian: float64 targets only


def test_the_builtin_targets_provide_the_cell():
    from dlproof.impl.targets import numpy_target

    assert numpy_target().provides("lstm_proj_cell")


@pytest.mark.parametrize("name", sorted(MUTANT_KILLERS))
def test_each_mutant_is_caught_with_the_likely_bug(name, tmp_path):
    pid = MUTANT_KILLERS[name]
    target = cell_target(f"proj-{name}", "float64", proj_cell_bug(name))
    with pytest.raises(PropertyFailure) as info:
        harness.run(all_properties()[pid], target, f"tests:{name}", profile="ci", report_dir=tmp_path)
    assert pid in str(info.value) and "but should" in str(info.value)
    assert info.value.part == "forward" and LIKELY[name] in (info.value.likely_bug or ""), info.value.likely_bug


def test_a_correct_cell_is_never_diagnosed():
    x, h, c, p = cell_problem(3, 2, 3)
    assert PP.likely_bug(NP.lstm_proj_cell(x, h, c, p), x, h, c, p, "float64") is None
