"""Batch normalization (training and inference), its running statistics, and its exact gradients.

Per feature (one column of the batch x (N, C)), over the batch axis, with eps > 0:

    mu = (1/N) sum_i x_i,   var = (1/N) sum_i (x_i - mu)^2 (biased),   s = sqrt(var + eps),
    xhat_i = (x_i - mu) / s,   y_i = gamma xhat_i + beta                                  (training)
    y_i = gamma (x_i - running_mean) / sqrt(running_var + eps) + beta                      (inference)
    running' = (1 - m) running + m stat,  stat = mu, and N/(N-1) var (torch, "unbiased") or var ("biased")

Gradients of L = <dy, y> in training mode (the statistics depend on x):

    dx_j = gamma / (N s) (N dy_j - sum_i dy_i - xhat_j sum_i dy_i xhat_i),
    dgamma = sum_i dy_i xhat_i,   dbeta = sum_i dy_i.

Route: the element-wise one. For explicit batch sizes N = 2, 3 (4 where cheap) the column is N real
symbols; SymPy differentiates L = sum_i dy_i y_i through mu, var and the square root, and the prover shows
the compact formula equal to it (polynomial / rational tiers, sqrt(var + eps) a generator). A statement
about all N is then the compact formula's, checked at these sizes (the properties test it at N <= 8).

Seed: 深度学习数学模块 · 05-Batch-Normalization.md (批归一化). Primary: Ioffe & Szegedy (2015), Algorithm 1
and §3; torch.nn.BatchNorm1d for the running statistics (momentum, unbiased running_var); Bessel's correction.
"""
from __future__ import annotations

import dataclasses

import sympy as sp

from .prove import combine, prove_equal, prove_positive, prove_true, prove_zero
from .registry import derivation

SEED_BN = "seed: 深度学习数学模块 · 05-Batch-Normalization.md (批归一化)"
IOFFE = ("Ioffe & Szegedy (2015), Batch normalization: accelerating deep network training by reducing internal "
         "covariate shift, ICML, Algorithm 1 (forward) and §3 (backward, inference)")
TORCH_BN = ("torch.nn.BatchNorm1d (docs: running_mean / running_var updated with momentum, 'the running_var uses "
            "the unbiased estimator', normalization with the biased batch variance)")
KERAS_BN = "Keras 3 keras.layers.BatchNormalization (moving = momentum * moving + (1 - momentum) * batch)"
BESSEL = "Bessel's correction: E[(1/(N-1)) sum (x_i - mean)^2] = sigma^2 for i.i.d. samples"

PER_FEATURE = "per feature (one column of x (N, C)), over the batch axis"
EPS_POS = "eps > 0"
N_GE_2 = "training: N >= 2 rows"
SIZES = "checked for explicit batch sizes N = 2, 3 (4 where cheap): N real symbols x_1..x_N"

gamma = sp.Symbol("gamma", real=True)
beta = sp.Symbol("beta", real=True)
eps = sp.Symbol("epsilon", positive=True)
m = sp.Symbol("m", nonnegative=True)          # torch's momentum, 0 <= m <= 1
a = sp.Symbol("a", positive=True)             # a scale factor


@dataclasses.dataclass
class Column:
    """One feature column of N explicit symbols, its statistics and training-mode outputs."""

    N: int
    x: tuple
    dy: tuple
    mu: sp.Expr
    var: sp.Expr
    s: sp.Expr
    xhat: list
    y: list
    L: sp.Expr


def column(N: int, e=eps, name: str = "x") -> Column:
    x = sp.symbols(f"{name}1:{N + 1}", real=True)
    dy = sp.symbols(f"dy1:{N + 1}", real=True)
    mu = sum(x) / N
    var = sum((xi - mu) ** 2 for xi in x) / N
    s = sp.sqrt(var + e)
    xhat = [(xi - mu) / s for xi in x]
    y = [gamma * h + beta for h in xhat]
    L = sum(d * yi for d, yi in zip(dy, y))
    return Column(N, x, dy, mu, var, s, xhat, y, L)


def _S(c: Column):
    """sum_i dy_i xhat_i."""
    return sum(d * h for d, h in zip(c.dy, c.xhat))


