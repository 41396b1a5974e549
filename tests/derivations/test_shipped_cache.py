"""The proofs shipped with the package (dlproof/proofs/, `dlproof.derivations.cache`): current, verified before
use (key and SHA-256 of each file), rejected and rebuilt otherwise, and loaded without SymPy."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import dlproof.derivations as derivations
from dlproof import cli
from dlproof.derivations import cache

RECORDS, KERNELS = cache.SHIPPED_FILES["records"], cache.SHIPPED_FILES["kernels"]


def _files(tag: str) -> dict:
    """A tiny stand-in for a shipped cache's files: one record and one kernel, both naming ``tag``."""
    recs = {f"{tag}.id": {"id": f"{tag}.id", "status": "proved"}}
    return {RECORDS: cache.records_bytes(recs), KERNELS: f'SOURCE = "{tag}"\n\n\ndef k(x):\n    return x\n'.encode()}


def _clear():
    derivations.records.cache_clear(), derivations.kernels.cache_clear(), cache._verified.cache_clear()


@pytest.fixture
def stubbed(tmp_path, monkeypatch):
    """An empty user cache, a shipped folder in tmp_path, and SymPy builds stubbed (they return "built" files
    and count their calls)."""
    monkeypatch.setenv("DLPROOF_CACHE_DIR", str(tmp_path / "user"))
    monkeypatch.delenv(cache.SHIPPED_ENV, raising=False)
    monkeypatch.setattr(cache, "SHIPPED", tmp_path / "shipped")
    built, calls = _files("built"), []
    monkeypatch.setattr(derivations, "_build_records",
                        lambda: calls.append("records") or json.loads(built[RECORDS]))
    monkeypatch.setattr(derivations, "_build_kernels_source", lambda: calls.append("kernels") or built[KERNELS].decode())
    _clear()
    yield calls
    _clear()


def _user_files():
    """dlproof's files in the user cache folder (Python's own __pycache__, written there when the kernels module is
    imported with bytecode writing on, as on a fresh machine, is not one of them)."""
    if not cache.cache_dir().exists():
        return []
    return sorted(p.name for p in cache.cache_dir().glob("*") if p.name != "__pycache__")


def test_the_shipped_cache_is_current():
    """A source edit without regenerating the shipped proofs fails here, with the command that regenerates them."""
    manifest = cache.load_json(cache.SHIPPED / cache.MANIFEST)
    assert manifest is not None, f"no {cache.MANIFEST} in {cache.SHIPPED}: run `{cache.REGENERATE}`"
    assert manifest["key"] == cache.cache_key(), (
        f"the shipped proofs were built under key {manifest['key']} (SymPy {manifest['sympy']}, Python "
        f"{manifest['python']}), the sources now give {cache.cache_key()}: run `{cache.REGENERATE}`")
    for name, digest in manifest["files"].items():
        assert cache.sha256((cache.SHIPPED / name).read_bytes()) == digest, f"{name}: run `{cache.REGENERATE}`"
    assert set(manifest["files"]) == set(cache.SHIPPED_FILES.values())


def test_a_valid_shipped_cache_is_used_as_is(stubbed, capsys):
    """Built under another Python (the manifest says which), the same key: used, re-proving nothing."""
    folder = cache.write_shipped(_files("shipped"), cache.cache_key())
    manifest = json.loads((folder / cache.MANIFEST).read_bytes())
    (folder / cache.MANIFEST).write_bytes(cache.manifest_bytes(dict(manifest, python="3.99")))
    assert list(derivations.records()) == ["shipped.id"]
    assert derivations.kernels().SOURCE == "shipped"
    assert stubbed == [], "nothing is re-proved"
    assert _user_files() == [], "nothing is written at run time"
    assert not list(cache.SHIPPED.glob("__pycache__")), "no bytecode is written beside the shipped source"
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("field, value, why", [
    ("key", "0" * 20, "other proof-carrying sources"),
    ("sympy", "0.7.6", "SymPy 0.7.6"),
])
def test_a_shipped_cache_built_under_another_key_is_rejected_and_rebuilt(stubbed, capsys, field, value, why):
    folder = cache.write_shipped(_files("shipped"), cache.cache_key())
    manifest = json.loads((folder / cache.MANIFEST).read_bytes())
    manifest.update({field: value, "key": "0" * 20})  # a manifest for other versions is for another key too
    (folder / cache.MANIFEST).write_bytes(cache.manifest_bytes(manifest))
    assert list(derivations.records()) == ["built.id"] and derivations.kernels().SOURCE == "built"
    assert stubbed == ["records", "kernels"]
    err = capsys.readouterr().err
    assert why in err and "re-proving" in err and err.count("do not apply") == 1, err
    assert "about a minute" in err and str(cache.cache_dir()) in err, "a cold build says what, how long, where"
    key = cache.cache_key()
    assert _user_files() == [f"kernels-{key}.py", f"records-{key}.json"]


