"""Backpropagation through time for the vanilla RNN: unrolling, the Jacobian product, norm bounds.

Conventions: column vectors; numerator layout; products latest-left,
dh_t/dh_k = J_t J_{t-1} ... J_{k+1}, J_i = diag(phi'(a_i)) W_h, a_i the step-i pre-activation.
Backprop (denominator layout) uses the transpose. The seed's prod_{i=k+1}^{t} W_hh^T diag(tanh'),
read with i increasing left to right, is exactly that transpose: right in denominator layout,
wrong as a numerator-layout Jacobian. The seed names no layout; both readings are recorded here.

Never expanded past small T: one-step kernels are proved for every n (rnn_cell), the chain rule is
proved for every n and every t - k by induction (base case t - k = 1, an induction step with the
earlier state an undefined function F of h_k, entry-wise at symbolic n); long chains run numerically.
The norm bounds are proved by induction on t - k from two cited lemmas (lemmas.SUBMULTIPLICATIVE,
lemmas.DIAG_SPECTRAL_NORM). The gradient records (rnn.bptt.gradient, rnn.bptt.shared_weight_gradient)
are proved for every T, n, m through the adjoint identity: along any curve u of the parameters and inputs,
the tangents tau_t = dh_t/du obey tau_t = phi'(a_t) ∘ (W_h tau_{t-1} + s_t) (one step, entry-wise at symbolic
n, m), and dL/du = <W_h^T g_1, tau_0> + sum_t <g_t, s_t> with g_t = phi'(a_t) ∘ delta_t (induction on T: base
case T = 1, a step prepended to a length T-1 network, entry-wise at symbolic n). Each gradient is that identity
along one coordinate direction. The explicit unrolled checks at small T remain as plain functions for the tests.

Seed: §1 (时间展开, BPTT), §2 梯度消失/爆炸问题.
Primary: Werbos (1990), Proc. IEEE 78(10); Pascanu, Mikolov & Bengio (2013), ICML.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from sympy.matrices.expressions.matexpr import MatrixElement

from .. import activations
from .. import scope as sc
from ..functions import phi, phi_prime, relu
from ..indexed import index, prove_entry_equal
from ..sums import prove_entry_equal_factored, prove_sums_equal
from ..lemmas import DIAG_SPECTRAL_NORM, SUBMULTIPLICATIVE
from ..matrices import mat, vec_rows
from ..prove import prove_equal, prove_positive, prove_true
from ..registry import derivation
from .cell import Cell, abstract_preactivation

SEED_UNROLL = "seed §1 基础RNN: 时间展开 (unrolling), BPTT"
SEED_GRAD = "seed §2 梯度消失/爆炸问题: ∂h_t/∂h_k = ∏_{i=k+1}^{t} W_hh^T diag(tanh'(·)); ‖W_hh‖<1 → 消失, ‖W_hh‖>1 → 爆炸"
WERBOS = "Werbos (1990), Backpropagation through time: what it does and how to do it, Proc. IEEE 78(10)"
PASCANU = activations.PASCANU
NUMERATOR = "numerator: (dy/dx)[i, j] = dy_i / dx_j; products latest-left"
SUBMULT = "the induced 2-norm is submultiplicative, ||AB||_2 <= ||A||_2 ||B||_2 (Horn & Johnson, Matrix Analysis, 5.6)"


TK = "t-k"  # the size an induction over the time span ranges over
_n, _m = sp.symbols("n m", integer=True, positive=True)


def unroll(T: int, n: int, m: int, copies: bool = False):
    """Explicit unrolled RNN with generic phi. With ``copies``, step t has its own W_h^(t), W_x^(t), b^(t)."""
    shared = {"W_h": mat("Wh", n, n), "W_x": mat("Wx", n, m), "b": mat("b", n, 1)}
    params = [{k: (mat(f"{k}{t}", *v.shape) if copies else v) for k, v in shared.items()} for t in range(1, T + 1)]
    xs = [mat(f"x{t}", m, 1) for t in range(1, T + 1)]
    h0 = mat("h0", n, 1)
    hs, pres = [h0], []
    for t in range(T):
        p = params[t]
        a = p["W_x"] * xs[t] + p["W_h"] * hs[-1] + p["b"]
        pres.append(a)
        hs.append(a.applyfunc(phi))
    return {"shared": shared, "params": params, "xs": xs, "h0": h0, "hs": hs, "pres": pres}


def loss(net, T, n):
    """L = sum_t <d_t, h_t> + <d_T', h_T>: the cotangents of the protocol's rnn_vjp."""
    ds = [mat(f"d{t}", n, 1) for t in range(1, T + 1)]
    dT = mat("dT", n, 1)
    L = sum(((ds[t].T * net["hs"][t + 1])[0] for t in range(T)), sp.S.Zero) + (dT.T * net["hs"][T])[0]
    return L, ds, dT


def _grad(L, M):
    return sp.Matrix([sp.diff(L, e) for e in vec_rows(M)])


@derivation("rnn.bptt.unroll", kind="definition", title="Unrolling: T cells with shared weights",
            latex=r"h_t = f(x_t, h_{t-1};\theta),\ t = 1..T:\quad h_T = f(x_T, f(x_{T-1}, \dots f(x_1, h_0;\theta)\dots;\theta);\theta)",
            seed=SEED_UNROLL, primary=WERBOS, sizes=("T", "n", "m"),
            notes="The unrolled network is a T-layer feed-forward network whose layers share theta. "
                  "Its consistency is checked at T = 3, n = 2, m = 1.",
            steps=(
                r"h_t = f(x_t, h_{t-1};\theta) = \varphi(W_x x_t + W_h h_{t-1} + b),\qquad t = 1, \ldots, T",
                r"h_1 = f(x_1, h_0;\theta),\quad h_2 = f(x_2, f(x_1, h_0;\theta);\theta),\quad \ldots",
                r"\text{per-step copies } h_t = f(x_t, h_{t-1};\theta^{(t)}) \text{ with } \theta^{(1)} = \cdots = \theta^{(T)} = \theta \text{ give the same } h_T",
            ))
def _unroll():
    T, n, m = 3, 2, 1
    a, b = unroll(T, n, m), unroll(T, n, m, copies=True)
    same = {sym: s for p in b["params"] for k, M in p.items() for sym, s in zip(M, a["shared"][k])}
    return [("T=3: the network with per-step copies theta^(t) equals the shared one when theta^(t) = theta",
             prove_equal(b["hs"][T].xreplace(same), a["hs"][T]), sc.at(T=T, n=n, m=m))]


# ---- BPTT for every T, n, m: the adjoint (tangent/cotangent) identity, by induction on T ----
#
# Differentiate along any curve u -> (theta(u), x_t(u), h_0(u)); tau_t = dh_t/du is the tangent. One step of
# the cell gives tau_t = phi'(a_t) ∘ (W_h tau_{t-1} + s_t), s_t = da_t/du with h_{t-1} held fixed (the "source":
# the explicit dependence of step t on the curve). With the cotangents delta_t of the backward recursion and
# g_t = phi'(a_t) ∘ delta_t, the identity
#     dL/du = sum_{t=1}^T <d_t, tau_t> + <d'_T, tau_T> = <W_h^T g_1, tau_0> + sum_{t=1}^T <g_t, s_t>
# holds for every T (induction on T, a step prepended at the front; the later steps are the length T-1 network
# from h_1, whose h-gradient is any vector epsilon = W_h^T g_2). Every gradient of the record is the identity
# along one coordinate direction: W_h[j, k] (s_t = da_t/d(W_h)_jk at every t, tau_0 = 0), W_x[j, k], b[j],
# x_t[j] (a source at step t only), h_0[l] (tau_0 = e_l, no source).

def _inner(a, b):
    return (a.T * b)[0, 0]


def _step_vectors():
    vec = lambda s: sp.MatrixSymbol(s, _n, 1)  # noqa: E731
    return sp.MatrixSymbol("W_h", _n, _n), vec("dphi_1"), vec("tau_0"), vec("s_1")


def adjoint_step(transpose: bool = True):
    """Induction step T-1 -> T, every n: with tau_1 = phi'(a_1) ∘ (W_h tau_0 + s_1), delta_1 = d_1 + epsilon,
    g_1 = phi'(a_1) ∘ delta_1: <d_1, tau_1> + (<epsilon, tau_1> + R) = <W_h^T g_1, tau_0> + <g_1, s_1> + R.

    ``transpose=False`` states the wrong recursion (W_h g_1 in place of W_h^T g_1): it must not be proved.
    """
    W, D, tau0, s1 = _step_vectors()
    d1, eps = sp.MatrixSymbol("d_1", _n, 1), sp.MatrixSymbol("epsilon", _n, 1)
    R = sp.Symbol("R", real=True)  # the hypothesis' sum_{t>=2} <g_t, s_t>, carried unchanged
    tau1 = sp.HadamardProduct(D, W * tau0 + s1)
    g1 = sp.HadamardProduct(D, d1 + eps)
    back = (W.T if transpose else W) * g1
    return prove_sums_equal(_inner(d1, tau1) + _inner(eps, tau1) + R, _inner(back, tau0) + _inner(g1, s1) + R, {})


def adjoint_base():
    """Base case T = 1, every n: delta_1 = d_1 + d'_1, g_1 = phi'(a_1) ∘ delta_1:
    <d_1, tau_1> + <d'_1, tau_1> = <W_h^T g_1, tau_0> + <g_1, s_1>."""
    W, D, tau0, s1 = _step_vectors()
    d1, dT = sp.MatrixSymbol("d_1", _n, 1), sp.MatrixSymbol("d'_1", _n, 1)
    tau1 = sp.HadamardProduct(D, W * tau0 + s1)
    g1 = sp.HadamardProduct(D, d1 + dT)
    return prove_sums_equal(_inner(d1, tau1) + _inner(dT, tau1), _inner(W.T * g1, tau0) + _inner(g1, s1), {})


