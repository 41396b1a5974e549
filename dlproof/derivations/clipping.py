"""Gradient clipping: by global L2 norm, its torch epsilon variant, per tensor (Keras), and by value.

Rule (exact math): g' = g * min(1, c/||g||), ||.|| the Euclidean (L2) norm, threshold c > 0.
Stated as a Piecewise, scale = {c/||g|| if ||g|| > c; 1 otherwise}; the boundary ||g|| = c gives 1
either way, so Pascanu's ">=", d2l's ">" and optax's strict "<" all give the same values.

Declared conventions (each derived exactly, never absorbed into a tolerance):
- ``clip_eps``: torch scales by min(1, c/(||g|| + eps)) with eps = 1e-6, **always**; so it shrinks
  a clipped gradient to c*||g||/(||g||+eps), just below c, and is not idempotent.
- ``clip_scope = per_tensor``: Keras ``clipnorm`` clips each tensor by its own norm, which does not
  preserve the direction of the whole gradient.
- clipping by value, g'_i = min(max(g_i, -v), v), does not preserve direction either.

Route: the abstract one (N = ||g|| a positive symbol; the only fact used is ||s g|| = s ||g|| for
s > 0, proved for every n), with case analysis by substitution (N = c + d, d > 0, or c = N + d,
d >= 0) so every Piecewise condition evaluates exactly; where a statement is about vectors, entry-wise
with a symbolic length n (g an IndexedBase, ||g||^2 = sum_{k<n} g_k^2), so it holds for every n. The
global norm over K tensors of sizes n_1..n_K is proved by induction on K with symbolic sizes.

Seed: §6 (梯度裁剪). Primary: Pascanu, Mikolov & Bengio (2013), ICML, Algorithm 1;
torch.nn.utils.clip_grad_norm_ / clip_grad_value_ (torch/nn/utils/clip_grad.py);
Keras 3 optimizer clipnorm / global_clipnorm / clipvalue (keras/src/optimizers/base_optimizer.py).
"""
from __future__ import annotations

import dataclasses

import sympy as sp

from sympy.simplify.simplify import sum_combine

from . import scope as sc
from .sums import factor_out_of_sums
from .indexed import index, prove_entry_equal
from .prove import combine, prove_equal, prove_positive, prove_true, prove_zero
from .registry import derivation

SEED_CLIP = "seed §6 梯度裁剪 (按范数裁剪: g = threshold/||g|| g if ||g|| > threshold)"
PASCANU_ALG1 = ("Pascanu, Mikolov & Bengio (2013), On the difficulty of training recurrent neural "
                "networks, ICML, Algorithm 1")
TORCH_CLIP = "torch.nn.utils.clip_grad_norm_ (torch/nn/utils/clip_grad.py: clip_grads_with_norm_)"
TORCH_NORM = "torch.nn.utils.get_total_norm (torch/nn/utils/clip_grad.py)"
TORCH_VALUE = "torch.nn.utils.clip_grad_value_ (torch/nn/utils/clip_grad.py: clamp_(-v, v))"
KERAS_CLIPNORM = "Keras 3 optimizer clipnorm (keras/src/optimizers/base_optimizer.py)"

L2 = "||.|| is the Euclidean (L2) norm"
C_POS = "c > 0"
G_NONZERO = "g != 0, i.e. N = ||g|| > 0 (g = 0 is left unchanged by every convention)"

c = sp.Symbol("c", positive=True)            # the threshold
N = sp.Symbol("N", positive=True)            # N = ||g||
d = sp.Symbol("d", positive=True)            # case N > c:  N = c + d
d0 = sp.Symbol("d", nonnegative=True)        # case N <= c: c = N + d
eps = sp.Symbol("epsilon", nonnegative=True)  # torch's eps (1e-6); 0 is the exact rule
eps_p = sp.Symbol("epsilon", positive=True)   # eps > 0 where a strict claim needs it
v = sp.Symbol("v", positive=True)             # clip value


def _scale(n, thr, e=0):
    """The clip scale as a Piecewise: thr/(n+e) if n + e > thr, else 1 (e = 0: the exact rule)."""
    return sp.Piecewise((thr / (n + e), n + e > thr), (1, True))


def _norm_after(s, n):
    """||s g|| = sqrt(s^2 ||g||^2), folded through the Piecewise."""
    return sp.piecewise_fold(sp.sqrt(sp.piecewise_fold(s ** 2 * n ** 2)))


def _nonneg(expr, what):
    """``expr >= 0`` decided on its exact normal form factor(together(expr))."""
    f = sp.factor(sp.together(expr))
    return (f"{what}: {sp.sstr(expr)} = {sp.sstr(f)} >= 0", prove_true(sp.Ge(f, 0)))


