"""The LSTM cell (gate order i, f, g, o), its Jacobians, the state map and the cell-state carousel.

    i = sigma(W_xi x + W_hi h + b_i)    f = sigma(W_xf x + W_hf h + b_f)
    g = tanh(W_xg x + W_hg h + b_g)     o = sigma(W_xo x + W_ho h + b_o)
    c' = f * c + i * g                  h' = o * tanh(c')

W_x* (n, m), W_h* (n, n), b_* (n,); column vectors; numerator layout ``(dy/dx)[i, j] = dy_i/dx_j``;
vec() row-major; products latest-left. Each Jacobian is derived element-wise (``Matrix.jacobian`` on
explicit-entry matrices, the opaque ``sigmoid`` with sigma' = sigma(1 - sigma)), and the compact
formula, the very MatrixSymbol expression the oracle kernels are printed from, is proved equal to it
entry by entry at symbolic sizes n, m (derivations/indexed.py, see `opaque_subterms`). The time chain is never expanded past two steps: the one-step state Jacobian is
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
from sympy.matrices.expressions.matexpr import MatrixElement

from dlproof.parameters import LSTM_GATES, LSTM_PARAMS

from . import activations
from .functions import sigmoid
from .matrices import elementwise, explicit, mat, vec_rows
from .prove import prove_equal, prove_positive, prove_true
from . import scope
from .registry import derivation, kernel
from .indexed import (index, opaque_subterms, prove_entries, prove_entry_equal, prove_sum_linear,
                      sum_body, sum_kronecker)

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

ACT = {"i": sigmoid, "f": sigmoid, "g": sp.tanh, "o": sigmoid}
SIZES = ((1, 1), (2, 3))          # cell identities (forward, Jacobians wrt h, x, c, state)


def _dsigmoid(d):
    return sigmoid(d) * (1 - sigmoid(d))


def _dtanh(d):
    return 1 - sp.tanh(d) ** 2


DACT = {"i": _dsigmoid, "f": _dsigmoid, "g": _dtanh, "o": _dsigmoid}


def _had(*args):
    return sp.HadamardProduct(*args)


class Cell:
    """Symbols and compact formulas of one LSTM cell at size (n, m) (ints or SymPy symbols).

    ``p`` is the size of the recurrent state h (and of the cotangent delta_h on h'): n for the LSTM; the projected
    cell (derivations/projection.py) subclasses this one with h' = W_proj (o tanh c') of size p."""

    def __init__(self, n, m, p=None):
        p = n if p is None else p
        self.n, self.m = n, m
        self.P = {}
        for g in LSTM_GATES:
            self.P[f"W_x{g}"] = sp.MatrixSymbol(f"W_x{g}", n, m)
            self.P[f"W_h{g}"] = sp.MatrixSymbol(f"W_h{g}", n, p)
            self.P[f"b_{g}"] = sp.MatrixSymbol(f"b_{g}", n, 1)
        self.x = sp.MatrixSymbol("x", m, 1)
        self.h, self.c = sp.MatrixSymbol("h", p, 1), sp.MatrixSymbol("c", n, 1)
        self.delta_h, self.delta_c = sp.MatrixSymbol("delta_h", p, 1), sp.MatrixSymbol("delta_c", n, 1)
        self.a = {g: self.P[f"W_x{g}"] * self.x + self.P[f"W_h{g}"] * self.h + self.P[f"b_{g}"] for g in LSTM_GATES}
        self.gate = {g: elementwise(ACT[g], self.a[g]) for g in LSTM_GATES}
        self.dgate = {g: elementwise(DACT[g], self.a[g]) for g in LSTM_GATES}  # activation' at the pre-activation
        i, f, gg, o = (self.gate[k] for k in LSTM_GATES)
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
    def delta_u(self):
        """The cotangent reaching u = o ∘ tanh(c'): delta_h (here h' = u)."""
        return self.delta_h

    def delta_c_total(self):
        """delta_c + delta_u ∘ o ∘ (1 - tanh^2 c'): the cotangent reaching c'."""
        return self.delta_c + _had(self.delta_u(), self.gate["o"], self.dtc)

    def z(self, g):
        """The cotangent at gate g's pre-activation a_g."""
        D, G, dct = self.dgate, self.gate, self.delta_c_total()
        return {"o": _had(self.delta_u(), self.tc, D["o"]),
                "f": _had(dct, self.c, D["f"]),
                "i": _had(dct, G["g"], D["i"]),
                "g": _had(dct, G["i"], D["g"])}[g]

    def vjp_h(self):
        return sp.MatAdd(*[self.P[f"W_h{g}"].T * self.z(g) for g in LSTM_GATES])

    def vjp_x(self):
        return sp.MatAdd(*[self.P[f"W_x{g}"].T * self.z(g) for g in LSTM_GATES])

    def vjp_c(self):
        return _had(self.delta_c_total(), self.gate["f"])

    def vjp_param(self, name):
        g = name[-1]
        if name.startswith("b_"):
            return self.z(g)
        return self.z(g) * (self.h if name.startswith("W_h") else self.x).T

    def args(self):
        return [self.P[k] for k in LSTM_PARAMS] + [self.x, self.h, self.c]


# ---------------------------------------------------------------- element-wise (trusted) route
def explicit_params(n, m) -> dict:
    """Explicit-entry matrices for the 12 parameters: W_xi -> Wxi_jk, b_i -> bi_j, ..."""
    out = {}
    for g in LSTM_GATES:
        out[f"W_x{g}"] = mat(f"Wx{g}", n, m)
        out[f"W_h{g}"] = mat(f"Wh{g}", n, n)
        out[f"b_{g}"] = mat(f"b{g}", n, 1)
    return out


def step(Pe: dict, x, h, c):
    """(h', c') entry by entry from explicit parameters and state vectors (sp.Matrix)."""
    n, m = h.rows, x.rows
    gate = {}
    for g in LSTM_GATES:
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
    E = {cell.P[k]: Pe[k] for k in LSTM_PARAMS}
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


# ---------------------------------------------------------------- symbolic-size route (every n, m)
# The compact formulas are proved equal to the element-wise derivatives entry by entry at symbolic
# sizes (derivations/indexed.py): the entry (i, l) of a Jacobian for every n, m, not at n = 2.
# Speed-up, sound by construction: after differentiating, every gate pre-activation entry
# (a_g)_k = (W_xg x + W_hg h + b_g)_k is replaced on both sides by an undefined function A_g(k)
# (`opaque_subterms`). An identity proved for an arbitrary function A_g holds for the particular one;
# the replacement is made only where a sub-expression is *syntactically* the pre-activation entry
# (compared after alpha-normalising bound indices), so substituting back gives the original sides.
# Without it, ``doit`` tries Gosper summation on every inner sum (1.5 s per entry instead of 0.2 s).
# The generic helpers (`opaque_subterms`, `prove_entries`, `sum_body`, `sum_kronecker`, `prove_sum_linear`)
# live in derivations/indexed.py.


SN, SM = sp.symbols("n m", integer=True, positive=True)   # the symbolic sizes of the general proofs


def gate_templates(cell) -> list:
    """The `prove_entries` templates of a gated cell's pre-activations ``cell.a[g]`` (gates i, f, g, o in order):
    (the bias b_g that marks the entry, entry k -> the pre-activation's k-th entry, the opaque function A_g)."""
    return [(cell.P[f"b_{g}"], (lambda k, g=g: cell.a[g][k, 0]), sp.Function(f"A_{g}")) for g in LSTM_GATES]


@lru_cache(maxsize=None)
def symbolic_cell():
    """(Cell at symbolic (n, m), templates for its four pre-activations)."""
    cell = Cell(SN, SM)
    return cell, gate_templates(cell)


@lru_cache(maxsize=None)
def _forward_entries():
    """(h'_p, c'_p): the symbolic cell's output entries at the index p."""
    cell, _ = symbolic_cell()
    p = index("p")
    return cell.forward_h()[p, 0], cell.forward_c()[p, 0]


def _wrt_element(cell, wrt, j, k):
    if wrt in ("h", "x", "c"):
        return getattr(cell, wrt)[j, 0]
    return cell.P[wrt][j, k]


def _wrt_shape(cell, wrt):
    M = getattr(cell, wrt) if wrt in ("h", "x", "c") else cell.P[wrt]
    return M.shape


@lru_cache(maxsize=None)
def general_block(row: str, wrt: str):
    """Every n, m: d{row}'_i / d{wrt}_l (element-wise) = entry (i, l) of the compact block."""
    cell, T = symbolic_cell()
    i, l = index("i"), index("l")
    out = cell.forward_h() if row == "h" else cell.forward_c()
    name = {"h": "hh", "x": "hx", "c": "hc"}[wrt] if row == "h" else {"h": "ch", "x": "cx", "c": "cc"}[wrt]
    block = getattr(cell, f"jac_{name}")()
    rows = _wrt_shape(cell, wrt)[0]
    return prove_entries([(sp.diff(out[i, 0], _wrt_element(cell, wrt, l, 0)), block[i, l])], {i: SN, l: rows}, T)


@lru_cache(maxsize=None)
def general_vjp(wrt: str):
    """Every n, m: sum_p delta_h[p] dh'_p/dw + delta_c[p] dc'_p/dw = the compact VJP's entry (w an entry of wrt).

    For w in h, x, c both sides are sums over p in [0, n-1]: their bodies are compared at a free p. For a
    parameter entry W[j, k] (or b[j]) the element-wise body carries KroneckerDelta(p, j): the sum is its value
    at p = j, compared with the compact entry z_g[j] x[k] (resp. h[k], 1).
    """
    from .indexed import resolve_guards
    from .prove import ProofResult

    cell, T = symbolic_cell()
    j, k, p = index("j"), index("k"), index("p")
    rows, cols = _wrt_shape(cell, wrt)
    w = _wrt_element(cell, wrt, j, k if cols != 1 else 0)
    hp, cp = _forward_entries()
    body = cell.delta_h[p, 0] * sp.diff(hp, w) + cell.delta_c[p, 0] * sp.diff(cp, w)
    bounds = {j: rows, k: cols, p: SN} if cols != 1 else {j: rows, p: SN}
    if wrt in ("h", "x"):
        rhs = sum_body(getattr(cell, f"vjp_{wrt}")()[j, 0], p, SN - 1)
        lhs = body
    elif wrt == "c":
        rhs = cell.vjp_c()[j, 0]
        lhs = sum_kronecker(resolve_guards(opaque_subterms(body, T), bounds), p, j)
    else:
        # expand=False: an outer product z x^T has a 1-term inner sum that SymPy would otherwise ``doit``
        rhs = cell.vjp_param(wrt)._entry(j, k if cols != 1 else 0, expand=False)
        lhs = sum_kronecker(resolve_guards(opaque_subterms(body, T), bounds), p, j)
    if lhs is None or rhs is None:
        return ProofResult("undecided", "entry-wise (symbolic size)", "the sums do not have the expected form")
    return prove_entries([(lhs, rhs)], bounds, T)

@derivation("lstm.cell.forward", kind="definition", title="The LSTM cell (gate order i, f, g, o)",
            latex=(r"\begin{aligned} i &= \sigma(W_{xi}x + W_{hi}h + b_i), & f &= \sigma(W_{xf}x + W_{hf}h + b_f),\\ "
                   r"g &= \tanh(W_{xg}x + W_{hg}h + b_g), & o &= \sigma(W_{xo}x + W_{ho}h + b_o),\\ "
                   r"c' &= f\odot c + i\odot g, & h' &= o\odot\tanh(c') \end{aligned}"),
            seed=SEED_LSTM, primary=PRIMARY,
            assumptions=("W_x*: n x m, W_h*: n x n, b_*, h, c: n, x: m", "gate order i, f, g, o (as torch.nn.LSTM)",
                         "one bias per gate; a second bias (b_hh) only adds to b_*"),
            notes="The seed writes c̃_t for g. Peephole connections (Gers & Schmidhuber 2000) are not part of this cell.",
            sizes=("n", "m"),
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
                    prove_equal(explicit(cell.forward_c(), E), c_new), scope.at(n=n, m=m)))
        out.append((f"n={n}, m={m}: compact h' = o∘tanh(c') equals the element-wise sums",
                    prove_equal(explicit(cell.forward_h(), E), h_new), scope.at(n=n, m=m)))
    return out


