"""`dlproof.isolate`: a capability call in a worker process is timed alone (start-up has its own deadline), a
hung or crashed worker is killed and replaced, so later calls never queue behind it; a crash names its signal or
exit code; a memory limit turns an over-large allocation into MemoryError; and every hostile case that an
in-process run survives gets the same verdict per property with and without isolation."""
import os
import time

import numpy as np
import pytest

from dlproof.isolate import isolated, stop
from dlproof.properties import assertions, harness
from dlproof.properties.assertions import TargetRaised, TargetTimeout, call
from dlproof.properties.registry import all_properties

import hostile_targets as H

TIMEOUT = 2.0


@pytest.fixture
def iso():
    """``iso(name, **kw)``: the isolated ``hostile_targets:name``; its worker is stopped after the test."""
    made = []

    def make(name, **kw):
        t = isolated(f"hostile_targets:{name}", timeout=kw.pop("timeout", TIMEOUT), **kw)
        made.append(t)
        return t

    yield make
    for t in made:
        stop(t)
        for c in t.capabilities:
            assertions._HUNG.pop((t.name, c), None)


def _cell_args(rng=np.random.default_rng(0)):
    x, h = rng.normal(size=(2, 3)), rng.normal(size=(2, 4))
    p = {k: rng.normal(size=(4, 3 if k.startswith("W_x") else 4)) for k in ("W_xr", "W_xz", "W_xn", "W_hr", "W_hz", "W_hn")}
    p.update({k: rng.normal(size=4) for k in ("b_r", "b_z", "b_n", "b_hn")})
    return x, h, p


def _rnn_cell_args(rng=np.random.default_rng(1)):
    x, h = rng.normal(size=(2, 3)), rng.normal(size=(2, 4))
    return x, h, {"W_x": rng.normal(size=(4, 3)), "W_h": rng.normal(size=(4, 4)), "b": rng.normal(size=4)}


def _assert_rnn_cell_still_works(t):
    args = _rnn_cell_args()
    np.testing.assert_allclose(call(t, "rnn_cell", *args), H.BASE.rnn_cell(*args), rtol=1e-12)


# ---- hangs: one deadline per call, no queueing ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["hangs", "sleeps_in_c", "busy_in_c"], ids=["python", "libc sleep", "busy C loop"])
def test_a_hang_costs_one_timeout_and_later_calls_are_not_hung(name, iso):
    t = iso(name)
    _assert_rnn_cell_still_works(t)  # the worker is up: the timed calls below do not include its start-up
    cap = "rnn" if name == "hangs" else "gru_cell"
    args = (np.zeros((1, 2, 3)), np.zeros((2, 4)), _rnn_cell_args()[2]) if cap == "rnn" else _cell_args()
    t0 = time.monotonic()
    with pytest.raises(TargetTimeout, match=rf"^{cap}: did not return within 2 s"):
        call(t, cap, *args)
    hung = time.monotonic() - t0
    assert TIMEOUT <= hung < TIMEOUT + 3
    for _ in range(3):  # the hung worker was killed: a fresh one answers, nothing queues behind the hang (a call
        _assert_rnn_cell_still_works(t)  # queued behind it would never return: TargetTimeout); no wall-clock bound:
        # the fresh worker's start-up (imports) took 2.7-3.2 s on 2 cores with two other busy processes
    with pytest.raises(TargetTimeout):  # the hung capability is not called again (no second wait)
        call(t, cap, *args)


def test_a_run_with_one_hanging_capability_costs_about_one_timeout(iso, tmp_path):
    """harness.run over the hung property and three others: only the hung one waits, once."""
    t = iso("sleeps_in_c")
    props = all_properties()
    t0 = time.monotonic()
    rows = [harness.run(props[p], t, "hostile_targets:sleeps_in_c", profile="dev", report_dir=tmp_path, raises=False)
            for p in ("gru.cell.forward", "rnn.cell.forward", "lstm.cell.forward", "rnn.param_count")]
    took = time.monotonic() - t0
    assert [r["verdict"] for r in rows] == ["fail", "pass", "pass", "pass"], [r["message"] for r in rows]
    assert "gru_cell: did not return within 2 s" in rows[0]["message"]
    assert took < 3 * TIMEOUT + 10, took  # not one timeout per capability


# ---- crashes: named, and the next call gets a fresh worker ----------------------------------------------------

@pytest.mark.parametrize("name,how", [
    ("aborts", "killed by SIGABRT (signal 6)"),
    ("segfaults", "killed by SIGSEGV (signal 11)"),
    ("os_exits", "exited with code 3 (os._exit"),
])
def test_a_crash_names_its_signal_or_exit_code_and_the_worker_restarts(name, how, iso):
    t = iso(name)
    for _ in range(2):  # the same input crashes again: deterministic, not flaky
        with pytest.raises(TargetRaised) as info:
            call(t, "gru_cell", *_cell_args())
        assert str(info.value).startswith(f"gru_cell crashed the isolated worker: {how}")
        assert "EOFError" not in str(info.value) and "BrokenPipe" not in str(info.value)
        _assert_rnn_cell_still_works(t)


