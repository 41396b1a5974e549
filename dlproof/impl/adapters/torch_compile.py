"""torch.compile (TorchDynamo + Inductor, CPU) of the torch references and of the torch.nn recurrent modules.

Not a built-in target yet: a conformance run compiles a graph per shape class the strategies draw (1-5 s each on
a 2-core CPU), so a whole ci-profile run takes far longer than CI allows (a dev run of torch_ref_target passed
24 minutes). A user's target built from these factories may declare ``conventions={"shapes": "bounded"}``
(properties/shapes.py): each property then draws at most 4 shape tuples (measured on 4 properties: 49 graphs
compiled drawing freely, 21 bounded); these factories keep the free draws of the eager targets. Load the
targets by spec: ``dlproof conform dlproof.impl.adapters.torch_compile:torch_ref_target -k rnn.`` (or
``:torch_nn_target``). Open: torch_nn_target failed ``gru.bounded_state`` once in a dev run, unexplained, and a
whole-target in-process run of torch_ref_target ended in a segfault after 24 minutes.

What is compiled, and how (the same conventions as the eager targets; only the kernels differ):

- `torch_ref_target(dtype)`: the torch references (`dlproof.impl.torch_ref`) with their
  tensor-level helpers replaced by ``torch.compile(helper, backend=<Inductor, counted>, dynamic=True,
  fullgraph=True)`` (`HELPERS`): the per-step cells (rnn/lstm ``_cell``, gru ``_step``), the sequence runs
  (``_run``, whose loop over T dynamo unrolls), the MLP and residual stacks, the batch-norm training forward,
  the layer norm, attention and multi-head attention, the NTK network. The
  reference's own code runs around them: each capability is the reference function rebuilt over a copy of its
  module's namespace in which the helpers are compiled (`compiled_view`; the modules themselves are never
  patched), so validation, NumPy <-> torch conversion and autograd stay as in the eager reference, and the
  gradients (torch.autograd through the compiled graphs) come from AOTAutograd's compiled backward. The stacks
  (`stacked`) loop over layers, directions and steps in Python and run the compiled per-step cells;
  bidirectional runs the compiled sequence runs.
  Left out (verdict "not provided"), because their torch ops sit in the capability function itself or cannot
  be traced (`NOT_COMPILED` gives each reason): softmax, softmax_vjp, lstm_peephole_cell, lstm_proj_cell,
  dropout, dropout_vjp, clip_grad_norm, clip_grad_value, and the convolutions (Inductor's lowering of the
  reference's unfold with dynamic shapes raised an InductorError in a conformance run, torch 2.13.0).
- `torch_nn_target(dtype)`: the torch.nn adapter's recurrent capabilities (nn.RNNCell /
  LSTMCell / GRUCell, nn.RNN / LSTM / GRU, bidirectional, their gradients) with every fresh module called
  through one compiled function ``torch.compile(lambda mod, *a: mod(*a))`` (what ``module.compile()`` does,
  with one cache per module class and direction) under ``torch._dynamo.config.allow_rnn=True``: without it
  dynamo does not trace nn.RNN / LSTM / GRU and runs them eagerly, silently (finding
  torch-compile-rnn-modules-run-eager). Not checked here: which of the module's ops Inductor turns into
  generated code and which it leaves as extern calls (e.g. ATen's mm). The other chapters' torch.nn
  capabilities and clipping are left out (not compiled here).

Compiled code must be what runs: ``fullgraph=True`` makes a graph break an error, and every call of a compiled
helper checks that it ran at least one compiled graph (the counting backend below); a call that ran none
(recompile limit reached, dynamo skipped the frame) raises `EagerFallback` (RuntimeError), so a silent
fallback to eager can never pass. `counts()` reports the dynamo graphs compiled and their calls, the fresh
Inductor compilations of forward and backward graphs (hits of Inductor's on-disk caches are not counted) and,
per capability, the calls and those that ran compiled code; `reset_counts()` zeroes them.

Measured (torch 2.13.0, a shared 2-core CPU): lstm, lstm_vjp and lstm_cell on three problems of different sizes
compile 5 dynamo graphs in ~10 s (torch.compile) and 13 (torch.nn.compile); `-k rnn.forward,lstm.vjp` with the
dev profile on both targets takes 205 s; a whole-target dev run of torch.compile took more than 24 minutes.

Bound on compiles: ``dynamic=True`` makes the sizes symbolic (B, m, n, ...), so a helper recompiles only for
what dynamo specializes on: the number of steps T of an unrolled ``_run`` (the strategies draw T <= 5), which
sizes are 0 or 1 (dynamo specializes those), grad mode (forward / under autograd), the number of layers of the
MLP and residual stacks, booleans (causal); for a sequence helper that is at most 6 x 2^3 x 2 = 96 graphs
(T, B / m / n of size 1 or not, grad mode); a cell at most 16. The torch.nn modules also specialize on
input_size and hidden_size (nn.RNN's own size checks). Each helper's cache holds at most `RECOMPILE_LIMIT`
graphs and all together `ACCUMULATED_LIMIT` (set around each call); past them dynamo would fall back to eager,
which raises `EagerFallback` rather than run uncompiled.

Arithmetic: Inductor may fuse pointwise operations, contract to FMA and split reductions differently; the
float32 error model is order-free, so no extra convention is declared (the eager torch targets' conventions).
float32 and float64 only (`startup.DTYPES`).
"""
from __future__ import annotations