def three_term(c: Column, j: int):
    """The compact input gradient dx_j = gamma/(N s) (N dy_j - sum dy - xhat_j sum dy xhat)."""
    return gamma / (c.N * c.s) * (c.N * c.dy[j] - sum(c.dy) - c.xhat[j] * _S(c))


def _q(e, **kw):
    return prove_zero(e, use_simplify=False, **kw)


def _with_cex(result, cex):
    return dataclasses.replace(result, counterexample=cex)


# ---------------------------------------------------------------- definitions

@derivation("bn.forward.train", kind="definition", title="Batch normalization, training mode",
            latex=r"\mu = \frac1N\sum_i x_i,\quad \sigma^2 = \frac1N\sum_i (x_i-\mu)^2,\quad "
                  r"\hat x_i = \frac{x_i-\mu}{\sqrt{\sigma^2+\varepsilon}},\quad y_i = \gamma\,\hat x_i + \beta",
            seed=SEED_BN, primary=IOFFE, assumptions=(PER_FEATURE, EPS_POS, N_GE_2, "the biased batch variance"),
            notes="torch.nn.BatchNorm1d and Keras normalize with the biased (1/N) variance; the unbiased one "
                  "only enters torch's running_var (bn.running_stats).",
            steps=(
                r"\mu = \frac{1}{N}\sum_{i=1}^N x_i \qquad\text{(mini-batch mean)}",
                r"\sigma^2 = \frac{1}{N}\sum_{i=1}^N (x_i-\mu)^2 = \frac1N\sum_i x_i^2 - \mu^2 \qquad\text{(biased mini-batch variance)}",
                r"\hat x_i = \frac{x_i-\mu}{\sqrt{\sigma^2+\varepsilon}},\qquad \sum_i (x_i - \mu) = 0",
                r"y_i = \gamma\,\hat x_i + \beta \qquad\text{(scale and shift)}",
            ))
def _forward_train():
    c = column(3)
    return [("N = 3: the two-pass variance equals mean(x^2) - mu^2",
             prove_equal(c.var, sum(xi ** 2 for xi in c.x) / 3 - c.mu ** 2)),
            ("N = 3: sum_i (x_i - mu) = 0", _q(sum(xi - c.mu for xi in c.x)))]


@derivation("bn.forward.eval", kind="definition", title="Batch normalization, inference mode",
            latex=r"y_i = \gamma\,\frac{x_i - \hat\mu}{\sqrt{\hat\sigma^2 + \varepsilon}} + \beta,\quad "
                  r"(\hat\mu, \hat\sigma^2) = (\text{running\_mean}, \text{running\_var}) \text{ unchanged}",
            seed=SEED_BN, primary=IOFFE + "; " + TORCH_BN,
            assumptions=(PER_FEATURE, EPS_POS, "running_var >= 0", "the running statistics are not updated"),
            notes="A fixed affine map per feature: y = (gamma / sqrt(rv + eps)) x + (beta - gamma rm / sqrt(rv + eps)).",
            steps=(
                r"y_i = \gamma\,\frac{x_i - \hat\mu}{\sqrt{\hat\sigma^2+\varepsilon}} + \beta "
                r"= \frac{\gamma}{\sqrt{\hat\sigma^2+\varepsilon}}\,x_i + \Big(\beta - \frac{\gamma\,\hat\mu}{\sqrt{\hat\sigma^2+\varepsilon}}\Big)",
                r"\hat\mu = \mu,\ \hat\sigma^2 = \sigma^2\ \Rightarrow\ y^{\text{eval}} = y^{\text{train}}",
            ))
def _forward_eval():
    c = column(3)
    rm, rv = sp.Symbol("rm", real=True), sp.Symbol("rv", nonnegative=True)
    ev = [gamma * (xi - rm) / sp.sqrt(rv + eps) + beta for xi in c.x]
    aff = [gamma / sp.sqrt(rv + eps) * xi + (beta - gamma * rm / sp.sqrt(rv + eps)) for xi in c.x]
    at_batch = [e.subs({rm: c.mu, rv: c.var}) for e in ev]
    return [("N = 3: inference is the affine map (gamma/sqrt(rv+eps)) x + (beta - gamma rm/sqrt(rv+eps))",
             combine(_q(e - f) for e, f in zip(ev, aff))),
            ("N = 3: with the batch's own statistics inference equals training",
             combine(_q(e - t) for e, t in zip(at_batch, c.y)))]