def tangent_step(transpose: bool = False):
    """Every n, m, entry i: along a curve u -> (W_h(u), h_{t-1}(u), c(u) = W_x x_t + b), entries undefined
    functions of u, d/du phi(sum_q W_h[i, q] h_q + c_i) = phi'(a_i) ((W_h tau)_i + s_i), tau = dh_{t-1}/du,
    s_i = sum_q (dW_h[i, q]/du) h_q + dc_i/du: the tangent recursion, with the source s.

    ``transpose=True`` uses W_h^T tau instead: it must not be proved.
    """
    i, u, q = index("i"), sp.Symbol("u", real=True), sp.Dummy("q", integer=True)
    H, Wf, C = sp.Function("h"), sp.Function("W_h"), sp.Function("c")
    Wiq = Wf(q, i, u) if transpose else Wf(i, q, u)
    a = sp.Sum(Wf(i, q, u) * H(q, u), (q, 0, _n - 1)) + C(i, u)
    source = sp.Sum(sp.Derivative(Wf(i, q, u), u) * H(q, u), (q, 0, _n - 1)) + sp.Derivative(C(i, u), u)
    rhs = phi_prime(a) * (sp.Sum(Wiq * sp.Derivative(H(q, u), u), (q, 0, _n - 1)) + source)
    return prove_sums_equal(sp.diff(phi(a), u), rhs, None)


