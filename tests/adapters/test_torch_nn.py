"""The torch.nn adapter: the weight map, every capability against the project's oracles (float64, rtol 1e-10),
the refusals of `from_modules`, param_count's closed forms, torch's clipping rule, and the whole suite.

Expected values come from dlproof.derivations (oracle, oracle_lstm, oracle_gru, oracle_bidirectional) and closed forms,
never from the adapter.
"""
from __future__ import annotations

import re
import time
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from dlproof.derivations import oracle_bidirectional, oracle_gru, oracle_lstm, oracle_rnn  # noqa: E402
from dlproof.impl.adapters import torch_nn as tn  # noqa: E402
from dlproof.target import Target  # noqa: E402

T, B, N, M = 4, 3, 5, 2
TIGHT = dict(rtol=1e-10, atol=1e-12)


def _params(kind, rng, n=N, m=M, scale=0.8):
    out = {}
    for k in tn.PARAMS[kind]:
        shape = (n, m) if k.startswith("W_x") else (n, n) if k.startswith("W_h") else (n,)
        out[k] = rng.normal(0, scale, shape)
    return out


def _problem(kind, seed=0, n=N, m=M):
    rng = np.random.default_rng(seed)
    return {"p": _params(kind, rng, n, m), "p_b": _params(kind, rng, n, m), "xs": rng.normal(size=(T, B, m)),
            "h0": rng.normal(0, 0.5, (B, n)), "c0": rng.normal(0, 0.5, (B, n)), "h0_b": rng.normal(0, 0.5, (B, n)),
            "c0_b": rng.normal(0, 0.5, (B, n)), "d_hs": rng.normal(size=(T, B, n)), "d_hT": rng.normal(size=(B, n)),
            "d_cT": rng.normal(size=(B, n))}


@pytest.fixture(scope="module")
def t64():
    return tn.target(dtype="float64")


# ---- the weight map ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", tn.KINDS)
def test_storage_layout_is_torchs_gate_order(kind):
    q = _problem(kind)["p"]
    s = tn.to_storage(kind, q)
    G = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
    assert s["weight_ih"].shape == (G * N, M) and s["weight_hh"].shape == (G * N, N)
    assert s["bias_ih"].shape == s["bias_hh"].shape == (G * N,)
    gates = {"rnn": [""], "lstm": ["i", "f", "g", "o"], "gru": ["r", "z", "n"]}[kind]
    for j, g in enumerate(gates):
        rows = slice(j * N, (j + 1) * N)
        np.testing.assert_array_equal(s["weight_ih"][rows], q[f"W_x{g}"])
        np.testing.assert_array_equal(s["weight_hh"][rows], q[f"W_h{g}"])
        bias = {"rnn": "b", "gru": {"r": "b_r", "z": "b_z", "n": "b_xn"}.get(g)}.get(kind, f"b_{g}")
        np.testing.assert_array_equal(s["bias_ih"][rows], q[bias])
    expected_hh = np.zeros(G * N)
    if kind == "gru":
        expected_hh[2 * N:] = q["b_hn"]
    np.testing.assert_array_equal(s["bias_hh"], expected_hh)


@pytest.mark.parametrize("kind", tn.KINDS)
@pytest.mark.parametrize("form", ["cell", "sequence", "reverse"])
def test_weight_map_round_trip_through_a_real_module(kind, form):
    q = _problem(kind)
    if form == "cell":
        mod = getattr(nn, tn.CELL_CLASS[kind])(M, N, dtype=torch.float64)
    else:
        mod = getattr(nn, tn.SEQUENCE_CLASS[kind])(M, N, bidirectional=form == "reverse", dtype=torch.float64)
    suffix = "_reverse" if form == "reverse" else ""
    tn.load(mod, kind, q["p"], suffix)
    back = tn.canonical_params(mod, kind, suffix)
    assert list(back) == list(tn.PARAMS[kind])
    for k, v in q["p"].items():
        np.testing.assert_array_equal(back[k], v, err_msg=k)
    if form == "reverse":  # the forward direction was not touched
        fwd = getattr(mod, "weight_ih_l0").detach().numpy()
        assert not np.array_equal(fwd[:N], q["p"][tn.BLOCKS[kind][0][0]])


