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
    "torch.nn.cuda": ["as torch.nn, on CUDA (cuDNN's fused kernels), TF32 off (matmul_precision = ieee)",
                      "activation_ulps = 9: cuDNN's float32 tanh/sigmoid err by up to 8.005 u (absolute, u = 2^-24) "
                      "with all weights 0 (reports/gpu/gpu.md); every model charges 9 u per activation and "
                      "act.*_cell.accuracy re-measures it"],
    "torch.nn.cuda.tf32": ["as torch.nn, on CUDA with TF32 on: matmul_precision = tf32 (every operation modelled at "
                           "u = 2^-11)"],
    "onnxruntime": ["one-node ONNX graphs on the CPUExecutionProvider (RNN/LSTM/GRU opset 22, Softmax 13, Conv 22, "
                    "BatchNormalization 15, LayerNormalization 17, Attention 25), float32 only, no gradients, no mha",
                    "LSTM gate order iofc, GRU zrh; the canonical bias in Wb, Rb = 0 except the GRU's Rbh = b_hn "
                    "(bias = two); GRU linear_before_reset=1 (reset-after); layout=0 only (layout=1 refused: "
                    "onnxruntime-rnn-layout-batchwise)",
                    "activation_ulps = 10.1: the GRU kernel's tanh is 10.1u off and reaches +-(1 + 10u) "
                    "(onnxruntime-gru-tanh-overshoot)",
                    "bn_running_var = biased; ONNX's float32 momentum weighs the old value, so momentum m arrives as "
                    "1 - fl32(1 - m): 216u off at m = 0.001 (onnxruntime-batchnorm-momentum-float32; bn.running_stats "
                    "fails)",
                    "T = 0 refused: the GRU kernel aborts the process, RNN/LSTM return zero states "
                    "(onnxruntime-empty-sequence)",
                    "subnormals = softmax_flush_to_zero: Softmax (and Attention) return 0 for an output below "
                    "float32's smallest normal number; Exp and Mul underflow gradually, the cells meet the gradual model "
                    "(onnxruntime-softmax-flushes-subnormals)"],
    "onnxruntime.gru_reset_before": ["GRU linear_before_reset=0 (reset-before: b_xn in Wbh, b_hn in Rbh, acting as "
                                     "their sum); otherwise as onnxruntime"],
    "onnxruntime.relu": ["RNN activations=['Relu'] (RNN capabilities only)"],
    "numpy.float16": ["dlproof's NumPy reference in float16; accumulate=float32 (measured: NumPy's float16 matmul sums "
                      "2048 + 4095 ones to 6144, one rounding of the float32 sum; the reference forms every sum that way)"],
    "numpy.bfloat16": ["dlproof's NumPy reference on ml_dtypes' bfloat16; accumulate=float32 (ml_dtypes' bfloat16 "
                       "matmul returns the float32 sum: the reference rounds it once)"],
    "torch.float16": ["dlproof's torch-ops reference in float16; accumulate=float32 (measured on torch's CPU kernels: "
                      "@, mm, addmm, bmm, F.linear and sum)"],
    "torch.bfloat16": ["dlproof's torch-ops reference in bfloat16; accumulate=float32 (measured as torch.float16)"],
    "torch.nn.float16": ["as torch.nn, in float16; accumulate=float32 (measured: a float16 accumulator turns "
                         "[1, 2^-12 x 1024, -1] . 1 into 0, torch's nn.Linear and recurrent modules give 0.25)",
                         "float16 nn.Conv1d crashes the process (SIGSEGV) when every window of a grouped, dilated, "
                         "strided convolution reads padding (finding torch-float16-conv1d-crash)"],
    "torch.nn.bfloat16": ["as torch.nn, in bfloat16; accumulate=float32 (measured: [1, 2^-9 x 128, -1] . 1 gives "
                          "0.25, not 0)",
                          "the bfloat16 CPU conv backward leaves the weight gradient of a padding-only kernel tap "
                          "uninitialised (finding torch-bfloat16-conv-weight-grad-padding)"],
    "torch.nn.autocast": ["float32 torch.nn modules under torch.autocast('cpu', bfloat16): bfloat16 inputs and "
                          "outputs; Linear, matmul, conv, attention, nn.RNN, nn.LSTM and nn.RNNCell run in bfloat16, "
                          "activations and norms in float32; accumulate=float32 (measured)",
                          "the same bfloat16 conv backward bug as torch.nn.bfloat16 (finding "
                          "torch-bfloat16-conv-weight-grad-padding)"],
    "keras.mixed_bfloat16": ["Keras SimpleRNN, LSTM and GRU under the mixed_bfloat16 policy: float32 variables, "
                             "bfloat16 computation; accumulate=float32 (measured: Keras' ops.matmul calls "
                             "torch.matmul on the bfloat16 operands)",
                             "no stacks or LayerNormalization (their adapters take float32/float64 only)"],
}

#: which versions matter for a built-in, by the first part of its name
FRAMEWORKS = {"numpy": ("numpy",), "torch": ("numpy", "torch"), "keras": ("keras", "torch"),
              "flax": ("jax", "flax"), "optax": ("jax", "optax"), "d2l": ("d2l", "torch"),
              "onnxruntime": ("numpy", "onnx", "onnxruntime")}


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
