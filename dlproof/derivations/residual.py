"""Residual networks: the block Jacobian I + J_F, the chain product, its path expansion, and what
"no vanishing gradient" does and does not follow from the skip connection.

Block (column vectors, numerator layout): x_l = x_{l-1} + F_l(x_{l-1}), F(x) = W2 phi(W1 x + b1) + b2,
W1 (k, n), W2 (n, k). J_F = W2 diag(phi'(W1 x + b1)) W1. Products latest-left:
dx_L/dx_0 = (I + J_L) ... (I + J_1); backward dL/dx_0 = (I + J_1)^T ... (I + J_L)^T dL/dx_L.

Seed: 深度学习数学模块 · 04-Residual-Networks.md (残差网络); 梯度问题深入分析: 残差网络的梯度流.
Primary: He, Zhang, Ren & Sun (2016), CVPR and ECCV; Veit, Wilber & Belongie (2016), NeurIPS.
"""
from __future__ import annotations

import dataclasses

import sympy as sp

from . import scope as sc
from .functions import phi, phi_prime
from .indexed import index, prove_entry_equal
from .sums import prove_sums_equal
from .lemmas import POWERSET_RECURSION, SIGMA_MIN_PRODUCT, TRIANGLE
from .matrices import mat
from .prove import combine, prove_equal, prove_true, prove_zero
from .registry import derivation

SEED = "seed: 深度学习数学模块 · 04-Residual-Networks.md (残差网络); 梯度问题深入分析: 残差网络的梯度流"
HE_CVPR = "He, Zhang, Ren & Sun (2016), Deep residual learning for image recognition, CVPR"
HE_ECCV = "He, Zhang, Ren & Sun (2016), Identity mappings in deep residual networks, ECCV"
VEIT = ("Veit, Wilber & Belongie (2016), Residual networks behave like ensembles of relatively shallow "
        "networks, NeurIPS")
NUMERATOR = "numerator: (dy/dx)[i, j] = dy_i / dx_j; products latest-left"
PHI = "phi differentiable (generic unless stated)"
BLOCK = "F(x) = W2 phi(W1 x + b1) + b2, W1 (k, n), W2 (n, k)"
NORM = "||.||_2 the Euclidean norm and its induced (spectral) matrix norm"

#: the triangle inequality of the Euclidean norm (a chapter lemma; Lagrange's identity gives Cauchy-Schwarz)


def block(x, l, n=2, k=2, act=phi):
    """One explicit block l on x: (output, J_F at x, z, params)."""
    W1, b1, W2, b2 = mat(f"V{l}", k, n), mat(f"c{l}", k, 1), mat(f"U{l}", n, k), mat(f"e{l}", n, 1)
    z = W1 * x + b1
    out = x + W2 * z.applyfunc(act) + b2
    t = sp.Dummy("t")
    dact = (lambda v: sp.diff(act(t), t).subs(t, v)) if act is not phi else phi_prime
    JF = W2 * sp.diag(*[dact(zi) for zi in z]) * W1
    return out, JF, z, (W1, b1, W2, b2)


def _with_cex(result, cex):
    return dataclasses.replace(result, counterexample=cex)


# symbolic sizes: n the state width, k the hidden width of a block
n_, k_ = sp.symbols("n k", integer=True, positive=True)


class SymBlock:
    """One residual block at symbolic sizes: W1 (k, n), b1 (k, 1), W2 (n, k), b2 (n, 1) MatrixSymbols.

    Entries are finite sums with symbolic bounds; ``inp(r)`` is the block's input entry r (x[r, 0], or an
    undefined function of a scalar for an induction step)."""

    def __init__(self, inp, tag=""):
        self.W1, self.b1 = sp.MatrixSymbol(f"W1{tag}", k_, n_), sp.MatrixSymbol(f"b1{tag}", k_, 1)
        self.W2, self.b2 = sp.MatrixSymbol(f"W2{tag}", n_, k_), sp.MatrixSymbol(f"b2{tag}", n_, 1)
        self.inp = inp

    def z(self, p):
        r = sp.Dummy("r", integer=True)
        return sp.Sum(self.W1[p, r] * self.inp(r), (r, 0, n_ - 1)) + self.b1[p, 0]

    def out(self, i, W2=None, b2=None):
        W2, b2 = (self.W2 if W2 is None else W2), (self.b2 if b2 is None else b2)
        p = sp.Dummy("p", integer=True)
        return self.inp(i) + sp.Sum(W2[i, p] * phi(self.z(p)), (p, 0, k_ - 1)) + b2[i, 0]

    def JF(self, i, j):
        """(W2 diag(phi'(z)) W1)[i, j]."""
        p = sp.Dummy("p", integer=True)
        return sp.Sum(self.W2[i, p] * phi_prime(self.z(p)) * self.W1[p, j], (p, 0, k_ - 1))


