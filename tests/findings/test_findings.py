"""reports/findings/: every finding validates, the index reports/findings.md is what the folders give, malformed
findings are refused with the folder and the field named, and (slow) every repro that can run here still shows
what its finding says, or is flagged as fixed upstream."""
import json
import re
from pathlib import Path

import pytest

from dlproof import findings

REPO = Path(__file__).resolve().parents[2]
ROOT = REPO / "reports" / "findings"
INDEX = REPO / "reports" / "findings.md"
FINDINGS = findings.load(ROOT)

GOOD = {
    "title": "A library's clip overflows", "library": "somelib", "version": "1.0", "kind": "bug",
    "summary": "It computes g c first.", "effect": "g = 1e19, c = 1e20 gives inf.",
    "upstream": {"documented": False, "reference": ""}, "needs": ["somelib"], "device": "cpu",
    "expect": r"overflow: \S+ -> inf", "dlproof": {"targets": {"somelib.target": ["clip.norm.rule"]}, "convention": ""},
}
REPRO = "import sys\nimport numpy as np\nimport somelib\nprint('overflow: 1e19 -> inf')\nsys.exit(0)\n"


def _write(root: Path, slug: str, data=GOOD, repro=REPRO) -> Path:
    folder = root / slug
    folder.mkdir(parents=True)
    (folder / "finding.json").write_text(json.dumps(data), encoding="utf-8")
    if repro is not None:
        (folder / "repro.py").write_text(repro, encoding="utf-8")
    return folder


# ---- the committed findings (fast) -------------------------------------------------------------------------

def test_the_committed_findings_validate_and_cover_the_known_discrepancies():
    slugs = {f.slug for f in FINDINGS}
    # the discrepancies the suite has measured in published libraries (README, DEVIATIONS, reports/gpu)
    for slug in ("keras-clipnorm-product-overflow", "jax-xla-cpu-flush-to-zero",
                 "torch-cudnn-float32-activation-accuracy", "keras-moments-negative-variance",
                 "keras-masking-padded-output-carry", "keras-torch-float64-computes-float32",
                 "torch-lstm-proj-size-smaller-than-hidden", "torch-clip-grad-norm-eps",
                 "torch-clip-grad-norm-overflow", "flax-batchnorm-fast-variance-clamped"):
        assert slug in slugs, f"reports/findings/{slug} is missing"
    assert all(f.reference for f in FINDINGS if f.documented)


def _same(declared, value: str) -> bool:
    try:
        return float(declared) == float(value)
    except (TypeError, ValueError):
        return str(declared) == value


def test_the_targets_a_finding_names_declare_its_convention():
    """Read from the committed summaries (reports/conformance/<spec>.json), where a target has one."""
    checked = 0
    for f in FINDINGS:
        if not f.convention:
            continue
        name, value = f.convention.split("=", 1)
        for spec in f.targets:
            path = REPO / "reports" / "conformance" / f"{spec}.json"
            if not path.is_file():
                continue
            declared = json.loads(path.read_text(encoding="utf-8"))["declared_conventions"]
            got = declared.get(name, declared.get("restrictions", {}).get(name))
            assert got is not None and _same(got, value), (
                f"{f.slug}: {spec} declares {name}={got!r}, the finding says {f.convention}")
            checked += 1
    assert checked >= 5


def test_the_targets_and_conventions_of_findings_are_real():
    from dlproof.loader import BUILTINS
    from dlproof.target import CONVENTION_VALUES, RESTRICTIONS

    listed = {p for f in FINDINGS for props in f.targets.values() for p in props}
    published = {ln.split()[1] for ln in (REPO / "tests" / "app" / "published_ids.txt").read_text().splitlines()
                 if ln.startswith("property ")}
    if listed - published:  # a property new in this release: the registry (it loads every chapter) decides
        from dlproof.properties.registry import all_properties

        unknown = listed - published - set(all_properties())
        assert not unknown, f"findings list unknown property ids {sorted(unknown)}"
    for f in FINDINGS:
        for spec in f.targets:
            assert spec in BUILTINS, f"{f.slug}: {spec!r} is not a built-in target"
        if f.convention:
            name = f.convention.split("=", 1)[0]
            assert name in CONVENTION_VALUES or name in RESTRICTIONS, f"{f.slug}: {name!r} is not a convention"


def test_the_index_is_in_step_with_the_folders():
    assert INDEX.is_file(), "reports/findings.md is missing: run `dlproof findings`"
    assert INDEX.read_text(encoding="utf-8") == findings.markdown(FINDINGS), (
        "reports/findings.md is stale: run `dlproof findings`")


