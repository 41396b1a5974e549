"""The pytest plugin end to end (in a subprocess) and the report's JSON Schema.

A run with a broken target still writes correctness.json/.md; the broken capability is an "error",
the target's other properties keep running; a spec that does not load stops the run with one message.
"""
pytest_plugins = ["pytester"]

import json  # noqa: E402
import os  # noqa: E402
from importlib import resources  # noqa: E402

import pytest  # noqa: E402

from dlproof.impl.targets import numpy_target  # noqa: E402
from dlproof.properties import results  # noqa: E402

jsonschema = pytest.importorskip("jsonschema")

USER_MODULE = '''
from dataclasses import replace

from dlproof.impl.targets import numpy_target

good = numpy_target()


def _rnn_raises(xs, h0, p):
    raise RuntimeError("kaboom in rnn")


bad = replace(good, name="my broken rnn", rnn=_rnn_raises)
'''

SELECT = ("-k", "(rnn.forward and not bi. and not stack.) or clip.norm.rule")


def _schema() -> dict:
    return json.loads(resources.files("dlproof").joinpath("report_schema.json").read_text(encoding="utf-8"))


def _validator():
    schema = _schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@pytest.fixture
def env(pytester, monkeypatch, tmp_path):
    """The subprocess imports the user module from pytester.path and reuses the derivation cache."""
    pytester.syspathinsert()
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(pytester.path), os.environ.get("PYTHONPATH")])))
    from dlproof.derivations import cache, kernels, records

    records(), kernels()  # warm this process's cache, then share it: a subprocess must not re-derive cold
    monkeypatch.setenv("DLPROOF_CACHE_DIR", str(cache.cache_dir()))
    monkeypatch.delenv("DLPROOF_TARGET", raising=False)
    monkeypatch.delenv("DLPROOF_PROFILE", raising=False)
    return pytester


def _run(pytester, *args):
    return pytester.runpytest_subprocess("--pyargs", "dlproof.properties", *args, "--dlproof-profile", "dev",
                                         "-p", "no:cacheprovider", "--import-mode=importlib", *SELECT)


def test_broken_target_still_gets_a_report(env, tmp_path):
    env.makepyfile(my_targets=USER_MODULE)
    report_dir = tmp_path / "report"
    result = _run(env, "--target", "my_targets:good", "--target", "my_targets:bad", f"--report={report_dir}")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*dlproof: 3 pass, 0 fail, 1 error; report in*correctness.md*"])
    assert "Traceback" not in result.stdout.str() and "def test_property" not in result.stdout.str()  # short failures

    report = json.loads((report_dir / "correctness.json").read_text(encoding="utf-8"))
    _validator().validate(report)
    assert report["summary"] == {"pass": 3, "fail": 0, "error": 1, "internal-error": 0, "not provided": 0, "not run": 0}
    run = report["run"]
    assert run["status"] == "complete" and run["planned_rows"] == len(report["results"]) == 4
    assert (report_dir / "runs" / run["id"] / "correctness.json").read_text() == \
        (report_dir / "correctness.json").read_text()
    assert report["provenance"]["profile"] == "dev"
    assert set(report["provenance"]["targets"]) == {"my_targets:good", "my_targets:bad"}
    assert report["provenance"]["targets"]["my_targets:bad"]["name"] == "my broken rnn"

    rows = {(r["target"], r["property"]): r for r in report["results"]}
    assert set(rows) == {(t, p) for t in ("my_targets:good", "my_targets:bad") for p in ("rnn.forward", "clip.norm.rule")}
    for p in ("rnn.forward", "clip.norm.rule"):
        assert rows["my_targets:good", p]["verdict"] == "pass"
        assert rows["my_targets:good", p]["examples"] > 0
    assert rows["my_targets:bad", "clip.norm.rule"]["verdict"] == "pass"  # other properties keep running
    err = rows["my_targets:bad", "rnn.forward"]
    assert err["verdict"] == "error" and err["target_name"] == "my broken rnn"
    assert "rnn raised RuntimeError: kaboom in rnn" in err["message"]
    assert err["repro"] is not None and os.path.isfile(err["repro"]["npz"])
    assert os.path.dirname(os.path.dirname(err["repro"]["npz"])) == str(report_dir / "runs" / run["id"])
    for d in err["derivations"]:
        assert d in report["derivations"]

    md = (report_dir / "correctness.md").read_text(encoding="utf-8")
    assert md.startswith("# dlproof correctness report")
    assert "## Failures" in md
    failures = md.split("## Failures", 1)[1]
    assert "`my_targets:bad` :: `rnn.forward` (error)" in failures and "kaboom in rnn" in failures
    assert "clip.norm.rule" not in failures.split("## Derivations", 1)[0]


