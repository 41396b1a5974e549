"""The vanilla RNN cell h' = phi(W_x x + W_h h + b) and its Jacobians.

Column vectors; numerator layout ``(dy/dx)[i, j] = dy_i/dx_j``; vec() is row-major. Each Jacobian
is derived element-wise (``Matrix.jacobian`` on explicit-entry matrices, generic activation phi
with derivative phi'), then the compact formula, the very MatrixSymbol expression the oracle
kernels are printed from, is proved equal to it at (n, m) in {(1, 1), (2, 3), (3, 2)}.
Instantiating phi = tanh or relu uses act.tanh.derivative / act.relu.derivative.

Seed: §1 基础RNN, h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h).
Primary: Elman (1990), Finding structure in time, Cognitive Science 14.
"""
from __future__ import annotations

import sympy as sp

from .functions import ACTIVATIONS, phi, phi_prime
from .matrices import elementwise, explicit, mat, vec_rows
from .prove import combine, prove_equal
from .registry import derivation, kernel

SEED_RNN = "seed §1 基础RNN: h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h)"
ELMAN = "Elman (1990), Finding structure in time, Cognitive Science 14(2)"
SIZES = ((1, 1), (2, 3), (3, 2))
NUMERATOR = "numerator: (dy/dx)[i, j] = dy_i / dx_j; column vectors; vec() row-major"


class Cell:
    """Symbols and compact formulas of one RNN cell at size (n, m) (ints or SymPy symbols)."""

    def __init__(self, n, m, act=phi, dact=phi_prime):
        self.W_x, self.W_h = sp.MatrixSymbol("W_x", n, m), sp.MatrixSymbol("W_h", n, n)
        self.b, self.x = sp.MatrixSymbol("b", n, 1), sp.MatrixSymbol("x", m, 1)
        self.h, self.delta = sp.MatrixSymbol("h", n, 1), sp.MatrixSymbol("delta", n, 1)
        self.a = self.W_x * self.x + self.W_h * self.h + self.b
        self.act, self.dact = act, dact
        self.dphi = elementwise(dact, self.a)

    # compact formulas (numerator layout)
    def forward(self):
        return elementwise(self.act, self.a)

    def jac_h(self):
        return sp.DiagMatrix(self.dphi) * self.W_h

    def jac_x(self):
        return sp.DiagMatrix(self.dphi) * self.W_x

    def jac_b(self):
        return sp.DiagMatrix(self.dphi)

    def gate(self):
        """phi'(a) ∘ delta: the cotangent at the pre-activation."""
        return sp.HadamardProduct(self.dphi, self.delta)

    def vjp_h(self):
        return self.W_h.T * self.gate()

    def vjp_x(self):
        return self.W_x.T * self.gate()

    def vjp_W_h(self):
        return self.gate() * self.h.T

    def vjp_W_x(self):
        return self.gate() * self.x.T

    def vjp_b(self):
        return self.gate()

    def args(self):
        return [self.W_x, self.W_h, self.b, self.x, self.h]


def explicit_cell(n, m):
    """(compact Cell, substitution to explicit matrices, explicit h' computed entry by entry)."""
    cell = Cell(n, m)
    E = {cell.W_x: mat("Wx", n, m), cell.W_h: mat("Wh", n, n), cell.b: mat("b", n, 1),
         cell.x: mat("x", m, 1), cell.h: mat("h", n, 1), cell.delta: mat("delta", n, 1)}
    Wx, Wh, b, x, h = E[cell.W_x], E[cell.W_h], E[cell.b], E[cell.x], E[cell.h]
    h_new = sp.Matrix([phi(sum(Wx[i, j] * x[j] for j in range(m)) + sum(Wh[i, j] * h[j] for j in range(n)) + b[i])
                       for i in range(n)])
    return cell, E, h_new


