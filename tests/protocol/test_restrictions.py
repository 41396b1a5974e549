"""Declared restrictions (issue 16, deliverable 6): a target declares what it does not support inside a capability,
in the closed vocabulary dlproof.target.RESTRICTIONS; the strategies draw only inside the declared domain, a
property whose whole domain is excluded is "not provided", the report row carries the restriction's text, and a
restriction is never a way around a wrong value."""
import json
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlproof.impl.numpy_ref import attention as NA
from dlproof.impl.numpy_ref import batchnorm as NB
from dlproof.impl.numpy_ref import convolution as NC
from dlproof.impl.numpy_ref.rnn import param_count as exact_param_count
from dlproof.properties import harness, restrictions
from dlproof.properties.assertions import PropertyFailure, TargetRaised
from dlproof.properties.registry import all_properties
from dlproof.properties.attention.strategies import attention_problems, mha_problems, variance_problems
from dlproof.properties.batchnorm.strategies import bn_problems
from dlproof.properties.convolution import conv_problems, rf_problems, size_problems
from dlproof.target import RESTRICTIONS, Target, TargetError

CONV_ALL = {"conv_groups": 1, "conv_dilation": 1, "conv_padding": 0, "conv_stride": "exact_tiling"}
CONV_PROPS = ("conv1d.forward", "conv1d.vjp", "conv.output_size", "conv.equivariance", "conv.receptive_field")


# ---------------------------------------------------------------- the vocabulary

@pytest.mark.parametrize("bad,where", [
    ({"conv_groups": 2}, "'conv_groups'"), ({"conv_groups": True}, "'conv_groups'"), ({"groups": 1}, "'groups'"),
    ({"conv_stride": 2}, "'conv_stride'"), ({"attention_causal": 0}, "'attention_causal'"),
    ({"param_count_kinds": []}, "'param_count_kinds'"), ({"param_count_kinds": ["rnn", "rnn"]}, "'param_count_kinds'"),
    ({"param_count_kinds": ["transformer"]}, "'param_count_kinds'"), ({"bn_momentum": (0, 1)}, "'bn_momentum'"),
    ({"stack_dropout": 0.5}, "'stack_dropout'"), ({"stack_projection": 0}, "'stack_projection'"),
    ({"projection_size": True}, "'projection_size'"), ({"stack_lengths": None}, "'stack_lengths'"),
    ({"stack_directions": 2}, "'stack_directions'"), ({"layernorm_features": 0}, "'layernorm_features'"), ({"layernorm_affine": 1}, "'layernorm_affine'"),
    (["conv_groups"], "mapping"),
])
def test_unknown_or_invalid_restrictions_are_errors(bad, where):
    with pytest.raises(TargetError, match="restrictions") as info:
        Target(name="t", conventions={"restrictions": bad})
    assert where in str(info.value)


def test_valid_restrictions_are_accepted_and_reported_as_json():
    decl = {**CONV_ALL, "attention_causal": False, "attention_value_dim": "equal_to_query",
            "bn_momentum": "open_interval", "param_count_kinds": ["rnn", "lstm"], "stack_dropout": 0,
            "stack_projection": False, "projection_size": "smaller_than_hidden", "stack_lengths": False, "stack_directions": 1,
            "layernorm_features": 4, "layernorm_affine": False}
    t = Target(name="t", conventions={"restrictions": decl})
    assert set(decl) == set(RESTRICTIONS)  # the test declares every entry of the vocabulary
    d = json.loads(json.dumps(t.describe()))
    assert d["conventions"]["restrictions"] == decl
    assert t.restriction("conv_groups") == 1 and Target(name="u").restriction("conv_groups") is None
    with pytest.raises(TargetError, match="unknown restriction"):
        t.restriction("nope")


