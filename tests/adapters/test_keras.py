"""The Keras 3 adapter (dlproof.impl.adapters.keras3): real keras layers on the torch backend.

Checks the weight map (layout facts from the Keras sources, round trips), every capability against the
derivations' oracles (float64 math on the very float32 inputs Keras gets), the documented deviations
(float64 matmul in float32, T = 0, per-kind bias counts), refusals of unsupported layers, a misdeclared
GRU variant, and the whole property suite on each built-in Keras target.

Keras must run on the torch backend: KERAS_BACKEND=torch is set before the import, and KERAS_HOME points
at a temporary folder so that importing keras writes no ~/.keras/keras.json.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from keras_or_skip import keras3

keras = keras3()

from dlproof.derivations import oracle_bidirectional, oracle_clipping, oracle_gru, oracle_lstm, oracle_rnn  # noqa: E402
from dlproof.impl.adapters import keras3  # noqa: E402
from dlproof.properties import harness, results  # noqa: E402
from dlproof.properties.assertions import PropertyFailure, TargetRaised  # noqa: E402
from dlproof.properties.registry import all_properties  # noqa: E402

L = keras.layers
T, B, N, M = 3, 2, 3, 2
VARIANTS = ("reset_after", "reset_before")
RTOL, ATOL = 1e-5, 1e-6  # float32 Keras vs float64 oracle on the same float32 inputs (moderate weights)


def _params(kind, rng, n=N, m=M, dtype=np.float32, scale=0.7):
    out = {}
    for k in keras3.PARAMS[kind]:
        shape = (n, m) if k.startswith("W_x") else (n, n) if k.startswith("W_h") else (n,)
        out[k] = rng.normal(0, scale, shape).astype(dtype)
    return out


def _problem(kind, seed=0, dtype=np.float32, n=N, m=M):
    rng = np.random.default_rng(seed)
    p = _params(kind, rng, n, m, dtype)
    xs = rng.normal(size=(T, B, m)).astype(dtype)
    states = [rng.normal(0, 0.5, (B, n)).astype(dtype) for _ in keras3.STATES[kind]]
    cots = [rng.normal(size=(T, B, n)).astype(dtype)] + [rng.normal(size=(B, n)).astype(dtype) for _ in states]
    return xs, states, p, cots


def _close(actual, expected, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(np.asarray(actual, np.float64), np.asarray(expected, np.float64), rtol=rtol, atol=atol)


# ---- the weight map -----------------------------------------------------------------------------------

def test_storage_layout_follows_keras_gate_order():
    """Facts from keras/src/layers/rnn: LSTM kernel blocks i, f, c, o; GRU blocks z, r, h; GRU biases."""
    rng = np.random.default_rng(1)
    p = _params("lstm", rng, dtype=np.float64)
    w = keras3.canonical_to_keras("lstm", p)
    assert w["kernel"].shape == (M, 4 * N) and w["recurrent_kernel"].shape == (N, 4 * N) and w["bias"].shape == (4 * N,)
    for j, g in enumerate("ifgo"):
        np.testing.assert_array_equal(w["kernel"][:, j * N:(j + 1) * N], p[f"W_x{g}"].T)
        np.testing.assert_array_equal(w["recurrent_kernel"][:, j * N:(j + 1) * N], p[f"W_h{g}"].T)
        np.testing.assert_array_equal(w["bias"][j * N:(j + 1) * N], p[f"b_{g}"])
    p = _params("gru", rng, dtype=np.float64)
    after, before = keras3.canonical_to_keras("gru", p, "reset_after"), keras3.canonical_to_keras("gru", p, "reset_before")
    for j, g in enumerate("zrn"):  # z first, not r
        np.testing.assert_array_equal(after["kernel"][:, j * N:(j + 1) * N], p[f"W_x{g}"].T)
        np.testing.assert_array_equal(after["recurrent_kernel"][:, j * N:(j + 1) * N], p[f"W_h{g}"].T)
    assert after["bias"].shape == (2, 3 * N) and before["bias"].shape == (3 * N,)
    np.testing.assert_array_equal(after["bias"][0], np.concatenate([p["b_z"], p["b_r"], p["b_xn"]]))
    np.testing.assert_array_equal(after["bias"][1], np.concatenate([np.zeros(2 * N), p["b_hn"]]))
    np.testing.assert_array_equal(before["bias"], np.concatenate([p["b_z"], p["b_r"], p["b_xn"] + p["b_hn"]]))
    p = _params("rnn", rng, dtype=np.float64)
    w = keras3.canonical_to_keras("rnn", p)
    np.testing.assert_array_equal(w["kernel"], p["W_x"].T)
    np.testing.assert_array_equal(w["recurrent_kernel"], p["W_h"].T)
    np.testing.assert_array_equal(w["bias"], p["b"])


@pytest.mark.parametrize("kind,variant", [("rnn", "reset_after"), ("lstm", "reset_after"), ("gru", "reset_after"),
                                          ("gru", "reset_before")])
def test_round_trips(kind, variant):
    rng = np.random.default_rng(2)
    p = _params(kind, rng, dtype=np.float64)
    back = keras3.keras_to_canonical(kind, keras3.canonical_to_keras(kind, p, variant), variant)
    assert list(back) == list(keras3.PARAMS[kind])
    for k in p:
        if (kind, variant, k) == ("gru", "reset_before", "b_xn"):
            np.testing.assert_array_equal(back[k], p["b_xn"] + p["b_hn"])  # they only act as a sum
        elif (kind, variant, k) == ("gru", "reset_before", "b_hn"):
            np.testing.assert_array_equal(back[k], 0)
        else:
            np.testing.assert_array_equal(back[k], p[k])
    # storage -> canonical -> storage, from a real keras layer with its own random initial weights
    n_bias = 2 if (kind, variant) == ("gru", "reset_after") else 1
    cell = keras3._builtin_layer("cell", keras3._Config(kind, variant), N, M, "float64")
    w = keras3.layer_weights(cell)
    w["bias"] = rng.normal(size=w["bias"].shape)  # Keras initialises biases to zeros (forget slice ones)
    again = keras3.canonical_to_keras(kind, keras3.keras_to_canonical(kind, w, variant), variant)
    np.testing.assert_array_equal(again["kernel"], w["kernel"])
    np.testing.assert_array_equal(again["recurrent_kernel"], w["recurrent_kernel"])
    if n_bias == 2:  # the recurrent z/r bias row is folded into the input row: equal sums, same math
        np.testing.assert_allclose(again["bias"].sum(0)[:2 * N], w["bias"].sum(0)[:2 * N], rtol=1e-15)
        np.testing.assert_array_equal(again["bias"][:, 2 * N:], w["bias"][:, 2 * N:])
    else:
        np.testing.assert_array_equal(again["bias"], w["bias"])


def test_param_count_is_keras_count_params():
    t = keras3.target()
    assert t.param_count("rnn", 4, 3) == 4 * 3 + 16 + 4
    assert t.param_count("lstm", 4, 3) == 4 * (4 * 3 + 16 + 4)
    assert t.param_count("gru", 4, 3) == 3 * (4 * 3 + 16 + 2 * 4)  # (2, 3n) bias: the "two" count
    assert keras3.gru_reset_before_target().param_count("gru", 4, 3) == 3 * (4 * 3 + 16 + 4)


# ---- capabilities vs the oracles ------------------------------------------------------------------------

def _oracle_forward(kind, xs, states, p, variant="reset_after"):
    if kind == "rnn":
        hs, h = oracle_rnn.rnn_forward(xs, states[0], p, "tanh")
        return hs, (h,)
    if kind == "lstm":
        hs, (h, c) = oracle_lstm.lstm_forward(xs, *states, p)
        return hs, (h, c)
    hs, h = oracle_gru.gru_forward(xs, states[0], p, variant)
    return hs, (h,)


def _oracle_vjp(kind, xs, states, p, cots, variant="reset_after"):
    if kind == "rnn":
        return oracle_rnn.rnn_vjp(xs, states[0], p, *cots, "tanh")
    if kind == "lstm":
        return oracle_lstm.lstm_vjp(xs, *states, p, *cots)
    return oracle_gru.gru_vjp(xs, states[0], p, *cots, variant)


CASES = [("rnn", "reset_after"), ("lstm", "reset_after"), ("gru", "reset_after"), ("gru", "reset_before")]


def _target(variant, dtype="float32"):
    return keras3.target(dtype) if variant == "reset_after" else keras3.gru_reset_before_target(dtype)


@pytest.mark.parametrize("kind,variant", CASES)
def test_cell_matches_oracle(kind, variant):
    t = _target(variant)
    xs, states, p, _ = _problem(kind, 3)
    got = getattr(t, f"{kind}_cell")(xs[0], *states, p)
    _, finals = _oracle_forward(kind, xs[:1], states, p, variant)
    got = got if kind == "lstm" else (got,)
    for a, e in zip(got, finals):
        assert a.dtype == np.float32 and a.shape == (B, N)
        _close(a, e)


@pytest.mark.parametrize("kind,variant", CASES)
def test_sequence_and_vjp_match_oracle(kind, variant):
    t = _target(variant)
    xs, states, p, cots = _problem(kind, 4)
    copies = [a.copy() for a in (xs, *states, *p.values(), *cots)]
    hs, finals = getattr(t, kind)(xs, *states, p)
    finals = finals if kind == "lstm" else (finals,)
    e_hs, e_finals = _oracle_forward(kind, xs, states, p, variant)
    assert hs.shape == (T, B, N) and hs.dtype == np.float32
    _close(hs, e_hs)
    for a, e in zip(finals, e_finals):
        _close(a, e)
    np.testing.assert_array_equal(finals[0], hs[-1])
    g = getattr(t, f"{kind}_vjp")(xs, *states, p, *cots)
    e = _oracle_vjp(kind, xs, states, p, cots, variant)
    for name in ("xs",) + keras3.STATES[kind]:
        assert g[name].dtype == np.float32
        _close(g[name], e[name], 1e-4, 1e-5)
    for name in keras3.PARAMS[kind]:
        _close(g["params"][name], e["params"][name], 1e-4, 1e-5)
    for a, b in zip(copies, (xs, *states, *p.values(), *cots)):  # nothing was mutated
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_float64_sequence_layers_are_float64_exact(kind):
    """LSTM and GRU(reset_after=True) run keras' pure-torch fallback on CPU: float64 all the way."""
    t = keras3.target("float64")
    xs, states, p, cots = _problem(kind, 5, np.float64)
    hs, _ = getattr(t, kind)(xs, *states, p)
    _close(hs, _oracle_forward(kind, xs, states, p)[0], 1e-12, 1e-14)
    g = getattr(t, f"{kind}_vjp")(xs, *states, p, *cots)
    e = _oracle_vjp(kind, xs, states, p, cots)
    for name in keras3.PARAMS[kind]:
        _close(g["params"][name], e["params"][name], 1e-10, 1e-13)


