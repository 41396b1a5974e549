"""ONNX Runtime's CPU kernels as conformance-protocol targets (version 1): one-node ONNX graphs (`ort_graphs`).

Recurrent ops (RNN, LSTM, GRU, opset 22). The canonical params of one direction (`dlproof.parameters`: a cell
computes ``x @ W_x.T + h @ W_h.T + b`` on batch rows) map onto ONNX's inputs as stacked row blocks in ONNX's
gate order (`ONNX_GATES`): LSTM "iofc" = [i; o; f; g] (ONNX's c is the protocol's candidate g), GRU "zrh" =
[z; r; n], RNN one block:

    W (D, G n, m) = [W_x* ...]     R (D, G n, n) = [W_h* ...]     B (D, 2 G n) = [Wb ; Rb]
    Wb = [b_* ...]                 Rb = 0, except GRU's Rbh = b_hn          P (D, 3n) = [p_i ; p_o ; p_f]

so the canonical bias goes into Wb (the bias layout is "two": ONNX adds Wb + Rb; Rb = 0 carries nothing but
the GRU candidate's recurrent bias). GRU: ``linear_before_reset=1`` is the protocol's reset-after
(n = tanh(W_xn x + b_xn + r * (W_hn h + b_hn)), target "onnxruntime") and ``linear_before_reset=0`` its
reset-before (n = tanh(W_xn x + b_xn + W_hn (r * h) + b_hn), target "onnxruntime.gru_reset_before"). RNN
runs ``activations=["Tanh"]`` (["Relu"] for `relu_target`); LSTM and GRU keep ONNX's default activations
(Sigmoid, Tanh[, Tanh]); ``clip`` is never set (ONNX's clip bounds pre-activations, which the protocol does
not have) and ``input_forget`` stays 0. Cells (rnn_cell, lstm_cell, gru_cell, lstm_peephole_cell with ONNX's
P input) are a T = 1 run of the sequence op; sequences (rnn, lstm, gru) run ``direction="forward"``, the
bidirectional capabilities ``direction="bidirectional"``: ys = [Y[:, 0] ; Y[:, 1]] (ONNX's reverse output is
time-aligned), h_f = Y_h[0], h_b = Y_h[1] (the backward state after reading x_0). Every graph sets
``layout=0`` (time-major X (T, B, m), Y (T, D, B, n), Y_h (D, B, n), as the protocol): ONNX Runtime's CPU
kernels refuse ``layout=1`` (batch-major) at session creation ("Batchwise recurrent operations (layout == 1)
are not supported"), a limitation recorded in reports/findings/onnxruntime-rnn-layout-batchwise/. An empty
sequence (T = 0) is refused with a ValueError: ONNX Runtime's GRU aborts the process on it and its RNN and LSTM
return zero final states (reports/findings/onnxruntime-empty-sequence/).

Other ops: Softmax (opset 13, axis -1); Conv (opset 22: strides, pads = padding on both sides, dilations,
group; kernel_shape taken from W, zero padding); BatchNormalization (opset 15: training_mode = training,
ONNX's momentum is the weight of the old running value, so it gets 1 - momentum, rounded to float32 as every
ONNX float attribute: a momentum m < 1/2 reaches the kernel as 1 - fl32(1 - m), reports/findings/
onnxruntime-batchnorm-momentum-float32/; inference returns the running statistics unchanged);
LayerNormalization (opset 17, axis -1, stash_type 1; without the affine part Scale = 1, no bias input);
Attention (opset 25: q, k, v as (B, 1, T, d), is_causal = causal, ONNX's causal mask is the top-left one,
scale left at 1/sqrt(d)). Softmax flushes subnormal outputs to 0 (`SOFTMAX_SUBNORMALS`: `target` declares
subnormals=softmax_flush_to_zero). eps is an ONNX float attribute: rounded to float32. Not provided: every VJP (ONNX
Runtime's inference build has no gradients), mha (ONNX's Attention has no projections: a one-node graph cannot
hold them), clipping, param_count, the stacks, mlp, residual, dropout, the NTK.

dtype "float32" only (`dtype_of` refuses any other): measured with onnxruntime 1.32, the CPU provider has no
float64 RNN or Conv kernel, refuses float64 LSTM and GRU at run time ("does not support double yet"), and its
float64 Attention, BatchNormalization and LayerNormalization miss the float64 error model by up to 1e4 and 2e3
times its tolerance (only Softmax passes). Inputs are validated as the NumPy reference does (the shared checks),
sent as copies cast to float32 and returned as new NumPy arrays of it; the inputs are never mutated. onnx and
onnxruntime are imported lazily (ImportError with the install hint without them).
"""
from __future__ import annotations

