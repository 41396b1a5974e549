"""The prover: decide ``expr == 0``, ``expr > 0`` and relations soundly, or say "undecided".

"proved" means proved: no zero, sign or relation is ever decided from a floating-point value. Every
result names its ``engine``: ``"sympy"`` (exact symbolic algebra), ``"flint-arb"``/``"flint-acb"``
(certified ball enclosures, `certify.py`), ``"sympy-minpoly"`` (exact zero test of an algebraic
number), ``"exact"`` (rational arithmetic).

`prove_zero` tiers (cheapest first):

1. structural: the expression is literally 0 (engine sympy);
2. constants (no free symbols): a certified enclosure that excludes 0 refutes; a rational or an
   algebraic number with minimal polynomial ``x`` proves (certify.py);
3. polynomial / rational: derivatives and applied functions -> independent symbols (outermost first),
   then ``expand`` / ``cancel(together(.))`` give 0. Sound: the identity then holds for *any* values
   of the atoms. ``exp(a)`` becomes a *positive* symbol only when ``a`` is provably real (the
   assumptions of every free symbol in ``a`` say so); otherwise a symbol without assumptions;
4. exp-rational: rewrite to ``exp`` and ``cancel`` (exponentials as polynomial generators);
5. simplify: ``sympy.simplify`` under a time limit; a result 0 is then cross-checked by the refuter.

Rational-function identities hold where both sides are defined (common denominators non-zero).

`prove_positive`: constants by their certified sign; otherwise SymPy's assumption system on the
expression, on its exp form and on its factored form, after each non-rational constant sub-expression
has been replaced by a symbol carrying only its *certified* sign. `prove_true`: a relation is decided as
the sign of ``lhs - rhs``; a relation SymPy already evaluated at construction (``Gt(2, 1)`` is ``True``)
is taken as decided: `certify.install()` makes SymPy's own numeric sign decision of numbers certified,
so that construction-time evaluation no longer rests on a 2-digit float.

The refuters (`refute`, `refute_positive`) evaluate at random rational points that satisfy every free
symbol's assumptions, and report a counterexample only when a certified enclosure at that point excludes
0 (or has the wrong sign). The point is drawn from a fixed seed with the symbols in a fixed order, so the
outcome does not depend on PYTHONHASHSEED.

Statements containing a SymPy ``Float`` (an inexact decimal) are never "proved"; empty matrices and
empty obligation lists are never "proved"; ``nan``/``zoo`` are undecided.

"undecided" means: neither proved by an exact tier nor refuted by a certified counterexample, within the
time limit (the detail says why). Numeric agreement is never proof. Every public function returns within
its time limit (a watchdog thread interrupts the computation, nested limits included, in any thread) and
never raises on a well-formed input.
"""
from __future__ import annotations

import ctypes
import random
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

import sympy as sp
from sympy.core.facts import InconsistentAssumptions
from sympy.matrices.expressions.matexpr import MatrixElement

from . import certify
from .functions import phi, phi_prime, sigmoid

certify.install()

PROVED, REFUTED, UNDECIDED = "proved", "refuted", "undecided"

#: default wall-clock limit of one public call (seconds)
TIME_LIMIT = 20.0


@dataclass(frozen=True)
class ProofResult:
    """Outcome of one proof obligation; ``engine`` names what decided it."""

    status: str  # proved | refuted | undecided
    method: str
    detail: str = ""
    counterexample: Optional[dict] = field(default=None)
    engine: str = "sympy"

    @property
    def proved(self) -> bool:
        return self.status == PROVED

    def to_json(self) -> dict:
        return {"status": self.status, "method": self.method, "detail": self.detail,
                "counterexample": self.counterexample, "engine": self.engine}


class _Timeout(BaseException):
    """Raised into the computing thread when its time limit passes (BaseException: SymPy's
    ``except Exception`` handlers do not swallow it)."""


