import os
import sys

# One BLAS/OpenMP thread per test process (a serial run, or each pytest-xdist worker, which inherits this
# environment): the suite's arrays are tiny, so extra threads only add synchronisation, and under `-n 2`
# two workers with two threads each would oversubscribe the cores. Set before NumPy or torch is imported
# (they read these once, at import); a value already in the environment wins.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# Pin the derivation cache to the one this session starts with: pytester points HOME at a fresh folder, and
# the subprocess tests would otherwise re-derive everything cold (SymPy, ~20 s) into it.
if not os.environ.get("DLPROOF_CACHE_DIR"):
    from dlproof.derivations.cache import cache_dir

    os.environ["DLPROOF_CACHE_DIR"] = str(cache_dir())

# The layout (README "Layout"): tests/<chapter>/ per chapter of dlproof.capabilities.CHAPTERS, tests/<component>/
# for the machinery, tests/mutants/ for the mutation catalog, tests/targets/ for the helper target modules. The
# folders are packages, imported (pytest --import-mode=importlib) by their names from tests/, so a torch file
# reaches its sibling's helpers as `from attention.test_attention import ...` and the catalog is `mutants`;
# tests/targets/ holds plain modules named in target specs ("bad_targets:RAISES", "hostile_targets:hangs");
# tests/chapter_checks.py the checks every chapter's tests make the same way.
_HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = os.path.join(_HERE, "targets")
sys.path[:0] = [_HERE, TARGETS]

# NumPy (after the thread settings above): its C extension loads once per process, and pytester restores
# sys.modules after each of its tests, dropping a NumPy first imported inside one (tests/app/test_report.py alone)
import numpy  # noqa: E402,F401
import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """torch reads OMP_NUM_THREADS at import; pin it explicitly too where torch is already loaded."""
    torch = sys.modules.get("torch")
    threads = os.environ.get("OMP_NUM_THREADS", "")
    if torch is not None and threads.isdigit() and int(threads) > 0:
        torch.set_num_threads(int(threads))
    yield


def pytest_collection_finish(session):
    """Move everything alive after collection (torch, SymPy, the collected items: ~0.5 M objects) out of
    the cyclic garbage collector's reach: its full collections then scan only what the tests create
    (~2 s less CPU in a serial run). Reference counting still frees all of it as usual."""
    import gc

    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def _isolated_rows():
    """Each test's property runs stay out of the session's report rows (dlproof.properties.results.ROWS)."""
    from dlproof.properties import results

    saved = list(results.ROWS)
    yield
    results.ROWS[:] = saved


@pytest.fixture(autouse=True)
def _forget_hung_capabilities():
    """A capability that hung is not called again in the same process (properties.assertions._HUNG): that is
    per run, not per test session, so each test starts with none remembered."""
    yield
    from dlproof.properties import assertions

    assertions._HUNG.clear()
