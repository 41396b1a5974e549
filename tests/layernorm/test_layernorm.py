"""Layer normalization end to end (no torch): derivations (ln.*), the float64 oracle against a 40-digit mpmath
evaluation and mpmath derivatives, the NumPy reference and its validation, the error model, the properties and
the mutants they must catch (the torch reference and torch.nn.LayerNorm: test_layernorm_torch.py; Keras:
test_layernorm_keras.py)."""
from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp

from dlproof.derivations import oracle_layernorm as O
from dlproof.impl.numpy_ref import layernorm as NL
from dlproof.properties import harness
from dlproof.properties import layernorm as PL
from dlproof.properties.assertions import PropertyFailure
from dlproof.properties.registry import all_properties
from dlproof.properties.strategies import Problem
from dlproof.target import Target

from chapter_checks import chapter_records, check_chapter_records, check_refused
from mutants import layernorm as ML

EXPECTED_STATUS = {
    "ln.forward": "definition", "ln.forward.zero_mean": "proved", "ln.backward.projection": "proved",
    "ln.backward.gamma_beta": "proved", "ln.grad.sum_zero": "proved", "ln.grad.xhat_residual": "proved",
    "ln.invariance.shift": "proved", "ln.invariance.scale": "proved",
}
PROPS = ("ln.forward", "ln.vjp", "ln.grad.sum_zero", "ln.invariance.shift", "ln.invariance.scale")

#: mutant (tests/mutants/layernorm.py) -> the property that must kill it, and the words its diagnosis names
MUTANT_KILLERS = {
    "ln_unbiased_variance": ("ln.forward", "unbiased variance"),
    "ln_eps_outside_sqrt": ("ln.forward", "eps belongs inside the square root"),
    "ln_wrong_axis": ("ln.forward", "over the first axis"),
    "ln_affine_ignored": ("ln.forward", "ignores gamma and beta"),
    "ln_backward_missing_term": ("ln.vjp", "lacks the term -xhat mean(g xhat)"),
}


# ---------------------------------------------------------------- derivations

@pytest.fixture(scope="module")
def ln_records():
    return chapter_records(EXPECTED_STATUS)


def test_every_ln_id_is_registered_and_has_its_status(ln_records):
    check_chapter_records(ln_records, "ln", EXPECTED_STATUS, "05-Batch-Normalization.md")


def test_records_state_their_scope_and_sources(ln_records):
    for sid, rec in ln_records.items():
        assert "F" in rec["scope"]["parameters"] and rec["scope"]["sizes"] == [], sid
        assert {o["scope"]["kind"] for o in rec["obligations"]} == {"general"}, sid
        assert "Ba, Kiros & Hinton (2016)" in rec["citation"]["primary"], sid
        assert "LayerNorm itself is not in the seed" in rec["citation"]["seed"], sid
    # the scale invariance names what it cites, and says it is exact only at eps = 0
    scale = ln_records["ln.invariance.scale"]
    assert any(o["statement"].startswith("bn.scale_invariance (cited)") for o in scale["obligations"])
    assert "exact only at eps = 0" in scale["title"]


def test_the_projection_check_discriminates():
    """The exact route that proves the two-term form leaves wrong forms unproved."""
    from dlproof.derivations import batchnorm as bn
    from dlproof.derivations import layernorm as D

    xj, gj = sp.symbols("x_j g_j", real=True)
    s = D.SD
    chain = gj / s - D.S1 / (D.Fs * s) - D.S2 / (2 * s ** 2) * 2 * (xj - D.MU) / D.Fs
    assert D._q(chain - D.projection_sym(xj, gj)).status == "proved"
    assert D._q(chain - (gj - D.S1 / D.Fs) / s).status != "proved"  # the missing-term mutant's formula
    j = bn._j
    dot = bn._sum(D.projection_sym(D.X[j], D.GAM[j] * D.DY[j]) * D._xhat(j), j)
    assert bn._atom_eq(dot, 0, D.DEFS).status == "undecided"  # not orthogonal to xhat for eps > 0


