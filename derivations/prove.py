"""The prover: decide ``expr == 0`` exactly, in tiers, and never call an undecided check "proved".

Tiers (cheapest first), each an exact computation:

1. structural: the expression is literally 0;
2. polynomial: function atoms -> independent symbols, then ``expand`` gives 0 (sound: a polynomial
   that vanishes for free symbols vanishes for any values of the atoms);
3. rational: the same with ``cancel(together(.))``;
4. exp-rational: rewrite sigmoid/tanh/relu-free terms to ``exp``, then tier 3;
5. simplify: ``sympy.simplify`` under a time limit.

If no tier returns 0, a refuter evaluates the expression at random rational points with 50-digit
mpmath; a clearly non-zero value is a counterexample ("refuted"). Otherwise the verdict is
"undecided": numeric agreement is evidence, never proof.
"""
from __future__ import annotations

import random
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

import sympy as sp

from .functions import phi, phi_prime, relu, sigmoid

PROVED, REFUTED, UNDECIDED = "proved", "refuted", "undecided"


@dataclass(frozen=True)
class ProofResult:
    """Outcome of one proof obligation."""

    status: str  # proved | refuted | undecided
    method: str
    detail: str = ""
    counterexample: Optional[dict] = field(default=None)

    @property
    def proved(self) -> bool:
        return self.status == PROVED

    def to_json(self) -> dict:
        return {"status": self.status, "method": self.method, "detail": self.detail,
                "counterexample": self.counterexample}


class _Timeout(Exception):
    pass


