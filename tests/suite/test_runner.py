"""The supervised runner behind ``dlproof conform`` (dlproof.runner): one row per planned property whatever the
target does (exit, abort, a hang in C, sys.exit, Ctrl-C), the right verdict on the right capability, the other
properties pass, and the same verdicts from any folder.

Each end-to-end test runs ``python -m dlproof conform`` in a subprocess with its cwd in an empty tmp folder holding
a tiny target module (the NumPy reference with one capability replaced), as a new user would.
"""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dlproof import runner
from dlproof.properties.registry import all_properties

CHECKOUT = Path(__file__).resolve().parents[2]

MODULE = '''
import ctypes, os, signal, sys, time, warnings
from dataclasses import replace

from dlproof.impl.targets import numpy_target

BASE = numpy_target()


def _exit(x, h, p):
    os._exit(3)


def _abort(x, h, p):
    os.abort()


def _c_hang(x, h, p):  # a hang in C that SIGALRM cannot interrupt
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])
    ctypes.CDLL(None).sleep(3600)


def _sys_exit(x, h, p):
    sys.exit(3)


def _warns(x, h, p):  # right value, with a warning (as 1/(1+exp(-z)) overflowing to 0)
    warnings.warn("overflow encountered in exp", RuntimeWarning)
    return BASE.rnn_cell(x, h, p)


def _slow_clip(g, c):
    time.sleep(0.1)
    return BASE.clip_grad_norm(g, c)


exits = replace(BASE, name="exits", rnn_cell=_exit)
aborts = replace(BASE, name="aborts", rnn_cell=_abort)
c_hang = replace(BASE, name="c_hang", rnn_cell=_c_hang)
sys_exits = replace(BASE, name="sys_exits", rnn_cell=_sys_exit)
warns = replace(BASE, name="warns", rnn_cell=_warns)
slow = replace(BASE, name="slow", clip_grad_norm=_slow_clip)
'''

#: rnn_cell's properties (rnn.cell.forward, protocol.rnn_cell.stateless) between properties that do not call it
SELECT = "rnn.cell.forward,rnn_cell.stateless,clip.norm.rule,rnn.forward"


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    """An empty folder with the target module; the subprocesses share this process's derivation cache."""
    from dlproof.derivations import cache, kernels, records

    records(), kernels()
    monkeypatch.setenv("DLPROOF_CACHE_DIR", str(cache.cache_dir()))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    d = tmp_path / "user"
    d.mkdir()
    (d / "rt_targets.py").write_text(textwrap.dedent(MODULE), encoding="utf-8")
    return d


def _conform(cwd, spec, *extra, report, timeout=120, select=SELECT):
    proc = subprocess.run([sys.executable, "-m", "dlproof", "conform", spec, "--profile", "dev", "-k", select,
                           "--report", str(report), *extra], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(cwd)} if cwd != CHECKOUT else None)
    return proc


def _report(report_dir) -> dict:
    return json.loads((Path(report_dir) / "correctness.json").read_text(encoding="utf-8"))


def _check_rows(proc, report, hostile_cap: str, verdict: str, text: str):
    """One row per planned property; the hostile capability's are ``verdict`` with ``text``; all others pass."""
    err = proc.stderr[-3000:]
    planned = runner.select(all_properties(), SELECT)
    assert report["run"]["status"] == "complete", err
    assert len(report["results"]) == report["run"]["planned_rows"] == len(planned), err
    assert sorted(r["property"] for r in report["results"]) == sorted(planned)
    props = all_properties()
    for r in report["results"]:
        if hostile_cap in props[r["property"]].capabilities:
            assert r["verdict"] == verdict and text in r["message"], (r, err)
        else:
            assert r["verdict"] == "pass", (r, err)
    assert proc.returncode == 1, err
    assert "Traceback" not in proc.stderr + proc.stdout


# ---- unit: plan and messages ----------------------------------------------------------------------

def test_select_substrings_patterns_and_exclusions():
    ids = ["rnn.forward", "bi.rnn.forward", "rnn.cell.forward", "lstm.vjp", "clip.norm.rule"]
    assert runner.select(ids, None) == ids
    assert runner.select(ids, "rnn.forward") == ["rnn.forward", "bi.rnn.forward"]
    assert runner.select(ids, "rnn.*") == ["rnn.forward", "rnn.cell.forward"]  # a pattern matches the whole id
    assert runner.select(ids, "forward,-bi.") == ["rnn.forward", "rnn.cell.forward"]
    assert runner.select(ids, "-rnn") == ["lstm.vjp", "clip.norm.rule"]
    assert runner.select(ids, "nothing") == []


