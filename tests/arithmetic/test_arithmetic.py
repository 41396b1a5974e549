"""The mixed-precision error model (properties/tolerances.py, errmodel.py) and the 16-bit references: the model
at accumulate = storage is the single-u model, the mixed dot-product bound against exact rational arithmetic, a
float16 LSTM that really accumulates in float16 (passes as declared, fails when it claims float32), the
float16-accumulating float32 mutant, and numpy_ref.arith's measured accumulation."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from dlproof.dtypes import fmt
from dlproof.impl.numpy_ref import arith
from dlproof.impl.targets import numpy_target
from dlproof.parameters import LSTM_PARAMS, RNN_PARAMS
from dlproof.properties import errmodel as em
from dlproof.properties import tolerances as tol
from dlproof.properties.assertions import Checker, PropertyFailure
from dlproof.properties.registry import all_properties
from dlproof.properties.strategies import Problem

from mutants.arithmetic import EQUIVALENT, MUTANTS, fp16_lstm_target, same_sign_problem

PROPS = all_properties()
U16, U32, U64 = 2.0 ** -11, 2.0 ** -24, 2.0 ** -53


def _rnn_problem(rng, T=3, B=2, m=3, n=4):
    p = {"W_x": rng.standard_normal((n, m)), "W_h": rng.standard_normal((n, n)) / 2, "b": rng.standard_normal(n)}
    return rng.standard_normal((T, B, m)), np.tanh(rng.standard_normal((B, n))), p


# ---- accumulate = storage: the single-u model, bit for bit -------------------------------------------------

def _single_u_rnn_forward(xs, h0, p, u):
    """The module doc's float32 recursion written out independently: e_a = gamma_{m+n+1}(u) (|W_x||x| + |W_h||h|
    + |b|) + |W_h| e, e' = min(1, 1 - tanh(a)^2 + e_a) e_a + 4 u."""
    W_x, W_h, b = (np.asarray(p[k], np.float64) for k in RNN_PARAMS)
    k = W_x.shape[1] + W_h.shape[1] + 1
    g = k * u / (1 - k * u)
    h, e, out = h0, np.zeros_like(h0), []
    for x in xs:
        a = x @ W_x.T + h @ W_h.T + b
        e_a = g * (np.abs(x) @ np.abs(W_x).T + np.abs(h) @ np.abs(W_h).T + np.abs(b)) + e @ np.abs(W_h).T
        h = np.tanh(a)
        e = np.minimum(1.0, 1 - h * h + e_a) * e_a + 4.0 * u
        out.append(e)
    return np.stack(out)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_storage_accumulation_is_the_single_u_model_bit_for_bit(dtype):
    rng = np.random.default_rng(7)
    xs, h0, p = _rnn_problem(rng)
    u = fmt(dtype).u + U64
    a = tol.Arithmetic(dtype, dtype)
    assert tol.model_units(a) == tol.Units(u, u, 4.0) and not tol.model_units(a).wider
    eta = sum(tol.underflow_terms(a, None))
    got = tol._rnn_forward_bound(xs, h0, p, "tanh", tol.model_units(a))[2]
    assert np.array_equal(got, _single_u_rnn_forward(xs, h0, p, u))
    assert np.array_equal(tol.rnn_forward_tol(xs, h0, p, "tanh", a)[0],
                          tol.SAFETY * tol._rnn_forward_bound(xs, h0, p, "tanh", u, eta)[2])
    # the gated models: the Arithmetic at storage equals the bare-u (single-u) evaluation, VJP included
    q = {k: rng.standard_normal((4, 3) if k.startswith("W_x") else (4, 4) if k.startswith("W_h") else 4)
         for k in LSTM_PARAMS}
    c0, cots = rng.standard_normal((2, 4)), [rng.standard_normal(s) for s in ((3, 2, 4), (2, 4), (2, 4))]
    un = tol.underflow_terms(a, None)
    assert np.array_equal(tol.lstm_forward_tol(xs, h0, c0, q, a)[0],
                          tol.SAFETY * np.stack([s[-1].e for s in tol._lstm_model(xs, h0, c0, q, u, eta=un)[0]]))
    v_a = tol.lstm_vjp_tol(xs, h0, c0, q, *cots, a)
    v_u = tol._scaled(tol._lstm_model(xs, h0, c0, q, u, *cots, eta=un))
    assert all(np.array_equal(v_a["params"][k], v_u["params"][k]) for k in q)
    assert np.array_equal(v_a["xs"], v_u["xs"]) and np.array_equal(v_a["h0"], v_u["h0"])


def test_wider_accumulation_is_tighter_but_charges_the_rounding_to_storage():
    rng = np.random.default_rng(3)
    xs, h0, p = _rnn_problem(rng, m=16, n=16)
    mixed, single = tol.Arithmetic("float16", "float32"), tol.Arithmetic("float16", "float16")
    t_mixed, t_single = tol.rnn_forward_tol(xs, h0, p, "tanh", mixed)[0], tol.rnn_forward_tol(xs, h0, p, "tanh", single)[0]
    assert np.all(t_mixed < t_single)
    # the mixed bound still exceeds what float32 arithmetic alone would allow: one rounding to float16 per step
    t32 = tol.rnn_forward_tol(xs, h0, p, "tanh", "float32")[0]
    assert np.all(t_mixed > 100 * t32)


