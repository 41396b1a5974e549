"""Universal approximation, constructively: the derivations (uat.*), and the NumPy construction checked against
them by Hypothesis over drawn smooth functions (sup|f - g| <= (b - a)^2 max|f''|/(8 N^2), equality for quadratics,
exactly N units), the sigmoid rate, validation, and broken constructions that the checks must catch."""
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

from dlproof.derivations import uat as D
from dlproof.impl.numpy_ref import uat as U

from chapter_checks import chapter_records, check_chapter_records

# interpolant: induction on the cell for symbolic N; step network: symbolic J from the cited triangle inequality
# units: triangular system + forward substitution (symbolic N), N - 1 fixed-kink units linear (rank <= columns, cited)
EXPECTED_STATUS = {"uat.relu.interpolant": "proved", "uat.relu.units": "proved-from-lemmas",
                   "uat.relu.units.free_kinks.refuted": "refuted", "uat.relu.error_bound": "proved-from-lemmas",
                   "uat.sigmoid.step": "proved", "uat.sigmoid.step_network": "proved-from-lemmas"}
U64 = 2.0 ** -53
SETTINGS = dict(max_examples=100, deadline=None, derandomize=True, database=None)

_bound = sp.lambdify((D.a_, D.B_END, D.M2, D.N_UNITS), D.ERROR_BOUND, "math")
_rate = sp.lambdify((D.K_STEEP, D.DELTA), D.STEP_RATE, "math")


# ---------------------------------------------------------------- derivations

@pytest.fixture(scope="module")
def uat_records():
    return chapter_records(EXPECTED_STATUS)


def test_every_uat_id_is_registered_and_has_its_status(uat_records):
    check_chapter_records(uat_records, "uat", EXPECTED_STATUS, "01-Universal-Approximation-Theorem.md")



def test_two_free_kink_units_have_a_full_rank_jacobian_on_four_points():
    """The refutation's rank: recomputed from the network (relu) directly, at the exact point; fixed kinks give rank 3."""
    beta, w1, b1, c1, w2, b2, c2 = th = sp.symbols("beta w1 b1 c1 w2 b2 c2", real=True)
    p0 = {beta: 0, w1: 1, b1: sp.Rational(-1, 2), c1: 1, w2: -1, b2: sp.Rational(5, 2), c2: 1}
    F = sp.Matrix([beta + c1 * sp.Max(0, w1 * x + b1) + c2 * sp.Max(0, w2 * x + b2) for x in range(4)])
    assert F.jacobian(sp.Matrix(th)).subs(p0).rank() == 4
    fixed = [beta, c1, c2]  # kinks held at 1/2 and 5/2: only the output layer moves
    assert F.jacobian(sp.Matrix(fixed)).subs(p0).rank() == 3


def test_the_cell_check_discriminates():
    """The exact cell check refutes the construction with c_k = s_k (no slope difference)."""
    from dlproof.derivations.prove import prove_equal

    fs = list(sp.symbols("f0:4", real=True))
    xk = [D.a_ + k * D.h for k in range(4)]
    wrong_c = [(fs[k + 1] - fs[k]) / D.h for k in range(3)]
    on_cell2 = fs[0] + sum(wrong_c[j] * (xk[2] + D.s * D.h - xk[j]) for j in range(3))
    assert prove_equal(on_cell2, fs[2] + D.s * (fs[3] - fs[2])).status == "refuted"


def test_the_general_induction_step_discriminates(uat_records):
    """The interpolant is proved by induction on the cell (base case + general step, no sized check); the same
    step algebra with the wrong weights c_{k+1} = s_{k+1} (no slope difference) is not proved."""
    from dlproof.derivations.prove import prove_zero

    kinds = {o["scope"]["kind"] for o in uat_records["uat.relu.interpolant"]["obligations"]}
    assert kinds == {"general", "base-case", "induction-step"}
    assert {o["scope"]["kind"] for o in uat_records["uat.sigmoid.step_network"]["obligations"]} == {"general"}
    f, k = sp.Function("f"), sp.Symbol("k", integer=True, nonnegative=True)
    cell = lambda kc, sc_: f(kc) + sc_ * (f(kc + 1) - f(kc))  # noqa: E731
    right = cell(k, D.s + 1) + D.s * (f(k + 2) - 2 * f(k + 1) + f(k)) - cell(k + 1, D.s)
    wrong = cell(k, D.s + 1) + D.s * (f(k + 2) - f(k + 1)) - cell(k + 1, D.s)
    assert prove_zero(sp.expand(right)).status == "proved"
    assert prove_zero(sp.expand(wrong)).status != "proved"


