"""The projected LSTM cell (LSTMP, torch.nn.LSTM's proj_size), its Jacobians, its parameter count and the rank
of its recurrent matrix.

    a_* = W_x* x + W_h* h + b_*        i, f, o = sigma(a_i), sigma(a_f), sigma(a_o),  g = tanh(a_g)
    c' = f * c + i * g                 u = o * tanh(c')          h' = W_proj u

The LSTM cell (derivations/lstm.py, gate order i, f, g, o) whose output u (n) is projected to P units by
W_proj (P, n), and the projection h' (P), not u, is the recurrent state: W_x* (n, m), W_h* (n, P), b_* (n,),
x (m), h (P), c (n). Column vectors; numerator layout ``(dy/dx)[i, j] = dy_i/dx_j``. The protocol's batch rows
are the transpose: h' = u W_proj^T for (B, n) rows u.

Jacobians (x, h, c held fixed pair-wise, as in lstm.py; J_u^w is lstm.py's dh'/dw of the unprojected cell with
W_h* (n, P)):

    dh'/dh = W_proj J_u^h    dh'/dx = W_proj J_u^x    dh'/dc = W_proj diag(o (1 - tanh^2 c') f)
    dc'/dh, dc'/dx as lstm.py (with W_h* (n, P)), dc'/dc = diag(f)
    d h'_i / d (W_proj)_{jk} = [i = j] u_k        (VJP: delta_h u^T)

The VJP is the LSTM cell's with the cotangent on u equal to W_proj^T delta_h.

What is established, record by record: the forward (proj.cell.forward, a definition) is checked against the
written-out sums at explicit sizes (n, m, P); the Jacobian blocks (proj.cell.jacobian_h, _x, _c, _proj) are proved
entry-wise for every n, m, P (derivations/indexed.py): an entry of h' is a sum over k of (W_proj)_{ik} u_k, and the
proof compares the summands at a free k (equal summands over one range give equal sums); the same blocks are also
compared with SymPy's Matrix.jacobian at explicit sizes (proj.cell.jacobians_at_sizes). The VJP kernels
(proj.cell.vjp) are checked against J^T (delta_h, delta_c) element-wise at the explicit sizes only
(checked-at-sizes: the general entry-wise proof of the h-block's VJP, with its nested sums, does not finish in
minutes). The parameter count and the reduction to the LSTM cell at W_proj = I are proved for every size; the
rank bound of the factored recurrent matrix rests on a cited lemma.

Seed: §3 LSTM (长短期记忆网络) has no projection. Primary: Sak, Senior & Beaufays (2014), LSTMP; torch.nn.LSTM
(proj_size: weight_hr_l{k} (proj_size, hidden_size), "h_t = W_hr h_t").
"""
from __future__ import annotations

import itertools
from functools import lru_cache

import sympy as sp

from dlproof.parameters import LSTM_GATES, LSTM_PARAMS

from . import lstm, scope
from .indexed import index, prove_entries, sum_body
from .matrices import explicit, mat, vec_rows
from .prove import ProofResult, prove_equal
from .registry import derivation, kernel

#: the parameters of one projected cell, in kernel order: the 12 LSTM blocks (W_h* is (n, P)), then W_proj (P, n)
PROJ_PARAMS = LSTM_PARAMS + ("W_proj",)

SAK = ("Sak, Senior & Beaufays (2014), Long short-term memory recurrent neural network architectures for large "
       "scale acoustic modeling, Interspeech (LSTMP: a recurrent projection layer)")
TORCH = ("torch.nn.LSTM documentation (proj_size > 0: h_t = W_hr h_t, weight_hr_l[k] of shape (proj_size, "
         "hidden_size), weight_hh_l[k] of shape (4*hidden_size, proj_size); proj_size < hidden_size)")
SEED = lstm.SEED_LSTM + "; the seed has no projection"
PRIMARY = f"{SAK}; {TORCH}; {lstm.PRIMARY}"
NUMERATOR = lstm.NUMERATOR
HELD = ("partial derivatives of (h', c') = cell(x, h, c): the other arguments and the parameters are held fixed; "
        "the gates are functions of (x, h)")

