"""The empirical NTK of a real torch.nn network behind the protocol's empirical_ntk (version 1).

The network is ``nn.Sequential(nn.Linear(d, m, bias=False), nn.ReLU(), nn.Linear(m, 1, bias=False))`` with the
NTK scaling 1/sqrt(m) applied to its output: f(x) = net(x) / sqrt(m). Protocol W (m, d) is the first layer's
``.weight`` (out_features, in_features) and a (m,) the second layer's ``.weight[0]`` (shape (1, m)); both are
loaded by copy. For each point x_i, ``torch.autograd.grad(f(x_i), net.parameters())`` gives grad_theta f(x_i)
(nn.ReLU: relu'(0) = 0); K = J(X1) J(X2)^T. A fresh module per call in the requested ``dtype``; inputs are
validated as the NumPy reference does and never mutated; the result is a new NumPy array of that dtype. torch is
imported lazily (ImportError with the install hint without it).
"""
from __future__ import annotations

import numpy as np

from ..numpy_ref.checks.ntk import check_args
from .startup import chapter_capabilities
from .startup import dtype as _dtype
from .startup import tensor as _tensor
from .startup import to_numpy
from .startup import torch as _torch


def network(W: np.ndarray, a: np.ndarray, td):
    """nn.Sequential(Linear(d, m, bias=False), ReLU(), Linear(m, 1, bias=False)) holding W and a."""
    torch = _torch()
    m, d = W.shape
    net = torch.nn.Sequential(torch.nn.Linear(d, m, bias=False, dtype=td), torch.nn.ReLU(),
                              torch.nn.Linear(m, 1, bias=False, dtype=td))
    with torch.no_grad():
        net[0].weight.copy_(_tensor(torch, W, td))
        net[2].weight.copy_(_tensor(torch, a, td)[None, :])
    return net


def _jacobian(torch, net, X, m):
    params = list(net.parameters())
    rows = []
    for i in range(X.shape[0]):
        f = net(X[i:i + 1])[0, 0] / m ** 0.5
        gW, ga = torch.autograd.grad(f, params)
        rows.append(torch.cat([gW.reshape(-1), ga.reshape(-1)]))
    if not rows:
        return X.new_zeros((0, sum(p.numel() for p in params)))
    return torch.stack(rows)


def empirical_ntk(X1, X2, W, a, *, dtype="float32"):
    """K (n1, n2) = <grad f(X1[i]), grad f(X2[j])> through the torch.nn network (module doc)."""
    fn = "torch_nn_ntk.empirical_ntk"
    torch, td, dt = _dtype(fn, dtype)
    X1, X2, W, a, _ = check_args(fn, X1, X2, W, a)
    net = network(W, a, td)
    m = W.shape[0]
    with torch.enable_grad():
        J1 = _jacobian(torch, net, _tensor(torch, X1, td), m)
        J2 = _jacobian(torch, net, _tensor(torch, X2, td), m)
    with torch.no_grad():
        K = J1 @ J2.T
    return to_numpy(K, dt)


def capabilities(dtype: str = "float32") -> dict:
    """{capability: callable} for a Target of ``dtype`` (empirical_ntk)."""
    _dtype("torch_nn_ntk.capabilities", dtype)
    return chapter_capabilities(globals(), "ntk", dtype)
