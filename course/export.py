"""`course export`: one CSV row per student and assignment, read from the gradebook (the source of truth).

Every student with a folder in submitted/ gets a row, graded or not, with a `status`: "graded"; "not graded" (with
the grader's reason when autograded/<student>.<assignment>.grading-error.log exists), whose total is empty, never
0; or "refused: unsafe student id" for a folder name that `course.student_ids.id_problem` refuses (an undecodable
one is shown with its bytes escaped). submitted/ is listed with os.scandir, so no name is misread as a glob
pattern. Every cell passes through `safe_csv_cell`: no cell can start a spreadsheet formula.

Scores are the gradebook's: a manual score given in nbgrader's formgrader (grade.manual_score) overrides the
autograde, and the late policy (course/late.py: the gradebook's due date and the configured late-submission plugin)
is applied to the total. The default CSV keeps its columns; its `status` says when a total holds a manual score or a
late penalty ("graded; manual score: test_x 2 (autograde 0); late 1 day 2 h: penalty 1.5").

`--format canvas` and `--format moodle` write the LMS's own grade import file instead, one row per student of a
roster (see `lms_rows`): students on the roster without a submission get an empty cell or 0 (`missing`), students
graded but not on the roster are listed and left out, never matched by guessing.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from nbgrader.api import Gradebook, MissingEntry
from rich.console import Console
from rich.markup import escape

from .coursedir import CourseError, course_root, nbgrader_api
from .csv_safety import safe_csv_cell
from .grade import disagreements, stopped_reason
from .grading.records import flags as record_flags, read_verification
from .late import configured_penalty, describe_lateness
from .spec import SpecError, load as load_spec
from .student_ids import id_problem, visible

DEFAULT_OUTPUT = "grades.csv"
FIXED_COLUMNS = ["student", "assignment", "total", "max_score", "flags", "status"]
# With details=True, grade_table adds these (course report and the LMS formats read them; the default CSV does not)
DETAIL_COLUMNS = ["raw_total", "late_penalty", "seconds_late", "manual"]
GRADED, NOT_GRADED, REFUSED = "graded", "not graded", "refused: unsafe student id"
FORMATS = ("csv", "canvas", "moodle")

__all__ = ["DEFAULT_OUTPUT", "FIXED_COLUMNS", "FORMATS", "Roster", "grade_table", "lms_rows", "main", "read_roster",
           "safe_csv_cell", "safe_table"]

Penalty = Callable[[str, float, float], float]  # (student, score, seconds late) -> points lost


def grade_table(db_url: str, course_id: str, assignment: str | None = None, source_dir: Path | None = None,
                autograded_dir: Path | None = None, submitted_dir: Path | None = None, penalty: Penalty | None = None,
                details: bool = False) -> pd.DataFrame:
    """Rows: student, assignment, total, max_score, flags, status, then one column per test cell (its grade_id).

    With `submitted_dir`, every student folder there that has the assignment (or, without `assignment`, every
    assignment folder in it) gets a row, including those the gradebook lacks.

    Cell scores are nbgrader's `Grade.score`: the manual score when the instructor gave one, else the autograde.
    `total` is their sum minus the late penalty: `penalty` (the configured plugin, see `course.late.configured_penalty`)
    called per notebook on its current score, as nbgrader's AssignLatePenalties does; without `penalty`, the penalty
    nbgrader stored when grading. With `details`, the DETAIL_COLUMNS are added: raw_total (before the penalty),
    late_penalty, seconds_late and manual (the manual scores, in words).
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
                seconds_late = submission.total_seconds_late
                manual, late_penalty = [], 0.0
                row = {
                    "student": student,
                    "assignment": entry.name,
                    "total": submission.score,
                    "max_score": submission.max_score,
                    "flags": flags(autograded_dir / student / entry.name) if autograded_dir else "",
                    "status": GRADED,
                }
                failed_since = not_graded(autograded_dir, student, entry.name)
                if failed_since != NOT_GRADED:  # the old score was kept (c.GradePolicy), visibly
                    reason = failed_since.removeprefix(f"{NOT_GRADED}: ")
                    row["flags"] = "; ".join(filter(None, [row["flags"], f"old score kept: the last regrade failed: {reason}"]))
                for notebook in submission.notebooks:
                    row.update({grade.name: grade.score for grade in notebook.grades})
                    manual += [manual_note(grade) for grade in notebook.grades if grade.manual_score is not None]
                    if seconds_late > 0:
                        late_penalty += (penalty(student, notebook.score, seconds_late) if penalty
                                         else notebook.late_submission_penalty or 0.0)
                late_penalty = round(late_penalty, 2)
                row["total"] = round(submission.score - late_penalty, 2) if late_penalty else submission.score
                row["status"] = "; ".join(
                    [GRADED] + ([f"manual score: {', '.join(manual)}"] if manual else [])
                    + ([f"late {describe_lateness(seconds_late)}: penalty {late_penalty:g}"] if seconds_late > 0 else []))
                if details:
                    row.update(raw_total=submission.score, late_penalty=late_penalty, seconds_late=seconds_late,
                               manual="; ".join(manual))
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
    detail_columns = [column for column in DETAIL_COLUMNS if details]
    for column in detail_columns:
        if column not in table:
            table[column] = None
    rest = sorted(set(table.columns) - set(FIXED_COLUMNS) - set(test_cells) - set(detail_columns))
    return table[FIXED_COLUMNS + test_cells + rest + detail_columns]


