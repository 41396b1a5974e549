"""The LSTM cell (gate order i, f, g, o), its Jacobians, the state map and the cell-state carousel.

    i = sigma(W_xi x + W_hi h + b_i)    f = sigma(W_xf x + W_hf h + b_f)
    g = tanh(W_xg x + W_hg h + b_g)     o = sigma(W_xo x + W_ho h + b_o)
    c' = f * c + i * g                  h' = o * tanh(c')

W_x* (n, m), W_h* (n, n), b_* (n,); column vectors; numerator layout ``(dy/dx)[i, j] = dy_i/dx_j``;
vec() row-major; products latest-left. Each Jacobian is derived element-wise (``Matrix.jacobian`` on
explicit-entry matrices, the opaque ``sigmoid`` with sigma' = sigma(1 - sigma)), and the compact
formula, the very MatrixSymbol expression the oracle kernels are printed from, is proved equal to it
at small sizes. The time chain is never expanded past two steps: the one-step state Jacobian is
proved, the chain rule is proved by an induction step with undefined functions, and long chains are
multiplied numerically (oracle_lstm.lstm_chain).

What is held fixed, everywhere below: a partial derivative of (h', c') = cell(x, h, c) holds the
other two arguments fixed. The gates are functions of (x, h) only, so dc'/dc = diag(f) holds h (and
x) fixed; the total dc_t/dc_{t-1} through h_{t-1} = o_{t-1} * tanh(c_{t-1}) has extra terms
(lstm.state.c_to_c_full), and the honest chain is the product of 2n x 2n state Jacobians
(lstm.state.chain), whose c-to-c block is not the product of c-to-c blocks
(lstm.state.chain_not_blockwise).

Seed: §3 LSTM (长短期记忆网络). Primary: Hochreiter & Schmidhuber (1997); Gers, Schmidhuber &
Cummins (2000) (the forget gate); Jozefowicz, Zaremba & Sutskever (2015) (forget-gate bias).
"""
from __future__ import annotations

import dataclasses
from functools import lru_cache

import sympy as sp

from . import activations
from .functions import sigmoid
from .matrices import elementwise, explicit, mat, vec_rows
from .prove import prove_equal, prove_positive, prove_true
from .registry import derivation, kernel

SEED_LSTM = "seed §3 LSTM (长短期记忆网络): 门控机制 f_t, i_t, o_t; c_t = f_t ⊙ c_{t-1} + i_t ⊙ c̃_t"
SEED_CLAIM = "seed §3 LSTM (长短期记忆网络), 关键优势: 门控值在 (0, 1) 之间，梯度不会消失"
HOCHREITER = "Hochreiter & Schmidhuber (1997), Long short-term memory, Neural Computation 9(8)"
GERS = "Gers, Schmidhuber & Cummins (2000), Learning to forget: continual prediction with LSTM, Neural Computation 12(10)"
JOZEFOWICZ = ("Jozefowicz, Zaremba & Sutskever (2015), An empirical exploration of recurrent network "
              "architectures, ICML (forget-gate bias 1)")
PRIMARY = f"{HOCHREITER}; {GERS} (forget gate, the cell used today)"
NUMERATOR = "numerator: (dy/dx)[i, j] = dy_i / dx_j; column vectors; vec() row-major; products latest-left"
HELD = ("partial derivatives of (h', c') = cell(x, h, c): the other arguments are held fixed; "
        "the gates are functions of (x, h)")

GATES = "ifgo"
PARAMS = tuple(name for g in GATES for name in (f"W_x{g}", f"W_h{g}", f"b_{g}"))
ACT = {"i": sigmoid, "f": sigmoid, "g": sp.tanh, "o": sigmoid}
SIZES = ((1, 1), (2, 3))          # cell identities (forward, Jacobians wrt h, x, c, state)
WEIGHT_SIZES = ((1, 1), (2, 1))   # the 12 weight/bias VJPs


def _dsigmoid(d):
    return sigmoid(d) * (1 - sigmoid(d))


def _dtanh(d):
    return 1 - sp.tanh(d) ** 2


DACT = {"i": _dsigmoid, "f": _dsigmoid, "g": _dtanh, "o": _dsigmoid}


def _had(*args):
    return sp.HadamardProduct(*args)


class Cell:
    """Symbols and compact formulas of one LSTM cell at size (n, m) (ints or SymPy symbols)."""

    def __init__(self, n, m):
        self.n, self.m = n, m
        self.P = {}
        for g in GATES:
            self.P[f"W_x{g}"] = sp.MatrixSymbol(f"W_x{g}", n, m)
            self.P[f"W_h{g}"] = sp.MatrixSymbol(f"W_h{g}", n, n)
            self.P[f"b_{g}"] = sp.MatrixSymbol(f"b_{g}", n, 1)
        self.x = sp.MatrixSymbol("x", m, 1)
        self.h, self.c = sp.MatrixSymbol("h", n, 1), sp.MatrixSymbol("c", n, 1)
        self.delta_h, self.delta_c = sp.MatrixSymbol("delta_h", n, 1), sp.MatrixSymbol("delta_c", n, 1)
        self.a = {g: self.P[f"W_x{g}"] * self.x + self.P[f"W_h{g}"] * self.h + self.P[f"b_{g}"] for g in GATES}
        self.gate = {g: elementwise(ACT[g], self.a[g]) for g in GATES}
        self.dgate = {g: elementwise(DACT[g], self.a[g]) for g in GATES}  # activation' at the pre-activation
        i, f, gg, o = (self.gate[k] for k in GATES)
        self.c_new = _had(f, self.c) + _had(i, gg)
        self.tc = elementwise(sp.tanh, self.c_new)
        self.dtc = elementwise(_dtanh, self.c_new)
        self.h_new = _had(o, self.tc)

    # ---- forward ----
    def forward_h(self):
        return self.h_new

    def forward_c(self):
        return self.c_new

    # ---- Jacobians (numerator layout) ----
    def _jac_c_wrt(self, w):  # w in {"h", "x"}
        G, D, P = self.gate, self.dgate, self.P
        return (sp.DiagMatrix(_had(self.c, D["f"])) * P[f"W_{w}f"]
                + sp.DiagMatrix(_had(G["g"], D["i"])) * P[f"W_{w}i"]
                + sp.DiagMatrix(_had(G["i"], D["g"])) * P[f"W_{w}g"])

    def _jac_h_wrt(self, w):
        return (sp.DiagMatrix(_had(self.tc, self.dgate["o"])) * self.P[f"W_{w}o"]
                + sp.DiagMatrix(_had(self.gate["o"], self.dtc)) * self._jac_c_wrt(w))

    def jac_ch(self):
        return self._jac_c_wrt("h")

    def jac_hh(self):
        return self._jac_h_wrt("h")

    def jac_cx(self):
        return self._jac_c_wrt("x")

    def jac_hx(self):
        return self._jac_h_wrt("x")

    def jac_cc(self):
        return sp.DiagMatrix(self.gate["f"])

    def jac_hc(self):
        return sp.DiagMatrix(_had(self.gate["o"], self.dtc, self.gate["f"]))

    def state_jacobian_blocks(self):
        """[[dh'/dh, dh'/dc], [dc'/dh, dc'/dc]]."""
        return [[self.jac_hh(), self.jac_hc()], [self.jac_ch(), self.jac_cc()]]

    # ---- VJPs: cotangents delta_h on h', delta_c on c' ----
    def delta_c_total(self):
        """delta_c + delta_h ∘ o ∘ (1 - tanh^2 c'): the cotangent reaching c'."""
        return self.delta_c + _had(self.delta_h, self.gate["o"], self.dtc)

    def z(self, g):
        """The cotangent at gate g's pre-activation a_g."""
        D, G, dct = self.dgate, self.gate, self.delta_c_total()
        return {"o": _had(self.delta_h, self.tc, D["o"]),
                "f": _had(dct, self.c, D["f"]),
                "i": _had(dct, G["g"], D["i"]),
                "g": _had(dct, G["i"], D["g"])}[g]

    def vjp_h(self):
        return sp.MatAdd(*[self.P[f"W_h{g}"].T * self.z(g) for g in GATES])

    def vjp_x(self):
        return sp.MatAdd(*[self.P[f"W_x{g}"].T * self.z(g) for g in GATES])

    def vjp_c(self):
        return _had(self.delta_c_total(), self.gate["f"])

    def vjp_param(self, name):
        g = name[-1]
        if name.startswith("b_"):
            return self.z(g)
        return self.z(g) * (self.h if name.startswith("W_h") else self.x).T

    def args(self):
        return [self.P[k] for k in PARAMS] + [self.x, self.h, self.c]