def test_projection_form_against_explicit_sympy_row():
    """Independently of the symbolic-F route: an explicit row of F = 3 symbols, sp.diff of L = <dy, y>, against
    the two-term form, evaluated to 40 digits at exact rational points."""
    F = 3
    x, g, dy = (sp.symbols(f"{n}1:{F + 1}", real=True) for n in ("x", "gamma", "dy"))
    e = sp.Symbol("epsilon", positive=True)
    mu = sum(x) / F
    var = sum((v - mu) ** 2 for v in x) / F
    s = sp.sqrt(var + e)
    xh = [(v - mu) / s for v in x]
    L = sum(d * (gg * h) for d, gg, h in zip(dy, g, xh))
    gd = [gg * d for gg, d in zip(g, dy)]
    rng = np.random.default_rng(11)
    for _ in range(1):
        pt = {v: sp.Rational(int(rng.integers(-9, 10)), int(rng.integers(1, 5))) for v in (*x, *g, *dy)}
        pt[e] = sp.Rational(1, int(rng.integers(1, 100)))
        for j in range(F):
            form = (gd[j] - sum(gd) / F - xh[j] * sum(a * h for a, h in zip(gd, xh)) / F) / s
            wrong = (gd[j] - sum(gd) / F) / s
            d = sp.diff(L, x[j]).subs(pt)
            assert abs(sp.N(d - form.subs(pt), 40)) < 1e-35
            if sum(a * h for a, h in zip(gd, xh)).subs(pt) != 0:
                assert abs(sp.N(d - wrong.subs(pt), 40)) > 1e-30


# ---------------------------------------------------------------- oracle vs mpmath (independent)

mpmath.mp.dps = 40


def _mp_row(xs, gs, bs, eps):
    F = len(xs)
    mu = mpmath.fsum(xs) / F
    var = mpmath.fsum((v - mu) ** 2 for v in xs) / F
    s = mpmath.sqrt(var + eps)
    return [g * (v - mu) / s + b for v, g, b in zip(xs, gs, bs)]


def _small(seed=0, lead=(2,), F=3, eps=1e-3, affine=True):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(lead + (F,)) * 2 + 1
    g = rng.standard_normal(F) if affine else None
    b = rng.standard_normal(F) if affine else None
    return x, g, b, eps, rng.standard_normal(lead + (F,))