class _Watchdog:
    """One daemon thread for the whole process: it interrupts a thread whose time limit has passed by
    injecting `_Timeout` into it (CPython's ``PyThreadState_SetAsyncExc``), and re-injects it every
    20 ms until that limit's block exits, so an outer limit still fires after an inner handler
    swallowed the first one. Works in any thread, nests, and interrupts pure-Python loops (not a
    single long C call)."""

    POLL = 0.02  # seconds between the watchdog's looks at the deadlines

    def __init__(self):
        self.lock = threading.Lock()
        self.active: dict[int, tuple[float, int, type]] = {}  # token -> (deadline, thread id, exception)
        self.fired: set[int] = set()
        self.counter = 0
        self.thread: Optional[threading.Thread] = None

    def _run(self):
        while True:
            time.sleep(self.POLL)
            now = time.monotonic()
            with self.lock:
                for token, (deadline, tid, exc) in list(self.active.items()):
                    if deadline <= now:
                        self.fired.add(token)
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid), ctypes.py_object(exc))

    def arm(self, seconds: float, exc: type) -> int:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="dlproof-prover-watchdog", daemon=True)
                self.thread.start()
            self.counter += 1
            self.active[self.counter] = (time.monotonic() + max(seconds, 0.0), threading.get_ident(), exc)
            return self.counter

    def disarm(self, token: int) -> bool:
        """Stop watching; True if an exception was injected for this token (it may still be pending)."""
        with self.lock:
            self.active.pop(token)
            if token in self.fired:
                self.fired.discard(token)
                return True
            return False


_WATCHDOG = _Watchdog()


@contextmanager
def _time_limit(seconds: float):
    """Interrupt the body with `_Timeout` after ``seconds`` (any thread; nests; see `_Watchdog`)."""
    exc = type("_TimeoutHere", (_Timeout,), {})  # this block's own exception class
    token = _WATCHDOG.arm(seconds, exc)
    try:
        yield
    finally:
        if _WATCHDOG.disarm(token):
            try:  # let a still-pending injection of our own exception surface here, and drop it
                for _ in range(1000):
                    pass
            except exc:
                pass


def _guarded(fn):
    """Run a public prover under the overall time limit; any failure is "undecided" with its reason."""

    def wrapper(*args, time_limit: float = TIME_LIMIT, **kw):
        try:
            with _time_limit(time_limit):
                return fn(*args, **kw)
        except _Timeout:
            return ProofResult(UNDECIDED, "time-limit", f"no decision within {time_limit} s", engine="none")
        except Exception as err:  # noqa: BLE001 - never raise on a well-formed input
            return ProofResult(UNDECIDED, "error", f"{type(err).__name__}: {err}"[:300], engine="none")

    wrapper.__name__, wrapper.__doc__, wrapper.__wrapped__ = fn.__name__, fn.__doc__, fn
    return wrapper


def _key(a) -> tuple:
    return sp.default_sort_key(a)


def _inexact(e) -> bool:
    return isinstance(e, sp.Basic) and bool(e.atoms(sp.Float))


def _bad_number(e) -> bool:
    return isinstance(e, sp.Basic) and e.has(sp.nan, sp.zoo, sp.oo, sp.S.NegativeInfinity)


def _provably_real(a: sp.Expr) -> bool:
    """``a`` is real by exact reasoning (free symbols' assumptions; constants by certified enclosure)."""
    if certify.is_constant(a):
        return certify.sign(a)[0] is not None
    return a.is_extended_real is True and a.is_finite is True


def _atoms_to_symbols(e: sp.Expr) -> sp.Expr:
    """Replace derivative objects and applied functions (outermost first) by fresh symbols.

    ``exp(a)`` becomes a positive symbol only when ``a`` is provably real; everything else a symbol
    without assumptions (so the identity is proved for every value of the atom).
    """
    for cls in ((sp.Derivative, sp.Subs), (sp.Function,)):
        atoms = sorted(e.atoms(*cls), key=lambda a: (-sp.count_ops(a), _key(a)))
        for a in atoms:
            if a in e.atoms(*cls):
                pos = isinstance(a, sp.exp) and _provably_real(a.args[0])
                e = e.xreplace({a: sp.Dummy(positive=True) if pos else sp.Dummy()})
    return e


def _to_exp(e: sp.Expr) -> sp.Expr:
    e = e.rewrite(sigmoid, sp.exp) if e.has(sigmoid) else e
    e = e.replace(lambda a: isinstance(a, sigmoid), lambda a: 1 / (1 + sp.exp(-a.args[0])))
    return e.rewrite(sp.exp)


