"""Backpropagation through a dense feed-forward network (MLP): the delta recursion and its cost.

Network (column vectors, numerator layout (dy/dx)[i, j] = dy_i/dx_j): a^0 = x,
z^l = W^l a^{l-1} + b^l, a^l = phi(z^l) for l < L, y = z^L (the last layer linear, as the protocol).
Loss: L = <g, y> for a cotangent g (a VJP; for any scalar loss l(y), g = dl/dy by the chain rule).

Backward (Rumelhart, Hinton & Williams 1986): delta^L = dL/dz^L = g,
delta^l = diag(phi'(z^l)) (W^{l+1})^T delta^{l+1}, dL/dW^l = delta^l (a^{l-1})^T, dL/db^l = delta^l,
dL/dx = (W^1)^T delta^1. Each is proved element-wise on an explicit network (widths 2-3-2-2, generic
phi, so the identities hold for every differentiable activation) against ``sp.diff`` of the scalar loss.

Cost: multiplies only (additions are not counted), of the gradient of an L-layer network by forward
mode (n_0 Jacobian-vector passes) and reverse mode (n_L vector-Jacobian passes).

Seed: 深度学习数学模块 · 03-Backpropagation.md (反向传播).
Primary: Rumelhart, Hinton & Williams (1986), Nature 323; Baur & Strassen (1983); Griewank & Walther (2008).
"""
from __future__ import annotations

import sympy as sp

from . import scope as sc
from .functions import phi, phi_prime
from .indexed import index, prove_entry_equal
from .matrices import mat
from .prove import prove_equal
from .registry import derivation

SEED = "seed: 深度学习数学模块 · 03-Backpropagation.md (反向传播)"
RHW = ("Rumelhart, Hinton & Williams (1986), Learning representations by back-propagating errors, "
       "Nature 323, 533-536")
COST = ("Baur & Strassen (1983), The complexity of partial derivatives, Theor. Comput. Sci. 22; "
        "Griewank & Walther (2008), Evaluating Derivatives, 2nd ed., SIAM, ch. 3-4")
NUMERATOR = "numerator: (dy/dx)[i, j] = dy_i / dx_j; column vectors (code: batch rows, x @ W.T + b)"
PHI = "phi differentiable (generic: the identities hold for every activation; relu'(0) := 0 by convention)"
LINEAR_LAST = "the last layer is linear: y = z^L = W^L a^{L-1} + b^L"
LOSS = "L = <g, y> (g the cotangent; for a scalar loss l(y), g = dl/dy)"

WIDTHS = (2, 3, 2, 2)  # n_0 .. n_L of the explicit network the identities are proved on


def network(widths=WIDTHS, act=phi):
    """The explicit network: x, params [(W^l, b^l)], pre-activations z^l, activations a^l, output y, cotangent g."""
    x = mat("x", widths[0], 1)
    params = [(mat(f"W{l}", widths[l], widths[l - 1]), mat(f"b{l}", widths[l], 1)) for l in range(1, len(widths))]
    a, zs, acts = x, [], [x]
    L = len(params)
    for l, (W, b) in enumerate(params, start=1):
        z = W * a + b
        zs.append(z)
        a = z.applyfunc(act) if l < L else z
        acts.append(a)
    g = mat("g", widths[-1], 1)
    return x, params, zs, acts, g


# symbolic widths: layer l has n_l = ``nl`` units, the layer below n_{l-1} = ``nb``, the layer above n_{l+1} = ``na``
nb, nl, na = sp.symbols("n_{l-1} n_l n_{l+1}", integer=True, positive=True)


class SymLayer:
    """Layer l at symbolic widths: W^l (n_l, n_{l-1}), b^l, the input a^{l-1} (MatrixSymbols); z^l entries are
    finite sums with symbolic bounds."""

    def __init__(self, rows, cols, tag="l"):
        self.W, self.b = sp.MatrixSymbol(f"W^{tag}", rows, cols), sp.MatrixSymbol(f"b^{tag}", rows, 1)
        self.a = sp.MatrixSymbol(f"a^{tag}-1", cols, 1)
        self.rows, self.cols = rows, cols

    def z(self, k, a=None):
        a = self.a if a is None else a
        r = sp.Dummy("r", integer=True)
        return sp.Sum(self.W[k, r] * a(r), (r, 0, self.cols - 1)) + self.b[k, 0]


