"""`course export`: every submitted student gets a row with a status, and no cell can run as a spreadsheet formula."""

import csv
import io
import os
import shutil
import sys

import pytest
from nbgrader.api import Gradebook
from rich.console import Console

from conftest import ROOT
from course import export
from course.csv_safety import safe_csv_cell

ASSIGNMENT = "mnist_cnn"
CELLS = ("test_scale_pair", "test_scale_range")


def bare_course(path):
    path.mkdir(parents=True)
    (path / "nbgrader_config.py").write_text(
        "import os\nc = get_config()\nc.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))\n"
        'c.CourseDirectory.course_id = "mnist-cnn"\n'
    )
    shutil.copytree(ROOT / "source", path / "source")
    return path


def grade(course, scores: dict[str, tuple[float, float]]):
    """A gradebook where each student got these scores on the two cells (out of 1 and 2)."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "mnist-cnn") as gradebook:
        gradebook.add_assignment(ASSIGNMENT)
        gradebook.add_notebook(ASSIGNMENT, ASSIGNMENT)
        for cell, points in zip(CELLS, (1, 2)):
            gradebook.add_grade_cell(cell, ASSIGNMENT, ASSIGNMENT, max_score=points, cell_type="code")
        for student, values in scores.items():
            gradebook.add_student(student)
            submission = gradebook.add_submission(ASSIGNMENT, student)
            for grade_entry in submission.notebooks[0].grades:
                grade_entry.auto_score = values[CELLS.index(grade_entry.name)]
            gradebook.db.commit()


def submit(course, *students):
    for student in students:
        folder = os.path.join(os.fsencode(course / "submitted"), student if isinstance(student, bytes) else os.fsencode(student), ASSIGNMENT.encode())
        os.makedirs(folder)


def export_rows(course, assignment=ASSIGNMENT):
    export.main(assignment, course / "grades.csv", root=course, console=Console(file=io.StringIO()))
    with open(course / "grades.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module", autouse=True)
def alembic_on_path():
    """nbgrader's Gradebook runs the `alembic` script of this environment (as `course` arranges for itself)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
        yield


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course to read (copy it to change it): making a gradebook takes seconds."""
    course = bare_course(tmp_path_factory.mktemp("export") / "course")
    # graded: s001, ab, a[b] (nbgrader's glob read a[b] as ab), -rf; submitted but never graded: s002 (the grader
    # failed), s003, @cmd; undecodable: caf\xe9 (Latin-1 bytes, not UTF-8)
    grade(course, {"s001": (1, 2), "ab": (0, 1), "a[b]": (0, 1), "-rf": (1, 0)})
    submit(course, "s001", "ab", "a[b]", "-rf", "s002", "s003", "@cmd", b"caf\xe9")
    (course / "autograded").mkdir()
    (course / "autograded" / f"s002.{ASSIGNMENT}.grading-error.log").write_text("\nnbgrader could not read the notebook\nTraceback ...\n")
    return course


def test_every_submitted_student_has_a_row_with_a_status(course):
    rows = {row["student"]: row for row in export_rows(course)}
    assert len(rows) == 8
    assert rows["s001"]["status"] == "graded" and float(rows["s001"]["total"]) == 3
    assert rows["ab"]["status"] == "graded" and float(rows["ab"]["total"]) == 1
    for student in ("s002", "s003"):
        assert rows[student]["status"].startswith("not graded") and rows[student]["total"] == "", rows[student]
        assert float(rows[student]["max_score"]) == 3 and rows[student]["test_scale_pair"] == ""
    assert rows["s002"]["status"] == f"not graded: nbgrader could not read the notebook (log: autograded/s002.{ASSIGNMENT}.grading-error.log)"
    assert rows["s003"]["status"] == "not graded"
    for student in ("a[b]", "'@cmd", "caf\\xe9"):  # unsafe ids: never a score, whatever the gradebook holds
        assert rows[student]["status"] == "refused: unsafe student id" and rows[student]["total"] == "", rows[student]
    assert "not valid UTF-8" in rows["caf\\xe9"]["flags"]


def test_columns_are_kept_and_status_added(course):
    header = list(export_rows(course)[0])
    assert header[:6] == ["student", "assignment", "total", "max_score", "flags", "status"]
    assert header[6:] == list(CELLS)


def test_no_cell_starts_a_formula(course):
    rows = export_rows(course)
    cells = [cell for row in rows for cell in row.values()]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
    students = {row["student"] for row in rows}
    assert {"'-rf", "'@cmd"} <= students
    assert next(row for row in rows if row["student"] == "'-rf")["status"] == "graded"  # a safe id, escaped all the same


def test_export_of_all_assignments_lists_submitted_folders_too(course, tmp_path):
    course = shutil.copytree(course, tmp_path / "copy")
    (course / "submitted" / "s009" / "cnn_tutorial").mkdir(parents=True)
    rows = {(row["student"], row["assignment"]): row for row in export_rows(course, None)}
    assert rows[("s009", "cnn_tutorial")]["status"] == "not graded" and len(rows) == 9


def test_submitted_but_not_yet_graded_assignment(tmp_path):
    course = bare_course(tmp_path / "course")
    submit(course, "s001")
    rows = export_rows(course)
    assert [(row["student"], row["status"], row["total"]) for row in rows] == [("s001", "not graded", "")]


@pytest.mark.parametrize(
    "value, written",
    [("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
     ("plain", "plain"), ("", ""), (-1.5, -1.5), (None, None)],
)
def test_safe_csv_cell(value, written):
    assert safe_csv_cell(value) == written
