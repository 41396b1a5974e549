"""Benchmark: how the cost of the symbolic derivations and proofs scales with the hidden size n and with T.

    python benchmarks/symbolic_scaling.py [--max-seconds 20] [--out reports]

Writes OUT/symbolic-scaling.json and OUT/symbolic-scaling.md (OUT defaults to the repository's reports/).

Two measurements, both with the project's own functions (derivations/*.py, the prover derivations/prove.py):

1. **BPTT, one induction step for every T.** The registered chain-rule derivations (rnn.bptt.jacobian_product,
   lstm.state.chain) prove the product of one-step Jacobians for every T by one induction step, in which the state
   h_{t-1} is an undefined function F(h_k) of the earlier state; the explicit unrolled checks are at fixed small T.
   Each of their obligations is rebuilt here at the registered sizes (derive and prove timed separately), the
   statements are checked against the registered ones, and the explicit unrolled check is continued past the
   registered T (not registered; only to show what the induction step avoids). The time-related derivations are
   run as registered and timed whole.
2. **Cell derivations against n.** For n = 1, 2, ... (m fixed) the element-wise Jacobian is derived
   (``Matrix.jacobian`` on explicit-entry matrices), the compact MatrixSymbol formula is evaluated on the same
   matrices (``matrices.explicit``), and the obligations of the registered derivation (rnn.cell.jacobian_h,
   lstm.cell.jacobian_h, lstm.state.jacobian, gru.cell.jacobian_h.{reset_after,reset_before}) are proved with
   ``prove_equal`` at that n. A series stops after a point whose CPU time exceeds ``max_seconds``, before a point
   predicted (log-log extrapolation of the last two points) to exceed ``PREDICT_FACTOR`` times that, or when the
   series has used ``SERIES_BUDGET`` times ``max_seconds``; the whole run then stays near 3 minutes of CPU. The exponent k of cost ~ n^k is a log-log least-squares fit on the
   larger points (n >= n_max / 4, at least 3 points).

Timer: ``time.process_time()`` (CPU time of this process; other jobs on the machine slow it much less than they
slow wall time), with wall time (``time.perf_counter()``) recorded beside it and ``os.getloadavg()`` per point.
Caches are cleared before every point (SymPy's cache and the derivation modules' ``lru_cache``s), and every
series runs one untimed n = 1 point first.
"""
from __future__ import annotations

import argparse
import datetime
import gc
import math
import os
import platform
import re
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import sympy as sp

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from dlproof.derivations import gru, lstm, registry  # noqa: E402
from dlproof.derivations.rnn import bptt  # noqa: E402
from dlproof.derivations.rnn.cell import explicit_cell  # noqa: E402
from dlproof.atomic import write_atomic, write_json  # noqa: E402
from dlproof.derivations.functions import phi, phi_prime  # noqa: E402
from dlproof.derivations.matrices import explicit, mat  # noqa: E402
from dlproof.derivations.prove import PROVED, combine, prove_equal  # noqa: E402

SCHEMA = 1
M = 2  # the input size, held fixed in the cell series
GRID = (1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128)
SERIES_BUDGET = 3.0  # a series starts no new point once it has used this many times max_seconds (CPU)
PREDICT_FACTOR = 1.0  # ... nor a point predicted to take more than this many times max_seconds
FIT_FRACTION = 4  # fit on the points with n >= n_max / FIT_FRACTION (at least FIT_MIN of them)
FIT_MIN = 3
CONTRAST_FACTOR = 0.25  # the unrolled contrast stops after a point over this many times max_seconds
#: registered derivations whose statements involve time (T, t - k) or an induction on t; run and timed whole
TIME_DERIVATIONS = ("rnn.bptt.", "lstm.state.chain", "lstm.cec.", "lstm.claim.gates_no_vanishing",
                    "gru.bounded_state", "bi.")


# ---- timing ----------------------------------------------------------------------------------------------

