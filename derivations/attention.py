"""Softmax, scaled dot-product attention (with the causal mask) and multi-head attention: definitions, exact
gradients, the softmax Jacobian's structure, and the variance argument for the 1/sqrt(d) scale.

Conventions (batch rows in code, column vectors in the math; numerator layout J[i, j] = ds_i/dx_j):

    softmax(x)_i = exp(x_i) / sum_j exp(x_j)                       (over the last axis)
    S = Q K^T / sqrt(d) + M,   P = softmax(S) row-wise,   Y = P V   Q (Tq, d), K (Tk, d), V (Tk, dv)
    M[i, j] = -inf for j > i when causal (top-left aligned, torch's is_causal), else 0
    MHA: Q_h = X_q W_q[h]^T + b_q[h] (rows h E/H .. (h+1) E/H of W_q; likewise K_h, V_h), head_h = attention,
         Y = concat_h(head_h) W_o^T + b_o.

Gradients of L = <dY, Y> (the hand-written NumPy backward):
    dV = P^T dY,  dP = dY V^T,  dS = P (dP - rowsum(dP P)),  dQ = dS K / sqrt(d),  dK = dS^T Q / sqrt(d).

Route: explicit small sizes (softmax n = 3, 4; attention Tq = Tk = d = 2, dv = 1 or 2; causal Tq = Tk = 3).
Every exp(.) is kept as an atom, so each identity is a rational identity in the exponentials (the prover's
polynomial / rational / exp-rational tiers); the causal mask enters as exp(s - oo) = 0. Expectations in
attn.scale.variance are sums over monomials with E[x] = 0, E[x^2] = 1 for independent entries.

Seed: 深度学习数学模块 · 06-Attention-Mechanism.md (注意力机制). Primary: Vaswani et al. (2017), §3.2;
Bridle (1990) for softmax; torch docs for is_causal and torch.nn.MultiheadAttention.
"""
from __future__ import annotations

import dataclasses

import sympy as sp

from .prove import combine, prove_equal, prove_positive, prove_true, prove_zero
from .registry import derivation

SEED = "seed: 深度学习数学模块 · 06-Attention-Mechanism.md (注意力机制)"
VASWANI = ("Vaswani, Shazeer, Parmar, Uszkoreit, Jones, Gomez, Kaiser & Polosukhin (2017), Attention is all you "
           "need, NeurIPS, §3.2 (scaled dot-product attention, multi-head attention)")
VASWANI_SCALE = VASWANI + ", §3.2.1 footnote 4 (q.k has mean 0 and variance d_k for independent unit-variance entries)"
BRIDLE = ("Bridle (1990), Probabilistic interpretation of feedforward classification network outputs, with "
          "relationships to statistical pattern recognition, Neurocomputing (NATO ASI F68), 227-236 (softmax)")
TORCH_SDPA = ("torch.nn.functional.scaled_dot_product_attention docs: scale 1/sqrt(E), is_causal masks with "
              "tril(ones(L, S)) (top-left aligned)")
TORCH_MHA = ("torch.nn.MultiheadAttention docs / source: in_proj_weight = [W_q; W_k; W_v] (3E, E), head h takes "
             "rows h E/H .. (h+1) E/H, out_proj")

ROWS = "row-wise over the last axis"
REAL = "x real (finite)"
POS = "s_i > 0, sum_i s_i = 1 (a softmax output)"

x_sym = sp.symbols("x1:5", real=True)
c_sym = sp.Symbol("c", real=True)


def softmax(xs):
    """The softmax of a tuple of SymPy expressions, as a list."""
    e = [sp.exp(v) for v in xs]
    Z = sum(e)
    return [ei / Z for ei in e]


def _q(e):
    return prove_zero(e, use_simplify=False)


def _qx(e):
    """prove_zero after expanding exp(a + b) = exp(a) exp(b)."""
    return prove_zero(sp.expand(e, power_exp=True, mul=False, multinomial=False), use_simplify=False)


# ---------------------------------------------------------------- softmax

@derivation("attn.softmax.definition", kind="definition", title="Softmax",
            latex=r"\mathrm{softmax}(x)_i = \frac{e^{x_i}}{\sum_j e^{x_j}},\qquad "
                  r"\mathrm{softmax}(x)_i > 0,\ \sum_i \mathrm{softmax}(x)_i = 1",
            seed=SEED, primary=BRIDLE, assumptions=(REAL, ROWS, "n >= 1 entries"),
            steps=(
                r"s_i = \frac{e^{x_i}}{Z},\quad Z = \sum_{j=1}^n e^{x_j} > 0",
                r"\sum_i s_i = \frac{\sum_i e^{x_i}}{Z} = 1,\qquad s_i > 0",
            ))
