"""Every realistic wrong answer loses exactly the points it should, saying why; every valid answer keeps them all.

Runs the notebook's own test cells against each case in this process, without training: seconds in all.
"""

import ast

import pytest

from case_runner import NEEDS_TRAINED_MODEL, base_namespace, run_case, grading_cells_for
from cases import CASES

WRONG = [case for case in CASES if not case.valid]
VALID = [case for case in CASES if case.valid]


@pytest.fixture(scope="session")
def results(mnist_path):
    base = base_namespace()
    return {case.name: run_case(case, base) for case in CASES}


def test_the_suite_is_big_enough_and_covers_every_function():
    assert len(WRONG) >= 25 and len(VALID) >= 10
    functions = {case.function for case in CASES}
    assert functions == {"scale_mnist_data", "get_model", "compile_model", "train_model", "evaluate_model"}
    for function in functions:
        assert [case for case in WRONG if case.function == function], f"no wrong answer for {function}"
        assert [case for case in VALID if case.function == function], f"no valid answer for {function}"
    assert len({case.name for case in CASES}) == len(CASES)


def test_cases_are_plain_data():
    """Source code defining the function, and strings: the harness and the verifier can run the same answers."""
    for case in CASES:
        tree = ast.parse(case.code)
        defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        assert case.function in defined, f"{case.name} does not define {case.function}"
        assert all(isinstance(cell, str) and isinstance(fragment, str) and fragment for cell, fragment in case.loses.items()), case.name
        assert isinstance(case.note, str)


def test_cases_name_real_test_cells():
    for case in WRONG:
        cells = {grade_id for grade_id, _, _ in grading_cells_for(case.function)} | NEEDS_TRAINED_MODEL
        assert set(case.loses) <= cells, f"{case.name} names test cells that do not exist: {set(case.loses) - cells}"


@pytest.mark.parametrize("case", WRONG, ids=lambda case: case.name)
def test_wrong_answer_loses_exactly_its_points_with_an_actionable_message(results, case):
    lost = {result.cell: result.message for result in results[case.name] if result.points < result.max_points}
    assert set(lost) == set(case.loses), f"{case.name}: lost {sorted(lost)}, should lose {sorted(case.loses)}"
    for cell, fragment in case.loses.items():
        assert fragment in lost[cell], f"{case.name}: {cell} said {lost[cell]!r}, which lacks {fragment!r}"
        assert not lost[cell].startswith("AssertionError: ") and lost[cell] != "CheckFailed: ", "bare assertion"


@pytest.mark.parametrize("case", VALID, ids=lambda case: case.name)
def test_valid_answer_keeps_every_point(results, case):
    lost = {result.cell: result.message for result in results[case.name] if result.points < result.max_points}
    assert not lost, f"{case.name} lost points: {lost}"


def test_report_is_current(results):
    from report import REPORT, render

    assert REPORT.read_text() == render(results), "docs/grader_cases.md is stale: run `python grader_tests/report.py`"
