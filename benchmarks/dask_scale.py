"""Dask at class scale: N students through a real scheduler with local workers and an instant executor.

1. The scheduler's overhead per task: `course grade` with --workers local Dask workers against the same run with
   the executor called in-process (no Dask), side by side.
2. A worker killed, then Ctrl-C, mid-run; the same command run again, and once more. Checked from the console and
   the gradebook: nothing lost (every student graded once the resume ends), nothing graded twice (no student
   graded by both runs), and the resume idempotent (the third run grades no one).

Prints figures; asserts nothing (exits 1 when a check fails). Usage: python benchmarks/dask_scale.py --students 1000
The last line reads `dask: N tasks, X ms overhead per task; kill and Ctrl-C: nothing lost, nothing graded twice`.
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from coordinator_scale import ASSIGNMENT, make_course  # noqa: E402
from instant import InstantCluster, instant_outcome  # noqa: E402
from course import grade  # noqa: E402
from course.grading.cluster import GradingCluster  # noqa: E402

LINE = re.compile(r"^(student\d+): (.*)$")


def child(course: Path, workers: int, coordinators: int) -> None:
    """`course grade` on Dask workers with the instant executor, its console on stdout (run by the parent)."""
    console = Console(file=sys.stdout, width=300, force_terminal=False)
    try:
        grade.main(ASSIGNMENT, root=course, console=console, workers=workers, coordinators=coordinators,
                   cluster_factory=functools.partial(GradingCluster, task=instant_outcome))
    except KeyboardInterrupt:
        sys.exit(130)


def start_child(course: Path, workers: int, coordinators: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-W", "ignore", __file__, "--child", str(course), "--workers", str(workers),
                             "--coordinators", str(coordinators)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def dask_workers(process: subprocess.Popen) -> list[psutil.Process]:
    """The run's Dask worker processes: those holding a folder of Dask's scratch space (not the coordinators)."""
    found = []
    for member in psutil.Process(process.pid).children(recursive=True):
        try:
            if any("dask-scratch-space" in file.path for file in member.open_files()):
                found.append(member)
        except psutil.Error:
            pass
    return found


def run(course: Path, workers: int, coordinators: int, kill_at: int | None = None,
        interrupt_at: int | None = None) -> tuple[dict[str, str], list[str]]:
    """({student: what the run's console said of them}, what was done to the run); kills a Dask worker after
    ``kill_at`` students, Ctrl-C after ``interrupt_at``."""
    process = start_child(course, workers, coordinators)
    said: dict[str, str] = {}
    events: list[str] = []
    for line in process.stdout:
        match = LINE.match(line.strip())
        if not match:
            continue
        seen = len(said)
        said[match.group(1)] = match.group(2)
        if len(said) == seen:
            continue
        if kill_at is not None and len(said) == kill_at:
            victims = dask_workers(process)
            if victims:
                victims[0].kill()
                events.append(f"killed Dask worker {victims[0].pid} after {len(said)} students")
            else:
                events.append("no Dask worker found to kill")
        if interrupt_at is not None and len(said) == interrupt_at:
            process.send_signal(signal.SIGINT)
            events.append(f"Ctrl-C after {len(said)} students")
    process.wait()
    for event in events:
        print(f"  {event}", flush=True)
    return said, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4, help="local Dask workers")
    parser.add_argument("--coordinators", type=int, default=2, help="coordinator processes (course grade --coordinators)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("MNIST_PATH", str(ROOT.parent / "shared" / "data" / "mnist.npz"))
    if args.child:
        return child(args.child, args.workers, args.coordinators)
    count = args.students
    failures = []
    with tempfile.TemporaryDirectory(prefix="dask-scale-") as tmp:
        tmp = Path(tmp)
        started = time.perf_counter()
        grade.main(ASSIGNMENT, root=make_course(tmp / "inprocess", count), console=Console(file=io.StringIO()),
                   workers=args.workers, cluster_factory=InstantCluster)
        in_process = time.perf_counter() - started
        started = time.perf_counter()
        said, _ = run(make_course(tmp / "dask", count), args.workers, 1)
        through_dask = time.perf_counter() - started
        overhead_ms = (through_dask - in_process) / count * 1000
        print(f"{count} students, {args.workers} local Dask workers, 1 coordinator: {through_dask:.1f} s (process and worker start included), "
              f"in-process executor {in_process:.1f} s: {overhead_ms:+.1f} ms per task", flush=True)
        if sum("21/21" in text for text in said.values()) != count:
            failures.append("the uninterrupted run did not grade every student")

        course = make_course(tmp / "interrupted", count)
        print(f"  {args.coordinators} coordinators, {args.workers} Dask workers:", flush=True)
        first, _ = run(course, args.workers, args.coordinators, kill_at=count // 3, interrupt_at=2 * count // 3)
        graded_first = {student for student, text in first.items() if "21/21" in text}
        second, _ = run(course, args.workers, args.coordinators)
        graded_second = {student for student, text in second.items() if "21/21" in text and "unchanged" not in text}
        kept_second = {student for student, text in second.items() if "unchanged since graded" in text}
        third, _ = run(course, args.workers, args.coordinators)
        graded_third = {student for student, text in third.items() if "unchanged" not in text}
        everyone = {f"student{index:04d}" for index in range(count)}
        print(f"  run 1 (worker killed, then Ctrl-C): {len(graded_first)} graded; run 2: {len(graded_second)} graded, "
              f"{len(kept_second)} kept; run 3: {len(graded_third)} graded", flush=True)
        if graded_first & graded_second:
            failures.append(f"{len(graded_first & graded_second)} students graded by both runs")
        if graded_first | graded_second != everyone:
            failures.append(f"{len(everyone - graded_first - graded_second)} students never graded")
        if kept_second != graded_first:
            failures.append("the resume did not keep exactly the first run's grades")
        if graded_third:
            failures.append(f"the third run graded {len(graded_third)} students again")
    verdict = "nothing lost, nothing graded twice, resume idempotent" if not failures else "; ".join(failures)
    print(f"dask: {count} tasks, {overhead_ms:.1f} ms overhead per task; kill and Ctrl-C: {verdict}")
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
