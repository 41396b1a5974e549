"""``dlproof repro FILE``: replays a saved failing example and cannot be turned against its user.

The file's own target is imported only if it is a built-in or ``--trust`` is given (``--target SPEC`` names
another); sizes are checked from the zip directory and the ``.npy`` headers before anything is allocated
(a forged header declaring 4 GiB is refused without reading a byte of data); unreadable, truncated, corrupt
or inconsistent files exit 2 with one line naming the file; ``--repeat K`` reports "reproduced in j of K".
Exit codes: 0 pass, 1 reproduced failure, 2 refused or unreadable.
"""
import ast
import io
import json
import struct
import sys
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from numpy.lib import format as npy

from dlproof import cli
from dlproof.properties import harness, replay, results
from dlproof.properties.registry import all_properties

#: a clip.norm.rule example: one gradient of norm 5 clipped to 1 (the per-tensor mutant agrees here, so the
#: mutant tests use harness.run's own shrunk example instead)
SCALARS = {"max_norm": 1.0, "regime": "above", "seed": 0, "clip_value": 1.0}


def _meta(target="numpy", prop="clip.norm.rule", scalars=SCALARS) -> np.ndarray:
    return np.array(json.dumps({"target": target, "property": prop, "scalars": scalars}))


def _saved(path: Path, target="numpy", prop="clip.norm.rule", **arrays) -> Path:
    """A repro file in `harness.save_repro`'s format: ``__meta__`` JSON plus the example's arrays."""
    arrays = arrays or {"g0": np.array([3.0, 4.0]), "g1": np.array([[0.5, -1.0]])}
    np.savez(path, __meta__=_meta(target, prop), **arrays)
    return path


