"""ONNX Runtime's CPU GRU kernel computes tanh with up to ~10 float32 units of roundoff of error and returns
values of magnitude greater than 1.

Math: |tanh(x)| < 1 for every finite x; an IEEE-faithful float32 tanh is within 1 ulp (2u, u = 2^-24) and never
exceeds 1 in magnitude. A one-node GRU graph (opset 22) with all weights 0 except W_n = 1 and a very negative
update-gate bias (z = sigmoid(-40) ~ 4e-18, so h' = (1 - z) n + z h = n to float32 rounding) gives h' = tanh(x) for
each batch row x. Needs onnx, onnxruntime and NumPy. Exit 0 while present, 3 with "FIXED: ..." once the kernel's
tanh stays within 4u and within [-1, 1].
"""
import sys

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper

U = 2.0 ** -24
n = 1
node = helper.make_node("GRU", ["X", "W", "R", "B"], ["Y", "Y_h"], hidden_size=n, linear_before_reset=1)
graph = helper.make_graph(
    [node], "gru_tanh",
    [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", "B", 1]),
     helper.make_tensor_value_info("W", TensorProto.FLOAT, [1, 3 * n, 1]),
     helper.make_tensor_value_info("R", TensorProto.FLOAT, [1, 3 * n, n]),
     helper.make_tensor_value_info("B", TensorProto.FLOAT, [1, 6 * n])],
    [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None),
     helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, None)])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])
model.ir_version = 10
sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])

lo, hi = np.array([9.5, 10.5], np.float32).view(np.int32)
x = np.concatenate([np.arange(lo, hi, dtype=np.int32).view(np.float32),       # every float32 in [9.5, 10.5)
                    np.arange(-8 * 4096, 8 * 4096 + 1) / np.float32(4096)]).astype(np.float32)
W = np.zeros((1, 3 * n, 1), np.float32)
W[0, 2] = 1.0                                     # ONNX gate order z, r, h: the candidate's input weight
B = np.zeros((1, 6 * n), np.float32)
B[0, 0] = -40.0                                   # Wb_z: z = sigmoid(-40), so h' = n = tanh(x)
(h,) = sess.run(["Y_h"], {"X": x[None, :, None], "W": W, "R": np.zeros((1, 3 * n, n), np.float32), "B": B})
h = h.reshape(-1).astype(np.float64)
err = np.abs(h - np.tanh(x.astype(np.float64))) / U
i = int(np.argmax(err))
big = float(np.max(np.abs(h)))
if err[i] > 4 or big > 1:
    print(f"onnxruntime {ort.__version__} GRU tanh: max error {err[i]:.2f}u at x = {x[i]!r} "
          f"(got {h[i]!r}, exact {np.tanh(np.float64(x[i]))!r}); max |h'| = {big!r} = 1 + {(big - 1) / U:.1f}u > 1")
    sys.exit(0)
print(f"FIXED: onnxruntime {ort.__version__} GRU tanh within {err[i]:.2f}u, max |h'| = {big!r} <= 1")
sys.exit(3)
