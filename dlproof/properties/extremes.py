"""Properties at the extremes: saturated pre-activations, zeros, subnormals, huge and tiny norms.

Cells (``extremes.{rnn,lstm,gru}_cell.saturated``): one step with |pre-activation| up to 1e4 (every gate
saturated), exact zeros, subnormals and tiny normals in x, h (and c), against the 50-digit mpmath reference
(properties.extreme_oracle) on the exact float inputs. Tolerances: the forward-error model
(properties.tolerances) with its gradual-underflow term (eta per product). A subnormal input column meets a
huge weight column (up to max/64), so its contribution is a normal number: a target that flushes subnormal
inputs to zero (DAZ) loses it and fails, unless it declares subnormals = "flush_to_zero" (XLA on CPU: flax,
optax); then the reference reads the subnormal inputs as 0 and the model allows the smallest normal number
per operation (FTZ) instead of the smallest subnormal. One that overflows or returns NaN in an activation
(e.g. e^{1e4} in float32) fails.

Clipping (``extremes.clip.norm.huge`` / ``.tiny``): the sum of squares overflows (huge) or every square
underflows to 0 (tiny) in the target's dtype while the norm N is a normal number. What is checked follows
the declared convention ``clip_norm_scaling`` (dlproof.target), exactly, never by a looser tolerance:

- "scaled" (exact math): the returned N is within gamma_{K+2} of the 50-digit norm, g' = s(N) g;
- "unscaled": N = sqrt(fl(sum g^2)), decided by the dtype whatever the summation order: inf when
  S (1 - gamma_{K+1}) > max (S the exact sum of squares), 0 when every g^2 <= eta/2 (each square rounds to
  0); the rule then runs with that N: s(inf) = 0 (g' = 0), s(0) = 1 (eps = 0) or min(1, c/eps);
- "unscaled_nan": as "unscaled", but a non-finite N makes every clipped entry NaN;
- "unscaled_product_first": as "unscaled", per scope, with g' = fl(g c) / max(N, c): fl(g c) is the
  dtype's (correctly rounded) product, which may overflow to +-inf or underflow; inf / inf is NaN.

Under the unscaled modes the norm of a group of ONE entry may also be |g| (no square taken: torch's
vector_norm), the exact norm; both readings are exact, either is accepted.

Underflow policy (float32 and float64 alike). Underflow to 0 is correct when 0 is the correctly rounded
result: the exact value is at most half the smallest subnormal (eta/2: 7.0e-46 in float32, 2.5e-324 in
float64), e.g. sigma(-1e4) = e^{-1e4}, or a long product such as prod_t f_t in the LSTM's dc_T/dc_0 whose
exact value is below eta/2. Inside a cell it is also within the declared accuracy wherever the error model
allows an absolute error (activations are accurate to ACT_ULPS ulps of 1, so sigma(-30) may be 0 in
float32). It is a bug when an intermediate underflows (or overflows) although the final result is
representable: the squares of a tiny gradient in a naive norm (a norm of 1e-25 returned as 0), a sum of
squares that overflows although the norm is 1e20, or a subnormal input flushed to zero where its product
with a weight is a normal number. Such a deviation is never absorbed into a tolerance: a library that
forms the norm directly declares clip_norm_scaling and is checked for exactly what that gives.
"""
from __future__ import annotations

import math

import numpy as np
from hypothesis import assume

from dlproof.parameters import GRU_PARAMS, LSTM_PARAMS, RNN_PARAMS

from . import extreme_oracle as xo
from . import tolerances as tol
from .assertions import call, number
from .registry import prop
from .strategies import extreme_cell_problems, extreme_gradient_lists, grads_of



def _inputs(target, problem, names):
    """The arrays as the target's arithmetic reads them: as given (subnormals = "gradual"), or with every
    subnormal read as 0 (subnormals = "flush_to_zero", DAZ); and the error model's underflow mode."""
    arrays = {k: problem[k] for k in names}
    if tol.underflow(target) != "flush_to_zero":  # softmax_flush_to_zero: no softmax in these cells
        return arrays, "gradual"
    tiny = np.finfo(np.dtype(target.dtype)).tiny
    return {k: np.where(np.abs(v) < tiny, np.zeros_like(v), v) for k, v in arrays.items()}, "flush_to_zero"


