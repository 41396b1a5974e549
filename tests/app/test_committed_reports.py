"""Committed artifacts under reports/ are deterministic and fresh."""
from pathlib import Path

from dlproof.book.markdown import derivations_index
from dlproof.derivations import records

REPORTS = Path(__file__).resolve().parents[2] / "reports"


def test_derivations_index_is_fresh():
    committed = (REPORTS / "derivations-index.md").read_text(encoding="utf-8")
    assert committed == derivations_index(records()), (
        "reports/derivations-index.md is stale: run `dlproof derivations --markdown > reports/derivations-index.md`")


# ---- committed conformance summaries (reports/conformance) ----------------------------------------------
import json  # noqa: E402

import pytest  # noqa: E402

from dlproof import conformance  # noqa: E402
from dlproof.findings import known_failures  # noqa: E402
from dlproof.loader import BUILTINS, TargetLoadError, load_target  # noqa: E402
from dlproof.properties.registry import all_properties  # noqa: E402

SUMMARIES = sorted((REPORTS / "conformance").glob("*.json"))
#: spec -> the property ids a finding (reports/findings/) says it fails: the only fails a built-in's summary may show
KNOWN = known_failures(REPORTS / "findings")


def _load(spec):
    try:
        return load_target(spec)
    except TargetLoadError as exc:
        pytest.skip(f"{spec} is not available here: {exc}")


def test_every_available_builtin_has_a_summary():
    have = {json.loads(p.read_text(encoding="utf-8"))["target"] for p in SUMMARIES}
    for spec in BUILTINS:
        try:
            load_target(spec)
        except TargetLoadError:
            continue
        assert spec in have, f"reports/conformance has no summary of {spec}: run `dlproof summaries`"


@pytest.mark.parametrize("path", SUMMARIES, ids=[p.stem for p in SUMMARIES])
def test_summary_is_in_step_with_the_code(path):
    """Conventions, capabilities, deviations and the property list match the code; built-ins pass all they check,
    except the properties a finding lists for them (which must still fail: one that passes makes the finding stale)."""
    s = json.loads(path.read_text(encoding="utf-8"))
    target = _load(s["target"])
    d = target.describe()
    assert s["conventions"] == d["conventions"] and s["declared_conventions"] == d["declared_conventions"]
    assert s["capabilities"] == d["capabilities"]
    assert s["deviations"] == conformance.DEVIATIONS.get(s["target"], [])
    props = all_properties()
    assert set(s["properties"]) == set(props), "the property set changed: regenerate with `dlproof summaries`"
    for pid, row in s["properties"].items():
        runs = props[pid].checks(target)
        known = KNOWN.get(s["target"], set())
        assert row["verdict"] == (("fail" if pid in known else "pass") if runs else "not provided"), (pid, row)
    assert (path.with_suffix(".md")).read_text(encoding="utf-8") == conformance.markdown(s)


@pytest.mark.slow
@pytest.mark.parametrize("path", SUMMARIES, ids=[p.stem for p in SUMMARIES])
def test_summary_verdicts_reproduce(path, tmp_path):
    """Re-run the target in the ci profile: the same verdicts and example counts."""
    committed = json.loads(path.read_text(encoding="utf-8"))
    _load(committed["target"])
    fresh = conformance.run(committed["target"], tmp_path)
    assert fresh["properties"] == committed["properties"]
