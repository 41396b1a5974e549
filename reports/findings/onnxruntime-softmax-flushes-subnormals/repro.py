"""ONNX Runtime (CPU): Softmax returns 0 for an output below float32's smallest normal number.

softmax([0, -92.5, -80, 1]) has the entry e^-93.5 / (1 + e^-1 + e^-81) = 1.81e-41, a float32 subnormal (IEEE
754 underflows gradually: the nearest float32 is 1.8089e-41). A one-node Softmax graph (opset 13) on the
CPUExecutionProvider gives 0 there, while the Exp and Mul nodes of the same runtime give subnormal results
(e^-92.5 = 6.73e-41, 1e-20 x 1e-20 = 1e-40) and read subnormal operands as they are. Needs onnx and
onnxruntime; exit 0 while Softmax flushes, exit 3 ("FIXED: ...") once it returns the subnormal.
"""
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper


def run(op, *arrays, **attrs):
    names = [f"x{i}" for i in range(len(arrays))]
    node = helper.make_node(op, names, ["z"], **attrs)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(a.shape)) for n, a in zip(names, arrays)],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, list(arrays[0].shape))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, dict(zip(names, arrays)))[0]


x = np.array([0.0, -92.5, -80.0, 1.0], np.float32)
e = np.exp(x.astype(np.float64) - 1.0)
exact = float(e[1] / e.sum())
soft = float(run("Softmax", x, axis=-1)[1])
expo = float(run("Exp", np.array([-92.5], np.float32))[0])
tiny = np.array([1e-20], np.float32)
prod = float(run("Mul", tiny, tiny)[0])
sub = np.array([1e-40], np.float32)
read = float(run("Mul", sub, np.array([1.0], np.float32))[0])
print(f"onnxruntime {ort.__version__}: Softmax entry {soft} where {exact:.4g} (a float32 subnormal) is exact; "
      f"Exp(-92.5) = {expo:.4g}, Mul(1e-20, 1e-20) = {prod:.4g}, Mul(1e-40, 1) = {read:.4g}")
if not (expo > 0 and prod > 0 and read > 0):
    print("Exp / Mul flush subnormals too: a different finding")
    sys.exit(1)
if soft == float(np.float32(exact)):
    print(f"FIXED: onnxruntime {ort.__version__} Softmax returns the subnormal")
    sys.exit(3)
sys.exit(0 if soft == 0.0 else 1)
