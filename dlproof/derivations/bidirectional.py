"""Bidirectional RNNs: the output layout, the reversal identity, the final states, full dependence.

Layout (the protocol's, and torch's, Keras' and Flax's with concat merge): ys (T, B, 2n) with
y_t = [h_t^fwd ; h_t^bwd], time-aligned. The forward half runs h^f_t = f(x_t, h^f_{t-1}) from h0_f;
the backward half runs h^b_t = f(x_t, h^b_{t+1}) from h0_b at t = T (one step past the end), i.e. it
is a forward-direction run of the same cell on the time-reversed input, re-reversed. Final states:
h_f = y_{T-1}[:n] (forward state after x_{T-1}), h_b = y_0[n:] (backward state after reading x_0).
Time indices are 0-based here (x_0 .. x_{T-1}), as in the protocol's arrays.

Seed: §5 双向RNN. Primary: Schuster & Paliwal (1997), IEEE Trans. Signal Processing 45(11).
"""
from __future__ import annotations

import sympy as sp

from sympy.matrices.expressions.matexpr import MatrixElement

from .functions import phi
from .prove import prove_equal
from . import scope
from .registry import derivation

SEED_BI = "seed §5 双向RNN: h_t = [→h_t; ←h_t]"
SCHUSTER = "Schuster & Paliwal (1997), Bidirectional recurrent neural networks, IEEE Trans. Signal Processing 45(11)"
FRAMEWORKS = ("torch.nn.{RNN,LSTM,GRU}(bidirectional=True): output[..., :H] forward, output[..., H:] backward, "
              "re-reversed; h_n[2l+1] = output[0, :, H:]; Keras Bidirectional(merge_mode='concat'); "
              "Flax Bidirectional (reverse=True, keep_order=True)")
LAYOUT = "ys: (T, B, 2n) = [forward ; backward] on the last axis, time-aligned, time-major"


def _net(T: int, n: int, m: int, act=phi):
    """Explicit forward and backward runs of an RNN cell (separate parameters per direction)."""
    from .matrices import mat

    P = {d: {"W_x": mat(f"Wx{d}", n, m), "W_h": mat(f"Wh{d}", n, n), "b": mat(f"b{d}", n, 1)} for d in ("f", "b")}
    xs = [mat(f"x{t}", m, 1) for t in range(T)]
    h0 = {d: mat(f"h0{d}", n, 1) for d in ("f", "b")}

    def cell(d, x, h):
        return (P[d]["W_x"] * x + P[d]["W_h"] * h + P[d]["b"]).applyfunc(act)

    fwd, h = [], h0["f"]
    for t in range(T):  # h^f_t = f(x_t, h^f_{t-1})
        h = cell("f", xs[t], h)
        fwd.append(h)
    bwd, h = [None] * T, h0["b"]
    for t in range(T - 1, -1, -1):  # the backward recursion, written directly: h^b_t = f(x_t, h^b_{t+1})
        h = cell("b", xs[t], h)
        bwd[t] = h
    rev, h = [], h0["b"]
    for x in reversed(xs):  # a forward-direction run of the backward cell on the reversed input
        h = cell("b", x, h)
        rev.append(h)
    return {"P": P, "xs": xs, "h0": h0, "fwd": fwd, "bwd": bwd, "rev": rev, "cell": cell}


def _ys(net):
    """The bidirectional output as every implementation builds it: [fwd_t ; reversed-run re-reversed]."""
    T = len(net["xs"])
    return [sp.Matrix.vstack(net["fwd"][t], net["rev"][T - 1 - t]) for t in range(T)]


