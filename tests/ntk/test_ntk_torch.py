"""The ntk chapter's tests that need torch: the torch reference, the torch.nn adapter and the checks run on
them (the rest, torch-free: test_ntk.py)."""
from functools import partial
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dlproof.derivations import oracle_ntk as oracle  # noqa: E402
from dlproof.impl.numpy_ref import ntk as NN  # noqa: E402
from dlproof.properties import harness  # noqa: E402
from dlproof.properties.registry import all_properties  # noqa: E402
from dlproof.target import Target  # noqa: E402
from dlproof.impl.adapters import torch_nn_ntk as AN  # noqa: E402
from dlproof.impl.torch_ref import ntk as TN  # noqa: E402
from ntk.test_ntk import BAD, PROPS, _A, _W, _X1, _X2, _fd_gradient, _problem  # noqa: E402


IMPLS = {"numpy": NN.empirical_ntk, "torch": TN.empirical_ntk, "torch.nn": partial(AN.empirical_ntk, dtype="float64")}


@pytest.mark.parametrize("impl", sorted(IMPLS))
def test_kernel_matches_oracle_and_finite_differences(impl):
    X1, X2, W, a = _problem()
    K = IMPLS[impl](X1, X2, W, a)
    assert K.dtype == np.float64 and K.shape == (3, 2)
    np.testing.assert_allclose(K, oracle.empirical(X1, X2, W, a), rtol=1e-12, atol=1e-12)
    J1 = np.stack([_fd_gradient(x, W, a) for x in X1])
    J2 = np.stack([_fd_gradient(x, W, a) for x in X2])
    np.testing.assert_allclose(oracle.empirical(X1, X2, W, a), J1 @ J2.T, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("impl", sorted(IMPLS))
def test_relu_prime_at_zero_is_zero(impl):
    """A zero row of W: every pre-activation of that unit is exactly 0, so it contributes nothing (relu'(0) = 0)."""
    X1, X2, W, a = _problem(2, m=3)
    W[0] = 0.0
    np.testing.assert_allclose(IMPLS[impl](X1, X2, W, a) * 3, oracle.empirical(X1, X2, W[1:], a[1:]) * 2, rtol=1e-12)


@pytest.mark.parametrize("impl", ["numpy", "torch", "torch.nn"])
def test_float32_in_float32_out_and_empty_batches(impl):
    fn = {"numpy": NN.empirical_ntk, "torch": TN.empirical_ntk, "torch.nn": partial(AN.empirical_ntk, dtype="float32")}[impl]
    X1, X2, W, a = (v.astype(np.float32) for v in _problem(3))
    assert fn(X1, X2, W, a).dtype == np.float32
    assert fn(X1[:0], X2, W, a).shape == (0, 2)


@pytest.mark.parametrize("impl", sorted(IMPLS))
@pytest.mark.parametrize("over,msg", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_rejects_bad_input(impl, over, msg):
    kw = dict(X1=_X1, X2=_X2, W=_W, a=_A)
    kw.update(over)
    with pytest.raises(ValueError, match="empirical_ntk: .*" + msg):
        IMPLS[impl](kw["X1"], kw["X2"], kw["W"], kw["a"])


def test_adapter_rejects_unknown_dtype():
    with pytest.raises(ValueError, match="argument 'dtype' should be one of"):
        AN.empirical_ntk(_X1, _X2, _W, _A, dtype="int8")


def test_inputs_are_not_mutated():
    args = [v.copy() for v in (_X1, _X2, _W, _A)]
    for fn in IMPLS.values():
        fn(*args)
        for v, w in zip(args, (_X1, _X2, _W, _A)):
            np.testing.assert_array_equal(v, w)


@pytest.mark.parametrize("name,dtype", [("numpy", "float64"), ("numpy", "float32"), ("torch", "float64"),
                                        ("torch", "float32"), ("torch.nn", "float32"), ("torch.nn", "float64")])
def test_every_ntk_property_passes(name, dtype):
    if name == "torch.nn":
        target = Target(name=f"torch.nn ntk {dtype}", dtype=dtype, **AN.capabilities(dtype))
    else:
        target = Target(name=f"{name} ntk {dtype}", dtype=dtype, empirical_ntk=IMPLS[name])
    props = all_properties()
    for pid in PROPS:
        row = harness.run(props[pid], target, f"{name}:{dtype}", profile="ci")
        assert row["verdict"] == "pass" and row["examples"] > 0, row
