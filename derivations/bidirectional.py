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

from .functions import phi
from .prove import prove_equal, prove_true
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
        out.append((f"T={T}, n={n}: y_{t}[:n] is the forward state after x_0..x_{t}", prove_equal(ys[t][:n, :], net["fwd"][t])))
        out.append((f"T={T}, n={n}: y_{t}[n:] is the backward state after x_{T - 1}..x_{t}", prove_equal(ys[t][n:, :], net["bwd"][t])))
    return out


@derivation("bi.backward_is_reversed_forward",
            title="The backward half is a forward-direction run on the time-reversed input, re-reversed",
            latex=(r"\overleftarrow{h}_t = g_{T-1-t},\quad g_s = f(x_{T-1-s}, g_{s-1}),\ g_{-1} = \overleftarrow{h}_T := h_0^{b}"
                   r"\quad\big(\text{so } g = \mathrm{run}_f(\mathrm{rev}(x)),\ \overleftarrow{h} = \mathrm{rev}(g)\big)"),
            seed=SEED_BI, primary=SCHUSTER + "; " + FRAMEWORKS, layout=LAYOUT,
            assumptions=("any cell f (RNN, LSTM with state (h, c), GRU): the argument only uses f(x, state)",
                         "explicit at T = 2, 3, n = 1, m = 1 with a generic activation phi; for every T by induction "
                         "on t downward with the index identities below"),
            steps=(
                r"g_s := \overleftarrow{h}_{T-1-s},\quad s = -1, 0, \ldots, T-1,\qquad g_{-1} = \overleftarrow{h}_{T} = h_0^{b}",
                r"g_s = \overleftarrow{h}_{T-1-s} = f(x_{T-1-s}, \overleftarrow{h}_{T-s}) = f(x_{T-1-s}, g_{s-1}) \quad (T - s = T - 1 - (s - 1))",
                r"\Rightarrow\ g = \mathrm{run}_f(x_{T-1}, \ldots, x_0) = \mathrm{run}_f(\mathrm{rev}(x)),\qquad \overleftarrow{h}_t = g_{T-1-t},\ \text{i.e. } \overleftarrow{h} = \mathrm{rev}(g)",
                r"s = T-1-t:\quad T-1-s = t,\qquad s - 1 = T-1-(t+1),\qquad t = T-1 \mapsto s = 0",
            ))
def _reversal():
    out = []
    for T in (2, 3):
        net = _net(T, 1, 1)
        for t in range(T):
            out.append((f"T={T}: backward state at t={t} = reversed run at s=T-1-t={T - 1 - t}",
                        prove_equal(net["bwd"][t], net["rev"][T - 1 - t])))
    T, t = sp.symbols("T t", integer=True)
    s = T - 1 - t
    out.append(("every T: the reversed run's step s = T-1-t reads x_{T-1-s} = x_t", prove_equal(T - 1 - s, t)))
    out.append(("every T: its previous state g_{s-1} is g_{T-1-(t+1)}, the re-reversed state at t+1",
                prove_equal(s - 1, T - 1 - (t + 1))))
    out.append(("every T: t = T-1 maps to s = 0, whose previous state is g_{-1} = h0_b (= the backward state at t = T)",
                prove_equal(s.subs(t, T - 1), 0)))
    return out


@derivation("bi.final_states", title="What the final states of a bidirectional RNN hold",
            latex=(r"h_f = \overrightarrow{h}_{T-1} = y_{T-1}[{:}n],\qquad h_b = \overleftarrow{h}_0 = y_0[n{:}]"
                   r"\ (\text{the backward state after reading } x_0),\qquad y_{T-1}[n{:}] = f'(x_{T-1}, h_0^b)"),
            seed=SEED_BI, primary=SCHUSTER + "; torch.nn.RNN docs: h_n[2l+1] equals output[0, :, H:], not output[-1, :, H:]",
            layout=LAYOUT,
            assumptions=("the final state of each direction is the state after its last step (torch h_n, Keras "
                         "return_state, Flax carry)", "explicit at T = 3, n = 1, m = 1, generic phi"),
            notes="A common mistake is to take h_b from y_{T-1}: that is the backward state after one step (x_{T-1} only).",
            steps=(
                r"h_f = \text{forward state after its last step } (x_{T-1}) = \overrightarrow{h}_{T-1} = y_{T-1}[{:}n]",
                r"\text{the backward run reads } x_{T-1}, \ldots, x_0 \text{ and ends at } t = 0:\ h_b = \overleftarrow{h}_0 = y_0[n{:}]",
                r"y_{T-1}[n{:}] = \overleftarrow{h}_{T-1} = f'(x_{T-1}, \overleftarrow{h}_{T}) = f'(x_{T-1}, h_0^{b}) \quad (\text{one backward step only})",
            ))
def _final_states():
    T = 3
    net = _net(T, 1, 1)
    ys = _ys(net)
    return [
        ("T=3: h_f (forward state after x_2) = y_2[:n]", prove_equal(net["fwd"][T - 1], ys[T - 1][:1, :])),
        ("T=3: h_b (last state of the reversed run, after reading x_0) = y_0[n:]", prove_equal(net["rev"][T - 1], ys[0][1:, :])),
        ("T=3: y_2[n:] is the backward state after x_2 alone: f'(x_2, h0_b)",
         prove_equal(ys[T - 1][1:, :], net["cell"]("b", net["xs"][T - 1], net["h0"]["b"]))),
    ]