@derivation("bi.output_layout", kind="definition", title="The bidirectional output: forward and backward states concatenated",
            latex=r"y_t = \begin{bmatrix}\overrightarrow{h}_t\\ \overleftarrow{h}_t\end{bmatrix} \in \mathbb{R}^{2n},\quad "
                  r"\overrightarrow{h}_t = f(x_t, \overrightarrow{h}_{t-1}),\ \overleftarrow{h}_t = f'(x_t, \overleftarrow{h}_{t+1})",
            seed=SEED_BI, primary=SCHUSTER + "; " + FRAMEWORKS, layout=LAYOUT,
            assumptions=("each direction has its own parameters and initial state",
                         "forward half first, then backward (the protocol and every framework cited)"),
            sizes=("T", "n"),
            steps=(
                r"\overrightarrow{h}_t = f(x_t, \overrightarrow{h}_{t-1}),\quad t = 0, 1, \ldots, T-1,\quad \overrightarrow{h}_{-1} = h_0^{f}",
                r"\overleftarrow{h}_t = f'(x_t, \overleftarrow{h}_{t+1}),\quad t = T-1, \ldots, 1, 0,\quad \overleftarrow{h}_{T} = h_0^{b}",
                r"y_t[{:}n] = \overrightarrow{h}_t \ (\text{after } x_0, \ldots, x_t),\qquad y_t[n{:}] = \overleftarrow{h}_t \ (\text{after } x_{T-1}, \ldots, x_t)",
            ))
def _layout():
    T, n, m = 2, 2, 1
    net = _net(T, n, m)
    ys = _ys(net)
    out = []
    for t in range(T):
        out.append((f"T={T}, n={n}: y_{t}[:n] is the forward state after x_0..x_{t}", prove_equal(ys[t][:n, :], net["fwd"][t]),
                    scope.at(T=T, n=n)))
        out.append((f"T={T}, n={n}: y_{t}[n:] is the backward state after x_{T - 1}..x_{t}", prove_equal(ys[t][n:, :], net["bwd"][t]),
                    scope.at(T=T, n=n)))
    return out


# ---------------------------------------------------------------- every T, any cell, any state size
# The runs are undefined functions of a symbolic time index (T, t SymPy integer symbols): the cells are
# undefined functions Ff(x, state), Fb(x, state) of an abstract input and state (a vector of any size n, or
# the LSTM pair (h, c)); X(t) is the input at t; H(t) the forward run, Bk(t) the backward recursion, G(s) the
# forward-direction run of Fb on the reversed input. Each defining equation is applied exactly once, as a
# rewrite; what is left is compared structurally (SymPy normalises the index arithmetic T - 1 - (T - 1 - t)).
TS, TT = sp.symbols("T t", integer=True)
NS, MS = sp.symbols("n m", integer=True, positive=True)
X, Ff, Fb, H, Bk, G, E = (sp.Function(name) for name in ("x", "F_f", "F_b", "H", "B", "G", "E"))
H0F, H0B = sp.symbols("h0_f h0_b")


def B_(t):
    """The backward recursion: B(T) = h0_b, B(t) = F_b(x(t), B(t + 1)) (one unfolding)."""
    return H0B if t == TS else Fb(X(t), Bk(t + 1))


def G_(s):
    """The reversed run: G(-1) = h0_b, G(s) = F_b(x(T - 1 - s), G(s - 1)) (one unfolding)."""
    return H0B if s == -1 else Fb(X(TS - 1 - s), G(s - 1))


def y_entry(t, i):
    """Entry i (0 <= i <= 2n - 1) of y_t = [H(t); G(T - 1 - t)] as implementations build it (E(v, i): entry i of v)."""
    return sp.Piecewise((E(H(t), i), i <= NS - 1), (E(G(TS - 1 - t), i - NS), True))


def reversal_induction(shift: int = 0):
    """B(t) = G(T - 1 - t + shift) for t = T, T - 1, ..., 0, by induction on T - t (shift != 0: a wrong claim).

    Base T - t = 0: B(T) = h0_b = G(-1). Step: if B(t + 1) = G(T - 1 - (t + 1) + shift), then
    B(t) = F_b(x(t), B(t + 1)) = F_b(x(t), G(T - 2 - t + shift)) and G(T - 1 - t + shift) unfolded once agree.
    """
    base = prove_equal(B_(TS), G_(TS - 1 - TS + shift) if shift == 0 else G(TS - 1 - TS + shift))
    hyp = {Bk(TT + 1): G(TS - 1 - (TT + 1) + shift)}
    step = prove_equal(B_(TT).xreplace(hyp), G_(TS - 1 - TT + shift))
    return base, step


