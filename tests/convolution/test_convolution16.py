"""The convolution error model at a declared arithmetic (issue 19): bit for bit the single-u bound at
accumulate = storage; a wider accumulation with a bias added in storage takes a second piece."""
import numpy as np

from dlproof.derivations import oracle_convolution as oracle
from dlproof.properties import convolution as C
from dlproof.properties import tolerances as tol
from dlproof.properties.registry import PROPERTIES

RNG = np.random.default_rng(5)
X = RNG.standard_normal((1, 2, 6))
W = RNG.standard_normal((3, 2, 2))
B = RNG.standard_normal(3)
GEOM = ((1,), (1,), (1,), 1)


def test_forward_bound_at_storage_accumulation_is_the_single_u_bound():
    u = tol.u_total("float32")
    mag = oracle.forward(X, W, B, *GEOM, absolute=True)
    want = tol.SAFETY * tol.gamma(5, u) * mag + C.FLOOR  # m + 1 = 2 * 2 + 1 terms
    assert np.array_equal(C.forward_tol(X, W, B, *GEOM, tol.Arithmetic("float32", "float32")), want)


def test_wider_accumulation_counts_the_bias_as_a_second_piece():
    a = tol.Arithmetic("bfloat16", "float32")
    u, ua = tol.u_total(a), tol.u_acc_total(a)
    for b, pieces in ((B, 2), (None, 1)):
        mag = oracle.forward(X, W, b, *GEOM, absolute=True)
        want = tol.SAFETY * (tol.gamma(5, ua) + tol.gamma(pieces, u)) * mag + C.FLOOR
        np.testing.assert_allclose(C.forward_tol(X, W, b, *GEOM, a), want, rtol=1e-14)


def test_float16_adds_an_underflow_term_per_product():
    a = tol.Arithmetic("float16", "float32")
    t = C.forward_tol(0 * X, W, None, *GEOM, a)  # zero magnitudes: only the underflow term is left
    np.testing.assert_allclose(t, tol.SAFETY * 5 * tol.eta_total("float16") + C.FLOOR, rtol=1e-14)


def test_convolution_properties_run_at_16_bits():
    for pid in ("conv1d.forward", "conv2d.forward", "conv1d.vjp", "conv2d.vjp", "conv.output_size", "conv.equivariance"):
        assert {"float16", "bfloat16"} <= set(PROPERTIES[pid].precisions), pid
    assert PROPERTIES["conv.receptive_field"].precisions == ("float32", "float64")
