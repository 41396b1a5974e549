"""The peephole LSTM cell (ONNX's LSTM with input P): derivation statuses, the oracle and the NumPy reference
against a 50-digit mpmath evaluation, input validation, and the properties on good and broken targets (the torch
reference: tests/peephole/test_peephole_torch.py)."""
from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp

from dlproof.derivations import mp_cells
from dlproof.derivations import oracle_peephole as O
from dlproof.derivations import records as cached_records
from dlproof.impl.numpy_ref import lstm as NL
from dlproof.impl.numpy_ref import peephole as NP
from dlproof.parameters import PEEPHOLE_PARAMS, PEEPHOLES
from dlproof.properties import harness
from dlproof.properties.assertions import PropertyFailure
from dlproof.properties.registry import all_properties
from dlproof.target import Target
from mutants.peephole import peephole_cell_bug

PROPS = ("peephole.cell.forward", "peephole.cell.output_gate_reads_new_cell", "peephole.cell.zero_peepholes")
EXPECTED = {"peephole.cell.forward": "definition", "peephole.cell.zero_peepholes": "proved",
            "peephole.cell.jacobian_c": "proved"}


def cell_problem(n=3, m=2, B=4, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    p = {k: rng.normal(size=(n, m) if k.startswith("W_x") else (n, n) if k.startswith("W_h") else (n,))
         for k in PEEPHOLE_PARAMS}
    x, h, c = rng.normal(size=(B, m)), np.tanh(rng.normal(size=(B, n))), 2 * rng.normal(size=(B, n))
    return x.astype(dtype), h.astype(dtype), c.astype(dtype), {k: v.astype(dtype) for k, v in p.items()}


# ---- derivations ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("rid", sorted(EXPECTED))
def test_derivation_status(rid):
    rec = cached_records()[rid]
    assert rec["status"] == EXPECTED[rid], rec
    assert "onnx__LSTM" in rec["citation"]["seed"] and "Gers & Schmidhuber (2000)" in rec["citation"]["primary"]


def test_a_wrong_jacobian_is_not_proved():
    """The LSTM cell's dc'/dc = diag(f) is not proved for the peephole cell."""
    from dlproof.derivations import peephole as D
    from dlproof.derivations.indexed import index, prove_entries

    cell, T = D.symbolic_cell()
    i, l = index("i"), index("l")
    dc = sp.diff(cell.forward_c()[i, 0], cell.c[l, 0])
    assert prove_entries([(dc, sp.DiagMatrix(cell.gate["f"])[i, l])], {i: D.SN, l: D.SN}, T).status != "proved"


# ---- the oracle and the references against 50 digits ------------------------------------------------------

def _mp_cell(x, h, c, p):
    """One row of the peephole cell in mpmath (the working precision), from the module formula."""
    a = {q: mp_cells.affine(x, p[f"W_x{q}"], h, p[f"W_h{q}"], p[f"b_{q}"]) for q in "ifgo"}
    n = len(c)
    i = [mp_cells.sigmoid(a["i"][k] + p["p_i"][k] * c[k]) for k in range(n)]
    f = [mp_cells.sigmoid(a["f"][k] + p["p_f"][k] * c[k]) for k in range(n)]
    c2 = [f[k] * c[k] + i[k] * mpmath.tanh(a["g"][k]) for k in range(n)]
    return [mp_cells.sigmoid(a["o"][k] + p["p_o"][k] * c2[k]) * mpmath.tanh(c2[k]) for k in range(n)], c2


def _mp(a):
    return [_mp(r) for r in a] if np.ndim(a) else mpmath.mpf(float(a))


@pytest.mark.parametrize("n, m", [(1, 1), (3, 2), (4, 5)])
def test_oracle_and_numpy_match_mpmath(n, m):
    x, h, c, p = cell_problem(n, m)
    P = {k: _mp(v) for k, v in p.items()}
    oracle, ref = O.lstm_peephole_cell(x, h, c, p), NP.lstm_peephole_cell(x, h, c, p)
    jac = O.lstm_peephole_cell_jacobians_c(x, h, c, p)
    with mpmath.workdps(50):
        for b in range(x.shape[0]):
            xb, hb, cb = _mp(x[b]), _mp(h[b]), _mp(c[b])
            exact = _mp_cell(xb, hb, cb, P)
            for got in (oracle, ref):
                for out, e in zip(got, exact):
                    np.testing.assert_allclose(out[b], [float(v) for v in e], rtol=1e-14, atol=1e-15)
            for k in range(n):  # the diagonal Jacobians dc'/dc and dh'/dc, by 50-digit differentiation in c_k
                def row(t, which, k=k):
                    return _mp_cell(xb, hb, cb[:k] + [t] + cb[k + 1:], P)[which][k]
                for which, blk in ((0, "hc"), (1, "cc")):
                    np.testing.assert_allclose(jac[blk][b, k, k], float(mpmath.diff(lambda t: row(t, which), cb[k])),
                                               rtol=1e-13, atol=1e-15)
            off = jac["cc"][b] - np.diag(np.diag(jac["cc"][b]))
            assert not off.any()  # diagonal: a peephole is an entry-wise weight


def test_zero_peepholes_give_the_lstm_cell():
    x, h, c, p = cell_problem()
    p0 = {k: (np.zeros_like(v) if k in PEEPHOLES else v) for k, v in p.items()}
    lstm_p = {k: v for k, v in p.items() if k not in PEEPHOLES}
    for a, b in zip(NP.lstm_peephole_cell(x, h, c, p0), NL.lstm_cell(x, h, c, lstm_p)):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)


