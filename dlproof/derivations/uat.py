"""Universal approximation, constructively: a one-hidden-layer ReLU network that is the piecewise-linear
interpolant (its unit count and its C^2 error bound), and steep sigmoids approaching steps (an explicit rate).

Grid: x_k = a + k h, h = (b - a)/N, k = 0..N. Network: g(x) = f(x_0) + sum_{k=0}^{N-1} c_k relu(x - x_k) with
s_k = (f_{k+1} - f_k)/h, c_0 = s_0, c_k = s_k - s_{k-1}: w1 = 1, b1 = -x_k, w2 = c, b2 = f_0
(impl/numpy_ref/uat.py builds it).

Route: on cell k write x = x_k + s h (0 <= s <= 1); the signs of x - x_j are explicit ((k - j + s) h >= 0 for
j <= k, -((j - k - 1) + (1 - s)) h <= 0 for j > k), so g is a polynomial in s on each cell, compared with the
linear interpolant f_k + s (f_{k+1} - f_k) (explicit N = 4, symbolic values). The error bound: the exact identity
(x - x_k)(x - x_{k+1}) + h^2/4 = (x - x_k - h/2)^2 and the Peano-kernel form of the interpolation error (checked
exactly for a generic quartic); the Rolle remainder is cited. Sigmoids: exact identities in e^{k|x|}. Unit
count (symbolic N): the system beta + sum_k c_k relu(x_j - x_k) = f_j is lower triangular entry-wise with diagonal
1, h, ..., h and is solved by forward substitution (induction on the row); N - 1 units at fixed kinks give grid
values linear in N parameters, so rank <= N < N + 1 (cited: rank <= number of columns).

Seed: 深度学习数学模块 · 01-Universal-Approximation-Theorem.md (通用逼近定理). Primary: Cybenko (1989); Hornik (1991);
Leshno, Lin, Pinkus & Schocken (1993); de Boor (2001).
"""
from __future__ import annotations

import dataclasses

import sympy as sp

from . import scope as sc
from .functions import relu, sigmoid
from .prove import ProofResult, combine, prove_equal, prove_positive, prove_true, prove_zero
from .registry import derivation
from .lemmas import RANK_BOUND, TRIANGLE
from .sums import prove_sums_equal

SEED = "seed: 深度学习数学模块 · 01-Universal-Approximation-Theorem.md (通用逼近定理)"
CYBENKO = "Cybenko (1989), Approximation by superpositions of a sigmoidal function, Math. Control Signals Systems 2:303-314"
HORNIK = "Hornik (1991), Approximation capabilities of multilayer feedforward networks, Neural Networks 4(2):251-257"
LESHNO = ("Leshno, Lin, Pinkus & Schocken (1993), Multilayer feedforward networks with a nonpolynomial activation "
          "function can approximate any function, Neural Networks 6(6):861-867")
DE_BOOR = "de Boor (2001), A Practical Guide to Splines, rev. ed., Springer, ch. II (broken-line interpolation, (2.2)-(2.5))"
INTERPOLATION_ERROR = sc.Lemma(
    "lemma.interpolation.linear_error",
    r"f \in C^2[x_k, x_{k+1}],\ L \text{ its linear interpolant}:\ f(x) - L(x) = \tfrac12 f''(\xi)(x - x_k)(x - x_{k+1})"
    r"\ \text{for some } \xi \in [x_k, x_{k+1}]",
    "de Boor (2001), A Practical Guide to Splines, rev. ed., Springer, ch. II, (2.2)-(2.5) (broken-line interpolation)")
SUBMERSION = sc.Lemma(
    "lemma.calculus.submersion",
    r"F: \mathbb R^p \to \mathbb R^q\ C^1 \text{ near } \theta_0,\ \operatorname{rank} DF(\theta_0) = q\ \Rightarrow\ "
    r"F \text{ maps every neighbourhood of } \theta_0 \text{ onto a neighbourhood of } F(\theta_0)",
    "Spivak (1965), Calculus on Manifolds, Theorem 2-13 (the implicit function theorem; local surjectivity of a "
    "submersion)")
UNITS_N = sp.Symbol("N", integer=True, positive=True)
UNITS_ROW = sp.Symbol("j", integer=True, nonnegative=True)   # a row (grid point) of the interpolation system
UNITS_K = sp.Dummy("k", integer=True)                         # the unit index
YAROTSKY = "Yarotsky (2017), Error bounds for approximations with deep ReLU networks, Neural Networks 94:103-114"

GRID = "x_k = a + k h, h = (b - a)/N > 0, k = 0..N"
NET = ("g(x) = f_0 + sum_{k=0}^{N-1} c_k relu(x - x_k), s_k = (f_{k+1} - f_k)/h, c_0 = s_0, c_k = s_k - s_{k-1}; "
       "as a network w1 = 1, b1 = -x_k, w2 = c, b2 = f_0")

a_, h = sp.Symbol("a", real=True), sp.Symbol("h", positive=True)
s = sp.Symbol("s", nonnegative=True)   # position in a cell, 0 <= s <= 1 (s' = 1 - s >= 0 where needed)
x = sp.Symbol("x", real=True)


