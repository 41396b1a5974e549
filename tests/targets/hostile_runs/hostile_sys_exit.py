"""rnn_cell calls sys.exit(3) (raises SystemExit, a BaseException)."""
import sys
from dataclasses import replace

from dlproof.impl.targets import numpy_target


def rnn_cell(x, h, p):
    sys.exit(3)


target = replace(numpy_target(), name="hostile: rnn_cell calls sys.exit(3)", rnn_cell=rnn_cell)