@derivation("bi.backward_is_reversed_forward",
            title="The backward half is a forward-direction run on the time-reversed input, re-reversed",
            latex=(r"\overleftarrow{h}_t = g_{T-1-t},\quad g_s = f(x_{T-1-s}, g_{s-1}),\ g_{-1} = \overleftarrow{h}_T := h_0^{b}"
                   r"\quad\big(\text{so } g = \mathrm{run}_f(\mathrm{rev}(x)),\ \overleftarrow{h} = \mathrm{rev}(g)\big)"),
            seed=SEED_BI, primary=SCHUSTER + "; " + FRAMEWORKS, layout=LAYOUT,
            assumptions=("any cell f (RNN, LSTM with state (h, c), GRU) and any state size: the argument only uses "
                         "f(x, state), an undefined function of an abstract input and state",
                         "for every T, by induction on T - t (t = T, T - 1, ..., 0) at symbolic T and t: base t = T "
                         "(both sides h0_b), step t + 1 -> t with the recursions unfolded once"),
            sizes=("T",),
            steps=(
                r"g_s := \overleftarrow{h}_{T-1-s},\quad s = -1, 0, \ldots, T-1,\qquad g_{-1} = \overleftarrow{h}_{T} = h_0^{b}",
                r"g_s = \overleftarrow{h}_{T-1-s} = f(x_{T-1-s}, \overleftarrow{h}_{T-s}) = f(x_{T-1-s}, g_{s-1}) \quad (T - s = T - 1 - (s - 1))",
                r"\Rightarrow\ g = \mathrm{run}_f(x_{T-1}, \ldots, x_0) = \mathrm{run}_f(\mathrm{rev}(x)),\qquad \overleftarrow{h}_t = g_{T-1-t},\ \text{i.e. } \overleftarrow{h} = \mathrm{rev}(g)",
                r"s = T-1-t:\quad T-1-s = t,\qquad s - 1 = T-1-(t+1),\qquad t = T-1 \mapsto s = 0",
            ))
def _reversal():
    base, step = reversal_induction()
    T, t = TS, TT
    s = T - 1 - t
    return [
        ("base t = T (every T): the backward state past the end, h0_b, is the reversed run's initial state g_{-1} = g_{T-1-T}",
         base, scope.base_case(**{"T-t": 0})),
        ("step t + 1 -> t (every T, any cell): B(t + 1) = g_{T-2-t} implies B(t) = f(x_t, g_{T-2-t}) = g_{T-1-t}",
         step, scope.INDUCTION_STEP),
        ("every T: the reversed run's step s = T-1-t reads x_{T-1-s} = x_t", prove_equal(T - 1 - s, t), scope.GENERAL),
        ("every T: its previous state g_{s-1} is g_{T-1-(t+1)}, the re-reversed state at t+1",
         prove_equal(s - 1, T - 1 - (t + 1)), scope.GENERAL),
    ]


@derivation("bi.final_states", title="What the final states of a bidirectional RNN hold",
            latex=(r"h_f = \overrightarrow{h}_{T-1} = y_{T-1}[{:}n],\qquad h_b = \overleftarrow{h}_0 = y_0[n{:}]"
                   r"\ (\text{the backward state after reading } x_0),\qquad y_{T-1}[n{:}] = f'(x_{T-1}, h_0^b)"),
            seed=SEED_BI, primary=SCHUSTER + "; torch.nn.RNN docs: h_n[2l+1] equals output[0, :, H:], not output[-1, :, H:]",
            layout=LAYOUT,
            assumptions=("the final state of each direction is the state after its last step (torch h_n, Keras "
                         "return_state, Flax carry)",
                         "for every T and n: y_t = [forward state at t ; reversed run at T-1-t] entry by entry at "
                         "symbolic n (index guards decided for 0 <= i <= n - 1), the runs undefined functions of a "
                         "symbolic time index, any cell; h_b = the backward state at t = 0 by the induction of "
                         "bi.backward_is_reversed_forward (repeated here)"),
            sizes=("T", "n"),
            notes="A common mistake is to take h_b from y_{T-1}: that is the backward state after one step (x_{T-1} only).",
            steps=(
                r"h_f = \text{forward state after its last step } (x_{T-1}) = \overrightarrow{h}_{T-1} = y_{T-1}[{:}n]",
                r"\text{the backward run reads } x_{T-1}, \ldots, x_0 \text{ and ends at } t = 0:\ h_b = \overleftarrow{h}_0 = y_0[n{:}]",
                r"y_{T-1}[n{:}] = \overleftarrow{h}_{T-1} = f'(x_{T-1}, \overleftarrow{h}_{T}) = f'(x_{T-1}, h_0^{b}) \quad (\text{one backward step only})",
            ))
