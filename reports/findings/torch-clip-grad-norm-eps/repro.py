"""torch.nn.utils.clip_grad_norm_ scales by min(1, c / (||g|| + 1e-6)), applied always (clip_eps = 1e-6).

Math (the clipping rule): g' = g min(1, c / ||g||): unchanged when ||g|| <= c, norm exactly c otherwise, and
clipping twice changes nothing. With the 1e-6: at ||g|| = c the gradient is still scaled, a second clip changes
it again, and for ||g|| << 1e-6 the scale c / (||g|| + 1e-6) is far below c / ||g||. Needs torch and NumPy.
Exit 0 while present, 3 with "FIXED: ..." once the rule is the exact one.
"""
import sys

import numpy as np
import torch


def clip(g, c):
    p = torch.nn.Parameter(torch.zeros(len(g), dtype=torch.float64))
    p.grad = torch.tensor(g, dtype=torch.float64)
    torch.nn.utils.clip_grad_norm_([p], c)
    return p.grad.numpy().copy()


at_c = clip([3.0, 4.0], 5.0)                  # ||g|| = c: exact g' = g = (3, 4)
once = clip([3.0, 4.0], 1.0)                  # exact (0.6, 0.8), norm 1
twice = clip(list(once), 1.0)                 # exact: the same again
small = clip([3e-8, 4e-8], 1e-9)              # ||g|| = 5e-8 > c: exact norm 1e-9
norm_small = float(np.linalg.norm(small))
if not np.array_equal(at_c, [3.0, 4.0]) or norm_small < 0.5e-9:
    print(f"torch {torch.__version__} clip_grad_norm_ (float64): ||g|| = c = 5 -> {at_c.tolist()} (exact [3, 4]); "
          f"second clip moves g by {np.max(np.abs(twice - once)):.2g}; ||g|| = 5e-8, c = 1e-9 -> norm "
          f"{norm_small:.3g} (exact 1e-9, {1e-9 / norm_small:.0f}x too small)")
    sys.exit(0)
print(f"FIXED: torch {torch.__version__} clip_grad_norm_ follows min(1, c/||g||) without eps")
sys.exit(3)