def test_units_record_is_general_and_rests_on_the_rank_lemma(uat_records):
    """No obligation of uat.relu.units is a sized check; its one cited lemma is rank <= number of columns."""
    rec = uat_records["uat.relu.units"]
    kinds = {o["scope"]["kind"] for o in rec["obligations"]}
    assert kinds == {"general", "base-case", "induction-step", "lemma-check"}
    assert [l["id"] for l in rec["scope"]["lemmas"]] == ["lemma.linalg.rank_le_columns"]


def test_units_at_N_3_explicitly():
    """The former sized check, recomputed from Max(0, .): at N = 3 the 4 x 4 system [1, relu(x_i - x_k)] has
    det h^3 != 0, and 2 units at x_1, x_2 of any orientation give grid values of rank 3 < 4."""
    a, h = sp.Symbol("a", real=True), sp.Symbol("h", positive=True)
    xk = [a + k * h for k in range(4)]
    M = sp.Matrix(4, 4, lambda i, k: 1 if k == 0 else sp.Max(0, xk[i] - xk[k - 1]))
    assert sp.simplify(M.det() - h ** 3) == 0
    for o1 in (1, -1):
        for o2 in (1, -1):
            V = sp.Matrix(4, 3, lambda i, q: 1 if q == 0 else sp.Max(0, sp.expand((o1 if q == 1 else o2) * (xk[i] - xk[q]))))
            assert V.rank() == 3


def test_units_general_machinery_discriminates():
    """Wrong formulas are not proved: forward substitution dividing by 2h, a zero diagonal relu(h) = 0, a map that is
    affine (an extra constant) or nonlinear in the output weights (c_k^2, or relu(c_k)), and the free-kink map
    (weights w_k scaled with c_k) are not linear; the right ones are."""
    from dlproof.derivations.functions import relu
    from dlproof.derivations.prove import prove_true

    j, k, N = D.UNITS_ROW, D.UNITS_K, D.UNITS_N
    f, beta, S = sp.Function("f"), sp.Symbol("beta", real=True), sp.Symbol("S", real=True)
    assert D.forward_row((f(j + 1) - beta - S) / D.h, S, beta, f(j + 1)).status == "proved"
    assert D.forward_row((f(j + 1) - beta - S) / (2 * D.h), S, beta, f(j + 1)).status != "proved"
    assert prove_true(sp.Eq(relu(D.h), 0)).status != "proved"
    x_ = lambda i: D.a_ + i * D.h  # noqa: E731
    m, sigma, w = sp.Function("m"), sp.Function("sigma"), sp.Function("w")
    coef = relu(sigma(k) * (x_(j) - x_(m(k))))
    right = lambda b_, cc: b_ + sp.Sum(cc(k) * coef, (k, 1, N - 1))  # noqa: E731
    assert D.linear_in_output(right).status == "proved"
    for wrong in (lambda b_, cc: 1 + right(b_, cc),
                  lambda b_, cc: b_ + sp.Sum(cc(k) ** 2 * coef, (k, 1, N - 1)),
                  lambda b_, cc: b_ + sp.Sum(relu(cc(k)) * coef, (k, 1, N - 1)),
                  lambda b_, cc: b_ + sp.Sum(relu(cc(k) * w(k) * x_(j) - x_(m(k))), (k, 1, N - 1))):
        assert D.linear_in_output(wrong).status != "proved"


