"""Failure messages show numbers as Python writes them: ``0.5``, never NumPy 2's repr ``np.float64(0.5)``.

`assertions.number` formats one scalar; the properties that quote single entries use it. The mutants below fail
properties whose messages quote entries (dropout at inference, dropout's kept values, the NTK's symmetry); each
showed ``np.float64(...)`` before."""
from __future__ import annotations

import re

import numpy as np
import pytest

from dlproof import mutation
from dlproof.properties.assertions import number

from mutants.catalog import MUTANTS

NUMPY_REPR = re.compile(r"\bnp\.(float|int|uint|bool|complex)\w*\(")


@pytest.mark.parametrize("value, shown", [
    (np.float64(0.5), "0.5"), (0.5, "0.5"), (np.float64(-0.1), repr(-0.1)),
    (np.float32(0.1), repr(float(np.float32(0.1)))),  # the float64 the float32 equals exactly
    (np.float16(65504), "65504.0"), (np.float64("nan"), "nan"), (np.float64("-inf"), "-inf"),
    (np.int64(3), "3"), (7, "7"), (np.bool_(True), "True"), (np.uint8(255), "255"), ("x", "'x'"),
])
def test_number_shows_the_python_value(value, shown):
    assert number(value) == shown
    assert not NUMPY_REPR.search(number(value))


@pytest.mark.parametrize("name", ["dropout_at_inference", "dropout_unscaled", "ntk_asymmetric"])
def test_failure_messages_quote_plain_numbers(name):
    m = MUTANTS[name]
    killed = mutation.kill(m.target, m.mutated, name, profile="dev")["killed_by"]
    assert killed, f"{name} was not killed: the messages below were never produced"
    leaks = {pid: msg for pid, msg in killed.items() if NUMPY_REPR.search(msg)}
    assert not leaks, f"NumPy reprs in the messages of {name}: {leaks}"
