"""benchmarks/suite_speed.py: its ``readme`` mode runs README.md's test command word for word, the modes of a
measurement alternate (so a drift of the machine's load hits all alike), the serial run is always there (the
ratios refer to it), older results without the README mode still render, and bad input is a clear error.

No timing: `_pytest_once` is replaced by a stub that returns synthetic runs with known wall and CPU times.
"""
import re
import shlex
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
try:
    import suite_speed as ss
finally:
    sys.path.remove(str(ROOT / "benchmarks"))

WALL = {"serial": 100.0, "n2": 60.0, "readme": 80.0}
CPU = {"serial": 95.0, "n2": 110.0, "readme": 165.0}


def _fake_run(mode, report):
    procs = [{"process": "controller", "cpu_s": 1.0, "max_rss_mb": 300.0, "subprocess_cpu_s": 0.0,
              "testscollected": 10, "testsfailed": 0}]
    if mode != "serial":
        procs.append({"process": "gw0", "cpu_s": CPU[mode] / 2, "max_rss_mb": 500.0, "subprocess_cpu_s": 0.0,
                      "testscollected": 10, "testsfailed": 0})
    return {"wall_s": WALL[mode], "cpu_s": CPU[mode], "load_before": 1.0, "load_after": 1.0, "others_cores": 0.0,
            "returncode": 0, "processes": procs, "passed": 10, "max_rss_mb": max(p["max_rss_mb"] for p in procs),
            "max_worker_cpu_s": CPU[mode] / 2 if mode != "serial" else None}


@pytest.fixture
def calls(monkeypatch):
    seen = []

    def once(mode, report):
        seen.append(mode)
        return _fake_run(mode, report)

    monkeypatch.setattr(ss, "_pytest_once", once)
    return seen


def test_the_readme_mode_is_the_readme_command():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"&& (pytest [^\n`]*)", text)
    assert commands, "README.md has no `... && pytest ...` test command"
    assert shlex.split(commands[0]) == ["pytest"] + ss.MODES["readme"]


def test_modes_alternate_and_serial_always_runs(calls):
    out = ss.measure_pytest(2, ("readme",))
    assert calls == ["serial", "readme", "serial", "readme"]
    assert out["modes"] == ["serial", "readme"] and "n2" not in out
    assert out["readme_over_serial_wall"] == pytest.approx(WALL["readme"] / WALL["serial"])


def test_the_readme_goal_and_coverage_cost_are_reported(calls):
    res = {"repeats": 3, "machine": {}, "pytest": ss.measure_pytest(3)}
    assert calls == ["serial", "n2", "readme"] * 3
    res["goals"] = ss._goals(res)
    goal = next(g for g in res["goals"] if g["metric"].startswith("README command"))
    assert goal["value"] == WALL["readme"] and goal["ok"] == (WALL["readme"] <= ss.GOALS["readme_wall_s"])
    text = "\n".join(ss.render(res))
    assert f"`-n 2 --cov` / `-n 2` CPU {CPU['readme'] / CPU['n2']:.2f}" in text
    assert ss.summary(res)["pytest_readme_s"] == WALL["readme"]


def test_an_older_result_without_the_readme_mode_still_renders(calls):
    py = ss.measure_pytest(1, ("serial", "n2"))
    del py["modes"]  # as written before the README mode existed
    res = {"repeats": 1, "machine": {}, "pytest": py}
    res["goals"] = ss._goals(res)
    assert "README" not in "\n".join(ss.render(res))
    assert ss.summary(res)["pytest_n2_over_serial"] == pytest.approx(WALL["n2"] / WALL["serial"])


@pytest.mark.parametrize("call, needle", [
    (lambda: ss.measure_pytest(0), "repeats must be at least 1"),
    (lambda: ss.measure_pytest(1, ("serial", "fast")), "unknown modes ['fast']"),
    (lambda: ss._pytest_once("fast", "."), "unknown mode 'fast'"),
])
def test_bad_input_is_a_clear_error(call, needle):
    with pytest.raises(ValueError, match=re.escape(needle)):
        call()


@pytest.mark.parametrize("nodeid, where", [
    ("dlproof/properties/test_conformance.py::test_property[numpy::lstm.vjp]", "conformance (built-in targets)"),
    ("tests/suite/test_isolate.py::test_a_crash_is_one_error_row", "tests/suite"),
    ("tests/chapter_checks.py::test_x", "tests/chapter_checks.py"),
])
def test_each_test_is_booked_to_its_group(nodeid, where):
    assert ss.group(nodeid) == where


def test_the_breakdown_is_the_controllers_median_per_group_and_is_rendered(calls, monkeypatch):
    """Only the controller's booking counts (under xdist it receives every worker's reports); median over runs."""
    seconds = iter([{"tests/suite": 30.0, "conformance (built-in targets)": 60.0},
                    {"tests/suite": 50.0, "conformance (built-in targets)": 70.0},
                    {"tests/suite": 40.0, "conformance (built-in targets)": 80.0}])

    def once(mode, report):
        run = _fake_run(mode, report)
        run["processes"][0]["group_s"] = next(seconds)
        run["processes"].append({"process": "gw1", "cpu_s": 1.0, "max_rss_mb": 1.0, "subprocess_cpu_s": 0.0,
                                 "group_s": {"tests/suite": 1e6}})  # a worker's own booking: ignored
        return run

    monkeypatch.setattr(ss, "_pytest_once", once)
    py = ss.measure_pytest(3, modes=("serial",))
    assert py["serial"]["breakdown_s"] == {"conformance (built-in targets)": 70.0, "tests/suite": 40.0}
    text = "\n".join(ss.render({"repeats": 3, "pytest": py}))
    assert "conformance (built-in targets) 70 s (64 %), tests/suite 40 s (36 %)" in text