def _softmax_definition():
    out = []
    for n in (3, 4):
        s = softmax(x_sym[:n])
        out.append((f"n = {n}: sum_i s_i = 1", _q(sum(s) - 1)))
        out.append((f"n = {n}: s_1 > 0", prove_positive(s[0])))
    return out


@derivation("attn.softmax.shift_invariance", title="Softmax is invariant to adding a constant to every entry",
            latex=r"\mathrm{softmax}(x + c\,\mathbf 1) = \mathrm{softmax}(x)\quad(c \in \mathbb R)",
            seed=SEED, primary=BRIDLE, assumptions=(REAL, "c real", ROWS),
            steps=(
                r"\frac{e^{x_i + c}}{\sum_j e^{x_j + c}} = \frac{e^{c}\,e^{x_i}}{e^{c}\sum_j e^{x_j}} = \frac{e^{x_i}}{\sum_j e^{x_j}}",
            ))
def _shift_invariance():
    out = []
    for n in (3, 4):
        s = softmax(x_sym[:n])
        sc = softmax([v + c_sym for v in x_sym[:n]])
        out.append((f"n = {n}: softmax(x + c 1)_i = softmax(x)_i, every i", combine(_qx(a - b) for a, b in zip(sc, s))))
    return out


@derivation("attn.softmax.stable", title="The max-shifted softmax: exponents <= 0, denominator in [1, n]",
            latex=r"m = \max_j x_j:\ \mathrm{softmax}(x)_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}},\quad "
                  r"x_i - m \le 0 \Rightarrow 0 < e^{x_i - m} \le 1,\quad 1 \le \sum_j e^{x_j - m} \le n",
            seed=SEED, primary=BRIDLE, assumptions=(REAL, ROWS, "m = max_j x_j (attained at some k)"),
            notes="So exp never overflows and the division never divides by less than 1; a tiny e^{x_i - m} "
                  "may underflow to 0, which is within an absolute error of the smallest subnormal. Without "
                  "the shift, exp(x_i) overflows for x_i > ~709 (float64) or ~88.7 (float32).",
            steps=(
                r"\mathrm{softmax}(x - m\mathbf 1) = \mathrm{softmax}(x)\quad\text{(attn.softmax.shift\_invariance with } c = -m)",
                r"t_i = m - x_i \ge 0:\ 0 < e^{-t_i},\quad 1 - e^{-t_i} = \int_0^{t_i} e^{-\tau}\,d\tau \ge 0\ \Rightarrow\ e^{x_i - m} \le 1",
                r"t_k = 0\ \Rightarrow\ \sum_j e^{-t_j} = 1 + \sum_{j \ne k} e^{-t_j} \in [1, n]",
            ))
def _stable():
    m = sp.Symbol("m", real=True)
    out = []
    s = softmax(x_sym[:3])
    sm = [sp.exp(v - m) / sum(sp.exp(w - m) for w in x_sym[:3]) for v in x_sym[:3]]
    out.append(("n = 3, any real m: exp(x_i - m)/sum exp(x_j - m) = softmax(x)_i",
                combine(_qx(a - b) for a, b in zip(sm, s))))
    t = sp.symbols("t1:4", nonnegative=True)  # t_i = m - x_i >= 0
    tau = sp.Symbol("tau", nonnegative=True)
    gap = [sp.integrate(sp.exp(-tau), (tau, 0, ti)) for ti in t]  # 1 - exp(-t_i) as an integral
    out.append(("t >= 0: exp(-t) > 0 and 1 - exp(-t) = int_0^t exp(-tau) dtau, whose integrand is > 0 on [0, t]",
                combine([prove_positive(sp.exp(-t[0])), prove_equal(gap[0], 1 - sp.exp(-t[0])),
                         prove_positive(sp.exp(-tau))])))
    D = 1 + sp.exp(-t[1]) + sp.exp(-t[2])  # t_1 = 0 at the argmax
    out.append(("n = 3, t_1 = 0 at the argmax: D - 1 = exp(-t_2) + exp(-t_3) > 0 and "
                "3 - D = int_0^t2 exp(-tau) + int_0^t3 exp(-tau) (integrands > 0), so 1 <= D <= 3",
                combine([prove_positive(D - 1), prove_equal(3 - D, gap[1] + gap[2])])))
    return out


def _jac(s, i, j):
    return s[i] * ((1 if i == j else 0) - s[j])


