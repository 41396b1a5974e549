"""Section "gru_vs_lstm": the training-step time of GRU vs LSTM vs vanilla RNN, torch.nn and the NumPy
references, per dtype and size (forward + full backward, equal sizes, interleaved).
"""
from __future__ import annotations

import math
import sys
import time
import warnings
from typing import Callable

import numpy as np

from .sections import fmt, section, size_text, table
from .timing import MIN_SAMPLE_S, NOISY, Settings, bench, ratio


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
        return (lambda: lstm.lstm(xs, h0, c0, p),
                lambda: lstm.lstm_vjp(xs, h0, c0, p, d_hs, d_hT, d_cT))
    if kind == "gru":
        return (lambda: gru.gru(xs, h0, p, "reset_after"),
                lambda: gru.gru_vjp(xs, h0, p, d_hs, d_hT, "reset_after"))
    return (lambda: rnn.rnn(xs, h0, p, "tanh"),
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
    return f"{impl} {e['dtype']} {size_text((c['B'], c['T'], c['n'], c['m']))}"


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


def fmt_ms(st: dict) -> str:
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
            cfg = size_text((c["B"], c["T"], c["n"], c["m"]))
            if impl == "torch_onednn_off" and not d:
                continue
            if "seconds" not in d:
                skipped.append(f"- {cfg} {e['dtype']}: skipped: {d.get('skipped', 'not measured')}")
                continue
            sec = d["seconds"]
            last = (" / ".join(fmt(d["onednn_on_over_off"][k], 2) for k in KINDS) if impl == "torch_onednn_off"
                    else " / ".join(fmt(d["achieved_gflops"][k], 1) for k in KINDS))
            rows.append([cfg, e["dtype"], fmt_ms(sec["lstm"]), fmt_ms(sec["gru"]), fmt_ms(sec["rnn"]),
                         fmt(d["ratios"]["gru/lstm"], 3), fmt(d["ratios_of_min"]["gru/lstm"], 3),
                         fmt(d["ratios"]["rnn/lstm"], 3), last])
        if impl == "torch_onednn_off":
            lines += ["torch's CPU float32 LSTM can run a fused oneDNN kernel; this control times the same "
                      "modules with `torch.backends.mkldnn.flags(enabled=False)` to show how much of the "
                      "GRU/LSTM ratio comes from that kernel. Last column: time with oneDNN / time without.", ""]
        lines += table(["(B, T, n, m)", "dtype", "LSTM ms", "GRU ms", "RNN ms", "GRU/LSTM", "GRU/LSTM of min", "RNN/LSTM",
                         "on/off L / G / R" if impl == "torch_onednn_off" else "GFLOP/s L / G / R"], rows)
        lines += [""] + skipped + ([""] if skipped else [])
    rows = []
    for e in res["configs"]:
        if "numpy_over_torch" not in e:
            continue
        c = e["config"]
        rows.append([size_text((c["B"], c["T"], c["n"], c["m"])), e["dtype"]]
                    + [fmt(e["numpy_over_torch"][k]) for k in KINDS]
                    + [fmt(e["numpy_vjp_only_over_torch"][k]) for k in KINDS]
                    + [fmt(e["numpy_ref"]["ratios_vjp_only"]["gru/lstm"], 3)])
    lines += ["### NumPy reference / torch.nn step time", "",
              "The vjp recomputes its forward, so forward + vjp runs the forward twice; the vjp alone is a "
              "complete training step (outputs and all gradients) and is shown beside it.", ""]
    lines += table(["(B, T, n, m)", "dtype", "LSTM", "GRU", "RNN", "LSTM (vjp only)", "GRU (vjp only)",
                     "RNN (vjp only)", "GRU/LSTM (vjp only)"], rows) + [""]
    e0 = res["configs"][0]
    tp = e0["torch"]["params"]
    prow = [["torch.nn (two bias vectors)", tp["lstm"], tp["gru"], tp["rnn"], fmt(tp["gru/lstm"], 4), fmt(tp["rnn/lstm"], 4)]]
    if "params" in e0.get("numpy_ref", {}):
        npp = e0["numpy_ref"]["params"]
        prow.append(["NumPy reference (canonical)", npp["lstm"], npp["gru"], npp["rnn"], fmt(npp["gru/lstm"], 4),
                     fmt(npp["rnn/lstm"], 4)])
    c = e0["config"]
    lines += [f"### Parameter counts at n = {c['n']}, m = {c['m']}", ""]
    lines += table(["implementation", "LSTM", "GRU", "RNN", "GRU/LSTM", "RNN/LSTM"], prow)
    notes = [f"- {_label('', e).strip()}: {n}" for e in res["configs"] for n in e.get("notes", [])]
    return lines + ([""] + notes if notes else [])


def each_config(s: Settings, measure: Callable) -> list:
    """``measure(s, size, dtype)`` for every size and both dtypes, with a progress line each."""
    out = []
    for cfg in s.sizes:
        for dt in ("float32", "float64"):
            t0 = time.perf_counter()
            out.append(measure(s, cfg, dt))
            print(f"[performance]   {size_text(cfg)} {dt}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
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