_SOURCES = {  # direction: (the entry of the curve, the compact <g, s>, free-index ranges, text)
    "W_h": (lambda c, j, k: c.W_h[j, k], lambda c, g, j, k: (g * c.h.T)[j, k], lambda j, k: {j: _n, k: _n},
            "(g h_(t-1)^T)[j, k]"),
    "W_x": (lambda c, j, k: c.W_x[j, k], lambda c, g, j, k: (g * c.x.T)[j, k], lambda j, k: {j: _n, k: _m},
            "(g x_t^T)[j, k]"),
    "b": (lambda c, j, k: c.b[j, 0], lambda c, g, j, k: g[j, 0], lambda j, k: {j: _n}, "g[j]"),
    "x_t": (lambda c, j, k: c.x[j, 0], lambda c, g, j, k: (c.W_x.T * g)[j, 0], lambda j, k: {j: _m},
            "(W_x^T g)[j]"),
}


def source_pairing(wrt: str):
    """Every n, m: along the coordinate direction of ``wrt`` (its entry moves, linearly), the source of a step is
    s_p = da_p/d(entry), and <g, s> = sum_p g_p da_p/d(entry) is the compact entry of the record."""
    c = Cell(_n, _m)
    j, k, p = index("j"), index("k"), sp.Dummy("p", integer=True)
    g = sp.MatrixSymbol("g", _n, 1)
    entry, compact, bounds, _ = _SOURCES[wrt]
    lhs = sp.Sum(g[p, 0] * sp.diff(c.a[p, 0], entry(c, j, k)), (p, 0, _n - 1))
    return prove_entry_equal(lhs, compact(c, g, j, k), bounds(j, k))


@lru_cache(maxsize=None)
def _general_bptt():
    """The obligations shared by both gradient records (computed once)."""
    return [("base case T=1, every n: <d_1 + d'_1, tau_1> = <W_h^T g_1, tau_0> + <g_1, s_1>, "
             "tau_1 = phi'(a_1) ∘ (W_h tau_0 + s_1), g_1 = phi'(a_1) ∘ (d_1 + d'_1)", adjoint_base(), sc.base_case(T=1)),
            ("induction step T-1 -> T, every n: the later steps (a length T-1 network from h_1) contribute "
             "<epsilon, tau_1> + R by hypothesis; <d_1, tau_1> + <epsilon, tau_1> + R = <W_h^T g_1, tau_0> + <g_1, s_1> + R "
             "with delta_1 = d_1 + epsilon, g_1 = phi'(a_1) ∘ delta_1", adjoint_step(), sc.INDUCTION_STEP),
            ("every step t, every n, m: the tangent tau_t = dh_t/du along any curve of (W_h, h_(t-1), W_x x_t + b) is "
             "phi'(a_t) ∘ (W_h tau_(t-1) + s_t), s_t = da_t/du with h_(t-1) held fixed", tangent_step(), sc.GENERAL)]


def explicit_gradient_checks(T: int, n: int, m: int):
    """The BPTT formulas against the explicitly unrolled network at one size (plain checks for tests)."""
    net = unroll(T, n, m)
    L, ds, dT = loss(net, T, n)
    W_h, W_x = net["shared"]["W_h"], net["shared"]["W_x"]
    g = [None] * (T + 1)  # g[t] = phi'(a_t) ∘ delta_t
    delta = ds[T - 1] + dT
    for t in range(T, 0, -1):
        g[t] = delta.multiply_elementwise(net["pres"][t - 1].applyfunc(phi_prime))
        if t > 1:
            delta = ds[t - 2] + W_h.T * g[t]
    out = [
        ("dL/dW_h", prove_equal(_grad(L, W_h), vec_rows(sum((g[t] * net["hs"][t - 1].T for t in range(1, T + 1)), sp.zeros(n, n))))),
        ("dL/dW_x", prove_equal(_grad(L, W_x), vec_rows(sum((g[t] * net["xs"][t - 1].T for t in range(1, T + 1)), sp.zeros(n, m))))),
        ("dL/db", prove_equal(_grad(L, net["shared"]["b"]), sum((g[t] for t in range(1, T + 1)), sp.zeros(n, 1)))),
        ("dL/dh_0", prove_equal(_grad(L, net["h0"]), W_h.T * g[1])),
    ]
    return out + [(f"dL/dx_{t}", prove_equal(_grad(L, net["xs"][t - 1]), W_x.T * g[t])) for t in range(1, T + 1)]


def explicit_shared_checks(T: int, n: int, m: int):
    """dL/dtheta = sum_t dL/dtheta^(t) on the explicitly unrolled network at one size (plain checks for tests)."""
    a, b = unroll(T, n, m), unroll(T, n, m, copies=True)
    La, _, _ = loss(a, T, n)
    Lb, _, _ = loss(b, T, n)
    same = {sym: s for p in b["params"] for k, M in p.items() for sym, s in zip(M, a["shared"][k])}
    out = []
    for k in ("W_h", "W_x", "b"):
        per_step = sum((_grad(Lb, b["params"][t][k]) for t in range(T)), sp.zeros(len(a["shared"][k]), 1))
        out.append((f"dL/d{k} = sum_t dL/d{k}^(t)", prove_equal(_grad(La, a["shared"][k]), per_step.xreplace(same))))
    return out


_ADJOINT = r"\frac{dL}{du} = \sum_{t=1}^{T}\langle d_t, \tau_t\rangle + \langle d'_T, \tau_T\rangle = \langle W_h^\top g_1, \tau_0\rangle + \sum_{t=1}^{T} \langle g_t, s_t\rangle,\qquad g_t = \varphi'(a_t)\odot\delta_t"
_INDUCTION = ("by induction on T for every n, m: along any curve u of (theta, x_t, h_0), tau_t = dh_t/du = "
              "phi'(a_t) ∘ (W_h tau_(t-1) + s_t) with s_t = da_t/du at h_(t-1) held fixed (entry-wise, symbolic n, m), and "
              "dL/du = <W_h^T g_1, tau_0> + sum_t <g_t, s_t> (base case T = 1; induction step: a step prepended to a "
              "length T-1 network, entry-wise at symbolic n)")


