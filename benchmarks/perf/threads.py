"""Thread pinning of the performance benchmark: how many threads torch's intra-op pool and NumPy's BLAS /
OpenMP pools (through threadpoolctl) may use, for the whole run (`pin_threads`) or for one measurement
(`pinned`, restoring the previous counts after it), and `all_cores`, the cores this process may run on
(its CPU affinity, else ``os.cpu_count()``).
"""
from __future__ import annotations

import os
from contextlib import contextmanager

_LIMITS = None  # the run-wide threadpoolctl limits of `pin_threads`, kept alive for the whole run


def all_cores() -> int:
    """The number of cores this process may run on: its CPU affinity where the platform has one, else
    ``os.cpu_count()`` (1 when even that is unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def thread_counts(cores: int | None = None) -> tuple:
    """The thread counts a both-ends measurement runs at: 1 and all ``cores`` (default `all_cores`), one
    entry when they coincide."""
    cores = all_cores() if cores is None else cores
    if not isinstance(cores, int) or isinstance(cores, bool) or cores < 1:
        raise ValueError(f"thread_counts: cores must be a positive int, got {cores!r}")
    return (1,) if cores == 1 else (1, cores)


def _check(k, where: str) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"{where}: the thread count must be a positive int, got {k!r}")


def _pools(info: dict) -> dict:
    """``info`` with what holds now: torch's intra-op count and every threadpoolctl pool."""
    import torch

    info["torch_intra_op"] = torch.get_num_threads()
    try:
        import threadpoolctl
    except ImportError:
        info["numpy_blas"] = "not pinned: threadpoolctl is not installed"
        return info
    info["pools"] = [{"api": p["internal_api"], "version": p.get("version"), "num_threads": p["num_threads"],
                      **({"architecture": p["architecture"]} if "architecture" in p else {})}
                     for p in threadpoolctl.threadpool_info()]
    return info


def pin_threads(k: int) -> dict:
    """Pin torch (intra- and inter-op) and NumPy's BLAS / OpenMP pools to ``k`` threads for the rest of the
    run; report what holds (``requested``, ``torch_intra_op``, ``torch_inter_op``, ``pools``)."""
    import torch

    _check(k, "pin_threads")
    torch.set_num_threads(k)
    try:
        torch.set_num_interop_threads(k)
    except RuntimeError:  # settable once per process, before any inter-op work
        pass
    info = {"requested": k, "torch_inter_op": torch.get_num_interop_threads()}
    try:
        import threadpoolctl
    except ImportError:
        return _pools(info)
    global _LIMITS
    _LIMITS = threadpoolctl.threadpool_limits(limits=k)
    return _pools(info)


@contextmanager
def pinned(k: int):
    """Within the block, torch's intra-op pool and NumPy's BLAS / OpenMP pools use ``k`` threads; yields
    what holds (as `pin_threads` reports it, without the inter-op count, which a process sets once); the
    previous counts are restored on exit."""
    import torch

    _check(k, "pinned")
    before = torch.get_num_threads()
    torch.set_num_threads(k)
    try:
        try:
            import threadpoolctl
        except ImportError:
            yield _pools({"requested": k})
            return
        with threadpoolctl.threadpool_limits(limits=k):
            yield _pools({"requested": k})
    finally:
        torch.set_num_threads(before)
