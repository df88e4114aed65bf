"""`course export`: one CSV row per student and assignment, read from the gradebook (the source of truth)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
from nbgrader.api import Gradebook, MissingEntry
from rich.console import Console

from .coursedir import CourseError, course_root, nbgrader_api
from .grade import disagreements, stopped_reason

DEFAULT_OUTPUT = "grades.csv"


def grade_table(db_url: str, course_id: str, assignment: str | None = None, source_dir: Path | None = None,
                autograded_dir: Path | None = None) -> pd.DataFrame:
    """Rows: student, assignment, total, max_score, flags, then one column per test cell (its grade_id)."""
    rows = []
    with Gradebook(db_url, course_id) as gradebook:
        assignments = [gradebook.find_assignment(assignment)] if assignment else gradebook.assignments
        for entry in assignments:
            for submission in entry.submissions:
                row = {
                    "student": submission.student.id,
                    "assignment": entry.name,
                    "total": submission.score,
                    "max_score": submission.max_score,
                    "flags": flags(autograded_dir / submission.student.id / entry.name) if autograded_dir else "",
                }
                for notebook in submission.notebooks:
                    row.update({grade.name: grade.score for grade in notebook.grades})
                rows.append(row)
    if not rows:
        return pd.DataFrame(rows)
    table = pd.DataFrame(rows).sort_values(["assignment", "student"]).reset_index(drop=True)
    fixed = ["student", "assignment", "total", "max_score", "flags"]
    test_cells = [column for column in cell_order(source_dir) if column in table] if source_dir else []
    return table[fixed + test_cells + sorted(set(table.columns) - set(fixed) - set(test_cells))]


def flags(autograded_dir: Path) -> str:
    """What grading noticed about a submission: verification overruling the kernel, or a run that stopped early."""
    notes = []
    overruled = disagreements(autograded_dir)
    if overruled:
        notes.append(f"verification disagreed with the kernel on {', '.join(overruled)}")
    stopped = stopped_reason(autograded_dir) if autograded_dir.is_dir() else None
    if stopped:
        notes.append(f"stopped early: {stopped}")
    return "; ".join(notes)


def cell_order(source_dir: Path) -> list[str]:
    """Test cells in notebook order, so the CSV columns read like the assignment."""
    order = []
    for path in sorted(source_dir.glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if cell.metadata.get("nbgrader", {}).get("grade") and grade_id not in order:
                order.append(grade_id)
    return order


def main(assignment: str | None = None, output: str | Path = DEFAULT_OUTPUT, root: Path | None = None, console: Console | None = None) -> pd.DataFrame:
    console = console or Console()
    root = course_root(root)
    api = nbgrader_api(root)
    try:
        table = grade_table(api.coursedir.db_url, api.coursedir.course_id, assignment, root / "source", root / "autograded")
    except MissingEntry:
        raise CourseError(f"The gradebook has no assignment '{assignment}': run `course grade {assignment}` first.") from None
    if table.empty:
        raise CourseError("The gradebook has no graded submissions yet: run `course grade ASSIGNMENT` first.")
    output = Path(output)
    output = output if output.is_absolute() else Path.cwd() / output
    table.to_csv(output, index=False)
    console.print(f"Wrote {len(table)} row(s) to {output}")
    return table