def test_signal_text_names_the_signal_or_the_exit_code():
    assert runner.signal_text(-11) == "killed by SIGSEGV (signal 11)"
    assert runner.signal_text(-6) == "killed by SIGABRT (signal 6)"
    assert runner.signal_text(3) == "exited with code 3"
    assert "out of memory" in runner.signal_text(-9)


# ---- end to end -----------------------------------------------------------------------------------

def test_os_exit_is_an_error_on_its_capability_and_the_run_goes_on(user_dir, tmp_path):
    report_dir = tmp_path / "r"
    proc = _conform(user_dir, "rt_targets:exits", report=report_dir)
    _check_rows(proc, _report(report_dir), "rnn_cell", "error", "rnn_cell crashed the process: exited with code 3")
    assert "crashed the process" in proc.stdout  # the failure is printed with its message


@pytest.mark.slow
def test_sys_exit_is_an_error_not_the_end_of_the_run(user_dir, tmp_path):
    report_dir = tmp_path / "r"
    proc = _conform(user_dir, "rt_targets:sys_exits", report=report_dir)
    _check_rows(proc, _report(report_dir), "rnn_cell", "error", "rnn_cell")


@pytest.mark.slow
def test_abort_names_the_signal(user_dir, tmp_path):
    report_dir = tmp_path / "r"
    proc = _conform(user_dir, "rt_targets:aborts", report=report_dir)
    _check_rows(proc, _report(report_dir), "rnn_cell", "error", "killed by SIGABRT (signal 6)")


@pytest.mark.slow
def test_a_hang_in_c_is_killed_once_and_the_capability_not_called_again(user_dir, tmp_path):
    report_dir = tmp_path / "r"
    t0 = time.monotonic()
    proc = _conform(user_dir, "rt_targets:c_hang", "--call-timeout", "1", report=report_dir)
    wall = time.monotonic() - t0
    report = _report(report_dir)
    _check_rows(proc, report, "rnn_cell", "fail", "rnn_cell: did not return within 1 s; the process was killed")
    # one kill (1 s + grace), not one per property: the second rnn_cell property is failed without calling it
    assert wall < 2 * (1 + runner.GRACE) + 20, wall


@pytest.mark.slow
def test_sigint_mid_run_writes_an_interrupted_report_and_keeps_the_previous_one(user_dir, tmp_path):
    report_dir = tmp_path / "r"
    first = _conform(user_dir, "rt_targets:exits", report=report_dir)
    assert first.returncode == 1, first.stderr[-2000:]
    before = _report(report_dir)["run"]["id"]
    proc = subprocess.Popen([sys.executable, "-m", "dlproof", "conform", "rt_targets:slow", "--profile", "dev",
                             "-k", "clip", "--report", str(report_dir)], cwd=user_dir,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(user_dir)},
                            # a run started in the background (as a CI job may be) inherits SIGINT ignored, and a
                            # process that starts with SIGINT ignored keeps it ignored (POSIX): restore the default
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # wait for the first finished row on stderr, then Ctrl-C
    line = ""
    deadline = time.monotonic() + 60
    while "[1/" not in line and time.monotonic() < deadline:
        line = proc.stderr.readline()
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    report = _report(report_dir)
    planned = runner.select(all_properties(), "clip")
    assert report["run"]["status"] == "interrupted"
    assert len(report["results"]) == report["run"]["planned_rows"] == len(planned)
    verdicts = [r["verdict"] for r in report["results"]]
    assert "pass" in verdicts and "not run" in verdicts and set(verdicts) <= {"pass", "not run"}
    assert (report_dir / "runs" / before / "correctness.json").exists()  # the previous report is kept
    assert "runs/" in err


def test_same_verdicts_from_the_checkout_and_from_an_empty_folder(user_dir, tmp_path):
    """The checkout's pyproject says filterwarnings = error::RuntimeWarning; the runner does not care: a target
    that warns and returns the right value passes from both folders, and its warning is recorded in the row."""
    verdicts = []
    for cwd, name in ((CHECKOUT, "in-checkout"), (user_dir, "in-empty")):
        report_dir = tmp_path / name
        env = {**os.environ, "PYTHONPATH": str(user_dir)}
        proc = subprocess.run([sys.executable, "-m", "dlproof", "conform", "rt_targets:warns", "--profile", "dev",
                               "-k", "rnn.cell.forward,clip.norm.rule", "--report", str(report_dir)],
                              cwd=cwd, capture_output=True, text=True, timeout=120, env=env)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        verdicts.append({r["property"]: r["verdict"] for r in _report(report_dir)["results"]})
    assert verdicts[0] == verdicts[1] and set(verdicts[0].values()) == {"pass"}


