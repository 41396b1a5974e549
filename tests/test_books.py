"""The committed books (reports/derivations.md, claims.md, book.html): fresh, anchored, linked; the CLI
around them; atomic writes."""
import os
import re
from pathlib import Path

import pytest

from dlproof import cli
from dlproof.book import build, files
from dlproof.derivations import records
from dlproof.derivations.claims import claims

REPORTS = Path(__file__).resolve().parent.parent / "reports"
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


def test_math_blocks_are_balanced(artifacts):
    for name in ("derivations.md", "claims.md"):
        lines = artifacts[name].splitlines()
        assert sum(1 for ln in lines if ln.strip() == "$$") % 2 == 0, name


def test_derivation_book_shows_steps_status_citation_and_implementations(artifacts):
    text = artifacts["derivations.md"]
    sec = text[text.index('<a id="lstm.cell.dc_dc_prev"></a>'):]
    sec = sec[:sec.index("<a id=", 10)]
    assert "**proved**" in sec and "Hochreiter" in sec and "$$" in sec
    assert "conform:" in sec or "no property cites" in sec


# ---- CLI
def test_derive_formats(capsys):
    assert cli.main(["derive", "lstm.cell.dc_dc_prev", "--format", "latex"]) == 0
    out = capsys.readouterr().out
    assert r"\label{dlproof:lstm.cell.dc_dc_prev}" in out and r"\begin{equation*}" in out
    assert cli.main(["derive", "lstm.cell.dc_dc_prev", "--format", "text"]) == 0
    assert "[theorem, proved]" in capsys.readouterr().out
    assert cli.main(["derive"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(records())


def test_unknown_id_names_the_closest(capsys):
    assert cli.main(["derive", "lstm.cell.dc_dc_prv"]) == 2
    err = capsys.readouterr().err
    assert "no derivation with id" in err and "lstm.cell.dc_dc_prev" in err


def test_claims_command(capsys):
    assert cli.main(["claims"]) == 0
    out = capsys.readouterr().out
    assert "refuted" in out and "claim.lstm.gates_no_vanishing" in out


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


# ---- atomic writes
def test_interrupted_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "claims.md"
    files.write_atomic(path, "old\n")

    def boom(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        files.write_atomic(path, "new " * 10000)
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claims.md"], "a temporary file was left behind"


def test_write_atomic_bytes_and_text(tmp_path):
    files.write_atomic(tmp_path / "a" / "b.bin", b"\x89PNG")
    assert (tmp_path / "a" / "b.bin").read_bytes() == b"\x89PNG"
    files.write_atomic(tmp_path / "c.md", "π ≤ 4")
    assert (tmp_path / "c.md").read_text(encoding="utf-8") == "π ≤ 4"


def test_citation_and_licence():
    root = REPORTS.parent
    cff = (root / "CITATION.cff").read_text(encoding="utf-8")
    assert cff.startswith("cff-version: 1.2.0") and "license: MIT" in cff and "title:" in cff
    assert "MIT License" in (root / "LICENSE").read_text(encoding="utf-8")
    assert "How to cite a derivation" in (root / "README.md").read_text(encoding="utf-8")
