"""optax.clip_by_global_norm(0.0) turns zero gradients into NaN.

Math: ||g|| = 0 <= c = 0, so g' = g = 0. optax selects the clip branch on the strict ||g|| < c and computes
(g / ||g||) c = (0 / 0) 0 = NaN (google-deepmind/optax#1752). Needs optax (jax) and NumPy. Exit 0 while present,
3 with "FIXED: ..." once the zeros come back.
"""
import os
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import numpy as np  # noqa: E402

import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

clip = optax.clip_by_global_norm(0.0)
grads = {"w": jnp.zeros(3, jnp.float32)}
out, _ = clip.update(grads, clip.init(grads))
w = np.asarray(out["w"], dtype=np.float64)
if np.isnan(w).any():
    print(f"optax {optax.__version__} clip_by_global_norm(0.0) on zero gradients -> {w.tolist()} (exact [0, 0, 0])")
    sys.exit(0)
print(f"FIXED: optax {optax.__version__} clip_by_global_norm(0.0) returns {w.tolist()}")
sys.exit(3)