@derivation("attn.softmax.jacobian", title="The softmax Jacobian: diag(s) - s s^T",
            latex=r"\frac{\partial s_i}{\partial x_j} = s_i(\delta_{ij} - s_j),\qquad J = \operatorname{diag}(s) - s s^\top,"
                  r"\qquad J^\top g = s \odot (g - (s^\top g)\,\mathbf 1)",
            seed=SEED, primary=BRIDLE, assumptions=(REAL, ROWS, "checked for n = 3, 4"),
            layout="numerator: J[i, j] = d s_i / d x_j",
            steps=(
                r"\frac{\partial}{\partial x_j}\frac{e^{x_i}}{Z} = \frac{\delta_{ij} e^{x_i}}{Z} - \frac{e^{x_i} e^{x_j}}{Z^2} = s_i\delta_{ij} - s_i s_j",
                r"(J^\top g)_j = \sum_i g_i s_i(\delta_{ij} - s_j) = s_j g_j - s_j \sum_i s_i g_i",
            ))
def _jacobian():
    out = []
    for n in (3, 4):
        s = softmax(x_sym[:n])
        out.append((f"n = {n}: sp.diff(s_i, x_j) = s_i (delta_ij - s_j), all (i, j)",
                    combine(_q(sp.diff(s[i], x_sym[j]) - _jac(s, i, j)) for i in range(n) for j in range(n))))
    n = 3
    s = softmax(x_sym[:n])
    g = sp.symbols("g1:4", real=True)
    vjp = [sum(g[i] * sp.diff(s[i], x_sym[j]) for i in range(n)) for j in range(n)]
    out.append(("n = 3: the VJP sum_i g_i ds_i/dx_j = s_j (g_j - sum_i s_i g_i)",
                combine(_q(vjp[j] - s[j] * (g[j] - sum(s[i] * g[i] for i in range(n)))) for j in range(n))))
    return out


@derivation("attn.softmax.jacobian.rows_sum_zero", title="The softmax Jacobian's rows sum to zero: J 1 = 0",
            latex=r"\sum_j \frac{\partial s_i}{\partial x_j} = s_i - s_i\sum_j s_j = 0",
            seed=SEED, primary=BRIDLE, assumptions=(REAL, ROWS, "checked for n = 3, 4 (and from sum s = 1 for any n)"),
            notes="Equivalently: softmax(x + c 1) does not depend on c (attn.softmax.shift_invariance), so its "
                  "derivative along 1 is 0.",
            steps=(r"\sum_j s_i(\delta_{ij} - s_j) = s_i - s_i \sum_j s_j = s_i(1 - 1) = 0",))
def _rows_sum_zero():
    out = []
    for n in (3, 4):
        s = softmax(x_sym[:n])
        out.append((f"n = {n}: sum_j sp.diff(s_i, x_j) = 0, every i",
                    combine(_q(sum(sp.diff(s[i], x_sym[j]) for j in range(n))) for i in range(n))))
    S = sp.symbols("s1:5", positive=True)
    out.append(("symbolic s with sum s = 1 (s_4 = 1 - s_1 - s_2 - s_3): sum_j s_i (delta_ij - s_j) = 0",
                combine(_q(sum(_jac(list(S[:3]) + [1 - sum(S[:3])], i, j) for j in range(4))) for i in range(4))))
    return out


@derivation("attn.softmax.jacobian.symmetric", title="The softmax Jacobian is symmetric",
            latex=r"J_{ij} = s_i\delta_{ij} - s_i s_j = J_{ji}",
            seed=SEED, primary=BRIDLE, assumptions=(REAL, ROWS, "checked for n = 3, 4"),
            notes="So the VJP J^T g equals the JVP J g: the oracle applies J to the cotangent.",
            steps=(r"J = \operatorname{diag}(s) - s s^\top = J^\top",))
def _symmetric():
    out = []
    for n in (3, 4):
        s = softmax(x_sym[:n])
        out.append((f"n = {n}: sp.diff(s_i, x_j) = sp.diff(s_j, x_i), all i < j",
                    combine(_q(sp.diff(s[i], x_sym[j]) - sp.diff(s[j], x_sym[i]))
                            for i in range(n) for j in range(i + 1, n))))
    return out


def _quad(S, v):
    n = len(S)
    return sum(S[i] * v[i] ** 2 for i in range(n)) - sum(S[i] * v[i] for i in range(n)) ** 2


def _pairs(S, v):
    n = len(S)
    return sum(S[i] * S[j] * (v[i] - v[j]) ** 2 for i in range(n) for j in range(i + 1, n))


