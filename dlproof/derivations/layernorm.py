"""Layer normalization over the last axis (F features), its exact gradients and its invariances.

Per row x (F,) (every index of the leading axes is one row; gamma, beta (F,) are shared by all rows):

    mu = (1/F) sum_j x_j,   var = (1/F) sum_j (x_j - mu)^2 (biased),   sigma = sqrt(var + eps),
    xhat_j = (x_j - mu) / sigma,   y_j = gamma_j xhat_j + beta_j          (no affine part: y = xhat)

Gradients of L = <dy, y> (sums over all rows), with g = gamma * dy (entry-wise):

    dx_j = (1/sigma) (g_j - mean(g) - xhat_j mean(g xhat))      (the two-term projection form)
    dgamma_j = sum over rows of dy_j xhat_j,   dbeta_j = sum over rows of dy_j.

Route: a row is a batch-norm column read along the other axis. The symbolic-size machinery of
derivations/batchnorm.py is reused as is (imported, not copied): the row is x[0..F-1] (an IndexedBase with the
integer symbol ``N`` of that module standing for F), every statistic a finite Sum with upper bound F - 1, the
statistics opaque symbols in the chain rule (d mu/d x_j = 1/F, d var/d x_j = (2/F)(x_j - mu) from the explicit
sums: batchnorm's `_stat_gradients`), and sum identities decided with the sums as atoms (`_atom_eq`). What
differs from batch norm is that gamma is an entry-wise vector (IndexedBase ``gamma``), so the input gradient is
proved in terms of g_j = gamma_j dy_j. Every theorem here is proved for every F (symbolic size), except the
scale invariance's inequality, whose obligations are batch norm's (cited by id, re-run here).

Seed: LayerNorm is not in the seed notes; the related seed document is 深度学习数学模块 · 05-Batch-Normalization.md
(批归一化), whose normalization (mean, biased variance, eps inside the square root) is the same map along the
other axis. Primary: Ba, Kiros & Hinton (2016), Layer Normalization, arXiv:1607.06450, §3 (eq. 4);
torch.nn.LayerNorm (docs: biased variance, eps added to the variance).
"""
from __future__ import annotations

import functools

import sympy as sp

from . import batchnorm as bn
from . import scope as sc
from .prove import combine, prove_equal, prove_zero
from .registry import derivation
from .sums import prove_sums_equal

SEED_LN = ("seed: 深度学习数学模块 · 05-Batch-Normalization.md (批归一化; LayerNorm itself is not in the seed: this is "
           "the related normalization section)")
BA = "Ba, Kiros & Hinton (2016), Layer Normalization, arXiv:1607.06450, §3 eq. (4) (statistics over the hidden units)"
TORCH_LN = ("torch.nn.LayerNorm (docs: 'the variance is calculated via the biased estimator', y = (x - E[x]) / "
            "sqrt(Var[x] + eps) * gamma + beta over the last D dimensions)")

PER_ROW = "per row: over the last axis (F features), every leading index one row; gamma, beta (F,) shared by the rows"
EPS_NN = "eps >= 0, and var + eps > 0 (eps = 0 needs a non-constant row)"
SYM_F = "proved for a symbolic row length F (finite sums with upper bound F - 1), not at fixed sizes"

#: F, the row length: batch norm's size symbol (named N there) so that its sum machinery applies unchanged
Fs = bn.Nn
X, DY, MU, V, SD = bn.X, bn.DY, bn.MU, bn.V, bn.SD
GAM = sp.IndexedBase("gamma", real=True)
BET = sp.IndexedBase("beta", real=True)
eps = bn.eps
a = bn.a
_i, _j = bn._i, bn._j
S1, S2 = sp.symbols("S_g S_gx", real=True)  # sum_i g_i and sum_i g_i xhat_i, opaque

#: the definitions substituted (in this order) by batchnorm's `_atom_eq`, with g_i = gamma_i dy_i
DEF_S1 = (S1, bn._sum(GAM[_i] * DY[_i], _i))
DEF_S2 = (S2, bn._sum(GAM[_i] * DY[_i] * (X[_i] - MU) / SD, _i))
DEFS = (DEF_S1, DEF_S2, bn.DEF_EPS, bn.DEF_V, bn.DEF_MU)


