"""Properties shared by every recurrent cell (RNN, LSTM, GRU), registered once per `SeqModel`:

- ``{kind}.cell.forward``: one step vs the oracle;
- ``{kind}.forward``: the sequence (hs and final states) vs the oracle, and h_T = hs[-1];
- ``{kind}.vjp``: every gradient of L = <d_hs, hs> + <d_hT, h_T> (+ <d_cT, c_T>) vs the oracle;
- ``{kind}.vjp.oracle_fd``: the oracle's own gradient vs float64 central differences (Richardson-checked);
- ``{kind}.vjp.fd_own_dtype``: the target's gradient vs its own forward, differences in its own dtype.

Tolerances come from properties.tolerances; no property loosens them.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
from hypothesis import assume

from dlproof.dtypes import DTYPES

from . import finite_difference as fd
from . import tolerances as tol
from . import diagnose
from .assertions import PropertyFailure, TargetRaised, call
from .registry import prop


def _feed(h, a) -> None:
    """Hash an argument: arrays by dtype, shape, strides and bytes; dicts, tuples and lists item by item."""
    if isinstance(a, np.ndarray):
        h.update(repr((a.dtype.str, a.shape, a.strides)).encode())
        h.update(a.tobytes())
    elif isinstance(a, dict):
        h.update(b"{")
        for k, v in a.items():
            h.update(repr(k).encode())
            _feed(h, v)
        h.update(b"}")
    elif isinstance(a, (tuple, list)):
        h.update(b"(")
        for v in a:
            _feed(h, v)
        h.update(b")")
    elif a is None or isinstance(a, (str, int, float, bool, tol.Arithmetic)):
        h.update(repr((type(a).__name__, a)).encode())
    else:
        raise TypeError(f"Memo: cannot key an argument of type {type(a).__name__}")


def _key(args) -> bytes:
    h = hashlib.blake2b(digest_size=32)
    _feed(h, args)
    return h.digest()


def _copy(r):
    """A fresh copy of a result (nested tuples, lists, dicts of arrays), so no caller can alter the cached one."""
    if isinstance(r, np.ndarray):
        return r.copy(order="K")
    if isinstance(r, dict):
        return {k: _copy(v) for k, v in r.items()}
    if isinstance(r, (tuple, list)):
        return type(r)(_copy(v) for v in r)
    return r


class Memo:
    """Remembers the results of a pure function of arrays (an oracle, an error bound) and hands out copies.

    The float64 targets of a default run (numpy, its convention variants, torch) draw the same derandomized
    examples, and several properties share a strategy, so the same oracle and error bound would otherwise be
    recomputed for each of them. The key is a 256-bit BLAKE2 digest of every argument (each
    array's dtype, shape, strides and bytes; scalars by type and repr): a hit returns what a fresh call
    returns, bit for bit. Beyond ``size`` results the least recently used is dropped (a default run keeps
    ~13,000 results in all, ~10 MB).
    """

    size = 8192

    def __init__(self, fn):
        self.fn, self.cache, self.hits, self.misses = fn, {}, 0, 0

    def __call__(self, *args):
        key = _key(args)
        cache = self.cache
        if key in cache:
            self.hits += 1
            cache[key] = r = cache.pop(key)  # most recently used last
            return _copy(r)
        self.misses += 1
        r = self.fn(*args)
        cache[key] = _copy(r)
        if len(cache) > self.size:
            del cache[next(iter(cache))]
        return r


@dataclass(frozen=True)
class SeqModel:
    """How one cell kind meets the protocol, the oracle and the error model.

    ``convention(target)`` selects the declared variant (activation, GRU variant; None for LSTM).
    Oracle/tolerance callables take ``(xs, *states, p, conv)`` (+ cotangents for VJPs) and ``dtype``.
    """

    kind: str
    params: tuple
    states: tuple          # ("h0",) or ("h0", "c0")
    final_cots: tuple      # ("d_hT",) or ("d_hT", "d_cT")
    strategy: Callable
    convention: Callable
    oracle_forward: Callable   # -> (hs, finals tuple)
    oracle_vjp: Callable       # -> {"xs", state names..., "params"}
    forward_tol: Callable      # -> (tol_hs, finals tuple)
    vjp_tol: Callable
    derivations_forward: tuple
    derivations_vjp: tuple
    relu_kinks: Callable = None  # (problem dict) -> pre-activations, when the model has a kink

    def __post_init__(self):
        # the oracle and the error model are pure functions of their inputs: remember their results (see `Memo`)
        for name in ("oracle_forward", "oracle_vjp", "forward_tol", "vjp_tol"):
            fn = getattr(self, name)
            if not isinstance(fn, Memo):  # dataclasses.replace passes the Memo on
                object.__setattr__(self, name, Memo(fn))

    # ---- arguments --------------------------------------------------------------------------------
    def p(self, problem) -> dict:
        return {k: problem[k] for k in self.params}

    def args(self, problem) -> tuple:
        return (problem["xs"], *[problem[s] for s in self.states], self.p(problem))

    def cots(self, problem) -> tuple:
        return (problem["d_hs"], *[problem[c] for c in self.final_cots])

    def flat_names(self) -> tuple:
        return self.params + ("xs",) + self.states

    def flat(self, problem) -> np.ndarray:
        return np.concatenate([np.ravel(np.asarray(problem[k], np.float64)) for k in self.flat_names()])

    def flat_grads(self, g) -> np.ndarray:
        return np.concatenate([np.ravel(np.asarray(g["params"][k], np.float64)) for k in self.params]
                              + [np.ravel(np.asarray(g["xs"], np.float64))]
                              + [np.ravel(np.asarray(g[s], np.float64)) for s in self.states])

    def unflat(self, problem, v) -> dict:
        out, i = {}, 0
        for k in self.flat_names():
            a = problem[k]
            out[k] = v[i:i + a.size].reshape(a.shape)
            i += a.size
        return out

    def loss(self, hs, finals, problem) -> float:
        total = np.sum(np.asarray(problem["d_hs"], np.float64) * hs)
        for c, f in zip(self.final_cots, finals):
            total += np.sum(np.asarray(problem[c], np.float64) * f)
        return float(total)

    # ---- the target -------------------------------------------------------------------------------
    def run(self, target, chk, args, shapes) -> tuple:
        """Call the target's sequence capability; validate and return (hs, finals tuple)."""
        out = call(target, self.kind, *args)
        lstm = len(self.states) == 2
        form = "(hs, (h_T, c_T))" if lstm else "(hs, h_T)"
        chk.holds(f"{self.kind}(xs, ...)", isinstance(out, tuple) and len(out) == 2,
                  f"returned {type(out).__name__}, but should be a tuple {form}")
        finals = tuple(out[1]) if lstm and isinstance(out[1], (tuple, list)) else (out[1],)
        chk.holds(f"{self.kind}(xs, ...)[1]", len(finals) == len(self.states),
                  f"has {len(finals)} final states, but should be {form}")
        hs = chk.array("hs", out[0], shapes[0])
        return hs, tuple(chk.array(n, f, shapes[1]) for n, f in zip(("h_T", "c_T"), finals))

    def vjp(self, target, chk, args, cots) -> dict:
        out = call(target, f"{self.kind}_vjp", *args, *cots)
        keys = {"xs", "params", *self.states}
        chk.holds(f"{self.kind}_vjp", isinstance(out, dict) and keys <= set(out),
                  f"returned {type(out).__name__} with keys {sorted(out) if isinstance(out, dict) else None}, "
                  f"but should be a dict with keys {sorted(keys)}")
        chk.holds(f"{self.kind}_vjp['params']", isinstance(out["params"], dict) and set(self.params) <= set(out["params"]),
                  f"has keys {sorted(out['params']) if isinstance(out['params'], dict) else None}, "
                  f"but should have {list(self.params)}")
        return out


def register(model: SeqModel, *, cell_call: Callable, cell_derivations: tuple) -> None:
    """Register the five shared properties of ``model``. ``cell_call(target, chk, x, states, p)`` -> outputs tuple."""
    k = model.kind

    @prop(f"{k}.cell.forward", title=f"{k} cell output equals the oracle's one step", capabilities=(f"{k}_cell",),
          derivations=cell_derivations, strategy=lambda t: model.strategy(t, max_T=1), precisions=DTYPES)
    def cell_forward(target, problem, chk):
        conv = model.convention(target)
        x, states, p = problem["xs"][0], [problem[s] for s in model.states], model.p(problem)
        outs = None
        try:
            outs = cell_call(target, chk, x, states, p)
            _, finals = model.oracle_forward(problem["xs"][:1], *states, p, conv)
            _, tols = model.forward_tol(problem["xs"][:1], *states, p, conv, tol.precision(target))
            for name, a, e, t in zip(("h'", "c'"), outs, finals, tols):
                chk.close(f"{k}_cell(...) {name}", a, e, t)
        except PropertyFailure as exc:
            pat = _forward_pattern(model, (problem["xs"][:1], *states, p), conv, None if outs is None else (None, tuple(outs)),
                                   target)
            diagnose.annotate(exc, part="forward", likely_bug=pat and diagnose.sentence(pat, conv))
            raise

    @prop(f"{k}.forward", title=f"{k} sequence forward equals the unrolled composition of cells",
          capabilities=(k,), derivations=model.derivations_forward, strategy=model.strategy, precisions=DTYPES)
    def forward(target, problem, chk):
        conv = model.convention(target)
        args = model.args(problem)
        hs = finals = None
        try:
            hs, finals = model.run(target, chk, args, (problem["d_hs"].shape, problem["d_hT"].shape))
            ehs, efinals = model.oracle_forward(*args, conv)
            t_hs, t_finals = model.forward_tol(*args, conv, tol.precision(target))
            chk.close("hs", hs, ehs, t_hs)
            for name, a, e, t in zip(("h_T", "c_T"), finals, efinals, t_finals):
                chk.close(name, a, e, t)
            chk.holds("h_T", np.array_equal(finals[0], hs[-1]), "differs from hs[-1], but should be the last state")
        except PropertyFailure as exc:
            pat = _forward_pattern(model, args, conv, None if hs is None else (hs, finals), target)
            if pat is not None and pat.message:  # the pattern's own words (a convention mismatch, a swap)
                exc.args = (f"{pat.quantity}: {diagnose.message(pat, conv)} [{target.name} :: {k}.forward]",)
            diagnose.annotate(exc, part="forward", likely_bug=pat and diagnose.sentence(pat, conv))
            raise

    @prop(f"{k}.vjp", title=f"{k} BPTT gradients equal the proved backward recursion", capabilities=(f"{k}_vjp",),
          derivations=model.derivations_vjp, strategy=model.strategy, precisions=DTYPES)
    def vjp(target, problem, chk):
        conv = model.convention(target)
        args, cots = model.args(problem), model.cots(problem)
        out = None
        try:
            out = model.vjp(target, chk, args, cots)
            exp = model.oracle_vjp(*args, *cots, conv)
            t = model.vjp_tol(*args, *cots, conv, tol.precision(target))
            for name in ("xs",) + model.states:
                chk.close(f"d {name}", out[name], exp[name], t[name])
            for name in model.params:
                chk.close(f"d {name}", out["params"][name], exp["params"][name], t["params"][name])
        except PropertyFailure as exc:
            _blame_vjp(model, target, chk, problem, conv, out, exc)
            raise

    @prop(f"{k}.vjp.oracle_fd", title=f"the {k} oracle's gradient agrees with float64 central differences",
          capabilities=(), derivations=model.derivations_vjp[:1],
          strategy=lambda t: model.strategy(t, dtype="float64"),
          applies=lambda t: t.provides(k) or t.provides(f"{k}_vjp"), shared=model.convention, precisions=DTYPES)
    def oracle_fd(target, problem, chk):
        """Validates the oracle itself (target-independent)."""
        conv = model.convention(target)
        theta = model.flat(problem)
        v = problem["direction"] / np.linalg.norm(problem["direction"])
        exact = float(model.flat_grads(model.oracle_vjp(*model.args(problem), *model.cots(problem), conv)) @ v)

        def L(th):
            qq = model.unflat(problem, th)
            if model.relu_kinks is not None and conv == "relu":
                assume(np.min(np.abs(model.relu_kinks(qq))) > 1e-3)  # stay away from the kink
            return model.loss(*model.oracle_forward(*model.args(qq), conv), problem)

        # rounding: each evaluation of L is within E_L (the float64 error model summed against |cotangents|)
        t_hs, t_finals = model.forward_tol(*model.args(problem), conv, "float64")
        hs, finals = model.oracle_forward(*model.args(problem), conv)
        E_L = model.loss(t_hs, t_finals, _abs_cots(model, problem)) + 4 * tol.UNIT_ROUNDOFF["float64"] * model.loss(
            np.abs(hs), [np.abs(f) for f in finals], _abs_cots(model, problem))
        fd.check_oracle(chk, exact, L, theta, v, E_L)

    @prop(f"{k}.vjp.fd_own_dtype", title=f"the {k} target's gradient agrees with its own forward, in its own dtype",
          capabilities=(k, f"{k}_vjp"), derivations=model.derivations_vjp[:1], strategy=model.strategy)
    def fd_own_dtype(target, problem, chk):
        """(L(θ+) - L(θ-)) of the TARGET's forward vs <g, θ+ - θ-> with the target's gradient g, θ± rounded to
        its dtype; every term of the budget (truncation, curvature, forward rounding) comes from the target's
        own forward (finite_difference.check_own), so a wrong forward with its matching backward passes here."""
        conv = model.convention(target)
        dt = np.dtype(target.dtype)
        prec = tol.precision(target)
        theta = model.flat(problem)
        v = np.asarray(problem["direction"], np.float64)
        v = v / np.linalg.norm(v)
        pts = fd.points(theta, v, dt)
        if model.relu_kinks is not None and conv == "relu":
            h = fd.step_size(dt, theta)
            # no pre-activation within 10 h of the kink at the points, and none changes sign along the segment
            # (17 float64 samples): the truncation estimate assumes one smooth piece
            assume(min(np.min(np.abs(model.relu_kinks(model.unflat(problem, r)))) for r in pts.values()) > 10 * h)
            signs = {np.signbit(model.relu_kinks(model.unflat(problem, theta + s * h * v))).tobytes()
                     for s in np.linspace(-4, 4, 33)}
            assume(len(signs) == 1)
        shapes = (problem["d_hs"].shape, problem["d_hT"].shape)
        abs_cots = _abs_cots(model, problem)
        u = tol.unit_roundoff(prec)

        def loss(point):
            r = model.unflat(problem, point)
            rr = {kk: np.asarray(vv, dt) for kk, vv in r.items()}
            hs, finals = model.run(target, chk, model.args(rr), shapes)
            hs, finals = hs.astype(np.float64), [f.astype(np.float64) for f in finals]
            t_hs, t_finals = model.forward_tol(*model.args(r), conv, prec)
            if len(t_finals) > 1:  # the target's own order of the final states is not assumed
                t_finals = [np.maximum.reduce(list(t_finals))] * len(t_finals)
            err = model.loss(t_hs, t_finals, abs_cots) + 4 * u * model.loss(np.abs(hs), [np.abs(f) for f in finals],
                                                                               abs_cots)
            return model.loss(hs, finals, problem), err

        g_t = model.flat_grads(model.vjp(target, chk, model.args(problem), model.cots(problem)))
        base = {kk: np.asarray(problem[kk], np.float64) for kk in model.flat_names()}
        cots64 = [np.asarray(c, np.float64) for c in model.cots(problem)]
        t_g = model.flat_grads(model.vjp_tol(*model.args(base), *cots64, conv, prec))
        fd.check_own(chk, "L(θ+) - L(θ-) vs <grad, θ+ - θ->", theta, v, dt, pts, loss, g_t, t_g, prec)


def _forward_pattern(model, args, conv, observed, target):
    """The catalogued bug (properties.diagnose) that the target's forward output ``observed`` matches, or None."""
    if observed is None:
        return None
    try:
        correct = model.oracle_forward(*args, conv)
        tols = model.forward_tol(*args, conv, tol.precision(target))
        return diagnose.forward_match(model.kind, observed, args, conv, correct, tols)
    except Exception:  # noqa: BLE001 - a diagnosis never replaces the verdict it annotates
        return None


def _blame_vjp(model, target, chk, problem, conv, out, exc) -> None:
    """Annotate a failing ``{k}.vjp``: part "both" when the target's forward is also wrong on this example (then
    the likely bug is the forward's), else part "backward" (and a catalogued backward-only bug, if one fits)."""
    k = model.kind
    args, cots = model.args(problem), model.cots(problem)
    observed = None
    if target.provides(k):
        try:
            observed = model.run(target, chk, args, (problem["d_hs"].shape, problem["d_hT"].shape))
        except (PropertyFailure, TargetRaised):
            observed = None
    forward_wrong = False
    if observed is not None:
        ehs, efinals = model.oracle_forward(*args, conv)
        t_hs, t_finals = model.forward_tol(*args, conv, tol.precision(target))
        forward_wrong = not (diagnose.within(observed[0], ehs, t_hs)
                             and all(diagnose.within(a, e, t) for a, e, t in zip(observed[1], efinals, t_finals)))
    if forward_wrong:
        pat = _forward_pattern(model, args, conv, observed, target)
        diagnose.annotate(exc, part="both", likely_bug=pat and diagnose.sentence(pat, conv),
                          extra=diagnose.forward_wrong_too(f"{k}.forward", f"{k}.vjp.fd_own_dtype"))
        return
    pat = None
    if isinstance(out, dict):
        try:
            exp = model.oracle_vjp(*args, *cots, conv)
            t = model.vjp_tol(*args, *cots, conv, tol.precision(target))
            pat = diagnose.backward_match(k, model.params, model.states, out, exp, t, (*args, *cots, conv))
        except Exception:  # noqa: BLE001 - a diagnosis never replaces the verdict it annotates
            pat = None
    diagnose.annotate(exc, part="backward", likely_bug=pat and diagnose.sentence(pat, conv))


def _abs_cots(model, problem) -> dict:
    return {c: np.abs(np.asarray(problem[c], np.float64)) for c in ("d_hs",) + model.final_cots}


def _one_hot_problem(model: SeqModel, xs, states):
    """The batch tiled R = n * len(states) times; block r carries the one-hot final cotangent e_r."""
    T, B = xs.shape[:2]
    n = states[0].shape[1]
    R = n * len(states)
    finals = [np.zeros((R * B, n), xs.dtype) for _ in states]
    for r in range(R):
        finals[r // n][r * B:(r + 1) * B, r % n] = 1
    tiled = (np.tile(xs, (1, R, 1)), *[np.tile(s, (R, 1)) for s in states])
    return tiled, (np.zeros((T, R * B, n), xs.dtype), *finals), (R, B)


def _rows(a, R, B):
    return np.asarray(a, np.float64).reshape(R, B, R).transpose(1, 0, 2)


def state_jacobian_tol(model: SeqModel, xs, states, p, conv, dtype):
    """Entry-wise tolerance of d(final states)/d(initial states), (B, R, R), from the VJP error model."""
    tiled, cots, (R, B) = _one_hot_problem(model, xs, states)
    t = model.vjp_tol(*tiled, p, *cots, conv, dtype)
    return _rows(np.concatenate([t[s] for s in model.states], -1), R, B)


def state_jacobian(model: SeqModel, target, chk, xs, states, p, conv):
    """The target's d(final states)/d(initial states), (B, R, R) with R = n * len(states), numerator layout,
    and its tolerance, from ONE vjp call on the tiled batch (rows of the Jacobian are VJPs with e_r)."""
    tiled, cots, (R, B) = _one_hot_problem(model, xs, states)
    n = states[0].shape[1]
    out = model.vjp(target, chk, (*tiled, p), cots)
    rows = np.concatenate([chk.array(f"d {s}", out[s], (R * B, n)) for s in model.states], -1)
    return _rows(rows, R, B), state_jacobian_tol(model, xs, states, p, conv, tol.precision(target))
