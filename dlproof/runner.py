"""The direct runner behind ``dlproof conform`` and ``dlproof report``: plan, child process, supervisor.

**Plan.** Selected targets x selected properties (``-k EXPR``, see `select`); every planned (target, property)
gets exactly one row in the report, whatever happens.

**Child.** The properties run in a child process (``python -m dlproof.runner --child``) whose file descriptors
1 and 2 go to pipes the supervisor reads (the first `LOG_KEEP` bytes are kept in the run folder's
``target-output.log``, the rest only counted: a target's output never reaches the terminal). The child reports
progress over a third pipe, one JSON object per line: ``loaded``, ``start`` (property), ``call``/``ret``
(capability call started/returned; `assertions.CALL_HOOK` and a wrapper around each capability), ``row``,
``done``, ``interrupted``, ``load-error``. The harness owns the warnings policy (`properties.harness.run`), so
the verdicts do not depend on the folder the run starts in (no pytest, no conftest, no ini file).

**Supervisor.** If the child dies (os._exit, abort, a segfault, the OOM killer), the property in progress gets an
``error`` row naming the signal or exit code and the capability in progress, a fresh child starts and the run goes
on with the remaining properties. If one capability call runs longer than the call timeout plus `GRACE` seconds
(a hang in C that SIGALRM cannot interrupt, a busy C loop), the supervisor kills the child, records the property as
``fail`` ("did not return within 30 s; the process was killed"), and every later property that needs that
capability is failed with the same reason without calling it again. Ctrl-C (SIGINT) or SIGTERM stops the child;
the report is written with status ``interrupted``. A target that does not load in the child aborts the run.
"""
from __future__ import annotations

import fnmatch
import json
import os
import random
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

#: seconds a capability call may run past the call timeout before the supervisor kills the child (the child's
#: own SIGALRM timer gets the first chance, with a clean "did not return" failure and the child alive)
GRACE = 5.0
#: extra seconds for a call under --isolate: the isolated proxy enforces the call deadline itself and may have to
#: start its worker first; the supervisor's deadline is only a backstop there
ISOLATE_EXTRA = 90.0
#: bytes of the target's output (fds 1 and 2 together) kept in runs/<id>/target-output.log
LOG_KEEP = 64 * 1024
#: seconds a child may take to import and load its targets
LOAD_TIMEOUT = 600.0


# ---- plan ---------------------------------------------------------------------------------------

def select(prop_ids, expr: str | None) -> list:
    """Property ids selected by ``-k EXPR``: comma-separated terms; a term with ``*``, ``?`` or ``[`` is an
    ``fnmatch`` pattern on the whole id, any other term a substring of the id; a term starting with ``-``
    excludes. An id is selected if it matches some including term (or there is none) and no excluding term.
    ``-k 'rnn.*,clip'``: ids starting ``rnn.`` or containing ``clip``; ``-k 'lstm,-bi.'``: LSTM, not bidirectional."""
    ids = list(prop_ids)
    if not expr or not expr.strip():
        return ids
    terms = [t.strip() for t in expr.split(",") if t.strip()]
    inc = [t for t in terms if not t.startswith("-")]
    exc = [t[1:].strip() for t in terms if t.startswith("-") and t[1:].strip()]

    def hit(pid, term):
        return fnmatch.fnmatchcase(pid, term) if any(c in term for c in "*?[") else term in pid

    return [p for p in ids if (not inc or any(hit(p, t) for t in inc)) and not any(hit(p, t) for t in exc)]


@dataclass
class Options:
    specs: list
    profile: str = "ci"
    report_dir: str = "reports/latest"
    expr: str | None = None
    call_timeout: float = 30.0
    isolate: bool = False
    memory_limit_mb: int | None = None
    warnings_as_errors: bool = False
    seed: int | None = None
    show_all: bool = False
    command: list = field(default_factory=list)
    progress: object = None  # callable(str) for progress lines; None: silent


@dataclass
class Outcome:
    report: dict | None
    status: str  # complete | interrupted | aborted
    run_dir: Path | None
    message: str = ""  # why the run is not complete
    output_bytes: int = 0


# ---- the child ----------------------------------------------------------------------------------

class _Channel:
    """The child's end of the progress pipe: one JSON object per line."""

    def __init__(self, fd: int):
        self.fd = fd

    def send(self, **msg) -> None:
        data = (json.dumps(msg, default=str) + "\n").encode("utf-8")
        while data:
            n = os.write(self.fd, data)
            data = data[n:]


