"""Softmax, attention and multi-head attention end to end: derivations (attn.*), the float64 oracle, the NumPy /
torch references, the torch adapters (F.softmax, F.scaled_dot_product_attention, nn.MultiheadAttention), the
properties, and the mutants they must catch."""
from dataclasses import replace
import numpy as np
import pytest

from dlproof.derivations import attention as D
from dlproof.derivations import oracle_attention as oracle
from dlproof.impl.numpy_ref import attention as NA
from dlproof.properties import finite_difference as FD
from dlproof.properties import harness, results
from dlproof.properties.assertions import PropertyFailure
from dlproof.properties.registry import all_properties
from dlproof.target import Target

from mutants import attention as MA
from chapter_checks import chapter_records, check_chapter_records


CAPS = ("softmax", "softmax_vjp", "attention", "attention_vjp", "mha", "mha_vjp")
# issue 15: the softmax results, the attention gradients (symbolic Tq, Tk, d, dv), the Jacobian's PSD form
# (symbolic n), the variance (symbolic d), the causal mask (symbolic Tq, Tk, d, dv: key sums split at i) and the
# multi-head block sum (induction on H at symbolic d_h, one head at symbolic E) hold for every size
EXPECTED_STATUS = {sid: "proved" for sid in D.IDS}
EXPECTED_STATUS.update({"attn.softmax.definition": "definition", "attn.sdpa.forward": "definition",
                        "attn.softmax.jacobian.invertible.refuted": "refuted"})
PROPS = ("attn.softmax.forward", "attn.softmax.shift_invariance", "attn.softmax.vjp", "attn.forward", "attn.vjp",
         "attn.causal", "attn.scale.variance", "attn.mha.forward", "attn.mha.heads", "attn.mha.vjp")


def _target(mod, dtype, name=None, **over):
    caps = {c: getattr(mod, c) for c in CAPS}
    caps.update(over)
    return Target(name=name or f"{mod.__name__} ({dtype})", dtype=dtype, **caps)


# ---------------------------------------------------------------- derivations

@pytest.fixture(scope="module")
def attn_records():
    return chapter_records(EXPECTED_STATUS)


def test_every_attn_id_is_registered_and_has_its_status(attn_records):
    check_chapter_records(attn_records, "attn", EXPECTED_STATUS, "06-Attention-Mechanism.md")



def test_a_wrong_jacobian_is_not_proved_at_symbolic_n():
    """The general (symbolic n) machinery must not prove s_i (delta_ij - s_i) (the mutant transposes one s)."""
    i, j = D.i_, D.j_
    lhs = D.sp.diff(D.s_sym(i), D.XI[j])
    wrong = D.s_sym(i) * (D.sp.KroneckerDelta(i, j) - D.s_sym(i))
    assert D.prove_sum_equal(lhs, wrong, {i: D.n_sym, j: D.n_sym}).status != "proved"
    right = D.s_sym(i) * (D.sp.KroneckerDelta(i, j) - D.s_sym(j))
    assert D.prove_sum_equal(lhs, right, {i: D.n_sym, j: D.n_sym}).status == "proved"
    # a shift that does not cancel: softmax(x + c 1) != 2 softmax(x)
    assert D.prove_sum_equal(D.s_sym(i, D.c_sym), 2 * D.s_sym(i), {i: D.n_sym}).status != "proved"


@pytest.mark.parametrize("which,wrong", [("q", "no_scale"), ("k", "no_scale"), ("q", "dS_transposed"),
                                          ("k", "dS_transposed")])
def test_a_wrong_attention_gradient_is_not_proved_at_symbolic_sizes(which, wrong):
    """dQ, dK without 1/sqrt(d), or with P transposed inside dS, are not proved for symbolic Tq, Tk, d, dv."""
    assert D.grad_entry_proof(which, wrong).status != "proved"


