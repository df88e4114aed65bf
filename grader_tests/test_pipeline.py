"""End to end through the real command line: grade, feedback, export, on full notebooks that train.

One grading run serves every test here (two of the three submissions train a CNN: ~1-2 minutes each).
"""

import csv

import nbformat
import pytest
from bs4 import BeautifulSoup

from conftest import ASSIGNMENT, ROOT, assert_golden, cell_scores, make_course, run_course, submit

FIXTURES = ["passes_all", "untouched_release", "fails_conv_metrics_epochs_evaluate"]


@pytest.fixture(scope="module")
def course(tmp_path_factory, mnist_path):
    course = make_course(tmp_path_factory.mktemp("pipeline"))
    for fixture in FIXTURES:
        submit(course, fixture)
    return course


@pytest.fixture(scope="module")
def graded(course):
    result = run_course(course, "grade", ASSIGNMENT)
    return course, result


@pytest.mark.slow
@pytest.mark.parametrize("fixture", FIXTURES)
def test_golden_scores(graded, fixture):
    course, _ = graded
    assert_golden(course, fixture, fixture)


@pytest.mark.slow
def test_grade_reports_each_student(graded):
    _, result = graded
    lines = result.stdout.splitlines()
    assert any(line.startswith("passes_all: 21/21") and "all tests passed" in line for line in lines)
    assert any(line.startswith("untouched_release: 0/21") for line in lines)
    assert any(line.startswith("fails_conv_metrics_epochs_evaluate: 17/21") and "test_model_conv" in line for line in lines)
    assert "Graded 3 of 3 submission(s)" in result.stdout


def hidden_test_lines() -> list[str]:
    """Lines only the hidden tests have (a line the release also shows, like a setup call, is no secret)."""
    released = {
        line.strip()
        for cell in nbformat.read(ROOT / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4).cells
        for line in cell.source.splitlines()
    }
    lines = []
    for cell in nbformat.read(ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4).cells:
        inside = False
        for line in cell.source.splitlines():
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END HIDDEN TESTS" in line:
                inside = False
            elif inside and line.strip() and line.strip() not in released:
                lines.append(line.strip())
    return lines


@pytest.mark.slow
def test_feedback_shows_no_hidden_tests(graded):
    course, _ = graded
    run_course(course, "feedback", ASSIGNMENT)
    html = (course / "feedback" / "fails_conv_metrics_epochs_evaluate" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    text = BeautifulSoup(html, "html.parser").get_text()
    # the search can find code: a visible test line is there
    assert "checks.scaled_pair(scale_mnist_data(train_images, test_images), train_images, test_images)" in text
    hidden = hidden_test_lines()
    assert len(hidden) >= 10
    leaked = [line for line in hidden if line in text]
    assert not leaked, f"hidden test lines in feedback: {leaked}"
    assert "BEGIN HIDDEN TESTS" not in text and "Traceback" not in text
    # the failing tests still say what to change
    assert "Conv2D has 16 filters; the spec asks for 8." in text
    assert "The values are swapped: return (test_loss, test_accuracy), loss first." in text


@pytest.mark.slow
def test_export_matches_the_gradebook(graded):
    course, _ = graded
    run_course(course, "export", ASSIGNMENT, "-o", "out.csv")
    with open(course / "out.csv") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert set(rows) == set(FIXTURES)
    for student, row in rows.items():
        scores = cell_scores(course, student)
        assert float(row["total"]) == sum(scores.values())
        assert {cell: float(row[cell]) for cell in scores} == scores
    header = list(rows["passes_all"])
    assert header[:6] == ["student", "assignment", "total", "max_score", "flags", "status"]
    assert header[6] == "test_scale_pair" and header[-1] == "test_evaluate_accuracy"
    assert all(row["flags"] == "" for row in rows.values())


@pytest.mark.slow
def test_regrading_one_student_keeps_the_others(graded):
    course, _ = graded
    before = {student: cell_scores(course, student) for student in FIXTURES}
    result = run_course(course, "grade", ASSIGNMENT, "--student", "untouched_release")
    assert "Graded 1 of 1 submission(s)" in result.stdout
    assert {student: cell_scores(course, student) for student in FIXTURES} == before
