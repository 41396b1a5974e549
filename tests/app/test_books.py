"""The committed books (reports/derivations.md, claims.md, book.html): fresh, anchored, linked; the CLI
around them."""
import re
from pathlib import Path

import pytest

from dlproof import cli
from dlproof.book import build, present
from dlproof.derivations import records
from dlproof.derivations.claims import claims

REPORTS = Path(__file__).resolve().parents[2] / "reports"
REGEN = "run `dlproof report --skip-suite` and commit reports/"


@pytest.fixture(scope="module")
def artifacts():
    return build.markdown_artifacts(REPORTS)


@pytest.mark.parametrize("name", ["derivations.md", "claims.md", "derivations-index.md"])
def test_markdown_book_is_fresh(artifacts, name):
    committed = (REPORTS / name).read_text(encoding="utf-8")
    assert committed == artifacts[name], f"reports/{name} is stale: {REGEN}"


def test_html_book_is_fresh():
    committed = (REPORTS / "book.html").read_text(encoding="utf-8")
    assert committed == build.html_artifact(REPORTS), f"reports/book.html is stale: {REGEN}"


def _anchors(text: str) -> set:
    return set(re.findall(r'<a id="([^"]+)"></a>', text)) | set(re.findall(r'\bid="([^"]+)"', text))


@pytest.mark.parametrize("name", ["derivations.md", "claims.md", "book.html"])
def test_every_derivation_id_is_an_anchor(artifacts, name):
    text = artifacts.get(name) or (REPORTS / name).read_text(encoding="utf-8")
    missing = sorted(set(records()) - _anchors(text))
    assert not missing, f"{name} lacks anchors for {missing}"


@pytest.mark.parametrize("name", ["claims.md", "book.html"])
def test_every_claim_id_is_an_anchor(artifacts, name):
    text = artifacts.get(name) or (REPORTS / name).read_text(encoding="utf-8")
    missing = sorted({c.id for c in claims()} - _anchors(text))
    assert not missing, f"{name} lacks anchors for {missing}"


def test_links_between_the_books_resolve(artifacts):
    anchors = {n: _anchors(artifacts[n]) for n in ("derivations.md", "claims.md")}
    for name, text in artifacts.items():
        if name not in anchors:
            continue
        for target, frag in re.findall(r"\]\(((?:derivations|claims)\.md)?#([^)\s]+)\)", text):
            assert frag in anchors[target or name], f"{name}: link to {target or name}#{frag} has no anchor"


def test_display_math_is_fenced_for_github(artifacts):
    """Display math is a ```math fence (GitHub renders it); no bare $$ display blocks are left."""
    for name in ("derivations.md", "claims.md"):
        lines = artifacts[name].splitlines()
        opens = [k for k, ln in enumerate(lines) if ln.strip() == "```math"]
        assert opens, name
        for k in opens:  # every fence closes, with the formula in between
            close = lines.index("```", k + 1)
            assert close > k + 1 and "```math" not in lines[k + 1:close], (name, k)
        assert not any(ln.strip() == "$$" for ln in lines), name


def _section(text: str, rid: str) -> str:
    sec = text[text.index(f'<a id="{rid}"></a>'):]
    return sec[:sec.index("<a id=", 10)] if "<a id=" in sec[10:] else sec


def test_derivation_book_shows_steps_status_scope_citation_and_implementations(artifacts):
    text = artifacts["derivations.md"]
    recs = records()
    for rid, rec in recs.items():
        sec = _section(text, rid)
        assert f"**{present.status_label(rec['status'])}**" in sec, rid
        summary = present.scope_of(rec)["summary"]
        if summary:  # the statement is followed by the scope sentence
            assert sec.index("```math") < sec.index(f"*Scope:* {summary}"), rid
        for lm in present.scope_of(rec)["lemmas"]:
            assert f"`{lm['id']}`" in sec and lm["reference"] in sec, rid
        for o in rec["obligations"]:
            if present.obligation_scope(o):
                assert f"[{present.obligation_scope(o)}]" in sec, rid
        assert "seed: seed" not in sec and sec.count("Source: ") == 1
    sec = _section(text, "lstm.cell.dc_dc_prev")
    assert "Hochreiter" in sec and "```math" in sec
    assert "conform:" in sec or "no property cites" in sec


def test_book_intro_counts_and_explains_every_status(artifacts):
    text = artifacts["derivations.md"]
    intro = text[:text.index("## Contents")]
    for s, n in present.status_counts(records()):
        assert f"{n} {s}" in intro
    for s in present.STATUSES:
        assert f"- **{s}**: {present.STATUS_MEANING[s]}." in intro


def test_reading_order_follows_the_registry_within_each_chapter(artifacts):
    from dlproof.derivations import registry

    text = artifacts["derivations.md"]
    body = text[text.index("## Contents"):]
    toc, sections = body.split("\n## ", 1)
    declared = list(registry.specs())
    shown = re.findall(r'<a id="([^"]+)"></a>', sections)
    assert sorted(shown) == sorted(records())
    for prefix, _ in present.GROUPS:  # within a chapter: declaration order (forward before backward)
        ids = [i for i in shown if i.split(".")[0] == prefix]
        assert ids == [i for i in declared if i in ids], prefix
    assert shown.index("rnn.cell.forward") < shown.index("rnn.cell.jacobian_h") < shown.index("rnn.bptt.gradient")
    # the contents list titles linked to the anchors, ids small
    linked = re.findall(r"^  - \[(.+)\]\(#([^)]+)\) <sub>`([^`]+)`", toc, re.M)
    assert [rid for _, rid, _ in linked] == shown
    for title, rid, small in linked:
        assert small == rid and title.replace("\\[", "[").replace("\\]", "]") == present.display_title(records()[rid])


