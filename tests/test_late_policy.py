"""The late policy: nbgrader's due date and the course's late-submission plugin, from the upload time to every export.

The fast tests build the gradebook with nbgrader's API; the slow one runs the real chain once, on the fast fixture
(the untouched release): an LMS download whose file name says when it was uploaded, `course collect`, the due date
set with `nbgrader db assignment add --duedate`, `course grade`, a manual score as formgrader stores it, then every
export format.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from datetime import timedelta
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.coursedir import CourseDirectory
from rich.console import Console
from traitlets.config import Config

from conftest import ROOT
from course import export, report, review
from course.late import PenaltyPerStartedDay, configured_penalty, describe_lateness
from test_lms_export import ASSIGNMENT, DUE, ROSTER, bare_course, build_gradebook

DAY = 24 * 3600


@pytest.fixture(scope="module", autouse=True)
def alembic_on_path():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
        yield


def plugin(**traits) -> PenaltyPerStartedDay:
    config = Config()
    for name, value in traits.items():
        setattr(config.PenaltyPerStartedDay, name, value)
    return PenaltyPerStartedDay(config=config)


@pytest.mark.parametrize("seconds_late, percent", [
    (0, 0), (1, 10), (DAY, 10), (DAY + 1, 20), (3 * DAY, 30), (30 * DAY, 50),
])
def test_percent_per_started_day_capped(seconds_late, percent):
    assert plugin().percent(seconds_late) == percent
    assert plugin().late_submission_penalty("s", 20.0, seconds_late) == (None if not percent else 20.0 * percent / 100)


def test_traits_come_from_config():
    late = plugin(percent_per_day=25, max_percent=60, grace_minutes=15)
    assert late.percent(14 * 60) == 0 and late.percent(16 * 60) == 25 and late.percent(5 * DAY) == 60


def test_configured_penalty_is_the_plugin_nbgrader_is_configured_with():
    config = Config()
    config.AssignLatePenalties.plugin_class = "course.late.PenaltyPerStartedDay"
    config.PenaltyPerStartedDay.percent_per_day = 20
    penalty = configured_penalty(config)
    assert penalty("s", 10.0, 3600) == 2.0 and penalty("s", 10.0, 0) == 0.0
    assert configured_penalty(Config())("s", 10.0, 3600) == 0.0  # nbgrader's default plugin: no penalty


def test_the_course_config_names_the_plugin():
    """nbgrader_config.py is where the penalty lives: the plugin class and its traits."""
    from course.coursedir import nbgrader_api

    config = nbgrader_api(ROOT).config
    assert config.AssignLatePenalties.plugin_class in (PenaltyPerStartedDay, "course.late.PenaltyPerStartedDay")
    assert configured_penalty(config)("s", 10.0, DAY + 1) == 10.0 * 2 * config.PenaltyPerStartedDay.percent_per_day / 100


def test_collect_timestamps_are_what_nbgrader_reads(tmp_path):
    """`course collect` writes the upload time as timestamp.txt; nbgrader's autograde reads it into the gradebook."""
    from course.collect import parse_lms_timestamp

    (tmp_path / "timestamp.txt").write_text(parse_lms_timestamp("20261121T101500").isoformat(" "))
    assert CourseDirectory().get_existing_timestamp(str(tmp_path)) == DUE + timedelta(hours=10, minutes=16)


def test_nbgrader_stores_the_plugins_penalty(tmp_path):
    """`course grade` runs nbgrader's AssignLatePenalties with the configured plugin: it stores this penalty."""
    from nbgrader.preprocessors import AssignLatePenalties

    course = bare_course(tmp_path / "course")
    build_gradebook(course, {"late": {"auto": (1, 2), "late": timedelta(days=2, hours=1)}})
    config = Config()
    config.AssignLatePenalties.plugin_class = PenaltyPerStartedDay
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    resources = {"nbgrader": {"notebook": ASSIGNMENT, "assignment": ASSIGNMENT, "student": "late", "db_url": db_url}}
    AssignLatePenalties(config=config).preprocess(nbformat.v4.new_notebook(), resources)
    with Gradebook(db_url, "mnist-cnn") as gradebook:
        submission = gradebook.find_submission(ASSIGNMENT, "late")
        assert submission.notebooks[0].late_submission_penalty == pytest.approx(0.9)  # 3 started days: 30% of 3
    table = export.grade_table(db_url, "mnist-cnn", ASSIGNMENT)  # no plugin given: nbgrader's stored penalty
    assert table.loc[0, "total"] == pytest.approx(2.1)


def every_format(course: Path, out: Path) -> dict[str, str]:
    """The late student's line in the default CSV, the Canvas and Moodle files, the report, and course review."""
    console = Console(file=io.StringIO(), width=300)
    export.main(ASSIGNMENT, out / "grades.csv", root=course, console=console)
    export.main(ASSIGNMENT, out / "canvas.csv", root=course, console=console, format="canvas", roster=course / "roster.csv",
                lms_assignment="MNIST CNN (4242)")
    export.main(ASSIGNMENT, out / "moodle.csv", root=course, console=console, format="moodle", roster=course / "roster.csv")
    _, html_path = report.main(ASSIGNMENT, root=course, console=console)
    review.main(ASSIGNMENT, root=course, console=console)
    return {"console": console.file.getvalue(), "report": html_path.read_text(),
            **{name: (out / f"{name}.csv").read_text(encoding="utf-8") for name in ("grades", "canvas", "moodle")}}


