"""The float64 oracle of stacked, masked, bidirectional RNN/LSTM/GRU networks (chapter stacked).

Built only from the proved one-layer oracles (oracle_rnn.rnn_forward/rnn_vjp, oracle_lstm.lstm_forward/lstm_vjp,
oracle_gru.gru_forward/gru_vjp, oracle_projection.lstm_proj_forward/lstm_proj_vjp for layers holding W_proj) and the
records of derivations/stacked.py:

- stack.composition: layer 0 reads xs (T, B, m); layer l >= 1 reads layer l-1's output (T, B, D * n_out).
- stack.padding.final_state / real_steps_independent: sequence b is run ALONE on its real prefix x_0 .. x_{len_b - 1}
  (this is the definition, not a masked imitation of it); its final state is the state after x_{len_b - 1}.
- stack.padding.reversed_within_length: the backward direction runs on the reversed prefix x_{len_b-1} .. x_0 and
  is re-reversed (bi.backward_is_reversed_forward with T := len_b); its final state is the state after x_0.
- stack.dropout.between_layers: the input of layer l >= 1 is masks[l-1] * out_{l-1} / (1 - p) when masks are given
  (the oracle takes the Bernoulli masks, not a seed); never on layer 0's input, never after the last layer.
- padded outputs (t >= len_b): 'zero' -> 0; 'carry' -> a unidirectional stack (D = 1) repeats its last real
  output, a bidirectional one (D = 2) gives 0 in both halves (Keras: a plain layer carries, Bidirectional forces
  zero_output_for_mask=True on both). The VJP under a carry sends the padded cotangents into the last real output.

Layouts (the protocol's): xs (T, B, m) time-major; ``layers[l][d]`` the canonical params of the kind (d = 0 forward,
1 backward); states (L, D, B, n_out) (LSTM: c (L, D, B, n)); ys (T, B, D * n_out) = [forward ; backward]. Computed
in float64; inputs are never mutated.
"""
from __future__ import annotations

import numpy as np

from .oracle_gru import gru_forward, gru_vjp
from .oracle_lstm import lstm_forward, lstm_vjp
from .oracle_rnn import rnn_forward, rnn_vjp

KINDS = ("rnn", "lstm", "gru")
PADDED_OUTPUTS = ("zero", "carry")


def carries(padded_output: str, layers) -> bool:
    """Whether padded steps repeat the last real output: convention 'carry' on a unidirectional stack (D = 1)."""
    return padded_output == "carry" and len(layers[0]) == 1
_DEFAULT_CONV = {"rnn": "tanh", "gru": "reset_after", "lstm": None}


def n_states(kind: str) -> int:
    """1 (h) for rnn and gru, 2 (h, c) for lstm."""
    return 2 if kind == "lstm" else 1


def out_size(layer_params: dict) -> int:
    """n_out of one layer: P (rows of W_proj) when projected, else n."""
    if "W_proj" in layer_params:
        return int(np.shape(layer_params["W_proj"])[0])
    return int(np.shape(next(v for k, v in layer_params.items() if k.startswith("W_h")))[1])


# ---------------------------------------------------------------- one direction of one layer, full length
def run_layer(kind: str, xs, state0: tuple, p: dict, conv=None):
    """One direction, forward in time: (T, B, in), state0 ((B, n_out)[, (B, n)]) -> (hs (T, B, n_out), final tuple)."""
    conv = conv or _DEFAULT_CONV[kind]
    if kind == "rnn":
        hs, h = rnn_forward(xs, state0[0], p, conv)
        return hs, (h,)
    if kind == "gru":
        hs, h = gru_forward(xs, state0[0], p, conv)
        return hs, (h,)
    if "W_proj" in p:
        from .oracle_projection import lstm_proj_forward

        hs, (h, c) = lstm_proj_forward(xs, state0[0], state0[1], p)
    else:
        hs, (h, c) = lstm_forward(xs, state0[0], state0[1], p)
    return hs, (h, c)


def layer_vjp(kind: str, xs, state0: tuple, p: dict, d_hs, d_final: tuple, conv=None):
    """Gradients of <d_hs, hs> + <d_final, final> of `run_layer` -> (d_xs, d_state0 tuple, d_params dict)."""
    conv = conv or _DEFAULT_CONV[kind]
    if kind == "rnn":
        g = rnn_vjp(xs, state0[0], p, d_hs, d_final[0], conv)
        return g["xs"], (g["h0"],), g["params"]
    if kind == "gru":
        g = gru_vjp(xs, state0[0], p, d_hs, d_final[0], conv)
        return g["xs"], (g["h0"],), g["params"]
    if "W_proj" in p:
        from .oracle_projection import lstm_proj_vjp as vjp
    else:
        vjp = lstm_vjp
    g = vjp(xs, state0[0], state0[1], p, d_hs, d_final[0], d_final[1])
    return g["xs"], (g["h0"], g["c0"]), g["params"]


