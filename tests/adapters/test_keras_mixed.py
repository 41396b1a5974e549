"""Keras mixed precision ("mixed_bfloat16", torch backend) as a bfloat16 target: outputs of the compute dtype,
values against the float64 oracle, the measured float32 accumulation, and a user's mixed layer."""
from __future__ import annotations

import numpy as np
import pytest

from keras_or_skip import keras3

keras = keras3()

from adapters.test_torch16 import RECURRENT, f64, gru_inputs, long_dot, probe  # noqa: E402

from dlproof.derivations import oracle_gru, oracle_lstm  # noqa: E402
from dlproof.dtypes import fmt  # noqa: E402
from dlproof.impl.adapters import keras3 as K, keras3_mixed  # noqa: E402
from dlproof.loader import load_target  # noqa: E402
from dlproof.parameters import PARAMS  # noqa: E402

L = keras.layers
BF16 = fmt("bfloat16")


@pytest.fixture(scope="module")
def target():
    return load_target("keras.mixed_bfloat16")


def test_mixed_target_is_bfloat16_and_accumulates_in_float32(target):
    assert target.dtype == "bfloat16" and target.accumulation() == "float32"
    _, exact = long_dot("bfloat16")
    for cap in RECURRENT:
        # float32 accumulation gives tanh(1/4) up to a few bfloat16 ulps; a bfloat16 accumulator gives tanh(0) = 0
        assert abs(probe(target, cap, "bfloat16") - np.tanh(exact)) <= 4 * BF16.u, cap


def test_mixed_gru_and_lstm_agree_with_the_oracle(target):
    xs, h0, p = gru_inputs("bfloat16")
    hs, hT = target.gru(xs, h0, p)
    assert hs.dtype == hT.dtype == BF16.dtype
    assert np.max(np.abs(hT.astype(np.float64) - oracle_gru.gru_forward(*f64((xs, h0, p)))[1])) < 16 * BF16.u
    rng = np.random.default_rng(1)
    n, m = 4, 3
    pl = {k: (0.5 * rng.standard_normal((n, m) if k.startswith("W_x") else (n, n) if k.startswith("W_h") else (n,)))
          .astype(BF16.dtype) for k in PARAMS["lstm"]}
    c0 = rng.standard_normal((2, n)).astype(BF16.dtype)
    _, (h, c) = target.lstm(xs, h0, c0, pl)
    _, (h64, c64) = oracle_lstm.lstm_forward(*f64((xs, h0, c0, pl)))
    assert h.dtype == c.dtype == BF16.dtype
    assert max(np.max(np.abs(h.astype(np.float64) - h64)), np.max(np.abs(c.astype(np.float64) - c64))) < 16 * BF16.u


def test_a_users_mixed_layer_is_a_bfloat16_target_like_the_builtin(target):
    t = K.from_layer(L.GRU(4, dtype="mixed_bfloat16", return_sequences=True, return_state=True))
    assert t.dtype == "bfloat16" and t.accumulation() == "float32"
    xs, h0, p = gru_inputs("bfloat16")
    ours, builtin = t.gru(xs, h0, p), target.gru(xs, h0, p)
    assert ours[0].dtype == BF16.dtype
    np.testing.assert_array_equal(ours[0], builtin[0])  # the same Keras computation, bit for bit


def test_non_mixed_16_bit_policies_and_other_dtypes_are_refused():
    with pytest.raises(ValueError, match="dtype policy 'float16' is not supported"):
        K.from_layer(L.GRU(2, dtype="float16", return_sequences=True, return_state=True))
    with pytest.raises(ValueError, match=r"keras3_mixed.target: argument 'dtype' should be one of"):
        keras3_mixed.target("float32")
