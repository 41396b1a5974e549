"""Dropout (inverted scaling): its moments, its gradient, its regularizer, and the concentration bounds that the
statistical properties use.

Rule: p is the drop probability (torch's p, Keras' rate), q = 1 - p the keep probability, 0 < q <= 1;
training: y_i = m_i x_i / q with m_i ~ Bernoulli(q) i.i.d.; inference: y = x.

Route: every expectation over a mask is a finite sum with exact Bernoulli weights, E[f(m)] = q f(1) + (1-q) f(0)
(over all 2^d masks where several entries are involved), so each identity is a polynomial/rational identity in
q and the data, proved by expansion. Explicit small sizes: d = 3 features, N = 2 data points, n = 4 mask entries.
The concentration inequalities themselves (Hoeffding 1963, Bernstein) are cited; what is proved is the algebra
the properties rely on: the thresholds give exactly the chosen false-alarm probability alpha, the moments of the
two-point terms, the KL form of Hoeffding's binomial bound and its monotonicity, exact instances of it.

Seed: 深度学习数学模块 · 07-Dropout-Theory.md (Dropout). Primary: Srivastava, Hinton, Krizhevsky, Sutskever &
Salakhutdinov (2014), Dropout, JMLR 15; Wager, Wang & Liang (2013), NeurIPS; torch.nn.Dropout docs.
"""
from __future__ import annotations

import itertools

import sympy as sp

from . import scope as sc
from .indexed import index, prove_entry_equal
from .prove import combine, prove_equal, prove_positive, prove_true, prove_zero
from .lemmas import EXPECTATION
from .registry import derivation
from .sums import prove_sums_equal
from .scope import Lemma

SEED = "seed: 深度学习数学模块 · 07-Dropout-Theory.md (Dropout)"
SRIVASTAVA = ("Srivastava, Hinton, Krizhevsky, Sutskever & Salakhutdinov (2014), Dropout: a simple way to prevent "
              "neural networks from overfitting, JMLR 15(56):1929-1958")
WAGER = "Wager, Wang & Liang (2013), Dropout training as adaptive regularization, NeurIPS, §2 (linear regression)"
TORCH_DROPOUT = ("torch.nn.Dropout docs: outputs are scaled by 1/(1-p) during training, the identity in "
                 "evaluation mode")
HOEFFDING = ("Hoeffding (1963), Probability inequalities for sums of bounded random variables, JASA 58(301):13-30, "
             "Theorem 1 (2.1) and Theorem 2")
BERNSTEIN = ("Bernstein's inequality, as in Boucheron, Lugosi & Massart (2013), Concentration Inequalities, Oxford "
             "University Press, Theorem 2.10 / Corollary 2.11")

#: the cited concentration inequalities (chapter lemmas: what the thresholds rest on, not re-proved here)
HOEFFDING_LEMMA = Lemma(
    "lemma.concentration.hoeffding",
    r"Z_i \text{ independent},\ a_i \le Z_i \le b_i:\ P\big(|S_n - \mathbb{E}S_n| \ge t\big) \le "
    r"2\exp\!\Big(-\frac{2t^2}{\sum_i (b_i - a_i)^2}\Big)",
    HOEFFDING + " (Theorem 2)")
BERNSTEIN_LEMMA = Lemma(
    "lemma.concentration.bernstein",
    r"Z_i \text{ independent},\ |Z_i - \mathbb{E}Z_i| \le b,\ V = \sum_i \operatorname{Var}Z_i:\ "
    r"P\big(|S_n - \mathbb{E}S_n| \ge t\big) \le 2\exp\!\Big(-\frac{t^2}{2(V + bt/3)}\Big)",
    BERNSTEIN)
BINOMIAL_KL_LEMMA = Lemma(
    "lemma.concentration.binomial_kl",
    r"K = \sum_{i=1}^n Z_i,\ Z_i \in [0, 1] \text{ independent},\ \mathbb{E}K = nq,\ a \ge q:\ "
    r"P(K \ge na) \le e^{-n D(a\Vert q)}",
    HOEFFDING + " (Theorem 1, inequality (2.1)); Chernoff (1952), A measure of asymptotic efficiency for tests of "
    "a hypothesis based on the sum of observations, Ann. Math. Statist. 23(4):493-507")

KEEP = "q = 1 - p, 0 < q <= 1 (p in [0, 1), the drop probability)"
IID = "m_i ~ Bernoulli(q) i.i.d., independent of x"
EXPECT = "E[f(m)] = q f(1) + (1-q) f(0) (a finite sum), over all masks for several entries"

q = sp.Symbol("q", positive=True)     # keep probability
p = sp.Symbol("p", nonnegative=True)  # drop probability (p = 1 - q)
x = sp.Symbol("x", real=True)
m = sp.Symbol("m", real=True)         # a mask entry (0 or 1)


def bernoulli_expectation(f, var, keep=q):
    """E[f(m)] for m ~ Bernoulli(keep): keep f(1) + (1 - keep) f(0)."""
    return keep * f.subs(var, 1) + (1 - keep) * f.subs(var, 0)


def mask_expectation(f, masks, keep=q):
    """E[f(m_1..m_d)] over independent Bernoulli(keep) entries: the sum over all 2^d masks, each weighted by
    prod keep^{m_j} (1 - keep)^{1 - m_j}."""
    total = sp.Integer(0)
    for bits in itertools.product((0, 1), repeat=len(masks)):
        w = sp.Mul(*[keep if b else 1 - keep for b in bits])
        total += w * f.subs(dict(zip(masks, bits)))
    return total


