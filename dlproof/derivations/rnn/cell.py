"""The vanilla RNN cell h' = phi(W_x x + W_h h + b) and its Jacobians, proved for every size.

Column vectors; numerator layout ``(dy/dx)[i, j] = dy_i/dx_j``; vec() is row-major. Each Jacobian
is proved entry-wise at symbolic sizes ``n``, ``m`` (`indexed.prove_entry_equal`): the entry
``h'_i = phi(sum_k (W_h)_{ik} h_k + sum_k (W_x)_{ik} x_k + b_i)`` of the compact `Cell` formula (a
``MatrixSymbol`` expression of symbolic shape) is differentiated by a symbolic entry (``h[l, 0]``,
``W_h[j, k]``) with a generic activation phi (derivative phi'), and compared with the entry
``(i, l)`` of the compact Jacobian, for every ``0 <= i, l <= n - 1`` and every ``n, m``. The compact
formulas proved are the very `Cell` methods the oracle kernels are printed from.
Instantiating phi = tanh or relu uses act.tanh.derivative / act.relu.derivative.

Seed: §1 基础RNN, h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h).
Primary: Elman (1990), Finding structure in time, Cognitive Science 14.
"""
from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixElement

from .. import scope as sc
from ..functions import ACTIVATIONS, phi, phi_prime
from ..indexed import canonical, index, prove_entry_equal
from ..matrices import elementwise, mat
from ..prove import prove_equal
from ..registry import derivation, kernel

SEED_RNN = "seed §1 基础RNN: h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h)"
ELMAN = "Elman (1990), Finding structure in time, Cognitive Science 14(2)"
_n, _m = sp.symbols("n m", integer=True, positive=True)  # symbolic sizes: every obligation holds for every n, m
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


def abstract_preactivation(c: Cell, expr: sp.Basic) -> sp.Basic:
    """Replace every ``phi'(a_r)`` by ``phi'(A(r))``, A an undefined function of the row r (after differentiating).

    Sound: ``a_r`` is a function of its row r alone (it is the only entry of the pre-activation that contains
    ``b[r, 0]``), so an identity proved with A undefined holds for A(r) := a_r. It only saves SymPy from
    re-evaluating the sums inside ``a_r`` (the derivative has already been taken, through them).
    """
    A = sp.Function("A")

    def abstract(e):
        rows = {x.i for x in e.args[0].atoms(MatrixElement) if x.parent == c.b}
        if len(rows) != 1:
            return e
        r = rows.pop()
        # only where the argument *is* the pre-activation entry a_r (alpha-normalised), never a look-alike
        return phi_prime(A(r)) if canonical(e.args[0]) == canonical(c.a[r, 0]) else e

    return expr.replace(lambda e: isinstance(e, phi_prime), abstract)


def _entries(c: Cell, wrt: str):
    """(vector symbol, its length) of the variable ``wrt`` of the general cell ``c``."""
    var = {"h": c.h, "x": c.x, "b": c.b}[wrt]
    return var, var.shape[0]


def _jacobian_record(wrt: str, compact: str, vjp: str):
    """Obligations, every n, m: entry (i, l) of dh'/d{wrt} and entry l of its VJP equal the compact forms."""

    def obligations():
        c = Cell(_n, _m)
        i, l = index("i"), index("l")
        var, size = _entries(c, wrt)
        p = sp.Dummy("p", integer=True)
        hi = c.forward()[i, 0]
        vjp_entry = sp.Sum(c.delta[p, 0] * sp.diff(c.forward()[p, 0], var[l, 0]), (p, 0, _n - 1))
        ab = lambda e: abstract_preactivation(c, e)  # noqa: E731
        return [(f"every n, m, entry (i, l): dh'_i/d{wrt}_l of phi(W_x x + W_h h + b) = ({_COMPACT[compact]})[i, l]",
                 prove_entry_equal(ab(sp.diff(hi, var[l, 0])), ab(getattr(c, compact)()[i, l]), {i: _n, l: size}),
                 sc.GENERAL),
                (f"every n, m, entry l: sum_p delta_p dh'_p/d{wrt}_l = ({_COMPACT[vjp]})[l]",
                 prove_entry_equal(ab(vjp_entry), ab(getattr(c, vjp)()[l, 0]), {l: size}), sc.GENERAL)]

    return obligations


