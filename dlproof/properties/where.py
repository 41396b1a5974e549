"""Where in the source an exception happened: the innermost frame of the target's own code (for a target's
error), or of dlproof's own source (for an ``internal-error``, which blames dlproof, never the target).

Folders: dlproof's machinery (dlproof/, properties/, derivations/) is never named as the place a target
raised; dlproof's built-in implementations (impl/) only when no frame of user code is in the traceback;
installed libraries and the standard library rank below user code.
"""
from __future__ import annotations

import importlib.util
import os
import sysconfig
import traceback

def _package_dir(name: str) -> str | None:
    spec = importlib.util.find_spec(name)
    origin = getattr(spec, "origin", None) if spec is not None else None
    return os.path.dirname(os.path.abspath(origin)) if origin else None


#: dlproof's machinery (the dlproof package but its impl/): never shown as the place a target raised
_OWN_DIRS = tuple(d + os.sep for d in (_package_dir("dlproof"),) if d)
#: dlproof's built-in implementations: shown only when no frame of other (user) code is in the traceback
_IMPL_DIRS = tuple(d + os.sep for d in (_package_dir("dlproof.impl"),) if d)
_LIBRARY_DIRS = tuple(sorted({os.path.abspath(p) + os.sep for k in ("stdlib", "platstdlib", "purelib", "platlib")
                              if (p := sysconfig.get_paths().get(k))}))


def _short_path(filename: str) -> str:
    """``model.py`` / ``pkg/model.py``: relative to the current folder when inside it, else the file's name."""
    try:
        rel = os.path.relpath(filename)
    except ValueError:  # another drive (Windows)
        rel = filename
    return rel if not rel.startswith(os.pardir) and not os.path.isabs(rel) else os.path.basename(filename)


def _location(tb) -> str:
    """``model.py:12 in rnn``: where the exception with traceback ``tb`` was raised in the target's code. The
    innermost frame of the user's code; failing that (a built-in target), of dlproof.impl; failing that, of a
    library. dlproof's own frames (the harness, the isolation proxy) are never named."""
    best = {}
    for frame, lineno in traceback.walk_tb(tb):
        f = os.path.abspath(frame.f_code.co_filename)
        if f.startswith(_OWN_DIRS) and not f.startswith(_IMPL_DIRS):
            continue
        rank = 2 if f.startswith(_IMPL_DIRS) else 1 if f.startswith(_LIBRARY_DIRS) else 3
        best[rank] = (f, lineno, frame.f_code.co_name)  # walk_tb goes outermost first: the last is innermost
    if not best:
        return ""
    f, lineno, fn = best[max(best)]
    return f"{_short_path(f)}:{lineno} in {fn}"


def _dlproof_root() -> str | None:
    """The folder holding the dlproof package (its frames are shown relative to it: dlproof/properties/...)."""
    d = _package_dir("dlproof")
    return os.path.dirname(d) if d else None


def dlproof_frame(exc: BaseException) -> str:
    """``dlproof/properties/protocol.py:42 in _difference``: the innermost frame of dlproof's own source in
    ``exc``'s traceback ('' if none)."""
    root, own = _dlproof_root(), _package_dir("dlproof")
    where = ""
    for fr in traceback.extract_tb(exc.__traceback__):
        f = os.path.abspath(fr.filename)
        if root and own and f.startswith(own + os.sep):
            where = f"{os.path.relpath(f, root).replace(os.sep, '/')}:{fr.lineno} in {fr.name}"
    return where
