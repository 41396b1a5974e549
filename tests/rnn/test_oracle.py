"""The generated kernels agree with the element-wise SymPy derivation evaluated in 50-digit mpmath."""
import numpy as np
import pytest
import sympy as sp

from dlproof.derivations import oracle_rnn
from dlproof.derivations.functions import phi, phi_prime
from dlproof.derivations.rnn.cell import explicit_cell

ACTS = {"tanh": (sp.tanh, lambda a: 1 - sp.tanh(a) ** 2)}


def _point(E, rng):
    vals = {}
    for M in E.values():
        for s in M:
            vals[s] = sp.Rational(int(rng.integers(-2000, 2000)), 1000)
    return vals


@pytest.mark.parametrize("n,m", [(2, 3), (3, 2)])
def test_forward_and_jacobians_match_mpmath(n, m):
    rng = np.random.default_rng(7)
    cell, E, h_new = explicit_cell(n, m)
    vals = _point(E, rng)
    inst = lambda e: e.replace(phi_prime, lambda a: 1 - sp.tanh(a) ** 2).replace(phi, sp.tanh)  # noqa: E731
    num = lambda M: np.array(sp.Matrix(M).xreplace(vals).evalf(50), dtype=float)  # noqa: E731
    x = num(E[cell.x]).reshape(1, m)
    h = num(E[cell.h]).reshape(1, n)
    p = {"W_x": num(E[cell.W_x]), "W_h": num(E[cell.W_h]), "b": num(E[cell.b]).ravel()}
    want_h = num(inst(h_new)).ravel()
    assert np.allclose(oracle_rnn.rnn_cell(x, h, p)[0], want_h, rtol=1e-14, atol=1e-15)
    J = oracle_rnn.rnn_cell_jacobians(x, h, p)
    assert np.allclose(J["h"][0], num(inst(h_new.jacobian(E[cell.h]))), rtol=1e-13, atol=1e-15)
    assert np.allclose(J["x"][0], num(inst(h_new.jacobian(E[cell.x]))), rtol=1e-13, atol=1e-15)


def test_chain_is_latest_left_product_and_has_the_seed_transpose():
    rng = np.random.default_rng(3)
    n, m, T = 3, 2, 4
    p = {"W_x": rng.normal(size=(n, m)), "W_h": rng.normal(size=(n, n)), "b": rng.normal(size=n)}
    xs, h0 = rng.normal(size=(T, 1, m)), rng.normal(size=(1, n))
    P = oracle_rnn.rnn_jacobian_chain(xs, h0, p, 0, T)[0]
    hs, _ = oracle_rnn.rnn_forward(xs, h0, p)
    states = np.concatenate([h0[None], hs])
    Ds = [np.diag(1 - states[i][0] ** 2) for i in range(1, T + 1)]
    numerator = np.eye(n)
    for D in Ds:
        numerator = D @ p["W_h"] @ numerator
    source = np.eye(n)
    for D in Ds:  # prod_{i=k+1}^{t} W_h^T diag(...), i increasing left to right
        source = source @ p["W_h"].T @ D
    assert np.allclose(P, numerator, rtol=1e-12)
    assert np.allclose(source, P.T, rtol=1e-12) and not np.allclose(source, P, rtol=1e-3)