@contextmanager
def _time_limit(seconds: float):
    """SIGALRM-based limit in the main thread; elsewhere the tier is skipped (raises _Timeout)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        raise _Timeout()

    def handler(signum, frame):
        raise _Timeout()

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _atoms_to_symbols(e: sp.Expr) -> sp.Expr:
    """Replace derivative objects and applied functions (outermost first) by fresh symbols."""
    for cls in ((sp.Derivative, sp.Subs), (sp.Function,)):
        atoms = sorted(e.atoms(*cls), key=lambda a: -sp.count_ops(a))
        for a in atoms:
            if a in e.atoms(*cls):
                e = e.xreplace({a: sp.Dummy(positive=True) if isinstance(a, sp.exp) else sp.Dummy()})
    return e


def _to_exp(e: sp.Expr) -> sp.Expr:
    e = e.rewrite(sigmoid, sp.exp) if e.has(sigmoid) else e
    e = e.replace(lambda a: isinstance(a, sigmoid), lambda a: 1 / (1 + sp.exp(-a.args[0])))
    return e.rewrite(sp.exp)


def _free_values(e: sp.Expr, rng: random.Random) -> dict:
    vals = {}
    for s in e.free_symbols:
        v = sp.Rational(rng.randint(1, 3000), 1000)
        if not s.is_positive and not s.is_nonnegative and rng.random() < 0.5:
            v = -v
        if s.is_integer:
            v = sp.Integer(rng.randint(1, 5))
        vals[s] = v
    return vals


def refute(e: sp.Expr, points: int = 8, seed: int = 0, digits: int = 50) -> Optional[dict]:
    """Search for a point where ``e`` is clearly non-zero (50-digit evaluation). None if none found."""
    if e.has(phi, phi_prime) or e.atoms(sp.core.function.AppliedUndef):
        return None  # undefined functions cannot be evaluated
    rng = random.Random(seed)
    for _ in range(points):
        vals = _free_values(e, rng)
        try:
            v = sp.N(e.xreplace(vals).rewrite(sp.exp) if e.has(relu) else e.xreplace(vals), digits)
        except Exception:  # noqa: BLE001 - evaluation failure is "no counterexample here"
            continue
        if v.is_number and v.is_finite is not False and v.is_comparable and abs(v) > sp.Float(10) ** (-(digits // 2)):
            return {"point": {str(k): str(val) for k, val in vals.items()}, "value": str(sp.N(v, 12))}
    return None


def prove_zero(expr: Any, *, simplify_seconds: float = 5.0, use_simplify: bool = True) -> ProofResult:
    """Decide ``expr == 0`` (a scalar). Returns a `ProofResult`; "proved" only from an exact tier."""
    e = sp.sympify(expr)
    if e == 0:
        return ProofResult(PROVED, "structural")
    try:
        e2 = _atoms_to_symbols(e)
        if sp.expand(e2) == 0:
            return ProofResult(PROVED, "polynomial")
        if sp.cancel(sp.together(e2)) == 0:
            return ProofResult(PROVED, "rational")
    except (sp.PolynomialError, TypeError, ValueError):
        pass
    try:
        ex = _to_exp(e)
        if sp.cancel(sp.together(sp.expand(ex))) == 0:
            return ProofResult(PROVED, "exp-rational")
    except (sp.PolynomialError, TypeError, ValueError):
        pass
    if use_simplify:
        try:
            with _time_limit(simplify_seconds):
                if sp.simplify(_to_exp(e)) == 0:
                    return ProofResult(PROVED, "simplify")
        except _Timeout:
            pass
    cex = refute(e)
    if cex is not None:
        return ProofResult(REFUTED, "numeric-counterexample", "non-zero at a point (50 digits)", cex)
    return ProofResult(UNDECIDED, "none", "no exact tier returned 0; numeric agreement is not proof")


def prove_equal(lhs: Any, rhs: Any, **kw) -> ProofResult:
    """Decide ``lhs == rhs`` for scalars or explicit matrices (entry by entry, all must prove)."""
    lhs, rhs = sp.sympify(lhs), sp.sympify(rhs)
    if isinstance(lhs, sp.MatrixBase) or isinstance(rhs, sp.MatrixBase):
        lhs, rhs = sp.Matrix(lhs), sp.Matrix(rhs)
        if lhs.shape != rhs.shape:
            return ProofResult(REFUTED, "shape", f"shapes differ: {lhs.shape} vs {rhs.shape}")
        return combine(prove_zero(a - b, **kw) for a, b in zip(lhs, rhs))
    return prove_zero(lhs - rhs, **kw)


def prove_true(rel: Any) -> ProofResult:
    """Decide a relation between exact numbers/expressions (``sympy`` evaluates it rigorously)."""
    r = sp.sympify(rel)
    if r is sp.true:
        return ProofResult(PROVED, "relational", str(rel))
    if r is sp.false:
        return ProofResult(REFUTED, "relational", str(rel))
    return ProofResult(UNDECIDED, "relational", f"could not decide {r}")


def prove_positive(expr: Any) -> ProofResult:
    """Decide ``expr > 0`` for all values allowed by the symbols' assumptions."""
    e = sp.sympify(expr)
    for form in (e, _to_exp(e), sp.factor(sp.together(_to_exp(e)))):
        if form.is_positive is True:
            return ProofResult(PROVED, "assumptions", f"{form} > 0")
    cex = refute_positive(e)
    if cex is not None:
        return ProofResult(REFUTED, "numeric-counterexample", "not positive at a point", cex)
    return ProofResult(UNDECIDED, "assumptions", f"cannot decide {e} > 0")


def refute_positive(e: sp.Expr, points: int = 16, seed: int = 0) -> Optional[dict]:
    rng = random.Random(seed)
    for _ in range(points):
        vals = _free_values(e, rng)
        v = sp.N(e.xreplace(vals), 30)
        if v.is_comparable and v <= 0:
            return {"point": {str(k): str(x) for k, x in vals.items()}, "value": str(sp.N(v, 12))}
    return None


def combine(results: Iterable[ProofResult]) -> ProofResult:
    """All proved -> proved (methods listed); any refuted -> refuted; else undecided."""
    results = list(results)
    for r in results:
        if r.status == REFUTED:
            return r
    for r in results:
        if r.status == UNDECIDED:
            return r
    methods = sorted({r.method for r in results})
    return ProofResult(PROVED, "+".join(methods) if methods else "structural")
