"""Convolutional layers (torch's Conv1d / Conv2d semantics): definition, output size, parameters, exact gradients,
translation equivariance, receptive fields.

A layer with C_in input channels, C_out output channels, G groups (G | C_in, G | C_out), kernel w (C_out, C_in/G,
K...), bias b (C_out,), stride s, zero padding p on both sides and dilation d computes the cross-correlation

    y[o, i] = b[o] + sum_{c < C_in/G} sum_k w[o, c, k] x_pad[g(o) C_in/G + c, i s + k d],   g(o) = o // (C_out/G),

per spatial axis (2-D: i, k, s, p, d pairs). Gradients of L = <dy, y> (a VJP):

    dx = crop_p( full cross-correlation of (dy dilated by s) with (w flipped, dilated by d) ),
    dw[o, c, k] = sum_i dy[o, i] x_pad[g(o) C_in/G + c, i s + k d],   db[o] = sum_i dy[o, i].

Route: the layer at symbolic sizes (1-D and 2-D; G, C_in/G, C_out/G, n, K, s, p, d, n_out per axis) with
entries as IndexedBase, written from its definition as an explicit Sum; sp.diff of L = <dy, y> gives Kronecker
deltas, and `prove_conv_equal` shows the derived formula equal to it for every size (deltas evaluated, index
brackets decided from the index ranges, the flip a change of variable k -> K - 1 - k; see `conv_normal`).
Definitions and refutations use explicit small layers (`layer`, `forward`). Integer facts (output size, receptive
fields) are proved with symbols.

Seed: 深度学习数学模块 · 08-Convolutional-Networks.md (卷积网络). Primary: Goodfellow, Bengio & Courville (2016)
ch. 9; Dumoulin & Visin (2016); torch.nn.Conv1d / Conv2d; Araujo, Norris & Sim (2019); LeCun et al. (1998).
"""
from __future__ import annotations

import dataclasses
import itertools
from math import prod

import sympy as sp

from . import scope as sc
from .indexed import implied_nonnegative, index, solve_unit, unit_coefficient
from .prove import PROVED, ProofResult, combine, prove_equal, prove_true, prove_zero
from .registry import derivation
from .sums import normal_form, sum_normal

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
SYM_SIZES = ("symbolic sizes (proved entry-wise for every size, 1-D and 2-D): G, C_in/G, C_out/G, n, K, s, p, d "
             "and n_out per axis; channels in torch's contiguous group layout c_in = g C_in/G + c, o = g C_out/G + r; "
             "zero padding as the bracket [0 <= j < n] on every read of x")


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


def _with_cex(result, cex):
    return dataclasses.replace(result, counterexample=cex)


def _cfg(c):
    return ", ".join(f"{k}={v}" for k, v in c.items())


#: the sizes a layer statement ranges over (channels, signal length per axis, kernel per axis)
LAYER_SIZES = ("C_in", "C_out", "n", "K")


def _layer_at(xshape, wshape) -> sc.Scope:
    """The concrete size of one explicit layer check: C_in, C_out, n (per axis), K (per axis)."""
    sizes = {"C_in": xshape[0], "C_out": wshape[0]}
    for a, (nn, kk) in enumerate(zip(xshape[1:], wshape[2:])):
        suffix = "" if len(xshape) == 2 else str(a + 1)
        sizes[f"n{suffix}"], sizes[f"K{suffix}"] = nn, kk
    return sc.at(**sizes)


def _at_layers(out, shapes):
    """Attach the explicit layer size to each (description, result) obligation."""
    return [(d, r, _layer_at(*sh)) for (d, r), sh in zip(out, shapes)]


# ---------------------------------------------------------------- symbolic sizes: entry-wise proofs for every size
#
# The layer at symbolic sizes: G groups of C_g = C_in/G input and C_og = C_out/G output channels, written in
# torch's contiguous group layout c_in = g C_g + c, o = g C_og + r (a bijection, so x[g, c, .], w[g, r, c, k],
# b[g, r], dy[g, r, t] index the same entries as torch's x[c_in, .], w[o, c, k], b[o], dy[o, t]); symbolic
# length n, kernel K, stride s, dilation d, padding p and number of outputs n_out per axis (the gradient
# identities hold for every n_out; the layer's own n_out is one of them). Zero padding is the Iverson
# bracket [0 <= j < n] on every read of x, written [e >= 0] = Heaviside(e, 1) for an integer e.
#
# `conv_normal` brings a sum of products of such entries to a normal form by exact rewrites only:
# a Kronecker delta with a bound index of coefficient +-1 evaluates that sum (the range becomes two brackets);
# a bracket implied by the index bounds (free indices in [0, N-1], bound ones in their ranges), or implied
# under a delta (solve the delta's equation for a symbol of coefficient +-1), is 1; a bracket implied by
# another in the same product is dropped; a bracket linear in a bound index tightens its range when the new
# range is decided to lie inside the old one; every range is shifted to start at 0; then the finite-sum
# normal form of sums.py. What it cannot decide stays, so a wrong identity is never proved.


def ind(e):
    """The Iverson bracket [e >= 0] for an integer e (Heaviside(e, 1): 1 at e = 0)."""
    return sp.Heaviside(e, 1)


def _under_deltas(e, deltas):
    """e rewritten with each delta's equation D = 0 solved for a symbol of coefficient +-1 (equal under it)."""
    return [e.xreplace({v: solve_unit(D, v)}) for D in deltas for v in sorted(D.free_symbols, key=str)
            if unit_coefficient(D, v)]


def _kd_canon(kd):
    D = sp.expand(kd.args[0] - kd.args[1])
    return sp.KroneckerDelta(min(D, -D, key=sp.default_sort_key), 0)


