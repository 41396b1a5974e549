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

from .functions import phi, phi_prime
from .matrices import mat
from .prove import prove_equal, prove_true
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


def loss_from(l: int, zeta: sp.Matrix, params, g):
    """L as a function of free pre-activation symbols zeta standing for z^l (the downstream network)."""
    L = len(params)
    if l == L:
        return (g.T * zeta)[0]
    a = zeta.applyfunc(phi)
    for k in range(l + 1, L + 1):
        W, b = params[k - 1]
        z = W * a + b
        a = z.applyfunc(phi) if k < L else z
    return (g.T * a)[0]


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
            notes="Code on batch rows: a_l = phi(a_{l-1} @ W_l.T + b_l); the last layer has no activation.",
            steps=(r"z^l_i = \sum_j W^l_{ij} a^{l-1}_j + b^l_i",
                   r"a^l_i = \varphi(z^l_i)\ \ (1 \le l < L),\qquad y = z^L"))
def _forward():
    x, params, zs, acts, g = network()
    W1, b1 = params[0]
    return [("z^1 = W^1 x + b^1 entry-wise (row i: sum_j W_ij x_j + b_i)",
             prove_equal(zs[0], sp.Matrix([sum(W1[i, j] * x[j] for j in range(x.rows)) + b1[i]
                                           for i in range(W1.rows)]))),
            ("the output layer is linear: y = z^L", prove_equal(acts[-1], zs[-1]))]


@derivation("mlp.backprop.delta", title="The backpropagation recursion for delta^l = dL/dz^l",
            latex=r"\delta^L = \frac{\partial L}{\partial z^L} = g,\qquad "
                  r"\delta^l = \operatorname{diag}(\varphi'(z^l))\,(W^{l+1})^\top \delta^{l+1}",
            layout="gradients (denominator): dL/dz^l, dL/dW^l have the shapes of z^l, W^l; Jacobians numerator",
            seed=SEED, primary=RHW, assumptions=(NUMERATOR, PHI, LINEAR_LAST, LOSS),
            notes="Proved element-wise on widths 2-3-2-2 with a generic phi: for each l, the downstream loss is "
                  "written as a function of free symbols zeta = z^l, differentiated by sp.diff and evaluated at "
                  "the forward pass; it equals the recursion entry by entry.",
            steps=(r"z^{l+1} = W^{l+1}\varphi(z^l) + b^{l+1}\ \Rightarrow\ "
                   r"\frac{\partial z^{l+1}_k}{\partial z^l_j} = W^{l+1}_{kj}\,\varphi'(z^l_j)",
                   r"\delta^l_j = \frac{\partial L}{\partial z^l_j} = \sum_k \frac{\partial L}{\partial z^{l+1}_k}"
                   r"\frac{\partial z^{l+1}_k}{\partial z^l_j} = \varphi'(z^l_j) \sum_k W^{l+1}_{kj}\,\delta^{l+1}_k",
                   r"\delta^l = \operatorname{diag}(\varphi'(z^l))\,(W^{l+1})^\top \delta^{l+1},\qquad "
                   r"\delta^L = \frac{\partial \langle g, z^L\rangle}{\partial z^L} = g"))
def _delta():
    x, params, zs, acts, g = network()
    ds = deltas(params, zs, g)
    out = []
    for l in range(1, len(params) + 1):
        zeta = mat(f"zeta{l}", zs[l - 1].rows, 1)
        F = loss_from(l, zeta, params, g)
        at = dict(zip(zeta, zs[l - 1]))
        grad = sp.Matrix([sp.diff(F, s).xreplace(at) for s in zeta])
        out.append((f"l = {l}: (dL/dz^{l})_j by sp.diff equals delta^{l}", prove_equal(grad, ds[l - 1])))
    return out


@derivation("mlp.backprop.weight_grad", title="The weight and bias gradients of layer l",
            latex=r"\frac{\partial L}{\partial W^l} = \delta^l (a^{l-1})^\top,\qquad "
                  r"\frac{\partial L}{\partial b^l} = \delta^l",
            layout="gradients (denominator): dL/dz^l, dL/dW^l have the shapes of z^l, W^l; Jacobians numerator",
            seed=SEED, primary=RHW, assumptions=(NUMERATOR, PHI, LINEAR_LAST, LOSS,
                                                 "dL/dW^l has W^l's shape (entry (i, j) = dL/dW^l_ij)"),
            notes="On batch rows the gradients sum over the batch: dW_l = delta_l.T @ a_{l-1}, db_l = delta_l.sum(0).",
            steps=(r"\frac{\partial z^l_k}{\partial W^l_{ij}} = [k = i]\,a^{l-1}_j,\qquad "
                   r"\frac{\partial z^l_k}{\partial b^l_i} = [k = i]",
                   r"\frac{\partial L}{\partial W^l_{ij}} = \sum_k \delta^l_k \frac{\partial z^l_k}{\partial W^l_{ij}}"
                   r" = \delta^l_i a^{l-1}_j"))
