"""rnn_cell hangs in Python: time.sleep(3600)."""
import time
from dataclasses import replace

from dlproof.impl.targets import numpy_target


def rnn_cell(x, h, p):
    time.sleep(3600)


target = replace(numpy_target(), name="hostile: rnn_cell sleeps in Python", rnn_cell=rnn_cell)