import functools
import importlib
import threading
import types
from collections import Counter
from dataclasses import dataclass, field

from dlproof.target import Target

from . import startup
from .startup import torch as _torch
from .startup import torch_version

#: chapter module of dlproof.impl.torch_ref -> its tensor-level helpers that are compiled
HELPERS = {
    "rnn": ("_cell", "_run"),
    "lstm": ("_cell", "_run"),
    "gru": ("_step", "_run"),
    "backprop": ("_run",),
    "residual": ("_run",),
    "batchnorm": ("_train_forward",),
    "layernorm": ("_forward",),
    "attention": ("_attend", "_mha"),
    "ntk": ("_f",),
}
#: chapter modules that compute through other chapters' helpers (their references to those modules become views)
USES = {"bidirectional": ("rnn", "lstm", "gru"), "stacked": ("rnn", "lstm", "gru")}
#: torch_ref capabilities left out of the compiled target, and why
NOT_COMPILED = {
    "softmax": "torch.softmax is called in the capability function itself: no tensor-level helper to compile",
    "softmax_vjp": "torch.softmax is called in the capability function itself: no tensor-level helper to compile",
    "lstm_peephole_cell": "its torch ops sit in the capability function itself: no tensor-level helper",
    "lstm_proj_cell": "its torch ops sit in the capability function itself: no tensor-level helper",
    "dropout": "the mask is drawn from a seeded torch.Generator, which dynamo does not trace (graph break)",
    "dropout_vjp": "the mask is drawn from a seeded torch.Generator, which dynamo does not trace (graph break)",
    "clip_grad_norm": "the norm is taken to a Python float and branched on (.item(): a graph break per call)",
    "clip_grad_value": "it branches on torch.finfo of the tensor in the capability function: no helper",
    **dict.fromkeys(("conv1d", "conv1d_vjp", "conv2d", "conv2d_vjp"),
                    "Inductor failed to compile the reference's unfold with dynamic shapes in a conformance run "
                    "(InductorError: LoweringException: AssertionError: 0 not in VR[-int_oo, -1] on a recompile for "
                    "x (1, 1, 2, 1), w (1, 1, 1, 1), torch 2.13.0; not reproduced in isolation)"),
}
#: graphs one compiled helper may hold (dynamo's recompile limit, set around each call)
RECOMPILE_LIMIT = 128
#: graphs all compiled helpers together may hold (dynamo's accumulated limit, default 256, set around each call)
ACCUMULATED_LIMIT = 4096
_ROOT = "dlproof.impl.torch_ref"


class EagerFallback(RuntimeError):
    """A compiled helper returned without running any compiled graph (dynamo fell back to eager)."""


@dataclass
class _Stats:
    graphs: int = 0  # dynamo graphs handed to the backend
    forward_kernels: int = 0  # Inductor compilations of a forward (or inference) graph
    backward_kernels: int = 0  # Inductor compilations of an AOTAutograd backward graph
    graph_calls: int = 0  # calls of a compiled dynamo graph
    calls: Counter = field(default_factory=Counter)  # capability -> calls
    compiled_calls: Counter = field(default_factory=Counter)  # capability -> calls that ran compiled code
    lock: threading.RLock = field(default_factory=threading.RLock)