def test_the_interpolant_at_N_4_explicitly():
    """The explicit N = 4 construction: on every cell, g(x_k + s h) = f_k + s (f_{k+1} - f_k)."""
    from dlproof.derivations.prove import prove_equal

    fs = list(sp.symbols("f0:5", real=True))
    for k in range(4):
        assert prove_equal(D._on_cell(fs, k), fs[k] + D.s * (fs[k + 1] - fs[k])).status == "proved"


def test_the_bound_is_the_derived_one():
    assert _bound(0.0, 3.0, 2.0, 3) == pytest.approx(9 * 2 / (8 * 9), rel=1e-15)


# ---------------------------------------------------------------- drawn functions with a computable max|f''|

class Fn:
    """f, its float64 magnitude scale (for rounding) and M2 >= max_[a, b] |f''| (exact or a valid upper bound)."""

    def __init__(self, f, mag, m2, desc):
        self.f, self.mag, self.m2, self.desc = f, mag, m2, desc

    def __repr__(self):
        return self.desc


def _sines(draw, a, b):
    J = draw(st.integers(1, 3))
    c = [draw(st.floats(-2, 2)) for _ in range(J)]
    w = [draw(st.floats(0.1, 5)) for _ in range(J)]
    p = [draw(st.floats(0, 6.3)) for _ in range(J)]

    def f(x):
        return sum(ci * np.sin(wi * x + pi) for ci, wi, pi in zip(c, w, p))
    # |f''| = |sum c w^2 sin(.)| <= sum |c| w^2 (a valid bound; the test asserts the error is below it)
    return Fn(f, lambda x: sum(abs(ci) for ci in c) + 0 * x, sum(abs(ci) * wi ** 2 for ci, wi in zip(c, w)),
              f"sum c sin(w x + p), c={c}, w={w}, p={p}")


def _quartic(draw, a, b):
    q = [Fraction(draw(st.integers(-12, 12)), 4) for _ in range(5)]

    def f2(t):  # f'' = 2 q2 + 6 q3 t + 12 q4 t^2, exact in Fractions
        return 2 * q[2] + 6 * q[3] * t + 12 * q[4] * t ** 2
    A, B = Fraction(a), Fraction(b)
    cands = [A, B]
    if q[4] != 0:
        v = -6 * q[3] / (24 * q[4])
        if A <= v <= B:
            cands.append(v)
    m2 = max(abs(f2(t)) for t in cands)  # the exact max of |f''| on [a, b]: a quadratic's extremes
    qf = [float(v) for v in q]
    return Fn(lambda x: sum(qf[i] * x ** i for i in range(5)), lambda x: sum(abs(qf[i]) * np.abs(x) ** i for i in range(5)),
              float(m2) * (1 + 4 * U64), f"quartic q={qf}")


def _exp(draw, a, b):
    c = draw(st.floats(-2, 2))
    return Fn(lambda x: np.exp(c * x), lambda x: np.exp(c * x), c * c * max(np.exp(c * a), np.exp(c * b)) * (1 + 4 * U64),
              f"exp({c} x)")


@st.composite
def problems(draw):
    a = draw(st.integers(-16, 8)) / 8  # dyadic: exact in float64 and in Fractions
    b = a + draw(st.integers(1, 32)) / 8
    N = draw(st.integers(1, 40))
    fam = draw(st.sampled_from([_sines, _quartic, _exp]))
    return fam(draw, a, b), a, b, N


def _rounding_slack(fn, params, a, b, N):
    """|g_computed - g_exact interpolant| bound: f's float64 evaluation error (8 u per magnitude, carried through the
    interpolant's convex combinations), the slopes and their differences (c_k), and the network's sum of N + 1
    terms, each <= (N + 8) u times the magnitudes involved, with a safety factor 16."""
    xs = np.linspace(a, b, 257)
    F = float(np.max(fn.mag(xs)))
    c = np.asarray(params[2])
    slopes = np.cumsum(c)
    span = (b - a) + abs(a) + abs(b)
    return 8 * U64 * F * 4 + 16 * (N + 8) * U64 * (F + span * float(np.sum(np.abs(c)) + np.sum(np.abs(slopes))))


