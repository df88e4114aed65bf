"""`course collect` on an LMS bulk download: who lands where, what is reported, and whose grades they become."""

import csv
import json

import pytest

from conftest import ASSIGNMENT, ROOT, cell_scores, make_course, run_course

LMS = ROOT / "grader_tests" / "lms"
EXPECTED = json.loads((LMS / "expected.json").read_text())
ARCHIVE = LMS / "mnist_cnn_lms_export.zip"
MAPPING = LMS / "lms_id_mapping.csv"


def collect(course):
    return run_course(course, "collect", ASSIGNMENT, str(ARCHIVE), "--mapping", str(MAPPING))


def report_rows(course):
    with open(course / "downloaded" / ASSIGNMENT / "collect_report.csv") as handle:
        return {row["file"]: row for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("lms"))
    return course, collect(course)


def test_exactly_the_right_students_land_with_the_right_file(collected):
    course, _ = collected
    submitted = course / "submitted"
    assert sorted(path.name for path in submitted.iterdir()) == sorted(EXPECTED["filed"])
    extracted = course / "downloaded" / ASSIGNMENT / "extracted" / ARCHIVE.stem
    for student, expected in EXPECTED["filed"].items():
        folder = submitted / student / ASSIGNMENT
        assert sorted(path.name for path in folder.iterdir()) == [f"{ASSIGNMENT}.ipynb", "timestamp.txt"]
        assert (folder / f"{ASSIGNMENT}.ipynb").read_bytes() == (extracted / expected["file"]).read_bytes(), student
        assert (folder / "timestamp.txt").read_text() == expected["timestamp"]


def test_every_file_is_reported(collected):
    course, result = collected
    rows = report_rows(course)
    expected_files = {entry["file"] for entry in EXPECTED["filed"].values()} | set(EXPECTED["superseded"]) | set(EXPECTED["unfiled"])
    assert set(rows) == expected_files
    for student, expected in EXPECTED["filed"].items():
        assert rows[expected["file"]]["outcome"] == "filed" and rows[expected["file"]]["student"] == student
    assert "renamed by the student (My homework (final).ipynb)" in rows[EXPECTED["filed"]["s003"]["file"]]["detail"]
    assert "was in the sub-folder late/" in rows[EXPECTED["filed"]["s004"]["file"]]["detail"]
    assert "renamed" not in rows[EXPECTED["filed"]["s001"]["file"]]["detail"]
    for name, reason in EXPECTED["unfiled"].items():
        assert rows[name]["outcome"] == "unfiled" and reason in rows[name]["detail"], rows[name]
    assert "6 file(s) not filed" in result.stdout


def test_nothing_is_dropped(collected):
    course, _ = collected
    downloaded = course / "downloaded" / ASSIGNMENT
    for name in EXPECTED["unfiled"]:
        assert (downloaded / "unfiled" / name).is_file()
    for name in EXPECTED["superseded"]:
        row = report_rows(course)[name]
        assert row["outcome"] == "superseded"
        assert (downloaded / "superseded" / "s005" / f"older-upload_{name}").is_file()


def test_collecting_again_keeps_the_earlier_submissions(tmp_path):
    course = make_course(tmp_path / "course")
    collect(course)
    first = (course / "submitted" / "s001" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()
    collect(course)
    kept = list((course / "downloaded" / ASSIGNMENT / "superseded" / "s001").glob(f"previously-collected_*/{ASSIGNMENT}.ipynb"))
    assert len(kept) == 1 and kept[0].read_bytes() == first
    assert (course / "submitted" / "s001" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes() == first


def test_grades_after_collect_belong_to_the_right_students(collected):
    course, _ = collected
    run_course(course, "grade", ASSIGNMENT)
    for student, expected in EXPECTED["filed"].items():
        assert sum(cell_scores(course, student).values()) == expected["score"], student


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["missing.zip"], "does not exist"),
        ([str(MAPPING)], "is not a zip archive"),
        ([], "Give the LMS bulk download"),
        ([str(ARCHIVE), "--mapping", str(ARCHIVE)], "must be a CSV with the columns lms_id and student_id"),
    ],
)
def test_bad_input_is_named(tmp_path, arguments, message):
    course = make_course(tmp_path / "course")
    result = run_course(course, "collect", ASSIGNMENT, *arguments, check=False)
    assert result.returncode == 2 and message in result.stdout.replace("\n", "")


def test_lms_fixture_is_current(tmp_path):
    import build_lms_export

    saved = {path.name: path.read_bytes() for path in LMS.iterdir()}
    try:
        build_lms_export.main()
        assert {path.name: path.read_bytes() for path in LMS.iterdir()} == saved, "run python grader_tests/build_lms_export.py"
    finally:
        for name, content in saved.items():
            (LMS / name).write_bytes(content)