def test_a_wrong_variance_or_form_is_not_proved():
    import sympy as sp

    d = sp.Symbol("d", integer=True, positive=True)
    q, k = sp.IndexedBase("q", real=True), sp.IndexedBase("k", real=True)
    u = D.index("u")
    E2 = D.expect(sp.Sum(q[u] * k[u], (u, 0, d - 1)) ** 2, (q, k))
    assert D.prove_equal(E2, d).status == "proved" and D.prove_equal(E2, d ** 2).status != "proved"
    assert D.expect(sp.Sum(q[u] ** 2, (u, 0, d - 1)) ** 2, (q, k)) is None  # a 4th moment: not determined
    n, i = D.n_sym, D.i_
    v = sp.IndexedBase("v", real=True)
    form = sp.Sum(v[i] * sp.Sum(sp.diff(D.s_sym(i), D.XI[D.l_]) * v[D.l_], (D.l_, 0, n - 1)), (i, 0, n - 1))
    no_mean = sp.Sum(D.s_sym(i) * v[i] ** 2, (i, 0, n - 1))  # the variance without its mean term
    assert D.prove_multisum_equal(form, no_mean, {}).status != "proved"


def test_a_wrong_causal_or_block_formula_is_not_proved():
    """The general machinery of attn.causal.mask and attn.mha.concat must not prove a false variant: a key r = i
    (not masked) does move y_i, the prefix of row i has i + 1 keys (not i, not i + 2), and a head block starting at
    h d_h + 1 is not the concatenation's block."""
    i = D.index("i")
    assert D.causal_zero_grad_proof().status == "proved"
    assert D.causal_zero_grad_proof(first=0).status != "proved"
    assert D.causal_prefix_proof().status == "proved"
    assert D.causal_prefix_proof(wrong_keys=i).status != "proved"
    assert D.causal_prefix_proof(wrong_keys=i + 2).status != "proved"
    assert [r.status for r in D.block_sum_step()] == ["proved", "proved"]
    assert all(r.status != "proved" for r in D.block_sum_step("offset"))


def test_causal_and_concat_at_explicit_sizes():
    """Plain small-size checks (no longer obligations): Tq = Tk = 3, d = dv = 1, d y_i/d k_j = d y_i/d v_j = 0 for
    j > i and != 0 for j = i; E = 4, H = 2: concat(head_0, head_1) W_o^T = sum_h head_h W_o[:, B_h]^T."""
    sp = D.sp
    Q, K, V, _ = D._mats(3, 3, 1, 1)
    Y, P, _ = D.sdpa(Q, K, V, causal=True)
    for i in range(3):
        for j in range(i + 1, 3):
            assert sp.simplify(sp.diff(Y[i, 0], K[j, 0])) == 0 and sp.simplify(sp.diff(Y[i, 0], V[j, 0])) == 0
            assert P[i, j] == 0
        assert sp.simplify(sp.diff(Y[i, 0], V[i, 0])) != 0
    dh, H = 2, 2
    Wo = sp.Matrix(4, 4, lambda i, j: sp.Symbol(f"w{i}{j}", real=True))
    heads = [sp.Matrix(1, dh, lambda _, c: sp.Symbol(f"h{h}{c}", real=True)) for h in range(H)]
    block = sum((heads[h] * Wo[:, h * dh:(h + 1) * dh].T for h in range(H)), sp.zeros(1, 4))
    assert sp.expand(sp.Matrix.hstack(*heads) * Wo.T - block) == sp.zeros(1, 4)


def test_refutation_carries_its_exact_counterexample(attn_records):
    cex = attn_records["attn.softmax.jacobian.invertible.refuted"]["counterexample"]
    assert "det J = 0" in cex["value"] and "log 2" in cex["point"]["x"]


def test_the_gradient_check_discriminates():
    """The exact check that proves dQ refutes the dQ without 1/sqrt(d), and a softmax VJP with diag(s) only."""
    import sympy as sp
    from dlproof.derivations.prove import prove_zero

    s = D.softmax(D.x_sym[:3])
    g = sp.symbols("g1:4", real=True)
    exact = sum(g[i] * sp.diff(s[i], D.x_sym[0]) for i in range(3))
    assert prove_zero(exact - s[0] * g[0], use_simplify=False).status == "refuted"
    Q, K, V, dY = D._mats(2, 2, 2, 1)
    Y, P, _ = D.sdpa(Q, K, V)
    L = sum(dY[i, 0] * Y[i, 0] for i in range(2))
    dQ = D.backward(Q, K, V, dY, P)[0]
    assert prove_zero(sp.diff(L, Q[0, 1]) - dQ[0, 1] * sp.sqrt(2), use_simplify=False).status == "refuted"


