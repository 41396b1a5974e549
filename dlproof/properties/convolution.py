"""Properties of convolutional layers (capabilities conv1d, conv1d_vjp, conv2d, conv2d_vjp), from conv.* derivations.

Expected values come from the float64 oracle (derivations/oracle_convolution.py: shift-and-add forward, gradients
through the explicit Jacobians, routes the references do not take); shapes from the derived output size;
tolerances from the error model below. Known wrong variants are named on failure: the true
convolution (flipped kernel) in the forward, the input gradient without the kernel flip, an output size
that is not floor((n + 2p - d(k-1) - 1)/s) + 1. Declared restrictions (conv_groups, conv_dilation, conv_padding,
conv_stride; properties/restrictions.py) narrow the drawn geometry, never the checks.

**Strategies.** One example: B in 1..2, groups G in 1..4 with C_in = G c_in, C_out = G c_out <= 4; per spatial
axis kernel K in 1..3, stride s in 1..3, padding p in 0..2, dilation d in 1..2 and a size n (1-D: <= 9, 2-D: <= 6)
with at least one output position (n + 2p >= d (K - 1) + 1); a bias three times in four. 2-D arguments come as
pairs, or as one int when both axes agree and a drawn flag says so (the protocol accepts both). Weights and
inputs are standard normal times drawn scales; dy standard normal; t (1..2) is the shift of conv.equivariance,
in units of the stride. Arrays come from a drawn seed through PCG64, cast to the target's dtype.

Declared restrictions (properties/restrictions.py) narrow the draws, never the checks: ``restrict`` is the
target's ``restrictions`` mapping; conv_groups=1 draws groups 1, conv_dilation=1 dilation 1, conv_padding=0
padding 0, conv_stride=1 stride 1, and conv_stride="exact_tiling" only sizes n with (n + 2p - d(K-1) - 1)
divisible by s (the smallest such n above the minimum when the size range holds none; in a stack, on every
layer).

rf_problems (conv.receptive_field): a stack of 2-3 conv1d layers with C channels (1..2, groups 1), kernels
1..3, strides 1..2, dilations 1..2, paddings 0..1; weights uniform in [0.5, 1.5] (positive: a perturbation of
one input cannot cancel along the paths), the input uniform in [-1, 1], one input entry (c, j) to perturb by +1.

Precisions: the forward, VJP, output-size and equivariance properties run at float16, bfloat16, float32 and
float64; conv.receptive_field at float32/float64 (its rounding threshold; see the comment there).

**Tolerances:** the forward-error model, entry-wise per dtype.

Conventions of properties/tolerances.py: u = u_target + u_float64 (`u_total`: the target and the float64
oracle together), gamma_k = k u / (1 - k u), tolerance = SAFETY (2) times the bound. Every output of a
convolution, and every gradient entry, is a sum of products of exact inputs (Higham, Accuracy and Stability,
§3.1: any order, FMA or not, |fl(sum) - sum| <= gamma_k sum |terms|):

  y[n, o, i]     = b[o] + sum of m = (C_in/G) prod(K) products w x:    e_y  = gamma_{m+1} (|w| * |x| + |b|)
  dx[n, c, j]    = sum of at most (C_out/G) prod(K) products w dy:     e_dx = gamma_{(C_out/G) prod K} (|J_x|^T |dy|)
  dw[o, c, k]    = sum of B prod(n_out) products dy x_pad:             e_dw = gamma_{B prod n_out} (|J_w|^T |dy|)
  db[o]          = sum of B prod(n_out) entries of dy:                 e_db = gamma_{B prod n_out} sum |dy|

|w| * |x| is the layer evaluated on absolute values (oracle_convolution.forward(absolute=True)), |J|^T |dy| the
Jacobian route on absolute values (oracle_convolution.vjp(absolute=True)). Routes that add zeros (the dilated dy,
im2col over padding) or reorder the sum stay within these bounds. A stack of layers (conv.receptive_field)
propagates the bound to first order: e_l = gamma_{m_l + 1}(|w_l| * (|a_{l-1}| + e_{l-1}) + |b_l|) + |w_l| * e_{l-1}.

Declared arithmetic (tolerances.precision): each gamma_k above is tolerances.mixed_gamma(k, 0): gamma_k(u) when
the sums accumulate in storage (bit for bit the bounds above), gamma_k(u_acc) + u when they accumulate in a wider
format and are rounded once to storage (u |result| <= u times the magnitude), gamma_k(u_acc) + gamma_2(u) with a
bias added in storage after the products (a second piece, errmodel.pieces_to_storage). In float16 (tolerances.NEAR_UNDERFLOW:
a product of two drawn entries of 1e-3 is subnormal) a product that underflows errs by eta/2 absolutely (Higham
(2.8); eta the smallest subnormal, target and oracle together: tolerances.eta_total) and a sum that underflows is
exact, so a sum of k products adds k eta (the target's declared ``subnormals``: flush-to-zero adds tiny per
product and per addition, tolerances.underflow_terms); elsewhere nothing is added.

FLOOR (1e-290) is added to every tolerance: an entry whose magnitude is 0 (a window over padding only, a zero
bias gradient row) must come out as exactly 0, and the floor keeps the error/tolerance ratio of a wrong
target finite (no overflow) while staying below anything the strategies' scales can produce.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from dlproof.derivations import oracle_convolution as oracle
from dlproof.dtypes import DTYPES

from . import diagnose
from . import tolerances as tol
from .assertions import call
from .feedforward import underflow
from .tolerances import mixed_gamma
from .registry import prop
from .strategies import SCALES, SEED, Problem

# ---- strategies --------------------------------------------------------------------------------------------------

MAX_N = {1: 9, 2: 6}


def _hi(restrict, name: str, top: int, one: int = 1) -> int:
    """The largest value of stride/padding/dilation to draw: ``one`` where restriction ``name`` pins it."""
    v = (restrict or {}).get(name)
    return one if v is not None and v != "exact_tiling" else top


def _tiling(restrict) -> bool:
    return (restrict or {}).get("conv_stride") == "exact_tiling"


def _sizes(lo: int, hi: int, K: int, s: int, p: int, d: int, tiling: bool) -> list:
    """Input sizes n in [lo, hi] (at least one output); with tiling, those with (n + 2p - d(K-1) - 1) % s == 0
    (extending the range to the first such n if it holds none)."""
    if not tiling:
        return list(range(lo, hi + 1))
    return [n for n in range(lo, max(hi, lo + s - 1) + 1) if (n + 2 * p - d * (K - 1) - 1) % s == 0]


@st.composite
def _axis(draw, max_n: int, label: str, restrict=None):
    K = draw(st.integers(1, 3), label=f"K{label}")
    s = draw(st.integers(1, _hi(restrict, "conv_stride", 3)), label=f"s{label}")
    p = draw(st.integers(0, _hi(restrict, "conv_padding", 2, one=0)), label=f"p{label}")
    d = draw(st.integers(1, _hi(restrict, "conv_dilation", 2)), label=f"d{label}")
    lo = max(1, d * (K - 1) + 1 - 2 * p)
    n = draw(st.sampled_from(_sizes(lo, max(lo, max_n), K, s, p, d, _tiling(restrict))), label=f"n{label}")
    return n, K, s, p, d


def _arg(v: tuple, as_int: bool):
    return v[0] if (len(v) == 1 or (as_int and v[0] == v[1])) else tuple(v)


@st.composite
def conv_problems(draw, nd: int = 1, dtype: str = "float64", max_C: int = 4, max_B: int = 2, restrict=None):
    """x (B, C_in, *n), w (C_out, C_in/G, *K), b (C_out,) (if drawn), dy (B, C_out, *out); scalars s, p, d
    (ints or pairs, as passed), the per-axis tuples, G, outs, t. ``restrict``: the declared restrictions."""
    G = draw(st.integers(1, 1 if (restrict or {}).get("conv_groups") is not None else max_C), label="groups")
    cin = draw(st.integers(1, max_C // G), label="C_in/G")
    cout = draw(st.integers(1, max_C // G), label="C_out/G")
    B = draw(st.integers(1, max_B), label="B")
    axes = [draw(_axis(MAX_N[nd], str(a), restrict), label=f"axis {a}") for a in range(nd)]
    n, K, s, p, d = (tuple(v) for v in zip(*axes))
    as_int = draw(st.booleans(), label="ints") if nd == 2 else True
    bias = draw(st.sampled_from((True, True, True, False)), label="bias")
    t = draw(st.integers(1, 2), label="t")
    x_scale = draw(st.sampled_from(SCALES), label="x scale")
    w_scale = draw(st.sampled_from(SCALES), label="w scale")
    seed = draw(SEED, label="seed")
    rng = np.random.default_rng(seed)
    outs = tuple(oracle.out_size(n[a], K[a], p[a], s[a], d[a]) for a in range(nd))
    arrays = {"x": x_scale * rng.standard_normal((B, G * cin) + n),
              "w": w_scale / np.sqrt(cin * np.prod(K)) * rng.standard_normal((G * cout, cin) + K),
              "dy": rng.standard_normal((B, G * cout) + outs)}
    if bias:
        arrays["b"] = w_scale * rng.standard_normal(G * cout)
    dt = np.dtype(dtype)
    arrays = {k: v.astype(dt) for k, v in arrays.items()}
    return Problem(arrays, {"nd": nd, "stride": _arg(s, as_int), "padding": _arg(p, as_int),
                            "dilation": _arg(d, as_int), "s": s, "p": p, "d": d, "G": G, "outs": outs, "t": t,
                            "seed": seed})


@st.composite
def size_problems(draw, nd: int = 1, dtype: str = "float64", restrict=None):
    """A single-channel layer with wider sizes: K in 1..4, p in 0..3, s in 1..4, d in 1..3 per axis, n from the
    smallest size with one output up to 12 (1-D) or 7 (2-D, where the effective kernel allows); inside the
    declared restrictions."""
    axes = []
    for a in range(nd):
        K = draw(st.integers(1, 4), label=f"K{a}")
        s = draw(st.integers(1, _hi(restrict, "conv_stride", 4)), label=f"s{a}")
        p = draw(st.integers(0, _hi(restrict, "conv_padding", 3, one=0)), label=f"p{a}")
        d = draw(st.integers(1, _hi(restrict, "conv_dilation", 3)), label=f"d{a}")
        lo = max(1, d * (K - 1) + 1 - 2 * p)
        n = draw(st.sampled_from(_sizes(lo, max(lo, 12 if nd == 1 else 7), K, s, p, d, _tiling(restrict))),
                 label=f"n{a}")
        axes.append((n, K, s, p, d))
    n, K, s, p, d = (tuple(v) for v in zip(*axes))
    seed = draw(SEED, label="seed")
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    return Problem({"x": rng.standard_normal((1, 1) + n).astype(dt), "w": rng.standard_normal((1, 1) + K).astype(dt)},
                   {"nd": nd, "n": n, "K": K, "s": s, "p": p, "d": d, "seed": seed})


@st.composite
def rf_problems(draw, dtype: str = "float64", restrict=None):
    """A stack [(k, s, p, d), ...] of 2-3 layers, x (1, C, n0), weights w_l (C, C, k_l) > 0, b_l; (c, j) to perturb.
    Inside the declared restrictions (with exact tiling, n0 tiles every layer)."""
    depth = draw(st.integers(2, 3), label="depth")
    layers = [(draw(st.integers(1, 3), label=f"k{l}"), draw(st.integers(1, _hi(restrict, "conv_stride", 2)), label=f"s{l}"),
               draw(st.integers(0, _hi(restrict, "conv_padding", 1, one=0)), label=f"p{l}"),
               draw(st.integers(1, _hi(restrict, "conv_dilation", 2)), label=f"d{l}")) for l in range(depth)]
    ok = [n for n in range(1, 256) if _final(n, layers) >= 1 and (not _tiling(restrict) or _tiles(n, layers))]
    n0 = draw(st.sampled_from(ok[:6]), label="length")
    C = draw(st.integers(1, 2), label="C")
    c = draw(st.integers(0, C - 1), label="c")
    j = draw(st.integers(0, n0 - 1), label="j")
    seed = draw(SEED, label="seed")
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    arrays = {"x": rng.uniform(-1, 1, (1, C, n0))}
    for l, (k, _, _, _) in enumerate(layers):
        arrays[f"w{l}"] = rng.uniform(0.5, 1.5, (C, C, k))
        arrays[f"b{l}"] = rng.standard_normal(C)
    arrays = {k: v.astype(dt) for k, v in arrays.items()}
    return Problem(arrays, {"layers": tuple(layers), "n0": n0, "C": C, "c": c, "j": j, "seed": seed})


def _tiles(n, layers) -> bool:
    """Whether every layer's stride tiles its input exactly: (n + 2p - d(k-1) - 1) % s == 0 layer by layer."""
    for k, s, p, d in layers:
        if (n + 2 * p - d * (k - 1) - 1) % s:
            return False
        n = oracle.out_size(n, k, p, s, d)
    return True