def check_interpolant(build, fn, a, b, N, points_per_cell=64):
    """The checks of uat.relu.*: N units; sup over a dense grid (every cell, its midpoint included) of |f - g| <= the
    derived bound plus rounding. Returns (observed error, bound, slack)."""
    xk = U.grid(a, b, N)
    params = build(fn.f(xk), a, b)
    assert len(params[0]) == N, f"{len(params[0])} hidden units, but should be N = {N} (uat.relu.units)"
    s = np.linspace(0.0, 1.0, points_per_cell + 1)
    h = (b - a) / N
    xs = (xk[:N, None] + s[None, :] * h).ravel()
    err = float(np.max(np.abs(fn.f(xs) - U.evaluate(params, xs))))
    bound, slack = _bound(a, b, fn.m2, N), _rounding_slack(fn, params, a, b, N)
    assert err <= bound + slack, (f"sup|f - g| = {err:.6g}, but should be <= (b - a)^2 max|f''|/(8 N^2) = {bound:.6g} "
                                  f"(+ rounding {slack:.3g}) for {fn}, [a, b] = [{a}, {b}], N = {N}")
    return err, bound, slack


@settings(**SETTINGS)
@given(problems())
def test_relu_interpolant_meets_the_derived_bound(P):
    fn, a, b, N = P
    check_interpolant(U.relu_interpolant, fn, a, b, N)


@settings(**SETTINGS)
@given(problems())
def test_relu_interpolant_interpolates_and_is_linear_on_cells(P):
    fn, a, b, N = P
    xk = U.grid(a, b, N)
    fv = fn.f(xk)
    params = U.relu_interpolant(fv, a, b)
    slack = _rounding_slack(fn, params, a, b, N)
    np.testing.assert_allclose(U.evaluate(params, xk), fv, rtol=0, atol=slack)
    s = np.array([0.25, 0.5, 0.75])
    mids = xk[:N, None] + s * (b - a) / N
    np.testing.assert_allclose(U.evaluate(params, mids), fv[:N, None] + s * (fv[1:] - fv[:N])[:, None], rtol=0, atol=slack)


@settings(**SETTINGS)
@given(st.integers(-16, 8), st.integers(1, 32), st.integers(1, 40), st.integers(-12, 12).filter(bool),
       st.integers(-12, 12), st.integers(-12, 12))
def test_quadratics_attain_the_bound_at_the_midpoints(a8, len8, N, al4, be4, ga4):
    """f = alpha x^2 + beta x + gamma: |f - g| = h^2 |f''|/8 at every cell midpoint (uat.relu.error_bound)."""
    a, b = a8 / 8, a8 / 8 + len8 / 8
    al, be, ga = al4 / 4, be4 / 4, ga4 / 4
    fn = Fn(lambda x: al * x ** 2 + be * x + ga, lambda x: abs(al) * x ** 2 + abs(be) * np.abs(x) + abs(ga),
            2 * abs(al), f"quadratic {al} x^2 + {be} x + {ga}")
    err, bound, slack = check_interpolant(U.relu_interpolant, fn, a, b, N)
    assert abs(err - bound) <= slack, f"max error {err!r} at the midpoints, but should equal the bound {bound!r}"
    xk = U.grid(a, b, N)
    mids = (xk[:N] + xk[1:]) / 2
    e = fn.f(mids) - U.evaluate(U.relu_interpolant(fn.f(xk), a, b), mids)
    np.testing.assert_allclose(e, -al * ((b - a) / N) ** 2 / 4, rtol=0, atol=slack)  # e = alpha (x-x_k)(x-x_k+1)


