"""Resuming a sweep: keep the finished (target, seed) rows of OUT/sweep.json, run only the missing pairs.

Results are mixed only when the earlier report's fingerprint (`fingerprint.py`: dlproof source, the two
profiles, Python and library versions, the module files of ``module:attr`` targets) equals this run's;
otherwise `SweepMismatch` says what differs. Every finished row is kept, error rows included (a task that
killed its worker every time would kill it again); rows of targets or seeds outside this run are dropped.
"""
from __future__ import annotations

from .fingerprint import differences


class SweepMismatch(ValueError):
    """The earlier report was made with other code, settings or libraries: its rows must not be mixed in."""


def plan(previous: dict | None, fingerprint: dict, tasks: list) -> tuple[list, list]:
    """-> (rows of ``previous`` to keep, (target, seed) tasks still to run), in the order of ``tasks``."""
    if previous is None:
        return [], list(tasks)
    old = previous.get("fingerprint")
    if not old:
        raise SweepMismatch("the earlier report has no fingerprint (made before resumable sweeps): "
                            "cannot tell whether its results may be mixed; run without --resume")
    diff = differences(old, fingerprint)
    if diff:
        raise SweepMismatch("the earlier report was made with other code or settings (" + "; ".join(diff)
                            + "): refusing to mix results; run without --resume to start over, or use another --out")
    wanted = set(tasks)
    kept, seen = [], set()
    for r in previous["runs"]:
        key = (r["target"], r["seed"])
        if key in wanted and key not in seen:
            kept.append(r)
            seen.add(key)
    return kept, [t for t in tasks if t not in seen]
