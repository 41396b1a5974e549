"""Convolutional layers (torch's Conv1d / Conv2d semantics): definition, output size, parameters, exact gradients,
translation equivariance, receptive fields.

A layer with C_in input channels, C_out output channels, G groups (G | C_in, G | C_out), kernel w (C_out, C_in/G,
K...), bias b (C_out,), stride s, zero padding p on both sides and dilation d computes the cross-correlation

    y[o, i] = b[o] + sum_{c < C_in/G} sum_k w[o, c, k] x_pad[g(o) C_in/G + c, i s + k d],   g(o) = o // (C_out/G),

per spatial axis (2-D: i, k, s, p, d pairs). Gradients of L = <dy, y> (a VJP):

    dx = crop_p( full cross-correlation of (dy dilated by s) with (w flipped, dilated by d) ),
    dw[o, c, k] = sum_i dy[o, i] x_pad[g(o) C_in/G + c, i s + k d],   db[o] = sum_i dy[o, i].

Route: explicit small sizes (L = 4-7, K = 2-3, 2-D 3x3 / 3x4), symbolic entries, the layer written from its
definition; sp.diff of L gives the exact gradient and the prover shows the derived formula equal to it
(polynomial tier: everything here is a polynomial in the entries). Integer facts (output size, receptive
fields) are proved with symbols where the algebra allows it and checked exactly on grids of small integers.

Seed: 深度学习数学模块 · 08-Convolutional-Networks.md (卷积网络). Primary: Goodfellow, Bengio & Courville (2016)
ch. 9; Dumoulin & Visin (2016); torch.nn.Conv1d / Conv2d; Araujo, Norris & Sim (2019); LeCun et al. (1998).
"""
from __future__ import annotations

import dataclasses
import itertools
from math import prod

import sympy as sp

from .prove import PROVED, REFUTED, ProofResult, combine, prove_equal, prove_true, prove_zero
from .registry import derivation

SEED_CONV = "seed: 深度学习数学模块 · 08-Convolutional-Networks.md (卷积网络)"
GBC = ("Goodfellow, Bengio & Courville (2016), Deep Learning, MIT Press, ch. 9: §9.1 (the convolution operation; "
       "cross-correlation, eq. 9.6), §9.5 (strides, zero padding, eqs. 9.8-9.14: the gradients w.r.t. kernel and input)")
DV = ("Dumoulin & Visin (2016), A guide to convolution arithmetic for deep learning, arXiv:1603.07285, "
      "relationships 6 and 15 (output size with padding, stride, dilation), ch. 4 (transposed convolution: the "
      "input gradient as a convolution of the stride-dilated output gradient)")
TORCH_CONV = ("torch.nn.Conv1d / torch.nn.Conv2d docs: L_out = floor((L_in + 2 padding - dilation (kernel_size - 1) "
              "- 1)/stride + 1), weight (out_channels, in_channels/groups, kernel_size...), bias (out_channels,); "
              "'cross-correlation'; padding_mode='zeros'")
ARAUJO = ("Araujo, Norris & Sim (2019), Computing receptive fields of convolutional neural networks, Distill, "
          "eqs. (1)-(2) (r_0 = sum_l (k_l - 1) prod_{i<l} s_i + 1), dilation as the effective kernel d (k - 1) + 1")
LECUN = ("LeCun, Bottou, Bengio & Haffner (1998), Gradient-based learning applied to document recognition, "
         "Proc. IEEE 86(11), §II.A (local receptive fields, shared weights, subsampling)")

DEF_ASSUME = ("s >= 1, p >= 0, d >= 1, G >= 1 integers; G | C_in, G | C_out",
              "zero padding p on both sides (padding_mode='zeros')",
              "at least one output position: n + 2p >= d (k - 1) + 1")
SIZES = "explicit small sizes (1-D L = 4-7, K = 2-3; 2-D 3x3 / 3x4, 2x2 kernels); symbolic entries"


# ---------------------------------------------------------------- the layer, written from its definition

def out_size(n: int, k: int, p: int, s: int, d: int) -> int:
    """floor((n + 2p - d(k-1) - 1)/s) + 1 (integers)."""
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _tuple(v, nd):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * nd


@dataclasses.dataclass
class Layer:
    """A symbolic layer: dicts of entries keyed by index tuples (channel, *position)."""

    x: dict
    w: dict
    b: list | None
    xshape: tuple   # (C_in, *n)
    wshape: tuple   # (C_out, C_in/G, *K)
    s: tuple
    p: tuple
    d: tuple
    G: int

    @property
    def nd(self):
        return len(self.s)

    @property
    def outs(self):
        n, K = self.xshape[1:], self.wshape[2:]
        return tuple(out_size(n[a], K[a], self.p[a], self.s[a], self.d[a]) for a in range(self.nd))


def layer(xshape, wshape, s=1, p=0, d=1, G=1, bias=True, tag="") -> Layer:
    nd = len(xshape) - 1
    x = {idx: sp.Symbol(f"x{tag}_{'_'.join(map(str, idx))}", real=True) for idx in itertools.product(*map(range, xshape))}
    w = {idx: sp.Symbol(f"w{tag}_{'_'.join(map(str, idx))}", real=True) for idx in itertools.product(*map(range, wshape))}
    b = [sp.Symbol(f"b{tag}_{o}", real=True) for o in range(wshape[0])] if bias else None
    return Layer(x, w, b, tuple(xshape), tuple(wshape), _tuple(s, nd), _tuple(p, nd), _tuple(d, nd), G)


def forward(L: Layer, w=None, x=None) -> dict:
    """y[(o, *i)] by the definition (cross-correlation, zero padding); ``w`` / ``x`` override the entries."""
    w = L.w if w is None else w
    x = L.x if x is None else x
    C_out, Cg, *K = L.wshape
    n = L.xshape[1:]
    y = {}
    for o in range(C_out):
        grp = o // (C_out // L.G)
        for i in itertools.product(*map(range, L.outs)):
            acc = L.b[o] if L.b is not None else sp.Integer(0)
            for c in range(Cg):
                for k in itertools.product(*map(range, K)):
                    pos = tuple(i[a] * L.s[a] + k[a] * L.d[a] - L.p[a] for a in range(L.nd))
                    if all(0 <= pos[a] < n[a] for a in range(L.nd)):
                        acc += w[(o, c, *k)] * x[(grp * Cg + c, *pos)]
            y[(o, *i)] = acc
    return y


def cotangent(L: Layer, tag="") -> dict:
    return {idx: sp.Symbol(f"dy{tag}_{'_'.join(map(str, idx))}", real=True)
            for idx in itertools.product(range(L.wshape[0]), *map(range, L.outs))}


def loss(y: dict, dy: dict):
    return sum(dy[k] * y[k] for k in y)


