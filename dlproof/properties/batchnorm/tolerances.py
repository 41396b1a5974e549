"""The forward-error model of batch normalization: entry-wise tolerances per dtype (any of dlproof.dtypes, "tf32").

Conventions of properties/tolerances.py: u = u_target + u_float64 (`u_total`, which covers the target and the
float64 oracle together), gamma_k = k u / (1 - k u), tolerance = SAFETY (2) times the bound. Per feature,
inputs exact in the target's dtype, a column of N entries, mu and var its exact mean and biased variance,
sd = sqrt(var), S = N var, kappa = sqrt(1 + mu^2/var) the condition number of the variance (Chan, Golub &
LeVeque 1983; Higham, Accuracy and Stability, §1.9, §3.1, §3.5, problem 1.10).

The batch statistics: the algorithm is a declared convention, ``bn_variance``.

  "stable" (the default) covers every standard stable algorithm for the variance: the two-pass formula
  (sum, then sum of squared deviations; NumPy's np.var, torch's batch_norm kernel), Welford's updating
  algorithm (West 1979; torch.var / torch.var_mean on CPU) and the pairwise/blocked merging of partial
  statistics (Chan, Golub & LeVeque's pairwise updating, a GPU reduction's tree). One bound holds for all:

    mean:  |mu^ - mu| <= e_mu = gamma_{2N+2} (max|x| + 3 sd).
           Summation (then / N or * 1/N): gamma_{N+1} mean|x|. Welford's running means
           m_k = m_{k-1} + (x_k - m_{k-1})/k: a perturbation of m_{k-1} reaches m_k times (1 - 1/k) <= 1 and
           step k adds u (|m_k| + 2 |x_k - m_{k-1}|/k), so every m_k errs by at most N u max|x| + 2 u sum_k |d_k|
           with d_k = x_k - m_{k-1}; and sum_{k>=2} d_k^2 (k-1)/k = S (Welford's identity) gives, by
           Cauchy-Schwarz, sum_k |d_k| <= sqrt(2) N sd. Pairwise merging: log2 N roundings of |mu|.
    var:   |var^ - var| <= e_var = 2 e_mu^2 + gamma_{N+4} (var + e_mu^2) + 4 sqrt(L) sd e_mu,  L = max(1, log2 N).
           Two-pass: d^_i = (x_i - mu^)(1 + th_i); sum (x_i - mu^)^2 = S + N delta^2 exactly (sum (x_i - mu) = 0),
           so the mean's error enters only squared: e_mu^2 + gamma_{N+4} (var + e_mu^2) (squares, sum, / N).
           Updating and merging: the mean's error enters to first order. Welford adds d_k (x_k - m_k) to S,
           both factors err by e_mu, and sum_k |d_k| (1 + (k-1)/k) <= 2 sqrt(2) N sd, so S errs by 3 N sd e_mu
           (plus gamma_{N+3} S from the products and the running sum: sum_k d_k^2 (k-1)/k = S); a merge of
           partial statistics (n_A, mu_A), (n_B, mu_B) adds delta^2 n_A n_B / n, delta = mu_B - mu_A erring by
           2 e_mu, and sum over merges of n_A n_B / n <= sum min(n_A, n_B) <= N L, so (Cauchy-Schwarz against
           sum delta^2 n_A n_B / n <= S) S errs by 4 sqrt(N L S) e_mu = 4 sqrt(L) N sd e_mu. Divided by N, the
           term 4 sqrt(L) sd e_mu covers both; it is c(N) u kappa var with c(N) = O(N), the published bound
           of the updating algorithm (relative error ~ N kappa u; pairwise ~ log2(N) kappa u).

  "moments" is the one-pass var = mean(x^2) - mean(x)^2 (Keras 3's ops.moments on every backend, some JAX
  libraries). Its rounding error is proportional to mean(x^2) = var + mu^2, not to var: with q = mean(x^2),

    e_q = gamma_{N+2} q (squares, sum, / N);  e_m2 = 2 |mu| e_mu + e_mu^2 + u (|mu| + e_mu)^2 (mu^ squared);
    e_var = e_q + e_m2 + u (var + e_q + e_m2)  (the subtraction) -- about (N + 4) u (var + mu^2), kappa^2 times
    the stable algorithms' relative error.

  Unclamped, var^ can be negative: once e_var >= var + eps, var^ + eps can be <= 0 and sqrt gives NaN (the
  float32 batch [20.026133, 20.020374], eps = 1e-5: var = 8.3e-6, but q = 401 and u q = 2.4e-5). That is a
  finding about the algorithm, reported as such, never absorbed: where the model cannot bound the computed
  sqrt(var^ + eps) from below (w - e_w <= 0 below) the output is unbounded (tolerance inf) and a non-finite
  value there is a failure that names the cause. "moments_clamped" is the same with var^ = max(var^, 0)
  (Flax's BatchNorm): the error bound is the same (clamping at 0 <= var only moves var^ towards var) and
  sqrt(var^ + eps) >= sqrt(eps) (1 - 2u) bounds the normalization from below.

Declared arithmetic (tolerances.precision: a `tolerances.Arithmetic`): every gamma_{k+j} above whose k counts the
terms of a sum over the batch (the mean's 2N, the variance's N, the VJP's 2N and N) is evaluated as
tolerances.mixed_gamma(k, j): gamma_{k+j}(u) when the sums accumulate in storage (bit for bit the bounds above),
gamma_k(u_acc) + gamma_{j+1}(u) when they accumulate in a wider format (then one rounding to storage); the
elementwise work stays at the storage u.

The rest of the forward, for any of the three:

  w = var + eps:  e_w = e_var + u eps + u (var + eps + e_var)                   (eps rounded to the dtype, one add)
  s = sqrt(w):    e_s = e_w / (s + sqrt(max(w - e_w, 0))) + u sqrt(w + e_w);  s_lo = s - e_s (a lower bound
                  of the computed s^ while positive; "moments_clamped": at least sqrt(eps) (1 - 2u); where
                  s_lo <= 0 nothing bounds s^ from below and the tolerances are inf)
  xhat:      e_d = e_mu + u (|d| + e_mu);  e_xhat = (e_d + |d| e_s / s) / s_lo + 2 u (|d| + e_d) / s_lo
  y:         e_y = |gamma| e_xhat + gamma_3 (|gamma| (|xhat| + e_xhat) + |beta|) + gamma_3 |gamma| (|x| + |mu|) / s_lo
             (the last term covers the folded form y = x alpha + (beta - mu alpha), alpha = gamma / s, that
             torch's kernel uses: its products round at the size of |x alpha| and |mu alpha|)
  inference: the same with mu = running_mean, var = running_var exact inputs (e_mu = e_var = 0).
  running:   e_rm = m e_mu + gamma_4 (|rm| + m (|rm| + |mu|));
             e_rv = m c e_var + gamma_5 (|rv| + m (|rv| + c var)),  c = N/(N-1) (unbiased) or 1 (biased).
  VJP:       with M_i = |gamma|/s (|dy_i| + mean|dy| + |xhat_i| mean|dy xhat|) (the magnitude of every route's
             terms: the three-term formula, the explicit Jacobian, autograd through mean/var/sqrt),
             e_dx = gamma_{2N+8} M + |gamma|/s_lo (e_xhat |S|/N + |xhat| sum(|dy| e_xhat)/N) + M e_s / s_lo,
             S = sum dy xhat;  e_dgamma = gamma_{N+2} sum|dy xhat| + sum |dy| e_xhat + sum|dy xhat| e_s / s_lo;
             e_dbeta = gamma_N sum|dy|. "moments" adds the route autograd takes through
             d var / d x_i = 2 x_i / N - 2 mu / N, two terms of size |x_i|, |mu| that cancel: gamma_6 |gamma|
             (|x_i| + |mu|) mean|dy xhat| / s_lo^2.
"""
from __future__ import annotations

