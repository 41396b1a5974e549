"""The neural tangent kernel of a one-hidden-layer ReLU network: the empirical kernel, its infinite-width limit
(arc-cosine kernels), its mean and variance at finite width, positive semi-definiteness.

Network (NTK parameterization): f(x) = a^T relu(W x) / sqrt(m), W (m, d) with rows w_r, a (m,), theta = (W, a),
relu'(0) = 0. Empirical kernel K_m(x, x') = <grad_theta f(x), grad_theta f(x')>. Initialization for the limit:
w_r ~ N(0, I_d), a_r ~ N(0, 1), all independent.

Route: the gradients by sp.diff of the network written with the opaque relu (explicit m = 2, d = 2); the Gaussian
expectations reduced to the plane of x, x' (rotation invariance) and integrated in polar coordinates with SymPy
(radial moments int_0^oo r^k e^{-r^2/2} dr, angular integrals over the sector where both w.x > 0 and w.x' > 0);
the moments of the finite-width kernel as sums of m i.i.d. terms (explicit m = 3, and the symbolic sum).

Seed: 深度学习数学模块 · 02-Neural-Tangent-Kernel.md (NTK理论). Primary: Jacot, Gabriel & Hongler (2018); Cho & Saul
(2009); Arora, Du, Hu, Li, Salakhutdinov & Wang (2019).
"""
from __future__ import annotations

import sympy as sp

from . import scope as sc
from .functions import relu
from .indexed import canonical
from .prove import ProofResult, combine, prove_equal, prove_true, prove_zero
from .lemmas import EXPECTATION
from .registry import derivation
from .sums import prove_sums_equal

SEED = "seed: 深度学习数学模块 · 02-Neural-Tangent-Kernel.md (NTK理论)"
JACOT = ("Jacot, Gabriel & Hongler (2018), Neural tangent kernel: convergence and generalization in neural networks, "
         "NeurIPS 31")
CHO_SAUL = "Cho & Saul (2009), Kernel methods for deep learning, NeurIPS 22 (arc-cosine kernels of degree 0 and 1)"
ARORA = ("Arora, Du, Hu, Li, Salakhutdinov & Wang (2019), On exact computation with an infinitely wide neural net, "
         "NeurIPS 32 (the two-layer ReLU NTK)")

ARCCOS = sc.Lemma(
    "lemma.ntk.arccos_cho_saul",
    r"w \sim \mathcal N(0, I_d):\ \mathbb E\big[\Theta(w^\top x)\Theta(w^\top x')(w^\top x)^n(w^\top x')^n\big] = "
    r"\frac{1}{2\pi}\lVert x\rVert^n\lVert x'\rVert^n J_n(\theta)\ \text{(the integral reduces to the plane of } x, x' "
    r"\text{ by rotation invariance of } \mathcal N(0, I_d))",
    "Cho & Saul (2009), Kernel methods for deep learning, NeurIPS 22, eq. (6) and its derivation (appendix)")
CHEBYSHEV = sc.Lemma("lemma.prob.chebyshev", r"P(|X - \mathbb E X| > t) \le \operatorname{Var}X / t^2",
                     "Chebyshev's inequality; e.g. Billingsley (1995), Probability and Measure, 3rd ed., eq. (5.32)")
MEDIAN_OF_MEANS = sc.Lemma(
    "lemma.prob.median_of_means",
    r"K^{(1)}, \ldots, K^{(G)} \text{ independent},\ P(|K^{(g)} - \Theta| > t) \le p:\ "
    r"P(|\operatorname{med}_g K^{(g)} - \Theta| > t) \le P(\mathrm{Bin}(G, p) \ge \lceil G/2\rceil)",
    "Nemirovsky & Yudin (1983), Problem Complexity and Method Efficiency in Optimization, Wiley; Lugosi & Mendelson "
    "(2019), Found. Comput. Math. 19, §2 (median of means)")

NET = "f(x) = a^T relu(W x)/sqrt(m), W (m, d) with rows w_r, a (m,), theta = (W, a)"
RELU0 = "relu'(0) = 0 (H(0) = 0), as torch"
INIT = "w_r ~ N(0, I_d), a_r ~ N(0, 1), all independent"
PLANE = ("rotation invariance: (w.x, w.x') has the law of (w_2.x~, w_2.x~') with w_2 ~ N(0, I_2) and x~ = |x| (1, 0), "
         "x~' = |x'| (cos theta, sin theta), theta in [0, pi] the angle between x and x' (x, x' != 0)")
SECTOR = ("for theta in [0, pi), {phi : cos phi > 0 and cos(phi - theta) > 0} = (theta - pi/2, pi/2) mod 2 pi, "
          "an arc of length pi - theta (the two half-planes intersect in a sector)")

th = sp.Symbol("theta", nonnegative=True)   # angle between x and x'
ph = sp.Symbol("phi", real=True)            # polar angle of w in the plane
r = sp.Symbol("r", positive=True)           # polar radius of w
nx, ny = sp.symbols("n_x n_y", positive=True)  # |x|, |x'|
c = sp.Symbol("c", real=True)               # x . x' = |x||x'| cos theta

