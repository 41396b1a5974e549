"""Entry-wise proofs at symbolic sizes: matrix formulas checked entry (i, j) for every n, not at n = 2, 3.

A compact formula written with ``MatrixSymbol``s of symbolic shape (``n``, ``m`` SymPy symbols) has a
symbolic entry ``M[i, j]``: a finite ``Sum`` over bound indices of ``MatrixElement``s. An element-wise
derivation differentiates such entries by a ``MatrixElement`` at a symbolic index (``h[l, 0]``), which
gives ``KroneckerDelta``s. To compare the two for *every* size:

1. ``doit`` evaluates the finite sums against the Kronecker deltas; what is left are ``Piecewise``
   guards such as ``l <= n - 1``;
2. `resolve_guards` decides each guard under the index preconditions ``0 <= idx <= N - 1`` of the free
   indices, exactly: ``N`` is written ``idx + 1 + s`` with ``s`` a fresh non-negative integer, and the guard
   is true when its slack is then non-negative by SymPy's assumptions (a sign read off symbols, never a
   float). An undecided guard stays, and the proof of the identity fails to "undecided";
3. `canonical` renames every bound summation index by its nesting depth, so that two equal sums written
   with different dummy indices are the same expression;
4. the difference is handed to the prover (`prove.prove_zero`).

Sound by construction: every step is an exact rewrite valid under the stated index preconditions.
"""
from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixElement

from .prove import ProofResult, as_expr, combine, prove_zero


def canonical(expr: sp.Basic, depth: int = 0) -> sp.Basic:
    """Alpha-normalize: the bound index of a sum at nesting depth d becomes ``_k{d}`` (integer)."""
    if isinstance(expr, sp.Sum):
        body, limits = expr.function, list(expr.limits)
        new_limits = []
        for j, (var, lo, hi) in enumerate(limits):
            k = sp.Symbol(f"_k{depth + j}", integer=True)
            if k != var and k in body.free_symbols:
                k = var  # the name is taken by a free symbol of the body: renaming would capture it
            body = body.xreplace({var: k})
            new_limits.append((k, canonical(lo, depth), canonical(hi, depth)))
        return sp.Sum(canonical(body, depth + len(limits)), *new_limits)
    if not expr.args or isinstance(expr, (sp.Symbol, sp.MatrixSymbol)):
        return expr
    return expr.func(*[canonical(a, depth) for a in expr.args])


def implied_nonnegative(e, bounds: dict) -> bool:
    """Is the integer expression e >= 0 implied by 0 <= idx <= N - 1 for the bounds {idx: N}? Each N is written
    idx + 1 + slack (slack a fresh non-negative integer) and solved for one size symbol; the sign is read off
    SymPy's assumptions (a linear solve; also all bounds at once)."""
    e = sp.expand(e)
    if e.is_nonnegative:
        return True
    subs_all = {}
    for idx, N in bounds.items():  # N = idx + 1 + slack, solved for one size symbol of coefficient +-1
        D = sp.expand(N - idx - 1 - sp.Dummy("slack", integer=True, nonnegative=True))
        for size in sorted(N.free_symbols - {idx}, key=str):
            if unit_coefficient(D, size):
                rep = {size: solve_unit(D, size)}
                if sp.expand(e.xreplace(rep)).is_nonnegative:
                    return True
                if size not in subs_all and not (set(subs_all) & rep[size].free_symbols) and not any(
                        size in v.free_symbols for v in subs_all.values()):
                    subs_all.update(rep)
                break
    return bool(subs_all) and bool(sp.expand(e.xreplace(subs_all)).is_nonnegative)


def unit_coefficient(D, v) -> bool:
    """Does v occur in D linearly with coefficient +1 or -1?"""
    return v in D.free_symbols and sp.diff(D, v) in (1, -1)


def solve_unit(D, v):
    """The solution of D = 0 for v (coefficient +-1)."""
    D = sp.expand(D)
    return sp.expand(-(D - D.coeff(v, 1) * v) / D.coeff(v, 1))


