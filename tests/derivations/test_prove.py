"""The prover decides exactly or says "undecided"; it never calls a false or undecided identity proved."""
import sympy as sp

from dlproof.derivations.functions import phi, relu, sigmoid
from dlproof.derivations.prove import (PROVED, REFUTED, UNDECIDED, combine, prove_equal, prove_positive,
                                       prove_true, prove_zero)

x = sp.Symbol("x", real=True)


def test_refuses_a_false_identity_with_a_counterexample():
    r = prove_zero(sigmoid(x) - (1 - sigmoid(x)))  # false: only true at x = 0
    assert r.status == REFUTED and r.counterexample is not None
    pt = {sp.Symbol(k, real=True): sp.Rational(v) for k, v in r.counterexample["point"].items()}
    assert abs(sp.N((2 * sigmoid(x) - 1).rewrite(sp.exp).xreplace(pt), 30)) > 1e-10  # the point really is one


def test_refuses_false_matrix_identity():
    W = sp.Matrix([[1, 2], [3, 4]])
    D = sp.diag(sp.Rational(1, 2), 1)
    assert prove_equal(W.T * D, D * W).status == REFUTED
    assert prove_equal(sp.eye(2), sp.eye(3)).status == REFUTED


def test_undecided_is_not_proved():
    # true (Gamma(x+1) = x Gamma(x)), but no exact tier short of simplify decides it
    e = sp.gamma(x + 1) - x * sp.gamma(x)
    r = prove_zero(e, use_simplify=False)
    assert r.status == UNDECIDED and not r.proved
    assert prove_zero(e).status == PROVED  # simplify, under its time limit, does
    # an identity between undefined functions cannot be evaluated, so it cannot be refuted either
    r = prove_zero(phi(x) - phi(2 * x))
    assert r.status == UNDECIDED and not r.proved


def test_true_identities_are_proved_by_exact_tiers():
    assert prove_zero(sp.tanh(x) - (2 * sigmoid(2 * x) - 1)).status == PROVED
    assert prove_zero(sp.diff(sigmoid(x), x) - sigmoid(x) * (1 - sigmoid(x))).method == "structural"
    assert prove_equal(sp.diff(relu(x), x).subs(x, 0), 0).proved


def test_relations_and_positivity():
    assert prove_true(sp.Lt(2 * (1 - sp.tanh(1) ** 2), 1)).status == PROVED
    assert prove_true(sp.Gt(0, 1)).status == REFUTED
    assert prove_positive(1 / (1 + sp.exp(-x))).status == PROVED
    assert prove_positive(x).status == REFUTED  # x real may be negative


def test_combine_is_all_or_nothing():
    p, u, r = prove_zero(0), prove_zero(phi(x) - phi(2 * x)), prove_zero(x - 1)
    assert combine([p, p]).status == PROVED
    assert combine([p, u]).status == UNDECIDED
    assert combine([p, u, r]).status == REFUTED


def test_engine_is_reported():
    r = prove_positive(sp.pi - sp.Rational(355, 113))  # false: about -2.7e-7, certified by a ball
    assert r.status == REFUTED and r.engine == "flint-arb" and r.to_json()["engine"] == "flint-arb"
    assert prove_zero(sp.sqrt(2) + sp.sqrt(3) - sp.sqrt(5 + 2 * sp.sqrt(6))).engine == "sympy-minpoly"


def test_nothing_is_never_proved():
    assert combine([]).status == UNDECIDED
    assert prove_equal(sp.zeros(0, 0), sp.zeros(0, 0)).status == UNDECIDED
    assert prove_equal(sp.zeros(0, 2), sp.zeros(0, 2)).status == UNDECIDED


def test_time_limit_returns_undecided():
    import time

    t = time.monotonic()
    r = prove_positive(sp.gamma(x + 1) ** 7 - x, time_limit=0.05)
    assert r.status in (UNDECIDED, REFUTED) and time.monotonic() - t < 2.0


def test_exp_is_positive_only_for_real_arguments():
    u, y, z = sp.symbols("u y z")  # complex
    assert prove_zero((sp.exp(u) ** y) ** z - sp.exp(u) ** (y * z)).status != PROVED
    assert prove_zero((sp.exp(x) ** 2) ** x - sp.exp(x) ** (2 * x)).status == PROVED