def _q(e):
    return prove_zero(e, use_simplify=False)


def _xhat(k):
    return (X[k] - MU) / SD


def projection_sym(xj, gj):
    """The two-term form (1/s)(g_j - S_g/F - xhat_j S_gx/F), xhat_j = (x_j - mu)/s, in the opaque symbols."""
    return (gj - S1 / Fs - (xj - MU) / SD * S2 / Fs) / SD


def _L():
    """L(x, mu, v) of one row = sum_i dy_i (gamma_i (x_i - mu)/sqrt(v + eps) + beta_i); L = that at mu(x), var(x)."""
    return bn._sum(DY[_i] * (GAM[_i] * (X[_i] - MU) / sp.sqrt(V + eps) + BET[_i]), _i)


@functools.lru_cache(maxsize=None)
def _projection_general() -> tuple:
    """The chain-rule proof of the two-term form for every F (the pieces and their assembly)."""
    L, s = _L(), sp.sqrt(V + eps)
    sg, sgx = bn._sum(GAM[_i] * DY[_i], _i), bn._sum(GAM[_i] * DY[_i] * (X[_i] - MU) / s, _i)
    xj, gj = sp.symbols("x_j g_j", real=True)
    total = gj / s + (-S1 / s) / Fs + (-S2 / (2 * (V + eps))) * 2 * (xj - MU) / Fs
    return bn._stat_gradients() + (
        ("dL/dx_j at fixed mu, v = gamma_j dy_j / sqrt(v + eps) = g_j / sigma (Kronecker delta, symbolic F)",
         prove_sums_equal(sp.diff(L, X[_j]), GAM[_j] * DY[_j] / s, {_j: Fs}), sc.GENERAL),
        ("dL/dmu = -S_g / sqrt(v + eps), S_g = sum_i gamma_i dy_i (symbolic F)",
         prove_sums_equal(sp.diff(L, MU), -sg / s, None), sc.GENERAL),
        ("dL/dv = -S_gx / (2 (v + eps)), S_gx = sum_i g_i xhat_i (symbolic F)",
         prove_sums_equal(sp.diff(L, V), -sgx / (2 * (V + eps)), None), sc.GENERAL),
        ("chain rule assembled: g_j/s - (S_g/s)(1/F) - S_gx/(2 s^2) (2/F)(x_j - mu) = (1/s)(g_j - S_g/F - xhat_j S_gx/F)",
         _q((total - projection_sym(xj, gj)).xreplace({SD: s})), sc.GENERAL))


# ---------------------------------------------------------------- definition

@derivation("ln.forward", kind="definition", title="Layer normalization over the last axis",
            latex=r"\mu = \frac1F\sum_j x_j,\quad \sigma^2 = \frac1F\sum_j (x_j-\mu)^2,\quad "
                  r"\hat x_j = \frac{x_j-\mu}{\sqrt{\sigma^2+\varepsilon}},\quad y_j = \gamma_j\,\hat x_j + \beta_j",
            seed=SEED_LN, sizes=("F",), primary=BA + "; " + TORCH_LN,
            assumptions=(PER_ROW, EPS_NN, "the biased (1/F) variance", "no affine part: gamma = 1, beta = 0"),
            notes="The same map as batch norm's training forward (bn.forward.train) applied to each row instead "
                  "of each column, with an entry-wise gamma, beta. torch.nn.LayerNorm and keras.layers."
                  "LayerNormalization use the biased variance with eps inside the square root.",
            steps=(
                r"\mu = \frac{1}{F}\sum_{j=1}^F x_j,\qquad \sigma^2 = \frac{1}{F}\sum_{j=1}^F (x_j-\mu)^2 = \frac1F\sum_j x_j^2 - \mu^2",
                r"\hat x_j = \frac{x_j-\mu}{\sqrt{\sigma^2+\varepsilon}},\qquad \sum_j (x_j - \mu) = 0",
                r"y_j = \gamma_j\,\hat x_j + \beta_j \qquad(\text{entry-wise affine part, shared by every row})",
            ))
