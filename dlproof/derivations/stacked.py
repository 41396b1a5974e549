"""Stacked (multi-layer), variable-length and bidirectional recurrent networks: the semantics the oracle implements.

Layout (the protocol's): xs (T, B, m) time-major; layer 0 reads xs, layer l >= 1 reads layer l-1's outputs
(T, B, D n_out) = [forward ; backward]; states (L, D, B, n_out). A sequence b of length len_b has REAL steps
t < len_b and PADDED steps t >= len_b. Time indices are 0-based.

What is proved here, and how:
- the masked recurrence M(t) = m_t F(x_t, M(t-1)) + (1 - m_t) M(t-1) (the masked form of Keras; torch's packed
  sequences skip padded steps, which is the prefix run itself) equals the run on the real prefix and keeps the
  last real state through the padded steps: two inductions at symbolic t and len, any cell F (an undefined
  function of an abstract input and state, so the LSTM pair (h, c) included);
- the backward direction under the same mask is the forward run on the reversed prefix x_{len-1} .. x_0,
  re-reversed (bi.backward_is_reversed_forward with T := len), and it starts from h0 at t = len - 1: padded inputs
  are never read;
- a real step never depends on a later input (the zero block of bi.full_dependence, tanh cell, every n, m);
- batch rows are independent (checked at explicit sizes);
- the Jacobian of a stack is the product of its layers' Jacobians and a lower layer's parameter gradient is its
  own VJP of the cotangent pulled back through the layers above: the chain rule, by an induction on L at an
  explicit width k = 2 (checked at that width only; not proved for every width).

Seed: 09-Recurrent-Networks.md (RNN/LSTM). Primary: Graves, Mohamed & Hinton (2013) for deep (stacked) RNNs,
Schuster & Paliwal (1997) for bidirectional ones, Zaremba, Sutskever & Vinyals (2014) and Gal & Ghahramani (2016)
for dropout between layers; the torch.nn.RNN/LSTM/GRU docs (num_layers, dropout, pack_padded_sequence) as the
convention source.
"""
from __future__ import annotations

import sympy as sp

from . import scope
from .prove import prove_equal
from .registry import derivation

SEED = "seed: 深度学习数学模块 · 09-Recurrent-Networks.md (RNN/LSTM: 深层/多层RNN, 双向RNN, 变长序列)"
GRAVES = ("Graves, Mohamed & Hinton (2013), Speech recognition with deep recurrent neural networks, ICASSP, "
          "eq. (11)-(12): h^n_t = H(W h^{n-1}_t + U h^n_{t-1} + b), h^0 = x")
SCHUSTER = "Schuster & Paliwal (1997), Bidirectional recurrent neural networks, IEEE Trans. Signal Processing 45(11)"
ZAREMBA = ("Zaremba, Sutskever & Vinyals (2014), Recurrent neural network regularization, arXiv:1409.2329 "
           "(dropout on the non-recurrent connections only); Gal & Ghahramani (2016), A theoretically grounded "
           "application of dropout in recurrent neural networks, NeurIPS")
TORCH = ("torch.nn.RNN/LSTM/GRU docs: num_layers, dropout ('on the outputs of each layer except the last'), "
         "h_n (num_layers * num_directions, B, H); torch.nn.utils.rnn.pack_padded_sequence / pad_packed_sequence")
LAYOUT = "xs (T, B, m) time-major; ys (T, B, D n_out) = [forward ; backward]; states (L, D, B, n_out)"
CHAIN_RULE = scope.Lemma(
    "lemma.calculus.chain_rule", r"D(g \circ f)(x) = Dg(f(x))\, Df(x)",
    "Rudin (1976), Principles of Mathematical Analysis, 3rd ed., Theorem 9.15")

# the runs are undefined functions of a symbolic time index; F the cell (any input and state, e.g. (h, c))
TT, LEN, NT = sp.symbols("t len T", integer=True)
X, F, M, R, BM, G = (sp.Function(n) for n in ("x", "F", "M", "R", "B", "G"))
H0 = sp.Symbol("h0")


def masked_step(prev, t, mask):
    """One masked update m F(x_t, prev) + (1 - m) prev (the mask value m given: 1 real, 0 padded)."""
    return mask * F(X(t), prev) + (1 - mask) * prev


