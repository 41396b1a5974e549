"""The dropout chapter's tests that need torch: the torch reference, the torch.nn adapter and the checks run on
them (the rest, torch-free: test_dropout.py)."""
from __future__ import annotations

import random
from functools import partial
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dlproof.impl.adapters import torch_nn_dropout as A  # noqa: E402
from dlproof.impl.numpy_ref import dropout as N  # noqa: E402
from dlproof.properties import harness  # noqa: E402
from dlproof.properties.registry import all_properties  # noqa: E402
from dlproof.target import Target  # noqa: E402
from dropout.test_dropout import BAD_FORWARD, PROPS, _torch, _torch_ref  # noqa: E402


def _impl(name: str, dtype="float64"):
    """(forward, vjp) of the implementation ``name``; the torch ones skip without torch."""
    if name == "numpy":
        return N.dropout, N.dropout_vjp
    return _impls(dtype)[name]


def _impls(dtype="float64"):
    T = _torch_ref()
    return {
        "numpy": (N.dropout, N.dropout_vjp),
        "torch": (T.dropout, T.dropout_vjp),
        "torch.nn.Dropout": (partial(A.dropout, dtype=dtype), partial(A.dropout_vjp, dtype=dtype)),
        "F.dropout": (partial(A.functional_dropout, dtype=dtype), partial(A.functional_dropout_vjp, dtype=dtype)),
    }


@pytest.mark.parametrize("name", ["numpy", "torch", "torch.nn.Dropout", "F.dropout"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rule_inference_and_vjp(name, dtype):
    fwd, vjp = _impl(name, dtype)
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((4, 50)) + 3.0).astype(dtype)  # no zeros
    dy = rng.standard_normal((4, 50)).astype(dtype)
    p, q = 0.3, 0.7
    y = fwd(x, p, True, 11)
    assert isinstance(y, np.ndarray) and y.dtype == np.dtype(dtype) and y.shape == x.shape
    m = y != 0
    u = np.finfo(dtype).eps
    assert np.allclose(y[m], x[m] / q, rtol=4 * u, atol=0)
    assert 0 < m.sum() < m.size
    np.testing.assert_array_equal(fwd(x, p, True, 11), y)  # same seed, same mask
    y_inf = fwd(x, p, False, 11)
    np.testing.assert_array_equal(y_inf, x)
    assert not np.shares_memory(y_inf, x)
    dx = vjp(x, p, 11, dy)
    assert dx.dtype == np.dtype(dtype)
    np.testing.assert_allclose(dx, np.where(m, dy.astype(np.float64) / q, 0.0), rtol=4 * u, atol=0)
    np.testing.assert_array_equal(fwd(x, 0.0, True, 5), x)  # p = 0: every entry kept, scale 1
    assert fwd(x[0, 0][()], p, True, 1).shape == ()  # a 0-d array in, a 0-d array out
    assert fwd(np.ones((0, 3), dtype), p, True, 1).shape == (0, 3)


@pytest.mark.parametrize("functional", [False, True])
def test_adapters_are_torch_with_the_seed(functional):
    """The adapter's y equals torch's own dropout run after seeding torch directly (another route)."""
    torch = _torch()
    x = np.linspace(0.5, 3.0, 64).reshape(8, 8)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(9)
        xt = torch.tensor(x, dtype=torch.float32)
        want = (torch.nn.functional.dropout(xt, 0.4, True) if functional else torch.nn.Dropout(0.4)(xt)).numpy()
    got = (A.functional_dropout if functional else A.dropout)(x, 0.4, True, 9, dtype="float32")
    np.testing.assert_array_equal(got, want)
    # nn.Dropout and F.dropout draw the same mask from the same seed
    np.testing.assert_array_equal(A.dropout(x, 0.4, True, 9), A.functional_dropout(x, 0.4, True, 9))


@pytest.mark.parametrize("name", ["numpy", "torch", "torch.nn.Dropout", "F.dropout"])
def test_callers_rng_state_untouched(name):
    fwd, vjp = _impl(name)
    torch = _torch()
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    before = (random.getstate(), np.random.get_state(legacy=False), torch.random.get_rng_state().clone())
    x = np.ones((5, 7))
    fwd(x, 0.5, True, 123)
    fwd(x, 0.5, False, 123)
    vjp(x, 0.5, 123, x)
    after = (random.getstate(), np.random.get_state(legacy=False), torch.random.get_rng_state())
    assert before[0] == after[0]
    assert before[1]["state"]["pos"] == after[1]["state"]["pos"]
    np.testing.assert_array_equal(before[1]["state"]["key"], after[1]["state"]["key"])
    assert torch.equal(before[2], after[2])


@pytest.mark.parametrize("name", ["numpy", "torch", "torch.nn.Dropout", "F.dropout"])
@pytest.mark.parametrize("bad,exc,match", BAD_FORWARD)
def test_forward_validation(name, bad, exc, match):
    fwd, _ = _impl(name)
    args = dict(x=np.ones(3), p=0.5, training=True, seed=0)
    args.update(bad)
    with pytest.raises(exc, match=match) as info:
        fwd(args["x"], args["p"], args["training"], args["seed"])
    assert "dropout" in str(info.value).lower()


@pytest.mark.parametrize("name", ["numpy", "torch", "torch.nn.Dropout", "F.dropout"])
def test_vjp_validation(name):
    _, vjp = _impl(name)
    with pytest.raises(ValueError, match="'dy' should have x's shape"):
        vjp(np.ones(3), 0.5, 0, np.ones(4))
    with pytest.raises(ValueError, match="'dy'.*finite"):
        vjp(np.ones(3), 0.5, 0, np.array([1.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="'p'"):
        vjp(np.ones(3), 1.0, 0, np.ones(3))


def test_torch_seed_range_and_adapter_dtype():
    T = _torch_ref()
    for fwd in (T.dropout, A.dropout, A.functional_dropout):
        with pytest.raises(ValueError, match="'seed' should be < 18446744073709551616"):
            fwd(np.ones(3), 0.5, True, 2 ** 64)
    with pytest.raises(ValueError, match="'dtype'"):
        A.dropout(np.ones(3), 0.5, True, 0, dtype="int8")
    with pytest.raises(ValueError, match="dtype"):
        A.capabilities("int8")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("functional", [False, True])
def test_adapters_pass_every_property(dtype, functional):
    _torch()
    target = Target(name=f"torch.nn dropout ({'F' if functional else 'module'}, {dtype})", dtype=dtype,
                    **A.capabilities(dtype, functional))
    props = all_properties()
    for pid in PROPS:
        row = harness.run(props[pid], target, "tests.test_dropout:adapter", profile="dev", seed_value=0)
        assert row["verdict"] == "pass" and row["examples"] > 0
