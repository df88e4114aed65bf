"""The second assignment through the path that decides the score, as the first one is:
- every case of cases.py through the real harness (what it keeps, as files and JSON) and the real verifier (what
  it rebuilds and checks), in this process, without training;
- the fixture submissions through `course grade mnist_confusion` (sandboxed kernels that train), against their
  golden scores, with feedback and export for the class.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from conftest import make_course, run_course
from course.grading import verify
from course.grading.cluster import GradingCluster
from course.grading.preprocessors import answer_cells
from course.sandboxed import harness
from course.spec import load
from mnist_confusion import build_submissions as builder
from mnist_confusion import cases

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ASSIGNMENT = "mnist_confusion"
SPEC = load(ASSIGNMENT)
EXPECTED = json.loads((HERE / "submissions" / "expected_scores.json").read_text())
FIXTURES = sorted(name for name in EXPECTED if not name.startswith("_"))
TRAINED_ONLY = {test.grade_id for artifact in SPEC.artifacts for test in SPEC.tests_on(artifact.name)}


@pytest.fixture(scope="module")
def teaching():
    return GradingCluster(1, None, ROOT, tasks=1).ungraded_sources(ASSIGNMENT, f"{ASSIGNMENT}.ipynb")


@pytest.mark.slow
@pytest.mark.parametrize("case", cases.CASES, ids=[case.name for case in cases.CASES])
def test_the_verdict_outside_the_kernel_is_the_cases(case, teaching, tmp_path, mnist_path):
    answers = tmp_path / "answers.ipynb"
    nbformat.write(answer_cells(builder.build({case.function: case.code}), SPEC.setup_cells, teaching), answers)
    harness.run(answers, SPEC.harness_plan(), tmp_path / "in" / "harness")
    verdicts = verify.Verifier(SPEC, tmp_path / "in").function_verdicts()
    failed = {cell for cell, verdict in verdicts.items() if not verdict["passed"]}
    assert failed == set(case.loses) - TRAINED_ONLY, {cell: verdicts[cell]["message"] for cell in failed ^ set(case.loses)}
    for cell, fragment in case.loses.items():
        if cell in verdicts:
            assert fragment in verdicts[cell]["message"], (cell, verdicts[cell]["message"])


@pytest.fixture(scope="module")
def graded(tmp_path_factory, mnist_path):
    course = make_course(tmp_path_factory.mktemp("confusion"))
    for fixture in FIXTURES:
        target = course / "submitted" / fixture / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        target.parent.mkdir(parents=True)
        shutil.copy(HERE / "submissions" / f"{fixture}.ipynb", target)
    result = run_course(course, "grade", ASSIGNMENT, "--workers", "2")
    return course, result


@pytest.mark.slow
@pytest.mark.parametrize("fixture", FIXTURES)
def test_golden_scores(graded, fixture):
    course, _ = graded
    expected = EXPECTED[fixture]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "mnist-cnn") as gradebook:
        submission = gradebook.find_submission(ASSIGNMENT, fixture)
        scores = {grade.name: grade.score for notebook in submission.notebooks for grade in notebook.grades}
        assert submission.max_score == expected["max_score"]
    zero = set(scores) if expected["zero"] == "all" else set(expected["zero"])
    wrong = {cell: score for cell, score in scores.items() if (score == 0) != (cell in zero)}
    assert not wrong, f"{fixture}: these test cells scored other than golden (0 expected for {sorted(zero)}): {wrong}"
    assert sum(scores.values()) == expected["total"]


@pytest.mark.slow
def test_the_class_gets_feedback_and_an_export(graded):
    course, result = graded
    assert f"Graded {len(FIXTURES)} of {len(FIXTURES)} submission(s)" in result.stdout, result.stdout
    run_course(course, "feedback", ASSIGNMENT)
    for fixture in FIXTURES:
        html = (course / "feedback" / fixture / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
        assert "BEGIN HIDDEN TESTS" not in html and "hidden_checks" not in html and "run_test" not in html
    run_course(course, "export", ASSIGNMENT, "-o", "grades.csv")
    header = (course / "grades.csv").read_text().splitlines()[0].split(",")
    assert [column for column in header if column.startswith("test_")] == [test.grade_id for test in SPEC.tests]
