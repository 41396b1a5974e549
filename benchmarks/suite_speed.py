"""Benchmark: how fast the test suite is. The derivation cache (cold / warm), the default `pytest` serially,
with `-n 2`, and the README's test command `pytest -n 2 --cov` exactly (wall, CPU, the ratio, peak RSS of
every process), and the cost of one Hypothesis example of the cell properties.

    python benchmarks/suite_speed.py [--repeat 3] [--skip-pytest] [--examples-runs 7] [--modes serial,n2,readme]

Results go to stdout and to reports/latest/bench/suite_speed.json (an ignored run folder). Another script
includes it as a section with ``measure(repeats) -> dict`` and ``render(result) -> list`` (Markdown lines,
no heading; `TITLE` is one).

How it is measured:

- every figure is the median of ``repeats`` runs in fresh processes; the runs of the modes (serial
  ``pytest -q``, ``-n 2``, and ``readme``: the README's command ``pytest -n 2 --cov`` exactly as a user types
  it, the probe loaded through ``$PYTEST_PLUGINS`` and the coverage data file kept in a temporary folder
  through ``$COVERAGE_FILE``) alternate, so a drift of the machine's load affects all alike;
- wall time (``time.perf_counter``) depends on what else the machine runs, so the 1-minute load average
  is recorded before and after each run, with the number of cores other processes kept busy meanwhile
  (from /proc/stat), and the CPU time (user + system of pytest and every process it waited for: the xdist
  workers, the suite's subprocesses) is reported beside it: it moves much less with load;
- peak RSS per process comes from a probe loaded into pytest (``-p suite_speed``: this file is also a
  pytest plugin) that records ``getrusage(RUSAGE_SELF).ru_maxrss`` in the controller and in each worker;
- one Hypothesis example: a property runs through ``dlproof.properties.harness`` on the ``numpy`` target
  (ci profile: 100 derandomized examples), everything included (Hypothesis' engine, drawing, oracle,
  target call, error model, assertions), ``--examples-runs`` runs after a warm-up run, in a fresh process
  with one BLAS thread, as in the suite. Reported: the median over examples of the time from one
  example's start to the next one's (robust to preemption), and a run's time over its examples.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
LOAD = "import dlproof.derivations as d; d.records(); d.kernels()"
TITLE = "Test suite speed"
SCHEMA = 1
CELL_PROPERTIES = ("rnn.cell.forward", "lstm.cell.forward", "gru.cell.forward")
#: the goals of the issue "a fast suite that scales across cores" (2 cores, ci profile, no coverage)
GOALS = {"serial_wall_s": 90.0, "n2_over_serial_wall": 0.65, "per_example_ms": 1.5, "peak_rss_mb": 1024.0,
         "readme_wall_s": 90.0}  # readme: issue 20, "the README's test command within 90 s"
#: what each mode runs after ``python -m pytest``; ``readme`` is README.md's test command, word for word
MODES = {"serial": ["-q", "-p", "no:cacheprovider", "-p", "suite_speed"],
         "n2": ["-q", "-p", "no:cacheprovider", "-p", "suite_speed", "-n", "2"],
         "readme": ["-n", "2", "--cov"]}
DEFAULT_MODES = ("serial", "n2", "readme")
MODE_NAMES = {"serial": "serial", "n2": "-n 2", "readme": "`pytest -n 2 --cov` (README)"}
PROBE_ENV = "DLPROOF_SUITE_SPEED_PROBE"
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


# ---- the probe: this module is also a pytest plugin (-p suite_speed) -----------------------------------

def group(nodeid: str) -> str:
    """Where a test's time is booked: "conformance (built-in targets)" for the conformance suite's items, else
    its folder under tests/ ("tests/suite", ...), or the file for a module directly in tests/."""
    path = nodeid.split("::", 1)[0]
    if path.endswith("test_conformance.py"):
        return "conformance (built-in targets)"
    parts = path.split("/")
    return "/".join(parts[:2]) if len(parts) > 2 else path


#: group -> seconds of its tests' setup, call and teardown, as the controller receives the reports (under xdist
#: the workers' reports reach it too: summed there once)
GROUP_SECONDS: dict = {}


def pytest_runtest_logreport(report):
    if os.environ.get(PROBE_ENV):
        g = group(report.nodeid)
        GROUP_SECONDS[g] = GROUP_SECONDS.get(g, 0.0) + report.duration


def pytest_sessionfinish(session):
    """Record this process' CPU time and peak RSS (controller and each xdist worker) in $DLPROOF_SUITE_SPEED_PROBE;
    the controller adds the seconds per `group` of every test."""
    folder = os.environ.get(PROBE_ENV)
    if not folder:
        return
    worker = getattr(session.config, "workerinput", {}).get("workerid", "controller")
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    rec = {"process": worker, "cpu_s": me.ru_utime + me.ru_stime, "max_rss_mb": _peak_rss_mb(me),
           "subprocess_cpu_s": kids.ru_utime + kids.ru_stime, "testscollected": session.testscollected,
           "testsfailed": session.testsfailed}
    if worker == "controller":
        rec["group_s"] = {g: round(v, 2) for g, v in sorted(GROUP_SECONDS.items())}
    Path(folder, f"{worker}.json").write_text(json.dumps(rec), encoding="utf-8")


def breakdown(runs: list) -> dict:
    """group -> median over ``runs`` (results of `_pytest_once`) of the seconds booked to it by the controller."""
    per = {}
    for r in runs:
        ctl = next((q for q in r["processes"] if q["process"] == "controller"), {})
        for g, v in ctl.get("group_s", {}).items():
            per.setdefault(g, []).append(v)
    return {g: _median(v) for g, v in sorted(per.items(), key=lambda kv: -_median(kv[1]))}


def _peak_rss_mb(usage) -> float:
    """This process' own peak RSS: VmHWM of /proc/self/status (Linux). Not ru_maxrss, which Linux carries over
    from the parent through fork + exec (a pytest launched by a 1 GB benchmark process would report 1 GB)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return usage.ru_maxrss / 1024


