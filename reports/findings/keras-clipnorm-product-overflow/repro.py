"""Keras optimizer `clipnorm` multiplies g by c before dividing by max(||g||, c): g c overflows (or underflows)
although the clipped gradient g c / max(||g||, c) is representable.

Math: ||g|| <= c leaves g unchanged. float32 g = (1e19, 0), c = 1e20: ||g|| = 1e19 < c, so g' = g; Keras
computes fl(g c) = inf and returns inf. Needs keras (torch backend: torch) and NumPy only.
Exit 0 while present (prints the measured values), 3 with "FIXED: ..." once Keras returns g.
"""
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")
import numpy as np  # noqa: E402

import keras  # noqa: E402


def clipped(g, c):
    """The update of one SGD step (learning rate 1) from 0: -g' = the clipped gradient, negated."""
    var = keras.Variable(np.zeros_like(g))
    opt = keras.optimizers.SGD(learning_rate=1.0, clipnorm=c)
    opt.apply_gradients([(keras.ops.convert_to_tensor(g), var)])
    return 0.0 - np.asarray(keras.ops.convert_to_numpy(var), dtype=np.float64)


big = clipped(np.array([1e19, 0.0], np.float32), 1e20)       # exact: (1e19, 0), unchanged
tiny = clipped(np.array([1e-30, 0.0], np.float32), 1e-20)    # exact: (1e-30, 0), unchanged
want_big, want_tiny = np.float32(1e19), np.float32(1e-30)
if not np.isfinite(big[0]) or big[0] != want_big or tiny[0] != want_tiny:
    print(f"keras {keras.__version__} clipnorm: g=1e19, c=1e20 -> {big[0]:.3g} (exact 1e+19, ||g|| < c); "
          f"g=1e-30, c=1e-20 -> {tiny[0]:.3g} (exact 1e-30)")
    sys.exit(0)
print(f"FIXED: keras {keras.__version__} clipnorm returns g unchanged for ||g|| < c at 1e19/1e20 and 1e-30/1e-20")
sys.exit(3)
