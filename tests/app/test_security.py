"""Loading a target imports user code by design; nothing else is ever evaluated.

(a) a static scan of the package's sources for calls that evaluate text or unpickle data; (b) ``dlproof
repro`` refuses an .npz with a pickled object array without unpickling it; (c) target specs from the
command line, $DLPROOF_TARGET and repro files that are not built-in names or ``module:attr`` are refused
without being evaluated.
"""
import ast
import builtins
import json
import os
import pickle
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from dlproof import cli
from dlproof.loader import TargetLoadError, load_target, specs_from

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("dlproof",)

#: calls that evaluate text, load code or unpickle data, whatever their arguments
DANGEROUS = {
    "builtins.eval", "builtins.exec", "builtins.compile", "builtins.__import__", "builtins.breakpoint",
    "pickle.load", "pickle.loads", "pickle.Unpickler", "_pickle.load", "_pickle.loads", "_pickle.Unpickler",
    "marshal.load", "marshal.loads", "shelve.open", "dill.load", "dill.loads", "cloudpickle.load",
    "cloudpickle.loads", "joblib.load", "pandas.read_pickle", "torch.load", "numpy.loads",
    "yaml.load", "yaml.load_all", "yaml.full_load", "yaml.full_load_all", "yaml.unsafe_load", "yaml.unsafe_load_all",
    "os.system", "os.popen", "os.execv", "os.execvp", "os.execl", "os.spawnl", "runpy.run_path", "runpy.run_module",
    "code.interact", "importlib.import_module", "importlib.__import__", "importlib.util.spec_from_file_location",
    "importlib.machinery.SourceFileLoader",
}
#: method names that run code whatever object they are called on
DANGEROUS_METHODS = {"exec_module", "load_module", "run_code"}
#: calls that parse text into SymPy: flagged unless the argument is a literal constant written in the source
SYMPY_PARSERS = {"sympy.sympify", "sympy.S", "sympy.parse_expr", "sympy.core.sympify.sympify",
                 "sympy.parsing.sympy_parser.parse_expr", "sympy.parsing.parse_expr"}

#: (file, what) -> (how many, why it is safe). Exact: a new occurrence, or one fewer, fails the scan.
ALLOWED = {
    ("dlproof/loader.py", "importlib.import_module"): (2, (
        "`_factory`: the module of a built-in target, a fixed name from BUILTINS; `load_target`: the module "
        "of a 'module:attr' spec, which is what loading a target means (user code, by design)")),
    ("dlproof/capabilities.py", "importlib.import_module"): (1, (
        "`reference_functions`: the reference module of a declared chapter, dlproof.<layer>.<chapter> with the "
        "chapter from the fixed CHAPTERS and the layer a constant of the caller")),
    ("dlproof/properties/registry.py", "importlib.import_module"): (1, (
        "`all_properties`: the property modules of this package, named by the fixed CHAPTERS and SUITE_WIDE")),
    ("dlproof/impl/adapters/torch_nn.py", "importlib.import_module"): (1, (
        "`chapter_capabilities`: the torch.nn adapter module of a declared chapter, "
        "dlproof.impl.adapters.torch_nn_<chapter> with the chapter from the fixed CHAPTERS")),
    ("dlproof/impl/adapters/torch_compile.py", "importlib.import_module"): (2, (
        "`compiled_view`: the torch reference module of a chapter, dlproof.impl.torch_ref.<chapter> with the "
        "chapter checked against the fixed HELPERS/USES tables first")),
    ("dlproof/derivations/registry.py", "importlib.import_module"): (1, (
        "`load_modules`: the derivation modules of this package, named by the fixed CHAPTERS")),
    ("dlproof/derivations/cache.py", "importlib.util.spec_from_file_location"): (1, (
        "`import_file`: a kernel module the derivation cache itself generated and wrote (content-addressed "
        "by the hash of the derivation sources), in the user's own cache folder")),
    ("dlproof/derivations/cache.py", ".exec_module"): (1, "the same kernel module, executed by `import_file`"),
    ("dlproof/derivations/prove.py", "sympy.sympify"): (7, (
        "`prove_zero`, `prove_equal`, `prove_true`, `prove_positive` and the refuters coerce SymPy expressions, "
        "matrices, relations and Python numbers built by the derivation modules; no text from the command line, "
        "the environment or a file reaches them. `as_expr`, the coercion the other derivation modules use, is "
        "strict: it refuses text")),
}


# ---- (a) the scan -------------------------------------------------------------------------------