@derivation("bn.running_stats", kind="definition", title="The running statistics (torch momentum, unbiased running_var)",
            latex=r"\hat\mu' = (1-m)\,\hat\mu + m\,\mu,\quad "
                  r"\hat\sigma^{2\prime} = (1-m)\,\hat\sigma^2 + m\,\frac{N}{N-1}\,\sigma^2"
                  r"\quad(\text{bn\_running\_var} = \text{biased}: m\,\sigma^2)",
            seed=SEED_BN, primary=TORCH_BN + "; " + KERAS_BN + "; " + BESSEL,
            assumptions=(PER_FEATURE, N_GE_2, "0 <= m <= 1 (torch's momentum: the weight of the new value)",
                         "bn_running_var: 'unbiased' (torch, default) or 'biased' (declared)"),
            notes="Keras' momentum k is the weight of the OLD value: k = 1 - m. The unbiased variance "
                  "N/(N-1) var = (1/(N-1)) sum (x_i - mu)^2 needs N >= 2.",
            steps=(
                r"\hat\mu' = (1-m)\,\hat\mu + m\,\mu \qquad (m = 0:\ \text{kept};\ m = 1:\ \text{replaced})",
                r"s^2_{\text{unbiased}} = \frac{N}{N-1}\,\sigma^2 = \frac{1}{N-1}\sum_i (x_i-\mu)^2 \qquad\text{(Bessel)}",
                r"\hat\sigma^{2\prime} = (1-m)\,\hat\sigma^2 + m\,s^2_{\text{unbiased}}\quad\text{(torch)},\qquad (1-m)\,\hat\sigma^2 + m\,\sigma^2\quad\text{(biased)}",
                r"\text{Keras: } k\,\text{old} + (1-k)\,\text{new},\ k = 1 - m\ \Rightarrow\ (1-m)\,\text{old} + m\,\text{new}",
            ))
def _running_stats():
    c = column(3)
    old, new, k = sp.symbols("old new k", real=True)
    upd = lambda o, n, mm: (1 - mm) * o + mm * n  # noqa: E731
    return [("m = 0 keeps the old value", prove_equal(upd(old, new, 0), old)),
            ("m = 1 replaces it by the batch statistic", prove_equal(upd(old, new, 1), new)),
            ("N = 3: N/(N-1) var = (1/(N-1)) sum (x_i - mu)^2",
             prove_equal(sp.Rational(3, 2) * c.var, sum((xi - c.mu) ** 2 for xi in c.x) / 2)),
            ("Keras' k old + (1 - k) new with k = 1 - m is torch's update",
             prove_equal((k * old + (1 - k) * new).subs(k, 1 - m), upd(old, new, m)))]


@derivation("bn.running_var.unbiased", title="The unbiased variance N/(N-1) var has expectation sigma^2",
            latex=r"\mathbb E\Big[\frac{N}{N-1}\,\sigma^2_{\text{batch}}\Big] = \sigma^2,\qquad "
                  r"\mathbb E[\sigma^2_{\text{batch}}] = \frac{N-1}{N}\,\sigma^2",
            seed=SEED_BN, primary=BESSEL + "; " + TORCH_BN,
            assumptions=("x_i = mu + e_i i.i.d.: E[e_i] = 0, E[e_i^2] = sigma^2, E[e_i e_j] = 0 (i != j)", SIZES),
            notes="Why torch folds N/(N-1) var into running_var: it estimates the population variance without bias.",
            steps=(
                r"x_i = \mu_0 + e_i,\quad \sigma^2_{\text{batch}} = \frac1N\sum_i (e_i - \bar e)^2 = \frac1N\sum_i e_i^2 - \bar e^2",
                r"\mathbb E\Big[\frac1N\sum_i e_i^2\Big] = \sigma^2,\qquad \mathbb E[\bar e^2] = \frac{1}{N^2}\sum_{i,j}\mathbb E[e_i e_j] = \frac{\sigma^2}{N}",
                r"\mathbb E[\sigma^2_{\text{batch}}] = \sigma^2 - \frac{\sigma^2}{N} = \frac{N-1}{N}\,\sigma^2\ \Rightarrow\ \mathbb E\Big[\frac{N}{N-1}\,\sigma^2_{\text{batch}}\Big] = \sigma^2",
            ))