def _final_states():
    from .indexed import index, prove_entry_equal

    i, T = index("i"), TS
    bounds = {i: NS}
    base, step = reversal_induction()
    return [
        ("every T, n: h_f (forward state after x_{T-1}) = y_{T-1}[:n], entry i",
         prove_entry_equal(E(H(T - 1), i), y_entry(T - 1, i), bounds), scope.GENERAL),
        ("every T, n: h_b (last state G(T-1) of the reversed run, after reading x_0) = y_0[n:], entry i",
         prove_entry_equal(E(G(T - 1), i), y_entry(0, NS + i), bounds), scope.GENERAL),
        ("every T, n: y_{T-1}[n:] is the backward state after x_{T-1} alone: f'(x_{T-1}, h0_b), entry i",
         prove_entry_equal(y_entry(T - 1, NS + i).xreplace({G(0): G_(0)}).xreplace({G(-1): G_(-1)}), E(Fb(X(T - 1), H0B), i), bounds),
         scope.GENERAL),
        ("h_b = the backward state at t = 0 (induction on T - t, base t = T: h0_b = g_{-1})", base,
         scope.base_case(**{"T-t": 0})),
        ("... step t + 1 -> t (every T, any cell), so at t = 0: B(0) = G(T - 1) = h_b", step, scope.INDUCTION_STEP),
    ]


ANALYTIC_ZERO_SET = scope.Lemma(
    "lemma.analytic.zero_set",
    r"f: \mathbb{R}^N \to \mathbb{R} \text{ real-analytic},\ f \not\equiv 0\ \Rightarrow\ \{f = 0\} \text{ is closed with "
    r"empty interior (Lebesgue-null)},\ \text{so } \{f \ne 0\} \text{ is open and dense}",
    "Mityagin (2020), The zero set of a real analytic function, Mathematical Notes 107(3), 529-530; "
    "Krantz & Parks (2002), A Primer of Real Analytic Functions, 2nd ed., Birkhauser (identity theorem)")


def _tanh_cell(d: str):
    """Entry i of the tanh RNN cell of direction d at symbolic n, m: tanh((W_x x)_i + sum_k W_h[i, k] prev(k) + b_i)."""
    from .indexed import index

    Wx, Wh, b = sp.MatrixSymbol(f"W_x{d}", NS, MS), sp.MatrixSymbol(f"W_h{d}", NS, NS), sp.MatrixSymbol(f"b_{d}", NS, 1)
    k = sp.Dummy("k", integer=True, nonnegative=True)

    def h(x, prev, i):
        return sp.tanh((Wx * x)[i, 0] + sp.Sum(Wh[i, k] * prev(k), (k, 0, NS - 1)) + b[i, 0])

    point = lambda e, zero: e.replace(  # noqa: E731  W_h = I, b = 0, the inputs in ``zero`` = 0
        lambda u: isinstance(u, MatrixElement) and (u.parent in (Wh, b) or u.parent in zero),
        lambda u: sp.KroneckerDelta(u.i, u.j) if u.parent == Wh else sp.S.Zero)
    return Wx, h, point, index("i"), index("j")


