"""rnn_cell returns the right numbers in an object-dtype array (each entry a Python float)."""
from dataclasses import replace

import numpy as np

from dlproof.impl.targets import numpy_target

BASE = numpy_target()


def rnn_cell(x, h, p):
    return np.asarray(BASE.rnn_cell(x, h, p)).astype(object)


target = replace(BASE, name="hostile: rnn_cell returns an object array", rnn_cell=rnn_cell)
