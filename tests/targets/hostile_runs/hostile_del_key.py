"""rnn_cell returns the right value but deletes the key 'b' from its parameter dict p (an input mutation)."""
from dataclasses import replace

from dlproof.impl.targets import numpy_target

BASE = numpy_target()


def rnn_cell(x, h, p):
    out = BASE.rnn_cell(x, h, p)
    del p["b"]
    return out


target = replace(BASE, name="hostile: rnn_cell deletes p['b']", rnn_cell=rnn_cell)
