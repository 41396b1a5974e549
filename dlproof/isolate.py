"""Run a target in a worker subprocess, so a hang or a crash even inside C code is caught: ``--isolate``.

`isolated(spec, timeout, memory_limit_mb)` returns a Target with the same name (plus " [isolated]"), dtype,
conventions and capabilities; each capability call is sent to a spawned worker process that loaded the target
from ``spec``. The semantics are those of `dlproof.properties.assertions.call` in-process, so a target gets the
same verdicts with and without isolation:

- start-up is separate from calls: the worker loads the target and answers "ready" (within its own, generous
  deadline, `STARTUP_TIMEOUT`); only then is a call sent and timed;
- one deadline per call, kept here: a call that does not answer within ``timeout`` seconds kills the worker and
  raises `CallTimeout` (a failure); the next call starts a fresh worker, so nothing ever queues behind a hung
  one. Any exception while waiting (the caller's alarm, Ctrl-C) kills the worker too;
- a worker that dies during a call (a signal, ``os._exit``, a C ``exit()``) is a `WorkerFailure` naming the
  signal or exit code ("crashed the isolated worker: killed by SIGABRT (signal 6)"), which `call` turns into
  an error of that capability; the next call starts a fresh worker on a fresh pipe, so no stale answer can be
  read (each answer also carries the number of its request);
- in the worker: anything the target raises (SystemExit and MemoryError included) comes back as a description
  of it with the place in the target's code; its warnings are recorded there and re-emitted here with their
  category, text and place; what it writes to stdout/stderr, file descriptors 1 and 2 included, is captured
  there and counted (over the limit it comes back as `OutputFlood`); ``memory_limit_mb`` caps the address
  space each call may add to the loaded worker (``RLIMIT_AS``), so an over-large allocation is a MemoryError.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import warnings
from dataclasses import replace

from .target import CAPABILITIES, Target

#: seconds a fresh worker may take to import and load the target before its first call
STARTUP_TIMEOUT = 300.0


# ---- the worker process ----------------------------------------------------------------------------------

def _address_space() -> int:
    """Bytes of address space this process uses now (Linux /proc; 0 where unknown)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _limit_memory(mb: float) -> None:
    """RLIMIT_AS = the address space in use now (the loaded target) + ``mb`` MiB."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _address_space() + int(mb * (1 << 20))
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _serve(target, capability: str, args, output_limit: int):
    """One call in the worker, with `call`'s semantics: (status, value, warnings). status: "ok" (value: the
    result), "err" ((what it did, exception type name)), "flood" ((stream, bytes, head)), "mutated" (what the
    call did to its arguments), "interrupt"."""
    from dlproof.properties.arguments import _argument_snapshot
    from dlproof.properties.assertions import _safe_str, _what_raised
    from dlproof.properties.capture import CapturedOutput

    snapshot = _argument_snapshot(capability, args)  # the worker's copies: only it can see them change
    captured = CapturedOutput()
    caught = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            captured.start()
            try:
                status, value = "ok", getattr(target, capability)(*args)
            finally:
                captured.restore()
        except KeyboardInterrupt:
            status, value = "interrupt", None
        except BaseException as exc:  # noqa: BLE001 - SystemExit, MemoryError, ...: described and sent back
            status, value = "err", (_what_raised(exc), type(exc).__name__)
    if status == "ok":
        flood = captured.over(output_limit)
        if flood:
            status, value = "flood", flood
        else:
            changed = next((what for what in (node.change() for node in snapshot) if what), None)
            if changed:
                status, value = "mutated", changed
    warns = [(w.category.__name__, _safe_str(w.message)[:500], w.filename, w.lineno) for w in caught[:200]]
    return status, value, warns


def _worker(spec: str, conn, memory_limit_mb) -> None:
    """The worker's main loop: load, answer "ready", then serve (request number, capability, args, output
    limit) requests until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it then kills this worker
    try:
        null = os.open(os.devnull, os.O_WRONLY)  # output outside calls (import time) was shown by the parent's load
        os.dup2(null, 1)
        os.dup2(null, 2)
        os.close(null)
        from dlproof.loader import load_target

        target = load_target(spec)
        if memory_limit_mb:
            _limit_memory(memory_limit_mb)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it as the call's error
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            seq, capability, args, output_limit = conn.recv()
        except (EOFError, OSError):
            return
        status, value, warns = _serve(target, capability, args, output_limit)
        try:
            conn.send((seq, status, value, warns))
        except Exception as exc:  # noqa: BLE001 - the result cannot be pickled: say what it was
            conn.send((seq, "unreadable", f"a {type(value).__name__} that cannot be sent back from the isolated "
                                          f"worker ({type(exc).__name__}: {exc})", warns))


# ---- the parent's side ----------------------------------------------------------------------------------

def _exit_text(code) -> str:
    """"killed by SIGABRT (signal 6)" / "exited with code 3 (...)" for a `multiprocessing.Process.exitcode`."""
    if code is None:
        return "closed its connection without answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "an unknown signal"
        return f"killed by {name} (signal {-code})"
    return (f"exited with code {code} (os._exit or a C-level exit(): a Python exception or sys.exit would have "
            f"been reported as such)")


_CATEGORIES: dict = {}


