"""An interrupted sweep leaves an incomplete report; --resume runs only the missing (target, seed) pairs and
refuses to mix results made with other code, profiles or libraries (fake tasks: no Hypothesis, no cluster)."""
import json

import pytest

from dlproof import sweep
from dlproof.sweep import fingerprint as fpmod
from dlproof.sweep.resume import SweepMismatch, plan

SPECS = ["numpy", "numpy.float32"]  # built-ins: their code is dlproof's (no module file to hash)


def _row(spec, seed, examples=10):
    return {"target": spec, "seed": seed, "counts": {"pass": 2, "fail": 0}, "examples": examples, "failures": [],
            "seconds": 0.5}


class _Stop(KeyboardInterrupt):
    pass


@pytest.fixture(autouse=True)
def _no_thread_setup(monkeypatch):
    monkeypatch.setattr(sweep, "single_thread", lambda: None)  # it imports torch: 2 s, irrelevant here


def _fake_runner(calls, stop_after=None):
    def run_one(spec, seed, repro_dir=None):
        if stop_after is not None and len(calls) == stop_after:
            raise _Stop  # Ctrl-C in the middle of the sweep
        calls.append((spec, seed))
        return _row(spec, seed, examples=100 * seed + len(spec))
    return run_one


def test_an_interrupted_sweep_is_marked_incomplete_and_resume_runs_only_the_rest(tmp_path, monkeypatch):
    first = []
    monkeypatch.setattr(sweep, "run_one", _fake_runner(first, stop_after=3))
    with pytest.raises(KeyboardInterrupt):
        sweep.sweep(SPECS, [1, 2, 3], out=tmp_path, progress=lambda line: None, inline=True)
    left = json.loads((tmp_path / "sweep.json").read_text())
    assert not left["complete"] and len(left["runs"]) == 3 and left["tasks"] == 6
    assert "Incomplete: 3 of 6" in (tmp_path / "sweep.md").read_text()

    second = []
    monkeypatch.setattr(sweep, "run_one", _fake_runner(second))
    res = sweep.sweep(SPECS, [1, 2, 3], out=tmp_path, progress=lambda line: None, inline=True, resume=True)
    assert sorted(second) == sorted(set((s, k) for k in (1, 2, 3) for s in SPECS) - set(first))  # only the missing
    assert res["complete"] and len(res["runs"]) == 6
    assert [r for r in res["runs"] if (r["target"], r["seed"]) in first] == sorted(
        left["runs"], key=lambda r: (SPECS.index(r["target"]), r["seed"]))  # the kept rows, untouched
    assert res["examples"] == sum(100 * k + len(s) for k in (1, 2, 3) for s in SPECS)


def test_without_resume_an_earlier_report_is_replaced_and_an_incomplete_one_is_named(tmp_path, monkeypatch):
    calls, lines = [], []
    monkeypatch.setattr(sweep, "run_one", _fake_runner(calls, stop_after=1))
    with pytest.raises(KeyboardInterrupt):
        sweep.sweep(SPECS, [1], out=tmp_path, progress=lines.append, inline=True)
    monkeypatch.setattr(sweep, "run_one", _fake_runner(calls))
    res = sweep.sweep(SPECS, [1], out=tmp_path, progress=lines.append, inline=True)
    assert len(calls) == 3 and res["complete"]  # 1 before the interrupt, then both again
    assert any("replacing the incomplete report" in line and "--resume would keep them" in line for line in lines)


