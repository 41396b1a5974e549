"""The empirical neural tangent kernel in NumPy, from hand-written per-example gradients.

f(x) = a^T relu(W x) / sqrt(m), W (m, d), a (m,), theta = (W, a) flattened as [vec(W) (row-major), a].
Per example the gradient (one row of the Jacobian J (n, m d + m), numerator layout: J[i, p] = df(x_i)/dtheta_p):
    df/dW[r, k] = a_r relu'(w_r.x) x_k / sqrt(m),   df/da_r = relu(w_r.x) / sqrt(m),   relu'(0) = 0;
then K = J(X1) J(X2)^T, K[i, j] = <grad_theta f(X1[i]), grad_theta f(X2[j])> (ntk.empirical.definition).

Arrays X1 (n1, d), X2 (n2, d), W (m, d), a (m,) are floating and finite, with n1, n2 >= 0, d >= 1, m >= 1; the
result (n1, n2) is in their common dtype (float32 or float64). Bad input raises ValueError naming the function and
the argument; inputs are never mutated.
"""
from __future__ import annotations

import numpy as np

from .checks.ntk import check_args


def jacobian(X, W, a):
    """J (n, m d + m): row i is grad_theta f(X[i]) = [vec(a relu'(W x) x^T), relu(W x)] / sqrt(m), by hand."""
    m = W.shape[0]
    s = X.dtype.type(1) / np.sqrt(X.dtype.type(m))
    U = X @ W.T                                    # (n, m): pre-activations w_r.x
    dW = ((a * (U > 0)) * s)[:, :, None] * X[:, None, :]  # (n, m, d): a_r relu'(u_r) x_k / sqrt(m)
    da = np.maximum(U, 0) * s                      # (n, m): relu(u_r) / sqrt(m)
    return np.concatenate([dW.reshape(X.shape[0], m * X.shape[1]), da], axis=1)


def empirical_ntk(X1, X2, W, a):
    """K (n1, n2) = J(X1) J(X2)^T (module doc)."""
    X1, X2, W, a, dt = check_args("empirical_ntk", X1, X2, W, a)
    X1, X2, W, a = (v.astype(dt, copy=False) for v in (X1, X2, W, a))
    J1, J2 = jacobian(X1, W, a), jacobian(X2, W, a)
    return (J1 @ J2.T).astype(dt, copy=False)