import numpy as np

from dlproof.parameters import PARAMS, PEEPHOLE_PARAMS, block
from dlproof.target import Target

from ..numpy_ref.checks import recurrent as checks
from ..numpy_ref.checks.attention import attention_args, softmax_args
from ..numpy_ref.checks.batchnorm import check_forward as batchnorm_args
from ..numpy_ref.checks.convolution import conv_args
from ..numpy_ref.layernorm import check_forward as layernorm_args
from . import ort_graphs as graphs

OP = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
#: ONNX's gate order of each kind, in the protocol's gate letters (LSTM "iofc": c = g; GRU "zrh": h = n)
ONNX_GATES = {"rnn": ("",), "lstm": ("i", "o", "f", "g"), "gru": ("z", "r", "n")}
#: the peepholes in the order of ONNX's P (D, 3n): i, o, f
ONNX_PEEPHOLES = ("p_i", "p_o", "p_f")
GRU_LINEAR_BEFORE_RESET = {"reset_after": 1, "reset_before": 0}
ACTIVATIONS = {"tanh": "Tanh", "relu": "Relu"}
#: ONNX's layout attribute: 0 = time-major (X (T, B, m)); 1 (batch-major) is refused by ONNX Runtime's CPU kernels
LAYOUT = 0
#: |computed - exact| / u of the recurrent kernels' tanh and sigmoid, float32, measured with onnxruntime 1.32 on
#: x86-64 (zero weights isolate them; every float32 in [-10.5, -8] and [8, 10.5], every multiple of 2^-12 in
#: [-11, 11]): the GRU's tanh 10.10 (it returns +-1.0000006 = +-(1 + 10u) for |x| >= ~9.8, with
#: linear_before_reset 0 and 1 alike), the LSTM's tanh 4.24, the RNN's tanh 2.99, sigmoid (GRU, LSTM) 2.24.
#: reports/findings/onnxruntime-gru-tanh-overshoot/ reproduces it
ACTIVATION_ULPS = 10.1
#: the dtypes of the targets (see the module docstring for float64)
DTYPES = ("float32",)


# ---- the weight map (NumPy only) ----------------------------------------------------------------------

def to_onnx(kind: str, p, peephole: bool = False) -> dict:
    """Canonical params of one direction -> {"W" (G n, m), "R" (G n, n), "B" (2 G n,)[, "P" (3n,)]} in ONNX's
    gate order; the canonical bias goes into Wb = B[:G n], Rb = B[G n:] is 0 except GRU's Rbh = b_hn."""
    if kind not in OP:
        raise ValueError(f"to_onnx: kind should be one of {tuple(OP)}, got {kind!r}")
    blocks = [block(kind, g) for g in ONNX_GATES[kind]]
    W = np.concatenate([np.asarray(p[wx]) for wx, _, _ in blocks])
    R = np.concatenate([np.asarray(p[wh]) for _, wh, _ in blocks])
    Wb = np.concatenate([np.asarray(p[b]) for _, _, b in blocks])
    Rb = np.zeros_like(Wb)
    if kind == "gru":
        n = R.shape[1]
        Rb[2 * n:] = p["b_hn"]
    out = {"W": W, "R": R, "B": np.concatenate([Wb, Rb])}
    if peephole:
        out["P"] = np.concatenate([np.asarray(p[k]) for k in ONNX_PEEPHOLES])
    return out


def from_onnx(kind: str, s, peephole: bool = False) -> dict:
    """The inverse of `to_onnx`: {"W", "R", "B"[, "P"]} of one direction -> canonical params (b_* = Wb + Rb per
    block, GRU's b_xn = Wbh and b_hn = Rbh kept apart)."""
    if kind not in OP:
        raise ValueError(f"from_onnx: kind should be one of {tuple(OP)}, got {kind!r}")
    W, R, B = (np.asarray(s[k]) for k in ("W", "R", "B"))
    n = R.shape[1]
    G = len(ONNX_GATES[kind])
    Wb, Rb = B[:G * n], B[G * n:]
    out = {}
    for j, gate in enumerate(ONNX_GATES[kind]):
        wx, wh, b = block(kind, gate)
        rows = slice(j * n, (j + 1) * n)
        out[wx], out[wh] = W[rows].copy(), R[rows].copy()
        out[b] = Wb[rows].copy() if (kind, gate) == ("gru", "n") else Wb[rows] + Rb[rows]
    if kind == "gru":
        out["b_hn"] = Rb[2 * n:].copy()
    names = PARAMS[kind]
    if peephole:
        P = np.asarray(s["P"])
        out.update({k: P[j * n:(j + 1) * n].copy() for j, k in enumerate(ONNX_PEEPHOLES)})
        names = PEEPHOLE_PARAMS
    return {k: out[k] for k in names}


