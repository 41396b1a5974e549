"""Checks every chapter's tests make the same way (imported as `chapter_checks`: tests/ is on sys.path).

- `chapter_records(expected)`: the cached derivation records of the ids in ``expected`` (all modules loaded).
- `check_chapter_records(records, prefix, expected, seed)`: the chapter's registered ids are exactly those of
  ``expected`` (id -> status), each has its status, every obligation is proved, and it has steps and a primary
  citation whose seed names the file ``seed``.
- `check_proved_record(rec, want)`: one record has status ``want``, all of its obligations proved, and steps citing
  the seed notes.
- `check_refused(call, args, exc, *needles)`: ``call(*args)`` raises ``exc`` whose message contains each needle.
- `check_float32_pure(fwd, vjp, x, params, activation, dy, key, **kw)`: a layered network's forward
  ``fwd(x, params, activation)`` and VJP ``vjp(x, params, activation, dy)`` (gradients ``{"x", key: [tuple]}``)
  return float32 for float32 inputs and leave ``x`` and the parameter tuples ``params`` unchanged.
- `check_matches_oracle(impl, oracle, x, params, activation, dy, key)`: a layered network's (forward, VJP)
  pair ``impl`` against the oracle's: the forward to rtol 1e-12, atol 1e-13; the gradients
  ``{"x", key: [tuple]}``, tuple by tuple, to rtol 1e-11, atol 1e-12.
"""
from __future__ import annotations

import numpy as np
import pytest

from dlproof.derivations import records as cached_records
from dlproof.derivations import registry


def chapter_records(expected) -> dict:
    registry.load_modules()
    return {sid: cached_records()[sid] for sid in expected}


def check_chapter_records(records: dict, prefix: str, expected: dict, seed: str) -> None:
    registry.load_modules()
    assert {s for s in registry.specs() if s.startswith(prefix + ".")} == set(expected)
    for sid, want in expected.items():
        rec = records[sid]
        assert rec["status"] == want, (sid, rec["obligations"])
        assert {o["status"] for o in rec["obligations"]} == {"proved"}, (sid, rec["obligations"])
        assert rec["steps"] and rec["citation"]["primary"] and seed in rec["citation"]["seed"]


def check_proved_record(rec: dict, want: str) -> None:
    assert rec["status"] == want, [o for o in rec["obligations"] if o["status"] != "proved"]
    assert rec["obligations"] and all(o["status"] == "proved" for o in rec["obligations"])
    assert rec["steps"] and rec["citation"]["seed"].startswith("seed: 深度学习数学模块")


def check_refused(call, args, exc, *needles) -> None:
    with pytest.raises(exc) as info:
        call(*args)
    assert all(n in str(info.value) for n in needles), str(info.value)


def check_float32_pure(fwd, vjp, x, params, activation, dy, key, **kw) -> None:
    before = [x.copy()] + [a.copy() for p in params for a in p]
    assert fwd(x, params, activation, **kw).dtype == np.float32
    out = vjp(x, params, activation, dy, **kw)
    assert out["x"].dtype == np.float32 and all(a.dtype == np.float32 for p in out[key] for a in p)
    for a, b in zip(before, [x] + [a for p in params for a in p]):
        np.testing.assert_array_equal(a, b)


def check_matches_oracle(impl, oracle, x, params, activation, dy, key: str) -> None:
    (fwd, vjp), (ofwd, ovjp) = impl, oracle
    np.testing.assert_allclose(fwd(x, params, activation), ofwd(x, params, activation), rtol=1e-12, atol=1e-13)
    got, exp = vjp(x, params, activation, dy), ovjp(x, params, activation, dy)
    np.testing.assert_allclose(got["x"], exp["x"], rtol=1e-11, atol=1e-12)
    assert isinstance(got[key], list) and all(isinstance(p, tuple) for p in got[key])
    assert [len(p) for p in got[key]] == [len(p) for p in exp[key]]
    for g, e in zip(got[key], exp[key]):
        for a, b in zip(g, e):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)
