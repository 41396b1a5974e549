"""Certified decisions about constants: is a number expression zero, and what is its sign?

A *constant* is a SymPy expression without free symbols (``acosh(1 + 1/10**9)``, ``pi - 355/113``).
Its sign is decided only by

- exact rational arithmetic (a `sympy.Rational` is its own value),
- a rigorous enclosure: the expression is evaluated with python-flint's arb ball arithmetic (a midpoint
  and a radius whose error bound is certified by the library) at increasing precision (64 .. 4096 bits);
  a ball that excludes 0 decides the sign (engine ``"flint-arb"``), or, for a complex constant, that
  the value is non-zero (acb balls);
- an exact zero test for algebraic constants: the minimal polynomial of the number is ``x``
  (engine ``"sympy-minpoly"``).

Anything else is undecided (``None``): a ball that still contains 0 at the highest precision proves
nothing. No decision is ever taken from a floating-point value without its error bound. A SymPy `Float`
inside a constant is taken at its exact binary value here (the prover separately refuses to *prove*
statements that contain Floats, since a Float usually stands for an inexact decimal).

When python-flint is not installed every enclosure is undecided (``None``): exact tiers still work.

`install()` routes SymPy's own numeric sign decision for numbers (``Expr._eval_is_extended_positive_negative``,
used by ``is_positive``, ``is_zero``, relational construction such as ``Le(c, 0)``, ``Max``, ``Abs``,
``Piecewise`` and ``simplify``) through `sign`, so that SymPy itself no longer decides the sign of a
constant from a 2-digit evaluation (SymPy evaluates ``acosh(1 + 1/10**9)`` to 0 at 2 digits, hence
``Le(acosh(1 + 1/10**9), 0)`` is ``True`` without it). The rule stays SymPy's: return True/False/None;
ours only answers when certified.
"""
from __future__ import annotations

import threading
from functools import lru_cache
from typing import Optional

import sympy as sp

try:  # optional engine: without it, enclosures are undecided
    import flint
except ImportError:  # pragma: no cover - exercised only where python-flint is absent
    flint = None

#: the reason `sign` gives for a constant whose imaginary part is certified non-zero
NONREAL = "non-real (the imaginary part's enclosure excludes 0)"

#: precisions (bits) tried in turn; the last one bounds the cost
PRECISIONS = (64, 256, 1024, 4096)

_local = threading.local()


class _Unsupported(Exception):
    """The expression has a part the ball evaluator does not know; the enclosure is undecided."""