def _weight_grad():
    x, params, zs, acts, g = network()
    ds = deltas(params, zs, g)
    y = acts[-1]
    Lx = (g.T * y)[0]
    out = []
    for l, (W, b) in enumerate(params, start=1):
        dW = W.applyfunc(lambda w: sp.diff(Lx, w))
        db = b.applyfunc(lambda v: sp.diff(Lx, v))
        out.append((f"l = {l}: dL/dW^{l}_ij = delta^{l}_i a^{l-1}_j (all entries)",
                    prove_equal(dW, ds[l - 1] * acts[l - 1].T)))
        out.append((f"l = {l}: dL/db^{l} = delta^{l}", prove_equal(db, ds[l - 1])))
    return out


@derivation("mlp.backprop.input_grad", title="The input gradient",
            latex=r"\frac{\partial L}{\partial x} = (W^1)^\top \delta^1",
            layout="gradients (denominator): dL/dz^l, dL/dW^l have the shapes of z^l, W^l; Jacobians numerator",
            seed=SEED, primary=RHW, assumptions=(NUMERATOR, PHI, LINEAR_LAST, LOSS),
            steps=(r"\frac{\partial z^1_k}{\partial x_j} = W^1_{kj}\ \Rightarrow\ "
                   r"\frac{\partial L}{\partial x_j} = \sum_k W^1_{kj}\,\delta^1_k = ((W^1)^\top \delta^1)_j",
                   r"\frac{\partial y}{\partial x} = J_L \cdots J_1,\quad J_l = \operatorname{diag}(\varphi'(z^l)) W^l"
                   r"\ (l < L),\ J_L = W^L;\qquad \frac{\partial L}{\partial x} = (J_L\cdots J_1)^\top g"))
def _input_grad():
    x, params, zs, acts, g = network()
    ds = deltas(params, zs, g)
    Lx = (g.T * acts[-1])[0]
    dx = sp.Matrix([sp.diff(Lx, v) for v in x])
    J = acts[-1].jacobian(x)
    chain = params[-1][0]
    for l in range(len(params) - 1, 0, -1):
        chain = chain * sp.diag(*[phi_prime(z) for z in zs[l - 1]]) * params[l - 1][0]
    return [("dL/dx_j by sp.diff equals (W^1)^T delta^1", prove_equal(dx, params[0][0].T * ds[0])),
            ("dy/dx (Matrix.jacobian) equals J_L ... J_1 (latest-left)", prove_equal(J, chain)),
            ("dL/dx = (J_L ... J_1)^T g", prove_equal(dx, chain.T * g))]


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
            notes="A (m x k)(k x n) product costs m k n multiplies (proved for symbolic m, k, n); one pass is a "
                  "chain of matrix-vector products plus the diag(phi') scalings, so C is the same for a JVP and a "
                  "VJP. The counts are proved exactly by an instrumented accumulation on explicit widths "
                  "(2-3-2-2, 4-3-1, 3-5-4-2-1) that also checks both modes give the same Jacobian. With n_L = 1 "
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
    out = [("(m x k)(k x n): sum_{i,j} sum_p 1 multiplies = m k n",
            prove_equal(sp.Sum(1, (p, 1, k), (i, 1, m), (j, 1, n)).doit(), m * k * n))]
    for widths in ((2, 3, 2, 2), (4, 3, 1), (3, 5, 4, 2, 1)):
        _, params, zs, acts, _ = network(widths)
        y, x = acts[-1], mat("x", widths[0], 1)
        dphis = [[phi_prime(z) for z in zl] for zl in zs[:-1]]
        fwd, rev = _Counter(), _Counter()
        cols = [_jvp_pass(fwd, params, dphis, sp.eye(widths[0])[:, c]) for c in range(widths[0])]
        rows = [_vjp_pass(rev, params, dphis, sp.eye(widths[-1])[:, r]).T for r in range(widths[-1])]
        J_fwd, J_rev = sp.Matrix.hstack(*cols), sp.Matrix.vstack(*rows)
        C = pass_cost(widths)
        tag = "-".join(map(str, widths))
        out += [(f"widths {tag}: forward mode (n_0 = {widths[0]} JVPs) = dy/dx (Matrix.jacobian)",
                 prove_equal(J_fwd, y.jacobian(x))),
                (f"widths {tag}: reverse mode (n_L = {widths[-1]} VJPs) = dy/dx", prove_equal(J_rev, y.jacobian(x))),
                (f"widths {tag}: forward mode multiplies = n_0 C = {widths[0]} * {C}",
                 prove_true(sp.Eq(fwd.mults, widths[0] * C))),
                (f"widths {tag}: reverse mode multiplies = n_L C = {widths[-1]} * {C}",
                 prove_true(sp.Eq(rev.mults, widths[-1] * C)))]
    ns = sp.symbols("n0:4", positive=True, integer=True)
    Cs = pass_cost(ns)
    out.append(("symbolic widths n_0..n_3: (n_0 C)/(n_L C) = n_0/n_L", prove_equal((ns[0] * Cs) / (ns[-1] * Cs),
                                                                                  ns[0] / ns[-1])))
    out.append(("symbolic widths: one pass C is a sum of matrix-vector costs m k 1 plus the hidden scalings",
                prove_equal(Cs, sum(ns[l] * ns[l - 1] * 1 for l in range(1, 4)) + ns[1] + ns[2])))
    return out