# a gradient of any length n: entries g[k], k = 0..n-1 (real), squared norm as a symbolic sum
n_len = sp.Symbol("n", integer=True, positive=True)
G = sp.IndexedBase("g", real=True)
_i, _j, _k = index("i"), index("j"), sp.Dummy("k", integer=True)
NORM_SQ = sp.Sum(G[_k] ** 2, (_k, 0, n_len - 1))


def _general(obligations):
    """Mark abstract-route obligations (only ||g|| = N enters: valid for every n) as general."""
    return [(d, r, sc.GENERAL) for d, r in obligations]


def _homogeneity():
    """Every n: ||s g||^2 = sum_k (s g_k)^2 = s^2 sum_k g_k^2 = s^2 ||g||^2 (the abstract route's only fact)."""
    s = sp.Symbol("s", positive=True)
    scaled = sp.Sum((s * G[_k]) ** 2, (_k, 0, n_len - 1))
    return ("every n: ||s g||^2 = sum_k (s g_k)^2 = s^2 ||g||^2, so ||s g|| = s ||g|| for s > 0",
            prove_equal(factor_out_of_sums(scaled), s ** 2 * NORM_SQ), sc.GENERAL)


def _parallel_general(scale):
    """Every n, entries (i, j): (s g_i) g_j - (s g_j) g_i = 0 for the clip scale s = scale(||g||)."""
    s = scale(sp.sqrt(NORM_SQ))
    return ("every n, entries (i, j): g'_i g_j - g'_j g_i = 0 (g' = s g parallel to g)",
            prove_entry_equal((s * G[_i]) * G[_j], (s * G[_j]) * G[_i], {_i: n_len, _j: n_len}), sc.GENERAL)


def _parallel(a, b):
    """a || b  <=>  a_i b_j - a_j b_i = 0 for all i < j (expand)."""
    return combine(prove_zero(sp.expand(a[i] * b[j] - a[j] * b[i]))
                   for i in range(len(a)) for j in range(i + 1, len(a)))


def _with_cex(result, cex):
    """Attach the exact counterexample to a decided obligation (its status is unchanged)."""
    return dataclasses.replace(result, counterexample=cex)


# ---------------------------------------------------------------- exact rule, eps = 0

@derivation("clip.norm.rule", kind="definition", title="Clipping by L2 norm",
            latex=r"g' = g\,\min\!\Big(1, \frac{c}{\lVert g\rVert}\Big) = "
                  r"\begin{cases} \frac{c}{\lVert g\rVert}\,g & \lVert g\rVert > c\\ g & \text{otherwise}\end{cases}",
            seed=SEED_CLIP, primary=PASCANU_ALG1, assumptions=(C_POS, L2, G_NONZERO), sizes=("n",),
            notes="At ||g|| = c both branches give scale 1, so Pascanu's '>=', d2l's '>' and optax's "
                  "strict '<' agree with this rule; Keras global_clipnorm computes c*min(1/n, 1/c).",
            steps=(
                r"g' = s\,g,\qquad s = \min\Big(1, \frac{c}{\lVert g\rVert}\Big)",
                r"\lVert g\rVert > c:\ \frac{c}{\lVert g\rVert} < 1\ \Rightarrow\ s = \frac{c}{\lVert g\rVert},\quad g' = \frac{c}{\lVert g\rVert}\,g",
                r"\lVert g\rVert \le c:\ \frac{c}{\lVert g\rVert} \ge 1\ \Rightarrow\ s = 1,\quad g' = g",
                r"\lVert g\rVert = c:\ \frac{c}{\lVert g\rVert} = 1 = s \ \text{ in both branches, so } \ge,\ >,\ < \text{ in the test give the same } g'",
            ))
def _rule():
    hi, lo = _scale(c + d, c), _scale(N, N + d0)
    return _general([("||g|| > c (N = c + d): the Piecewise scale is c/N", prove_equal(hi, c / (c + d))),
                     _nonneg(1 - c / (c + d), "||g|| > c: c/N <= 1, so min(1, c/N) = c/N"),
                     ("||g|| <= c (c = N + d): the Piecewise scale is 1", prove_equal(lo, 1)),
                     _nonneg((N + d0) / N - 1, "||g|| <= c: c/N >= 1, so min(1, c/N) = 1")])