_STATS = _Stats()


def counts() -> dict:
    """{"graphs", "forward_kernels", "backward_kernels", "graph_calls", "calls": {capability: n},
    "compiled_calls": {capability: n}} since import or the last `reset_counts` (both targets together)."""
    with _STATS.lock:
        return {"graphs": _STATS.graphs, "forward_kernels": _STATS.forward_kernels,
                "backward_kernels": _STATS.backward_kernels, "graph_calls": _STATS.graph_calls,
                "calls": dict(_STATS.calls), "compiled_calls": dict(_STATS.compiled_calls)}


def reset_counts() -> None:
    """Zero the counters (the compiled code stays cached)."""
    with _STATS.lock:
        _STATS.graphs = _STATS.forward_kernels = _STATS.backward_kernels = _STATS.graph_calls = 0
        _STATS.calls.clear()
        _STATS.compiled_calls.clear()


def _inner_compile(gm, example_inputs, *args, **kw):
    from torch._inductor.compile_fx import compile_fx_inner

    with _STATS.lock:
        if kw.get("is_backward"):
            _STATS.backward_kernels += 1
        else:
            _STATS.forward_kernels += 1
    return compile_fx_inner(gm, example_inputs, *args, **kw)


def _backend(gm, example_inputs):
    """Inductor (compile_fx), counting the graphs it is given and the calls of what it returns."""
    from torch._inductor.compile_fx import compile_fx

    with _STATS.lock:
        _STATS.graphs += 1
    compiled = compile_fx(gm, example_inputs, inner_compile=_inner_compile)

    def run(*args):
        with _STATS.lock:
            _STATS.graph_calls += 1
        return compiled(*args)

    return run


def _compile(fn, what: str):
    """``fn`` compiled (Inductor, dynamic shapes, no graph breaks); a call that runs no compiled graph raises
    EagerFallback naming ``what``."""
    torch = _torch()
    import torch._dynamo
    import torch.fx.experimental._config as fx_config

    compiled = torch.compile(fn, backend=_backend, dynamic=True, fullgraph=True)

    @functools.wraps(fn)
    def call(*args, **kw):
        before = _STATS.graph_calls
        with torch._dynamo.config.patch(recompile_limit=RECOMPILE_LIMIT, accumulated_recompile_limit=ACCUMULATED_LIMIT,
                                        allow_rnn=True, allow_unspec_int_on_nn_module=True), \
                fx_config.patch(use_duck_shape=False):
            try:
                out = compiled(*args, **kw)
            except torch._dynamo.exc.FailOnRecompileLimitHit as exc:  # fullgraph: dynamo's refusal to go eager
                raise EagerFallback(f"torch.compile cannot compile {what} again: the recompile limit "
                                    f"({RECOMPILE_LIMIT} per helper, {ACCUMULATED_LIMIT} in all) is reached, and "
                                    f"dynamo would run it without compiled code") from exc
        if _STATS.graph_calls == before:
            raise EagerFallback(f"torch.compile ran {what} without compiled code (dynamo fell back to eager): "
                                "not a compiled result")
        return out

    return call


def _rebuilt(fn, namespace: dict):
    """``fn`` with ``namespace`` as its globals (same code, defaults, closure)."""
    g = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__, fn.__closure__)
    g.__kwdefaults__ = fn.__kwdefaults__
    g.__doc__, g.__qualname__, g.__module__ = fn.__doc__, fn.__qualname__, fn.__module__
    return g


@functools.lru_cache(maxsize=None)
def compiled_view(chapter: str) -> types.ModuleType:
    """A copy of ``dlproof.impl.torch_ref.<chapter>`` whose `HELPERS` are compiled, whose references to the
    chapters in `USES` are their views, and whose other functions run over this copy's namespace (so they
    call the compiled helpers). Cached: one compiled callable per helper for the process."""
    if chapter not in HELPERS and chapter not in USES:
        raise ValueError(f"compiled_view: chapter {chapter!r} has no compiled helpers; one of "
                         f"{sorted({*HELPERS, *USES})}")
    module = importlib.import_module(f"{_ROOT}.{chapter}")
    view = types.ModuleType(module.__name__ + " [torch.compile]", module.__doc__)
    ns = view.__dict__
    ns.update({k: v for k, v in vars(module).items() if k not in ("__name__", "__doc__")})
    used = {importlib.import_module(f"{_ROOT}.{c}"): compiled_view(c) for c in USES.get(chapter, ())}
    for name, value in list(ns.items()):
        if isinstance(value, types.ModuleType) and value in used:
            ns[name] = used[value]
        elif isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
            ns[name] = (_compile(value, f"{chapter}.{name}") if name in HELPERS.get(chapter, ())
                        else _rebuilt(value, ns))
    return view