#: the closed forms (the float64 oracle derivations/oracle_ntk.py evaluates these)
KAPPA0 = (sp.pi - th) / (2 * sp.pi)
KAPPA1_UNIT = (sp.sin(th) + (sp.pi - th) * sp.cos(th)) / (2 * sp.pi)
KAPPA1 = nx * ny * KAPPA1_UNIT
THETA = KAPPA1 + nx * ny * sp.cos(th) * KAPPA0
#: E[relu(w.x)^2 relu(w.x')^2]
M22 = nx ** 2 * ny ** 2 * ((sp.pi - th) * (2 + sp.cos(2 * th)) + sp.Rational(3, 2) * sp.sin(2 * th)) / (2 * sp.pi)
#: E[t^2] and Var[t] of one unit's term t = relu(u) relu(u') + a^2 relu'(u) relu'(u') x.x'
SECOND_MOMENT = M22 + 2 * nx * ny * sp.cos(th) * KAPPA1 + 3 * (nx * ny * sp.cos(th)) ** 2 * KAPPA0
UNIT_VARIANCE = SECOND_MOMENT - THETA ** 2


def _radial(k: int):
    """int_0^oo r^k e^{-r^2/2} r dr (the Gaussian's radial moment)."""
    return sp.integrate(r ** (k + 1) * sp.exp(-r ** 2 / 2), (r, 0, sp.oo))


def _sector(angular):
    """int over the sector (theta - pi/2, pi/2) of the angular factor."""
    return sp.integrate(angular, (ph, th - sp.pi / 2, sp.pi / 2))


def _gauss_moment(k: int):
    """E[a^k], a ~ N(0, 1), by integration."""
    a = sp.Symbol("a", real=True)
    return sp.integrate(a ** k * sp.exp(-a ** 2 / 2), (a, -sp.oo, sp.oo)) / sp.sqrt(2 * sp.pi)


def _sector_obligations():
    """The sector (theta - pi/2, pi/2): its end points are the zeros of the two factors, its midpoint is inside."""
    lo, hi = th - sp.pi / 2, sp.pi / 2
    mid = (lo + hi) / 2
    return combine([prove_zero(sp.cos(hi)), prove_zero(sp.cos(lo - th)),
                    prove_equal(hi - lo, sp.pi - th),
                    prove_equal(mid, th / 2), prove_equal(mid - th, -th / 2)])


# ---------------------------------------------------------------- the empirical kernel

def _network(m: int, d: int):
    W = sp.Matrix(m, d, lambda i, j: sp.Symbol(f"w{i + 1}{j + 1}", real=True))
    a = sp.Matrix(sp.symbols(f"a1:{m + 1}", real=True))
    x = sp.Matrix(sp.symbols(f"x1:{d + 1}", real=True))
    y = sp.Matrix(sp.symbols(f"y1:{d + 1}", real=True))
    return W, a, x, y


def _f(W, a, x):
    m = W.shape[0]
    return sum(a[r_] * relu((W.row(r_) * x)[0]) for r_ in range(m)) / sp.sqrt(m)


def _grad(W, a, x):
    params = list(W) + list(a)
    f = _f(W, a, x)
    return sp.Matrix([sp.diff(f, p) for p in params])


@derivation("ntk.empirical.definition", kind="definition", title="The empirical NTK of a one-hidden-layer ReLU network",
            latex=r"K_m(x, x') = \big\langle \nabla_\theta f(x), \nabla_\theta f(x') \big\rangle = \frac{1}{m}\sum_{r=1}^{m}"
                  r"\Big[\operatorname{relu}(w_r^\top x)\operatorname{relu}(w_r^\top x') + a_r^2\,"
                  r"\operatorname{relu}'(w_r^\top x)\operatorname{relu}'(w_r^\top x')\,x^\top x'\Big]",
            seed=SEED, primary=JACOT + " (Definition, §4); " + ARORA + " §3",
            assumptions=(NET, RELU0, "consistency checked at m = 2 hidden units, d = 2 inputs (the sum over r is term "
                                     "by term)"), sizes=("m", "d"),
            notes="The first term is the a-gradient's (the 'random features' kernel), the second the W-gradient's. "
                  "relu' enters only through H(w.x) H(w.x'); its value at 0 is the convention H(0) = 0.",
            steps=(
                r"f(x) = \frac{1}{\sqrt m}\sum_r a_r \operatorname{relu}(w_r^\top x)",
                r"\frac{\partial f}{\partial a_r} = \frac{\operatorname{relu}(w_r^\top x)}{\sqrt m},\qquad "
                r"\frac{\partial f}{\partial w_r} = \frac{a_r\,\operatorname{relu}'(w_r^\top x)}{\sqrt m}\,x",
                r"\langle \nabla_\theta f(x), \nabla_\theta f(x')\rangle = \sum_r \frac{\partial f}{\partial a_r}(x)"
                r"\frac{\partial f}{\partial a_r}(x') + \sum_r \Big\langle \frac{\partial f}{\partial w_r}(x), "
                r"\frac{\partial f}{\partial w_r}(x')\Big\rangle",
                r"= \frac{1}{m}\sum_r\Big[\operatorname{relu}(w_r^\top x)\operatorname{relu}(w_r^\top x') + a_r^2 "
                r"\operatorname{relu}'(w_r^\top x)\operatorname{relu}'(w_r^\top x')\, x^\top x'\Big]",
            ))
