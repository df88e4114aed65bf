"""Build the mnist_confusion fixture submissions: the released notebook with each function answered as a student would.

The answers live here, the reference ones come from source/ (the one place they live), and the expected scores,
per test cell, sit beside the notebooks in submissions/expected_scores.json. Run it after `course release`:

    python grader_tests/mnist_confusion/build_submissions.py
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat

from course.sandboxed.notebook_code import solution_code

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = "mnist_confusion"
RELEASED = ROOT / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
SOURCE = ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
FUNCTIONS = ("one_hot_labels", "build_cnn", "compile_cnn", "train_cnn", "confusion_per_class")

# The tutorial's habits: the sparse loss with the integer labels it fits, and no validation split.
COMPILE_SPARSE_LOSS = '''def compile_cnn(model):
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])'''

TRAIN_INTEGER_LABELS_NO_SPLIT = '''def train_cnn(model, scaled_train_images, one_hot_train_labels):
    return model.fit(scaled_train_images, train_labels, epochs=EPOCHS, verbose=2)'''

CONFUSION_COUNTS = '''def confusion_per_class(true_labels, predicted_labels):
    counts = np.zeros((NUM_CLASSES, NUM_CLASSES))
    np.add.at(counts, (true_labels, predicted_labels), 1)
    return counts'''

BUILD_SAME_PADDING = '''def build_cnn(input_shape):
    return keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(10, (3, 3), padding="same", activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(5, (3, 3), padding="same", activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ])'''

TRAIN_FIVE_EPOCHS = '''def train_cnn(model, scaled_train_images, one_hot_train_labels):
    return model.fit(scaled_train_images, one_hot_train_labels, epochs=5, validation_split=0.1, verbose=2)'''

# Each fixture: the answers that differ from the reference, by function (None: left as released). A fixture of None
# is the untouched release.
FIXTURES: dict[str, dict[str, str | None] | None] = {
    "passes_all": {},
    "untouched_release": None,
    # Trains (sparse loss on integer labels works), on all the images, for EPOCHS epochs: the accuracy bar is met.
    "fails_sparse_loss_and_no_validation_split": {"compile_cnn": COMPILE_SPARSE_LOSS, "train_cnn": TRAIN_INTEGER_LABELS_NO_SPLIT},
    # Counts instead of shares: right everywhere else.
    "fails_unnormalised_confusion": {"confusion_per_class": CONFUSION_COUNTS},
    # 'same' padding and five epochs: a larger network trained longer, still above the accuracy bar.
    "fails_same_padding_and_five_epochs": {"build_cnn": BUILD_SAME_PADDING, "train_cnn": TRAIN_FIVE_EPOCHS},
}

# The test cells each fixture must lose (every other one scores full marks); "all" for every cell. Reasoned from
# the cases of the same answers in cases.py (test_checks.py runs them), and from docs/thresholds.md for
# test_trained_accuracy: every fixture that trains does so on all 60,000 images for at least EPOCHS epochs.
LOSES = {
    "passes_all": [],
    "untouched_release": "all",
    "fails_sparse_loss_and_no_validation_split": ["test_compile_cnn_loss", "test_train_cnn_validation", "test_train_cnn_all_data"],
    "fails_unnormalised_confusion": ["test_confusion_rows"],
    "fails_same_padding_and_five_epochs": ["test_cnn_conv", "test_train_cnn_epochs"],
}


def reference_answers() -> dict[str, str]:
    notebook = nbformat.read(SOURCE, as_version=4)
    return {
        cell.metadata["nbgrader"]["grade_id"]: solution_code(cell.source)
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }


def build(answers: dict[str, str | None] | None) -> nbformat.NotebookNode:
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


def expected_scores() -> dict:
    points = {
        cell.metadata["nbgrader"]["grade_id"]: cell.metadata["nbgrader"]["points"]
        for cell in nbformat.read(RELEASED, as_version=4).cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    }
    scores = {"_comment": "Golden scores of the fixture submissions: total out of max_score, the test cells that must "
                          "score 0 (every other test cell scores full marks), and the points of every test cell."}
    for name, lost in LOSES.items():
        zero = set(points) if lost == "all" else set(lost)
        assert zero <= set(points), f"{name}: no such test cells {zero - set(points)}"
        cells = {cell: 0 if cell in zero else value for cell, value in points.items()}
        scores[name] = {"total": sum(cells.values()), "max_score": sum(points.values()),
                        "zero": "all" if lost == "all" else sorted(zero), "cells": cells}
    return scores


def main():
    SUBMISSIONS.mkdir(parents=True, exist_ok=True)
    for name, answers in FIXTURES.items():
        nbformat.write(build(copy.deepcopy(answers)), SUBMISSIONS / f"{name}.ipynb")
        print(f"wrote {(SUBMISSIONS / f'{name}.ipynb').relative_to(ROOT)}")
    (SUBMISSIONS / "expected_scores.json").write_text(json.dumps(expected_scores(), indent=1) + "\n")
    print(f"wrote {(SUBMISSIONS / 'expected_scores.json').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
