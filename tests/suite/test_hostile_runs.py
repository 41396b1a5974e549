"""Acceptance suite of issue 16 ("trustworthy verdicts"): hostile targets run the way a new user runs them.

Each target module of tests/targets/hostile_runs/ is copied into an EMPTY temporary folder, and
``python -m dlproof conform MODULE:target`` runs there as a subprocess (cwd = that folder), with
``--profile dev --call-timeout 3`` and ``-k`` selecting the properties that call the hostile capability
(``rnn_cell``) plus three that do not. Every run, with and without ``--isolate``, must:

- end with a report whose run status is ``complete`` (``interrupted`` after Ctrl-C) and whose row count is
  the planned one: ``len(report["results"]) == report["run"]["planned_rows"]``;
- give every property that calls ``rnn_cell`` a fail/error verdict whose message names ``rnn_cell``;
- pass every property that does not call ``rnn_cell`` (a correct capability is never failed);
- give each property the same verdict with and without ``--isolate``;
- exit 1 (failures), never print a traceback through dlproof's own source, and keep the target's megabytes
  off the terminal (the subprocess's stdout and stderr stay under 200 KB).

Exit codes (the contract): 0 all pass, 1 failures, 2 usage error or nothing written, 130 interrupted.
Import-time misbehaviour, Ctrl-C, two concurrent runs into one folder, a read-only report folder and the
same target run from the checkout (whose pyproject turns RuntimeWarning into errors) and from an empty
folder are covered too.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HOSTILE_DIR = Path(__file__).resolve().parents[1] / "targets" / "hostile_runs"

#: the capability every hostile target of tests/targets/hostile_runs/ replaces
HOSTILE_CAPABILITY = "rnn_cell"
#: the properties that call it (checked against the registry in test_the_selection_is_what_it_claims)
TOUCHING = ("act.rnn_cell.accuracy", "extremes.rnn_cell.saturated", "protocol.rnn_cell.stateless", "rnn.cell.forward")
#: properties that do not call it: their capabilities are the NumPy reference's, so they must pass
UNTOUCHED = ("clip.value.rule", "lstm.cell.forward", "rnn.param_count")
SELECTED = TOUCHING + UNTOUCHED

CALL_TIMEOUT = 3          # --call-timeout for every run
RUN_TIMEOUT = 300         # seconds a whole `dlproof conform` subprocess may take before the test kills it
TERMINAL_LIMIT = 200_000  # bytes a run may put on each of stdout and stderr
EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

#: a frame of dlproof's own source in a traceback (the package, or its mapped source folders in a checkout)
DLPROOF_FRAME = re.compile(r'File "[^"]*[\\/](?:dlproof|properties|derivations)[\\/][^"]*\.py", line \d+')


# ---- running `dlproof conform` the way a new user does --------------------------------------------------

@dataclass
class Run:
    """One finished ``dlproof conform`` subprocess and the report it left (None if there is none)."""

    args: list
    rc: int
    stdout: bytes
    stderr: bytes
    seconds: float
    report_dir: Path
    report: dict | None = field(default=None)

    def tail(self, n: int = 3000) -> str:
        """What to print when an assertion fails: the command, exit code, time and the output's ends."""
        return (f"\n$ {' '.join(map(str, self.args))}\nexit {self.rc} after {self.seconds:.1f} s"
                f"\n--- stdout ({len(self.stdout)} bytes), last {n} ---\n{self.stdout[-n:].decode(errors='replace')}"
                f"\n--- stderr ({len(self.stderr)} bytes), last {n} ---\n{self.stderr[-n:].decode(errors='replace')}")

    def rows(self) -> dict:
        """property id -> result row of the report (a duplicate id is an error of its own)."""
        assert self.report is not None, "no report" + self.tail()
        rows = {}
        for r in self.report["results"]:
            assert r["property"] not in rows, f"two rows for {r['property']}" + self.tail()
            rows[r["property"]] = r
        return rows

    def verdicts(self) -> dict:
        return {p: r["verdict"] for p, r in self.rows().items()}