# ---- the mixed dot-product bound against exact rational arithmetic --------------------------------------------

def _exact_dot(a, b) -> Fraction:
    return sum((Fraction(float(x)) * Fraction(float(y)) for x, y in zip(a, b)), Fraction(0))


@pytest.mark.parametrize("signs", ["same", "mixed"])
def test_fp16_storage_fp32_accumulation_within_the_model(signs):
    """s = fl16(fl32-sum of products of float16 numbers): |s - exact| <= gamma_k(u32) sum|t| + u16 |exact| + (second
    order) u16 gamma_k(u32) sum|t|, the model of errmodel's ``@`` (at u_acc = u32, u = u16; the float64 oracle's
    u64 added by the suite only widens it); the float16-accumulated sum of the same terms is caught by it."""
    rng = np.random.default_rng(11 if signs == "same" else 12)
    k = 512
    a = rng.uniform(0.5, 1.0, k).astype(np.float16)
    b = (rng.uniform(0.01, 0.02, k) * (1 if signs == "same" else rng.choice((-1, 1), k))).astype(np.float16)
    a[0], b[0] = 64.0, 1.0  # a large first term: float16 partial sums (spacing 2^-4 near 64) lose the small ones
    exact = _exact_dot(a, b)
    mag = sum(abs(Fraction(float(x)) * Fraction(float(y))) for x, y in zip(a, b))
    acc32 = np.float32(0)
    for t in (a.astype(np.float32) * b.astype(np.float32)):  # products exact in float32 (11 + 11 bits)
        acc32 = np.float32(acc32 + t)
    s = np.float16(acc32)
    g = Fraction(em.gamma(k, U32))
    bound = g * mag + Fraction(U16) * abs(exact) + Fraction(U16) * g * mag
    assert abs(Fraction(float(s)) - exact) <= bound
    model = em.exact(a[None].astype(np.float64), U16, u_acc=U32) @ em.exact(b[:, None].astype(np.float64), U16, u_acc=U32)
    assert float(model.e[0, 0]) == pytest.approx(float(g * mag + Fraction(U16) * abs(exact)), rel=1e-12)
    s16 = np.add.accumulate((a * b).astype(np.float16))[-1]  # float16 accumulation of the same products
    if signs == "same":
        assert abs(Fraction(float(s16)) - exact) > tol.SAFETY * bound


def test_pieces_to_storage_counts_each_rounding():
    """Three pieces rounded to storage and added in storage: (3 - 1) u mag + u |r| on top of gamma_k(u_acc) mag."""
    x = em.exact(np.array([[1.0, 2.0]]), U16, u_acc=U32)
    W = em.exact(np.array([[3.0, -4.0]]), U16, u_acc=U32)
    h = em.exact(np.array([[0.5]]), U16, u_acc=U32)
    Wh, b = em.exact(np.array([[2.0]]), U16, u_acc=U32), em.exact(np.array([0.25]), U16, u_acc=U32)
    r = em.affine(x, W, h, Wh, b)
    mag, v = 3 + 8 + 1 + 0.25, 3 - 8 + 1 + 0.25
    assert r.v[0, 0] == v
    assert r.e[0, 0] == pytest.approx(em.gamma(4, U32) * mag + 2 * U16 * mag + U16 * abs(v), rel=1e-15)
    same = em.affine(*(em.exact(z.v, U16) for z in (x, W, h, Wh, b)))
    assert same.e[0, 0] == em.gamma(4, U16) * mag  # accumulation in storage: no rounding to storage added


# ---- a genuinely float16-accumulating LSTM -----------------------------------------------------------------

def _verdict(target, pid, problem):
    chk = Checker(target, pid)
    try:
        PROPS[pid].check(target, problem, chk)
    except PropertyFailure as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("pid", ["lstm.cell.forward", "lstm.forward"])
def test_fp16_accumulating_lstm_passes_as_storage_and_fails_claiming_float32(pid):
    problem = same_sign_problem()
    assert _verdict(fp16_lstm_target("storage"), pid, problem) is None
    msg = _verdict(fp16_lstm_target("float32"), pid, problem)
    assert msg is not None and "x tolerance" in msg and "accumulate=float32" in msg
    # the same sums accumulated in float32 (and rounded once) are what "float32" promises: no false alarm
    fp32_acc = EQUIVALENT["fp16_sequential_fp32_accumulation"][0].target
    assert fp32_acc.convention("accumulate") == "float32" and _verdict(fp32_acc, pid, problem) is None


