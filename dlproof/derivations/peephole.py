"""The peephole LSTM cell of ONNX's LSTM operator (its input P), its Jacobians in c, and its reduction to the
LSTM cell when the peepholes are zero.

    i = sigma(W_xi x + W_hi h + b_i + p_i ∘ c)      f = sigma(W_xf x + W_hf h + b_f + p_f ∘ c)
    g = tanh(W_xg x + W_hg h + b_g)                 c' = f ∘ c + i ∘ g
    o = sigma(W_xo x + W_ho h + b_o + p_o ∘ c')     h' = o ∘ tanh(c')

The input and forget gates look at the previous cell state c, the output gate at the new one c'. The
parameters are the LSTM cell's (derivations/lstm.py: W_x* (n, m), W_h* (n, n), b_* (n,), gate order i, f, g,
o) plus the peephole weights p_i, p_f, p_o (n,), multiplied entry-wise (a diagonal peephole matrix). ONNX's
default activations (f = sigmoid, g = h = tanh) are the ones above. ONNX stores P as one (num_directions, 3n)
tensor in the order [P_i, P_o, P_f]; the protocol names the three blocks instead (p_i, p_f, p_o), so no order
is implied. Column vectors, numerator layout ``(dy/dx)[i, j] = dy_i/dx_j``.

With peepholes the gates depend on c, so dc'/dc is no longer diag(f):

    dc'/dc = diag(d),   d = f + c ∘ sigma'(a_f) ∘ p_f + g ∘ sigma'(a_i) ∘ p_i
    dh'/dc = diag((o ∘ (1 - tanh^2 c') + tanh(c') ∘ sigma'(a_o) ∘ p_o) ∘ d)

with a_* the gates' whole pre-activations (the peephole terms included); x, h and the parameters held fixed.

Both are proved entry-wise at symbolic sizes n, m (derivations/indexed.py), as lstm.py does for its blocks;
the gate pre-activations are made opaque after differentiating (`indexed.opaque_subterms`), the output
gate's last, since its entry contains the others'.

Seed: §3 LSTM of the source (without peepholes) and the ONNX LSTM operator
(https://onnx.ai/onnx/operators/onnx__LSTM.html, input P). Primary: Gers &
Schmidhuber (2000), Recurrent nets that time and count, IJCNN (peephole connections).
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixElement

from dlproof.parameters import LSTM_GATES, PEEPHOLE_PARAMS, PEEPHOLES

from . import lstm, scope
from .functions import sigmoid
from .indexed import index, prove_entries
from .matrices import elementwise, explicit, mat
from .prove import prove_equal
from .registry import derivation, kernel

SEED = ("seed §3 LSTM (长短期记忆网络) has no peepholes; the variant is the ONNX operator LSTM "
        "(ONNX Operators, onnx.ai/onnx/operators/onnx__LSTM.html), input P = [P_i, P_o, P_f]: "
        "it = f(Xt*(Wi^T) + Ht-1*(Ri^T) + Pi (.) Ct-1 + Wbi + Rbi), ..., "
        "ot = f(Xt*(Wo^T) + Ht-1*(Ro^T) + Po (.) Ct + Wbo + Rbo)")
PRIMARY = ("Gers & Schmidhuber (2000), Recurrent nets that time and count, Proc. IJCNN 2000 (peephole "
           "connections); " + lstm.GERS + " (the forget gate)")
NUMERATOR = lstm.NUMERATOR
HELD = "partial derivatives of (h', c') = cell(x, h, c) with x, h and the parameters held fixed"

SIZES = ((1, 1), (2, 3))
ACT, DACT = lstm.ACT, lstm.DACT


def _had(*args):
    return sp.HadamardProduct(*args)


class Cell:
    """Symbols and compact formulas of one peephole LSTM cell at size (n, m) (ints or SymPy symbols)."""

    def __init__(self, n, m):
        base = lstm.Cell(n, m)
        self.n, self.m, self.x, self.h, self.c = n, m, base.x, base.h, base.c
        self.P = dict(base.P)
        self.P.update({k: sp.MatrixSymbol(k, n, 1) for k in PEEPHOLES})
        P, c = self.P, self.c
        #: pre-activations: the LSTM cell's affine parts, plus the peephole terms of i, f (on c) and o (on c')
        self.a = {"i": base.a["i"] + _had(P["p_i"], c), "f": base.a["f"] + _had(P["p_f"], c), "g": base.a["g"]}
        self.gate = {g: elementwise(ACT[g], self.a[g]) for g in "ifg"}
        self.c_new = _had(self.gate["f"], c) + _had(self.gate["i"], self.gate["g"])
        self.a["o"] = base.a["o"] + _had(P["p_o"], self.c_new)
        self.gate["o"] = elementwise(ACT["o"], self.a["o"])
        self.dgate = {g: elementwise(DACT[g], self.a[g]) for g in LSTM_GATES}  # activation' at the pre-activation
        self.tc = elementwise(sp.tanh, self.c_new)
        self.dtc = elementwise(lstm.DACT["g"], self.c_new)
        self.h_new = _had(self.gate["o"], self.tc)

    def forward_h(self):
        return self.h_new

    def forward_c(self):
        return self.c_new

    def dc_dc_diagonal(self):
        """d = f + c ∘ sigma'(a_f) ∘ p_f + g ∘ sigma'(a_i) ∘ p_i: the diagonal of dc'/dc."""
        G, D, P = self.gate, self.dgate, self.P
        return G["f"] + _had(self.c, D["f"], P["p_f"]) + _had(G["g"], D["i"], P["p_i"])

    def jac_cc(self):
        return sp.DiagMatrix(self.dc_dc_diagonal())

    def jac_hc(self):
        """diag((o ∘ (1 - tanh^2 c') + tanh(c') ∘ sigma'(a_o) ∘ p_o) ∘ d)."""
        dh_dcnew = _had(self.gate["o"], self.dtc) + _had(self.tc, self.dgate["o"], self.P["p_o"])
        return sp.DiagMatrix(_had(dh_dcnew, self.dc_dc_diagonal()))

    def args(self):
        return [self.P[k] for k in PEEPHOLE_PARAMS] + [self.x, self.h, self.c]


