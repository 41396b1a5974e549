"""optax.clip_by_global_norm forms the global norm from the sum of squares in the gradients' dtype: once it
overflows (float32 ||g|| > ~1.8e19) the norm is inf and (g / inf) c zeroes every gradient.

Math: ||g|| = 5e19 is a finite float32; clipping to c = 1 gives g' = g / ||g|| = (0.6, 0.8). Needs optax (jax)
and NumPy; runs on the CPU backend. Exit 0 while present, 3 with "FIXED: ..." once the norm is formed without
overflow.
"""
import os
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import numpy as np  # noqa: E402

import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

clip = optax.clip_by_global_norm(1.0)
grads = {"w": jnp.array([3e19, 4e19], jnp.float32)}
out, _ = clip.update(grads, clip.init(grads))
w = np.asarray(out["w"], dtype=np.float64)
if not np.allclose(w, [0.6, 0.8], rtol=1e-5):
    print(f"optax {optax.__version__} clip_by_global_norm(1.0) (float32): ||g|| = 5e19 -> g' = {w.tolist()} "
          f"(exact [0.6, 0.8]: the sum of squares overflowed)")
    sys.exit(0)
print(f"FIXED: optax {optax.__version__} clip_by_global_norm(1.0) gives {w.tolist()} for ||g|| = 5e19")
sys.exit(3)
