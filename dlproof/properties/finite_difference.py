"""Finite differences, one module for the properties and the tests: central differences of a function entry by
entry or along a direction, the same for the VJP loss <dy, f(x)>, the Richardson-checked comparison of an
oracle's gradient, and the check of a target's gradient against its OWN forward in its own dtype.

Central difference with step h (truncation O(h^2)):

    entry i:      g_i = (f(x + h e_i) - f(x - h e_i)) / 2h      (`gradient`; `jacobian` for a vector f)
    direction v:  D_h = (f(x + h v) - f(x - h v)) / 2h          (`directional`)
    VJP form:     the gradient of L(x) = <dy, f(x)>              (`vjp`)

**Oracle check** (`check_oracle`, the ``*.vjp.fd`` / ``*.vjp.oracle_fd`` properties, float64): with
ε = 1e-4 max(1, max |θ|) and a unit direction v, D_ε and D_{ε/2} are combined by Richardson,
R = (4 D_{ε/2} - D_ε) / 3, and <∇L, v> must match R within |D_ε - D_{ε/2}| (the truncation estimate)
+ 2 E_L / ε (E_L: the rounding bound of one evaluation of L) + 1e-12 |<∇L, v>|.

**Own-dtype check** (`points`, `check_own`, the ``*.vjp.fd_own_dtype`` properties). Their job is the
consistency of the backward with the forward the target actually computes: a forward that is wrong but whose
backward is its exact gradient passes here (and fails ``*.forward``); a backward that disagrees with its own
forward fails here (part "backward"), whatever the forward is.

With θ the example, v a unit direction and h the step, the points θ(s) = fl(θ + s h v) (rounded to the
target's dtype, s in {±1, ±2, ±4}) are fed to the target's forward, giving L(s) = <cotangents, outputs> in
float64 and each L's rounding bound E(s) (the forward error model). With D_s = L(s) - L(-s),
δ_s = θ(s) - θ(-s), E_s = E(s) + E(-s) and g the target's gradient:

    checked:     |D_1 - <g, δ_1>| <= SAFETY (T + E_T + E_1 + E_g + C)

- T: the truncation error of the central difference D_1, measured by Richardson on the target's forward.
  D_s = <∇L, δ_s> + s^3 X + s^5 Y + O(h^7) with X = (h^3/3) L''', Y = (h^5/60) L^(5). With
  P = D_2 - 2 D_1 - <g, δ_2 - 2 δ_1> = 6 X + 30 Y and Q = D_4 - 2 D_2 - <g, δ_4 - 2 δ_2> = 48 X + 960 Y,
  the truncation is X + Y = (38 P - Q) / 180 (the fifth-order term is eliminated, not assumed small);
  δ_2 - 2 δ_1 is a rounding-sized vector, so g's own error enters T only at rounding scale;
- E_T = (38 (E_2 + 2 E_1) + E_4 + 2 E_2) / 180: the rounding noise of that estimate;
- E_1: the rounding of the two compared evaluations;
- E_g = <t_g, |δ_1|> + 4u <|g|, |δ_1|>: the backward's own rounding (t_g the VJP error model, entry-wise);
- C = κ h (|r(1)| + |r(-1)|), κ = (|S_2 - S_1| + E_1 + E_2) / (3 h^2) with S_s = L(s) + L(-s)
  (S_2 - S_1 = 3 h^2 v^T H v + ...): the second-order term that the asymmetric rounding offsets
  r(s) = θ(s) - (θ + s h v) leave in D_1, with the curvature κ along v measured on the target's forward.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from . import tolerances as tol

STEPS = (1, -1, 2, -2, 4, -4)


def _partials(f: Callable, x, h: float) -> list:
    """(f(x + h e_i) - f(x - h e_i)) / 2h for every entry i of x, in C order."""
    out = []
    for idx in np.ndindex(np.shape(x)):
        plus, minus = x.copy(), x.copy()
        plus[idx] += h
        minus[idx] -= h
        out.append((f(plus) - f(minus)) / (2 * h))
    return out


def gradient(f: Callable, x, h: float = 1e-6) -> np.ndarray:
    """The central-difference gradient of the scalar ``f`` at the array ``x``, entry by entry: x's shape."""
    return np.array(_partials(f, x, h), np.float64).reshape(np.shape(x))


def jacobian(f: Callable, x, h: float = 1e-6) -> np.ndarray:
    """The central-difference Jacobian of ``f``: R^k -> R^r at the vector ``x``, numerator layout (r, k)."""
    return np.stack(_partials(f, x, h), axis=-1)


def vjp(f: Callable, x, dy, h: float = 1e-6) -> np.ndarray:
    """The central-difference gradient of L(x) = <dy, f(x)> (a vector-Jacobian product): x's shape."""
    return gradient(lambda a: float(np.sum(dy * f(a))), x, h)


