"""JAX (XLA on CPU) flushes subnormals to zero: a subnormal operand is read as 0 and a subnormal result is
flushed to 0, in float32 and float64.

Math (IEEE 754 gradual underflow): 1e-40 * 1e10 = 1e-30 (a normal float32) and 1e-20 * 1e-20 = 1e-40 (a float32
subnormal). Needs jax and NumPy; runs on the CPU backend. Exit 0 while flushed, 3 with "FIXED: ..." otherwise.
"""
import os
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import numpy as np  # noqa: E402

import jax  # noqa: E402

mul = jax.jit(lambda a, b: a * b)
sub_in = float(mul(np.float32(1e-40), np.float32(1e10)))    # exact 1e-30
sub_out = float(mul(np.float32(1e-20), np.float32(1e-20)))  # exact ~1e-40 (subnormal)
if sub_in == 0.0 or sub_out == 0.0:
    print(f"jax {jax.__version__} (XLA CPU) float32 flush-to-zero: 1e-40 * 1e10 = {sub_in:.3g} (exact 1e-30); "
          f"1e-20 * 1e-20 = {sub_out:.3g} (exact 1e-40)")
    sys.exit(0)
print(f"FIXED: jax {jax.__version__} keeps subnormals on CPU: {sub_in:.3g}, {sub_out:.3g}")
sys.exit(3)
