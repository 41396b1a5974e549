"""Properties of convolutional layers (capabilities conv1d, conv1d_vjp, conv2d, conv2d_vjp), from conv.* derivations.

Expected values come from the float64 oracle (derivations/oracle_conv.py: shift-and-add forward, gradients
through the explicit Jacobians, routes the references do not take); shapes from the derived output size;
tolerances from properties/tolerances_conv.py. Known wrong variants are named on failure: the true
convolution (flipped kernel) in the forward, the input gradient without the kernel flip, an output size
that is not floor((n + 2p - d(k-1) - 1)/s) + 1. Declared restrictions (conv_groups, conv_dilation, conv_padding,
conv_stride; properties/restrictions.py) narrow the drawn geometry, never the checks.
"""
from __future__ import annotations

import numpy as np

from dlproof.derivations import oracle_conv as oracle

from . import diagnose
from . import tolerances as tol
from . import tolerances_conv as tcv
from .assertions import call
from .registry import prop
from .strategies_conv import conv_problems, rf_problems, size_problems

FORMULA = "floor((n + 2p - d(k-1) - 1)/s) + 1"


def _restrict(target):
    return target.convention("restrictions")


def _problems(nd):
    return lambda target: conv_problems(nd, target.dtype, restrict=_restrict(target))


def _args(P):
    return (P["stride"], P["padding"], P["dilation"], P["G"])


def _geom(P):
    return (P["s"], P["p"], P["d"], P["G"])


def _within(a, e, t) -> bool:
    """|a - e| <= t entry-wise, as the checks compare (diagnose.within)."""
    return diagnose.within(a, e, t)


def _desc(P) -> str:
    return f"stride={P['stride']}, padding={P['padding']}, dilation={P['dilation']}, groups={P['G']}"


def _check_shape(chk, cap, y, want, P, x_shape, k_shape):
    """The output must be an ndarray of the derived shape; a wrong size is named with the formula."""
    chk.holds(f"{cap} output", isinstance(y, np.ndarray), f"returned {type(y).__name__}, but should be numpy.ndarray")
    if y.shape != want:
        per_axis = "; ".join(f"axis {a}: n={x_shape[a]}, k={k_shape[a]}, p={P['p'][a]}, s={P['s'][a]}, d={P['d'][a]} "
                             f"-> {want[2 + a]}" for a in range(len(want) - 2))
        chk.fail(f"{cap} output shape", f"= {y.shape}, but should be {want}: output size {FORMULA} per axis "
                                        f"(conv.output_size; {per_axis})")


def _forward(target, P, chk, cap, x=None):
    x = P["x"] if x is None else x
    w, b = P["w"], P.arrays.get("b")
    y = call(target, cap, x, w, b, *_args(P))
    outs = oracle.sizes(x.shape[2:], w.shape[2:], P["s"], P["p"], P["d"])
    _check_shape(chk, cap, y, (x.shape[0], w.shape[0]) + outs, P, x.shape[2:], w.shape[2:])
    return chk.array(f"{cap} y", y, y.shape)


def _forward_check(target, P, chk, cap):
    y = _forward(target, P, chk, cap)
    x, w, b = P["x"], P["w"], P.arrays.get("b")
    expected = oracle.forward(x, w, b, *_geom(P))
    t = tcv.forward_tol(x, w, b, *_geom(P), tol.precision(target))
    if not _within(y, expected, t):
        flipped = oracle.forward(x, w, b, *_geom(P), flip_kernel=True)
        if _within(y, flipped, t):
            chk.fail(f"{cap} y ({_desc(P)})", "matches the true convolution (kernel flipped), but should be the "
                                              "cross-correlation y[o, i] = b[o] + sum w[o, c, k] x_pad[., i s + k d] "
                                              "(conv.cross_correlation, conv.true_convolution.refuted)")
        if P["G"] > 1:
            dense = np.tile(np.asarray(w, np.float64), (1, P["G"]) + (1,) * (w.ndim - 2))
            if _within(y, oracle.forward(x, dense, b, *_geom(P)[:3], 1), t):
                chk.fail(f"{cap} y ({_desc(P)})", "matches every output channel reading all C_in input channels "
                                                  "(groups ignored), but should read only its group's C_in/groups "
                                                  "channels (conv.groups.block_diagonal)")
    chk.close(f"{cap} y ({_desc(P)})", y, expected, t)