# ---------------------------------------------------------------- element-wise (trusted) route
def explicit_params(n, m) -> dict:
    """Explicit-entry matrices for the 12 parameters: W_xi -> Wxi_jk, b_i -> bi_j, ..."""
    out = {}
    for g in GATES:
        out[f"W_x{g}"] = mat(f"Wx{g}", n, m)
        out[f"W_h{g}"] = mat(f"Wh{g}", n, n)
        out[f"b_{g}"] = mat(f"b{g}", n, 1)
    return out


def step(Pe: dict, x, h, c):
    """(h', c') entry by entry from explicit parameters and state vectors (sp.Matrix)."""
    n, m = h.rows, x.rows
    gate = {}
    for g in GATES:
        Wx, Wh, b = Pe[f"W_x{g}"], Pe[f"W_h{g}"], Pe[f"b_{g}"]
        gate[g] = [ACT[g](sum(Wx[k, j] * x[j] for j in range(m)) + sum(Wh[k, j] * h[j] for j in range(n)) + b[k])
                   for k in range(n)]
    c_new = sp.Matrix([gate["f"][k] * c[k] + gate["i"][k] * gate["g"][k] for k in range(n)])
    h_new = sp.Matrix([gate["o"][k] * sp.tanh(c_new[k]) for k in range(n)])
    return h_new, c_new




@lru_cache(maxsize=None)
def explicit_cell(n, m):
    """(compact Cell, substitution {MatrixSymbol: Matrix}, element-wise h', element-wise c')."""
    cell = Cell(n, m)
    Pe = explicit_params(n, m)
    E = {cell.P[k]: Pe[k] for k in PARAMS}
    E.update({cell.x: mat("x", m, 1), cell.h: mat("h", n, 1), cell.c: mat("c", n, 1),
              cell.delta_h: mat("dh", n, 1), cell.delta_c: mat("dc", n, 1)})
    h_new, c_new = step(Pe, E[cell.x], E[cell.h], E[cell.c])
    return cell, E, h_new, c_new


@lru_cache(maxsize=None)
def _jac(n, m, wrt):
    """Element-wise Jacobian of [h'; c'] (2n rows) with respect to h, x, c or vec(param)."""
    cell, E, h_new, c_new = explicit_cell(n, m)
    var = {"h": E[cell.h], "x": E[cell.x], "c": E[cell.c]}.get(wrt)
    if var is None:
        var = vec_rows(E[cell.P[wrt]])
    return h_new.col_join(c_new).jacobian(var)


def _cotangent(n, m):
    cell, E, _, _ = explicit_cell(n, m)
    return E[cell.delta_h].col_join(E[cell.delta_c])


@derivation("lstm.cell.forward", kind="definition", title="The LSTM cell (gate order i, f, g, o)",
            latex=(r"\begin{aligned} i &= \sigma(W_{xi}x + W_{hi}h + b_i), & f &= \sigma(W_{xf}x + W_{hf}h + b_f),\\ "
                   r"g &= \tanh(W_{xg}x + W_{hg}h + b_g), & o &= \sigma(W_{xo}x + W_{ho}h + b_o),\\ "
                   r"c' &= f\odot c + i\odot g, & h' &= o\odot\tanh(c') \end{aligned}"),
            seed=SEED_LSTM, primary=PRIMARY,
            assumptions=("W_x*: n x m, W_h*: n x n, b_*, h, c: n, x: m", "gate order i, f, g, o (as torch.nn.LSTM)",
                         "one bias per gate; a second bias (b_hh) only adds to b_*"),
            notes="The seed writes c̃_t for g. Peephole connections (Gers & Schmidhuber 2000) are not part of this cell.",
            steps=(
                r"a_\ast = W_{x\ast}x + W_{h\ast}h + b_\ast,\quad (a_\ast)_k = \sum_{j} (W_{x\ast})_{kj}\,x_j + \sum_{j} (W_{h\ast})_{kj}\,h_j + (b_\ast)_k,\quad \ast = i, f, g, o",
                r"i = \sigma(a_i),\quad f = \sigma(a_f),\quad g = \tanh(a_g),\quad o = \sigma(a_o)\quad (\text{entry by entry})",
                r"c'_k = f_k\,c_k + i_k\,g_k,\qquad h'_k = o_k\,\tanh(c'_k),\qquad k = 1, \ldots, n",
            ))
def _forward():
    out = []
    for n, m in SIZES:
        cell, E, h_new, c_new = explicit_cell(n, m)
        out.append((f"n={n}, m={m}: compact c' = f∘c + i∘g equals the element-wise sums",
                    prove_equal(explicit(cell.forward_c(), E), c_new)))
        out.append((f"n={n}, m={m}: compact h' = o∘tanh(c') equals the element-wise sums",
                    prove_equal(explicit(cell.forward_h(), E), h_new)))
    return out


@derivation("lstm.gate.partials", title="Every gate partial of the LSTM cell",
            latex=(r"\sigma' = \sigma(1-\sigma),\ \tanh' = 1-\tanh^2,\quad "
                   r"\frac{\partial c'}{\partial f} = c,\ \frac{\partial c'}{\partial i} = g,\ \frac{\partial c'}{\partial g} = i,\quad "
                   r"\frac{\partial h'}{\partial o} = \tanh(c'),\ \frac{\partial h'}{\partial c'} = o\,(1-\tanh^2 c')"),
            seed=SEED_LSTM, primary=PRIMARY,
            assumptions=("per unit (diagonal): f, i, g, o, c, c' are scalar symbols of one unit; "
                         "c' = f c + i g with f, i, g, c independent; h' = o tanh(c') with o, c' independent",),
            steps=(
                r"\sigma' = \sigma(1-\sigma),\qquad \tanh' = 1 - \tanh^2",
                r"c' = f c + i g:\quad \frac{\partial c'}{\partial f} = c,\ \ \frac{\partial c'}{\partial i} = g,\ \ \frac{\partial c'}{\partial g} = i,\ \ \frac{\partial c'}{\partial c} = f",
                r"h' = o\tanh(c'):\quad \frac{\partial h'}{\partial o} = \tanh(c'),\ \ \frac{\partial h'}{\partial c'} = o\,\tanh'(c') = o\,(1 - \tanh^2 c')",
            ))
def _partials():
    out = [(f"sigmoid: {d}", r) for d, r in activations._sigmoid_derivative()]
    out += [(f"tanh: {d}", r) for d, r in activations._tanh_derivative()]
    f, i, g, o, c, cp = sp.symbols("f i g o c cprime", real=True)
    c_new = f * c + i * g
    h_new = o * sp.tanh(cp)
    out += [("dc'/df = c", prove_equal(sp.diff(c_new, f), c)),
            ("dc'/di = g", prove_equal(sp.diff(c_new, i), g)),
            ("dc'/dg = i", prove_equal(sp.diff(c_new, g), i)),
            ("dc'/dc = f (gates held fixed)", prove_equal(sp.diff(c_new, c), f)),
            ("dh'/do = tanh(c')", prove_equal(sp.diff(h_new, o), sp.tanh(cp))),
            ("dh'/dc' = o (1 - tanh^2 c')", prove_equal(sp.diff(h_new, cp), o * (1 - sp.tanh(cp) ** 2)))]
    return out


def _jacobian_record(wrt: str, blocks: tuple, vjp: str):
    def obligations():
        out = []
        for n, m in SIZES:
            cell, E, _, _ = explicit_cell(n, m)
            J = _jac(n, m, wrt)
            for row, name in zip(("h'", "c'"), blocks):
                part = J[:n, :] if row == "h'" else J[n:, :]
                out.append((f"n={n}, m={m}: element-wise d{row}/d{wrt} = compact {name}",
                            prove_equal(part, explicit(getattr(cell, name)(), E))))
            out.append((f"n={n}, m={m}: J_{wrt}^T [delta_h; delta_c] = compact {vjp}",
                        prove_equal(J.T * _cotangent(n, m), explicit(getattr(cell, vjp)(), E))))
        return out

    return obligations


