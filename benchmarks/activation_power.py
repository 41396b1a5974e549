"""Benchmark: the power of a float32 cuDNN check before and after activation_ulps (issue 19).

    python benchmarks/activation_power.py [--seeds 20] [--json PATH]

The planted bug: an LSTM with gates i and f swapped (c' = i c + f g), every parameter (weights and biases) of
the correct LSTM scaled by s, so the two outputs differ by O(s) (at s = 0 both gates are sigma(0) = 1/2). For s on
the grid 2^(-k/4), k = 0..160, and for each of ``--seeds`` fixed problems (T = 4, B = 3, n = 4, m = 3; W entries
N(0, 1/fan-in), b N(0, 1), x N(0, 1), h0 = tanh N(0, 1), c0 N(0, 1); the seeds 0, 1, ...), the swapped LSTM's
float64 output (what an exact buggy kernel returns) is compared with the correct float64 output (the NumPy
reference) at the entry-wise tolerances of lstm.forward (properties.tolerances.lstm_forward_tol: hs, h_T, c_T)
under three declared arithmetics:

- "tf32": matmul_precision = "tf32" (the old fix for cuDNN float32: every operation at u = 2^-11);
- "float32, activation_ulps = A": float32 with cuDNN's declared activation accuracy A
  (dlproof.impl.adapters.torch_device.CUDNN_ACTIVATION_ULPS), what torch.nn.cuda declares now;
- "float32" (default activation_ulps = 4): the plain float32 model, for scale.

The bug is caught at s when some entry of some seed differs by more than its tolerance. Printed: per model the
smallest s caught by at least one seed and by every seed, and the ratio of the tf32 value to the others (how much
smaller a planted gate-order error the float32 check catches). Runs on the CPU in a few seconds; no GPU needed.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dlproof.impl.adapters.torch_device import CUDNN_ACTIVATION_ULPS  # noqa: E402  (imports torch lazily)
from dlproof.impl.numpy_ref import lstm as L  # noqa: E402
from dlproof.parameters import LSTM_PARAMS  # noqa: E402
from dlproof.properties import tolerances as tol  # noqa: E402

T, B, N, M = 4, 3, 4, 3
GRID = [2.0 ** (-k / 4) for k in range(0, 161)]  # 1 down to 2^-40


def models() -> dict:
    """label -> the declared Arithmetic (properties.tolerances.Arithmetic)."""
    return {"tf32": tol.Arithmetic("tf32", "float32"),
            f"float32, activation_ulps = {CUDNN_ACTIVATION_ULPS:g}": tol.Arithmetic("float32", "float32",
                                                                                     CUDNN_ACTIVATION_ULPS),
            "float32": tol.Arithmetic("float32", "float32")}


def problem(seed: int) -> tuple:
    """(xs, h0, c0, p) of one fixed seed, parameters unscaled."""
    rng = np.random.default_rng(seed)
    p = {k: rng.standard_normal((N, M)) / np.sqrt(M) if k.startswith("W_x") else
         rng.standard_normal((N, N)) / np.sqrt(N) if k.startswith("W_h") else rng.standard_normal(N)
         for k in LSTM_PARAMS}
    return rng.standard_normal((T, B, M)), np.tanh(rng.standard_normal((B, N))), rng.standard_normal((B, N)), p


def swapped(p: dict) -> dict:
    """Gates i and f exchanged (weights and biases): the planted gate-order bug."""
    other = {"i": "f", "f": "i"}
    return {k: p[k[:-1] + other[k[-1]]] if k[-1] in other else v for k, v in p.items()}


def worst_ratio(xs, h0, c0, p, arith) -> float:
    """max |swapped - correct| / tolerance over hs, h_T, c_T."""
    hs, (hT, cT) = L.lstm(xs, h0, c0, p)
    bs, (bhT, bcT) = L.lstm(xs, h0, c0, swapped(p))
    t_hs, (t_hT, t_cT) = tol.lstm_forward_tol(xs, h0, c0, p, arith)
    return max(float(np.max(np.abs(a - b) / t)) for a, b, t in ((bs, hs, t_hs), (bhT, hT, t_hT), (bcT, cT, t_cT)))


def smallest_caught(arith, seeds: int) -> dict:
    """The smallest s of GRID at which some seed catches the swap, and at which every seed does."""
    caught_any, caught_all = None, None
    problems = [problem(s) for s in range(seeds)]
    for s in GRID:
        hits = [worst_ratio(xs, h0, c0, {k: s * v for k, v in p.items()}, arith) > 1.0 for xs, h0, c0, p in problems]
        if any(hits):
            caught_any = s
        if all(hits):
            caught_all = s
    return {"smallest_s_some_seed": caught_any, "smallest_s_every_seed": caught_all}


def measure(seeds: int = 20) -> dict:
    if not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"activation_power.measure: seeds={seeds!r}, but should be an integer >= 1")
    return {label: smallest_caught(a, seeds) for label, a in models().items()}


def render(result: dict, seeds: int) -> list:
    ref = result["tf32"]
    lines = [f"Smallest parameter scale s at which LSTM gates i <-> f swapped is caught by lstm.forward "
             f"({seeds} seeds, T={T}, B={B}, n={N}, m={M}; s on a 2^(-1/4) grid):", "",
             "| model | smallest s, some seed | smallest s, every seed | tf32's / this (some seed) |",
             "|---|---|---|---|"]
    for label, r in result.items():
        a, b = r["smallest_s_some_seed"], r["smallest_s_every_seed"]
        ratio = ref["smallest_s_some_seed"] / a if a and ref["smallest_s_some_seed"] else float("nan")
        lines.append(f"| {label} | {a if a is None else f'{a:.3g}'} | {b if b is None else f'{b:.3g}'} | {ratio:.3g} |")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--json", default=None, help="also write the result as JSON here")
    args = ap.parse_args(argv)
    result = measure(args.seeds)
    print("\n".join(render(result, args.seeds)))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
