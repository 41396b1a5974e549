"""The conformance protocol v1: a malformed Target is refused at construction with a message that
names the target, the offending key and what is allowed."""
import json
import math

import pytest

from dlproof.target import (
    CAPABILITIES,
    CONVENTION_DEFAULTS,
    CONVENTION_VALUES,
    DTYPES,
    PROTOCOL_VERSION,
    Target,
    TargetError,
)


def _f(*args):
    return None


def test_minimal_target_is_valid():
    t = Target(name="mine")
    assert t.dtype == "float64" and t.protocol_version == PROTOCOL_VERSION == 1
    assert t.capabilities == []
    assert isinstance(TargetError("x"), ValueError)


def test_unknown_convention_key():
    with pytest.raises(TargetError) as info:
        Target(name="mine", conventions={"clip_epsilon": 1e-6})
    msg = str(info.value)
    assert "'mine'" in msg and "'clip_epsilon'" in msg
    for key in CONVENTION_VALUES:  # lists the known keys
        assert key in msg


@pytest.mark.parametrize("key, value, allowed", [
    ("clip_eps", -1, "a finite float >= 0"),
    ("clip_eps", math.nan, "a finite float >= 0"),
    ("clip_eps", math.inf, "a finite float >= 0"),
    ("clip_eps", True, "a finite float >= 0"),
    ("clip_eps", "1e-6", "a finite float >= 0"),
    ("gru", "x", "'reset_after' | 'reset_before'"),
    ("rnn_activation", "sigmoid", "'tanh' | 'relu'"),
    ("bias", 2, "'one' | 'two'"),
    ("clip_scope", "layer", "'global' | 'per_tensor'"),
    ("clip_norm_scaling", "naive", "'scaled' | 'unscaled' | 'unscaled_nan' | 'unscaled_product_first'"),
    ("subnormals", "ftz", "'gradual' | 'flush_to_zero' | 'softmax_flush_to_zero'"),
])
def test_bad_convention_value(key, value, allowed):
    with pytest.raises(TargetError) as info:
        Target(name="mine", conventions={key: value})
    msg = str(info.value)
    assert "'mine'" in msg
    assert f"{key}={value!r}" in msg
    assert allowed in msg and "but should be" in msg


@pytest.mark.parametrize("key, value", [
    ("clip_eps", 0), ("clip_eps", 0.0), ("clip_eps", 1e-6), ("gru", "reset_before"),
    ("rnn_activation", "relu"), ("bias", "two"), ("clip_scope", "per_tensor"),
    ("clip_norm_scaling", "unscaled"), ("clip_norm_scaling", "unscaled_nan"),
    ("clip_norm_scaling", "unscaled_product_first"), ("subnormals", "flush_to_zero"),
    ("subnormals", "softmax_flush_to_zero"),
])
def test_good_convention_value(key, value):
    assert Target(name="mine", conventions={key: value}).convention(key) == value


@pytest.mark.parametrize("dtype", ["float8", "f8", "", None, "int32", "half"])
def test_bad_dtype(dtype):
    with pytest.raises(TargetError) as info:
        Target(name="mine", dtype=dtype)
    msg = str(info.value)
    assert "'mine'" in msg and "dtype" in msg and repr(dtype) in msg
    for d in DTYPES:
        assert d in msg


def test_conventions_must_be_a_mapping():
    with pytest.raises(TargetError, match=r"'mine'.*conventions must be a mapping, got list"):
        Target(name="mine", conventions=[("gru", "reset_after")])


@pytest.mark.parametrize("name", ["", None, 3])
def test_bad_name(name):
    with pytest.raises(TargetError, match="non-empty string"):
        Target(name=name)


@pytest.mark.parametrize("cap", ["rnn", "clip_grad_norm", "param_count"])
@pytest.mark.parametrize("value", [42, "numpy.rnn", [1, 2]])
def test_non_callable_capability(cap, value):
    with pytest.raises(TargetError) as info:
        Target(name="mine", **{cap: value})
    msg = str(info.value)
    assert "'mine'" in msg and repr(cap) in msg and "must be callable" in msg
    assert CAPABILITIES[cap] in msg  # the signature it should have
    assert type(value).__name__ in msg


@pytest.mark.parametrize("version", [0, 2, "1"])
def test_wrong_protocol_version(version):
    with pytest.raises(TargetError) as info:
        Target(name="mine", protocol_version=version)
    msg = str(info.value)
    assert "'mine'" in msg and "protocol_version" in msg and str(version) in msg
    assert f"version {PROTOCOL_VERSION}" in msg


def test_convention_defaults():
    t = Target(name="mine")
    for key in CONVENTION_VALUES:
        assert t.convention(key) == CONVENTION_DEFAULTS[key]
    assert t.convention("clip_eps") == 0.0 and t.convention("clip_scope") == "global"
    assert t.convention("rnn_activation") == "tanh" and t.convention("gru") == "reset_after"
    assert t.convention("bias") == "one"
    declared = Target(name="mine", conventions={"clip_eps": 1e-6})
    assert declared.convention("clip_eps") == 1e-6
    assert declared.convention("clip_scope") == "global"  # undeclared keys keep their default


def test_every_convention_default_is_allowed():
    assert set(CONVENTION_DEFAULTS) == set(CONVENTION_VALUES)
    for key, value in CONVENTION_DEFAULTS.items():
        assert CONVENTION_VALUES[key][1](value), key


