"""`course grade --reverify` on a class: new verdicts for N students from their stored runs, no notebook run.

One reference submission is graded for real (its run stored as evidence); N students then hold the same
submission and a copy of that stored run, and the whole class is re-verified with `--workers` batch verifiers.
Anchor, in the same run: the real grade of the one submission (what a regrade without stored runs costs each).

Prints figures; asserts nothing. Usage: python benchmarks/reverify_scale.py --students 1000 [--workers 2]
The last line reads `reverify: N students, X s per student, 1000 in M min`. Target on 2 cores: 1,000 in <= 10 min.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from coordinator_scale import ASSIGNMENT, make_course  # noqa: E402
from course import grade  # noqa: E402
from course.grading.evidence import path_for  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2, help="batch verifiers at once (and students graded at once)")
    parser.add_argument("--coordinators", type=int, default=2, help="processes running nbgrader's steps (course grade --coordinators)")
    args = parser.parse_args()
    os.environ.setdefault("MNIST_PATH", str(ROOT.parent / "shared" / "data" / "mnist.npz"))
    quiet = Console(file=io.StringIO(), width=200)

    with tempfile.TemporaryDirectory(prefix="reverify-scale-") as tmp:
        course = make_course(Path(tmp) / "course", args.students)
        first = "student0000"
        started = time.perf_counter()
        [graded] = grade.main(ASSIGNMENT, first, root=course, console=quiet, workers=1)
        full = time.perf_counter() - started
        print(f"anchor: the reference submission graded in full: {full:.1f} s ({graded.score:g}/{graded.max_score:g})", flush=True)
        stored = path_for(course, ASSIGNMENT, first, f"{ASSIGNMENT}.ipynb")
        for index in range(1, args.students):
            target = path_for(course, ASSIGNMENT, f"student{index:04d}", f"{ASSIGNMENT}.ipynb")
            target.parent.mkdir(parents=True)
            shutil.copy(stored, target)
        size = stored.stat().st_size
        print(f"stored run: {size / 1e6:.1f} MB per student, {size * args.students / 1e9:.2f} GB for {args.students}", flush=True)

        started = time.perf_counter()
        results = grade.main(ASSIGNMENT, root=course, console=quiet, workers=args.workers, reverify=True,
                             coordinators=args.coordinators)
        seconds = time.perf_counter() - started
        reverified = sum(1 for result in results if result.how and result.how.startswith("re-verified"))
        full_marks = sum(1 for result in results if result.graded and result.score == result.max_score)
        print(f"re-verified {reverified} of {args.students} ({full_marks} with full marks) with {args.workers} batch verifier(s) "
              f"and {args.coordinators} coordinator(s): "
              f"{seconds:.1f} s; against a full regrade of each on one worker: {full / (seconds / args.students):.0f}x", flush=True)
        if reverified != args.students:
            raise SystemExit(f"only {reverified} of {args.students} students were re-verified; the others were run again")
    per_student = seconds / args.students
    print(f"reverify: {args.students} students, {per_student:.3f} s per student, 1000 in {per_student * 1000 / 60:.1f} min")


if __name__ == "__main__":
    main()
