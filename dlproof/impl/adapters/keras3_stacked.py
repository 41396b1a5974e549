"""Stacked, bidirectional and masked (variable-length) recurrent networks through real Keras 3 layers.

The capabilities ``rnn_stack``, ``lstm_stack``, ``gru_stack`` and their ``*_vjp`` (contract: the "stacked"
chapter, `dlproof.capabilities`): per call, layer l of the stack is one ``keras.layers.SimpleRNN`` / ``LSTM``
/ ``GRU`` (return_sequences=True, return_state=True), wrapped in ``keras.layers.Bidirectional``
(merge_mode="concat") when D = 2; layer l + 1 is called on layer l's output, every layer gets its own
initial states (``initial_state=[h_f(, c_f)(, h_b(, c_b))]``) and the same boolean mask
``mask[b, t] = t < lengths[b]`` (B, T) -- what a ``keras.layers.Masking`` or ``Embedding(mask_zero=True)``
in front of the stack propagates. The protocol is time-major (T, B, .); Keras runs batch-major (B, T, .).
Canonical parameters are written into the Keras cells by `keras3.canonical_to_keras`; gradients come from
torch.autograd through the Keras layers (as `keras3._Adapter` does). h0 / h_T are (L, D, B, n),
layer-major then direction.

Measured on keras 3.15.1, torch 2.13.0+cpu (B = 3, T = 5, lengths (5, 2, 3), n = 3, m = 2, float32): one
masked call ``layer(x, initial_state=s0, mask=t < lengths[b])`` of a fresh SimpleRNN / LSTM / GRU
(return_sequences=True, return_state=True) and of ``Bidirectional`` over it, compared with the same layer run
on each sequence's real prefix x[b, :len_b] alone (the backward half with the backward layer on that prefix);
`tests/adapters/test_keras_stacked.py` re-measures the masking items below against the float64 oracle
(the dtype item: `tests/adapters/test_keras.py`):

- real steps: equal to the sequence run alone (max difference 9e-8, float32 rounding), for SimpleRNN, LSTM,
  GRU and Bidirectional over each;
- padded steps of a plain layer: the last real output repeated (difference 0 to 6e-8; Keras' RNN default
  ``zero_output_for_mask=False``); with ``zero_output_for_mask=True``: 0;
- padded steps of a Bidirectional layer: 0 in BOTH halves, forward included -- ``Bidirectional.__init__``
  forces ``zero_output_for_mask = return_sequences`` on both inner layers, so Keras never carries there;
- final states: forward = the state after the last real step, backward = the state after reading x_0;
  the backward half is reversed within each sequence's own length (equal to the go_backwards layer run on
  x[:len] alone, difference <= 6e-8);
- gradients at padded inputs: exactly 0.0 for all three kinds, plain and Bidirectional;
- dtype: float64 LSTM / GRU layers return float64 and run keras' pure-torch code, but float64
  ``ops.matmul`` runs in float32 (``keras.backend.result_type("float64", "float64") == "float32"``), so
  float64 SimpleRNN is float32-accurate: the Keras target is float32 (Keras' default floatx).

So the capabilities here build their layers with Keras' own default, ``zero_output_for_mask=False``: a
unidirectional stack (D = 1) carries its last real output at padded steps, a bidirectional one (D = 2) gives 0
in both halves -- the convention ``padded_output`` "carry" (its definition is this measurement).
``capabilities(..., zero_output_for_mask=True)`` builds plain layers that give 0 (``padded_output`` "zero").

Declared restrictions: ``stack_projection`` False (Keras' LSTM has no projection: a layer with W_proj is
refused) and ``stack_dropout`` 0 (Keras' ``dropout=`` is an input dropout of every layer with one mask for all
time steps, not the inter-layer rule; ``training=True`` with dropout > 0 is refused, ``training=False`` runs
no dropout for any p, as the contract says). ``seed`` is validated (an int >= 0) and unused (nothing is random).

`from_model` (also `keras3.from_model`): a user's keras.Sequential of recurrent layers as a stack target.
"""
from __future__ import annotations

import copy
import functools

import numpy as np

from dlproof.parameters import KINDS

from ..numpy_ref.checks import recurrent as checks
from ..numpy_ref.checks import stacked as stacked_checks
from ..numpy_ref.checks.common import fail, flag
from . import keras3_layers as runtime  # the layer runtime shared with keras3 (which imports this module)
from .keras3_layers import _LOCK, _Config, _bt, _cells, _np, _np_dtype, _t, keras, torch
from .startup import dtype_name

STACK_CAPABILITIES = tuple(f"{k}_stack{v}" for k in KINDS for v in ("", "_vjp"))
STATES = runtime.STATES