SIZES = ((1, 1, 1), (2, 1, 1), (1, 2, 2))   # explicit (n, m, P) of the element-wise checks
ACT, DACT = lstm.ACT, lstm.DACT
SN, SM = lstm.SN, lstm.SM
SP = sp.Symbol("P", integer=True, positive=True)   # the symbolic projection size


class Cell(lstm.Cell):
    """Symbols and compact formulas of one projected LSTM cell at size (n, m, P) (ints or SymPy symbols): the LSTM
    cell's (`lstm.Cell` with h, W_h* and delta_h of size P), its output u = o * tanh(c') projected, h' = W_proj u."""

    def __init__(self, n, m, p):
        super().__init__(n, m, p)
        self.p = p
        self.P["W_proj"] = sp.MatrixSymbol("W_proj", p, n)
        self.u = self.h_new                           # the unprojected output o * tanh(c')
        self.h_new = self.P["W_proj"] * self.u

    def forward_u(self):
        return self.u

    # ---- Jacobians (numerator layout): those of u are the LSTM cell's of h' ----
    def jac_uh(self):
        return super().jac_hh()

    def jac_ux(self):
        return super().jac_hx()

    def jac_uc(self):
        return super().jac_hc()

    def jac_hh(self):
        return self.P["W_proj"] * self.jac_uh()

    def jac_hx(self):
        return self.P["W_proj"] * self.jac_ux()

    def jac_hc(self):
        return self.P["W_proj"] * self.jac_uc()

    # ---- VJPs: cotangents delta_h (P) on h', delta_c (n) on c' ----
    def delta_u(self):
        """W_proj^T delta_h: the cotangent reaching u = o * tanh(c')."""
        return self.P["W_proj"].T * self.delta_h

    def vjp_param(self, name):
        if name == "W_proj":
            return self.delta_h * self.u.T
        return super().vjp_param(name)

    def args(self):
        return [self.P[k] for k in PROJ_PARAMS] + [self.x, self.h, self.c]


# ---------------------------------------------------------------- element-wise (trusted) route
def explicit_params(n, m, p) -> dict:
    """Explicit-entry matrices of the 13 parameters: W_xi -> Wxi_jk, W_hi -> Whi_jk (n x P), ..., W_proj -> Wr_jk."""
    out = {}
    for g in LSTM_GATES:
        out[f"W_x{g}"] = mat(f"Wx{g}", n, m)
        out[f"W_h{g}"] = mat(f"Wh{g}", n, p)
        out[f"b_{g}"] = mat(f"b{g}", n, 1)
    out["W_proj"] = mat("Wr", p, n)
    return out


def step(Pe: dict, x, h, c):
    """(h', c') entry by entry from explicit parameters and state vectors (sp.Matrix): the sums written out."""
    n, m, p = c.rows, x.rows, h.rows
    gate = {g: [ACT[g](sum(Pe[f"W_x{g}"][k, j] * x[j] for j in range(m))
                       + sum(Pe[f"W_h{g}"][k, j] * h[j] for j in range(p)) + Pe[f"b_{g}"][k])
                for k in range(n)] for g in LSTM_GATES}
    c_new = [gate["f"][k] * c[k] + gate["i"][k] * gate["g"][k] for k in range(n)]
    u = [gate["o"][k] * sp.tanh(c_new[k]) for k in range(n)]
    h_new = [sum(Pe["W_proj"][r, k] * u[k] for k in range(n)) for r in range(p)]
    return sp.Matrix(h_new), sp.Matrix(c_new)


@lru_cache(maxsize=None)
def explicit_cell(n, m, p):
    """(compact Cell, substitution {MatrixSymbol: Matrix}, element-wise h', element-wise c')."""
    cell = Cell(n, m, p)
    Pe = explicit_params(n, m, p)
    E = {cell.P[k]: Pe[k] for k in PROJ_PARAMS}
    E.update({cell.x: mat("x", m, 1), cell.h: mat("h", p, 1), cell.c: mat("c", n, 1),
              cell.delta_h: mat("dh", p, 1), cell.delta_c: mat("dc", n, 1)})
    h_new, c_new = step(Pe, E[cell.x], E[cell.h], E[cell.c])
    return cell, E, h_new, c_new


