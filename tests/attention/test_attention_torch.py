"""The attention chapter's tests that need torch: the torch reference, the torch.nn adapter and the checks run on
them (the rest, torch-free: test_attention.py)."""
from functools import partial
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dlproof.derivations import oracle_attention as oracle  # noqa: E402
from dlproof.impl.numpy_ref import attention as NA  # noqa: E402
from dlproof.properties import harness  # noqa: E402
from dlproof.properties.registry import all_properties  # noqa: E402
from dlproof.impl.adapters import torch_nn_attention as AA  # noqa: E402
from dlproof.impl.torch_ref import attention as TA  # noqa: E402
from attention.test_attention import BAD, CAPS, PROPS, _G, _p, _target, quick  # noqa: E402


IMPLS = {"numpy": NA, "torch": TA, "torch.nn": None}


def _fns(impl):
    if impl == "torch.nn":
        return {c: partial(getattr(AA, c), dtype="float64") for c in CAPS}
    return {c: getattr(IMPLS[impl], c) for c in CAPS}


@pytest.mark.parametrize("impl", sorted(IMPLS))
def test_softmax_matches_oracle_at_huge_inputs(impl):
    f = _fns(impl)
    p = _p()
    x = p["x"] * 300 + 1e3  # exp(x) alone overflows float64
    np.testing.assert_allclose(f["softmax"](x), oracle.softmax(x), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(f["softmax_vjp"](x, p["ds"]), oracle.softmax_vjp(x, p["ds"]), rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("impl", sorted(IMPLS))
@pytest.mark.parametrize("Tq,Tk", [(3, 4), (4, 2)])
@pytest.mark.parametrize("causal", [False, True])
def test_attention_matches_oracle(impl, Tq, Tk, causal):
    f = _fns(impl)
    p = _p(1, Tq=Tq, Tk=Tk)
    np.testing.assert_allclose(f["attention"](p["q"], p["k"], p["v"], causal), oracle.attention(p["q"], p["k"], p["v"], causal),
                               rtol=1e-12, atol=1e-13)
    got = f["attention_vjp"](p["q"], p["k"], p["v"], causal, p["dy"])
    want = oracle.attention_vjp(p["q"], p["k"], p["v"], causal, p["dy"])
    for n in "qkv":
        np.testing.assert_allclose(got[n], want[n], rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("impl", sorted(IMPLS))
@pytest.mark.parametrize("causal", [False, True])
def test_mha_matches_oracle(impl, causal):
    f = _fns(impl)
    p = _p(2)
    args = (p["query"], p["key"], p["value"], p["params"], 3, causal)
    np.testing.assert_allclose(f["mha"](*args), oracle.mha(*args), rtol=1e-11, atol=1e-12)
    got, want = f["mha_vjp"](*args, p["dY"]), oracle.mha_vjp(*args, p["dY"])
    for n in ("query", "key", "value"):
        np.testing.assert_allclose(got[n], want[n], rtol=1e-10, atol=1e-12)
    for n in oracle.PARAMS:
        np.testing.assert_allclose(got["params"][n], want["params"][n], rtol=1e-10, atol=1e-12)


def test_float32_in_float32_out():
    p = _p(4)
    f32 = {k: (v.astype(np.float32) if isinstance(v, np.ndarray) else {n: a.astype(np.float32) for n, a in v.items()})
           for k, v in p.items()}
    for f in (_fns("numpy"), _fns("torch"), {c: partial(getattr(AA, c), dtype="float32") for c in CAPS}):
        assert f["softmax"](f32["x"]).dtype == np.float32
        assert f["attention"](f32["q"], f32["k"], f32["v"], True).dtype == np.float32
        assert all(a.dtype == np.float32 for a in f["attention_vjp"](f32["q"], f32["k"], f32["v"], True, f32["dy"]).values())
        out = f["mha_vjp"](f32["query"], f32["key"], f32["value"], f32["params"], 2, False, f32["dY"])
        assert out["query"].dtype == np.float32 and all(a.dtype == np.float32 for a in out["params"].values())


@pytest.mark.parametrize("impl", sorted(IMPLS))
@pytest.mark.parametrize("fn,args,exc,msg", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input_is_rejected_clearly(impl, fn, args, exc, msg):
    with pytest.raises(exc, match=f"{fn}: .*{msg}"):
        _fns(impl)[fn](*args)


def test_adapter_rejects_unknown_dtype_and_foreign_modules():
    with pytest.raises(ValueError, match="argument 'dtype' should be one of"):
        AA.attention(_G["q"], _G["k"], _G["v"], False, dtype="int8")
    with pytest.raises(ValueError, match="kdim/vdim.*add_bias_kv"):
        AA.module_params(torch.nn.MultiheadAttention(4, 2, kdim=3, vdim=3, add_bias_kv=True, batch_first=True))
    with pytest.raises(TypeError, match="should be a torch.nn.MultiheadAttention"):
        AA.module_params(torch.nn.Linear(2, 2))


def test_adapter_in_proj_layout_round_trips_a_user_module():
    """A user's module read back with module_params gives the protocol's params: the oracle reproduces its output."""
    torch.manual_seed(0)
    mod = torch.nn.MultiheadAttention(4, 2, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        mod.in_proj_bias.uniform_(-1, 1)
    p = AA.module_params(mod)
    q, k, v = (np.random.default_rng(i).standard_normal((2, 3, 4)) for i in range(3))
    with torch.no_grad():
        y = mod(*(torch.tensor(a) for a in (q, k, v)), need_weights=False)[0].numpy()
    np.testing.assert_allclose(y, oracle.mha(q, k, v, p, 2, False), rtol=1e-12, atol=1e-12)
    assert set(AA.capabilities("float64")) == set(CAPS)


@pytest.mark.parametrize("which", ["numpy:float32", "torch:float64", "torch.nn:float32", "torch.nn:float64"])
def test_every_attn_property_passes(which, quick):
    impl, dtype = which.split(":")
    target = AA.target(dtype) if impl == "torch.nn" else _target(IMPLS[impl], dtype)
    for pid in PROPS:
        row = harness.run(all_properties()[pid], target, which, profile=quick)
        assert row["verdict"] == "pass" and row["examples"] > 0, row
