"""Section "reference": the NumPy references against torch.nn and against their own GEMM floor (the same
matmuls, timed alone from preallocated operands), with the goals they are held to.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .recurrent import KINDS, canonical_params, each_config, fmt_ms, numpy_callables, torch_problem
from .sections import fmt, section, size_text, table
from .timing import LARGE, MIN_SAMPLE_S, Settings, bench, loadavg


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
    entry = {"config": {"B": B, "T": T, "n": n, "m": m}, "dtype": dtype_name, "load_average_1min": loadavg(),
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
    entry["load_average_1min_end"] = loadavg()
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
        return {"reference_goals": {"not_measured": f"the goals are set at (B, T, n, m) = {size_text(LARGE)}, "
                                                    "which this run did not measure"}}
    return {"reference_goals": out}


def render_goals(goals: list) -> list:
    rows = [[r["kind"].upper(), r["dtype"], r["metric"].replace("_over_", " / "), fmt(r["value"], 3),
             f"<= {r['goal']:g}", "pass" if r["pass"] else "**fail**"] for r in goals]
    return table(["kind", "dtype", "forward + backward", "measured", "goal", ""], rows)


def _render_reference(res: dict) -> list:
    lines = [res["method"], ""]
    if res["goals"]:
        lines += [f"### Goals at (B, T, n, m) = {size_text(LARGE)}, forward + backward", "",
                  "Goals, not assertions: no test fails on them.", ""] + render_goals(res["goals"]) + [""]
    for e in res["configs"]:
        c = e["config"]
        lines += [f"### {size_text((c['B'], c['T'], c['n'], c['m']))} {e['dtype']}", "",
                  f"{'s' if e['dtype'] == 'float32' else 'd'}gemm rate in the same run (512 x 512 x 512): "
                  f"**{e['gemm512_gflops']:.1f} GFLOP/s**; load average at start {e['load_average_1min']}.", ""]
        rows, rows2 = [], []
        for kind in KINDS:
            d = e["kinds"][kind]
            sec, nt, nf, gf = d["seconds"], d["numpy_over_torch"], d["numpy_over_floor"], d["gflops"]
            ms = lambda k: fmt_ms(sec[k])  # noqa: E731
            rows.append([kind.upper(), ms("numpy_forward"), ms("torch_forward"), ms("floor_forward"),
                         ms("numpy_vjp"), ms("torch_step"), ms("floor_vjp")])
            rows2.append([kind.upper(), fmt(nt["forward"]), fmt(nt["forward_backward"]), fmt(nf["forward"]),
                          fmt(nf["forward_backward"]),
                          " / ".join(fmt(gf[k], 1) for k in ("numpy_forward_backward", "floor_forward_backward",
                                                             "torch_forward_backward")),
                          f"{d['numpy_vs_torch_max_rel_diff']['gradients']:.1e}"])
        lines += table(["kind", "NumPy fwd", "torch fwd", "floor fwd", "NumPy fwd+bwd (vjp)", "torch fwd+bwd",
                         "floor fwd+bwd"], rows) + [""]
        lines += table(["kind", "NumPy/torch fwd", "NumPy/torch fwd+bwd", "NumPy/floor fwd", "NumPy/floor fwd+bwd",
                         "GFLOP/s fwd+bwd NumPy / floor / torch", "grad rel. diff vs torch"], rows2) + [""]
        lines += [f"- {n}" for n in e.get("notes", [])] + ([""] if e.get("notes") else [])
    e0 = res["configs"][0]
    c = e0["config"]
    lines += [f"### The GEMM floors (matmuls of one call, (B, T, n, m) = {size_text((c['B'], c['T'], c['n'], c['m']))})", ""]
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
