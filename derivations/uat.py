"""Universal approximation, constructively: a one-hidden-layer ReLU network that is the piecewise-linear
interpolant (its unit count and its C^2 error bound), and steep sigmoids approaching steps (an explicit rate).

Grid: x_k = a + k h, h = (b - a)/N, k = 0..N. Network: g(x) = f(x_0) + sum_{k=0}^{N-1} c_k relu(x - x_k) with
s_k = (f_{k+1} - f_k)/h, c_0 = s_0, c_k = s_k - s_{k-1}: w1 = 1, b1 = -x_k, w2 = c, b2 = f_0
(impl/numpy_ref/uat.py builds it).

Route: on cell k write x = x_k + s h (0 <= s <= 1); the signs of x - x_j are explicit ((k - j + s) h >= 0 for
j <= k, -((j - k - 1) + (1 - s)) h <= 0 for j > k), so g is a polynomial in s on each cell, compared with the
linear interpolant f_k + s (f_{k+1} - f_k) (explicit N = 4, symbolic values). The error bound: the exact identity
(x - x_k)(x - x_{k+1}) + h^2/4 = (x - x_k - h/2)^2 and the Peano-kernel form of the interpolation error (checked
exactly for a generic quartic); the Rolle remainder is cited. Sigmoids: exact identities in e^{k|x|}.

Seed: 深度学习数学模块 · 01-Universal-Approximation-Theorem.md (通用逼近定理). Primary: Cybenko (1989); Hornik (1991);
Leshno, Lin, Pinkus & Schocken (1993); de Boor (2001).
"""
from __future__ import annotations

import sympy as sp

from .functions import relu, sigmoid
from .prove import combine, prove_equal, prove_positive, prove_true, prove_zero
from .registry import derivation

SEED = "seed: 深度学习数学模块 · 01-Universal-Approximation-Theorem.md (通用逼近定理)"
CYBENKO = "Cybenko (1989), Approximation by superpositions of a sigmoidal function, Math. Control Signals Systems 2:303-314"
HORNIK = "Hornik (1991), Approximation capabilities of multilayer feedforward networks, Neural Networks 4(2):251-257"
LESHNO = ("Leshno, Lin, Pinkus & Schocken (1993), Multilayer feedforward networks with a nonpolynomial activation "
          "function can approximate any function, Neural Networks 6(6):861-867")
DE_BOOR = "de Boor (2001), A Practical Guide to Splines, rev. ed., Springer, ch. II (broken-line interpolation, (2.2)-(2.5))"
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
            assumptions=(GRID, NET, "proved for N = 4 with symbolic values f_0..f_4, on every cell"),
            notes="So g(x_k) = f(x_k) at every grid point (s = 0 and s = 1 of adjacent cells agree) and g is linear on "
                  "each cell with slope s_k. Left of a, g = f_0; right of b the last piece continues.",
            steps=(
                r"x = x_k + s h,\ 0 \le s \le 1:\quad x - x_j = (k - j + s) h \ge 0\ (j \le k),\qquad "
                r"x - x_j = -\big((j - k - 1) + (1 - s)\big) h \le 0\ (j > k)",
                r"g(x) = f_0 + \sum_{j \le k} c_j (x - x_j),\qquad \frac{dg}{dx} = \sum_{j \le k} c_j = s_k "
                r"\ (\text{telescoping})",
                r"g(x_k + s h) = f_k + s\,(f_{k+1} - f_k)",
            ))
def _interpolant():
    N = 4
    fs = list(sp.symbols(f"f0:{N + 1}", real=True))
    xk, cs, g = construction(fs)
    sp_ = sp.Symbol("sp", nonnegative=True)   # 1 - s
    signs = []
    for k in range(N):
        for j in range(N):
            if j <= k:
                d = (xk[k] + s * h) - xk[j]
                signs.append(prove_equal(d, (k - j + s) * h))
                signs.append(prove_true(sp.Eq(relu(((k - j) + s) * h), ((k - j) + s) * h)))
            else:
                d = (xk[k + 1] - sp_ * h) - xk[j]
                signs.append(prove_equal(d, -((j - k - 1) + sp_) * h))
                signs.append(prove_true(sp.Eq(relu(-((j - k - 1) + sp_) * h), 0)))
    cells = [prove_equal(_on_cell(fs, k), fs[k] + s * (fs[k + 1] - fs[k])) for k in range(N)]
    telescope = [prove_equal(sum(cs[: k + 1]), (fs[k + 1] - fs[k]) / h) for k in range(N)]
    w1, b1 = [1] * N, [-xk[k] for k in range(N)]
    net = sum(cs[k] * relu(w1[k] * x + b1[k]) for k in range(N)) + fs[0]
    return [("N = 4, every cell k and unit j: x - x_j = (k - j + s) h >= 0 (j <= k) or -((j-k-1) + (1-s)) h <= 0 "
             "(j > k), so relu(x - x_j) = x - x_j or 0", combine(signs)),
            ("N = 4: on cell k, the slope c_0 + ... + c_k = s_k (telescoping)", combine(telescope)),
            ("N = 4: on cell k, g(x_k + s h) = f_k + s (f_{k+1} - f_k) (the linear interpolant)", combine(cells)),
            ("N = 4: at the grid points g(x_k) = f_k (s = 0 of cell k, and s = 1 of cell N-1 for x_N)",
             combine([prove_equal(_on_cell(fs, k).subs(s, 0), fs[k]) for k in range(N)]
                     + [prove_equal(_on_cell(fs, N - 1).subs(s, 1), fs[N])])),
            ("the network w2 . relu(w1 x + b1) + b2 with w1 = 1, b1 = -x_k, w2 = c, b2 = f_0 is g",
             prove_equal(net, g))]


