"""Use dlproof in your own pytest suite: one assertion checks an implementation against the derivations.

::

    import torch
    from dlproof.testing import assert_conforms, torch_module

    def test_my_lstm_matches_the_math():
        model = torch.nn.LSTM(input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
        assert_conforms(torch_module(model), properties=["stack.lstm.*"])

`assert_conforms(target, properties=None, profile="dev", seed=0, report_dir=None)` runs the selected properties
of the conformance suite on ``target`` and raises `ConformanceError` (an ``AssertionError``, so pytest shows a
plain test failure) when any of them fails or errors. The message lists each failing row as ``dlproof conform``
and the pytest plugin do: target and property id, verdict and message (with the shrunk example), the wrong part
(``forward`` / ``backward``), the likely bug when the pattern is known, and the ``python -m dlproof repro ...``
command that replays the saved example. On success it returns the report (the dict written to
``correctness.json``; ``report["results"]`` holds one row per selected property).

**target** is one of

- a spec string as ``dlproof conform`` takes it: a built-in name (``"numpy"``, ``"torch.nn"``, ``"keras"``, ...)
  or ``"package.module:attribute"`` (a `dlproof.target.Target` or a factory returning one). It runs in the
  supervised child process of ``dlproof conform`` (`dlproof.runner`): a crash or a hang in the target becomes an
  ``error`` / ``fail`` row, and the rows, messages and repro files are exactly those of ``dlproof conform``.
- a `dlproof.target.Target` you built in the test, or a live object: a ``torch.nn.Module`` (adapted by
  `torch_module`) or a Keras layer or model (adapted by `keras_layer`). A live object cannot be re-imported by a
  child process, so these run **in this process**, through the same harness (`dlproof.properties.harness.run`)
  that the child process uses, so the rows are the same. The consequences: a segfault or an abort inside the
  target ends the test process itself (a Python exception in the target is still an ``error`` row); a hang is
  stopped only by the per-call timer (`dlproof.properties.assertions.CALL_TIMEOUT`, SIGALRM, main thread),
  not by a supervisor that can kill C code; what the target prints goes to the test's own output; and the repro
  command names the target by its label, so to replay it pass ``repro_spec="tests.my_targets:make"`` (a
  ``module:factory`` that builds the same target) or replace ``--target`` in the printed command yourself.

**properties**: None (every property), or a list of entries (a single string is one entry), each
an exact property id (``"lstm.vjp"``), an ``fnmatch`` pattern on ids (``"lstm.*"``, ``"stack.*"``), or a chapter
name or id prefix (``"layernorm"``, ``"ln"``, ``"bidirectional"``: the properties whose id starts with the
chapter's prefix or that use one of its capabilities). An entry that selects nothing is a ``ValueError`` naming
it (with close matches): a misspelt id never passes silently. `select_properties` shows what a list selects.

A property whose capabilities the target lacks is "not provided": not an error. But if **nothing** was checked
(every selected property is not provided), `assert_conforms` raises `ConformanceError` saying so: a test that
checked nothing must not pass.

**profile**: ``"dev"`` (20 examples per property; default, for a test suite), ``"ci"`` (100, derandomized; the
committed reports) or ``"thorough"`` (1000). **seed** fixes Hypothesis' draws of the randomized profiles
(default 0: the same examples on every run; None: a fresh seed each run, recorded in the report).
**report_dir**: where the run folder goes (default ``reports/latest`` under the current folder, as
``dlproof conform``): ``REPORT/runs/<run id>/correctness.json``, ``.md`` and ``repro/*.npz`` (see
`dlproof.runfolder`).

`conformance_params(properties, target=None)` gives one ``pytest.param`` per selected property, for one test
per property::

    @pytest.mark.parametrize("prop", conformance_params(["lstm.*"]))
    def test_lstm(prop):
        assert_conforms(my_target, properties=[prop])

Layer: application (with `dlproof.pytest_plugin`); it imports the runner, the run folders, the suite, the
adapters and the loader, never `dlproof.cli`.
"""
from __future__ import annotations

import difflib
import fnmatch
import os
import sys
import time

from dlproof.target import Target

__all__ = ["ConformanceError", "assert_conforms", "conformance_params", "keras_layer", "select_properties",
           "torch_module"]