@derivation("resnet.forward", kind="definition", title="The residual block and a residual network",
            latex=r"x_l = x_{l-1} + F_l(x_{l-1}),\quad F_l(x) = W_2^{(l)}\varphi(W_1^{(l)} x + b_1^{(l)}) + b_2^{(l)}",
            seed=SEED, primary=HE_CVPR + "; " + HE_ECCV, assumptions=(BLOCK, NUMERATOR), sizes=("n", "k"),
            notes="Code on batch rows: x <- x + phi(x @ W1.T + b1) @ W2.T + b2 (the 'identity mapping' form of "
                  "He et al. ECCV 2016: no activation after the addition).",
            steps=(r"x_l = x_{l-1} + W_2\varphi(W_1 x_{l-1} + b_1) + b_2",))
def _forward():
    x = mat("x", 2, 1)
    out, _, z, (W1, b1, W2, b2) = block(x, 1)
    h = z.applyfunc(phi)
    return [("n = k = 2: x + F(x) entry-wise: x_i + sum_j W2_ij phi(z_j) + b2_i",
             prove_equal(out, sp.Matrix([x[i] + sum(W2[i, j] * h[j] for j in range(2)) + b2[i] for i in range(2)])),
             sc.at(n=2, k=2))]


@derivation("resnet.block.jacobian", title="The Jacobian of a residual block is I + J_F",
            latex=r"\frac{\partial (x + F(x))}{\partial x} = I + J_F,\quad "
                  r"J_F = W_2\,\operatorname{diag}(\varphi'(W_1 x + b_1))\,W_1",
            layout=NUMERATOR, seed=SEED, primary=HE_ECCV, assumptions=(BLOCK, PHI, NUMERATOR), sizes=("n", "k"),
            notes="Proved entry-wise for symbolic n and k: entry (i, j) of the Jacobian is sp.diff of the symbolic "
                  "entry x_i + sum_p W2_ip phi(sum_r W1_pr x_r + b1_p) + b2_i by x_j (Kronecker deltas, index "
                  "guards 0 <= i, j <= n - 1 resolved exactly).",
            steps=(r"\frac{\partial x_i}{\partial x_j} = \delta_{ij},\qquad "
                   r"\frac{\partial F_i}{\partial x_j} = \sum_p W_{2,ip}\,\varphi'(z_p)\,W_{1,pj}",
                   r"\frac{\partial (x + F)}{\partial x} = I + W_2\operatorname{diag}(\varphi'(z))W_1 = I + J_F"))
def _block_jacobian():
    i, j = index("i"), index("j")
    x = sp.MatrixSymbol("x", n_, 1)
    B = SymBlock(lambda r: x[r, 0])
    return [("symbolic n, k: d(x + F(x))_i / dx_j (sp.diff of the symbolic entry) = delta_ij + "
             "sum_p W2_ip phi'(z_p) W1_pj",
             prove_entry_equal(sp.diff(B.out(i), x[j, 0]), sp.KroneckerDelta(i, j) + B.JF(i, j), {i: n_, j: n_}),
             sc.GENERAL)]


