"""Content-addressed cache of derivation records (JSON) and generated kernels (Python source): the user's
on-disk cache, and the read-only cache shipped inside the package (``dlproof/proofs/``).

Key: the cache `FORMAT`, SymPy's version, and the bytes of every file that carries a proof:
every ``*.py`` under ``dlproof/derivations/`` (subpackages included: the derivation modules, the registry,
``prove``/``certify``/``codegen`` and the rest of the proof machinery) except `NOT_PROOF`, the files no record
or kernel is built from, plus `KEYED_OUTSIDE`, the files of ``dlproof/`` outside it that records and kernels
are built from (``parameters.py``: the order of the cells' parameters, hence of the kernels' arguments):

- ``claims.py``: the claims ledger's wording (read by `dlproof.ledger`, never by a derivation);
- ``oracle*.py``: the float64 oracles, which consume the kernels and produce neither records nor kernels;
- ``cache.py``: this module (a change of the cache's layout bumps `FORMAT`).

So editing a claim's wording or an oracle keeps the key (no cold re-proof), while an edit of any file a record
is built from, its text (title, LaTeX, notes: written in the derivation modules) included, changes it and can
never leave a stale "proved". No keyed file imports an excluded one (a test checks it), so the records'
text always comes from keyed files. Writes go through `dlproof.atomic` (temp file and ``os.replace``);
concurrent pytest-xdist workers write identical bytes, so no lock is needed. The warm path reads JSON and
imports the kernel module without importing SymPy.

Lookup (`dlproof.derivations.records` / ``kernels``): the user cache for the current key, else the shipped
cache when its manifest was written under the current key AND each shipped file's SHA-256 equals the
manifest's (and ``$DLPROOF_SHIPPED_PROOFS`` is not ``off``), else a cold build (with a progress line on
stderr). A shipped cache is never written at run time
(site-packages may be read-only); ``dlproof derive --reprove --write-shipped`` regenerates it. The manifest
(`MANIFEST`) holds the key, the SHA-256 of each file (`SHIPPED_FILES`), the SymPy, Python (the one it was
built with: information, not part of the key) and dlproof versions and the format: written by `shipped_manifest`, checked by `shipped`.

Location of the user cache: ``$DLPROOF_CACHE_DIR``, else ``$XDG_CACHE_HOME/dlproof``, else
``~/.cache/dlproof``. Layout: ``records-<key>.json`` and ``kernels-<key>.py`` there; ``records.json``,
``kernels.py.txt`` (Python source, named so no tool of the repository treats generated code as its own)
and ``manifest.json`` in the shipped folder.
"""
from __future__ import annotations

import fnmatch
import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from dlproof.atomic import write_atomic

FORMAT = 1

#: file name patterns under derivations/ that carry no proof (see the module docstring)
NOT_PROOF = ("claims.py", "oracle*.py", "cache.py")

#: files of dlproof/ outside derivations/ that records or kernels are built from (hashed into the key too);
#: the other dlproof modules keyed files import carry no record content: `UNKEYED_OUTSIDE`
KEYED_OUTSIDE = ("parameters.py",)

#: dlproof modules outside derivations/ that keyed files import without building a record or kernel from them
UNKEYED_OUTSIDE = {
    "atomic": "writes the cache files (storage, no content)",
    "capabilities": "says which chapter modules the registry imports; every such module is keyed, and a "
                    "chapter left out loses its records (a KeyError), never changes one",
}

HERE = Path(__file__).parent

#: the shipped cache: package data of dlproof, read-only at run time
SHIPPED = HERE.parent / "proofs"
MANIFEST = "manifest.json"
SHIPPED_FILES = {"records": "records.json", "kernels": "kernels.py.txt"}

#: the command that regenerates the shipped cache (a maintainer's, from a source checkout)
REGENERATE = "dlproof derive --reprove --write-shipped"