def construction(fs):
    """(knots x_k, coefficients c_k, g(x) as a SymPy expression) for the values fs = [f_0..f_N]."""
    N = len(fs) - 1
    xk = [a_ + k * h for k in range(N + 1)]
    slopes = [(fs[k + 1] - fs[k]) / h for k in range(N)]
    cs = [slopes[0]] + [slopes[k] - slopes[k - 1] for k in range(1, N)]
    g = fs[0] + sum(cs[k] * relu(x - xk[k]) for k in range(N))
    return xk, cs, g


def _on_cell(fs, k):
    """g restricted to cell k, x = x_k + s h: relu(x - x_j) replaced by x - x_j (j <= k) or 0 (j > k)."""
    N = len(fs) - 1
    xk, cs, _ = construction(fs)
    xv = xk[k] + s * h
    return fs[0] + sum(cs[j] * (xv - xk[j]) for j in range(min(k + 1, N)))


@derivation("uat.relu.interpolant", title="A one-hidden-layer ReLU network equals the piecewise-linear interpolant",
            latex=r"g(x) = f(x_0) + \sum_{k=0}^{N-1} c_k\,\operatorname{relu}(x - x_k),\ c_0 = s_0,\ c_k = s_k - s_{k-1}:"
                  r"\quad g(x_k + s h) = f_k + s\,(f_{k+1} - f_k),\ 0 \le s \le 1",
            seed=SEED, primary=LESHNO + "; " + DE_BOOR + "; " + YAROTSKY + " (the ReLU form of broken lines)",
            assumptions=(GRID, NET, "N cells, symbolic; values f_k = f(k) an undefined function"), sizes=("N",),
            notes="Proved for every N by induction on the cell k (symbolic k, N, undefined values f). So g(x_k) = f(x_k) at every grid point (s = 0 and s = 1 of adjacent cells agree) and g is linear on "
                  "each cell with slope s_k. Left of a, g = f_0; right of b the last piece continues.",
            steps=(
                r"x = x_k + s h,\ 0 \le s \le 1:\quad x - x_j = (k - j + s) h \ge 0\ (j \le k),\qquad "
                r"x - x_j = -\big((j - k - 1) + (1 - s)\big) h \le 0\ (j > k)",
                r"g(x) = f_0 + \sum_{j \le k} c_j (x - x_j),\qquad \frac{dg}{dx} = \sum_{j \le k} c_j = s_k "
                r"\ (\text{telescoping})",
                r"g(x_k + s h) = f_k + s\,(f_{k+1} - f_k)",
            ))
def _interpolant():
    from sympy.simplify.simplify import sum_combine

    Nn = sp.Symbol("N", integer=True, positive=True)
    kk = sp.Symbol("k", integer=True, nonnegative=True)       # the cell, 0 <= k <= N - 1
    f, c = sp.Function("f"), sp.Function("c")                  # f(k) = f_k; c(j) the output weights
    j = sp.Dummy("j", integer=True)
    xk = lambda i: a_ + i * h  # noqa: E731
    c_def = {c(0): (f(1) - f(0)) / h, c(kk + 1): (f(kk + 2) - 2 * f(kk + 1) + f(kk)) / h}   # s_k - s_{k-1}, k + 1 >= 1
    t, u = sp.Symbol("t", integer=True, nonnegative=True), sp.Symbol("u", integer=True, nonnegative=True)
    sp_ = sp.Symbol("sp", nonnegative=True)   # 1 - s
    signs = [prove_equal((xk(kk) + s * h) - xk(kk - t), (t + s) * h),                       # j = k - t <= k
             prove_true(sp.Eq(relu((t + s) * h), (t + s) * h)),
             prove_equal((xk(kk + 1) - sp_ * h) - xk(kk + 1 + u), -(u + sp_) * h),          # j = k + 1 + u > k
             prove_true(sp.Eq(relu(-(u + sp_) * h), 0))]
    unit = c(j) * relu(x - xk(j))
    whole = sp.Sum(unit, (j, 0, Nn - 1))
    split = sum_combine([sp.Sum(unit, (j, 0, kk)), sp.Sum(unit, (j, kk + 1, Nn - 1))])
    G = lambda kc, sc_: f(0) + h * sp.Sum(c(j) * (kc - j + sc_), (j, 0, kc))  # noqa: E731  g on cell kc at s
    cell = lambda kc, sc_: f(kc) + sc_ * (f(kc + 1) - f(kc))  # noqa: E731
    body_next = c(j) * (kk + 1 - j + s)
    peel = sum_combine([sp.Sum(body_next, (j, 0, kk)), sp.Sum(body_next, (j, kk + 1, kk + 1))])
    step_alg = cell(kk, s + 1) + h * (c(kk + 1) * s).xreplace(c_def) - cell(kk + 1, s)
    net = sp.Sum(c(j) * relu(1 * x + (-xk(j))), (j, 0, Nn - 1)) + f(0)
    g = f(0) + whole
    ok = lambda cond, what: (ProofResult("proved", "structural (SymPy sum_combine, exact)", what) if cond  # noqa: E731
                             else ProofResult("undecided", "none", what))
    return [("every N, cell k, unit j (symbolic k, j - k): x - x_j = (k - j + s) h >= 0 (j <= k) or "
             "-((j-k-1) + (1-s)) h <= 0 (j > k), so relu(x - x_j) = x - x_j or 0", combine(signs), sc.GENERAL),
            ("symbolic N, 0 <= k <= N-1: sum_{j=0}^{N-1} = sum_{j=0}^{k} + sum_{j=k+1}^{N-1} (the second has relu = 0), "
             "so g(x_k + s h) = f_0 + h sum_{j=0}^{k} c_j (k - j + s)",
             ok(split == whole, "adjacent ranges combine to 0..N-1"), sc.GENERAL),
            ("base case k = 0: f_0 + h c_0 s = f_0 + s (f_1 - f_0)", prove_equal(G(0, s).doit().xreplace(c_def), cell(0, s)),
             sc.base_case(k=0)),
            ("induction step (symbolic k): sum_{j=0}^{k+1} c_j (k+1-j+s) = sum_{j=0}^{k} c_j (k-j+(s+1)) + c_{k+1} s",
             combine([ok(peel == sp.Sum(body_next, (j, 0, kk + 1)), "peel the last term"),
                      prove_equal(body_next, c(j) * (kk - j + (s + 1))),
                      prove_equal(sp.Sum(body_next, (j, kk + 1, kk + 1)).doit(), c(kk + 1) * s)]), sc.INDUCTION_STEP),
            ("induction step (symbolic k, undefined f): f_k + (s+1)(f_{k+1} - f_k) + h c_{k+1} s = f_{k+1} + s (f_{k+2} - f_{k+1})",
             prove_zero(sp.expand(step_alg)), sc.INDUCTION_STEP),
            ("symbolic N: at the grid points g(x_k) = f_k (s = 0 of cell k, and s = 1 of cell N-1 for x_N)",
             combine([prove_equal(cell(kk, 0), f(kk)), prove_equal(cell(Nn - 1, 1), f(Nn))]), sc.GENERAL),
            ("symbolic N: the network w2 . relu(w1 x + b1) + b2 with w1 = 1, b1 = -x_k, w2 = c, b2 = f_0 is g",
             ok(net == g, "the same Sum"), sc.GENERAL)]