def _dotted(node):
    """'a.b.c' for Name/Attribute chains, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def _bindings(tree):
    """name -> set of dotted names it is bound to (imports and ``x = a.b`` anywhere), and the names the module
    defines at top level otherwise (functions, classes, assignments), which shadow builtins. Scopes are not
    told apart: a parameter that shadows a builtin would be a false alarm here, never a miss."""
    aliases, local = {}, set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            local.add(node.name)
        elif isinstance(node, ast.Assign) and _dotted(node.value) is None:
            local.update(t.id for t in node.targets if isinstance(t, ast.Name))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    aliases.setdefault(a.asname, set()).add(a.name)
                else:
                    top = a.name.split(".")[0]
                    aliases.setdefault(top, set()).add(top)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            for a in node.names:
                aliases.setdefault(a.asname or a.name, set()).add(f"{base}.{a.name}" if base else a.name)
        elif isinstance(node, ast.Assign) and _dotted(node.value) is not None:
            for t in node.targets:
                if isinstance(t, ast.Name):
                    aliases.setdefault(t.id, set()).add(_dotted(node.value))
    return aliases, local


def _resolve(name: str, aliases: dict, local: set, depth: int = 0) -> set:
    head, _, rest = name.partition(".")
    if head in aliases and depth < 5:
        out = set()
        for target in aliases[head]:
            full = target + ("." + rest if rest else "")
            out |= _resolve(full, aliases, local, depth + 1) if full.split(".")[0] != head else {full}
        return out
    if head not in local and hasattr(builtins, head):
        return {f"builtins.{name}"}
    return {name}


def _literal(node) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float))


def scan(source: str) -> list:
    """(line, what) for every call in ``source`` that evaluates, loads code or unpickles (see the sets above)."""
    tree = ast.parse(source)
    aliases, local = _bindings(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        for kw in node.keywords:
            if kw.arg == "allow_pickle" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                found.append((node.lineno, "allow_pickle not False"))
            if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                found.append((node.lineno, "shell=True"))
        if isinstance(node.func, ast.Attribute) and node.func.attr in DANGEROUS_METHODS:
            found.append((node.lineno, f".{node.func.attr}"))
        name = _dotted(node.func)
        if name is None:
            continue
        for full in _resolve(name, aliases, local):
            if full in DANGEROUS:
                found.append((node.lineno, full))
            elif full in SYMPY_PARSERS or full.startswith("sympy.parsing."):
                if not (node.args and all(_literal(a) for a in node.args)):
                    found.append((node.lineno, full))
            elif full in ("numpy.load", "numpy.lib.npyio.load"):
                if not any(kw.arg == "allow_pickle" for kw in node.keywords):  # its value is checked above
                    found.append((node.lineno, "numpy.load without allow_pickle=False"))
    return sorted(found)  # one entry per call: two on a line count twice


def _sources():
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "__pycache__" not in path.parts:
                yield path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")


SCANNER_CASES = '''
import pickle, marshal, yaml, importlib, os, subprocess
import numpy as np
import sympy as sp
from numpy import load as L
from sympy import sympify, S
from sympy.parsing.sympy_parser import parse_expr
import re

def f(text, path, spec, model):
    eval(text)                                   # BAD
    exec(text)                                   # BAD
    compile(text, "<x>", "eval")                 # BAD
    pickle.loads(text)                           # BAD
    marshal.load(path)                           # BAD
    yaml.load(text)                              # BAD
    np.load(path)                                # BAD numpy.load without allow_pickle=False
    np.load(path, allow_pickle=True)             # BAD
    L(path, allow_pickle=spec)                   # BAD allow_pickle not False
    sympify(text)                                # BAD
    sp.sympify(text)                             # BAD
    S(text)                                      # BAD
    parse_expr(text)                             # BAD
    importlib.import_module(spec)                # BAD
    spec.loader.exec_module(model)               # BAD
    subprocess.run(text, shell=True)             # BAD
    os.system(text)                              # BAD
    ev = eval
    ev(text)                                     # BAD
    # below: all safe
    re.compile(text)
    model.eval()
    np.load(path, allow_pickle=False)
    sp.sympify("x + 1")
    S(1)
    sp.S.Half
    yaml.safe_load(text)
    M = sp.MatrixSymbol
    M("W", 2, 2)
    subprocess.run([text], shell=False)

class C:
    def eval(self, x):
        return x
'''


def test_the_scanner_finds_each_kind_of_call():
    """The scanner itself: every dangerous line of a sample is found, no safe one is."""
    found = scan(SCANNER_CASES)
    lines = SCANNER_CASES.splitlines()
    assert {line for line, _ in found} == {i for i, t in enumerate(lines, 1) if "# BAD" in t}, found
    for i, t in enumerate(lines, 1):
        note = t.partition("# BAD")[2].strip()
        assert not note or (i, note) in found, (i, note, found)


def test_sources_evaluate_nothing_but_the_allowlist():
    """No eval/exec/compile, unpickling, marshal, unsafe yaml, np.load without allow_pickle=False, or SymPy
    parsing of non-literal text in dlproof/, derivations/, impl/, properties/; the few code loads are allowlisted."""
    counts, where = Counter(), {}
    files = 0
    for rel, src in _sources():
        files += 1
        for line, what in scan(src):
            counts[rel, what] += 1
            where.setdefault((rel, what), []).append(line)
    assert files > 40  # the scan saw the package
    unexpected = {k: where[k] for k in counts if k not in ALLOWED}
    assert not unexpected, f"calls that evaluate text, load code or unpickle, not allowlisted: {unexpected}"
    wrong = {k: (counts[k], n) for k, (n, _) in ALLOWED.items() if counts[k] != n}
    assert not wrong, f"allowlisted occurrences changed (found, allowed): {wrong}; re-justify them in ALLOWED"


# ---- (b) repro files are never unpickled ----------------------------------------------------------

class _Marker:
    """Unpickling this creates the file at ``path`` (via open(path, "w"))."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _poisoned_npz(path: Path, marker: Path, member: str) -> Path:
    """A repro-shaped .npz (target numpy, property rnn.cell.forward) with ``member`` an object array holding a
    `_Marker`."""
    evil = np.empty(1, dtype=object)
    evil[0] = _Marker(marker)
    arrays = {"__meta__": np.array(json.dumps({"target": "numpy", "property": "rnn.cell.forward", "scalars": {}})),
              "xs": np.zeros((1, 1, 1)), member: evil}
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("member", ["xs", "__meta__"])
def test_repro_refuses_a_pickled_object_array(member, tmp_path, capsys):
    control = _poisoned_npz(tmp_path / "control.npz", tmp_path / "control-marker", member)
    with np.load(control, allow_pickle=True) as z:
        z[member]  # the payload is live: unpickling it creates the marker
    assert (tmp_path / "control-marker").exists()

    marker = tmp_path / "marker"
    npz = _poisoned_npz(tmp_path / "evil.npz", marker, member)
    assert cli.main(["repro", str(npz)]) == 2
    err = capsys.readouterr().err
    assert f"dlproof repro: cannot replay {npz}" in err and "pickle" in err.lower()
    assert not marker.exists()


