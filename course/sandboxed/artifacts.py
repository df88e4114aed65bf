"""Runs inside the student's kernel: save the model the notebook left, for verification outside it.

The grader inserts a call to ``save`` after each cell an assignment's spec names (an ``Artifact``'s
``after_cell``), with the notebook variable that holds the model. Nothing saved here is trusted: the verifier
(course.grading.verify) loads the model in safe mode and measures it itself. A student who tampers with this can
only lose the points the verifier cannot then confirm.
"""

from __future__ import annotations

import json
from pathlib import Path

ARTIFACTS_DIR = ".artifacts"


def save(name: str, namespace: dict, model: str) -> None:
    """Save the Keras model in the notebook variable ``model`` as artifact ``name``, or why there is none."""
    folder = Path(ARTIFACTS_DIR) / name
    folder.mkdir(parents=True, exist_ok=True)
    problems = []
    value = namespace.get(model)
    try:
        import keras

        if isinstance(value, keras.Model):
            value.save(folder / "model.keras")
        else:
            problems.append(f"`{model}` is {type(value).__name__}, not a Keras model")
    except Exception as error:  # any failure means "no model", which the verifier reports
        problems.append(f"the model could not be saved ({type(error).__name__}: {error})")
    (folder / "values.json").write_text(json.dumps({"problems": problems}))


def export_code(name: str, model: str) -> str:
    """The line the grader runs in the kernel after the artifact's cell."""
    return f'__import__("course.sandboxed.artifacts", fromlist=["save"]).save({name!r}, globals(), {model!r})'