#: the report folder used when ``report_dir`` is not given (the default of ``dlproof conform --report``)
DEFAULT_REPORT = os.path.join("reports", "latest")
PROFILES = ("dev", "ci", "thorough")


class ConformanceError(AssertionError):
    """The target contradicts the derivations (a fail row), raised (an error row), or nothing was checked.

    ``report`` is the report dict (as in ``correctness.json``; None if no run happened), ``failures`` its
    failing rows (verdict fail, error or internal-error)."""

    def __init__(self, message: str, report: dict | None = None):
        super().__init__(message)
        self.report = report
        from dlproof.properties.results import FAILING

        self.failures = [r for r in (report or {}).get("results", []) if r["verdict"] in FAILING]


# ---- selecting properties -----------------------------------------------------------------------

def _entries(properties) -> list:
    if properties is None:
        return []
    if isinstance(properties, str):
        properties = [properties]
    try:
        entries = list(properties)
    except TypeError:
        raise TypeError(f"properties: expected None, a string or a list of strings, got "
                        f"{type(properties).__name__}") from None
    for e in entries:
        if not isinstance(e, str) or not e.strip():
            raise ValueError(f"properties: every entry should be a non-empty string (a property id, a pattern "
                             f"such as 'lstm.*', or a chapter name), got {e!r}")
    if not entries:
        raise ValueError("properties: the list is empty; pass None to select every property")
    return [e.strip() for e in entries]


def _chapter_ids(name: str, props: dict) -> list | None:
    """Ids of the chapter named ``name`` (its name or id prefix): id starts with the prefix, or the property
    uses one of the chapter's capabilities. None if ``name`` is no chapter."""
    from dlproof.capabilities import CHAPTER_BY_NAME, capabilities_of, chapter_of_prefix

    chapter = CHAPTER_BY_NAME.get(name) or chapter_of_prefix(name)
    if chapter is None:
        return None
    caps = {c.name for c in capabilities_of(chapter.name)}
    return [pid for pid, p in props.items() if pid.startswith(chapter.prefix + ".") or caps & set(p.capabilities)]


def select_properties(properties=None) -> list:
    """The property ids ``properties`` selects, in registry order (see the module docstring for the entries:
    id, fnmatch pattern, chapter name or prefix). ValueError naming an entry that selects nothing."""
    from dlproof.properties.registry import all_properties

    props = all_properties()
    entries = _entries(properties)
    if not entries:
        return list(props)
    chosen: set = set()
    for e in entries:
        if e in props:
            hits = [e]
        elif any(c in e for c in "*?["):
            hits = [pid for pid in props if fnmatch.fnmatchcase(pid, e)]
        else:
            hits = _chapter_ids(e, props)
        if hits == [] and _chapter_ids(e, {}) is not None:
            raise ValueError(f"properties: the chapter {e!r} has no properties in this version of dlproof")
        if not hits:
            from dlproof.capabilities import CHAPTERS

            names = list(props) + [c.name for c in CHAPTERS] + [c.prefix for c in CHAPTERS]
            close = difflib.get_close_matches(e, names, n=3)
            raise ValueError(f"properties: {e!r} is no property id, chapter or matching pattern"
                             + (f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else "")
                             + " (`python -m dlproof conform numpy --all` lists the ids)")
        chosen.update(hits)
    return [pid for pid in props if pid in chosen]


def conformance_params(properties=None, target=None) -> list:
    """One ``pytest.param(property_id, id=property_id)`` per selected property, for
    ``@pytest.mark.parametrize("prop", conformance_params([...]))`` and ``assert_conforms(t, properties=[prop])``.
    With a `Target` (or a live object, adapted as in `assert_conforms`), a property the target does not provide
    gets a skip mark saying which capabilities are missing (its own `assert_conforms` would raise "nothing
    was checked")."""
    import pytest

    from dlproof.properties.registry import all_properties

    ids = select_properties(properties)
    if target is None or isinstance(target, str):
        return [pytest.param(pid, id=pid) for pid in ids]
    t = _as_target(target)
    props = all_properties()
    out = []
    for pid in ids:
        missing = [c for c in props[pid].capabilities if not t.provides(c)]
        marks = [pytest.mark.skip(reason=f"{t.name} does not provide {missing}")] if missing else []
        out.append(pytest.param(pid, id=pid, marks=marks))
    return out


