"""Benchmark: GEMM rates and the training-step time of GRU vs LSTM vs vanilla RNN (torch.nn and NumPy refs).

    python benchmarks/performance.py [--quick] [--out reports] [--threads 1] [--only SECTION ...]

Writes OUT/performance.json and OUT/performance.md (OUT defaults to the repository's reports/). Every
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


def torch_step(kind: str, B, T, n, m, dtype, seed=0):
    """(module, step) where step() runs forward + backward of sum(out*g) + sum(h_T*g_h) [+ sum(c_T*g_c)]
    and produces the gradients w.r.t. the input, the initial state(s) and every weight."""
    import torch

    torch.manual_seed(seed)
    mod = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind](m, n).to(dtype)
    x = torch.randn(T, B, m, dtype=dtype, requires_grad=True)
    h0 = torch.randn(1, B, n, dtype=dtype, requires_grad=True)
    c0 = torch.randn(1, B, n, dtype=dtype, requires_grad=True)
    g, gh, gc = (torch.randn(*shape, dtype=dtype) for shape in ((T, B, n), (1, B, n), (1, B, n)))
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
    w_ih, w_hh = mod.weight_ih_l0.detach().numpy(), mod.weight_hh_l0.detach().numpy()
    b_ih, b_hh = mod.bias_ih_l0.detach().numpy(), mod.bias_hh_l0.detach().numpy()
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


def numpy_steps(kind: str, mod, xs_t, B, T, n, dtype_name, seed=1):
    """(params, step, vjp_only, forward) for the NumPy reference of ``kind`` with the module's weights.

    step() = forward + vjp (the vjp recomputes its own forward); vjp_only() = the vjp alone."""
    from dlproof.impl.numpy_ref import gru, lstm, rnn

    p = canonical_params(kind, mod)
    x, h0, c0 = (t.detach().numpy().copy() for t in xs_t)
    h0, c0 = h0[0], c0[0]
    rng = np.random.default_rng(seed)
    d_hs, d_hT, d_cT = (rng.standard_normal(shape).astype(dtype_name) for shape in ((T, B, n), (B, n), (B, n)))
    if kind == "lstm":
        fwd = lambda: lstm.lstm_forward(x, h0, c0, p)  # noqa: E731
        vjp = lambda: lstm.lstm_vjp(x, h0, c0, p, d_hs, d_hT, d_cT)  # noqa: E731
    elif kind == "gru":
        fwd = lambda: gru.gru_forward(x, h0, p, "reset_after")  # noqa: E731
        vjp = lambda: gru.gru_vjp(x, h0, p, d_hs, d_hT, "reset_after")  # noqa: E731
    else:
        fwd = lambda: rnn.rnn_forward(x, h0, p, "tanh")  # noqa: E731
        vjp = lambda: rnn.rnn_vjp(x, h0, p, d_hs, d_hT, "tanh")  # noqa: E731

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


@section("gru_vs_lstm", "GRU vs LSTM vs RNN: one training step (forward + full backward)", _render_gru, _summarize_gru)
def measure_gru_vs_lstm(s: Settings) -> dict:
    """Claim under test: "GRU has fewer parameters and trains faster than LSTM"."""
    configs = []
    for cfg in s.sizes:
        for dt in ("float32", "float64"):
            t0 = time.perf_counter()
            configs.append(_measure_config(s, cfg, dt))
            print(f"[performance]   {_cfg(cfg)} {dt}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
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


# ---- machine, versions, output ------------------------------------------------------------------------

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
    lines = ["# Performance: GEMM rates and GRU vs LSTM training-step time", "",
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
        if isinstance(v, dict):
            v = ", ".join(f"{a}: {_fmt(b, 2)}" for a, b in v.items())
        lines.append(f"- `{k}`: {v}")
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
    write_atomic(out / "performance.json", json.dumps(doc, indent=1) + "\n")
    write_atomic(out / "performance.md", render_markdown(doc))
    print(json.dumps(summary, indent=1))
    print(f"[performance] wrote performance.json and performance.md in {out} "
          f"({doc['runtime_s']['total']} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
