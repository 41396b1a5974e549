"""The neural tangent kernel end to end: derivations (ntk.*), the float64 oracle against Monte Carlo and
quadrature, the NumPy / torch references and the torch.nn adapter against the oracle and finite differences,
validation, the properties on every implementation, the false-alarm arithmetic, and the mutants they must catch."""
from dataclasses import replace
from fractions import Fraction
from math import comb
import mpmath
import numpy as np
import sympy as sp
import pytest

from dlproof.derivations import oracle_ntk as oracle
from dlproof.impl.numpy_ref import ntk as NN
from dlproof.properties import finite_difference as FD
from dlproof.properties import harness, results
from dlproof.properties import ntk as PN
from dlproof.properties.assertions import PropertyFailure, TargetRaised
from dlproof.properties.registry import all_properties
from dlproof.target import Target

from mutants import ntk as MN
from chapter_checks import chapter_records, check_chapter_records


EXPECTED_STATUS = {
    "ntk.empirical.definition": "definition", "ntk.arccos.kappa0": "proved-from-lemmas",
    "ntk.arccos.kappa1": "proved-from-lemmas", "ntk.analytic": "proved-from-lemmas", "ntk.empirical.mean": "proved-from-lemmas",
    "ntk.empirical.variance": "proved-from-lemmas", "ntk.psd": "proved-from-lemmas",
    "ntk.concentration.median_of_means": "proved-from-lemmas",
}
PROPS = ("ntk.empirical.definition", "ntk.psd", "ntk.convergence")


# ---------------------------------------------------------------- derivations

@pytest.fixture(scope="module")
def ntk_records():
    return chapter_records(EXPECTED_STATUS)


def test_every_ntk_id_is_registered_and_has_its_status(ntk_records):
    check_chapter_records(ntk_records, "ntk", EXPECTED_STATUS, "02-Neural-Tangent-Kernel.md")



def test_a_wrong_finite_width_variance_is_not_proved():
    from dlproof.derivations.indexed import index, prove_entry_equal
    m = sp.Symbol("m", integer=True, positive=True)
    r, q = index("r"), index("q")
    v = sp.Symbol("v", nonnegative=True)
    var = sp.Sum(sp.Sum(sp.KroneckerDelta(r, q) * v, (q, 0, m - 1)), (r, 0, m - 1)) / m ** 2
    assert prove_entry_equal(var, v / m, {r: m}).status == "proved"
    assert prove_entry_equal(var, v / m ** 2, {r: m}).status != "proved"


def test_psd_is_general_and_a_wrong_gram_form_is_not_proved(ntk_records):
    """ntk.psd holds for symbolic n, P from the cited expectation lemma; the Sum machinery that proves
    sum_ij c_i c_j g_i.g_j = sum_p (sum_i c_i g_ip)^2 does not prove it with a lost cross term (i = j only)."""
    from dlproof.derivations.sums import prove_sums_equal

    rec = ntk_records["ntk.psd"]
    assert {o["scope"]["kind"] for o in rec["obligations"]} == {"general", "lemma-check"}
    assert [lm["id"] for lm in rec["scope"]["lemmas"]] == ["lemma.prob.expectation_linear_monotone"]
    n, P = sp.symbols("n P", integer=True, positive=True)
    G, c = sp.IndexedBase("G", real=True), sp.IndexedBase("c", real=True)
    i, j, p = (sp.Dummy(v, integer=True) for v in "ijp")
    quad = sp.Sum(c[i] * c[j] * sp.Sum(G[i, p] * G[j, p], (p, 0, P - 1)), (i, 0, n - 1), (j, 0, n - 1))
    diag_only = sp.Sum(c[i] ** 2 * G[i, p] ** 2, (i, 0, n - 1), (p, 0, P - 1))
    assert prove_sums_equal(quad, diag_only, None).status != "proved"