def mask_probabilities(d, keep=q):
    return [sp.Mul(*[keep if b else 1 - keep for b in bits]) for bits in itertools.product((0, 1), repeat=d)]


#: the rule, y = m x / q, as the properties read it
Y = m * x / q
#: the two-point terms of the properties: the deviation D = y - x and its square, kept (m = 1) / dropped (m = 0)
DEV = Y - x
DEV_KEPT, DEV_DROPPED = DEV.subs(m, 1), DEV.subs(m, 0)
SQ_KEPT, SQ_DROPPED = DEV_KEPT ** 2, DEV_DROPPED ** 2
#: the derived moments (the float64 oracle, derivations/oracle_dropout.py, evaluates these)
MEAN = x
VARIANCE = x ** 2 * (1 - q) / q
SQ_MEAN = x ** 2 * (1 - q) / q
SQ_VARIANCE = x ** 4 * (1 - q) * (2 * q - 1) ** 2 / q ** 3


# ---------------------------------------------------------------- the rule and its moments

@derivation("dropout.inverted.rule", kind="definition", title="Inverted dropout",
            latex=r"y_i = \frac{m_i\,x_i}{q},\quad m_i \sim \mathrm{Bernoulli}(q)\ \text{i.i.d.},\quad q = 1 - p",
            sizes=(), seed=SEED, primary=SRIVASTAVA + "; " + TORCH_DROPOUT, assumptions=(KEEP, IID),
            notes="Srivastava et al. keep units with probability p (their p is our q) and scale the weights by p at "
                  "test time; the inverted form scales by 1/q during training instead (torch, Keras).",
            steps=(
                r"m_i = 1\ (\text{probability } q):\ y_i = \frac{x_i}{q} = \frac{x_i}{1 - p}",
                r"m_i = 0\ (\text{probability } p = 1 - q):\ y_i = 0",
                r"p = 0:\ q = 1,\ m_i = 1 \text{ surely},\ y = x",
            ))
def _rule():
    return [("m = 1: y = x/q = x/(1 - p)", prove_equal(Y.subs(m, 1).subs(q, 1 - p), x / (1 - p))),
            ("m = 0: y = 0", prove_equal(Y.subs(m, 0), 0)),
            ("p = 0 (q = 1), m = 1: y = x", prove_equal(Y.subs({q: 1, m: 1}), x)),
            ("the keep probability q = 1 - p lies in (0, 1] for p in [0, 1): 1 - p > 0 at p = 1 - q",
             prove_positive((1 - p).subs(p, 1 - q)))]


@derivation("dropout.inverted.mean", title="Inverted dropout is unbiased: E[m x / q] = x",
            latex=r"\mathbb{E}_m\Big[\frac{m\,x}{q}\Big] = q\cdot\frac{x}{q} + (1 - q)\cdot 0 = x",
            sizes=(), seed=SEED, primary=SRIVASTAVA + "; " + TORCH_DROPOUT, assumptions=(KEEP, IID, EXPECT),
            steps=(
                r"\mathbb{E}[f(m)] = q\,f(1) + (1 - q)\,f(0)",
                r"\mathbb{E}\Big[\frac{m x}{q}\Big] = q\,\frac{x}{q} + (1 - q)\cdot 0 = x",
                r"\Rightarrow\ \mathbb{E}[y - x] = 0,\qquad \mathbb{E}\Big[\sum_i w_i (y_i - x_i)\Big] = 0\ \text{ for any fixed } w",
            ))
def _mean():
    w = sp.Symbol("w", real=True)
    return [("E[m x/q] = q (x/q) + (1 - q) 0 = x", prove_equal(bernoulli_expectation(Y, m), MEAN)),
            ("the Bernoulli weights sum to 1", prove_equal(q + (1 - q), 1)),
            ("E[w (y - x)] = 0 for a fixed weight w", prove_zero(bernoulli_expectation(w * DEV, m)))]


@derivation("dropout.inverted.variance", title="Variance of inverted dropout: x^2 (1-q)/q = x^2 p/(1-p)",
            latex=r"\operatorname{Var}\Big[\frac{m\,x}{q}\Big] = \frac{x^2}{q} - x^2 = x^2\,\frac{1 - q}{q} = "
                  r"x^2\,\frac{p}{1 - p}",
            sizes=(), seed=SEED, primary=SRIVASTAVA + "; " + WAGER, assumptions=(KEEP, IID, EXPECT),
            steps=(
                r"\mathbb{E}[y^2] = q\,\frac{x^2}{q^2} + (1 - q)\cdot 0 = \frac{x^2}{q}",
                r"\operatorname{Var}[y] = \mathbb{E}[y^2] - \mathbb{E}[y]^2 = \frac{x^2}{q} - x^2 = x^2\,\frac{1 - q}{q}",
                r"q = 1 - p:\ \operatorname{Var}[y] = x^2\,\frac{p}{1 - p}",
            ))
def _variance():
    ey2 = bernoulli_expectation(Y ** 2, m)
    var = ey2 - bernoulli_expectation(Y, m) ** 2
    return [("E[y^2] = x^2/q", prove_equal(ey2, x ** 2 / q)),
            ("Var[y] = E[y^2] - E[y]^2 = x^2 (1 - q)/q", prove_equal(var, VARIANCE)),
            ("with q = 1 - p: Var[y] = x^2 p/(1 - p)", prove_equal(VARIANCE.subs(q, 1 - p), x ** 2 * p / (1 - p))),
            ("the same as E[(y - x)^2] (the variance property's statistic)",
             prove_equal(bernoulli_expectation(DEV ** 2, m), VARIANCE))]