# ---------------------------------------------------------------- references vs oracle vs finite differences

def _p(seed=0, B=2, Tq=3, Tk=4, d=3, dv=2, E=6):
    rng = np.random.default_rng(seed)
    return dict(q=rng.standard_normal((B, Tq, d)), k=rng.standard_normal((B, Tk, d)),
                v=rng.standard_normal((B, Tk, dv)), dy=rng.standard_normal((B, Tq, dv)),
                x=rng.standard_normal((2, 3, 5)) * 3, ds=rng.standard_normal((2, 3, 5)),
                query=rng.standard_normal((B, Tq, E)), key=rng.standard_normal((B, Tk, E)),
                value=rng.standard_normal((B, Tk, E)), dY=rng.standard_normal((B, Tq, E)),
                params={n: rng.standard_normal((E, E) if n[0] == "W" else E) / (np.sqrt(E) if n[0] == "W" else 1)
                        for n in oracle.PARAMS})


def test_oracle_gradients_match_finite_differences():
    p = _p(3, B=1, Tq=2, Tk=3, d=2, dv=2, E=4)
    sm = oracle.softmax_vjp(p["x"], p["ds"])
    np.testing.assert_allclose(sm, FD.vjp(oracle.softmax, p["x"], p["ds"]), atol=1e-7)
    g = oracle.attention_vjp(p["q"], p["k"], p["v"], True, p["dy"])
    for n in "qkv":
        def y(a, n=n):
            args = {"q": p["q"], "k": p["k"], "v": p["v"], n: a}
            return oracle.attention(args["q"], args["k"], args["v"], True)
        np.testing.assert_allclose(g[n], FD.vjp(y, p[n], p["dy"]), atol=1e-7)
    assert np.all(g["k"][:, 2] == 0) and np.all(g["v"][:, 2] == 0)  # key 2 is in no row's prefix (Tq = 2)
    G = oracle.mha_vjp(p["query"], p["key"], p["value"], p["params"], 2, False, p["dY"])

    def yw(W):
        return oracle.mha(p["query"], p["key"], p["value"], dict(p["params"], W_k=W), 2, False)
    np.testing.assert_allclose(G["params"]["W_k"], FD.vjp(yw, p["params"]["W_k"], p["dY"]), atol=1e-7)

    def yq(X):
        return oracle.mha(X, p["key"], p["value"], p["params"], 2, False)
    np.testing.assert_allclose(G["query"], FD.vjp(yq, p["query"], p["dY"]), atol=1e-7)


# ---------------------------------------------------------------- validation

_G = _p(5, B=1, Tq=2, Tk=2, d=2, dv=1, E=4)

BAD = [
    ("softmax", (np.ones((2, 0)),), ValueError, "'x' should have every axis of length >= 1"),
    ("softmax", (np.array(1.0),), ValueError, "'x' should have >= 1 dimensions"),
    ("softmax", (np.ones(3, dtype=np.int64),), TypeError, "'x' should have a floating dtype"),
    ("softmax", (np.array([1.0, np.inf]),), ValueError, "'x' should be finite"),
    ("softmax_vjp", (np.ones((2, 3)), np.ones((3, 2))), ValueError, "'ds' should have shape"),
    ("attention", (_G["q"], _G["k"][..., :1], _G["v"], False), ValueError, "'k' should have shape"),
    ("attention", (_G["q"], _G["k"], _G["v"][:, :1], False), ValueError, "'v' should have shape"),
    ("attention", (_G["q"][0], _G["k"], _G["v"], False), ValueError, "'q' should have 3 dimensions"),
    ("attention", (_G["q"], _G["k"], _G["v"], 1), TypeError, "'causal' should be a bool"),
    ("attention", (np.full_like(_G["q"], np.nan), _G["k"], _G["v"], False), ValueError, "'q' should be finite"),
    ("attention_vjp", (_G["q"], _G["k"], _G["v"], False, np.ones((1, 2, 3))), ValueError, "'dy' should have shape"),
    ("mha", (_G["query"], _G["key"], _G["value"], _G["params"], 3, False), ValueError, "'num_heads' should be an int >= 1 dividing E = 4"),
    ("mha", (_G["query"], _G["key"], _G["value"], _G["params"], 2.0, False), TypeError, "'num_heads'"),
    ("mha", (_G["query"], _G["key"][..., :2], _G["value"], _G["params"], 2, False), ValueError, "kdim != E"),
    ("mha", (_G["query"], _G["key"], _G["value"], {"W_q": _G["params"]["W_q"]}, 2, False), ValueError, "'params' is missing"),
    ("mha", (_G["query"], _G["key"], _G["value"], dict(_G["params"], b_o=np.ones(3)), 2, False), ValueError, r"params\['b_o'\]"),
    ("mha", (_G["query"], _G["key"], _G["value"][:, :1], _G["params"], 2, False), ValueError, "'value' should have shape"),
    ("mha_vjp", (_G["query"], _G["key"], _G["value"], _G["params"], 2, False, np.ones((1, 2, 3))), ValueError, "'dy' should have shape"),
]


