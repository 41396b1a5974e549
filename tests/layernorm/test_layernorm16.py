"""The layer-norm error model at a declared arithmetic (issue 19): bit for bit the single-u bound at
accumulate = storage; the sums over rows take the accumulator's gamma when it is wider."""
import numpy as np

from dlproof.properties import layernorm as LN
from dlproof.properties import tolerances as tol

RNG = np.random.default_rng(11)
X = RNG.standard_normal((3, 4))
DY = RNG.standard_normal((3, 4))
G = RNG.uniform(0.5, 2.0, 4)


def test_dbeta_bound_at_storage_accumulation_is_the_single_u_bound():
    u = tol.u_total("float32")
    want = tol.SAFETY * tol.gamma(3, u) * np.abs(DY).sum(axis=0)  # a sum over R = 3 rows
    got = LN.vjp_tol(X, G, 1e-5, DY, tol.Arithmetic("float32", "float32"))["beta"]
    assert np.array_equal(got, want)


def test_dbeta_bound_with_a_wider_accumulation():
    a = tol.Arithmetic("bfloat16", "float32")
    want = tol.SAFETY * (tol.gamma(3, tol.u_acc_total(a)) + tol.gamma(1, tol.u_total(a))) * np.abs(DY).sum(axis=0)
    np.testing.assert_allclose(LN.vjp_tol(X, G, 1e-5, DY, a)["beta"], want, rtol=1e-14)


def test_wider_accumulation_never_loosens_the_forward_bound():
    narrow = LN.forward_tol(X, G, None, 1e-3, "bfloat16")
    wide = LN.forward_tol(X, G, None, 1e-3, tol.Arithmetic("bfloat16", "float32"))
    assert np.all(wide <= narrow) and np.any(wide < narrow)


def test_layernorm_properties_run_at_bfloat16_not_float16():
    from dlproof.properties.registry import PROPERTIES
    for pid in ("ln.forward", "ln.vjp", "ln.grad.sum_zero", "ln.invariance.scale"):
        assert PROPERTIES[pid].precisions == ("bfloat16", "float32", "float64"), pid
    assert PROPERTIES["ln.invariance.shift"].precisions == ("float32", "float64")  # x + c exact needs 23 bits
