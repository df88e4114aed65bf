"""Wall time of `course grade` on one reference submission against executing the same notebook bare with
nbclient, side by side in one run (interleaved, so machine load hits all alike). Target ratio <= 1.10.

Three grading set-ups are timed: the course's own (sandboxed kernel, verification outside it); the same with
Keras' own one batch per compiled call in the kernel (``keras_steps_per_execution = 1``), which does the bare
run's training work and so shows what grading itself adds; and nbgrader's pipeline as configured here without
the sandbox and the verification, to show what those cost. The bare run is
timed twice: with TensorFlow's default threads (the target's baseline: the notebook as anyone would run it), and
with the threads `course grade` gives its kernel, so that what the grading itself costs shows on its own.

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

from course.student.data import make_mnist_path_absolute
from course.grading.worker import kernel_threads
from measure import KERAS_DEFAULT_STEPS_CONFIG, time_bare_nbclient

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "mnist_cnn"
SUBMISSION = ROOT / "grader_tests" / "submissions" / "passes_all.ipynb"


UNVERIFIED_CONFIG = """
from nbgrader.preprocessors import Execute
c.Autograde.autograde_preprocessors = [Execute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
                                       StderrDoesNotScore, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
"""


def make_course(path: Path, extra_config: str = "") -> Path:
    path.mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", path)
    shutil.copytree(ROOT / "source", path / "source")
    shutil.copytree(ROOT / "release", path / "release")
    with open(path / "nbgrader_config.py", "a") as config:
        config.write(extra_config)
    target = path / "submitted" / "reference" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    target.parent.mkdir(parents=True)
    shutil.copy(SUBMISSION, target)
    return path


def time_grade(course: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "course", "grade", ASSIGNMENT, "--student", "reference"], cwd=course, check=True, capture_output=True)
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    make_mnist_path_absolute()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    bare, bare_same_threads, graded, graded_keras_default, unverified = [], [], [], [], []
    threads = kernel_threads(os.cpu_count() or 1, 1)
    with tempfile.TemporaryDirectory() as tmp:
        course = make_course(Path(tmp) / "course")
        plain = make_course(Path(tmp) / "plain", UNVERIFIED_CONFIG)
        keras_default = make_course(Path(tmp) / "keras_default", KERAS_DEFAULT_STEPS_CONFIG)
        (Path(tmp) / "bare").mkdir()
        for folder in (course, plain, keras_default):
            subprocess.run([sys.executable, "-m", "course", "release", ASSIGNMENT], cwd=folder, check=True, capture_output=True)
        for round_number in range(1, args.rounds + 1):
            bare.append(time_bare_nbclient(SUBMISSION, Path(tmp) / "bare"))
            graded.append(time_grade(course))
            bare_same_threads.append(time_bare_nbclient(SUBMISSION, Path(tmp) / "bare", tf_threads=threads))
            unverified.append(time_grade(plain))
            graded_keras_default.append(time_grade(keras_default))
            print(f"round {round_number}: bare nbclient {bare[-1]:.1f} s, course grade {graded[-1]:.1f} s, "
                  f"course grade with Keras' default steps per execution {graded_keras_default[-1]:.1f} s, "
                  f"bare nbclient with {threads} TensorFlow thread(s) {bare_same_threads[-1]:.1f} s, "
                  f"course grade without sandbox and verification {unverified[-1]:.1f} s", flush=True)
    mean = lambda values: sum(values) / len(values)  # noqa: E731
    print(f"cores: {os.cpu_count()}; course grade gives its kernel {threads} TensorFlow intra-op thread(s)")
    print(f"bare nbclient {mean(bare):.1f} s (TensorFlow's default threads), {mean(bare_same_threads):.1f} s ({threads} thread(s)); "
          f"course grade {mean(graded):.1f} s; with Keras' default steps per execution {mean(graded_keras_default):.1f} s; "
          f"without sandbox and verification {mean(unverified):.1f} s")
    print(f"ratio course grade / bare nbclient: {sum(graded) / sum(bare):.3f}   target <= 1.10")
    print(f"ratio course grade / bare nbclient with the same threads: {sum(graded) / sum(bare_same_threads):.3f}")
    print(f"ratio course grade with Keras' default steps per execution (the bare run's training work) / bare nbclient: "
          f"{sum(graded_keras_default) / sum(bare):.3f}; / bare with the same threads: {sum(graded_keras_default) / sum(bare_same_threads):.3f}")
    print(f"ratio without sandbox and verification / bare nbclient: {sum(unverified) / sum(bare):.3f}")


if __name__ == "__main__":
    main()
