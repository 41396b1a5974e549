"""Batch normalization (training and inference), its running statistics, and its exact gradients.

Per feature (one column of the batch x (N, C)), over the batch axis, with eps > 0:

    mu = (1/N) sum_i x_i,   var = (1/N) sum_i (x_i - mu)^2 (biased),   s = sqrt(var + eps),
    xhat_i = (x_i - mu) / s,   y_i = gamma xhat_i + beta                                  (training)
    y_i = gamma (x_i - running_mean) / sqrt(running_var + eps) + beta                      (inference)
    running' = (1 - m) running + m stat,  stat = mu, and N/(N-1) var (torch, "unbiased") or var ("biased")

Gradients of L = <dy, y> in training mode (the statistics depend on x):

    dx_j = gamma / (N s) (N dy_j - sum_i dy_i - xhat_j sum_i dy_i xhat_i),
    dgamma = sum_i dy_i xhat_i,   dbeta = sum_i dy_i.

Route: symbolic batch size N. The column is x[0..N-1] (an IndexedBase, N a SymPy integer symbol) and every
statistic a finite Sum with upper bound N - 1. Gradients go through the chain rule with the statistics as
opaque symbols: dL/dx_j = dF/dx_j + dF/dmu dmu/dx_j + dF/dvar dvar/dx_j for L(x) = F(x, mu(x), var(x)),
each factor an obligation (dmu/dx_j = 1/N and dvar/dx_j = (2/N)(x_j - mu) from the explicit sums, the
partials at fixed mu, var entry-wise with Kronecker deltas) and the assembly an identity in the opaque
symbols. Sum identities (sum xhat = 0, mean square, residual) are decided with every normalized sum an
atom and the definitions substituted (`_atom_eq`). Every BN theorem is proved for every N (the explicit
N = 2 column, `column`, remains for the refutation's counterexample and for tests).

Seed: 深度学习数学模块 · 05-Batch-Normalization.md (批归一化). Primary: Ioffe & Szegedy (2015), Algorithm 1
and §3; torch.nn.BatchNorm1d for the running statistics (momentum, unbiased running_var); Bessel's correction.
"""
from __future__ import annotations

import dataclasses
import functools

import sympy as sp

from . import scope as sc
from .indexed import prove_entry_equal
from .prove import ProofResult, as_expr, combine, prove_equal, prove_positive, prove_true, prove_zero
from .lemmas import EXPECTATION
from .registry import derivation
from .sums import normal_form, prove_sums_equal

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
SYM_N = "proved for a symbolic batch size N (finite sums with upper bound N - 1), not at fixed sizes"

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


# ---------------------------------------------------------------- symbolic batch size N
#
# The column is x[0..N-1] (an IndexedBase) with N a symbolic positive integer; sums are SymPy `Sum`s with
# symbolic upper bound N - 1. Two exact devices keep the proofs cheap (each well under a second):
#
# - opaque statistics: mu, v (= var) and s (= sqrt(v + eps) > 0) are symbols. A derivative through the
#   statistics is the chain rule  dL/dx_j = dF/dx_j + dF/dmu dmu/dx_j + dF/dv dv/dx_j  for
#   L(x) = F(x, mu(x), var(x)), each factor its own obligation (partials at fixed mu, v entry-wise with
#   Kronecker deltas; d mu/d x_j and d var/d x_j from the explicit sums);
# - sums as atoms (`_atom_eq`): both sides are brought to the finite-sum normal form (linearity, constants
#   out, Fubini, idle indices summed: `normal_form`); every remaining distinct sum becomes one real symbol; then
#   the definitions are substituted in order (S_1 = sum dy, S_2 = sum dy xhat, eps = s^2 - v, v = the
#   variance about mu, mu = (sum x)/N) and the rational tier decides. Sound: an identity in independent
#   symbols holds at every value of them, in particular at the actual sums; anything short of "proved"
#   is reported "undecided" (a "refutation" of the generalized identity would not refute the statement).

Nn = sp.Symbol("N", integer=True, positive=True)
X = sp.IndexedBase("x", real=True)
DY = sp.IndexedBase("dy", real=True)
MU = sp.Symbol("mu", real=True)            # the batch mean, opaque
V = sp.Symbol("v", nonnegative=True)       # the batch variance, opaque
SD = sp.Symbol("s", positive=True)         # sqrt(v + eps), opaque
S1, S2 = sp.symbols("S_1 S_2", real=True)  # sum_i dy_i and sum_i dy_i xhat_i, opaque
_i, _j, _r, _q_ = (sp.Symbol(nm, integer=True, nonnegative=True) for nm in ("i", "j", "r", "q"))


def _sum(body, k):
    return sp.Sum(body, (k, 0, Nn - 1))


def mu_of(xf) -> sp.Expr:
    """mu = (1/N) sum_q x_q for the column q -> xf(q)."""
    return _sum(xf(_q_), _q_) / Nn


def var_of(xf, m) -> sp.Expr:
    """var = (1/N) sum_r (x_r - m)^2 (m = mu_of(xf) for the batch variance; an opaque MU for the chain rule)."""
    return _sum((xf(_r) - m) ** 2, _r) / Nn