import numpy as np

from ..tolerances import mixed_gamma
from ..tolerances import SAFETY, UNIT_ROUNDOFF, gamma, u_acc_total, u_total


#: the formats the model holds in (the properties' precisions, batch and layer norm): not float16, whose smallest
#: normal (6.1e-5) lies above the squared deviations of the drawn near-constant columns (var ~ eps = 1e-5) while
#: the model has no underflow terms; bfloat16 keeps float32's exponent range
PRECISIONS = ("bfloat16", "float32", "float64")

#: the bn_variance conventions this model covers (dlproof/target.py declares the vocabulary)
VARIANCE = ("stable", "moments", "moments_clamped")


def _f64(*arrays):
    return [np.asarray(a, np.float64) for a in arrays]


def _check_variance(variance):
    if variance not in VARIANCE:
        raise ValueError(f"batchnorm tolerances: bn_variance={variance!r}, but should be one of {VARIANCE}")


def _normalized(x, mu, var, e_mu, e_var, eps, u, s_floor=0.0):
    """(xhat, d, s, s_lo, e_s, e_d, e_xhat) for exact x, centre mu (error e_mu), variance var (error e_var).

    ``s_floor`` is a known lower bound of the computed sqrt(var^ + eps) (clamped variances); where the model
    bounds s^ from below by nothing positive (s_lo <= 0), e_xhat is inf (module doc)."""
    d = x - mu
    w = var + eps
    e_w = e_var + u * eps + u * (w + e_var)
    s = np.sqrt(w)
    e_s = e_w / (s + np.sqrt(np.maximum(w - e_w, 0.0))) + u * np.sqrt(w + e_w)
    s_lo = np.maximum(s - e_s, s_floor)
    bounded = np.broadcast_to(s_lo > 0, np.shape(d))
    safe = np.where(s_lo > 0, s_lo, 1.0)
    e_d = e_mu + u * (np.abs(d) + e_mu)
    e_xhat = (e_d + np.abs(d) * e_s / s) / safe + 2 * u * (np.abs(d) + e_d) / safe
    e_xhat = np.where(bounded, e_xhat, np.inf)
    return d / s, d, s, np.where(s_lo > 0, s_lo, 0.0), e_s, e_d, e_xhat