def _forward():
    return [("the two-pass variance equals mean(x^2) - mu^2 (symbolic F)",
             bn._atom_eq(V, bn._sum(X[bn._r] ** 2, bn._r) / Fs - MU ** 2, (bn.DEF_V, bn.DEF_MU)), sc.GENERAL),
            ("sum_j (x_j - mu) = 0 (symbolic F)", bn._atom_eq(bn._sum(X[_i] - MU, _i), 0, (bn.DEF_MU,)), sc.GENERAL)]


@derivation("ln.forward.zero_mean", title="Without the affine part a row has mean 0 and mean square var/(var + eps)",
            latex=r"\frac1F\sum_j \hat x_j = 0,\qquad \frac1F\sum_j \hat x_j^2 = \frac{\sigma^2}{\sigma^2+\varepsilon}",
            seed=SEED_LN, sizes=("F",), primary=BA, assumptions=(PER_ROW, EPS_NN, SYM_F),
            notes="So the output's biased variance is var/(var + eps): 1 only at eps = 0 (var > 0); a row with var "
                  "comparable to eps comes out with a visibly smaller spread.",
            steps=(
                r"\sum_j \hat x_j = \frac{1}{\sqrt{\sigma^2+\varepsilon}}\sum_j (x_j - \mu) = 0",
                r"\frac1F\sum_j \hat x_j^2 - \Big(\frac1F\sum_j\hat x_j\Big)^2 = \frac{1}{\sigma^2+\varepsilon}\,\frac1F\sum_j (x_j-\mu)^2 = \frac{\sigma^2}{\sigma^2+\varepsilon}",
            ))
def _zero_mean():
    return [("sum_j xhat_j = 0 (symbolic F)", bn._atom_eq(bn._sum(_xhat(_i), _i), 0), sc.GENERAL),
            ("(1/F) sum_j xhat_j^2 = var/(var + eps) (symbolic F)",
             bn._atom_eq(bn._sum(_xhat(_i) ** 2, _i) / Fs, V / (V + eps)), sc.GENERAL)]


# ---------------------------------------------------------------- gradients

@derivation("ln.backward.projection", title="The layer-norm input gradient (two-term projection form)",
            latex=r"\frac{\partial L}{\partial x_j} = \frac{1}{\sigma}\Big(g_j - \frac1F\sum_i g_i - \hat x_j\,"
                  r"\frac1F\sum_i g_i\,\hat x_i\Big),\quad g = \gamma\odot dy,\ \sigma = \sqrt{\sigma^2+\varepsilon},\ "
                  r"L = \sum_j dy_j\,y_j",
            seed=SEED_LN, sizes=("F",), primary=BA, assumptions=(PER_ROW, EPS_NN, SYM_F),
            layout="numerator: dx_j = sum_i dy_i dy_i/dx_j (a VJP) per row; rows are independent",
            notes="(1/sigma) P g with P = I - 11^T/F - xhat xhat^T/F: g projected off 1 and (for eps = 0) off xhat. "
                  "Dropping the last term (xhat mean(g xhat)) is the classic bug; the property ln.vjp catches it.",
            steps=(
                r"\text{method (chain rule): } L(x) = \Lambda(x, \mu(x), \sigma^2(x)),\ \frac{dL}{dx_j} = \frac{\partial \Lambda}{\partial x_j} + \frac{\partial \Lambda}{\partial \mu}\frac{\partial \mu}{\partial x_j} + \frac{\partial \Lambda}{\partial \sigma^2}\frac{\partial \sigma^2}{\partial x_j}",
                r"\frac{\partial \Lambda}{\partial x_j} = \frac{g_j}{\sigma},\quad \frac{\partial \Lambda}{\partial \mu} = -\frac{\sum_i g_i}{\sigma},\quad \frac{\partial \Lambda}{\partial \sigma^2} = -\frac{\sum_i g_i\hat x_i}{2\sigma^2},\quad \frac{\partial\mu}{\partial x_j} = \frac1F,\ \frac{\partial\sigma^2}{\partial x_j} = \frac2F(x_j-\mu)",
                r"\frac{\partial L}{\partial x_j} = \frac{g_j}{\sigma} - \frac{1}{F\sigma}\sum_i g_i - \frac{x_j - \mu}{F\sigma^2}\sum_i g_i\hat x_i = \frac1\sigma\Big(g_j - \overline{g} - \hat x_j\,\overline{g\hat x}\Big)",
            ))
