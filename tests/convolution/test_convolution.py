"""Convolutional layers end to end: derivations (conv.*), the float64 oracle, the NumPy / torch references, the
torch.nn.Conv1d / Conv2d adapter, the properties, and the mutants they must catch."""
from dataclasses import replace
import numpy as np
import sympy as sp
import pytest

from dlproof.derivations import convolution as D
from dlproof.derivations import oracle_convolution as oracle
from dlproof.derivations import registry
from dlproof.derivations.prove import prove_zero
from dlproof.impl.numpy_ref import convolution as NC
from dlproof.properties import finite_difference as FD
from dlproof.properties import harness, results
from dlproof.properties.assertions import PropertyFailure, TargetRaised
from dlproof.properties.registry import all_properties
from dlproof.target import Target

from mutants import convolution as MC
from chapter_checks import chapter_records, check_chapter_records


EXPECTED_STATUS = {
    "conv.cross_correlation": "definition", "conv.true_convolution_flip": "proved",
    "conv.true_convolution.refuted": "refuted", "conv.output_size": "proved", "conv.param_count": "proved",
    "conv.groups.block_diagonal": "proved", "conv.grad_input": "proved",
    "conv.grad_input.strided": "proved",
    "conv.grad_input.unflipped.refuted": "refuted", "conv.grad_input.undilated.refuted": "refuted",
    "conv.grad_weight": "proved", "conv.grad_bias": "proved", "conv.equivariance": "proved",
    "conv.equivariance.stride.refuted": "refuted", "conv.receptive_field": "proved",
}
PROPS = ("conv1d.forward", "conv2d.forward", "conv1d.vjp", "conv2d.vjp", "conv.output_size", "conv.equivariance",
         "conv.receptive_field")
CAPS = ("conv1d", "conv1d_vjp", "conv2d", "conv2d_vjp")


# ---------------------------------------------------------------- derivations

@pytest.fixture(scope="module")
def conv_records():
    return chapter_records(EXPECTED_STATUS)


def test_every_conv_id_is_registered_and_has_its_status(conv_records):
    check_chapter_records(conv_records, "conv", EXPECTED_STATUS, "08-Convolutional-Networks.md")



def test_the_gradient_checks_discriminate():
    """The exact checks behind conv.grad_input* refute the unflipped kernel and the undilated dy."""
    L = D.layer((1, 4), (1, 1, 2))
    dy = D.cotangent(L)
    Lf = D.loss(D.forward(L), dy)
    wrong = D.input_grad(L, dy, flipped=False)
    assert prove_zero(sp.expand(sp.diff(Lf, L.x[(0, 0)]) - wrong[(0, 0)]), use_simplify=False).status == "refuted"
    L = D.layer((1, 5), (1, 1, 2), s=2)
    dy = D.cotangent(L)
    Lf = D.loss(D.forward(L), dy)
    wrong = D.input_grad(L, dy, dilate=False)
    assert prove_zero(sp.expand(sp.diff(Lf, L.x[(0, 1)]) - wrong[(0, 1)]), use_simplify=False).status == "refuted"


def test_receptive_field_induction_is_general_and_rejects_a_wrong_step():
    """conv.receptive_field rests on a base case and a step at symbolic L; a wrong increment is not proved."""
    rec = registry.run_spec(registry.specs()["conv.receptive_field"])
    kinds = {o["scope"]["kind"] for o in rec["obligations"]}
    assert kinds == {"base-case", "induction-step"} and rec["status"] == "proved"
    from sympy.series.limitseq import difference_delta
    from dlproof.derivations.prove import prove_equal
    L = sp.Symbol("L", integer=True, nonnegative=True)
    l, i = sp.symbols("l i", integer=True, positive=True)
    k, s, d = (sp.IndexedBase(c, positive=True) for c in "ksd")
    closed = 1 + sp.Sum((k[l] - 1) * d[l] * sp.Product(s[i], (i, 1, l - 1)), (l, 1, L))
    wrong = (k[L + 1] - 1) * d[L + 1] * sp.Product(s[i], (i, 1, L + 1))  # j_{L+1} instead of j_L
    assert prove_equal(difference_delta(closed, L), wrong).status != "proved"


