"""Targets that hang, mutate their inputs, keep state between calls or print a lot (for tests/suite/test_hostile.py,
the --dlproof-isolate tests and the end-to-end ``dlproof conform`` test).

Each is the NumPy reference with capabilities replaced (``dataclasses.replace``), so the others stay correct.
"""
import sys
import time
from dataclasses import replace

import numpy as np

from dlproof.impl.targets import numpy_target

BASE = numpy_target()
MiB = 1 << 20


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


def _clip_value_in_place(grads, c):
    out = BASE.clip_grad_value(grads, c)
    for g, o in zip(grads, out):
        g[...] = o  # torch's clip_grad_value_ style
    return out


# ---- state kept between calls -------------------------------------------------------------------

class CachesH:
    """An rnn_cell that, after its first call, ignores the h it is given and continues from the h it returned
    last (as if the caller were always stepping one sequence). Shapes that change start it afresh."""

    def __init__(self):
        self.h = None

    def __call__(self, x, h, p):
        if self.h is not None and self.h.shape == h.shape:
            h = self.h
        self.h = BASE.rnn_cell(x, h, p).copy()
        return self.h.copy()


class OneCallLate:
    """An lstm_cell that returns what its previous call computed (a pipeline that hands out last step's result)."""

    def __init__(self):
        self.last = None

    def __call__(self, x, h, c, p):
        out = BASE.lstm_cell(x, h, c, p)
        prev, self.last = self.last, out
        return prev if prev is not None and prev[0].shape == out[0].shape else out


class CachesOnIdentity:
    """A gru_cell that keeps the weights it saw, keyed on ``id(p)``: fast, and stale once a caller updates the
    arrays of the same dict in place (a training loop does)."""

    def __init__(self):
        self.key = self.weights = None

    def __call__(self, x, h, p):
        if self.key != id(p):
            self.key, self.weights = id(p), {k: v.copy() for k, v in p.items()}
        return BASE.gru_cell(x, h, self.weights)


class ReusesBuffer:
    """A gru_cell that writes every result into one preallocated array per shape and returns that array."""

    def __init__(self):
        self.buffers = {}

    def __call__(self, x, h, p):
        out = BASE.gru_cell(x, h, p)
        buf = self.buffers.setdefault(out.shape, np.empty_like(out))
        buf[...] = out
        return buf


# ---- printing -----------------------------------------------------------------------------------

STDOUT_BYTES = 3 * MiB + MiB // 2  # what `_chatty_rnn` writes per call to stdout: 3.5 MiB
STDERR_BYTES = 2 * MiB             # ... and to stderr


