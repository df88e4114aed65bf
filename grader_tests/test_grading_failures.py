"""Submissions whose kernel dies or hangs still end with an autograded notebook, a reason and partial credit.

No training happens here: the failures come before the fit, so these run in seconds per student.
"""

import nbformat
import pytest

from conftest import ASSIGNMENT, EXPECTED, assert_golden, make_course, run_course, submit

SHORT_TIMEOUT_S = 20  # every cell before the hang runs in well under a second


@pytest.fixture(scope="module")
def graded(tmp_path_factory, mnist_path):
    course = make_course(tmp_path_factory.mktemp("failures"), f"c.Execute.timeout = {SHORT_TIMEOUT_S}")
    for fixture in ("kernel_dies_in_train_model", "hangs_in_get_model", "untouched_release", "passes_scale_and_model_with_input_shape_warning"):
        submit(course, fixture)
    return course, run_course(course, "grade", ASSIGNMENT)


@pytest.mark.parametrize(
    "fixture", ["kernel_dies_in_train_model", "hangs_in_get_model", "untouched_release", "passes_scale_and_model_with_input_shape_warning"]
)
def test_golden_scores(graded, fixture):
    course, _ = graded
    assert_golden(course, fixture, fixture)


@pytest.mark.parametrize("fixture", ["kernel_dies_in_train_model", "hangs_in_get_model"])
def test_failed_kernel_leaves_notebook_and_reason(graded, fixture):
    course, result = graded
    notebook = nbformat.read(course / "autograded" / fixture / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    errors = [output.evalue for cell in notebook.cells for output in cell.get("outputs", []) if output.output_type == "error"]
    assert any(EXPECTED[fixture]["stopped"] in error for error in errors)
    assert any(error.startswith("This cell did not run") for error in errors)
    line = next(line for line in result.stdout.splitlines() if line.startswith(f"{fixture}:"))
    assert "stopped early" in line and EXPECTED[fixture]["stopped"] in line.replace("\n", " ")


def test_run_completes_and_reports_every_student(graded):
    _, result = graded
    assert result.returncode == 0
    assert "Graded 4 of 4 submission(s) of mnist_cnn; 2 stopped early" in result.stdout


def test_warning_on_stderr_does_not_cost_points(graded):
    course, _ = graded
    notebook = nbformat.read(
        course / "autograded" / "passes_scale_and_model_with_input_shape_warning" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4
    )
    model_cell = next(cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade_id") == "build_model")
    # the spec's input_shape= really does warn in this kernel...
    assert any("input_shape" in output.get("text", "") for output in model_cell.outputs if output.output_type == "stream")
    # ...and no test cell is left with stderr that nbgrader would score as 0
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            assert not [o for o in cell.get("outputs", []) if o.output_type == "stream" and o.name == "stderr"]
