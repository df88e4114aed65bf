"""Class-grading throughput: K copies of the reference submission graded three ways, side by side in one run.

- plain nbgrader: `nbgrader autograde` with nbgrader's own pipeline (no sandbox, no verification), one at a time;
- `course grade --workers 1`;
- `course grade --workers 2`.
Also: per-submission overhead of `course grade --workers 1` against a bare nbclient run of the same notebook,
and the peak memory of a worker (its process with the kernel, harness and verifier it started), as recorded by
`course grade` in autograded/<student>/<assignment>/.course-graded.json.

Prints figures; asserts nothing. Usage: python benchmarks/grading_throughput.py [--submissions 4]
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

from course.data import make_mnist_path_absolute

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


def make_course(path: Path, students: int, plain: bool) -> Path:
    path.mkdir(parents=True)
    if plain:
        (path / "nbgrader_config.py").write_text(PLAIN_NBGRADER_CONFIG.format(root=str(path)))
    else:
        shutil.copy(ROOT / "nbgrader_config.py", path)
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


def time_bare(workdir: Path) -> float:
    from course.execute import execute_notebook

    notebook = workdir / f"{ASSIGNMENT}.ipynb"
    shutil.copy(SUBMISSION, notebook)
    started = time.perf_counter()
    execute_notebook(notebook)
    return time.perf_counter() - started


def executions(course: Path) -> list[dict]:
    return [
        execution
        for marker in sorted((course / "autograded").glob(f"*/{ASSIGNMENT}/.course-graded.json"))
        for execution in json.loads(marker.read_text())["executions"]
    ]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--submissions", type=int, default=4)
    args = parser.parse_args()
    count = args.submissions
    make_mnist_path_absolute()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    python = sys.executable
    # nbgrader runs its environment's `alembic`, which is on PATH only when the virtualenv is activated
    os.environ["PATH"] = os.path.dirname(python) + os.pathsep + os.environ.get("PATH", "")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        plain = make_course(tmp / "plain", count, plain=True)
        one, two = make_course(tmp / "workers1", count, plain=False), make_course(tmp / "workers2", count, plain=False)
        (tmp / "bare").mkdir()
        subprocess.run([python, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force"], cwd=plain, check=True, capture_output=True)
        for course in (one, two):
            subprocess.run([python, "-m", "course", "release", ASSIGNMENT], cwd=course, check=True, capture_output=True)

        bare = [time_bare(tmp / "bare")]
        print(f"bare nbclient, one notebook: {bare[-1]:.1f} s", flush=True)
        seconds = {}
        seconds["plain"] = timed([python, "-m", "nbgrader", "autograde", ASSIGNMENT], plain)
        print(f"plain nbgrader autograde, {count} submissions: {seconds['plain']:.1f} s", flush=True)
        seconds["workers1"] = timed([python, "-m", "course", "grade", ASSIGNMENT, "--workers", "1"], one)
        print(f"course grade --workers 1, {count} submissions: {seconds['workers1']:.1f} s", flush=True)
        seconds["workers2"] = timed([python, "-m", "course", "grade", ASSIGNMENT, "--workers", "2"], two)
        print(f"course grade --workers 2, {count} submissions: {seconds['workers2']:.1f} s", flush=True)
        bare.append(time_bare(tmp / "bare"))
        print(f"bare nbclient, one notebook: {bare[-1]:.1f} s", flush=True)
        peak_one = max(execution["peak_memory_bytes"] for execution in executions(one))
        peak_two = max(execution["peak_memory_bytes"] for execution in executions(two))

    per_hour = {way: 3600 * count / value for way, value in seconds.items()}
    bare_mean = sum(bare) / len(bare)
    print(f"\ncores: {os.cpu_count()}; submissions: {count} (copies of {SUBMISSION.name})")
    print(f"throughput (submissions/hour): plain nbgrader {per_hour['plain']:.0f}, --workers 1 {per_hour['workers1']:.0f}, "
          f"--workers 2 {per_hour['workers2']:.0f}")
    print(f"ratio --workers 2 / plain nbgrader: {per_hour['workers2'] / per_hour['plain']:.2f}   target >= 1.7")
    print(f"ratio --workers 1 / plain nbgrader: {per_hour['workers1'] / per_hour['plain']:.2f}")
    print(f"per-submission overhead, --workers 1 ({seconds['workers1'] / count:.1f} s) / bare nbclient ({bare_mean:.1f} s): "
          f"{seconds['workers1'] / count / bare_mean:.3f}   target <= 1.10")
    print(f"peak memory per worker (process + kernel + harness + verifier): --workers 1 {peak_one / 2**30:.2f} GiB, "
          f"--workers 2 {peak_two / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
