"""Backpropagation through an MLP: the derivations' statuses, the NumPy / torch references and the torch.nn
adapter against the float64 oracle (explicit Jacobian products) and central differences, input validation,
the properties on every implementation and dtype, and the mutants they must catch.

Expected values come from dlproof.derivations.oracle_backprop (a route different from the implementations:
products of per-layer Jacobians), never from the code under test.
"""
from __future__ import annotations

from dataclasses import replace
from functools import partial

import numpy as np
import pytest

from dlproof.derivations import records as cached_records
from dlproof.derivations import oracle_backprop as O
from dlproof.impl.numpy_ref import backprop as NM
from dlproof.properties import harness, results
from dlproof.properties.assertions import PropertyFailure, TargetRaised
from dlproof.properties.registry import all_properties
from dlproof.target import Target

import mutants_ff as FF

torch = pytest.importorskip("torch")
from dlproof.impl.adapters import torch_nn_backprop as AD  # noqa: E402
from dlproof.impl.torch_ref import backprop as TM  # noqa: E402

ACTS = ("tanh", "sigmoid", "relu")
EXPECTED = {"mlp.forward": "definition", "mlp.backprop.delta": "proved", "mlp.backprop.weight_grad": "proved",
            "mlp.backprop.input_grad": "proved", "mlp.cost.reverse_vs_forward": "proved"}
PROPS = ("mlp.forward", "mlp.vjp", "mlp.vjp.fd", "mlp.vjp.fd_own_dtype")


def _problem(seed=0, widths=(3, 4, 2, 3), B=4, dtype=np.float64):
    rng = np.random.default_rng(seed)
    layers = [(rng.standard_normal((widths[l], widths[l - 1])).astype(dtype), rng.standard_normal(widths[l]).astype(dtype))
              for l in range(1, len(widths))]
    return rng.standard_normal((B, widths[0])).astype(dtype), layers, rng.standard_normal((B, widths[-1])).astype(dtype)


# ---- derivations -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def records():
    return {rid: cached_records()[rid] for rid in EXPECTED}


@pytest.mark.parametrize("rid", sorted(EXPECTED))
def test_derivation_status(records, rid):
    rec = records[rid]
    assert rec["status"] == EXPECTED[rid], [o for o in rec["obligations"] if o["status"] != "proved"]
    assert rec["obligations"] and all(o["status"] == "proved" for o in rec["obligations"])
    assert rec["steps"] and rec["citation"]["seed"].startswith("seed: 深度学习数学模块")


def test_cost_counts_are_the_exact_formula(records):
    from dlproof.derivations.backprop import pass_cost

    assert pass_cost((2, 3, 2, 2)) == 2 * 3 + 3 * 2 + 2 * 2 + 3 + 2  # sum n_l n_{l-1} + hidden scalings
    statements = " ".join(o["statement"] for o in records["mlp.cost.reverse_vs_forward"]["obligations"])
    assert "n_0/n_L" in statements and "m k n" in statements
    assert {o["scope"]["kind"] for o in records["mlp.cost.reverse_vs_forward"]["obligations"]} >= {"base-case",
                                                                                                  "induction-step"}


@pytest.mark.parametrize("widths", [(2, 3, 2, 2), (4, 3, 1), (3, 5, 4, 2, 1)])
def test_instrumented_accumulation_matches_the_proved_count(widths):
    """The instrumented JVP / VJP passes count n_0 C and n_L C multiplies, C the formula the record proves for
    every depth (sum_l n_l n_{l-1} + sum_{l<L} n_l), and both accumulate dy/dx (Matrix.jacobian)."""
    import sympy as sp

    from dlproof.derivations import backprop as B
    from dlproof.derivations.prove import prove_equal

    _, params, zs, acts, _ = B.network(widths)
    x = B.mat("x", widths[0], 1)
    dphis = [[B.phi_prime(z) for z in zl] for zl in zs[:-1]]
    fwd, rev = B._Counter(), B._Counter()
    cols = [B._jvp_pass(fwd, params, dphis, sp.eye(widths[0])[:, c]) for c in range(widths[0])]
    rows = [B._vjp_pass(rev, params, dphis, sp.eye(widths[-1])[:, r]).T for r in range(widths[-1])]
    L = len(widths) - 1
    C = sum(widths[l] * widths[l - 1] for l in range(1, L + 1)) + sum(widths[l] for l in range(1, L))
    assert (fwd.mults, rev.mults) == (widths[0] * C, widths[-1] * C)
    J = acts[-1].jacobian(x)
    assert prove_equal(sp.Matrix.hstack(*cols), J).status == "proved"
    assert prove_equal(sp.Matrix.vstack(*rows), J).status == "proved"


