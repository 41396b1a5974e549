"""Benchmark, one command for everything: GEMM rates, the training-step time of GRU vs LSTM vs vanilla RNN
(torch.nn and NumPy refs), the NumPy references against torch.nn and against their own GEMM floor (section
"reference"), the test suite's speed (section "suite", benchmarks/suite_speed.py), the conformance run time of
each third-party target ("conformance_times", benchmarks/conform_times.py) and the symbolic cost against n and
T ("symbolic", benchmarks/symbolic_scaling.py).

    python benchmarks/performance.py [--quick] [--out reports] [--threads 1] [--only SECTION ...]

Writes OUT/performance.json and OUT/performance.md (OUT defaults to the repository's reports/), and with the
symbolic section OUT/symbolic-scaling.{json,md}. ``--only`` runs some sections and merges them into the
existing performance.json (the others keep their figures and dates). The GPU check is separate
(benchmarks/gpu.py, on a CUDA machine). Every
figure is the median of --repeats (default 7) timed runs (time.perf_counter) after 2 untimed warm-ups,
with the minimum and the interquartile range beside it; a sample of a short call averages several
back-to-back calls (>= 50 ms for a GEMM, >= 100 ms for a training step). Callables that are compared are
timed in the same run,
interleaved (one run of each per round, in a rotating order), so slow drift of the machine affects them
alike; a ratio is the ratio of their medians. Torch and NumPy's BLAS are pinned to --threads threads
(default 1, so runs on small machines are comparable); NumPy's BLAS is pinned with threadpoolctl.

``--quick`` is a smoke test: 3 repeats, 1 warm-up, the small size only.

Sections are registered with `section`; each returns a JSON-able dict and renders itself to Markdown
lines. Add a section by writing a measure function and a render function and decorating the first.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shlex
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = 1
SMALL = (32, 50, 128, 128)  # (B, T, n, m)
LARGE = (64, 100, 256, 256)
MIN_SAMPLE_S = 0.1  # a timed sample of a training step lasts at least this long (several calls if needed)
NOISY = 0.25  # a figure whose IQR exceeds this fraction of its median is flagged in the Markdown
NUMPY_LIMIT_S = 20.0  # a NumPy reference call slower than this at a size is skipped there


# ---- settings and timing -------------------------------------------------------------------------------

@dataclass
class Settings:
    """What one run measures: repeats, warm-ups, pinned thread count, sizes."""

    repeats: int = 7
    warmup: int = 2
    threads: int = 1
    quick: bool = False
    sizes: list = field(default_factory=lambda: [SMALL, LARGE])
    numpy_limit_s: float = NUMPY_LIMIT_S


def stats(samples) -> dict:
    """Median, min, max, quartiles and IQR (seconds) of timed samples, plus the samples themselves."""
    a = np.asarray(samples, dtype=float)
    q1, med, q3 = np.percentile(a, [25, 50, 75])
    return {"median": float(med), "min": float(a.min()), "max": float(a.max()), "q1": float(q1),
            "q3": float(q3), "iqr": float(q3 - q1), "n": int(a.size), "samples": [float(x) for x in a]}


def autorange(fn: Callable, min_s: float = 0.05, cap: int = 1 << 16) -> int:
    """Number of back-to-back calls of ``fn`` that take at least ``min_s`` (1 for slow calls)."""
    k = 1
    while k < cap:
        t = time.perf_counter()
        for _ in range(k):
            fn()
        if time.perf_counter() - t >= min_s:
            return k
        k *= 2
    return k


def bench(fns: dict, s: Settings, inner: dict | None = None) -> dict:
    """Time each callable of ``fns`` (name -> fn) side by side; return name -> `stats` of seconds per call.

    Each round runs every callable once (``inner[name]`` back-to-back calls, averaged), in an order that
    rotates from round to round; ``s.warmup`` untimed rounds come first."""
    names = list(fns)
    inner = inner or {}
    samples = {k: [] for k in names}
    for r in range(s.warmup + s.repeats):
        order = names[r % len(names):] + names[:r % len(names)]
        for k in order:
            fn, reps = fns[k], inner.get(k, 1)
            t = time.perf_counter()
            for _ in range(reps):
                fn()
            dt = (time.perf_counter() - t) / reps
            if r >= s.warmup:
                samples[k].append(dt)
    return {k: stats(v) for k, v in samples.items()}


def ratio(a: dict, b: dict) -> float:
    """Ratio of the medians of two `stats` dicts."""
    return a["median"] / b["median"]


# ---- section registry ---------------------------------------------------------------------------------

@dataclass
class Section:
    name: str
    title: str
    measure: Callable[[Settings], dict]
    render: Callable[[dict], list]
    summarize: Callable[[dict], dict] | None = None


SECTIONS: dict[str, Section] = {}


def section(name: str, title: str, render: Callable, summarize: Callable | None = None):
    """Register the decorated ``measure(settings) -> dict`` as section ``name`` of results."""
    def deco(measure):
        SECTIONS[name] = Section(name, title, measure, render, summarize)
        return measure
    return deco


def _fmt(x, nd=2):
    return "n/a" if x is None else f"{x:.{nd}f}"


def _table(header: list, rows: list) -> list:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def _cfg(c) -> str:
    return "({}, {}, {}, {})".format(*c)


# ---- section: gemm ------------------------------------------------------------------------------------

def gemm_shapes(sizes) -> list:
    """(label, M, K, N) of the matmuls an LSTM (4n) and a GRU (3n) step use at each size, plus square 512."""
    out = []
    for B, T, n, m in sizes:
        tag = f"(B,T,n,m)={_cfg((B, T, n, m))}"
        out.append((f"LSTM input projection (B*T, m) x (m, 4n), {tag}", B * T, m, 4 * n))
        out.append((f"LSTM recurrent step (B, n) x (n, 4n), {tag}", B, n, 4 * n))
        out.append((f"GRU input projection (B*T, m) x (m, 3n), {tag}", B * T, m, 3 * n))
        out.append((f"GRU recurrent step (B, n) x (n, 3n), {tag}", B, n, 3 * n))
    out.append(("square 512 x 512 x 512", 512, 512, 512))
    return out


def _render_gemm(res: dict) -> list:
    lines = [f"GFLOP/s = 2·M·K·N / (median seconds per call); {res['method']}", ""]
    hdr = ["matmul", "M x K x N", "NumPy f32", "NumPy f64", "torch f32", "torch f64", "NumPy f32/f64"]
    rows = []
    for r in res["shapes"]:
        g = {(lib, dt): r[dt][lib]["gflops"] for dt in ("float32", "float64") for lib in ("numpy", "torch")}
        rows.append([r["label"], f"{r['M']} x {r['K']} x {r['N']}", _fmt(g["numpy", "float32"], 1),
                     _fmt(g["numpy", "float64"], 1), _fmt(g["torch", "float32"], 1), _fmt(g["torch", "float64"], 1),
                     _fmt(g["numpy", "float32"] / g["numpy", "float64"])])
    return lines + _table(hdr, rows)


def _summarize_gemm(res: dict) -> dict:
    sq = res["shapes"][-1]
    return {"numpy_gflops_square512": {dt: round(sq[dt]["numpy"]["gflops"], 2) for dt in ("float32", "float64")}}


@section("gemm", "GEMM rates (NumPy matmul, torch.matmul beside it)", _render_gemm, _summarize_gemm)
def measure_gemm(s: Settings) -> dict:
    """sgemm / dgemm rates of NumPy matmul (and torch.matmul, same run) at the LSTM/GRU shapes."""
    import torch

    rng = np.random.default_rng(0)
    shapes = []
    for label, M, K, N in gemm_shapes(s.sizes):
        row = {"label": label, "M": M, "K": K, "N": N, "flops": 2 * M * K * N}
        for dt in ("float32", "float64"):
            a, b = rng.standard_normal((M, K)).astype(dt), rng.standard_normal((K, N)).astype(dt)
            c = np.empty((M, N), dt)
            ta, tb, tc = torch.from_numpy(a.copy()), torch.from_numpy(b.copy()), torch.empty((M, N), dtype=getattr(torch, dt))
            fns = {"numpy": lambda: np.matmul(a, b, out=c), "torch": lambda: torch.matmul(ta, tb, out=tc)}
            inner = {k: autorange(f) for k, f in fns.items()}
            t = bench(fns, s, inner)
            row[dt] = {k: {"seconds": t[k], "inner_calls": inner[k], "gflops": row["flops"] / t[k]["median"] / 1e9,
                           "gflops_best": row["flops"] / t[k]["min"] / 1e9} for k in fns}
        shapes.append(row)
    return {"method": "out= preallocated; each sample averages enough back-to-back calls to last >= 50 ms",
            "shapes": shapes}


# ---- section: gru_vs_lstm -----------------------------------------------------------------------------

KINDS = ("lstm", "gru", "rnn")
GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def matmul_flops(kind: str, B, T, n, m) -> int:
    """Matmul FLOPs of one forward pass: 2·T·B·(m + n)·G·n with G = 4 (LSTM), 3 (GRU), 1 (RNN)."""
    return 2 * T * B * (m + n) * GATES[kind] * n


def torch_problem(kind: str, B, T, n, m, dtype, seed=0):
    """A seeded torch.nn module of ``kind`` and its inputs: (mod, x, h0, c0, g, g_h, g_c), the leaves
    requiring grad, the cotangents g (T, B, n), g_h and g_c (1, B, n) not."""
    import torch

    torch.manual_seed(seed)
    mod = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind](m, n).to(dtype)
    x = torch.randn(T, B, m, dtype=dtype, requires_grad=True)
    h0 = torch.randn(1, B, n, dtype=dtype, requires_grad=True)
    c0 = torch.randn(1, B, n, dtype=dtype, requires_grad=True)
    g, gh, gc = (torch.randn(*shape, dtype=dtype) for shape in ((T, B, n), (1, B, n), (1, B, n)))
    return mod, x, h0, c0, g, gh, gc


def torch_step(kind: str, B, T, n, m, dtype, seed=0):
    """(module, step) where step() runs forward + backward of sum(out*g) + sum(h_T*g_h) [+ sum(c_T*g_c)]
    and produces the gradients w.r.t. the input, the initial state(s) and every weight."""
    mod, x, h0, c0, g, gh, gc = torch_problem(kind, B, T, n, m, dtype, seed)
    leaves = [x, h0, c0, *mod.parameters()]

    def step():
        for t in leaves:
            t.grad = None
        if kind == "lstm":
            out, (hT, cT) = mod(x, (h0, c0))
            loss = (out * g).sum() + (hT * gh).sum() + (cT * gc).sum()
        else:
            out, hT = mod(x, h0)
            loss = (out * g).sum() + (hT * gh).sum()
        loss.backward()
        return out

    return mod, (x, h0, c0), step


def canonical_params(kind: str, mod) -> dict:
    """The module's weights as the NumPy references' canonical dict (W_x* (n, m), W_h* (n, n), b* (n,))."""
    w_ih, w_hh = mod.weight_ih_l0.detach().cpu().numpy(), mod.weight_hh_l0.detach().cpu().numpy()
    b_ih, b_hh = mod.bias_ih_l0.detach().cpu().numpy(), mod.bias_hh_l0.detach().cpu().numpy()
    n = w_hh.shape[1]
    blk = lambda a, k: a[k * n:(k + 1) * n].copy()  # noqa: E731
    if kind == "rnn":
        return {"W_x": w_ih.copy(), "W_h": w_hh.copy(), "b": b_ih + b_hh}
    if kind == "lstm":
        return {name: v for k, gname in enumerate("ifgo") for name, v in
                ((f"W_x{gname}", blk(w_ih, k)), (f"W_h{gname}", blk(w_hh, k)), (f"b_{gname}", blk(b_ih, k) + blk(b_hh, k)))}
    return {"W_xr": blk(w_ih, 0), "W_hr": blk(w_hh, 0), "b_r": blk(b_ih, 0) + blk(b_hh, 0),
            "W_xz": blk(w_ih, 1), "W_hz": blk(w_hh, 1), "b_z": blk(b_ih, 1) + blk(b_hh, 1),
            "W_xn": blk(w_ih, 2), "W_hn": blk(w_hh, 2), "b_xn": blk(b_ih, 2), "b_hn": blk(b_hh, 2)}


def numpy_callables(kind: str, xs, h0, c0, p, d_hs, d_hT, d_cT):
    """(forward, forward + full BPTT backward) of the NumPy reference of ``kind`` as zero-argument callables."""
    from dlproof.impl.numpy_ref import gru, lstm, rnn

    if kind == "lstm":
        return (lambda: lstm.lstm_forward(xs, h0, c0, p),
                lambda: lstm.lstm_vjp(xs, h0, c0, p, d_hs, d_hT, d_cT))
    if kind == "gru":
        return (lambda: gru.gru_forward(xs, h0, p, "reset_after"),
                lambda: gru.gru_vjp(xs, h0, p, d_hs, d_hT, "reset_after"))
    return (lambda: rnn.rnn_forward(xs, h0, p, "tanh"),
            lambda: rnn.rnn_vjp(xs, h0, p, d_hs, d_hT, "tanh"))


def numpy_steps(kind: str, mod, xs_t, B, T, n, dtype_name, seed=1):
    """(params, step, vjp_only, forward) for the NumPy reference of ``kind`` with the module's weights.

    step() = forward + vjp (the vjp recomputes its own forward); vjp_only() = the vjp alone."""
    p = canonical_params(kind, mod)
    x, h0, c0 = (t.detach().numpy().copy() for t in xs_t)
    h0, c0 = h0[0], c0[0]
    rng = np.random.default_rng(seed)
    d_hs, d_hT, d_cT = (rng.standard_normal(shape).astype(dtype_name) for shape in ((T, B, n), (B, n), (B, n)))
    fwd, vjp = numpy_callables(kind, x, h0, c0, p, d_hs, d_hT, d_cT)

    def step():
        fwd()
        return vjp()

    return p, step, vjp, fwd


def without_onednn(step):
    """``step`` run with torch's oneDNN (mkldnn) CPU kernels disabled (torch's fused float32 LSTM path)."""
    import torch

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "TF32 acceleration on top of oneDNN ..." notice
            with torch.backends.mkldnn.flags(enabled=False):
                return step()
    return run


def _ratios(t: dict, prefix: str, stat: str = "median") -> dict:
    """GRU/LSTM and RNN/LSTM of the ``stat`` ("median" or "min") of the timings named ``prefix + kind``."""
    return {f"{k}/lstm": t[f"{prefix}{k}"][stat] / t[f"{prefix}lstm"][stat] for k in ("gru", "rnn")}


def _measure_config(s: Settings, cfg, dtype_name: str) -> dict:
    """One (B, T, n, m, dtype): torch.nn and NumPy-reference steps of all kinds, timed side by side."""
    import torch

    B, T, n, m = cfg
    dtype = getattr(torch, dtype_name)
    entry = {"config": {"B": B, "T": T, "n": n, "m": m}, "dtype": dtype_name}
    fns, mods, np_parts, notes = {}, {}, {}, []
    for kind in KINDS:
        mod, inputs, step = torch_step(kind, B, T, n, m, dtype)
        mods[kind] = mod, inputs
        fns[f"torch.{kind}"] = step
        if dtype_name == "float32":
            fns[f"torch_onednn_off.{kind}"] = without_onednn(step)
        np_parts[kind] = numpy_steps(kind, mod, inputs, B, T, n, dtype_name)
    # same weights, same inputs: the NumPy forward must reproduce torch's (else the comparison is moot)
    tol = 1e-4 if dtype_name == "float32" else 1e-10
    agree = {}
    for kind in KINDS:
        mod, inputs = mods[kind]
        with torch.no_grad():
            ref = mod(inputs[0], (inputs[1], inputs[2]) if kind == "lstm" else inputs[1])[0].numpy()
        agree[kind] = float(np.max(np.abs(np_parts[kind][3]()[0] - ref)))
    entry["numpy_vs_torch_forward_max_abs_diff"] = agree
    if any(v > tol for v in agree.values()):
        notes.append(f"NumPy forward differs from torch by more than {tol:g}: {agree}")
    # probe the NumPy step once: skip the NumPy references at this size if a call is too slow
    probe = {}
    for kind in KINDS:
        t0 = time.perf_counter()
        np_parts[kind][1]()
        probe[kind] = time.perf_counter() - t0
    if max(probe.values()) > s.numpy_limit_s:
        entry["numpy_ref"] = {"skipped": f"a forward + vjp call took {max(probe.values()):.1f} s "
                                         f"(> {s.numpy_limit_s:g} s limit) at this size", "probe_seconds": probe}
    else:
        for kind in KINDS:
            fns[f"numpy.{kind}"] = np_parts[kind][1]
            fns[f"numpy_vjp_only.{kind}"] = np_parts[kind][2]
    # short calls: average several back-to-back calls per sample (>= MIN_SAMPLE_S), to damp scheduler noise
    inner = {}
    for k, fn in fns.items():
        t0 = time.perf_counter()
        fn()
        inner[k] = max(1, min(64, math.ceil(MIN_SAMPLE_S / max(time.perf_counter() - t0, 1e-6))))
    entry["inner_calls"] = inner
    t = bench(fns, s, inner)
    entry["torch"] = {
        "seconds": {k: t[f"torch.{k}"] for k in KINDS},
        "ratios": _ratios(t, "torch."),
        "ratios_of_min": _ratios(t, "torch.", "min"),
        "params": {k: int(sum(p.numel() for p in mods[k][0].parameters())) for k in KINDS},
    }
    tp = entry["torch"]["params"]
    tp["gru/lstm"], tp["rnn/lstm"] = tp["gru"] / tp["lstm"], tp["rnn"] / tp["lstm"]
    if "torch_onednn_off.lstm" in t:
        entry["torch_onednn_off"] = {
            "seconds": {k: t[f"torch_onednn_off.{k}"] for k in KINDS},
            "ratios": _ratios(t, "torch_onednn_off."),
            "ratios_of_min": _ratios(t, "torch_onednn_off.", "min"),
            "onednn_on_over_off": {k: ratio(t[f"torch.{k}"], t[f"torch_onednn_off.{k}"]) for k in KINDS},
        }
    fl = {k: matmul_flops(k, B, T, n, m) for k in KINDS}
    entry["flops"] = {"model": "matmul FLOPs only; forward F = 2*T*B*(m+n)*G*n (G = 4 LSTM, 3 GRU, 1 RNN); "
                               "torch step = 3F (forward + backward); NumPy step = 4F (forward, then vjp = forward + backward)",
                      "forward": fl, "torch_step": {k: 3 * v for k, v in fl.items()},
                      "numpy_step": {k: 4 * v for k, v in fl.items()}}
    entry["torch"]["achieved_gflops"] = {k: 3 * fl[k] / t[f"torch.{k}"]["median"] / 1e9 for k in KINDS}
    if "numpy.lstm" in t:
        entry["numpy_ref"] = {
            "step": "forward + vjp (lstm_forward + lstm_vjp, gru_forward + gru_vjp reset_after, rnn_forward + rnn_vjp tanh)",
            "seconds": {k: t[f"numpy.{k}"] for k in KINDS},
            "vjp_only_seconds": {k: t[f"numpy_vjp_only.{k}"] for k in KINDS},
            "ratios": _ratios(t, "numpy."),
            "ratios_of_min": _ratios(t, "numpy.", "min"),
            "ratios_vjp_only": _ratios(t, "numpy_vjp_only."),
            "params": {k: int(sum(v.size for v in np_parts[k][0].values())) for k in KINDS},
            "achieved_gflops": {k: 4 * fl[k] / t[f"numpy.{k}"]["median"] / 1e9 for k in KINDS},
        }
        npp = entry["numpy_ref"]["params"]
        npp["gru/lstm"], npp["rnn/lstm"] = npp["gru"] / npp["lstm"], npp["rnn"] / npp["lstm"]
        entry["numpy_over_torch"] = {k: ratio(t[f"numpy.{k}"], t[f"torch.{k}"]) for k in KINDS}
        entry["numpy_vjp_only_over_torch"] = {k: ratio(t[f"numpy_vjp_only.{k}"], t[f"torch.{k}"]) for k in KINDS}
    if notes:
        entry["notes"] = notes
    return entry


def _label(impl: str, e: dict) -> str:
    c = e["config"]
    return f"{impl} {e['dtype']} {_cfg((c['B'], c['T'], c['n'], c['m']))}"


def _summarize_gru(res: dict) -> dict:
    """Verdict-ready ratios: medians (and of minimums) of step times, parameter-count ratio."""
    keys = (("gru_over_lstm_step_time", "ratios", "gru/lstm"), ("gru_over_lstm_step_time_of_min", "ratios_of_min", "gru/lstm"),
            ("rnn_over_lstm_step_time", "ratios", "rnn/lstm"))
    out = {k: {} for k, _, _ in keys}
    out["numpy_ref_over_torch_step_time"] = {}
    for e in res["configs"]:
        for impl, name in (("torch", "torch.nn"), ("torch_onednn_off", "torch.nn oneDNN off"), ("numpy_ref", "numpy_ref")):
            if "seconds" not in e.get(impl, {}):
                continue
            for key, field_, r in keys:
                out[key][_label(name, e)] = round(e[impl][field_][r], 3)
        if "numpy_over_torch" in e:
            for k in KINDS:
                out["numpy_ref_over_torch_step_time"][_label(k, e)] = round(e["numpy_over_torch"][k], 3)
    e0 = res["configs"][0]
    out["gru_over_lstm_params"] = round(e0["torch"]["params"]["gru/lstm"], 4)
    if "params" in e0.get("numpy_ref", {}):
        out["gru_over_lstm_params_numpy_ref"] = round(e0["numpy_ref"]["params"]["gru/lstm"], 4)
    return out


def _ms(st: dict) -> str:
    flag = " †" if st["iqr"] > NOISY * st["median"] else ""
    return f"{st['median'] * 1e3:.1f} (min {st['min'] * 1e3:.1f}, IQR {st['iqr'] * 1e3:.1f}){flag}"


def _render_gru(res: dict) -> list:
    lines = [res["method"], "",
             f"Times in ms per step: median (min, interquartile range); † marks an IQR above {NOISY:.0%} of the "
             "median (other load on the machine). GRU/LSTM is the ratio of medians; GRU/LSTM of min, the ratio "
             "of the fastest runs (less sensitive to other load, which only adds time).", ""]
    for impl, title in (("torch", "torch.nn (LSTM / GRU / RNN modules, autograd backward)"),
                        ("torch_onednn_off", "torch.nn with oneDNN disabled (float32 control; same run)"),
                        ("numpy_ref", "NumPy references (dlproof.impl.numpy_ref, hand-written BPTT): forward + vjp")):
        lines += [f"### {title}", ""]
        rows, skipped = [], []
        for e in res["configs"]:
            d = e.get(impl, {})
            c = e["config"]
            cfg = _cfg((c["B"], c["T"], c["n"], c["m"]))
            if impl == "torch_onednn_off" and not d:
                continue
            if "seconds" not in d:
                skipped.append(f"- {cfg} {e['dtype']}: skipped: {d.get('skipped', 'not measured')}")
                continue
            sec = d["seconds"]
            last = (" / ".join(_fmt(d["onednn_on_over_off"][k], 2) for k in KINDS) if impl == "torch_onednn_off"
                    else " / ".join(_fmt(d["achieved_gflops"][k], 1) for k in KINDS))
            rows.append([cfg, e["dtype"], _ms(sec["lstm"]), _ms(sec["gru"]), _ms(sec["rnn"]),
                         _fmt(d["ratios"]["gru/lstm"], 3), _fmt(d["ratios_of_min"]["gru/lstm"], 3),
                         _fmt(d["ratios"]["rnn/lstm"], 3), last])
        if impl == "torch_onednn_off":
            lines += ["torch's CPU float32 LSTM can run a fused oneDNN kernel; this control times the same "
                      "modules with `torch.backends.mkldnn.flags(enabled=False)` to show how much of the "
                      "GRU/LSTM ratio comes from that kernel. Last column: time with oneDNN / time without.", ""]
        lines += _table(["(B, T, n, m)", "dtype", "LSTM ms", "GRU ms", "RNN ms", "GRU/LSTM", "GRU/LSTM of min", "RNN/LSTM",
                         "on/off L / G / R" if impl == "torch_onednn_off" else "GFLOP/s L / G / R"], rows)
        lines += [""] + skipped + ([""] if skipped else [])
    rows = []
    for e in res["configs"]:
        if "numpy_over_torch" not in e:
            continue
        c = e["config"]
        rows.append([_cfg((c["B"], c["T"], c["n"], c["m"])), e["dtype"]]
                    + [_fmt(e["numpy_over_torch"][k]) for k in KINDS]
                    + [_fmt(e["numpy_vjp_only_over_torch"][k]) for k in KINDS]
                    + [_fmt(e["numpy_ref"]["ratios_vjp_only"]["gru/lstm"], 3)])
    lines += ["### NumPy reference / torch.nn step time", "",
              "The vjp recomputes its forward, so forward + vjp runs the forward twice; the vjp alone is a "
              "complete training step (outputs and all gradients) and is shown beside it.", ""]
    lines += _table(["(B, T, n, m)", "dtype", "LSTM", "GRU", "RNN", "LSTM (vjp only)", "GRU (vjp only)",
                     "RNN (vjp only)", "GRU/LSTM (vjp only)"], rows) + [""]
    e0 = res["configs"][0]
    tp = e0["torch"]["params"]
    prow = [["torch.nn (two bias vectors)", tp["lstm"], tp["gru"], tp["rnn"], _fmt(tp["gru/lstm"], 4), _fmt(tp["rnn/lstm"], 4)]]
    if "params" in e0.get("numpy_ref", {}):
        npp = e0["numpy_ref"]["params"]
        prow.append(["NumPy reference (canonical)", npp["lstm"], npp["gru"], npp["rnn"], _fmt(npp["gru/lstm"], 4),
                     _fmt(npp["rnn/lstm"], 4)])
    c = e0["config"]
    lines += [f"### Parameter counts at n = {c['n']}, m = {c['m']}", ""]
    lines += _table(["implementation", "LSTM", "GRU", "RNN", "GRU/LSTM", "RNN/LSTM"], prow)
    notes = [f"- {_label('', e).strip()}: {n}" for e in res["configs"] for n in e.get("notes", [])]
    return lines + ([""] + notes if notes else [])


def each_config(s: Settings, measure: Callable) -> list:
    """``measure(s, size, dtype)`` for every size and both dtypes, with a progress line each."""
    out = []
    for cfg in s.sizes:
        for dt in ("float32", "float64"):
            t0 = time.perf_counter()
            out.append(measure(s, cfg, dt))
            print(f"[performance]   {_cfg(cfg)} {dt}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return out


@section("gru_vs_lstm", "GRU vs LSTM vs RNN: one training step (forward + full backward)", _render_gru, _summarize_gru)
def measure_gru_vs_lstm(s: Settings) -> dict:
    """Claim under test: "GRU has fewer parameters and trains faster than LSTM"."""
    configs = each_config(s, _measure_config)
    return {
        "claim": "GRU has fewer parameters and trains faster (than LSTM)",
        "method": ("One step = forward over T time-major steps + backward of L = sum(out * G) + sum(h_T * G_h) "
                   "(+ sum(c_T * G_c) for LSTM) with fixed random cotangents, giving gradients w.r.t. the input, "
                   "the initial state(s) and every weight. Single layer, unidirectional, tanh RNN, GRU reset_after "
                   "(as torch.nn.GRU). All kinds and both implementations of one (size, dtype) are timed "
                   "interleaved in the same run; the NumPy references use the torch modules' weights and inputs "
                   "(their forward is checked against torch's)."),
        "numpy_limit_s": s.numpy_limit_s,
        "configs": configs,
    }


# ---- section: reference -------------------------------------------------------------------------------
#
# The NumPy references against torch.nn and against their own GEMM floor: the same matmuls as the
# reference performs, timed alone from preallocated operands. The floors below mirror the matmuls (shapes
# and operand layouts) of impl/numpy_ref/lstm.py, gru.py (reset_after) and rnn.py (tanh); when an
# implementation changes its matmuls, change its plan here.

GOALS = {"float32": {"numpy_over_torch": 0.9, "numpy_over_floor": 1.25},
         "float64": {"numpy_over_torch": 0.8, "numpy_over_floor": 1.4}}
GOAL_KINDS = ("lstm", "gru")  # the kinds whose goals go into the JSON summary


@dataclass
class GemmPlan:
    """The matmuls of one NumPy reference call, as callables on preallocated operands, with their FLOPs."""

    forward: list = field(default_factory=list)  # (label, fn, flops), run in order
    backward: list = field(default_factory=list)

    def add(self, part: str, label: str, a, b, out, repeat: int = 1, step=None):
        """Append ``repeat`` calls of out = a @ b (``step(t)`` -> (a, b, out) varies the operands per call)."""
        M, K = a.shape
        N = b.shape[1]
        if step is None:
            fn = (lambda: np.matmul(a, b, out=out)) if repeat == 1 else \
                (lambda: [np.matmul(a, b, out=out) for _ in range(repeat)])
        else:
            fn = lambda: [np.matmul(*step(t)) for t in range(repeat)]  # noqa: E731
        getattr(self, part).append((f"{repeat} x ({M}, {K}) @ ({K}, {N})  {label}" if repeat > 1
                                    else f"({M}, {K}) @ ({K}, {N})  {label}", fn, 2 * M * K * N * repeat))

    def run(self, parts=("forward",)):
        for part in parts:
            for _, fn, _ in getattr(self, part):
                fn()

    def flops(self, parts=("forward",)) -> int:
        return sum(f for part in parts for _, _, f in getattr(self, part))


def gemm_plan(kind: str, B, T, n, m, dtype_name: str, seed: int = 3) -> GemmPlan:
    """The matmuls of ``{kind}_forward`` (forward) and of the backward part of ``{kind}_vjp`` (backward)."""
    rng = np.random.default_rng(seed)
    r = lambda *shape: rng.standard_normal(shape).astype(dtype_name)  # noqa: E731
    e = lambda *shape: np.zeros(shape, dtype_name)  # noqa: E731
    plan = GemmPlan()
    X = r(T * B, m)  # the inputs as one (T*B, m) matrix
    if kind == "lstm":  # column layout: states (n, B), gates (4n, B); (features, T, B) for the big matmuls
        W_x, W_h = r(4 * n, m), r(4 * n, n)
        W_hT = np.ascontiguousarray(W_h.T)
        H, G, Ax, D = r(n, T + 1, B), e(T, 4 * n, B), e(4 * n, T * B), r(4 * n, T * B)
        da, dh = r(4 * n, B), e(n, B)
        plan.add("forward", "input projection W_x X^T", W_x, X.T, Ax)
        plan.add("forward", "recurrent W_h h_{t-1}", W_h, H[:, 0], G[0], T, lambda t: (W_h, H[:, t], G[t]))
        plan.add("backward", "dL/dh_{t-1} = W_h^T da_t", W_hT, da, dh, T)
        plan.add("backward", "dW_x = DA X", D, X, e(4 * n, m))
        plan.add("backward", "dW_h = DA H_prev^T", D, H[:, :T].reshape(n, T * B).T, e(4 * n, n))
        plan.add("backward", "dxs = DA^T W_x", D.T, W_x, e(T * B, m))
    elif kind == "gru":  # rows: states (B, n), pre-activations (B, 3n); reset_after
        W_x, W_h = r(3 * n, m), r(3 * n, n)
        Wx_f, Wh_f = np.ascontiguousarray(W_x.T), np.ascontiguousarray(W_h.T)
        S, hh, q = r(T + 1, B, n), e(B, 3 * n), e(B, n)
        D, A = r(T * B, 3 * n), r(T * B, n)
        D3, A3, Hp = D.reshape(T, B, 3 * n), A.reshape(T, B, n), S[:-1].reshape(T * B, n)
        plan.add("forward", "input projection X W_x^T", X, Wx_f, e(T * B, 3 * n))
        plan.add("forward", "recurrent h_{t-1} W_h^T", S[0], Wh_f, hh, T, lambda t: (S[t], Wh_f, hh))
        plan.add("backward", "[da_r, da_z] W_h[r, z]", D3[0, :, :2 * n], W_h[:2 * n], q, T,
                 lambda t: (D3[t, :, :2 * n], W_h[:2 * n], q))
        plan.add("backward", "(da_n r) W_hn", A3[0], W_h[2 * n:], q, T, lambda t: (A3[t], W_h[2 * n:], q))
        plan.add("backward", "dW_x = D^T X", D.T, X, e(3 * n, m))
        plan.add("backward", "dW_h[r, z] = D[r, z]^T H_prev", D[:, :2 * n].T, Hp, e(2 * n, n))
        plan.add("backward", "dW_hn = (da_n r)^T H_prev", A.T, Hp, e(n, n))
        plan.add("backward", "dxs = D W_x", D, W_x, e(T * B, m))
    else:  # rnn, rows
        W_x, W_h = r(n, m), r(n, n)
        W_hT = np.ascontiguousarray(W_h.T)
        S, hh, g = r(T + 1, B, n), e(B, n), e(B, n)
        D = r(T * B, n)
        D3 = D.reshape(T, B, n)
        plan.add("forward", "input projection X W_x^T", X, W_x.T, e(T * B, n))
        plan.add("forward", "recurrent h_{t-1} W_h^T", S[0], W_hT, hh, T, lambda t: (S[t], W_hT, hh))
        plan.add("backward", "g_{t-1} = delta_t W_h", D3[0], W_h, g, T, lambda t: (D3[t], W_h, g))
        plan.add("backward", "dxs = D W_x", D, W_x, e(T * B, m))
        plan.add("backward", "dW_x = D^T X", D.T, X, e(n, m))
        plan.add("backward", "dW_h = D^T H_prev", D.T, S[:-1].reshape(T * B, n), e(n, n))
    return plan


def reference_pair(kind: str, B, T, n, m, dtype_name: str, seed: int = 0) -> dict:
    """torch.nn module and NumPy reference of ``kind`` with identical weights, inputs and cotangents.

    Returns callables torch_forward (no grad), torch_step (forward + backward of
    sum(out * g) + sum(h_T * g_h) (+ sum(c_T * g_c)) with requires_grad on xs, h0 (c0) and every
    parameter), numpy_forward, numpy_vjp (one call: its own forward + BPTT), and check() -> how far the
    NumPy outputs and gradients are from torch's."""
    import torch

    dtype = getattr(torch, dtype_name)
    mod, x, h0, c0, g, gh, gc = torch_problem(kind, B, T, n, m, dtype, seed)
    is_lstm = kind == "lstm"
    leaves = [x, h0] + ([c0] if is_lstm else []) + list(mod.parameters())
    state = (h0, c0) if is_lstm else h0

    def torch_forward():
        with torch.no_grad():
            return mod(x, state)

    def torch_step():
        for t in leaves:
            t.grad = None
        out, st = mod(x, state)
        loss = (out * g).sum()
        if is_lstm:
            loss = loss + (st[0] * gh).sum() + (st[1] * gc).sum()
        else:
            loss = loss + (st * gh).sum()
        loss.backward()
        return out

    p = canonical_params(kind, mod)
    xs_np, h0_np, c0_np = x.detach().numpy().copy(), h0.detach().numpy()[0].copy(), c0.detach().numpy()[0].copy()
    d_hs, d_hT, d_cT = g.numpy().copy(), gh.numpy()[0].copy(), gc.numpy()[0].copy()
    numpy_forward, numpy_vjp = numpy_callables(kind, xs_np, h0_np, c0_np, p, d_hs, d_hT, d_cT)

    def check() -> dict:
        """max |NumPy - torch| / max |torch| of the outputs hs and of the gradients (all of them)."""
        out = torch_step().detach().numpy()
        hs = numpy_forward()[0]
        gr = numpy_vjp()
        gp = gr["params"]
        names = {"lstm": ("W_x{}", "W_h{}", "b_{}", "ifgo"), "gru": ("W_x{}", "W_h{}", None, "rzn"),
                 "rnn": ("W_x", "W_h", "b", "")}[kind]
        if kind == "rnn":
            W_x, W_h, b_ih, b_hh = gp["W_x"], gp["W_h"], gp["b"], gp["b"]
        else:
            W_x = np.concatenate([gp[names[0].format(q)] for q in names[3]])
            W_h = np.concatenate([gp[names[1].format(q)] for q in names[3]])
            if is_lstm:
                b_ih = b_hh = np.concatenate([gp[f"b_{q}"] for q in "ifgo"])
            else:
                b_ih = np.concatenate([gp["b_r"], gp["b_z"], gp["b_xn"]])
                b_hh = np.concatenate([gp["b_r"], gp["b_z"], gp["b_hn"]])
        pairs = [(hs, out), (gr["xs"], x.grad.numpy()), (gr["h0"], h0.grad.numpy()[0]),
                 (W_x, mod.weight_ih_l0.grad.numpy()), (W_h, mod.weight_hh_l0.grad.numpy()),
                 (b_ih, mod.bias_ih_l0.grad.numpy()), (b_hh, mod.bias_hh_l0.grad.numpy())]
        if is_lstm:
            pairs.append((gr["c0"], c0.grad.numpy()[0]))
        rel = [float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-300)) for a, b in pairs]
        return {"hs": rel[0], "gradients": max(rel[1:])}

    return {"torch_forward": torch_forward, "torch_step": torch_step, "numpy_forward": numpy_forward,
            "numpy_vjp": numpy_vjp, "check": check}