def flip(w: dict, wshape) -> dict:
    """w with every spatial kernel axis reversed."""
    K = wshape[2:]
    return {(o, c, *k): w[(o, c, *tuple(K[a] - 1 - k[a] for a in range(len(K))))] for (o, c, *k) in w}


def input_grad(L: Layer, dy: dict, *, flipped=True, dilate=True) -> dict:
    """dx by the derived route: dilate dy by s, zero-pad by d(K-1), full cross-correlation with the flipped kernel
    dilated by d, zero-extend to n + 2p, crop p. (flipped / dilate False: the wrong variants, for refutations.)"""
    C_out, Cg, *K = L.wshape
    C_in, *n = L.xshape
    nd, outs = L.nd, L.outs
    s = L.s if dilate else (1,) * nd
    up = tuple((outs[a] - 1) * s[a] + 1 for a in range(nd))
    dyu = {(o, *tuple(i[a] * s[a] for a in range(nd))): dy[(o, *i)] for (o, *i) in dy}
    wk = flip(L.w, L.wshape) if flipped else L.w
    full = tuple(up[a] + L.d[a] * (K[a] - 1) for a in range(nd))
    dx = {}
    for cin in range(C_in):
        grp, c = divmod(cin, Cg)
        for j in itertools.product(*map(range, n)):
            jp = tuple(j[a] + L.p[a] for a in range(nd))  # position in the padded input
            acc = sp.Integer(0)
            if all(jp[a] < full[a] for a in range(nd)):  # else: not covered by any window (zero-extended)
                for o in range(grp * (C_out // L.G), (grp + 1) * (C_out // L.G)):
                    for m in itertools.product(*map(range, K)):
                        q = tuple(jp[a] + m[a] * L.d[a] - L.d[a] * (K[a] - 1) for a in range(nd))  # in dyu
                        acc += wk[(o, c, *m)] * dyu.get((o, *q), 0)
            dx[(cin, *j)] = acc
    return dx


def weight_grad(L: Layer, dy: dict) -> dict:
    """dw[o, c, k] = sum_i dy[o, i] x_pad[g(o) C_in/G + c, i s + k d] (x_pad = 0 outside)."""
    C_out, Cg, *K = L.wshape
    n = L.xshape[1:]
    dw = {}
    for (o, c, *k) in L.w:
        grp = o // (C_out // L.G)
        acc = sp.Integer(0)
        for i in itertools.product(*map(range, L.outs)):
            pos = tuple(i[a] * L.s[a] + k[a] * L.d[a] - L.p[a] for a in range(L.nd))
            if all(0 <= pos[a] < n[a] for a in range(L.nd)):
                acc += dy[(o, *i)] * L.x[(grp * Cg + c, *pos)]
        dw[(o, c, *k)] = acc
    return dw


def _q(e):
    return prove_zero(e, use_simplify=False)


def _all_equal(a: dict, b: dict):
    return combine(_q(sp.expand(a[k] - b[k])) for k in a)


def _exact(ok: bool, detail: str) -> ProofResult:
    """An exact finite check (integers / sets), decided by evaluation."""
    return ProofResult(PROVED if ok else REFUTED, "exact-enumeration", detail)


def _with_cex(result, cex):
    return dataclasses.replace(result, counterexample=cex)


def _cfg(c):
    return ", ".join(f"{k}={v}" for k, v in c.items())


# ---------------------------------------------------------------- definitions

@derivation("conv.cross_correlation", kind="definition", title="A convolutional layer computes a cross-correlation",
            latex=r"y[o, i] = b[o] + \sum_{c < C_{in}/G}\ \sum_{k} w[o, c, k]\; x_{\text{pad}}\big[g(o)\,\tfrac{C_{in}}{G} + c,\ "
                  r"i s + k d\big],\quad g(o) = \lfloor o / (C_{out}/G) \rfloor",
            seed=SEED_CONV, primary=GBC + "; " + TORCH_CONV + "; " + LECUN,
            assumptions=DEF_ASSUME + ("2-D: i, k, s, p, d are pairs, the sum over both kernel axes",),
            notes="Deep-learning 'convolution' layers do not flip the kernel (conv.true_convolution_flip). "
                  "y is linear in x for fixed (w, b) and linear in w for fixed x (checked below).",
            steps=(
                r"x_{\text{pad}}[c, j] = x[c, j - p]\ \text{for}\ p \le j < n + p,\quad 0\ \text{otherwise}",
                r"y[o, i] = b[o] + \sum_{c, k} w[o, c, k]\, x_{\text{pad}}[g(o) C_{in}/G + c,\ i s + k d]\qquad "
                r"(i = 0, \dots, n_{out} - 1)",
                r"G = 1,\ s = d = 1,\ p = 0,\ C = 1:\ y[i] = b + \sum_k w[k]\, x[i + k]\quad\text{(the sliding dot product)}",
            ))
def _cross_correlation():
    out = []
    L = layer((1, 5), (1, 1, 3))
    y = forward(L)
    out.append(("C = 1, s = d = 1, p = 0: y[i] = b + sum_k w[k] x[i + k]",
                combine(_q(y[(0, i)] - L.b[0] - sum(L.w[(0, 0, k)] * L.x[(0, i + k)] for k in range(3))) for i in range(3))))
    L = layer((4, 5), (2, 2, 2), s=2, p=1, d=2, G=2)
    a, c = sp.symbols("alpha beta", real=True)
    x2 = {k: sp.Symbol(f"z_{'_'.join(map(str, k))}", real=True) for k in L.x}
    y1, y2 = forward(L), forward(L, x=x2)
    ymix = forward(L, x={k: a * L.x[k] + c * x2[k] for k in L.x})
    out.append(("C_in = 4, C_out = 2, G = 2, s = 2, p = 1, d = 2: y(a x + c z) - b = a (y(x) - b) + c (y(z) - b)",
                combine(_q(sp.expand(ymix[k] - L.b[k[0]] - a * (y1[k] - L.b[k[0]]) - c * (y2[k] - L.b[k[0]]))) for k in y1)))
    w2 = {k: sp.Symbol(f"v_{'_'.join(map(str, k))}", real=True) for k in L.w}
    yw = forward(L, w={k: a * L.w[k] + c * w2[k] for k in L.w})
    yv = forward(L, w=w2)
    out.append(("the same layer is linear in w: y(a w + c v) - b = a (y(w) - b) + c (y(v) - b)",
                combine(_q(sp.expand(yw[k] - L.b[k[0]] - a * (y1[k] - L.b[k[0]]) - c * (yv[k] - L.b[k[0]]))) for k in y1)))
    L2 = layer((1, 3, 4), (1, 1, 2, 2), s=(1, 2), p=(1, 0), d=(2, 1))
    y2d = forward(L2)
    want = {(0, i, j): L2.b[0] + sum(L2.w[(0, 0, u, v)] * L2.x.get((0, i + 2 * u - 1, 2 * j + v), 0)
                                     for u in range(2) for v in range(2)) for (_, i, j) in y2d}
    out.append(("2-D, s = (1, 2), p = (1, 0), d = (2, 1): y[i, j] = b + sum_{u,v} w[u, v] x_pad[i + 2u, 2j + v]",
                _all_equal(y2d, want)))
    return out


@derivation("conv.true_convolution_flip", title="The layer is a true convolution with the flipped kernel",
            latex=r"\sum_k w[k]\, x[i + k] = (x * \tilde w)[i + K - 1],\quad \tilde w[k] = w[K - 1 - k],\quad "
                  r"(x * v)[m] = \sum_j x[j]\, v[m - j]",
            seed=SEED_CONV, primary=GBC + " (eqs. 9.4-9.6: convolution flips the kernel, cross-correlation does not)",
            assumptions=("stride 1, no padding, dilation 1 (the 'valid' part); per channel", SIZES),
            notes="So a conv layer learns the flipped kernel of the textbook convolution; the two differ "
                  "(conv.true_convolution.refuted). With dilation d the same holds for the dilated kernel.",
            steps=(
                r"(x * \tilde w)[i + K - 1] = \sum_j x[j]\,\tilde w[i + K - 1 - j]",
                r"k := j - i:\quad \tilde w[K - 1 - k] = w[k]\ \Rightarrow\ \sum_{k=0}^{K-1} x[i + k]\, w[k] = y[i]",
            ))
def _true_convolution_flip():
    out = []
    for n, K in ((5, 3), (4, 2), (6, 3)):
        L = layer((1, n), (1, 1, K), bias=False)
        y = forward(L)
        wt = [L.w[(0, 0, K - 1 - k)] for k in range(K)]

        def conv_full(m):
            return sum(L.x[(0, j)] * wt[m - j] for j in range(n) if 0 <= m - j < K)

        out.append((f"L = {n}, K = {K}: y[i] = (x * flip(w))[i + K - 1] for every output i",
                    combine(_q(sp.expand(y[(0, i)] - conv_full(i + K - 1))) for i in range(L.outs[0]))))
    L = layer((1, 3, 3), (1, 1, 2, 2), bias=False)
    y = forward(L)
    wt = flip(L.w, L.wshape)

    def conv2(m1, m2):
        return sum(L.x[(0, j1, j2)] * wt[(0, 0, m1 - j1, m2 - j2)] for j1 in range(3) for j2 in range(3)
                   if 0 <= m1 - j1 < 2 and 0 <= m2 - j2 < 2)

    out.append(("2-D 3x3, K = 2x2: y[i, j] = (x * flip(w))[i + 1, j + 1] (both axes flipped)",
                combine(_q(sp.expand(y[(0, i, j)] - conv2(i + 1, j + 1))) for i in range(2) for j in range(2))))
    return out


@derivation("conv.true_convolution.refuted", kind="refutation",
            title="A convolutional layer does not compute the textbook (flipped) convolution",
            latex=r"x = (1, 2, 3),\ w = (1, 0):\quad \text{layer } y = (1, 2),\quad "
                  r"\sum_k w[k]\, x[i + K - 1 - k] = (2, 3) \ne y",
            seed=SEED_CONV, primary=GBC + "; " + TORCH_CONV,
            assumptions=("stride 1, no padding, dilation 1",),
            notes="The mutant 'true convolution in the forward' is exactly this claim; conv1d.forward names it.",
            steps=(
                r"y[i] = \sum_k w[k]\,x[i + k]:\quad y = (1\cdot 1 + 0\cdot 2,\ 1\cdot 2 + 0 \cdot 3) = (1, 2)",
                r"(x * w)[i + 1] = \sum_k w[k]\, x[i + 1 - k]:\quad (1\cdot 2 + 0\cdot 1,\ 1\cdot 3 + 0\cdot 2) = (2, 3)",
            ))
def _true_convolution_refuted():
    L = layer((1, 3), (1, 1, 2), bias=False)
    pt = {L.x[(0, 0)]: 1, L.x[(0, 1)]: 2, L.x[(0, 2)]: 3, L.w[(0, 0, 0)]: 1, L.w[(0, 0, 1)]: 0}
    y = [forward(L)[(0, i)].subs(pt) for i in range(2)]
    tc = [sum(L.w[(0, 0, k)] * L.x[(0, i + 1 - k)] for k in range(2)).subs(pt) for i in range(2)]
    cex = {"point": {"x": "(1, 2, 3)", "w": "(1, 0)"}, "value": f"layer {tuple(y)} vs true convolution {tuple(tc)}"}
    return [("the layer gives (1, 2)", prove_equal(sp.Matrix(y), sp.Matrix([1, 2]))),
            ("the true convolution gives (2, 3)", prove_equal(sp.Matrix(tc), sp.Matrix([2, 3]))),
            ("they differ at i = 0", _with_cex(prove_true(sp.Ne(y[0], tc[0])), cex))]


# ---------------------------------------------------------------- sizes and parameters

@derivation("conv.output_size", title="Output size: floor((n + 2p - d(k-1) - 1)/s) + 1",
            latex=r"n_{out} = \#\{i \ge 0 : i s + d(k-1) \le n + 2p - 1\} = "
                  r"\Big\lfloor \frac{n + 2p - d(k-1) - 1}{s} \Big\rfloor + 1",
            seed=SEED_CONV, primary=DV + "; " + TORCH_CONV,
            assumptions=("n >= 1, k >= 1, p >= 0, s >= 1, d >= 1 integers",
                         "E = n + 2p - d(k-1) - 1 >= 0 (else no window fits: n_out = 0)",
                         "per spatial axis (2-D: each axis separately)"),
            notes="The window of output i covers padded positions i s, ..., i s + d(k-1) (effective kernel "
                  "d(k-1) + 1, Dumoulin & Visin rel. 15); it fits iff its last position is <= n + 2p - 1. "
                  "torch writes floor(E/s + 1) = floor(E/s) + 1.",
            steps=(
                r"\text{window } i:\ \{ i s + k d : 0 \le k < k_{\max} \},\ \text{last position } i s + d(k-1)",
                r"\text{fits} \iff i s + d(k-1) \le n + 2p - 1 \iff i s \le E,\quad E := n + 2p - d(k-1) - 1",
                r"x := E/s,\ \lfloor x \rfloor = x - \{x\},\ 0 \le \{x\} < 1:\ "
                r"\lfloor x\rfloor s = E - s\{x\} \le E,\ (\lfloor x\rfloor + 1) s = E + s(1 - \{x\}) > E",
                r"\Rightarrow\ i s \le E \iff i \le \lfloor E/s \rfloor\ \ (i \in \mathbb Z),\quad "
                r"\#\{0, \dots, \lfloor E/s\rfloor\} = \lfloor E/s\rfloor + 1",
            ))
def _output_size():
    E = sp.Symbol("E", integer=True, nonnegative=True)
    s = sp.Symbol("s", integer=True, positive=True)
    xr = sp.Symbol("x", real=True)
    x = E / s
    last = sp.floor(x)
    out = [("floor(x) = x - frac(x) (x real)", _q((sp.floor(xr) + sp.frac(xr) - xr).rewrite(sp.floor))),
           ("0 <= frac(x) < 1", combine([prove_true(sp.frac(xr) >= 0), prove_true(sp.frac(xr) < 1)])),
           ("floor(E/s) s - E = -s frac(E/s) <= 0",
            combine([_q(((last * s - E) + s * sp.frac(x)).rewrite(sp.floor)), prove_true(-s * sp.frac(x) <= 0)])),
           ("(floor(E/s) + 1) s - E = s (1 - frac(E/s)) > 0 (1 - frac(x) > 0 for every real x, s > 0)",
            combine([_q((((last + 1) * s - E) - s * (1 - sp.frac(x))).rewrite(sp.floor)),
                     prove_true(sp.frac(xr) < 1), prove_true(sp.Gt(s, 0))])),
           ("torch's floor(E/s + 1) = floor(E/s) + 1", _q(sp.floor(x + 1) - sp.floor(x) - 1)),
           ("E >= 0: floor(E/s) >= 0, so n_out >= 1", prove_true(sp.floor(x) >= 0))]
    # exact enumeration: count the windows that fit, compare with the formula
    bad = []
    cases = 0
    for n, k, p, st, d in itertools.product(range(1, 13), range(1, 5), range(0, 4), range(1, 5), range(1, 4)):
        count = sum(1 for i in range(n + 2 * p + 1) if i * st + d * (k - 1) <= n + 2 * p - 1)
        Ev = n + 2 * p - d * (k - 1) - 1
        formula = Ev // st + 1 if Ev >= 0 else 0
        cases += 1
        if count != formula or (Ev >= 0) != (count >= 1):
            bad.append((n, k, p, st, d, count, formula))
    out.append((f"exact count of fitting windows = formula for n <= 12, k <= 4, p <= 3, s <= 4, d <= 3 ({cases} cases; "
                "E < 0 gives 0 windows)", _exact(not bad, f"{cases} cases enumerated, {len(bad)} mismatches")))
    return out


def param_count(C_in: int, C_out: int, K, G: int = 1, bias: bool = True) -> int:
    """C_out (C_in/G) prod(K) + C_out (with bias). [conv.param_count]"""
    K = (K,) if isinstance(K, int) else tuple(K)
    return C_out * (C_in // G) * prod(K) + (C_out if bias else 0)


@derivation("conv.param_count", title="Parameters of a convolutional layer",
            latex=r"\#\theta = C_{out}\,\frac{C_{in}}{G}\,\prod_a k_a + C_{out}\ (\text{with bias}) = "
                  r"G \cdot \frac{C_{out}}{G}\,\frac{C_{in}}{G}\prod_a k_a + C_{out}",
            seed=SEED_CONV, primary=TORCH_CONV + "; " + LECUN + " (weight sharing: independent of the input size)",
            assumptions=("G | C_in, G | C_out", "one bias per output channel (bias=True)"),
            notes="G blocks of (C_out/G) x (C_in/G) kernels: G times fewer weights than the dense (G = 1) layer. "
                  "Independent of n, stride, padding, dilation (weight sharing).",
            steps=(
                r"w \in \mathbb R^{C_{out} \times (C_{in}/G) \times k_1 \times \dots},\ b \in \mathbb R^{C_{out}}",
                r"C_{out}\frac{C_{in}}{G}\prod k = G\Big(\frac{C_{out}}{G}\cdot\frac{C_{in}}{G}\prod k\Big)"
                r" = \frac{1}{G}\Big(C_{out}\,C_{in}\prod k\Big)",
            ))
def _param_count():
    Ci, Co, G, k1, k2 = sp.symbols("C_in C_out G k_1 k_2", positive=True)
    out = [("C_out (C_in/G) k1 k2 = G (C_out/G)(C_in/G) k1 k2 (G blocks)",
            prove_equal(Co * (Ci / G) * k1 * k2, G * (Co / G) * (Ci / G) * k1 * k2)),
           ("= (1/G) of the dense layer's C_out C_in k1 k2", prove_equal(Co * (Ci / G) * k1 * k2, Co * Ci * k1 * k2 / G))]
    bad = []
    for xshape, wshape, G, kw in (((4, 5), (2, 2, 3), 2, {}), ((2, 6), (4, 2, 2), 1, dict(s=2, p=1)),
                                  ((4, 4), (4, 1, 2), 4, dict(d=2)), ((2, 3, 3), (2, 1, 2, 2), 2, {})):
        L = layer(xshape, wshape, G=G, **kw)
        used = set().union(*(e.free_symbols for e in forward(L).values())) - set(L.x.values())
        want = param_count(xshape[0], wshape[0], wshape[2:], G)
        if len(used) != want:
            bad.append((xshape, wshape, G, len(used), want))
    out.append(("the distinct weight and bias symbols that the outputs of 4 explicit layers (1-D and 2-D, G = 1, 2, 4) "
                "depend on number C_out (C_in/G) prod k + C_out", _exact(not bad, f"mismatches: {bad}")))
    return out


@derivation("conv.groups.block_diagonal", title="Groups: the layer is block-diagonal over the channel groups",
            latex=r"\frac{\partial y[o, i]}{\partial x[c, j]} = 0\ \text{unless}\ \lfloor c/(C_{in}/G)\rfloor = g(o);\quad "
                  r"y = \mathrm{conv}_{G=1}(x, W),\ W[o, c] = w[o, c - g(o)C_{in}/G]\ \text{in the block, } 0 \text{ outside}",
            seed=SEED_CONV, primary=TORCH_CONV + " (groups: 'each input channel is convolved with its own set of filters')",
            assumptions=DEF_ASSUME + (SIZES,),
            notes="The mutant 'groups ignored' (every output channel reading all inputs) breaks exactly this.",
            steps=(
                r"g(o) = \lfloor o/(C_{out}/G)\rfloor:\ y[o] \text{ reads only channels } g(o)\tfrac{C_{in}}{G}, \dots, (g(o)+1)\tfrac{C_{in}}{G} - 1",
                r"W = \mathrm{blockdiag}(w^{(0)}, \dots, w^{(G-1)}),\ w^{(g)} = w[g\tfrac{C_{out}}{G}:(g+1)\tfrac{C_{out}}{G}]",
            ))
def _groups():
    out = []
    for xshape, wshape, G, kw in (((4, 4), (2, 2, 2), 2, dict(p=1)), ((4, 5), (4, 1, 3), 4, dict(s=2, d=1)),
                                  ((4, 3, 3), (2, 2, 2, 2), 2, {})):
        L = layer(xshape, wshape, G=G, **kw)
        y = forward(L)
        Cg, Cog = xshape[0] // G, wshape[0] // G
        zeros = [_q(sp.diff(y[k], L.x[c])) for k in y for c in L.x if c[0] // Cg != k[0] // Cog]
        dense_shape = (wshape[0], xshape[0], *wshape[2:])
        Wd = {}
        for idx in itertools.product(*map(range, dense_shape)):
            o, c, *kk = idx
            Wd[idx] = L.w[(o, c - (o // Cog) * Cg, *kk)] if c // Cg == o // Cog else sp.Integer(0)
        D = Layer(L.x, Wd, L.b, L.xshape, dense_shape, L.s, L.p, L.d, 1)
        out.append((f"x {xshape}, w {wshape}, G = {G}: dy[o]/dx[c] = 0 outside the block ({len(zeros)} entries)",
                    combine(zeros)))
        out.append((f"x {xshape}, w {wshape}, G = {G}: equals the G = 1 layer with the block-diagonal weight",
                    _all_equal(y, forward(D))))
    return out


# ---------------------------------------------------------------- gradients

GRAD_CASES_S1 = (dict(xshape=(1, 4), wshape=(1, 1, 2)), dict(xshape=(2, 5), wshape=(2, 2, 3), p=1),
                 dict(xshape=(1, 5), wshape=(1, 1, 2), p=2, d=2), dict(xshape=(2, 5), wshape=(2, 1, 3), p=1, d=2, G=2),
                 dict(xshape=(1, 3, 3), wshape=(1, 1, 2, 2), p=1))
GRAD_CASES_S2 = (dict(xshape=(1, 5), wshape=(1, 1, 2), s=2), dict(xshape=(1, 6), wshape=(1, 1, 3), s=2, p=1),
                 dict(xshape=(2, 7), wshape=(1, 2, 2), s=3, p=1, d=2), dict(xshape=(1, 3, 4), wshape=(1, 1, 2, 2), s=(2, 1), p=(0, 1)))


def _grad_x_obligations(cases):
    out = []
    for cfg in cases:
        L = layer(**cfg)
        dy = cotangent(L)
        Lf = loss(forward(L), dy)
        dx = input_grad(L, dy)
        out.append((f"{_cfg(cfg)}: sp.diff(<dy, y>, x[c, j]) = the derived dx, every (c, j)",
                    combine(_q(sp.expand(sp.diff(Lf, L.x[k]) - dx[k])) for k in L.x)))
    return out


@derivation("conv.grad_input", title="Input gradient (stride 1): the full cross-correlation of dy with the flipped kernel",
            latex=r"dx_{\text{pad}}[c, j] = \sum_{o \in g(c)} \sum_k \tilde w_d[o, c, k]\; dy_{\text{pad}}[o, j + k] "
                  r"= \sum_{o, k} w[o, c, k]\; dy[o, j - k d],\quad dx = dx_{\text{pad}}[\,p : p + n\,]",
            seed=SEED_CONV, primary=GBC + "; " + DV,
            assumptions=DEF_ASSUME + ("stride 1", "dy_pad: dy with d(K-1) zeros on both sides; w~_d: flipped, dilated by d",
                                      SIZES),
            layout="numerator: dx = J^T dy, J[(o, i), (c, j)] = d y[o, i] / d x[c, j]",
            notes="Equivalently the full TRUE convolution of dy with the (dilated) kernel: the flip of the "
                  "cross-correlation's own flip. Without the flip the gradient is wrong (conv.grad_input.unflipped.refuted).",
            steps=(
                r"L = \sum_{o, i} dy[o, i]\, y[o, i],\quad \frac{\partial y[o, i]}{\partial x_{\text{pad}}[c, j]} = "
                r"\sum_k w[o, c, k]\,[\,i + k d = j\,]",
                r"\frac{\partial L}{\partial x_{\text{pad}}[c, j]} = \sum_{o, k} w[o, c, k]\, dy[o, j - k d]\quad(dy = 0 \text{ outside } [0, n_{out}))",
                r"k \to K - 1 - m:\ = \sum_{o, m} w[o, c, K - 1 - m]\; dy[o, j + m d - d(K-1)] = "
                r"\sum_{o, m} \tilde w[o, c, m]\; dy_{\text{pad}}[o, j + m d]",
                r"x[c, j'] = x_{\text{pad}}[c, j' + p]\ \Rightarrow\ dx[c, j'] = dx_{\text{pad}}[c, j' + p]\quad\text{(crop the padding)}",
            ))
def _grad_input():
    out = _grad_x_obligations(GRAD_CASES_S1)
    L = layer((1, 5), (1, 1, 3), p=1, d=2)
    dy = cotangent(L)
    dx = input_grad(L, dy)
    true_conv = {(0, j): sum(L.w[(0, 0, k)] * dy.get((0, j + 1 - 2 * k), 0) for k in range(3)) for j in range(5)}
    out.append(("L = 5, K = 3, p = 1, d = 2: dx[j] = sum_k w[k] dy[j + p - k d] (the full true convolution, cropped)",
                _all_equal(dx, true_conv)))
    return out


@derivation("conv.grad_input.strided", title="Input gradient with stride s: dilate dy by s, then the stride-1 formula",
            latex=r"dy_{\uparrow s}[o, i s] = dy[o, i],\ 0 \text{ between};\quad "
                  r"dx = \mathrm{crop}_p\big(\mathrm{zeroext}_{n + 2p}(\mathrm{fullxcorr}(dy_{\uparrow s}, \tilde w_d))\big)",
            seed=SEED_CONV, primary=DV + " (ch. 4.5: the transposed convolution of a strided convolution inserts s - 1 zeros "
                                         "between the input units); " + GBC,
            assumptions=DEF_ASSUME + ("stride s >= 2", SIZES),
            notes="The full correlation has (n_out - 1) s + 1 + d(K-1) <= n + 2p entries; when (n + 2p - d(K-1) - 1) "
                  "is not a multiple of s the last padded positions lie in no window: their gradient is 0 "
                  "(zero-extension). Without the dilation of dy the formula is wrong (conv.grad_input.undilated.refuted).",
            steps=(
                r"\frac{\partial y[o, i]}{\partial x_{\text{pad}}[c, j]} = \sum_k w[o, c, k]\,[\,i s + k d = j\,]",
                r"\frac{\partial L}{\partial x_{\text{pad}}[c, j]} = \sum_{o, k} w[o, c, k] \sum_i dy[o, i]\,[\,i s = j - k d\,] "
                r"= \sum_{o, k} w[o, c, k]\; dy_{\uparrow s}[o, j - k d]",
                r"\text{the stride-1 formula with } dy_{\uparrow s} \text{ of length } (n_{out}-1)s + 1",
                r"j > (n_{out}-1)s + d(K-1):\ \text{no } (i, k) \text{ with } i s + k d = j\ \Rightarrow\ dx_{\text{pad}}[c, j] = 0",
            ))
def _grad_input_strided():
    out = _grad_x_obligations(GRAD_CASES_S2)
    L = layer((1, 5), (1, 1, 2), s=2)
    Lf = loss(forward(L), cotangent(L))
    out.append(("L = 5, K = 2, s = 2: n_out = 2 windows cover positions 0..3; x[4] is in none: dL/dx[4] = 0",
                combine([_q(sp.diff(Lf, L.x[(0, 4)])), prove_true(sp.Eq((L.outs[0] - 1) * 2 + 1 + 1, 4))])))
    return out


@derivation("conv.grad_input.unflipped.refuted", kind="refutation",
            title="The input gradient without the kernel flip is wrong",
            latex=r"n = 2,\ w = (1, 0),\ dy = (1,)\ (K = 2):\quad dx = (1, 0),\ \text{unflipped full correlation} = (0, 1)",
            seed=SEED_CONV, primary=GBC,
            assumptions=("stride 1, no padding, dilation 1",),
            notes="The mutant 'convolution gradient without the kernel flip'; conv1d.vjp names it.",
            steps=(r"y[0] = w[0] x[0] + w[1] x[1] = x[0]\ \Rightarrow\ dx = (1, 0)",
                   r"\sum_m w[m]\, dy_{\text{pad}}[j + m],\ dy_{\text{pad}} = (0, 1, 0):\ (0 + 0, 1 + 0) = (0, 1)"))
def _unflipped_refuted():
    L = layer((1, 2), (1, 1, 2), bias=False)
    dy = cotangent(L)
    pt = {L.w[(0, 0, 0)]: 1, L.w[(0, 0, 1)]: 0, dy[(0, 0)]: 1}
    Lf = loss(forward(L), dy)
    true = [sp.diff(Lf, L.x[(0, j)]).subs(pt) for j in range(2)]
    wrong = [e.subs(pt) for e in input_grad(L, dy, flipped=False).values()]
    cex = {"point": {"x": "(x0, x1)", "w": "(1, 0)", "dy": "(1,)"}, "value": f"dx = {tuple(true)}, unflipped {tuple(wrong)}"}
    return [("dx = (1, 0) (sp.diff)", prove_equal(sp.Matrix(true), sp.Matrix([1, 0]))),
            ("the unflipped full correlation gives (0, 1)", prove_equal(sp.Matrix(wrong), sp.Matrix([0, 1]))),
            ("they differ", _with_cex(prove_true(sp.Ne(true[0], wrong[0])), cex))]


@derivation("conv.grad_input.undilated.refuted", kind="refutation",
            title="With stride 2 the stride-1 formula on the undilated dy is wrong",
            latex=r"n = 4,\ K = 1,\ w = (1,),\ s = 2,\ dy = (1, 2):\quad dx = (1, 0, 2, 0),\ "
                  r"\text{undilated: } (1, 2, 0, 0)",
            seed=SEED_CONV, primary=DV, assumptions=("stride 2, no padding, dilation 1",),
            notes="The mutant 'stride ignored in the input gradient'; conv1d.vjp catches it.",
            steps=(r"y = (x[0], x[2])\ \Rightarrow\ dx = (dy[0], 0, dy[1], 0) = (1, 0, 2, 0)",
                   r"\text{undilated: } dx_{\text{pad}}[j] = dy[j]\ (j < 2),\ 0\ \text{after} = (1, 2, 0, 0)"))
def _undilated_refuted():
    L = layer((1, 4), (1, 1, 1), s=2, bias=False)
    dy = cotangent(L)
    pt = {L.w[(0, 0, 0)]: 1, dy[(0, 0)]: 1, dy[(0, 1)]: 2}
    Lf = loss(forward(L), dy)
    true = [sp.diff(Lf, L.x[(0, j)]).subs(pt) for j in range(4)]
    wrong = [(sp.Integer(0) + e).subs(pt) for e in input_grad(L, dy, dilate=False).values()]
    cex = {"point": {"w": "(1,)", "dy": "(1, 2)", "s": "2"}, "value": f"dx = {tuple(true)}, undilated {tuple(wrong)}"}
    return [("dx = (1, 0, 2, 0) (sp.diff)", prove_equal(sp.Matrix(true), sp.Matrix([1, 0, 2, 0]))),
            ("the undilated formula gives (1, 2, 0, 0)", prove_equal(sp.Matrix(wrong), sp.Matrix([1, 2, 0, 0]))),
            ("they differ at j = 1", _with_cex(prove_true(sp.Ne(true[1], wrong[1])), cex))]


W_CASES = (dict(xshape=(2, 5), wshape=(2, 2, 3), p=1), dict(xshape=(1, 6), wshape=(1, 1, 2), s=2, p=1, d=2),
           dict(xshape=(4, 5), wshape=(2, 2, 2), s=2, p=2, G=2), dict(xshape=(1, 3, 4), wshape=(2, 1, 2, 2), s=(2, 1), p=(1, 0), d=(1, 2)))


@derivation("conv.grad_weight", title="Weight gradient: the cross-correlation of the padded input with dy",
            latex=r"dw[o, c, k] = \sum_{n, i} dy[n, o, i]\; x_{\text{pad}}\big[n, g(o)\tfrac{C_{in}}{G} + c,\ i s + k d\big]",
            seed=SEED_CONV, primary=GBC + " (eq. 9.11)",
            assumptions=DEF_ASSUME + ("x_pad includes the zero padding (an unpadded input gives a wrong dw when p > 0)",
                                      SIZES + "; one sample: the batch adds its samples' terms"),
            layout="dw[o, c, k] = dL/dw[o, c, k], the weight's own shape (C_out, C_in/G, K...)",
            notes="Read as a correlation over i: signal x_pad (channel g(o) C_in/G + c), 'kernel' dy[o] dilated by "
                  "s, output sampled at k d.",
            steps=(
                r"\frac{\partial y[o', i]}{\partial w[o, c, k]} = [\,o' = o\,]\; x_{\text{pad}}[g(o) C_{in}/G + c,\ i s + k d]",
                r"\frac{\partial L}{\partial w[o, c, k]} = \sum_i dy[o, i]\, x_{\text{pad}}[g(o) C_{in}/G + c,\ i s + k d]",
            ))
def _grad_weight():
    out = []
    for cfg in W_CASES:
        L = layer(**cfg)
        dy = cotangent(L)
        Lf = loss(forward(L), dy)
        dw = weight_grad(L, dy)
        out.append((f"{_cfg(cfg)}: sp.diff(<dy, y>, w[o, c, k]) = sum_i dy[o, i] x_pad[., i s + k d]",
                    combine(_q(sp.expand(sp.diff(Lf, L.w[k]) - dw[k])) for k in L.w)))
    return out


@derivation("conv.grad_bias", title="Bias gradient: the sum of dy over the batch and the positions",
            latex=r"db[o] = \sum_{n, i} dy[n, o, i]",
            seed=SEED_CONV, primary=GBC, assumptions=DEF_ASSUME + (SIZES,),
            steps=(r"\frac{\partial y[o', i]}{\partial b[o]} = [\,o' = o\,]\ \Rightarrow\ \frac{\partial L}{\partial b[o]} = \sum_i dy[o, i]",))
def _grad_bias():
    out = []
    for cfg in W_CASES[:2] + W_CASES[3:]:
        L = layer(**cfg)
        dy = cotangent(L)
        Lf = loss(forward(L), dy)
        out.append((f"{_cfg(cfg)}: sp.diff(<dy, y>, b[o]) = sum_i dy[o, i]",
                    combine(_q(sp.diff(Lf, L.b[o]) - sum(v for k, v in dy.items() if k[0] == o)) for o in range(len(L.b)))))
    return out


# ---------------------------------------------------------------- equivariance

def _prefix_zeros(L: Layer, shift: tuple) -> Layer:
    """The same layer on x' = x with ``shift[a]`` zeros prepended along spatial axis a."""
    C_in, *n = L.xshape
    n2 = tuple(n[a] + shift[a] for a in range(L.nd))
    x2 = {}
    for idx in itertools.product(range(C_in), *map(range, n2)):
        c, *j = idx
        src = tuple(j[a] - shift[a] for a in range(L.nd))
        x2[idx] = L.x[(c, *src)] if all(v >= 0 for v in src) else sp.Integer(0)
    return Layer(x2, L.w, L.b, (C_in, *n2), L.wshape, L.s, L.p, L.d, L.G)


EQUIV_CASES = (dict(xshape=(1, 4), wshape=(1, 1, 2), p=1, t=1), dict(xshape=(2, 5), wshape=(1, 2, 2), s=2, p=1, t=1),
               dict(xshape=(1, 4), wshape=(1, 1, 2), s=2, d=2, t=2), dict(xshape=(1, 3, 3), wshape=(1, 1, 2, 2), s=(1, 2), p=1, t=(1, 1)))


@derivation("conv.equivariance", title="Translation equivariance: shifting the input by s t shifts the output by t",
            latex=r"x'[c, j] = x[c, j - s t]\ (0 \text{ for } j < s t):\quad y'[o, i + t] = y[o, i]\ \ (0 \le i < n_{out}),"
                  r"\quad n'_{out} = n_{out} + t",
            seed=SEED_CONV, primary=GBC + " (§9.2: parameter sharing makes convolution equivariant to translation); " + LECUN,
            assumptions=DEF_ASSUME + ("zero padding: x' = x with s t zeros prepended (exact for every output of y); "
                                      "circular padding: exact for every output, x rolled (stride 1, or s | n)", SIZES),
            notes="A shift by a non-multiple of the stride moves the sampling grid: the output is then not a shift "
                  "(conv.equivariance.stride.refuted). With zero padding the first t outputs of y' are new "
                  "(they see the prepended zeros and the padding).",
            steps=(
                r"x'_{\text{pad}}[c, j + s t] = x_{\text{pad}}[c, j]\quad (0 \le j < n + 2p;\ \text{both are } 0 \text{ in the left padding})",
                r"y'[o, i + t] = b[o] + \sum_{c,k} w\, x'_{\text{pad}}[\cdot,\ (i + t) s + k d] = "
                r"b[o] + \sum_{c,k} w\, x_{\text{pad}}[\cdot,\ i s + k d] = y[o, i]",
                r"n'_{out} = \Big\lfloor \frac{E + s t}{s}\Big\rfloor + 1 = n_{out} + t",
                r"\text{circular: } x_{\text{pad}}[j] = x[j \bmod n]:\ y(\mathrm{roll}_{s t}\,x)[i] = y(x)[(i - t) \bmod n_{out}]",
            ))
def _equivariance():
    out = []
    for cfg in EQUIV_CASES:
        cfg = dict(cfg)
        t = _tuple(cfg.pop("t"), len(cfg["xshape"]) - 1)
        L = layer(**cfg)
        shift = tuple(L.s[a] * t[a] for a in range(L.nd))
        L2 = _prefix_zeros(L, shift)
        y, y2 = forward(L), forward(L2)
        sizes_ok = all(L2.outs[a] == L.outs[a] + t[a] for a in range(L.nd))
        out.append((f"{_cfg(cfg)}, shift s t = {shift}: n'_out = n_out + t and y'[o, i + t] = y[o, i] for every i",
                    combine([_exact(sizes_ok, f"n_out {L.outs} -> {L2.outs}")]
                            + [_q(sp.expand(y2[(k[0], *tuple(k[1 + a] + t[a] for a in range(L.nd)))] - y[k])) for k in y])))
    # circular padding: exact for every output
    for n, K, s, t in ((5, 3, 1, 1), (5, 3, 1, 2), (6, 2, 2, 1)):
        x = sp.symbols(f"x0:{n}", real=True)
        w = sp.symbols(f"w0:{K}", real=True)
        nout = n // s

        def circ(v):
            return [sum(w[k] * v[(i * s + k) % n] for k in range(K)) for i in range(nout)]

        rolled = [x[(j - s * t) % n] for j in range(n)]
        y, y2 = circ(x), circ(rolled)
        out.append((f"circular padding, n = {n}, K = {K}, s = {s}: y(roll_(s t) x)[i] = y(x)[(i - t) mod n_out], t = {t}",
                    combine(_q(sp.expand(y2[i] - y[(i - t) % nout])) for i in range(nout))))
    return out


@derivation("conv.equivariance.stride.refuted", kind="refutation",
            title="With stride 2 a shift by 1 is not a shift of the output",
            latex=r"x = (1, 0, 0, 0),\ w = (1,),\ s = 2:\ y = (1, 0);\quad x' = (0, 1, 0, 0, 0):\ y' = (0, 0, 0)",
            seed=SEED_CONV, primary=GBC + " (§9.2)", assumptions=("K = 1, no padding, dilation 1",),
            notes="Equivariance holds for shifts by multiples of the stride only (conv.equivariance).",
            steps=(r"y[i] = x[2 i]:\ y = (1, 0),\quad y'[i] = x'[2 i] = (0, 0, 0)",
                   r"y \text{ has an entry } 1,\ y' \text{ none: no } t \text{ with } y'[i + t] = y[i]"))
def _equivariance_refuted():
    L = layer((1, 4), (1, 1, 1), s=2, bias=False)
    pt = {L.x[(0, 0)]: 1, L.x[(0, 1)]: 0, L.x[(0, 2)]: 0, L.x[(0, 3)]: 0, L.w[(0, 0, 0)]: 1}
    y = [v.subs(pt) for v in forward(L).values()]
    y2 = [(sp.Integer(0) + v).subs(pt) for v in forward(_prefix_zeros(L, (1,))).values()]
    cex = {"point": {"x": "(1, 0, 0, 0)", "w": "(1,)", "s": "2", "shift": "1"}, "value": f"y = {tuple(y)}, y' = {tuple(y2)}"}
    return [("y = (1, 0)", prove_equal(sp.Matrix(y), sp.Matrix([1, 0]))),
            ("y' = (0, 0, 0)", prove_equal(sp.Matrix(y2), sp.Matrix([0, 0, 0]))),
            ("no translate: 1 is in y but not in y'", _with_cex(prove_true(sp.Eq(sum(1 for v in y2 if v == 1), 0)), cex))]


# ---------------------------------------------------------------- receptive fields

def receptive_field(ks, ss, ds) -> tuple:
    """(r_L, j_L): r_L = 1 + sum_l (k_l - 1) d_l prod_{i<l} s_i, j_L = prod s_l (the jump). [conv.receptive_field]"""
    r, j = 1, 1
    for k, s, d in zip(ks, ss, ds):
        r, j = r + (k - 1) * d * j, j * s
    return r, j


def support_offsets(ks, ss, ds) -> set:
    """S = {sum_l m_l d_l j_{l-1} : 0 <= m_l < k_l}: the input offsets one output reads (no padding touched)."""
    S, j = {0}, 1
    for k, s, d in zip(ks, ss, ds):
        S = {a + m * d * j for a in S for m in range(k)}
        j *= s
    return S


def _stack_outputs(n0, ks, ss, ds):
    """The outputs of a stack of C = 1 layers (no padding, no bias), generic weights, as expressions in x."""
    x = sp.symbols(f"x0:{n0}", real=True)
    a = list(x)
    for l, (k, s, d) in enumerate(zip(ks, ss, ds)):
        w = sp.symbols(f"w{l}_0:{k}", positive=True)
        a = [sum(w[m] * a[i * s + m * d] for m in range(k)) for i in range(out_size(len(a), k, 0, s, d))]
    return x, [sp.expand(v) for v in a]


RF_STACKS = (((3, 2, 2), (1, 2, 1), (1, 1, 2)), ((2, 2), (1, 1), (1, 3)), ((3, 3), (2, 2), (1, 1)), ((1, 2), (2, 1), (1, 1)),
             ((2, 3, 2), (2, 1, 2), (2, 1, 1)))


@derivation("conv.receptive_field", title="Receptive field of a stack: r_L = 1 + sum_l (k_l - 1) d_l prod_{i<l} s_i",
            latex=r"r_L = 1 + \sum_{l=1}^{L} (k_l - 1)\, d_l \prod_{i < l} s_i;\quad r_l = r_{l-1} + (k_l - 1) d_l\, j_{l-1},\ "
                  r"j_l = j_{l-1} s_l,\ r_0 = j_0 = 1",
            seed=SEED_CONV, primary=ARAUJO + "; " + DV,
            assumptions=("layers l = 1..L with kernel k_l, stride s_l, dilation d_l (per axis)",
                         "r: the span (first to last input index) read by one output; j_l: the input distance of "
                         "adjacent layer-l outputs (the jump)",
                         "support check: no padding, generic non-zero weights; with padding the span is shifted by "
                         "P = sum_l p_l j_{l-1} and clipped where intermediate padding cuts paths"),
            notes="Strides or dilations can leave gaps: output i reads exactly x[i j_L + S], S = {sum_l m_l d_l j_{l-1}}, "
                  "whose extent is r_L (the support obligations). The property conv.receptive_field perturbs one input "
                  "and checks the changed outputs against the dependence pattern composed from the definition.",
            steps=(
                r"\text{layer } l \text{ output } q \text{ reads layer-}(l-1) \text{ positions } q s_l + m d_l,\ 0 \le m < k_l",
                r"\text{a layer-}(l-1)\text{ position spans } r_{l-1} \text{ inputs, adjacent ones } j_{l-1} \text{ apart}",
                r"\Rightarrow\ r_l = (k_l - 1) d_l\, j_{l-1} + r_{l-1},\qquad j_l = s_l\, j_{l-1}",
                r"\text{unrolled: } r_L = 1 + \sum_l (k_l - 1) d_l \prod_{i<l} s_i\quad\text{(induction on } L)",
            ))
def _receptive_field():
    out = []
    for Ln in (1, 2, 3, 4):
        k = sp.symbols(f"k1:{Ln + 1}", positive=True)
        s = sp.symbols(f"s1:{Ln + 1}", positive=True)
        d = sp.symbols(f"d1:{Ln + 1}", positive=True)
        r, j = sp.Integer(1), sp.Integer(1)
        for l in range(Ln):
            r, j = r + (k[l] - 1) * d[l] * j, j * s[l]
        closed = 1 + sum((k[l] - 1) * d[l] * prod(s[:l]) for l in range(Ln))
        out.append((f"L = {Ln}: the recursion unrolls to the closed form; j_L = prod s",
                    combine([prove_equal(r, closed), prove_equal(j, prod(s))])))
    # induction step, symbolic: closed(L) + (k - 1) d J_{L} = closed(L + 1)
    k, s, d = (sp.symbols(f"{c}1:5", positive=True) for c in "ksd")
    c3 = 1 + sum((k[l] - 1) * d[l] * prod(s[:l]) for l in range(3))
    c4 = 1 + sum((k[l] - 1) * d[l] * prod(s[:l]) for l in range(4))
    out.append(("induction step: r_3 + (k_4 - 1) d_4 j_3 = r_4 (closed forms)", prove_equal(c3 + (k[3] - 1) * d[3] * prod(s[:3]), c4)))
    for ks, ss, ds in RF_STACKS:
        r, J = receptive_field(ks, ss, ds)
        S = support_offsets(ks, ss, ds)
        n0 = J * 2 + r + 1
        x, ys = _stack_outputs(n0, ks, ss, ds)
        bad = [i for i, v in enumerate(ys) if {x.index(a) for a in v.free_symbols & set(x)} != {i * J + o for o in S}]
        out.append((f"k = {ks}, s = {ss}, d = {ds} (n = {n0}): output i depends exactly on x[i j_L + S], min S = 0, "
                    f"max S = r_L - 1 = {r - 1}, for all {len(ys)} outputs",
                    _exact(not bad and min(S) == 0 and max(S) == r - 1 and len(ys) >= 2, f"mismatching outputs: {bad}")))
    return out
