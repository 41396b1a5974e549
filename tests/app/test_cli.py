"""The command line: derive by id, list derivations (``repro``: tests/suite/test_repro.py)."""
import json

import pytest

from dlproof import cli
from dlproof.book import latex, present
from dlproof.derivations import records
from dlproof.derivations.scope import STATUS_MEANING


def test_derive_prints_markdown_with_latex_and_citation(capsys):
    rec = records()["rnn.bptt.jacobian_product"]
    assert cli.main(["derive", "rnn.bptt.jacobian_product"]) == 0
    out = capsys.readouterr().out
    assert "```math" in out and "J_t J_{t-1}" in out and "Pascanu" in out
    assert f"**{present.status_label(rec['status'])}**" in out and f"*Scope:* {rec['scope']['summary']}" in out


def test_derive_json_and_unknown_id(capsys):
    assert cli.main(["derive", "clip.value.not_direction", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "refuted" and out["display_title"].startswith("Claim: ")
    assert out["display_title"].endswith(" — refuted") and out["status_meaning"] == STATUS_MEANING["refuted"]
    assert set(out["scope"]) == {"parameters", "sizes", "lemmas", "summary"}
    assert all("scope" in o for o in out["obligations"])
    assert cli.main(["derive", "no.such.id"]) == 2
    assert "no derivation with id" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["md", "latex", "text"])
def test_every_format_shows_status_scope_sizes_and_lemmas(capsys, fmt):
    recs = records()
    picks = {}
    for rid, rec in recs.items():  # one record of each status (and one with lemmas)
        picks.setdefault(rec["status"], rid)
        if rec["scope"]["lemmas"]:
            picks.setdefault("lemmas", rid)
    for rid in picks.values():
        rec = recs[rid]
        assert cli.main(["derive", rid, "--format", fmt]) == 0
        out = capsys.readouterr().out
        esc = (lambda t: latex.text(t)) if fmt == "latex" else (lambda t: t)
        assert present.status_label(rec["status"]) in out or rec["status"] in out, (fmt, rid)
        if rec["scope"]["summary"]:
            assert esc(rec["scope"]["summary"]) in out, (fmt, rid)
        for lm in rec["scope"]["lemmas"]:
            assert esc(lm["id"]) in out and esc(lm["reference"]) in out, (fmt, rid)
        for o in rec["obligations"]:
            if o["scope"]["text"]:
                assert esc(o["scope"]["text"]) in out, (fmt, rid)
        assert present.display_title(rec).split("$")[0][:20].strip() in out or fmt == "latex"


def test_derivations_lists_every_id_in_reading_order_with_scope(capsys):
    recs = records()
    assert cli.main(["derivations"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[1] for ln in lines] == present.reading_order(recs)
    by_id = {ln.split()[1]: ln for ln in lines}
    assert "Claim: " in by_id["rnn.claim.exploding_norm_gt_1"] and "refuted" in by_id["rnn.claim.exploding_norm_gt_1"]
    for rid, rec in recs.items():
        assert by_id[rid].startswith(rec["status"] + " ")
        if rec["status"] == "checked-at-sizes" and rec["scope"]["sizes"]:
            assert present.sizes_text(rec["scope"]["sizes"]) in by_id[rid]
        for lm in rec["scope"]["lemmas"] if rec["status"] == "proved-from-lemmas" else []:
            assert lm["id"] in by_id[rid]