_REF_TIMED = ("numpy_forward", "numpy_vjp", "torch_forward", "torch_step", "floor_forward", "floor_vjp")


def _measure_reference_config(s: Settings, cfg, dtype_name: str) -> dict:
    """One (B, T, n, m, dtype): for each kind the six callables of _REF_TIMED, plus a 512^3 GEMM, interleaved."""
    B, T, n, m = cfg
    entry = {"config": {"B": B, "T": T, "n": n, "m": m}, "dtype": dtype_name, "load_average_1min": _loadavg(),
             "kinds": {}}
    fns, plans, notes = {}, {}, []
    tol = 1e-4 if dtype_name == "float32" else 1e-10
    for kind in KINDS:
        pair = reference_pair(kind, B, T, n, m, dtype_name)
        plan = plans[kind] = gemm_plan(kind, B, T, n, m, dtype_name)
        check = pair["check"]()
        if max(check.values()) > tol:
            notes.append(f"{kind}: NumPy differs from torch by more than {tol:g} (relative): {check}")
        entry["kinds"][kind] = {"numpy_vs_torch_max_rel_diff": check,
                                "gemms": {"forward": [lbl for lbl, _, _ in plan.forward],
                                          "backward": [lbl for lbl, _, _ in plan.backward]}}
        for name in _REF_TIMED[:4]:
            fns[f"{name}.{kind}"] = pair[name]
        fns[f"floor_forward.{kind}"] = plan.run
        fns[f"floor_vjp.{kind}"] = lambda plan=plan: plan.run(("forward", "backward"))
    a, b, c = (np.ones((512, 512), dtype_name) for _ in range(3))
    fns["gemm512"] = lambda: np.matmul(a, b, out=c)
    inner = {}
    for k, fn in fns.items():  # short calls: several back-to-back calls per sample (>= MIN_SAMPLE_S)
        t0 = time.perf_counter()
        fn()
        inner[k] = max(1, min(64, math.ceil(MIN_SAMPLE_S / max(time.perf_counter() - t0, 1e-6))))
    entry["inner_calls"] = inner
    t = bench(fns, s, inner)
    entry["gemm512_gflops"] = 2 * 512 ** 3 / t["gemm512"]["median"] / 1e9
    entry["gemm512_seconds"] = t["gemm512"]
    for kind in KINDS:
        sec = {name: t[f"{name}.{kind}"] for name in _REF_TIMED}
        fl = {"forward": plans[kind].flops(), "forward_backward": plans[kind].flops(("forward", "backward"))}
        med = {k: v["median"] for k, v in sec.items()}
        entry["kinds"][kind].update({
            "seconds": sec,
            "matmul_flops": fl,
            "numpy_over_torch": {"forward": med["numpy_forward"] / med["torch_forward"],
                                 "forward_backward": med["numpy_vjp"] / med["torch_step"]},
            "numpy_over_floor": {"forward": med["numpy_forward"] / med["floor_forward"],
                                 "forward_backward": med["numpy_vjp"] / med["floor_vjp"]},
            "gflops": {"numpy_forward": fl["forward"] / med["numpy_forward"] / 1e9,
                       "torch_forward": fl["forward"] / med["torch_forward"] / 1e9,
                       "floor_forward": fl["forward"] / med["floor_forward"] / 1e9,
                       "numpy_forward_backward": fl["forward_backward"] / med["numpy_vjp"] / 1e9,
                       "torch_forward_backward": fl["forward_backward"] / med["torch_step"] / 1e9,
                       "floor_forward_backward": fl["forward_backward"] / med["floor_vjp"] / 1e9},
        })
    entry["load_average_1min_end"] = _loadavg()
    if notes:
        entry["notes"] = notes
    return entry