def test_repro_refuses_a_plain_pickle_in_a_subprocess(tmp_path):
    """A pickle renamed .npz, through the real command line: exit 2, nothing unpickled."""
    marker = tmp_path / "marker"
    npz = tmp_path / "evil.npz"
    npz.write_bytes(pickle.dumps(_Marker(marker)))
    proc = subprocess.run([sys.executable, "-m", "dlproof", "repro", str(npz)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert f"cannot replay {npz}" in proc.stderr and "pickle" in proc.stderr.lower()
    assert not marker.exists()


# ---- (c) target specs are names, never code --------------------------------------------------------

EVIL_SPECS = [
    "__import__('os').system('touch {m}')",
    "os:system('touch {m}')",
    "eval(\"__import__('os').system('touch {m}')\")",
    "exec(\"open('{m}', 'w')\")",
    "numpy; import os; os.system('touch {m}')",
    "$(touch {m})",
    "`touch {m}`",
    "numpy && touch {m}",
    "os.system('touch {m}'):target",
    "subprocess:getoutput('touch {m}')",
    "builtins:eval",  # a zero-argument "factory": eval() with no text raises
]


@pytest.mark.parametrize("template", EVIL_SPECS)
def test_loader_refuses_code_as_a_spec(template, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "X"
    spec = template.format(m=marker)
    with pytest.raises(TargetLoadError) as info:
        load_target(spec)
    assert repr(spec.strip()) in str(info.value)
    from_env = specs_from([], env=f"{spec},numpy")  # $DLPROOF_TARGET: split on commas, each piece a spec
    assert from_env[-1] == "numpy" and len(from_env) == 2 + spec.count(",")
    for piece in from_env[:-1]:
        with pytest.raises(TargetLoadError):
            load_target(piece)
    assert not marker.exists() and list(tmp_path.iterdir()) == []


def _env(**extra):
    from dlproof.derivations import cache

    env = {k: v for k, v in os.environ.items() if k != "DLPROOF_TARGET"}
    return dict(env, DLPROOF_CACHE_DIR=str(cache.cache_dir()), **extra)


def test_conform_and_dlproof_target_refuse_code(tmp_path):
    """The command line (``dlproof conform SPEC``) and $DLPROOF_TARGET: a usage error, the spec not run."""
    marker = tmp_path / "X"
    spec = f"__import__('os').system('touch {marker}')"
    conform = subprocess.run([sys.executable, "-m", "dlproof", "conform", spec, "--report", str(tmp_path / "r")],
                             cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert conform.returncode not in (0, 1), conform.stdout[-2000:]
    assert f"unknown target {spec!r}" in conform.stdout + conform.stderr
    plugin = subprocess.run([sys.executable, "-m", "pytest", "--pyargs", "dlproof.properties", "-q", "-p",
                             "no:cacheprovider", "-o", "addopts=", "--import-mode=importlib"],
                            cwd=tmp_path, env=_env(DLPROOF_TARGET=f"numpy,{spec}"), capture_output=True, text=True,
                            timeout=300)
    assert plugin.returncode == pytest.ExitCode.USAGE_ERROR, plugin.stdout[-2000:]
    assert f"unknown target {spec!r}" in plugin.stdout + plugin.stderr
    assert not marker.exists() and not (tmp_path / "X").exists()