@derivation("dropout.deviation.moments",
            title="The two-point terms of the statistical checks: y - x and (y - x)^2, their ranges and variances",
            latex=r"D = y - x \in \Big\{x\,\frac{1-q}{q},\ -x\Big\}:\ \mathbb{E}D = 0,\ "
                  r"\operatorname{Var}D = x^2\frac{1-q}{q};\quad "
                  r"D^2:\ \mathbb{E}D^2 = x^2\frac{1-q}{q},\ \operatorname{Var}D^2 = x^4\,\frac{(1-q)(2q-1)^2}{q^3}",
            sizes=(), seed=SEED, primary=SRIVASTAVA, assumptions=(KEEP, IID, EXPECT),
            notes="At q = 1/2 the squared deviation is x^2 whatever the mask (variance 0). The ranges |a - c| feed "
                  "Hoeffding's bound, the variances Bernstein's (properties/concentration.py).",
            steps=(
                r"m = 1:\ D = \frac{x}{q} - x = x\,\frac{1 - q}{q},\qquad m = 0:\ D = -x,\qquad D_{kept} - D_{dropped} = \frac{x}{q}",
                r"\operatorname{Var}D = q(1-q)\Big(\frac{x}{q}\Big)^2 = x^2\,\frac{1 - q}{q}",
                r"D^2_{kept} - D^2_{dropped} = x^2\Big(\frac{(1-q)^2}{q^2} - 1\Big) = x^2\,\frac{1 - 2q}{q^2}",
                r"\operatorname{Var}D^2 = q(1-q)\,x^4\,\frac{(1 - 2q)^2}{q^4} = x^4\,\frac{(1-q)(2q-1)^2}{q^3}",
            ))
def _deviation():
    ed = bernoulli_expectation(DEV, m)
    vd = bernoulli_expectation(DEV ** 2, m) - ed ** 2
    es = bernoulli_expectation(DEV ** 2, m)
    vs = bernoulli_expectation(DEV ** 4, m) - es ** 2
    return [("kept: y - x = x (1 - q)/q", prove_equal(DEV_KEPT, x * (1 - q) / q)),
            ("dropped: y - x = -x", prove_equal(DEV_DROPPED, -x)),
            ("range of y - x: kept - dropped = x/q", prove_equal(DEV_KEPT - DEV_DROPPED, x / q)),
            ("E[y - x] = 0", prove_zero(ed)),
            ("Var[y - x] = x^2 (1 - q)/q", prove_equal(vd, VARIANCE)),
            ("range of (y - x)^2: kept - dropped = x^2 (1 - 2q)/q^2",
             prove_equal(SQ_KEPT - SQ_DROPPED, x ** 2 * (1 - 2 * q) / q ** 2)),
            ("E[(y - x)^2] = x^2 (1 - q)/q", prove_equal(es, SQ_MEAN)),
            ("Var[(y - x)^2] = x^4 (1 - q)(2q - 1)^2/q^3", prove_equal(vs, SQ_VARIANCE)),
            ("q = 1/2: (y - x)^2 = x^2 for both mask values",
             combine([prove_equal(SQ_KEPT.subs(q, sp.Rational(1, 2)), x ** 2),
                      prove_equal(SQ_DROPPED, x ** 2)]))]


@derivation("dropout.two_point.moments", title="Moments and range of a two-point variable",
            latex=r"Z = \begin{cases} a & \text{prob. } q\\ c & \text{prob. } 1-q\end{cases}:\ "
                  r"\mathbb{E}Z = q a + (1-q) c,\ \operatorname{Var}Z = q(1-q)(a-c)^2,\ "
                  r"|Z - \mathbb{E}Z| \le \max(q, 1-q)\,|a - c|",
            sizes=(), seed=SEED, primary=HOEFFDING + "; " + BERNSTEIN, assumptions=("0 <= q <= 1", EXPECT),
            notes="Each term of the statistical checks is such a Z (a kept value a, a dropped value c): Hoeffding "
                  "needs the range |a - c|, Bernstein the variance and the bound on |Z - E Z|.",
            steps=(
                r"\mathbb{E}Z = q a + (1-q) c,\qquad a - \mathbb{E}Z = (1-q)(a - c),\qquad c - \mathbb{E}Z = -q\,(a - c)",
                r"\operatorname{Var}Z = q (1-q)^2 (a-c)^2 + (1-q) q^2 (a-c)^2 = q(1-q)(a-c)^2",
                r"|Z - \mathbb{E}Z| \in \{(1-q)|a-c|,\ q|a-c|\} \le \max(q, 1-q)\,|a - c|",
            ))
def _two_point():
    a, c = sp.symbols("a c", real=True)
    z = m * a + (1 - m) * c
    ez = bernoulli_expectation(z, m)
    var = bernoulli_expectation((z - ez) ** 2, m)
    return [("E Z = q a + (1 - q) c", prove_equal(ez, q * a + (1 - q) * c)),
            ("a - E Z = (1 - q)(a - c)", prove_equal(a - ez, (1 - q) * (a - c))),
            ("c - E Z = -q (a - c)", prove_equal(c - ez, -q * (a - c))),
            ("Var Z = q (1 - q)(a - c)^2", prove_equal(var, q * (1 - q) * (a - c) ** 2))]


