"""Properties of the protocol itself (statelessness and the like), beside the math ones.

``protocol.{kind}_cell.stateless``: a cell is a pure function of its arguments. It is called five times on
argument arrays the property owns: on (a), on (a) again, on (b) written into the same arrays, on (b)
through new array objects over the same memory, and on (a) written back. Bitwise:

- the second result equals the first, and the fifth the first: nothing carries over from one call to
  the next (a cached h, a result one call late);
- the fourth result equals the third: the values are read at each call (no cache keyed on the identity
  of an argument, which goes stale when a caller updates its arrays in place, as a training loop does);
- after the call on (b), the first result still holds what it held when it was returned (no output
  buffer reused by later calls).

The checks fail whatever state an earlier example left behind, so a failure replays (Hypothesis shrinks
it). (a) and (b) share their shapes: the step t = 0 with the forward parameters and initial state, and
the step t = 1 with an independent second set (``strategies.with_backward_direction``). Compared calls
read the same memory, so an alignment-dependent BLAS path cannot make a pure target look impure.
"""
from __future__ import annotations

import numpy as np

from dlproof.parameters import GRU_PARAMS, LSTM_PARAMS, RNN_PARAMS

from .assertions import call
from .registry import prop
from .strategies import bi_problems

#: kind -> (state names, parameter names, the result's name, the derivations that define the cell as a function)
CELLS = {
    "rnn": (("h0",), RNN_PARAMS, "h'", ("rnn.cell.forward",)),
    "lstm": (("h0", "c0"), LSTM_PARAMS, "(h', c')", ("lstm.cell.forward",)),
    "gru": (("h0",), GRU_PARAMS, "h'", ("gru.cell.forward.reset_after", "gru.cell.forward.reset_before")),
}


def _arguments(problem, states, params, t: int, side: str) -> list:
    """Fresh C-contiguous copies of (x, *states, p) for step ``t`` of side "" (forward) or "bwd:"."""
    return [np.array(problem["xs"][t]), *[np.array(problem[side + s]) for s in states],
            {k: np.array(problem[side + k]) for k in params}]


def _refill(dst: list, src: list) -> None:
    """Write the values of ``src`` into the arrays of ``dst`` (same shapes), in place."""
    for d, s in zip(dst, src):
        if isinstance(d, dict):
            for k in d:
                np.copyto(d[k], s[k])
        else:
            np.copyto(d, s)


def _views(args: list) -> list:
    """New array (and dict) objects over the same memory as ``args``."""
    return [{k: v[...] for k, v in a.items()} if isinstance(a, dict) else a[...] for a in args]


def _frozen(r):
    """A deep copy of a result to compare against later: arrays copied, tuples/lists walked, anything else
    (a number, a foreign tensor) copied into an ndarray."""
    if isinstance(r, (tuple, list)):
        return type(r)(_frozen(v) for v in r)
    return np.array(r)


def _difference(a, b, name: str):
    """Where ``b`` differs bitwise from ``a`` (a short text), or None if identical in type, shape, dtype, bytes."""
    if type(a) is not type(b):
        return f"{name} is {type(b).__name__}, was {type(a).__name__}"
    if isinstance(a, (tuple, list)):
        if len(a) != len(b):
            return f"{name} has {len(b)} items, had {len(a)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = _difference(x, y, ("h'", "c'")[i] if name == "(h', c')" and len(a) == 2 else f"{name}[{i}]")
            if d:
                return d
        return None
    # both are ndarrays (see `_frozen`)
    if a.shape != b.shape or a.dtype != b.dtype:
        return f"{name} is {b.dtype}{list(b.shape)}, was {a.dtype}{list(a.shape)}"
    if a.dtype.hasobject:  # entry by entry: an entry's == may raise or give an array
        ne = np.array([not _same(x, y) for x, y in zip(a.ravel(), b.ravel())], bool).reshape(a.shape)
    elif a.tobytes() == b.tobytes():
        return None
    else:  # bitwise: NaN payloads and the sign of zero count
        ne = np.frombuffer(a.tobytes(), np.uint8) != np.frombuffer(b.tobytes(), np.uint8)
        ne = ne.reshape(a.shape + (a.itemsize,)).any(axis=-1)
    if not ne.any():
        return None
    i = tuple(int(v) for v in np.argwhere(ne)[0]) if a.ndim else ()
    return f"{name}{list(i)} = {_entry(b, i)}, was {_entry(a, i)}"


