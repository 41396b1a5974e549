"""Run a target in a worker subprocess, so a hang even inside C code is caught: ``--dlproof-isolate``.

`isolated(spec, timeout)` returns a Target with the same name, dtype, conventions and capabilities;
each capability call is sent to a spawned worker process that loaded the target from ``spec``. A call
that does not answer within ``timeout`` seconds kills the worker (a fresh one starts on the next call)
and raises `TimeoutError`, which the suite reports as a failure. An exception in the worker comes
back as `RuntimeError` with the worker's message. What a call prints in the worker is captured there
(as `dlproof.properties.assertions.call` does in-process); over the limit it comes back as `OutputFlood`.
"""
from __future__ import annotations

import multiprocessing as mp
from dataclasses import replace

from .target import CAPABILITIES, Target


def _worker(spec: str, conn) -> None:
    from dlproof.loader import load_target
    from dlproof.properties.assertions import CapturedOutput

    target = load_target(spec)
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        capability, args, output_limit = msg
        try:
            with CapturedOutput() as printed:  # what the call prints stays here, as in the parent's `call`
                out = getattr(target, capability)(*args)
            flood = printed.over(output_limit)
            conn.send(("flood", flood) if flood else ("ok", out))
        except Exception as exc:  # noqa: BLE001 - sent back and re-raised in the parent
            conn.send(("err", f"{type(exc).__name__}: {exc}"))


class _Worker:
    def __init__(self, spec: str, timeout: float):
        self.spec, self.timeout = spec, timeout
        self.proc = self.conn = None

    def _start(self):
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(self.spec, child), daemon=True)
        self.proc.start()

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.join(5)
        self.proc = self.conn = None

    def __call__(self, capability: str, *args):
        if self.proc is None or not self.proc.is_alive():
            self._start()
        from dlproof.properties import assertions

        self.conn.send((capability, args, assertions.OUTPUT_LIMIT))
        # the first call also pays for the worker's start-up and imports
        if not self.conn.poll(self.timeout + 60.0 * (not getattr(self, "_warm", False))):
            self.stop()
            raise TimeoutError(f"{capability} did not return within {self.timeout:g} s (isolated worker killed)")
        self._warm = True
        status, value = self.conn.recv()
        if status == "err":
            raise RuntimeError(value)
        if status == "flood":
            raise assertions.OutputFlood(*value)
        return value


def isolated(spec: str, timeout: float = 30.0) -> Target:
    """The target loaded from ``spec``, with every capability run in a worker subprocess."""
    from dlproof.loader import load_target

    local = load_target(spec)  # for its metadata; calls go to the worker
    worker = _Worker(spec, timeout)

    def forward(cap):
        return lambda *args: worker(cap, *args)

    caps = {c: (forward(c) if local.provides(c) else None) for c in CAPABILITIES}
    return replace(local, name=f"{local.name} [isolated]", **caps)
