"""`assertions.call` turns whatever a capability does into a verdict on that capability: an exception of any
kind (SystemExit, BaseException) is an error naming the place in the target's code, KeyboardInterrupt
propagates; a changed argument (arrays in place, dicts and lists at any depth) is a failure naming the argument
by the capability's signature; an unreadable result (object arrays) is a failure; warnings are recorded, never
raised; output to file descriptors 1 and 2 is captured and counted; descriptors and streams are restored on every
path."""
import os
import re
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

from dlproof.properties import assertions, harness
from dlproof.properties.assertions import PropertyFailure, TargetRaised, TargetTimeout, call
from dlproof.properties.protocol import _difference
from dlproof.properties.registry import all_properties
from dlproof.target import Target

import hostile_targets as H

THIS = os.path.basename(__file__)


def _target(**caps) -> Target:
    return Target(name=f"call test {sorted(caps)}", **caps)


def _cell_args(rng=np.random.default_rng(0)):
    x, h = rng.normal(size=(2, 3)), rng.normal(size=(2, 4))
    p = {"W_x": rng.normal(size=(4, 3)), "W_h": rng.normal(size=(4, 4)), "b": rng.normal(size=4)}
    return x, h, p


def _good_cell(x, h, p):
    return np.tanh(x @ p["W_x"].T + h @ p["W_h"].T + p["b"])


def _fd_identity(fd: int):
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


# ---- exceptions of every kind ----------------------------------------------------------------------------

class _Custom(BaseException):
    pass


def _exits(x, h, p):
    sys.exit(3)


def _raises_custom(x, h, p):
    raise _Custom("deep trouble")


def _raises_generator_exit(x, h, p):
    raise GeneratorExit


def _interrupts(x, h, p):
    raise KeyboardInterrupt


def _raises_in_helper(x, h, p):
    return _helper(x)


def _helper(x):
    return np.linalg.inv(np.zeros((2, 2)))  # raises LinAlgError inside numpy's own Python code


@pytest.mark.parametrize("fn,what", [
    (_exits, "rnn_cell called sys.exit(3) (at "),
    (_raises_custom, "rnn_cell raised _Custom: deep trouble (at "),
    (_raises_generator_exit, "rnn_cell raised GeneratorExit (at "),
], ids=["sys.exit", "custom BaseException", "GeneratorExit"])
def test_any_base_exception_is_an_error_of_the_capability(fn, what):
    t = _target(rnn_cell=fn)
    with pytest.raises(TargetRaised) as info:
        call(t, "rnn_cell", *_cell_args())
    msg = str(info.value)
    assert msg.startswith(what) and f"{THIS}:" in msg and f" in {fn.__name__})" in msg, msg
    assert msg.endswith(f"but should return its result [{t.name}]")
    assert "assertions.py" not in msg  # dlproof's own frames are never named


def test_the_location_is_the_innermost_frame_of_the_target_code():
    """numpy raises inside its own source: the message names the line of the target that called numpy."""
    with pytest.raises(TargetRaised) as info:
        call(_target(rnn_cell=_raises_in_helper), "rnn_cell", *_cell_args())
    line = _helper.__code__.co_firstlineno + 1
    msg = str(info.value)
    assert msg.startswith("rnn_cell raised LinAlgError: Singular matrix (at ") and f"{THIS}:{line} in _helper)" in msg


def test_keyboard_interrupt_propagates_and_restores_everything():
    streams, fds = (sys.stdout, sys.stderr), (_fd_identity(1), _fd_identity(2))
    with pytest.raises(KeyboardInterrupt):
        call(_target(rnn_cell=_interrupts), "rnn_cell", *_cell_args())
    assert (sys.stdout, sys.stderr) == streams and (_fd_identity(1), _fd_identity(2)) == fds


def test_sys_exit_gives_exactly_one_error_row(tmp_path):
    """harness.run: a capability that calls sys.exit is one "error" row, the run goes on."""
    row = harness.run(all_properties()["rnn.forward"], H.exits, "hostile_targets:exits", profile="dev",
                      report_dir=tmp_path, raises=False)
    assert row["verdict"] == "error"
    assert re.match(r"rnn called sys\.exit\(3\) \(at (\S+/)?hostile_targets\.py:\d+ in _rnn_exits\)", row["message"])


# ---- arguments: a deep snapshot, named by the signature ----------------------------------------------------

def _del_key(x, h, p):
    del p["W_h"]
    return np.zeros((2, 4))


def _add_key(x, h, p):
    p["cache"] = 1
    return np.zeros((2, 4))


def _rebind(x, h, p):
    p["W_x"] = p["W_x"].copy()  # same values, another array: the caller's dict no longer holds its array
    return np.zeros((2, 4))