# ---------------------------------------------------------------- the properties on every target

@pytest.fixture
def quick(monkeypatch):
    """A derandomized profile of 12 examples (the ci profile's draws start the same way)."""
    monkeypatch.setitem(harness.PROFILES, "quick", dict(max_examples=12, derandomize=True))
    return "quick"


def test_numpy_float64_passes_at_the_ci_profile():
    target = _target(NA, "float64")
    for pid in PROPS:
        row = harness.run(all_properties()[pid], target, "numpy", profile="ci")
        assert row["verdict"] == "pass", row


# ---------------------------------------------------------------- mutants

BASE = _target(NA, "float64", name="numpy attention")
MUTANTS = {
    "softmax_no_shift": (dict(softmax=MA.softmax_no_shift), "attn.softmax.forward", "without the max shift"),
    "softmax_no_shift_shift": (dict(softmax=MA.softmax_no_shift), "attn.softmax.shift_invariance", "max shift"),
    "softmax_vjp_diag": (dict(softmax_vjp=MA.softmax_vjp_diag_only), "attn.softmax.vjp", "- s s^T term"),
    "scale_1_over_d": (dict(attention=MA.attention_bug("scale_1_over_d")), "attn.forward", "by 1/d"),
    "scale_1_over_d_variance": (dict(attention=MA.attention_bug("scale_1_over_d")), "attn.scale.variance", "= 1/d"),
    "no_scale": (dict(attention=MA.attention_bug("no_scale")), "attn.forward", "does not scale"),
    "no_scale_variance": (dict(attention=MA.attention_bug("no_scale")), "attn.scale.variance", "no scaling"),
    "mask_diag": (dict(attention=MA.attention_bug("mask_diag")), "attn.forward", "masks row 0 entirely"),
    "mask_plus_one": (dict(attention=MA.attention_bug("mask_plus_one")), "attn.forward", "off by one"),
    "mask_plus_one_causal": (dict(attention=MA.attention_bug("mask_plus_one")), "attn.causal", "may depend only on"),
    "mask_bottom_right": (dict(attention=MA.attention_bug("mask_bottom_right")), "attn.forward", "bottom-right"),
    "mask_bottom_right_causal": (dict(attention=MA.attention_bug("mask_bottom_right")), "attn.causal", "bottom-right"),
    "mask_after_softmax": (dict(attention=MA.attention_bug("mask_after_softmax")), "attn.forward",
                           "after the softmax"),
    "mask_after_softmax_causal": (dict(attention=MA.attention_bug("mask_after_softmax")), "attn.causal",
                                  "may depend only on"),
    "in_proj_kqv": (dict(mha=MA.mha_in_proj_kqv), "attn.mha.heads", "in_proj layout bug"),
    "in_proj_kqv_forward": (dict(mha=MA.mha_in_proj_kqv), "attn.mha.forward", "W_q and W_k blocks"),
    "in_proj_kqv_vjp": (dict(mha_vjp=MA.mha_vjp_in_proj_kqv), "attn.mha.vjp", "dquery"),
    "dq_unscaled": (dict(attention_vjp=MA.attention_vjp_dq_unscaled), "attn.vjp", "1/sqrt(d) of the logits is missing"),
}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_is_caught(name):
    over, pid, hint = MUTANTS[name]
    target = replace(BASE, name=f"mutant: {name}", **over)
    with pytest.raises(PropertyFailure) as info:
        harness.run(all_properties()[pid], target, f"mutant:{name}", profile="ci")
    msg = str(info.value)
    assert target.name in msg and pid in msg and "but should" in msg and hint in msg, msg
    assert results.ROWS[-1]["verdict"] == "fail"