def _jacobian_record(wrt: str, compact: str, vjp: str | None = None):
    def obligations():
        out = []
        for n, m in SIZES:
            cell, E, h_new = explicit_cell(n, m)
            var = {"h": E[cell.h], "x": E[cell.x], "b": E[cell.b],
                   "W_h": vec_rows(E[cell.W_h]), "W_x": vec_rows(E[cell.W_x])}[wrt]
            J = h_new.jacobian(var)
            if compact:
                out.append((f"n={n}, m={m}: element-wise dh'/d{wrt} = compact form",
                            prove_equal(J, explicit(getattr(cell, compact)(), E))))
            if vjp:
                delta = E[cell.delta]
                lhs = J.T * delta
                rhs = explicit(getattr(cell, vjp)(), E)
                if wrt in ("W_h", "W_x"):
                    rhs = vec_rows(rhs)
                out.append((f"n={n}, m={m}: J^T delta = VJP form", prove_equal(lhs, rhs)))
        return out

    return obligations


@derivation("rnn.cell.forward", kind="definition", title="The vanilla RNN cell",
            latex=r"h' = \varphi(a),\quad a = W_x x + W_h h + b,\quad h'_i = \varphi\Big(\sum_j (W_x)_{ij} x_j + \sum_j (W_h)_{ij} h_j + b_i\Big)",
            seed=SEED_RNN, primary=ELMAN, assumptions=("W_x: n x m, W_h: n x n, b, h: n, x: m", "phi in {tanh, relu}"),
            notes="The seed writes W_hh h + W_xh x + b_h; dlproof names them W_h, W_x, b.",
            steps=(
                r"a = W_x x + W_h h + b \in \mathbb{R}^{n},\qquad W_x \in \mathbb{R}^{n\times m},\ W_h \in \mathbb{R}^{n\times n},\ b, h \in \mathbb{R}^{n},\ x \in \mathbb{R}^{m}",
                r"a_i = \sum_{j=1}^{m} (W_x)_{ij}\, x_j + \sum_{j=1}^{n} (W_h)_{ij}\, h_j + b_i,\qquad i = 1, \ldots, n",
                r"h'_i = \varphi(a_i),\qquad \varphi = \tanh \ \text{ or } \ \operatorname{relu}",
            ))
def _forward():
    out = []
    for n, m in SIZES:
        cell, E, h_new = explicit_cell(n, m)
        out.append((f"n={n}, m={m}: compact phi(W_x x + W_h h + b) equals the element-wise sum",
                    prove_equal(explicit(cell.forward(), E), h_new)))
    return out


_J = r"\frac{\partial h'}{\partial %s}"
derivation("rnn.cell.jacobian_h", title="RNN cell Jacobian with respect to the previous state",
           latex=_J % "h" + r" = \operatorname{diag}(\varphi'(a))\,W_h,\qquad \Big(\frac{\partial h'}{\partial h}\Big)^{\!\top}\delta = W_h^\top(\varphi'(a)\odot\delta)",
           seed=SEED_RNN + "; §2 (diag(tanh'))", primary=ELMAN, layout=NUMERATOR,
           steps=(
               r"a = W_x x + W_h h + b,\quad h' = \varphi(a)",
               r"\frac{\partial h'_i}{\partial h_j} = \varphi'(a_i)\,\frac{\partial a_i}{\partial h_j} = \varphi'(a_i)\,(W_h)_{ij}",
               r"\frac{\partial h'}{\partial h} = \frac{\partial h'}{\partial a}\frac{\partial a}{\partial h} = \operatorname{diag}(\varphi'(a))\, W_h",
               r"\Big(\frac{\partial h'}{\partial h}\Big)^{\top}\delta = W_h^\top \operatorname{diag}(\varphi'(a))\,\delta = W_h^\top(\varphi'(a)\odot\delta)",
               r"\varphi = \tanh:\ \tanh'(a) = 1 - \tanh^2(a) = 1 - h'^{\odot 2}\ \Rightarrow\ \frac{\partial h'}{\partial h} = \operatorname{diag}(1 - h'^{\odot 2})\, W_h",
           ))(_jacobian_record("h", "jac_h", "vjp_h"))
