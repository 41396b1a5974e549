"""Properties of the empirical neural tangent kernel (capability empirical_ntk), each from an ntk.* derivation.

f(x) = a^T relu(W x)/sqrt(m); K[i, j] = <grad_theta f(X1[i]), grad_theta f(X2[j])>, relu'(0) = 0.

- ntk.empirical.definition: the target's K against the float64 oracle's explicit per-unit sum
  (derivations/oracle_ntk.py), entry-wise within the error model below.
- ntk.psd: for X1 = X2 the kernel is symmetric (|K_ij - K_ji| <= tol_ij + tol_ji) and PSD: the exact kernel is a
  Gram matrix, so lambda_min(sym K) >= -(||tol||_F + 4 n u_64 ||K||_F) (Weyl: a perturbation E moves eigenvalues
  by <= ||E||_2 <= ||E||_F; the second term is eigvalsh's own float64 rounding).
- ntk.convergence: statistical. The G = 15 groups of m_g = 2048 units (W ~ N(0, I), a ~ N(0, 1) i.i.d.) are passed
  to the target one group at a time, so each call returns an independent group kernel K^(g) with mean Theta and
  variance v/m_g (ntk.empirical.mean, ntk.empirical.variance; v exact from the oracle). The median over the groups
  must be within t = sqrt(v/(m_g p)), p = 1/53, of Theta (plus the rounding tolerance of the group kernels and of
  the oracle). False alarm per entry (ntk.concentration.median_of_means): Chebyshev gives P(|K^(g) - Theta| > t)
  <= p per group, and a median outside needs >= 8 of 15 deviating groups: ALPHA = P(Bin(15, 1/53) >= 8) =
  9.18e-11 (exact, `check_alpha`). Per example at most CHECKS = 9 entries (n <= 3); a full run has at most
  EXAMPLE_MARGIN (2) x the profile's examples (ci 10 by max_examples, a 20-seed sweep 20 x 10, thorough 1000 (the
  cap does not apply there), and 2000 as the margin for any uncapped run) x MAX_TARGETS (16) targets: `run_bound`
  is at most 9 x 2 x 2000 x 16 x 9.18e-11 = 5.3e-5 < 1e-4 (tests/ntk/test_ntk.py checks the arithmetic exactly). In the
  derandomized ci profile the examples are fixed: a fixed example always passes or always fails.
  Power: at |x| in {0.25, 0.5, 2, 4} the diagonal has Theta = |x|^2, v = 3|x|^4, t = 0.279 |x|^2; a kernel scaled
  by m_g (no 1/sqrt(m)) is off by ~2047 Theta, one without the a-gradient term or without the W-gradient term by
  |x|^2/2 (its mean is |x|^2/2), one with relu in place of relu' by |x|^2 ||x|^2 - 1|/2 >= 0.375 |x|^2: each
  outside t (by 1.3x to ~7000x), its own median within ~0.02 |x|^2 of its mean (tests/ntk/test_ntk.py: each caught).

**Strategies.** `ntk_problems` (exact checks): n1, n2 in 1..3 points, d in 1..4 inputs, m in 1..64 hidden
units; W, a and the points standard normal times drawn scales (`strategies.SCALES`); sometimes X2 = X1 (the Gram
case), a zero point (every w.x = 0: relu(0) = 0 and relu'(0) = 0 decide its row), a zero row of W (a unit whose
pre-activations are exactly 0: the convention relu'(0) = 0 drops its W-term).

`convergence_problems` (statistical checks): n in 1..3 points, d in 1..4, each point x = rho z/|z| with z standard
normal and its norm rho in NORMS (never 1, so a kernel that is right only at |x| = 1 is caught); G = GROUPS
groups of M_GROUP hidden units each, W ~ N(0, I) and a ~ N(0, 1) i.i.d., drawn from a seed through PCG64 on a
stream of their own (``default_rng([seed, W_STREAM])``), independent of the points.

Arrays are cast to the target's dtype before anyone sees them.

**Tolerances**, from the forward-error model (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed.,
§3.1): u = u_target + u_float64 (`tolerances.u_total`), gamma_k = k u / (1 - k u),
tol = SAFETY (= 2) times the bound, entry by entry, evaluated in float64 on the exact inputs.

K[i, j] = (1/m) sum_r [relu(u_ir) relu(u'_jr) + a_r^2 H(u_ir) H(u'_jr) x_i.x'_j], u_ir = w_r.x_i, whatever the
route (Jacobian Gram product or the explicit per-unit sum):
  pre-activation  |fl(u) - u| <= e = gamma_d |w_r|.|x_i| (a dot product of length d; relu is 1-Lipschitz, exact);
  relu products   E_a = (1/m) sum_r (e_ir R'_jr + R_ir e'_jr + e_ir e'_jr), R = relu(u);
  kinks           where |u_ir| <= e_ir the computed H may be either value: the unit's W-term may be dropped or
                  added in full, E_H = (1/m) sum_r a_r^2 (k_ir h'_jr + h_ir k'_jr) |x_i|.|x'_j|, k = [|u| <= e],
                  h = [u > -e] (H possibly 1);
  accumulation    one sum of m (d + 1) products of <= 4 rounded factors each (the 1/sqrt(m) or 1/m scaling: a sqrt
                  and a division per factor, a_r^2, the x.x' dot product of length d): E_acc = gamma_{m(d+1)+d+8}
                  (1/m) sum_r [(R + e)_ir (R' + e')_jr + a_r^2 h_ir h'_jr |x_i|.|x'_j|], any order, FMA or not.
tol = SAFETY (E_a + E_H + E_acc).
Declared arithmetic (tolerances.precision): gamma_d is tolerances.mixed_gamma(d, 0) and the accumulation's gamma
is mixed_gamma(m(d+1) + d, 8) (the sums at the accumulation format's u, the 8 roundings of a term's factors and one
to storage at the storage u when it is wider; bit for bit the single-u bound at accumulate = storage).
The properties stay at float32/float64: k = m(d+1) + d + 8 reaches 332 roundings, k u >= 1 at bfloat16 (u = 2^-8,
gamma_k undefined), and float16's pre-activation products reach subnormals, for which the model has no terms.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from hypothesis import strategies as st

from dlproof.derivations import oracle_ntk as oracle

from . import tolerances as tol
from .assertions import call, number
from .tolerances import mixed_gamma
from .registry import prop
from .strategies import SCALES, SEED, Problem

# ---- strategies --------------------------------------------------------------------------------------------------

W_STREAM = 0x17C
NORMS = (0.25, 0.5, 2.0, 4.0)
GROUPS = 15
M_GROUP = 2048


class NTKProblem(Problem):
    """A `Problem` whose repr names shapes and scalars only (W holds G x 2048 rows)."""

    def __repr__(self) -> str:
        return f"NTKProblem({self.describe()})"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(repr(self))


@st.composite
def ntk_problems(draw, dtype: str = "float64", max_n: int = 3, max_d: int = 4, max_m: int = 64, gram: bool = False):
    """X1 (n1, d), X2 (n2, d), W (m, d), a (m,); scalars: sizes, scales, the special cases drawn. ``gram``: always
    X2 = X1."""
    n1 = draw(st.integers(1, max_n), label="n1")
    d = draw(st.integers(1, max_d), label="d")
    m = draw(st.integers(1, max_m), label="m")
    same = True if gram else draw(st.booleans(), label="X2 = X1")
    n2 = n1 if same else draw(st.integers(1, max_n), label="n2")
    w_scale, a_scale, x_scale = (draw(st.sampled_from(SCALES), label=f"{k} scale") for k in ("W", "a", "x"))
    zero_point = draw(st.booleans(), label="a zero point")
    zero_unit = draw(st.booleans(), label="a zero row of W")
    seed = draw(SEED, label="seed")
    rng = np.random.default_rng(seed)
    W = w_scale * rng.standard_normal((m, d))
    a = a_scale * rng.standard_normal(m)
    X1 = x_scale * rng.standard_normal((n1, d))
    X2 = X1.copy() if same else x_scale * rng.standard_normal((n2, d))
    if zero_point:
        X1[-1] = 0.0
    if zero_unit:
        W[0] = 0.0
    dt = np.dtype(dtype)
    arrays = {k: v.astype(dt) for k, v in (("X1", X1), ("X2", X2), ("W", W), ("a", a))}
    return NTKProblem(arrays, {"n1": n1, "n2": n2, "d": d, "m": m, "same": same, "seed": seed, "W scale": w_scale,
                               "a scale": a_scale, "x scale": x_scale, "zero point": zero_point,
                               "zero unit": zero_unit})


@st.composite
def convergence_problems(draw, dtype: str = "float64", max_n: int = 3, max_d: int = 4):
    """X (n, d) with norms in NORMS; W (G M_GROUP, d) ~ N(0, I), a (G M_GROUP,) ~ N(0, 1) from a seed."""
    n = draw(st.integers(1, max_n), label="n")
    d = draw(st.integers(1, max_d), label="d")
    norms = [draw(st.sampled_from(NORMS), label=f"|x_{i}|") for i in range(n)]
    x_seed = draw(SEED, label="x seed")
    seed = draw(SEED, label="W seed")
    rx = np.random.default_rng(x_seed)
    Z = rx.standard_normal((n, d))
    Z /= np.linalg.norm(Z, axis=1, keepdims=True)
    X = np.asarray(norms)[:, None] * Z
    rw = np.random.default_rng([seed, W_STREAM])
    M = GROUPS * M_GROUP
    W = rw.standard_normal((M, d))
    a = rw.standard_normal(M)
    dt = np.dtype(dtype)
    arrays = {"X": X.astype(dt), "W": W.astype(dt), "a": a.astype(dt)}
    return NTKProblem(arrays, {"n": n, "d": d, "norms": norms, "x seed": x_seed, "W seed": seed, "groups": GROUPS,
                               "m per group": M_GROUP})


# ---- tolerances --------------------------------------------------------------------------------------------------

def empirical_tol(X1, X2, W, a, precision: str) -> np.ndarray:
    """Entry-wise tolerance (n1, n2) of a target's empirical_ntk against the exact kernel (module doc)."""
    X1, X2, W, a = (np.asarray(v, np.float64) for v in (X1, X2, W, a))
    m, d = W.shape
    u, ua = tol.u_total(precision), tol.u_acc_total(precision)
    g = mixed_gamma(d, 0, u, ua)
    aW = np.abs(W)
    U1, U2 = X1 @ W.T, X2 @ W.T
    e1, e2 = g * (np.abs(X1) @ aW.T), g * (np.abs(X2) @ aW.T)
    R1, R2 = np.maximum(U1, 0.0), np.maximum(U2, 0.0)
    k1, k2 = (np.abs(U1) <= e1).astype(np.float64), (np.abs(U2) <= e2).astype(np.float64)
    h1, h2 = (U1 > -e1).astype(np.float64), (U2 > -e2).astype(np.float64)
    a2 = a * a
    xx = np.abs(X1) @ np.abs(X2).T
    E_a = (e1 @ R2.T + R1 @ e2.T + e1 @ e2.T) / m
    E_H = ((a2 * k1) @ h2.T + (a2 * h1) @ k2.T) * xx / m
    E_acc = mixed_gamma(m * (d + 1) + d, 8, u, ua) * ((R1 + e1) @ (R2 + e2).T + (a2 * h1) @ h2.T * xx) / m
    return tol.SAFETY * (E_a + E_H + E_acc)


