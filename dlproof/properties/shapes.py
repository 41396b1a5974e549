"""Bounded shapes: a run draws at most K shape tuples per property, so a jitted target compiles at most K shapes.

A target compiled for the shapes it is called on (``jax.jit`` of a cell's ``apply``, ``torch.compile``) compiles
once per new input shape; Hypothesis draws a new shape in most examples, so such a target spends its run
compiling (jit-per-call JAX cells: 111-598 s per ``dlproof conform``). The convention ``shapes`` lets the target
say so (its vocabulary is declared in `dlproof.target.CONVENTION_VALUES`, default "free"):

- ``"free"`` (default): every size is drawn as before, bit for bit (the committed verdicts do not move).
- ``"bounded"``: the same as ``DEFAULT_BUDGET`` (4).
- an int ``K >= 2``: each example first draws a *shape slot* s in {0, ..., K-1}; every size the strategies
  draw through their size hook (``strategies._ints``: n, m, B, T of the recurrent problems, the extreme cells)
  is then a fixed function of (s, its position p in the example's size draws, its range [lo, hi], the run's
  seed): slot 0 puts every size at ``lo``, slot 1 every size at ``hi``, slot s >= 2 puts the p-th size at
  ``lo + floor(u (hi - lo + 1))`` with u uniform in [0, 1) from NumPy's PCG64 seeded by (seed, s, p). So a
  property draws at most K shape tuples, and properties whose size ranges agree draw the same K tuples (a
  capability they share compiles those K once for all of them). Everything else (scales, values, seeds of the
  arrays) is drawn freely as before.

Why slots and not padding: padding to buckets (`dlproof.impl.adapters.flax_linen`, "Speed") must be exact for
every capability, and a user would have to prove that for their own target; a slot only chooses which sizes are
drawn, so every check stays the same exact check, at fewer sizes. Power: slot 0 keeps the size-1 edge cases
(B = 1, n = 1, T = 1: broadcasting and squeezing bugs); slot 1 keeps the largest sizes, where the recurrent
problems' default ranges have n != m (max_n > max_m), so a transposed W_x or a swapped n/m is still caught (n = m
would hide it; where a property's ranges are equal, only the seeded slots can separate n and m); the seeded slots
add mixed sizes. A bug that shows only at a size outside the run's K tuples is not reachable in that run; the
seeded slots change with the run's seed (``dlproof sweep`` varies it), so a sweep reaches
more sizes (the ci profile, seed None, always draws the same tables). Hypothesis shrinks towards slot 0.
Measured (ci profile, the 34 LSTM and GRU mutants of tests/mutants/): K = 4 kills every one with exactly the
same properties as the free draws; K = 1 (slot 0 alone: every size 1, T = 1) would let 4 survive (truncated
BPTT, last-step weights) and halve the properties that catch a transposed W_h, so K >= 2 (`MIN_BUDGET`).

Hook (in the harness): ``prop = shapes.drawing(prop, target, seed_value)`` before its ``@given(problem=
prop.strategy(target))``; `drawing` returns ``prop`` itself when the target does not opt in (the decorated
function's text, which seeds Hypothesis' derandomized ci profile, stays the same).
"""
from __future__ import annotations

import contextvars
import dataclasses
import numbers
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

from dlproof.target import CONVENTION_VALUES

#: the convention's name in a Target's ``conventions``
CONVENTION = "shapes"
#: K of ``shapes="bounded"``
DEFAULT_BUDGET = 4
#: the smallest K: slots 0 and 1 (every size at its minimum, every size at its maximum) are always drawn
#: (dlproof.target.CONVENTION_VALUES["shapes"] declares the vocabulary with the same bound)
MIN_BUDGET = 2
#: the vocabulary entry, declared once in the protocol: (allowed values in words, check)
ALLOWED, valid = CONVENTION_VALUES[CONVENTION]