# ---------------------------------------------------------------- element-wise (trusted) route
def explicit_params(n, m) -> dict:
    """Explicit-entry matrices of the 15 parameters: lstm.explicit_params and p_i -> Pi_j, p_f -> Pf_j, p_o -> Po_j."""
    out = lstm.explicit_params(n, m)
    out.update({k: mat(f"P{k[-1]}", n, 1) for k in PEEPHOLES})
    return out


def step(Pe: dict, x, h, c):
    """(h', c') entry by entry from explicit parameters and state vectors (sp.Matrix)."""
    n, m = h.rows, x.rows

    def affine(g, k):
        Wx, Wh, b = Pe[f"W_x{g}"], Pe[f"W_h{g}"], Pe[f"b_{g}"]
        return sum(Wx[k, j] * x[j] for j in range(m)) + sum(Wh[k, j] * h[j] for j in range(n)) + b[k]

    c_new, h_new = [], []
    for k in range(n):
        i = sigmoid(affine("i", k) + Pe["p_i"][k] * c[k])
        f = sigmoid(affine("f", k) + Pe["p_f"][k] * c[k])
        g = sp.tanh(affine("g", k))
        c_new.append(f * c[k] + i * g)
        o = sigmoid(affine("o", k) + Pe["p_o"][k] * c_new[k])
        h_new.append(o * sp.tanh(c_new[k]))
    return sp.Matrix(h_new), sp.Matrix(c_new)


@lru_cache(maxsize=None)
def explicit_cell(n, m):
    """(compact Cell, substitution {MatrixSymbol: Matrix}, element-wise h', element-wise c')."""
    cell = Cell(n, m)
    Pe = explicit_params(n, m)
    E = {cell.P[k]: Pe[k] for k in PEEPHOLE_PARAMS}
    E.update({cell.x: mat("x", m, 1), cell.h: mat("h", n, 1), cell.c: mat("c", n, 1)})
    h_new, c_new = step(Pe, E[cell.x], E[cell.h], E[cell.c])
    return cell, E, h_new, c_new


# ---------------------------------------------------------------- symbolic-size route (every n, m)
SN, SM = lstm.SN, lstm.SM


@lru_cache(maxsize=None)
def symbolic_cell():
    """(Cell at symbolic (n, m), templates of its pre-activations, inner first: i, f, g, then o)."""
    cell = Cell(SN, SM)
    return cell, lstm.gate_templates(cell)