# ---- helpers ------------------------------------------------------------------------------------------

def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def _machine_busy_s() -> float | None:
    """CPU seconds all processes of the machine have spent so far (Linux /proc/stat), None elsewhere."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait
    except (OSError, ValueError, AttributeError):
        return None


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _timed(cmd, env) -> dict:
    """Run ``cmd``; its wall time, the CPU time of it and every process it waited for, the load around it, and
    how many cores other processes kept busy meanwhile (``others_cores``: machine-wide busy time minus ours)."""
    load0, cpu0, busy0, t = _load(), _children_cpu(), _machine_busy_s(), time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall, cpu, busy1 = time.perf_counter() - t, _children_cpu() - cpu0, _machine_busy_s()
    others = None if busy0 is None or busy1 is None else max(0.0, (busy1 - busy0 - cpu) / wall)
    return {"wall_s": wall, "cpu_s": cpu, "load_before": load0, "load_after": _load(), "others_cores": others,
            "returncode": proc.returncode, "tail": proc.stdout[-2000:]}


#: ``--bytecode write``: Python writes bytecode (and pytest its assertion-rewritten test modules) into this
#: ignored folder, as in a shell without $PYTHONDONTWRITEBYTECODE; ``env`` (the default) keeps the caller's setting
PYCACHE = ROOT / "reports" / "latest" / "bench" / "pycache"
BYTECODE = {"mode": "env"}


def _clean_env(extra=None) -> dict:
    """The environment of a default run: no target or profile chosen by the caller's environment; with
    ``--bytecode write``, no $PYTHONDONTWRITEBYTECODE and $PYTHONPYCACHEPREFIX set to `PYCACHE`."""
    env = {k: v for k, v in os.environ.items() if k not in ("DLPROOF_TARGET", "DLPROOF_PROFILE")}
    if BYTECODE["mode"] == "write":
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    env.update(extra or {})
    return env


# ---- derivation cache ---------------------------------------------------------------------------------

def measure_cache(repeats: int) -> dict:
    cold, warm, baseline = [], [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as d:
            # cold: SymPy derives and proves everything (the proofs shipped with the package switched off; with
            # them a fresh install loads like a warm cache: benchmarks/first_verdict.py)
            env = _clean_env({"DLPROOF_CACHE_DIR": d, "DLPROOF_SHIPPED_PROOFS": "off"})
            cold.append(_timed([sys.executable, "-c", LOAD], env)["wall_s"])
            warm.append(_timed([sys.executable, "-c", LOAD], env)["wall_s"])
            baseline.append(_timed([sys.executable, "-c", "import numpy"], env)["wall_s"])
    return {"cold_s": _median(cold), "warm_s": _median(warm), "python_plus_numpy_startup_s": _median(baseline),
            "runs": {"cold_s": cold, "warm_s": warm, "python_plus_numpy_startup_s": baseline}}


# ---- the default pytest, serial and -n 2 --------------------------------------------------------------

def _pytest_once(mode: str, report: str) -> dict:
    """One run of ``mode`` (a key of `MODES`). The serial and ``-n 2`` runs write their dlproof report into
    ``report``; the README command writes where a user's does (reports/latest/, ignored by git)."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; known: {sorted(MODES)}")
    with tempfile.TemporaryDirectory() as probe:
        pythonpath = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
        env = _clean_env({PROBE_ENV: probe, "PYTHONPATH": pythonpath})
        cmd = [sys.executable, "-m", "pytest"] + MODES[mode]
        if mode == "readme":
            env.update(PYTEST_PLUGINS="suite_speed", COVERAGE_FILE=str(Path(probe) / ".coverage"))
        else:
            cmd.append(f"--report={report}")
        run = _timed(cmd, env)
        procs = sorted((json.loads(p.read_text(encoding="utf-8")) for p in Path(probe).glob("*.json")),
                       key=lambda r: r["process"])
    m = re.search(r"(\d+) passed", run["tail"])
    run.update(processes=procs, passed=int(m.group(1)) if m else None,
               max_rss_mb=max((p["max_rss_mb"] for p in procs), default=None),
               max_worker_cpu_s=max((p["cpu_s"] + p["subprocess_cpu_s"] for p in procs if p["process"] != "controller"),
                                    default=None))
    if run["returncode"] != 0:
        run["failed"] = True
    else:
        run.pop("tail")
    return run