@derivation("resnet.chain.product", title="The gradient through L residual blocks is the product of (I + J_l)",
            latex=r"\frac{\partial x_L}{\partial x_0} = \prod_{l=L}^{1}(I + J_l) = (I + J_L)\cdots(I + J_1),\quad "
                  r"\frac{\partial L}{\partial x_0} = (I + J_1)^\top\cdots(I + J_L)^\top \frac{\partial L}{\partial x_L}",
            layout=NUMERATOR, seed=SEED, primary=HE_ECCV, assumptions=(BLOCK, PHI, NUMERATOR, "J_l = J_{F_l} at x_{l-1}"),
            sizes=("L", "n", "k"),
            notes="Proved for every depth L by induction, at symbolic widths n, k. Base case L = 1: the block "
                  "Jacobian (entry-wise, symbolic n). Induction step: the input of block L is x_{L-1} = G(x_0), G "
                  "an undefined function (entry r: G(r, t), t = x_{0,l} the coordinate differentiated, so "
                  "d/dt G(r, t) is column l of dx_{L-1}/dx_0 = (I + J_{L-1}) ... (I + J_1) by the hypothesis); "
                  "sp.diff of block L's output entry equals ((I + J_L) dx_{L-1}/dx_0)[i, l], and the backward "
                  "sum_i g_i dx_{L,i}/dt equals (dx_{L-1}/dx_0)^T (I + J_L)^T g. Finite sums are compared after "
                  "the exact finite-sum normal form (linearity, Fubini).",
            steps=(r"x_L = (\mathrm{id} + F_L)\circ\cdots\circ(\mathrm{id} + F_1)(x_0)",
                   r"\text{chain rule: } \frac{\partial x_L}{\partial x_0} = \frac{\partial x_L}{\partial x_{L-1}}\cdots"
                   r"\frac{\partial x_1}{\partial x_0} = (I + J_L)\cdots(I + J_1)",
                   r"\frac{\partial L}{\partial x_0} = \Big(\frac{\partial x_L}{\partial x_0}\Big)^\top "
                   r"\frac{\partial L}{\partial x_L} = (I + J_1)^\top\cdots(I + J_L)^\top\,\frac{\partial L}{\partial x_L}"))
def _chain_product():
    i, l = index("i"), index("l")
    x0, g = sp.MatrixSymbol("x", n_, 1), sp.MatrixSymbol("g", n_, 1)
    first = SymBlock(lambda r: x0[r, 0])
    t = sp.Symbol("t", real=True)
    G = sp.Function("G")  # x_{L-1} as an undefined function of the coordinate t = x_{0,l}
    step = SymBlock(lambda r: G(r, t))
    D = lambda r: sp.Derivative(G(r, t), t)  # noqa: E731  column l of dx_{L-1}/dx_0
    r, c = sp.Dummy("r", integer=True), sp.Dummy("c", integer=True)
    I_plus_J = lambda B, a, b: sp.KroneckerDelta(a, b) + B.JF(a, b)  # noqa: E731
    base_bwd = sp.Sum(g[c, 0] * sp.diff(first.out(c), x0[l, 0]), (c, 0, n_ - 1))
    step_bwd = sp.Sum(g[c, 0] * sp.diff(step.out(c), t), (c, 0, n_ - 1))
    return [("base case L = 1, symbolic n, k: dx_1/dx_0 = I + J_1 entry-wise",
             prove_entry_equal(sp.diff(first.out(i), x0[l, 0]), I_plus_J(first, i, l), {i: n_, l: n_}),
             sc.base_case(L=1)),
            ("base case L = 1: dL/dx_0 (sum_c g_c dx_{1,c}/dx_{0,l}) = ((I + J_1)^T g)_l",
             prove_sums_equal(base_bwd, g[l, 0] + sp.Sum(first.JF(c, l) * g[c, 0], (c, 0, n_ - 1)), {l: n_}),
             sc.base_case(L=1)),
            ("induction step, symbolic n, k, x_{L-1} = G(x_0) undefined: d x_{L,i}/dt = "
             "sum_r (I + J_L)[i, r] dG_r/dt, i.e. dx_L/dx_0 = (I + J_L) dx_{L-1}/dx_0",
             prove_sums_equal(sp.diff(step.out(i), t), D(i) + sp.Sum(step.JF(i, r) * D(r), (r, 0, n_ - 1)), None),
             sc.INDUCTION_STEP),
            ("induction step (backward): sum_c g_c d x_{L,c}/dt = sum_r dG_r/dt ((I + J_L)^T g)_r, i.e. "
             "dL/dx_0 = (dx_{L-1}/dx_0)^T (I + J_L)^T g",
             prove_sums_equal(step_bwd, sp.Sum(D(r) * (g[r, 0] + sp.Sum(step.JF(c, r) * g[c, 0], (c, 0, n_ - 1))),
                                               (r, 0, n_ - 1)), None),
             sc.INDUCTION_STEP)]