def _assert_one_clear_load_error(result):
    out = result.stdout.str() + result.stderr.str()
    assert "nonexistent_mod" in out
    assert "dlproof: target 'nonexistent_mod:x': cannot import module 'nonexistent_mod'" in out
    assert "passed" not in out and "failed" not in out


def test_unloadable_target_is_a_usage_error(env, tmp_path):
    result = _run(env, "--target", "nonexistent_mod:x", f"--report={tmp_path / 'report'}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    _assert_one_clear_load_error(result)
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert not (tmp_path / "report" / "correctness.json").exists()


def test_unwritable_report_folder_is_a_usage_error(env, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = _run(env, "--target", "numpy", f"--report={blocker / 'sub'}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "dlproof: cannot write the report to" in result.stderr.str() and "cannot be created" in result.stderr.str()
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


# -- the schema on hand-built reports ------------------------------------------------------------------

def _row(**kw):
    row = {"target": "numpy", "target_name": "dlproof.impl.numpy_ref", "property": "rnn.forward",
           "title": "sequence forward equals the unrolled composition of cells",
           "derivations": ["rnn.bptt.unroll", "rnn.cell.forward"], "examples": 20, "worst_error_ratio": 0.25,
           "message": None, "repro": None, "verdict": "pass"}
    row.update(kw)
    return row


def _report(rows):
    prov = results.provenance(seed=None, profile="dev", targets={"numpy": numpy_target().describe()})
    return json.loads(json.dumps(results.build_report(rows, prov), default=str))  # as written to disk


def test_minimal_report_validates():
    rows = [_row(),
            _row(property="clip.norm.rule", verdict="error", derivations=["clip.norm.rule"], examples=1,
                 worst_error_ratio=None, message="clip_grad_norm raised RuntimeError: x",
                 repro={"npz": "repro/numpy__clip.norm.rule.npz", "command": "python -m dlproof repro x.npz"}),
            _row(property="rnn.vjp", verdict="not provided", examples=0, worst_error_ratio=None,
                 message="target lacks ['rnn_vjp']", derivations=["rnn.bptt.gradient"])]
    report = _report(rows)
    _validator().validate(report)
    assert report["summary"] == {"pass": 1, "fail": 0, "error": 1, "internal-error": 0, "not provided": 1, "not run": 0}
    assert [r["property"] for r in report["results"]] == ["clip.norm.rule", "rnn.forward", "rnn.vjp"]  # sorted
    assert set(report["derivations"]) == {"rnn.bptt.unroll", "rnn.cell.forward", "clip.norm.rule", "rnn.bptt.gradient"}
    assert "## Failures" in results.markdown(report)


def test_report_with_run_and_new_verdicts_validates():
    rows = [_row(verdict="internal-error", message="dlproof bug in property rnn.forward: AttributeError"),
            _row(property="rnn.vjp", verdict="not run", examples=0, worst_error_ratio=None, message="not run",
                 derivations=["rnn.bptt.gradient"]),
            _row(property="clip.norm.rule", verdict="fail", derivations=["clip.norm.rule"], part="backward",
                 likely_bug="W transposed in the backward only", warnings=["rnn: RuntimeWarning: overflow"])]
    prov = results.provenance(seed=None, profile="dev", targets={"numpy": numpy_target().describe()})
    run = {"id": "20250101T000000.000Z-abcdef", "targets": ["numpy"], "started": "s", "ended": "e",
           "status": "interrupted", "planned_rows": 3}
    report = json.loads(json.dumps(results.build_report(rows, prov, run), default=str))
    _validator().validate(report)
    md = results.markdown(report)
    assert "interrupted" in md and "likely bug: W transposed" in md and "part: backward" in md
    report["run"]["status"] = "partial"
    assert _errors(report)


def test_markdown_hides_not_provided_rows_unless_all():
    rows = [_row(), _row(property="rnn.vjp", verdict="not provided", examples=0, worst_error_ratio=None,
                         message="target lacks ['rnn_vjp']", derivations=["rnn.bptt.gradient"])]
    report = _report(rows)
    assert "`rnn.vjp`" not in results.markdown(report).split("## Derivations")[0]
    assert "`rnn.vjp`" in results.markdown(report, show_all=True)


def test_written_report_validates(tmp_path):
    prov = results.provenance(seed=1234, profile="ci", targets={"numpy": numpy_target().describe()})
    results.write(tmp_path, [_row()], prov)
    report = json.loads((tmp_path / "correctness.json").read_text(encoding="utf-8"))
    _validator().validate(report)
    assert "## Failures" not in (tmp_path / "correctness.md").read_text(encoding="utf-8")


def _errors(report):
    return list(_validator().iter_errors(report))


def test_schema_rejects_unknown_verdict():
    report = _report([_row()])
    report["results"][0]["verdict"] = "maybe"
    errs = _errors(report)
    assert errs and any(list(e.absolute_path) == ["results", 0, "verdict"] for e in errs)


@pytest.mark.parametrize("breakage", [
    lambda r: r.pop("summary"),
    lambda r: r.update(schema_version=2),
    lambda r: r.update(extra=1),
    lambda r: r["results"][0].pop("message"),
    lambda r: r["results"][0].update(examples=-1),
    lambda r: r["results"][0].update(derivations=[]),
    lambda r: r["results"][0].update(repro={"npz": "x.npz"}),
    lambda r: r["provenance"].update(profile="fast"),
    lambda r: r["provenance"]["targets"]["numpy"].update(dtype="float8"),
    lambda r: r["summary"].update({"pass": -1}),
], ids=["no summary", "schema_version 2", "extra key", "row without message", "negative examples",
        "no derivations", "repro without command", "unknown profile", "bad target dtype", "negative count"])
def test_schema_rejects_malformed_reports(breakage):
    report = _report([_row()])
    breakage(report)
    assert _errors(report)


@pytest.mark.slow
def test_xdist_workers_share_one_seed_and_one_report(env, tmp_path):
    """Under pytest-xdist the rows of both workers land in one report, run under the controller's seed."""
    pytest.importorskip("xdist")
    env.makepyfile(my_targets=USER_MODULE)
    report_dir = tmp_path / "report"
    result = _run(env, "-n", "2", "--hypothesis-seed", "12345", "--target", "my_targets:good", "--target", "numpy",
                  f"--report={report_dir}")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    report = json.loads((report_dir / "correctness.json").read_text(encoding="utf-8"))
    _validator().validate(report)
    assert report["summary"]["pass"] == 4 and report["provenance"]["seed"] == 12345
    assert not (report_dir / ".shards").exists() or not any((report_dir / ".shards").iterdir())


def test_unwritable_default_report_folder_fails_the_session_with_a_message(env):
    """No --report: the default folder (ROOT/reports/latest) cannot be created, because ROOT/reports is a file.
    The properties run and pass, but the session must not exit 0 silently."""
    env.makepyfile(my_targets=USER_MODULE)
    (env.path / "reports").write_text("not a folder")
    result = env.runpytest_subprocess("--pyargs", "dlproof.properties", "--dlproof-profile", "dev", "-p",
                                      "no:cacheprovider", "--import-mode=importlib", "-k", "clip.norm.rule",
                                      "--target", "my_targets:good", "--rootdir", str(env.path))
    out = result.stdout.str() + result.stderr.str()
    assert result.ret != 0, out[-2000:]
    assert "dlproof: cannot write the report to" in out


def test_the_reasons_of_left_out_capabilities_are_said_once_in_the_markdown_and_the_terminal():
    from dataclasses import replace

    from dlproof.cli import summary_table

    left = replace(numpy_target(), rnn_vjp=None, conventions={"left_out": {"rnn_vjp": "finding some-slug"}})
    rows = [_row(), _row(property="rnn.vjp", verdict="not provided", examples=0, worst_error_ratio=None,
                         message="left out by the target: rnn_vjp (finding some-slug)", derivations=["rnn.bptt.gradient"])]
    prov = results.provenance(seed=None, profile="dev", targets={"numpy": left.describe()})
    report = json.loads(json.dumps(results.build_report(rows, prov), default=str))
    _validator().validate(report)
    assert "- left out by `numpy`: rnn_vjp (finding some-slug)" in results.markdown(report)
    assert "(left out by numpy: rnn_vjp (finding some-slug))" in summary_table(report)
    plain = _report(rows[:1])  # a target that leaves nothing out: no such line
    assert "left out by" not in results.markdown(plain) and "left out by" not in summary_table(plain)