def _running_var_unbiased():
    mu0 = sp.Symbol("mu_0", real=True)
    sigma2 = sp.Symbol("sigma2", positive=True)
    out = []
    for N in (2, 3, 4):
        e = sp.symbols(f"e1:{N + 1}", real=True)
        xs = [mu0 + ei for ei in e]
        mean = sum(xs) / N
        var = sp.expand(sum((xi - mean) ** 2 for xi in xs) / N)

        def expectation(expr):
            """E[.] of a polynomial of degree <= 2 in independent zero-mean e_i with E[e_i^2] = sigma2."""
            poly = sp.Poly(expr, *e)
            total = sp.Integer(0)
            for monom, coeff in poly.terms():
                if all(p == 0 for p in monom):
                    total += coeff
                elif sorted(monom)[-1] == 2 and sum(monom) == 2:
                    total += coeff * sigma2
                # any monomial with an e_i to the first power has expectation 0 (independent, zero mean)
            return total

        ev = expectation(var)
        out.append((f"N = {N}: E[var_batch] = (N-1)/N sigma^2", prove_equal(ev, sp.Rational(N - 1, N) * sigma2)))
        out.append((f"N = {N}: E[N/(N-1) var_batch] = sigma^2",
                    prove_equal(expectation(sp.expand(sp.Rational(N, N - 1) * var)), sigma2)))
    return out


# ---------------------------------------------------------------- gradients

@derivation("bn.jacobian.xhat", title="The Jacobian of the normalized column",
            latex=r"\frac{\partial \hat x_i}{\partial x_j} = \frac{1}{\sqrt{\sigma^2+\varepsilon}}"
                  r"\Big(\delta_{ij} - \frac1N - \frac{\hat x_i\,\hat x_j}{N}\Big)",
            seed=SEED_BN, primary=IOFFE, assumptions=(PER_FEATURE, EPS_POS, SIZES),
            layout="numerator: J[i, j] = d xhat_i / d x_j (symmetric)",
            notes="The oracle (derivations/oracle_bn.py) builds this N x N matrix per feature for the VJP.",
            steps=(
                r"\frac{\partial\mu}{\partial x_j} = \frac1N,\qquad \frac{\partial\sigma^2}{\partial x_j} = \frac2N\sum_i (x_i-\mu)\Big(\delta_{ij}-\frac1N\Big) = \frac{2}{N}(x_j-\mu)",
                r"\frac{\partial}{\partial x_j}\,(\sigma^2+\varepsilon)^{-1/2} = -\frac{1}{2}(\sigma^2+\varepsilon)^{-3/2}\,\frac2N(x_j-\mu) = -\frac{\hat x_j}{N\,(\sigma^2+\varepsilon)}",
                r"\frac{\partial \hat x_i}{\partial x_j} = \frac{\delta_{ij} - \frac1N}{\sqrt{\sigma^2+\varepsilon}} - (x_i-\mu)\,\frac{\hat x_j}{N(\sigma^2+\varepsilon)} = \frac{1}{\sqrt{\sigma^2+\varepsilon}}\Big(\delta_{ij} - \frac1N - \frac{\hat x_i\hat x_j}{N}\Big)",
            ))
def _jacobian_xhat():
    out = []
    for N in (2, 3):
        c = column(N)
        res = [_q(sp.diff(c.xhat[i], c.x[j]) - ((1 if i == j else 0) - sp.Rational(1, N) - c.xhat[i] * c.xhat[j] / N) / c.s)
               for i in range(N) for j in range(N)]
        out.append((f"N = {N}: sp.diff(xhat_i, x_j) equals the compact form, all (i, j)", combine(res)))
        out.append((f"N = {N}: d var / d x_j = (2/N)(x_j - mu)",
                    combine(_q(sp.diff(c.var, c.x[j]) - 2 * (c.x[j] - c.mu) / N) for j in range(N))))
    return out


