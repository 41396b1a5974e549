"""Findings: discrepancies between published libraries and the math, one folder each (reports/findings/<slug>/).

A finding folder holds
- ``finding.json``: ``title`` (one line), ``library`` (pip name), ``version`` (the version measured), ``kind``
  (``bug``: the library contradicts its own docs or the math with no declared intent; ``convention``: a deliberate,
  documented difference; ``limitation``), ``summary`` (what the library does, what the math says, the declared
  convention), ``effect`` (the measured size, with numbers), ``upstream`` (``{"documented": bool, "reference": URL
  or text}``), ``needs`` (the pip names the repro imports besides NumPy), ``device`` (``cpu`` | ``cuda``),
  ``expect`` (a regular expression the repro's stdout matches while the discrepancy is present) and ``dlproof``
  (``{"targets": {built-in spec: [property id, ...]}, "convention": "name=value" or ""}``: the built-in targets the
  finding concerns, with the properties it makes fail there, and the convention a target declares for it);
- ``repro.py``: a standalone script that needs only that library and NumPy (never dlproof). It prints the measured
  effect (one line matching ``expect``) and exits 0 while the discrepancy is present, or prints ``FIXED: ...`` and
  exits 3 once the library agrees with the math, or prints ``NOT HERE: ...`` and exits 4 when this machine does
  not run the code that has the discrepancy (e.g. torch runs a 16-bit convolution through oneDNN only on CPUs with
  AVX-512: on others its repro can neither show the bug nor say it is fixed).

``load(root)`` validates every folder (a ``ValueError`` names the folder and the field; a repro that imports
anything but its ``needs``, NumPy and the standard library is refused, read from its syntax tree),
``markdown(findings)`` renders the index (reports/findings.md, sorted by slug), ``known_failures(root)`` gives
``{spec: {property ids}}`` (the only failing properties a built-in's committed summary may show), ``verify``
runs a repro alone in an empty folder, in an isolated interpreter that cannot import dlproof, and ``main`` is
``dlproof findings [--check | --run]``.
"""
from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

#: the index's default places, relative to the repository root (the current folder of ``dlproof findings``)
DEFAULT_ROOT = Path("reports") / "findings"
DEFAULT_INDEX = Path("reports") / "findings.md"

KINDS = ("bug", "convention", "limitation")
DEVICES = ("cpu", "cuda")
#: exit status of a repro once the library agrees with the math
FIXED_EXIT = 3
#: exit status of a repro on a machine that does not run the code with the discrepancy (its reason on stdout)
NOT_HERE_EXIT = 4
FIELDS = ("title", "library", "version", "kind", "summary", "effect", "upstream", "needs", "device", "expect",
          "dlproof")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
_CONVENTION = re.compile(r"^$|^[a-z_][a-z0-9_]*=\S.*$")


@dataclass(frozen=True)
class Finding:
    """One validated finding folder. ``targets`` maps a built-in spec to the property ids the finding makes fail."""

    slug: str
    title: str
    library: str
    version: str
    kind: str
    summary: str
    effect: str
    documented: bool
    reference: str
    needs: tuple
    device: str
    expect: str
    targets: dict
    convention: str
    folder: Path

    @property
    def repro(self) -> Path:
        return self.folder / "repro.py"


#: modules any repro may import: the standard library and NumPy (never dlproof)
_ALWAYS = (set(getattr(sys, "stdlib_module_names", ())) | {"numpy", "__future__"}) - {"dlproof"}
#: import names of pip names that differ (the rest: the pip name with '-' read as '_')
_MODULES = {"scikit-learn": "sklearn", "pillow": "PIL"}


def _module(pip_name: str) -> str:
    return _MODULES.get(pip_name.lower(), pip_name.replace("-", "_"))