# ---- adapting live objects ----------------------------------------------------------------------

def _torch_dtype(module, dtype):
    if dtype is not None:
        if dtype not in ("float32", "float64"):
            raise ValueError(f"torch_module: dtype should be 'float32' or 'float64', got {dtype!r}")
        return dtype
    p = next(iter(module.parameters()), None)
    return "float64" if p is not None and str(p.dtype) == "torch.float64" else "float32"


def _sizes_of(module) -> tuple:
    """(n, m) of a module or cell run one layer at a time."""
    return module.hidden_size, module.input_size


def _is_stacked(module) -> bool:
    return module.num_layers > 1 or module.bidirectional or bool(getattr(module, "proj_size", 0))


def _call_sizes(kind: str, args) -> tuple | None:
    """The sizes a call's params ask for (as `_sizes_of`), or None when the params are not well formed (the
    module's own-size target then names the problem)."""
    from collections.abc import Mapping

    from dlproof.parameters import PARAMS

    key = PARAMS[kind][0]  # W_x / W_xi / W_xr: (n, m)

    def nm(p):
        shape = getattr(p.get(key), "shape", None) if isinstance(p, Mapping) else None
        return tuple(map(int, shape)) if shape is not None and len(shape) == 2 and min(shape) >= 1 else None

    return next((nm(a) for a in args if isinstance(a, Mapping) and key in a), None)


def _rebuild(module, sizes: tuple):
    """A fresh module of the user's class and configuration at ``sizes`` (as `_sizes_of`)."""
    import torch

    nn = torch.nn
    n, m = sizes
    cfg = {"input_size": m, "hidden_size": n, "bias": module.bias}
    if isinstance(module, (nn.RNN, nn.RNNCell)):
        cfg["nonlinearity"] = module.nonlinearity
    if isinstance(module, nn.RNNBase):
        cfg["batch_first"] = module.batch_first
    return type(module)(**cfg)


def _resized(module, kind: str, dtype: str, adapt) -> Target:
    """``adapt(module, dtype)`` over a fresh module of the user's class and configuration for every size the
    params of a call ask for (the suite draws the sizes), as the Keras adapters do; the module's own size runs a copy of the module itself."""
    import functools
    from dataclasses import replace

    own_sizes = _sizes_of(module)
    own = adapt(module, dtype)  # validates the configuration, names the module
    try:
        _rebuild(module, own_sizes)
    except Exception as exc:  # noqa: BLE001 - a subclass whose constructor takes other arguments
        raise TypeError(f"torch_module: cannot build a {type(module).__qualname__} of other sizes (the suite draws "
                        f"them): {type(module).__qualname__}(input_size=..., hidden_size=..., ...) raised "
                        f"{type(exc).__name__}: {exc}; pass resize=False to run the module at its own size only "
                        "(examples of other sizes are then errors)") from exc

    @functools.lru_cache(maxsize=64)
    def at(sizes):
        return own if sizes is None or sizes == own_sizes else adapt(_rebuild(module, sizes), dtype)

    def dispatch(cap):
        def call(*args):
            return getattr(at(_call_sizes(kind, args)), cap)(*args)

        call.__name__ = cap
        return call

    return replace(own, name=f"{own.name} [resized to each example's sizes]",
                   **{c: dispatch(c) for c in own.capabilities})


