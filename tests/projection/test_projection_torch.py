"""The projected LSTM cell on torch: the torch reference and a REAL nn.LSTM(proj_size=P) against the oracle, the
parameter count of real modules against the derived formula, and the properties on both targets."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from dlproof.derivations import oracle_projection as O  # noqa: E402
from dlproof.derivations import records as cached_records  # noqa: E402
from dlproof.derivations.projection import SM, SN, SP, param_count_expr  # noqa: E402
from dlproof.impl.adapters import torch_nn_projection as TN  # noqa: E402
from dlproof.impl.torch_ref import lstm as TL  # noqa: E402
from dlproof.impl.torch_ref import projection as TP  # noqa: E402

from projection.test_projection import PROPS, RESTRICTED, cell_problem, cell_target, properties_pass  # noqa: E402


@pytest.mark.parametrize("n, m, P", [(1, 1, 1), (3, 2, 3), (4, 3, 2)])
def test_torch_reference_matches_the_oracle(n, m, P):
    x, h, c, p = cell_problem(n, m, P)
    for a, b in zip(TP.lstm_proj_cell(x, h, c, p), O.lstm_proj_cell(x, h, c, p)):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("n, m, P", [(2, 1, 1), (4, 3, 2), (5, 2, 4)])
def test_real_nn_lstm_with_proj_size_matches_the_oracle(n, m, P):
    x, h, c, p = cell_problem(n, m, P)
    before = {k: v.copy() for k, v in p.items()}
    out = TN.lstm_proj_cell(x, h, c, p)
    for a, b in zip(out, O.lstm_proj_cell(x, h, c, p)):
        assert a.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)
    assert all(np.array_equal(before[k], p[k]) for k in p)
    out32 = TN.lstm_proj_cell(*(a.astype(np.float32) for a in (x, h, c)), {k: v.astype(np.float32) for k, v in p.items()},
                              dtype="float32")
    assert all(a.dtype == np.float32 for a in out32)


def test_nn_lstm_refuses_p_equal_n():
    x, h, c, p = cell_problem(3, 2, 3)
    with pytest.raises(ValueError, match=r"proj_size < hidden_size.*P = W_proj.shape\[0\] = 3"):
        TN.lstm_proj_cell(x, h, c, p)
    with pytest.raises(ValueError, match="proj_size < hidden_size"):
        TN.param_count(3, 2, 3)
    with pytest.raises(ValueError, match="'m' should be an integer >= 1"):
        TN.param_count(3, 0, 1)


def test_param_count_of_real_modules_is_the_derived_formula():
    """sum(p.numel()) of nn.LSTM(m, n, proj_size=P) = the polynomial whose identity proj.param_count proves
    (evaluated from derivations/projection.py, not retyped), for several (n, m, P)."""
    assert cached_records()["proj.param_count"]["status"] == "proved"
    formula = param_count_expr(two_biases=True)
    for n, m, P in [(2, 1, 1), (3, 5, 2), (8, 3, 1), (10, 4, 7), (16, 16, 15)]:
        assert TN.param_count(n, m, P) == int(formula.subs({SN: n, SM: m, SP: P})), (n, m, P)


@pytest.mark.slow  # the torch reference is compared with the oracle directly above (fast)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_properties_pass_on_the_torch_reference(dtype, tmp_path):
    properties_pass(cell_target(f"torch-proj.{dtype}", dtype, TP.lstm_proj_cell, TL.lstm_cell), tmp_path,
                    PROPS if dtype == "float64" else PROPS[:2])


@pytest.mark.parametrize("dtype", ["float32", pytest.param("float64", marks=pytest.mark.slow)])
def test_forward_property_passes_on_real_nn_lstm(dtype, tmp_path):
    caps = TN.capabilities(dtype)
    target = cell_target(f"torch.nn-proj.{dtype}", dtype, caps["lstm_proj_cell"], conventions=RESTRICTED)
    properties_pass(target, tmp_path, props=("proj.cell.forward",) + (("proj.cell.jacobian",) if dtype == "float64" else ()))
