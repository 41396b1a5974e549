"""Section "reference": the NumPy references against torch.nn and against their own GEMM floor (the same
matmuls, timed alone from preallocated operands), at one thread and at every usable core in one run, with
the goals they are held to (`GOALS`, one declaration per goal: metric, dtype, bound and thread scope).
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from .recurrent import KINDS, canonical_params, each_config, fmt_ms, numpy_callables, torch_problem
from .sections import fmt, section, size_text, table
from .threads import all_cores, pinned
from .timing import LARGE, MIN_SAMPLE_S, SETTLE_S, Settings, bench, loadavg


#
# The NumPy references against torch.nn and against their own GEMM floor: the same matmuls as the
# reference performs, timed alone from preallocated operands. The floors below mirror the matmuls (shapes
# and operand layouts) of impl/numpy_ref/lstm.py, gru.py (reset_after) and rnn.py (tanh); when an
# implementation changes its matmuls, change its plan here.

ONE, ALL = "one thread", "all cores"  # the thread scopes a goal is held at

#: the ratios of one call's median times (forward + backward: one vjp call; torch forward + backward;
#: the floor's matmuls of both), each reported at every thread count measured
METRICS = {"numpy_over_floor": ("NumPy / floor", "numpy_vjp", "floor_vjp", "numpy_forward", "floor_forward"),
           "numpy_over_torch": ("NumPy / torch", "numpy_vjp", "torch_step", "numpy_forward", "torch_forward"),
           "floor_over_torch": ("floor / torch", "floor_vjp", "torch_step", "floor_forward", "torch_forward")}


@dataclass(frozen=True)
class Goal:
    """A goal: the ``metric`` (a key of `METRICS`) of the forward + backward call, for every kind at
    (B, T, n, m) = LARGE in ``dtype``, is at most ``bound`` at thread scope ``scope`` (`ONE`: one thread;
    `ALL`: every core the process may use). Goals, not assertions: no test fails on them."""

    metric: str
    dtype: str
    bound: float
    scope: str

    def __post_init__(self):
        if self.metric not in METRICS:
            raise ValueError(f"Goal.metric: {self.metric!r} is not one of {sorted(METRICS)}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"Goal.dtype: {self.dtype!r} is not 'float32' or 'float64'")
        if not (isinstance(self.bound, (int, float)) and math.isfinite(self.bound) and self.bound > 0):
            raise ValueError(f"Goal.bound: expected a positive finite number, got {self.bound!r}")
        if self.scope not in (ONE, ALL):
            raise ValueError(f"Goal.scope: {self.scope!r} is not {ONE!r} or {ALL!r}")


#: The floor goals bound the NumPy code's own overhead over its matmuls on the same BLAS, which threads do
#: not remove: they are the single-thread target. NumPy / torch compares OpenBLAS with torch's oneDNN
#: kernels; on one thread their GEMM floors alone differ by more than the goal allows (the generated text
#: gives the measured floor / torch), so it is held on all cores only and reported at both.
GOALS = (Goal("numpy_over_floor", "float32", 1.25, ONE),
         Goal("numpy_over_floor", "float64", 1.4, ONE),
         Goal("numpy_over_torch", "float32", 0.9, ALL),
         Goal("numpy_over_torch", "float64", 0.8, ALL))


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


def _measure_reference_config(s: Settings, cfg, dtype_name: str, settle_s: float = 0.0) -> dict:
    """One (B, T, n, m, dtype): for each kind the six callables of _REF_TIMED, plus a 512^3 GEMM, interleaved
    (``settle_s``: `bench`'s untimed pause before each sample)."""
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
    t = bench(fns, s, inner, settle_s)
    entry["gemm512_gflops"] = 2 * 512 ** 3 / t["gemm512"]["median"] / 1e9
    entry["gemm512_seconds"] = t["gemm512"]
    for kind in KINDS:
        sec = {name: t[f"{name}.{kind}"] for name in _REF_TIMED}
        fl = {"forward": plans[kind].flops(), "forward_backward": plans[kind].flops(("forward", "backward"))}
        med = {k: v["median"] for k, v in sec.items()}
        entry["kinds"][kind].update({
            "seconds": sec,
            "matmul_flops": fl,
            **kind_ratios(sec),
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


def kind_ratios(seconds: dict) -> dict:
    """Every `METRICS` ratio of one kind's timings (callable name -> `stats`), as ratios of medians:
    {metric: {"forward": ..., "forward_backward": ...}}."""
    med = {k: v["median"] for k, v in seconds.items()}
    return {metric: {"forward": med[num_f] / med[den_f], "forward_backward": med[num] / med[den]}
            for metric, (_, num, den, num_f, den_f) in METRICS.items()}


def runs(res: dict) -> list:
    """The runs of a reference result, one per thread count (``{"threads", "configs", ...}``); a result
    written before the section measured two thread counts (no ``"runs"``) is one run at 1 thread."""
    if not isinstance(res, dict) or not ("runs" in res or "configs" in res):
        raise ValueError("reference result: expected a dict with 'runs' (or the older 'configs'), got "
                         f"{type(res).__name__} {sorted(res) if isinstance(res, dict) else ''}")
    return res["runs"] if "runs" in res else [{"threads": 1, "configs": res["configs"]}]


def scopes(threads: int, cores: int | None) -> set:
    """The goal scopes a run at ``threads`` threads stands for, on a machine with ``cores`` usable cores
    (None: unknown, so only the one-thread scope can be recognised)."""
    return ({ONE} if threads == 1 else set()) | ({ALL} if cores is not None and threads == cores else set())


def threads_text(k: int) -> str:
    """A thread count as text: "1 thread", "2 threads"."""
    return "1 thread" if k == 1 else f"{k} threads"


def reference_goals(res: dict) -> list:
    """One row per (kind, dtype, metric, thread count) at (B, T, n, m) = LARGE, forward + backward: the
    measured ``value`` and the ``goal`` declared for that scope (None where none is) with its ``pass``."""
    bound = {}
    for g in GOALS:
        bound.setdefault((g.metric, g.dtype), {})[g.scope] = g.bound
    rows = []
    for run in runs(res):
        sc = scopes(run["threads"], res.get("all_cores"))
        for e in run["configs"]:
            c = e["config"]
            if (c["B"], c["T"], c["n"], c["m"]) != LARGE:
                continue
            for kind in KINDS:
                ratios = kind_ratios(e["kinds"][kind]["seconds"])
                for metric in METRICS:
                    held = [b for s, b in bound.get((metric, e["dtype"]), {}).items() if s in sc]
                    goal = min(held) if held else None
                    v = ratios[metric]["forward_backward"]
                    rows.append({"kind": kind, "dtype": e["dtype"], "metric": metric, "threads": run["threads"],
                                 "value": v, "goal": goal, "pass": None if goal is None else bool(v <= goal)})
    return rows


def _goal_cell(r: dict | None) -> str:
    if r is None:
        return "n/a"
    v = fmt(r["value"], 3)
    return v if r["goal"] is None else f"{v} (goal <= {r['goal']:g}: {'pass' if r['pass'] else '**fail**'})"


def render_goals(rows: list, metrics=tuple(METRICS)) -> list:
    """`reference_goals` rows as a table: a line per (kind, dtype, metric in ``metrics``), a column per
    thread count, each cell the measured ratio with the goal held there and its verdict."""
    cells = {}
    for r in rows:
        if r["metric"] in metrics:
            cells.setdefault((r["kind"], r["dtype"], r["metric"]), {})[r["threads"]] = r
    threads = sorted({r["threads"] for r in rows})
    order = sorted(cells, key=lambda k: (KINDS.index(k[0]), k[1], list(METRICS).index(k[2])))
    body = [[kind.upper(), dt, METRICS[m][0]] + [_goal_cell(cells[kind, dt, m].get(t)) for t in threads]
            for kind, dt, m in order]
    return table(["kind", "dtype", "forward + backward"] + [threads_text(t) for t in threads], body)


def scope_text(rows: list, cores: int | None) -> str:
    """Why each goal is held where it is, with the measured one-thread floor / torch of the float32 LSTM
    (from `reference_goals` ``rows``)."""
    def bounds(metric, scope):
        return " and ".join(f"<= {g.bound:g} {g.dtype}" for g in GOALS if g.metric == metric and g.scope == scope)

    f32 = {g.metric: g.bound for g in GOALS if g.dtype == "float32"}
    text = (f"NumPy / floor ({bounds('numpy_over_floor', ONE)}) is the single-thread target: it bounds what the "
            "NumPy code spends beyond its own matmuls on the same BLAS, which more threads do not remove. "
            f"NumPy / torch ({bounds('numpy_over_torch', ALL)}) is held on all cores only and reported at both: ")
    fl = [r["value"] for r in rows if (r["kind"], r["dtype"], r["metric"], r["threads"])
          == ("lstm", "float32", "floor_over_torch", 1)]
    if not fl:
        text += ("on one thread the GEMM floor alone leaves NumPy little room under torch.nn's time (floor / "
                 "torch, the measure of it, was not measured in this run).")
    else:
        need = f32["numpy_over_torch"] / fl[0]
        text += (f"on one thread the float32 LSTM's GEMM floor alone (its matmuls, none of its element-wise "
                 f"work) takes **{fl[0]:.2f}** of torch.nn's forward + backward time (OpenBLAS sgemm against "
                 f"torch's oneDNN LSTM and MKL), so NumPy / torch <= {f32['numpy_over_torch']:g} would need "
                 f"NumPy / floor <= {need:.2f}, against the {f32['numpy_over_floor']:g} the floor goal allows "
                 "for the element-wise work.")
    if cores == 1:
        text += " This machine has one usable core: the one-thread run stands for both scopes."
    return text


def _pinning_text(run: dict) -> str:
    info = run.get("pinning")
    if not info:
        return f"Threads: {run['threads']} (a result from before the runs recorded their pinning)."
    pools = ", ".join(f"{p['api']} {p['num_threads']}" for p in info.get("pools", [])) or info.get("numpy_blas", "")
    return f"Threads held during the run: torch intra-op {info['torch_intra_op']}, {pools}."


def _render_config(e: dict) -> list:
    """The timings and ratios of one (size, dtype) of one run."""
    c = e["config"]
    lines = [f"#### {size_text((c['B'], c['T'], c['n'], c['m']))} {e['dtype']}", "",
             f"{'s' if e['dtype'] == 'float32' else 'd'}gemm rate in the same run (512 x 512 x 512): "
             f"**{e['gemm512_gflops']:.1f} GFLOP/s**; load average at start {e['load_average_1min']}.", ""]
    rows, rows2 = [], []
    for kind in KINDS:
        d = e["kinds"][kind]
        sec, gf, rt = d["seconds"], d["gflops"], kind_ratios(d["seconds"])
        ms = lambda k: fmt_ms(sec[k])  # noqa: E731
        rows.append([kind.upper(), ms("numpy_forward"), ms("torch_forward"), ms("floor_forward"),
                     ms("numpy_vjp"), ms("torch_step"), ms("floor_vjp")])
        rows2.append([kind.upper()] + [fmt(rt[m][p]) for m in ("numpy_over_torch", "numpy_over_floor")
                                       for p in ("forward", "forward_backward")]
                     + [" / ".join(fmt(gf[k], 1) for k in ("numpy_forward_backward", "floor_forward_backward",
                                                           "torch_forward_backward")),
                        f"{d['numpy_vs_torch_max_rel_diff']['gradients']:.1e}"])
    lines += table(["kind", "NumPy fwd", "torch fwd", "floor fwd", "NumPy fwd+bwd (vjp)", "torch fwd+bwd",
                    "floor fwd+bwd"], rows) + [""]
    lines += table(["kind", "NumPy/torch fwd", "NumPy/torch fwd+bwd", "NumPy/floor fwd", "NumPy/floor fwd+bwd",
                    "GFLOP/s fwd+bwd NumPy / floor / torch", "grad rel. diff vs torch"], rows2) + [""]
    return lines + [f"- {n}" for n in e.get("notes", [])] + ([""] if e.get("notes") else [])


def _render_side_by_side(rs: list) -> list:
    """Forward + backward ratios of every (size, dtype, kind), one column per metric and thread count."""
    threads = [r["threads"] for r in rs]
    by = {}
    for run in rs:
        for e in run["configs"]:
            c = e["config"]
            for kind in KINDS:
                key = (size_text((c["B"], c["T"], c["n"], c["m"])), e["dtype"], kind)
                by.setdefault(key, {})[run["threads"]] = kind_ratios(e["kinds"][kind]["seconds"])
    header = ["(B, T, n, m)", "dtype", "kind"] + [f"{METRICS[m][0]}, {threads_text(t)}" for m in METRICS
                                                   for t in threads]
    body = [[size, dt, kind.upper()] + [fmt(v[t][m]["forward_backward"]) if t in v else "n/a"
                                         for m in METRICS for t in threads]
            for (size, dt, kind), v in by.items()]
    return table(header, body)


def _render_reference(res: dict) -> list:
    rs = runs(res)
    goals = reference_goals(res)
    counts = ", ".join(threads_text(r["threads"]) for r in rs)
    lines = [res["method"], ""]
    if goals:
        lines += [f"### Goals at (B, T, n, m) = {size_text(LARGE)}, forward + backward ({counts})", "",
                  "Goals, not assertions: no test fails on them. " + scope_text(goals, res.get("all_cores")), ""]
        lines += render_goals(goals) + [""]
    lines += [f"### Forward + backward ratios side by side ({counts})", ""] + _render_side_by_side(rs) + [""]
    for run in rs:
        lines += [f"### Timings at {threads_text(run['threads'])}", "", _pinning_text(run), ""]
        lines += [f"- {n}" for n in run.get("notes", [])] + ([""] if run.get("notes") else [])
        for e in run["configs"]:
            lines += _render_config(e)
    e0 = rs[0]["configs"][0]
    c = e0["config"]
    lines += [f"### The GEMM floors (matmuls of one call, (B, T, n, m) = {size_text((c['B'], c['T'], c['n'], c['m']))})", ""]
    for kind in KINDS:
        g = e0["kinds"][kind]["gemms"]
        lines += [f"- {kind.upper()} forward: " + "; ".join(f"`{x}`" for x in g["forward"]),
                  f"- {kind.upper()} backward (after the vjp's own forward): "
                  + "; ".join(f"`{x}`" for x in g["backward"])]
    return lines


#: the metrics some goal holds: the JSON summary keeps these
GOAL_METRICS = tuple(m for m in METRICS if any(g.metric == m for g in GOALS))


def _summarize_reference(res: dict) -> dict:
    """`reference_goals` of the goal metrics: {kind: {dtype: {metric: {threads: {value, goal, pass}}}}}
    (threads as a string; goal and pass None where no goal is held at that thread count)."""
    out = {}
    for r in reference_goals(res):
        if r["metric"] in GOAL_METRICS:
            out.setdefault(r["kind"], {}).setdefault(r["dtype"], {}).setdefault(r["metric"], {})[str(r["threads"])] = {
                "value": round(r["value"], 3), "goal": r["goal"], "pass": r["pass"]}
    if not out:
        return {"reference_goals": {"not_measured": f"the goals are set at (B, T, n, m) = {size_text(LARGE)}, "
                                                    "which this run did not measure"}}
    return {"reference_goals": out}


def summary_rows(summary: dict) -> list:
    """The `_summarize_reference` dict back as `reference_goals` rows (for `render_goals`)."""
    return [{"kind": kind, "dtype": dt, "metric": metric, "threads": int(t), **r}
            for kind, by_dt in summary.items() for dt, by_metric in by_dt.items()
            for metric, by_t in by_metric.items() for t, r in by_t.items()]


@section("reference", "NumPy references at BLAS speed: against torch.nn and against their GEMM floor, "
         "at 1 thread and at all cores", _render_reference, _summarize_reference)
def measure_reference(s: Settings) -> dict:
    """NumPy forward and vjp of LSTM / GRU / RNN vs torch.nn and vs the same matmuls alone, once per thread
    count of ``s.reference_threads`` (1 and every usable core), each run pinned with `pinned`."""
    cores = all_cores()
    out = []
    for k in s.reference_threads:
        print(f"[performance]   reference at {threads_text(k)}", file=sys.stderr, flush=True)
        settle = SETTLE_S if k > 1 else 0.0
        with pinned(k) as info:
            configs = each_config(s, lambda s_, cfg, dt: _measure_reference_config(s_, cfg, dt, settle))
        run = {"threads": k, "pinning": info, "settle_s": settle, "configs": configs}
        short = [f"{p['api']} {p['num_threads']}" for p in info.get("pools", []) if p["num_threads"] != k]
        short += [f"torch intra-op {info['torch_intra_op']}"] if info["torch_intra_op"] != k else []
        if short:
            run["notes"] = [f"asked for {threads_text(k)}, but {', '.join(short)} held"]
        out.append(run)
    res = {
        "method": (
            "Per (size, dtype), timed interleaved in one run, for LSTM, GRU (reset_after) and tanh RNN: the NumPy "
            "forward alone (`lstm_forward`, `gru_forward`, `rnn_forward`), NumPy forward + full BPTT backward "
            "(one call of `lstm_vjp` / `gru_vjp` / `rnn_vjp`, which runs its own forward), torch.nn forward "
            "alone (under no_grad) and torch.nn forward + backward giving the same gradients as the vjp "
            "(requires_grad on xs, h0, c0 and every parameter; backward of sum(out * G) + sum(h_T * G_h) "
            "(+ sum(c_T * G_c))), with the module's weights mapped to the canonical parameters and the same "
            "inputs and cotangents (torch.nn runs with its defaults: its float32 LSTM may use a fused oneDNN "
            "kernel; the last column checks that NumPy and torch give the same gradients). The GEMM floor is "
            "the matmuls the NumPy call performs (same shapes, operand layouts and dtype; input projection, the "
            "T recurrent step products, and in the backward the T dL/dh products and the dW_x, dW_h, dxs "
            "matmuls) run alone from preallocated operands. GFLOP/s = matmul FLOPs of the call / median time; "
            "the 512^3 GEMM rate is measured in the same run. Ratios are ratios of medians. The whole "
            f"measurement runs once per thread count ({', '.join(threads_text(k) for k in s.reference_threads)}"
            f"; {cores} usable core{'s' if cores != 1 else ''}), torch's intra-op pool and NumPy's BLAS "
            "pinned to it (torch.set_num_threads, threadpoolctl). With more than one thread each sample "
            f"starts after an untimed {SETTLE_S:g} s pause, so that the previous callable's worker threads "
            "(OpenBLAS spins about 0.1 s after a call, torch's OpenMP pool briefly) are asleep and do not "
            "take cores from the one being timed."),
        "threads": list(s.reference_threads),
        "all_cores": cores,
        "goals_definition": [{"metric": g.metric, "dtype": g.dtype, "bound": g.bound, "scope": g.scope,
                              "part": "forward_backward", "size_BTnm": list(LARGE)} for g in GOALS],
        "runs": out,
    }
    res["goals"] = reference_goals(res)
    return res