def _definition():
    m, d = 2, 2
    W, a, x, y = _network(m, d)
    gx, gy = _grad(W, a, x), _grad(W, a, y)
    K = (gx.T * gy)[0]
    H = lambda z: sp.Heaviside(z, 0)  # noqa: E731 - relu' with H(0) = 0
    explicit = sum(relu((W.row(i) * x)[0]) * relu((W.row(i) * y)[0])
                   + a[i] ** 2 * H((W.row(i) * x)[0]) * H((W.row(i) * y)[0]) * (x.T * y)[0] for i in range(m)) / m
    da = [sp.diff(_f(W, a, x), a[i]) for i in range(m)]
    dw = [sp.diff(_f(W, a, x), W[i, j]) for i in range(m) for j in range(d)]
    at = sc.at(m=2, d=2)
    return [("m = d = 2: df/da_r = relu(w_r.x)/sqrt(m)",
             combine(prove_equal(da[i], relu((W.row(i) * x)[0]) / sp.sqrt(m)) for i in range(m)), at),
            ("m = d = 2: df/dW_rj = a_r relu'(w_r.x) x_j / sqrt(m), relu' = H(., 0)",
             combine(prove_equal(dw[i * d + j], a[i] * H((W.row(i) * x)[0]) * x[j] / sp.sqrt(m))
                     for i in range(m) for j in range(d)), at),
            ("m = d = 2: <grad f(x), grad f(x')> = (1/m) sum_r [relu relu + a_r^2 H H x.x']", prove_equal(K, explicit), at),
            ("relu'(0) = H(0) = 0", prove_zero(sp.Heaviside(0, 0)), sc.GENERAL)]


# ---------------------------------------------------------------- the arc-cosine kernels

@derivation("ntk.arccos.kappa0", title="Arc-cosine kernel of degree 0: E[relu'(w.x) relu'(w.x')] = (pi - theta)/(2 pi)",
            latex=r"\mathbb{E}_{w\sim\mathcal N(0, I)}\big[\operatorname{relu}'(w^\top x)\operatorname{relu}'(w^\top x')\big]"
                  r" = \frac{\pi - \theta}{2\pi},\qquad \theta = \angle(x, x')",
            seed=SEED, primary=CHO_SAUL + " (eq. 6, n = 0); " + ARORA,
            assumptions=(INIT, RELU0, PLANE, SECTOR, "x, x' != 0; the set w.x = 0 has probability 0, so the value of "
                                                     "relu'(0) does not matter here",
                         "the reduction to the plane is lemma.ntk.arccos_cho_saul (cited)"),
            sizes=("d",), lemmas=(ARCCOS,),
            notes="The reduction to the plane (rotation invariance of N(0, I)) is standard and only checked here for "
                  "a rotation of the plane; the sector is checked at its end points and midpoint (cos is positive on "
                  "an open interval of length pi centred at 0).",
            steps=(
                r"w = r(\cos\varphi, \sin\varphi),\ p(w)\,dw = \frac{1}{2\pi}e^{-r^2/2}\,r\,dr\,d\varphi",
                r"\operatorname{relu}'(w^\top x)\operatorname{relu}'(w^\top x') = 1 \iff \cos\varphi > 0,\ "
                r"\cos(\varphi - \theta) > 0 \iff \varphi \in (\theta - \tfrac{\pi}{2}, \tfrac{\pi}{2})",
                r"\mathbb{E}[\cdot] = \frac{1}{2\pi}\int_0^\infty r e^{-r^2/2}\,dr \int_{\theta - \pi/2}^{\pi/2}"
                r"d\varphi = \frac{1}{2\pi}\cdot 1\cdot(\pi - \theta)",
            ))
def _kappa0():
    total = _radial(0) * _sector(sp.Integer(1)) / (2 * sp.pi)
    al = sp.Symbol("alpha", real=True)
    R = sp.Matrix([[sp.cos(al), -sp.sin(al)], [sp.sin(al), sp.cos(al)]])
    w1, w2 = sp.symbols("w1 w2", real=True)
    wv = sp.Matrix([w1, w2])
    G = sc.GENERAL
    return [("the polar density integrates to 1: int_0^oo r e^{-r^2/2} dr * 2 pi / (2 pi) = 1",
             prove_equal(_radial(0) * 2 * sp.pi / (2 * sp.pi), 1), G),
            ("a rotation R of the plane keeps |w|^2 (the Gaussian density) and has det 1 (rotation invariance, "
             "an instance of the cited reduction)",
             combine([prove_equal(((R * wv).T * (R * wv))[0], w1 ** 2 + w2 ** 2), prove_equal(R.det(), 1)]),
             sc.lemma_check(ARCCOS, d=2)),
            ("the sector (theta - pi/2, pi/2): cos vanishes at pi/2, cos(. - theta) at theta - pi/2, length pi - theta",
             _sector_obligations(), G),
            ("(1/2pi) int_0^oo r e^{-r^2/2} dr int_sector dphi = (pi - theta)/(2 pi)", prove_equal(total, KAPPA0), G),
            ("theta = 0: kappa0 = 1/2; theta = pi: kappa0 = 0",
             combine([prove_equal(KAPPA0.subs(th, 0), sp.Rational(1, 2)), prove_zero(KAPPA0.subs(th, sp.pi))]), G)]


