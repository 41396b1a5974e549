"""Backpropagation through time for the vanilla RNN: unrolling, the Jacobian product, norm bounds.

Conventions: column vectors; numerator layout; products latest-left,
dh_t/dh_k = J_t J_{t-1} ... J_{k+1}, J_i = diag(phi'(a_i)) W_h, a_i the step-i pre-activation.
Backprop (denominator layout) uses the transpose. The seed's prod_{i=k+1}^{t} W_hh^T diag(tanh'),
read with i increasing left to right, is exactly that transpose: right in denominator layout,
wrong as a numerator-layout Jacobian. The seed names no layout; both readings are recorded here.

Never expanded past small T: one-step kernels are proved, the chain rule is proved as a product
identity (explicitly at T = 3 and by an induction step for every T), long chains run numerically.

Seed: §1 (时间展开, BPTT), §2 梯度消失/爆炸问题.
Primary: Werbos (1990), Proc. IEEE 78(10); Pascanu, Mikolov & Bengio (2013), ICML.
"""
from __future__ import annotations

import sympy as sp

from . import activations
from .functions import phi, phi_prime, relu
from .matrices import mat, vec_rows
from .prove import prove_equal, prove_positive, prove_true
from .registry import derivation

SEED_UNROLL = "seed §1 基础RNN: 时间展开 (unrolling), BPTT"
SEED_GRAD = "seed §2 梯度消失/爆炸问题: ∂h_t/∂h_k = ∏_{i=k+1}^{t} W_hh^T diag(tanh'(·)); ‖W_hh‖<1 → 消失, ‖W_hh‖>1 → 爆炸"
WERBOS = "Werbos (1990), Backpropagation through time: what it does and how to do it, Proc. IEEE 78(10)"
PASCANU = activations.PASCANU
NUMERATOR = "numerator: (dy/dx)[i, j] = dy_i / dx_j; products latest-left"
SUBMULT = "the induced 2-norm is submultiplicative, ||AB||_2 <= ||A||_2 ||B||_2 (Horn & Johnson, Matrix Analysis, 5.6)"


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
            seed=SEED_UNROLL, primary=WERBOS,
            notes="The unrolled network is a T-layer feed-forward network whose layers share theta.",
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
             prove_equal(b["hs"][T].xreplace(same), a["hs"][T]))]


@derivation("rnn.bptt.shared_weight_gradient", title="The gradient of a shared weight is the sum of the per-step gradients",
            latex=r"\frac{\partial L}{\partial \theta} = \sum_{t=1}^{T} \frac{\partial L}{\partial \theta^{(t)}}\Big|_{\theta^{(t)} = \theta}",
            seed=SEED_UNROLL, primary=WERBOS, assumptions=("proved at explicit T = 2, 3 with n = 2, m = 1, generic phi",),
            steps=(
                r"\theta \mapsto (\theta^{(1)}, \ldots, \theta^{(T)}) = (\theta, \ldots, \theta),\qquad \frac{\partial \theta^{(t)}}{\partial \theta} = I",
                r"\frac{\partial L}{\partial \theta} = \sum_{t=1}^{T} \frac{\partial L}{\partial \theta^{(t)}}\,\frac{\partial \theta^{(t)}}{\partial \theta} = \sum_{t=1}^{T} \frac{\partial L}{\partial \theta^{(t)}}\Big|_{\theta^{(t)} = \theta}",
            ))
def _shared():
    out = []
    for T in (2, 3):
        n, m = 2, 1
        a, b = unroll(T, n, m), unroll(T, n, m, copies=True)
        La, _, _ = loss(a, T, n)
        Lb, _, _ = loss(b, T, n)
        same = {sym: s for p in b["params"] for k, M in p.items() for sym, s in zip(M, a["shared"][k])}
        for k in ("W_h", "W_x", "b"):
            per_step = sum((_grad(Lb, b["params"][t][k]) for t in range(T)), sp.zeros(len(a["shared"][k]), 1))
            out.append((f"T={T}: dL/d{k} = sum_t dL/d{k}^(t)", prove_equal(_grad(La, a["shared"][k]), per_step.xreplace(same))))
    return out


