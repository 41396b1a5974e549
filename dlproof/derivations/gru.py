"""The GRU cell, both reset variants, its Jacobians, convexity, boundedness and parameter counts.

Conventions (the project DESIGN.md): column vectors; numerator layout ``(dy/dx)[i, j] = dy_i/dx_j``; vec() is
row-major. Gates r, z = sigmoid(W_xr x + W_hr h + b_r), sigmoid(W_xz x + W_hz h + b_z);
h' = z*h + (1-z)*n (z multiplies the previous state, as in every major framework). Two variants,
a declared convention, never a tolerance:

- ``reset_after`` (GRU-A; Cho et al. arXiv v1; PyTorch, cuDNN, Keras default):
  n = tanh(W_xn x + b_xn + r*(W_hn h + b_hn));
- ``reset_before`` (GRU-B; arXiv v3; Keras reset_after=False, d2l):
  n = tanh(W_xn x + b_xn + b_hn + W_hn (r*h))  (b_xn and b_hn only act as a sum).

Each Jacobian is derived element-wise (SymPy differentiates the symbolic entry h'_i of the cell at
symbolic sizes n, m by an entry h_l, x_l or W_jk, independently of the compact formulas), and the compact
MatrixSymbol formula, the very expression the oracle kernels are printed from, is proved equal to it entry
by entry for every n, m (see the symbolic-size route below). The cell forward is a definition, checked
against plain element-wise sums at small sizes.

Seed: §4 GRU (门控循环单元). Primary: Cho et al. (2014), arXiv:1406.1078.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from dlproof.parameters import GRU_PARAMS

from .functions import sigmoid
from .matrices import elementwise, explicit, mat, vec_rows
from .prove import prove_equal, prove_positive, prove_true
from . import scope
from .registry import derivation, kernel

SEED_GRU = "seed §4 GRU (门控循环单元): 更新门 z_t, 重置门 r_t; GRU：参数更少，训练更快; LSTM：表达能力更强"
CHO = ("Cho et al. (2014), Learning phrase representations using RNN encoder-decoder for statistical machine "
       "translation, arXiv:1406.1078")
PRIMARY = {
    "reset_after": CHO + " v1/v2 (reset applied after W_hn h: GRU-A); torch.nn.GRU, cuDNN, Keras GRU(reset_after=True)",
    "reset_before": CHO + " v3 (reset applied before W_hn: GRU-B); Keras GRU(reset_after=False), d2l GRUScratch",
}
VARIANTS = ("reset_after", "reset_before")
SIZES = ((1, 2), (2, 1))
NUMERATOR = "numerator: (dy/dx)[i, j] = dy_i / dx_j; column vectors; vec() row-major"
_Z_NOTE = ("z multiplies the previous state (torch, Keras, Flax, d2l); the opposite convention "
           "(1-z) h + z n also circulates and is not this cell.")


def _one_minus_sigmoid(d):
    return 1 - sigmoid(d)


def _dsigmoid(d):
    return sigmoid(d) * (1 - sigmoid(d))


def _dtanh(d):
    return 1 - sp.tanh(d) ** 2


def _had(*args):
    return sp.HadamardProduct(*args)


class GRUCell:
    """Symbols and compact formulas of one GRU cell at size (n, m) (ints or SymPy symbols)."""

    def __init__(self, n, m, variant: str):
        if variant not in VARIANTS:
            raise ValueError(f"GRU variant={variant!r}, but should be one of {VARIANTS}")
        self.variant = variant
        S = sp.MatrixSymbol
        self.W_xr, self.W_hr, self.b_r = S("W_xr", n, m), S("W_hr", n, n), S("b_r", n, 1)
        self.W_xz, self.W_hz, self.b_z = S("W_xz", n, m), S("W_hz", n, n), S("b_z", n, 1)
        self.W_xn, self.W_hn = S("W_xn", n, m), S("W_hn", n, n)
        self.b_xn, self.b_hn = S("b_xn", n, 1), S("b_hn", n, 1)
        self.x, self.h, self.delta = S("x", m, 1), S("h", n, 1), S("delta", n, 1)
        self.a_r = self.W_xr * self.x + self.W_hr * self.h + self.b_r
        self.a_z = self.W_xz * self.x + self.W_hz * self.h + self.b_z
        self.r, self.z = elementwise(sigmoid, self.a_r), elementwise(sigmoid, self.a_z)
        self.omz = elementwise(_one_minus_sigmoid, self.a_z)  # 1 - z
        self.dr, self.dz = elementwise(_dsigmoid, self.a_r), elementwise(_dsigmoid, self.a_z)
        if variant == "reset_after":
            self.u = self.W_hn * self.h + self.b_hn  # the recurrent candidate term, gated by r
            self.a_n = self.W_xn * self.x + self.b_xn + _had(self.r, self.u)
        else:
            self.rh = _had(self.r, self.h)
            self.a_n = self.W_xn * self.x + self.b_xn + self.b_hn + self.W_hn * self.rh
        self.n_ = elementwise(sp.tanh, self.a_n)
        self.dn = elementwise(_dtanh, self.a_n)

    # compact formulas (numerator layout)
    def forward(self):
        return _had(self.z, self.h) + _had(self.omz, self.n_)

    def candidate(self):
        return self.n_

    def _D_z(self):
        """diag((h - n) ∘ z(1-z)): dh'/da_z."""
        return sp.DiagMatrix(_had(self.h - self.n_, self.dz))

    def _D_n(self):
        """diag((1 - z) ∘ (1 - n^2)): dh'/da_n."""
        return sp.DiagMatrix(_had(self.omz, self.dn))

    def jac_h(self):
        if self.variant == "reset_after":
            dan_dh = sp.DiagMatrix(_had(self.u, self.dr)) * self.W_hr + sp.DiagMatrix(self.r) * self.W_hn
        else:
            dan_dh = self.W_hn * (sp.DiagMatrix(_had(self.h, self.dr)) * self.W_hr + sp.DiagMatrix(self.r))
        return sp.DiagMatrix(self.z) + self._D_z() * self.W_hz + self._D_n() * dan_dh

    def jac_x(self):
        if self.variant == "reset_after":
            dan_dx = self.W_xn + sp.DiagMatrix(_had(self.u, self.dr)) * self.W_xr
        else:
            dan_dx = self.W_xn + self.W_hn * sp.DiagMatrix(_had(self.h, self.dr)) * self.W_xr
        return self._D_z() * self.W_xz + self._D_n() * dan_dx

    # cotangents at the pre-activations, for delta = dL/dh'
    def g_z(self):
        """(h - n) ∘ z(1-z) ∘ delta: the cotangent at a_z."""
        return _had(self.h - self.n_, self.dz, self.delta)

    def g_n(self):
        """(1 - z) ∘ (1 - n^2) ∘ delta: the cotangent at a_n."""
        return _had(self.omz, self.dn, self.delta)

    def g_r(self):
        """The cotangent at a_r: r(1-r) ∘ u ∘ g_n (after) or r(1-r) ∘ h ∘ W_hn^T g_n (before)."""
        if self.variant == "reset_after":
            return _had(self.dr, self.u, self.g_n())
        return _had(self.dr, self.h, self.W_hn.T * self.g_n())

    def g_hn(self):
        """The cotangent at W_hn's output: r ∘ g_n (after, the cotangent of u) or g_n (before)."""
        return _had(self.r, self.g_n()) if self.variant == "reset_after" else self.g_n()

    def vjp_h(self):
        back = _had(self.r, self.W_hn.T * self.g_n()) if self.variant == "reset_before" else self.W_hn.T * self.g_hn()
        return _had(self.z, self.delta) + self.W_hz.T * self.g_z() + self.W_hr.T * self.g_r() + back

    def vjp_x(self):
        return self.W_xz.T * self.g_z() + self.W_xr.T * self.g_r() + self.W_xn.T * self.g_n()

    def vjp_W_xr(self):
        return self.g_r() * self.x.T

    def vjp_W_hr(self):
        return self.g_r() * self.h.T

    def vjp_b_r(self):
        return self.g_r()

    def vjp_W_xz(self):
        return self.g_z() * self.x.T

    def vjp_W_hz(self):
        return self.g_z() * self.h.T

    def vjp_b_z(self):
        return self.g_z()

    def vjp_W_xn(self):
        return self.g_n() * self.x.T

    def vjp_W_hn(self):
        right = self.h if self.variant == "reset_after" else self.rh
        return self.g_hn() * right.T

    def vjp_b_xn(self):
        return self.g_n()

    def vjp_b_hn(self):
        return self.g_hn()

    def params(self):
        return [getattr(self, p) for p in GRU_PARAMS]

    def args(self):
        return self.params() + [self.x, self.h]


