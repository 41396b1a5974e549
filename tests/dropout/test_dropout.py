"""Dropout end to end: the derivations' statuses, the oracle against the SymPy expressions, the false-alarm
arithmetic of the concentration bounds, the implementations (NumPy, torch, torch.nn adapters) and their
validation, the caller's RNG state, and the mutants the properties must catch."""
from __future__ import annotations

import math
from fractions import Fraction
import numpy as np
import sympy as sp
import pytest

from dlproof.derivations import dropout as D
from dlproof.derivations import oracle_dropout as od
from dlproof.derivations import registry
from dlproof.impl.numpy_ref import dropout as N
from dlproof.impl.targets import numpy_target
from dlproof.properties import concentration as conc
from dlproof.properties import harness, results
from dlproof.properties.assertions import PropertyFailure, TargetRaised
from dlproof.properties.registry import all_properties

from mutants import dropout as FF


STATUS = {
    "dropout.inverted.rule": "definition",
    "dropout.inverted.mean": "proved",
    "dropout.inverted.variance": "proved",
    "dropout.deviation.moments": "proved",
    "dropout.two_point.moments": "proved",
    "dropout.inference.identity": "proved",
    "dropout.vjp": "proved",
    "dropout.wager.linear_regression": "proved-from-lemmas",  # symbolic d and N; expectation taken term by term (cited linearity)
    "dropout.count.binomial": "proved",
    "dropout.seed.agreement": "proved",
    # the concentration inequalities themselves are cited lemmas (Hoeffding, Bernstein, the binomial KL bound)
    "dropout.concentration.hoeffding": "proved-from-lemmas",
    "dropout.concentration.bernstein": "proved-from-lemmas",
    "dropout.concentration.binomial_kl": "proved-from-lemmas",
}
PROPS = ("dropout.values", "dropout.keep_rate", "dropout.mean", "dropout.variance", "dropout.inference.identity",
         "dropout.seed.deterministic", "dropout.vjp")


# ---------------------------------------------------------------- derivations

def test_every_dropout_id_is_listed():
    registry.load_modules()
    assert {k for k in registry.specs() if k.startswith("dropout.")} == set(STATUS)


@pytest.mark.parametrize("sid", sorted(STATUS))
def test_derivation_status(sid):
    registry.load_modules()
    spec = registry.specs()[sid]
    rec = registry.run_spec(spec)
    assert rec["status"] == STATUS[sid], [o for o in rec["obligations"] if o["status"] != "proved"]
    assert rec["obligations"] and all(o["status"] == "proved" for o in rec["obligations"])
    assert spec.seed.startswith("seed: ") and "07-Dropout-Theory.md" in spec.seed
    assert spec.primary and spec.steps and spec.latex


def test_a_wrong_claim_is_not_proved():
    """The route decides: the un-inverted mean q x is not x, a wrong variance is refuted."""
    from dlproof.derivations.prove import prove_equal

    assert prove_equal(D.bernoulli_expectation(D.m * D.x, D.m), D.x).status == "refuted"
    assert prove_equal(D.bernoulli_expectation(D.DEV ** 2, D.m), D.x ** 2 * D.q).status == "refuted"


def test_wrong_general_formulas_are_not_proved():
    """The symbolic-n steps decide: a wrong Pascal step, a wrong VJP entry, a wrong agreement power are not proved."""
    import sympy as sp

    from dlproof.derivations.indexed import index, prove_entry_equal
    from dlproof.derivations.prove import prove_equal, prove_zero

    n, k = sp.Symbol("n", integer=True, positive=True), sp.Symbol("k", integer=True, positive=True)
    pmf = lambda nn, kk: sp.binomial(nn, kk) * D.q ** kk * (1 - D.q) ** (nn - kk)  # noqa: E731
    wrong_step = (D.q * pmf(n, k) + (1 - D.q) * pmf(n, k) - pmf(n + 1, k)) / (D.q ** k * (1 - D.q) ** (n + 1 - k))
    assert prove_zero(sp.combsimp(wrong_step)).status != "proved"
    i, j = index("i"), index("j")
    xs, ms = sp.MatrixSymbol("x", n, 1), sp.MatrixSymbol("m", n, 1)
    J = sp.diff(ms[i, 0] * xs[i, 0] / D.q, xs[j, 0])
    assert prove_entry_equal(J, ms[j, 0] / D.q, {i: n, j: n}).status != "proved"
    a = D.q ** 2 + (1 - D.q) ** 2
    assert prove_equal(a ** n * a, a ** n).status != "proved"


