"""The residual chapter's tests that need torch: the torch reference, the torch.nn adapter and the checks run on
them (the rest, torch-free: test_residual.py)."""
from __future__ import annotations

from dataclasses import replace
from functools import partial
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dlproof.derivations import oracle_residual as O  # noqa: E402
from dlproof.impl.numpy_ref import residual as NR  # noqa: E402
from dlproof.properties import harness, results  # noqa: E402
from dlproof.properties.assertions import PropertyFailure, TargetRaised  # noqa: E402
from dlproof.properties.registry import all_properties  # noqa: E402
from mutants import residual as FF  # noqa: E402
from dlproof.impl.adapters import torch_nn_residual as AD  # noqa: E402
from dlproof.impl.torch_ref import residual as TR  # noqa: E402
from residual.test_residual import ACTS, PROPS, _bad_cases, _problem, _target  # noqa: E402
from chapter_checks import check_float32_pure, check_matches_oracle, check_refused  # noqa: E402


@pytest.mark.parametrize("impl", ["numpy", "torch", "torch.nn"])
def test_counterexample_gradient_vanishes_in_every_impl(impl):
    """The refutation's point: n = 2, tanh, W1 = I, b1 = 0, W2 = -I, b2 = 0 at x = 0 gives dL/dx = 0 exactly."""
    _, vjp = IMPLS[impl]
    blocks = [(np.eye(2), np.zeros(2), -np.eye(2), np.zeros(2))]
    dx = vjp(np.zeros((1, 2)), blocks, "tanh", np.array([[1.0, -2.0]]))["x"]
    np.testing.assert_array_equal(dx, np.zeros((1, 2)))


IMPLS = {"numpy": (NR.residual, NR.residual_vjp), "torch": (TR.residual, TR.residual_vjp),
         "torch.nn": (AD.residual, AD.residual_vjp)}


@pytest.mark.parametrize("impl", sorted(IMPLS))
def test_float32_in_float32_out_and_inputs_unchanged(impl):
    fwd, vjp = IMPLS[impl]
    x, blocks, dy = _problem(4, dtype=np.float32)
    kw = {"dtype": "float32"} if impl == "torch.nn" else {}
    check_float32_pure(fwd, vjp, x, blocks, "sigmoid", dy, "blocks", **kw)


@pytest.mark.parametrize("impl", sorted(IMPLS))
@pytest.mark.parametrize("act", ACTS)
def test_impl_matches_oracle(impl, act):
    x, blocks, dy = _problem(1)
    check_matches_oracle(IMPLS[impl], (O.residual_forward, O.residual_vjp), x, blocks, act, dy, "blocks")


@pytest.mark.parametrize("case", _bad_cases(), ids=lambda c: c[0])
@pytest.mark.parametrize("impl", sorted(IMPLS))
def test_bad_input_is_refused_clearly(impl, case):
    _, args, exc, msg = case
    check_refused(IMPLS[impl][0], args, exc, msg, "residual")


@pytest.mark.parametrize("impl", sorted(IMPLS))
def test_bad_cotangent_is_refused(impl):
    x, blocks, dy = _problem(6)
    check_refused(IMPLS[impl][1], (x, blocks, "tanh", dy[:2]), ValueError, "argument 'dy' should have the output's shape")


TARGETS = {
    "numpy": _target("numpy-resnet", "float64", NR.residual, NR.residual_vjp),
    "numpy.float32": _target("numpy-resnet.float32", "float32", NR.residual, NR.residual_vjp),
    "torch.float32": _target("torch-resnet.float32", "float32", TR.residual, TR.residual_vjp),
    "torch.nn": _target("torch.nn-resnet", "float64", partial(AD.residual, dtype="float64"),
                        partial(AD.residual_vjp, dtype="float64")),
    "torch.nn.float32": _target("torch.nn-resnet.float32", "float32", partial(AD.residual, dtype="float32"),
                                partial(AD.residual_vjp, dtype="float32")),
}


@pytest.mark.parametrize("spec", sorted(TARGETS))
def test_properties_pass(spec, tmp_path):
    props = all_properties()
    for pid in PROPS:
        row = harness.run(props[pid], TARGETS[spec], spec, profile="ci", report_dir=tmp_path)
        assert row["verdict"] == "pass", row


BASE = TARGETS["numpy"]


NO_SKIP = replace(BASE, name="resnet-no-identity", residual=FF.residual_no_skip, residual_vjp=FF.residual_no_skip_vjp)


@pytest.mark.parametrize("pid, hint", [("resnet.forward", "identity term of each residual block looks missing"),
                                       ("resnet.identity_path", "identity (skip) term of the block is missing"),
                                       ("resnet.jacobian", "row "), ("resnet.vjp", "dx")])
def test_block_without_identity_is_caught(pid, hint, tmp_path):
    with pytest.raises((PropertyFailure, TargetRaised)) as info:
        harness.run(all_properties()[pid], NO_SKIP, "tests:no_skip", profile="ci", report_dir=tmp_path)
    msg = str(info.value)
    assert NO_SKIP.name in msg and pid in msg and "but should" in msg and hint in msg, msg
    assert results.ROWS[-1]["verdict"] == "fail"
