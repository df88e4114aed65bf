"""Every case of cases.py through the mnist_confusion checks, in this process, without training or a sandbox.

Two paths, which must agree with the case and with each other:
- the spec's: the case's function called on the spec's inputs and kept as the spec says (what the harness does), then
  every Test's ``check(value, *args)`` (what the verifier does);
- the notebook's: the source notebook's own test cells for that function (visible and hidden), run in the namespace
  its setup cells build, as the kernel runs them.
A valid answer keeps every point on both; a wrong one loses exactly its cells, each with its message fragment.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from course.assignments.mnist_confusion import SPEC, hidden_checks
from course.sandboxed import inputs
from course.sandboxed.notebook_code import solution_code
from mnist_confusion import build_submissions as builder
from mnist_confusion import cases

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SOURCE = ROOT / "source" / "mnist_confusion" / "mnist_confusion.ipynb"
HIDDEN_MARK = "### BEGIN HIDDEN TESTS"


CASES = cases.CASES
WRONG = [case for case in CASES if not case.valid]
VALID = [case for case in CASES if case.valid]
ARTIFACT_TESTS = {test.grade_id for test in SPEC.tests if SPEC.artifact(test.on) is not None}


def _cells():
    notebook = json.loads(SOURCE.read_text())
    return [(cell.get("metadata", {}).get("nbgrader", {}), "".join(cell["source"]), cell["cell_type"]) for cell in notebook["cells"]]


def _message(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


@pytest.fixture(scope="session")
def base(mnist_path):
    """The notebook's namespace after its setup cells, with the reference answers (loads MNIST; trains nothing)."""
    namespace: dict = {}
    cells = _cells()
    by_id = {meta.get("grade_id"): source for meta, source, _ in cells}
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        exec(by_id["imports"], namespace)
        for meta, source, _ in cells:
            if meta.get("solution"):
                exec(solution_code(source), namespace)
        for grade_id in SPEC.setup_cells[1:]:
            exec(by_id[grade_id], namespace)
    return namespace


def _answer(case, base) -> dict:
    namespace = dict(base)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(case.code, namespace)
    return namespace


def spec_verdicts(function_name: str, function) -> dict[str, str]:
    """grade_id -> message of every test the spec's path fails ("" for none)."""
    call = SPEC.call(function_name)
    call_inputs = inputs.build_all(call.inputs)
    lost = {}
    try:
        value = hidden_checks.kept_value(call, function, call_inputs)
    except Exception as error:  # noqa: BLE001 - the function raised: every test on it fails with that error
        return {test.grade_id: _message(error) for test in SPEC.tests_on(function_name)}
    for test in SPEC.tests_on(function_name):
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                test.check(value, *inputs.build_all(test.args, lambda: call_inputs))
        except Exception as error:  # noqa: BLE001 - a failing check is a lost cell
            lost[test.grade_id] = _message(error)
    return lost


def notebook_verdicts(function_name: str, namespace: dict) -> dict[str, str]:
    """grade_id -> message of every test cell of the notebook, on this function, that fails."""
    tested = {test.grade_id for test in SPEC.tests_on(function_name)}
    lost = {}
    for meta, source, _ in _cells():
        if meta.get("grade") and meta["grade_id"] in tested:
            try:
                with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                    warnings.simplefilter("ignore")
                    exec(source, dict(namespace))
            except Exception as error:  # noqa: BLE001 - nbgrader scores a raising test cell 0 and shows this
                lost[meta["grade_id"]] = _message(error)
    return lost


@pytest.fixture(scope="session")
def verdicts(base):
    results = {}
    for case in CASES:
        namespace = _answer(case, base)
        results[case.name] = (spec_verdicts(case.function, namespace[case.function]), notebook_verdicts(case.function, namespace))
    return results


# --- the notebook and the spec describe the same graded cells ----------------------------------