@derivation("dropout.inference.identity",
            title="Inference is the identity, and equals the training-mode expectation (no rescaling needed)",
            latex=r"y_{\text{infer}} = x = \mathbb{E}_m\Big[\frac{m\,x}{q}\Big];\qquad "
                  r"\text{un-inverted: } \mathbb{E}_m[m\,x] = q\,x",
            sizes=(), seed=SEED, primary=SRIVASTAVA + " (§4: test-time weights scaled by the retain probability); "
            + TORCH_DROPOUT, assumptions=(KEEP, IID, EXPECT),
            notes="Without the 1/q the training output averages q x, so the original paper multiplies the weights "
                  "by q at test time; inverted dropout moves that factor into training.",
            steps=(
                r"\text{inference: } y_{\text{infer}} = x",
                r"\text{training: } \mathbb{E}[y] = q\,\frac{x}{q} + (1-q)\cdot 0 = x = y_{\text{infer}}",
                r"\text{un-inverted } y = m x:\ \mathbb{E}[m x] = q x\ \Rightarrow\ \text{test time needs } y = q\,x",
            ))
def _inference():
    return [("E_train[y] = y_infer = x", prove_equal(bernoulli_expectation(Y, m), x)),
            ("un-inverted dropout: E[m x] = q x (the test-time weight scaling of Srivastava et al.)",
             prove_equal(bernoulli_expectation(m * x, m), q * x)),
            ("un-inverted dropout, test output q x matches its training mean",
             prove_equal(bernoulli_expectation(m * x, m) - q * x, 0))]


@derivation("dropout.vjp", title="The gradient of dropout reuses the mask: dy/dx = diag(m/q)",
            latex=r"\frac{\partial y}{\partial x} = \operatorname{diag}\Big(\frac{m}{q}\Big),\qquad "
                  r"\bar x = \Big(\frac{\partial y}{\partial x}\Big)^{\!\top}\bar y = \frac{m \odot \bar y}{q}",
            seed=SEED, primary=SRIVASTAVA + "; " + TORCH_DROPOUT, layout="numerator", sizes=("n",),
            assumptions=(KEEP, "the mask m is fixed (drawn once, from the seed)", "numerator layout"),
            notes="Proved entry-wise for a symbolic number n of entries (x, m, dy MatrixSymbols (n, 1)).",
            steps=(
                r"y_i = \frac{m_i x_i}{q}\ \Rightarrow\ \frac{\partial y_i}{\partial x_j} = \frac{m_i}{q}\,\delta_{ij}",
                r"\frac{\partial y}{\partial x} = \operatorname{diag}\Big(\frac{m_1}{q}, \ldots, \frac{m_n}{q}\Big)",
                r"\bar x = \operatorname{diag}\Big(\frac{m}{q}\Big)^{\!\top} \bar y = \frac{m \odot \bar y}{q}\quad(\text{the same mask as the forward pass})",
            ))
def _vjp():
    n = sp.Symbol("n", integer=True, positive=True)
    i, j, k = index("i"), index("j"), index("k")
    xs, ms, dy = (sp.MatrixSymbol(name, n, 1) for name in ("x", "m", "dy"))
    y = lambda r: ms[r, 0] * xs[r, 0] / q  # noqa: E731
    J = sp.diff(y(i), xs[j, 0])
    c = sp.Dummy("c", integer=True)
    vjp = sp.Sum(sp.diff(y(c), xs[j, 0]) * dy[c, 0], (c, 0, n - 1))
    return [("symbolic n: dy_i/dx_j = (m_i/q) delta_ij, i.e. dy/dx = diag(m/q)",
             prove_entry_equal(J, ms[i, 0] / q * sp.KroneckerDelta(i, j), {i: n, j: n}), sc.GENERAL),
            ("symbolic n: (J^T dy)_j = sum_i (dy_i/dx_j) dy_i = m_j dy_j / q",
             prove_entry_equal(vjp, ms[j, 0] * dy[j, 0] / q, {j: n}), sc.GENERAL),
            ("symbolic n: the Jacobian does not depend on x (dropout is linear for a fixed mask)",
             prove_entry_equal(sp.diff(J, xs[k, 0]), sp.Integer(0), {i: n, j: n, k: n}), sc.GENERAL)]


# ---------------------------------------------------------------- Wager et al.: dropout as adaptive L2

def _wager_point(xv, yv, w, ms):
    """(y - w^T (m * x)/q)^2 for one data point."""
    pred = sum(w[j] * ms[j] * xv[j] for j in range(len(w))) / q
    return (yv - pred) ** 2


