"""The suite's power: every pinned mutant of tests/mutants/ (`Mutant.caught_by`) is caught by its property, with a
message that says what."""
import pytest

from dlproof.properties import harness, results
from dlproof.properties.assertions import PropertyFailure, TargetRaised
from dlproof.properties.registry import all_properties

from mutants.catalog import MUTANTS

PINNED = {name: m for name, m in MUTANTS.items() if m.caught_by}


#: mutants whose message must name the bug itself, not only the mismatch
HINTS = {
    "lstm_returns_c_h": "look swapped",
    "bi_halves_swapped": "wrong order",
    "bi_backward_not_reversed": "reversed time",
    "gru_reset_wrong_place": "matches gru='reset_before', but should match the declared gru='reset_after'",
    "relu_declared_tanh": "matches rnn_activation='relu'",
    "clip_per_tensor": "matches clip_eps=0.0, clip_scope='per_tensor'",
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_mutant_is_killed(name, tmp_path):
    target, prop_id = PINNED[name].target, PINNED[name].caught_by
    prop = all_properties()[prop_id]
    with pytest.raises((PropertyFailure, TargetRaised)) as info:
        harness.run(prop, target, f"tests.mutants:{name}", profile="ci", report_dir=tmp_path)
    msg = str(info.value)
    assert target.name in msg and prop_id in msg  # says which target and which property
    assert "but should" in msg
    assert HINTS.get(name, "") in msg
    row = results.ROWS[-1]
    assert row["verdict"] == "fail" and row["repro"] is not None
    assert (tmp_path / "repro").is_dir()