@derivation("resnet.chain.expansion", title="The product of (I + J_l) expands into 2^L paths",
            latex=r"P_L = \prod_{l=L}^{1}(I + J_l),\quad S_L = \sum_{S \subseteq \{1..L\}} \prod_{l \in S,\ \downarrow} J_l:"
                  r"\quad S_0 = I,\ S_{L+1} = S_L + J_{L+1} S_L\ \Rightarrow\ P_L = S_L,\ 2^L \text{ path terms}",
            layout=NUMERATOR, seed=SEED, primary=VEIT,
            assumptions=(NUMERATOR, "J_l arbitrary square matrices (not commuting)",
                         "the path sum in its recursion form (cited: lemma.combinatorics.powerset_recursion): the "
                         "subsets of {1..L+1} are those of {1..L} (without L+1) and those with L+1, whose ordered "
                         "product is J_{L+1} times the product of the rest"),
            sizes=("L", "n"), lemmas=(POWERSET_RECURSION,),
            notes="Proved for every L and n, from the power-set recursion (cited), by induction on L with "
                  "non-commutative symbols (any n x n matrices): "
                  "the path sum S_L is stated by its recursion S_{L+1} = S_L + J_{L+1} S_L (splitting the subsets of "
                  "{1..L+1} by whether they contain L+1; L+1 is the largest index, so its factor stands leftmost). "
                  "Each subset S is a path through the network that takes the residual branch at the blocks in S "
                  "and the skip elsewhere; the empty set is the identity path I. The words of J_{L+1} S_L all start "
                  "with J_{L+1} and those of S_L do not contain it, so the number of path terms doubles: 2^L.",
            steps=(r"(I + J_2)(I + J_1) = I + J_1 + J_2 + J_2 J_1",
                   r"P_{L+1} = (I + J_{L+1}) P_L = (I + J_{L+1}) S_L = S_L + J_{L+1} S_L = S_{L+1}",
                   r"\#S_{L+1} = \#S_L + \#(J_{L+1} S_L) = 2 \cdot 2^L = 2^{L+1}"))
def _expansion():
    J1, Jn, S = sp.symbols("J1 J_next S_L", commutative=False)   # S_L = P_L by the hypothesis
    one = sp.Integer(1)
    L = sp.Symbol("L", integer=True, positive=True)
    count = sp.Function("N")                                        # number of path terms
    return [("base case L = 1: I + J_1 = S_1 = S_0 + J_1 S_0 with S_0 = I (subsets {}, {1})",
             prove_zero(sp.expand((one + J1) - (one + J1 * one))), sc.base_case(L=1)),
            ("induction step (non-commutative J_{L+1}, S_L, any n): (I + J_{L+1}) S_L = S_L + J_{L+1} S_L = S_{L+1}",
             prove_zero(sp.expand((one + Jn) * S - (S + Jn * S))), sc.INDUCTION_STEP),
            ("base case L = 1: 2 path terms (I, J_1) = 2^1", prove_true(sp.Eq(len(sp.Add.make_args(one + J1)), 2)),
             sc.base_case(L=1)),
            ("induction step, symbolic L: N(L + 1) = 2 N(L) with N(L) = 2^L gives 2^(L+1) (disjoint halves)",
             prove_zero((2 * count(L)).subs(count(L), 2 ** L) - 2 ** (L + 1)), sc.INDUCTION_STEP)]


