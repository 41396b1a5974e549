"""pytest plugin (entry point ``pytest11``): ``--target``, ``--report``, ``--dlproof-profile``.

Inert in other projects: it only adds options, parametrizes tests that ask for the
``dlproof_target_spec``/``dlproof_property`` fixtures, and writes a report only if properties ran.
Heavy imports happen lazily.
"""
from __future__ import annotations

import json
import os
import time
import zlib
from pathlib import Path

import pytest

DEFAULT_REPORT = os.path.join("reports", "latest")

if os.environ.get("PYTEST_XDIST_WORKER"):
    # one BLAS/OpenMP thread per pytest-xdist worker (N workers on N cores; the suite's arrays are small),
    # set before NumPy or torch is imported; a value already in the environment wins
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")


def pytest_addoption(parser):
    g = parser.getgroup("dlproof", "dlproof conformance suite")
    g.addoption("--target", action="append", default=[], metavar="SPEC",
                help="target to check: a built-in name (numpy, numpy.float32, numpy.relu, numpy.gru_reset_before, numpy.clip_eps, "
                     "numpy.clip_per_tensor, torch, torch.float32) "
                     "or module:attribute; repeatable. Default: $DLPROOF_TARGET, else all built-ins.")
    g.addoption("--report", default=None, metavar="DIR",
                help=f"where to write correctness.md/.json (default: {DEFAULT_REPORT}); write it as --report=DIR: "
                     "pytest reads its configuration before plugins, and a bare existing DIR would be taken for a test path")
    g.addoption("--dlproof-profile", default=os.environ.get("DLPROOF_PROFILE", "ci"),
                choices=("dev", "ci", "thorough"), help="examples per property: dev 20, ci 100 (derandomized), thorough 1000")
    g.addoption("--dlproof-call-timeout", type=float, default=30.0, metavar="SECONDS",
                help="a capability call that takes longer is a failure (default 30)")
    g.addoption("--dlproof-isolate", action="store_true",
                help="run each target in a worker subprocess, so a hang inside C code is caught too")


def _report_dir(config) -> Path:
    d = config.getoption("--report")
    return Path(d) if d else Path(str(config.rootpath)) / DEFAULT_REPORT


def pytest_configure(config):
    import random

    config._dlproof_targets = {}
    config._dlproof_started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    # one seed per session for the randomized profiles, shared with xdist workers, recorded in the report
    worker = getattr(config, "workerinput", None)
    given = config.getoption("--hypothesis-seed", None)
    if worker is not None and "dlproof_seed" in worker:
        config._dlproof_seed = worker["dlproof_seed"]
    elif given is not None:
        config._dlproof_seed = int(given) if str(given).isdigit() else zlib.crc32(str(given).encode())
    else:
        config._dlproof_seed = random.SystemRandom().randrange(2 ** 32)
    config.addinivalue_line("markers", "conformance: a property of dlproof.properties run on a target")
    # one run folder per session (dlproof.runfolder): the controller names it, xdist workers write into it
    from dlproof.runfolder import new_run_id

    config._dlproof_run_id = worker["dlproof_run_id"] if worker is not None and "dlproof_run_id" in worker \
        else new_run_id()
    config._dlproof_run = None
    config._dlproof_worker_rows = []
    config._dlproof_write_error = None
    if worker is None and config.getoption("--report"):
        from dlproof.atomic import ReportDirError, ensure_dir

        try:
            ensure_dir(config.getoption("--report"))
        except ReportDirError as exc:
            raise pytest.UsageError(f"dlproof: cannot write the report to {config.getoption('--report')}: "
                                    f"--report: {exc}") from exc


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """pytest-xdist: every worker uses the controller's seed and run folder."""
    node.workerinput["dlproof_seed"] = node.config._dlproof_seed
    node.workerinput["dlproof_run_id"] = node.config._dlproof_run_id


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """pytest-xdist: a worker's rows come back in its workeroutput (no files written by workers)."""
    node.config._dlproof_worker_rows += list(getattr(node, "workeroutput", {}).get("dlproof_rows", []))


def _run_folder(config):
    """The session's run folder REPORT/runs/<run id>/, created on first use (None if it cannot be written: the
    session then fails at its end with the reason)."""
    from dlproof.atomic import ReportDirError
    from dlproof.runfolder import RunFolder

    if config._dlproof_run is None and config._dlproof_write_error is None:
        run = RunFolder.attach(_report_dir(config), config._dlproof_run_id)
        if not run.path.is_dir():
            try:
                run = RunFolder.create(_report_dir(config), config._dlproof_run_id)
            except ReportDirError as exc:
                if not run.path.is_dir():  # another xdist worker may have created it meanwhile
                    config._dlproof_write_error = str(exc)
                    return None
        config._dlproof_run = run
    return config._dlproof_run