_DCT = r"\delta_c^{\mathrm{tot}} = \delta_c + \delta_h\odot o\odot(1-\tanh^2 c')"
_JH = (r"\frac{\partial c'}{\partial %(v)s} = \operatorname{diag}(c\odot f(1-f))W_{%(v)sf} + \operatorname{diag}(g\odot i(1-i))W_{%(v)si}"
       r" + \operatorname{diag}(i\odot(1-g^2))W_{%(v)sg},\quad "
       r"\frac{\partial h'}{\partial %(v)s} = \operatorname{diag}(\tanh(c')\odot o(1-o))W_{%(v)so} + \operatorname{diag}(o\odot(1-\tanh^2 c'))\frac{\partial c'}{\partial %(v)s}")
_VJP = (r",\quad J_{%(v)s}^\top\begin{bmatrix}\delta_h\\ \delta_c\end{bmatrix} = \sum_{\ast\in\{i,f,g,o\}} W_{%(v)s\ast}^\top z_\ast,\ "
        r"z_o = \delta_h\odot\tanh(c')\odot o(1-o),\ z_f = \delta_c^{\mathrm{tot}}\odot c\odot f(1-f),\ "
        r"z_i = \delta_c^{\mathrm{tot}}\odot g\odot i(1-i),\ z_g = \delta_c^{\mathrm{tot}}\odot i\odot(1-g^2),\ " + _DCT)

derivation("lstm.cell.jacobian_h", title="LSTM cell Jacobians of (h', c') with respect to the previous h",
           latex=_JH % {"v": "h"} + _VJP % {"v": "h"}, seed=SEED_LSTM, primary=PRIMARY, layout=NUMERATOR,
           assumptions=(HELD + "; here x and c are held fixed", "proved element-wise at (n, m) in {(1, 1), (2, 3)}"),
           steps=(
               r"a_\ast = W_{x\ast}x + W_{h\ast}h + b_\ast,\ \frac{\partial a_\ast}{\partial h} = W_{h\ast}:\quad \frac{\partial i}{\partial h} = \operatorname{diag}(i(1-i))W_{hi},\ \frac{\partial f}{\partial h} = \operatorname{diag}(f(1-f))W_{hf},\ \frac{\partial g}{\partial h} = \operatorname{diag}(1-g^2)W_{hg},\ \frac{\partial o}{\partial h} = \operatorname{diag}(o(1-o))W_{ho}",
               r"c' = f\odot c + i\odot g\ (x, c \text{ fixed}):\quad \frac{\partial c'}{\partial h} = \operatorname{diag}(c)\frac{\partial f}{\partial h} + \operatorname{diag}(g)\frac{\partial i}{\partial h} + \operatorname{diag}(i)\frac{\partial g}{\partial h}",
               r"h' = o\odot\tanh(c'):\quad \frac{\partial h'}{\partial h} = \operatorname{diag}(\tanh(c'))\frac{\partial o}{\partial h} + \operatorname{diag}(o\odot(1-\tanh^2 c'))\frac{\partial c'}{\partial h}",
               r"\Big(\frac{\partial h'}{\partial h}\Big)^{\top}\delta_h + \Big(\frac{\partial c'}{\partial h}\Big)^{\top}\delta_c = W_{ho}^\top z_o + \Big(\frac{\partial c'}{\partial h}\Big)^{\top}\delta_c^{\mathrm{tot}},\quad \delta_c^{\mathrm{tot}} = \delta_c + \delta_h\odot o\odot(1-\tanh^2 c')",
               r"\Big(\frac{\partial c'}{\partial h}\Big)^{\top}\delta_c^{\mathrm{tot}} = W_{hf}^\top z_f + W_{hi}^\top z_i + W_{hg}^\top z_g\ \Rightarrow\ J_{h}^\top(\delta_h, \delta_c) = \sum_{\ast = i, f, g, o} W_{h\ast}^\top z_\ast",
           ),
           )(_jacobian_record("h", ("jac_hh", "jac_ch"), "vjp_h"))
derivation("lstm.cell.jacobian_x", title="LSTM cell Jacobians of (h', c') with respect to the input x",
           latex=_JH % {"v": "x"} + _VJP % {"v": "x"}, seed=SEED_LSTM, primary=PRIMARY, layout=NUMERATOR,
           assumptions=(HELD + "; here h and c are held fixed", "proved element-wise at (n, m) in {(1, 1), (2, 3)}"),
           steps=(
               r"a_\ast = W_{x\ast}x + W_{h\ast}h + b_\ast,\ \frac{\partial a_\ast}{\partial x} = W_{x\ast}:\quad \frac{\partial i}{\partial x} = \operatorname{diag}(i(1-i))W_{xi},\ \frac{\partial f}{\partial x} = \operatorname{diag}(f(1-f))W_{xf},\ \frac{\partial g}{\partial x} = \operatorname{diag}(1-g^2)W_{xg},\ \frac{\partial o}{\partial x} = \operatorname{diag}(o(1-o))W_{xo}",
               r"c' = f\odot c + i\odot g\ (h, c \text{ fixed}):\quad \frac{\partial c'}{\partial x} = \operatorname{diag}(c)\frac{\partial f}{\partial x} + \operatorname{diag}(g)\frac{\partial i}{\partial x} + \operatorname{diag}(i)\frac{\partial g}{\partial x}",
               r"h' = o\odot\tanh(c'):\quad \frac{\partial h'}{\partial x} = \operatorname{diag}(\tanh(c'))\frac{\partial o}{\partial x} + \operatorname{diag}(o\odot(1-\tanh^2 c'))\frac{\partial c'}{\partial x}",
               r"\Big(\frac{\partial h'}{\partial x}\Big)^{\top}\delta_h + \Big(\frac{\partial c'}{\partial x}\Big)^{\top}\delta_c = W_{xo}^\top z_o + \Big(\frac{\partial c'}{\partial x}\Big)^{\top}\delta_c^{\mathrm{tot}},\quad \delta_c^{\mathrm{tot}} = \delta_c + \delta_h\odot o\odot(1-\tanh^2 c')",
               r"\Big(\frac{\partial c'}{\partial x}\Big)^{\top}\delta_c^{\mathrm{tot}} = W_{xf}^\top z_f + W_{xi}^\top z_i + W_{xg}^\top z_g\ \Rightarrow\ J_{x}^\top(\delta_h, \delta_c) = \sum_{\ast = i, f, g, o} W_{x\ast}^\top z_\ast",
           ),
           )(_jacobian_record("x", ("jac_hx", "jac_cx"), "vjp_x"))
derivation("lstm.cell.jacobian_c", title="LSTM cell Jacobians of (h', c') with respect to the previous c",
           latex=(r"\frac{\partial c'}{\partial c} = \operatorname{diag}(f),\quad \frac{\partial h'}{\partial c} = "
                  r"\operatorname{diag}(o\odot(1-\tanh^2 c')\odot f),\quad J_c^\top\begin{bmatrix}\delta_h\\ \delta_c\end{bmatrix} = "
                  r"\delta_c^{\mathrm{tot}}\odot f,\ " + _DCT),
           seed=SEED_LSTM, primary=PRIMARY, layout=NUMERATOR,
           assumptions=(HELD + "; here x and h are held fixed, so no gate moves with c",
                        "proved element-wise at (n, m) in {(1, 1), (2, 3)}"),
           steps=(
               r"\text{the gates depend on } (x, h) \text{ only}:\quad \frac{\partial i}{\partial c} = \frac{\partial f}{\partial c} = \frac{\partial g}{\partial c} = \frac{\partial o}{\partial c} = 0",
               r"c' = f\odot c + i\odot g\ \Rightarrow\ \frac{\partial c'}{\partial c} = \operatorname{diag}(f)",
               r"h' = o\odot\tanh(c')\ \Rightarrow\ \frac{\partial h'}{\partial c} = \operatorname{diag}(o\odot(1-\tanh^2 c'))\,\frac{\partial c'}{\partial c} = \operatorname{diag}(o\odot(1-\tanh^2 c')\odot f)",
               r"\Big(\frac{\partial h'}{\partial c}\Big)^{\top}\delta_h + \Big(\frac{\partial c'}{\partial c}\Big)^{\top}\delta_c = f\odot\big(\delta_c + \delta_h\odot o\odot(1-\tanh^2 c')\big) = \delta_c^{\mathrm{tot}}\odot f",
           ),
           )(_jacobian_record("c", ("jac_hc", "jac_cc"), "vjp_c"))