def recurrent_graph(kind: str, n: int, D: int, gru: str = "reset_after", activation: str = "tanh",
                    peephole: bool = False) -> tuple:
    """(op, inputs, outputs, attributes) of the one-node recurrent graph (see `ort_graphs.session`)."""
    inputs = [("X", 3), ("W", 3), ("R", 3), ("B", 2), ("", 0), ("initial_h", 3)]
    outputs = ["Y", "Y_h"]
    attrs = {"hidden_size": int(n), "direction": "bidirectional" if D == 2 else "forward", "layout": LAYOUT}
    if kind == "rnn":
        attrs["activations"] = [ACTIVATIONS[activation]] * D
    if kind == "gru":
        attrs["linear_before_reset"] = GRU_LINEAR_BEFORE_RESET[gru]
    if kind == "lstm":
        inputs.append(("initial_c", 3))
        outputs.append("Y_c")
        if peephole:
            inputs.append(("P", 2))
    return OP[kind], tuple(inputs), tuple(outputs), attrs


class _Recurrent:
    """The recurrent capabilities of one configuration (dtype, GRU variant, RNN activation)."""

    def __init__(self, dtype: str, gru: str = "reset_after", activation: str = "tanh"):
        self.dtype, self.gru, self.activation = dtype_of("target", dtype), gru, activation

    def run(self, kind, xs, states, ps, peephole=False):
        """xs (T, B, m) and per direction d: states[d] = [h0 (B, n)[, c0]], ps[d] params ->
        (Y (T, D, B, n), Y_h (D, B, n), Y_c (D, B, n) or None)."""
        D = len(ps)
        T, B, _ = xs.shape
        if T == 0:
            raise ValueError(f"{OP[kind]}: xs has T = 0 steps, refused: ONNX Runtime's GRU aborts the process on an "
                             "empty sequence and its RNN and LSTM return zero final states instead of the initial ones "
                             "(reports/findings/onnxruntime-empty-sequence)")
        n = states[0][0].shape[1]
        weights = [to_onnx(kind, p, peephole) for p in ps]
        feeds = {k: np.stack([w[k] for w in weights]) for k in weights[0]}
        feeds["X"] = xs
        feeds["initial_h"] = np.stack([s[0] for s in states])  # (D, B, n)
        if kind == "lstm":
            feeds["initial_c"] = np.stack([s[1] for s in states])
        op, inputs, outputs, attrs = recurrent_graph(kind, n, D, self.gru, self.activation, peephole)
        outs = graphs.run(graphs.session(op, inputs, outputs, attrs, self.dtype), feeds, self.dtype)
        for name, o, shape in zip(outputs, outs, ((T, D, B, n), (D, B, n), (D, B, n))):
            if o.shape != shape:  # pragma: no cover - the runtime's contract
                raise RuntimeError(f"onnxruntime {op} returned {name} of shape {o.shape}, expected {shape}")
        return outs[0], outs[1], outs[2] if kind == "lstm" else None

    # -- validation (the NumPy reference's checks)
    @staticmethod
    def _step(fn, kind, x, states, p, keys=None):
        if kind == "rnn":
            x, h, W_x, W_h, b, _ = checks.rnn_step(fn, x, states[0], p)
            return x, [h], {"W_x": W_x, "W_h": W_h, "b": b}
        x, sts, params, _ = checks.gated_step(fn, x, list(zip(("h", "c"), states)), p, keys or PARAMS[kind])
        return x, sts, params

    @staticmethod
    def _sequence(fn, kind, xs, states, p, names, p_name="p"):
        if kind == "rnn":
            xs, h0, W_x, W_h, b, _ = checks.rnn_sequence(fn, xs, states[0], p, h0_name=names[0], p_name=p_name)
            return xs, [h0], {"W_x": W_x, "W_h": W_h, "b": b}
        xs, sts, params, _ = checks.gated_sequence(fn, xs, list(zip(names, states)), p, PARAMS[kind], p_name=p_name)
        return xs, sts, params

    # -- cells: a T = 1 run
    def cell(self, kind, x, states, p, peephole=False):
        fn = "lstm_peephole_cell" if peephole else f"{kind}_cell"
        x, sts, params = self._step(fn, kind, x, states, p, PEEPHOLE_PARAMS if peephole else None)
        _, hn, cn = self.run(kind, x[None], [sts], [params], peephole)
        return (hn[0], cn[0]) if kind == "lstm" else hn[0]

    # -- sequences
    def sequence(self, kind, xs, states, p):
        names = ("h0", "c0")[:len(states)]
        xs, sts, params = self._sequence(kind, kind, xs, states, p, names)
        Y, hn, cn = self.run(kind, xs, [sts], [params])
        return (Y[:, 0], (hn[0], cn[0])) if kind == "lstm" else (Y[:, 0], hn[0])

    # -- bidirectional
    def bi(self, kind, xs, states_f, states_b, p_f, p_b):
        fn = f"{kind}_bi"
        base = ("h0", "c0")[:len(states_f)]
        xs, sf, pf = self._sequence(fn, kind, xs, states_f, p_f, tuple(f"{s}_f" for s in base), "p_f")
        _, sb, pb = self._sequence(fn, kind, xs, states_b, p_b, tuple(f"{s}_b" for s in base), "p_b")
        Y, hn, cn = self.run(kind, xs, [sf, sb], [pf, pb])
        ys = np.concatenate([Y[:, 0], Y[:, 1]], axis=-1)
        if kind == "lstm":
            return ys, (hn[0], cn[0]), (hn[1], cn[1])
        return ys, hn[0], hn[1]

    def capabilities(self, kinds=("rnn", "lstm", "gru"), peephole: bool = True) -> dict:
        """{capability: callable} of the recurrent kinds (cells, sequences, bidirectional)."""
        caps = {}
        if "rnn" in kinds:
            caps.update(rnn_cell=lambda x, h, p: self.cell("rnn", x, (h,), p),
                        rnn=lambda xs, h0, p: self.sequence("rnn", xs, (h0,), p),
                        rnn_bi=lambda xs, h0_f, h0_b, p_f, p_b: self.bi("rnn", xs, (h0_f,), (h0_b,), p_f, p_b))
        if "lstm" in kinds:
            caps.update(lstm_cell=lambda x, h, c, p: self.cell("lstm", x, (h, c), p),
                        lstm=lambda xs, h0, c0, p: self.sequence("lstm", xs, (h0, c0), p),
                        lstm_bi=self._lstm_bi)
            if peephole:
                caps["lstm_peephole_cell"] = lambda x, h, c, p: self.cell("lstm", x, (h, c), p, peephole=True)
        if "gru" in kinds:
            caps.update(gru_cell=lambda x, h, p: self.cell("gru", x, (h,), p),
                        gru=lambda xs, h0, p: self.sequence("gru", xs, (h0,), p),
                        gru_bi=lambda xs, h0_f, h0_b, p_f, p_b: self.bi("gru", xs, (h0_f,), (h0_b,), p_f, p_b))
        return caps

    def _lstm_bi(self, xs, state_f, state_b, p_f, p_b):
        sf = checks.state_pair("lstm_bi", "state_f", state_f, "h0_f", "c0_f")
        sb = checks.state_pair("lstm_bi", "state_b", state_b, "h0_b", "c0_b")
        return self.bi("lstm", xs, sf, sb, p_f, p_b)