@derivation("bn.backward.three_term", title="The batch-norm input gradient (three terms)",
            latex=r"\frac{\partial L}{\partial x_j} = \frac{\gamma}{N\sqrt{\sigma^2+\varepsilon}}"
                  r"\Big(N\,dy_j - \sum_i dy_i - \hat x_j \sum_i dy_i\,\hat x_i\Big),\quad L = \sum_i dy_i\,y_i",
            seed=SEED_BN, primary=IOFFE, assumptions=(PER_FEATURE, EPS_POS, N_GE_2, "training mode", SIZES),
            layout="numerator: dx_j = sum_i dy_i dy_i/dx_j (a VJP, J symmetric)",
            steps=(
                r"\frac{\partial L}{\partial x_j} = \sum_i dy_i\,\gamma\,\frac{\partial \hat x_i}{\partial x_j} = \frac{\gamma}{\sqrt{\sigma^2+\varepsilon}}\sum_i dy_i\Big(\delta_{ij} - \frac1N - \frac{\hat x_i\hat x_j}{N}\Big)",
                r"= \frac{\gamma}{\sqrt{\sigma^2+\varepsilon}}\Big(dy_j - \frac1N\sum_i dy_i - \frac{\hat x_j}{N}\sum_i dy_i\,\hat x_i\Big)",
                r"= \frac{\gamma}{N\sqrt{\sigma^2+\varepsilon}}\Big(N\,dy_j - \sum_i dy_i - \hat x_j\sum_i dy_i\,\hat x_i\Big)",
            ))
def _three_term():
    out = []
    for N in (2, 3, 4):
        c = column(N)
        out.append((f"N = {N}: sp.diff(sum_i dy_i y_i, x_j) equals the three-term formula, every j",
                    combine(_q(sp.diff(c.L, c.x[j]) - three_term(c, j)) for j in range(N))))
    return out


@derivation("bn.backward.gamma_beta", title="The gradients of gamma and beta",
            latex=r"\frac{\partial L}{\partial\gamma} = \sum_i dy_i\,\hat x_i,\qquad \frac{\partial L}{\partial\beta} = \sum_i dy_i",
            seed=SEED_BN, primary=IOFFE, assumptions=(PER_FEATURE, EPS_POS, "training mode", SIZES),
            steps=(
                r"L = \sum_i dy_i\,(\gamma\,\hat x_i + \beta),\quad \hat x_i \text{ does not depend on } \gamma, \beta",
                r"\frac{\partial L}{\partial\gamma} = \sum_i dy_i\,\hat x_i,\qquad \frac{\partial L}{\partial\beta} = \sum_i dy_i",
            ))
def _gamma_beta():
    out = []
    for N in (2, 3):
        c = column(N)
        out.append((f"N = {N}: dL/dgamma = sum dy xhat", _q(sp.diff(c.L, gamma) - _S(c))))
        out.append((f"N = {N}: dL/dbeta = sum dy", _q(sp.diff(c.L, beta) - sum(c.dy))))
    return out


@derivation("bn.forward.zero_mean_unit_var", title="The normalized column has mean 0 and mean square var/(var + eps)",
            latex=r"\frac1N\sum_i \hat x_i = 0,\qquad \frac1N\sum_i \hat x_i^2 = \frac{\sigma^2}{\sigma^2+\varepsilon}",
            seed=SEED_BN, primary=IOFFE, assumptions=(PER_FEATURE, EPS_POS, SIZES),
            notes="So xhat has unit variance only as eps -> 0 (for var >> eps); a near-constant column (var ~ eps) "
                  "comes out with mean square var/(var + eps) < 1.",
            steps=(
                r"\sum_i \hat x_i = \frac{1}{\sqrt{\sigma^2+\varepsilon}}\sum_i (x_i - \mu) = 0",
                r"\frac1N\sum_i \hat x_i^2 = \frac{1}{\sigma^2+\varepsilon}\,\frac1N\sum_i (x_i-\mu)^2 = \frac{\sigma^2}{\sigma^2+\varepsilon}",
            ))
def _zero_mean_unit_var():
    out = []
    for N in (2, 3, 4):
        c = column(N)
        out.append((f"N = {N}: sum xhat = 0", _q(sum(c.xhat))))
        out.append((f"N = {N}: mean(xhat^2) = var/(var + eps)", _q(sum(h ** 2 for h in c.xhat) / N - c.var / (c.var + eps))))
    return out