@derivation("lstm.gate.partials", title="Every gate partial of the LSTM cell",
            latex=(r"\sigma' = \sigma(1-\sigma),\ \tanh' = 1-\tanh^2,\quad "
                   r"\frac{\partial c'}{\partial f} = c,\ \frac{\partial c'}{\partial i} = g,\ \frac{\partial c'}{\partial g} = i,\quad "
                   r"\frac{\partial h'}{\partial o} = \tanh(c'),\ \frac{\partial h'}{\partial c'} = o\,(1-\tanh^2 c')"),
            seed=SEED_LSTM, primary=PRIMARY,
            assumptions=("per unit (diagonal): f, i, g, o, c, c' are scalar symbols of one unit; "
                         "c' = f c + i g with f, i, g, c independent; h' = o tanh(c') with o, c' independent",),
            sizes=(),
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
    """Every n, m: both Jacobian blocks entry (i, l), and the VJP entry, against the element-wise derivative."""
    def obligations():
        out = []
        for row, name in zip(("h'", "c'"), blocks):
            out.append((f"every n, m: element-wise d{row}_i/d{wrt}_l = compact {name}[i, l] (symbolic sizes)",
                        general_block(row[0], wrt), scope.GENERAL))
        out.append((f"every n, m: sum_p delta_h[p] dh'_p/d{wrt}_l + delta_c[p] dc'_p/d{wrt}_l = compact {vjp}[l]",
                    general_vjp(wrt), scope.GENERAL))
        return out

    return obligations


F32_ONE = sp.Rational(9085219, 2 ** 19)     # the smallest float32 x with fl32(sigma(x)) = 1.0 (correctly rounded)
F32_BELOW = sp.Rational(4542609, 2 ** 18)   # its float32 predecessor


@derivation("lstm.gates.range", title="Gates i, f, o lie in (0, 1) and g in (-1, 1) over the reals; float32 rounds sigma to 1",
            latex=(r"i, f, o \in (0,1),\ g \in (-1,1)\ \text{over } \mathbb{R};\quad "
                   r"\mathrm{fl}_{32}(\sigma(x)) = 1 \iff \sigma(x) \ge 1 - 2^{-25} \iff x \ge \ln(2^{25}-1) \approx 17.3287"),
            seed=SEED_CLAIM + " (门控值在 (0, 1) 之间)", primary=GERS + "; IEEE 754-2019 (binary32, round to nearest even)",
            sizes=(),
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
            assumptions=("counted as the entries of the 12 parameter blocks of the cell at symbolic (n, m) "
                         "(W_x*: n x m, W_h*: n x n, b_*: n), and a second 4n bias",),
            sizes=("n", "m"),
            steps=(
                r"\text{per gate } \ast = i, f, g, o:\quad |W_{x\ast}| + |W_{h\ast}| + |b_\ast| = nm + n^2 + n = n(n+m) + n",
                r"4 \text{ gates}:\ |\theta| = 4\,(n(n+m) + n);\qquad \text{a second bias } b_{hh} \in \mathbb{R}^{4n}:\ 4\,(n(n+m) + n) + 4n",
            ))
def _param_count():
    cell = Cell(SN, SM)
    count = sum(M.shape[0] * M.shape[1] for M in cell.P.values())  # a polynomial in the symbolic n, m
    one = 4 * (SN * (SN + SM) + SN)
    return [("every n, m: sum of the 12 block sizes = 4(n(n+m)+n) (one bias)", prove_equal(count, one), scope.GENERAL),
            ("every n, m: with a second 4n bias, 4(n(n+m)+n) + 4n", prove_equal(count + 4 * SN, one + 4 * SN), scope.GENERAL)]


_DCT = r"\delta_c^{\mathrm{tot}} = \delta_c + \delta_h\odot o\odot(1-\tanh^2 c')"
_JH = (r"\frac{\partial c'}{\partial %(v)s} = \operatorname{diag}(c\odot f(1-f))W_{%(v)sf} + \operatorname{diag}(g\odot i(1-i))W_{%(v)si}"
       r" + \operatorname{diag}(i\odot(1-g^2))W_{%(v)sg},\quad "
       r"\frac{\partial h'}{\partial %(v)s} = \operatorname{diag}(\tanh(c')\odot o(1-o))W_{%(v)so} + \operatorname{diag}(o\odot(1-\tanh^2 c'))\frac{\partial c'}{\partial %(v)s}")
_VJP = (r",\quad J_{%(v)s}^\top\begin{bmatrix}\delta_h\\ \delta_c\end{bmatrix} = \sum_{\ast\in\{i,f,g,o\}} W_{%(v)s\ast}^\top z_\ast,\ "
        r"z_o = \delta_h\odot\tanh(c')\odot o(1-o),\ z_f = \delta_c^{\mathrm{tot}}\odot c\odot f(1-f),\ "
        r"z_i = \delta_c^{\mathrm{tot}}\odot g\odot i(1-i),\ z_g = \delta_c^{\mathrm{tot}}\odot i\odot(1-g^2),\ " + _DCT)

def _input_jacobian(v: str, what: str, held: str):
    """Register lstm.cell.jacobian_{v}, v = "h" (the previous state) or "x" (the input), ``held`` the other one
    (held fixed with c): the two records differ only in the variable's name."""
    derivation(f"lstm.cell.jacobian_{v}", title=f"LSTM cell Jacobians of (h', c') with respect to {what}",
               latex=_JH % {"v": v} + _VJP % {"v": v}, seed=SEED_LSTM, primary=PRIMARY, layout=NUMERATOR,
               assumptions=(HELD + f"; here {held} and c are held fixed", "proved entry-wise for every n, m (symbolic sizes, derivations/indexed.py; pre-activations abstracted)"),
               sizes=("n", "m"),
               steps=tuple(step % {"v": v, "o": held} for step in (
                   r"a_\ast = W_{x\ast}x + W_{h\ast}h + b_\ast,\ \frac{\partial a_\ast}{\partial %(v)s} = W_{%(v)s\ast}:\quad \frac{\partial i}{\partial %(v)s} = \operatorname{diag}(i(1-i))W_{%(v)si},\ \frac{\partial f}{\partial %(v)s} = \operatorname{diag}(f(1-f))W_{%(v)sf},\ \frac{\partial g}{\partial %(v)s} = \operatorname{diag}(1-g^2)W_{%(v)sg},\ \frac{\partial o}{\partial %(v)s} = \operatorname{diag}(o(1-o))W_{%(v)so}",
                   r"c' = f\odot c + i\odot g\ (%(o)s, c \text{ fixed}):\quad \frac{\partial c'}{\partial %(v)s} = \operatorname{diag}(c)\frac{\partial f}{\partial %(v)s} + \operatorname{diag}(g)\frac{\partial i}{\partial %(v)s} + \operatorname{diag}(i)\frac{\partial g}{\partial %(v)s}",
                   r"h' = o\odot\tanh(c'):\quad \frac{\partial h'}{\partial %(v)s} = \operatorname{diag}(\tanh(c'))\frac{\partial o}{\partial %(v)s} + \operatorname{diag}(o\odot(1-\tanh^2 c'))\frac{\partial c'}{\partial %(v)s}",
                   r"\Big(\frac{\partial h'}{\partial %(v)s}\Big)^{\top}\delta_h + \Big(\frac{\partial c'}{\partial %(v)s}\Big)^{\top}\delta_c = W_{%(v)so}^\top z_o + \Big(\frac{\partial c'}{\partial %(v)s}\Big)^{\top}\delta_c^{\mathrm{tot}},\quad \delta_c^{\mathrm{tot}} = \delta_c + \delta_h\odot o\odot(1-\tanh^2 c')",
                   r"\Big(\frac{\partial c'}{\partial %(v)s}\Big)^{\top}\delta_c^{\mathrm{tot}} = W_{%(v)sf}^\top z_f + W_{%(v)si}^\top z_i + W_{%(v)sg}^\top z_g\ \Rightarrow\ J_{%(v)s}^\top(\delta_h, \delta_c) = \sum_{\ast = i, f, g, o} W_{%(v)s\ast}^\top z_\ast",
               )),
               )(_jacobian_record(v, (f"jac_h{v}", f"jac_c{v}"), f"vjp_{v}"))


_input_jacobian("h", "the previous h", "x")
_input_jacobian("x", "the input x", "h")
derivation("lstm.cell.jacobian_c", title="LSTM cell Jacobians of (h', c') with respect to the previous c",
           latex=(r"\frac{\partial c'}{\partial c} = \operatorname{diag}(f),\quad \frac{\partial h'}{\partial c} = "
                  r"\operatorname{diag}(o\odot(1-\tanh^2 c')\odot f),\quad J_c^\top\begin{bmatrix}\delta_h\\ \delta_c\end{bmatrix} = "
                  r"\delta_c^{\mathrm{tot}}\odot f,\ " + _DCT),
           seed=SEED_LSTM, primary=PRIMARY, layout=NUMERATOR,
           assumptions=(HELD + "; here x and h are held fixed, so no gate moves with c",
                        "proved entry-wise for every n, m (symbolic sizes, derivations/indexed.py; pre-activations abstracted)"),
           sizes=("n", "m"),
           steps=(
               r"\text{the gates depend on } (x, h) \text{ only}:\quad \frac{\partial i}{\partial c} = \frac{\partial f}{\partial c} = \frac{\partial g}{\partial c} = \frac{\partial o}{\partial c} = 0",
               r"c' = f\odot c + i\odot g\ \Rightarrow\ \frac{\partial c'}{\partial c} = \operatorname{diag}(f)",
               r"h' = o\odot\tanh(c')\ \Rightarrow\ \frac{\partial h'}{\partial c} = \operatorname{diag}(o\odot(1-\tanh^2 c'))\,\frac{\partial c'}{\partial c} = \operatorname{diag}(o\odot(1-\tanh^2 c')\odot f)",
               r"\Big(\frac{\partial h'}{\partial c}\Big)^{\top}\delta_h + \Big(\frac{\partial c'}{\partial c}\Big)^{\top}\delta_c = f\odot\big(\delta_c + \delta_h\odot o\odot(1-\tanh^2 c')\big) = \delta_c^{\mathrm{tot}}\odot f",
           ),
           )(_jacobian_record("c", ("jac_hc", "jac_cc"), "vjp_c"))


@derivation("lstm.cell.dc_dc_prev", title="dc'/dc = diag(f): the partial derivative, with h and x held fixed",
            latex=r"\frac{\partial c_t}{\partial c_{t-1}}\Big|_{h_{t-1},\,x_t\ \text{fixed}} = \operatorname{diag}(f_t)",
            seed=SEED_LSTM, primary=HOCHREITER + "; " + GERS, layout=NUMERATOR,
            assumptions=("held fixed: h_{t-1} and x_t, hence every gate; the total derivative is lstm.state.c_to_c_full",
                         "proved entry-wise for every n, m (symbolic sizes)"),
            sizes=("n", "m"),
            steps=(
                r"c_t = f_t\odot c_{t-1} + i_t\odot g_t,\qquad f_t, i_t, g_t \ \text{ are functions of } (x_t, h_{t-1}) \text{ only}",
                r"h_{t-1}, x_t \text{ fixed}:\quad \frac{\partial f_t}{\partial c_{t-1}} = \frac{\partial i_t}{\partial c_{t-1}} = \frac{\partial g_t}{\partial c_{t-1}} = 0",
                r"\frac{\partial (c_t)_k}{\partial (c_{t-1})_j} = (f_t)_k \ \text{ if } j = k,\ 0 \ \text{ otherwise}\ \Rightarrow\ \frac{\partial c_t}{\partial c_{t-1}} = \operatorname{diag}(f_t)",
            ))
def _dc_dc_prev():
    return [("every n, m: element-wise dc'_i/dc_l = diag(sigma(a_f))[i, l]", general_block("c", "c"), scope.GENERAL)]


@derivation("lstm.cell.jacobian_weights", title="LSTM cell gradients with respect to every weight block and bias",
            latex=(r"\frac{\partial\langle\delta_h,h'\rangle + \langle\delta_c,c'\rangle}{\partial W_{h\ast}} = z_\ast h^\top,\ "
                   r"\frac{\partial(\cdot)}{\partial W_{x\ast}} = z_\ast x^\top,\ \frac{\partial(\cdot)}{\partial b_\ast} = z_\ast,\quad "
                   r"z_o = \delta_h\odot\tanh(c')\odot o(1-o),\ z_f = \delta_c^{\mathrm{tot}}\odot c\odot f(1-f),\ "
                   r"z_i = \delta_c^{\mathrm{tot}}\odot g\odot i(1-i),\ z_g = \delta_c^{\mathrm{tot}}\odot i\odot(1-g^2),\ " + _DCT),
            seed=SEED_LSTM, primary=PRIMARY, layout="denominator (gradients J^T delta, shaped like the parameter)",
            assumptions=("delta_h, delta_c: cotangents on h', c' (L = <delta_h, h'> + <delta_c, c'>)",
                         "entry (j, k) of every one of the 12 blocks: sum_p delta_h[p] dh'_p/dP_jk + delta_c[p] dc'_p/dP_jk "
                         "= the compact gradient's entry, proved for every n, m (symbolic sizes)"),
            sizes=("n", "m"),
            steps=(
                r"L = \langle\delta_h, h'\rangle + \langle\delta_c, c'\rangle,\quad h' = o\odot\tanh(c'):\quad \frac{\partial L}{\partial c'} = \delta_c + \delta_h\odot o\odot(1-\tanh^2 c') = \delta_c^{\mathrm{tot}}",
                r"\frac{\partial L}{\partial o} = \delta_h\odot\tanh(c'),\quad \frac{\partial L}{\partial f} = \delta_c^{\mathrm{tot}}\odot c,\quad \frac{\partial L}{\partial i} = \delta_c^{\mathrm{tot}}\odot g,\quad \frac{\partial L}{\partial g} = \delta_c^{\mathrm{tot}}\odot i",
                r"z_\ast = \frac{\partial L}{\partial a_\ast}:\ z_o = \delta_h\odot\tanh(c')\odot o(1-o),\ z_f = \delta_c^{\mathrm{tot}}\odot c\odot f(1-f),\ z_i = \delta_c^{\mathrm{tot}}\odot g\odot i(1-i),\ z_g = \delta_c^{\mathrm{tot}}\odot i\odot(1-g^2)",
                r"(a_\ast)_k = \sum_j (W_{h\ast})_{kj} h_j + \sum_j (W_{x\ast})_{kj} x_j + (b_\ast)_k:\quad \frac{\partial L}{\partial (W_{h\ast})_{kj}} = (z_\ast)_k\,h_j,\ \ \frac{\partial L}{\partial (W_{x\ast})_{kj}} = (z_\ast)_k\,x_j,\ \ \frac{\partial L}{\partial (b_\ast)_k} = (z_\ast)_k",
                r"\Rightarrow\ \frac{\partial L}{\partial W_{h\ast}} = z_\ast h^\top,\quad \frac{\partial L}{\partial W_{x\ast}} = z_\ast x^\top,\quad \frac{\partial L}{\partial b_\ast} = z_\ast",
            ))
def _weights():
    return [(f"every n, m: d<delta_h, h'> + <delta_c, c'>/d{name}[j, k] = compact VJP entry", general_vjp(name),
             scope.GENERAL) for name in LSTM_PARAMS]


def _state_block_matrix(cell, E):
    B = [[explicit(blk, E) for blk in row] for row in cell.state_jacobian_blocks()]
    return B[0][0].row_join(B[0][1]).col_join(B[1][0].row_join(B[1][1]))


@derivation("lstm.state.jacobian", title="The one-step Jacobian of the LSTM state map (h, c) -> (h', c')",
            latex=(r"S = \frac{\partial(h', c')}{\partial(h, c)} = \begin{bmatrix} \frac{\partial h'}{\partial h} & "
                   r"\operatorname{diag}(o\odot(1-\tanh^2 c')\odot f) \\ \frac{\partial c'}{\partial h} & \operatorname{diag}(f)\end{bmatrix}"
                   r"\in\mathbb{R}^{2n\times 2n}"),
            seed=SEED_LSTM, primary=PRIMARY, layout=NUMERATOR,
            assumptions=("x (and the parameters) held fixed; the blocks are lstm.cell.jacobian_h / jacobian_c",
                         "each of the four n x n blocks proved entry-wise for every n, m (symbolic sizes)"),
            sizes=("n", "m"),
            steps=(
                r"x \text{ fixed}:\quad dh' = \frac{\partial h'}{\partial h}\,dh + \frac{\partial h'}{\partial c}\,dc,\qquad dc' = \frac{\partial c'}{\partial h}\,dh + \frac{\partial c'}{\partial c}\,dc",
                r"\frac{\partial h'}{\partial c} = \operatorname{diag}(o\odot(1-\tanh^2 c')\odot f),\qquad \frac{\partial c'}{\partial c} = \operatorname{diag}(f)",
                r"S = \frac{\partial(h', c')}{\partial(h, c)} \in \mathbb{R}^{2n\times 2n}:\ \text{rows } 1..n = \Big(\frac{\partial h'}{\partial h},\ \frac{\partial h'}{\partial c}\Big),\ \text{rows } n{+}1..2n = \Big(\frac{\partial c'}{\partial h},\ \operatorname{diag}(f)\Big)",
            ))
def _state():
    return [(f"every n, m: d{r}'_i/d{w}_l = compact block [i, l] ({r}{w} block of S)", general_block(r, w), scope.GENERAL)
            for r in "hc" for w in "hc"]


@derivation("lstm.cec.product", title="The constant error carousel: along c alone, dc_t/dc_k is a product of diag(f)",
            latex=(r"\frac{\partial c_t}{\partial c_k}\Big|_{h_{k},\dots,h_{t-1}\ \text{fixed}} = "
                   r"\prod_{i=k+1}^{t}\operatorname{diag}(f_i) = \operatorname{diag}\Big(\prod_{i=k+1}^{t} f_i\Big)"),
            seed=SEED_LSTM, primary=HOCHREITER + " (constant error carousel); " + GERS,
            layout=NUMERATOR,
            assumptions=("held fixed: h_k, ..., h_{t-1} and x_{k+1}, ..., x_t, hence every gate f_i, i_i, g_i "
                         "(functions of (x_i, h_{i-1}) only); only the c-path c_{i-1} -> c_i = f_i∘c_{i-1} + i_i∘g_i is followed",
                         "by induction on T = t - k, for every n: base T = 1 on the real cell (dc'/dc = diag(f), x and h "
                         "fixed, symbolic n); step: c_{t-1} = C(c_k) undefined with dC/dc_k = diag(P), then "
                         "dc_t/dc_k = diag(f_t) diag(P) = diag(f_t ∘ P), entry-wise at symbolic n"),
            sizes=("n", "T"),
            notes=("This is not the total derivative when h_{i-1} = o_{i-1} tanh(c_{i-1}) is allowed to move: "
                   "see lstm.state.c_to_c_full and lstm.state.chain_not_blockwise."),
            steps=(
                r"c_i = f_i\odot c_{i-1} + (\text{terms that do not involve } c_{i-1}),\quad f_i \text{ fixed (a function of } x_i, h_{i-1})",
                r"\frac{\partial c_i}{\partial c_{i-1}} = \operatorname{diag}(f_i)",
                r"\frac{\partial c_t}{\partial c_k} = \frac{\partial c_t}{\partial c_{t-1}}\,\frac{\partial c_{t-1}}{\partial c_k} = \operatorname{diag}(f_t)\operatorname{diag}(f_{t-1})\cdots\operatorname{diag}(f_{k+1})",
                r"\operatorname{diag}(u)\operatorname{diag}(v) = \operatorname{diag}(u\odot v)\ \Rightarrow\ \frac{\partial c_t}{\partial c_k} = \operatorname{diag}\Big(\prod_{i=k+1}^{t} f_i\Big)\ (\text{element-wise product})",
            ))
def _cec():
    n, i, l = SN, index("i"), index("l")
    f, ig, P = (sp.MatrixSymbol(name, n, 1) for name in ("f", "ig", "P"))
    v = sp.Symbol("v", real=True)            # v = (c_k)_l, the coordinate differentiated
    C = sp.Function("C")                     # C(k, v) = (c_{t-1})_k as a function of c_k (the induction hypothesis)
    c_t = f[i, 0] * C(i, v) + ig[i, 0]       # c_t = f_t ∘ c_{t-1} + i_t ∘ g_t, gates fixed (h held fixed)
    hyp = {sp.Derivative(C(i, v), v): sp.KroneckerDelta(i, l) * P[i, 0]}   # dC_k/dv = delta_kl P_k
    step = sp.diff(c_t, v).xreplace(hyp)
    want = sp.DiagMatrix(sp.HadamardProduct(f, P))[i, l]
    return [("base T = 1 (real cell, every n, m): dc'_i/dc_l = diag(f)[i, l] with x and h fixed",
             general_block("c", "c"), scope.base_case(T=1)),
            ("step T -> T + 1 (every n): dC/dc_k = diag(P) implies dc_t/dc_k = diag(f_t ∘ P) = diag(f_t) diag(P), entry (i, l)",
             prove_entry_equal(step, want, {i: n, l: n}), scope.INDUCTION_STEP)]


@derivation("lstm.state.c_to_c_full", title="The total dc_t/dc_{t-1} has extra terms through h_{t-1}",
            latex=(r"\frac{d c_t}{d c_{t-1}} = \operatorname{diag}(f_t) + \frac{\partial c_t}{\partial h_{t-1}}\,"
                   r"\operatorname{diag}\big(o_{t-1}\odot(1-\tanh^2 c_{t-1})\big),\quad h_{t-1} = o_{t-1}\odot\tanh(c_{t-1})"),
            seed=SEED_LSTM, primary=PRIMARY, layout=NUMERATOR,
            assumptions=("held fixed: x_t and o_{t-1} (a function of x_{t-1}, h_{t-2}, not of c_{t-1}); h_{t-1} moves with c_{t-1}",
                         "dc_t/dh_{t-1} is the compact lstm.cell.jacobian_h block, evaluated at h_{t-1}",
                         "proved entry-wise for every n, m (symbolic sizes)"),
            notes=("The extra term is not zero in general: n = 1, every weight 0 except W_hg = 1, every bias 0, "
                   "x_t = 0, c_{t-1} = 0, o_{t-1} = 1/2 gives dc_t/dc_{t-1} = 1/2 + 1/4, not diag(f_t) = 1/2 "
                   "(proved exactly in lstm.state.chain_not_blockwise)."),
            sizes=("n", "m"),
            steps=(
                r"c_t = f_t\odot c_{t-1} + i_t\odot g_t,\quad \text{gates of step } t = \text{functions of } (x_t, h_{t-1}),\quad h_{t-1} = o_{t-1}\odot\tanh(c_{t-1})",
                r"\frac{d c_t}{d c_{t-1}} = \frac{\partial c_t}{\partial c_{t-1}} + \frac{\partial c_t}{\partial h_{t-1}}\,\frac{\partial h_{t-1}}{\partial c_{t-1}}",
                r"\frac{\partial c_t}{\partial c_{t-1}} = \operatorname{diag}(f_t),\qquad \frac{\partial h_{t-1}}{\partial c_{t-1}} = \operatorname{diag}\big(o_{t-1}\odot(1-\tanh^2 c_{t-1})\big)\quad (o_{t-1} \text{ fixed})",
                r"n = 1,\ W_{hg} = 1,\ \text{all else } 0,\ x_t = 0,\ c_{t-1} = 0,\ o_{t-1} = \frac{1}{2}:\quad h_{t-1} = 0,\ i_t = f_t = \frac{1}{2},\ g_t = 0",
                r"\frac{\partial c_t}{\partial h_{t-1}} = i_t(1 - g_t^2)W_{hg} = \frac{1}{2}:\quad \frac{d c_t}{d c_{t-1}} = \frac{1}{2} + \frac{1}{2}\cdot\frac{1}{2} = \frac{3}{4} \ne \frac{1}{2} = f_t",
            ))
def _c_full():
    cell, T0 = symbolic_cell()
    i, l = index("i"), index("l")
    op, cp = sp.MatrixSymbol("o_prev", SN, 1), sp.MatrixSymbol("c_prev", SN, 1)

    def at_prev(e):  # h_{t-1} = o_{t-1} ∘ tanh(c_{t-1}), c = c_{t-1}, entry by entry
        return e.replace(lambda u: isinstance(u, MatrixElement) and u.parent in (cell.h, cell.c),
                         lambda u: op[u.i, 0] * sp.tanh(cp[u.i, 0]) if u.parent == cell.h else cp[u.i, 0])

    T = [(key, (lambda k, entry=entry: at_prev(entry(k))), F) for key, entry, F in T0]
    lhs = sp.diff(at_prev(cell.forward_c()[i, 0]), cp[l, 0])
    dh_dc = sp.DiagMatrix(sp.HadamardProduct(op, elementwise(_dtanh, cp)))
    rhs = at_prev((cell.jac_cc() + cell.jac_ch() * dh_dc)[i, l])
    return [("every n, m: d c_t/d c_{t-1} = diag(f_t) + (dc_t/dh_{t-1}) diag(o_{t-1}∘(1-tanh^2 c_{t-1})), entry (i, l)",
             prove_entries([(lhs, rhs)], {i: SN, l: SN}, T), scope.GENERAL)]


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
    E = {cell.P[k]: Pe[k] for k in LSTM_PARAMS}
    E.update({cell.x: x, cell.h: h, cell.c: c})
    return _state_block_matrix(cell, E)


@derivation("lstm.state.chain_not_blockwise", kind="refutation",
            title="The c-to-c block of the state chain is the product of the one-step c-to-c blocks diag(f_t)",
            latex=(r"\Big[S_t S_{t-1}\Big]_{cc} = \Big[\tfrac{\partial c_t}{\partial h_{t-1}}\Big]\Big[\tfrac{\partial h_{t-1}}{\partial c_{t-2}}\Big] "
                   r"+ \operatorname{diag}(f_t)\operatorname{diag}(f_{t-1}) \ne \operatorname{diag}(f_t)\operatorname{diag}(f_{t-1})\ \text{in general}"),
            seed=SEED_LSTM, primary=PRIMARY, layout=NUMERATOR,
            assumptions=("S_t = d(h_t, c_t)/d(h_{t-1}, c_{t-1}) (lstm.state.jacobian); only x_t and the parameters are held fixed",),
            sizes=("n", "T"),
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
                prove_equal((full(A) * full(Bm))[n:, n:], A[1][0] * Bm[0][1] + A[1][1] * Bm[1][1]), scope.at(n=1)))
    Pe, xs, h0, c0, states = _unroll(2, 1, 1)
    pt = {s: 0 for k in LSTM_PARAMS for s in Pe[k]}
    pt[Pe["W_hg"][0]] = 1
    pt.update({xs[0][0]: 0, xs[1][0]: 0, h0[0]: 0, c0[0]: 0})
    S1 = _S_at(1, 1, Pe, xs[0], h0, c0).xreplace(pt)
    S2 = _S_at(1, 1, Pe, xs[1], *states[1]).xreplace(pt)
    want = sp.Matrix([[sp.Rational(1, 4), sp.Rational(1, 4)], [sp.Rational(1, 2), sp.Rational(1, 2)]])
    T2 = scope.at(n=1, T=2)
    out.append(("the state after step 1 is (h_1, c_1) = (0, 0)", prove_equal(sp.Matrix(states[1]).xreplace(pt), sp.zeros(2, 1)), T2))
    out.append(("S_1 = [[1/4, 1/4], [1/2, 1/2]] at the point", prove_equal(S1, want), T2))
    out.append(("S_2 = [[1/4, 1/4], [1/2, 1/2]] at the point", prove_equal(S2, want), T2))
    h2, c2 = states[2]
    true_J = h2.col_join(c2).jacobian(h0.col_join(c0)).xreplace(pt)
    out.append(("the unrolled (element-wise) d(h_2, c_2)/d(h_0, c_0) = S_2 S_1 at the point", prove_equal(true_J, S2 * S1), T2))
    out.append(("dc_2/dc_0 = 3/8", prove_equal(true_J[1, 1], sp.Rational(3, 8)), T2))
    r = prove_true(sp.Ne(true_J[1, 1], S2[1, 1] * S1[1, 1]))
    cex = {"point": {"W_hg": "1", "other weights, biases": "0", "x_1, x_2": "0", "h_0, c_0": "0"},
           "value": "dc_2/dc_0 = 3/8, [S_2]_cc [S_1]_cc = 1/4"}
    out.append(("3/8 != [S_2]_cc [S_1]_cc = 1/4", dataclasses.replace(r, counterexample=cex), T2))
    # one step, h_{t-1} = o_{t-1} tanh(c_{t-1}) moving with c_{t-1}: the total dc_t/dc_{t-1} != diag(f_t)
    cell1, E1, _, _ = explicit_cell(1, 1)
    pt1 = {s: 0 for M in E1.values() for s in M}
    pt1[E1[cell1.P["W_hg"]][0]] = 1
    o_, c_ = sp.Symbol("op", real=True), sp.Symbol("cp", real=True)
    P1 = {k: E1[cell1.P[k]] for k in LSTM_PARAMS}
    _, c1 = step(P1, E1[cell1.x], sp.Matrix([o_ * sp.tanh(c_)]), sp.Matrix([c_]))
    total = c1.jacobian(sp.Matrix([c_])).xreplace(pt1).xreplace({o_: sp.Rational(1, 2)}).subs(c_, 0)
    T1 = scope.at(n=1, T=1)
    out.append(("one step, same point, c_{t-1} = 0, o_{t-1} = 1/2: the total d c_t/d c_{t-1} = 3/4",
                prove_equal(total, sp.Matrix([sp.Rational(3, 4)])), T1))
    out.append(("... while diag(f_t) = sigma(0) = 1/2", prove_true(sp.Ne(total[0], sigmoid(0))), T1))
    return out