@pytest.mark.parametrize("name", [RECORDS, KERNELS])
def test_a_shipped_file_whose_bytes_differ_from_the_manifest_is_rejected_and_rebuilt(stubbed, capsys, name):
    folder = cache.write_shipped(_files("shipped"), cache.cache_key())
    data = bytearray((folder / name).read_bytes())
    data[data.index(b"shipped")] ^= 0x20  # one byte: "Shipped"
    (folder / name).write_bytes(bytes(data))
    assert list(derivations.records()) == ["built.id"] and derivations.kernels().SOURCE == "built"
    assert stubbed == ["records", "kernels"]
    err = capsys.readouterr().err
    assert f"{name} does not match its manifest's SHA-256" in err and "re-proving" in err, err


def test_the_shipped_cache_can_be_turned_off(stubbed, monkeypatch):
    cache.write_shipped(_files("shipped"), cache.cache_key())
    monkeypatch.setenv(cache.SHIPPED_ENV, "off")
    assert list(derivations.records()) == ["built.id"] and stubbed == ["records"]
    monkeypatch.setenv(cache.SHIPPED_ENV, "maybe")
    with pytest.raises(ValueError, match="DLPROOF_SHIPPED_PROOFS='maybe'"):
        cache.shipped(cache.cache_key())
    with pytest.raises(ValueError, match="non-empty string"):
        cache.shipped("")