@derivation("rnn.bptt.shared_weight_gradient", title="The gradient of a shared weight is the sum of the per-step gradients",
            latex=r"\frac{\partial L}{\partial \theta} = \sum_{t=1}^{T} \frac{\partial L}{\partial \theta^{(t)}}\Big|_{\theta^{(t)} = \theta}",
            seed=SEED_UNROLL, primary=WERBOS, sizes=("T", "n", "m"),
            assumptions=("L = sum_t <d_t, h_t> + <d'_T, h_T> (the protocol's rnn_vjp cotangents), generic phi",
                         _INDUCTION + "; the sources are arbitrary, so the identity also holds for the network with "
                         "per-step copies theta^(t), whose step t is the shared step when theta^(t) = theta"),
            steps=(
                r"\tau_t = \varphi'(a_t)\odot(W_h\,\tau_{t-1} + s_t),\qquad " + _ADJOINT,
                r"\text{shared } \theta \text{ moved along } u:\ s_t = \frac{\partial a_t}{\partial \theta}\dot\theta \text{ at every } t,\ \tau_0 = 0\ \Rightarrow\ \frac{dL}{du} = \sum_{t=1}^{T}\langle g_t, s_t\rangle",
                r"\text{copy } \theta^{(r)} \text{ moved alone (the others at } \theta):\ s_t = [t = r]\,\frac{\partial a_t}{\partial \theta}\dot\theta\ \Rightarrow\ \frac{dL}{du_r} = \sum_{t=1}^{T} [t = r]\,\langle g_t, s_t\rangle = \langle g_r, s_r\rangle",
                r"\Rightarrow\ \frac{\partial L}{\partial \theta} = \sum_{r=1}^{T} \frac{\partial L}{\partial \theta^{(r)}}\Big|_{\theta^{(t)} = \theta}\quad(\text{at } \theta^{(t)} = \theta \text{ both networks have the same } a_t, \delta_t, g_t)",
            ))
def _shared():
    T = sp.Symbol("T", integer=True, positive=True)
    r, t, G = index("r"), sp.Dummy("t", integer=True), sp.IndexedBase("G")  # G[t] = <g_t, s_t>, steps 0..T-1
    per_copy = prove_entry_equal(sp.Sum(sp.KroneckerDelta(t, r) * G[t], (t, 0, T - 1)), G[r], {r: T})
    return _general_bptt() + [
        ("every T, every copy r: sum_t [t = r] <g_t, s_t> = <g_r, s_r> (the copy's source is at its own step only)",
         per_copy, sc.GENERAL)]


@derivation("rnn.bptt.gradient", title="BPTT: the backward recursion and the parameter gradients",
            latex=(r"\delta_T = d_T + d'_T,\ \ \delta_{t-1} = d_{t-1} + W_h^\top(\varphi'(a_t)\odot\delta_t),\ \ "
                   r"\frac{\partial L}{\partial W_h} = \sum_t (\varphi'(a_t)\odot\delta_t)\,h_{t-1}^\top,\ "
                   r"\frac{\partial L}{\partial W_x} = \sum_t (\varphi'(a_t)\odot\delta_t)\,x_t^\top,\ "
                   r"\frac{\partial L}{\partial b} = \sum_t \varphi'(a_t)\odot\delta_t,\ "
                   r"\frac{\partial L}{\partial x_t} = W_x^\top(\varphi'(a_t)\odot\delta_t),\ "
                   r"\frac{\partial L}{\partial h_0} = W_h^\top(\varphi'(a_1)\odot\delta_1)"),
            seed=SEED_UNROLL, primary=WERBOS, layout="denominator (gradients, as backprop computes them)", sizes=("T", "n", "m"),
            assumptions=("L = sum_t <d_t, h_t> + <d'_T, h_T> (the protocol's rnn_vjp cotangents), generic phi",
                         _INDUCTION + "; each gradient is the identity along one coordinate direction, its pairing "
                         "<g_t, s_t> proved entry-wise at symbolic n, m"),
            steps=(
                r"L = \sum_{t=1}^{T} \langle d_t, h_t\rangle + \langle d'_T, h_T\rangle,\qquad h_t = \varphi(a_t),\ a_t = W_x x_t + W_h h_{t-1} + b",
                r"\delta_T = d_T + d'_T,\qquad \delta_{t-1} = d_{t-1} + W_h^\top(\varphi'(a_t)\odot\delta_t),\qquad g_t = \varphi'(a_t)\odot\delta_t",
                r"\text{along a curve } u:\ \tau_t = \frac{dh_t}{du} = \varphi'(a_t)\odot(W_h\,\tau_{t-1} + s_t),\quad s_t = \frac{\partial a_t}{\partial u}\Big|_{h_{t-1}}",
                r"T = 1:\ \langle d_1 + d'_1, \tau_1\rangle = \langle W_h^\top g_1, \tau_0\rangle + \langle g_1, s_1\rangle;\quad T-1 \to T:\ \text{the steps } 2..T \text{ contribute } \langle \delta_1 - d_1, \tau_1\rangle + \sum_{t \ge 2}\langle g_t, s_t\rangle",
                _ADJOINT,
                r"(W_h)_{jk}:\ \tau_0 = 0,\ \langle g_t, s_t\rangle = (g_t h_{t-1}^\top)_{jk}\ \Rightarrow\ \frac{\partial L}{\partial W_h} = \sum_{t=1}^{T} (\varphi'(a_t)\odot\delta_t)\,h_{t-1}^\top;\ \text{likewise } W_x \ (g_t x_t^\top),\ b \ (g_t)",
                r"(x_t)_j:\ \text{a source at step } t \text{ only},\ \langle g_t, s_t\rangle = (W_x^\top g_t)_j;\qquad (h_0)_l:\ \tau_0 = e_l,\ s = 0:\ \frac{\partial L}{\partial h_0} = W_h^\top g_1",
                r"\text{the network from } h_t \text{ (steps } t+1..T) \text{ gives } \frac{\partial L}{\partial h_t} = d_t + W_h^\top g_{t+1} = \delta_t",
            ))