def manual_note(grade) -> str:
    """'test_x 2 (autograde 0)': a manual score from formgrader, beside the autograde it overrides."""
    auto = "no autograde" if grade.auto_score is None else f"autograde {grade.auto_score:g}"
    return f"{grade.name} {grade.manual_score:g} ({auto})"


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
    """Test cells in the order each assignment's spec declares them, so the CSV columns read like the assignment."""
    order = []
    for folder in sorted(path for path in source_dir.iterdir() if path.is_dir()):
        try:
            tests = load_spec(folder.name).tests
        except SpecError:  # not graded (the tutorial)
            continue
        order += [test.grade_id for test in tests if test.grade_id not in order]
    return order


# --- the LMS's own import formats ------------------------------------------------------------------------------
#
# Canvas: the Gradebook import CSV, as Canvas's importer reads it (instructure/canvas-lms,
# app/models/gradebook_importer.rb, and Canvas's guide "How do I import grades in the Gradebook?"): a header row
# whose student columns are `Student`, `ID`, `SIS User ID`, `SIS Login ID`, `Section` (Section last; custom
# columns, matched by their title, may follow it); then one column per assignment, named as Canvas exports it,
# `<name> (<assignment id>)`: a header Canvas cannot match to an assignment creates a NEW assignment, so no other
# column is written. A row whose first cell contains "Points Possible" gives each assignment's points. Canvas finds
# each student by `ID` (its user id), then `SIS User ID`, then `SIS Login ID`, and only then by name; an empty cell
# is "no score" (it clears a score entered in Canvas by hand).
#
# Moodle: the CSV grade import (Grades > Import > CSV file; docs.moodle.org "Grade import"): a header row, then one
# row per user. At import the instructor maps one column to a user field ("Map from" the `ID number` or
# `Email address` column, "Map to" useridnumber or useremail) and the grade column to the grade item; every other
# column is "ignore" unless mapped (Notes can be mapped to the item's feedback). Moodle stops the whole import on
# a user it cannot find, so each row must have the chosen identifier.

CANVAS_STUDENT_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS_ROW = "Points Possible"
CANVAS_ASSIGNMENT = re.compile(r"\A(.*)\s+\((\d+)\)\Z")  # Canvas's Assignment.title_and_id
# course roster column -> Canvas column
CANVAS_FROM_ROSTER = {"name": "Student", "canvas_id": "ID", "sis_user_id": "SIS User ID", "sis_login_id": "SIS Login ID",
                      "section": "Section"}
MOODLE_USER_FIELDS = {"idnumber": "ID number", "email": "Email address"}  # roster column -> Moodle's export header
ROSTER_COLUMNS = ("lms_id", "student_id", *CANVAS_FROM_ROSTER, *MOODLE_USER_FIELDS)


