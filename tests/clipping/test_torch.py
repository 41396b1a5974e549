"""The torch gradient clipping reference: argument validation, the exact rules (the torch eps convention
c / (N + eps) included), an overflow-free norm (the NumPy reference: test_numpy.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dlproof.impl.torch_ref import clipping  # noqa: E402


@pytest.mark.parametrize("bad", [0, -2.0, math.inf, math.nan, None])
def test_bad_max_norm(bad):
    with pytest.raises(ValueError, match="clip_grad_norm: argument 'max_norm'"):
        clipping.clip_grad_norm([np.ones(2)], bad)
    with pytest.raises(ValueError, match="clip_grad_value: argument 'clip_value'"):
        clipping.clip_grad_value([np.ones(2)], bad)


def test_clip_grad_norm_exact_rule_in_torch():
    g = [np.array([3.0, 0.0]), np.array([[4.0]])]
    out, norm = clipping.clip_grad_norm(g, 1.0)
    assert norm == 5.0
    np.testing.assert_allclose(out[0], [0.6, 0.0], rtol=1e-15)
    np.testing.assert_allclose(out[1], [[0.8]], rtol=1e-15)
    out, _ = clipping.clip_grad_norm(g, 5.0)  # N == c: unchanged under exact math
    assert all(np.array_equal(a, b) for a, b in zip(out, g))
    out, _ = clipping.clip_grad_norm(g, 5.0, eps=1e-6)  # torch convention: shrinks by c / (c + eps)
    np.testing.assert_allclose(out[0], [3 * 5 / (5 + 1e-6), 0.0], rtol=1e-15)
    out, norm = clipping.clip_grad_norm([np.zeros(2)], 1.0)
    assert norm == 0.0 and np.array_equal(out[0], np.zeros(2))
    out, norm = clipping.clip_grad_norm([np.array([3.0, 4.0]), np.array([0.3, 0.4])], 1.0, scope="per_tensor")
    np.testing.assert_allclose(out[0], [0.6, 0.8], rtol=1e-15)
    np.testing.assert_array_equal(out[1], [0.3, 0.4])
    assert norm == pytest.approx(math.sqrt(25.25), rel=1e-15)


def test_global_norm_does_not_overflow():
    _, norm = clipping.clip_grad_norm([np.array([3e200]), np.array([4e200])], 1.0)
    assert norm == pytest.approx(5e200, rel=1e-15)
    out, norm = clipping.clip_grad_norm([np.full(4, 3e38, np.float32)], 1.0)
    assert norm == pytest.approx(6e38, rel=1e-6)
    np.testing.assert_allclose(out[0], np.full(4, 0.5), rtol=1e-6)


def test_clip_grad_value_in_torch():
    out = clipping.clip_grad_value([np.array([-3.0, 0.5, 3.0, np.nan])], 1.0)
    np.testing.assert_array_equal(out[0], [-1.0, 0.5, 1.0, np.nan])
    out = clipping.clip_grad_value([np.array([np.inf, 2.0], np.float32)], 1e300)  # beyond float32: no clip
    assert out[0].tolist() == [np.inf, 2.0]
