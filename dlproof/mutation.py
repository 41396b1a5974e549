"""The suite's power, measured: which properties kill a broken implementation (a mutant).

A mutant is a `Target` whose capabilities ``mutated`` differ from a correct implementation. `kill` runs every
property of the suite that calls one of them (the others cannot see the bug), in the given profile, and
records each failure: ``killed_by`` maps a property id to the first line of its failure message. A mutant
is killed when that mapping is non-empty. `matrix` does it for a catalog and `markdown` renders the table
(tests/mutants/test_mutation_suite.py runs the project's catalog, tests/mutants/).
"""
from __future__ import annotations

import tempfile
import time

from dlproof.properties import harness, results
from dlproof.properties.assertions import PropertyFailure, TargetRaised
from dlproof.properties.registry import all_properties


def relevant(target, mutated) -> list:
    """The properties that call a mutated capability and that the target provides and that apply to it."""
    return [p for p in all_properties().values()
            if set(p.capabilities) & set(mutated) and p.provided_by(target) and p.applies(target)]


def kill(target, mutated, spec: str, profile: str = "ci") -> dict:
    """{"killed_by": {property id: first message line}, "survived": [ids], "seconds": wall} for one mutant."""
    if not mutated:
        raise ValueError(f"kill: mutant {spec!r} names no mutated capability")
    unknown = [c for c in mutated if not target.provides(c)]
    if unknown:
        raise ValueError(f"kill: mutant {spec!r} does not provide its mutated capabilities {unknown}")
    saved = list(results.ROWS)
    killed, survived = {}, []
    t0 = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for prop in relevant(target, mutated):
                try:
                    harness.run(prop, target, spec, profile=profile, report_dir=tmp)
                    survived.append(prop.id)
                except (PropertyFailure, TargetRaised) as exc:
                    killed[prop.id] = (str(exc).strip().splitlines() or ["(no message)"])[0]
    finally:
        results.ROWS[:] = saved
    return {"killed_by": killed, "survived": survived, "seconds": round(time.perf_counter() - t0, 2)}


def matrix(catalog: dict, profile: str = "ci") -> dict:
    """name -> `kill` result plus "bug" and "mutated", for a catalog name -> object with .target, .mutated, .bug."""
    out = {}
    for name, m in catalog.items():
        out[name] = {"bug": m.bug, "mutated": list(m.mutated), **kill(m.target, m.mutated, f"mutant:{name}", profile)}
    return out


def kill_rate(mat: dict) -> float:
    return sum(1 for r in mat.values() if r["killed_by"]) / len(mat) if mat else 0.0


def markdown(mat: dict, equivalent: dict | None = None, equivalent_args: dict | None = None) -> str:
    """The kill matrix as Markdown: per mutant the bug, the mutated capabilities and the killing properties."""
    lines = ["# Mutation meta-suite: the suite's power", "",
             f"{len(mat)} mutants, kill rate {100 * kill_rate(mat):.0f} % (ci profile; a mutant is killed when a "
             "property that calls one of its mutated capabilities fails). Regenerate with "
             "`pytest -m mutation` (writes reports/latest/mutation.md).", "",
             "| mutant | bug | mutated | killed by | survived |", "|---|---|---|---|---|"]
    for name, r in mat.items():
        killers = ", ".join(f"`{k}`" for k in sorted(r["killed_by"])) or "**NOT KILLED**"
        lines.append(f"| `{name}` | {r['bug']} | {', '.join(r['mutated'])} | {killers} | "
                     f"{', '.join(sorted(r['survived'])) or '-'} |")
    if equivalent:
        lines += ["", "## Equivalent rewrites (the same model; they must survive)", "",
                  "| rewrite | why it is equivalent | verdict |", "|---|---|---|"]
        for name, r in equivalent.items():
            verdict = "survived" if not r["killed_by"] else "ACCUSED by " + ", ".join(sorted(r["killed_by"]))
            lines.append(f"| `{name}` ({r['bug']}) | {(equivalent_args or {}).get(name, '')} | {verdict} |")
    return "\n".join(lines) + "\n"