@derivation("clip.norm.direction", title="Clipping by norm preserves the direction",
            latex=r"g' = s\,g,\quad s = \min\!\Big(1, \frac{c}{\lVert g\rVert}\Big) > 0",
            seed=SEED_CLIP, primary=PASCANU_ALG1, assumptions=(C_POS, L2, G_NONZERO), sizes=("n",),
            steps=(
                r"\lVert g\rVert > c:\ s = \frac{c}{\lVert g\rVert} > 0,\qquad \lVert g\rVert \le c:\ s = 1 > 0",
                r"g' = s\,g\ \Rightarrow\ g'_i g_j - g'_j g_i = s\,(g_i g_j - g_j g_i) = 0",
                r"\frac{g'}{\lVert g'\rVert} = \frac{s\,g}{s\,\lVert g\rVert} = \frac{g}{\lVert g\rVert}\quad (s > 0)",
            ))
def _direction():
    return _general([("||g|| > c: s = c/N > 0", prove_positive(_scale(c + d, c))),
                     ("||g|| <= c: s = 1 > 0", prove_positive(_scale(N, N + d0)))]) + [
        _parallel_general(lambda norm: sp.Min(1, c / norm)), _homogeneity()]


@derivation("clip.norm.norm", title="The clipped norm is min(||g||, c)",
            latex=r"\lVert g'\rVert = \min(\lVert g\rVert, c)",
            seed=SEED_CLIP, primary=PASCANU_ALG1, assumptions=(C_POS, L2, G_NONZERO), sizes=("n",),
            steps=(
                r"\lVert g'\rVert = \lVert s\,g\rVert = \sqrt{s^2\, g^\top g} = s\,\lVert g\rVert \quad (s > 0)",
                r"= \min\Big(1, \frac{c}{\lVert g\rVert}\Big)\lVert g\rVert = \min(\lVert g\rVert, c)",
                r"\lVert g\rVert > c:\ \lVert g'\rVert = \frac{c}{\lVert g\rVert}\,\lVert g\rVert = c,\qquad \lVert g\rVert \le c:\ \lVert g'\rVert = 1\cdot\lVert g\rVert",
            ))
def _norm():
    return _general([
        ("||g|| > c: ||g'|| = c = min(N, c)", prove_equal(_norm_after(_scale(c + d, c), c + d), sp.Min(c + d, c))),
        ("||g|| <= c: ||g'|| = N = min(N, c)", prove_equal(_norm_after(_scale(N, N + d0), N), sp.Min(N, N + d0)))]) + [
        _homogeneity()]


@derivation("clip.norm.identity_below", title="Clipping leaves a gradient with ||g|| <= c unchanged",
            latex=r"\lVert g\rVert \le c \implies g' = g",
            seed=SEED_CLIP, primary=PASCANU_ALG1, assumptions=(C_POS, L2, G_NONZERO), sizes=("n",),
            steps=(
                r"\lVert g\rVert \le c\ \Rightarrow\ \frac{c}{\lVert g\rVert} \ge 1\ \Rightarrow\ s = \min\Big(1, \frac{c}{\lVert g\rVert}\Big) = 1\ \Rightarrow\ g' = 1\cdot g = g",
            ))
def _identity_below():
    return [("every n, entry i, c = N + d, d >= 0: g'_i = scale * g_i = g_i",
             prove_entry_equal(_scale(N, N + d0) * G[_i], G[_i], {_i: n_len}), sc.GENERAL)]


@derivation("clip.norm.idempotent", title="Clipping by norm is idempotent",
            latex=r"\operatorname{clip}(\operatorname{clip}(g)) = \operatorname{clip}(g)",
            seed=SEED_CLIP, primary=PASCANU_ALG1, assumptions=(C_POS, L2, G_NONZERO), sizes=("n",),
            steps=(
                r"g' = s_1 g,\qquad \lVert g'\rVert = \min(\lVert g\rVert, c) \le c",
                r"s_2 = \min\Big(1, \frac{c}{\lVert g'\rVert}\Big) = \min\Big(1, \frac{c}{\min(\lVert g\rVert, c)}\Big) = 1",
                r"\operatorname{clip}(\operatorname{clip}(g)) = s_2 s_1 g = s_1 g = \operatorname{clip}(g)",
            ))
def _idempotent():
    out = []
    for case, n, thr in (("||g|| > c", c + d, c), ("||g|| <= c", N, N + d0)):
        s1 = _scale(n, thr)
        s2 = _scale(_norm_after(s1, n), thr)  # second clip sees ||g'|| = min(N, c)
        out.append((f"{case}: the second clip's scale is 1", prove_equal(s2, 1)))
        out.append((f"{case}: s2 s1 g = s1 g", prove_equal(s2 * s1, s1)))
    return _general(out) + [_homogeneity()]


