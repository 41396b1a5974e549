"""rnn_cell calls os.abort() (SIGABRT, as a failed assertion in a C library does)."""
import os
from dataclasses import replace

from dlproof.impl.targets import numpy_target


def rnn_cell(x, h, p):
    os.abort()


target = replace(numpy_target(), name="hostile: rnn_cell aborts", rnn_cell=rnn_cell)
