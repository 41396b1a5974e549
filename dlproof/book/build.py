"""Build every committed teaching artifact under reports/ (derivations book, claims ledger, index,
figures, the HTML book), atomically. `artifacts()` returns the texts without writing (the freshness
tests compare them with the committed files).
"""
from __future__ import annotations

import json
from pathlib import Path

from dlproof.atomic import ensure_dir, write_atomic


def committed_summaries(reports_dir) -> dict:
    """{target: summary} from reports/conformance/*.json."""
    return {p.stem: json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(Path(reports_dir, "conformance").glob("*.json"))}


def property_derivations() -> dict:
    from dlproof.properties.registry import all_properties

    return {pid: p.derivations for pid, p in all_properties().items()}


def markdown_artifacts(reports_dir) -> dict:
    """{relative path: text} for derivations.md, claims.md and derivations-index.md."""
    from dlproof import ledger as ledger_mod
    from dlproof.derivations import records

    from .markdown import claims_book, conformance_by_derivation, derivations_book, derivations_index

    recs = records()
    ledger = ledger_mod.evaluate(reports_dir, recs)
    conf = conformance_by_derivation(property_derivations(), committed_summaries(reports_dir))
    return {"derivations.md": derivations_book(recs, ledger, conf),
            "claims.md": claims_book(ledger, recs),
            "derivations-index.md": derivations_index(recs)}


def html_artifact(reports_dir) -> str:
    """book.html from the records, the ledger and the committed figures (reports/figures)."""
    from dlproof import ledger as ledger_mod
    from dlproof.derivations import records

    from .html import render_book

    recs = records()
    fig_dir = Path(reports_dir, "figures")
    manifest = figure_manifest(fig_dir)
    return render_book(recs, ledger_mod.evaluate(reports_dir, recs), manifest, fig_dir)


def figure_manifest(fig_dir) -> dict:
    """{name: {png, caption, derivations, checks}} from the committed figures.json."""
    path = Path(fig_dir, "figures.json")
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {name: {"png": f"{name}.png", "caption": d["caption"], "derivations": d["derivations"],
                   "checks": d["checks"]} for name, d in data.items()}


def build_all(reports_dir="reports", *, figures: bool = True) -> list[Path]:
    """Regenerate the figures, the Markdown books and the HTML book; return the paths written."""
    rdir = ensure_dir(reports_dir)
    written = []
    if figures:
        from .figures import render

        render(ensure_dir(rdir / "figures"))
        written.append(rdir / "figures")
    for rel, text in markdown_artifacts(rdir).items():
        written.append(write_atomic(rdir / rel, text))
    written.append(write_atomic(rdir / "book.html", html_artifact(rdir)))
    return written