def test_reading_a_module_sums_its_two_biases_except_grus_candidate():
    torch.manual_seed(0)
    for kind in tn.KINDS:
        mod = getattr(nn, tn.SEQUENCE_CLASS[kind])(M, N, dtype=torch.float64)
        b_ih, b_hh = mod.bias_ih_l0.detach().numpy(), mod.bias_hh_l0.detach().numpy()
        p = tn.canonical_params(mod, kind)
        first_bias = tn.BLOCKS[kind][0][2]
        np.testing.assert_array_equal(p[first_bias], b_ih[:N] + b_hh[:N])
        if kind == "gru":
            np.testing.assert_array_equal(p["b_xn"], b_ih[2 * N:])
            np.testing.assert_array_equal(p["b_hn"], b_hh[2 * N:])
        # and the module computes the same as the oracle on the params read back (the map is the math)
        q = _problem(kind, 3)
        states = (q["h0"], q["c0"]) if kind == "lstm" else (q["h0"],)
        with torch.no_grad():
            hx = tuple(torch.tensor(s)[None] for s in states)
            out, _ = mod(torch.tensor(q["xs"]), hx if kind == "lstm" else hx[0])
        expected = {"rnn": lambda: oracle_rnn.rnn_forward(q["xs"], q["h0"], p)[0],
                    "lstm": lambda: oracle_lstm.lstm_forward(q["xs"], q["h0"], q["c0"], p)[0],
                    "gru": lambda: oracle_gru.gru_forward(q["xs"], q["h0"], p)[0]}[kind]()
        np.testing.assert_allclose(out.numpy(), expected, **TIGHT)


# ---- capabilities vs the oracles ----------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_rnn_capabilities_match_the_oracle(activation):
    t = tn.target(dtype="float64", nonlinearity=activation)
    q = _problem("rnn", 1)
    xs, h0, p = q["xs"], q["h0"], q["p"]
    np.testing.assert_allclose(t.rnn_cell(xs[0], h0, p), oracle_rnn.rnn_cell(xs[0], h0, p, activation), **TIGHT)
    hs, h_T = t.rnn(xs, h0, p)
    e_hs, e_hT = oracle_rnn.rnn_forward(xs, h0, p, activation)
    assert hs.dtype == np.float64 and hs.shape == (T, B, N)
    np.testing.assert_allclose(hs, e_hs, **TIGHT)
    np.testing.assert_array_equal(h_T, hs[-1])
    g = t.rnn_vjp(xs, h0, p, q["d_hs"], q["d_hT"])
    e = oracle_rnn.rnn_vjp(xs, h0, p, q["d_hs"], q["d_hT"], activation)
    for k in ("xs", "h0"):
        np.testing.assert_allclose(g[k], e[k], **TIGHT, err_msg=k)
    for k in tn.PARAMS["rnn"]:
        np.testing.assert_allclose(g["params"][k], e["params"][k], **TIGHT, err_msg=k)
    ys, h_f, h_b = t.rnn_bi(xs, h0, q["h0_b"], p, q["p_b"])
    e_ys, e_f, e_b = oracle_bidirectional.rnn_bi(xs, h0, q["h0_b"], p, q["p_b"], activation)
    np.testing.assert_allclose(ys, e_ys, **TIGHT)
    np.testing.assert_allclose(h_f, e_f, **TIGHT)
    np.testing.assert_allclose(h_b, e_b, **TIGHT)
    np.testing.assert_array_equal(h_b, ys[0, :, N:])  # torch's h_n[1]: the backward state after reading x_0


