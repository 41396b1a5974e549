"""The feed-forward (MLP, residual) error model at a declared arithmetic (issue 19): bit for bit the single-u
bound at accumulate = storage; a wider accumulation's gamma_k(u_acc) plus the pieces' roundings to storage;
float16's underflow terms, and none in the formats whose threshold the draws never reach."""
import numpy as np

import dlproof.properties.backprop  # noqa: F401 - registers the mlp.* properties
import dlproof.properties.residual  # noqa: F401 - registers the resnet.* properties
from dlproof.properties import feedforward as ff
from dlproof.properties import tolerances as tol
from dlproof.properties.backprop import mlp_forward_tol
from dlproof.properties.registry import PROPERTIES

X = np.array([[0.5, -2.0, 1.5]])
W = np.array([[1.0, 0.25, -0.5], [-3.0, 2.0, 0.125]])
B = np.array([0.75, -1.0])
MAG = np.abs(X) @ np.abs(W).T + np.abs(B)


def test_one_layer_bound_at_storage_accumulation_is_gamma_n_plus_1_of_the_magnitudes():
    u = tol.u_total("float32")
    want = tol.SAFETY * (tol.gamma(4, u) * MAG)  # one dot product of length n + 1 = 4 per entry, single u
    assert np.array_equal(mlp_forward_tol(X, [(W, B)], "tanh", tol.Arithmetic("float32", "float32")), want)


def test_wider_accumulation_adds_the_pieces_rounding_to_storage_and_float16_underflow():
    a = tol.Arithmetic("float16", "float32")
    u, ua = tol.u_total(a), tol.u_acc_total(a)
    eta = tol.eta_total("float16")
    v = X @ W.T + B
    # gamma_4(u_acc) |.|, 4 eta (products that may underflow), two pieces (x W^T, b) rounded and added in storage
    want = tol.SAFETY * (tol.gamma(4, ua) * MAG + 4 * eta + u * MAG + u * np.abs(v))
    np.testing.assert_allclose(mlp_forward_tol(X, [(W, B)], "tanh", a), want, rtol=1e-14)


def test_underflow_terms_only_where_the_draws_reach_the_threshold():
    assert ff.underflow(tol.Arithmetic("float16", "float32")) == (tol.eta_total("float16"), 0.0)
    for name in ("bfloat16", "float32", "float64"):
        assert ff.underflow(tol.Arithmetic(name, "float64" if name == "float64" else "float32")) == (0.0, 0.0)
    assert ff.underflow("float16", "flush_to_zero")[1] > 0  # the declared convention is read


def test_bad_arguments_are_refused():
    import pytest
    with pytest.raises(ValueError, match="subnormals"):
        ff.underflow("bfloat16", "ftz")
    with pytest.raises(ValueError, match="pieces"):
        tol.mixed_gamma(3, 0, 1e-3, 1e-7, pieces=0)


def test_mixed_gamma_is_gamma_k_plus_j_in_storage():
    u = tol.u_total("float32")
    assert tol.mixed_gamma(7, 3, u, u) == tol.gamma(10, u)
    ua = tol.u_total("float64")
    assert tol.mixed_gamma(7, 3, u, ua, pieces=2) == tol.gamma(7, ua) + tol.gamma(5, u)


def test_feed_forward_properties_run_at_16_bits():
    for pid in ("mlp.forward", "mlp.vjp", "mlp.vjp.fd", "resnet.forward", "resnet.vjp", "resnet.identity_path",
                "resnet.jacobian", "resnet.vjp.fd"):
        assert {"float16", "bfloat16"} <= set(PROPERTIES[pid].precisions), pid
    assert PROPERTIES["mlp.vjp.fd_own_dtype"].precisions == ("float32", "float64")