@derivation("uat.relu.units", title="N hidden units suffice for N cells, and N - 1 do not (for generic data)",
            latex=r"\#\text{units} = N:\ \operatorname{rank}\big[1,\ \operatorname{relu}(x_i - x_k)\big]_{i = 0..N,\ "
                  r"k = 0..N-1} = N + 1;\quad N - 1 \text{ units with kinks at } x_1..x_{N-1}:\ \operatorname{rank} "
                  r"\le N < N + 1",
            seed=SEED, primary=LESHNO + "; " + DE_BOOR,
            assumptions=(GRID, NET, "proved for N = 3: the 4 grid values are matched for all data with 3 units "
                                    "(an invertible 4 x 4 system), and not with 2 units of any orientation"),
            notes="Counting: the interpolant of generic data has N - 1 kinks (at x_1..x_{N-1}); a unit "
                  "c relu(w x + b) has at most one kink, so >= N - 1 units must sit there, and with exactly N - 1 "
                  "(each relu(+-(x - x_j))) the functions reachable on [a, b] span only N dimensions of the N + 1 "
                  "grid values. A unit at x_N would be 0 on [a, b]: N is the count.",
            steps=(
                r"V_{ik} = \operatorname{relu}(x_i - x_k) = (i - k)_+ h:\ [\mathbf 1, V] \text{ lower triangular with "
                r"diagonal } (1, h, \ldots, h)",
                r"\det[\mathbf 1, V] = h^N \ne 0\ \Rightarrow\ \text{every } (f_0..f_N) \text{ is matched by } N \text{ units}",
                r"N - 1 \text{ units } \sigma_j \operatorname{relu}(\pm(x - x_j)),\ j = 1..N-1:\ [\mathbf 1, V'] "
                r"\text{ has } N \text{ columns: rank} \le N < N + 1",
            ))
def _units():
    N = 3
    xk = [a_ + k * h for k in range(N + 1)]
    M = sp.Matrix(N + 1, N + 1, lambda i, k: 1 if k == 0 else relu(xk[i] - xk[k - 1]))
    out = [("N = 3: the 4 x 4 matrix [1, relu(x_i - x_k)] has det h^3 != 0 (every data vector is matched)",
            combine([prove_equal(M.det(), h ** N), prove_positive(h ** N)])),
           ("the construction uses N hidden units (one per cell): len(w1) = N = 3", prove_equal(len(construction(
               list(sp.symbols("f0:4", real=True)))[1]), N))]
    ranks = []
    for o1 in (1, -1):
        for o2 in (1, -1):
            V = sp.Matrix(N + 1, N, lambda i, j: 1 if j == 0 else relu(sp.expand((o1 if j == 1 else o2)
                                                                                  * (xk[i] - xk[j]))))
            ranks.append(prove_true(sp.Eq(V.rank(), N)))
    out.append(("N = 3, 2 units at x_1, x_2 of any orientation relu(+-(x - x_j)): the grid values span rank 3 < 4",
                combine(ranks)))
    return out


