"""`course demo`: the main job on a fresh clone, end to end.

Release the assignments, submit the bundled example submissions of each graded one, autograde them, write
feedback and the grade CSVs, then print the grade tables and where everything went.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rich.console import Console
from rich.table import Table

from . import export, feedback, grade, release, report
from .coursedir import course_root

# assignment -> (its bundled fixtures, student id -> the fixture submitted: each named after the result it must get)
EXAMPLES = {
    "mnist_cnn": (Path("grader_tests") / "submissions", {
        "example_perfect": "passes_all",
        "example_partly_wrong": "fails_conv_metrics_epochs_evaluate",
        "example_untouched": "untouched_release",
    }),
    "mnist_confusion": (Path("grader_tests") / "mnist_confusion" / "submissions", {
        "example_perfect": "passes_all",
        "example_untouched": "untouched_release",
    }),
}


def place_examples(root: Path, assignment: str) -> None:
    folder, submissions = EXAMPLES[assignment]
    for student, example in submissions.items():
        target = root / "submitted" / student / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / folder / f"{example}.ipynb", target)


def demo_csv(assignment: str) -> str:
    stem, _, suffix = export.DEFAULT_OUTPUT.rpartition(".")
    return f"{stem}_{assignment}.{suffix}"


def grade_table(table, assignment: str) -> Table:
    view = Table(title=f"Grades for {assignment} (from the gradebook)")
    for column in ("student", "total", "max_score"):
        view.add_column(column, justify="right" if column != "student" else "left")
    view.add_column("tests lost")
    tests = [column for column in table.columns if column.startswith("test_")]
    for _, row in table.iterrows():
        lost = [test for test in tests if row[test] == 0]
        summary = "all" if len(lost) == len(tests) else ", ".join(lost) or "-"
        view.add_row(row["student"], f"{row['total']:g}", f"{row['max_score']:g}", summary)
    return view


def main(root: Path | None = None, console: Console | None = None):
    console = console or Console()
    root = course_root(root)
    console.rule("1. Release the student notebooks (source/ -> release/)")
    release.main(root=root, console=console)
    for step, (assignment, (folder, submissions)) in enumerate(EXAMPLES.items(), start=2):
        students = list(submissions)
        console.rule(f"{step}. {assignment}: submit the bundled examples, autograde them (each trains its CNN), feedback, CSV, report")
        place_examples(root, assignment)
        for student, example in submissions.items():
            console.print(f"{student}: {folder / example}.ipynb -> submitted/{student}/{assignment}/")
        grade.main(assignment, students, root=root, console=console)
        feedback.main(assignment, root=root, console=console)
        output = root / demo_csv(assignment)
        table = export.main(assignment, output, root=root, console=console)
        console.print(grade_table(table[table["student"].isin(students)], assignment))
        report.main(assignment, root=root, console=console)
    console.print(
        "Where everything went (for each assignment A):\n"
        "  release/A/                  student notebooks\n"
        "  autograded/<student>/A/     executed, graded notebooks\n"
        "  feedback/<student>/A/       HTML feedback for each student\n"
        f"  {demo_csv('A')}                one row per student, one column per test\n"
        f"  {report.REPORTS_DIR}/A.html               class report: grade distribution, checks missed, flags\n"
        "  gradebook.db                nbgrader's gradebook, the source of truth for scores\n"
        "Run `course tutorial` to execute the tutorial notebook and save its figures."
    )
