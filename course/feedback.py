"""`course feedback`: per-student HTML feedback, without hidden tests (see nbgrader_config.py)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from .coursedir import CourseError, course_root, nbgrader_api


def main(assignment: str, root: Path | None = None, console: Console | None = None) -> list[Path]:
    console = console or Console()
    root = course_root(root)
    autograded = root / "autograded"
    students = sorted(path.name for path in autograded.iterdir() if (path / assignment).is_dir()) if autograded.is_dir() else []
    if not students:
        raise CourseError(f"Nothing graded for '{assignment}' yet: run `course grade {assignment}` first.")
    api = nbgrader_api(root)
    written = []
    for student in students:
        result = api.generate_feedback(assignment, student, force=True)
        if not result["success"]:
            raise CourseError(f"nbgrader could not write feedback for {student}:\n{result['error']}\n{result['log']}")
        written += sorted((root / "feedback" / student / assignment).glob("*.html"))
    console.print(f"Feedback for {len(students)} student(s) in {(root / 'feedback').relative_to(root)}/<student>/{assignment}/")
    return written
