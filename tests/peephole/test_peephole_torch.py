"""The torch reference of the peephole LSTM cell: against the oracle, and the properties pass on it."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from dlproof.derivations import oracle_peephole as O  # noqa: E402
from dlproof.impl.torch_ref import lstm as TL  # noqa: E402
from dlproof.impl.torch_ref import peephole as TP  # noqa: E402

from peephole.test_peephole import cell_problem, cell_target, properties_pass  # noqa: E402


def test_torch_matches_the_oracle():
    x, h, c, p = cell_problem(n=4, m=3)
    for a, b in zip(TP.lstm_peephole_cell(x, h, c, p), O.lstm_peephole_cell(x, h, c, p)):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_properties_pass(dtype, tmp_path):
    properties_pass(cell_target(f"torch-peephole.{dtype}", dtype, TP.lstm_peephole_cell, TL.lstm_cell), tmp_path)