@derivation("lstm.cell.jacobian_weights", title="LSTM cell gradients with respect to every weight block and bias",
            latex=(r"\frac{\partial\langle\delta_h,h'\rangle + \langle\delta_c,c'\rangle}{\partial W_{h\ast}} = z_\ast h^\top,\ "
                   r"\frac{\partial(\cdot)}{\partial W_{x\ast}} = z_\ast x^\top,\ \frac{\partial(\cdot)}{\partial b_\ast} = z_\ast,\quad "
                   r"z_o = \delta_h\odot\tanh(c')\odot o(1-o),\ z_f = \delta_c^{\mathrm{tot}}\odot c\odot f(1-f),\ "
                   r"z_i = \delta_c^{\mathrm{tot}}\odot g\odot i(1-i),\ z_g = \delta_c^{\mathrm{tot}}\odot i\odot(1-g^2),\ " + _DCT),
            seed=SEED_LSTM, primary=PRIMARY, layout="denominator (gradients J^T delta, shaped like the parameter)",
            assumptions=("delta_h, delta_c: cotangents on h', c' (L = <delta_h, h'> + <delta_c, c'>)",
                         "J = d[h'; c']/dvec(P) element-wise, vec row-major; proved J^T [delta_h; delta_c] = vec(VJP form) "
                         "for all 12 blocks at (n, m) in {(1, 1), (2, 1)}"),
            steps=(
                r"L = \langle\delta_h, h'\rangle + \langle\delta_c, c'\rangle,\quad h' = o\odot\tanh(c'):\quad \frac{\partial L}{\partial c'} = \delta_c + \delta_h\odot o\odot(1-\tanh^2 c') = \delta_c^{\mathrm{tot}}",
                r"\frac{\partial L}{\partial o} = \delta_h\odot\tanh(c'),\quad \frac{\partial L}{\partial f} = \delta_c^{\mathrm{tot}}\odot c,\quad \frac{\partial L}{\partial i} = \delta_c^{\mathrm{tot}}\odot g,\quad \frac{\partial L}{\partial g} = \delta_c^{\mathrm{tot}}\odot i",
                r"z_\ast = \frac{\partial L}{\partial a_\ast}:\ z_o = \delta_h\odot\tanh(c')\odot o(1-o),\ z_f = \delta_c^{\mathrm{tot}}\odot c\odot f(1-f),\ z_i = \delta_c^{\mathrm{tot}}\odot g\odot i(1-i),\ z_g = \delta_c^{\mathrm{tot}}\odot i\odot(1-g^2)",
                r"(a_\ast)_k = \sum_j (W_{h\ast})_{kj} h_j + \sum_j (W_{x\ast})_{kj} x_j + (b_\ast)_k:\quad \frac{\partial L}{\partial (W_{h\ast})_{kj}} = (z_\ast)_k\,h_j,\ \ \frac{\partial L}{\partial (W_{x\ast})_{kj}} = (z_\ast)_k\,x_j,\ \ \frac{\partial L}{\partial (b_\ast)_k} = (z_\ast)_k",
                r"\Rightarrow\ \frac{\partial L}{\partial W_{h\ast}} = z_\ast h^\top,\quad \frac{\partial L}{\partial W_{x\ast}} = z_\ast x^\top,\quad \frac{\partial L}{\partial b_\ast} = z_\ast",
            ))
def _weights():
    out = []
    for n, m in WEIGHT_SIZES:
        cell, E, _, _ = explicit_cell(n, m)
        delta = _cotangent(n, m)
        for name in PARAMS:
            lhs = _jac(n, m, name).T * delta
            rhs = vec_rows(explicit(cell.vjp_param(name), E))
            out.append((f"n={n}, m={m}: d/d{name}: J^T delta = vec(VJP form)", prove_equal(lhs, rhs)))
    return out


def _state_block_matrix(cell, E):
    B = [[explicit(blk, E) for blk in row] for row in cell.state_jacobian_blocks()]
    return B[0][0].row_join(B[0][1]).col_join(B[1][0].row_join(B[1][1]))


@derivation("lstm.state.jacobian", title="The one-step Jacobian of the LSTM state map (h, c) -> (h', c')",
            latex=(r"S = \frac{\partial(h', c')}{\partial(h, c)} = \begin{bmatrix} \frac{\partial h'}{\partial h} & "
                   r"\operatorname{diag}(o\odot(1-\tanh^2 c')\odot f) \\ \frac{\partial c'}{\partial h} & \operatorname{diag}(f)\end{bmatrix}"
                   r"\in\mathbb{R}^{2n\times 2n}"),
            seed=SEED_LSTM, primary=PRIMARY, layout=NUMERATOR,
            assumptions=("x (and the parameters) held fixed; the blocks are lstm.cell.jacobian_h / jacobian_c",
                         "proved element-wise at (n, m) in {(1, 1), (2, 3)}"),
            steps=(
                r"x \text{ fixed}:\quad dh' = \frac{\partial h'}{\partial h}\,dh + \frac{\partial h'}{\partial c}\,dc,\qquad dc' = \frac{\partial c'}{\partial h}\,dh + \frac{\partial c'}{\partial c}\,dc",
                r"\frac{\partial h'}{\partial c} = \operatorname{diag}(o\odot(1-\tanh^2 c')\odot f),\qquad \frac{\partial c'}{\partial c} = \operatorname{diag}(f)",
                r"S = \frac{\partial(h', c')}{\partial(h, c)} \in \mathbb{R}^{2n\times 2n}:\ \text{rows } 1..n = \Big(\frac{\partial h'}{\partial h},\ \frac{\partial h'}{\partial c}\Big),\ \text{rows } n{+}1..2n = \Big(\frac{\partial c'}{\partial h},\ \operatorname{diag}(f)\Big)",
            ))
def _state():
    out = []
    for n, m in SIZES:
        cell, E, _, _ = explicit_cell(n, m)
        J = _jac(n, m, "h").row_join(_jac(n, m, "c"))
        out.append((f"n={n}, m={m}: d[h';c']/d[h;c] = [[dh'/dh, dh'/dc], [dc'/dh, diag(f)]]",
                    prove_equal(J, _state_block_matrix(cell, E))))
    return out


@derivation("lstm.cec.product", title="The constant error carousel: along c alone, dc_t/dc_k is a product of diag(f)",
            latex=(r"\frac{\partial c_t}{\partial c_k}\Big|_{h_{k},\dots,h_{t-1}\ \text{fixed}} = "
                   r"\prod_{i=k+1}^{t}\operatorname{diag}(f_i) = \operatorname{diag}\Big(\prod_{i=k+1}^{t} f_i\Big)"),
            seed=SEED_LSTM, primary=HOCHREITER + " (constant error carousel); " + GERS,
            layout=NUMERATOR,
            assumptions=("held fixed: h_k, ..., h_{t-1} and x_{k+1}, ..., x_t, hence every gate f_i, i_i, g_i "
                         "(functions of (x_i, h_{i-1}) only); only the c-path c_{i-1} -> c_i = f_i∘c_{i-1} + i_i∘g_i is followed",
                         "proved at explicit t - k = 2, 3 (n = 2) with the gates independent symbols, and at t - k = 1 "
                         "for the real cell (lstm.cell.jacobian_c: dc'/dc = diag(f) with x, h fixed)"),
            notes=("This is not the total derivative when h_{i-1} = o_{i-1} tanh(c_{i-1}) is allowed to move: "
                   "see lstm.state.c_to_c_full and lstm.state.chain_not_blockwise."),
            steps=(
                r"c_i = f_i\odot c_{i-1} + (\text{terms that do not involve } c_{i-1}),\quad f_i \text{ fixed (a function of } x_i, h_{i-1})",
                r"\frac{\partial c_i}{\partial c_{i-1}} = \operatorname{diag}(f_i)",
                r"\frac{\partial c_t}{\partial c_k} = \frac{\partial c_t}{\partial c_{t-1}}\,\frac{\partial c_{t-1}}{\partial c_k} = \operatorname{diag}(f_t)\operatorname{diag}(f_{t-1})\cdots\operatorname{diag}(f_{k+1})",
                r"\operatorname{diag}(u)\operatorname{diag}(v) = \operatorname{diag}(u\odot v)\ \Rightarrow\ \frac{\partial c_t}{\partial c_k} = \operatorname{diag}\Big(\prod_{i=k+1}^{t} f_i\Big)\ (\text{element-wise product})",
            ))