_COMPACT = {"jac_h": "diag(phi'(a)) W_h", "jac_x": "diag(phi'(a)) W_x", "jac_b": "diag(phi'(a))",
            "vjp_h": "W_h^T (phi'(a) ∘ delta)", "vjp_x": "W_x^T (phi'(a) ∘ delta)", "vjp_b": "phi'(a) ∘ delta",
            "vjp_W_h": "(phi'(a) ∘ delta) h^T", "vjp_W_x": "(phi'(a) ∘ delta) x^T"}


@derivation("rnn.cell.forward", kind="definition", title="The vanilla RNN cell",
            latex=r"h' = \varphi(a),\quad a = W_x x + W_h h + b,\quad h'_i = \varphi\Big(\sum_j (W_x)_{ij} x_j + \sum_j (W_h)_{ij} h_j + b_i\Big)",
            seed=SEED_RNN, primary=ELMAN, sizes=("n", "m"), assumptions=("W_x: n x m, W_h: n x n, b, h: n, x: m", "phi in {tanh, relu}"),
            notes="The seed writes W_hh h + W_xh x + b_h; dlproof names them W_h, W_x, b.",
            steps=(
                r"a = W_x x + W_h h + b \in \mathbb{R}^{n},\qquad W_x \in \mathbb{R}^{n\times m},\ W_h \in \mathbb{R}^{n\times n},\ b, h \in \mathbb{R}^{n},\ x \in \mathbb{R}^{m}",
                r"a_i = \sum_{j=1}^{m} (W_x)_{ij}\, x_j + \sum_{j=1}^{n} (W_h)_{ij}\, h_j + b_i,\qquad i = 1, \ldots, n",
                r"h'_i = \varphi(a_i),\qquad \varphi = \tanh \ \text{ or } \ \operatorname{relu}",
            ))
def _forward():
    c = Cell(_n, _m)
    i = index("i")
    k = sp.Dummy("k", integer=True)
    by_entries = phi(sp.Sum(c.W_x[i, k] * c.x[k, 0], (k, 0, _m - 1)) + sp.Sum(c.W_h[i, k] * c.h[k, 0], (k, 0, _n - 1))
                     + c.b[i, 0])
    return [("every n, m, entry i: compact phi(W_x x + W_h h + b) equals phi(sum_k (W_x)_ik x_k + sum_k (W_h)_ik h_k + b_i)",
             prove_entry_equal(c.forward()[i, 0], by_entries, {i: _n}), sc.GENERAL)]


_J = r"\frac{\partial h'}{\partial %s}"
derivation("rnn.cell.jacobian_h", title="RNN cell Jacobian with respect to the previous state",
           latex=_J % "h" + r" = \operatorname{diag}(\varphi'(a))\,W_h,\qquad \Big(\frac{\partial h'}{\partial h}\Big)^{\!\top}\delta = W_h^\top(\varphi'(a)\odot\delta)",
           seed=SEED_RNN + "; §2 (diag(tanh'))", primary=ELMAN, sizes=("n", "m"), layout=NUMERATOR,
           steps=(
               r"a = W_x x + W_h h + b,\quad h' = \varphi(a)",
               r"\frac{\partial h'_i}{\partial h_j} = \varphi'(a_i)\,\frac{\partial a_i}{\partial h_j} = \varphi'(a_i)\,(W_h)_{ij}",
               r"\frac{\partial h'}{\partial h} = \frac{\partial h'}{\partial a}\frac{\partial a}{\partial h} = \operatorname{diag}(\varphi'(a))\, W_h",
               r"\Big(\frac{\partial h'}{\partial h}\Big)^{\top}\delta = W_h^\top \operatorname{diag}(\varphi'(a))\,\delta = W_h^\top(\varphi'(a)\odot\delta)",
               r"\varphi = \tanh:\ \tanh'(a) = 1 - \tanh^2(a) = 1 - h'^{\odot 2}\ \Rightarrow\ \frac{\partial h'}{\partial h} = \operatorname{diag}(1 - h'^{\odot 2})\, W_h",
           ))(_jacobian_record("h", "jac_h", "vjp_h"))
