"""The derivation cache key (dlproof/derivations/cache.py): it hashes the files that carry proofs, and only them."""
import ast
import fnmatch
import shutil

from dlproof.derivations import cache


def _tree(tmp_path):
    root = tmp_path / "derivations"
    shutil.copytree(cache.HERE, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_a_wording_or_oracle_change_keeps_the_key(tmp_path):
    root = _tree(tmp_path)
    key = cache.cache_key(root)
    assert key == cache.cache_key(), "the key depends on the files' content, not on where they lie"
    with open(root / "claims.py", "a", encoding="utf-8") as f:
        f.write("\n# a claim's wording, edited\n")
    for oracle in root.glob("oracle*.py"):
        with open(oracle, "a", encoding="utf-8") as f:
            f.write("\n# an oracle's comment, edited\n")
    assert cache.cache_key(root) == key


def test_a_proof_file_change_changes_the_key(tmp_path):
    root = _tree(tmp_path)
    key = cache.cache_key(root)
    with open(root / "prove.py", "a", encoding="utf-8") as f:
        f.write("\n# the prover, edited\n")
    edited = cache.cache_key(root)
    assert edited != key
    (root / "newchapter").mkdir()
    (root / "newchapter" / "__init__.py").write_text("# a chapter in a subpackage\n", encoding="utf-8")
    assert cache.cache_key(root) != edited, "a file in a subpackage is keyed too"


def test_every_derivation_module_is_keyed():
    keyed = {p.name for p in cache.proof_files()}
    assert {"__init__.py", "registry.py", "prove.py", "certify.py", "codegen.py"} <= keyed
    assert not keyed & {"claims.py", "cache.py"} and not any(n.startswith("oracle") for n in keyed)


def _imported_modules(path):
    """The dlproof.derivations module names a file imports (relative or absolute, last component)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level or mod.startswith("dlproof.derivations"):
                names.add(mod.rsplit(".", 1)[-1])
                names.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name.rsplit(".", 1)[-1] for a in node.names if a.name.startswith("dlproof.derivations"))
    return names


def test_no_keyed_file_imports_an_unkeyed_one():
    """So a record's text and proof come from keyed files only: no stale record after an unkeyed edit."""
    for path in cache.proof_files():
        for name in _imported_modules(path) - {"cache"}:  # the cache itself: storage, no record content
            assert not any(fnmatch.fnmatch(f"{name}.py", pat) for pat in cache.NOT_PROOF), (
                f"{path.name} imports {name}, which the cache key leaves out (cache.NOT_PROOF)")