# ---- validation (the checks every stack implementation shares: numpy_ref.checks.stacked) -------------------

def _call(fn, kind, xs, states, layers, lengths):
    """Validated (Stack, [states]) by the shared stack checks (they refuse T = 0, on which Keras raises
    IndexError); a projection is refused here (restriction stack_projection False)."""
    s, arrays = stacked_checks.stack_args(fn, kind, xs, list(zip(STATES[kind], states)), layers, lengths)
    if s.projected:
        fail(fn, f"the layers hold {stacked_checks.PROJ!r}, but Keras' LSTM has no projection (the keras target "
                 f"declares the restriction stack_projection False)")
    return s, arrays


def _dropout(fn, dropout, training, seed):
    p, training, _ = stacked_checks.dropout_args(fn, dropout, training, seed)
    if training and p != 0:
        fail(fn, f"dropout = {dropout} in training is not supported: Keras' dropout= drops every layer's INPUT with "
                 f"one mask for all time steps, not the inter-layer rule (the keras target declares the "
                 f"restriction stack_dropout 0)")


# ---- the stack --------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=256)
def _keras_layer(index: int, D: int, cfg: _Config, n: int, in_size: int, dtype: str):
    """Layer ``index`` of a stack: a built Keras layer (Bidirectional when D = 2), cached per position and
    configuration (each position its own object, so that autograd sees distinct variables)."""
    seq = getattr(keras.layers, runtime._LAYERS[cfg.kind])(n, **runtime._seq_kwargs(cfg, dtype))
    layer = seq if D == 1 else keras.layers.Bidirectional(seq, merge_mode="concat", dtype=dtype)
    layer.build((None, None, in_size))
    return layer


def _builtin_source(cfg: _Config):
    return lambda index, D, n, in_size, dt: _keras_layer(index, D, cfg, n, in_size, dt.name)


class _Stack:
    """The stack capabilities of one kind and configuration; ``source(index, D, n, in_size, np_dtype)`` gives
    layer ``index`` of the stack (default: built-in layers of ``cfg``)."""

    def __init__(self, cfg: _Config, source=None):
        self.cfg, self.kind = cfg, cfg.kind
        self.source = source or _builtin_source(cfg)

    def _run(self, fn, s, states, masked, leaves=None):
        """ys (B, T, D n) and the final states [(L, D, B, n)] as torch tensors, and the variables [[[kernel,
        recurrent_kernel, bias]]] for the validated call ``s``; ``masked``: pass the mask t < lengths[b];
        ``leaves`` = (x, [states]) torch tensors to differentiate, else fresh ones."""
        L, D, n, params, dt = s.L, s.D, s.n, s.layers, _np_dtype(s.dtype)
        x, s_t = leaves if leaves is not None else (_t(_bt(s.xs), dt), [_t(a, dt) for a in states])
        mask = torch.tensor(np.arange(s.T)[None, :] < s.lengths[:, None]) if masked else None
        k = len(STATES[self.kind])
        finals, variables = [], []
        for l in range(L):
            layer = self.source(l, D, n, x.shape[-1], dt)
            variables.append([runtime._assign(fn, c, self.cfg, p, dt)
                              for c, p in zip(_cells(layer, "bi" if D == 2 else "seq"), params[l])])
            out = layer(x, initial_state=[a[l, d] for d in range(D) for a in s_t], mask=mask, training=False)
            x = out[0]
            finals.append([out[1 + d * k: 1 + (d + 1) * k] for d in range(D)])
        stacked = [torch.stack([torch.stack([finals[l][d][j] for d in range(D)]) for l in range(L)]) for j in range(k)]
        return x, stacked, variables

    def forward(self, xs, states, layers, lengths, dropout, training, seed):
        fn = f"{self.kind}_stack"
        s, states = _call(fn, self.kind, xs, states, layers, lengths)
        _dropout(fn, dropout, training, seed)
        dt = _np_dtype(s.dtype)
        with _LOCK, torch.no_grad():
            ys, finals, _ = self._run(fn, s, states, lengths is not None)
            ys = _np(runtime._tb(ys), dt)
            finals = [_np(f, dt) for f in finals]
        return (ys, tuple(finals)) if self.kind == "lstm" else (ys, finals[0])

    def vjp(self, xs, states, layers, lengths, d_ys, cots):
        fn = f"{self.kind}_stack_vjp"
        names = STATES[self.kind]
        k = len(names)
        s, states = _call(fn, self.kind, xs, states, layers, lengths)
        d_ys, cots = stacked_checks.cotangents(fn, s, d_ys, [(f"d_{n[0]}T", c) for n, c in zip(names, cots)])
        dt = _np_dtype(s.dtype)
        leaves = [_t(_bt(s.xs), dt, True)] + [_t(a, dt, True) for a in states]
        with _LOCK, torch.enable_grad():
            ys, finals, variables = self._run(fn, s, states, lengths is not None, (leaves[0], leaves[1:]))
            g = runtime._pullback([(_bt(d_ys), ys), *zip(cots, finals)], leaves,
                                 [v for row in variables for cell in row for v in cell], dt)
        w = iter(g[1 + k:])
        grads = [[runtime.keras_grads_to_canonical(
            self.kind, dict(zip(("kernel", "recurrent_kernel", "bias"), (next(w), next(w), next(w)))), self.cfg.gru)
            for _ in range(s.D)] for _ in range(s.L)]
        out = {"xs": np.ascontiguousarray(np.swapaxes(g[0], 0, 1)), "layers": grads}
        out.update(zip(names, g[1:1 + k]))
        return out

    def capabilities(self) -> dict:
        """{<kind>_stack, <kind>_stack_vjp} with the protocol's signatures (the NumPy reference's defaults)."""
        if self.kind == "lstm":
            def lstm_stack(xs, h0, c0, layers, lengths=None, dropout=0.0, training=False, seed=0):
                return self.forward(xs, (h0, c0), layers, lengths, dropout, training, seed)

            def lstm_stack_vjp(xs, h0, c0, layers, lengths, d_ys, d_hT, d_cT):
                return self.vjp(xs, (h0, c0), layers, lengths, d_ys, (d_hT, d_cT))
            return {"lstm_stack": lstm_stack, "lstm_stack_vjp": lstm_stack_vjp}

        def stack(xs, h0, layers, lengths=None, dropout=0.0, training=False, seed=0):
            return self.forward(xs, (h0,), layers, lengths, dropout, training, seed)

        def stack_vjp(xs, h0, layers, lengths, d_ys, d_hT):
            return self.vjp(xs, (h0,), layers, lengths, d_ys, (d_hT,))
        stack.__name__, stack_vjp.__name__ = f"{self.kind}_stack", f"{self.kind}_stack_vjp"
        return {f"{self.kind}_stack": stack, f"{self.kind}_stack_vjp": stack_vjp}