derivation("rnn.cell.jacobian_x", title="RNN cell Jacobian with respect to the input",
           latex=_J % "x" + r" = \operatorname{diag}(\varphi'(a))\,W_x,\qquad J_x^\top\delta = W_x^\top(\varphi'(a)\odot\delta)",
           seed=SEED_RNN, primary=ELMAN, sizes=("n", "m"), layout=NUMERATOR,
           steps=(
               r"a = W_x x + W_h h + b,\quad h' = \varphi(a)",
               r"\frac{\partial h'_i}{\partial x_j} = \varphi'(a_i)\,\frac{\partial a_i}{\partial x_j} = \varphi'(a_i)\,(W_x)_{ij}",
               r"\frac{\partial h'}{\partial x} = \frac{\partial h'}{\partial a}\frac{\partial a}{\partial x} = \operatorname{diag}(\varphi'(a))\, W_x",
               r"J_x^\top\delta = W_x^\top \operatorname{diag}(\varphi'(a))\,\delta = W_x^\top(\varphi'(a)\odot\delta)",
           ))(_jacobian_record("x", "jac_x", "vjp_x"))
derivation("rnn.cell.jacobian_b", title="RNN cell Jacobian with respect to the bias",
           latex=_J % "b" + r" = \operatorname{diag}(\varphi'(a)),\qquad J_b^\top\delta = \varphi'(a)\odot\delta",
           seed=SEED_RNN, primary=ELMAN, sizes=("n", "m"), layout=NUMERATOR,
           steps=(
               r"a = W_x x + W_h h + b,\quad h' = \varphi(a),\quad \frac{\partial a}{\partial b} = I_n",
               r"\frac{\partial h'}{\partial b} = \frac{\partial h'}{\partial a}\frac{\partial a}{\partial b} = \operatorname{diag}(\varphi'(a))\, I_n = \operatorname{diag}(\varphi'(a))",
               r"J_b^\top\delta = \operatorname{diag}(\varphi'(a))\,\delta = \varphi'(a)\odot\delta",
           ))(_jacobian_record("b", "jac_b", "vjp_b"))


def _weight_jacobian(wrt: str, right: str):
    """Obligations, every n, m: entry (i, (j, k)) of dh'/dvec({wrt}) = diag(phi'(a)) (I_n ⊗ {right}^T), and the VJP.

    vec is row-major, so entry (j, k) of the weight is column ``j q + k`` (q its number of columns); the
    Kronecker entry is taken from its definition, ``(A ⊗ B)[i_1 p + i_2, j_1 q + j_2] = A[i_1, j_1] B[i_2, j_2]``,
    with ``A = I_n`` and ``B = {right}^T`` (one row, so i_2 = 0).
    """

    def obligations():
        c = Cell(_n, _m)
        W, v = (c.W_h, c.h) if wrt == "W_h" else (c.W_x, c.x)
        q = W.shape[1]
        i, j, k = index("i"), index("j"), index("k")
        p, r = sp.Dummy("p", integer=True), sp.Dummy("r", integer=True)
        kron = sp.Sum(sp.DiagMatrix(c.dphi)[i, r] * sp.Identity(_n)[r, j] * v.T[0, k], (r, 0, _n - 1))
        vjp_entry = sp.Sum(c.delta[p, 0] * sp.diff(c.forward()[p, 0], W[j, k]), (p, 0, _n - 1))
        ab = lambda e: abstract_preactivation(c, e)  # noqa: E731
        return [(f"every n, m, entry (i, (j, k)): dh'_i/d({wrt})_jk = (diag(phi'(a)) (I_n ⊗ {right}^T))[i, j q + k]",
                 prove_entry_equal(ab(sp.diff(c.forward()[i, 0], W[j, k])), ab(kron), {i: _n, j: _n, k: q}), sc.GENERAL),
                (f"every n, m, entry (j, k): sum_p delta_p dh'_p/d({wrt})_jk = ({_COMPACT['vjp_' + wrt]})[j, k]",
                 prove_entry_equal(ab(vjp_entry), ab(getattr(c, f"vjp_{wrt}")()[j, k]), {j: _n, k: q}), sc.GENERAL)]

    return obligations