def reference_goals(res: dict) -> list:
    """The goals at the large size, forward + backward: one row per (kind, dtype, metric)."""
    rows = []
    for e in res["configs"]:
        c = e["config"]
        if (c["B"], c["T"], c["n"], c["m"]) != LARGE:
            continue
        for kind in KINDS:
            for metric, goal in GOALS[e["dtype"]].items():
                v = e["kinds"][kind][metric]["forward_backward"]
                rows.append({"kind": kind, "dtype": e["dtype"], "metric": metric, "value": v, "goal": goal,
                             "pass": bool(v <= goal)})
    return rows


def _summarize_reference(res: dict) -> dict:
    """reference_goals: {kind: {dtype: {metric: {value, goal, pass}}}} for the LSTM and the GRU."""
    out = {}
    for r in res["goals"]:
        if r["kind"] in GOAL_KINDS:
            out.setdefault(r["kind"], {}).setdefault(r["dtype"], {})[r["metric"]] = {
                "value": round(r["value"], 3), "goal": r["goal"], "pass": r["pass"]}
    if not out:
        return {"reference_goals": {"not_measured": f"the goals are set at (B, T, n, m) = {_cfg(LARGE)}, "
                                                    "which this run did not measure"}}
    return {"reference_goals": out}


def _render_goals(goals: list) -> list:
    rows = [[r["kind"].upper(), r["dtype"], r["metric"].replace("_over_", " / "), _fmt(r["value"], 3),
             f"<= {r['goal']:g}", "pass" if r["pass"] else "**fail**"] for r in goals]
    return _table(["kind", "dtype", "forward + backward", "measured", "goal", ""], rows)


