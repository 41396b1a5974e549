"""Cheap targets for tests/suite/test_sweep*.py: parameter counts only (a sweep runs in seconds).

``crash_once`` kills its process (``os._exit``) the first time its parameter count is called, leaving the
marker file named by $DLPROOF_SWEEP_CRASH_MARKER so that the retry passes; ``crash_always`` kills its
process at every call (a target that segfaults).
"""
import os

from dlproof.impl.numpy_ref.rnn import param_count
from dlproof.target import Target

MARKER_ENV = "DLPROOF_SWEEP_CRASH_MARKER"


def _crash_once(k, n, m):
    marker = os.environ.get(MARKER_ENV)
    if not marker:
        raise ValueError(f"crash_once needs ${MARKER_ENV} (a file path) to remember its first crash")
    if not os.path.exists(marker):
        with open(marker, "w") as f:
            f.write("crashed once\n")
        os._exit(70)
    return param_count(k, n, m)


def _crash_always(k, n, m):
    os._exit(70)


counts = Target("param counts only", param_count=param_count)
wrong_counts = Target("param counts, LSTM off by n", param_count=lambda k, n, m: param_count(k, n, m) + (n if k == "lstm" else 0))
crash_once = Target("param counts; kills its process at the first call", param_count=_crash_once)
crash_always = Target("kills its process at every call", param_count=_crash_always)
