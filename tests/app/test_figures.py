"""The book's figures: their checks hold, the data obey the proved bounds, the PNGs render, the committed
reports/figures/ are fresh. Expected values come from the math (bounds, rounding thresholds, finite
differences), not from the code's output."""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest

from dlproof.book import figures
from dlproof.impl.numpy_ref import activations, lstm, rnn
from dlproof.parameters import LSTM_GATES
from dlproof.properties import finite_difference as FD

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "reports" / "figures"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REGENERATE = "python -c \"from dlproof.book.figures import render; render('reports/figures')\""


@pytest.fixture(scope="module")
def data():
    return figures.figure_data()


def test_every_check_is_ok_and_every_figure_has_one(data):
    assert tuple(data) == figures.FIGURES
    failed = []
    for name in figures.FIGURES:
        checks = data[name]["checks"]
        assert checks, f"{name}: no checks"
        for c in checks:
            assert set(c) == {"statement", "ok", "detail"}
            assert isinstance(c["statement"], str) and isinstance(c["detail"], str) and c["ok"] in (True, False)
            if not c["ok"]:
                failed.append(f"{name}: {c['statement']} ({c['detail']})")
        assert data[name]["caption"].strip() and data[name]["derivations"]
    assert not failed, failed


def test_derivation_ids_exist(data):
    from dlproof.derivations.registry import specs

    known = set(specs())
    missing = {i for name in figures.FIGURES for i in data[name]["derivations"]} - known
    assert not missing


def test_rnn_half_norm_curve_lies_under_half_to_the_lag(data):
    d = data["rnn_jacobian_decay"]
    assert d["lag"] == list(range(1, 41))
    (half,) = [s for s in d["series"] if s["W_h_norm"] == 0.5]
    for lag, v in zip(d["lag"], half["jacobian_norm"]):
        assert 0 < v <= 0.5 ** lag * (1 + 1e-5)   # 6-digit rounding moves a value by < 5e-7 relative
    for s in d["series"]:
        for lag, b, v in zip(d["lag"], s["bound"], s["jacobian_norm"]):
            assert b == pytest.approx(s["W_h_norm"] ** lag, rel=1e-5)
            assert v <= b * (1 + 1e-5)


