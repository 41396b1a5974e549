"""The arguments and results of a capability call, by name: a deep snapshot of every argument (arrays by
value, dicts and lists by their keys, lengths and items) to find what a call changed, and a walk of the
result for arrays a caller cannot read (object, string or structured dtypes).

Names come from the capability signatures in `dlproof.target.CAPABILITIES` (one declaration): ``dy``,
``p['W_x']``, ``grads[1]``, ``c0_b`` inside a tuple argument, never ``args[3]``.
"""
from __future__ import annotations

import re

import numpy as np

from dlproof.dtypes import FORMATS

_FLOAT_FORMATS = tuple(f.dtype for f in FORMATS.values())


def _split_top(s: str) -> list:
    """``"a, (b, c), d: list"`` -> ["a", "(b, c)", "d: list"]: split at commas outside brackets."""
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_']*$")


def _pattern(token: str):
    """A signature token as a name pattern: "xs" -> "xs"; "grads: list" -> "grads"; "(h0_f, c0_f)" -> a list of
    patterns; anything else (a dict or a phrase) -> None (named by position)."""
    token = token.strip()
    if token.startswith("(") and token.endswith(")"):
        return [_pattern(t) for t in _split_top(token[1:-1])]
    token = token.split(":")[0].strip()
    return token if _NAME.match(token) else None


def _pattern_text(pattern) -> str:
    """["h0_f", "c0_f"] -> "(h0_f, c0_f)"."""
    return "(" + ", ".join(_pattern_text(p) if isinstance(p, list) else str(p) for p in pattern) + ")"


def _signature(capability: str):
    """(argument patterns, result pattern) parsed from ``CAPABILITIES[capability]`` (the one declaration)."""
    if capability not in _SIGNATURES:
        from dlproof.target import CAPABILITIES

        sig = CAPABILITIES.get(capability, "")
        left, _, right = sig.partition("->")
        left = left.strip()
        args = [_pattern(t) for t in _split_top(left[1:-1])] if left.startswith("(") and left.endswith(")") else []
        _SIGNATURES[capability] = (args, _pattern(right) if right.strip() else None)
    return _SIGNATURES[capability]


_SIGNATURES: dict = {}

#: how an argument is described in a message about a change to it (by its name in the signature)
_ROLE = {"p": "the parameter dict", "p_f": "the forward direction's parameter dict",
         "p_b": "the backward direction's parameter dict", "params": "the parameter dict",
         "grads": "the gradient list", "layers": "the layer list", "blocks": "the block list"}


def _child_name(name: str, key, pattern):
    """The name of item ``key`` of a value named ``name`` whose signature pattern is ``pattern``."""
    if isinstance(pattern, list) and isinstance(key, int) and key < len(pattern) and isinstance(pattern[key], str):
        return pattern[key], None
    sub = pattern[key] if isinstance(pattern, list) and isinstance(key, int) and key < len(pattern) else None
    return f"{name}[{key!r}]", sub


# ---- the deep snapshot of every argument ---------------------------------------------------------------

def _snapshot(a: np.ndarray):
    """What `_changed` compares against: shape, dtype and a byte copy (a plain copy for object arrays)."""
    return (a.shape, a.dtype, a.copy() if a.dtype.hasobject else a.tobytes())


def _changed(a: np.ndarray, snap) -> bool:
    """Whether ``a`` differs from its snapshot in shape or value (NaN equals NaN). Equal bytes are the fast
    path; a byte difference falls back to comparing values, so -0.0 for 0.0 or another NaN payload is no change."""
    shape, dtype, before = snap
    if a.shape != shape:
        return True
    if isinstance(before, bytes):
        if a.dtype == dtype and a.tobytes() == before:
            return False
        before = np.frombuffer(before, dtype).reshape(shape)
    try:
        return not np.array_equal(a, before, equal_nan=not a.dtype.hasobject)
    except Exception:  # noqa: BLE001 - objects whose comparison raises: compare identities
        return any(x is not y for x, y in zip(a.ravel(), before.ravel()))


_DEPTH = 8  # containers nested deeper are not walked (no capability argument is nested this deep)


