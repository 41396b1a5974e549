"""Language-neutral golden vectors: `export_golden(out_dir, seed=0)` -> manifest.

Every expected value is computed by the derivation oracles (`dlproof.derivations.oracle*`, assembled
only from proved, generated kernels) in float64, never by an implementation under test. The forward
cases are cross-checked against the cell formulas evaluated directly with mpmath at 50 digits, and
the VJP cases against a 50-digit central difference of L along a random direction; the worst
deviations go into the manifest.

Weights are random and asymmetric (mixed signs, all entries distinct, n != m, every gate block its own
draw), so a gate-order, transpose or direction bug changes the outputs; the constant weights of the
ONNX backend LSTM tests cannot see a swapped gate order. Edge cases: T=1, zero initial state,
saturated gates (biases of about +-30, mixed signs) and a T=20 sequence.

Layout on disk (see `README_TEXT`): ``README.md``, ``manifest.json`` and, per case, ``cases/<id>.npz``
(every array, float64) and ``cases/<id>.json`` (the same arrays as nested lists, floats written with
``repr``, plus metadata). Writing is deterministic: the same seed gives byte-identical files.

For consumers in Python: `load_cases(dir)`, `call_case(case, fn, dtype)`, `compare(case, got, dtype)`,
`check_target(case, target)`.

Modules, one job each: `tree` (how a case's named arrays map to a call and its result), `cases` (inputs,
oracle outputs, tolerances), `mpcheck` (the 50-digit cross-check), `files` (the format on disk and
`export_golden`), `consumer` (reading and comparing).
"""
from __future__ import annotations

from .cases import cases, tolerance
from .consumer import call_case, check_target, compare, load_cases, worst_ratio
from .files import FORMAT_VERSION, export_golden
from .mpcheck import mpmath_check

__all__ = ["FORMAT_VERSION", "export_golden", "load_cases", "call_case", "compare", "check_target",
           "worst_ratio", "cases", "tolerance", "mpmath_check"]
