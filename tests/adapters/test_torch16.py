"""torch at 16 bits: exact array crossings, the measured float32 accumulation of torch.nn / torch_ref / autocast,
and the 16-bit targets' outputs (dtype and values against an independent float64 computation)."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dlproof.derivations import oracle_gru  # noqa: E402
from dlproof.dtypes import fmt  # noqa: E402
from dlproof.impl.adapters import startup, torch_autocast, torch_nn  # noqa: E402
from dlproof.impl.targets import torch_target  # noqa: E402
from dlproof.parameters import PARAMS  # noqa: E402

SIXTEEN = ("float16", "bfloat16")


# ---- arrays cross exactly ------------------------------------------------------------------------------

def _every_finite(name):
    """Every finite number of the 16-bit format ``name`` (all 2^16 bit patterns, the non-finite dropped)."""
    bits = np.arange(2 ** 16, dtype=np.uint16)
    a = bits.view(fmt(name).dtype)
    with np.errstate(invalid="ignore"):
        return a[np.isfinite(a.astype(np.float64))]


@pytest.mark.parametrize("name", SIXTEEN)
def test_every_16_bit_number_crosses_to_torch_and_back_exactly(name):
    a = _every_finite(name)
    _, td, dt = startup.dtype("t", name)
    t = startup.tensor(torch, a, td)
    assert t.dtype == td
    back = startup.to_numpy(t, dt)
    assert back.dtype == dt
    np.testing.assert_array_equal(back.view(np.uint16), a.view(np.uint16))  # bit for bit, -0 included
    assert not np.shares_memory(back, a)


def test_a_wider_value_is_rounded_once_to_bfloat16():
    # 1 + 2^-8 + 2^-30: float32 first would give 1 + 2^-8 (a tie, then to even: 1); the correct rounding is up
    x = np.array([1 + 2.0 ** -8 + 2.0 ** -30])
    t = startup.tensor(torch, x, torch.bfloat16)
    assert float(t[0]) == 1 + 2.0 ** -7


def test_startup_dtype_refuses_other_names():
    with pytest.raises(ValueError, match=r"'dtype' should be one of \('float16', 'bfloat16', 'float32', 'float64'\)"):
        startup.dtype("fn", "float8")
    with pytest.raises(ValueError, match="cannot hold every"):
        startup.cast_capabilities({}, "float32", "bfloat16")


# ---- the declared accumulation is the measured one -------------------------------------------------------

def long_dot(name):
    """(x (1, K) = [1, e x N, -1], the exact sum N e = 1/4): an accumulator of the 16-bit format adding in
    order keeps 1 + e = 1 (e is below half an ulp of 1), so it gives 0; float32 accumulation gives 1/4."""
    e, N = (2.0 ** -12, 1024) if name == "float16" else (2.0 ** -9, 128)
    x = np.concatenate([[1.0], np.full(N, e), [-1.0]])[None, :]
    return x.astype(fmt(name).dtype), N * e


def sequential16(x, name):
    """The sum of x's entries accumulated in order in the 16-bit format (each addition rounded)."""
    dt = fmt(name).dtype
    s = dt.type(0)
    for v in x.ravel():
        s = (np.array(s, dt) + np.array(v, dt)).astype(dt)[()]
    return float(s)


def probe(target, cap, name):
    """The pre-activation's image through ``cap`` when one input-weight row sums `long_dot`: mlp gives the
    sum s, the cells and one-step sequences tanh(s) (LSTM: c' = i g + f c with i = 1, c = 0; GRU: z = 0)."""
    dt = fmt(name).dtype
    x, _ = long_dot(name)
    K, n = x.shape[1], 1
    if cap == "mlp":
        return float(target.mlp(x, [(np.ones((1, K), dt), np.zeros(1, dt))], "tanh")[0, 0])
    kind = cap.split("_")[0]
    p = {k: np.zeros((n, K) if k.startswith("W_x") else (n, n) if k.startswith("W_h") else (n,), dt)
         for k in PARAMS[kind]}
    p[{"rnn": "W_x", "lstm": "W_xg", "gru": "W_xn"}[kind]][:] = 1
    if kind == "lstm":
        p["b_i"][:] = 16  # sigmoid(16) rounds to 1 at 16 bits
    if kind == "gru":
        p["b_z"][:] = -16  # z ~ 1e-7, and h = 0
    h = np.zeros((1, n), dt)
    if cap.endswith("_cell"):
        out = target.lstm_cell(x, h, h, p)[1] if kind == "lstm" else getattr(target, cap)(x, h, p)
    else:
        xs = x[None]
        out = target.lstm(xs, h, h, p)[1][1] if kind == "lstm" else getattr(target, cap)(xs, h, p)[1]
    assert out.dtype == dt
    return float(out[0, 0])