class Clock:
    """Accumulates CPU (process_time) and wall (perf_counter) seconds per named phase."""

    def __init__(self):
        self.cpu: dict[str, float] = {}
        self.wall: dict[str, float] = {}

    @contextmanager
    def __call__(self, phase: str):
        c, w = time.process_time(), time.perf_counter()
        try:
            yield
        finally:
            self.cpu[phase] = self.cpu.get(phase, 0.0) + time.process_time() - c
            self.wall[phase] = self.wall.get(phase, 0.0) + time.perf_counter() - w

    def total(self, phases, kind="cpu") -> float:
        d = self.cpu if kind == "cpu" else self.wall
        return sum(d.get(p, 0.0) for p in phases)


def _fresh():
    """Forget every cached expression, so a point costs what a cold derivation costs."""
    sp.core.cache.clear_cache()
    for f in (lstm.explicit_cell, lstm._jac, gru.explicit_gru, gru._jacobian):
        f.cache_clear()
    gc.collect()


def _load1() -> float:
    return round(os.getloadavg()[0], 2)


def _ops(M_) -> int:
    """sympy.count_ops summed over the entries of a matrix (the expression tree, not the shared DAG)."""
    return int(sum(sp.count_ops(e) for e in M_))


def _r(x: float) -> float:
    return float(f"{x:.4g}")


# ---- the cell derivations, one function per registered record --------------------------------------------
# Each builds the registered obligations at (n, m) with the module's own helpers. Phases: "build" (explicit
# cell), "jacobian" (element-wise Jacobian and its J^T delta), "compact" (the compact formula on the same
# explicit matrices), "prove" (prove_equal). Returns (element-wise Jacobian, [(statement, ProofResult)]).

def _rnn_jacobian_h(n, m, clock):
    with clock("build"):
        cell, E, h_new = explicit_cell(n, m)
    with clock("jacobian"):
        J = h_new.jacobian(E[cell.h])
        JtD = J.T * E[cell.delta]
    with clock("compact"):
        C, V = explicit(cell.jac_h(), E), explicit(cell.vjp_h(), E)
    with clock("prove"):
        obl = [(f"n={n}, m={m}: element-wise dh'/dh = compact form", prove_equal(J, C)),
               (f"n={n}, m={m}: J^T delta = VJP form", prove_equal(JtD, V))]
    return J, obl


def _lstm_jacobian_h(n, m, clock):
    with clock("build"):
        cell, E, _, _ = lstm.explicit_cell(n, m)
    with clock("jacobian"):
        J = lstm._jac(n, m, "h")
        JtD = J.T * lstm._cotangent(n, m)
    with clock("compact"):
        Chh, Cch, V = (explicit(cell.jac_hh(), E), explicit(cell.jac_ch(), E), explicit(cell.vjp_h(), E))
    with clock("prove"):
        obl = [(f"n={n}, m={m}: element-wise dh'/dh = compact jac_hh", prove_equal(J[:n, :], Chh)),
               (f"n={n}, m={m}: element-wise dc'/dh = compact jac_ch", prove_equal(J[n:, :], Cch)),
               (f"n={n}, m={m}: J_h^T [delta_h; delta_c] = compact vjp_h", prove_equal(JtD, V))]
    return J, obl


def _lstm_state_jacobian(n, m, clock):
    with clock("build"):
        cell, E, _, _ = lstm.explicit_cell(n, m)
    with clock("jacobian"):
        J = lstm._jac(n, m, "h").row_join(lstm._jac(n, m, "c"))
    with clock("compact"):
        S = lstm._state_block_matrix(cell, E)
    with clock("prove"):
        obl = [(f"n={n}, m={m}: d[h';c']/d[h;c] = [[dh'/dh, dh'/dc], [dc'/dh, diag(f)]]", prove_equal(J, S))]
    return J, obl