def _register_weight_jacobian(W: str, v: str, what: str):
    """Register rnn.cell.jacobian_{W}: W = "W_h" (v = "h") or "W_x" (v = "x"); the two records differ only in
    these names."""
    names = {"W": W, "v": v}
    derivation(f"rnn.cell.jacobian_{W}", title=f"RNN cell Jacobian with respect to the {what}",
               latex=r"\frac{\partial h'}{\partial \operatorname{vec}(%(W)s)} = \operatorname{diag}(\varphi'(a))\,(I_n \otimes %(v)s^\top),\qquad \frac{\partial \langle\delta, h'\rangle}{\partial %(W)s} = (\varphi'(a)\odot\delta)\,%(v)s^\top" % names,
               seed=SEED_RNN, primary=ELMAN, sizes=("n", "m"), layout=NUMERATOR,
               steps=tuple(step % names for step in (
                   r"a_i = \sum_{k} (%(W)s)_{ik}\, %(v)s_k + \ldots \ \Rightarrow\ \frac{\partial a_i}{\partial (%(W)s)_{jk}} = %(v)s_k \ \text{ if } i = j,\ 0 \ \text{ otherwise}",
                   r"\frac{\partial a}{\partial \operatorname{vec}(%(W)s)} = I_n \otimes %(v)s^\top \quad (\operatorname{vec} \text{ row-major: row } j \text{ of } %(W)s \text{ is block } j)",
                   r"\frac{\partial h'}{\partial \operatorname{vec}(%(W)s)} = \frac{\partial h'}{\partial a}\frac{\partial a}{\partial \operatorname{vec}(%(W)s)} = \operatorname{diag}(\varphi'(a))\,(I_n \otimes %(v)s^\top)",
                   r"\frac{\partial \langle\delta, h'\rangle}{\partial (%(W)s)_{jk}} = \sum_i \delta_i\,\varphi'(a_i)\,\frac{\partial a_i}{\partial (%(W)s)_{jk}} = \varphi'(a_j)\,\delta_j\, %(v)s_k",
                   r"\Rightarrow\ \frac{\partial \langle\delta, h'\rangle}{\partial %(W)s} = (\varphi'(a)\odot\delta)\,%(v)s^\top",
               )))(_weight_jacobian(W, v))


_register_weight_jacobian("W_h", "h", "recurrent weights")
_register_weight_jacobian("W_x", "x", "input weights")

# ---- kernels: the compact formulas, instantiated per activation, printed as batched NumPy ----
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
@derivation("rnn.param_count", title="Parameter count of one RNN layer",
            latex=r"|\theta| = nm + n^2 + n \ (\text{one bias}),\qquad nm + n^2 + 2n \ (\text{two biases } b_{ih}, b_{hh})",
            seed=SEED_RNN, primary=ELMAN + "; torch.nn.RNN (bias_ih, bias_hh)", sizes=("n", "m"),
            assumptions=("counted as the free entries of W_x, W_h and the bias vector(s), for symbolic n, m",),
            steps=(
                r"W_x \in \mathbb{R}^{n\times m},\ W_h \in \mathbb{R}^{n\times n},\ b \in \mathbb{R}^{n}:\quad |\theta| = nm + n^2 + n",
                r"\text{two biases } b_{ih}, b_{hh} \in \mathbb{R}^{n}:\quad |\theta| = nm + n^2 + 2n",
            ))
def _param_count():
    c = Cell(_n, _m)

    def entries(M):  # the number of free entries of a matrix symbol of (symbolic) shape rows x cols
        r, q = sp.Dummy("r", integer=True), sp.Dummy("q", integer=True)
        return sp.Sum(1, (r, 0, M.shape[0] - 1), (q, 0, M.shape[1] - 1)).doit()

    one = entries(c.W_x) + entries(c.W_h) + entries(c.b)
    two = one + entries(sp.MatrixSymbol("b_hh", _n, 1))
    return [("every n, m: |W_x| + |W_h| + |b| = n m + n^2 + n (one bias)", prove_equal(one, _n * _m + _n ** 2 + _n),
             sc.GENERAL),
            ("every n, m: |W_x| + |W_h| + |b_ih| + |b_hh| = n m + n^2 + 2n (two biases)",
             prove_equal(two, _n * _m + _n ** 2 + 2 * _n), sc.GENERAL)]


__all__ = ["Cell", "explicit_cell", "abstract_preactivation", "SEED_RNN", "ELMAN"]