def test_relevant_names_only_the_restrictions_of_the_capabilities():
    t = Target(name="t", conventions={"restrictions": {"conv_groups": 1, "attention_causal": False}})
    conv = restrictions.relevant(t, ("conv1d",))
    assert conv == ["conv_groups=1: groups = 1 only (no grouped or depthwise convolution)"]
    assert restrictions.relevant(t, ("mha_vjp",)) == ["attention_causal=False: no causal mask (causal=False only)"]
    assert restrictions.relevant(t, ("batchnorm",)) == []
    assert restrictions.relevant(Target(name="u"), ("conv1d",)) == []
    table = restrictions.table()
    assert all(f"`{name}`" in table for name in RESTRICTIONS)


# ---------------------------------------------------------------- the strategies draw inside the domain

def _tiles(n, K, s, p, d):
    return (n + 2 * p - d * (K - 1) - 1) % s == 0


@settings(max_examples=60, deadline=None, database=None)
@given(data=st.data(), nd=st.sampled_from([1, 2]))
def test_conv_draws_stay_inside_the_declared_domain(data, nd):
    P = data.draw(conv_problems(nd, restrict=CONV_ALL))
    assert P["G"] == 1 and set(P["d"]) == {1} and set(P["p"]) == {0}
    assert all(_tiles(P["x"].shape[2 + a], P["w"].shape[2 + a], P["s"][a], 0, 1) for a in range(nd))
    Q = data.draw(size_problems(nd, restrict=CONV_ALL))
    assert set(Q["d"]) == {1} and set(Q["p"]) == {0}
    assert all(_tiles(Q["n"][a], Q["K"][a], Q["s"][a], 0, 1) for a in range(nd))
    R = data.draw(rf_problems(restrict=CONV_ALL))
    n = R["n0"]
    for k, s, p, d in R["layers"]:
        assert p == 0 and d == 1 and _tiles(n, k, s, p, d)
        n = (n - k) // s + 1


@settings(max_examples=60, deadline=None, database=None)
@given(data=st.data())
def test_attention_and_bn_draws_stay_inside_the_declared_domain(data):
    r = {"attention_causal": False, "attention_value_dim": "equal_to_query", "bn_momentum": "open_interval"}
    A = data.draw(attention_problems(restrict=r))
    assert A["causal"] is False and A["v"].shape[-1] == A["q"].shape[-1]
    assert data.draw(mha_problems(restrict=r))["causal"] is False
    V = data.draw(variance_problems(restrict=r))
    assert V["v"].shape[-1] == V["q"].shape[-1] and np.array_equal(V["v"][0, :, :2], np.eye(2))
    assert 0 < data.draw(bn_problems(restrict=r))["momentum"] < 1


def test_unrestricted_draws_still_cover_the_whole_domain():
    """Without restrictions the strategies still reach groups > 1, dilation 2, causal masks, momenta 0 and 1."""
    seen = {"G": set(), "d": set(), "causal": set(), "m": set()}

    @settings(max_examples=150, deadline=None, database=None)
    @given(c=conv_problems(1), a=attention_problems(), b=bn_problems())
    def run(c, a, b):
        seen["G"].add(c["G"]), seen["d"].add(c["d"][0]), seen["causal"].add(a["causal"]), seen["m"].add(b["momentum"])

    run()
    assert {1, 2} <= seen["G"] and {1, 2} <= seen["d"] and seen["causal"] == {True, False} and {0.0, 1.0} <= seen["m"]


# ---------------------------------------------------------------- partial support: pass with, error without

def _refuse(cond, what):
    def wrap(fn):
        def call(*args):
            if cond(*args):
                raise NotImplementedError(what)
            return fn(*args)
        return call
    return wrap


def _conv_unsupported(x, w, b, stride, padding, dilation, groups, *rest):
    pairs = lambda v: (v,) * (x.ndim - 2) if isinstance(v, int) else tuple(v)  # noqa: E731
    s, p, d = pairs(stride), pairs(padding), pairs(dilation)
    untiled = any(_tiles(x.shape[2 + a], w.shape[2 + a], s[a], p[a], d[a]) is False for a in range(x.ndim - 2))
    return groups != 1 or set(d) != {1} or set(p) != {0} or untiled


def _partial_conv(forward=NC.conv1d, **conventions):
    ref = _refuse(_conv_unsupported, "groups, dilation, padding or a non-tiling stride")
    return Target(name="conv without groups, dilation, padding; tiling strides only", conventions=conventions,
                  conv1d=ref(forward), conv1d_vjp=ref(NC.conv1d_vjp))