@lru_cache(maxsize=None)
def explicit_gru(n: int, m: int, variant: str):
    """(compact GRUCell, substitution to explicit matrices, explicit h' built entry by entry from sums)."""
    cell = GRUCell(n, m, variant)
    E = {getattr(cell, p): mat(p.replace("_", ""), *getattr(cell, p).shape) for p in GRU_PARAMS}
    E.update({cell.x: mat("x", m, 1), cell.h: mat("h", n, 1), cell.delta: mat("delta", n, 1)})
    P = {p: E[getattr(cell, p)] for p in GRU_PARAMS}
    x, h = E[cell.x], E[cell.h]

    def affine(Wx, Wh, b, i):
        return sum(Wx[i, j] * x[j] for j in range(m)) + sum(Wh[i, j] * h[j] for j in range(n)) + b[i]

    r = [sigmoid(affine(P["W_xr"], P["W_hr"], P["b_r"], i)) for i in range(n)]
    z = [sigmoid(affine(P["W_xz"], P["W_hz"], P["b_z"], i)) for i in range(n)]
    out = []
    for i in range(n):
        xn = sum(P["W_xn"][i, j] * x[j] for j in range(m)) + P["b_xn"][i]
        if variant == "reset_after":
            a_n = xn + r[i] * (sum(P["W_hn"][i, j] * h[j] for j in range(n)) + P["b_hn"][i])
        else:
            a_n = xn + P["b_hn"][i] + sum(P["W_hn"][i, j] * r[j] * h[j] for j in range(n))
        out.append(z[i] * h[i] + (1 - z[i]) * sp.tanh(a_n))
    return cell, E, sp.Matrix(out)


@lru_cache(maxsize=None)
def _jacobian(n: int, m: int, variant: str, wrt: str) -> sp.Matrix:
    cell, E, h_new = explicit_gru(n, m, variant)
    var = E[getattr(cell, wrt)]
    return h_new.jacobian(vec_rows(var) if var.cols > 1 else var)


# ---------------------------------------------------------------- symbolic-size route (every n, m)
# The compact formulas are proved equal to the element-wise derivatives entry by entry at symbolic sizes
# n, m, the route of lstm.py (`opaque_subterms`: the pre-activations a_r, a_z, a_n, and u = W_hn h + b_hn
# under reset_after, become undefined functions A_r(k), ..., inner first). Two further exact rewrites,
# needed by the reset-before cell, whose candidate W_hn(r∘h) nests a sum inside the product W_hn diag(.) W_hr:
#
# - `indexed.entry_of`: the entry (i, j) of a compact formula, node by node from the definitions
#   ((A B)[i, j] = sum_k A[i, k] B[k, j], (diag(v) A)[i, j] = v_i A[i, j], (u v^T)[i, j] = u_i v_j,
#   (A^T)[i, j] = A[j, i], Hadamard and element-wise functions entry by entry). SymPy's own ``M[i, j]``
#   writes diag(v) as a Kronecker sum whose evaluation leaves Piecewise guards on bound indices;
# - `sums.expanded_normal_form`: a scalar with finite sums over constant ranges as a sum of terms
#   Sum(monomial, limits): products distributed over sums (finite sums are linear, and independent ranges
#   commute), a KroneckerDelta(v, c) under the sum over v in [0, N-1] eliminated by v -> c when c has the
#   same range, bound indices renamed by position, the order of the limits chosen canonically (the least
#   of the permutations of at most 3 limits, by SymPy's sort key). Equal normal forms are equal scalars;
#   anything else goes to the prover.
# A VJP entry is compared as sum_p delta_p dh'_p/dw (the element-wise chain rule with the sum written out)
# against the compact entry, both in normal form; a Jacobian entry dh'_i/dw_l likewise.
from .indexed import canonical, entry_of, index, opaque_subterms  # noqa: E402
from .prove import ProofResult  # noqa: E402
from .lstm import SM, SN  # noqa: E402 (the symbolic sizes shared with the LSTM proofs)
from .sums import prove_expanded_equal  # noqa: E402


@lru_cache(maxsize=None)
def symbolic_gru(variant: str):
    """(GRUCell at symbolic (n, m), templates for a_r, a_z, [u], a_n, inner first)."""
    cell = GRUCell(SN, SM, variant)
    raw = [(cell.b_r, cell.a_r, "A_r"), (cell.b_z, cell.a_z, "A_z")]
    if variant == "reset_after":
        raw.append((cell.b_hn, cell.u, "U"))
    raw.append((cell.b_xn, cell.a_n, "A_n"))
    T = []
    for key, a, name in raw:
        # the template's entry, returned already abstracted with the templates before it (what
        # opaque_subterms computes from it anyway; cached, so it is built once per index)
        entry = lru_cache(maxsize=None)(lambda k, a=a, before=tuple(T): canonical(opaque_subterms(a[k, 0], list(before))))
        T.append((key, entry, sp.Function(name)))
    return cell, T


@lru_cache(maxsize=None)
def _opaque(variant: str) -> dict:
    """{pre-activation column vector: its undefined function}, for `entry_of`."""
    cell, T = symbolic_gru(variant)
    vecs = {"A_r": cell.a_r, "A_z": cell.a_z, "U": getattr(cell, "u", None), "A_n": cell.a_n}
    return {vecs[str(F)]: F for _, _, F in T}


def _wrt(cell, wrt):
    M = getattr(cell, wrt)
    return M, M.shape


def _output_entry(variant: str, wrt: str, idx: sp.Symbol):
    """h'_idx with every pre-activation that does not contain ``wrt`` already abstracted (exact before
    differentiating by ``wrt``: such a sub-term is constant in it). The rest is abstracted after ``diff``."""
    cell, T = symbolic_gru(variant)
    M = getattr(cell, wrt)
    raw = {"A_r": cell.a_r, "A_z": cell.a_z, "U": getattr(cell, "u", None), "A_n": cell.a_n}
    return _abstracted_output(variant, tuple(str(F) for _, _, F in T if not raw[str(F)].has(M)), idx)