def test_symbolic_records_are_general():
    """The layer records are proved for every size: every obligation has the general scope."""
    for sid in ("conv.true_convolution_flip", "conv.groups.block_diagonal", "conv.grad_input", "conv.grad_input.strided",
                "conv.grad_weight", "conv.grad_bias", "conv.equivariance"):
        rec = registry.run_spec(registry.specs()[sid])
        assert {o["scope"]["kind"] for o in rec["obligations"]} == {"general"}, sid


def test_symbolic_machinery_rejects_wrong_formulas():
    """At symbolic sizes: the unflipped kernel, the undilated dy and a dropped padding offset are not proved."""
    S = D.SymLayer(1)
    h, e, u, bnd = S.free_x()
    o, k = D.index("o"), D.index("k'")
    grad = sp.diff(S.loss(), S.x[h, e, u[0]])
    p, d, K = S.p[0], S.d[0], S.K[0]

    def dx(q):
        return sp.Sum(S.w[h, o, e, k] * S.dy_up(h, o, [q]), (o, 0, S.Cog - 1), (k, 0, K - 1))

    assert D.prove_conv_equal(grad, dx(u[0] + p - d * k), bnd).status == "proved"
    assert D.prove_conv_equal(grad, dx(u[0] + p + d * k - d * (K - 1)), bnd).status != "proved"   # no flip
    assert D.prove_conv_equal(grad, dx(u[0] - d * k), bnd).status != "proved"                     # padding dropped
    undilated = sp.Sum(S.w[h, o, e, k] * S.dy[h, o, u[0] + p - d * k], (o, 0, S.Cog - 1), (k, 0, K - 1))
    assert D.prove_conv_equal(grad, undilated, bnd).status != "proved"                           # dy not dilated
    # a wrong bracket is not dropped: [u - 1 >= 0] is not implied by u in [0, n - 1]
    assert D.prove_conv_equal(S.x[h, e, u[0]] * D.ind(u[0] - 1), S.x[h, e, u[0]], bnd).status != "proved"


def test_symbolic_route_agrees_with_explicit_layers():
    """The old explicit-size checks, kept as a test: sp.diff of the explicit layer equals the derived dx."""
    for cfg in (dict(xshape=(2, 5), wshape=(2, 2, 3), p=1), dict(xshape=(2, 7), wshape=(1, 2, 2), s=3, p=1, d=2),
                dict(xshape=(1, 3, 4), wshape=(1, 1, 2, 2), s=(2, 1), p=(0, 1))):
        L = D.layer(**cfg)
        dy = D.cotangent(L)
        Lf = D.loss(D.forward(L), dy)
        dx = D.input_grad(L, dy)
        assert all(sp.expand(sp.diff(Lf, L.x[key]) - dx[key]) == 0 for key in L.x), cfg


def test_param_count_layers_use_every_parameter():
    assert D._param_count_used_symbols() == []


