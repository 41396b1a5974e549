"""Residual networks: the derivations' statuses (the refutation's counterexample included), the NumPy / torch
references and the torch.nn adapter against the float64 oracle (explicit products of I + J_l) and central
differences, input validation, the properties on every implementation and dtype, and the mutant without
the identity term.

Expected values come from dlproof.derivations.oracle_residual and the derivations, never from the code under test."""
from __future__ import annotations

import numpy as np
import pytest

from dlproof.derivations import records as cached_records
from dlproof.derivations import oracle_residual as O
from dlproof.target import Target

from chapter_checks import check_proved_record


ACTS = ("tanh", "sigmoid", "relu")
# the specification (issue 15): the block Jacobian, the chain product (induction over L) and the identity block
# hold for every size; so does the 2^L expansion (induction on L with its recursion form); the no-vanishing bound
# rests on cited lemmas
EXPECTED = {"resnet.forward": "definition", "resnet.block.jacobian": "proved", "resnet.chain.product": "proved",
            "resnet.chain.expansion": "proved-from-lemmas", "resnet.no_vanishing.condition": "proved-from-lemmas",
            "resnet.no_vanishing.counterexample": "refuted", "resnet.identity_block": "proved"}
PROPS = ("resnet.forward", "resnet.vjp", "resnet.identity_path", "resnet.jacobian", "resnet.vjp.fd")


def _problem(seed=0, n=3, k=2, L=3, B=4, dtype=np.float64):
    rng = np.random.default_rng(seed)
    blocks = [tuple(a.astype(dtype) for a in (rng.standard_normal((k, n)), rng.standard_normal(k),
                                              rng.standard_normal((n, k)), rng.standard_normal(n))) for _ in range(L)]
    return rng.standard_normal((B, n)).astype(dtype), blocks, rng.standard_normal((B, n)).astype(dtype)


# ---- derivations -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def records():
    return {rid: cached_records()[rid] for rid in EXPECTED}


@pytest.mark.parametrize("rid", sorted(EXPECTED))
def test_derivation_status(records, rid):
    check_proved_record(records[rid], EXPECTED[rid])


def test_scopes_are_declared(records):
    for rid, rec in records.items():
        assert rec["scope"]["parameters"] is not None, rid
    assert {o["scope"]["kind"] for o in records["resnet.chain.product"]["obligations"]} == {"base-case", "induction-step"}
    assert {o["scope"]["kind"] for o in records["resnet.chain.expansion"]["obligations"]} == {"base-case", "induction-step"}
    assert {lm["id"] for lm in records["resnet.no_vanishing.condition"]["scope"]["lemmas"]} >= {"lemma.sigma_min.product"}
    assert records["resnet.no_vanishing.counterexample"]["title"].startswith("Residual connections by themselves")


def test_expansion_recursion_is_the_subset_sum_and_a_wrong_order_is_not_proved():
    """S_{L+1} = S_L + J_{L+1} S_L is the sum over subsets (products latest-left) at L = 3, and equals the explicit
    product of 2x2 matrices; the step with the factor on the wrong side (S_L J_{L+1}) is never proved."""
    import itertools

    import sympy as sp

    from dlproof.derivations.matrices import mat
    from dlproof.derivations.prove import prove_zero

    J = sp.symbols("J1:4", commutative=False)
    S = sp.Integer(1)
    for Jl in J:
        S = S + Jl * S
    subsets = sum((sp.Mul(*[J[l] for l in reversed(c)]) for r in range(4) for c in itertools.combinations(range(3), r)),
                  sp.Integer(0))
    assert sp.expand(S - subsets) == 0 and len(sp.Add.make_args(sp.expand(S))) == 2 ** 3
    M = [mat(f"J{l}", 2, 2) for l in (1, 2, 3)]
    I2 = sp.eye(2)
    rec = I2
    for Ml in M:
        rec = rec + Ml * rec
    assert sp.expand((I2 + M[2]) * (I2 + M[1]) * (I2 + M[0]) - rec) == sp.zeros(2, 2)
    Jn, SL = sp.symbols("J_next S_L", commutative=False)
    assert prove_zero(sp.expand((1 + Jn) * SL - (SL + SL * Jn))).status != "proved"


