"""Keras 3 (torch backend) as conformance-protocol targets: real keras layers, canonical parameters mapped in.

Every capability runs a REAL Keras layer: ``keras.layers.SimpleRNN``, ``LSTM``, ``GRU`` (reset_after=True
and reset_after=False), ``Bidirectional`` over them, and the cells ``SimpleRNNCell``, ``LSTMCell``,
``GRUCell`` called directly; clipping runs the Keras optimizer's own ``_clip_gradients``
(``keras.optimizers.SGD(clipnorm=c | global_clipnorm=c | clipvalue=v)``).

Canonical math (see DESIGN.md): column vectors, a cell computes ``x @ W_x.T + h @ W_h.T + b`` on batch rows,
W_x* (n, m), W_h* (n, n), b* (n,); sequences are time-major (T, B, m) and transposed here to Keras'
batch-major (B, T, m) and back. The weight map (`canonical_to_keras`, `keras_to_canonical`):

- SimpleRNN: ``kernel`` (m, n) = W_x^T, ``recurrent_kernel`` (n, n) = W_h^T, ``bias`` (n,) = b.
- LSTM, Keras gate order i, f, c, o (= canonical i, f, g, o): ``kernel`` (m, 4n) = [W_xi^T | W_xf^T | W_xg^T
  | W_xo^T], ``recurrent_kernel`` likewise, ONE ``bias`` (4n,) = [b_i, b_f, b_g, b_o]
  (``unit_forget_bias`` only affects initialisation, which the adapter overwrites).
- GRU, Keras gate order **z, r, h** (not r, z, n): kernel (m, 3n) = [W_xz^T | W_xr^T | W_xn^T], likewise
  recurrent_kernel. reset_after=True: ``bias`` (2, 3n), row 0 (input) = [b_z, b_r, b_xn], row 1 (recurrent)
  = [0, 0, b_hn] (Keras adds the two rows for z and r, so b_z = bias[0,:n] + bias[1,:n] on the way back).
  reset_after=False: ``bias`` (3n,) = [b_z, b_r, b_xn + b_hn] (b_xn and b_hn only act as a sum; on the way
  back b_hn = 0, and both get the gradient of the sum).
- h' = z * h + (1 - z) * hh in both GRU variants, as in the canonical math.
- Bidirectional (merge_mode="concat"): ys = [fwd ; bwd] with the backward half flipped back by Keras; the
  returned states are out, h_f[, c_f], h_b[, c_b]; h_b is the backward state after reading x_0.

Stacks (``rnn_stack``, ``lstm_stack``, ``gru_stack`` and VJPs: L layers, Bidirectional when D = 2, variable
lengths through Keras masking) live in `keras3_stacked`, with the measured masking behaviour; `from_model`
turns a user's Sequential of recurrent layers into a stack target. ``*_bi_vjp``: gradients through the
Bidirectional layer, as below.

Gradients (``*_vjp``): torch.autograd.grad of L = <d_hs, hs> + <d_hT, h_T> (+ <d_cT, c_T>) through the
keras layer, with respect to the torch tensors behind ``kernel``, ``recurrent_kernel`` and ``bias`` (on the
torch backend a Keras variable's ``.value`` is a ``torch.nn.Parameter``), the inputs and the initial states.

Known deviations from the exact math, all declared or refused, never absorbed into a tolerance:
``clipnorm`` is per tensor, ``g * c / max(||g||, c)`` (clip_scope="per_tensor"); ``global_clipnorm`` is
``g * c * min(1/N, 1/c)``, no epsilon (clip_eps=0); Keras cannot run T = 0 sequences (IndexError inside
keras), so the adapter refuses them with ValueError; float64 is not float64 throughout: on every backend
but TensorFlow ``keras.backend.result_type("float64", "float64")`` is "float32", so ``ops.matmul`` of two
float64 tensors runs in float32 -- float64 SimpleRNN layers and every float64 cell are only
float32-accurate, while the float64 LSTM and GRU sequence layers (keras' pure-torch fallback) are exact to
float64; hence the built-in targets default to float32 (Keras' default floatx). Parameter counts are Keras' own ``count_params()``:
SimpleRNN and LSTM have one bias (bias="one"), GRU reset_after=True has two bias rows, 3(nm + n^2 + 2n)
(bias="two"), GRU reset_after=False one, 3(nm + n^2 + n).

Import note: this module sets ``KERAS_BACKEND=torch`` if it is unset, before importing keras; it raises
ImportError if keras is missing or was already imported with another backend. Keras writes
``$KERAS_HOME/keras.json`` (default ``~/.keras``) on import. On a CUDA machine Keras would run cuDNN kernels
for LSTM / GRU(reset_after=True) instead of its pure-torch fallback; the built-in targets are meant for CPU.
"""
from __future__ import annotations