@derivation("bn.grad.orthogonal_ones", title="The input gradient sums to zero over the batch",
            latex=r"\sum_j \frac{\partial L}{\partial x_j} = 0\quad(\text{any } \varepsilon > 0)",
            seed=SEED_BN, primary=IOFFE, assumptions=(PER_FEATURE, EPS_POS, N_GE_2, SIZES),
            notes="y is invariant to x -> x + c 1 (the mean is subtracted), so the gradient is orthogonal to 1.",
            steps=(
                r"\sum_j \Big(N\,dy_j - \sum_i dy_i - \hat x_j\sum_i dy_i\hat x_i\Big) = N\sum_j dy_j - N\sum_i dy_i - \Big(\sum_j \hat x_j\Big)\sum_i dy_i\hat x_i",
                r"\sum_j \hat x_j = 0\ \Rightarrow\ \sum_j \frac{\partial L}{\partial x_j} = 0",
                r"\text{equivalently: } y(x + c\mathbf 1) = y(x)\ \Rightarrow\ \frac{d}{dc}L(x + c\mathbf 1) = \mathbf 1^\top \nabla_x L = 0",
            ))
def _orthogonal_ones():
    out = []
    c_ = sp.Symbol("c", real=True)
    for N in (2, 3, 4):
        c = column(N)
        out.append((f"N = {N}: sum_j sp.diff(L, x_j) = 0", _q(sum(sp.diff(c.L, xj) for xj in c.x))))
    c = column(3)
    shifted = c.L.subs({xi: xi + c_ for xi in c.x}, simultaneous=True)
    out.append(("N = 3: L(x + c 1) = L(x) (shift invariance)", _q(shifted - c.L)))
    return out


def _residual(c: Column):
    return gamma / c.s * _S(c) * eps / (c.var + eps)


@derivation("bn.grad.xhat_residual", title="The input gradient's component along xhat is eps/(var + eps) of a full one",
            latex=r"\sum_j \frac{\partial L}{\partial x_j}\,\hat x_j = \frac{\gamma}{\sqrt{\sigma^2+\varepsilon}}"
                  r"\Big(\sum_i dy_i\,\hat x_i\Big)\frac{\varepsilon}{\sigma^2+\varepsilon}",
            seed=SEED_BN, primary=IOFFE, assumptions=(PER_FEATURE, EPS_POS, N_GE_2, SIZES),
            notes="Orthogonal to xhat only in the limit eps -> 0 (bn.grad.orthogonal_xhat.refuted); for a "
                  "near-constant column (var ~ eps) the residual is of the order of the gradient itself.",
            steps=(
                r"\sum_j \hat x_j\,dx_j = \frac{\gamma}{N\sqrt{\sigma^2+\varepsilon}}\Big(N\sum_j dy_j\hat x_j - \Big(\sum_i dy_i\Big)\sum_j\hat x_j - \Big(\sum_j \hat x_j^2\Big)\sum_i dy_i\hat x_i\Big)",
                r"\sum_j \hat x_j = 0,\qquad \sum_j \hat x_j^2 = \frac{N\sigma^2}{\sigma^2+\varepsilon}",
                r"= \frac{\gamma}{N\sqrt{\sigma^2+\varepsilon}}\Big(\sum_i dy_i\hat x_i\Big)\Big(N - \frac{N\sigma^2}{\sigma^2+\varepsilon}\Big) = \frac{\gamma}{\sqrt{\sigma^2+\varepsilon}}\Big(\sum_i dy_i\hat x_i\Big)\frac{\varepsilon}{\sigma^2+\varepsilon}",
            ))
def _xhat_residual():
    out = []
    for N in (2, 3):
        c = column(N)
        dot = sum(sp.diff(c.L, xj) * h for xj, h in zip(c.x, c.xhat))
        out.append((f"N = {N}: sum_j sp.diff(L, x_j) xhat_j = gamma/s (sum dy xhat) eps/(var + eps)", _q(dot - _residual(c))))
    out.append(("eps -> 0 (var > 0): the factor eps/(var + eps) of the residual vanishes",
                prove_equal(sp.limit(eps / (sp.Symbol("v", positive=True) + eps), eps, 0), 0)))
    return out


