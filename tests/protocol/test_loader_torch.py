"""The torch built-in targets load by name (the rest of the loader: test_loader.py)."""
import pytest

torch = pytest.importorskip("torch")

from dlproof.loader import load_target  # noqa: E402
from dlproof.target import Target  # noqa: E402


@pytest.mark.parametrize("spec, dtype", [("torch", "float64"), ("torch.float32", "float32")])
def test_torch_builtins(spec, dtype):
    t = load_target(spec)
    assert isinstance(t, Target) and t.dtype == dtype and "torch" in t.name
