"""Properties of layer normalization over the last axis (capabilities layernorm, layernorm_vjp), each from an
ln.* derivation: strategies, the error model, the checks.

Expected values come from the float64 oracle (derivations/oracle_layernorm.py: the VJP through the explicit
per-row Jacobian, a route the references do not take).

Strategy (`ln_problems`): x (..., F) with a leading shape (), (R,) or (B, T) (R, B, T in 1..3) and F in 1..6;
each row "spread" or "near-constant" (batch norm's column generator, properties/batchnorm/strategies.py, so var
is comparable to eps in some rows); eps in {0, 1e-5, 1e-3, 0.1} (eps = 0 only with F >= 2 spread rows); the
affine part present or not (gamma, beta both None); dy; a power of two ``a`` (a x exact) and an integer shift
``c`` with x on a 2^-16 grid, |x| <= 60 (x + c exact in float32). A target built by `torch_nn_layernorm.from_module` carries
the restrictions ``layernorm_features`` (F) and ``layernorm_affine``: only that F and that affine choice are drawn.

Error model (per row = one batch-norm column; properties/batchnorm/tolerances.py, reused, not copied): a row
of F entries is batch norm's column of N = F entries, with the entry-wise gamma_j, beta_j in place of the
column's scalars (its y bound is entry-wise), the statistics by any stable algorithm (two-pass, Welford,
pairwise: torch's layer_norm kernels, Keras on the torch backend). So

  y:       tol_y = batch norm's forward tolerance of the row (gamma = 1, beta = 0 without the affine part);
  dx:      with g = gamma dy, batch norm's dx tolerance for the column with its gamma = 1 and its dy = g (the
           same three-term/two-term magnitudes M = (|g_j| + mean|g| + |xhat_j| mean|g xhat|)/sigma), times
           (1 + 1/(2F + 8)): the target rounds g = gamma dy once (a relative u of g moves dx by at most u M, and
           batch norm's tolerance holds SAFETY gamma_{2F+8} M >= SAFETY (2F + 8) u M);
           plus the route of torch's native backward kernel, which forms the uncentred sums ds = sum g x,
           db = sum g and dx = g/s + b x + c with b = (db mu - ds)/(F s^3), c = -b mu - db/(F s): the
           cancellation in db mu - ds errs by gamma_{F+2} (sum|g x| + |mu| sum|g|); c reuses the computed b,
           so that error reaches dx_j only through b (x_j - mu); the products b x_j and b mu round at the size
           |b| (|x_j| + |mu|), |b| <= sum|g xhat| / (F s^2):
           e_route = SAFETY (gamma_{F+4} |xhat_j| (sum|g x| + |mu| sum|g|) + gamma_3 (|x_j| + |mu|) sum|g xhat|)
           / (F s_lo^2) (measured: torch 2.13 CPU float32 stays within 0.05 of the tolerance without it);
  dgamma:  sum over the R rows of dy xhat: SAFETY (gamma_{R+2} sum|dy xhat| + sum |dy| e_xhat), e_xhat <=
           tol_y(gamma = 1, beta = 0) / SAFETY;   dbeta: SAFETY gamma_R sum|dy|.

Declared arithmetic and precisions: the model is evaluated at `tolerances.precision(target)` (the row sums at the
accumulation format's u: batch norm's module doc; the gammas of dgamma, dbeta and the native route's cancellation
likewise). The properties run at bfloat16, float32 and float64 (`batchnorm.tolerances.PRECISIONS`: float16's
underflow is out of the model); ln.invariance.shift at float32/float64 only (x + c exact needs 23 bits). The
strategy checks a row's constancy after the cast to the dtype (a near-constant row may round to a constant one).

A failure names the part (forward / backward) and, when the output matches a known wrong formula within the
same tolerance, the likely bug: the unbiased (F - 1) variance, eps outside the square root, the statistics over
the wrong (first) axis, the affine part ignored; in the backward the missing xhat mean(g xhat) term. Shrinking
takes the unbiased variance to F = 1, where it is 0/0 and y is NaN: that NaN is named the unbiased variance when one
more call, at F = 2, gives the unbiased formula (`_unbiased_at_two_features`).
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from dlproof.derivations import oracle_layernorm as oracle

from . import diagnose, restrictions
from . import tolerances as tol
from .assertions import PropertyFailure, call
from .batchnorm import tolerances as tbn
from .tolerances import mixed_gamma
from .batchnorm.strategies import EPS as BN_EPS
from .batchnorm.strategies import SCALES_A, _column
from .registry import prop
from .strategies import SEED, Problem

EPS = (0.0,) + BN_EPS
LEADING = ((), (1,), (2,), (3,), (2, 2), (1, 3), (3, 2))
GRID = 2.0 ** -16  # x on this grid, |x| <= XMAX: x + c exact for |c| <= 16 (|x + c| < 2^7: 23 significant bits)
XMAX = 60.0
SHIFTS = (-16, -3, 1, 7, 16)


# ---------------------------------------------------------------- strategies

def fixed(target) -> dict | None:
    """{"F", "affine"} of a target that declares the restrictions layernorm_features / layernorm_affine (a live
    module: torch_nn_layernorm.from_module), each None when not declared; None when neither is."""
    F, affine = restrictions.value(target, "layernorm_features"), restrictions.value(target, "layernorm_affine")
    return None if F is None and affine is None else {"F": F, "affine": affine}


@st.composite
def ln_problems(draw, dtype: str = "float64", fix: dict | None = None):
    """x (..., F) on a 2^-16 grid, gamma, beta (F,) or None, dy (..., F); scalars eps, affine, a, c, F, rows."""
    lead = draw(st.sampled_from(LEADING), label="leading shape")
    fix = fix or {}
    F = fix["F"] if fix.get("F") is not None else draw(st.integers(1, 6), label="F")
    affine = fix["affine"] if fix.get("affine") is not None else draw(st.booleans(), label="affine")
    eps = draw(st.sampled_from(EPS if F >= 2 else BN_EPS), label="eps")
    a = draw(st.sampled_from(SCALES_A), label="a")
    c = draw(st.sampled_from(SHIFTS), label="c")
    seed = draw(SEED, label="seed")
    rng = np.random.default_rng(seed)
    R = int(np.prod(lead, dtype=int))
    kinds = ["spread" if eps == 0 else str(k) for k in rng.choice(("spread", "near_constant"), size=R, p=(0.7, 0.3))]
    rows = np.stack([_column(rng, F, k, eps if eps > 0 else BN_EPS[0]) for k in kinds])
    dt = np.dtype(dtype)
    x = (np.round(np.clip(rows, -XMAX, XMAX) / GRID) * GRID).astype(dt).astype(np.float64)  # exact in float32/64
    if eps == 0 and np.any(np.all(x == x[:, :1], axis=1)):
        eps = BN_EPS[0]  # a row constant in the dtype: 0/0 at eps = 0 (the references refuse it)
    arrays = {"x": x.reshape(lead + (F,)),
              "dy": rng.standard_normal(lead + (F,)) * float(rng.choice((0.1, 1.0, 10.0)))}
    if affine:
        arrays["gamma"] = rng.choice((-1.0, 1.0), size=F) * rng.uniform(0.2, 3.0, size=F)
        arrays["beta"] = rng.standard_normal(F) * rng.choice((0.1, 1.0, 5.0), size=F)
    arrays = {k: v.astype(dt) for k, v in arrays.items()}
    return Problem(arrays, {"F": F, "eps": eps, "affine": affine, "a": a, "c": c, "seed": seed, "rows": kinds})


def _strategy(target):
    return ln_problems(dtype=target.dtype, fix=fixed(target))


def _gb(problem):
    return (problem["gamma"], problem["beta"]) if problem["affine"] else (None, None)


# ---------------------------------------------------------------- the error model (module doc)

def forward_tol(x, gamma, beta, eps, dtype) -> np.ndarray:
    """(..., F): entry-wise tolerance of layernorm in ``dtype`` (batch norm's per column, a row as a column)."""
    x = np.asarray(x)
    g, b = oracle.affine_or_identity(gamma, beta, x.shape[-1])
    R = int(np.prod(x.shape[:-1], dtype=int))
    t = tbn.forward_tol(oracle.rows_as_columns(x), g[:, None], b[:, None], np.zeros(R), np.zeros(R), True, 0.0, eps, dtype,
                        "biased", "stable")[0]
    return oracle.columns_back(t, x.shape)


def vjp_tol(x, gamma, eps, dy, dtype) -> dict:
    """{"x" (..., F), "gamma" (F,), "beta" (F,)}: entry-wise tolerances of layernorm_vjp (module doc)."""
    x = np.asarray(x)
    F = x.shape[-1]
    R = int(np.prod(x.shape[:-1], dtype=int))
    u, ua = tol.u_total(dtype), tol.u_acc_total(dtype)
    g, _ = oracle.affine_or_identity(gamma, None, F)
    gd = g * np.asarray(dy, np.float64)
    xc, gc = oracle.rows_as_columns(x), oracle.rows_as_columns(gd)
    t_dx = tbn.vjp_tol(xc, np.ones(R), eps, gc, dtype)["x"] * (1 + 1 / (2 * F + 8))
    mu, var, e_mu, e_var = tbn.train_stats_bound(xc, u, u_acc=ua)
    w = var + float(eps)
    e_w = e_var + u * float(eps) + u * (w + e_var)          # batch norm's e_w (its module doc)
    s_lo = np.sqrt(np.maximum(w - e_w, 0.0)) * (1 - u)      # the computed sqrt(w^) >= sqrt(w - e_w)(1 - u)
    xh_c = (xc - mu) / np.sqrt(w)
    safe = np.where(s_lo > 0, s_lo, 1.0)
    route = tol.SAFETY * (mixed_gamma(F, 4, u, ua) * np.abs(xh_c) * (np.abs(gc * xc).sum(axis=0) + np.abs(mu) * np.abs(gc).sum(axis=0))
                          + tol.gamma(3, u) * (np.abs(xc) + np.abs(mu)) * np.abs(gc * xh_c).sum(axis=0)) / (F * safe ** 2)
    t_dx = t_dx + np.where(s_lo > 0, route, np.inf)
    e_xh = forward_tol(x, None, None, eps, dtype).reshape(-1, F) / tol.SAFETY
    xh = oracle.xhat(x, eps).reshape(-1, F)
    d2 = np.abs(np.asarray(dy, np.float64)).reshape(-1, F)
    t_g = tol.SAFETY * (mixed_gamma(R, 2, u, ua) * (d2 * np.abs(xh)).sum(axis=0) + (d2 * e_xh).sum(axis=0))
    t_b = tol.SAFETY * mixed_gamma(max(R, 1), 0, u, ua) * d2.sum(axis=0)
    return {"x": oracle.columns_back(t_dx, x.shape), "gamma": t_g, "beta": t_b}


# ---------------------------------------------------------------- diagnoses

def _moved(x, axis):
    return np.moveaxis(np.asarray(x, np.float64), axis, -1)


def wrong_forward(problem, how: str):
    """y of a known wrong forward, or None where the shapes do not tell it apart."""
    x = np.asarray(problem["x"], np.float64)
    gamma, beta = _gb(problem)
    g, b = oracle.affine_or_identity(gamma, beta, x.shape[-1])
    eps, F = problem["eps"], x.shape[-1]
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    if how == "unbiased":
        return None if F < 2 else g * (x - mu) / np.sqrt(var * F / (F - 1) + eps) + b
    if how == "eps_outside":
        return None if eps == 0 else g * (x - mu) / (np.sqrt(var) + eps) + b
    if how == "wrong_axis":
        if x.ndim < 2 or x.shape[0] < 2:
            return None
        xm = _moved(x, 0)
        m0 = xm.mean(axis=-1, keepdims=True)
        v0 = ((xm - m0) ** 2).mean(axis=-1, keepdims=True)
        if np.any(v0 + eps == 0):
            return None
        return g * np.moveaxis((xm - m0) / np.sqrt(v0 + eps), -1, 0) + b
    if how == "affine_ignored":
        return None if gamma is None else oracle.xhat(x, eps)
    raise ValueError(f"wrong_forward: how={how!r}")


FORWARD_BUGS = {
    "unbiased": "normalizes with the unbiased variance var F/(F-1), but should use the biased (1/F) variance "
                "(Ba et al. 2016; torch.nn.LayerNorm)",
    "eps_outside": "computes (x - mean)/(sqrt(var) + eps), but should compute (x - mean)/sqrt(var + eps): eps "
                   "belongs inside the square root",
    "wrong_axis": "normalizes over the first axis, but should normalize over the last axis (the F features of "
                  "each row)",
    "affine_ignored": "ignores gamma and beta (returns xhat), but should return gamma xhat + beta",
}


def _diagnose_forward(exc, problem, y, t, target=None):
    if target is not None and target.dtype == "float64":
        t32 = forward_tol(problem["x"], *_gb(problem), problem["eps"], "float32")
        if diagnose.within(y, oracle.layernorm(problem["x"], *_gb(problem), problem["eps"]), t32):
            diagnose.annotate(exc, part="forward", likely_bug="computes in float32 inside (the output is within "
                              "the float32 error model, not the float64 one), but should compute in float64; "
                              "Keras on the torch backend does this: result_type(float64, float32) = float32")
            return
    for how, words in FORWARD_BUGS.items():
        try:
            alt = wrong_forward(problem, how)
        except Exception:  # noqa: BLE001 - a diagnosis never replaces the verdict it annotates
            alt = None
        if alt is not None and diagnose.within(y, alt, t):
            diagnose.annotate(exc, part="forward", likely_bug=words)
            return
    diagnose.annotate(exc, part="forward")


NAN_AT_ONE_FEATURE = ("returns NaN at F = 1 (where y = beta) and, given a second feature, the unbiased variance "
                      "var F/(F-1): it divides by F - 1 = 0 at F = 1 (torch.var's and torch.std's default, "
                      "correction=1), but should use the biased (1/F) variance (Ba et al. 2016; torch.nn.LayerNorm)")


def _unbiased_at_two_features(target, problem, x) -> bool:
    """Whether the target, called once more on x with a second feature x + 1 (F = 2), gives the unbiased-variance
    forward within the error model: what tells the unbiased variance's 0/0 at F = 1 from any other NaN (raises
    when the call does: the caller guesses through `diagnose.guess`)."""
    gamma, beta = _gb(problem)
    x2 = np.concatenate([x, x + 1], axis=-1)
    g2, b2 = (None, None) if gamma is None else (np.concatenate([gamma, gamma]), np.concatenate([beta, beta]))
    y2 = np.asarray(call(target, "layernorm", x2, g2, b2, problem["eps"]), np.float64)
    alt = wrong_forward({"x": x2, "gamma": g2, "beta": b2, "eps": problem["eps"], "affine": gamma is not None},
                        "unbiased")
    return bool(y2.shape == x2.shape and diagnose.within(y2, alt, forward_tol(x2, g2, b2, problem["eps"],
                                                                              tol.precision(target))))


def _layernorm(target, chk, problem, x=None):
    """y = layernorm(x) checked for type, shape, dtype and finiteness. An all-NaN y at F = 1 (where the right y is
    beta, finite) is annotated as the unbiased variance's 0/0 when one more call at F = 2 confirms it."""
    x = problem["x"] if x is None else x
    y = call(target, "layernorm", x, *_gb(problem), problem["eps"])
    try:
        return chk.array("y", y, x.shape)
    except PropertyFailure as exc:
        if (x.shape[-1] == 1 and isinstance(y, np.ndarray) and y.dtype.kind == "f" and y.shape == x.shape
                and y.size and np.all(np.isnan(y)) and diagnose.guess(_unbiased_at_two_features, target, problem, x)):
            diagnose.annotate(exc, part="forward", likely_bug=NAN_AT_ONE_FEATURE)
        raise


@prop("ln.forward", title="layer norm: y = gamma (x - mean)/sqrt(var + eps) + beta over the last axis, biased variance",
      capabilities=("layernorm",), derivations=("ln.forward", "ln.forward.zero_mean"), strategy=_strategy, precisions=tbn.PRECISIONS)
def forward(target, problem, chk):
    gamma, beta = _gb(problem)
    try:
        y = _layernorm(target, chk, problem)
        t = forward_tol(problem["x"], gamma, beta, problem["eps"], tol.precision(target))
        chk.close(f"y (eps={problem['eps']}, affine={problem['affine']})", y,
                  oracle.layernorm(problem["x"], gamma, beta, problem["eps"]), t)
    except PropertyFailure as exc:
        if "y" in locals() and "t" in locals():
            _diagnose_forward(exc, problem, y, t, target)
        else:
            diagnose.annotate(exc, part="forward")
        raise


def _vjp(target, chk, problem):
    x = problem["x"]
    gamma, beta = _gb(problem)
    out = call(target, "layernorm_vjp", x, gamma, beta, problem["eps"], problem["dy"])
    chk.holds("layernorm_vjp(x, gamma, beta, eps, dy)", isinstance(out, dict) and {"x", "gamma", "beta"} <= set(out),
              f"returned {type(out).__name__}{sorted(out) if isinstance(out, dict) else ''}, but should be a dict with "
              "keys 'x', 'gamma', 'beta'")
    dx = chk.array("dx", out["x"], x.shape)
    if gamma is None:
        chk.holds("dgamma, dbeta (no affine part)", out["gamma"] is None and out["beta"] is None,
                  f"are {type(out['gamma']).__name__}, {type(out['beta']).__name__}, but should be None without "
                  "the affine part")
        return dx, None, None
    F = x.shape[-1]
    return dx, chk.array("dgamma", out["gamma"], (F,)), chk.array("dbeta", out["beta"], (F,))


def missing_term_dx(problem):
    """dx without the xhat mean(g xhat) term: (1/sigma)(g - mean(g)), the classic backward bug."""
    x = np.asarray(problem["x"], np.float64)
    g, _ = oracle.affine_or_identity(_gb(problem)[0], None, x.shape[-1])
    gd = g * np.asarray(problem["dy"], np.float64)
    mu = x.mean(axis=-1, keepdims=True)
    s = np.sqrt(((x - mu) ** 2).mean(axis=-1, keepdims=True) + problem["eps"])
    return (gd - gd.mean(axis=-1, keepdims=True)) / s


@prop("ln.vjp", title="layer-norm gradients: dx = (1/sigma)(g - mean g - xhat mean(g xhat)), dgamma, dbeta",
      capabilities=("layernorm_vjp",), derivations=("ln.backward.projection", "ln.backward.gamma_beta"),
      strategy=_strategy, precisions=tbn.PRECISIONS)
def vjp(target, problem, chk):
    gamma, _ = _gb(problem)
    exp = oracle.layernorm_vjp(problem["x"], *_gb(problem), problem["eps"], problem["dy"])
    t = vjp_tol(problem["x"], gamma, problem["eps"], problem["dy"], tol.precision(target))
    try:
        dx, dg, db = _vjp(target, chk, problem)
        if gamma is not None:
            chk.close("dbeta", db, exp["beta"], t["beta"])
            chk.close("dgamma", dg, exp["gamma"], t["gamma"])
        chk.close(f"dx (eps={problem['eps']})", dx, exp["x"], t["x"])
    except PropertyFailure as exc:
        bug = None
        if "dx" in locals() and diagnose.within(dx, missing_term_dx(problem), t["x"]):
            bug = ("dx lacks the term -xhat mean(g xhat) (the derivative through the variance): it should be "
                   "(1/sigma)(g - mean(g) - xhat mean(g xhat)), g = gamma dy")
        diagnose.annotate(exc, part="backward", likely_bug=bug)
        raise


@prop("ln.grad.sum_zero", title="the input gradient of each row sums to zero",
      capabilities=("layernorm_vjp",), derivations=("ln.grad.sum_zero", "ln.invariance.shift"), strategy=_strategy,
      max_examples=50, precisions=tbn.PRECISIONS)
def sum_zero(target, problem, chk):
    try:
        dx, _, _ = _vjp(target, chk, problem)
        t = vjp_tol(problem["x"], _gb(problem)[0], problem["eps"], problem["dy"], tol.precision(target))["x"]
        F = problem["x"].shape[-1]
        s = np.asarray(dx, np.float64).reshape(-1, F).sum(axis=1)
        chk.close("sum_j dx[..., j] (per row)", s.astype(target.dtype), np.zeros_like(s),
                  tbn.column_sum_tol(oracle.rows_as_columns(dx), oracle.rows_as_columns(t)))
    except PropertyFailure as exc:
        diagnose.annotate(exc, part="backward")
        raise


# float32/float64 only: x + c is exact for x on the 2^-16 grid, |x| <= 60, |c| <= 16 only with 23 significant bits
@prop("ln.invariance.shift", title="layer norm of x + c 1 (exact in the dtype) equals layer norm of x",
      capabilities=("layernorm",), derivations=("ln.invariance.shift",), strategy=_strategy, max_examples=50)
def shift(target, problem, chk):
    x = problem["x"]
    xc = x + x.dtype.type(problem["c"])  # exact: x on a 2^-16 grid, |x| <= 60, integer |c| <= 16
    try:
        yc = _layernorm(target, chk, problem, x=xc)
        gamma, beta = _gb(problem)
        # the exact LN(x + c 1) is LN(x): compare with the oracle of x, the tolerance of the shifted input
        chk.close(f"y(x + {problem['c']} 1) vs y(x) (eps={problem['eps']})", yc,
                  oracle.layernorm(x, gamma, beta, problem["eps"]),
                  forward_tol(xc, gamma, beta, problem["eps"], tol.precision(target)))
    except PropertyFailure as exc:
        diagnose.annotate(exc, part="forward")
        raise


@prop("ln.invariance.scale", title="LN(a x) differs from LN(x) by at most the derived eps/var bound (0 at eps = 0)",
      capabilities=("layernorm",), derivations=("ln.invariance.scale",), strategy=_strategy, precisions=tbn.PRECISIONS)
def scale(target, problem, chk):
    a, x, eps = problem["a"], problem["x"], problem["eps"]
    ax = (x * x.dtype.type(a)).astype(x.dtype)  # a is a power of two: exact
    gamma, beta = _gb(problem)
    prec = tol.precision(target)
    try:
        y1 = _layernorm(target, chk, problem)
        ya = _layernorm(target, chk, problem, x=ax)
        bound = oracle.scale_gap_bound(x, gamma, eps, a) * (1 + 1e-12)
        rounding = forward_tol(x, gamma, beta, eps, prec) + forward_tol(ax, gamma, beta, eps, prec)
        gap = np.abs(np.asarray(ya, np.float64) - np.asarray(y1, np.float64))
        ok = gap <= bound + rounding
        if not np.all(ok):
            i = tuple(int(v) for v in np.argwhere(~ok)[0])
            chk.fail(f"|LN(a x) - LN(x)|{i} (a={a}, eps={eps})",
                     f"= {gap[i]:.6g}, but should be <= |gamma| |x - mu|/sigma * eps |1 - 1/a^2| / (2 sigma^2) = "
                     f"{bound[i]:.6g} plus rounding {rounding[i]:.3g}")
        used = np.maximum(gap - bound, 0.0) / np.maximum(rounding, np.finfo(float).tiny)
        chk.worst = max(chk.worst, float(np.max(used, initial=0.0)))
    except PropertyFailure as exc:
        diagnose.annotate(exc, part="forward")
        raise