@derivation("uat.relu.units", title="With kinks at the grid points, N hidden units fit every data vector on N + 1 points "
                                    "and N - 1 units do not",
            latex=r"\#\text{units} = N:\ \beta + \sum_{k=0}^{N-1} c_k \operatorname{relu}(x_j - x_k) = f_j\ (j = 0..N) "
                  r"\text{ is lower triangular in } (\beta, c_0, \ldots, c_{N-1}) \text{ with diagonal } (1, h, \ldots, h):"
                  r"\ \text{solvable for every } f;\quad N - 1 \text{ units with fixed kinks: } \theta \mapsto F(\theta) "
                  r"\text{ linear } \mathbb R^N \to \mathbb R^{N+1},\ \text{not onto}",
            seed=SEED, primary=LESHNO + "; " + DE_BOOR + "; " + RANK_BOUND.reference,
            assumptions=(GRID, NET, "every unit's kink is at a grid point, fixed (units relu(+-(x - x_m)))",
                         "N symbolic: rows j, columns k, kink positions m_k and orientations +-1 symbolic"),
            sizes=("N",), lemmas=(RANK_BOUND,),
            notes="Proved for every N: (a) the interpolation system is lower triangular entry-wise (symbolic j, k) with "
                  "diagonal 1, h, ..., h, and forward substitution (induction on the row j) solves it for every data "
                  "vector; (b) with N - 1 units at fixed kinks (any grid points, either orientation) the grid values "
                  "are linear in the N output parameters (beta, c_1..c_{N-1}) (symbolic N), so by rank <= number of "
                  "columns (cited) they miss data vectors of R^{N+1}. The hypothesis matters: with kinks free to sit "
                  "between the grid points, N - 1 units (plus the output bias) DO fit every data vector of an open set "
                  "(uat.relu.units.free_kinks.refuted, N = 3): there the map is not linear in the kinks.",
            steps=(
                r"M_{j,0} = 1,\ M_{j,k+1} = \operatorname{relu}(x_j - x_k) = \operatorname{relu}((j - k) h):\ = 0\ "
                r"(k \ge j),\ = h > 0\ (k = j - 1),\ = (j - k) h\ (k < j)",
                r"\text{row } j:\ \beta + \sum_{k=0}^{j-1} c_k \operatorname{relu}((j - k) h) = f_j;\ \beta := f_0,\ "
                r"c_j := \big(f_{j+1} - \beta - \sum_{k<j} c_k M_{j+1,k+1}\big)/h \text{ (forward substitution)}",
                r"N - 1 \text{ units } \operatorname{relu}(\sigma_k (x - x_{m_k})):\ F_j(\theta) = \beta + "
                r"\sum_{k=1}^{N-1} c_k \operatorname{relu}(\sigma_k (x_j - x_{m_k})) \text{ linear in } "
                r"\theta \in \mathbb R^N:\ \operatorname{rank} \le N < N + 1",
            ))
