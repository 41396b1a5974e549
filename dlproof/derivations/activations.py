"""Activations: derivatives, ranges, tanh via sigmoid, and the bound gamma = sup |phi'|.

Every statement is scalar (one real x, no dimension): ``sizes=()``, so each is proved for every x.

Seed: §1 (h_t = tanh(...)) and §2 (tanh' in the Jacobian product).
Primary: Pascanu, Mikolov & Bengio (2013), On the difficulty of training RNNs, §2.2 (gamma = 1 for
tanh, 1/4 for sigmoid).
"""
from __future__ import annotations

import sympy as sp

from .functions import relu, sigmoid
from .prove import prove_equal, prove_positive, prove_true, prove_zero
from .registry import derivation

SEED_ACT = "seed §1 基础RNN (h_t = tanh(·)), §2 梯度消失/爆炸问题 (tanh')"
PASCANU = "Pascanu, Mikolov & Bengio (2013), On the difficulty of training recurrent neural networks, ICML, §2.2"
x = sp.Symbol("x", real=True)
xp = sp.Symbol("x", positive=True)
xn = sp.Symbol("x", negative=True)


@derivation("act.sigmoid.derivative", title="Derivative of the logistic sigmoid",
            latex=r"\sigma'(x) = \sigma(x)\,(1-\sigma(x)),\quad \sigma(x) = \frac{1}{1+e^{-x}}",
            seed=SEED_ACT, sizes=(), primary="Rumelhart, Hinton & Williams (1986), Nature 323",
            steps=(
                r"\sigma(x) = (1+e^{-x})^{-1},\qquad 1 - \sigma(x) = \frac{e^{-x}}{1+e^{-x}}",
                r"\sigma'(x) = -(1+e^{-x})^{-2}\cdot\frac{d}{dx}(1+e^{-x}) = \frac{e^{-x}}{(1+e^{-x})^2}",
                r"= \frac{1}{1+e^{-x}}\cdot\frac{e^{-x}}{1+e^{-x}} = \sigma(x)\,(1-\sigma(x))",
            ))
def _sigmoid_derivative():
    by_definition = sp.diff(1 / (1 + sp.exp(-x)), x)
    s = sigmoid(x)
    return [
        ("d/dx 1/(1+e^{-x}) = s(1-s) with s = 1/(1+e^{-x})", prove_equal(by_definition, (s * (1 - s)).rewrite(sp.exp))),
        ("the opaque sigmoid's fdiff agrees with the definition",
         prove_equal(sp.diff(s, x).rewrite(sp.exp), by_definition)),
    ]


@derivation("act.tanh.derivative", title="Derivative of tanh",
            latex=r"\tanh'(x) = 1 - \tanh^2(x)", seed=SEED_ACT, sizes=(),
            primary="Abramowitz & Stegun (1964), 4.5.19",
            steps=(
                r"\tanh(x) = \frac{e^x - e^{-x}}{e^x + e^{-x}}",
                r"\tanh'(x) = \frac{(e^x + e^{-x})(e^x + e^{-x}) - (e^x - e^{-x})(e^x - e^{-x})}{(e^x + e^{-x})^2}",
                r"= 1 - \Big(\frac{e^x - e^{-x}}{e^x + e^{-x}}\Big)^2 = 1 - \tanh^2(x)",
            ))
def _tanh_derivative():
    by_definition = sp.diff((sp.exp(x) - sp.exp(-x)) / (sp.exp(x) + sp.exp(-x)), x)
    return [("d/dx (e^x-e^-x)/(e^x+e^-x) = 1 - tanh^2 x", prove_equal(by_definition, (1 - sp.tanh(x) ** 2).rewrite(sp.exp)))]


@derivation("act.relu.derivative", title="Derivative of relu, with relu'(0) declared 0",
            latex=r"\operatorname{relu}'(x) = H(x) = \begin{cases}1 & x>0\\ 0 & x \le 0\end{cases}",
            seed=SEED_ACT, sizes=(), primary="Nair & Hinton (2010), ICML; torch.nn.ReLU backward (relu'(0) = 0)",
            assumptions=("relu is not differentiable at 0; relu'(0) := 0 is a declared convention "
                         "(as in torch); finite differences stay away from the kink",),
            steps=(
                r"\operatorname{relu}(x) = \max(0, x) = x \ \text{ for } x > 0,\qquad \operatorname{relu}(x) = 0 \ \text{ for } x < 0",
                r"x > 0:\ \operatorname{relu}'(x) = \frac{d}{dx}\,x = 1 = H(x),\qquad x < 0:\ \operatorname{relu}'(x) = \frac{d}{dx}\,0 = 0 = H(x)",
                r"x = 0:\ \text{no derivative (the one-sided slopes are 0 and 1)};\ \operatorname{relu}'(0) := H(0) = 0 \ \text{by convention}",
            ))