@derivation("clip.global_norm.concatenation",
            title="The global norm over several tensors is the norm of their concatenation",
            latex=r"\sqrt{\textstyle\sum_k \lVert g_k\rVert^2} = \lVert \operatorname{concat}(g_1,\dots,g_K)\rVert",
            seed=SEED_CLIP, primary=TORCH_NORM + "; Keras 3 global_clipnorm", sizes=("K", "n_k"),
            assumptions=(L2, "any number K >= 1 of tensors g_k of any sizes n_k (flattened), by induction on K"),
            steps=(
                r"\lVert \operatorname{concat}(g_1, \ldots, g_K)\rVert^2 = \sum_{k=1}^{K} \sum_{j} (g_k)_j^2 = \sum_{k=1}^{K} \lVert g_k\rVert^2",
                r"\text{both sides} \ge 0\ \Rightarrow\ \sqrt{\sum_k \lVert g_k\rVert^2} = \lVert \operatorname{concat}(g_1, \ldots, g_K)\rVert",
            ))
def _concatenation():
    """Induction on K: concat(g_1..g_K) = concat(a, b), a = concat(g_1..g_(K-1)) of size p, b = g_K of size q.

    ||concat(a, b)||^2 = sum_(r<p+q) c_r^2 = sum_(r<p) c_r^2 + sum_(j<q) c_(p+j)^2 (split, any summand),
    c_r = a_r (r < p), c_(p+j) = b_j (j < q) (the entries of the concatenation), so it is ||a||^2 + ||b||^2;
    with the hypothesis ||a||^2 = sum_(k<K) ||g_k||^2 this is sum_(k<=K) ||g_k||^2. The norms are the square
    roots of equal sums.
    """
    p, q, K = sp.symbols("p q K", integer=True, positive=True)
    a, b, sq = sp.IndexedBase("a", real=True), sp.IndexedBase("b", real=True), sp.IndexedBase("N2")  # N2[k] = ||g_k||^2
    r, j, k = index("r"), index("j"), sp.Symbol("k", integer=True)
    f = sp.Function("f")
    concat = lambda i: sp.Piecewise((a[i], i <= p - 1), (b[i - p], True))  # noqa: E731  (entry i of concat(a, b))
    split = sum_combine([sp.Sum(f(r), (r, 0, p - 1)), sp.Sum(f(p + j), (j, 0, q - 1)).change_index(j, j + p, r)])
    return [("base case K=1: ||concat(g_1)||^2 = ||g_1||^2 = sum_(k=1)^1 ||g_k||^2",
             prove_equal(sp.Sum(sq[k], (k, 1, 1)).doit(), sq[1]), sc.base_case(K=1)),
            ("induction step, every p, q, any summand f: sum_(r<p+q) f(r) = sum_(r<p) f(r) + sum_(j<q) f(p+j)",
             prove_equal(split, sp.Sum(f(r), (r, 0, p + q - 1))), sc.INDUCTION_STEP),
            ("induction step, every p, q: the entries of concat(a, b) are c_r = a_r (r < p), so c_r^2 = a_r^2",
             prove_entry_equal(concat(r) ** 2, a[r] ** 2, {r: p}), sc.INDUCTION_STEP),
            ("induction step, every p, q: c_(p+j) = b_j (j < q), so c_(p+j)^2 = b_j^2",
             prove_entry_equal(concat(p + j) ** 2, b[j] ** 2, {j: q}), sc.INDUCTION_STEP),
            ("induction step, every K: sum_(k<K) ||g_k||^2 + ||g_K||^2 = sum_(k<=K) ||g_k||^2",
             prove_equal(sum_combine([sp.Sum(sq[k], (k, 1, K - 1)), sp.Sum(sq[k], (k, K, K))]), sp.Sum(sq[k], (k, 1, K))),
             sc.INDUCTION_STEP),
            ("induction step: sum_(k=K)^K ||g_k||^2 = ||g_K||^2", prove_equal(sp.Sum(sq[k], (k, K, K)).doit(), sq[K]),
             sc.INDUCTION_STEP)]


# ---------------------------------------------------------------- torch: eps > 0, always applied

@derivation("clip.norm.eps.rule", kind="definition", title="torch's clipping rule with eps (clip_eps)",
            latex=r"g' = g\,\min\!\Big(1, \frac{c}{\lVert g\rVert + \varepsilon}\Big),\quad \varepsilon \ge 0"
                  r"\ (\text{torch: } 10^{-6})",
            seed=SEED_CLIP, primary=TORCH_CLIP, sizes=("n",),
            assumptions=(C_POS, L2, G_NONZERO, "eps >= 0 (clip_eps; torch 1e-6, exact rule 0)",
                         "applied always: the clamped coefficient multiplies every gradient"),
            steps=(
                r"g' = s_\varepsilon\, g,\qquad s_\varepsilon = \min\Big(1, \frac{c}{\lVert g\rVert + \varepsilon}\Big),\ \text{applied to every gradient}",
                r"\lVert g\rVert + \varepsilon > c:\ s_\varepsilon = \frac{c}{\lVert g\rVert + \varepsilon} < 1",
                r"\lVert g\rVert + \varepsilon \le c:\ s_\varepsilon = 1,\quad g' = g",
                r"\varepsilon = 0:\ s_0 = \min\Big(1, \frac{c}{\lVert g\rVert}\Big) \ \text{(the exact rule)};\quad \text{torch: } \varepsilon = 10^{-6}",
            ))
