"""The torch reference against the committed golden cases (the rest: test_golden.py)."""
import pytest

torch = pytest.importorskip("torch")

from app.test_golden import _check_all  # noqa: E402


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_torch_reference_matches(cases, dtype):
    _check_all(cases, "torch", dtype)
