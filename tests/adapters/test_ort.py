"""The onnxruntime adapter: the ONNX weight map (gate orders iofc / zrh, the Wb / Rb biases, the peephole order
iof), the attributes of the one-node graphs, the session cache, every capability against the float64 NumPy
reference within the float32 error model of the target's declared arithmetic, the gate-order and variant
asymmetries that a mapping mistake would hit, the refusals, and (slow) the whole suite on both built-ins.

Expected values come from dlproof.impl.numpy_ref (float64) and dlproof.derivations.oracle_batchnorm, tolerances
from dlproof.properties' error models (tolerances.precision of the target: float32 with its declared
activation_ulps), never from the adapter.
"""
from __future__ import annotations


import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from dlproof.derivations import oracle_batchnorm  # noqa: E402
from dlproof.impl.adapters import ort  # noqa: E402
from dlproof.impl.adapters import ort_graphs as graphs  # noqa: E402
from dlproof.impl.numpy_ref import attention as ref_attention  # noqa: E402
from dlproof.impl.numpy_ref import bidirectional as ref_bi  # noqa: E402
from dlproof.impl.numpy_ref import convolution as ref_conv  # noqa: E402
from dlproof.impl.numpy_ref import gru as ref_gru  # noqa: E402
from dlproof.impl.numpy_ref import layernorm as ref_ln  # noqa: E402
from dlproof.impl.numpy_ref import lstm as ref_lstm  # noqa: E402
from dlproof.impl.numpy_ref import peephole as ref_peephole  # noqa: E402
from dlproof.impl.numpy_ref import rnn as ref_rnn  # noqa: E402
from dlproof.parameters import PARAMS, PEEPHOLE_PARAMS  # noqa: E402
from dlproof.properties import convolution as pconv  # noqa: E402
from dlproof.properties import layernorm as pln  # noqa: E402
from dlproof.properties import peephole as ppeep  # noqa: E402
from dlproof.properties import tolerances as tol  # noqa: E402
from dlproof.properties.attention import tolerances as tattn  # noqa: E402
from dlproof.properties.batchnorm import tolerances as tbn  # noqa: E402

T_, B, N, M = 4, 3, 5, 2
F32 = np.float32


def _params(kind, rng, names=None, scale=0.8):
    out = {}
    for k in names or PARAMS[kind]:
        shape = (N, M) if k.startswith("W_x") else (N, N) if k.startswith("W_h") else (N,)
        out[k] = rng.normal(0, scale, shape).astype(F32)
    return out


def _states(rng, k=2):
    return [rng.normal(0, 0.5, (B, N)).astype(F32) for _ in range(k)]


def _within(actual, expected, tolerance, what):
    err = np.abs(np.asarray(actual, np.float64) - np.asarray(expected, np.float64))
    assert np.all(err <= tolerance), f"{what}: error {err.max():.3g} exceeds its error-model tolerance"


def _outside(actual, expected, tolerance, what):
    err = np.abs(np.asarray(actual, np.float64) - np.asarray(expected, np.float64))
    assert np.any(err > tolerance), f"{what}: a swapped mapping would pass (error {err.max():.3g} within tolerance)"


def _f64(p):
    return {k: np.asarray(v, np.float64) for k, v in p.items()}


@pytest.fixture(scope="module")
def target():
    return ort.target()


@pytest.fixture(scope="module")
def arith(target):
    return tol.precision(target)


# ---- the weight map ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, order", [("rnn", [""]), ("lstm", ["i", "o", "f", "g"]), ("gru", ["z", "r", "n"])])
def test_onnx_stacks_the_gates_in_its_own_order_with_the_bias_in_wb(kind, order):
    p = _params(kind, np.random.default_rng(0))
    s = ort.to_onnx(kind, p)
    G = len(order)
    assert s["W"].shape == (G * N, M) and s["R"].shape == (G * N, N) and s["B"].shape == (2 * G * N,)
    Wb, Rb = s["B"][:G * N], s["B"][G * N:]
    for j, g in enumerate(order):
        rows = slice(j * N, (j + 1) * N)
        np.testing.assert_array_equal(s["W"][rows], p[f"W_x{g}"])
        np.testing.assert_array_equal(s["R"][rows], p[f"W_h{g}"])
        bias = "b" if kind == "rnn" else "b_xn" if (kind, g) == ("gru", "n") else f"b_{g}"
        np.testing.assert_array_equal(Wb[rows], p[bias])
        np.testing.assert_array_equal(Rb[rows], p["b_hn"] if (kind, g) == ("gru", "n") else 0)
    back = ort.from_onnx(kind, s)
    assert list(back) == list(PARAMS[kind])
    for k in PARAMS[kind]:
        np.testing.assert_array_equal(back[k], p[k])


