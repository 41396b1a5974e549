"""The compile counter (dlproof/properties/compiles.py) counts jax.jit compilations exactly, per row and per run."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

jax = pytest.importorskip("jax", reason="counting jax.jit compiles needs jax: pip install 'dlproof[jax]'")

from dlproof.properties import compiles, results  # noqa: E402

PROP = SimpleNamespace(id="test.compiles", title="a jitted function on two shapes", derivations=())


def _two_shapes_and_a_repeat():
    """jax.jit of a fresh function called on 2 distinct shapes, then on the first again: 2 compiles."""
    f = jax.jit(lambda a: a * 2.0 + 1.0)
    for shape in ((2,), (2, 3), (2,)):
        f(np.ones(shape, np.float32)).block_until_ready()


def test_a_row_counts_the_jit_compiles_of_its_property():
    row = results.new_row(PROP, "spec", "name")
    _two_shapes_and_a_repeat()
    row["verdict"] = "pass"
    results.add(row)
    try:
        assert row["compiles"]["jax"]["compiles"] == 2
        assert row["compiles"]["jax"]["seconds"] >= 0
    finally:
        results.ROWS.remove(row)


def test_the_run_total_and_its_report_line():
    rows = [{"compiles": {"jax": {"compiles": 3, "seconds": 0.5}}},
            {"compiles": {"jax": {"compiles": 2, "seconds": 0.25}}}, {}]
    total = compiles.total(rows)
    assert total == {"jax": {"compiles": 5, "seconds": 0.75}}
    assert compiles.line(total).startswith("Compiles: jax.jit (XLA) 5 in 0.8 s")
    assert compiles.total([{}]) == {}
    prov = {"profile": "ci", "seed": None, "versions": {}, "tolerance_model": "m", "targets": {}}
    report = {"provenance": prov, "summary": {"pass": 2}, "results": [], "derivations": {}, "compiles": total}
    assert compiles.line(total) in results.markdown(report).splitlines()
    assert not any(x.startswith("Compiles:") for x in results.markdown(dict(report, compiles={})).splitlines())


def test_since_refuses_a_non_snapshot():
    with pytest.raises(ValueError, match="argument 'before'"):
        compiles.since([1, 2])