def _label(problem) -> str:
    c = f", c columns {problem['c classes']}" if "c classes" in problem.scalars else ""
    return f"pre-activation scale {problem['scale']:g}, x columns {problem['x classes']}, h columns {problem['h classes']}{c}"


# ---- cells ------------------------------------------------------------------------------------------------

@prop("extremes.rnn_cell.saturated",
      title="rnn cell at |pre-activation| up to 1e4, with zeros and subnormals in x and h, equals the 50-digit reference",
      capabilities=("rnn_cell",), derivations=("rnn.cell.forward", "act.tanh.range", "act.relu.range"),
      strategy=lambda t: extreme_cell_problems("rnn", t.dtype))
def rnn_saturated(target, problem, chk):
    act = target.convention("rnn_activation")
    out = call(target, "rnn_cell", problem["x"], problem["h"], {k: problem[k] for k in RNN_PARAMS})
    r, underflow = _inputs(target, problem, ("x", "h") + RNN_PARAMS)
    x, h, p = r["x"], r["h"], {k: r[k] for k in RNN_PARAMS}
    expected = xo.rnn_cell(x, h, p, act)
    _, t_h = tol.rnn_forward_tol(x[None], h, p, act, tol.precision(target), underflow)
    chk.close(f"rnn_cell h' ({act}; {_label(problem)})", out, expected, t_h)


@prop("extremes.lstm_cell.saturated",
      title="lstm cell at |pre-activation| up to 1e4, with zeros and subnormals in x, h and c, equals the 50-digit reference",
      capabilities=("lstm_cell",), derivations=("lstm.cell.forward", "lstm.gates.range", "act.sigmoid.range",
                                                "act.tanh.range"),
      strategy=lambda t: extreme_cell_problems("lstm", t.dtype))
def lstm_saturated(target, problem, chk):
    out = call(target, "lstm_cell", problem["x"], problem["h"], problem["c"], {k: problem[k] for k in LSTM_PARAMS})
    chk.holds("lstm_cell(x, h, c, p)", isinstance(out, tuple) and len(out) == 2,
              f"returned {type(out).__name__}, but should be a tuple (h', c')")
    r, underflow = _inputs(target, problem, ("x", "h", "c") + LSTM_PARAMS)
    x, h, c, p = r["x"], r["h"], r["c"], {k: r[k] for k in LSTM_PARAMS}
    e_h, e_c = xo.lstm_cell(x, h, c, p)
    _, (t_h, t_c) = tol.lstm_forward_tol(x[None], h, c, p, tol.precision(target), underflow)
    chk.close(f"lstm_cell c' ({_label(problem)})", out[1], e_c, t_c)
    chk.close(f"lstm_cell h' ({_label(problem)})", out[0], e_h, t_h)


@prop("extremes.gru_cell.saturated",
      title="gru cell (declared variant) at |pre-activation| up to 1e4, with zeros and subnormals in x and h, "
            "equals the 50-digit reference",
      capabilities=("gru_cell",), derivations=("gru.cell.forward.reset_after", "gru.cell.forward.reset_before",
                                               "act.sigmoid.range", "act.tanh.range"),
      strategy=lambda t: extreme_cell_problems("gru", t.dtype))
def gru_saturated(target, problem, chk):
    variant = target.convention("gru")
    out = call(target, "gru_cell", problem["x"], problem["h"], {k: problem[k] for k in GRU_PARAMS})
    r, underflow = _inputs(target, problem, ("x", "h") + GRU_PARAMS)
    x, h, p = r["x"], r["h"], {k: r[k] for k in GRU_PARAMS}
    expected = xo.gru_cell(x, h, p, variant)
    _, t_h = tol.gru_forward_tol(x[None], h, p, variant, tol.precision(target), underflow)
    chk.close(f"gru_cell h' ({variant}; {_label(problem)})", out, expected, t_h)


# ---- clipping ---------------------------------------------------------------------------------------------