def _eps_rule():
    hi, lo = _scale(c + d - eps, c, eps), _scale(N, N + eps + d0, eps)
    return _general([("N + eps > c (N = c + d - eps): the Piecewise scale is c/(N + eps)", prove_equal(hi, c / (c + d))),
                     _nonneg(1 - c / (c + d), "N + eps > c: c/(N + eps) <= 1, so the min is c/(N + eps)"),
                     ("N + eps <= c (c = N + eps + d): the Piecewise scale is 1", prove_equal(lo, 1)),
                     _nonneg((N + eps + d0) / (N + eps) - 1, "N + eps <= c: c/(N + eps) >= 1, so the min is 1")])


@derivation("clip.norm.eps.direction", title="torch's clipping preserves the direction",
            latex=r"g' = s\,g,\quad s = \min\!\Big(1, \frac{c}{\lVert g\rVert + \varepsilon}\Big) > 0",
            seed=SEED_CLIP, primary=TORCH_CLIP, assumptions=(C_POS, L2, G_NONZERO, "eps >= 0"), sizes=("n",),
            steps=(
                r"\lVert g\rVert + \varepsilon > c:\ s_\varepsilon = \frac{c}{\lVert g\rVert + \varepsilon} > 0,\qquad \lVert g\rVert + \varepsilon \le c:\ s_\varepsilon = 1 > 0",
                r"g' = s_\varepsilon\, g\ \Rightarrow\ g'_i g_j - g'_j g_i = s_\varepsilon\,(g_i g_j - g_j g_i) = 0,\quad \frac{g'}{\lVert g'\rVert} = \frac{g}{\lVert g\rVert}",
            ))
def _eps_direction():
    (b1, _), (b2, _) = _scale(N, c, eps).args
    return _general([("branch N + eps > c: s = c/(N + eps) > 0", prove_positive(b1)),
                     ("branch N + eps <= c: s = 1 > 0", prove_positive(b2))]) + [
        _parallel_general(lambda norm: sp.Min(1, c / (norm + eps))), _homogeneity()]


@derivation("clip.norm.eps.norm", title="torch's clipped norm lies just below c",
            latex=r"\lVert g'\rVert = \lVert g\rVert \min\!\Big(1, \frac{c}{\lVert g\rVert+\varepsilon}\Big);"
                  r"\ \lVert g\rVert+\varepsilon > c \implies "
                  r"c - \lVert g'\rVert = \frac{c\,\varepsilon}{\lVert g\rVert+\varepsilon}",
            seed=SEED_CLIP, primary=TORCH_CLIP, sizes=("n",),
            assumptions=(C_POS, L2, G_NONZERO, "eps >= 0; eps > 0 for the strict shrink"),
            notes="So torch's post-clip norm is c N/(N + eps) < c (the shrink is below eps); test torch "
                  "parity with this exact value, or rtol >~ eps/N against the exact rule.",
            steps=(
                r"\lVert g'\rVert = s_\varepsilon\,\lVert g\rVert = \lVert g\rVert\,\min\Big(1, \frac{c}{\lVert g\rVert + \varepsilon}\Big)",
                r"\lVert g\rVert + \varepsilon > c:\ \lVert g'\rVert = \frac{c\,\lVert g\rVert}{\lVert g\rVert + \varepsilon}",
                r"c - \lVert g'\rVert = c\,\frac{(\lVert g\rVert + \varepsilon) - \lVert g\rVert}{\lVert g\rVert + \varepsilon} = \frac{c\,\varepsilon}{\lVert g\rVert + \varepsilon} > 0 \quad (\varepsilon > 0)",
                r"\varepsilon - (c - \lVert g'\rVert) = \frac{\varepsilon\,(\lVert g\rVert + \varepsilon - c)}{\lVert g\rVert + \varepsilon} \ge 0\ \Rightarrow\ 0 \le c - \lVert g'\rVert \le \varepsilon",
                r"\lVert g\rVert + \varepsilon \le c:\ \lVert g'\rVert = \lVert g\rVert",
            ))
