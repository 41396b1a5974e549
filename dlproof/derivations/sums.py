"""Finite sums with symbolic bounds: exact rewrites to a normal form, for proofs at every size.

Entry-wise proofs at symbolic sizes (`indexed.py`) leave sums such as ``sum_{p=0}^{n-1} W_ip F_p``. Two
sides that are equal as finite sums may be written differently; these rewrites bring them to one form,
each an identity of finite sums valid for every bound (linearity, constant factors out, products into a
sum, nested sums merged, independent ranges reordered (Fubini), a summand free of its index summed to
``(hi - lo + 1)`` times itself). Incomplete but sound: an identity that does not hold is never made to hold;
what the normal form cannot match is handed to the prover (`prove.prove_zero`) or left undecided.
"""
from __future__ import annotations

from itertools import permutations

import sympy as sp

from .indexed import canonical, opaque_subterms, prove_entry_equal, resolve_guards
from .prove import ProofResult, as_expr, prove_zero


def factor_out_of_sums(expr: sp.Basic) -> sp.Basic:
    """Pull the factors that do not depend on a sum's bound indices out of it: sum_p c f(p) -> c sum_p f(p).

    An exact rewrite, applied bottom-up. Entry-wise proofs need it when one side has a factor inside a
    sum that the other has outside (phi'(a_i) sum_p W_ip F_p vs sum_p phi'(a_i) W_ip F_p).
    """
    if isinstance(expr, sp.Sum):
        body = factor_out_of_sums(expr.function)
        bound = {v for v, _, _ in expr.limits}
        if isinstance(body, sp.Mul):
            outer = [f for f in body.args if not f.free_symbols & bound]
            inner = [f for f in body.args if f.free_symbols & bound]
            return sp.Mul(*outer) * sp.Sum(sp.Mul(*inner), *expr.limits)
        return sp.Sum(body, *expr.limits)
    if not expr.args or isinstance(expr, (sp.Symbol, sp.MatrixSymbol)):
        return expr
    return expr.func(*[factor_out_of_sums(a) for a in expr.args])


def prove_entry_equal_factored(lhs, rhs, bounds: dict) -> ProofResult:
    """`indexed.prove_entry_equal` after evaluating the sums and factoring constants out of them."""
    return prove_entry_equal(factor_out_of_sums(resolve_guards(lhs, bounds)),
                             factor_out_of_sums(resolve_guards(rhs, bounds)), bounds)


def _fresh(limits, body):
    """Rename a sum's bound indices to fresh integer Dummies (no capture when sums are merged)."""
    rep = {v: sp.Dummy(str(v), integer=True) for v, _, _ in limits}  # all at once: an inner range's bound
    new = [(rep[v], lo.xreplace(rep), hi.xreplace(rep)) for v, lo, hi in limits]  # may name an outer index
    return body.xreplace(rep), new


def sum_normal(expr: sp.Basic) -> sp.Basic:
    """A normal form of finite sums with symbolic bounds, by exact rewrites only.

    Linearity (the sum of an Add splits; a factor free of every bound index leaves the sum; a body free of
    every index with index-free bounds sums to (hi - lo + 1) body, valid for every hi, lo in SymPy's Karr
    convention); a product with a sum goes inside it (f Sum_p g = Sum_p f g, bound index fresh); nested sums
    become one multi-index sum; the ranges of a multi-index sum whose bounds are free of its indices are
    sorted (Fubini for finite sums). Incomplete (a tie in the sort keeps the order) but sound: an identity
    that does not hold is never made to hold.
    """
    if isinstance(expr, sp.Sum):
        body, lims = _fresh(expr.limits, sum_normal(expr.function))
        body = sp.expand(body)
        if isinstance(body, sp.Add):
            return sp.Add(*[sum_normal(sp.Sum(t, *lims)) for t in body.args])
        factors = sp.Mul.make_args(body)
        inner = [f for f in factors if isinstance(f, sp.Sum)]
        if inner:
            rest = sp.Mul(*[f for f in factors if f is not inner[0]])
            ib, il = _fresh(inner[0].limits, inner[0].function)
            return sum_normal(sp.Sum(rest * ib, *il, *lims))
        bound = {v for v, _, _ in lims}
        const = [f for f in factors if not (f.free_symbols & bound)]
        if const:
            rest = sp.Mul(*[f for f in factors if f not in const])
            if rest == 1:
                if any((lo.free_symbols | hi.free_symbols) & bound for _, lo, hi in lims):
                    return sp.Sum(body, *lims)
                return sp.Mul(*const) * sp.Mul(*[hi - lo + 1 for _, lo, hi in lims])
            return sp.Mul(*const) * sum_normal(sp.Sum(rest, *lims))
        if len(lims) > 1 and not any((lo.free_symbols | hi.free_symbols) & bound for _, lo, hi in lims):
            o = sp.Symbol("_o")
            lims = sorted(lims, key=lambda L: (sp.default_sort_key(L[2] - L[1]),
                                                sp.default_sort_key(canonical(body.xreplace({L[0]: o})))))
        return sp.Sum(body, *lims)
    if isinstance(expr, sp.Mul):
        args = [sum_normal(a) for a in expr.args]
        sums = [a for a in args if isinstance(a, sp.Sum)]
        if sums:
            rest = sp.Mul(*[a for a in args if a is not sums[0]])
            b, lims = _fresh(sums[0].limits, sums[0].function)
            return sum_normal(sp.Sum(rest * b, *lims))
        out = sp.Mul(*args)
        if any(isinstance(a, sp.Add) and a.has(sp.Sum) for a in args):
            return sum_normal(sp.expand(out))
        return out
    if isinstance(expr, sp.Add):
        return sp.Add(*[sum_normal(a) for a in expr.args])
    if not expr.args or isinstance(expr, (sp.Symbol, sp.MatrixSymbol)):
        return expr
    return expr.func(*[sum_normal(a) for a in expr.args])