def test_float64_matmul_deviation_is_documented():
    """Keras maps float64 to float32 in result_type on non-TF backends, so ops.matmul of float64 runs in
    float32: a float64 SimpleRNNCell is only float32-accurate (the adapter's docstring says so)."""
    if keras.backend.result_type("float64", "float64") != "float32":
        pytest.skip("this Keras keeps float64 in result_type: the documented deviation is gone, update the docs")
    xs, states, p, _ = _problem("rnn", 6, np.float64)
    got = keras3.target("float64").rnn_cell(xs[0], states[0], p)
    err = np.max(np.abs(got - oracle_rnn.rnn_cell(xs[0], states[0], p)))
    assert got.dtype == np.float64 and 1e-13 < err < 1e-5


@pytest.mark.parametrize("kind,variant", CASES)
def test_bidirectional_matches_oracle(kind, variant):
    t = _target(variant)
    xs, s_f, p_f, _ = _problem(kind, 7)
    _, s_b, p_b, _ = _problem(kind, 8)
    if kind == "lstm":
        out = t.lstm_bi(xs, tuple(s_f), tuple(s_b), p_f, p_b)
        exp = oracle_bidirectional.lstm_bi(xs, tuple(s_f), tuple(s_b), p_f, p_b)
        pairs = list(zip(out[1], exp[1])) + list(zip(out[2], exp[2]))
    else:
        fn = oracle_bidirectional.rnn_bi if kind == "rnn" else oracle_bidirectional.gru_bi
        out = getattr(t, f"{kind}_bi")(xs, s_f[0], s_b[0], p_f, p_b)
        exp = fn(xs, s_f[0], s_b[0], p_f, p_b, "tanh" if kind == "rnn" else variant)
        pairs = [(out[1], exp[1]), (out[2], exp[2])]
    assert out[0].shape == (T, B, 2 * N) and out[0].dtype == np.float32
    _close(out[0], exp[0])
    for a, e in pairs:
        _close(a, e)
    b_final = out[2][0] if kind == "lstm" else out[2]
    np.testing.assert_array_equal(b_final, out[0][0, :, N:])  # h_b: the backward state after reading x_0


