"""Load a `Target` from a spec: a built-in name or ``module:attribute``.

``attribute`` may be a dotted path; if it names a callable that is not a Target, it is called with
no arguments (a factory). Any failure raises `TargetLoadError` naming the spec and the cause, with
"did you mean ...?" for a misspelt built-in name or attribute. As pytest does, the current folder is
importable for ``module:attr`` specs (it is appended to ``sys.path`` when absent); a module that is not
found gets a hint naming the folder searched.
"""
from __future__ import annotations

import difflib
import importlib
import os
import sys

from .target import Target


class TargetLoadError(RuntimeError):
    """The target spec does not import, does not exist, or does not give a Target."""


def _factory(module: str, factory: str, **kw):
    """A lazy built-in: import ``module`` only when the target is asked for, then call ``factory(**kw)``."""
    def make():
        return getattr(importlib.import_module(module), factory)(**kw)

    return make


def _builtin(factory: str, **kw):
    return _factory("dlproof.impl.targets", factory, **kw)


def _adapter(module: str, factory: str, **kw):
    return _factory(f"dlproof.impl.adapters.{module}", factory, **kw)


BUILTINS = {
    "numpy": _builtin("numpy_target", dtype="float64"),
    "numpy.float32": _builtin("numpy_target", dtype="float32"),
    "numpy.float16": _builtin("numpy_target", dtype="float16"),
    "numpy.bfloat16": _builtin("numpy_target", dtype="bfloat16"),
    "numpy.relu": _builtin("numpy_relu_target", dtype="float64"),
    "numpy.gru_reset_before": _builtin("numpy_gru_reset_before_target", dtype="float64"),
    "numpy.clip_eps": _builtin("numpy_clip_target", eps=1e-6, scope="global"),
    "numpy.clip_per_tensor": _builtin("numpy_clip_target", eps=0.0, scope="per_tensor"),
    "torch": _builtin("torch_target", dtype="float64"),
    "torch.float32": _builtin("torch_target", dtype="float32"),
    "torch.float16": _builtin("torch_target", dtype="float16"),
    "torch.bfloat16": _builtin("torch_target", dtype="bfloat16"),
    "torch.nn": _adapter("torch_nn", "target", dtype="float32"),
    "torch.nn.float64": _adapter("torch_nn", "target", dtype="float64"),
    "torch.nn.relu": _adapter("torch_nn", "relu_target", dtype="float32"),
    "torch.nn.float16": _adapter("torch_nn", "target", dtype="float16"),
    "torch.nn.bfloat16": _adapter("torch_nn", "target", dtype="bfloat16"),
    "torch.nn.autocast": _adapter("torch_autocast", "target", dtype="bfloat16"),
    "torch.nn.functional": _adapter("torch_nn", "functional_target", dtype="float32"),
    "torch.cuda": _adapter("torch_device", "torch_ref_cuda_target", dtype="float64"),
    "torch.cuda.float32": _adapter("torch_device", "torch_ref_cuda_target", dtype="float32"),
    "torch.nn.cuda": _adapter("torch_device", "torch_nn_cuda_target", dtype="float32"),
    "torch.nn.cuda.tf32": _adapter("torch_device", "torch_nn_cuda_target", dtype="float32", tf32=True),
    "keras": _adapter("keras3", "target", dtype="float32"),
    "keras.gru_reset_before": _adapter("keras3", "gru_reset_before_target", dtype="float32"),
    "keras.mixed_bfloat16": _adapter("keras3_mixed", "target", dtype="bfloat16"),
    "keras.relu": _adapter("keras3", "relu_target", dtype="float32"),
    "keras.clipnorm": _adapter("keras3", "clipnorm_target", dtype="float32"),
    "keras.global_clipnorm": _adapter("keras3", "global_clipnorm_target", dtype="float32"),
    "flax": _adapter("flax_linen", "target", dtype="float32"),
    "flax.float64": _adapter("flax_linen", "target", dtype="float64"),
    "flax.optimized_lstm": _adapter("flax_linen", "optimized_lstm_target", dtype="float32"),
    "optax": _adapter("optax_clip", "target", dtype="float32"),
    "onnxruntime": _adapter("ort", "target", dtype="float32"),
    "onnxruntime.gru_reset_before": _adapter("ort", "gru_reset_before_target", dtype="float32"),
    "onnxruntime.relu": _adapter("ort", "relu_target", dtype="float32"),
}
#: what a plain `pytest` checks when no target is named (float32 through torch; every built-in, numpy.float32
#: and the adapters included, is checked by `dlproof summaries` in CI's slow step)
DEFAULT_TARGETS = ("numpy", "numpy.relu", "numpy.gru_reset_before", "numpy.clip_eps", "numpy.clip_per_tensor",
                   "torch", "torch.float32")
