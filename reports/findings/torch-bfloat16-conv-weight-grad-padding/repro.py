"""torch (CPU, oneDNN): a bfloat16 conv1d's weight gradient is garbage for a tap that only ever reads padding.

conv1d of x = [0.5] (one sample) with a 2-tap kernel, stride 2, padding 1: the one output reads [pad, x0], so
dL/dw = [0, 0.5] for L = sum(y) (the first tap multiplies the zero padding). Asking autograd for the input's
gradient as well as the weight's, torch's bfloat16 CPU kernel returns a first entry that is not 0: values from
uninitialised memory (1.0, -1.3e11, ...), different from run to run. float32 and float16 give 0; so does
bfloat16 with torch.backends.mkldnn disabled. Needs only torch and NumPy; exit 0 while the bug is present,
exit 3 ("FIXED: ...") once every run gives 0.

torch runs a bfloat16 CPU convolution through oneDNN only on CPUs with native bfloat16 support (AVX-512 BW, VL
and DQ, or AVX-NE-CONVERT: torch.ops.mkldnn._is_mkldnn_bf16_supported()); elsewhere its own kernel runs, and the script says so
and exits 4 ("NOT HERE: ...").
"""
import sys

import numpy as np
import torch

RUNS = 200


def first_tap_grads(dtype, runs=RUNS):
    out = []
    for _ in range(runs):
        x = torch.full((1, 1, 1), 0.5, dtype=dtype, requires_grad=True)
        w = torch.tensor([[[0.25, -0.75]]], dtype=dtype, requires_grad=True)
        y = torch.nn.functional.conv1d(x, w, stride=2, padding=1)
        gw, _ = torch.autograd.grad(y.sum(), [w, x])
        out.append(float(gw[0, 0, 0]))
    return np.array(out)


bf16 = first_tap_grads(torch.bfloat16)
if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
    print(f"NOT HERE: torch {torch.__version__} runs a bfloat16 CPU convolution through oneDNN only on CPUs with "
          f"AVX-512 BW, VL and DQ or AVX-NE-CONVERT, and this one has neither (torch's own kernel: nonzero in "
          f"{int((bf16 != 0).sum())} of {RUNS} runs)")
    sys.exit(4)
f32 = first_tap_grads(torch.float32, 20)
bad = bf16[bf16 != 0]
if f32.any():
    print(f"float32 itself gives a nonzero first-tap gradient {f32[f32 != 0][0]!r}: the setup is wrong")
    sys.exit(1)
if bad.size == 0:
    print(f"FIXED: torch {torch.__version__} bfloat16 conv1d weight gradient over padding is 0 in all {RUNS} runs")
    sys.exit(3)
print(f"torch {torch.__version__} bfloat16 conv1d (stride 2, padding 1) weight gradient over padding: nonzero in "
      f"{bad.size} of {RUNS} runs (exact 0; e.g. {bad[0]:.3g}, largest |.| {np.abs(bad).max():.3g}); float32: 0")
sys.exit(0)