def torch_module(module, dtype: str | None = None, resize: bool = True) -> Target:
    """A `Target` over the user's torch.nn module (never modified; the adapters run copies).

    - one-layer ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` and the cells ``nn.RNNCell`` / ``LSTMCell`` / ``GRUCell``:
      `dlproof.impl.adapters.torch_nn.from_modules` ({kind}, {kind}_vjp, {kind}_cell; {kind}_bi for a one-layer
      bidirectional module). With ``resize`` (default) every call runs a fresh module of the user's class and
      configuration (subclasses included: their ``forward`` runs) built for the sizes of the call's params, as
      the property suite draws its own sizes; ``resize=False`` runs the module's own size only.
    - multi-layer, bidirectional or projected (``proj_size > 0``) RNN / LSTM / GRU:
      ``dlproof.impl.adapters.torch_nn_stacked.from_module`` ({kind}_stack, {kind}_stack_vjp), resized likewise
      (a fresh module per call with the call's number of layers, directions, sizes and projection size);
    - ``nn.LayerNorm``: ``dlproof.impl.adapters.torch_nn_layernorm.from_module``;
    - ``nn.MultiheadAttention`` (exactly that class, in a configuration `torch_nn_attention.module_params`
      accepts): ``mha`` and ``mha_vjp`` of `torch_nn_attention.capabilities`; the suite draws its own sizes,
      head counts and weights, so this checks the class under that configuration, not the module's weights.

    ``dtype``: "float32" or "float64"; None: the module's parameter dtype (float32 when it has none).
    TypeError for any other object, naming the supported classes."""
    try:
        import torch
    except ImportError as exc:
        raise ImportError(f"torch_module: torch is not installed ({exc})") from None
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"torch_module: expected a torch.nn.Module, got {type(module).__name__}")
    nn = torch.nn
    dtype = _torch_dtype(module, dtype)
    kinds = {nn.RNNCell: "rnn", nn.LSTMCell: "lstm", nn.GRUCell: "gru", nn.RNN: "rnn", nn.LSTM: "lstm", nn.GRU: "gru"}
    kind = next((k for cls, k in kinds.items() if isinstance(module, cls)), None)
    if kind is not None:
        from dlproof.impl.adapters import torch_nn

        def one_layer(mod, dt):
            return torch_nn.from_modules(**{kind: mod}, dtype=dt)

        if isinstance(module, nn.RNNBase) and _is_stacked(module):  # resized by the stacked adapter itself
            from dlproof.impl.adapters import torch_nn_stacked
            return torch_nn_stacked.from_module(module, dtype, resize=resize)
        return _resized(module, kind, dtype, one_layer) if resize else one_layer(module, dtype)
    if isinstance(module, nn.LayerNorm):
        from dlproof.impl.adapters import torch_nn_layernorm
        return torch_nn_layernorm.from_module(module, dtype)
    if isinstance(module, nn.MultiheadAttention):
        if type(module) is not nn.MultiheadAttention:
            raise TypeError(f"torch_module: {type(module).__qualname__} is a subclass of nn.MultiheadAttention: not "
                            "supported (the attention adapter runs torch's own class, so your forward would not "
                            "be checked); write a Target for it")
        from dlproof.impl.adapters import torch_nn_attention

        torch_nn_attention.module_params(module)  # ValueError for a configuration outside the protocol
        caps = torch_nn_attention.capabilities(dtype)
        return Target(name=f"torch.nn.MultiheadAttention(embed_dim={module.embed_dim}, num_heads="
                           f"{module.num_heads}) class (torch {torch.__version__.split('+')[0]}, {dtype})",
                      dtype=dtype, mha=caps["mha"], mha_vjp=caps["mha_vjp"])
    covered = _BUILTIN_COVERS.get(type(module).__name__)
    raise TypeError(f"torch_module: {type(module).__name__} is not supported; supported: nn.RNN, nn.LSTM, "
                    "nn.GRU (one or more layers, bidirectional, proj_size), nn.RNNCell, nn.LSTMCell, nn.GRUCell, "
                    "nn.LayerNorm, nn.MultiheadAttention; for another module write a Target (README: "
                    "'Check your own implementation')"
                    + (f". torch's own nn.{type(module).__name__} class is checked by the built-in target: "
                       f"assert_conforms('torch.nn', properties={covered!r}) or dlproof conform torch.nn -k "
                       f"'{','.join(covered)}'" if covered else ""))


#: torch.nn module classes that torch_module does not adapt but the built-in torch.nn target checks (its class, at
#: the drawn sizes): class name -> the property patterns that cover it
_BUILTIN_COVERS = {"Conv1d": ["conv1d.*"], "Conv2d": ["conv2d.*"], "BatchNorm1d": ["bn.*"], "Dropout": ["dropout.*"],
                   "Linear": ["mlp.*"]}


