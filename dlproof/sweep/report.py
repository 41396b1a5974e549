"""The sweep's report: OUT/sweep.json and OUT/sweep.md, rewritten atomically after every finished task.

`assemble` orders the finished rows by (target, seed) and marks the report ``complete`` only when every
(target, seed) task has a row; an interrupted sweep leaves an incomplete report that ``--resume`` continues.
"""
from __future__ import annotations

import json
from pathlib import Path


class ReportError(ValueError):
    """A sweep.json that cannot be read or is not a sweep report."""


def assemble(specs, seeds, jobs, runs, wall_s: float, fingerprint: dict | None = None, engine: str = "",
             known: dict | None = None) -> dict:
    """The report of ``runs`` (rows of `task.run_one`) among the tasks ``specs`` x ``seeds``.

    ``known`` = ``{spec: {property id, ...}}``, the failures a published finding explains (`dlproof.findings.
    known_failures`, passed in by the caller): a failure there is marked ``"finding": true`` and counted in
    ``known_failures``; every other failure (a correct target accused, or an error) is a false alarm
    (``false_alarms``)."""
    specs, seeds = list(specs), list(seeds)
    known = known or {}
    order = {s: i for i, s in enumerate(specs)}
    unknown = [r["target"] for r in runs if r["target"] not in order]
    if unknown:
        raise ValueError(f"sweep rows of targets outside the sweep: {sorted(set(unknown))}")
    runs = sorted(runs, key=lambda r: (order[r["target"]], r["seed"]))
    for r in runs:
        for f in r["failures"]:
            f["finding"] = f["property"] in known.get(r["target"], ())
    n_known = sum(f["finding"] for r in runs for f in r["failures"])
    n_tasks = len(specs) * len(seeds)
    from .task import CELL_PROFILE, OTHER_PROFILE

    return {"seeds": seeds, "targets": specs, "jobs": jobs, "engine": engine, "cell_profile": CELL_PROFILE,
            "other_profile": OTHER_PROFILE, "runs": runs, "failures": sum(len(r["failures"]) for r in runs),
            "known_failures": n_known, "false_alarms": sum(len(r["failures"]) for r in runs) - n_known,
            "examples": sum(r["examples"] for r in runs), "wall_s": round(wall_s, 1),
            "complete": len(runs) == n_tasks, "tasks": n_tasks, "fingerprint": fingerprint}


def line(r: dict) -> str:
    """One progress line per finished task."""
    c = r["counts"]
    return (f"{r['target']:24s} seed {r['seed']:>3}: {c.get('pass', 0)} pass, {len(r['failures'])} fail, "
            f"{r['examples']} examples, {r['seconds']} s")


def markdown(res: dict) -> str:
    seeds = res["seeds"]
    span = f" ({seeds[0]}..{seeds[-1]})" if seeds else ""
    lines = ["# False-alarm sweep: correct targets under many seeds", "",
             f"{len(res['targets'])} targets x {len(seeds)} seeds{span}; cell "
             f"properties in the `{res['cell_profile']}` profile, the others in `{res['other_profile']}`; "
             f"{res['examples']} examples in all, {res['wall_s']} s wall with {res['jobs']} job(s)"
             + (f" ({res['engine']})" if res.get("engine") else "") + f". **{_false_alarms(res)} false alarm(s)**"
             + (f" ({res['known_failures']} more failure(s) explained by a published finding, reports/findings.md)"
                if res.get("known_failures") else "") + "."
             + ("" if res.get("complete", True) else f" Incomplete: {len(res['runs'])} of {res['tasks']} (target, seed) "
                                                     "runs finished (`--resume` runs the rest)."), ""]
    fp = res.get("fingerprint")
    if fp:
        lines += [f"Fingerprint `{fp['digest'][:16]}`: dlproof source `{fp['dlproof'][:12]}`, Python {fp['python']}, "
                  + ", ".join(f"{k} {v}" for k, v in fp["libraries"].items() if v) + ".", ""]
    lines += ["| target | seeds | properties passed per seed | examples | failures | seconds |", "|---|---|---|---|---|---|"]
    for spec in res["targets"]:
        rs = [r for r in res["runs"] if r["target"] == spec]
        passed = sorted({r["counts"].get("pass", 0) for r in rs})
        lines.append(f"| `{spec}` | {len(rs)} | {', '.join(map(str, passed))} | {sum(r['examples'] for r in rs)} | "
                     f"{sum(len(r['failures']) for r in rs)} | {sum(r['seconds'] for r in rs):.0f} |")
    fails = [(r, f) for r in res["runs"] for f in r["failures"]]
    if fails:
        lines += ["", "## Failures", ""]
        lines += [f"- `{r['target']}` seed {r['seed']} `{f['property']}` ({f['profile']})"
                  + (" [a published finding]" if f.get("finding") else "") + f": {f['message']}"
                  + (f" — `{f['repro']}`" if f["repro"] else "") for r, f in fails]
    return "\n".join(lines) + "\n"


def _false_alarms(res: dict) -> int:
    """Failures no finding explains (a report written before findings were told apart counts every failure)."""
    return res.get("false_alarms", res["failures"])


def write(res: dict, out) -> None:
    from dlproof.atomic import write_atomic, write_json

    write_json(Path(out) / "sweep.json", res, indent=1)
    write_atomic(Path(out) / "sweep.md", markdown(res))


def load(path) -> dict:
    """A sweep.json as a dict; `ReportError` naming the file when it is missing, not JSON, or not a sweep report."""
    p = Path(path)
    try:
        res = json.loads(p.read_text())
    except FileNotFoundError:
        raise ReportError(f"no sweep report at {str(p)!r}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{str(p)!r} is not a readable JSON file: {exc}") from None
    if not isinstance(res, dict) or not isinstance(res.get("runs"), list) or not isinstance(res.get("targets"), list):
        raise ReportError(f"{str(p)!r} is not a sweep report (no 'runs' and 'targets' lists)")
    for i, r in enumerate(res["runs"]):
        if not isinstance(r, dict) or not {"target", "seed", "counts", "examples", "failures"} <= set(r):
            raise ReportError(f"{str(p)!r}: run {i} is not a sweep row (target, seed, counts, examples, failures)")
    return res
