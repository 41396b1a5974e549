"""General proofs of the bidirectional records and of lstm.state.chain (every T, n, m), and that they can fail.

The bi.* records are proved for every T with the runs as undefined functions of a symbolic time index
(H(t) = F_f(x(t), H(t-1)), B(t) = F_b(x(t), B(t+1)), G(s) = F_b(x(T-1-s), G(s-1))) and entry-wise at
symbolic n for the concatenation y_t = [H(t); G(T-1-t)]. bi.full_dependence is a genericity statement: its
inductions hold for every T, n, m, the step "non-zero at a point => non-zero on an open dense set" is the
cited lemma lemma.analytic.zero_set, so it is proved-from-lemmas. lstm.state.chain: base T = 1 (the one-step state
Jacobian) and the step d cell(x, F)/dv = S(x, F) dF/dv with F undefined, entry-wise at symbolic n, m.
Each check below also feeds a deliberately wrong formula to the same machinery: it must not come out "proved".
"""
import pytest

from dlproof.derivations import records as cached_records

EXPECTED = {
    "bi.backward_is_reversed_forward": "proved",
    "bi.final_states": "proved",
    "bi.full_dependence": "proved-from-lemmas",
    "lstm.state.chain": "proved",
}


@pytest.fixture(scope="module")
def records():
    return {rid: cached_records()[rid] for rid in EXPECTED}


@pytest.mark.parametrize("rid", sorted(EXPECTED))
def test_status_and_scope(records, rid):
    rec = records[rid]
    assert rec["status"] == EXPECTED[rid], [(o["statement"], o["status"]) for o in rec["obligations"]]
    kinds = {o["scope"]["kind"] for o in rec["obligations"]}
    assert "size" not in kinds, "a general record keeps no sized check"
    assert {"base-case", "induction-step"} <= kinds
    assert "checked at" not in rec["title"].lower()


def test_full_dependence_cites_the_analytic_zero_set_lemma(records):
    rec = records["bi.full_dependence"]
    assert [lm["id"] for lm in rec["scope"]["lemmas"]] == ["lemma.analytic.zero_set"]
    assert "lemma.analytic.zero_set" in rec["scope"]["summary"]


@pytest.mark.parametrize("shift", [1, -1])
def test_wrong_reversal_index_is_not_proved(shift):
    """B(t) = G(T - t) or G(T - 2 - t) (off by one): the base or the step must fail."""
    from dlproof.derivations import bidirectional as bi

    base, step = bi.reversal_induction(shift)
    assert step.status != "proved"
    right = bi.reversal_induction()
    assert right[0].status == right[1].status == "proved"


def test_wrong_final_state_is_not_proved():
    """h_b read from y_{T-1}[n:] (a common mistake) is not the last state G(T-1) of the reversed run."""
    from dlproof.derivations import bidirectional as bi
    from dlproof.derivations.indexed import index, prove_entry_equal

    i = index("i")
    wrong = prove_entry_equal(bi.E(bi.G(bi.TS - 1), i), bi.y_entry(bi.TS - 1, bi.NS + i), {i: bi.NS}, use_simplify=False)
    assert wrong.status != "proved"


@pytest.mark.parametrize("d", ["f", "b"])
def test_wrong_dependence_block_is_not_proved(d):
    """Claiming d h_t/d x_s = 0 at the exhibited point (instead of W_x) must fail in the induction step."""
    from dlproof.derivations import bidirectional as bi

    statuses = [r.status for _, r, _ in bi.dependence_obligations(d, wrong=True)]
    assert statuses[:-1] == ["proved"] * (len(statuses) - 1) and statuses[-1] != "proved"


def test_wrong_state_jacobian_in_chain_step_is_not_proved():
    """S with the two blocks of the c' row swapped ([diag(f), dc'/dh] for [dc'/dh, diag(f)]): not proved."""
    from dlproof.derivations import lstm

    right = lstm.chain_step()
    assert right["h"].status == right["c"].status == "proved"
    wrong = lstm.chain_step(True, rows="c", use_simplify=False)
    assert wrong["c"].status != "proved"