def capabilities(dtype: str = "float32", gru: str = "reset_after", activation: str = "tanh",
                 zero_output_for_mask: bool = False) -> dict:
    """{rnn_stack, lstm_stack, gru_stack, *_vjp}: real Keras SimpleRNN(activation) / LSTM / GRU(reset_after =
    ``gru == "reset_after"``) layers, Bidirectional when D = 2, masks from ``lengths``.

    ``zero_output_for_mask`` is given to every plain (D = 1) layer: False (Keras' default) -> the last real output
    is carried (convention padded_output "carry"); True -> 0 at padded steps ("zero"). Bidirectional layers give 0
    at padded steps either way (Keras forces it; both conventions say so). Computation runs in the inputs' dtype;
    ``dtype`` is validated only (the keras target is float32, see the module docstring)."""
    fn = "keras3_stacked.capabilities"
    dtype_name(fn, dtype)
    checks.gru_variant(fn, gru)
    checks.activation(fn, activation)
    zero = flag(fn, "zero_output_for_mask", zero_output_for_mask)
    out = {}
    for kind in KINDS:
        out.update(_Stack(_Config(kind, gru if kind == "gru" else "reset_after",
                                  activation if kind == "rnn" else "tanh", zero)).capabilities())
    return out


#: the conventions the stack capabilities above declare (with Keras' default zero_output_for_mask=False)
CONVENTIONS = {"padded_output": "carry", "restrictions": {"stack_dropout": 0, "stack_projection": False}}


# ---- a user's model -----------------------------------------------------------------------------------

WHO = "keras3.from_model"
_refuse = functools.partial(runtime._refuse, who=WHO)


