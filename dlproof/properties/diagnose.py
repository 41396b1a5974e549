"""Blame: which part of a failing target is wrong, and which known bug its output looks like.

A catalogue of known bug patterns, each declared once: its name, the capability whose output it explains,
the sentence reported as the row's ``likely_bug``, and the function that computes the buggy output from the
float64 NumPy reference (dlproof.impl.numpy_ref) modified accordingly. On a failure (never on a passing
example) `likely_bug` evaluates the patterns of the failing capability on the failing example and names the
first whose output the target matches within the property's own tolerance, provided the correct output
does not match. The patterns follow the meta-suite's mutants (tests/mutants/),
which are their ground truth (tests/suite/test_blame.py).

Forward patterns take ``(xs, *states, p, conv)`` (float64) and return ``(hs, finals tuple)``, the oracle's
form; backward patterns take the oracle's VJP dict and return the buggy one.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from dlproof.impl.numpy_ref import gru as G
from dlproof.impl.numpy_ref import lstm as L
from dlproof.impl.numpy_ref import rnn as R
from dlproof.parameters import BLOCKS, LSTM_GATES


@dataclass(frozen=True)
class Pattern:
    name: str
    capability: str      # "lstm" | "gru" | "rnn" (their forward) or "lstm_vjp" | "gru_vjp" | "rnn_vjp"
    bug: str             # the plain sentence reported as likely_bug
    compute: Callable    # forward: (xs, *states, p, conv) -> (hs, finals); backward: (oracle vjp, q) -> vjp
    message: str = None  # optional: the failure message that replaces the generic one when this pattern matches
    quantity: str = "hs"  # the quantity that message speaks of


def _f64(p: dict) -> dict:
    return {k: np.asarray(v, np.float64) for k, v in p.items()}


def _sig(a):
    return 0.5 * (1 + np.tanh(0.5 * a))


# ---- forward: parameter maps through the reference ------------------------------------------------------

def _lstm_ref(fp=lambda p: p):
    def run(xs, h0, c0, p, conv):
        hs, (h, c) = L.lstm(np.asarray(xs, np.float64), np.asarray(h0, np.float64),
                                    np.asarray(c0, np.float64), fp(_f64(p)))
        return hs, (h, c)
    return run


def _gru_ref(fp=lambda p: p, variant=None):
    def run(xs, h0, p, conv):
        hs, h = G.gru(np.asarray(xs, np.float64), np.asarray(h0, np.float64), fp(_f64(p)), variant or conv)
        return hs, (h,)
    return run


def _rnn_ref(fp=lambda p: p, act=None):
    def run(xs, h0, p, conv):
        hs, h = R.rnn(np.asarray(xs, np.float64), np.asarray(h0, np.float64), fp(_f64(p)), act or conv)
        return hs, (h,)
    return run


def _swap(*names):
    def f(p):
        q = dict(p)
        for a, b in names:
            q[a], q[b] = p[b], p[a]
        return q
    return f


def _lstm_gates(a, b):
    return _swap((f"W_x{a}", f"W_x{b}"), (f"W_h{a}", f"W_h{b}"), (f"b_{a}", f"b_{b}"))


def _lstm_loop(act_i=_sig, act_f=_sig, act_g=np.tanh, act_o=_sig, out_tanh=True):
    """The LSTM written out in float64 with chosen activations (for the activation-mixup patterns)."""
    def run(xs, h0, c0, p, conv):
        p = _f64(p)
        h, c, hs = np.asarray(h0, np.float64), np.asarray(c0, np.float64), []
        for x in np.asarray(xs, np.float64):
            a = {g: x @ p[f"W_x{g}"].T + h @ p[f"W_h{g}"].T + p[f"b_{g}"] for g in LSTM_GATES}
            c = act_f(a["f"]) * c + act_i(a["i"]) * act_g(a["g"])
            h = act_o(a["o"]) * (np.tanh(c) if out_tanh else c)
            hs.append(h)
        return np.stack(hs), (h, c)
    return run


def _gru_loop(act_n=np.tanh):
    """The GRU written out in float64 (h' = z h + (1 - z) n) with a chosen candidate activation."""
    def run(xs, h0, p, conv):
        p = _f64(p)
        h, hs = np.asarray(h0, np.float64), []
        for x in np.asarray(xs, np.float64):
            r = _sig(x @ p["W_xr"].T + h @ p["W_hr"].T + p["b_r"])
            z = _sig(x @ p["W_xz"].T + h @ p["W_hz"].T + p["b_z"])
            if conv == "reset_after":
                n = act_n(x @ p["W_xn"].T + p["b_xn"] + r * (h @ p["W_hn"].T + p["b_hn"]))
            else:
                n = act_n(x @ p["W_xn"].T + p["b_xn"] + p["b_hn"] + (r * h) @ p["W_hn"].T)
            h = z * h + (1 - z) * n
            hs.append(h)
        return np.stack(hs), (h,)
    return run


def _swapped_finals(run):
    def f(*a):
        hs, fin = run(*a)
        return hs, fin[::-1]
    return f


def _shifted_time(run):
    """hs[t] = h_{t-1} (h_0 first); the final states unchanged."""
    def f(xs, h0, *rest):
        hs, fin = run(xs, h0, *rest)
        return np.concatenate([np.asarray(h0, np.float64)[None], hs[:-1]]), fin
    return f


_ORDER = {("f", "g"): "gate order i,g,f,o (TF1's i,j,f,o) read as i,f,g,o (torch's i,f,g,o = Keras' i,f,c,o)"}


def _lstm_swap_sentence(a, b):
    order = "".join(LSTM_GATES).translate(str.maketrans(a + b, b + a))
    return _ORDER.get((a, b), f"LSTM gate blocks {a} and {b} exchanged (gate order {','.join(order)} read as i,f,g,o)")


FORWARD = (
    Pattern("lstm_forget_bias_twice", "lstm",
            "forget-gate bias added twice (b_f counted in both the input and the recurrent bias)",
            _lstm_ref(lambda p: {**p, "b_f": 2 * p["b_f"]})),
    Pattern("lstm_final_states_c_h", "lstm", "final states returned as (c_T, h_T)",
            _swapped_finals(_lstm_ref()),
            message="matches (c_T, h_T), but should be (h_T, c_T): the final states look swapped, "
                    "return (h, c) as torch and Keras do", quantity="(h_T, c_T)"),
    *(Pattern(f"lstm_swap_{a}_{b}", "lstm", _lstm_swap_sentence(a, b), _lstm_ref(_lstm_gates(a, b)))
      for a, b in (("f", "g"), ("i", "f"), ("i", "g"), ("i", "o"), ("f", "o"), ("g", "o"))),
    Pattern("lstm_sigmoid_candidate", "lstm", "sigmoid used for the candidate (g = sigmoid(a_g), should be tanh)",
            _lstm_loop(act_g=_sig)),
    Pattern("lstm_tanh_sigmoid_swapped", "lstm", "tanh on the input gate i and sigmoid on the candidate g (swapped)",
            _lstm_loop(act_i=np.tanh, act_g=_sig)),
    Pattern("lstm_no_output_tanh", "lstm", "h' = o * c' (tanh of the cell state missing)", _lstm_loop(out_tanh=False)),
    Pattern("lstm_hs_shifted", "lstm", "hs shifted by one step (hs[t] holds h_{t-1})", _shifted_time(_lstm_ref())),
    Pattern("gru_z_swapped", "gru", "GRU update uses z and 1-z swapped (h' = z n + (1-z) h)",
            _gru_ref(lambda p: {**p, **{k: -p[k] for k in ("W_xz", "W_hz", "b_z")}})),
    Pattern("gru_reset_before", "gru",
            "reset gate applied before the recurrent product (reset_before), declared reset_after: declare gru='reset_before'",
            lambda xs, h0, p, conv: _gru_ref(variant="reset_before")(xs, h0, p, conv) if conv == "reset_after" else None,
            message="matches gru='reset_before', but should match the declared gru='reset_after': a convention "
                    "mismatch (declare the one it implements)"),
    Pattern("gru_reset_after", "gru",
            "reset gate applied after the recurrent product (reset_after), declared reset_before: declare gru='reset_after'",
            lambda xs, h0, p, conv: _gru_ref(variant="reset_after")(xs, h0, p, conv) if conv == "reset_before" else None,
            message="matches gru='reset_after', but should match the declared gru='reset_before': a convention "
                    "mismatch (declare the one it implements)"),
    Pattern("gru_swap_r_z", "gru", "GRU gate blocks r and z exchanged (Keras' order z,r,h read as torch's r,z,n)",
            _gru_ref(_swap(("W_xr", "W_xz"), ("W_hr", "W_hz"), ("b_r", "b_z")))),
    Pattern("gru_sigmoid_candidate", "gru", "sigmoid used for the candidate (n = sigmoid(...), should be tanh)",
            _gru_loop(act_n=_sig)),
    Pattern("gru_hs_shifted", "gru", "hs shifted by one step (hs[t] holds h_{t-1})", _shifted_time(_gru_ref())),
    Pattern("rnn_other_activation", "rnn", "the other activation than declared: declare rnn_activation='{other}'",
            lambda xs, h0, p, conv: _rnn_ref(act={"tanh": "relu", "relu": "tanh"}[conv])(xs, h0, p, conv),
            message="matches rnn_activation='{other}', but should match the declared rnn_activation='{conv}': a "
                    "convention mismatch (declare the one it implements)"),
    Pattern("rnn_W_h_transposed", "rnn", "W_h applied transposed in the forward (h @ W_h instead of h @ W_h.T)",
            _rnn_ref(lambda p: {**p, "W_h": p["W_h"].T})),
    Pattern("rnn_sigmoid", "rnn", "sigmoid used instead of tanh",
            lambda xs, h0, p, conv: _rnn_sigmoid(xs, h0, p) if conv == "tanh" else None),
    Pattern("rnn_bias_dropped", "rnn", "bias dropped (b not added)", _rnn_ref(lambda p: {**p, "b": 0 * p["b"]})),
    Pattern("rnn_hs_shifted", "rnn", "hs shifted by one step (hs[t] holds h_{t-1})", _shifted_time(_rnn_ref())),
)


def _rnn_sigmoid(xs, h0, p):
    p = _f64(p)
    h, hs = np.asarray(h0, np.float64), []
    for x in np.asarray(xs, np.float64):
        h = _sig(x @ p["W_x"].T + h @ p["W_h"].T + p["b"])
        hs.append(h)
    return np.stack(hs), (h,)


# ---- backward patterns: a modification of the oracle's VJP ----------------------------------------------

def _transposed(name):
    def f(exp):
        g = exp["params"][name]
        if g.ndim != 2 or g.shape[0] != g.shape[1]:
            return None
        return {**exp, "params": {**exp["params"], name: g.T}}
    return f


def _zero(state):
    def f(exp):
        return {**exp, state: np.zeros_like(exp[state])}
    return f


def backward_patterns(kind: str, params: tuple, states: tuple) -> tuple:
    """The backward-only patterns of a recurrent kind: one weight's gradient transposed, a state's gradient
    missing."""
    out = [Pattern(f"{kind}_d{w}_transposed", f"{kind}_vjp",
                   f"W transposed in the backward only (dW^T returned: d{w} is the transpose of the right one)",
                   _transposed(w)) for w in params if w.startswith("W_")]
    out += [Pattern(f"{kind}_no_d{s}", f"{kind}_vjp", f"missing gradient through {s} (d {s} returned as 0)", _zero(s))
            for s in states]
    return tuple(out)


# ---- backward patterns that need the whole BPTT: a wrong backward written out --------------------------------

def _lstm_bptt(no_tanh_path: bool):
    """The LSTM's VJP written out in float64 (the oracle's layout: {"xs", "h0", "c0", "params"}), with
    ``no_tanh_path``: the cell-state gradient dc_t carried only through f (dc_t = d_cT or f_{t+1} dc_{t+1}), without
    the path through h_t = o_t tanh(c_t), dh_t o_t (1 - tanh^2 c_t): the classic hand-written backward bug."""
    def vjp(xs, h0, c0, p, d_hs, d_hT, d_cT, conv=None):
        p = _f64(p)
        xs, h, c = np.asarray(xs, np.float64), np.asarray(h0, np.float64), np.asarray(c0, np.float64)
        cache = []
        for x in xs:
            a = {g: x @ p[f"W_x{g}"].T + h @ p[f"W_h{g}"].T + p[f"b_{g}"] for g in LSTM_GATES}
            i, f, g, o = _sig(a["i"]), _sig(a["f"]), np.tanh(a["g"]), _sig(a["o"])
            c_new = f * c + i * g
            cache.append((x, h, c, i, f, g, o, np.tanh(c_new)))
            h, c = o * np.tanh(c_new), c_new
        grads = {k: np.zeros_like(v) for k, v in p.items()}
        dxs = np.zeros_like(xs)
        dh, dc = np.asarray(d_hT, np.float64).copy(), np.asarray(d_cT, np.float64).copy()
        for t in reversed(range(len(xs))):
            x, h_prev, c_prev, i, f, g, o, tc = cache[t]
            dh = dh + np.asarray(d_hs[t], np.float64)
            dct = dc if no_tanh_path else dc + dh * o * (1 - tc ** 2)
            da = {"i": dct * g * i * (1 - i), "f": dct * c_prev * f * (1 - f), "g": dct * i * (1 - g ** 2),
                  "o": dh * tc * o * (1 - o)}
            dxs[t] = sum(da[k] @ p[f"W_x{k}"] for k in LSTM_GATES)
            for k in LSTM_GATES:
                grads[f"W_x{k}"] += da[k].T @ x
                grads[f"W_h{k}"] += da[k].T @ h_prev
                grads[f"b_{k}"] += da[k].sum(axis=0)
            dh, dc = sum(da[k] @ p[f"W_h{k}"] for k in LSTM_GATES), dct * f
        return {"xs": dxs, "h0": dh, "c0": dc, "params": grads}
    return vjp


#: backward bugs that change the whole recursion (compute: (xs, *states, p, *cotangents, conv) -> the VJP dict)
BPTT = (
    Pattern("lstm_dc_without_tanh_path", "lstm_vjp",
            "the cell-state gradient misses the path through h = o tanh(c): dc_t needs + dh_t o_t (1 - tanh^2 c_t), "
            "not only the f_{t+1} dc_{t+1} carried back", _lstm_bptt(no_tanh_path=True)),
)


# ---- matching --------------------------------------------------------------------------------------------

def own_forward_wrong(target, capability: str, run, reference) -> bool:
    """Whether the target's own forward (``run()``, which calls ``capability``) misses the oracle beyond its
    tolerance, ``reference() = (expected, tol)``, on this example; False when it cannot tell (not provided, or
    the forward itself raised or failed)."""
    from .assertions import PropertyFailure, TargetRaised

    if not target.provides(capability):
        return False
    try:
        y = run()
    except (PropertyFailure, TargetRaised):
        return False
    return not within(y, *reference())


def within(a, e, t) -> bool:
    """|a - e| <= t entry-wise, with the tolerance floored as `Checker.close` floors it (TOLERANCE_FLOOR), so a
    diagnosis never disagrees with the check it annotates."""
    from .assertions import TOLERANCE_FLOOR

    a, e = np.asarray(a, np.float64), np.asarray(e, np.float64)
    return a.shape == e.shape and bool(np.all(np.abs(a - e) <= np.maximum(np.broadcast_to(t, e.shape),
                                                                           TOLERANCE_FLOOR)))


#: a forward pattern names the bug only when the target's output lies within this fraction of the tolerance of
#: the pattern's output: a structural bug reproduces its pattern up to rounding, well inside the tolerance, while
#: an unrelated error may land near a pattern by chance, likelier where tolerances are coarse (16 bits: a bfloat16
#: GRU with softsign for tanh fitted "r and z exchanged" within the full tolerance on a 1-unit example)
PATTERN_FIT = 0.5


def forward_match(kind: str, observed, args, conv, correct, tols):
    """The first forward pattern of ``kind`` whose output the target's ``observed`` (hs, finals) matches within
    `PATTERN_FIT` times ``tols`` (the property's (t_hs, t_finals)), when ``correct`` (the oracle's (hs, finals))
    does not match within ``tols``; else None. ``observed`` may be (None, finals) for a cell (only the finals are
    compared, on a one-step problem)."""
    hs, finals = observed

    def fits(expected, scale=1.0):
        ehs, efin = expected
        ok = hs is None or within(hs, ehs, scale * np.asarray(tols[0]))
        return ok and len(finals) == len(efin) and all(within(a, e, scale * np.asarray(t))
                                                       for a, e, t in zip(finals, efin, tols[1]))

    if fits(correct):
        return None
    for pat in FORWARD:
        if pat.capability != kind:
            continue
        try:
            expected = pat.compute(*args, conv)
        except (ValueError, KeyError, FloatingPointError):
            continue
        if expected is not None and fits(expected, PATTERN_FIT):
            return pat
    return None


def backward_match(kind: str, params: tuple, states: tuple, observed: dict, correct: dict, tols: dict,
                   problem_args: tuple = None):
    """The first backward pattern whose modified oracle VJP the target's ``observed`` VJP matches within ``tols``:
    the transforms of the oracle's VJP, then (given ``problem_args`` = (*args, *cotangents, conv)) the written-out
    wrong recursions of `BPTT`."""
    def fits(exp):
        if not all(within(observed[s], exp[s], tols[s]) for s in ("xs",) + states):
            return False
        return all(within(observed["params"][k], exp["params"][k], tols["params"][k]) for k in params)

    try:
        if fits(correct):
            return None
        for pat in backward_patterns(kind, params, states):
            expected = pat.compute(correct)
            if expected is not None and fits(expected):
                return pat
        for pat in (BPTT if problem_args is not None else ()):
            if pat.capability == f"{kind}_vjp" and fits(pat.compute(*problem_args)):
                return pat
    except (KeyError, TypeError, ValueError):
        return None
    return None


def sentence(pat: Pattern, conv) -> str:
    other = {"tanh": "relu", "relu": "tanh"}.get(conv, conv)
    return pat.bug.replace("{other}", str(other)).replace("{conv}", str(conv))


def message(pat: Pattern, conv) -> str:
    other = {"tanh": "relu", "relu": "tanh"}.get(conv, conv)
    return pat.message.replace("{other}", str(other)).replace("{conv}", str(conv))


def catalogue() -> list:
    """(name, capability, likely_bug sentence) of every declared pattern (the README's list)."""
    rows = [(p.name, p.capability, p.bug) for p in FORWARD]
    for kind, states in (("rnn", ("h0",)), ("lstm", ("h0", "c0")), ("gru", ("h0",))):  # the first gate's weights
        rows += [(p.name, p.capability, p.bug) for p in backward_patterns(kind, BLOCKS[kind][0], states)]
    return rows + [(p.name, p.capability, p.bug) for p in BPTT]


def annotate(exc, *, part=None, likely_bug=None, extra: str = "") -> None:
    """Set ``part`` / ``likely_bug`` on a PropertyFailure (where not set yet) and append ``extra`` and the
    likely bug to its message; the caller re-raises it."""
    if part is not None and getattr(exc, "part", None) is None:
        exc.part = part
    if likely_bug is not None and getattr(exc, "likely_bug", None) is None:
        exc.likely_bug = likely_bug
    msg = exc.args[0] if exc.args else ""
    if extra:
        msg += extra
    if likely_bug is not None and "likely bug:" not in msg:
        msg += f" | likely bug: {likely_bug}"
    exc.args = (msg,)


@contextlib.contextmanager
def blame(part: str, likely_bug=None):
    """``with blame("forward"):`` every PropertyFailure raised inside names ``part`` (unless it already names one)."""
    from .assertions import PropertyFailure

    try:
        yield
    except PropertyFailure as exc:
        annotate(exc, part=part, likely_bug=likely_bug() if callable(likely_bug) else likely_bug)
        raise


def guess(fn: Callable, *args, **kw):
    """``fn(*args, **kw)``, or None when it raises: a diagnosis never replaces the verdict it annotates (a target's
    odd output must not turn its fail into dlproof's internal error)."""
    try:
        return fn(*args, **kw)
    except Exception:  # noqa: BLE001
        return None


@contextlib.contextmanager
def blame_vjp(forward_wrong: Callable, forward_id: str, own_fd_id: str = None):
    """``with blame_vjp(check, "mlp.forward", "mlp.vjp.fd_own_dtype"):`` a PropertyFailure raised inside names part
    "both" when ``check()`` (run only then) says the target's own forward is wrong on the example too, else part
    "backward"."""
    from .assertions import PropertyFailure

    try:
        yield
    except PropertyFailure as exc:
        try:
            both = bool(forward_wrong())
        except Exception:  # noqa: BLE001 - a diagnosis never replaces the verdict it annotates
            both = False
        if both:
            annotate(exc, part="both", extra=forward_wrong_too(forward_id, own_fd_id))
        else:
            annotate(exc, part="backward")
        raise


def forward_wrong_too(forward_id: str, own_fd_id: str = None) -> str:
    """The words appended to a gradient failure whose forward fails on the same example."""
    see = f"{forward_id} and {own_fd_id}" if own_fd_id else forward_id
    return (f" | the forward is wrong too ({forward_id} fails on this example): this gradient may be right for the "
            f"target's own forward, see {see}")