@prop("conv1d.forward", title="conv1d is the cross-correlation with zero padding, stride, dilation and groups",
      capabilities=("conv1d",), derivations=("conv.cross_correlation", "conv.output_size", "conv.groups.block_diagonal"),
      strategy=_problems(1))
def conv1d_forward(target, P, chk):
    _forward_check(target, P, chk, "conv1d")


@prop("conv2d.forward", title="conv2d is the 2-D cross-correlation (pairs of stride, padding, dilation; groups)",
      capabilities=("conv2d",), derivations=("conv.cross_correlation", "conv.output_size", "conv.groups.block_diagonal"),
      strategy=_problems(2))
def conv2d_forward(target, P, chk):
    _forward_check(target, P, chk, "conv2d")


def _vjp_check(target, P, chk, cap):
    x, w, b, dy = P["x"], P["w"], P.arrays.get("b"), P["dy"]
    out = call(target, cap, x, w, b, *_args(P), dy)
    chk.holds(f"{cap}(x, w, b, stride, padding, dilation, groups, dy)", isinstance(out, dict) and {"x", "w", "b"} <= set(out),
              f"returned {type(out).__name__}{sorted(out) if isinstance(out, dict) else ''}, but should be a dict with "
              "keys 'x', 'w', 'b'")
    exp = oracle.vjp(x, w, b, *_geom(P), dy)
    t = tcv.vjp_tol(x, w, b, *_geom(P), dy, tol.precision(target))
    where = f" ({_desc(P)})"
    if b is None:
        chk.holds("db", out["b"] is None, f"= {type(out['b']).__name__}, but should be None (b is None)")
    else:
        chk.close("db" + where, out["b"], exp["b"], t["b"])
    chk.close("dw" + where, out["w"], exp["w"], t["w"])
    dx = chk.array("dx", out["x"], x.shape)
    if not _within(dx, exp["x"], t["x"]):
        unflipped = oracle.vjp(x, w, b, *_geom(P), dy, flip_kernel=True)["x"]
        if _within(dx, unflipped, t["x"]):
            chk.fail("dx" + where, "matches the full correlation of dy with the UNflipped kernel (gradient without the "
                                   "kernel flip), but should be the full correlation with the flipped kernel "
                                   "(conv.grad_input, conv.grad_input.unflipped.refuted)")
    chk.close("dx" + where, dx, exp["x"], t["x"])


@prop("conv1d.vjp", title="conv1d gradients: dx (flipped kernel, dy dilated by the stride), dw (x_pad with dy), db",
      capabilities=("conv1d_vjp",),
      derivations=("conv.grad_input", "conv.grad_input.strided", "conv.grad_weight", "conv.grad_bias"),
      strategy=_problems(1))
def conv1d_vjp(target, P, chk):
    _vjp_check(target, P, chk, "conv1d_vjp")


@prop("conv2d.vjp", title="conv2d gradients: dx (flipped kernel, dy dilated by the stride), dw (x_pad with dy), db",
      capabilities=("conv2d_vjp",),
      derivations=("conv.grad_input", "conv.grad_input.strided", "conv.grad_weight", "conv.grad_bias"),
      strategy=_problems(2))
def conv2d_vjp(target, P, chk):
    _vjp_check(target, P, chk, "conv2d_vjp")


def _sizes_strategy(target):
    from hypothesis import strategies as st

    nds = [1] if not target.provides("conv2d") else [1, 2]
    return st.sampled_from(nds).flatmap(lambda nd: size_problems(nd, target.dtype, restrict=_restrict(target)))