def prove_sums_equal(lhs, rhs, bounds: dict | None, **kw) -> ProofResult:
    """``lhs == rhs`` for every size: index guards resolved (indexed.py; skipped with ``bounds=None``, for
    expressions without Kronecker deltas), sums normalized (`normal_form`)."""
    a, b = normal_form(lhs, bounds), normal_form(rhs, bounds)
    if a == b:
        return ProofResult("proved", "entry-wise (symbolic size)", "equal after evaluating sums, index guards "
                           "and the finite-sum normal form")
    return prove_zero(a - b, **kw)


def drop_idle(e: sp.Basic) -> sp.Basic:
    """sum over k of a body free of k (and of the other bounds) = (hi - lo + 1) body (exact, finite sums; Karr's
    convention for an empty range, as SymPy's Sum)."""
    if isinstance(e, sp.Sum):
        body, lims, factor = drop_idle(e.function), list(e.limits), sp.Integer(1)
        for lim in list(lims):
            others = [o for o in lims if o is not lim]
            # an index stays while the body, the counts already taken out, or another range uses it
            used = set(body.free_symbols) | factor.free_symbols
            used = used.union(*[lo.free_symbols | hi.free_symbols for _, lo, hi in others])
            if lim[0] not in used:
                factor *= lim[2] - lim[1] + 1
                lims.remove(lim)
        return sp.Sum(factor * body, *lims) if lims else factor * body  # a factor may involve the kept indices
    if not e.args or isinstance(e, (sp.Symbol, sp.Indexed, sp.IndexedBase)):
        return e
    return e.func(*[drop_idle(a) for a in e.args])


def normal_form(e, bounds: dict | None = None) -> sp.Basic:
    """The finite-sum normal form: index guards resolved, `sum_normal`, idle indices summed, to a fixed point."""
    e = as_expr(e)
    if bounds is not None:
        e = resolve_guards(e, bounds)
    for _ in range(4):
        new = canonical(drop_idle(sum_normal(e)))
        if new == e:
            break
        e = new
    return e


# ---- the expanded normal form: every product of sums multiplied out, Kronecker deltas summed out,
# bound indices renamed by position and up to three constant ranges ordered canonically (Fubini)

def _terms(e):
    """``e`` as [(monomial, limits)], e = sum of Sum(monomial, *limits); None where a range is not constant."""
    if isinstance(e, sp.Add):
        out = []
        for a in e.args:
            t = _terms(a)
            if t is None:
                return None
            out += t
        return out
    if isinstance(e, sp.Mul) or (isinstance(e, sp.Pow) and e.exp.is_Integer and e.exp > 1 and e.base.has(sp.Sum)):
        factors = e.args if isinstance(e, sp.Mul) else [e.base] * int(e.exp)
        out = [(sp.S.One, ())]
        for f in factors:
            tf = _terms(f)
            if tf is None:
                return None
            tf = [_fresh_term(m, lim) if lim else (m, lim) for m, lim in tf]
            out = [(m1 * m2, l1 + l2) for m1, l1 in out for m2, l2 in tf]
        return out
    if isinstance(e, sp.Sum):
        bound = {lim[0] for lim in e.limits}
        if any((lo.free_symbols | hi.free_symbols) & bound for _, lo, hi in e.limits):
            return None
        inner = _terms(e.function)
        if inner is None:
            return None
        return [(m, tuple(e.limits) + l) for m, l in inner]
    return [(e, ())]