@lru_cache(maxsize=None)
def _abstracted_output(variant: str, names: tuple, idx: sp.Symbol):
    cell, T = symbolic_gru(variant)
    return opaque_subterms(cell.forward()[idx, 0], [t for t in T if str(t[2]) in names])


def general_jacobian(variant: str, wrt: str, compact=None) -> ProofResult:
    """Every n, m: dh'_i/d{wrt}_l (element-wise, SymPy's entries of h') = entry (i, l) of the compact Jacobian."""
    cell, T = symbolic_gru(variant)
    i, l = index("i"), index("l")
    M, (rows, _) = _wrt(cell, wrt)
    J = compact if compact is not None else getattr(cell, f"jac_{wrt}")()
    bounds = {i: SN, l: rows}
    return prove_expanded_equal(sp.diff(_output_entry(variant, wrt, i), M[l, 0]), entry_of(J, i, l, _opaque(variant)), bounds, T)


def general_vjp(variant: str, wrt: str, compact=None) -> ProofResult:
    """Every n, m: sum_p delta_p dh'_p/dw = the compact VJP's entry, w = wrt[j, k] (or wrt[j])."""
    cell, T = symbolic_gru(variant)
    j, k, p = index("j"), index("k"), index("p")
    M, (rows, cols) = _wrt(cell, wrt)
    kk = k if cols != 1 else 0
    G = compact if compact is not None else getattr(cell, f"vjp_{wrt}")()
    bounds = {j: rows, k: cols} if cols != 1 else {j: rows}
    lhs = sp.Sum(cell.delta[p, 0] * sp.diff(_output_entry(variant, wrt, p), M[j, kk]), (p, 0, SN - 1))
    return prove_expanded_equal(lhs, entry_of(G, j, kk, _opaque(variant)), bounds, T)


# ---- records ----

_LATEX = {
    "reset_after": r"n = \tanh\big(W_{xn}x + b_{xn} + r\odot(W_{hn}h + b_{hn})\big)",
    "reset_before": r"n = \tanh\big(W_{xn}x + b_{xn} + b_{hn} + W_{hn}(r\odot h)\big)",
}
_GATES = (r"r = \sigma(W_{xr}x + W_{hr}h + b_r),\ z = \sigma(W_{xz}x + W_{hz}h + b_z),\ ")
_UPDATE = r",\ h' = z\odot h + (1-z)\odot n"
_SHAPES = "W_x*: n x m, W_h*: n x n, b_*, h: n, x: m"


def _forward_record(variant):
    def obligations():
        out = []
        for n, m in SIZES:
            cell, E, h_new = explicit_gru(n, m, variant)
            out.append((f"n={n}, m={m}: compact z∘h + (1-z)∘n equals the element-wise sums",
                        prove_equal(explicit(cell.forward(), E), h_new), scope.at(n=n, m=m)))
        return out

    return obligations


_STEPS_FORWARD = {
    "reset_after": (
        r"r = \sigma(W_{xr}x + W_{hr}h + b_r),\qquad z = \sigma(W_{xz}x + W_{hz}h + b_z)",
        r"n_k = \tanh\Big(\sum_j (W_{xn})_{kj}\,x_j + (b_{xn})_k + r_k\Big(\sum_j (W_{hn})_{kj}\,h_j + (b_{hn})_k\Big)\Big)",
        r"h'_k = z_k\,h_k + (1 - z_k)\,n_k",
    ),
    "reset_before": (
        r"r = \sigma(W_{xr}x + W_{hr}h + b_r),\qquad z = \sigma(W_{xz}x + W_{hz}h + b_z)",
        r"n_k = \tanh\Big(\sum_j (W_{xn})_{kj}\,x_j + (b_{xn})_k + (b_{hn})_k + \sum_j (W_{hn})_{kj}\,r_j\,h_j\Big)",
        r"h'_k = z_k\,h_k + (1 - z_k)\,n_k",
    ),
}

for _v in VARIANTS:
    derivation(f"gru.cell.forward.{_v}", kind="definition", title=f"The GRU cell ({_v.replace('_', '-')})",
               latex=_GATES + _LATEX[_v] + _UPDATE, seed=SEED_GRU, primary=PRIMARY[_v],
               assumptions=(_SHAPES, f"variant {_v} (a declared convention, never a tolerance)"),
               notes=_Z_NOTE + (" Under reset_before, b_xn and b_hn only act as a sum b_xn + b_hn."
                                if _v == "reset_before" else
                                " Under reset_after, b_hn sits inside r∘(.) and is not interchangeable with b_xn."),
               steps=_STEPS_FORWARD[_v], sizes=("n", "m"))(
        _forward_record(_v))


def _jac_record(variant, wrt):
    """Every n, m: the Jacobian's entry (i, l) and the VJP's entry, against the element-wise derivative."""
    def obligations():
        return [(f"every n, m: element-wise dh'_i/d{wrt}_l = compact Jacobian entry (i, l) (symbolic sizes)",
                 general_jacobian(variant, wrt), scope.GENERAL),
                (f"every n, m: sum_p delta_p dh'_p/d{wrt}_j = compact VJP entry j (symbolic sizes)",
                 general_vjp(variant, wrt), scope.GENERAL)]

    return obligations


_JH = {
    "reset_after": (r"\frac{\partial h'}{\partial h} = \operatorname{diag}(z) + \operatorname{diag}((h-n)\odot z\odot(1-z))W_{hz}"
                    r" + \operatorname{diag}((1-z)\odot(1-n^2))\big(\operatorname{diag}(u\odot r\odot(1-r))W_{hr} + \operatorname{diag}(r)W_{hn}\big),\ u = W_{hn}h + b_{hn}"),
    "reset_before": (r"\frac{\partial h'}{\partial h} = \operatorname{diag}(z) + \operatorname{diag}((h-n)\odot z\odot(1-z))W_{hz}"
                     r" + \operatorname{diag}((1-z)\odot(1-n^2))\,W_{hn}\big(\operatorname{diag}(h\odot r\odot(1-r))W_{hr} + \operatorname{diag}(r)\big)"),
}
_JX = {
    "reset_after": (r"\frac{\partial h'}{\partial x} = \operatorname{diag}((h-n)\odot z\odot(1-z))W_{xz}"
                    r" + \operatorname{diag}((1-z)\odot(1-n^2))\big(W_{xn} + \operatorname{diag}(u\odot r\odot(1-r))W_{xr}\big)"),
    "reset_before": (r"\frac{\partial h'}{\partial x} = \operatorname{diag}((h-n)\odot z\odot(1-z))W_{xz}"
                     r" + \operatorname{diag}((1-z)\odot(1-n^2))\big(W_{xn} + W_{hn}\operatorname{diag}(h\odot r\odot(1-r))W_{xr}\big)"),
}
_G = (r"g_z = (h-n)\odot z\odot(1-z)\odot\delta,\ g_n = (1-z)\odot(1-n^2)\odot\delta,\ ")
_GR = {"reset_after": r"g_r = r\odot(1-r)\odot u\odot g_n,\ g_u = r\odot g_n",
       "reset_before": r"q = W_{hn}^\top g_n,\ g_r = r\odot(1-r)\odot h\odot q"}