def test_unit_count_and_network_form():
    params = U.relu_interpolant(np.array([0.0, 1.0, 0.0, 2.0]), 0.0, 3.0)
    w1, b1, w2, b2 = params
    np.testing.assert_array_equal(w1, [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(b1, [-0.0, -1.0, -2.0])
    np.testing.assert_array_equal(w2, [1.0, -2.0, 3.0])  # slopes 1, -1, 2: c = 1, -1 - 1, 2 - (-1)
    assert b2 == 0.0
    assert U.evaluate(params, np.array([-1.0]))[0] == 0.0  # left of a: f_0


# ---------------------------------------------------------------- the sigmoid rate

@settings(**SETTINGS)
@given(st.floats(0.5, 200.0), st.floats(1e-3, 5.0), st.floats(1.0, 3.0), st.booleans())
def test_steep_sigmoid_error_is_the_derived_identity_and_below_the_rate(k, delta, factor, negative):
    x = (-1 if negative else 1) * delta * factor
    H = 1.0 if x > 0 else 0.0
    sig = float(U.evaluate((np.array([k]), np.array([0.0]), np.array([1.0]), 0.0), np.array([x]), "sigmoid")[0])
    err = abs(sig - H)
    ident = np.exp(-k * abs(x)) / (1.0 + np.exp(-k * abs(x)))  # = 1/(1 + e^{k|x|}), without overflow
    assert abs(err - ident) <= 8 * U64 + 8 * U64 * k * abs(x) * ident  # the exact identity, within rounding
    assert err <= _rate(k, delta) * (1 + 16 * U64) + 8 * U64


def test_no_convergence_at_the_jump():
    for k in (1.0, 1e3, 1e6):
        assert U.evaluate((np.array([k]), np.array([0.0]), np.array([1.0]), 0.0), np.array([0.0]), "sigmoid")[0] == 0.5


@settings(**SETTINGS)
@given(st.lists(st.integers(-40, 40), min_size=1, max_size=4, unique=True), st.integers(0, 2 ** 31),
       st.floats(5.0, 200.0), st.floats(0.05, 1.0))
def test_sigmoid_step_network_rate(breaks8, seed, k, delta):
    t = np.sort(np.array(breaks8) / 8)
    v = np.random.default_rng(seed).standard_normal(len(t) + 1)
    params = U.sigmoid_step_network(t, v, k)
    assert len(params[0]) == len(t)
    xs = np.linspace(t[0] - 2, t[-1] + 2, 2001)
    far = np.min(np.abs(xs[:, None] - t[None, :]), axis=1) >= delta
    s = v[np.searchsorted(t, xs[far], side="left")]  # H(0) = 0: at a break the left value
    err = np.max(np.abs(U.evaluate(params, xs[far], "sigmoid") - s), initial=0.0)
    assert err <= np.sum(np.abs(np.diff(v))) * _rate(k, delta) + 64 * U64 * np.sum(np.abs(v))


# ---------------------------------------------------------------- validation

@pytest.mark.parametrize("args,exc,msg", [
    ((np.array([1.0]), 0.0, 1.0), ValueError, "'f_values' should be a 1-d array of length >= 2"),
    ((np.ones((2, 2)), 0.0, 1.0), ValueError, "'f_values'"),
    ((np.array([1.0, np.nan]), 0.0, 1.0), ValueError, "'f_values' should be finite"),
    ((np.array(["a", "b"]), 0.0, 1.0), ValueError, "'f_values' should be a 1-d array of real numbers"),
    ((np.ones(3), 1.0, 1.0), ValueError, "a < b"),
    ((np.ones(3), 2.0, 1.0), ValueError, "a < b"),
    ((np.ones(3), float("inf"), 1.0), ValueError, "'a' should be a finite real number"),
    ((np.ones(3), "0", 1.0), TypeError, "'a' should be a finite real number"),
    ((np.ones(3), 0.0, True), TypeError, "'b'"),
])
def test_relu_interpolant_rejects_bad_input(args, exc, msg):
    with pytest.raises(exc, match="relu_interpolant: .*" + msg):
        U.relu_interpolant(*args)


@pytest.mark.parametrize("params,x,act,msg", [
    ((np.ones(2), np.ones(2), np.ones(2)), 0.0, "relu", "'params' should be a tuple"),
    ((np.ones(2), np.ones(3), np.ones(2), 0.0), 0.0, "relu", "'params\\[1\\] \\(b1\\)' should have shape"),
    ((np.ones(2), np.ones(2), np.ones(2), 0.0), np.nan, "relu", "'x' should be finite"),
    ((np.ones(2), np.ones(2), np.ones(2), 0.0), 0.0, "tanh", "'activation' should be one of"),
])
def test_evaluate_rejects_bad_input(params, x, act, msg):
    with pytest.raises(ValueError, match="evaluate: .*" + msg):
        U.evaluate(params, x, act)


def test_sigmoid_step_network_rejects_bad_input():
    with pytest.raises(ValueError, match="'breaks' should be strictly increasing"):
        U.sigmoid_step_network([1.0, 0.0], [0.0, 1.0, 2.0], 1.0)
    with pytest.raises(ValueError, match="'values' should have length len\\(breaks\\) \\+ 1 = 2"):
        U.sigmoid_step_network([0.0], [0.0, 1.0, 2.0], 1.0)
    with pytest.raises(ValueError, match="'k' should be a finite number > 0"):
        U.sigmoid_step_network([0.0], [0.0, 1.0], 0.0)


# ---------------------------------------------------------------- broken constructions must be caught

def _no_difference(f, a, b):
    """c_k = s_k instead of s_k - s_{k-1}."""
    w1, b1, c, b2 = U.relu_interpolant(f, a, b)
    return w1, b1, np.cumsum(c), b2


def _last_unit_missing(f, a, b):
    w1, b1, c, b2 = U.relu_interpolant(f, a, b)
    return w1[:-1], b1[:-1], c[:-1], b2


def _extra_unit(f, a, b):
    """N + 1 units (one at x_N, zero on [a, b]): correct values, wrong count."""
    w1, b1, c, b2 = U.relu_interpolant(f, a, b)
    return np.append(w1, 1.0), np.append(b1, -b), np.append(c, 1.0), b2


def _shifted_knots(f, a, b):
    """Kinks at x_{k+1} instead of x_k."""
    w1, b1, c, b2 = U.relu_interpolant(f, a, b)
    return w1, b1 - (b - a) / (len(f) - 1), c, b2


@pytest.mark.parametrize("build", [_no_difference, _last_unit_missing, _extra_unit, _shifted_knots])
def test_broken_constructions_fail_the_property(build):
    @settings(max_examples=200, deadline=None, derandomize=True, database=None)
    @given(problems())
    def prop(P):
        fn, a, b, N = P
        check_interpolant(build, fn, a, b, N)

    with pytest.raises(AssertionError, match="but should be"):
        prop()


def test_a_wrong_bound_constant_fails_the_equality_case():
    """A bound with 1/(4 N^2) (or 1/(16 N^2)) in place of 1/(8 N^2) misses the quadratics' midpoint error."""
    a, b, N, al = 0.0, 2.0, 5, 1.5
    xk = U.grid(a, b, N)
    f = lambda x: al * x ** 2  # noqa: E731
    mids = (xk[:N] + xk[1:]) / 2
    err = float(np.max(np.abs(f(mids) - U.evaluate(U.relu_interpolant(f(xk), a, b), mids))))
    derived = _bound(a, b, 2 * al, N)
    assert err == pytest.approx(derived, rel=1e-12)
    for wrong in ((b - a) ** 2 * 2 * al / (4 * N ** 2), (b - a) ** 2 * 2 * al / (16 * N ** 2)):
        assert abs(err - wrong) > 0.4 * derived


def test_a_sign_flipped_sigmoid_network_fails_the_rate():
    t, v, k, delta = np.array([0.0, 1.0]), np.array([0.0, 1.0, -1.0]), 50.0, 0.2
    w1, b1, w2, b2 = U.sigmoid_step_network(t, v, k)
    xs = np.array([-0.5, 0.5, 1.5])
    good = U.evaluate((w1, b1, w2, b2), xs, "sigmoid")
    bad = U.evaluate((w1, -b1, w2, b2), xs, "sigmoid")
    bound = np.sum(np.abs(np.diff(v))) * _rate(k, delta)
    assert np.max(np.abs(good - v)) <= bound < np.max(np.abs(bad - v))
