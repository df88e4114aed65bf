"""`course export --format canvas|moodle`: the LMS's own grade import files, checked against golden files written
from the documented formats (the golden files' sources are in tests/golden/README.md).

The gradebook is built directly with nbgrader's Gradebook API (no notebook runs): a student on time, one late, one
with a manual score from formgrader, one whose grading failed, one on the roster who never submitted, one graded but
not on the roster, and a roster name that a spreadsheet would read as a formula.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from nbgrader.api import Gradebook
from rich.console import Console

from conftest import ROOT
from course import export
from course.coursedir import CourseError

ASSIGNMENT = "mnist_cnn"
CELLS = ("test_scale_pair", "test_scale_range")  # out of 1 and 2
DUE = datetime(2026, 11, 20, 23, 59)  # UTC, as nbgrader stores it
GOLDEN = Path(__file__).resolve().parent / "golden"
LATE_POLICY = (
    'c.AssignLatePenalties.plugin_class = "course.late.PenaltyPerStartedDay"\n'
    "c.PenaltyPerStartedDay.percent_per_day = 10\n"
    "c.PenaltyPerStartedDay.max_percent = 50\n"
)
ROSTER = """lms_id,student_id,name,canvas_id,sis_user_id,sis_login_id,section,idnumber,email
1001,s001,"Lovelace, Ada",1001,A001,ada,Section 1,A001,ada@example.edu
1002,s002,"Late, Brook",1002,A002,brook,Section 1,A002,brook@example.edu
1003,s003,"Manual, Cai",1003,A003,cai,Section 2,A003,cai@example.edu
1004,s004,"NotGraded, Dee",1004,A004,dee,Section 2,A004,dee@example.edu
1005,s005,"Absent, Eve",1005,A005,eve,Section 2,A005,eve@example.edu
1006,s006,"NoIds, Finn",,,,Section 2,,
1007,s007,"=Formula, Fay",1007,A007,fay,Section 2,A007,fay@example.edu
"""
# What a Canvas gradebook export looks like (Gradebook > Export): its own rows and read-only columns included.
CANVAS_EXPORT = """Student,ID,SIS User ID,SIS Login ID,Section,MNIST CNN (4242),Quiz 1 (4243),Current Score,Unposted Current Score,Final Score,Unposted Final Score
    Points Possible,,,,,3.00,10.00,(read only),(read only),(read only),(read only)
"Lovelace, Ada",1001,A001,ada,Section 1,,8.00,80.00,80.00,61.54,61.54
"Late, Brook",1002,A002,brook,Section 1,,9.00,90.00,90.00,69.23,69.23
"Manual, Cai",1003,A003,cai,Section 2,,7.00,70.00,70.00,53.85,53.85
"NotGraded, Dee",1004,A004,dee,Section 2,,,,,,
"Absent, Eve",1005,A005,eve,Section 2,,6.00,60.00,60.00,46.15,46.15
"Student, Test",9999,,,Section 1,,,,,,
"""


@pytest.fixture(scope="module", autouse=True)
def alembic_on_path():
    """nbgrader's Gradebook runs the `alembic` script of this environment (as `course` arranges for itself)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
        yield


def bare_course(path: Path, config: str = LATE_POLICY) -> Path:
    path.mkdir(parents=True)
    (path / "nbgrader_config.py").write_text(
        "import os\nc = get_config()\nc.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))\n"
        'c.CourseDirectory.course_id = "mnist-cnn"\n' + config
    )
    shutil.copytree(ROOT / "source", path / "source")
    return path