# ---- the other ops ---------------------------------------------------------------------------------------

def softmax_graph(ndim: int) -> tuple:
    """(op, inputs, outputs, attributes) of Softmax-13 over the last axis of an ``ndim``-d input."""
    return "Softmax", (("X", int(ndim)),), ("Y",), {"axis": -1}


def attention_graph(causal: bool) -> tuple:
    """Attention-25 on (B, H, T, d) inputs, ``is_causal`` = causal, the default scale 1/sqrt(d)."""
    return "Attention", (("Q", 4), ("K", 4), ("V", 4)), ("Y",), {"is_causal": int(bool(causal))}


def conv_graph(nd: int, s: tuple, p: tuple, d: tuple, G: int, bias: bool) -> tuple:
    """Conv-22 over ``nd`` spatial axes: strides s, pads p on both sides ([begin..., end...]), dilations d,
    group G; the bias input B only when ``bias``."""
    attrs = {"strides": list(s), "pads": list(p) * 2, "dilations": list(d), "group": int(G)}
    return "Conv", (("X", nd + 2), ("W", nd + 2)) + ((("B", 1),) if bias else ()), ("Y",), attrs


def batchnorm_graph(training: bool, momentum: float, eps: float) -> tuple:
    """BatchNormalization-15 on (N, C): ONNX momentum = 1 - momentum (the weight of the old running value);
    in training the updated running statistics are outputs too."""
    inputs = (("X", 2), ("scale", 1), ("B", 1), ("input_mean", 1), ("input_var", 1))
    outputs = ("Y", "running_mean", "running_var") if training else ("Y",)
    return ("BatchNormalization", inputs, outputs,
            {"epsilon": float(eps), "momentum": 1.0 - float(momentum), "training_mode": int(bool(training))})