def _counted(capability: str, fn):
    @functools.wraps(fn)
    def call(*args, **kw):
        before = _STATS.graph_calls
        out = fn(*args, **kw)
        with _STATS.lock:
            _STATS.calls[capability] += 1
            _STATS.compiled_calls[capability] += _STATS.graph_calls > before
        return out

    return call


def torch_ref_target(dtype: str = "float32") -> Target:
    """The torch references with their tensor-level helpers compiled by torch.compile (Inductor, CPU)."""
    from dlproof.capabilities import CAPABILITY_BY_NAME, reference_functions

    from ..targets import _bound, _conventions

    startup.dtype_name("torch_ref_target", dtype)
    conventions = _conventions("tanh", "reset_after")
    caps = {}
    for cap, fn in reference_functions("impl.torch_ref").items():
        chapter = CAPABILITY_BY_NAME[cap].chapter
        if cap in NOT_COMPILED or (chapter not in HELPERS and chapter not in USES):
            continue
        caps[cap] = _counted(cap, _bound(cap, getattr(compiled_view(chapter), cap), conventions))
    return Target(name=f"torch.compile(dlproof.impl.torch_ref) (torch {torch_version()}, Inductor CPU, {dtype})",
                  dtype=dtype, conventions=conventions, **caps)


# ---- torch.nn modules ------------------------------------------------------------------------------------

def _module_call(mod, *args):
    return mod(*args)


@functools.lru_cache(maxsize=None)
def _compiled_module_call(key: str):
    """The compiled `_module_call` for the modules of ``key`` (class and direction): a code object of its own,
    so each key has its own dynamo cache and recompile limit."""
    code = _module_call.__code__.replace(co_name=f"_module_call_{key}")
    fn = types.FunctionType(code, _module_call.__globals__, code.co_name)
    return _compile(fn, f"a {key} module call")


def compile_module(mod):
    """``mod`` (in place) made to run every call through the compiled `_module_call` of its class (and
    direction, for sequence modules); returns ``mod``."""
    key = type(mod).__name__ + ("_bidirectional" if getattr(mod, "bidirectional", False) else "")
    call = _compiled_module_call(key)
    mod._compiled_call_impl = None  # a plain call inside the compiled function: no recursion

    def compiled(*args, **kw):
        if kw:
            raise ValueError(f"compile_module: keyword arguments are not supported, got {sorted(kw)}")
        saved, mod._compiled_call_impl = mod._compiled_call_impl, None
        try:
            return call(mod, *args)
        finally:
            mod._compiled_call_impl = saved

    mod._compiled_call_impl = compiled
    return mod


def torch_nn_target(dtype: str = "float32") -> Target:
    """The torch.nn adapter's recurrent capabilities with each fresh module compiled (`compile_module`)."""
    from . import torch_nn

    class _CompiledFresh(torch_nn._Fresh):
        def sequence(self, kind, ps, bidirectional):
            mod, batch_first = super().sequence(kind, ps, bidirectional)
            return compile_module(mod), batch_first

        def cell(self, kind, p):
            return compile_module(super().cell(kind, p))

    _, td, _ = startup.dtype("torch_nn_target", startup.dtype_name("torch_nn_target", dtype))
    a = torch_nn._Adapter(_CompiledFresh(td, "tanh"), dtype)
    names = [f"{k}{s}" for k in ("rnn", "lstm", "gru") for s in ("_cell", "", "_vjp", "_bi", "_bi_vjp")]
    caps = {c: _counted(c, getattr(a, c)) for c in names}
    return Target(name=f"torch.compile(torch.nn) (torch {torch_version()}, Inductor CPU, {dtype})", dtype=dtype,
                  conventions=torch_nn.conventions("tanh"), **caps)