@derivation("resnet.no_vanishing.condition", title="A sufficient condition for no vanishing gradient through residual blocks",
            latex=r"\lVert J_l\rVert_2 \le \delta_l < 1\ \forall l \implies "
                  r"\sigma_{\min}\Big(\prod_l (I + J_l)\Big) \ge \prod_l (1 - \delta_l) \ge 1 - \sum_l \delta_l,"
                  r"\quad \Big\lVert \frac{\partial L}{\partial x_0}\Big\rVert \ge \prod_l(1 - \delta_l)"
                  r"\Big\lVert \frac{\partial L}{\partial x_L}\Big\rVert",
            seed=SEED, primary=HE_ECCV, assumptions=(NORM, "0 <= delta_l < 1", "J_l = J_{F_l} at x_{l-1}"),
            sizes=("L", "n"), lemmas=(SIGMA_MIN_PRODUCT, TRIANGLE),
            notes="Proved for every L and n from two cited lemmas: sigma_min(AB) >= sigma_min(A) sigma_min(B) "
                  "(lemma.sigma_min.product) and the triangle inequality (lemma.norm.triangle); their instance "
                  "checks below illustrate them and are not proofs. Exactly proved: the scalar algebra ((1-a)(1-b) - (1-a-b) = ab >= 0; the induction step "
                  "P (1 - d) >= 1 - S - d from P >= 1 - S), the slack algebra of the reverse-triangle step "
                  "(||v|| - ||Jv|| >= (1 - ||J||) ||v|| given ||Jv|| <= ||J|| ||v||), Lagrange's identity (hence "
                  "Cauchy-Schwarz and the triangle inequality) for explicit 2- and 3-vectors, and, for explicit "
                  "2x2 rational J_1, J_2, sigma_min((I+J_2)(I+J_1)) >= (1-||J_2||)(1-||J_1||) with exact algebraic "
                  "singular values. Stated, not machine-checked for symbolic n: ||Jv|| <= ||J|| ||v|| (the "
                  "definition of the induced norm) and sigma_min(AB) >= sigma_min(A) sigma_min(B). The transpose has "
                  "the same singular values, so the bound holds for the backward product too. If sum delta_l < 1 "
                  "or prod (1 - delta_l) stays bounded away from 0 the gradient cannot vanish; the condition is "
                  "sufficient, not necessary.",
            steps=(r"\lVert (I + J)v\rVert \ge \lVert v\rVert - \lVert Jv\rVert \ge \lVert v\rVert - \lVert J\rVert"
                   r"\lVert v\rVert = (1 - \lVert J\rVert)\lVert v\rVert \quad\text{(reverse triangle inequality)}",
                   r"\Rightarrow\ \sigma_{\min}(I + J_l) \ge 1 - \delta_l > 0,\qquad "
                   r"\sigma_{\min}(AB) \ge \sigma_{\min}(A)\,\sigma_{\min}(B)",
                   r"\Rightarrow\ \sigma_{\min}\Big(\prod_l (I + J_l)\Big) \ge \prod_l (1 - \delta_l)",
                   r"(1 - a)(1 - b) - (1 - a - b) = ab \ge 0;\quad P \ge 1 - S \Rightarrow P(1 - d) \ge 1 - S - d",
                   r"\Rightarrow\ \prod_l (1 - \delta_l) \ge 1 - \sum_l \delta_l",
                   r"\Big\lVert\frac{\partial L}{\partial x_0}\Big\rVert = \Big\lVert \Big(\prod_l (I+J_l)\Big)^\top "
                   r"\frac{\partial L}{\partial x_L}\Big\rVert \ge \prod_l (1-\delta_l)\Big\lVert\frac{\partial L}{\partial x_L}\Big\rVert"))