def _guard_true(rel, bounds: dict) -> bool:
    """Is the integer relation ``rel`` implied by ``0 <= idx <= N - 1`` for some (idx, N) of ``bounds``?"""
    if isinstance(rel, (sp.LessThan, sp.StrictLessThan)):
        small, big = rel.lhs, rel.rhs
    elif isinstance(rel, (sp.GreaterThan, sp.StrictGreaterThan)):
        small, big = rel.rhs, rel.lhs
    else:
        return False
    slack = big - small - (1 if isinstance(rel, (sp.StrictLessThan, sp.StrictGreaterThan)) else 0)
    if implied_nonnegative(slack, bounds):
        return True
    for idx, N in bounds.items():  # a size of coefficient other than +-1 (N = 2 n): solve
        s = sp.Dummy("s", integer=True, nonnegative=True)
        # N = idx + 1 + s solves for one size symbol of N (N may be n, or n - 1, or 2 n)
        syms = sorted(N.free_symbols - {idx}, key=str)
        for size in syms:
            sol = sp.solve(sp.Eq(N, idx + 1 + s), size)
            if len(sol) == 1 and sp.expand(slack.xreplace({size: sol[0]})).is_nonnegative:
                return True
    return False


def _decide(cond, bounds: dict):
    """A guard condition with every relational atom replaced by True when the preconditions imply it."""
    if cond in (sp.true, sp.false):
        return cond
    return cond.xreplace({r: sp.true for r in cond.atoms(sp.core.relational.Relational) if _guard_true(r, bounds)})


def resolve_guards(expr: sp.Basic, bounds: dict) -> sp.Basic:
    """Evaluate finite sums, then drop every ``Piecewise`` branch whose guard the index bounds decide."""
    expr = expr.doit()

    def fold(e):
        if isinstance(e, sp.Piecewise):
            for value, cond in e.args:
                c = _decide(cond, bounds)
                if c is sp.true:
                    return fold(value)
                if c is not sp.false:
                    return e.func(*[(fold(v), c) for v, c in e.args])
            return e
        if isinstance(e, sp.KroneckerDelta) and len(e.args) == 3:
            return sp.KroneckerDelta(e.args[0], e.args[1]) if _decide(
                sp.And(e.args[0] >= e.args[2][0], e.args[0] <= e.args[2][1], e.args[1] >= e.args[2][0],
                       e.args[1] <= e.args[2][1]), bounds) is sp.true else e
        if not e.args or isinstance(e, (sp.Symbol, sp.MatrixSymbol)):
            return e
        return e.func(*[fold(a) for a in e.args])

    return fold(expr)


def entry(M: sp.MatrixExpr, i, j) -> sp.Expr:
    """The symbolic entry ``M[i, j]`` of a matrix expression (finite sums, not yet evaluated)."""
    return M[i, j]


def prove_entry_equal(lhs: sp.Expr, rhs: sp.Expr, bounds: dict, **kw) -> ProofResult:
    """Prove the scalar entries ``lhs == rhs`` for every size, under ``0 <= idx <= N - 1`` for ``bounds``."""
    a = canonical(resolve_guards(as_expr(lhs), bounds))
    b = canonical(resolve_guards(as_expr(rhs), bounds))
    if a == b:
        return ProofResult("proved", "entry-wise (symbolic size)", "equal after evaluating sums and index guards")
    return prove_zero(a - b, **kw)


def prove_entries_equal(pairs, bounds: dict, **kw) -> ProofResult:
    """All of ``[(lhs, rhs), ...]`` equal for every size (see `prove_entry_equal`)."""
    return combine(prove_entry_equal(a, b, bounds, **kw) for a, b in pairs)


def index(name: str) -> sp.Symbol:
    """A non-negative integer index symbol."""
    return sp.Symbol(name, integer=True, nonnegative=True)


# ---- abstraction and linear sums: pre-activation entries made opaque, entries built node by node

