"""benchmarks/symbolic_scaling.py: a tiny measurement has the right structure and proves; the committed report is sound.

No timing assertions: the figures depend on the machine and its load.
"""
import json
import math
from pathlib import Path

import pytest

from dlproof.derivations.cache import import_file
from dlproof.derivations.prove import PROVED

ROOT = Path(__file__).resolve().parents[2]
ss = import_file("symbolic_scaling", ROOT / "benchmarks" / "symbolic_scaling.py")
REPORT = ROOT / "reports" / "symbolic-scaling.json"
CELL = "rnn.cell.jacobian_h"


@pytest.fixture(scope="module")
def tiny():
    return ss.measure(20.0, cells=(CELL,), ns=(1, 2), bptt_part=False)


@pytest.mark.symbolic
def test_tiny_measurement_structure_and_proofs(tiny):
    assert {"schema", "measured_on", "versions", "machine", "settings", "cells", "run"} <= set(tiny)
    assert set(tiny["versions"]) == {"python", "sympy"}
    assert len(tiny["machine"]["loadavg_start"]) == 3 and len(tiny["machine"]["loadavg_end"]) == 3
    series = tiny["cells"][CELL]
    assert [p["n"] for p in series["points"]] == [1, 2]
    for p in series["points"]:
        assert p["status"] == PROVED, p
        assert p["obligations"] and all(o["status"] == PROVED for o in p["obligations"])
        assert p["shape"] == [p["n"], p["n"]] and p["ops"] > 0
        for key in ("derive_s", "prove_s", "total_s"):
            assert p[key] >= 0
        assert set(p["phases_cpu_s"]) == {"build", "jacobian", "compact", "prove"}
    assert series["points"][1]["ops"] > series["points"][0]["ops"]
    assert series["fit"]["n"] == [1, 2] and series["fit"]["ops"] is not None
    lines = ss.render(tiny)
    assert lines[0].startswith("# ") and any(line.startswith(f"### `{CELL}`") for line in lines)


def test_fit_exponent_recovers_a_power_law():
    assert ss.fit_exponent([2, 4, 8, 16], [3 * n ** 2.5 for n in (2, 4, 8, 16)]) == pytest.approx(2.5, abs=0.01)
    assert ss.fit_exponent([4], [1.0]) is None


def test_committed_report_has_the_expected_keys_and_exponents():
    r = json.loads(REPORT.read_text(encoding="utf-8"))
    assert {"schema", "measured_on", "versions", "machine", "settings", "bptt", "cells", "run"} <= set(r)
    assert set(r["versions"]) == {"python", "sympy"} and r["machine"]["cpu_model"]
    assert set(r["cells"]) == set(ss.CELLS)
    for cid, series in r["cells"].items():
        assert series["points"], cid
        assert all(p["status"] == PROVED for p in series["points"]), cid
        k = series["fit"]["total"]
        assert k is not None and math.isfinite(k) and k > 0, (cid, k)
        assert len(series["fit"]["n"]) >= ss.FIT_MIN, cid
    b = r["bptt"]
    assert b["mirror_matches_registry"] is True
    steps = [s for s in b["induction_steps"] if s["registered"]]
    assert {s["derivation"] for s in steps} == {"rnn.bptt.jacobian_product", "lstm.state.chain"}
    assert all(s["status"] == PROVED for s in b["induction_steps"])
    assert all(w["status"] in ("proved", "refuted", "definition") for w in b["time_derivations"])
    # the only timestamp is the measurement date, and no absolute machine path is written
    text = REPORT.read_text(encoding="utf-8") + (ROOT / "reports" / "symbolic-scaling.md").read_text(encoding="utf-8")
    assert str(ROOT) not in text
