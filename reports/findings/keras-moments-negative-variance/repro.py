"""Keras 3 `ops.moments` (torch backend) forms the variance in one pass, mean(x^2) - mean(x)^2, unclamped: it can
be negative, and `BatchNormalization` then returns NaN.

Math: a variance is >= 0. float32 batch x = (20.026133, 20.020374): var = 8.29e-6, but mean(x^2) ~ 401 is rounded
by ~2.4e-5, so Keras gets var < 0 and var + eps < 0 for eps = 1e-5. Needs keras (torch backend: torch) and NumPy.
Exit 0 while present, 3 with "FIXED: ..." once the variance is >= 0 and the layer output finite.
"""
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")
import numpy as np  # noqa: E402

import keras  # noqa: E402

x = np.array([[20.026133], [20.020374]], np.float32)
exact = float(np.var(x.astype(np.float64)))
_, var = keras.ops.moments(keras.ops.convert_to_tensor(x), axes=[0])
var = float(keras.ops.convert_to_numpy(var)[0])
y = keras.ops.convert_to_numpy(keras.layers.BatchNormalization(epsilon=1e-5)(x, training=True))
if var < 0 or not np.isfinite(y).all():
    print(f"keras {keras.__version__} ops.moments variance = {var:.3g} (exact {exact:.3g}); "
          f"BatchNormalization(epsilon=1e-5) -> {y.ravel().tolist()}")
    sys.exit(0)
print(f"FIXED: keras {keras.__version__} ops.moments variance = {var:.3g} >= 0 (exact {exact:.3g}), "
      f"BatchNormalization output finite")
sys.exit(3)
