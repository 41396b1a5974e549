"""A jit-per-call flax target (tests/targets/jax_jit_cell.py) declaring ``shapes="bounded"`` passes its recurrent
properties and compiles at most K shapes per property and jitted capability (slow: it compiles with XLA)."""
from __future__ import annotations

import pytest

pytest.importorskip("jax", reason="needs jax and flax: pip install 'dlproof[jax]'")
pytest.importorskip("flax", reason="needs jax and flax: pip install 'dlproof[jax]'")

from dlproof.properties import harness, shapes  # noqa: E402
from dlproof.properties.registry import all_properties  # noqa: E402
from dlproof.target import CONVENTION_VALUES  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shapes.CONVENTION not in CONVENTION_VALUES,
                                                   reason="the 'shapes' convention is not declared in dlproof.target")]
#: properties whose strategies draw every size through the hook (strategies._ints)
CHAPTERS = ("lstm.", "gru.", "extremes.lstm_cell", "extremes.gru_cell")


def test_the_bounded_jit_per_call_target_passes_and_compiles_at_most_k_shapes_per_capability():
    from jax_jit_cell import bounded_target  # tests/targets is on sys.path (conftest.py)

    target = bounded_target()
    k = shapes.budget(target)
    props = [p for pid, p in all_properties().items() if pid.startswith(CHAPTERS) and p.checks(target)]
    assert len(props) >= 10
    for p in props:
        row = harness.run(p, target, "jax_jit_cell:bounded_target", profile="dev", seed_value=3,
                          raises=False)
        assert row["verdict"] == "pass", (p.id, row["message"])
        # each capability is one jitted function per cell size: at most K shapes, so at most K compiles
        assert row["compiles"]["jax"]["compiles"] <= k * len(p.capabilities), (p.id, row["compiles"])
