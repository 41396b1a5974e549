"""The RNN/BPTT/clipping/activation records: statuses that say exactly what is proved (issue 15).

Expected statuses are the specification, written from the mathematics:
- the cell Jacobians, the parameter count, the BPTT product and the seed's transposed product hold for every
  n, m (and every t - k, by induction), so they are "proved";
- the norm bounds rest on two cited lemmas (submultiplicativity, ||diag(d)||_2 = max |d_i|): at best
  "proved-from-lemmas";
- the BPTT gradient records hold for every T, n, m (induction on T over the adjoint identity, each step
  entry-wise at symbolic n, m): "proved";
- scalar activation facts have no dimension: "proved".
And the general machinery must not prove a deliberately wrong compact formula.
"""
from __future__ import annotations

import pytest
import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixElement

from dlproof.derivations import records as cached_records
from dlproof.derivations import registry
from dlproof.derivations.sums import prove_entry_equal_factored
from dlproof.derivations.indexed import index, prove_entry_equal
from dlproof.derivations.rnn.cell import Cell, abstract_preactivation

EXPECTED = {
    "proved": ["act.sigmoid.derivative", "act.tanh.derivative", "act.relu.derivative", "act.sigmoid.range",
               "act.tanh.range", "act.relu.range", "act.tanh_via_sigmoid", "act.sigmoid.gamma", "act.tanh.gamma",
               "act.relu.gamma", "rnn.cell.jacobian_h", "rnn.cell.jacobian_x", "rnn.cell.jacobian_b",
               "rnn.cell.jacobian_W_h", "rnn.cell.jacobian_W_x", "rnn.param_count", "rnn.bptt.jacobian_product",
               "rnn.bptt.source_form_denominator", "clip.norm.direction", "clip.norm.norm",
               "clip.norm.identity_below", "clip.norm.idempotent", "clip.global_norm.concatenation",
               "clip.norm.eps.direction", "clip.norm.eps.norm", "clip.norm.eps.identity_below",
               "clip.per_tensor.norm", "rnn.bptt.gradient", "rnn.bptt.shared_weight_gradient"],
    "proved-from-lemmas": ["rnn.bptt.norm_bound", "rnn.bptt.vanishing_sufficient", "rnn.bptt.exploding_necessary"],
    "checked-at-sizes": [],
    "refuted": ["rnn.claim.exploding_norm_gt_1", "rnn.bptt.source_form_numerator_reading", "clip.value.not_direction",
                "clip.norm.eps.not_idempotent", "clip.per_tensor.not_global_direction"],
    "definition": ["rnn.cell.forward", "rnn.bptt.unroll", "clip.norm.rule", "clip.norm.eps.rule", "clip.value.rule"],
}
N, M = sp.symbols("n m", integer=True, positive=True)


@pytest.fixture(scope="module")
def records():
    return {rid: cached_records()[rid] for ids in EXPECTED.values() for rid in ids}


@pytest.mark.parametrize("status,rid", [(s, r) for s, ids in EXPECTED.items() for r in ids])
def test_status(records, status, rid):
    assert records[rid]["status"] == status, (rid, records[rid]["obligations"])


def test_every_record_of_the_chapter_declares_its_sizes():
    mine = [s for s in registry.specs().values()
            if s.fn.__module__.split(".")[2] in ("activations", "rnn", "clipping")]
    assert len(mine) == sum(len(v) for v in EXPECTED.values())
    assert all(s.sizes is not None for s in mine), [s.id for s in mine if s.sizes is None]


def test_proved_records_have_no_sized_obligation(records):
    for rid in EXPECTED["proved"]:
        kinds = {o["scope"]["kind"] for o in records[rid]["obligations"]}
        assert not kinds & {"size", "lemma-check"}, (rid, kinds)


def test_induction_records_pair_a_base_case_with_a_step(records):
    for rid in ("rnn.bptt.jacobian_product", "rnn.bptt.source_form_denominator", "clip.global_norm.concatenation",
                "rnn.bptt.norm_bound", "rnn.bptt.gradient", "rnn.bptt.shared_weight_gradient"):
        kinds = [o["scope"]["kind"] for o in records[rid]["obligations"]]
        assert "base-case" in kinds and "induction-step" in kinds, rid


def test_norm_bound_cites_both_lemmas(records):
    for rid in EXPECTED["proved-from-lemmas"]:
        ids = {lm["id"] for lm in records[rid]["scope"]["lemmas"]}
        assert ids == {"lemma.norm.submultiplicative", "lemma.norm.diagonal"}, rid


def test_gradient_records_induct_on_T(records):
    for rid in ("rnn.bptt.gradient", "rnn.bptt.shared_weight_gradient"):
        rec = records[rid]
        assert rec["scope"]["sizes"] == [{"T": 1}], rid  # the base case only: no obligation at a fixed n, m
        assert not any("checked at explicit" in a for a in rec["assumptions"]), rid


@pytest.mark.parametrize("check", ["explicit_gradient_checks", "explicit_shared_checks"])
def test_bptt_formulas_agree_with_the_unrolled_network(check):
    """Independent cross-check of the general proof: differentiate the explicitly unrolled net (T = 2, n = 2, m = 1)."""
    from dlproof.derivations.rnn import bptt

    results = getattr(bptt, check)(2, 2, 1)
    assert results and all(r.status == "proved" for _, r in results), results