def test_a_late_submission_is_penalised_in_every_format(tmp_path):
    course = bare_course(tmp_path / "course")
    build_gradebook(course, {"s001": {"auto": (1, 2)}, "s002": {"auto": (1, 2), "late": timedelta(days=1, hours=2)}})
    (course / "roster.csv").write_text(ROSTER)
    (tmp_path / "out").mkdir()
    seen = every_format(course, tmp_path / "out")
    # 26 h late = 2 started days = 20% of 3 points
    grades = {row["student"]: row for row in csv.DictReader(io.StringIO(seen["grades"]))}
    assert float(grades["s002"]["total"]) == 2.4 and grades["s002"]["status"] == "graded; late 1 day 2 h: penalty 0.6"
    assert float(grades["s001"]["total"]) == 3 and grades["s001"]["status"] == "graded"
    canvas = {row["SIS Login ID"]: row["MNIST CNN (4242)"] for row in csv.DictReader(io.StringIO(seen["canvas"]))}
    assert canvas["brook"] == "2.4" and canvas["ada"] == "3"
    moodle = {row["ID number"]: row for row in csv.DictReader(io.StringIO(seen["moodle"]))}
    assert moodle["A002"]["mnist_cnn"] == "2.4" and moodle["A002"]["Late penalty"] == "0.6"
    assert moodle["A002"]["Notes"] == "late 1 day 2 h: penalty 0.6 of 3" and moodle["A001"]["Late penalty"] == ""
    assert "<td>s002</td><td>2.4</td><td>3</td><td></td><td>1 day 2 h late: penalty 0.6</td>" in seen["report"]
    assert "s002: late 1 day 2 h: penalty 0.6 of 3" in seen["console"]  # the Canvas export says it on the console
    assert "submitted late: 1 day 2 h after the due date (2026-11-20 23:59 UTC); late penalty 0.6 of 3 point(s)" in seen["console"]


def test_describe_lateness():
    assert [describe_lateness(s) for s in (40, 600, 3 * 3600 + 60, DAY, 2 * DAY + 3600)] == [
        "40 s", "10 min", "3 h 1 min", "1 day", "2 days 1 h"]


# --- the real chain, once ------------------------------------------------------------------------------------------


def make_course(path: Path) -> Path:
    """A copy of this course (its nbgrader_config.py, with the late policy, source and release), nothing graded."""
    path.mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", path)
    shutil.copytree(ROOT / "source", path / "source")
    shutil.copytree(ROOT / "release", path / "release")
    return path


def run_course(course: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "course", *args], cwd=course, capture_output=True, text=True,
                            env={**os.environ, "COLUMNS": "250"})
    assert result.returncode == 0, f"course {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.slow
def test_upload_time_to_penalty_through_the_real_commands(tmp_path, mnist_path):
    course = make_course(tmp_path / "course")
    untouched = (ROOT / "grader_tests" / "submissions" / "untouched_release.ipynb").read_bytes()
    with zipfile.ZipFile(tmp_path / "download.zip", "w") as download:  # uploaded 10 h 16 min after the due date
        download.writestr("brook_1002_20261121T101500_mnist_cnn.ipynb", untouched)
        download.writestr("ada_1001_20261120T120000_mnist_cnn.ipynb", untouched)
    (course / "roster.csv").write_text(ROSTER.replace(",s001,", ",ada,").replace(",s002,", ",brook,"))
    run_course(course, "collect", ASSIGNMENT, str(tmp_path / "download.zip"), "--mapping", "roster.csv")
    assert (course / "submitted" / "brook" / ASSIGNMENT / "timestamp.txt").read_text() == "2026-11-21 10:15:00+00:00"
    subprocess.run([sys.executable, "-m", "nbgrader", "db", "assignment", "add", ASSIGNMENT, "--duedate=2026-11-20 23:59:00 UTC"],
                   cwd=course, check=True, capture_output=True, env={**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]})
    run_course(course, "grade", ASSIGNMENT, "--workers", "1")
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    with Gradebook(db_url, "mnist-cnn") as gradebook:
        late = gradebook.find_submission(ASSIGNMENT, "brook")
        assert late.total_seconds_late == 10 * 3600 + 16 * 60
        assert gradebook.find_submission(ASSIGNMENT, "ada").total_seconds_late == 0
        # the untouched release scores 0, so 10% of it is 0; the instructor gives 2 points by hand in formgrader
        for student in ("ada", "brook"):
            grade = gradebook.find_grade("test_scale_range", ASSIGNMENT, ASSIGNMENT, student)
            grade.manual_score = 2
        gradebook.db.commit()
    (tmp_path / "out").mkdir()
    seen = every_format(course, tmp_path / "out")
    grades = {row["student"]: row for row in csv.DictReader(io.StringIO(seen["grades"]))}
    assert float(grades["brook"]["total"]) == 1.8 and float(grades["ada"]["total"]) == 2  # 10% of 2 for one started day
    assert grades["brook"]["status"] == "graded; manual score: test_scale_range 2 (autograde 0); late 10 h 16 min: penalty 0.2"
    canvas = {row["SIS Login ID"]: row["MNIST CNN (4242)"] for row in csv.DictReader(io.StringIO(seen["canvas"]))}
    assert canvas["brook"] == "1.8" and canvas["ada"] == "2"
    moodle = {row["ID number"]: row for row in csv.DictReader(io.StringIO(seen["moodle"]))}
    assert moodle["A002"]["mnist_cnn"] == "1.8" and moodle["A002"]["Late penalty"] == "0.2"
    assert "10 h 16 min late: penalty 0.2" in seen["report"]
    assert "submitted late: 10 h 16 min after the due date" in seen["console"]
    verification = json.loads((course / "autograded" / "brook" / ASSIGNMENT / "verification.json").read_text())
    assert verification.get("stopped") is None