def deltas(params, zs, g):
    """The delta recursion: delta^L = g, delta^l = diag(phi'(z^l)) (W^{l+1})^T delta^{l+1}; [delta^1..delta^L]."""
    L = len(params)
    out = [None] * (L + 1)
    out[L] = g
    for l in range(L - 1, 0, -1):
        W_next = params[l][0]
        out[l] = sp.diag(*[phi_prime(z) for z in zs[l - 1]]) * W_next.T * out[l + 1]
    return out[1:]


@derivation("mlp.forward", kind="definition", title="The dense feed-forward network (MLP)",
            latex=r"a^0 = x,\quad z^l = W^l a^{l-1} + b^l,\quad a^l = \varphi(z^l)\ (l < L),\quad y = z^L",
            seed=SEED, primary=RHW, assumptions=(NUMERATOR, LINEAR_LAST, "W^l (n_l, n_{l-1}), b^l (n_l,)"),
            sizes=("L", "n_l"),
            notes="Code on batch rows: a_l = phi(a_{l-1} @ W_l.T + b_l); the last layer has no activation.",
            steps=(r"z^l_i = \sum_j W^l_{ij} a^{l-1}_j + b^l_i",
                   r"a^l_i = \varphi(z^l_i)\ \ (1 \le l < L),\qquad y = z^L"))
def _forward():
    x, params, zs, acts, g = network()
    W1, b1 = params[0]
    return [("z^1 = W^1 x + b^1 entry-wise (row i: sum_j W_ij x_j + b_i)",
             prove_equal(zs[0], sp.Matrix([sum(W1[i, j] * x[j] for j in range(x.rows)) + b1[i]
                                           for i in range(W1.rows)])), sc.at(L=3, n_0=2, n_1=3)),
            ("the output layer is linear: y = z^L", prove_equal(acts[-1], zs[-1]), sc.at(L=3, n_0=2, n_1=3))]


@derivation("mlp.backprop.delta", title="The backpropagation recursion for delta^l = dL/dz^l",
            latex=r"\delta^L = \frac{\partial L}{\partial z^L} = g,\qquad "
                  r"\delta^l = \operatorname{diag}(\varphi'(z^l))\,(W^{l+1})^\top \delta^{l+1}",
            layout="gradients (denominator): dL/dz^l, dL/dW^l have the shapes of z^l, W^l; Jacobians numerator",
            seed=SEED, primary=RHW, assumptions=(NUMERATOR, PHI, LINEAR_LAST, LOSS),
            sizes=("L", "n_l"),
            notes="Proved for every depth and symbolic widths by induction on L - l (generic phi): base case "
                  "l = L, delta^L_j = d<g, z^L>/dz^L_j = g_j (symbolic n_L); step: delta^{l+1} = dL/dz^{l+1} is "
                  "the hypothesis, z^{l+1} = W^{l+1} phi(z^l) + b^{l+1} at symbolic n_l, n_{l+1}, and "
                  "sum_k delta^{l+1}_k dz^{l+1}_k/dz^l_j (sp.diff of the symbolic entry, the chain rule) equals the "
                  "recursion entry j.",
            steps=(r"z^{l+1} = W^{l+1}\varphi(z^l) + b^{l+1}\ \Rightarrow\ "
                   r"\frac{\partial z^{l+1}_k}{\partial z^l_j} = W^{l+1}_{kj}\,\varphi'(z^l_j)",
                   r"\delta^l_j = \frac{\partial L}{\partial z^l_j} = \sum_k \frac{\partial L}{\partial z^{l+1}_k}"
                   r"\frac{\partial z^{l+1}_k}{\partial z^l_j} = \varphi'(z^l_j) \sum_k W^{l+1}_{kj}\,\delta^{l+1}_k",
                   r"\delta^l = \operatorname{diag}(\varphi'(z^l))\,(W^{l+1})^\top \delta^{l+1},\qquad "
                   r"\delta^L = \frac{\partial \langle g, z^L\rangle}{\partial z^L} = g"))