def test_peepholes_go_into_p_in_the_order_i_o_f():
    p = _params("lstm", np.random.default_rng(1), PEEPHOLE_PARAMS)
    s = ort.to_onnx("lstm", p, peephole=True)
    np.testing.assert_array_equal(s["P"], np.concatenate([p["p_i"], p["p_o"], p["p_f"]]))
    back = ort.from_onnx("lstm", s, peephole=True)
    assert all(np.array_equal(back[k], p[k]) for k in PEEPHOLE_PARAMS)


# ---- the graphs ------------------------------------------------------------------------------------------

def _node(graph):
    op, inputs, outputs, attrs = graph
    model = graphs.node_model(op, inputs, outputs, attrs)
    node = model.graph.node[0]
    assert node.op_type == op and model.opset_import[0].version == graphs.OPSETS[op]
    assert list(node.output) == list(outputs)
    return node, graphs.node_attributes(model)


@pytest.mark.parametrize("kind, D, gru, act, peephole, expected", [
    ("rnn", 1, "reset_after", "tanh", False, {"activations": ["Tanh"]}),
    ("rnn", 2, "reset_after", "relu", False, {"activations": ["Relu", "Relu"]}),
    ("lstm", 2, "reset_after", "tanh", True, {}),
    ("gru", 1, "reset_after", "tanh", False, {"linear_before_reset": 1}),
    ("gru", 2, "reset_before", "tanh", False, {"linear_before_reset": 0}),
])
def test_recurrent_graphs_have_the_documented_attributes(kind, D, gru, act, peephole, expected):
    node, attrs = _node(ort.recurrent_graph(kind, N, D, gru, act, peephole))
    assert attrs == {"hidden_size": N, "direction": "bidirectional" if D == 2 else "forward", "layout": 0, **expected}
    assert "clip" not in attrs and "input_forget" not in attrs
    want = ["X", "W", "R", "B", "", "initial_h"] + (["initial_c"] if kind == "lstm" else [])
    want += ["P"] if peephole else []
    assert list(node.input) == want  # sequence_lens omitted; P only for the peephole cell


def test_the_other_graphs_have_the_documented_attributes():
    assert _node(ort.softmax_graph(3))[1] == {"axis": -1}
    assert _node(ort.attention_graph(True))[1] == {"is_causal": 1}
    assert _node(ort.attention_graph(False))[1] == {"is_causal": 0}
    node, attrs = _node(ort.conv_graph(2, (2, 1), (1, 0), (1, 3), 2, False))
    assert attrs == {"strides": [2, 1], "pads": [1, 0, 1, 0], "dilations": [1, 3], "group": 2}
    assert list(node.input) == ["X", "W"]
    assert list(_node(ort.conv_graph(1, (1,), (0,), (1,), 1, True))[0].input) == ["X", "W", "B"]
    attrs = _node(ort.batchnorm_graph(True, 0.25, 1e-3))[1]
    assert attrs["momentum"] == 0.75 and attrs["training_mode"] == 1  # ONNX weights the old running value
    assert np.float32(attrs["epsilon"]) == np.float32(1e-3)
    assert _node(ort.batchnorm_graph(False, 0.25, 1e-3))[1]["training_mode"] == 0
    node, attrs = _node(ort.layernorm_graph(3, False, 1e-5))
    assert attrs["axis"] == -1 and attrs["stash_type"] == 1 and list(node.input) == ["X", "Scale"]


def test_a_session_is_built_once_per_attribute_set_and_serves_every_shape():
    g = ort.recurrent_graph("gru", N, 1)
    assert graphs.session(*g) is graphs.session(*g)
    assert graphs.session(*ort.recurrent_graph("gru", N + 1, 1)) is not graphs.session(*g)
    sess = graphs.session(*ort.softmax_graph(2))
    for shape in ((1, 3), (4, 7)):  # symbolic dims: one session, any shape
        out = graphs.run(sess, {"X": np.zeros(shape)}, "float32")[0]
        np.testing.assert_array_equal(out, np.full(shape, 1 / shape[1], F32))


