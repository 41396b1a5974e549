"""Broken empirical NTKs (K(x, x') = J(x) J(x')^T over the parameters (W, a) of f(x) = a^T relu(W x) / sqrt(m)),
each the NumPy reference's Jacobian route with one bug; the bug functions are shared with tests/ntk/."""
from __future__ import annotations

import numpy as np

from dlproof.impl.numpy_ref import ntk as NN

from mutants.base import Mutant, code_mutant


def _parts(X, W, a):
    m = W.shape[0]
    s = X.dtype.type(1) / np.sqrt(X.dtype.type(m))
    U = X @ W.T
    return U, s


def _kernel(J1, J2, dt):
    return (J1 @ J2.T).astype(dt, copy=False)


def ntk_unscaled(X1, X2, W, a):
    """f without the 1/sqrt(m): the kernel scale is 1 instead of 1/m (K grows with the width)."""
    K = NN.empirical_ntk(X1, X2, W, a)
    return (K * K.dtype.type(W.shape[0])).astype(K.dtype)


def ntk_bug(kind: str):
    """"no_a_grad" (the a-gradient relu(w.x)/sqrt(m) dropped), "no_w_grad" (the W-gradient dropped),
    "relu_for_drelu" (relu(w.x) where relu'(w.x) belongs in the W-gradient)."""
    def fn(X1, X2, W, a):
        X1, X2, W, a, dt = NN.check_args("empirical_ntk", X1, X2, W, a)
        X1, X2, W, a = (v.astype(dt, copy=False) for v in (X1, X2, W, a))

        def jac(X):
            U, s = _parts(X, W, a)
            gate = np.maximum(U, 0) if kind == "relu_for_drelu" else (U > 0)
            dW = ((a * gate) * s)[:, :, None] * X[:, None, :]
            da = np.maximum(U, 0) * s
            parts = [dW.reshape(X.shape[0], -1) if kind != "no_w_grad" else np.zeros((X.shape[0], 0), dt),
                     da if kind != "no_a_grad" else np.zeros((X.shape[0], 0), dt)]
            return np.concatenate(parts, axis=1)
        return _kernel(jac(X1), jac(X2), dt)
    return fn


def ntk_drelu_zero_is_one(X1, X2, W, a):
    """relu'(0) = 1 instead of 0 (differs only where some w_r.x is exactly 0)."""
    X1, X2, W, a, dt = NN.check_args("empirical_ntk", X1, X2, W, a)
    X1, X2, W, a = (v.astype(dt, copy=False) for v in (X1, X2, W, a))

    def jac(X):
        U, s = _parts(X, W, a)
        dW = ((a * (U >= 0)) * s)[:, :, None] * X[:, None, :]
        return np.concatenate([dW.reshape(X.shape[0], -1), np.maximum(U, 0) * s], axis=1)
    return _kernel(jac(X1), jac(X2), dt)


def ntk_asymmetric(X1, X2, W, a):
    """A kernel with a tiny asymmetric perturbation (not a Gram matrix)."""
    K = NN.empirical_ntk(X1, X2, W, a).copy()
    if K.shape[0] > 1 and K.shape[1] > 1:
        K[0, 1] += K.dtype.type(0.05) * (abs(K[0, 1]) + 1)
    return K


MUTANTS: dict[str, Mutant] = {
    "ntk_without_1_over_sqrt_width": code_mutant("NTK without the 1/sqrt(width)", empirical_ntk=ntk_unscaled),
    "ntk_without_a_gradient": code_mutant("NTK without the a-gradient term", empirical_ntk=ntk_bug("no_a_grad")),
    "ntk_without_W_gradient": code_mutant("NTK without the W-gradient term", empirical_ntk=ntk_bug("no_w_grad")),
    "ntk_relu_for_drelu": code_mutant("NTK with relu where relu' belongs", empirical_ntk=ntk_bug("relu_for_drelu")),
    "ntk_asymmetric": code_mutant("NTK kernel not symmetric", empirical_ntk=ntk_asymmetric),
}