def layernorm_graph(ndim: int, bias: bool, eps: float) -> tuple:
    """LayerNormalization-17 over the last axis, statistics in float32 (stash_type 1); the bias input B only
    when ``bias``."""
    inputs = (("X", int(ndim)), ("Scale", 1)) + ((("B", 1),) if bias else ())
    return "LayerNormalization", inputs, ("Y",), {"axis": -1, "epsilon": float(eps), "stash_type": 1}


def _run_graph(fn: str, graph: tuple, feeds: dict, dtype: str) -> list:
    op, inputs, outputs, attrs = graph
    dtype_of(fn, dtype)
    return graphs.run(graphs.session(op, inputs, outputs, attrs, dtype), feeds, dtype)


def softmax(x, *, dtype="float32"):
    """ONNX Softmax-13 over the last axis: x (..., n) -> s."""
    x, _, _ = softmax_args("softmax", x)
    return _run_graph("softmax", softmax_graph(x.ndim), {"X": x}, dtype)[0]


def attention(q, k, v, causal, *, dtype="float32"):
    """ONNX Attention-25 on (B, 1, T, d) inputs (one head), is_causal = causal (top-left mask), scale
    1/sqrt(d): q (B, Tq, d), k (B, Tk, d), v (B, Tk, dv) -> y (B, Tq, dv)."""
    q, k, v, causal, _, _ = attention_args("attention", q, k, v, causal)
    feeds = {"Q": q[:, None], "K": k[:, None], "V": v[:, None]}
    return _run_graph("attention", attention_graph(causal), feeds, dtype)[0][:, 0]


def _conv(fn, nd, dtype, x, w, b, stride, padding, dilation, groups):
    a = conv_args(fn, nd, x, w, b, stride, padding, dilation, groups)
    feeds = {"X": a.x, "W": a.w, **({"B": a.b} if a.b is not None else {})}
    return _run_graph(fn, conv_graph(nd, a.s, a.p, a.d, a.G, a.b is not None), feeds, dtype)[0]


def conv1d(x, w, b, stride, padding, dilation, groups, *, dtype="float32"):
    """ONNX Conv-22: x (B, C_in, L), w (C_out, C_in/groups, K), b (C_out,) or None -> y (B, C_out, L_out)."""
    return _conv("conv1d", 1, dtype, x, w, b, stride, padding, dilation, groups)


def conv2d(x, w, b, stride, padding, dilation, groups, *, dtype="float32"):
    """ONNX Conv-22: x (B, C_in, H, W), w (C_out, C_in/groups, KH, KW) -> y (B, C_out, H_out, W_out)."""
    return _conv("conv2d", 2, dtype, x, w, b, stride, padding, dilation, groups)


def batchnorm(x, gamma, beta, running_mean, running_var, training, momentum, eps, *, dtype="float32"):
    """ONNX BatchNormalization-15 on x (N, C): training_mode = training, ONNX momentum = 1 - momentum ->
    (y, running_mean', running_var'); inference returns copies of the running statistics."""
    x, g, b, rm, rv, training, momentum, eps, _ = batchnorm_args(
        "batchnorm", x, gamma, beta, running_mean, running_var, training, momentum, eps)
    feeds = {"X": x, "scale": g, "B": b, "input_mean": rm, "input_var": rv}
    outs = _run_graph("batchnorm", batchnorm_graph(training, momentum, eps), feeds, dtype)
    if training:
        return tuple(outs)
    return outs[0], rm.astype(dtype, copy=True), rv.astype(dtype, copy=True)


