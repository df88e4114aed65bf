"""How verdicts from outside the kernel meet the kernel's own results (course.grading.preprocessors.apply_verdicts)."""

from nbformat.v4 import new_code_cell, new_notebook, new_output
from nbgrader.utils import determine_grade

from course.grading.preprocessors import apply_verdicts, suspicious_code


def graded_cell(grade_id, error=False):
    cell = new_code_cell("checks.something()")
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 1, "grade_id": grade_id,
                                 "schema_version": 3}
    cell.outputs = [new_output("error", ename="CheckFailed", evalue=f"{grade_id} failed", traceback=[])] if error else []
    return cell


def verdict(passed, function="f"):
    return {"passed": passed, "message": "" if passed else "Checked outside your notebook: wrong", "function": function}


def scores(nb):
    return [determine_grade(cell)[0] for cell in nb.cells]


def test_the_outside_overrules_a_kernel_that_passed_and_flags_it():
    nb = new_notebook(cells=[graded_cell("visible"), graded_cell("hidden")])
    record = {"verdicts": {"visible": verdict(False), "hidden": verdict(False)}, "executed": ["visible", "hidden"]}
    summary = apply_verdicts(nb, record, hidden_cells={1})
    assert scores(nb) == [0, 0]
    assert summary["flags"] == [{"cell": "visible", "reason": "passed in the kernel, failed outside it"}]


def test_a_function_its_notebook_rejects_gains_nothing_from_outside_and_is_flagged():
    """Code that rewrites the harness's records at exit makes the outside pass what the notebook's own test failed."""
    nb = new_notebook(cells=[graded_cell("visible", error=True), graded_cell("hidden"), graded_cell("other_hidden")])
    record = {"verdicts": {"visible": verdict(True), "hidden": verdict(True), "other_hidden": verdict(True, "g")},
              "executed": ["visible", "hidden", "other_hidden"]}
    summary = apply_verdicts(nb, record, hidden_cells={1, 2})
    assert scores(nb) == [0, 0, 1]  # function g is not touched by f's failure
    assert {"cell": "visible", "reason": "failed in the kernel, passed outside it"} in summary["flags"]
    assert "Your notebook's own test of f (visible) failed" in nb.cells[1].outputs[0].evalue


def test_a_test_the_kernel_never_reached_keeps_the_outside_verdict():
    nb = new_notebook(cells=[graded_cell("visible", error=True), graded_cell("hidden")])
    nb.cells[0].outputs[0].ename = "GradingStopped"  # what the grader writes in a cell after a stop
    record = {"verdicts": {"visible": verdict(True), "hidden": verdict(True)}, "executed": []}
    summary = apply_verdicts(nb, record, hidden_cells={1})
    assert scores(nb) == [1, 1] and summary["flags"] == []


def test_could_not_verify_keeps_visible_results_gives_no_hidden_point_and_flags():
    nb = new_notebook(cells=[graded_cell("visible"), graded_cell("hidden")])
    summary = apply_verdicts(nb, {"verdicts": {}, "error": "the verifier stopped", "executed": ["visible"]}, hidden_cells={1})
    assert scores(nb) == [1, 0]
    assert summary["could_not_verify"] == "the verifier stopped"
    assert any(flag["reason"].startswith("could not verify") for flag in summary["flags"])


def test_a_visible_test_failed_both_in_the_kernel_and_outside_costs_only_its_own_point():
    """An honest mistake (an extra Dropout layer) fails the layers test everywhere; the conv test still stands."""
    nb = new_notebook(cells=[graded_cell("visible", error=True), graded_cell("hidden")])
    record = {"verdicts": {"visible": verdict(False), "hidden": verdict(True)}, "executed": ["visible", "hidden"]}
    summary = apply_verdicts(nb, record, hidden_cells={1})
    assert scores(nb) == [0, 1] and summary["flags"] == []


def test_a_distrusted_function_gets_no_point_from_outside_and_is_flagged():
    """A notebook that rewrites the optimizer's step counter cannot be credited with the training it claims."""
    nb = new_notebook(cells=[graded_cell("visible"), graded_cell("hidden"), graded_cell("other")])
    record = {"verdicts": {"visible": verdict(True), "hidden": verdict(True), "other": verdict(True, "g")},
              "executed": ["visible", "hidden", "other"]}
    summary = apply_verdicts(nb, record, hidden_cells={1}, distrusted={"f": "the step counter was changed"})
    assert scores(nb) == [0, 0, 1]
    assert sum(flag["reason"].startswith("not credited") for flag in summary["flags"]) == 2


def test_cells_that_hook_the_harness_exit_or_reach_its_folders_are_flagged_for_a_human():
    """The forked harness ends with os._exit and holds its records' folder as /proc/self/fd: a cell that replaces
    the one or reaches into the other has an exit hook on the records, as atexit was (and is flagged the same)."""
    hooks = ["import os\n_exit = os._exit\nos._exit = lambda code: (forge(), _exit(code))",
             "import glob\nrecords = glob.glob('/proc/self/fd/*/results.json')",
             "import atexit\natexit.register(forge)"]
    honest = ["import os\nos._exit(1)", "if os._exit == other:\n    pass", "print(os.getpid())"]
    flagged = [suspicious_code(new_notebook(cells=[new_code_cell(source, metadata={"nbgrader": {"grade_id": "answer"}})]))
               for source in hooks + honest]
    assert all(flags and "check it by hand" in flags[0]["reason"] for flags in flagged[:len(hooks)]), flagged
    assert flagged[len(hooks):] == [[]] * len(honest)