@derivation("rnn.bptt.gradient", title="BPTT: the backward recursion and the parameter gradients",
            latex=(r"\delta_T = d_T + d'_T,\ \ \delta_{t-1} = d_{t-1} + W_h^\top(\varphi'(a_t)\odot\delta_t),\ \ "
                   r"\frac{\partial L}{\partial W_h} = \sum_t (\varphi'(a_t)\odot\delta_t)\,h_{t-1}^\top,\ "
                   r"\frac{\partial L}{\partial W_x} = \sum_t (\varphi'(a_t)\odot\delta_t)\,x_t^\top,\ "
                   r"\frac{\partial L}{\partial b} = \sum_t \varphi'(a_t)\odot\delta_t,\ "
                   r"\frac{\partial L}{\partial x_t} = W_x^\top(\varphi'(a_t)\odot\delta_t),\ "
                   r"\frac{\partial L}{\partial h_0} = W_h^\top(\varphi'(a_1)\odot\delta_1)"),
            seed=SEED_UNROLL, primary=WERBOS, layout="denominator (gradients, as backprop computes them)",
            assumptions=("L = sum_t <d_t, h_t> + <d'_T, h_T> (the protocol's rnn_vjp cotangents)",
                         "proved at explicit T = 3, n = 2, m = 1, generic phi; the recursion is the per-step "
                         "rnn.cell.jacobian_* VJPs chained"),
            steps=(
                r"L = \sum_{t=1}^{T} \langle d_t, h_t\rangle + \langle d'_T, h_T\rangle,\qquad h_t = \varphi(a_t),\ a_t = W_x x_t + W_h h_{t-1} + b",
                r"\delta_t := \frac{\partial L}{\partial h_t}:\quad \delta_T = d_T + d'_T,\qquad \delta_{t-1} = d_{t-1} + \Big(\frac{\partial h_t}{\partial h_{t-1}}\Big)^{\top}\delta_t = d_{t-1} + W_h^\top(\varphi'(a_t)\odot\delta_t)",
                r"\frac{\partial L}{\partial a_t} = \Big(\frac{\partial h_t}{\partial a_t}\Big)^{\top}\delta_t = \varphi'(a_t)\odot\delta_t",
                r"\frac{\partial L}{\partial W_h} = \sum_{t=1}^{T} (\varphi'(a_t)\odot\delta_t)\,h_{t-1}^\top,\quad \frac{\partial L}{\partial W_x} = \sum_{t=1}^{T} (\varphi'(a_t)\odot\delta_t)\,x_t^\top,\quad \frac{\partial L}{\partial b} = \sum_{t=1}^{T} \varphi'(a_t)\odot\delta_t",
                r"\frac{\partial L}{\partial x_t} = W_x^\top(\varphi'(a_t)\odot\delta_t),\qquad \frac{\partial L}{\partial h_0} = W_h^\top(\varphi'(a_1)\odot\delta_1)",
            ))
def _gradient():
    T, n, m = 3, 2, 1
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
        ("dL/dW_h = sum_t (phi'(a_t)∘delta_t) h_{t-1}^T",
         prove_equal(_grad(L, W_h), vec_rows(sum((g[t] * net["hs"][t - 1].T for t in range(1, T + 1)), sp.zeros(n, n))))),
        ("dL/dW_x = sum_t (phi'(a_t)∘delta_t) x_t^T",
         prove_equal(_grad(L, W_x), vec_rows(sum((g[t] * net["xs"][t - 1].T for t in range(1, T + 1)), sp.zeros(n, m))))),
        ("dL/db = sum_t phi'(a_t)∘delta_t", prove_equal(_grad(L, net["shared"]["b"]), sum((g[t] for t in range(1, T + 1)), sp.zeros(n, 1)))),
        ("dL/dh_0 = W_h^T (phi'(a_1)∘delta_1)", prove_equal(_grad(L, net["h0"]), W_h.T * g[1])),
    ]
    for t in range(1, T + 1):
        out.append((f"dL/dx_{t} = W_x^T (phi'(a_{t})∘delta_{t})", prove_equal(_grad(L, net["xs"][t - 1]), W_x.T * g[t])))
    return out


def _J(net, i):
    """J_i = diag(phi'(a_i)) W_h on the explicit net (i = 1..T)."""
    return sp.diag(*net["pres"][i - 1].applyfunc(phi_prime)) * net["shared"]["W_h"]


@derivation("rnn.bptt.jacobian_product", title="The Jacobian across time is the latest-left product of one-step Jacobians",
            latex=r"\frac{\partial h_t}{\partial h_k} = J_t J_{t-1}\cdots J_{k+1},\qquad J_i = \operatorname{diag}(\varphi'(a_i))\,W_h",
            seed=SEED_GRAD, primary=PASCANU + ", eq. 5 (transposed there)", layout=NUMERATOR,
            assumptions=("explicit at t - k = 1, 2, 3 (n = 2, m = 1) and, for every T, by the induction step "
                         "d phi(W_x x + W_h F(h_k) + b)/dh_k = J_t dF/dh_k with F undefined (n = 2, 3)",),
            steps=(
                r"h_i = \varphi(a_i),\ a_i = W_x x_i + W_h h_{i-1} + b:\qquad J_i = \frac{\partial h_i}{\partial h_{i-1}} = \operatorname{diag}(\varphi'(a_i))\,W_h",
                r"t = k+1:\quad \frac{\partial h_{k+1}}{\partial h_k} = J_{k+1}",
                r"\frac{\partial h_t}{\partial h_k} = \frac{\partial h_t}{\partial h_{t-1}}\,\frac{\partial h_{t-1}}{\partial h_k} = J_t\,\frac{\partial h_{t-1}}{\partial h_k}",
                r"= J_t\,(J_{t-1}\cdots J_{k+1}) = J_t J_{t-1}\cdots J_{k+1}",
            ))