def naive_norm(group, dtype: str, single: str = "squared"):
    """What sqrt(sum g^2), formed directly in ``dtype``, returns for ``group``, where the dtype decides it
    whatever the order and grouping of the sum: inf if S (1 - gamma_{K+1}) > max (no finite result can be
    that far above max), 0.0 if every g^2 <= eta/2 (each square rounds to 0), the exact norm (float) if
    S (1 + gamma_{K+1}) < max and every nonzero g^2 is normal (relative error gamma_{K+1}); else None.
    A group of ONE entry has norm |g| with no square taken at all when ``single`` = "abs" (torch's
    vector_norm does so: its result is then the exact norm)."""
    fi = np.finfo(np.dtype(dtype))
    K = sum(int(np.size(g)) for g in group)
    if K == 1 and single == "abs":
        return xo.norm(group)
    g_k = tol.gamma(K + 1, tol.unit_roundoff(dtype))
    S = xo.sum_of_squares(group)
    big = float(fi.max)
    if S * (1 - g_k) > big:
        return math.inf
    flat = np.concatenate([np.abs(np.ravel(np.asarray(g, np.float64))) for g in group])
    nz = flat[flat > 0]
    half_eta_root = math.sqrt(float(fi.smallest_subnormal)) / math.sqrt(2)  # sqrt(eta / 2), eta / 2 not a float
    if nz.size == 0 or float(np.max(nz)) <= half_eta_root * (1 - 2.0 ** -50):
        return 0.0
    if S * (1 + g_k) < big and float(np.min(nz)) >= math.sqrt(float(fi.tiny)) * (1 + 2.0 ** -50):
        return xo.norm(group)
    return None


def _raw_array(chk, quantity, value, shape, dtype):
    """ndarray of the target's dtype and ``shape`` (non-finite entries allowed: checked against the rule)."""
    if not isinstance(value, np.ndarray):
        chk.fail(quantity, f"returned {type(value).__name__}, but should be numpy.ndarray of shape {shape}")
    if value.shape != tuple(shape):
        chk.fail(quantity, f"shape={value.shape}, but should be {tuple(shape)}")
    if value.dtype != np.dtype(dtype):
        chk.fail(quantity, f"dtype={value.dtype}, but should be {dtype} (the target's declared dtype)")
    return value


def _within(actual, expected, t) -> np.ndarray:
    """Entry-wise: finite expected within ``t`` (and actual finite); NaN expected: NaN; +-inf: the same inf."""
    a = actual.astype(np.float64)
    finite = np.isfinite(expected)
    e0 = np.where(finite, expected, 0.0)
    with np.errstate(invalid="ignore"):
        close = np.isfinite(a) & (np.abs(a - e0) <= t)
    return np.where(finite, close, np.where(np.isnan(expected), np.isnan(a), a == expected))


def _match(chk, quantity, actual, expected, t):
    finite = np.isfinite(expected)
    if finite.all() and np.all(np.isfinite(actual)):
        chk.close(quantity, actual, expected, t)
        return
    bad = ~_within(actual, expected, t)
    if bad.any():
        i = tuple(int(j) for j in np.argwhere(bad)[0])
        chk.fail(quantity, f"entry {i} = {number(actual[i])}, but should be {number(expected[i])}"
                           + (f" within {t[i]:.3g}" if finite[i] else "") + f"; {int(bad.sum())} of {bad.size} entries differ")


MODES = ("scaled", "unscaled", "unscaled_nan", "unscaled_product_first")


def _predict(mode, grads, c, eps, scope, dtype, prec, underflow="gradual", single="squared"):
    """(expected clipped list, tolerances) under ``mode`` (N per group as the mode forms it, a one-entry group
    as ``single`` says, see `naive_norm`); None if the dtype does not decide N. ``underflow``: the target's
    subnormals convention ("flush_to_zero": a result or an input below the smallest normal may be 0)."""
    K = sum(g.size for g in grads)
    groups = [[i] for i in range(len(grads))] if scope == "per_tensor" else [list(range(len(grads)))]
    expected, tols = [None] * len(grads), [None] * len(grads)
    for grp in groups:
        sub = [grads[i] for i in grp]
        N = xo.norm(sub) if mode == "scaled" else naive_norm(sub, dtype, single)
        if N is None:
            return None
        for i in grp:
            g = grads[i]
            if mode == "unscaled_nan" and not math.isfinite(N):
                e, t = np.full(g.shape, np.nan), np.zeros(g.shape)
            elif mode == "unscaled_product_first":
                with np.errstate(over="ignore", under="ignore"):
                    prod = (g * np.asarray(c, g.dtype)).astype(np.float64)  # the dtype's rounded g c
                with np.errstate(invalid="ignore"):
                    e = prod / max(N + eps, c)
                t = tol.clip_result_tol(np.where(np.isfinite(e), e, 0.0), K, prec, underflow)
            else:
                e = xo.clipped([g], [xo.scale(N, c, eps)])[0]
                t = tol.clip_result_tol(e, K, prec, underflow)
            expected[i], tols[i] = e, t
    return expected, tols


