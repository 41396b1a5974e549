"""Run folders (dlproof.runfolder): a fresh folder per run, an atomic swap of the top level, concurrent runs that
cannot corrupt each other, pruning that never deletes a running run."""
import json
import os
import subprocess
import sys
import threading

from dlproof import runfolder
from dlproof.runfolder import MARKER, RunFolder, latest_run, new_run_id, prune


def _publish(run: RunFolder, tag: str) -> None:
    run.publish({"correctness.json": json.dumps({"run": run.run_id, "tag": tag, "pad": "x" * 20000}),
                 "correctness.md": f"# {run.run_id} {tag}\n"})


def test_run_ids_are_unique_and_sort_by_time():
    ids = [new_run_id() for _ in range(200)]
    assert len(set(ids)) == 200
    assert sorted(ids)[0][:15] <= ids[-1][:15]  # the stamp part never goes back


def test_each_run_gets_a_fresh_folder_and_is_swapped_in(tmp_path):
    a = RunFolder.create(tmp_path)
    assert (a.path / MARKER).exists() and a.path.parent == tmp_path / "runs"
    _publish(a, "first")
    assert not (a.path / MARKER).exists()
    b = RunFolder.create(tmp_path)
    assert b.path != a.path and not (tmp_path / "runs" / f".new-{b.run_id}").exists()
    # until b publishes, the top level is a's whole report
    assert json.loads((tmp_path / "correctness.json").read_text())["run"] == a.run_id
    _publish(b, "second")
    assert json.loads((tmp_path / "correctness.json").read_text())["run"] == b.run_id
    assert (tmp_path / "correctness.md").read_text().startswith(f"# {b.run_id}")
    assert latest_run(tmp_path) == b.run_id
    assert json.loads((a.path / "correctness.json").read_text())["tag"] == "first"  # a's own copy is kept
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_latest_falls_back_to_a_pointer_file(tmp_path, monkeypatch):
    def no_symlinks(*a, **k):
        raise OSError("symlinks not supported here")

    monkeypatch.setattr(os, "symlink", no_symlinks)
    run = RunFolder.create(tmp_path)
    _publish(run, "x")
    assert (tmp_path / "latest").is_file() and latest_run(tmp_path) == run.run_id


def test_concurrent_runs_into_one_folder_leave_whole_consistent_files(tmp_path):
    """Eight threads each create, fill and publish a run: every run folder holds its own report, and the top-level
    JSON and Markdown are whole and come from the same run (the one `latest` names)."""
    errors = []

    def one(i):
        try:
            run = RunFolder.create(tmp_path)
            (run.path / "repro").mkdir()
            (run.path / "repro" / "x.npz").write_bytes(b"%d" % i)
            _publish(run, str(i))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    top = json.loads((tmp_path / "correctness.json").read_text())
    assert (tmp_path / "correctness.md").read_text().startswith(f"# {top['run']} {top['tag']}")
    assert latest_run(tmp_path) == top["run"]
    for run_dir in (tmp_path / "runs").iterdir():
        own = json.loads((run_dir / "correctness.json").read_text())
        assert own["run"] == run_dir.name and (run_dir / "repro" / "x.npz").read_bytes() == own["tag"].encode()


def test_two_processes_publish_into_one_folder(tmp_path):
    code = ("import json,sys; from dlproof.runfolder import RunFolder\n"
            "for i in range(5):\n"
            "    r = RunFolder.create(sys.argv[1])\n"
            "    r.publish({'correctness.json': json.dumps({'run': r.run_id, 'pad': 'y' * 50000}),"
            " 'correctness.md': '# ' + r.run_id + '\\n'})\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)]) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    top = json.loads((tmp_path / "correctness.json").read_text())
    assert (tmp_path / "correctness.md").read_text() == f"# {top['run']}\n"


def test_prune_keeps_the_newest_and_never_a_running_run(tmp_path):
    old_running = RunFolder.create(tmp_path, "20000101T000000.000Z-aaaaaa")  # oldest, still running (our pid)
    finished = []
    for k in range(7):
        r = RunFolder.create(tmp_path, f"2001010{k}T000000.000Z-bbbbbb")
        r.finish()
        finished.append(r)
    dead = RunFolder.create(tmp_path, "20000102T000000.000Z-cccccc")  # its process is gone: over, prunable
    (dead.path / MARKER).write_text(json.dumps({"pid": _dead_pid(), "host": runfolder.socket.gethostname()}))
    deleted = prune(tmp_path, keep=3)
    left = {p.name for p in (tmp_path / "runs").iterdir()}
    assert old_running.run_id in left
    assert {r.run_id for r in finished[-3:]} <= left
    assert set(deleted) == {r.run_id for r in finished[:-3]} | {dead.run_id}
    assert not left & set(deleted)


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_run_folder_that_cannot_be_created_names_the_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    try:
        RunFolder.create(blocker / "sub")
    except runfolder.ReportDirError as exc:
        assert str(blocker / "sub") in str(exc)
    else:
        raise AssertionError("expected ReportDirError")