def _term_normal(term, bounds):
    """One product, or one multi-index Sum of a product, rewritten as described above."""
    body, lims = (term.function, list(term.limits)) if isinstance(term, sp.Sum) else (term, [])
    changed = True
    while changed:
        changed = False
        facs = list(sp.Mul.make_args(sp.expand(body)))
        free_range = [l for l in lims if not any(l[0] in (m[1].free_symbols | m[2].free_symbols) for m in lims)]
        for f in (f for f in facs if isinstance(f, sp.KroneckerDelta)):  # a delta evaluates a sum
            D = sp.expand(f.args[0] - f.args[1])
            lim = next((l for l in free_range if unit_coefficient(D, l[0])), None)
            if lim is not None:
                v, lo, hi = lim
                sol = solve_unit(D, v)
                body = sp.Mul(*[g for g in facs if g is not f]).xreplace({v: sol}) * ind(sol - lo) * ind(hi - sol)
                lims.remove(lim)
                changed = True
                break
        if changed:
            continue
        bb = dict(bounds)
        bb.update({v: hi + 1 for v, lo, hi in lims if lo == 0})
        deltas = [sp.expand(f.args[0] - f.args[1]) for f in facs if isinstance(f, sp.KroneckerDelta)]
        brackets = [f for f in facs if isinstance(f, sp.Heaviside)]
        drop = next((f for f in brackets if implied_nonnegative(f.args[0], bb)
                     or any(implied_nonnegative(e2, bb) for e2 in _under_deltas(f.args[0], deltas))
                     or any(g is not f and implied_nonnegative(f.args[0] - g.args[0], bb) for g in brackets)), None)
        if drop is not None:
            body = sp.Mul(*[g for g in facs if g is not drop])
            changed = True
            continue
        for f in brackets:  # a bracket tightens a range
            e = sp.expand(f.args[0])
            for li, (v, lo, hi) in enumerate(lims):
                if (v, lo, hi) not in free_range or not unit_coefficient(e, v):
                    continue
                bnd = solve_unit(e, v)
                nlo, nhi = (bnd, hi) if e.coeff(v, 1) == 1 else (lo, bnd)
                bl = {k: N for k, N in bb.items() if k != v}
                if implied_nonnegative(nlo - lo, bl) and implied_nonnegative(hi - nhi, bl) and implied_nonnegative(nhi - nlo + 1, bl):
                    lims[li] = (v, nlo, nhi)
                    body = sp.Mul(*[g for g in facs if g is not f])
                    changed = True
                    break
            if changed:
                break
    for li, (v, lo, hi) in enumerate(lims):  # every range from 0
        if lo != 0:
            body = body.xreplace({v: v + lo})
            lims[li] = (v, 0, sp.expand(hi - lo))
    body = body.replace(lambda a: isinstance(a, sp.KroneckerDelta), _kd_canon)
    body = body.replace(lambda a: isinstance(a, sp.Heaviside), lambda a: ind(sp.expand(a.args[0])))
    body = body.replace(lambda a: isinstance(a, sp.Indexed), lambda a: a.base[tuple(sp.expand(v) for v in a.indices)])
    return sp.Sum(body, *lims) if lims else body


def conv_normal(e, bounds: dict) -> sp.Basic:
    """The normal form of a sum of products of layer entries (see above); ``bounds`` maps each free index to its
    range size N (index in [0, N - 1])."""
    e = sum_normal(sp.expand(e))
    e = sp.Add(*[_term_normal(t, bounds) for t in sp.Add.make_args(sp.expand(e))])
    return normal_form(e)


def prove_conv_equal(lhs, rhs, bounds: dict) -> ProofResult:
    """lhs == rhs for every size: both in `conv_normal` form, the difference handed to the prover."""
    a, b = conv_normal(lhs, bounds), conv_normal(rhs, bounds)
    if a == b:
        return ProofResult(PROVED, "entry-wise (symbolic size)", "equal after evaluating deltas, index brackets and "
                           "the finite-sum normal form")
    return prove_zero(a - b, use_simplify=False)


def _pos(name):
    return sp.Symbol(name, integer=True, positive=True)


class SymLayer:
    """A layer with ``nd`` spatial axes at symbolic sizes (see the comment above): entries as IndexedBase."""

    def __init__(self, nd: int = 1):
        self.nd = nd
        sfx = [""] if nd == 1 else [str(a + 1) for a in range(nd)]
        self.G, self.Cg, self.Cog = _pos("G"), _pos("C_g"), _pos("C_og")
        self.n, self.K, self.s, self.d, self.nout = ([_pos(f"{v}{a}") for a in sfx] for v in ("n", "K", "s", "d", "n_out"))
        self.p = [index(f"p{a}") for a in sfx]
        self.x, self.w, self.b, self.dy = (sp.IndexedBase(c, real=True) for c in ("x", "w", "b", "dy"))
        self.g, self.r, self.c = index("g"), index("r"), index("c")
        self.k = [index(f"k{a}") for a in sfx]
        self.t = [index(f"t{a}") for a in sfx]

    def ax(self):
        return range(self.nd)

    def xpad(self, g, c, pos, n=None):
        """x_pad at padded position pos + p: x[g, c, pos] bracketed by 0 <= pos < n (zero padding)."""
        n = self.n if n is None else n
        return self.x[(g, c, *pos)] * sp.Mul(*[ind(pos[a]) * ind(n[a] - 1 - pos[a]) for a in self.ax()])

    def read(self, i, k):
        """The input position read by output i through kernel tap k: i s + k d - p, per axis."""
        return [i[a] * self.s[a] + k[a] * self.d[a] - self.p[a] for a in self.ax()]

    def y(self, g, r, i, xpad=None):
        """y[g, r, i] = b[g, r] + sum_{c < C_g} sum_k w[g, r, c, k] x_pad[g, c, i s + k d]."""
        xpad = self.xpad if xpad is None else xpad
        return self.b[g, r] + sp.Sum(self.w[(g, r, self.c, *self.k)] * xpad(g, self.c, self.read(i, self.k)),
                                     (self.c, 0, self.Cg - 1), *[(self.k[a], 0, self.K[a] - 1) for a in self.ax()])

    def loss(self):
        """<dy, y> over every group, output channel and position."""
        return sp.Sum(self.dy[(self.g, self.r, *self.t)] * self.y(self.g, self.r, self.t),
                      (self.g, 0, self.G - 1), (self.r, 0, self.Cog - 1),
                      *[(self.t[a], 0, self.nout[a] - 1) for a in self.ax()])

    def dy_up(self, g, o, q):
        """dy dilated by s: dy_up[o, q] = dy[o, q / s] where s | q and 0 <= q / s < n_out, else 0."""
        tt = [index(f"t'{a}") for a in self.ax()]
        return sp.Sum(self.dy[(g, o, *tt)] * sp.Mul(*[sp.KroneckerDelta(q[a], self.s[a] * tt[a]) for a in self.ax()]),
                      *[(tt[a], 0, self.nout[a] - 1) for a in self.ax()])

    def free_x(self):
        """The free input index (h, e, u) and its bounds."""
        h, e = index("h"), index("e")
        u = [index(f"u{a}") for a in self.ax()]
        return h, e, u, {h: self.G, e: self.Cg, **{u[a]: self.n[a] for a in self.ax()}}