def _chatty_rnn(xs, h0, p):
    chunk = "rnn debug: " + "x" * 1012 + "\n"  # 1 KiB a line
    for _ in range(STDOUT_BYTES // len(chunk)):
        print(chunk, end="")
    sys.stderr.write("!" * STDERR_BYTES)
    return BASE.rnn(xs, h0, p)


def _chatty_stderr_bytes(xs, h0, p):
    sys.stderr.buffer.write(b"\xe2\x9c\x97" * (MiB // 2))  # 1.5 MiB of a 3-byte UTF-8 character, as bytes
    return BASE.rnn(xs, h0, p)


def _quiet_rnn(xs, h0, p):
    print("rnn called with xs of shape", xs.shape)  # a line per call: allowed
    print("a warning line", file=sys.stderr)
    return BASE.rnn(xs, h0, p)


def _inf_gru_cell(x, h, p):
    out = BASE.gru_cell(x, h, p).copy()
    out[-1, -1] = np.inf
    return out


def _lstm_cell_raises(x, h, c, p):
    raise RuntimeError("lstm_cell is not implemented on this device")


hangs = replace(BASE, name="hostile: rnn hangs", rnn=_hang)
mutates = replace(BASE, name="hostile: rnn scales xs in place", rnn=_mutates)
clips_in_place = replace(BASE, name="hostile: clip in place", clip_grad_norm=_clip_in_place)
caches_h = replace(BASE, name="hostile: rnn_cell continues from its last h", rnn_cell=CachesH())
one_call_late = replace(BASE, name="hostile: lstm_cell one call late", lstm_cell=OneCallLate())
caches_on_identity = replace(BASE, name="hostile: gru_cell caches weights on id(p)", gru_cell=CachesOnIdentity())
reuses_buffer = replace(BASE, name="hostile: gru_cell reuses its output buffer", gru_cell=ReusesBuffer())
chatty = replace(BASE, name="hostile: rnn prints 3.5 MiB", rnn=_chatty_rnn)
chatty_stderr_bytes = replace(BASE, name="hostile: rnn writes 1.5 MiB of bytes to stderr", rnn=_chatty_stderr_bytes)
quiet = replace(BASE, name="hostile: rnn prints a line a call", rnn=_quiet_rnn)


def many_at_once():
    """One target with several hostile capabilities and correct ones beside them (the end-to-end test):
    rnn_cell keeps state, rnn prints 3.5 MiB a call, gru_cell returns inf, lstm_cell raises, gru hangs,
    clip_grad_value clips in place; clip_grad_norm and param_count are the reference's. The other
    capabilities are left out, so the run stays short."""
    caps = ("rnn_cell", "lstm_cell", "gru_cell", "rnn", "gru", "clip_grad_norm", "clip_grad_value", "param_count")
    return replace(BASE, name="hostile: many at once",
                   **{c: None for c in BASE.capabilities if c not in caps},
                   rnn_cell=CachesH(), rnn=_chatty_rnn, gru_cell=_inf_gru_cell, lstm_cell=_lstm_cell_raises,
                   gru=_hang, clip_grad_value=_clip_value_in_place)


# ---- capability calls that end badly in other ways (tests/protocol/test_call.py, tests/suite/test_isolate.py) ----
# Each replaces one capability of the reference; the same module-level names serve in-process and as
# ``hostile_targets:NAME`` specs for ``dlproof.isolate.isolated``.
import os  # noqa: E402 - appended section

class CustomBase(BaseException):
    """A BaseException that is neither Exception nor KeyboardInterrupt/SystemExit."""


def _rnn_exits(xs, h0, p):
    sys.exit(3)


def _rnn_raises_base(xs, h0, p):
    raise CustomBase("not an Exception")


def _rnn_object_hs(xs, h0, p):
    hs, h_T = BASE.rnn(xs, h0, p)
    return hs.astype(object), h_T


def _rnn_deletes_key(xs, h0, p):
    out = BASE.rnn(xs, h0, dict(p))
    del p["W_h"]  # the caller's parameter dict loses a key
    return out


def _rnn_cell_overflow_warning(x, h, p):
    """A correct cell that warns on every call: the sigmoid of a large negative number overflows exp."""
    import warnings

    warnings.warn("overflow encountered in exp", RuntimeWarning)
    return BASE.rnn_cell(x, h, p)


def _rnn_fd_flood(xs, h0, p):
    for _ in range(3):
        os.write(1, b"fd1 " * (MiB // 4))  # 3 MiB straight to file descriptor 1, past sys.stdout
    return BASE.rnn(xs, h0, p)


def _gru_cell_aborts(x, h, p):
    os.abort()


def _gru_cell_segfaults(x, h, p):
    import ctypes

    ctypes.string_at(0)


def _gru_cell_os_exit(x, h, p):
    os._exit(3)


def _gru_cell_sleeps_in_c(x, h, p):
    import ctypes

    ctypes.CDLL(None).sleep(3600)  # a hang inside C: SIGALRM's handler never runs


def _gru_cell_busy_in_c(x, h, p):
    import re

    re.match(r"(a+)+$", "a" * 64 + "b")  # catastrophic backtracking: a busy loop inside the C regex engine


def _gru_cell_allocates(x, h, p):
    np.ones(1 << 31)  # 16 GiB
    return BASE.gru_cell(x, h, p)


exits = replace(BASE, name="hostile: rnn calls sys.exit(3)", rnn=_rnn_exits)
raises_base = replace(BASE, name="hostile: rnn raises a BaseException", rnn=_rnn_raises_base)
object_hs = replace(BASE, name="hostile: rnn returns an object array", rnn=_rnn_object_hs)
deletes_key = replace(BASE, name="hostile: rnn deletes a parameter", rnn=_rnn_deletes_key)
warns = replace(BASE, name="hostile: rnn_cell warns", rnn_cell=_rnn_cell_overflow_warning)
fd_flood = replace(BASE, name="hostile: rnn writes 3 MiB to fd 1", rnn=_rnn_fd_flood)
aborts = replace(BASE, name="hostile: gru_cell aborts", gru_cell=_gru_cell_aborts)
segfaults = replace(BASE, name="hostile: gru_cell segfaults", gru_cell=_gru_cell_segfaults)
os_exits = replace(BASE, name="hostile: gru_cell calls os._exit(3)", gru_cell=_gru_cell_os_exit)
sleeps_in_c = replace(BASE, name="hostile: gru_cell sleeps in C", gru_cell=_gru_cell_sleeps_in_c)
busy_in_c = replace(BASE, name="hostile: gru_cell loops in C", gru_cell=_gru_cell_busy_in_c)
allocates = replace(BASE, name="hostile: gru_cell allocates 16 GiB", gru_cell=_gru_cell_allocates)
