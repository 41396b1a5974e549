"""dlproof sweep: every (target, seed) pair runs, failures are reported with the property, and the CLI exits 1.

(Dask: tests/suite/test_sweep_dask.py; resume and fingerprints: test_sweep_resume.py; comparing reports:
test_sweep_compare.py.)"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dlproof import sweep

HERE = Path(__file__).resolve().parents[1] / "targets"  # sweep_targets.py


def _env():
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))}


def test_sweep_of_a_correct_target_has_no_failures(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))
    res = sweep.sweep(["sweep_targets:counts"], range(1, 4), jobs=1, out=tmp_path, progress=lambda line: None,
                      inline=True)
    assert res["failures"] == 0 and res["complete"] and len(res["runs"]) == 3
    assert {r["seed"] for r in res["runs"]} == {1, 2, 3}
    assert all(r["counts"]["pass"] == 3 for r in res["runs"])  # rnn, lstm, gru param_count
    assert "**0 false alarm(s)**" in (tmp_path / "sweep.md").read_text()


def test_each_seed_keeps_its_own_repro_file(tmp_path, monkeypatch):
    """Two seeds that fail the same property on one target: two files, and each row's command replays its own
    (one folder per seed; a shared folder let the later seed overwrite the earlier one's example)."""
    monkeypatch.syspath_prepend(str(HERE))
    res = sweep.sweep(["sweep_targets:wrong_counts"], [1, 2], jobs=1, out=tmp_path, progress=lambda line: None,
                      inline=True)
    commands = {r["seed"]: r["failures"][0]["repro"] for r in res["runs"]}
    assert len(commands) == 2 and len(set(commands.values())) == 2, commands
    for seed, command in commands.items():
        path = Path(command.split()[4])  # python -m dlproof repro PATH --target SPEC
        assert path.is_file() and path.parent == tmp_path / f"seed-{seed}" / "repro", command


def test_a_failure_a_finding_explains_is_not_a_false_alarm():
    """assemble(known=...): the finding's (target, property) failure is marked and counted apart; the same
    failure on another target, or another property's, stays a false alarm."""
    def row(spec, pid):
        return {"target": spec, "seed": 1, "counts": {"pass": 1, "fail": 1}, "examples": 10, "seconds": 1.0,
                "failures": [{"property": pid, "profile": "seeded", "verdict": "fail", "message": "m", "repro": None}]}

    known = {"a": {"bn.running_stats"}}
    res = sweep.assemble(["a", "b"], [1], 1, [row("a", "bn.running_stats"), row("b", "bn.running_stats")], 1.0,
                         known=known)
    assert (res["failures"], res["known_failures"], res["false_alarms"]) == (2, 1, 1)
    assert [r["failures"][0]["finding"] for r in res["runs"]] == [True, False]
    md = sweep.markdown(res)
    assert "**1 false alarm(s)** (1 more failure(s) explained by a published finding" in md
    assert "`a` seed 1 `bn.running_stats` (seeded) [a published finding]" in md
    assert "`b` seed 1 `bn.running_stats` (seeded): m" in md


@pytest.mark.slow
def test_cli_reports_a_failing_target_and_exits_1(tmp_path):
    out = tmp_path / "sw"
    proc = subprocess.run([sys.executable, "-m", "dlproof", "sweep", "sweep_targets:wrong_counts", "--seeds", "2",
                           "--out", str(out)], capture_output=True, text=True, env=_env(), timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    res = json.loads((out / "sweep.json").read_text())
    assert res["failures"] == 2 and {f["property"] for r in res["runs"] for f in r["failures"]} == {"lstm.param_count"}
    assert "lstm.param_count" in (out / "sweep.md").read_text()


def test_cli_refuses_an_unknown_target(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "dlproof", "sweep", "no_such_module:x", "--out", str(tmp_path)],
                          capture_output=True, text=True, env=_env(), timeout=120)
    assert proc.returncode == 2 and "cannot import module 'no_such_module'" in proc.stderr


def test_cell_properties_are_those_calling_only_cells():
    from dlproof.properties.registry import all_properties

    props = all_properties()
    assert sweep.is_cell_property(props["lstm.cell.forward"]) and not sweep.is_cell_property(props["lstm.vjp"])
