"""Section "gemm": GEMM rates (torch) at the shapes the recurrent cells multiply.
"""
from __future__ import annotations

import numpy as np

from .sections import fmt, section, size_text, table
from .timing import Settings, autorange, bench


def gemm_shapes(sizes) -> list:
    """(label, M, K, N) of the matmuls an LSTM (4n) and a GRU (3n) step use at each size, plus square 512."""
    out = []
    for B, T, n, m in sizes:
        tag = f"(B,T,n,m)={size_text((B, T, n, m))}"
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
        rows.append([r["label"], f"{r['M']} x {r['K']} x {r['N']}", fmt(g["numpy", "float32"], 1),
                     fmt(g["numpy", "float64"], 1), fmt(g["torch", "float32"], 1), fmt(g["torch", "float64"], 1),
                     fmt(g["numpy", "float32"] / g["numpy", "float64"])])
    return lines + table(hdr, rows)


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