def _in_place_dict_entry(x, h, p):
    p["b"][0] += 1.0
    return np.zeros((2, 4))


@pytest.mark.parametrize("fn,what", [
    (_del_key, "deleted key 'W_h' from its argument p (the parameter dict)"),
    (_add_key, "added key 'cache' to its argument p (the parameter dict)"),
    (_rebind, "replaced p['W_x'] with a new ndarray (in its argument p (the parameter dict))"),
    (_in_place_dict_entry, "mutated its input p['b'] in place"),
])
def test_a_changed_parameter_dict_is_a_failure(fn, what):
    t = _target(rnn_cell=fn)
    with pytest.raises(PropertyFailure) as info:
        call(t, "rnn_cell", *_cell_args())
    assert str(info.value) == f"rnn_cell: {what}, but should leave its inputs unchanged [{t.name}]"


def _pops(grads, c):
    grads.pop()
    return grads, 1.0


def _scales_one(grads, c):
    grads[1] *= 0.5
    return [g.copy() for g in grads], 1.0


@pytest.mark.parametrize("fn,what", [
    (_pops, "changed the length of its argument grads (the gradient list) from 3 to 2"),
    (_scales_one, "mutated its input grads[1] in place"),
])
def test_a_changed_gradient_list_is_a_failure(fn, what):
    t = _target(clip_grad_norm=fn)
    grads = [np.ones(2), np.ones(3), np.ones(4)]
    with pytest.raises(PropertyFailure) as info:
        call(t, "clip_grad_norm", grads, 1.0)
    assert str(info.value).startswith(f"clip_grad_norm: {what}, but should leave its inputs unchanged")


def test_tuple_arguments_are_named_by_their_parts():
    """lstm_bi(xs, (h0_f, c0_f), (h0_b, c0_b), p_f, p_b): a change in the second tuple names c0_b."""
    def bi(xs, fwd, bwd, p_f, p_b):
        bwd[1][...] = 0.0
        return None

    rng = np.random.default_rng(1)
    state = lambda: (rng.normal(size=(2, 3)), rng.normal(size=(2, 3)))  # noqa: E731
    with pytest.raises(PropertyFailure, match=r"^lstm_bi: mutated its input c0_b in place, but should leave"):
        call(_target(lstm_bi=bi), "lstm_bi", rng.normal(size=(4, 2, 3)), state(), state(), {}, {})


def test_unchanged_arguments_pass_and_negative_zero_is_no_change():
    def cell(x, h, p):
        p["b"][p["b"] == 0] = -0.0  # the same values
        return _good_cell(x, h, p)

    x, h, p = _cell_args()
    p["b"][0] = 0.0
    out = call(_target(rnn_cell=cell), "rnn_cell", x, h, p)
    np.testing.assert_array_equal(out, _good_cell(x, h, p))


# ---- results: numeric arrays only ------------------------------------------------------------------------

def test_an_object_array_in_the_result_is_a_failure_naming_it():
    def rnn(xs, h0, p):
        return [np.zeros(3, dtype=object)], np.zeros((2, 4))  # hs as a list of object arrays

    t = _target(rnn=rnn)
    with pytest.raises(PropertyFailure) as info:
        call(t, "rnn", np.zeros((1, 2, 3)), np.zeros((2, 4)), {})
    assert str(info.value) == (f"rnn: returned an object-dtype array for hs[0], but should return numpy.ndarray "
                               f"results of a numeric dtype (float64) [{t.name}]")


def test_a_result_that_cannot_be_read_is_a_failure():
    class Broken(dict):
        def items(self):
            raise RuntimeError("lazy tensor not materialised")

    t = _target(rnn_vjp=lambda *a: Broken())
    with pytest.raises(PropertyFailure, match=r"^rnn_vjp: returned a Broken that cannot be read \(RuntimeError: lazy"):
        call(t, "rnn_vjp", *[np.zeros(1)] * 5)


def test_protocol_difference_reads_object_arrays():
    """protocol._difference (the stateless properties) on object arrays: a message, not AttributeError."""
    a, b = np.empty(2, object), np.empty(2, object)
    a[0], a[1], b[0], b[1] = np.ones(3), {"x": 1}, np.ones(3), {"x": 2}
    assert _difference(a, b, "h'") == "h'[1] = {'x': 2}, was {'x': 1}"
    assert _difference(a, a.copy(), "h'") is None


# ---- warnings: recorded, not raised ----------------------------------------------------------------------

