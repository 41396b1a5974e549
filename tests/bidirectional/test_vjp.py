"""Bidirectional VJPs (rnn_bi_vjp, lstm_bi_vjp, gru_bi_vjp): the derivation bi.vjp_reversal, the NumPy reference
against float64 central differences of its own forward and against the oracle, input checks, and the property
bi.<kind>.vjp failing on the broken VJPs of tests/mutants/bidirectional.py with the likely bug named."""
import numpy as np
import pytest

from dlproof.derivations import oracle_bidirectional as O
from dlproof.derivations import records as cached_records
from dlproof.impl.numpy_ref import bidirectional as BI
from dlproof.parameters import PARAMS
from dlproof.properties import finite_difference as fd
from dlproof.properties import harness
from dlproof.properties.assertions import PropertyFailure
from dlproof.properties.registry import all_properties

from mutants.base import BASE, code_mutant
from mutants.bidirectional import MUTANTS

T, B, M, N = 3, 2, 2, 2


# ---- the derivation ------------------------------------------------------------------------------------

def test_vjp_reversal_is_proved_for_every_size_without_sized_checks():
    rec = cached_records()["bi.vjp_reversal"]
    assert rec["status"] == "proved", [(o["statement"], o["status"]) for o in rec["obligations"]]
    assert {o["scope"]["kind"] for o in rec["obligations"]} == {"general"}
    assert rec["citation"]["seed"].startswith("seed §") and "Schuster" in rec["citation"]["primary"]


def test_vjp_reversal_machinery_does_not_prove_the_unreversed_cotangent():
    from dlproof.derivations.bidirectional import vjp_reversal_obligations

    statuses = [r.status for _, r, _ in vjp_reversal_obligations(wrong=True)]
    assert statuses[0] == "proved"  # the chain rule does not involve the claim
    assert "proved" not in statuses[1:], statuses


# ---- problems ------------------------------------------------------------------------------------------

def _params(rng, kind, n=N, m=M):
    shape = lambda k: (n, m) if k.startswith("W_x") else (n, n) if k.startswith("W_h") else (n,)  # noqa: E731
    return {k: rng.normal(0, 0.7, shape(k)) for k in PARAMS[kind]}