# ---- properties --------------------------------------------------------------------------------------------------

CAPS = ("empirical_ntk",)
CHEB_P = Fraction(1, 53)
CHECKS = 9
EXAMPLE_MARGIN = 2
MAX_TARGETS = 16
CONVERGENCE_EXAMPLES = 10
PROFILE_EXAMPLES = {"ci": CONVERGENCE_EXAMPLES, "sweep": 20 * CONVERGENCE_EXAMPLES, "thorough": 1000, "uncapped": 2000}
RUN_BUDGET = Fraction(1, 10 ** 4)
V_SAFETY = 1.0 + 1e-9  # covers the float64 rounding of the oracle's v


def check_alpha(groups: int = GROUPS, p: Fraction = CHEB_P) -> Fraction:
    """P(Bin(G, p) >= ceil(G/2)), exactly: the false-alarm probability of one median-of-means check."""
    k0 = (groups + 1) // 2
    return sum(Fraction(math.comb(groups, k)) * p ** k * (1 - p) ** (groups - k) for k in range(k0, groups + 1))


def run_bound(profile: str) -> Fraction:
    """Union bound on a false alarm of ntk.convergence in a full run (module doc), exact."""
    if profile not in PROFILE_EXAMPLES:
        raise ValueError(f"run_bound: profile={profile!r}, but should be one of {sorted(PROFILE_EXAMPLES)}")
    return CHECKS * EXAMPLE_MARGIN * PROFILE_EXAMPLES[profile] * MAX_TARGETS * check_alpha()


