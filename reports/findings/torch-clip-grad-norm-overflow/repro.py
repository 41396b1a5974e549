"""torch.nn.utils.clip_grad_norm_ forms the sum of squares in the gradient's dtype: once it overflows (float32
||g|| > ~1.8e19) the returned norm is inf and every gradient is scaled to 0; once every square underflows
(|g| < ~2.6e-23) the norm is wrong or 0.

Math: ||g|| = 5e19 is a finite float32; clipping to c = 1 gives g' = g / ||g|| = (0.6, 0.8). Needs torch and
NumPy. Exit 0 while present, 3 with "FIXED: ..." once the norm is formed without overflow.
"""
import sys

import numpy as np
import torch


def clip(g, c):
    p = torch.nn.Parameter(torch.zeros(len(g), dtype=torch.float32))
    p.grad = torch.tensor(g, dtype=torch.float32)
    n = torch.nn.utils.clip_grad_norm_([p], c)
    return p.grad.numpy().astype(np.float64), float(n)


g, n = clip([3e19, 4e19], 1.0)             # exact: N = 5e19, g' = (0.6, 0.8)
_, n_tiny = clip([3e-23, 4e-23], 1.0)      # exact: N = 5e-23
if not np.isfinite(n) or not np.allclose(g, [0.6, 0.8], rtol=1e-5) or abs(n_tiny - 5e-23) > 1e-3 * 5e-23:
    print(f"torch {torch.__version__} clip_grad_norm_ (float32): ||g|| = 5e19 -> N = {n}, g' = {g.tolist()} "
          f"(exact N = 5e19, g' = [0.6, 0.8]); ||g|| = 5e-23 -> N = {n_tiny:.3g}")
    sys.exit(0)
print(f"FIXED: torch {torch.__version__} clip_grad_norm_ returns N = {n:.3g}, g' = {g.tolist()}, N_tiny = {n_tiny:.3g}")
sys.exit(3)