def _problem(kind, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    k = 2 if kind == "lstm" else 1
    a = {"xs": rng.normal(size=(T, B, M)), "p_f": _params(rng, kind), "p_b": _params(rng, kind),
         "s_f": [rng.normal(0, 0.5, (B, N)) for _ in range(k)], "s_b": [rng.normal(0, 0.5, (B, N)) for _ in range(k)],
         "d_ys": rng.normal(size=(T, B, 2 * N)),
         "d_f": [rng.normal(size=(B, N)) for _ in range(k)], "d_b": [rng.normal(size=(B, N)) for _ in range(k)]}
    cast = lambda v: v.astype(dtype)  # noqa: E731
    return {key: (cast(v) if isinstance(v, np.ndarray) else {kk: cast(vv) for kk, vv in v.items()}
                  if isinstance(v, dict) else [cast(x) for x in v]) for key, v in a.items()}


def _args(kind, q):
    """(xs, state_f, state_b, p_f, p_b, d_ys, d_final_f, d_final_b) as the capability takes them."""
    one = (lambda v: tuple(v)) if kind == "lstm" else (lambda v: v[0])  # noqa: E731
    return q["xs"], one(q["s_f"]), one(q["s_b"]), q["p_f"], q["p_b"], q["d_ys"], one(q["d_f"]), one(q["d_b"])


def _forward(kind, conv):
    if kind == "lstm":
        return BI.lstm_bi
    fn = getattr(BI, f"{kind}_bi")
    key = "activation" if kind == "rnn" else "variant"
    return lambda *a: fn(*a, **{key: conv})


def _loss(kind, q, conv):
    """L(q) = <d_ys, ys> + <d_final_f, final_f> + <d_final_b, final_b> from the NumPy forward."""
    xs, sf, sb, pf, pb, d_ys, df, db = _args(kind, q)
    ys, ff, fb = _forward(kind, conv)(xs, sf, sb, pf, pb)
    ff, fb = (ff, fb) if kind == "lstm" else ((ff,), (fb,))
    return float(np.sum(d_ys * ys) + sum(np.sum(d * f) for d, f in zip(q["d_f"] + q["d_b"], ff + fb)))


CASES = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", None), ("gru", "reset_after"), ("gru", "reset_before")]


def _vjp(mod, kind, conv, *args):
    if kind == "lstm":
        return mod.lstm_bi_vjp(*args)
    key = "activation" if kind == "rnn" else "variant"
    return getattr(mod, f"{kind}_bi_vjp")(*args, **{key: conv})


@pytest.mark.parametrize("kind,conv", CASES)
def test_numpy_matches_central_differences_of_its_own_forward(kind, conv):
    """Every gradient against float64 central differences (h = 1e-6): truncation h^2 |L'''| / 6 ~ 1e-12 and
    rounding ~ u |L| / h ~ 1e-9 for these O(1) problems, so an agreement to 1e-7 is what a correct gradient
    gives and a wrong entry (O(1) here) cannot."""
    q = _problem(kind, seed=1)
    g = _vjp(BI, kind, conv, *_args(kind, q))

    def diff(path):
        def f(v):
            r = {k: (dict(x) if isinstance(x, dict) else list(x) if isinstance(x, list) else x) for k, x in q.items()}
            if len(path) == 1:
                r[path[0]] = v
            else:
                r[path[0]][path[1]] = v
            return _loss(kind, r, conv)
        base = q[path[0]] if len(path) == 1 else q[path[0]][path[1]]
        return fd.gradient(f, base.copy())

    states = ("h0", "c0") if kind == "lstm" else ("h0",)
    np.testing.assert_allclose(g["xs"], diff(("xs",)), rtol=0, atol=1e-7)
    for j, s in enumerate(states):
        np.testing.assert_allclose(g[f"{s}_f"], diff(("s_f", j)), rtol=0, atol=1e-7)
        np.testing.assert_allclose(g[f"{s}_b"], diff(("s_b", j)), rtol=0, atol=1e-7)
    for k in PARAMS[kind]:
        np.testing.assert_allclose(g["params_f"][k], diff(("p_f", k)), rtol=0, atol=1e-7, err_msg=k)
        np.testing.assert_allclose(g["params_b"][k], diff(("p_b", k)), rtol=0, atol=1e-7, err_msg=k)


@pytest.mark.parametrize("kind,conv", CASES)
def test_numpy_equals_the_oracle(kind, conv):
    q = _problem(kind, seed=2)
    got, exp = _vjp(BI, kind, conv, *_args(kind, q)), _vjp(O, kind, conv, *_args(kind, q))
    assert sorted(got) == sorted(exp)
    for k in got:
        if k.startswith("params"):
            for name in PARAMS[kind]:
                np.testing.assert_allclose(got[k][name], exp[k][name], rtol=1e-12, atol=1e-14)
        else:
            np.testing.assert_allclose(got[k], exp[k], rtol=1e-12, atol=1e-14)


def test_the_backward_half_matters_in_time_order():
    """A non-trivial check of the reversal: with d_ys's backward half at one time step only, d xs at the LAST
    step gets a contribution only through the backward half (the forward half cannot see x_{T-1} before t = T-1)."""
    q = _problem("rnn", seed=3)
    q["d_ys"][:] = 0.0
    q["d_ys"][0, :, N:] = 1.0  # the backward output at t = 0 depends on every x_s
    q["d_f"], q["d_b"] = [np.zeros((B, N))], [np.zeros((B, N))]
    g = BI.rnn_bi_vjp(*_args("rnn", q))
    assert np.all(np.abs(g["xs"][-1]) > 0) and not np.any(g["params_f"]["W_x"])
    q["d_ys"][:] = 0.0
    q["d_ys"][-1, :, N:] = 1.0  # the backward output at T-1 depends on x_{T-1} only
    g = BI.rnn_bi_vjp(*_args("rnn", q))
    assert not np.any(g["xs"][:-1]) and np.all(np.abs(g["xs"][-1]) > 0)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_float32_in_float32_out_and_inputs_untouched(kind):
    q = _problem(kind, seed=4, dtype=np.float32)
    before = {k: (v.copy() if isinstance(v, np.ndarray) else {kk: vv.copy() for kk, vv in v.items()}
                  if isinstance(v, dict) else [x.copy() for x in v]) for k, v in q.items()}
    args = _args(kind, q)
    g = BI.lstm_bi_vjp(*args) if kind == "lstm" else getattr(BI, f"{kind}_bi_vjp")(*args)
    assert g["xs"].dtype == np.float32 and all(v.dtype == np.float32 for v in g["params_b"].values())
    for k, v in q.items():
        b = before[k]
        pairs = zip(v.values(), b.values()) if isinstance(v, dict) else zip(v, b) if isinstance(v, list) else [(v, b)]
        assert all(np.array_equal(x, y) for x, y in pairs), k


@pytest.mark.parametrize("fn,change,match", [
    ("rnn_bi_vjp", lambda a: a[:5] + (np.zeros((T, B, N)),) + a[6:],
     r"rnn_bi_vjp: argument 'd_ys' should have shape \(T, B, 2n\) = ys.shape = \(3, 2, 4\), got \(3, 2, 2\)"),
    ("gru_bi_vjp", lambda a: a[:7] + (np.zeros((B, N + 1)),),
     r"gru_bi_vjp: argument 'd_hb' should have shape \(B, n\) = final state shape = \(2, 2\), got \(2, 3\)"),
    ("lstm_bi_vjp", lambda a: a[:6] + (a[6][0],) + a[7:], r"lstm_bi_vjp: argument 'd_final_f' should be a pair"),
    ("rnn_bi_vjp", lambda a: a[:5] + (np.zeros((T, B, 2 * N), np.int64),) + a[6:], r"rnn_bi_vjp: .*'d_ys'"),
    ("gru_bi_vjp", lambda a: (a[0][..., :1],) + a[1:], r"gru_bi_vjp: .*xs"),
])
def test_bad_inputs_raise_a_value_error_naming_the_argument(fn, change, match):
    kind = fn.split("_")[0]
    args = change(_args(kind, _problem(kind)))
    with pytest.raises(ValueError, match=match):
        getattr(BI, fn)(*args)


# ---- the property on broken VJPs -----------------------------------------------------------------------

def _cot_not_reversed(xs, h0_f, h0_b, p_f, p_b, d_ys, d_hf, d_hb):
    """The backward half's VJP fed d_ys[:, :, N:] in forward time (inputs reversed, cotangent not)."""
    from dlproof.impl.numpy_ref.rnn import rnn_vjp

    n = d_ys.shape[-1] // 2
    g_f = rnn_vjp(xs, h0_f, p_f, d_ys[..., :n], d_hf)
    g_r = rnn_vjp(xs[::-1], h0_b, p_b, d_ys[..., n:], d_hb)
    return {"xs": g_f["xs"] + g_r["xs"][::-1], "h0_f": g_f["h0"], "h0_b": g_r["h0"],
            "params_f": g_f["params"], "params_b": g_r["params"]}


def _params_swapped(*args):
    g = BASE.rnn_bi_vjp(*args)
    return {**g, "params_f": g["params_b"], "params_b": g["params_f"]}


BROKEN = {
    "lstm_bi_vjp_not_rereversed": (MUTANTS["lstm_bi_vjp_not_rereversed"].target, "bi.lstm.vjp", "not re-reversed"),
    "gru_bi_vjp_not_rereversed": (MUTANTS["gru_bi_vjp_not_rereversed"].target, "bi.gru.vjp", "not re-reversed"),
    "rnn_bi_vjp_params_swapped": (code_mutant("x", rnn_bi_vjp=_params_swapped).target, "bi.rnn.vjp",
                                  "params_f and params_b swapped"),
    "rnn_bi_vjp_cotangent_not_reversed": (code_mutant("y", rnn_bi_vjp=_cot_not_reversed).target, "bi.rnn.vjp",
                                          "per-step cotangent not reversed"),
}


SLOW = pytest.mark.slow  # Hypothesis searches past T = 1 (where the bug is invisible) and shrinks: ~0.5-2 s each


@pytest.mark.parametrize("name", [pytest.param(n, marks=SLOW) if n.startswith(("lstm", "gru")) else n
                                  for n in sorted(BROKEN)])
def test_property_fails_on_the_broken_vjp_and_names_the_bug(name, tmp_path):
    target, pid, bug = BROKEN[name]
    with pytest.raises(PropertyFailure) as info:
        harness.run(all_properties()[pid], target, "t", profile="dev", report_dir=tmp_path, seed_value=0)
    assert info.value.part == "backward"
    assert bug in (info.value.likely_bug or ""), str(info.value)
    assert "but should" in str(info.value)


@pytest.mark.parametrize("pid", ["bi.rnn.vjp", pytest.param("bi.lstm.vjp", marks=SLOW), pytest.param("bi.gru.vjp", marks=SLOW)])
def test_property_passes_on_the_float32_reference(pid, tmp_path):
    from dlproof.impl.targets import numpy_target

    row = harness.run(all_properties()[pid], numpy_target("float32"), "t", profile="dev", report_dir=tmp_path,
                      seed_value=0)
    assert row["verdict"] == "pass"


def test_a_gradient_failure_whose_forward_is_wrong_too_names_part_both(tmp_path):
    """With the target's own rnn_bi broken as well (the backward half of ys in reversed time), the gradient
    failure says the forward fails on the same example: part "both"."""
    from dataclasses import replace

    fwd = MUTANTS["bi_backward_not_reversed"].target.rnn_bi
    target = replace(MUTANTS["rnn_bi_vjp_not_rereversed"].target, rnn_bi=fwd)
    with pytest.raises(PropertyFailure) as info:
        harness.run(all_properties()["bi.rnn.vjp"], target, "t", profile="dev", report_dir=tmp_path, seed_value=0)
    assert info.value.part == "both" and "bi.rnn.forward fails on this example" in str(info.value)
    with pytest.raises(PropertyFailure) as info:  # the forward alone correct: part "backward"
        harness.run(all_properties()["bi.rnn.vjp"], MUTANTS["rnn_bi_vjp_not_rereversed"].target, "t", profile="dev",
                    report_dir=tmp_path, seed_value=0)
    assert info.value.part == "backward"