def _x(k):
    return X[k]


#: the definitions substituted (in this order) by `_atom_eq`
DEF_S1 = (S1, _sum(DY[_i], _i))
DEF_S2 = (S2, _sum(DY[_i] * (X[_i] - MU) / SD, _i))
DEF_EPS = (eps, SD ** 2 - V)
DEF_V = (V, var_of(_x, MU))
DEF_MU = (MU, mu_of(_x))
DEFS = (DEF_S1, DEF_S2, DEF_EPS, DEF_V, DEF_MU)


def _undecided_unless_proved(r: ProofResult, how: str) -> ProofResult:
    if r.proved:
        return dataclasses.replace(r, method=f"{how}; {r.method}")
    return ProofResult("undecided", how, "not shown for every N: " + r.detail)


def _sum_eq(lhs, rhs, bounds: dict | None = None) -> ProofResult:
    """lhs == rhs for every N: both in the finite-sum normal form, then the rational tier."""
    a, b = normal_form(lhs, bounds), normal_form(rhs, bounds)
    if a == b:
        return ProofResult("proved", "finite sums (symbolic N)", "equal in the finite-sum normal form")
    return _undecided_unless_proved(_q(a - b), "finite sums (symbolic N)")


def _atom_eq(lhs, rhs, defs=DEFS, bounds: dict | None = None) -> ProofResult:
    """lhs == rhs for every N, with the sums as atoms and the definitions ``defs`` substituted in order."""
    table: dict = {}

    def atoms(e):
        for s in sorted(e.atoms(sp.Sum), key=sp.default_sort_key):
            table.setdefault(s, sp.Symbol(f"A_{len(table)}", real=True))
        return e.xreplace(table)

    d = atoms(normal_form(as_expr(lhs) - rhs, bounds))
    for sym, val in defs:
        d = d.xreplace({sym: atoms(normal_form(val))})
    if d.has(sp.Sum):
        return ProofResult("undecided", "finite sums as atoms (symbolic N)", "a sum left inside an atom")
    return _undecided_unless_proved(_q(d), "finite sums as atoms (symbolic N)")


@functools.lru_cache(maxsize=None)
def _stat_gradients() -> tuple:
    """d mu/d x_j = 1/N and d var/d x_j = (2/N)(x_j - mu), for every N, from the explicit sums."""
    mu_e = mu_of(_x)
    var_e = var_of(_x, mu_e)
    return (("d mu/d x_j = 1/N (sp.diff of the sum: Kronecker deltas, symbolic N)",
             prove_entry_equal(sp.diff(mu_e, X[_j]), 1 / Nn, {_j: Nn}), sc.GENERAL),
            ("d var/d x_j = (2/N)(x_j - mu) (sp.diff of the explicit sum, with sum_r (x_r - mu) = 0; symbolic N)",
             _sum_eq(sp.diff(var_e, X[_j]), 2 * (X[_j] - mu_e) / Nn, {_j: Nn}), sc.GENERAL))


def _F():
    """F(x, mu, v) = sum_i dy_i (gamma (x_i - mu)/sqrt(v + eps) + beta): L = F(x, mu(x), var(x))."""
    return _sum(DY[_i] * (gamma * (X[_i] - MU) / sp.sqrt(V + eps) + beta), _i)


def three_term_sym(xj, dyj):
    """The compact gradient gamma/(N s) (N dy_j - S_1 - xhat_j S_2), xhat_j = (x_j - mu)/s, in the opaque symbols."""
    return gamma / (Nn * SD) * (Nn * dyj - S1 - (xj - MU) / SD * S2)


@functools.lru_cache(maxsize=None)
def _three_term_general() -> tuple:
    """The chain-rule proof of the three-term formula for every N (the pieces and their assembly)."""
    F, s = _F(), sp.sqrt(V + eps)
    s1, s2 = _sum(DY[_i], _i), _sum(DY[_i] * (X[_i] - MU) / s, _i)
    xj, dyj = sp.symbols("x_j dy_j", real=True)
    total = gamma * dyj / s + (-gamma * S1 / s) / Nn + (-gamma * S2 / (2 * (V + eps))) * 2 * (xj - MU) / Nn
    return _stat_gradients() + (
        ("dF/dx_j at fixed mu, v = gamma dy_j / sqrt(v + eps) (Kronecker delta, symbolic N)",
         prove_sums_equal(sp.diff(F, X[_j]), gamma * DY[_j] / s, {_j: Nn}), sc.GENERAL),
        ("dF/dmu = -gamma S_1 / sqrt(v + eps), S_1 = sum_i dy_i (symbolic N)",
         prove_sums_equal(sp.diff(F, MU), -gamma * s1 / s, None), sc.GENERAL),
        ("dF/dv = -gamma S_2 / (2 (v + eps)), S_2 = sum_i dy_i xhat_i (symbolic N)",
         prove_sums_equal(sp.diff(F, V), -gamma * s2 / (2 * (V + eps)), None), sc.GENERAL),
        ("chain rule assembled: dF/dx_j + dF/dmu (1/N) + dF/dv (2/N)(x_j - mu) = gamma/(N s)(N dy_j - S_1 - xhat_j S_2)",
         _q((total - three_term_sym(xj, dyj)).xreplace({SD: s})), sc.GENERAL))