# ---- the recurrent capabilities against the float64 reference --------------------------------------------

def _ref(kind, variant):
    if kind == "gru":
        return (lambda xs, h0, p: ref_gru.gru(xs, h0, p, variant)), (lambda *a: ref_bi.gru_bi(*a, variant=variant))
    return {"rnn": (ref_rnn.rnn, ref_bi.rnn_bi), "lstm": (ref_lstm.lstm, ref_bi.lstm_bi)}[kind]


def _forward_tol(kind, xs, states, p, arith, variant="reset_after"):
    """(tol_hs, tol of the final states) of the forward error model."""
    if kind == "rnn":
        return tol.rnn_forward_tol(xs, states[0], _f64(p), "tanh", arith)
    if kind == "lstm":
        return tol.lstm_forward_tol(xs, states[0], states[1], _f64(p), arith)
    return tol.gru_forward_tol(xs, states[0], _f64(p), variant, arith)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_cells_sequences_and_bidirectional_match_the_reference_within_the_float32_model(target, arith, kind):
    rng = np.random.default_rng(2)
    p, p_b = _params(kind, rng), _params(kind, rng)
    xs = rng.normal(size=(T_, B, M)).astype(F32)
    k = 2 if kind == "lstm" else 1
    sf, sb = _states(rng, k), _states(rng, k)
    seq, bi = _ref(kind, "reset_after")
    # sequence (and its first step: the cell)
    hs, fin = getattr(target, kind)(xs, *sf, p)
    e_hs, e_fin = seq(xs, *sf, _f64(p))
    t_hs, t_fin = _forward_tol(kind, xs, sf, p, arith)
    _within(hs, e_hs, t_hs, f"{kind} hs")
    for a, e, t in zip(fin if kind == "lstm" else (fin,), e_fin if kind == "lstm" else (e_fin,),
                       t_fin if kind == "lstm" else (t_fin,)):
        _within(a, e, t, f"{kind} final state")
    cell = getattr(target, f"{kind}_cell")(xs[0], *sf, p)
    e1, _ = seq(xs[:1], *sf, _f64(p))
    t1, _ = _forward_tol(kind, xs[:1], sf, p, arith)
    _within(cell[0] if kind == "lstm" else cell, e1[0], t1[0], f"{kind}_cell")
    # bidirectional: the forward half is the sequence, the backward half the sequence of the reversed input
    if kind == "lstm":
        ys, _, _ = target.lstm_bi(xs, tuple(sf), tuple(sb), p, p_b)
        e_ys, _, _ = bi(xs, tuple(sf), tuple(sb), _f64(p), _f64(p_b))
    else:
        ys, _, _ = getattr(target, f"{kind}_bi")(xs, sf[0], sb[0], p, p_b)
        e_ys, _, _ = bi(xs, sf[0], sb[0], _f64(p), _f64(p_b))
    t_b, _ = _forward_tol(kind, xs[::-1], sb, p_b, arith)
    _within(ys, e_ys, np.concatenate([t_hs, t_b[::-1]], axis=-1), f"{kind}_bi ys")


@pytest.mark.parametrize("kind, swap", [("lstm", ("f", "o")), ("lstm", ("i", "g")), ("gru", ("r", "z"))])
def test_a_gate_order_swap_would_be_caught(target, arith, kind, swap):
    """Distinct gates give distinct outputs: the reference of the params with two gates swapped (what an adapter
    with that gate order would compute) lies outside the tolerance of the real run."""
    rng = np.random.default_rng(3)
    p = _params(kind, rng, scale=1.5)
    xs = rng.normal(size=(T_, B, M)).astype(F32)
    sf = _states(rng, 2 if kind == "lstm" else 1)
    a, b = swap
    q = dict(p)
    for pre in ("W_x", "W_h", "b_"):
        q[pre + a], q[pre + b] = p[pre + b], p[pre + a]
    seq, _ = _ref(kind, "reset_after")
    hs, _ = getattr(target, kind)(xs, *sf, p)
    t_hs, _ = _forward_tol(kind, xs, sf, p, arith)
    _within(hs, seq(xs, *sf, _f64(p))[0], t_hs, f"{kind} (true order)")
    _outside(hs, seq(xs, *sf, _f64(q))[0], t_hs, f"{kind} with {a} <-> {b}")