def _relu_derivative():
    pw = relu(x).rewrite(sp.Piecewise)
    return [
        ("x > 0: d/dx relu(x) = 1 = H(x)", prove_equal(sp.diff(pw.subs(x, xp), xp), sp.Heaviside(xp, 0))),
        ("x < 0: d/dx relu(x) = 0 = H(x)", prove_equal(sp.diff(pw.subs(x, xn), xn), sp.Heaviside(xn, 0))),
        ("the opaque relu's fdiff is H(x) with H(0) = 0", prove_equal(sp.diff(relu(x), x).subs(x, 0), 0)),
    ]


@derivation("act.sigmoid.range", title="sigmoid maps the reals into (0, 1)",
            latex=r"0 < \sigma(x) < 1 \quad \forall x \in \mathbb{R}", seed=SEED_ACT, sizes=(),
            primary="Gers, Schmidhuber & Cummins (2000), Neural Computation 12(10) (gates in (0,1))",
            notes="Over the reals. In float32, sigmoid rounds to exactly 1.0 for x above about 17.",
            steps=(
                r"\sigma(x) = \frac{1}{1+e^{-x}} > 0 \quad (e^{-x} > 0)",
                r"1 - \sigma(x) = \frac{e^{-x}}{1+e^{-x}} > 0 \ \Rightarrow\ \sigma(x) < 1",
            ))
def _sigmoid_range():
    s = 1 / (1 + sp.exp(-x))
    return [("sigma(x) > 0", prove_positive(s)),
            ("1 - sigma(x) = e^{-x}/(1+e^{-x})", prove_equal(1 - s, sp.exp(-x) / (1 + sp.exp(-x)))),
            ("e^{-x}/(1+e^{-x}) > 0", prove_positive(sp.exp(-x) / (1 + sp.exp(-x))))]


@derivation("act.tanh.range", title="tanh maps the reals into (-1, 1)",
            latex=r"-1 < \tanh(x) < 1 \quad \forall x \in \mathbb{R}", seed=SEED_ACT, sizes=(),
            primary="Abramowitz & Stegun (1964), 4.5",
            steps=(
                r"1 - \tanh(x) = \frac{2}{1+e^{2x}} > 0 \ \Rightarrow\ \tanh(x) < 1",
                r"1 + \tanh(x) = \frac{2e^{2x}}{1+e^{2x}} > 0 \ \Rightarrow\ \tanh(x) > -1",
            ))
def _tanh_range():
    t = sp.tanh(x)
    return [("1 - tanh x = 2/(1+e^{2x})", prove_equal(1 - t, 2 / (1 + sp.exp(2 * x)))),
            ("2/(1+e^{2x}) > 0", prove_positive(2 / (1 + sp.exp(2 * x)))),
            ("1 + tanh x = 2e^{2x}/(1+e^{2x})", prove_equal(1 + t, 2 * sp.exp(2 * x) / (1 + sp.exp(2 * x)))),
            ("2e^{2x}/(1+e^{2x}) > 0", prove_positive(2 * sp.exp(2 * x) / (1 + sp.exp(2 * x))))]


@derivation("act.relu.range", title="relu maps the reals onto [0, inf)",
            latex=r"\operatorname{relu}(x) \ge 0,\ \operatorname{relu}(x) = x \text{ for } x \ge 0",
            seed=SEED_ACT, sizes=(), primary="Nair & Hinton (2010), ICML",
            steps=(
                r"x < 0:\ \operatorname{relu}(x) = \max(0, x) = 0",
                r"x \ge 0:\ \operatorname{relu}(x) = \max(0, x) = x \ge 0",
                r"\Rightarrow\ \operatorname{relu}(x) \ge 0 \ \text{ for every } x \in \mathbb{R}",
            ))
def _relu_range():
    return [("x < 0: relu(x) = 0", prove_equal(relu(xn), 0)),
            ("x > 0: relu(x) = x > 0", prove_positive(relu(xp))),
            ("relu(0) = 0", prove_equal(relu(sp.S.Zero), 0))]