def _readings(mode, grads, scope) -> tuple:
    """How a one-entry group's norm may be read: squared (sqrt(g^2): inf or 0 at the extremes) or, for the
    unscaled modes, also |g| (no square: torch's vector_norm); "abs" only where some group has one entry."""
    sizes = [g.size for g in grads] if scope == "per_tensor" else [sum(g.size for g in grads)]
    return ("squared", "abs") if mode != "scaled" and 1 in sizes else ("squared",)


def _matches(clipped, pred) -> bool:
    return pred is not None and all(_within(a, e, t).all() for a, e, t in zip(clipped, *pred))


def _check_clip(target, problem, chk):
    dtype, prec = target.dtype, tol.precision(target)
    eps, scope = target.convention("clip_eps"), target.convention("clip_scope")
    mode = target.convention("clip_norm_scaling")
    underflow = tol.underflow(target)
    grads, c = grads_of(problem), problem["max_norm"]
    K = sum(g.size for g in grads)
    out = call(target, "clip_grad_norm", [g.copy() for g in grads], c)
    chk.holds("clip_grad_norm(grads, max_norm)", isinstance(out, tuple) and len(out) == 2,
              f"returned {type(out).__name__}, but should be a tuple (clipped list, pre-clip norm or None)")
    clipped, norm = out
    chk.holds("clipped", isinstance(clipped, (list, tuple)) and len(clipped) == len(grads),
              f"returned {type(clipped).__name__}, but should be a list of {len(grads)} arrays")
    clipped = [_raw_array(chk, f"clipped[{i}]", a, g.shape, dtype) for i, (a, g) in enumerate(zip(clipped, grads))]
    regime = f"{problem['regime']} gradients, max_norm = {c!r} ({problem['max_norm regime']})"
    preds = {r: _predict(mode, grads, c, eps, scope, dtype, prec, underflow, r) for r in _readings(mode, grads, scope)}
    assume(preds["squared"] is not None)  # the strategies draw only cases the dtype decides
    if not any(_matches(clipped, p) for p in preds.values()):
        fits = [other for other in MODES if other != mode
                and any(_matches(clipped, _predict(other, grads, c, eps, scope, dtype, prec, underflow, r))
                        for r in _readings(other, grads, scope))]
        for other in fits:  # named only if it also explains the target on every probe (never a circle)
            if _fits_probes(target, other, eps, scope, dtype, prec, underflow):
                chk.fail("clipped", f"matches clip_norm_scaling={other!r}, but should match the declared "
                                    f"clip_norm_scaling={mode!r} ({regime}): a convention mismatch (declare the one "
                                    "it implements)",
                         likely_bug=f"another clip_norm_scaling than declared: declare clip_norm_scaling={other!r}")
        chk.fail("clipped", f"matches no value of clip_norm_scaling ({regime}){_observed(grads, clipped, c, eps, scope, dtype, prec, underflow)}"
                            f"{f' (it matches {fits} on this example, but not on the probes of both ends of the range)' if fits else ''}"
                            f", but should match the declared clip_norm_scaling={mode!r}: no declared convention "
                            "describes this rule at the ends of the range")
        expected, tols = preds["squared"]
        for i, (a, e, t) in enumerate(zip(clipped, expected, tols)):
            _match(chk, f"clipped[{i}] (clip_norm_scaling={mode!r}, eps={eps}, scope={scope!r}; {regime})", a, e, t)
    else:  # record the worst ratio of the matching reading
        expected, tols = next(p for p in preds.values() if _matches(clipped, p))
        for i, (a, e, t) in enumerate(zip(clipped, expected, tols)):
            _match(chk, f"clipped[{i}]", a, e, t)

    if norm is None:  # the protocol lets a target return no pre-clip norm
        return
    try:
        got = float(norm)
    except (TypeError, ValueError):
        chk.fail("returned pre-clip global norm", f"returned {norm!r}, but should be a number")
    N_exact = xo.norm(grads)
    N_global = N_exact if mode == "scaled" else naive_norm(grads, dtype)
    if K == 1 and mode != "scaled" and math.isfinite(got) and got != 0.0:
        N_global = N_exact  # one entry read as |g| (see naive_norm)
    assume(N_global is not None)
    if math.isinf(N_global) or N_global == 0.0:
        chk.holds("returned pre-clip global norm", got == N_global,
                  f"= {got!r} ({regime}), but should be {N_global!r}: sqrt of the sum of squares formed in "
                  f"{dtype} (clip_norm_scaling={mode!r}; the exact norm is {N_exact!r})")
        return
    chk.holds("returned pre-clip global norm", math.isfinite(got) and got != 0.0,
              f"= {got!r} ({regime}), but should be {N_exact!r} (clip_norm_scaling={mode!r}): the sum of squares "
              "left the dtype's range; a library that forms it directly declares clip_norm_scaling='unscaled'")
    chk.scalar_close(f"returned pre-clip global norm ({regime})", got, N_exact, tol.norm_tol(N_exact, K, prec))