def run_direction(kind, xs, state0, p, d: int, conv=None):
    """Direction d of one layer on one full-length sequence: d = 1 runs on the reversed input and re-reverses
    (bi.backward_is_reversed_forward); its final state is the state after reading x_0."""
    if d == 0:
        return run_layer(kind, xs, state0, p, conv)
    hs, final = run_layer(kind, xs[::-1], state0, p, conv)
    return hs[::-1], final


# ---------------------------------------------------------------- input checks
def _fail(where: str, msg: str):
    raise ValueError(f"oracle_stacked.{where}: {msg}")


def check_stack(kind, xs, states, layers, lengths, where="stack_forward"):
    """Validate the stacked arguments; returns (T, B, L, D, lengths as an int array (B,))."""
    if kind not in KINDS:
        _fail(where, f"kind={kind!r}, but should be one of {KINDS}")
    xs = np.asarray(xs)
    if xs.ndim != 3 or xs.shape[0] < 1:
        _fail(where, f"xs has shape {xs.shape}, but should be (T, B, m) with T >= 1")
    if not np.all(np.isfinite(xs)):
        _fail(where, "xs holds NaN or inf, but should be finite")
    T, B = xs.shape[:2]
    if not isinstance(layers, (list, tuple)) or not layers:
        _fail(where, "layers should be a non-empty list of layers (each a list of D = 1 or 2 parameter dicts)")
    D = len(layers[0]) if isinstance(layers[0], (list, tuple)) else 0
    if D not in (1, 2) or any(not isinstance(lay, (list, tuple)) or len(lay) != D for lay in layers):
        _fail(where, f"every layer should be a list of D = 1 or 2 parameter dicts, the same D in every layer; "
                     f"got lengths {[len(lay) if isinstance(lay, (list, tuple)) else type(lay).__name__ for lay in layers]}")
    L = len(layers)
    n_out = out_size(layers[0][0])
    want = (L, D, B, n_out)
    if len(states) != n_states(kind):
        _fail(where, f"{len(states)} initial state arrays, but a {kind} stack needs {n_states(kind)}")
    for name, s in zip(("h0", "c0"), states):
        s = np.asarray(s)
        shape = want if name == "h0" else (L, D, B, np.shape(layers[0][0]["b_i"])[0])
        if s.shape != shape:
            _fail(where, f"{name} has shape {s.shape}, but should be {shape} (layer, direction, batch, size)")
    if lengths is None:
        return T, B, L, D, np.full(B, T, dtype=np.int64)
    lens = np.asarray(lengths)
    if lens.shape != (B,) or not np.issubdtype(lens.dtype, np.integer):
        _fail(where, f"lengths has shape {lens.shape} and dtype {lens.dtype}, but should be an int array ({B},)")
    if np.any(lens < 1) or np.any(lens > T):
        _fail(where, f"lengths {lens.tolist()}, but every length should be in [1, T = {T}]")
    return T, B, L, D, lens.astype(np.int64)


# ---------------------------------------------------------------- the stack on one sequence
def _sequence(kind, x, s0, layers, masks, p_drop, conv):
    """One sequence x (len, 1, m), s0 tuple of (L, D, 1, .) -> (inputs per layer, outputs per layer, finals [l][d])."""
    inputs, outputs, finals = [], [], []
    inp = x
    for l, layer in enumerate(layers):
        if l > 0 and masks is not None:
            inp = masks[l - 1] * inp / (1.0 - p_drop)
        inputs.append(inp)
        halves, fin = [], []
        for d, p in enumerate(layer):
            hs, final = run_direction(kind, inp, tuple(s[l, d] for s in s0), p, d, conv)
            halves.append(hs)
            fin.append(final)
        inp = np.concatenate(halves, axis=-1)
        outputs.append(inp)
        finals.append(fin)
    return inputs, outputs, finals