_VH = {"reset_after": r"J_h^\top\delta = z\odot\delta + W_{hz}^\top g_z + W_{hr}^\top g_r + W_{hn}^\top g_u",
       "reset_before": r"J_h^\top\delta = z\odot\delta + W_{hz}^\top g_z + W_{hr}^\top g_r + r\odot q"}
_VX = r"J_x^\top\delta = W_{xz}^\top g_z + W_{xr}^\top g_r + W_{xn}^\top g_n"
_VW = {"reset_after": (r"\frac{\partial\langle\delta,h'\rangle}{\partial W_{xr}} = g_r x^\top,\ W_{hr}: g_r h^\top,\ b_r: g_r,\ "
                       r"W_{xz}: g_z x^\top,\ W_{hz}: g_z h^\top,\ b_z: g_z,\ W_{xn}: g_n x^\top,\ b_{xn}: g_n,\ "
                       r"W_{hn}: g_u h^\top,\ b_{hn}: g_u"),
       "reset_before": (r"\frac{\partial\langle\delta,h'\rangle}{\partial W_{xr}} = g_r x^\top,\ W_{hr}: g_r h^\top,\ b_r: g_r,\ "
                        r"W_{xz}: g_z x^\top,\ W_{hz}: g_z h^\top,\ b_z: g_z,\ W_{xn}: g_n x^\top,\ "
                        r"W_{hn}: g_n (r\odot h)^\top,\ b_{xn} = b_{hn}: g_n")}

_STEPS_JH = {
    "reset_after": (
        r"h' = z\odot h + (1-z)\odot n:\quad \frac{\partial h'}{\partial h} = \operatorname{diag}(z) + \operatorname{diag}(h-n)\,\frac{\partial z}{\partial h} + \operatorname{diag}(1-z)\,\frac{\partial n}{\partial h}",
        r"\frac{\partial z}{\partial h} = \operatorname{diag}(z\odot(1-z))\,W_{hz},\quad \frac{\partial r}{\partial h} = \operatorname{diag}(r\odot(1-r))\,W_{hr},\quad \frac{\partial n}{\partial h} = \operatorname{diag}(1-n^2)\,\frac{\partial a_n}{\partial h}",
        r"a_n = W_{xn}x + b_{xn} + r\odot u,\ u = W_{hn}h + b_{hn}:\quad \frac{\partial a_n}{\partial h} = \operatorname{diag}(u)\,\frac{\partial r}{\partial h} + \operatorname{diag}(r)\,W_{hn} = \operatorname{diag}(u\odot r\odot(1-r))W_{hr} + \operatorname{diag}(r)W_{hn}",
        r"\text{cotangents at } a_z, a_n:\quad g_z = (h-n)\odot z\odot(1-z)\odot\delta,\qquad g_n = (1-z)\odot(1-n^2)\odot\delta",
        r"J_h^\top\delta = z\odot\delta + W_{hz}^\top g_z + \Big(\frac{\partial a_n}{\partial h}\Big)^{\top} g_n = z\odot\delta + W_{hz}^\top g_z + W_{hr}^\top g_r + W_{hn}^\top g_u,\quad g_r = r\odot(1-r)\odot u\odot g_n,\ g_u = r\odot g_n",
    ),
    "reset_before": (
        r"h' = z\odot h + (1-z)\odot n:\quad \frac{\partial h'}{\partial h} = \operatorname{diag}(z) + \operatorname{diag}(h-n)\,\frac{\partial z}{\partial h} + \operatorname{diag}(1-z)\,\frac{\partial n}{\partial h}",
        r"\frac{\partial z}{\partial h} = \operatorname{diag}(z\odot(1-z))\,W_{hz},\quad \frac{\partial r}{\partial h} = \operatorname{diag}(r\odot(1-r))\,W_{hr},\quad \frac{\partial n}{\partial h} = \operatorname{diag}(1-n^2)\,\frac{\partial a_n}{\partial h}",
        r"a_n = W_{xn}x + b_{xn} + b_{hn} + W_{hn}(r\odot h):\quad \frac{\partial a_n}{\partial h} = W_{hn}\Big(\operatorname{diag}(h)\,\frac{\partial r}{\partial h} + \operatorname{diag}(r)\Big) = W_{hn}\big(\operatorname{diag}(h\odot r\odot(1-r))W_{hr} + \operatorname{diag}(r)\big)",
        r"\text{cotangents at } a_z, a_n:\quad g_z = (h-n)\odot z\odot(1-z)\odot\delta,\qquad g_n = (1-z)\odot(1-n^2)\odot\delta",
        r"J_h^\top\delta = z\odot\delta + W_{hz}^\top g_z + \Big(\frac{\partial a_n}{\partial h}\Big)^{\top} g_n = z\odot\delta + W_{hz}^\top g_z + W_{hr}^\top g_r + r\odot q,\quad q = W_{hn}^\top g_n,\ g_r = r\odot(1-r)\odot h\odot q",
    ),
}
_STEPS_JX = {
    "reset_after": (
        r"h' = z\odot h + (1-z)\odot n,\ h \text{ fixed}:\quad \frac{\partial h'}{\partial x} = \operatorname{diag}(h-n)\,\frac{\partial z}{\partial x} + \operatorname{diag}(1-z)\,\frac{\partial n}{\partial x}",
        r"\frac{\partial z}{\partial x} = \operatorname{diag}(z\odot(1-z))\,W_{xz},\quad \frac{\partial r}{\partial x} = \operatorname{diag}(r\odot(1-r))\,W_{xr},\quad \frac{\partial n}{\partial x} = \operatorname{diag}(1-n^2)\,\frac{\partial a_n}{\partial x}",
        r"a_n = W_{xn}x + b_{xn} + r\odot u,\ u = W_{hn}h + b_{hn}:\quad \frac{\partial a_n}{\partial x} = W_{xn} + \operatorname{diag}(u)\,\frac{\partial r}{\partial x} = W_{xn} + \operatorname{diag}(u\odot r\odot(1-r))W_{xr}",
        r"\text{cotangents at } a_z, a_n:\quad g_z = (h-n)\odot z\odot(1-z)\odot\delta,\qquad g_n = (1-z)\odot(1-n^2)\odot\delta",
        r"J_x^\top\delta = W_{xz}^\top g_z + \Big(\frac{\partial a_n}{\partial x}\Big)^{\top} g_n = W_{xz}^\top g_z + W_{xr}^\top g_r + W_{xn}^\top g_n,\quad g_r = r\odot(1-r)\odot u\odot g_n",
    ),
    "reset_before": (
        r"h' = z\odot h + (1-z)\odot n,\ h \text{ fixed}:\quad \frac{\partial h'}{\partial x} = \operatorname{diag}(h-n)\,\frac{\partial z}{\partial x} + \operatorname{diag}(1-z)\,\frac{\partial n}{\partial x}",
        r"\frac{\partial z}{\partial x} = \operatorname{diag}(z\odot(1-z))\,W_{xz},\quad \frac{\partial r}{\partial x} = \operatorname{diag}(r\odot(1-r))\,W_{xr},\quad \frac{\partial n}{\partial x} = \operatorname{diag}(1-n^2)\,\frac{\partial a_n}{\partial x}",
        r"a_n = W_{xn}x + b_{xn} + b_{hn} + W_{hn}(r\odot h):\quad \frac{\partial a_n}{\partial x} = W_{xn} + W_{hn}\operatorname{diag}(h)\,\frac{\partial r}{\partial x} = W_{xn} + W_{hn}\operatorname{diag}(h\odot r\odot(1-r))W_{xr}",
        r"\text{cotangents at } a_z, a_n:\quad g_z = (h-n)\odot z\odot(1-z)\odot\delta,\qquad g_n = (1-z)\odot(1-n^2)\odot\delta",
        r"J_x^\top\delta = W_{xz}^\top g_z + \Big(\frac{\partial a_n}{\partial x}\Big)^{\top} g_n = W_{xz}^\top g_z + W_{xr}^\top g_r + W_{xn}^\top g_n,\quad q = W_{hn}^\top g_n,\ g_r = r\odot(1-r)\odot h\odot q",
    ),
}