def test_the_shipped_and_warm_paths_import_no_sympy(tmp_path, monkeypatch):
    """The real shipped cache, then the same files as a warm user cache, with every SymPy import failing and
    the builders refusing to run."""
    for name in [m for m in sys.modules if m == "sympy" or m.startswith("sympy.")] + ["sympy"]:
        monkeypatch.setitem(sys.modules, name, None)

    def refuse():
        raise AssertionError("a cold build on the warm path")

    monkeypatch.setattr(derivations, "_build_records", refuse)
    monkeypatch.setattr(derivations, "_build_kernels_source", refuse)
    monkeypatch.setenv("DLPROOF_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv(cache.SHIPPED_ENV, raising=False)
    key = cache.cache_key()
    try:
        _clear()
        assert cache.shipped(key) is not None, f"the shipped proofs are stale: run `{cache.REGENERATE}`"
        recs, kern = derivations.records(), derivations.kernels()
        assert recs and kern.__file__ == str(cache.SHIPPED / KERNELS) and _user_files() == []
        shutil.copy(cache.SHIPPED / RECORDS, tmp_path / f"records-{key}.json")
        shutil.copy(cache.SHIPPED / KERNELS, tmp_path / f"kernels-{key}.py")
        monkeypatch.setattr(cache, "SHIPPED", tmp_path / "absent")
        _clear()
        assert derivations.records() == recs
        assert derivations.kernels().__file__ == str(tmp_path / f"kernels-{key}.py")
    finally:
        _clear()


def test_differences_name_the_records_and_kernels(tmp_path):
    key = cache.cache_key()
    folder = cache.write_shipped(_files("x"), key, tmp_path)
    assert cache.differences(_files("x"), key, folder) == []
    other = _files("x")
    other[RECORDS] = cache.records_bytes({"x.id": {"id": "x.id", "status": "undecided"}, "new.id": {}})
    other[KERNELS] = other[KERNELS].replace(b"return x", b"return -x")
    assert cache.differences(other, key, folder) == [
        f"{KERNELS}: kernel k differs", f"{RECORDS}: record new.id only in the re-proved",
        f"{RECORDS}: record x.id differs"]
    assert cache.differences(_files("x"), "f" * 20, folder)[0].startswith(f"{cache.MANIFEST}: written under key")
    (folder / RECORDS).write_bytes(b" " + (folder / RECORDS).read_bytes())
    assert cache.differences(_files("x"), key, folder) == [
        f"{RECORDS}: the bytes differ (formatting)", f"{RECORDS}: its bytes do not match the manifest's SHA-256"]
    with pytest.raises(ValueError, match="exactly"):
        cache.differences({RECORDS: b"{}"}, key, folder)


def test_derive_reprove_compares_and_writes_the_shipped_cache(stubbed, monkeypatch, capsys):
    monkeypatch.setattr(derivations, "rebuild", lambda: _files("built"))
    cache.write_shipped(_files("shipped"), cache.cache_key())
    assert cli.main(["derive", "--reprove"]) == 1
    err = capsys.readouterr().err
    assert f"{RECORDS}: record built.id only in the re-proved" in err and cache.REGENERATE in err, err
    assert cli.main(["derive", "--reprove", "--write-shipped"]) == 0
    assert cli.main(["derive", "--reprove"]) == 0
    assert "byte for byte" in capsys.readouterr().out
    assert cli.main(["derive", "--write-shipped"]) == 2
    assert cli.main(["derive", "rnn.cell.forward", "--reprove"]) == 2


def test_rebuild_writes_the_user_cache(stubbed):
    built = derivations.rebuild()
    assert built == _files("built") and stubbed == ["records", "kernels"]
    key = cache.cache_key()
    assert (cache.cache_dir() / f"records-{key}.json").read_bytes() == built[RECORDS]
    assert (cache.cache_dir() / f"kernels-{key}.py").read_bytes() == built[KERNELS]


def test_the_cells_parameter_order_is_keyed(tmp_path, monkeypatch):
    """parameters.py (outside derivations/) orders the kernels' arguments: an edit must change the key."""
    pkg = tmp_path / "dlproof"
    shutil.copytree(cache.HERE, pkg / "derivations", ignore=shutil.ignore_patterns("__pycache__"))
    for name in cache.KEYED_OUTSIDE:
        shutil.copy(cache.HERE.parent / name, pkg / name)
    monkeypatch.setattr(cache, "HERE", pkg / "derivations")
    key = cache.cache_key(pkg / "derivations")
    with open(pkg / "parameters.py", "a", encoding="utf-8") as f:
        f.write("\n# the parameter order, edited\n")
    assert cache.cache_key(pkg / "derivations") != key


def test_every_dlproof_module_a_keyed_file_imports_is_keyed_or_carries_no_proof():
    """``from dlproof.X import`` / ``import dlproof.X`` in a keyed file, X outside derivations/: keyed or argued."""
    for path in cache.proof_files():
        for mod in re.findall(r"^\s*(?:from|import)\s+dlproof\.(\w+)", path.read_text(encoding="utf-8"), re.M):
            assert mod == "derivations" or f"{mod}.py" in cache.KEYED_OUTSIDE or mod in cache.UNKEYED_OUTSIDE, (
                f"{path.name} imports dlproof.{mod}: key it (cache.KEYED_OUTSIDE) or say why not (UNKEYED_OUTSIDE)")


@pytest.mark.slow
def test_a_tampered_shipped_cache_is_rejected_and_re_proved_in_a_fresh_install(tmp_path):
    """The real thing, in subprocesses on a copy of the package whose shipped records were altered (one status
    flipped) and an empty cache dir: `dlproof derive ID --json` names the altered file and re-proves (the genuine
    status); `dlproof derive --reprove` exits 1 naming the record and the hash; the next run is warm, quiet and
    imports no SymPy."""
    pkg = tmp_path / "site" / "dlproof"
    shutil.copytree(cache.HERE.parent, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    genuine = (pkg / "proofs" / RECORDS).read_bytes()
    recs = json.loads(genuine)
    rid = min((k for k, r in recs.items() if r["status"] != "proved"), default=min(recs))
    honest = recs[rid]["status"]
    recs[rid]["status"] = "refuted" if honest == "proved" else "proved"  # e.g. a forged "proved"
    (pkg / "proofs" / RECORDS).write_bytes(cache.records_bytes(recs))
    env = dict(os.environ, PYTHONPATH=str(pkg.parent), DLPROOF_CACHE_DIR=str(tmp_path / "user"))
    env.pop(cache.SHIPPED_ENV, None)

    def dlproof(*args):
        return subprocess.run([sys.executable, "-m", "dlproof", *args], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=1800)

    run = dlproof("derive", rid, "--json")
    assert run.returncode == 0, run.stderr[-2000:]
    assert f"{pkg / 'proofs' / RECORDS} does not match its manifest's SHA-256" in run.stderr, run.stderr
    assert "deriving and proving" in run.stderr
    assert json.loads(run.stdout)["status"] == honest
    reprove = dlproof("derive", "--reprove")
    assert reprove.returncode == 1, reprove.stderr[-2000:]
    assert f"{RECORDS}: record {rid} differs" in reprove.stderr, reprove.stderr
    assert f"{RECORDS}: its bytes do not match the manifest's SHA-256" in reprove.stderr
    key = cache.cache_key()
    assert (tmp_path / "user" / f"records-{key}.json").read_bytes() == genuine, "the re-proof gives the shipped bytes"
    assert (tmp_path / "user" / f"kernels-{key}.py").read_bytes() == (pkg / "proofs" / KERNELS).read_bytes()
    warm = dlproof("derive", rid, "--json")
    assert warm.returncode == 0 and warm.stderr == "" and json.loads(warm.stdout)["status"] == honest, warm.stderr
    code = ("import sys, dlproof.derivations as d; d.records(); d.kernels(); "
            "assert d.__file__.startswith(sys.argv[1]), d.__file__; assert 'sympy' not in sys.modules; print('ok')")
    warm = subprocess.run([sys.executable, "-c", code, str(pkg)], env=env, cwd=tmp_path, capture_output=True,
                          text=True)
    assert warm.returncode == 0 and warm.stdout.strip() == "ok" and warm.stderr == "", warm.stderr


@pytest.mark.slow
def test_a_fresh_install_uses_the_shipped_cache_without_sympy(tmp_path):
    env = dict(os.environ, DLPROOF_CACHE_DIR=str(tmp_path))
    env.pop(cache.SHIPPED_ENV, None)
    code = "import sys, dlproof.derivations as d; d.records(); d.kernels(); print('sympy' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == "False" and run.stderr == "", run.stderr
    assert list(Path(tmp_path).iterdir()) == [], "nothing written: the shipped cache is read in place"