def dependence_obligations(d: str, wrong: bool = False) -> list:
    """The inductions of bi.full_dependence for one direction d ("f" forward, "b" backward), every n, m, T.

    The "previous" state is h_{t-1} (forward) or h_{t+1} (backward): an undefined function P(k, v) of the
    coordinate v = (x_s)_j. ``wrong=True`` claims d h_t/d x_s = 0 at the point instead of W_x (a test).
    """
    from .indexed import prove_entry_equal

    Wx, h, point, i, j = _tanh_cell(d)
    x_t, x_s = sp.MatrixSymbol("x_t", MS, 1), sp.MatrixSymbol("x_s", MS, 1)
    v = sp.Symbol("v", real=True)
    P, Q = sp.Function("P"), sp.Function("Q")   # the previous state's entries: P(k, v), or Q(k) free of v
    h0 = sp.MatrixSymbol(f"h0_{d}", NS, 1)

    def d_dv(e, dP):  # d/dv with the induction hypothesis dP(k, v)/dv = dP(k)
        return sp.diff(e, v).replace(lambda u: isinstance(u, sp.Derivative) and u.expr.func == P,
                                     lambda u: dP(u.expr.args[0]))

    later, prev = ("s > t", "t-1") if d == "f" else ("s < t", "t+1")
    b_ni, b_nm = {i: NS}, {i: NS, j: MS}
    want = sp.S.Zero if wrong else Wx[i, j]
    step_nz = point(d_dv(h(x_t, lambda k: P(k, v), i), lambda k: Wx[k, j]), (x_t,)).replace(
        lambda u: isinstance(u, sp.Function) and u.func == P, lambda u: sp.S.Zero)
    base_nz = point(sp.diff(h(x_s, lambda k: Q(k), i), x_s[j, 0]), (x_s,)).replace(
        lambda u: isinstance(u, sp.Function) and u.func == Q, lambda u: sp.S.Zero)
    return [
        (f"[{d}] zero block, base: the initial state h0_{d} does not depend on x_s",
         prove_entry_equal(sp.diff(h0[i, 0], v), 0, b_ni), scope.base_case(**{"steps from h0": 0})),
        (f"[{d}] zero block, step ({later}, every n, m): if h_{prev} does not depend on v = (x_s)_j, neither does "
         f"h_t = tanh(W_x x_t + W_h h_{prev} + b), entry i",
         prove_entry_equal(d_dv(h(x_t, lambda k: P(k, v), i), lambda k: sp.S.Zero), 0, b_ni), scope.INDUCTION_STEP),
        (f"[{d}] at the point (W_h = I, b = 0, inputs 0, h0 = 0), base: h0 = 0", prove_equal(sp.S.Zero, 0),
         scope.base_case(**{"steps from h0": 0})),
        (f"[{d}] at the point, step (every n, m): h_{prev} = 0 implies h_t = tanh(0) = 0, entry i",
         prove_entry_equal(point(h(x_t, lambda k: sp.S.Zero, i), (x_t,)), 0, b_ni), scope.INDUCTION_STEP),
        (f"[{d}] at the point, base t = s (every n, m): d h_s/d x_s = diag(1 - h_s^2) W_x = W_x, entry (i, j)",
         prove_entry_equal(base_nz, Wx[i, j], b_nm), scope.base_case(**{"t-s": 0})),
        (f"[{d}] at the point, step (every n, m): d h_{prev}/d x_s = W_x implies d h_t/d x_s = diag(1 - h_t^2) W_h W_x = W_x, entry (i, j)",
         prove_entry_equal(step_nz, want, b_nm), scope.INDUCTION_STEP),
    ]