@derivation("ntk.arccos.kappa1",
            title="Arc-cosine kernel of degree 1: E[relu(w.x) relu(w.x')] = |x||x'|(sin t + (pi - t) cos t)/(2 pi)",
            latex=r"\mathbb{E}_{w\sim\mathcal N(0, I)}\big[\operatorname{relu}(w^\top x)\operatorname{relu}(w^\top x')\big]"
                  r" = \frac{\lVert x\rVert\,\lVert x'\rVert}{2\pi}\big(\sin\theta + (\pi - \theta)\cos\theta\big)",
            seed=SEED, primary=CHO_SAUL + " (eq. 6, n = 1); " + ARORA,
            assumptions=(INIT, PLANE, SECTOR, "x, x' != 0 (both sides are 0 when one of them is 0)",
                         "the reduction to the plane is lemma.ntk.arccos_cho_saul (cited)"),
            sizes=("d",), lemmas=(ARCCOS,),
            steps=(
                r"w^\top x = r\lVert x\rVert\cos\varphi,\quad w^\top x' = r\lVert x'\rVert\cos(\varphi - \theta)",
                r"\mathbb{E}[\cdot] = \frac{\lVert x\rVert\lVert x'\rVert}{2\pi}\int_0^\infty r^3 e^{-r^2/2}\,dr"
                r"\int_{\theta-\pi/2}^{\pi/2}\cos\varphi\cos(\varphi - \theta)\,d\varphi",
                r"\int_0^\infty r^3 e^{-r^2/2}dr = 2,\qquad \int_{\theta-\pi/2}^{\pi/2}\cos\varphi\cos(\varphi-\theta)\,"
                r"d\varphi = \frac{\sin\theta + (\pi - \theta)\cos\theta}{2}",
                r"\theta = 0:\ \mathbb{E}[\operatorname{relu}(w^\top x)^2] = \frac{\lVert x\rVert^2}{2}",
            ))
def _kappa1():
    ang = _sector(sp.cos(ph) * sp.cos(ph - th))
    total = nx * ny * _radial(2) * ang / (2 * sp.pi)
    G = sc.GENERAL
    return [("int_0^oo r^3 e^{-r^2/2} dr = 2", prove_equal(_radial(2), 2), G),
            ("int_sector cos(phi) cos(phi - theta) dphi = (sin theta + (pi - theta) cos theta)/2",
             prove_equal(ang, (sp.sin(th) + (sp.pi - th) * sp.cos(th)) / 2), G),
            ("E[relu(w.x) relu(w.x')] = |x||x'| (sin theta + (pi - theta) cos theta)/(2 pi)", prove_equal(total, KAPPA1), G),
            ("theta = 0: E[relu(w.x)^2] = |x|^2/2; theta = pi: 0",
             combine([prove_equal(KAPPA1.subs({th: 0, ny: nx}), nx ** 2 / 2), prove_zero(KAPPA1.subs(th, sp.pi))]), G)]


@derivation("ntk.analytic", title="The infinite-width NTK of the two-layer ReLU network",
            latex=r"\Theta(x, x') = \mathbb{E}_{w, a}\big[\operatorname{relu}(w^\top x)\operatorname{relu}(w^\top x') + "
                  r"a^2\operatorname{relu}'(w^\top x)\operatorname{relu}'(w^\top x')\,x^\top x'\big] = "
                  r"\frac{\lVert x\rVert\lVert x'\rVert}{2\pi}\big(\sin\theta + (\pi - \theta)\cos\theta\big) + "
                  r"x^\top x'\,\frac{\pi - \theta}{2\pi}",
            seed=SEED, primary=JACOT + " (Theorem 1); " + ARORA + " §4; " + CHO_SAUL,
            assumptions=(INIT, RELU0, "a independent of w, so E[a^2 H H] = E[a^2] E[H H] = kappa0",
                         "kappa0, kappa1 from ntk.arccos.* (lemma.ntk.arccos_cho_saul, cited)"),
            sizes=("d",), lemmas=(ARCCOS,),
            notes="On the diagonal Theta(x, x) = |x|^2/2 + |x|^2/2 = |x|^2.",
            steps=(
                r"\mathbb{E}[a^2] = \frac{1}{\sqrt{2\pi}}\int a^2 e^{-a^2/2}\,da = 1",
                r"\Theta = \kappa_1(x, x') + \mathbb{E}[a^2]\,\kappa_0(x, x')\,x^\top x',\qquad x^\top x' = "
                r"\lVert x\rVert\lVert x'\rVert\cos\theta",
                r"\Theta(x, x) = \frac{\lVert x\rVert^2}{2\pi}\pi + \lVert x\rVert^2\frac{\pi}{2\pi} = \lVert x\rVert^2",
            ))
def _analytic():
    Ea2 = _gauss_moment(2)
    expr = KAPPA1 + Ea2 * c * KAPPA0
    return [(d_, r_, sc.GENERAL) for d_, r_ in _analytic_obligations(Ea2, expr)]