def test_repro_scripts_import_only_their_library_numpy_and_the_standard_library():
    for f in FINDINGS:
        mods = findings.repro_imports(f.repro)
        assert "dlproof" not in mods, f.slug
        assert "numpy" in mods or f.library in mods, f.slug


# ---- load, markdown, known_failures, main on made-up findings (fast) ----------------------------------------

@pytest.mark.parametrize("field, change, message", [
    ("summary", lambda d: d.pop("summary"), "missing"),
    ("kind", lambda d: d.update(kind="feature"), "unknown kind 'feature'"),
    ("expect", lambda d: d.update(expect="overflow: (inf"), "not a valid regular expression"),
    ("device", lambda d: d.update(device="tpu"), "unknown device"),
    ("upstream", lambda d: d.update(upstream={"documented": "yes", "reference": ""}), "documented must be"),
    ("upstream", lambda d: d.update(upstream={"documented": True, "reference": " "}), "needs the reference"),
    ("needs", lambda d: d.update(needs=["numpy"]), "must name the library 'somelib'"),
    ("dlproof.targets", lambda d: d.update(dlproof={"targets": {"x": "clip.norm.rule"}, "convention": ""}),
     "lists of property ids"),
    ("dlproof.convention", lambda d: d.update(dlproof={"targets": {}, "convention": "clip_eps 0"}),
     '"name=value"'),
    ("title", lambda d: d.update(title="two\nlines"), "one line"),
    ("colour", lambda d: d.update(colour="red"), "unknown field"),
])
def test_a_malformed_finding_names_its_folder_and_field(tmp_path, field, change, message):
    data = json.loads(json.dumps(GOOD))
    change(data)
    _write(tmp_path, "bad-one", data)
    with pytest.raises(ValueError, match=rf"'bad-one'.*field '{re.escape(field)}': .*{re.escape(message)}"):
        findings.load(tmp_path)


def test_missing_repro_bad_json_and_forbidden_imports_are_refused(tmp_path):
    _write(tmp_path / "a", "no-repro", repro=None)
    with pytest.raises(ValueError, match=r"'no-repro'.*field 'repro.py': the folder has no repro.py"):
        findings.load(tmp_path / "a")
    (tmp_path / "b" / "bad-json").mkdir(parents=True)
    (tmp_path / "b" / "bad-json" / "finding.json").write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match=r"'bad-json'.*not valid JSON"):
        findings.load(tmp_path / "b")
    _write(tmp_path / "c", "uses-dlproof", repro=REPRO + "import dlproof.findings\n")
    with pytest.raises(ValueError, match=r"'uses-dlproof'.*field 'repro.py': imports dlproof"):
        findings.load(tmp_path / "c")
    _write(tmp_path / "d", "uses-torch", repro=REPRO + "from torch import nn\n")
    with pytest.raises(ValueError, match=r"imports torch: a repro needs only somelib and NumPy"):
        findings.load(tmp_path / "d")
    with pytest.raises(ValueError, match="is not a folder"):
        findings.load(tmp_path / "nowhere")


def test_known_failures_unite_the_findings_of_a_target(tmp_path):
    _write(tmp_path, "first")
    other = json.loads(json.dumps(GOOD))
    other["dlproof"] = {"targets": {"somelib.target": ["clip.norm.huge"], "quiet.target": []},
                        "convention": "clip_eps=0"}
    _write(tmp_path, "second", other)
    assert findings.known_failures(tmp_path) == {"somelib.target": {"clip.norm.rule", "clip.norm.huge"}}


def test_known_failures_default_to_the_checkout_from_any_folder(tmp_path, monkeypatch):
    """No root: the checkout's findings, whatever the working folder (a sweep run from an empty folder tells a
    finding's failure from a false alarm as one run from the checkout does); no checkout (a wheel): none."""
    monkeypatch.chdir(tmp_path)
    assert findings.known_failures() == findings.known_failures(findings.CHECKOUT_ROOT)
    monkeypatch.setattr(findings, "CHECKOUT_ROOT", tmp_path / "not-installed-with-its-checkout")
    assert findings.known_failures() == {}