import copy
import functools
from typing import Callable, Optional

import numpy as np

from dlproof.parameters import KINDS
from dlproof.target import Target

from ..numpy_ref.checks import clipping as clip_checks
from ..numpy_ref.checks import recurrent as checks
from ..numpy_ref.checks.common import expect_shape, float_array
from . import keras3_layernorm, keras3_stacked, startup
# the layer runtime (weight map, layers, tensors); the weight map's public names are re-exported here
from .keras3_layers import (GRU_VARIANTS, KERAS_GATES, KERAS_VERSION, PARAMS, STATES, _LAYERS, _LOCK,  # noqa: F401
                            MIXED_POLICIES, _assign, _bt, _builtin_layer, _cells, _check_seq_layer, _Config,
                            _kind_of, _np, _np_dtype, _pullback, _refuse, _resized, _t, _tb, canonical_to_keras,
                            keras, keras_grads_to_canonical, keras_to_canonical, layer_weights, torch)
from .startup import dtype_name

from keras.src.optimizers import base_optimizer as _base_optimizer  # noqa: E402  (after keras3_layers set the backend)

# ---- capabilities -----------------------------------------------------------------------------------

class _Adapter:
    """The protocol capabilities of one kind, running the layers that ``source(what, n, m, np_dtype)`` gives."""

    def __init__(self, cfg: _Config, source: Callable):
        self.cfg, self.source = cfg, source
        self.kind = cfg.kind

    # validation ------------------------------------------------------------------------------------
    def _seq(self, fn, xs, states, p, p_name="p", state_names=None):
        names = state_names or STATES[self.kind]
        params = checks.gated_params(fn, p, PARAMS[self.kind], p_name)
        n, m = params[PARAMS[self.kind][0]].shape
        xs, states = checks.inputs_and_states(fn, xs, list(zip(names, states)), n, m, PARAMS[self.kind][0],
                                                   sequence=True)
        if xs.shape[0] == 0:
            raise ValueError(f"{fn}: Keras {_LAYERS[self.kind]} cannot run a sequence of length T = 0 "
                             f"(keras raises IndexError); the adapter refuses it")
        return xs, states, params, _np_dtype(np.result_type(xs, *states, *params.values())), n, m

    def _layer(self, what, n, m, dt):
        return self.source(what, n, m, dt)

    # cells -----------------------------------------------------------------------------------------
    def cell(self, x, *states_and_p):
        fn = f"{self.kind}_cell"
        *states, p = states_and_p
        names = ("h", "c")[: len(STATES[self.kind])]
        params = checks.gated_params(fn, p, PARAMS[self.kind])
        n, m = params[PARAMS[self.kind][0]].shape
        x, states = checks.inputs_and_states(fn, x, list(zip(names, states)), n, m, PARAMS[self.kind][0],
                                                  sequence=False)
        dt = _np_dtype(np.result_type(x, *states, *params.values()))
        with _LOCK, torch.no_grad():
            cell = self._layer("cell", n, m, dt)
            _assign(fn, cell, self.cfg, params, dt)
            out, new = cell(_t(x, dt), [_t(s, dt) for s in states], training=False)
        if self.kind == "lstm":
            return _np(new[0], dt), _np(new[1], dt)
        return _np(out, dt)

    # sequences -------------------------------------------------------------------------------------
    def _call_seq(self, fn, layer, xs, states, params, dt, grad_leaves=None):
        cell = _cells(layer, "seq")[0]
        variables = _assign(fn, cell, self.cfg, params, dt)
        if grad_leaves is None:
            x_t, s_t = _t(_bt(xs), dt), [_t(s, dt) for s in states]
        else:
            x_t, s_t = grad_leaves
        out = layer(x_t, initial_state=s_t, training=False)
        return out[0], list(out[1:]), variables

    def forward(self, xs, *states_and_p):
        fn = self.kind
        *states, p = states_and_p
        xs, states, params, dt, n, m = self._seq(fn, xs, states, p)
        with _LOCK, torch.no_grad():
            layer = self._layer("seq", n, m, dt)
            hs, finals, _ = self._call_seq(fn, layer, xs, states, params, dt)
            hs_np = _np(_tb(hs), dt)
            finals = [_np(f, dt) for f in finals]
        return (hs_np, tuple(finals)) if self.kind == "lstm" else (hs_np, finals[0])

    def vjp(self, xs, *rest):
        fn = f"{self.kind}_vjp"
        k = len(STATES[self.kind])
        states, p, d_hs, finals_cot = list(rest[:k]), rest[k], rest[k + 1], list(rest[k + 2:])
        xs, states, params, dt, n, m = self._seq(fn, xs, states, p)
        T, B, _ = xs.shape
        d_hs, d_hT = checks.cotangents(fn, d_hs, finals_cot[0] if finals_cot else None, T, B, n, dt)
        cots = [d_hT] + [checks.state_cotangent(fn, "d_cT", d, B, n, dt) for d in finals_cot[1:]]
        leaves = [_t(_bt(xs), dt, True)] + [_t(s, dt, True) for s in states]
        with _LOCK, torch.enable_grad():
            layer = self._layer("seq", n, m, dt)
            hs, finals, variables = self._call_seq(fn, layer, xs, states, params, dt, (leaves[0], leaves[1:]))
            g = _pullback([(_bt(d_hs), hs), *zip(cots, finals)], leaves, variables, dt)
        out = {"xs": np.ascontiguousarray(np.swapaxes(g[0], 0, 1)),
               "params": keras_grads_to_canonical(self.kind, dict(zip(("kernel", "recurrent_kernel", "bias"),
                                                                        g[1 + k:])), self.cfg.gru)}
        out.update(zip(STATES[self.kind], g[1:1 + k]))
        return out

    # bidirectional ---------------------------------------------------------------------------------
    def _bi_args(self, fn, xs, s_f, s_b, p_f, p_b):
        """Validated (xs, states_f, states_b, p_f, p_b, dtype, n, m) of a Bidirectional call."""
        if self.kind == "lstm":
            s_f = checks.state_pair(fn, "state_f", s_f, "h0_f", "c0_f")
            s_b = checks.state_pair(fn, "state_b", s_b, "h0_b", "c0_b")
        else:
            s_f, s_b = (s_f,), (s_b,)
        names = STATES[self.kind]
        xs, sf, pf, dt_f, n, m = self._seq(fn, xs, s_f, p_f, "p_f", [f"{s}_f" for s in names])
        _, sb, pb, dt_b, nb, _ = self._seq(fn, xs, s_b, p_b, "p_b", [f"{s}_b" for s in names])
        if nb != n:
            raise ValueError(f"{fn}: p_b has n = {nb}, but p_f has n = {n}; both directions need the same size")
        return xs, sf, sb, pf, pb, _np_dtype(np.result_type(dt_f, dt_b)), n, m

    def bi(self, xs, s_f, s_b, p_f, p_b):
        fn = f"{self.kind}_bi"
        lstm = self.kind == "lstm"
        names = STATES[self.kind]
        xs, sf, sb, pf, pb, dt, n, m = self._bi_args(fn, xs, s_f, s_b, p_f, p_b)
        with _LOCK, torch.no_grad():
            layer = self._layer("bi", n, m, dt)
            cf, cb = _cells(layer, "bi")
            _assign(fn, cf, self.cfg, pf, dt)
            _assign(fn, cb, self.cfg, pb, dt)
            out = layer(_t(_bt(xs), dt), initial_state=[_t(s, dt) for s in (*sf, *sb)], training=False)
            ys = _np(_tb(out[0]), dt)
            states = [_np(s, dt) for s in out[1:]]
        k = len(names)
        f, b = states[:k], states[k:]
        return (ys, tuple(f), tuple(b)) if lstm else (ys, f[0], b[0])

    def bi_vjp(self, xs, s_f, s_b, p_f, p_b, d_ys, d_f, d_b):
        """Gradients of <d_ys, ys> + <d_hf, h_f> (+ <d_cf, c_f>) + <d_hb, h_b> (+ <d_cb, c_b>) of `bi` through
        the Keras Bidirectional layer: {"xs", "h0_f"(, "c0_f"), "h0_b"(, "c0_b"), "params_f", "params_b"}."""
        fn = f"{self.kind}_bi_vjp"
        names = STATES[self.kind]
        xs, sf, sb, pf, pb, dt, n, m = self._bi_args(fn, xs, s_f, s_b, p_f, p_b)
        T, B, _ = xs.shape
        if self.kind == "lstm":
            d_f = checks.state_pair(fn, "d_final_f", d_f, "d_hf", "d_cf")
            d_b = checks.state_pair(fn, "d_final_b", d_b, "d_hb", "d_cb")
        else:
            d_f, d_b = (d_f,), (d_b,)
        d_ys = np.zeros((T, B, 2 * n), dt) if d_ys is None else float_array(fn, "d_ys", d_ys, 3, "(T, B, 2n)")
        expect_shape(fn, "d_ys", d_ys, (T, B, 2 * n), "(T, B, 2n) = ys.shape")
        cots = [checks.state_cotangent(fn, f"d_{s[0]}{side}", d, B, n, dt)
                for side, ds in (("f", d_f), ("b", d_b)) for s, d in zip(names, ds)]
        leaves = [_t(_bt(xs), dt, True)] + [_t(a, dt, True) for a in (*sf, *sb)]
        with _LOCK, torch.enable_grad():
            layer = self._layer("bi", n, m, dt)
            cf, cb = _cells(layer, "bi")
            variables = _assign(fn, cf, self.cfg, pf, dt) + _assign(fn, cb, self.cfg, pb, dt)
            out = layer(leaves[0], initial_state=leaves[1:], training=False)
            g = _pullback([(_bt(d_ys), out[0]), *zip(cots, out[1:])], leaves, variables, dt)
        k, keys = len(names), ("kernel", "recurrent_kernel", "bias")
        out = {"xs": np.ascontiguousarray(np.swapaxes(g[0], 0, 1))}
        out.update(zip([f"{s}_f" for s in names] + [f"{s}_b" for s in names], g[1:1 + 2 * k]))
        w = g[1 + 2 * k:]
        out["params_f"] = keras_grads_to_canonical(self.kind, dict(zip(keys, w[:3])), self.cfg.gru)
        out["params_b"] = keras_grads_to_canonical(self.kind, dict(zip(keys, w[3:])), self.cfg.gru)
        return out

    def param_count(self, n, m):
        return int(self._layer("seq", int(n), int(m), np.dtype(np.float32)).count_params())


