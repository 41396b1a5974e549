"""The Dask engine's checks that need no cluster: arguments, a CUDA target without a GPU worker (a clear error,
never a wait), and the message when Dask distributed is not installed."""
import sys

import pytest

from dlproof import cli
from dlproof.sweep import engine, needs_gpu


@pytest.mark.parametrize("kwargs, message", [
    (dict(jobs=0), "jobs must be an integer >= 1"),
    (dict(jobs=1, scheduler="localhost:8786"), "scheduler must be an address like 'tcp://host:8786'"),
])
def test_bad_cluster_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        with engine.cluster(**kwargs):
            pass


def test_a_cuda_target_without_a_gpu_stops_at_once(monkeypatch):
    monkeypatch.setattr(engine, "_local_gpu", lambda: False)
    monkeypatch.setitem(sys.modules, "distributed", None)  # the check comes before Dask is imported or started
    with pytest.raises(engine.NoGPUWorker, match="--resources GPU=1"):
        with engine.cluster(jobs=1, gpu=True):
            pass


def test_cuda_specs_ask_for_a_gpu():
    assert needs_gpu("torch.nn.cuda") and needs_gpu("torch.cuda.float32") and not needs_gpu("torch.nn")
    with pytest.raises(ValueError, match="non-empty string"):
        needs_gpu("")


def test_without_distributed_the_cli_says_how_to_install_it(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    assert cli.main(["sweep", "numpy", "--seeds", "1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "pip install 'dlproof[sweep]'" in err and "--in-process" in err
    assert not (tmp_path / "sweep.json").exists()


def test_the_workers_machinery_draws_from_a_private_rng(monkeypatch):
    """private_rngs: in any thread but a task's, the random module's functions (tornado's jitter, distributed's
    back-offs, dask's sizeof sampling) draw from a private Random, so they no longer move the global state a
    task's property inspects; in the task's thread they are the global instance's, as before."""
    pytest.importorskip("distributed")
    import random
    import threading

    for name in dir(random):  # restored after the test
        if not name.startswith("_"):
            monkeypatch.setattr(random, name, getattr(random, name))
    assert "random.random" in engine.private_rngs() and engine.private_rngs() == []  # idempotent
    before = random._inst.getstate()  # the global instance's state, read without the stand-ins
    worker = threading.Thread(target=lambda: (random.random(), random.uniform(0, 1), random.sample(range(9), 3)))
    worker.start(), worker.join()
    assert random._inst.getstate() == before  # another thread's draws left it alone
    engine._TASK_THREAD.active = True
    try:
        random.random()
    finally:
        engine._TASK_THREAD.active = False
    assert random._inst.getstate() != before  # the task's own draws still use (and move) the global state