def test_a_crash_is_one_error_row(iso, tmp_path):
    t = iso("aborts")
    row = harness.run(all_properties()["gru.cell.forward"], t, "hostile_targets:aborts", profile="dev",
                      report_dir=tmp_path, raises=False)
    assert row["verdict"] == "error" and "gru_cell crashed the isolated worker: killed by SIGABRT" in row["message"]


def test_the_memory_limit_makes_a_huge_allocation_a_memory_error(iso):
    t = iso("allocates", memory_limit_mb=512)
    with pytest.raises(TargetRaised, match=r"^gru_cell raised MemoryError: Unable to allocate 16\.0 GiB"):
        call(t, "gru_cell", *_cell_args())
    _assert_rnn_cell_still_works(t)  # the limit leaves ordinary calls alone


def test_an_interrupt_while_waiting_kills_the_worker(iso, monkeypatch):
    """The caller's alarm (or Ctrl-C) while the worker hangs: the worker is killed, the next call is fresh."""
    t = iso("sleeps_in_c", timeout=60)
    worker = t.gru_cell.worker
    _assert_rnn_cell_still_works(t)
    pid = worker.proc.pid
    old = assertions._timer(0.5)  # as an outer SIGALRM would
    try:
        with pytest.raises(assertions._Alarm):
            worker("gru_cell", *_cell_args())
    finally:
        assertions._cancel(old)
    assert worker.proc is None
    with pytest.raises(ProcessLookupError):  # killed and reaped
        os.kill(pid, 0)
    _assert_rnn_cell_still_works(t)


# ---- the same verdicts with and without isolation -------------------------------------------------------------

SAME_VERDICT = [  # (hostile target, the property that calls its hostile capability, one that does not)
    ("exits", "rnn.forward", "rnn.cell.forward"),
    ("raises_base", "rnn.forward", "gru.cell.forward"),
    ("object_hs", "rnn.forward", "rnn.cell.forward"),
    ("deletes_key", "rnn.forward", "rnn.cell.forward"),
    ("mutates", "rnn.forward", "rnn.cell.forward"),
    ("warns", "rnn.cell.forward", "rnn.forward"),
    ("fd_flood", "rnn.forward", "rnn.cell.forward"),
    ("chatty", "rnn.forward", "rnn.cell.forward"),
    ("hangs", "rnn.forward", "rnn.cell.forward"),
]


@pytest.mark.parametrize("name,hostile,untouched", SAME_VERDICT, ids=[c[0] for c in SAME_VERDICT])
def test_the_same_verdict_with_and_without_isolation(name, hostile, untouched, iso, tmp_path, monkeypatch):
    monkeypatch.setattr(assertions, "CALL_TIMEOUT", TIMEOUT)
    props = all_properties()
    plain, isolated_target = getattr(H, name), iso(name)
    verdicts = {}
    for label, t in (("in-process", plain), ("isolated", isolated_target)):
        for pid in (hostile, untouched):
            row = harness.run(props[pid], t, f"hostile_targets:{name}", profile="dev", report_dir=tmp_path,
                              seed_value=0, raises=False)
            # the message up to "[target :: property]" (the isolated target's name differs), and the warnings
            verdicts[label, pid] = row["verdict"], row["message"] and row["message"].split(" [")[0], row["warnings"]
            if name == "warns" and pid == hostile:
                assert len(row["warnings"]) == 1 and "RuntimeWarning: overflow encountered in exp" in row["warnings"][0]
            else:
                assert row["warnings"] == []
    assertions._HUNG.pop((plain.name, "rnn"), None)
    expected = "pass" if name == "warns" else "fail" if name not in ("exits", "raises_base") else "error"
    for pid in (hostile, untouched):
        assert verdicts["in-process", pid] == verdicts["isolated", pid], pid
    assert verdicts["in-process", hostile][0] == expected, verdicts
    assert verdicts["in-process", untouched][0] == "pass", verdicts


def test_a_wrapped_proxy_is_still_timed_by_the_worker_alone(iso, monkeypatch):
    """A wrapper that sets __wrapped__ (functools.wraps) keeps the proxy's own deadline: the parent's timer is not
    armed, so a worker's start-up never counts against the call."""
    import functools
    from dataclasses import replace

    monkeypatch.setattr(assertions, "CALL_TIMEOUT", 1e-3)  # would fire during any start-up
    t = iso("warns")
    inner = t.rnn_cell
    wrapped = replace(t, rnn_cell=functools.wraps(inner)(lambda *a: inner(*a)))
    assert assertions._isolated(wrapped.rnn_cell)
    args = _rnn_cell_args()
    np.testing.assert_allclose(call(wrapped, "rnn_cell", *args), H.BASE.rnn_cell(*args), rtol=1e-12)
    assertions.drain_warnings()