@derivation("bn.grad.orthogonal_xhat.refuted", kind="refutation",
            title="The batch-norm input gradient is not orthogonal to xhat for eps > 0",
            latex=r"x = (0, 2),\ dy = (1, 0),\ \gamma = 1,\ \varepsilon = 3:\quad "
                  r"\sum_j \frac{\partial L}{\partial x_j}\,\hat x_j = -\frac{3}{16} \ne 0",
            seed=SEED_BN, primary=IOFFE, assumptions=(PER_FEATURE, EPS_POS),
            notes="The claim holds only at eps = 0; the exact residual is bn.grad.xhat_residual. A second "
                  "counterexample at torch's default eps = 1e-5 is checked too.",
            steps=(
                r"N = 2,\ x = (0, 2):\ \mu = 1,\ \sigma^2 = 1,\ \sqrt{\sigma^2 + 3} = 2,\ \hat x = \Big(-\frac12, \frac12\Big)",
                r"dy = (1, 0):\ \sum_i dy_i = 1,\ \sum_i dy_i\hat x_i = -\frac12",
                r"dx = \frac{1}{2\cdot 2}\Big(2\,dy - 1 + \frac12\,\hat x\Big) = \frac14\Big(\frac{3}{4}, -\frac{3}{4}\Big) = \Big(\frac{3}{16}, -\frac{3}{16}\Big)",
                r"dx\cdot\hat x = -\frac{3}{32} - \frac{3}{32} = -\frac{3}{16} = \frac{1}{2}\Big(-\frac12\Big)\frac{3}{4} \ne 0",
            ))
def _orthogonal_xhat_refuted():
    c = column(2)
    out = []
    for xv, dyv, ev, expected in (((0, 2), (1, 0), sp.Integer(3), sp.Rational(-3, 16)),
                                  ((0, 2), (1, 0), sp.Rational(1, 10 ** 5), None)):
        pt = {c.x[0]: xv[0], c.x[1]: xv[1], c.dy[0]: dyv[0], c.dy[1]: dyv[1], gamma: 1, beta: 0, eps: ev}
        dot = sp.nsimplify(sum(sp.diff(c.L, xj) * h for xj, h in zip(c.x, c.xhat)).subs(pt))
        dot = sp.radsimp(sp.simplify(dot))
        cex = {"point": {"x": str(xv), "dy": str(dyv), "gamma": "1", "eps": str(ev)},
               "value": f"dx . xhat = {dot} ({sp.N(dot, 6)})"}
        if expected is not None:
            out.append((f"x = {xv}, dy = {dyv}, eps = {ev}: dx . xhat = {expected} (sp.diff, exact)",
                        prove_equal(dot, expected)))
        out.append((f"x = {xv}, dy = {dyv}, eps = {ev}: dx . xhat != 0", _with_cex(prove_true(sp.Ne(dot, 0)), cex)))
        out.append((f"x = {xv}, dy = {dyv}, eps = {ev}: it equals the residual of bn.grad.xhat_residual",
                    prove_equal(dot, _residual(c).subs(pt))))
    return out


# ---------------------------------------------------------------- scale invariance

@derivation("bn.scale_invariance", title="Scale invariance: BN_eps(a z) = BN_{eps/a^2}(z), and the eps error bound",
            latex=r"a > 0:\ \mathrm{BN}_\varepsilon(a z) = \mathrm{BN}_{\varepsilon/a^2}(z);\quad "
                  r"|\mathrm{BN}_\varepsilon(a z)_i - \mathrm{BN}_\varepsilon(z)_i| = |\gamma|\,|z_i-\mu|\,"
                  r"\Big|\tfrac{1}{\sqrt{\sigma^2+\varepsilon/a^2}} - \tfrac{1}{\sqrt{\sigma^2+\varepsilon}}\Big|"
                  r"\le |\gamma|\,\frac{|z_i-\mu|}{\sigma}\,\frac{\varepsilon\,|1 - a^{-2}|}{2\sigma^2}",
            seed=SEED_BN, primary=IOFFE + " (§3.3: BN(W u) = BN((a W) u))",
            assumptions=(PER_FEATURE, EPS_POS, "a > 0", "sigma^2 = var(z) > 0 for the bound", SIZES + " (identities)"),
            notes="So BN(a W x) = BN(W x) exactly only at eps = 0; the error is O(eps/var). The property "
                  "bn.scale_invariance checks a target against this bound (plus rounding).",
            steps=(
                r"\mu(a z) = a\,\mu(z),\qquad \sigma^2(a z) = a^2\,\sigma^2(z)",
                r"\hat x_i(a z) = \frac{a(z_i-\mu)}{\sqrt{a^2\sigma^2+\varepsilon}} = \frac{z_i-\mu}{\sqrt{\sigma^2+\varepsilon/a^2}} \quad (a > 0)",
                r"\mathrm{BN}_\varepsilon(a z)_i - \mathrm{BN}_\varepsilon(z)_i = \gamma\,(z_i-\mu)\Big(\frac{1}{p} - \frac{1}{q}\Big),\quad p = \sqrt{\sigma^2+\varepsilon/a^2},\ q = \sqrt{\sigma^2+\varepsilon}",
                r"\frac1p - \frac1q = \frac{q^2-p^2}{p\,q\,(p+q)} = \frac{\varepsilon\,(1 - a^{-2})}{p\,q\,(p+q)}",
                r"p, q \ge \sigma\ \Rightarrow\ p\,q\,(p+q) \ge 2\sigma^3\ \Rightarrow\ \Big|\frac1p - \frac1q\Big| \le \frac{\varepsilon\,|1-a^{-2}|}{2\sigma^3}",
            ))
