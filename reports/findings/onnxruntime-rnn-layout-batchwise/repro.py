"""ONNX Runtime's CPU kernels refuse the batch-major layout (layout=1, opset 14+) of the RNN, LSTM and GRU operators.

Spec: with layout=1, X is (batch, seq, input), initial_h / Y_h are (batch, num_directions, hidden) and Y is
(batch, seq, num_directions, hidden); the values are those of layout=0, transposed. ONNX Runtime raises at session
creation ("Batchwise recurrent operations (layout == 1) are not supported"). The script builds one node of each op
with layout=1 and compares any result with the same node at layout=0. Needs onnx, onnxruntime and NumPy. Exit 0
while some op is refused (or wrong), 3 with "FIXED: ..." once all three run and agree with layout=0.
"""
import sys

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper

GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}
T, B, m, n = 3, 2, 2, 4
rng = np.random.default_rng(0)


def session(op, layout):
    outs = ["Y", "Y_h"]
    node = helper.make_node(op, ["X", "W", "R", "B", "", "initial_h"], outs, hidden_size=n, layout=layout)
    ins = [helper.make_tensor_value_info(k, TensorProto.FLOAT, None) for k in ("X", "W", "R", "B", "initial_h")]
    graph = helper.make_graph([node], "layout", ins, [helper.make_tensor_value_info(k, TensorProto.FLOAT, None)
                                                       for k in outs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])
    model.ir_version = 10
    options = ort.SessionOptions()
    options.log_severity_level = 4  # the refusal is reported below, not logged
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


refused = []
for op, G in GATES.items():
    feeds = {"W": rng.standard_normal((1, G * n, m)).astype(np.float32),
             "R": rng.standard_normal((1, G * n, n)).astype(np.float32),
             "B": rng.standard_normal((1, 2 * G * n)).astype(np.float32)}
    x, h0 = rng.standard_normal((T, B, m)).astype(np.float32), rng.standard_normal((1, B, n)).astype(np.float32)
    y0, h_0 = session(op, 0).run(None, {**feeds, "X": x, "initial_h": h0})
    try:
        y1, h_1 = session(op, 1).run(None, {**feeds, "X": x.transpose(1, 0, 2), "initial_h": h0.transpose(1, 0, 2)})
    except Exception as exc:  # noqa: BLE001 - the refusal is what this script measures
        msg = str(exc)
        k = msg.find("Batchwise")
        refused.append(f"{op}: {msg[k:k + 63] if k >= 0 else msg[:100]}")
        continue
    if y1.shape != (B, T, 1, n) or not np.allclose(y1.transpose(1, 2, 0, 3), y0, atol=1e-6):
        refused.append(f"{op}: layout=1 output of shape {y1.shape} differs from layout=0 transposed")
if refused:
    print(f"onnxruntime {ort.__version__} refuses layout=1: " + " | ".join(refused))
    sys.exit(0)
print(f"FIXED: onnxruntime {ort.__version__} runs RNN, LSTM and GRU with layout=1 and agrees with layout=0")
sys.exit(3)