def threshold(v, m_group: int = M_GROUP, p: Fraction = CHEB_P):
    """t = sqrt(v/(m_g p)): Chebyshev's level p for one group kernel. [ntk.concentration.median_of_means]"""
    return np.sqrt(np.asarray(v, np.float64) * V_SAFETY / (m_group * float(p)))


def _any(target):
    return ntk_problems(dtype=target.dtype)


def _gram(target):
    return ntk_problems(dtype=target.dtype, gram=True)


def _conv(target):
    return convergence_problems(dtype=target.dtype)


def _kernel(target, chk, X1, X2, W, a, what="empirical_ntk(X1, X2, W, a)"):
    K = call(target, "empirical_ntk", X1, X2, W, a)
    return chk.array(what, K, (X1.shape[0], X2.shape[0]))


def _variants(X1, X2, W, a):
    """Kernels of known wrong rules (for the failure message)."""
    X1, X2, W, a = (np.asarray(v, np.float64) for v in (X1, X2, W, a))
    m = W.shape[0]
    U1, U2 = X1 @ W.T, X2 @ W.T
    R1, R2 = np.maximum(U1, 0), np.maximum(U2, 0)
    H1, H2 = (U1 > 0).astype(float), (U2 > 0).astype(float)
    dots = X1 @ X2.T
    a_term, w_term = R1 @ R2.T / m, ((a * a) * H1) @ H2.T * dots / m
    return {"scaled by m (the 1/sqrt(m) of f missing)": (a_term + w_term) * m,
            "without the W-gradient term a_r^2 relu'(w.x) relu'(w.x') x.x'": a_term,
            "without the a-gradient term relu(w.x) relu(w.x')": w_term,
            "with relu in place of relu' in the W-gradient": a_term + ((a * a) * R1) @ R2.T * dots / m,
            "with relu'(0) = 1": a_term + ((a * a) * (U1 >= 0)) @ (U2 >= 0).T.astype(float) * dots / m}