def cache_dir() -> Path:
    env = os.environ.get("DLPROOF_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dlproof"


def proof_files(root: Path = HERE) -> list[Path]:
    """The files under ``root`` the key hashes: every ``*.py`` whose name matches no `NOT_PROOF` pattern, sorted."""
    return sorted(p for p in root.rglob("*.py")
                  if not any(fnmatch.fnmatch(p.name, pat) for pat in NOT_PROOF))


def python_version() -> str:
    return "{}.{}".format(*sys.version_info[:2])


def cache_key(root: Path = HERE) -> str:
    """sha256 (first 20 hex digits) of `FORMAT`, the SymPy version, the `proof_files` under ``root`` (a copy of
    derivations/ in the tests) and the `KEYED_OUTSIDE` files of the installed package. Not the Python version:
    the records and kernels are byte-identical under Python 3.10 to 3.13 (measured), a proof found under one
    Python is a proof under another, and ``dlproof derive --reprove`` (CI) says if a re-proof ever differs."""
    h = hashlib.sha256(f"format={FORMAT};sympy={version('sympy')}".encode())
    for p in proof_files(root):
        h.update(p.relative_to(root).as_posix().encode())
        h.update(p.read_bytes())
    for name in KEYED_OUTSIDE:
        h.update(f"../{name}".encode())
        h.update((HERE.parent / name).read_bytes())
    return h.hexdigest()[:20]


def load_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def records_bytes(records: dict) -> bytes:
    """The one serialisation of the records (user cache and shipped cache alike): byte-comparable."""
    return json.dumps(records, indent=1, sort_keys=True).encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _dlproof_version() -> str:
    try:
        return version("dlproof")
    except PackageNotFoundError:
        return "unknown"


def shipped_manifest(files: dict[str, bytes], key: str) -> dict:
    """The manifest of a shipped cache holding ``files`` ({file name: bytes}) built under ``key``."""
    if set(files) != set(SHIPPED_FILES.values()):
        raise ValueError(f"shipped_manifest: files must be exactly {sorted(SHIPPED_FILES.values())}, "
                         f"got {sorted(files)}")
    return {"format": FORMAT, "key": key, "sympy": version("sympy"), "python": python_version(),
            "dlproof": _dlproof_version(), "files": {name: sha256(data) for name, data in sorted(files.items())}}


def manifest_bytes(manifest: dict) -> bytes:
    return (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode("utf-8")


def _why_not(manifest, key: str) -> str:
    """Why a manifest written under another key does not apply: the versions it names, else the sources."""
    if not isinstance(manifest, dict):
        return "its manifest is missing or unreadable"
    sympy_now = version("sympy")
    if manifest.get("sympy") != sympy_now:
        return f"they were built for SymPy {manifest.get('sympy')} (installed: {sympy_now})"
    return f"they were built from other proof-carrying sources (key {manifest.get('key')}, now {key})"


def _say(text: str) -> None:
    print(f"dlproof: {text}", file=sys.stderr, flush=True)


#: the environment variable that turns the shipped cache off (values in `_OFF`; `_ON` or unset: on)
SHIPPED_ENV = "DLPROOF_SHIPPED_PROOFS"
_OFF, _ON = ("0", "off", "no", "false"), ("", "1", "on", "yes", "true")


def shipped_enabled() -> bool:
    """False when ``$DLPROOF_SHIPPED_PROOFS`` is off (0/off/no/false): records and kernels then come from the
    user cache or a cold build only (tests of the cold path; users who prove everything themselves)."""
    value = os.environ.get(SHIPPED_ENV, "").strip().lower()
    if value not in _OFF + _ON:
        raise ValueError(f"${SHIPPED_ENV}={os.environ[SHIPPED_ENV]!r}: expected one of {', '.join(_OFF + _ON[1:])} "
                         "(or unset)")
    return value not in _OFF


def shipped(key: str, folder: Path | None = None):
    """The verified contents ``{"records": bytes, "kernels": bytes}`` of the shipped cache, or None (turned off
    by `SHIPPED_ENV`, absent, or rejected: `_verified`). ``folder`` defaults to `SHIPPED` (read at call time)."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"shipped: key must be a non-empty string (cache_key()), got {key!r}")
    if not shipped_enabled():
        return None
    return _verified(key, Path(SHIPPED if folder is None else folder))


@lru_cache(maxsize=None)
def _verified(key: str, folder: Path):
    """The verified contents ``{"records": bytes, "kernels": bytes}`` of the shipped cache in ``folder``, or
    None: when the folder is absent (a source checkout without it: silently), when its manifest was written
    under another key than ``key``, or when a file's SHA-256 differs from the manifest's (both said once on
    stderr, once per process and folder). The bytes returned are the ones hashed, so nothing unverified is
    ever parsed or imported."""
    if not folder.is_dir():
        return None
    manifest = load_json(folder / MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("key") != key or manifest.get("format") != FORMAT:
        _say(f"the shipped proofs in {folder} do not apply: {_why_not(manifest, key)}; re-proving")
        return None
    out = {}
    for what, name in SHIPPED_FILES.items():
        try:
            data = (folder / name).read_bytes()
        except OSError as exc:
            _say(f"the shipped proof file {folder / name} cannot be read ({exc.strerror or exc}); re-proving")
            return None
        if sha256(data) != manifest.get("files", {}).get(name):
            _say(f"the shipped proof file {folder / name} does not match its manifest's SHA-256 "
                 "(altered or corrupted); re-proving")
            return None
        out[what] = data
    return out


class _VerifiedSource(importlib.machinery.SourceFileLoader):
    """Loads the module from the given, already verified, source bytes; reads and writes no bytecode (the
    shipped folder may be read-only, and a stale .pyc beside it must not replace the verified source)."""

    def __init__(self, name: str, path: Path, source: bytes):
        super().__init__(name, str(path))
        self.source = source

    def get_data(self, path):
        if path == self.path:
            return self.source
        raise OSError(f"{path}: no bytecode is read for verified source")

    def set_data(self, path, data, *, _mode=0o666):
        pass  # no bytecode written


def import_file(name: str, path: Path, source: bytes | None = None):
    """Import the module at ``path`` as ``name``; with ``source``, execute exactly those bytes (verified ones)."""
    loader = None if source is None else _VerifiedSource(name, path, source)
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    if spec is None:
        raise ValueError(f"import_file: {path} is not a Python source file")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _records_by_id(data: bytes) -> dict:
    try:
        recs = json.loads(data)
    except ValueError:
        return {}
    return recs if isinstance(recs, dict) else {}


def _kernel_functions(source: bytes) -> dict[str, str]:
    """{function name: its text} of a generated kernel module (top-level ``def name(`` blocks; "" the header)."""
    out, name = {"": []}, ""
    for line in source.decode("utf-8", errors="replace").splitlines():
        if line.startswith("def "):
            name = line[4:].split("(", 1)[0]
            out[name] = []
        out.setdefault(name, []).append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def _named_differences(name: str, built: bytes, stored: bytes) -> list[str]:
    """What differs between two versions of a shipped file, by record id (records) or function (kernels)."""
    if name == SHIPPED_FILES["records"]:
        a, b, unit = _records_by_id(built), _records_by_id(stored), "record"
    else:
        a, b, unit = _kernel_functions(built), _kernel_functions(stored), "kernel"
    named = []
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            how = "only in the re-proved" if k not in b else "only in the shipped" if k not in a else "differs"
            named.append(f"{name}: {unit} {k or '(module header)'} {how}")
    return named or [f"{name}: the bytes differ (formatting)"]


def differences(built: dict[str, bytes], key: str, folder: Path | None = None) -> list[str]:
    """What differs between freshly built files (``{file name: bytes}``, the `SHIPPED_FILES` names) under
    ``key`` and the shipped cache in ``folder`` (default `SHIPPED`): its manifest's key, each file's bytes
    (naming the record ids / kernel functions that differ) and each file's SHA-256 against the manifest.
    An empty list: the shipped cache is exactly what the sources prove now."""
    if set(built) != set(SHIPPED_FILES.values()):
        raise ValueError(f"differences: built must hold exactly {sorted(SHIPPED_FILES.values())}, got {sorted(built)}")
    folder = Path(SHIPPED if folder is None else folder)
    manifest = load_json(folder / MANIFEST)
    out = []
    if not isinstance(manifest, dict):
        out.append(f"{MANIFEST}: missing or unreadable in {folder}")
        manifest = {}
    elif manifest.get("key") != key or manifest.get("format") != FORMAT:
        out.append(f"{MANIFEST}: written under key {manifest.get('key')} (format {manifest.get('format')}), "
                   f"current key {key}: {_why_not(manifest, key)}")
    for name, data in sorted(built.items()):
        try:
            stored = (folder / name).read_bytes()
        except OSError:
            out.append(f"{name}: missing in {folder}")
            continue
        if stored != data:
            out.extend(_named_differences(name, data, stored))
        if sha256(stored) != manifest.get("files", {}).get(name):
            out.append(f"{name}: its bytes do not match the manifest's SHA-256")
    return out


def write_shipped(built: dict[str, bytes], key: str, folder: Path | None = None) -> Path:
    """Write a shipped cache (the files, then their manifest) into ``folder`` (default `SHIPPED`); -> the folder.
    A maintainer's step (``dlproof derive --reprove --write-shipped``), never run on a user's lookup."""
    folder = Path(SHIPPED if folder is None else folder)
    manifest = shipped_manifest(built, key)
    for name, data in sorted(built.items()):
        write_atomic(folder / name, data)
    write_atomic(folder / MANIFEST, manifest_bytes(manifest))
    _verified.cache_clear()
    return folder