def test_wrong_compact_formulas_are_not_proved_at_symbolic_size():
    """The symbolic-width machinery decides: a recursion without phi', a transposed weight gradient, a cost step
    that forgets the hidden scaling are not proved."""
    import sympy as sp

    from dlproof.derivations import backprop as B
    from dlproof.derivations.indexed import index, prove_entry_equal
    from dlproof.derivations.prove import prove_equal

    i, j = index("i"), index("j")
    zeta, up = sp.MatrixSymbol("z^l", B.nl, 1), B.SymLayer(B.na, B.nl, tag="l+1")
    dnext, k = sp.MatrixSymbol("delta^l+1", B.na, 1), sp.Dummy("k", integer=True)
    vjp = sp.Sum(dnext[k, 0] * sp.diff(up.z(k, a=lambda r: B.phi(zeta[r, 0])), zeta[j, 0]), (k, 0, B.na - 1))
    assert prove_entry_equal(vjp, sp.Sum(up.W[k, j] * dnext[k, 0], (k, 0, B.na - 1)), {j: B.nl}).status != "proved"
    lay, d = B.SymLayer(B.nl, B.nb), sp.MatrixSymbol("delta^l", B.nl, 1)
    dW = sp.Sum(d[k, 0] * sp.diff(lay.z(k, a=lambda r: lay.a[r, 0]), lay.W[i, j]), (k, 0, B.nl - 1))
    assert prove_entry_equal(dW, d[j, 0] * lay.a[i, 0], {i: B.nl, j: B.nb}).status != "proved"
    L, l, w = sp.Symbol("L", integer=True, positive=True), sp.Symbol("l", integer=True), sp.IndexedBase("n")
    a_mv, a_sc = sp.Sum(w[l] * w[l - 1], (l, 1, L + 1)), sp.Sum(w[l], (l, 1, L))
    C = sp.Sum(w[l] * w[l - 1], (l, 1, L)) + sp.Sum(w[l], (l, 1, L - 1))
    assert prove_equal(B._peel(a_mv) + B._peel(a_sc), C + w[L + 1] * w[L]).status != "proved"


# ---- implementations vs the oracle and finite differences -----------------------------------------------

IMPLS = {"numpy": (NM.mlp, NM.mlp_vjp), "torch": (TM.mlp, TM.mlp_vjp),
         "torch.nn": (AD.mlp, AD.mlp_vjp)}