def test_warnings_are_recorded_not_raised_even_under_an_error_filter(monkeypatch):
    assertions.drain_warnings()
    t = H.warns
    x, h, p = _cell_args()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # as a project's filterwarnings = error would
        for _ in range(3):
            out = call(t, "rnn_cell", x, h, p)
    np.testing.assert_allclose(out, _good_cell(x, h, p), rtol=1e-12)
    got = assertions.drain_warnings()
    assert len(got) == 1, got  # three calls, one text
    assert re.fullmatch(r"rnn_cell: RuntimeWarning: overflow encountered in exp \(at (\S+/)?hostile_targets\.py:\d+\)",
                        got[0]), got
    assert assertions.drain_warnings() == []
    monkeypatch.setattr(assertions, "WARNINGS_AS_ERRORS", True)
    with pytest.raises(TargetRaised, match=r"^rnn_cell warned RuntimeWarning: overflow encountered in exp"):
        call(t, "rnn_cell", x, h, p)


def test_warnings_are_capped(monkeypatch):
    monkeypatch.setattr(assertions, "WARNINGS_CAP", 3)
    assertions.drain_warnings()

    def cell(x, h, p):
        warnings.warn(f"step {cell.n}")
        cell.n += 1
        return _good_cell(x, h, p)

    cell.n = 0
    for _ in range(5):
        call(_target(rnn_cell=cell), "rnn_cell", *_cell_args())
    got = assertions.drain_warnings()
    assert [g.split(": ")[2].split(" (at")[0] for g in got[:3]] == ["step 0", "step 1", "step 2"]
    assert got[3] == "... and 2 more distinct warnings" and len(got) == 4


# ---- output at the file-descriptor level ------------------------------------------------------------------

def _writes_fd1(x, h, p):
    for _ in range(3):
        os.write(1, b"z" * (1 << 20))
    return _good_cell(x, h, p)


def _subprocess_writes(x, h, p):
    subprocess.run([sys.executable, "-c", "import os; os.write(2, b'q' * (2 << 20))"], check=True)
    return _good_cell(x, h, p)


@pytest.mark.parametrize("fn,stream,size,head", [
    (_writes_fd1, "stdout", "3 MiB", "zzz"),
    (_subprocess_writes, "stderr", "2 MiB", "qqq"),
], ids=["os.write(1)", "subprocess to fd 2"])
def test_output_to_file_descriptors_is_captured_and_counted(fn, stream, size, head, capfd):
    fds = _fd_identity(1), _fd_identity(2)
    t = _target(rnn_cell=fn)
    with pytest.raises(PropertyFailure) as info:
        call(t, "rnn_cell", *_cell_args())
    assert str(info.value).startswith(f"rnn_cell: wrote {size} to {stream} during one call (limit 1 MiB; it "
                                      f"begins '{head}")
    assert (_fd_identity(1), _fd_identity(2)) == fds
    out, err = capfd.readouterr()
    assert len(out) + len(err) < 10_000  # none of it reached the real descriptors


def test_small_fd_output_is_dropped_and_descriptors_restored(capfd):
    def cell(x, h, p):
        os.write(1, b"native chatter\n")
        return _good_cell(x, h, p)

    fds = _fd_identity(1), _fd_identity(2)
    call(_target(rnn_cell=cell), "rnn_cell", *_cell_args())
    assert (_fd_identity(1), _fd_identity(2)) == fds
    os.write(1, b"after the call\n")
    out, _ = capfd.readouterr()
    assert "native chatter" not in out and "after the call" in out


def test_descriptors_are_restored_after_a_timeout(monkeypatch):
    monkeypatch.setattr(assertions, "CALL_TIMEOUT", 0.3)

    def cell(x, h, p):
        os.write(1, b"about to hang\n")
        time.sleep(30)

    fds, streams = (_fd_identity(1), _fd_identity(2)), (sys.stdout, sys.stderr)
    t = _target(rnn_cell=cell)
    with pytest.raises(TargetTimeout, match="did not return within 0.3 s"):
        call(t, "rnn_cell", *_cell_args())
    assert (_fd_identity(1), _fd_identity(2)) == fds and (sys.stdout, sys.stderr) == streams
    assertions._HUNG.pop((t.name, "rnn_cell"), None)


# ---- the hook -----------------------------------------------------------------------------------------------

def test_the_call_hook_sees_each_capability_before_its_call(monkeypatch):
    seen = []

    def cell(x, h, p):
        seen.append("called")
        return _good_cell(x, h, p)

    monkeypatch.setattr(assertions, "CALL_HOOK", seen.append)
    call(_target(rnn_cell=cell), "rnn_cell", *_cell_args())
    assert seen == ["rnn_cell", "called"]


def test_an_exception_whose_text_cannot_be_had_is_still_an_error_of_the_target():
    class Unprintable(Exception):
        def __str__(self):
            raise ValueError("no text")

    def cell(x, h, p):
        raise Unprintable

    with pytest.raises(TargetRaised, match=r"^rnn_cell raised Unprintable: <Unprintable whose str\(\) raised ValueError>"):
        call(_target(rnn_cell=cell), "rnn_cell", *_cell_args())