def test_graded_cells_are_the_specs_tests():
    graded = {meta["grade_id"]: (float(meta["points"]), HIDDEN_MARK not in source) for meta, source, _ in _cells() if meta.get("grade")}
    assert graded == {test.grade_id: (float(test.points), test.visible) for test in SPEC.tests}
    solutions = [meta["grade_id"] for meta, _, _ in _cells() if meta.get("solution")]
    assert sorted(solutions) == sorted(SPEC.functions), "one solution cell per function"
    ids = [meta.get("grade_id") for meta, _, _ in _cells()]
    assert all(cell in ids for cell in SPEC.setup_cells) and SPEC.artifacts[0].after_cell in ids


def test_notebook_is_stored_without_outputs():
    for cell in json.loads(SOURCE.read_text())["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


# --- the cases -----------------------------------------------------------------------------------


def test_cases_cover_every_function_and_every_check():
    functions = {case.function for case in CASES}
    assert functions == set(SPEC.functions)
    for function in functions:
        assert [case for case in VALID if case.function == function], f"no valid answer for {function}"
        assert len([case for case in WRONG if case.function == function]) >= 3, f"too few wrong answers for {function}"
    lost_somewhere = {cell for case in WRONG for cell in case.loses}
    untested = {test.grade_id for test in SPEC.tests} - ARTIFACT_TESTS - lost_somewhere
    assert not untested, f"no wrong answer fails {sorted(untested)}: such a check could pass everything unnoticed"
    assert len({case.name for case in CASES}) == len(CASES)
    for case in WRONG:
        assert set(case.loses) <= {test.grade_id for test in SPEC.tests_on(case.function)}, f"{case.name} names cells of another function"


@pytest.mark.parametrize("case", WRONG, ids=lambda case: case.name)
def test_wrong_answer_loses_exactly_its_cells_with_an_actionable_message(verdicts, case):
    for path, lost in zip(("spec", "notebook"), verdicts[case.name]):
        assert set(lost) == set(case.loses), f"{case.name} ({path}): lost {sorted(lost)}, should lose {sorted(case.loses)}: {lost}"
        for cell, fragment in case.loses.items():
            assert fragment in lost[cell], f"{case.name} ({path}): {cell} said {lost[cell]!r}, which lacks {fragment!r}"
            assert lost[cell] not in ("CheckFailed: ", "AssertionError: "), "bare assertion"


@pytest.mark.parametrize("case", VALID, ids=lambda case: case.name)
def test_valid_answer_keeps_every_point(verdicts, case):
    spec_lost, notebook_lost = verdicts[case.name]
    assert not spec_lost and not notebook_lost, f"{case.name} lost points: {spec_lost or notebook_lost}"


def test_reference_answers_keep_every_point(base):
    for function in SPEC.functions:
        assert not spec_verdicts(function, base[function]), function
        assert not notebook_verdicts(function, base), function


# --- the trained-model test, without training --------------------------------------------------


def test_an_untrained_model_fails_the_accuracy_test(base):
    import keras

    keras.utils.set_random_seed(0)
    untrained = base["build_cnn"]((28, 28, 1))
    with pytest.raises(hidden_checks.CheckFailed, match=r"of the test images correctly; it needs \d+%"):
        hidden_checks.run_test("test_trained_accuracy", untrained)


def test_the_grader_matrix_is_what_the_heatmap_draws():
    from course.student import plots

    true_labels, predicted = inputs.random_labels(300, 5, 9), inputs.random_labels(300, 6)
    figure = plots.confusion_heatmap(true_labels, predicted)
    drawn = np.array([float(text.get_text()) for text in figure.axes[0].texts]).reshape(10, 10)
    np.testing.assert_allclose(drawn, hidden_checks.reference_confusion(true_labels, predicted), atol=0.005)


# --- the fixture submissions: their expected scores, from their answers, in this process ---------


EXPECTED = json.loads((builder.SUBMISSIONS / "expected_scores.json").read_text())


@pytest.mark.parametrize("fixture", list(builder.FIXTURES))
def test_fixture_loses_its_expected_cells(base, fixture):
    """Every cell but the trained model's: that one is reasoned from docs/thresholds.md (the fixtures that train do so
    on all the images for at least EPOCHS epochs)."""
    notebook = builder.build(builder.FIXTURES[fixture] and dict(builder.FIXTURES[fixture]))
    namespace = dict(base)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            exec(cell.source, namespace)
    lost = set()
    for function in SPEC.functions:
        spec_lost, notebook_lost = spec_verdicts(function, namespace[function]), notebook_verdicts(function, namespace)
        assert set(spec_lost) == set(notebook_lost), (function, spec_lost, notebook_lost)
        lost |= set(spec_lost)
    zero = EXPECTED[fixture]["zero"]
    assert lost == ({test.grade_id for test in SPEC.tests} if zero == "all" else set(zero)) - ARTIFACT_TESTS


def test_fixtures_are_built_from_the_current_release():
    import nbformat

    for fixture, answers in builder.FIXTURES.items():
        committed = nbformat.read(builder.SUBMISSIONS / f"{fixture}.ipynb", as_version=4)
        built = builder.build(answers and dict(answers))
        assert [(c.cell_type, c.source, c.metadata) for c in committed.cells] == [(c.cell_type, c.source, c.metadata) for c in built.cells], (
            f"{fixture}.ipynb is stale: run `python grader_tests/mnist_confusion/build_submissions.py`"
        )
    assert EXPECTED == builder.expected_scores(), "expected_scores.json is stale: run build_submissions.py"


# --- what students get: the self-check, and no solution or hidden-test line ----------------------


@pytest.mark.parametrize("function", SPEC.functions)
def test_self_check_passes_the_reference(base, function, capsys):
    from course.student.selfcheck import check

    check(base[function])
    assert capsys.readouterr().out.startswith(f"✓ {function} passes the visible checks")


@pytest.mark.parametrize("case_name, message", [
    ("one_hot_without_num_classes", "✗ one_hot_labels: one_hot_labels returned 9 columns for labels without any 9"),
    ("build_extra_hidden_dense", "✗ build_cnn: The model has 7 layers"),
    ("compile_nothing", "✗ compile_cnn: The model is not compiled"),
    ("train_returns_history_dict", "✗ train_cnn: train_cnn returned dict"),
    ("confusion_tf_without_num_classes", "✗ confusion_per_class: confusion_per_class returned shape (9, 9)"),
])
def test_self_check_says_what_is_wrong(base, case_name, message, capsys):
    from course.student.selfcheck import check

    case = next(case for case in CASES if case.name == case_name)
    check(_answer(case, base)[case.function])
    assert capsys.readouterr().out.startswith(message)


def test_no_solution_or_hidden_line_reaches_students():
    from course.publish import leaks, secret_lines

    shipped = [*(ROOT / "course" / "student").glob("*.py"), *(ROOT / "release").rglob("*.ipynb")]
    assert not leaks({str(path): path.read_bytes() for path in shipped}, secret_lines(ROOT))


# --- models as the verifier sees them: saved by the harness, loaded in safe mode ------------------

MODEL_FUNCTIONS = ("build_cnn", "compile_cnn")  # the calls whose kept value is a Keras model


@pytest.mark.parametrize("case", [case for case in CASES if case.function in MODEL_FUNCTIONS], ids=lambda case: case.name)
def test_a_saved_and_reloaded_model_gets_the_same_verdicts(verdicts, base, case, tmp_path):
    import keras

    namespace = _answer(case, base)
    call = SPEC.call(case.function)
    call_inputs = inputs.build_all(call.inputs)
    try:
        kept = hidden_checks.kept_value(call, namespace[case.function], call_inputs)
    except Exception:  # noqa: BLE001 - nothing to save: the harness records the error instead
        pytest.skip("the function raised")
    kept.save(tmp_path / "kept.keras")
    loaded = keras.saving.load_model(tmp_path / "kept.keras", safe_mode=True, custom_objects=SPEC.keras_custom_objects())
    lost = {}
    for test in SPEC.tests_on(case.function):
        try:
            test.check(loaded, *inputs.build_all(test.args, lambda: call_inputs))
        except Exception as error:  # noqa: BLE001
            lost[test.grade_id] = _message(error)
    assert set(lost) == set(verdicts[case.name][0]), (lost, verdicts[case.name][0])
