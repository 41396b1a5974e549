"""False-alarm-controlled bounds for the statistical dropout properties.

A statistical check compares a sum over the mask with its derived expectation and fails only outside a threshold
whose false-alarm probability (a correct implementation failing the check) is at most ``ALPHA`` = 1e-10. The
mask is drawn from the target's seed, independently of the inputs (the strategies draw x from a stream of their
own), so given x every term is an independent two-point variable.

Bounds (derivations dropout.concentration.*; the inequalities are cited, their algebra is proved):

- Hoeffding (1963, JASA 58, Theorem 2): independent a_i <= Z_i <= b_i, S = sum Z_i:
  P(|S - E S| >= t) <= 2 exp(-2 t^2 / sum (b_i - a_i)^2); t = sqrt(ln(2/alpha) sum (b_i - a_i)^2 / 2) gives
  exactly alpha.
- Bernstein (Boucheron, Lugosi & Massart 2013, Theorem 2.10): |Z_i - E Z_i| <= b, V = sum Var Z_i:
  P(|S - E S| >= t) <= 2 exp(-t^2 / (2 (V + b t / 3))); t = L b/3 + sqrt((L b/3)^2 + 2 V L), L = ln(2/alpha),
  gives exactly alpha. Both thresholds are valid, so the smaller one is used (its own bound <= alpha).
- The kept count K ~ Binomial(n, q) (Hoeffding 1963, Theorem 1, (2.1)): P(K >= n a) <= exp(-n D(a||q)) for
  a >= q, and the mirror image below; K is accepted on the integer interval where both tail bounds exceed
  alpha/2 (D is monotone on each side of q, so it is an interval, found by bisection): outside, at most alpha.

A target's keep probability may differ from q = 1 - p by its own rounding (a float32 threshold: ~2^-24):
``KEEP_SLACK`` = 1e-6 is allowed for 0 < q < 1 (the tails use q +- delta, a sum's expectation may move by
delta sum |a_i - c_i|). q = 1 (p = 0) has no slack: every entry must be kept.

The suite's false-alarm rate, by the union bound over every statistical check of a full run (`run_bound`):
checks per example ``CHECKS`` (keep_rate 1, mean 2, variance 1, seed.deterministic 1, and the kept count of the
inter-layer dropout of each stacked kind 3: 8), examples per property at most ``EXAMPLE_MARGIN`` = 2 times the
profile's count (ci 100, thorough 1000, a 20-seed sweep 20 x 100), at most ``MAX_TARGETS`` = 16 targets: the
bound is 8 x 2 x E x 16 x 1e-10, i.e. ci 2.56e-6, thorough 2.56e-5, sweep 5.12e-5, each < ``RUN_BUDGET`` = 1e-4 (tests/dropout/test_dropout.py checks the arithmetic exactly).
In the derandomized ci profile the examples are fixed, so "probability" is over the seeds a correct
implementation could map to masks: a fixed example either always passes or always fails.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

ALPHA = 1e-10
KEEP_SLACK = 1e-6
CHECKS = {"dropout.keep_rate": 1, "dropout.mean": 2, "dropout.variance": 1, "dropout.seed.deterministic": 1,
          "stack.rnn.dropout.between_layers": 1, "stack.lstm.dropout.between_layers": 1,
          "stack.gru.dropout.between_layers": 1}
EXAMPLE_MARGIN = 2
MAX_TARGETS = 16
PROFILE_EXAMPLES = {"ci": 100, "thorough": 1000, "sweep": 20 * 100}
RUN_BUDGET = Fraction(1, 10 ** 4)


def run_bound(profile: str) -> Fraction:
    """Union bound on the probability that any statistical check of a full run fails on correct targets
    (exact arithmetic, with ALPHA read as the exact decimal 1e-10)."""
    if profile not in PROFILE_EXAMPLES:
        raise ValueError(f"run_bound: profile={profile!r}, but should be one of {sorted(PROFILE_EXAMPLES)}")
    per_example = sum(CHECKS.values())
    return per_example * EXAMPLE_MARGIN * PROFILE_EXAMPLES[profile] * MAX_TARGETS * Fraction(str(ALPHA))


def log_term(alpha: float = ALPHA) -> float:
    """L = ln(2/alpha)."""
    if not 0 < alpha < 2:
        raise ValueError(f"log_term: alpha={alpha!r}, but should be in (0, 2)")
    return math.log(2.0 / alpha)


def hoeffding_threshold(sum_sq_ranges: float, alpha: float = ALPHA) -> float:
    """t with 2 exp(-2 t^2 / sum (b_i - a_i)^2) = alpha. [dropout.concentration.hoeffding]"""
    return math.sqrt(log_term(alpha) * float(sum_sq_ranges) / 2.0)


def bernstein_threshold(variance_sum: float, b: float, alpha: float = ALPHA) -> float:
    """t with 2 exp(-t^2 / (2 (V + b t/3))) = alpha. [dropout.concentration.bernstein]"""
    L = log_term(alpha)
    h = L * float(b) / 3.0
    return h + math.sqrt(h * h + 2.0 * float(variance_sum) * L)


def _keep_range(q: float, delta: float):
    """[q - delta, q + delta] clipped to [0, 1]; q = 1 (p = 0) exactly: no slack."""
    if q >= 1.0:
        return 1.0, 1.0
    return max(0.0, q - delta), min(1.0, q + delta)


def two_point_threshold(kept, dropped, q: float, alpha: float = ALPHA, delta: float = KEEP_SLACK) -> dict:
    """Threshold on |sum Z_i - sum E Z_i| for independent Z_i = kept_i with probability q, else dropped_i.

    E Z_i uses the nominal q; the keep probability may be any q' within ``delta`` of it (0 < q < 1), which
    moves the expectation by at most delta |kept_i - dropped_i| each. [dropout.two_point.moments]
    Returns {"threshold", "hoeffding", "bernstein", "bias", "mean"}."""
    a, c = np.asarray(kept, np.float64).ravel(), np.asarray(dropped, np.float64).ravel()
    r = np.abs(a - c)
    lo, hi = _keep_range(q, delta)
    v_star = 0.25 if lo <= 0.5 <= hi else max(lo * (1 - lo), hi * (1 - hi))  # max q'(1 - q') on [lo, hi]
    dev = min(1.0, max(hi, 1.0 - lo))  # |Z - E Z| <= max(q', 1 - q') |a - c|
    sum_sq = float(np.sum(r * r))
    t_h = hoeffding_threshold(sum_sq, alpha)
    t_b = bernstein_threshold(v_star * sum_sq, dev * float(r.max(initial=0.0)), alpha)
    bias = max(q - lo, hi - q) * float(np.sum(r))
    mean = float(np.sum(q * a + (1.0 - q) * c))
    return {"threshold": min(t_h, t_b) + bias, "hoeffding": t_h, "bernstein": t_b, "bias": bias, "mean": mean}


def kl_bernoulli(a: float, q: float) -> float:
    """D(a || q) = a ln(a/q) + (1 - a) ln((1 - a)/(1 - q)), with 0 ln 0 = 0 (inf where a > 0 = q or a < 1 = q)."""
    def term(u, v):
        if u == 0.0:
            return 0.0
        return math.inf if v == 0.0 else u * math.log(u / v)

    return term(a, q) + term(1.0 - a, 1.0 - q)


def _tail_ok(n: int, k: int, q: float, L: float) -> bool:
    """exp(-n D(k/n || q)) > alpha/2, i.e. n D < L."""
    return n * kl_bernoulli(k / n, q) < L


def binomial_interval(n: int, q: float, alpha: float = ALPHA, delta: float = KEEP_SLACK) -> tuple:
    """(lo, hi): K ~ Binomial(n, q') with |q' - q| <= delta lies outside [lo, hi] with probability <= alpha.

    hi is the largest k with k <= n q_hi or exp(-n D(k/n || q_hi)) > alpha/2 (the predicate holds up to hi
    and fails after it, D increasing above q_hi); P(K > hi) <= exp(-n D((hi+1)/n || q_hi)) <= alpha/2. lo
    mirrors it with q_lo. [dropout.concentration.binomial_kl, dropout.count.binomial]"""
    if n < 0 or not 0.0 < q <= 1.0:
        raise ValueError(f"binomial_interval: n={n!r}, q={q!r}, but should be n >= 0, 0 < q <= 1")
    if n == 0:
        return 0, 0
    L = log_term(alpha)
    q_lo, q_hi = _keep_range(q, delta)

    def up(k):  # True up to hi
        return k <= n * q_hi or _tail_ok(n, k, q_hi, L)

    def down(k):  # True from lo on
        return k >= n * q_lo or _tail_ok(n, k, q_lo, L)

    a, b = min(n, math.floor(n * q_hi)), n  # up(a) holds
    while a < b:
        mid = (a + b + 1) // 2
        a, b = (mid, b) if up(mid) else (a, mid - 1)
    hi = a
    a, b = 0, max(0, math.ceil(n * q_lo))  # down(b) holds
    while a < b:
        mid = (a + b) // 2
        a, b = (a, mid) if down(mid) else (mid + 1, b)
    return a, hi