@dataclass
class Roster:
    """The students the LMS knows: the course roster (the `course collect --mapping` CSV, with extra columns), or
    a Canvas gradebook export."""

    path: Path
    kind: str  # "course roster" or "Canvas gradebook export"
    students: dict[str, dict[str, str]]  # the course's student id -> that student's LMS columns, in roster order
    columns: list[str]  # the roster's own columns
    unmatchable: list[str] = field(default_factory=list)  # rows with no course student id: left out, listed
    canvas_assignments: list[str] = field(default_factory=list)  # assignment headers of a Canvas export


def read_roster(path: Path, match_column: str = "SIS Login ID") -> Roster:
    """A course roster (columns lms_id and student_id, plus any of name, canvas_id, sis_user_id, sis_login_id,
    section, idnumber, email) or a Canvas gradebook export (its rows matched to the course's student ids by
    `match_column`). Duplicate student ids stop here: a grade is never given to one of two rows by guessing."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:  # -sig: spreadsheets often add a BOM
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise CourseError(f"Cannot read the roster {path} ({error}).") from None
    if not rows:
        raise CourseError(f"The roster {path} is empty.")
    header = [cell.strip() for cell in rows[0]]
    students: dict[str, dict[str, str]] = {}

    def add(student: str, cells: dict[str, str], line: int) -> None:
        if student in students:
            raise CourseError(f"The roster {path} names the student id {student!r} twice (line {line}); fix it, then export again.")
        students[student] = cells

    if len(header) > 3 and "Student" in header[0] and "ID" in header[1]:  # Canvas's own test for its header row
        if match_column not in header:
            raise CourseError(f"{path} is a Canvas gradebook export without a {match_column!r} column to match the course's "
                              f"student ids against; its columns: {', '.join(header[:6])}... (choose one with --match-column).")
        section = header.index("Section") if "Section" in header else None
        assignments = [column for column in header[(section or 1) + 1:] if CANVAS_ASSIGNMENT.match(column)]
        roster = Roster(path, "Canvas gradebook export", students, header, canvas_assignments=assignments)
        for line, row in enumerate(rows[1:], start=2):
            cells = dict(zip(header, (cell.strip() for cell in row)))
            first = row[0] if row else ""
            if CANVAS_POINTS_ROW in first or all(re.fullmatch(r"\s*(Muted|Manual Posting.*)?\s*", cell, re.I) for cell in row):
                continue  # Canvas's own rows: points possible, muted / posting policy
            student = cells.get(match_column, "")
            if not student:
                roster.unmatchable.append(f"{cells.get('Student') or '(no name)'} (line {line}): no {match_column}")
                continue
            add(student, {column: cells.get(column, "") for column in CANVAS_STUDENT_COLUMNS}, line)
        return roster
    if not {"lms_id", "student_id"} <= set(header):
        raise CourseError(f"{path} is neither a course roster (a CSV with the columns lms_id and student_id, as "
                          "`course collect --mapping` takes, plus the LMS columns an export needs) nor a Canvas gradebook export.")
    roster = Roster(path, "course roster", students, header)
    for line, row in enumerate(rows[1:], start=2):
        cells = {column: value.strip() for column, value in zip(header, row)}
        if not any(cells.values()):
            continue
        if not cells.get("student_id"):
            roster.unmatchable.append(f"line {line}: no student_id")
            continue
        add(cells["student_id"], cells, line)
    return roster


def score_text(value) -> str:
    """A score as an LMS reads it: at most two decimals, no trailing zeros ("7.5", "10")."""
    return ("%.2f" % float(value)).rstrip("0").rstrip(".")


@dataclass
class LmsExport:
    header: list[str]
    rows: list[list]
    left_out: list[str] = field(default_factory=list)  # graded or submitted, not on the roster
    unidentified: list[str] = field(default_factory=list)  # on the roster, without the identifier the LMS needs
    missing: list[str] = field(default_factory=list)  # on the roster, no submission
    not_graded: list[str] = field(default_factory=list)  # on the roster, submitted, no grade: empty cell
    notes: dict[str, str] = field(default_factory=dict)  # student -> late penalty and manual scores, in words


def student_notes(row) -> str:
    parts = []
    if row.get("manual"):
        parts.append(f"manual score: {row['manual']}")
    if row.get("seconds_late") and row["seconds_late"] > 0:
        parts.append(f"late {describe_lateness(row['seconds_late'])}: penalty {row['late_penalty']:g} of {row['raw_total']:g}")
    return "; ".join(parts)


def canvas_column(roster: Roster, assignment: str, lms_assignment: str | None) -> str:
    """The assignment's column header as Canvas exports it: `<name> (<assignment id>)`."""
    if lms_assignment and CANVAS_ASSIGNMENT.match(lms_assignment):
        return lms_assignment
    wanted = lms_assignment or assignment
    found = [column for column in roster.canvas_assignments if CANVAS_ASSIGNMENT.match(column).group(1) == wanted]
    if len(found) == 1:
        return found[0]
    where = (f"; the roster's assignment columns: {', '.join(roster.canvas_assignments)}" if roster.canvas_assignments
             else "")
    raise CourseError(f"Canvas needs the assignment's column as Canvas names it, '<name> (<assignment id>)': pass "
                      f"--lms-assignment 'NAME (ID)' (the header of that column in a Canvas gradebook export, or the number at the "
                      f"end of the assignment's Canvas address), or give a Canvas gradebook export that has a column for {wanted!r} as --roster{where}.")