@derivation("attn.softmax.jacobian.psd",
            title="The softmax Jacobian is positive semidefinite with kernel span(1): a variance",
            latex=r"v^\top J v = \sum_i s_i v_i^2 - \Big(\sum_i s_i v_i\Big)^2 = \sum_{i<j} s_i s_j (v_i - v_j)^2 \ge 0,"
                  r"\quad v^\top J v = 0 \iff v \in \operatorname{span}(\mathbf 1)",
            seed=SEED, primary=BRIDLE, assumptions=(POS, "v real", "checked for n = 3, 4 (the identity), n = 3 (the kernel)"),
            notes="What is proved: (1) v^T J v = sum s_i v_i^2 - (sum s_i v_i)^2, the variance of v under the "
                  "distribution s; (2) with sum s = 1 it equals sum_{i<j} s_i s_j (v_i - v_j)^2 (Lagrange's "
                  "identity), a sum of non-negative terms; (3) it vanishes on v = c 1 and is >= s_i s_j (v_i - v_j)^2 "
                  "> 0 as soon as two entries differ. Hence J is PSD, its kernel is exactly span(1), and J is "
                  "positive definite on the sum-zero subspace 1^perp (rank n - 1). It is NOT positive definite on "
                  "R^n: attn.softmax.jacobian.invertible.refuted.",
            steps=(
                r"v^\top J v = \sum_i s_i v_i^2 - \sum_{i,j} v_i s_i s_j v_j = \sum_i s_i v_i^2 - \Big(\sum_i s_i v_i\Big)^2 = \operatorname{Var}_s(v)",
                r"\Big(\sum_j s_j\Big)\sum_i s_i v_i^2 - \Big(\sum_i s_i v_i\Big)^2 = \sum_{i<j} s_i s_j (v_i - v_j)^2\quad\text{(Lagrange)}",
                r"s_i s_j > 0:\ v^\top J v \ge s_i s_j (v_i - v_j)^2 > 0 \text{ unless } v_i = v_j\ \forall i, j",
                r"\ker J = \operatorname{span}(\mathbf 1),\quad J \succ 0 \text{ on } \mathbf 1^\perp",
            ))
def _psd():
    out = []
    v = sp.symbols("v1:5", real=True)
    for n in (3, 4):
        s = softmax(x_sym[:n])
        J = sp.Matrix(n, n, lambda i, j: sp.diff(s[i], x_sym[j]))
        vv = sp.Matrix(v[:n])
        out.append((f"n = {n}: v^T J v (sp.diff) = sum s_i v_i^2 - (sum s_i v_i)^2",
                    _q((vv.T * J * vv)[0, 0] - _quad(s, v[:n]))))
        S = sp.symbols(f"s1:{n + 1}", positive=True)
        lag = sum(S) * sum(S[i] * v[i] ** 2 for i in range(n)) - sum(S[i] * v[i] for i in range(n)) ** 2
        out.append((f"n = {n}: (sum s) sum s v^2 - (sum s v)^2 = sum_(i<j) s_i s_j (v_i - v_j)^2 (Lagrange)",
                    _q(lag - _pairs(S, v[:n]))))
        out.append((f"n = {n}: sum_(i<j) s_i s_j (v_i - v_j)^2 >= 0 (s > 0, v real)", prove_true(sp.Ge(_pairs(S, v[:n]), 0))))
    S = sp.symbols("s1:4", positive=True)
    cc = sp.Symbol("c", real=True)
    out.append(("n = 3: v = c 1 gives 0 (span(1) is in the kernel)", _q(_pairs(S, [cc, cc, cc]))))
    dlt = sp.Symbol("delta", real=True, nonzero=True)
    out.append(("n = 3: the form minus s_1 s_2 (v_1 - v_2)^2 is >= 0, and s_1 s_2 delta^2 > 0 for delta != 0",
                combine([prove_true(sp.Ge(_pairs(S, v[:3]) - S[0] * S[1] * (v[0] - v[1]) ** 2, 0)),
                         prove_positive(S[0] * S[1] * dlt ** 2)])))
    return out


@derivation("attn.softmax.jacobian.invertible.refuted", kind="refutation",
            title="The softmax Jacobian is not invertible (not positive definite on R^n)",
            latex=r"x = (0, \ln 2, \ln 3):\ s = \big(\tfrac16, \tfrac13, \tfrac12\big),\ J\mathbf 1 = 0,\ "
                  r"\det J = 0,\ \mathbf 1^\top J \mathbf 1 = 0",
            seed=SEED, primary=BRIDLE, assumptions=(REAL,),
            notes="The claim 'the softmax Jacobian is positive definite / invertible' fails for every x: J 1 = 0 "
                  "(attn.softmax.jacobian.rows_sum_zero). A non-constant direction has v^T J v > 0 "
                  "(attn.softmax.jacobian.psd).",
            steps=(
                r"e^{x} = (1, 2, 3),\ Z = 6,\ s = \big(\tfrac16, \tfrac13, \tfrac12\big)",
                r"J = \operatorname{diag}(s) - s s^\top,\quad J\mathbf 1 = s - s\,(s^\top\mathbf 1) = 0",
                r"\det J = 0,\qquad \mathbf 1^\top J\,\mathbf 1 = 0 \not> 0",
            ))