def _product():
    out = []
    n, m = 2, 1
    for span in (1, 2, 3):  # t - k = span; the recursion is time-invariant, so k = 0 loses nothing
        net = unroll(span, n, m)
        P = sp.eye(n)
        for i in range(1, span + 1):
            P = _J(net, i) * P
        out.append((f"t-k={span}: dh_t/dh_k = J_t ... J_(k+1)", prove_equal(net["hs"][span].jacobian(net["h0"]), P)))
    for n in (2, 3):
        h0 = mat("h0", n, 1)
        F = sp.Matrix([sp.Function(f"F{i}")(*h0) for i in range(n)])
        W_h, W_x, b, x = mat("Wh", n, n), mat("Wx", n, 1), mat("b", n, 1), mat("x", 1, 1)
        a = W_x * x + W_h * F + b
        J = sp.diag(*a.applyfunc(phi_prime)) * W_h
        out.append((f"induction step (every T), n={n}: d h_t/d h_k = J_t (d h_{{t-1}}/d h_k)",
                    prove_equal(a.applyfunc(phi).jacobian(h0), J * F.jacobian(h0))))
    return out


@derivation("rnn.bptt.source_form_denominator", title="The seed's product is the transpose: right in denominator layout",
            latex=r"\prod_{i=k+1}^{t} W_h^\top \operatorname{diag}(\varphi'(a_i)) \;(i \text{ increasing left to right}) = (J_t\cdots J_{k+1})^\top = \Big(\frac{\partial h_t}{\partial h_k}\Big)^{\!\top}",
            seed=SEED_GRAD, primary=PASCANU + ", eq. 5", layout="denominator (backprop): (dh_t/dh_k)^T",
            notes="The seed names no layout. Read as a numerator-layout Jacobian it is wrong "
                  "(rnn.bptt.source_form_numerator_reading); as the backprop (denominator) form it is exact.",
            steps=(
                r"J_i = D_i W_h,\qquad D_i = \operatorname{diag}(\varphi'(a_i)) = D_i^\top",
                r"\Big(\frac{\partial h_t}{\partial h_k}\Big)^{\top} = (J_t J_{t-1}\cdots J_{k+1})^\top = J_{k+1}^\top J_{k+2}^\top\cdots J_t^\top",
                r"J_i^\top = W_h^\top D_i^\top = W_h^\top D_i",
                r"\Rightarrow\ \Big(\frac{\partial h_t}{\partial h_k}\Big)^{\top} = (W_h^\top D_{k+1})(W_h^\top D_{k+2})\cdots(W_h^\top D_t) = \prod_{i=k+1}^{t} W_h^\top \operatorname{diag}(\varphi'(a_i))",
            ))
def _source_denominator():
    n = 2
    W = mat("W", n, n)
    Ds = [sp.diag(*mat(f"p{i}", n, 1)) for i in range(1, 4)]
    out = []
    for span in (1, 2, 3):
        numerator = sp.eye(n)
        source = sp.eye(n)
        for i in range(span):
            numerator = (Ds[i] * W) * numerator
            source = source * (W.T * Ds[i])
        out.append((f"t-k={span}: prod_(i increasing) W^T D_i = (J_t...J_(k+1))^T", prove_equal(source, numerator.T)))
    return out


