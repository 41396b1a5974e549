"""Inverted dropout with torch ops; the backward by torch.autograd (NumPy arrays in and out).

Same rule as `dlproof.impl.numpy_ref.dropout` (p the drop probability, q = 1 - p):
  training:  y = m * x / q,  m = torch.rand(x.shape, generator=g, dtype=float64) < q,  g = torch.Generator
             seeded with ``seed`` (a generator of its own: torch's global RNG state is never touched)
  inference: y = x (a copy)
  backward:  dx = autograd of <dy, y> through the same mask (= m * dy / q, derivation dropout.vjp).
Computed in x's dtype (float16 / bfloat16 / float32 / float64 tensors); seeds must be < 2**64
(torch.Generator.manual_seed).
"""
from __future__ import annotations

import numpy as np

from ..numpy_ref.checks import dropout as _dc
from ._torch import to_numpy, to_torch, torch, torch_dtype

SEED_LIMIT = 2 ** 64


def _mask(shape, p: float, seed: int):
    g = torch.Generator(device="cpu")
    g.manual_seed(seed)
    # drawn on the CPU always (the generator is a CPU one), so the same seed gives the same mask on any device
    return torch.rand(tuple(shape), generator=g, dtype=torch.float64, device="cpu") < (1.0 - p)


def _forward(xt, p: float, seed: int):
    m = _mask(xt.shape, p, seed)
    return m.to(device=xt.device, dtype=xt.dtype) * xt / (1.0 - p)


def dropout(x, p, training, seed):
    """y = m * x / q in training mode (m from a torch.Generator seeded with ``seed``), a copy of x in inference."""
    x, p, training, seed = _dc.forward_args("dropout", x, p, training, seed, SEED_LIMIT)
    xt = to_torch(x, torch_dtype(x.dtype))
    with torch.no_grad():
        y = _forward(xt, p, seed) if training else xt.clone()
    return to_numpy(y, x.dtype)


def dropout_vjp(x, p, seed, dy):
    """dx = d<dy, y>/dx by torch.autograd, y = dropout(x, p, True, seed) (the same mask)."""
    x, p, seed, dy = _dc.vjp_args("dropout_vjp", x, p, seed, dy, SEED_LIMIT)
    dtype = np.result_type(x, dy)
    tdt = torch_dtype(dtype)
    xt = to_torch(x, tdt, requires_grad=True)
    with torch.enable_grad():
        y = _forward(xt, p, seed)
        (dx,) = torch.autograd.grad(y, xt, grad_outputs=to_torch(dy, tdt), allow_unused=True)
    if dx is None:  # an empty x: nothing flows
        dx = torch.zeros_like(xt)
    return to_numpy(dx, dtype)