def _analytic_obligations(Ea2, expr):
    return [("E[a^2] = 1 for a ~ N(0, 1)", prove_equal(Ea2, 1)),
            ("Theta = kappa1 + E[a^2] (x.x') kappa0 with x.x' = |x||x'| cos theta",
             prove_equal(expr.subs(c, nx * ny * sp.cos(th)), THETA)),
            ("the diagonal: Theta(x, x) = |x|^2", prove_equal(THETA.subs({th: 0, ny: nx}), nx ** 2)),
            ("orthogonal points: Theta = |x||x'|/(2 pi)", prove_equal(THETA.subs(th, sp.pi / 2), nx * ny / (2 * sp.pi))),
            ("antipodal points: Theta = 0", prove_zero(THETA.subs(th, sp.pi)))]


# ---------------------------------------------------------------- finite width: mean and variance

T, S = sp.symbols("Theta S", real=True)   # E[t_r], E[t_r^2]


def _iid_expectation(poly, ts):
    """E[poly(t_1..t_m)] for i.i.d. t_r with E t = Theta, E t^2 = S (poly of degree <= 2 in each, <= 2 overall)."""
    p = sp.Poly(sp.expand(poly), *ts)
    out = sp.Integer(0)
    for monom, coeff in p.terms():
        term = coeff
        for e in monom:
            term *= {0: 1, 1: T, 2: S}[e]
        out += term
    return out


@derivation("ntk.empirical.mean", title="The finite-width kernel is unbiased: E[K_m] = Theta for every width m",
            latex=r"K_m(x, x') = \frac{1}{m}\sum_{r=1}^m t_r,\ t_r \text{ i.i.d.},\ \mathbb{E}t_r = \Theta(x, x')"
                  r"\ \Rightarrow\ \mathbb{E}K_m(x, x') = \Theta(x, x')",
            seed=SEED, primary=JACOT + "; " + ARORA + " (the finite-width kernel as an average over hidden units)",
            assumptions=(INIT, "t_r = relu(w_r.x) relu(w_r.x') + a_r^2 relu'(w_r.x) relu'(w_r.x') x.x' "
                               "(ntk.empirical.definition), i.i.d. over r, E t_r = Theta (ntk.analytic)",
                         "symbolic width m"), sizes=("m",), lemmas=(EXPECTATION,),
            steps=(
                r"\mathbb{E}K_m = \frac{1}{m}\sum_{r=1}^m \mathbb{E}t_r = \frac{1}{m}\,m\,\Theta = \Theta",
            ))
def _mean():
    mm = sp.Symbol("m", positive=True, integer=True)
    rr = sp.Symbol("r", positive=True, integer=True)
    return [("symbolic m: E[(1/m) sum_r t_r] = (1/m) sum_{r=1}^m E t_r = (1/m) sum_{r=1}^m Theta = Theta",
             prove_equal(sp.summation(T, (rr, 1, mm)) / mm, T), sc.GENERAL)]


@derivation("ntk.empirical.variance", title="The finite-width kernel's variance is v/m, v the single-unit variance "
                                            "(in closed form)",
            latex=r"\operatorname{Var}K_m(x, x') = \frac{v(x, x')}{m},\quad v = \mathbb{E}t^2 - \Theta^2,\quad "
                  r"\mathbb{E}t^2 = M_{22} + 2\,x^\top x'\,\kappa_1 + 3\,(x^\top x')^2\kappa_0,\quad "
                  r"M_{22} = \frac{\lVert x\rVert^2\lVert x'\rVert^2}{2\pi}\Big((\pi - \theta)(2 + \cos 2\theta) + "
                  r"\tfrac32\sin 2\theta\Big)",
            seed=SEED, primary=JACOT + "; " + ARORA + " (concentration of the finite-width kernel); " + CHO_SAUL,
            assumptions=(INIT, PLANE, SECTOR, "t_r i.i.d. as in ntk.empirical.mean",
                         "relu(u) relu'(u) = relu(u) and relu'(u)^2 = relu'(u) (H(0) = 0 or 1 alike: relu(0) = 0)",
                         "symbolic width m; the plane reduction is lemma.ntk.arccos_cho_saul (cited)"),
            sizes=("m", "d"), lemmas=(ARCCOS,),
            notes="So |K_m - Theta| = O(1/sqrt(m)), with the explicit constant sqrt(v). On the diagonal v = 3|x|^4 "
                  "(E t^2 = 4|x|^4, Theta = |x|^2). The properties use v for Chebyshev's inequality per group of a "
                  "median of means (properties/ntk.py).",
            steps=(
                r"\operatorname{Var}\frac{1}{m}\sum_r t_r = \frac{1}{m^2}\sum_{r, s}\operatorname{Cov}(t_r, t_s) = "
                r"\frac{1}{m^2}\,m\,v = \frac{v}{m}\quad(\text{independence: } \operatorname{Cov}(t_r, t_s) = 0,\ r \ne s)",
                r"t^2 = \operatorname{relu}(u)^2\operatorname{relu}(u')^2 + 2a^2\operatorname{relu}(u)\operatorname{relu}(u')"
                r"\,x^\top x' + a^4 H(u)H(u')(x^\top x')^2,\quad u = w^\top x,\ u' = w^\top x'",
                r"\mathbb{E}a^2 = 1,\ \mathbb{E}a^4 = 3:\quad \mathbb{E}t^2 = M_{22} + 2\,x^\top x'\,\kappa_1 + "
                r"3\,(x^\top x')^2\kappa_0",
                r"M_{22} = \frac{\lVert x\rVert^2\lVert x'\rVert^2}{2\pi}\int_0^\infty r^5e^{-r^2/2}dr"
                r"\int_{\theta-\pi/2}^{\pi/2}\cos^2\varphi\cos^2(\varphi-\theta)\,d\varphi,\quad \int_0^\infty r^5 "
                r"e^{-r^2/2}dr = 8",
            ))
