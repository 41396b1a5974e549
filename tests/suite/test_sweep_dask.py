"""dlproof sweep on Dask distributed (slow: each test starts a local cluster): the same verdicts and example
counts as in-process, a lost worker's task retried, a task that always kills its worker reported as an error
row, a killed sweep resumed, a cluster given by address, and no wait for a GPU worker that does not exist."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from dlproof import sweep  # noqa: E402
from dlproof.sweep import engine  # noqa: E402

pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parents[1] / "targets"  # sweep_targets.py
CHEAP_BUILTIN = "numpy.clip_eps"  # a built-in with 8 properties: a task takes seconds


def _env(**extra):
    path = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **extra}


def test_the_local_cluster_gives_the_in_process_verdicts_and_example_counts(tmp_path):
    inline = sweep.sweep([CHEAP_BUILTIN], [1, 2], out=tmp_path / "inline", progress=lambda line: None, inline=True)
    dask = sweep.sweep([CHEAP_BUILTIN], [1, 2], jobs=2, out=tmp_path / "dask", progress=lambda line: None)
    assert inline["complete"] and dask["complete"] and inline["examples"] > 0
    assert sweep.compare(inline, dask) == []
    assert sweep.compare(sweep.load(tmp_path / "inline" / "sweep.json"), sweep.load(tmp_path / "dask" / "sweep.json")) == []


def test_a_lost_worker_is_retried_and_a_task_that_always_kills_its_worker_is_an_error_row(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("PYTHONPATH", _env()["PYTHONPATH"])  # the workers import sweep_targets
    monkeypatch.setenv("DLPROOF_SWEEP_CRASH_MARKER", str(tmp_path / "crashed"))
    specs = ["sweep_targets:counts", "sweep_targets:crash_once", "sweep_targets:crash_always"]
    res = sweep.sweep(specs, [1], jobs=1, out=tmp_path, progress=lambda line: None)
    rows = {r["target"]: r for r in res["runs"]}
    assert res["complete"] and (tmp_path / "crashed").exists()  # crash_once did kill its first worker
    assert rows["sweep_targets:crash_once"]["failures"] == [] and rows["sweep_targets:crash_once"]["counts"]["pass"] == 3
    assert rows["sweep_targets:counts"]["counts"]["pass"] == 3
    [fail] = rows["sweep_targets:crash_always"]["failures"]
    assert fail["verdict"] == "error" and f"killed its worker process {engine.ALLOWED_FAILURES + 1} times" in fail["message"]


def test_a_worker_whose_nanny_the_cluster_closed_is_started_again(tmp_path, monkeypatch):
    """CI's failure: a dead worker that comes back later than distributed.deploy.lost-worker-timeout (a loaded
    machine) has its nanny closed for good by the local cluster, which then has no worker. A timeout of 0 s makes
    that happen at every death; the sweep starts the missing worker again and finishes."""
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("PYTHONPATH", _env()["PYTHONPATH"])
    monkeypatch.setenv("DLPROOF_SWEEP_CRASH_MARKER", str(tmp_path / "crashed"))
    monkeypatch.setattr(engine, "LOST_WORKER_TIMEOUT", "0s")
    res = sweep.sweep(["sweep_targets:crash_once", "sweep_targets:counts"], [1], jobs=1, out=tmp_path,
                      progress=lambda line: None)
    assert res["complete"] and (tmp_path / "crashed").exists()
    assert [(r["target"], r["counts"]["pass"], r["failures"]) for r in res["runs"]] == [
        ("sweep_targets:crash_once", 3, []), ("sweep_targets:counts", 3, [])]


def test_a_killed_sweep_resumes_where_it_stopped(tmp_path):
    out = tmp_path / "sw"
    cmd = [sys.executable, "-m", "dlproof", "sweep", CHEAP_BUILTIN, "--seeds", "3", "--jobs", "1", "--out", str(out)]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            f = out / "sweep.json"
            if f.exists() and json.loads(f.read_text())["runs"]:
                break
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the client and its cluster, mid-sweep
        proc.wait()
    left = json.loads((out / "sweep.json").read_text())
    assert not left["complete"] and 1 <= len(left["runs"]) < 3
    done = subprocess.run(cmd + ["--resume"], env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"resuming: {len(left['runs'])} of 3" in done.stdout
    res = json.loads((out / "sweep.json").read_text())
    assert res["complete"] and [r["seed"] for r in res["runs"]] == [1, 2, 3]
    assert all(r in res["runs"] for r in left["runs"])  # the finished rows were kept, not re-run


def test_a_cluster_given_by_address_runs_the_sweep_and_a_cuda_target_needs_a_gpu_worker(tmp_path, monkeypatch):
    from distributed import LocalCluster

    monkeypatch.setenv("PYTHONPATH", _env()["PYTHONPATH"])
    monkeypatch.syspath_prepend(str(HERE))
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster:
        res = sweep.sweep(["sweep_targets:counts"], [1], out=tmp_path, progress=lambda line: None,
                          scheduler=cluster.scheduler_address)
        assert res["complete"] and res["runs"][0]["counts"]["pass"] == 3
        assert res["engine"] == f"Dask at {cluster.scheduler_address}"
        t0 = time.monotonic()
        with pytest.raises(engine.NoGPUWorker, match="none of the 1 worker"):
            sweep.sweep(["torch.nn.cuda"], [1], progress=lambda line: None, scheduler=cluster.scheduler_address)
        assert time.monotonic() - t0 < 60  # refused, not queued forever


class _Future:
    def __init__(self, outcome):
        self.outcome = outcome

    def result(self):
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome

    def release(self):
        pass

    def cancel(self):
        pass


class _AsCompleted:
    """distributed.as_completed over futures that are already finished: one batch, in order."""

    def __init__(self, futures=()):
        self.left = list(futures)

    def add(self, f):
        self.left.append(f)

    def is_empty(self):
        return not self.left

    def next_batch(self, block=True):
        batch, self.left = self.left, []
        return batch


class _Never(_AsCompleted):
    """Futures that never finish."""

    def next_batch(self, block=True):
        return []


class _Client:
    """Answers each (spec, seed) with a scripted outcome instead of running it; ``workers`` threads."""

    def __init__(self, outcomes, workers=1):
        self.outcomes, self.resources, self.workers, self.submitted = outcomes, {}, workers, []

    def nthreads(self):
        return {f"tcp://w{i}": 1 for i in range(self.workers)}

    def submit(self, fn, spec, seed, repro_dir, key, pure, resources):
        self.resources[spec] = resources
        self.submitted.append(spec)
        outcome = self.outcomes[spec]
        return _Future(outcome.pop(0) if isinstance(outcome, list) else outcome)


def test_rows_of_another_installation_are_error_rows_and_a_killed_worker_task_is_rerun_alone(monkeypatch):
    import distributed
    from distributed.scheduler import KilledWorker

    from dlproof.sweep.fingerprint import fingerprint

    monkeypatch.setattr(distributed, "as_completed", _AsCompleted)
    mine = fingerprint()
    other = {**mine, "libraries": {**mine["libraries"], "numpy": "0.0.1"}, "digest": "0" * 64}

    def row(t):
        return {"target": t, "seed": 1, "counts": {"pass": 1}, "examples": 5, "failures": [], "seconds": 1.0}

    client = _Client({"ok": (row("ok"), mine), "other": (row("other"), other),
                      "bystander": [KilledWorker("k", "w", 3), (row("bystander"), mine)],  # passes alone
                      "dies": [KilledWorker("k", "w", 3), KilledWorker("k", "w", 3)],
                      "torch.nn.cuda": (row("torch.nn.cuda"), mine)}, workers=2)
    rows = []
    engine.run(client, [(t, 1) for t in ("ok", "other", "bystander", "dies", "torch.nn.cuda")], None, rows.append,
               mine, tries=3)
    got = {r["target"]: r for r in rows}
    assert got["ok"] == row("ok") and got["bystander"] == row("bystander")
    assert "numpy" in got["other"]["failures"][0]["message"] and got["other"]["examples"] == 0
    assert "killed its worker process 3 times, running alone" in got["dies"]["failures"][0]["message"]
    assert client.submitted.count("bystander") == 2 and client.submitted.count("dies") == 2
    assert client.resources["torch.nn.cuda"] == {"GPU": 1} and client.resources["ok"] is None


def test_a_cluster_without_workers_stops_the_sweep_instead_of_waiting_forever(monkeypatch):
    import distributed

    from dlproof.sweep.fingerprint import fingerprint

    monkeypatch.setattr(distributed, "as_completed", _Never)
    monkeypatch.setattr(engine, "CHECK_S", 0.0)
    monkeypatch.setattr(engine, "POLL_S", 0.01)
    client = _Client({"t": None}, workers=0)
    t0 = time.monotonic()
    with pytest.raises(engine.NoWorkers, match="no worker for 1 s.*--resume"):
        engine.run(client, [("t", 1)], None, lambda row: None, fingerprint(), no_worker_s=1.0)
    assert time.monotonic() - t0 < 30
