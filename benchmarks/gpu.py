"""GPU check (optional; run it only where torch sees a CUDA device): conformance and timings on CUDA.

    python benchmarks/gpu.py [--out reports/gpu] [--quick] [--skip-conformance] [--specs NAME ...]

1. Conformance: `dlproof conform` (ci profile) of the CUDA built-ins ``torch.cuda`` (float64),
   ``torch.cuda.float32`` (dlproof.impl.torch_ref on cuBLAS), ``torch.nn.cuda`` (cuDNN's LSTM / GRU / RNN,
   TF32 off) and ``torch.nn.cuda.tf32`` (TF32 on, matmul_precision = "tf32": the error model at
   u = 2^-11). Summaries go to OUT/conformance/.
2. Accuracy at the benchmark sizes: cuDNN's LSTM and GRU forward and full backward in float32 and TF32
   against the float64 NumPy references on the same inputs, as the largest ratio |error| / tolerance over
   all entries, with the entry-wise tolerances of the error model (properties/tolerances.py) at the arithmetic
   the targets declare (`declared_arithmetic`: float32 with cuDNN's activation_ulps, or TF32); <= 1 passes.
3. Timings, forward + full backward (gradients of inputs, initial states and every weight): cuDNN
   (nn.LSTM / nn.GRU) against dlproof.impl.torch_ref's loop over time steps on the same device, float32
   (TF32 off and on) and float64, each the median of repeated runs after warm-ups, the two interleaved in
   one run (benchmarks/perf/timing.py `bench`), with torch.cuda.synchronize() closing every call. The
   device's GEMM rate (8192^3 matmul) is measured in the same run.

4. Activation accuracy in the convention's unit: the measurement of ``act.{rnn,lstm,gru}_cell.accuracy``
   (dlproof/properties/activation_accuracy.py: zero weights, 50-digit reference, the smallest activation_ulps
   consistent with the outputs, absolute, u = 2^-24) on the CUDA targets, beside what each declares
   (torch.nn.cuda: dlproof.impl.adapters.torch_device.CUDNN_ACTIVATION_ULPS). Also the older per-output figure in
   float32 ulps of the exact value (`activation_accuracy`).

Writes OUT/gpu.json and OUT/gpu.md. Without CUDA it exits 2 and writes nothing. ``--device cpu`` runs the script's
own code on the CPU (a dry run, tests/adapters/test_torch_device.py).
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from perf import recurrent, timing  # noqa: E402

DEVICE = "cuda"  # --device cpu: a dry run of the script's own code on a machine without CUDA
SPECS = ("torch.cuda", "torch.cuda.float32", "torch.nn.cuda", "torch.nn.cuda.tf32")
PRECISIONS = (("float32", False), ("float32", True), ("float64", False))


def _label(dtype: str, tf32: bool) -> str:
    return "tf32" if tf32 else dtype


def _sync(fn):
    import torch

    def run():
        fn()
        if DEVICE == "cuda":
            torch.cuda.synchronize()
    return run


def conformance(specs, out: Path) -> dict:
    """`dlproof conform SPEC` per spec (fresh process); the summary to OUT/conformance/, and the first line
    of each failure message and the worst |error| / tolerance into the result."""
    import subprocess

    from dlproof import conformance as conf

    res = {}
    for spec in specs:
        t = time.perf_counter()
        run_dir = out / "runs" / spec
        subprocess.run([sys.executable, "-m", "dlproof", "conform", spec, "--report", str(run_dir)],
                       check=False, stdout=subprocess.DEVNULL)
        path = run_dir / "correctness.json"
        if not path.exists():
            res[spec] = {"error": "dlproof conform wrote no report"}
            continue
        report = json.loads(path.read_text(encoding="utf-8"))
        s = conf.summary(spec, report)
        conf.write(s, out / "conformance")
        verdicts = [v["verdict"] for v in s["properties"].values()]
        bad = [r for r in report["results"] if r["verdict"] in ("fail", "error")]
        res[spec] = {"target": s["name"], "seconds": round(time.perf_counter() - t, 1),
                     **{k: verdicts.count(k) for k in ("pass", "fail", "error", "not provided")},
                     "failing": {r["property"]: {"worst_error_ratio": r["worst_error_ratio"],
                                                 "message": (r["message"] or "").splitlines()[:3]} for r in bad}}
        print(f"conformance {spec}: {res[spec]}", flush=True)
    return res


def activation_accuracy() -> list:
    """cuDNN's elementwise work alone: LSTM and GRU steps with all weights 0 (no products, so TF32 plays no
    part), zero initial states and biases over [-8, 8] (GRU's z over [-8, 0]), so that every output is a
    product of activations with no cancellation: c' = sigmoid(b_i) tanh(b_g), h' = sigmoid(b_o) tanh(c'),
    GRU h' = (1 - sigmoid(b_z)) tanh(b_xn). Any float32 implementation whose activations are within 4 ulps
    (the error model's assumption) stays within about 10 ulps here; the error against float64 is reported in
    float32 ulps of the exact value, beside torch.sigmoid / torch.tanh on the same device."""
    import torch

    rows = []
    rng = np.random.default_rng(11)
    n, B = 512, 64
    for tf32 in (False, True):
        from dlproof.impl.adapters.torch_device import _Precision

        with torch.device(DEVICE), _Precision(tf32), torch.no_grad():
            for kind in ("lstm", "gru"):
                G = 4 if kind == "lstm" else 3
                mod = (torch.nn.LSTM if kind == "lstm" else torch.nn.GRU)(1, n)
                b = rng.uniform(-8, 8, G * n).astype(np.float32)
                if kind == "gru":
                    b[n:2 * n] = -np.abs(b[n:2 * n])  # z <= 1/2: 1 - z is not a cancellation
                mod.weight_ih_l0.zero_()
                mod.weight_hh_l0.zero_()
                mod.bias_ih_l0.copy_(torch.tensor(b))
                mod.bias_hh_l0.zero_()
                h0 = np.zeros((1, B, n), np.float32)
                c0 = np.zeros((1, B, n), np.float32)
                x = torch.zeros(1, B, 1)
                sig = lambda v: 0.5 * (1 + np.tanh(0.5 * v))  # noqa: E731
                b64, hh, cc = b.astype(np.float64), h0[0].astype(np.float64), c0[0].astype(np.float64)
                if kind == "lstm":
                    _, (hT, cT) = mod(x, (torch.tensor(h0), torch.tensor(c0)))
                    i, f, g, o = (b64[k * n:(k + 1) * n] for k in range(4))
                    c_want = sig(f) * cc + sig(i) * np.tanh(g)
                    outs = {"h'": (hT[0], sig(o) * np.tanh(c_want)), "c'": (cT[0], c_want)}
                else:
                    _, hT = mod(x, torch.tensor(h0))
                    r, z, nn_ = (b64[k * n:(k + 1) * n] for k in range(3))
                    cand = np.tanh(nn_)  # b_hn = 0 and W_hn h = 0: r * (0) vanishes
                    outs = {"h'": (hT[0], (1 - sig(z)) * cand + sig(z) * hh)}
                for name, (got, want) in outs.items():
                    rows.append({"what": f"cuDNN {kind} {name} (zero weights and states)", "tf32": tf32, "max_ulps": _ulps(got, want)})
                a = torch.tensor(rng.uniform(-8, 8, 1 << 16).astype(np.float32))
                a64 = a.cpu().numpy().astype(np.float64)
                if kind == "lstm":
                    rows.append({"what": "torch.sigmoid", "tf32": tf32, "max_ulps": _ulps(torch.sigmoid(a), sig(a64))})
                    rows.append({"what": "torch.tanh", "tf32": tf32, "max_ulps": _ulps(torch.tanh(a), np.tanh(a64))})
    for r in rows:
        print("activations", r, flush=True)
    return rows


#: the device targets whose activations are measured: (label, torch.nn adapter or torch_ref, tf32)
ACTIVATION_TARGETS = (("torch.nn.cuda", "nn", False), ("torch.nn.cuda.tf32", "nn", True),
                      ("torch.cuda.float32", "ref", False))
ACTIVATION_EXAMPLES = 50  # zero-weight problems of 16 units x 4 rows per cell kind (seed 0)


def activation_ulps(examples: int = ACTIVATION_EXAMPLES) -> list:
    """Per device target and cell kind: the measured activation_ulps (`activation_accuracy.measure_target`, the
    largest over ``examples`` zero-weight problems) and the declared one. The targets are built as the CUDA
    built-ins are (`torch_device.on_device` on DEVICE, torch.nn.cuda declaring CUDNN_ACTIVATION_ULPS)."""
    from dlproof.impl.adapters import torch_device
    from dlproof.impl.adapters.torch_nn import target as nn_target
    from dlproof.impl.targets import torch_target
    from dlproof.properties import activation_accuracy as aa

    rows = []
    for label, base, tf32 in ACTIVATION_TARGETS:
        ulps = torch_device.CUDNN_ACTIVATION_ULPS if base == "nn" and not tf32 else None
        t = torch_device.on_device((nn_target if base == "nn" else torch_target)("float32"), DEVICE, tf32,
                                   activation_ulps=ulps)
        for kind, x in aa.measure_target(t, examples=examples, seed=0).items():
            rows.append({"target": label, "kind": kind, "measured_ulps": x,
                         "declared_ulps": float(t.convention("activation_ulps")), "tf32": tf32})
            print("activation_ulps", rows[-1], flush=True)
    return rows


def _ulps(got, want) -> float:
    got = got.detach().cpu().numpy().astype(np.float64)
    ulp = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    return float(np.max(np.abs(got - want) / ulp))


def _module_grads(kind, mod, x, h0, c0, g, gh, gc):
    import torch

    leaves = [x, h0] + ([c0] if kind == "lstm" else []) + list(mod.parameters())
    if kind == "lstm":
        out, (hT, cT) = mod(x, (h0, c0))
        L = (out * g).sum() + (hT * gh).sum() + (cT * gc).sum()
        finals = [hT[0], cT[0]]
    else:
        out, hT = mod(x, h0)
        L = (out * g).sum() + (hT * gh).sum()
        finals = [hT[0]]
    grads = torch.autograd.grad(L, leaves)
    return out, finals, grads


def accuracy(kind: str, cfg, dtype: str, tf32: bool) -> dict:
    """max |cuDNN - float64 reference| / tolerance over the forward outputs and every gradient."""
    import torch

    from dlproof.impl.adapters.torch_device import _Precision
    from dlproof.impl.numpy_ref import gru as np_gru, lstm as np_lstm
    from dlproof.properties import tolerances as tol

    B, T, n, m = cfg
    prec = declared_arithmetic(dtype, tf32)
    td = getattr(torch, dtype)
    with torch.device(DEVICE), _Precision(tf32):
        mod, x, h0, c0, g, gh, gc = recurrent.torch_problem(kind, B, T, n, m, td, seed=5)
        out, finals, grads = _module_grads(kind, mod, x, h0, c0, g, gh, gc)
    f64 = lambda t: t.detach().cpu().numpy().astype(np.float64)  # noqa: E731
    p = recurrent.canonical_params(kind, mod)
    p = {k: v.astype(np.float64) for k, v in p.items()}
    xs, h, c, d_hs, d_hT, d_cT = (f64(a) for a in (x, h0[0], c0[0], g, gh[0], gc[0]))
    if kind == "lstm":
        hs, (hT, cT) = np_lstm.lstm(xs, h, c, p)
        ref = np_lstm.lstm_vjp(xs, h, c, p, d_hs, d_hT, d_cT)
        t_hs, (t_hT, t_cT) = tol.lstm_forward_tol(xs, h, c, p, prec)
        t_g = _vjp_tol(lambda: tol.lstm_vjp_tol(xs, h, c, p, d_hs, d_hT, d_cT, prec))
        want_f, tol_f = [hs, hT, cT], [t_hs, t_hT, t_cT]
        names = ["xs", "h0", "c0"]
    else:
        hs, hT = np_gru.gru(xs, h, p, "reset_after")
        ref = np_gru.gru_vjp(xs, h, p, d_hs, d_hT, "reset_after")
        t_hs, t_hT = tol.gru_forward_tol(xs, h, p, "reset_after", prec)
        t_g = _vjp_tol(lambda: tol.gru_vjp_tol(xs, h, p, d_hs, d_hT, "reset_after", prec))
        want_f, tol_f = [hs, hT], [t_hs, t_hT]
        names = ["xs", "h0"]
    got_f = [f64(out)] + [f64(a) for a in finals]
    # the module's weight gradients, read back per gate block as the canonical names (bias_ih's block = d b_*)
    gw = dict(zip([f"{a}_l0" for a in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")],
                  (f64(t) for t in grads[len(names):])))
    canon = recurrent.canonical_params(kind, _Grads(gw))
    if kind == "lstm":
        canon = {k: (gw["bias_ih_l0"][("ifgo".index(k[-1])) * n:("ifgo".index(k[-1]) + 1) * n] if k.startswith("b_")
                     else v) for k, v in canon.items()}
    else:
        canon.update({"b_r": gw["bias_ih_l0"][:n], "b_z": gw["bias_ih_l0"][n:2 * n]})
    worst, rel = 0.0, 0.0
    pairs = list(zip(got_f, want_f, tol_f))
    if t_g is not None:  # else the model has no bound: gamma_k needs k u < 1 (k = T B for dW at u = 2^-11)
        pairs += [(f64(grads[i]), ref[k], t_g[k]) for i, k in enumerate(names)]
        pairs += [(canon[k], ref["params"][k], t_g["params"][k]) for k in ref["params"]]
    for got, want, t in pairs:
        err = np.abs(got - want)
        worst = max(worst, float(np.max(err / np.maximum(t, np.finfo(np.float64).tiny))))
        rel = max(rel, float(np.max(err) / max(np.max(np.abs(want)), 1e-300)))
    return {"max_err_over_tol": worst, "max_rel_err": rel, "passes": worst <= 1.0,
            "checked": "forward and gradients" if t_g is not None else "forward only (no gradient bound: k u >= 1)"}


def declared_arithmetic(dtype: str, tf32: bool):
    """The arithmetic the CUDA targets declare (tolerances.Arithmetic): TF32 at u = 2^-11; float32 cuDNN with
    torch_device.CUDNN_ACTIVATION_ULPS (torch.nn.cuda); float64 the default."""
    from dlproof.impl.adapters.torch_device import CUDNN_ACTIVATION_ULPS
    from dlproof.properties import tolerances as tol

    if tf32:
        return tol.Arithmetic("tf32", "float32")
    return tol.Arithmetic(dtype, dtype, CUDNN_ACTIVATION_ULPS if dtype == "float32" else tol.ACT_ULPS)


def _vjp_tol(fn):
    """The VJP tolerances, or None where the error model gives no bound (gamma_k with k u >= 1)."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return fn()
    except ValueError as exc:
        if "gamma_k undefined" in str(exc):
            return None
        raise


class _Grads:
    """Gradients laid out as a module's parameters, for `perf.recurrent.canonical_params` (which sums the two
    biases; the caller then replaces the summed bias gradients by bias_ih's blocks)."""

    def __init__(self, gw: dict):
        import torch

        for k, v in gw.items():
            setattr(self, k, torch.tensor(v))


def ref_step(kind: str, B, T, n, m, td, seed=0):
    """forward + backward of dlproof.impl.torch_ref's time loop on the current device (autograd)."""
    import torch

    from dlproof.impl.torch_ref import gru, lstm

    mod, x, h0, c0, g, gh, gc = recurrent.torch_problem(kind, B, T, n, m, td, seed)
    P = {k: torch.tensor(v, dtype=td, requires_grad=True) for k, v in recurrent.canonical_params(kind, mod).items()}
    leaves = [x, h0, c0, *P.values()]

    def step():
        if kind == "lstm":
            hs, hT, cT = lstm._run(x, h0[0], c0[0], P)
            L = (hs * g).sum() + (hT * gh[0]).sum() + (cT * gc[0]).sum()
        else:
            hs, hT = gru._run(x, h0[0], P, "reset_after")
            L = (hs * g).sum() + (hT * gh[0]).sum()
        torch.autograd.grad(L, leaves, allow_unused=True)
    return step


def timings(s: timing.Settings, kinds=("lstm", "gru")) -> list:
    import torch

    rows = []
    for cfg in s.sizes:
        B, T, n, m = cfg
        for kind in kinds:
            for dtype, tf32 in PRECISIONS:
                from dlproof.impl.adapters.torch_device import _Precision

                td = getattr(torch, dtype)
                with torch.device(DEVICE), _Precision(tf32):
                    _, _, cudnn = recurrent.torch_step(kind, B, T, n, m, td)
                    ref = ref_step(kind, B, T, n, m, td)
                    t = timing.bench({"cudnn": _sync(cudnn), "torch_ref": _sync(ref)}, s)
                flops = 3 * recurrent.matmul_flops(kind, B, T, n, m)  # forward + backward (dX and dW GEMMs)
                row = {"kind": kind, "config": list(cfg), "precision": _label(dtype, tf32),
                       "cudnn_ms": 1e3 * t["cudnn"]["median"], "torch_ref_ms": 1e3 * t["torch_ref"]["median"],
                       "torch_ref_over_cudnn": timing.ratio(t["torch_ref"], t["cudnn"]),
                       "cudnn_tflops": flops / t["cudnn"]["median"] / 1e12,
                       "iqr_over_median": {k: v["iqr"] / v["median"] for k, v in t.items()}}
                rows.append(row)
                print(f"time {kind} {cfg} {row['precision']}: cudnn {row['cudnn_ms']:.2f} ms, torch_ref "
                      f"{row['torch_ref_ms']:.2f} ms", flush=True)
    return rows


def gemm_rates(s: timing.Settings) -> dict:
    import torch

    from dlproof.impl.adapters.torch_device import _Precision

    out = {}
    N = 512 if DEVICE != "cuda" else 4096 if s.quick else 8192
    for dtype, tf32 in PRECISIONS:
        with torch.device(DEVICE), _Precision(tf32):
            a, b = (torch.randn(N, N, dtype=getattr(torch, dtype)) for _ in range(2))
            t = timing.bench({"mm": _sync(lambda: a @ b)}, s)["mm"]
        out[_label(dtype, tf32)] = {"n": N, "tflops": 2 * N ** 3 / t["median"] / 1e12}
    return out


def flags() -> dict:
    """torch's TF32 switches as the targets set them (torch_device.tf32_state)."""
    from dlproof.impl.adapters.torch_device import _Precision, tf32_state

    out = {}
    for tf32 in (False, True):
        with _Precision(tf32):
            out["tf32 on" if tf32 else "tf32 off"] = {k: str(v) for k, v in tf32_state().items()}
    return out


def environment() -> dict:
    import torch

    if DEVICE != "cuda":
        return {"device": f"{DEVICE} (dry run)", "multiprocessors": 0, "memory_gib": 0, "torch": torch.__version__,
                "cuda": None, "cudnn": None, "python": platform.python_version(), "numpy": np.__version__}
    p = torch.cuda.get_device_properties(0)
    return {"device": torch.cuda.get_device_name(0), "multiprocessors": p.multi_processor_count,
            "memory_gib": round(p.total_memory / 2 ** 30, 1), "torch": torch.__version__,
            "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(), "python": platform.python_version(),
            "numpy": np.__version__}


def render(doc: dict) -> str:
    e = doc["environment"]
    lines = ["# GPU check: conformance and timings on CUDA", "",
             f"Regenerate on a machine with CUDA: `{doc['command']}`. Device: {e['device']} "
             f"({e['multiprocessors']} SMs, {e['memory_gib']} GiB); torch {e['torch']}, CUDA {e['cuda']}, "
             f"cuDNN {e['cudnn']}, Python {e['python']}, NumPy {e['numpy']}. Date: {doc['date']}.", "",
             "## Conformance (ci profile)", "",
             "| target | name | pass | fail | error | not provided | seconds | failing |", "|---|---|---|---|---|---|---|---|"]
    for spec, r in doc["conformance"].items():
        if "error" in r and isinstance(r["error"], str):
            lines.append(f"| `{spec}` | run failed: {r['error']} | | | | | | |")
            continue
        lines.append(f"| `{spec}` | {r['target']} | {r['pass']} | {r['fail']} | {r['error']} | {r['not provided']} "
                     f"| {r['seconds']} | {', '.join(r['failing']) or '-'} |")
    for spec, r in doc["conformance"].items():
        for pid, f in (r.get("failing") or {}).items():
            msg = " ".join(f["message"]).split(" [")[0].replace("|", "/")
            lines.append(f"\n- `{spec}` {pid}: {msg}")
    factors = [float(x) for r in doc["conformance"].values() for f in (r.get("failing") or {}).values()
               for x in re.findall(r"= ([0-9.]+) x tolerance", " ".join(f["message"]))]
    if factors and doc.get("schema", 1) >= 2:
        lines += ["", f"Reading: the failures exceed the error model by {min(factors):.2f}x to {max(factors):.2f}x its "
                  "tolerance. torch.nn.cuda is checked at float32 with the activation accuracy it declares "
                  "(activation_ulps, measured in the table \"Activation accuracy\" below); each failure left is a "
                  "finding or a declared convention with its measurement, never a looser precision."]
    elif factors:
        small = {prec: [r["max_rel_err"] for r in doc["accuracy"] if r["config"] == list(timing.SMALL)
                        and r["precision"] == prec] for prec in ("float32", "tf32")}
        lines += ["", f"Reading: the failures exceed the float32 error model by {min(factors):.2f}x to "
                  f"{max(factors):.2f}x its tolerance, all on problems of one or two units, and pass the TF32 model "
                  "(u = 2^-11). The TF32 switches do act on cuDNN (relative error at the small benchmark size: at most "
                  f"{max(small['float32']):.1e} with them off, at least {min(small['tf32']):.1e} on, table below), so the excess "
                  "is cuDNN's own float32 arithmetic, not TF32 rounding. A float32 cuDNN target is therefore "
                  "checked with matmul_precision = \"tf32\" (torch.nn.cuda.tf32)."]
    if doc.get("flags"):
        lines += ["", "torch's precision switches as set by the targets: " + "; ".join(
            f"{k}: " + ", ".join(f"{kk}={vv}" for kk, vv in v.items()) for k, v in doc["flags"].items()) + "."]
    if doc.get("activations"):
        lines += ["", "## Elementwise accuracy (all weights 0: no products)", "",
                  "| what | TF32 switches | max error, float32 ulps |", "|---|---|---|"]
        lines += [f"| {r['what']} | {'on' if r['tf32'] else 'off'} | {r['max_ulps']:.3g} |" for r in doc["activations"]]
    if doc.get("activation_ulps"):
        lines += ["", "## Activation accuracy (the convention's unit)", "",
                  "act.*_cell.accuracy's measurement: all weights 0, the smallest activation_ulps consistent with the "
                  "outputs against the 50-digit reference over "
                  f"{doc.get('activation_examples', '?')} problems per kind "
                  "(absolute error of one tanh / sigmoid in u = 2^-24), beside the target's declaration.", "",
                  "| target | kind | measured activation_ulps | declared | within |", "|---|---|---|---|---|"]
        lines += [f"| `{r['target']}` | {r['kind']} | {r['measured_ulps']:.3g} | {r['declared_ulps']:g}"
                  f"{' (of u = 2^-11)' if r['tf32'] else ''} | "
                  f"{'yes' if r['tf32'] or r['measured_ulps'] <= r['declared_ulps'] else 'NO'} |"
                  for r in doc["activation_ulps"]]
    lines += ["", "## Accuracy of cuDNN at the benchmark sizes against the float64 references", "",
              "Largest |error| / tolerance over every output and gradient entry (the error model's entry-wise "
              "bound, SAFETY included; <= 1 passes), and the largest error relative to the largest entry.", "",
              "| kind | (B, T, n, m) | precision | checked | max err / tol | max rel. err | passes |",
              "|---|---|---|---|---|---|---|"]
    for r in doc["accuracy"]:
        lines.append(f"| {r['kind']} | {tuple(r['config'])} | {r['precision']} | {r['checked']} | "
                     f"{r['max_err_over_tol']:.3g} | {r['max_rel_err']:.2e} | {'yes' if r['passes'] else 'NO'} |")
    lines += ["", "## Forward + full backward, cuDNN against dlproof.impl.torch_ref's time loop", "",
              "GEMM rate of the device in this run (N^3 matmul): " +
              ", ".join(f"{k} {v['tflops']:.1f} TFLOP/s" for k, v in doc["gemm"].items()) + ".", "",
              "| kind | (B, T, n, m) | precision | cuDNN ms | torch_ref ms | torch_ref / cuDNN | cuDNN TFLOP/s |",
              "|---|---|---|---|---|---|---|"]
    for r in doc["timings"]:
        lines.append(f"| {r['kind']} | {tuple(r['config'])} | {r['precision']} | {r['cudnn_ms']:.2f} | "
                     f"{r['torch_ref_ms']:.2f} | {r['torch_ref_over_cudnn']:.2f} | {r['cudnn_tflops']:.2f} |")
    if doc.get("errors"):
        lines += ["", "## Parts that failed", ""] + [f"- {e['part']}: {e['error']}" for e in doc["errors"]]
    return "\n".join(lines) + "\n"


def _guarded(doc: dict, what: str, fn) -> None:
    """Run one part; a failure is recorded in doc["errors"] and the other parts still run."""
    import traceback

    try:
        fn()
    except Exception as exc:  # noqa: BLE001
        doc["errors"].append({"part": what, "error": f"{type(exc).__name__}: {exc}"})
        traceback.print_exc()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "reports" / "gpu"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--skip-conformance", action="store_true")
    ap.add_argument("--specs", nargs="*", default=list(SPECS))
    ap.add_argument("--device", default="cuda", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    import torch

    global DEVICE
    DEVICE = args.device
    if DEVICE == "cuda" and not torch.cuda.is_available():
        print("gpu.py: torch.cuda.is_available() is False: nothing to check here", file=sys.stderr)
        return 2
    out = Path(args.out)
    s = timing.Settings(repeats=3 if args.quick else 9, warmup=1 if args.quick else 3,
                      sizes=[timing.SMALL] if args.quick else [timing.SMALL, timing.LARGE])
    doc = {"schema": 2, "command": "python benchmarks/gpu.py" + (" --quick" if args.quick else ""),
           "date": datetime.date.today().isoformat(), "environment": environment()}
    doc["conformance"] = {} if args.skip_conformance else conformance(args.specs, out)
    doc["accuracy"], doc["gemm"], doc["timings"], doc["errors"] = [], {}, [], []
    doc["flags"] = flags()
    for cfg in s.sizes:
        for k in ("lstm", "gru"):
            for d, tf in PRECISIONS[:2]:
                row = {"kind": k, "config": list(cfg), "precision": _label(d, tf)}
                _guarded(doc, f"accuracy {row}", lambda: doc["accuracy"].append({**row, **accuracy(k, cfg, d, tf)}))
                print("accuracy", doc["accuracy"][-1:], flush=True)
    doc["activations"] = []
    _guarded(doc, "activations", lambda: doc["activations"].extend(activation_accuracy()))
    doc["activation_ulps"], doc["activation_examples"] = [], ACTIVATION_EXAMPLES
    _guarded(doc, "activation_ulps", lambda: doc["activation_ulps"].extend(activation_ulps()))
    _guarded(doc, "gemm", lambda: doc["gemm"].update(gemm_rates(s)))
    _guarded(doc, "timings", lambda: doc["timings"].extend(timings(s)))
    from dlproof.atomic import write_atomic, write_json

    write_json(out / "gpu.json", doc, indent=1, sort_keys=True)
    write_atomic(out / "gpu.md", render(doc))
    print(render(doc))
    return 1 if doc["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