@derivation("dropout.wager.linear_regression",
            title="Dropout on the inputs of linear regression is an adaptive L2 penalty",
            latex=r"\mathbb{E}_m\Big[\big(y - w^\top(m\odot x)/q\big)^2\Big] = (y - w^\top x)^2 + "
                  r"\frac{1-q}{q}\sum_j w_j^2 x_j^2;\quad \sum_{n}\mathbb{E}[\cdot] = \lVert Y - Xw\rVert^2 + "
                  r"\frac{1-q}{q}\,w^\top \operatorname{diag}(X^\top X)\,w",
            seed=SEED, primary=WAGER + "; " + SRIVASTAVA + " §9.1 (linear regression)",
            assumptions=(KEEP, IID, "an independent mask per data point", EXPECT,
                         "d features and N data points, both symbolic"),
            sizes=("d", "N"), lemmas=(EXPECTATION,),
            notes="Proved for every d and N: the square of the sum is expanded into a double sum, the expectation "
                  "(a finite sum over the masks, hence linear) is taken term by term with the Bernoulli moments "
                  "E[m_j] = q and E[m_j m_k] = q^2 + delta_jk q (1 - q), and the Kronecker delta is summed out. The "
                  "penalty scales each w_j by the feature's second moment: with 1-q/q = p/(1-p) it is "
                  "Wager et al.'s (p/(1-p)) w^T diag(X^T X) w, an L2 penalty after normalizing the features.",
            steps=(
                r"\big(y - \tfrac1q\textstyle\sum_j m_j x_j w_j\big)^2 = y^2 - \tfrac{2y}{q}\sum_j m_j x_j w_j + "
                r"\tfrac{1}{q^2}\sum_{j,k} m_j m_k\, x_j w_j\, x_k w_k",
                r"\mathbb{E}m_j = q,\qquad \mathbb{E}[m_j m_k] = q^2 + \delta_{jk}\,q(1-q)\ (\mathbb{E}m_j^2 = q;\ "
                r"\text{independent for } j \ne k)",
                r"\mathbb{E}[\cdot] = y^2 - 2y\sum_j x_j w_j + \sum_{j,k} x_j w_j x_k w_k + \tfrac{1-q}{q}\sum_j x_j^2 w_j^2 "
                r"= (y - w^\top x)^2 + \tfrac{1-q}{q}\sum_j w_j^2 x_j^2",
                r"\sum_{n} \sum_j w_j^2 x_{nj}^2 = \sum_j w_j^2 (X^\top X)_{jj} = w^\top \operatorname{diag}(X^\top X)\, w",
            ))
def _wager():
    d, N = sp.symbols("d N", integer=True, positive=True)
    w, xs, ms, X, Yv = (sp.IndexedBase(v, real=True) for v in ("w", "x", "m", "X", "Y"))
    yv = sp.Symbol("y", real=True)
    j, k, r = (sp.Dummy(v, integer=True) for v in "jkr")
    b = lambda i: xs[i] * w[i]  # noqa: E731
    S = lambda i, f: sp.Sum(f(i), (i, 0, d - 1))  # noqa: E731
    # the square of the masked prediction's residual, as a product of two sums (bound indices j and k)
    loss = (yv - S(j, lambda i: ms[i] * b(i)) / q) * (yv - S(k, lambda i: ms[i] * b(i)) / q)
    expanded = (yv ** 2 - 2 * yv / q * S(j, lambda i: ms[i] * b(i))
                + sp.Sum(ms[j] * ms[k] * b(j) * b(k), (j, 0, d - 1), (k, 0, d - 1)) / q ** 2)
    # the Bernoulli moments, from the two-entry mask distribution (dimension-free)
    m1, m2 = sp.symbols("m_1 m_2", real=True)
    delta = sp.Symbol("delta", real=True)
    moment = q ** 2 + delta * q * (1 - q)
    # the expectation, term by term: E m_j = q, E m_j m_k = q^2 + delta_jk q (1 - q)
    expected = (yv ** 2 - 2 * yv / q * S(j, lambda i: q * b(i))
                + sp.Sum(moment.subs(delta, sp.KroneckerDelta(j, k)) * b(j) * b(k), (j, 0, d - 1), (k, 0, d - 1)) / q ** 2)
    inner = sp.Sum(sp.KroneckerDelta(j, k) * b(k), (k, 0, d - 1))
    split = (yv ** 2 - 2 * yv / q * S(j, lambda i: q * b(i))
             + (q ** 2 * sp.Sum(b(j) * b(k), (j, 0, d - 1), (k, 0, d - 1)) + q * (1 - q) * S(j, lambda i: b(i) * inner.xreplace({j: i}))) / q ** 2)
    jj = index("j")
    plain = (yv - S(j, b)) * (yv - S(k, b))
    penalty = (1 - q) / q * S(j, lambda i: w[i] ** 2 * xs[i] ** 2)
    # the data set: N points, each with its own mask; sum of the per-point expected losses
    resid = lambda n_, i: Yv[n_] - sp.Sum(X[n_, i] * w[i], (i, 0, d - 1))  # noqa: E731
    per_point = sp.Sum(resid(r, j) * resid(r, k) + (1 - q) / q * sp.Sum(w[j] ** 2 * X[r, j] ** 2, (j, 0, d - 1)),
                       (r, 0, N - 1))
    data_form = (sp.Sum(resid(r, j) * resid(r, k), (r, 0, N - 1))
                 + (1 - q) / q * S(j, lambda i: w[i] ** 2 * sp.Sum(X[r, i] ** 2, (r, 0, N - 1))))
    rr = sp.Symbol("r", nonnegative=True)   # (1 - q)/q = r >= 0 for q = 1/(1 + r) in (0, 1]
    return [("one entry: E m = q, E m^2 = q; two independent entries: E m_1 m_2 = q^2; so E m_j m_k = q^2 + delta_jk q(1-q)",
             combine([prove_equal(bernoulli_expectation(m, m), q), prove_equal(bernoulli_expectation(m ** 2, m), moment.subs(delta, 1)),
                      prove_equal(mask_expectation(m1 * m2, [m1, m2]), moment.subs(delta, 0))]), sc.GENERAL),
            ("symbolic d: (y - sum_j m_j x_j w_j / q)^2 = y^2 - (2y/q) sum_j m_j x_j w_j + (1/q^2) sum_{j,k} m_j m_k x_j w_j x_k w_k",
             prove_sums_equal(loss, expanded, None), sc.GENERAL),
            ("symbolic d, the expectation term by term: (1/q^2) sum_{j,k} (q^2 + delta_jk q(1-q)) x_j w_j x_k w_k = "
             "sum_{j,k} x_j w_j x_k w_k + ((1-q)/q) sum_j x_j w_j sum_k delta_jk x_k w_k", prove_sums_equal(expected, split, None),
             sc.GENERAL),
            ("symbolic d, 0 <= j <= d-1: sum_k delta_jk x_k w_k = x_j w_j",
             prove_entry_equal(sp.Sum(sp.KroneckerDelta(jj, k) * b(k), (k, 0, d - 1)), b(jj), {jj: d}), sc.GENERAL),
            ("symbolic d: E_m[(y - w^T(m x)/q)^2] = (y - w^T x)^2 + ((1-q)/q) sum_j w_j^2 x_j^2",
             prove_sums_equal(split.xreplace({inner: b(j)}), plain + penalty, None), sc.GENERAL),
            ("symbolic N, d: sum over the points of the expected losses = ||Y - X w||^2 + ((1-q)/q) sum_j w_j^2 (X^T X)_jj",
             prove_sums_equal(per_point, data_form, None), sc.GENERAL),
            ("symbolic d: the penalty is >= 0 (a sum of squares times (1-q)/q >= 0)",
             prove_true(sp.Ge(rr * S(j, lambda i: w[i] ** 2 * xs[i] ** 2), 0)), sc.GENERAL)]


