"""The golden file format and its writer, `export_golden(out_dir, seed=0)` -> manifest.

Layout on disk (see `README_TEXT`): ``README.md``, ``manifest.json`` and, per case, ``cases/<id>.npz``
(every array, float64) and ``cases/<id>.json`` (the same arrays as nested lists, floats written with
``repr``, plus metadata). Writing is deterministic: the same seed gives byte-identical files (sorted keys
and members, fixed zip timestamps); each file is written atomically (`dlproof.atomic`).
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from dlproof.atomic import write_atomic
from dlproof.target import CAPABILITIES, PROTOCOL_VERSION

from .cases import Case, cases, tolerance
from .mpcheck import MP_DIGITS, mpmath_check

FORMAT_VERSION = 1
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _json_value(a: np.ndarray):
    a = np.asarray(a, np.float64)
    return float(a) if a.ndim == 0 else a.tolist()


def _dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=True, allow_nan=False)


def _case_json(case: Case, seed: int) -> str:
    arrays = {**case.inputs, **case.outputs}
    meta = {
        "format_version": FORMAT_VERSION,
        "protocol_version": PROTOCOL_VERSION,
        "id": case.id,
        "seed": seed,
        "capability": case.capability,
        "signature": f"{case.capability}{CAPABILITIES[case.capability]}",
        "description": case.description,
        "call": case.call,
        "returns": case.returns,
        "inputs": {k: list(np.shape(v)) for k, v in case.inputs.items()},
        "outputs": {k: list(np.shape(v)) for k, v in case.outputs.items()},
        "optional_outputs": case.optional_outputs,
        "conventions": case.conventions,
        "derivations": case.derivations,
        "dims": case.dims,
        "dtype": "float64",
        "tolerance": tolerance(case),
        "values_from": "dlproof.derivations oracles in float64 (proved, generated kernels)",
    }
    lines = ["{"]
    keys = sorted(list(meta) + ["arrays"])
    for i, k in enumerate(keys):
        end = "," if i < len(keys) - 1 else ""
        if k == "arrays":
            lines.append(' "arrays": {')
            names = sorted(arrays)
            for j, name in enumerate(names):
                sep = "," if j < len(names) - 1 else ""
                lines.append(f"  {_dumps(name)}: {_dumps(_json_value(arrays[name]))}{sep}")
            lines.append(" }" + end)
        else:
            lines.append(f" {_dumps(k)}: {_dumps(meta[k])}{end}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _npz_bytes(arrays: dict) -> bytes:
    """A .npz (uncompressed zip of .npy, as np.savez) with fixed timestamps and sorted members."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arrays[name], dtype=np.float64, order="C"),
                                      version=(1, 0), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=_FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, buf.getvalue())
    return out.getvalue()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