def _final(n, layers):
    for k, s, p, d in layers:
        n = oracle.out_size(n, k, p, s, d)
        if n < 1:
            return 0
    return n


# ---- tolerances --------------------------------------------------------------------------------------------------

FLOOR = 1e-290


def _gamma(k: int, dtype, bias: bool = False) -> float:
    """gamma_k of a sum of k products in the declared arithmetic ``dtype`` (module doc: tolerances.mixed_gamma;
    ``bias``: a bias may be added in storage after the products, a second piece when accumulating wider)."""
    return mixed_gamma(k, 0, tol.u_total(dtype), tol.u_acc_total(dtype), pieces=2 if bias else 1)


def _underflow(k: int, dtype, subnormals: str, products: bool = True) -> float:
    """The absolute underflow term of a sum of k products (module doc): k (eta + eta_add); of a sum of k entries
    (``products`` False): k eta_add (flush-to-zero only); 0 outside float16."""
    eta, eta_add = underflow(dtype, subnormals)
    return k * (eta + eta_add if products else eta_add)


def _with_floor(t, k: int, dtype, subnormals: str, products: bool = True):
    """``t`` (SAFETY times the rounding bound) plus SAFETY times the underflow term of `_underflow`, plus FLOOR
    (the underflow term is not added when it is 0: the float32/float64 bounds stay bit for bit)."""
    eta = _underflow(k, dtype, subnormals, products)
    return (t + tol.SAFETY * eta if eta else t) + FLOOR


