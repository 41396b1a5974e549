"""Keras 3 stacked / bidirectional / masked recurrent layers (dlproof.impl.adapters.keras3_stacked).

Expected values come from the float64 oracle `derivations.oracle_stacked` (every sequence b run ALONE on its
real steps x[:len_b] through the proved one-layer oracles, layer by layer, the backward direction on x[:len_b]
reversed) on the very float32 inputs Keras gets, and, in the slow sweep, from the NumPy reference
`numpy_ref.stacked` too. No mask, no Keras, no stacking code is shared with the adapter. Also checked: the
measured Keras facts the adapter's docstring states (padded outputs, Bidirectional forcing zeros, final
states, zero gradients at padded inputs), that training=False is the identity for any dropout, and the refusals.

Tolerance (float32 Keras vs the float64 reference): the layer-wise errors of test_keras.py (rtol 1e-5, atol
1e-6 for one layer of T = 3 steps: ~ T (m + n + 1) u |terms| with u = 2^-24 ~ 6e-8 and |terms| <= ~3) grow
at most linearly with the depth L T of the recursion (first-order propagation with |tanh'|, |sigmoid'| <= 1
and weights of norm < 1): L T = 8 here, so rtol 4e-5, atol 4e-6 forward; gradients 10x (as test_keras.py).
"""
from __future__ import annotations

import numpy as np
import pytest

from keras_or_skip import keras3

keras = keras3()

from dlproof.derivations import oracle_bidirectional, oracle_stacked  # noqa: E402
from dlproof.impl.adapters import keras3, keras3_stacked  # noqa: E402
from dlproof.impl.numpy_ref import stacked as numpy_stacked  # noqa: E402
from dlproof.parameters import PARAMS  # noqa: E402

L = keras.layers

T, B, N, M, LAYERS = 4, 3, 3, 2, 2
LENGTHS = np.array([4, 1, 3])
RTOL, ATOL = 4e-5, 4e-6
G_RTOL, G_ATOL = 4e-4, 4e-5


# ---- the independent computation ---------------------------------------------------------------------

def _f64(a):
    return np.asarray(a, np.float64)


def reference(kind, xs, states, layers, lengths, variant="reset_after", cots=None, padded_output="carry"):
    """(ys, [finals], grads or None) of the float64 oracle (derivations.oracle_stacked: each sequence run alone
    on its real prefix through the proved one-layer oracles, layer by layer, the backward direction on the
    reversed prefix) on the very float32 inputs Keras gets."""
    conv = {"rnn": "tanh", "lstm": None, "gru": variant}[kind]
    ys, finals = oracle_stacked.stack_forward(kind, xs, states, layers, lengths, padded_output=padded_output,
                                              conv=conv)
    grads = None
    if cots is not None:
        grads = oracle_stacked.stack_vjp(kind, xs, states, layers, lengths, cots[0], cots[1],
                                         padded_output=padded_output, conv=conv)
        grads["states"] = [grads[name] for name in keras3.STATES[kind]]
    return ys, list(finals), grads


# ---- problems -----------------------------------------------------------------------------------------

def _problem(kind, D, seed, L=LAYERS, dtype=np.float32):
    rng = np.random.default_rng(seed)
    layers = []
    for l in range(L):
        m = M if l == 0 else D * N
        layers.append([{q: rng.normal(0, 0.5, (N, m) if q.startswith("W_x") else (N, N) if q.startswith("W_h")
                                      else (N,)).astype(dtype) for q in PARAMS[kind]} for _ in range(D)])
    xs = rng.normal(size=(T, B, M)).astype(dtype)
    states = [rng.normal(0, 0.5, (L, D, B, N)).astype(dtype) for _ in keras3.STATES[kind]]
    d_ys = rng.normal(size=(T, B, D * N)).astype(dtype)
    d_fin = [rng.normal(size=(L, D, B, N)).astype(dtype) for _ in states]
    return xs, states, layers, (d_ys, d_fin)


