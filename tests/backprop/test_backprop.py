"""Backpropagation through an MLP: the derivations' statuses, the NumPy / torch references and the torch.nn
adapter against the float64 oracle (explicit Jacobian products) and central differences, input validation,
the properties on every implementation and dtype, and the mutants they must catch.

Expected values come from dlproof.derivations.oracle_backprop (a route different from the implementations:
products of per-layer Jacobians), never from the code under test."""
from __future__ import annotations

import numpy as np
import pytest

from dlproof.derivations import records as cached_records
from dlproof.derivations import oracle_backprop as O
from dlproof.target import Target

from chapter_checks import check_proved_record


ACTS = ("tanh", "sigmoid", "relu")
EXPECTED = {"mlp.forward": "definition", "mlp.backprop.delta": "proved", "mlp.backprop.weight_grad": "proved",
            "mlp.backprop.input_grad": "proved", "mlp.cost.reverse_vs_forward": "proved"}
PROPS = ("mlp.forward", "mlp.vjp", "mlp.vjp.fd", "mlp.vjp.fd_own_dtype")


def _problem(seed=0, widths=(3, 4, 2, 3), B=4, dtype=np.float64):
    rng = np.random.default_rng(seed)
    layers = [(rng.standard_normal((widths[l], widths[l - 1])).astype(dtype), rng.standard_normal(widths[l]).astype(dtype))
              for l in range(1, len(widths))]
    return rng.standard_normal((B, widths[0])).astype(dtype), layers, rng.standard_normal((B, widths[-1])).astype(dtype)


# ---- derivations -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def records():
    return {rid: cached_records()[rid] for rid in EXPECTED}


@pytest.mark.parametrize("rid", sorted(EXPECTED))
def test_derivation_status(records, rid):
    check_proved_record(records[rid], EXPECTED[rid])


def test_cost_counts_are_the_exact_formula(records):
    from dlproof.derivations.backprop import pass_cost

    assert pass_cost((2, 3, 2, 2)) == 2 * 3 + 3 * 2 + 2 * 2 + 3 + 2  # sum n_l n_{l-1} + hidden scalings
    statements = " ".join(o["statement"] for o in records["mlp.cost.reverse_vs_forward"]["obligations"])
    assert "n_0/n_L" in statements and "m k n" in statements
    assert {o["scope"]["kind"] for o in records["mlp.cost.reverse_vs_forward"]["obligations"]} >= {"base-case",
                                                                                                  "induction-step"}


@pytest.mark.parametrize("widths", [(2, 3, 2, 2), (4, 3, 1), (3, 5, 4, 2, 1)])
def test_instrumented_accumulation_matches_the_proved_count(widths):
    """The instrumented JVP / VJP passes count n_0 C and n_L C multiplies, C the formula the record proves for
    every depth (sum_l n_l n_{l-1} + sum_{l<L} n_l), and both accumulate dy/dx (Matrix.jacobian)."""
    import sympy as sp

    from dlproof.derivations import backprop as B
    from dlproof.derivations.prove import prove_equal

    _, params, zs, acts, _ = B.network(widths)
    x = B.mat("x", widths[0], 1)
    dphis = [[B.phi_prime(z) for z in zl] for zl in zs[:-1]]
    fwd, rev = B._Counter(), B._Counter()
    cols = [B._jvp_pass(fwd, params, dphis, sp.eye(widths[0])[:, c]) for c in range(widths[0])]
    rows = [B._vjp_pass(rev, params, dphis, sp.eye(widths[-1])[:, r]).T for r in range(widths[-1])]
    L = len(widths) - 1
    C = sum(widths[l] * widths[l - 1] for l in range(1, L + 1)) + sum(widths[l] for l in range(1, L))
    assert (fwd.mults, rev.mults) == (widths[0] * C, widths[-1] * C)
    J = acts[-1].jacobian(x)
    assert prove_equal(sp.Matrix.hstack(*cols), J).status == "proved"
    assert prove_equal(sp.Matrix.vstack(*rows), J).status == "proved"


