"""dlproof.testing with torch: torch_module's dispatch and resizing, assert_conforms on a user's module, and
the README's copy-paste example run by pytest in a fresh folder."""
import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dlproof.derivations import oracle_gru  # noqa: E402
from dlproof.testing import ConformanceError, assert_conforms, select_properties, torch_module  # noqa: E402

nn = torch.nn
ROOT = Path(__file__).resolve().parents[2]


class MyGRU(nn.GRU):
    """A user subclass: assert_conforms must run its forward, at the sizes the suite draws."""

    calls = 0

    def forward(self, *args, **kw):
        MyGRU.calls += 1
        return super().forward(*args, **kw)


def _gru_params(rng, n, m):
    p = {k: rng.standard_normal((n, m)) * 0.3 for k in ("W_xr", "W_xz", "W_xn")}
    p.update({k: rng.standard_normal((n, n)) * 0.3 for k in ("W_hr", "W_hz", "W_hn")})
    p.update({k: rng.standard_normal(n) * 0.1 for k in ("b_r", "b_z", "b_xn", "b_hn")})
    return p


def test_a_user_module_is_resized_to_each_example_and_its_own_forward_runs(tmp_path):
    user = MyGRU(input_size=3, hidden_size=4, batch_first=True)
    before = {k: v.clone() for k, v in user.state_dict().items()}
    t = torch_module(user, dtype="float64")
    assert set(t.capabilities) == {"gru_cell", "gru", "gru_vjp"} and "resized" in t.name
    rng = np.random.default_rng(0)
    p, xs, h0 = _gru_params(rng, 2, 5), rng.standard_normal((3, 2, 5)), rng.standard_normal((2, 2))
    calls = MyGRU.calls
    hs, h_T = t.gru(xs, h0, p)  # n = 2, m = 5: not the module's own (4, 3)
    assert MyGRU.calls == calls + 1
    e_hs, e_hT = oracle_gru.gru_forward(xs, h0, p)
    np.testing.assert_allclose(hs, e_hs, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h_T, e_hT, rtol=1e-12, atol=1e-12)
    report = assert_conforms(user, properties=["gru.forward"], report_dir=tmp_path)
    assert {r["verdict"] for r in report["results"]} == {"pass"}
    for k, v in user.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_a_stacked_module_is_resized_too_and_conforms(tmp_path):
    t = torch_module(nn.GRU(3, 4, num_layers=2), dtype="float64")
    assert set(t.capabilities) == {"gru_stack", "gru_stack_vjp"} and "resized" in t.name
    report = assert_conforms(t, properties=["stack.gru.forward"], report_dir=tmp_path)
    assert [r["verdict"] for r in report["results"]] == ["pass"]
    fixed = torch_module(nn.GRU(3, 4, num_layers=2), dtype="float64", resize=False)
    with pytest.raises(ConformanceError, match=r"stack\.gru\.forward \(error\): gru_stack raised ValueError"):
        assert_conforms(fixed, properties=["stack.gru.forward"], report_dir=tmp_path)


def test_without_resize_only_the_modules_own_size_runs():
    t = torch_module(nn.GRU(3, 4), dtype="float64", resize=False)
    rng = np.random.default_rng(1)
    with pytest.raises(ValueError, match=r"cannot take W_xr of shape \(2, 5\): expected \(4, 3\)"):
        t.gru(rng.standard_normal((3, 2, 5)), rng.standard_normal((2, 2)), _gru_params(rng, 2, 5))


def test_dispatch_by_module_class():
    assert torch_module(nn.LSTMCell(2, 3)).capabilities == ["lstm_cell"]
    assert torch_module(nn.RNN(2, 3, dtype=torch.float64)).dtype == "float64"
    assert torch_module(nn.RNN(2, 3)).dtype == "float32"
    stacked = torch_module(nn.LSTM(2, 3, num_layers=2, bidirectional=True))
    assert set(stacked.capabilities) == {"lstm_stack", "lstm_stack_vjp"}
    assert set(torch_module(nn.LayerNorm(4)).capabilities) == {"layernorm", "layernorm_vjp"}
    mha = torch_module(nn.MultiheadAttention(4, 2, batch_first=True))
    assert mha.capabilities == ["mha", "mha_vjp"] and "MultiheadAttention(embed_dim=4, num_heads=2) class" in mha.name
    with pytest.raises(ValueError, match=r"outside the protocol: batch_first=False"):
        torch_module(nn.MultiheadAttention(4, 2))

    class MyAttention(nn.MultiheadAttention):
        pass

    with pytest.raises(TypeError, match=r"MyAttention is a subclass of nn.MultiheadAttention: not supported"):
        torch_module(MyAttention(4, 2, batch_first=True))
    with pytest.raises(TypeError, match=r"torch_module: Linear is not supported; supported: nn.RNN, nn.LSTM"):
        torch_module(nn.Linear(2, 3))
    for module in (nn.Conv1d(2, 4, 3), nn.Conv2d(2, 4, 3), nn.BatchNorm1d(3), nn.Dropout(0.5), nn.Linear(2, 3)):
        with pytest.raises(TypeError, match=r"checked by the built-in target: assert_conforms\('torch.nn'") as info:
            torch_module(module)
        patterns = ast.literal_eval(re.search(r"properties=(\[.*?\])", str(info.value)).group(1))
        assert select_properties(patterns), (module, patterns)  # the suggested call selects what covers the class
    with pytest.raises(ValueError, match=r"dtype should be 'float32' or 'float64', got 'float16'"):
        torch_module(nn.GRU(2, 3), dtype="float16")
    with pytest.raises(ValueError, match=r"bias=False"):
        torch_module(nn.GRU(2, 3, bias=False))


def test_a_broken_module_fails_with_the_forward_part(tmp_path):
    class Leaky(nn.RNN):
        def forward(self, x, h=None):
            out, h_T = super().forward(x, h)
            return out * 1.01, h_T * 1.01

    with pytest.raises(ConformanceError, match=r"rnn\.forward \(fail\).*\n  part: forward"):
        assert_conforms(Leaky(2, 3), properties=["rnn.forward"], report_dir=tmp_path)


@pytest.mark.slow
def test_the_copy_paste_example_passes_under_pytest_in_an_empty_folder(tmp_path):
    from app.test_testing_api import EXAMPLE, _readme_block

    code = _readme_block() or EXAMPLE.read_text(encoding="utf-8")
    (tmp_path / "test_example.py").write_text(code, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_example.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "1 passed" in proc.stdout
    assert (tmp_path / "reports" / "latest" / "correctness.json").is_file()