# ---------------------------------------------------------------- the kept count, mask agreement

@derivation("dropout.count.binomial", title="The number of kept entries is Binomial(n, q)",
            latex=r"K = \sum_{i=1}^n m_i \sim \mathrm{Binomial}(n, q):\ P(K = k) = \binom{n}{k} q^k (1-q)^{n-k},\ "
                  r"\mathbb{E}K = nq,\ \operatorname{Var}K = nq(1-q)",
            seed=SEED, primary=SRIVASTAVA, assumptions=(KEEP, IID, EXPECT), sizes=("n",),
            notes="Proved for every n by induction on n with symbolic n and k: K_{n+1} = K_n + m_{n+1}, m_{n+1} "
                  "independent of K_n, so P(K_{n+1} = k) = q P(K_n = k - 1) + (1 - q) P(K_n = k) (Pascal's rule "
                  "closes the step) and the moments add; base case n = 1 (one Bernoulli entry).",
            steps=(
                r"\mathbb{E}m_i = q,\qquad \operatorname{Var}m_i = \mathbb{E}m_i^2 - q^2 = q - q^2 = q(1-q)",
                r"\mathbb{E}K = \sum_i \mathbb{E}m_i = nq,\qquad \operatorname{Var}K = \sum_i \operatorname{Var}m_i = nq(1-q)\ (\text{independence})",
                r"P(K = k) = \sum_{|S| = k} q^{k}(1-q)^{n-k} = \binom{n}{k} q^k (1-q)^{n-k}",
            ))
def _count():
    n, k = sp.Symbol("n", integer=True, positive=True), sp.Symbol("k", integer=True, positive=True)
    pmf = lambda nn, kk: sp.binomial(nn, kk) * q ** kk * (1 - q) ** (nn - kk)  # noqa: E731
    EK, EK2 = sp.symbols("E_K E_K2", real=True)  # the hypothesis: E K_n = n q, E K_n^2 = n q (1 - q) + n^2 q^2
    hyp = {EK: n * q, EK2: n * q * (1 - q) + (n * q) ** 2}
    step_e2 = EK2 + 2 * EK * bernoulli_expectation(m, m) + bernoulli_expectation(m ** 2, m)  # E (K + m)^2, independent
    return [("base case n = 1: P(K = 1) = q, P(K = 0) = 1 - q, E K = q, Var K = q (1 - q)",
             combine([prove_equal(pmf(1, 1), bernoulli_expectation(m, m)), prove_equal(pmf(1, 0), 1 - q),
                      prove_equal(bernoulli_expectation(m ** 2, m) - q ** 2, q * (1 - q))]), sc.base_case(n=1)),
            ("induction step, 1 <= k <= n (symbolic n, k): q P_n(k - 1) + (1 - q) P_n(k) = P_{n+1}(k) (Pascal's rule)",
             prove_zero(sp.combsimp((q * pmf(n, k - 1) + (1 - q) * pmf(n, k) - pmf(n + 1, k)) / (q ** k * (1 - q) ** (n + 1 - k)))),
             sc.INDUCTION_STEP),
            ("induction step, the edges: P_{n+1}(0) = (1 - q) P_n(0), P_{n+1}(n + 1) = q P_n(n)",
             combine([prove_equal((1 - q) * pmf(n, 0), pmf(n + 1, 0)), prove_equal(q * pmf(n, n), pmf(n + 1, n + 1))]),
             sc.INDUCTION_STEP),
            ("induction step: E K_{n+1} = E K_n + E m = (n + 1) q",
             prove_equal((EK + bernoulli_expectation(m, m)).xreplace(hyp), (n + 1) * q), sc.INDUCTION_STEP),
            ("induction step: E K_{n+1}^2 - (E K_{n+1})^2 = (n + 1) q (1 - q) (m_{n+1} independent of K_n)",
             prove_equal(step_e2.xreplace(hyp) - ((n + 1) * q) ** 2, (n + 1) * q * (1 - q)), sc.INDUCTION_STEP)]