def test_wrong_compact_formulas_are_not_proved_at_symbolic_size():
    """The symbolic-size machinery decides: a transposed J_F, or a step without the identity, is never proved."""
    import sympy as sp

    from dlproof.derivations import residual as R
    from dlproof.derivations.indexed import index, prove_entry_equal

    i, j = index("i"), index("j")
    x = sp.MatrixSymbol("x", R.n_, 1)
    B = R.SymBlock(lambda r: x[r, 0])
    lhs = sp.diff(B.out(i), x[j, 0])
    assert prove_entry_equal(lhs, sp.KroneckerDelta(i, j) + B.JF(j, i), {i: R.n_, j: R.n_}).status != "proved"
    t, G = sp.Symbol("t", real=True), sp.Function("G")
    step = R.SymBlock(lambda r: G(r, t))
    r = sp.Dummy("r", integer=True)
    no_identity = sp.Sum(step.JF(i, r) * sp.Derivative(G(r, t), t), (r, 0, R.n_ - 1))
    assert R.prove_sums_equal(sp.diff(step.out(i), t), no_identity, None).status != "proved"


def test_counterexample_is_recorded(records):
    cex = records["resnet.no_vanishing.counterexample"]["counterexample"]
    assert cex["point"]["phi"] == "tanh" and cex["point"]["W2"] == "-1" and "= 0" in cex["value"]
    assert records["resnet.no_vanishing.counterexample"]["kind"] == "refutation"


# ---- implementations vs the oracle and finite differences -----------------------------------------------


@pytest.mark.parametrize("act", ACTS)
def test_oracle_matches_central_differences(act):
    x, blocks, dy = _problem(2)
    g = O.residual_vjp(x, blocks, act, dy)
    eps = 1e-6

    def L(xx, bb):
        return float(np.sum(dy * O.residual_forward(xx, bb, act)))

    for l, p, idx in ((0, 0, (1, 2)), (1, 2, (0, 1)), (2, 3, (2,)), (0, 1, (1,))):
        bp = [tuple(a.copy() for a in blk) for blk in blocks]
        bm = [tuple(a.copy() for a in blk) for blk in blocks]
        bp[l][p][idx] += eps
        bm[l][p][idx] -= eps
        assert (L(x, bp) - L(x, bm)) / (2 * eps) == pytest.approx(g["blocks"][l][p][idx], rel=1e-6, abs=1e-8)
    xp, xm = x.copy(), x.copy()
    xp[3, 0] += eps
    xm[3, 0] -= eps
    assert (L(xp, blocks) - L(xm, blocks)) / (2 * eps) == pytest.approx(g["x"][3, 0], rel=1e-6, abs=1e-8)


def test_oracle_block_jacobian_is_identity_plus_JF():
    x, blocks, _ = _problem(3, L=1)
    W1, b1, W2, _ = blocks[0]
    J = O.residual_jacobian(x, blocks, "tanh")
    for b in range(x.shape[0]):
        np.testing.assert_allclose(J[b], np.eye(3) + W2 @ np.diag(1 - np.tanh(W1 @ x[b] + b1) ** 2) @ W1, rtol=1e-13)


# ---- input validation ----------------------------------------------------------------------------------

def _bad_cases():
    x, blocks, _ = _problem(5)
    W1, b1, W2, b2 = blocks[0]
    return [
        ("act", (x, blocks, "elu"), ValueError, "argument 'activation' should be one of"),
        ("W1", (x, [(W1[:, :2], b1, W2, b2)], "tanh"), ValueError, "argument 'blocks[0][0]' (W1) should have shape (k, 3)"),
        ("b1", (x, [(W1, b2, W2, b2)], "tanh"), ValueError, "argument 'blocks[0][1]' (b1) should have shape (2,)"),
        ("W2", (x, [(W1, b1, W2.T, b2)], "tanh"), ValueError, "argument 'blocks[0][2]' (W2) should have shape (3, 2)"),
        ("b2", (x, [(W1, b1, W2, b1)], "tanh"), ValueError, "argument 'blocks[0][3]' (b2) should have shape (3,)"),
        ("inf", (x, [(W1, b1, W2 * np.inf, b2)], "tanh"), ValueError, "argument 'blocks[0][2]' should be finite"),
        ("tuple", (x, [(W1, b1, W2)], "tanh"), TypeError, "argument 'blocks[0]' should be a tuple (W1, b1, W2, b2)"),
        ("list", (x, blocks[0], "tanh"), TypeError, "should be a tuple"),
    ]


# ---- the properties on every implementation, and the mutant --------------------------------------------

def _target(name, dtype, fwd, vjp):
    return Target(name=name, dtype=dtype, residual=fwd, residual_vjp=vjp)