_GENERAL = {v: ("proved entry-wise for every n, m (symbolic sizes): the compact entry against the element-wise "
                 "derivative of the symbolic entries of h', with the pre-activations a_r, a_z, a_n"
                 + (" and u = W_hn h + b_hn" if v == "reset_after" else "") + " abstracted as undefined functions")
            for v in VARIANTS}

for _v in VARIANTS:
    derivation(f"gru.cell.jacobian_h.{_v}", title=f"GRU cell Jacobian with respect to the previous state ({_v.replace('_', '-')})",
               latex=_JH[_v] + r",\qquad " + _G + _GR[_v] + r",\ " + _VH[_v],
               seed=SEED_GRU, primary=PRIMARY[_v], layout=NUMERATOR, assumptions=(_SHAPES, _GENERAL[_v]),
               notes="The diag(z) term is the direct path through z∘h.",
               steps=_STEPS_JH[_v], sizes=("n", "m"))(
        _jac_record(_v, "h"))
    derivation(f"gru.cell.jacobian_x.{_v}", title=f"GRU cell Jacobian with respect to the input ({_v.replace('_', '-')})",
               latex=_JX[_v] + r",\qquad " + _G + _GR[_v] + r",\ " + _VX,
               seed=SEED_GRU, primary=PRIMARY[_v], layout=NUMERATOR, assumptions=(_SHAPES, _GENERAL[_v]),
               notes="h is held fixed (a partial derivative of h' = cell(x, h)).",
               steps=_STEPS_JX[_v], sizes=("n", "m"))(_jac_record(_v, "x"))


def _weights_record(variant):
    """Every n, m: each of the 10 gradients, entry (j, k), against the element-wise chain rule."""
    def obligations():
        return [(f"every n, m: sum_p delta_p dh'_p/d{p}[j, k] = compact gradient entry (symbolic sizes)",
                 general_vjp(variant, p), scope.GENERAL) for p in GRU_PARAMS]

    return obligations


_STEPS_WEIGHTS = {
    "reset_after": (
        r"L = \langle\delta, h'\rangle:\quad \frac{\partial L}{\partial a_z} = g_z = (h-n)\odot z\odot(1-z)\odot\delta,\qquad \frac{\partial L}{\partial a_n} = g_n = (1-z)\odot(1-n^2)\odot\delta",
        r"a_n = W_{xn}x + b_{xn} + r\odot u,\ u = W_{hn}h + b_{hn}:\quad \frac{\partial L}{\partial u} = g_u = r\odot g_n,\qquad \frac{\partial L}{\partial a_r} = g_r = r\odot(1-r)\odot u\odot g_n",
        r"\text{every affine map } y = W v + b:\quad \frac{\partial L}{\partial W} = \frac{\partial L}{\partial y}\,v^\top,\qquad \frac{\partial L}{\partial b} = \frac{\partial L}{\partial y}",
        r"W_{xr}: g_r x^\top,\ W_{hr}: g_r h^\top,\ b_r: g_r,\ W_{xz}: g_z x^\top,\ W_{hz}: g_z h^\top,\ b_z: g_z,\ W_{xn}: g_n x^\top,\ b_{xn}: g_n,\ W_{hn}: g_u h^\top,\ b_{hn}: g_u",
    ),
    "reset_before": (
        r"L = \langle\delta, h'\rangle:\quad \frac{\partial L}{\partial a_z} = g_z = (h-n)\odot z\odot(1-z)\odot\delta,\qquad \frac{\partial L}{\partial a_n} = g_n = (1-z)\odot(1-n^2)\odot\delta",
        r"a_n = W_{xn}x + b_{xn} + b_{hn} + W_{hn}(r\odot h):\quad \frac{\partial L}{\partial (r\odot h)} = q = W_{hn}^\top g_n,\qquad \frac{\partial L}{\partial a_r} = g_r = r\odot(1-r)\odot h\odot q",
        r"\text{every affine map } y = W v + b:\quad \frac{\partial L}{\partial W} = \frac{\partial L}{\partial y}\,v^\top,\qquad \frac{\partial L}{\partial b} = \frac{\partial L}{\partial y}",
        r"W_{xr}: g_r x^\top,\ W_{hr}: g_r h^\top,\ b_r: g_r,\ W_{xz}: g_z x^\top,\ W_{hz}: g_z h^\top,\ b_z: g_z,\ W_{xn}: g_n x^\top,\ W_{hn}: g_n (r\odot h)^\top,\ b_{xn} = b_{hn}: g_n",
    ),
}

for _v in VARIANTS:
    derivation(f"gru.cell.jacobian_weights.{_v}",
               title=f"GRU cell gradients with respect to every weight and bias block ({_v.replace('_', '-')})",
               latex=_G + _GR[_v] + r";\quad " + _VW[_v],
               seed=SEED_GRU, primary=PRIMARY[_v], layout="denominator (gradients of <delta, h'>, shaped like the parameter)",
               assumptions=(_SHAPES, "entry (j, k) of every one of the 10 gradients: sum_p delta_p dh'_p/dP_jk "
                                     "(element-wise) = the compact gradient's entry",
                            _GENERAL[_v]),
               notes=("Under reset_before the gradients of b_xn and b_hn are equal (they only act as a sum)."
                      if _v == "reset_before" else
                      "Under reset_after b_hn is gated by r: its gradient r∘g_n differs from b_xn's g_n."),
               steps=_STEPS_WEIGHTS[_v], sizes=("n", "m"))(
        _weights_record(_v))


# ---- convexity and boundedness ----

def _scalar_gru():
    h, n = sp.symbols("h n", real=True)
    z = sp.Symbol("z", real=True)
    return h, n, z, z * h + (1 - z) * n