@derivation("bi.full_dependence", title="Each bidirectional output depends on every input (generically)",
            latex=(r"\frac{\partial y_t}{\partial x_s} = \begin{bmatrix}\partial\overrightarrow{h}_t/\partial x_s\\ "
                   r"\partial\overleftarrow{h}_t/\partial x_s\end{bmatrix} \ne 0\ \ \forall s, t \text{ (generically)};\quad "
                   r"\partial\overrightarrow{h}_t/\partial x_s = 0\ (s > t),\ \partial\overleftarrow{h}_t/\partial x_s = 0\ (s < t)"),
            seed=SEED_BI + " (前向 + 后向: 同时看到过去和未来)", primary=SCHUSTER, layout="numerator: (dy/dx)[i, j] = dy_i / dx_j",
            assumptions=("the tanh RNN cell in each direction, separate parameters; inputs x_0, ..., x_{T-1} independent variables",
                         "for every T, n, m: entry-wise at symbolic n, m, by inductions over the time steps between s and t "
                         "(the previous state an undefined function of the coordinate (x_s)_j)",
                         "'generically' rests on the cited lemma lemma.analytic.zero_set: each block entry is a real-analytic "
                         "function of the parameters, initial states and inputs; it is W_x[i, j] at the exhibited point, "
                         "so not identically zero, hence non-zero on an open dense set"),
            sizes=("T", "n", "m"), lemmas=(ANALYTIC_ZERO_SET,),
            notes=("Exhibited point, every T, n, m: W_h = I, b = 0, h0 = 0, every input 0, W_x with W_x[0, 0] = 1 (both "
                   "directions). All states stay 0 and d h_t/d x_s = W_x for every t on the reading side of s. "
                   "Past inputs reach y_t only through the forward half, future inputs only through the backward "
                   "half, x_t through both."),
            steps=(
                r"\frac{\partial y_t}{\partial x_s}[{:}n] = \frac{\partial\overrightarrow{h}_t}{\partial x_s},\qquad \frac{\partial y_t}{\partial x_s}[n{:}] = \frac{\partial\overleftarrow{h}_t}{\partial x_s}",
                r"\overrightarrow{h}_t = F(h_0^{f}, x_0, \ldots, x_t)\ \Rightarrow\ \frac{\partial\overrightarrow{h}_t}{\partial x_s} = 0 \ (s > t);\qquad \overleftarrow{h}_t = G(h_0^{b}, x_t, \ldots, x_{T-1})\ \Rightarrow\ \frac{\partial\overleftarrow{h}_t}{\partial x_s} = 0 \ (s < t)",
                r"s \le t:\ \frac{\partial\overrightarrow{h}_t}{\partial x_s} = J^{f}_t J^{f}_{t-1}\cdots J^{f}_{s+1}\,\operatorname{diag}(1 - \overrightarrow{h}_s^{\odot 2})\,W_x^{f},\quad J^{f}_i = \operatorname{diag}(1 - \overrightarrow{h}_i^{\odot 2})\,W_h^{f}\quad (\tanh;\ \text{empty product } I \text{ at } s = t)",
                r"s \ge t:\ \frac{\partial\overleftarrow{h}_t}{\partial x_s} = J^{b}_t J^{b}_{t+1}\cdots J^{b}_{s-1}\,\operatorname{diag}(1 - \overleftarrow{h}_s^{\odot 2})\,W_x^{b},\quad J^{b}_i = \operatorname{diag}(1 - \overleftarrow{h}_i^{\odot 2})\,W_h^{b}",
                r"W_h = I,\ b = 0,\ h_0 = 0,\ x = 0:\ h_i = 0,\ J_i = I\ \Rightarrow\ \frac{\partial\overrightarrow{h}_t}{\partial x_s} = W_x^{f}\ (s \le t),\ \frac{\partial\overleftarrow{h}_t}{\partial x_s} = W_x^{b}\ (s \ge t)",
                r"W_x[0, 0] = 1:\ \text{the entry is a real-analytic function} \not\equiv 0\ \Rightarrow\ \ne 0 \text{ on an open dense set (analytic.zero\_set)}",
            ))
def _full_dependence():
    return dependence_obligations("f") + dependence_obligations("b")


# ---------------------------------------------------------------- the VJP of a bidirectional layer
# At symbolic T (steps), n (outputs per step), m (inputs per step; the batch is folded into the feature axes,
# its rows are independent). f is any forward-direction sequence function: z (T, m) -> (hs (T, n), final state),
# its Jacobian at z = Rx an undefined function J(a, i, r, k) = d hs[a, i] / d z[r, k] (J_h(i, r, k) for the final
# state, K(a, i, q) and K_h(i, q) = d / d theta_q for a parameter entry q). (Rx)[r, k] = x[T-1-r, k].
RS = sp.Symbol("T", integer=True, positive=True)
XV, DYV, DHV = sp.MatrixSymbol("x", RS, MS), sp.MatrixSymbol("dy", RS, NS), sp.MatrixSymbol("dh", NS, 1)
JF, JFH, KF, KFH = (sp.Function(name) for name in ("J", "J_h", "K", "K_h"))