@derivation("rnn.bptt.source_form_numerator_reading", kind="refutation",
            title="Read as a numerator-layout Jacobian, the seed's product is wrong",
            latex=r"\prod_{i=k+1}^{t} W_h^\top \operatorname{diag}(\varphi'(a_i)) \ne \frac{\partial h_t}{\partial h_k}\ \text{in general (already at } t-k=1)",
            seed=SEED_GRAD, primary=PASCANU + " (the same transpose inconsistency is in eq. 5)",
            layout=NUMERATOR,
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
    return [("W^T D != D W at the counterexample", prove_true(sp.Ne(W.T * D, D * W))),
            ("D W is the true Jacobian there (D = diag(phi'), J = D W_h)", prove_equal(D * W, sp.Matrix([[0, 1], [0, 0]])))]


def _diag_norm():
    d1, d2, lam = sp.symbols("d1 d2 lambda", real=True)
    D = sp.diag(d1, d2)
    return [("||diag(d)||_2^2 = max_i d_i^2: the eigenvalues of D^T D are d_i^2 (n=2)",
             prove_equal((lam * sp.eye(2) - D.T * D).det(), (lam - d1 ** 2) * (lam - d2 ** 2)))]


def _norm_bound():
    out = _diag_norm()
    out += [(f"tanh: {d}", r) for d, r in activations._tanh_gamma()]
    out += [(f"relu: {d}", r) for d, r in activations._relu_gamma()]
    eta, s = sp.symbols("eta s", positive=True)
    out.append(("induction: ||J_t P|| <= eta * eta^(s-1) = eta^s", prove_equal(eta * eta ** (s - 1), eta ** s)))
    return out


@derivation("rnn.bptt.norm_bound", title="Norm bound on the Jacobian across time",
            latex=r"\Big\|\frac{\partial h_t}{\partial h_k}\Big\|_2 \le \prod_{i=k+1}^{t}\|\operatorname{diag}(\varphi'(a_i))\|_2\,\|W_h\|_2 \le (\gamma\,\|W_h\|_2)^{t-k},\quad \gamma = \sup|\varphi'|",
            seed=SEED_GRAD, primary=PASCANU + ", eqs. 6-7", layout=NUMERATOR,
            assumptions=(SUBMULT, "||.||_2 is the spectral norm (the seed names no norm)",
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
            assumptions=(SUBMULT, "spectral norm"),
            steps=(
                r"\|W_h\|_2 < \frac{1}{\gamma}\ \Rightarrow\ \eta = \gamma\,\|W_h\|_2 < 1",
                r"\Big\|\frac{\partial h_t}{\partial h_k}\Big\|_2 \le \eta^{t-k}\quad (\text{the norm bound})",
                r"0 < \eta < 1:\ \eta = \frac{1}{1+\varepsilon},\ \varepsilon > 0,\quad \eta^{s} = (1+\varepsilon)^{-s} \to 0 \ (s = t - k \to \infty);\ \eta = 0 \text{ is trivial}",
            ))
def _vanishing():
    eps, s = sp.symbols("epsilon s", positive=True)
    eta = 1 / (1 + eps)  # every eta in (0, 1)
    return _norm_bound() + [("eta^s -> 0 as s -> oo for 0 < eta < 1", prove_equal(sp.limit(eta ** s, s, sp.oo), 0))]


@derivation("rnn.bptt.exploding_necessary", title="Exploding gradients require ||W_h||_2 > 1/gamma",
            latex=r"\sup_{t}\Big\|\frac{\partial h_t}{\partial h_k}\Big\|_2 = \infty \implies \|W_h\|_2 > \tfrac{1}{\gamma}",
            seed=SEED_GRAD, primary=PASCANU + ", §2.2 (necessary condition)",
            assumptions=(SUBMULT, "spectral norm"),
            notes="Only necessary: rnn.claim.exploding_norm_gt_1 shows ||W_h|| > 1 does not imply exploding.",
            steps=(
                r"\text{contrapositive:}\ \|W_h\|_2 \le \frac{1}{\gamma}\ \Rightarrow\ \eta = \gamma\,\|W_h\|_2 \le 1",
                r"0 < \eta \le 1:\ \eta = \frac{1}{1+\varepsilon},\ \varepsilon \ge 0,\quad \ln \eta^{s} = -s\,\ln(1+\varepsilon) \le 0\ \Rightarrow\ \eta^{s} \le 1",
                r"\Rightarrow\ \sup_t \Big\|\frac{\partial h_t}{\partial h_k}\Big\|_2 \le \sup_t \eta^{t-k} \le 1 < \infty",
            ))
def _exploding():
    eps, s = sp.symbols("epsilon s", nonnegative=True)
    log_bound = -s * sp.log(1 + eps)  # log eta^s with eta = 1/(1+eps) <= 1
    return _norm_bound() + [("contrapositive: eta <= 1 gives log(eta^s) <= 0, so the bound stays <= 1",
                             prove_true(log_bound.is_nonpositive is True))]


@derivation("rnn.claim.exploding_norm_gt_1", kind="refutation",
            title="The seed's '||W_hh|| > 1 means exploding gradients' is false",
            latex=r"\|W_h\|_2 > 1 \not\Rightarrow \Big\|\frac{\partial h_t}{\partial h_k}\Big\|_2 \to \infty",
            seed=SEED_GRAD, primary=PASCANU + " (only a necessary condition)",
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
    return [
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