def _gru_jacobian_h(variant):
    def build(n, m, clock):
        with clock("build"):
            cell, E, _ = gru.explicit_gru(n, m, variant)
        with clock("jacobian"):
            J = gru._jacobian(n, m, variant, "h")
            JtD = J.T * E[cell.delta]
        with clock("compact"):
            C, V = explicit(cell.jac_h(), E), explicit(cell.vjp_h(), E)
        with clock("prove"):
            obl = [(f"n={n}, m={m}: element-wise dh'/dh = compact form", prove_equal(J, C)),
                   (f"n={n}, m={m}: J^T delta = VJP form", prove_equal(JtD, V))]
        return J, obl

    return build


CELLS = {
    "rnn.cell.jacobian_h": (_rnn_jacobian_h, "RNN: dh'/dh (n x n) and its VJP"),
    "lstm.cell.jacobian_h": (_lstm_jacobian_h, "LSTM: d(h', c')/dh (2n x n) and its VJP"),
    "lstm.state.jacobian": (_lstm_state_jacobian, "LSTM: state Jacobian d(h', c')/d(h, c) (2n x 2n)"),
    "gru.cell.jacobian_h.reset_after": (_gru_jacobian_h("reset_after"), "GRU (reset-after): dh'/dh and its VJP"),
    "gru.cell.jacobian_h.reset_before": (_gru_jacobian_h("reset_before"), "GRU (reset-before): dh'/dh and its VJP"),
}
DERIVE = ("build", "jacobian", "compact")


def _point(fn, n, m) -> dict:
    _fresh()
    load = _load1()
    clock = Clock()
    J, obl = fn(n, m, clock)
    verdict = combine(r for _, r in obl)
    return {
        "n": n, "m": m,
        "derive_s": _r(clock.total(DERIVE)), "prove_s": _r(clock.total(("prove",))),
        "total_s": _r(clock.total(DERIVE + ("prove",))),
        "wall": {"derive_s": _r(clock.total(DERIVE, "wall")), "prove_s": _r(clock.total(("prove",), "wall"))},
        "phases_cpu_s": {p: _r(clock.cpu[p]) for p in DERIVE + ("prove",)},
        "ops": _ops(J), "shape": list(J.shape),
        "status": verdict.status, "method": verdict.method,
        "obligations": [{"statement": s, "status": r.status, "method": r.method} for s, r in obl],
        "loadavg_1m": load,
    }


def _predict(points, n_next, key="total_s"):
    """Log-log extrapolation of the last two points to n_next (None if it cannot be made)."""
    if len(points) < 2:
        return None
    (n1, y1), (n2, y2) = [(p["n"], p[key]) for p in points[-2:]]
    if min(y1, y2) <= 0 or n1 == n2:
        return None
    k = math.log(y2 / y1) / math.log(n2 / n1)
    return y2 * (n_next / n2) ** max(k, 1.0)