def _delta():
    j = index("j")
    g, zL = sp.MatrixSymbol("g", nl, 1), sp.MatrixSymbol("z^L", nl, 1)
    c = sp.Dummy("c", integer=True)
    loss = sp.Sum(g[c, 0] * zL[c, 0], (c, 0, nl - 1))
    zeta = sp.MatrixSymbol("z^l", nl, 1)
    up = SymLayer(na, nl, tag="l+1")
    dnext = sp.MatrixSymbol("delta^l+1", na, 1)
    k = sp.Dummy("k", integer=True)
    vjp = sp.Sum(dnext[k, 0] * sp.diff(up.z(k, a=lambda r: phi(zeta[r, 0])), zeta[j, 0]), (k, 0, na - 1))
    rec = phi_prime(zeta[j, 0]) * sp.Sum(up.W[k, j] * dnext[k, 0], (k, 0, na - 1))
    return [("base case l = L (symbolic n_L): d<g, z^L>/dz^L_j = g_j", prove_entry_equal(sp.diff(loss, zL[j, 0]), g[j, 0],
                                                                                      {j: nl}), sc.base_case(**{"L-l": 0})),
            ("induction step (symbolic n_l, n_{l+1}): sum_k delta^{l+1}_k dz^{l+1}_k/dz^l_j = "
             "phi'(z^l_j) sum_k W^{l+1}_kj delta^{l+1}_k", prove_entry_equal(vjp, rec, {j: nl}), sc.INDUCTION_STEP)]


@derivation("mlp.backprop.weight_grad", title="The weight and bias gradients of layer l",
            latex=r"\frac{\partial L}{\partial W^l} = \delta^l (a^{l-1})^\top,\qquad "
                  r"\frac{\partial L}{\partial b^l} = \delta^l",
            layout="gradients (denominator): dL/dz^l, dL/dW^l have the shapes of z^l, W^l; Jacobians numerator",
            seed=SEED, primary=RHW, assumptions=(NUMERATOR, PHI, LINEAR_LAST, LOSS,
                                                 "dL/dW^l has W^l's shape (entry (i, j) = dL/dW^l_ij)"),
            sizes=("n_l", "n_{l-1}"),
            notes="Proved entry-wise for symbolic widths n_l, n_{l-1}: with delta^l = dL/dz^l, dL/dW^l_ij = "
                  "sum_k delta^l_k dz^l_k/dW^l_ij (sp.diff of the symbolic entry). On batch rows the gradients sum "
                  "over the batch: dW_l = delta_l.T @ a_{l-1}, db_l = delta_l.sum(0).",
            steps=(r"\frac{\partial z^l_k}{\partial W^l_{ij}} = [k = i]\,a^{l-1}_j,\qquad "
                   r"\frac{\partial z^l_k}{\partial b^l_i} = [k = i]",
                   r"\frac{\partial L}{\partial W^l_{ij}} = \sum_k \delta^l_k \frac{\partial z^l_k}{\partial W^l_{ij}}"
                   r" = \delta^l_i a^{l-1}_j"))
def _weight_grad():
    i, j = index("i"), index("j")
    lay = SymLayer(nl, nb)
    d = sp.MatrixSymbol("delta^l", nl, 1)
    k = sp.Dummy("k", integer=True)
    z = lambda kk: lay.z(kk, a=lambda r: lay.a[r, 0])  # noqa: E731
    dW = sp.Sum(d[k, 0] * sp.diff(z(k), lay.W[i, j]), (k, 0, nl - 1))
    db = sp.Sum(d[k, 0] * sp.diff(z(k), lay.b[i, 0]), (k, 0, nl - 1))
    return [("symbolic n_l, n_{l-1}: dL/dW^l_ij = sum_k delta^l_k dz^l_k/dW^l_ij = delta^l_i a^{l-1}_j",
             prove_entry_equal(dW, d[i, 0] * lay.a[j, 0], {i: nl, j: nb}), sc.GENERAL),
            ("symbolic n_l: dL/db^l_i = delta^l_i", prove_entry_equal(db, d[i, 0], {i: nl}), sc.GENERAL)]


@derivation("mlp.backprop.input_grad", title="The input gradient",
            latex=r"\frac{\partial L}{\partial x} = (W^1)^\top \delta^1",
            layout="gradients (denominator): dL/dz^l, dL/dW^l have the shapes of z^l, W^l; Jacobians numerator",
            seed=SEED, primary=RHW, assumptions=(NUMERATOR, PHI, LINEAR_LAST, LOSS), sizes=("n_0", "n_1"),
            notes="Proved entry-wise for symbolic widths n_0, n_1: with delta^1 = dL/dz^1, dL/dx_j = "
                  "sum_k delta^1_k dz^1_k/dx_j (sp.diff of the symbolic entry). The layer-product form of dy/dx "
                  "in the steps is the delta recursion (mlp.backprop.delta) unrolled.",
            steps=(r"\frac{\partial z^1_k}{\partial x_j} = W^1_{kj}\ \Rightarrow\ "
                   r"\frac{\partial L}{\partial x_j} = \sum_k W^1_{kj}\,\delta^1_k = ((W^1)^\top \delta^1)_j",
                   r"\frac{\partial y}{\partial x} = J_L \cdots J_1,\quad J_l = \operatorname{diag}(\varphi'(z^l)) W^l"
                   r"\ (l < L),\ J_L = W^L;\qquad \frac{\partial L}{\partial x} = (J_L\cdots J_1)^\top g"))