def test_relu_target_runs_simple_rnn_relu():
    t = keras3.relu_target()
    xs, states, p, _ = _problem("rnn", 9)
    hs, _ = t.rnn(xs, states[0], p)
    _close(hs, oracle_rnn.rnn_forward(xs, states[0], p, "relu")[0])


# ---- clipping -------------------------------------------------------------------------------------------

def _grads(seed, scale):
    rng = np.random.default_rng(seed)
    return [rng.normal(0, scale, s).astype(np.float32) for s in ((3, 2), (4,), (1,))]


@pytest.mark.parametrize("scale", [0.1, 3.0])
def test_clipnorm_is_per_tensor(scale):
    grads, c = _grads(10, scale), 1.0
    out, norm = keras3.clipnorm_target().clip_grad_norm([g.copy() for g in grads], c)
    assert norm is None
    for a, e in zip(out, oracle_clipping.clip_by_norm(grads, c, 0.0, "per_tensor")[0]):
        assert a.dtype == np.float32
        _close(a, e)


@pytest.mark.parametrize("scale", [0.1, 3.0])
def test_global_clipnorm_and_its_norm(scale):
    grads, c = _grads(11, scale), 1.0
    out, norm = keras3.global_clipnorm_target().clip_grad_norm([g.copy() for g in grads], c)
    expected, N_exact = oracle_clipping.clip_by_norm(grads, c, 0.0, "global")
    assert norm == pytest.approx(N_exact, rel=1e-6)
    for a, e in zip(out, expected):
        _close(a, e)