def _projection():
    return list(_projection_general())


@derivation("ln.backward.gamma_beta", title="The gradients of gamma and beta (sums over the rows)",
            latex=r"\frac{\partial L}{\partial\gamma_j} = \sum_{r} dy_{r j}\,\hat x_{r j},\qquad "
                  r"\frac{\partial L}{\partial\beta_j} = \sum_{r} dy_{r j}",
            seed=SEED_LN, sizes=("F", "R"), primary=BA + "; " + TORCH_LN,
            assumptions=(PER_ROW, EPS_NN, "R rows (the product of the leading axes)", "proved for symbolic F and R"),
            steps=(
                r"L = \sum_r \sum_i dy_{ri}\,(\gamma_i\,\hat x_{ri} + \beta_i),\quad \hat x \text{ does not depend on } \gamma, \beta",
                r"\frac{\partial L}{\partial \gamma_j} = \sum_r\sum_i dy_{ri}\,\hat x_{ri}\,\delta_{ij} = \sum_r dy_{rj}\,\hat x_{rj},\qquad \frac{\partial L}{\partial \beta_j} = \sum_r dy_{rj}",
            ))
def _gamma_beta():
    R = sp.Symbol("R", integer=True, positive=True)
    r = sp.Symbol("r", integer=True, nonnegative=True)
    XH, DYR = sp.IndexedBase("xhat", real=True), sp.IndexedBase("dy", real=True)
    L = sp.Sum(sp.Sum(DYR[r, _i] * (GAM[_i] * XH[r, _i] + BET[_i]), (_i, 0, Fs - 1)), (r, 0, R - 1))
    mu_e = bn.mu_of(lambda k: X[k])
    return [("mu and var of a row are functions of x alone: d/dgamma_j = d/dbeta_j = 0 (symbolic F)",
             combine(prove_equal(sp.diff(st, p), 0) for st in (mu_e, bn.var_of(lambda k: X[k], mu_e))
                     for p in (GAM[_j], BET[_j])), sc.GENERAL),
            ("dL/dgamma_j = sum_r dy_rj xhat_rj (Kronecker delta, symbolic F and R)",
             prove_sums_equal(sp.diff(L, GAM[_j]), sp.Sum(DYR[r, _j] * XH[r, _j], (r, 0, R - 1)), {_j: Fs}), sc.GENERAL),
            ("dL/dbeta_j = sum_r dy_rj (Kronecker delta, symbolic F and R)",
             prove_sums_equal(sp.diff(L, BET[_j]), sp.Sum(DYR[r, _j], (r, 0, R - 1)), {_j: Fs}), sc.GENERAL)]


@derivation("ln.grad.sum_zero", title="The input gradient of each row sums to zero",
            latex=r"\sum_j \frac{\partial L}{\partial x_j} = 0\quad(\text{every row, any } \varepsilon \ge 0)",
            seed=SEED_LN, sizes=("F",), primary=BA, assumptions=(PER_ROW, EPS_NN, SYM_F),
            notes="y is invariant to x -> x + c 1 (ln.invariance.shift), so the gradient is orthogonal to 1.",
            steps=(
                r"dx_j \text{ is the two-term form of ln.backward.projection (its obligations are repeated here)}",
                r"\sum_j \Big(g_j - \overline g - \hat x_j\,\overline{g\hat x}\Big) = F\overline g - F\overline g - \Big(\sum_j\hat x_j\Big)\overline{g\hat x} = 0",
            ))