def test_the_gru_variants_are_linear_before_reset_1_and_0():
    rng = np.random.default_rng(4)
    p = _params("gru", rng, scale=1.5)
    xs = rng.normal(size=(T_, B, M)).astype(F32)
    (h0,) = _states(rng, 1)
    before = ort.gru_reset_before_target()
    a = tol.precision(before)
    hs, _ = before.gru(xs, h0, p)
    t_hs, _ = tol.gru_forward_tol(xs, h0, _f64(p), "reset_before", a)
    _within(hs, ref_gru.gru(xs, h0, _f64(p), "reset_before")[0], t_hs, "reset_before")
    _outside(hs, ref_gru.gru(xs, h0, _f64(p), "reset_after")[0], t_hs, "reset_before run as reset_after")
    assert before.conventions["gru"] == "reset_before" and before.lstm is None and before.rnn is None


def test_the_peephole_cell_reads_p_in_onnx_order(target, arith):
    rng = np.random.default_rng(5)
    p = _params("lstm", rng, PEEPHOLE_PARAMS, scale=1.5)
    x = rng.normal(size=(B, M)).astype(F32)
    h, c = _states(rng, 2)
    got = target.lstm_peephole_cell(x, h, c, p)
    t = ppeep.cell_tol(x, h, c, _f64(p), arith)
    expected = ref_peephole.lstm_peephole_cell(x, h, c, _f64(p))
    for name, a, e, tt in zip(("h'", "c'"), got, expected, t):
        _within(a, e, tt, f"peephole {name}")
    swapped = {**p, "p_o": p["p_f"], "p_f": p["p_o"]}  # ONNX's P is [i, o, f]: an [i, f, o] reading swaps these
    _outside(got[0], ref_peephole.lstm_peephole_cell(x, h, c, _f64(swapped))[0], t[0], "peephole with p_f <-> p_o")


# ---- the other ops ---------------------------------------------------------------------------------------

def test_softmax_and_attention_match_the_reference(target, arith):
    rng = np.random.default_rng(6)
    x = rng.normal(0, 3, (2, 3, 6)).astype(F32)
    _within(target.softmax(x), ref_attention.softmax(x.astype(np.float64)), tattn.softmax_tol(x, arith), "softmax")
    q, k, v = (rng.normal(size=s).astype(F32) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 3)))  # Tq != Tk, dv != d
    for causal in (False, True):
        y = target.attention(q, k, v, causal)
        e = ref_attention.attention(*(a.astype(np.float64) for a in (q, k, v)), causal)
        _within(y, e, tattn.attention_tol(q, k, v, causal, arith)["y"], f"attention causal={causal}")
    y = target.attention(q, k, v, True)
    _outside(y, ref_attention.attention(*(a.astype(np.float64) for a in (q, k, v)), False),
             tattn.attention_tol(q, k, v, True, arith)["y"], "the causal mask")


