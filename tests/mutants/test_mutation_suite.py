"""The mutation meta-suite (marked `mutation`, its own CI step): the ci profile kills every mutant of
tests/mutants/ (collected by tests/mutants/catalog.py), and accuses none of the equivalent rewrites.

Writes reports/latest/mutation.{md,json}: which properties killed each mutant. The committed
reports/mutation.md is a copy of a full run; the test checks that it covers the same mutants, all killed.
"""
import json
import re
from pathlib import Path

import pytest

from dlproof import mutation
from dlproof.atomic import write_atomic

from mutants.catalog import EQUIVALENT, MUTANTS

pytestmark = pytest.mark.mutation
ROOT = Path(__file__).resolve().parents[2]
MIN_MUTANTS = 40


@pytest.fixture(scope="module")
def run():
    mat = mutation.matrix(MUTANTS)
    eq = mutation.matrix({k: m for k, (m, _) in EQUIVALENT.items()})
    md = mutation.markdown(mat, eq, {k: why for k, (_, why) in EQUIVALENT.items()})
    out = ROOT / "reports" / "latest"
    write_atomic(out / "mutation.json", json.dumps({"mutants": mat, "equivalent": eq}, indent=1, sort_keys=True) + "\n")
    write_atomic(out / "mutation.md", md)
    return mat, eq


def test_catalog_size_and_coverage():
    assert len(MUTANTS) >= MIN_MUTANTS
    from dlproof.target import CAPABILITIES

    covered = {c for m in MUTANTS.values() for c in m.mutated}
    assert covered == set(CAPABILITIES), f"capabilities no mutant breaks: {sorted(set(CAPABILITIES) - covered)}"


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_is_killed(run, name):
    mat, _ = run
    r = mat[name]
    assert r["killed_by"], f"{name} ({r['bug']}) survived every property that calls {r['mutated']}: {r['survived']}"


def test_kill_rate_is_total(run):
    mat, _ = run
    assert mutation.kill_rate(mat) == 1.0


@pytest.mark.parametrize("name", sorted(EQUIVALENT))
def test_equivalent_rewrite_is_not_accused(run, name):
    _, eq = run
    assert not eq[name]["killed_by"], f"{name} is the same model but was accused: {eq[name]['killed_by']}"


def test_committed_report_covers_the_catalog(run):
    committed = (ROOT / "reports" / "mutation.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([^`]+)` \| [^|]* \| [^|]* \| ([^|]*) \|", committed, flags=re.M))
    assert set(rows) == set(MUTANTS), "reports/mutation.md is stale: copy reports/latest/mutation.md after `pytest -m mutation`"
    assert not any("NOT KILLED" in v for v in rows.values())


def test_kill_rejects_a_mutant_without_mutated_capabilities():
    m = MUTANTS[sorted(MUTANTS)[0]]
    with pytest.raises(ValueError, match="names no mutated capability"):
        mutation.kill(m.target, (), "x")
    from dlproof.target import Target, TargetError

    with pytest.raises(ValueError, match=r"does not provide its mutated capabilities \['lstm'\]"):
        mutation.kill(Target("only rnn", rnn=m.target.rnn), ("lstm",), "x")
    with pytest.raises(TargetError, match="unknown capability 'nope'"):
        mutation.kill(m.target, ("nope",), "x")