def _close(a, e, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(_f64(a), _f64(e), rtol=rtol, atol=atol)


@pytest.fixture(scope="module")
def caps():
    return keras3_stacked.capabilities("float32")  # Keras' default masking: padded_output "carry"


def _forward(caps, kind, xs, states, layers, lengths, dropout=0.0, training=False, seed=0):
    ys, fin = caps[f"{kind}_stack"](xs, *states, layers, lengths, dropout, training, seed)
    return ys, list(fin) if kind == "lstm" else [fin]


def _check(caps, kind, D, seed, lengths, variant="reset_after", padded_output="carry"):
    xs, states, layers, cots = _problem(kind, D, seed)
    copies = [a.copy() for a in (xs, *states, cots[0], *cots[1])]
    ys, fin = _forward(caps, kind, xs, states, layers, lengths)
    e_ys, e_fin, e_g = reference(kind, xs, states, layers, lengths, variant, cots, padded_output)
    assert ys.shape == (T, B, D * N) and ys.dtype == np.float32
    _close(ys, e_ys)
    for a, e in zip(fin, e_fin):
        assert a.shape == (LAYERS, D, B, N) and a.dtype == np.float32
        _close(a, e)
    g = caps[f"{kind}_stack_vjp"](xs, *states, layers, lengths, cots[0], *cots[1])
    _close(g["xs"], e_g["xs"], G_RTOL, G_ATOL)
    for name, e in zip(keras3.STATES[kind], e_g["states"]):
        _close(g[name], e, G_RTOL, G_ATOL)
    for l in range(LAYERS):
        for d in range(D):
            assert set(g["layers"][l][d]) == set(PARAMS[kind])
            for q in PARAMS[kind]:
                _close(g["layers"][l][d][q], e_g["layers"][l][d][q], G_RTOL, G_ATOL)
    if lengths is not None:  # exactly zero at padded inputs (not "small")
        for b in range(B):
            assert np.all(g["xs"][lengths[b]:, b] == 0)
    for a, c in zip(copies, (xs, *states, cots[0], *cots[1])):
        np.testing.assert_array_equal(a, c)


# ---- fast tests ---------------------------------------------------------------------------------------

def test_masked_bidirectional_lstm_stack_matches_reference(caps):
    _check(caps, "lstm", 2, 0, LENGTHS)


def test_masked_gru_stack_matches_reference(caps):
    _check(caps, "gru", 1, 1, LENGTHS)


def test_padded_outputs_are_zero_and_finals_after_the_last_real_step(caps):
    """A bidirectional stack (padded_output "carry": Bidirectional forces zeros): 0 in both halves at t >= len;
    h_T forward = output at len - 1, backward = output at step 0 (after reading x_0)."""
    xs, states, layers, _ = _problem("rnn", 2, 2)
    ys, (h,) = _forward(caps, "rnn", xs, states, layers, LENGTHS)
    for b, ln in enumerate(LENGTHS):
        assert np.all(ys[ln:, b] == 0)
        np.testing.assert_array_equal(h[-1, 0, b], ys[ln - 1, b, :N])
        np.testing.assert_array_equal(h[-1, 1, b], ys[0, b, N:])


def test_target_declares_the_stack_conventions():
    t = keras3.target()
    assert t.convention("padded_output") == "carry"  # Keras' default masking, measured
    assert t.restriction("stack_dropout") == 0 and t.restriction("stack_projection") is False
    assert t.restriction("stack_lengths") is None  # masking: variable lengths are run
    for cap in keras3_stacked.STACK_CAPABILITIES:
        assert t.provides(cap)


REFUSALS = [
    (lambda a: {**a, "layers": []}, "non-empty list"),
    (lambda a: {**a, "layers": [a["layers"][0], a["layers"][1] * 2]}, "same number of directions"),
    (lambda a: {**a, "layers": [[{**a["layers"][0][0], "W_proj": np.zeros((2, N), np.float32)}], a["layers"][1]]},
     "only LSTM layers"),
    (lambda a: {**a, "layers": [a["layers"][0], a["layers"][0]]}, "the layer's input size"),
    (lambda a: {**a, "h0": a["h0"][:, :, :2]}, "'h0'"),
    (lambda a: {**a, "lengths": np.array([4, 0, 3])}, "lengths[1] = 0"),
    (lambda a: {**a, "lengths": np.array([4, 5, 3])}, "lengths[1] = 5"),
    (lambda a: {**a, "lengths": np.array([4.0, 1.0, 3.0])}, "integer array"),
    (lambda a: {**a, "lengths": np.array([4, 1])}, "'lengths'"),
    (lambda a: {**a, "xs": a["xs"][:0]}, "T >= 1"),
    (lambda a: {**a, "xs": a["xs"].astype(np.int32)}, "floating dtype"),
    (lambda a: {**a, "dropout": 0.5, "training": True}, "stack_dropout"),
    (lambda a: {**a, "dropout": 1.0}, "[0, 1)"),
    (lambda a: {**a, "seed": 1.5}, "'seed'"),
    (lambda a: {**a, "training": 1}, "'training'"),
]


def test_projection_is_refused_naming_the_restriction(caps):
    xs, states, layers, _ = _problem("lstm", 1, 3, L=1)
    layers = [[{**layers[0][0], "W_proj": np.ones((2, N), np.float32),
                **{q: np.ones((N, 2), np.float32) for q in PARAMS["lstm"] if q.startswith("W_h")}}]]
    states = [states[0][..., :2], states[1]]
    with pytest.raises(ValueError, match="lstm_stack: .*stack_projection False"):
        caps["lstm_stack"](xs, *states, layers, None, 0.0, False, 0)


@pytest.mark.parametrize("change,needle", REFUSALS)
def test_bad_calls_are_refused_clearly(caps, change, needle):
    xs, (h0,), layers, _ = _problem("rnn", 1, 3)
    a = change({"xs": xs, "h0": h0, "layers": layers, "lengths": None, "dropout": 0.0, "training": False,
                "seed": 0})
    with pytest.raises((ValueError, TypeError), match="rnn_stack") as info:  # TypeError: wrong Python type
        caps["rnn_stack"](a["xs"], a["h0"], a["layers"], a["lengths"], a["dropout"], a["training"], a["seed"])
    assert needle in str(info.value)


# ---- slow: every kind, both D, full and masked lengths; the measured Keras facts ----------------------

@pytest.mark.slow
@pytest.mark.parametrize("kind,variant", [("rnn", "reset_after"), ("lstm", "reset_after"), ("gru", "reset_after"),
                                          ("gru", "reset_before")])
@pytest.mark.parametrize("D", [1, 2])
@pytest.mark.parametrize("masked", [False, True])
def test_every_stack_matches_reference(kind, variant, D, masked):
    caps = keras3_stacked.capabilities("float32", gru=variant)
    _check(caps, kind, D, 10 + D, LENGTHS if masked else None, variant)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_keras_agrees_with_the_numpy_reference(kind):
    """The NumPy reference numpy_ref.stacked (float64 on the same float32 inputs) as a second witness."""
    caps = keras3_stacked.capabilities("float32")
    xs, states, layers, (d_ys, d_fin) = _problem(kind, 2, 30)
    f64 = [[{q: _f64(v) for q, v in p.items()} for p in row] for row in layers]
    ys, fin = _forward(caps, kind, xs, states, layers, LENGTHS)
    e_ys, e_fin = getattr(numpy_stacked, f"{kind}_stack")(_f64(xs), *map(_f64, states), f64, LENGTHS)
    _close(ys, e_ys)
    for a, e in zip(fin, e_fin if kind == "lstm" else (e_fin,)):
        _close(a, e)
    g = caps[f"{kind}_stack_vjp"](xs, *states, layers, LENGTHS, d_ys, *d_fin)
    e = getattr(numpy_stacked, f"{kind}_stack_vjp")(_f64(xs), *map(_f64, states), f64, LENGTHS, _f64(d_ys),
                                                     *map(_f64, d_fin))
    for name in ("xs",) + keras3.STATES[kind]:
        _close(g[name], e[name], G_RTOL, G_ATOL)
    for row, e_row in zip(g["layers"], e["layers"]):
        for p, e_p in zip(row, e_row):
            for q in PARAMS[kind]:
                _close(p[q], e_p[q], G_RTOL, G_ATOL)


@pytest.mark.slow
def test_training_false_ignores_dropout_and_training_with_zero_dropout_is_inference(caps):
    xs, states, layers, _ = _problem("lstm", 2, 4)
    ys, fin = _forward(caps, "lstm", xs, states, layers, LENGTHS)
    for dropout, training in ((0.5, False), (0.0, True)):
        ys2, fin2 = _forward(caps, "lstm", xs, states, layers, LENGTHS, dropout, training, seed=7)
        np.testing.assert_array_equal(ys, ys2)
        for a, b in zip(fin, fin2):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_keras_default_carries_the_last_output_but_bidirectional_does_not(kind):
    """Measured Keras behaviour (module docstring): zero_output_for_mask=False (Keras' RNN default) repeats
    the last real output at padded steps for a plain layer; Bidirectional forces zeros in both halves."""
    carry = keras3_stacked.capabilities("float32", zero_output_for_mask=False)
    xs, states, layers, cots = _problem(kind, 1, 5)
    ys, _ = _forward(carry, kind, xs, states, layers, LENGTHS)
    e_ys, _, e_g = reference(kind, xs, states, layers, LENGTHS, cots=cots, padded_output="carry")
    _close(ys, e_ys)  # the oracle's "carry" for D = 1
    for b, ln in enumerate(LENGTHS):
        np.testing.assert_array_equal(ys[ln:, b], np.broadcast_to(ys[ln - 1, b], ys[ln:, b].shape))
    g = carry[f"{kind}_stack_vjp"](xs, *states, layers, LENGTHS, cots[0], *cots[1])
    _close(g["xs"], e_g["xs"], G_RTOL, G_ATOL)  # padded cotangents flow into the last real output
    xs, states, layers, _ = _problem(kind, 2, 6)
    ys, _ = _forward(carry, kind, xs, states, layers, LENGTHS)
    for b, ln in enumerate(LENGTHS):
        assert np.all(ys[ln:, b] == 0)


# ---- a user's Sequential ------------------------------------------------------------------------------

def test_from_model_runs_a_masked_sequential_of_lstms_with_keras_defaults():
    """Sequential(Masking, LSTM, LSTM) with Keras' defaults: the oracle at real steps and final states, for
    D = 1 and D = 2; padded outputs as Keras' default masking (declared "carry": D = 1 carries, D = 2 gives 0)."""
    model = keras.Sequential([L.Masking(0.0), L.LSTM(5, return_sequences=True), L.LSTM(5, return_sequences=True)])
    t = keras3.from_model(model)
    assert t.convention("padded_output") == "carry" and t.dtype == "float32"
    assert sorted(t.capabilities) == ["lstm_stack", "lstm_stack_vjp"]
    for D, seed in ((1, 20), (2, 21)):
        xs, states, layers, _ = _problem("lstm", D, seed)
        ys, (h, c) = t.lstm_stack(xs, *states, layers, LENGTHS, 0.0, False, 0)
        e_ys, (e_h, e_c), _ = reference("lstm", xs, states, layers, LENGTHS)
        for a, e in ((ys, e_ys), (h, e_h), (c, e_c)):
            _close(a, e)
    assert model.layers[1].get_config()["zero_output_for_mask"] is False  # the user's model is untouched


def test_from_model_runs_a_bidirectional_gru_sequential():
    model = keras.Sequential([L.Bidirectional(L.GRU(4, return_sequences=True, reset_after=False)),
                              L.Bidirectional(L.GRU(4, return_sequences=True, reset_after=False))])
    t = keras3.from_model(model)
    assert t.convention("padded_output") == "zero" and t.convention("gru") == "reset_before"
    _check({"gru_stack": t.gru_stack, "gru_stack_vjp": t.gru_stack_vjp}, "gru", 2, 22, LENGTHS, "reset_before")


MODEL_REFUSALS = [
    (lambda: L.LSTM(3, return_sequences=True), "Sequential"),
    (lambda: keras.Sequential([L.Masking()]), "no recurrent layer"),
    (lambda: keras.Sequential([L.LSTM(3, return_sequences=True), L.Dense(2)]), "not a recurrent layer"),
    (lambda: keras.Sequential([L.LSTM(3, return_sequences=True), L.GRU(3, return_sequences=True)]), "differs"),
    (lambda: keras.Sequential([L.LSTM(3, return_sequences=True), L.Masking()]), "first layer"),
    (lambda: keras.Sequential([L.LSTM(3)]), "return_sequences=False"),
    (lambda: keras.Sequential([L.LSTM(3, return_sequences=True, use_bias=False)]), "use_bias=False"),
    (lambda: keras.Sequential([L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode="sum")]), "merge_mode"),
]