def keras_layer(layer, **kw) -> Target:
    """A `Target` over the user's Keras layer: `dlproof.impl.adapters.keras3.from_layer(layer, **kw)` (a
    SimpleRNN / LSTM / GRU layer, a cell, or a Bidirectional over one); a ``keras.Model`` goes to
    ``keras3.from_model(layer, **kw)`` where that adapter exists (stacked models), else from_layer refuses it."""
    try:
        from dlproof.impl.adapters import keras3
    except ImportError as exc:
        raise ImportError(f"keras_layer: Keras is not available ({exc})") from None
    import keras

    if isinstance(layer, keras.Model) and hasattr(keras3, "from_model"):
        return keras3.from_model(layer, **kw)
    covered = _KERAS_BUILTIN_COVERS.get(type(layer).__name__)
    try:
        return keras3.from_layer(layer, **kw)
    except ValueError as exc:
        if covered is None:
            raise
        raise ValueError(f"{exc}. Keras' own {type(layer).__name__} class is checked by the built-in target: "
                         f"assert_conforms('keras', properties={covered!r}) or dlproof conform keras -k "
                         f"'{','.join(covered)}'") from None


#: Keras layer classes that keras_layer does not adapt but the built-in keras target checks (its class, at the drawn
#: sizes): class name -> the property patterns that cover it
_KERAS_BUILTIN_COVERS = {"LayerNormalization": ["ln.*"]}


def _live_kind(obj) -> str | None:
    """"keras" before "torch": on Keras' torch backend a Keras layer is also a torch.nn.Module."""
    keras = sys.modules.get("keras")
    if keras is not None and isinstance(obj, keras.layers.Layer):
        return "keras"
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.nn.Module):
        return "torch"
    return None


def _as_target(obj) -> Target:
    if isinstance(obj, Target):
        return obj
    kind = _live_kind(obj)
    if kind == "torch":
        return torch_module(obj)
    if kind == "keras":
        return keras_layer(obj)
    raise TypeError(f"target: expected a spec string ('numpy', 'torch.nn', 'package.module:attr'), a "
                    f"dlproof.target.Target, a torch.nn.Module or a Keras layer, got {type(obj).__name__}")


# ---- running ------------------------------------------------------------------------------------

def _exact(pid: str) -> str:
    """An ``-k`` term (`dlproof.runner.select`) that matches exactly ``pid``: a bracketed first character makes it
    an fnmatch pattern on the whole id (a plain term would be a substring match)."""
    import glob

    return f"[{pid[0]}]{glob.escape(pid[1:])}"


def _run_spec(spec: str, ids: list, profile: str, seed, report_dir) -> dict:
    """``dlproof conform spec`` restricted to ``ids``: the supervised runner, its child process and rows."""
    from dlproof import runner
    from dlproof.loader import load_target
    from dlproof.runfolder import RunFolder

    target = load_target(spec)  # TargetLoadError (naming the spec and the cause) before anything is written
    run_folder = RunFolder.create(report_dir)
    opts = runner.Options(specs=[spec], profile=profile, report_dir=str(report_dir),
                          expr=",".join(_exact(p) for p in ids), seed=seed,
                          command=["dlproof.testing.assert_conforms", spec])
    try:
        outcome = runner.run(opts, {spec: target}, run_folder)
    finally:
        run_folder.finish()
    if outcome.status == "interrupted":  # Ctrl-C: stop the test session as pytest does
        raise KeyboardInterrupt(f"dlproof: the run on {spec} was interrupted; partial report in {outcome.run_dir}")
    if outcome.status != "complete":
        raise ConformanceError(f"dlproof: the run on {spec} was {outcome.status}: {outcome.message}; report in "
                               f"{outcome.run_dir}", outcome.report)
    return outcome.report