@derivation("gru.convexity", title="Each entry of h' lies between h and the candidate n",
            latex=(r"h'_i - h_i = (1-z_i)(n_i - h_i),\quad h'_i - n_i = z_i(h_i - n_i),\quad "
                   r"(h'_i - h_i)(h'_i - n_i) = -z_i(1-z_i)(h_i - n_i)^2 \le 0,\quad z_i\in(0,1)"
                   r"\ \Rightarrow\ \min(h_i,n_i) \le h'_i \le \max(h_i,n_i)"),
            seed=SEED_GRU, primary=CHO + " (h' = z h + (1-z) h~, an element-wise convex combination)",
            assumptions=("z = sigmoid(a_z) in (0, 1) over the reals (act.sigmoid.range)",
                         "holds for both variants: only the candidate n differs",
                         "per unit: z_i, h_i, n_i are scalars of one unit, so the identities hold for every n"),
            sizes=(),
            notes="A product of two reals is <= 0 iff they do not share a strict sign, i.e. h' lies in the closed "
                  "interval between h and n; it is strictly inside when h != n.",
            steps=(
                r"h'_i - h_i = z_i h_i + (1-z_i)\,n_i - h_i = (1-z_i)(n_i - h_i)",
                r"h'_i - n_i = z_i h_i + (1-z_i)\,n_i - n_i = z_i(h_i - n_i)",
                r"(h'_i - h_i)(h'_i - n_i) = -z_i(1-z_i)(h_i - n_i)^2 \le 0 \quad (z_i = \sigma(\cdot) \in (0, 1))",
                r"\Rightarrow\ h'_i - h_i \text{ and } h'_i - n_i \text{ do not share a strict sign}:\ \min(h_i, n_i) \le h'_i \le \max(h_i, n_i)",
            ))
def _convexity():
    h, n, z, hp = _scalar_gru()
    a = sp.Symbol("a", real=True)
    out = [
        ("h' - h = (1 - z)(n - h)", prove_equal(hp - h, (1 - z) * (n - h))),
        ("h' - n = z (h - n)", prove_equal(hp - n, z * (h - n))),
        ("(h' - h)(h' - n) = -z(1 - z)(h - n)^2", prove_equal((hp - h) * (hp - n), -z * (1 - z) * (h - n) ** 2)),
        ("z(1 - z) > 0 for z = sigmoid(a)", prove_positive(sigmoid(a) * (1 - sigmoid(a)))),
        ("(h - n)^2 >= 0 for real h, n", prove_true(sp.Ge((h - n) ** 2, 0))),
    ]
    return out


_U_BOUND = r"|\mathrm{fl}(h')| \le 1 + 2u"


@derivation("gru.bounded_state", title="|h_0| <= 1 implies |h_t| <= 1 for every t (exact over the reals)",
            latex=(r"\|h_{t-1}\|_\infty \le 1 \Rightarrow 1 \mp h'_i = z_i(1 \mp h_i) + (1-z_i)(1 \mp n_i) > 0"
                   r"\ \Rightarrow\ \|h_t\|_\infty \le 1\ \forall t;\qquad "
                   r"\text{float, } \hat h' = \mathrm{fl}(\mathrm{fl}(z h) + \mathrm{fl}(\mathrm{fl}(1-z)\,n)):\ "
                   r"|\hat h'| \le \mathrm{fl}\big(z(1+u) + (1-z)(1+u)^2\big) \le \mathrm{fl}\big((1+u)^2\big) = 1 + 2u"),
            seed=SEED_GRU, primary=CHO + "; Higham (2002), Accuracy and Stability of Numerical Algorithms, §2.2 (fl(a op b) = (a op b)(1+delta), |delta| <= u)",
            sizes=(),
            assumptions=("z_i in (0, 1) (act.sigmoid.range), n_i in (-1, 1) (act.tanh.range); both variants",
                         "induction on t: the base is |h_0| <= 1, the step is the identity below with z, 1-z > 0, "
                         "1 -+ h >= 0, 1 -+ n > 0",
                         "float: round to nearest, unit roundoff u (2^-24 float32, 2^-53 float64), no underflow "
                         "issues (they only shrink magnitudes); computed z in [0, 1], |n| <= 1, |h| <= 1 are floats"),
            notes=("Exact over the reals. In floating point it holds only within one rounding: measured, float32 "
                   "breaks |h| <= 1 by 1 ulp about twice in 10^5 draws. Bound for the evaluation order "
                   "z*h + (1-z)*n (Keras, d2l, the dlproof oracle): with fl(a op b) = (a op b)(1+d), |d| <= u, "
                   "|fl(z h)| <= z(1+u), |fl(fl(1-z) n)| <= (1-z)(1+u)^2, so the sum before the last rounding is "
                   "<= z(1+u) + (1-z)(1+u)^2 <= (1+u)^2 = 1 + 2u + u^2 < 1 + 3u, the midpoint between the floats "
                   "1 + 2u and 1 + 4u; rounding to nearest is monotone, hence |fl(h')| <= 1 + 2u = 1 + 1 ulp(1) "
                   "(" + _U_BOUND + "). torch's order (h - n)*z + n is weaker: fl(fl(h - n) z) = (h - n) z (1 + theta), "
                   "|theta| <= 2u + u^2, |h - n| <= 2, so the sum before the last rounding is <= 1 + 2z(2u + u^2) "
                   "<= 1 + 4u + 2u^2 < 1 + 5u, hence |fl(h')| <= 1 + 4u (2 ulps) for that order."),
            steps=(
                r"1 - h'_i = z_i(1 - h_i) + (1-z_i)(1 - n_i),\qquad 1 + h'_i = z_i(1 + h_i) + (1-z_i)(1 + n_i)",
                r"z_i \in (0, 1),\ |n_i| < 1,\ |h_i| \le 1:\quad 1 \mp h'_i \ge (1-z_i)(1 \mp n_i) > 0\ \Rightarrow\ |h'_i| < 1;\ \text{induction on } t \text{ from } \|h_0\|_\infty \le 1",
                r"\text{float, } |z|, |h|, |n| \le 1:\quad |\mathrm{fl}(z h)| \le z(1+u),\qquad |\mathrm{fl}(\mathrm{fl}(1-z)\,n)| \le (1-z)(1+u)^2",
                r"(1+u)^2 - \big(z(1+u) + (1-z)(1+u)^2\big) = z\,u\,(1+u) \ge 0\ \Rightarrow\ |\text{sum}| \le (1+u)^2 = 1 + 2u + u^2 < 1 + 3u",
                r"1 + 3u \text{ is the midpoint of the floats } 1 + 2u,\ 1 + 4u;\ \text{rounding to nearest is monotone}\ \Rightarrow\ |\hat h'| \le 1 + 2u",
            ))
def _bounded():
    h, n, z, hp = _scalar_gru()
    e = sp.Symbol("e", nonnegative=True)  # e = 1 -+ h >= 0 (the induction hypothesis)
    w, v = sp.symbols("w v", positive=True)  # z = 1/(1+w), w = e^{-a_z};  n = (v-1)/(v+1), v = e^{2 a_n}
    a = sp.Symbol("a", real=True)
    zw, nv = 1 / (1 + w), (v - 1) / (v + 1)
    u = sp.Symbol("u", positive=True)
    out = [
        ("1 - h' = z(1 - h) + (1 - z)(1 - n)", prove_equal(1 - hp, z * (1 - h) + (1 - z) * (1 - n))),
        ("1 + h' = z(1 + h) + (1 - z)(1 + n)", prove_equal(1 + hp, z * (1 + h) + (1 - z) * (1 + n))),
        ("sigmoid(a) = 1/(1 + w) with w = e^{-a} > 0", prove_equal(sigmoid(a), (1 / (1 + sp.exp(-a))))),
        ("tanh(a) = (v - 1)/(v + 1) with v = e^{2a} > 0", prove_equal(sp.tanh(a), (sp.exp(2 * a) - 1) / (sp.exp(2 * a) + 1))),
        ("step: 1 - h' = z e + (1 - z)(1 - n) > 0 for e = 1 - h >= 0", prove_positive(zw * e + (1 - zw) * (1 - nv))),
        ("step: 1 + h' = z e + (1 - z)(1 + n) > 0 for e = 1 + h >= 0", prove_positive(zw * e + (1 - zw) * (1 + nv))),
        # the floating-point bound (evaluation order z*h + (1-z)*n)
        ("float: (1+u)^2 - [z(1+u) + (1-z)(1+u)^2] = z u (1+u)",
         prove_equal((1 + u) ** 2 - (z * (1 + u) + (1 - z) * (1 + u) ** 2), z * u * (1 + u))),
        ("float: z u (1+u) >= 0 for z = 1/(1+w) in (0, 1)", prove_positive(zw * u * (1 + u))),
        ("float: (1+u)^2 = 1 + 2u + u^2 lies below the midpoint 1 + 3u of the floats 1 + 2u and 1 + 4u (u < 1)",
         prove_positive(((1 + 3 * u) - (1 + u) ** 2).subs(u, 1 / (1 + w)))),
    ]
    return out