def _run(pid, target, profile="dev"):
    return harness.run(all_properties()[pid], target, "partial", profile=profile, seed_value=0)


@pytest.mark.parametrize("pid", CONV_PROPS)
def test_a_partly_supported_conv_passes_with_its_restrictions_declared(pid):
    row = _run(pid, _partial_conv(restrictions=CONV_ALL))
    assert row["verdict"] == "pass" and row["examples"] > 0, row
    assert any(r.startswith("conv_stride='exact_tiling'") for r in row.get("restrictions", [])), row


def test_the_same_conv_without_the_declaration_is_an_error():
    with pytest.raises(TargetRaised):
        _run("conv1d.forward", _partial_conv())


def _attn_unsupported(q, k, v, causal, *rest):
    return causal or v.shape[-1] != q.shape[-1]


def _partial_attention(attention=NA.attention, **conventions):
    ref = _refuse(_attn_unsupported, "causal masks, or dv != d")
    return Target(name="attention without causal masks, dv = d", conventions=conventions,
                  attention=ref(attention), attention_vjp=ref(NA.attention_vjp))


ATTN = {"attention_causal": False, "attention_value_dim": "equal_to_query"}


def test_a_partly_supported_attention_passes_and_its_causal_property_is_not_provided():
    t = _partial_attention(restrictions=ATTN)
    for pid in ("attn.forward", "attn.vjp", "attn.scale.variance"):
        assert _run(pid, t)["verdict"] == "pass", pid
    assert _run("attn.causal", t)["verdict"] == "not provided"
    with pytest.raises(TargetRaised):
        _run("attn.forward", _partial_attention())


def _partial_param_count(count=exact_param_count, **conventions):
    def param_count(kind, n, m):
        if kind == "gru":
            raise NotImplementedError("no GRU in this library")
        return count(kind, n, m)
    return Target(name="a library with RNN and LSTM, no GRU", conventions=conventions, param_count=param_count)


def test_param_count_for_some_kinds_only():
    t = _partial_param_count(restrictions={"param_count_kinds": ["rnn", "lstm"]})
    assert _run("rnn.param_count", t)["verdict"] == "pass"
    assert _run("lstm.param_count", t)["verdict"] == "pass"
    assert _run("gru.param_count", t)["verdict"] == "not provided"
    with pytest.raises(TargetRaised):
        _run("gru.param_count", _partial_param_count())


def test_bn_momentum_in_the_open_interval():
    refuse = _refuse(lambda *a: not 0 < a[6] < 1, "momentum must be in (0, 1)")
    t = Target(name="bn, momentum in (0, 1)", batchnorm=refuse(NB.batchnorm),
               conventions={"restrictions": {"bn_momentum": "open_interval"}})
    assert _run("bn.running_stats", t, profile="ci")["verdict"] == "pass"
    with pytest.raises(TargetRaised):
        _run("bn.running_stats", replace(t, conventions={}), profile="ci")


# ---------------------------------------------------------------- never a way around a wrong value

def test_a_restricted_conv_with_a_wrong_value_inside_its_domain_still_fails():
    def flipped(x, w, b, stride, padding, dilation, groups):
        return NC.conv1d(x, np.ascontiguousarray(w[..., ::-1]), b, stride, padding, dilation, groups)
    with pytest.raises(PropertyFailure, match="kernel flipped"):
        _run("conv1d.forward", _partial_conv(forward=flipped, restrictions=CONV_ALL))


def test_a_restricted_attention_with_a_wrong_value_still_fails():
    def unscaled(q, k, v, causal):
        return NA.attention(q * np.sqrt(q.shape[-1]), k, v, causal)
    with pytest.raises(PropertyFailure):
        _run("attn.forward", _partial_attention(attention=unscaled, restrictions=ATTN))


