"""rnn_cell hangs in C: libc sleep(3600) through ctypes (returns early only when a signal arrives)."""
import ctypes
import ctypes.util
from dataclasses import replace

from dlproof.impl.targets import numpy_target

LIBC = ctypes.CDLL(ctypes.util.find_library("c"))


def rnn_cell(x, h, p):
    while True:  # a signal only cuts one sleep short: keep hanging, as a blocked native call would
        LIBC.sleep(3600)


target = replace(numpy_target(), name="hostile: rnn_cell sleeps in libc", rnn_cell=rnn_cell)