def _eps_norm():
    folded = _norm_after(_scale(N, c, eps), N)
    hi = folded.subs(N, c + d - eps)      # N + eps = c + d > c
    lo = folded.subs(c, N + eps + d0)     # N + eps <= c
    at = lambda e: e.subs(N, c + d - eps)  # noqa: E731
    return _general([("N + eps > c: ||g'|| = c N/(N + eps)", prove_equal(hi, at(c * N / (N + eps)))),
            ("N + eps > c: c - ||g'|| = c eps/(N + eps)", prove_equal(c - hi, at(c * eps / (N + eps)))),
            ("eps > 0: c eps/(N + eps) > 0, so ||g'|| < c", prove_positive(c * eps_p / (N + eps_p))),
            ("N + eps > c: eps - (c - ||g'||) = eps d/(c + d) >= 0, the shrink is at most eps",
             prove_equal(eps - (c - hi), eps * d / (c + d))),
            _nonneg(eps * d / (c + d), "eps >= 0, d > 0"),
            ("N + eps <= c: ||g'|| = N = N min(1, c/(N + eps))", prove_equal(lo, N))]) + [_homogeneity()]


@derivation("clip.norm.eps.identity_below", title="torch's clipping leaves ||g|| + eps <= c unchanged",
            latex=r"\lVert g\rVert + \varepsilon \le c \implies g' = g",
            seed=SEED_CLIP, primary=TORCH_CLIP, assumptions=(C_POS, L2, G_NONZERO, "eps >= 0"), sizes=("n",),
            notes="For c - eps < ||g|| <= c the scale is c/(||g|| + eps) < 1: torch shrinks slightly.",
            steps=(
                r"\lVert g\rVert + \varepsilon \le c\ \Rightarrow\ \frac{c}{\lVert g\rVert + \varepsilon} \ge 1\ \Rightarrow\ s_\varepsilon = 1\ \Rightarrow\ g' = g",
                r"c - \varepsilon < \lVert g\rVert \le c:\ s_\varepsilon = \frac{c}{\lVert g\rVert + \varepsilon} < 1 \quad (\text{torch shrinks slightly})",
            ))
def _eps_identity_below():
    return [("every n, entry i, c = N + eps + d, d >= 0: g'_i = scale * g_i = g_i",
             prove_entry_equal(_scale(N, N + eps + d0, eps) * G[_i], G[_i], {_i: n_len}), sc.GENERAL)]


@derivation("clip.norm.eps.not_idempotent", kind="refutation",
            title="torch's clipping with eps > 0 is idempotent",
            latex=r"\varepsilon > 0,\ \lVert g\rVert + \varepsilon > c \implies "
                  r"\operatorname{clip}_\varepsilon(\operatorname{clip}_\varepsilon(g)) "
                  r"\ne \operatorname{clip}_\varepsilon(g)",
            seed=SEED_CLIP, primary=TORCH_CLIP, assumptions=(C_POS, L2, G_NONZERO, "eps > 0"), sizes=("n",),
            notes="The counterexample fixes only ||g|| = 2, so it holds at every length n (e.g. g = 2 e_1).",
            steps=(
                r"c = 1,\ \varepsilon = 10^{-6},\ \lVert g\rVert = 2:\quad N_1 = \lVert \operatorname{clip}_\varepsilon(g)\rVert = \frac{2}{2 + 10^{-6}} = \frac{2000000}{2000001} \approx 0.9999995",
                r"N_1 + \varepsilon = \frac{2000002000001}{2000001000000} > 1 = c\ \Rightarrow\ \text{the second clip scales by } \frac{c}{N_1 + \varepsilon} < 1",
                r"\lVert \operatorname{clip}_\varepsilon(\operatorname{clip}_\varepsilon(g))\rVert = \frac{N_1}{N_1 + \varepsilon} = \frac{2000000000000}{2000002000001} \approx 0.999999 \ne N_1",
                r"\text{in general, } \lVert g\rVert + \varepsilon > c:\quad N_1 + \varepsilon - c = \frac{\varepsilon\,(\lVert g\rVert + \varepsilon - c)}{\lVert g\rVert + \varepsilon} > 0",
            ))
