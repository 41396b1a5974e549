"""The house rules of ARCHITECTURE.md, checked: the layers contract in pyproject.toml ([tool.importlinter]),
no import cycle among dlproof's modules (function-level imports included), and every chapter and capability
of the one declaration (dlproof.capabilities) present in each layer that must have it."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

grimp = pytest.importorskip("grimp")

from dlproof.capabilities import CAPABILITY_LIST, CHAPTERS, chapter_modules, reference_functions  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_layers_contract_is_kept():
    from importlinter.cli import lint_imports

    cwd = os.getcwd()
    os.chdir(ROOT)  # import-linter reads the contract from ./pyproject.toml
    try:
        assert lint_imports(no_cache=True) == 0, "an import breaks the layers contract (see the output above)"
    finally:
        os.chdir(cwd)


def test_no_import_cycle():
    graph = grimp.build_graph("dlproof")
    cycles = set()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back:
                cycles.add(" -> ".join((module, *back)))
    assert not cycles, "import cycles:\n" + "\n".join(sorted(cycles))


def test_every_chapter_has_its_derivations():
    found = chapter_modules("derivations")
    assert found == tuple(f"dlproof.derivations.{c.name}" for c in CHAPTERS)


@pytest.mark.parametrize("layer", ["impl.numpy_ref", "impl.torch_ref"])
def test_every_capability_has_a_reference_function_named_after_it(layer):
    if layer == "impl.torch_ref":
        pytest.importorskip("torch")
    assert list(reference_functions(layer)) == [c.name for c in CAPABILITY_LIST]


def test_every_chapter_with_capabilities_has_properties():
    from dlproof.properties.registry import all_properties

    props = all_properties().values()
    for chapter in {c.chapter for c in CAPABILITY_LIST}:
        assert f"dlproof.properties.{chapter}" in chapter_modules("properties"), chapter
        caps = {c.name for c in CAPABILITY_LIST if c.chapter == chapter}
        assert caps <= {c for p in props for c in p.capabilities}, f"a capability of {chapter} has no property"


def test_readme_capability_table_is_the_declaration():
    import re

    from dlproof.capabilities import markdown_table

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- capabilities: begin -->\n(.*?)\n<!-- capabilities: end -->", readme, re.S)
    assert found, "README.md lost its generated capability table"
    assert found.group(1) == markdown_table(), (
        "README.md's capability table differs from dlproof/capabilities.py; regenerate it with\n"
        "python -c 'from dlproof.capabilities import markdown_table; print(markdown_table())'")


def test_every_published_id_belongs_to_a_declared_chapter():
    """Derivation ids start with their chapter's prefix; property ids with a chapter prefix, a capability name
    or a suite-wide module's name (extremes., protocol.)."""
    from dlproof.derivations.registry import specs
    from dlproof.properties.registry import SUITE_WIDE, all_properties

    prefixes = {c.prefix for c in CHAPTERS}
    assert {rid.split(".")[0] for rid in specs()} <= prefixes
    allowed = prefixes | {c.name for c in CAPABILITY_LIST} | set(SUITE_WIDE)
    assert {pid.split(".")[0] for pid in all_properties()} <= allowed


def test_both_books_list_the_same_chapters_in_the_same_order_with_titles():
    """The committed Markdown and HTML books (kept fresh by their own tests) render one chapter list: the
    declared chapters, in order, with their titles."""
    import re

    want = [c.title for c in CHAPTERS]
    md = (ROOT / "reports" / "derivations.md").read_text(encoding="utf-8")
    page = (ROOT / "reports" / "book.html").read_text(encoding="utf-8")
    assert re.findall(r"^## (.+)$", md, re.M)[1:] == want  # after "## Contents"
    assert re.findall(r'<section id="group-[^"]+"><h3>([^<]+)</h3>', page) == want
