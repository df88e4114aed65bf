"""Helpers for grading fixture submissions with the real `course` command in a throwaway course directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from course.student.data import make_mnist_path_absolute

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "grader_tests" / "submissions"
ASSIGNMENT = "mnist_cnn"
EXPECTED = json.loads((SUBMISSIONS / "expected_scores.json").read_text())

make_mnist_path_absolute()  # kernels run in each notebook's folder


def make_course(path: Path, extra_config: str = "") -> Path:
    """A copy of this course (config, source, release) with no gradebook and no submissions."""
    path.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", path)
    shutil.copytree(ROOT / "source", path / "source")
    shutil.copytree(ROOT / "release", path / "release")
    if extra_config:
        with open(path / "nbgrader_config.py", "a") as config:
            config.write("\n" + extra_config + "\n")
    return path


def submit(course: Path, fixture: str, student: str | None = None) -> str:
    student = student or fixture
    target = course / "submitted" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(SUBMISSIONS / f"{fixture}.ipynb", target)
    return student


def run_course(course: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the real command line, as an instructor would, in the course directory."""
    result = subprocess.run(
        [sys.executable, "-m", "course", *args],
        cwd=course,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    if check and result.returncode != 0:
        raise AssertionError(f"course {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def gradebook_url(course: Path, db_url: str | None = None) -> str:
    return db_url or f"sqlite:///{course / 'gradebook.db'}"


def cell_scores(course: Path, student: str, db_url: str | None = None) -> dict[str, float]:
    with Gradebook(gradebook_url(course, db_url), "mnist-cnn") as gradebook:
        submission = gradebook.find_submission(ASSIGNMENT, student)
        return {grade.name: grade.score for notebook in submission.notebooks for grade in notebook.grades}


def assert_golden(course: Path, student: str, fixture: str, db_url: str | None = None) -> None:
    expected = EXPECTED[fixture]
    scores = cell_scores(course, student, db_url)
    zero = set(scores) if expected["zero"] == "all" else set(expected["zero"])
    wrong = {cell: score for cell, score in scores.items() if (score == 0) != (cell in zero)}
    assert not wrong, f"{fixture}: these test cells scored other than golden (0 expected for {sorted(zero)}): {wrong}"
    assert sum(scores.values()) == expected["total"]
    with Gradebook(gradebook_url(course, db_url), "mnist-cnn") as gradebook:
        assert gradebook.find_submission(ASSIGNMENT, student).max_score == expected["max_score"]


@pytest.fixture(scope="session")
def mnist_path() -> Path:
    from course.student.data import MnistLoadError, resolve_mnist_file

    try:
        return resolve_mnist_file()  # as the notebook finds it: $MNIST_PATH, the Keras cache, the download
    except MnistLoadError as error:
        pytest.fail(f"The tests need the real MNIST: {error}")
