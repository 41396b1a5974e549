"""Keras 3 on the torch backend computes float64 layers in float32: `ops.matmul` of two float64 arrays returns
float32, `Dense(dtype="float64")` returns float32, and `LayerNormalization(dtype="float64")` returns float64 arrays
holding float32-accurate values.

Math (and the declared dtype): a float64 computation is accurate to about 1e-16 relative. Needs keras (torch
backend: torch) and NumPy. Exit 0 while present, 3 with "FIXED: ..." once all three are float64-accurate.
"""
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")
import numpy as np  # noqa: E402

import keras  # noqa: E402

rng = np.random.default_rng(0)
a, b = rng.standard_normal((64, 64)), rng.standard_normal((64, 64))
mm = keras.ops.convert_to_numpy(keras.ops.matmul(a, b))
mm_err = np.max(np.abs(mm - a @ b)) / np.max(np.abs(a @ b))
dense = keras.layers.Dense(64, use_bias=False, dtype="float64")
yd = keras.ops.convert_to_numpy(dense(a))
wd = keras.ops.convert_to_numpy(dense.kernel).astype(np.float64)
d_err = np.max(np.abs(yd - a @ wd)) / np.max(np.abs(a @ wd))
x = rng.standard_normal((4, 16))
yl = keras.ops.convert_to_numpy(keras.layers.LayerNormalization(epsilon=1e-3, dtype="float64")(x))
want = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-3)
ln_err = np.max(np.abs(yl - want))
bad = [e for e in (mm_err, d_err, ln_err) if e > 1e-12]
if bad:
    print(f"keras {keras.__version__} float64 on torch: ops.matmul -> {mm.dtype}, rel. error {mm_err:.2g}; "
          f"Dense(float64) -> {yd.dtype}, rel. error {d_err:.2g}; LayerNormalization(float64) -> {yl.dtype}, "
          f"error {ln_err:.2g} (float64 arithmetic: ~1e-16)")
    sys.exit(0)
print(f"FIXED: keras {keras.__version__} float64 matmul, Dense and LayerNormalization are float64-accurate")
sys.exit(3)