def test_clipvalue():
    grads = _grads(12, 2.0)
    out = keras3.clipnorm_target().clip_grad_value([g.copy() for g in grads], 0.5)
    for a, e in zip(out, oracle_clipping.clip_by_value(grads, 0.5)):
        np.testing.assert_array_equal(a, e.astype(np.float32))


# ---- refusals -------------------------------------------------------------------------------------------

def test_t_zero_is_refused_clearly():
    xs, states, p, _ = _problem("gru", 13)
    with pytest.raises(ValueError, match="T = 0"):
        keras3.target().gru(xs[:0], states[0], p)


def test_wrong_param_shapes_are_refused():
    xs, states, p, _ = _problem("lstm", 14)
    p = {**p, "W_hf": np.zeros((N + 1, N + 1), np.float32)}
    with pytest.raises(ValueError, match="W_hf"):
        keras3.target().lstm(xs, *states, p)


@pytest.mark.parametrize("make,needle", [
    (lambda: L.LSTM(3), "return_sequences=False"),
    (lambda: L.LSTM(3, return_sequences=True), "return_state=False"),
    (lambda: L.GRU(3, go_backwards=True, return_sequences=True, return_state=True), "go_backwards=True"),
    (lambda: keras.Sequential([L.Masking(), L.LSTM(3)]), "Masking"),
    (lambda: L.RNN([L.LSTMCell(2), L.LSTMCell(2)], return_sequences=True, return_state=True), "stacked"),
    (lambda: L.Bidirectional(L.LSTM(2, return_sequences=True, return_state=True), merge_mode="sum"), "merge_mode"),
    (lambda: L.LSTM(2, recurrent_activation="hard_sigmoid", return_sequences=True, return_state=True), "hard_sigmoid"),
    (lambda: L.GRU(2, use_bias=False, return_sequences=True, return_state=True), "use_bias=False"),
    (lambda: L.GRU(2, dtype="float16", return_sequences=True, return_state=True), "float16"),
    (lambda: L.Dense(3), "not a SimpleRNN/LSTM/GRU"),
])
def test_from_layer_refuses_unsupported_configurations(make, needle):
    layer = make()
    with pytest.raises(ValueError, match="keras3.from_layer") as info:
        keras3.from_layer(layer)
    assert needle in str(info.value) and type(layer).__name__ in str(info.value)