def _units():
    from sympy.simplify.simplify import sum_combine

    Nn = UNITS_N
    j, t, u = UNITS_ROW, sp.Symbol("t", integer=True, nonnegative=True), sp.Symbol("u", integer=True, nonnegative=True)
    k = UNITS_K
    c, f = sp.Function("c"), sp.Function("f")
    beta = sp.Symbol("beta", real=True)
    xk = lambda i: a_ + i * h  # noqa: E731
    ok = lambda cond, what: (ProofResult("proved", "structural (SymPy sum_combine, exact)", what) if cond  # noqa: E731
                             else ProofResult("undecided", "none", what))
    unit = c(k) * relu((j - k) * h)  # row j, unit k: c_k relu(x_j - x_k)
    split = sum_combine([sp.Sum(unit, (k, 0, j - 1)), sp.Sum(unit, (k, j, Nn - 1))])
    upper = sp.Sum(unit.xreplace({k: j + u}), (u, 0, Nn - 1 - j))  # k = j + u >= j
    S = sp.Symbol("S", real=True)   # sum_{k<j} c_k relu(x_{j+1} - x_k): fixed by c_0..c_{j-1}
    c_j = (f(j + 1) - beta - S) / h
    body = c(k) * relu((j + 1 - k) * h)
    peel = sum_combine([sp.Sum(body, (k, 0, j - 1)), sp.Sum(body, (k, j, j))])
    # (b): N - 1 units relu(sigma_k (x - x_{m_k})), kinks m_k and orientations sigma_k = +-1 fixed (undefined functions)
    m, sigma = sp.Function("m"), sp.Function("sigma")
    F = lambda b_, cc: b_ + sp.Sum(cc(k) * relu(sigma(k) * (xk(j) - xk(m(k)))), (k, 1, Nn - 1))  # noqa: E731
    n_params = 1 + sp.Sum(1, (k, 1, Nn - 1)).doit()
    ranks = []
    for o1 in (1, -1):      # the lemma at N = 3: 2 units at x_1, x_2 of each orientation, a 4 x 3 matrix of rank 3
        for o2 in (1, -1):
            V = sp.Matrix(4, 3, lambda i, q: 1 if q == 0 else relu(sp.expand((o1 if q == 1 else o2) * (xk(i) - xk(q)))))
            ranks.append(prove_true(sp.Eq(V.rank(), 3)))
    return [("every N, row j, unit k (symbolic): x_j - x_k = (j - k) h, so row j of the system reads "
             "beta + sum_{k=0}^{N-1} c_k relu((j - k) h) = f_j: N + 1 equations in (beta, c_0..c_{N-1})",
             combine([prove_equal(xk(j) - xk(k), (j - k) * h), prove_equal(sp.Sum(1, (k, 0, Nn - 1)).doit() + 1, Nn + 1)]),
             sc.GENERAL),
            ("lower triangular, symbolic j, k: entry (j, c_{j+u}) = relu(-u h) = 0 (u >= 0); diagonal: beta in row 0 "
             "has coefficient 1, c_j in row j + 1 has relu(h) = h > 0; below: relu((t + 1) h) = (t + 1) h",
             combine([prove_true(sp.Eq(relu((j - (j + u)) * h), 0)), prove_equal(relu((j + 1 - j) * h), h),
                      prove_positive(h), prove_true(sp.Eq(relu((j - (j - 1 - t)) * h), (t + 1) * h))]), sc.GENERAL),
            ("symbolic N, 0 <= j <= N: sum_{k=0}^{N-1} = sum_{k=0}^{j-1} + sum_{k=j}^{N-1}, and the second sum is "
             "0 (k = j + u: every term relu(-u h) = 0): row j involves beta, c_0..c_{j-1} only",
             combine([ok(split == sp.Sum(unit, (k, 0, Nn - 1)), "adjacent ranges combine to 0..N-1"),
                      ok(upper.function == 0, "every term of sum_{u=0}^{N-1-j} c_{j+u} relu(-u h) is 0")]), sc.GENERAL),
            ("forward substitution, base case j = 0: row 0 is beta = f_0 (beta := f_0)",
             prove_equal((beta + sp.Sum(unit, (k, 0, j - 1))).xreplace({j: 0, beta: f(0)}).doit(), f(0)),
             sc.base_case(j=0)),
            ("induction step (symbolic j): with beta, c_0..c_{j-1} solving rows 0..j, c_j := (f_{j+1} - beta - S_j)/h "
             "(S_j = sum_{k<j} c_k relu((j + 1 - k) h), h != 0) solves row j + 1, and rows 0..j do not involve c_j",
             combine([ok(peel == sp.Sum(body, (k, 0, j)), "peel the term k = j"),
                      prove_equal(sp.Sum(body, (k, j, j)).doit(), c(j) * h),
                      forward_row(c_j, S, beta, f(j + 1)),
                      prove_true(sp.Eq(relu((j - u - j) * h), 0))]), sc.INDUCTION_STEP),
            ("N - 1 units at fixed kinks m_k, orientations sigma_k (symbolic N, j): the grid values F_j(beta, c) are "
             "linear in the N parameters: F(lambda theta + mu theta') = lambda F(theta) + mu F(theta')",
             combine([linear_in_output(F), prove_equal(n_params, Nn)]), sc.GENERAL),
            ("lemma (rank <= number of columns) at N = 3: 2 units at x_1, x_2 of any orientation give a 4 x 3 matrix "
             "of rank 3 < 4", combine(ranks), sc.lemma_check(RANK_BOUND, N=3))]