@derivation("dropout.seed.agreement", title="Two independent masks agree with probability (q^2 + (1-q)^2)^n",
            latex=r"P(m = m') = \prod_{i=1}^n P(m_i = m'_i) = \big(q^2 + (1-q)^2\big)^n",
            seed=SEED, primary=SRIVASTAVA, assumptions=(KEEP, "m, m' independent masks of n i.i.d. Bernoulli(q)"),
            sizes=("n",),
            notes="Proved for every n by induction: base case n = 1 by enumerating the 4 pairs; step: the entries "
                  "are independent, so P(m = m' on n + 1 entries) = P(m = m' on n) P(m_{n+1} = m'_{n+1}). So a target that ignores the seed is caught: with n = 1000 and q = 0.9 two seeds give the same "
                  "mask with probability 0.82^1000 < 1e-86.",
            steps=(
                r"P(m_i = m'_i) = P(1, 1) + P(0, 0) = q^2 + (1 - q)^2",
                r"\text{independence across } i:\ P(m = m') = \big(q^2 + (1-q)^2\big)^n",
            ))
def _agreement():
    n = sp.Symbol("n", integer=True, positive=True)
    mm = sp.Symbol("mm", real=True)
    one = mask_expectation(m * mm + (1 - m) * (1 - mm), [m, mm])  # P(m_i = m'_i), the 4 pairs enumerated
    a = q ** 2 + (1 - q) ** 2
    return [("base case n = 1, all 4 pairs: P(m_1 = m'_1) = q^2 + (1 - q)^2", prove_equal(one, a), sc.base_case(n=1)),
            ("induction step (symbolic n): P_n = (q^2 + (1 - q)^2)^n, times the independent entry n + 1: "
             "P_{n+1} = (q^2 + (1 - q)^2)^(n+1)", prove_equal(a ** n * one, a ** (n + 1)), sc.INDUCTION_STEP),
            ("q^2 + (1 - q)^2 = 1 - 2 q (1 - q) < 1 for 0 < q < 1 (q = 1/(1 + r), r > 0)",
             prove_positive((2 * q * (1 - q)).subs(q, 1 / (1 + sp.Symbol("r", positive=True)))), sc.GENERAL)]


# ---------------------------------------------------------------- concentration: the thresholds' algebra

alpha = sp.Symbol("alpha", positive=True)
S = sp.Symbol("S", positive=True)   # sum of squared ranges
V = sp.Symbol("V", positive=True)   # sum of variances
b = sp.Symbol("b", positive=True)   # bound on |Z_i - E Z_i|
L = sp.Symbol("L", positive=True)   # ln(2/alpha)


def hoeffding_threshold(alpha_, S_):
    return sp.sqrt(sp.log(2 / alpha_) * S_ / 2)


def bernstein_threshold(L_, V_, b_):
    return L_ * b_ / 3 + sp.sqrt((L_ * b_ / 3) ** 2 + 2 * V_ * L_)


@derivation("dropout.concentration.hoeffding",
            title="Hoeffding's threshold for a false-alarm probability alpha",
            latex=r"P\big(|S_n - \mathbb{E}S_n| \ge t\big) \le 2\exp\!\Big(-\frac{2t^2}{\sum_i (b_i - a_i)^2}\Big);"
                  r"\quad t = \sqrt{\tfrac12 \ln(2/\alpha) \textstyle\sum_i (b_i - a_i)^2} \Rightarrow "
                  r"2\exp(\cdot) = \alpha",
            seed=SEED, primary=HOEFFDING, sizes=(), lemmas=(HOEFFDING_LEMMA,),
            assumptions=("independent terms a_i <= Z_i <= b_i (Hoeffding 1963, Theorem 2, cited, not re-proved)",
                         "0 < alpha < 2", "S = sum (b_i - a_i)^2 > 0"),
            steps=(
                r"2\exp\!\Big(-\frac{2t^2}{S}\Big) = \alpha \iff t^2 = \frac{S}{2}\ln\frac{2}{\alpha}",
                r"t = \sqrt{\frac{S}{2}\ln\frac{2}{\alpha}}\ \Rightarrow\ 2\exp\!\Big(-\ln\frac{2}{\alpha}\Big) = \alpha",
                r"t \text{ increases with } S \text{ and decreases with } \alpha",
            ))
def _hoeffding():
    t = hoeffding_threshold(alpha, S)
    return [("2 exp(-2 t^2 / S) = alpha at t = sqrt(ln(2/alpha) S / 2)", prove_equal(2 * sp.exp(-2 * t ** 2 / S), alpha)),
            ("t^2 = (S/2) ln(2/alpha)", prove_equal(t ** 2, S * sp.log(2 / alpha) / 2)),
            ("alpha = 1e-10: ln(2/alpha) > 0, so t > 0", prove_true(sp.Gt(sp.log(2 / sp.Rational(1, 10 ** 10)), 0)))]


@derivation("dropout.concentration.bernstein",
            title="Bernstein's threshold for a false-alarm probability alpha",
            latex=r"P\big(|S_n - \mathbb{E}S_n| \ge t\big) \le 2\exp\!\Big(-\frac{t^2}{2(V + bt/3)}\Big);\quad "
                  r"t = \frac{Lb}{3} + \sqrt{\Big(\frac{Lb}{3}\Big)^2 + 2VL},\ L = \ln\frac{2}{\alpha} "
                  r"\Rightarrow 2\exp(\cdot) = \alpha",
            seed=SEED, primary=BERNSTEIN, sizes=(), lemmas=(BERNSTEIN_LEMMA,),
            assumptions=("independent terms with |Z_i - E Z_i| <= b, V = sum Var Z_i (Bernstein's inequality, cited, "
                         "not re-proved)", "0 < alpha < 2 (L > 0)"),
            notes="Sharper than Hoeffding when the variance is small against the range (q near 1, or q near 1/2 "
                  "for the squared deviation); the properties use the smaller of the two thresholds, each valid.",
            steps=(
                r"2\exp\!\Big(-\frac{t^2}{2(V + bt/3)}\Big) = \alpha \iff t^2 - \frac{2Lb}{3}\,t - 2VL = 0",
                r"t = \frac{Lb}{3} + \sqrt{\Big(\frac{Lb}{3}\Big)^2 + 2VL}\quad(\text{the positive root})",
            ))