def test_refutation_titles_state_the_claim(records):
    for rid in EXPECTED["refuted"]:
        title = records[rid]["title"].lower()
        assert not any(w in title for w in ("not ", "false", "wrong", "is not")), title


# ---- the general machinery rejects wrong compact formulas ----

def test_wrong_vjp_is_not_proved():
    """W_h (phi'(a) ∘ delta) instead of W_h^T (phi'(a) ∘ delta): the transpose mistake."""
    c = Cell(N, M)
    l, p = index("l"), sp.Dummy("p", integer=True)
    lhs = sp.Sum(c.delta[p, 0] * sp.diff(c.forward()[p, 0], c.h[l, 0]), (p, 0, N - 1))
    ab = lambda e: abstract_preactivation(c, e)  # noqa: E731
    assert prove_entry_equal(ab(lhs), ab(c.vjp_h()[l, 0]), {l: N}).status == "proved"
    assert prove_entry_equal(ab(lhs), ab((c.W_h * c.gate())[l, 0]), {l: N}).status != "proved"


def test_wrong_jacobian_is_not_proved():
    """diag(phi'(a)) W_h^T instead of diag(phi'(a)) W_h."""
    c = Cell(N, M)
    i, l = index("i"), index("l")
    ab = lambda e: abstract_preactivation(c, e)  # noqa: E731
    wrong = (sp.DiagMatrix(c.dphi) * c.W_h.T)[i, l]
    assert prove_entry_equal(ab(sp.diff(c.forward()[i, 0], c.h[l, 0])), ab(wrong), {i: N, l: N}).status != "proved"


def test_wrong_induction_step_is_not_proved():
    """The chain rule with J_t^T in place of J_t does not pass the induction step."""
    c = Cell(N, M)
    i, p = index("i"), sp.Dummy("p", integer=True)
    u, F = sp.Symbol("u", real=True), sp.Function("F")
    earlier = lambda e: e.replace(lambda x: isinstance(x, MatrixElement) and x.parent == c.h,  # noqa: E731
                                  lambda x: F(x.i, u))
    ab = lambda e: abstract_preactivation(c, e)  # noqa: E731
    lhs = ab(sp.diff(earlier(c.forward()[i, 0]), u))
    right = sp.Sum(earlier(c.jac_h()[i, p]) * sp.Derivative(F(p, u), u), (p, 0, N - 1))
    wrong = sp.Sum(earlier(c.jac_h()[p, i]) * sp.Derivative(F(p, u), u), (p, 0, N - 1))
    assert prove_entry_equal_factored(lhs, ab(right), {i: N}).status == "proved"
    assert prove_entry_equal_factored(lhs, ab(wrong), {i: N}).status != "proved"


def test_seed_product_without_transpose_is_not_proved():
    """Q^T (D W_h) is not (D W_h Q)^T: the numerator reading fails the induction step."""
    i, j = index("i"), index("j")
    W, Q = sp.MatrixSymbol("W_h", N, N), sp.MatrixSymbol("Q", N, N)
    D = sp.DiagMatrix(sp.MatrixSymbol("d", N, 1))
    assert prove_entry_equal((Q.T * (D * W))[i, j], ((D * W) * Q).T[i, j], {i: N, j: N}).status != "proved"


def test_wrong_param_count_is_not_proved():
    from dlproof.derivations.prove import prove_equal

    r, q = sp.Dummy("r", integer=True), sp.Dummy("q", integer=True)
    entries = lambda a, b: sp.Sum(1, (r, 0, a - 1), (q, 0, b - 1)).doit()  # noqa: E731
    count = entries(N, M) + entries(N, N) + entries(N, 1)
    assert prove_equal(count, N * M + N ** 2 + N).status == "proved"
    assert prove_equal(count, N * M + 2 * N ** 2).status != "proved"


# ---- BPTT for every T: the adjoint identity rejects wrong recursions ----

def test_bptt_recursion_without_transpose_is_not_proved():
    """delta_{t-1} = d_{t-1} + W_h (phi'(a_t) ∘ delta_t), W_h in place of W_h^T, fails the induction step."""
    from dlproof.derivations.rnn.bptt import adjoint_step

    assert adjoint_step(transpose=True).status == "proved"
    assert adjoint_step(transpose=False).status != "proved"


def test_wrong_tangent_recursion_is_not_proved():
    """tau_t = phi'(a_t) ∘ (W_h^T tau_{t-1} + s_t) is not the tangent of the cell."""
    from dlproof.derivations.rnn.bptt import tangent_step

    assert tangent_step(transpose=True).status != "proved"


def test_wrong_parameter_gradient_is_not_proved():
    """sum_t g_t x_t^T as the W_h gradient: the pairing <g, da/dW_h[j, k]> is g_j h_k, not g_j x_k."""
    from dlproof.derivations.rnn.bptt import Cell, _SOURCES, _n

    c = Cell(_n, _n)  # m = n, so that the wrong formula is well-shaped
    j, k, p = index("j"), index("k"), sp.Dummy("p", integer=True)
    g = sp.MatrixSymbol("g", _n, 1)
    lhs = sp.Sum(g[p, 0] * sp.diff(c.a[p, 0], c.W_h[j, k]), (p, 0, _n - 1))
    assert prove_entry_equal(lhs, _SOURCES["W_h"][1](c, g, j, k), {j: _n, k: _n}).status == "proved"
    assert prove_entry_equal(lhs, (g * c.x.T)[j, k], {j: _n, k: _n}).status != "proved"