def _variance():
    from .indexed import index, prove_entry_equal
    mm = sp.Symbol("m", integer=True, positive=True)
    rr, qq = index("r"), index("q")
    vv = sp.Symbol("v", nonnegative=True)
    # Var((1/m) sum_r t_r) = (1/m^2) sum_{r, q} Cov(t_r, t_q), Cov(t_r, t_q) = delta_rq v (independent, identical)
    var_m = sp.Sum(sp.Sum(sp.KroneckerDelta(rr, qq) * vv, (qq, 0, mm - 1)), (rr, 0, mm - 1)) / mm ** 2
    # the single unit: t^2 expanded with the ReLU identities, the a-moments integrated
    u, up, a_, Hu, Hup = sp.symbols("u u' a H_u H_u'", real=True)
    R, Rp = sp.symbols("R R'", nonnegative=True)  # relu(u), relu(u')
    t = R * Rp + a_ ** 2 * Hu * Hup * c
    t2 = sp.expand(t ** 2)
    # relu(u) H(u) = relu(u), H^2 = H: reduce, then E over a (independent): a^2 -> 1, a^4 -> 3
    t2_reduced = t2.subs({Hu ** 2: Hu, Hup ** 2: Hup}).subs({R * Hu: R, Rp * Hup: Rp})
    Ea2, Ea4 = _gauss_moment(2), _gauss_moment(4)
    moment_form = t2_reduced.subs({a_ ** 4: Ea4}).subs({a_ ** 2: Ea2})
    sym_M22, sym_K1, sym_K0 = sp.symbols("M22 K1 K0", real=True)
    mapped = moment_form.subs({R ** 2 * Rp ** 2: sym_M22}).subs({R * Rp: sym_K1}).subs({Hu * Hup: sym_K0})
    ang = _sector(sp.cos(ph) ** 2 * sp.cos(ph - th) ** 2)
    m22 = nx ** 2 * ny ** 2 * _radial(4) * ang / (2 * sp.pi)
    return [(d_, r_, sc.GENERAL) for d_, r_ in [
            ("symbolic m: Var[(1/m) sum_r t_r] = (1/m^2) sum_{r,q} delta_rq v = v/m, v = S - Theta^2",
             prove_entry_equal(var_m, vv / mm, {rr: mm})),
            ("t^2 = R^2 R'^2 + 2 a^2 R R' x.x' + a^4 H H' (x.x')^2 after relu H = relu, H^2 = H",
             prove_equal(t2_reduced, R ** 2 * Rp ** 2 + 2 * a_ ** 2 * R * Rp * c + a_ ** 4 * Hu * Hup * c ** 2)),
            ("E[a^4] = 3 for a ~ N(0, 1)", prove_equal(Ea4, 3)),
            ("E t^2 = M22 + 2 x.x' kappa1 + 3 (x.x')^2 kappa0",
             prove_equal(mapped, sym_M22 + 2 * c * sym_K1 + 3 * c ** 2 * sym_K0)),
            ("int_0^oo r^5 e^{-r^2/2} dr = 8", prove_equal(_radial(4), 8)),
            ("M22 = |x|^2|x'|^2 ((pi - theta)(2 + cos 2theta) + (3/2) sin 2theta)/(2 pi)", prove_equal(m22, M22)),
            ("theta = 0: M22 = (3/2)|x|^4 = E[relu(u)^4]; E t^2 = 4|x|^4; v = 3|x|^4",
             combine([prove_equal(M22.subs({th: 0, ny: nx}), sp.Rational(3, 2) * nx ** 4),
                      prove_equal(SECOND_MOMENT.subs({th: 0, ny: nx}), 4 * nx ** 4),
                      prove_equal(UNIT_VARIANCE.subs({th: 0, ny: nx}), 3 * nx ** 4)])),
            ("theta = pi/2: v = |x|^2|x'|^2 (1/4 - 1/(4 pi^2)) > 0",
             combine([prove_equal(UNIT_VARIANCE.subs(th, sp.pi / 2), nx ** 2 * ny ** 2 * (sp.Rational(1, 4)
                                                                                        - 1 / (4 * sp.pi ** 2))),
                      prove_true(sp.Gt(sp.Rational(1, 4) - 1 / (4 * sp.pi ** 2), 0))]))]]


# ---------------------------------------------------------------- positive semi-definiteness

