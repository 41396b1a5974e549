"""keras.layers.LayerNormalization (Keras 3, torch backend) behind layernorm / layernorm_vjp: float32 passes the
properties; float64 is measured to compute in float32 inside (a finding the properties name, not absorb).
Skipped without keras."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
pytest.importorskip("keras")
try:
    from dlproof.impl.adapters import keras3_layernorm as K
except ImportError as exc:  # keras without the torch backend
    pytest.skip(f"keras on the torch backend unavailable: {exc}", allow_module_level=True)

from dlproof.derivations import oracle_layernorm as O  # noqa: E402
from dlproof.properties import harness  # noqa: E402
from dlproof.properties import layernorm as PL  # noqa: E402
from dlproof.properties.assertions import PropertyFailure  # noqa: E402
from dlproof.properties.registry import all_properties  # noqa: E402

from layernorm.test_layernorm import PROPS, _small  # noqa: E402
from layernorm.test_layernorm_torch import _compare  # noqa: E402


@pytest.mark.parametrize("affine", [True, False])
def test_keras_float32_matches_the_oracle(affine):
    caps = K.capabilities("float32")
    _compare(caps["layernorm"], caps["layernorm_vjp"], "float32", affine)


def test_keras_float64_is_float32_accurate_only():
    """Measured: a float64 LayerNormalization returns float64 arrays holding float32 values (torch backend:
    result_type(float64, float32) = float32): outside the float64 model, inside the float32 one."""
    x, g, b, eps, _ = _small(seed=8, lead=(4,), F=6, eps=1e-5)
    y = K.layernorm(x, g, b, eps, dtype="float64")
    err = np.abs(y - O.layernorm(x, g, b, eps))
    assert y.dtype == np.float64
    assert np.any(err > PL.forward_tol(x, g, b, eps, "float64")) and np.all(err <= PL.forward_tol(x, g, b, eps, "float32"))
    np.testing.assert_array_equal(y, K.layernorm(x.astype(np.float32), g.astype(np.float32), b.astype(np.float32), eps))


def test_keras_float64_failure_names_float32_inside(tmp_path):
    with pytest.raises(PropertyFailure) as info:
        harness.run(all_properties()["ln.forward"], K.target("float64"), "keras64", profile="ci", report_dir=tmp_path)
    assert info.value.part == "forward" and "computes in float32 inside" in info.value.likely_bug


@pytest.mark.slow
def test_properties_pass_on_keras_float32(tmp_path):
    for pid in PROPS:
        row = harness.run(all_properties()[pid], K.target("float32"), "keras32", profile="ci", report_dir=tmp_path)
        assert row["verdict"] == "pass", row