def lms_rows(table: pd.DataFrame, roster: Roster, format: str, assignment: str, lms_assignment: str | None = None,
             missing: str = "empty", notes_column: str | None = None, moodle_user_field: str = "idnumber") -> LmsExport:
    """The LMS import file's rows, from `table` (`grade_table(..., details=True)` for one assignment) and `roster`.

    One row per roster student: the total (manual scores and late penalty included) for a graded submission; for no
    submission, an empty cell or 0 (`missing`: "empty" or "zero"); an empty cell for a submission not graded. Rows
    of `table` not on the roster are left out and listed in `left_out`.
    """
    by_student = {row["student"]: row for row in table.to_dict("records")}
    max_score = table["max_score"].dropna().max() if not table.empty else None
    export = LmsExport([], [])
    if format == "canvas":
        column = canvas_column(roster, assignment, lms_assignment)
        export.header = CANVAS_STUDENT_COLUMNS + ([notes_column] if notes_column else []) + [column]
        export.rows.append([CANVAS_POINTS_ROW, "", "", "", ""] + ([""] if notes_column else []) +
                           [score_text(max_score) if max_score is not None else ""])
    elif format == "moodle":
        if moodle_user_field not in MOODLE_USER_FIELDS:
            raise CourseError(f"Moodle matches users by one of: {', '.join(MOODLE_USER_FIELDS)}; not {moodle_user_field!r}.")
        if roster.kind != "course roster" or moodle_user_field not in roster.columns:
            raise CourseError(f"A Moodle export needs a course roster with a {moodle_user_field!r} column (the Moodle user "
                              f"field {MOODLE_USER_FIELDS[moodle_user_field]!r}); {roster.path} has none.")
        export.header = [MOODLE_USER_FIELDS[moodle_user_field], lms_assignment or assignment, "Late penalty", "Notes"]
    else:
        raise CourseError(f"Unknown format {format!r}: choose one of {', '.join(FORMATS)}.")
    for student, cells in roster.students.items():
        if format == "canvas":
            identity = ([cells.get(column, "") for column in CANVAS_STUDENT_COLUMNS] if roster.kind != "course roster"
                        else [cells.get(source, "") for source in CANVAS_FROM_ROSTER])
            if not any(identity[1:4]):
                export.unidentified.append(f"{student}: no canvas_id, sis_user_id or sis_login_id on the roster")
                continue
        else:
            identity = [cells.get(moodle_user_field, "")]
            if not identity[0]:
                export.unidentified.append(f"{student}: no {moodle_user_field} on the roster")
                continue
        row = by_student.get(student)
        notes, penalty = "", ""
        if row is None:
            score = "0" if missing == "zero" else ""
            export.missing.append(student)
        elif not str(row["status"]).startswith(GRADED):
            score = ""
            export.not_graded.append(f"{student} ({row['status']})")
        else:
            score = score_text(row["total"])
            notes = student_notes(row)
            penalty = score_text(row["late_penalty"]) if row.get("late_penalty") else ""
            if notes:
                export.notes[student] = notes
        if format == "canvas":
            export.rows.append(identity + ([notes] if notes_column else []) + [score])
        else:
            export.rows.append(identity + [score, penalty, notes])
    export.left_out = sorted(student for student in by_student if student not in roster.students)
    return export