def test_two_point_ntk_determinant_at_a_right_angle():
    """n = 2 points at theta = pi/2: det Theta = |x|^2 |x'|^2 (1 - 1/(4 pi^2)) > 0 (an example, not the proof)."""
    from dlproof.derivations import ntk as D
    from dlproof.derivations.prove import prove_equal, prove_positive

    det2 = (D.THETA.subs({D.th: 0, D.ny: D.nx}) * D.THETA.subs({D.th: 0, D.nx: D.ny}) - D.THETA.subs(D.th, sp.pi / 2) ** 2)
    assert prove_equal(det2, D.nx ** 2 * D.ny ** 2 * (1 - 1 / (4 * sp.pi ** 2))).status == "proved"
    assert prove_positive(D.nx ** 2 * D.ny ** 2 * (4 * sp.pi ** 2 - 1)).status == "proved"


def test_the_kappa1_check_discriminates():
    """The exact check that proves kappa1 refutes the formula with (pi + theta) in place of (pi - theta)."""
    from dlproof.derivations import ntk as D
    from dlproof.derivations.prove import prove_equal

    wrong = D.nx * D.ny * (sp.sin(D.th) + (sp.pi + D.th) * sp.cos(D.th)) / (2 * sp.pi)
    ang = D._sector(sp.cos(D.ph) * sp.cos(D.ph - D.th))
    assert prove_equal(D.nx * D.ny * D._radial(2) * ang / (2 * sp.pi), wrong).status == "refuted"


def test_the_median_of_means_constants_match_the_property():
    from dlproof.derivations import ntk as D

    assert PN.CHEB_P == Fraction(int(D.MOM_P.p), int(D.MOM_P.q)) and PN.GROUPS == D.MOM_GROUPS
    assert PN.check_alpha() == Fraction(str(D.binomial_tail(D.MOM_GROUPS, D.MOM_P, 8)))


# ---------------------------------------------------------------- the oracle against independent routes

def _mc_points(seed=0, d=3):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((3, d)) * [[0.5], [1.0], [2.0]]


def test_theta_and_variance_match_monte_carlo():
    """Theta and v from the closed forms against a 400k-unit Monte Carlo average (5 sigma, plus v's own noise)."""
    X = _mc_points()
    rng = np.random.default_rng(1)
    M = 400_000
    W, a = rng.standard_normal((M, X.shape[1])), rng.standard_normal(M)
    U = X @ W.T
    th, v = oracle.theta(X, X), oracle.unit_variance(X, X)
    for i in range(3):
        for j in range(3):
            t = np.maximum(U[i], 0) * np.maximum(U[j], 0) + a ** 2 * (U[i] > 0) * (U[j] > 0) * (X[i] @ X[j])
            assert abs(t.mean() - th[i, j]) <= 5 * np.sqrt(v[i, j] / M), (i, j)
            assert abs(t.var() - v[i, j]) <= 0.05 * v[i, j], (i, j)


def test_kappa_closed_forms_match_planar_quadrature():
    """kappa0, kappa1 and M22 against mpmath quadrature of the 2-D Gaussian integral in polar coordinates over the
    whole circle (no sector assumed): the integrands are homogeneous of degree k = 0, 2, 4 in w, so
    E = (1/2pi) int_0^oo r^(k+1) e^(-r^2/2) dr * int_(-pi)^(pi) g(cos phi, sin phi) dphi, both by quadrature."""
    relu = lambda z: z if z > 0 else 0  # noqa: E731
    H = lambda z: 1 if z > 0 else 0  # noqa: E731
    radial = {k: mpmath.quad(lambda r: r ** (k + 1) * mpmath.exp(-r ** 2 / 2), [0, mpmath.inf]) for k in (0, 2, 4)}
    for t in (0.3, 1.2, 2.5):
        x, y = np.array([1.5, 0.0]), 0.8 * np.array([np.cos(t), np.sin(t)])
        X1, X2 = x[None], y[None]
        # break points at every zero of the two cosines, where the integrands have kinks or jumps
        cuts = sorted({-np.pi, -np.pi / 2, np.pi / 2, np.pi, t - np.pi / 2, t + np.pi / 2 - 2 * np.pi * (t > np.pi / 2)})

        def expect(f, k):
            def g(p):
                return f(x[0] * mpmath.cos(p), y[0] * mpmath.cos(p) + y[1] * mpmath.sin(p))
            return float(radial[k] * mpmath.quad(g, [mpmath.mpf(c) for c in cuts]) / (2 * mpmath.pi))

        np.testing.assert_allclose(expect(lambda u, v: H(u) * H(v), 0), oracle.kappa0(X1, X2)[0, 0], rtol=1e-10)
        np.testing.assert_allclose(expect(lambda u, v: relu(u) * relu(v), 2), oracle.kappa1(X1, X2)[0, 0], rtol=1e-10)
        np.testing.assert_allclose(expect(lambda u, v: relu(u) ** 2 * relu(v) ** 2, 4), oracle.m22(X1, X2)[0, 0],
                                   rtol=1e-10)