def _category(name: str) -> type:
    """The warning class named ``name``: a built-in one, else a stand-in subclass of Warning with that name."""
    import builtins

    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Warning):
        return cls
    return _CATEGORIES.setdefault(name, type(name, (Warning,), {}))


class _Worker:
    """One worker process for one target spec; started on demand, killed and forgotten on any trouble."""

    def __init__(self, spec: str, timeout: float, memory_limit_mb=None, startup_timeout: float = STARTUP_TIMEOUT):
        self.spec, self.timeout, self.memory_limit_mb = spec, timeout, memory_limit_mb
        self.startup_timeout = startup_timeout
        self.proc = self.conn = None
        self.seq = 0

    def _start(self, capability: str) -> None:
        from dlproof.properties.assertions import WorkerFailure

        ctx = mp.get_context("spawn")
        conn, child = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(self.spec, child, self.memory_limit_mb), daemon=True,
                           name=f"dlproof isolated worker for {self.spec}")
        try:
            proc.start()
        finally:
            child.close()  # only the worker holds that end: its death is EOF here
        self.proc, self.conn = proc, conn
        try:
            if not self.conn.poll(self.startup_timeout):
                raise WorkerFailure(f"could not start the isolated worker: it did not load {self.spec!r} within "
                                    f"{self.startup_timeout:g} s")
            status, text = self.conn.recv()
        except (EOFError, OSError):
            code = self._reap()
            raise WorkerFailure(f"could not start the isolated worker: while loading {self.spec!r} it "
                                f"{_exit_text(code)}") from None
        except BaseException:
            self.stop()
            raise
        if status != "ready":
            self.stop()
            raise WorkerFailure(f"could not start the isolated worker: loading {self.spec!r} raised {text}")

    def _reap(self):
        """Wait briefly for the dead (or dying) worker and return its exit code; kill it if it lingers."""
        proc = self.proc
        if proc is not None:
            proc.join(5)
        code = proc.exitcode if proc is not None else None
        self.stop()
        return code

    def stop(self) -> None:
        """Kill the worker (if any) and close the pipe; the next call starts a fresh one."""
        proc, conn, self.proc, self.conn = self.proc, self.conn, None, None
        if proc is not None:
            if proc.is_alive():
                proc.kill()
            proc.join(5)
            try:
                proc.close()
            except ValueError:  # still running after the kill and the wait: leave it to the OS
                pass
        if conn is not None:
            conn.close()

    def __call__(self, capability: str, *args):
        from dlproof.properties import assertions

        if self.proc is None or not self.proc.is_alive():
            self.stop()
            self._start(capability)
        self.seq += 1
        try:
            self.conn.send((self.seq, capability, args, assertions.OUTPUT_LIMIT))
            if not self.conn.poll(self.timeout):
                self.stop()
                raise assertions.CallTimeout(self.timeout)
            seq, status, value, warns = self.conn.recv()
        except (EOFError, OSError):  # the worker died during the call (BrokenPipeError, ConnectionResetError...)
            code = self._reap()
            raise assertions.WorkerFailure(f"crashed the isolated worker: {_exit_text(code)}") from None
        except BaseException:  # the caller's alarm, Ctrl-C, ...: never leave a worker busy with this call
            self.stop()
            raise
        if seq != self.seq:  # cannot happen with a fresh pipe per worker; never read a stale answer as this one
            self.stop()
            raise RuntimeError(f"dlproof.isolate: internal error: answer {seq} to request {self.seq}")
        for category, message, filename, lineno in warns:
            warnings.warn_explicit(message, _category(category), filename, lineno)
        if status == "ok":
            return value
        if status == "err":
            raise assertions.WorkerFailure(*value)
        if status == "flood":
            raise assertions.OutputFlood(*value)
        if status == "mutated":
            raise assertions.InputMutated(value)
        if status == "unreadable":
            raise assertions.OutputUnreadable(value)
        if status == "interrupt":
            self.stop()
            raise KeyboardInterrupt
        self.stop()
        raise RuntimeError(f"dlproof.isolate: internal error: unknown answer {status!r}")


class _Proxy:
    """The capability ``capability`` of an isolated target: calls go to the shared worker."""

    dlproof_isolated = True  # `assertions.call`: the worker keeps the deadline and captures the output

    def __init__(self, worker: _Worker, capability: str):
        self.worker, self.capability = worker, capability

    def __call__(self, *args):
        return self.worker(self.capability, *args)

    def __repr__(self):
        return f"<{self.capability} of {self.worker.spec!r}, isolated>"


def isolated(spec: str, timeout: float = 30.0, memory_limit_mb=None) -> Target:
    """The target loaded from ``spec``, with every capability run in a worker subprocess: a call gets
    ``timeout`` seconds, and ``memory_limit_mb`` (None: no limit) MiB of address space beyond the loaded worker."""
    from dlproof.loader import load_target

    local = load_target(spec)  # for its metadata; calls go to the worker
    worker = _Worker(spec, timeout, memory_limit_mb)
    caps = {c: (_Proxy(worker, c) if local.provides(c) else None) for c in CAPABILITIES}
    return replace(local, name=f"{local.name} [isolated]", **caps)


def stop(target: Target) -> None:
    """Kill the worker of an `isolated` target now (it restarts on the next call); no-op for other targets."""
    for c in CAPABILITIES:
        fn = getattr(target, c, None)
        if isinstance(fn, _Proxy):
            fn.worker.stop()
            return
