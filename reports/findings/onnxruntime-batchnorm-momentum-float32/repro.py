"""ONNX BatchNormalization (training_mode=1) takes its momentum as the float32 weight of the OLD running value, so a
framework momentum m (the weight of the batch statistic: torch's momentum, dlproof's) reaches ONNX Runtime's kernel
as 1 - fl32(1 - m): a small m loses relative precision.

Math: running_mean' = (1 - m) running_mean + m mean. With running_mean = 0 and the batch (0, 1) (mean 1/2),
running_mean' = m / 2 exactly; m = 0.001 must give 5e-4 to float32 rounding (relative error <= u = 2^-24). ONNX
Runtime computes input_mean * M + mean * (1 - M) with the attribute M = fl32(0.999) = 0.99900001287..., i.e. the
batch statistic is weighted 1 - M = 9.99987e-4. Needs onnx, onnxruntime and NumPy. Exit 0 while present, 3 with
"FIXED: ..." once the update is within 2u of m / 2.
"""
import sys

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper

U = 2.0 ** -24
m = 0.001                                          # the framework momentum (weight of the batch statistic)
node = helper.make_node("BatchNormalization", ["X", "scale", "B", "mean", "var"], ["Y", "running_mean", "running_var"],
                        epsilon=1e-5, momentum=1.0 - m, training_mode=1)
vec = [helper.make_tensor_value_info(k, TensorProto.FLOAT, [1]) for k in ("scale", "B", "mean", "var")]
graph = helper.make_graph([node], "bn_momentum", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [2, 1])] + vec,
                          [helper.make_tensor_value_info(k, TensorProto.FLOAT, None)
                           for k in ("Y", "running_mean", "running_var")])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
model.ir_version = 10
sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
one, zero = np.ones(1, np.float32), np.zeros(1, np.float32)
x = np.array([[0.0], [1.0]], np.float32)
_, rm, _ = sess.run(None, {"X": x, "scale": one, "B": zero, "mean": zero, "var": one})
got, exact = float(rm[0]), m / 2
rel = abs(got - exact) / exact
if rel > 2 * U:
    print(f"onnxruntime {ort.__version__} BatchNormalization momentum attribute {np.float32(1 - m)!r} for m = {m}: "
          f"running_mean' = {got!r}, exact m * mean = {exact!r}: relative error {rel:.3g} = {rel / U:.0f}u")
    sys.exit(0)
print(f"FIXED: onnxruntime {ort.__version__} running_mean' = {got!r} within {rel / U:.2f}u of m * mean = {exact!r}")
sys.exit(3)