def _gradient():
    return _general_bptt() + [
        (f"every n, m, every step: along {wrt}, <g, s> = sum_p g_p da_p/d{wrt}[j(, k)] = {_SOURCES[wrt][3]}",
         source_pairing(wrt), sc.GENERAL) for wrt in _SOURCES]


def _J(net, i):
    """J_i = diag(phi'(a_i)) W_h on the explicit net (i = 1..T)."""
    return sp.diag(*net["pres"][i - 1].applyfunc(phi_prime)) * net["shared"]["W_h"]


@derivation("rnn.bptt.jacobian_product", title="The Jacobian across time is the latest-left product of one-step Jacobians",
            latex=r"\frac{\partial h_t}{\partial h_k} = J_t J_{t-1}\cdots J_{k+1},\qquad J_i = \operatorname{diag}(\varphi'(a_i))\,W_h",
            seed=SEED_GRAD, primary=PASCANU + ", eq. 5 (transposed there)", layout=NUMERATOR, sizes=("n", "m", TK),
            assumptions=("by induction on t - k, for every n, m: base case t - k = 1 (dh_{k+1}/dh_k = J_{k+1}, entry-wise "
                         "at symbolic n, m) and the induction step d phi(W_x x + W_h F(h_k) + b)/dh_k = J_t dF/dh_k, "
                         "with h_{t-1} = F(h_k) an undefined function, entry-wise at symbolic n, m",),
            steps=(
                r"h_i = \varphi(a_i),\ a_i = W_x x_i + W_h h_{i-1} + b:\qquad J_i = \frac{\partial h_i}{\partial h_{i-1}} = \operatorname{diag}(\varphi'(a_i))\,W_h",
                r"t = k+1:\quad \frac{\partial h_{k+1}}{\partial h_k} = J_{k+1}",
                r"\frac{\partial h_t}{\partial h_k} = \frac{\partial h_t}{\partial h_{t-1}}\,\frac{\partial h_{t-1}}{\partial h_k} = J_t\,\frac{\partial h_{t-1}}{\partial h_k}",
                r"= J_t\,(J_{t-1}\cdots J_{k+1}) = J_t J_{t-1}\cdots J_{k+1}",
            ))
def _product():
    c = Cell(_n, _m)
    i, l = index("i"), index("l")
    p = sp.Dummy("p", integer=True)
    ab = lambda e: abstract_preactivation(c, e)  # noqa: E731  (phi'(a_r) -> phi'(A(r)), after differentiating)
    base = prove_entry_equal(ab(sp.diff(c.forward()[i, 0], c.h[l, 0])), ab(c.jac_h()[i, l]), {i: _n, l: _n})
    # induction step: column l of dh_t/dh_k is the derivative in u = (h_k)_l, the other entries held fixed;
    # h_{t-1} = F(h_k) is undefined, its entry p a function F(p, u) (the hypothesis is about its Jacobian only)
    u, F = sp.Symbol("u", real=True), sp.Function("F")
    earlier = lambda e: e.replace(lambda x: isinstance(x, MatrixElement) and x.parent == c.h,  # noqa: E731
                                  lambda x: F(x.i, u))
    h_t = earlier(c.forward()[i, 0])  # phi(W_x x + W_h F + b)_i
    chained = sp.Sum(earlier(c.jac_h()[i, p]) * sp.Derivative(F(p, u), u), (p, 0, _n - 1))  # (J_t dF/dh_k)[i, l]
    return [("base case t-k=1, every n, m, entry (i, l): dh_(k+1)/dh_k = J_(k+1) = diag(phi'(a_(k+1))) W_h",
             base, sc.base_case(**{TK: 1})),
            ("induction step, every n, m, entry (i, l): d phi(W_x x + W_h F(h_k) + b)_i/d(h_k)_l = (J_t dF/dh_k)[i, l]",
             prove_entry_equal_factored(ab(sp.diff(h_t, u)), ab(chained), {i: _n}), sc.INDUCTION_STEP)]


@derivation("rnn.bptt.source_form_denominator", title="The seed's product is the transpose: right in denominator layout",
            latex=r"\prod_{i=k+1}^{t} W_h^\top \operatorname{diag}(\varphi'(a_i)) \;(i \text{ increasing left to right}) = (J_t\cdots J_{k+1})^\top = \Big(\frac{\partial h_t}{\partial h_k}\Big)^{\!\top}",
            seed=SEED_GRAD, primary=PASCANU + ", eq. 5", layout="denominator (backprop): (dh_t/dh_k)^T",
            sizes=("n", TK),
            assumptions=("by induction on t - k, entry-wise for every n: P_s = P_(s-1) W_h^T D and "
                         "N_s = D W_h N_(s-1), so P_(s-1) = N_(s-1)^T gives P_s = N_s^T",),
            notes="The seed names no layout. Read as a numerator-layout Jacobian it is wrong "
                  "(rnn.bptt.source_form_numerator_reading); as the backprop (denominator) form it is exact.",
            steps=(
                r"J_i = D_i W_h,\qquad D_i = \operatorname{diag}(\varphi'(a_i)) = D_i^\top",
                r"\Big(\frac{\partial h_t}{\partial h_k}\Big)^{\top} = (J_t J_{t-1}\cdots J_{k+1})^\top = J_{k+1}^\top J_{k+2}^\top\cdots J_t^\top",
                r"J_i^\top = W_h^\top D_i^\top = W_h^\top D_i",
                r"\Rightarrow\ \Big(\frac{\partial h_t}{\partial h_k}\Big)^{\top} = (W_h^\top D_{k+1})(W_h^\top D_{k+2})\cdots(W_h^\top D_t) = \prod_{i=k+1}^{t} W_h^\top \operatorname{diag}(\varphi'(a_i))",
            ))
