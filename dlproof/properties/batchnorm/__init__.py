"""Properties of batch normalization (capabilities batchnorm, batchnorm_vjp), each from a bn.* derivation.

Expected values come from the float64 oracle (derivations/oracle_batchnorm.py: the VJP through the explicit Jacobian
of bn.jacobian.xhat, a route the references do not take); tolerances from properties/batchnorm/tolerances.py. The
running-variance convention is declared (``bn_running_var``: "unbiased", torch's default, or "biased"); a
target matching the other one is told to declare it, never absorbed into a tolerance.

The algorithm of the batch variance is declared too (``bn_variance``, properties/batchnorm/tolerances.py): "stable"
(default: two-pass, Welford, pairwise) or the one-pass mean(x^2) - mean^2 ("moments", "moments_clamped"), each
with its own error model. A target outside the stable model but inside the one-pass one is told to declare
"moments". The one-pass variance's pathology is a finding, never a tolerance: where it can round to
var^ + eps <= 0, a NaN output (or a negative running_var') fails with a message that names the cause and the
cure (clamp at 0, or a stable algorithm). Declared restrictions: bn_momentum="open_interval" draws momenta in
(0, 1) only.
"""
from __future__ import annotations

import numpy as np

from dlproof.derivations import oracle_batchnorm as oracle

from .. import diagnose
from .. import tolerances as tol
from ..assertions import call, number
from ..registry import prop
from . import tolerances as tbn
from .strategies import bn_problems

OTHER = {"unbiased": "biased", "biased": "unbiased"}


def _strategy(target):
    return bn_problems(dtype=target.dtype, restrict=target.convention("restrictions"))


def _variance(target) -> str:
    return target.convention("bn_variance")


def _moments_finding(target, problem, x, where: str, what: str):
    """The finding message when ``what`` (at column j = where) is what an unclamped one-pass variance gives on a
    column where it can round to var^ + eps <= 0; None when the column is not such a column."""
    j = int(where)
    prec = tol.precision(target)
    if not tbn.unbounded_columns(x, problem["eps"], prec, "moments")[j]:
        return None
    col = np.asarray(x, np.float64)[:, j]
    mu, var = float(col.mean()), float(col.var())
    e_var = float(tbn.train_stats_bound(col[:, None], tol.u_total(prec), "moments", tol.u_acc_total(prec))[3][0])
    return (f"{what}: finding (not a tolerance question): column {j} (mean {mu:.8g}, variance {var:.3g}, eps "
            f"{problem['eps']}) is where the one-pass variance mean(x^2) - mean^2 can round to var + eps <= 0 (its "
            f"rounding error can reach {e_var:.3g} ~ u mean(x^2) >= var + eps): the batch variance came out negative "
            "and was used as is, but it should be >= 0: clamp it (max(var, 0), and declare "
            "bn_variance='moments_clamped') or compute it with a stable algorithm (two-pass, Welford; the default "
            f"bn_variance='stable'). Declared bn_variance: {_variance(target)!r}")


def _args(problem, training):
    return (problem["x"], problem["gamma"], problem["beta"], problem["running_mean"], problem["running_var"], training, problem["momentum"], problem["eps"])


def _bn(target, chk, problem, training, x=None):
    args = _args(problem, training)
    if x is not None:
        args = (x,) + args[1:]
    out = call(target, "batchnorm", *args)
    chk.holds("batchnorm(x, gamma, beta, running_mean, running_var, training, momentum, eps)",
              isinstance(out, (tuple, list)) and len(out) == 3,
              f"returned {type(out).__name__}, but should be a tuple (y, running_mean', running_var')")
    N, C = args[0].shape
    y, rm, rv = out
    if training and isinstance(y, np.ndarray) and y.shape == (N, C) and y.dtype.kind == "f" and _variance(target) != "moments_clamped":
        bad = np.argwhere(~np.isfinite(y))
        if bad.size:
            i, j = (int(v) for v in bad[0])
            finding = _moments_finding(target, problem, args[0], j, f"y[{i}, {j}] = {y[i, j]}")
            if finding:
                chk.fail(f"y (training, eps={problem['eps']})", finding)
    return (chk.array("y", y, (N, C)), chk.array("running_mean'", rm, (C,)), chk.array("running_var'", rv, (C,)))


