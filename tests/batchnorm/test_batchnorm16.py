"""The batch-norm error model at a declared arithmetic (issue 19): the batch statistics' bounds are bit for bit
the single-u ones at accumulate = storage, gamma_{2N}(u_acc) + gamma_3(u) with a wider accumulation."""
import numpy as np

from dlproof.properties import tolerances as tol
from dlproof.properties.batchnorm import tolerances as tbn

X = np.random.default_rng(2).standard_normal((6, 3)) * 3 + 1


def test_mean_bound_at_storage_accumulation_is_the_single_u_bound():
    u = tol.u_total("float32")
    want = tol.gamma(2 * 6 + 2, u) * (np.abs(X).max(axis=0) + 3 * X.std(axis=0))
    assert np.array_equal(tbn.stable_mean_err(X, u), want)
    assert np.array_equal(tbn.train_stats_bound(X, u, "stable", u)[2], want)


def test_mean_bound_with_a_wider_accumulation():
    u, ua = tol.u_total("bfloat16"), tol.u_total("float32")
    want = (tol.gamma(12, ua) + tol.gamma(3, u)) * (np.abs(X).max(axis=0) + 3 * X.std(axis=0))
    np.testing.assert_allclose(tbn.stable_mean_err(X, u, ua), want, rtol=1e-14)
    a = tol.Arithmetic("bfloat16", "float32")
    t_wide = tbn.vjp_tol(X, np.ones(3), 1e-3, X, a)["beta"]
    assert np.all(t_wide < tbn.vjp_tol(X, np.ones(3), 1e-3, X, "bfloat16")["beta"])


def test_batchnorm_properties_run_at_bfloat16_not_float16():
    import dlproof.properties.batchnorm  # noqa: F401 - registers the bn.* properties
    from dlproof.properties.registry import PROPERTIES
    bn = [p for pid, p in PROPERTIES.items() if pid.startswith("bn.")]
    assert bn and all(p.precisions == ("bfloat16", "float32", "float64") for p in bn)
