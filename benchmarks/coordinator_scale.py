"""The coordinator's serial cost per student: `course grade` on N synthetic students whose execution is instant.

Everything `course grade` does but run notebooks: staging, locks, nbgrader's autograde steps (sanitizing, the
pipeline, SaveAutoGrades, late penalties), gradebook writes, resume markers and console lines. The executor
returns at once the submitted notebook as if executed, every test passed. Its seconds per student bound a class
however many workers grade it (Amdahl).

Measured, side by side in one run:
- one coordinator with the executor called in-process (no Dask), then `--coordinators K` processes sharing the
  run's Dask workers, each running nbgrader's steps for its share of the class;
- with SQLite (the default gradebook) and with a PostgreSQL server (Debian's, started on loopback);
- the resume pass (every student unchanged: nothing graded again);
- anchor: `nbgrader autograde` of the same students with nbgrader's own pipelines, its Execute step removed.
benchmarks/dask_scale.py measures the scheduler's own overhead per task.

Prints figures; asserts nothing. Usage: python benchmarks/coordinator_scale.py --students 1000 [--coordinators 2]
The last line reads `coordinator: N students, X s per student` (SQLite, K coordinators). Target: <= 0.1 s.
"""

from __future__ import annotations

import argparse
import contextlib
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
from instant import InstantCluster, instant_outcome  # noqa: E402

ASSIGNMENT = "mnist_cnn"
SUBMISSION = ROOT / "grader_tests" / "submissions" / "passes_all.ipynb"


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


def timed_grade(course: Path, cluster_factory, workers: int, coordinators: int = 1) -> tuple[float, list]:
    console = Console(file=io.StringIO(), width=200)
    started = time.perf_counter()
    results = grade.main(ASSIGNMENT, root=course, console=console, workers=workers, cluster_factory=cluster_factory,
                         coordinators=coordinators)
    return time.perf_counter() - started, results


def check(results: list, students: int, label: str) -> None:
    graded = [result for result in results if result.graded and result.score == result.max_score]
    if len(graded) != students:
        raise SystemExit(f"{label}: only {len(graded)} of {students} students graded with full marks")


def plain_nbgrader(course: Path) -> float:
    """`nbgrader autograde` of every student with nbgrader's own pipelines, its Execute step removed (no kernel),
    in one process: what nbgrader itself costs per student."""
    config = course / "nbgrader_config.py"
    config.write_text(config.read_text() + PLAIN_PIPELINES)
    from course.coursedir import nbgrader_api

    api = nbgrader_api(course)
    grade.ensure_in_gradebook(api, ASSIGNMENT)
    started = time.perf_counter()
    result = api.autograde(ASSIGNMENT, "*", force=True, create=True)
    seconds = time.perf_counter() - started
    if not result["success"]:
        raise SystemExit(f"plain nbgrader failed: {result['error']}\n{result.get('log', '')[-3000:]}")
    return seconds


PLAIN_PIPELINES = """
from nbgrader.converters import Autograde as _Autograde
c.Autograde.sanitize_preprocessors = _Autograde.class_traits()["sanitize_preprocessors"].default()
c.Autograde.autograde_preprocessors = [p for p in _Autograde.class_traits()["autograde_preprocessors"].default() if p.__name__ != "Execute"]
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2, help="submissions graded at once")
    parser.add_argument("--coordinators", type=int, default=2, help="coordinator processes for the main figure")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL figures")
    parser.add_argument("--no-single-postgres", action="store_true", help="skip PostgreSQL with one coordinator (the slowest)")
    args = parser.parse_args()
    students, many = args.students, args.coordinators
    os.environ.setdefault("MNIST_PATH", str(ROOT.parent / "shared" / "data" / "mnist.npz"))
    through_dask = functools.partial(GradingCluster, task=instant_outcome)

    figures: dict[str, float] = {}

    def measure(name: str, course: Path, factory, coordinators: int, what: str) -> None:
        seconds, results = timed_grade(course, factory, args.workers, coordinators)
        check(results, students, name)
        figures[name] = seconds
        print(f"  {what}: {seconds:.1f} s, {seconds / students:.3f} s per student, {students / seconds:.1f} students/s", flush=True)

    with tempfile.TemporaryDirectory(prefix="coordinator-scale-") as tmp:
        tmp = Path(tmp)
        print(f"{students} students, {args.workers} graded at once, instant executor", flush=True)
        course = make_course(tmp / "sqlite-1", students)
        measure("sqlite, 1 coordinator", course, InstantCluster, 1, "SQLite, 1 coordinator, executor in-process")
        seconds, results = timed_grade(course, InstantCluster, args.workers, 1)
        unchanged = sum(result.unchanged for result in results)
        print(f"  resume pass (SQLite, {unchanged} of {students} unchanged): {seconds:.1f} s, {seconds / students * 1000:.1f} ms per student", flush=True)
        measure(f"sqlite, {many} coordinators", make_course(tmp / "sqlite-k", students), through_dask, many,
                f"SQLite, {many} coordinator processes, executor on {args.workers} Dask workers")
        if not args.no_postgres:
            from postgres import postgres_server

            with postgres_server() if not args.no_single_postgres else contextlib.nullcontext() as url:
                if url is not None:
                    measure("postgresql, 1 coordinator", make_course(tmp / "postgres-1", students, db_url=url), InstantCluster, 1,
                            "PostgreSQL, 1 coordinator, executor in-process")
            with postgres_server() as url:
                measure(f"postgresql, {many} coordinators", make_course(tmp / "postgres-k", students, db_url=url), through_dask,
                        many, f"PostgreSQL, {many} coordinator processes, executor on {args.workers} Dask workers")
        seconds = plain_nbgrader(make_course(tmp / "plain", students))
        figures["plain nbgrader"] = seconds
        print(f"  anchor, nbgrader autograde with its own pipelines, no execution, 1 process: {seconds:.1f} s, "
              f"{seconds / students:.3f} s per student; course grade, 1 coordinator / plain: "
              f"{figures['sqlite, 1 coordinator'] / seconds:.2f}; {many} coordinators / plain: {figures[f'sqlite, {many} coordinators'] / seconds:.2f}", flush=True)

    print(json.dumps({key: round(value / students, 4) for key, value in figures.items()}))
    print(f"coordinator: {students} students, {figures[f'sqlite, {many} coordinators'] / students:.3f} s per student")


if __name__ == "__main__":
    main()
