"""Ids are a public API: derivation, claim and property ids listed in published_ids.txt never disappear."""
from pathlib import Path

import pytest

from dlproof.derivations import records
from dlproof.derivations.claims import claims
from dlproof.properties.registry import all_properties

LISTED = Path(__file__).with_name("published_ids.txt")


def _published() -> dict:
    out: dict = {"derivation": set(), "claim": set(), "property": set()}
    for line in LISTED.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            kind, ident = line.split()
            out[kind].add(ident)
    return out


def _current() -> dict:
    return {"derivation": set(records()), "claim": {c.id for c in claims()}, "property": set(all_properties())}


@pytest.mark.parametrize("kind", ["derivation", "claim", "property"])
def test_no_published_id_disappears(kind):
    gone = sorted(_published()[kind] - _current()[kind])
    assert not gone, f"published {kind} ids disappeared (ids are a public API; keep them): {gone}"


@pytest.mark.parametrize("kind", ["derivation", "claim", "property"])
def test_every_id_is_published(kind):
    new = sorted(_current()[kind] - _published()[kind])
    assert not new, f"{kind} ids not yet in tests/app/published_ids.txt (append them): {new}"


def test_claim_ids_are_unique():
    ids = [c.id for c in claims()]
    assert len(ids) == len(set(ids))
