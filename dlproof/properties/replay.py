"""Replay a saved failing example (``dlproof repro FILE``) without trusting the file.

A repro file is what `harness.save_repro` writes: an ``.npz`` (a zip of ``.npy`` members) holding a
``__meta__`` JSON string (``target``, ``property``, ``scalars``) and the example's arrays. Anyone can hand
such a file to someone else, so `read_example` treats it as hostile input:

* nothing is unpickled (object and other non-numeric dtypes are refused from the ``.npy`` header, and the
  arrays are read with ``allow_pickle=False``);
* sizes are checked before anything is allocated: each member's ``.npy`` header (shape, dtype) is read with
  ``numpy.lib.format`` and refused when an array has more than `MAX_ELEMENTS` entries, when all arrays
  together need more than `MAX_TOTAL_BYTES`, when the header's shape disagrees with the member's declared
  size, or when a compressed member declares more bytes than deflate can produce from its compressed size
  (`MAX_DEFLATE_RATIO`); a 4 MB zip that declares a 4 GiB array is refused, never allocated;
* a target named inside the file is imported only if it is a built-in name (`dlproof.loader.BUILTINS`) or
  the caller trusts the file (``--trust``); ``--target SPEC`` replays against a target the user names
  instead, and the file's target is then never imported.

Anything wrong with the file raises `ReproFileError` (one line naming the file and what is wrong); the
command turns it into exit 2, never 1 (1 means a reproduced failure).

`replay` re-runs the property's own check on the saved example (the suite's call semantics:
`properties.assertions.call` through the check), ``repeat`` times, with fresh copies of the arrays each
time, so a failure that depends on the target's memory state shows up as "reproduced in j of K".
"""
from __future__ import annotations

import difflib
import json
import math
import warnings
import zipfile
from dataclasses import dataclass

import numpy as np
from numpy.lib import format as npy

from . import assertions, restrictions
from .assertions import Checker, PropertyFailure, TargetRaised
from .strategies import Problem

#: the most entries one array of a repro file may have (the suite's examples have at most a few thousand)
MAX_ELEMENTS = 64 << 20
#: the most bytes all arrays of a repro file together may need once loaded (256 MiB)
MAX_TOTAL_BYTES = 256 << 20
#: the most bytes the ``__meta__`` string may need (1 MiB)
MAX_META_BYTES = 1 << 20
#: the most members a repro file may have
MAX_MEMBERS = 1024
#: deflate turns 1 compressed byte into at most ~1032 bytes; a member that declares more is forged
MAX_DEFLATE_RATIO = 1100
#: the most replays one command may ask for
MAX_REPEAT = 10_000
#: the dtype kinds an example array may have: bool, signed/unsigned int, float, complex (never object,
#: structured, string or void data)
ARRAY_KINDS = "biufc"
META = "__meta__"
VERDICTS = ("pass", "fail", "error", "internal-error")


class ReproFileError(ValueError):
    """The repro file is unreadable, corrupt, too large, or names something that is refused (exit 2)."""


class UntrustedTarget(ReproFileError):
    """The file names a target that is not a built-in, and neither ``--target`` nor ``--trust`` was given."""


@dataclass
class SavedExample:
    """What a repro file holds, checked: its metadata and its arrays (in the file's order)."""

    path: str
    target: str
    property: str
    scalars: dict
    arrays: dict


def _size(n: int) -> str:
    for unit, k in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= k:
            return f"{n / k:.3g} {unit}"
    return f"{n} bytes"


def _looks_like(head: bytes) -> str:
    """A hint for a file that is not a zip, from its first bytes."""
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        return " (it is a Python pickle, which repro never loads)"
    if head.startswith(npy.MAGIC_PREFIX):
        return " (it is a single .npy array, not a repro .npz)"
    return ""


