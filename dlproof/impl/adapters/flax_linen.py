"""The real flax.linen recurrent cells as conformance-protocol targets (version 1).

Every capability applies a REAL ``flax.linen`` cell (``LSTMCell``, ``OptimizedLSTMCell`` or ``GRUCell``) to
canonical params mapped into flax's storage; sequences are a ``jax.lax.scan`` over ``cell.apply`` (one
step per time step, the cell's own output as hs), the bidirectional capabilities run ``flax.linen.Bidirectional``
over two ``flax.linen.RNN(cell, time_major=True)`` (flax flips the backward direction and flips its outputs
back, so ys = [fwd ; bwd] is time-aligned, and the backward carry is the state after reading x_0).

Canonical params (column vectors, numerator layout; a cell computes ``x @ W_x.T + h @ W_h.T + b`` on batch
rows; sequences are time-major ``(T, B, features)``) map one-to-one into flax's params
(framework-conventions.md §3; a flax ``Dense`` keeps ``kernel`` (in, out) = W^T and computes x @ kernel + bias):

    LSTM (gates i, f, g, o)   'i'+g: {kernel: W_x{g}.T}  (no bias: flax has no input-side LSTM bias)
                              'h'+g: {kernel: W_h{g}.T, bias: b_{g}}
    GRU (gates r, z, n)       'ir': {kernel: W_xr.T, bias: b_r}    'hr': {kernel: W_hr.T}
                              'iz': {kernel: W_xz.T, bias: b_z}    'hz': {kernel: W_hz.T}
                              'in': {kernel: W_xn.T, bias: b_xn}   'hn': {kernel: W_hn.T, bias: b_hn}

so flax's GRU is reset-after (GRU-A, cuDNN's): n = tanh(W_xn x + b_xn + r * (W_hn h + b_hn)) and
h' = (1 - z) * n + z * h, exactly the canonical cell; the LSTM has one bias per gate (on the hidden side)
and no forget-gate offset. The map has no sums, so it is its own inverse for values and for gradients
(`from_flax` maps dL/d(flax params) straight to dL/d(canonical params)). The carry of flax's LSTM cells is
``(c, h)``, c FIRST, and ``cell.apply(vars, carry, x)`` returns ``((c', h'), h')``; the protocol's
``(h, c)`` order is swapped in and out here. Flax's parameter names and shapes are checked against
``cell.init`` (through ``jax.eval_shape``) once per size: a mismatch raises ValueError, never a silent mis-map.

Gradients (``*_vjp``): ``jax.grad`` of L = <d_hs, hs> + <d_hT, h_T> (+ <d_cT, c_T>) with respect to xs,
the initial state(s) and the flax params (mapped back to canonical names).

Speed (jit with shape buckets; issue 4 asks that a jitted JAX target not recompile for every drawn shape):
every call runs a jitted function on zero-padded inputs: n, m and B rounded up to a multiple of 8 and the
sequence length T of forward / gradient calls to a power of two >= 4 (padding appended after the last step).
The padding is exact: padded rows of x and h are zero; padded hidden units have zero kernels and biases, so
their pre-activations are exactly 0 and (from zero initial states) the units stay exactly 0 (LSTM:
c' = 0.5 * 0 + 0.5 * tanh(0) = 0; GRU: n = tanh(0) = 0, h' = 0.5 * 0 + 0.5 * 0 = 0) and feed nothing into
the real units; steps appended after T cannot change earlier ones and get zero cotangents. The results are
sliced back; only the summation order inside XLA's matmuls may differ (within the float error model).
A call whose inputs hold a non-finite value, or whose padded result does, is rerun at its exact shapes
(0 * inf would otherwise leak NaN through the padding). The bidirectional capabilities pad n, m and B only
(flax's backward RNN reads from the last step, so T is never padded there). A fresh process compiles about
a dozen functions per target (about 1 s each on CPU).

dtype: float32 by default (JAX's default). ``target(dtype="float64")`` runs every call inside
``jax.enable_x64(True)`` (`x64`; jax.experimental.enable_x64 on older jax: a thread-local, scoped config context): importing this module or building a
float32 target never changes JAX's global config.

``param_count(kind, n, m)`` counts the params flax's own ``cell.init`` creates (``jax.eval_shape``, no
compute): LSTMCell 4(nm + n^2 + n), GRUCell 3(nm + n^2 + n) + n (b_hn; matches bias="one" with reset_after),
and for kind "rnn" ``flax.linen.SimpleCell`` nm + n^2 + n (input-side bias only; this target offers no RNN
capabilities otherwise). Refusals: T = 0 (ValueError; the scan would have no last state), params, states or
cotangents of the wrong shapes (ValueError naming the argument, from the shared checks). Inputs are never
mutated; outputs are new NumPy arrays of the target's dtype. jax and flax are imported lazily: without them
the factories raise ImportError with the install hint (the loader reports the target unavailable).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache

import numpy as np

from dlproof.parameters import BLOCKS, GATES, GRU_HIDDEN_BIAS, GRU_PARAMS, LSTM_PARAMS
from dlproof.target import Target

from ..numpy_ref.checks import recurrent as checks
from . import startup
from .startup import dtype_name as _dtype

INSTALL_HINT = "dlproof.impl.adapters.flax_linen needs jax and flax: pip install 'dlproof[jax]'"
KINDS = ("lstm", "gru")
#: flax.linen cell class -> protocol kind
CELLS = {"LSTMCell": "lstm", "OptimizedLSTMCell": "lstm", "GRUCell": "gru"}
PARAMS = {"lstm": LSTM_PARAMS, "gru": GRU_PARAMS}
#: (flax submodule, leaf, canonical name, transposed) -- the whole weight map, one-to-one: gate g's
#: submodules i<g> (input side) and h<g> (recurrent side); the LSTM's bias sits in h<g>, the GRU's in i<g>
#: (the candidate's b_hn in hn)
MAP = {
    "lstm": tuple(e for (wx, wh, b), g in zip(BLOCKS["lstm"], GATES["lstm"]) for e in (
        (f"i{g}", "kernel", wx, True), (f"h{g}", "kernel", wh, True), (f"h{g}", "bias", b, False))),
    "gru": tuple(e for (wx, wh, b), g in zip(BLOCKS["gru"], GATES["gru"]) for e in (
        (f"i{g}", "kernel", wx, True), (f"i{g}", "bias", b, False), (f"h{g}", "kernel", wh, True)))
    + (("hn", "bias", GRU_HIDDEN_BIAS, False),),
}
COUNT_CELLS = {"rnn": "SimpleCell", "lstm": "LSTMCell", "gru": "GRUCell"}
SIZE_BUCKET = 8  # n, m, B are padded up to a multiple of this
MIN_T = 4        # forward / gradient sequences are padded to a power of two >= MIN_T


def _jax():
    """(jax, jax.numpy, flax.linen)."""
    jax, jnp = startup.jax_modules(INSTALL_HINT)
    try:
        import flax.linen as nn
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(INSTALL_HINT) from exc
    return jax, jnp, nn


def x64():
    """A scoped float64 context (`startup.jax_x64`)."""
    return startup.jax_x64(INSTALL_HINT)


def versions() -> dict:
    """{"jax": ..., "flax": ...} of the installed packages."""
    jax, _, _ = _jax()
    import flax

    return {"jax": jax.__version__, "flax": flax.__version__}


def conventions() -> dict:
    """What flax.linen declares: reset-after GRU (GRU-A), one bias per gate (LSTM: hidden side only), and
    XLA's flush-to-zero on CPU (measured, float32 and float64: a subnormal operand is read as 0, a subnormal
    result is flushed to 0)."""
    return {"gru": "reset_after", "bias": "one", "subnormals": "flush_to_zero"}


# ---- the weight map (NumPy only) ----------------------------------------------------------------------

def _kind(fn: str, kind) -> str:
    if kind not in KINDS:
        raise ValueError(f"{fn}: kind should be one of {KINDS}, got {kind!r}")
    return kind


def to_flax(kind: str, p: Mapping) -> dict:
    """Canonical params -> flax's ``params`` collection {submodule: {"kernel": W.T, ["bias": b]}} (copies)."""
    _kind("to_flax", kind)
    out: dict = {}
    for mod, leaf, name, transposed in MAP[kind]:
        a = np.asarray(p[name])
        out.setdefault(mod, {})[leaf] = np.array(a.T if transposed else a)
    return out