def opaque_subterms(expr: sp.Basic, templates: list) -> sp.Basic:
    """Replace each sub-expression that is literally ``entry(k)`` of a template by ``F(k)``.

    A one-term sum ``Sum(t(d), (d, a, a))`` is replaced by ``t(a)`` on the way (exact).
    ``templates``: ``[(key, entry, F), ...]``, inner first: ``key`` a MatrixSymbol whose element
    ``key[k, 0]`` is a term of the template's entry (it locates ``k``), ``entry(k)`` the template's
    entry at index ``k`` (itself abstracted with the templates before it), ``F`` an undefined Function.
    """
    memo: dict = {}
    seen: dict = {}

    def template(pos, k):
        if (pos, k) not in seen:
            key, entry, F = templates[pos]
            seen[(pos, k)] = canonical(opaque_subterms(entry(k), templates[:pos]))
        return seen[(pos, k)]

    def walk(e):
        if e in memo:
            return memo[e]
        if not e.args or isinstance(e, (sp.Symbol, sp.MatrixSymbol, MatrixElement)):
            return e
        if isinstance(e, sp.Sum) and len(e.limits) == 1 and e.limits[0][1] == e.limits[0][2]:
            (d, lo, _), = e.limits  # a one-term sum (an outer product's inner index): its term, exactly
            memo[e] = walk(e.function.xreplace({d: lo}))
            return memo[e]
        new = e.func(*[walk(a) for a in e.args])
        if isinstance(new, sp.Add):
            keys = {t.parent: t.i for t in new.args if isinstance(t, MatrixElement) and t.j == 0}
            for pos, (key, _, F) in enumerate(templates):
                if key in keys and template(pos, keys[key]) == canonical(new):
                    new = F(keys[key])
                    break
        memo[e] = new
        return new

    return walk(expr)


def prove_entries(pairs, bounds: dict, templates: list, **kw):
    """``[(lhs, rhs), ...]`` equal entry-wise for every size, pre-activations made opaque first."""
    from .prove import combine

    return combine(prove_entry_equal(opaque_subterms(a, templates), opaque_subterms(b, templates), bounds, **kw)
                   for a, b in pairs)


def sum_body(expr: sp.Expr, p: sp.Symbol, upper: sp.Expr):
    """``body(p)`` with ``expr == Sum(body(p), (p, 0, upper))``, when every term of ``expr`` is such a sum; else None.

    Sound: a sum of sums over the same range is the sum of the bodies (each bound index renamed p).
    """
    body = []
    for t in sp.Add.make_args(expr):
        if not (isinstance(t, sp.Sum) and len(t.limits) == 1 and t.limits[0][1] == 0 and t.limits[0][2] == upper):
            return None
        d = t.limits[0][0]
        body.append(t.function.xreplace({d: p}))
    return sp.Add(*body)


def sum_kronecker(body: sp.Expr, p: sp.Symbol, j: sp.Symbol):
    """``Sum(body, (p, 0, N-1))`` when every term of ``expand(body)`` carries the factor KroneckerDelta(p, j),
    j in [0, N-1]: the term at p = j. Else None (the caller then fails to "undecided")."""
    out = []
    for t in sp.Add.make_args(sp.expand(body)):
        deltas = [f for f in sp.Mul.make_args(t) if isinstance(f, sp.KroneckerDelta) and set(f.args[:2]) == {p, j}]
        if len(deltas) != 1:
            return None
        out.append((t / deltas[0]).xreplace({p: j}))
    return sp.Add(*out)


def prove_sum_linear(lhs: sp.Expr, rhs: sp.Expr, bounds: dict, templates: list, **kw):
    """``lhs == rhs`` for every size, when both are linear combinations of sums over one common range.

    Both sides must be free of index guards already (no ``Piecewise``): evaluate the guards of a compact
    entry first (`indexed.resolve_guards`), then form the sums. After the pre-activations are made opaque
    and the bound indices alpha-normalised (derivations/indexed.py), ``lhs - rhs`` is expanded and every
    term is either free of sums or ``coeff * Sum(body(k), (k, 0, N - 1))`` with ``coeff`` free of ``k``
    and one range shared by every term. Then ``lhs - rhs = rest + Sum(sum_of coeff * body(p), (p, 0, N - 1))``
    exactly; a summand term with the factor ``KroneckerDelta(p, j)``, ``j`` a free index of ``bounds`` with
    ``bounds[j] == N`` (so ``0 <= j <= N - 1``), is its value at ``p = j`` and moves to ``rest``. Then
    ``rest == 0`` together with the summand ``== 0`` at a free index ``p`` proves it (sound: a sum of zeros
    is zero). Any other shape fails to "undecided", never "proved". Why not `indexed.prove_entry_equal`:
    its ``doit`` tries symbolic summation on every sum of an undefined function (seconds per entry).
    """
    from .prove import ProofResult, combine, prove_zero

    undecided = lambda why: ProofResult("undecided", "sum-linear (symbolic size)", why)  # noqa: E731
    a = canonical(opaque_subterms(as_expr(lhs), templates))
    b = canonical(opaque_subterms(as_expr(rhs), templates))
    if a.has(sp.Piecewise) or b.has(sp.Piecewise):
        return undecided("index guards left: resolve them first")
    p = sp.Dummy("p", integer=True, nonnegative=True)
    rest, body, rng = [], [], None
    for term in sp.Add.make_args(sp.expand(a - b)):
        sums = [f for f in sp.Mul.make_args(term) if isinstance(f, sp.Sum)]
        if not sums:
            rest.append(term)
            continue
        if len(sums) != 1 or len(sums[0].limits) != 1:
            return undecided("a term is not coeff * one single sum")
        (k, lo, hi), = sums[0].limits
        coeff = term / sums[0]
        if k in coeff.free_symbols or lo != 0 or (rng is not None and rng != hi):
            return undecided("the sums do not share one range 0..N-1")
        rng = hi
        body.append(coeff * sums[0].function.xreplace({k: p}))
    summand = []
    for term in sp.Add.make_args(sp.expand(sp.Add(*body))):
        deltas = [f for f in sp.Mul.make_args(term) if isinstance(f, sp.KroneckerDelta) and p in f.args[:2]]
        j = None
        if len(deltas) == 1 and len(deltas[0].args) == 2:
            j = (set(deltas[0].args) - {p}).pop()
        if j is not None and j in bounds and sp.expand(bounds[j] - 1 - rng) == 0:
            rest.append((term / deltas[0]).xreplace({p: j}))
        else:
            summand.append(term)
    return combine([prove_zero(sp.Add(*rest), **kw), prove_zero(sp.Add(*summand), **kw)])