def test_float32_in_float32_out_and_inputs_unchanged():
    x, h, c, p = cell_problem(dtype=np.float32)
    before = {k: v.copy() for k, v in p.items()}
    out = NP.lstm_peephole_cell(x, h, c, p)
    assert all(o.dtype == np.float32 and o.shape == h.shape for o in out)
    assert all(np.array_equal(before[k], p[k]) for k in p)


@pytest.mark.parametrize("change, match", [
    (lambda p: {k: v for k, v in p.items() if k != "p_o"}, r"missing parameter\(s\) \['p_o'\]"),
    (lambda p: {**p, "p_f": np.zeros(4)}, r"argument \"p\['p_f'\]\" should have shape"),
    (lambda p: {**p, "p_i": np.zeros((3, 1))}, r"argument \"p\['p_i'\]\" should have 1 dimensions"),
])
def test_bad_peepholes_are_refused(change, match):
    x, h, c, p = cell_problem()
    with pytest.raises(ValueError, match=match):
        NP.lstm_peephole_cell(x, h, c, change(p))


# ---- the properties: pass on the references, fail on the mutants ------------------------------------------

#: bug -> the property that must catch it
MUTANTS = {"output_gate_reads_c": "peephole.cell.output_gate_reads_new_cell",
           "onnx_order_misread": "peephole.cell.forward", "peepholes_ignored": "peephole.cell.forward",
           "forget_bias_one": "peephole.cell.zero_peepholes"}


def cell_target(name, dtype, cell, lstm_cell=NL.lstm_cell):
    return Target(name=name, dtype=dtype, lstm_peephole_cell=cell, lstm_cell=lstm_cell)


def properties_pass(target, tmp_path):
    """Every peephole property passes on ``target``."""
    props = all_properties()
    for pid in PROPS:
        row = harness.run(props[pid], target, target.name, profile="ci", report_dir=tmp_path)
        assert row["verdict"] == "pass", row


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_properties_pass(dtype, tmp_path):
    properties_pass(cell_target(f"numpy-peephole.{dtype}", dtype, NP.lstm_peephole_cell), tmp_path)


def test_the_builtin_targets_provide_the_cell():
    from dlproof.impl.targets import numpy_target

    assert numpy_target().provides("lstm_peephole_cell")


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_each_mutant_is_caught(name, tmp_path):
    pid = MUTANTS[name]
    target = cell_target(f"peephole-{name}", "float64", peephole_cell_bug(name))
    with pytest.raises(PropertyFailure) as info:
        harness.run(all_properties()[pid], target, f"tests:{name}", profile="ci", report_dir=tmp_path)
    assert pid in str(info.value) and "but should" in str(info.value)


@pytest.mark.parametrize("name, words", [("output_gate_reads_c", "reads the old cell c"),
                                         ("onnx_order_misread", "p_f and p_o swapped"),
                                         ("peepholes_ignored", "peepholes are ignored")])
def test_a_failure_names_the_likely_bug(name, words, tmp_path):
    target = cell_target(f"peephole-{name}", "float64", peephole_cell_bug(name))
    with pytest.raises(PropertyFailure) as info:
        harness.run(all_properties()["peephole.cell.forward"], target, f"tests:{name}", profile="ci",
                    report_dir=tmp_path)
    assert info.value.part == "forward" and words in info.value.likely_bug