def _bernstein():
    t = bernstein_threshold(L, V, b)
    expo = t ** 2 / (2 * (V + b * t / 3))
    return [("t solves t^2 = 2 L (V + b t/3)", prove_equal(sp.expand(t ** 2), sp.expand(2 * L * (V + b * t / 3)))),
            ("so the exponent t^2 / (2 (V + b t / 3)) = L", prove_equal(expo, L)),
            ("2 exp(-L) = alpha at L = ln(2/alpha)", prove_equal(2 * sp.exp(-L.subs(L, sp.log(2 / alpha))), alpha)),
            ("t > 0", prove_positive(t))]


@derivation("dropout.concentration.binomial_kl",
            title="Hoeffding's binomial tail in KL form, its monotonicity, exact instances",
            latex=r"P(K \ge na) \le \Big[\Big(\frac{q}{a}\Big)^{a}\Big(\frac{1-q}{1-a}\Big)^{1-a}\Big]^n = "
                  r"e^{-n\,D(a\,\Vert\,q)},\ a \ge q;\quad D(a\Vert q) = a\ln\frac{a}{q} + (1-a)\ln\frac{1-a}{1-q}",
            seed=SEED, primary=HOEFFDING + " (Theorem 1, inequality (2.1)); Chernoff (1952), Ann. Math. Statist. 23",
            sizes=("n",), lemmas=(BINOMIAL_KL_LEMMA,),
            assumptions=(KEEP, "K = sum of n independent terms in [0, 1] with mean q (Hoeffding 1963, Theorem 1, "
                               "cited); the lower tail by K -> n - K", "0 < a < 1"),
            notes="D(a||q) increases for a > q and decreases for a < q, so {k : exp(-n D(k/n||q)) > alpha/2} is an "
                  "interval of integers around nq (found by bisection): outside it each tail has probability <= "
                  "alpha/2.",
            steps=(
                r"\ln\Big[\Big(\frac{q}{a}\Big)^{a}\Big(\frac{1-q}{1-a}\Big)^{1-a}\Big]^n = -n\Big(a\ln\frac{a}{q} + (1-a)\ln\frac{1-a}{1-q}\Big) = -n D(a\Vert q)",
                r"\frac{\partial D}{\partial a} = \ln\frac{a}{q} - \ln\frac{1-a}{1-q} = \ln\frac{a(1-q)}{q(1-a)},\qquad a(1-q) - q(1-a) = a - q",
                r"a > q:\ \frac{a(1-q)}{q(1-a)} > 1 \Rightarrow \partial_a D > 0;\qquad a < q:\ \partial_a D < 0;\qquad D(q\Vert q) = 0",
                r"\text{e.g. } n = 10,\ q = \tfrac{3}{10},\ k = 7:\ P(K \ge 7) = \tfrac{6620049}{625000000} \approx 0.0106 \le \Big(\frac{3}{7}\Big)^{7}\Big(\frac{7}{3}\Big)^{3} = \tfrac{81}{2401} \approx 0.0337",
            ))
def _binomial_kl():
    a = sp.Symbol("a", positive=True)
    qq, aa = sp.Symbol("q", positive=True), a
    D = aa * sp.log(aa / qq) + (1 - aa) * sp.log((1 - aa) / (1 - qq))
    n = sp.Symbol("n", positive=True)
    bound_log = n * (aa * sp.log(qq / aa) + (1 - aa) * sp.log((1 - qq) / (1 - aa)))
    dD = sp.diff(D, aa)
    G = sc.GENERAL
    out = [("symbolic n: log of Hoeffding's (2.1) bound = -n D(a||q)",
            prove_equal(sp.expand_log(bound_log, force=True), sp.expand_log(-n * D, force=True)), G),
           ("dD/da = ln(a/q) - ln((1-a)/(1-q))",
            prove_equal(sp.expand_log(dD, force=True),
                        sp.expand_log(sp.log(aa / qq) - sp.log((1 - aa) / (1 - qq)), force=True)), G),
           ("a (1 - q) - q (1 - a) = a - q: the log's argument is > 1 iff a > q",
            prove_equal(aa * (1 - qq) - qq * (1 - aa), aa - qq), G),
           ("D(q||q) = 0", prove_zero(D.subs(aa, qq)), G)]
    # exact instances: the tail (a rational) is below the bound (a rational: integer exponents)
    for nn, qv, k in ((10, sp.Rational(3, 10), 7), (20, sp.Rational(1, 2), 16), (12, sp.Rational(9, 10), 12)):
        tail = sum(sp.binomial(nn, j) * qv ** j * (1 - qv) ** (nn - j) for j in range(k, nn + 1))
        av = sp.Rational(k, nn)
        bound = (qv / av) ** k * (((1 - qv) / (1 - av)) ** (nn - k) if k < nn else 1)
        out.append((f"exact instance of the cited bound (n, q, k) = ({nn}, {qv}, {k}): P(K >= k) <= the bound",
                    prove_true(sp.Le(tail, bound)), sc.lemma_check(BINOMIAL_KL_LEMMA, n=nn, k=k)))
    return out