def masked_forward_obligations(wrong: bool = False) -> list:
    """M(t) = R(t) on real steps and M(t) = R(len-1) on padded ones (two inductions); ``wrong``: the padded step
    also applies the cell (mask 1), the "padded steps leak into the final state" bug, which must not prove."""
    pad_mask = 1 if wrong else 0
    return [
        ("real steps, base t = -1: M(-1) = h0 = R(-1)", prove_equal(H0, H0), scope.base_case(**{"t+1": 0})),
        ("real steps, step t-1 -> t < len (any cell): M(t-1) = R(t-1) and m_t = 1 give M(t) = F(x_t, R(t-1)) = R(t)",
         prove_equal(masked_step(R(TT - 1), TT, 1), F(X(TT), R(TT - 1))), scope.INDUCTION_STEP),
        ("padded steps, base t = len-1: M(len-1) = R(len-1) (the real-step induction at t = len - 1)",
         prove_equal(R(LEN - 1), R(LEN - 1)), scope.base_case(**{"t-len+1": 0})),
        ("padded steps, step t-1 -> t >= len (any cell): M(t-1) = R(len-1) and m_t = 0 give M(t) = R(len-1)",
         prove_equal(masked_step(R(LEN - 1), TT, pad_mask), R(LEN - 1)), scope.INDUCTION_STEP),
    ]


@derivation("stack.composition", kind="definition", title="A stacked RNN: layer l+1 reads layer l's outputs",
            latex=(r"h^{(0)}_t = x_t,\quad h^{(l)}_t = F_l\big(h^{(l-1)}_t, h^{(l)}_{t-1}\big),\ l = 1..L,\quad "
                   r"y_t = h^{(L)}_t;\ \text{bidirectional: } h^{(l)}_t = [\overrightarrow{h}^{(l)}_t ; \overleftarrow{h}^{(l)}_t]"),
            seed=SEED, primary=GRAVES + "; " + TORCH, layout=LAYOUT,
            assumptions=("every layer has the same hidden size n and the same number of directions D",
                         "layer l+1 reads layer l's OUTPUT at the same time step (after the activation, the "
                         "[forward ; backward] concatenation when D = 2), never its pre-activation",
                         "the final states are listed layer-major, then direction: (L, D, B, n_out)"),
            sizes=("T", "L"),
            steps=(r"h^{(1)}_t = F_1(x_t, h^{(1)}_{t-1})",
                   r"h^{(2)}_t = F_2(h^{(1)}_t, h^{(2)}_{t-1}) = F_2\big(F_1(x_t, h^{(1)}_{t-1}), h^{(2)}_{t-1}\big)",
                   r"\text{the stack is the composition of the layers' sequence maps: } "
                   r"\mathrm{run}_{F_2} \circ \mathrm{run}_{F_1}"))
def _composition():
    T = 2
    F1, F2 = sp.Function("F_1"), sp.Function("F_2")
    xs = [sp.Symbol(f"x{t}") for t in range(T)]
    h1, h2 = sp.Symbol("h0_1"), sp.Symbol("h0_2")

    def run(Fl, inputs, h):
        out = []
        for x in inputs:
            h = Fl(x, h)
            out.append(h)
        return out

    loop, cur = [], list(xs)  # the stack written as a loop over layers, each reading the previous outputs
    for Fl, h in ((F1, h1), (F2, h2)):
        cur = run(Fl, cur, h)
        loop = cur
    nested = [F2(F1(xs[0], h1), h2), F2(F1(xs[1], F1(xs[0], h1)), F2(F1(xs[0], h1), h2))]
    return [(f"T={T}, L=2: the layer loop equals the nested composition at t = {t}", prove_equal(loop[t], nested[t]),
             scope.at(T=T, L=2)) for t in range(T)]


def _vec_fn(name: str, args, k: int):
    return sp.Matrix([sp.Function(f"{name}_{i}")(*args) for i in range(k)])