def _fresh_term(mono, limits):
    """Rename the bound indices of one term to fresh dummies (no capture when terms are multiplied)."""
    sub = {v: sp.Dummy("k", integer=True) for v, _, _ in limits}
    return mono.xreplace(sub), tuple((sub[v], lo, hi) for v, lo, hi in limits)


def _eliminate_deltas(mono, limits, bounds):
    """Sum over v in [0, N-1] of KroneckerDelta(v, c) f(v) = f(c) when c ranges over [0, N-1] too;
    KroneckerDelta(a, b) of two free indices: b -> a in the rest (exact where it is non-zero)."""
    rng = {v: (lo, hi) for v, lo, hi in limits}
    free_rng = {idx: (sp.S.Zero, N - 1) for idx, N in bounds.items()}
    known = {**free_rng, **rng}
    plain = {f: sp.KroneckerDelta(*f.args[:2]) for f in mono.atoms(sp.KroneckerDelta)
             if len(f.args) == 3 and known.get(f.args[0]) == known.get(f.args[1]) == tuple(f.args[2])}
    mono = mono.xreplace(plain)  # KroneckerDelta(a, b, (lo, hi)) with a, b in [lo, hi] is KroneckerDelta(a, b)
    changed = True
    while changed:
        changed = False
        for f in sp.Mul.make_args(mono):
            if not isinstance(f, sp.KroneckerDelta):
                continue
            a, b = f.args[:2]
            for v, c in ((a, b), (b, a)):
                # a ranged delta KroneckerDelta(a, b, (lo, hi)) is the plain one when both lie in (lo, hi)
                if v in rng and c != v and rng.get(c, free_rng.get(c)) == rng[v] and (
                        len(f.args) == 2 or tuple(f.args[2]) == rng[v]):
                    mono = (mono / f).xreplace({v: c})
                    del rng[v]
                    changed = True
                    break
            if changed:
                break
            if a in free_rng and b in free_rng and a != b and (len(f.args) == 2 or free_rng[a] == free_rng[b] == tuple(f.args[2])):
                lo, hi = sorted((a, b), key=str)
                rest = (mono / f).xreplace({hi: lo})
                if (mono / f).has(hi):
                    mono = rest * f
                    changed = True
                    break
    return mono, tuple((v, lo, hi) for v, (lo, hi) in rng.items())


def expanded_normal_form(expr, bounds: dict):
    """The normal form of a scalar with finite sums (see the section comment); None if not applicable."""
    terms = _terms(sp.expand(expr)) if not expr.has(sp.Sum) else _terms(expr)
    if terms is None:
        return None
    out = []
    for mono, limits in terms:
        for part in sp.Add.make_args(sp.expand(mono)):
            m, lims = _eliminate_deltas(part, limits, bounds)
            if m == 0:
                continue
            if not lims:
                out.append(canonical(m))
                continue
            if len(lims) > 3 or any((lo.free_symbols | hi.free_symbols) & {v for v, _, _ in lims} for _, lo, hi in lims):
                return None
            out.append(canonical(sp.Sum(m, *lims)) if len(lims) == 1 else
                       min((canonical(sp.Sum(m, *perm)) for perm in permutations(lims)), key=sp.default_sort_key))
    return sp.Add(*out)


def prove_expanded_equal(lhs, rhs, bounds: dict, templates: list) -> ProofResult:
    """lhs == rhs for every size: pre-activations made opaque, both sides in `expanded_normal_form`, compared."""
    a = expanded_normal_form(opaque_subterms(lhs, templates), bounds)
    b = expanded_normal_form(opaque_subterms(rhs, templates), bounds)
    if a is None or b is None:
        return ProofResult("undecided", "entry-wise (symbolic size)", "a sum with a non-constant range")
    if sp.expand(a - b) == 0:
        return ProofResult("proved", "entry-wise (symbolic size)", "equal normal forms (sums distributed, Kronecker deltas evaluated)")
    # the normal forms differ: the prover may still close it (never needed by the correct formulas here);
    # a shorter limit than the default keeps a wrong formula's "undecided" cheap
    return prove_zero(a - b, time_limit=5.0)


__all__ = ["factor_out_of_sums", "prove_entry_equal_factored", "sum_normal", "drop_idle", "normal_form",
           "prove_sums_equal", "expanded_normal_form", "prove_expanded_equal"]