def _input_grad():
    j = index("j")
    lay = SymLayer(nl, nb, tag="1")
    x = sp.MatrixSymbol("x", nb, 1)
    d = sp.MatrixSymbol("delta^1", nl, 1)
    k = sp.Dummy("k", integer=True)
    dx = sp.Sum(d[k, 0] * sp.diff(lay.z(k, a=lambda r: x[r, 0]), x[j, 0]), (k, 0, nl - 1))
    return [("symbolic n_0, n_1: dL/dx_j = sum_k delta^1_k dz^1_k/dx_j = ((W^1)^T delta^1)_j",
             prove_entry_equal(dx, sp.Sum(lay.W[k, j] * d[k, 0], (k, 0, nl - 1)), {j: nb}), sc.GENERAL)]


# ---------------------------------------------------------------- cost: forward vs reverse mode

class _Counter:
    """Counts the scalar multiplications of an accumulation (every product of two entries, zeros included)."""

    def __init__(self):
        self.mults = 0

    def matvec(self, A: sp.Matrix, v: sp.Matrix) -> sp.Matrix:
        out = []
        for i in range(A.rows):
            s = 0
            for j in range(A.cols):
                self.mults += 1
                s = s + A[i, j] * v[j]
            out.append(s)
        return sp.Matrix(out)

    def scale(self, d: list, v: sp.Matrix) -> sp.Matrix:
        """diag(d) v: one multiply per entry."""
        self.mults += len(d)
        return sp.Matrix([di * vi for di, vi in zip(d, v)])


def _jvp_pass(cnt, params, dphis, t):
    """Forward mode: t^l = diag(phi'(z^l)) W^l t^{l-1} (l < L), t^L = W^L t^{L-1}."""
    L = len(params)
    for l, (W, _) in enumerate(params, start=1):
        t = cnt.matvec(W, t)
        if l < L:
            t = cnt.scale(dphis[l - 1], t)
    return t


def _vjp_pass(cnt, params, dphis, d):
    """Reverse mode: s = (W^l)^T d, then d = diag(phi'(z^{l-1})) s for l - 1 >= 1; returns dL/dx."""
    for l in range(len(params), 0, -1):
        d = cnt.matvec(params[l - 1][0].T, d)
        if l > 1:
            d = cnt.scale(dphis[l - 2], d)
    return d


def pass_cost(widths):
    """Multiplies of one JVP or VJP pass: sum_l n_l n_{l-1} (matrix-vector) + sum_{l<L} n_l (diag(phi'))."""
    L = len(widths) - 1
    return sum(widths[l] * widths[l - 1] for l in range(1, L + 1)) + sum(widths[l] for l in range(1, L))


def _peel(S: sp.Sum) -> sp.Expr:
    """Sum_{l=a}^{b} f(l) = Sum_{l=a}^{b-1} f(l) + f(b): the last term taken out (an exact rewrite)."""
    (v, lo, hi), = S.limits
    return sp.Sum(S.function, (v, lo, hi - 1)) + S.function.xreplace({v: hi})