@prop("ntk.empirical.definition", title="K[i, j] = (1/m) sum_r [relu relu + a_r^2 relu' relu' x.x'] (the Gram "
                                        "product of the parameter gradients)",
      capabilities=CAPS, derivations=("ntk.empirical.definition",), strategy=_any)
def definition(target, problem, chk):
    X1, X2, W, a = problem["X1"], problem["X2"], problem["W"], problem["a"]
    K = _kernel(target, chk, X1, X2, W, a)
    Kf = K.astype(np.float64)
    expected = oracle.empirical(X1, X2, W, a)
    t = empirical_tol(X1, X2, W, a, tol.precision(target))
    if np.any(np.abs(Kf - expected) > t):
        for what, alt in _variants(X1, X2, W, a).items():
            if np.all(np.abs(Kf - alt) <= t + 1e-12 * np.abs(alt)):
                chk.fail("empirical_ntk(X1, X2, W, a)", f"matches the kernel {what}, but should be (1/m) sum_r "
                                                        "[relu(w_r.x) relu(w_r.x') + a_r^2 relu'(w_r.x) relu'(w_r.x') "
                                                        "x.x'] with relu'(0) = 0")
    chk.close(f"empirical_ntk (m = {W.shape[0]}, d = {W.shape[1]})", K, expected, t)


@prop("ntk.psd", title="for X1 = X2 the empirical kernel is symmetric and positive semi-definite (a Gram matrix)",
      capabilities=CAPS, derivations=("ntk.psd", "ntk.empirical.definition"), strategy=_gram)
def psd(target, problem, chk):
    X, W, a = problem["X1"], problem["W"], problem["a"]
    K = _kernel(target, chk, X, X, W, a, "empirical_ntk(X, X, W, a)").astype(np.float64)
    t = empirical_tol(X, X, W, a, tol.precision(target))
    asym = np.abs(K - K.T)
    bound = t + t.T
    if np.any(asym > bound):
        i, j = (int(v) for v in np.unravel_index(int(np.argmax(asym - bound)), K.shape))
        chk.fail("empirical_ntk(X, X, W, a)", f"K[{i}, {j}] = {number(K[i, j])} but K[{j}, {i}] = {number(K[j, i])}, but should "
                                              f"be symmetric within {bound[i, j]:.3g} (a Gram matrix J J^T)")
    n = K.shape[0]
    lam = float(np.linalg.eigvalsh((K + K.T) / 2).min())
    floor = -(float(np.linalg.norm(t)) + 4 * n * tol.UNIT_ROUNDOFF["float64"] * float(np.linalg.norm(K)))
    chk.worst = max(chk.worst, max(0.0, -lam) / max(-floor, np.finfo(np.float64).tiny))
    chk.holds("smallest eigenvalue of empirical_ntk(X, X, W, a)", lam >= floor,
              f"= {lam:.6g}, but should be >= {floor:.3g} (0 up to the rounding tolerance): the kernel is a Gram "
              "matrix J J^T, positive semi-definite")