@pytest.mark.parametrize("impl", sorted(IMPLS))
@pytest.mark.parametrize("act", ACTS)
def test_impl_matches_oracle(impl, act):
    fwd, vjp = IMPLS[impl]
    x, layers, dy = _problem(1)
    np.testing.assert_allclose(fwd(x, layers, act), O.mlp_forward(x, layers, act), rtol=1e-12, atol=1e-13)
    got, exp = vjp(x, layers, act, dy), O.mlp_vjp(x, layers, act, dy)
    np.testing.assert_allclose(got["x"], exp["x"], rtol=1e-11, atol=1e-12)
    assert isinstance(got["layers"], list) and all(isinstance(p, tuple) for p in got["layers"])
    for (dW, db), (eW, eb) in zip(got["layers"], exp["layers"]):
        np.testing.assert_allclose(dW, eW, rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(db, eb, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("act", ACTS)
def test_oracle_matches_central_differences(act):
    x, layers, dy = _problem(2)
    g = O.mlp_vjp(x, layers, act, dy)
    eps = 1e-6

    def L(xx, ll):
        return float(np.sum(dy * O.mlp_forward(xx, ll, act)))

    for (l, j), (i, k) in (((0, 0), (1, 2)), ((2, 1), (0, 1))):
        Wp = [(W.copy(), b.copy()) for W, b in layers]
        Wm = [(W.copy(), b.copy()) for W, b in layers]
        Wp[l][0][i, k] += eps
        Wm[l][0][i, k] -= eps
        assert (L(x, Wp) - L(x, Wm)) / (2 * eps) == pytest.approx(g["layers"][l][0][i, k], rel=1e-6, abs=1e-8)
    xp, xm = x.copy(), x.copy()
    xp[1, 2] += eps
    xm[1, 2] -= eps
    assert (L(xp, layers) - L(xm, layers)) / (2 * eps) == pytest.approx(g["x"][1, 2], rel=1e-6, abs=1e-8)


def test_oracle_jacobian_is_the_layer_product():
    x, layers, _ = _problem(3, widths=(2, 3, 2))
    J = O.mlp_jacobian(x, layers, "tanh")
    W1, b1 = layers[0]
    W2 = layers[1][0]
    for b in range(x.shape[0]):
        z = W1 @ x[b] + b1
        np.testing.assert_allclose(J[b], W2 @ np.diag(1 - np.tanh(z) ** 2) @ W1, rtol=1e-13)


@pytest.mark.parametrize("impl", sorted(IMPLS))
def test_float32_in_float32_out_and_inputs_unchanged(impl):
    fwd, vjp = IMPLS[impl]
    x, layers, dy = _problem(4, dtype=np.float32)
    before = [x.copy()] + [a.copy() for p in layers for a in p]
    kw = {"dtype": "float32"} if impl == "torch.nn" else {}
    assert fwd(x, layers, "relu", **kw).dtype == np.float32
    out = vjp(x, layers, "relu", dy, **kw)
    assert out["x"].dtype == np.float32 and all(a.dtype == np.float32 for p in out["layers"] for a in p)
    for a, b in zip(before, [x] + [a for p in layers for a in p]):
        np.testing.assert_array_equal(a, b)


def test_relu_derivative_at_zero_is_zero():
    layers = [(np.eye(2), np.zeros(2)), (np.ones((1, 2)), np.zeros(1))]
    x, dy = np.array([[0.0, 1.0]]), np.ones((1, 1))
    for vjp in (NM.mlp_vjp, TM.mlp_vjp, AD.mlp_vjp):
        np.testing.assert_array_equal(vjp(x, layers, "relu", dy)["x"], [[0.0, 1.0]])


# ---- input validation ----------------------------------------------------------------------------------

def _bad_cases():
    x, layers, dy = _problem(5)
    W2_bad = [layers[0], (np.ones((2, 5)), np.ones(2))]
    return [
        ("x", (x[0], layers, "tanh"), ValueError, "argument 'x' should have 2 dimension"),
        ("act", (x, layers, "gelu"), ValueError, "argument 'activation' should be one of"),
        ("empty", (x, [], "tanh"), ValueError, "at least one"),
        ("width", (x, W2_bad, "tanh"), ValueError, "argument 'layers[1][0]' should have shape (n_l, 4)"),
        ("bias", (x, [(layers[0][0], np.ones(3))], "tanh"), ValueError, "argument 'layers[0][1]' should have shape (4,)"),
        ("nan", (np.where(x > 0, np.nan, x), layers, "tanh"), ValueError, "argument 'x' should be finite"),
        ("int", (x.astype(int), layers, "tanh"), TypeError, "floating dtype"),
        ("pair", (x, [layers[0][0]], "tanh"), TypeError, "argument 'layers[0]' should be a tuple (W, b)"),
    ]


@pytest.mark.parametrize("case", _bad_cases(), ids=lambda c: c[0])
@pytest.mark.parametrize("impl", sorted(IMPLS))
def test_bad_input_is_refused_clearly(impl, case):
    _, args, exc, msg = case
    fwd, _ = IMPLS[impl]
    with pytest.raises(exc) as info:
        fwd(*args)
    assert msg in str(info.value) and "mlp" in str(info.value)


@pytest.mark.parametrize("impl", sorted(IMPLS))
def test_bad_cotangent_is_refused(impl):
    _, vjp = IMPLS[impl]
    x, layers, dy = _problem(6)
    with pytest.raises(ValueError, match="argument 'dy' should have the output's shape"):
        vjp(x, layers, "tanh", dy[:, :1])


# ---- the properties on every implementation, and the mutants ---------------------------------------------

def _target(name, dtype, fwd, vjp):
    return Target(name=name, dtype=dtype, mlp=fwd, mlp_vjp=vjp)


TARGETS = {
    "numpy": _target("numpy-mlp", "float64", NM.mlp, NM.mlp_vjp),
    "numpy.float32": _target("numpy-mlp.float32", "float32", NM.mlp, NM.mlp_vjp),
    "torch.float32": _target("torch-mlp.float32", "float32", TM.mlp, TM.mlp_vjp),
    "torch.nn": _target("torch.nn-mlp", "float64", partial(AD.mlp, dtype="float64"), partial(AD.mlp_vjp, dtype="float64")),
    "torch.nn.float32": _target("torch.nn-mlp.float32", "float32", partial(AD.mlp, dtype="float32"),
                                partial(AD.mlp_vjp, dtype="float32")),
}


@pytest.mark.parametrize("spec", sorted(TARGETS))
def test_properties_pass(spec, tmp_path):
    props = all_properties()
    for pid in PROPS:
        row = harness.run(props[pid], TARGETS[spec], spec, profile="ci", report_dir=tmp_path)
        assert row["verdict"] == "pass", row


BASE = TARGETS["numpy"]
MUTANTS = {
    "no_dphi": (replace(BASE, name="mlp-no-dphi", mlp_vjp=FF.mlp_vjp_bug("no_dphi")), "mlp.vjp", "dW_"),
    "phi_not_dphi": (replace(BASE, name="mlp-phi-not-dphi", mlp_vjp=FF.mlp_vjp_bug("phi_not_dphi")), "mlp.vjp", "dW_"),
    "transposed": (replace(BASE, name="mlp-dW-transposed", mlp_vjp=FF.mlp_vjp_bug("transposed")), "mlp.vjp", "dW_"),
    "a_l": (replace(BASE, name="mlp-dW-a_l", mlp_vjp=FF.mlp_vjp_bug("a_l")), "mlp.vjp", "dW_"),
    "last_activated": (replace(BASE, name="mlp-last-activated", mlp=FF.mlp_last_activated), "mlp.forward",
                       "applied to the last layer's output"),
}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_is_caught(name, tmp_path):
    target, pid, hint = MUTANTS[name]
    with pytest.raises((PropertyFailure, TargetRaised)) as info:
        harness.run(all_properties()[pid], target, f"tests:{name}", profile="ci", report_dir=tmp_path)
    msg = str(info.value)
    assert target.name in msg and pid in msg and "but should" in msg and hint in msg, msg
    assert results.ROWS[-1]["verdict"] == "fail"
