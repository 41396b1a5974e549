"""The NumPy gradient clipping (clip_grad_norm: g * min(1, c / (N + eps)) with N the global (or per-tensor) L2 norm,
returning the pre-clip norm; clip_grad_value: clamp to [-v, v]): argument validation, an overflow-free norm and
the exact rules on hand-computed cases."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from dlproof.impl.numpy_ref import clipping


@pytest.mark.parametrize("bad", [0, -1.0, math.nan, math.inf, "1", True, None])
def test_bad_max_norm_and_clip_value(bad):
    g = [np.ones(3)]
    with pytest.raises(ValueError, match="clip_grad_norm: argument 'max_norm'"):
        clipping.clip_grad_norm(g, bad)
    with pytest.raises(ValueError, match="clip_grad_value: argument 'clip_value'"):
        clipping.clip_grad_value(g, bad)


@pytest.mark.parametrize("bad", [np.ones(3), [[1.0, 2.0]], [np.arange(3)], "grads"])
def test_bad_grads(bad):
    with pytest.raises(ValueError, match="clip_grad_norm: argument 'grads"):
        clipping.clip_grad_norm(bad, 1.0)


def test_bad_eps_and_scope():
    with pytest.raises(ValueError, match="'eps'"):
        clipping.clip_grad_norm([np.ones(2)], 1.0, eps=-1e-6)
    with pytest.raises(ValueError, match="'scope'"):
        clipping.clip_grad_norm([np.ones(2)], 1.0, scope="layer")


def test_global_norm_no_overflow_or_underflow():
    assert clipping.global_norm([]) == 0.0
    assert clipping.global_norm([np.zeros(0), np.zeros(4)]) == 0.0
    assert clipping.global_norm([np.array([3.0]), np.array([[4.0]])]) == 5.0
    for s in (1e200, 1e-200, 1e300):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = clipping.global_norm([np.array([3 * s]), np.array([4 * s])])
        assert got == pytest.approx(5 * s, rel=1e-15)
    assert clipping.global_norm([np.full(4, 3e38, np.float32)]) == pytest.approx(6e38, rel=1e-7)
    assert math.isinf(clipping.global_norm([np.array([1.0, np.inf])]))
    assert math.isnan(clipping.global_norm([np.array([1.0]), np.array([np.nan, np.inf])]))


def test_clip_grad_norm_exact_rule():
    g = [np.array([3.0, 0.0]), np.array([[4.0]])]  # global norm 5
    out, norm = clipping.clip_grad_norm(g, 1.0)
    assert norm == 5.0
    np.testing.assert_allclose(out[0], [0.6, 0.0], rtol=1e-15)
    np.testing.assert_allclose(out[1], [[0.8]], rtol=1e-15)
    for c in (5.0, 7.0):  # N <= c: returned unchanged (equal values, new arrays)
        out, _ = clipping.clip_grad_norm(g, c)
        assert all(np.array_equal(a, b) and a is not b for a, b in zip(out, g))
    out, norm = clipping.clip_grad_norm([np.zeros(3)], 1.0)  # N = 0: no 0/0
    assert norm == 0.0 and np.array_equal(out[0], np.zeros(3))


def test_clip_grad_norm_with_eps_is_applied_always():
    g = [np.array([3.0, 4.0])]
    out, _ = clipping.clip_grad_norm(g, 5.0, eps=1e-6)  # N == c still shrinks: c / (c + eps)
    np.testing.assert_allclose(out[0], [3 * 5 / (5 + 1e-6), 4 * 5 / (5 + 1e-6)], rtol=1e-15)
    out, _ = clipping.clip_grad_norm(g, 10.0, eps=1e-6)  # min(1, .) caps the scale
    np.testing.assert_array_equal(out[0], g[0])
    out, _ = clipping.clip_grad_norm(g, 1.0, eps=1.0)
    np.testing.assert_allclose(out[0], [0.5, 2 / 3], rtol=1e-15)


def test_clip_grad_norm_per_tensor_scope():
    g = [np.array([3.0, 4.0]), np.array([0.3, 0.4])]
    out, norm = clipping.clip_grad_norm(g, 1.0, scope="per_tensor")
    assert norm == pytest.approx(math.sqrt(25.25), rel=1e-15)
    np.testing.assert_allclose(out[0], [0.6, 0.8], rtol=1e-15)
    np.testing.assert_array_equal(out[1], g[1])


def test_clip_grad_value():
    g = [np.array([-3.0, -0.5, 0.0, 0.5, 3.0, np.nan]), np.array([[1e300]])]
    out = clipping.clip_grad_value(g, 1.0)
    np.testing.assert_array_equal(out[0], [-1.0, -0.5, 0.0, 0.5, 1.0, np.nan])
    np.testing.assert_array_equal(out[1], [[1.0]])
    big = clipping.clip_grad_value([np.array([np.inf, 2.0], np.float32)], 1e300)[0]  # beyond float32: no clip
    assert big.dtype == np.float32 and big.tolist() == [np.inf, 2.0]