def chain_obligations(k: int = 2, wrong: bool = False) -> list:
    """Induction on L at width k: base L = 1 (J of one layer is its own), step: S_{L+1} = F(S_L(x)) with S_L an
    undefined map has J = J_F(S_L) J_{S_L}. ``wrong``: the product in the wrong order (J_{S_L} J_F)."""
    x = sp.Matrix(sp.symbols(f"x0:{k}"))
    z = sp.Matrix(sp.symbols(f"z0:{k}"))
    S = _vec_fn("S", list(x), k)                 # the stack of L layers, any L: an undefined map
    Fz = _vec_fn("F", list(z), k)                # the next layer, as a map of its input z
    J_F = Fz.jacobian(z).subs(dict(zip(z, S)))
    composed = Fz.subs(dict(zip(z, S)))
    lhs = composed.jacobian(x)
    rhs = (S.jacobian(x) * J_F) if wrong else (J_F * S.jacobian(x))
    base = prove_equal(Fz.subs(dict(zip(z, x))).jacobian(x), Fz.jacobian(z).subs(dict(zip(z, x))))
    return [(f"base L = 1, k = {k}: the Jacobian of a one-layer stack is the layer's", base, scope.at(k=k, L=1)),
            (f"step L -> L+1 at k = {k} (every L: S_L undefined): d F(S_L(x))/dx = J_F(S_L(x)) J_(S_L)(x)",
             prove_equal(lhs, rhs), scope.at(k=k))]


@derivation("stack.jacobian_product", title="The Jacobian of a stack is the product of its layers' Jacobians (checked at width 2)",
            latex=(r"\frac{\partial y}{\partial x} = J_L J_{L-1} \cdots J_1,\quad J_l = \frac{\partial\, \mathrm{run}_{F_l}}"
                   r"{\partial h^{(l-1)}}\Big|_{h^{(l-1)}}\quad(\text{latest layer left, numerator layout})"),
            seed=SEED, primary=GRAVES + "; chain rule: Rudin (1976), Theorem 9.15", layout="numerator: J[i, j] = dy_i / dx_j",
            assumptions=("each layer is a differentiable map of its whole input sequence (its initial state fixed)",
                         "every L by induction on L (the stack of L layers an undefined map S_L), but the sympy "
                         "obligations are at the explicit width k = 2 of the maps only: checked at that width, "
                         "not proved for every width"),
            sizes=("k", "L"),
            steps=(r"S_1 = F_1,\qquad S_{L+1} = F_{L+1} \circ S_L",
                   r"D S_{L+1}(x) = D F_{L+1}(S_L(x))\, D S_L(x) = J_{L+1} (J_L \cdots J_1)"))
def _jacobian_product():
    return chain_obligations(2)


@derivation("stack.lower_layer_gradient", title="A lower layer's gradient: its VJP of the cotangent pulled back through the layers above (checked at width 2)",
            latex=(r"\mathcal{L} = \langle d, F_2(F_1(x; \theta_1)) \rangle\ \Rightarrow\ "
                   r"\nabla_{\theta_1}\mathcal{L} = \Big(\frac{\partial F_1}{\partial \theta_1}\Big)^{\!T} "
                   r"\Big(\frac{\partial F_2}{\partial h^{(1)}}\Big)^{\!T} d"),
            seed=SEED, primary=GRAVES + "; chain rule: Rudin (1976), Theorem 9.15", layout="numerator Jacobians; VJP = J^T d",
            assumptions=("F_1 differentiable in (x, theta_1), F_2 differentiable in its input; theta_1 does not enter F_2",
                         "checked entry-wise with undefined maps at the explicit widths k = 2 (input, output and "
                         "parameter vectors of two entries): not proved for every width"),
            sizes=("k",),
            steps=(r"\bar h^{(1)} = J_{F_2}^T d \quad(\text{the cotangent of layer 1's output})",
                   r"\nabla_{\theta_1} \mathcal{L} = J_{F_1, \theta}^T\, \bar h^{(1)} \quad(\text{layer 1's own VJP})"))
def _lower_layer_gradient():
    k = 2
    th = sp.Matrix(sp.symbols(f"theta0:{k}"))
    x = sp.Matrix(sp.symbols(f"x0:{k}"))
    z = sp.Matrix(sp.symbols(f"z0:{k}"))
    d = sp.Matrix(sp.symbols(f"d0:{k}"))
    F1 = _vec_fn("F1", list(x) + list(th), k)
    F2z = _vec_fn("F2", list(z), k)
    loss = (d.T * F2z.subs(dict(zip(z, F1))))[0, 0]
    grad = sp.Matrix([sp.diff(loss, t) for t in th])
    pulled = F2z.jacobian(z).subs(dict(zip(z, F1))).T * d
    vjp = F1.jacobian(th).T * pulled
    return [(f"k = {k}: grad_theta1 <d, F2(F1(x; theta1))> = J_(F1,theta)^T (J_F2^T d)", prove_equal(grad, vjp),
             scope.at(k=k))]