def stack_forward(kind, xs, states0, layers, lengths=None, masks=None, p_drop=0.0, padded_output="zero", conv=None):
    """ys (T, B, D n_out) and the final states (tuple of (L, D, B, .) arrays) of the stacked network.

    ``states0``: (h0,) or (h0, c0). ``masks``: None (inference) or a list of L - 1 arrays (T, B, D n_out) of 0/1:
    layer l >= 1 reads masks[l-1] * out_{l-1} / (1 - p_drop). [stack.composition, stack.padding.*,
    stack.dropout.between_layers]
    """
    T, B, L, D, lens = check_stack(kind, xs, states0, layers, lengths)
    if padded_output not in PADDED_OUTPUTS:
        _fail("stack_forward", f"padded_output={padded_output!r}, but should be one of {PADDED_OUTPUTS}")
    if masks is not None:
        if not 0.0 <= p_drop < 1.0:
            _fail("stack_forward", f"p_drop={p_drop!r}, but should be in [0, 1)")
        if len(masks) != L - 1:
            _fail("stack_forward", f"{len(masks)} masks, but a stack of {L} layers needs {L - 1}")
    xs = np.asarray(xs, np.float64)
    s0 = tuple(np.asarray(s, np.float64) for s in states0)
    n_out = out_size(layers[0][0])
    ys = np.zeros((T, B, D * n_out))
    finals = tuple(np.zeros(s.shape) for s in s0)
    for b in range(B):
        ln = int(lens[b])
        mb = None if masks is None else [np.asarray(m, np.float64)[:ln, b:b + 1] for m in masks]
        _, outs, fin = _sequence(kind, xs[:ln, b:b + 1], tuple(s[:, :, b:b + 1] for s in s0), layers, mb, p_drop, conv)
        ys[:ln, b] = outs[-1][:, 0]
        if carries(padded_output, layers):
            ys[ln:, b, :n_out] = outs[-1][-1, 0, :n_out]
        for l in range(L):
            for d in range(D):
                for j, f in enumerate(fin[l][d]):
                    finals[j][l, d, b] = f[0]
    return ys, finals


def stack_vjp(kind, xs, states0, layers, lengths, d_ys, d_finals, padded_output="zero", conv=None) -> dict:
    """Gradients of <d_ys, ys> + sum_j <d_finals[j], finals[j]> of `stack_forward` at inference (no dropout):
    {"xs", "h0"(, "c0"), "layers": [[{name: grad}]]}; exactly 0 at padded inputs. Under a carry (`carries`) the padded
    cotangents d_ys[t >= len, b, :n_out] are added to the last real output's. [stack.lower_layer_gradient]"""
    T, B, L, D, lens = check_stack(kind, xs, states0, layers, lengths, "stack_vjp")
    if padded_output not in PADDED_OUTPUTS:
        _fail("stack_vjp", f"padded_output={padded_output!r}, but should be one of {PADDED_OUTPUTS}")
    xs = np.asarray(xs, np.float64)
    s0 = tuple(np.asarray(s, np.float64) for s in states0)
    d_ys = np.asarray(d_ys, np.float64)
    d_finals = tuple(np.asarray(g, np.float64) for g in d_finals)
    n_out = out_size(layers[0][0])
    if d_ys.shape != (T, B, D * n_out):
        _fail("stack_vjp", f"d_ys has shape {d_ys.shape}, but should be {(T, B, D * n_out)}")
    for g, s in zip(d_finals, s0):
        if g.shape != s.shape:
            _fail("stack_vjp", f"a final-state cotangent has shape {g.shape}, but should be {s.shape}")
    grads = {"xs": np.zeros_like(xs), "layers": [[{k: np.zeros(np.shape(v)) for k, v in p.items()} for p in lay]
                                                for lay in layers]}
    d_s0 = tuple(np.zeros_like(s) for s in s0)
    for b in range(B):
        ln = int(lens[b])
        sb = tuple(s[:, :, b:b + 1] for s in s0)
        inputs, _, _ = _sequence(kind, xs[:ln, b:b + 1], sb, layers, None, 0.0, conv)
        d_out = d_ys[:ln, b:b + 1].copy()
        if carries(padded_output, layers):
            d_out[-1, 0, :n_out] += d_ys[ln:, b, :n_out].sum(axis=0)
        for l in range(L - 1, -1, -1):
            d_in = np.zeros_like(inputs[l])
            for d, p in enumerate(layers[l]):
                half = d_out[..., d * n_out:(d + 1) * n_out]
                inp = inputs[l] if d == 0 else inputs[l][::-1]
                dh = half if d == 0 else half[::-1]
                g_x, g_s, g_p = layer_vjp(kind, inp, tuple(s[l, d] for s in sb), p, dh,
                                          tuple(g[l, d, b:b + 1] for g in d_finals), conv)
                d_in += g_x if d == 0 else g_x[::-1]
                for j, g in enumerate(g_s):
                    d_s0[j][l, d, b] = g[0]
                for k, v in g_p.items():
                    grads["layers"][l][d][k] += v
            d_out = d_in
        grads["xs"][:ln, b] = d_out[:, 0]
    grads["h0"] = d_s0[0]
    if kind == "lstm":
        grads["c0"] = d_s0[1]
    return grads


__all__ = ["KINDS", "PADDED_OUTPUTS", "n_states", "out_size", "run_layer", "layer_vjp", "run_direction",
           "check_stack", "stack_forward", "stack_vjp"]