@derivation("act.tanh_via_sigmoid", title="tanh is a rescaled sigmoid",
            latex=r"\tanh(x) = 2\,\sigma(2x) - 1", seed=SEED_ACT, sizes=(),
            primary="Goodfellow, Bengio & Courville (2016), Deep Learning, eq. 6.4 context",
            steps=(
                r"2\,\sigma(2x) - 1 = \frac{2}{1+e^{-2x}} - 1 = \frac{1 - e^{-2x}}{1 + e^{-2x}}",
                r"= \frac{e^{x}(1 - e^{-2x})}{e^{x}(1 + e^{-2x})} = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}} = \tanh(x)",
            ))
def _tanh_sigmoid():
    return [("tanh x - (2 sigma(2x) - 1) = 0", prove_zero(sp.tanh(x) - (2 * sigmoid(2 * x) - 1)))]


@derivation("act.sigmoid.gamma", title="sup |sigma'| = 1/4",
            latex=r"|\sigma'(x)| \le \gamma_\sigma = \tfrac14,\ \text{attained at } x=0", seed=SEED_ACT, sizes=(),
            primary=PASCANU,
            steps=(
                r"\sigma'(x) = \sigma(x)\,(1-\sigma(x)) > 0 \quad (0 < \sigma(x) < 1)",
                r"\frac{1}{4} - \sigma(1-\sigma) = \sigma^2 - \sigma + \frac{1}{4} = \Big(\sigma - \frac{1}{2}\Big)^2 \ge 0",
                r"\Rightarrow\ |\sigma'(x)| = \sigma'(x) \le \frac{1}{4}",
                r"\sigma(0) = \frac{1}{2}\ \Rightarrow\ \sigma'(0) = \frac{1}{2}\cdot\frac{1}{2} = \frac{1}{4}",
            ))
def _sigmoid_gamma():
    s = sigmoid(x)
    dphi = sp.diff(s, x)
    return [("1/4 - s(1-s) = (s - 1/2)^2", prove_equal(sp.Rational(1, 4) - dphi, (s - sp.Rational(1, 2)) ** 2)),
            ("sigma'(x) = sigma(x)(1-sigma(x)) > 0", prove_positive(dphi)),
            ("attained at x = 0", prove_equal(dphi.subs(x, 0), sp.Rational(1, 4)))]


@derivation("act.tanh.gamma", title="sup |tanh'| = 1",
            latex=r"|\tanh'(x)| \le \gamma_{\tanh} = 1,\ \text{attained at } x=0", seed=SEED_ACT, sizes=(),
            primary=PASCANU,
            steps=(
                r"\tanh'(x) = 1 - \tanh^2(x) = \frac{4}{(e^x + e^{-x})^2} > 0",
                r"1 - \tanh'(x) = \tanh^2(x) \ge 0 \ \Rightarrow\ |\tanh'(x)| = \tanh'(x) \le 1",
                r"\tanh'(0) = 1 - \tanh^2(0) = 1",
            ))
def _tanh_gamma():
    dphi = sp.diff(sp.tanh(x), x)
    return [("1 - (1 - tanh^2 x) = tanh^2 x", prove_equal(1 - dphi, sp.tanh(x) ** 2)),
            ("tanh'(x) = 4/(e^x+e^-x)^2 > 0", prove_equal(dphi.rewrite(sp.exp), 4 / (sp.exp(x) + sp.exp(-x)) ** 2)),
            ("4/(e^x+e^-x)^2 > 0", prove_positive(4 / (sp.exp(x) + sp.exp(-x)) ** 2)),
            ("attained at x = 0", prove_equal(dphi.subs(x, 0), 1))]


@derivation("act.relu.gamma", title="sup |relu'| = 1",
            latex=r"|\operatorname{relu}'(x)| \le \gamma_{\operatorname{relu}} = 1", seed=SEED_ACT, sizes=(),
            primary=PASCANU,
            steps=(
                r"\operatorname{relu}'(x) = 1 \ (x > 0),\qquad \operatorname{relu}'(x) = 0 \ (x < 0),\qquad \operatorname{relu}'(0) = 0 \ (\text{declared})",
                r"\Rightarrow\ |\operatorname{relu}'(x)| \le 1 = \gamma_{\operatorname{relu}},\ \text{with equality for every } x > 0",
            ))
def _relu_gamma():
    return [("x > 0: relu'(x) = 1", prove_equal(sp.diff(relu(xp).rewrite(sp.Piecewise), xp), 1)),
            ("x < 0: relu'(x) = 0", prove_equal(sp.diff(relu(xn), xn), 0)),
            ("x = 0: relu'(0) = 0 (declared)", prove_equal(sp.Heaviside(0, 0), 0)),
            ("0 <= 1 = gamma", prove_true(sp.Le(0, 1)))]


GAMMA = {"tanh": 1.0, "relu": 1.0, "sigmoid": 0.25}
