"""The command line: derive by id, list derivations, replay a saved failing example."""
import json

import pytest

from dlproof import cli
from dlproof.properties import harness, results
from dlproof.properties.registry import all_properties


def test_derive_prints_markdown_with_latex_and_citation(capsys):
    assert cli.main(["derive", "rnn.bptt.jacobian_product"]) == 0
    out = capsys.readouterr().out
    assert "$$" in out and "J_t J_{t-1}" in out and "Pascanu" in out and "**proved**" in out


def test_derive_json_and_unknown_id(capsys):
    assert cli.main(["derive", "clip.value.not_direction", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "refuted"
    assert cli.main(["derive", "no.such.id"]) == 2
    assert "no derivation with id" in capsys.readouterr().err


def test_derivations_lists_every_id(capsys):
    assert cli.main(["derivations"]) == 0
    out = capsys.readouterr().out
    assert "rnn.claim.exploding_norm_gt_1" in out and "refuted" in out


def test_repro_replays_a_saved_failure(tmp_path, capsys):
    saved = list(results.ROWS)
    try:
        with pytest.raises(AssertionError):
            harness.run(all_properties()["clip.norm.rule"], _per_tensor(), "mutants:per_tensor_target",
                        profile="ci", report_dir=tmp_path)
        npz = results.ROWS[-1]["repro"]["npz"]
    finally:
        results.ROWS[:] = saved
    assert cli.main(["repro", npz]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "fail" and "clip.norm.rule" in out["message"]
    assert cli.main(["repro", str(tmp_path / "missing.npz")]) == 2


def _per_tensor():
    from mutants import MUTANTS

    return MUTANTS["clip_per_tensor"][0]