def _explicit_jacobian(n, m, p, wrt):
    """[(what, compact block, element-wise Jacobian)] of h' and c' with respect to h, x or c."""
    cell, E, h_new, c_new = explicit_cell(n, m, p)
    var = E[getattr(cell, wrt)]
    return [(f"dh'/d{wrt}", getattr(cell, f"jac_h{wrt}")(), h_new.jacobian(var)),
            (f"dc'/d{wrt}", getattr(cell, f"jac_c{wrt}")(), c_new.jacobian(var))]


def _explicit_vjp(n, m, p, name):
    """(compact VJP, element-wise delta_h^T dh'/dw + delta_c^T dc'/dw) for w in h, x, c or a parameter."""
    cell, E, h_new, c_new = explicit_cell(n, m, p)
    out = h_new.col_join(c_new)
    if name in ("h", "x", "c"):
        var, compact, shape = E[getattr(cell, name)], getattr(cell, f"vjp_{name}")(), None
    else:
        var, compact, shape = vec_rows(E[cell.P[name]]), cell.vjp_param(name), cell.P[name].shape
    cot = E[cell.delta_h].col_join(E[cell.delta_c])
    exact = (out.jacobian(var).T * cot)
    if shape is not None:
        exact = exact.reshape(*shape)
    return explicit(compact, E), exact


# ---------------------------------------------------------------- symbolic-size route (every n, m, P)
@lru_cache(maxsize=None)
def symbolic_cell():
    """(Cell at symbolic (n, m, P), templates of its pre-activations, lstm.gate_templates)."""
    cell = Cell(SN, SM, SP)
    return cell, lstm.gate_templates(cell)


def _wrt_element(cell, wrt, j):
    return getattr(cell, wrt)[j, 0]


@lru_cache(maxsize=None)
def general_block(out: str, wrt: str):
    """Every n, m, P: d{out}_k/d{wrt}_l (element-wise) = entry (k, l) of the compact block, ``out`` "u" (the
    unprojected output o * tanh(c'), block J_u) or "c" (c')."""
    cell, T = symbolic_cell()
    k, l = index("k"), index("l")
    block = getattr(cell, f"jac_{out}{wrt}")()
    rows = getattr(cell, wrt).shape[0]
    value = {"u": cell.forward_u, "c": cell.forward_c}[out]()
    return prove_entries([(sp.diff(value[k, 0], _wrt_element(cell, wrt, l)), block[k, l])], {k: SN, l: rows}, T)


@lru_cache(maxsize=None)
def general_h_block(wrt: str):
    """Every n, m, P: dh'_i/d{wrt}_l = entry (i, l) of W_proj J_u. Both sides are sums over k in [0, n - 1];
    their summands are compared at a free k: (W_proj)_{ik} du_k/d{wrt}_l against (W_proj)_{ik} J_u[k, l]."""
    cell, T = symbolic_cell()
    i, l, k = index("i"), index("l"), index("k")
    rows = getattr(cell, wrt).shape[0]
    lhs = sum_body(sp.diff(cell.forward_h()[i, 0], _wrt_element(cell, wrt, l)), k, SN - 1)
    rhs = sum_body(cell.jac_hc()[i, l] if wrt == "c" else cell.jac_hh()[i, l] if wrt == "h" else cell.jac_hx()[i, l],
                   k, SN - 1)
    if lhs is None or rhs is None:
        return ProofResult("undecided", "entry-wise (symbolic size)", "the entries are not sums over k in [0, n-1]")
    return prove_entries([(lhs, rhs)], {i: SP, l: rows, k: SN}, T)


@lru_cache(maxsize=None)
def general_h_wproj():
    """Every n, m, P: d h'_i / d (W_proj)_{jl} = [i = j] u_l; the element-wise derivative of the sum over k is
    sum_k [i = j][k = l] u_k."""
    cell, T = symbolic_cell()
    i, j, l = index("i"), index("j"), index("l")
    d = sp.diff(cell.forward_h()[i, 0], cell.P["W_proj"][j, l])
    expected = sp.KroneckerDelta(i, j) * cell.forward_u()[l, 0]
    return prove_entries([(d.doit(), expected)], {i: SP, j: SP, l: SN}, T)


# ---------------------------------------------------------------- records
_CELL = (r"\begin{aligned} a_\ast &= W_{x\ast}x + W_{h\ast}h + b_\ast, & i, f, o &= \sigma(a_i), \sigma(a_f), \sigma(a_o),\ "
         r"g = \tanh(a_g),\\ c' &= f\odot c + i\odot g, & h' &= W_{\mathrm{proj}}\,(o\odot\tanh(c')) \end{aligned}")
