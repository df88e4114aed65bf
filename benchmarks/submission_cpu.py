"""CPU-seconds per perfect submission, all processes counted, split by role.

`course grade --workers 1` grades K copies of the reference submission in a child process; every process of its
tree is sampled every 0.1 s (psutil), and each process's last CPU time (user + system) is counted once, under its
role: the kernel, the harness, the verifier, the Dask workers (with their sandbox launchers), the coordinator
(the `course grade` process, its start included). Anchor, in the same run: plain `nbgrader autograde` of the same
submissions (its own pipeline, no sandbox, no verification), sampled the same way.

Each way also grades one submission alone: the difference is what one more submission costs, the run's start-up
(the coordinator's imports, nbgrader's database migration, the Dask worker, the warm verifier) cancelled out; that
is the figure a class of a thousand pays per student (printed with the start-up spread over the class too).

The machine's speed drifts by a tenth or more within an hour (docs/benchmarks.md), so ``--rounds R`` measures both
ways R times, alternating which goes first, and prints every round's figures, then their medians.

Prints figures; asserts nothing. Usage: python benchmarks/submission_cpu.py [--submissions 3] [--rounds 1]
The last line reads `cpu: X CPU-s per perfect submission (course grade), Y (plain nbgrader); one more: X1, Y1`
(medians over the rounds).
Target: <= 25.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from grading_throughput import ASSIGNMENT, make_course  # noqa: E402

from course.sandboxed.kernel_launcher import HARNESS_NAME  # noqa: E402

ROLES = (
    ("kernel", "ipykernel"),
    ("kernel", "course.sandboxed.kernel_launcher"),  # and its forked kernel; the harness it forks is named
    ("verifier", "course.grading.verify"),
    ("sandbox launcher", "course.grading.sandbox"),
    ("Dask worker", "distributed"),
    ("Dask worker", "multiprocessing"),
)


WARM_VERIFIER = ["-I", "-m", "course.grading.verify", "--serve"]  # its forked children are counted in it, as they end
CLASS_SIZE = 1000  # students in the class the issue plans for (issue 20)


def is_warm_verifier(process: psutil.Process) -> bool:
    """The warm verifier itself or one of its forked children (not the sandbox launcher or bwrap naming it)."""
    return process.cmdline()[1:5] == WARM_VERIFIER


def role(process: psutil.Process, coordinator: int) -> str | None:
    """The role ``process`` is counted under; None for a warm verifier's child (counted in the warm verifier)."""
    if process.pid == coordinator:
        return "coordinator"
    try:
        command = " ".join(process.cmdline())
        if is_warm_verifier(process) and process.parent().cmdline() == process.cmdline():  # forked: the same command
            return None
    except (psutil.Error, AttributeError):
        return "other"
    for name, marker in ROLES:
        if marker in command:
            return name
    return "other" if "bwrap" not in command else "sandbox launcher"


def sampled_cpu(command: list[str], cwd: Path, env: dict) -> tuple[float, dict[str, float], int]:
    """(wall seconds, CPU-seconds by role, exit status) of ``command`` and every process it starts."""
    last: dict[int, tuple[str, float]] = {}
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root = psutil.Process(process.pid)
    done = threading.Event()

    def sample():
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
            except psutil.Error:
                tree = []
            for member in tree:
                try:
                    times = member.cpu_times()
                    name = last[member.pid][0] if member.pid in last else role(member, process.pid)
                    if name == "kernel" and member.name() == HARNESS_NAME:  # named just after the launcher forks it
                        name = "harness"
                    seconds = times.user + times.system
                    if is_warm_verifier(member):  # with its children that have ended
                        seconds += times.children_user + times.children_system
                    last[member.pid] = (name, seconds)
                except psutil.Error:
                    pass
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    started = time.perf_counter()
    sampler.start()
    status = process.wait()
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    by_role: dict[str, float] = defaultdict(float)
    for name, seconds in last.values():
        if name is not None:
            by_role[name] += seconds
    return wall, dict(by_role), status


