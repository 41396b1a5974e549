"""One-node ONNX graphs and their ONNX Runtime sessions, for the onnxruntime adapter (`ort`).

`node_model(op, inputs, outputs, attributes, dtype)` builds a ModelProto holding the single node ``op`` of the
default domain at opset `OPSETS[op]` (the newest version of the op's schema that this onnxruntime implements,
measured with onnx 1.23 / onnxruntime 1.32: RNN, LSTM, GRU 22; Softmax 13; Conv 22; BatchNormalization 15;
LayerNormalization 17; Attention 25). Every input and output is a tensor of ``dtype`` ("float32" | "float64")
whose dimensions are all symbolic (named "<input>_<axis>"), so one session serves every shape the op
accepts; an input named "" is an omitted optional input (ONNX's convention). `session(...)` returns the
`onnxruntime.InferenceSession` of that model on the CPUExecutionProvider, cached per (op, inputs, outputs,
attributes, dtype): a session is built once per distinct attribute set (hidden_size, direction, strides, eps,
...), never per call. Sessions run with one intra-op thread (deterministic reduction order; the kernels are
those of any other thread count).

`run(sess, feeds, dtype)` runs a session on copies of the arrays cast to ``dtype`` and returns new NumPy arrays.
onnx and onnxruntime are imported lazily: without them the functions raise ImportError with the install hint.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

HINT = "dlproof's onnxruntime adapter needs onnx and onnxruntime: pip install 'dlproof[onnx]'"
#: the opset each op's graph imports: the op's newest schema version that onnxruntime's CPU provider implements
OPSETS = {"RNN": 22, "LSTM": 22, "GRU": 22, "Softmax": 13, "Conv": 22, "BatchNormalization": 15,
          "LayerNormalization": 17, "Attention": 25}
#: the ONNX IR version of the models (that of onnx 1.16, the oldest the extra allows)
IR_VERSION = 10
DTYPES = ("float32", "float64")


def modules():
    """(onnx, onnxruntime), imported on first use; ImportError with the install hint without them."""
    try:
        import onnx
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(HINT) from exc
    return onnx, onnxruntime


def version() -> str:
    """onnxruntime's version string."""
    return modules()[1].__version__


def _attr_items(attributes) -> tuple:
    """The attributes as a sorted tuple of (name, hashable value) pairs (lists become tuples)."""
    if not isinstance(attributes, dict):
        raise ValueError(f"node_model: attributes should be a dict name -> value, got {type(attributes).__name__}")
    return tuple(sorted((k, tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in attributes.items()))


def node_model(op: str, inputs: tuple, outputs: tuple, attributes: dict, dtype: str = "float32"):
    """The ModelProto of one ``op`` node; ``inputs`` are (name, rank) pairs (name "" = an omitted optional
    input, rank ignored), ``outputs`` names (their shapes left to the runtime)."""
    modules()
    from onnx import TensorProto, helper

    if op not in OPSETS:
        raise ValueError(f"node_model: op should be one of {sorted(OPSETS)}, got {op!r}")
    if dtype not in DTYPES:
        raise ValueError(f"node_model: dtype should be one of {DTYPES}, got {dtype!r}")
    elem = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE}[dtype]
    node = helper.make_node(op, [name for name, _ in inputs], list(outputs),
                            **{k: list(v) if isinstance(v, tuple) else v for k, v in dict(attributes).items()})
    graph_inputs = [helper.make_tensor_value_info(name, elem, [f"{name}_{a}" for a in range(rank)])
                    for name, rank in inputs if name]
    graph_outputs = [helper.make_tensor_value_info(name, elem, None) for name in outputs]
    graph = helper.make_graph([node], f"dlproof_{op}", graph_inputs, graph_outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSETS[op])])
    model.ir_version = IR_VERSION
    return model


@lru_cache(maxsize=512)
def _session(op: str, inputs: tuple, outputs: tuple, attributes: tuple, dtype: str):
    _, ort = modules()
    model = node_model(op, inputs, outputs, dict(attributes), dtype)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def session(op: str, inputs: tuple, outputs: tuple, attributes: dict, dtype: str = "float32"):
    """The cached CPU InferenceSession of `node_model` (same arguments)."""
    return _session(op, tuple((str(n), int(r)) for n, r in inputs), tuple(outputs), _attr_items(attributes), dtype)


def node_attributes(model) -> dict:
    """{name: value} of the one node of a model built by `node_model` (lists of ints/strings as lists; strings
    decoded)."""
    from onnx import helper

    out = {}
    for a in model.graph.node[0].attribute:
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, list):
            v = [e.decode() if isinstance(e, bytes) else e for e in v]
        out[a.name] = v
    return out


def run(sess, feeds: dict, dtype: str) -> list:
    """The session's outputs (new arrays of ``dtype``) on copies of ``feeds`` cast to ``dtype``."""
    dt = np.dtype(dtype)
    outs = sess.run(None, {k: np.array(v, dtype=dt, copy=True) for k, v in feeds.items()})
    return [np.array(o, dtype=dt, copy=True) for o in outs]
