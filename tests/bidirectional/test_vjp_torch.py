"""Bidirectional VJPs in torch: the torch reference (autograd through both runs, the flips and the concatenation)
and torch.nn's real bidirectional RNN / LSTM / GRU modules (autograd) against the NumPy reference (hand-composed by
bi.vjp_reversal), in float64; the property bi.<kind>.vjp passes on torch.nn in float32."""
import numpy as np
import pytest

pytest.importorskip("torch")

from dlproof.impl.adapters import torch_nn  # noqa: E402
from dlproof.impl.numpy_ref import bidirectional as BI  # noqa: E402
from dlproof.impl.torch_ref import bidirectional as TR  # noqa: E402
from dlproof.parameters import PARAMS  # noqa: E402
from dlproof.properties import harness  # noqa: E402
from dlproof.properties.registry import all_properties  # noqa: E402

from bidirectional.test_vjp import _args, _problem, _vjp  # noqa: E402


def _assert_same(got, exp, kind):
    """Float64 agreement of two computations of the same gradients: both are sums of O(T n) products of O(1)
    terms in float64, so they differ by a few ulps of O(1) numbers; 1e-12 absolute is 4500 ulps of 1."""
    assert sorted(got) == sorted(exp)
    for k in exp:
        if k.startswith("params"):
            assert sorted(got[k]) == sorted(PARAMS[kind])
            for name in PARAMS[kind]:
                np.testing.assert_allclose(got[k][name], exp[k][name], rtol=1e-12, atol=1e-12, err_msg=f"{k}[{name}]")
        else:
            np.testing.assert_allclose(got[k], exp[k], rtol=1e-12, atol=1e-12, err_msg=k)


CASES = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", None), ("gru", "reset_after"), ("gru", "reset_before")]


@pytest.mark.parametrize("kind,conv", CASES)
def test_torch_reference_equals_numpy(kind, conv):
    q = _problem(kind, seed=11)
    _assert_same(_vjp(TR, kind, conv, *_args(kind, q)), _vjp(BI, kind, conv, *_args(kind, q)), kind)


@pytest.mark.parametrize("kind,conv", [("rnn", "tanh"), ("rnn", "relu"), ("lstm", None), ("gru", "reset_after")])
def test_torch_nn_bidirectional_modules_equal_numpy(kind, conv):
    q = _problem(kind, seed=12)
    target = torch_nn.target("float64", conv) if kind == "rnn" else torch_nn.target("float64")
    got = getattr(target, f"{kind}_bi_vjp")(*_args(kind, q))
    _assert_same(got, _vjp(BI, kind, conv, *_args(kind, q)), kind)
    assert got["xs"].dtype == np.float64


def test_torch_nn_float32_returns_float32_and_refuses_a_bad_cotangent():
    q = _problem("gru", seed=13, dtype=np.float32)
    t = torch_nn.target("float32")
    args = _args("gru", q)
    g = t.gru_bi_vjp(*args)
    assert g["xs"].dtype == np.float32 and g["params_b"]["b_hn"].dtype == np.float32
    with pytest.raises(ValueError, match=r"gru_bi_vjp: argument 'd_ys' should have shape \(T, B, 2n\)"):
        t.gru_bi_vjp(*args[:5], args[5][..., :2], *args[6:])
    with pytest.raises(ValueError, match=r"lstm_bi_vjp: argument 'd_final_b' should be a pair"):
        lq = _problem("lstm", seed=13)
        la = _args("lstm", lq)
        t.lstm_bi_vjp(*la[:7], la[7][0])


@pytest.mark.slow
@pytest.mark.parametrize("pid", ["bi.rnn.vjp", "bi.lstm.vjp", "bi.gru.vjp"])
def test_property_passes_on_torch_nn_float32(pid, tmp_path):
    row = harness.run(all_properties()[pid], torch_nn.target("float32"), "torch", profile="ci", report_dir=tmp_path)
    assert row["verdict"] == "pass"