def fit_exponent(ns, ys):
    """Least-squares slope of log y against log n (None with fewer than 2 usable points)."""
    pts = [(math.log(n), math.log(y)) for n, y in zip(ns, ys) if n > 0 and y and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    if sxx == 0:
        return None
    return round(sum((x - mx) * (y - my) for x, y in pts) / sxx, 2)


def _fit(points) -> dict:
    if not points:
        return {"n": [], "total": None, "derive": None, "prove": None, "ops": None}
    n_max = max(p["n"] for p in points)
    use = [p for p in points if p["n"] >= n_max / FIT_FRACTION]
    if len(use) < FIT_MIN:
        use = points[-FIT_MIN:]
    ns = [p["n"] for p in use]
    return {"n": ns,
            "total": fit_exponent(ns, [p["total_s"] for p in use]),
            "derive": fit_exponent(ns, [p["derive_s"] for p in use]),
            "prove": fit_exponent(ns, [p["prove_s"] for p in use]),
            "ops": fit_exponent(ns, [p["ops"] for p in use])}


def measure_cell(cid: str, max_seconds: float, ns=GRID, m: int = M) -> dict:
    fn, title = CELLS[cid]
    _point(fn, 1, m)  # untimed warm-up: imports, first-call costs
    points, stopped, used = [], "end of the n grid", 0.0
    for n in ns:
        if used > SERIES_BUDGET * max_seconds:
            stopped = f"series budget spent ({used:.1f} s CPU > {SERIES_BUDGET:g} x {max_seconds:g} s) before n={n}"
            break
        pred = _predict(points, n)
        if pred is not None and pred > PREDICT_FACTOR * max_seconds:
            stopped = f"n={n} predicted to take {pred:.0f} s CPU (> {PREDICT_FACTOR * max_seconds:g} s), not run"
            break
        p = _point(fn, n, m)
        points.append(p)
        used += p["total_s"]
        if p["total_s"] > max_seconds:
            stopped = f"n={n} took {p['total_s']:.1f} s CPU (> {max_seconds:g} s)"
            break
    return {"title": title, "m": m, "points": points, "stopped": stopped, "fit": _fit(points)}


# ---- BPTT: the induction steps and the fixed-T checks ----------------------------------------------------
# The obligations of rnn.bptt.jacobian_product and lstm.state.chain, rebuilt with the modules' helpers
# (derivations/rnn/bptt.py `_product`, derivations/lstm.py `_chain`); the statements are checked against the
# registered ones.

def _rnn_induction(n, clock):
    with clock("derive"):
        h0 = mat("h0", n, 1)
        F = sp.Matrix([sp.Function(f"F{i}")(*h0) for i in range(n)])
        W_h, W_x, b, x = mat("Wh", n, n), mat("Wx", n, 1), mat("b", n, 1), mat("x", 1, 1)
        a = W_x * x + W_h * F + b
        J = sp.diag(*a.applyfunc(phi_prime)) * W_h
        lhs, rhs = a.applyfunc(phi).jacobian(h0), J * F.jacobian(h0)
    with clock("prove"):
        r = prove_equal(lhs, rhs)
    return f"induction step (every T), n={n}: d h_t/d h_k = J_t (d h_{{t-1}}/d h_k)", lhs, r


def _rnn_unrolled(span, clock, n=2, m=1):
    with clock("derive"):
        net = bptt.unroll(span, n, m)
        P = sp.eye(n)
        for i in range(1, span + 1):
            P = bptt._J(net, i) * P
        lhs = net["hs"][span].jacobian(net["h0"])
    with clock("prove"):
        r = prove_equal(lhs, P)
    return f"t-k={span}: dh_t/dh_k = J_t ... J_(k+1)", lhs, r


def _lstm_induction(n, clock):
    with clock("derive"):
        Pe = lstm.explicit_params(n, 1)
        x = mat("x", 1, 1)
        hk, ck = mat("hk", n, 1), mat("ck", n, 1)
        z = list(hk) + list(ck)
        Fh = sp.Matrix([sp.Function(f"Fh{j}")(*z) for j in range(n)])
        Fc = sp.Matrix([sp.Function(f"Fc{j}")(*z) for j in range(n)])
        h1, c1 = lstm.step(Pe, x, Fh, Fc)
        var = hk.col_join(ck)
        lhs = h1.col_join(c1).jacobian(var)
        rhs = lstm._S_at(n, 1, Pe, x, Fh, Fc) * Fh.col_join(Fc).jacobian(var)
    with clock("prove"):
        r = prove_equal(lhs, rhs)
    return (f"induction step (every t-k), n={n}: d(h_t,c_t)/d(h_k,c_k) = S_t d(h_(t-1),c_(t-1))/d(h_k,c_k)", lhs, r)


def _lstm_unrolled(span, clock):
    with clock("derive"):
        Pe, xs, h0, c0, states = lstm._unroll(span, 1, 1)
        P = sp.eye(2)
        for t in range(span):
            P = lstm._S_at(1, 1, Pe, xs[t], *states[t]) * P
        hT, cT = states[span]
        lhs = hT.col_join(cT).jacobian(h0.col_join(c0))
    with clock("prove"):
        r = prove_equal(lhs, P)
    return f"t-k={span} (n=m=1): d(h_t,c_t)/d(h_k,c_k) = S_t ... S_(k+1)", lhs, r


#: (derivation id, builder, sizes, registered sizes, what the size is, what one obligation covers)
INDUCTION = (
    ("rnn.bptt.jacobian_product", _rnn_induction, (2, 3, 4), (2, 3), "n", "every T"),
    ("lstm.state.chain", _lstm_induction, (1, 2, 3), (1, 2), "n", "every t - k"),
)
FIXED_T = (
    ("rnn.bptt.jacobian_product", _rnn_unrolled, tuple(range(1, 11)), (1, 2, 3), "t-k (n=2, m=1)"),
    ("lstm.state.chain", _lstm_unrolled, (1, 2, 3, 4, 5), (1, 2), "t-k (n=m=1)"),
)


def _row(did, size, registered, fn, covers=None) -> dict:
    _fresh()
    load = _load1()
    clock = Clock()
    statement, lhs, r = fn(size, clock)
    row = {"derivation": did, "size": size, "registered": size in registered, "statement": statement,
           "derive_s": _r(clock.cpu["derive"]), "prove_s": _r(clock.cpu["prove"]),
           "total_s": _r(clock.cpu["derive"] + clock.cpu["prove"]),
           "wall_s": _r(clock.wall["derive"] + clock.wall["prove"]),
           "ops": _ops(lhs), "status": r.status, "method": r.method, "loadavg_1m": load}
    if covers:
        row["covers"] = covers
    return row


def _explicit_sizes(texts) -> list[int]:
    """The explicit T / t - k values named in a derivation's statements and assumptions."""
    out = set()
    for s in texts:
        for mt in re.finditer(r"(?:\bT|\bt\s*-\s*k)\s*=\s*((?:\d+\s*,\s*)*\d+)", s):
            out.update(int(v) for v in re.split(r"\s*,\s*", mt.group(1)))
    return sorted(out)


def measure_bptt(max_seconds: float) -> dict:
    for did, fn, sizes, _, _, _ in INDUCTION:  # untimed warm-up
        _row(did, sizes[0], (), fn)
    steps = [_row(did, n, reg, fn, covers) for did, fn, sizes, reg, _, covers in INDUCTION for n in sizes]
    fixed = []
    for did, fn, spans, reg, unit in FIXED_T:
        rows, stopped = [], "end of the list"
        for span in spans:
            pred = _predict([{"n": r["size"], "total_s": r["total_s"]} for r in rows], span)
            if span not in reg and pred is not None and pred > 2 * CONTRAST_FACTOR * max_seconds:
                stopped = (f"t-k={span} predicted to take {pred:.0f} s CPU "
                           f"(> {2 * CONTRAST_FACTOR:g} x {max_seconds:g} s), not run")
                break
            rows.append(_row(did, span, reg, fn))
            if span not in reg and rows[-1]["total_s"] > CONTRAST_FACTOR * max_seconds:
                stopped = f"t-k={span} took {rows[-1]['total_s']:.1f} s CPU (> {CONTRAST_FACTOR:g} x {max_seconds:g} s)"
                break
        fixed.append({"derivation": did, "unit": unit, "rows": rows, "stopped": stopped})
    # the registered derivations involving time, run as registered
    specs = registry.specs()
    whole, registered_statements = [], {}
    for sid in sorted(s for s in specs if s.startswith(TIME_DERIVATIONS)):
        _fresh()
        spec = specs[sid]
        c, w = time.process_time(), time.perf_counter()
        obligations = spec.fn()
        cpu, wall = time.process_time() - c, time.perf_counter() - w
        statements = [s for s, _ in obligations]
        registered_statements[sid] = statements
        every = [s for s in statements if re.search(r"induction|every T|every t", s)]
        whole.append({"derivation": sid, "obligations": len(obligations), "every_T_obligations": len(every),
                      "explicit_T": _explicit_sizes(statements + list(spec.assumptions)),
                      "status": registry.status_of(spec.kind, [r for _, r in obligations]), "kind": spec.kind,
                      "cpu_s": _r(cpu), "wall_s": _r(wall)})
    mirrored = [r for r in steps if r["registered"]] + [r for f in fixed for r in f["rows"] if r["registered"]]
    mismatched = [r["statement"] for r in mirrored
                  if r["statement"] not in registered_statements.get(r["derivation"], ())]
    return {"induction_steps": steps, "fixed_T": fixed, "time_derivations": whole,
            "mirror_matches_registry": not mismatched, "mirror_mismatches": mismatched}


# ---- the run ---------------------------------------------------------------------------------------------

def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def measure(max_seconds: float = 20.0, *, cells=None, ns=GRID, m: int = M, bptt_part: bool = True) -> dict:
    """Run the measurements; returns the JSON-ready result (see the module docstring)."""
    c0, w0 = time.process_time(), time.perf_counter()
    load_start = [round(v, 2) for v in os.getloadavg()]
    out = {
        "schema": SCHEMA,
        "measured_on": datetime.date.today().isoformat(),
        "versions": {"python": platform.python_version(), "sympy": sp.__version__},
        "machine": {"cpu_model": _cpu_model(), "cpu_count": os.cpu_count(), "loadavg_start": load_start},
        "settings": {"max_seconds": max_seconds, "m": m, "grid": list(ns), "series_budget": SERIES_BUDGET,
                     "predict_factor": PREDICT_FACTOR, "fit_rule": f"n >= n_max/{FIT_FRACTION}, at least {FIT_MIN} points",
                     "timer": "time.process_time (CPU seconds of this process); wall seconds beside it"},
    }
    if bptt_part:
        out["bptt"] = measure_bptt(max_seconds)
    out["cells"] = {cid: measure_cell(cid, max_seconds, ns, m) for cid in (cells or CELLS)}
    out["machine"]["loadavg_end"] = [round(v, 2) for v in os.getloadavg()]
    out["run"] = {"cpu_s": _r(time.process_time() - c0), "wall_s": _r(time.perf_counter() - w0)}
    return out


# ---- Markdown --------------------------------------------------------------------------------------------

def _s(x) -> str:
    if x is None:
        return "–"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def _k(x) -> str:
    return "–" if x is None else f"{x:.2f}"


def render(result: dict) -> list[str]:
    """The Markdown report, one line per list item."""
    mach, ver, st = result["machine"], result["versions"], result["settings"]
    L = ["# Symbolic scaling: cost of the SymPy derivations and proofs against n and T", "",
         "Generated by `python benchmarks/symbolic_scaling.py` (figures in `reports/symbolic-scaling.json`).", "",
         f"Measured on {result['measured_on']}: {mach['cpu_model']}, {mach['cpu_count']} cores, "
         f"Python {ver['python']}, SymPy {ver['sympy']}. "
         f"Load average (1, 5, 15 min) {tuple(mach['loadavg_start'])} at the start, "
         f"{tuple(mach.get('loadavg_end', ()))} at the end; the 1-minute load is recorded per point in the JSON.",
         "Seconds are CPU seconds of the measuring process (`time.process_time`), which other jobs on the machine "
         "inflate much less than wall time (recorded beside it in the JSON); treat them as ±30 % when the load "
         "exceeds the core count. Caches (SymPy's and the derivation modules') are cleared before every point.", ""]
    run = result.get("run")
    if run:
        L += [f"Whole run: {run['cpu_s']:.0f} s CPU, {run['wall_s']:.0f} s wall.", ""]
    L += _render_summary(result)
    b = result.get("bptt")
    if b:
        L += _render_bptt(b)
    L += _render_cells(result["cells"], st)
    return L


def _render_summary(result: dict) -> list[str]:
    L = ["## Summary", ""]
    b = result.get("bptt")
    if b:
        reg = [r for r in b["induction_steps"] if r["registered"]]
        per = ", ".join(f"`{r['derivation']}` n={r['size']}: {_s(r['total_s'])} s" for r in reg)
        L.append(f"- BPTT: the induction steps ({per}) prove the chain rule for every T at a cost that does not "
                 "depend on T; every other time-related obligation is T-free or at a fixed T <= "
                 f"{max((t for w in b['time_derivations'] for t in w['explicit_T']), default='–')}.")
    for cid, c in result["cells"].items():
        f, pts = c["fit"], c["points"]
        if pts:
            L.append(f"- `{cid}`: cost ~ n^{_k(f['total'])} (derive n^{_k(f['derive'])}, prove n^{_k(f['prove'])}; "
                     f"expression size n^{_k(f['ops'])}), n = 1..{pts[-1]['n']} with m = {c['m']}, "
                     f"{_s(pts[-1]['total_s'])} s at n = {pts[-1]['n']}; " + (
                         "proved at every n." if all(p["status"] == PROVED for p in pts) else
                         "NOT proved at n = " + ", ".join(str(p["n"]) for p in pts if p["status"] != PROVED) + "."))
    L.append("")
    return L


def _render_bptt(b: dict) -> list[str]:
    steps = b["induction_steps"]
    reg = [r for r in steps if r["registered"]]
    reg_cost = sum(r["total_s"] for r in reg)
    whole = b["time_derivations"]
    fixed_max = max((t for w in whole for t in w["explicit_T"]), default=None)
    L = ["## BPTT: one induction step proves the chain for every T", "",
         "The chain rule across time is proved by an induction step: h_{t-1} is an undefined function F(h_k) "
         "(n undefined functions of the earlier state; for the LSTM, 2n functions of (h_k, c_k)), and the "
         "obligation is d cell(F)/d h_k = J_t dF/dh_k (RNN) or S_t dF/d(h_k, c_k) (LSTM). T occurs nowhere in it, "
         "so one proof at a given n covers every T and its cost cannot grow with T: the chain is never expanded. "
         f"The registered induction steps cost {reg_cost:.2f} s CPU in all.", "",
         "| derivation | obligation | n | covers | derive s | prove s | ops (lhs) | proof |", "|---|---|---|---|---|---|---|---|"]
    for r in steps:
        tag = "" if r["registered"] else " (extra size, not registered)"
        L.append(f"| `{r['derivation']}` | {r['statement'].split(':', 1)[0]}{tag} | {r['size']} | {r['covers']} | "
                 f"{_s(r['derive_s'])} | {_s(r['prove_s'])} | {r['ops']} | {r['status']} ({r['method']}) |")
    L += ["", "The explicit checks beside it are fixed sizes (the registered ones) and, continued past them only "
          "for contrast (not registered), show what unrolling would cost: the proof cost grows with T, "
          "steeply for the LSTM.", ""]
    for f in b["fixed_T"]:
        L += [f"`{f['derivation']}`, explicit unrolled check, {f['unit']} (stopped: {f['stopped']}):", "",
              "| t-k | registered | derive s | prove s | ops (lhs) | proof |", "|---|---|---|---|---|---|"]
        for r in f["rows"]:
            L.append(f"| {r['size']} | {'yes' if r['registered'] else 'no'} | {_s(r['derive_s'])} | "
                     f"{_s(r['prove_s'])} | {r['ops']} | {r['status']} ({r['method']}) |")
        L.append("")
    L += ["Every registered derivation that involves time, run as registered (all its obligations). "
          "*explicit T* lists the T or t - k values named in its statements and assumptions: fixed numbers, "
          "not a parameter; *every-T obligations* are induction steps (or index identities in a symbolic T).", "",
          "| derivation | kind | obligations | every-T obligations | explicit T | CPU s | status |",
          "|---|---|---|---|---|---|---|"]
    for w in whole:
        ts = ", ".join(map(str, w["explicit_T"])) or "–"
        L.append(f"| `{w['derivation']}` | {w['kind']} | {w['obligations']} | {w['every_T_obligations']} | {ts} | "
                 f"{_s(w['cpu_s'])} | {w['status']} |")
    total = sum(w["cpu_s"] for w in whole)
    L += ["", f"In all {total:.2f} s CPU. No obligation takes T as an input: the largest explicit size is "
          f"T = {fixed_max}, and the statements for every T rest on the induction steps above (with the explicit "
          "t - k = 1 check as the base case). derivations/gru.py registers no chain-rule derivation across time (no "
          "product of GRU Jacobians, no induction step with undefined functions); its only time-related result, "
          "`gru.bounded_state`, is an induction on t whose step is a T-free scalar identity.",
          "The rebuilt obligations' statements " + ("match the registered ones." if b["mirror_matches_registry"]
                                                    else f"DIFFER from the registered ones: {b['mirror_mismatches']}"),
          ""]
    return L


def _render_cells(cells: dict, st: dict) -> list[str]:
    L = ["## Cell derivations: cost against n", "",
         f"m = {st['m']} fixed. *derive* = explicit cell + element-wise Jacobian (and J^T delta) + the compact "
         "formula on the same explicit matrices; *prove* = `prove_equal` of every obligation of the registered "
         "derivation at that n. *ops* = `sympy.count_ops` summed over the entries of the element-wise Jacobian. "
         f"A series stops after a point over {st['max_seconds']:g} s CPU, before a point predicted (log-log, from "
         f"the last two points) to take over {st['predict_factor'] * st['max_seconds']:g} s, or once it has used "
         f"{st['series_budget'] * st['max_seconds']:g} s. Every obligation at every n is proved by the project's "
         "prover (the *proof* column: its status and the tiers that decided it).", "",
         f"Fitted exponents k of cost ~ n^k (log-log least squares on {st['fit_rule']}):", "",
         "| derivation | fit on n | k (total) | k (derive) | k (prove) | k (ops) | largest n, total s |",
         "|---|---|---|---|---|---|---|"]
    for cid, c in cells.items():
        f, pts = c["fit"], c["points"]
        last = f"{pts[-1]['n']}: {_s(pts[-1]['total_s'])}" if pts else "–"
        ns = f"{f['n'][0]}–{f['n'][-1]} ({len(f['n'])} points)" if f["n"] else "–"
        L.append(f"| `{cid}` | {ns} | {_k(f['total'])} | {_k(f['derive'])} | {_k(f['prove'])} | {_k(f['ops'])} | {last} |")
    L.append("")
    for cid, c in cells.items():
        L += [f"### `{cid}`: {c['title']}", "", f"Stopped: {c['stopped']}.", "",
              "| n | derive s | prove s | total s | ops | proof |", "|---|---|---|---|---|---|"]
        for p in c["points"]:
            L.append(f"| {p['n']} | {_s(p['derive_s'])} | {_s(p['prove_s'])} | {_s(p['total_s'])} | {p['ops']} | "
                     f"{p['status']} ({p['method']}) |")
        L.append("")
    return L


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--max-seconds", type=float, default=20.0)
    ap.add_argument("--out", default=str(ROOT / "reports"))
    args = ap.parse_args(argv)
    result = measure(args.max_seconds)
    out = Path(args.out)
    write_json(out / "symbolic-scaling.json", result, indent=1, ensure_ascii=False)
    write_atomic(out / "symbolic-scaling.md", "\n".join(render(result)).rstrip("\n") + "\n")
    print(f"wrote {out / 'symbolic-scaling.json'} and {out / 'symbolic-scaling.md'} "
          f"({result['run']['wall_s']:.0f} s wall)")
    for cid, c in result["cells"].items():
        print(f"{cid:36s} k_total={_k(c['fit']['total'])} k_ops={_k(c['fit']['ops'])} n_max={c['points'][-1]['n']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
