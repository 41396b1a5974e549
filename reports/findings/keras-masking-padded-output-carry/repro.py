"""Keras masking: at padded (masked) time steps a recurrent layer with return_sequences=True repeats its last real
output (zero_output_for_mask=False, the default), while `Bidirectional` forces zero_output_for_mask=True on its
layers and gives 0 in both halves.

The packed-sequence math (torch's pad_packed_sequence) has no output at padded steps: 0 by convention. Keras has
two rules depending on the wrapper. Needs keras (torch backend: torch) and NumPy. Exit 0 while the unidirectional
layer carries its last output and Bidirectional gives 0, 3 with "FIXED: ..." once the two agree.
"""
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")
import numpy as np  # noqa: E402

import keras  # noqa: E402

keras.utils.set_random_seed(0)
x = np.random.default_rng(0).standard_normal((1, 4, 2)).astype(np.float32)
mask = np.array([[True, True, False, False]])   # two real steps, two padded
uni = keras.layers.GRU(3, return_sequences=True)
bi = keras.layers.Bidirectional(keras.layers.GRU(3, return_sequences=True))
yu = keras.ops.convert_to_numpy(uni(x, mask=mask))[0]
yb = keras.ops.convert_to_numpy(bi(x, mask=mask))[0]
carry = np.array_equal(yu[2], yu[1]) and np.array_equal(yu[3], yu[1]) and np.any(yu[1] != 0)
zero = not np.any(yb[2:])
if carry and zero:
    print(f"keras {keras.__version__} masking: GRU padded steps repeat the last real output "
          f"(max |y_2 - y_1| = {np.max(np.abs(yu[2] - yu[1])):.3g}, |y_1| = {np.max(np.abs(yu[1])):.3g}); "
          f"Bidirectional(GRU) padded steps = 0 (max |y| = {np.max(np.abs(yb[2:])):.3g})")
    sys.exit(0)
print(f"FIXED: keras {keras.__version__} masking: unidirectional carry={carry}, Bidirectional zeros={zero}")
sys.exit(3)