def forward_row(c_j, S, beta, f_next) -> ProofResult:
    """Row j + 1 after forward substitution: beta + S_j + h c_j = f_{j+1} (S_j the known part of the row)."""
    return prove_zero(sp.expand(beta + S + h * c_j - f_next))


def linear_in_output(F) -> ProofResult:
    """F(beta, c) (c a function of the unit index) is linear: F(l b + m b', l c + m d) = l F(b, c) + m F(b', d),
    for every size (finite-sum normal form, sums.py)."""
    c, d = sp.Function("c"), sp.Function("d")
    lam, mu, b1, b2 = sp.symbols("lambda mu beta beta2", real=True)
    q = sp.Dummy("q", integer=True)
    return prove_sums_equal(F(lam * b1 + mu * b2, sp.Lambda(q, lam * c(q) + mu * d(q))),
                            lam * F(b1, c) + mu * F(b2, d), None)


@derivation("uat.relu.units.free_kinks.refuted", kind="refutation",
            title="N - 1 ReLU units cannot fit generic data on N + 1 points",
            latex=r"N = 3,\ x = (0, 1, 2, 3):\ F(\theta) = \big(\beta + c_1\operatorname{relu}(w_1 x_i + b_1) + "
                  r"c_2\operatorname{relu}(w_2 x_i + b_2)\big)_{i=0..3},\ \theta_0 = (\beta, w_1, b_1, c_1, w_2, b_2, c_2) "
                  r"= (0, 1, -\tfrac12, 1, -1, \tfrac52, 1):\ \operatorname{rank} DF(\theta_0) = 4",
            seed=SEED, primary=LESHNO + "; " + SUBMERSION.reference,
            assumptions=(NET, "2 = N - 1 units with free weights and kinks, plus the output bias beta",
                         "counterexample at N = 3 (grid 0, 1, 2, 3)"),
            sizes=("N",), lemmas=(SUBMERSION,),
            notes="No grid point sits on a kink at theta_0 (w_r x_i + b_r != 0), so F is polynomial near theta_0; its "
                  "Jacobian has rank 4 there, so by the submersion theorem (cited) F maps a neighbourhood of theta_0 "
                  "onto an open set of data vectors in R^4: 2 units fit every data vector of that open set (positive "
                  "measure, so 'generic' data). The true statement needs the kinks at the grid points "
                  "(uat.relu.units).",
            steps=(
                r"\theta_0:\ w_1 x_i + b_1 = x_i - \tfrac12,\ w_2 x_i + b_2 = \tfrac52 - x_i\ \ne 0\ (x_i = 0..3)",
                r"\text{near } \theta_0:\ F_i = \beta + c_1 [x_i \ge 1](w_1 x_i + b_1) + c_2 [x_i \le 2](w_2 x_i + b_2)",
                r"DF(\theta_0) \in \mathbb R^{4 \times 7},\ \operatorname{rank} = 4\ \Rightarrow\ F(U) \supset "
                r"\text{an open ball around } F(\theta_0)",
            ))
def _units_free_kinks_refuted():
    beta, w1, b1, c1, w2, b2, c2 = th = sp.symbols("beta w1 b1 c1 w2 b2 c2", real=True)
    theta0 = {beta: 0, w1: 1, b1: sp.Rational(-1, 2), c1: 1, w2: -1, b2: sp.Rational(5, 2), c2: 1}
    xs = [0, 1, 2, 3]
    pre = [(w1 * xi + b1, w2 * xi + b2) for xi in xs]
    # the activation pattern at theta0 (signs of the pre-activations), constant near theta0
    act = [(sp.sign(p1.subs(theta0)) > 0, sp.sign(p2.subs(theta0)) > 0) for p1, p2 in pre]
    F = sp.Matrix([beta + (c1 * p1 if a1 else 0) + (c2 * p2 if a2 else 0) for (p1, p2), (a1, a2) in zip(pre, act)])
    J = F.jacobian(sp.Matrix(th)).subs(theta0)
    rank = J.rank()
    minor = J[:, [0, 2, 5, 1]]  # d/d(beta, b1, b2, w1)
    cex = {"point": {"theta0": "(beta, w1, b1, c1, w2, b2, c2) = (0, 1, -1/2, 1, -1, 5/2, 1)", "x": "(0, 1, 2, 3)"},
           "value": f"rank DF(theta0) = {rank}; det of the (beta, b1, b2, w1) minor = {minor.det()}"}
    at = sc.at(N=3)
    return [("at theta0 no grid point is on a kink: w_r x_i + b_r != 0 for r = 1, 2 and x_i = 0..3",
             combine(prove_true(sp.Ne(p.subs(theta0), 0)) for pair in pre for p in pair), at),
            ("near theta0 each unit is relu(z) = z (z > 0) or 0 (z < 0) at each grid point: F is the polynomial map "
             "above, equal to the network at theta0",
             prove_equal(F.subs(theta0), sp.Matrix([beta + c1 * relu(p1) + c2 * relu(p2) for p1, p2 in pre]).subs(theta0)),
             at),
            ("the 4 x 4 minor of DF(theta0) in (beta, b1, b2, w1) has det != 0: rank DF(theta0) = 4",
             dataclasses.replace(prove_true(sp.Ne(minor.det(), 0)), counterexample=cex), at)]