derivation("rnn.cell.jacobian_x", title="RNN cell Jacobian with respect to the input",
           latex=_J % "x" + r" = \operatorname{diag}(\varphi'(a))\,W_x,\qquad J_x^\top\delta = W_x^\top(\varphi'(a)\odot\delta)",
           seed=SEED_RNN, primary=ELMAN, layout=NUMERATOR,
           steps=(
               r"a = W_x x + W_h h + b,\quad h' = \varphi(a)",
               r"\frac{\partial h'_i}{\partial x_j} = \varphi'(a_i)\,\frac{\partial a_i}{\partial x_j} = \varphi'(a_i)\,(W_x)_{ij}",
               r"\frac{\partial h'}{\partial x} = \frac{\partial h'}{\partial a}\frac{\partial a}{\partial x} = \operatorname{diag}(\varphi'(a))\, W_x",
               r"J_x^\top\delta = W_x^\top \operatorname{diag}(\varphi'(a))\,\delta = W_x^\top(\varphi'(a)\odot\delta)",
           ))(_jacobian_record("x", "jac_x", "vjp_x"))
derivation("rnn.cell.jacobian_b", title="RNN cell Jacobian with respect to the bias",
           latex=_J % "b" + r" = \operatorname{diag}(\varphi'(a)),\qquad J_b^\top\delta = \varphi'(a)\odot\delta",
           seed=SEED_RNN, primary=ELMAN, layout=NUMERATOR,
           steps=(
               r"a = W_x x + W_h h + b,\quad h' = \varphi(a),\quad \frac{\partial a}{\partial b} = I_n",
               r"\frac{\partial h'}{\partial b} = \frac{\partial h'}{\partial a}\frac{\partial a}{\partial b} = \operatorname{diag}(\varphi'(a))\, I_n = \operatorname{diag}(\varphi'(a))",
               r"J_b^\top\delta = \operatorname{diag}(\varphi'(a))\,\delta = \varphi'(a)\odot\delta",
           ))(_jacobian_record("b", "jac_b", "vjp_b"))


def _weight_jacobian(wrt: str, right: str):
    def compact_kron(n, m):
        cell, E, h_new = explicit_cell(n, m)
        v = E[cell.h] if right == "h" else E[cell.x]
        D = sp.diag(*explicit(cell.dphi, E))
        return D * sp.kronecker_product(sp.eye(n), v.T)

    def obligations():
        out = _jacobian_record(wrt, "", f"vjp_{wrt}")()
        for n, m in SIZES:
            cell, E, h_new = explicit_cell(n, m)
            var = vec_rows(E[cell.W_h] if wrt == "W_h" else E[cell.W_x])
            out.append((f"n={n}, m={m}: element-wise dh'/dvec({wrt}) = diag(phi'(a)) (I ⊗ {right}^T)",
                        prove_equal(h_new.jacobian(var), compact_kron(n, m))))
        return out

    return obligations


derivation("rnn.cell.jacobian_W_h", title="RNN cell Jacobian with respect to the recurrent weights",
           latex=r"\frac{\partial h'}{\partial \operatorname{vec}(W_h)} = \operatorname{diag}(\varphi'(a))\,(I_n \otimes h^\top),\qquad \frac{\partial \langle\delta, h'\rangle}{\partial W_h} = (\varphi'(a)\odot\delta)\,h^\top",
           seed=SEED_RNN, primary=ELMAN, layout=NUMERATOR,
           steps=(
               r"a_i = \sum_{k} (W_h)_{ik}\, h_k + \ldots \ \Rightarrow\ \frac{\partial a_i}{\partial (W_h)_{jk}} = h_k \ \text{ if } i = j,\ 0 \ \text{ otherwise}",
               r"\frac{\partial a}{\partial \operatorname{vec}(W_h)} = I_n \otimes h^\top \quad (\operatorname{vec} \text{ row-major: row } j \text{ of } W_h \text{ is block } j)",
               r"\frac{\partial h'}{\partial \operatorname{vec}(W_h)} = \frac{\partial h'}{\partial a}\frac{\partial a}{\partial \operatorname{vec}(W_h)} = \operatorname{diag}(\varphi'(a))\,(I_n \otimes h^\top)",
               r"\frac{\partial \langle\delta, h'\rangle}{\partial (W_h)_{jk}} = \sum_i \delta_i\,\varphi'(a_i)\,\frac{\partial a_i}{\partial (W_h)_{jk}} = \varphi'(a_j)\,\delta_j\, h_k",
               r"\Rightarrow\ \frac{\partial \langle\delta, h'\rangle}{\partial W_h} = (\varphi'(a)\odot\delta)\,h^\top",
           ))(_weight_jacobian("W_h", "h"))
