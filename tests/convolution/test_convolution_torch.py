"""The convolution chapter's tests that need torch: the torch reference, the torch.nn adapter and the checks run on
them (the rest, torch-free: test_convolution.py)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dlproof.derivations import oracle_convolution as oracle  # noqa: E402
from dlproof.impl.numpy_ref import convolution as NC  # noqa: E402
from dlproof.properties import harness  # noqa: E402
from dlproof.properties.registry import all_properties  # noqa: E402
from dlproof.impl.adapters import torch_nn_convolution as AC  # noqa: E402
from dlproof.impl.torch_ref import convolution as TC  # noqa: E402
from convolution.test_convolution import BAD, CAPS, CASES, PROPS, _B, _W, _X, _call, _case, _target  # noqa: E402


def _impl(name, nd, dtype="float64"):
    mod = {"numpy": NC, "torch": TC}.get(name)
    caps = AC.capabilities(dtype) if mod is None else {c: getattr(mod, c) for c in CAPS}
    return caps[f"conv{nd}d"], caps[f"conv{nd}d_vjp"]


@pytest.mark.parametrize("impl", ["numpy", "torch", "torch.nn"])
@pytest.mark.parametrize("ci", range(len(CASES)))
def test_references_match_oracle(impl, ci):
    c = CASES[ci]
    x, w, b, dy, args, geom = _case(c, ci)
    fwd, vjp = _impl(impl, c["nd"])
    y = fwd(x, w, b, *args)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, oracle.forward(x, w, b, *geom), rtol=1e-12, atol=1e-12)
    g, want = vjp(x, w, b, *args, dy), oracle.vjp(x, w, b, *geom, dy)
    for k in ("x", "w"):
        np.testing.assert_allclose(g[k], want[k], rtol=1e-12, atol=1e-12)
    if b is None:
        assert g["b"] is None
    else:
        np.testing.assert_allclose(g["b"], want["b"], rtol=1e-12, atol=1e-12)


def test_float32_in_float32_out_and_inputs_untouched():
    x, w, b, dy, args, _ = _case(CASES[2], 3)
    x, w, b, dy = (a.astype(np.float32) for a in (x, w, b, dy))
    saved = [a.copy() for a in (x, w, b, dy)]
    for impl in ("numpy", "torch", "torch.nn"):
        fwd, vjp = _impl(impl, 2, "float32")
        assert fwd(x, w, b, *args).dtype == np.float32
        assert all(v.dtype == np.float32 for v in vjp(x, w, b, *args, dy).values())
    assert all(np.array_equal(a, s) for a, s in zip((x, w, b, dy), saved))


def test_pairs_and_ints_agree_in_2d():
    x, w, b, _, _, _ = _case(CASES[3], 4)
    for impl in ("numpy", "torch", "torch.nn"):
        fwd, _ = _impl(impl, 2)
        np.testing.assert_array_equal(fwd(x, w, b, 2, 1, 1, 1), fwd(x, w, b, (2, 2), [1, 1], (1, 1), 1))


@pytest.mark.parametrize("impl", ["numpy", "torch", "torch.nn"])
@pytest.mark.parametrize("over,exc,msg", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_rejects_bad_input(impl, over, exc, msg):
    fwd, vjp = _impl(impl, 1)
    with pytest.raises(exc, match="conv1d: .*" + msg):
        _call(fwd, over)
    with pytest.raises(exc, match="conv1d_vjp: .*" + msg):
        _call(vjp, over, with_dy=True)


@pytest.mark.parametrize("impl", ["numpy", "torch", "torch.nn"])
def test_rejects_bad_dy_and_2d_pairs(impl):
    _, vjp = _impl(impl, 1)
    with pytest.raises(ValueError, match=r"conv1d_vjp: argument 'dy' should have shape .* = \(1, 2, 4\), got \(1, 2, 5\)"):
        _call(vjp, dict(dy=np.ones((1, 2, 5))), with_dy=True)
    with pytest.raises(ValueError, match="conv1d_vjp: argument 'dy' should be finite"):
        _call(vjp, dict(dy=np.full((1, 2, 4), np.nan)), with_dy=True)
    fwd2, _ = _impl(impl, 2)
    x, w = np.ones((1, 2, 4, 4)), np.ones((2, 2, 2, 2))
    with pytest.raises(ValueError, match="conv2d: argument 'stride' should be an int or a pair"):
        fwd2(x, w, None, (1, 1, 1), 0, 1, 1)
    with pytest.raises(ValueError, match=r"conv2d: argument 'padding\[1\]' should be an int >= 0"):
        fwd2(x, w, None, 1, (0, -1), 1, 1)


def test_adapter_rejects_unknown_dtype():
    with pytest.raises(ValueError, match="argument 'dtype' should be one of"):
        AC.conv1d(_X, _W, _B, 1, 0, 1, 2, dtype="int8")


@pytest.mark.parametrize("kw", [
    dict(in_channels=4, out_channels=2, kernel_size=3, groups=2),
    dict(in_channels=3, out_channels=6, kernel_size=2, groups=3, bias=False, stride=2, padding=1, dilation=2),
    dict(in_channels=4, out_channels=4, kernel_size=(2, 3), groups=4),
    dict(in_channels=2, out_channels=5, kernel_size=(3, 3), bias=False),
])
def test_param_count_matches_the_module(kw):
    K = kw["kernel_size"]
    want = oracle.param_count(kw["in_channels"], kw["out_channels"], K, kw.get("groups", 1), kw.get("bias", True))
    assert AC.param_count(kw) == want


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_adapter_passes_every_conv_property(dtype):
    target = _target(f"torch.nn.Conv1d/Conv2d ({dtype})", dtype, AC.capabilities(dtype))
    props = all_properties()
    for pid in PROPS:
        row = harness.run(props[pid], target, f"torch_nn_conv:{dtype}", profile="dev", seed_value=0)
        assert row["verdict"] == "pass" and row["examples"] > 0, row


@pytest.mark.parametrize("ref,dtype", [("numpy", "float32"), ("torch", "float64")])
def test_references_pass_every_conv_property(ref, dtype):
    mod = {"numpy": NC, "torch": TC}[ref]
    target = _target(f"{ref} conv ({dtype})", dtype, {c: getattr(mod, c) for c in CAPS})
    props = all_properties()
    for pid in PROPS:
        row = harness.run(props[pid], target, f"{ref}:{dtype}", profile="dev", seed_value=1)
        assert row["verdict"] == "pass" and row["examples"] > 0, row
