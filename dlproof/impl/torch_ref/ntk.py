"""The empirical neural tangent kernel with torch: per-example gradients by torch.autograd.

f(x) = a^T relu(W x) / sqrt(m) written with torch ops (torch.relu: relu'(0) = 0 in its backward); for each row
x_i of X, ``torch.autograd.grad(f(x_i), (W, a))`` gives grad_theta f(x_i), flattened to row i of
J (n, m d + m); K = J(X1) J(X2)^T (ntk.empirical.definition). One backward pass per example (n is small;
``torch.func.vmap(jacrev(f))`` gives the same rows but costs ~6x more at n <= 3 on CPU). Same validation as the
NumPy reference (`dlproof.impl.numpy_ref.ntk.check_args`); computed in the inputs' common dtype, returned as a
new NumPy array.
"""
from __future__ import annotations

from ..numpy_ref.checks.ntk import check_args
from ._torch import to_numpy, to_torch, torch, torch_dtype


def _f(W, a, x):
    return a @ torch.relu(W @ x) / (W.shape[0] ** 0.5)


def jacobian(X, W, a):
    """J (n, m d + m) of torch tensors, row i = grad_theta f(X[i]) by torch.autograd.grad."""
    rows = []
    with torch.enable_grad():
        for i in range(X.shape[0]):
            gW, ga = torch.autograd.grad(_f(W, a, X[i]), (W, a))
            rows.append(torch.cat([gW.reshape(-1), ga]))
    if not rows:
        return X.new_zeros((0, W.numel() + a.numel()))
    return torch.stack(rows)


def empirical_ntk(X1, X2, W, a):
    """K (n1, n2) = J(X1) J(X2)^T, the Jacobians by torch.autograd (module doc)."""
    X1, X2, W, a, dt = check_args("empirical_ntk", X1, X2, W, a)
    td = torch_dtype(dt)
    X1t, X2t = to_torch(X1, td), to_torch(X2, td)
    Wt, at = to_torch(W, td, requires_grad=True), to_torch(a, td, requires_grad=True)
    J1, J2 = jacobian(X1t, Wt, at), jacobian(X2t, Wt, at)
    with torch.no_grad():
        K = J1 @ J2.T
    return to_numpy(K, dt)