def _render_reference(res: dict) -> list:
    lines = [res["method"], ""]
    if res["goals"]:
        lines += [f"### Goals at (B, T, n, m) = {_cfg(LARGE)}, forward + backward", "",
                  "Goals, not assertions: no test fails on them.", ""] + _render_goals(res["goals"]) + [""]
    for e in res["configs"]:
        c = e["config"]
        lines += [f"### {_cfg((c['B'], c['T'], c['n'], c['m']))} {e['dtype']}", "",
                  f"{'s' if e['dtype'] == 'float32' else 'd'}gemm rate in the same run (512 x 512 x 512): "
                  f"**{e['gemm512_gflops']:.1f} GFLOP/s**; load average at start {e['load_average_1min']}.", ""]
        rows, rows2 = [], []
        for kind in KINDS:
            d = e["kinds"][kind]
            sec, nt, nf, gf = d["seconds"], d["numpy_over_torch"], d["numpy_over_floor"], d["gflops"]
            ms = lambda k: _ms(sec[k])  # noqa: E731
            rows.append([kind.upper(), ms("numpy_forward"), ms("torch_forward"), ms("floor_forward"),
                         ms("numpy_vjp"), ms("torch_step"), ms("floor_vjp")])
            rows2.append([kind.upper(), _fmt(nt["forward"]), _fmt(nt["forward_backward"]), _fmt(nf["forward"]),
                          _fmt(nf["forward_backward"]),
                          " / ".join(_fmt(gf[k], 1) for k in ("numpy_forward_backward", "floor_forward_backward",
                                                             "torch_forward_backward")),
                          f"{d['numpy_vs_torch_max_rel_diff']['gradients']:.1e}"])
        lines += _table(["kind", "NumPy fwd", "torch fwd", "floor fwd", "NumPy fwd+bwd (vjp)", "torch fwd+bwd",
                         "floor fwd+bwd"], rows) + [""]
        lines += _table(["kind", "NumPy/torch fwd", "NumPy/torch fwd+bwd", "NumPy/floor fwd", "NumPy/floor fwd+bwd",
                         "GFLOP/s fwd+bwd NumPy / floor / torch", "grad rel. diff vs torch"], rows2) + [""]
        lines += [f"- {n}" for n in e.get("notes", [])] + ([""] if e.get("notes") else [])
    e0 = res["configs"][0]
    c = e0["config"]
    lines += [f"### The GEMM floors (matmuls of one call, (B, T, n, m) = {_cfg((c['B'], c['T'], c['n'], c['m']))})", ""]
    for kind in KINDS:
        g = e0["kinds"][kind]["gemms"]
        lines += [f"- {kind.upper()} forward: " + "; ".join(f"`{x}`" for x in g["forward"]),
                  f"- {kind.upper()} backward (after the vjp's own forward): "
                  + "; ".join(f"`{x}`" for x in g["backward"])]
    return lines