def graded(tmp: Path, count: int, plain: bool, env: dict) -> tuple[float, dict[str, float]]:
    """(wall seconds, CPU-seconds by role) of grading ``count`` perfect submissions one way, in a new course."""
    course = make_course(tmp / f"{'plain' if plain else 'course'}-{count}", count, plain=plain)
    if plain:
        subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force"], cwd=course,
                       env=env, check=True, capture_output=True)
        command = [sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force"]
    else:
        command = [sys.executable, "-m", "course", "grade", ASSIGNMENT, "--workers", "1"]
    wall, by_role, status = sampled_cpu(command, course, env)
    if status != 0:
        raise SystemExit(f"{' '.join(command[2:4])} exited {status}")
    return wall, by_role


def one_round(tmp: Path, count: int, env: dict, plain_first: bool) -> dict:
    """One round: each way grades ``count`` submissions and one alone (the plain way first if ``plain_first``)."""
    figures = {}
    for plain in (True, False) if plain_first else (False, True):
        (wall, by_role), (_, alone) = graded(tmp, count, plain, env), graded(tmp, 1, plain, env)
        figures["plain" if plain else "course"] = (wall, by_role, alone)
    return figures


class Headline(NamedTuple):
    """One round's figures of the last lines, in CPU-seconds."""

    per_submission: float
    plain_per_submission: float
    one_more: float
    plain_one_more: float


def report_round(figures: dict, count: int) -> Headline:
    """Print one round's split; return its headline figures."""
    wall, ours, ours_one = figures["course"]
    plain_wall, plain, plain_one = figures["plain"]
    total, plain_total = sum(ours.values()), sum(plain.values())
    # what one more student costs: the run's start-up (the coordinator's imports, nbgrader's database migration,
    # the Dask worker, the warm verifier's TensorFlow) is in both runs and cancels out
    each = (total - sum(ours_one.values())) / (count - 1)
    plain_each = (plain_total - sum(plain_one.values())) / (count - 1)
    print(f"course grade --workers 1, {count} perfect submissions: {wall:.1f} s wall, {total:.1f} CPU-s")
    print(f"  {'role':18s} {'per submission':>15s} {'one more':>9s}")
    for name, seconds in sorted(ours.items(), key=lambda item: -item[1]):
        more = (seconds - ours_one.get(name, 0.0)) / (count - 1)
        print(f"  {name:18s} {seconds / count:15.2f} {more:9.2f}")
    print(f"plain nbgrader autograde: {plain_wall:.1f} s wall, {plain_total:.1f} CPU-s; "
          f"course grade / plain: {total / plain_total:.2f}")
    print(f"one more submission: course grade {each:.1f} CPU-s, plain nbgrader {plain_each:.1f}; "
          f"course grade / plain: {each / plain_each:.2f}")
    # a class pays the start-up once: spread over a thousand students it all but vanishes
    start_up = sum(ours_one.values()) - each
    print(f"start-up: {start_up:.1f} CPU-s once per run; a class of {CLASS_SIZE:,}: "
          f"{each + start_up / CLASS_SIZE:.2f} CPU-s per submission, all processes counted")
    return Headline(total / count, plain_total / count, each, plain_each)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1, help="measure both ways this many times, alternating which "
                        "goes first; the last line gives medians")
    args = parser.parse_args()
    count = args.submissions
    if count < 2:
        parser.error("--submissions must be at least 2: one is graded alone too, to tell the start-up from each "
                     "submission's own")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    env = {**os.environ, "MNIST_PATH": os.environ.get("MNIST_PATH", str(ROOT.parent / "shared" / "data" / "mnist.npz")),
           # nbgrader runs the `alembic` of its environment, which is not on PATH when the venv is not activated
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    rounds = []
    for index in range(args.rounds):
        if args.rounds > 1:
            print(f"round {index + 1} of {args.rounds}, {time.strftime('%H:%M')}", flush=True)
        with tempfile.TemporaryDirectory(prefix="submission-cpu-") as tmp:
            # alternating which way goes first: the machine's drift during a round falls on both ways in turn
            figures = one_round(Path(tmp), count, env, plain_first=index % 2 == 1)
        rounds.append(report_round(figures, count))
    print_medians(rounds)


def print_medians(rounds: list[Headline]) -> None:
    """The last lines: each round's one more, then the medians over the rounds (one round: its own figures)."""
    median = Headline(*(statistics.median(values) for values in zip(*rounds)))
    if len(rounds) > 1:
        ours = ", ".join(f"{headline.one_more:.1f}" for headline in rounds)
        plain = ", ".join(f"{headline.plain_one_more:.1f}" for headline in rounds)
        ratios = ", ".join(f"{headline.one_more / headline.plain_one_more:.2f}" for headline in rounds)
        print(f"one more submission over {len(rounds)} rounds: course grade {ours} CPU-s; plain nbgrader {plain}; "
              f"course grade / plain {ratios}")
    print(f"cpu: {median.per_submission:.1f} CPU-s per perfect submission (course grade), "
          f"{median.plain_per_submission:.1f} (plain nbgrader); one more: {median.one_more:.1f}, "
          f"{median.plain_one_more:.1f}" + (" (medians)" if len(rounds) > 1 else ""))


if __name__ == "__main__":
    main()