@derivation("uat.relu.error_bound", title="Error of the ReLU interpolant: sup|f - g| <= h^2 max|f''|/8 = "
                                          "(b - a)^2 max|f''|/(8 N^2), attained by quadratics",
            latex=r"f \in C^2[a, b]:\ \sup_{[a, b]}|f - g| \le \frac{h^2}{8}\max_{[a, b]}|f''| = "
                  r"\frac{(b - a)^2}{8N^2}\max_{[a, b]}|f''|;\qquad f = \alpha x^2 + \beta x + \gamma:\ "
                  r"|f - g|\big(x_k + \tfrac h2\big) = \frac{h^2}{8}|f''|",
            seed=SEED, primary=DE_BOOR + "; " + CYBENKO + " (existence only; this is the constructive rate in 1-D)",
            assumptions=(GRID, NET, "f in C^2[a, b]", "g = the linear interpolant on each cell (uat.relu.interpolant)",
                         "the interpolation remainder (lemma.interpolation.linear_error, cited from de Boor); its "
                         "Peano-kernel form is checked exactly for a generic quartic (an instance of the lemma)",
                         "symbolic h, x_k, N (every grid)"),
            sizes=("N",), lemmas=(INTERPOLATION_ERROR,),
            notes="Standard remainder (Rolle's theorem applied twice, de Boor ch. II): for x in [x_k, x_{k+1}] there is "
                  "xi in the cell with f(x) - L(x) = f''(xi)/2 (x - x_k)(x - x_{k+1}). The kernel form proved here "
                  "gives the same bound: e(x) = -int G(x, t) f''(t) dt with G >= 0 and int G dt = "
                  "(x - x_k)(x_{k+1} - x)/2 <= h^2/8.",
            steps=(
                r"e(x) = f(x) - L_k(x),\ e(x_k) = e(x_{k+1}) = 0;\quad e(x) = \tfrac12 f''(\xi)(x - x_k)(x - x_{k+1})"
                r"\ (\text{Rolle, cited})",
                r"e(x) = -\int_{x_k}^{x_{k+1}} G(x, t) f''(t)\,dt,\ G = \frac{(t - x_k)(x_{k+1} - x)}{h}\ (t \le x),\ "
                r"\frac{(x - x_k)(x_{k+1} - t)}{h}\ (t \ge x)",
                r"\int_{x_k}^{x_{k+1}} G\,dt = \frac{(x - x_k)(x_{k+1} - x)}{2},\qquad "
                r"(x - x_k)(x - x_{k+1}) + \frac{h^2}{4} = \Big(x - x_k - \frac h2\Big)^2 \ge 0",
                r"\Rightarrow |e(x)| \le \max|f''|\,\frac{(x - x_k)(x_{k+1} - x)}{2} \le \frac{h^2}{8}\max|f''|,\quad "
                r"h = \frac{b - a}{N}",
                r"f = \alpha x^2 + \beta x + \gamma:\ e(x) = \alpha (x - x_k)(x - x_{k+1}),\ "
                r"e\big(x_k + \tfrac h2\big) = -\frac{\alpha h^2}{4} = -\frac{h^2}{8} f''",
            ))
