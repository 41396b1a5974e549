"""Keras optimizer `global_clipnorm` turns every gradient into NaN once the float32 sum of squares overflows,
although the global norm is finite.

Math: g' = g min(1, c/||g||). float32 g = (1e20, 0): ||g|| = 1e20 is representable, so c = 1e21 gives g' = g and
c = 1 gives (1, 0). Keras forms sum g^2 = 1e40 -> inf in float32, N = inf, and its scale c min(1/N, 1/c) + (N - N)
is NaN. Needs keras (torch backend: torch) and NumPy.
Exit 0 while present, 3 with "FIXED: ..." once Keras returns g.
"""
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")
import numpy as np  # noqa: E402

import keras  # noqa: E402


def clipped(g, c):
    var = keras.Variable(np.zeros_like(g))
    opt = keras.optimizers.SGD(learning_rate=1.0, global_clipnorm=c)
    opt.apply_gradients([(keras.ops.convert_to_tensor(g), var)])
    return 0.0 - np.asarray(keras.ops.convert_to_numpy(var), dtype=np.float64)


got = clipped(np.array([1e20, 0.0], np.float32), 1e21)   # exact: (1e20, 0), unchanged
big = clipped(np.array([1e20, 0.0], np.float32), 1.0)    # exact: (1, 0), clipped to the norm c
if np.isnan(got).any() or np.isnan(big).any():
    print(f"keras {keras.__version__} global_clipnorm: ||g|| = 1e20 (finite), c = 1e21 -> {got.tolist()} "
          f"(exact [1e+20, 0]); c = 1 -> {big.tolist()} (exact [1, 0]): NaN")
    sys.exit(0)
print(f"FIXED: keras {keras.__version__} global_clipnorm gives {got.tolist()} and {big.tolist()} for ||g|| = 1e20")
sys.exit(3)