def _scale_invariance():
    out = []
    for N in (2, 3):
        z = column(N, name="z")
        az = [a * zi for zi in z.x]
        mu_a = sum(az) / N
        var_a = sum((v - mu_a) ** 2 for v in az) / N
        xh_a = [(v - mu_a) / sp.sqrt(var_a + eps) for v in az]
        xh_small = [(zi - z.mu) / sp.sqrt(z.var + eps / a ** 2) for zi in z.x]
        out.append((f"N = {N}: mu(a z) = a mu(z), var(a z) = a^2 var(z)",
                    combine([prove_equal(mu_a, a * z.mu), prove_equal(var_a, a ** 2 * z.var)])))
        out.append((f"N = {N}: xhat_eps(a z) = xhat_(eps/a^2)(z)", combine(_q(p - q) for p, q in zip(xh_a, xh_small))))
        out.append((f"N = {N}: BN_eps(a z) - BN_eps(z) = gamma (z_i - mu)(1/p - 1/q)",
                    combine(_q(gamma * p - gamma * q - gamma * (zi - z.mu) * (1 / sp.sqrt(z.var + eps / a ** 2) - 1 / z.s))
                            for p, q, zi in zip(xh_a, z.xhat, z.x))))
    # the bound: sigma = r > 0, e1, e2 >= 0, p = sqrt(r^2 + e1), q = sqrt(r^2 + e2)
    r = sp.Symbol("sigma", positive=True)
    e1, e2, t1, t2 = sp.symbols("e1 e2 t1 t2", nonnegative=True)
    P, Q = sp.symbols("p q", positive=True)
    p, q = sp.sqrt(r ** 2 + e1), sp.sqrt(r ** 2 + e2)
    out.append(("1/p - 1/q = (q^2 - p^2)/(p q (p + q)) (p, q > 0)", _q(1 / P - 1 / Q - (Q ** 2 - P ** 2) / (P * Q * (P + Q)))))
    out.append(("q^2 - p^2 = e2 - e1, with e1 = eps/a^2, e2 = eps: eps (1 - 1/a^2)",
                combine([_q(q ** 2 - p ** 2 - (e2 - e1)), prove_equal(eps - eps / a ** 2, eps * (1 - a ** -2))])))
    out.append(("p - sigma = e1/(p + sigma) >= 0, so p >= sigma (likewise q)",
                combine([_q(p - r - e1 / (p + r)), prove_true(sp.Ge(e1 / (p + r), 0))])))
    prod = sp.expand((r + t1) * (r + t2) * (2 * r + t1 + t2) - 2 * r ** 3)
    out.append(("p = sigma + t1, q = sigma + t2 (t >= 0): p q (p + q) - 2 sigma^3 is a sum of non-negative terms",
                prove_true(sp.Ge(prod, 0))))
    out.append(("at eps = 0 the invariance is exact: eps (1 - 1/a^2)/(2 sigma^3) = 0",
                prove_equal((eps * (1 - a ** -2) / (2 * r ** 3)).subs(eps, 0), 0)))
    out.append(("2 sigma^3 > 0 (the bound is finite for sigma > 0)", prove_positive(2 * r ** 3)))
    return out