def _same(x, y) -> bool:
    """Whether two entries of object arrays are the same value (identical, or equal as arrays or scalars)."""
    if x is y:
        return True
    try:
        return bool(np.array_equal(np.asarray(x), np.asarray(y)))
    except Exception:  # noqa: BLE001 - entries that cannot be compared differ
        return False


def _entry(a: np.ndarray, i: tuple) -> str:
    """repr of entry ``i`` of ``a``: the Python scalar of a numeric entry, the object itself (shortened) otherwise."""
    v = a[i]
    text = repr(v.item() if isinstance(v, np.generic) else v)
    return text if len(text) <= 80 else text[:77] + "..."


#: examples per run outside the thorough profile: one example decides (a stateful cell differs on its first one;
#: tests/suite/test_hostile.py's four stateful targets all fail at the first example), and each example makes five calls
STATELESS_EXAMPLES = 25


def _register(kind: str) -> None:
    states, params, name, derivations = CELLS[kind]
    cap = f"{kind}_cell"

    @prop(f"protocol.{cap}.stateless", title=f"{cap} is a pure function of its arguments: bitwise the same result "
                                             f"twice in a row, after other arguments, and through new array "
                                             f"objects; earlier results are not overwritten",
          capabilities=(cap,), derivations=derivations,
          strategy=lambda t: bi_problems(kind, dtype=t.dtype, min_T=2, max_T=2), max_examples=STATELESS_EXAMPLES)
    def stateless(target, problem, chk):
        a = _arguments(problem, states, params, 0, "")
        b = _arguments(problem, states, params, 1, "bwd:")
        args = _arguments(problem, states, params, 0, "")  # the arrays the target sees, refilled between calls
        r1 = call(target, cap, *args)
        f1 = _frozen(r1)
        f2 = _frozen(call(target, cap, *args))
        _refill(args, b)
        f3 = _frozen(call(target, cap, *args))
        overwritten = _difference(f1, _frozen(r1), name)  # now, while a reused buffer would hold the result of (b)
        f4 = _frozen(call(target, cap, *_views(args)))
        _refill(args, a)
        f5 = _frozen(call(target, cap, *args))
        d = _difference(f1, f2, name)
        chk.holds(f"{cap}(a) called twice in a row", d is None,
                  f"the second result differs bitwise from the first ({d}), but should be identical: a target "
                  f"must be a pure function of its arguments (does it keep state between calls?)")
        d = _difference(f3, f4, name)
        chk.holds(f"{cap}(b) through new array objects", d is None,
                  f"differs bitwise from {cap}(b) on the arrays of the earlier calls, refilled in place ({d}), but "
                  f"should be identical: a target must read its arguments' values at each call (does it cache on "
                  f"argument identity, or keep state between calls?)")
        d = _difference(f1, f5, name)
        chk.holds(f"{cap}(a) after {cap}(b)", d is None,
                  f"differs bitwise from the first {cap}(a) ({d}), but should be identical: a target must be a "
                  f"pure function of its arguments (does it keep state between calls?)")
        chk.holds(f"the result of the first {cap}(a)", overwritten is None,
                  f"changed during later calls ({overwritten}), but should stay as returned: a target must return arrays "
                  f"the caller owns (does it reuse an output buffer?)")


for _kind in CELLS:
    _register(_kind)