def _cec():
    n = 2
    out = []
    cell, E, _, c_new = explicit_cell(2, 1)
    out.append(("t-k=1, real cell (n=2, m=1), x and h fixed: dc'/dc = diag(sigma(a_f))",
                prove_equal(c_new.jacobian(E[cell.c]), explicit(cell.jac_cc(), E))))
    for T in (2, 3):
        fs = [mat(f"f{t}", n, 1) for t in range(1, T + 1)]
        ins = [mat(f"i{t}", n, 1) for t in range(1, T + 1)]
        gs = [mat(f"g{t}", n, 1) for t in range(1, T + 1)]
        c0 = mat("c0", n, 1)
        c = c0
        for t in range(T):
            c = fs[t].multiply_elementwise(c) + ins[t].multiply_elementwise(gs[t])
        P = sp.eye(n)
        for t in range(T):
            P = sp.diag(*fs[t]) * P
        out.append((f"t-k={T} (n={n}): dc_t/dc_k = diag(f_t) ... diag(f_(k+1))", prove_equal(c.jacobian(c0), P)))
    return out


@derivation("lstm.state.c_to_c_full", title="The total dc_t/dc_{t-1} has extra terms through h_{t-1}",
            latex=(r"\frac{d c_t}{d c_{t-1}} = \operatorname{diag}(f_t) + \frac{\partial c_t}{\partial h_{t-1}}\,"
                   r"\operatorname{diag}\big(o_{t-1}\odot(1-\tanh^2 c_{t-1})\big),\quad h_{t-1} = o_{t-1}\odot\tanh(c_{t-1})"),
            seed=SEED_LSTM, primary=PRIMARY, layout=NUMERATOR,
            assumptions=("held fixed: x_t and o_{t-1} (a function of x_{t-1}, h_{t-2}, not of c_{t-1}); h_{t-1} moves with c_{t-1}",
                         "dc_t/dh_{t-1} is the compact lstm.cell.jacobian_h block, evaluated at h_{t-1}",
                         "proved element-wise at n = 2, m = 1"),
            notes=("The extra term is not zero in general: n = 1, every weight 0 except W_hg = 1, every bias 0, "
                   "x_t = 0, c_{t-1} = 0, o_{t-1} = 1/2 gives dc_t/dc_{t-1} = 1/2 + 1/4, not diag(f_t) = 1/2."),
            steps=(
                r"c_t = f_t\odot c_{t-1} + i_t\odot g_t,\quad \text{gates of step } t = \text{functions of } (x_t, h_{t-1}),\quad h_{t-1} = o_{t-1}\odot\tanh(c_{t-1})",
                r"\frac{d c_t}{d c_{t-1}} = \frac{\partial c_t}{\partial c_{t-1}} + \frac{\partial c_t}{\partial h_{t-1}}\,\frac{\partial h_{t-1}}{\partial c_{t-1}}",
                r"\frac{\partial c_t}{\partial c_{t-1}} = \operatorname{diag}(f_t),\qquad \frac{\partial h_{t-1}}{\partial c_{t-1}} = \operatorname{diag}\big(o_{t-1}\odot(1-\tanh^2 c_{t-1})\big)\quad (o_{t-1} \text{ fixed})",
                r"n = 1,\ W_{hg} = 1,\ \text{all else } 0,\ x_t = 0,\ c_{t-1} = 0,\ o_{t-1} = \frac{1}{2}:\quad h_{t-1} = 0,\ i_t = f_t = \frac{1}{2},\ g_t = 0",
                r"\frac{\partial c_t}{\partial h_{t-1}} = i_t(1 - g_t^2)W_{hg} = \frac{1}{2}:\quad \frac{d c_t}{d c_{t-1}} = \frac{1}{2} + \frac{1}{2}\cdot\frac{1}{2} = \frac{3}{4} \ne \frac{1}{2} = f_t",
            ))
def _c_full():
    n, m = 2, 1
    cell, E, _, _ = explicit_cell(n, m)
    Pe = {k: E[cell.P[k]] for k in PARAMS}
    o_prev, c_prev, x = mat("oprev", n, 1), mat("cprev", n, 1), E[cell.x]
    h_prev = o_prev.multiply_elementwise(c_prev.applyfunc(sp.tanh))
    _, c_t = step(Pe, x, h_prev, c_prev)
    at = dict(E)
    at.update({cell.h: h_prev, cell.c: c_prev})
    rhs = explicit(cell.jac_cc(), at) + explicit(cell.jac_ch(), at) * sp.diag(
        *o_prev.multiply_elementwise(c_prev.applyfunc(lambda v: 1 - sp.tanh(v) ** 2)))
    out = [("n=2, m=1: d c_t/d c_{t-1} = diag(f_t) + (dc_t/dh_{t-1}) diag(o_{t-1}∘(1-tanh^2 c_{t-1}))",
            prove_equal(c_t.jacobian(c_prev), rhs))]
    # the extra term at a point (n = 1): exact rationals
    cell1, E1, _, _ = explicit_cell(1, 1)
    pt = {s: 0 for M in E1.values() for s in M}
    pt[E1[cell1.P["W_hg"]][0]] = 1
    op, cp = sp.Symbol("op", real=True), sp.Symbol("cp", real=True)
    P1 = {k: E1[cell1.P[k]] for k in PARAMS}
    _, c1 = step(P1, E1[cell1.x], sp.Matrix([op * sp.tanh(cp)]), sp.Matrix([cp]))
    total = c1.jacobian(sp.Matrix([cp])).xreplace(pt).xreplace({op: sp.Rational(1, 2)}).subs(cp, 0)
    out.append(("n=1 point (W_hg = 1, all else 0, c_{t-1} = 0, o_{t-1} = 1/2): d c_t/d c_{t-1} = 3/4",
                prove_equal(total, sp.Matrix([sp.Rational(3, 4)]))))
    out.append(("... while diag(f_t) = sigma(0) = 1/2: the extra term 1/4 is non-zero",
                prove_true(sp.Ne(total[0], sigmoid(0)))))
    return out


def _chain_point():
    """n = m = 1: W_hg = 1, every other weight and bias 0, x_1 = x_2 = 0, h_0 = c_0 = 0."""
    cell, E, _, _ = explicit_cell(1, 1)
    pt = {s: 0 for k in PARAMS for s in E[cell.P[k]]}
    pt[E[cell.P["W_hg"]][0]] = 1
    return pt


def _unroll(T, n, m):
    """Explicit T-step LSTM with shared explicit parameters; returns (Pe, xs, h0, c0, [(h_t, c_t)])."""
    Pe = explicit_params(n, m)
    xs = [mat(f"x{t}", m, 1) for t in range(1, T + 1)]
    h0, c0 = mat("h0", n, 1), mat("c0", n, 1)
    states = [(h0, c0)]
    for t in range(T):
        states.append(step(Pe, xs[t], *states[-1]))
    return Pe, xs, h0, c0, states


def _S_at(n, m, Pe, x, h, c):
    """The compact state Jacobian (lstm.state.jacobian) evaluated at (x, h, c) with parameters Pe."""
    cell = explicit_cell(n, m)[0]
    E = {cell.P[k]: Pe[k] for k in PARAMS}
    E.update({cell.x: x, cell.h: h, cell.c: c})
    return _state_block_matrix(cell, E)