@lru_cache(maxsize=None)
def general_block_c(row: str):
    """Every n, m: d{row}'_i / dc_l (element-wise) = entry (i, l) of the compact block (jac_hc or jac_cc)."""
    cell, T = symbolic_cell()
    i, l = index("i"), index("l")
    out, block = (cell.forward_h(), cell.jac_hc()) if row == "h" else (cell.forward_c(), cell.jac_cc())
    return prove_entries([(sp.diff(out[i, 0], cell.c[l, 0]), block[i, l])], {i: SN, l: SN}, T)


@lru_cache(maxsize=None)
def zero_peepholes(row: str):
    """Every n, m: entry i of h' (row "h") or c' of the peephole cell at p_i = p_f = p_o = 0 equals the LSTM
    cell's, with the LSTM cell's pre-activations made opaque on both sides."""
    cell, _ = symbolic_cell()
    base, T = lstm.symbolic_cell()
    i = index("i")
    out, ref = (cell.forward_h(), base.forward_h()) if row == "h" else (cell.forward_c(), base.forward_c())
    zero = {cell.P[k] for k in PEEPHOLES}
    entry = out[i, 0].replace(lambda e: isinstance(e, MatrixElement) and e.parent in zero, lambda e: sp.S.Zero)
    return prove_entries([(entry, ref[i, 0])], {i: SN}, T)


# ---------------------------------------------------------------- records
_CELL = (r"\begin{aligned} i &= \sigma(W_{xi}x + W_{hi}h + b_i + p_i\odot c), & f &= \sigma(W_{xf}x + W_{hf}h + b_f + p_f\odot c),\\ "
         r"g &= \tanh(W_{xg}x + W_{hg}h + b_g), & c' &= f\odot c + i\odot g,\\ "
         r"o &= \sigma(W_{xo}x + W_{ho}h + b_o + p_o\odot c'), & h' &= o\odot\tanh(c') \end{aligned}")


@derivation("peephole.cell.forward", kind="definition", title="The peephole LSTM cell (ONNX LSTM with input P)",
            latex=_CELL, seed=SEED, primary=PRIMARY,
            assumptions=("W_x*: n x m, W_h*: n x n, b_*, p_i, p_f, p_o, h, c: n, x: m; gate order i, f, g, o",
                         "ONNX's default activations: f = sigmoid, g = h = tanh; one bias per gate (ONNX's Wb* + Rb* "
                         "only add to b_*)",
                         "the peepholes are diagonal (entry-wise products); the output gate reads the new cell c'"),
            notes=("ONNX stores the peepholes as P = [P_i, P_o, P_f] (num_directions, 3n): note the order i, o, f, "
                   "not the i, f, o of the gates; the protocol takes them by name (p_i, p_f, p_o). Gers & "
                   "Schmidhuber (2000) introduced the peepholes so that the gates can time the cell state."),
            sizes=("n", "m"),
            steps=(
                r"a_\ast = W_{x\ast}x + W_{h\ast}h + b_\ast\ (\ast = i, f, g, o),\quad i = \sigma(a_i + p_i\odot c),\ f = \sigma(a_f + p_f\odot c),\ g = \tanh(a_g)",
                r"c'_k = f_k\,c_k + i_k\,g_k,\qquad k = 1, \ldots, n",
                r"o = \sigma(a_o + p_o\odot c'),\qquad h'_k = o_k\,\tanh(c'_k)",
            ))
def _forward():
    def at(n, m):
        cell, E, h_new, c_new = explicit_cell(n, m)
        return [(f"n={n}, m={m}: compact {what} equals the element-wise sums", prove_equal(explicit(compact, E), exact),
                 scope.at(n=n, m=m))
                for what, compact, exact in (("c' = f∘c + i∘g", cell.forward_c(), c_new),
                                             ("h' = o∘tanh(c'), o reading c'", cell.forward_h(), h_new))]

    return [o for n, m in SIZES for o in at(n, m)]