def test_wrong_compact_formulas_are_not_proved_at_symbolic_size():
    """The symbolic-width machinery decides: a recursion without phi', a transposed weight gradient, a cost step
    that forgets the hidden scaling are not proved."""
    import sympy as sp

    from dlproof.derivations import backprop as B
    from dlproof.derivations.indexed import index, prove_entry_equal
    from dlproof.derivations.prove import prove_equal

    i, j = index("i"), index("j")
    zeta, up = sp.MatrixSymbol("z^l", B.nl, 1), B.SymLayer(B.na, B.nl, tag="l+1")
    dnext, k = sp.MatrixSymbol("delta^l+1", B.na, 1), sp.Dummy("k", integer=True)
    vjp = sp.Sum(dnext[k, 0] * sp.diff(up.z(k, a=lambda r: B.phi(zeta[r, 0])), zeta[j, 0]), (k, 0, B.na - 1))
    assert prove_entry_equal(vjp, sp.Sum(up.W[k, j] * dnext[k, 0], (k, 0, B.na - 1)), {j: B.nl}).status != "proved"
    lay, d = B.SymLayer(B.nl, B.nb), sp.MatrixSymbol("delta^l", B.nl, 1)
    dW = sp.Sum(d[k, 0] * sp.diff(lay.z(k, a=lambda r: lay.a[r, 0]), lay.W[i, j]), (k, 0, B.nl - 1))
    assert prove_entry_equal(dW, d[j, 0] * lay.a[i, 0], {i: B.nl, j: B.nb}).status != "proved"
    L, l, w = sp.Symbol("L", integer=True, positive=True), sp.Symbol("l", integer=True), sp.IndexedBase("n")
    a_mv, a_sc = sp.Sum(w[l] * w[l - 1], (l, 1, L + 1)), sp.Sum(w[l], (l, 1, L))
    C = sp.Sum(w[l] * w[l - 1], (l, 1, L)) + sp.Sum(w[l], (l, 1, L - 1))
    assert prove_equal(B._peel(a_mv) + B._peel(a_sc), C + w[L + 1] * w[L]).status != "proved"


# ---- implementations vs the oracle and finite differences -----------------------------------------------


@pytest.mark.parametrize("act", ACTS)
def test_oracle_matches_central_differences(act):
    x, layers, dy = _problem(2)
    g = O.mlp_vjp(x, layers, act, dy)
    eps = 1e-6

    def L(xx, ll):
        return float(np.sum(dy * O.mlp_forward(xx, ll, act)))

    for (l, j), (i, k) in (((0, 0), (1, 2)), ((2, 1), (0, 1))):
        Wp = [(W.copy(), b.copy()) for W, b in layers]
        Wm = [(W.copy(), b.copy()) for W, b in layers]
        Wp[l][0][i, k] += eps
        Wm[l][0][i, k] -= eps
        assert (L(x, Wp) - L(x, Wm)) / (2 * eps) == pytest.approx(g["layers"][l][0][i, k], rel=1e-6, abs=1e-8)
    xp, xm = x.copy(), x.copy()
    xp[1, 2] += eps
    xm[1, 2] -= eps
    assert (L(xp, layers) - L(xm, layers)) / (2 * eps) == pytest.approx(g["x"][1, 2], rel=1e-6, abs=1e-8)


def test_oracle_jacobian_is_the_layer_product():
    x, layers, _ = _problem(3, widths=(2, 3, 2))
    J = O.mlp_jacobian(x, layers, "tanh")
    W1, b1 = layers[0]
    W2 = layers[1][0]
    for b in range(x.shape[0]):
        z = W1 @ x[b] + b1
        np.testing.assert_allclose(J[b], W2 @ np.diag(1 - np.tanh(z) ** 2) @ W1, rtol=1e-13)


# ---- input validation ----------------------------------------------------------------------------------

def _bad_cases():
    x, layers, dy = _problem(5)
    W2_bad = [layers[0], (np.ones((2, 5)), np.ones(2))]
    return [
        ("x", (x[0], layers, "tanh"), ValueError, "argument 'x' should have 2 dimension"),
        ("act", (x, layers, "gelu"), ValueError, "argument 'activation' should be one of"),
        ("empty", (x, [], "tanh"), ValueError, "at least one"),
        ("width", (x, W2_bad, "tanh"), ValueError, "argument 'layers[1][0]' should have shape (n_l, 4)"),
        ("bias", (x, [(layers[0][0], np.ones(3))], "tanh"), ValueError, "argument 'layers[0][1]' should have shape (4,)"),
        ("nan", (np.where(x > 0, np.nan, x), layers, "tanh"), ValueError, "argument 'x' should be finite"),
        ("int", (x.astype(int), layers, "tanh"), TypeError, "floating dtype"),
        ("pair", (x, [layers[0][0]], "tanh"), TypeError, "argument 'layers[0]' should be a tuple (W, b)"),
    ]


# ---- the properties on every implementation, and the mutants ---------------------------------------------

def _target(name, dtype, fwd, vjp):
    return Target(name=name, dtype=dtype, mlp=fwd, mlp_vjp=vjp)