def test_lstm_capabilities_match_the_oracle(t64):
    q = _problem("lstm", 2)
    xs, h0, c0, p = q["xs"], q["h0"], q["c0"], q["p"]
    h1, c1 = t64.lstm_cell(xs[0], h0, c0, p)
    e_h1, e_c1 = oracle_lstm.lstm_cell(xs[0], h0, c0, p)
    np.testing.assert_allclose(h1, e_h1, **TIGHT)
    np.testing.assert_allclose(c1, e_c1, **TIGHT)
    hs, (h_T, c_T) = t64.lstm(xs, h0, c0, p)
    e_hs, (e_hT, e_cT) = oracle_lstm.lstm_forward(xs, h0, c0, p)
    np.testing.assert_allclose(hs, e_hs, **TIGHT)
    np.testing.assert_allclose(c_T, e_cT, **TIGHT)
    np.testing.assert_array_equal(h_T, hs[-1])
    g = t64.lstm_vjp(xs, h0, c0, p, q["d_hs"], q["d_hT"], q["d_cT"])
    e = oracle_lstm.lstm_vjp(xs, h0, c0, p, q["d_hs"], q["d_hT"], q["d_cT"])
    for k in ("xs", "h0", "c0"):
        np.testing.assert_allclose(g[k], e[k], **TIGHT, err_msg=k)
    for k in tn.PARAMS["lstm"]:
        np.testing.assert_allclose(g["params"][k], e["params"][k], **TIGHT, err_msg=k)
    out = t64.lstm_bi(xs, (h0, c0), (q["h0_b"], q["c0_b"]), p, q["p_b"])
    e_out = oracle_bidirectional.lstm_bi(xs, (h0, c0), (q["h0_b"], q["c0_b"]), p, q["p_b"])
    np.testing.assert_allclose(out[0], e_out[0], **TIGHT)
    for got, exp in zip((*out[1], *out[2]), (*e_out[1], *e_out[2])):
        np.testing.assert_allclose(got, exp, **TIGHT)


def test_gru_capabilities_match_the_oracle(t64):
    q = _problem("gru", 3)
    xs, h0, p = q["xs"], q["h0"], q["p"]
    np.testing.assert_allclose(t64.gru_cell(xs[0], h0, p), oracle_gru.gru_cell(xs[0], h0, p, "reset_after"), **TIGHT)
    hs, h_T = t64.gru(xs, h0, p)
    np.testing.assert_allclose(hs, oracle_gru.gru_forward(xs, h0, p, "reset_after")[0], **TIGHT)
    np.testing.assert_array_equal(h_T, hs[-1])
    g = t64.gru_vjp(xs, h0, p, q["d_hs"], q["d_hT"])
    e = oracle_gru.gru_vjp(xs, h0, p, q["d_hs"], q["d_hT"], "reset_after")
    for k in ("xs", "h0"):
        np.testing.assert_allclose(g[k], e[k], **TIGHT, err_msg=k)
    for k in tn.PARAMS["gru"]:  # b_r, b_z from bias_ih; b_xn = bias_ih[2n:], b_hn = bias_hh[2n:]: they differ
        np.testing.assert_allclose(g["params"][k], e["params"][k], **TIGHT, err_msg=k)
    assert not np.allclose(g["params"]["b_xn"], g["params"]["b_hn"])
    ys, h_f, h_b = t64.gru_bi(xs, h0, q["h0_b"], p, q["p_b"])
    e_ys, e_f, e_b = oracle_bidirectional.gru_bi(xs, h0, q["h0_b"], p, q["p_b"], "reset_after")
    np.testing.assert_allclose(ys, e_ys, **TIGHT)
    np.testing.assert_allclose(h_f, e_f, **TIGHT)
    np.testing.assert_allclose(h_b, e_b, **TIGHT)


def test_float32_target_computes_and_returns_float32_without_touching_inputs():
    t = tn.target()
    assert t.dtype == "float32" and t.name == f"torch.nn (torch {tn.torch_version()}, float32)"
    q = _problem("lstm", 4)
    args = [q["xs"].astype(np.float32), q["h0"].astype(np.float32), q["c0"].astype(np.float32),
            {k: v.astype(np.float32) for k, v in q["p"].items()}]
    before = [a.copy() for a in args[:3]] + [{k: v.copy() for k, v in args[3].items()}]
    hs, (h_T, c_T) = t.lstm(*args)
    assert hs.dtype == h_T.dtype == c_T.dtype == np.float32
    e_hs, _ = oracle_lstm.lstm_forward(*args)
    np.testing.assert_allclose(hs, e_hs, rtol=1e-4, atol=1e-5)
    g = t.lstm_vjp(*args, q["d_hs"].astype(np.float32), q["d_hT"].astype(np.float32), q["d_cT"].astype(np.float32))
    assert g["xs"].dtype == g["params"]["W_xi"].dtype == np.float32
    for a, b in zip(args[:3], before[:3]):
        np.testing.assert_array_equal(a, b)
    for k in args[3]:
        np.testing.assert_array_equal(args[3][k], before[3][k])