_SIZES = "W_x*: n x m, W_h*: n x P, b_*, c: n, W_proj: P x n, h: P, x: m; gate order i, f, g, o (as torch.nn.LSTM)"


def _at(n, m, p):
    return scope.at(n=n, m=m, P=p)


@derivation("proj.cell.forward", kind="definition", title="The projected LSTM cell (LSTMP, torch's proj_size)",
            latex=_CELL, seed=SEED, primary=PRIMARY,
            assumptions=(_SIZES, "one bias per gate; torch's second bias b_hh only adds to b_*",
                         "h' = W_proj u is the recurrent state and the output; the cell state c' is not projected"),
            notes=("torch.nn.LSTM(proj_size=P) stores W_proj as weight_hr_l0 (P, n) and requires 0 < P < n; with "
                   "P = n and W_proj = I the cell is lstm.cell.forward. Sak et al. (2014) also have a non-recurrent "
                   "projection; torch's (and this) cell has the recurrent one only."),
            sizes=("n", "m", "P"),
            steps=(
                r"(a_\ast)_k = \sum_{j<m} (W_{x\ast})_{kj}x_j + \sum_{j<P} (W_{h\ast})_{kj}h_j + (b_\ast)_k,\quad k < n",
                r"c'_k = f_k c_k + i_k g_k,\qquad u_k = o_k\tanh(c'_k)",
                r"h'_r = \sum_{k<n} (W_{\mathrm{proj}})_{rk}\,u_k,\qquad r < P",
            ))
def _forward():
    out = []
    for n, m, p in SIZES:
        cell, E, h_new, c_new = explicit_cell(n, m, p)
        out.append((f"n={n}, m={m}, P={p}: compact c' = f∘c + i∘g equals the element-wise sums",
                    prove_equal(explicit(cell.forward_c(), E), c_new), _at(n, m, p)))
        out.append((f"n={n}, m={m}, P={p}: compact h' = W_proj (o∘tanh(c')) equals the element-wise sums",
                    prove_equal(explicit(cell.forward_h(), E), h_new), _at(n, m, p)))
    return out


@lru_cache(maxsize=None)
def identity_projection(row: str):
    """Every n, m: entry i of h' (row "h") or c' of the projected cell at P = n, W_proj = I equals the LSTM cell's
    (lstm.Cell at the same n, m: the same W_x*, W_h* (n, n), b_*), pre-activations opaque on both sides."""
    cell = Cell(SN, SM, SN)
    base, T = lstm.symbolic_cell()
    i = index("i")
    out, ref = (cell.forward_h(), base.forward_h()) if row == "h" else (cell.forward_c(), base.forward_c())
    entry = out.xreplace({cell.P["W_proj"]: sp.Identity(SN)})[i, 0]
    return prove_entries([(entry, ref[i, 0])], {i: SN}, T)


@derivation("proj.cell.identity_projection", title="With P = n and W_proj = I the projected cell is the LSTM cell",
            latex=r"\operatorname{cell}_{\mathrm{proj}}(x, h, c;\ W, b, W_{\mathrm{proj}} = I_n) = \operatorname{cell}_{\mathrm{LSTM}}(x, h, c;\ W, b)",
            seed=SEED, primary=PRIMARY,
            assumptions=("P = n, so W_h* is n x n as in lstm.cell.forward; the same W_x*, W_h*, b_* in both cells",
                         "proved entry-wise for every n, m (symbolic sizes, derivations/indexed.py)"),
            notes="torch refuses proj_size = hidden_size, so this reduction cannot be run on torch.nn itself.",
            sizes=("n", "m"),
            steps=(r"W_{\mathrm{proj}} = I_n:\quad h' = I_n\,(o\odot\tanh(c')) = o\odot\tanh(c'),\ c' \text{ unchanged}",))
def _identity():
    return [(f"every n, m: entry i of {r}' at P = n, W_proj = I equals the LSTM cell's (symbolic sizes)",
             identity_projection(r), scope.GENERAL) for r in "ch"]


_JU = (r"J_u^{v} = \operatorname{diag}(\tanh(c')\odot o(1-o))W_{vo} + \operatorname{diag}(o\odot(1-\tanh^2 c'))"
       r"\frac{\partial c'}{\partial v}")