def repro_imports(path) -> set:
    """The top-level modules a repro script imports (read from its syntax tree, not by running it)."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        _fail(Path(path).parent, "repro.py", f"not valid Python: {exc}")
    mods = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            mods.add(node.module.split(".")[0])
    return mods


def _fail(folder, field: str, what: str):
    raise ValueError(f"finding {Path(folder).name!r} ({folder}): field {field!r}: {what}")


def _text(data: dict, folder, field: str, one_line: bool = False) -> str:
    v = data[field]
    if not isinstance(v, str) or not v.strip():
        _fail(folder, field, f"must be a non-empty string, got {v!r}")
    if one_line and "\n" in v:
        _fail(folder, field, "must be one line")
    return v.strip()


def validate(data, folder) -> Finding:
    """A ``Finding`` from the parsed ``finding.json`` of ``folder``; ``ValueError`` naming the folder and the field."""
    folder = Path(folder)
    if not _SLUG.match(folder.name):
        _fail(folder, "<folder name>", "a slug is lower-case letters, digits, '.' and '-'")
    if not isinstance(data, dict):
        _fail(folder, "<file>", f"finding.json must hold a JSON object, got {type(data).__name__}")
    missing = [f for f in FIELDS if f not in data]
    if missing:
        _fail(folder, missing[0], "missing" + (f" (also missing: {', '.join(missing[1:])})" if missing[1:] else ""))
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        _fail(folder, unknown[0], f"unknown field; the fields are {', '.join(FIELDS)}")
    title, library, version = (_text(data, folder, f, one_line=True) for f in ("title", "library", "version"))
    summary, effect = _text(data, folder, "summary"), _text(data, folder, "effect")
    kind = _text(data, folder, "kind")
    if kind not in KINDS:
        _fail(folder, "kind", f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    device = _text(data, folder, "device")
    if device not in DEVICES:
        _fail(folder, "device", f"unknown device {device!r}; one of {', '.join(DEVICES)}")
    up = data["upstream"]
    if not isinstance(up, dict) or set(up) != {"documented", "reference"}:
        _fail(folder, "upstream", f'must be {{"documented": true | false, "reference": str}}, got {up!r}')
    if not isinstance(up["documented"], bool) or not isinstance(up["reference"], str):
        _fail(folder, "upstream", f"documented must be true or false and reference a string, got {up!r}")
    if up["documented"] and not up["reference"].strip():
        _fail(folder, "upstream", "documented upstream needs the reference (URL or text)")
    needs = data["needs"]
    if not isinstance(needs, list) or not all(isinstance(n, str) and n.strip() for n in needs):
        _fail(folder, "needs", f"must be a list of pip names, got {needs!r}")
    if library not in needs:
        _fail(folder, "needs", f"must name the library {library!r} itself")
    expect = _text(data, folder, "expect")
    try:
        re.compile(expect)
    except re.error as exc:
        _fail(folder, "expect", f"not a valid regular expression ({exc}): {expect!r}")
    dl = data["dlproof"]
    if not isinstance(dl, dict) or set(dl) != {"targets", "convention"}:
        _fail(folder, "dlproof", f'must be {{"targets": {{spec: [property ids]}}, "convention": str}}, got {dl!r}')
    targets = dl["targets"]
    if not isinstance(targets, dict) or not all(
            isinstance(s, str) and s and isinstance(ids, list) and all(isinstance(i, str) and i for i in ids)
            for s, ids in targets.items()):
        _fail(folder, "dlproof.targets", f"must map built-in specs to lists of property ids, got {targets!r}")
    if not isinstance(dl["convention"], str) or not _CONVENTION.match(dl["convention"]):
        _fail(folder, "dlproof.convention", f'must be "name=value" or "", got {dl["convention"]!r}')
    if not (folder / "repro.py").is_file():
        _fail(folder, "repro.py", "the folder has no repro.py")
    extra = sorted(repro_imports(folder / "repro.py") - {_module(n) for n in needs} - _ALWAYS)
    if extra:
        _fail(folder, "repro.py", f"imports {', '.join(extra)}: a repro needs only {', '.join(needs)} and NumPy "
                                  "(list a library it needs under 'needs'; never dlproof)")
    return Finding(slug=folder.name, title=title, library=library, version=version, kind=kind, summary=summary,
                   effect=effect, documented=up["documented"], reference=up["reference"].strip(),
                   needs=tuple(n.strip() for n in needs), device=device, expect=expect,
                   targets={s: tuple(ids) for s, ids in sorted(targets.items())}, convention=dl["convention"],
                   folder=folder)


def load(root=DEFAULT_ROOT) -> list:
    """Every finding under ``root`` (one folder each, sorted by slug), validated."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"findings root {root} is not a folder")
    out = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        path = folder / "finding.json"
        if not path.is_file():
            _fail(folder, "finding.json", "the folder has no finding.json")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            _fail(folder, "finding.json", f"not valid JSON: {exc}")
        out.append(validate(data, folder))
    return out