@section("reference", "NumPy references at BLAS speed: against torch.nn and against their GEMM floor",
         _render_reference, _summarize_reference)
def measure_reference(s: Settings) -> dict:
    """NumPy forward and vjp of LSTM / GRU / RNN vs torch.nn and vs the same matmuls alone."""
    configs = each_config(s, _measure_reference_config)
    res = {
        "method": (
            "Per (size, dtype), timed interleaved in one run, for LSTM, GRU (reset_after) and tanh RNN: the NumPy "
            "forward alone (`lstm_forward`, `gru_forward`, `rnn_forward`), NumPy forward + full BPTT backward "
            "(one call of `lstm_vjp` / `gru_vjp` / `rnn_vjp`, which runs its own forward), torch.nn forward "
            "alone (under no_grad) and torch.nn forward + backward giving the same gradients as the vjp "
            "(requires_grad on xs, h0, c0 and every parameter; backward of sum(out * G) + sum(h_T * G_h) "
            "(+ sum(c_T * G_c))), with the module's weights mapped to the canonical parameters and the same "
            "inputs and cotangents (torch.nn runs with its defaults: its float32 LSTM may use a fused oneDNN "
            "kernel; the last column checks that NumPy and torch give the same gradients). The GEMM floor is the matmuls the NumPy call performs (same shapes, "
            "operand layouts and dtype; input projection, the T recurrent step products, and in the backward "
            "the T dL/dh products and the dW_x, dW_h, dxs matmuls) run alone from preallocated operands. "
            "GFLOP/s = matmul FLOPs of the call / median time; the 512^3 GEMM rate is measured in the same "
            "run. Ratios are ratios of medians."),
        "goals_definition": {dt: {k: f"<= {v:g}" for k, v in g.items()} for dt, g in GOALS.items()},
        "configs": configs,
    }
    res["goals"] = reference_goals(res)
    return res