def _summarize_runs(runs: list) -> dict:
    return {"wall_s": _median([r["wall_s"] for r in runs]), "cpu_s": _median([r["cpu_s"] for r in runs]),
            "breakdown_s": breakdown(runs),
            "max_rss_mb": max((r["max_rss_mb"] for r in runs if r["max_rss_mb"] is not None), default=None),
            "max_worker_cpu_s": _median([r["max_worker_cpu_s"] for r in runs]),
            "others_cores": _median([r["others_cores"] for r in runs]),
            "load_1min": [x for r in runs for x in (r["load_before"], r["load_after"])],
            "all_passed": all(r["returncode"] == 0 for r in runs), "runs": runs}


def measure_pytest(repeats: int, modes=DEFAULT_MODES) -> dict:
    """Each mode of ``modes`` (keys of `MODES`; serial is always run: the ratios refer to it) ``repeats`` times,
    the modes alternating."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise ValueError(f"unknown modes {unknown}; known: {sorted(MODES)}")
    modes = ["serial"] + [m for m in MODES if m in modes and m != "serial"]
    runs = {m: [] for m in modes}
    with tempfile.TemporaryDirectory() as rep:
        for _ in range(repeats):  # alternate, so drift of the machine's load hits every mode alike
            for m in modes:
                runs[m].append(_pytest_once(m, rep))
        path = Path(rep) / "correctness.json"
        rows = json.loads(path.read_text(encoding="utf-8"))["results"] if path.exists() else []
    ran = [r["examples"] for r in rows if r["verdict"] == "pass"]
    out = {m: _summarize_runs(runs[m]) for m in modes}
    out.update(modes=modes, min_examples_per_passing_property=min(ran) if ran else None)
    s = out["serial"]
    for m in modes[1:]:
        p = out[m]
        out[f"{m}_over_serial_wall"] = p["wall_s"] / s["wall_s"] if s["wall_s"] and p["wall_s"] else None
    out["n2_over_serial_wall"] = out.get("n2_over_serial_wall")
    if "n2" not in out:
        return out
    n2 = runs["n2"]
    # load-robust view of the same ratio: the busiest worker's CPU time plus the controller's, over serial CPU
    crit = [r["max_worker_cpu_s"] + next((q["cpu_s"] for q in r["processes"] if q["process"] == "controller"), 0.0)
            for r in n2 if r["max_worker_cpu_s"] is not None]
    serial_self = [next((q["cpu_s"] + q["subprocess_cpu_s"] for q in r["processes"] if q["process"] == "controller"), None)
                   for r in runs["serial"]]
    out["n2_critical_cpu_over_serial_cpu"] = (_median(crit) / _median(serial_self)
                                              if crit and _median(serial_self) else None)
    return out


# ---- one Hypothesis example of the cell properties ----------------------------------------------------

def _per_example_child(props, runs: int, target: str = "numpy") -> dict:
    """In a fresh process: the cost of one example of each property (ci profile), ``runs`` runs each.

    Two views: ``*_ms`` is the median over all examples of the time from the start of one example's check
    to the start of the next (so everything between, Hypothesis' engine and drawing included); a median
    over examples leaves out the examples during which the process was preempted. ``mean_*_ms`` is a
    whole run's time over its number of examples, the median over runs."""
    import dataclasses

    from dlproof.loader import load_target
    from dlproof.properties import harness, results
    from dlproof.properties.registry import all_properties

    all_props, t = all_properties(), load_target(target)
    out = {}
    for pid in props:
        stamps = []

        def check(target_, q, chk, _check=all_props[pid].check):
            stamps.append((time.perf_counter(), time.process_time()))
            return _check(target_, q, chk)

        prop = dataclasses.replace(all_props[pid], check=check)
        harness.run(prop, t, target, profile="ci")  # warm-up: imports, kernels, Hypothesis' caches
        gaps_wall, gaps_cpu, mean_wall, mean_cpu, examples = [], [], [], [], None
        for _ in range(runs):
            harness._SHARED.clear()
            stamps.clear()
            w, c = time.perf_counter(), time.process_time()
            row = harness.run(prop, t, target, profile="ci")
            w, c = time.perf_counter() - w, time.process_time() - c
            examples = row["examples"]
            mean_wall.append(1e3 * w / examples)
            mean_cpu.append(1e3 * c / examples)
            gaps_wall += [1e3 * (b[0] - a[0]) for a, b in zip(stamps, stamps[1:])]
            gaps_cpu += [1e3 * (b[1] - a[1]) for a, b in zip(stamps, stamps[1:])]
        results.ROWS.clear()
        out[pid] = {"wall_ms": statistics.median(gaps_wall), "cpu_ms": statistics.median(gaps_cpu),
                    "mean_wall_ms": statistics.median(mean_wall), "mean_cpu_ms": statistics.median(mean_cpu),
                    "examples": examples, "runs": runs, "mean_wall_ms_runs": mean_wall}
    return out


def measure_per_example(runs: int = 7, props=CELL_PROPERTIES) -> dict:
    code = (f"import json, sys; sys.path.insert(0, {str(HERE)!r}); import suite_speed; "
            f"print(json.dumps(suite_speed._per_example_child({list(props)!r}, {int(runs)})))")
    load0 = _load()
    proc = subprocess.run([sys.executable, "-c", code], env=_clean_env(ONE_THREAD), cwd=ROOT,
                          capture_output=True, text=True, check=True)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"target": "numpy", "profile": "ci", "load_1min": [load0, _load()], "properties": res}


