"""Settings and timing of the performance benchmark: sizes, `Settings`, `bench` (interleaved, rotating
rounds; median, min and IQR per callable), `autorange`, `ratio` of medians.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .threads import thread_counts

SMALL = (32, 50, 128, 128)  # (B, T, n, m)
LARGE = (64, 100, 256, 256)
MIN_SAMPLE_S = 0.1  # a timed sample of a training step lasts at least this long (several calls if needed)
NOISY = 0.25  # a figure whose IQR exceeds this fraction of its median is flagged in the Markdown
NUMPY_LIMIT_S = 20.0  # a NumPy reference call slower than this at a size is skipped there
SETTLE_S = 0.2  # untimed pause before each sample of a multi-threaded comparison (`bench`'s settle_s)


@dataclass
class Settings:
    """What one run measures: repeats, warm-ups, the pinned thread count (``threads``, every section but
    "reference"), the thread counts section "reference" runs at (``reference_threads``: 1 and every usable
    core), sizes."""

    repeats: int = 7
    warmup: int = 2
    threads: int = 1
    quick: bool = False
    sizes: list = field(default_factory=lambda: [SMALL, LARGE])
    numpy_limit_s: float = NUMPY_LIMIT_S
    reference_threads: tuple = field(default_factory=thread_counts)


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


def bench(fns: dict, s: Settings, inner: dict | None = None, settle_s: float = 0.0) -> dict:
    """Time each callable of ``fns`` (name -> fn) side by side; return name -> `stats` of seconds per call.

    Each round runs every callable once (``inner[name]`` back-to-back calls, averaged), in an order that
    rotates from round to round; ``s.warmup`` untimed rounds come first. ``settle_s`` > 0 sleeps that long,
    untimed, before each sample: with several threads, the worker threads of the previous callable's pool
    keep spinning for a while after it returns (OpenBLAS up to 2^28 TSC cycles, about 0.1 s) and would take
    cores from the next callable's pool."""
    if not (isinstance(settle_s, (int, float)) and 0 <= settle_s < 10):
        raise ValueError(f"bench: settle_s must be a number of seconds in [0, 10), got {settle_s!r}")
    names = list(fns)
    inner = inner or {}
    samples = {k: [] for k in names}
    for r in range(s.warmup + s.repeats):
        order = names[r % len(names):] + names[:r % len(names)]
        for k in order:
            fn, reps = fns[k], inner.get(k, 1)
            if settle_s:
                time.sleep(settle_s)
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


def loadavg():
    """The 1-minute load average of the machine (None where the platform has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None