def test_output_size_formula_counts_the_fitting_windows():
    import itertools
    for n, k, p, st, d in itertools.product(range(1, 13), range(1, 5), range(0, 4), range(1, 5), range(1, 4)):
        count = sum(1 for i in range(n + 2 * p + 1) if i * st + d * (k - 1) <= n + 2 * p - 1)
        E = n + 2 * p - d * (k - 1) - 1
        assert count == (E // st + 1 if E >= 0 else 0)


def test_oracle_forward_is_the_derivation_definition():
    """The oracle's shift-and-add equals the symbolic layer of conv.cross_correlation at rational points."""
    L = D.layer((4, 5, 4), (2, 2, 2, 3), s=(2, 1), p=(1, 2), d=(1, 2), G=2)
    rng = np.random.default_rng(0)
    vals = {s: sp.Rational(int(v), 7) for s, v in zip([*L.x.values(), *L.w.values(), *L.b],
                                                      rng.integers(-20, 20, len(L.x) + len(L.w) + len(L.b)))}
    x = np.array([float(vals[L.x[k]]) for k in sorted(L.x)]).reshape((1,) + L.xshape)
    w = np.array([float(vals[L.w[k]]) for k in sorted(L.w)]).reshape(L.wshape)
    b = np.array([float(vals[v]) for v in L.b])
    y = oracle.forward(x, w, b, L.s, L.p, L.d, L.G)
    sym = D.forward(L)
    want = np.array([float(sym[k].xreplace(vals)) for k in sorted(sym)]).reshape(y.shape)
    np.testing.assert_allclose(y, want, rtol=1e-13, atol=1e-13)


def test_receptive_field_formula_and_dependence():
    assert oracle.receptive_field((3, 3, 3), (1, 1, 1), (1, 1, 1)) == (7, 1)
    assert oracle.receptive_field((3, 2, 2), (1, 2, 1), (1, 1, 2)) == (8, 2)
    rng = np.random.default_rng(1)
    for _ in range(50):
        layers = [(int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.integers(0, 2)), int(rng.integers(1, 3)))
                  for _ in range(int(rng.integers(2, 4)))]
        n0 = 20
        Dp, S = oracle.dependence(n0, layers), oracle.span(n0, layers)
        assert Dp.shape == S.shape and np.all(~Dp | S)  # the dependence lies in the derived span


# ---------------------------------------------------------------- references vs oracle vs finite differences

CASES = [
    dict(nd=1, B=2, Cin=4, Cout=2, n=(7,), K=(3,), s=(2,), p=(1,), d=(2,), G=2, bias=True),
    dict(nd=1, B=1, Cin=2, Cout=3, n=(5,), K=(2,), s=(1,), p=(2,), d=(1,), G=1, bias=False),
    dict(nd=2, B=2, Cin=2, Cout=2, n=(5, 6), K=(2, 3), s=(2, 1), p=(1, 0), d=(1, 2), G=2, bias=True),
    dict(nd=2, B=1, Cin=3, Cout=2, n=(4, 4), K=(3, 3), s=(3, 2), p=(2, 1), d=(1, 1), G=1, bias=True),
]