def _block_record(v: str, what: str, latex: str, steps: tuple):
    def obligations():
        out = []
        out.append((f"every n, m, P: element-wise dc'_i/d{v}_l = compact dc'/d{v} [i, l] (symbolic sizes)",
                    general_block("c", v), scope.GENERAL))
        if v != "c":
            out.append((f"every n, m, P: element-wise du_k/d{v}_l = compact J_u [k, l], u = o∘tanh(c') (symbolic sizes)",
                        general_block("u", v), scope.GENERAL))
        out.append((f"every n, m, P: dh'_i/d{v}_l = sum_k (W_proj)_ik du_k/d{v}_l = (W_proj J_u)[i, l], summands "
                    "equal at a free k (symbolic sizes)", general_h_block(v), scope.GENERAL))
        return out

    derivation(f"proj.cell.jacobian_{v}", title=f"Projected LSTM cell Jacobians of (h', c') with respect to {what}",
               latex=latex, seed=SEED, primary=PRIMARY, layout=NUMERATOR,
               assumptions=(HELD, _SIZES, "sigma' = sigma(1 - sigma), tanh' = 1 - tanh^2",
                            "proved entry-wise for every n, m, P (symbolic sizes, derivations/indexed.py; "
                            "pre-activations abstracted); proj.cell.jacobians_at_sizes checks the blocks element-wise "
                            "at explicit sizes too"),
               sizes=("n", "m", "P"), steps=steps)(obligations)


_block_record("h", "the previous (projected) state h",
              r"\frac{\partial h'}{\partial h} = W_{\mathrm{proj}}\,J_u^{h}\ (P\times P),\quad " + _JU.replace("{v", "{h").replace("v}", "h}")
              + r",\quad \frac{\partial c'}{\partial h} = \operatorname{diag}(c\odot f(1-f))W_{hf} + \operatorname{diag}(g\odot i(1-i))W_{hi} + \operatorname{diag}(i\odot(1-g^2))W_{hg}",
              (r"\frac{\partial c'}{\partial h}\ (n\times P) \text{ and } J_u^h = \frac{\partial u}{\partial h} \text{ as lstm.cell.jacobian\_h with } W_{h\ast}\ n\times P",
               r"h' = W_{\mathrm{proj}}u,\ W_{\mathrm{proj}} \text{ constant}:\quad \frac{\partial h'}{\partial h} = W_{\mathrm{proj}}\frac{\partial u}{\partial h}"))
_block_record("x", "the input x",
              r"\frac{\partial h'}{\partial x} = W_{\mathrm{proj}}\,J_u^{x}\ (P\times m),\quad " + _JU.replace("{v", "{x").replace("v}", "x}"),
              (r"\frac{\partial c'}{\partial x},\ J_u^x \text{ as lstm.cell.jacobian\_x}",
               r"\frac{\partial h'}{\partial x} = W_{\mathrm{proj}}\frac{\partial u}{\partial x}"))
_block_record("c", "the previous cell state c",
              r"\frac{\partial c'}{\partial c} = \operatorname{diag}(f),\quad \frac{\partial h'}{\partial c} = W_{\mathrm{proj}}\operatorname{diag}(o\odot(1-\tanh^2 c')\odot f)\ (P\times n)",
              (r"\frac{\partial c'}{\partial c} = \operatorname{diag}(f)\ (\text{gates depend on } x, h \text{ only})",
               r"\frac{\partial u}{\partial c} = \operatorname{diag}(o\odot(1-\tanh^2 c'))\operatorname{diag}(f),\quad \frac{\partial h'}{\partial c} = W_{\mathrm{proj}}\frac{\partial u}{\partial c}"))


