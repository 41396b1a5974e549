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
    """private_rngs rebinds every listed user of the global random state (tornado's jitter, distributed's
    back-offs) to a private Random, so a heartbeat can no longer move the state a task's property inspects."""
    pytest.importorskip("distributed")
    import importlib
    import random

    from dlproof.sweep.engine import OWN_RNG_USERS, private_rngs

    for module, name in OWN_RNG_USERS:  # restored after the test
        monkeypatch.setattr(importlib.import_module(module), name, getattr(importlib.import_module(module), name))
    assert len(private_rngs()) == len(OWN_RNG_USERS)
    import tornado.ioloop

    before = random.getstate()
    tornado.ioloop.random.random(), importlib.import_module("distributed.comm.core").random.uniform(0, 1)
    assert random.getstate() == before and tornado.ioloop.random is not random
    assert private_rngs() == []  # idempotent: nothing left to rebind
