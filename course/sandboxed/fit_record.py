"""What a training function did with the fit recorder it was given, as plain data.

The harness passes a recorder where the student's training function expects a model, and keeps this record; the
verifier checks it, and cross-checks it against the optimizer's step count of the model the notebook trained. The
notebook's own hidden tests summarise their recorder the same way.
"""

from __future__ import annotations

import numpy as np

from course.sandboxed.mnist_once import mnist_once
from course.student.checks import VALUE_SAMPLE_SIZE, FitRecorder


class StepRecorder(FitRecorder):
    """The visible checks' FitRecorder, also noting what decides the number of training steps."""

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, **kwargs):
        history = super().fit(x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data, **kwargs)
        self.calls[-1].update(batch_size=batch_size, validation_split=validation_split,
                              steps_per_epoch=kwargs.get("steps_per_epoch"))
        return history


def summarize_fit_calls(recorder, train_images, train_labels) -> list[dict]:
    """Each fit call the recorder saw: how many images, whether they and the labels were the ones given, epochs,
    batch size, validation split, steps per epoch and how many MNIST test images were among the images."""
    sample = slice(0, VALUE_SAMPLE_SIZE)
    summaries = []
    for call in recorder.calls:
        x, y = call["x"], call["y"]
        shaped = getattr(x, "shape", None) is not None
        summaries.append({
            "images": int(len(x)) if shaped else None,
            "images_equal": bool(x is train_images or (shaped and np.array_equal(np.asarray(x[sample]), np.asarray(train_images[sample])))),
            "labels_equal": bool(getattr(y, "shape", None) is not None and np.array_equal(np.asarray(y), np.asarray(train_labels))),
            "epochs": _int(call["epochs"]) - _int(call.get("initial_epoch") or 0),
            "batch_size": _int(call.get("batch_size")) if call.get("batch_size") is not None else None,
            "validation_split": _float(call.get("validation_split")),
            "steps_per_epoch": _int(call.get("steps_per_epoch")) if call.get("steps_per_epoch") is not None else None,
            "test_images_seen": _test_images_in(x) if shaped else 0,
        })
    return summaries


ROWS_AT_ONCE = 4096  # images converted to pixels at a time: 13 MB of floats, not a copy of the whole set


def _test_images_in(x) -> int:
    """How many MNIST test images are among the images ``x`` that fit was given (compared as 0-255 pixels)."""
    try:
        rows = np.asarray(x)
        if rows.ndim < 2 or rows.size // len(rows) != 28 * 28 or len(rows) > 500_000:
            return 0
        rows = rows.reshape(len(rows), -1)
        scale = 255.0 if float(np.max(rows[:100])) <= 1.0 else 1.0
        _, (x_test, _) = mnist_once()
        test = {bytes(image) for image in x_test.reshape(len(x_test), -1)}
        seen = 0
        for start in range(0, len(rows), ROWS_AT_ONCE):
            pixels = np.rint(rows[start:start + ROWS_AT_ONCE] * scale).clip(0, 255).astype(np.uint8)
            seen += sum(bytes(row) in test for row in pixels)
        return seen
    except Exception:  # noqa: BLE001 - not a count the verifier can use
        return 0


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _float(value) -> float:
    try:
        return float(value or 0.0)
    except (TypeError, ValueError):
        return -1.0