@derivation("proj.cell.jacobian_proj", title="Projected LSTM cell: derivative of h' with respect to W_proj, and its VJP",
            latex=(r"\frac{\partial h'_i}{\partial (W_{\mathrm{proj}})_{jl}} = [i = j]\,u_l,\ u = o\odot\tanh(c');\quad "
                   r"\frac{\partial c'}{\partial W_{\mathrm{proj}}} = 0;\quad \bar W_{\mathrm{proj}} = \delta_h\,u^\top"),
            seed=SEED, primary=PRIMARY, layout=NUMERATOR,
            assumptions=(HELD, _SIZES, "c' does not depend on W_proj (W_proj acts after the cell state)"),
            sizes=("n", "m", "P"),
            steps=(r"h'_i = \sum_{k<n} (W_{\mathrm{proj}})_{ik}u_k,\ u \text{ free of } W_{\mathrm{proj}}:\quad \frac{\partial h'_i}{\partial (W_{\mathrm{proj}})_{jl}} = \sum_k [i=j][k=l]u_k = [i=j]u_l",
                   r"\sum_i (\delta_h)_i [i=j]u_l = (\delta_h)_j u_l = (\delta_h u^\top)_{jl}"))
def _jacobian_proj():
    return [("every n, m, P: d h'_i/d(W_proj)_jl = [i = j] u_l (symbolic sizes)", general_h_wproj(), scope.GENERAL)]


@derivation("proj.cell.jacobians_at_sizes", title="Projected LSTM cell: every Jacobian block against Matrix.jacobian at explicit sizes",
            latex=(r"\frac{\partial (h', c')}{\partial (h, x, c, W_{\mathrm{proj}})} = \text{the compact blocks of proj.cell.jacobian\_*}"
                   r"\ \text{at } (n, m, P) \in \{(1,1,1), (2,1,1), (1,2,2)\}"),
            seed=SEED, primary=PRIMARY, layout=NUMERATOR,
            assumptions=(HELD, _SIZES, "explicit-entry matrices; SymPy's Matrix.jacobian of the written-out sums"),
            notes="An independent route (no index algebra) at small sizes only; the general statements are the jacobian records.",
            sizes=("n", "m", "P"),
            steps=(r"h'_r = \sum_k (W_{\mathrm{proj}})_{rk}\,o_k\tanh(c'_k) \text{ written out, differentiated entry by entry}",))