@derivation("ntk.psd", title="The empirical NTK is a Gram matrix (PSD); Theta is PSD as an expectation of PSD kernels",
            latex=r"K = J J^\top,\ J_{i\cdot} = \nabla_\theta f(x_i)^\top:\ c^\top K c = \lVert J^\top c\rVert^2 \ge 0;"
                  r"\qquad c^\top \Theta\, c = \mathbb{E}\Big[\big\lVert \textstyle\sum_i c_i\, g(x_i)\big\rVert^2\Big] \ge 0",
            seed=SEED, primary=JACOT + " (§4: the NTK is positive semi-definite); " + CHO_SAUL,
            assumptions=(NET, INIT, "K_1(x, x') = g(x)^T g(x') the kernel of one draw, g = grad_theta f (P real entries); "
                                    "Theta = E K_1; expectation is linear and monotone "
                                    "(lemma.prob.expectation_linear_monotone, cited)",
                         "n points x_1..x_n and P parameters, both symbolic"),
            sizes=("n", "P"), lemmas=(EXPECTATION,),
            notes="Proved for every number of points n and parameters P from the cited linearity and monotonicity of "
                  "the expectation: sum_ij c_i c_j K_1(x_i, x_j) = ||sum_i c_i g(x_i)||^2 >= 0 for every draw (a finite "
                  "Sum identity at symbolic n, P), and c^T Theta c = E[that] >= 0. Example (a test): for n = 2 at "
                  "theta = pi/2, det Theta = |x|^2|x'|^2 (1 - 1/(4 pi^2)) > 0. Strict positive definiteness of Theta "
                  "on distinct non-parallel points (Jacot et al., Prop. 2 on the sphere) is not claimed here.",
            steps=(
                r"K_{ij} = \langle \nabla_\theta f(x_i), \nabla_\theta f(x_j)\rangle = (J J^\top)_{ij}",
                r"c^\top J J^\top c = (J^\top c)^\top (J^\top c) = \lVert J^\top c\rVert^2 \ge 0",
                r"\sum_{i,j=1}^{n} c_i c_j \sum_{p=1}^{P} g_p(x_i) g_p(x_j) = \sum_{p=1}^{P}\Big(\sum_{i=1}^{n} c_i\, g_p(x_i)\Big)^2 \ge 0",
                r"\Theta = \mathbb{E}K_1\ (\texttt{ntk.empirical.mean}),\ c^\top\Theta c = \mathbb{E}[c^\top K_1 c] \ge 0"
                r"\ (\text{linearity, monotonicity})",
            ))
def _psd():
    ps = sp.symbols("p1:4", nonnegative=True)
    Ks = [sp.Matrix(2, 2, sp.symbols(f"k{i}_1:5", real=True)) for i in range(3)]
    c2 = sp.Matrix(sp.symbols("c1:3", real=True))
    mix = sum((p * Kk for p, Kk in zip(ps, Ks)), sp.zeros(2, 2))
    ns, Ps = sp.symbols("n P", integer=True, positive=True)
    JS, cS = sp.MatrixSymbol("J", ns, Ps), sp.MatrixSymbol("c", ns, 1)
    gram = sp.MatMul(cS.T, JS, JS.T, cS).doit()
    sq = sp.MatMul(sp.Transpose(sp.MatMul(JS.T, cS)), sp.MatMul(JS.T, cS)).doit()
    sym = sp.Transpose(sp.MatMul(JS, JS.T)).doit()
    structural = ProofResult("proved", "structural (MatrixSymbol, symbolic n, P)",
                             "equal after (AB)^T = B^T A^T and associativity")
    # entry-wise at symbolic n points and P parameters: G[i, p] = g_p(x_i) real, c_i real
    G, c = sp.IndexedBase("G", real=True), sp.IndexedBase("c", real=True)
    i, j, p = (sp.Dummy(v, integer=True) for v in "ijp")
    quad = sp.Sum(c[i] * c[j] * sp.Sum(G[i, p] * G[j, p], (p, 0, Ps - 1)), (i, 0, ns - 1), (j, 0, ns - 1))
    prod = sp.Sum(sp.Sum(c[i] * G[i, p], (i, 0, ns - 1)) * sp.Sum(c[j] * G[j, p], (j, 0, ns - 1)), (p, 0, Ps - 1))
    norm2 = sp.Sum(sp.Sum(c[i] * G[i, p], (i, 0, ns - 1)) ** 2, (p, 0, Ps - 1))
    square = (ProofResult("proved", "structural (alpha-renaming)", "the two inner sums differ only in their bound index")
              if canonical(prod) == canonical(norm2) else ProofResult("undecided", "none", "the inner sums differ"))
    return [("symbolic n, P: K = J J^T is symmetric, (J J^T)^T = J J^T",
             structural if sym == sp.MatMul(JS, JS.T) else prove_equal(sym, sp.MatMul(JS, JS.T)), sc.GENERAL),
            ("symbolic n, P: c^T J J^T c = (J^T c)^T (J^T c) = ||J^T c||^2 >= 0",
             structural if gram == sq else ProofResult("undecided", "none", "MatrixSymbol forms differ"), sc.GENERAL),
            ("symbolic n points, P parameters, one draw: sum_ij c_i c_j g(x_i)^T g(x_j) = "
             "sum_p (sum_i c_i g_p(x_i)) (sum_j c_j g_p(x_j))", prove_sums_equal(quad, prod, None), sc.GENERAL),
            ("symbolic n, P: that is sum_p (sum_i c_i g_p(x_i))^2 >= 0 (a finite sum of squares of reals)",
             combine([square, prove_true(sp.Ge(norm2, 0))]), sc.GENERAL),
            ("expectation is linear: c^T (sum p_i K_i) c = sum p_i c^T K_i c (each term >= 0 for PSD K_i, p_i >= 0)",
             prove_equal((c2.T * mix * c2)[0], sum(p_ * (c2.T * Kk * c2)[0] for p_, Kk in zip(ps, Ks))),
             sc.lemma_check(EXPECTATION, n=2))]


