"""Keras 3 on the torch backend for a test module, or skip the module (imported as `keras_or_skip`: tests/ is on
sys.path).

`keras3()` sets KERAS_BACKEND=torch and, when KERAS_HOME is unset, a private KERAS_HOME (a temporary folder made
once per process and removed when the process exits), imports torch and keras, and skips the calling module when
either is missing, when keras is not Keras 3, or when keras was imported with another backend.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest


def private_keras_home() -> str:
    """A new temporary folder for Keras' keras.json, removed when this process exits."""
    home = tempfile.mkdtemp(prefix="dlproof-keras-home-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    return home


def keras3():
    """The keras module (Keras 3, torch backend), or a module-level skip saying why not."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    if "KERAS_HOME" not in os.environ:
        os.environ["KERAS_HOME"] = private_keras_home()
    pytest.importorskip("torch")
    keras = pytest.importorskip("keras")
    if not keras.__version__.startswith("3."):
        pytest.skip(f"the Keras adapter needs Keras 3, found {keras.__version__}", allow_module_level=True)
    if keras.backend.backend() != "torch":
        pytest.skip(f"keras was imported with backend {keras.backend.backend()!r}; the adapter needs "
                    "KERAS_BACKEND=torch before the first import of keras", allow_module_level=True)
    return keras