#: the findings of the checkout this package runs from (an editable install or a clone); absent in a wheel
CHECKOUT_ROOT = Path(__file__).resolve().parent.parent / "reports" / "findings"


def known_failures(root=None) -> dict:
    """``{built-in spec: set of property ids}``: the failures of built-in targets that a finding explains (a spec
    whose findings list no property is left out: its summary must pass everywhere). ``root`` None: the
    checkout's findings (`CHECKOUT_ROOT`, the same from any working folder), or none where the package runs
    without its checkout (a wheel)."""
    if root is None:
        if not CHECKOUT_ROOT.is_dir():
            return {}
        root = CHECKOUT_ROOT
    out: dict = {}
    for f in load(root):
        for spec, ids in f.targets.items():
            if ids:
                out.setdefault(spec, set()).update(ids)
    return out


#: runs a repro (argv[1]) as __main__ in a fresh interpreter where importing dlproof fails
_NO_DLPROOF = """
import runpy, sys
class NoDlproof:
    def find_spec(self, name, path=None, target=None):
        if name == "dlproof" or name.startswith("dlproof."):
            raise ImportError("a finding's repro.py must not import dlproof")
sys.meta_path.insert(0, NoDlproof())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def cannot_run_here(f: Finding):
    """Why ``f``'s repro cannot run in this environment (a missing library, no CUDA GPU), or None."""
    import importlib.util

    missing = [n for n in f.needs if importlib.util.find_spec(_module(n)) is None]
    if missing:
        return f"needs {', '.join(missing)} (pip install {' '.join(missing)})"
    if f.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            return "needs a CUDA GPU (torch.cuda.is_available() is False)"
    return None


def run_repro(f: Finding, workdir, timeout: float = 120.0) -> subprocess.CompletedProcess:
    """Run a copy of ``f``'s repro.py alone in the empty folder ``workdir``, in an isolated interpreter (``-I``: no
    PYTHONPATH, no script folder on sys.path) where importing dlproof raises; stdout and stderr are captured."""
    workdir = Path(workdir)
    if not workdir.is_dir() or any(workdir.iterdir()):
        raise ValueError(f"run_repro: workdir {workdir} must be an existing empty folder")
    script = workdir / "repro.py"
    shutil.copyfile(f.repro, script)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-I", "-c", _NO_DLPROOF, str(script)], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=timeout)


class NotHere(Exception):
    """The repro cannot show its finding on this machine (exit `NOT_HERE_EXIT`); the message is its reason."""


