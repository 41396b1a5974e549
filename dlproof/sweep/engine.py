"""Sweep tasks on Dask distributed: a local cluster of single-threaded worker processes, or a running cluster.

`cluster(jobs, scheduler, gpu)` opens a `distributed.Client`: with no ``scheduler``, on a `LocalCluster` of
``jobs`` worker processes with one thread each (a worker is restarted by its nanny when it dies; every worker
declares the resource ``GPU=1`` when this machine has a CUDA device and a CUDA target is swept); with
``scheduler="tcp://host:8786"``, on that cluster (GPU workers are started with ``dask worker ADDRESS
--nthreads 1 --resources GPU=1``). A CUDA target's task asks for ``GPU=1``; when no worker offers it, the
sweep stops at once with `NoGPUWorker` instead of waiting forever.

`run(client, tasks, repro_dir, on_row, expect)` submits the (target, seed) tasks, at most one per worker
thread in flight, and calls ``on_row(row)`` as each finishes (`distributed.as_completed`). A task whose
worker dies is rescheduled by the scheduler on a live worker; after ``ALLOWED_FAILURES + 1`` deaths it is a
`KilledWorker`. Dask counts a death against every task on the dying worker, bystanders included, so such a
task runs again alone on the cluster, and only if it kills its worker there too is it an error row saying
so; the sweep goes on. (On a cluster given by address the scheduler's own
``distributed.scheduler.allowed-failures`` applies.) A cluster left with no worker for `NO_WORKER_S` seconds
stops the sweep with `NoWorkers` instead of a silent wait; ``--resume`` continues it. On a local cluster that
cannot happen through a slow restart: Dask's `SpecCluster` closes a nanny for good when its worker has not come
back within ``distributed.deploy.lost-worker-timeout`` (15 s by default, shorter than a worker's start on a loaded
machine: CI lost its only worker so), so the sweep sets that to `LOST_WORKER_TIMEOUT` and, every `CHECK_S`
seconds, asks the local cluster to start any worker of its spec that is not running (``scale(jobs)``). Each task also reports its worker's fingerprint: a row from a
worker with other code or libraries than the client becomes an error row instead of a verdict.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import sys
import threading
import time
import uuid

from .fingerprint import differences
from .task import THREAD_VARS, error_row, needs_gpu

ALLOWED_FAILURES = 2  # a task may lose its worker twice; the third death makes it an error row
#: how long a local cluster waits for a dead worker's nanny to bring it back before closing that nanny
LOST_WORKER_TIMEOUT = "300s"
NO_WORKER_S = 120.0  # a cluster without any worker for this long stops the sweep (NoWorkers), never a silent hang
CHECK_S, POLL_S = 5.0, 0.2  # how often the scheduler is asked for its workers; how often finished tasks are collected
INSTALL = "dlproof sweep runs on Dask distributed: pip install 'dlproof[sweep]' (or pip install 'distributed>=2024.1')"


class EngineMissing(ImportError):
    """Dask distributed is not installed."""


class EngineError(RuntimeError):
    """The cluster cannot run the sweep (no workers at the address)."""


class NoWorkers(EngineError):
    """The cluster lost every worker and none came back."""


class NoGPUWorker(EngineError):
    """A CUDA target is swept but no worker of the cluster declares the resource GPU."""


def engine_available() -> bool:
    """Whether Dask distributed can be imported here."""
    try:
        _distributed()
    except EngineMissing:
        return False
    return True


def _distributed():
    try:
        import distributed
    except ImportError as exc:
        raise EngineMissing(INSTALL) from exc
    return distributed


def _local_gpu() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@contextlib.contextmanager
def cluster(jobs: int = 1, scheduler: str | None = None, gpu: bool = False):
    """A `distributed.Client` for the sweep (see the module docstring); closed (with its local cluster) on exit.
    ``gpu``: a CUDA target is among the tasks, so a GPU worker must exist."""
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    if scheduler is not None and (not isinstance(scheduler, str) or "://" not in scheduler):
        raise ValueError(f"scheduler must be an address like 'tcp://host:8786', got {scheduler!r}")
    if scheduler is None and gpu and not _local_gpu():
        raise NoGPUWorker("a CUDA target needs a GPU worker, and this machine has no CUDA device: sweep it on a "
                          "cluster with GPU workers (--scheduler tcp://host:8786; `dask worker ADDRESS --nthreads 1 "
                          "--resources GPU=1` on a GPU machine)")
    distributed = _distributed()
    import dask

    if scheduler is not None:
        client = distributed.Client(scheduler, timeout="30s")
        try:
            workers = client.scheduler_info().get("workers", {})
            if not workers:
                raise EngineError(f"the scheduler at {scheduler} has no workers: start some with "
                                  f"`dask worker {scheduler} --nthreads 1`")
            if gpu and not any((w.get("resources") or {}).get("GPU", 0) >= 1 for w in workers.values()):
                raise NoGPUWorker(f"a CUDA target needs a worker with the resource GPU, and none of the {len(workers)} "
                                  f"worker(s) at {scheduler} has one: start one on a GPU machine with "
                                  f"`dask worker {scheduler} --nthreads 1 --resources GPU=1`")
            yield client
        finally:
            client.close()
        return
    with _quiet_logs(), dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
                                         "distributed.deploy.lost-worker-timeout": LOST_WORKER_TIMEOUT}):
        local = distributed.LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                         dashboard_address=None, silence_logs=logging.CRITICAL,
                                         resources={"GPU": 1} if gpu else None, env={k: "1" for k in THREAD_VARS})
        try:
            with distributed.Client(local) as client:
                yield client
        finally:
            local.close()


@contextlib.contextmanager
def _quiet_logs():
    """A worker's death is reported in its task's row: the scheduler's and nanny's tracebacks would be noise."""
    names = ("distributed", "distributed.scheduler", "distributed.nanny", "distributed.core", "distributed.worker")
    levels = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for n, level in levels.items():
            logging.getLogger(n).setLevel(level)


#: (module, attribute) of the worker's machinery that holds a bound method of Python's global ``random`` instance
#: under its own name (``from random import randint``), so rebinding the ``random`` module's functions misses it
BOUND_RNG_USERS = (("distributed.protocol.compression", "randint"),)
_TASK_THREAD = threading.local()


def _split(shared, private):
    """A stand-in for one function of the ``random`` module: the global instance's method (``shared``) in a thread
    running a sweep task, the worker's private instance's (``private``) in every other thread."""
    @functools.wraps(shared)
    def call(*args, **kwargs):
        return (shared if getattr(_TASK_THREAD, "active", False) else private)(*args, **kwargs)
    call.dlproof_split = True
    return call


def private_rngs() -> list:
    """Keep Python's global ``random`` state for the sweep task alone in this worker process.

    A task runs beside the worker's event-loop thread, whose machinery draws from the global ``random`` module:
    tornado's PeriodicCallback jitter (the heartbeats), distributed's retry and connect back-offs, dask's
    ``sizeof`` sampling. `dropout.seed.deterministic` checks that a target leaves the caller's global RNG state
    untouched, and such a draw meanwhile accused correct targets (8 of 32 CI sweep tasks: "changed the global RNG
    state of ['random']"). So every public function of the ``random`` module becomes `_split`: the global
    instance in the task's thread (`_task` marks it), a private ``random.Random`` elsewhere; the names of
    `BOUND_RNG_USERS` get the private instance's method. Idempotent; -> the names rebound."""
    import random

    private = random.Random(0)
    done = []
    for name in dir(random):
        fn = getattr(random, name)
        if name.startswith("_") or getattr(fn, "dlproof_split", False) or getattr(fn, "__self__", None) is not random._inst:
            continue
        setattr(random, name, _split(fn, getattr(private, name)))
        done.append(f"random.{name}")
    for module, name in BOUND_RNG_USERS:  # already imported by the worker that runs this (else nothing to rebind)
        fn = getattr(sys.modules.get(module), name, None)
        if getattr(fn, "__self__", None) is random._inst:
            setattr(sys.modules[module], name, getattr(private, fn.__name__))
            done.append(f"{module}.{name}")
    return done


def _task(spec: str, seed: int, repro_dir):
    """The worker's side: one thread, the worker's machinery off the global RNG (`private_rngs`), `task.run_one`,
    and this worker's fingerprint (without targets)."""
    from .fingerprint import fingerprint
    from .task import run_one, single_thread

    single_thread()
    private_rngs()
    _TASK_THREAD.active = True
    try:
        return run_one(spec, seed, repro_dir), fingerprint()
    finally:
        _TASK_THREAD.active = False


def run(client, tasks, repro_dir, on_row, expect: dict, tries: int | None = None,
        no_worker_s: float = NO_WORKER_S) -> None:
    """Run the (target, seed) ``tasks`` on ``client``; ``on_row(row)`` for each as it finishes. ``expect``: the
    client's fingerprint (`fingerprint.fingerprint`); ``tries``: how many worker deaths make a `KilledWorker` (None:
    the remote scheduler's setting, unknown here); ``no_worker_s``: how long the cluster may have no worker.

    At most as many tasks as the cluster has threads are in flight, so a worker holds only the task it runs. Dask
    counts a worker's death against every task on it, so a `KilledWorker` task may still be a bystander of another
    task's crash: it is run again alone on the cluster, and only a task that kills its worker there too is an
    error row."""
    _distributed()
    suspects = _run_batch(client, tasks, repro_dir, on_row, expect, tries, no_worker_s, alone=False)
    for task in suspects:
        _run_batch(client, [task], repro_dir, on_row, expect, tries, no_worker_s, alone=True)


def _run_batch(client, tasks, repro_dir, on_row, expect, tries, no_worker_s, alone: bool) -> list:
    """Run ``tasks`` with at most one task per worker thread in flight; -> the tasks that got `KilledWorker`
    (reported as error rows instead when ``alone``)."""
    import distributed
    from distributed.scheduler import KilledWorker

    token = uuid.uuid4().hex[:8]
    queue, inflight, suspects = list(tasks), {}, []
    done = distributed.as_completed()
    watch = _WorkerWatch(client, no_worker_s, heal=_healer(client))

    def top_up():
        width = 1 if alone else max(1, sum(client.nthreads().values()))
        while queue and len(inflight) < width:
            spec, seed = queue.pop(0)
            f = client.submit(_task, spec, seed, repro_dir, key=f"sweep-{token}-{spec}-{seed}", pure=False,
                              resources={"GPU": 1} if needs_gpu(spec) else None)
            inflight[f] = (spec, seed)
            done.add(f)

    try:
        top_up()
        while inflight:
            batch = done.next_batch(block=False)
            if not batch:
                watch.check()
                time.sleep(POLL_S)
                continue
            for f in batch:
                spec, seed = inflight.pop(f)
                try:
                    row = _row(f, spec, seed, expect)
                except KilledWorker:
                    if not alone:
                        suspects.append((spec, seed))
                        continue
                    times = f"{tries} times" if tries else "every time (the scheduler's allowed-failures + 1)"
                    row = error_row(spec, seed, f"the task killed its worker process {times}, running alone on the "
                                                "cluster (a crash: segfault, os._exit, out of memory)")
                finally:
                    f.release()
                on_row(row)
            top_up()
    finally:
        for f in inflight:
            f.cancel()
    return suspects


def _row(f, spec: str, seed: int, expect: dict) -> dict:
    """The row of a finished future: its result, or an error row (an exception, another installation); a
    `KilledWorker` propagates."""
    from distributed.scheduler import KilledWorker

    try:
        row, worker_fp = f.result()
    except KilledWorker:
        raise
    except Exception as exc:  # noqa: BLE001 - a task that raised is a finding; the rest go on
        return error_row(spec, seed, f"{type(exc).__name__}: {exc}")
    if worker_fp["digest"] != expect["digest"]:
        diff = "; ".join(differences(expect, worker_fp))
        return error_row(spec, seed, f"the worker's code or libraries differ from the client's ({diff}): its verdicts "
                                     "are not mixed into this report (was dlproof edited during the sweep, or does "
                                     "the worker run another installation?)")
    return row


def _healer(client):
    """For a client of a local cluster: a function that starts every worker of the cluster's spec that is not
    running (a nanny `SpecCluster` closed after `LOST_WORKER_TIMEOUT`); None for a cluster given by address,
    whose workers are not ours to start."""
    local = getattr(client, "cluster", None)
    if local is None or not hasattr(local, "worker_spec"):
        return None
    return lambda: local.scale(len(local.worker_spec))


class _WorkerWatch:
    """Raises `NoWorkers` when the cluster has had no worker for ``limit_s`` seconds (a nanny that failed to
    restart its dead worker leaves tasks queued forever); asks the scheduler every `CHECK_S` seconds, and first
    calls ``heal`` (`_healer`) when given."""

    def __init__(self, client, limit_s: float, heal=None):
        self.client, self.limit_s, self.heal = client, limit_s, heal
        self.seen = self.asked = time.monotonic()

    def check(self) -> None:
        now = time.monotonic()
        if now - self.asked < CHECK_S:
            return
        self.asked = now
        if self.heal is not None:
            self.heal()
        if self.client.nthreads():
            self.seen = now
        elif now - self.seen > self.limit_s:
            raise NoWorkers(f"the cluster has had no worker for {self.limit_s:.0f} s (a dead worker that was not "
                            "restarted?): the sweep stops; the same command with --resume runs the missing tasks")