def _abstract_constants(e: sp.Expr) -> sp.Expr:
    """Replace each maximal non-rational constant sub-expression by a symbol with its certified sign only."""
    cache: dict = {}

    def fresh(c):
        if c not in cache:
            s, why = certify.sign(c)
            kw = {1: {"positive": True}, -1: {"negative": True}}.get(s, {"real": True} if s is None and why != certify.NONREAL else {})
            cache[c] = sp.Integer(0) if s == 0 else sp.Dummy(**kw)
        return cache[c]

    def walk(a):
        if isinstance(a, sp.Rational) or not isinstance(a, sp.Expr) or not a.args:
            return a if not (isinstance(a, sp.Expr) and a.is_number and not isinstance(a, sp.Rational)) else fresh(a)
        if certify.is_constant(a):
            return fresh(a)
        if isinstance(a, (sp.Add, sp.Mul)):
            const = [x for x in a.args if certify.is_constant(x)]
            rest = [walk(x) for x in a.args if not certify.is_constant(x)]
            if const:
                c = a.func(*const)
                rest.append(c if isinstance(c, sp.Rational) else fresh(c))
            return a.func(*rest)
        return a.func(*[walk(x) for x in a.args])

    return walk(e)


def _symbol_value(s: sp.Symbol, rng: random.Random) -> Optional[sp.Rational]:
    """A rational value that satisfies every assumption of ``s`` (None when none is found)."""
    for _ in range(6):
        if s.is_integer:
            v = sp.Integer(rng.randint(1, 5))
        else:
            v = sp.Rational(rng.randint(1, 3000), 1000)
        if s.is_nonnegative is not True and s.is_positive is not True and rng.random() < 0.5:
            v = -v
        if s.is_nonpositive or s.is_negative:
            v = -abs(v)
        if all(getattr(v, f"is_{k}") == val for k, val in s.assumptions0.items()
               if hasattr(v, f"is_{k}") and k not in ("commutative",)):
            return v
    return None


def _points(e: sp.Expr, count: int, seed: int):
    """Deterministic random rational points satisfying the symbols' assumptions (symbols in str order)."""
    syms = sorted(e.free_symbols, key=lambda s: (str(s), _key(s)))
    rng = random.Random(seed)
    for _ in range(count):
        vals = {}
        for s in syms:
            v = _symbol_value(s, rng) if isinstance(s, sp.Symbol) else None
            if v is None:
                return
            vals[s] = v
        yield vals


def _at(e: sp.Expr, vals: dict) -> Optional[sp.Expr]:
    """``e`` at the point, without SymPy's automatic (float-based) evaluation of the result."""
    try:
        with sp.evaluate(False):
            v = e.xreplace(vals)
    except Exception:  # noqa: BLE001
        return None
    return v if certify.is_constant(v) else None


def _cex(vals: dict, v: sp.Expr, engine: str) -> dict:
    return {"point": {str(k): str(x) for k, x in vals.items()}, "value": certify.enclosure_text(v),
            "engine": engine}


#: families of values that a point cannot draw entry by entry without breaking their relations (t[j] at
#: j = 0 is t[0]; a sum's terms; an index out of its range): the refuter never evaluates them
_INDEXED_FAMILIES = (sp.Indexed, sp.IndexedBase, MatrixElement, sp.Sum, sp.Product, sp.KroneckerDelta)


def _evaluable(e) -> bool:
    """Can a point of independent rational values refute ``e``? (No undefined functions, no indexed families.)"""
    return (isinstance(e, sp.Expr) and not e.has(phi, phi_prime, *_INDEXED_FAMILIES)
            and not e.atoms(sp.core.function.AppliedUndef))


def _search(e: sp.Expr, points: int, seed: int, witness) -> Optional[dict]:
    """The first point where ``witness(value)`` certifies a counterexample (``(True, engine)``), or None."""
    e = sp.sympify(e)
    if not _evaluable(e):
        return None  # undefined functions and indexed families cannot be evaluated at an independent point
    for vals in _points(e, points, seed):
        v = _at(e, vals)
        if v is None:
            continue
        found, engine = witness(v)
        if found:
            return _cex(vals, v, engine)
    return None


def _sign_witness(bad_signs: tuple):
    def witness(v):
        s, engine = certify.sign(v)
        return s is not None and s in bad_signs, engine
    return witness


def as_expr(x: Any) -> sp.Basic:
    """A SymPy object or a Python number as SymPy (``strict``: text is refused, never parsed or evaluated)."""
    return sp.sympify(x, strict=True)


def refute(e: sp.Expr, points: int = 8, seed: int = 0, digits: int = 50) -> Optional[dict]:
    """A point where ``e`` is certified non-zero (ball enclosure excludes 0), or None. ``digits`` unused."""
    return _search(e, points, seed, lambda v: (lambda nz, engine: (nz is True, engine))(*certify.nonzero(v)))