def _rev_dummies():
    return [sp.Dummy(c, integer=True) for c in "tirka"]


def vjp_reversal_obligations(wrong: bool = False) -> list:
    """The three identities of bi.vjp_reversal at symbolic T, n, m; ``wrong=True`` claims the backward half's
    VJP without reversing the cotangent (a test: must not come out proved)."""
    from .indexed import index, prove_entry_equal

    s, j, q = index("s"), index("j"), index("q")
    t, i, r, k, a = _rev_dummies()
    T = RS
    rev_dy = (lambda a_, i_: DYV[a_, i_]) if wrong else (lambda a_, i_: DYV[T - 1 - a_, i_])

    def through_rev(J, *head):  # chain rule: d f(Rx)[head] / d x[s, j] = sum_{r,k} J(head, r, k) d (Rx)[r, k] / d x[s, j]
        return sp.Sum(J(*head, r, k) * sp.diff(XV[T - 1 - r, k], XV[s, j]), (r, 0, T - 1), (k, 0, MS - 1))

    # L_b = <dy, R f(Rx)> + <dh, final(Rx)>: (R f(Rx))[t] = f(Rx)[T-1-t]
    chain = (sp.Sum(DYV[t, i] * through_rev(JF, T - 1 - t, i), (t, 0, T - 1), (i, 0, NS - 1))
             + sp.Sum(DHV[i, 0] * through_rev(JFH, i), (i, 0, NS - 1)))
    collapsed_time = sp.Sum(DYV[t, i] * JF(T - 1 - t, i, T - 1 - s, j), (t, 0, T - 1), (i, 0, NS - 1))
    final_x = sp.Sum(DHV[i, 0] * JFH(i, T - 1 - s, j), (i, 0, NS - 1))
    reindexed = collapsed_time.change_index(t, T - 1 - t, a)   # a = T-1-t, a bijection of 0..T-1
    # R (f-VJP at Rx of (R dy, dh)), entry (s, j): f-VJP(u, dh)[r, k] = sum u[a,i] J(a,i,r,k) + sum dh[i] J_h(i,r,k)
    claim_x = (sp.Sum(rev_dy(a, i) * JF(a, i, T - 1 - s, j), (a, 0, T - 1), (i, 0, NS - 1)) + final_x)
    final_p = sp.Sum(DHV[i, 0] * KFH(i, q), (i, 0, NS - 1))
    time_p = sp.Sum(DYV[t, i] * KF(T - 1 - t, i, q), (t, 0, T - 1), (i, 0, NS - 1))   # d L_b / d theta_q, time part
    claim_p = sp.Sum(rev_dy(a, i) * KF(a, i, q), (a, 0, T - 1), (i, 0, NS - 1)) + final_p
    b_x = {s: T, j: MS}
    return [
        ("every T, n, m: the chain rule through z = Rx collapses, d L_b / d x[s, j] = sum_t sum_i dy[t, i] "
         "J(T-1-t, i; T-1-s, j) + sum_i dh[i] J_h(i; T-1-s, j)",
         prove_entry_equal(chain, collapsed_time + final_x, b_x), scope.GENERAL),
        ("every T, n, m: reindexed a = T-1-t (a bijection of 0..T-1) it is entry (T-1-s, j) of the forward VJP at "
         "Rx with cotangents (R dy, dh), i.e. entry (s, j) of R f-VJP(R dy, dh)",
         prove_entry_equal(reindexed + final_x, claim_x, b_x), scope.GENERAL),
        ("every T, n: d L_b / d theta_q = sum_t sum_i dy[t, i] K(T-1-t, i, q) + sum_i dh[i] K_h(i, q) is the forward "
         "VJP's parameter gradient at Rx with cotangents (R dy, dh), no final re-reversal",
         prove_entry_equal(time_p.change_index(t, T - 1 - t, a) + final_p, claim_p, {q: sp.Symbol("N_theta", integer=True, positive=True)}), scope.GENERAL),
    ]


