"""Golden vectors (`dlproof.golden`): format, integrity, determinism, and dlproof's own implementations
checked against them; a gate-order-swapped LSTM must fail them."""
from __future__ import annotations

import hashlib
import json
from functools import partial

import numpy as np
import pytest

from dlproof import golden, parameters
from dlproof.target import CAPABILITIES, CONVENTION_VALUES, Target
from dlproof.impl.targets import numpy_clip_target, numpy_target, torch_target

REQUIRED = [
    "rnn_cell.tanh", "rnn_cell.relu", "rnn.tanh", "rnn.relu", "rnn_vjp.tanh", "rnn_vjp.relu",
    "lstm_cell", "lstm", "lstm_vjp", "gru_cell.reset_after", "gru_cell.reset_before",
    "gru.reset_after", "gru.reset_before", "gru_vjp.reset_after", "gru_vjp.reset_before",
    "rnn_bi.tanh", "lstm_bi", "gru_bi.reset_after", "gru_bi.reset_before",
    "rnn.tanh.T1", "lstm.T1", "lstm.T1.zero_state", "lstm_cell.zero_state", "lstm_cell.saturated",
    "lstm.T20", "lstm_vjp.T20", "gru_cell.reset_after.saturated", "rnn_vjp.tanh.T1",
] + [f"clip_grad_norm.{s}.{e}.{side}" for s in ("global", "per_tensor") for e in ("eps0", "eps1e-6")
     for side in ("below", "above")] + ["clip_grad_value"]


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_manifest_readme_and_hashes(export):
    out, manifest = export
    assert (out / "README.md").is_file() and (out / "manifest.json").is_file()
    assert json.loads((out / "manifest.json").read_text()) == manifest
    readme = (out / "README.md").read_bytes()
    assert hashlib.sha256(readme).hexdigest() == manifest["files"]["README.md"]["sha256"]
    for word in ("time-major", "(T, B, m)", "W_x* is (n, m)", "W_h* is (n, n)", "i, f, g, o", "r, z, n",
                 "atol + rtol"):
        assert word.encode() in readme, word
    listed = {"README.md", "manifest.json"}
    for entry in manifest["cases"]:
        for ext in ("npz", "json"):
            f = entry["files"][ext]
            data = (out / f["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == f["sha256"], f["path"]
            assert len(data) == f["bytes"]
            listed.add(f["path"])
    assert set(_files(out)) == listed  # nothing unlisted
    ids = [e["id"] for e in manifest["cases"]]
    assert len(ids) == len(set(ids))
    assert set(REQUIRED) <= set(ids), sorted(set(REQUIRED) - set(ids))
    check = manifest["mpmath_check"]
    assert check["digits"] == 50 and check["forward_cases"] and check["vjp_cases"]
    assert check["forward_max_rel_deviation"] < 1e-13 and check["vjp_max_rel_deviation"] < 1e-12


def test_deterministic(export, tmp_path):
    out, _ = export
    again = tmp_path / "again"
    golden.export_golden(again, seed=0)
    assert _files(again) == _files(out)
    other = golden.export_golden(tmp_path / "other", seed=1)
    assert other["cases"][0]["files"]["npz"]["sha256"] != json.loads(
        (out / "manifest.json").read_text())["cases"][0]["files"]["npz"]["sha256"]


def test_case_metadata(export, cases):
    from dlproof.derivations import records

    known = records()
    out, manifest = export
    written = {e["id"]: json.loads((out / e["files"]["json"]["path"]).read_text()) for e in manifest["cases"]}
    for c in cases:
        assert written[c["id"]]["id"] == c["id"]
        assert c["capability"] in CAPABILITIES
        assert c["signature"] == c["capability"] + CAPABILITIES[c["capability"]]
        assert c["derivations"] and all(d in known for d in c["derivations"]), c["id"]
        for k, v in c["conventions"].items():
            assert CONVENTION_VALUES[k][1](v), (c["id"], k, v)
        assert set(c["arrays"]) == set(c["inputs"]) | set(c["outputs"])
        for name, shape in {**c["inputs"], **c["outputs"]}.items():
            a = c["arrays"][name]
            assert a.dtype == np.float64 and list(a.shape) == shape
            j = np.asarray(written[c["id"]]["arrays"][name], np.float64)
            assert np.array_equal(j, a), (c["id"], name)  # the JSON text round-trips exactly
        for dt in ("float64", "float32"):
            assert c["tolerance"][dt]["rtol"] > 0 and c["tolerance"][dt]["atol"] >= 0
        assert c["tolerance"]["justification"]
        if "n" in c["dims"]:
            assert c["dims"]["n"] != c["dims"]["m"]
        for name, a in c["arrays"].items():  # random asymmetric weights: never constant, mixed signs
            if ".W_" in name and not name.startswith("out."):
                assert np.unique(a).size == a.size and (a > 0).any() and (a < 0).any(), (c["id"], name)
                if a.shape[0] == a.shape[1]:
                    assert not np.allclose(a, a.T)


def test_edge_cases_present(cases):
    by_id = {c["id"]: c for c in cases}
    assert by_id["lstm.T1"]["dims"]["T"] == 1 and by_id["lstm.T20"]["dims"]["T"] == 20
    assert not by_id["lstm.T1.zero_state"]["arrays"]["h0"].any()
    assert not by_id["lstm.T1.zero_state"]["arrays"]["c0"].any()
    b = by_id["lstm_cell.saturated"]["arrays"]["p.b_f"]
    assert np.all(np.abs(b) > 25) and (b > 0).any() and (b < 0).any()
    # the LSTM gate blocks differ from one another (a swapped order changes the outputs)
    p = by_id["lstm"]["arrays"]
    assert not np.allclose(p["p.W_xi"], p["p.W_xf"]) and not np.allclose(p["p.b_i"], p["p.b_f"])


def _target(case, family: str, dtype: str) -> Target:
    conv = case["conventions"]
    if case["capability"] == "clip_grad_norm":
        eps, scope = conv["clip_eps"], conv["clip_scope"]
        if family == "numpy":
            return numpy_clip_target(eps, scope, dtype)
        from dlproof.impl.torch_ref import clipping

        return Target(f"torch clipping eps={eps} {scope}", dtype=dtype,
                      conventions={"clip_eps": eps, "clip_scope": scope},
                      clip_grad_norm=partial(clipping.clip_grad_norm, eps=eps, scope=scope))
    kw = {}
    if "rnn_activation" in conv:
        kw["activation"] = conv["rnn_activation"]
    if "gru" in conv:
        kw["gru"] = conv["gru"]
    return (numpy_target if family == "numpy" else torch_target)(dtype, **kw)


def _check_all(cases, family: str, dtype: str):
    problems = []
    for c in cases:
        t = _target(c, family, dtype)
        for k, v in c["conventions"].items():  # the target declares what the vectors assume
            assert t.convention(k) == v, (c["id"], k)
        problems += golden.check_target(c, t)
    assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_numpy_reference_matches(cases, dtype):
    _check_all(cases, "numpy", dtype)


def _swap_i_f(p: dict) -> dict:
    q = dict(p)
    for a, b in (("W_xi", "W_xf"), ("W_hi", "W_hf"), ("b_i", "b_f")):
        q[a], q[b] = p[b], p[a]
    return q


def test_gate_order_swap_is_caught(cases):
    """An LSTM that reads the i and f blocks in swapped order fails every LSTM golden case; with the
    constant weights of the ONNX backend tests the same bug is invisible."""
    from dlproof.impl.numpy_ref import bidirectional, lstm

    buggy = {
        "lstm_cell": lambda x, h, c, p: lstm.lstm_cell(x, h, c, _swap_i_f(p)),
        "lstm": lambda xs, h0, c0, p: lstm.lstm(xs, h0, c0, _swap_i_f(p)),
        "lstm_vjp": lambda xs, h0, c0, p, *d: lstm.lstm_vjp(xs, h0, c0, _swap_i_f(p), *d),
        "lstm_bi": lambda xs, sf, sb, pf, pb: bidirectional.lstm_bi(xs, sf, sb, _swap_i_f(pf), _swap_i_f(pb)),
    }
    lstm_cases = [c for c in cases if c["capability"] in buggy]
    assert len(lstm_cases) >= 10
    for c in lstm_cases:
        good = golden.compare(c, golden.call_case(c, getattr(numpy_target(), c["capability"])))
        assert good == [], good
        for dtype in ("float64", "float32"):
            bad = golden.compare(c, golden.call_case(c, buggy[c["capability"]], dtype), dtype)
            assert bad, f"{c['id']} ({dtype}): the gate-order swap went unnoticed"

    # constant weights (ONNX style: weight_scale * ones, T=1, zero state): the swap is invisible
    n, m, B = 3, 2, 2
    const = {k: np.full((n, m) if k.startswith("W_x") else (n, n) if k.startswith("W_h") else (n,), 0.1)
             for k in parameters.LSTM_PARAMS}
    xs, z = np.linspace(-1, 1, B * m).reshape(1, B, m), np.zeros((B, n))
    assert np.array_equal(lstm.lstm(xs, z, z, const)[0], lstm.lstm(xs, z, z, _swap_i_f(const))[0])


def test_wrong_gru_variant_is_caught(cases):
    """reset_before vectors fail a reset_after implementation (the declared convention matters)."""
    wrong = numpy_target(gru="reset_after")
    for c in cases:
        if c["conventions"].get("gru") == "reset_before" and c["capability"] in ("gru_cell", "gru", "gru_vjp"):
            assert golden.check_target(c, wrong), c["id"]
