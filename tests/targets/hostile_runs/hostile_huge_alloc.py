"""rnn_cell asks for 8 TiB: np.empty(1 << 40) raises MemoryError (no machine grants it)."""
from dataclasses import replace

import numpy as np

from dlproof.impl.targets import numpy_target


def rnn_cell(x, h, p):
    np.empty(1 << 40)


target = replace(numpy_target(), name="hostile: rnn_cell allocates 8 TiB", rnn_cell=rnn_cell)