# ---- built-in targets -------------------------------------------------------------------------------

def _builtin_source(cfg):
    return lambda what, n, m, dt: _builtin_layer(what, cfg, n, m, np.dtype(dt).name)


def _caps(ad: _Adapter) -> dict:
    k = ad.kind
    return {f"{k}_cell": ad.cell, k: ad.forward, f"{k}_vjp": ad.vjp, f"{k}_bi": ad.bi, f"{k}_bi_vjp": ad.bi_vjp}


def _param_count(adapters: dict):
    def param_count(kind, n, m):
        if kind not in adapters:
            raise ValueError(f"param_count: kind should be one of {sorted(adapters)}, got {kind!r}")
        return adapters[kind].param_count(n, m)
    return param_count


#: The bias convention Keras needs per kind: SimpleRNN and LSTM one bias (n,) / (4n,); GRU reset_after=True a
#: (2, 3n) bias, i.e. 3(nm + n^2 + 2n) parameters ("two"); GRU reset_after=False one (3n,) bias ("one").
BIAS_PER_KIND = {"rnn": "one", "lstm": "one", "gru": {"reset_after": "two", "reset_before": "one"}}


def _stack_capabilities(dtype: str, **kw) -> dict:
    """rnn_stack, lstm_stack, gru_stack and their VJPs from `keras3_stacked`."""
    return keras3_stacked.capabilities(dtype, **kw)