@derivation("peephole.cell.zero_peepholes", title="With p_i = p_f = p_o = 0 the peephole cell is the LSTM cell",
            latex=r"\operatorname{cell}_{\mathrm{peephole}}(x, h, c;\ W, b, p_i = p_f = p_o = 0) = \operatorname{cell}_{\mathrm{LSTM}}(x, h, c;\ W, b)",
            seed=SEED, primary=PRIMARY,
            assumptions=("the same W_x*, W_h*, b_* in both cells (lstm.cell.forward)",
                         "proved entry-wise for every n, m (symbolic sizes, derivations/indexed.py)"),
            sizes=("n", "m"),
            steps=(
                r"p_\ast = 0:\quad a_i + p_i\odot c = a_i,\quad a_f + p_f\odot c = a_f,\quad a_o + p_o\odot c' = a_o",
                r"\Rightarrow\ i, f, g, o \text{ are the LSTM gates, so } c' = f\odot c + i\odot g \text{ and } h' = o\odot\tanh(c') \text{ are the LSTM cell's}",
            ))
def _zero():
    return [(f"every n, m: entry i of {r}' at p = 0 equals the LSTM cell's (symbolic sizes)", zero_peepholes(r),
             scope.GENERAL) for r in "ch"]


_D = r"d = f + c\odot\sigma'(a_f + p_f\odot c)\odot p_f + g\odot\sigma'(a_i + p_i\odot c)\odot p_i"


@derivation("peephole.cell.jacobian_c", title="Peephole LSTM cell Jacobians of (h', c') with respect to the previous c",
            latex=(r"\frac{\partial c'}{\partial c} = \operatorname{diag}(d),\ " + _D + r",\quad "
                   r"\frac{\partial h'}{\partial c} = \operatorname{diag}\big((o\odot(1-\tanh^2 c') + \tanh(c')\odot"
                   r"\sigma'(a_o + p_o\odot c')\odot p_o)\odot d\big)"),
            seed=SEED, primary=PRIMARY, layout=NUMERATOR,
            assumptions=(HELD + "; i and f move with c through p_i, p_f, and o through c'",
                         "sigma' = sigma(1 - sigma) (act.sigmoid.derivative)",
                         "proved entry-wise for every n, m (symbolic sizes, derivations/indexed.py; pre-activations abstracted)"),
            notes=("Without peepholes (p = 0) these are lstm.cell.jacobian_c's diag(f) and diag(o (1 - tanh^2 c') f). "
                   "Both blocks are diagonal: a peephole is an entry-wise weight, so unit k's gates see c_k only."),
            sizes=("n", "m"),
            steps=(
                r"\frac{\partial i}{\partial c} = \operatorname{diag}(\sigma'(\cdot)_i\odot p_i),\quad \frac{\partial f}{\partial c} = \operatorname{diag}(\sigma'(\cdot)_f\odot p_f),\quad \frac{\partial g}{\partial c} = 0",
                r"c' = f\odot c + i\odot g:\quad \frac{\partial c'}{\partial c} = \operatorname{diag}(f) + \operatorname{diag}(c)\frac{\partial f}{\partial c} + \operatorname{diag}(g)\frac{\partial i}{\partial c} = \operatorname{diag}(d)",
                r"o = \sigma(a_o + p_o\odot c'):\quad \frac{\partial o}{\partial c} = \operatorname{diag}(\sigma'(\cdot)_o\odot p_o)\,\frac{\partial c'}{\partial c}",
                r"h' = o\odot\tanh(c'):\quad \frac{\partial h'}{\partial c} = \operatorname{diag}(\tanh c')\frac{\partial o}{\partial c} + \operatorname{diag}(o\odot(1-\tanh^2 c'))\frac{\partial c'}{\partial c}",
            ))
def _jacobian_c():
    return [("every n, m: element-wise dc'_i/dc_l = diag(d)[i, l] (symbolic sizes)", general_block_c("c"), scope.GENERAL),
            ("every n, m: element-wise dh'_i/dc_l = compact dh'/dc [i, l] (symbolic sizes)", general_block_c("h"),
             scope.GENERAL)]


# ---- kernels: the compact formulas, printed as batched NumPy ----
KERNEL_FORMULAS = ("forward_h", "forward_c", "jac_hc", "jac_cc")


def _register_kernels():
    def build(formula):
        cell = Cell(SN, SM)
        doc = f"peephole LSTM cell (gates i, f, g, o; peepholes p_i, p_f, p_o): {formula}; columns (B, k, 1)."
        return cell.args(), getattr(cell, formula)(), doc

    for formula in KERNEL_FORMULAS:
        kernel(f"peephole_{formula}")(lambda formula=formula: build(formula))


_register_kernels()
__all__ = ["Cell", "explicit_cell", "explicit_params", "step"]
