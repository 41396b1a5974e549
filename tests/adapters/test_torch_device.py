"""Torch targets on another device (impl/adapters/torch_device.py), the TF32 precision of the error model, and
cuDNN's declared activation accuracy."""
import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dlproof.impl.adapters import torch_device  # noqa: E402
from dlproof.impl.adapters.torch_nn import target as nn_target  # noqa: E402
from dlproof.impl.targets import numpy_target, torch_target  # noqa: E402
from dlproof.loader import TargetLoadError, load_target  # noqa: E402
from dlproof.properties import harness  # noqa: E402
from dlproof.properties import tolerances as tol  # noqa: E402
from dlproof.properties.registry import all_properties  # noqa: E402
from dlproof.target import Target, TargetError  # noqa: E402


def _problem(rng, T=3, B=2, n=3, m=2):
    p = {k: rng.standard_normal((n, m) if k.startswith("W_x") else (n, n) if k.startswith("W_h") else (n,))
         for k in ("W_xi", "W_xf", "W_xg", "W_xo", "W_hi", "W_hf", "W_hg", "W_ho", "b_i", "b_f", "b_g", "b_o")}
    return rng.standard_normal((T, B, m)), rng.standard_normal((B, n)), rng.standard_normal((B, n)), p


def test_on_cpu_gives_the_same_numbers_as_the_plain_target():
    xs, h0, c0, p = _problem(np.random.default_rng(0))
    plain, moved = torch_target("float64"), torch_device.on_device(torch_target("float64"), "cpu")
    hs, (hT, cT) = plain.lstm(xs, h0, c0, p)
    hs2, (hT2, cT2) = moved.lstm(xs, h0, c0, p)
    assert np.array_equal(hs, hs2) and np.array_equal(cT, cT2)
    assert moved.name.endswith("[on cpu]") and moved.convention("matmul_precision") == "ieee"
    assert moved.capabilities == plain.capabilities


def test_tf32_switches_are_set_during_the_call_and_restored_after():
    seen = []

    def probe(x, h, p):
        seen.append((torch_device.tf32_state(), torch.zeros(1).device.type))
        return h

    before = torch_device.tf32_state()
    for tf32, want in ((True, {"tf32", True}), (False, {"ieee", False})):
        seen.clear()
        t = torch_device.on_device(Target("probe", dtype="float32", rnn_cell=probe), "cpu", tf32=tf32)
        t.rnn_cell(None, None, None)
        (state, device), = seen
        assert device == "cpu" and len(state) >= 2 and set(state.values()) <= want, state
        assert torch_device.tf32_state() == before
        assert t.convention("matmul_precision") == ("tf32" if tf32 else "ieee") and ("TF32" in t.name) == tf32


def test_switches_are_restored_when_the_call_raises():
    def boom(x, h, p):
        raise RuntimeError("inside")

    before = torch_device.tf32_state()
    t = torch_device.on_device(Target("boom", dtype="float32", rnn_cell=boom), "cpu", tf32=True)
    with pytest.raises(RuntimeError, match="inside"):
        t.rnn_cell(None, None, None)
    assert torch_device.tf32_state() == before


def test_bad_arguments_are_refused_clearly():
    with pytest.raises(ValueError, match="not a torch device"):
        torch_device.on_device(torch_target("float32"), "tpu:banana")
    with pytest.raises(ValueError, match="tf32=True needs a float32 target"):
        torch_device.on_device(torch_target("float64"), "cpu", tf32=True)
    with pytest.raises(TargetError, match="matmul_precision"):
        Target("x", conventions={"matmul_precision": "bf16"})


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("spec", ["torch.cuda", "torch.cuda.float32", "torch.nn.cuda", "torch.nn.cuda.tf32"])
def test_cuda_builtins_are_unavailable_without_a_gpu(spec):
    with pytest.raises(TargetLoadError, match="unavailable: .*CUDA device"):
        load_target(spec)


def test_precision_of_the_error_model():
    tf = torch_device.on_device(nn_target("float32"), "cpu", tf32=True)
    assert tol.precision(tf).storage == "tf32" and tol.unit_roundoff("tf32") == 2.0 ** -11
    assert tol.precision(numpy_target("float32")).storage == "float32"
    # a float64 target that declares tf32 matmuls is still modelled in float64 (TF32 is a float32 mode)
    odd = Target("odd", dtype="float64", conventions={"matmul_precision": "tf32"})
    assert tol.precision(odd).storage == "float64"
    assert tol.u_total("tf32") > 1000 * tol.u_total("float32")


def test_tf32_tolerance_accepts_tf32_error_that_float32_rejects():
    """Inputs rounded to TF32 (11 significant bits) before the products: within the tf32 model, not float32's."""
    def tf32_round(a):
        a = np.asarray(a, np.float32).copy()
        a.view(np.int32)[...] &= ~np.int32(0x1FFF)  # keep 10 of float32's 23 mantissa bits
        return a

    base = nn_target("float32")

    def lstm(xs, h0, c0, p):
        return base.lstm(tf32_round(xs), h0, c0, {k: tf32_round(v) for k, v in p.items()})

    def declared(prec):
        return Target(f"tf32-rounded lstm ({prec})", dtype="float32", lstm=lstm,
                      conventions={"bias": "two", "matmul_precision": prec})

    prop = all_properties()["lstm.forward"]
    harness.run(prop, declared("tf32"), "tests.test_torch_device:tf32", profile="ci")
    with pytest.raises(Exception, match="but should"):
        harness.run(prop, declared("ieee"), "tests.test_torch_device:ieee", profile="ci")