# ---- machine, versions, output ------------------------------------------------------------------------

# ---- the suite, the third-party conformance runs, the symbolic cost (other scripts, folded in) ----------

def _sibling(name: str):
    """Import benchmarks/NAME.py (the scripts are not a package)."""
    if str(ROOT / "benchmarks") not in sys.path:
        sys.path.insert(0, str(ROOT / "benchmarks"))
    import importlib

    return importlib.import_module(name)


def _suite_repeats(s: Settings) -> int:
    return 1 if s.quick else 3


@section("suite", "Test suite speed (the default pytest, serial and -n 2; derivation cache; one Hypothesis example)",
         lambda res: _sibling("suite_speed").render(res),
         lambda res: {"suite": {k: v for k, v in res["summary"].items() if not k.endswith("run_over_examples_ms")}})
def measure_suite(s: Settings) -> dict:
    """benchmarks/suite_speed.py: each figure the median of 3 runs (1 with --quick) in fresh processes, no coverage."""
    return _sibling("suite_speed").measure(_suite_repeats(s), pytest_runs=not s.quick)


def _summarize_conform(res: dict) -> dict:
    t = res["targets"]
    return {"third_party_conform_s": {k: v["seconds"] for k, v in t.items()},
            "third_party_conform_max_s": max((v["seconds"] for v in t.values()), default=None)}