def _invertible_refuted():
    pt = {x_sym[0]: 0, x_sym[1]: sp.log(2), x_sym[2]: sp.log(3)}
    s = softmax(x_sym[:3])
    J = sp.Matrix(3, 3, lambda i, j: sp.diff(s[i], x_sym[j])).subs(pt)
    J = J.applyfunc(sp.nsimplify)
    ones = sp.Matrix([1, 1, 1])
    det = sp.nsimplify(J.det())
    form = sp.nsimplify((ones.T * J * ones)[0, 0])
    cex = {"point": {"x": "(0, log 2, log 3)"}, "value": f"J 1 = {list(J * ones)}, det J = {det}, 1^T J 1 = {form}"}
    return [("s = (1/6, 1/3, 1/2) at x = (0, log 2, log 3)",
             prove_equal(sp.Matrix([sp.nsimplify(v.subs(pt)) for v in s]), sp.Matrix([sp.Rational(1, 6), sp.Rational(1, 3), sp.Rational(1, 2)]))),
            ("J 1 = 0 (exact)", prove_equal(J * ones, sp.zeros(3, 1))),
            ("det J = 0: J is singular", dataclasses.replace(prove_equal(det, 0), counterexample=cex)),
            ("1^T J 1 = 0, so J is not positive definite", prove_true(sp.Eq(form, 0)))]


# ---------------------------------------------------------------- scaled dot-product attention

def sdpa(Q, K, V, causal=False):
    """Y = softmax(Q K^T / sqrt(d) + M) V for explicit SymPy matrices (the mask as exp(s - oo) = 0)."""
    Tq, d = Q.shape
    Tk = K.shape[0]
    S = Q * K.T / sp.sqrt(d)
    rows = []
    for i in range(Tq):
        e = [sp.exp(S[i, j] + (-sp.oo if causal and j > i else 0)) for j in range(Tk)]
        Z = sum(e)
        rows.append([ej / Z for ej in e])
    P = sp.Matrix(rows)
    return P * V, P, S


def _mats(Tq, Tk, d, dv):
    Q = sp.Matrix(Tq, d, lambda i, a: sp.Symbol(f"q{i + 1}{a + 1}", real=True))
    K = sp.Matrix(Tk, d, lambda j, a: sp.Symbol(f"k{j + 1}{a + 1}", real=True))
    V = sp.Matrix(Tk, dv, lambda j, c: sp.Symbol(f"v{j + 1}{c + 1}", real=True))
    dY = sp.Matrix(Tq, dv, lambda i, c: sp.Symbol(f"dy{i + 1}{c + 1}", real=True))
    return Q, K, V, dY


def backward(Q, K, V, dY, P):
    """The hand-written backward: (dQ, dK, dV)."""
    d = Q.shape[1]
    dV = P.T * dY
    dP = dY * V.T
    r = [sum(dP[i, j] * P[i, j] for j in range(P.shape[1])) for i in range(P.shape[0])]
    dS = sp.Matrix(P.shape[0], P.shape[1], lambda i, j: P[i, j] * (dP[i, j] - r[i]))
    return dS * K / sp.sqrt(d), dS.T * Q / sp.sqrt(d), dV


SIZES = "checked for Tq = Tk = d = 2 (dv = 1 and 2): explicit symbols"
FORMULAS = (
    r"L = \langle dY, Y\rangle = \sum_{i,c} dY_{ic}\sum_j P_{ij} V_{jc}",
    r"dV = P^\top dY,\qquad dP = dY\,V^\top",
    r"dS_{i\cdot} = J(P_{i\cdot})\,dP_{i\cdot} = P_{i\cdot}\odot\big(dP_{i\cdot} - (P_{i\cdot}\cdot dP_{i\cdot})\,\mathbf 1\big)\quad\text{(attn.softmax.jacobian)}",
    r"S = \frac{Q K^\top}{\sqrt d}:\quad dQ = \frac{dS\,K}{\sqrt d},\qquad dK = \frac{dS^\top Q}{\sqrt d}",
)


@derivation("attn.sdpa.forward", kind="definition", title="Scaled dot-product attention",
            latex=r"Y = \mathrm{softmax}\Big(\frac{Q K^\top}{\sqrt d} + M\Big) V,\quad Q \in \mathbb R^{T_q\times d},\ "
                  r"K \in \mathbb R^{T_k\times d},\ V \in \mathbb R^{T_k\times d_v}",
            seed=SEED, primary=VASWANI + "; " + TORCH_SDPA,
            assumptions=(ROWS + " of the logits", "M = 0, or the causal mask of attn.causal.mask"),
            notes="Each output row is a convex combination of the rows of V (weights P_ij > 0 summing to 1).",
            steps=(
                r"S_{ij} = \frac{q_i \cdot k_j}{\sqrt d} + M_{ij},\quad P_{ij} = \frac{e^{S_{ij}}}{\sum_{j'} e^{S_{ij'}}}",
                r"y_i = \sum_j P_{ij}\, v_j,\qquad \sum_j P_{ij} = 1",
            ))