def test_wager_penalty_at_small_sizes_by_enumerating_masks():
    """The general Sum proof agrees with the exact expectation over all 2^3 masks (d = 3) and 2^6 joint masks
    (N = 2, d = 3); a wrong penalty ((1 - q) instead of (1 - q)/q) is not proved by the symbolic-d machinery."""
    from dlproof.derivations.prove import prove_equal
    from dlproof.derivations.sums import prove_sums_equal

    d, q = 3, D.q
    w, xv, ms = sp.symbols("w1:4", real=True), sp.symbols("x1:4", real=True), sp.symbols("m1:4", real=True)
    yv = sp.Symbol("y", real=True)
    assert prove_equal(sum(D.mask_probabilities(d)), 1).status == "proved"
    single = D.mask_expectation(D._wager_point(xv, yv, w, ms), ms)
    plain = (yv - sum(w[j] * xv[j] for j in range(d))) ** 2
    assert prove_equal(single, plain + (1 - q) / q * sum(w[j] ** 2 * xv[j] ** 2 for j in range(d))).status == "proved"
    assert prove_equal(single, plain + (1 - q) * sum(w[j] ** 2 * xv[j] ** 2 for j in range(d))).status == "refuted"
    X = sp.Matrix(2, d, lambda i, j: sp.Symbol(f"X{i + 1}{j + 1}", real=True))
    Yv = sp.Matrix(sp.symbols("Y1:3", real=True))
    W = sp.Matrix(w)
    M = [sp.symbols(f"M{i + 1}_1:{d + 1}", real=True) for i in range(2)]
    joint = D.mask_expectation(sum(D._wager_point(list(X.row(i)), Yv[i], w, M[i]) for i in range(2)),
                               [v for row in M for v in row])
    G = X.T * X
    res = Yv - X * W
    want = (res.T * res)[0] + (1 - q) / q * (W.T * sp.diag(*[G[j, j] for j in range(d)]) * W)[0]
    assert prove_equal(joint, want).status == "proved"
    # symbolic d: the sifted expectation against a wrong penalty
    dd = sp.Symbol("d", integer=True, positive=True)
    wi, xi = sp.IndexedBase("w", real=True), sp.IndexedBase("x", real=True)
    j, k = sp.Dummy("j", integer=True), sp.Dummy("k", integer=True)
    b = lambda i: xi[i] * wi[i]  # noqa: E731
    sifted = (yv ** 2 - 2 * yv * sp.Sum(b(j), (j, 0, dd - 1)) + sp.Sum(b(j) * b(k), (j, 0, dd - 1), (k, 0, dd - 1))
              + (1 - q) / q * sp.Sum(b(j) ** 2, (j, 0, dd - 1)))
    wrong = (yv - sp.Sum(b(j), (j, 0, dd - 1))) * (yv - sp.Sum(b(k), (k, 0, dd - 1))) + (1 - q) * sp.Sum(b(j) ** 2, (j, 0, dd - 1))
    right = wrong - (1 - q) * sp.Sum(b(j) ** 2, (j, 0, dd - 1)) + (1 - q) / q * sp.Sum(b(j) ** 2, (j, 0, dd - 1))
    assert prove_sums_equal(sifted, right, None).status == "proved"
    assert prove_sums_equal(sifted, wrong, None).status != "proved"


def test_scopes_and_lemmas_are_declared():
    from dlproof.derivations import registry

    for sid in STATUS:
        rec = registry.run_spec(registry.specs()[sid])
        assert rec["scope"]["parameters"] is not None, sid
        if sid.startswith("dropout.concentration."):
            assert rec["scope"]["lemmas"] and rec["scope"]["lemmas"][0]["reference"], sid
    rec = registry.run_spec(registry.specs()["dropout.count.binomial"])
    assert {o["scope"]["kind"] for o in rec["obligations"]} == {"base-case", "induction-step"}