# ---------------------------------------------------------------- definitions

@derivation("bn.forward.train", kind="definition", title="Batch normalization, training mode",
            latex=r"\mu = \frac1N\sum_i x_i,\quad \sigma^2 = \frac1N\sum_i (x_i-\mu)^2,\quad "
                  r"\hat x_i = \frac{x_i-\mu}{\sqrt{\sigma^2+\varepsilon}},\quad y_i = \gamma\,\hat x_i + \beta",
            seed=SEED_BN, sizes=("N",), primary=IOFFE, assumptions=(PER_FEATURE, EPS_POS, N_GE_2, "the biased batch variance"),
            notes="torch.nn.BatchNorm1d and Keras normalize with the biased (1/N) variance; the unbiased one "
                  "only enters torch's running_var (bn.running_stats).",
            steps=(
                r"\mu = \frac{1}{N}\sum_{i=1}^N x_i \qquad\text{(mini-batch mean)}",
                r"\sigma^2 = \frac{1}{N}\sum_{i=1}^N (x_i-\mu)^2 = \frac1N\sum_i x_i^2 - \mu^2 \qquad\text{(biased mini-batch variance)}",
                r"\hat x_i = \frac{x_i-\mu}{\sqrt{\sigma^2+\varepsilon}},\qquad \sum_i (x_i - \mu) = 0",
                r"y_i = \gamma\,\hat x_i + \beta \qquad\text{(scale and shift)}",
            ))
def _forward_train():
    return [("the two-pass variance equals mean(x^2) - mu^2 (symbolic N)",
             _atom_eq(V, _sum(X[_r] ** 2, _r) / Nn - MU ** 2, (DEF_V, DEF_MU)), sc.GENERAL),
            ("sum_i (x_i - mu) = 0 (symbolic N)", _atom_eq(_sum(X[_i] - MU, _i), 0, (DEF_MU,)), sc.GENERAL)]


@derivation("bn.forward.eval", kind="definition", title="Batch normalization, inference mode",
            latex=r"y_i = \gamma\,\frac{x_i - \hat\mu}{\sqrt{\hat\sigma^2 + \varepsilon}} + \beta,\quad "
                  r"(\hat\mu, \hat\sigma^2) = (\text{running\_mean}, \text{running\_var}) \text{ unchanged}",
            seed=SEED_BN, sizes=("N",), primary=IOFFE + "; " + TORCH_BN,
            assumptions=(PER_FEATURE, EPS_POS, "running_var >= 0", "the running statistics are not updated"),
            notes="A fixed affine map per feature: y = (gamma / sqrt(rv + eps)) x + (beta - gamma rm / sqrt(rv + eps)).",
            steps=(
                r"y_i = \gamma\,\frac{x_i - \hat\mu}{\sqrt{\hat\sigma^2+\varepsilon}} + \beta "
                r"= \frac{\gamma}{\sqrt{\hat\sigma^2+\varepsilon}}\,x_i + \Big(\beta - \frac{\gamma\,\hat\mu}{\sqrt{\hat\sigma^2+\varepsilon}}\Big)",
                r"\hat\mu = \mu,\ \hat\sigma^2 = \sigma^2\ \Rightarrow\ y^{\text{eval}} = y^{\text{train}}",
            ))
def _forward_eval():
    rm, rv = sp.Symbol("rm", real=True), sp.Symbol("rv", nonnegative=True)
    ev = gamma * (X[_i] - rm) / sp.sqrt(rv + eps) + beta
    aff = gamma / sp.sqrt(rv + eps) * X[_i] + (beta - gamma * rm / sp.sqrt(rv + eps))
    mu_e = mu_of(_x)
    train = gamma * (X[_i] - mu_e) / sp.sqrt(var_of(_x, mu_e) + eps) + beta
    return [("inference is the affine map (gamma/sqrt(rv+eps)) x_i + (beta - gamma rm/sqrt(rv+eps)), every entry i, every N",
             _q(ev - aff), sc.GENERAL),
            ("with the batch's own statistics (rm, rv) = (mu, var) inference equals training (symbolic N)",
             _sum_eq(ev.subs({rm: mu_e, rv: var_of(_x, mu_e)}), train), sc.GENERAL)]