class _Reader:
    """Reads one repro file, refusing on the first problem (each refusal: `ReproFileError` naming the file)."""

    def __init__(self, path):
        self.path = str(path)

    def refuse(self, what: str):
        raise ReproFileError(f"cannot replay {self.path}: {what}")

    def open(self) -> zipfile.ZipFile:
        try:
            with open(self.path, "rb") as f:
                head = f.read(8)
                f.seek(0, 2)
                self.file_size = f.tell()
        except IsADirectoryError:
            self.refuse("it is a folder, not a repro .npz file")
        except OSError as exc:
            self.refuse(f"cannot read it ({exc.strerror or exc})")
        if not head:
            self.refuse("the file is empty")
        try:
            return zipfile.ZipFile(self.path)
        except zipfile.BadZipFile:
            self.refuse("not a .npz (zip) file, or a truncated one" + _looks_like(head))
        except (OSError, EOFError, ValueError, NotImplementedError) as exc:
            self.refuse(f"corrupt zip: {exc}")

    def check_member(self, info: zipfile.ZipInfo):
        """The zip-level sizes of one member: plausible for this file, before anything is decompressed."""
        name = info.filename
        if not name.endswith(".npy") or name.endswith("/"):
            self.refuse(f"member {name!r} is not a .npy array (a repro file holds .npy members only)")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            self.refuse(f"member {name!r} uses zip compression method {info.compress_type}; "
                        "a repro file's members are stored or deflated")
        if info.header_offset + info.compress_size > self.file_size:
            self.refuse(f"member {name!r} declares {info.compress_size} bytes past the end of the "
                        f"{self.file_size}-byte file (truncated or corrupt)")
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            self.refuse(f"member {name!r} is stored uncompressed but declares {info.file_size} bytes in "
                        f"{info.compress_size} (corrupt or forged)")
        if info.file_size > max(info.compress_size, 1) * MAX_DEFLATE_RATIO:
            self.refuse(f"member {name!r} declares {_size(info.file_size)} from {_size(info.compress_size)} "
                        f"compressed, more than deflate can produce (forged)")

    def header(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo):
        """(shape, fortran_order, dtype) from the member's .npy header, refused unless it is a plain numeric
        array (``__meta__``: a 0-d unicode string) whose size matches the member's."""
        name = info.filename
        key = name[:-4]
        with zf.open(info) as f:
            version = npy.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = npy.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = npy.read_array_header_2_0(f)
            else:
                self.refuse(f"member {name!r} is .npy format version {version[0]}.{version[1]}; "
                            "repro reads versions 1.0 and 2.0")
            header_len = f.tell()
        if dtype.hasobject:
            self.refuse(f"member {name!r} holds an object array (a pickle), which repro never loads")
        if not all(isinstance(d, int) and d >= 0 for d in shape):
            self.refuse(f"member {name!r} has shape {shape!r}, which is not a shape")
        wanted = "U" if key == META else ARRAY_KINDS
        if dtype.kind not in wanted or dtype.fields is not None or dtype.subdtype is not None:
            self.refuse(f"member {name!r} has dtype {dtype.str!r}; "
                        + ("__meta__ should be a unicode string" if key == META
                           else "example arrays are bool, integer, float or complex"))
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        if key == META and (shape != () or nbytes > MAX_META_BYTES):
            self.refuse(f"__meta__ has shape {shape} and {_size(nbytes)}, but should be one string of at most "
                        f"{_size(MAX_META_BYTES)}")
        if count > MAX_ELEMENTS:
            self.refuse(f"array {key!r} declares shape {shape} ({count} entries, {_size(nbytes)}), over the limit "
                        f"of {MAX_ELEMENTS} entries per array")
        if info.file_size != header_len + nbytes:
            self.refuse(f"array {key!r} declares shape {shape} of {dtype.str} ({_size(nbytes)}), but its member "
                        f"holds {_size(max(info.file_size - header_len, 0))} of data (truncated or forged)")
        return key, nbytes

    def read(self) -> SavedExample:
        zf = self.open()
        with zf:
            try:
                infos = zf.infolist()
                if not infos:
                    self.refuse("the zip holds no arrays")
                if len(infos) > MAX_MEMBERS:
                    self.refuse(f"the zip holds {len(infos)} members, over the limit of {MAX_MEMBERS}")
                names = [i.filename for i in infos]
                dup = sorted({n for n in names if names.count(n) > 1})
                if dup:
                    self.refuse(f"the zip holds member {dup[0]!r} twice (forged)")
                for info in infos:
                    self.check_member(info)
                total = 0
                for info in infos:
                    key, nbytes = self.header(zf, info)
                    total += nbytes
                    if total > MAX_TOTAL_BYTES:
                        self.refuse(f"its arrays need more than {_size(MAX_TOTAL_BYTES)} in all (the limit of a "
                                    f"repro file), {_size(nbytes)} of it in {key!r}")
                if META + ".npy" not in names:
                    self.refuse("it has no __meta__ (target, property, scalars): not a dlproof repro file")
                # every size is known and bounded now: read the data
                arrays = {}
                for info in infos:
                    with zf.open(info) as f:
                        arrays[info.filename[:-4]] = npy.read_array(f, allow_pickle=False)
            except ReproFileError:
                raise
            except Exception as exc:  # noqa: BLE001 - BadZipFile (bad CRC), zlib.error, EOFError, a bad header:
                self.refuse(f"corrupt or truncated: {type(exc).__name__}: {exc}")  # one line, never a traceback
        return self.example(arrays)

    def example(self, arrays: dict) -> SavedExample:
        text = str(arrays.pop(META)[()])
        try:
            meta = json.loads(text)
        except ValueError as exc:
            self.refuse(f"__meta__ is not valid JSON ({exc})")
        if not isinstance(meta, dict):
            self.refuse(f"__meta__ is a JSON {type(meta).__name__}, but should be an object with target, "
                        "property and scalars")
        missing = [k for k in ("target", "property", "scalars") if k not in meta]
        if missing:
            self.refuse(f"__meta__ lacks {missing}")
        if not isinstance(meta["target"], str) or not isinstance(meta["property"], str):
            self.refuse("__meta__'s target and property should be strings")
        if not isinstance(meta["scalars"], dict):
            self.refuse(f"__meta__'s scalars is a JSON {type(meta['scalars']).__name__}, but should be an object")
        return SavedExample(self.path, meta["target"], meta["property"], meta["scalars"], arrays)


