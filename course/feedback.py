"""`course feedback`: per-student HTML feedback, without hidden tests (see nbgrader_config.py).

A student's notebook is untrusted content: a million-line cell or a flood of output must not take the instructor's
machine, or stop feedback for the students after it. So each student's feedback is rendered by nbgrader in a child
process of its own, with a memory cap and a deadline (``FeedbackLimits``); a student whose feedback fails is reported
with the reason, and everyone else still gets theirs.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from .coursedir import CourseError, course_root

MEMORY_BYTES = 2 * 2**30
TIMEOUT_S = 300


@dataclass
class FeedbackResult:
    student: str
    written: list[Path]
    problem: str | None = None


def _capped():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


def render_one(root: Path, assignment: str, student: str) -> FeedbackResult:
    """nbgrader's generate_feedback for one student, in a capped child process."""
    command = [sys.executable, "-m", "nbgrader", "generate_feedback", assignment, f"--student={student}", "--force"]
    try:
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=TIMEOUT_S, preexec_fn=_capped,
                              env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"})
    except subprocess.TimeoutExpired:
        return FeedbackResult(student, [], f"rendering took longer than {TIMEOUT_S} s; the notebook is too large to render")
    written = sorted((root / "feedback" / student / assignment).glob("*.html"))
    if done.returncode != 0 or not written:
        errors = [line for line in done.stderr.splitlines() if "Error" in line or "error" in line][-1:] or ["no feedback was written"]
        reason = "out of memory" if "MemoryError" in done.stderr else errors[0].strip()[:300]
        return FeedbackResult(student, [], f"{reason} (nbgrader exit status {done.returncode})")
    return FeedbackResult(student, written)


def main(assignment: str, root: Path | None = None, console: Console | None = None, workers: int | None = None) -> list[Path]:
    console = console or Console()
    root = course_root(root)
    autograded = root / "autograded"
    students = []
    if autograded.is_dir():
        with os.scandir(autograded) as entries:
            # a dot folder is the grader's own (autograded/.evidence: stored runs); no student id starts with '.'
            students = sorted(entry.name for entry in entries
                              if entry.is_dir() and not entry.name.startswith(".") and (Path(entry.path) / assignment).is_dir())
    if not students:
        raise CourseError(f"Nothing graded for '{assignment}' yet: run `course grade {assignment}` first.")
    written, failed = [], []
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        for result in pool.map(lambda student: render_one(root, assignment, student), students):
            written += result.written
            if result.problem:
                failed.append(result)
                console.print(f"[red]no feedback[/] for {escape(result.student)}: {escape(result.problem)}")
    console.print(
        f"Feedback for {len(students) - len(failed)} of {len(students)} student(s) in "
        f"{(root / 'feedback').relative_to(root)}/<student>/{assignment}/"
    )
    if failed:
        raise CourseError(f"{len(failed)} student(s) got no feedback; the reasons are above. The others have theirs.")
    return written
