"""rnn_cell writes 20 MiB straight to file descriptor 1 (as C code or a subprocess would), then returns the right
value."""
import os
from dataclasses import replace

from dlproof.impl.targets import numpy_target

BASE = numpy_target()
MiB = 1 << 20
FLOOD = 20 * MiB


def rnn_cell(x, h, p):
    chunk = b"fd1 flood " * (MiB // 10)
    left = FLOOD
    while left > 0:
        left -= os.write(1, chunk[:left])
    return BASE.rnn_cell(x, h, p)


target = replace(BASE, name="hostile: rnn_cell writes 20 MiB to fd 1", rnn_cell=rnn_cell)