derivation("rnn.cell.jacobian_W_x", title="RNN cell Jacobian with respect to the input weights",
           latex=r"\frac{\partial h'}{\partial \operatorname{vec}(W_x)} = \operatorname{diag}(\varphi'(a))\,(I_n \otimes x^\top),\qquad \frac{\partial \langle\delta, h'\rangle}{\partial W_x} = (\varphi'(a)\odot\delta)\,x^\top",
           seed=SEED_RNN, primary=ELMAN, layout=NUMERATOR,
           steps=(
               r"a_i = \sum_{k} (W_x)_{ik}\, x_k + \ldots \ \Rightarrow\ \frac{\partial a_i}{\partial (W_x)_{jk}} = x_k \ \text{ if } i = j,\ 0 \ \text{ otherwise}",
               r"\frac{\partial a}{\partial \operatorname{vec}(W_x)} = I_n \otimes x^\top \quad (\operatorname{vec} \text{ row-major: row } j \text{ of } W_x \text{ is block } j)",
               r"\frac{\partial h'}{\partial \operatorname{vec}(W_x)} = \frac{\partial h'}{\partial a}\frac{\partial a}{\partial \operatorname{vec}(W_x)} = \operatorname{diag}(\varphi'(a))\,(I_n \otimes x^\top)",
               r"\frac{\partial \langle\delta, h'\rangle}{\partial (W_x)_{jk}} = \sum_i \delta_i\,\varphi'(a_i)\,\frac{\partial a_i}{\partial (W_x)_{jk}} = \varphi'(a_j)\,\delta_j\, x_k",
               r"\Rightarrow\ \frac{\partial \langle\delta, h'\rangle}{\partial W_x} = (\varphi'(a)\odot\delta)\,x^\top",
           ))(_weight_jacobian("W_x", "x"))


# ---- kernels: the compact formulas, instantiated per activation, printed as batched NumPy ----
_n, _m = sp.symbols("n m", integer=True, positive=True)
KERNEL_FORMULAS = ("forward", "jac_h", "jac_x", "jac_b", "vjp_h", "vjp_x", "vjp_W_h", "vjp_W_x", "vjp_b")


def _register_kernels():
    for act_name, (act, dact) in ACTIVATIONS.items():
        for formula in KERNEL_FORMULAS:
            def build(act=act, dact=dact, formula=formula, act_name=act_name):
                cell = Cell(_n, _m, act, dact)
                args = cell.args() + ([cell.delta] if formula.startswith("vjp") else [])
                doc = f"RNN cell ({act_name}): {formula}; column vectors as (B, k, 1), numerator layout."
                return args, getattr(cell, formula)(), doc

            kernel(f"rnn_{formula}_{act_name}")(build)


_register_kernels()
__all__ = ["Cell", "explicit_cell", "SEED_RNN", "ELMAN", "combine"]


@derivation("rnn.param_count", title="Parameter count of one RNN layer",
            latex=r"|\theta| = nm + n^2 + n \ (\text{one bias}),\qquad nm + n^2 + 2n \ (\text{two biases } b_{ih}, b_{hh})",
            seed=SEED_RNN, primary=ELMAN + "; torch.nn.RNN (bias_ih, bias_hh)",
            assumptions=("counted as the free entries of W_x, W_h and the bias vector(s)",),
            steps=(
                r"W_x \in \mathbb{R}^{n\times m},\ W_h \in \mathbb{R}^{n\times n},\ b \in \mathbb{R}^{n}:\quad |\theta| = nm + n^2 + n",
                r"\text{two biases } b_{ih}, b_{hh} \in \mathbb{R}^{n}:\quad |\theta| = nm + n^2 + 2n",
            ))
def _param_count():
    n, m = sp.symbols("n m", positive=True, integer=True)
    out = []
    for nn, mm in SIZES:
        cell, E, _ = explicit_cell(nn, mm)
        entries = set().union(*(E[s].free_symbols for s in (cell.W_x, cell.W_h, cell.b)))
        out.append((f"n={nn}, m={mm}: one bias", prove_equal(len(entries), (n * m + n ** 2 + n).subs({n: nn, m: mm}))))
        out.append((f"n={nn}, m={mm}: two biases", prove_equal(len(entries) + nn, (n * m + n ** 2 + 2 * n).subs({n: nn, m: mm}))))
    return out