_POINT = {"Wxf_0": 1, "Whf_0": sp.Rational(1, 2), "bf_0": sp.Rational(1, 5), "h0f_0": sp.Rational(1, 3),
          "Wxb_0": sp.Rational(3, 2), "Whb_0": sp.Rational(-1, 2), "bb_0": sp.Rational(-1, 7), "h0b_0": sp.Rational(1, 4),
          "x0_0": sp.Rational(1, 2), "x1_0": sp.Rational(-1, 3), "x2_0": sp.Rational(2, 3)}


@derivation("bi.full_dependence", title="Each bidirectional output depends on every input",
            latex=(r"\frac{\partial y_t}{\partial x_s} = \begin{bmatrix}\partial\overrightarrow{h}_t/\partial x_s\\ "
                   r"\partial\overleftarrow{h}_t/\partial x_s\end{bmatrix} \ne 0\ \ \forall s, t;\quad "
                   r"\partial\overrightarrow{h}_t/\partial x_s = 0\ (s > t),\ \partial\overleftarrow{h}_t/\partial x_s = 0\ (s < t)"),
            seed=SEED_BI + " (前向 + 后向: 同时看到过去和未来)", primary=SCHUSTER, layout="numerator: (dy/dx)[i, j] = dy_i / dx_j",
            assumptions=("explicit at T = 3, n = 1, m = 1 with tanh; 'generically': each block is an analytic function "
                         "of the parameters that is non-zero at the exhibited rational point, hence non-zero on an open dense set",),
            notes=("Exhibited point: W_x^f = 1, W_h^f = 1/2, b^f = 1/5, h0_f = 1/3, W_x^b = 3/2, W_h^b = -1/2, "
                   "b^b = -1/7, h0_b = 1/4, x = (1/2, -1/3, 2/3). Past inputs reach y_t only through the forward "
                   "half, future inputs only through the backward half, x_t through both."),
            steps=(
                r"\frac{\partial y_t}{\partial x_s}[{:}n] = \frac{\partial\overrightarrow{h}_t}{\partial x_s},\qquad \frac{\partial y_t}{\partial x_s}[n{:}] = \frac{\partial\overleftarrow{h}_t}{\partial x_s}",
                r"\overrightarrow{h}_t = F(h_0^{f}, x_0, \ldots, x_t)\ \Rightarrow\ \frac{\partial\overrightarrow{h}_t}{\partial x_s} = 0 \ (s > t);\qquad \overleftarrow{h}_t = G(h_0^{b}, x_t, \ldots, x_{T-1})\ \Rightarrow\ \frac{\partial\overleftarrow{h}_t}{\partial x_s} = 0 \ (s < t)",
                r"s \le t:\ \frac{\partial\overrightarrow{h}_t}{\partial x_s} = J^{f}_t J^{f}_{t-1}\cdots J^{f}_{s+1}\,\operatorname{diag}(1 - \overrightarrow{h}_s^{\odot 2})\,W_x^{f},\quad J^{f}_i = \operatorname{diag}(1 - \overrightarrow{h}_i^{\odot 2})\,W_h^{f}\quad (\tanh;\ \text{empty product } I \text{ at } s = t)",
                r"s \ge t:\ \frac{\partial\overleftarrow{h}_t}{\partial x_s} = J^{b}_t J^{b}_{t+1}\cdots J^{b}_{s-1}\,\operatorname{diag}(1 - \overleftarrow{h}_s^{\odot 2})\,W_x^{b},\quad J^{b}_i = \operatorname{diag}(1 - \overleftarrow{h}_i^{\odot 2})\,W_h^{b}",
                r"T = 3,\ n = m = 1:\ \Big\|\frac{\partial y_t}{\partial x_s}\Big\|^2 \ne 0 \text{ at the rational point } (W_x^{f} = 1,\ W_h^{f} = \frac{1}{2},\ W_x^{b} = \frac{3}{2},\ W_h^{b} = -\frac{1}{2},\ \ldots),\ s, t = 0, 1, 2",
            ))
def _full_dependence():
    T = 3
    net = _net(T, 1, 1, act=sp.tanh)
    ys = _ys(net)
    point = {sym: _POINT[str(sym)] for y in ys for sym in y.free_symbols}
    out = []
    for t in range(T):
        for s in range(T):
            block = ys[t].jacobian(net["xs"][s])
            if s > t:
                out.append((f"dy_{t}[:n]/dx_{s} = 0 (the forward half cannot see the future)", prove_equal(block[0], 0)))
            if s < t:
                out.append((f"dy_{t}[n:]/dx_{s} = 0 (the backward half cannot see the past)", prove_equal(block[1], 0)))
            sq = sum((e ** 2 for e in block.xreplace(point)), sp.S.Zero)
            out.append((f"||dy_{t}/dx_{s}||^2 != 0 at the rational point", prove_true(sp.Ne(sq, 0))))
    return out


__all__ = ["SEED_BI", "SCHUSTER"]