def refute_positive(e: sp.Expr, points: int = 16, seed: int = 0) -> Optional[dict]:
    """A point where ``e <= 0`` is certified (sign -1 from an enclosure, or an exact 0), or None."""
    return _search(e, points, seed, _sign_witness((-1, 0)))


def _refuted(cex: dict, what: str) -> ProofResult:
    return ProofResult(REFUTED, "certified-counterexample", what, cex, engine=cex.get("engine", "flint-arb"))


@_guarded
def prove_zero(expr: Any, *, simplify_seconds: float = 5.0, use_simplify: bool = True) -> ProofResult:
    """Decide ``expr == 0`` (a scalar). "proved" only from an exact tier (see the module docstring)."""
    e = sp.sympify(expr)
    if not isinstance(e, sp.Expr) or isinstance(e, sp.MatrixBase):
        return ProofResult(UNDECIDED, "none", f"not a scalar expression: {type(e).__name__}", engine="none")
    if _bad_number(e):
        return ProofResult(UNDECIDED, "none", "contains nan/zoo/oo: not a finite value", engine="none")
    inexact = _inexact(e)
    if e == 0 and not inexact:
        return ProofResult(PROVED, "structural")
    if certify.is_constant(e):
        nz, engine = certify.nonzero(e)
        if nz is True:
            return _refuted({"point": {}, "value": certify.enclosure_text(e), "engine": engine},
                            "the constant is non-zero (certified enclosure)")
        if nz is False and not inexact:
            return ProofResult(PROVED, "constant", "exact zero test", engine=engine)
    if not inexact:
        for method, f in (("polynomial", lambda a: sp.expand(_atoms_to_symbols(a))),
                          ("rational", lambda a: sp.cancel(sp.together(_atoms_to_symbols(a)))),
                          ("exp-rational", lambda a: sp.cancel(sp.together(sp.expand(_to_exp(a)))))):
            try:
                if f(e) == 0:
                    return ProofResult(PROVED, method)
            except (sp.PolynomialError, TypeError, ValueError, InconsistentAssumptions):
                pass
        if use_simplify:
            try:
                with _time_limit(simplify_seconds):
                    zero = sp.simplify(_to_exp(e)) == 0
            except _Timeout:
                zero = False
            except Exception:  # noqa: BLE001 - a SymPy failure is "this tier did not decide"
                zero = False
            if zero:
                cex = refute(e)
                if cex is None:
                    return ProofResult(PROVED, "simplify")
                return _refuted(cex, "simplify returned 0, but a certified evaluation is non-zero")
    cex = refute(e)
    if cex is not None:
        return _refuted(cex, "non-zero at a point (certified enclosure)")
    why = "contains a Float (inexact): never proved" if inexact else \
        "no exact tier returned 0; numeric agreement is not proof"
    return ProofResult(UNDECIDED, "none", why, engine="none")


@_guarded
def prove_equal(lhs: Any, rhs: Any, **kw) -> ProofResult:
    """Decide ``lhs == rhs`` for scalars or explicit matrices (entry by entry, all must prove)."""
    lhs, rhs = sp.sympify(lhs), sp.sympify(rhs)
    if isinstance(lhs, sp.MatrixBase) or isinstance(rhs, sp.MatrixBase):
        lhs, rhs = sp.Matrix(lhs), sp.Matrix(rhs)
        if lhs.shape != rhs.shape:
            return ProofResult(REFUTED, "shape", f"shapes differ: {lhs.shape} vs {rhs.shape}")
        if 0 in lhs.shape:
            return ProofResult(UNDECIDED, "empty", f"empty {lhs.shape} matrices: nothing is established",
                               engine="none")
        return combine(prove_zero.__wrapped__(a - b, **kw) for a, b in zip(lhs, rhs))
    return prove_zero.__wrapped__(lhs - rhs, **kw)