def test_vjp_jacobians_match_finite_differences():
    rng = np.random.default_rng(7)
    n, m, T = 5, 3, 6
    xs = 0.5 * rng.standard_normal((T, 1, m))
    p = {"W_x": rng.standard_normal((n, m)), "W_h": 0.8 * rng.standard_normal((n, n)) / math.sqrt(n),
         "b": 0.1 * rng.standard_normal(n)}
    h0 = 0.3 * rng.standard_normal((1, n))
    fd = FD.jacobian(lambda z: rnn.rnn(xs, z[None], p)[1][0], h0[0])
    np.testing.assert_allclose(figures.rnn_vjp_jacobian(xs, h0, p), fd, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(figures.rnn_chain_closed_form(xs, h0, p), fd, rtol=1e-6, atol=1e-9)

    q = {}
    for g in LSTM_GATES:
        q[f"W_x{g}"] = 0.5 * rng.standard_normal((n, m))
        q[f"W_h{g}"] = 0.5 * rng.standard_normal((n, n))
        q[f"b_{g}"] = 0.2 * rng.standard_normal(n)
    c0 = 0.3 * rng.standard_normal((1, n))

    def state(z):
        _, (hT, cT) = lstm.lstm(xs, z[None, :n], z[None, n:], q)
        return np.concatenate([hT[0], cT[0]])

    fd = FD.jacobian(state, np.concatenate([h0[0], c0[0]]))
    np.testing.assert_allclose(figures.lstm_vjp_state_jacobian(xs, h0, c0, q), fd, rtol=1e-6, atol=1e-9)


def test_float32_saturation_threshold_matches_the_error_model(data):
    thr = data["sigmoid_saturation"]["thresholds"]["float32_one"]
    # sigma = 0.5 (1 + fl(tanh(x/2))) is 1.0 iff fl(tanh(x/2)) >= 1 - 2^-24; for a faithful tanh that is certain
    # once 1 - tanh(x/2) = 2/(e^x + 1) <= 2^-24 and impossible while it exceeds 2^-23:
    assert math.log(2 ** 24 - 1) <= thr <= math.log(2 ** 25 - 1)
    x = np.float32(thr)
    assert float(x) == thr                       # the threshold is a float32
    prev = np.nextafter(x, np.float32(0))
    s = activations.sigmoid(np.array([prev, x, np.float32(20), np.float32(40)], dtype=np.float32))
    assert s[0] < 1.0 and s[0] == np.float32(1 - 2.0 ** -24)
    assert np.all(s[1:] == 1.0)
    # the model's iff, on every float32 in [16.5, 18): sigma == 1 exactly where fl(tanh(x/2)) >= 1 - 2^-24
    a, b = np.float32(16.5).view(np.int32), np.float32(18).view(np.int32)
    xs = np.arange(a, b, dtype=np.int32).view(np.float32)
    t = np.tanh(np.float32(0.5) * xs)
    np.testing.assert_array_equal(activations.sigmoid(xs) == 1.0, t >= np.float32(1 - 2.0 ** -24))
    assert np.float32(1) + np.float32(1 - 2.0 ** -24) == np.float32(2)   # the tie 2 - 2^-24 goes to even: 2


def test_float32_lower_tail_never_subnormal(data):
    a, b = np.float32(16).view(np.int32), np.float32(24).view(np.int32)
    xs = -np.arange(a, b, dtype=np.int32).view(np.float32)
    s = activations.sigmoid(xs).astype(np.float64)
    pos = s[s > 0]
    assert pos.min() == 2.0 ** -25
    np.testing.assert_array_equal(pos % 2.0 ** -25, 0)           # multiples of 2^-25: 1 + fl(tanh) is exact
    zero = data["sigmoid_saturation"]["thresholds"]["float32_zero"]
    assert zero < -math.log(2 ** 25 - 1)
    assert activations.sigmoid(np.float32(zero)) == 0


def test_exact_sigma_strictly_inside_the_unit_interval(data):
    d = data["sigmoid_saturation"]
    assert all(v > 0 for v in d["upper"]["exact"])               # 1 - sigma(x) > 0 up to x = 40
    assert all(0 < v < 1 for v in d["lower"]["exact"])
    up32 = dict(zip(d["upper"]["x"], d["upper"]["float32"]))
    assert up32[40.0] == 0.0 and up32[10.0] > 0                  # float32 sigma(40) is exactly 1.0


def test_clipping_data(data):
    d = data["clipping_2d"]
    for g, n, v in zip(d["g"], d["by_norm"], d["by_value"]):
        g, n, v = map(np.asarray, (g, n, v))
        assert np.linalg.norm(n) == pytest.approx(min(np.linalg.norm(g), 1.0), rel=1e-5)
        assert abs(n[0] * g[1] - n[1] * g[0]) <= 1e-5 * np.linalg.norm(g) ** 2   # parallel
        assert np.all(np.abs(v) <= 1.0)
    assert d["g"][-1] == [2.0, 0.5] and d["by_value"][-1] == [1.0, 0.5]
    assert min(d["cos_value"]) < 0.99


def test_render_writes_pngs_and_json(tmp_path, data):
    manifest = figures.render(tmp_path / "figs")
    assert tuple(manifest) == figures.FIGURES
    for name, entry in manifest.items():
        png = tmp_path / "figs" / entry["png"]
        raw = png.read_bytes()
        assert entry["png"] == f"{name}.png" and raw.startswith(PNG_SIGNATURE) and len(raw) > 5000
        assert entry["caption"] == data[name]["caption"] and entry["checks"] == data[name]["checks"]
    text = (tmp_path / "figs" / "figures.json").read_text()
    assert text == json.dumps(data, indent=1, sort_keys=True) + "\n"   # also: figure_data is deterministic


def test_render_refuses_a_failed_check(tmp_path, monkeypatch, data):
    bad = copy.deepcopy(data)
    bad["clipping_2d"]["checks"][0]["ok"] = False
    monkeypatch.setattr(figures, "figure_data", lambda: bad)
    with pytest.raises(RuntimeError, match="clipping_2d"):
        figures.render(tmp_path / "out")
    assert not (tmp_path / "out" / "figures.json").exists()


def _portable(d: dict) -> dict:
    """The figure data minus what numpy's float32/float64 tanh rounding decides (SIMD vs libm code paths
    differ by up to 1 ulp, which moves the measured saturation points): those stay checked against the
    error model by the tests above on every machine, and are regenerated by `dlproof report`."""
    d = copy.deepcopy(d)
    sig = d["sigmoid_saturation"]
    for key in ("upper", "lower", "thresholds", "caption"):
        sig.pop(key, None)
    for c in sig["checks"]:
        c.pop("detail", None)
    return d


def test_committed_figures_are_fresh(data):
    committed = COMMITTED / "figures.json"
    assert committed.is_file(), f"missing {committed}; regenerate with {REGENERATE}"
    assert _portable(json.loads(committed.read_text())) == _portable(data), \
        (f"reports/figures/figures.json is stale; regenerate with {REGENERATE} (if the code did not change: the "
         "sigmoid series come from numpy's float32/float64 tanh, whose SIMD and libm code paths round differently)")
    for name in figures.FIGURES:
        raw = (COMMITTED / f"{name}.png").read_bytes()
        assert raw.startswith(PNG_SIGNATURE) and len(raw) > 5000
