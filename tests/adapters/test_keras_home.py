"""The test helper `keras_or_skip` leaves no temporary KERAS_HOME behind: the folder it makes for a process that has
no KERAS_HOME is removed when that process exits, and none is made when KERAS_HOME is already set."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _run(code: str, env: dict) -> str:
    done = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(TESTS)!r}); {code}"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_private_keras_home_is_removed_when_the_process_exits(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "KERAS_HOME"}
    env["TMPDIR"] = str(tmp_path)
    made = _run("import os, keras_or_skip; h = keras_or_skip.private_keras_home(); "
                "assert os.path.isdir(h); print(h)", env)
    assert Path(made).parent == tmp_path
    assert not Path(made).exists(), f"{made} was left behind"


def test_no_folder_is_made_when_keras_home_is_set(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {**os.environ, "KERAS_HOME": str(mine), "TMPDIR": str(scratch), "KERAS_BACKEND": "torch"}
    home = _run("import os, pytest, keras_or_skip\n"
                "try:\n    keras_or_skip.keras3()\nexcept pytest.skip.Exception:\n    pass\n"
                "print(os.environ['KERAS_HOME'])", env)
    assert home == str(mine)
    made = [p.name for p in scratch.iterdir() if p.name.startswith("dlproof-keras-home-")]  # torch adds its own
    assert made == [], f"{made} made although KERAS_HOME was set"
