"""Layer normalization with torch: the torch reference (autograd) and torch.nn.LayerNorm (fresh modules and a
user's module through from_module) against the float64 oracle and the properties."""
from __future__ import annotations

from functools import partial

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dlproof.derivations import oracle_layernorm as O  # noqa: E402
from dlproof.impl.adapters import torch_nn_layernorm as A  # noqa: E402
from dlproof.impl.torch_ref import layernorm as TL  # noqa: E402
from dlproof.properties import harness  # noqa: E402
from dlproof.properties import layernorm as PL  # noqa: E402
from dlproof.properties.registry import all_properties  # noqa: E402
from dlproof.target import Target  # noqa: E402

from chapter_checks import check_refused  # noqa: E402
from layernorm.test_layernorm import PROPS, _small  # noqa: E402


def _compare(fwd, vjp, dtype, affine, lead=(2, 3)):
    """Forward and gradients against the oracle within the property's error model of ``dtype``."""
    x, g, b, eps, dy = _small(seed=5, lead=lead, F=5, eps=1e-3, affine=affine)
    cast = lambda a: None if a is None else a.astype(dtype)  # noqa: E731
    x, g, b, dy = cast(x), cast(g), cast(b), cast(dy)
    y = fwd(x, g, b, eps)
    assert y.dtype == np.dtype(dtype) and y.shape == x.shape
    assert np.all(np.abs(y - O.layernorm(x, g, b, eps)) <= PL.forward_tol(x, g, b, eps, dtype))
    got, want, t = vjp(x, g, b, eps, dy), O.layernorm_vjp(x, g, b, eps, dy), PL.vjp_tol(x, g, eps, dy, dtype)
    assert np.all(np.abs(got["x"] - want["x"]) <= t["x"])
    for k in ("gamma", "beta"):
        if affine:
            assert got[k].dtype == np.dtype(dtype) and np.all(np.abs(got[k] - want[k]) <= t[k]), k
        else:
            assert got[k] is None


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("affine", [True, False])
def test_torch_reference_and_torch_nn_match_the_oracle(dtype, affine):
    _compare(TL.layernorm, TL.layernorm_vjp, dtype, affine)
    caps = A.capabilities(dtype)
    _compare(caps["layernorm"], caps["layernorm_vjp"], dtype, affine, lead=(4,))


def test_torch_nn_validates_as_the_reference():
    check_refused(A.layernorm, (np.ones((2, 3)), np.ones(3), None, 1e-5), ValueError, "layernorm:", "both given")
    check_refused(partial(A.layernorm, dtype="int8"), (np.ones((2, 3)), None, None, 1e-5), ValueError, "'dtype'")


def test_from_module_runs_a_copy_with_the_calls_eps_and_params():
    mod = torch.nn.LayerNorm(4, eps=0.25)
    w0 = mod.weight.detach().clone()
    t = A.from_module(mod, "float64")
    x, g, b, eps, dy = _small(seed=6, lead=(3,), F=4, eps=1e-3)
    np.testing.assert_allclose(t.layernorm(x, g, b, eps), O.layernorm(x, g, b, eps), rtol=1e-12, atol=1e-13)
    got = t.layernorm_vjp(x, g, b, eps, dy)
    np.testing.assert_allclose(got["gamma"], O.layernorm_vjp(x, g, b, eps, dy)["gamma"], rtol=1e-11, atol=1e-13)
    assert mod.eps == 0.25 and torch.equal(mod.weight, w0) and mod.weight.dtype == torch.float32  # untouched
    assert PL.fixed(t) == {"F": 4, "affine": True}


def test_from_module_refuses_what_it_cannot_honor():
    check_refused(A.from_module, (torch.nn.Linear(2, 2),), ValueError, "should be a torch.nn.LayerNorm")
    check_refused(A.from_module, (torch.nn.LayerNorm((2, 3)),), ValueError, "normalizes over 2 axes")
    check_refused(A.from_module, (torch.nn.LayerNorm(3, bias=False),), ValueError, "bias=False")
    t = A.from_module(torch.nn.LayerNorm(3, elementwise_affine=False))
    check_refused(t.layernorm, (np.ones((2, 4), np.float32), None, None, 1e-5), ValueError, "F = 3", "F = 4")
    check_refused(t.layernorm, (np.ones((2, 3), np.float32), np.ones(3, np.float32), np.ones(3, np.float32), 1e-5),
                  ValueError, "elementwise_affine=False")


def test_from_module_target_passes_with_its_fixed_size(tmp_path):
    t = A.from_module(torch.nn.LayerNorm(3, elementwise_affine=False), "float32")
    row = harness.run(all_properties()["ln.forward"], t, "module", profile="dev", report_dir=tmp_path)
    assert row["verdict"] == "pass", row


@pytest.mark.slow
@pytest.mark.parametrize("make", ["torch_ref", "torch_nn"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_properties_pass_on_torch(make, dtype, tmp_path):
    caps = ({"layernorm": TL.layernorm, "layernorm_vjp": TL.layernorm_vjp} if make == "torch_ref"
            else A.capabilities(dtype))
    target = Target(name=f"{make}.{dtype}", dtype=dtype, **caps)
    for pid in PROPS:
        row = harness.run(all_properties()[pid], target, make, profile="ci", report_dir=tmp_path)
        assert row["verdict"] == "pass", row
