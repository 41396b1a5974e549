"""The argument/result tree of a golden case: how its flat named arrays map to a capability's call and return.

    "name"                     -> the array stored under that name
    {"float": "name"}          -> a plain float (a 0-d array on disk)
    {"tuple": [node, ...]}     -> a tuple;  {"list": [node, ...]} -> a list
    {"dict": {key: node}}      -> a mapping (parameters: {"W_x": "p.W_x", ...})
"""
from __future__ import annotations

import numpy as np


def build(node, arrays: dict, dtype: str = "float64"):
    """The Python value a tree node denotes, arrays cast to ``dtype``."""
    if isinstance(node, str):
        return np.array(arrays[node], dtype=dtype)
    if "float" in node:
        return float(np.asarray(arrays[node["float"]]))
    if "tuple" in node:
        return tuple(build(c, arrays, dtype) for c in node["tuple"])
    if "list" in node:
        return [build(c, arrays, dtype) for c in node["list"]]
    if "dict" in node:
        return {k: build(c, arrays, dtype) for k, c in node["dict"].items()}
    raise ValueError(f"golden: unknown tree node {node!r}")


def flatten(node, value, out: dict | None = None) -> dict:
    """Name the pieces of ``value`` (a capability's result) by the tree ``node``; None is left out."""
    out = {} if out is None else out
    if value is None:
        return out
    if isinstance(node, str):
        out[node] = np.asarray(value, dtype=np.float64)
    elif "float" in node:
        out[node["float"]] = np.asarray(float(value), dtype=np.float64)
    elif "tuple" in node or "list" in node:
        kids = node.get("tuple", node.get("list"))
        if not isinstance(value, (tuple, list)) or len(value) != len(kids):
            raise ValueError(f"golden: expected a sequence of {len(kids)}, got {type(value).__name__}")
        for c, v in zip(kids, value):
            flatten(c, v, out)
    elif "dict" in node:
        for k, c in node["dict"].items():
            if k not in value:
                raise ValueError(f"golden: result lacks key {k!r}")
            flatten(c, value[k], out)
    else:
        raise ValueError(f"golden: unknown tree node {node!r}")
    return out


def pdict(prefix: str, names) -> dict:
    """The tree of a parameter mapping: ``{"dict": {name: "<prefix>.<name>"}}``."""
    return {"dict": {k: f"{prefix}.{k}" for k in names}}
