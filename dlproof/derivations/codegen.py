"""Print compact matrix formulas (SymPy `MatrixSymbol` expressions) as batched NumPy code.

Column vectors are stored as ``(B, k, 1)`` arrays and matrices as ``(k, l)``, so NumPy's matmul
broadcasting evaluates one formula for a whole batch. Printing rules on top of SymPy's NumPy printer:
``A*B -> A @ B``, ``A.T -> swapaxes(A, -1, -2)``, ``diag(v) -> v * eye(k)``, ``A∘B -> A * B``,
``f.(X) -> (lambda d: f(d))(X)``.
"""
from __future__ import annotations

import sympy as sp
from sympy.printing.numpy import NumPyPrinter


class BatchedNumPyPrinter(NumPyPrinter):
    def _print_MatMul(self, expr):
        coeff, mats = expr.as_coeff_matrices()
        body = " @ ".join(self.parenthesize(m, 100) for m in mats)
        return f"({body})" if coeff == 1 else f"({self._print(coeff)} * ({body}))"

    def _print_Transpose(self, expr):
        return f"numpy.swapaxes({self._print(expr.arg)}, -1, -2)"

    def _print_DiagMatrix(self, expr):
        v = self._print(expr.args[0])
        return f"(({v}) * numpy.eye(numpy.shape({v})[-2]))"

    def _print_HadamardProduct(self, expr):
        return "(" + " * ".join(self.parenthesize(a, 100) for a in expr.args) + ")"

    def _print_ElementwiseApplyFunction(self, expr):
        d = sp.Symbol("u_")  # a fixed name keeps the generated source byte-identical across runs
        body = expr.function(d)
        return f"(lambda {self._print(d)}: {self._print(body)})({self._print(expr.expr)})"

    def _print_MatAdd(self, expr):
        return "(" + " + ".join(self._print(a) for a in expr.args) + ")"

    def _print_MatrixSymbol(self, expr):
        return expr.name

    def _print_Heaviside(self, expr):
        # H(0) = 0: relu'(0) is declared 0
        return f"numpy.heaviside({self._print(expr.args[0])}, 0.0)"


def kernel_source(name: str, args: list, expr, doc: str) -> str:
    """One ``def name(*args)`` whose body is the printed formula."""
    printer = BatchedNumPyPrinter({"fully_qualified_modules": True, "inline": True,
                                   "allow_unknown_functions": False})
    body = printer.doprint(expr)
    argnames = ", ".join(a.name for a in args)
    return f'def {name}({argnames}):\n    """{doc}"""\n    return {body}\n'


def module_source(kernels: dict) -> str:
    """A whole module from ``{name: (args, expr, doc)}``; it imports numpy only."""
    parts = ['"""Generated from dlproof.derivations by SymPy; do not edit."""\nimport numpy\n']
    for name in sorted(kernels):
        args, expr, doc = kernels[name]
        parts.append(kernel_source(name, args, expr, doc))
    return "\n\n".join(parts)