@derivation("lstm.state.chain_not_blockwise", kind="refutation",
            title="The c-to-c block of the chain is not the product of the one-step c-to-c blocks",
            latex=(r"\Big[S_t S_{t-1}\Big]_{cc} = \Big[\tfrac{\partial c_t}{\partial h_{t-1}}\Big]\Big[\tfrac{\partial h_{t-1}}{\partial c_{t-2}}\Big] "
                   r"+ \operatorname{diag}(f_t)\operatorname{diag}(f_{t-1}) \ne \operatorname{diag}(f_t)\operatorname{diag}(f_{t-1})\ \text{in general}"),
            seed=SEED_LSTM, primary=PRIMARY, layout=NUMERATOR,
            assumptions=("S_t = d(h_t, c_t)/d(h_{t-1}, c_{t-1}) (lstm.state.jacobian); only x_t and the parameters are held fixed",),
            notes=("Counterexample (exact, n = m = 1): W_hg = 1, every other weight and bias 0, x_1 = x_2 = 0, h_0 = c_0 = 0. "
                   "Then i = f = o = 1/2, g = 0, the state stays (0, 0), and S_1 = S_2 = [[1/4, 1/4], [1/2, 1/2]] "
                   "(dc'/dh = 1/2, dh'/dc = 1/4 non-zero). The true dc_2/dc_0 = [S_2 S_1]_cc = 1/2*1/4 + 1/2*1/2 = 3/8, "
                   "but [S_2]_cc [S_1]_cc = 1/4."),
            steps=(
                r"[S_2 S_1]_{cc} = [S_2]_{ch}[S_1]_{hc} + [S_2]_{cc}[S_1]_{cc}",
                r"n = m = 1,\ W_{hg} = 1,\ \text{all other weights and biases } 0,\ x_1 = x_2 = 0,\ h_0 = c_0 = 0:\quad i = f = o = \frac{1}{2},\ g = 0,\ (h_1, c_1) = (0, 0)",
                r"S_1 = S_2:\quad [S]_{hh} = [S]_{hc} = \frac{1}{4},\qquad [S]_{ch} = [S]_{cc} = \frac{1}{2}",
                r"\frac{\partial c_2}{\partial c_0} = [S_2 S_1]_{cc} = \frac{1}{2}\cdot\frac{1}{4} + \frac{1}{2}\cdot\frac{1}{2} = \frac{3}{8}",
                r"[S_2]_{cc}\,[S_1]_{cc} = \frac{1}{2}\cdot\frac{1}{2} = \frac{1}{4} \ne \frac{3}{8}",
            ))
def _not_blockwise():
    n = 1
    out = []
    A = [[mat(f"A{r}{c}", n, n) for c in range(2)] for r in range(2)]
    Bm = [[mat(f"B{r}{c}", n, n) for c in range(2)] for r in range(2)]
    full = lambda M: M[0][0].row_join(M[0][1]).col_join(M[1][0].row_join(M[1][1]))  # noqa: E731
    out.append(("block identity: [S_2 S_1]_cc = [S_2]_ch [S_1]_hc + [S_2]_cc [S_1]_cc",
                prove_equal((full(A) * full(Bm))[n:, n:], A[1][0] * Bm[0][1] + A[1][1] * Bm[1][1])))
    Pe, xs, h0, c0, states = _unroll(2, 1, 1)
    pt = {s: 0 for k in PARAMS for s in Pe[k]}
    pt[Pe["W_hg"][0]] = 1
    pt.update({xs[0][0]: 0, xs[1][0]: 0, h0[0]: 0, c0[0]: 0})
    S1 = _S_at(1, 1, Pe, xs[0], h0, c0).xreplace(pt)
    S2 = _S_at(1, 1, Pe, xs[1], *states[1]).xreplace(pt)
    want = sp.Matrix([[sp.Rational(1, 4), sp.Rational(1, 4)], [sp.Rational(1, 2), sp.Rational(1, 2)]])
    out.append(("the state after step 1 is (h_1, c_1) = (0, 0)", prove_equal(sp.Matrix(states[1]).xreplace(pt), sp.zeros(2, 1))))
    out.append(("S_1 = [[1/4, 1/4], [1/2, 1/2]] at the point", prove_equal(S1, want)))
    out.append(("S_2 = [[1/4, 1/4], [1/2, 1/2]] at the point", prove_equal(S2, want)))
    h2, c2 = states[2]
    true_J = h2.col_join(c2).jacobian(h0.col_join(c0)).xreplace(pt)
    out.append(("the unrolled (element-wise) d(h_2, c_2)/d(h_0, c_0) = S_2 S_1 at the point", prove_equal(true_J, S2 * S1)))
    out.append(("dc_2/dc_0 = 3/8", prove_equal(true_J[1, 1], sp.Rational(3, 8))))
    r = prove_true(sp.Ne(true_J[1, 1], S2[1, 1] * S1[1, 1]))
    cex = {"point": {"W_hg": "1", "other weights, biases": "0", "x_1, x_2": "0", "h_0, c_0": "0"},
           "value": "dc_2/dc_0 = 3/8, [S_2]_cc [S_1]_cc = 1/4"}
    out.append(("3/8 != [S_2]_cc [S_1]_cc = 1/4", dataclasses.replace(r, counterexample=cex)))
    return out


@derivation("lstm.state.chain", title="The honest chain: a latest-left product of 2n x 2n state Jacobians",
            latex=(r"\frac{\partial(h_t, c_t)}{\partial(h_k, c_k)} = S_t S_{t-1}\cdots S_{k+1},\qquad "
                   r"S_i = \frac{\partial(h_i, c_i)}{\partial(h_{i-1}, c_{i-1})}\ \text{(lstm.state.jacobian at step } i)"),
            seed=SEED_LSTM, primary=PRIMARY, layout=NUMERATOR,
            assumptions=("held fixed: x_{k+1}, ..., x_t and the parameters; both h and c flow",
                         "explicit at t - k = 1, 2 (n = m = 1); for every t - k by the induction step "
                         "d cell(x, F(h_k, c_k))/d(h_k, c_k) = S(x, F) dF/d(h_k, c_k), F undefined (n = 1, 2)"),
            steps=(
                r"(h_i, c_i) = \operatorname{cell}(x_i, h_{i-1}, c_{i-1}),\qquad S_i = \frac{\partial(h_i, c_i)}{\partial(h_{i-1}, c_{i-1})}",
                r"t = k+1:\quad \frac{\partial(h_{k+1}, c_{k+1})}{\partial(h_k, c_k)} = S_{k+1}",
                r"\frac{\partial(h_t, c_t)}{\partial(h_k, c_k)} = \frac{\partial(h_t, c_t)}{\partial(h_{t-1}, c_{t-1})}\,\frac{\partial(h_{t-1}, c_{t-1})}{\partial(h_k, c_k)} = S_t\,\frac{\partial(h_{t-1}, c_{t-1})}{\partial(h_k, c_k)}",
                r"= S_t\,(S_{t-1}\cdots S_{k+1}) = S_t S_{t-1}\cdots S_{k+1}",
            ))
def _chain():
    out = []
    for span in (1, 2):
        Pe, xs, h0, c0, states = _unroll(span, 1, 1)
        P = sp.eye(2)
        for t in range(span):
            P = _S_at(1, 1, Pe, xs[t], *states[t]) * P
        hT, cT = states[span]
        out.append((f"t-k={span} (n=m=1): d(h_t,c_t)/d(h_k,c_k) = S_t ... S_(k+1)",
                    prove_equal(hT.col_join(cT).jacobian(h0.col_join(c0)), P)))
    for n in (1, 2):
        Pe = explicit_params(n, 1)
        x = mat("x", 1, 1)
        hk, ck = mat("hk", n, 1), mat("ck", n, 1)
        z = list(hk) + list(ck)
        Fh = sp.Matrix([sp.Function(f"Fh{j}")(*z) for j in range(n)])
        Fc = sp.Matrix([sp.Function(f"Fc{j}")(*z) for j in range(n)])
        h1, c1 = step(Pe, x, Fh, Fc)
        var = hk.col_join(ck)
        lhs = h1.col_join(c1).jacobian(var)
        rhs = _S_at(n, 1, Pe, x, Fh, Fc) * Fh.col_join(Fc).jacobian(var)
        out.append((f"induction step (every t-k), n={n}: d(h_t,c_t)/d(h_k,c_k) = S_t d(h_(t-1),c_(t-1))/d(h_k,c_k)",
                    prove_equal(lhs, rhs)))
    return out


