"""`course review`: every student who needs a human, with the reason in words and the paths to open, and what the
instructor decided in formgrader (a manual score), after which the student leaves the list.

The course is written directly, as `course grade` leaves it: a gradebook (nbgrader's API), and beside each autograded
notebook the verification.json record the grader writes.
"""

from __future__ import annotations

import io
import json
import os
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from nbgrader.api import Gradebook
from rich.console import Console

from course import export, review
from test_lms_export import ASSIGNMENT, bare_course, build_gradebook

NOT_VERIFIED = "the verifier stopped (exit status 137) without a verdict"


@pytest.fixture(scope="module", autouse=True)
def alembic_on_path():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
        yield


def record(course: Path, student: str, **fields) -> None:
    """verification.json as course/grading/preprocessors.py writes it, and the autograded notebook beside it."""
    folder = course / "autograded" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    base = {"verdicts": {}, "disagreements": [], "flags": [], "could_not_verify": None, "stopped": None, "sandboxed": True,
            "skipped_files": []}
    (folder / "verification.json").write_text(json.dumps({**base, **fields}))
    (folder / f"{ASSIGNMENT}.ipynb").write_text("{}")


def disagreement(cell: str) -> dict:
    return {"cell": cell, "reason": "passed in the kernel, failed outside it"}


def set_manual(course: Path, student: str, cell: str, score: float) -> None:
    """What formgrader does when the instructor types a score: grade.manual_score."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "mnist-cnn") as gradebook:
        gradebook.find_grade(cell, ASSIGNMENT, ASSIGNMENT, student).manual_score = score
        gradebook.db.commit()


@pytest.fixture()
def course(tmp_path) -> Path:
    course = bare_course(tmp_path / "course")
    build_gradebook(course, {
        "fine": {"auto": (1, 2)},
        "flagged": {"auto": (1, 0)},
        "twoflags": {"auto": (0, 0)},
        "unverified": {"auto": (1, 0)},
        "stopped": {"auto": (1, 0)},
        "late": {"auto": (1, 2), "late": timedelta(hours=3)},
    })
    record(course, "fine")
    record(course, "flagged", flags=[disagreement("test_scale_range")],
           disagreements=[{"cell": "test_scale_range", "kernel": True, "trusted": False, "message": "m"}])
    record(course, "twoflags", flags=[disagreement("test_scale_pair"), disagreement("test_scale_range")])
    record(course, "unverified", could_not_verify=NOT_VERIFIED, flags=[
        {"cell": "test_scale_range", "reason": f"hidden test not verified: the grader could not verify this notebook ({NOT_VERIFIED})"},
        {"cell": None, "reason": f"could not verify: {NOT_VERIFIED}"}])
    record(course, "stopped", stopped="the kernel died (it used more than the 4 GiB memory cap)")
    record(course, "late")
    (course / "submitted" / "broken" / ASSIGNMENT).mkdir(parents=True)
    (course / "autograded" / f"broken.{ASSIGNMENT}.grading-error.log").write_text("nbgrader could not read the notebook\n")
    return course


def run_review(course: Path) -> tuple[dict[str, review.Entry], str]:
    console = Console(file=io.StringIO(), width=300)
    entries = review.main(ASSIGNMENT, root=course, console=console)
    return {entry.student: entry for entry in entries}, console.file.getvalue()


def test_every_reason_is_listed_in_words_with_its_paths(course):
    entries, out = run_review(course)
    assert set(entries) == {"flagged", "twoflags", "unverified", "stopped", "late", "broken"}  # "fine" needs nobody
    assert all(entry.needs_review for entry in entries.values())
    kinds = {student: [reason.kind for reason in entry.reasons] for student, entry in entries.items()}
    assert kinds == {"flagged": ["flagged"], "twoflags": ["flagged", "flagged"], "unverified": ["could not verify"],
                     "stopped": ["stopped early"], "late": ["submitted late"], "broken": ["not graded"]}
    assert "flagged: test_scale_range: passed in the kernel, failed outside it" in out
    assert (f"could not verify: {NOT_VERIFIED} (hidden tests not checked, 0 points until scored by hand: test_scale_range)") in out
    assert "stopped early: the kernel died (it used more than the 4 GiB memory cap)" in out
    assert "submitted late: 3 h after the due date (2026-11-20 23:59 UTC); late penalty 0.3 of 3 point(s)" in out
    assert f"not graded: nbgrader could not read the notebook (log: autograded/broken.{ASSIGNMENT}.grading-error.log)" in out
    flagged = entries["flagged"].paths
    assert flagged["notebook"] == f"autograded/flagged/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
    assert flagged["verification"] == f"autograded/flagged/{ASSIGNMENT}/verification.json"
    assert flagged["feedback"] == f"feedback/flagged/{ASSIGNMENT}/{ASSIGNMENT}.html (missing)"  # `course feedback` not run
    assert flagged["formgrader"].startswith("/formgrader/submissions/") and flagged["formgrader"].endswith("/")
    assert entries["broken"].paths == {"submission": f"submitted/broken/{ASSIGNMENT}",
                                       "grading log": f"autograded/broken.{ASSIGNMENT}.grading-error.log"}
    assert "6 student(s) need a human" in out and "fine" not in out


def test_a_manual_score_decides_and_shows_as_manual_everywhere(course, tmp_path):
    set_manual(course, "flagged", "test_scale_range", 2)  # the flagged cell: decided
    set_manual(course, "twoflags", "test_scale_pair", 1)  # one of two flagged cells: still listed
    set_manual(course, "stopped", "test_scale_pair", 1)  # a reason naming no cell: any manual score decides it
    set_manual(course, "late", "test_scale_range", 2)  # the autograde's own score, confirmed
    set_manual(course, "unverified", "test_scale_pair", 1)  # not the unverified hidden test: still listed
    set_manual(course, "fine", "test_scale_pair", 0)  # no reason from grading, yet a decision: shown
    entries, out = run_review(course)
    pending = sorted(student for student, entry in entries.items() if entry.needs_review)
    assert pending == ["broken", "twoflags", "unverified"]
    assert [reason.decided for reason in entries["twoflags"].reasons] == [True, False]
    assert "Decided (4)" in out
    assert "flagged: test_scale_range 2 (autograde 0)" in out and "fine: test_scale_pair 0 (autograde 1)" in out
    # the override is the score, and said to be one, in the export
    export.main(ASSIGNMENT, tmp_path / "grades.csv", root=course, console=Console(file=io.StringIO()))
    rows = {line.split(",")[0]: line for line in (tmp_path / "grades.csv").read_text().splitlines()}
    assert rows["flagged"].startswith("flagged,mnist_cnn,3.0,3.0,")
    assert "graded; manual score: test_scale_range 2 (autograde 0)" in rows["flagged"]
    set_manual(course, "unverified", "test_scale_range", 2)
    entries, _ = run_review(course)
    assert not entries["unverified"].needs_review


def test_nothing_to_review(tmp_path):
    course = bare_course(tmp_path / "course")
    build_gradebook(course, {"fine": {"auto": (1, 2)}})
    record(course, "fine")
    entries, out = run_review(course)
    assert entries == {} and "0 student(s) need a human (nothing to review)" in out