def _stack_conventions() -> dict:
    return copy.deepcopy(keras3_stacked.CONVENTIONS)


def _counting(gru: str):
    """param_count over all three kinds with Keras' own count_params(), the GRU in variant ``gru``."""
    return _param_count({k: _Adapter(_Config(k, gru), _builtin_source(_Config(k, gru))) for k in KINDS})


def target(dtype: str = "float32") -> Target:
    """SimpleRNN (tanh), LSTM, GRU(reset_after=True) and Bidirectional over each; stacks of them
    (`keras3_stacked`: L layers, Bidirectional when D = 2, masking from lengths, padded_output "carry",
    restrictions stack_dropout 0 and stack_projection False); keras.layers.LayerNormalization
    (`keras3_layernorm`); no clipping.

    Conventions: rnn_activation tanh, gru reset_after, bias per kind {rnn: one, lstm: one, gru: two}:
    param_count is Keras' own count_params(), and the reset_after GRU's (2, 3n) bias has the "two" count.

    Use dtype="float32" (Keras' default): on the torch backend Keras computes ``ops.matmul`` of two float64
    tensors in float32 (keras.backend.result_type maps float64 to float32 on every backend but TensorFlow), so
    float64 SimpleRNN layers and all float64 cells are only float32-accurate (the float64 LSTM and GRU
    sequence layers run keras' pure-torch fallback and are float64-accurate)."""
    dtype_name("target", dtype)
    ads = {k: _Adapter(_Config(k), _builtin_source(_Config(k))) for k in KINDS}
    caps = {}
    for ad in ads.values():
        caps.update(_caps(ad))
    caps.update(_stack_capabilities(dtype))
    caps.update(keras3_layernorm.capabilities(dtype))
    return Target(name=f"keras {KERAS_VERSION} (torch backend)", dtype=dtype,
                  conventions={"rnn_activation": "tanh", "gru": "reset_after",
                               "bias": {"rnn": "one", "lstm": "one", "gru": "two"}, **_stack_conventions()},
                  param_count=_param_count(ads), **caps)