def read_example(path) -> SavedExample:
    """The checked content of a repro file, or `ReproFileError` (see the module docstring for the checks)."""
    return _Reader(path).read()


class _SavedProblem(Problem):
    """A `Problem` read from a file: a name the property asks for and the file lacks is the file's fault."""

    path: str = ""
    prop: str = ""

    def __getitem__(self, k):
        if k not in self.arrays and k not in self.scalars:
            raise _MissingEntry(f"cannot replay {self.path}: it has no array or scalar {k!r}, which "
                                f"property {self.prop} needs (not a repro file of that property?)")
        return super().__getitem__(k)


class _MissingEntry(ReproFileError):
    pass


def resolve_target(saved: SavedExample, spec: str | None = None, *, trust: bool = False):
    """(spec, Target) to replay against: ``spec`` if given, else the file's target when it is a built-in or
    ``trust`` is set; else `UntrustedTarget` (nothing imported). A spec that does not load: `ReproFileError`."""
    from dlproof.loader import BUILTINS, TargetLoadError, load_target

    if spec is None:
        spec = saved.target
        if spec.strip() not in BUILTINS and not trust:
            raise UntrustedTarget(f"cannot replay {saved.path}: the file names target {spec!r}, which is not a "
                                  f"built-in; pass --target SPEC or --trust to import it")
    try:
        return spec, load_target(spec)
    except TargetLoadError as exc:
        raise ReproFileError(f"cannot replay {saved.path}: {exc}") from exc
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - a module that exits or raises BaseException on import
        raise ReproFileError(f"cannot replay {saved.path}: loading target {spec!r} raised "
                             f"{type(exc).__name__}: {exc}") from exc