def stable_mean_err(x, u, u_acc=None):
    """(C,): e_mu of the module doc, gamma_{2N+2} (max|x| + 3 sd): summation, pairwise, or Welford's running means
    (``u_acc``: the accumulation format's u, None for ``u``; the module doc)."""
    (x,) = _f64(x)
    N = x.shape[0]
    return mixed_gamma(2 * N, 2, u, u if u_acc is None else u_acc) * (np.abs(x).max(axis=0) + 3 * x.std(axis=0))


def train_stats_bound(x, u, variance: str = "stable", u_acc=None):
    """(mu, var, e_mu, e_var) per feature of the batch statistics computed by the ``bn_variance`` algorithm
    (module doc): "stable" (two-pass, Welford, pairwise) or "moments"/"moments_clamped" (mean(x^2) - mean^2);
    ``u_acc``: the accumulation format's u of the sums (None for ``u``)."""
    _check_variance(variance)
    ua = u if u_acc is None else u_acc
    (x,) = _f64(x)
    N = x.shape[0]
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).mean(axis=0)
    e_mu = stable_mean_err(x, u, ua)
    if variance == "stable":
        L = max(1.0, float(np.log2(N)))
        e_var = 2 * e_mu ** 2 + mixed_gamma(N, 4, u, ua) * (var + e_mu ** 2) + 4 * np.sqrt(L) * np.sqrt(var) * e_mu
    else:
        q = (x * x).mean(axis=0)
        e_q = mixed_gamma(N, 2, u, ua) * q
        e_m2 = 2 * np.abs(mu) * e_mu + e_mu ** 2 + u * (np.abs(mu) + e_mu) ** 2
        e_var = e_q + e_m2 + u * (var + e_q + e_m2)
    return mu, var, e_mu, e_var