def forward_tol(x, w, b, s, p, d, G, dtype, subnormals: str = "gradual") -> np.ndarray:
    """(B, C_out, *out): tol.SAFETY gamma_{m+1} (|w| * |x| + |b|), m = (C_in/G) prod(K) (module doc; ``dtype``:
    a dtype name or a `tolerances.Arithmetic`, ``subnormals``: the target's declared convention)."""
    m = int(np.prod(np.shape(w)[1:]))
    return _with_floor(tol.SAFETY * _gamma(m + 1, dtype, b is not None) * oracle.forward(x, w, b, s, p, d, G, absolute=True), m + 1,
                       dtype, subnormals)


def vjp_tol(x, w, b, s, p, d, G, dy, dtype, subnormals: str = "gradual") -> dict:
    """{"x", "w", "b"}: entry-wise tolerances of conv*_vjp ("b": None without a bias; arguments: forward_tol)."""
    w_shape = np.shape(w)
    nd = len(w_shape) - 2
    mx = (w_shape[0] // G) * int(np.prod(w_shape[2:]))
    mw = int(np.prod(np.shape(dy)[:1] + np.shape(dy)[2:]))
    mag = oracle.vjp(x, w, b, s, p, d, G, dy, absolute=True)
    db = None
    if b is not None:
        db = _with_floor(tol.SAFETY * _gamma(mw, dtype) * np.abs(np.asarray(dy, np.float64)).sum(axis=(0,) + tuple(range(2, 2 + nd))),
                         mw, dtype, subnormals, products=False)  # a sum of dy's entries: no product
    return {"x": _with_floor(tol.SAFETY * _gamma(max(mx, 1), dtype) * mag["x"], mx, dtype, subnormals),
            "w": _with_floor(tol.SAFETY * _gamma(mw, dtype) * mag["w"], mw, dtype, subnormals), "b": db}


def stack_tol(x, layers, dtype) -> np.ndarray:
    """Tolerance of the last output of a stack of conv1d layers [(w, b, s, p, d), ...] (groups 1), first order
    (float32 and float64 only: conv.receptive_field)."""
    a = np.abs(np.asarray(x, np.float64))
    e = np.zeros_like(a)
    for w, b, s, p, d in layers:
        m = int(np.prod(np.shape(w)[1:]))
        mag = oracle.forward(a + e, w, b, (s,), (p,), (d,), 1, absolute=True)
        spread = oracle.forward(e, np.abs(w), None, (s,), (p,), (d,), 1)
        a = oracle.forward(a, w, b, (s,), (p,), (d,), 1, absolute=True)
        e = _gamma(m + 1, dtype, b is not None) * mag + spread
    return tol.SAFETY * e + FLOOR


# ---- properties --------------------------------------------------------------------------------------------------

FORMULA = "floor((n + 2p - d(k-1) - 1)/s) + 1"


def _restrict(target):
    return target.convention("restrictions")


def _sub(target) -> str:
    return tol.underflow(target)


def _problems(nd):
    return lambda target: conv_problems(nd, target.dtype, restrict=_restrict(target))


def _args(problem):
    return (problem["stride"], problem["padding"], problem["dilation"], problem["G"])


def _geom(problem):
    return (problem["s"], problem["p"], problem["d"], problem["G"])


def _within(a, e, t) -> bool:
    """|a - e| <= t entry-wise, as the checks compare (diagnose.within)."""
    return diagnose.within(a, e, t)


def _desc(problem) -> str:
    return f"stride={problem['stride']}, padding={problem['padding']}, dilation={problem['dilation']}, groups={problem['G']}"


def _check_shape(chk, cap, y, want, problem, x_shape, k_shape):
    """The output must be an ndarray of the derived shape; a wrong size is named with the formula."""
    chk.holds(f"{cap} output", isinstance(y, np.ndarray), f"returned {type(y).__name__}, but should be numpy.ndarray")
    if y.shape != want:
        per_axis = "; ".join(f"axis {a}: n={x_shape[a]}, k={k_shape[a]}, p={problem['p'][a]}, s={problem['s'][a]}, d={problem['d'][a]} "
                             f"-> {want[2 + a]}" for a in range(len(want) - 2))
        chk.fail(f"{cap} output shape", f"= {y.shape}, but should be {want}: output size {FORMULA} per axis "
                                        f"(conv.output_size; {per_axis})")


def _forward(target, problem, chk, cap, x=None):
    x = problem["x"] if x is None else x
    w, b = problem["w"], problem.arrays.get("b")
    y = call(target, cap, x, w, b, *_args(problem))
    outs = oracle.sizes(x.shape[2:], w.shape[2:], problem["s"], problem["p"], problem["d"])
    _check_shape(chk, cap, y, (x.shape[0], w.shape[0]) + outs, problem, x.shape[2:], w.shape[2:])
    return chk.array(f"{cap} y", y, y.shape)


def _forward_check(target, problem, chk, cap):
    y = _forward(target, problem, chk, cap)
    x, w, b = problem["x"], problem["w"], problem.arrays.get("b")
    expected = oracle.forward(x, w, b, *_geom(problem))
    t = forward_tol(x, w, b, *_geom(problem), tol.precision(target), _sub(target))
    if not _within(y, expected, t):
        flipped = oracle.forward(x, w, b, *_geom(problem), flip_kernel=True)
        if _within(y, flipped, t):
            chk.fail(f"{cap} y ({_desc(problem)})", "matches the true convolution (kernel flipped), but should be the "
                                              "cross-correlation y[o, i] = b[o] + sum w[o, c, k] x_pad[., i s + k d] "
                                              "(conv.cross_correlation, conv.true_convolution.refuted)")
        if problem["G"] > 1:
            dense = np.tile(np.asarray(w, np.float64), (1, problem["G"]) + (1,) * (w.ndim - 2))
            if _within(y, oracle.forward(x, dense, b, *_geom(problem)[:3], 1), t):
                chk.fail(f"{cap} y ({_desc(problem)})", "matches every output channel reading all C_in input channels "
                                                  "(groups ignored), but should read only its group's C_in/groups "
                                                  "channels (conv.groups.block_diagonal)")
    chk.close(f"{cap} y ({_desc(problem)})", y, expected, t)


@prop("conv1d.forward", title="conv1d is the cross-correlation with zero padding, stride, dilation and groups",
      capabilities=("conv1d",), derivations=("conv.cross_correlation", "conv.output_size", "conv.groups.block_diagonal"),
      strategy=_problems(1), precisions=DTYPES)
def conv1d_forward(target, problem, chk):
    _forward_check(target, problem, chk, "conv1d")


@prop("conv2d.forward", title="conv2d is the 2-D cross-correlation (pairs of stride, padding, dilation; groups)",
      capabilities=("conv2d",), derivations=("conv.cross_correlation", "conv.output_size", "conv.groups.block_diagonal"),
      strategy=_problems(2), precisions=DTYPES)
def conv2d_forward(target, problem, chk):
    _forward_check(target, problem, chk, "conv2d")


def _vjp_check(target, problem, chk, cap):
    x, w, b, dy = problem["x"], problem["w"], problem.arrays.get("b"), problem["dy"]
    out = call(target, cap, x, w, b, *_args(problem), dy)
    chk.holds(f"{cap}(x, w, b, stride, padding, dilation, groups, dy)", isinstance(out, dict) and {"x", "w", "b"} <= set(out),
              f"returned {type(out).__name__}{sorted(out) if isinstance(out, dict) else ''}, but should be a dict with "
              "keys 'x', 'w', 'b'")
    exp = oracle.vjp(x, w, b, *_geom(problem), dy)
    t = vjp_tol(x, w, b, *_geom(problem), dy, tol.precision(target), _sub(target))
    where = f" ({_desc(problem)})"
    if b is None:
        chk.holds("db", out["b"] is None, f"= {type(out['b']).__name__}, but should be None (b is None)")
    else:
        chk.close("db" + where, out["b"], exp["b"], t["b"])
    chk.close("dw" + where, out["w"], exp["w"], t["w"])
    dx = chk.array("dx", out["x"], x.shape)
    if not _within(dx, exp["x"], t["x"]):
        unflipped = oracle.vjp(x, w, b, *_geom(problem), dy, flip_kernel=True)["x"]
        if _within(dx, unflipped, t["x"]):
            chk.fail("dx" + where, "matches the full correlation of dy with the UNflipped kernel (gradient without the "
                                   "kernel flip), but should be the full correlation with the flipped kernel "
                                   "(conv.grad_input, conv.grad_input.unflipped.refuted)")
    chk.close("dx" + where, dx, exp["x"], t["x"])


@prop("conv1d.vjp", title="conv1d gradients: dx (flipped kernel, dy dilated by the stride), dw (x_pad with dy), db",
      capabilities=("conv1d_vjp",),
      derivations=("conv.grad_input", "conv.grad_input.strided", "conv.grad_weight", "conv.grad_bias"),
      strategy=_problems(1), precisions=DTYPES)
def conv1d_vjp(target, problem, chk):
    _vjp_check(target, problem, chk, "conv1d_vjp")


@prop("conv2d.vjp", title="conv2d gradients: dx (flipped kernel, dy dilated by the stride), dw (x_pad with dy), db",
      capabilities=("conv2d_vjp",),
      derivations=("conv.grad_input", "conv.grad_input.strided", "conv.grad_weight", "conv.grad_bias"),
      strategy=_problems(2), precisions=DTYPES)
def conv2d_vjp(target, problem, chk):
    _vjp_check(target, problem, chk, "conv2d_vjp")


def _sizes_strategy(target):
    nds = [1] if not target.provides("conv2d") else [1, 2]
    return st.sampled_from(nds).flatmap(lambda nd: size_problems(nd, target.dtype, restrict=_restrict(target)))


@prop("conv.output_size", title="the output has floor((n + 2p - d(k-1) - 1)/s) + 1 positions per axis",
      capabilities=("conv1d",), derivations=("conv.output_size",), strategy=_sizes_strategy, precisions=DTYPES)
def output_size(target, problem, chk):
    nd = problem["nd"]
    cap = "conv1d" if nd == 1 else "conv2d"
    one = (lambda v: v[0]) if nd == 1 else tuple
    y = call(target, cap, problem["x"], problem["w"], None, one(problem["s"]), one(problem["p"]), one(problem["d"]), 1)
    want = (1, 1) + oracle.sizes(problem["n"], problem["K"], problem["s"], problem["p"], problem["d"])
    _check_shape(chk, cap, y, want, problem, problem["n"], problem["K"])


def _equiv_strategy(target):
    nds = [1] if not target.provides("conv2d") else [1, 2]
    return st.sampled_from(nds).flatmap(lambda nd: conv_problems(nd, target.dtype, restrict=_restrict(target)))


@prop("conv.equivariance", title="prepending s t zeros to the input shifts the output by t (exact up to rounding)",
      capabilities=("conv1d",), derivations=("conv.equivariance", "conv.equivariance.stride.refuted"),
      strategy=_equiv_strategy, precisions=DTYPES)
def equivariance(target, problem, chk):
    nd = problem["nd"]
    cap = "conv1d" if nd == 1 else "conv2d"
    x, w, b, t = problem["x"], problem["w"], problem.arrays.get("b"), problem["t"]
    shift = tuple(problem["s"][a] * t for a in range(nd))
    x2 = np.pad(x, [(0, 0), (0, 0)] + [(sh, 0) for sh in shift])
    y = _forward(target, problem, chk, cap)
    y2 = _forward(target, problem, chk, cap, x=x2)
    prec = tol.precision(target)
    allowed = forward_tol(x, w, b, *_geom(problem), prec, _sub(target))
    allowed = allowed + forward_tol(x2, w, b, *_geom(problem), prec, _sub(target))[(Ellipsis,) + tuple(slice(t, None) for _ in range(nd))]
    chk.close(f"{cap}(x shifted by s t = {shift})[..., t:] vs {cap}(x) (t = {t}, {_desc(problem)})",
              y2[(Ellipsis,) + tuple(slice(t, None) for _ in range(nd))], y.astype(np.float64), allowed)


# float32/float64 only: the check reads "changed" as |y' - y| above the rounding threshold, which a 16-bit
# threshold (gamma_7 ~ 0.03 of the magnitudes at bfloat16) can exceed for a true change of a few tenths: a
# correct target could be accused; stack_tol also has no underflow terms (float16).
@prop("conv.receptive_field", title="perturbing one input changes exactly the outputs whose receptive field holds it",
      capabilities=("conv1d",), derivations=("conv.receptive_field",), strategy=lambda target: rf_problems(target.dtype, restrict=_restrict(target)))
def receptive_field(target, problem, chk):
    layers, c, j = problem["layers"], problem["c"], problem["j"]
    x = problem["x"]
    x2 = x.copy()
    x2[0, c, j] += x.dtype.type(1.0)

    def stack(a):
        for l, (k, s, p, d) in enumerate(layers):
            a = call(target, "conv1d", a, problem[f"w{l}"], problem[f"b{l}"], s, p, d, 1)
            chk.holds(f"conv1d layer {l + 1} output", isinstance(a, np.ndarray) and a.ndim == 3,
                      f"returned {type(a).__name__}, but should be a (B, C, L) numpy.ndarray")
        return a

    y, y2 = stack(x), stack(x2)
    D = oracle.dependence(problem["n0"], layers)  # (n_L, n0): composed from the definition
    want = (1, problem["C"], D.shape[0])
    chk.holds("stack output shape", y.shape == want and y2.shape == want,
              f"= {y.shape}, but should be {want} ({FORMULA} layer by layer)")
    spec = [(problem[f"w{l}"], problem[f"b{l}"], s, p, d) for l, (k, s, p, d) in enumerate(layers)]
    thr = stack_tol(x, spec, tol.precision(target)) + stack_tol(x2, spec, tol.precision(target))
    delta = np.abs(np.asarray(y2, np.float64) - np.asarray(y, np.float64))
    changed = (delta > thr).any(axis=1)[0]            # per output position, over channels
    expected = D[:, j]
    if not np.array_equal(changed, expected):
        ks, ss, ds = zip(*[(k, s, d) for k, s, _, d in layers])
        r, J = oracle.receptive_field(ks, ss, ds)
        chk.fail(f"outputs changed by x[0, {c}, {j}] += 1 (layers (k, s, p, d) = {layers})",
                 f"positions {np.flatnonzero(changed).tolist()} changed, but should be exactly "
                 f"{np.flatnonzero(expected).tolist()} (receptive field r = {r}, jump {J}; conv.receptive_field)")
    # the unchanged outputs must agree within rounding: their worst share of the threshold
    chk.worst = max(chk.worst, float(np.max(np.where(expected[None, None, :], 0.0, delta / np.maximum(thr, 1e-300)),
                                            initial=0.0)))
