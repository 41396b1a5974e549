"""rnn_cell ends the process with os._exit(3) (no cleanup, no exception)."""
import os
from dataclasses import replace

from dlproof.impl.targets import numpy_target


def rnn_cell(x, h, p):
    os._exit(3)


target = replace(numpy_target(), name="hostile: rnn_cell calls os._exit(3)", rnn_cell=rnn_cell)