def _no_vanishing_condition():
    a, b, S, d, r, f, s, N, dl = sp.symbols("a b S d r f s N delta", nonnegative=True)
    P = 1 - S + r  # P >= 1 - S, with slack r >= 0
    G = sc.GENERAL
    out = [("(1 - a)(1 - b) - (1 - a - b) = a b", prove_equal((1 - a) * (1 - b) - (1 - a - b), a * b), G),
           ("a, b >= 0: a b >= 0", prove_true(sp.Ge(a * b, 0)), G),
           ("base case L = 1: prod (1 - delta_l) = 1 - delta_1 >= 1 - delta_1", prove_true(sp.Ge(1 - d, 1 - d)),
            sc.base_case(L=1)),
           ("induction step (every L): P = 1 - S + r: P (1 - d) - (1 - S - d) = r (1 - d) + S d",
            prove_equal(P * (1 - d) - (1 - S - d), r * (1 - d) + S * d), sc.INDUCTION_STEP),
           ("induction step: r, S, d >= 0, f = 1 - d > 0: r f + S d >= 0", prove_true(sp.Ge(r * f + S * d, 0)),
            sc.INDUCTION_STEP),
           ("reverse triangle slack: ||Jv|| = delta ||v|| - s (s >= 0): (||v|| - ||Jv||) - (1 - delta)||v|| = s",
            prove_equal((N - (dl * N - s)) - (1 - dl) * N, s), G)]
    for n in (2, 3):
        u, v = mat("u", n, 1), mat("v", n, 1)
        lag = sum((u[i] * v[j] - u[j] * v[i]) ** 2 for i in range(n) for j in range(i + 1, n))
        out.append((f"n = {n}: Lagrange's identity |u|^2 |v|^2 - (u.v)^2 = sum_(i<j) (u_i v_j - u_j v_i)^2 "
                    "(so Cauchy-Schwarz and the triangle inequality)",
                    prove_zero(sp.expand((u.T * u)[0] * (v.T * v)[0] - (u.T * v)[0] ** 2 - lag)),
                    sc.lemma_check(TRIANGLE, n=n)))
    J1 = sp.Matrix([[sp.Rational(1, 4), sp.Rational(1, 8)], [0, -sp.Rational(1, 3)]])
    J2 = sp.Matrix([[-sp.Rational(1, 5), sp.Rational(1, 3)], [sp.Rational(1, 6), sp.Rational(1, 10)]])

    def sv(M):
        ev = list((M.T * M).eigenvals().keys())
        ev = [sp.nsimplify(e) if e.is_Rational else e for e in ev]
        return [sp.sqrt(e) for e in ev]

    def smax(M):
        v = sv(M)
        return v[0] if len(v) == 1 else sp.Max(*v)

    def smin(M):
        v = sv(M)
        return v[0] if len(v) == 1 else sp.Min(*v)

    I2 = sp.eye(2)
    d1, d2 = smax(J1), smax(J2)
    prod = (I2 + J2) * (I2 + J1)
    out += [("explicit 2x2: ||J_1||_2 < 1 and ||J_2||_2 < 1 (exact singular values)",
             combine([prove_true(sp.Lt(d1, 1)), prove_true(sp.Lt(d2, 1))]), sc.lemma_check(SIGMA_MIN_PRODUCT, n=2)),
            ("explicit 2x2: sigma_min(I + J_1) >= 1 - ||J_1||_2", prove_true(sp.Ge(smin(I2 + J1), 1 - d1)),
             sc.lemma_check(TRIANGLE, n=2)),
            ("explicit 2x2: sigma_min((I + J_2)(I + J_1)) >= (1 - ||J_2||)(1 - ||J_1||)",
             prove_true(sp.Ge(smin(prod), (1 - d2) * (1 - d1))), sc.lemma_check(SIGMA_MIN_PRODUCT, n=2)),
            ("explicit 2x2: (1 - ||J_2||)(1 - ||J_1||) >= 1 - ||J_1|| - ||J_2||",
             prove_true(sp.Ge((1 - d2) * (1 - d1), 1 - d1 - d2)), sc.lemma_check(SIGMA_MIN_PRODUCT, n=2))]
    return out


@derivation("resnet.no_vanishing.counterexample", kind="refutation",
            title="Residual connections by themselves prevent vanishing gradients", sizes=("n", "L"),
            latex=r"n = 1,\ \varphi = \tanh,\ W_1 = 1,\ b_1 = 0,\ W_2 = -1,\ b_2 = 0,\ x = 0:\quad "
                  r"I + J_F = 1 - \tanh'(0) = 0;\qquad J_l = -(1 - r):\ \prod_{l=1}^{L}(I + J_l) = r^L",
            seed=SEED, primary=HE_ECCV + "; " + VEIT,
            assumptions=("the claim refuted: for every residual network ||dL/dx_0|| >= c ||dL/dx_L|| with some c > 0 "
                         "independent of the weights",),
            notes="The residual branch can cancel the skip exactly (I + J_F = 0 at a point: the gradient is exactly "
                  "0 after one block), or shrink it geometrically (r^L). The identity path guarantees a gradient "
                  "only under a condition such as resnet.no_vanishing.condition (||J_l|| <= delta_l < 1).",
            steps=(r"F(x) = -\tanh(x):\ \ \frac{d}{dx}\big(x - \tanh(x)\big)\Big|_{x=0} = 1 - (1 - \tanh^2 0) = 0",
                   r"n = 2,\ W_1 = I,\ W_2 = -I:\ I + J_F = I - \operatorname{diag}(\tanh'(0)) = 0",
                   r"W_1 = 1,\ W_2 = -(1 - r),\ b = 0:\ x_l = 0\ \forall l,\ \ I + J_l = r\ \Rightarrow\ "
                   r"\frac{\partial x_L}{\partial x_0} = r^L \to 0"))
