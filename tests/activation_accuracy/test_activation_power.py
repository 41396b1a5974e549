"""benchmarks/activation_power.py: the float32 check with cuDNN's activation_ulps catches a planted gate-order error
thousands of times smaller than the TF32 model does."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")  # the script reads the declared value from the torch adapter module

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("activation_power", ROOT / "benchmarks" / "activation_power.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_planted_bug_is_a_gate_swap_and_vanishes_at_zero_scale():
    mod = _script()
    xs, h0, c0, p = mod.problem(0)
    q = mod.swapped(p)
    assert q["b_i"] is p["b_f"] and q["W_hf"] is p["W_hi"] and q["b_g"] is p["b_g"]
    a = mod.models()["tf32"]
    assert mod.worst_ratio(xs, h0, c0, {k: 0 * v for k, v in p.items()}, a) == 0.0  # i = f = 1/2: no difference
    assert mod.worst_ratio(xs, h0, c0, p, a) > 1.0  # at scale 1 even the TF32 model sees it
    with pytest.raises(ValueError, match="seeds=0"):
        mod.measure(0)


@pytest.mark.slow
def test_float32_with_cudnn_activation_ulps_catches_much_smaller_errors_than_tf32():
    """The tolerance is about u (act + a few) |terms| for small s: the TF32 model's u is 2^13 times float32's and its
    act 4 against 9, so the smallest caught s should be about 2^13 4/9 ~ 3600 times larger under TF32 (within the
    grid's 2^(1/4) steps and the non-activation terms); the plain float32 model (act 4) catches smaller s still."""
    mod = _script()
    r = mod.measure(seeds=4)
    tf32, f32 = r["tf32"]["smallest_s_some_seed"], r["float32"]["smallest_s_some_seed"]
    declared = next(v for k, v in r.items() if k.startswith("float32, activation_ulps"))["smallest_s_some_seed"]
    ratio = tf32 / declared
    assert 2 ** 13 * 4 / 9 / 2 <= ratio <= 2 ** 13 * 2, ratio
    assert f32 < declared and np.isfinite(ratio)
    assert "| tf32 |" in "\n".join(mod.render(r, 4))
    sys.stdout.write("\n".join(mod.render(r, 4)) + "\n")
