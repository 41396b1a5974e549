"""1-D and 2-D convolutional layers with torch ops (no F.conv*): windows by Tensor.unfold, a grouped einsum;
the backward is torch.autograd's (NumPy arrays in and out).

Same math and validation as `dlproof.impl.numpy_ref.convolution` (torch's Conv1d / Conv2d semantics, zero padding on
both sides, groups): x_pad = F.pad(x, p); for each spatial axis, x_pad.unfold(axis, d (K - 1) + 1, s) gives
the windows, [..., ::d] keeps the dilated taps; y[b, o, i] = b[o] + sum_{c, k} w[o, c, k] win[b, g(o) Cg + c, i, k].
conv*_vjp: torch.autograd.grad of L = <dy, y> w.r.t. x, w and b (b: None when b is None).
Computed in the inputs' common dtype (float16 / bfloat16 / float32 / float64 tensors), except the 16-bit
backward: Tensor.unfold's backward scatter-adds the kernel taps in the tensor's dtype (measured with torch 2.13.0:
a float16 dx summing [1, 2^-12 x 1024, -1] over 1026 taps gives 0, not 0.25), which is not the float32
accumulation these targets declare, so a 16-bit VJP runs in float32 on the (exactly widened) inputs and each
gradient is rounded once to the 16-bit dtype. Inputs are never mutated.
"""
from __future__ import annotations

from ..numpy_ref.checks.convolution import ConvArgs, conv_args
from ._torch import to_numpy, to_torch, torch, torch_dtype

_POS, _TAP = "ijlm", "uvxz"


def _layer(a: ConvArgs, x, w, b):
    nd = len(a.s)
    pads = []
    for ax in reversed(range(nd)):  # F.pad lists the last axis first
        pads += [a.p[ax], a.p[ax]]
    win = torch.nn.functional.pad(x, pads)
    for ax in range(nd):
        win = win.unfold(2 + ax, a.d[ax] * (a.K[ax] - 1) + 1, a.s[ax])  # appends the window axis
    win = win[(Ellipsis,) + tuple(slice(None, None, a.d[ax]) for ax in range(nd))]  # (B, C_in, *outs, *K)
    B, C_in = x.shape[:2]
    C_out = w.shape[0]
    i, k = _POS[:nd], _TAP[:nd]
    wg = win.reshape(B, a.G, C_in // a.G, *win.shape[2:])
    kg = w.reshape(a.G, C_out // a.G, *w.shape[1:])
    y = torch.einsum(f"bgc{i}{k},goc{k}->bgo{i}", wg, kg).reshape(B, C_out, *a.outs)
    if b is not None:
        y = y + b.reshape((-1,) + (1,) * nd)
    return y


def _forward(a: ConvArgs):
    td = torch_dtype(a.dtype)
    x, w = to_torch(a.x, td), to_torch(a.w, td)
    b = None if a.b is None else to_torch(a.b, td)
    with torch.no_grad():
        return to_numpy(_layer(a, x, w, b), a.dtype)


def _vjp(a: ConvArgs) -> dict:
    td = torch_dtype(a.dtype)
    if td.itemsize == 2:  # float32 accumulation, as declared (module doc); 16-bit numbers widen exactly
        td = torch.float32
    x, w = to_torch(a.x, td, requires_grad=True), to_torch(a.w, td, requires_grad=True)
    b = None if a.b is None else to_torch(a.b, td, requires_grad=True)
    leaves = (x, w) if b is None else (x, w, b)
    with torch.enable_grad():
        L = (to_torch(a.dy, td) * _layer(a, x, w, b)).sum()
        grads = torch.autograd.grad(L, leaves)
    return {"x": to_numpy(grads[0], a.dtype), "w": to_numpy(grads[1], a.dtype),
            "b": None if b is None else to_numpy(grads[2], a.dtype)}


def conv1d(x, w, b, stride, padding, dilation, groups):
    """y (B, C_out, L_out) as a NumPy array of the inputs' dtype."""
    return _forward(conv_args("conv1d", 1, x, w, b, stride, padding, dilation, groups))


def conv1d_vjp(x, w, b, stride, padding, dilation, groups, dy):
    """Gradients of L = <dy, y> by torch.autograd -> {"x", "w", "b"}."""
    return _vjp(conv_args("conv1d_vjp", 1, x, w, b, stride, padding, dilation, groups, dy, with_dy=True))


def conv2d(x, w, b, stride, padding, dilation, groups):
    """y (B, C_out, H_out, W_out); stride, padding, dilation: an int or a pair."""
    return _forward(conv_args("conv2d", 2, x, w, b, stride, padding, dilation, groups))


def conv2d_vjp(x, w, b, stride, padding, dilation, groups, dy):
    """Gradients of L = <dy, y> by torch.autograd -> {"x", "w", "b"}."""
    return _vjp(conv_args("conv2d_vjp", 2, x, w, b, stride, padding, dilation, groups, dy, with_dy=True))