def _within(a, e, t) -> bool:
    """|a - e| <= t entry-wise, as the checks compare (diagnose.within)."""
    return diagnose.within(a, e, t)


def _alt_forward(problem, how):
    """y of a known wrong forward (for the failure message): the unbiased variance, or eps outside the sqrt."""
    x, g, b = (np.asarray(problem[k], np.float64) for k in ("x", "gamma", "beta"))
    mu, var = oracle.stats(x)
    N = x.shape[0]
    if how == "unbiased":
        return g * (x - mu) / np.sqrt(var * N / (N - 1) + problem["eps"]) + b
    return g * (x - mu) / (np.sqrt(var) + problem["eps"]) + b


@prop("bn.forward.train", title="training-mode batch norm: y = gamma (x - mu)/sqrt(var + eps) + beta, biased batch variance",
      capabilities=("batchnorm",), derivations=("bn.forward.train", "bn.forward.zero_mean_unit_var"), strategy=_strategy, precisions=tbn.PRECISIONS)
def forward_train(target, problem, chk):
    y, _, _ = _bn(target, chk, problem, True)
    expected = oracle.forward_train(problem["x"], problem["gamma"], problem["beta"], problem["eps"])
    prec, conv, variance = tol.precision(target), target.convention("bn_running_var"), _variance(target)
    t_y, _, _ = tbn.forward_tol(*_args(problem, True), prec, conv, variance)
    if not _within(y, expected, t_y):
        if variance == "stable":
            t_m, _, _ = tbn.forward_tol(*_args(problem, True), prec, conv, "moments")
            if np.all(np.isfinite(t_m)) and _within(y, expected, t_m):
                chk.fail(f"y (training, eps={problem['eps']})",
                         "is outside the error model of the stable variance algorithms (two-pass, Welford, pairwise) "
                         "but inside that of the one-pass variance mean(x^2) - mean^2 (error ~ u mean(x^2), not "
                         "~ u var): a different algorithm, not a bug: declare bn_variance='moments' (Keras 3's "
                         "ops.moments; 'moments_clamped' if it clamps at 0)")
        for how, what in (("unbiased", "normalizes with the unbiased variance N/(N-1) var, but should use the biased "
                                       "(1/N) batch variance (Ioffe & Szegedy, Algorithm 1; torch, Keras)"),
                          ("eps_outside", "computes (x - mu)/(sqrt(var) + eps), but should compute (x - mu)/sqrt(var + eps): "
                                          "eps belongs inside the square root")):
            if _within(y, _alt_forward(problem, how), t_y):
                chk.fail("y", what)
    chk.close(f"y (training, eps={problem['eps']})", y, expected, t_y)


@prop("bn.forward.eval", title="inference-mode batch norm normalizes with the running statistics and returns them unchanged",
      capabilities=("batchnorm",), derivations=("bn.forward.eval",), strategy=_strategy, precisions=tbn.PRECISIONS)
def forward_eval(target, problem, chk):
    y, rm, rv = _bn(target, chk, problem, False)
    expected = oracle.forward_eval(problem["x"], problem["gamma"], problem["beta"], problem["running_mean"], problem["running_var"], problem["eps"])
    t_y, _, _ = tbn.forward_tol(*_args(problem, False), tol.precision(target))
    if _within(y, oracle.forward_train(problem["x"], problem["gamma"], problem["beta"], problem["eps"]), t_y) and not _within(y, expected, t_y):
        chk.fail("y (training=False)", "normalizes with the batch statistics, but should use running_mean and "
                                       "running_var in inference mode")
    chk.close(f"y (inference, eps={problem['eps']})", y, expected, t_y)
    for name, got, given in (("running_mean'", rm, problem["running_mean"]), ("running_var'", rv, problem["running_var"])):
        if not np.array_equal(got, given):
            j = int(np.argmax(got != given))
            chk.fail(f"{name} (training=False)", f"entry {j} = {number(got[j])}, but should come back unchanged = {number(given[j])}")