@lru_cache(maxsize=None)
def chain_step(wrong: bool = False, rows: str = "hc", **kw):
    """The induction step of the state chain, entry-wise for every n, m (one proof per row block h', c').

    The previous state is undefined: (h_{t-1})_k = Fh(k, v), (c_{t-1})_k = Fc(k, v), with v any coordinate of
    (h_k, c_k), and dFh(k, v)/dv =: DFh(k), dFc(k, v)/dv =: DFc(k) (a column of d(h_{t-1}, c_{t-1})/d(h_k, c_k)).
    Claim: d cell(x, Fh, Fc)_i / dv = [S(x, Fh, Fc) (DFh; DFc)]_i = sum_k S[i, k] DFh(k) + S[i, n + k] DFc(k),
    S = lstm.state.jacobian at (x, Fh, Fc) (its entries S[i, l] with their index guards evaluated first).
    ``wrong=True`` swaps the two blocks of each row of S (a deliberately wrong compact formula, for the tests);
    ``rows``: which row blocks to prove; ``kw`` goes to the prover.
    """
    from .indexed import resolve_guards

    cell, T0 = symbolic_cell()
    i, l = index("i"), index("l")
    k = sp.Dummy("k", integer=True, nonnegative=True)
    v = sp.Symbol("v", real=True)
    Fh, Fc, DFh, DFc = (sp.Function(name) for name in ("Fh", "Fc", "DFh", "DFc"))
    put = {cell.h: lambda k: Fh(k, v), cell.c: lambda k: Fc(k, v)}

    def at_F(e):  # the previous state, entry by entry
        return e.replace(lambda u: isinstance(u, MatrixElement) and u.parent in put, lambda u: put[u.parent](u.i))

    def d_dv(e):  # differentiate by v, then name the hypothesis' derivatives dF_k/dv
        return sp.diff(e, v).replace(lambda u: isinstance(u, sp.Derivative) and u.expr.func in (Fh, Fc),
                                     lambda u: (DFh if u.expr.func == Fh else DFc)(u.expr.args[0]))

    T = [(key, (lambda k, entry=entry: at_F(entry(k))), F) for key, entry, F in T0]

    def S_entry(block):  # S_block[i, k] with its index guards evaluated (0 <= i, l <= n - 1)
        return resolve_guards(opaque_subterms(at_F(block[i, l]), T), {i: SN, l: SN}).xreplace({l: k})

    B = cell.state_jacobian_blocks()
    out = {}
    for row, r, new in ((0, "h", cell.forward_h()), (1, "c", cell.forward_c())):
        if r not in rows:
            continue
        first, second = (B[row][1], B[row][0]) if wrong else (B[row][0], B[row][1])
        rhs = sp.Sum(S_entry(first) * DFh(k) + S_entry(second) * DFc(k), (k, 0, SN - 1))
        out[r] = prove_sum_linear(d_dv(at_F(new[i, 0])), rhs, {i: SN}, T, **kw)
    return out