def test_oracle_matches_the_derived_expressions():
    pts = [(sp.Rational(-7, 3), sp.Rational(1, 10)), (sp.Rational(5, 2), sp.Rational(3, 4)),
           (sp.Integer(1), sp.Integer(1))]
    for xv, qv in pts:
        sub = {D.x: xv, D.q: qv}
        kept, dropped = od.deviation_terms(float(xv), float(qv))
        assert kept == pytest.approx(float(D.DEV_KEPT.subs(sub)), rel=1e-14, abs=1e-300)
        assert dropped == pytest.approx(float(D.DEV_DROPPED.subs(sub)))
        sk, sd = od.squared_deviation_terms(float(xv), float(qv))
        assert sk == pytest.approx(float(D.SQ_KEPT.subs(sub)), rel=1e-14, abs=1e-300)
        assert sd == pytest.approx(float(D.SQ_DROPPED.subs(sub)), rel=1e-14)
        assert od.squared_deviation_mean(float(xv), float(qv)) == pytest.approx(float(D.SQ_MEAN.subs(sub)), rel=1e-14,
                                                                                 abs=1e-300)
        assert od.kept_value(float(xv), float(qv)) == pytest.approx(float(D.Y.subs(sub).subs(D.m, 1)), rel=1e-14)
        # the two-point moments of the squared deviation are the derived ones
        assert od.two_point_mean(sk, sd, float(qv)) == pytest.approx(float(D.SQ_MEAN.subs(sub)), rel=1e-13, abs=1e-300)
        assert od.two_point_variance(sk, sd, float(qv)) == pytest.approx(float(D.SQ_VARIANCE.subs(sub)), rel=1e-13,
                                                                         abs=1e-300)
    q = sp.Rational(7, 10)
    assert od.mask_agreement(5, 0.7) == pytest.approx(float((q ** 2 + (1 - q) ** 2) ** 5), rel=1e-14)


# ---------------------------------------------------------------- false-alarm arithmetic

@pytest.mark.parametrize("alpha", [1e-10, 1e-3, 0.05])
def test_thresholds_give_exactly_alpha(alpha):
    S, V, b = 123.456, 7.5, 0.9
    t = conc.hoeffding_threshold(S, alpha)
    assert 2 * math.exp(-2 * t * t / S) == pytest.approx(alpha, rel=1e-12)
    t = conc.bernstein_threshold(V, b, alpha)
    assert 2 * math.exp(-t * t / (2 * (V + b * t / 3))) == pytest.approx(alpha, rel=1e-12)


def test_run_budget_below_1e4():
    """8 statistical checks per example (5 of the dropout chapter, 1 per stacked kind), 2x the examples, 16 targets,
    alpha = 1e-10 (exact fractions)."""
    assert sum(conc.CHECKS.values()) == 8
    assert conc.run_bound("ci") == Fraction(256, 10 ** 8)
    assert conc.run_bound("thorough") == Fraction(256, 10 ** 7)
    assert conc.run_bound("sweep") == Fraction(512, 10 ** 7)
    assert all(conc.run_bound(k) < conc.RUN_BUDGET for k in conc.PROFILE_EXAMPLES)
    from dlproof.properties.registry import all_properties
    assert set(conc.CHECKS) <= set(all_properties())


def _exact_outside(n, q: Fraction, lo, hi) -> Fraction:
    pmf = [math.comb(n, k) * q ** k * (1 - q) ** (n - k) for k in range(n + 1)]
    return sum(pmf[:lo]) + sum(pmf[hi + 1:])


@pytest.mark.parametrize("n,q", [(200, Fraction(3, 10)), (300, Fraction(9, 10)), (150, Fraction(1, 2)),
                                 (400, Fraction(1, 10))])
def test_binomial_interval_false_alarm_is_bounded(n, q):
    alpha = 1e-6
    lo, hi = conc.binomial_interval(n, float(q), alpha, delta=0.0)
    assert lo <= n * q <= hi
    assert _exact_outside(n, q, lo, hi) <= Fraction(alpha)
    # and sharper than Hoeffding's plain bound for the count (ranges 1: t = sqrt(n ln(2/alpha) / 2))
    t = conc.hoeffding_threshold(n, alpha)
    assert hi - lo <= 2 * t + 1


def test_binomial_interval_edges():
    assert conc.binomial_interval(1000, 1.0) == (1000, 1000)
    assert conc.binomial_interval(0, 0.5) == (0, 0)
    with pytest.raises(ValueError, match="binomial_interval"):
        conc.binomial_interval(10, 0.0)