def from_flax(kind: str, params: Mapping) -> dict:
    """flax's ``params`` (or their gradients: the map is one-to-one) -> canonical params in protocol order.

    Any submodule or leaf outside the map, or one the map needs that is missing, raises ValueError."""
    _kind("from_flax", kind)
    if not isinstance(params, Mapping):
        raise ValueError(f"from_flax: params should be a mapping of flax submodules, got {type(params).__name__}")
    want = {(mod, leaf) for mod, leaf, _, _ in MAP[kind]}
    have = {(mod, leaf) for mod, leaves in params.items() for leaf in (leaves if isinstance(leaves, Mapping) else ())}
    if have != want:
        raise ValueError(f"from_flax: the flax {kind} params hold {sorted(have)}, but the weight map expects "
                         f"{sorted(want)} (missing {sorted(want - have)}, unexpected {sorted(have - want)})")
    out = {}
    for mod, leaf, name, transposed in MAP[kind]:
        a = np.asarray(params[mod][leaf])
        out[name] = np.array(a.T if transposed else a)
    return {k: out[k] for k in PARAMS[kind]}


def _shapes(tree) -> dict:
    return {mod: {leaf: tuple(np.shape(a)) for leaf, a in leaves.items()} for mod, leaves in tree.items()}


@lru_cache(maxsize=256)
def _init_shapes(cell_name: str, n: int, m: int) -> dict:
    """{submodule: {leaf: shape}} of the params ``flax.linen.<cell_name>(n).init`` creates (traced, not run)."""
    jax, jnp, nn = _jax()

    def init():
        cell = getattr(nn, cell_name)(features=n)
        h = jnp.zeros((1, n), jnp.float32)
        carry = (h, h) if cell_name in ("LSTMCell", "OptimizedLSTMCell") else h
        return cell.init(jax.random.key(0), carry, jnp.zeros((1, m), jnp.float32))

    return _shapes(jax.eval_shape(init)["params"])


