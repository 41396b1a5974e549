"""The float64 batch-norm oracle, written from the derivations (bn.*), by a route of its own.

Forward (bn.forward.train / bn.forward.eval): per feature, two-pass mean and biased variance, then
xhat = (x - mu) / sqrt(var + eps). Running statistics (bn.running_stats): (1 - m) old + m stat, with the
variance stat N/(N-1) var ("unbiased", torch) or var ("biased"). The VJP is NOT the three-term formula the
NumPy reference hand-codes: it builds the explicit N x N Jacobian of bn.jacobian.xhat per feature,

    J[i, j] = d xhat_i / d x_j = (delta_ij - 1/N - xhat_i xhat_j / N) / sqrt(var + eps),

and multiplies: dx[:, c] = J^T (gamma_c dy[:, c]) (bn.backward.three_term proves the two agree);
dgamma = sum dy xhat, dbeta = sum dy (bn.backward.gamma_beta). Arrays: x, dy (N, C); gamma, beta,
running_mean, running_var (C,). Everything is computed in float64; inputs are never mutated.
"""
from __future__ import annotations

import numpy as np

RUNNING_VAR = ("unbiased", "biased")


def _f64(*arrays):
    return [np.asarray(a, np.float64) for a in arrays]


def stats(x):
    """(mu (C,), var (C,)): the batch mean and the biased (1/N) variance, two-pass. [bn.forward.train]"""
    (x,) = _f64(x)
    mu = x.mean(axis=0)
    return mu, ((x - mu) ** 2).mean(axis=0)


def xhat(x, eps):
    """(xhat (N, C), mu, var, s = sqrt(var + eps)). [bn.forward.train]"""
    (x,) = _f64(x)
    mu, var = stats(x)
    s = np.sqrt(var + float(eps))
    return (x - mu) / s, mu, var, s


def forward_train(x, gamma, beta, eps):
    """y = gamma xhat + beta with the batch statistics. [bn.forward.train]"""
    gamma, beta = _f64(gamma, beta)
    xh = xhat(x, eps)[0]
    return gamma * xh + beta


def forward_eval(x, gamma, beta, running_mean, running_var, eps):
    """y = gamma (x - running_mean) / sqrt(running_var + eps) + beta. [bn.forward.eval]"""
    x, gamma, beta, rm, rv = _f64(x, gamma, beta, running_mean, running_var)
    return gamma * (x - rm) / np.sqrt(rv + float(eps)) + beta


def running_update(x, running_mean, running_var, momentum, convention="unbiased"):
    """(running_mean', running_var') = (1 - m) old + m stat. [bn.running_stats]"""
    if convention not in RUNNING_VAR:
        raise ValueError(f"oracle_batchnorm.running_update: convention={convention!r}, but should be one of {RUNNING_VAR}")
    x, rm, rv = _f64(x, running_mean, running_var)
    N = x.shape[0]
    mu, var = stats(x)
    stat = var * N / (N - 1) if convention == "unbiased" else var
    m = float(momentum)
    return (1 - m) * rm + m * mu, (1 - m) * rv + m * stat


def batchnorm(x, gamma, beta, running_mean, running_var, training, momentum, eps, convention="unbiased"):
    """The protocol's batchnorm in float64: (y, running_mean', running_var')."""
    if training:
        rm, rv = running_update(x, running_mean, running_var, momentum, convention)
        return forward_train(x, gamma, beta, eps), rm, rv
    rm, rv = _f64(running_mean, running_var)
    return forward_eval(x, gamma, beta, rm, rv, eps), rm.copy(), rv.copy()


def jacobian_xhat(x, eps):
    """(C, N, N): J[c, i, j] = d xhat_i / d x_j of feature c. [bn.jacobian.xhat]"""
    xh, _, _, s = xhat(x, eps)
    N, C = xh.shape
    eye = np.eye(N) - 1.0 / N
    return (eye[None] - np.einsum("ic,jc->cij", xh, xh) / N) / s[:, None, None]


def vjp(x, gamma, eps, dy):
    """{"x", "gamma", "beta"}: the training-mode gradients of L = <dy, y>, through the explicit Jacobian."""
    x, gamma, dy = _f64(x, gamma, dy)
    J = jacobian_xhat(x, eps)
    dxhat = gamma * dy  # (N, C): dL/dxhat
    dx = np.einsum("cij,ic->jc", J, dxhat)  # dx_j = sum_i J[i, j] dxhat_i
    xh = xhat(x, eps)[0]
    return {"x": dx, "gamma": (dy * xh).sum(axis=0), "beta": dy.sum(axis=0)}


def xhat_residual(x, gamma, eps, dy):
    """(C,): sum_j dx_j xhat_j = gamma / s (sum dy xhat) eps / (var + eps). [bn.grad.xhat_residual]"""
    x, gamma, dy = _f64(x, gamma, dy)
    xh, _, var, s = xhat(x, eps)
    return gamma / s * (dy * xh).sum(axis=0) * float(eps) / (var + float(eps))


def scale_gap_bound(z, gamma, eps, a):
    """(N, C): the proved bound |gamma| |z - mu| / sigma * eps |1 - 1/a^2| / (2 sigma^2) of
    |BN_eps(a z) - BN_eps(z)| (inf where sigma = 0 and z != mu, 0 where z = mu). [bn.scale_invariance]"""
    z, gamma = _f64(z, gamma)
    mu, var = stats(z)
    dev = np.abs(z - mu)
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.abs(gamma) * dev * float(eps) * abs(1 - float(a) ** -2) / (2 * var ** 1.5)
    return np.where(dev == 0, 0.0, np.where(var > 0, b, np.inf))

