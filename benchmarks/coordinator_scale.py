"""The coordinator's serial cost per student: `course grade` on N synthetic students whose execution is instant.

Everything `course grade` does but run notebooks: staging, locks, nbgrader's autograde steps (sanitizing, the
pipeline, SaveAutoGrades, late penalties), gradebook writes, resume markers and console lines. The executor
returns at once the submitted notebook as if executed, every test passed. Its seconds per student bound a class
however many workers grade it (Amdahl).

Measured, side by side in one run:
- with SQLite (the default gradebook) and with a PostgreSQL server (Debian's, started on loopback);
- the same students through a real Dask scheduler with --dask-workers local workers and the instant task:
  the scheduler's overhead per task;
- the resume pass (every student unchanged: nothing graded again);
- anchor: plain `nbgrader autograde` of the same students with its execution step removed, in one process.

Prints figures; asserts nothing. Usage: python benchmarks/coordinator_scale.py --students 1000
The last line reads `coordinator: N students, X s per student` (SQLite, in-process executor). Target: <= 0.1 s.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "grader_tests"))

from course import grade  # noqa: E402
from course.grading.cluster import GradingCluster  # noqa: E402
from course.grading.worker import Job, Outcome  # noqa: E402

ASSIGNMENT = "mnist_cnn"
SUBMISSION = ROOT / "grader_tests" / "submissions" / "passes_all.ipynb"


def instant_outcome(job: Job) -> Outcome:
    """What a worker returns for a perfect submission, without running it: the notebook as sent, every test passed."""
    import nbformat

    from course.spec import load

    notebook = nbformat.reads(job.notebook, as_version=4)
    graded = [cell.metadata["nbgrader"]["grade_id"] for cell in notebook.cells
              if cell.metadata.get("nbgrader", {}).get("grade") and not cell.metadata["nbgrader"].get("solution")]
    functions = {test.grade_id: test.on for test in load(job.assignment).tests}
    record = {"verdicts": {grade_id: {"passed": True, "message": "", "function": functions.get(grade_id)} for grade_id in graded},
              "executed": graded, "stopped": None, "sandboxed": True}
    return Outcome(job.job_id, nbformat.writes(notebook), record, "instant", 0.0, 0)


class InstantCluster(GradingCluster):
    """The coordinator's side of a GradingCluster, with no workers: each job is done in the calling thread, at once."""

    def _connect(self) -> None:
        pass

    def _slots_per_host(self) -> dict[str, int]:
        return {"local": self.workers}

    def describe(self) -> str:
        return f"{self.workers} instant executor(s), no workers"

    def run(self, job: Job) -> Outcome:
        return instant_outcome(job)


def make_course(path: Path, students: int, db_url: str | None = None) -> Path:
    path.mkdir(parents=True)
    config = (ROOT / "nbgrader_config.py").read_text()
    if db_url:
        config += f"\nc.CourseDirectory.db_url = {db_url!r}\n"
    (path / "nbgrader_config.py").write_text(config)
    shutil.copytree(ROOT / "source", path / "source")
    shutil.copytree(ROOT / "release", path / "release")
    for index in range(students):
        target = path / "submitted" / f"student{index:04d}" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        target.parent.mkdir(parents=True)
        shutil.copy(SUBMISSION, target)
    return path


def timed_grade(course: Path, cluster_factory, workers: int) -> tuple[float, list]:
    console = Console(file=io.StringIO(), width=200)
    started = time.perf_counter()
    results = grade.main(ASSIGNMENT, root=course, console=console, workers=workers, cluster_factory=cluster_factory)
    return time.perf_counter() - started, results


def check(results: list, students: int, label: str) -> None:
    graded = [result for result in results if result.graded and result.score == result.max_score]
    if len(graded) != students:
        raise SystemExit(f"{label}: only {len(graded)} of {students} students graded with full marks")


def plain_nbgrader(course: Path) -> float:
    """`nbgrader autograde` of every student, its Execute step removed (no kernel), in one process."""
    config = course / "nbgrader_config.py"
    config.write_text(config.read_text() + "\nc.Autograde.autograde_preprocessors = [p for p in "
                      "c.Autograde.autograde_preprocessors if p.__name__ != 'ExecuteOnWorker']\n")
    from course.coursedir import nbgrader_api

    api = nbgrader_api(course)
    grade.ensure_in_gradebook(api, ASSIGNMENT)
    started = time.perf_counter()
    result = api.autograde(ASSIGNMENT, "*", force=True, create=True)
    seconds = time.perf_counter() - started
    if not result["success"]:
        raise SystemExit(f"plain nbgrader failed: {result['error']}\n{result.get('log', '')[-3000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2, help="submissions the coordinator grades at once")
    parser.add_argument("--dask-workers", type=int, default=4, help="local Dask workers for the scheduler's figure (0: skip)")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL figure")
    args = parser.parse_args()
    students = args.students
    os.environ.setdefault("MNIST_PATH", str(ROOT.parent / "shared" / "data" / "mnist.npz"))

    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="coordinator-scale-") as tmp:
        tmp = Path(tmp)
        course = make_course(tmp / "sqlite", students)
        print(f"{students} students, {args.workers} at once, instant executor", flush=True)
        seconds, results = timed_grade(course, InstantCluster, args.workers)
        check(results, students, "sqlite")
        figures["sqlite"] = seconds
        print(f"  SQLite: {seconds:.1f} s, {seconds / students:.3f} s per student, {students / seconds:.1f} students/s", flush=True)

        seconds, results = timed_grade(course, InstantCluster, args.workers)
        unchanged = sum(result.unchanged for result in results)
        print(f"  resume pass (SQLite, {unchanged} of {students} unchanged): {seconds:.1f} s, {seconds / students * 1000:.1f} ms per student", flush=True)

        if not args.no_postgres:
            from postgres import postgres_server

            with postgres_server() as url:
                course = make_course(tmp / "postgres", students, db_url=url)
                seconds, results = timed_grade(course, InstantCluster, args.workers)
                check(results, students, "postgresql")
                figures["postgres"] = seconds
                print(f"  PostgreSQL: {seconds:.1f} s, {seconds / students:.3f} s per student, {students / seconds:.1f} students/s", flush=True)

        if args.dask_workers:
            course = make_course(tmp / "dask", students)
            factory = functools.partial(GradingCluster, task=instant_outcome)
            seconds, results = timed_grade(course, factory, args.dask_workers)
            check(results, students, "dask")
            figures["dask"] = seconds
            print(f"  Dask, {args.dask_workers} local workers (worker start included): {seconds:.1f} s, {seconds / students:.3f} s per student; "
                  f"the scheduler's overhead per task: {(seconds - figures['sqlite']) / students * 1000:+.1f} ms over in-process", flush=True)

        course = make_course(tmp / "plain", students)
        seconds = plain_nbgrader(course)
        figures["plain"] = seconds
        print(f"  anchor, plain nbgrader autograde without execution: {seconds:.1f} s, {seconds / students:.3f} s per student; "
              f"course grade / plain: {figures['sqlite'] / seconds:.2f}", flush=True)

    print(json.dumps({key: round(value / students, 4) for key, value in figures.items()}))
    print(f"coordinator: {students} students, {figures['sqlite'] / students:.3f} s per student")


if __name__ == "__main__":
    main()
