"""Targets that hang or mutate their inputs (for tests/test_hostile.py and the --dlproof-isolate test)."""
import time
from dataclasses import replace

from dlproof.impl.targets import numpy_target

BASE = numpy_target()


def _hang(xs, h0, p):
    time.sleep(3600)


def _mutates(xs, h0, p):
    xs *= 2  # in place
    return BASE.rnn(xs, h0, p)


def _clip_in_place(grads, c):
    out, norm = BASE.clip_grad_norm(grads, c)
    for g, o in zip(grads, out):
        g[...] = o  # torch's clip_grad_norm_ style
    return out, norm


hangs = replace(BASE, name="hostile: rnn hangs", rnn=_hang)
mutates = replace(BASE, name="hostile: rnn scales xs in place", rnn=_mutates)
clips_in_place = replace(BASE, name="hostile: clip in place", clip_grad_norm=_clip_in_place)