def _sum_zero():
    return list(_projection_general()) + [
        ("sum_j (1/s)(g_j - S_g/F - xhat_j S_gx/F) = 0 (symbolic F: sum g = S_g, sum xhat = 0)",
         bn._atom_eq(bn._sum(projection_sym(X[_j], GAM[_j] * DY[_j]), _j), 0, DEFS), sc.GENERAL)]


@derivation("ln.grad.xhat_residual", title="The input gradient's component along xhat is eps/(var + eps) of a full one",
            latex=r"\sum_j \frac{\partial L}{\partial x_j}\,\hat x_j = \frac{1}{\sigma}\Big(\sum_i g_i\hat x_i\Big)"
                  r"\frac{\varepsilon}{\sigma^2_x+\varepsilon}",
            seed=SEED_LN, sizes=("F",), primary=BA, assumptions=(PER_ROW, EPS_NN, SYM_F),
            notes="Orthogonal to xhat exactly when eps = 0 (or sum g xhat = 0); for eps > 0 it is not (batch norm's "
                  "counterexample bn.grad.orthogonal_xhat.refuted is the same statement along the other axis).",
            steps=(
                r"\sum_j \hat x_j\,dx_j = \frac1\sigma\Big(\sum_j g_j\hat x_j - \overline g\sum_j\hat x_j - \overline{g\hat x}\sum_j\hat x_j^2\Big)",
                r"\sum_j\hat x_j = 0,\quad \sum_j\hat x_j^2 = \frac{F\sigma_x^2}{\sigma_x^2+\varepsilon}\ \Rightarrow\ \sum_j \hat x_j\,dx_j = \frac1\sigma\Big(\sum_j g_j\hat x_j\Big)\frac{\varepsilon}{\sigma_x^2+\varepsilon}",
            ))
def _xhat_residual():
    return list(_projection_general()) + [
        ("sum_j (1/s)(g_j - S_g/F - xhat_j S_gx/F) xhat_j = (1/s) S_gx eps/(var + eps) (symbolic F)",
         bn._atom_eq(bn._sum(projection_sym(X[_j], GAM[_j] * DY[_j]) * _xhat(_j), _j), S2 / SD * eps / (V + eps), DEFS),
         sc.GENERAL)]


# ---------------------------------------------------------------- invariances

@derivation("ln.invariance.shift", title="Shift invariance: LN(x + c 1) = LN(x) exactly",
            latex=r"\mathrm{LN}(x + c\,\mathbf 1) = \mathrm{LN}(x)\quad(c \in \mathbb R,\ \text{any } \varepsilon \ge 0)",
            seed=SEED_LN, sizes=("F",), primary=BA + " (§5.1, invariance under re-centering)",
            assumptions=(PER_ROW, EPS_NN, "c one real number per row", SYM_F),
            steps=(
                r"\mu(x + c\mathbf 1) = \mu(x) + c,\qquad \sigma^2(x + c\mathbf 1) = \frac1F\sum_j (x_j + c - \mu - c)^2 = \sigma^2(x)",
                r"\hat x_j(x + c\mathbf 1) = \frac{(x_j + c) - (\mu + c)}{\sqrt{\sigma^2+\varepsilon}} = \hat x_j(x)",
            ))
def _shift():
    c_ = sp.Symbol("c", real=True)
    shifted = lambda k: X[k] + c_  # noqa: E731
    y_c = GAM[_i] * ((X[_i] + c_) - (MU + c_)) / sp.sqrt(V + eps) + BET[_i]
    return [("mu(x + c 1) = mu(x) + c, var(x + c 1) = var(x) (symbolic F)",
             combine([bn._sum_eq(bn.mu_of(shifted), bn.mu_of(lambda k: X[k]) + c_),
                      bn._atom_eq(bn.var_of(shifted, MU + c_), V, (bn.DEF_V, bn.DEF_MU))]), sc.GENERAL),
            ("so y_j(x + c 1) = gamma_j ((x_j + c) - (mu + c))/sqrt(var + eps) + beta_j = y_j(x)",
             _q(y_c - (GAM[_i] * (X[_i] - MU) / sp.sqrt(V + eps) + BET[_i])), sc.GENERAL)]