def _jacobians_at_sizes():
    out = []
    for n, m, p in SIZES:
        cell, E, h_new, c_new = explicit_cell(n, m, p)
        for v in ("h", "x", "c"):
            for desc, compact, exact in _explicit_jacobian(n, m, p, v):
                out.append((f"n={n}, m={m}, P={p}: element-wise {desc} = the compact block",
                            prove_equal(explicit(compact, E), exact), _at(n, m, p)))
        u = explicit(cell.forward_u(), E)
        Wr = E[cell.P["W_proj"]]
        expected = sp.Matrix(p, p * n, lambda i, col: u[col % n] if col // n == i else 0)
        out.append((f"n={n}, m={m}, P={p}: element-wise dh'/dvec(W_proj) = [i = j] u_l",
                    prove_equal(h_new.jacobian(vec_rows(Wr)), expected), _at(n, m, p)))
        out.append((f"n={n}, m={m}, P={p}: dc'/dvec(W_proj) = 0",
                    prove_equal(c_new.jacobian(vec_rows(Wr)), sp.zeros(n, p * n)), _at(n, m, p)))
    return out


@derivation("proj.cell.vjp", title="Projected LSTM cell VJP: the LSTM cell's with the cotangent W_proj^T delta_h on u",
            latex=(r"\delta_u = W_{\mathrm{proj}}^\top\delta_h,\ \delta_c^{\mathrm{tot}} = \delta_c + \delta_u\odot o\odot(1-\tanh^2 c'),\ "
                   r"z_o = \delta_u\odot\tanh(c')\odot o(1-o),\ z_f = \delta_c^{\mathrm{tot}}\odot c\odot f(1-f),\ "
                   r"z_i = \delta_c^{\mathrm{tot}}\odot g\odot i(1-i),\ z_g = \delta_c^{\mathrm{tot}}\odot i\odot(1-g^2);\ "
                   r"\bar h = \sum_\ast W_{h\ast}^\top z_\ast,\ \bar x = \sum_\ast W_{x\ast}^\top z_\ast,\ \bar c = \delta_c^{\mathrm{tot}}\odot f,\ "
                   r"\bar W_{x\ast} = z_\ast x^\top,\ \bar W_{h\ast} = z_\ast h^\top,\ \bar b_\ast = z_\ast,\ \bar W_{\mathrm{proj}} = \delta_h u^\top"),
            seed=SEED, primary=PRIMARY, layout=NUMERATOR,
            assumptions=(HELD, _SIZES, "cotangents delta_h (P) on h' and delta_c (n) on c'"),
            notes=("Checked element-wise at the stated sizes only; the Jacobian blocks it transposes are proved for "
                   "every size in proj.cell.jacobian_h/x/c/proj, but this record does not prove the assembly in general."),
            sizes=("n", "m", "P"),
            steps=(r"\langle\delta_h, W_{\mathrm{proj}}u\rangle = \langle W_{\mathrm{proj}}^\top\delta_h, u\rangle:\ \text{the LSTM VJP (lstm.cell.jacobian\_*) with } \delta_h \to \delta_u",))
def _vjp():
    out = []
    for n, m, p in SIZES:
        for name in ("h", "x", "c") + PROJ_PARAMS:
            compact, exact = _explicit_vjp(n, m, p, name)
            out.append((f"n={n}, m={m}, P={p}: compact VJP wrt {name} = J^T (delta_h, delta_c) element-wise",
                        prove_equal(compact, exact), _at(n, m, p)))
    return out


@derivation("proj.param_count", title="Parameter count of one projected LSTM layer",
            latex=(r"|\theta| = 4n(m + P) + 4n + Pn\ (\text{one bias}),\qquad 4n(m + P) + 8n + Pn\ "
                   r"(\text{two biases } b_{ih}, b_{hh}, \text{ as torch})"),
            seed=SEED, primary=PRIMARY,
            assumptions=("counted as the entries of the 13 parameter blocks of the cell at symbolic (n, m, P) "
                         "(W_x*: n x m, W_h*: n x P, b_*: n, W_proj: P x n), and a second 4n bias",),
            notes="torch.nn.LSTM(m, n, proj_size=P): weight_ih (4n, m), weight_hh (4n, P), bias_ih, bias_hh (4n), weight_hr (P, n).",
            sizes=("n", "m", "P"),
            steps=(r"\text{per gate}: nm + nP + n;\ 4 \text{ gates} + W_{\mathrm{proj}}:\ 4n(m+P) + 4n + Pn;\ + b_{hh} \in \mathbb{R}^{4n}:\ 4n(m+P) + 8n + Pn",))
def _param_count():
    count = param_count_expr(two_biases=False)
    return [("every n, m, P: sum of the 13 block sizes = 4n(m+P) + 4n + Pn (one bias)",
             prove_equal(count, 4 * SN * (SM + SP) + 4 * SN + SP * SN), scope.GENERAL),
            ("every n, m, P: with a second 4n bias, 4n(m+P) + 8n + Pn",
             prove_equal(param_count_expr(two_biases=True), 4 * SN * (SM + SP) + 8 * SN + SP * SN), scope.GENERAL)]


def param_count_expr(two_biases: bool = True) -> sp.Expr:
    """The parameter count of one projected layer as a polynomial in the symbols n, m, P (`SN`, `SM`, `SP`): the sum
    of the block sizes of the symbolic cell (plus torch's second 4n bias when ``two_biases``). [proj.param_count]"""
    cell = Cell(SN, SM, SP)
    return sp.expand(sum(M.shape[0] * M.shape[1] for M in cell.P.values()) + (4 * SN if two_biases else 0))


def param_count(n: int, m: int, p: int, two_biases: bool = True) -> int:
    """`param_count_expr` at integer sizes (n, m, P >= 1). [proj.param_count]"""
    for name, v in (("n", n), ("m", m), ("P", p)):
        if isinstance(v, bool) or not isinstance(v, (int, sp.Integer)) or v < 1:
            raise ValueError(f"projection.param_count: {name} must be an int >= 1, got {v!r}")
    return int(param_count_expr(two_biases).subs({SN: n, SM: m, SP: p}))


RANK_PRODUCT = scope.Lemma(
    "lemma.linalg.rank_product",
    r"A \in \mathbb{R}^{n\times P},\ B \in \mathbb{R}^{P\times n}\ \Rightarrow\ \operatorname{rank}(AB) \le \min(\operatorname{rank}A, \operatorname{rank}B) \le P",
    "Horn & Johnson (2013), Matrix Analysis, 2nd ed., Cambridge University Press, section 0.4.5 (rank of a product)")


@derivation("proj.recurrent_rank", title="Projection makes the recurrent matrix of every gate of rank at most P",
            latex=(r"h = W_{\mathrm{proj}}u_{\mathrm{prev}}\ \Rightarrow\ W_{h\ast}h = (W_{h\ast}W_{\mathrm{proj}})\,u_{\mathrm{prev}},\quad "
                   r"\operatorname{rank}(W_{h\ast}W_{\mathrm{proj}}) \le P\ (n\times n)"),
            seed=SEED, primary=PRIMARY, lemmas=(RANK_PRODUCT,),
            assumptions=("W_h*: n x P, W_proj: P x n; u_prev = o tanh(c) of the previous step (n)",
                         "the rank bound is the cited lemma (rank of a product), not proved here; the factorisation "
                         "W_h* (W_proj u) = (W_h* W_proj) u is proved entry-wise for every n, P"),
            notes=("The n x n recurrent matrix of the unprojected LSTM (on u) is replaced by the factored W_h* W_proj: "
                   "4nP + Pn recurrent parameters instead of 4n^2 (Sak et al. 2014). The instance checks (every "
                   "(P+1)-minor of a generic product vanishes) illustrate the lemma at small sizes; they do not prove it."),
            sizes=("n", "P"),
            steps=(r"(W_{h\ast}(W_{\mathrm{proj}}u))_k = \sum_{r<P}(W_{h\ast})_{kr}\sum_{j<n}(W_{\mathrm{proj}})_{rj}u_j = ((W_{h\ast}W_{\mathrm{proj}})u)_k",
                   r"\operatorname{rank}(W_{h\ast}W_{\mathrm{proj}}) \le P\ (\text{lemma: an } n\times n \text{ product through } P \text{ inner dimensions})"))
def _rank():
    A, B, u = sp.MatrixSymbol("W_h", SN, SP), sp.MatrixSymbol("W_proj", SP, SN), sp.MatrixSymbol("u", SN, 1)
    k = index("k")
    out = [("every n, P: (W_h (W_proj u))_k = ((W_h W_proj) u)_k entry-wise (symbolic sizes)",
            prove_entries([((A * (B * u))[k, 0].doit(), ((A * B) * u)[k, 0].doit())], {k: SN}, []), scope.GENERAL)]
    for n, p in ((2, 1), (3, 1), (3, 2)):
        M = mat("Wh", n, p) * mat("Wr", p, n)
        minors = [M.extract(list(r), list(c)).det() for r in itertools.combinations(range(n), p + 1)
                  for c in itertools.combinations(range(n), p + 1)]
        out.append((f"n={n}, P={p}: every (P+1)-minor of the generic W_h W_proj is identically 0 (rank <= P)",
                    prove_equal(sp.Matrix(minors), sp.zeros(len(minors), 1)), scope.lemma_check(RANK_PRODUCT, n=n, P=p)))
    return out


# ---- kernels: the compact formulas, printed as batched NumPy ----
KERNEL_FORMULAS = ("forward_h", "forward_c", "jac_hh", "jac_hc", "jac_ch", "jac_cc", "jac_hx", "jac_cx",
                   "vjp_h", "vjp_x", "vjp_c")


def _register_kernels():
    def build_formula(formula):
        cell = Cell(SN, SM, SP)
        args = cell.args() + ([cell.delta_h, cell.delta_c] if formula.startswith("vjp") else [])
        doc = f"projected LSTM cell (gates i, f, g, o; W_proj): {formula}; column vectors as (B, k, 1), numerator layout."
        return args, getattr(cell, formula)(), doc

    def build_param(name):
        cell = Cell(SN, SM, SP)
        doc = f"projected LSTM cell: gradient of <delta_h, h'> + <delta_c, c'> with respect to {name}; (B, rows, cols)."
        return cell.args() + [cell.delta_h, cell.delta_c], cell.vjp_param(name), doc

    for formula in KERNEL_FORMULAS:
        kernel(f"proj_{formula}")(lambda formula=formula: build_formula(formula))
    for name in PROJ_PARAMS:
        kernel(f"proj_vjp_{name}")(lambda name=name: build_param(name))


_register_kernels()
__all__ = ["Cell", "PROJ_PARAMS", "explicit_cell", "explicit_params", "step", "param_count", "param_count_expr",
           "SAK", "TORCH"]
