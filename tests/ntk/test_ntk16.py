"""The NTK error model at a declared arithmetic (issue 19): bit for bit the single-u bound at accumulate =
storage; the chapters that stay at float32/float64 (NTK) or run at bfloat16 only (clipping, dropout) say so."""
import numpy as np

import dlproof.properties.clipping  # noqa: F401 - registers the clip.* properties
import dlproof.properties.dropout  # noqa: F401 - registers the dropout.* properties
from dlproof.properties import ntk as N
from dlproof.properties import tolerances as tol
from dlproof.properties.registry import PROPERTIES

RNG = np.random.default_rng(7)
X1, X2 = RNG.standard_normal((2, 3)), RNG.standard_normal((1, 3))
W, A = RNG.standard_normal((8, 3)), RNG.standard_normal(8)


def _single_u(u):
    """The module doc's bound written out at one u (gamma_d, gamma_{m(d+1)+d+8})."""
    m, d = W.shape
    aW = np.abs(W)
    U1, U2 = X1 @ W.T, X2 @ W.T
    e1, e2 = tol.gamma(d, u) * (np.abs(X1) @ aW.T), tol.gamma(d, u) * (np.abs(X2) @ aW.T)
    R1, R2 = np.maximum(U1, 0.0), np.maximum(U2, 0.0)
    k1, k2 = (np.abs(U1) <= e1) * 1.0, (np.abs(U2) <= e2) * 1.0
    h1, h2 = (U1 > -e1) * 1.0, (U2 > -e2) * 1.0
    a2, xx = A * A, np.abs(X1) @ np.abs(X2).T
    E_a = (e1 @ R2.T + R1 @ e2.T + e1 @ e2.T) / m
    E_H = ((a2 * k1) @ h2.T + (a2 * h1) @ k2.T) * xx / m
    E_acc = tol.gamma(m * (d + 1) + d + 8, u) * ((R1 + e1) @ (R2 + e2).T + (a2 * h1) @ h2.T * xx) / m
    return tol.SAFETY * (E_a + E_H + E_acc)


def test_ntk_bound_at_storage_accumulation_is_the_single_u_bound():
    got = N.empirical_tol(X1, X2, W, A, tol.Arithmetic("float32", "float32"))
    assert np.array_equal(got, _single_u(tol.u_total("float32")))


def test_ntk_bound_tightens_with_a_wider_accumulation():
    wide = N.empirical_tol(X1, X2, W, A, tol.Arithmetic("float16", "float32"))
    assert np.all(wide < N.empirical_tol(X1, X2, W, A, "float16"))


def test_precisions_of_ntk_clipping_and_dropout():
    seen = {"ntk.": 0, "clip.": 0, "dropout.": 0}
    for pid, p in PROPERTIES.items():
        if pid.startswith("ntk."):
            assert p.precisions == ("float32", "float64"), pid
        if pid.startswith(("clip.", "dropout.")):
            assert p.precisions == ("bfloat16", "float32", "float64"), pid
        seen.update({k: seen[k] + 1 for k in seen if pid.startswith(k)})
    assert min(seen.values()) >= 3, seen