@derivation("ln.invariance.scale", title="Scale invariance: LN_eps(a x) = LN_{eps/a^2}(x); exact only at eps = 0",
            latex=r"a > 0:\ \mathrm{LN}_\varepsilon(a x) = \mathrm{LN}_{\varepsilon/a^2}(x);\ \varepsilon = 0:\ "
                  r"\mathrm{LN}_0(a x) = \mathrm{LN}_0(x);\ |\mathrm{LN}_\varepsilon(a x)_j - \mathrm{LN}_\varepsilon(x)_j| "
                  r"\le |\gamma_j|\,\frac{|x_j-\mu|}{\sigma_x}\,\frac{\varepsilon\,|1 - a^{-2}|}{2\sigma_x^2}",
            seed=SEED_LN, sizes=("F",), primary=BA + " (§5.1, invariance under re-scaling of a single case)",
            assumptions=(PER_ROW, "a > 0", "eps >= 0; sigma_x^2 = var(x) > 0 for the eps = 0 case and the bound", SYM_F,
                         "the bound's inequality: the obligations of bn.scale_invariance (cited, re-run here: a row "
                         "is a batch-norm column, gamma = gamma_j entry by entry)"),
            notes="For eps > 0 the map is NOT scale invariant: LN_eps(a x) = LN_{eps/a^2}(x), which differs from "
                  "LN_eps(x) by at most the bound (O(eps/var)); the property ln.invariance.scale checks a target "
                  "against it (plus rounding).",
            steps=(
                r"\mu(a x) = a\,\mu(x),\qquad \sigma^2(a x) = a^2\,\sigma^2(x)",
                r"\hat x_j(a x) = \frac{a(x_j-\mu)}{\sqrt{a^2\sigma^2+\varepsilon}} = \frac{x_j-\mu}{\sqrt{\sigma^2+\varepsilon/a^2}}\quad(a > 0)",
                r"\varepsilon = 0,\ \sigma^2 > 0:\ \hat x_j(a x) = \frac{x_j-\mu}{\sigma} = \hat x_j(x)",
                r"\varepsilon > 0:\ \text{the gap } \gamma_j (x_j-\mu)\Big(\frac1p-\frac1q\Big),\ \Big|\frac1p - \frac1q\Big| \le \frac{\varepsilon|1-a^{-2}|}{2\sigma^3}\ \text{(bn.scale\_invariance)}",
            ))
def _scale():
    scaled = lambda k: a * X[k]  # noqa: E731
    xj = sp.Symbol("x_j", real=True)
    vpos = sp.Symbol("v", positive=True)
    xh_a = (a * xj - a * MU) / sp.sqrt(a ** 2 * V + eps)
    out = [("mu(a x) = a mu(x), var(a x) = a^2 var(x) (symbolic F)",
            combine([bn._sum_eq(bn.mu_of(scaled), a * bn.mu_of(lambda k: X[k])),
                     bn._atom_eq(bn.var_of(scaled, a * MU), a ** 2 * V, (bn.DEF_V, bn.DEF_MU))]), sc.GENERAL),
           ("hence xhat_eps(a x)_j = xhat_(eps/a^2)(x)_j (a > 0)",
            _q(xh_a - (xj - MU) / sp.sqrt(V + eps / a ** 2)), sc.GENERAL),
           ("eps = 0, var > 0: xhat_0(a x)_j = xhat_0(x)_j exactly",
            _q(((a * xj - a * MU) / sp.sqrt(a ** 2 * vpos)) - (xj - MU) / sp.sqrt(vpos)), sc.GENERAL)]
    # the inequality: batch norm's obligations (a row is a column; entry-wise gamma_j plays its scalar gamma)
    out += [(f"bn.scale_invariance (cited): {d}", r, s) for d, r, s in bn._scale_invariance()]
    return out