def test_two_point_threshold_is_the_smaller_valid_bound():
    rng = np.random.default_rng(3)
    x, q = rng.standard_normal(2000), 0.8
    kept, dropped = od.deviation_terms(x, q)
    out = conc.two_point_threshold(kept, dropped, q, delta=0.0)
    V = float(np.sum(od.two_point_variance(kept, dropped, q)))
    assert out["bernstein"] == pytest.approx(conc.bernstein_threshold(V, max(q, 1 - q) * np.max(np.abs(x)) / q))
    assert out["hoeffding"] == pytest.approx(conc.hoeffding_threshold(np.sum((x / q) ** 2)))
    assert out["threshold"] == min(out["hoeffding"], out["bernstein"]) and out["bias"] == 0.0
    assert out["mean"] == pytest.approx(0.0, abs=1e-9)


# ---------------------------------------------------------------- implementations

def _torch():
    """torch, or skip: torch is optional (extra `torch`), and only the torch implementations need it."""
    return pytest.importorskip("torch")


def _torch_ref():
    """dlproof's torch reference dropout, or skip without torch."""
    _torch()
    from dlproof.impl.torch_ref import dropout

    return dropout


def test_numpy_mask_is_default_rng_below_q():
    x = np.arange(1.0, 101.0)
    y = N.dropout(x, 0.25, True, 42)
    np.testing.assert_array_equal(y != 0, np.random.default_rng(42).random(100) < 0.75)


BAD_FORWARD = [
    (dict(p=1.0), ValueError, "'p'.*< 1"),
    (dict(p=1.5), ValueError, "'p'"),
    (dict(p=-0.1), ValueError, "'p'"),
    (dict(p=float("nan")), ValueError, "'p'"),
    (dict(p="0.5"), TypeError, "'p'"),
    (dict(p=True), TypeError, "'p'"),
    (dict(seed=-1), ValueError, "'seed'"),
    (dict(seed=1.5), TypeError, "'seed'"),
    (dict(seed=True), TypeError, "'seed'"),
    (dict(training=1), TypeError, "'training'"),
    (dict(x=np.array([1.0, np.nan])), ValueError, "'x'.*finite"),
    (dict(x=np.array([1.0, np.inf])), ValueError, "'x'.*finite"),
    (dict(x=np.array([1, 2])), TypeError, "'x'.*floating"),
    (dict(x=None), TypeError, "'x'"),
]


# ---------------------------------------------------------------- the properties on the adapters, and the mutants


BASE = numpy_target("float64")


MUTANTS = {
    # name: (replacements, properties that must catch it, a phrase of the message)
    "scale_by_p": (dict(dropout=FF.dropout_scaled(lambda q, p: p)), ("dropout.values", "dropout.mean", "dropout.variance"),
                   "= p"),
    "scale_by_q": (dict(dropout=FF.dropout_scaled(lambda q, p: q)), ("dropout.values", "dropout.mean", "dropout.variance"),
                   "= q = 1 - p"),
    "no_scaling": (dict(dropout=FF.dropout_scaled(lambda q, p: 1.0)), ("dropout.values", "dropout.mean", "dropout.variance"),
                   "1 (no scaling)"),
    "drop_with_q": (dict(dropout=FF.dropout_keep_with_p), ("dropout.keep_rate", "dropout.mean"), ""),
    "dropout_at_inference": (dict(dropout=FF.dropout_at_inference),
                             ("dropout.inference.identity",), "inference is the identity"),
    "vjp_other_seed": (dict(dropout_vjp=FF.dropout_vjp_other_seed),
                       ("dropout.vjp",), "a different mask"),
    "vjp_without_1_over_q": (dict(dropout_vjp=FF.dropout_vjp_without_1_over_q),
                             ("dropout.vjp",), "should be r = 1/q"),
    "seed_ignored": (dict(dropout=FF.dropout_seed_ignored),
                     ("dropout.seed.deterministic",), "the seed looks ignored"),
    "global_rng": (dict(dropout=FF.dropout_global_rng), ("dropout.seed.deterministic",), "global RNG state"),
}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_is_caught(name, tmp_path):
    from dataclasses import replace

    repl, prop_ids, phrase = MUTANTS[name]
    target = replace(BASE, name=f"mutant {name}", **repl)
    props = all_properties()
    for pid in prop_ids:
        with pytest.raises((PropertyFailure, TargetRaised)) as info:
            harness.run(props[pid], target, f"tests.test_dropout:{name}", profile="ci", report_dir=tmp_path)
        msg = str(info.value)
        assert target.name in msg and pid in msg and "but should" in msg
        assert results.ROWS[-1]["verdict"] == "fail"
        if pid == prop_ids[0]:
            assert phrase in msg, msg