def _sdpa_forward():
    Q, K, V, _ = _mats(2, 2, 2, 2)
    Y, P, _ = sdpa(Q, K, V)
    return [("Tq = Tk = d = dv = 2: the rows of P sum to 1", combine(_q(sum(P.row(i)) - 1) for i in range(2))),
            ("V = 1 1^T (constant rows): Y = 1 1^T (a convex combination)",
             prove_equal(sdpa(Q, K, sp.ones(2, 2))[0], sp.ones(2, 2)))]


def _grad_check(which):
    out = []
    for dv in (1, 2):
        Q, K, V, dY = _mats(2, 2, 2, dv)
        Y, P, _ = sdpa(Q, K, V)
        L = sum(dY[i, c] * Y[i, c] for i in range(2) for c in range(dv))
        dQ, dK, dV = backward(Q, K, V, dY, P)
        M, G = {"q": (Q, dQ), "k": (K, dK), "v": (V, dV)}[which]
        out.append((f"Tq = Tk = d = 2, dv = {dv}: sp.diff(L, {which}) equals the formula, every entry",
                    combine(_q(sp.diff(L, M[i, a]) - G[i, a]) for i in range(M.shape[0]) for a in range(M.shape[1]))))
        if which == "q":  # the same check refutes a dQ without its 1/sqrt(d) (the mutant's)
            wrong = dQ * sp.sqrt(2)
            r = _q(sp.diff(L, Q[0, 0]) - wrong[0, 0])
            out.append((f"dv = {dv}: a dQ missing 1/sqrt(d) differs from sp.diff (refuted at a point)",
                        prove_true(sp.true if r.status == "refuted" else sp.false)))
    return out


@derivation("attn.sdpa.grad_v", title="Attention gradient w.r.t. V: dV = P^T dY",
            latex=r"\frac{\partial L}{\partial V} = P^\top dY", seed=SEED, primary=VASWANI,
            assumptions=(SIZES, "L = <dY, Y>"), steps=FORMULAS[:2])
def _grad_v():
    return _grad_check("v")


@derivation("attn.sdpa.grad_q", title="Attention gradient w.r.t. Q: dQ = dS K / sqrt(d)",
            latex=r"\frac{\partial L}{\partial Q} = \frac{dS\,K}{\sqrt d},\quad dS = P \odot \big(dP - \mathrm{rowsum}(dP \odot P)\big),\ dP = dY V^\top",
            seed=SEED, primary=VASWANI, assumptions=(SIZES, "L = <dY, Y>", "no mask (a mask only zeroes P_ij)"),
            steps=FORMULAS)
def _grad_q():
    return _grad_check("q")


@derivation("attn.sdpa.grad_k", title="Attention gradient w.r.t. K: dK = dS^T Q / sqrt(d)",
            latex=r"\frac{\partial L}{\partial K} = \frac{dS^\top Q}{\sqrt d}", seed=SEED, primary=VASWANI,
            assumptions=(SIZES, "L = <dY, Y>"), steps=FORMULAS)
def _grad_k():
    return _grad_check("k")


@derivation("attn.scale.variance", title="Why 1/sqrt(d): the scaled logit has unit variance",
            latex=r"q, k \in \mathbb R^d \text{ independent entries},\ \mathbb E = 0,\ \mathbb E[\cdot^2] = 1:\ "
                  r"\mathbb E[q\cdot k] = 0,\ \operatorname{Var}(q\cdot k) = d,\ \operatorname{Var}\Big(\frac{q\cdot k}{\sqrt d}\Big) = 1;"
                  r"\quad \operatorname{Var}\Big(\frac{q\cdot(k_1 - k_2)}{\sqrt d}\Big) = 2",
            seed=SEED, primary=VASWANI_SCALE,
            assumptions=("all entries of q, k (k_1, k_2) independent, zero mean, unit variance",
                         "explicit d = 1..5 and the sum over i of E[q_i^2] E[k_i^2] = d for symbolic d"),
            notes="The statistical property attn.scale.variance draws q with Rademacher (+-1) entries and k "
                  "Gaussian: then |q|^2 = d exactly and q.(k_1 - k_2)/sqrt(d) ~ N(0, 2) given q, so sum Z^2/2 is "
                  "chi-square (Laurent & Massart 2000). Scaled by 1/d instead, the variance is 2/d.",
            steps=(
                r"\mathbb E[q\cdot k] = \sum_i \mathbb E[q_i]\,\mathbb E[k_i] = 0",
                r"\mathbb E[(q\cdot k)^2] = \sum_{i,j}\mathbb E[q_i q_j]\,\mathbb E[k_i k_j] = \sum_{i,j}\delta_{ij}\delta_{ij} = \sum_{i=1}^d 1 = d",
                r"\operatorname{Var}\Big(\frac{q\cdot k}{\sqrt d}\Big) = \frac{d}{d} = 1,\qquad \operatorname{Var}\Big(\frac{q\cdot k}{d}\Big) = \frac1d",
                r"k_1 - k_2:\ \mathbb E[(k_{1i} - k_{2i})^2] = 2\ \Rightarrow\ \operatorname{Var}\Big(\frac{q\cdot(k_1-k_2)}{\sqrt d}\Big) = 2",
            ))