@pytest.mark.parametrize("nd, s, p, d, G, bias", [(1, 2, 1, 2, 2, True), (2, (2, 1), (1, 0), (1, 2), 4, False)])
def test_conv_matches_the_reference(target, arith, nd, s, p, d, G, bias):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2, 4) + (9,) * nd).astype(F32)
    w = rng.normal(size=(4, 4 // G) + (3,) * nd).astype(F32)
    b = rng.normal(size=4).astype(F32) if bias else None
    y = getattr(target, f"conv{nd}d")(x, w, b, s, p, d, G)
    e = getattr(ref_conv, f"conv{nd}d")(x.astype(np.float64), w.astype(np.float64),
                                        None if b is None else b.astype(np.float64), s, p, d, G)
    sv, pv, dv = ((v,) * nd if isinstance(v, int) else v for v in (s, p, d))
    _within(y, e, pconv.forward_tol(x, w, b, sv, pv, dv, G, arith), f"conv{nd}d")


def test_batchnorm_and_layernorm_match_the_reference(target, arith):
    rng = np.random.default_rng(8)
    x = rng.normal(1, 2, (6, 3)).astype(F32)
    g, b, rm = (rng.normal(size=3).astype(F32) for _ in range(3))
    rv = rng.uniform(0.5, 2, 3).astype(F32)
    for training in (True, False):  # momentum 0.25: 1 - m is exact in float32 (the finding is about other m)
        got = target.batchnorm(x, g, b, rm, rv, training, 0.25, 1e-5)
        e = oracle_batchnorm.batchnorm(x, g, b, rm, rv, training, 0.25, 1e-5, convention="biased")
        t = tbn.forward_tol(x, g, b, rm, rv, training, 0.25, 1e-5, arith, "biased")
        for name, a_, e_, t_ in zip(("y", "running_mean'", "running_var'"), got, e, t):
            _within(a_, e_, t_, f"batchnorm training={training} {name}")
    x3 = rng.normal(0, 2, (2, 3, 5)).astype(F32)
    for gamma, beta in ((None, None), (rng.normal(size=5).astype(F32), rng.normal(size=5).astype(F32))):
        y = target.layernorm(x3, gamma, beta, 1e-5)
        e = ref_ln.layernorm(x3.astype(np.float64), None if gamma is None else gamma.astype(np.float64),
                             None if beta is None else beta.astype(np.float64), 1e-5)
        _within(y, e, pln.forward_tol(x3, gamma, beta, 1e-5, arith), f"layernorm affine={gamma is not None}")


# ---- refusals and what is not provided -------------------------------------------------------------------

def test_refusals_name_the_function_and_argument(target):
    with pytest.raises(ValueError, match=r"target: argument 'dtype' should be one of \('float32',\)"):
        ort.target(dtype="float64")
    with pytest.raises(ValueError, match="lstm_cell: .*missing parameter"):
        h = np.zeros((1, N), F32)
        target.lstm_cell(np.zeros((1, M), F32), h, h, {"W_xi": np.zeros((N, M))})
    with pytest.raises(ValueError, match="conv1d"):
        target.conv1d(np.zeros((1, 3, 4), F32), np.zeros((2, 2, 3), F32), None, 1, 0, 1, 1)
    with pytest.raises(ValueError, match="to_onnx: kind"):
        ort.to_onnx("cnn", {})
    p = _params("gru", np.random.default_rng(9))
    with pytest.raises(ValueError, match="T = 0 steps, refused: .*aborts the process"):  # never reaches the kernel
        target.gru(np.zeros((0, 1, M), F32), np.zeros((1, N), F32), p)


def test_gradients_and_projections_are_not_provided_and_conventions_are_declared(target):
    assert not [c for c in target.capabilities if c.endswith("_vjp")]
    for c in ("rnn_vjp", "lstm_vjp", "gru_vjp", "softmax_vjp", "attention_vjp", "mha", "conv1d_vjp", "batchnorm_vjp",
              "layernorm_vjp", "param_count", "clip_grad_norm", "rnn_stack"):
        assert not target.provides(c), c
    assert target.conventions == {"gru": "reset_after", "rnn_activation": "tanh", "bias": "two",
                                  "bn_running_var": "biased", "activation_ulps": ort.ACTIVATION_ULPS,
                                  "subnormals": "softmax_flush_to_zero"}
    assert "subnormals" not in ort.gru_reset_before_target().conventions  # no Softmax there: gradual
    relu = ort.relu_target()
    assert relu.conventions["rnn_activation"] == "relu" and relu.capabilities == ["rnn_cell", "rnn", "rnn_bi"]
    x = np.array([[-1.0], [2.0]], F32)
    p = {"W_x": np.ones((1, 1), F32), "W_h": np.zeros((1, 1), F32), "b": np.zeros(1, F32)}
    np.testing.assert_array_equal(relu.rnn_cell(x, np.zeros((2, 1), F32), p), [[0.0], [2.0]])  # exact: relu(x)


def test_softmax_flushes_a_subnormal_output_as_declared(target):
    """The measurement behind subnormals=softmax_flush_to_zero (finding onnxruntime-softmax-flushes-subnormals):
    the softmax entry e^-93.5 / (1 + e^-1 + e^-81) = 1.81e-41, a float32 subnormal, comes back 0."""
    x = np.array([[0.0, -92.5, -80.0, 1.0]], F32)
    e = np.exp(x.astype(np.float64) - 1.0)
    assert float(np.float32(e[0, 1] / e.sum())) > 0 and target.softmax(x)[0, 1] == 0.0
