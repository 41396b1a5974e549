"""The attention error model at a declared arithmetic (issue 19): at accumulate = storage and the default
activation_ulps every bound is bit for bit the single-u bound; a wider accumulation and a tighter exp change
exactly the terms the model says; the 16-bit strategies draw exact shifts."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlproof.dtypes import fmt
from dlproof.properties import errmodel as em
from dlproof.properties import tolerances as tol
import dlproof.properties.attention  # noqa: F401 - registers the attn.* properties
from dlproof.properties.attention import strategies as S
from dlproof.properties.attention import tolerances as ta
from dlproof.properties.registry import PROPERTIES

F32 = tol.Arithmetic("float32", "float32")
U16_32 = tol.Arithmetic("bfloat16", "float32")


def _row():
    return np.array([[0.5, -1.25, 3.0, 0.0, 2.75]])


def test_softmax_bound_at_storage_accumulation_is_the_single_u_bound():
    x = _row()
    u = tol.u_total("float32")
    eta = tol.underflow_terms("float32", "gradual")[0]
    # the single-u model as it was called before the Arithmetic (u_acc and act left at their defaults)
    old = tol.SAFETY * ta.softmax_model(x, np.zeros_like(x), u, eta=eta)[1]
    assert np.array_equal(ta.softmax_tol(x, F32), old)


def test_attention_bound_at_storage_accumulation_is_the_single_u_bound():
    rng = np.random.default_rng(3)
    q, k, v, dy = (rng.standard_normal(s) for s in ((1, 2, 3), (1, 3, 3), (1, 3, 2), (1, 2, 2)))
    u = tol.u_total("float32")
    un = tol.underflow_terms("float32", "gradual")
    old = ta.attention_model(*(em.exact(a, u, *un) for a in (q, k, v)), True, em.exact(dy, u, *un))
    new = ta.attention_tol(q, k, v, True, F32, dy=dy)
    for n in ("y", "q", "k", "v"):
        assert np.array_equal(new[n], tol.SAFETY * old[n].e), n


def test_wider_accumulation_takes_gamma_n_of_the_accumulator_plus_three_storage_roundings():
    x = np.array([[1.0, 1.0, 1.0, 1.0]])  # s = 1/4 everywhere, t = 0: e_s = s (2 expm1(act u) + g)
    u, ua = tol.u_total("bfloat16"), tol.u_acc_total(U16_32)
    eta = tol.underflow_terms(U16_32, "gradual")[0]
    g = tol.gamma(4, ua) + tol.gamma(3, u)
    want = tol.SAFETY * (0.25 * (np.expm1(4 * u) + np.expm1(4 * u) + g) + 3 * eta)
    np.testing.assert_allclose(ta.softmax_tol(x, U16_32), want, rtol=1e-14)
    assert np.all(ta.softmax_tol(x, U16_32) < ta.softmax_tol(x, "bfloat16"))


def test_declared_activation_ulps_replaces_ACT_ULPS_in_exp():
    x = np.array([[0.0]])  # one entry: s = 1, e_s = 2 expm1(act u) + gamma_3(u) + 3 eta
    tight = tol.Arithmetic("float32", "float32", activation_ulps=1.0)
    u = tol.u_total("float32")
    eta = tol.underflow_terms("float32", "gradual")[0]
    for a, act in ((tight, 1.0), (F32, 4.0)):
        want = tol.SAFETY * (2 * np.expm1(act * u) + tol.gamma(3, u) + 3 * eta)
        np.testing.assert_allclose(ta.softmax_tol(x, a), want, rtol=1e-14)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_16bit_softmax_shifts_are_exact(dtype, data):
    p = data.draw(S.softmax_problems(dtype=dtype))
    x, c = np.asarray(p["x"], np.float64), np.asarray(p["c"], np.float64)
    xc = (x + c).astype(fmt(dtype).dtype).astype(np.float64)
    assert np.array_equal(xc, x + c)
    assert np.all(np.abs(x + c) <= fmt(dtype).max)


def test_which_attention_properties_run_at_16_bits():
    props = PROPERTIES
    for pid in ("attn.softmax.forward", "attn.softmax.shift_invariance", "attn.softmax.vjp", "attn.forward",
                "attn.vjp", "attn.causal", "attn.mha.forward", "attn.mha.heads", "attn.mha.vjp"):
        assert {"float16", "bfloat16"} <= set(props[pid].precisions), pid
    assert props["attn.scale.variance"].precisions == ("float32", "float64")  # k rounded is not normal