def build_gradebook(course: Path, students: dict[str, dict], due: datetime | None = DUE) -> None:
    """Each student: {"auto": (pair, range), "manual": {cell: score}, "late": timedelta}; a submitted/ folder each."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "mnist-cnn") as gradebook:
        gradebook.add_assignment(ASSIGNMENT, duedate=due)
        gradebook.add_notebook(ASSIGNMENT, ASSIGNMENT)
        for cell, points in zip(CELLS, (1, 2)):
            gradebook.add_grade_cell(cell, ASSIGNMENT, ASSIGNMENT, max_score=points, cell_type="code")
        for student, spec in students.items():
            gradebook.add_student(student)
            timestamp = (due or DUE) + spec.get("late", timedelta(hours=-1))
            submission = gradebook.add_submission(ASSIGNMENT, student, timestamp=timestamp)
            for grade in submission.notebooks[0].grades:
                grade.auto_score = spec["auto"][CELLS.index(grade.name)]
                grade.manual_score = spec.get("manual", {}).get(grade.name)
            gradebook.db.commit()
            (course / "submitted" / student / ASSIGNMENT).mkdir(parents=True)


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    course = bare_course(tmp_path_factory.mktemp("lms") / "course")
    build_gradebook(course, {
        "s001": {"auto": (1, 2)},
        "s002": {"auto": (1, 2), "late": timedelta(hours=26)},  # 2 started days: 20% of 3
        "s003": {"auto": (1, 0), "manual": {"test_scale_range": 2}},
        "s099": {"auto": (0, 1)},  # not on the roster
    })
    (course / "submitted" / "s004" / ASSIGNMENT).mkdir(parents=True)  # submitted; the grader failed
    (course / "autograded").mkdir()
    (course / "autograded" / f"s004.{ASSIGNMENT}.grading-error.log").write_text("nbgrader could not read the notebook\n")
    (course / "roster.csv").write_text(ROSTER)
    (course / "canvas_export.csv").write_text(CANVAS_EXPORT)
    return course


def run_export(course: Path, output: Path, **options) -> str:
    console = Console(file=io.StringIO(), width=300)
    export.main(ASSIGNMENT, output, root=course, console=console, **options)
    return console.file.getvalue()


def golden(name: str) -> str:
    return (GOLDEN / name).read_text(encoding="utf-8")


def test_canvas_import_file_matches_the_golden_file(course, tmp_path):
    out = run_export(course, tmp_path / "canvas.csv", format="canvas", roster=course / "roster.csv", lms_assignment="MNIST CNN (4242)")
    assert (tmp_path / "canvas.csv").read_text(encoding="utf-8") == golden("canvas_mnist_cnn.csv")
    # the instructor is told who is left out and why, and what each total holds
    assert "Not on the roster, left out (1): s099" in out
    assert "s006: no canvas_id, sis_user_id or sis_login_id on the roster" in out
    assert "submitted but not graded (empty cell) (1): s004 (not graded: nbgrader could not read the notebook" in out
    assert "no submission (empty cell) (2): s005, s007" in out
    assert "s002: late 1 day 2 h: penalty 0.6 of 3" in out and "s003: manual score: test_scale_range 2 (autograde 0)" in out


def test_canvas_file_reads_as_canvas_reads_it(course, tmp_path):
    """Canvas's importer: 'Student' then 'ID' first, 'Section' last of the student columns, a 'Points Possible' row,
    and every other column an assignment named '<name> (<id>)' (anything else would create a new assignment)."""
    run_export(course, tmp_path / "canvas.csv", format="canvas", roster=course / "roster.csv", lms_assignment="MNIST CNN (4242)")
    rows = list(csv.reader(open(tmp_path / "canvas.csv", newline="", encoding="utf-8")))
    header, points = rows[0], rows[1]
    assert header[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"] and header[5:] == ["MNIST CNN (4242)"]
    assert "Points Possible" in points[0] and float(points[5]) == 3
    by_login = {row[3]: row for row in rows[2:]}
    assert by_login["ada"][5] == "3" and by_login["brook"][5] == "2.4" and by_login["cai"][5] == "3"
    assert by_login["dee"][5] == "" and by_login["eve"][5] == ""
    assert "s099" not in {cell for row in rows for cell in row} and "Finn" not in open(tmp_path / "canvas.csv").read()


def test_moodle_import_file_matches_the_golden_file(course, tmp_path):
    run_export(course, tmp_path / "moodle.csv", format="moodle", roster=course / "roster.csv", lms_assignment="MNIST CNN")
    assert (tmp_path / "moodle.csv").read_text(encoding="utf-8") == golden("moodle_mnist_cnn.csv")


def test_moodle_by_email(course, tmp_path):
    run_export(course, tmp_path / "moodle.csv", format="moodle", roster=course / "roster.csv", moodle_user_field="email")
    rows = list(csv.DictReader(open(tmp_path / "moodle.csv", newline="", encoding="utf-8")))
    assert list(rows[0]) == ["Email address", ASSIGNMENT, "Late penalty", "Notes"]
    assert {row["Email address"]: row[ASSIGNMENT] for row in rows}["brook@example.edu"] == "2.4"


def test_missing_students_get_zero_when_asked(course, tmp_path):
    out = run_export(course, tmp_path / "canvas.csv", format="canvas", roster=course / "roster.csv",
                     lms_assignment="MNIST CNN (4242)", missing="zero")
    rows = {row["SIS Login ID"]: row["MNIST CNN (4242)"] for row in csv.DictReader(open(tmp_path / "canvas.csv", encoding="utf-8"))}
    assert rows["eve"] == "0" and rows["fay"] == "0"  # never submitted
    assert rows["dee"] == ""  # submitted, not graded: never a zero
    assert "no submission (0) (2): s005, s007" in out


def test_canvas_gradebook_export_as_roster(tmp_path):
    """A Canvas gradebook export is a roster too: its rows matched to the course's student ids (here JupyterHub user
    names, which are the SIS logins) by SIS Login ID, its assignment column found by name, its own rows (Points
    Possible, the Test Student without a login) never graded by guessing."""
    course = bare_course(tmp_path / "course")
    build_gradebook(course, {"ada": {"auto": (1, 2)}, "brook": {"auto": (1, 2), "late": timedelta(hours=26)},
                             "cai": {"auto": (1, 0), "manual": {"test_scale_range": 2}}, "zed": {"auto": (0, 1)}})
    (course / "submitted" / "dee" / ASSIGNMENT).mkdir(parents=True)
    (course / "canvas_export.csv").write_text(CANVAS_EXPORT)
    out = run_export(course, tmp_path / "canvas.csv", format="canvas", roster=course / "canvas_export.csv",
                     lms_assignment="MNIST CNN", match_column="SIS Login ID")
    assert (tmp_path / "canvas.csv").read_text(encoding="utf-8") == golden("canvas_mnist_cnn_from_export.csv")
    assert "Student, Test (line 8): no SIS Login ID" in out
    assert "Not on the roster, left out (1): zed" in out
    assert "submitted but not graded (empty cell) (1): dee (not graded)" in out
    assert "no submission (empty cell) (1): eve" in out
    with pytest.raises(CourseError, match="without a 'SIS User Id' column"):
        run_export(course, tmp_path / "x.csv", format="canvas", roster=course / "canvas_export.csv", match_column="SIS User Id")


def test_canvas_notes_column(course, tmp_path):
    run_export(course, tmp_path / "canvas.csv", format="canvas", roster=course / "roster.csv",
               lms_assignment="MNIST CNN (4242)", notes_column="Notes")
    rows = list(csv.reader(open(tmp_path / "canvas.csv", newline="", encoding="utf-8")))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Notes", "MNIST CNN (4242)"]
    notes = {row[3]: row[5] for row in rows[2:]}
    assert notes["brook"] == "late 1 day 2 h: penalty 0.6 of 3" and notes["cai"] == "manual score: test_scale_range 2 (autograde 0)"


def test_canvas_needs_the_assignment_id(course, tmp_path):
    with pytest.raises(CourseError, match=r"'<name> \(<assignment id>\)'"):
        run_export(course, tmp_path / "canvas.csv", format="canvas", roster=course / "roster.csv")
    with pytest.raises(CourseError, match="needs --roster"):
        run_export(course, tmp_path / "canvas.csv", format="canvas")


def test_a_roster_naming_a_student_twice_is_refused(course, tmp_path):
    (tmp_path / "roster.csv").write_text(ROSTER + "1099,s001,Someone Else,1099,,,,,\n")
    with pytest.raises(CourseError, match="names the student id 's001' twice"):
        run_export(course, tmp_path / "canvas.csv", format="canvas", roster=tmp_path / "roster.csv", lms_assignment="X (1)")


def test_default_csv_keeps_its_columns_and_says_manual_and_late(course, tmp_path):
    run_export(course, tmp_path / "grades.csv")
    rows = list(csv.DictReader(open(tmp_path / "grades.csv", newline="", encoding="utf-8")))
    assert list(rows[0]) == ["student", "assignment", "total", "max_score", "flags", "status", *CELLS]
    by_student = {row["student"]: row for row in rows}
    assert by_student["s001"]["status"] == "graded" and float(by_student["s001"]["total"]) == 3
    assert by_student["s002"]["status"] == "graded; late 1 day 2 h: penalty 0.6" and float(by_student["s002"]["total"]) == 2.4
    assert by_student["s003"]["status"] == "graded; manual score: test_scale_range 2 (autograde 0)"
    assert float(by_student["s003"]["total"]) == 3 and float(by_student["s003"]["test_scale_range"]) == 2
    assert by_student["s004"]["status"].startswith("not graded")


def test_command_line(course, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "course", "export", ASSIGNMENT, "--format", "moodle", "--roster", "roster.csv",
         "--lms-assignment", "MNIST CNN", "-o", str(tmp_path / "moodle.csv")],
        cwd=course, capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "moodle.csv").read_text(encoding="utf-8") == golden("moodle_mnist_cnn.csv")
    assert "Wrote the Moodle import file" in result.stdout and "s099" in result.stdout


def test_the_roster_is_the_one_course_collect_takes(course):
    """The LMS columns are extra columns of the `course collect --mapping` roster, which collect reads as before."""
    from course.collect import read_mapping

    assert read_mapping(course / "roster.csv") == {f"100{n}": f"s00{n}" for n in range(1, 8)}
