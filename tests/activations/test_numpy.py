"""The NumPy activations (sigmoid through tanh, tanh, relu with relu'(0) = 0 declared): exact saturation without
warnings, the textbook formula, the declared derivatives."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from dlproof.impl.numpy_ref import activations as act


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_tanh_saturate_exactly_without_warnings(dtype):
    x = np.array([-1e4, -1e3, 0.0, 1e3, 1e4], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s, t = act.sigmoid(x), act.tanh(x)
    assert s.dtype == dtype and t.dtype == dtype
    assert s[0] == 0.0 and s[-1] == 1.0 and s[2] == 0.5
    assert t[0] == -1.0 and t[-1] == 1.0
    assert act.dtanh_from_output(t)[[0, -1]].tolist() == [0.0, 0.0]


def test_sigmoid_matches_textbook_formula_on_moderate_inputs():
    # the tanh form is accurate to ~1 ulp of 1 in absolute terms (relative accuracy fades for x << 0)
    x = np.linspace(-30, 30, 121)
    np.testing.assert_allclose(act.sigmoid(x), 1.0 / (1.0 + np.exp(-x)), rtol=1e-14, atol=2.3e-16)


def test_relu_and_its_declared_derivative():
    a = np.array([-2.0, -0.0, 0.0, 1e-300, 3.0])
    assert act.relu(a).tolist() == [0.0, 0.0, 0.0, 1e-300, 3.0]
    assert act.drelu(a).tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]  # relu'(0) = 0 by declaration
    assert act.drelu(a.astype(np.float32)).dtype == np.float32
    y = np.tanh(0.3)
    assert act.dtanh_from_output(y) == pytest.approx(1 / np.cosh(0.3) ** 2, rel=1e-14)
