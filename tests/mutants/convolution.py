"""Broken convolutions (the cross-correlation y[o, i] = sum_{c, k} w[o, c, k] x_pad[c, i s + k d] + b[o], grouped),
each the NumPy reference (dlproof.impl.numpy_ref.convolution) with one bug; every builder of `BUILDERS` returns
the four capabilities {"conv1d", "conv1d_vjp", "conv2d", "conv2d_vjp"} (the unaffected ones are the correct
reference), shared with tests/convolution/."""
from __future__ import annotations

import numpy as np

from dlproof.impl.numpy_ref import convolution as NC
from dlproof.impl.numpy_ref.checks.convolution import conv_args

from mutants.base import Mutant, changed, code_mutant

CORRECT = {"conv1d": NC.conv1d, "conv1d_vjp": NC.conv1d_vjp, "conv2d": NC.conv2d, "conv2d_vjp": NC.conv2d_vjp}


def _flip(w):
    return np.ascontiguousarray(w[(slice(None), slice(None)) + (slice(None, None, -1),) * (w.ndim - 2)])


def _nd(cap):
    return 1 if cap.startswith("conv1d") else 2


def _one(a, v):
    return v[0] if len(a.s) == 1 else v


def no_flip_grad():
    """dx = the full correlation of the dilated dy with the UNflipped kernel (the forward is correct)."""
    def make(cap):
        def vjp(x, w, b, stride, padding, dilation, groups, dy):
            out = CORRECT[cap](x, w, b, stride, padding, dilation, groups, dy)
            out["x"] = CORRECT[cap](x, _flip(w), b, stride, padding, dilation, groups, dy)["x"]
            return out
        return vjp
    return {**CORRECT, "conv1d_vjp": make("conv1d_vjp"), "conv2d_vjp": make("conv2d_vjp")}


def true_convolution():
    """The forward flips the kernel: a true convolution instead of the cross-correlation."""
    def make(cap):
        return lambda x, w, b, *geom: CORRECT[cap](x, _flip(w), b, *geom)
    return {**CORRECT, "conv1d": make("conv1d"), "conv2d": make("conv2d")}


