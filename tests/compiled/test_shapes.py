"""Bounded shapes (dlproof/properties/shapes.py): a non-opting target draws exactly as before; an opting one sees at
most K shape tuples per property, shared by properties with the same size ranges."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlproof.properties import shapes, strategies

N = 20  # examples per draw run: far more than K, so a run that ignored the bound would show it


def _draws(strategy, n=N) -> list:
    """The examples a derandomized (fixed-seed) Hypothesis run draws from ``strategy``: their sizes and a
    fingerprint of every array."""
    out = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(problem=strategy)
    def run(problem):
        out.append((tuple(problem.scalars[k] for k in ("n", "m", "B", "T")),
                    {k: a.tobytes() for k, a in problem.arrays.items()}))

    run()
    return out


def _prop(kind="lstm", **kw):
    return SimpleNamespace(id=f"{kind}.test", strategy=lambda t: strategies.gated_problems(kind, dtype=t.dtype, **kw))


def _target(**conventions):
    return SimpleNamespace(dtype="float64", conventions=conventions)


def test_a_free_target_draws_exactly_what_the_hook_free_strategies_draw(monkeypatch):
    prop = _prop()
    hooked = _draws(shapes.strategy(prop, _target(), seed_value=7))
    with monkeypatch.context() as m:  # the setting off: sizes straight from st.integers, no hook at all
        m.setattr(strategies, "_ints", lambda lo, hi: st.integers(lo, hi))
        plain = _draws(prop.strategy(_target()))
    assert hooked == plain
    assert len({s for s, _ in plain}) > 4  # the free draws do reach many shapes (so the bound below is a change)


def test_an_opting_target_draws_at_most_k_shape_tuples_and_properties_with_equal_ranges_share_them():
    k = 3
    target = _target(shapes=k)
    lstm = {s for s, _ in _draws(shapes.strategy(_prop("lstm"), target))}
    gru = {s for s, _ in _draws(shapes.strategy(_prop("gru"), target))}
    assert len(lstm) <= k and len(lstm | gru) <= k  # equal ranges: one table of K tuples for both properties
    # the fixed slots: every size at its minimum, and every size at its maximum (n != m there: max_n > max_m)
    assert {(1, 1, 1, 1), (4, 3, 3, 4)} <= lstm | gru


def test_the_slots_sizes():
    assert shapes.slot_size(0, 2, 1, 5) == 1 and shapes.slot_size(1, 2, 1, 5) == 5
    seeded = [shapes.slot_size(s, p, 1, 9, salt) for s in range(2, 6) for p in range(4) for salt in range(3)]
    assert all(1 <= v <= 9 for v in seeded) and len(set(seeded)) > 3
    # the seeded slots depend on the run's seed (a sweep reaches other sizes), the fixed ones do not
    assert [shapes.slot_size(2, p, 1, 9, 0) for p in range(8)] != [shapes.slot_size(2, p, 1, 9, 1) for p in range(8)]
    assert shapes.slot_size(3, 1, 4, 4, 5) == 4


def test_budget_reads_the_convention():
    assert shapes.budget(_target()) is None
    assert shapes.budget(_target(shapes="free")) is None
    assert shapes.budget(_target(shapes="bounded")) == shapes.DEFAULT_BUDGET
    assert shapes.budget(_target(shapes=2)) == 2


@pytest.mark.parametrize("bad", [0, 1, -1, True, 2.0, "tight", None])
def test_bad_budgets_are_refused(bad):
    with pytest.raises(ValueError, match="shapes"):
        shapes.budget(_target(shapes=bad))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="argument 'k'"):
        shapes.bounded(st.just(0), 1)
    with pytest.raises(ValueError, match="argument 'salt'"):
        shapes.bounded(st.just(0), 2, salt=-1)
    with pytest.raises(ValueError, match="lo <= hi"):
        shapes.slot_size(2, 0, 5, 1)
    with pytest.raises(ValueError, match="argument 'slot'"):
        shapes.slot_size(np.float64(1.0), 0, 1, 2)
    with pytest.raises(ValueError, match="expected a Target"):
        shapes.budget(object())