@section("conformance_times", "Conformance run time of each third-party target",
         lambda res: _sibling("conform_times").render(res), _summarize_conform)
def measure_conformance_times(s: Settings) -> dict:
    """benchmarks/conform_times.py over the third-party built-ins (one run each; --quick: torch.nn only)."""
    ct = _sibling("conform_times")
    return ct.measure(["torch.nn"] if s.quick else None, repeats=1)


def _render_symbolic(res: dict) -> list:
    return res["summary_lines"] + ["", "The full tables: [symbolic-scaling.md](symbolic-scaling.md) "
                                       "(machine-readable: symbolic-scaling.json)."]


@section("symbolic", "Symbolic cost: BPTT proofs against T, cell derivations against n", _render_symbolic,
         lambda res: {"symbolic_fit_exponents": res["fit_exponents"]})
def measure_symbolic(s: Settings) -> dict:
    """benchmarks/symbolic_scaling.py (20 s per series; --quick: two sizes of one cell, no BPTT part). Its full
    result is written to OUT/symbolic-scaling.{json,md} by `main`; performance.json keeps the summary."""
    ss = _sibling("symbolic_scaling")
    if s.quick:
        full = ss.measure(5.0, cells=("rnn.cell.jacobian_h",), ns=(1, 2), bptt_part=False)
    else:
        full = ss.measure(20.0)
    return {"full": full, "summary_lines": ss._render_summary(full)[2:],  # without its "## Summary" heading
            "fit_exponents": {cid: c["fit"]["total"] for cid, c in full["cells"].items()}}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def pin_threads(k: int) -> dict:
    """Pin torch (intra- and inter-op) and NumPy's BLAS / OpenMP pools to ``k`` threads; report what holds."""
    import torch

    torch.set_num_threads(k)
    try:
        torch.set_num_interop_threads(k)
    except RuntimeError:
        pass
    info = {"requested": k, "torch_intra_op": torch.get_num_threads(), "torch_inter_op": torch.get_num_interop_threads()}
    try:
        import threadpoolctl
    except ImportError:
        info["numpy_blas"] = "not pinned: threadpoolctl is not installed"
        return info
    global _LIMITS
    _LIMITS = threadpoolctl.threadpool_limits(limits=k)
    info["pools"] = [{"api": p["internal_api"], "version": p.get("version"), "num_threads": p["num_threads"],
                      **({"architecture": p["architecture"]} if "architecture" in p else {})}
                     for p in threadpoolctl.threadpool_info()]
    return info


_LIMITS = None


def machine(threads: dict) -> dict:
    import torch

    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    return {"cpu": cpu_model(), "arch": platform.machine(), "logical_cpus": os.cpu_count(), "usable_cpus": usable,
            "threads_used": threads["requested"], "threads": threads,
            "torch_blas": "MKL" if torch.backends.mkl.is_available() else "unknown",
            "torch_mkldnn": bool(torch.backends.mkldnn.is_available())}


def versions() -> dict:
    import torch

    import dlproof

    out = {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
           "dlproof": dlproof.__version__}
    try:
        import threadpoolctl
        out["threadpoolctl"] = threadpoolctl.__version__
    except ImportError:
        pass
    return out