@derivation("bi.vjp_reversal", title="The VJP of a bidirectional layer: the forward VJP, plus the backward half's VJP on reversed data, re-reversed",
            latex=(r"g(x) = R\,f(Rx),\ (Rx)_t = x_{T-1-t}:\quad \mathrm{VJP}_g(x)(\bar y) = R\,\mathrm{VJP}_f(Rx)(R\bar y);\qquad "
                   r"\bar x = \mathrm{VJP}_{f_f}(x)(\bar y_{:, :n}, \bar h_f) + R\,\mathrm{VJP}_{f_b}(Rx)(R\bar y_{:, n:}, \bar h_b),\quad "
                   r"\bar\theta_b = \mathrm{VJP}^{\theta}_{f_b}(Rx)(R\bar y_{:, n:}, \bar h_b)"),
            seed=SEED_BI, primary=SCHUSTER + "; " + FRAMEWORKS, layout=LAYOUT + "; cotangents shaped as the outputs (d_ys (T, B, 2n), d_hf, d_hb (B, n))",
            assumptions=("the backward half is R f_b(Rx) with final state h_b = final_b(Rx) (bi.backward_is_reversed_forward, "
                         "bi.final_states); each direction has its own parameters and initial state",
                         "L = <d_ys[:, :, :n], hs_f> + <d_hf, h_f> + <d_ys[:, :, n:], R hs_r> + <d_hb, h_b> (+ the c terms "
                         "of the LSTM): the two halves' terms share only x, so d L / d x is the sum of the halves' "
                         "gradients (linearity) and theta_f, theta_b each get their own half's",
                         "for every T, n, m: entry-wise at symbolic sizes with the Jacobian of any cell's sequence "
                         "function an undefined function (any cell, any state); the multivariable chain rule through "
                         "the linear map z = Rx, sums over 0..T-1 evaluated and reindexed exactly (a = T-1-t)"),
            sizes=("T", "n", "m"),
            notes=("The final-state cotangent d_hb goes to the backward run's final state unreversed (the final state is "
                   "not a time series); only the per-step cotangent is reversed, and only the input gradient is "
                   "re-reversed, never the parameter or initial-state gradients."),
            steps=(
                r"L = \langle\bar y_{:, :n}, f_f(x)\rangle + \langle\bar h_f, h_f(x)\rangle + \langle\bar y_{:, n:}, R f_b(Rx)\rangle + \langle\bar h_b, h_b(Rx)\rangle",
                r"\frac{\partial}{\partial x_{s,j}} f_b(Rx)_{a,i} = \sum_{r,k} J_{a i, r k}\,\frac{\partial (Rx)_{r,k}}{\partial x_{s,j}} = J_{a i,\,T-1-s,\,j}",
                r"\frac{\partial L_b}{\partial x_{s,j}} = \sum_{t,i} \bar y_{t,i} J_{T-1-t,\,i,\,T-1-s,\,j} + \sum_i \bar h_i J^{h}_{i,\,T-1-s,\,j} \overset{a = T-1-t}{=} \big(\mathrm{VJP}_{f_b}(Rx)(R\bar y, \bar h)\big)_{T-1-s,\,j}",
                r"\frac{\partial L_b}{\partial \theta_q} = \sum_{t,i} \bar y_{t,i} K_{T-1-t,\,i,\,q} + \sum_i \bar h_i K^{h}_{i,q} = \sum_{a,i} (R\bar y)_{a,i} K_{a,i,q} + \sum_i \bar h_i K^{h}_{i,q}",
                r"\bar x = \bar x_f + R\,\bar x_r,\qquad \bar\theta_f = \mathrm{VJP}^{\theta}_{f_f},\ \bar\theta_b = \mathrm{VJP}^{\theta}_{f_b}(Rx)(R\bar y_{:, n:}, \bar h_b),\ \bar h_0^{b} \text{ likewise unreversed}",
            ))
def _vjp_reversal():
    return vjp_reversal_obligations()


__all__ = ["SEED_BI", "SCHUSTER", "ANALYTIC_ZERO_SET"]
