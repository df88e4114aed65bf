"""Class-grading throughput: K copies of the reference submission graded four ways, side by side in one run.

- plain nbgrader: `nbgrader autograde` with nbgrader's own pipeline (no sandbox, no verification), one at a time;
- `course grade --workers 1`;
- `course grade --workers 2`;
- `course grade --workers 2` with Keras' own one batch per compiled call in its kernels
  (``keras_steps_per_execution = 1``), to show what running several per call adds.
Also: per-submission overhead of `course grade --workers 1` against a bare nbclient run of the same notebook
(with TensorFlow's default threads, and with the threads `course grade` gives its kernel),
and the peak memory of a worker (its process with the kernel, harness and verifier it started), as recorded by
`course grade` in autograded/<student>/<assignment>/.course-graded.json.

Prints figures; asserts nothing. Usage: python benchmarks/grading_throughput.py [--submissions 4] [--rounds 1]
Target on 2 cores: --workers 2 at least 1.7x plain nbgrader; per-submission overhead <= 1.10.
"""

from __future__ import annotations

import argparse
import json
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

PLAIN_NBGRADER_CONFIG = """
c = get_config()
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = "plain"
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}}
c.Execute.timeout = 600  # nbgrader's 30 s default would cut the 5-epoch fit
"""


def make_course(path: Path, students: int, plain: bool, extra_config: str = "") -> Path:
    path.mkdir(parents=True)
    if plain:
        (path / "nbgrader_config.py").write_text(PLAIN_NBGRADER_CONFIG.format(root=str(path)))
    else:
        (path / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text() + extra_config)
    shutil.copytree(ROOT / "source", path / "source")
    shutil.copytree(ROOT / "release", path / "release")
    for index in range(1, students + 1):
        target = path / "submitted" / f"student{index:02d}" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        target.parent.mkdir(parents=True)
        shutil.copy(SUBMISSION, target)
    return path


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def executions(course: Path) -> list[dict]:
    return [
        execution
        for marker in sorted((course / "autograded").glob(f"*/{ASSIGNMENT}/.course-graded.json"))
        for execution in json.loads(marker.read_text())["executions"]
    ]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--submissions", type=int, default=4, help="graded by each way in each round (K)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of the four ways, one after the other")
    args = parser.parse_args()
    count = args.submissions
    make_mnist_path_absolute()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    python = sys.executable
    # nbgrader runs its environment's `alembic`, which is on PATH only when the virtualenv is activated
    os.environ["PATH"] = os.path.dirname(python) + os.pathsep + os.environ.get("PATH", "")
    grade = lambda workers: [python, "-m", "course", "grade", ASSIGNMENT, "--workers", str(workers), "--force"]  # noqa: E731
    # way -> (command, label, what its course adds to nbgrader_config.py)
    ways = {
        "plain": ([python, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force"], "plain nbgrader autograde", ""),
        "workers1": (grade(1), "course grade --workers 1", ""),
        "workers2": (grade(2), "course grade --workers 2", ""),
        "workers2_keras_default": (grade(2), "course grade --workers 2, Keras' default steps per execution", KERAS_DEFAULT_STEPS_CONFIG),
    }
    seconds = {way: 0.0 for way in ways}
    bare, bare_same_threads = [], []
    threads = kernel_threads(os.cpu_count() or 1, 1)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        courses = {way: make_course(tmp / way, count, plain=way == "plain", extra_config=extra) for way, (_, _, extra) in ways.items()}
        (tmp / "bare").mkdir()
        subprocess.run([python, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force"], cwd=courses["plain"], check=True, capture_output=True)
        for way in ways.keys() - {"plain"}:
            subprocess.run([python, "-m", "course", "release", ASSIGNMENT], cwd=courses[way], check=True, capture_output=True)
        # interleaved, so that the machine's drift (this VM slows under sustained load) hits every way alike
        for round_number in range(1, args.rounds + 1):
            bare.append(time_bare_nbclient(SUBMISSION, tmp / "bare"))
            bare_same_threads.append(time_bare_nbclient(SUBMISSION, tmp / "bare", tf_threads=threads))
            print(f"round {round_number}: bare nbclient, one notebook: {bare[-1]:.1f} s with TensorFlow's default threads, "
                  f"{bare_same_threads[-1]:.1f} s with {threads} (as `course grade --workers 1` gives its kernel)", flush=True)
            for way, (command, label, _) in ways.items():
                took = timed(command, courses[way])
                seconds[way] += took
                print(f"round {round_number}: {label}, {count} submissions: {took:.1f} s", flush=True)
        peak = {way: max(execution["peak_memory_bytes"] for execution in executions(courses[way])) for way in ("workers1", "workers2")}

    graded = count * args.rounds
    per_hour = {way: 3600 * graded / value for way, value in seconds.items()}
    bare_mean, bare_same_threads_mean = sum(bare) / len(bare), sum(bare_same_threads) / len(bare_same_threads)
    print(f"\ncores: {os.cpu_count()}; {args.rounds} rounds of {count} submissions (copies of {SUBMISSION.name})")
    print(f"throughput (submissions/hour): plain nbgrader {per_hour['plain']:.0f}, --workers 1 {per_hour['workers1']:.0f}, "
          f"--workers 2 {per_hour['workers2']:.0f}, --workers 2 with Keras' default steps per execution "
          f"{per_hour['workers2_keras_default']:.0f}")
    print(f"ratio --workers 2 / plain nbgrader: {per_hour['workers2'] / per_hour['plain']:.2f}   target >= 1.7")
    print(f"ratio --workers 2 with Keras' default steps per execution / plain nbgrader: "
          f"{per_hour['workers2_keras_default'] / per_hour['plain']:.2f}")
    print(f"ratio --workers 1 / plain nbgrader: {per_hour['workers1'] / per_hour['plain']:.2f}")
    print(f"per-submission overhead, --workers 1 ({seconds['workers1'] / graded:.1f} s) / bare nbclient ({bare_mean:.1f} s): "
          f"{seconds['workers1'] / graded / bare_mean:.3f}   target <= 1.10")
    print(f"per-submission overhead, --workers 1 / bare nbclient with the same threads ({bare_same_threads_mean:.1f} s): "
          f"{seconds['workers1'] / graded / bare_same_threads_mean:.3f}")
    print(f"peak memory per worker (its process + kernel + harness + verifier): --workers 1 {peak['workers1'] / 2**30:.2f} GiB, "
          f"--workers 2 {peak['workers2'] / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