def check_layout(cell_name: str, tree: Mapping, n: int, m: int) -> None:
    """Refuse (ValueError) a flax param tree whose names or shapes differ from what ``cell.init`` creates."""
    want = _init_shapes(cell_name, n, m)
    got = _shapes(tree)
    if got != want:
        raise ValueError(f"flax.linen.{cell_name}(features={n}) on {m} inputs creates params {want}, but the "
                         f"weight map gives {got}: refused (the map no longer matches this flax version)")


# ---- padding (exact, see the module docstring) -------------------------------------------------------

def _up(v: int) -> int:
    q = SIZE_BUCKET
    return max(q, -(-v // q) * q)


def _up_T(T: int) -> int:
    return max(MIN_T, 1 << max(0, math.ceil(math.log2(T))))


def _pad(a: np.ndarray, shape: tuple) -> np.ndarray:
    if a.shape == tuple(shape):
        return a
    out = np.zeros(shape, a.dtype)
    out[tuple(slice(0, s) for s in a.shape)] = a
    return out


def _all_finite(*arrays) -> bool:
    return all(bool(np.isfinite(a).all()) for a in arrays)


# ---- the jitted functions (built once per cell class) -------------------------------------------------

@lru_cache(maxsize=None)
def _fns(cell_name: str) -> dict:
    jax, jnp, nn = _jax()
    kind = CELLS[cell_name]
    Cell = getattr(nn, cell_name)

    def carry_of(states):  # protocol (h[, c]) -> flax carry ((c, h) for the LSTM)
        return (states[1], states[0]) if kind == "lstm" else states[0]

    def states_of(carry):  # flax carry -> protocol (h[, c])
        return (carry[1], carry[0]) if kind == "lstm" else (carry,)

    def step(params, x, states):
        cell = Cell(features=states[0].shape[-1])
        carry, y = cell.apply({"params": params}, carry_of(states), x)
        return y, states_of(carry)

    def scan(params, xs, states):
        cell = Cell(features=states[0].shape[-1])

        def body(carry, x):
            carry, y = cell.apply({"params": params}, carry, x)
            return carry, (y, states_of(carry))

        _, (ys, per_step) = jax.lax.scan(body, carry_of(states), xs)
        return ys, per_step  # ys (T, B, n): the cell's outputs; per_step: (h_t[, c_t]) for every t

    def loss(params, xs, states, d_ys, d_states):
        ys, per_step = scan(params, xs, states)
        return jnp.vdot(d_ys, ys) + sum(jnp.vdot(d, s) for d, s in zip(d_states, per_step))

    grad = jax.grad(loss, argnums=(0, 1, 2))

    def bi(params_f, params_b, xs, states_f, states_b):
        n = states_f[0].shape[-1]
        mod = nn.Bidirectional(nn.RNN(Cell(features=n), time_major=True), nn.RNN(Cell(features=n), time_major=True),
                               time_major=True, return_carry=True)
        variables = {"params": {"forward_rnn": {"cell": params_f}, "backward_rnn": {"cell": params_b}}}
        (carry_f, carry_b), ys = mod.apply(variables, xs, initial_carry=(carry_of(states_f), carry_of(states_b)))
        return ys, states_of(carry_f), states_of(carry_b)

    return {"step": jax.jit(step), "scan": jax.jit(scan), "grad": jax.jit(grad), "bi": jax.jit(bi)}


# ---- the capabilities ----------------------------------------------------------------------------------

class _Adapter:
    """The protocol's capabilities over one flax.linen cell class (LSTMCell / OptimizedLSTMCell / GRUCell)."""

    def __init__(self, cell_name: str, dtype: str):
        self.cell_name, self.kind = cell_name, CELLS[cell_name]
        self.np_dt, self.x64 = np.dtype(dtype), dtype == "float64"

    def _call(self, what: str, *args):
        """Run the jitted ``what`` on NumPy args (cast to the dtype); returns the output pytree as NumPy."""
        jax, jnp, _ = _jax()
        fn = _fns(self.cell_name)[what]

        def go():
            leaves, tree = jax.tree.flatten(args)
            dev = jax.tree.unflatten(tree, [jnp.asarray(np.asarray(a, self.np_dt)) for a in leaves])
            out = fn(*dev)
            return jax.tree.map(lambda a: np.array(a, dtype=self.np_dt), out)

        if self.x64:
            with x64():
                return go()
        return go()

    def _flax_params(self, p: dict, n_pad: int, m_pad: int) -> dict:
        tree = to_flax(self.kind, p)
        tree = {mod: {leaf: _pad(a, (m_pad if mod[0] == "i" and leaf == "kernel" else n_pad, n_pad)
                                 if a.ndim == 2 else (n_pad,)) for leaf, a in leaves.items()}
                for mod, leaves in tree.items()}
        check_layout(self.cell_name, tree, n_pad, m_pad)
        return tree

    @staticmethod
    def _names(kind):
        return ("h0", "c0") if kind == "lstm" else ("h0",)

    def _validate(self, fn, xs, states, p, names, p_name="p", step=False):
        pairs = list(zip(names, states))
        if step:
            x, sts, params, _ = checks.gated_step(fn, xs, pairs, p, PARAMS[self.kind])
        else:
            x, sts, params, _ = checks.gated_sequence(fn, xs, pairs, p, PARAMS[self.kind], p_name=p_name)
            if x.shape[0] == 0:
                raise ValueError(f"{fn}: argument 'xs' has T = 0 steps (shape {x.shape}): a scan over "
                                 f"flax.linen.{self.cell_name} needs T >= 1, refused")
        return x, sts, params

    def _sizes(self, exact: bool, T: int, B: int, n: int, m: int, pad_T: bool = True):
        if exact:
            return T, B, n, m
        return (_up_T(T) if pad_T else T), _up(B), _up(n), _up(m)

    # -- cells
    def _cell(self, x, states, p):
        fn = f"{self.kind}_cell"
        x, sts, params = self._validate(fn, x, states, p, ("h", "c")[:len(states)], step=True)
        (B, m), n = x.shape, sts[0].shape[1]
        exact = not _all_finite(x, *sts, *params.values())
        while True:
            _, Bp, np_, mp = self._sizes(exact, 1, B, n, m)
            y, new = self._call("step", self._flax_params(params, np_, mp), _pad(x, (Bp, mp)),
                                tuple(_pad(s, (Bp, np_)) for s in sts))
            out = tuple(s[:B, :n] for s in new)
            if exact or _all_finite(y, *new):
                return out
            exact = True

    def lstm_cell(self, x, h, c, p):
        """(x (B, m), h (B, n), c (B, n), p) -> (h', c') of one flax cell step (carry (c, h) swapped in and out)."""
        return self._cell(x, (h, c), p)

    def gru_cell(self, x, h, p):
        """(x (B, m), h (B, n), p) -> h' (B, n)."""
        return self._cell(x, (h,), p)[0]

    # -- sequences
    def _forward(self, xs, states, p):
        xs, sts, params = self._validate(self.kind, xs, states, p, self._names(self.kind))
        (T, B, m), n = xs.shape, sts[0].shape[1]
        exact = not _all_finite(xs, *sts, *params.values())
        while True:
            Tp, Bp, np_, mp = self._sizes(exact, T, B, n, m)
            ys, per_step = self._call("scan", self._flax_params(params, np_, mp), _pad(xs, (Tp, Bp, mp)),
                                      tuple(_pad(s, (Bp, np_)) for s in sts))
            if exact or (_all_finite(ys, *per_step)):
                break
            exact = True
        hs = ys[:T, :B, :n].copy()
        finals = tuple(s[T - 1, :B, :n].copy() for s in per_step)
        return (hs, finals) if self.kind == "lstm" else (hs, finals[0])

    def lstm(self, xs, h0, c0, p):
        """xs (T, B, m), h0, c0 (B, n) -> (hs (T, B, n), (h_T, c_T))."""
        return self._forward(xs, (h0, c0), p)

    def gru(self, xs, h0, p):
        """xs (T, B, m), h0 (B, n) -> (hs (T, B, n), h_T)."""
        return self._forward(xs, (h0,), p)

    # -- gradients
    def _vjp(self, xs, states, p, d_hs, d_hT, d_cT=None):
        fn = f"{self.kind}_vjp"
        names = self._names(self.kind)
        xs, sts, params = self._validate(fn, xs, states, p, names)
        (T, B, m), n = xs.shape, sts[0].shape[1]
        d_hs, d_hT = checks.cotangents(fn, d_hs, d_hT, T, B, n, self.np_dt)
        finals = [d_hT]
        if self.kind == "lstm":
            finals.append(checks.state_cotangent(fn, "d_cT", d_cT, B, n, self.np_dt))
        exact = not _all_finite(xs, *sts, *params.values(), d_hs, *finals)
        while True:
            Tp, Bp, np_, mp = self._sizes(exact, T, B, n, m)
            d_states = []
            for d in finals:  # the final-state cotangent sits on step T - 1 of the per-step states
                full = np.zeros((Tp, Bp, np_), self.np_dt)
                full[T - 1, :B, :n] = d
                d_states.append(full)
            g_p, g_xs, g_states = self._call("grad", self._flax_params(params, np_, mp), _pad(xs, (Tp, Bp, mp)),
                                             tuple(_pad(s, (Bp, np_)) for s in sts), _pad(d_hs, (Tp, Bp, np_)),
                                             tuple(d_states))
            leaves = [g_xs, *g_states, *(a for leaves_ in g_p.values() for a in leaves_.values())]
            if exact or _all_finite(*leaves):
                break
            exact = True
        grads = {mod: {leaf: a[:m if mod[0] == "i" and leaf == "kernel" else n, :n] if a.ndim == 2 else a[:n]
                       for leaf, a in leaves_.items()} for mod, leaves_ in g_p.items()}
        out = {"xs": g_xs[:T, :B, :m].copy(), **{k: g[:B, :n].copy() for k, g in zip(names, g_states)}}
        out["params"] = from_flax(self.kind, grads)
        return out

    def lstm_vjp(self, xs, h0, c0, p, d_hs, d_hT, d_cT):
        """Gradients of L = <d_hs, hs> + <d_hT, h_T> + <d_cT, c_T> -> {"xs", "h0", "c0", "params"}."""
        return self._vjp(xs, (h0, c0), p, d_hs, d_hT, d_cT)

    def gru_vjp(self, xs, h0, p, d_hs, d_hT):
        """Gradients of L = <d_hs, hs> + <d_hT, h_T> -> {"xs", "h0", "params"}."""
        return self._vjp(xs, (h0,), p, d_hs, d_hT)

    # -- bidirectional
    def _bi(self, xs, states_f, states_b, p_f, p_b):
        fn = f"{self.kind}_bi"
        base = self._names(self.kind)
        xs, sf, pf = self._validate(fn, xs, states_f, p_f, tuple(f"{s}_f" for s in base), "p_f")
        _, sb, pb = self._validate(fn, xs, states_b, p_b, tuple(f"{s}_b" for s in base), "p_b")
        (T, B, m), n = xs.shape, sf[0].shape[1]
        exact = not _all_finite(xs, *sf, *sb, *pf.values(), *pb.values())
        while True:
            _, Bp, np_, mp = self._sizes(exact, T, B, n, m, pad_T=False)
            ys, new_f, new_b = self._call("bi", self._flax_params(pf, np_, mp), self._flax_params(pb, np_, mp),
                                          _pad(xs, (T, Bp, mp)), tuple(_pad(s, (Bp, np_)) for s in sf),
                                          tuple(_pad(s, (Bp, np_)) for s in sb))
            if exact or _all_finite(ys, *new_f, *new_b):
                break
            exact = True
        ys = np.concatenate([ys[:, :B, :n], ys[:, :B, np_:np_ + n]], axis=-1)
        hf, hb = (tuple(s[:B, :n].copy() for s in st) for st in (new_f, new_b))
        return (ys, hf, hb) if self.kind == "lstm" else (ys, hf[0], hb[0])

    def lstm_bi(self, xs, state_f, state_b, p_f, p_b):
        """xs, (h0_f, c0_f), (h0_b, c0_b) -> (ys (T, B, 2n) = [fwd ; bwd], (h_f, c_f), (h_b, c_b))."""
        fn = "lstm_bi"
        sf = checks.state_pair(fn, "state_f", state_f, "h0_f", "c0_f")
        sb = checks.state_pair(fn, "state_b", state_b, "h0_b", "c0_b")
        return self._bi(xs, sf, sb, p_f, p_b)

    def gru_bi(self, xs, h0_f, h0_b, p_f, p_b):
        """xs (T, B, m) -> (ys (T, B, 2n) = [fwd ; bwd], h_f, h_b)."""
        return self._bi(xs, (h0_f,), (h0_b,), p_f, p_b)


def _count_kind(fn: str, kind) -> str:
    if kind not in COUNT_CELLS:
        raise ValueError(f"{fn}: kind should be one of {tuple(COUNT_CELLS)}, got {kind!r}")
    return kind


def param_count(kind: str, n: int, m: int, lstm_cell: str = "LSTMCell") -> int:
    """The number of params flax.linen's own ``cell.init`` creates: LSTMCell (or ``lstm_cell``, e.g.
    "OptimizedLSTMCell") 4(nm + n^2 + n), GRUCell 3(nm + n^2 + n) + n, SimpleCell (kind "rnn") nm + n^2 + n."""
    fn = "param_count"
    _count_kind(fn, kind)
    for name, v in (("n", n), ("m", m)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{fn}: argument {name!r} should be an integer >= 1, got {v!r}")
    return _count(lstm_cell if kind == "lstm" else COUNT_CELLS[kind], int(n), int(m))


def _optimized_param_count(kind: str, n: int, m: int) -> int:
    """`param_count` with kind "lstm" counted on flax.linen.OptimizedLSTMCell."""
    return param_count(kind, n, m, lstm_cell="OptimizedLSTMCell")


@lru_cache(maxsize=256)
def _count(cell_name: str, n: int, m: int) -> int:
    jax, jnp, nn = _jax()
    if cell_name == "SimpleCell":
        cell = nn.SimpleCell(features=n)
        h = jnp.zeros((1, n), jnp.float32)
        shapes = jax.eval_shape(lambda: cell.init(jax.random.key(0), h, jnp.zeros((1, m), jnp.float32)))["params"]
        return int(sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(shapes)))
    return int(sum(math.prod(s) for leaves in _init_shapes(cell_name, n, m).values() for s in leaves.values()))


# ---- factories -----------------------------------------------------------------------------------------

def _name(what: str, dtype: str) -> str:
    v = versions()
    return f"flax.linen {what} (flax {v['flax']}, jax {v['jax']}, {dtype})"


def target(dtype: str = "float32") -> Target:
    """flax.linen.LSTMCell and GRUCell: lstm_cell, lstm, lstm_vjp, lstm_bi, gru_cell, gru, gru_vjp, gru_bi and
    param_count. ``dtype="float64"`` scopes ``jax.enable_x64`` to each call."""
    dtype = _dtype("target", dtype)
    _jax()
    lstm, gru = _Adapter("LSTMCell", dtype), _Adapter("GRUCell", dtype)
    caps = {c: getattr(lstm, c) for c in ("lstm_cell", "lstm", "lstm_vjp", "lstm_bi")}
    caps.update({c: getattr(gru, c) for c in ("gru_cell", "gru", "gru_vjp", "gru_bi")})
    return Target(name=_name("LSTMCell + GRUCell", dtype), dtype=dtype, conventions=conventions(),
                  param_count=param_count, **caps)


def optimized_lstm_target(dtype: str = "float32") -> Target:
    """flax.linen.OptimizedLSTMCell (same params as LSTMCell, one concatenated matmul per side): the LSTM
    capabilities and param_count."""
    dtype = _dtype("optimized_lstm_target", dtype)
    _jax()
    a = _Adapter("OptimizedLSTMCell", dtype)
    caps = {c: getattr(a, c) for c in ("lstm_cell", "lstm", "lstm_vjp", "lstm_bi")}
    return Target(name=_name("OptimizedLSTMCell", dtype), dtype=dtype, conventions=conventions(),
                  param_count=_optimized_param_count, **caps)
