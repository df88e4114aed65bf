"""A handful of cases per function, graded end to end as full notebooks through `course grade`.

Proves the notebook wiring: the same answers lose the same cells when the whole notebook runs and trains,
and the accuracy test (which needs the trained model) rewards or rejects the training each answer does.
"""

import nbformat
import pytest

import build_submissions
from cases import CASES
from conftest import ASSIGNMENT, cell_scores, make_course, run_course

BY_NAME = {case.name: case for case in CASES}
# case -> test cells that must score 0 in the full run: the case's own losses, plus the accuracy test where
# its training is broken or too short (fit fails on metrics passed as loss_weights; 3,000 images give ~0.92).
AUTOGRADED = {
    "scale_divides_by_256": set(),
    "model_extra_dropout": set(),
    "model_built_with_add": set(),
    "compile_positional_metrics": {"test_evaluate_accuracy"},
    "train_on_3000_images": {"test_evaluate_accuracy"},
    "train_validation_split": set(),
    "evaluate_returns_dict": set(),
}
MAX_SCORE = 21


@pytest.fixture(scope="module")
def graded(tmp_path_factory, mnist_path):
    course = make_course(tmp_path_factory.mktemp("cases"))
    for name in AUTOGRADED:
        case = BY_NAME[name]
        notebook = build_submissions.build({case.function: case.code})
        target = course / "submitted" / name / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(notebook, target)
    return course, run_course(course, "grade", ASSIGNMENT)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(AUTOGRADED))
def test_full_notebook_scores_as_the_case_says(graded, name):
    course, _ = graded
    scores = cell_scores(course, name)
    zero = {cell for cell, score in scores.items() if score == 0}
    expected = set(BY_NAME[name].loses) | AUTOGRADED[name]
    assert zero == expected
    lost_points = {"test_evaluate_accuracy": 2}
    assert sum(scores.values()) == MAX_SCORE - sum(lost_points.get(cell, 1) for cell in expected)

@pytest.mark.slow
def test_every_function_is_autograded_end_to_end():
    assert {BY_NAME[name].function for name in AUTOGRADED} == set(build_submissions.FUNCTIONS)