def gru_reset_before_target(dtype: str = "float32") -> Target:
    """GRU(reset_after=False) and its Bidirectional: conventions gru reset_before, bias "one" (param_count
    counts SimpleRNN, LSTM and GRU(reset_after=False), all one-bias layers)."""
    dtype_name("target", dtype)
    cfg = _Config("gru", "reset_before")
    ad = _Adapter(cfg, _builtin_source(cfg))
    stack = {k: v for k, v in _stack_capabilities(dtype, gru="reset_before").items() if k.startswith("gru_")}
    return Target(name=f"keras {KERAS_VERSION} (torch backend) GRU reset_after=False", dtype=dtype,
                  conventions={"gru": "reset_before", "bias": "one", **_stack_conventions()},
                  param_count=_counting("reset_before"), **_caps(ad), **stack)


def relu_target(dtype: str = "float32") -> Target:
    """SimpleRNN(activation="relu") and its Bidirectional: conventions rnn_activation relu (no param_count:
    the count does not depend on the activation and `target` checks it)."""
    dtype_name("target", dtype)
    cfg = _Config("rnn", activation="relu")
    ad = _Adapter(cfg, _builtin_source(cfg))
    stack = {k: v for k, v in _stack_capabilities(dtype, activation="relu").items() if k.startswith("rnn_")}
    return Target(name=f"keras {KERAS_VERSION} (torch backend) SimpleRNN relu", dtype=dtype,
                  conventions={"rnn_activation": "relu", **_stack_conventions()}, **_caps(ad), **stack)


# ---- clipping ---------------------------------------------------------------------------------------

def _grad_tensors(grads):
    return [torch.tensor(np.asarray(g)) for g in grads]


def keras_clip_norm(grads, max_norm, scope: str = "per_tensor"):
    """Keras optimizer clipping: SGD(clipnorm=c) (scope "per_tensor") or SGD(global_clipnorm=c) ("global"),
    applied by the optimizer's own ``_clip_gradients``. Returns (clipped list, pre-clip norm): the global
    norm from Keras' ``global_norm`` for "global"; None for "per_tensor" (Keras computes no global norm there)."""
    fn = "clip_grad_norm"
    grads, c, _ = clip_checks.clip_args(fn, grads, max_norm, 0.0, scope)
    ts = _grad_tensors(grads)
    opt = keras.optimizers.SGD(**({"clipnorm": c} if scope == "per_tensor" else {"global_clipnorm": c}))
    with torch.no_grad():
        out = opt._clip_gradients(ts)
        norm = float(_base_optimizer.global_norm(ts)) if scope == "global" and ts else None
    return [_np(o, g.dtype) for o, g in zip(out, grads)], norm