def test_conventions_and_names():
    assert tn.target().conventions == {"rnn_activation": "tanh", "gru": "reset_after", "bias": "two",
                                       "clip_eps": 1e-6, "clip_scope": "global", "clip_norm_scaling": "unscaled",
                                       "bn_running_var": "unbiased", "padded_output": "zero",
                                       "restrictions": {"projection_size": "smaller_than_hidden"}}
    relu = tn.relu_target(dtype="float64")
    assert relu.convention("rnn_activation") == "relu" and relu.name.endswith("float64, relu)")
    assert set(relu.capabilities) == {"rnn_cell", "rnn", "rnn_vjp", "rnn_bi", "rnn_bi_vjp", "rnn_stack", "rnn_stack_vjp",
                                      "param_count"}
    from dlproof.impl.numpy_ref import stacked as NS  # the relu stack runs nn.RNN(nonlinearity="relu")
    rng = np.random.default_rng(0)
    layers = [[{"W_x": rng.normal(size=(3, 2)), "W_h": rng.normal(size=(3, 3)), "b": rng.normal(size=3)}]]
    xs, h0 = rng.normal(size=(4, 2, 2)), rng.normal(size=(1, 1, 2, 3))
    got, want = relu.rnn_stack(xs, h0, layers, None, 0.0, False, 0), NS.rnn_stack(xs, h0, layers, None, 0.0, False, 0,
                                                                                   activation="relu")
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="nonlinearity should be one of"):
        tn.target(nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="argument 'dtype' should be"):
        tn.target(dtype="int8")


def test_bad_arguments_are_refused_by_name(t64):
    q = _problem("rnn")
    with pytest.raises(ValueError, match=r"rnn: argument 'h0' should have shape"):
        t64.rnn(q["xs"], q["h0"][:, :2], q["p"])
    with pytest.raises(ValueError, match=r"missing parameter\(s\) \['b'\]"):
        t64.rnn(q["xs"], q["h0"], {"W_x": q["p"]["W_x"], "W_h": q["p"]["W_h"]})
    with pytest.raises(RuntimeError, match="sequence length"):  # torch refuses T = 0; passed through
        t64.rnn(q["xs"][:0], q["h0"], q["p"])


# ---- from_modules --------------------------------------------------------------------------------------

class MyLSTM(nn.LSTM):
    """A user subclass (same math): the adapter must run it, not nn.LSTM."""

    calls = 0

    def forward(self, *args, **kw):
        MyLSTM.calls += 1
        return super().forward(*args, **kw)


