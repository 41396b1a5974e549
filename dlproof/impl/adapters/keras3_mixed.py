"""Keras 3 (torch backend) recurrent layers under a mixed dtype policy ("mixed_bfloat16"), as a 16-bit target.

The layers are `keras3`'s (SimpleRNN (tanh), LSTM, GRU(reset_after=True), Bidirectional over each, the cells
SimpleRNNCell / LSTMCell / GRUCell called directly), with the same weight map and layouts, built with
``dtype="mixed_bfloat16"``: variables in float32, computation in bfloat16. The target's dtype is the compute
dtype "bfloat16": its inputs arrive as bfloat16 arrays (ml_dtypes, exactly representable) and are handed over
as float32 (exact; Keras casts them to bfloat16, again exactly), the canonical parameters are assigned to the
float32 variables (exact), and every floating output is returned as a bfloat16 array
(`startup.cast_capabilities`). ``dtype="float16"`` builds the "mixed_float16" policy the same way.

Measured with keras 3.15.1 / torch 2.13.0 on the CPU:

- every output (sequences, final states, cell states) is a torch.bfloat16 tensor: the cells' gate arithmetic
  and activations run in bfloat16 (each op rounded to bfloat16);
- Keras' torch ``ops.matmul`` calls ``torch.matmul`` on the two bfloat16 operands (and casts float16 ones to
  float32 on the CPU, keras/src/backend/torch/numpy.py), and torch's CPU kernels accumulate bfloat16 products
  in float32: a long dot product ``[1, e x 128, -1] . 1`` (e = 2^-9) gives 0.25 through every cell and layer,
  where a bfloat16 accumulator gives 0 (tests/adapters/test_keras_mixed.py). Declared accumulate="float32".

Capabilities: the cells, sequences, VJPs and Bidirectional forms of the three kinds and param_count (Keras'
count_params of the mixed layer, the same as float32's). Not offered (left out, not faked): the stacks
(`keras3_stacked`) and LayerNormalization (`keras3_layernorm`), whose adapters take float32 / float64 only.
Conventions are `keras3.target`'s recurrent ones plus accumulate. `keras3.from_layer` accepts a user's layer
of a mixed policy in the same way.
"""
from __future__ import annotations

import numpy as np

from dlproof.parameters import KINDS
from dlproof.target import Target

from . import keras3, startup
from .keras3_layers import KERAS_VERSION, MIXED_POLICIES, _builtin_layer, _Config

#: policy name per target dtype
POLICIES = {dtype: policy for policy, dtype in MIXED_POLICIES.items()}
#: measured (module doc): Keras' bfloat16 matmul on torch's CPU kernels accumulates in float32
ACCUMULATE = "float32"


def _mixed_source(cfg: _Config, policy: str):
    """Layers of ``policy`` for the float32 arrays the adapter hands over (variables float32)."""
    def source(what, n, m, dt):
        if np.dtype(dt) != np.float32:  # pragma: no cover - the wrapper always gives float32
            raise ValueError(f"keras3_mixed: the {policy} layers take float32 arrays, got {np.dtype(dt).name}")
        return _builtin_layer(what, cfg, n, m, policy)
    return source


def target(dtype: str = "bfloat16") -> Target:
    """SimpleRNN (tanh), LSTM, GRU(reset_after=True), their cells and Bidirectional forms under the
    "mixed_<dtype>" policy: a ``dtype`` target, accumulate="float32" (module doc)."""
    if dtype not in POLICIES:
        raise ValueError(f"keras3_mixed.target: argument 'dtype' should be one of {tuple(POLICIES)}, got {dtype!r}")
    policy = POLICIES[dtype]
    ads = {k: keras3._Adapter(_Config(k), _mixed_source(_Config(k), policy)) for k in KINDS}
    caps = {}
    for ad in ads.values():
        caps.update(keras3._caps(ad))
    caps["param_count"] = keras3._param_count(ads)
    return Target(name=f"keras {KERAS_VERSION} (torch backend, {policy})", dtype=dtype,
                  conventions={"rnn_activation": "tanh", "gru": "reset_after",
                               "bias": {"rnn": "one", "lstm": "one", "gru": "two"}, "accumulate": ACCUMULATE},
                  **startup.cast_capabilities(caps, dtype, "float32"))