def test_a_restricted_param_count_with_a_wrong_value_still_fails():
    t = _partial_param_count(count=lambda kind, n, m: exact_param_count(kind, n, m) + (kind == "lstm"),
                             restrictions={"param_count_kinds": ["rnn", "lstm"]})
    assert _run("rnn.param_count", t)["verdict"] == "pass"
    with pytest.raises(PropertyFailure):
        _run("lstm.param_count", t)


def test_a_restricted_bn_with_a_wrong_value_still_fails():
    def keras_momentum(x, gamma, beta, rm, rv, training, momentum, eps):
        return NB.batchnorm(x, gamma, beta, rm, rv, training, 1 - momentum, eps)
    t = Target(name="bn, Keras momentum, momentum in (0, 1)", batchnorm=keras_momentum,
               conventions={"restrictions": {"bn_momentum": "open_interval"}})
    with pytest.raises(PropertyFailure, match="Keras"):
        _run("bn.running_stats", t, profile="ci")


def test_the_partial_targets_refuse_exactly_the_excluded_cases():
    """The helpers above refuse the excluded cases (so a pass above is not a vacuous one) and accept the rest."""
    conv = _partial_conv().conv1d
    x = np.ones((1, 2, 5))
    assert conv(x, np.ones((2, 2, 3)), None, 1, 0, 1, 1).shape == (1, 2, 3)
    assert conv(x, np.ones((2, 2, 3)), None, 2, 0, 1, 1).shape == (1, 2, 2)  # (5 - 3) % 2 == 0: tiles
    for w, args in ((np.ones((2, 2, 2)), (2, 0, 1, 1)),  # (5 - 2) % 2 != 0: does not tile
                    (np.ones((2, 2, 3)), (1, 1, 1, 1)), (np.ones((2, 2, 2)), (1, 0, 2, 1)),
                    (np.ones((2, 1, 3)), (1, 0, 1, 2))):
        with pytest.raises(NotImplementedError):
            conv(x, w, None, *args)
    attn = _partial_attention().attention
    q = np.ones((1, 2, 3))
    assert attn(q, q, q, False).shape == (1, 2, 3)
    for v, causal in ((q, True), (np.ones((1, 2, 2)), False)):
        with pytest.raises(NotImplementedError):
            attn(q, q, v, causal)


# ---------------------------------------------------------------- the suggestion on an error row

def _attention_needing_dv_equal_d(q, k, v, causal):
    if v.shape[-1] != q.shape[-1]:
        raise ValueError(f"value shape should be {q.shape[-1]}, got {v.shape[-1]}")  # as jax.nn.dot_product_attention
    return NA.attention(q, k, v, causal)


def _error_row(target, pid):
    row = harness.run(all_properties()[pid], target, "tests", profile="ci", raises=False)
    assert row["verdict"] == "error", row
    return row["message"]


def test_an_error_row_names_the_restrictions_its_capability_could_declare():
    t = Target(name="dv = d only", dtype="float64", attention=_attention_needing_dv_equal_d)
    msg = _error_row(t, "attn.forward")
    hint = msg.split(" | example:")[0]
    assert "declare it in conventions['restrictions']" in hint, msg
    for name, r in RESTRICTIONS.items():  # exactly the restrictions that narrow attention
        assert (f"{name}={r.allowed}" in hint) == ("attention" in r.capabilities), (name, msg)
    declared = replace(t, conventions={"restrictions": {"attention_causal": False}})
    msg = _error_row(declared, "attn.forward")
    assert "attention_value_dim='equal_to_query'" in msg and "attention_causal=False;" not in msg, msg
    ok = replace(t, conventions={"restrictions": {"attention_value_dim": "equal_to_query"}})
    assert harness.run(all_properties()["attn.forward"], ok, "tests", profile="ci")["verdict"] == "pass"


def test_an_error_of_a_capability_without_restrictions_suggests_none():
    def softmax_raises(x):
        raise RuntimeError("no")

    msg = _error_row(Target(name="softmax raises", dtype="float64", softmax=softmax_raises), "attn.softmax.forward")
    assert "declare it" not in msg, msg
    assert all(r.capabilities and "softmax" not in r.capabilities for r in RESTRICTIONS.values())