def _error_bound():
    xk = sp.Symbol("x_k", real=True)
    x1 = xk + h
    p = (x - xk) * (x - x1)
    # the Peano kernel form, for a generic quartic f
    cs = sp.symbols("q0:5", real=True)
    t = sp.Symbol("t", real=True)
    f = lambda z: sum(cs[i] * z ** i for i in range(5))  # noqa: E731
    L = f(xk) + (x - xk) * (f(x1) - f(xk)) / h
    f2 = sp.diff(f(t), t, 2)
    G_left, G_right = (t - xk) * (x1 - x) / h, (x - xk) * (x1 - t) / h
    kernel = sp.integrate(G_left * f2, (t, xk, x)) + sp.integrate(G_right * f2, (t, x, x1))
    intG = sp.integrate(G_left, (t, xk, x)) + sp.integrate(G_right, (t, x, x1))
    al, be, ga = sp.symbols("alpha beta gamma", real=True)
    quad = lambda z: al * z ** 2 + be * z + ga  # noqa: E731
    eq = quad(x) - (quad(xk) + (x - xk) * (quad(x1) - quad(xk)) / h)
    N, b_ = sp.Symbol("N", positive=True, integer=True), sp.Symbol("b", real=True)
    quartic = sc.lemma_check(INTERPOLATION_ERROR, degree=4)
    return [("the error vanishes at both ends of the cell: e(x_k) = e(x_{k+1}) = 0 (quartic f)",
             combine([prove_zero((f(x) - L).subs(x, xk)), prove_zero((f(x) - L).subs(x, x1))]), quartic),
            ("Peano kernel, generic quartic f: f(x) - L(x) = -int G(x, t) f''(t) dt",
             prove_equal(f(x) - L, -kernel), quartic),
            ("int G(x, t) dt = (x - x_k)(x_{k+1} - x)/2 (G >= 0: products of non-negative factors on the cell)",
             prove_equal(intG, (x - xk) * (x1 - x) / 2), sc.GENERAL),
            ("(x - x_k)(x - x_{k+1}) + h^2/4 = (x - x_k - h/2)^2 >= 0, so |(x - x_k)(x - x_{k+1})| <= h^2/4 on the "
             "cell, with equality at the midpoint", combine([prove_equal(p + h ** 2 / 4, (x - xk - h / 2) ** 2),
                                                            prove_equal(p.subs(x, xk + h / 2), -h ** 2 / 4)]), sc.GENERAL),
            ("quadratic f: e(x) = alpha (x - x_k)(x - x_{k+1}) = (f''/2)(x - x_k)(x - x_{k+1}) exactly",
             prove_equal(eq, sp.diff(quad(x), x, 2) / 2 * p), sc.GENERAL),
            ("quadratic f at the midpoint: |e| = |alpha| h^2/4 = h^2 |f''|/8 (the bound is attained)",
             prove_equal(eq.subs(x, xk + h / 2) ** 2, (h ** 2 * sp.diff(quad(x), x, 2) / 8) ** 2), sc.GENERAL),
            ("h = (b - a)/N: h^2/8 = (b - a)^2/(8 N^2)", prove_equal((((b_ - a_) / N) ** 2) / 8,
                                                                    (b_ - a_) ** 2 / (8 * N ** 2)), sc.GENERAL)]


@derivation("uat.sigmoid.step", title="Steep sigmoids approach the step: |sigma(k x) - H(x)| = 1/(1 + e^{k|x|}) <= "
                                      "e^{-k|x|}",
            latex=r"x \ne 0:\ \big|\sigma(kx) - H(x)\big| = \frac{1}{1 + e^{k|x|}} \le e^{-k|x|};\quad "
                  r"\sup_{|x| \ge \delta}\big|\sigma(kx) - H(x)\big| \le e^{-k\delta};\quad \sigma(0) = \tfrac12\ "
                  r"\forall k",
            seed=SEED, primary=CYBENKO + " (sigmoidal functions: sigma(kx) -> H(x) as k -> oo)",
            assumptions=("k > 0", "H(x) = 1 for x > 0, 0 for x < 0, H(0) = 0 (as relu'(0) = 0)"), sizes=(),
            notes="No convergence at the jump: sigma(k 0) = 1/2 for every k, so |sigma(0) - H(0)| = 1/2 (it would be 0 "
                  "only under the convention H(0) = 1/2); the convergence is uniform on {|x| >= delta} only, at the "
                  "exponential rate e^{-k delta}: k >= ln(1/eps)/delta gives error <= eps there.",
            steps=(
                r"x > 0:\ 1 - \sigma(kx) = 1 - \frac{1}{1 + e^{-kx}} = \frac{e^{-kx}}{1 + e^{-kx}} = \frac{1}{1 + e^{kx}}",
                r"x < 0:\ \sigma(kx) - 0 = \frac{1}{1 + e^{-kx}} = \frac{1}{1 + e^{k|x|}}",
                r"e^{-u} - \frac{1}{1 + e^{u}} = \frac{e^{-u}}{1 + e^{u}} > 0,\qquad \frac{d}{du}\frac{1}{1 + e^u} = "
                r"-\frac{e^u}{(1 + e^u)^2} < 0",
            ))
def _sigmoid_step():
    k, y, u = sp.Symbol("k", positive=True), sp.Symbol("y", positive=True), sp.Symbol("u", positive=True)
    E = 1 / (1 + sp.exp(u))
    return [("x = y > 0: 1 - sigma(k y) = 1/(1 + e^{k y})", prove_equal(1 - sigmoid(k * y), E.subs(u, k * y))),
            ("x = -y < 0: sigma(-k y) - 0 = 1/(1 + e^{k y})", prove_equal(sigmoid(-k * y), E.subs(u, k * y))),
            ("e^{-u} - 1/(1 + e^u) = e^{-u}/(1 + e^u)", prove_equal(sp.exp(-u) - E, sp.exp(-u) / (1 + sp.exp(u)))),
            ("... > 0, so the error is <= e^{-k|x|}", prove_positive(sp.exp(-u) / (1 + sp.exp(u)))),
            ("d/du 1/(1 + e^u) = -e^u/(1 + e^u)^2 < 0: the sup over |x| >= delta is at |x| = delta",
             combine([prove_equal(sp.diff(E, u), -sp.exp(u) / (1 + sp.exp(u)) ** 2),
                      prove_positive(sp.exp(u) / (1 + sp.exp(u)) ** 2)])),
            ("sigma(k 0) = 1/2 for every k (no convergence at the jump)", prove_equal(sigmoid(k * 0), sp.Rational(1, 2)))]