def entry_of(M, i, j, opaque=None):
    """The scalar entry ``M[i, j]`` of a compact matrix expression, from the definition of each node.

    ``opaque``: {column vector expression a: undefined function A}; the entry a[k, 0] is written A(k) (the
    abstraction of `opaque_subterms`, made while the entry is built instead of searched for afterwards).
    """
    if opaque and M in opaque and j == 0:
        return opaque[M](i)
    if isinstance(M, sp.MatrixSymbol):
        return M[i, j]
    if isinstance(M, sp.MatAdd):
        return sp.Add(*[entry_of(a, i, j, opaque) for a in M.args])
    if isinstance(M, sp.MatMul):
        coeff = sp.Mul(*[a for a in M.args if not getattr(a, "is_Matrix", False)])
        mats = [a for a in M.args if getattr(a, "is_Matrix", False)]
        return coeff * _product_entry(mats, i, j, opaque)
    if isinstance(M, sp.Transpose):
        return entry_of(M.arg, j, i, opaque)
    if isinstance(M, sp.HadamardProduct):
        return sp.Mul(*[entry_of(a, i, j, opaque) for a in M.args])
    if isinstance(M, sp.DiagMatrix):
        return sp.KroneckerDelta(i, j) * entry_of(M._vector, i, 0, opaque)
    if isinstance(M, sp.matrices.expressions.applyfunc.ElementwiseApplyFunction):
        return M.function(entry_of(M.expr, i, j, opaque))
    raise TypeError(f"entry_of: no rule for {type(M).__name__}")


def _product_entry(mats, i, j, opaque=None):
    """(A_1 ... A_r)[i, j]: a diagonal factor contributes its entry at the adjacent index, an inner
    dimension 1 a single term, any other inner dimension a sum over a fresh bound index."""
    if len(mats) == 1:
        return entry_of(mats[0], i, j, opaque)
    A, rest = mats[0], mats[1:]
    if isinstance(A, sp.DiagMatrix):
        return entry_of(A._vector, i, 0, opaque) * _product_entry(rest, i, j, opaque)
    if len(rest) == 1 and isinstance(rest[0], sp.DiagMatrix):
        return entry_of(A, i, j, opaque) * entry_of(rest[0]._vector, j, 0, opaque)
    inner = A.shape[1]
    if inner == 1:
        return entry_of(A, i, 0, opaque) * _product_entry(rest, 0, j, opaque)
    k = sp.Dummy("k", integer=True)
    return sp.Sum(entry_of(A, i, k, opaque) * _product_entry(rest, k, j, opaque), (k, 0, inner - 1))


__all__ = ["canonical", "resolve_guards", "entry", "prove_entry_equal", "prove_entries_equal", "index",
           "implied_nonnegative", "unit_coefficient", "solve_unit", "opaque_subterms", "prove_entries", "sum_body",
           "sum_kronecker", "prove_sum_linear", "entry_of"]