@derivation("uat.relu.error_bound", title="Error of the ReLU interpolant: sup|f - g| <= h^2 max|f''|/8 = "
                                          "(b - a)^2 max|f''|/(8 N^2), attained by quadratics",
            latex=r"f \in C^2[a, b]:\ \sup_{[a, b]}|f - g| \le \frac{h^2}{8}\max_{[a, b]}|f''| = "
                  r"\frac{(b - a)^2}{8N^2}\max_{[a, b]}|f''|;\qquad f = \alpha x^2 + \beta x + \gamma:\ "
                  r"|f - g|\big(x_k + \tfrac h2\big) = \frac{h^2}{8}|f''|",
            seed=SEED, primary=DE_BOOR + "; " + CYBENKO + " (existence only; this is the constructive rate in 1-D)",
            assumptions=(GRID, NET, "f in C^2[a, b]", "g = the linear interpolant on each cell (uat.relu.interpolant)",
                         "the Peano-kernel (integration by parts twice) form of the error, checked exactly for a "
                         "generic quartic; for C^2 f it is the standard remainder (cited, de Boor)"),
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
    return [("the error vanishes at both ends of the cell: e(x_k) = e(x_{k+1}) = 0 (quartic f)",
             combine([prove_zero((f(x) - L).subs(x, xk)), prove_zero((f(x) - L).subs(x, x1))])),
            ("Peano kernel, generic quartic f: f(x) - L(x) = -int G(x, t) f''(t) dt",
             prove_equal(f(x) - L, -kernel)),
            ("int G(x, t) dt = (x - x_k)(x_{k+1} - x)/2 (G >= 0: products of non-negative factors on the cell)",
             prove_equal(intG, (x - xk) * (x1 - x) / 2)),
            ("(x - x_k)(x - x_{k+1}) + h^2/4 = (x - x_k - h/2)^2 >= 0, so |(x - x_k)(x - x_{k+1})| <= h^2/4 on the "
             "cell, with equality at the midpoint", combine([prove_equal(p + h ** 2 / 4, (x - xk - h / 2) ** 2),
                                                            prove_equal(p.subs(x, xk + h / 2), -h ** 2 / 4)])),
            ("quadratic f: e(x) = alpha (x - x_k)(x - x_{k+1}) = (f''/2)(x - x_k)(x - x_{k+1}) exactly",
             prove_equal(eq, sp.diff(quad(x), x, 2) / 2 * p)),
            ("quadratic f at the midpoint: |e| = |alpha| h^2/4 = h^2 |f''|/8 (the bound is attained)",
             prove_equal(eq.subs(x, xk + h / 2) ** 2, (h ** 2 * sp.diff(quad(x), x, 2) / 8) ** 2)),
            ("h = (b - a)/N: h^2/8 = (b - a)^2/(8 N^2)", prove_equal((((b_ - a_) / N) ** 2) / 8,
                                                                    (b_ - a_) ** 2 / (8 * N ** 2)))]


@derivation("uat.sigmoid.step", title="Steep sigmoids approach the step: |sigma(k x) - H(x)| = 1/(1 + e^{k|x|}) <= "
                                      "e^{-k|x|}",
            latex=r"x \ne 0:\ \big|\sigma(kx) - H(x)\big| = \frac{1}{1 + e^{k|x|}} \le e^{-k|x|};\quad "
                  r"\sup_{|x| \ge \delta}\big|\sigma(kx) - H(x)\big| \le e^{-k\delta};\quad \sigma(0) = \tfrac12\ "
                  r"\forall k",
            seed=SEED, primary=CYBENKO + " (sigmoidal functions: sigma(kx) -> H(x) as k -> oo)",
            assumptions=("k > 0", "H(x) = 1 for x > 0, 0 for x < 0, H(0) = 0 (as relu'(0) = 0)"),
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
                         "proved for J = 2 (the identity); the triangle inequality and uat.sigmoid.step per term"),
            notes="J hidden units (one per jump): w1 = k, b1 = -k t_j, w2 = Delta, b2 = v_0 "
                  "(impl/numpy_ref/uat.sigmoid_step_network).",
            steps=(
                r"g_k(x) - s(x) = \sum_j \Delta_j\big(\sigma(k(x - t_j)) - H(x - t_j)\big)",
                r"|g_k(x) - s(x)| \le \sum_j |\Delta_j|\,e^{-k|x - t_j|} \le \Big(\sum_j |\Delta_j|\Big) e^{-k\delta}",
            ))
def _step_network():
    k = sp.Symbol("k", positive=True)
    v0, v1, v2 = sp.symbols("v0:3", real=True)
    t1, t2 = sp.symbols("t1 t2", real=True)
    H1, H2 = sp.symbols("H1 H2", real=True)  # H(x - t_1), H(x - t_2)
    s_ = v0 + (v1 - v0) * H1 + (v2 - v1) * H2
    g = v0 + (v1 - v0) * sigmoid(k * (x - t1)) + (v2 - v1) * sigmoid(k * (x - t2))
    y = sp.Symbol("y", positive=True)
    return [("J = 2: g - s = sum_j Delta_j (sigma(k (x - t_j)) - H(x - t_j))",
             prove_equal(g - s_, (v1 - v0) * (sigmoid(k * (x - t1)) - H1) + (v2 - v1) * (sigmoid(k * (x - t2)) - H2))),
            ("J = 2, x between the jumps (H1 = 1, H2 = 0): s = v_1", prove_equal(s_.subs({H1: 1, H2: 0}), v1)),
            ("each term: |sigma(k y) - H(y)| = 1/(1 + e^{k|y|}) (uat.sigmoid.step)",
             combine([prove_equal(1 - sigmoid(k * y), 1 / (1 + sp.exp(k * y))),
                      prove_equal(sigmoid(-k * y), 1 / (1 + sp.exp(k * y)))]))]


#: the bound of uat.relu.error_bound as the tests evaluate it: sup|f - g| <= (b - a)^2 M2/(8 N^2), M2 = max|f''|
M2, N_UNITS, B_END = sp.Symbol("M2", nonnegative=True), sp.Symbol("N", positive=True, integer=True), sp.Symbol("b", real=True)
ERROR_BOUND = (B_END - a_) ** 2 * M2 / (8 * N_UNITS ** 2)
#: the rate of uat.sigmoid.step on {|x| >= delta}
K_STEEP, DELTA = sp.Symbol("k", positive=True), sp.Symbol("delta", positive=True)
STEP_RATE = sp.exp(-K_STEEP * DELTA)