def layernorm(x, gamma, beta, eps, *, dtype="float32"):
    """ONNX LayerNormalization-17 over the last axis (stash_type 1): x (..., F), gamma, beta (F,) or None -> y;
    without the affine part Scale = 1 (exact) and no bias input."""
    x, g, b, eps, _ = layernorm_args("layernorm", x, gamma, beta, eps)
    feeds = {"X": x, "Scale": g if g is not None else np.ones(x.shape[-1]), **({"B": b} if b is not None else {})}
    return _run_graph("layernorm", layernorm_graph(x.ndim, b is not None, eps), feeds, dtype)[0]


def dtype_of(fn: str, dtype) -> str:
    """``dtype`` if it is one of `DTYPES`, else the ValueError naming ``fn`` (and why float64 is left out)."""
    if dtype not in DTYPES:
        raise ValueError(f"{fn}: argument 'dtype' should be one of {DTYPES}, got {dtype!r} (ONNX Runtime's CPU "
                         "provider has no float64 RNN, LSTM, GRU or Conv kernel, and its float64 Attention, "
                         "BatchNormalization and LayerNormalization miss the float64 error model)")
    return dtype


def _bind(dtype: str, names) -> dict:
    from functools import partial

    return {c: partial(globals()[c], dtype=dtype) for c in names}


# ---- factories -----------------------------------------------------------------------------------------

def conventions(gru: str = "reset_after", activation: str = "tanh") -> dict:
    """What the ONNX graphs declare: the GRU variant (linear_before_reset), the RNN activation, two bias
    vectors (Wb, Rb), and BatchNormalization's running_var update with the biased batch variance (ONNX's
    current_var = ReduceVar(X), measured: running_var' = 0.75 rv + 0.25 var_biased to float32 rounding), and
    the measured accuracy of the recurrent kernels' activations (`ACTIVATION_ULPS`)."""
    return {"gru": gru, "rnn_activation": activation, "bias": "two", "bn_running_var": "biased",
            "activation_ulps": ACTIVATION_ULPS}


#: measured (reports/findings/onnxruntime-softmax-flushes-subnormals): ONNX Runtime's CPU Softmax returns 0 for
#: an output below float32's smallest normal number, where Exp and Mul underflow gradually; declaring
#: flush_to_zero for the whole target fails the three cells' extremes properties, which pass under the gradual
#: model. The target with Softmax and Attention declares softmax_flush_to_zero: the softmax and
#: attention models allow the smallest normal number (1.2e-38) per operation; the recurrent-only targets
#: (gru_reset_before, relu) run no Softmax and keep gradual underflow.
SOFTMAX_SUBNORMALS = {"subnormals": "softmax_flush_to_zero"}


def _name(what: str, dtype: str) -> str:
    return f"onnxruntime {graphs.version()} CPU{what} ({dtype})"


def target(dtype: str = "float32") -> Target:
    """RNN, LSTM (with peepholes), GRU (linear_before_reset=1) cells, sequences and bidirectional forms, Softmax,
    Conv, BatchNormalization, LayerNormalization and Attention, as one-node graphs run by ONNX Runtime (CPU)."""
    dtype_of("target", dtype)
    graphs.modules()
    caps = _Recurrent(dtype).capabilities()
    caps.update(_bind(dtype, ("softmax", "attention", "conv1d", "conv2d", "batchnorm", "layernorm")))
    return Target(name=_name("", dtype), dtype=dtype, conventions={**conventions(), **SOFTMAX_SUBNORMALS}, **caps)


def gru_reset_before_target(dtype: str = "float32") -> Target:
    """ONNX GRU with linear_before_reset=0 (the protocol's reset-before): gru_cell, gru and gru_bi only."""
    dtype_of("gru_reset_before_target", dtype)
    graphs.modules()
    caps = _Recurrent(dtype, gru="reset_before").capabilities(kinds=("gru",))
    return Target(name=_name(" GRU linear_before_reset=0", dtype), dtype=dtype,
                  conventions=conventions(gru="reset_before"), **caps)


def relu_target(dtype: str = "float32") -> Target:
    """ONNX RNN with activations=["Relu"]: rnn_cell, rnn and rnn_bi only (relu'(0) plays no part: no gradients)."""
    dtype_of("relu_target", dtype)
    graphs.modules()
    caps = _Recurrent(dtype, activation="relu").capabilities(kinds=("rnn",))
    return Target(name=_name(" RNN activations=Relu", dtype), dtype=dtype,
                  conventions=conventions(activation="relu"), **caps)