RECURRENT = ("rnn_cell", "lstm_cell", "gru_cell", "rnn", "lstm", "gru")
CAPS = ("mlp",) + RECURRENT
TARGETS = {"torch.nn": torch_nn.target, "torch_ref": torch_target}


@pytest.mark.parametrize("name", SIXTEEN)
def test_long_dot_product_discriminates_16_bit_accumulation(name):
    x, exact = long_dot(name)
    assert sequential16(x, name) == 0.0 and exact == 0.25


@pytest.mark.parametrize("name", SIXTEEN)
@pytest.mark.parametrize("which", sorted(TARGETS))
def test_torch_16_bit_targets_accumulate_in_float32_as_declared(which, name):
    target = TARGETS[which](dtype=name)
    assert target.dtype == name and target.accumulation() == "float32"
    _, exact = long_dot(name)
    for cap in CAPS:
        got = probe(target, cap, name)
        want = exact if cap == "mlp" else math.tanh(exact)
        # float32 accumulation: s = 1/4 exactly, then tanh rounded to 16 bits (a few ulps of 0.245);
        # the 16-bit accumulator gives s = 0 (tanh 0 = 0), 0.245 away
        assert abs(got - want) <= 4 * fmt(name).u, (cap, got, want)


def test_autocast_accumulates_in_float32_as_declared():
    target = torch_autocast.target()
    assert target.dtype == "bfloat16" and target.accumulation() == "float32"
    _, exact = long_dot("bfloat16")
    for cap in (c for c in CAPS if c not in torch_autocast.LEFT_OUT):  # lstm: the sequence module is left out
        got = probe(target, cap, "bfloat16")
        want = exact if cap == "mlp" else math.tanh(exact)
        assert abs(got - want) <= 4 * fmt("bfloat16").u, (cap, got, want)


def _tap_sum_dx(target, name):
    """dx[0] of a one-channel conv1d (padding K - 1, dy = 1) with w = `long_dot`'s [1, e x N, -1]: the sum of the
    K kernel taps, N e = 0.25 exactly; a 16-bit accumulator adding in order gives 0."""
    dt = fmt(name).dtype
    v = long_dot(name)[0].ravel()
    K = v.size
    b = np.zeros(1, dt)
    g = target.conv1d_vjp(np.zeros((1, 1, K), dt), v.reshape(1, 1, K), b, (1,), (K - 1,), (1,), 1,
                          np.ones((1, 1, 2 * K - 1), dt))
    assert g["x"].dtype == dt
    return float(g["x"][0, 0, 0])


@pytest.mark.parametrize("name", SIXTEEN)
def test_the_16_bit_references_sum_conv_taps_in_float32_as_declared(name):
    """torch.float16/bfloat16 (Tensor.unfold's backward would sum the taps in 16 bits: its VJP runs in float32)
    and numpy.float16/bfloat16 give the tap sum N e = 0.25 (finding torch-16-bit-conv-input-grad-sums-taps-in-16-bits)."""
    from dlproof.impl.targets import numpy_target

    _, exact = long_dot(name)
    for target in (torch_target(dtype=name), numpy_target(dtype=name)):
        assert target.accumulation() == "float32"
        assert _tap_sum_dx(target, name) == exact, target.name


