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

from .functions import phi, phi_prime
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


@derivation("resnet.forward", kind="definition", title="The residual block and a residual network",
            latex=r"x_l = x_{l-1} + F_l(x_{l-1}),\quad F_l(x) = W_2^{(l)}\varphi(W_1^{(l)} x + b_1^{(l)}) + b_2^{(l)}",
            seed=SEED, primary=HE_CVPR + "; " + HE_ECCV, assumptions=(BLOCK, NUMERATOR),
            notes="Code on batch rows: x <- x + phi(x @ W1.T + b1) @ W2.T + b2 (the 'identity mapping' form of "
                  "He et al. ECCV 2016: no activation after the addition).",
            steps=(r"x_l = x_{l-1} + W_2\varphi(W_1 x_{l-1} + b_1) + b_2",))
def _forward():
    x = mat("x", 2, 1)
    out, _, z, (W1, b1, W2, b2) = block(x, 1)
    h = z.applyfunc(phi)
    return [("x + F(x) entry-wise: x_i + sum_j W2_ij phi(z_j) + b2_i",
             prove_equal(out, sp.Matrix([x[i] + sum(W2[i, j] * h[j] for j in range(2)) + b2[i] for i in range(2)])))]


@derivation("resnet.block.jacobian", title="The Jacobian of a residual block is I + J_F",
            latex=r"\frac{\partial (x + F(x))}{\partial x} = I + J_F,\quad "
                  r"J_F = W_2\,\operatorname{diag}(\varphi'(W_1 x + b_1))\,W_1",
            layout=NUMERATOR, seed=SEED, primary=HE_ECCV, assumptions=(BLOCK, PHI, NUMERATOR),
            steps=(r"\frac{\partial x_i}{\partial x_j} = \delta_{ij},\qquad "
                   r"\frac{\partial F_i}{\partial x_j} = \sum_p W_{2,ip}\,\varphi'(z_p)\,W_{1,pj}",
                   r"\frac{\partial (x + F)}{\partial x} = I + W_2\operatorname{diag}(\varphi'(z))W_1 = I + J_F"))
def _block_jacobian():
    out = []
    for n, k in ((2, 2), (2, 3)):
        x = mat("x", n, 1)
        y, JF, _, _ = block(x, 1, n, k)
        out.append((f"n = {n}, k = {k}: Matrix.jacobian of x + F(x) equals I + W2 diag(phi'(z)) W1",
                    prove_equal(y.jacobian(x), sp.eye(n) + JF)))
    return out


@derivation("resnet.chain.product", title="The gradient through L residual blocks is the product of (I + J_l)",
            latex=r"\frac{\partial x_L}{\partial x_0} = \prod_{l=L}^{1}(I + J_l) = (I + J_L)\cdots(I + J_1),\quad "
                  r"\frac{\partial L}{\partial x_0} = (I + J_1)^\top\cdots(I + J_L)^\top \frac{\partial L}{\partial x_L}",
            layout=NUMERATOR, seed=SEED, primary=HE_ECCV, assumptions=(BLOCK, PHI, NUMERATOR, "J_l = J_{F_l} at x_{l-1}"),
            steps=(r"x_L = (\mathrm{id} + F_L)\circ\cdots\circ(\mathrm{id} + F_1)(x_0)",
                   r"\text{chain rule: } \frac{\partial x_L}{\partial x_0} = \frac{\partial x_L}{\partial x_{L-1}}\cdots"
                   r"\frac{\partial x_1}{\partial x_0} = (I + J_L)\cdots(I + J_1)",
                   r"\frac{\partial L}{\partial x_0} = \Big(\frac{\partial x_L}{\partial x_0}\Big)^\top "
                   r"\frac{\partial L}{\partial x_L} = (I + J_1)^\top\cdots(I + J_L)^\top\,\frac{\partial L}{\partial x_L}"))
def _chain_product():
    x0 = mat("x", 2, 1)
    g = mat("g", 2, 1)
    x, Js = x0, []
    for l in (1, 2):
        x, J, _, _ = block(x, l)
        Js.append(J)
    prod = (sp.eye(2) + Js[1]) * (sp.eye(2) + Js[0])
    Lx = (g.T * x)[0]
    dx0 = sp.Matrix([sp.diff(Lx, v) for v in x0])
    return [("L = 2, n = k = 2: Matrix.jacobian of x_2(x_0) equals (I + J_2)(I + J_1)", prove_equal(x.jacobian(x0), prod)),
            ("L = 2: dL/dx_0 (sp.diff of <g, x_2>) equals (I + J_1)^T (I + J_2)^T g",
             prove_equal(dx0, (sp.eye(2) + Js[0]).T * (sp.eye(2) + Js[1]).T * g))]