def _sign_claim(d: sp.Expr, strict: bool) -> ProofResult:
    """``d > 0`` (strict) or ``d >= 0``: certified for constants, SymPy assumptions otherwise."""
    if _bad_number(d):
        return ProofResult(UNDECIDED, "none", "contains nan/zoo/oo", engine="none")
    inexact = _inexact(d)
    if certify.is_constant(d):
        s, engine = certify.sign(d)
        if s is None:
            return ProofResult(UNDECIDED, "certified-sign", f"sign of {sp.sstr(d)[:120]} undecided: {engine}",
                               engine="none")
        ok = s > 0 if strict else s >= 0
        if ok and not inexact:
            return ProofResult(PROVED, "certified-sign", f"sign {s:+d}", engine=engine)
        if not ok:
            return ProofResult(REFUTED, "certified-sign", f"sign {s:+d}",
                               {"point": {}, "value": certify.enclosure_text(d), "engine": engine}, engine=engine)
        return ProofResult(UNDECIDED, "none", "contains a Float (inexact): never proved", engine="none")
    if not inexact:
        forms = [lambda: d, lambda: _to_exp(d), lambda: sp.factor(sp.together(_to_exp(d)))]
        for make in forms:
            try:
                form = _abstract_constants(make())
                ok = form.is_positive if strict else form.is_nonnegative
            except (sp.PolynomialError, TypeError, ValueError, InconsistentAssumptions):
                continue
            if ok is True:
                return ProofResult(PROVED, "assumptions", f"{sp.sstr(form)[:200]} {'>' if strict else '>='} 0")
    cex = refute_positive(d) if strict else _refute_nonneg(d)
    if cex is not None:
        return _refuted(cex, "not positive at a point" if strict else "negative at a point")
    return ProofResult(UNDECIDED, "assumptions", f"cannot decide {sp.sstr(d)[:200]} {'>' if strict else '>='} 0",
                       engine="none")


def _refute_nonneg(e: sp.Expr, points: int = 16, seed: int = 0) -> Optional[dict]:
    """A point where ``e < 0`` is certified, or None."""
    return _search(e, points, seed, _sign_witness((-1,)))


@_guarded
def prove_positive(expr: Any) -> ProofResult:
    """Decide ``expr > 0`` for all values allowed by the symbols' assumptions."""
    e = sp.sympify(expr)
    if not isinstance(e, sp.Expr):
        return ProofResult(UNDECIDED, "none", f"not a scalar expression: {type(e).__name__}", engine="none")
    return _sign_claim(e, strict=True)


def _relation(r) -> ProofResult:
    if r is sp.true or r is True:
        return ProofResult(PROVED, "relational", "evaluated by SymPy (numeric signs certified by certify.install)")
    if r is sp.false or r is False:
        return ProofResult(REFUTED, "relational", "evaluated by SymPy (numeric signs certified by certify.install)")
    if isinstance(r, sp.And):
        return combine(_relation(a) for a in sorted(r.args, key=_key))
    if isinstance(r, sp.core.relational.Relational):
        lhs, rhs = r.lhs, r.rhs
        if isinstance(lhs, sp.MatrixBase) or isinstance(rhs, sp.MatrixBase):
            return ProofResult(UNDECIDED, "relational", "a relation between matrices", engine="none")
        d = lhs - rhs
        if isinstance(r, sp.Eq):
            return prove_zero.__wrapped__(d)
        if isinstance(r, sp.Ne):
            z = prove_zero.__wrapped__(d)
            if z.status == PROVED:
                return ProofResult(REFUTED, z.method, "the two sides are equal", engine=z.engine)
            if certify.is_constant(d) and z.status == REFUTED:
                return ProofResult(PROVED, z.method, "certified non-zero difference", engine=z.engine)
            return ProofResult(UNDECIDED, "relational", f"cannot decide {sp.sstr(r)[:200]} for all values",
                               engine="none")
        if isinstance(r, (sp.StrictGreaterThan, sp.StrictLessThan)):
            return _sign_claim(d if isinstance(r, sp.StrictGreaterThan) else -d, strict=True)
        if isinstance(r, (sp.GreaterThan, sp.LessThan)):
            return _sign_claim(d if isinstance(r, sp.GreaterThan) else -d, strict=False)
    return ProofResult(UNDECIDED, "relational", f"could not decide {sp.sstr(r)[:200]}", engine="none")


@_guarded
def prove_true(rel: Any) -> ProofResult:
    """Decide a relation (Eq, Ne, <, <=, >, >=, And of them) as the certified sign of ``lhs - rhs``."""
    return _relation(sp.sympify(rel))


def combine(results: Iterable[ProofResult]) -> ProofResult:
    """All proved -> proved (methods and engines listed); any refuted -> refuted; none -> undecided."""
    results = list(results)
    if not results:
        return ProofResult(UNDECIDED, "none", "no obligations: nothing is established", engine="none")
    for r in results:
        if r.status == REFUTED:
            return r
    for r in results:
        if r.status == UNDECIDED:
            return r
    methods = sorted({r.method for r in results})
    engines = sorted({e for r in results for e in r.engine.split("+")})
    return ProofResult(PROVED, "+".join(methods), engine="+".join(engines))