def write_csv(path: Path, header: list, rows: list[list]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([safe_csv_cell(cell) for cell in header])
        writer.writerows([safe_csv_cell(cell) for cell in row] for row in rows)


def default_output(format: str, assignment: str | None) -> Path:
    """grades.csv; reports/<assignment>_canvas.csv and reports/<assignment>_moodle.csv (git-ignored working state)."""
    return Path(DEFAULT_OUTPUT) if format == "csv" else Path("reports") / f"{assignment}_{format}.csv"


def main(assignment: str | None = None, output: str | Path | None = DEFAULT_OUTPUT, root: Path | None = None,
         console: Console | None = None, format: str = "csv", roster: str | Path | None = None,
         lms_assignment: str | None = None, missing: str = "empty", match_column: str = "SIS Login ID",
         notes_column: str | None = None, moodle_user_field: str = "idnumber") -> pd.DataFrame:
    """Write the grades: `format` "csv" (grades.csv, every column) or an LMS import file ("canvas", "moodle"), which
    needs one `assignment` and a `roster`. Returns the grade table."""
    console = console or Console()
    root = course_root(root)
    if format not in FORMATS:
        raise CourseError(f"Unknown format {format!r}: choose one of {', '.join(FORMATS)}.")
    lms = format != "csv"
    if lms and not assignment:
        raise CourseError(f"A {format} export is for one assignment: `course export ASSIGNMENT --format {format} --roster ROSTER.csv`.")
    if lms and not roster:
        raise CourseError(f"A {format} export needs --roster: the roster you give `course collect --mapping` (with the LMS's "
                          "identifier columns; see the README, 'Grades back into the LMS')"
                          + (" or a Canvas gradebook export" if format == "canvas" else "") + ".")
    students = read_roster(Path(roster), match_column) if lms else None
    api = nbgrader_api(root)
    try:
        table = grade_table(api.coursedir.db_url, api.coursedir.course_id, assignment, root / "source", root / "autograded",
                            root / api.coursedir.submitted_directory, penalty=configured_penalty(api.config), details=lms)
    except MissingEntry:
        raise CourseError(f"The gradebook has no assignment '{assignment}': run `course grade {assignment}` first.") from None
    if table.empty:
        raise CourseError("The gradebook has no graded submissions yet: run `course grade ASSIGNMENT` first.")
    output = Path(output) if output else default_output(format, assignment)
    output = output if output.is_absolute() else Path.cwd() / output
    output.parent.mkdir(parents=True, exist_ok=True)
    if not lms:
        safe_table(table).to_csv(output, index=False, encoding="utf-8")
        counts = table["status"].map(status_kind).value_counts()
        console.print(f"Wrote {len(table)} row(s) to {output} (" + ", ".join(f"{count} {status}" for status, count in counts.items()) + ")")
        for row in table.itertuples():
            if ";" in str(row.status):
                console.print(f"  {escape(str(row.student))}: {escape(str(row.status))}")
        return table
    export = lms_rows(table, students, format, assignment, lms_assignment, missing, notes_column, moodle_user_field)
    write_csv(output, export.header, export.rows)
    graded = len(students.students) - len(export.unidentified) - len(export.missing) - len(export.not_graded)
    console.print(f"Wrote the {format.capitalize()} import file {output}: {graded} graded, {len(export.missing)} without a "
                  f"submission ({'0' if missing == 'zero' else 'empty cell'}), {len(export.not_graded)} not graded (empty cell); "
                  f"roster: {students.kind} {students.path}")
    for student, note in export.notes.items():
        console.print(f"  {escape(student)}: {escape(note)}")
    lists = [("Not on the roster, left out", export.left_out),
             ("On the roster without the identifier the LMS needs, left out", export.unidentified + students.unmatchable),
             ("On the roster, submitted but not graded (empty cell)", export.not_graded),
             (f"On the roster, no submission ({'0' if missing == 'zero' else 'empty cell'})", export.missing)]
    for title, names in lists:
        if names:
            console.print(f"[yellow]{title} ({len(names)}):[/] {escape(', '.join(names))}")
    return table


def status_kind(status: str) -> str:
    """'graded', 'not graded' or the refusal: what the status says before its details."""
    return status if status == REFUSED else status.split(";")[0].split(":")[0]