@derivation("bn.running_stats", kind="definition", title="The running statistics (torch momentum, unbiased running_var)",
            latex=r"\hat\mu' = (1-m)\,\hat\mu + m\,\mu,\quad "
                  r"\hat\sigma^{2\prime} = (1-m)\,\hat\sigma^2 + m\,\frac{N}{N-1}\,\sigma^2"
                  r"\quad(\text{bn\_running\_var} = \text{biased}: m\,\sigma^2)",
            seed=SEED_BN, sizes=("N",), primary=TORCH_BN + "; " + KERAS_BN + "; " + BESSEL,
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
    old, new, k = sp.symbols("old new k", real=True)
    upd = lambda o, n, mm: (1 - mm) * o + mm * n  # noqa: E731
    return [("m = 0 keeps the old value", prove_equal(upd(old, new, 0), old), sc.GENERAL),
            ("m = 1 replaces it by the batch statistic", prove_equal(upd(old, new, 1), new), sc.GENERAL),
            ("N/(N-1) var = (1/(N-1)) sum (x_i - mu)^2 (symbolic N >= 2)",
             _atom_eq(Nn / (Nn - 1) * V, _sum((X[_r] - MU) ** 2, _r) / (Nn - 1), (DEF_V, DEF_MU)), sc.GENERAL),
            ("Keras' k old + (1 - k) new with k = 1 - m is torch's update",
             prove_equal((k * old + (1 - k) * new).subs(k, 1 - m), upd(old, new, m)), sc.GENERAL)]


@derivation("bn.running_var.unbiased", title="The unbiased variance N/(N-1) var has expectation sigma^2",
            latex=r"\mathbb E\Big[\frac{N}{N-1}\,\sigma^2_{\text{batch}}\Big] = \sigma^2,\qquad "
                  r"\mathbb E[\sigma^2_{\text{batch}}] = \frac{N-1}{N}\,\sigma^2",
            seed=SEED_BN, sizes=("N",), lemmas=(EXPECTATION,), primary=BESSEL + "; " + TORCH_BN,
            assumptions=("x_i = mu + e_i i.i.d.: E[e_i] = 0, E[e_i^2] = sigma^2, E[e_i e_j] = 0 (i != j)",
                         "expectation is linear (it commutes with finite sums)", "N >= 2", SYM_N),
            notes="Why torch folds N/(N-1) var into running_var: it estimates the population variance without bias.",
            steps=(
                r"x_i = \mu_0 + e_i,\quad \sigma^2_{\text{batch}} = \frac1N\sum_i (e_i - \bar e)^2 = \frac1N\sum_i e_i^2 - \bar e^2",
                r"\mathbb E\Big[\frac1N\sum_i e_i^2\Big] = \sigma^2,\qquad \mathbb E[\bar e^2] = \frac{1}{N^2}\sum_{i,j}\mathbb E[e_i e_j] = \frac{\sigma^2}{N}",
                r"\mathbb E[\sigma^2_{\text{batch}}] = \sigma^2 - \frac{\sigma^2}{N} = \frac{N-1}{N}\,\sigma^2\ \Rightarrow\ \mathbb E\Big[\frac{N}{N-1}\,\sigma^2_{\text{batch}}\Big] = \sigma^2",
            ))
def _running_var_unbiased():
    mu0 = sp.Symbol("mu_0", real=True)
    sigma2 = sp.Symbol("sigma2", positive=True)
    E = sp.IndexedBase("e", real=True)
    e = lambda k: E[k]  # noqa: E731
    shifted = lambda k: mu0 + E[k]  # noqa: E731
    m = sp.Symbol("m", real=True)                   # the mean of e, opaque
    defs_e = ((V, var_of(e, m)), (m, mu_of(e)))
    n = Nn
    # E is linear and commutes with the finite sums; E[e_i^2] = sigma^2, E[e_i e_j] = sigma^2 delta_ij
    Esq = _sum(sigma2, _i) / n
    return [("var(mu_0 + e) = var(e): mu(mu_0 + e) = mu_0 + m, then the deviations are unchanged (symbolic N)",
             combine([_sum_eq(mu_of(shifted), mu0 + mu_of(e)), _atom_eq(var_of(shifted, mu0 + m), V, defs_e)]), sc.GENERAL),
            ("var(e) = (1/N) sum_i e_i^2 - m^2, m = (1/N) sum_i e_i (symbolic N)",
             _atom_eq(V, _sum(e(_r) ** 2, _r) / n - m ** 2, defs_e), sc.GENERAL),
            ("m^2 = (1/N^2) sum_i sum_j e_i e_j (product of finite sums, symbolic N)",
             _sum_eq(mu_of(e) * (_sum(E[_j], _j) / n),   # m m, the second copy's index renamed (no power)
                     _sum(_sum(E[_i] * E[_j], _i), _j) / n ** 2), sc.GENERAL),
            ("E[(1/N) sum_i e_i^2] = (1/N) sum_i sigma^2 = sigma^2 (symbolic N)", _sum_eq(Esq, sigma2), sc.GENERAL),
            ("sum_i sigma^2 delta_ij = sigma^2 for every j in 0..N-1 (Kronecker delta, symbolic N)",
             prove_entry_equal(_sum(sigma2 * sp.KroneckerDelta(_i, _j), _i), sigma2, {_j: Nn}), sc.GENERAL),
            ("E[m^2] = (1/N^2) sum_j sigma^2 = sigma^2/N (symbolic N)",
             _sum_eq(_sum(sigma2, _j) / n ** 2, sigma2 / n), sc.GENERAL),
            ("E[var] = sigma^2 - sigma^2/N = (N-1)/N sigma^2, and E[N/(N-1) var] = sigma^2",
             combine([prove_equal(sigma2 - sigma2 / n, (n - 1) / n * sigma2),
                      prove_equal(n / (n - 1) * ((n - 1) / n * sigma2), sigma2)]), sc.GENERAL)]


@derivation("bn.forward.zero_mean_unit_var", title="The normalized column has mean 0 and mean square var/(var + eps)",
            latex=r"\frac1N\sum_i \hat x_i = 0,\qquad \frac1N\sum_i \hat x_i^2 = \frac{\sigma^2}{\sigma^2+\varepsilon}",
            seed=SEED_BN, sizes=("N",), primary=IOFFE, assumptions=(PER_FEATURE, EPS_POS, SYM_N),
            notes="So xhat has unit variance only as eps -> 0 (for var >> eps); a near-constant column (var ~ eps) "
                  "comes out with mean square var/(var + eps) < 1.",
            steps=(
                r"\sum_i \hat x_i = \frac{1}{\sqrt{\sigma^2+\varepsilon}}\sum_i (x_i - \mu) = 0",
                r"\frac1N\sum_i \hat x_i^2 = \frac{1}{\sigma^2+\varepsilon}\,\frac1N\sum_i (x_i-\mu)^2 = \frac{\sigma^2}{\sigma^2+\varepsilon}",
            ))
def _zero_mean_unit_var():
    return [("sum_i xhat_i = 0 (symbolic N)", _atom_eq(_sum(_xhat(_i), _i), 0), sc.GENERAL),
            ("(1/N) sum_i xhat_i^2 = var/(var + eps) (symbolic N)",
             _atom_eq(_sum(_xhat(_i) ** 2, _i) / Nn, V / (V + eps)), sc.GENERAL)]


# ---------------------------------------------------------------- gradients

@derivation("bn.jacobian.xhat", title="The Jacobian of the normalized column",
            latex=r"\frac{\partial \hat x_i}{\partial x_j} = \frac{1}{\sqrt{\sigma^2+\varepsilon}}"
                  r"\Big(\delta_{ij} - \frac1N - \frac{\hat x_i\,\hat x_j}{N}\Big)",
            seed=SEED_BN, sizes=("N",), primary=IOFFE, assumptions=(PER_FEATURE, EPS_POS, SYM_N),
            layout="numerator: J[i, j] = d xhat_i / d x_j (symmetric)",
            notes="The oracle (derivations/oracle_batchnorm.py) builds this N x N matrix per feature for the VJP.",
            steps=(
                r"\text{method (chain rule): } \hat x_i(x) = G_i(x, \mu(x), \sigma^2(x)),\ \frac{d\hat x_i}{dx_j} = \frac{\partial G_i}{\partial x_j} + \frac{\partial G_i}{\partial \mu}\,\frac{\partial \mu}{\partial x_j} + \frac{\partial G_i}{\partial \sigma^2}\,\frac{\partial \sigma^2}{\partial x_j}\ \ (\mu, \sigma^2 \text{ opaque in } G_i)",
                r"\frac{\partial\mu}{\partial x_j} = \frac1N,\qquad \frac{\partial\sigma^2}{\partial x_j} = \frac2N\sum_i (x_i-\mu)\Big(\delta_{ij}-\frac1N\Big) = \frac{2}{N}(x_j-\mu)",
                r"\frac{\partial}{\partial x_j}\,(\sigma^2+\varepsilon)^{-1/2} = -\frac{1}{2}(\sigma^2+\varepsilon)^{-3/2}\,\frac2N(x_j-\mu) = -\frac{\hat x_j}{N\,(\sigma^2+\varepsilon)}",
                r"\frac{\partial \hat x_i}{\partial x_j} = \frac{\delta_{ij} - \frac1N}{\sqrt{\sigma^2+\varepsilon}} - (x_i-\mu)\,\frac{\hat x_j}{N(\sigma^2+\varepsilon)} = \frac{1}{\sqrt{\sigma^2+\varepsilon}}\Big(\delta_{ij} - \frac1N - \frac{\hat x_i\hat x_j}{N}\Big)",
            ))
def _jacobian_xhat():
    s = sp.sqrt(V + eps)
    G = (X[_i] - MU) / s                      # xhat_i at fixed (mu, v)
    d, xi, xj = sp.Symbol("delta_ij", real=True), sp.Symbol("x_i", real=True), sp.Symbol("x_j", real=True)
    total = d / s + (-1 / s) / Nn + (-(xi - MU) / (2 * (V + eps) ** sp.Rational(3, 2))) * 2 * (xj - MU) / Nn
    compact = (d - 1 / Nn - (xi - MU) / s * (xj - MU) / s / Nn) / s
    return list(_stat_gradients()) + [
        ("d xhat_i/d x_j at fixed mu, v = delta_ij / sqrt(v + eps) (Kronecker delta, symbolic N)",
         prove_entry_equal(sp.diff(G, X[_j]), sp.KroneckerDelta(_i, _j) / s, {_i: Nn, _j: Nn}), sc.GENERAL),
        ("d xhat_i/d mu = -1/sqrt(v + eps), d xhat_i/d v = -(x_i - mu)/(2 (v + eps)^(3/2))",
         combine([_q(sp.diff(G, MU) + 1 / s), _q(sp.diff(G, V) + (X[_i] - MU) / (2 * (V + eps) ** sp.Rational(3, 2)))]),
         sc.GENERAL),
        ("chain rule assembled: delta_ij/s - 1/(N s) - (x_i - mu)(x_j - mu)/(N s^3) = (delta_ij - 1/N - xhat_i xhat_j/N)/s",
         _q(total - compact), sc.GENERAL)]


@derivation("bn.backward.three_term", title="The batch-norm input gradient (three terms)",
            latex=r"\frac{\partial L}{\partial x_j} = \frac{\gamma}{N\sqrt{\sigma^2+\varepsilon}}"
                  r"\Big(N\,dy_j - \sum_i dy_i - \hat x_j \sum_i dy_i\,\hat x_i\Big),\quad L = \sum_i dy_i\,y_i",
            seed=SEED_BN, sizes=("N",), primary=IOFFE, assumptions=(PER_FEATURE, EPS_POS, N_GE_2, "training mode", SYM_N),
            layout="numerator: dx_j = sum_i dy_i dy_i/dx_j (a VJP, J symmetric)",
            steps=(
                r"\text{method (chain rule): } L(x) = F(x, \mu(x), \sigma^2(x)),\ \frac{dL}{dx_j} = \frac{\partial F}{\partial x_j} + \frac{\partial F}{\partial \mu}\,\frac{\partial \mu}{\partial x_j} + \frac{\partial F}{\partial \sigma^2}\,\frac{\partial \sigma^2}{\partial x_j}\ \ (F \text{ smooth for } \sigma^2 + \varepsilon > 0;\ \mu, \sigma^2 \text{ opaque in } F)",
                r"\frac{\partial F}{\partial x_j} = \frac{\gamma\,dy_j}{\sqrt{\sigma^2+\varepsilon}},\quad \frac{\partial F}{\partial \mu} = -\frac{\gamma\sum_i dy_i}{\sqrt{\sigma^2+\varepsilon}},\quad \frac{\partial F}{\partial \sigma^2} = -\frac{\gamma\sum_i dy_i\hat x_i}{2(\sigma^2+\varepsilon)},\quad \frac{\partial\mu}{\partial x_j} = \frac1N,\ \frac{\partial\sigma^2}{\partial x_j} = \frac2N(x_j-\mu)",
                r"\frac{\partial L}{\partial x_j} = \sum_i dy_i\,\gamma\,\frac{\partial \hat x_i}{\partial x_j} = \frac{\gamma}{\sqrt{\sigma^2+\varepsilon}}\sum_i dy_i\Big(\delta_{ij} - \frac1N - \frac{\hat x_i\hat x_j}{N}\Big)",
                r"= \frac{\gamma}{\sqrt{\sigma^2+\varepsilon}}\Big(dy_j - \frac1N\sum_i dy_i - \frac{\hat x_j}{N}\sum_i dy_i\,\hat x_i\Big)",
                r"= \frac{\gamma}{N\sqrt{\sigma^2+\varepsilon}}\Big(N\,dy_j - \sum_i dy_i - \hat x_j\sum_i dy_i\,\hat x_i\Big)",
            ))
def _three_term():
    return list(_three_term_general())


@derivation("bn.backward.gamma_beta", title="The gradients of gamma and beta",
            latex=r"\frac{\partial L}{\partial\gamma} = \sum_i dy_i\,\hat x_i,\qquad \frac{\partial L}{\partial\beta} = \sum_i dy_i",
            seed=SEED_BN, sizes=("N",), primary=IOFFE, assumptions=(PER_FEATURE, EPS_POS, "training mode", SYM_N),
            steps=(
                r"L = \sum_i dy_i\,(\gamma\,\hat x_i + \beta),\quad \hat x_i \text{ does not depend on } \gamma, \beta",
                r"\frac{\partial L}{\partial\gamma} = \sum_i dy_i\,\hat x_i,\qquad \frac{\partial L}{\partial\beta} = \sum_i dy_i",
            ))
def _gamma_beta():
    F, mu_e = _F(), mu_of(_x)
    stats = (mu_e, var_of(_x, mu_e))
    return [("mu and var are functions of x alone: d/dgamma = d/dbeta = 0 (symbolic N)",
             combine(prove_equal(sp.diff(st, p), 0) for st in stats for p in (gamma, beta)), sc.GENERAL),
            ("dL/dgamma = sum_i dy_i xhat_i (symbolic N)",
             prove_sums_equal(sp.diff(F, gamma), _sum(DY[_i] * (X[_i] - MU) / sp.sqrt(V + eps), _i), None), sc.GENERAL),
            ("dL/dbeta = sum_i dy_i (symbolic N)", prove_sums_equal(sp.diff(F, beta), _sum(DY[_i], _i), None), sc.GENERAL)]


def _xhat(k):
    return (X[k] - MU) / SD


@derivation("bn.grad.orthogonal_ones", title="The input gradient sums to zero over the batch",
            latex=r"\sum_j \frac{\partial L}{\partial x_j} = 0\quad(\text{any } \varepsilon > 0)",
            seed=SEED_BN, sizes=("N",), primary=IOFFE, assumptions=(PER_FEATURE, EPS_POS, N_GE_2, SYM_N),
            notes="y is invariant to x -> x + c 1 (the mean is subtracted), so the gradient is orthogonal to 1.",
            steps=(
                r"dx_j \text{ is the three-term formula of bn.backward.three\_term (its chain-rule obligations are repeated here)}",
                r"\sum_j \Big(N\,dy_j - \sum_i dy_i - \hat x_j\sum_i dy_i\hat x_i\Big) = N\sum_j dy_j - N\sum_i dy_i - \Big(\sum_j \hat x_j\Big)\sum_i dy_i\hat x_i",
                r"\sum_j \hat x_j = 0\ \Rightarrow\ \sum_j \frac{\partial L}{\partial x_j} = 0",
                r"\text{equivalently: } y(x + c\mathbf 1) = y(x)\ \Rightarrow\ \frac{d}{dc}L(x + c\mathbf 1) = \mathbf 1^\top \nabla_x L = 0",
            ))
def _orthogonal_ones():
    c_ = sp.Symbol("c", real=True)
    shifted = lambda k: X[k] + c_  # noqa: E731
    mu_e, mu_c = mu_of(_x), mu_of(shifted)
    y_c = gamma * ((X[_i] + c_) - (MU + c_)) / sp.sqrt(V + eps) + beta
    return list(_three_term_general()) + [
        ("sum_j gamma/(N s)(N dy_j - S_1 - xhat_j S_2) = 0 (symbolic N: sum dy = S_1, sum xhat = 0)",
         _atom_eq(_sum(three_term_sym(X[_j], DY[_j]), _j), 0), sc.GENERAL),
        ("shift invariance: mu(x + c 1) = mu(x) + c, then var(x + c 1) = (1/N) sum (x_r + c - (mu + c))^2 = var(x) (symbolic N)",
         combine([_sum_eq(mu_c, mu_e + c_), _atom_eq(var_of(shifted, MU + c_), V, (DEF_V, DEF_MU))]), sc.GENERAL),
        ("so y_i(x + c 1) = gamma ((x_i + c) - (mu + c))/sqrt(var + eps) + beta = y_i(x)",
         _q(y_c - (gamma * (X[_i] - MU) / sp.sqrt(V + eps) + beta)), sc.GENERAL)]


def _residual(c: Column):
    return gamma / c.s * _S(c) * eps / (c.var + eps)


@derivation("bn.grad.xhat_residual", title="The input gradient's component along xhat is eps/(var + eps) of a full one",
            latex=r"\sum_j \frac{\partial L}{\partial x_j}\,\hat x_j = \frac{\gamma}{\sqrt{\sigma^2+\varepsilon}}"
                  r"\Big(\sum_i dy_i\,\hat x_i\Big)\frac{\varepsilon}{\sigma^2+\varepsilon}",
            seed=SEED_BN, sizes=("N",), primary=IOFFE, assumptions=(PER_FEATURE, EPS_POS, N_GE_2, SYM_N),
            notes="Orthogonal to xhat only in the limit eps -> 0 (bn.grad.orthogonal_xhat.refuted); for a "
                  "near-constant column (var ~ eps) the residual is of the order of the gradient itself.",
            steps=(
                r"dx_j \text{ is the three-term formula of bn.backward.three\_term (its chain-rule obligations are repeated here)}",
                r"\sum_j \hat x_j\,dx_j = \frac{\gamma}{N\sqrt{\sigma^2+\varepsilon}}\Big(N\sum_j dy_j\hat x_j - \Big(\sum_i dy_i\Big)\sum_j\hat x_j - \Big(\sum_j \hat x_j^2\Big)\sum_i dy_i\hat x_i\Big)",
                r"\sum_j \hat x_j = 0,\qquad \sum_j \hat x_j^2 = \frac{N\sigma^2}{\sigma^2+\varepsilon}",
                r"= \frac{\gamma}{N\sqrt{\sigma^2+\varepsilon}}\Big(\sum_i dy_i\hat x_i\Big)\Big(N - \frac{N\sigma^2}{\sigma^2+\varepsilon}\Big) = \frac{\gamma}{\sqrt{\sigma^2+\varepsilon}}\Big(\sum_i dy_i\hat x_i\Big)\frac{\varepsilon}{\sigma^2+\varepsilon}",
            ))
def _xhat_residual():
    out = list(_three_term_general())
    out.append(("sum_j gamma/(N s)(N dy_j - S_1 - xhat_j S_2) xhat_j = gamma/s S_2 eps/(var + eps) (symbolic N)",
                _atom_eq(_sum(three_term_sym(X[_j], DY[_j]) * _xhat(_j), _j), gamma / SD * S2 * eps / (V + eps)),
                sc.GENERAL))
    out.append(("eps -> 0 (var > 0): the factor eps/(var + eps) of the residual vanishes",
                prove_equal(sp.limit(eps / (sp.Symbol("v", positive=True) + eps), eps, 0), 0), sc.GENERAL))
    return out


@derivation("bn.grad.orthogonal_xhat.refuted", kind="refutation",
            title="The batch-norm input gradient is orthogonal to xhat for every eps > 0",
            latex=r"x = (0, 2),\ dy = (1, 0),\ \gamma = 1,\ \varepsilon = 3:\quad "
                  r"\sum_j \frac{\partial L}{\partial x_j}\,\hat x_j = -\frac{3}{16} \ne 0",
            seed=SEED_BN, sizes=("N",), primary=IOFFE, assumptions=(PER_FEATURE, EPS_POS),
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
                        prove_equal(dot, expected), sc.at(N=2)))
        out.append((f"x = {xv}, dy = {dyv}, eps = {ev}: dx . xhat != 0", _with_cex(prove_true(sp.Ne(dot, 0)), cex), sc.at(N=2)))
        out.append((f"x = {xv}, dy = {dyv}, eps = {ev}: it equals the residual of bn.grad.xhat_residual",
                    prove_equal(dot, _residual(c).subs(pt)), sc.at(N=2)))
    return out


