"""Committed conformance summaries (reports/conformance/<target>.json and .md): deterministic by design.

One file per built-in target: the framework versions it ran against, each property's verdict and
number of examples (ci profile, derandomized), the declared conventions and the documented
deviations from the exact math. Error ratios are left out (they move with BLAS builds).
Regenerate: ``dlproof summaries reports/conformance``; a test keeps them in step.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

#: documented deviations of built-in targets from the exact math (each one is a declared convention)
DEVIATIONS = {
    "torch.float32": ["float32: tolerances from the error model at u = 2^-24"],
    "numpy.float32": ["float32: tolerances from the error model at u = 2^-24"],
    "numpy.clip_eps": ["clip_eps = 1e-6: g' = g min(1, c/(||g|| + 1e-6)), applied always (torch's rule); "
                       "not idempotent (clip.norm.eps.not_idempotent)"],
    "numpy.clip_per_tensor": ["clip_scope = per_tensor: each tensor clipped by its own norm (Keras clipnorm); "
                              "the direction of the whole gradient is not kept (clip.per_tensor.not_global_direction)"],
    "numpy.gru_reset_before": ["gru = reset_before: n = tanh(W_xn x + b_xn + b_hn + W_hn (r h)) (Keras reset_after=False, d2l)"],
    "numpy.relu": ["rnn_activation = relu, relu'(0) := 0"],
    "torch.nn": ["clip_grad_norm_ scales by min(1, c/(||g|| + 1e-6)), applied always: clip_eps = 1e-6, not idempotent",
                 "two bias vectors (bias = two): the canonical bias is loaded as b_ih with b_hh = 0, except the GRU "
                 "candidate's b_hn; dL/db is reported as dL/db_ih",
                 "GRU is reset-after (r applied to W_hn h + b_hn), as cuDNN",
                 "clip_norm_scaling = unscaled: clip_grad_norm_ forms sum g^2 in the dtype; once it overflows "
                 "(float32 ||g|| > ~1.8e19, float64 > ~1.3e154) it returns N = inf and scales every gradient to 0, "
                 "once every square underflows (|g| < ~2.6e-23 / 1.6e-162) it returns N = 0"],
    "torch.nn.float64": ["as torch.nn, in float64"],
    "torch.nn.relu": ["as torch.nn, nonlinearity='relu' (RNN capabilities only)"],
    "keras": ["bias per kind: SimpleRNN and LSTM have one bias vector, GRU(reset_after=True) a (2, 3n) bias "
              "(two: the canonical b_r, b_z, b_xn in the input row, b_hn in the recurrent row)",
              "float32 only: on the torch backend Keras computes float64 matmuls in float32",
              "time-major protocol inputs are transposed to Keras' batch-major layout and back"],
    "keras.gru_reset_before": ["gru = reset_before (GRU(reset_after=False)): one (3n,) bias; b_xn and b_hn act "
                               "as their sum and get the same gradient"],
    "keras.relu": ["SimpleRNN(activation='relu') and its Bidirectional"],
    "keras.clipnorm": ["optimizer clipnorm clips each tensor by its own norm: clip_scope = per_tensor, "
                       "g c / max(||g||, c); no pre-clip norm is returned",
                       "clip_norm_scaling = unscaled_product_first: each tensor's sum g^2 is formed directly (inf once "
                       "it overflows, 0 once every square underflows) and g c is computed first, so g c overflows to "
                       "inf (NaN when N = inf too) or underflows to 0 at extreme max_norm (float32 g = 1e19, c = 1e20: inf)"],
    "keras.global_clipnorm": ["optimizer global_clipnorm: c min(1/N, 1/c), no eps, the exact rule",
                              "clip_norm_scaling = unscaled_nan: global_norm forms sum g^2 directly; once it overflows "
                              "N = inf and the scale c min(1/N, 1/c) + (N - N) turns every gradient into NaN"],
    "flax": ["LSTM: no input-side bias (google/flax#3746): one bias per gate on the hidden-side Dense 'h*' (bias = one); "
             "the canonical b_* is loaded there",
             "LSTM carry is (c, h), c first; swapped to the protocol's (h, c)",
             "GRU is reset-after (GRU-A): b_r, b_z on 'ir', 'iz', b_xn on 'in', b_hn on 'hn'; 3(nm + n^2 + n) + n params",
             "float32 (JAX's default); jitted on zero-padded shape buckets (exact; rerun unpadded on non-finite values)",
             "subnormals = flush_to_zero: XLA on CPU reads subnormal operands as 0 and flushes subnormal results to 0 "
             "(float32 and float64)"],
    "flax.float64": ["as flax, in float64 (jax.enable_x64 scoped to each call)"],
    "flax.optimized_lstm": ["as flax, with OptimizedLSTMCell (same params as LSTMCell, one concatenated matmul per side)"],
    "optax": ["clip_by_global_norm: select on N < c (strict), no eps: at N = c the clip branch (g/N) c runs, equal to g "
              "up to rounding, so clip_eps = 0 (the exact rule); max_norm = 0 with N = 0 gives NaN (optax#1752, not drawn)",
              "clip_norm_scaling = unscaled: optax.tree.norm forms sum g^2 directly; once it overflows N = inf and "
              "(g / N) c = 0 zeroes every gradient; once every square underflows N = 0 (identity)",
              "subnormals = flush_to_zero: XLA on CPU reads subnormal operands as 0 and flushes subnormal results to 0"],
}

#: which versions matter for a built-in, by the first part of its name
FRAMEWORKS = {"numpy": ("numpy",), "torch": ("numpy", "torch"), "keras": ("keras", "torch"),
              "flax": ("jax", "flax"), "optax": ("jax", "optax"), "d2l": ("d2l", "torch")}


def _slug(spec: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", spec)


def summary(spec: str, report: dict) -> dict:
    """The deterministic part of a one-target report."""
    target = report["provenance"]["targets"][spec]
    relevant = FRAMEWORKS.get(spec.split(".")[0], ())
    versions = {k: v for k, v in report["provenance"]["versions"].items() if k in relevant and v}
    return {
        "target": spec,
        "name": target["name"],
        "dtype": target["dtype"],
        "profile": report["provenance"]["profile"],
        "versions": versions,
        "declared_conventions": target["declared_conventions"],
        "conventions": target["conventions"],
        "capabilities": target["capabilities"],
        "deviations": DEVIATIONS.get(spec, []),
        "properties": {r["property"]: {"verdict": r["verdict"], "examples": r["examples"]}
                       for r in sorted(report["results"], key=lambda r: r["property"]) if r["target"] == spec},
    }


def _sorted(v):
    """A convention value with mapping keys in sorted order (deterministic Markdown)."""
    return dict(sorted(v.items())) if isinstance(v, dict) else v


def markdown(s: dict) -> str:
    lines = [f"# Conformance: `{s['target']}`", "", f"{s['name']}, {s['dtype']}, profile `{s['profile']}`; "
             + ", ".join(f"{k} {v}" for k, v in sorted(s["versions"].items())) + ".", "",
             "Declared conventions: " + (", ".join(f"`{k}={_sorted(v)}`" for k, v in sorted(s["declared_conventions"].items()))
                                          or "none (exact math)")
             + ".", ""]
    if s["deviations"]:
        lines += ["Documented deviations:"] + [f"- {d}" for d in s["deviations"]] + [""]
    lines += ["| property | verdict | examples |", "|---|---|---|"]
    lines += [f"| `{p}` | {v['verdict']} | {v['examples']} |" for p, v in sorted(s["properties"].items())]
    return "\n".join(lines) + "\n"


def write(s: dict, out_dir) -> None:
    from dlproof.atomic import write_atomic, write_json

    out = Path(out_dir)
    write_json(out / f"{_slug(s['target'])}.json", s, indent=1, sort_keys=True)
    write_atomic(out / f"{_slug(s['target'])}.md", markdown(s))


def run(spec: str, out_dir, profile: str = "ci") -> dict:
    """Run ``dlproof conform spec`` in a fresh process and write its summary into ``out_dir``."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "dlproof", "conform", spec, "--profile", profile, "--report", tmp],
                       check=False, stdout=subprocess.DEVNULL, env=dict(os.environ))
        path = Path(tmp) / "correctness.json"
        if not path.exists():
            raise RuntimeError(f"dlproof conform {spec} wrote no report")
        s = summary(spec, json.loads(path.read_text(encoding="utf-8")))
    write(s, out_dir)
    return s