def test_from_layer_as_given_refuses_other_sizes():
    t = keras3.from_layer(L.GRU(3, return_sequences=True, return_state=True), resize=False)
    xs, states, p, _ = _problem("gru", 15, n=4)
    with pytest.raises(ValueError, match=r"units=3, but the parameters have n = 4"):
        t.gru(xs, states[0], p)


def test_from_layer_runs_the_users_configuration():
    layer = L.GRU(5, reset_after=False, return_sequences=True, return_state=True)
    t = keras3.from_layer(layer)
    assert t.conventions == {"gru": "reset_before"} and set(t.capabilities) == {"gru_cell", "gru", "gru_vjp"}
    xs, states, p, _ = _problem("gru", 16)  # other sizes than the user's layer: a fresh copy runs them
    hs, _ = t.gru(xs, states[0], p)
    _close(hs, oracle_gru.gru_forward(xs, states[0], p, "reset_before")[0])
    assert not layer.built  # the user's object is untouched


# ---- declared conventions and the whole suite ----------------------------------------------------------

def test_misdeclared_gru_variant_fails_the_gru_properties(tmp_path):
    """Keras GRU(reset_after=False) declared as reset_after must fail, never pass within a tolerance."""
    honest = keras3.gru_reset_before_target()
    wrong = dataclasses.replace(honest, name=honest.name + " declared reset_after",
                                conventions={**honest.conventions, "gru": "reset_after"})
    with pytest.raises(PropertyFailure) as info:
        harness.run(all_properties()["gru.forward"], wrong, "keras.gru_misdeclared", profile="dev",
                    report_dir=tmp_path, seed_value=0)
    row = results.ROWS[-1]
    assert row["verdict"] == "fail" and row["repro"] is not None
    assert "gru.forward" in str(info.value) and "but should match the declared" in str(info.value)
    # the honest declaration of the very same layer passes
    assert harness.run(all_properties()["gru.forward"], honest, "keras.gru_reset_before", profile="dev",
                       seed_value=0)["verdict"] == "pass"


def test_misdeclared_gru_message_names_the_convention(tmp_path):
    honest = keras3.gru_reset_before_target()
    wrong = dataclasses.replace(honest, conventions={**honest.conventions, "gru": "reset_after"})
    with pytest.raises(PropertyFailure) as info:
        harness.run(all_properties()["gru.forward"], wrong, "keras.gru_misdeclared", profile="dev",
                    report_dir=tmp_path, seed_value=0)
    assert "matches gru='reset_before', but should match the declared gru='reset_after'" in str(info.value)


#: Failures a Keras target is known to show (none: every built-in passes under its declared conventions).
KNOWN: dict = {}
BUILTINS = {"keras": keras3.target, "keras.gru_reset_before": keras3.gru_reset_before_target,
            "keras.relu": keras3.relu_target, "keras.clipnorm": keras3.clipnorm_target,
            "keras.global_clipnorm": keras3.global_clipnorm_target}


@pytest.mark.slow
@pytest.mark.parametrize("spec", sorted(BUILTINS))
def test_every_property_passes_on_builtin_keras_targets(spec):
    target = BUILTINS[spec]()
    verdicts, messages = {}, {}
    for pid, prop in all_properties().items():
        try:
            verdicts[pid] = harness.run(prop, target, spec, profile="dev", seed_value=0)["verdict"]
        except (PropertyFailure, TargetRaised) as exc:
            verdicts[pid], messages[pid] = ("error" if isinstance(exc, TargetRaised) else "fail"), str(exc)
    failed = {pid for pid, v in verdicts.items() if v in ("fail", "error")}
    assert failed == KNOWN.get(spec, set()), {pid: messages[pid] for pid in failed}
    assert any(v == "pass" for v in verdicts.values())
    if "gru.param_count" in failed:
        assert "bias=one" in messages["gru.param_count"]