def directional(f: Callable, x, v, h: float) -> float:
    """The central difference of the scalar ``f`` at ``x`` along ``v``: (f(x + h v) - f(x - h v)) / 2h."""
    return (f(x + h * v) - f(x - h * v)) / (2 * h)


# ---- the oracle's gradient, float64, Richardson-checked --------------------------------------------------------

def oracle_step(theta) -> float:
    """ε = 1e-4 max(1, max |θ|): the step of `check_oracle`."""
    return 1e-4 * max(1.0, float(np.max(np.abs(theta))))


def check_oracle(chk, exact: float, loss: Callable, theta, v, E_L: float) -> None:
    """Fail ``chk`` unless ``exact`` = <∇L, v> matches the Richardson extrapolation of central differences of
    ``loss`` at the flat float64 ``theta`` along the unit ``v`` (steps ε and ε/2, ε = `oracle_step`), within the
    truncation estimate |D_ε - D_{ε/2}| + the rounding 2 E_L / ε + 1e-12 |exact|; ``E_L`` bounds the rounding of
    one evaluation of ``loss``."""
    __tracebackhide__ = True
    eps = oracle_step(theta)
    d1 = directional(loss, theta, v, eps)
    d2 = directional(loss, theta, v, eps / 2)
    richardson = (4 * d2 - d1) / 3
    tolerance = abs(d1 - d2) + 2 * E_L / eps + 1e-12 * abs(exact)
    chk.scalar_close("<grad, v> vs central differences", exact, richardson, tolerance)


# ---- the target's gradient against its own forward, in its own dtype ---------------------------------------------

def step_size(dtype, theta) -> float:
    """h: 1e-2 (float32; not scaled by θ: with the points out to 4h, a step scaled by a large max |θ| leaves the
    range where the Taylor expansion behind T holds) or 1e-5 max(1, max |θ|) (float64)."""
    if np.dtype(dtype) == np.float32:
        return 1e-2
    return 1e-5 * max(1.0, float(np.max(np.abs(theta))))


def points(theta, v, dtype) -> dict:
    """{s: θ(s) as float64} for s in STEPS, each rounded to ``dtype``."""
    h = step_size(dtype, theta)
    return {s: (theta + s * h * v).astype(np.dtype(dtype)).astype(np.float64) for s in STEPS}


def check_own(chk, quantity: str, theta, v, dtype, pts: dict, loss: Callable, grad, grad_tol, precision: str) -> None:
    """Fail ``chk`` (part "backward") when the target's gradient ``grad`` (float64, flat) disagrees with ``loss``.

    ``loss(point) -> (L, E)``: the target's forward at the flat float64 point (already representable in the
    target's dtype), L its loss in float64 and E the bound on L's rounding error. ``grad_tol``: the VJP error
    model, flat and entry-wise.
    """
    __tracebackhide__ = True
    h = step_size(dtype, theta)
    L, E = {}, {}
    for s in STEPS:
        L[s], E[s] = loss(pts[s])
    g = np.asarray(grad, np.float64)
    d = {s: pts[s] - pts[-s] for s in (1, 2, 4)}
    D = {s: L[s] - L[-s] for s in (1, 2, 4)}
    Es = {s: E[s] + E[-s] for s in (1, 2, 4)}
    P = D[2] - 2 * D[1] - float(g @ (d[2] - 2 * d[1]))
    Q = D[4] - 2 * D[2] - float(g @ (d[4] - 2 * d[2]))
    trunc = abs(38 * P - Q) / 180
    e_trunc = (38 * (Es[2] + 2 * Es[1]) + Es[4] + 2 * Es[2]) / 180
    u = tol.unit_roundoff(precision)
    e_g = float(np.asarray(grad_tol, np.float64) @ np.abs(d[1])) + 4 * u * float(np.abs(g) @ np.abs(d[1]))
    kappa = (abs((L[2] + L[-2]) - (L[1] + L[-1])) + Es[1] + Es[2]) / (3 * h ** 2)
    offsets = np.linalg.norm(pts[1] - (theta + h * v)) + np.linalg.norm(pts[-1] - (theta - h * v))
    curvature = kappa * h * offsets
    budget = tol.SAFETY * (trunc + e_trunc + Es[1] + e_g + curvature) + 1e-300
    try:
        chk.scalar_close(quantity, float(g @ d[1]), D[1], budget)
    except AssertionError as exc:
        exc.part = "backward"
        exc.args = (f"{exc.args[0]} | the backward disagrees with the target's OWN forward (budget from that "
                    f"forward: truncation {trunc:.3g}, curvature {curvature:.3g}, rounding "
                    f"{e_trunc + Es[1] + e_g:.3g})",)
        raise