def resolve_property(saved: SavedExample):
    from .registry import all_properties

    props = all_properties()
    if saved.property not in props:
        close = difflib.get_close_matches(saved.property, props, n=1)
        raise ReproFileError(f"cannot replay {saved.path}: the file names property {saved.property!r}, which "
                             f"dlproof does not have" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return props[saved.property]


def _problem(saved: SavedExample, target, prop_id: str) -> tuple:
    """Fresh copies of the saved arrays (a target that mutates them cannot change the next replay); float
    arrays cast to the target's dtype when it differs from the file's (the note says so), except a bfloat16
    example's arrays, which .npy stores as float32 (`harness.save_repro`) and which cast back exactly."""
    dt = np.dtype(target.dtype)
    arrays, cast = {}, set()
    for k, a in saved.arrays.items():
        if a.dtype.kind == "f" and a.dtype != dt:
            arrays[k] = a.astype(dt)
            stored_bfloat16 = dt == np.dtype("bfloat16") and a.dtype == np.float32 and np.array_equal(
                arrays[k].astype(a.dtype), a, equal_nan=True)
            if not stored_bfloat16:
                cast.add(a.dtype.name)
        else:
            arrays[k] = a.copy()
    problem = _SavedProblem(arrays, json.loads(json.dumps(saved.scalars)))
    problem.path, problem.prop = saved.path, prop_id
    note = f"the example was saved in {', '.join(sorted(cast))}; cast to {dt.name} for this target" if cast else None
    return problem, note


def _capability_in(tb) -> str:
    """The capability `assertions.call` was calling when ``tb`` was raised (else "the target")."""
    while tb is not None:
        if tb.tb_frame.f_code is assertions.call.__code__:
            return str(tb.tb_frame.f_locals.get("capability", "the target"))
        tb = tb.tb_next
    return "the target"


def _once(prop, target, problem) -> dict:
    """One replay: the property's check on the example, under the harness' warnings policy (dlproof's own
    warnings ignored, whatever filters the caller set; `call` records the target's)."""
    calling = []
    saved_hook = assertions.CALL_HOOK

    def hook(capability):
        calling[:] = [capability]
        if saved_hook is not None:
            saved_hook(capability)

    chk = Checker(target, prop.id)
    assertions.drain_warnings()  # warnings of earlier replays belong to those
    assertions.CALL_HOOK = hook
    out = {"verdict": "pass", "message": None, "part": None, "likely_bug": None}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prop.check(target, problem, chk)
    except _MissingEntry:
        raise
    except PropertyFailure as exc:
        out.update(verdict="fail", message=str(exc), part=getattr(exc, "part", None),
                   likely_bug=getattr(exc, "likely_bug", None))
    except TargetRaised as exc:
        out.update(verdict="error", message=str(exc) + restrictions.suggestion(target, exc.capability))
    except KeyboardInterrupt:
        raise
    except (SystemExit, GeneratorExit) as exc:  # the target tried to end the process: its error, not the end
        cap = calling[0] if calling else _capability_in(exc.__traceback__)
        what = f"called sys.exit({exc.code!r})" if isinstance(exc, SystemExit) else f"raised {type(exc).__name__}"
        out.update(verdict="error", message=f"{cap} {what}, but should return its result [{target.name} :: {prop.id}]")
    except Exception as exc:  # noqa: BLE001 - dlproof's own check failed: its bug (or a hand-edited file)
        from .harness import internal_message

        out.update(verdict="internal-error", message=internal_message(prop.id, exc)
                   + " (or the repro file was edited by hand)")
    finally:
        assertions.CALL_HOOK = saved_hook
    out["worst_error_ratio"] = chk.worst
    out["warnings"] = list(assertions.drain_warnings())
    return out


def _summary(verdicts: list) -> tuple:
    """(overall verdict, reproduced count, text) over the replays' verdicts."""
    k = len(verdicts)
    failed = [v for v in verdicts if v != "pass"]
    j = len(failed)
    if not failed:
        return "pass", 0, "did not reproduce" if k == 1 else f"did not reproduce in any of {k} replays"
    overall = next(v for v in ("internal-error", "fail", "error") if v in failed)
    if j == k:
        return overall, j, "reproduced" if k == 1 else f"reproduced in all {k} replays"
    return overall, j, (f"reproduced in {j} of {k}, did not reproduce in {k - j} of {k} (the verdict depends "
                        "on what the target did before: state kept between calls?)")


def replay(npz_path, target: str | None = None, *, trust: bool = False, repeat: int = 1) -> dict:
    """Re-run the saved example of a failure ``repeat`` times: ``python -m dlproof repro FILE``.

    ``target`` (a spec) replays against that target instead of the file's; the file's own target is used
    only if it is a built-in or ``trust`` is set. Raises `ReproFileError` for a file that is unreadable,
    too large, corrupt, or names a refused target or an unknown property. Returns the result dict:
    verdict (the worst over the replays), message, part, likely_bug, warnings, target, saved_target, property,
    worst_error_ratio, file, repeat, verdicts, reproduced, summary (and note, if the arrays were cast). A target
    on which the property does not run (a capability left out) gets verdict "not provided", replaying nothing.
    """
    if not isinstance(repeat, int) or not 1 <= repeat <= MAX_REPEAT:
        raise ValueError(f"repeat={repeat!r}, but should be an integer from 1 to {MAX_REPEAT}")
    saved = read_example(npz_path)
    prop = resolve_property(saved)
    spec, tgt = resolve_target(saved, target, trust=trust)
    if not prop.checks(tgt):  # e.g. a capability the target has left out since the file was saved
        missing = [c for c in prop.capabilities if not tgt.provides(c)]
        why = (f"the target does not provide {', '.join(missing)}" if missing else
               f"the property does not run on this target ({tgt.dtype}, or not under its declared conventions)")
        return {"verdict": "not provided", "message": why, "target": spec, "property": prop.id,
                "worst_error_ratio": None, "part": None, "likely_bug": None, "warnings": [],
                "saved_target": saved.target, "file": saved.path, "repeat": repeat, "verdicts": [], "reproduced": 0,
                "summary": f"not replayed: {why}"}
    runs = []
    for _ in range(repeat):
        problem, note = _problem(saved, tgt, prop.id)
        runs.append(_once(prop, tgt, problem))
    verdict, j, summary = _summary([r["verdict"] for r in runs])
    first = next((r for r in runs if r["verdict"] == verdict), runs[0])
    warned = list(dict.fromkeys(w for r in runs for w in r["warnings"]))
    out = {"verdict": verdict, "message": first["message"], "target": spec, "property": prop.id,
           "worst_error_ratio": max(r["worst_error_ratio"] for r in runs), "part": first["part"],
           "likely_bug": first["likely_bug"], "warnings": warned, "saved_target": saved.target,
           "file": saved.path, "repeat": repeat, "verdicts": [r["verdict"] for r in runs], "reproduced": j,
           "summary": summary}
    if note:
        out["note"] = note
    return out