# ---------------------------------------------------------------- the statistical check: median of means

#: the statistical property's constants (properties/ntk.py): G groups, Chebyshev level p per group
MOM_GROUPS = 15
MOM_P = sp.Rational(1, 53)
MOM_ALPHA = sp.Rational(1, 10 ** 10)


def binomial_tail(G: int, p, k0: int):
    """P(Bin(G, p) >= k0), exactly."""
    return sum(sp.binomial(G, k) * p ** k * (1 - p) ** (G - k) for k in range(k0, G + 1))


@derivation("ntk.concentration.median_of_means",
            title="Median of G group kernels: Chebyshev per group, a binomial tail for the median",
            latex=r"P\big(|K^{(g)} - \Theta| > t\big) \le \frac{v}{m_g t^2} = p \text{ at } t = \sqrt{\frac{v}{m_g\,p}};"
                  r"\quad P\big(|\operatorname{med}_g K^{(g)} - \Theta| > t\big) \le P\big(\mathrm{Bin}(G, p) \ge "
                  r"\lceil G/2\rceil\big);\quad G = 15,\ p = \tfrac{1}{53}:\ \le 10^{-10}",
            seed=SEED, primary="Chebyshev's inequality; Nemirovsky & Yudin (1983), Problem Complexity and Method "
                               "Efficiency in Optimization, Wiley (median of means); Lugosi & Mendelson (2019), Mean "
                               "estimation and regression under heavy-tailed distributions, Found. Comput. Math. 19",
            assumptions=(INIT, "G groups of m_g units each, disjoint, so the group kernels K^(g) are independent, each "
                               "with mean Theta and variance v/m_g (ntk.empirical.mean, ntk.empirical.variance)",
                         "Chebyshev's inequality and the median-of-means reduction (cited lemmas)",
                         "if the median (the middle value for odd G) is > Theta + t, at least ceil(G/2) groups are "
                         "> Theta + t (likewise below): the count of deviating groups is Binomial(G, q), q <= p"),
            notes="The per-unit terms are Gaussian products (unbounded), so Hoeffding does not apply; Chebyshev needs "
                  "only the exact variance v. G = 15 and p = 1/53 minimize the threshold's constant sqrt(G/p) among "
                  "odd G <= 15 at level 1e-10 (t = sqrt(53 v/m_g), m_g = 2048: t = 0.161 sqrt(v)).",
            sizes=(), lemmas=(CHEBYSHEV, MEDIAN_OF_MEANS),
            steps=(
                r"\text{Chebyshev: } P(|K^{(g)} - \Theta| > t) \le \frac{\operatorname{Var}K^{(g)}}{t^2} = "
                r"\frac{v}{m_g t^2} = p",
                r"|\operatorname{med} - \Theta| > t \Rightarrow \#\{g : |K^{(g)} - \Theta| > t\} \ge \lceil G/2\rceil",
                r"P \le \sum_{k = 8}^{15}\binom{15}{k}\Big(\frac{1}{53}\Big)^k\Big(\frac{52}{53}\Big)^{15 - k} "
                r"\approx 9.18\cdot 10^{-11} \le 10^{-10}",
            ))
def _median_of_means():
    v, mg, p, t = sp.symbols("v m_g p t", positive=True)
    tt = sp.sqrt(v / (mg * p))
    tail = binomial_tail(MOM_GROUPS, MOM_P, (MOM_GROUPS + 1) // 2)
    q = sp.Symbol("q", positive=True)
    # the tail is increasing in the per-group probability q: its derivative is G C(G-1, k0-1) q^(k0-1) (1-q)^(G-k0)
    k0 = (MOM_GROUPS + 1) // 2
    dtail = sp.diff(binomial_tail(MOM_GROUPS, q, k0), q)
    return [("Chebyshev's level at t = sqrt(v/(m_g p)) is v/(m_g t^2) = p", prove_equal(v / (mg * tt ** 2), p)),
            ("G = 15, p = 1/53: P(Bin(15, p) >= 8) <= 1e-10 (exact rationals)", prove_true(sp.Le(tail, MOM_ALPHA))),
            ("d/dq P(Bin(15, q) >= 8) = 15 C(14, 7) q^7 (1 - q)^7 >= 0: a smaller per-group probability gives a "
             "smaller tail", prove_equal(dtail, MOM_GROUPS * sp.binomial(MOM_GROUPS - 1, k0 - 1) * q ** (k0 - 1)
                                         * (1 - q) ** (MOM_GROUPS - k0)))]