@derivation("stack.padding.final_state",
            title="Masked sequences: the padded steps keep the last real state (the prefix run)",
            latex=(r"M_t = m_t F(x_t, M_{t-1}) + (1 - m_t) M_{t-1},\ m_t = [t < \ell]\ \Rightarrow\ "
                   r"M_t = R_t\ (t < \ell),\quad M_t = R_{\ell-1}\ (t \ge \ell - 1),\quad "
                   r"R_t = F(x_t, R_{t-1}),\ R_{-1} = M_{-1} = h_0"),
            seed=SEED, primary=TORCH + "; Keras masking (Layer.compute_mask, RNN(mask=...))", layout=LAYOUT,
            assumptions=("any cell F (an undefined function of an abstract input and state: RNN, GRU, the LSTM pair (h, c))",
                         "every T and length l by two inductions at symbolic t, l: on the real steps t < l, then on "
                         "the padded steps t >= l"),
            sizes=("T", "len"),
            notes=("So the final state of sequence b is the state after x_{len_b - 1}, the batch row equals the "
                   "sequence run alone on its prefix, and outputs at padded steps are a convention: 0 (torch "
                   "pad_packed_sequence) or the carried last real output (Keras)."),
            steps=(r"m_t = 1\ (t < \ell):\ M_t = F(x_t, M_{t-1}) = F(x_t, R_{t-1}) = R_t",
                   r"m_t = 0\ (t \ge \ell):\ M_t = M_{t-1} = R_{\ell-1}",
                   r"h_T = M_{T-1} = R_{\ell-1}\ \text{(the state after the last real step)}"))
def _final_state():
    return masked_forward_obligations()


def masked_backward_obligations(shift: int = 0) -> list:
    """The masked backward run B(t) = m_t F(x_t, B(t+1)) + (1 - m_t) B(t+1), B(T) = h0: it stays h0 on the padded
    steps and equals G(len-1-t) on the real ones, G the forward run on the reversed prefix. ``shift`` != 0: the
    reversal over the wrong length (a wrong claim that must not prove)."""

    def g_unfold(s):  # G(-1) = h0, G(s) = F(x(len - 1 - s), G(s - 1))
        return F(X(LEN - 1 - s + shift), G(s - 1))

    return [
        ("padded steps, base t = T: B(T) = h0", prove_equal(H0, H0), scope.base_case(**{"T-t": 0})),
        ("padded steps, step t+1 -> t >= len (any cell): B(t+1) = h0 and m_t = 0 give B(t) = h0 (x_t never read)",
         prove_equal(masked_step(H0, TT, 0), H0), scope.INDUCTION_STEP),
        ("real steps, base t = len: B(len) = h0 = G(-1) = G(len - 1 - len)",
         prove_equal(LEN - 1 - LEN, -1), scope.base_case(**{"len-t": 0})),
        ("real steps, step t+1 -> t < len (any cell): B(t+1) = G(len-2-t) and m_t = 1 give B(t) = F(x_t, G(len-2-t)) "
         "= G(len-1-t)", prove_equal(masked_step(G(LEN - 2 - TT), TT, 1), g_unfold(LEN - 1 - TT)), scope.INDUCTION_STEP),
    ]


@derivation("stack.padding.reversed_within_length",
            title="The backward direction reverses each sequence within its own length",
            latex=(r"\overleftarrow{h}_t = g_{\ell-1-t}\ (t < \ell),\quad g_s = F(x_{\ell-1-s}, g_{s-1}),\ g_{-1} = h_0^{b};"
                   r"\quad h_b = \overleftarrow{h}_0 = g_{\ell-1}"),
            seed=SEED, primary=SCHUSTER + "; " + TORCH + " (packed sequences reverse each sequence within its length)",
            layout=LAYOUT,
            assumptions=("any cell F (undefined function of an abstract input and state)",
                         "every T and length l: the masked backward recursion from t = T, by induction on T - t over "
                         "the padded steps, then on l - t over the real ones (bi.backward_is_reversed_forward with T := l)"),
            sizes=("T", "len"),
            notes=("A common bug reverses over the padded length T: the backward half then starts at x_{T-1} (padding) "
                   "and its real outputs depend on padded inputs."),
            steps=(r"t \ge \ell:\ \overleftarrow{h}_t = \overleftarrow{h}_{t+1} = \cdots = h_0^{b}",
                   r"t < \ell:\ \overleftarrow{h}_t = F(x_t, \overleftarrow{h}_{t+1}) = F(x_t, g_{\ell-2-t}) = g_{\ell-1-t}",
                   r"\text{so the backward half reads } x_{\ell-1}, \ldots, x_0 \text{ from } h_0^{b} \text{ and ends after } x_0"))