def render_markdown(doc: dict) -> str:
    """The report as Markdown (no timestamps: the JSON holds the date)."""
    m, v, s = doc["machine"], doc["versions"], doc["settings"]
    pools = [p for p in m["threads"].get("pools", []) if p["api"] != "openmp"]
    blas = ", ".join(" ".join(str(x) for x in (p["api"], p["version"], p.get("architecture")) if x) for p in pools) or "unknown"
    lines = ["# Performance: GEMM rates, training-step times, NumPy references at BLAS speed, suite speed, "
             "conformance run times, symbolic cost", "",
             f"Regenerate with `{doc['command']}` (run from the repository root); machine-readable results are "
             "in `performance.json` beside this file.", "",
             f"How it was measured: each figure is the **median of {s['repeats']} timed runs** after "
             f"{s['warmup']} warm-up run{'s' if s['warmup'] != 1 else ''} (`time.perf_counter`), with the minimum and the interquartile range; "
             f"callables that are compared ran interleaved in the same process, and a ratio is the ratio of "
             f"medians. Threads pinned to **{m['threads_used']}** (torch.set_num_threads and threadpoolctl for "
             f"NumPy's BLAS).{' Quick smoke run: small size only.' if doc['quick'] else ''}", "",
             "| machine | |", "|---|---|",
             f"| CPU | {m['cpu']} ({m['arch']}) |", f"| logical CPUs | {m['logical_cpus']} (usable {m['usable_cpus']}) |",
             f"| threads used | {m['threads_used']} |",
             f"| NumPy BLAS | {blas} |",
             f"| torch BLAS | {m['torch_blas']} |",
             f"| versions | Python {v['python']}, NumPy {v['numpy']}, torch {v['torch']}, dlproof {v['dlproof']} |", ""]
    if doc.get("section_dates"):
        lines += ["Sections merged from runs of `--only`; measured on: " +
                  ", ".join(f"{k} {v}" for k, v in doc["section_dates"].items()) + ".", ""]
    lines += ["## Summary", ""] + render_summary(doc["summary"]) + [""]
    for name, res in doc["results"].items():
        lines += [f"## {SECTIONS[name].title}", ""] + SECTIONS[name].render(res) + [""]
    return "\n".join(lines).rstrip() + "\n"


def render_summary(sm: dict) -> list:
    """The summary as Markdown: step-time ratios per implementation / dtype / size, then scalars."""
    lines = []
    gl = sm.get("gru_over_lstm_step_time")
    if gl:
        rows = [[k, _fmt(v, 3), _fmt(sm["gru_over_lstm_step_time_of_min"].get(k), 3),
                 _fmt(sm["rnn_over_lstm_step_time"].get(k), 3)] for k, v in gl.items()]
        lines += _table(["implementation, dtype, (B, T, n, m)", "GRU/LSTM step time", "(of min)", "RNN/LSTM step time"], rows) + [""]
    for k, v in sm.items():
        if k in ("gru_over_lstm_step_time", "gru_over_lstm_step_time_of_min", "rnn_over_lstm_step_time"):
            continue
        if k == "numpy_ref_over_torch_step_time":
            lines.append(f"- `{k}`: see the table \"NumPy reference / torch.nn step time\" below")
            continue
        if k == "reference_goals":
            if "not_measured" in v:
                lines.append(f"- `{k}`: not measured ({v['not_measured']})")
                continue
            goals = [{"kind": kind, "dtype": dt, "metric": metric, **r} for kind, by_dt in v.items()
                     for dt, by_metric in by_dt.items() for metric, r in by_metric.items()]
            lines += ["", f"`{k}` (NumPy references at (B, T, n, m) = {_cfg(LARGE)}, forward + backward; "
                          "goals, not assertions):", ""] + _render_goals(goals) + [""]
            continue
        if isinstance(v, dict):
            v = ", ".join(f"{a}: {_fmt(b, 2)}" for a, b in v.items())
        lines.append(f"- `{k}`: {v}")
    while lines and not lines[-1]:
        lines.pop()
    return lines


def command_line(args) -> str:
    """The command as a user would type it, with no machine paths."""
    parts = ["python", "benchmarks/performance.py"]
    if args.quick:
        parts.append("--quick")
    if args.out is not None:
        out = Path(args.out)
        if out.is_absolute():
            try:
                out = out.resolve().relative_to(Path.cwd().resolve())
            except ValueError:
                out = Path("OUT")
        parts += ["--out", str(out)]
    if args.threads != 1:
        parts += ["--threads", str(args.threads)]
    if args.repeats is not None:
        parts += ["--repeats", str(args.repeats)]
    if args.only:
        parts += ["--only", *args.only]
    return shlex.join(parts)


def _loadavg():
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def merged(path: Path, doc: dict) -> dict:
    """``doc`` (a --only run) merged into the earlier report at ``path``: the sections run now replace theirs,
    the others are kept with the date they were measured on (``section_dates``)."""
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return doc
    if old.get("schema") != SCHEMA or old.get("quick") != doc["quick"]:
        return doc
    dates = {k: old.get("section_dates", {}).get(k, old.get("measured_on")) for k in old.get("results", {})}
    dates.update({k: doc["measured_on"] for k in doc["results"]})
    results = {k: doc["results"].get(k, old["results"].get(k)) for k in SECTIONS if k in dates}
    summary = {}
    for k in results:
        if SECTIONS[k].summarize:
            summary.update(SECTIONS[k].summarize(results[k]))
    runtime = {**old.get("runtime_s", {}).get("sections", {}), **doc["runtime_s"]["sections"]}
    return {**doc, "command": "python benchmarks/performance.py",
            "section_dates": dates, "results": results, "summary": summary,
            "runtime_s": {"total": round(sum(runtime.values()), 1), "sections": runtime}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: 3 repeats, 1 warm-up, small size only")
    ap.add_argument("--out", default=None, help="output folder (default: the repository's reports/)")
    ap.add_argument("--threads", type=int, default=1, help="threads for torch and NumPy's BLAS (default 1)")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per figure (default 7, --quick 3)")
    ap.add_argument("--only", nargs="+", choices=list(SECTIONS), help="run only these sections")
    args = ap.parse_args(argv)

    s = Settings(threads=args.threads, quick=args.quick)
    if args.quick:
        s.repeats, s.warmup, s.sizes = 3, 1, [SMALL]
    if args.repeats is not None:
        s.repeats = args.repeats
    threads = pin_threads(s.threads)
    load_start = _loadavg()
    t_start = time.perf_counter()
    results, summary, timings = {}, {}, {}
    for name, sec in SECTIONS.items():
        if args.only and name not in args.only:
            continue
        t0 = time.perf_counter()
        print(f"[performance] {name} ...", file=sys.stderr, flush=True)
        results[name] = sec.measure(s)
        timings[name] = round(time.perf_counter() - t0, 1)
        print(f"[performance] {name} done in {timings[name]} s", file=sys.stderr, flush=True)
        if sec.summarize:
            summary.update(sec.summarize(results[name]))
    doc = {
        "schema": SCHEMA,
        "command": command_line(args),
        "quick": s.quick,
        "measured_on": datetime.date.today().isoformat(),
        "settings": {"repeats": s.repeats, "warmup": s.warmup, "threads": s.threads,
                     "sizes_BTnm": [list(c) for c in s.sizes], "statistic": "median",
                     "timer": "time.perf_counter", "interleaved": True},
        "machine": machine(threads),
        "versions": versions(),
        "runtime_s": {"total": round(time.perf_counter() - t_start, 1), "sections": timings},
        "load_average_1min": {"start": load_start, "end": _loadavg(),
                              "note": "other processes' load on the machine; high values mean noisier figures"},
        "summary": summary,
        "results": results,
    }
    from dlproof.book.files import write_atomic

    out = Path(args.out) if args.out is not None else ROOT / "reports"
    if "symbolic" in results:
        full = results["symbolic"].pop("full")
        ss = _sibling("symbolic_scaling")
        write_atomic(out / "symbolic-scaling.json", json.dumps(full, indent=1, ensure_ascii=False) + "\n")
        write_atomic(out / "symbolic-scaling.md", "\n".join(ss.render(full)).rstrip("\n") + "\n")
    if args.only:
        doc = merged(out / "performance.json", doc)
    write_atomic(out / "performance.json", json.dumps(doc, indent=1) + "\n")
    write_atomic(out / "performance.md", render_markdown(doc))
    print(json.dumps(summary, indent=1))
    print(f"[performance] wrote performance.json and performance.md in {out} "
          f"({doc['runtime_s']['total']} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