def _softmax_lse(x):
    """softmax as exp(x - logsumexp(x)), logsumexp = max + log sum exp(x - max): off by about u |max| relative."""
    m = x.max(axis=-1, keepdims=True)
    return np.exp(x - (m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True))))


def _softmax_vjp_lse(x, ds):
    s = _softmax_lse(x)
    return s * (ds - np.sum(ds * s, axis=-1, keepdims=True))


@pytest.mark.parametrize("pid, part", [("attn.softmax.forward", "forward"), ("attn.softmax.shift_invariance", "forward"),
                                       ("attn.softmax.vjp", "backward")])
def test_the_logsumexp_softmax_is_named_in_every_softmax_property(pid, part):
    target = replace(BASE, name="softmax via logsumexp", softmax=_softmax_lse, softmax_vjp=_softmax_vjp_lse)
    with pytest.raises(PropertyFailure) as info:
        harness.run(all_properties()[pid], target, "tests", profile="ci")
    assert info.value.part == part, str(info.value)
    assert "exp(x - logsumexp(x))" in (info.value.likely_bug or ""), str(info.value)


def _in_float32(fn):
    """fn run on float32 copies of its array arguments, the results returned as float64 (float32 inside)."""
    def wrapped(*args):
        out = fn(*(a.astype(np.float32) if isinstance(a, np.ndarray) else a for a in args))
        return ({n: g.astype(np.float64) for n, g in out.items()} if isinstance(out, dict)
                else out.astype(np.float64))
    return wrapped


@pytest.mark.parametrize("pid, part", [("attn.forward", "forward"), ("attn.vjp", "backward")])
def test_float32_inside_a_float64_attention_is_named(pid, part):
    """As jax.nn.dot_product_attention, whose softmax always runs in float32."""
    target = replace(BASE, name="attention in float32 inside", attention=_in_float32(NA.attention),
                     attention_vjp=_in_float32(NA.attention_vjp))
    with pytest.raises(PropertyFailure) as info:
        harness.run(all_properties()[pid], target, "tests", profile="ci")
    assert info.value.part == part, str(info.value)
    assert "computes in float32 inside" in (info.value.likely_bug or ""), str(info.value)


def test_the_variance_threshold_is_the_laurent_massart_interval():
    """x = ln(2/alpha): both chi-square tails at e^-x = alpha/2, so the interval's false alarm is alpha."""
    from dlproof.properties import attention as PA

    assert PA.ALPHA == 1e-10 and np.isclose(2 * np.exp(-PA.LOG_TERM), PA.ALPHA, rtol=1e-12)
    assert all_properties()["attn.scale.variance"].max_examples == PA.VARIANCE_EXAMPLES


def test_oracle_softmax_keeps_a_subnormal_entry_where_the_one_over_sum_form_overflows():
    """x = (234.91796875, 945.80078125): s_0 = exp(-710.8828125)/(1 + ...) ~ 1.7e-309 is subnormal but
    representable; the oracle returned 0 and accused a correct softmax_vjp (2.4e-308, the exact value by mpmath)."""
    import mpmath

    from dlproof.derivations import oracle_attention as O

    x = np.array([234.91796875, 945.80078125])
    ds = np.array([14.18354182, 1.22204978])
    with mpmath.workdps(60):
        e = [mpmath.exp(mpmath.mpf(v) - mpmath.mpf(x.max())) for v in x]
        s = [v / sum(e) for v in e]
        r = sum(si * mpmath.mpf(g) for si, g in zip(s, ds))
        exact_s = np.array([float(v) for v in s])
        exact_dx = np.array([float(si * (mpmath.mpf(g) - r)) for si, g in zip(s, ds)])
    assert exact_s[0] > 0 and O.softmax_row(x)[0] > 0
    eta = 2.0 ** -1074
    assert np.all(np.abs(O.softmax_row(x) - exact_s) <= 2 * eta + 2 ** -52 * exact_s)
    assert abs(O.softmax_vjp(x[None], ds[None])[0, 0] - exact_dx[0]) <= 4 * eta + 2 ** -50 * abs(exact_dx[0])