def one_sided_padding():
    """Zero padding p on the left only (the right side unpadded): the output size is
    floor((n + p - d(k-1) - 1)/s) + 1, off the formula."""
    def make(cap):
        def fwd(x, w, b, stride, padding, dilation, groups):
            a = conv_args(cap, _nd(cap), x, w, b, stride, padding, dilation, groups)
            xl = np.pad(x, [(0, 0), (0, 0)] + [(p, 0) for p in a.p])
            outs = [(xl.shape[2 + i] - a.d[i] * (a.K[i] - 1) - 1) // a.s[i] + 1 for i in range(len(a.s))]
            if min(outs) < 1:  # no window fits on the one-sided padding: an empty output, not an error
                return np.zeros(x.shape[:1] + w.shape[:1] + tuple(max(o, 0) for o in outs), a.dtype)
            return CORRECT[cap](xl, w, b, stride, 0, dilation, groups)
        return fwd
    return {**CORRECT, "conv1d": make("conv1d"), "conv2d": make("conv2d")}


def stride_ignored_in_dx():
    """dx by the stride-1 formula on the undilated dy (dy not dilated by the stride)."""
    def make(cap):
        def vjp(x, w, b, stride, padding, dilation, groups, dy):
            a = conv_args(cap, _nd(cap), x, w, b, stride, padding, dilation, groups, dy, with_dy=True)
            out = CORRECT[cap](x, w, b, stride, padding, dilation, groups, dy)
            out["x"] = NC.input_grad(dy, w, a.n, a.p, a.d, a.G).astype(a.dtype)
            return out
        return vjp
    return {**CORRECT, "conv1d_vjp": make("conv1d_vjp"), "conv2d_vjp": make("conv2d_vjp")}


def groups_ignored():
    """Every output channel reads all input channels: the kernel tiled over the groups, then groups = 1."""
    def make(cap):
        def fwd(x, w, b, stride, padding, dilation, groups):
            reps = (1, groups) + (1,) * (w.ndim - 2)
            return CORRECT[cap](x, np.tile(w, reps), b, stride, padding, dilation, 1)
        return fwd
    return {**CORRECT, "conv1d": make("conv1d"), "conv2d": make("conv2d")}


def dilation_ignored():
    """The kernel is not dilated (dilation 1); the output is cropped to the formula's size, so only the values
    are wrong."""
    def make(cap):
        def fwd(x, w, b, stride, padding, dilation, groups):
            a = conv_args(cap, _nd(cap), x, w, b, stride, padding, dilation, groups)
            y = CORRECT[cap](x, w, b, stride, padding, 1, groups)
            return np.ascontiguousarray(y[(Ellipsis,) + tuple(slice(0, o) for o in a.outs)])
        return fwd
    return {**CORRECT, "conv1d": make("conv1d"), "conv2d": make("conv2d")}


def dilation_on_input():
    """The input is dilated (d - 1 zeros between its entries) and the kernel is not: x_dil[j d] = x[j]."""
    def make(cap):
        def fwd(x, w, b, stride, padding, dilation, groups):
            a = conv_args(cap, _nd(cap), x, w, b, stride, padding, dilation, groups)
            xd = NC.dilate(x, a.d)
            y = CORRECT[cap](xd, w, b, stride, padding, 1, groups)
            want = tuple(o for o in a.outs)
            out = np.zeros(y.shape[:2] + want, y.dtype)
            keep = tuple(slice(0, min(o, m)) for o, m in zip(want, y.shape[2:]))
            out[(Ellipsis,) + keep] = y[(Ellipsis,) + keep]
            return out
        return fwd
    return {**CORRECT, "conv1d": make("conv1d"), "conv2d": make("conv2d")}


def dw_unpadded():
    """dw correlates dy with the UNpadded input (x[i s + k d], zero past the end), not x_pad."""
    def make(cap):
        def vjp(x, w, b, stride, padding, dilation, groups, dy):
            a = conv_args(cap, _nd(cap), x, w, b, stride, padding, dilation, groups, dy, with_dy=True)
            out = CORRECT[cap](x, w, b, stride, padding, dilation, groups, dy)
            xr = np.pad(a.x, [(0, 0), (0, 0)] + [(0, 2 * p) for p in a.p])
            out["w"] = NC.weight_grad(xr, a.dy, a.s, a.d, a.K, a.G).astype(a.dtype)
            return out
        return vjp
    return {**CORRECT, "conv1d_vjp": make("conv1d_vjp"), "conv2d_vjp": make("conv2d_vjp")}


def dw_transposed():
    """dw with its two channel axes swapped back and forth: dw[o, c] taken from dw[c, o] (square blocks), else
    the kernel axis reversed."""
    def make(cap):
        def vjp(x, w, b, stride, padding, dilation, groups, dy):
            out = CORRECT[cap](x, w, b, stride, padding, dilation, groups, dy)
            dw = out["w"]
            out["w"] = np.ascontiguousarray(dw.transpose(1, 0, *range(2, dw.ndim)) if dw.shape[0] == dw.shape[1]
                                            else _flip(dw))
            return out
        return vjp
    return {**CORRECT, "conv1d_vjp": make("conv1d_vjp"), "conv2d_vjp": make("conv2d_vjp")}


BUILDERS = {
    "no_flip_grad": no_flip_grad, "true_convolution": true_convolution, "one_sided_padding": one_sided_padding,
    "stride_ignored_in_dx": stride_ignored_in_dx, "groups_ignored": groups_ignored,
    "dilation_ignored": dilation_ignored, "dilation_on_input": dilation_on_input, "dw_unpadded": dw_unpadded,
    "dw_transposed": dw_transposed,
}

MUTANTS: dict[str, Mutant] = {
    f"conv_{name}": code_mutant(f"convolution: {bug}", **changed(BUILDERS[name](), CORRECT))
    for name, bug in (("no_flip_grad", "input gradient without the kernel flip"),
                      ("true_convolution", "a true convolution (kernel flipped) in the forward"),
                      ("one_sided_padding", "zero padding on the left only"),
                      ("stride_ignored_in_dx", "input gradient with dy not dilated by the stride"),
                      ("groups_ignored", "groups ignored (every output channel reads every input)"),
                      ("dilation_ignored", "kernel dilation ignored"),
                      ("dilation_on_input", "the input dilated instead of the kernel"),
                      ("dw_unpadded", "kernel gradient from the unpadded input"),
                      ("dw_transposed", "kernel gradient with its channel axes swapped"))
}