def _probe_cases(dtype: str) -> list:
    """Fixed clip cases at both ends of ``dtype``'s range, (grads, max_norm) in the dtype: sums of squares that
    overflow (max_norm above and below the norm) and squares that all underflow (the same two)."""
    fi = np.finfo(np.dtype(dtype))
    big = float(np.sqrt(fi.max)) * 4
    tiny = float(np.sqrt(fi.smallest_subnormal)) / 4
    cases = []
    for v in (big, tiny):
        grads = [np.array([v, -v / 2], dtype), np.array([v / 3], dtype)]
        cases += [(grads, v / 8), (grads, v * 16 if v == tiny else v / 64)]
    return cases


def _fits_probes(target, mode, eps, scope, dtype, prec, underflow) -> bool:
    """Whether ``mode`` predicts the target's clipped output on every probe case it decides."""
    for grads, c in _probe_cases(dtype):
        try:
            out = call(target, "clip_grad_norm", [g.copy() for g in grads], c)
            clipped = [np.asarray(a) for a in out[0]]
        except Exception:  # noqa: BLE001 - a probe that cannot be read confirms nothing
            return False
        preds = [_predict(mode, grads, c, eps, scope, dtype, prec, underflow, r) for r in _readings(mode, grads, scope)]
        preds = [p for p in preds if p is not None]
        if preds and not any(_matches(clipped, p) for p in preds):
            return False
    return True


def _observed(grads, clipped, c, eps, scope, dtype, prec, underflow) -> str:
    """': the target returned g' = s g with s = ... where each mode gives ...' at the first nonzero entry."""
    for i, (g, a) in enumerate(zip(grads, clipped)):
        nz = np.flatnonzero(np.ravel(g))
        if nz.size:
            j = int(nz[0])
            s_obs = float(np.ravel(a)[j]) / float(np.ravel(g)[j])
            rules = []
            for m in MODES:
                p = _predict(m, grads, c, eps, scope, dtype, prec, underflow)
                rules.append(f"{m} {float(np.ravel(p[0][i])[j]) / float(np.ravel(g)[j]):.6g}" if p else f"{m} undecided")
            return (f": at clipped[{i}] entry {j} it returned g' = s g with s = {s_obs:.6g} (each rule's s: "
                    + ", ".join(rules) + ")")
    return ""


@prop("extremes.clip.norm.huge",
      title="clip_grad_norm where the sum of squares overflows the dtype but the norm is finite: the declared "
            "clip_norm_scaling, exactly (scaled: the 50-digit norm and rule)",
      capabilities=("clip_grad_norm",), derivations=("clip.global_norm.concatenation", "clip.norm.rule",
                                                     "clip.norm.eps.rule", "clip.per_tensor.norm"),
      strategy=lambda t: extreme_gradient_lists(t.dtype, "huge"))
def clip_huge(target, problem, chk):
    _check_clip(target, problem, chk)


@prop("extremes.clip.norm.tiny",
      title="clip_grad_norm where every square underflows the dtype but the norm is a normal number: the declared "
            "clip_norm_scaling, exactly (scaled: the 50-digit norm and rule)",
      capabilities=("clip_grad_norm",), derivations=("clip.global_norm.concatenation", "clip.norm.rule",
                                                     "clip.norm.eps.rule", "clip.per_tensor.norm"),
      strategy=lambda t: extreme_gradient_lists(t.dtype, "tiny"))
def clip_tiny(target, problem, chk):
    _check_clip(target, problem, chk)