def _group_kernels(target, chk, X, W, a):
    return np.stack([_kernel(target, chk, X, X, W[g * M_GROUP:(g + 1) * M_GROUP], a[g * M_GROUP:(g + 1) * M_GROUP],
                             f"empirical_ntk(X, X, W[group {g}], a[group {g}]) (m = {M_GROUP})").astype(np.float64)
                     for g in range(GROUPS)])


def _conv_hint(med, X) -> str:
    """Which known wrong limit the medians are closest to (relative), if clearly one."""
    Xf = np.asarray(X, np.float64)
    k0, k1, dots = oracle.kappa0(Xf, Xf), oracle.kappa1(Xf, Xf), Xf @ Xf.T
    n2 = np.diag(dots)
    limits = {"Theta m_g (the 1/sqrt(m) of f missing: the kernel grows with the width)":
              (k1 + dots * k0) * M_GROUP,
              "kappa1 alone (the W-gradient term a^2 relu' relu' x.x' missing)": k1,
              "(x.x') kappa0 alone (the a-gradient term relu relu missing)": dots * k0,
              "kappa1 + (x.x') kappa1 (relu in place of relu')": k1 + dots * k1}
    base = np.sqrt(np.outer(n2, n2))
    errs = {k: float(np.max(np.abs(med - v) / (np.abs(v) + base + 1e-300))) for k, v in limits.items()}
    close = [k for k, e in errs.items() if e < 0.1]
    if len(close) == 1:
        return f"; the medians are close to {close[0]}"
    if len(close) > 1:
        return "; the medians are close to one of: " + "; ".join(close)
    return ""


@prop("ntk.convergence", title="K_m -> Theta: the median of 15 independent group kernels (m = 2048 each) is within "
                               "Chebyshev's bound of the arc-cosine NTK (false alarm <= 9.2e-11 per entry)",
      capabilities=CAPS, derivations=("ntk.empirical.mean", "ntk.empirical.variance", "ntk.analytic",
                                      "ntk.arccos.kappa0", "ntk.arccos.kappa1", "ntk.concentration.median_of_means"),
      strategy=_conv, max_examples=CONVERGENCE_EXAMPLES)
def convergence(target, problem, chk):
    X, W, a = problem["X"], problem["W"], problem["a"]
    Ks = _group_kernels(target, chk, X, W, a)
    med = np.median(Ks, axis=0)
    Xf = np.asarray(X, np.float64)
    theta = oracle.theta(Xf, Xf)
    v = oracle.unit_variance(Xf, Xf)
    t = threshold(v)
    prec = tol.precision(target)
    rounding = max((empirical_tol(X, X, W[g * M_GROUP:(g + 1) * M_GROUP], a[g * M_GROUP:(g + 1) * M_GROUP], prec)
                    for g in range(GROUPS)), key=lambda e: float(e.max()))
    slack = rounding + 64 * tol.UNIT_ROUNDOFF["float64"] * (np.abs(theta) + np.sqrt(np.outer(np.diag(theta),
                                                                                               np.diag(theta))))
    bound = t + slack
    err = np.abs(med - theta)
    ratio = err / np.maximum(bound, np.finfo(np.float64).tiny)
    chk.worst = max(chk.worst, float(ratio.max()))
    if ratio.max() > 1.0:
        i, j = (int(v_) for v_ in np.unravel_index(int(np.argmax(ratio)), ratio.shape))
        chk.fail(f"median over {GROUPS} groups of empirical_ntk(X, X, W_g, a_g), entry ({i}, {j})",
                 f"= {med[i, j]:.6g}, but should be Theta = {theta[i, j]:.6g} within {bound[i, j]:.4g} "
                 f"({ratio[i, j]:.3g} x the bound; Chebyshev per group with the exact single-unit variance v = "
                 f"{v[i, j]:.4g}, m = {M_GROUP} per group, false alarm {float(check_alpha()):.3g})"
                 + _conv_hint(med, X))
