"""Explicit-entry matrices for element-wise derivations, and the bridge from compact formulas.

Compact formulas are written once with `MatrixSymbol` (for printing and code generation); to prove
one, `explicit()` substitutes explicit-entry matrices of plain real `Symbol`s at a small size and
the result is compared with a Jacobian computed entry by entry (`Matrix.jacobian`). SymPy's own
MatrixSymbol calculus is never trusted for a result (it is silently wrong on gated cells).
"""
from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

_d = sp.Dummy("d")


def mat(name: str, rows: int, cols: int) -> sp.Matrix:
    """An explicit ``rows x cols`` matrix of real symbols ``name_ij`` (``name_i`` for a column)."""
    if cols == 1:
        return sp.Matrix(rows, 1, lambda i, j: sp.Symbol(f"{name}_{i}", real=True))
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i}{j}", real=True))


def vec_rows(M: sp.Matrix) -> sp.Matrix:
    """Row-major vectorisation vec(M) as a column: entry (i, j) at index i*cols + j."""
    return sp.Matrix([M[i, j] for i in range(M.rows) for j in range(M.cols)])


def elementwise(f, X):
    """``f`` applied entry-wise to a matrix expression (``f`` a SymPy function or a Python callable)."""
    return X.applyfunc(sp.Lambda(_d, f(_d)))


def explicit(expr, subs: dict) -> sp.Matrix:
    """Evaluate a compact MatrixSymbol formula on explicit matrices ``{MatrixSymbol: Matrix}``, node by node.

    It walks exactly the node types the kernel printer prints (MatAdd, MatMul, Transpose, DiagMatrix,
    HadamardProduct, ElementwiseApplyFunction) with plain explicit-matrix arithmetic, so what is proved
    is what is printed. (``xreplace`` + ``doit`` gives the same value, but ``DiagMatrix.doit`` consults
    the assumptions system and costs seconds on gated cells.) Other nodes fall back to ``doit``.
    """
    if expr in subs:
        return sp.Matrix(subs[expr])
    if isinstance(expr, sp.MatrixBase):
        return sp.Matrix(expr)
    if isinstance(expr, sp.MatAdd):
        terms = [explicit(a, subs) for a in expr.args]
        out = terms[0]
        for t in terms[1:]:
            out = out + t
        return out
    if isinstance(expr, sp.MatMul):
        coeff, mats = expr.as_coeff_matrices()
        out = explicit(mats[0], subs)
        for a in mats[1:]:
            out = out * explicit(a, subs)
        return out if coeff == 1 else coeff * out
    if isinstance(expr, sp.Transpose):
        return explicit(expr.arg, subs).T
    if isinstance(expr, sp.DiagMatrix):
        return sp.diag(*explicit(expr.args[0], subs))
    if isinstance(expr, sp.HadamardProduct):
        out = explicit(expr.args[0], subs)
        for a in expr.args[1:]:
            out = out.multiply_elementwise(explicit(a, subs))
        return out
    if isinstance(expr, ElementwiseApplyFunction):
        return explicit(expr.expr, subs).applyfunc(expr.function)
    if isinstance(expr, sp.MatrixSymbol):
        raise KeyError(f"no explicit matrix for {expr}")
    return sp.Matrix(expr.xreplace(subs).doit())
