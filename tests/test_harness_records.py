"""What the harness keeps of a call comes back to the verifier as the same value, whatever the assignment; and a
record the student's code could have forged points the verifier at nothing outside its input folder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from course.grading.verify import Unreadable, Verifier
from course.sandboxed import harness, inputs
from course.spec import CALL_INPUTS, Assignment, Call, Test, Threshold, given
from course.student import checks


def spec_of(*calls) -> Assignment:
    return Assignment(name="probe", setup_cells=(), calls=calls, tests=())


def round_trip(value, tmp_path):
    folder = tmp_path / "harness"
    folder.mkdir(exist_ok=True)
    kept = harness.store(value, folder / "f")
    (folder / "results.json").write_text(json.dumps({"f": kept}))
    return Verifier(spec_of(Call("f", ())), tmp_path).value("f")


@pytest.mark.parametrize("value", [
    (np.arange(6).reshape(2, 3), np.ones((4,), dtype="float32")),
    [np.zeros((2, 2))],
    np.arange(3),
    (0.25, 0.75),
    [1, 2, 3],
    0.5,
])
def test_arrays_and_numbers_come_back_equal_in_the_same_container(value, tmp_path):
    back = round_trip(value, tmp_path)
    assert type(back) is type(value) if isinstance(value, (tuple, list)) else True
    items, back_items = (value, back) if isinstance(value, (tuple, list)) else ([value], [back])
    assert len(items) == len(back_items)
    for item, back_item in zip(items, back_items):
        assert np.array_equal(np.asarray(item), np.asarray(back_item))


def test_anything_else_comes_back_as_a_stand_in_named_like_it(tmp_path):
    back = round_trip({"loss": 1.0, "accuracy": 0.5}, tmp_path)
    assert type(back).__name__ == "dict" and len(back) == 2
    with pytest.raises(checks.CheckFailed, match="evaluate_model returned dict;"):
        checks.evaluation_pair(back)


def test_a_model_comes_back_loaded_in_safe_mode(tmp_path):
    back = round_trip(checks.probe_model(), tmp_path)
    assert back.count_params() == checks.probe_model().count_params()


@pytest.mark.parametrize("file", ["../../escaped.npz", "/etc/passwd", "missing.npz"])
def test_a_forged_record_cannot_point_the_verifier_outside_its_input(file, tmp_path):
    (tmp_path / "escaped.npz").write_bytes(b"not read")
    folder = tmp_path / "in" / "harness"
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps({"f": {"type": "arrays", "file": file, "count": 1}}))
    with pytest.raises(Unreadable):
        Verifier(spec_of(Call("f", ())), tmp_path / "in").value("f")


def test_a_test_gets_its_call_inputs_and_thresholds_as_arguments(tmp_path):
    seen = []
    call = Call("f", (given((32, 32, 1)), given(7)))
    test = Test("t", 1, "f", lambda value, *args: seen.append(args), (CALL_INPUTS, Threshold(0.5, "why")))
    verifier = Verifier(Assignment("probe", (), (call,), (test,)), tmp_path)
    assert verifier.arguments(test) == [(32, 32, 1), 7, 0.5]


def test_inputs_come_only_from_the_modules_the_harness_may_import():
    with pytest.raises(inputs.InputError, match="must live in course.sandboxed.inputs or course.student"):
        inputs.build({"factory": "os.system", "options": {"command": "true"}})
    with pytest.raises(inputs.InputError, match="names nothing callable"):
        inputs.build({"factory": "course.student.checks.NUM_CLASSES"})


def test_the_same_input_is_the_same_object(mnist_path):
    first = inputs.build_all([{"factory": "course.sandboxed.inputs.mnist_images", "options": {"split": "train", "scaled": True}}])[0]
    again = inputs.mnist_images("train", scaled=True)
    assert first is again and first.dtype == np.float32 and first.shape == (60000, 28, 28, 1) and float(first.max()) == 1.0


@pytest.mark.parametrize("scaled", [True, False], ids=["scaled", "0-255"])
def test_test_images_in_training_are_all_counted_wherever_they_are(mnist_path, scaled):
    """Test images at the start, on both sides of a boundary of the rows converted at once, and last."""
    from course.sandboxed.fit_record import ROWS_AT_ONCE, StepRecorder, summarize_fit_calls

    train = inputs.mnist_images("train", count=3 * ROWS_AT_ONCE, scaled=scaled).copy()
    test = inputs.mnist_images("test", count=5, scaled=scaled)
    for row, image in zip((0, ROWS_AT_ONCE - 1, ROWS_AT_ONCE, 2 * ROWS_AT_ONCE + 7, len(train) - 1), test):
        train[row] = image
    recorder = StepRecorder()
    recorder.fit(train, inputs.mnist_labels("train", count=len(train)), epochs=1)
    assert summarize_fit_calls(recorder, train, None)[0]["test_images_seen"] == 5