def keras_clip_value(grads, clip_value):
    """Keras optimizer clipping SGD(clipvalue=v): ``ops.clip(g, -v, v)`` through ``_clip_gradients``."""
    fn = "clip_grad_value"
    grads = clip_checks.grad_list(fn, grads)
    v = clip_checks.positive_number(fn, "clip_value", clip_value)
    opt = keras.optimizers.SGD(clipvalue=v)
    with torch.no_grad():
        out = opt._clip_gradients(_grad_tensors(grads))
    return [_np(o, g.dtype) for o, g in zip(out, grads)]


def _clip_target(scope: str, dtype: str) -> Target:
    dtype_name("target", dtype)
    option = "clipnorm" if scope == "per_tensor" else "global_clipnorm"
    return Target(name=f"keras {KERAS_VERSION} optimizer {option} / clipvalue", dtype=dtype,
                  conventions={"clip_scope": scope, "clip_eps": 0.0,
                               # measured: global_clipnorm's scale c min(1/N, 1/c) + (N - N) is NaN for N = inf;
                               # clipnorm computes (g c) / max(N, c), g c overflowing or underflowing first
                               "clip_norm_scaling": "unscaled_product_first" if scope == "per_tensor" else "unscaled_nan"},
                  clip_grad_norm=functools.partial(keras_clip_norm, scope=scope), clip_grad_value=keras_clip_value)


def clipnorm_target(dtype: str = "float32") -> Target:
    """clip_grad_norm = Keras ``clipnorm`` (per tensor: g c / max(||g||, c)), clip_grad_value = ``clipvalue``."""
    return _clip_target("per_tensor", dtype)


def global_clipnorm_target(dtype: str = "float32") -> Target:
    """clip_grad_norm = Keras ``global_clipnorm`` (g c min(1/N, 1/c), no eps), clip_grad_value = ``clipvalue``."""
    return _clip_target("global", dtype)