@prop("conv.output_size", title="the output has floor((n + 2p - d(k-1) - 1)/s) + 1 positions per axis",
      capabilities=("conv1d",), derivations=("conv.output_size",), strategy=_sizes_strategy)
def output_size(target, P, chk):
    nd = P["nd"]
    cap = "conv1d" if nd == 1 else "conv2d"
    one = (lambda v: v[0]) if nd == 1 else tuple
    y = call(target, cap, P["x"], P["w"], None, one(P["s"]), one(P["p"]), one(P["d"]), 1)
    want = (1, 1) + oracle.sizes(P["n"], P["K"], P["s"], P["p"], P["d"])
    _check_shape(chk, cap, y, want, P, P["n"], P["K"])


def _equiv_strategy(target):
    from hypothesis import strategies as st

    nds = [1] if not target.provides("conv2d") else [1, 2]
    return st.sampled_from(nds).flatmap(lambda nd: conv_problems(nd, target.dtype, restrict=_restrict(target)))


@prop("conv.equivariance", title="prepending s t zeros to the input shifts the output by t (exact up to rounding)",
      capabilities=("conv1d",), derivations=("conv.equivariance", "conv.equivariance.stride.refuted"),
      strategy=_equiv_strategy)
def equivariance(target, P, chk):
    nd = P["nd"]
    cap = "conv1d" if nd == 1 else "conv2d"
    x, w, b, t = P["x"], P["w"], P.arrays.get("b"), P["t"]
    shift = tuple(P["s"][a] * t for a in range(nd))
    x2 = np.pad(x, [(0, 0), (0, 0)] + [(sh, 0) for sh in shift])
    y = _forward(target, P, chk, cap)
    y2 = _forward(target, P, chk, cap, x=x2)
    prec = tol.precision(target)
    allowed = tcv.forward_tol(x, w, b, *_geom(P), prec)
    allowed = allowed + tcv.forward_tol(x2, w, b, *_geom(P), prec)[(Ellipsis,) + tuple(slice(t, None) for _ in range(nd))]
    chk.close(f"{cap}(x shifted by s t = {shift})[..., t:] vs {cap}(x) (t = {t}, {_desc(P)})",
              y2[(Ellipsis,) + tuple(slice(t, None) for _ in range(nd))], y.astype(np.float64), allowed)


@prop("conv.receptive_field", title="perturbing one input changes exactly the outputs whose receptive field holds it",
      capabilities=("conv1d",), derivations=("conv.receptive_field",), strategy=lambda target: rf_problems(target.dtype, restrict=_restrict(target)))
def receptive_field(target, P, chk):
    layers, c, j = P["layers"], P["c"], P["j"]
    x = P["x"]
    x2 = x.copy()
    x2[0, c, j] += x.dtype.type(1.0)

    def stack(a):
        for l, (k, s, p, d) in enumerate(layers):
            a = call(target, "conv1d", a, P[f"w{l}"], P[f"b{l}"], s, p, d, 1)
            chk.holds(f"conv1d layer {l + 1} output", isinstance(a, np.ndarray) and a.ndim == 3,
                      f"returned {type(a).__name__}, but should be a (B, C, L) numpy.ndarray")
        return a

    y, y2 = stack(x), stack(x2)
    D = oracle.dependence(P["n0"], layers)  # (n_L, n0): composed from the definition
    want = (1, P["C"], D.shape[0])
    chk.holds("stack output shape", y.shape == want and y2.shape == want,
              f"= {y.shape}, but should be {want} ({FORMULA} layer by layer)")
    spec = [(P[f"w{l}"], P[f"b{l}"], s, p, d) for l, (k, s, p, d) in enumerate(layers)]
    thr = tcv.stack_tol(x, spec, tol.precision(target)) + tcv.stack_tol(x2, spec, tol.precision(target))
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