@derivation("lstm.claim.gates_no_vanishing", kind="refutation",
            title="The seed's 'gates lie in (0, 1), so the gradient does not vanish' is false",
            latex=(r"f_i \in (0,1) \not\Rightarrow \Big\|\frac{\partial c_t}{\partial c_k}\Big\| \not\to 0:\quad "
                   r"b_f = -10,\ W_{xf} = W_{hf} = 0 \Rightarrow \frac{\partial c_t}{\partial c_k} = \sigma(-10)^{t-k} < (1/20000)^{t-k} \to 0"),
            seed=SEED_CLAIM, primary=GERS + "; " + JOZEFOWICZ,
            layout=NUMERATOR,
            assumptions=("counterexample at n = 1 with every W_h* = 0, W_xf = 0, b_f = -10 (the other weights, "
                         "biases and inputs arbitrary): then f_i = sigma(-10) at every step",),
            notes=("Counterexample: forget gate near 0. With every W_h* = 0 the state Jacobian is "
                   "S_i = [[0, o_i(1-tanh^2 c_i) f], [0, f]] with f = sigma(-10) < 5e-5, so the whole chain "
                   "S_t ... S_(k+1) = [[0, a_t f^(s-1)], [0, f^s]] (s = t - k), every entry at most f^s -> 0: "
                   "both the path along c and the honest chain vanish. Gates in (0, 1) only bound the factors; "
                   "a product of factors in (0, 1) vanishes geometrically unless they approach 1. The true "
                   "condition for the carousel to carry the gradient is f near 1 (Gers, Schmidhuber & Cummins "
                   "2000: the forget gate learns to stay open; Hochreiter & Schmidhuber 1997's CEC is the case f = 1), "
                   "hence the practice of a forget-gate bias of 1 (Jozefowicz, Zaremba & Sutskever 2015) or 2 "
                   "(Gers et al. 2000 suggest positive initial forget biases)."),
            steps=(
                r"n = 1,\ W_{h\ast} = 0,\ W_{xf} = 0,\ b_f = -10:\quad f_i = \sigma(-10) =: f \in (0, 1) \ \text{ at every step}",
                r"W_{h\ast} = 0:\quad [S_i]_{hh} = [S_i]_{ch} = 0,\quad [S_i]_{hc} = \alpha_i := o_i(1-\tanh^2 c_i)\,f \in (0, f],\quad [S_i]_{cc} = f",
                r"s = t - k:\quad [S_t\cdots S_{k+1}]_{hc} = \alpha_t f^{s-1} \le f^{s},\qquad \frac{\partial c_t}{\partial c_k} = [S_t\cdots S_{k+1}]_{cc} = f^{s},\qquad \text{the } h\text{-columns are } 0",
                r"f = \sigma(-10) = \frac{1}{1+e^{10}} \approx 4.54\cdot 10^{-5} < \frac{1}{20000}\ \Rightarrow\ f^{t-k} < \Big(\frac{1}{20000}\Big)^{t-k} \to 0",
            ))
def _claim():
    out = []
    n, m = 1, 1
    cell, E, _, _ = explicit_cell(n, m)
    zero = {s: 0 for g in GATES for s in E[cell.P[f"W_h{g}"]]}
    zero.update({E[cell.P["W_xf"]][0]: 0, E[cell.P["b_f"]][0]: -10})
    S = (_jac(n, m, "h").row_join(_jac(n, m, "c"))).xreplace(zero)
    f = sigmoid(-10)
    cell_c = explicit(cell.c_new, E).xreplace(zero)
    tau = sp.tanh(cell_c[0])
    o = explicit(cell.gate["o"], E).xreplace(zero)[0]
    out.append(("n=1, every W_h* = 0, W_xf = 0, b_f = -10: S = [[0, o(1-tanh^2 c') sigma(-10)], [0, sigma(-10)]]",
                prove_equal(S, sp.Matrix([[0, o * (1 - tau ** 2) * f], [0, f]]))))
    a, a2, ff, s = sp.symbols("a a2 f s", positive=True)
    out.append(("induction: [[0, a], [0, f]] [[0, a' f^(s-1)], [0, f^s]] = [[0, a f^s], [0, f^(s+1)]]",
                prove_equal(sp.Matrix([[0, a], [0, ff]]) * sp.Matrix([[0, a2 * ff ** (s - 1)], [0, ff ** s]]),
                            sp.Matrix([[0, a * ff ** s], [0, ff ** (s + 1)]]))))
    u, op, t = sp.Symbol("u", positive=True), sp.Symbol("o", positive=True), sp.Symbol("tau", real=True)
    out.append(("|a| <= f: 1 - o(1 - tau^2) = (1 - o) + o tau^2 with o = 1 - u (u = 1 - o > 0, act.sigmoid.range)",
                prove_equal((1 - op * (1 - t ** 2)).subs(op, 1 - u), u + (1 - u) * t ** 2)))
    out.append(("(1 - o) + o tau^2 > 0 for o in (0, 1), tau real", prove_positive(u + op * t ** 2)))
    y = sp.Symbol("y", real=True)
    out.append(("1 - tanh^2 y = 4/(e^y + e^-y)^2", prove_equal((1 - sp.tanh(y) ** 2).rewrite(sp.exp), 4 / (sp.exp(y) + sp.exp(-y)) ** 2)))
    out.append(("4/(e^y + e^-y)^2 > 0, so 0 < a = o(1 - tau^2) f <= f", prove_positive(4 / (sp.exp(y) + sp.exp(-y)) ** 2)))
    out.append(("sigma(-10) = 1/(1+e^10) < 1/20000", prove_true(sp.Lt(f.rewrite(sp.exp), sp.Rational(1, 20000)))))
    out.append(("(1/20000)^s -> 0 as s -> oo", prove_equal(sp.limit(sp.Rational(1, 20000) ** s, s, sp.oo), 0)))
    r = prove_true(sp.Gt(f.rewrite(sp.exp), 0))
    cex = {"point": {"n": "1", "W_h*": "0", "W_xf": "0", "b_f": "-10"},
           "value": "f = sigma(-10) ~ 4.54e-5 in (0, 1), yet every entry of dc_t/dc_k and of the state chain <= sigma(-10)^(t-k) -> 0"}
    out.append(("the gate is in (0, 1) as the claim assumes: sigma(-10) > 0", dataclasses.replace(r, counterexample=cex)))
    return out


F32_ONE = sp.Rational(9085219, 2 ** 19)     # the smallest float32 x with fl32(sigma(x)) = 1.0 (correctly rounded)
F32_BELOW = sp.Rational(4542609, 2 ** 18)   # its float32 predecessor


