"""Fixtures of the golden-file tests (test_golden.py, test_golden_torch.py): one export per test module."""
import pytest

from dlproof import golden


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    out = tmp_path_factory.mktemp("golden")
    manifest = golden.export_golden(out, seed=0)
    return out, manifest


@pytest.fixture(scope="module")
def cases(export):
    return golden.load_cases(export[0])