ENV_VAR = "DLPROOF_TARGET"


def load_target(spec: str) -> Target:
    """A Target from ``spec`` (built-in name or ``module:attr``)."""
    if not isinstance(spec, str) or not spec.strip():
        raise TargetLoadError(f"target spec must be a non-empty string, got {spec!r}")
    spec = spec.strip()
    if spec in BUILTINS:
        try:
            obj = BUILTINS[spec]()
        except ImportError as exc:
            raise TargetLoadError(f"built-in target {spec!r} is unavailable: {exc}") from exc
    elif ":" in spec:
        mod_name, _, attr = spec.partition(":")
        _cwd_importable()
        try:
            obj = importlib.import_module(mod_name)
        except ModuleNotFoundError as exc:
            hint = ""
            if exc.name and mod_name.split(".")[0] == exc.name.split(".")[0]:
                hint = (f"; no {exc.name.split('.')[0]}.py (or package) in the current folder {os.getcwd()!r} or on "
                        "sys.path: run from the folder that holds it, or add that folder to PYTHONPATH")
            raise TargetLoadError(f"target {spec!r}: cannot import module {mod_name!r}: "
                                  f"{type(exc).__name__}: {exc}{hint}") from exc
        except Exception as exc:  # noqa: BLE001 - any import failure is the user's to see, named
            raise TargetLoadError(f"target {spec!r}: cannot import module {mod_name!r}: "
                                  f"{type(exc).__name__}: {exc}") from exc
        except SystemExit as exc:  # a module that exits at import: a load error, not the end of the run
            raise TargetLoadError(f"target {spec!r}: importing module {mod_name!r} called sys.exit({exc.code!r})") from exc
        for part in attr.split("."):
            if not hasattr(obj, part):
                close = difflib.get_close_matches(part, [n for n in dir(obj) if not n.startswith("__")], n=3)
                raise TargetLoadError(f"target {spec!r}: {getattr(obj, '__name__', obj)!r} has no attribute {part!r}"
                                      + (f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""))
            obj = getattr(obj, part)
        if not isinstance(obj, Target) and callable(obj):
            try:
                obj = obj()
            except Exception as exc:  # noqa: BLE001
                raise TargetLoadError(f"target {spec!r}: calling the factory raised {type(exc).__name__}: {exc}") from exc
    else:
        close = difflib.get_close_matches(spec, list(BUILTINS), n=3)
        raise TargetLoadError(f"unknown target {spec!r}: "
                              + (f"did you mean {' or '.join(repr(c) for c in close)}? " if close else "")
                              + f"use a built-in name {sorted(BUILTINS)} or 'module:attribute'")
    if not isinstance(obj, Target):
        raise TargetLoadError(f"target {spec!r} gives {type(obj).__name__}, but should give a dlproof.target.Target")
    return obj


def _cwd_importable() -> None:
    """The current folder on sys.path (appended, so it never shadows an installed module), as pytest does."""
    cwd = os.getcwd()
    if not any(p in ("", cwd) or (p and os.path.abspath(p) == cwd) for p in sys.path):
        sys.path.append(cwd)


def specs_from(option_values, env=None) -> list:
    """Target specs: the --target options, else $DLPROOF_TARGET (comma-separated), else the defaults."""
    if option_values:
        return list(option_values)
    env = os.environ.get(ENV_VAR, "") if env is None else env
    named = [s.strip() for s in env.split(",") if s.strip()]
    if env.strip() and not named:
        raise TargetLoadError(f"${ENV_VAR}={env!r} names no target; use comma-separated specs")
    return named or list(DEFAULT_TARGETS)
