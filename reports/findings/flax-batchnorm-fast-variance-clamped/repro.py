"""flax.linen.BatchNorm (use_fast_variance=True, the default) forms the batch variance in one pass,
max(0, mean(x^2) - mean(x)^2): the rounding of mean(x^2) can wipe out a small variance, which is then clamped to 0.

Math: float32 batch x = (20.026133, 20.020374) has var = 8.29e-6, so with eps = 1e-5 the normalized batch is
(x - mean) / sqrt(var + eps) = (+-0.673). The one-pass variance rounds below 0 and is clamped, giving
(x - mean) / sqrt(eps) = (+-0.911). Needs flax (jax) and NumPy. Exit 0 while present, 3 with "FIXED: ..." once
the output is within 1e-3 of the exact one.
"""
import os
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import numpy as np  # noqa: E402

import flax  # noqa: E402
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

x = np.array([[20.026133], [20.020374]], np.float32)
x64 = x.astype(np.float64)
want = (x64 - x64.mean(0)) / np.sqrt(x64.var(0) + 1e-5)
bn = nn.BatchNorm(use_running_average=False, epsilon=1e-5)
params = bn.init(jax.random.PRNGKey(0), jnp.asarray(x))
y, _ = bn.apply(params, jnp.asarray(x), mutable=["batch_stats"])
y = np.asarray(y, dtype=np.float64)
err = float(np.max(np.abs(y - want)))
if err > 1e-3:
    print(f"flax {flax.__version__} BatchNorm (float32, eps 1e-5): output {y.ravel().round(4).tolist()}, exact "
          f"{want.ravel().round(4).tolist()} (error {err:.3g}: the one-pass variance was clamped to 0)")
    sys.exit(0)
print(f"FIXED: flax {flax.__version__} BatchNorm output {y.ravel().tolist()} within {err:.2g} of the exact one")
sys.exit(3)