def _run_here(target: Target, label: str, ids: list, profile: str, seed, report_dir) -> dict:
    """The same rows in this process: `harness.run` per property (as the runner's child does), then the report
    published into a fresh run folder. The rows stay out of `results.ROWS` (a pytest session's plugin report)."""
    from dlproof.properties import harness, results
    from dlproof.properties.registry import all_properties
    from dlproof.runfolder import RunFolder

    props = all_properties()
    run_folder = RunFolder.create(report_dir)
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    kept = len(results.ROWS)
    rows = []
    try:
        for pid in ids:
            rows.append(harness.run(props[pid], target, label, profile=profile, report_dir=run_folder.path,
                                    seed_value=seed, raises=False))
    except BaseException:
        run_folder.finish()
        raise
    finally:
        del results.ROWS[kept:]
    prov = results.provenance(seed="derandomized" if profile == "ci" else seed, profile=profile,
                              targets={label: target.describe()},
                              command=["dlproof.testing.assert_conforms", label, "(in-process)"])
    info = {"id": run_folder.run_id, "targets": [label], "started": started,
            "ended": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "status": "complete",
            "planned_rows": len(rows)}
    return results.publish(run_folder, rows, prov, info)


def _message(report: dict, report_dir, in_process: bool, replay_hint: bool) -> str:
    from dlproof.properties.results import FAILING, failure_lines

    rows = report["results"]
    bad = [r for r in rows if r["verdict"] in FAILING]
    checked = [r for r in rows if r["verdict"] != "not provided"]
    where = os.path.join(str(report_dir), "runs", report["run"]["id"])
    lines = [f"dlproof: {len(bad)} of {len(checked)} checked properties did not pass on {rows[0]['target']} "
             f"({report['provenance']['profile']} profile); report in {where}"]
    for r in bad:
        lines += failure_lines(r, code=str)
    if in_process and replay_hint and any(r.get("repro") for r in bad):
        lines.append("(checked in this process: to replay, give --target a module:factory that builds this target, "
                     "or pass repro_spec= to assert_conforms)")
    return "\n".join(lines)


def assert_conforms(target, properties=None, profile: str = "dev", seed: int | None = 0, report_dir=None,
                    repro_spec: str | None = None) -> dict:
    """Check ``target`` against the derivations; raise `ConformanceError` on any failing or error row, or when no
    selected property applies. Returns the report (``report["results"]``: one row per selected property).

    ``target``: a spec string (run as ``dlproof conform`` runs it, in a supervised child process), a `Target`,
    a torch.nn.Module (`torch_module`) or a Keras layer (`keras_layer`) (these run in this process; see the module
    docstring for what that changes). ``properties``: None, or ids / fnmatch patterns / chapter names
    (`select_properties`). ``profile``: "dev" | "ci" | "thorough". ``seed``: Hypothesis' seed (None: random).
    ``report_dir``: the report folder (default ``reports/latest``). ``repro_spec``: for an in-process target,
    the ``module:factory`` spec its repro commands name (default: the target's name, which does not import)."""
    __tracebackhide__ = True  # pytest shows the failure message, not dlproof's source
    if profile not in PROFILES:
        raise ValueError(f"profile: expected one of {PROFILES}, got {profile!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 32):
        raise ValueError(f"seed: expected None or an integer in [0, 2**32), got {seed!r}")
    if repro_spec is not None and (not isinstance(repro_spec, str) or not repro_spec.strip()):
        raise ValueError(f"repro_spec: expected a non-empty spec string ('module:factory'), got {repro_spec!r}")
    ids = select_properties(properties)
    report_dir = DEFAULT_REPORT if report_dir is None else os.fspath(report_dir)
    if isinstance(target, str):
        if repro_spec is not None:
            raise ValueError("repro_spec: only for a Target or a live object; a spec string names itself in the "
                             "repro commands")
        in_process = False
        report = _run_spec(target, ids, profile, seed, report_dir)
    else:
        in_process = True
        t = _as_target(target)
        label = repro_spec.strip() if repro_spec else f"{t.name} [in-process]"
        report = _run_here(t, label, ids, profile, seed, report_dir)
    rows = report["results"]
    from dlproof.properties.results import FAILING

    if any(r["verdict"] in FAILING for r in rows):
        raise ConformanceError(_message(report, report_dir, in_process, replay_hint=repro_spec is None), report)
    if all(r["verdict"] == "not provided" for r in rows):
        why = sorted({r["message"] for r in rows})
        raise ConformanceError(
            f"dlproof: nothing was checked: none of the {len(rows)} selected properties applies to "
            f"{rows[0]['target'] if rows else target!r} ({'; '.join(why)[:500]}); select properties of "
            "capabilities it provides", report)
    return report