def test_from_model_refuses_resize_false():
    with pytest.raises(ValueError, match="from_model: resize=False"):
        keras3.from_model(keras.Sequential([L.LSTM(3, return_sequences=True)]), resize=False)


@pytest.mark.parametrize("make,needle", MODEL_REFUSALS)
def test_from_model_refuses_unsupported_models(make, needle):
    with pytest.raises(ValueError, match="from_model") as info:
        keras3.from_model(make())
    assert needle in str(info.value)


# ---- the Bidirectional VJPs (keras3._Adapter.bi_vjp, one layer, full length) ----------------------------

@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_bidirectional_vjp_matches_oracle(kind):
    t = keras3.target()
    xs, states, layers, (d_ys, d_fin) = _problem(kind, 2, 40, L=1)
    (p_f, p_b), = layers
    s_f, s_b = [s[0, 0] for s in states], [s[0, 1] for s in states]
    c_f, c_b = [c[0, 0] for c in d_fin], [c[0, 1] for c in d_fin]
    if kind == "lstm":
        g = t.lstm_bi_vjp(xs, tuple(s_f), tuple(s_b), p_f, p_b, d_ys, tuple(c_f), tuple(c_b))
        e = oracle_bidirectional.lstm_bi_vjp(xs, tuple(s_f), tuple(s_b), p_f, p_b, d_ys, tuple(c_f), tuple(c_b))
    else:
        g = getattr(t, f"{kind}_bi_vjp")(xs, s_f[0], s_b[0], p_f, p_b, d_ys, c_f[0], c_b[0])
        e = getattr(oracle_bidirectional, f"{kind}_bi_vjp")(xs, s_f[0], s_b[0], p_f, p_b, d_ys, c_f[0], c_b[0])
    names = ["xs"] + [f"{s}_{side}" for side in "fb" for s in keras3.STATES[kind]]
    assert set(g) == set(names) | {"params_f", "params_b"}
    for name in names:
        assert g[name].dtype == np.float32
        _close(g[name], e[name], G_RTOL, G_ATOL)
    for side in ("params_f", "params_b"):
        for q in PARAMS[kind]:
            _close(g[side][q], e[side][q], G_RTOL, G_ATOL)