README_TEXT = """\
# dlproof golden vectors (format version {version})

Language-neutral reference values for RNN, LSTM and GRU cells, sequences, gradients (VJPs),
bidirectional forwards and gradient clipping. Written by `dlproof export-golden DIR`
(`dlproof.golden.export_golden(DIR, seed={seed})`); the same seed gives byte-identical files.

## Where the numbers come from

Every expected value is computed in float64 by the dlproof derivation oracles, which are assembled
only from SymPy-proved, generated kernels; never by an implementation under test. Each case lists the
derivation ids behind it (`dlproof derive ID` prints one). `manifest.json` records an independent
cross-check at {digits} digits with mpmath: the forward and clipping cases against the cell formulas
written out directly, the VJP cases against a central difference of the loss along a random direction.

Weights are random and asymmetric: mixed signs, no two entries equal, n != m, every gate block its
own draw. Constant weights (as in the ONNX backend LSTM tests) give the same outputs under all 24 LSTM
gate orders; these vectors do not. Edge cases: T=1, zero initial state, saturated gates (biases of
about +-30 with mixed signs), T=20.

## Files

- `manifest.json`: the case list (id, capability, file names, sha256 and size of each file), the
  sha256 of this README, and the mpmath cross-check (`mpmath_check`).
- `cases/<id>.npz`: every array of the case, float64, one member per name (NumPy `np.load`; any zip
  reader plus an .npy header parser elsewhere).
- `cases/<id>.json`: the same arrays under `"arrays"` as nested lists (row-major; floats written with
  Python `repr`, i.e. shortest round-trip, so parsing them gives the float64 values back exactly;
  0-d values are plain numbers), plus metadata:
  - `id`, `capability` (a name of the dlproof Target protocol, version {protocol}), `signature`,
    `description`, `dims`;
  - `inputs` / `outputs`: name -> shape; output names start with `out.`;
  - `call`: the positional arguments of the capability, and `returns`: the structure of its result,
    as trees whose leaves are array names: `"name"` an array, `{{"float": "name"}}` a plain number,
    `{{"tuple": [...]}}`, `{{"list": [...]}}`, `{{"dict": {{key: node}}}}` (parameters are dicts such
    as `{{"W_x": "p.W_x", ...}}`);
  - `optional_outputs`: outputs an implementation may omit (the protocol allows `None` there);
  - `conventions`: the declared conventions the values assume (`rnn_activation`, `gru`, `bias`,
    `clip_eps`, `clip_scope`);
  - `derivations`: the derivation ids;
  - `tolerance`: suggested `rtol`/`atol` for float64 and float32 consumers with a justification.

## Layout and conventions

- Sequences are time-major: `xs` is (T, B, m), `hs` is (T, B, n); cells take batch rows (B, m), (B, n).
- Parameters are column-vector math: W_x* is (n, m), W_h* is (n, n), b_* is (n,), and a cell computes
  `x @ W_x.T + h @ W_h.T + b` on batch rows. One bias per gate.
- RNN: `h' = phi(W_x x + W_h h + b)`, phi = tanh or relu (`rnn_activation`).
- LSTM, gate order i, f, g, o (params `W_xi, W_hi, b_i, W_xf, ...`): i, f, o = sigmoid(.),
  g = tanh(.), `c' = f*c + i*g`, `h' = o*tanh(c')`. A framework that stores the four blocks stacked
  (torch: i, f, g, o; ONNX: i, o, f, c; Keras: i, f, c, o) must map its blocks by name.
- GRU, gate order r, z, n (params `W_xr, W_hr, b_r, W_xz, W_hz, b_z, W_xn, W_hn, b_xn, b_hn`):
  `h' = z*h + (1-z)*n`; `reset_after` (torch, cuDNN, Keras default): `n = tanh(W_xn x + b_xn +
  r*(W_hn h + b_hn))`; `reset_before` (Keras reset_after=False, d2l): `n = tanh(W_xn x + b_xn + b_hn +
  W_hn (r*h))`.
- VJP cases: the loss is `L = <d_hs, hs> + <d_hT, h_T>` (+ `<d_cT, c_T>` for the LSTM); outputs are
  `out.d_xs`, `out.d_h0` (`out.d_c0`) and `out.d_p.<param>`, summed over time and batch.
- Bidirectional: `ys` is (T, B, 2n) = [forward ; backward] on the last axis, time-aligned; `h_f` is the
  forward state after x_(T-1), `h_b` the backward state after reading x_0; each direction has its own
  parameters `p_f.*`, `p_b.*` and initial state.
- Clipping by norm returns (clipped list, pre-clip global norm). `clip_eps` = 0: `g` if N <= c else
  `g*c/N`; `clip_eps` > 0: `g*min(1, c/(N+eps))`, always applied (torch). `clip_scope` = `per_tensor`
  clips each tensor by its own norm (Keras `clipnorm`); the returned norm stays the global one.
  Clipping by value: `min(max(g, -v), v)`.

## How to compare

Cast the inputs to your dtype, call your implementation (mapped to these names and layouts), and
require for every output array, element-wise,

    |got - want| <= atol + rtol * |want|

with `rtol`, `atol` from `tolerance[dtype]`. The float32 bound also covers rounding the inputs.
`atol` is rtol times the largest output magnitude of the case, so near-zero entries are judged on
the case's scale. In Python: `dlproof.golden.load_cases(DIR)` and `dlproof.golden.compare(...)`.
"""


def export_golden(out_dir, *, seed: int = 0) -> dict:
    """Write the golden vectors into ``out_dir`` (created if needed) and return the manifest."""
    out = Path(out_dir)
    all_cases = cases(seed)
    check = mpmath_check(all_cases)
    entries = []
    for c in all_cases:
        files = {}
        for ext, data in (("npz", _npz_bytes({**c.inputs, **c.outputs})),
                          ("json", _case_json(c, seed).encode("ascii"))):
            rel = f"cases/{c.id}.{ext}"
            write_atomic(out / rel, data)
            files[ext] = {"path": rel, "sha256": _sha256(data), "bytes": len(data)}
        entries.append({"id": c.id, "capability": c.capability, "conventions": c.conventions, "files": files})
    readme = README_TEXT.format(version=FORMAT_VERSION, seed=seed, digits=MP_DIGITS,
                                protocol=PROTOCOL_VERSION).encode("ascii")
    write_atomic(out / "README.md", readme)
    manifest = {
        "format_version": FORMAT_VERSION,
        "protocol_version": PROTOCOL_VERSION,
        "generator": "dlproof.golden.export_golden",
        "seed": seed,
        "dtype": "float64",
        "cases": entries,
        "files": {"README.md": {"sha256": _sha256(readme), "bytes": len(readme)}},
        "mpmath_check": check,
        "total_bytes": sum(f["bytes"] for e in entries for f in e["files"].values()) + len(readme),
    }
    write_atomic(out / "manifest.json", (json.dumps(manifest, sort_keys=True, indent=1) + "\n").encode("ascii"))
    return manifest