def test_stable_angle_near_parallel_and_zero_points():
    x = np.array([[1.0, 2.0, 3.0]])
    y = x * (1 + 1e-12)
    t, _, _ = oracle.angle(x, y)
    assert t[0, 0] < 1e-12  # arccos of the rounded cosine would give ~1e-8
    np.testing.assert_allclose(oracle.theta(x, x), x @ x.T, rtol=1e-14)  # Theta(x, x) = |x|^2
    z = np.zeros((1, 3))
    assert oracle.theta(z, x)[0, 0] == 0 and oracle.unit_variance(z, x)[0, 0] == 0


# ---------------------------------------------------------------- references vs oracle vs finite differences

def _problem(seed=0, n1=3, n2=2, d=4, m=7):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n1, d)), rng.standard_normal((n2, d)), rng.standard_normal((m, d)), rng.standard_normal(m)


def _fd_gradient(x, W, a):
    """Central differences of f(x) = a^T relu(W x)/sqrt(m) w.r.t. (vec W, a), in float64."""
    m = W.shape[0]

    def f(W_, a_):
        return float(a_ @ np.maximum(W_ @ x, 0) / np.sqrt(m))

    return np.concatenate([FD.gradient(lambda W_: f(W_, a), W).ravel(), FD.gradient(lambda a_: f(W, a_), a)])