def test_a_target_that_does_not_load_writes_nothing_and_never_shows_an_old_table(user_dir, tmp_path):
    report_dir = tmp_path / "r"
    ok = _conform(user_dir, "rt_targets:sys_exits", report=report_dir, select="clip.norm.rule")
    assert ok.returncode == 0, ok.stderr[-2000:]
    old = (report_dir / "correctness.json").read_text()
    (user_dir / "broken_mod.py").write_text("raise RuntimeError('boom at import')\n")
    proc = _conform(user_dir, "broken_mod:target", report=report_dir)
    assert proc.returncode == 2
    assert "boom at import" in proc.stderr and "nothing was run or written" in proc.stderr
    assert proc.stdout == ""  # no table at all, least of all the old one
    assert (report_dir / "correctness.json").read_text() == old


def test_unknown_builtin_gets_did_you_mean(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "dlproof", "conform", "numpi", "--report", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "did you mean 'numpy'?" in proc.stderr
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").iterdir())


# ---- harness.run: exactly one row, whatever happens (in-process) ---------------------------------

def _one_row(prop, target, **kw):
    from dlproof.properties import harness, results

    n = len(results.ROWS)
    row = harness.run(prop, target, "t", profile="dev", seed_value=0, raises=False, **kw)
    assert len(results.ROWS) == n + 1 and results.ROWS[-1] is row
    return row


def test_a_bug_in_dlproof_is_an_internal_error_that_names_dlproof():
    from dataclasses import replace

    from dlproof.impl.targets import numpy_target
    from dlproof.properties import harness

    def broken_check(target, problem, chk):
        return {}["no such key"]  # dlproof's own bug, not the target's

    prop = replace(all_properties()["clip.norm.rule"], check=broken_check)
    row = _one_row(prop, numpy_target())
    assert row["verdict"] == "internal-error"
    assert row["message"].startswith("dlproof bug in property clip.norm.rule: KeyError")
    assert "dlproof/properties/" in row["message"] and "not the target's fault" in row["message"]
    with pytest.raises(harness.InternalError):
        harness.run(prop, numpy_target(), "t", profile="dev", seed_value=0)


def test_a_failure_that_does_not_reproduce_is_an_error_saying_so():
    from dataclasses import replace

    from dlproof.impl.targets import numpy_target

    base = numpy_target()
    calls = [0]

    def once_wrong(x, h, p):  # wrong on the first call only: Hypothesis cannot replay it
        calls[0] += 1
        out = base.rnn_cell(x, h, p)
        return out + 1.0 if calls[0] == 1 else out

    row = _one_row(all_properties()["rnn.cell.forward"], replace(base, name="once wrong", rnn_cell=once_wrong))
    assert row["verdict"] == "error" and "not reproducible" in row["message"], row


def test_a_failing_row_shows_the_ratio_of_the_failing_check():
    from dataclasses import replace

    from dlproof.impl.targets import numpy_target

    base = numpy_target()

    def off(x, h, p):
        return base.rnn_cell(x, h, p) * (1 + 1e-6)

    row = _one_row(all_properties()["rnn.cell.forward"], replace(base, name="off", rnn_cell=off))
    assert row["verdict"] == "fail"
    # the message says "= R x tolerance" of the failing entry; the row's ratio is that R, not the passing examples'
    said = float(row["message"].split(" x tolerance")[0].rsplit("= ", 1)[1])
    assert row["worst_error_ratio"] > 1 and row["worst_error_ratio"] == pytest.approx(said, rel=1e-2)


def test_the_harness_ignores_the_callers_warning_filters():
    """`warnings.simplefilter("error")` around the run (a project's filterwarnings = error) changes no verdict."""
    import warnings
    from dataclasses import replace

    from dlproof.impl.targets import numpy_target

    base = numpy_target()

    def warns(x, h, p):
        warnings.warn("overflow encountered in exp", RuntimeWarning)
        return base.rnn_cell(x, h, p)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        row = _one_row(all_properties()["rnn.cell.forward"], replace(base, name="warns", rnn_cell=warns))
    assert row["verdict"] == "pass", row["message"]