def from_layer(layer, name: Optional[str] = None, resize: bool = True) -> Target:
    """A Target running the user's own Keras layer: a SimpleRNN/LSTM/GRU layer (return_sequences=True,
    return_state=True) or ``keras.layers.RNN`` over one such cell, a cell, or a Bidirectional
    (merge_mode="concat") over such a layer.

    ``resize=True`` (default; what the property suite needs, as it draws the sizes): every (n, m) gets a
    fresh layer of the user's class and configuration (``from_config`` with units=n), so the user's object
    is never touched. ``resize=False``: the given layer object itself runs, its weights are overwritten by
    every call, and parameters of other sizes than the layer's (units, built input size) are refused.

    Refused with ValueError naming the layer and the problem: models / Sequential (see `from_model`),
    stacked cells, go_backwards=True alone, stateful layers, return_sequences or return_state False,
    use_bias=False, activations other than tanh/relu (SimpleRNN) or tanh/sigmoid (LSTM, GRU), merge modes
    other than concat, dtypes other than float32/float64 and the mixed policies. No param_count: the protocol
    asks it for every kind, and a one-layer target knows only its own.

    A layer of a mixed policy ("mixed_bfloat16" / "mixed_float16": float32 variables, 16-bit computation)
    gives a target of the compute dtype with accumulate="float32", as `keras3_mixed` (its inputs handed over
    as float32, exactly; its outputs rounded once to the compute dtype)."""
    L = keras.layers
    if isinstance(layer, keras.Model):
        masking = any(isinstance(sub, L.Masking) for sub in getattr(layer, "layers", []))
        _refuse(layer, "models are not supported here" + (" (it has a Masking layer)" if masking else "")
                + "; pass one recurrent layer, or use keras3.from_model for a Sequential of recurrent layers "
                  "(the stack capabilities)")
    if isinstance(layer, L.Masking):
        _refuse(layer, "masking is not supported")
    if not isinstance(layer, L.Layer):
        raise ValueError(f"keras3.from_layer: expected a keras layer, got {type(layer).__name__}")
    bi = isinstance(layer, L.Bidirectional)
    inner = layer.forward_layer if bi else layer
    what = "bi" if bi else ("seq" if isinstance(inner, L.RNN) else "cell")
    kind, cfg = _kind_of(inner)
    if bi:
        if layer.merge_mode != "concat":
            _refuse(layer, f"merge_mode={layer.merge_mode!r}, but the protocol needs 'concat' ([fwd ; bwd])")
        _check_seq_layer(inner, "forward_layer")
        _check_seq_layer(layer.backward_layer, "backward_layer")
        if _kind_of(layer.backward_layer) != (kind, cfg):
            _refuse(layer, "the backward layer has another kind or configuration than the forward layer")
        if inner.go_backwards or not layer.backward_layer.go_backwards:
            _refuse(layer, "the forward layer must read forwards and the backward layer backwards")
    elif what == "seq":
        _check_seq_layer(inner)
        if inner.go_backwards:
            _refuse(layer, "go_backwards=True alone returns the sequence reversed; the protocol has no such "
                           "capability: wrap the layer in Bidirectional or set go_backwards=False")
    policy = layer.dtype_policy
    mixed = MIXED_POLICIES.get(policy.name)
    if mixed is None and (policy.compute_dtype != policy.variable_dtype
                          or policy.compute_dtype not in ("float32", "float64")):
        _refuse(layer, f"dtype policy {policy.name!r} is not supported: use float32, float64 or one of the mixed "
                       f"policies {tuple(MIXED_POLICIES)}")
    dtype = policy.variable_dtype if mixed else policy.compute_dtype  # the arrays the layer is handed
    units = (inner.cell if what != "cell" else inner).units

    @functools.lru_cache(maxsize=128)
    def fresh(n, m):
        if what == "cell":
            out = _resized(layer, n)
            out.build((None, m))
        elif what == "seq":
            out = _resized(layer, n)
            out.build((None, None, m))
        else:
            out = type(layer)(_resized(layer.forward_layer, n), backward_layer=_resized(layer.backward_layer, n),
                              merge_mode="concat", dtype=policy)
            out.build((None, None, m))
        return out

    def given(fn, n, m):
        if n != units:
            _refuse(layer, f"{fn}: the layer has units={units}, but the parameters have n = {n} (resize=False)")
        if not layer.built:
            layer.build((None, m) if what == "cell" else (None, None, m))
        built_m = _cells(layer, what)[0].kernel.shape[0]
        if built_m != m:
            _refuse(layer, f"{fn}: the layer was built for input size {built_m}, but the parameters have m = {m}")
        return layer

    def source(w, n, m, dt):
        fn = kind + {"bi": "_bi", "cell": "_cell", "seq": ""}[w]
        if np.dtype(dt).name != dtype:
            _refuse(layer, f"{fn}: the layer computes in {dtype}, but the inputs are {np.dtype(dt).name}")
        obj = fresh(n, m) if resize else given(fn, n, m)
        return obj.cell if (w == "cell" and what == "seq") else obj

    ad = _Adapter(cfg, source)
    caps = {"cell": {f"{kind}_cell": ad.cell},
            "seq": {f"{kind}_cell": ad.cell, kind: ad.forward, f"{kind}_vjp": ad.vjp},
            "bi": {f"{kind}_bi": ad.bi, f"{kind}_bi_vjp": ad.bi_vjp}}[what]
    conventions = {"accumulate": "float32"} if mixed else {}
    if kind == "rnn":
        conventions["rnn_activation"] = cfg.activation
    if kind == "gru":
        conventions["gru"] = cfg.gru
    label = f"{type(layer).__name__} {layer.name!r}" + ("" if resize else " (as given)")
    if mixed:
        caps = startup.cast_capabilities(caps, mixed, dtype)
    return Target(name=name or f"keras {KERAS_VERSION} user layer {label}", dtype=mixed or dtype,
                  conventions=conventions, **caps)


def from_model(model, name: Optional[str] = None, resize: bool = True) -> Target:
    """A Target with the stack capabilities (``<kind>_stack``, ``<kind>_stack_vjp``) of a user's
    ``keras.Sequential`` of recurrent layers, with or without a leading Masking layer: see
    `keras3_stacked.from_model`. The model is a template (fresh layers per size, as `from_layer` with
    resize=True); ``resize=False`` is refused (the protocol draws L, D and the sizes)."""
    if resize is not True:
        raise ValueError(f"keras3.from_model: resize={resize!r} is not supported: a model is a template whose "
                         f"layers are rebuilt with the number of layers, directions and sizes of each call")
    return keras3_stacked.from_model(model, name)