class _Node:
    """The snapshot of one argument (or part of one): an array's bytes, or a dict's / list's items by
    identity, with the snapshots of those items. ``root`` is the name of the argument it belongs to."""

    __slots__ = ("obj", "name", "root", "kind", "state", "children")

    def __init__(self, obj, name: str, root: str, pattern, depth: int = 0):
        self.obj, self.name, self.root, self.children = obj, name, root, []
        if isinstance(obj, np.ndarray):
            self.kind, self.state = "array", _snapshot(obj)
            return
        if isinstance(obj, dict) and depth < _DEPTH:
            self.kind, self.state = "dict", dict(obj)  # key -> the object bound to it
            items = list(obj.items())
        elif isinstance(obj, (list, tuple)) and depth < _DEPTH:
            self.kind, self.state = "seq", list(obj)
            items = list(enumerate(obj))
        else:
            self.kind, self.state = "other", None
            return
        for key, value in items:
            child, sub = _child_name(name, key, pattern)
            node = _Node(value, child, root, sub, depth + 1)
            if node.kind != "other":
                self.children.append(node)

    def _which(self) -> str:
        if self.name == self.root:
            role = _ROLE.get(self.name) if self.kind == "dict" or self.name in ("grads", "layers", "blocks") else None
            return f"its argument {self.name}" + (f" ({role})" if role else "")
        return f"{self.name} (part of its argument {self.root})"

    def change(self) -> str | None:
        """What the call did to this argument (a short text), or None if it is as it was."""
        obj = self.obj
        if self.kind == "array":
            return f"mutated its input {self.name} in place" if _changed(obj, self.state) else None
        if self.kind == "dict":
            before = self.state
            if not isinstance(obj, dict):
                return None
            gone = [k for k in before if k not in obj]
            if gone:
                return f"deleted key {gone[0]!r} from {self._which()}"
            new = [k for k in obj if k not in before]
            if new:
                return f"added key {new[0]!r} to {self._which()}"
            for k, v in before.items():
                if obj[k] is not v:
                    child, _ = _child_name(self.name, k, None)
                    return f"replaced {child} with a new {type(obj[k]).__name__} (in {self._which()})"
        elif self.kind == "seq" and isinstance(obj, list):  # a tuple cannot change; its items can
            before = self.state
            if len(obj) != len(before):
                return f"changed the length of {self._which()} from {len(before)} to {len(obj)}"
            for i, (now, was) in enumerate(zip(obj, before)):
                if now is not was:
                    return f"replaced {self.name}[{i}] with a new {type(now).__name__} (in {self._which()})"
        for node in self.children:
            what = node.change()
            if what:
                return what
        return None


def _argument_snapshot(capability: str, args) -> list:
    """One `_Node` per argument that holds arrays or containers, named by the capability's signature."""
    patterns, _ = _signature(capability)
    nodes = []
    for i, a in enumerate(args):
        pat = patterns[i] if i < len(patterns) else None
        name = pat if isinstance(pat, str) else _pattern_text(pat) if isinstance(pat, list) else f"args[{i}]"
        node = _Node(a, name, name, pat)
        if node.kind != "other":
            nodes.append(node)
    return nodes


# ---- what a call returned: numeric arrays in readable containers ---------------------------------------------

def _bad_result(capability: str, out) -> str | None:
    """What is unreadable in a capability's result ("an object-dtype array for hs[0]"), or None. Arrays must have
    a numeric dtype (bool, integer, float, complex, or a format of dlproof.dtypes such as ml_dtypes' bfloat16,
    whose NumPy kind is "V"); tuples, lists and dicts are walked; other objects are left
    to the property's own checks."""
    _, pattern = _signature(capability)
    name = pattern if isinstance(pattern, str) else "result"
    try:
        return _bad_in(out, name, pattern, 0)
    except Exception as exc:  # noqa: BLE001 - a container whose items cannot be read
        return f"a {type(out).__name__} that cannot be read ({type(exc).__name__}: {_first_line(str(exc), 120)})"


def _bad_in(obj, name: str, pattern, depth: int) -> str | None:
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "biufc" or obj.dtype in _FLOAT_FORMATS:
            return None
        kind = "an object-dtype array" if obj.dtype.hasobject else f"a non-numeric array (dtype {obj.dtype})"
        return f"{kind} for {name}"
    if depth >= _DEPTH:
        return None
    if isinstance(obj, dict):
        items = list(obj.items())
    elif isinstance(obj, (list, tuple)):
        items = list(enumerate(obj))
    else:
        return None
    for key, value in items:
        child, sub = _child_name(name, key, pattern)
        bad = _bad_in(value, child, sub, depth + 1)
        if bad:
            return bad
    return None


def _first_line(text: str, limit: int = 300) -> str:
    lines = text.strip().splitlines()
    s = lines[0] if lines else ""
    more = len(lines) > 1 or len(s) > limit
    return s[:limit] + (" ..." if more else "")
