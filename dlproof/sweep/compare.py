"""Exact comparison of two sweep reports: per (target, seed), the verdict counts, the example count and the
failures (property, profile, verdict, message; the repro command holds a path and is left out).

Two engines (the process pool and Dask) or two machines agree when `compare` returns no difference.
"""
from __future__ import annotations


def _failures(r: dict) -> list:
    return sorted((f["property"], f["profile"], f["verdict"], f["message"]) for f in r["failures"])


def compare(a: dict, b: dict, common_only: bool = False) -> list:
    """Differences between sweep reports ``a`` and ``b`` (dicts from `report.load`), as readable lines; [] when
    every (target, seed) of either has the same counts, examples and failures in the other. With
    ``common_only``, pairs present in one report only are not differences (comparing a subset)."""
    for name, res in (("a", a), ("b", b)):
        if not isinstance(res, dict) or not isinstance(res.get("runs"), list):
            raise ValueError(f"compare: report {name} is not a sweep report (a dict with a 'runs' list)")
    ra = {(r["target"], r["seed"]): r for r in a["runs"]}
    rb = {(r["target"], r["seed"]): r for r in b["runs"]}
    out = []
    if not common_only:
        out += [f"{t} seed {s}: only in the first report" for t, s in sorted(set(ra) - set(rb))]
        out += [f"{t} seed {s}: only in the second report" for t, s in sorted(set(rb) - set(ra))]
    common = sorted(set(ra) & set(rb))
    if common_only and not common:
        out.append("the reports have no (target, seed) pair in common")
    for key in common:
        x, y = ra[key], rb[key]
        where = f"{key[0]} seed {key[1]}"
        cx = {k: v for k, v in x["counts"].items() if v}
        cy = {k: v for k, v in y["counts"].items() if v}
        if cx != cy:
            out.append(f"{where}: verdict counts {cx} != {cy}")
        if x["examples"] != y["examples"]:
            out.append(f"{where}: examples {x['examples']} != {y['examples']}")
        fx, fy = _failures(x), _failures(y)
        if fx != fy:
            out.append(f"{where}: failures {fx} != {fy}")
    return out