def _scale_variance():
    out = []
    for d in range(1, 6):
        q = sp.symbols(f"q1:{d + 1}", real=True)
        k1 = sp.symbols(f"a1:{d + 1}", real=True)
        k2 = sp.symbols(f"b1:{d + 1}", real=True)
        gens = q + k1 + k2

        def E(expr):
            """Expectation of a polynomial in independent zero-mean unit-variance entries (degree <= 2 each)."""
            total = sp.Integer(0)
            for monom, coeff in sp.Poly(sp.expand(expr), *gens).terms():
                if all(p in (0, 2) for p in monom):
                    total += coeff  # E[x^2] = 1, E[1] = 1
                elif any(p == 1 for p in monom):
                    continue  # an entry to the first power: independent, zero mean
                else:
                    return None  # a higher moment: not determined by the assumptions
            return total

        dot = sum(a * b for a, b in zip(q, k1))
        dif = sum(a * (b - c) for a, b, c in zip(q, k1, k2))
        out.append((f"d = {d}: E[q.k] = 0 and E[(q.k)^2] = d", combine([prove_equal(E(dot), 0), prove_equal(E(dot ** 2), d)])))
        out.append((f"d = {d}: Var(q.k/sqrt(d)) = 1, Var(q.k/d) = 1/d",
                    combine([prove_equal(E(dot ** 2) / d, 1), prove_equal(E(dot ** 2) / d ** 2, sp.Rational(1, d))])))
        out.append((f"d = {d}: Var(q.(k_1 - k_2)/sqrt(d)) = 2", prove_equal(E(dif ** 2) / d, 2)))
    i, d = sp.symbols("i d", integer=True, positive=True)
    out.append(("symbolic d: sum_(i=1)^d E[q_i^2] E[k_i^2] = sum_(i=1)^d 1 = d", prove_equal(sp.Sum(1, (i, 1, d)).doit(), d)))
    return out


@derivation("attn.causal.mask", title="The causal mask: y_i depends only on keys and values j <= i",
            latex=r"M_{ij} = -\infty\ (j > i):\ \frac{\partial y_i}{\partial k_j} = \frac{\partial y_i}{\partial v_j} = 0\ (j > i),"
                  r"\quad y_i = \mathrm{attention}(q_i, K_{1..i}, V_{1..i})",
            seed=SEED, primary=VASWANI + " (§3.2.3, masking in the decoder); " + TORCH_SDPA,
            assumptions=("top-left aligned: row i may attend to j <= i (torch's is_causal, tril(ones(Tq, Tk)))",
                         "checked for Tq = Tk = 3, d = 1, dv = 1 (and d = 2 for the prefix identity)"),
            notes="With the top-left alignment every row keeps j = 0, so no row is fully masked for any Tq, Tk. "
                  "Masking after the softmax (P_ij = 0 without renormalizing) is a different, wrong function: the "
                  "kept weights no longer sum to 1.",
            steps=(
                r"e^{S_{ij} - \infty} = 0\ (j > i):\ P_{ij} = 0,\quad P_{ij} = \frac{e^{S_{ij}}}{\sum_{j' \le i} e^{S_{ij'}}}\ (j \le i)",
                r"y_i = \sum_{j \le i} P_{ij} v_j \text{ involves no } k_j, v_j \text{ with } j > i",
                r"= \mathrm{softmax}\Big(\frac{q_i K_{1..i}^\top}{\sqrt d}\Big) V_{1..i}",
            ))
def _causal_mask():
    out = []
    Q, K, V, _ = _mats(3, 3, 1, 1)
    Y, P, _ = sdpa(Q, K, V, causal=True)
    zeros = []
    for i in range(3):
        for j in range(i + 1, 3):
            zeros.append(_q(sp.diff(Y[i, 0], K[j, 0])))
            zeros.append(_q(sp.diff(Y[i, 0], V[j, 0])))
    out.append(("Tq = Tk = 3: d y_i/d k_j = d y_i/d v_j = 0 for every j > i", combine(zeros)))
    out.append(("Tq = Tk = 3: every masked P_ij (j > i) is exactly 0; every row of P sums to 1",
                combine([prove_equal(P[i, j], 0) for i in range(3) for j in range(i + 1, 3)]
                        + [_q(sum(P.row(i)) - 1) for i in range(3)])))
    Q, K, V, _ = _mats(3, 3, 2, 1)
    Y, _, _ = sdpa(Q, K, V, causal=True)
    pre = []
    for i in range(3):
        Yi, _, _ = sdpa(Q[i:i + 1, :], K[:i + 1, :], V[:i + 1, :])
        pre.append(_q(Y[i, 0] - Yi[0, 0]))
    out.append(("Tq = Tk = 3, d = 2: causal y_i = non-causal attention of q_i over the prefix K_(1..i), V_(1..i)",
                combine(pre)))
    return out