def _wrap(target, chan: _Channel):
    """The target with every capability wrapped to report its start and return to the supervisor."""
    from dataclasses import replace

    from dlproof.target import CAPABILITIES

    def wrapped(cap, fn):
        def call(*args):
            chan.send(ev="call", cap=cap)
            try:
                return fn(*args)
            finally:
                chan.send(ev="ret", cap=cap)

        call.__wrapped__ = fn  # assertions.call sees an isolated proxy through the wrapper (no parent timer)
        return call

    return replace(target, **{c: wrapped(c, getattr(target, c)) for c in CAPABILITIES if target.provides(c)})


def _child_main() -> int:
    job = json.loads(sys.stdin.read())
    chan = _Channel(job["fd"])
    os.set_inheritable(job["fd"], False)  # an isolated worker must not hold the progress pipe open
    try:
        from dlproof.loader import TargetLoadError, load_target
        from dlproof.properties import assertions, harness
        from dlproof.properties.registry import all_properties

        targets = {}
        for spec in job["specs"]:
            try:
                if job["isolate"]:
                    from dlproof.isolate import isolated

                    load_target(spec)
                    kw = {"memory_limit_mb": job["memory_limit_mb"]} if job["memory_limit_mb"] else {}
                    targets[spec] = isolated(spec, job["call_timeout"], **kw)
                else:
                    targets[spec] = load_target(spec)
            except TargetLoadError as exc:
                chan.send(ev="load-error", spec=spec, message=str(exc))
                return 2
            except BaseException as exc:  # noqa: BLE001 - a module that exits or raises anything at import
                if isinstance(exc, KeyboardInterrupt):
                    raise
                chan.send(ev="load-error", spec=spec, message=f"target {spec!r}: loading it raised "
                                                               f"{type(exc).__name__}: {exc}")
                return 2
        targets = {s: _wrap(t, chan) for s, t in targets.items()}
        if job["memory_limit_mb"] and not job["isolate"]:
            import resource

            limit = int(job["memory_limit_mb"]) << 20
            _, hard = resource.getrlimit(resource.RLIMIT_AS)
            resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
        assertions.CALL_TIMEOUT = job["call_timeout"]
        assertions.WARNINGS_AS_ERRORS = job["warnings_as_errors"]
        assertions.CALL_HOOK = lambda cap: chan.send(ev="call", cap=cap)
        props = all_properties()
        chan.send(ev="loaded")
        for spec, pid in job["items"]:
            chan.send(ev="start", spec=spec, prop=pid)
            row = harness.run(props[pid], targets[spec], spec, profile=job["profile"], report_dir=job["run_dir"],
                              seed_value=job["seed"], raises=False)
            chan.send(ev="row", row=row)
        chan.send(ev="done")
        return 0
    except KeyboardInterrupt:
        chan.send(ev="interrupted")
        return 130


# ---- the supervisor -----------------------------------------------------------------------------

def signal_text(code: int) -> str:
    """How a child ended, from its return code: "killed by SIGSEGV (signal 11)" or "exited with code 3"."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (out of memory? the kernel's OOM killer sends SIGKILL)" if -code == signal.SIGKILL else ""
        return f"killed by {name} (signal {-code}){hint}"
    return f"exited with code {code}"


class _Output:
    """The child's fds 1 and 2: the first LOG_KEEP bytes go to the log file, the rest is counted."""

    def __init__(self, path: Path):
        self.path, self.kept, self.total = path, 0, {"stdout": 0, "stderr": 0}
        self.f = None

    def add(self, stream: str, data: bytes) -> None:
        self.total[stream] += len(data)
        room = LOG_KEEP - self.kept
        if room > 0:
            if self.f is None:
                self.f = open(self.path, "ab")
            self.f.write(data[:room])
            self.kept += min(room, len(data))

    def close(self) -> None:
        if self.f is not None:
            self.f.close()
            self.f = None


