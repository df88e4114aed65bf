"""The nbgrader plugins, on hand-made notebooks (no kernel needed)."""

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output
from nbgrader.utils import determine_grade

from course.grading.preprocessors import ClearHiddenTestCells, FailedTestsAsMessages, StderrDoesNotScore


def graded_test_cell(source="checks.something()", outputs=()):
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 1, "grade_id": "t", "schema_version": 3}
    cell.outputs = list(outputs)
    return cell


def test_stderr_in_a_test_cell_no_longer_scores_zero():
    cell = graded_test_cell(outputs=[new_output("stream", name="stderr", text="UserWarning: Do not pass an `input_shape`")])
    assert determine_grade(cell)[0] == 0  # nbgrader's own rule, the trap
    nb = new_notebook(cells=[cell])
    StderrDoesNotScore().preprocess(nb, {})
    assert determine_grade(nb.cells[0]) == (1, 1)
    assert nb.cells[0].outputs[0].text.startswith("UserWarning")  # still shown


def test_errors_still_score_zero():
    cell = graded_test_cell(outputs=[new_output("error", ename="CheckFailed", evalue="Conv2D has 16 filters", traceback=["..."])])
    nb = new_notebook(cells=[cell])
    StderrDoesNotScore().preprocess(nb, {})
    assert determine_grade(nb.cells[0])[0] == 0


def test_feedback_keeps_the_message_and_drops_the_traceback_and_hidden_source():
    source = "# Hidden test: conv\n### BEGIN HIDDEN TESTS\nchecks.conv_layer_config(secret_line)\n### END HIDDEN TESTS"
    traceback = ["CheckFailed  Traceback", "----> 3 checks.conv_layer_config(secret_line)", "CheckFailed: Conv2D has 16 filters"]
    cell = graded_test_cell(source, [new_output("error", ename="CheckFailed", evalue="Conv2D has 16 filters; the spec asks for 8.", traceback=traceback)])
    nb = new_notebook(cells=[cell])
    ClearHiddenTestCells().preprocess(nb, {})
    FailedTestsAsMessages().preprocess(nb, {})
    text = nbformat.writes(nb)
    assert "secret_line" not in text
    assert nb.cells[0].outputs[0].traceback == ["CheckFailed: Conv2D has 16 filters; the spec asks for 8."]


def solution_cell(source):
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False, "grade_id": "s", "schema_version": 3}
    return cell


def test_a_marker_in_a_students_solution_cell_does_not_stop_feedback():
    student = solution_cell("def f():\n    # ### BEGIN HIDDEN TESTS\n    return 1")
    nb = new_notebook(cells=[student, graded_test_cell("# visible\n### BEGIN HIDDEN TESTS\nsecret()\n### END HIDDEN TESTS")])
    ClearHiddenTestCells().preprocess(nb, {})
    assert nb.cells[0].source == student.source  # the student's own text is theirs
    assert "secret" not in nb.cells[1].source and nb.cells[1].source == "# visible"


def test_what_a_student_wrote_or_displayed_is_inert_in_feedback():
    from nbformat.v4 import new_markdown_cell

    from course.grading.preprocessors import SanitizeStudentContent

    markdown = new_markdown_cell('<script>alert(1)</script><img src=x onerror="alert(2)"> [click](javascript:alert(3))')
    code = new_code_cell("display(HTML(...))")
    code.outputs = [new_output("display_data", data={"text/html": "<script>alert(4)</script><b>bold</b>",
                                                     "application/javascript": "alert(5)", "text/plain": "x"})]
    instructor = new_markdown_cell("<b>Exercise</b>")
    instructor.metadata["nbgrader"] = {"locked": True}
    nb = new_notebook(cells=[markdown, code, instructor])
    SanitizeStudentContent().preprocess(nb, {})
    source, html = nb.cells[0].source, nb.cells[1].outputs[0].data["text/html"]
    assert "<script" not in source and "<img" not in source and "javascript:" not in source  # escaped: shown, not run
    assert "<script" not in html and "<b>bold</b>" in html
    assert "application/javascript" not in nb.cells[1].outputs[0].data
    assert nb.cells[2].source == "<b>Exercise</b>"