@derivation("lstm.state.chain", title="The honest chain: a latest-left product of 2n x 2n state Jacobians",
            latex=(r"\frac{\partial(h_t, c_t)}{\partial(h_k, c_k)} = S_t S_{t-1}\cdots S_{k+1},\qquad "
                   r"S_i = \frac{\partial(h_i, c_i)}{\partial(h_{i-1}, c_{i-1})}\ \text{(lstm.state.jacobian at step } i)"),
            seed=SEED_LSTM, primary=PRIMARY, layout=NUMERATOR,
            assumptions=("held fixed: x_{k+1}, ..., x_t and the parameters; both h and c flow",
                         "by induction on T = t - k, for every n, m: base T = 1 is the one-step state Jacobian "
                         "(lstm.state.jacobian, entry-wise at symbolic n, m); step: the previous state is undefined, "
                         "(h_{t-1}, c_{t-1}) = (Fh, Fc)(h_k, c_k), and d cell(x_t, Fh, Fc)/dv = S_t(x_t, Fh, Fc) dF/dv "
                         "for any coordinate v of (h_k, c_k), entry-wise at symbolic n, m"),
            sizes=("n", "m", "T"),
            steps=(
                r"(h_i, c_i) = \operatorname{cell}(x_i, h_{i-1}, c_{i-1}),\qquad S_i = \frac{\partial(h_i, c_i)}{\partial(h_{i-1}, c_{i-1})}",
                r"t = k+1:\quad \frac{\partial(h_{k+1}, c_{k+1})}{\partial(h_k, c_k)} = S_{k+1}",
                r"\frac{\partial(h_t, c_t)}{\partial(h_k, c_k)} = \frac{\partial(h_t, c_t)}{\partial(h_{t-1}, c_{t-1})}\,\frac{\partial(h_{t-1}, c_{t-1})}{\partial(h_k, c_k)} = S_t\,\frac{\partial(h_{t-1}, c_{t-1})}{\partial(h_k, c_k)}",
                r"= S_t\,(S_{t-1}\cdots S_{k+1}) = S_t S_{t-1}\cdots S_{k+1}",
            ))
