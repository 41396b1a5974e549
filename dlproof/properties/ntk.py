"""Properties of the empirical neural tangent kernel (capability empirical_ntk), each from an ntk.* derivation.

f(x) = a^T relu(W x)/sqrt(m); K[i, j] = <grad_theta f(X1[i]), grad_theta f(X2[j])>, relu'(0) = 0.

- ntk.empirical.definition: the target's K against the float64 oracle's explicit per-unit sum
  (derivations/oracle_ntk.py), entry-wise within the error model of properties/tolerances_ntk.py.
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
  is at most 9 x 2 x 2000 x 16 x 9.18e-11 = 5.3e-5 < 1e-4 (tests/test_ntk.py checks the arithmetic exactly). In the
  derandomized ci profile the examples are fixed: a fixed example always passes or always fails.
  Power: at |x| in {0.25, 0.5, 2, 4} the diagonal has Theta = |x|^2, v = 3|x|^4, t = 0.279 |x|^2; a kernel scaled
  by m_g (no 1/sqrt(m)) is off by ~2047 Theta, one without the a-gradient term or without the W-gradient term by
  |x|^2/2 (its mean is |x|^2/2), one with relu in place of relu' by |x|^2 ||x|^2 - 1|/2 >= 0.375 |x|^2: each
  outside t (by 1.3x to ~7000x), its own median within ~0.02 |x|^2 of its mean (tests/test_ntk.py: each caught).
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from dlproof.derivations import oracle_ntk as oracle

from . import tolerances as tol
from . import tolerances_ntk as tntk
from .assertions import call
from .registry import prop
from .strategies_ntk import GROUPS, M_GROUP, convergence_problems, ntk_problems

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
def definition(target, P, chk):
    X1, X2, W, a = P["X1"], P["X2"], P["W"], P["a"]
    K = _kernel(target, chk, X1, X2, W, a)
    Kf = K.astype(np.float64)
    expected = oracle.empirical(X1, X2, W, a)
    t = tntk.empirical_tol(X1, X2, W, a, tol.precision(target))
    if np.any(np.abs(Kf - expected) > t):
        for what, alt in _variants(X1, X2, W, a).items():
            if np.all(np.abs(Kf - alt) <= t + 1e-12 * np.abs(alt)):
                chk.fail("empirical_ntk(X1, X2, W, a)", f"matches the kernel {what}, but should be (1/m) sum_r "
                                                        "[relu(w_r.x) relu(w_r.x') + a_r^2 relu'(w_r.x) relu'(w_r.x') "
                                                        "x.x'] with relu'(0) = 0")
    chk.close(f"empirical_ntk (m = {W.shape[0]}, d = {W.shape[1]})", K, expected, t)


@prop("ntk.psd", title="for X1 = X2 the empirical kernel is symmetric and positive semi-definite (a Gram matrix)",
      capabilities=CAPS, derivations=("ntk.psd", "ntk.empirical.definition"), strategy=_gram)
def psd(target, P, chk):
    X, W, a = P["X1"], P["W"], P["a"]
    K = _kernel(target, chk, X, X, W, a, "empirical_ntk(X, X, W, a)").astype(np.float64)
    t = tntk.empirical_tol(X, X, W, a, tol.precision(target))
    asym = np.abs(K - K.T)
    bound = t + t.T
    if np.any(asym > bound):
        i, j = (int(v) for v in np.unravel_index(int(np.argmax(asym - bound)), K.shape))
        chk.fail("empirical_ntk(X, X, W, a)", f"K[{i}, {j}] = {K[i, j]!r} but K[{j}, {i}] = {K[j, i]!r}, but should "
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
def convergence(target, P, chk):
    X, W, a = P["X"], P["W"], P["a"]
    Ks = _group_kernels(target, chk, X, W, a)
    med = np.median(Ks, axis=0)
    Xf = np.asarray(X, np.float64)
    theta = oracle.theta(Xf, Xf)
    v = oracle.unit_variance(Xf, Xf)
    t = threshold(v)
    prec = tol.precision(target)
    rounding = max((tntk.empirical_tol(X, X, W[g * M_GROUP:(g + 1) * M_GROUP], a[g * M_GROUP:(g + 1) * M_GROUP], prec)
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