def user_env(**extra) -> dict:
    """The environment of a user's shell: no dlproof target/profile preset, no PYTHONPATH, nothing of pytest.
    The private derivation cache (DLPROOF_CACHE_DIR, pinned by tests/conftest.py) is kept, so runs stay warm."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "DLPROOF_TARGET", "DLPROOF_PROFILE") and not k.startswith("PYTEST_")}
    env.update(extra)
    return env


def run_cli(args, cwd, report_dir, timeout=RUN_TIMEOUT, env=None) -> Run:
    """Run ``args`` in its own process group (so the test can kill the whole tree: child, isolated workers)."""
    start = time.monotonic()
    proc = subprocess.Popen(args, cwd=cwd, env=env or user_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"still running after {timeout} s (killed)" + Run(args, -9, out, err, timeout, report_dir).tail())
    finally:
        _kill_group(proc.pid)  # leftovers (a hung worker) never outlive the test
    return _finished(args, proc.returncode, out, err, time.monotonic() - start, report_dir)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _finished(args, rc, out, err, seconds, report_dir) -> Run:
    path = Path(report_dir) / "correctness.json"
    report = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    return Run(list(args), rc, out, err, seconds, Path(report_dir), report)


def select(ids) -> list:
    """``-k`` arguments selecting the property ids ``ids`` (comma-separated substrings of property ids; none of
    the ids used here is a substring of another property's id)."""
    return ["-k", ",".join(ids)]


def user_folder(tmp_path: Path, *modules: str) -> Path:
    """An empty folder holding only copies of the named modules of tests/targets/hostile_runs/."""
    folder = tmp_path / "user"
    folder.mkdir()
    for m in modules:
        shutil.copy(HOSTILE_DIR / f"{m}.py", folder / f"{m}.py")
    return folder


def conform(folder: Path, spec: str, *extra, isolate=False, properties=SELECTED, report="report", cwd=None,
            env=None, timeout=RUN_TIMEOUT) -> Run:
    args = [sys.executable, "-m", "dlproof", "conform", spec, "--profile", "dev",
            "--call-timeout", str(CALL_TIMEOUT), "--report", str(report), *select(properties), *extra]
    if isolate:
        args.append("--isolate")
    cwd = cwd or folder
    return run_cli(args, cwd, Path(cwd) / report, timeout=timeout, env=env)


# ---- what every run must satisfy -------------------------------------------------------------------------

def assert_quiet(run: Run) -> None:
    """The terminal gets neither the target's megabytes nor a traceback through dlproof's source."""
    assert len(run.stdout) < TERMINAL_LIMIT, f"{len(run.stdout)} bytes on stdout" + run.tail()
    assert len(run.stderr) < TERMINAL_LIMIT, f"{len(run.stderr)} bytes on stderr" + run.tail()
    both = (run.stdout + run.stderr).decode(errors="replace")
    frame = DLPROOF_FRAME.search(both)
    assert frame is None, f"a traceback through dlproof's own source on the terminal ({frame.group()})" + run.tail()


def assert_whole_report(run: Run, status="complete", planned=SELECTED) -> dict:
    """The report exists, has the run block of the contract, the given status and one row per planned property."""
    assert run.report is not None, f"no report at {run.report_dir / 'correctness.json'}" + run.tail()
    meta = run.report.get("run")
    assert isinstance(meta, dict), "the report has no 'run' block" + run.tail()
    for key in ("id", "targets", "started", "ended", "status", "planned_rows"):
        assert key in meta, f"run block lacks {key!r}: {meta}" + run.tail()
    assert meta["status"] == status, f"run status {meta['status']!r}, expected {status!r}" + run.tail()
    results = run.report["results"]
    assert len(results) == meta["planned_rows"], (f"{len(results)} rows, {meta['planned_rows']} planned"
                                                  + run.tail())
    if planned is not None:
        assert sorted(run.rows()) == sorted(planned), f"rows {sorted(run.rows())}, selected {sorted(planned)}" + run.tail()
    return meta


def assert_blames_rnn_cell(run: Run, message: str, untouched=UNTOUCHED) -> None:
    """Every property that calls rnn_cell is fail/error naming rnn_cell and matching ``message`` (a regex);
    every other selected property passes."""
    rows = run.rows()
    for pid in TOUCHING:
        r = rows[pid]
        assert r["verdict"] in ("fail", "error"), f"{pid}: {r['verdict']} ({r.get('message')!r})" + run.tail()
        msg = r.get("message") or ""
        assert HOSTILE_CAPABILITY in msg, f"{pid}: the message does not name {HOSTILE_CAPABILITY}: {msg!r}" + run.tail()
        assert re.search(message, msg), f"{pid}: the message does not match /{message}/: {msg!r}" + run.tail()
    for pid in untouched:
        r = rows[pid]
        assert r["verdict"] == "pass", (f"{pid} does not call {HOSTILE_CAPABILITY} but got {r['verdict']}: "
                                        f"{r.get('message')!r}" + run.tail())


# ---- the hostile capabilities: one target module each ---------------------------------------------------

#: module of tests/targets/hostile_runs -> what the failing rows' messages must say (a regex; they name rnn_cell too)
HOSTILE = {
    "hostile_sleep_py": rf"did not return within {CALL_TIMEOUT}",
    "hostile_sleep_c": rf"did not return within {CALL_TIMEOUT}",
    "hostile_busy_c": rf"did not return within {CALL_TIMEOUT}",
    "hostile_abort": r"SIGABRT|signal 6\b",
    "hostile_segfault": r"SIGSEGV|signal 11\b",
    "hostile_os_exit": r"\b(?:code|status) 3\b|_exit\(3\)",
    "hostile_sys_exit": r"sys\.exit\(3\)|SystemExit",
    "hostile_huge_alloc": r"MemoryError",
    "hostile_fd1_flood": r"MiB|stdout|fd 1|file descriptor 1",
    "hostile_object_array": r"object",
    "hostile_del_key": r"'b'",
}
#: (module, isolate) pairs that stay in the fast (unmarked) subset: a few seconds each
FAST = {("hostile_sys_exit", False), ("hostile_object_array", False)}

_RUNS: dict = {}  # (module, isolate) -> Run, shared by the per-run and the with/without --isolate tests


def hostile_run(module: str, isolate: bool, tmp_path_factory) -> Run:
    key = (module, isolate)
    if key not in _RUNS:
        tmp = tmp_path_factory.mktemp(f"{module}-{'isolate' if isolate else 'inproc'}")
        _RUNS[key] = conform(user_folder(tmp, module), f"{module}:target", isolate=isolate)
    return _RUNS[key]


def _cases():
    for module in HOSTILE:
        for isolate in (False, True):
            marks = () if (module, isolate) in FAST else (pytest.mark.slow,)
            yield pytest.param(module, isolate, marks=marks,
                               id=f"{module.removeprefix('hostile_')}-{'isolate' if isolate else 'inproc'}")


def test_the_selection_is_what_it_claims():
    """TOUCHING is exactly the registry's properties that need rnn_cell; UNTOUCHED need none of it."""
    from dlproof.properties.registry import all_properties

    props = all_properties()
    assert sorted(p for p, prop in props.items() if HOSTILE_CAPABILITY in prop.capabilities) == sorted(TOUCHING)
    for pid in UNTOUCHED:
        assert HOSTILE_CAPABILITY not in props[pid].capabilities, pid
    assert set(HOSTILE) | {"hostile_big_alloc", "hostile_import_raise", "hostile_import_exit",
                           "hostile_import_print", "hostile_slow", "hostile_sigmoid"} == \
        {p.stem for p in HOSTILE_DIR.glob("*.py")}, "a module of tests/targets/hostile_runs/ that no test runs"


@pytest.mark.parametrize("module,isolate", list(_cases()))
def test_a_hostile_capability_is_blamed_and_the_run_completes(module, isolate, tmp_path_factory):
    run = hostile_run(module, isolate, tmp_path_factory)
    assert run.rc == EXIT_FAIL, f"exit {run.rc}, expected {EXIT_FAIL} (failures)" + run.tail()
    assert_whole_report(run)
    assert_blames_rnn_cell(run, HOSTILE[module])
    assert_quiet(run)


@pytest.mark.slow
@pytest.mark.parametrize("module", list(HOSTILE), ids=[m.removeprefix("hostile_") for m in HOSTILE])
def test_the_same_verdicts_with_and_without_isolation(module, tmp_path_factory):
    """Isolation changes how a call is made, never the verdict (a crash in-process has no shrunk example, but
    the verdict is the same)."""
    inproc, isolated = (hostile_run(module, i, tmp_path_factory) for i in (False, True))
    assert inproc.report is not None and isolated.report is not None, inproc.tail() + isolated.tail()
    assert inproc.verdicts() == isolated.verdicts(), (f"without --isolate {inproc.verdicts()}\n"
                                                      f"with --isolate    {isolated.verdicts()}"
                                                      + inproc.tail() + isolated.tail())


@pytest.mark.slow
def test_a_hang_costs_one_timeout_not_one_per_call(tmp_path_factory):
    """The issue's --isolate run took 222 s because later calls queued behind the hung worker. A hung
    capability may cost a few timeouts (kill, restart), never one per remaining call: with 3 s per call and
    dev's 20 examples, queueing would take minutes."""
    for module in ("hostile_sleep_c", "hostile_busy_c"):
        for isolate in (False, True):
            run = hostile_run(module, isolate, tmp_path_factory)
            assert run.seconds < 25 * CALL_TIMEOUT, f"{module} took {run.seconds:.0f} s" + run.tail()


# ---- a memory limit ---------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("isolate", [False, True], ids=["inproc", "isolate"])
def test_the_memory_limit_applies_to_the_target(isolate, tmp_path):
    """hostile_big_alloc reserves 3 GiB it never touches: correct without a limit, MemoryError under
    ``--memory-limit 2048`` (the limit is on the address space of the process that runs the target)."""
    folder = user_folder(tmp_path, "hostile_big_alloc")
    run = conform(folder, "hostile_big_alloc:target", "--memory-limit", "2048", isolate=isolate)
    assert run.rc == EXIT_FAIL, f"exit {run.rc}" + run.tail()
    assert_whole_report(run)
    assert_blames_rnn_cell(run, r"MemoryError")
    assert_quiet(run)
    free = conform(folder, "hostile_big_alloc:target", isolate=isolate, report="report-unlimited")
    assert free.rc == EXIT_PASS, f"without --memory-limit the target is correct; exit {free.rc}" + free.tail()
    assert_whole_report(free)
    assert set(free.verdicts().values()) == {"pass"}, free.verdicts()


@pytest.mark.slow
def test_a_huge_allocation_under_a_memory_limit(tmp_path):
    """np.empty(1 << 40) is a MemoryError with --memory-limit too (in-process and isolated alike)."""
    folder = user_folder(tmp_path, "hostile_huge_alloc")
    verdicts = []
    for isolate in (False, True):
        run = conform(folder, "hostile_huge_alloc:target", "--memory-limit", "2048", isolate=isolate,
                      report=f"report-{isolate}")
        assert run.rc == EXIT_FAIL, f"exit {run.rc}" + run.tail()
        assert_whole_report(run)
        assert_blames_rnn_cell(run, r"MemoryError")
        verdicts.append(run.verdicts())
    assert verdicts[0] == verdicts[1]


# ---- misbehaving at import time ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def previous_report(tmp_path_factory):
    """A real, complete earlier run (built-in numpy, clip.value.rule only) to seed a report folder with."""
    tmp = tmp_path_factory.mktemp("previous")
    run = conform(tmp, "numpy", properties=("clip.value.rule",))
    assert run.rc == EXIT_PASS, run.tail()
    assert_whole_report(run, planned=("clip.value.rule",))
    return run.report_dir


@pytest.mark.slow
@pytest.mark.parametrize("isolate", [False, True], ids=["inproc", "isolate"])
@pytest.mark.parametrize("module,what", [
    ("hostile_import_raise", r"RuntimeError|broken at import time"),
    ("hostile_import_exit", r"SystemExit|sys\.exit|exit(?:ed)?.*\b3\b"),
], ids=["raise", "exit"])
def test_a_module_that_fails_on_import_writes_nothing_stale(module, what, isolate, previous_report, tmp_path):
    """Exit 2 with the load error; the earlier report's table is not printed as if it were this run's, and if
    anything was written it is this run's own (aborted) report, never the old one under a new name."""
    folder = user_folder(tmp_path, module)
    shutil.copytree(previous_report, folder / "report", symlinks=True)
    before = (folder / "report" / "correctness.json").read_bytes()
    run = conform(folder, f"{module}:target", isolate=isolate)
    assert run.rc == EXIT_USAGE, f"exit {run.rc}, expected {EXIT_USAGE} (nothing written)" + run.tail()
    err = run.stderr.decode(errors="replace")
    assert module in err and re.search(what, err), "the load error is not reported on stderr" + run.tail()
    out = run.stdout.decode(errors="replace")
    assert "clip.value.rule" not in out and not re.search(r"\d+ pass", out), "a stale table was printed" + run.tail()
    after = (folder / "report" / "correctness.json").read_bytes()
    if after != before:  # the run recorded itself: then as aborted, for this target, with its rows
        meta = assert_whole_report(run, status="aborted", planned=None)
        assert meta["targets"] == [f"{module}:target"], meta
    assert_quiet(run)


@pytest.mark.slow
@pytest.mark.parametrize("isolate", [False, True], ids=["inproc", "isolate"])
def test_a_module_that_prints_megabytes_on_import(isolate, tmp_path):
    """20 MiB printed while the module is imported never reach the terminal; the (correct) target passes, and
    the run folder keeps the start of what it printed in target-output.log (capped, not the 20 MiB)."""
    folder = user_folder(tmp_path, "hostile_import_print")
    run = conform(folder, "hostile_import_print:target", isolate=isolate)
    assert_quiet(run)
    assert run.rc == EXIT_PASS, f"exit {run.rc}" + run.tail()
    meta = assert_whole_report(run)
    assert set(run.verdicts().values()) == {"pass"}, run.verdicts()
    log = run.report_dir / "runs" / meta["id"] / "target-output.log"
    assert log.is_file(), f"no {log}" + run.tail()
    assert 0 < log.stat().st_size <= 1 << 20, f"{log}: {log.stat().st_size} bytes"


# ---- Ctrl-C -----------------------------------------------------------------------------------------------

def _default_sigint():
    """In the child before exec: SIGINT back to its default action. A shell starts background jobs with SIGINT
    ignored, and an ignored SIGINT stays ignored across exec (Python then installs no KeyboardInterrupt
    handler), so a test run from such a job would otherwise send a signal nobody receives."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_ctrl_c_mid_run_leaves_an_interrupted_report(tmp_path):
    """SIGINT to the process group (what Ctrl-C in a terminal sends) after the first rows: exit 130, the report
    says interrupted and holds every planned row (``not run`` for the rest), and the previous complete run is
    kept under runs/."""
    folder = user_folder(tmp_path, "hostile_slow")
    first = conform(folder, "hostile_slow:target", properties=("clip.value.rule",))
    assert first.rc == EXIT_PASS, first.tail()
    previous = assert_whole_report(first, planned=("clip.value.rule",))["id"]

    # hostile_slow's rnn_cell takes 0.3 s a call: its three properties need well over a minute at dev's 20
    # examples, so the run is certainly still going when the signal comes
    args = [sys.executable, "-m", "dlproof", "conform", "hostile_slow:target", "--profile", "dev",
            "--call-timeout", str(CALL_TIMEOUT), "--report", "report", *select(SELECTED)]
    start = time.monotonic()
    proc = subprocess.Popen(args, cwd=folder, env=user_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_default_sigint)
    chunks = {"out": [], "err": []}
    seen_row = threading.Event()

    def read(stream, name):  # stderr has the progress lines: interrupt once a fast property was reported
        for line in stream:
            chunks[name].append(line)
            if name == "err" and any(p.encode() in line for p in UNTOUCHED):
                seen_row.set()

    readers = [threading.Thread(target=read, args=(s, n), daemon=True) for s, n in ((proc.stdout, "out"),
                                                                                      (proc.stderr, "err"))]
    for t in readers:
        t.start()
    try:
        seen_row.wait(timeout=20)  # no progress line naming a property: interrupt after 20 s anyway
        time.sleep(1.0)
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail("still running 60 s after SIGINT" + Run(args, -1, b"".join(chunks["out"]),
                                                                b"".join(chunks["err"]), 0, folder).tail())
        for t in readers:
            t.join(timeout=10)
    finally:
        _kill_group(proc.pid)
    out = b"".join(chunks["out"])
    err = b"".join(chunks["err"])
    run = _finished(args, proc.returncode, out, err, time.monotonic() - start, folder / "report")
    assert run.rc == EXIT_INTERRUPTED, f"exit {run.rc}, expected {EXIT_INTERRUPTED}" + run.tail()
    meta = assert_whole_report(run, status="interrupted")
    verdicts = run.verdicts()
    assert "not run" in verdicts.values(), f"nothing left unrun after an early Ctrl-C: {verdicts}" + run.tail()
    assert set(verdicts.values()) <= {"pass", "not run"}, f"a correct target interrupted: {verdicts}" + run.tail()
    assert meta["id"] != previous
    kept = folder / "report" / "runs" / previous / "correctness.json"
    assert kept.exists(), f"the previous run's report is gone ({kept})" + run.tail()
    old = json.loads(kept.read_text(encoding="utf-8"))
    assert old["run"]["status"] == "complete" and [r["property"] for r in old["results"]] == ["clip.value.rule"]
    assert_quiet(run)


# ---- two runs into one folder -----------------------------------------------------------------------------

@pytest.mark.slow
def test_two_concurrent_runs_into_one_folder(tmp_path):
    """Both finish; the top-level files parse and are one run's; each run folder holds its own whole report."""
    folder = tmp_path / "shared"
    folder.mkdir()
    picks = {"a": ("clip.value.rule",), "b": ("rnn.param_count", "lstm.param_count")}
    runs, threads = {}, []
    for name, props in picks.items():
        def go(name=name, props=props):
            runs[name] = conform(folder, "numpy", properties=props)
        threads.append(threading.Thread(target=go))
    for t in threads:
        t.start()
    for t in threads:
        t.join(RUN_TIMEOUT + 30)
    assert set(runs) == set(picks), "a run did not finish"
    ids = {}
    for name, run in runs.items():
        assert run.rc == EXIT_PASS, run.tail()
        assert_quiet(run)
    top = json.loads((folder / "report" / "correctness.json").read_text(encoding="utf-8"))
    assert (folder / "report" / "correctness.md").read_text(encoding="utf-8").strip()
    run_dirs = sorted(p for p in (folder / "report" / "runs").iterdir() if p.is_dir())
    assert len(run_dirs) == 2, f"two runs, run folders {[p.name for p in run_dirs]}"
    for d in run_dirs:
        report = json.loads((d / "correctness.json").read_text(encoding="utf-8"))
        meta = report["run"]
        assert meta["id"] == d.name and meta["status"] == "complete", meta
        assert len(report["results"]) == meta["planned_rows"], meta
        props = tuple(sorted(r["property"] for r in report["results"]))
        match = [n for n, p in picks.items() if tuple(sorted(p)) == props]
        assert len(match) == 1, f"run folder {d.name} holds rows {props}"
        ids[match[0]] = d.name
        assert all(r["verdict"] == "pass" for r in report["results"]), report["results"]
        assert (d / "correctness.md").exists()
    assert set(ids) == set(picks)
    assert top["run"]["id"] in ids.values()
    assert top == json.loads((folder / "report" / "runs" / top["run"]["id"] / "correctness.json").read_text("utf-8"))


# ---- a report folder that cannot be written --------------------------------------------------------------

def _read_only(folder: Path) -> Path:
    ro = folder / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    return ro


def _under_a_file(folder: Path) -> Path:
    (folder / "a-file").write_text("not a folder\n", encoding="utf-8")
    return folder / "a-file" / "report"


@pytest.mark.slow
@pytest.mark.parametrize("blocked", [
    pytest.param(_read_only, id="read-only", marks=pytest.mark.skipif(
        hasattr(os, "geteuid") and os.geteuid() == 0,
        reason="root writes into a read-only folder anyway (chmod does not stop it), as on CI")),
    pytest.param(_under_a_file, id="under-a-file"),  # the same failure to write, also as root
])
def test_an_unwritable_report_folder_is_a_clear_error(blocked, tmp_path):
    """``dlproof conform`` exits 2 naming the folder; ``pytest --pyargs dlproof.properties --target X
    --report=DIR`` does not exit 0 silently either."""
    folder = tmp_path / "user"
    folder.mkdir()
    report = blocked(folder)
    try:
        run = conform(folder, "numpy", properties=("clip.value.rule",), report=report.relative_to(folder))
        assert run.rc == EXIT_USAGE, f"exit {run.rc}, expected {EXIT_USAGE}" + run.tail()
        assert str(report.relative_to(folder)) in run.stderr.decode(errors="replace"), \
            "the message does not name the folder" + run.tail()
        assert b"pass" not in run.stdout, "a table was printed although nothing could be written" + run.tail()
        assert_quiet(run)
        args = [sys.executable, "-m", "pytest", "--pyargs", "dlproof.properties", "--target", "numpy",
                f"--report={report}", "--dlproof-profile", "dev", "-k", "clip.value.rule", "-p", "no:cacheprovider",
                "-o", "addopts=", "-q"]
        plug = run_cli(args, folder, report)
        assert plug.rc != 0, "pytest exited 0 although no report could be written" + plug.tail()
        assert str(report) in (plug.stdout + plug.stderr).decode(errors="replace"), \
            "pytest's output does not name the report folder" + plug.tail()
        assert not report.is_dir() or not any(report.iterdir()), f"something was written into {report}"
    finally:
        if report.is_dir():
            report.chmod(0o755)


# ---- the same verdicts from every folder --------------------------------------------------------------------

@pytest.mark.slow
def test_the_same_verdicts_from_the_checkout_and_from_an_empty_folder(tmp_path):
    """hostile_sigmoid's textbook sigmoid overflows (RuntimeWarning) and returns the right 0. The checkout's
    pyproject has ``filterwarnings = error::RuntimeWarning``; dlproof owns its warnings policy, so both folders
    give the same verdicts (all pass), and the warning is recorded in a row rather than raised."""
    folder = user_folder(tmp_path, "hostile_sigmoid")
    assert "error::RuntimeWarning" in (REPO / "pyproject.toml").read_text(encoding="utf-8")
    props = ("extremes.lstm_cell.saturated", "lstm.cell.forward", "protocol.lstm_cell.stateless", "clip.value.rule")
    env = user_env(PYTHONPATH=str(folder))  # the same environment for both: the module is importable from both
    runs = {}
    for where, cwd in (("empty folder", folder), ("checkout", REPO)):
        args = [sys.executable, "-m", "dlproof", "conform", "hostile_sigmoid:target", "--profile", "ci",
                "--call-timeout", "30", "--report", str(tmp_path / f"report-{where.split()[0]}"), *select(props)]
        runs[where] = run = run_cli(args, cwd, tmp_path / f"report-{where.split()[0]}", env=env)
        assert run.rc == EXIT_PASS, f"{where}: exit {run.rc}" + run.tail()
        assert_whole_report(run, planned=props)
        assert set(run.verdicts().values()) == {"pass"}, f"{where}: {run.verdicts()}" + run.tail()
        warned = [w for r in run.report["results"] for w in r.get("warnings") or []]
        assert any("RuntimeWarning" in w and "overflow" in w for w in warned), \
            f"{where}: the overflow warning is not recorded in any row: {warned}" + run.tail()
        assert_quiet(run)
    assert runs["empty folder"].verdicts() == runs["checkout"].verdicts()