@derivation("resnet.chain.expansion", title="The product of (I + J_l) expands into 2^L paths",
            latex=r"\prod_{l=L}^{1}(I + J_l) = I + \sum_l J_l + \sum_{l > k} J_l J_k + \cdots + J_L \cdots J_1 "
                  r"= \sum_{S \subseteq \{1..L\}} \prod_{l \in S,\ \downarrow} J_l",
            layout=NUMERATOR, seed=SEED, primary=VEIT, assumptions=(NUMERATOR, "J_l arbitrary square matrices (not commuting)"),
            notes="Each subset S is a path through the network that takes the residual branch at the blocks in S "
                  "and the skip elsewhere; the empty set is the identity path I. Proved for L = 3 with "
                  "non-commutative symbols and with explicit 2x2 symbolic matrices.",
            steps=(r"(I + J_2)(I + J_1) = I + J_1 + J_2 + J_2 J_1",
                   r"(I + J_3)(I + J_2)(I + J_1) = I + J_1 + J_2 + J_3 + J_2 J_1 + J_3 J_1 + J_3 J_2 + J_3 J_2 J_1",
                   r"\text{induction: } (I + J_{L+1})\sum_S P_S = \sum_S P_S + \sum_S J_{L+1} P_S:\ 2^L + 2^L = 2^{L+1} \text{ terms}"))
def _expansion():
    J1, J2, J3 = sp.symbols("J1 J2 J3", commutative=False)
    one = sp.Integer(1)
    lhs = (one + J3) * (one + J2) * (one + J1)
    paths = [one, J1, J2, J3, J2 * J1, J3 * J1, J3 * J2, J3 * J2 * J1]
    rhs = sp.Add(*paths)
    M = [mat(f"J{l}", 2, 2) for l in (1, 2, 3)]
    I2 = sp.eye(2)
    lhs_m = (I2 + M[2]) * (I2 + M[1]) * (I2 + M[0])
    rhs_m = I2 + M[0] + M[1] + M[2] + M[1] * M[0] + M[2] * M[0] + M[2] * M[1] + M[2] * M[1] * M[0]
    n_terms = len(sp.expand(lhs).args)
    return [("L = 3, non-commutative J_l: expand((I+J3)(I+J2)(I+J1)) - (sum of the 8 paths) = 0",
             prove_zero(sp.expand(lhs - rhs))),
            ("L = 3: the expansion has 2^3 = 8 distinct path terms (the identity path I is one)",
             prove_true(sp.Eq(n_terms, 2 ** 3))),
            ("L = 3, explicit 2x2 symbolic J_l: the product equals the 8-path sum", prove_equal(lhs_m, rhs_m))]


