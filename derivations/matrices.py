"""Explicit-entry matrices for element-wise derivations, and the bridge from compact formulas.

Compact formulas are written once with `MatrixSymbol` (for printing and code generation); to prove
one, `explicit()` substitutes explicit-entry matrices of plain real `Symbol`s at a small size and
the result is compared with a Jacobian computed entry by entry (`Matrix.jacobian`). SymPy's own
MatrixSymbol calculus is never trusted for a result (it is silently wrong on gated cells).
"""
from __future__ import annotations

import sympy as sp

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
    """Evaluate a MatrixSymbol expression on explicit matrices ``{MatrixSymbol: Matrix}``."""
    return sp.Matrix(expr.xreplace(subs).doit())
