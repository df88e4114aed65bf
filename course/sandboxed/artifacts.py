"""Runs inside the student's kernel: save what the notebook produced, for verification outside it.

The grader inserts a call to ``save`` after the notebook's compile cell and after its evaluation cell. Nothing
saved here is trusted: the verifier (course.grading.verify) loads the model in safe mode and measures it
itself. A student who tampers with this can only lose the points the verifier cannot then confirm.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

ARTIFACTS_DIR = ".artifacts"


def _number(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def save(stage: str, namespace: dict) -> None:
    folder = Path(ARTIFACTS_DIR) / stage
    folder.mkdir(parents=True, exist_ok=True)
    values = {"test_loss": _number(namespace.get("test_loss")), "test_accuracy": _number(namespace.get("test_accuracy"))}
    history = getattr(namespace.get("history"), "history", None)
    if isinstance(history, dict):
        values["history"] = {str(key): [_number(v) for v in series] for key, series in history.items() if isinstance(series, list)}
    problems = []
    model = namespace.get("model")
    try:
        import keras

        if isinstance(model, keras.Model):
            model.save(folder / "model.keras")
        else:
            problems.append(f"`model` is {type(model).__name__}, not a Keras model")
    except Exception as error:  # any failure means "no model", which the verifier reports
        problems.append(f"the model could not be saved ({type(error).__name__}: {error})")
    values["problems"] = problems
    (folder / "values.json").write_text(json.dumps(values))