# ---- the section --------------------------------------------------------------------------------------

def _goals(res: dict) -> list:
    goals = []
    py = res.get("pytest")
    if py:
        goals.append({"metric": "serial wall (s)", "value": py["serial"]["wall_s"], "goal": GOALS["serial_wall_s"],
                      "ok": py["serial"]["wall_s"] is not None and py["serial"]["wall_s"] <= GOALS["serial_wall_s"]})
        if "n2" in py:
            r = py["n2_over_serial_wall"]
            goals.append({"metric": "-n 2 / serial wall", "value": r, "goal": GOALS["n2_over_serial_wall"],
                          "ok": r is not None and r <= GOALS["n2_over_serial_wall"]})
        if "readme" in py:
            w = py["readme"]["wall_s"]
            goals.append({"metric": "README command `pytest -n 2 --cov` wall (s)", "value": w,
                          "goal": GOALS["readme_wall_s"], "ok": w is not None and w <= GOALS["readme_wall_s"]})
        rss = max((py[m]["max_rss_mb"] for m in _modes(py) if py[m]["max_rss_mb"] is not None), default=None)
        goals.append({"metric": "peak RSS of one pytest process (MB)", "value": rss, "goal": GOALS["peak_rss_mb"],
                      "ok": rss is not None and rss <= GOALS["peak_rss_mb"]})
    for pid, r in (res.get("per_example") or {}).get("properties", {}).items():
        goals.append({"metric": f"{pid}: one example (ms, wall)", "value": r["wall_ms"], "goal": GOALS["per_example_ms"],
                      "ok": r["wall_ms"] <= GOALS["per_example_ms"]})
    return goals


