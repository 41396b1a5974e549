"""The conformance suite: every registered property on every selected target.

Run it on your own implementation with ``pytest --pyargs dlproof.properties --target module:attr``. A failure is
reported in one short paragraph (the row's message, the part and likely bug when known, the repro command),
without dlproof's source in a traceback; the rows are the ones `dlproof conform` writes.
"""
import pytest


def test_property(dlproof_target_spec, dlproof_property, dlproof_run):
    row = dlproof_run()
    if row["verdict"] != "pass":
        lines = [f"{row['verdict']}: {row['message']}"]
        lines += [f"{k.replace('_', ' ')}: {row[k]}" for k in ("part", "likely_bug") if row.get(k)]
        if row.get("repro"):
            lines.append(f"repro: {row['repro']['command']}")
        pytest.fail("\n".join(lines), pytrace=False)
