"""rnn_cell reserves 3 GiB it never touches (np.empty), then returns the right value.

Without a memory limit this is a correct target (the pages are never touched, so the OS does not back them);
under ``--memory-limit 2048`` (an address-space limit of 2 GiB) the reservation raises MemoryError.
"""
from dataclasses import replace

import numpy as np

from dlproof.impl.targets import numpy_target

BASE = numpy_target()
GiB = 1 << 30


def rnn_cell(x, h, p):
    scratch = np.empty(3 * GiB, dtype=np.uint8)
    del scratch
    return BASE.rnn_cell(x, h, p)


target = replace(BASE, name="hostile: rnn_cell reserves 3 GiB", rnn_cell=rnn_cell)