@derivation("lstm.gates.range", title="Gates i, f, o lie in (0, 1) and g in (-1, 1) over the reals; float32 rounds sigma to 1",
            latex=(r"i, f, o \in (0,1),\ g \in (-1,1)\ \text{over } \mathbb{R};\quad "
                   r"\mathrm{fl}_{32}(\sigma(x)) = 1 \iff \sigma(x) \ge 1 - 2^{-25} \iff x \ge \ln(2^{25}-1) \approx 17.3287"),
            seed=SEED_CLAIM + " (门控值在 (0, 1) 之间)", primary=GERS + "; IEEE 754-2019 (binary32, round to nearest even)",
            assumptions=("gate pre-activations are real and finite",
                         "float fact: sigma computed exactly, then rounded to nearest-even binary32"),
            notes=("Real fact: exact. Float fact: the binary32 numbers just below 1 are spaced 2^-24, so a value in "
                   "[1 - 2^-25, 1) rounds to 1.0 (the midpoint 1 - 2^-25 ties to even, i.e. to 1.0); sigma(x) >= 1 - 2^-25 "
                   "iff x >= ln(2^25 - 1) = 17.32867948...; the smallest such float32 is 9085219/2^19 = 17.32868004 "
                   "(its predecessor 17.32867813 still gives 0.99999994). A naive float32 1/(1 + exp(-x)) already returns "
                   "1.0 from x >= 24 ln 2 = 16.64 (1 + e^-x rounds to 1 once e^-x <= 2^-24; e^-17 < 2^-24 < e^-16). "
                   "So in float32 an open gate can be exactly 1 (and a saturated sigma' exactly 0)."),
            steps=(
                r"i, f, o = \sigma(a) = \frac{1}{1+e^{-a}} \in (0, 1),\qquad g = \tanh(a) \in (-1, 1)",
                r"\sigma(x) \ge 1 - 2^{-25} \iff e^{-x} \le \frac{2^{-25}}{1 - 2^{-25}} = \frac{1}{2^{25} - 1} \iff x \ge \ln(2^{25} - 1) \approx 17.3287",
                r"\text{binary32 below } 1 \text{ is spaced } 2^{-24}:\ [1 - 2^{-25}, 1) \text{ rounds to } 1.0\ (\text{the midpoint } 1 - 2^{-25} \text{ ties to even, to } 1.0)",
                r"\text{smallest float32 with } \mathrm{fl}_{32}(\sigma(x)) = 1:\ x = \frac{9085219}{2^{19}} \approx 17.32868;\ \text{its predecessor } \frac{4542609}{2^{18}} \text{ gives } 0.99999994",
                r"\text{naive } 1/(1+e^{-x}) \text{ in float32}:\ 1 + e^{-x} \text{ rounds to } 1 \text{ once } e^{-x} \le 2^{-24},\ \text{i.e. } x \ge 24\ln 2 \approx 16.64\ (e^{-17} < 2^{-24} < e^{-16})",
            ))
def _range():
    out = [(f"i, f, o = sigma(a): {d}", r) for d, r in activations._sigmoid_range()]
    out += [(f"g = tanh(a): {d}", r) for d, r in activations._tanh_range()]
    s = lambda v: sigmoid(v).rewrite(sp.exp)  # noqa: E731
    thr = 1 - sp.Rational(1, 2 ** 25)
    out += [("sigma(ln(2^25 - 1)) = 1 - 2^-25 exactly", prove_equal(s(sp.log(2 ** 25 - 1)), thr)),
            ("sigma(18) > 1 - 2^-25 (rounds to 1.0 in float32)", prove_true(sp.Gt(s(18), thr))),
            ("sigma(17) < 1 - 2^-25 (does not)", prove_true(sp.Lt(s(17), thr))),
            ("sigma(9085219/2^19) > 1 - 2^-25: the smallest float32 with fl32(sigma) = 1", prove_true(sp.Gt(s(F32_ONE), thr))),
            ("sigma(4542609/2^18) < 1 - 2^-25: its float32 predecessor", prove_true(sp.Lt(s(F32_BELOW), thr))),
            ("naive float32 1/(1+exp(-x)): e^-17 < 2^-24 < e^-16",
             prove_true(sp.And(sp.Lt(sp.exp(-17), sp.Rational(1, 2 ** 24)), sp.Lt(sp.Rational(1, 2 ** 24), sp.exp(-16)))))]
    return out


@derivation("lstm.param_count", title="Parameter count of one LSTM layer",
            latex=r"|\theta| = 4\,(n(n+m) + n)\ (\text{one bias}),\qquad 4\,(n(n+m) + n) + 4n\ (\text{two biases } b_{ih}, b_{hh})",
            seed=SEED_LSTM, primary=PRIMARY + "; torch.nn.LSTM (weight_ih (4n, m), weight_hh (4n, n), bias_ih, bias_hh)",
            assumptions=("counted as the free entries of the 12 explicit parameter blocks (and a second 4n bias)",),
            steps=(
                r"\text{per gate } \ast = i, f, g, o:\quad |W_{x\ast}| + |W_{h\ast}| + |b_\ast| = nm + n^2 + n = n(n+m) + n",
                r"4 \text{ gates}:\ |\theta| = 4\,(n(n+m) + n);\qquad \text{a second bias } b_{hh} \in \mathbb{R}^{4n}:\ 4\,(n(n+m) + n) + 4n",
            ))
def _param_count():
    n, m = sp.symbols("n m", positive=True, integer=True)
    out = []
    for nn, mm in ((1, 1), (2, 3), (3, 2)):
        Pe = explicit_params(nn, mm)
        entries = set().union(*(M.free_symbols for M in Pe.values()))
        one = 4 * (n * (n + m) + n)
        out.append((f"n={nn}, m={mm}: one bias", prove_equal(len(entries), one.subs({n: nn, m: mm}))))
        out.append((f"n={nn}, m={mm}: two biases", prove_equal(len(entries) + 4 * nn, (one + 4 * n).subs({n: nn, m: mm}))))
    return out


# ---- kernels: the compact formulas, printed as batched NumPy ----
_n, _m = sp.symbols("n m", integer=True, positive=True)
KERNEL_FORMULAS = ("forward_h", "forward_c", "jac_hh", "jac_hc", "jac_ch", "jac_cc", "jac_hx", "jac_cx",
                   "vjp_h", "vjp_c", "vjp_x")


def _register_kernels():
    def build_formula(formula):
        cell = Cell(_n, _m)
        args = cell.args() + ([cell.delta_h, cell.delta_c] if formula.startswith("vjp") else [])
        doc = f"LSTM cell (gates i, f, g, o): {formula}; column vectors as (B, k, 1), numerator layout."
        return args, getattr(cell, formula)(), doc

    def build_param(name):
        cell = Cell(_n, _m)
        doc = f"LSTM cell: gradient of <delta_h, h'> + <delta_c, c'> with respect to {name}; (B, rows, cols)."
        return cell.args() + [cell.delta_h, cell.delta_c], cell.vjp_param(name), doc

    for formula in KERNEL_FORMULAS:
        kernel(f"lstm_{formula}")(lambda formula=formula: build_formula(formula))
    for name in PARAMS:
        kernel(f"lstm_vjp_{name}")(lambda name=name: build_param(name))


_register_kernels()
__all__ = ["Cell", "explicit_cell", "explicit_params", "step", "PARAMS", "GATES", "SEED_LSTM", "GERS", "HOCHREITER"]


@derivation("lstm.cell.dc_dc_prev", title="dc'/dc = diag(f): the partial derivative, with h and x held fixed",
            latex=r"\frac{\partial c_t}{\partial c_{t-1}}\Big|_{h_{t-1},\,x_t\ \text{fixed}} = \operatorname{diag}(f_t)",
            seed=SEED_LSTM, primary=HOCHREITER + "; " + GERS, layout=NUMERATOR,
            assumptions=("held fixed: h_{t-1} and x_t, hence every gate; the total derivative is lstm.state.c_to_c_full",
                         "proved element-wise at (n, m) in {(1, 1), (2, 3)}"),
            steps=(
                r"c_t = f_t\odot c_{t-1} + i_t\odot g_t,\qquad f_t, i_t, g_t \ \text{ are functions of } (x_t, h_{t-1}) \text{ only}",
                r"h_{t-1}, x_t \text{ fixed}:\quad \frac{\partial f_t}{\partial c_{t-1}} = \frac{\partial i_t}{\partial c_{t-1}} = \frac{\partial g_t}{\partial c_{t-1}} = 0",
                r"\frac{\partial (c_t)_k}{\partial (c_{t-1})_j} = (f_t)_k \ \text{ if } j = k,\ 0 \ \text{ otherwise}\ \Rightarrow\ \frac{\partial c_t}{\partial c_{t-1}} = \operatorname{diag}(f_t)",
            ))
def _dc_dc_prev():
    out = []
    for n, m in SIZES:
        cell, E, _, _ = explicit_cell(n, m)
        out.append((f"n={n}, m={m}: element-wise dc'/dc = diag(sigma(a_f))",
                    prove_equal(_jac(n, m, "c")[n:, :], explicit(cell.jac_cc(), E))))
    return out

