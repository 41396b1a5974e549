"""torch.nn's float32 modules run under ``torch.autocast("cpu", dtype=torch.bfloat16)``, as a bfloat16 target.

Every capability of `torch_nn.target("float32")` (fresh float32 torch.nn modules, the same weight map and
layouts) runs inside the autocast region. The target's dtype is "bfloat16": its inputs arrive as bfloat16
arrays (ml_dtypes, exactly representable), are handed to the float32 modules as float32 (exact: every bfloat16
number is a float32 one), and every floating output is returned as a bfloat16 array (one correct rounding of
what the module gave; `startup.cast_capabilities`). This is how mixed-precision training runs a float32 model:
float32 parameters, bfloat16 matmuls.

What autocast computes in bfloat16 on the CPU (measured with torch 2.13.0, modules of size 40 -> 30 on
bfloat16-representable inputs, comparing the autocast output with the same module converted to bfloat16 and
with the float32 module):

- lowered to bfloat16 (bfloat16 outputs): ``nn.Linear``, ``matmul``, ``nn.Conv1d``,
  ``F.scaled_dot_product_attention``, ``nn.MultiheadAttention``, and the whole ``nn.RNN``, ``nn.LSTM`` and
  ``nn.RNNCell``: the outputs of nn.Linear, nn.RNN, nn.LSTM and nn.RNNCell equal, bit for bit, those of the
  module converted to bfloat16;
- left in float32: elementwise ops and activations (``tanh``, ``sigmoid``, ``softmax``), ``layer_norm``,
  ``batch_norm``; ``nn.GRU``, ``nn.GRUCell`` and ``nn.LSTMCell`` are composites whose ``linear`` pre-activations
  are bfloat16 while their gate arithmetic and states are float32 (float32 outputs, between the float32 module
  and the bfloat16 one: max |autocast - float32| 3.3e-3, |bfloat16 module - float32| 5.5e-3 for nn.GRU).

So every dot product is rounded to bfloat16 at its end, and accumulated in float32: torch's CPU bfloat16
matmul sums ``[256, 1, ..., 1]`` (511 ones) to 768 = fl_bf16(767), where a bfloat16 accumulator stays at 256
(tests/adapters/test_torch16.py measures it through this target's own capabilities). Declared:
accumulate="float32". Elementwise work is charged at bfloat16's u by the error model, which covers the float32
elementwise work autocast does. activation_ulps keeps the default (tanh/sigmoid run in float32, then rounded).

Found (reports/findings/torch-bfloat16-conv-weight-grad-padding): the bfloat16 CPU (oneDNN) backward of
nn.Conv1d / nn.Conv2d, asked for the input and the weight gradients, leaves the weight gradient of a kernel tap
that only reads padding uninitialised (e.g. -3.05e25 where 0 is exact), from run to run: conv1d.vjp and
conv2d.vjp fail on such examples, here and on `torch_nn.target("bfloat16")`.

Left out on every CPU (reports/findings/torch-autocast-bfloat16-lstm-no-onednn-primitive): under CPU bfloat16
autocast nn.LSTM hands the sequence to oneDNN's bfloat16 LSTM, which x86-64 CPUs without AVX-512 lack (the call
raises there, and runs on AVX-512 CPUs). A built-in's verdicts must not depend on the machine, so the
capabilities that run nn.LSTM (`LEFT_OUT`) are None everywhere; nn.LSTMCell (lstm_cell, lstm_proj_cell) is checked.

Conventions are torch.nn's (`torch_nn.conventions`) plus accumulate. dtype must be "bfloat16" (ValueError
otherwise: torch's CPU autocast float16 is not offered here). torch is imported lazily (ImportError with the
install hint).
"""
from __future__ import annotations

from dlproof.target import Target

from . import startup, torch_nn

DTYPES = ("bfloat16",)
#: measured (module doc): a bfloat16 dot product under CPU autocast is accumulated in float32
ACCUMULATE = "float32"
#: capability -> the finding (reports/findings/<slug>) why this target leaves it out: the ones that run nn.LSTM
LEFT_OUT = dict.fromkeys(("lstm", "lstm_vjp", "lstm_bi", "lstm_bi_vjp", "lstm_stack", "lstm_stack_vjp"),
                         "torch-autocast-bfloat16-lstm-no-onednn-primitive")


def target(dtype: str = "bfloat16") -> Target:
    """torch.nn float32 modules under torch.autocast("cpu", dtype=torch.bfloat16): a bfloat16 target,
    accumulate="float32", without the nn.LSTM capabilities (`LEFT_OUT`; module doc)."""
    if dtype not in DTYPES:
        raise ValueError(f"torch_autocast.target: argument 'dtype' should be one of {DTYPES}, got {dtype!r}")
    torch = startup.torch()
    inner = torch_nn.target("float32")
    caps = startup.cast_capabilities({c: getattr(inner, c) for c in inner.capabilities}, dtype, "float32",
                                     context=lambda: torch.autocast("cpu", dtype=getattr(torch, dtype)))
    # autocast runs the convolutions in bfloat16: the same torch bugs as torch.nn.bfloat16, and its own LEFT_OUT
    caps, left_out = torch_nn.without(caps, {**torch_nn.BROKEN_AT[dtype], **LEFT_OUT})
    return Target(name=f"torch.nn under torch.autocast('cpu', {dtype}) (torch {startup.torch_version()})",
                  dtype=dtype, conventions={**torch_nn.conventions(), "accumulate": ACCUMULATE, **left_out}, **caps)
