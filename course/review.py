"""`course review ASSIGNMENT`: the students who need a human, with the reason in words, and what was decided.

Reasons, from what grading recorded (never from a notebook's own output):

- flagged: the kernel and the verification outside it disagreed on a test cell, or the verifier flagged one
  (verification.json "flags", course/grading/records.py);
- could not verify: the verifier gave no verdict (verification.json "could_not_verify"); the hidden tests it could
  not check scored nothing and are named;
- stopped early: the run stopped at a timeout, a dead kernel or the memory cap (verification.json "stopped");
- submitted late: the gradebook's submission timestamp is after the due date (course/late.py);
- not graded: a folder in submitted/ with no submission in the gradebook (the grader's error log when it failed),
  or a student id intake refuses.

Each entry gives the paths to look at: the autograded notebook, the feedback, the verification record, and the
notebook's page in nbgrader's formgrader, where the instructor decides. A score typed there is nbgrader's
grade.manual_score, which overrides the autograde in the gradebook, `course export` and `course report`.

When a decision exists (documented in the README, "Grades back into the LMS"): a reason that names cells is decided
once every one of those cells has a manual score; a reason that names none (stopped early, could not verify as a
whole, submitted late) once any cell of the submission has one. A student leaves the list when all their reasons
are decided, and is shown under "Decided" with the manual scores. "Not graded" is decided only by grading the
submission (`course grade ASSIGNMENT --student ID`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from rich.console import Console
from rich.markup import escape

from .coursedir import CourseError, course_root, nbgrader_api
from .export import manual_note, not_graded, submitted_folders
from .grading.records import read_verification
from .late import configured_penalty, describe_lateness
from .student_ids import id_problem, visible

FLAGGED, NOT_VERIFIED, STOPPED, LATE, NOT_GRADED = "flagged", "could not verify", "stopped early", "submitted late", "not graded"

__all__ = ["Entry", "Reason", "main", "review_entries"]


@dataclass
class Reason:
    kind: str  # FLAGGED, NOT_VERIFIED, STOPPED, LATE or NOT_GRADED
    text: str  # in words, for the instructor
    cells: list[str] = field(default_factory=list)  # the test cells it is about (none: the whole submission)
    decided: bool = False


@dataclass
class Entry:
    student: str
    reasons: list[Reason] = field(default_factory=list)
    manual: dict[str, str] = field(default_factory=dict)  # cell -> "test_x 2 (autograde 0)"
    paths: dict[str, str] = field(default_factory=dict)  # what to open -> where (relative to the course root)

    @property
    def needs_review(self) -> bool:
        return any(not reason.decided for reason in self.reasons)


def verification_reasons(record: dict) -> list[Reason]:
    """flagged / could not verify / stopped early, from a verification.json record."""
    reasons: list[Reason] = []
    could_not_verify = record.get("could_not_verify")
    unverified = []
    for flag in record.get("flags", []) or []:
        if not isinstance(flag, dict):
            continue
        cell, reason = flag.get("cell"), str(flag.get("reason"))
        if could_not_verify and (cell is None and reason.startswith("could not verify") or "not verified" in reason):
            if cell:
                unverified.append(str(cell))
            continue
        reasons.append(Reason(FLAGGED, f"{FLAGGED}: {cell}: {reason}" if cell else f"{FLAGGED}: {reason}", [str(cell)] if cell else []))
    if could_not_verify:
        text = f"{NOT_VERIFIED}: {could_not_verify}"
        if unverified:
            text += f" (hidden tests not checked, 0 points until scored by hand: {', '.join(unverified)})"
        reasons.append(Reason(NOT_VERIFIED, text, unverified))
    if record.get("stopped"):
        reasons.append(Reason(STOPPED, f"{STOPPED}: {record['stopped']}"))
    return reasons


def decide(reasons: list[Reason], manual: dict[str, str]) -> None:
    for reason in reasons:
        if reason.kind == NOT_GRADED:
            continue
        reason.decided = all(cell in manual for cell in reason.cells) if reason.cells else bool(manual)


def review_entries(root: Path, assignment: str, api=None) -> list[Entry]:
    """Every student of `assignment` with a reason for a human to look, or a manual score; sorted by student."""
    api = api or nbgrader_api(root)
    autograded, feedback = root / "autograded", root / "feedback"
    submitted = root / api.coursedir.submitted_directory
    penalty = configured_penalty(api.config)
    entries: dict[str, Entry] = {}
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
        try:
            submissions = gradebook.find_assignment(assignment).submissions
        except MissingEntry:
            submissions = []
        in_gradebook = {submission.student.id for submission in submissions}
        for submission in submissions:
            student = submission.student.id
            problem = id_problem(student)
            entry = Entry(visible(student))
            if problem:
                entry.reasons.append(Reason(NOT_GRADED, f"{NOT_GRADED}: refused: {problem}"))
                entries[student] = entry
                continue
            folder = autograded / student / assignment
            entry.reasons += verification_reasons(read_verification(folder))
            late = submission.total_seconds_late
            if late > 0:
                points = sum(penalty(student, notebook.score, late) for notebook in submission.notebooks)
                due = submission.duedate.strftime("%Y-%m-%d %H:%M UTC") if submission.duedate else "?"
                entry.reasons.append(Reason(LATE, f"{LATE}: {describe_lateness(late)} after the due date ({due}); "
                                                  f"late penalty {points:g} of {submission.score:g} point(s)"))
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.manual_score is not None:
                        entry.manual[grade.name] = manual_note(grade)
                name = notebook.notebook.name
                entry.paths[f"notebook ({name})" if len(submission.notebooks) > 1 else "notebook"] = relative(folder / f"{name}.ipynb", root)
                entry.paths[f"feedback ({name})" if len(submission.notebooks) > 1 else "feedback"] = relative(
                    feedback / student / assignment / f"{name}.html", root)
                entry.paths[f"formgrader ({name})" if len(submission.notebooks) > 1 else "formgrader"] = f"/formgrader/submissions/{notebook.id}/"
            entry.paths["verification"] = relative(folder / "verification.json", root)
            decide(entry.reasons, entry.manual)
            if entry.reasons or entry.manual:
                entries[student] = entry
    for student, _ in submitted_folders(submitted, assignment):
        if student in entries or student in in_gradebook:
            continue
        problem = id_problem(student)
        status = f"refused: {problem}" if problem else not_graded(autograded, student, assignment)
        text = status if status.startswith(NOT_GRADED) else f"{NOT_GRADED}: {status}"
        entry = Entry(visible(student), [Reason(NOT_GRADED, text)])
        entry.paths["submission"] = relative(submitted / student / assignment, root) if not problem else "submitted/"
        log = autograded / f"{student}.{assignment}.grading-error.log"
        if not problem and log.is_file():
            entry.paths["grading log"] = relative(log, root)
        entries[student] = entry
    return sorted(entries.values(), key=lambda entry: entry.student)


def relative(path: Path, root: Path) -> str:
    """`path` from the course root, with '(missing)' when it does not exist."""
    try:
        shown = str(path.relative_to(root))
    except ValueError:
        shown = str(path)
    return shown if os.path.lexists(path) else f"{shown} (missing)"


def main(assignment: str, root: Path | None = None, console: Console | None = None) -> list[Entry]:
    console = console or Console()
    root = course_root(root)
    api = nbgrader_api(root)
    try:
        entries = review_entries(root, assignment, api)
    except Exception as error:  # no gradebook yet, or nbgrader could not open it
        raise CourseError(f"Cannot read the gradebook for '{assignment}' ({error}): run `course grade {assignment}` first.") from None
    pending = [entry for entry in entries if entry.needs_review]
    decided = [entry for entry in entries if not entry.needs_review]
    console.print(f"[bold]{assignment}: {len(pending)} student(s) need a human[/]"
                  + ("" if pending else " (nothing to review)"))
    for entry in pending:
        console.print(f"\n[bold]{escape(entry.student)}[/]")
        for reason in entry.reasons:
            mark = "[green]decided[/] " if reason.decided else ""
            console.print(f"  - {mark}{escape(reason.text)}")
        if entry.manual:
            console.print(f"  manual scores so far: {escape('; '.join(entry.manual.values()))}")
        for label, path in entry.paths.items():
            console.print(f"  {label}: {escape(path)}")
    if decided:
        console.print(f"\n[bold]Decided ({len(decided)})[/]: manual scores given in formgrader, which override the autograde")
        for entry in decided:
            why = "; ".join(reason.text for reason in entry.reasons) or "no reason from grading"
            console.print(f"  {escape(entry.student)}: {escape('; '.join(entry.manual.values()))}  [dim]({escape(why)})[/]")
    if pending:
        console.print("\nDecide in nbgrader's formgrader (`jupyter lab` from the course root, then Nbgrader > Formgrader, or the "
                      "formgrader path above on that server): a score typed into a cell overrides its autograde. A reason that "
                      "names cells is decided when each of them has a manual score; any other, when any cell has one.")
    return entries