def _source_denominator():
    i, j = index("i"), index("j")
    W = sp.MatrixSymbol("W_h", _n, _n)
    D = sp.DiagMatrix(sp.MatrixSymbol("d", _n, 1))  # D = diag(phi'(a_(k+s))), any diagonal
    Q = sp.MatrixSymbol("Q", _n, _n)  # Q = N_(s-1) = J_(k+s-1) ... J_(k+1), any n x n matrix
    bounds = {i: _n, j: _n}
    return [("base case t-k=1, every n, entry (i, j): W_h^T D = (D W_h)^T",
             prove_entry_equal((W.T * D)[i, j], (D * W).T[i, j], bounds), sc.base_case(**{TK: 1})),
            ("induction step, every n, entry (i, j): P_(s-1) W_h^T D with P_(s-1) = Q^T equals (D W_h Q)^T",
             prove_entry_equal((Q.T * (W.T * D))[i, j], ((D * W) * Q).T[i, j], bounds), sc.INDUCTION_STEP)]


@derivation("rnn.bptt.source_form_numerator_reading", kind="refutation",
            title="The seed's product, read as a numerator-layout Jacobian, equals dh_t/dh_k",
            latex=r"\prod_{i=k+1}^{t} W_h^\top \operatorname{diag}(\varphi'(a_i)) \ne \frac{\partial h_t}{\partial h_k}\ \text{in general (already at } t-k=1)",
            seed=SEED_GRAD, primary=PASCANU + " (the same transpose inconsistency is in eq. 5)",
            layout=NUMERATOR, sizes=("n", TK),
            notes="Counterexample: W_h = [[0,1],[0,0]], diag(phi') = diag(1, 1/2): W_h^T D = [[0,0],[1,0]] but D W_h = [[0,1],[0,0]]. "
                  "Harmless for norm bounds (||A|| = ||A^T||), wrong for exact tests.",
            steps=(
                r"t - k = 1,\ n = 2:\quad W_h = e_1 e_2^\top \ (\text{only } (W_h)_{12} = 1),\qquad D = \operatorname{diag}(\varphi'(a_t)) = \operatorname{diag}\Big(1, \frac{1}{2}\Big)",
                r"\frac{\partial h_t}{\partial h_{t-1}} = D\,W_h = e_1 e_2^\top \quad (\text{only entry } (1,2) \text{ is } 1)",
                r"W_h^\top D = e_2\,(e_1^\top D) = e_2 e_1^\top \quad (\text{only entry } (2,1) \text{ is } 1)",
                r"\Rightarrow\ \prod_{i=t}^{t} W_h^\top \operatorname{diag}(\varphi'(a_i)) = W_h^\top D \ne D\,W_h = \frac{\partial h_t}{\partial h_{t-1}}",
            ))
def _source_numerator():
    W = sp.Matrix([[0, 1], [0, 0]])
    D = sp.diag(1, sp.Rational(1, 2))
    at = sc.at(n=2, **{TK: 1})
    return [("n=2, t-k=1: W^T D != D W at the counterexample", prove_true(sp.Ne(W.T * D, D * W)), at),
            ("n=2, t-k=1: D W is the true Jacobian there (D = diag(phi'), J = D W_h)",
             prove_equal(D * W, sp.Matrix([[0, 1], [0, 0]])), at)]


def _lemma_instances():
    """Instance checks of the two cited lemmas (they illustrate the lemmas; they do not prove them)."""
    d1, d2, lam = sp.symbols("d1 d2 lambda", real=True)
    D = sp.diag(d1, d2)
    A, B = sp.diag(1, sp.Rational(1, 2)), sp.Matrix([[0, 2], [1, 0]])
    return [("n=2: ||diag(d)||_2^2 = max_i d_i^2: the eigenvalues of D^T D are d_i^2",
             prove_equal((lam * sp.eye(2) - D.T * D).det(), (lam - d1 ** 2) * (lam - d2 ** 2)),
             sc.lemma_check(DIAG_SPECTRAL_NORM, n=2)),
            ("n=2: ||A B||_2 <= ||A||_2 ||B||_2 at A = diag(1, 1/2), B = [[0, 2], [1, 0]] (2 <= 1 * 2)",
             prove_true(sp.Le((A * B).norm(2), A.norm(2) * B.norm(2))), sc.lemma_check(SUBMULTIPLICATIVE, n=2))]


def _product_of_bounds():
    """0 <= x <= X, 0 <= y <= Y imply x y <= X y <= X Y: X Y - x y >= 0 with X = x + u, Y = y + w, u, w >= 0."""
    x, y, u, w = sp.symbols("x y u w", nonnegative=True)
    return prove_true(sp.Ge(sp.expand((x + u) * (y + w) - x * y), 0))