def test_resume_with_more_seeds_runs_only_the_new_seeds(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(sweep, "run_one", _fake_runner(calls))
    sweep.sweep(SPECS, [1], out=tmp_path, progress=lambda line: None, inline=True)
    calls.clear()
    res = sweep.sweep(SPECS, [1, 2], out=tmp_path, progress=lambda line: None, inline=True, resume=True)
    assert sorted(calls) == [(s, 2) for s in sorted(SPECS)] and res["complete"]


def _fp(**change):
    fp = {"dlproof": "a" * 64, "python": "3.11.7", "profiles": {"thorough": {"max_examples": 1000}},
          "libraries": {"numpy": "2.0.0", "torch": None}, "targets": {"m:t": "b" * 64}, "digest": "d" * 64}
    return {**fp, **change}


@pytest.mark.parametrize("change, named", [
    ({"dlproof": "c" * 64}, "dlproof"),
    ({"libraries": {"numpy": "2.1.0", "torch": None}}, "numpy 2.0.0 -> 2.1.0"),
    ({"libraries": {"numpy": "2.0.0", "torch": "2.5.0"}}, "torch None -> 2.5.0"),
    ({"profiles": {"thorough": {"max_examples": 10}}}, "profiles"),
    ({"targets": {"m:t": "e" * 64}}, "target module of 'm:t' changed"),
])
def test_resume_refuses_to_mix_results_of_other_code_or_settings(change, named):
    previous = {"runs": [_row("m:t", 1)], "fingerprint": _fp()}
    with pytest.raises(SweepMismatch, match="refusing to mix") as err:
        plan(previous, _fp(**change), [("m:t", 1), ("m:t", 2)])
    assert named in str(err.value)


def test_resume_keeps_rows_of_the_same_fingerprint_and_drops_those_outside_the_sweep():
    previous = {"runs": [_row("m:t", 1), _row("m:t", 9), _row("other", 1)], "fingerprint": _fp()}
    kept, todo = plan(previous, _fp(targets={"m:t": "b" * 64, "new:t": "f" * 64}), [("m:t", 1), ("m:t", 2)])
    assert [(r["target"], r["seed"]) for r in kept] == [("m:t", 1)] and todo == [("m:t", 2)]


def test_resume_refuses_a_report_without_fingerprint():
    with pytest.raises(SweepMismatch, match="no fingerprint"):
        plan({"runs": [_row("m:t", 1)]}, _fp(), [("m:t", 1)])


def test_the_source_hash_follows_every_python_module_but_pytest_ones_and_nothing_else(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "a.py").write_text("x = 1\n")
    (pkg / "sub" / "b.py").write_text("y = 2\n")
    h0 = fpmod.source_hash(pkg)
    (pkg / "cache.json").write_text("{}")  # data written at run time
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "a.py").write_text("stale")
    (pkg / "sub" / "test_b.py").write_text("def test_b(): pass\n")  # a pytest module: a sweep never imports it
    assert fpmod.source_hash(pkg) == h0
    (pkg / "sub" / "b.py").write_text("y = 3\n")
    assert fpmod.source_hash(pkg) != h0
    (pkg / "sub" / "b.py").write_text("y = 2\n")
    (pkg / "sub" / "b.py").rename(pkg / "sub" / "c.py")  # same bytes, another module
    assert fpmod.source_hash(pkg) != h0


def test_the_report_carries_this_processes_fingerprint(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep, "run_one", _fake_runner([]))
    res = sweep.sweep(SPECS, [1], out=tmp_path, progress=lambda line: None, inline=True)
    from importlib import metadata

    assert res["fingerprint"]["digest"] == fpmod.digest()
    assert res["fingerprint"]["libraries"]["numpy"] == metadata.version("numpy")
    assert res["fingerprint"]["dlproof"] == fpmod.source_hash()


@pytest.mark.parametrize("kwargs, message", [
    (dict(specs=[], seeds=[1]), "at least one target"),
    (dict(specs=["numpy", "numpy"], seeds=[1]), "listed twice"),
    (dict(specs=["numpy"], seeds=[1], jobs=0), "jobs must be an integer >= 1"),
    (dict(specs=["numpy"], seeds=[1], resume=True), "resume=True needs the report folder"),
    (dict(specs=["numpy"], seeds=[1], scheduler="tcp://h:8786"), "exclude each other"),
])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sweep.sweep(progress=lambda line: None, inline=True, **kwargs)


def test_a_broken_report_is_named(tmp_path):
    (tmp_path / "sweep.json").write_text("{not json")
    with pytest.raises(sweep.ReportError, match="not a readable JSON file"):
        sweep.load(tmp_path / "sweep.json")
    (tmp_path / "sweep.json").write_text(json.dumps({"runs": [{"target": "x"}], "targets": ["x"]}))
    with pytest.raises(sweep.ReportError, match="run 0 is not a sweep row"):
        sweep.load(tmp_path / "sweep.json")
    with pytest.raises(sweep.ReportError, match="no sweep report"):
        sweep.load(tmp_path / "missing.json")
