"""cuDNN's float32 LSTM (torch.nn.LSTM on CUDA, TF32 off) computes its gate activations less accurately than
IEEE-faithful tanh/sigmoid: with all weights 0 (no products, so TF32 plays no part) the cell state
c' = sigmoid(b_i) tanh(b_g) is several float32 ulps off the exact value.

Math: c' rounded from correctly rounded activations is within ~1.3 ulps of the exact value here, torch's CPU
float32 LSTM within ~2.3, and the float32 error model assumes activations within 4 ulps. Recorded on an H200
(torch 2.11.0+cu130, cuDNN 91900): c' 7.03 ulps, h' 6.7 ulps (reports/gpu/gpu.md). Needs torch with CUDA and
NumPy. Exit 0 while the cuDNN c' error exceeds 4 float32 ulps, 3 with "FIXED: ..." otherwise.
"""
import sys

import numpy as np
import torch

if not torch.cuda.is_available():
    print("SKIP: needs a CUDA GPU")
    sys.exit(2)
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
rng = np.random.default_rng(11)
n, B = 512, 64
b = rng.uniform(-8, 8, 4 * n).astype(np.float32)
mod = torch.nn.LSTM(1, n).cuda()
with torch.no_grad():
    mod.weight_ih_l0.zero_()
    mod.weight_hh_l0.zero_()
    mod.bias_ih_l0.copy_(torch.tensor(b))
    mod.bias_hh_l0.zero_()
    zeros = torch.zeros(1, B, n, device="cuda")
    _, (h, c) = mod(torch.zeros(1, B, 1, device="cuda"), (zeros, zeros))


def sig(v):
    return 0.5 * (1 + np.tanh(0.5 * v))


def ulps(got, want):
    got = got[0].detach().cpu().numpy().astype(np.float64)
    return float(np.max(np.abs(got - want) / np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)))


i, _, g, o = (b.astype(np.float64)[k * n:(k + 1) * n] for k in range(4))
c_want = sig(i) * np.tanh(g)
c_ulps, h_ulps = ulps(c, c_want), ulps(h, sig(o) * np.tanh(c_want))
if c_ulps > 4:
    print(f"torch {torch.__version__} cuDNN {torch.backends.cudnn.version()} float32 LSTM, zero weights: "
          f"c' {c_ulps:.3g} ulps, h' {h_ulps:.3g} ulps off the exact value (> 4)")
    sys.exit(0)
print(f"FIXED: torch {torch.__version__} cuDNN {torch.backends.cudnn.version()} float32 LSTM, zero weights: "
      f"c' {c_ulps:.3g} ulps, h' {h_ulps:.3g} ulps (<= 4)")
sys.exit(3)