def _norm_bound():
    """The norm bound by induction on s = t - k, from the cited lemmas; every obligation is scoped."""
    eta, s = sp.symbols("eta s", positive=True)
    out = _lemma_instances()
    out += [(f"tanh (every x): {d}", r, sc.GENERAL) for d, r in activations._tanh_gamma()]
    out += [(f"relu (every x): {d}", r, sc.GENERAL) for d, r in activations._relu_gamma()]
    out += [
        ("base case t-k=1: ||J_(k+1)|| <= ||diag(phi'(a))|| ||W_h|| <= gamma ||W_h|| = eta (0 <= max|phi'| <= gamma, "
         "||W_h|| >= 0: a product of bounds of non-negatives)", _product_of_bounds(), sc.base_case(**{TK: 1})),
        ("induction step: ||J_t P_(s-1)|| <= ||J_t|| ||P_(s-1)|| <= (||D_t|| ||W_h||) prod_(i<t) ||D_i|| ||W_h|| "
         "and <= eta eta^(s-1): 0 <= x <= X, 0 <= y <= Y give x y <= X Y", _product_of_bounds(), sc.INDUCTION_STEP),
        ("induction step: eta * eta^(s-1) = eta^s (every s)", prove_equal(eta * eta ** (s - 1), eta ** s), sc.INDUCTION_STEP),
    ]
    return out


@derivation("rnn.bptt.norm_bound", title="Norm bound on the Jacobian across time",
            latex=r"\Big\|\frac{\partial h_t}{\partial h_k}\Big\|_2 \le \prod_{i=k+1}^{t}\|\operatorname{diag}(\varphi'(a_i))\|_2\,\|W_h\|_2 \le (\gamma\,\|W_h\|_2)^{t-k},\quad \gamma = \sup|\varphi'|",
            seed=SEED_GRAD, primary=PASCANU + ", eqs. 6-7", layout=NUMERATOR, sizes=("n", TK),
            lemmas=(SUBMULTIPLICATIVE, DIAG_SPECTRAL_NORM),
            assumptions=(SUBMULT + " (cited)", "||diag(d)||_2 = max_i |d_i| (cited)",
                         "||.||_2 is the spectral norm (the seed names no norm)",
                         "gamma = 1 for tanh and relu (act.tanh.gamma, act.relu.gamma), 1/4 for sigmoid"),
            steps=(
                r"\|J_i\|_2 = \|\operatorname{diag}(\varphi'(a_i))\,W_h\|_2 \le \|\operatorname{diag}(\varphi'(a_i))\|_2\,\|W_h\|_2",
                r"\|\operatorname{diag}(d)\|_2 = \sqrt{\lambda_{\max}(\operatorname{diag}(d)^\top\operatorname{diag}(d))} = \max_j |d_j|\ \Rightarrow\ \|\operatorname{diag}(\varphi'(a_i))\|_2 \le \gamma",
                r"P_s = J_{k+s}\cdots J_{k+1}:\quad \|P_s\|_2 = \|J_{k+s}P_{s-1}\|_2 \le \|J_{k+s}\|_2\,\|P_{s-1}\|_2 \le \eta\cdot\eta^{s-1} = \eta^{s},\quad \eta = \gamma\,\|W_h\|_2",
                r"\Rightarrow\ \Big\|\frac{\partial h_t}{\partial h_k}\Big\|_2 \le \prod_{i=k+1}^{t}\|\operatorname{diag}(\varphi'(a_i))\|_2\,\|W_h\|_2 \le (\gamma\,\|W_h\|_2)^{t-k},\qquad \gamma_{\tanh} = \gamma_{\operatorname{relu}} = 1",
            ))
def _bound():
    return _norm_bound()


@derivation("rnn.bptt.vanishing_sufficient", title="||W_h||_2 < 1/gamma implies vanishing gradients",
            latex=r"\|W_h\|_2 < \tfrac{1}{\gamma} \implies \Big\|\frac{\partial h_t}{\partial h_k}\Big\|_2 \le \eta^{t-k} \xrightarrow[t-k\to\infty]{} 0,\quad \eta = \gamma\|W_h\|_2 < 1",
            seed=SEED_GRAD + " (‖W_hh‖<1 → 消失: true for tanh/relu, gamma = 1)", primary=PASCANU + ", §2.2 (sufficient condition)",
            sizes=("n", TK), lemmas=(SUBMULTIPLICATIVE, DIAG_SPECTRAL_NORM),
            assumptions=(SUBMULT + " (cited)", "||diag(d)||_2 = max_i |d_i| (cited)", "spectral norm"),
            steps=(
                r"\|W_h\|_2 < \frac{1}{\gamma}\ \Rightarrow\ \eta = \gamma\,\|W_h\|_2 < 1",
                r"\Big\|\frac{\partial h_t}{\partial h_k}\Big\|_2 \le \eta^{t-k}\quad (\text{the norm bound})",
                r"0 < \eta < 1:\ \eta = \frac{1}{1+\varepsilon},\ \varepsilon > 0,\quad \eta^{s} = (1+\varepsilon)^{-s} \to 0 \ (s = t - k \to \infty);\ \eta = 0 \text{ is trivial}",
            ))
def _vanishing():
    eps, s = sp.symbols("epsilon s", positive=True)
    eta = 1 / (1 + eps)  # every eta in (0, 1)
    return _norm_bound() + [("eta^s -> 0 as s -> oo for every 0 < eta < 1", prove_equal(sp.limit(eta ** s, s, sp.oo), 0),
                             sc.GENERAL)]