@pytest.mark.parametrize("affine", [True, False])
def test_oracle_matches_mpmath(affine):
    x, g, b, eps, dy = _small(affine=affine)
    F = x.shape[-1]
    gs = [mpmath.mpf(1)] * F if g is None else [mpmath.mpf(float(v)) for v in g]
    bs = [mpmath.mpf(0)] * F if b is None else [mpmath.mpf(float(v)) for v in b]
    e = mpmath.mpf(eps)
    y = O.layernorm(x, g, b, eps)
    vjp = O.layernorm_vjp(x, g, b, eps, dy)
    dg = [mpmath.mpf(0)] * F
    for r in range(x.shape[0]):
        xs = [mpmath.mpf(float(v)) for v in x[r]]
        want = _mp_row(xs, gs, bs, e)
        np.testing.assert_allclose(y[r], [float(v) for v in want], rtol=1e-14, atol=1e-14)
        L = lambda *v: mpmath.fsum(mpmath.mpf(float(d)) * o for d, o in zip(dy[r], _mp_row(list(v), gs, bs, e)))  # noqa: E731
        for j in range(F):
            dxj = mpmath.diff(L, xs, tuple(int(k == j) for k in range(F)))
            assert abs(float(dxj) - vjp["x"][r, j]) <= 1e-12 * (1 + abs(float(dxj)))
        xh = _mp_row(xs, [mpmath.mpf(1)] * F, [mpmath.mpf(0)] * F, e)
        dg = [acc + mpmath.mpf(float(d)) * h for acc, d, h in zip(dg, dy[r], xh)]
    if affine:
        np.testing.assert_allclose(vjp["gamma"], [float(v) for v in dg], rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(vjp["beta"], dy.sum(axis=0), rtol=1e-13, atol=1e-13)
    else:
        assert vjp["gamma"] is None and vjp["beta"] is None


def test_oracle_row_statistics_and_residual():
    """ln.forward.zero_mean and ln.grad.xhat_residual, on the oracle's numbers (independent sums here)."""
    x, g, b, eps, dy = _small(seed=3, lead=(4,), F=5, eps=0.5)
    xh = O.xhat(x, eps)
    var = x.var(axis=-1)
    np.testing.assert_allclose(xh.mean(axis=-1), 0, atol=1e-15)
    np.testing.assert_allclose((xh ** 2).mean(axis=-1), var / (var + eps), rtol=1e-13)
    dx = O.layernorm_vjp(x, g, b, eps, dy)["x"]
    np.testing.assert_allclose(dx.sum(axis=-1), 0, atol=1e-13)
    np.testing.assert_allclose((dx * xh).sum(axis=-1), O.xhat_residual(x, g, eps, dy), rtol=1e-11, atol=1e-14)
    assert np.all(np.abs(O.xhat_residual(x, g, eps, dy)) > 1e-6)  # not orthogonal for eps > 0


def test_scale_invariance_is_exact_only_at_eps_zero():
    x, g, b, _, _ = _small(seed=4, lead=(3,), F=4)
    np.testing.assert_allclose(O.layernorm(4.0 * x, g, b, 0.0), O.layernorm(x, g, b, 0.0), rtol=1e-14, atol=1e-14)
    eps = 0.3
    gap = np.abs(O.layernorm(4.0 * x, g, b, eps) - O.layernorm(x, g, b, eps))
    bound = O.scale_gap_bound(x, g, eps, 4.0)
    assert np.all(gap <= bound * (1 + 1e-12)) and gap.max() > 1e-3  # a real gap, inside the proved bound


# ---------------------------------------------------------------- the NumPy reference

@pytest.mark.parametrize("lead", [(), (1,), (2, 3)])
@pytest.mark.parametrize("affine", [True, False])
def test_numpy_reference_matches_oracle(lead, affine):
    x, g, b, eps, dy = _small(seed=1, lead=lead, F=4, affine=affine)
    y = NL.layernorm(x, g, b, eps)
    np.testing.assert_allclose(y, O.layernorm(x, g, b, eps), rtol=1e-13, atol=1e-14)
    got, want = NL.layernorm_vjp(x, g, b, eps, dy), O.layernorm_vjp(x, g, b, eps, dy)
    np.testing.assert_allclose(got["x"], want["x"], rtol=1e-11, atol=1e-13)
    for k in ("gamma", "beta"):
        if affine:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-12, atol=1e-13)
        else:
            assert got[k] is None


def test_numpy_reference_keeps_float32_and_inputs():
    x, g, b, eps, dy = (a.astype(np.float32) if isinstance(a, np.ndarray) else a for a in _small(lead=(2,)))
    before = [a.copy() for a in (x, g, b, dy)]
    assert NL.layernorm(x, g, b, eps).dtype == np.float32
    out = NL.layernorm_vjp(x, g, b, eps, dy)
    assert all(out[k].dtype == np.float32 for k in ("x", "gamma", "beta"))
    for a, c in zip(before, (x, g, b, dy)):
        np.testing.assert_array_equal(a, c)


def test_single_feature_rows_normalize_to_beta():
    x = np.array([[3.0], [-2.0]])
    np.testing.assert_array_equal(NL.layernorm(x, np.array([2.0]), np.array([0.5]), 1e-5), [[0.5], [0.5]])
    np.testing.assert_array_equal(NL.layernorm_vjp(x, np.array([2.0]), np.array([0.5]), 1e-5, np.ones((2, 1)))["x"], 0.0)


