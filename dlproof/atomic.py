"""Atomic, checked writes: the one writer of every file dlproof produces (reports, caches, benchmarks).

`write_atomic` writes to a temporary file in the destination folder and moves it into place with
``os.replace`` (atomic on POSIX), so an interrupted run leaves the old file or the new one, never half of
either; `symlink_atomic` swaps a symlink the same way. Concurrent writers of identical bytes (pytest-xdist
workers filling the derivation cache) need no lock. A folder that cannot be created or written raises
`ReportDirError` naming the folder.

This module is a leaf: it imports nothing of dlproof.
"""
from __future__ import annotations

import json
import os
import secrets
import tempfile
from pathlib import Path


class ReportDirError(OSError):
    """The report folder cannot be created or written."""


def ensure_dir(path) -> Path:
    """Create ``path`` if needed and check that it is a writable folder."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ReportDirError(f"report folder {str(p)!r} is not a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportDirError(f"report folder {str(p)!r} cannot be created: {exc.strerror or exc}") from exc
    if not p.is_dir():
        raise ReportDirError(f"report folder {str(p)!r} is not a folder")
    if not os.access(p, os.W_OK | os.X_OK):
        raise ReportDirError(f"report folder {str(p)!r} is not writable")
    return p


def write_atomic(path, data) -> Path:
    """Write ``data`` (str: UTF-8 text, bytes: as is) to ``path`` atomically, mode 0644; return the path."""
    p = Path(path)
    ensure_dir(p.parent)
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    try:
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    except OSError as exc:
        raise ReportDirError(f"cannot write {str(p)!r}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        os.chmod(tmp, 0o644)
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return p


def write_json(path, obj, **dumps_options) -> Path:
    """``json.dumps(obj, **dumps_options)`` plus a final newline, written atomically; return the path."""
    return write_atomic(path, json.dumps(obj, **dumps_options) + "\n")


def symlink_atomic(target: str, link) -> None:
    """Make ``link`` a symlink to ``target``, replacing what is there atomically; `OSError` where symlinks fail
    (nothing is left behind)."""
    link = Path(link)
    tmp = link.parent / f".{link.name}.{secrets.token_hex(4)}"
    try:
        os.symlink(target, tmp)
        os.replace(tmp, link)
    except OSError:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
