"""Soundness corpus: statements that look true numerically but are false or undecidable never come back
"proved", under several PYTHONHASHSEED values; true statements still are proved (the prover is not sound
by refusing everything); the whole registry gets identical statuses under two hash seeds (slow).

Each corpus entry is ``(name, call)``: ``call()`` returns a `ProofResult`. The corpus runs once per hash
seed in one subprocess (this module's ``__main__``), which prints ``name<TAB>status`` lines.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import pytest
import sympy as sp


def corpus():
    """The false/undecidable statements (must never be proved) and the true ones (must be proved)."""
    from dlproof.derivations.functions import relu, sigmoid
    from dlproof.derivations.prove import combine, prove_equal, prove_positive, prove_true, prove_zero

    R = sp.Rational
    x, y = sp.symbols("x y", real=True)
    p = sp.Symbol("p", positive=True)
    u, v, w = sp.symbols("u v w")  # complex
    n = sp.Symbol("n", integer=True, positive=True)
    tiny = sp.acosh(1 + R(1, 10 ** 9))  # about 4.5e-5; SymPy's 2-digit evalf says 0
    near = sp.pi - R(355, 113)  # about -2.7e-7
    e50 = sp.exp(-50)
    false = [
        ("acosh-zero", lambda: prove_zero(tiny)),
        ("acosh-positive", lambda: prove_positive(R(1, 10 ** 6) - tiny)),
        ("acosh-le", lambda: prove_true(sp.Le(tiny, 0))),
        ("acosh-le-unevaluated", lambda: prove_true(sp.Le(tiny, 0, evaluate=False))),
        ("acosh-eq", lambda: prove_true(sp.Eq(tiny, 0, evaluate=False))),
        ("acos-zero", lambda: prove_zero(sp.acos(R(7823207, 7823209)))),
        ("acos-nonpositive", lambda: prove_true(sp.Le(sp.acos(R(7823207, 7823209)), 0))),
        ("pi-355/113-zero", lambda: prove_zero(near)),
        ("pi-355/113-positive", lambda: prove_positive(near)),
        ("pi-355/113-ge", lambda: prove_true(sp.Ge(sp.pi, R(355, 113)))),
        ("pi-355/113-max", lambda: prove_zero(sp.Max(near, 0) - near)),
        ("exp-50-zero", lambda: prove_zero(e50)),
        ("exp-50-negative", lambda: prove_positive(-e50)),
        ("exp-50-le", lambda: prove_true(sp.Le(e50, 0))),
        ("exp-50-sum", lambda: prove_zero(1 + e50 - 1 - e50 + sp.exp(-60))),
        ("sigmoid-float32", lambda: prove_positive(1 - 1 / (1 + sp.exp(-R(9085219, 2 ** 19))) - R(1, 10 ** 7))),
        ("tanh-near-1", lambda: prove_zero(sp.tanh(20) - 1)),
        ("log1p-tiny", lambda: prove_zero(sp.log(1 + R(1, 10 ** 30)))),
        ("sqrt-near", lambda: prove_zero(sp.sqrt(10 ** 20 + 1) - 10 ** 10)),
        ("sin-pi-approx", lambda: prove_zero(sp.sin(R(355, 113)))),
        ("e-approx", lambda: prove_zero(sp.E - R(2721, 1001))),
        ("float-cancel", lambda: prove_zero(sp.Add(sp.Float(1), sp.Float("1e-30"), -1, evaluate=False))),
        ("float-identity", lambda: prove_zero(sp.Float("0.1") * 3 - sp.Float("0.3"))),
        ("float-positive", lambda: prove_positive(sp.Float("1e-30"))),
        ("sqrt-x2", lambda: prove_zero(sp.sqrt(x ** 2) - x)),
        ("log-exp-complex", lambda: prove_zero(sp.log(sp.exp(u)) - u)),
        ("log-square-real", lambda: prove_zero(sp.log(x ** 2) - 2 * sp.log(x))),
        ("power-product", lambda: prove_zero((u * v) ** w - u ** w * v ** w)),
        ("power-power-complex", lambda: prove_zero((sp.exp(u) ** y) ** v - sp.exp(u) ** (y * v))),
        ("power-power-real-base", lambda: prove_zero((x ** 2) ** R(1, 2) - x)),
        ("sqrt-product", lambda: prove_zero(sp.sqrt(u * v) - sp.sqrt(u) * sp.sqrt(v))),
        ("log-product", lambda: prove_zero(sp.log(u * v) - sp.log(u) - sp.log(v))),
        ("complex-pow-half", lambda: prove_zero((u ** 2) ** R(1, 2) - u)),
        ("abs-x", lambda: prove_zero(sp.Abs(x) - x)),
        ("sign-x", lambda: prove_zero(sp.sign(x) - 1)),
        ("floor-x", lambda: prove_zero(sp.floor(x) - x)),
        ("max-x", lambda: prove_zero(sp.Max(x, 0) - x)),
        ("relu-x", lambda: prove_zero(relu(x) - x)),
        ("piecewise", lambda: prove_zero(sp.Piecewise((x, x > 0), (0, True)) - x)),
        ("abs-positive", lambda: prove_positive(sp.Abs(x))),
        ("x2-positive", lambda: prove_positive(x ** 2)),
        ("ge-square-minus", lambda: prove_true(sp.Ge(x ** 2 - R(1, 10 ** 12), 0))),
        ("x-positive", lambda: prove_positive(x)),
        ("removable-nan", lambda: prove_zero(((x ** 2 - 1) / (x - 1)).subs(x, 1) - 2)),
        ("sinc-at-zero", lambda: prove_zero(sp.sin(x) / x - 1)),
        ("zoo", lambda: prove_zero(sp.zoo)),
        ("nan-positive", lambda: prove_positive(sp.nan)),
        ("sigmoid-symmetric", lambda: prove_zero(sigmoid(x) - (1 - sigmoid(x)))),
        ("tanh-approx", lambda: prove_zero(sp.tanh(x) - x)),
        ("only-at-size-2", lambda: prove_equal(sp.Matrix([[1, 2], [3, 4]]) * sp.Matrix([[0, 1], [1, 0]]),
                                               sp.Matrix([[0, 1], [1, 0]]) * sp.Matrix([[1, 2], [3, 4]]))),
        ("sum-of-n", lambda: prove_zero(sp.summation(sp.Symbol("k"), (sp.Symbol("k"), 1, n)) - n ** 2 / 2)),
        ("shape", lambda: prove_equal(sp.eye(2), sp.eye(3))),
        ("empty-combine", lambda: combine([])),
        ("empty-matrix", lambda: prove_equal(sp.zeros(0, 0), sp.zeros(0, 0))),
        ("empty-matrix-0x3", lambda: prove_equal(sp.zeros(0, 3), sp.zeros(0, 3))),
        ("ne-equal", lambda: prove_true(sp.Ne(sp.sqrt(2) ** 2, 2, evaluate=False))),
        ("undefined-function", lambda: prove_zero(sp.Function("f")(x) - sp.Function("f")(2 * x))),
        ("gamma-near", lambda: prove_zero(sp.gamma(R(1, 2)) ** 2 - R(355, 113))),
        ("exp-pi-sqrt163", lambda: prove_zero(sp.exp(sp.pi * sp.sqrt(163)) - 262537412640768744)),
        ("complex-constant", lambda: prove_zero(sp.exp(sp.I * R(355, 113)) + 1)),
        ("complex-positive", lambda: prove_positive(1 + sp.I)),
    ]
    true = [
        ("exact-zero-radicals", lambda: prove_zero(sp.sqrt(2) + sp.sqrt(3) - sp.sqrt(5 + 2 * sp.sqrt(6)))),
        ("tanh-sigmoid", lambda: prove_zero(sp.tanh(x) - (2 * sigmoid(2 * x) - 1))),
        ("sigmoid-derivative", lambda: prove_zero(sp.diff(sigmoid(x), x) - sigmoid(x) * (1 - sigmoid(x)))),
        ("rational", lambda: prove_zero((x ** 2 - 1) / (x + 1) - (x - 1))),
        ("exp-real-power", lambda: prove_zero((sp.exp(x) ** y) ** 2 - sp.exp(x) ** (2 * y))),
        ("sigmoid-positive", lambda: prove_positive(1 / (1 + sp.exp(-x)))),
        ("acosh-is-positive", lambda: prove_positive(tiny)),
        ("pi-lt", lambda: prove_true(sp.Lt(sp.pi, R(355, 113), evaluate=False))),
        ("tanh-bound", lambda: prove_true(sp.Lt(2 * (1 - sp.tanh(1) ** 2), 1))),
        ("gt-literal", lambda: prove_true(sp.Gt(2, 1))),
        ("ge-square", lambda: prove_true(sp.Ge(x ** 2, 0))),
        ("p-positive-const", lambda: prove_positive(p + sp.pi - 3)),
        ("matrix", lambda: prove_equal(sp.Matrix([[x, 1]]) * 2, sp.Matrix([[2 * x, 2]]))),
    ]
    return false, true


def true_out_of_reach():
    """True statements the prover may leave undecided, but must never refute (a refutation is a claim too)."""
    from dlproof.derivations.prove import prove_positive, prove_zero

    t, j, m = sp.IndexedBase("t"), sp.Symbol("j", integer=True), sp.Symbol("m", integer=True, positive=True)
    W, i = sp.MatrixSymbol("W", m, m), sp.Symbol("i", integer=True, nonnegative=True)
    return [
        # t[j] at j = 0 is t[0]: a point drawing t[0] and the sum's terms independently would "refute" it
        ("indexed-sum-split", lambda: prove_zero(sp.Sum(sp.exp(-t[j]), (j, 0, m)) - sp.exp(-t[0])
                                                 - sp.Sum(sp.exp(-t[j]), (j, 1, m)))),
        ("indexed-sum-positive", lambda: prove_positive(sp.Sum(sp.exp(t[j]), (j, 0, m)) - sp.exp(t[0]) + 1)),
        ("matrix-element-sum", lambda: prove_zero(sp.Sum(W[i, j], (j, 0, m - 1)) - W[i, 0]
                                                  - sp.Sum(W[i, j], (j, 1, m - 1)))),
        ("kronecker-sum", lambda: prove_zero(sp.Sum(sp.KroneckerDelta(i, j) * t[j], (j, 0, m - 1)) - t[i])),
    ]


def _run_corpus() -> None:
    false, true = corpus()
    for name, call in false + true + true_out_of_reach():
        print(f"{name}\t{call().status}", flush=True)


def _statuses(seed: int) -> dict:
    env = dict(os.environ, PYTHONHASHSEED=str(seed))
    out = subprocess.run([sys.executable, __file__], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return dict(line.split("\t") for line in out.stdout.splitlines() if "\t" in line)


@pytest.fixture(scope="module")
def runs():
    return {seed: _statuses(seed) for seed in (0, 1, 12345)}


def test_corpus_is_large_enough():
    false, true = corpus()
    assert len(false) >= 50 and len(true) >= 10
    assert len({n for n, _ in false + true}) == len(false) + len(true)


def test_false_statements_are_never_proved(runs):
    false, _ = corpus()
    for seed, st in runs.items():
        assert set(st) >= {n for n, _ in false}
        proved = [n for n, _ in false if st[n] == "proved"]
        assert proved == [], f"PYTHONHASHSEED={seed}: proved false statements {proved}"


def test_true_statements_are_proved(runs):
    _, true = corpus()
    for seed, st in runs.items():
        missed = [n for n, _ in true if st[n] != "proved"]
        assert missed == [], f"PYTHONHASHSEED={seed}: not proved {missed}"


def test_true_statements_are_never_refuted(runs):
    for seed, st in runs.items():
        refuted = [n for n, _ in true_out_of_reach() if st[n] == "refuted"]
        assert refuted == [], f"PYTHONHASHSEED={seed}: refuted true statements {refuted}"


def test_statuses_do_not_depend_on_the_hash_seed(runs):
    first, *rest = runs.values()
    for st in rest:
        assert st == first


def test_review_repros_are_refuted(runs):
    """The review's repros are false statements: certified enclosures refute them."""
    statuses = runs[1]
    for name in ("acosh-zero", "acosh-positive", "acosh-le", "acos-zero", "sigmoid-float32"):
        assert statuses[name] == "refuted", name
    for name in ("power-power-complex", "empty-combine", "empty-matrix"):
        assert statuses[name] == "undecided", name


_REGISTRY = r"""
import json
from dlproof.derivations import registry as r
print(json.dumps({k: r.run_spec(s)["status"] for k, s in sorted(r.specs().items())}))
"""


@pytest.mark.slow
def test_registry_statuses_do_not_depend_on_the_hash_seed():
    found = []
    for seed in (0, 4242):
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, PYTHONHASHSEED=str(seed), DLPROOF_CACHE_DIR=cache)
            out = subprocess.run([sys.executable, "-c", _REGISTRY], env=env, capture_output=True, text=True,
                                 timeout=1800)
            assert out.returncode == 0, out.stderr[-2000:]
            found.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert found[0].keys() == found[1].keys()
    assert {k for k in found[0] if found[0][k] != found[1][k]} == set()


if __name__ == "__main__":
    _run_corpus()