def _model_layers(model):
    """(kind, _Config, D, dtype, template layer, policy) of a Sequential [Masking] + L recurrent layers, else
    ValueError."""
    Lk = keras.layers
    if not isinstance(model, keras.Sequential):
        _refuse(model, "only keras.Sequential models are supported: an optional Masking layer, then SimpleRNN / "
                       "LSTM / GRU layers or Bidirectional(merge_mode='concat') over them")
    layers = [lay for lay in model.layers if not isinstance(lay, Lk.InputLayer)]
    if layers and isinstance(layers[0], Lk.Masking):
        layers = layers[1:]
    if not layers:
        _refuse(model, "has no recurrent layer")
    found = None
    for lay in layers:
        if isinstance(lay, Lk.Masking):
            _refuse(lay, "a Masking layer is supported only as the model's first layer")
        bi = isinstance(lay, Lk.Bidirectional)
        inner = lay.forward_layer if bi else lay
        if not isinstance(inner, Lk.RNN):
            _refuse(lay, "is not a recurrent layer (SimpleRNN / LSTM / GRU / keras.layers.RNN, or Bidirectional "
                         "over one): the stack capabilities need a model made of recurrent layers only")
        kind, cfg = runtime._kind_of(inner, WHO)
        if bi:
            if lay.merge_mode != "concat":
                _refuse(lay, f"merge_mode={lay.merge_mode!r}, but the protocol needs 'concat' ([fwd ; bwd])")
            if runtime._kind_of(lay.backward_layer, WHO) != (kind, cfg):
                _refuse(lay, "the backward layer has another kind or configuration than the forward layer")
        elif inner.go_backwards:
            _refuse(lay, "go_backwards=True alone returns the sequence reversed: use Bidirectional")
        if getattr(inner, "stateful", False):
            _refuse(lay, "stateful=True is not supported (states carry over between calls)")
        if not inner.return_sequences:
            _refuse(lay, "return_sequences=False, but a stack needs every layer's whole sequence")
        policy = lay.dtype_policy
        if policy.compute_dtype != policy.variable_dtype or policy.compute_dtype not in ("float32", "float64"):
            _refuse(lay, f"dtype policy {policy.name!r} is not supported: use float32 or float64 (no mixed precision)")
        key = (kind, cfg, 2 if bi else 1, policy.compute_dtype)
        if found is None:
            found = key + (inner, policy)
        elif key != found[:4]:
            _refuse(lay, "differs from the model's first recurrent layer (kind, activation, GRU variant, direction "
                         "or dtype): the protocol's layers all share one configuration")
    return found


def from_model(model, name=None):
    """A Target with ``<kind>_stack`` and ``<kind>_stack_vjp`` running the configuration of the user's
    ``keras.Sequential``: an optional leading ``Masking`` layer, then recurrent layers (SimpleRNN / LSTM / GRU
    / keras.layers.RNN over one such cell, return_sequences=True) all of one kind and configuration, plain or
    all ``Bidirectional(merge_mode="concat")``.

    The model is a template (it is never called or changed): every call builds L fresh layers of the user's
    class and configuration (``from_config`` with units = n, return_state=True) -- L, n and the input size
    come from the call's parameters, like `keras3.from_layer` with resize=True -- and passes the mask
    ``t < lengths[b]`` to every layer (what the Masking layer does for inputs padded with its mask_value).
    D = 2 calls wrap the layers in Bidirectional, D = 1 calls do not.

    Conventions: padded_output follows the model's own layers: "carry" when they keep Keras' default
    zero_output_for_mask=False (a plain layer carries its last real output; Bidirectional gives 0 in both halves,
    which "carry" says for D = 2), "zero" when they set zero_output_for_mask=True. Restrictions stack_dropout 0 (Keras' dropout= is a per-layer input dropout) and
    stack_projection False. The model's own dropout / recurrent_dropout never act: every call runs inference."""
    from dlproof.target import Target

    kind, cfg, _, dtype, inner, policy = _model_layers(model)
    zero = bool(getattr(inner, "zero_output_for_mask", False))
    cfg = _Config(cfg.kind, cfg.gru, cfg.activation, zero)

    @functools.lru_cache(maxsize=128)
    def layer(index, D, n, in_size):
        config = {**inner.get_config(), "name": None, "return_sequences": True, "return_state": True,
                  "go_backwards": False, "stateful": False, "zero_output_for_mask": zero}
        seq = runtime._resized(type(inner).from_config(config), n)
        out = keras.layers.Bidirectional(seq, merge_mode="concat", dtype=policy) if D == 2 else seq
        out.build((None, None, in_size))
        return out

    def source(index, D, n, in_size, dt):
        if dt.name != dtype:
            _refuse(model, f"{kind}_stack: the model computes in {dtype}, but the inputs are {dt.name}")
        return layer(index, D, n, in_size)

    conventions = copy.deepcopy(CONVENTIONS)
    conventions["padded_output"] = "zero" if zero else "carry"
    if kind == "rnn":
        conventions["rnn_activation"] = cfg.activation
    if kind == "gru":
        conventions["gru"] = cfg.gru
    return Target(name=name or f"keras {runtime.KERAS_VERSION} user model {model.name!r}", dtype=dtype,
                  conventions=conventions, **_Stack(cfg, source).capabilities())
