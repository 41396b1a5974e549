"""Atomic, checked writes of report artifacts.

Every artifact is written to a temporary file in the destination folder and moved into place with
``os.replace`` (atomic on POSIX), so an interrupted run leaves the old file or the new one, never half
of either. A folder that cannot be created or written raises `ReportDirError` naming the folder.
"""
from __future__ import annotations

import os
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
    """Write ``data`` (str: UTF-8 text, bytes: as is) to ``path`` atomically; return the path."""
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