def _repro(capsys, *argv):
    """(exit code, stdout, stderr) of ``dlproof repro ARGV``."""
    code = cli.main(["repro", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def _refused(capsys, path, *more, what):
    """Exit 2, nothing on stdout, one stderr line naming the file and ``what``."""
    code, out, err = _repro(capsys, path, *more)
    assert code == 2, (out, err)
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"dlproof repro: cannot replay {path}: "), err
    assert what in err, err
    return err


def _module(tmp_path, monkeypatch, name: str, source: str) -> str:
    """Write module ``name`` into tmp_path, importable for this test only."""
    (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name


def test_a_target_that_left_the_capability_out_gets_not_provided_and_nothing_runs(tmp_path, capsys, monkeypatch):
    """A file saved when the target still had clip_grad_norm, replayed once the target leaves it out: the verdict
    names the missing capability, exit 1 (not a pass), no call is made."""
    name = _module(tmp_path, monkeypatch, "left_out_target",
                   "from dataclasses import replace\nfrom dlproof.impl.targets import numpy_target\n"
                   "target = replace(numpy_target(), clip_grad_norm=None)\n")
    npz = _saved(tmp_path / "r.npz")
    code, out, _ = _repro(capsys, npz, "--target", f"{name}:target", "--json")
    res = json.loads(out)
    assert code == 1 and res["verdict"] == "not provided" and res["verdicts"] == []
    assert res["message"] == "the target does not provide clip_grad_norm"
    code, out, _ = _repro(capsys, npz, "--target", f"{name}:target")
    assert out.splitlines()[0] == "not provided: not replayed: the target does not provide clip_grad_norm"


# ---- a real failure, replayed -----------------------------------------------------------------------

def _real_failure(tmp_path) -> Path:
    """The shrunk example harness.run saves for a target that clips per tensor but declares global."""
    from mutants.clipping import per_tensor_target

    saved = list(results.ROWS)
    try:
        try:
            harness.run(all_properties()["clip.norm.rule"], per_tensor_target, "mutants.clipping:per_tensor_target",
                        profile="ci", report_dir=tmp_path)
        except AssertionError:
            pass
    finally:
        results.ROWS[:] = saved
    files = sorted(tmp_path.rglob("*.npz"))
    assert len(files) == 1, files
    return files[0]


def test_a_saved_failure_replays_against_a_named_target(tmp_path, capsys):
    npz = _real_failure(tmp_path)
    # the file names a module:attr target: not imported without --target or --trust
    _refused(capsys, npz, what="the file names target 'mutants.clipping:per_tensor_target', which is not a built-in; "
                               "pass --target SPEC or --trust to import it")
    code, out, _ = _repro(capsys, npz, "--target", "mutants.clipping:per_tensor_target")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "fail: reproduced" and "property:   clip.norm.rule" in out
    assert "target:     mutants.clipping:per_tensor_target" in out and "message:    " in out
    code, out, _ = _repro(capsys, npz, "--trust", "--json")
    res = json.loads(out)
    assert code == 1 and res["verdict"] == "fail" and "clip.norm.rule" in res["message"]
    assert res["target"] == res["saved_target"] == "mutants.clipping:per_tensor_target" and res["property"] == "clip.norm.rule"
    assert res["verdicts"] == ["fail"] and res["reproduced"] == 1 and res["file"] == str(npz)
    assert {"part", "likely_bug", "warnings", "worst_error_ratio"} <= set(res)
    # the same example against the correct reference passes: the example is sound, the mutant is not
    code, out, _ = _repro(capsys, npz, "--target", "numpy", "--json")
    res = json.loads(out)
    assert code == 0 and res["verdict"] == "pass" and res["saved_target"] == "mutants.clipping:per_tensor_target"
    assert res["message"] is None and res["summary"] == "did not reproduce"


def test_a_float64_example_is_cast_for_a_float32_target(tmp_path, capsys):
    npz = _saved(tmp_path / "ok.npz")
    code, out, _ = _repro(capsys, npz, "--target", "numpy.float32", "--json")
    res = json.loads(out)
    assert code == 0 and res["verdict"] == "pass"
    assert res["note"] == "the example was saved in float64; cast to float32 for this target"


# ---- --repeat ----------------------------------------------------------------------------------------

FLIP_FLOP = '''
from dataclasses import replace
from dlproof.impl.targets import numpy_target

BASE = numpy_target()
CALLS = [0]


def _clip(grads, max_norm):
    """Correct on odd calls; doubles the result on even calls (a failure that depends on state)."""
    CALLS[0] += 1
    clipped, norm = BASE.clip_grad_norm(grads, max_norm)
    return ([2 * g for g in clipped] if CALLS[0] % 2 == 0 else clipped), norm


target = replace(BASE, name="flip-flop", clip_grad_norm=_clip)
always = replace(BASE, name="always wrong", clip_grad_norm=lambda g, c: ([2 * x for x in BASE.clip_grad_norm(g, c)[0]], None))
'''


def test_repeat_reports_how_often_a_failure_reproduces(tmp_path, monkeypatch, capsys):
    mod = _module(tmp_path, monkeypatch, "repro_flip_flop", FLIP_FLOP)
    npz = _saved(tmp_path / "ex.npz", target=f"{mod}:target")
    code, out, _ = _repro(capsys, npz, "--target", f"{mod}:target", "--repeat", 4, "--json")
    res = json.loads(out)
    assert code == 1 and res["verdict"] == "fail"
    assert res["verdicts"] == ["pass", "fail", "pass", "fail"] and res["reproduced"] == 2 and res["repeat"] == 4
    assert res["summary"].startswith("reproduced in 2 of 4, did not reproduce in 2 of 4")
    assert "clipped[0]" in res["message"]
    # one more replay: call 5 is a correct one, so a single replay alone would have said "pass"
    code, out, _ = _repro(capsys, npz, "--target", f"{mod}:target")
    assert code == 0 and out.startswith("pass: did not reproduce")
    code, out, _ = _repro(capsys, npz, "--target", f"{mod}:always", "--repeat", 3)
    assert code == 1 and out.startswith("fail: reproduced in all 3 replays") and "verdicts:   fail fail fail" in out


@pytest.mark.parametrize("k", ["0", "-1", "x", "100000"])
def test_repeat_out_of_range_is_a_usage_error(k, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["repro", str(_saved(tmp_path / "ex.npz")), "--repeat", k])
    assert info.value.code == 2 and "--repeat" in capsys.readouterr().err


# ---- what the target does during the replay ------------------------------------------------------

HOSTILE = '''
import sys
from dataclasses import replace
import numpy as np
from dlproof.impl.targets import numpy_target

BASE = numpy_target()


def _exits(grads, max_norm):
    sys.exit(3)


def _warns(grads, max_norm):
    np.exp(np.float64(1000.0))  # RuntimeWarning: overflow, and the right answer all the same
    return BASE.clip_grad_norm(grads, max_norm)


def _interrupts(grads, max_norm):
    raise KeyboardInterrupt


exits = replace(BASE, name="exits", clip_grad_norm=_exits)
interrupts = replace(BASE, name="interrupts", clip_grad_norm=_interrupts)
warns = replace(BASE, name="warns", clip_grad_norm=_warns)
'''


def test_a_target_that_exits_is_an_error_not_the_end(tmp_path, monkeypatch, capsys):
    mod = _module(tmp_path, monkeypatch, "repro_hostile_exit", HOSTILE)
    code, out, _ = _repro(capsys, _saved(tmp_path / "ex.npz"), "--target", f"{mod}:exits", "--json")
    res = json.loads(out)
    assert code == 1 and res["verdict"] == "error"
    msg = res["message"]  # the capability, what it did, and that the replay went on to report it
    assert msg.startswith("clip_grad_norm ") and "exit" in msg and "3" in msg, msg
    assert msg.endswith("but should return its result [exits :: clip.norm.rule]"), msg


def test_ctrl_c_during_a_replay_exits_130(tmp_path, monkeypatch, capsys):
    mod = _module(tmp_path, monkeypatch, "repro_hostile_interrupt", HOSTILE)
    code, out, err = _repro(capsys, _saved(tmp_path / "ex.npz"), "--target", f"{mod}:interrupts")
    assert code == 130 and out == "" and err.startswith("dlproof repro: interrupted while replaying ")


@pytest.mark.parametrize("raised,verdict,start", [
    (SystemExit(4), "error", "the target called sys.exit(4), but should return its result ["),
    (ValueError("shapes (2,) and (3,) not aligned"), "internal-error",
     "dlproof bug in property fake.prop: ValueError: shapes (2,) and (3,) not aligned"),
], ids=["exit-outside-call", "dlproof-bug"])
def test_what_escapes_the_check_gets_a_verdict(raised, verdict, start):
    """A SystemExit that escapes `call` is the target's error; any other exception is dlproof's own bug."""
    from types import SimpleNamespace

    from dlproof.impl.targets import numpy_target

    def check(target, problem, chk):
        raise raised

    res = replay._once(SimpleNamespace(id="fake.prop", check=check), numpy_target(), None)
    assert res["verdict"] == verdict and res["message"].startswith(start), res["message"]


def test_a_target_warning_is_not_an_error_whatever_the_callers_filters(tmp_path, monkeypatch, capsys):
    """Even with RuntimeWarning turned into an error around the command, the overflow warning of a correct
    target does not change its verdict."""
    mod = _module(tmp_path, monkeypatch, "repro_hostile_warn", HOSTILE)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code, out, _ = _repro(capsys, _saved(tmp_path / "ex.npz"), "--target", f"{mod}:warns", "--json")
    res = json.loads(out)
    assert code == 0 and res["verdict"] == "pass"
    assert any("RuntimeWarning" in w and "overflow" in w for w in res["warnings"]), res["warnings"]  # recorded
    code, out, _ = _repro(capsys, _saved(tmp_path / "ex.npz"), "--target", f"{mod}:warns")
    assert code == 0 and "  warning:    clip_grad_norm: RuntimeWarning: overflow" in out, out


# ---- the file's target: built-in names only, unless trusted ---------------------------------------

MARKER = '''
from pathlib import Path
Path(__file__).with_name("imported").write_text("the module ran")
from dlproof.impl.targets import numpy_target
target = numpy_target()
'''


def test_a_file_target_that_writes_on_import_is_not_imported(tmp_path, monkeypatch, capsys):
    mod = _module(tmp_path, monkeypatch, "repro_marker_target", MARKER)
    npz = _saved(tmp_path / "ex.npz", target=f"{mod}:target")
    _refused(capsys, npz, what=f"the file names target '{mod}:target', which is not a built-in")
    assert not (tmp_path / "imported").exists() and mod not in sys.modules
    code, out, _ = _repro(capsys, npz, "--target", "numpy")  # --target: the file's target still not imported
    assert code == 0 and not (tmp_path / "imported").exists() and mod not in sys.modules
    code, out, _ = _repro(capsys, npz, "--trust")  # trusted: imported, and replayed
    assert code == 0 and (tmp_path / "imported").exists() and f"target:     {mod}:target" in out


@pytest.mark.parametrize("spec", ["os:abort", "this:s", "__import__('os').system('touch {m}')",
                                  "subprocess:getoutput('touch {m}')"])
def test_a_file_target_that_is_not_a_builtin_is_refused(spec, tmp_path, monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "this", raising=False)  # `import this` prints the Zen: a visible import
    monkeypatch.chdir(tmp_path)
    spec = spec.format(m=tmp_path / "X")
    npz = _saved(tmp_path / "evil.npz", target=spec)
    _refused(capsys, npz, what=f"the file names target {spec!r}, which is not a built-in; pass --target SPEC or "
                               "--trust to import it")
    assert "this" not in sys.modules and not (tmp_path / "X").exists()


def test_os_abort_in_the_file_is_not_called_by_the_real_command(tmp_path):
    """Through ``python -m dlproof repro``: exit 2 with the message, not a SIGABRT."""
    import subprocess

    npz = _saved(tmp_path / "abort.npz", target="os:abort")
    proc = subprocess.run([sys.executable, "-m", "dlproof", "repro", str(npz)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "the file names target 'os:abort', which is not a built-in" in proc.stderr and proc.stdout == ""


def test_a_trusted_code_spec_is_still_only_a_name(tmp_path, capsys):
    """--trust imports a module:attr; text that is code is refused by the loader, never evaluated."""
    marker = tmp_path / "X"
    spec = f"__import__('os').system('touch {marker}')"
    npz = _saved(tmp_path / "evil.npz", target=spec)
    _refused(capsys, npz, "--trust", what=f"unknown target {spec!r}")
    assert not marker.exists()


def test_an_unknown_target_option_is_refused(tmp_path, capsys):
    _refused(capsys, _saved(tmp_path / "ex.npz"), "--target", "no_such_module_xyz:t",
             what="cannot import module 'no_such_module_xyz'")


# ---- unreadable, truncated, corrupt, inconsistent files ---------------------------------------------

def test_missing_empty_and_folder_are_refused(tmp_path, capsys):
    _refused(capsys, tmp_path / "missing.npz", what="cannot read it (No such file or directory)")
    (tmp_path / "empty.npz").write_bytes(b"")
    _refused(capsys, tmp_path / "empty.npz", what="the file is empty")
    _refused(capsys, tmp_path, what="it is a folder")
    (tmp_path / "text.npz").write_text("not a zip")
    _refused(capsys, tmp_path / "text.npz", what="not a .npz (zip) file, or a truncated one")
    np.save(tmp_path / "one.npy", np.zeros(3))
    _refused(capsys, tmp_path / "one.npy", what="a single .npy array, not a repro .npz")


def test_truncated_files_are_refused(tmp_path, capsys):
    whole = _saved(tmp_path / "whole.npz").read_bytes()
    for n in (4, 100, len(whole) // 2, len(whole) - 10):
        cut = tmp_path / f"cut{n}.npz"
        cut.write_bytes(whole[:n])
        _refused(capsys, cut, what="truncated")


@pytest.mark.parametrize("compressed", [False, True], ids=["stored", "deflated"])
def test_corrupt_data_is_refused(compressed, tmp_path, capsys):
    """A byte flipped inside a member's data: the CRC (stored) or the deflate stream (deflated) catches it."""
    path = tmp_path / "ok.npz"
    save = np.savez_compressed if compressed else np.savez
    save(path, __meta__=_meta(), g0=np.arange(1000.0))
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("g0.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + (200 if not compressed else 20)
    data[start] ^= 0xFF
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(data))
    _refused(capsys, bad, what="corrupt or truncated")


@pytest.mark.parametrize("meta,what", [
    (None, "it has no __meta__ (target, property, scalars): not a dlproof repro file"),
    ("{not json", "__meta__ is not valid JSON"),
    ("[1, 2]", "__meta__ is a JSON list, but should be an object"),
    ('{"target": "numpy", "property": "clip.norm.rule"}', "__meta__ lacks ['scalars']"),
    ('{"target": 3, "property": "clip.norm.rule", "scalars": {}}', "target and property should be strings"),
    ('{"target": "numpy", "property": "clip.norm.rul", "scalars": {}}',
     "the file names property 'clip.norm.rul', which dlproof does not have (did you mean 'clip.norm.rule'?)"),
], ids=["missing", "bad-json", "list", "no-scalars", "non-string", "unknown-property"])
def test_bad_metadata_is_refused(meta, what, tmp_path, capsys):
    path = tmp_path / "m.npz"
    arrays = {"g0": np.ones(2)} if meta is None else {"__meta__": np.array(meta), "g0": np.ones(2)}
    np.savez(path, **arrays)
    _refused(capsys, path, what=what)


def test_an_array_the_property_needs_but_the_file_lacks(tmp_path, capsys):
    path = _saved(tmp_path / "rnn.npz", prop="rnn.forward", xs=np.zeros((1, 1, 1)))
    _refused(capsys, path, what="it has no array or scalar 'h0', which property rnn.forward needs")


# ---- sizes checked before anything is allocated --------------------------------------------------

def _npy_header(shape, descr="<f8") -> bytes:
    """A version 1.0 .npy header (magic, length, dict) declaring ``shape`` and ``descr``, with no data."""
    d = {"descr": descr, "fortran_order": False, "shape": tuple(shape)}
    buf = io.BytesIO()
    npy.write_array_header_1_0(buf, d)
    return buf.getvalue()


def _forged(path: Path, members: dict, compression=zipfile.ZIP_STORED) -> Path:
    """A zip of raw members (name -> bytes), ``__meta__`` first, with a valid meta."""
    meta = io.BytesIO()
    npy.write_array(meta, _meta())
    with zipfile.ZipFile(path, "w", compression) as zf:
        zf.writestr("__meta__.npy", meta.getvalue())
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.fixture
def no_array_read(monkeypatch):
    """Fail the test if repro reads any array data (every refusal must come from the headers)."""
    def forbidden(*a, **k):
        raise AssertionError("array data was read")

    monkeypatch.setattr(replay.npy, "read_array", forbidden)
    tracemalloc.start()
    yield
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 << 20, f"{peak} bytes allocated while refusing"


def test_a_header_declaring_4_gib_is_refused_unallocated(tmp_path, capsys, no_array_read):
    path = _forged(tmp_path / "huge.npz", {"g0.npy": _npy_header((1 << 29,)) + b"\0" * 64})
    assert path.stat().st_size < 4096
    _refused(capsys, path, what="array 'g0' declares shape (536870912,) (536870912 entries, 4 GiB), over the limit "
                                f"of {replay.MAX_ELEMENTS} entries per array")


def test_a_member_declaring_more_than_deflate_can_produce_is_refused(tmp_path, capsys, no_array_read):
    """A 4 MB-style zip bomb: the directory says 4 GiB from a few compressed bytes (sizes patched)."""
    path = _forged(tmp_path / "bomb.npz", {"g0.npy": _npy_header((2,)) + b"\0" * 16}, zipfile.ZIP_DEFLATED)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("g0.npy")
    cd = data.rindex(b"PK\x01\x02")  # the last central-directory entry is g0.npy's
    struct.pack_into("<I", data, cd + 24, (4 << 30) - 1)  # uncompressed size
    struct.pack_into("<I", data, info.header_offset + 22, (4 << 30) - 1)  # the local header's too
    path.write_bytes(bytes(data))
    _refused(capsys, path, what="member 'g0.npy' declares 4 GiB from ")


def test_a_header_that_disagrees_with_its_data_is_refused(tmp_path, capsys, no_array_read):
    path = _forged(tmp_path / "short.npz", {"g0.npy": _npy_header((1000,)) + b"\0" * 80})
    _refused(capsys, path, what="array 'g0' declares shape (1000,) of <f8 (7.81 KiB), but its member holds 80 bytes "
                                "of data (truncated or forged)")


def test_many_arrays_over_the_total_limit_are_refused(tmp_path, capsys, monkeypatch, no_array_read):
    monkeypatch.setattr(replay, "MAX_TOTAL_BYTES", 1000)  # the same check as 256 MiB, on a small file
    path = _saved(tmp_path / "many.npz", **{f"g{i}": np.zeros(50) for i in range(4)})
    total = 4 * len(str(_meta()[()]))  # __meta__ counts too: UTF-32, 4 bytes a character
    first_over = next(i for i in range(4) if total + 400 * (i + 1) > 1000)
    _refused(capsys, path, what="its arrays need more than 1000 bytes in all (the limit of a repro file), "
                                f"400 bytes of it in 'g{first_over}'")


@pytest.mark.parametrize("descr,what", [
    ("|O", "holds an object array (a pickle), which repro never loads"),
    ("<U4", "has dtype '<U4'; example arrays are bool, integer, float or complex"),
    ([("a", "<f8"), ("b", "<i4")], "example arrays are bool, integer, float or complex"),
], ids=["object", "string", "structured"])
def test_non_numeric_dtypes_are_refused_from_the_header(descr, what, tmp_path, capsys, no_array_read):
    path = _forged(tmp_path / "d.npz", {"g0.npy": _npy_header((2,), descr) + b"\0" * 64})
    _refused(capsys, path, what=what)


def test_non_npy_members_are_refused(tmp_path, capsys, no_array_read):
    _refused(capsys, _forged(tmp_path / "x.npz", {"run.sh": b"echo hi"}),
             what="member 'run.sh' is not a .npy array")


def test_the_sources_read_repro_files_only_through_the_checked_reader():
    """replay.py never calls numpy.load, and reads array data in one place, after the checks."""
    src = Path(replay.__file__).read_text(encoding="utf-8")
    calls = [n for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Call)]
    names = [ast.unparse(c.func) for c in calls]
    assert not any(n.endswith("load") and n.startswith(("np", "numpy")) for n in names)
    reads = [c for c in calls if ast.unparse(c.func) == "npy.read_array"]
    assert len(reads) == 1 and any(k.arg == "allow_pickle" and k.value.value is False for k in reads[0].keywords)