def test_every_capability_torch_nn_leaves_out_names_a_published_finding():
    from pathlib import Path

    from dlproof import findings

    slugs = {f.slug for f in findings.load(Path(__file__).resolve().parents[2] / "reports" / "findings")}
    for dtype, caps in torch_nn.BROKEN_AT.items():
        target = torch_nn.target(dtype)
        for cap, slug in caps.items():
            assert getattr(target, cap) is None and slug in slugs, (dtype, cap, slug)
            assert target.left_out(cap) == f"finding {slug}", (dtype, cap)  # the report names it
    assert torch_nn.target("float32").convention("left_out") == {}


def test_a_left_out_capability_s_properties_name_the_finding():
    from dlproof.properties import harness
    from dlproof.properties.registry import all_properties

    row = harness.run(all_properties()["conv1d.forward"], torch_nn.target("float16"), "torch.nn.float16",
                      profile="ci", raises=False)
    assert row["verdict"] == "not provided", row
    assert row["message"] == "left out by the target: conv1d (finding torch-float16-conv1d-crash)", row


def test_autocast_leaves_out_every_nn_lstm_capability_with_its_finding():
    """Left out on every CPU (the call raises only where oneDNN lacks a bfloat16 LSTM), so the verdicts are the
    same on every machine; the cells stay checked."""
    from pathlib import Path

    from dlproof import findings

    target = torch_autocast.target()
    slugs = {f.slug for f in findings.load(Path(__file__).resolve().parents[2] / "reports" / "findings")}
    for cap, slug in {**torch_nn.BROKEN_AT["bfloat16"], **torch_autocast.LEFT_OUT}.items():
        assert getattr(target, cap) is None, cap
        assert slug in slugs, slug
        assert target.left_out(cap) == f"finding {slug}", cap
    assert all(getattr(target, c) is not None for c in ("lstm_cell", "lstm_proj_cell", "gru", "rnn"))
    assert set(torch_autocast.LEFT_OUT) == {c for c in torch_nn.target("float32").capabilities
                                            if c.startswith("lstm") and "cell" not in c}


# ---- the targets ---------------------------------------------------------------------------------------

def f64(v):
    """``v`` with every array as float64 (exact: a 16-bit number is a float64 one)."""
    return startup.cast_tree(v, np.dtype(np.float64))


def gru_inputs(name, T=3, B=2, m=3, n=4, seed=0):
    rng = np.random.default_rng(seed)
    dt = fmt(name).dtype
    p = {k: (0.5 * rng.standard_normal((n, m) if k.startswith("W_x") else (n, n) if k.startswith("W_h") else (n,)))
         .astype(dt) for k in PARAMS["gru"]}
    return rng.standard_normal((T, B, m)).astype(dt), rng.standard_normal((B, n)).astype(dt), p


@pytest.mark.parametrize("spec", ["torch.nn.float16", "torch.nn.bfloat16", "torch.nn.autocast"])
def test_16_bit_targets_load_and_give_their_dtype(spec):
    from dlproof.loader import load_target

    target = load_target(spec)
    name = target.dtype
    xs, h0, p = gru_inputs(name)
    hs, hT = target.gru(xs, h0, p)
    assert hs.dtype == hT.dtype == fmt(name).dtype and hs.shape == (3, 2, 4)
    # a few 16-bit ulps of the float64 GRU (3 steps of O(1) values): far inside what a layout error moves
    exact = oracle_gru.gru_forward(*(f64((xs, h0, p))))[1]
    assert np.max(np.abs(hT.astype(np.float64) - exact)) < 16 * fmt(name).u
    g = target.gru_vjp(xs, h0, p, np.ones_like(hs), np.ones_like(hT))
    assert g["xs"].dtype == fmt(name).dtype and g["params"]["W_xn"].dtype == fmt(name).dtype


def test_autocast_refuses_other_dtypes():
    with pytest.raises(ValueError, match=r"torch_autocast.target: argument 'dtype' should be one of \('bfloat16',\)"):
        torch_autocast.target("float16")


# ---- whole targets (slow) ------------------------------------------------------------------------------
