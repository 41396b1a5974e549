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

Route, for every size n (symbolic): the softmax is written entry-wise with an IndexedBase x and the normalizer
Z = Sum(exp(x[k]), (k, 0, n - 1)) at a symbolic n; `sp.diff` gives KroneckerDeltas, which `indexed.resolve_guards`
evaluates under 0 <= i, l <= n - 1; `_linsum` applies the linearity of a finite sum (split over the summand's
terms, pull index-free factors out: exact rewrites), `_delta_sub` uses KroneckerDelta(i, l) f(l) =
KroneckerDelta(i, l) f(i); the rest is a rational identity in exp atoms and Sum atoms (the prover's tiers).
Sign facts about sums use SymPy's assumptions on a Sum of terms declared non-negative, after each term's sign is
proved separately. Attention gradients are proved entry-wise at symbolic Tq, Tk, d, dv (`prove_multisum_equal`:
exp(S_ij) made opaque, sums flattened by sums.sum_normal, Kronecker deltas summed out (`sum_deltas`), bound indices
of equal range relabelled (`relabel_canonical`)); the PSD form of the softmax Jacobian at symbolic n; the variance of
attn.scale.variance at symbolic d (`expect`: linearity over finite sums, E[x_u x_w] = delta_uw). The causal mask
at symbolic sizes: the masked weight is Piecewise((exp(S_ij), j <= i), (0, True)); with Tk = i + 1 + u each key
sum is split at i (`_split_causal`, the split itself proved for an undefined summand by `_split_lemma`), the head
re-indexed j = i - t so that SymPy decides the guard j <= i and every KroneckerDelta(j, r > i) from t >= 0, the
tail's guard i + 1 + t <= i is false. Multi-head attention: the block-sum identity sum_{p < H d_h} f(p) =
sum_h sum_{c < d_h} f(h d_h + c) by induction on H (`block_sum_step`: adjacent-range sums joined by SymPy's
sum_combine), and the one-head case at symbolic T, Tk, E (`mha_sym`, `single_head_sym`).

Seed: 深度学习数学模块 · 06-Attention-Mechanism.md (注意力机制). Primary: Vaswani et al. (2017), §3.2;
Bridle (1990) for softmax; torch docs for is_causal and torch.nn.MultiheadAttention.
"""
from __future__ import annotations

import dataclasses
import itertools

import sympy as sp
from sympy.simplify.simplify import sum_combine

from . import scope as sc
from .indexed import canonical, index, resolve_guards
from .prove import ProofResult, as_expr, combine, prove_equal, prove_positive, prove_true, prove_zero
from .registry import derivation
from .sums import normal_form, sum_normal

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

x_sym = sp.symbols("x1:5", real=True)
c_sym = sp.Symbol("c", real=True)


def softmax(xs):
    """The softmax of a tuple of SymPy expressions, as a list."""
    e = [sp.exp(v) for v in xs]
    Z = sum(e)
    return [ei / Z for ei in e]


def _q(e):
    return prove_zero(e, use_simplify=False)


# ---------------------------------------------------------------- symbolic-n machinery

n_sym = sp.Symbol("n", integer=True, positive=True)
XI = sp.IndexedBase("x", real=True)
GI = sp.IndexedBase("g", real=True)
i_, j_, k_, l_ = index("i"), index("j"), index("k"), index("l")


def Z_sym(shift=0):
    """sum_{k=0}^{n-1} exp(x_k + shift), symbolic n."""
    return sp.Sum(sp.exp(XI[k_] + shift), (k_, 0, n_sym - 1))


def s_sym(a, shift=0):
    """softmax(x + shift 1)_a = exp(x_a + shift) / sum_k exp(x_k + shift), symbolic n."""
    return sp.exp(XI[a] + shift) / Z_sym(shift)


def _linsum(e):
    """Linearity of a finite sum (exact): split Sum over the terms of its expanded summand, pull index-free factors."""
    if isinstance(e, sp.Sum) and len(e.limits) == 1:
        var, lo, hi = e.limits[0]
        out = sp.Integer(0)
        for term in sp.Add.make_args(sp.expand(_linsum(e.function), power_exp=True)):
            c, dep = term.as_independent(var, as_Add=False)
            out += c * (sp.Sum(dep, e.limits) if dep != 1 else hi - lo + 1)
        return out
    if not e.args or isinstance(e, (sp.Symbol, sp.Indexed, sp.IndexedBase)):
        return e
    return e.func(*[_linsum(a) for a in e.args])


def _delta_sub(e):
    """KroneckerDelta(a, b) f(b) = KroneckerDelta(a, b) f(a), term by term (exact: the delta vanishes unless a = b)."""
    out = sp.Integer(0)
    for term in sp.Add.make_args(sp.expand(e)):
        bound = {v for s in term.atoms(sp.Sum) for v, _, _ in s.limits}
        for dl in sorted((f for f in sp.Mul.make_args(term) if isinstance(f, sp.KroneckerDelta)), key=str):
            a, b = dl.args[:2]  # a top-level factor only, and never a bound index (no capture)
            if isinstance(b, sp.Symbol) and b not in bound and not (a.free_symbols & bound):
                term = dl * (term / dl).xreplace({b: a})
                break
        out += term
    return out


def _norm(e, bounds):
    """Evaluate index guards and deltas, apply sum linearity, alpha-normalize (all exact rewrites)."""
    e = _delta_sub(resolve_guards(as_expr(e), bounds))
    return canonical(resolve_guards(_linsum(e), bounds))


def prove_sum_equal(lhs, rhs, bounds) -> ProofResult:
    """lhs == rhs for every n: both normalized by `_norm`, the difference handed to the prover (Sum as atoms)."""
    a, b = _norm(lhs, bounds), _norm(rhs, bounds)
    if a == b:
        return ProofResult("proved", "entry-wise (symbolic n)", "equal after sum linearity and index guards")
    return prove_zero(a - b, use_simplify=False)


def _jac_sym(a, b):
    """d softmax(x)_a / d x_b by sp.diff at symbolic n, deltas evaluated."""
    return _delta_sub(resolve_guards(sp.diff(s_sym(a), XI[b]), {a: n_sym, b: n_sym}))


# ---------------------------------------------------------------- softmax

@derivation("attn.softmax.definition", kind="definition", title="Softmax",
            latex=r"\mathrm{softmax}(x)_i = \frac{e^{x_i}}{\sum_j e^{x_j}},\qquad "
                  r"\mathrm{softmax}(x)_i > 0,\ \sum_i \mathrm{softmax}(x)_i = 1",
            seed=SEED, primary=BRIDLE, assumptions=(REAL, ROWS, "n >= 1 entries (symbolic n)"),
            sizes=("n",),
            steps=(
                r"s_i = \frac{e^{x_i}}{Z},\quad Z = \sum_{j=1}^n e^{x_j} > 0",
                r"\sum_i s_i = \frac{\sum_i e^{x_i}}{Z} = 1,\qquad s_i > 0",
            ))
def _softmax_definition():
    return [("symbolic n: sum_i s_i = (sum_i exp(x_i))/Z = 1", prove_sum_equal(sp.Sum(s_sym(i_), (i_, 0, n_sym - 1)), 1, {}),
             sc.GENERAL),
            ("symbolic n: Z = sum_k exp(x_k) > 0 (a non-empty sum of positive terms), so s_i > 0",
             combine([prove_positive(Z_sym()), prove_positive(s_sym(i_))]), sc.GENERAL)]


@derivation("attn.softmax.shift_invariance", title="Softmax is invariant to adding a constant to every entry",
            latex=r"\mathrm{softmax}(x + c\,\mathbf 1) = \mathrm{softmax}(x)\quad(c \in \mathbb R)",
            seed=SEED, primary=BRIDLE, assumptions=(REAL, "c real", ROWS, "any number n >= 1 of entries (symbolic n)"),
            sizes=("n",),
            steps=(
                r"\sum_j e^{x_j + c} = e^{c}\sum_j e^{x_j}\quad\text{(linearity of the finite sum)}",
                r"\frac{e^{x_i + c}}{\sum_j e^{x_j + c}} = \frac{e^{c}\,e^{x_i}}{e^{c}\sum_j e^{x_j}} = \frac{e^{x_i}}{\sum_j e^{x_j}}",
            ))
def _shift_invariance():
    return [("symbolic n: sum_j exp(x_j + c) = exp(c) sum_j exp(x_j) (the factor exp(c) leaves the sum)",
             prove_sum_equal(Z_sym(c_sym), sp.exp(c_sym) * Z_sym(), {}), sc.GENERAL),
            ("symbolic n, every i: softmax(x + c 1)_i = softmax(x)_i",
             prove_sum_equal(s_sym(i_, c_sym), s_sym(i_), {i_: n_sym}), sc.GENERAL)]


@derivation("attn.softmax.stable", title="The max-shifted softmax: exponents <= 0, denominator in [1, n]",
            latex=r"m = \max_j x_j:\ \mathrm{softmax}(x)_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}},\quad "
                  r"x_i - m \le 0 \Rightarrow 0 < e^{x_i - m} \le 1,\quad 1 \le \sum_j e^{x_j - m} \le n",
            seed=SEED, primary=BRIDLE,
            assumptions=(REAL, ROWS, "m = max_j x_j, attained at some index k (0 <= k <= n - 1); any n >= 1 (symbolic n)"),
            notes="So exp never overflows and the division never divides by less than 1; a tiny e^{x_i - m} "
                  "may underflow to 0, which is within an absolute error of the smallest subnormal. Without "
                  "the shift, exp(x_i) overflows for x_i > ~709 (float64) or ~88.7 (float32). The bounds on "
                  "D = sum_j e^{-t_j} (t_j = m - x_j >= 0, t_k = 0) are proved term by term: D - 1 = "
                  "sum_j (e^{-t_j} - delta_jk) and n - D = sum_j (1 - e^{-t_j}) are sums of non-negative terms.",
            sizes=("n",),
            steps=(
                r"\mathrm{softmax}(x - m\mathbf 1) = \mathrm{softmax}(x)\quad\text{(attn.softmax.shift\_invariance with } c = -m)",
                r"t_i = m - x_i \ge 0:\ 0 < e^{-t_i},\quad 1 - e^{-t_i} = \int_0^{t_i} e^{-\tau}\,d\tau \ge 0\ \Rightarrow\ e^{x_i - m} \le 1",
                r"\sum_j \delta_{jk} = 1:\ D - 1 = \sum_j \big(e^{-t_j} - \delta_{jk}\big),\ "
                r"e^{-t_j} - \delta_{jk} = \begin{cases} e^{0} - 1 = 0 & j = k\\ e^{-t_j} > 0 & j \ne k\end{cases}",
                r"n - D = \sum_j \big(1 - e^{-t_j}\big),\ 1 - e^{-t_j} \ge 0\ \Rightarrow\ 1 \le D \le n",
            ))
def _stable():
    m = sp.Symbol("m", real=True)
    out = [("symbolic n, any real m: exp(x_i - m)/sum_j exp(x_j - m) = softmax(x)_i",
            prove_sum_equal(s_sym(i_, -m), s_sym(i_), {i_: n_sym}), sc.GENERAL)]
    t = sp.Symbol("t", nonnegative=True)  # t_i = m - x_i >= 0
    tau = sp.Symbol("tau", nonnegative=True)
    gap = sp.integrate(sp.exp(-tau), (tau, 0, t))  # 1 - exp(-t) as an integral
    out.append(("t >= 0: exp(-t) > 0 and 1 - exp(-t) = int_0^t exp(-tau) dtau, whose integrand is > 0 on [0, t]",
                combine([prove_positive(sp.exp(-t)), prove_equal(gap, 1 - sp.exp(-t)), prove_positive(sp.exp(-tau))]),
                sc.GENERAL))
    T = sp.IndexedBase("t", nonnegative=True)
    D = sp.Sum(sp.exp(-T[j_]), (j_, 0, n_sym - 1))
    out.append(("symbolic n, 0 <= k <= n - 1: sum_j delta_jk = 1, so D - 1 = sum_j (exp(-t_j) - delta_jk) and "
                "n - D = sum_j (1 - exp(-t_j))",
                combine([prove_sum_equal(sp.Sum(sp.KroneckerDelta(j_, k_), (j_, 0, n_sym - 1)), 1, {k_: n_sym}),
                         prove_sum_equal(D - 1, sp.Sum(sp.exp(-T[j_]) - sp.KroneckerDelta(j_, k_), (j_, 0, n_sym - 1)),
                                         {k_: n_sym}),
                         prove_sum_equal(n_sym - D, sp.Sum(1 - sp.exp(-T[j_]), (j_, 0, n_sym - 1)), {})]),
                sc.GENERAL))
    tj = sp.Symbol("t_j", positive=True)
    out.append(("each term of D - 1 is >= 0: j = k gives exp(-0) - 1 = 0 (t_k = 0), j != k gives exp(-t_j) - 0 > 0; "
                "each term of n - D is 1 - exp(-t_j) >= 0 (above)",
                combine([prove_zero(sp.exp(-sp.Integer(0)) - 1), prove_positive(sp.exp(-tj))]), sc.GENERAL))
    a = sp.IndexedBase("a", nonnegative=True)  # a_j: a term shown >= 0 above
    out.append(("symbolic n: a sum of n >= 1 non-negative terms a_j is >= 0 (so D >= 1 and D <= n)",
                prove_true(sp.Ge(sp.Sum(a[j_], (j_, 0, n_sym - 1)), 0)), sc.GENERAL))
    return out


def _jac(s, i, j):
    return s[i] * ((1 if i == j else 0) - s[j])


@derivation("attn.softmax.jacobian", title="The softmax Jacobian: diag(s) - s s^T",
            latex=r"\frac{\partial s_i}{\partial x_j} = s_i(\delta_{ij} - s_j),\qquad J = \operatorname{diag}(s) - s s^\top,"
                  r"\qquad J^\top g = s \odot (g - (s^\top g)\,\mathbf 1)",
            seed=SEED, primary=BRIDLE, assumptions=(REAL, ROWS, "any n >= 1 (symbolic n, entry-wise)"),
            layout="numerator: J[i, j] = d s_i / d x_j", sizes=("n",),
            steps=(
                r"\frac{\partial}{\partial x_j}\frac{e^{x_i}}{Z} = \frac{\delta_{ij} e^{x_i}}{Z} - \frac{e^{x_i} e^{x_j}}{Z^2} = s_i\delta_{ij} - s_i s_j",
                r"(J^\top g)_j = \sum_i g_i s_i(\delta_{ij} - s_j) = s_j g_j - s_j \sum_i s_i g_i",
            ))
def _jacobian():
    p = index("p")
    vjp = sp.Sum(GI[p] * sp.diff(s_sym(p), XI[j_]), (p, 0, n_sym - 1))
    return [("symbolic n, entry (i, j): sp.diff(s_i, x_j) = s_i (delta_ij - s_j)",
             prove_sum_equal(sp.diff(s_sym(i_), XI[j_]), s_sym(i_) * (sp.KroneckerDelta(i_, j_) - s_sym(j_)),
                             {i_: n_sym, j_: n_sym}), sc.GENERAL),
            ("symbolic n: the VJP sum_i g_i ds_i/dx_j = s_j (g_j - sum_i s_i g_i)",
             prove_sum_equal(vjp, s_sym(j_) * (GI[j_] - sp.Sum(s_sym(p) * GI[p], (p, 0, n_sym - 1))), {j_: n_sym}),
             sc.GENERAL)]


@derivation("attn.softmax.jacobian.rows_sum_zero", title="The softmax Jacobian's rows sum to zero: J 1 = 0",
            latex=r"\sum_j \frac{\partial s_i}{\partial x_j} = s_i - s_i\sum_j s_j = 0",
            seed=SEED, primary=BRIDLE, assumptions=(REAL, ROWS, "any n >= 1 (symbolic n)"), sizes=("n",),
            notes="Equivalently: softmax(x + c 1) does not depend on c (attn.softmax.shift_invariance), so its "
                  "derivative along 1 is 0.",
            steps=(r"\sum_j s_i(\delta_{ij} - s_j) = s_i - s_i \sum_j s_j = s_i(1 - 1) = 0",))
def _rows_sum_zero():
    return [("symbolic n, every i: sum_j sp.diff(s_i, x_j) = 0",
             prove_sum_equal(sp.Sum(_jac_sym(i_, l_), (l_, 0, n_sym - 1)), 0, {i_: n_sym}), sc.GENERAL)]


@derivation("attn.softmax.jacobian.symmetric", title="The softmax Jacobian is symmetric",
            latex=r"J_{ij} = s_i\delta_{ij} - s_i s_j = J_{ji}",
            seed=SEED, primary=BRIDLE, assumptions=(REAL, ROWS, "any n >= 1 (symbolic n)"), sizes=("n",),
            notes="So the VJP J^T g equals the JVP J g: the oracle applies J to the cotangent.",
            steps=(r"J = \operatorname{diag}(s) - s s^\top = J^\top",))
def _symmetric():
    return [("symbolic n, entry (i, j): sp.diff(s_i, x_j) = sp.diff(s_j, x_i)",
             prove_sum_equal(_jac_sym(i_, l_), _jac_sym(l_, i_), {i_: n_sym, l_: n_sym}), sc.GENERAL)]


@derivation("attn.softmax.jacobian.psd",
            title="The softmax Jacobian is positive semidefinite with kernel span(1): a variance",
            latex=r"v^\top J v = \sum_i s_i v_i^2 - \Big(\sum_i s_i v_i\Big)^2 = \sum_i s_i (v_i - m)^2 \ge 0,\ m = \sum_j s_j v_j,"
                  r"\quad v^\top J v = 0 \iff v \in \operatorname{span}(\mathbf 1)",
            seed=SEED, primary=BRIDLE, sizes=("n",),
            assumptions=(REAL, "s = softmax(x): s_i > 0, sum_i s_i = 1 (attn.softmax.definition)", "v real",
                         "any n >= 1 (symbolic n, entry-wise)"),
            notes="What is proved for every n: (1) v^T J v (J by sp.diff) = sum s_i v_i^2 - (sum s_i v_i)^2, the "
                  "variance of v under the distribution s; (2) with sum s = 1 it equals sum_i s_i (v_i - m)^2, a sum "
                  "of non-negative terms; (3) it vanishes on v = c 1, and for every l it is >= s_l (v_l - m)^2, which "
                  "is > 0 as soon as v_l != m. Hence J is PSD, its kernel is exactly span(1) (v^T J v = 0 forces "
                  "v_l = m for every l), and J is positive definite on the sum-zero subspace 1^perp (rank n - 1). It "
                  "is NOT positive definite on R^n: attn.softmax.jacobian.invertible.refuted.",
            steps=(
                r"v^\top J v = \sum_{i,l} v_i\big(s_i\delta_{il} - s_i s_l\big)v_l = \sum_i s_i v_i^2 - \Big(\sum_i s_i v_i\Big)^2 = \operatorname{Var}_s(v)",
                r"\sum_i s_i (v_i - m)^2 = \sum_i s_i v_i^2 - 2m^2 + m^2\sum_i s_i = \sum_i s_i v_i^2 - m^2\quad(\textstyle\sum_i s_i = 1)",
                r"s_i > 0:\ v^\top J v \ge s_l (v_l - m)^2 > 0 \text{ unless } v_l = m\ \forall l",
                r"\ker J = \operatorname{span}(\mathbf 1),\quad J \succ 0 \text{ on } \mathbf 1^\perp",
            ))
def _psd():
    n, i, l, p = n_sym, i_, l_, index("p")
    v = sp.IndexedBase("v", real=True)
    form = sp.Sum(v[i] * sp.Sum(sp.diff(s_sym(i), XI[l]) * v[l], (l, 0, n - 1)), (i, 0, n - 1))
    m = sp.Sum(s_sym(p) * v[p], (p, 0, n - 1))
    var = sp.Sum(s_sym(i) * v[i] ** 2, (i, 0, n - 1)) - m ** 2
    dev = sp.Sum(s_sym(i) * (v[i] - m) ** 2, (i, 0, n - 1))
    cc = sp.Symbol("c", real=True)
    sp_, w = sp.Symbol("s", positive=True), sp.Symbol("w", real=True)
    a = sp.IndexedBase("a", nonnegative=True)  # a_i: a term shown >= 0
    dlt = sp.Symbol("delta", real=True, nonzero=True)
    return [("symbolic n: v^T J v = sum_(i,l) v_i (d s_i/d x_l) v_l = sum s_i v_i^2 - (sum s_i v_i)^2",
             prove_multisum_equal(form, var, {}), sc.GENERAL),
            ("symbolic n: sum_i s_i (v_i - m)^2 = sum s_i v_i^2 - m^2, m = sum_j s_j v_j (uses sum s = 1)",
             prove_sum_equal(dev, var, {}), sc.GENERAL),
            ("each term s_i (v_i - m)^2 >= 0 (s_i > 0, v_i - m real), and a sum of n >= 1 non-negative terms is >= 0",
             combine([prove_true(sp.Ge(sp_ * w ** 2, 0)), prove_true(sp.Ge(sp.Sum(a[i], (i, 0, n - 1)), 0))]),
             sc.GENERAL),
            ("symbolic n: v = c 1 gives sum_i s_i (c - sum_j s_j c)^2 = 0 (span(1) is in the kernel)",
             prove_sum_equal(sp.Sum(s_sym(i) * (cc - sp.Sum(s_sym(p) * cc, (p, 0, n - 1))) ** 2, (i, 0, n - 1)), 0, {}),
             sc.GENERAL),
            ("symbolic n, every l: the form minus s_l (v_l - m)^2 = sum_i (1 - delta_il) s_i (v_i - m)^2 (>= 0, above), "
             "and s_l delta^2 > 0 for delta = v_l - m != 0: the kernel is exactly span(1)",
             combine([prove_sum_equal(dev - s_sym(l) * (v[l] - m) ** 2,
                                      sp.Sum((1 - sp.KroneckerDelta(i, l)) * s_sym(i) * (v[i] - m) ** 2, (i, 0, n - 1)),
                                      {l: n}),
                      prove_zero((1 - sp.KroneckerDelta(l, l)) * sp_ * w ** 2),  # the term i = l is 0
                      # (1 - delta_il) s_i w^2 >= 0: the delta is 0 or 1, both cases
                      prove_true(sp.Ge((1 - 0) * sp_ * w ** 2, 0)), prove_true(sp.Ge((1 - 1) * sp_ * w ** 2, 0)),
                      prove_positive(sp_ * dlt ** 2)]), sc.GENERAL)]


@derivation("attn.softmax.jacobian.invertible.refuted", kind="refutation",
            title="The softmax Jacobian is invertible (positive definite on R^n)",
            latex=r"x = (0, \ln 2, \ln 3):\ s = \big(\tfrac16, \tfrac13, \tfrac12\big),\ J\mathbf 1 = 0,\ "
                  r"\det J = 0,\ \mathbf 1^\top J \mathbf 1 = 0",
            seed=SEED, primary=BRIDLE, assumptions=(REAL, "counterexample at n = 3"), sizes=("n",),
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
             prove_equal(sp.Matrix([sp.nsimplify(v.subs(pt)) for v in s]), sp.Matrix([sp.Rational(1, 6), sp.Rational(1, 3), sp.Rational(1, 2)])),
             sc.at(n=3)),
            ("J 1 = 0 (exact)", prove_equal(J * ones, sp.zeros(3, 1)), sc.at(n=3)),
            ("det J = 0: J is singular", dataclasses.replace(prove_equal(det, 0), counterexample=cex), sc.at(n=3)),
            ("1^T J 1 = 0, so J is not positive definite", prove_true(sp.Eq(form, 0)), sc.at(n=3))]


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


GRAD_SIZES = ("Tq", "Tk", "d", "dv")
GENERAL_SIZES = "any Tq, Tk, d, dv >= 1 (symbolic sizes, entry-wise)"
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
            assumptions=(ROWS + " of the logits", "M = 0, or the causal mask of attn.causal.mask",
                         "consistency checked at Tq = Tk = d = dv = 2"), sizes=("Tq", "Tk", "d", "dv"),
            notes="Each output row is a convex combination of the rows of V (weights P_ij > 0 summing to 1).",
            steps=(
                r"S_{ij} = \frac{q_i \cdot k_j}{\sqrt d} + M_{ij},\quad P_{ij} = \frac{e^{S_{ij}}}{\sum_{j'} e^{S_{ij'}}}",
                r"y_i = \sum_j P_{ij}\, v_j,\qquad \sum_j P_{ij} = 1",
            ))
def _sdpa_forward():
    Q, K, V, _ = _mats(2, 2, 2, 2)
    Y, P, _ = sdpa(Q, K, V)
    at2 = sc.at(Tq=2, Tk=2, d=2, dv=2)
    return [("Tq = Tk = d = dv = 2: the rows of P sum to 1", combine(_q(sum(P.row(i)) - 1) for i in range(2)), at2),
            ("V = 1 1^T (constant rows): Y = 1 1^T (a convex combination)",
             prove_equal(sdpa(Q, K, sp.ones(2, 2))[0], sp.ones(2, 2)), at2)]


# ---- attention at symbolic sizes: Q (Tq, d), K (Tk, d), V (Tk, dv), dY (Tq, dv) as IndexedBases
TQ, TK, DK, DV = sp.symbols("T_q T_k d d_v", integer=True, positive=True)
QI, KI, VI, DYI = (sp.IndexedBase(nm, real=True) for nm in ("Q", "K", "V", "dY"))
_EXP = sp.Function("E")  # E(i, j) stands for exp(S_ij) once differentiated (opaque: exact substitution)


def logit_sym(i, j):
    """S_ij = sum_a Q_ia K_ja / sqrt(d), symbolic d."""
    a = sp.Dummy("a", integer=True, nonnegative=True)
    return sp.Sum(QI[i, a] * KI[j, a], (a, 0, DK - 1)) / sp.sqrt(DK)


def weight_sym(i, j, causal=False):
    """exp(S_ij + M_ij): M_ij = -oo for j > i when causal, and exp(-oo) = 0."""
    e = sp.exp(logit_sym(i, j))
    return sp.Piecewise((e, j <= i), (0, True)) if causal else e


def P_sym(i, j, causal=False, keys=None):
    """P_ij = w_ij / sum_{j'} w_ij' over keys 0..keys-1 (default Tk)."""
    jj = sp.Dummy("j", integer=True, nonnegative=True)
    return weight_sym(i, j, causal) / sp.Sum(weight_sym(i, jj, causal), (jj, 0, (TK if keys is None else keys) - 1))


def loss_sym():
    """L = <dY, Y> = sum_{i, c} dY_ic sum_j P_ij V_jc, symbolic Tq, Tk, d, dv."""
    i, j, c = (sp.Dummy(nm, integer=True, nonnegative=True) for nm in "ijc")
    return sp.Sum(DYI[i, c] * sp.Sum(P_sym(i, j) * VI[j, c], (j, 0, TK - 1)), (c, 0, DV - 1), (i, 0, TQ - 1))


def compact_grads(wrong=None):
    """The hand-written backward's entries at symbolic sizes: {"q": dQ(r, b), "k": dK(r, b), "v": dV(r, b)}.

    ``wrong``: "no_scale" drops the 1/sqrt(d) of dQ, dK; "dS_transposed" uses P_ji for P_ij in dS (mutants for tests).
    """
    c, j2 = sp.Dummy("c", integer=True, nonnegative=True), sp.Dummy("j", integer=True, nonnegative=True)
    scale = 1 if wrong == "no_scale" else 1 / sp.sqrt(DK)

    def Pw(i, j):
        return P_sym(j, i) if wrong == "dS_transposed" else P_sym(i, j)

    def dP(i, j):
        return sp.Sum(DYI[i, c] * VI[j, c], (c, 0, DV - 1))

    def dS(i, j):
        return Pw(i, j) * (dP(i, j) - sp.Sum(dP(i, j2) * P_sym(i, j2), (j2, 0, TK - 1)))

    def dQ(r, b):
        j = sp.Dummy("j", integer=True, nonnegative=True)
        return sp.Sum(dS(r, j) * KI[j, b], (j, 0, TK - 1)) * scale

    def dK(r, b):
        i = sp.Dummy("i", integer=True, nonnegative=True)
        return sp.Sum(dS(i, r) * QI[i, b], (i, 0, TQ - 1)) * scale

    def dV(r, b):
        i = sp.Dummy("i", integer=True, nonnegative=True)
        return sp.Sum(P_sym(i, r) * DYI[i, b], (i, 0, TQ - 1))

    return {"q": dQ, "k": dK, "v": dV}


def _opaque_exp(e):
    """exp(S_ij) -> E(i, j) where the sub-expression is literally exp(logit_sym(i, j)) (alpha-normalized): exact."""
    def rep(x):
        qs = [t for t in x.atoms(sp.Indexed) if t.base == QI]
        ks = [t for t in x.atoms(sp.Indexed) if t.base == KI]
        if len(qs) == 1 and len(ks) == 1:
            i, j = qs[0].indices[0], ks[0].indices[0]
            if canonical(x) == canonical(sp.exp(logit_sym(i, j))):
                return _EXP(i, j)
        return x
    return e.replace(lambda x: isinstance(x, sp.exp), rep)


def _bounds_free(lims):
    bound = {v for v, _, _ in lims}
    return not any((lo.free_symbols | hi.free_symbols) & bound for _, lo, hi in lims)


def sum_deltas(e, bounds):
    """sum_{v=0}^{N-1} KroneckerDelta(v, x) f(v) = f(x), x a free index with 0 <= x <= N - 1 (``bounds[x] == N``)
    or another bound index of the same multi-index sum over the same range.

    Term by term of each (multi-index) sum's expanded body, bottom-up; exact. A delta it cannot place stays.
    """
    if isinstance(e, sp.Sum):
        body, lims = sum_deltas(e.function, bounds), list(e.limits)
        if not _bounds_free(lims):
            return e.func(body, *lims)
        out = sp.Integer(0)
        for t in sp.Add.make_args(sp.expand(body)):
            tl, again = list(lims), True
            while again:
                again = False
                for lim in tl:
                    v, lo, hi = lim
                    for f in sp.Mul.make_args(t):
                        if isinstance(f, sp.KroneckerDelta) and len(f.args) == 2 and v in f.args and f.args[0] != f.args[1]:
                            x = f.args[1] if f.args[0] == v else f.args[0]
                            inner = any(x == w and (lo, hi) == (a, z) for w, a, z in tl)  # same range, bound
                            if inner or (x in bounds and lo == 0 and sp.expand(bounds[x] - 1 - hi) == 0):
                                t, again = (t / f).xreplace({v: x}), True
                                tl.remove(lim)
                                break
                    if again:
                        break
            out += sp.Sum(t, *tl) if tl else t
        return out
    if not e.args or isinstance(e, (sp.Symbol, sp.Indexed, sp.IndexedBase)):
        return e
    return e.func(*[sum_deltas(a, bounds) for a in e.args])


def relabel_canonical(e):
    """Each multi-index sum with index-free bounds: its bound indices of equal range relabelled to the least form
    (sum_{u, v} f(u, v) = sum_{u, v} f(v, u) over one range: exact), then alpha-normalized."""
    if isinstance(e, sp.Sum):
        body, lims = relabel_canonical(e.function), e.limits
        if not _bounds_free(lims):
            return canonical(e.func(body, *lims))
        best = None
        for perm in itertools.permutations(range(len(lims))):
            if any(lims[p][1:] != lims[q][1:] for q, p in enumerate(perm)):
                continue
            rep = {lims[q][0]: lims[p][0] for q, p in enumerate(perm)}
            cand = canonical(sp.Sum(body.xreplace(rep), *lims))
            if best is None or sp.default_sort_key(cand) < sp.default_sort_key(best):
                best = cand
        return best
    if not e.args or isinstance(e, (sp.Symbol, sp.Indexed, sp.IndexedBase)):
        return e
    return e.func(*[relabel_canonical(a) for a in e.args])


def _power_of_sums(e):
    """Sum(f)^k (k a positive integer) -> the product of k copies, each with fresh bound indices (exact)."""
    def rep(x):
        copies = []
        for _ in range(int(x.exp)):
            d = sp.Dummy("u", integer=True)
            (v, lo, hi), = x.base.limits
            copies.append(sp.Sum(x.base.function.xreplace({v: d}), (d, lo, hi)))
        return sp.Mul(*copies)
    return e.replace(lambda x: isinstance(x, sp.Pow) and isinstance(x.base, sp.Sum) and len(x.base.limits) == 1
                     and x.exp.is_Integer and x.exp > 1, rep)


def multisum_normal(e, bounds):
    """exp(S_ij) made opaque, powers of sums written as products, sums flattened (sums.sum_normal), deltas
    summed out, equal ranges relabelled."""
    e = sum_normal(_power_of_sums(_opaque_exp(as_expr(e))))
    return relabel_canonical(canonical(sum_normal(sum_deltas(e, bounds))))


def prove_multisum_equal(lhs, rhs, bounds) -> ProofResult:
    """lhs == rhs for every size: both brought to `multisum_normal`, the difference handed to the prover."""
    a, b = multisum_normal(lhs, bounds), multisum_normal(rhs, bounds)
    if a == b:
        return ProofResult("proved", "entry-wise (symbolic sizes)", "equal after the multi-sum normal form")
    return prove_zero(a - b, use_simplify=False)


def grad_entry_proof(which, wrong=None) -> ProofResult:
    """Every Tq, Tk, d, dv: sp.diff(L, M[r, b]) = the compact gradient's entry (r, b), M in {Q, K, V}."""
    r, b = index("r"), index("b")
    M, rows, cols = {"q": (QI, TQ, DK), "k": (KI, TK, DK), "v": (VI, TK, DV)}[which]
    return prove_multisum_equal(sp.diff(loss_sym(), M[r, b]), compact_grads(wrong)[which](r, b), {r: rows, b: cols})


def _grad_general(which, formula):
    return [(f"symbolic Tq, Tk, d, dv, entry (r, b): sp.diff(L, {which.upper()}[r, b]) = ({formula})[r, b]",
             grad_entry_proof(which), sc.GENERAL)]


@derivation("attn.sdpa.grad_v", title="Attention gradient w.r.t. V: dV = P^T dY",
            latex=r"\frac{\partial L}{\partial V} = P^\top dY", seed=SEED, primary=VASWANI,
            assumptions=(GENERAL_SIZES, "L = <dY, Y>"), steps=FORMULAS[:2], sizes=GRAD_SIZES)
def _grad_v():
    return _grad_general("v", "P^T dY")


@derivation("attn.sdpa.grad_q", title="Attention gradient w.r.t. Q: dQ = dS K / sqrt(d)",
            latex=r"\frac{\partial L}{\partial Q} = \frac{dS\,K}{\sqrt d},\quad dS = P \odot \big(dP - \mathrm{rowsum}(dP \odot P)\big),\ dP = dY V^\top",
            seed=SEED, primary=VASWANI, assumptions=(GENERAL_SIZES, "L = <dY, Y>", "no mask (a mask only zeroes P_ij)"),
            steps=FORMULAS, sizes=GRAD_SIZES)
def _grad_q():
    return _grad_general("q", "dS K / sqrt(d)")


@derivation("attn.sdpa.grad_k", title="Attention gradient w.r.t. K: dK = dS^T Q / sqrt(d)",
            latex=r"\frac{\partial L}{\partial K} = \frac{dS^\top Q}{\sqrt d}", seed=SEED, primary=VASWANI,
            assumptions=(GENERAL_SIZES, "L = <dY, Y>"), steps=FORMULAS, sizes=GRAD_SIZES)
def _grad_k():
    return _grad_general("k", "dS^T Q / sqrt(d)")


def expect(e, bases):
    """E[e] for a polynomial e in Indexed entries of ``bases`` (independent across bases and entries, zero mean,
    unit variance): linearity over finite sums (exact: E of a finite sum is the sum of the E), per base the
    moments E[1] = 1, E[B_a] = 0, E[B_a B_b] = KroneckerDelta(a, b); a higher moment gives None (undetermined)."""
    e = as_expr(e)
    for _ in range(2):  # a power of a sum split by linearity is a power of sums again
        e = canonical(sum_normal(_power_of_sums(sp.expand(e))))

    def mono(t):
        out = sp.Integer(1)
        for B in bases:
            idx = []
            for f in sp.Mul.make_args(t):
                base, k = (f.base, int(f.exp)) if isinstance(f, sp.Pow) and f.exp.is_Integer else (f, 1)
                if isinstance(base, sp.Indexed) and base.base == B:
                    idx += [base.indices[0]] * k
            if len(idx) == 1:
                return sp.Integer(0)
            if len(idx) > 2:
                return None
            if len(idx) == 2:
                out *= sp.KroneckerDelta(*idx)
        rest = t.xreplace({f: 1 for f in t.atoms(sp.Indexed) if f.base in bases})
        return out * rest

    total = sp.Integer(0)
    for t in sp.Add.make_args(sp.expand(e)):
        coeff, t = t.as_independent(sp.Sum, as_Add=False)  # a numeric / index-free factor of the term
        if coeff.has(sp.Indexed):
            return None
        if isinstance(t, sp.Sum):
            terms = [mono(u) for u in sp.Add.make_args(sp.expand(t.function))]
            if any(u is None for u in terms):
                return None
            total += coeff * sp.Sum(sp.Add(*terms), *t.limits)
        elif not t.has(sp.Sum):
            u = mono(coeff * t)
            if u is None:
                return None
            total += u
        else:
            return None
    return normal_form(sum_deltas(total, {}))


@derivation("attn.scale.variance", title="Why 1/sqrt(d): the scaled logit has unit variance",
            latex=r"q, k \in \mathbb R^d \text{ independent entries},\ \mathbb E = 0,\ \mathbb E[\cdot^2] = 1:\ "
                  r"\mathbb E[q\cdot k] = 0,\ \operatorname{Var}(q\cdot k) = d,\ \operatorname{Var}\Big(\frac{q\cdot k}{\sqrt d}\Big) = 1;"
                  r"\quad \operatorname{Var}\Big(\frac{q\cdot(k_1 - k_2)}{\sqrt d}\Big) = 2",
            seed=SEED, primary=VASWANI_SCALE,
            assumptions=("all entries of q, k (k_1, k_2) independent, zero mean, unit variance",
                         "any d >= 1 (symbolic d): E is applied to finite sums by linearity, per entry by the "
                         "moments E[x] = 0, E[x_u x_w] = delta_uw"), sizes=("d",),
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
    d = sp.Symbol("d", integer=True, positive=True)
    q, k, k2 = (sp.IndexedBase(nm, real=True) for nm in ("q", "k", "kk"))
    u = index("u")
    dot = sp.Sum(q[u] * k[u], (u, 0, d - 1))
    dif = sp.Sum(q[u] * (k[u] - k2[u]), (u, 0, d - 1))
    bases = (q, k, k2)
    E1, E2, E3 = expect(dot, bases), expect(dot ** 2, bases), expect(dif ** 2, bases)
    ok = lambda e, want: prove_equal(e, want) if e is not None else ProofResult(  # noqa: E731
        "undecided", "expectation", "a moment not fixed by the assumptions")
    return [("symbolic d: E[q.k] = sum_u E[q_u] E[k_u] = 0 and E[(q.k)^2] = sum_(u,w) delta_uw delta_uw = d",
             combine([ok(E1, 0), ok(E2, d)]), sc.GENERAL),
            ("symbolic d: Var(q.k/sqrt(d)) = d/d = 1, Var(q.k/d) = d/d^2 = 1/d",
             combine([ok(E2 / d if E2 is not None else None, 1), ok(E2 / d ** 2 if E2 is not None else None, 1 / d)]),
             sc.GENERAL),
            ("symbolic d: Var(q.(k_1 - k_2)/sqrt(d)) = 2d/d = 2", ok(E3 / d if E3 is not None else None, 2), sc.GENERAL)]


def _from_top(e, top):
    """Each one-index Sum over (j, 0, top) re-indexed as j = top - t, t >= 0, and back (exact): on the way SymPy
    decides, from t >= 0, every guard j <= top and every KroneckerDelta(j, top + 1 + w) (= 0) in its body."""
    if isinstance(e, sp.Sum) and len(e.limits) == 1 and e.limits[0][1] == 0 and e.limits[0][2] == top:
        j = e.limits[0][0]
        t = sp.Dummy("t", integer=True, nonnegative=True)
        return sp.Sum(_from_top(e.function, top), (j, 0, top)).change_index(j, top - j, t).change_index(t, top - t, j)
    if not e.args or isinstance(e, (sp.Symbol, sp.Indexed)):
        return e
    return e.func(*[_from_top(x, top) for x in e.args])


def _split_causal(e, hi, i):
    """Each one-index Sum over (j, 0, hi) with a causal guard in its body (hi >= i): split at i (the lemma
    sum_{j=0}^{i+u} f(j) = sum_{j=0}^{i} f(j) + sum_{t=0}^{u-1} f(i + 1 + t) of `_split_lemma`), the head
    re-indexed from the top (guard j <= i true), the tail's guard i + 1 + t <= i false (so the tail is 0)."""
    if isinstance(e, sp.Sum) and len(e.limits) == 1 and e.limits[0][1] == 0 and e.limits[0][2] == hi \
            and e.function.has(sp.Piecewise):
        j = e.limits[0][0]
        body = _split_causal(e.function, hi, i)
        t = sp.Dummy("t", integer=True, nonnegative=True)
        return _from_top(sp.Sum(body, (j, 0, i)), i) + sp.Sum(body.xreplace({j: i + 1 + t}), (t, 0, hi - i - 1)).doit()
    if not e.args or isinstance(e, (sp.Symbol, sp.Indexed)):
        return e
    return e.func(*[_split_causal(x, hi, i) for x in e.args])


def _split_lemma() -> ProofResult:
    """For every i, u >= 0 and every f (undefined): sum_{j=0}^{i+u} f(j) = sum_{j=0}^{i} f(j) + sum_{t=0}^{u-1} f(i+1+t)
    (adjacent ranges joined by SymPy's sum_combine after re-indexing the tail: exact)."""
    i, u, j, t = index("i"), index("u"), index("j"), index("t")
    f = sp.Function("f")
    tail = sp.Sum(f(i + 1 + t), (t, 0, u - 1)).change_index(t, t + i + 1, j)
    joined = sum_combine([sp.Sum(f(j), (j, 0, i)), tail])
    ok = canonical(joined) == canonical(sp.Sum(f(j), (j, 0, i + u)))
    return ProofResult("proved" if ok else "undecided", "structural (SymPy sum_combine, exact)",
                       "adjacent ranges [0, i] and [i + 1, i + u] join to [0, i + u]")


def y_sym(i, c, causal=False, keys=None):
    """y_ic = sum_j P_ij V_jc over keys 0..keys-1 (default Tk), symbolic sizes."""
    j = sp.Dummy("j", integer=True, nonnegative=True)
    return sp.Sum(P_sym(i, j, causal, keys) * VI[j, c], (j, 0, (TK if keys is None else keys) - 1))


def causal_prefix_proof(wrong_keys=None) -> ProofResult:
    """Every row i <= Tk - 1 (Tk = i + 1 + u), every Tq, d, dv: the causal y_ic = unmasked attention of q_i over the
    keys and values 0..i (``wrong_keys``: another prefix length, a mutant for tests)."""
    i, c, u = index("i"), index("c"), index("u")
    lhs = _split_causal(y_sym(i, c, causal=True).xreplace({TK: i + 1 + u}), i + u, i)
    rhs = y_sym(i, c, keys=i + 1 if wrong_keys is None else wrong_keys)
    a, b = canonical(lhs), canonical(rhs)
    if a == b:
        return ProofResult("proved", "entry-wise (symbolic sizes)", "equal after splitting the key sums at i")
    return prove_zero(a - b, use_simplify=False)


@derivation("attn.causal.mask", title="The causal mask: y_i depends only on keys and values j <= i",
            latex=r"M_{ij} = -\infty\ (j > i):\ \frac{\partial y_i}{\partial k_j} = \frac{\partial y_i}{\partial v_j} = 0\ (j > i),"
                  r"\quad y_i = \mathrm{attention}(q_i, K_{0..i}, V_{0..i})\ (i \le T_k - 1)",
            seed=SEED, primary=VASWANI + " (§3.2.3, masking in the decoder); " + TORCH_SDPA,
            assumptions=("top-left aligned: row i may attend to j <= i (torch's is_causal, tril(ones(Tq, Tk)))",
                         "any Tq, Tk, d, dv >= 1 (symbolic sizes, entry-wise; rows i <= Tk - 1 and i >= Tk - 1 "
                         "treated separately)"),
            sizes=("Tq", "Tk", "d", "dv"),
            notes="With the top-left alignment every row keeps j = 0, so no row is fully masked for any Tq, Tk; a "
                  "row i >= Tk - 1 keeps every key and equals the unmasked row. Masking after the softmax "
                  "(P_ij = 0 without renormalizing) is a different, wrong function: the kept weights no longer sum "
                  "to 1. The masked weight is written Piecewise((exp(S_ij), j <= i), (0, True)) (exp(-oo) = 0); "
                  "each sum over the keys is split at i, and SymPy decides the guards from the index ranges.",
            steps=(
                r"e^{S_{ij} - \infty} = 0\ (j > i):\ P_{ij} = 0,\quad P_{ij} = \frac{e^{S_{ij}}}{\sum_{j' \le i} e^{S_{ij'}}}\ (j \le i)",
                r"T_k = i + 1 + u:\ \sum_{j=0}^{T_k - 1} f(j) = \sum_{j=0}^{i} f(j) + \sum_{t=0}^{u-1} f(i + 1 + t),"
                r"\ \text{the tail's guard } i + 1 + t \le i \text{ is false}",
                r"y_i = \sum_{j \le i} P_{ij} v_j = \mathrm{softmax}\Big(\frac{q_i K_{0..i}^\top}{\sqrt d}\Big) V_{0..i}"
                r"\text{ involves no } k_r, v_r \text{ with } r > i",
                r"i = T_k - 1 + u:\ \text{every guard } j \le i \text{ holds, the row is unmasked}",
            ))
def _causal_mask():
    i, j, c, u, w = (index(s) for s in "ijcuw")
    r = i + 1 + w  # a masked key, r > i
    out = [("every i, u >= 0 and every f: sum_{j=0}^{i+u} f(j) = sum_{j=0}^{i} f(j) + sum_{t=0}^{u-1} f(i+1+t)",
            _split_lemma(), sc.GENERAL)]
    Z = _split_causal(sp.Sum(weight_sym(i, j, causal=True), (j, 0, TK - 1)).xreplace({TK: i + 1 + u}), i + u, i)
    out.append(("symbolic sizes, r = i + 1 + w > i: the masked P_ir = 0; every row of P sums to 1 and its normalizer "
                "sum_{j <= i} exp(S_ij) is > 0 (i + 1 >= 1 positive terms)",
                combine([prove_zero(P_sym(i, r, causal=True)),
                         prove_sum_equal(_split_causal(sp.Sum(P_sym(i, j, causal=True), (j, 0, TK - 1)).xreplace(
                             {TK: i + 1 + u}), i + u, i), 1, {}),
                         prove_positive(Z)]), sc.GENERAL))
    out.append(("symbolic Tq, d, dv, rows i <= Tk - 1 (Tk = i + 1 + u): causal y_ic = unmasked attention of q_i over "
                "K_(0..i), V_(0..i)", causal_prefix_proof(), sc.GENERAL))
    full = _from_top(y_sym(i, c, causal=True).xreplace({i: TK - 1 + u}), TK - 1)
    out.append(("symbolic sizes, rows i = Tk - 1 + u >= Tk - 1: every guard j <= i holds, causal y_ic = unmasked y_ic",
                prove_equal(canonical(full), canonical(y_sym(TK - 1 + u, c))), sc.GENERAL))
    out.append(("symbolic sizes, every masked key r = i + 1 + w <= Tk - 1: d y_ic/d K[r, a] = d y_ic/d V[r, b] = 0 "
                "(the split form has no k_r, v_r: each KroneckerDelta(j, r), j <= i, is 0)",
                causal_zero_grad_proof(), sc.GENERAL))
    return out


def causal_zero_grad_proof(first=1) -> ProofResult:
    """Every key r = i + first + w <= Tk - 1 (w >= 0): d y_ic/d K[r, a] = d y_ic/d V[r, b] = 0 for the causal y, at
    symbolic Tq, Tk, d, dv (``first=1``: the masked keys r > i; ``first=0`` includes r = i, a mutant for tests)."""
    i, j, c, a, u, w = (index(s) for s in "ijcauw")
    r, hi = i + first + w, i + first + w + u  # hi = Tk - 1 >= r
    yc = _split_causal(y_sym(i, c, causal=True).xreplace({TK: hi + 1}), hi, i)
    dK = resolve_guards(_from_top(sp.diff(yc, KI[r, a]), i), {a: DK})
    dV = resolve_guards(_from_top(sp.diff(yc, VI[r, j]), i), {j: DV})
    return combine([prove_zero(dK, use_simplify=False), prove_zero(dV, use_simplify=False)])


def _one_term(s):
    """Sum(g(h), (h, a, a)) = g(a), for the outermost index of a (possibly multi-index) Sum (exact)."""
    (h, lo, hi), inner = s.limits[-1], s.limits[:-1]
    assert lo == hi
    body = s.function.xreplace({h: lo})
    return sp.Sum(body, *inner) if inner else body


def _peel_last(s):
    """Sum(g(h), ..., (h, 0, H)) = Sum(g(h), ..., (h, 0, H - 1)) + g(H): adjacent ranges, joined by sum_combine for an
    undefined body (so for every body); returns (head, g(H), whether the join was confirmed)."""
    (h, lo, hi), inner = s.limits[-1], s.limits[:-1]
    g = sp.Sum(s.function, *inner) if inner else s.function
    G = sp.Function("G")  # the join is checked for an undefined body G(h), then instantiated G(h) = g(h)
    joined = sum_combine([sp.Sum(G(h), (h, lo, hi - 1)), sp.Sum(G(h), (h, hi, hi))])
    ok = canonical(joined) == canonical(sp.Sum(G(h), (h, lo, hi)))
    return sp.Sum(g, (h, lo, hi - 1)), _one_term(sp.Sum(g, (h, hi, hi))), ok


H_SYM, DH_SYM = sp.symbols("H d_h", integer=True, positive=True)


def block_sum_step(wrong=None) -> list:
    """The block-sum identity A(H) = B(H) for every H >= 1, d_h >= 1 and every f (undefined), by induction on H:

        A(H) = sum_{p=0}^{H d_h - 1} f(p),   B(H) = sum_{h=0}^{H-1} sum_{c=0}^{d_h - 1} f(h d_h + c).

    Returns [(base case H = 1 result), (induction step result)]. Step: A(H + 1) = A(H) + sum_{p=H d_h}^{(H+1) d_h - 1}
    f(p) (adjacent ranges, sum_combine), the tail re-indexed p = H d_h + c is sum_c f(H d_h + c), and B(H + 1) =
    B(H) + sum_c f(H d_h + c) (the last outer term peeled); so A(H) = B(H) gives A(H + 1) = B(H + 1).
    ``wrong="offset"``: the block h starts at h d_h + 1 (a mutant for tests)."""
    H, dh = H_SYM, DH_SYM
    p, h, c = index("p"), index("h"), index("c")
    f = sp.Function("f")
    off = 1 if wrong == "offset" else 0
    A = lambda N: sp.Sum(f(p), (p, 0, N * dh - 1))  # noqa: E731
    B = lambda N: sp.Sum(f(h * dh + c + off), (c, 0, dh - 1), (h, 0, N - 1))  # noqa: E731
    base = prove_equal(canonical(A(1)), canonical(_one_term(B(1))))
    # step: A(H + 1) = A(H) + tail
    tail = sp.Sum(f(p), (p, H * dh, H * dh + dh - 1))
    joined = sum_combine([A(H), tail])
    split_ok = isinstance(joined, sp.Sum) and len(joined.limits) == 1 and joined.function == f(p) \
        and joined.limits[0][1] == 0 and sp.expand(joined.limits[0][2] - ((H + 1) * dh - 1)) == 0
    tail_c = tail.change_index(p, p - H * dh, c)  # sum_c f(H d_h + c)
    headB, lastB, peel_ok = _peel_last(B(H + 1))
    same_head = canonical(headB) == canonical(B(H))
    # A(H+1) - B(H+1) = (A(H) - B(H)) + (tail_c - lastB): zero when the induction hypothesis A(H) = B(H) holds
    rest = prove_zero(canonical(tail_c) - canonical(lastB), use_simplify=False) if canonical(tail_c) != canonical(lastB) \
        else ProofResult("proved", "structural", "equal tails")
    step = combine([ProofResult("proved" if split_ok and peel_ok and same_head else "undecided",
                                "structural (SymPy sum_combine, exact)", "adjacent-range splits of A(H + 1), B(H + 1)"),
                    rest])
    return [base, step]


def mha_sym(t, o, H, dh):
    """MHA output entry Y[t, o] at symbolic sizes (E = H d_h), the block-sum form of concat_h(head_h) W_o^T + b_o:
    Y[t, o] = sum_h sum_c head_h[t, c] W_o[o, h d_h + c] + b_o[o], head_h = attention of the rows B_h of the
    projections, scale 1/sqrt(d_h)."""
    E = H * dh
    Xq, Xk, Xv, Wq, Wk, Wv, Wo = (sp.IndexedBase(nm, real=True) for nm in ("X_q", "X_k", "X_v", "W_q", "W_k", "W_v", "W_o"))
    bq, bk, bv, bo = (sp.IndexedBase(nm, real=True) for nm in ("b_q", "b_k", "b_v", "b_o"))

    def proj(X, W, b, s, row):
        e = sp.Dummy("e", integer=True, nonnegative=True)
        return sp.Sum(X[s, e] * W[row, e], (e, 0, E - 1)) + b[row]

    h, c, j, j2, a = (sp.Dummy(nm, integer=True, nonnegative=True) for nm in ("h", "c", "j", "j2", "a"))

    def S(i, jj):
        return sp.Sum(proj(Xq, Wq, bq, i, h * dh + a) * proj(Xk, Wk, bk, jj, h * dh + a), (a, 0, dh - 1)) / sp.sqrt(dh)

    P = sp.exp(S(t, j)) / sp.Sum(sp.exp(S(t, j2)), (j2, 0, TK - 1))
    head = sp.Sum(P * proj(Xv, Wv, bv, j, h * dh + c), (j, 0, TK - 1))
    return sp.Sum(head * Wo[o, h * dh + c], (c, 0, dh - 1), (h, 0, H - 1)) + bo[o], (Xq, Xk, Xv, Wq, Wk, Wv, Wo, bq, bk, bv, bo)


def single_head_sym(t, o, E, bases):
    """attention(X_q W_q^T + b_q, X_k W_k^T + b_k, X_v W_v^T + b_v) W_o^T + b_o, entry (t, o), head dim E."""
    Xq, Xk, Xv, Wq, Wk, Wv, Wo, bq, bk, bv, bo = bases

    def proj(X, W, b, s, row):
        e = sp.Dummy("e", integer=True, nonnegative=True)
        return sp.Sum(X[s, e] * W[row, e], (e, 0, E - 1)) + b[row]

    c, j, j2, a = (sp.Dummy(nm, integer=True, nonnegative=True) for nm in ("c", "j", "j2", "a"))

    def S(i, jj):
        return sp.Sum(proj(Xq, Wq, bq, i, a) * proj(Xk, Wk, bk, jj, a), (a, 0, E - 1)) / sp.sqrt(E)

    P = sp.exp(S(t, j)) / sp.Sum(sp.exp(S(t, j2)), (j2, 0, TK - 1))
    att = sp.Sum(P * proj(Xv, Wv, bv, j, c), (j, 0, TK - 1))
    return sp.Sum(att * Wo[o, c], (c, 0, E - 1)) + bo[o]


@derivation("attn.mha.concat", title="Multi-head attention: the concatenation times W_o is a sum over heads",
            latex=r"\mathrm{concat}_h(\mathrm{head}_h)\,W_o^\top = \sum_h \mathrm{head}_h\,W_o[:, B_h]^\top,\quad "
                  r"\mathrm{head}_h = \mathrm{attention}(X_q W_q[B_h]^\top + b_q[B_h], \ldots),\ B_h = [hE/H, (h+1)E/H)",
            seed=SEED, primary=VASWANI + "; " + TORCH_MHA,
            assumptions=("E divisible by H, head dim d_h = E/H, scale 1/sqrt(d_h)",
                         "any H, d_h >= 1 (induction on H at symbolic d_h), any T, E (symbolic) for the single head"),
            sizes=("E", "H", "T"),
            notes="The concatenation C = [head_0, ..., head_{H-1}] has C[t, h d_h + c] = head_h[t, c], so "
                  "(C W_o^T)[t, o] = sum_{p < H d_h} f(p) with f(p) = C[t, p] W_o[o, p]; the block-sum identity "
                  "sum_{p < H d_h} f(p) = sum_h sum_{c < d_h} f(h d_h + c) is proved for an undefined f by induction "
                  "on H (base case H = 1, step at symbolic H, d_h). torch.nn.MultiheadAttention stores "
                  "in_proj_weight = [W_q; W_k; W_v] (3E, E): rows 0..E-1 are W_q. A layout with the W_q and W_k "
                  "blocks swapped computes softmax(K' Q'^T) (attention transposed): the property attn.mha.heads "
                  "names it.",
            steps=(
                r"\sum_{p=0}^{H d_h - 1} f(p) = \sum_{h=0}^{H-1}\sum_{c=0}^{d_h - 1} f(h d_h + c):\ H = 1 \text{ (one term)};\ "
                r"H \to H + 1:\ \sum_{p=H d_h}^{(H+1)d_h - 1} f(p) = \sum_{c=0}^{d_h - 1} f(H d_h + c)",
                r"Y = [\mathrm{head}_0, \ldots, \mathrm{head}_{H-1}]\,W_o^\top + b_o = \sum_h \mathrm{head}_h\,(W_o[:, B_h])^\top + b_o",
                r"H = 1:\ Y = \mathrm{attention}(X_q W_q^\top + b_q,\ X_k W_k^\top + b_k,\ X_v W_v^\top + b_v)\,W_o^\top + b_o",
            ))
def _mha_concat():
    base, step = block_sum_step()
    t, o = index("t"), index("o")
    E = sp.Symbol("E", integer=True, positive=True)
    Y, bases = mha_sym(t, o, 1, E)
    Y = Y.replace(lambda x: isinstance(x, sp.Sum) and x.limits[-1][1:] == (0, 0), _one_term)  # the one head h = 0
    Y1 = single_head_sym(t, o, E, bases)
    return [("H = 1, symbolic d_h, every f: sum_{p < d_h} f(p) = sum_{h=0}^{0} sum_{c < d_h} f(h d_h + c)", base,
             sc.base_case(H=1)),
            ("symbolic H, d_h, every f: A(H + 1) = A(H) + sum_c f(H d_h + c) and B(H + 1) = B(H) + sum_c f(H d_h + c) "
             "(adjacent-range sums joined exactly), so A(H) = B(H) implies A(H + 1) = B(H + 1)", step, sc.INDUCTION_STEP),
            ("symbolic T, Tk, E, H = 1 (d_h = E): the one-head block sum is single-head attention of the projections, "
             "entry (t, o)", prove_equal(canonical(Y), canonical(Y1)), sc.GENERAL)]


# the ids, for tests and the book
IDS = ("attn.softmax.definition", "attn.softmax.shift_invariance", "attn.softmax.stable", "attn.softmax.jacobian",
       "attn.softmax.jacobian.rows_sum_zero", "attn.softmax.jacobian.symmetric", "attn.softmax.jacobian.psd",
       "attn.softmax.jacobian.invertible.refuted", "attn.sdpa.forward", "attn.sdpa.grad_v", "attn.sdpa.grad_q",
       "attn.sdpa.grad_k", "attn.scale.variance", "attn.causal.mask", "attn.mha.concat")