def test_the_index_has_a_row_and_a_section_per_finding_in_slug_order(tmp_path):
    other = json.loads(json.dumps(GOOD))
    other.update(title="Another | one", kind="convention", device="cuda",
                 upstream={"documented": True, "reference": "https://example.org/issue/1"})
    other["dlproof"]["convention"] = "clip_eps=1e-6"
    _write(tmp_path, "zz-second", other)
    _write(tmp_path, "aa-first")
    text = findings.markdown(findings.load(tmp_path))
    assert text == findings.markdown(list(reversed(findings.load(tmp_path))))  # order-free input, one output
    rows = [ln for ln in text.splitlines() if ln.startswith("| [")]
    assert [r.split("](#")[1].split(")")[0] for r in rows] == ["aa-first", "zz-second"]
    assert "Another \\| one" in rows[1] and "| somelib 1.0 | convention |" in rows[1] and "| yes |" in rows[1]
    assert "a CUDA GPU" in rows[1] and "| no |" in rows[0]
    assert "Declared convention: `clip_eps=1e-6`." in text and "Declared convention: none." in text
    assert "(fails `clip.norm.rule`)" in text and "https://example.org/issue/1" in text


def test_main_writes_the_index_and_check_says_when_it_is_stale(tmp_path, capsys):
    root, out = tmp_path / "findings", tmp_path / "findings.md"
    _write(root, "one")
    args = ["--root", str(root), "--out", str(out)]
    assert findings.main(args + ["--check"]) == 1
    assert findings.main(args) == 0 and out.read_text(encoding="utf-8") == findings.markdown(findings.load(root))
    assert findings.main(args + ["--check"]) == 0
    _write(root, "two")
    assert findings.main(args + ["--check"]) == 1
    assert "stale" in capsys.readouterr().err
    (root / "two" / "repro.py").unlink()
    assert findings.main(args) == 2
    assert "'two'" in capsys.readouterr().err


def test_a_repro_runs_alone_and_cannot_import_dlproof(tmp_path):
    _write(tmp_path / "root", "sneaky", repro="import sys\nimport numpy\nsys.path\nprint('ran')\n")
    f = findings.load(tmp_path / "root")[0]
    (tmp_path / "run").mkdir()
    done = findings.run_repro(f, tmp_path / "run", timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ran", done.stderr
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["repro.py"]
    # the same runner, with a script that slipped an import of dlproof past the static check
    (f.repro).write_text("import importlib\nimportlib.import_module('dlp' + 'roof')\n", encoding="utf-8")
    (tmp_path / "run2").mkdir()
    done = findings.run_repro(f, tmp_path / "run2", timeout=60)
    assert done.returncode != 0 and "must not import dlproof" in done.stderr
    with pytest.raises(ValueError, match="must be an existing empty folder"):
        findings.run_repro(f, tmp_path / "run2")


@pytest.mark.parametrize("body, problem", [
    ("print('overflow: 1e19 -> inf')", None),
    ("print('FIXED: g comes back unchanged'); sys.exit(3)", "fixed upstream: update the finding reports/findings/"),
    ("print('overflow: none')", "no longer matches expect"),
    ("raise RuntimeError('boom')", "the repro exited 1"),
])
def test_verify_flags_a_fixed_or_changed_repro(tmp_path, body, problem):
    f = findings.validate(GOOD, _write(tmp_path / "root", "made-up", repro=f"import sys\n{body}\n"))
    (tmp_path / "run").mkdir()
    got = findings.verify(f, tmp_path / "run", timeout=60)
    assert got is None if problem is None else problem in got
    if problem and "fixed" in problem:
        assert "somelib 1.0 was measured" in got and "g comes back unchanged" in got


def test_a_repro_that_cannot_show_its_finding_on_this_machine_says_why(tmp_path):
    body = "print('NOT HERE: this CPU runs another kernel'); sys.exit(4)"
    f = findings.validate(GOOD, _write(tmp_path / "root", "made-up", repro=f"import sys\n{body}\n"))
    (tmp_path / "run").mkdir()
    with pytest.raises(findings.NotHere, match=r"^made-up: NOT HERE: this CPU runs another kernel$"):
        findings.verify(f, tmp_path / "run", timeout=60)


# ---- every repro that can run here (slow) --------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("finding", FINDINGS, ids=[f.slug for f in FINDINGS])
def test_the_repro_still_shows_the_finding(finding, tmp_path):
    why = findings.cannot_run_here(finding)
    if why:
        pytest.skip(f"{finding.slug}: {why}")
    try:
        problem = findings.verify(finding, tmp_path, timeout=120)
    except findings.NotHere as exc:
        pytest.skip(str(exc))
    assert problem is None, problem