def _case(c, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((c["B"], c["Cin"]) + c["n"])
    w = rng.standard_normal((c["Cout"], c["Cin"] // c["G"]) + c["K"])
    b = rng.standard_normal(c["Cout"]) if c["bias"] else None
    outs = oracle.sizes(c["n"], c["K"], c["s"], c["p"], c["d"])
    dy = rng.standard_normal((c["B"], c["Cout"]) + outs)
    one = (lambda v: v[0]) if c["nd"] == 1 else (lambda v: v)
    return x, w, b, dy, (one(c["s"]), one(c["p"]), one(c["d"]), c["G"]), (c["s"], c["p"], c["d"], c["G"])


def _fd(x, w, b, dy, geom):
    """Central differences of L = <dy, y> through the oracle's forward, per argument (b when there is one)."""
    base = {"x": x, "w": w, "b": b}

    def y(**over):
        a = {**base, **over}
        return oracle.forward(a["x"], a["w"], a["b"], *geom)

    return {name: FD.vjp(lambda v, name=name: y(**{name: v}), arr, dy) for name, arr in base.items() if arr is not None}


@pytest.mark.parametrize("ci", [0, 2])
def test_oracle_vjp_matches_finite_differences(ci):
    c = CASES[ci]
    x, w, b, dy, _, geom = _case(c, ci)
    want, fd = oracle.vjp(x, w, b, *geom, dy), _fd(x, w, b, dy, geom)
    for k in fd:
        np.testing.assert_allclose(want[k], fd[k], rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------- validation

_X, _W, _B, _DY = np.ones((1, 4, 6)), np.ones((2, 2, 3)), np.ones(2), np.ones((1, 2, 4))

BAD = [
    (dict(x=np.ones((4, 6))), ValueError, "'x' should have 3 dimensions"),
    (dict(x=np.ones((1, 4, 6), dtype=np.int64)), ValueError, "'x' should have a floating dtype"),
    (dict(w=np.ones((2, 3, 3))), ValueError, r"'w' should have shape .* C_in/groups = 4/2 = 2"),
    (dict(groups=3), ValueError, "'groups' = 3 should divide C_in"),
    (dict(w=np.ones((3, 2, 3))), ValueError, "should divide C_in = x.shape.1. = 4 and C_out = w.shape.0. = 3"),
    (dict(b=np.ones(3)), ValueError, "'b' should have shape"),
    (dict(w=np.ones((2, 2, 9))), ValueError, "empty output"),
    (dict(x=np.ones((1, 4, 2)), dilation=2, padding=0), ValueError, "empty output"),
    (dict(stride=0), ValueError, "'stride' should be an int >= 1"),
    (dict(stride=1.5), TypeError, "'stride' should be an int"),
    (dict(padding=-1), ValueError, "'padding' should be an int >= 0"),
    (dict(dilation=True), TypeError, "'dilation' should be an int"),
    (dict(groups=0), ValueError, "'groups' should be an int >= 1"),
    (dict(x=np.full((1, 4, 6), np.nan)), ValueError, "'x' should be finite"),
    (dict(w=np.full((2, 2, 3), np.inf)), ValueError, "'w' should be finite"),
]


def _call(fn, over, with_dy=False):
    kw = dict(x=_X, w=_W, b=_B, stride=1, padding=0, dilation=1, groups=2, dy=_DY)
    kw.update(over)
    args = [kw[k] for k in ("x", "w", "b", "stride", "padding", "dilation", "groups")]
    return fn(*args, kw["dy"]) if with_dy else fn(*args)


# ---------------------------------------------------------------- parameter count vs the module


# ---------------------------------------------------------------- the properties on the targets

def _target(name, dtype, caps):
    return Target(name=name, dtype=dtype, **caps)


# ---------------------------------------------------------------- mutants

MUTANTS = {
    "no_flip_grad": ("conv1d.vjp", "gradient without the kernel flip"),
    "true_convolution": ("conv1d.forward", "true convolution (kernel flipped)"),
    "one_sided_padding": ("conv.output_size", "output size floor((n + 2p - d(k-1) - 1)/s) + 1"),
    "stride_ignored_in_dx": ("conv1d.vjp", "dx"),
    "groups_ignored": ("conv1d.forward", "(groups ignored)"),
    "dilation_ignored": ("conv1d.forward", "conv1d y"),
    "dilation_on_input": ("conv2d.forward", "conv2d"),
    "dw_unpadded": ("conv1d.vjp", "dw"),
    "dw_transposed": ("conv2d.vjp", "dw"),
}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_is_caught(name):
    pid, hint = MUTANTS[name]
    target = _target(f"mutant: {name}", "float64", MC.BUILDERS[name]())
    with pytest.raises(PropertyFailure) as info:
        harness.run(all_properties()[pid], target, f"mutant:{name}", profile="ci")
    msg = str(info.value)
    assert target.name in msg and pid in msg and "but should" in msg and hint in msg, msg
    assert results.ROWS[-1]["verdict"] == "fail"


def test_one_sided_padding_is_named_by_the_forward_too():
    target = _target("mutant: one-sided padding", "float64", MC.one_sided_padding())
    with pytest.raises(PropertyFailure, match=r"output shape: = .*but should be .*output size floor"):
        harness.run(all_properties()["conv1d.forward"], target, "mutant", profile="ci")


def test_a_raising_target_is_an_error_not_a_pass():
    def boom(*a):
        raise RuntimeError("no")

    target = replace(_target("numpy conv", "float64", {c: getattr(NC, c) for c in CAPS}), name="raises", conv1d=boom)
    with pytest.raises(TargetRaised):
        harness.run(all_properties()["conv1d.forward"], target, "raises", profile="ci")