# ---------------------------------------------------------------- scale invariance

@derivation("bn.scale_invariance", title="Scale invariance: BN_eps(a z) = BN_{eps/a^2}(z), and the eps error bound",
            latex=r"a > 0:\ \mathrm{BN}_\varepsilon(a z) = \mathrm{BN}_{\varepsilon/a^2}(z);\quad "
                  r"|\mathrm{BN}_\varepsilon(a z)_i - \mathrm{BN}_\varepsilon(z)_i| = |\gamma|\,|z_i-\mu|\,"
                  r"\Big|\tfrac{1}{\sqrt{\sigma^2+\varepsilon/a^2}} - \tfrac{1}{\sqrt{\sigma^2+\varepsilon}}\Big|"
                  r"\le |\gamma|\,\frac{|z_i-\mu|}{\sigma}\,\frac{\varepsilon\,|1 - a^{-2}|}{2\sigma^2}",
            seed=SEED_BN, sizes=("N",), primary=IOFFE + " (§3.3: BN(W u) = BN((a W) u))",
            assumptions=(PER_FEATURE, EPS_POS, "a > 0", "sigma^2 = var(z) > 0 for the bound", SYM_N),
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
    scaled = lambda k: a * X[k]  # noqa: E731
    mu_a = mu_of(scaled)
    zi = sp.Symbol("z_i", real=True)
    xh_a = (a * zi - a * MU) / sp.sqrt(a ** 2 * V + eps)   # with mu(a z) = a mu, var(a z) = a^2 var
    xh, xh_small = (zi - MU) / sp.sqrt(V + eps), (zi - MU) / sp.sqrt(V + eps / a ** 2)
    out = [("mu(a z) = a mu(z), var(a z) = a^2 var(z) (symbolic N)",
            combine([_sum_eq(mu_a, a * mu_of(_x)), _atom_eq(var_of(scaled, a * MU), a ** 2 * V, (DEF_V, DEF_MU))]), sc.GENERAL),
           ("hence xhat_eps(a z)_i = (a z_i - a mu)/sqrt(a^2 var + eps) = xhat_(eps/a^2)(z)_i (a > 0)", _q(xh_a - xh_small), sc.GENERAL),
           ("BN_eps(a z)_i - BN_eps(z)_i = gamma (z_i - mu)(1/p - 1/q)",
            _q(gamma * xh_a - gamma * xh - gamma * (zi - MU) * (1 / sp.sqrt(V + eps / a ** 2) - 1 / sp.sqrt(V + eps))), sc.GENERAL)]
    # the bound: sigma = r > 0, e1, e2 >= 0, p = sqrt(r^2 + e1), q = sqrt(r^2 + e2)
    r = sp.Symbol("sigma", positive=True)
    e1, e2, t1, t2 = sp.symbols("e1 e2 t1 t2", nonnegative=True)
    P, Q = sp.symbols("p q", positive=True)
    p, q = sp.sqrt(r ** 2 + e1), sp.sqrt(r ** 2 + e2)
    out.append(("1/p - 1/q = (q^2 - p^2)/(p q (p + q)) (p, q > 0)", _q(1 / P - 1 / Q - (Q ** 2 - P ** 2) / (P * Q * (P + Q))), sc.GENERAL))
    out.append(("q^2 - p^2 = e2 - e1, with e1 = eps/a^2, e2 = eps: eps (1 - 1/a^2)",
                combine([_q(q ** 2 - p ** 2 - (e2 - e1)), prove_equal(eps - eps / a ** 2, eps * (1 - a ** -2))]), sc.GENERAL))
    out.append(("p - sigma = e1/(p + sigma) >= 0, so p >= sigma (likewise q)",
                combine([_q(p - r - e1 / (p + r)), prove_true(sp.Ge(e1 / (p + r), 0))]), sc.GENERAL))
    prod = sp.expand((r + t1) * (r + t2) * (2 * r + t1 + t2) - 2 * r ** 3)
    out.append(("p = sigma + t1, q = sigma + t2 (t >= 0): p q (p + q) - 2 sigma^3 is a sum of non-negative terms",
                prove_true(sp.Ge(prod, 0)), sc.GENERAL))
    out.append(("at eps = 0 the invariance is exact: eps (1 - 1/a^2)/(2 sigma^3) = 0",
                prove_equal((eps * (1 - a ** -2) / (2 * r ** 3)).subs(eps, 0), 0), sc.GENERAL))
    out.append(("2 sigma^3 > 0 (the bound is finite for sigma > 0)", prove_positive(2 * r ** 3), sc.GENERAL))
    return out