def test_from_modules_runs_copies_of_user_modules():
    torch.manual_seed(1)
    user = MyLSTM(M, N)  # float32, training mode: the target converts a copy
    before = {k: v.detach().clone() for k, v in user.state_dict().items()}
    gru = nn.GRU(M, N, batch_first=True)
    rnn = nn.RNNCell(M, N, nonlinearity="relu")
    t = tn.from_modules(rnn=rnn, lstm=user, gru=gru, dtype="float64")
    assert isinstance(t, Target) and t.convention("rnn_activation") == "relu"
    assert set(t.capabilities) == {"rnn_cell", "lstm_cell", "lstm", "lstm_vjp", "gru_cell", "gru", "gru_vjp"}
    assert "MyLSTM(input_size=2, hidden_size=5) [a torch.nn.LSTM subclass]" in t.name
    assert "torch.nn.GRU(input_size=2, hidden_size=5, batch_first=True)" in t.name
    calls = MyLSTM.calls
    q = _problem("lstm", 5)
    hs, (h_T, c_T) = t.lstm(q["xs"], q["h0"], q["c0"], q["p"])
    assert MyLSTM.calls == calls + 1
    e_hs, (_, e_cT) = oracle_lstm.lstm_forward(q["xs"], q["h0"], q["c0"], q["p"])
    np.testing.assert_allclose(hs, e_hs, **TIGHT)
    np.testing.assert_allclose(c_T, e_cT, **TIGHT)
    g = t.lstm_vjp(q["xs"], q["h0"], q["c0"], q["p"], q["d_hs"], q["d_hT"], q["d_cT"])
    e = oracle_lstm.lstm_vjp(q["xs"], q["h0"], q["c0"], q["p"], q["d_hs"], q["d_hT"], q["d_cT"])
    np.testing.assert_allclose(g["params"]["W_hf"], e["params"]["W_hf"], **TIGHT)
    np.testing.assert_allclose(g["c0"], e["c0"], **TIGHT)
    h1, c1 = t.lstm_cell(q["xs"][0], q["h0"], q["c0"], q["p"])  # a one-step run of the sequence module
    np.testing.assert_allclose(h1, oracle_lstm.lstm_cell(q["xs"][0], q["h0"], q["c0"], q["p"])[0], **TIGHT)
    # batch_first: transposed in and out
    qg = _problem("gru", 6)
    hs, h_T = t.gru(qg["xs"], qg["h0"], qg["p"])
    np.testing.assert_allclose(hs, oracle_gru.gru_forward(qg["xs"], qg["h0"], qg["p"])[0], **TIGHT)
    gg = t.gru_vjp(qg["xs"], qg["h0"], qg["p"], qg["d_hs"], qg["d_hT"])
    np.testing.assert_allclose(gg["xs"], oracle_gru.gru_vjp(qg["xs"], qg["h0"], qg["p"], qg["d_hs"], qg["d_hT"])["xs"],
                               **TIGHT)
    # a cell module
    qr = _problem("rnn", 7)
    np.testing.assert_allclose(t.rnn_cell(qr["xs"][0], qr["h0"], qr["p"]),
                               oracle_rnn.rnn_cell(qr["xs"][0], qr["h0"], qr["p"], "relu"), **TIGHT)
    # the user's modules are untouched
    assert user.training and next(user.parameters()).dtype == torch.float32
    for k, v in user.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_from_modules_bidirectional_module_gives_the_bi_capabilities():
    bi = nn.GRU(M, N, bidirectional=True)
    t = tn.from_modules(gru=bi, dtype="float64")
    assert t.capabilities == ["gru_bi", "gru_bi_vjp"]
    q = _problem("gru", 8)
    ys, h_f, h_b = t.gru_bi(q["xs"], q["h0"], q["h0_b"], q["p"], q["p_b"])
    e_ys, e_f, e_b = oracle_bidirectional.gru_bi(q["xs"], q["h0"], q["h0_b"], q["p"], q["p_b"])
    np.testing.assert_allclose(ys, e_ys, **TIGHT)
    np.testing.assert_allclose(h_b, e_b, **TIGHT)
    d_ys = np.random.default_rng(9).normal(size=ys.shape)
    g = t.gru_bi_vjp(q["xs"], q["h0"], q["h0_b"], q["p"], q["p_b"], d_ys, q["d_hT"], q["d_hT"])
    e = oracle_bidirectional.gru_bi_vjp(q["xs"], q["h0"], q["h0_b"], q["p"], q["p_b"], d_ys, q["d_hT"], q["d_hT"])
    for key in ("xs", "h0_f", "h0_b"):
        np.testing.assert_allclose(g[key], e[key], **TIGHT)
    for side in ("params_f", "params_b"):
        for name in e[side]:
            np.testing.assert_allclose(g[side][name], e[side][name], **TIGHT)
    with pytest.raises(ValueError, match=re.escape(
            "gru_bi: torch.nn.GRU(input_size=2, hidden_size=5, bidirectional=True) cannot take p_b['W_hz'] of "
            "shape (4, 4): expected (5, 5)")):
        t.gru_bi(q["xs"], q["h0"], q["h0_b"], q["p"], {**q["p_b"], "W_hz": np.zeros((4, 4))})


def test_from_modules_dropout_in_training_mode_runs_in_eval_mode():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch: dropout with num_layers=1 does nothing
        mod = nn.RNN(M, N, dropout=0.5)
    mod.train()
    t = tn.from_modules(rnn=mod, dtype="float64")
    q = _problem("rnn", 9)
    hs, _ = t.rnn(q["xs"], q["h0"], q["p"])
    np.testing.assert_allclose(hs, oracle_rnn.rnn_forward(q["xs"], q["h0"], q["p"])[0], **TIGHT)
    assert mod.training


def _lstm_problem_with(name, shape):
    q = _problem("lstm", 10, n=4, m=3)
    return q, {**q["p"], name: np.zeros(shape)}