def _counterexample():
    x = sp.Symbol("x", real=True)
    f1 = x + (-1) * sp.tanh(1 * x + 0) + 0
    d1 = sp.diff(f1, x).subs(x, 0)
    v = mat("x", 2, 1)
    y2, J2, _, _ = block(v, 1, 2, 2, act=sp.tanh)
    W1, b1, W2, b2 = (sp.eye(2), sp.zeros(2, 1), -sp.eye(2), sp.zeros(2, 1))
    sub = {}
    for name, M in zip(("V1", "c1", "U1", "e1"), (W1, b1, W2, b2)):
        ref = mat(name, M.rows, M.cols)
        sub.update({ref[i]: M[i] for i in range(len(M))})
    sub.update({v[0]: 0, v[1]: 0})
    jac2 = (sp.eye(2) + J2).xreplace(sub)
    jac2_direct = y2.jacobian(v).xreplace(sub)
    r = sp.Symbol("r", positive=True)
    h = x
    for _ in range(3):
        h = h - (1 - r) * sp.tanh(h)
    d3 = sp.diff(h, x).subs(x, 0)
    cex = {"point": {"n": "1", "phi": "tanh", "W1": "1", "b1": "0", "W2": "-1", "b2": "0", "x": "0"},
           "value": f"d(x + F(x))/dx at 0 = {d1}: dL/dx_0 = 0 for every dL/dx_1"}
    return [("n = 1: d/dx (x - tanh x) at x = 0 is exactly 0", _with_cex(prove_zero(d1), cex), sc.at(n=1, L=1)),
            ("n = 2, W1 = I, b1 = 0, W2 = -I, b2 = 0, x = 0: I + J_F is the zero matrix",
             prove_equal(jac2, sp.zeros(2, 2)), sc.at(n=2, L=1)),
            ("n = 2, same weights: Matrix.jacobian of x + F(x) at x = 0 is the zero matrix",
             prove_equal(jac2_direct, sp.zeros(2, 2)), sc.at(n=2, L=1)),
            ("J_l = -(1 - r) (W1 = 1, W2 = -(1 - r), b = 0, at x_0 = 0), L = 3: dx_3/dx_0 = r^3",
             prove_equal(sp.simplify(d3), r ** 3), sc.at(n=1, L=3))]


@derivation("resnet.identity_block", title="A block with F = 0 is the identity, with Jacobian I",
            latex=r"W_2 = 0,\ b_2 = 0 \implies x + F(x) = x,\quad \frac{\partial(x + F(x))}{\partial x} = I",
            seed=SEED, primary=HE_CVPR, assumptions=(BLOCK, PHI), sizes=("n", "k"),
            notes="Proved entry-wise for symbolic n, k. He et al.'s motivation: a residual block can represent the identity by zero weights; the "
                  "property resnet.identity_path checks y = x and dL/dx = dL/dy on such blocks.",
            steps=(r"F(x) = 0\cdot\varphi(W_1 x + b_1) + 0 = 0\ \Rightarrow\ x + F(x) = x",
                   r"J_F = 0\cdot\operatorname{diag}(\varphi'(z))\,W_1 = 0\ \Rightarrow\ I + J_F = I"))
def _identity_block():
    i, j = index("i"), index("j")
    x = sp.MatrixSymbol("x", n_, 1)
    B = SymBlock(lambda r: x[r, 0])
    Z2, z2 = sp.ZeroMatrix(n_, k_), sp.ZeroMatrix(n_, 1)
    y0 = B.out(i, W2=Z2, b2=z2)
    p = sp.Dummy("p", integer=True)
    JF0 = sp.Sum(Z2[i, p] * phi_prime(B.z(p)) * B.W1[p, j], (p, 0, k_ - 1))
    return [("symbolic n, k; W2 = 0, b2 = 0: (x + F(x))_i = x_i", prove_entry_equal(y0, x[i, 0], {i: n_}), sc.GENERAL),
            ("symbolic n, k; W2 = 0, b2 = 0: d(x + F(x))_i/dx_j = delta_ij",
             prove_entry_equal(sp.diff(y0, x[j, 0]), sp.KroneckerDelta(i, j), {i: n_, j: n_}), sc.GENERAL),
            ("symbolic n, k; W2 = 0: (I + J_F)[i, j] = delta_ij",
             prove_entry_equal(sp.KroneckerDelta(i, j) + JF0, sp.KroneckerDelta(i, j), {i: n_, j: n_}), sc.GENERAL)]
