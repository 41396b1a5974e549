"""Run folders: every run writes into a fresh folder and is swapped in atomically when it ends.

Layout of a report folder ``REPORT`` (``dlproof conform --report REPORT``, ``pytest --report=REPORT``)::

    REPORT/correctness.json, correctness.md   the latest finished run (each replaced atomically, always whole)
    REPORT/latest                             symlink to runs/<run-id> (a text file naming it where symlinks fail)
    REPORT/runs/<run-id>/correctness.json     this run's report (and .md)
    REPORT/runs/<run-id>/repro/*.npz          this run's failing examples (the report's repro paths point here)
    REPORT/runs/<run-id>/target-output.log    what the target wrote to fds 1 and 2 (the first 64 KiB)
    REPORT/runs/<run-id>/RUNNING              present while the run is in progress: its process id and host

A run id is the UTC start time plus a short random suffix (``20250101T120000.123Z-3fa2c1``), so ids sort by
start time and two runs started in the same millisecond still differ. A run folder appears complete with
its RUNNING file (it is prepared under a hidden name and renamed into runs/), so pruning never sees a run
without its marker. Publishing (top-level files and ``latest``) happens under an exclusive lock on
``REPORT/.lock``: of two concurrent runs the last to finish wins the top level, and the two top-level files
always come from the same run. `prune` keeps the newest `KEEP` finished runs and never deletes a run whose
RUNNING file names a live process (or a process on another host).
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import time
from pathlib import Path

from dlproof.atomic import ReportDirError, ensure_dir, symlink_atomic, write_atomic

RUNS = "runs"
MARKER = "RUNNING"
LATEST = "latest"
LOG = "target-output.log"
KEEP = 5
TOP_FILES = ("correctness.json", "correctness.md")


def new_run_id() -> str:
    """UTC start time (millisecond) and 6 random hex digits: sortable by time, unique across processes."""
    now = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
    return f"{stamp}-{secrets.token_hex(3)}"


class RunFolder:
    """``REPORT/runs/<run_id>/``: `create` makes a fresh one (with its RUNNING marker), `attach` names an
    existing one (a pytest-xdist worker writing into the controller's run), `publish` swaps it in."""

    def __init__(self, report_dir, run_id: str):
        self.report_dir = Path(report_dir)
        self.run_id = run_id
        self.path = self.report_dir / RUNS / run_id

    @property
    def repro_dir(self) -> Path:
        return self.path / "repro"

    @property
    def log_path(self) -> Path:
        return self.path / LOG

    @classmethod
    def create(cls, report_dir, run_id: str | None = None) -> "RunFolder":
        """A fresh run folder with its RUNNING marker; `ReportDirError` (naming the folder) if it cannot be written."""
        run = cls(report_dir, run_id or new_run_id())
        runs = ensure_dir(run.report_dir / RUNS)
        tmp = runs / f".new-{run.run_id}"
        try:
            tmp.mkdir()
            (tmp / MARKER).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}) + "\n",
                                      encoding="utf-8")
            os.rename(tmp, run.path)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ReportDirError(f"cannot create the run folder {str(run.path)!r}: {exc.strerror or exc}") from exc
        return run

    @classmethod
    def attach(cls, report_dir, run_id: str) -> "RunFolder":
        return cls(report_dir, run_id)

    def write(self, name: str, text: str) -> Path:
        return write_atomic(self.path / name, text)

    def publish(self, files: dict, keep: int = KEEP) -> None:
        """Write ``files`` ({name: text}) into the run folder, then, under the folder lock, replace the top-level
        copies atomically and point ``latest`` at this run; drop the RUNNING marker; prune old runs."""
        for name, text in files.items():
            self.write(name, text)
        with _locked(self.report_dir):
            for name, text in files.items():
                write_atomic(self.report_dir / name, text)
            _point_latest(self.report_dir, self.run_id)
        self.finish()
        prune(self.report_dir, keep)

    def finish(self) -> None:
        """The run is over (published or abandoned): remove its RUNNING marker."""
        with contextlib.suppress(FileNotFoundError):
            (self.path / MARKER).unlink()


@contextlib.contextmanager
def _locked(report_dir: Path):
    import fcntl

    fd = os.open(report_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _point_latest(report_dir: Path, run_id: str) -> None:
    """``latest`` -> runs/<run_id>: a symlink replaced atomically, else a pointer file holding ``runs/<run_id>``."""
    link = report_dir / LATEST
    rel = f"{RUNS}/{run_id}"
    try:
        symlink_atomic(rel, link)
        return
    except OSError:
        pass
    with contextlib.suppress(OSError):  # e.g. a folder named latest is in the way: the top-level JSON names the run
        write_atomic(link, rel + "\n")


def latest_run(report_dir) -> str | None:
    """The run id ``REPORT/latest`` names (symlink or pointer file), else None."""
    link = Path(report_dir) / LATEST
    try:
        target = os.readlink(link) if link.is_symlink() else link.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return Path(target).name or None


def _alive(marker: Path) -> bool:
    """Whether the process a RUNNING marker names still runs (a marker we cannot read counts as alive)."""
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
        pid, host = int(info["pid"]), info.get("host")
    except FileNotFoundError:
        return False
    except (OSError, ValueError, KeyError, TypeError):
        return True
    if host != socket.gethostname():
        return True  # another machine's run on a shared folder: never ours to judge
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running(run_path: Path) -> bool:
    return (run_path / MARKER).exists() and _alive(run_path / MARKER)


def prune(report_dir, keep: int = KEEP) -> list:
    """Delete all but the newest ``keep`` runs that are not running (a run whose process died counts as over);
    the run ``latest`` names is always kept. Returns the deleted run ids."""
    runs = Path(report_dir) / RUNS
    if not runs.is_dir():
        return []
    latest = latest_run(report_dir)
    over = sorted((p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".") and not running(p)),
                  key=lambda p: p.name, reverse=True)
    deleted = []
    for p in over[keep:]:
        if p.name == latest:
            continue
        shutil.rmtree(p, ignore_errors=True)
        deleted.append(p.name)
    return deleted