@pytest.mark.parametrize("make, message", [
    (lambda: dict(lstm=nn.LSTM(3, 4, proj_size=2)),
     "from_modules: lstm=torch.nn.LSTM(input_size=3, hidden_size=4, proj_size=2) has proj_size=2"),
    (lambda: dict(gru=nn.GRU(3, 4, num_layers=2)),
     "from_modules: gru=torch.nn.GRU(input_size=3, hidden_size=4, num_layers=2) has num_layers=2: "
     "multi-layer modules are refused"),
    (lambda: dict(rnn=nn.RNN(3, 4, bias=False)),
     "from_modules: rnn=torch.nn.RNN(input_size=3, hidden_size=4, bias=False) has bias=False"),
    (lambda: dict(lstm=nn.LSTMCell(3, 4, bias=False)),
     "from_modules: lstm=torch.nn.LSTMCell(input_size=3, hidden_size=4, bias=False) has bias=False"),
    (lambda: dict(lstm=nn.GRU(3, 4)),
     "from_modules: argument 'lstm' should be a torch.nn.LSTM or torch.nn.LSTMCell instance (subclasses "
     "included), got GRU"),
    (lambda: dict(rnn=nn.Linear(3, 4)), "from_modules: argument 'rnn' should be a torch.nn.RNN"),
    (lambda: {}, "from_modules: give at least one module"),
])
def test_from_modules_refuses_unsupported_configurations(make, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        kw = make()
    with pytest.raises(ValueError) as info:
        tn.from_modules(**kw)
    assert str(info.value).startswith(message), str(info.value)


def test_from_modules_refuses_a_module_with_a_mis_shaped_parameter():
    mod = nn.LSTM(3, 4)
    mod.weight_hh_l0 = nn.Parameter(torch.zeros(16, 5))
    msg = "has weight_hh_l0 of shape (16, 5), but should be (16, 4): refused"
    with pytest.raises(ValueError, match=re.escape(msg)):
        tn.from_modules(lstm=mod)


@pytest.mark.parametrize("cap", ["lstm", "lstm_vjp", "lstm_cell"])
def test_from_modules_refuses_params_that_do_not_fit_the_module(cap):
    t = tn.from_modules(lstm=nn.LSTM(3, 4), dtype="float64")
    q, p = _lstm_problem_with("W_xi", (5, 2))
    args = {"lstm": (q["xs"], q["h0"], q["c0"], p),
            "lstm_vjp": (q["xs"], q["h0"], q["c0"], p, q["d_hs"], q["d_hT"], q["d_cT"]),
            "lstm_cell": (q["xs"][0], q["h0"], q["c0"], p)}[cap]
    with pytest.raises(ValueError, match=re.escape(
            f"{cap}: torch.nn.LSTM(input_size=3, hidden_size=4) cannot take W_xi of shape (5, 2): expected (4, 3)")):
        getattr(t, cap)(*args)


def test_from_modules_refuses_a_cell_module_of_other_sizes():
    t = tn.from_modules(gru=nn.GRUCell(3, 4), dtype="float64")
    q = _problem("gru", 11, n=5, m=3)
    msg = "gru_cell: torch.nn.GRUCell(input_size=3, hidden_size=4) cannot take W_xr of shape (5, 3): expected (4, 3)"
    with pytest.raises(ValueError, match=re.escape(msg)):
        t.gru_cell(q["xs"][0], q["h0"], q["p"])


def test_from_modules_refuses_a_subclass_that_returns_the_wrong_thing():
    class Swapped(nn.GRU):
        def forward(self, x, h=None):
            out, h_n = super().forward(x, h)
            return h_n, out

    t = tn.from_modules(gru=Swapped(M, N), dtype="float64")
    q = _problem("gru", 12)
    with pytest.raises(ValueError, match=re.escape("Swapped(input_size=2, hidden_size=5) [a torch.nn.GRU subclass] "
                                                   "returned output of shape (1, 3, 5), but should be (4, 3, 5)")):
        t.gru(q["xs"], q["h0"], q["p"])


# ---- param_count and clipping --------------------------------------------------------------------------

@pytest.mark.parametrize("n, m", [(1, 1), (3, 2), (5, 7)])
def test_param_count_equals_the_closed_forms_with_two_biases(n, m):
    t = tn.target()
    assert t.param_count("rnn", n, m) == n * m + n * n + 2 * n
    assert t.param_count("lstm", n, m) == 4 * (n * m + n * n + 2 * n)
    assert t.param_count("gru", n, m) == 3 * (n * m + n * n + 2 * n)
    with pytest.raises(ValueError, match="kind should be one of"):
        t.param_count("transformer", n, m)
    with pytest.raises(ValueError, match="'n' should be an integer >= 1"):
        t.param_count("rnn", 0, m)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("factor", [0.05, 0.8, 1.25, 10.0])
def test_clip_grad_norm_is_torchs_eps_rule_and_returns_get_total_norm(dtype, factor):
    rng = np.random.default_rng(13)
    grads = [rng.normal(size=s).astype(dtype) for s in ((3, 2), (4,), (1, 1))]
    copies = [g.copy() for g in grads]
    N_ = float(np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads)))
    c = N_ * factor
    clipped, norm = tn.target(dtype).clip_grad_norm(grads, c)
    scale = min(1.0, c / (N_ + 1e-6))
    rtol = 1e-12 if dtype == "float64" else 1e-6
    assert isinstance(norm, float)
    assert norm == pytest.approx(N_, rel=rtol)
    assert norm == tn.total_norm(grads, dtype)  # clip_grad_norm_'s return value is get_total_norm's
    for a, g, g0 in zip(clipped, grads, copies):
        assert a.dtype == np.dtype(dtype)
        np.testing.assert_allclose(a, g.astype(np.float64) * scale, rtol=rtol, atol=0)
        np.testing.assert_array_equal(g, g0)  # the inputs are not clipped in place
    if factor > 1:  # below the threshold torch still scales, by c / (N + 1e-6) -> 1
        assert scale == 1.0