@derivation("attn.mha.concat", title="Multi-head attention: the concatenation times W_o is a sum over heads",
            latex=r"\mathrm{concat}_h(\mathrm{head}_h)\,W_o^\top = \sum_h \mathrm{head}_h\,W_o[:, B_h]^\top,\quad "
                  r"\mathrm{head}_h = \mathrm{attention}(X_q W_q[B_h]^\top + b_q[B_h], \ldots),\ B_h = [hE/H, (h+1)E/H)",
            seed=SEED, primary=VASWANI + "; " + TORCH_MHA,
            assumptions=("E divisible by H, head dim E/H, scale 1/sqrt(E/H)",
                         "checked for E = 4, H = 2 (block sum, one row) and H = 1 (single head), T = 2"),
            notes="torch.nn.MultiheadAttention stores in_proj_weight = [W_q; W_k; W_v] (3E, E): rows 0..E-1 are "
                  "W_q. A layout with the W_q and W_k blocks swapped computes softmax(K' Q'^T) (attention "
                  "transposed): the property attn.mha.heads names it.",
            steps=(
                r"Y = [\mathrm{head}_1, \ldots, \mathrm{head}_H]\,W_o^\top + b_o = \sum_h \mathrm{head}_h\,(W_o[:, B_h])^\top + b_o",
                r"H = 1:\ Y = \mathrm{attention}(X_q W_q^\top + b_q,\ X_k W_k^\top + b_k,\ X_v W_v^\top + b_v)\,W_o^\top + b_o",
            ))
def _mha_concat():
    E, H = 4, 2
    dh = E // H
    Wo = sp.Matrix(E, E, lambda i, j: sp.Symbol(f"w{i}{j}", real=True))
    heads = [sp.Matrix(1, dh, lambda _, c: sp.Symbol(f"h{h}{c}", real=True)) for h in range(H)]
    concat = sp.Matrix.hstack(*heads)
    block = sum((heads[h] * Wo[:, h * dh:(h + 1) * dh].T for h in range(H)), sp.zeros(1, E))
    out = [("E = 4, H = 2: concat(head_1, head_2) W_o^T = sum_h head_h W_o[:, B_h]^T", prove_equal(concat * Wo.T, block))]
    # H = 1: MHA with one head is single-head attention of the projections (T = 2, E = 2)
    T, E1 = 2, 2
    X = sp.Matrix(T, E1, lambda i, j: sp.Symbol(f"x{i}{j}", real=True))
    Wq, Wk, Wv = (sp.Matrix(E1, E1, lambda i, j: sp.Symbol(f"{n}{i}{j}", real=True)) for n in ("wq", "wk", "wv"))
    bq, bk, bv = (sp.Matrix(1, E1, lambda _, j: sp.Symbol(f"{n}{j}", real=True)) for n in ("bq", "bk", "bv"))
    ones = sp.ones(T, 1)
    Qp, Kp, Vp = X * Wq.T + ones * bq, X * Wk.T + ones * bk, X * Wv.T + ones * bv
    Y1, _, _ = sdpa(Qp, Kp, Vp)
    # the same through explicit per-row sums (the head computed entry by entry), scale 1/sqrt(E/H) = 1/sqrt(2)
    rows = []
    for i in range(T):
        lg = [sum(Qp[i, a] * Kp[j, a] for a in range(E1)) / sp.sqrt(E1) for j in range(T)]
        w = softmax(lg)
        rows.append([sum(w[j] * Vp[j, c] for j in range(T)) for c in range(E1)])
    out.append(("E = 2, H = 1, T = 2: the single head equals attention of the projections (entry-wise sums)",
                prove_equal(Y1, sp.Matrix(rows))))
    return out


# the ids, for tests and the book
IDS = ("attn.softmax.definition", "attn.softmax.shift_invariance", "attn.softmax.stable", "attn.softmax.jacobian",
       "attn.softmax.jacobian.rows_sum_zero", "attn.softmax.jacobian.symmetric", "attn.softmax.jacobian.psd",
       "attn.softmax.jacobian.invertible.refuted", "attn.sdpa.forward", "attn.sdpa.grad_v", "attn.sdpa.grad_q",
       "attn.sdpa.grad_k", "attn.scale.variance", "attn.causal.mask", "attn.mha.concat")