@derivation("mlp.cost.reverse_vs_forward", title="Reverse mode needs n_L passes, forward mode n_0: the cost ratio n_0/n_L",
            latex=r"C = \sum_{l=1}^{L} n_l n_{l-1} + \sum_{l=1}^{L-1} n_l,\qquad "
                  r"\text{forward: } n_0\,C,\quad \text{reverse: } n_L\,C,\quad "
                  r"\frac{\text{forward}}{\text{reverse}} = \frac{n_0}{n_L}",
            seed=SEED, primary=COST,
            assumptions=("multiplies only: additions, the forward pass itself (shared by both modes, which need "
                         "z^l) and the evaluation of phi' are not counted",
                         "dense matrix-vector products, every entry multiplied (no sparsity exploited)",
                         LINEAR_LAST + " (no diag(phi') scaling at layer L, none at the input)",
                         "the full Jacobian dy/dx (n_L x n_0) is accumulated by n_0 JVPs (columns) or n_L VJPs (rows)"),
            sizes=("L", "n_l"),
            notes="Proved for every depth L and symbolic widths n_0..n_L (an IndexedBase): a (m x k)(k x n) product "
                  "costs m k n multiplies (symbolic m, k, n); a pass through L layers costs C(L), by induction on L: "
                  "C(1) = n_1 n_0 (one matrix-vector product), and adding layer L + 1 adds its matrix-vector product "
                  "n_{L+1} n_L and the diag(phi') scaling of the old last layer, now hidden, n_L (the sums are peeled "
                  "by their last term, an exact rewrite). One pass is the same chain for a JVP and a VJP. The "
                  "tests check the instrumented accumulation (backprop.pass_cost, _jvp_pass, _vjp_pass) against "
                  "this formula on explicit widths. With n_L = 1 "
                  "(a scalar loss) reverse mode is n_0 times cheaper: the cheap-gradient principle. The brief's "
                  "sum_l (n_l n_{l-1} + n_l) counts a phi' scaling at the linear last layer too; here it is left "
                  "out, as the protocol's last layer is linear. Matrix-chain orders for the full Jacobian "
                  "(J_L ... J_1, cost sum of m k n per product) are not optimized here.",
            steps=(r"(AB)_{ij} = \sum_{p=1}^{k} A_{ip} B_{pj}:\ k \text{ multiplies per entry},\ m n \text{ entries}"
                   r"\ \Rightarrow\ m\,k\,n",
                   r"\text{JVP: } t^l = \operatorname{diag}(\varphi'(z^l))\,W^l t^{l-1}:\ n_l n_{l-1} + n_l\ (l < L),"
                   r"\quad t^L = W^L t^{L-1}:\ n_L n_{L-1}",
                   r"\text{VJP: } \delta^{l-1} = \operatorname{diag}(\varphi'(z^{l-1}))(W^l)^\top\delta^l:\ "
                   r"n_{l-1} n_l + n_{l-1}\ (l > 1),\quad \partial L/\partial x = (W^1)^\top \delta^1:\ n_0 n_1",
                   r"\text{both: } C = \sum_{l=1}^{L} n_l n_{l-1} + \sum_{l=1}^{L-1} n_l",
                   r"\frac{\partial y}{\partial x} \in \mathbb{R}^{n_L \times n_0}:\ n_0 \text{ JVPs } (e_j) "
                   r"\text{ or } n_L \text{ VJPs } (e_i)\ \Rightarrow\ n_0 C \text{ vs } n_L C"))
def _cost():
    m, k, n = sp.symbols("m k n", positive=True, integer=True)
    i, p, j = sp.symbols("i p j", positive=True, integer=True)
    L = sp.Symbol("L", integer=True, positive=True)
    l = sp.Symbol("l", integer=True)
    w = sp.IndexedBase("n")

    def C(LL):
        """One pass through LL layers: sum_l n_l n_{l-1} + sum_{l < LL} n_l."""
        return sp.Sum(w[l] * w[l - 1], (l, 1, LL)) + sp.Sum(w[l], (l, 1, LL - 1))

    a_mv, a_sc = sp.Sum(w[l] * w[l - 1], (l, 1, L + 1)), sp.Sum(w[l], (l, 1, L))
    step = _peel(a_mv) + _peel(a_sc)  # C(L + 1), last terms peeled
    G = sc.GENERAL
    return [("(m x k)(k x n): sum_{i,j} sum_p 1 multiplies = m k n (symbolic m, k, n)",
             prove_equal(sp.Sum(1, (p, 1, k), (i, 1, m), (j, 1, n)).doit(), m * k * n), G),
            ("base case L = 1: one pass is the matrix-vector product W^1 t (m k n with k = n_0, n = 1): C(1) = n_1 n_0",
             prove_equal(C(1).doit(), (m * k * n).xreplace({m: w[1], k: w[0], n: 1})), sc.base_case(L=1)),
            ("induction step (symbolic L): C(L + 1) = C(L) + n_{L+1} n_L (the new layer's product) + n_L (the old "
             "last layer's diag(phi') scaling)", prove_equal(step, C(L) + w[L + 1] * w[L] + w[L]), sc.INDUCTION_STEP),
            ("induction step: C(L + 1) is the sum formula at L + 1", prove_equal(C(L + 1), a_mv + a_sc),
             sc.INDUCTION_STEP),
            ("symbolic widths and depth: (n_0 C)/(n_L C) = n_0/n_L (forward: n_0 JVPs, reverse: n_L VJPs)",
             prove_equal((w[0] * C(L)) / (w[L] * C(L)), w[0] / w[L]), G)]