# ---- the two variants are not equivalent ----

def _point_value(variant, n, m, vals):
    cell, E, h_new = explicit_gru(n, m, variant)
    sub = {}
    for p in GRU_PARAMS + ("x", "h"):
        M = E[getattr(cell, p)]
        given = sp.Matrix(vals[p]).reshape(*M.shape) if p in vals else sp.zeros(*M.shape)
        sub.update(dict(zip(M, given)))
    return h_new.xreplace(sub)


_CEX1 = {"b_hn": [1]}  # n = 1: all else 0, so r = z = 1/2
_CEX2 = {"W_hn": [[0, 1], [0, 0]], "h": [0, 1], "W_hr": [[0, 0], [0, 2]]}  # n = 2, b_hn = 0


@derivation("gru.variants_differ", kind="refutation", title="Reset-after and reset-before GRUs compute the same function",
            latex=(r"\tanh\big(W_{xn}x + b_{xn} + r\odot(W_{hn}h + b_{hn})\big) \ne \tanh\big(W_{xn}x + b_{xn} + b_{hn} + W_{hn}(r\odot h)\big)"
                   r"\ \text{in general};\ n=1:\ a_n^{\rm after} - a_n^{\rm before} = (r-1)\,b_{hn}"),
            seed=SEED_GRU, primary=PRIMARY["reset_after"] + "; " + PRIMARY["reset_before"],
            assumptions=("the claim refuted: 'the two GRU variants compute the same h' for the same parameters'",),
            sizes=("n",),
            notes=("Counterexample 1 (n = m = 1): every weight, bias and input 0 except b_hn = 1, so r = z = 1/2: "
                   "reset_after gives h' = tanh(1/2)/2, reset_before h' = tanh(1)/2. At n = 1 the variants agree iff "
                   "b_hn = 0 (a scalar r commutes with W_hn). Counterexample 2 (n = 2, m = 1, b_hn = 0, so the "
                   "bias is not the only difference): W_hn = [[0,1],[0,0]], W_hr = [[0,0],[0,2]], h = (0, 1), all "
                   "else 0: r = (1/2, sigmoid(2)); after: h'_0 = tanh(1/2)/2, before: h'_0 = tanh(sigmoid(2))/2. "
                   "The variant is a declared convention, never a tolerance."),
            steps=(
                r"n = m = 1,\ \text{every weight, bias and input } 0 \text{ except } b_{hn} = 1:\quad r = z = \sigma(0) = \frac{1}{2}",
                r"\text{after: } a_n = r\,(W_{hn}h + b_{hn}) = \frac{1}{2},\ h' = \frac{\tanh(1/2)}{2};\qquad \text{before: } a_n = b_{hn} + W_{hn}\,r\,h = 1,\ h' = \frac{\tanh(1)}{2} \ne \frac{\tanh(1/2)}{2}",
                r"n = 1:\ a_n^{\text{after}} - a_n^{\text{before}} = r\,(W_{hn}h + b_{hn}) - b_{hn} - W_{hn}\,r\,h = (r - 1)\,b_{hn}",
                r"n = 2,\ b_{hn} = 0:\ W_{hn} = e_1 e_2^\top,\ W_{hr} = 2\,e_2 e_2^\top,\ h = (0, 1),\ \text{all else } 0:\quad z = \Big(\frac{1}{2}, \frac{1}{2}\Big),\ r = \Big(\frac{1}{2}, \sigma(2)\Big)",
                r"\text{first entry:}\ \text{after } h'_1 = \frac{1}{2}\tanh\big(r_1 (W_{hn}h)_1\big) = \frac{\tanh(1/2)}{2},\quad \text{before } h'_1 = \frac{1}{2}\tanh\big((W_{hn}(r\odot h))_1\big) = \frac{\tanh(\sigma(2))}{2} \ne \frac{\tanh(1/2)}{2}",
            ))
def _variants_differ():
    out = []
    after, before = _point_value("reset_after", 1, 1, _CEX1), _point_value("reset_before", 1, 1, _CEX1)
    n1, n2 = scope.at(n=1), scope.at(n=2)
    out.append(("n=1 point: reset_after h' = tanh(1/2)/2", prove_equal(after[0], sp.tanh(sp.Rational(1, 2)) / 2), n1))
    out.append(("n=1 point: reset_before h' = tanh(1)/2", prove_equal(before[0], sp.tanh(1) / 2), n1))
    out.append(("tanh(1/2)/2 != tanh(1)/2", prove_true(sp.Ne(sp.tanh(sp.Rational(1, 2)) / 2, sp.tanh(1) / 2)), n1))
    r, b = sp.Symbol("r", real=True), sp.Symbol("b_hn", real=True)
    W, hh, c = sp.symbols("W_hn h c", real=True)
    out.append(("n=1: a_after - a_before = (r - 1) b_hn", prove_equal((c + r * (W * hh + b)) - (c + b + W * r * hh), (r - 1) * b), n1))
    after, before = _point_value("reset_after", 2, 1, _CEX2), _point_value("reset_before", 2, 1, _CEX2)
    out.append(("n=2, b_hn = 0 point: reset_after h'_0 = tanh(1/2)/2", prove_equal(after[0], sp.tanh(sp.Rational(1, 2)) / 2), n2))
    out.append(("n=2, b_hn = 0 point: reset_before h'_0 = tanh(sigmoid(2))/2", prove_equal(before[0], sp.tanh(sigmoid(2)) / 2), n2))
    s2 = (1 / (1 + sp.exp(-2)))  # sigmoid(2) in exp form, a number SymPy compares rigorously
    out.append(("sigmoid(2) = 1/(1 + e^-2)", prove_equal(sigmoid(2), s2), n2))
    out.append(("tanh(1/2)/2 != tanh(1/(1 + e^-2))/2 (sigmoid(2) > 1/2)",
                prove_true(sp.Ne(sp.tanh(sp.Rational(1, 2)) / 2, sp.tanh(s2) / 2)), n2))
    return out


# ---- parameter counts ----

_n, _m = sp.symbols("n m", integer=True, positive=True)
GRU_ONE_BIAS = 3 * (_n * (_n + _m) + _n)
GRU_TWO_BIAS = 3 * (_n * (_n + _m) + 2 * _n)
LSTM_ONE_BIAS = 4 * (_n * (_n + _m) + _n)
LSTM_TWO_BIAS = 4 * (_n * (_n + _m) + 2 * _n)


