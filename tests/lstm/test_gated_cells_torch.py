"""The LSTM, GRU and bidirectional torch references against the same independent loops and finite differences as
the NumPy ones (test_gated_cells.py, whose checks run here on the torch modules)."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dlproof.impl.numpy_ref.rnn import param_count  # noqa: E402
from dlproof.impl.targets import torch_target  # noqa: E402
from dlproof.impl.torch_ref import bidirectional, gru, lstm  # noqa: E402

from lstm.test_gated_cells import (  # noqa: E402
    N, VARIANTS, check_bad_calls, check_bidirectional, check_empty_sequence, check_float32, check_forward, check_gru_vjp,
    check_lstm_vjp, check_no_mutation, gru_loop, gru_problem, lstm_loop, lstm_problem)


@pytest.fixture(scope="module")
def tmods():
    return lstm, gru, bidirectional


def test_torch_forward_matches_column_vector_loop(tmods):
    check_forward(tmods[0], tmods[1])


def test_torch_lstm_vjp_matches_central_differences(tmods):
    check_lstm_vjp(tmods[0].lstm_vjp)


@pytest.mark.parametrize("variant", VARIANTS)
def test_torch_gru_vjp_matches_central_differences(tmods, variant):
    check_gru_vjp(tmods[1].gru_vjp, variant)


def test_torch_bidirectional_layout(tmods):
    check_bidirectional(tmods[2])


def test_torch_float32_no_mutation_bad_calls_empty(tmods):
    check_float32(*tmods)
    check_no_mutation(*tmods)
    check_bad_calls(*tmods)
    check_empty_sequence(tmods[0], tmods[1])


def test_param_counts_agree_with_torch_nn_modules():
    def count(mod):
        return sum(int(q.numel()) for q in mod.parameters())

    n, m = 5, 3
    # torch.nn keeps two bias vectors per gate; ours keep one (plus b_hn for the reset_after GRU)
    assert count(torch.nn.LSTM(m, n)) - 4 * n == param_count("lstm", n, m)
    assert count(torch.nn.GRU(m, n)) - 2 * n == param_count("gru", n, m, variant="reset_after")
    assert count(torch.nn.RNN(m, n)) - n == param_count("rnn", n, m)


def test_torch_target_provides_lstm_gru_bi(tmods):
    t = torch_target("float64", gru="reset_before")
    assert t.convention("gru") == "reset_before" and "reset_before" in t.name
    assert t.param_count("gru", 3, 2) == 54
    gd, gp = gru_problem(10)
    np.testing.assert_allclose(t.gru(gd["xs"], gd["h0"], gp)[0], gru_loop(gd["xs"], gd["h0"], gp, "reset_before"),
                               rtol=1e-13, atol=1e-15)
    d, p = lstm_problem(10)
    ys, (h_f, _), _ = t.lstm_bi(d["xs"], (d["h0"], d["c0"]), (d["h0"], d["c0"]), p, p)
    np.testing.assert_allclose(ys[:, :, :N], lstm_loop(d["xs"], d["h0"], d["c0"], p)[0], rtol=1e-13, atol=1e-15)