def test_float16_accumulation_mutant_fails_the_float32_model():
    m = MUTANTS["fp16_accumulation_f32"]
    assert m.target.dtype == "float32" and m.target.convention("accumulate") == "storage"
    assert {"rnn", "lstm", "gru", "rnn_cell", "lstm_cell", "gru_cell"} <= set(m.mutated)
    problem = same_sign_problem()
    problem = Problem({k: v.astype(np.float32) for k, v in problem.arrays.items()}, problem.scalars)
    assert _verdict(m.target, "lstm.forward", problem) is not None
    assert _verdict(numpy_target("float32"), "lstm.forward", problem) is None  # the reference passes it


# ---- the references' accumulation (measured) --------------------------------------------------------------

@pytest.mark.parametrize("dtype, big, ones", [("float16", 2048, 4095), ("bfloat16", 256, 255)])
def test_numpy_ref_arith_accumulates_16_bit_formats_in_float32(dtype, big, ones):
    """[big, 1, ..., 1]: a 16-bit accumulator stays at big (big + 1 rounds back); float32 gives the exact sum
    rounded once to the 16-bit format."""
    dt = fmt(dtype).dtype
    x = np.concatenate([[big], np.ones(ones)]).astype(dt)
    want = float(np.asarray(big + ones, np.float64).astype(dt))
    assert want != big
    assert float(arith.matmul(x[None], np.ones((ones + 1, 1), dt))[0, 0]) == want
    col = arith.total(np.stack([x, x], axis=1), 0)  # a strided sum over rows: NumPy alone adds in storage
    assert col.dtype == dt and float(col[0]) == want
    assert arith.matmul(x[None], np.ones((ones + 1, 1), dt)).dtype == dt
    e = arith.einsum("i,i->", x, np.ones(ones + 1, dt))
    assert e.dtype == dt and float(e) == want


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_numpy_ref_arith_is_numpy_itself_at_32_and_64_bits(dtype):
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((7, 9)).astype(dtype), rng.standard_normal((9, 4)).astype(dtype)
    assert np.array_equal(arith.matmul(a, b), a @ b) and np.array_equal(arith.total(a, 0), a.sum(axis=0))
    assert np.array_equal(arith.einsum("ij,jk->ik", a, b), np.einsum("ij,jk->ik", a, b, optimize=True))


def test_numpy_float16_matmul_still_accumulates_in_float32():
    """The evidence behind numpy_target's declaration (impl/targets.py doc): 2048 + 4095 ones is 6144."""
    x = np.concatenate([[2048.0], np.ones(4095)]).astype(np.float16)
    assert float(x @ np.ones(4096, np.float16)) == 6144.0


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_16_bit_references_declare_float32_accumulation(dtype):
    t = numpy_target(dtype)
    assert t.dtype == dtype and t.convention("accumulate") == "float32" and t.accumulation() == "float32"
    assert numpy_target("float32").convention("accumulate") == "storage"
    assert tol.precision(t).wider_accumulation


def test_model_units_errs_clearly():
    with pytest.raises(ValueError, match="dtype"):
        tol.model_units("float8")
    with pytest.raises(ValueError, match="unit roundoff"):
        tol.model_units(1.5)
    assert tol.model_units(tol.Units(1e-3, 1e-4)).raised(1e-5) == tol.Units(1e-3 + 1e-5, 1e-4 + 1e-5, 4.0)


# ---- whole runs (slow) ---------------------------------------------------------------------------------------

RECURRENT = ["rnn", "lstm", "gru", "bidirectional", "stacked", "peephole", "projection"]


@pytest.mark.slow
def test_fp16_accumulating_lstm_passes_every_lstm_property_it_provides(tmp_path):
    from dlproof.testing import assert_conforms

    report = assert_conforms(fp16_lstm_target("storage"), properties=["lstm"], profile="dev", report_dir=tmp_path)
    ran = {r["property"] for r in report["results"] if r["verdict"] == "pass"}
    assert {"lstm.cell.forward", "lstm.forward"} <= ran


@pytest.mark.slow
def test_fp16_accumulation_mutant_is_killed_on_drawn_examples(tmp_path):
    from dlproof.testing import ConformanceError, assert_conforms

    with pytest.raises(ConformanceError, match="did not pass"):
        assert_conforms(MUTANTS["fp16_accumulation_f32"].target, properties=["rnn.forward", "lstm.forward", "gru.forward"],
                        profile="dev", report_dir=tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_16_bit_numpy_reference_passes_the_recurrent_chapters(dtype, tmp_path):
    """numpy.float16 / numpy.bfloat16 (accumulate = "float32") pass every recurrent property that runs at 16 bits."""
    from dlproof.properties import arguments
    from dlproof.testing import assert_conforms

    if arguments._bad_in(np.zeros(1, fmt(dtype).dtype), "x", None, 0):
        pytest.skip(f"the harness does not read {dtype} results yet (properties/arguments.py)")
    report = assert_conforms(f"numpy.{dtype}", properties=RECURRENT, profile="dev", report_dir=tmp_path)
    ran = [r for r in report["results"] if r["verdict"] != "not provided"]
    assert len(ran) >= 50 and all(r["verdict"] == "pass" for r in ran)