@derivation("gru.param_count", title="Parameter count of one GRU layer, with one and with two bias vectors",
            latex=(r"|\theta| = 3\big(n(n+m) + n\big)\ (\text{one bias } 3n\text{: reset-before, d2l, Keras reset\_after=False}),\quad "
                   r"3\big(n(n+m) + 2n\big)\ (\text{two biases } b_{ih}, b_{hh}\text{: torch, Keras reset\_after=True } (2, 3n))"),
            seed=SEED_GRU + " (参数更少)", primary=CHO + "; torch.nn.GRU (bias_ih, bias_hh: 3n each); Keras GRU bias (2, 3n) / (3n,)",
            assumptions=("stored entries: W_x* (3 blocks n x m), W_h* (3 blocks n x n) and the bias vector(s)",
                         "one bias: b_r, b_z and the candidate bias b_xn + b_hn (under reset_before only the sum acts)",
                         "counted from the block shapes of the cell at symbolic (n, m): a polynomial identity for every n, m"),
            sizes=("n", "m"),
            notes=("Free (identifiable) parameters are fewer than stored ones with two biases: reset_after has "
                   "3n(n+m) + 4n (b_r, b_z, b_xn, b_hn; the r and z biases of b_ih and b_hh only act as sums), "
                   "reset_before 3n(n+m) + 3n. The counts here are what frameworks store and report; the two "
                   "layouts differ by exactly 3n (the Keras reset_after default change, tensorflow/tensorflow#43960)."),
            steps=(
                r"3 \text{ blocks } (r, z, n):\quad 3nm + 3n^2 = 3n(n+m) \ \text{ weights}",
                r"\text{one bias } (3n):\quad 3n(n+m) + 3n = 3\big(n(n+m) + n\big)",
                r"\text{two biases } b_{ih}, b_{hh}\ (3n \text{ each}):\quad 3n(n+m) + 6n = 3\big(n(n+m) + 2n\big)",
                r"3\big(n(n+m) + 2n\big) - 3\big(n(n+m) + n\big) = 3n",
            ))
def _gru_param_count():
    cell = GRUCell(_n, _m, "reset_before")
    n_w = sum(getattr(cell, p).shape[0] * getattr(cell, p).shape[1] for p in GRU_PARAMS if p.startswith("W"))
    return [("every n, m: 3 n x m + 3 n x n weight entries + one 3n bias = 3(n(n+m)+n)",
             prove_equal(n_w + 3 * _n, GRU_ONE_BIAS), scope.GENERAL),
            ("every n, m: the same + two 3n biases = 3(n(n+m)+2n)", prove_equal(n_w + 6 * _n, GRU_TWO_BIAS), scope.GENERAL),
            ("the two layouts differ by 3n", prove_equal(GRU_TWO_BIAS - GRU_ONE_BIAS, 3 * _n), scope.GENERAL)]


@derivation("gru.lstm_param_ratio", title="GRU:LSTM parameter ratio is 3/4 only with the same bias layout",
            latex=(r"\frac{3(n(n+m)+n)}{4(n(n+m)+n)} = \frac{3(n(n+m)+2n)}{4(n(n+m)+2n)} = \frac34,\qquad "
                   r"\frac{3(n(n+m)+2n)}{4(n(n+m)+n)} = \frac{3(n+m+2)}{4(n+m+1)} = \frac34 + \frac{3}{4(n+m+1)} \ne \frac34"),
            seed=SEED_GRU + " (GRU：参数更少)", primary=CHO + "; Hochreiter & Schmidhuber (1997), Long short-term memory, Neural Computation 9(8); Keras GRU(reset_after=True) bias (2, 3n), Keras LSTM bias (4n,)",
            assumptions=("LSTM: 4 gate blocks, 4(n(n+m)+n) with one bias (Keras, d2l), 4(n(n+m)+2n) with two (torch)",
                         "GRU: gru.param_count", "n, m positive integers"),
            sizes=("n", "m"),
            notes=("Same layout (torch GRU vs torch LSTM; Keras GRU(reset_after=False) vs Keras LSTM): exactly 3/4. "
                   "Real Keras defaults, GRU(reset_after=True) vs LSTM: 3(n+m+2)/(4(n+m+1)) > 3/4; at n = m = 1 it "
                   "is 12/12 = 1 (no saving at all); it tends to 3/4 as n + m grows."),
            steps=(
                r"\frac{3(n(n+m)+n)}{4(n(n+m)+n)} = \frac{3}{4},\qquad \frac{3(n(n+m)+2n)}{4(n(n+m)+2n)} = \frac{3}{4}",
                r"\frac{3(n(n+m)+2n)}{4(n(n+m)+n)} = \frac{3n(n+m+2)}{4n(n+m+1)} = \frac{3(n+m+2)}{4(n+m+1)}",
                r"\frac{3(n+m+2)}{4(n+m+1)} - \frac{3}{4} = \frac{3(n+m+2) - 3(n+m+1)}{4(n+m+1)} = \frac{3}{4(n+m+1)} > 0",
                r"n = m = 1:\quad \frac{3\cdot 4}{4\cdot 3} = 1",
            ))
def _ratio():
    same1 = GRU_ONE_BIAS / LSTM_ONE_BIAS
    same2 = GRU_TWO_BIAS / LSTM_TWO_BIAS
    keras = GRU_TWO_BIAS / LSTM_ONE_BIAS
    out = [
        ("one bias each: 3(n(n+m)+n) / 4(n(n+m)+n) = 3/4", prove_equal(same1, sp.Rational(3, 4))),
        ("two biases each: 3(n(n+m)+2n) / 4(n(n+m)+2n) = 3/4", prove_equal(same2, sp.Rational(3, 4))),
        ("Keras GRU(reset_after=True) / Keras LSTM = 3(n+m+2)/(4(n+m+1))",
         prove_equal(keras, 3 * (_n + _m + 2) / (4 * (_n + _m + 1)))),
        ("its difference from 3/4 is 3/(4(n+m+1))", prove_equal(keras - sp.Rational(3, 4), 3 / (4 * (_n + _m + 1)))),
        ("3/(4(n+m+1)) > 0, so the ratio != 3/4", prove_positive(3 / (4 * (_n + _m + 1)))),
    ]
    return [(d, r, scope.GENERAL) for d, r in out]


# ---- kernels: the compact formulas, printed as batched NumPy ----
KERNEL_FORMULAS = ("forward", "candidate", "jac_h", "jac_x", "vjp_h", "vjp_x") + tuple(f"vjp_{p}" for p in GRU_PARAMS)


def _register_kernels():
    n, m = sp.symbols("n m", integer=True, positive=True)
    for variant in VARIANTS:
        for formula in KERNEL_FORMULAS:
            def build(variant=variant, formula=formula):
                cell = GRUCell(n, m, variant)
                args = cell.args() + ([cell.delta] if formula.startswith("vjp") else [])
                doc = (f"GRU cell ({variant}): {formula}; args {', '.join(a.name for a in args)}; "
                       "column vectors as (B, k, 1), numerator layout.")
                return args, getattr(cell, formula)(), doc

            kernel(f"gru_{formula}_{variant}")(build)


_register_kernels()
__all__ = ["GRUCell", "explicit_gru", "VARIANTS", "SEED_GRU", "CHO"]