@prop("bn.running_stats", title="training updates running = (1 - m) running + m stat, the variance stat per bn_running_var",
      capabilities=("batchnorm",), derivations=("bn.running_stats", "bn.running_var.unbiased"), strategy=_strategy, precisions=tbn.PRECISIONS)
def running_stats(target, problem, chk):
    conv, variance = target.convention("bn_running_var"), _variance(target)
    _, rm, rv = _bn(target, chk, problem, True)
    x, m = problem["x"], problem["momentum"]
    if variance == "moments" and np.any(rv < 0):
        j = int(np.argmax(rv < 0))
        finding = _moments_finding(target, problem, x, j, f"running_var'[{j}] = {number(rv[j])} < 0")
        chk.holds(f"running_var' (momentum={m})", finding is None, finding or "")
    exp_rm, exp_rv = oracle.running_update(x, problem["running_mean"], problem["running_var"], m, conv)
    _, t_rm, t_rv = tbn.forward_tol(*_args(problem, True), tol.precision(target), conv, variance)
    if not (_within(rm, exp_rm, t_rm) and _within(rv, exp_rv, t_rv)):
        alt_rm, alt_rv = oracle.running_update(x, problem["running_mean"], problem["running_var"], m, OTHER[conv])
        _, _, t_alt = tbn.forward_tol(*_args(problem, True), tol.precision(target), OTHER[conv], variance)
        if _within(rm, exp_rm, t_rm) and _within(rv, alt_rv, t_alt):
            chk.fail("running_var'", f"matches bn_running_var={OTHER[conv]!r} ((1 - m) running_var + m "
                                     f"{'N/(N-1) var' if OTHER[conv] == 'unbiased' else 'var'}), but should match the "
                                     f"declared bn_running_var={conv!r}: convention mismatch: declare "
                                     f"bn_running_var={OTHER[conv]!r}")
        k_rm, k_rv = oracle.running_update(x, problem["running_mean"], problem["running_var"], 1 - m, conv)
        if _within(rm, k_rm, t_rm) and _within(rv, k_rv, t_rv):
            chk.fail("running statistics", f"match m running + (1 - m) stat with m = momentum = {m!r} (Keras' "
                                           "convention: momentum weighs the OLD value), but should be (1 - m) running "
                                           "+ m stat (torch's momentum, the protocol's)")
    chk.close(f"running_mean' (momentum={m})", rm, exp_rm, t_rm)
    chk.close(f"running_var' (momentum={m}, bn_running_var={conv!r})", rv, exp_rv, t_rv)


def _vjp(target, chk, problem):
    x = problem["x"]
    out = call(target, "batchnorm_vjp", x, problem["gamma"], problem["beta"], problem["eps"], problem["dy"])
    chk.holds("batchnorm_vjp(x, gamma, beta, eps, dy)", isinstance(out, dict) and {"x", "gamma", "beta"} <= set(out),
              f"returned {type(out).__name__}{sorted(out) if isinstance(out, dict) else ''}, but should be a dict with "
              "keys 'x', 'gamma', 'beta'")
    N, C = x.shape
    return (chk.array("dx", out["x"], (N, C)), chk.array("dgamma", out["gamma"], (C,)),
            chk.array("dbeta", out["beta"], (C,)))


def _vjp_tol(target, problem):
    return tbn.vjp_tol(problem["x"], problem["gamma"], problem["eps"], problem["dy"], tol.precision(target), _variance(target))


@prop("bn.vjp", title="training-mode gradients: dx (three terms), dgamma = sum dy xhat, dbeta = sum dy",
      capabilities=("batchnorm_vjp",), derivations=("bn.backward.three_term", "bn.backward.gamma_beta", "bn.jacobian.xhat"),
      strategy=_strategy, precisions=tbn.PRECISIONS)
def vjp(target, problem, chk):
    dx, dg, db = _vjp(target, chk, problem)
    exp = oracle.vjp(problem["x"], problem["gamma"], problem["eps"], problem["dy"])
    t = _vjp_tol(target, problem)
    chk.close("dbeta", db, exp["beta"], t["beta"])
    chk.close("dgamma", dg, exp["gamma"], t["gamma"])
    chk.close(f"dx (eps={problem['eps']})", dx, exp["x"], t["x"])