def _reversed_within_length():
    return masked_backward_obligations()


@derivation("stack.padding.real_steps_independent",
            title="A real step never depends on a later input, so not on padding (tanh cell, every n, m)",
            latex=r"\frac{\partial \overrightarrow{h}_t}{\partial x_s} = 0\quad (s > t),\qquad \text{padded } x_s:\ s \ge \ell > t",
            seed=SEED, primary=SCHUSTER + "; " + TORCH, layout="numerator: (dh/dx)[i, j] = dh_i / dx_j",
            assumptions=("the tanh RNN cell, every n, m: entry-wise at symbolic n, m by induction over the steps from "
                         "h0 (the zero block of bi.full_dependence)",
                         "the backward direction reads no padded input at all (stack.padding.reversed_within_length)"),
            sizes=("n", "m"),
            steps=(r"\partial h_0 / \partial x_s = 0",
                   r"\partial h_{t-1}/\partial x_s = 0,\ s > t\ \Rightarrow\ \partial h_t / \partial x_s = "
                   r"\mathrm{diag}(1 - h_t^2)\, W_h\, \partial h_{t-1}/\partial x_s = 0"))
def _real_steps_independent():
    from .bidirectional import dependence_obligations

    return dependence_obligations("f")[:2]


@derivation("stack.padding.batch_rows_independent",
            title="Batch rows are independent: the batch equals its sequences run one by one (checked at sizes)",
            latex=r"\frac{\partial (X W^T + H U^T + \mathbf{1} b^T)_{b i}}{\partial X_{b' j}} = "
                  r"\frac{\partial (\ldots)_{b i}}{\partial H_{b' j}} = 0\quad (b' \ne b)",
            seed=SEED, primary=TORCH, layout="batch rows: X (B, m), H (B, n)",
            assumptions=("every cell's only cross-entry operation is the affine map of the rows; the rest is entry-wise",
                         "checked at the explicit sizes B = 2, n = 2, m = 2 only"),
            sizes=("B", "n", "m"),
            steps=(r"(X W^T)_{bi} = \sum_j X_{bj} W_{ij}\ \text{reads row } b \text{ only}",))
def _batch_rows():
    from .matrices import mat

    B, n, m = 2, 2, 2
    X_, H_, W, U, b = mat("X", B, m), mat("H", B, n), mat("W", n, m), mat("U", n, n), mat("bias", n, 1)
    A = X_ * W.T + H_ * U.T + sp.ones(B, 1) * b.T
    cross = [sp.diff(A[r, i], v) for r in range(B) for i in range(n)
             for v in list(X_[1 - r, :]) + list(H_[1 - r, :])]
    return [(f"B={B}, n={n}, m={m}: no pre-activation entry of row b depends on row b' != b",
             prove_equal(sp.Matrix(cross), sp.zeros(len(cross), 1)), scope.at(B=B, n=n, m=m))]


@derivation("stack.dropout.between_layers", kind="definition",
            title="Inter-layer dropout: on the input of every layer but the first, in training only",
            latex=(r"\tilde h^{(l-1)}_t = \frac{m^{(l)}_t \odot h^{(l-1)}_t}{1 - p},\ m \sim \mathrm{Bernoulli}(1-p)^{\otimes}"
                   r"\ (l \ge 2,\ \text{training});\quad \tilde h = h \ (\text{inference, or } l = 1);\quad "
                   r"\mathbb{E}[\tilde h] = h"),
            seed=SEED + "; 07-Dropout-Theory.md", primary=ZAREMBA + "; " + TORCH, layout=LAYOUT,
            assumptions=("one independent Bernoulli(1 - p) per entry (t, b, feature) of layer l-1's output",
                         "never on the first layer's input xs, never after the last layer, never at inference",
                         "the recurrent connections are not dropped"),
            sizes=(),
            steps=(r"\mathbb{E}\Big[\frac{m h}{1-p}\Big] = (1-p)\frac{h}{1-p} + p \cdot 0 = h",))
def _dropout():
    p, h = sp.symbols("p h", real=True)
    return [("the inverted scaling keeps the expectation: (1-p) h/(1-p) + p 0 = h",
             prove_equal((1 - p) * (1 * h / (1 - p)) + p * (0 * h / (1 - p)), h))]


__all__ = ["SEED", "masked_forward_obligations", "masked_backward_obligations", "chain_obligations"]