def _s_floor(variance, eps, u):
    """A lower bound of the computed sqrt(var^ + eps): sqrt(eps) (1 - 2u) where the computed variance is never
    negative, else 0. The stable algorithms form var^ from non-negative rounded terms (two-pass: a sum of
    squares; Welford: M2 += (x - mean_old)(x - mean_new), two factors of one sign since mean_new lies between
    mean_old and x; pairwise: sums of such M2 plus a square term), so var^ >= 0; the clamped one-pass variance
    is >= 0 by its clamp; only the unclamped one-pass variance can come out negative."""
    return float(np.sqrt(eps)) * (1 - 2 * u) if variance in ("stable", "moments_clamped") else 0.0


def _y_bound(x, g, b, mu, xh, s_lo, e_xhat, u):
    ag = np.abs(g)
    safe = np.where(s_lo > 0, s_lo, 1.0)
    bound = ag * e_xhat + gamma(3, u) * (ag * (np.abs(xh) + e_xhat) + np.abs(b)) + gamma(3, u) * ag * (np.abs(x) + np.abs(mu)) / safe
    return np.where(np.isfinite(e_xhat), bound, np.inf)


def forward_tol(x, gamma_, beta, running_mean, running_var, training, momentum, eps, dtype, convention="unbiased",
                variance="stable"):
    """Entry-wise tolerances (tol_y (N, C), tol_rm (C,), tol_rv (C,)) of batchnorm in ``dtype`` ("float32",
    "float64" or "tf32"; see tolerances.precision), the batch variance by the ``variance`` algorithm
    (bn_variance). In inference the running statistics must come back exactly. tol_y is inf in a column whose
    computed normalization the model cannot bound from below (`unbounded_columns`)."""
    u = u_total(dtype)
    x, g, b, rm, rv = _f64(x, gamma_, beta, running_mean, running_var)
    eps, m = float(eps), float(momentum)
    if not training:
        xh, d, s, s_lo, e_s, e_d, e_x = _normalized(x, rm, rv, 0.0, 0.0, eps, u)
        return SAFETY * _y_bound(x, g, b, rm, xh, s_lo, e_x, u), np.zeros_like(rm), np.zeros_like(rv)
    mu, var, e_mu, e_var = train_stats_bound(x, u, variance, u_acc_total(dtype))
    xh, d, s, s_lo, e_s, e_d, e_x = _normalized(x, mu, var, e_mu, e_var, eps, u, _s_floor(variance, eps, u))
    N = x.shape[0]
    c = N / (N - 1) if convention == "unbiased" else 1.0
    e_rm = m * e_mu + gamma(4, u) * (np.abs(rm) + m * (np.abs(rm) + np.abs(mu)))
    e_rv = m * c * e_var + gamma(5, u) * (np.abs(rv) + m * (np.abs(rv) + c * var))
    return SAFETY * _y_bound(x, g, b, mu, xh, s_lo, e_x, u), SAFETY * e_rm, SAFETY * e_rv


def unbounded_columns(x, eps, dtype, variance) -> np.ndarray:
    """(C,) bool: the columns where ``variance``'s model allows a computed var^ + eps <= 0 (or so near 0 that
    nothing bounds sqrt(var^ + eps) from below): an unclamped one-pass variance may give NaN there."""
    u = u_total(dtype)
    mu, var, e_mu, e_var = train_stats_bound(x, u, variance, u_acc_total(dtype))
    s_lo = _normalized(np.asarray(x, np.float64), mu, var, e_mu, e_var, float(eps), u, _s_floor(variance, eps, u))[3]
    return s_lo <= 0