def test_refutations_read_as_refuted_claims(artifacts, capsys):
    refuted = {rid: r for rid, r in records().items() if r["kind"] == "refutation"}
    assert refuted
    html_text = build.html_artifact(REPORTS)
    for rid, rec in refuted.items():
        shown = present.display_title(rec)
        assert shown.startswith("Claim: ") and shown.endswith(" — refuted" if rec["status"] == "refuted"
                                                              else " — not refuted")
        assert f"### {shown}" in artifacts["derivations.md"], rid
        h4 = re.search(rf'<article class="derivation" id="{re.escape(rid)}">\n<h4>(.*?)</h4>', html_text).group(1)
        assert h4.startswith("Claim: ") and h4.endswith(shown.rsplit(" — ", 1)[1]) and " — " in h4, rid
        assert cli.main(["derive", rid, "--format", "text"]) == 0
        assert shown in capsys.readouterr().out


def test_no_citation_prefix_is_repeated(artifacts):
    html_text = build.html_artifact(REPORTS)
    for name, text in list(artifacts.items()) + [("book.html", html_text)]:
        assert "seed: seed" not in text and "seed:</span> seed" not in text, name
    assert '<span class="meta">Source:</span> seed' in html_text


def test_unknown_ledger_verdicts_render_as_words():
    from dlproof.book.markdown import claim_section

    e = {"id": "claim.x", "english": "x", "verdict": "checked-at-sizes", "quote": "q", "explanation": "",
         "conditions": [], "derivations": [], "properties": [], "literature": [], "problems": []}
    assert "**checked at sizes**" in claim_section(e)
    assert "**some new verdict**" in claim_section(dict(e, verdict="some-new-verdict"))
    assert "**EVIDENCE MISSING**" in claim_section(dict(e, verdict="evidence-missing"))


# ---- CLI
def test_derive_formats(capsys):
    rec = records()["lstm.cell.dc_dc_prev"]
    assert cli.main(["derive", "lstm.cell.dc_dc_prev", "--format", "latex"]) == 0
    out = capsys.readouterr().out
    assert r"\label{dlproof:lstm.cell.dc_dc_prev}" in out and r"\begin{" in out
    assert cli.main(["derive", "lstm.cell.dc_dc_prev", "--format", "text"]) == 0
    out = capsys.readouterr().out
    assert f"[theorem, {rec['status']}]" in out and f"scope: {rec['scope']['summary']}" in out
    assert cli.main(["derive"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(records())


def test_unknown_id_names_the_closest(capsys):
    assert cli.main(["derive", "lstm.cell.dc_dc_prv"]) == 2
    err = capsys.readouterr().err
    assert "no derivation with id" in err and "lstm.cell.dc_dc_prev" in err


def test_claims_command(capsys):
    assert cli.main(["claims", "--reports", str(REPORTS)]) == 0
    out = capsys.readouterr().out
    assert "refuted" in out and "claim.lstm.gates_no_vanishing" in out


def test_claims_reads_the_reports_of_the_current_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPORTS.parent)
    assert cli.main(["claims"]) == 0
    monkeypatch.chdir(tmp_path)  # no reports/ here: a clear error, not a ledger of missing evidence
    assert cli.main(["claims"]) == 2
    assert "no reports folder" in capsys.readouterr().err


def test_report_dir_that_is_not_writable_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert cli.main(["report", "--skip-suite", "--out", str(blocker / "sub")]) == 2
    assert "cannot be created" in capsys.readouterr().err
    assert cli.main(["report", "--skip-suite", "--out", str(blocker)]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_report_skip_suite_writes_the_books(tmp_path, capsys):
    for sub in ("conformance", "figures"):
        (tmp_path / sub).mkdir()
        for p in (REPORTS / sub).iterdir():
            if p.suffix in (".json", ".png"):
                (tmp_path / sub / p.name).write_bytes(p.read_bytes())
    (tmp_path / "performance.json").write_bytes((REPORTS / "performance.json").read_bytes())
    assert cli.main(["report", "--skip-suite", "--no-figures", "--out", str(tmp_path)]) == 0
    for name in ("derivations.md", "claims.md", "book.html"):
        assert (tmp_path / name).read_text(encoding="utf-8") == (REPORTS / name).read_text(encoding="utf-8")


def test_citation_and_licence():
    root = REPORTS.parent
    cff = (root / "CITATION.cff").read_text(encoding="utf-8")
    assert cff.startswith("cff-version: 1.2.0") and "license: MIT" in cff and "title:" in cff
    assert "MIT License" in (root / "LICENSE").read_text(encoding="utf-8")
    assert "How to cite a derivation" in (root / "README.md").read_text(encoding="utf-8")