@pytest.mark.parametrize("args, needles", [
    ((np.ones((2, 3)), np.ones(3), None, 1e-5), ("'gamma' and 'beta' should be both given",)),
    ((np.ones((2, 3)), np.ones(2), np.ones(2), 1e-5), ("'gamma'", "(F,) with F = x.shape[-1]")),
    ((np.ones((2, 3)), None, None, -1.0), ("'eps'", ">= 0")),
    ((np.ones((2, 3)), None, None, float("nan")), ("'eps'",)),
    ((np.array([[1.0, np.nan]]), None, None, 1e-5), ("'x' should be finite",)),
    ((np.ones((2, 0)), None, None, 1e-5), ("F >= 1",)),
    ((np.float64(1.0), None, None, 1e-5), ("'x'",)),
    ((np.array([[1.0, 2.0], [3.0, 3.0]]), None, None, 0.0), ("eps' = 0 with a constant row", "(1,)")),
    ((np.ones((2, 3), int), None, None, 1e-5), ("'x'",)),
])
def test_layernorm_refuses_bad_input(args, needles):
    check_refused(NL.layernorm, args, ValueError, "layernorm:", *needles)


def test_layernorm_vjp_refuses_bad_cotangent():
    check_refused(NL.layernorm_vjp, (np.ones((2, 3)), None, None, 1e-5, np.ones((3, 2))), ValueError,
                  "layernorm_vjp:", "'dy'", "x.shape")
    check_refused(NL.layernorm_vjp, (np.ones((2, 3)), None, None, 1e-5, np.full((2, 3), np.inf)), ValueError,
                  "'dy' should be finite")


# ---------------------------------------------------------------- the error model

def test_tolerances_cover_float32_reference_and_are_not_loose():
    """The float32 reference sits inside the model on a hard row (offset 10, var ~ eps); the model is far
    tighter than the float32 mutant-sized errors (the missing-term gradient is outside it)."""
    rng = np.random.default_rng(7)
    x = (10 + np.sqrt(1e-5) * rng.standard_normal((3, 6))).astype(np.float32)
    g, b = rng.standard_normal(6).astype(np.float32), rng.standard_normal(6).astype(np.float32)
    dy = rng.standard_normal((3, 6)).astype(np.float32)
    eps = 1e-5
    t = PL.forward_tol(x, g, b, eps, "float32")
    assert np.all(np.abs(NL.layernorm(x, g, b, eps) - O.layernorm(x, g, b, eps)) <= t)
    tv = PL.vjp_tol(x, g, eps, dy, "float32")
    got, want = NL.layernorm_vjp(x, g, b, eps, dy), O.layernorm_vjp(x, g, b, eps, dy)
    for k in ("x", "gamma", "beta"):
        assert np.all(np.abs(got[k] - want[k]) <= tv[k]), k
    prob = Problem({"x": x, "gamma": g, "beta": b, "dy": dy}, {"eps": eps, "affine": True})
    assert not np.all(np.abs(PL.missing_term_dx(prob) - want["x"]) <= tv["x"])
    t64 = PL.forward_tol(x, g, b, eps, "float64")
    assert np.all(t64 < t * 1e-6)  # the model scales with u


# ---------------------------------------------------------------- properties and mutants

def _target(name, dtype="float64", **caps):
    base = {"layernorm": NL.layernorm, "layernorm_vjp": NL.layernorm_vjp}
    base.update(caps)
    return Target(name=name, dtype=dtype, **base)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_properties_pass_on_the_numpy_reference(dtype, tmp_path):
    props = all_properties()
    for pid in PROPS:
        row = harness.run(props[pid], _target(f"numpy-ln.{dtype}", dtype), "tests", profile="ci", report_dir=tmp_path)
        assert row["verdict"] == "pass", row