class _Child:
    """One child process running ``items`` (a list of [spec, property id]) and its pipes."""

    def __init__(self, job: dict, items: list):
        msg_r, msg_w = os.pipe()
        job = dict(job, fd=msg_w, items=items)
        self.proc = subprocess.Popen([sys.executable, "-m", "dlproof.runner", "--child"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(msg_w,),
                                     start_new_session=True)  # its own group: Ctrl-C reaches the supervisor only
        os.close(msg_w)
        self.msg = os.fdopen(msg_r, "rb", buffering=0)
        self.proc.stdin.write(json.dumps(job).encode("utf-8"))
        self.proc.stdin.close()
        self.buf = b""

    def kill(self) -> None:
        """Kill the child and everything it started (an isolated worker included)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.kill()
        except ProcessLookupError:
            pass
        self.proc.wait()

    def close(self) -> None:
        for f in (self.msg, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass


def _needs(props: dict, pid: str) -> tuple:
    return props[pid].capabilities


def supervise(opts: Options, targets: dict, run_folder, say) -> tuple:
    """Run the plan in child processes; -> (rows, status, message, output). ``targets``: spec -> loaded Target
    (the supervisor's own copy, for names and capabilities)."""
    from dlproof.properties import results
    from dlproof.properties.registry import all_properties

    props = all_properties()
    chosen = select(props, opts.expr)
    items = [[s, p] for s in opts.specs for p in chosen]
    rows: dict = {}
    hung: dict = {}  # (spec, capability) -> reason
    status, message = "complete", ""
    out = _Output(run_folder.log_path)
    deadline_s = opts.call_timeout + GRACE + (ISOLATE_EXTRA if opts.isolate else 0.0)
    job = {"specs": list(opts.specs), "profile": opts.profile, "run_dir": str(run_folder.path), "seed": opts.seed,
           "call_timeout": opts.call_timeout, "isolate": opts.isolate, "memory_limit_mb": opts.memory_limit_mb,
           "warnings_as_errors": opts.warnings_as_errors}
    n_done = [0]

    def record(row):
        key = (row["target"], row["property"])
        if key in rows:
            return
        rows[key] = row
        n_done[0] += 1
        if row["verdict"] != "not provided" and say:
            ratio = f", err/tol {results.ratio_text(row)}" if row["verdict"] == "fail" and row["worst_error_ratio"] else ""
            say(f"[{n_done[0]}/{len(items)}] {row['target']} :: {row['property']}: {row['verdict']}{ratio}")

    def hung_reason(spec, pid):
        return next((hung[(spec, c)] for c in _needs(props, pid) if (spec, c) in hung), None)

    child = None
    try:
        while True:
            todo = []
            for s, p in items:
                if (s, p) in rows:
                    continue
                reason = hung_reason(s, p)
                if reason:  # a capability that hung is not called again
                    record(results.new_row(props[p], s, targets[s].name, verdict="fail", message=reason))
                else:
                    todo.append([s, p])
            if not todo:
                break
            child = _Child(job, todo)
            ended = _drive(child, props, targets, rows, record, hung, out, deadline_s, opts)
            child.close()
            child = None
            if ended[0] == "load-error":
                status, message = "aborted", ended[1]
                break
            if ended[0] == "interrupted":
                status, message = "interrupted", ended[1]
                break
            # "done", "crashed" or "killed": the loop starts a child for whatever is left
    except KeyboardInterrupt:
        status, message = "interrupted", "Ctrl-C (SIGINT) or SIGTERM"
        if child is not None:
            child.kill()
            _drain(child, out)
            child.close()
    finally:
        out.close()
    reason = {"interrupted": "not run: the run was interrupted before this property finished",
              "aborted": f"not run: the run was aborted ({message})"}.get(status, "not run")
    planned = [(s, p, targets[s].name) for s, p in items]
    final = results.fill_missing(list(rows.values()), planned, reason)
    if status == "complete" and len(rows) != len(items):  # cannot happen; if it does, the report says so
        status, message = "aborted", f"{len(items) - len(rows)} planned rows were not produced"
    return final, status, message, out


def _drain(child: _Child, out: _Output) -> None:
    """Whatever the (dead) child's pipes still hold, into the log, without blocking."""
    for stream, f in (("stdout", child.proc.stdout), ("stderr", child.proc.stderr)):
        try:
            os.set_blocking(f.fileno(), False)
            while True:
                data = os.read(f.fileno(), 65536)
                if not data:
                    break
                out.add(stream, data)
        except (BlockingIOError, OSError, ValueError):
            pass


def _drive(child: _Child, props, targets, rows, record, hung, out, deadline_s, opts) -> tuple:
    """Read the child's messages and output until it ends; returns (how, message). how: done | crashed | killed |
    load-error | interrupted."""
    from dlproof.properties import results

    sel = selectors.DefaultSelector()
    sel.register(child.msg, selectors.EVENT_READ, "msg")
    sel.register(child.proc.stdout, selectors.EVENT_READ, "stdout")
    sel.register(child.proc.stderr, selectors.EVENT_READ, "stderr")
    current = None  # (spec, property) in progress
    cap, call_t0, last_cap = None, None, None
    loaded_by = time.monotonic() + LOAD_TIMEOUT
    loaded = False
    how, msg = None, ""
    try:
        while how is None:
            now = time.monotonic()
            if cap is not None:
                wait = call_t0 + deadline_s - now
            elif not loaded:
                wait = loaded_by - now
            else:
                wait = 1.0
            if wait <= 0:
                if cap is not None:  # a call that neither returned nor hit the child's own timer
                    child.kill()
                    spec, pid = current
                    reason = (f"{cap}: did not return within {opts.call_timeout:g} s; the process was killed "
                              f"(a capability that hung is not called again in this run)")
                    hung[(spec, cap)] = reason
                    record(results.new_row(props[pid], spec, targets[spec].name, verdict="fail", message=reason,
                                           examples=1))
                    how = "killed"
                else:
                    child.kill()
                    how, msg = "load-error", f"the child process did not load the targets within {LOAD_TIMEOUT:g} s"
                break
            for key, _ in sel.select(timeout=min(wait, 1.0)):
                f = key.fileobj
                data = os.read(f.fileno(), 65536)
                if key.data != "msg":
                    if data:
                        out.add(key.data, data)
                    else:
                        sel.unregister(f)
                    continue
                if not data:  # the progress pipe closed: the child ended
                    sel.unregister(f)
                    how = "eof"
                    break
                child.buf += data
                *lines, child.buf = child.buf.split(b"\n")
                for line in lines:
                    m = json.loads(line)
                    ev = m["ev"]
                    if ev == "loaded":
                        loaded = True
                    elif ev == "start":
                        current, last_cap = (m["spec"], m["prop"]), None
                    elif ev == "call":
                        if cap is None or cap != m["cap"]:
                            cap, call_t0 = m["cap"], time.monotonic()
                        else:
                            call_t0 = time.monotonic()
                    elif ev == "ret":
                        last_cap, cap = m["cap"], None
                    elif ev == "row":
                        record(m["row"])
                        current, cap = None, None
                    elif ev == "load-error":
                        how, msg = "load-error", m["message"]
                    elif ev == "interrupted":
                        how, msg = "interrupted", "a KeyboardInterrupt was raised inside the run"
                    elif ev == "done":
                        how = "done"
            else:
                if how is None and child.proc.poll() is not None and not _readable(sel):
                    how = "eof"
        if how in ("eof", "done", "load-error", "interrupted"):
            try:
                code = child.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                code = child.proc.returncode
            _drain(child, out)
            if how == "eof":
                if not loaded:
                    how, msg = "load-error", (f"the target could not be loaded: the child process {signal_text(code)} "
                                              f"while importing it (its output is in {out.path})")
                elif current is not None:
                    spec, pid = current
                    ended = signal_text(code)
                    if cap is not None:
                        text = f"{cap} crashed the process: {ended}"
                    elif last_cap is not None:
                        text = (f"the process crashed after {last_cap} returned, while dlproof checked its result: "
                                f"{ended}")
                    else:
                        text = f"the process crashed while running this property (no capability call in progress): {ended}"
                    record(results.new_row(props[pid], spec, targets[spec].name, verdict="error", message=text,
                                           examples=1))
                    how = "crashed"
                else:
                    how = "crashed"
        else:
            _drain(child, out)
    finally:
        sel.close()
    return how, msg


def _readable(sel) -> bool:
    return bool(sel.get_map()) and bool(sel.select(timeout=0))


# ---- one run ------------------------------------------------------------------------------------

def _utc() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def run(opts: Options, targets: dict, run_folder) -> Outcome:
    """Supervise the plan of ``opts`` on ``targets`` (spec -> Target, already loaded here) into ``run_folder``
    (`dlproof.runfolder.RunFolder`) and publish the report; KeyboardInterrupt is turned into an interrupted run."""
    from dlproof.properties import results

    started = _utc()
    if opts.seed is None and opts.profile != "ci":
        opts.seed = random.SystemRandom().randrange(2 ** 32)
    say = opts.progress
    rows, status, message, out = supervise(opts, targets, run_folder, say)
    described = {}
    for s, t in targets.items():
        d = t.describe()
        if opts.isolate:
            d["name"] = f"{d['name']} [isolated]"
        described[s] = d
    prov = results.provenance(seed="derandomized" if opts.profile == "ci" else opts.seed, profile=opts.profile,
                              targets=described, command=opts.command or ["dlproof"] + sys.argv[1:])
    info = {"id": run_folder.run_id, "targets": list(opts.specs), "started": started, "ended": _utc(),
            "status": status, "planned_rows": len(rows),
            "target_output": {"log": str(run_folder.log_path) if out.kept else None, "bytes": dict(out.total),
                              "kept": out.kept}}
    if message:
        info["message"] = message
    for _ in range(2):  # a second Ctrl-C while publishing: publish anyway, the report must not be half-swapped
        try:
            report = results.publish(run_folder, rows, prov, info, show_all=opts.show_all)
            break
        except KeyboardInterrupt:
            status = info["status"] = "interrupted"
    return Outcome(report, status, run_folder.path, message, sum(out.total.values()))


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        raise SystemExit(_child_main())
    raise SystemExit("dlproof.runner: internal module (run `dlproof conform`)")
