"""The student's self-check: the visible checks' verdicts and messages, nothing hidden, no training."""

import sys
from pathlib import Path

import pytest

from conftest import ROOT
from course.student import checks, selfcheck

sys.path.insert(0, str(ROOT / "grader_tests"))
from case_runner import base_namespace  # noqa: E402
from cases import CASES  # noqa: E402

BY_NAME = {case.name: case for case in CASES}


@pytest.fixture(scope="module")
def reference(mnist_path):
    return base_namespace()


def answer(reference, case_name):
    namespace = dict(reference)
    exec(BY_NAME[case_name].code, namespace)
    return namespace[BY_NAME[case_name].function]


@pytest.mark.parametrize("function", list(checks.SELF_CHECKS))
def test_reference_answers_pass(reference, function, capsys):
    selfcheck.check(reference[function])
    assert capsys.readouterr().out.startswith(f"✓ {function} passes the visible checks")


@pytest.mark.parametrize(
    "case, message",
    [
        ("scale_returns_only_train", "scale_mnist_data returned ndarray; return a tuple (scaled_train_images, scaled_test_images)."),
        ("model_missing_second_dense", "The model has 5 layers"),
        ("train_returns_model", "return the History object that model.fit(...) returns"),
        ("evaluate_returns_accuracy_only", "evaluate_model returned float"),
    ],
)
def test_visible_failures_say_what_the_grader_says(reference, case, message, capsys):
    selfcheck.check(answer(reference, case))
    output = capsys.readouterr().out
    assert output.startswith("✗") and message in output


@pytest.mark.parametrize("case", ["scale_divides_by_256", "model_16_filters", "compile_sgd", "train_3_epochs", "evaluate_swapped"])
def test_hidden_properties_stay_hidden(reference, case, capsys):
    # these answers fail hidden checks only; the self-check must not reveal them
    selfcheck.check(answer(reference, case))
    assert capsys.readouterr().out.startswith("✓")


def test_unwritten_function(capsys):
    def scale_mnist_data(train_images, test_images):
        raise NotImplementedError()

    selfcheck.check(scale_mnist_data)
    assert capsys.readouterr().out.startswith("✗ scale_mnist_data: not written yet")


def test_student_facing_package_has_no_hidden_checks_or_thresholds():
    student_modules = [path for path in (ROOT / "course" / "student").glob("*.py")]
    text = "\n".join(path.read_text() for path in student_modules)
    assert "MIN_TEST_ACCURACY" not in text and "def conv_layer_config" not in text and "def scaled_range" not in text
    assert Path(selfcheck.__file__).parent == ROOT / "course" / "student"


def test_the_self_check_knows_every_function_of_every_assignment():
    from course import spec as specs

    functions = {name for folder in (ROOT / "course" / "assignments").glob("*/__init__.py") for name in specs.load(folder.parent.name).functions}
    assert functions <= set(selfcheck.self_checks())