def test_clip_grad_norm_shrinks_just_below_c_at_the_threshold():
    g = [np.array([3e-6, 4e-6])]  # ||g|| = 5e-6, comparable to eps
    clipped, norm = tn.target("float64").clip_grad_norm(g, 5e-6)
    np.testing.assert_allclose(clipped[0], g[0] * 5e-6 / (5e-6 + 1e-6), rtol=1e-12)
    assert norm == pytest.approx(5e-6, rel=1e-12)


def test_clip_grad_value_clamps():
    g = [np.array([[-3.0, 0.5], [2.0, -0.1]]), np.array([10.0])]
    out = tn.target("float64").clip_grad_value(g, 1.0)
    np.testing.assert_array_equal(out[0], np.clip(g[0], -1, 1))
    np.testing.assert_array_equal(out[1], [1.0])
    assert g[1][0] == 10.0
    with pytest.raises(ValueError, match="clip_value"):
        tn.target().clip_grad_value(g, -1.0)


def test_missing_torch_gives_the_install_hint(monkeypatch):
    import builtins

    real = builtins.__import__

    def fake(name, *a, **kw):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ImportError, match=re.escape("pip install 'dlproof[torch]'")):
        tn.target()


# ---- the conformance suite -----------------------------------------------------------------------------

def _run_suite(target, only=None):
    from dlproof.properties import harness, results
    from dlproof.properties.registry import all_properties

    saved = list(results.ROWS)
    failures, verdicts = [], {}
    try:
        for pid, prop in all_properties().items():
            if only is not None and not any(pid.startswith(o) for o in only):
                continue
            try:
                verdicts[pid] = harness.run(prop, target, "torch.nn", profile="dev", seed_value=0)["verdict"]
            except Exception as exc:  # noqa: BLE001 - report which property failed and why
                failures.append(f"{pid}: {type(exc).__name__}: {exc}")
    finally:
        results.ROWS[:] = saved
    assert not failures, f"{target.name} fails:\n" + "\n".join(failures)
    return verdicts


SMOKE = ("rnn.cell.forward", "rnn.vjp", "lstm.forward", "gru.vjp", "bi.lstm.forward", "clip.norm.rule",
         "clip.norm.eps.second_application", "gru.param_count")


def test_conformance_smoke_subset_passes():
    t0 = time.perf_counter()
    v = _run_suite(tn.target(), only=SMOKE)
    assert set(v) >= set(SMOKE) and all(x == "pass" for x in v.values()), v
    assert time.perf_counter() - t0 < 20


@pytest.mark.slow
@pytest.mark.parametrize("make", [lambda: tn.target(), lambda: tn.target(dtype="float64"),
                                  lambda: tn.relu_target()], ids=["float32", "float64", "relu"])
def test_conformance_whole_suite_passes(make):
    v = _run_suite(make())
    assert "pass" in v.values()
    assert set(v.values()) <= {"pass", "not provided"}, v