def test_convention_unknown_key():
    with pytest.raises(TargetError, match=r"unknown convention 'nope'.*clip_eps"):
        Target(name="mine").convention("nope")


def test_provides_and_capabilities():
    t = Target(name="mine", rnn=_f, clip_grad_norm=_f)
    assert t.provides("rnn") and t.provides("clip_grad_norm")
    assert not t.provides("rnn_vjp") and not t.provides("lstm")
    assert t.capabilities == ["rnn", "clip_grad_norm"]  # in protocol order


def test_provides_unknown_capability():
    with pytest.raises(TargetError) as info:
        Target(name="mine").provides("transformer")
    msg = str(info.value)
    assert "unknown capability 'transformer'" in msg and "rnn_vjp" in msg


def test_describe_is_json_ready():
    t = Target(name="mine", dtype="float32", conventions={"clip_eps": 1e-6, "rnn_activation": "relu"},
               rnn=_f, rnn_cell=_f)
    d = t.describe()
    assert json.loads(json.dumps(d)) == d
    assert d["name"] == "mine" and d["dtype"] == "float32" and d["protocol_version"] == 1
    assert d["conventions"] == {**CONVENTION_DEFAULTS, "clip_eps": 1e-6, "rnn_activation": "relu"}
    assert d["declared_conventions"] == {"clip_eps": 1e-6, "rnn_activation": "relu"}
    assert d["capabilities"] == ["rnn_cell", "rnn"]


def test_builtin_numpy_target_describes():
    from dlproof.impl.targets import numpy_target

    d = numpy_target().describe()
    assert json.loads(json.dumps(d)) == d
    assert {"rnn", "rnn_vjp", "clip_grad_norm", "clip_grad_value"} <= set(d["capabilities"])


def test_target_is_frozen():
    import dataclasses

    t = Target(name="mine")
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.name = "other"


def test_replace_revalidates():
    import dataclasses

    t = Target(name="mine")
    with pytest.raises(TargetError, match="'mine'.*clip_eps=-1"):
        dataclasses.replace(t, conventions={"clip_eps": -1})


def test_numpy_scalars_are_valid_clip_eps():
    import numpy as np

    from dlproof.impl.targets import numpy_target

    base = numpy_target()
    for v in (np.float32(1e-6), np.int64(0)):
        assert Target(name="t", conventions={"clip_eps": v}, rnn=base.rnn).convention("clip_eps") == v


def test_ambiguous_convention_value_is_a_target_error():
    import numpy as np

    with pytest.raises(TargetError, match="gru"):
        Target(name="t", conventions={"gru": np.array(["reset_after", "x"])})


@pytest.mark.parametrize("declared, plain, softmax", [
    (None, "gradual", "gradual"),
    ("gradual", "gradual", "gradual"),
    ("flush_to_zero", "flush_to_zero", "flush_to_zero"),
    ("softmax_flush_to_zero", "gradual", "flush_to_zero"),  # only the softmax / attention models allow the flush
])
def test_the_subnormals_convention_gives_each_model_its_underflow_mode(declared, plain, softmax):
    from dlproof.impl.targets import numpy_target
    from dlproof.properties import tolerances as tol

    t = numpy_target()
    if declared is not None:
        t = Target(name="t", conventions={"subnormals": declared}, rnn_cell=t.rnn_cell)
    assert tol.underflow(t) == plain and tol.underflow(t, softmax=True) == softmax


def test_an_unknown_subnormals_value_is_refused():
    with pytest.raises(TargetError, match="subnormals"):
        Target(name="t", conventions={"subnormals": "flush"})


# ---------------------------------------------------------------- left_out: capabilities left out, with why

@pytest.mark.parametrize("value, says", [
    (["conv1d"], "a mapping capability -> reason, got list"),
    ({"conv3d": "x"}, "names 'conv3d'"),
    ({"conv1d": ""}, "a one-line reason for 'conv1d'"),
    ({"conv1d": "two\nlines"}, "a one-line reason for 'conv1d'"),
    ({"conv1d": 3}, "a one-line reason for 'conv1d'"),
])
def test_a_bad_left_out_says_what_is_wrong(value, says):
    with pytest.raises(TargetError) as info:
        Target(name="mine", conventions={"left_out": value})
    assert "'mine'" in str(info.value) and says in str(info.value), str(info.value)


def test_a_left_out_capability_must_not_be_offered():
    with pytest.raises(TargetError, match=r"left_out names \['softmax'\], but the target offers it"):
        Target(name="mine", softmax=lambda x: x, conventions={"left_out": {"softmax": "finding x"}})


def test_left_out_properties_name_the_reason_and_the_rest_say_lacks(tmp_path):
    from dlproof.properties import harness
    from dlproof.properties.registry import all_properties

    t = Target(name="mine", conventions={"left_out": {"attention": "our kernel is wrong for T > 512 (issue 7)"}})
    assert t.left_out("attention") == "our kernel is wrong for T > 512 (issue 7)" and t.left_out("softmax") is None
    props = all_properties()
    row = harness.run(props["attn.forward"], t, "mine", profile="ci", raises=False)
    assert row["verdict"] == "not provided"
    assert row["message"] == "left out by the target: attention (our kernel is wrong for T > 512 (issue 7))", row
    row = harness.run(props["attn.softmax.forward"], t, "mine", profile="ci", raises=False)
    assert row["verdict"] == "not provided" and row["message"] == "target lacks ['softmax']", row