def verify(f: Finding, workdir, timeout: float = 120.0):
    """Run ``f``'s repro (``run_repro``) and say what is wrong, or None when it still shows the finding: exit 0
    with stdout matching ``expect``. Exit 3 means the library now agrees with the math: "fixed upstream". Exit 4
    raises `NotHere` with the repro's reason: neither a pass nor a failure of the finding."""
    try:
        done = run_repro(f, workdir, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"{f.slug}: the repro ran past {timeout:g} s"
    tail = (done.stdout + done.stderr)[-2000:]
    if done.returncode == NOT_HERE_EXIT:
        raise NotHere(f"{f.slug}: {done.stdout.strip() or 'the repro exited 4 without a reason'}")
    if done.returncode == FIXED_EXIT:
        return (f"fixed upstream: update the finding reports/findings/{f.slug} ({f.library} {f.version} was "
                f"measured): {done.stdout.strip()}")
    if done.returncode != 0:
        return f"{f.slug}: the repro exited {done.returncode}:\n{tail}"
    if not re.search(f.expect, done.stdout):
        return f"{f.slug}: the repro's output no longer matches expect {f.expect!r}:\n{done.stdout.strip()}"
    return None


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _run_line(f: Finding) -> str:
    needs = ", ".join(f.needs)
    return (f"`python reports/findings/{f.slug}/repro.py` (needs {needs}"
            + ("; a CUDA GPU" if f.device == "cuda" else "") + ")")


def markdown(findings) -> str:
    """The index: one table row per finding, then a section per finding (deterministic: sorted by slug)."""
    findings = sorted(findings, key=lambda f: f.slug)
    lines = ["# Findings: published libraries against the math", "",
             "Each row is a discrepancy between a published library and the exact math that dlproof found and "
             "measured. Every folder `reports/findings/<slug>/` holds `finding.json` and `repro.py`, a standalone "
             "script that needs only the library and NumPy: it prints the measured effect and exits 0 while the "
             f"discrepancy is present, or prints `FIXED: ...` and exits {FIXED_EXIT} once the library agrees with "
             f"the math, or prints `NOT HERE: ...` and exits {NOT_HERE_EXIT} on a machine that does not run the code "
             "with the discrepancy. Kinds: **bug** (contradicts the library's own docs or the math with no declared intent), "
             "**convention** (deliberate and documented; dlproof checks it as a declared convention), "
             "**limitation**. Regenerate: `dlproof findings`; `pytest -m slow tests/findings` runs every repro "
             "that can run here.", "",
             "| finding | library | kind | effect | documented upstream | repro |", "|---|---|---|---|---|---|"]
    for f in findings:
        lines.append(f"| [{_cell(f.title)}](#{f.slug}) | {f.library} {f.version} | {f.kind} | {_cell(f.effect)} | "
                     f"{'yes' if f.documented else 'no'} | {_run_line(f)} |")
    for f in findings:
        lines += ["", f'<a id="{f.slug}"></a>', "", f"## {f.title}", "",
                  f"`{f.slug}`: {f.library} {f.version}, {f.kind}, {f.device}.", "", _cell(f.summary), "",
                  f"Measured: {_cell(f.effect)}", "",
                  "Declared convention: " + (f"`{f.convention}`" if f.convention else "none") + "."]
        if f.targets:
            lines.append("dlproof targets: " + "; ".join(
                f"`{s}`" + (" (fails " + ", ".join(f"`{i}`" for i in ids) + ")" if ids else "")
                for s, ids in f.targets.items()) + ".")
        lines += ["", "Upstream: " + ("documented" if f.documented else "not documented")
                  + (f": {_cell(f.reference)}" if f.reference else "") + ".", "",
                  f"Reproduce: {_run_line(f)}; while present its output matches `{f.expect}`."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    """``dlproof findings [--root DIR] [--out FILE] [--check | --run]``: regenerate the index, or (``--check``) exit
    1 when it is stale, or (``--run``) run every repro that can run here and exit 1 if one no longer shows its
    finding. A malformed finding is a usage error (exit 2, the message names the folder and the field)."""
    import argparse

    ap = argparse.ArgumentParser(prog="dlproof findings", description="regenerate reports/findings.md")
    ap.add_argument("--root", default=str(DEFAULT_ROOT), help="the findings folders (default reports/findings)")
    ap.add_argument("--out", default=str(DEFAULT_INDEX), help="the index to write (default reports/findings.md)")
    ap.add_argument("--check", action="store_true", help="exit 1 if the index is not what the folders give")
    ap.add_argument("--run", action="store_true", help="run every repro that can run here; exit 1 if one no "
                                                       "longer shows its finding (or was fixed upstream)")
    args = ap.parse_args(argv)
    try:
        found = load(args.root)
    except ValueError as exc:
        print(f"dlproof findings: {exc}", file=sys.stderr)
        return 2
    if args.run:
        return _run_all(found)
    text = markdown(found)
    out = Path(args.out)
    if args.check:
        current = out.read_text(encoding="utf-8") if out.is_file() else None
        if current != text:
            print(f"{out} is stale: run `dlproof findings`", file=sys.stderr)
            return 1
        print(f"{out} is up to date")
        return 0
    from dlproof.atomic import write_atomic

    write_atomic(out, text)
    print(f"wrote {out}")
    return 0


def _run_all(found) -> int:
    import tempfile

    bad = 0
    for f in found:
        why = cannot_run_here(f)
        if why:
            print(f"{f.slug}: skipped ({why})")
            continue
        with tempfile.TemporaryDirectory(prefix="dlproof-repro-") as tmp:
            try:
                problem = verify(f, tmp)
            except NotHere as exc:
                print(exc)  # "<slug>: NOT HERE: <why>"
                continue
        print(f"{f.slug}: {'still present' if problem is None else problem}")
        bad += problem is not None
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