def test_numpy_jacobian_rows_are_the_gradients():
    X1, _, W, a = _problem(1)
    J = NN.jacobian(X1, W, a)
    for i, x in enumerate(X1):
        np.testing.assert_allclose(J[i], _fd_gradient(x, W, a), rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- validation

_X1, _X2, _W, _A = _problem(4, m=5)
BAD = [
    (dict(W=np.ones(5)), "'W' should have 2 dimensions"),
    (dict(W=np.ones((0, 4))), "m >= 1 hidden units"),
    (dict(a=np.ones(4)), "'a' should have shape"),
    (dict(X1=np.ones((2, 3))), "'X1' should have shape \\(n, d\\) with d = W.shape\\[1\\] = 4"),
    (dict(X2=np.ones(4)), "'X2' should have 2 dimensions"),
    (dict(X1=np.ones((2, 4), dtype=np.int64)), "'X1' should have a floating dtype"),
    (dict(a=np.array([1.0, np.nan, 0, 0, 0])), "'a' should be finite"),
    (dict(W=np.full((5, 4), np.inf)), "'W' should be finite"),
    (dict(X2=None), "'X2' should be a float array"),
]


# ---------------------------------------------------------------- the false-alarm arithmetic

def test_false_alarm_arithmetic_is_exact():
    alpha = PN.check_alpha()
    p = Fraction(1, 53)
    assert alpha == sum(comb(15, k) * p ** k * (1 - p) ** (15 - k) for k in range(8, 16))
    assert alpha <= Fraction(1, 10 ** 10)
    assert PN.check_alpha(15, Fraction(1, 52)) > Fraction(1, 10 ** 10)  # p = 1/53 is the largest 1/k that works
    for profile in PN.PROFILE_EXAMPLES:
        assert PN.run_bound(profile) == 9 * 2 * PN.PROFILE_EXAMPLES[profile] * 16 * alpha
        assert PN.run_bound(profile) < PN.RUN_BUDGET
    assert float(PN.run_bound("uncapped")) == pytest.approx(5.29e-5, rel=1e-2)
    with pytest.raises(ValueError, match="profile"):
        PN.run_bound("nope")


def test_chebyshev_threshold_is_the_level_p():
    v = np.array([3.0, 0.2])
    t = PN.threshold(v, 2048)
    np.testing.assert_allclose(v / (2048 * t ** 2), float(PN.CHEB_P), rtol=1e-8)


def test_the_group_medians_of_a_correct_kernel_concentrate():
    """Empirically: over 200 draws of 15 groups (m = 256 each), the median's deviation stays below t, and the
    per-group deviation exceeds t with frequency <= p (Chebyshev) -- the bound is honest, not tight."""
    X = _mc_points(5)
    th, v = oracle.theta(X, X), oracle.unit_variance(X, X)
    t = PN.threshold(v, 256)
    rng = np.random.default_rng(7)
    draws, G, m = 200, 15, 256
    U = X @ rng.standard_normal((3, draws * G * m))  # every unit's pre-activations, (3, units)
    a2 = rng.standard_normal(draws * G * m) ** 2
    R, H = np.maximum(U, 0), (U > 0).astype(float)
    terms = R[:, None] * R[None] + a2 * H[:, None] * H[None] * (X @ X.T)[:, :, None]  # (3, 3, units)
    Ks = terms.reshape(3, 3, draws, G, m).mean(axis=-1)  # (3, 3, draws, G): the group kernels
    dev = np.abs(Ks - th[:, :, None, None])
    assert np.all(np.abs(np.median(Ks, axis=-1) - th[:, :, None]) <= t[:, :, None])
    assert np.sum(dev > t[:, :, None, None]) <= float(PN.CHEB_P) * dev.size


# ---------------------------------------------------------------- the properties on every implementation


# ---------------------------------------------------------------- mutants

BASE = Target(name="numpy ntk", dtype="float64", empirical_ntk=NN.empirical_ntk)
MUTANTS = {
    "unscaled/definition": (MN.ntk_unscaled, "ntk.empirical.definition", "scaled by m"),
    "unscaled/convergence": (MN.ntk_unscaled, "ntk.convergence", "1/sqrt(m) of f missing"),
    "no_a_grad/definition": (MN.ntk_bug("no_a_grad"), "ntk.empirical.definition", "without the a-gradient term"),
    "no_a_grad/convergence": (MN.ntk_bug("no_a_grad"), "ntk.convergence", "but should be Theta"),
    "no_w_grad/definition": (MN.ntk_bug("no_w_grad"), "ntk.empirical.definition", "without the W-gradient term"),
    "no_w_grad/convergence": (MN.ntk_bug("no_w_grad"), "ntk.convergence", "but should be Theta"),
    "relu_for_drelu/definition": (MN.ntk_bug("relu_for_drelu"), "ntk.empirical.definition", "relu in place of relu'"),
    "relu_for_drelu/convergence": (MN.ntk_bug("relu_for_drelu"), "ntk.convergence", "but should be Theta"),
    "drelu0_is_1/definition": (MN.ntk_drelu_zero_is_one, "ntk.empirical.definition", "relu'(0) = 1"),
    "asymmetric/psd": (MN.ntk_asymmetric, "ntk.psd", "should be symmetric"),
}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_is_caught(name):
    fn, pid, hint = MUTANTS[name]
    target = replace(BASE, name=f"mutant: {name.split('/')[0]}", empirical_ntk=fn)
    with pytest.raises(PropertyFailure) as info:
        harness.run(all_properties()[pid], target, f"mutant:{name}", profile="ci")
    msg = str(info.value)
    assert target.name in msg and pid in msg and "but should" in msg and hint in msg, msg
    assert results.ROWS[-1]["verdict"] == "fail"


def test_a_raising_target_is_an_error_not_a_pass():
    def boom(*a):
        raise RuntimeError("no")

    with pytest.raises(TargetRaised):
        harness.run(all_properties()["ntk.psd"], replace(BASE, name="raises", empirical_ntk=boom), "raises",
                    profile="ci")
