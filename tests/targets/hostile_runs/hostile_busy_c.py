"""rnn_cell spins in C code that never checks for signals: PBKDF2-HMAC-SHA256 with 2^31 - 1 iterations
(OpenSSL, the GIL released; the most hashlib accepts, tens of minutes).

Python's SIGALRM handler cannot run until the C call returns, so only killing the process stops it.
"""
import hashlib
from dataclasses import replace

from dlproof.impl.targets import numpy_target


def rnn_cell(x, h, p):
    hashlib.pbkdf2_hmac("sha256", b"password", b"salt", (1 << 31) - 1)


target = replace(numpy_target(), name="hostile: rnn_cell spins in C", rnn_cell=rnn_cell)