def _to_ball(e: sp.Basic, ring):
    """Evaluate the constant ``e`` as a ball of ``ring`` (flint.arb or flint.acb) at the current precision."""
    ev = lambda a: _to_ball(a, ring)  # noqa: E731
    if isinstance(e, sp.Rational):
        return ring(flint.fmpq(int(e.p), int(e.q)))
    if isinstance(e, sp.Float):
        r = sp.Rational(e)  # the exact binary value of the Float
        return ring(flint.fmpq(int(r.p), int(r.q)))
    if e is sp.pi:
        return ring.pi()
    if e is sp.E:
        return ring(1).exp()
    if e is sp.I:
        if ring is flint.arb:
            raise _Unsupported("I in a real enclosure")
        return flint.acb(0, 1)
    if e is sp.EulerGamma:
        return ring(flint.arb.const_euler())
    if isinstance(e, sp.Add):
        out = ring(0)
        for a in e.args:
            out = out + ev(a)
        return out
    if isinstance(e, sp.Mul):
        out = ring(1)
        for a in e.args:
            out = out * ev(a)
        return out
    if isinstance(e, sp.Pow):
        b, x = e.args
        if isinstance(x, sp.Integer):
            bb = ev(b)
            if x < 0:
                if bb.contains(0):
                    raise _Unsupported("division by a ball containing 0")
                return 1 / bb ** int(-x)
            return bb ** int(x)
        if x == sp.S.Half:
            return ev(b).sqrt()
        bb = ev(b)
        if ring is flint.arb and not bb > 0:
            raise _Unsupported("real power of a base not certified positive")
        return (ev(x) * bb.log()).exp()
    if isinstance(e, sp.exp):
        return ev(e.args[0]).exp()
    if isinstance(e, sp.log) and len(e.args) == 1:
        return ev(e.args[0]).log()
    simple = {sp.sin: "sin", sp.cos: "cos", sp.tan: "tan", sp.sinh: "sinh", sp.cosh: "cosh", sp.tanh: "tanh",
              sp.asin: "asin", sp.acos: "acos", sp.atan: "atan", sp.asinh: "asinh", sp.acosh: "acosh",
              sp.atanh: "atanh", sp.erf: "erf", sp.gamma: "gamma"}
    if type(e) in simple:
        v = getattr(ev(e.args[0]), simple[type(e)])()
        return v
    if ring is flint.arb:
        if isinstance(e, sp.Abs):
            return abs(ev(e.args[0]))
        if isinstance(e, sp.sign):
            return ev(e.args[0]).sgn()
        if isinstance(e, sp.floor):
            return ev(e.args[0]).floor()
        if isinstance(e, sp.ceiling):
            return ev(e.args[0]).ceil()
        if isinstance(e, (sp.Max, sp.Min)):
            vals = [ev(a) for a in e.args]
            out = vals[0]
            for v in vals[1:]:
                out = out.max(v) if isinstance(e, sp.Max) else out.min(v)
            return out
        if isinstance(e, sp.Piecewise):
            for val, cond in e.args:
                truth = _decide_condition(cond)
                if truth is None:
                    raise _Unsupported("a Piecewise condition is undecided")
                if truth:
                    return ev(val)
            raise _Unsupported("no Piecewise branch applies")
    if isinstance(e, sp.core.function.AppliedUndef):
        raise _Unsupported("an undefined function")
    if isinstance(e, sp.Function):
        r = e.rewrite(sp.exp)
        if r != e and not isinstance(r, type(e)):
            return ev(r)
        r = e.rewrite(sp.Piecewise)
        if r != e and not isinstance(r, type(e)):
            return ev(r)
    raise _Unsupported(f"no enclosure for {type(e).__name__}")


def _decide_condition(cond) -> Optional[bool]:
    """Truth of a relation between constants, from the certified sign of the difference."""
    if cond in (sp.true, True):
        return True
    if cond in (sp.false, False):
        return False
    if isinstance(cond, sp.core.relational.Relational):
        s = sign(cond.lhs - cond.rhs)[0]
        if s is None:
            return None
        return {sp.Gt: s > 0, sp.StrictGreaterThan: s > 0, sp.Ge: s >= 0, sp.Lt: s < 0, sp.Le: s <= 0,
                sp.Eq: s == 0, sp.Ne: s != 0}.get(type(cond))
    return None


def _ball(e: sp.Basic, ring, prec: int):
    old = flint.ctx.prec
    flint.ctx.prec = prec
    try:
        v = _to_ball(e, ring)
    except (_Unsupported, ZeroDivisionError, ValueError, TypeError, AssertionError):
        return None
    finally:
        flint.ctx.prec = old
    return v if v.is_finite() else None


def is_constant(e) -> bool:
    return isinstance(e, sp.Expr) and not e.free_symbols and not e.atoms(sp.core.function.AppliedUndef) \
        and not e.has(sp.nan, sp.zoo, sp.oo, sp.S.NegativeInfinity)