@derivation("resnet.no_vanishing.condition", title="A sufficient condition for no vanishing gradient through residual blocks",
            latex=r"\lVert J_l\rVert_2 \le \delta_l < 1\ \forall l \implies "
                  r"\sigma_{\min}\Big(\prod_l (I + J_l)\Big) \ge \prod_l (1 - \delta_l) \ge 1 - \sum_l \delta_l,"
                  r"\quad \Big\lVert \frac{\partial L}{\partial x_0}\Big\rVert \ge \prod_l(1 - \delta_l)"
                  r"\Big\lVert \frac{\partial L}{\partial x_L}\Big\rVert",
            seed=SEED, primary=HE_ECCV, assumptions=(NORM, "0 <= delta_l < 1", "J_l = J_{F_l} at x_{l-1}"),
            notes="Exactly proved: the scalar algebra ((1-a)(1-b) - (1-a-b) = ab >= 0; the induction step "
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
    out = [("(1 - a)(1 - b) - (1 - a - b) = a b", prove_equal((1 - a) * (1 - b) - (1 - a - b), a * b)),
           ("a, b >= 0: a b >= 0", prove_true(sp.Ge(a * b, 0))),
           ("induction: P = 1 - S + r: P (1 - d) - (1 - S - d) = r (1 - d) + S d",
            prove_equal(P * (1 - d) - (1 - S - d), r * (1 - d) + S * d)),
           ("r, S, d >= 0, f = 1 - d > 0: r f + S d >= 0", prove_true(sp.Ge(r * f + S * d, 0))),
           ("reverse triangle slack: ||Jv|| = delta ||v|| - s (s >= 0): (||v|| - ||Jv||) - (1 - delta)||v|| = s",
            prove_equal((N - (dl * N - s)) - (1 - dl) * N, s))]
    for n in (2, 3):
        u, v = mat("u", n, 1), mat("v", n, 1)
        lag = sum((u[i] * v[j] - u[j] * v[i]) ** 2 for i in range(n) for j in range(i + 1, n))
        out.append((f"n = {n}: Lagrange's identity |u|^2 |v|^2 - (u.v)^2 = sum_(i<j) (u_i v_j - u_j v_i)^2 "
                    "(so Cauchy-Schwarz and the triangle inequality)",
                    prove_zero(sp.expand((u.T * u)[0] * (v.T * v)[0] - (u.T * v)[0] ** 2 - lag))))
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
             combine([prove_true(sp.Lt(d1, 1)), prove_true(sp.Lt(d2, 1))])),
            ("explicit 2x2: sigma_min(I + J_1) >= 1 - ||J_1||_2", prove_true(sp.Ge(smin(I2 + J1), 1 - d1))),
            ("explicit 2x2: sigma_min((I + J_2)(I + J_1)) >= (1 - ||J_2||)(1 - ||J_1||)",
             prove_true(sp.Ge(smin(prod), (1 - d2) * (1 - d1)))),
            ("explicit 2x2: (1 - ||J_2||)(1 - ||J_1||) >= 1 - ||J_1|| - ||J_2||",
             prove_true(sp.Ge((1 - d2) * (1 - d1), 1 - d1 - d2)))]
    return out


@derivation("resnet.no_vanishing.counterexample", kind="refutation",
            title="Residual connections do not by themselves prevent vanishing gradients",
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
    return [("n = 1: d/dx (x - tanh x) at x = 0 is exactly 0", _with_cex(prove_zero(d1), cex)),
            ("n = 2, W1 = I, b1 = 0, W2 = -I, b2 = 0, x = 0: I + J_F is the zero matrix",
             prove_equal(jac2, sp.zeros(2, 2))),
            ("n = 2, same weights: Matrix.jacobian of x + F(x) at x = 0 is the zero matrix",
             prove_equal(jac2_direct, sp.zeros(2, 2))),
            ("J_l = -(1 - r) (W1 = 1, W2 = -(1 - r), b = 0, at x_0 = 0), L = 3: dx_3/dx_0 = r^3",
             prove_equal(sp.simplify(d3), r ** 3))]


@derivation("resnet.identity_block", title="A block with F = 0 is the identity, with Jacobian I",
            latex=r"W_2 = 0,\ b_2 = 0 \implies x + F(x) = x,\quad \frac{\partial(x + F(x))}{\partial x} = I",
            seed=SEED, primary=HE_CVPR, assumptions=(BLOCK, PHI),
            notes="He et al.'s motivation: a residual block can represent the identity by zero weights; the "
                  "property resnet.identity_path checks y = x and dL/dx = dL/dy on such blocks.",
            steps=(r"F(x) = 0\cdot\varphi(W_1 x + b_1) + 0 = 0\ \Rightarrow\ x + F(x) = x",
                   r"J_F = 0\cdot\operatorname{diag}(\varphi'(z))\,W_1 = 0\ \Rightarrow\ I + J_F = I"))
def _identity_block():
    x = mat("x", 2, 1)
    y, JF, _, (W1, b1, W2, b2) = block(x, 1, 2, 3)
    zero = {w: 0 for w in list(W2) + list(b2)}
    return [("W2 = 0, b2 = 0: x + F(x) = x", prove_equal(y.xreplace(zero), x)),
            ("W2 = 0, b2 = 0: Matrix.jacobian(x + F(x)) = I", prove_equal(y.xreplace(zero).jacobian(x), sp.eye(2))),
            ("W2 = 0: I + J_F = I", prove_equal((sp.eye(2) + JF).xreplace(zero), sp.eye(2)))]