def test_every_property_is_registered():
    props = all_properties()
    assert {p for p in props if p.startswith("ln.")} == set(PROPS)
    assert set(props["ln.vjp"].derivations) == {"ln.backward.projection", "ln.backward.gamma_beta"}


@pytest.mark.parametrize("name", sorted(MUTANT_KILLERS))
def test_each_mutant_is_killed_by_its_property_and_named(name, tmp_path):
    pid, words = MUTANT_KILLERS[name]
    target = ML.MUTANTS[name].target
    with pytest.raises(PropertyFailure) as info:
        harness.run(all_properties()[pid], target, f"mutant:{name}", profile="ci", report_dir=tmp_path)
    assert pid in str(info.value) and "but should" in str(info.value)
    assert info.value.part == ("backward" if pid == "ln.vjp" else "forward")
    assert words in (info.value.likely_bug or ""), str(info.value)


def _layernorm_torch_var_style(x, gamma, beta, eps):
    """Layer norm written with the unbiased variance as torch.var / np.var(ddof=1) give it: NaN (0/0) at F = 1."""
    with np.errstate(invalid="ignore", divide="ignore"):
        var = x.var(axis=-1, ddof=1, keepdims=True)
        y = (x - x.mean(axis=-1, keepdims=True)) / np.sqrt(var + eps)
    return y if gamma is None else gamma * y + beta


@pytest.mark.parametrize("pid", ["ln.forward", "ln.invariance.shift", "ln.invariance.scale"])
def test_the_unbiased_variance_nan_at_one_feature_is_named(pid, tmp_path):
    """Shrinking takes the unbiased variance to F = 1, where it is 0/0: the failure is a NaN, and it names the bug."""
    target = _target("ln-unbiased-ddof1", layernorm=_layernorm_torch_var_style)
    with pytest.raises(PropertyFailure) as info:
        harness.run(all_properties()[pid], target, "tests", profile="ci", report_dir=tmp_path)
    assert "non-finite" in str(info.value), str(info.value)
    assert info.value.part == "forward"
    assert "unbiased variance" in (info.value.likely_bug or ""), str(info.value)


def test_a_nan_at_every_size_is_not_blamed_on_the_variance(tmp_path):
    """A NaN also at F = 2 is not the unbiased variance's 0/0: no likely bug is named."""
    def nan_everywhere(x, gamma, beta, eps):
        return np.full_like(x, np.nan)

    with pytest.raises(PropertyFailure) as info:
        harness.run(all_properties()["ln.forward"], _target("ln-nan", layernorm=nan_everywhere), "tests",
                    profile="ci", report_dir=tmp_path)
    assert "non-finite" in str(info.value)
    assert info.value.likely_bug is None, str(info.value)


def test_fixed_size_targets_are_honored():
    """A target that declares layernorm_features / layernorm_affine (a live module) only gets that F and affine."""
    from dataclasses import replace

    def fwd(x, gamma, beta, eps):
        assert x.shape[-1] == 3 and gamma is not None
        return NL.layernorm(x, gamma, beta, eps)
    t = replace(_target("fixed", layernorm=fwd),
                conventions={"restrictions": {"layernorm_features": 3, "layernorm_affine": True}})
    assert PL.fixed(t) == {"F": 3, "affine": True}
    row = harness.run(all_properties()["ln.forward"], t, "fixed", profile="dev")
    assert row["verdict"] == "pass", row


@pytest.mark.parametrize("returned", [lambda x: x.astype(object), lambda x: [[1.0]] * len(x), lambda x: None],
                         ids=["object array", "list", "None"])
def test_a_malformed_output_at_one_feature_is_a_fail_not_a_dlproof_error(returned, tmp_path):
    row = harness.run(all_properties()["ln.forward"], _target("ln-odd", layernorm=lambda x, g, b, eps: returned(x)),
                      "tests", profile="ci", report_dir=tmp_path, raises=False)
    assert row["verdict"] == "fail", row
