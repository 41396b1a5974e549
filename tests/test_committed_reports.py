"""Committed artifacts under reports/ are deterministic and fresh."""
from pathlib import Path

from dlproof.cli import derivations_index
from dlproof.derivations import records

REPORTS = Path(__file__).resolve().parent.parent / "reports"


def test_derivations_index_is_fresh():
    committed = (REPORTS / "derivations-index.md").read_text(encoding="utf-8")
    assert committed == derivations_index(records()), (
        "reports/derivations-index.md is stale: run `dlproof derivations --markdown > reports/derivations-index.md`")
