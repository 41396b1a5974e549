"""load_target: built-in names and ``module:attr`` specs; every failure is a TargetLoadError naming the spec."""
import itertools
import sys
import textwrap

import pytest

from dlproof.loader import BUILTINS, DEFAULT_TARGETS, ENV_VAR, TargetLoadError, load_target, specs_from
from dlproof.target import Target

_counter = itertools.count()

MODULE = '''
from dataclasses import replace
from dlproof.impl.targets import numpy_target
from dlproof.target import Target

good = numpy_target()

class ns:
    class inner:
        target = replace(good, name="nested")

def factory():
    return replace(good, name="from factory")

def broken_factory():
    raise ValueError("factory exploded")

def factory_of_int():
    return 7

not_a_target = {"name": "dict"}
number = 3
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """Write a uniquely named module into tmp_path, importable for this test only; returns a writer."""
    monkeypatch.syspath_prepend(str(tmp_path))
    created = []

    def write(source: str) -> str:
        name = f"dlproof_user_mod_{next(_counter)}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        created.append(name)
        return name

    yield write
    for name in created:
        sys.modules.pop(name, None)


@pytest.fixture
def mod(user_module):
    return user_module(MODULE)


# -- built-ins -------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, dtype, activation", [
    ("numpy", "float64", "tanh"),
    ("numpy.float32", "float32", "tanh"),
    ("numpy.relu", "float64", "relu"),
])
def test_numpy_builtins(spec, dtype, activation):
    t = load_target(spec)
    assert isinstance(t, Target)
    assert t.dtype == dtype and t.convention("rnn_activation") == activation
    assert "numpy_ref" in t.name
    assert t.provides("rnn") and t.provides("rnn_vjp")
    assert t.provides("clip_grad_norm") == (activation == "tanh")  # numpy.relu carries the RNN capabilities only


def test_builtin_spec_is_stripped():
    assert load_target("  numpy  ").dtype == "float64"


def test_default_targets_are_builtins():
    assert set(DEFAULT_TARGETS) <= set(BUILTINS)


# -- module:attr -----------------------------------------------------------------------------------

def test_module_attr(mod):
    t = load_target(f"{mod}:good")
    assert isinstance(t, Target) and t.name == "dlproof.impl.numpy_ref"


def test_module_dotted_attr(mod):
    assert load_target(f"{mod}:ns.inner.target").name == "nested"


def test_module_factory(mod):
    assert load_target(f"{mod}:factory").name == "from factory"


def test_builtin_factory_by_module_path():
    t = load_target("dlproof.impl.targets:numpy_relu_target")
    assert t.convention("rnn_activation") == "relu"


# -- errors ----------------------------------------------------------------------------------------

def _load_error(spec) -> str:
    with pytest.raises(TargetLoadError) as info:
        load_target(spec)
    return str(info.value)


def test_module_does_not_exist():
    msg = _load_error("dlproof_no_such_module_xyz:target")
    assert "'dlproof_no_such_module_xyz:target'" in msg
    assert "cannot import module 'dlproof_no_such_module_xyz'" in msg and "ModuleNotFoundError" in msg


def test_module_import_raises(user_module):
    name = user_module("raise RuntimeError('boom at import')\n")
    msg = _load_error(f"{name}:target")
    assert f"'{name}:target'" in msg and "RuntimeError" in msg and "boom at import" in msg


def test_module_with_syntax_error(user_module):
    name = user_module("def broken(:\n")
    msg = _load_error(f"{name}:target")
    assert f"'{name}:target'" in msg and "SyntaxError" in msg


def test_missing_attribute(mod):
    msg = _load_error(f"{mod}:nope")
    assert f"'{mod}:nope'" in msg and "no attribute 'nope'" in msg


def test_missing_dotted_attribute(mod):
    msg = _load_error(f"{mod}:ns.inner.missing")
    assert f"'{mod}:ns.inner.missing'" in msg and "no attribute 'missing'" in msg


@pytest.mark.parametrize("attr, kind", [("not_a_target", "dict"), ("number", "int"), ("factory_of_int", "int")])
def test_attribute_not_a_target(mod, attr, kind):
    msg = _load_error(f"{mod}:{attr}")
    assert f"'{mod}:{attr}'" in msg and f"gives {kind}" in msg and "dlproof.target.Target" in msg


def test_factory_raises(mod):
    msg = _load_error(f"{mod}:broken_factory")
    assert f"'{mod}:broken_factory'" in msg and "factory" in msg
    assert "ValueError" in msg and "factory exploded" in msg


def test_unknown_builtin_name():
    msg = _load_error("jax")
    assert "'jax'" in msg and "module:attribute" in msg
    for name in BUILTINS:
        assert name in msg


@pytest.mark.parametrize("spec", ["", "   ", None, 3])
def test_empty_or_non_string_spec(spec):
    msg = _load_error(spec)
    assert "non-empty string" in msg and repr(spec) in msg


def test_empty_module_or_attribute(mod):
    msg = _load_error(":good")
    assert "':good'" in msg and "cannot import module ''" in msg
    msg = _load_error(f"{mod}:")
    assert f"'{mod}:'" in msg and "no attribute ''" in msg


def test_errors_are_runtime_errors():
    assert issubclass(TargetLoadError, RuntimeError)


# -- specs_from ------------------------------------------------------------------------------------

def test_specs_from_options_win_over_env():
    assert specs_from(["numpy", "m:t"], env="torch") == ["numpy", "m:t"]


def test_specs_from_env_comma_separated():
    assert specs_from([], env="numpy, numpy.float32 ,,mod:attr ") == ["numpy", "numpy.float32", "mod:attr"]


@pytest.mark.parametrize("env", ["", "   "])
def test_specs_from_defaults(env):
    assert specs_from([], env=env) == list(DEFAULT_TARGETS)
    assert specs_from(None, env=env) == list(DEFAULT_TARGETS)


def test_specs_from_reads_environment(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "numpy.relu,numpy")
    assert ENV_VAR == "DLPROOF_TARGET"
    assert specs_from([]) == ["numpy.relu", "numpy"]
    assert specs_from(["numpy.float32"]) == ["numpy.float32"]
    monkeypatch.delenv(ENV_VAR)
    assert specs_from([]) == list(DEFAULT_TARGETS)


def test_specs_from_returns_a_fresh_list():
    opts = ["numpy"]
    out = specs_from(opts)
    out.append("x")
    assert opts == ["numpy"]


def test_specs_from_env_of_only_separators_is_an_error():
    with pytest.raises(TargetLoadError, match="names no target"):
        specs_from([], env=" , ,")