def _chain():
    base = [(f"base T = 1 (every n, m): d{r}_(k+1)/d{w}_k = the {r}{w} block of S_(k+1), entry (i, l)",
             general_block(r, w), scope.base_case(T=1)) for r in "hc" for w in "hc"]
    step = chain_step()
    return base + [(f"step T -> T + 1 (every n, m): d{r}_t/dv = [S_t dF/dv] rows of {r}, entry i, for the undefined "
                    f"previous state F = (h_(t-1), c_(t-1))(h_k, c_k) and any coordinate v of (h_k, c_k)",
                    step[r], scope.INDUCTION_STEP) for r in "hc"]


@derivation("lstm.claim.gates_no_vanishing", kind="refutation",
            title="Gates lie in (0, 1), so the LSTM gradient does not vanish",
            latex=(r"f_i \in (0,1) \not\Rightarrow \Big\|\frac{\partial c_t}{\partial c_k}\Big\| \not\to 0:\quad "
                   r"b_f = -10,\ W_{xf} = W_{hf} = 0 \Rightarrow \frac{\partial c_t}{\partial c_k} = \sigma(-10)^{t-k} < (1/20000)^{t-k} \to 0"),
            seed=SEED_CLAIM, primary=GERS + "; " + JOZEFOWICZ,
            layout=NUMERATOR,
            assumptions=("counterexample at n = 1 with every W_h* = 0, W_xf = 0, b_f = -10 (the other weights, "
                         "biases and inputs arbitrary): then f_i = sigma(-10) at every step",),
            sizes=("n", "T"),
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
    zero = {s: 0 for g in LSTM_GATES for s in E[cell.P[f"W_h{g}"]]}
    zero.update({E[cell.P["W_xf"]][0]: 0, E[cell.P["b_f"]][0]: -10})
    S = (_jac(n, m, "h").row_join(_jac(n, m, "c"))).xreplace(zero)
    f = sigmoid(-10)
    cell_c = explicit(cell.c_new, E).xreplace(zero)
    tau = sp.tanh(cell_c[0])
    o = explicit(cell.gate["o"], E).xreplace(zero)[0]
    out.append(("n=1, every W_h* = 0, W_xf = 0, b_f = -10: S = [[0, o(1-tanh^2 c') sigma(-10)], [0, sigma(-10)]]",
                prove_equal(S, sp.Matrix([[0, o * (1 - tau ** 2) * f], [0, f]])), scope.at(n=1)))
    a, a2, ff, s = sp.symbols("a a2 f s", positive=True)
    out.append(("induction: [[0, a], [0, f]] [[0, a' f^(s-1)], [0, f^s]] = [[0, a f^s], [0, f^(s+1)]]",
                prove_equal(sp.Matrix([[0, a], [0, ff]]) * sp.Matrix([[0, a2 * ff ** (s - 1)], [0, ff ** s]]),
                            sp.Matrix([[0, a * ff ** s], [0, ff ** (s + 1)]])), scope.INDUCTION_STEP))
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
    out.append(("the gate is in (0, 1) as the claim assumes: sigma(-10) > 0", dataclasses.replace(r, counterexample=cex),
                scope.at(n=1)))
    return [o if len(o) == 3 else (*o, scope.GENERAL) for o in out]  # the rest: scalar facts, dimension-free


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
    for name in LSTM_PARAMS:
        kernel(f"lstm_vjp_{name}")(lambda name=name: build_param(name))


_register_kernels()
__all__ = ["Cell", "explicit_cell", "explicit_params", "step", "SEED_LSTM", "GERS", "HOCHREITER"]


@derivation("lstm.claim.forget_near_one_preserves_gradient", kind="refutation",
            title="Forget gates near 1 keep the total LSTM gradient dc_T/dc_0 from vanishing",
            latex=(r"f_t \approx 1\ \forall t \not\Rightarrow \frac{d c_T}{d c_0} \not\to 0:\quad n = 1,\ b_f = b_i = 10,\ W_{hg} = -2,"
                   r"\ \text{all else } 0:\ f_t = \sigma(10) > 0.99995,\ S_t = \sigma(10)\begin{bmatrix}-1 & \tfrac12\\ -2 & 1\end{bmatrix},"
                   r"\ S_t^2 = 0\ \Rightarrow\ \frac{d c_T}{d c_0} = [S_T\cdots S_1]_{cc} = 0\ (T \ge 2)"),
            seed=SEED_CLAIM, primary=GERS + "; " + HOCHREITER + " (constant error carousel)", layout=NUMERATOR,
            assumptions=("the total derivative: (h_0, c_0) the initial state, both h and c flow through every step "
                         "(lstm.state.chain), x_t and the parameters held fixed",
                         "counterexample at n = m = 1: b_f = b_i = 10, W_hg = -2, every other weight and bias 0, "
                         "x_t = 0, h_0 = c_0 = 0"),
            notes=("The carousel lstm.cec.product (h held fixed) gives dc_T/dc_0 = f^T = sigma(10)^T, near 1; the total "
                   "derivative adds the path through h, and here it cancels the carousel exactly: the state stays at "
                   "(h, c) = (0, 0), i = f = sigma(10) =: s, g = 0, o = 1/2, so every step has dc'/dh = i W_hg = -2s, "
                   "dh'/dc = o f = s/2, dh'/dh = o dc'/dh = -s, dc'/dc = f = s: S = s[[-1, 1/2], [-2, 1]], "
                   "S^2 = 0. Hence dc_T/dc_0 = [S^T]_cc = (-2s)(s/2) + s^2 = 0 exactly for every T >= 2 (a float64 "
                   "evaluation returns rounding noise around 0, e.g. ~1e-40, not a small true value). Forget gates near "
                   "1 control the partial dc_t/dc_{t-1} = diag(f_t) only; the total gradient is governed by the whole "
                   "state Jacobian S_t (lstm.state.jacobian), including the h-path term of lstm.state.c_to_c_full."),
            sizes=("n", "T"),
            steps=(
                r"n = m = 1,\ b_f = b_i = 10,\ W_{hg} = -2,\ \text{all else } 0,\ x_t = 0,\ (h_0, c_0) = (0, 0):\quad i = f = \sigma(10) =: s,\ g = \tanh(W_{hg} h) = 0,\ o = \tfrac12",
                r"c_1 = f c_0 + i g = 0,\ h_1 = o\tanh(c_1) = 0:\ \text{the state stays at } (0, 0)\ \text{at every step}",
                r"\frac{\partial c'}{\partial h} = i(1-g^2)W_{hg} = -2s,\ \frac{\partial h'}{\partial h} = o(1-\tanh^2 c')\frac{\partial c'}{\partial h} = -s,\ \frac{\partial h'}{\partial c} = o f = \frac{s}{2},\ \frac{\partial c'}{\partial c} = f = s",
                r"S = s\begin{bmatrix}-1 & \tfrac12\\ -2 & 1\end{bmatrix},\qquad S^2 = s^2\begin{bmatrix}1 - 1 & -\tfrac12 + \tfrac12\\ 2 - 2 & -1 + 1\end{bmatrix} = 0",
                r"\frac{d c_T}{d c_0} = [S^T]_{cc} = 0\ (T \ge 2),\qquad \text{while } f_t = \sigma(10) = \frac{1}{1 + e^{-10}} > 1 - \frac{1}{20000}",
            ))
def _forget_near_one():
    Pe, xs, h0, c0, states = _unroll(2, 1, 1)
    pt = {s_: 0 for k in LSTM_PARAMS for s_ in Pe[k]}
    pt.update({Pe["b_f"][0]: 10, Pe["b_i"][0]: 10, Pe["W_hg"][0]: -2, xs[0][0]: 0, xs[1][0]: 0, h0[0]: 0, c0[0]: 0})
    s = sigmoid(10)
    S = s * sp.Matrix([[-1, sp.Rational(1, 2)], [-2, 1]])
    S1 = _S_at(1, 1, Pe, xs[0], h0, c0).xreplace(pt)
    S2 = _S_at(1, 1, Pe, xs[1], *states[1]).xreplace(pt)
    true_J = states[2][0].col_join(states[2][1]).jacobian(h0.col_join(c0)).xreplace(pt)
    # every T: the state (0, 0) is a fixed point of the step at this point, for any input x_t = 0
    h_fix, c_fix = step({k: Pe[k].xreplace(pt) for k in LSTM_PARAMS}, sp.zeros(1, 1), sp.zeros(1, 1), sp.zeros(1, 1))
    at2, at1 = scope.at(n=1, T=2), scope.at(n=1)
    r = prove_true(sp.Gt(s.rewrite(sp.exp), 1 - sp.Rational(1, 20000)))
    cex = {"point": {"n": "1", "b_f": "10", "b_i": "10", "W_hg": "-2", "other weights, biases": "0", "x_t, h_0, c_0": "0"},
           "value": "f_t = sigma(10) > 0.99995 at every step, yet dc_T/dc_0 = 0 exactly for every T >= 2 (S^2 = 0)"}
    return [
        ("the state (h, c) = (0, 0) is a fixed point of the step at this point (so S_t = S for every t)",
         prove_equal(h_fix.col_join(c_fix), sp.zeros(2, 1)), at1),
        ("S_1 = sigma(10) [[-1, 1/2], [-2, 1]] (compact state Jacobian at the point)", prove_equal(S1, S), at2),
        ("S_2 = S_1 at the point", prove_equal(S2, S), at2),
        ("S^2 = 0 exactly, so S_T ... S_1 = S^T = 0 for every T >= 2", prove_equal(S * S, sp.zeros(2, 2)), at1),
        ("the unrolled element-wise d(h_2, c_2)/d(h_0, c_0) = 0 at the point: dc_2/dc_0 = 0", prove_equal(true_J, sp.zeros(2, 2)), at2),
        ("f_t = sigma(10) = 1/(1 + e^-10) > 1 - 1/20000 (near 1, as the claim assumes)", dataclasses.replace(r, counterexample=cex), at1),
    ]
