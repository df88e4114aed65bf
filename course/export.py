"""`course export`: one CSV row per student and assignment, read from the gradebook (the source of truth).

Every student with a folder in submitted/ gets a row, graded or not, with a `status`: "graded"; "not graded" (with
the grader's reason when autograded/<student>.<assignment>.grading-error.log exists), whose total is empty, never
0; or "refused: unsafe student id" for a folder name that `course.student_ids.id_problem` refuses (an undecodable
one is shown with its bytes escaped). submitted/ is listed with os.scandir, so no name is misread as a glob
pattern. Every cell passes through `safe_csv_cell`: no cell can start a spreadsheet formula.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pandas as pd
from nbgrader.api import Gradebook, MissingEntry
from rich.console import Console

from .coursedir import CourseError, course_root, nbgrader_api
from .csv_safety import safe_csv_cell
from .grade import disagreements, stopped_reason
from .grading.records import flags as record_flags, read_verification
from .student_ids import id_problem, visible

DEFAULT_OUTPUT = "grades.csv"
FIXED_COLUMNS = ["student", "assignment", "total", "max_score", "flags", "status"]
GRADED, NOT_GRADED, REFUSED = "graded", "not graded", "refused: unsafe student id"

__all__ = ["DEFAULT_OUTPUT", "FIXED_COLUMNS", "grade_table", "main", "safe_csv_cell", "safe_table"]


def grade_table(db_url: str, course_id: str, assignment: str | None = None, source_dir: Path | None = None,
                autograded_dir: Path | None = None, submitted_dir: Path | None = None) -> pd.DataFrame:
    """Rows: student, assignment, total, max_score, flags, status, then one column per test cell (its grade_id).

    With `submitted_dir`, every student folder there that has the assignment (or, without `assignment`, every
    assignment folder in it) gets a row, including those the gradebook lacks.
    """
    rows: dict[tuple[str, str], dict] = {}
    max_scores: dict[str, float] = {}
    missing = False
    with Gradebook(db_url, course_id) as gradebook:
        try:
            assignments = [gradebook.find_assignment(assignment)] if assignment else gradebook.assignments
        except MissingEntry:
            if not submitted_dir:
                raise
            assignments, missing = [], True
        for entry in assignments:
            max_scores[entry.name] = entry.max_score
            for submission in entry.submissions:
                student = submission.student.id
                problem = id_problem(student)
                if problem:
                    rows[(student, entry.name)] = refused_row(student, entry.name, problem)
                    continue
                row = {
                    "student": student,
                    "assignment": entry.name,
                    "total": submission.score,
                    "max_score": submission.max_score,
                    "flags": flags(autograded_dir / student / entry.name) if autograded_dir else "",
                    "status": GRADED,
                }
                for notebook in submission.notebooks:
                    row.update({grade.name: grade.score for grade in notebook.grades})
                rows[(student, entry.name)] = row
    for student, name in submitted_folders(submitted_dir, assignment) if submitted_dir else []:
        if (student, name) in rows:
            continue
        problem = id_problem(student)
        if problem:
            rows[(student, name)] = refused_row(student, name, problem)
        else:
            rows[(student, name)] = {"student": student, "assignment": name, "total": None, "max_score": max_scores.get(name),
                                     "flags": "", "status": not_graded(autograded_dir, student, name)}
    if missing and not rows:
        raise MissingEntry()
    if not rows:
        return pd.DataFrame([])
    table = pd.DataFrame(list(rows.values()))
    table["student"] = table["student"].map(visible)  # an undecodable name, escaped, instead of a crash
    table = table.sort_values(["assignment", "student"]).reset_index(drop=True)
    test_cells = [column for column in cell_order(source_dir) if column in table] if source_dir else []
    return table[FIXED_COLUMNS + test_cells + sorted(set(table.columns) - set(FIXED_COLUMNS) - set(test_cells))]


def refused_row(student: str, assignment: str, problem: str) -> dict:
    return {"student": student, "assignment": assignment, "total": None, "max_score": None, "flags": problem, "status": REFUSED}


def submitted_folders(submitted_dir: Path, assignment: str | None) -> list[tuple[str, str]]:
    """(student, assignment) for each submission folder, listed with scandir (a name is never a pattern)."""
    if not submitted_dir.is_dir():
        return []
    found = []
    with os.scandir(submitted_dir) as students:
        for student in students:
            if not student.is_dir():
                continue
            if assignment:
                if os.path.isdir(os.path.join(student.path, assignment)):
                    found.append((student.name, assignment))
                continue
            with os.scandir(student.path) as assignments:
                found += [(student.name, entry.name) for entry in assignments if entry.is_dir()]
    return found


def not_graded(autograded_dir: Path | None, student: str, assignment: str) -> str:
    """"not graded", with the grader's reason when its error log is there."""
    if autograded_dir is None:
        return NOT_GRADED
    log = autograded_dir / f"{student}.{assignment}.grading-error.log"
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return NOT_GRADED
    reason = lines[0] if lines else "the grader failed"
    reason = reason if len(reason) <= 200 else reason[:199] + "…"
    return f"{NOT_GRADED}: {reason} (log: {autograded_dir.name}/{log.name})"


def safe_table(table: pd.DataFrame) -> pd.DataFrame:
    """`table` with every text cell and column name passed through `safe_csv_cell`."""
    safe = table.rename(columns=safe_csv_cell)
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):
            safe[column] = safe[column].map(safe_csv_cell)
    return safe


def flags(autograded_dir: Path) -> str:
    """What grading noticed about a submission: verification overruling the kernel, or a run that stopped early."""
    notes = []
    overruled = disagreements(autograded_dir)
    if overruled:
        notes.append(f"verification disagreed with the kernel on {', '.join(overruled)}")
    notes += [reason for reason in record_flags(autograded_dir) if "kernel" not in reason or not overruled]
    if read_verification(autograded_dir).get("sandboxed") is False:
        notes.append("graded WITHOUT a sandbox (c.Sandbox.enabled = False)")
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
        table = grade_table(api.coursedir.db_url, api.coursedir.course_id, assignment, root / "source", root / "autograded",
                            root / api.coursedir.submitted_directory)
    except MissingEntry:
        raise CourseError(f"The gradebook has no assignment '{assignment}': run `course grade {assignment}` first.") from None
    if table.empty:
        raise CourseError("The gradebook has no graded submissions yet: run `course grade ASSIGNMENT` first.")
    output = Path(output)
    output = output if output.is_absolute() else Path.cwd() / output
    safe_table(table).to_csv(output, index=False, encoding="utf-8")
    counts = table["status"].map(lambda status: status.split(":")[0] if status != REFUSED else status).value_counts()
    console.print(f"Wrote {len(table)} row(s) to {output} (" + ", ".join(f"{count} {status}" for status, count in counts.items()) + ")")
    return table
