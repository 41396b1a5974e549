"""The backprop chapter's tests that need torch: the torch reference, the torch.nn adapter and the checks run on
them (the rest, torch-free: test_backprop.py)."""
from __future__ import annotations

from dataclasses import replace
from functools import partial
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dlproof.derivations import oracle_backprop as O  # noqa: E402
from dlproof.impl.numpy_ref import backprop as NM  # noqa: E402
from dlproof.properties import harness, results  # noqa: E402
from dlproof.properties.assertions import PropertyFailure, TargetRaised  # noqa: E402
from dlproof.properties.registry import all_properties  # noqa: E402
from mutants import backprop as FF  # noqa: E402
from dlproof.impl.adapters import torch_nn_backprop as AD  # noqa: E402
from dlproof.impl.torch_ref import backprop as TM  # noqa: E402
from backprop.test_backprop import ACTS, PROPS, _bad_cases, _problem, _target  # noqa: E402
from chapter_checks import check_float32_pure, check_matches_oracle, check_refused  # noqa: E402


IMPLS = {"numpy": (NM.mlp, NM.mlp_vjp), "torch": (TM.mlp, TM.mlp_vjp),
         "torch.nn": (AD.mlp, AD.mlp_vjp)}


@pytest.mark.parametrize("impl", sorted(IMPLS))
@pytest.mark.parametrize("act", ACTS)
def test_impl_matches_oracle(impl, act):
    x, layers, dy = _problem(1)
    check_matches_oracle(IMPLS[impl], (O.mlp_forward, O.mlp_vjp), x, layers, act, dy, "layers")


@pytest.mark.parametrize("impl", sorted(IMPLS))
def test_float32_in_float32_out_and_inputs_unchanged(impl):
    fwd, vjp = IMPLS[impl]
    x, layers, dy = _problem(4, dtype=np.float32)
    kw = {"dtype": "float32"} if impl == "torch.nn" else {}
    check_float32_pure(fwd, vjp, x, layers, "relu", dy, "layers", **kw)


def test_relu_derivative_at_zero_is_zero():
    layers = [(np.eye(2), np.zeros(2)), (np.ones((1, 2)), np.zeros(1))]
    x, dy = np.array([[0.0, 1.0]]), np.ones((1, 1))
    for vjp in (NM.mlp_vjp, TM.mlp_vjp, AD.mlp_vjp):
        np.testing.assert_array_equal(vjp(x, layers, "relu", dy)["x"], [[0.0, 1.0]])


@pytest.mark.parametrize("case", _bad_cases(), ids=lambda c: c[0])
@pytest.mark.parametrize("impl", sorted(IMPLS))
def test_bad_input_is_refused_clearly(impl, case):
    _, args, exc, msg = case
    check_refused(IMPLS[impl][0], args, exc, msg, "mlp")


@pytest.mark.parametrize("impl", sorted(IMPLS))
def test_bad_cotangent_is_refused(impl):
    x, layers, dy = _problem(6)
    check_refused(IMPLS[impl][1], (x, layers, "tanh", dy[:, :1]), ValueError, "argument 'dy' should have the output's shape")


TARGETS = {
    "numpy": _target("numpy-mlp", "float64", NM.mlp, NM.mlp_vjp),
    "numpy.float32": _target("numpy-mlp.float32", "float32", NM.mlp, NM.mlp_vjp),
    "torch.float32": _target("torch-mlp.float32", "float32", TM.mlp, TM.mlp_vjp),
    "torch.nn": _target("torch.nn-mlp", "float64", partial(AD.mlp, dtype="float64"), partial(AD.mlp_vjp, dtype="float64")),
    "torch.nn.float32": _target("torch.nn-mlp.float32", "float32", partial(AD.mlp, dtype="float32"),
                                partial(AD.mlp_vjp, dtype="float32")),
}


@pytest.mark.parametrize("spec", sorted(TARGETS))
def test_properties_pass(spec, tmp_path):
    props = all_properties()
    for pid in PROPS:
        row = harness.run(props[pid], TARGETS[spec], spec, profile="ci", report_dir=tmp_path)
        assert row["verdict"] == "pass", row


BASE = TARGETS["numpy"]


MUTANTS = {
    "no_dphi": (replace(BASE, name="mlp-no-dphi", mlp_vjp=FF.mlp_vjp_bug("no_dphi")), "mlp.vjp", "dW_"),
    "phi_not_dphi": (replace(BASE, name="mlp-phi-not-dphi", mlp_vjp=FF.mlp_vjp_bug("phi_not_dphi")), "mlp.vjp", "dW_"),
    "transposed": (replace(BASE, name="mlp-dW-transposed", mlp_vjp=FF.mlp_vjp_bug("transposed")), "mlp.vjp", "dW_"),
    "a_l": (replace(BASE, name="mlp-dW-a_l", mlp_vjp=FF.mlp_vjp_bug("a_l")), "mlp.vjp", "dW_"),
    "last_activated": (replace(BASE, name="mlp-last-activated", mlp=FF.mlp_last_activated), "mlp.forward",
                       "applied to the last layer's output"),
}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_is_caught(name, tmp_path):
    target, pid, hint = MUTANTS[name]
    with pytest.raises((PropertyFailure, TargetRaised)) as info:
        harness.run(all_properties()[pid], target, f"tests:{name}", profile="ci", report_dir=tmp_path)
    msg = str(info.value)
    assert target.name in msg and pid in msg and "but should" in msg and hint in msg, msg
    assert results.ROWS[-1]["verdict"] == "fail"