def _targets(config) -> dict:
    if not config._dlproof_targets:
        from dlproof.loader import TargetLoadError, load_target, specs_from

        specs = specs_from(config.getoption("--target"))
        out = {}
        isolate = config.getoption("--dlproof-isolate")
        for spec in specs:
            try:
                if isolate:
                    from dlproof.isolate import isolated

                    load_target(spec)  # fail early, in this process, if it does not load
                    out[spec] = isolated(spec, config.getoption("--dlproof-call-timeout"))
                else:
                    out[spec] = load_target(spec)
            except TargetLoadError as exc:
                if spec in ("torch", "torch.float32") and not config.getoption("--target") and "torch" in str(exc):
                    continue  # default run without torch installed: skip the torch built-ins
                raise pytest.UsageError(f"dlproof: {exc}") from None
        config._dlproof_targets = out
    return config._dlproof_targets


def pytest_collection(session):
    """Load named targets before collection, so a bad spec is one usage error (exit 4), not a traceback."""
    c = session.config
    if c.getoption("--target") or os.environ.get("DLPROOF_TARGET", "").strip():
        _targets(c)


def pytest_generate_tests(metafunc):
    if "dlproof_target_spec" in metafunc.fixturenames and "dlproof_property" in metafunc.fixturenames:
        from dlproof.properties.registry import all_properties

        specs = list(_targets(metafunc.config))
        props = list(all_properties())
        pairs = [(s, p) for s in specs for p in props]
        metafunc.parametrize(("dlproof_target_spec", "dlproof_property"), pairs,
                             ids=[f"{s}::{p}" for s, p in pairs])


@pytest.fixture
def dlproof_run(request):
    """Run the parametrized property on the parametrized target; skip if not provided."""
    from dlproof.properties import assertions, harness
    from dlproof.properties.registry import all_properties

    config = request.config
    assertions.CALL_TIMEOUT = config.getoption("--dlproof-call-timeout")
    spec = request.getfixturevalue("dlproof_target_spec")
    prop = all_properties()[request.getfixturevalue("dlproof_property")]
    target = _targets(config)[spec]

    def run():
        run_folder = _run_folder(config)
        row = harness.run(prop, target, spec, profile=config.getoption("--dlproof-profile"),
                          report_dir=None if run_folder is None else run_folder.path, seed_value=config._dlproof_seed,
                          raises=False)
        if row["verdict"] == "not provided":
            pytest.skip(f"{spec} :: {prop.id}: not provided ({row['message']})")
        return row

    return run


def pytest_sessionfinish(session, exitstatus):
    import time

    from dlproof.atomic import ReportDirError
    from dlproof.properties import results

    config = session.config
    worker = getattr(config, "workerinput", None)
    if worker is not None:
        if results.ROWS:
            config.workeroutput["dlproof_rows"] = json.loads(json.dumps(results.ROWS, default=str))
        return
    rows = results.ROWS + config._dlproof_worker_rows
    if not rows:
        return
    report_dir = _report_dir(config)
    targets = {s: t.describe() for s, t in _targets(config).items()}
    profile = config.getoption("--dlproof-profile")
    prov = results.provenance(seed="derandomized" if profile == "ci" else config._dlproof_seed, profile=profile,
                              targets=targets)
    interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    run = {"id": config._dlproof_run_id, "targets": list(targets), "started": getattr(config, "_dlproof_started", now),
           "ended": now, "status": "interrupted" if interrupted else "complete", "planned_rows": len(rows)}
    try:
        run_folder = _run_folder(config)
        if run_folder is None:
            raise ReportDirError(config._dlproof_write_error)
        report = results.publish(run_folder, rows, prov, run)
    except OSError as exc:  # ReportDirError included: say so, and the session fails
        config._dlproof_write_error = str(exc)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED if exitstatus == 0 else exitstatus
        return
    config._dlproof_report = (report_dir, report["summary"])


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    info = getattr(config, "_dlproof_report", None)
    err = getattr(config, "_dlproof_write_error", None)
    if err and getattr(config, "workerinput", None) is None:
        terminalreporter.write_line(f"dlproof: cannot write the report to {_report_dir(config)}: {err}", red=True)
    if info:
        report_dir, summary = info
        terminalreporter.write_line(
            f"dlproof: {', '.join(f'{v} {k}' for k, v in summary.items() if v or k in ('pass', 'fail', 'error'))}; "
            f"report in {report_dir / 'correctness.md'}")
