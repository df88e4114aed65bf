"""Wall time of `course grade` on one reference submission against executing the same notebook bare with
nbclient, side by side in one run (interleaved, so machine load hits both alike). Target ratio <= 1.10.

Prints figures; asserts nothing. Usage: python benchmarks/grading_overhead.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "mnist_cnn"
SUBMISSION = ROOT / "grader_tests" / "submissions" / "passes_all.ipynb"


def make_course(path: Path) -> Path:
    path.mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", path)
    shutil.copytree(ROOT / "source", path / "source")
    shutil.copytree(ROOT / "release", path / "release")
    target = path / "submitted" / "reference" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    target.parent.mkdir(parents=True)
    shutil.copy(SUBMISSION, target)
    return path


def time_bare(workdir: Path) -> float:
    from course.execute import execute_notebook

    notebook = workdir / f"{ASSIGNMENT}.ipynb"
    shutil.copy(SUBMISSION, notebook)
    started = time.perf_counter()
    execute_notebook(notebook)
    return time.perf_counter() - started


def time_grade(course: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "course", "grade", ASSIGNMENT, "--student", "reference"], cwd=course, check=True, capture_output=True)
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if os.environ.get("MNIST_PATH"):
        os.environ["MNIST_PATH"] = str(Path(os.environ["MNIST_PATH"]).resolve())
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    bare, graded = [], []
    with tempfile.TemporaryDirectory() as tmp:
        course = make_course(Path(tmp) / "course")
        (Path(tmp) / "bare").mkdir()
        subprocess.run([sys.executable, "-m", "course", "release", ASSIGNMENT], cwd=course, check=True, capture_output=True)
        for round_number in range(1, args.rounds + 1):
            bare.append(time_bare(Path(tmp) / "bare"))
            graded.append(time_grade(course))
            print(f"round {round_number}: bare nbclient {bare[-1]:.1f} s, course grade {graded[-1]:.1f} s", flush=True)
    print(f"cores: {os.cpu_count()}")
    print(f"bare nbclient: mean {sum(bare) / len(bare):.1f} s;  course grade: mean {sum(graded) / len(graded):.1f} s")
    print(f"ratio course grade / bare nbclient: {sum(graded) / sum(bare):.3f}   target <= 1.10")


if __name__ == "__main__":
    main()
