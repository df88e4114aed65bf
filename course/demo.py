"""`course demo`: the main job on a fresh clone, end to end.

Release the assignment, submit the bundled example submissions, autograde them, write feedback and
the grade CSV, then print the grade table and where everything went.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rich.console import Console
from rich.table import Table

from . import export, feedback, grade, release, report
from .coursedir import course_root

ASSIGNMENT = "mnist_cnn"
EXAMPLES_DIR = Path("grader_tests") / "submissions"
# student id -> bundled example submission (named after the result it must get)
EXAMPLE_SUBMISSIONS = {
    "example_perfect": "passes_all",
    "example_partly_wrong": "fails_conv_metrics_epochs_evaluate",
    "example_untouched": "untouched_release",
}


def place_examples(root: Path) -> None:
    for student, example in EXAMPLE_SUBMISSIONS.items():
        target = root / "submitted" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / EXAMPLES_DIR / f"{example}.ipynb", target)


def grade_table(table) -> Table:
    view = Table(title=f"Grades for {ASSIGNMENT} (from the gradebook)")
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
    console.rule("2. Submit the bundled example submissions")
    place_examples(root)
    for student, example in EXAMPLE_SUBMISSIONS.items():
        console.print(f"{student}: {EXAMPLES_DIR / example}.ipynb -> submitted/{student}/{ASSIGNMENT}/")
    console.rule("3. Autograde, one submission per core at once (each trains its CNN: about a minute each)")
    grade.main(ASSIGNMENT, list(EXAMPLE_SUBMISSIONS), root=root, console=console)
    console.rule("4. Feedback, grade CSV and class report")
    feedback.main(ASSIGNMENT, root=root, console=console)
    table = export.main(ASSIGNMENT, root / export.DEFAULT_OUTPUT, root=root, console=console)
    console.print(grade_table(table[table["student"].isin(list(EXAMPLE_SUBMISSIONS))]))
    report.main(ASSIGNMENT, root=root, console=console)
    console.print(
        "Where everything went:\n"
        f"  release/{ASSIGNMENT}/                  student notebooks\n"
        f"  autograded/<student>/{ASSIGNMENT}/     executed, graded notebooks\n"
        f"  feedback/<student>/{ASSIGNMENT}/       HTML feedback for each student\n"
        f"  {export.DEFAULT_OUTPUT}                          one row per student, one column per test\n"
        f"  {report.REPORTS_DIR}/{ASSIGNMENT}.html               class report: grade distribution, checks missed, flags\n"
        f"  gradebook.db                        nbgrader's gradebook, the source of truth for scores\n"
        "Run `course tutorial` to execute the tutorial notebook and save its figures."
    )