def budget_of(value) -> int | None:
    """K for the ``shapes`` value ``value`` (None for "free"); ValueError naming the convention otherwise."""
    if not valid(value):
        raise ValueError(f"convention {CONVENTION}={value!r}, but should be {ALLOWED}")
    if value == "free":
        return None
    return DEFAULT_BUDGET if value == "bounded" else int(value)


def budget(target) -> int | None:
    """K declared by ``target`` (its ``conventions["shapes"]``), or None when it draws freely."""
    conventions = getattr(target, "conventions", None)
    if conventions is None:
        raise ValueError(f"shapes.budget: expected a Target (with conventions), got {type(target).__name__}")
    return budget_of(conventions.get(CONVENTION, "free"))


@dataclass
class _Slot:
    """The active slot of one example: its index, the salt (run seed), and the sizes drawn so far."""

    index: int
    salt: int
    drawn: list = field(default_factory=list)

    def size(self, lo: int, hi: int) -> int:
        p = len(self.drawn)
        v = slot_size(self.index, p, lo, hi, self.salt)
        self.drawn.append(v)
        return v


_ACTIVE: contextvars.ContextVar = contextvars.ContextVar("dlproof_shape_slot", default=None)


def active():
    """The slot of the example being drawn under a bounded strategy, or None (sizes drawn freely)."""
    return _ACTIVE.get()


def slot_size(slot: int, position: int, lo: int, hi: int, salt: int = 0) -> int:
    """The size of the ``position``-th size draw, range [lo, hi], in ``slot`` (see the module docstring)."""
    for name, v in (("slot", slot), ("position", position), ("lo", lo), ("hi", hi), ("salt", salt)):
        if not isinstance(v, numbers.Integral) or isinstance(v, bool):
            raise ValueError(f"shapes.slot_size: argument {name!r} should be an int, got {v!r}")
    if slot < 0 or position < 0 or salt < 0 or hi < lo:
        raise ValueError(f"shapes.slot_size: needs slot, position, salt >= 0 and lo <= hi, got slot={slot}, "
                         f"position={position}, salt={salt}, [lo, hi] = [{lo}, {hi}]")
    if slot == 0:
        return int(lo)
    if slot == 1:
        return int(hi)
    u = np.random.default_rng((int(salt), int(slot), int(position))).random()
    return int(lo + min(hi - lo, int(u * (hi - lo + 1))))


def bounded(strategy, k: int, salt: int = 0):
    """``strategy`` with its hooked sizes taken from one of ``k`` slots per example (drawn first, label
    "shape slot"); ``salt`` (the run's seed) picks the seeded slots' sizes."""
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < MIN_BUDGET:
        raise ValueError(f"shapes.bounded: argument 'k' should be an int >= {MIN_BUDGET}, got {k!r}")
    if not isinstance(salt, numbers.Integral) or isinstance(salt, bool) or salt < 0:
        raise ValueError(f"shapes.bounded: argument 'salt' should be an int >= 0, got {salt!r}")
    slots = st.integers(0, int(k) - 1)

    @st.composite
    def draw_bounded(draw):
        token = _ACTIVE.set(_Slot(draw(slots, label="shape slot"), int(salt)))
        try:
            return draw(strategy)
        finally:
            _ACTIVE.reset(token)

    return draw_bounded()


def drawing(prop, target, seed_value=None):
    """``prop`` itself when ``target`` draws freely, else a copy whose ``strategy(target)`` is `strategy` (the
    harness keeps its decorated function's text, which seeds the derandomized ci profile, unchanged)."""
    if budget(target) is None:
        return prop
    return dataclasses.replace(prop, strategy=lambda t, _p=prop: strategy(_p, t, seed_value))


def strategy(prop, target, seed_value=None):
    """The harness' strategy for ``prop`` on ``target``: ``prop.strategy(target)`` itself when the target draws
    freely, else that strategy `bounded` to the target's K, salted with the run's seed (None -> 0; any int is
    taken modulo 2^64)."""
    k = budget(target)
    base = prop.strategy(target)
    return base if k is None else bounded(base, k, 0 if seed_value is None else int(seed_value) % 2 ** 64)