def vjp_tol(x, gamma_, eps, dy, dtype, variance="stable") -> dict:
    """Entry-wise tolerances {"x" (N, C), "gamma" (C,), "beta" (C,)} of batchnorm_vjp in ``dtype``, the forward's
    batch variance by the ``variance`` algorithm (bn_variance)."""
    u, ua = u_total(dtype), u_acc_total(dtype)
    x, g, dy = _f64(x, gamma_, dy)
    N = x.shape[0]
    eps = float(eps)
    mu, var, e_mu, e_var = train_stats_bound(x, u, variance, ua)
    xh, d, s, s_lo, e_s, e_d, e_x = _normalized(x, mu, var, e_mu, e_var, eps, u, _s_floor(variance, eps, u))
    bounded = s_lo > 0
    safe = np.where(bounded, s_lo, 1.0)
    ag, ady = np.abs(g), np.abs(dy)
    e_x = np.where(np.isfinite(e_x), e_x, 0.0)  # the unbounded columns are inf below
    S = (dy * xh).sum(axis=0)
    M = ag / s * (ady + ady.mean(axis=0) + np.abs(xh) * np.abs(dy * xh).mean(axis=0))
    e_dx = (mixed_gamma(2 * N, 8, u, ua) * M + ag / safe * (e_x * np.abs(S) / N + np.abs(xh) * (ady * e_x).sum(axis=0) / N)
            + M * e_s / safe)
    if variance != "stable":
        e_dx = e_dx + gamma(6, u) * ag * (np.abs(x) + np.abs(mu)) * np.abs(dy * xh).mean(axis=0) / safe ** 2
    adyx = np.abs(dy * xh).sum(axis=0)
    e_dg = mixed_gamma(N, 2, u, ua) * adyx + (ady * e_x).sum(axis=0) + adyx * e_s / safe
    e_db = mixed_gamma(N, 0, u, ua) * ady.sum(axis=0)
    return {"x": np.where(bounded, SAFETY * e_dx, np.inf), "gamma": np.where(bounded, SAFETY * e_dg, np.inf),
            "beta": SAFETY * e_db}


def column_sum_tol(values, tol_values) -> np.ndarray:
    """(C,): tolerance of sum_i v_i (in float64) given entry-wise tolerances of v (N, C): their sum, plus the
    float64 summation's gamma_N sum|v|."""
    v, t = _f64(values, tol_values)
    return t.sum(axis=0) + SAFETY * gamma(v.shape[0], UNIT_ROUNDOFF["float64"]) * np.abs(v).sum(axis=0)


def xhat_float64_err(x, eps) -> np.ndarray:
    """(N, C): the error bound of xhat computed in float64 (the oracle's), e_xhat of the module doc at u = u_64."""
    (x,) = _f64(x)
    u = UNIT_ROUNDOFF["float64"]
    mu, var, e_mu, e_var = train_stats_bound(x, u)
    return _normalized(x, mu, var, e_mu, e_var, float(eps), u)[-1]


def residual_float64_err(x, gamma_, eps, dy, expected) -> np.ndarray:
    """(C,): error bound of the float64 residual gamma/s (sum dy xhat) eps/(var + eps) (bn.grad.xhat_residual):
    the float64 xhat's error through sum dy xhat, plus 16 u_64 of the value (a few roundings)."""
    x, g, dy, e = _f64(x, gamma_, dy, expected)
    eps = float(eps)
    _, var = x.mean(axis=0), x.var(axis=0)
    s = np.sqrt(var + eps)
    ex = xhat_float64_err(x, eps)
    return np.abs(g) / s * (np.abs(dy) * ex).sum(axis=0) * eps / (var + eps) + 16 * UNIT_ROUNDOFF["float64"] * np.abs(e)


def dot_tol(values, tol_values, weights, weights_err, expected_err) -> np.ndarray:
    """(C,): tolerance of sum_i v_i w_i, formed in float64 from the target's v (entry-wise tolerance tol_v) and
    float64 weights w (error weights_err), against an expected value with error bound ``expected_err``:
    sum |w| tol_v + SAFETY (sum |v| e_w + gamma_{N+2} sum |v w| + expected_err)."""
    v, t, w, ew, ee = _f64(values, tol_values, weights, weights_err, expected_err)
    u64 = UNIT_ROUNDOFF["float64"]
    return ((np.abs(w) * t).sum(axis=0)
            + SAFETY * ((np.abs(v) * ew).sum(axis=0) + gamma(v.shape[0] + 2, u64) * np.abs(v * w).sum(axis=0) + ee))
