"""A correct target whose rnn_cell takes 0.3 s a call (for interrupting a run part way)."""
import time
from dataclasses import replace

from dlproof.impl.targets import numpy_target

BASE = numpy_target()


def rnn_cell(x, h, p):
    time.sleep(0.3)
    return BASE.rnn_cell(x, h, p)


target = replace(BASE, name="hostile: slow rnn_cell", rnn_cell=rnn_cell)