@derivation("uat.sigmoid.step_network",
            title="A one-hidden-layer sigmoid network approximates a piecewise-constant function at rate e^{-k delta}",
            latex=r"s(x) = v_0 + \sum_{j=1}^J \Delta_j H(x - t_j),\ g_k(x) = v_0 + \sum_{j=1}^J \Delta_j\,\sigma(k(x - t_j)):"
                  r"\quad |g_k(x) - s(x)| \le \Big(\sum_j |\Delta_j|\Big) e^{-k\delta}\ \text{ if } \min_j |x - t_j| \ge \delta",
            seed=SEED, primary=CYBENKO + "; " + HORNIK,
            assumptions=("k > 0", "t_1 < ... < t_J, Delta_j = v_j - v_{j-1}", "H(0) = 0 (uat.sigmoid.step)",
                         "J jumps, symbolic", "the triangle inequality (lemma.norm.triangle, cited) and "
                         "uat.sigmoid.step per term (1/(1 + e^{k|y|}) <= e^{-k|y|} <= e^{-k delta} for |y| >= delta)"),
            sizes=("J",), lemmas=(TRIANGLE,),
            notes="Proved for every number of jumps J from the cited triangle inequality: the error is the finite "
                  "sum of the per-jump errors (a Sum identity at symbolic J), each bounded by uat.sigmoid.step. "
                  "J hidden units (one per jump): w1 = k, b1 = -k t_j, w2 = Delta, b2 = v_0 "
                  "(impl/numpy_ref/uat.sigmoid_step_network).",
            steps=(
                r"g_k(x) - s(x) = \sum_j \Delta_j\big(\sigma(k(x - t_j)) - H(x - t_j)\big)",
                r"t_m < x < t_{m+1}:\ s(x) = v_0 + \sum_{j=1}^{m} (v_j - v_{j-1}) = v_m\ (\text{telescoping})",
                r"|g_k(x) - s(x)| \le \sum_j |\Delta_j|\,e^{-k|x - t_j|} \le \Big(\sum_j |\Delta_j|\Big) e^{-k\delta}",
            ))
def _step_network():
    k = sp.Symbol("k", positive=True)
    J, mm = sp.Symbol("J", integer=True, positive=True), sp.Symbol("m", integer=True, nonnegative=True)
    v, t, H = sp.Function("v"), sp.IndexedBase("t", real=True), sp.IndexedBase("H", real=True)  # H[j] = H(x - t_j)
    j = sp.Dummy("j", integer=True)
    D = lambda i: v(i) - v(i - 1)  # noqa: E731
    s_ = v(0) + sp.Sum(D(j) * H[j], (j, 1, J))
    g = v(0) + sp.Sum(D(j) * sigmoid(k * (x - t[j])), (j, 1, J))
    y = sp.Symbol("y", positive=True)
    tele = sp.summation(D(j), (j, 1, mm))
    return [("symbolic J: g - s = sum_j Delta_j (sigma(k (x - t_j)) - H(x - t_j))",
             prove_sums_equal(g - s_, sp.Sum(D(j) * (sigmoid(k * (x - t[j])) - H[j]), (j, 1, J)), None), sc.GENERAL),
            ("symbolic m: between t_m and t_{m+1} (H_j = 1 for j <= m, 0 after), s = v_0 + sum_{j=1}^m Delta_j = v_m",
             prove_equal(v(0) + tele, v(mm)), sc.GENERAL),
            ("each term: |sigma(k y) - H(y)| = 1/(1 + e^{k|y|}) (uat.sigmoid.step)",
             combine([prove_equal(1 - sigmoid(k * y), 1 / (1 + sp.exp(k * y))),
                      prove_equal(sigmoid(-k * y), 1 / (1 + sp.exp(k * y)))]), sc.GENERAL),
            ("each term: 1/(1 + e^{k|y|}) < e^{-k|y|}", prove_positive(sp.exp(-k * y) - 1 / (1 + sp.exp(k * y))),
             sc.GENERAL)]


#: the bound of uat.relu.error_bound as the tests evaluate it: sup|f - g| <= (b - a)^2 M2/(8 N^2), M2 = max|f''|
M2, N_UNITS, B_END = sp.Symbol("M2", nonnegative=True), sp.Symbol("N", positive=True, integer=True), sp.Symbol("b", real=True)
ERROR_BOUND = (B_END - a_) ** 2 * M2 / (8 * N_UNITS ** 2)
#: the rate of uat.sigmoid.step on {|x| >= delta}
K_STEEP, DELTA = sp.Symbol("k", positive=True), sp.Symbol("delta", positive=True)
STEP_RATE = sp.exp(-K_STEEP * DELTA)
