"""ONNX Runtime's CPU recurrent kernels on an empty sequence (seq_length = 0): GRU aborts the process, RNN and LSTM
return final states of 0 instead of the initial state.

Math: after reading no step, the final state of a recurrence is its initial state (h_T = h_0, c_T = c_0 for
T = 0), and Y is empty. ONNX's X (seq_length, batch_size, input_size) allows seq_length = 0 (a dynamic dimension).
The GRU is run in a child process (its abort would end this script). Needs onnx, onnxruntime and NumPy. Exit 0
while present, 3 with "FIXED: ..." once every op returns Y_h = initial_h (and Y_c = initial_c) without crashing.
"""
import subprocess
import sys

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper

n = 2
GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


def final_states(op):
    """Y_h (and Y_c) of a one-node `op` graph on X of shape (0, 1, 1) with initial states of 1."""
    G = GATES[op]
    ins, outs = ["X", "W", "R", "B", "", "initial_h"], ["Y", "Y_h"]
    feeds = {"X": np.zeros((0, 1, 1), np.float32), "W": np.zeros((1, G * n, 1), np.float32),
             "R": np.zeros((1, G * n, n), np.float32), "B": np.zeros((1, 2 * G * n), np.float32),
             "initial_h": np.ones((1, 1, n), np.float32)}
    if op == "LSTM":
        ins, outs = ins + ["initial_c"], outs + ["Y_c"]
        feeds["initial_c"] = np.ones((1, 1, n), np.float32)
    node = helper.make_node(op, ins, outs, hidden_size=n)
    graph = helper.make_graph([node], "empty",
                              [helper.make_tensor_value_info(k, TensorProto.FLOAT, None) for k in feeds],
                              [helper.make_tensor_value_info(k, TensorProto.FLOAT, None) for k in outs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])
    model.ir_version = 10
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return [a.ravel().tolist() for a in sess.run(None, feeds)[1:]]


if len(sys.argv) == 2:  # the child: one op, its final states on stdout
    print(final_states(sys.argv[1]))
    sys.exit(0)

found = []
for op in GATES:
    child = subprocess.run([sys.executable, __file__, op], capture_output=True, text=True, timeout=120)
    if child.returncode != 0:
        found.append(f"{op} aborts the process (exit {child.returncode}: {child.stderr.strip().splitlines()[-1][:60]})")
    elif child.stdout.strip() != str([[1.0] * n] * (2 if op == "LSTM" else 1)):
        found.append(f"{op} returns final states {child.stdout.strip()} instead of the initial 1s")
if found:
    print(f"onnxruntime {ort.__version__}, seq_length 0: " + "; ".join(found))
    sys.exit(0)
print(f"FIXED: onnxruntime {ort.__version__} returns the initial states for seq_length 0 (RNN, LSTM, GRU)")
sys.exit(3)