@derivation("rnn.bptt.exploding_necessary", title="Exploding gradients require ||W_h||_2 > 1/gamma",
            latex=r"\sup_{t}\Big\|\frac{\partial h_t}{\partial h_k}\Big\|_2 = \infty \implies \|W_h\|_2 > \tfrac{1}{\gamma}",
            seed=SEED_GRAD, primary=PASCANU + ", §2.2 (necessary condition)",
            sizes=("n", TK), lemmas=(SUBMULTIPLICATIVE, DIAG_SPECTRAL_NORM),
            assumptions=(SUBMULT + " (cited)", "||diag(d)||_2 = max_i |d_i| (cited)", "spectral norm"),
            notes="Only necessary: rnn.claim.exploding_norm_gt_1 shows ||W_h|| > 1 does not imply exploding.",
            steps=(
                r"\text{contrapositive:}\ \|W_h\|_2 \le \frac{1}{\gamma}\ \Rightarrow\ \eta = \gamma\,\|W_h\|_2 \le 1",
                r"0 < \eta \le 1:\ \eta = \frac{1}{1+\varepsilon},\ \varepsilon \ge 0,\quad \ln \eta^{s} = -s\,\ln(1+\varepsilon) \le 0\ \Rightarrow\ \eta^{s} \le 1",
                r"\Rightarrow\ \sup_t \Big\|\frac{\partial h_t}{\partial h_k}\Big\|_2 \le \sup_t \eta^{t-k} \le 1 < \infty",
            ))
def _exploding():
    eps, s = sp.symbols("epsilon s", nonnegative=True)
    log_bound = -s * sp.log(1 + eps)  # log eta^s with eta = 1/(1+eps) <= 1
    return _norm_bound() + [("contrapositive: eta = 1/(1 + eps) <= 1 gives log(eta^s) = -s log(1 + eps) <= 0, so the "
                             "bound stays <= 1 (every s, eps >= 0)", prove_true(sp.Le(log_bound, 0)), sc.GENERAL)]


@derivation("rnn.claim.exploding_norm_gt_1", kind="refutation",
            title="||W_hh|| > 1 means exploding gradients (the seed's claim)",
            latex=r"\|W_h\|_2 > 1 \not\Rightarrow \Big\|\frac{\partial h_t}{\partial h_k}\Big\|_2 \to \infty",
            seed=SEED_GRAD, primary=PASCANU + " (only a necessary condition)", sizes=("n", TK),
            notes=("Counterexample families, exact for every t > k: (1) saturated tanh: n = 1, W_h = 2, W_x x = 0, b = 3: "
                   "a_i = 2h_{i-1} + 3 > 1, so |J_i| = 2(1 - tanh^2 a_i) < 2(1 - tanh^2 1) < 0.84 and |dh_t/dh_k| < 0.84^(t-k) -> 0 "
                   "(vanishing although ||W_h|| = 2). (2) dead relu: n = 1, W_h = 2, W_x x = 0, b = -1, h_0 = 0: "
                   "every a_i = -1, J_i = relu'(-1) 2 = 0, so dh_t/dh_k = 0."),
            steps=(
                r"\tanh,\ n = 1,\ W_h = 2,\ W_x x_i = 0,\ b = 3,\ h_{i-1} \in (-1, 1):\quad a_i = 2h_{i-1} + 3 > 2\cdot(-1) + 3 = 1",
                r"|J_i| = 2\,(1 - \tanh^2 a_i) < 2\,(1 - \tanh^2 1) \approx 0.8399 < 0.84 \quad (1 - \tanh^2 \text{ decreases on } a > 0)",
                r"\Big|\frac{\partial h_t}{\partial h_k}\Big| = \prod_{i=k+1}^{t} |J_i| < 0.84^{\,t-k} \to 0,\quad \text{although } \|W_h\|_2 = 2 > 1",
                r"\operatorname{relu},\ n = 1,\ W_h = 2,\ W_x x_i = 0,\ b = -1,\ h_0 = 0:\quad a_i = 2\cdot 0 - 1 = -1,\ h_i = \operatorname{relu}(-1) = 0",
                r"J_i = \operatorname{relu}'(-1)\cdot 2 = 0\ \Rightarrow\ \frac{\partial h_t}{\partial h_k} = 0 \ \text{ for every } t > k",
            ))
def _claim_exploding():
    a, e = sp.Symbol("a", positive=True), sp.Symbol("e", positive=True)
    scalar = [
        ("h_{i-1} = -1 + e with e > 0 (act.tanh.range) gives a_i - 1 = 2h_{i-1} + 3 - 1 > 0",
         prove_positive(2 * (-1 + e) + 3 - 1)),
        ("1 - tanh^2 decreases on a > 0: -(d/da)(1 - tanh^2 a) = 8 tanh(a)/(e^a + e^-a)^2",
         prove_equal(-sp.diff(1 - sp.tanh(a) ** 2, a), 8 * sp.tanh(a) / (sp.exp(a) + sp.exp(-a)) ** 2)),
        ("8 tanh(a)/(e^a + e^-a)^2 > 0 for a > 0", prove_positive(8 * sp.tanh(a) / (sp.exp(a) + sp.exp(-a)) ** 2)),
        ("2 (1 - tanh^2 1) < 0.84 < 1", prove_true(sp.Lt(2 * (1 - sp.tanh(1) ** 2), sp.Rational(84, 100)))),
        ("dead relu: a_1 = 2*0 - 1 = -1 and h_1 = relu(-1) = 0 = h_0, so every step repeats", prove_equal(relu(2 * 0 - 1), 0)),
        ("dead relu: J_i = relu'(-1) * 2 = 0", prove_equal(sp.Heaviside(-1, 0) * 2, 0)),
        ("||W_h||_2 = 2 > 1 in both families", prove_true(sp.Gt(2, 1))),
    ]
    # the counterexamples are at n = 1 and hold for every t - k (general in t - k: scalar facts per step)
    return [(f"n=1: {d}", r, sc.at(n=1)) for d, r in scalar]