def _modes(py: dict) -> list:
    """The modes a pytest result holds (results written before the README mode existed: serial and n2)."""
    return py.get("modes") or [m for m in ("serial", "n2") if m in py]


def measure(repeats: int = 1, *, pytest_runs: bool = True, examples_runs: int = 7, cache: bool = True,
            modes=DEFAULT_MODES) -> dict:
    """Everything above, each figure the median of ``repeats`` runs (the per-example cost: of
    ``max(examples_runs, repeats)`` runs). JSON-able."""
    res = {"schema": SCHEMA, "repeats": repeats, "load_1min_start": _load(),
           "machine": {"logical_cpus": os.cpu_count(),
                       "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None},
           "environment": {k: os.environ.get(k) for k in ("PYTHONDONTWRITEBYTECODE", "OMP_NUM_THREADS")},
           "bytecode": BYTECODE["mode"],
           "goals_def": dict(GOALS)}
    if cache:
        res["derivations"] = measure_cache(repeats)
    res["per_example"] = measure_per_example(max(examples_runs, repeats))
    if pytest_runs:
        res["pytest"] = measure_pytest(repeats, modes)
    res["load_1min_end"] = _load()
    res["goals"] = _goals(res)
    res["summary"] = summary(res)
    return res


def summary(res: dict) -> dict:
    """The headline numbers, flat (the keys of the earlier suite_speed.json kept)."""
    out = {}
    d = res.get("derivations")
    if d:
        out.update(derivations_cold_s=d["cold_s"], derivations_warm_s=d["warm_s"],
                   python_plus_numpy_startup_s=d["python_plus_numpy_startup_s"])
    py = res.get("pytest")
    if py:
        for m in _modes(py):
            out.update({f"pytest_{m}_s": py[m]["wall_s"], f"pytest_{m}_cpu_s": py[m]["cpu_s"],
                        f"pytest_{m}_max_rss_mb": py[m]["max_rss_mb"]})
        if "n2" in py:
            out["pytest_n2_over_serial"] = py["n2_over_serial_wall"]
        out["min_examples_per_passing_property"] = py["min_examples_per_passing_property"]
    for pid, r in (res.get("per_example") or {}).get("properties", {}).items():
        out[f"{pid}_per_example_ms"] = r["wall_ms"]
        out[f"{pid}_per_example_cpu_ms"] = r["cpu_ms"]
        out[f"{pid}_run_over_examples_ms"] = r["mean_wall_ms"]
    return out


def _f(x, nd=2):
    return "n/a" if x is None else f"{x:.{nd}f}"


def _loads(xs) -> str:
    xs = [x for x in xs if x is not None]
    return "n/a" if not xs else (f"{min(xs):.2f}" if min(xs) == max(xs) else f"{min(xs):.2f}-{max(xs):.2f}")


def render(result: dict) -> list:
    """The result as Markdown lines (no heading: the includer adds one, e.g. ``## {TITLE}``)."""
    r = result
    m = r.get("machine", {})
    cpus = f" on {m['usable_cpus']} usable CPUs" if m.get("usable_cpus") else ""
    lines = [f"Medians of {r['repeats']} run{'s' if r['repeats'] != 1 else ''} in fresh processes{cpus}; 1-minute load "
             f"average {_loads([r.get('load_1min_start'), r.get('load_1min_end')])} (other processes' load: wall times "
             "grow with it, CPU times much less). Goals from the issue \"a fast suite that scales across cores\" are "
             "targets, not assertions.", ""]
    if r.get("bytecode") == "write":
        lines += ["Bytecode cached (`--bytecode write`: no $PYTHONDONTWRITEBYTECODE; pytest's rewritten test modules "
                  "too), as in a user's shell.", ""]
    elif (r.get("environment") or {}).get("PYTHONDONTWRITEBYTECODE"):
        lines += ["$PYTHONDONTWRITEBYTECODE was set: every process compiled dlproof and rewrote the test modules "
                  "from source (`--bytecode write` measures a user's shell, where they are cached).", ""]
    goals = r.get("goals") or []
    if goals:
        lines += ["| goal | measured | target | met |", "|---|---:|---:|---|"]
        lines += [f"| {g['metric']} | {_f(g['value'])} | {_f(g['goal'])} | {'yes' if g['ok'] else '**no**'} |"
                  for g in goals] + [""]
    py = r.get("pytest")
    if py:
        lines += ["Default `pytest -q -p no:cacheprovider` (ci profile, derandomized; no coverage)"
                  + (", and the README's command `pytest -n 2 --cov` as typed (coverage of `dlproof`):"
                     if "readme" in py else ":"), "",
                  "| run | wall (s) | CPU, all processes (s) | busiest worker CPU (s) | peak RSS per process (MB) | "
                  "load 1 min | cores busy with other work | all passed |",
                  "|---|---:|---:|---:|---:|---|---:|---|"]
        for name, x in ((MODE_NAMES[m], py[m]) for m in _modes(py)):
            lines.append(f"| {name} | {_f(x['wall_s'], 1)} | {_f(x['cpu_s'], 1)} | {_f(x['max_worker_cpu_s'], 1)} | "
                         f"{_f(x['max_rss_mb'], 0)} | {_loads(x['load_1min'])} | {_f(x.get('others_cores'))} | "
                         f"{'yes' if x['all_passed'] else '**no**'} |")
        lines.append("")
        if "n2" in py:
            lines.append(f"- `-n 2` / serial wall: **{_f(py['n2_over_serial_wall'])}**; load-robust view (busiest "
                         f"worker + controller CPU over serial CPU): {_f(py.get('n2_critical_cpu_over_serial_cpu'))}")
        if "readme" in py and "n2" in py and py["readme"]["cpu_s"] and py["n2"]["cpu_s"]:
            lines.append(f"- coverage's cost: `-n 2 --cov` / `-n 2` CPU {_f(py['readme']['cpu_s'] / py['n2']['cpu_s'])}, "
                         f"wall {_f(py['readme']['wall_s'] / py['n2']['wall_s'])}")
        lines.append(f"- fewest examples of a passing property: {py['min_examples_per_passing_property']}")
        for m in _modes(py):
            b = py[m].get("breakdown_s") or {}
            total = sum(v for v in b.values() if v)
            if total:
                lines.append(f"- where the time goes, {MODE_NAMES[m]} (seconds of setup + call + teardown summed over "
                             f"tests, every process; share of {total:.0f} s): " + ", ".join(
                                 f"{g} {v:.0f} s ({100 * v / total:.0f} %)" for g, v in b.items() if v))
        p = py.get("n2") or py.get("readme") or {"runs": []}
        last = p["runs"][-1]["processes"] if p["runs"] else []
        if last:
            lines.append("- `-n 2` processes (last run): " + ", ".join(
                f"{q['process']} {q['cpu_s']:.1f} s CPU, {q['max_rss_mb']:.0f} MB" for q in last))
        lines.append("")
    pe = r.get("per_example")
    if pe:
        lines += [f"One Hypothesis example on the `{pe['target']}` target ({pe['profile']} profile), everything included:", "",
                  "| property | examples per run | median wall per example (ms) | median CPU (ms) | "
                  "run wall / examples (ms) | run CPU / examples (ms) | runs |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| `{pid}` | {x['examples']} | {_f(x['wall_ms'], 3)} | {_f(x['cpu_ms'], 3)} | "
                  f"{_f(x['mean_wall_ms'], 3)} | {_f(x['mean_cpu_ms'], 3)} | {x['runs']} |"
                  for pid, x in pe["properties"].items()]
        lines += ["", "Median per example: from the start of one example's check to the start of the next, the median "
                      "over all examples of all runs (preempted examples drop out); run / examples: a whole run's "
                      "time over its examples, the median over runs.", ""]
    d = r.get("derivations")
    if d:
        lines += [f"Derivation cache: cold {_f(d['cold_s'])} s (SymPy derives and proves everything), warm "
                  f"{_f(d['warm_s'])} s (JSON and the generated kernels; Python + NumPy start-up alone "
                  f"{_f(d['python_plus_numpy_startup_s'])} s).", ""]
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure (default 3)")
    ap.add_argument("--skip-pytest", action="store_true", help="leave out the pytest runs (the slow part)")
    ap.add_argument("--examples-runs", type=int, default=7, help="runs of each cell property (default 7)")
    ap.add_argument("--modes", default=",".join(DEFAULT_MODES),
                    help=f"comma-separated pytest modes of {sorted(MODES)} (serial always runs; default: all)")
    ap.add_argument("--bytecode", choices=("env", "write"), default="env",
                    help="env (default): keep $PYTHONDONTWRITEBYTECODE as set; write: let Python and pytest cache "
                         "bytecode (in reports/latest/bench/pycache/), as a shell without it does")
    args = ap.parse_args(argv)
    BYTECODE["mode"] = args.bytecode
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if any(m not in MODES for m in modes):
        ap.error(f"--modes: unknown {[m for m in modes if m not in MODES]}; known: {sorted(MODES)}")
    res = measure(args.repeat, pytest_runs=not args.skip_pytest, examples_runs=args.examples_runs, modes=modes)
    dest = ROOT / "reports" / "latest" / "bench"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "suite_speed.json").write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    for k, v in res["summary"].items():
        print(f"{k:44s} {v:.3f}" if isinstance(v, float) else f"{k:44s} {v}")
    print()
    print("\n".join([f"## {TITLE}", ""] + render(res)))
    py = res.get("pytest")
    return 0 if not py or all(py[m]["all_passed"] for m in _modes(py)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