def _eps_not_idempotent():
    c0, e0, n0 = sp.Integer(1), sp.Rational(1, 10 ** 6), sp.Integer(2)
    n1 = _norm_after(_scale(n0, c0, e0), n0)
    n2 = _norm_after(_scale(n1, c0, e0), n1)
    cex = {"point": {"c": str(c0), "eps": str(e0), "||g||": str(n0)},
           "value": f"||clip(g)|| = {n1}, ||clip(clip(g))|| = {n2}"}
    # symbolic: after one clip with N + eps > c, N1 + eps - c = eps d/(c + d) > 0
    n1_sym = _norm_after(_scale(N, c, eps_p), N).subs(N, c + d - eps_p)  # fold with N > 0, then the case
    return _general([("c = 1, eps = 1e-6, N = 2: N1 + eps > c, so the second clip scales again",
             prove_true(sp.Gt(n1 + e0, c0))),
            ("c = 1, eps = 1e-6, N = 2: ||clip(clip(g))|| != ||clip(g)||", _with_cex(prove_true(sp.Ne(n2, n1)), cex)),
            ("N + eps > c: N1 + eps - c = eps d/(c + d)", prove_equal(n1_sym + eps_p - c, eps_p * d / (c + d))),
            ("eps > 0: eps d/(c + d) > 0, so N1 + eps > c", prove_positive(eps_p * d / (c + d)))])


# ---------------------------------------------------------------- Keras clipnorm: per tensor

def _keras_scale(n, thr):
    """Keras clipnorm's per-tensor scale c / max(||g_k||, c)."""
    return thr / sp.Max(n, thr)


@derivation("clip.per_tensor.norm", title="Per-tensor clipping (Keras clipnorm) bounds each tensor's norm",
            latex=r"g_k' = g_k \min\!\Big(1, \frac{c}{\lVert g_k\rVert}\Big) = \frac{c\,g_k}{\max(\lVert g_k\rVert, c)}"
                  r"\implies \lVert g_k'\rVert = \min(\lVert g_k\rVert, c)\ \forall k",
            seed=SEED_CLIP, primary=KERAS_CLIPNORM, assumptions=(C_POS, L2, "every g_k != 0"), sizes=("K", "n_k"),
            notes="Each tensor is clipped by its own norm N_k only, so one generic tensor k (any size, any k) proves it "
                  "for every K and every n_k.",
            steps=(
                r"\min\Big(1, \frac{c}{\lVert g_k\rVert}\Big) = \frac{c}{\max(\lVert g_k\rVert, c)}",
                r"\lVert g_k'\rVert = \frac{c\,\lVert g_k\rVert}{\max(\lVert g_k\rVert, c)} = c \ \ (\lVert g_k\rVert > c),\qquad \lVert g_k'\rVert = \lVert g_k\rVert \ \ (\lVert g_k\rVert \le c)",
                r"\Rightarrow\ \lVert g_k'\rVert = \min(\lVert g_k\rVert, c) \ \text{ for each } k \text{ separately}",
            ))
def _per_tensor_norm():
    Nk = sp.Symbol("N_k", positive=True)
    out = []
    for case, n, thr in (("||g_k|| > c", c + d, c), ("||g_k|| <= c", Nk, Nk + d0)):
        s = _scale(n, thr)
        out.append((f"any tensor k, {case}: Keras c/max(||g_k||, c) equals the Piecewise scale",
                    prove_equal(_keras_scale(n, thr), s)))
        out.append((f"any tensor k, {case}: ||g_k'|| = min(||g_k||, c)", prove_equal(_norm_after(s, n), sp.Min(n, thr))))
    return _general(out) + [_homogeneity()]


@derivation("clip.per_tensor.not_global_direction", kind="refutation",
            title="Per-tensor clipping (Keras clipnorm) preserves the direction of the whole gradient",
            latex=r"g_1 = (3),\ g_2 = (1),\ c = 2:\ (g_1', g_2') = (2, 1) \not\parallel (3, 1)",
            seed=SEED_CLIP, primary=KERAS_CLIPNORM, assumptions=(C_POS, L2), sizes=("K", "n_k"),
            notes="Global clipping (torch clip_grad_norm_, Keras global_clipnorm) keeps the direction.",
            steps=(
                r"c = 2:\quad g_1' = 3\cdot\frac{2}{\max(3, 2)} = 2,\qquad g_2' = 1\cdot\frac{2}{\max(1, 2)} = 1",
                r"g_1' g_2 - g_2' g_1 = 2\cdot 1 - 1\cdot 3 = -1 \ne 0\ \Rightarrow\ (2, 1) \not\parallel (3, 1)",
                r"\text{global: } \lVert(3, 1)\rVert = \sqrt{10} > 2,\quad (g_1', g_2') = \frac{2}{\sqrt{10}}\,(3, 1) \parallel (3, 1)",
            ))
