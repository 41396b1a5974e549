"""Independent references for the impl tests: a small random problem and an explicit per-sample loop."""
from __future__ import annotations

import numpy as np

T, B, N, M = 4, 2, 3, 2
PHI = {"tanh": np.tanh, "relu": lambda a: np.maximum(a, 0)}


def problem(seed=0, dtype=np.float64, scale=0.7):
    """(xs, h0, p, d_hs, d_hT): mixed-sign random weights, cast to ``dtype``."""
    rng = np.random.default_rng(seed)
    p = {"W_x": rng.normal(0, scale, (N, M)), "W_h": rng.normal(0, scale, (N, N)), "b": rng.normal(0, 0.3, N)}
    xs, h0 = rng.normal(size=(T, B, M)), rng.normal(0, 0.5, (B, N))
    d_hs, d_hT = rng.normal(size=(T, B, N)), rng.normal(size=(B, N))
    cast = lambda a: a.astype(dtype)  # noqa: E731
    return cast(xs), cast(h0), {k: cast(v) for k, v in p.items()}, cast(d_hs), cast(d_hT)


def ref_forward(xs, h0, p, phi):
    """Column-vector math, one sample and one step at a time: h_t = phi(W_x x_t + W_h h_{t-1} + b)."""
    hs = np.empty(xs.shape[:2] + (p["W_h"].shape[0],))
    for b in range(xs.shape[1]):
        h = h0[b]
        for t in range(xs.shape[0]):
            h = phi(p["W_x"] @ xs[t, b] + p["W_h"] @ h + p["b"])
            hs[t, b] = h
    return hs