ROOT = Path(__file__).resolve().parents[2]


def _gpu_module():
    """benchmarks/gpu.py imported as a module."""
    spec = importlib.util.spec_from_file_location("gpu_bench", ROOT / "benchmarks" / "gpu.py")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return mod


def _gpu_doc() -> dict:
    return json.loads((ROOT / "reports" / "gpu" / "gpu.json").read_text(encoding="utf-8"))


def test_committed_gpu_report_renders_from_its_json():
    """reports/gpu/gpu.md is benchmarks/gpu.py's rendering of reports/gpu/gpu.json (measured on a CUDA machine)."""
    root = ROOT
    mod = _gpu_module()
    doc = _gpu_doc()
    assert (root / "reports" / "gpu" / "gpu.md").read_text(encoding="utf-8") == mod.render(doc)
    assert set(doc["conformance"]) == set(mod.SPECS)
    # the TF32 target passes everything it provides; every accuracy row at the benchmark sizes passes
    assert doc["conformance"]["torch.nn.cuda.tf32"]["fail"] == 0 and all(r["passes"] for r in doc["accuracy"])


def test_cuda_nn_declares_cudnn_activation_ulps_and_tf32_stays_a_matmul_precision(monkeypatch):
    monkeypatch.setattr(torch_device, "_cuda", lambda: "cpu")  # the factories as on a CUDA machine
    f32 = torch_device.torch_nn_cuda_target("float32")
    tf = torch_device.torch_nn_cuda_target("float32", tf32=True)
    assert f32.convention("activation_ulps") == torch_device.CUDNN_ACTIVATION_ULPS > 4.0
    assert f32.convention("matmul_precision") == "ieee" and tol.precision(f32).storage == "float32"
    assert tol.activation_ulps(tol.precision(f32)) == torch_device.CUDNN_ACTIVATION_ULPS
    assert tf.convention("matmul_precision") == "tf32" and tf.convention("activation_ulps") == 4.0
    assert torch_device.torch_nn_cuda_target("float64").convention("activation_ulps") == 4.0
    assert torch_device.torch_ref_cuda_target("float32").convention("activation_ulps") == 4.0  # torch.tanh: 1.7 ulps
    with pytest.raises(TargetError, match="activation_ulps"):
        torch_device.on_device(nn_target("float32"), "cpu", activation_ulps=0.1)


def test_declared_cudnn_value_is_the_committed_gpu_measurement_rounded_up():
    """In the convention's unit when gpu.json has it (activation_ulps rows), else gpu.md's zero-weight cuDNN rows in
    float32 ulps of outputs below 1 (each at most as many u, absolute: torch_device's docstring)."""
    doc = _gpu_doc()
    rows = [r["measured_ulps"] for r in doc.get("activation_ulps", []) if r["target"] == "torch.nn.cuda"]
    if not rows:
        rows = [r["max_ulps"] for r in doc["activations"] if r["what"].startswith("cuDNN")]
    assert rows and torch_device.CUDNN_ACTIVATION_ULPS == math.ceil(max(rows))


def test_gpu_script_measures_activation_ulps_on_the_cpu(monkeypatch):
    """benchmarks/gpu.py's activation part, run on the CPU (device "cpu"): one zero-weight problem per kind and
    target, torch's CPU activations within a few tenths of u; rendered as its own table."""
    mod = _gpu_module()
    monkeypatch.setattr(mod, "DEVICE", "cpu")
    rows = mod.activation_ulps(examples=1)
    assert {(r["target"], r["kind"]) for r in rows} == {(t, k) for t, _, _ in mod.ACTIVATION_TARGETS
                                                        for k in ("rnn", "lstm", "gru")}
    assert all(0 <= r["measured_ulps"] < 1.5 for r in rows)
    assert {r["declared_ulps"] for r in rows if r["target"] == "torch.nn.cuda"} == {torch_device.CUDNN_ACTIVATION_ULPS}
    doc = {**_gpu_doc(), "schema": 2, "activation_ulps": rows, "activation_examples": 1}
    md = mod.render(doc)
    assert "## Activation accuracy (the convention's unit)" in md and "| `torch.nn.cuda` | lstm |" in md
    assert "checked with matmul_precision" not in md  # the schema-2 reading no longer points float32 at TF32
    # the accuracy rows use the declared arithmetic: float32 cuDNN with its activation_ulps, TF32 at u = 2^-11
    assert mod.declared_arithmetic("float32", False).activation_ulps == torch_device.CUDNN_ACTIVATION_ULPS
    assert mod.declared_arithmetic("float32", True).storage == "tf32"
    assert mod.accuracy("gru", (2, 2, 3, 2), "float32", False)["passes"]  # torch on the CPU is within the model
