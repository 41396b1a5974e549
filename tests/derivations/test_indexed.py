"""The symbolic-size machinery (derivations/indexed.py, sums.py) rewrites exactly: it never makes a false identity
hold (bound-index capture, an index guard the bounds do not imply, a sum over the wrong range)."""
import sympy as sp

from dlproof.derivations.indexed import canonical, implied_nonnegative, index, prove_entry_equal, resolve_guards
from dlproof.derivations.sums import prove_sums_equal

n = sp.Symbol("n", integer=True, positive=True)
f = sp.Function("f")


def test_alpha_normalisation_never_captures_a_free_symbol():
    k0, j = sp.Symbol("_k0", integer=True), sp.Symbol("j", integer=True)
    free_k0 = sp.Sum(f(j) * k0, (j, 0, n - 1))   # _k0 is free here
    bound = sp.Sum(f(j) * j, (j, 0, n - 1))      # a different sum
    assert canonical(free_k0) != canonical(bound)
    assert prove_sums_equal(free_k0, bound, None).status != "proved"
    # alpha-equivalent sums do become equal
    i = sp.Symbol("i", integer=True)
    assert canonical(sp.Sum(f(j), (j, 0, n - 1))) == canonical(sp.Sum(f(i), (i, 0, n - 1)))


def test_index_guards_are_decided_only_when_the_bounds_imply_them():
    i, l = index("i"), index("l")
    assert implied_nonnegative(n - 1 - i, {i: n})
    assert not implied_nonnegative(n - 2 - i, {i: n})      # i = n - 1 violates it
    assert not implied_nonnegative(n - 1 - i, {l: n})      # no bound on i
    guarded = sp.Piecewise((f(i), i <= n - 2), (0, True))
    assert resolve_guards(guarded, {i: n}) != f(i)
    assert resolve_guards(sp.Piecewise((f(i), i <= n - 1), (0, True)), {i: n}) == f(i)


def test_a_wrong_entry_is_not_proved_and_the_right_one_is():
    W, h = sp.MatrixSymbol("W", n, n), sp.MatrixSymbol("h", n, 1)
    i, l = index("i"), index("l")
    y = (W * h)[i, 0]
    assert prove_entry_equal(sp.diff(y, h[l, 0]), W[i, l], {i: n, l: n}).status == "proved"
    assert prove_entry_equal(sp.diff(y, h[l, 0]), W[l, i], {i: n, l: n}).status != "proved"
    # a sum over one term too few
    p = sp.Dummy("p", integer=True)
    assert prove_sums_equal(sp.Sum(f(p), (p, 0, n - 1)), sp.Sum(f(p), (p, 0, n - 2)), None).status != "proved"


def test_sum_normal_forms_keep_an_inner_range_that_names_an_outer_index():
    """sum_{k<n} sum_{v<=k} 1 = n(n+1)/2: the inner range names k, so neither index may be counted away alone."""
    from dlproof.derivations.sums import drop_idle, normal_form, sum_normal

    v, k = sp.symbols("v k", integer=True)
    triangle = sp.Sum(1, (v, 0, k), (k, 0, n - 1))
    for rewrite in (sum_normal, drop_idle, normal_form):
        out = rewrite(triangle)
        assert k not in out.free_symbols, (rewrite.__name__, out)
        assert sp.simplify(out.doit() - n * (n + 1) / 2) == 0, (rewrite.__name__, out)
    assert prove_sums_equal(triangle, n * (k + 1), None).status != "proved"
