"""rnn_cell dereferences a null pointer (SIGSEGV): ctypes.string_at(0)."""
import ctypes
from dataclasses import replace

from dlproof.impl.targets import numpy_target


def rnn_cell(x, h, p):
    ctypes.string_at(0)


target = replace(numpy_target(), name="hostile: rnn_cell segfaults", rnn_cell=rnn_cell)