def _algebraic_zero(e: sp.Expr) -> Optional[bool]:
    """Exact zero test for algebraic constants (rationals, radicals, I): True/False, None if not algebraic."""
    if not all(isinstance(a, (sp.Add, sp.Mul, sp.Pow, sp.Rational, sp.core.numbers.ImaginaryUnit)) for a in sp.preorder_traversal(e)):
        return None
    if any(isinstance(a, sp.Pow) and not isinstance(a.exp, sp.Rational) for a in sp.preorder_traversal(e)):
        return None
    try:
        return sp.minimal_polynomial(e, sp.Dummy("x")).is_Symbol
    except Exception:  # noqa: BLE001 - NotAlgebraic, NotImplementedError: undecided
        return None


@lru_cache(maxsize=4096)
def sign(e: sp.Expr) -> tuple[Optional[int], str]:
    """Certified sign of a real constant: (-1 | 0 | 1, engine), or (None, reason) when undecided."""
    if not is_constant(e):
        return None, "not a constant"
    if isinstance(e, sp.Rational):
        return int(e.p > 0) - int(e.p < 0), "exact"
    if getattr(_local, "busy", False):
        return None, "nested"
    _local.busy = True
    try:
        v = None
        if flint is not None:
            for prec in PRECISIONS:
                v = _ball(e, flint.arb, prec)
                if v is None:
                    break
                if v > 0:
                    return 1, "flint-arb"
                if v < 0:
                    return -1, "flint-arb"
            if v is None:  # no real enclosure: is the constant certifiably non-real?
                z = _ball(e, flint.acb, PRECISIONS[1])
                if z is not None and not z.imag.contains(0):
                    return None, NONREAL
        if _algebraic_zero(e) is True:
            return 0, "sympy-minpoly"
        return None, "no certified enclosure excludes 0"
    finally:
        _local.busy = False


@lru_cache(maxsize=4096)
def nonzero(e: sp.Expr) -> tuple[Optional[bool], str]:
    """Certified: is the (possibly complex) constant non-zero? (True | False, engine) or (None, reason)."""
    s, how = sign(e)
    if s is not None:
        return s != 0, how
    if not is_constant(e):
        return None, "not a constant"
    if getattr(_local, "busy", False):
        return None, "nested"
    _local.busy = True
    try:
        if flint is not None:
            for prec in PRECISIONS:
                v = _ball(e, flint.acb, prec)
                if v is None:
                    break
                if not v.contains(0):
                    return True, "flint-acb"
        z = _algebraic_zero(e)
        if z is not None:
            return (not z), "sympy-minpoly"
        return None, "no certified enclosure excludes 0"
    finally:
        _local.busy = False


def enclosure_text(e: sp.Expr, prec: int = 128) -> str:
    """A printable certified enclosure of a constant (for counterexample reports)."""
    if flint is None:
        return "?"
    for ring in (flint.arb, flint.acb):
        v = _ball(e, ring, prec)
        if v is not None:
            return v.str(12, radius=True)
    return "?"


_installed = False


def install() -> None:
    """Make SymPy's numeric sign decision of numbers certified (see the module docstring). Idempotent."""
    global _installed
    if _installed:
        return
    from sympy.core.expr import Expr

    def _eval_is_extended_positive_negative(self, positive):
        if not self.is_number:
            return None
        if self.has(sp.Float):  # SymPy's Float arithmetic: keep its own (inexact) convention
            return _original(self, positive)
        s, why = sign(self)
        if s is None:
            return False if why == NONREAL else None
        return s > 0 if positive else s < 0

    from sympy.core import relational

    def _n2(a, b):
        if not (a.is_comparable and b.is_comparable):
            return None
        if a.has(sp.Float) or b.has(sp.Float):
            return _original_n2(a, b)
        if a.is_infinite or b.is_infinite:
            return _original_n2(a, b)
        s, _ = sign(a - b)
        return None if s is None else sp.Integer(s)

    _original = Expr._eval_is_extended_positive_negative
    Expr._eval_is_extended_positive_negative = _eval_is_extended_positive_negative
    _original_n2 = relational._n2
    relational._n2 = _n2
    _installed = True


__all__ = ["sign", "nonzero", "is_constant", "enclosure_text", "install", "PRECISIONS"]
