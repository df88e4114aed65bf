"""Build the fixture submissions: the released notebook with each function answered as a student would.

The answers live here, the reference ones come from source/ (the one place they live), and the expected
scores sit beside the notebooks in submissions/expected_scores.json. `tests` fail when the committed
notebooks differ from what this script builds. Run it after `course release`:

    python grader_tests/build_submissions.py
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat

from course.grading.reference import solution_code

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "mnist_cnn"
RELEASED = ROOT / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
SOURCE = ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
SUBMISSIONS = ROOT / "grader_tests" / "submissions"
FUNCTIONS = ("scale_mnist_data", "get_model", "compile_model", "train_model", "evaluate_model")

# Each fixture: the answers that differ from the reference, by function (None: left as released).
# A fixture of None is the untouched release.
FIXTURES: dict[str, dict[str, str | None] | None] = {
    "passes_all": {},
    "untouched_release": None,
    # Conv2D with 16 filters and a 5x5 kernel, top-k accuracy instead of accuracy, 3 epochs instead of 5,
    # and (accuracy, loss) swapped. Scaling is right and 3 epochs still clear the accuracy bar.
    "fails_conv_metrics_epochs_evaluate": {
        "get_model": '''def get_model(input_shape):
    model = Sequential([
        Conv2D(16, (5, 5), padding="same", activation="relu", input_shape=input_shape),
        MaxPooling2D((2, 2)),
        Flatten(),
        Dense(64, activation="relu"),
        Dense(64, activation="relu"),
        Dense(10, activation="softmax"),
    ])
    return model''',
        "compile_model": '''def compile_model(model):
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["sparse_top_k_categorical_accuracy"])''',
        "train_model": '''def train_model(model, scaled_train_images, train_labels):
    return model.fit(scaled_train_images, train_labels, epochs=3)''',
        "evaluate_model": '''def evaluate_model(model, scaled_test_images, test_labels):
    loss, accuracy = model.evaluate(scaled_test_images, test_labels)
    return accuracy, loss''',
    },
    # The spec's own input_shape= makes Keras warn on stderr; that must not cost a point. Only two functions done.
    "passes_scale_and_model_with_input_shape_warning": {
        "get_model": '''def get_model(input_shape):
    model = Sequential()
    model.add(Conv2D(8, (3, 3), padding="SAME", activation="relu", input_shape=input_shape))
    model.add(MaxPooling2D((2, 2)))
    model.add(Flatten())
    model.add(Dense(64, activation="relu"))
    model.add(Dense(64, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    return model''',
        "compile_model": None,
        "train_model": None,
        "evaluate_model": None,
    },
    # The kernel exits while training: everything before keeps its credit, everything after says why it got none.
    "kernel_dies_in_train_model": {
        "train_model": '''def train_model(model, scaled_train_images, train_labels):
    import os
    os._exit(1)''',
    },
    # get_model ignores interrupts and loops forever: graded with a short timeout by the grader tests.
    "hangs_in_get_model": {
        "get_model": '''def get_model(input_shape):
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        pass''',
    },
}


def reference_answers() -> dict[str, str]:
    notebook = nbformat.read(SOURCE, as_version=4)
    return {
        cell.metadata["nbgrader"]["grade_id"]: solution_code(cell.source)
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }


def build(answers: dict[str, str] | None) -> nbformat.NotebookNode:
    notebook = nbformat.read(RELEASED, as_version=4)
    if answers is None:
        return notebook
    reference = reference_answers()
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in FUNCTIONS:
            answer = answers.get(grade_id, reference[grade_id])
            if answer is not None:
                cell.source = answer
    return notebook


def main():
    SUBMISSIONS.mkdir(parents=True, exist_ok=True)
    for name, answers in FIXTURES.items():
        nbformat.write(build(copy.deepcopy(answers)), SUBMISSIONS / f"{name}.ipynb")
        print(f"wrote {(SUBMISSIONS / f'{name}.ipynb').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