@prop("bn.grad.sum_zero", title="the input gradient sums to zero over the batch, per feature",
      capabilities=("batchnorm_vjp",), derivations=("bn.grad.orthogonal_ones",), strategy=_strategy, precisions=tbn.PRECISIONS)
def sum_zero(target, problem, chk):
    dx, _, _ = _vjp(target, chk, problem)
    t = _vjp_tol(target, problem)["x"]
    s = np.asarray(dx, np.float64).sum(axis=0)
    chk.close("sum_i dx[i, :] (per feature)", s.astype(target.dtype), np.zeros_like(s), tbn.column_sum_tol(dx, t))


@prop("bn.grad.xhat_residual", title="dx . xhat = gamma/s (sum dy xhat) eps/(var + eps) per feature (not 0 for eps > 0)",
      capabilities=("batchnorm_vjp",), derivations=("bn.grad.xhat_residual", "bn.grad.orthogonal_xhat.refuted"),
      strategy=_strategy, precisions=tbn.PRECISIONS)
def xhat_residual(target, problem, chk):
    dx, _, _ = _vjp(target, chk, problem)
    t = _vjp_tol(target, problem)["x"]
    xh = oracle.xhat(problem["x"], problem["eps"])[0]
    got = (np.asarray(dx, np.float64) * xh).sum(axis=0)
    expected = oracle.xhat_residual(problem["x"], problem["gamma"], problem["eps"], problem["dy"])
    err = tbn.residual_float64_err(problem["x"], problem["gamma"], problem["eps"], problem["dy"], expected)
    tol_dot = tbn.dot_tol(dx, t, xh, tbn.xhat_float64_err(problem["x"], problem["eps"]), err)
    ok = np.abs(got - expected) <= tol_dot
    if not np.all(ok):
        j = int(np.argmax(~ok))
        chk.fail(f"sum_i dx[i, {j}] xhat[i, {j}]", f"= {number(got[j])}, but should be the derived residual "
                                                   f"gamma/s (sum dy xhat) eps/(var + eps) = {number(expected[j])} within "
                                                   f"{tol_dot[j]:.3g} (eps={problem['eps']})")
    chk.worst = max(chk.worst, float(np.max(np.abs(got - expected) / np.maximum(tol_dot, np.finfo(float).tiny))))


@prop("bn.scale_invariance", title="BN(a z) differs from BN(z) by at most the derived eps/var bound (plus rounding)",
      capabilities=("batchnorm",), derivations=("bn.scale_invariance",), strategy=_strategy, precisions=tbn.PRECISIONS)
def scale_invariance(target, problem, chk):
    a = problem["a"]
    z = problem["x"]
    az = (z * z.dtype.type(a)).astype(z.dtype)  # a is a power of two: exact
    y1, _, _ = _bn(target, chk, problem, True)
    ya, _, _ = _bn(target, chk, problem, True, x=az)
    prec, conv, variance = tol.precision(target), target.convention("bn_running_var"), _variance(target)
    t1, _, _ = tbn.forward_tol(*_args(problem, True), prec, conv, variance)
    ta, _, _ = tbn.forward_tol(az, *_args(problem, True)[1:], prec, conv, variance)
    bound = oracle.scale_gap_bound(z, problem["gamma"], problem["eps"], a) * (1 + 1e-12)
    gap = np.abs(np.asarray(ya, np.float64) - np.asarray(y1, np.float64))
    allowed = bound + t1 + ta
    ok = gap <= allowed
    if not np.all(ok):
        i = tuple(int(v) for v in np.argwhere(~ok)[0])
        chk.fail(f"|BN(a z) - BN(z)|{i} (a={a}, eps={problem['eps']})",
                 f"= {gap[i]:.6g}, but should be <= |gamma| |z - mu|/sigma * eps |1 - 1/a^2| / (2 sigma^2) = "
                 f"{bound[i]:.6g} plus rounding {t1[i] + ta[i]:.3g}")
    # the share of the rounding allowance used beyond the proved bound (<= 1 passes)
    used = np.maximum(gap - bound, 0.0) / np.maximum(t1 + ta, np.finfo(float).tiny)
    chk.worst = max(chk.worst, float(np.max(used, initial=0.0)))