def reflect(expr: sp.Basic, v, K) -> sp.Basic:
    """The change of variable v -> K - 1 - v in every sum over v in [0, K - 1] (exact: a bijection of the range)."""
    return expr.replace(lambda a: isinstance(a, sp.Sum) and any(l[0] == v for l in a.limits),
                        lambda a: a.change_index(v, K - 1 - v, v))

# ---------------------------------------------------------------- definitions

@derivation("conv.cross_correlation", kind="definition", title="A convolutional layer computes a cross-correlation",
            latex=r"y[o, i] = b[o] + \sum_{c < C_{in}/G}\ \sum_{k} w[o, c, k]\; x_{\text{pad}}\big[g(o)\,\tfrac{C_{in}}{G} + c,\ "
                  r"i s + k d\big],\quad g(o) = \lfloor o / (C_{out}/G) \rfloor",
            seed=SEED_CONV, primary=GBC + "; " + TORCH_CONV + "; " + LECUN,
            assumptions=DEF_ASSUME + ("2-D: i, k, s, p, d are pairs, the sum over both kernel axes",
                                      "consistency checked at explicit small sizes"), sizes=LAYER_SIZES,
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
    return _at_layers(out, [((1, 5), (1, 1, 3)), ((4, 5), (2, 2, 2)), ((4, 5), (2, 2, 2)), ((1, 3, 4), (1, 1, 2, 2))])


@derivation("conv.true_convolution_flip", title="The layer is a true convolution with the flipped kernel",
            latex=r"\sum_k w[k]\, x[i + k] = (x * \tilde w)[i + K - 1],\quad \tilde w[k] = w[K - 1 - k],\quad "
                  r"(x * v)[m] = \sum_j x[j]\, v[m - j]",
            seed=SEED_CONV, primary=GBC + " (eqs. 9.4-9.6: convolution flips the kernel, cross-correlation does not)",
            assumptions=("stride 1, no padding, dilation 1 (the 'valid' part); per channel", "symbolic n and K per axis (1-D and 2-D), proved for every size"), sizes=LAYER_SIZES,
            notes="So a conv layer learns the flipped kernel of the textbook convolution; the two differ "
                  "(conv.true_convolution.refuted). With dilation d the same holds for the dilated kernel.",
            steps=(
                r"(x * \tilde w)[i + K - 1] = \sum_j x[j]\,\tilde w[i + K - 1 - j]",
                r"k := j - i:\quad \tilde w[K - 1 - k] = w[k]\ \Rightarrow\ \sum_{k=0}^{K-1} x[i + k]\, w[k] = y[i]",
            ))
def _true_convolution_flip():
    # per channel, stride 1, no padding, dilation 1; symbolic n, K per axis; output i in [0, n - K]
    out = []
    for nd in (1, 2):
        ax = range(nd)
        sfx = [""] if nd == 1 else [str(a + 1) for a in ax]
        n, K = [_pos(f"n{a}") for a in sfx], [_pos(f"K{a}") for a in sfx]
        x, w = sp.IndexedBase("x", real=True), sp.IndexedBase("w", real=True)
        i, k, j = ([index(f"{v}{a}") for a in sfx] for v in ("i", "k", "j"))
        y = sp.Sum(w[tuple(k)] * x[tuple(i[a] + k[a] for a in ax)], *[(k[a], 0, K[a] - 1) for a in ax])
        # (x * v)[m] = sum_j x[j] v[m - j] over the input, v = flip(w) zero outside [0, K - 1], at m = i + K - 1
        m = [i[a] + K[a] - 1 - j[a] for a in ax]
        wt = w[tuple(K[a] - 1 - m[a] for a in ax)] * sp.Mul(*[ind(m[a]) * ind(K[a] - 1 - m[a]) for a in ax])
        conv = sp.Sum(x[tuple(j)] * wt, *[(j[a], 0, n[a] - 1) for a in ax])
        out.append((f"{nd}-D, symbolic n, K: y[i] = sum_k w[k] x[i + k] = (x * flip(w))[i + K - 1] for every output i "
                    "(the kernel brackets cut the sum over j to i..i+K-1, then j = i + k)",
                    prove_conv_equal(y, conv, {i[a]: n[a] - K[a] + 1 for a in ax}), sc.GENERAL))
    return out


@derivation("conv.true_convolution.refuted", kind="refutation",
            title="A convolutional layer computes the textbook (flipped) convolution",
            latex=r"x = (1, 2, 3),\ w = (1, 0):\quad \text{layer } y = (1, 2),\quad "
                  r"\sum_k w[k]\, x[i + K - 1 - k] = (2, 3) \ne y",
            seed=SEED_CONV, primary=GBC + "; " + TORCH_CONV,
            assumptions=("stride 1, no padding, dilation 1",), sizes=LAYER_SIZES,
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
    at = _layer_at((1, 3), (1, 1, 2))
    return [("the layer gives (1, 2)", prove_equal(sp.Matrix(y), sp.Matrix([1, 2])), at),
            ("the true convolution gives (2, 3)", prove_equal(sp.Matrix(tc), sp.Matrix([2, 3])), at),
            ("they differ at i = 0", _with_cex(prove_true(sp.Ne(y[0], tc[0])), cex), at)]


# ---------------------------------------------------------------- sizes and parameters

@derivation("conv.output_size", title="Output size: floor((n + 2p - d(k-1) - 1)/s) + 1",
            latex=r"n_{out} = \#\{i \ge 0 : i s + d(k-1) \le n + 2p - 1\} = "
                  r"\Big\lfloor \frac{n + 2p - d(k-1) - 1}{s} \Big\rfloor + 1",
            seed=SEED_CONV, primary=DV + "; " + TORCH_CONV,
            assumptions=("n >= 1, k >= 1, p >= 0, s >= 1, d >= 1 integers",
                         "E = n + 2p - d(k-1) - 1 >= 0 (else no window fits: n_out = 0)",
                         "per spatial axis (2-D: each axis separately); n, k, p, s, d symbolic"),
            sizes=("n", "k", "p", "s", "d"),
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
    # every step is symbolic in E = n + 2p - d(k-1) - 1 >= 0 and s >= 1: for every size
    return [(d_, r_, sc.GENERAL) for d_, r_ in out]


def param_count(C_in: int, C_out: int, K, G: int = 1, bias: bool = True) -> int:
    """C_out (C_in/G) prod(K) + C_out (with bias). [conv.param_count]"""
    K = (K,) if isinstance(K, int) else tuple(K)
    return C_out * (C_in // G) * prod(K) + (C_out if bias else 0)


@derivation("conv.param_count", title="Parameters of a convolutional layer",
            latex=r"\#\theta = C_{out}\,\frac{C_{in}}{G}\,\prod_a k_a + C_{out}\ (\text{with bias}) = "
                  r"G \cdot \frac{C_{out}}{G}\,\frac{C_{in}}{G}\prod_a k_a + C_{out}",
            seed=SEED_CONV, primary=TORCH_CONV + "; " + LECUN + " (weight sharing: independent of the input size)",
            assumptions=("G | C_in, G | C_out", "one bias per output channel (bias=True)",
                         "the weight's shape (C_out, C_in/G, k_1, ..., k_D) is torch's definition; symbolic sizes"),
            sizes=("C_in", "C_out", "G", "D", "k"),
            notes="G blocks of (C_out/G) x (C_in/G) kernels: G times fewer weights than the dense (G = 1) layer. "
                  "Independent of n, stride, padding, dilation (weight sharing).",
            steps=(
                r"w \in \mathbb R^{C_{out} \times (C_{in}/G) \times k_1 \times \dots},\ b \in \mathbb R^{C_{out}}",
                r"C_{out}\frac{C_{in}}{G}\prod k = G\Big(\frac{C_{out}}{G}\cdot\frac{C_{in}}{G}\prod k\Big)"
                r" = \frac{1}{G}\Big(C_{out}\,C_{in}\prod k\Big)",
            ))
def _param_count():
    Ci, Co, G, P = sp.symbols("C_in C_out G P", positive=True)  # P = prod_a k_a, any number of axes
    return [("C_out (C_in/G) P = G (C_out/G)(C_in/G) P (G blocks), P = prod_a k_a",
             prove_equal(Co * (Ci / G) * P, G * (Co / G) * (Ci / G) * P), sc.GENERAL),
            ("= (1/G) of the dense layer's C_out C_in P", prove_equal(Co * (Ci / G) * P, Co * Ci * P / G), sc.GENERAL)]


def _param_count_used_symbols():
    """The distinct weight and bias symbols the outputs of explicit layers depend on (a test checks the count)."""
    bad = []
    for xshape, wshape, G, kw in (((4, 5), (2, 2, 3), 2, {}), ((2, 6), (4, 2, 2), 1, dict(s=2, p=1)),
                                  ((4, 4), (4, 1, 2), 4, dict(d=2)), ((2, 3, 3), (2, 1, 2, 2), 2, {})):
        L = layer(xshape, wshape, G=G, **kw)
        used = set().union(*(e.free_symbols for e in forward(L).values())) - set(L.x.values())
        want = param_count(xshape[0], wshape[0], wshape[2:], G)
        if len(used) != want:
            bad.append((xshape, wshape, G, len(used), want))
    return bad


@derivation("conv.groups.block_diagonal", title="Groups: the layer is block-diagonal over the channel groups",
            latex=r"\frac{\partial y[o, i]}{\partial x[c, j]} = 0\ \text{unless}\ \lfloor c/(C_{in}/G)\rfloor = g(o);\quad "
                  r"y = \mathrm{conv}_{G=1}(x, W),\ W[o, c] = w[o, c - g(o)C_{in}/G]\ \text{in the block, } 0 \text{ outside}",
            seed=SEED_CONV, primary=TORCH_CONV + " (groups: 'each input channel is convolved with its own set of filters')",
            assumptions=DEF_ASSUME + (SYM_SIZES,), sizes=LAYER_SIZES,
            notes="The mutant 'groups ignored' (every output channel reading all inputs) breaks exactly this.",
            steps=(
                r"g(o) = \lfloor o/(C_{out}/G)\rfloor:\ y[o] \text{ reads only channels } g(o)\tfrac{C_{in}}{G}, \dots, (g(o)+1)\tfrac{C_{in}}{G} - 1",
                r"W = \mathrm{blockdiag}(w^{(0)}, \dots, w^{(G-1)}),\ w^{(g)} = w[g\tfrac{C_{out}}{G}:(g+1)\tfrac{C_{out}}{G}]",
            ))
def _groups():
    out = []
    for nd in (1, 2):
        S = SymLayer(nd)
        h, e, u, _ = S.free_x()
        a_ = index("a")
        i = [index(f"i{a}") for a in S.ax()]
        yi = S.y(S.g, S.r, i)
        for label, hh in (("h = g + 1 + a", S.g + 1 + a_), ("g = h + 1 + a", None)):
            if hh is None:
                der = sp.diff(S.y(h + 1 + a_, S.r, i), S.x[(h, e, *u)])
            else:
                der = sp.diff(yi, S.x[(hh, e, *u)])
            out.append((f"{nd}-D, symbolic sizes: d y[g, r, i] / d x[h, e, u] = 0 for {label} (a >= 0): another "
                        "group's channels are not read", prove_zero(conv_normal(der, {}), use_simplify=False), sc.GENERAL))
        # the G = 1 layer over all C_in = G C_g channels with W[(g, r), (h, e)] = [g = h] w[g, r, e]
        hb, eb = index("h'"), index("e'")
        dense = S.b[S.g, S.r] + sp.Sum(sp.KroneckerDelta(S.g, hb) * S.w[(S.g, S.r, eb, *S.k)] * S.xpad(hb, eb, S.read(i, S.k)),
                                       (hb, 0, S.G - 1), (eb, 0, S.Cg - 1), *[(S.k[a], 0, S.K[a] - 1) for a in S.ax()])
        out.append((f"{nd}-D, symbolic sizes: y equals the G = 1 layer with the block-diagonal weight",
                    prove_conv_equal(yi, dense, {S.g: S.G, S.r: S.Cog, **{i[a]: S.nout[a] for a in S.ax()}}), sc.GENERAL))
    return out


def _dx_obligations(stride_one: bool):
    """sp.diff(<dy, y>, x[h, e, u]) against the derived forms, 1-D and 2-D, symbolic sizes."""
    out = []
    for nd in (1, 2):
        S = SymLayer(nd)
        ax = S.ax()
        if stride_one:
            S.s = [sp.Integer(1)] * nd
        h, e, u, bnd = S.free_x()
        o, k = index("o"), [index(f"k'{a}") for a in ax]
        lims = [(o, 0, S.Cog - 1), *[(k[a], 0, S.K[a] - 1) for a in ax]]
        grad = sp.diff(S.loss(), S.x[(h, e, *u)])
        if stride_one:   # dy read at j + p - k d, 0 outside [0, n_out)
            q = [u[a] + S.p[a] - S.d[a] * k[a] for a in ax]
            direct = sp.Sum(S.w[(h, o, e, *k)] * S.dy[(h, o, *q)] * sp.Mul(*[ind(q[a]) * ind(S.nout[a] - 1 - q[a]) for a in ax]), *lims)
            qf = [u[a] + S.p[a] + S.d[a] * k[a] - S.d[a] * (S.K[a] - 1) for a in ax]  # dy_pad[j + m d], pad d(K-1)
            flipped = sp.Sum(S.w[(h, o, e, *[S.K[a] - 1 - k[a] for a in ax])] * S.dy[(h, o, *qf)]
                             * sp.Mul(*[ind(qf[a]) * ind(S.nout[a] - 1 - qf[a]) for a in ax]), *lims)
            what = "dy"
        else:            # dy dilated by s (dy_up), then the stride-1 form
            direct = sp.Sum(S.w[(h, o, e, *k)] * S.dy_up(h, o, [u[a] + S.p[a] - S.d[a] * k[a] for a in ax]), *lims)
            flipped = sp.Sum(S.w[(h, o, e, *[S.K[a] - 1 - k[a] for a in ax])]
                             * S.dy_up(h, o, [u[a] + S.p[a] + S.d[a] * k[a] - S.d[a] * (S.K[a] - 1) for a in ax]), *lims)
            what = "dy_up (dy dilated by s)"
        out.append((f"{nd}-D, symbolic sizes: sp.diff(<dy, y>, x[c, j]) = sum_(o, k) w[o, c, k] {what}[o, j + p - k d] "
                    "for every (c, j)", prove_conv_equal(grad, direct, bnd), sc.GENERAL))
        refl = flipped
        for a in ax:
            refl = reflect(refl, k[a], S.K[a])
        out.append((f"{nd}-D: the full correlation of the padded {what} with the flipped kernel, cropped by p, is the "
                    "same sum (k -> K - 1 - k)", prove_conv_equal(refl, direct, bnd), sc.GENERAL))
    return out


@derivation("conv.grad_input", title="Input gradient (stride 1): the full cross-correlation of dy with the flipped kernel",
            latex=r"dx_{\text{pad}}[c, j] = \sum_{o \in g(c)} \sum_k \tilde w_d[o, c, k]\; dy_{\text{pad}}[o, j + k] "
                  r"= \sum_{o, k} w[o, c, k]\; dy[o, j - k d],\quad dx = dx_{\text{pad}}[\,p : p + n\,]",
            seed=SEED_CONV, primary=GBC + "; " + DV,
            assumptions=DEF_ASSUME + ("stride 1", "dy_pad: dy with d(K-1) zeros on both sides; w~_d: flipped, dilated by d", SYM_SIZES), sizes=LAYER_SIZES,
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
    return _dx_obligations(stride_one=True)


@derivation("conv.grad_input.strided", title="Input gradient with stride s: dilate dy by s, then the stride-1 formula",
            latex=r"dy_{\uparrow s}[o, i s] = dy[o, i],\ 0 \text{ between};\quad "
                  r"dx = \mathrm{crop}_p\big(\mathrm{zeroext}_{n + 2p}(\mathrm{fullxcorr}(dy_{\uparrow s}, \tilde w_d))\big)",
            seed=SEED_CONV, primary=DV + " (ch. 4.5: the transposed convolution of a strided convolution inserts s - 1 zeros "
                                         "between the input units); " + GBC,
            assumptions=DEF_ASSUME + ("stride s >= 1 (s = 1: conv.grad_input)", SYM_SIZES), sizes=LAYER_SIZES,
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
    return _dx_obligations(stride_one=False)


@derivation("conv.grad_input.unflipped.refuted", kind="refutation",
            title="The input gradient is the full correlation of dy with the unflipped kernel",
            latex=r"n = 2,\ w = (1, 0),\ dy = (1,)\ (K = 2):\quad dx = (1, 0),\ \text{unflipped full correlation} = (0, 1)",
            seed=SEED_CONV, primary=GBC,
            assumptions=("stride 1, no padding, dilation 1",), sizes=LAYER_SIZES,
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
    at = _layer_at((1, 2), (1, 1, 2))
    return [("dx = (1, 0) (sp.diff)", prove_equal(sp.Matrix(true), sp.Matrix([1, 0])), at),
            ("the unflipped full correlation gives (0, 1)", prove_equal(sp.Matrix(wrong), sp.Matrix([0, 1])), at),
            ("they differ", _with_cex(prove_true(sp.Ne(true[0], wrong[0])), cex), at)]


@derivation("conv.grad_input.undilated.refuted", kind="refutation",
            title="With stride 2 the input gradient is the stride-1 formula applied to the undilated dy",
            latex=r"n = 4,\ K = 1,\ w = (1,),\ s = 2,\ dy = (1, 2):\quad dx = (1, 0, 2, 0),\ "
                  r"\text{undilated: } (1, 2, 0, 0)",
            seed=SEED_CONV, primary=DV, assumptions=("stride 2, no padding, dilation 1",), sizes=LAYER_SIZES,
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
    at = _layer_at((1, 4), (1, 1, 1))
    return [("dx = (1, 0, 2, 0) (sp.diff)", prove_equal(sp.Matrix(true), sp.Matrix([1, 0, 2, 0])), at),
            ("the undilated formula gives (1, 2, 0, 0)", prove_equal(sp.Matrix(wrong), sp.Matrix([1, 2, 0, 0])), at),
            ("they differ at j = 1", _with_cex(prove_true(sp.Ne(true[1], wrong[1])), cex), at)]


@derivation("conv.grad_weight", title="Weight gradient: the cross-correlation of the padded input with dy",
            latex=r"dw[o, c, k] = \sum_{n, i} dy[n, o, i]\; x_{\text{pad}}\big[n, g(o)\tfrac{C_{in}}{G} + c,\ i s + k d\big]",
            seed=SEED_CONV, primary=GBC + " (eq. 9.11)",
            assumptions=DEF_ASSUME + ("x_pad includes the zero padding (an unpadded input gives a wrong dw when p > 0)",
                                      SYM_SIZES + "; one sample: the batch adds its samples' terms"),
            sizes=LAYER_SIZES,
            layout="dw[o, c, k] = dL/dw[o, c, k], the weight's own shape (C_out, C_in/G, K...)",
            notes="Read as a correlation over i: signal x_pad (channel g(o) C_in/G + c), 'kernel' dy[o] dilated by "
                  "s, output sampled at k d.",
            steps=(
                r"\frac{\partial y[o', i]}{\partial w[o, c, k]} = [\,o' = o\,]\; x_{\text{pad}}[g(o) C_{in}/G + c,\ i s + k d]",
                r"\frac{\partial L}{\partial w[o, c, k]} = \sum_i dy[o, i]\, x_{\text{pad}}[g(o) C_{in}/G + c,\ i s + k d]",
            ))
def _grad_weight():
    out = []
    for nd in (1, 2):
        S = SymLayer(nd)
        h, o, e = index("h"), index("o"), index("e")
        k = [index(f"j{a}") for a in S.ax()]
        grad = sp.diff(S.loss(), S.w[(h, o, e, *k)])
        dw = sp.Sum(S.dy[(h, o, *S.t)] * S.xpad(h, e, S.read(S.t, k)), *[(S.t[a], 0, S.nout[a] - 1) for a in S.ax()])
        out.append((f"{nd}-D, symbolic sizes: sp.diff(<dy, y>, w[o, c, k]) = sum_i dy[o, i] x_pad[g(o) C_in/G + c, i s + k d]",
                    prove_conv_equal(grad, dw, {h: S.G, o: S.Cog, e: S.Cg, **{k[a]: S.K[a] for a in S.ax()}}), sc.GENERAL))
    return out


@derivation("conv.grad_bias", title="Bias gradient: the sum of dy over the batch and the positions",
            latex=r"db[o] = \sum_{n, i} dy[n, o, i]",
            seed=SEED_CONV, primary=GBC, assumptions=DEF_ASSUME + (SYM_SIZES,),
            sizes=LAYER_SIZES,
            steps=(r"\frac{\partial y[o', i]}{\partial b[o]} = [\,o' = o\,]\ \Rightarrow\ \frac{\partial L}{\partial b[o]} = \sum_i dy[o, i]",))
def _grad_bias():
    out = []
    for nd in (1, 2):
        S = SymLayer(nd)
        h, o = index("h"), index("o")
        db = sp.Sum(S.dy[(h, o, *S.t)], *[(S.t[a], 0, S.nout[a] - 1) for a in S.ax()])
        out.append((f"{nd}-D, symbolic sizes: sp.diff(<dy, y>, b[o]) = sum_i dy[o, i]",
                    prove_conv_equal(sp.diff(S.loss(), S.b[h, o]), db, {h: S.G, o: S.Cog}), sc.GENERAL))
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


@derivation("conv.equivariance", title="Translation equivariance: shifting the input by s t shifts the output by t",
            latex=r"x'[c, j] = x[c, j - s t]\ (0 \text{ for } j < s t):\quad y'[o, i + t] = y[o, i]\ \ (0 \le i < n_{out}),"
                  r"\quad n'_{out} = n_{out} + t",
            seed=SEED_CONV, primary=GBC + " (§9.2: parameter sharing makes convolution equivariant to translation); " + LECUN,
            assumptions=DEF_ASSUME + ("zero padding: x' = x with s t zeros prepended (exact for every output of y); "
                                      "circular padding: exact for every output, x rolled (stride 1, or s | n); 1-D, per channel",
                                      SYM_SIZES), sizes=LAYER_SIZES,
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
    for nd in (1, 2):
        S = SymLayer(nd)
        ax = S.ax()
        tt = [index(f"tau{a}") for a in ax]
        sh = [S.s[a] * tt[a] for a in ax]
        n2 = [S.n[a] + sh[a] for a in ax]

        def xpad2(g, c, pos):  # x' = x with s t zeros prepended (length n + s t), zero padded
            src = [pos[a] - sh[a] for a in ax]
            return S.x[(g, c, *src)] * sp.Mul(*[ind(src[a]) * ind(pos[a]) * ind(n2[a] - 1 - pos[a]) for a in ax])

        i = [index(f"i{a}") for a in ax]
        shifted = S.y(S.g, S.r, [i[a] + tt[a] for a in ax], xpad=xpad2)
        out.append((f"{nd}-D, symbolic sizes and shift t: y'[o, i + t] = y[o, i] for every output i of y",
                    prove_conv_equal(shifted, S.y(S.g, S.r, i), {S.g: S.G, S.r: S.Cog, **{i[a]: S.nout[a] for a in ax}}),
                    sc.GENERAL))
    n, K, s, d, t = (_pos(v) for v in ("n", "K", "s", "d", "t"))
    p = index("p")
    E = n + 2 * p - d * (K - 1) - 1
    out.append(("n'_out = floor((n + s t + 2p - d(K-1) - 1)/s) + 1 = n_out + t (symbolic)",
                _q(sp.floor(sp.expand((E + s * t) / s)) + 1 - (sp.floor(E / s) + 1) - t), sc.GENERAL))
    # circular padding, s | n (n = s m, n_out = m): x_pad[j] = x[j mod n]; roll by s t
    m, i, k = _pos("m"), index("i"), index("k")
    x, w = sp.IndexedBase("x", real=True), sp.IndexedBase("w", real=True)

    def circ(xf, ii):
        return sp.Sum(w[k] * xf(sp.Mod(ii * s + k, s * m)), (k, 0, K - 1))

    rolled = circ(lambda j: x[sp.Mod(j - s * t, s * m)], i)
    # (i - t) mod m = i - t - m floor((i - t)/m) (SymPy's exact rewrite); multiples of s m leave Mod(., s m)
    back = sp.Sum(w[k] * x[sp.Mod(sp.expand(s * sp.Mod(i - t, m).rewrite(sp.floor) + k), s * m)], (k, 0, K - 1))
    out.append(("circular padding, s | n (symbolic n = s m, K, s, t): y(roll_(s t) x)[i] = y(x)[(i - t) mod n_out]",
                prove_conv_equal(rolled, back, {i: m}), sc.GENERAL))
    return out


@derivation("conv.equivariance.stride.refuted", kind="refutation",
            title="With stride 2 a shift of the input by 1 shifts the output",
            latex=r"x = (1, 0, 0, 0),\ w = (1,),\ s = 2:\ y = (1, 0);\quad x' = (0, 1, 0, 0, 0):\ y' = (0, 0, 0)",
            seed=SEED_CONV, primary=GBC + " (§9.2)", assumptions=("K = 1, no padding, dilation 1",), sizes=LAYER_SIZES,
            notes="Equivariance holds for shifts by multiples of the stride only (conv.equivariance).",
            steps=(r"y[i] = x[2 i]:\ y = (1, 0),\quad y'[i] = x'[2 i] = (0, 0, 0)",
                   r"y \text{ has an entry } 1,\ y' \text{ none: no } t \text{ with } y'[i + t] = y[i]"))
def _equivariance_refuted():
    L = layer((1, 4), (1, 1, 1), s=2, bias=False)
    pt = {L.x[(0, 0)]: 1, L.x[(0, 1)]: 0, L.x[(0, 2)]: 0, L.x[(0, 3)]: 0, L.w[(0, 0, 0)]: 1}
    y = [v.subs(pt) for v in forward(L).values()]
    y2 = [(sp.Integer(0) + v).subs(pt) for v in forward(_prefix_zeros(L, (1,))).values()]
    cex = {"point": {"x": "(1, 0, 0, 0)", "w": "(1,)", "s": "2", "shift": "1"}, "value": f"y = {tuple(y)}, y' = {tuple(y2)}"}
    at = _layer_at((1, 4), (1, 1, 1))
    return [("y = (1, 0)", prove_equal(sp.Matrix(y), sp.Matrix([1, 0])), at),
            ("y' = (0, 0, 0)", prove_equal(sp.Matrix(y2), sp.Matrix([0, 0, 0])), at),
            ("no translate: 1 is in y but not in y'", _with_cex(prove_true(sp.Eq(sum(1 for v in y2 if v == 1), 0)), cex), at)]


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


@derivation("conv.receptive_field", title="Receptive field of a stack: r_L = 1 + sum_l (k_l - 1) d_l prod_{i<l} s_i",
            latex=r"r_L = 1 + \sum_{l=1}^{L} (k_l - 1)\, d_l \prod_{i < l} s_i;\quad r_l = r_{l-1} + (k_l - 1) d_l\, j_{l-1},\ "
                  r"j_l = j_{l-1} s_l,\ r_0 = j_0 = 1",
            seed=SEED_CONV, primary=ARAUJO + "; " + DV,
            assumptions=("layers l = 1..L with kernel k_l, stride s_l, dilation d_l (per axis)",
                         "r: the span (first to last input index) read by one output; j_l: the input distance of "
                         "adjacent layer-l outputs (the jump)",
                         "no padding; with padding the span is shifted by P = sum_l p_l j_{l-1} and clipped where "
                         "intermediate padding cuts paths",
                         "proved by induction on L (symbolic L and symbolic per-layer sizes)"),
            sizes=("L",),
            notes="Strides or dilations can leave gaps: output i reads exactly x[i j_L + S], S = {sum_l m_l d_l j_{l-1}}, "
                  "whose extent is r_L (tests/convolution/test_convolution.py checks it on explicit stacks). The property conv.receptive_field perturbs one input "
                  "and checks the changed outputs against the dependence pattern composed from the definition.",
            steps=(
                r"\text{layer } l \text{ output } q \text{ reads layer-}(l-1) \text{ positions } q s_l + m d_l,\ 0 \le m < k_l",
                r"\text{a layer-}(l-1)\text{ position spans } r_{l-1} \text{ inputs, adjacent ones } j_{l-1} \text{ apart}",
                r"\Rightarrow\ r_l = (k_l - 1) d_l\, j_{l-1} + r_{l-1},\qquad j_l = s_l\, j_{l-1}",
                r"\text{unrolled: } r_L = 1 + \sum_l (k_l - 1) d_l \prod_{i<l} s_i\quad\text{(induction on } L)",
            ))
def _receptive_field():
    # induction on the depth L with symbolic L and symbolic per-layer (k_l, s_l, d_l): j_L = prod_{i<=L} s_i and
    # r_L = 1 + sum_{l=1}^L (k_l - 1) d_l j_{l-1} satisfy the recursion r_{L+1} = r_L + (k_{L+1} - 1) d_{L+1} j_L,
    # j_{L+1} = j_L s_{L+1}, and r_0 = j_0 = 1 (no layer: one input, unit jump)
    from sympy.series.limitseq import difference_delta
    Ld = sp.Symbol("L", integer=True, nonnegative=True)
    l_, i_ = sp.symbols("l i", integer=True, positive=True)
    k, s, d = (sp.IndexedBase(c, positive=True) for c in "ksd")

    def jump(M):
        return sp.Product(s[i_], (i_, 1, M))

    def closed(M):
        return 1 + sp.Sum((k[l_] - 1) * d[l_] * jump(l_ - 1), (l_, 1, M))

    log_jump = sp.Sum(sp.log(s[i_]), (i_, 1, Ld))  # log j_L (s_i > 0)
    return [
        ("base case L = 0: r_0 = 1 + (empty sum) = 1 and j_0 = (empty product) = 1",
         combine([prove_equal(closed(0).doit(), 1), prove_equal(jump(0).doit(), 1)]), sc.base_case(L=0)),
        ("induction step, symbolic L: r_{L+1} - r_L = (k_{L+1} - 1) d_{L+1} j_L (the last term of the sum)",
         prove_equal(difference_delta(closed(Ld), Ld), (k[Ld + 1] - 1) * d[Ld + 1] * jump(Ld)), sc.INDUCTION_STEP),
        ("induction step, symbolic L: log j_{L+1} - log j_L = log s_{L+1} (s_i > 0), i.e. j_{L+1} = j_L s_{L+1}",
         combine([prove_equal(jump(Ld).rewrite(sp.Sum), sp.exp(log_jump)),
                  prove_equal(difference_delta(log_jump, Ld), sp.log(s[Ld + 1]))]), sc.INDUCTION_STEP),
        ("the layer step: an output reads positions q s + m d, 0 <= m < k, each spanning r_L inputs with starts j_L "
         "apart: span (k - 1) d j_L + r_L, jump s j_L (symbolic k, s, d, r, j)",
         _layer_span_step(), sc.INDUCTION_STEP),
    ]


def _layer_span_step():
    """First and last input of output q of layer L + 1, from those of the layer-L positions it reads (symbolic)."""
    q, m, u = sp.symbols("q m u", integer=True, nonnegative=True)
    kk, ss, dd, r, j = sp.symbols("k s d r j", integer=True, positive=True)
    first = lambda p: p * j  # noqa: E731 - layer-L position p starts at input p j (no padding)
    last = lambda p: p * j + r - 1  # noqa: E731
    lo = first(q * ss + 0 * dd)           # m = 0 gives the smallest start (j d > 0)
    hi = last(q * ss + (kk - 1) * dd)      # m = k - 1 gives the largest end
    return combine([prove_equal(hi - lo + 1, (kk - 1) * dd * j + r),
                    prove_equal(first((q + 1) * ss) - first(q * ss), ss * j),
                    prove_true(sp.Ge(sp.expand(first(q * ss + m * dd) - lo), 0)),       # every m >= 0 starts at or after m = 0
                    prove_true(sp.Ge(sp.expand(hi - last(q * ss + (kk - 1 - u) * dd)), 0))])  # m = k - 1 - u <= k - 1
