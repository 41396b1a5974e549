"""jax.nn.dot_product_attention computes the softmax of float64 inputs in float32: the output is float64 but only
float32-accurate (the XLA implementation casts the logits to float32 before the softmax, "always carried out in
fp32", and casts the probabilities back).

Math (and the declared dtype): float64 attention softmax(q k^T / sqrt(d)) v is accurate to about 1e-16 relative.
Needs jax (with jax_enable_x64) and NumPy. Exit 0 while present, 3 with "FIXED: ..." once it is float64-accurate.
"""
import os
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import numpy as np  # noqa: E402

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

rng = np.random.default_rng(0)
B, T, N, H = 2, 8, 1, 16
q, k, v = (rng.standard_normal((B, T, N, H)) for _ in range(3))
y = np.asarray(jax.nn.dot_product_attention(q, k, v))
s = np.einsum("btnh,bsnh->bnts", q, k) / np.sqrt(H)
p = np.exp(s - s.max(-1, keepdims=True))
p /= p.sum(-1, keepdims=True)
want = np.einsum("bnts,bsnh->btnh", p, v)
err = np.max(np.abs(y - want)) / np.max(np.abs(want))
if err > 1e-12:
    print(f"jax {jax.__version__} dot_product_attention float64 -> {y.dtype}, relative error {err:.2g} "
          "(float64 arithmetic: ~1e-16; float32: ~1e-7)")
    sys.exit(0)
print(f"FIXED: jax {jax.__version__} dot_product_attention is float64-accurate on float64 inputs (error {err:.2g})")
sys.exit(3)