def _per_tensor_not_global():
    c0, g1, g2 = sp.Integer(2), sp.Integer(3), sp.Integer(1)
    p1, p2 = g1 * _keras_scale(abs(g1), c0), g2 * _keras_scale(abs(g2), c0)
    cross = p1 * g2 - p2 * g1
    glob = _scale(sp.sqrt(g1 ** 2 + g2 ** 2), c0)
    cex = {"point": {"g_1": "(3,)", "g_2": "(1,)", "c": "2"}, "value": f"({p1}, {p2}) vs (3, 1): cross = {cross}"}
    at = sc.at(K=2, n_k=1)
    return [("K=2, n_k=1: per tensor: g_1' = 3 * 2/max(3, 2) = 2", prove_equal(p1, 2), at),
            ("K=2, n_k=1: per tensor: g_2' = 1 * 2/max(1, 2) = 1", prove_equal(p2, 1), at),
            ("K=2, n_k=1: (2, 1) is not parallel to (3, 1): 2*1 - 1*3 != 0", _with_cex(prove_true(sp.Ne(cross, 0)), cex), at),
            ("K=2, n_k=1: contrast: global clipping keeps (3, 1)'s direction",
             _parallel(glob * sp.Matrix([g1, g2]), sp.Matrix([g1, g2])), at)]


# ---------------------------------------------------------------- clipping by value

def _clip_value(x, lim):
    return sp.Min(sp.Max(x, -lim), lim)


@derivation("clip.value.rule", kind="definition", title="Clipping by value",
            latex=r"g_i' = \min(\max(g_i, -v), v) = "
                  r"\begin{cases} -v & g_i < -v\\ v & g_i > v\\ g_i & \text{otherwise}\end{cases}",
            seed=SEED_CLIP, primary=TORCH_VALUE + "; Keras 3 clipvalue (keras/src/optimizers/base_optimizer.py)",
            assumptions=("v > 0", "element-wise"), sizes=(),
            steps=(
                r"g_i > v:\ \max(g_i, -v) = g_i,\quad \min(g_i, v) = v",
                r"g_i < -v:\ \max(g_i, -v) = -v,\quad \min(-v, v) = -v",
                r"-v \le g_i \le v:\ \max(g_i, -v) = g_i,\quad \min(g_i, v) = g_i",
            ))
def _value_rule():
    x = sp.Symbol("x", real=True)
    pw = sp.Piecewise((-v, x < -v), (v, x > v), (x, True))
    out = [("g_i = v + d > v: min(max(g_i, -v), v) = v = Piecewise",
            prove_equal(_clip_value(v + d, v), pw.subs(x, v + d))),
           ("g_i = -v - d < -v: min(max(g_i, -v), v) = -v = Piecewise",
            prove_equal(_clip_value(-v - d, v), pw.subs(x, -v - d)))]
    s = sp.Symbol("s", nonnegative=True)  # g_i = -v + 2 v s/(1 + s) runs over [-v, v) as s runs over [0, oo)
    mid = -v + 2 * v * s / (1 + s)
    out.append(("-v <= g_i < v (g_i = -v + 2 v s/(1 + s), s >= 0): min(max(g_i, -v), v) = g_i (the Piecewise's last "
                "branch)", prove_equal(_clip_value(mid, v), mid)))
    out.append(("g_i = v: min(max(v, -v), v) = v = Piecewise", prove_equal(_clip_value(v, v), pw.subs(x, v))))
    return out


@derivation("clip.value.not_direction", kind="refutation",
            title="Clipping by value preserves the direction",
            latex=r"g = (2, \tfrac12),\ v = 1:\ g' = (1, \tfrac12) \not\parallel g",
            seed=SEED_CLIP, primary=TORCH_VALUE, assumptions=("v > 0",), sizes=("n",),
            steps=(
                r"g = \Big(2, \frac{1}{2}\Big),\ v = 1:\quad g' = \Big(\min(\max(2, -1), 1),\ \min\Big(\max\Big(\frac{1}{2}, -1\Big), 1\Big)\Big) = \Big(1, \frac{1}{2}\Big)",
                r"g'_1 g_2 - g'_2 g_1 = 1\cdot\frac{1}{2} - \frac{1}{2}\cdot 2 = -\frac{1}{2} \ne 0\ \Rightarrow\ g' \not\parallel g",
            ))
def _value_not_direction():
    g = sp.Matrix([2, sp.Rational(1, 2)])
    gp = g.applyfunc(lambda x: _clip_value(x, 1))
    cross = gp[0] * g[1] - gp[1] * g[0]
    cex = {"point": {"g": "(2, 1/2)", "v": "1"}, "value": f"g' = ({gp[0]}, {gp[1]}), cross = {cross}"}
    return [("n=2: g' = (1, 1/2)", prove_equal(gp, sp.Matrix([1, sp.Rational(1, 2)])), sc.at(n=2)),
            ("n=2: g'_1 g_2 - g'_2 g_1 = 1/2 - 1 != 0", _with_cex(prove_true(sp.Ne(cross, 0)), cex), sc.at(n=2))]
